//! The handlers of officers' work (单证审核、查验、取样、扣留): the tasks a declaration's lane asks
//! for, each assigned to an officer, and the finding that closes one.
//!
//! The service builds the task views and outcomes as free-form JSON and parses the finding itself
//! (every problem naming its field); the types here name them in the API description. Who may do
//! what is the service's: customs roles see the queues, only the assigned officer records a
//! finding, and goods are not released while a task on them is open.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clearance::ClearanceError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::assessing::parse_body;
use crate::extract::{
    AttachmentRef, AttachmentUpload, Authenticated, DeclarationRef, DutyQuery, IdempotencyKey,
    JsonBody, NamesQuery, TaskRef, TasksQuery,
};
use crate::problem::ApiError;

pub(crate) const TASKS_PATH: &str = "/v1/tasks";

// ---------------------------------------------------------------------------------------------
// What the API description says of the service's JSON.

/// An officer's task. Members: `id`; `declaration_id`; `kind` (document_check,
/// physical_inspection, lab_sampling or hold); `office` (the customs office of lodging);
/// `assigned_to` (the officer's user id, drawn at random among the officers, the draw recorded);
/// `status` (open or closed); `created_at`; `outcome` (once closed: the finding, see
/// `FindingOutcome`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct TaskView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaskList {
    /// The tasks asked for.
    #[schema(value_type = Vec<TaskView>)]
    tasks: Vec<Value>,
}

/// The statuses of a task.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum TaskStatus {
    /// Waiting for its officer's finding; the goods are not released meanwhile.
    Open,
    /// Closed with a finding.
    Closed,
}

/// Where a case goes further than the finding (recorded, not routed yet).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum Referral {
    /// To the penalty (处罚) procedure.
    Penalty,
    /// To seizure (扣押).
    Seizure,
}

/// An officer's finding on a task. The service parses it and reports every problem naming its
/// field; unknown members are refused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct FindingRequest {
    /// Whether the check found the declaration wrong.
    discrepancy: bool,
    /// With a discrepancy only: the corrected values. They amend the declaration (parsed and
    /// checked again, cross-field rules included) and reassess it on its acceptance date, in the
    /// same transaction as the finding.
    corrections: Option<Vec<Correction>>,
    /// What the officer saw.
    note: Option<String>,
    #[schema(value_type = Option<Referral>)]
    referral: Option<String>,
}

/// One corrected value.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Correction {
    /// The field: `items[N].origin_country`, `items[N].commodity_code`, `items[N].amount`,
    /// `items[N].unit_price`, `items[N].quantity.value` (N 0-based) or `invoice.amount`.
    #[schema(example = "items[0].origin_country")]
    path: String,
    /// Its new value, as the declaration's JSON writes it (codes and decimals as strings).
    #[schema(example = "CN")]
    value: String,
}

/// The closed task and its outcome. Members: `task` (its id); `outcome`: `discrepancy`,
/// `corrections`, `note`, `referral`, `revenue_difference` (the difference of the reassessment
/// to the assessment before it, per tax and in total, `null` without corrections) and
/// `selected_by` (the reasons that selected the declaration and the selection's seed): the label
/// of the check for the analysts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct FindingOutcome(Value);

/// A task that does not exist or is not the caller's: a problem of its own, not "declaration not
/// found".
fn task_refusal(error: ClearanceError) -> ApiError {
    match error {
        ClearanceError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "task-not-found",
            "Task not found",
            "there is no task with this id assigned to you".into(),
            "没有分派给您的此编号任务".into(),
        ),
        other => other.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks.

#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "officer work",
    summary = "List officers' tasks",
    description = "For customs roles (officers, risk analysts, auditors, administrators). Every task \
                   (`mine=false`, the default), or the caller's own queue (`mine=true`), of one office \
                   and status if asked.",
    params(
        ("mine" = Option<bool>, Query, description = "true: only the tasks assigned to the caller \
            (default false: everybody's)"),
        ("office" = Option<String>, Query, description = "Customs office code of lodging, e.g. 2200"),
        ("status" = Option<TaskStatus>, Query, description = "open or closed (default: both)"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 500,
            description = "Tasks at most, 1 to 500 (default 100)"),
    ),
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 403, description = "The role may not see officers' tasks", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is wrong or unknown; the problem names it",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn tasks<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: TasksQuery,
) -> Result<Json<TaskList>, ApiError> {
    caller.require(clearance::Action::ReadTasks)?;
    let _slot = crate::admission::admit_page(
        &state.jobs,
        &caller,
        query.limit,
        clearance::tasks::TASK_PAGE_MAX,
    )?;
    let tasks = state
        .clearance
        .tasks(
            &caller,
            query.mine,
            query.office.as_deref(),
            query.status.as_deref(),
            query.limit,
        )
        .await?;
    Ok(Json(TaskList { tasks }))
}

#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/finding",
    tag = "officer work",
    summary = "Close one's task with a finding",
    description = "For the officer the task is assigned to. Without a discrepancy the task is closed; \
                   with corrections the declaration is amended and reassessed on its acceptance date in \
                   the same transaction, and the outcome carries the revenue difference. Once every task \
                   of a declaration is closed its goods may be released.",
    params(
        ("id" = String, Path, description = "The task's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 128 printable ASCII characters; \
            retrying with the same key is safe"),
    ),
    request_body(content = FindingRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The task, closed, and its outcome", body = FindingOutcome),
        (status = 403, description = "The role may not record findings", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No task with this id is assigned to the caller", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The declaration's state does not allow the corrections, or it \
            changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The finding has errors, each naming its field (a correction the \
            declaration refuses is named `corrections: <field>`), the task is closed already, or the \
            Idempotency-Key was used for another request", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn record_finding<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TaskRef(id): TaskRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<FindingOutcome>, ApiError> {
    let outcome = state
        .clearance
        .record_finding(&caller, &id, key.as_deref(), &body)
        .await
        .map_err(task_refusal)?;
    Ok(Json(FindingOutcome(outcome)))
}

// ---------------------------------------------------------------------------------------------
// Duty (值班): tasks go to the officers on duty at the office.

pub(crate) const DUTY_PATH: &str = "/v1/duty";

/// Where the calling officer goes on duty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DutyRequest {
    /// The customs office code, e.g. 2200.
    #[schema(example = "2200")]
    office: String,
}

/// An officer's duty after the change. Members: `officer` (user id), `office` (`null` off duty),
/// `on_duty`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct DutyView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DutyRoster {
    /// The officers on duty: `officer`, `office`, `since` and `seq` (the audit-chain entry of
    /// going on duty), ordered by office then officer.
    #[schema(value_type = Vec<Object>)]
    on_duty: Vec<Value>,
}

#[utoipa::path(
    put,
    path = "/v1/duty",
    tag = "officer work",
    summary = "Go on duty at an office",
    description = "For officers: the caller goes on duty at the office (leaving any other). Tasks created \
                   at an office are drawn among the officers on duty there; where nobody is, among every \
                   officer, and the task records which pool it came from.",
    request_body(content = DutyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "On duty", body = DutyView),
        (status = 403, description = "Only officers keep duty", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The office is not a known customs office code", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn go_on_duty<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<DutyView>, ApiError> {
    let request: DutyRequest = parse_body(&caller, clearance::Action::KeepDuty, &body)?;
    let view = state
        .clearance
        .set_duty(&caller, Some(&request.office))
        .await?;
    Ok(Json(DutyView(view)))
}

#[utoipa::path(
    delete,
    path = "/v1/duty",
    tag = "officer work",
    summary = "Go off duty",
    description = "For officers: no more tasks are drawn for the caller until they go on duty again. \
                   Tasks already assigned stay in their queue.",
    responses(
        (status = 200, description = "Off duty", body = DutyView),
        (status = 403, description = "Only officers keep duty", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn go_off_duty<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<DutyView>, ApiError> {
    Ok(Json(DutyView(
        state.clearance.set_duty(&caller, None).await?,
    )))
}

#[utoipa::path(
    get,
    path = "/v1/duty",
    tag = "officer work",
    summary = "The officers on duty",
    description = "For customs roles: who is on duty now, at one office or at all of them.",
    params(("office" = Option<String>, Query, description = "Customs office code, e.g. 2200")),
    responses(
        (status = 200, description = "The officers on duty", body = DutyRoster),
        (status = 403, description = "The role may not see officers' duty", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is unknown or repeated", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn duty_roster<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: DutyQuery,
) -> Result<Json<DutyRoster>, ApiError> {
    let on_duty = state
        .clearance
        .duty_roster(&caller, query.office.as_deref())
        .await?;
    Ok(Json(DutyRoster { on_duty }))
}

// ---------------------------------------------------------------------------------------------
// The names of the people who act, for the command line's tables at a desk.

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamesView {
    /// Each known user's name by id; an id the directory does not know (such as `system`) is
    /// left out.
    #[schema(value_type = Object)]
    names: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(
    get,
    path = "/v1/directory/names",
    tag = "officer work",
    summary = "Users' names by id",
    description = "For customs roles: the names of the users with these ids, as histories, task \
                   queues and rule lists name the people who acted (`customs` at a desk shows them \
                   by name, as on the data folder).",
    params(("id" = Option<Vec<String>>, Query, description = "A user's id; repeated for several, at most 100")),
    responses(
        (status = 200, description = "The names", body = NamesView),
        (status = 403, description = "The role may not see who acted", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "An unknown parameter, or more than 100 ids", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn names<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: NamesQuery,
) -> Result<Json<NamesView>, ApiError> {
    let ids: Vec<&str> = query.ids.iter().map(String::as_str).collect();
    let names = state.clearance.actor_names(&caller, &ids).await?;
    Ok(Json(NamesView {
        names: names.into_iter().collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Holds placed by hand.

/// Why the goods are held.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct HoldRequest {
    /// The reason, for the record and the trade's question.
    #[schema(example = "intelligence: possible IPR infringement")]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/hold",
    tag = "officer work",
    summary = "Hold the goods",
    description = "For officers (扣留). The hold is an open task of kind `hold` assigned to the caller: \
                   the goods are not released until the officer lifts it by closing the task with a finding \
                   (`POST /v1/tasks/{id}/finding`). Goods released or cancelled are not held (409 \
                   `not-holdable`).",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = HoldRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The hold task, open", body = TaskView),
        (status = 403, description = "The role may not hold goods", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The goods are released or the declaration cancelled", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, each naming its field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn place_hold<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<TaskView>, ApiError> {
    let task = state
        .clearance
        .place_hold(&caller, &id_or_number, key.as_deref(), &body)
        .await?;
    Ok(Json(TaskView(task)))
}

// ---------------------------------------------------------------------------------------------
// Attachments: photos and documents as the evidence of a finding.

/// A task's attachment. Members: `task`, `digest` (SHA-256 of the content, recorded in the audit
/// chain), `file_name`, `media_type` (read from the content: image/jpeg, image/png or
/// application/pdf), `size` (bytes), `added_by`, `added_seq`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct AttachmentView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttachmentList {
    /// In the order they were added.
    #[schema(value_type = Vec<AttachmentView>)]
    attachments: Vec<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/attachments",
    tag = "officer work",
    summary = "Attach a photo or document to one's task",
    description = "For the officer the task is assigned to, while it is open. The body is the file itself \
                   (JPEG, PNG or PDF, at most 10 MiB; its kind is read from its content, and a Content-Type \
                   that disagrees is refused); at most 20 per task. The finding that closes the task names \
                   its attachments.",
    params(
        ("id" = String, Path, description = "The task's id"),
        ("file_name" = String, Query, description = "The file's name, without a folder"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file (image/jpeg, image/png or application/pdf)"),
    responses(
        (status = 201, description = "Attached", body = AttachmentView),
        (status = 403, description = "The role may not record findings", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No task with this id is assigned to the caller", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than 10 MiB", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The file, its name or its type is wrong, the task is closed or has \
            20 attachments, or the same file is attached already; the problem names the field", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_attachment<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TaskRef(task): TaskRef,
    IdempotencyKey(key): IdempotencyKey,
    upload: AttachmentUpload,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    let view = state
        .clearance
        .add_attachment(
            &caller,
            &task,
            &upload.file_name,
            upload.media_type.as_deref(),
            &upload.content,
            key.as_deref(),
        )
        .await
        .map_err(task_refusal)?;
    Ok((StatusCode::CREATED, Json(AttachmentView(view))))
}

#[utoipa::path(
    get,
    path = "/v1/tasks/{id}/attachments",
    tag = "officer work",
    summary = "A task's attachments",
    description = "For customs roles: the photos and documents attached to the task, without their content.",
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The attachments", body = AttachmentList),
        (status = 403, description = "The role may not see officers' tasks", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn attachments<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TaskRef(task): TaskRef,
) -> Result<Json<AttachmentList>, ApiError> {
    let attachments = state.clearance.attachments(&caller, &task).await?;
    Ok(Json(AttachmentList { attachments }))
}

#[utoipa::path(
    get,
    path = "/v1/tasks/{id}/attachments/{digest}",
    tag = "officer work",
    summary = "One attachment's content",
    description = "For customs roles: the file, with its media type.",
    params(
        ("id" = String, Path, description = "The task's id"),
        ("digest" = String, Path, description = "The attachment's SHA-256, hex"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, description = "The role may not see officers' tasks", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such attachment on the task", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn attachment_content<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    AttachmentRef { task, digest }: AttachmentRef,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (media_type, content) = state
        .clearance
        .attachment_content(&caller, &task, &digest)
        .await
        .map_err(|error| match error {
            ClearanceError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "attachment-not-found",
                "Attachment not found",
                "there is no attachment with this digest on this task".into(),
                "此任务没有该摘要的附件".into(),
            ),
            other => other.into(),
        })?;
    Ok(([(axum::http::header::CONTENT_TYPE, media_type)], content).into_response())
}

// ---------------------------------------------------------------------------------------------
// Reassignment by a supervisor.

/// A supervisor's reassignment of an open task.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ReassignmentRequest {
    /// The user name of the officer the task goes to: one on duty at the task's office (or, with
    /// nobody on duty there, any active officer).
    #[schema(example = "officer-li")]
    officer: String,
    /// Why, for the record.
    #[schema(example = "officer Wang is off sick")]
    reason: String,
}

/// The reassignment. Members: `task`, `declaration_id`, `kind`, `office`, `from` and `to` (the
/// officers' user ids), `reason`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ReassignmentView(Value);

#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/reassignment",
    tag = "officer work",
    summary = "Give an open task to another officer",
    description = "For supervisors. The officer named must be one a task at the office could be drawn \
                   for now: on duty there, or, with nobody on duty, any active officer. Recorded as the \
                   audited event `task.reassigned`.",
    params(
        ("id" = String, Path, description = "The task's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = ReassignmentRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Reassigned", body = ReassignmentView),
        (status = 403, description = "The role may not reassign tasks", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No task with this id", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, each naming its field: the officer is \
            not a candidate, the task is closed, or the reason is missing", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn reassign_task<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TaskRef(task): TaskRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<ReassignmentView>, ApiError> {
    let view = state
        .clearance
        .reassign_task(&caller, &task, key.as_deref(), &body)
        .await
        .map_err(task_refusal)?;
    Ok(Json(ReassignmentView(view)))
}
