//! The officer's work from a declaration's page: the finding that closes a task, with corrected
//! item fields and photos (attached to the task first, then named by the finding), the task's
//! attachments and the reassessment difference a correction made, holding the goods by hand; and
//! a supervisor's reassignment of an open task. Everything through the service calls the API
//! uses (`record_finding`, `add_attachment`, `attachment_content`, `place_hold`,
//! `reassignment_candidates`, `reassign_task`); customs-only parts answer the not-found page to
//! the trade.

use std::collections::HashMap;
use std::fmt::Display;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clearance::{Caller, ClearanceError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;
use store::Store;

use super::declarations::{Feedback, after_action, declaration_page};
use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/console/tasks/{task}/finding",
            post(record_finding::<S>).layer(DefaultBodyLimit::max(CONSOLE_FINDING_BYTES_MAX)),
        )
        .route(
            "/console/tasks/{task}/attachments/{digest}",
            get(attachment::<S>),
        )
        .route("/console/declarations/{id}/hold", post(hold::<S>))
        .route(
            "/console/tasks/{task}/reassignment",
            get(reassignment_page::<S>).post(reassign::<S>),
        )
}

/// Photos (or PDFs) one finding form may carry; each is at most
/// `clearance::attachments::ATTACHMENT_BYTES_MAX`, and a task holds at most
/// `clearance::attachments::ATTACHMENTS_PER_TASK_MAX`.
pub const CONSOLE_FINDING_PHOTOS_MAX: usize = 5;
/// The largest finding form: its photos and some room for the fields.
pub const CONSOLE_FINDING_BYTES_MAX: usize =
    CONSOLE_FINDING_PHOTOS_MAX * clearance::attachments::ATTACHMENT_BYTES_MAX + 1024 * 1024;
/// Parts one finding form may have (fields and files): more is refused before any is used.
pub const CONSOLE_FINDING_PARTS_MAX: usize = 2000;

/// A field's problem: its element id on the page and the message.
pub(crate) struct FieldIssue {
    pub field: String,
    pub message: String,
}

pub(crate) struct AttachmentLink {
    pub url: String,
    pub file_name: String,
    pub media_type: String,
    pub size: String,
    pub image: bool,
    pub task_kind: String,
}

pub(crate) struct DifferenceRow {
    pub tax: String,
    pub previous: String,
    pub now: String,
    pub difference: String,
}

/// The reassessment a finding's corrections made: before and after, per tax, exact (fen).
pub(crate) struct Difference {
    pub when: String,
    pub task_kind: String,
    pub rows: Vec<DifferenceRow>,
    pub total: String,
    pub settlement: String,
}

/// An item's fields the finding form may correct, as they stand.
pub(crate) struct CorrectableItem {
    pub index: usize,
    pub line: usize,
    pub commodity_code: String,
    pub quantity: String,
    pub unit: String,
    pub amount: String,
    pub origin: String,
}

/// What the declaration's page shows customs roles beyond the declaration.
pub(crate) struct OfficerSection {
    /// An officer may hold goods not yet released or cancelled.
    pub may_hold: bool,
    pub attachments: Vec<AttachmentLink>,
    pub differences: Vec<Difference>,
    pub items: Vec<CorrectableItem>,
    pub invoice_amount: String,
}

/// The correctable fields of the finding form: the input's name suffix and the item's path.
const CORRECTABLE: [(&str, &str); 4] = [
    ("commodity_code", "commodity_code"),
    ("quantity", "quantity.value"),
    ("amount", "amount"),
    ("origin", "origin_country"),
];

impl OfficerSection {
    /// The element id of a finding form's field: `f-<task>-<name>`.
    pub(crate) fn field(&self, task: impl Display, name: impl Display) -> String {
        format!("f-{task}-{name}")
    }

    /// The element id of an item's correctable field: `f-<task>-c-<index>-<name>`.
    pub(crate) fn item_field(
        &self,
        task: impl Display,
        index: impl Display,
        name: impl Display,
    ) -> String {
        format!("f-{task}-c-{index}-{name}")
    }
}

/// The section of a declaration's page for customs roles, from its events (customs' view).
pub(crate) fn section(
    tr: &Tr,
    offset: chrono::FixedOffset,
    language: Language,
    caller: &Caller,
    status: &str,
    document: &Value,
    events: &[wire::EventView],
) -> OfficerSection {
    let pick = |v: &Value| {
        let key = if language == Language::Zh { "zh" } else { "en" };
        text(&v[key])
    };
    let mut kinds: HashMap<String, String> = HashMap::new();
    let mut attachments = Vec::new();
    let mut differences = Vec::new();
    for event in events {
        let p = &event.payload;
        match event.action.as_str() {
            "task.created" => {
                kinds.insert(text(&p["task"]), text(&p["kind"]));
            }
            clearance::attachments::ATTACHMENT_ADDED_ACTION => {
                let task = text(&p["task"]);
                let media_type = text(&p["media_type"]);
                attachments.push(AttachmentLink {
                    url: format!("/console/tasks/{task}/attachments/{}", text(&p["digest"])),
                    file_name: text(&p["file_name"]),
                    image: media_type.starts_with("image/"),
                    media_type,
                    size: text(&p["size"]),
                    task_kind: tr.of("task", kinds.get(&task).map_or("", String::as_str)),
                });
            }
            "task.closed" => {
                let difference = &p["outcome"]["revenue_difference"];
                if difference.is_object() {
                    differences.push(Difference {
                        when: crate::shown_time(offset, &event.recorded_at),
                        task_kind: tr.of("task", &text(&p["kind"])),
                        rows: difference["per_tax"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|row| DifferenceRow {
                                tax: tr.of("tax", &text(&row["kind"])),
                                previous: text(&row["previous"]),
                                now: text(&row["now"]),
                                difference: text(&row["difference"]),
                            })
                            .collect(),
                        total: text(&difference["total"]),
                        settlement: pick(&difference["settlement"]),
                    });
                }
            }
            _ => {}
        }
    }
    let items = document["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, item)| CorrectableItem {
            index,
            line: index + 1,
            commodity_code: text(&item["commodity_code"]),
            quantity: text(&item["quantity"]["value"]),
            unit: text(&item["quantity"]["unit"]),
            amount: text(&item["amount"]),
            origin: text(&item["origin_country"]),
        })
        .collect();
    OfficerSection {
        may_hold: caller.role == clearance::Role::Officer && status == "accepted",
        attachments,
        differences,
        items,
        invoice_amount: text(&document["invoice"]["amount"]),
    }
}

/// What a finding form sent: its fields, and its photos (at most `CONSOLE_FINDING_PHOTOS_MAX`).
struct Sent {
    fields: Vec<(String, String)>,
    photos: Vec<Photo>,
    too_many_photos: bool,
}

/// The finding form's fields and photos: multipart (with photos), or a plain form without any.
async fn sent<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    request: axum::extract::Request,
) -> Result<Sent, Response> {
    use axum::extract::FromRequest;
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut sent = Sent {
        fields: Vec::new(),
        photos: Vec::new(),
        too_many_photos: false,
    };
    if !multipart {
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if fields.len() > CONSOLE_FINDING_PARTS_MAX {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        }
        sent.fields = fields;
        return Ok(sent);
    }
    let mut multipart = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let mut parts = 0usize;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
        };
        parts += 1;
        if parts > CONSOLE_FINDING_PARTS_MAX {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photo" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let media_type = field.content_type().map(str::to_owned);
            let Ok(content) = field.bytes().await else {
                return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
            };
            // A file input left empty sends an empty part without a name.
            if content.is_empty() && file_name.is_empty() {
                continue;
            }
            if sent.photos.len() == CONSOLE_FINDING_PHOTOS_MAX {
                sent.too_many_photos = true;
                continue;
            }
            sent.photos.push(Photo {
                name: file_name,
                media_type,
                content: content.to_vec(),
            });
        } else {
            let value = field.text().await.unwrap_or_default();
            sent.fields.push((name, value));
        }
    }
    Ok(sent)
}

/// A photo sent with a finding.
struct Photo {
    name: String,
    media_type: Option<String>,
    content: Vec<u8>,
}

/// The officer's finding on a task, from the declaration's page: the photos are attached to the
/// task first (a file attached before is not attached twice), then the finding is recorded with
/// the corrections of every item field whose value the officer changed.
pub(crate) async fn record_finding<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(task): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Sent {
        fields,
        photos,
        too_many_photos,
    } = match sent(&state, &headers, request).await {
        Ok(sent) => sent,
        Err(response) => return response,
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let declaration = get("declaration");
    let path = format!("/console/declarations/{declaration}");
    let (visit, caller) = match acting(&state, &headers, &get("csrf"), &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let pick = |en: &str, zh: &str| {
        if visit.language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    let id_of = |name: &str| format!("f-{task}-{name}");
    let mut feedback = Feedback::default();
    for (name, value) in &fields {
        if let Some(rest) = name.strip_prefix("c-") {
            feedback
                .values
                .insert(id_of(&format!("c-{rest}")), value.clone());
        } else if name == "note" || name == "invoice" {
            feedback.values.insert(id_of(name), value.clone());
        }
    }
    if too_many_photos {
        feedback.issues.push(FieldIssue {
            field: id_of("photo"),
            message: tr.t("finding-too-many-photos"),
        });
        return refused(&state, &visit, &caller, &declaration, feedback).await;
    }
    // The declaration as it stands: a correction is a field whose value the officer changed.
    let document = match state.clearance.declaration(&caller, &declaration).await {
        Ok(view) => serde_json::to_value(&view.declaration).unwrap_or(Value::Null),
        Err(ClearanceError::NotFound) => return not_found(&visit, Some(user_bar(&caller))),
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let mut corrections: Vec<(String, String, String)> = Vec::new(); // path, value, field id
    for (index, item) in document["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (name, item_path) in CORRECTABLE {
            let sent = get(&format!("c-{index}-{name}"));
            let sent = sent.trim();
            let current = match item_path.split_once('.') {
                Some((outer, inner)) => text(&item[outer][inner]),
                None => text(&item[item_path]),
            };
            if !sent.is_empty() && sent != current {
                corrections.push((
                    format!("items[{index}].{item_path}"),
                    sent.to_owned(),
                    id_of(&format!("c-{index}-{name}")),
                ));
            }
        }
    }
    let invoice = get("invoice");
    if !invoice.trim().is_empty() && invoice.trim() != text(&document["invoice"]["amount"]) {
        corrections.push((
            "invoice.amount".to_owned(),
            invoice.trim().to_owned(),
            id_of("invoice"),
        ));
    }
    // The photos first: the finding names the task's attachments when it closes it.
    if !photos.is_empty() {
        let attached: Vec<String> = match state.clearance.attachments(&caller, &task).await {
            Ok(list) => list.iter().map(|a| text(&a["digest"])).collect(),
            Err(ClearanceError::Forbidden { .. }) => {
                return not_found(&visit, Some(user_bar(&caller)));
            }
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        };
        for photo in &photos {
            let digest = hex::encode(sha2::Sha256::digest(&photo.content));
            if attached.contains(&digest) {
                continue;
            }
            let outcome = state
                .clearance
                .add_attachment(
                    &caller,
                    &task,
                    &photo.name,
                    photo.media_type.as_deref(),
                    &photo.content,
                    None,
                )
                .await;
            match outcome {
                Ok(_) => {}
                Err(ClearanceError::Invalid(errors)) => {
                    for e in errors {
                        feedback.issues.push(FieldIssue {
                            field: id_of("photo"),
                            message: format!(
                                "{}: {}",
                                photo.name,
                                pick(&e.message_en, &e.message_zh)
                            ),
                        });
                    }
                }
                Err(ClearanceError::NotFound) => {
                    return not_found(&visit, Some(user_bar(&caller)));
                }
                Err(error) => {
                    return after_action(
                        &state,
                        &visit,
                        &caller,
                        &declaration,
                        Err::<(), _>(error),
                    )
                    .await;
                }
            }
        }
        if !feedback.issues.is_empty() {
            return refused(&state, &visit, &caller, &declaration, feedback).await;
        }
    }
    let note = get("note");
    let note = note.trim();
    let body = json!({
        "discrepancy": get("discrepancy") == "yes",
        "corrections": corrections.iter().map(|(path, value, _)| json!({ "path": path, "value": value })).collect::<Vec<_>>(),
        "note": (!note.is_empty()).then_some(note),
    });
    let outcome = state
        .clearance
        .record_finding(&caller, &task, None, body.to_string().as_bytes())
        .await;
    match outcome {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(ClearanceError::Invalid(errors)) => {
            for e in errors {
                feedback.issues.push(FieldIssue {
                    field: finding_field(&task, &e.path, &corrections),
                    message: format!("{}: {}", e.path, pick(&e.message_en, &e.message_zh)),
                });
            }
            refused(&state, &visit, &caller, &declaration, feedback).await
        }
        Err(error) => {
            after_action(&state, &visit, &caller, &declaration, Err::<(), _>(error)).await
        }
    }
}

/// The form field a service error's path names: a correction's input (`corrections[i].path`, or
/// `corrections: items[N].amount` for what the corrected declaration refuses), the note, the
/// photos, or else the question of the finding itself.
fn finding_field(task: &str, path: &str, corrections: &[(String, String, String)]) -> String {
    let id_of = |name: &str| format!("f-{task}-{name}");
    if let Some(inner) = path.strip_prefix("corrections: ") {
        if let Some((_, _, field)) = corrections
            .iter()
            .find(|(p, _, _)| inner == p || inner.starts_with(&format!("{p}.")))
        {
            return field.clone();
        }
        if let Some((_, _, field)) = corrections.iter().find(|(p, _, _)| {
            // `items[0].amount` corrected, refused as `items[0].quantity...`: the same item.
            p.split_once('.').map(|(item, _)| item) == inner.split_once('.').map(|(item, _)| item)
        }) {
            return field.clone();
        }
        return corrections
            .first()
            .map_or_else(|| id_of("discrepancy"), |(_, _, f)| f.clone());
    }
    if let Some(index) = path
        .strip_prefix("corrections[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        && let Some((_, _, field)) = corrections.get(index)
    {
        return field.clone();
    }
    match path {
        "note" => id_of("note"),
        "file_name" | "content" | "media_type" | "attachments" => id_of("photo"),
        _ => id_of("discrepancy"),
    }
}

/// The declaration's page again, with the form's problems.
async fn refused<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    declaration: &str,
    feedback: Feedback,
) -> Response {
    declaration_page(
        state,
        visit,
        caller,
        declaration,
        feedback,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// One attachment of a task, for customs roles: images shown in the page, PDFs downloaded.
pub(crate) async fn attachment<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((task, digest)): Path<(String, String)>,
) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/declarations");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let (media_type, content) = match state
        .clearance
        .attachment_content(&caller, &task, &digest)
        .await
    {
        Ok(found) => found,
        Err(ClearanceError::Forbidden { .. } | ClearanceError::NotFound) => {
            return not_found(&visit, Some(user_bar(&caller)));
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let disposition = if media_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let mut response = content.into_response();
    let headers = response.headers_mut();
    secure(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if let Ok(value) = HeaderValue::from_str(&media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{digest}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// An officer holds the goods by hand (扣留): an open `hold` task of their own, lifted by its
/// finding.
pub(crate) async fn hold<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<HoldForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let body = json!({ "reason": form.reason.trim() });
    let outcome = state
        .clearance
        .place_hold(&caller, &id, None, body.to_string().as_bytes())
        .await;
    match outcome {
        Err(ClearanceError::Invalid(errors)) => {
            let mut feedback = Feedback::default();
            feedback
                .values
                .insert("hold-reason".to_owned(), form.reason.clone());
            for e in errors {
                feedback.issues.push(FieldIssue {
                    field: "hold-reason".to_owned(),
                    message: if visit.language == Language::Zh {
                        e.message_zh
                    } else {
                        e.message_en
                    },
                });
            }
            refused(&state, &visit, &caller, &id, feedback).await
        }
        other => after_action(&state, &visit, &caller, &id, other).await,
    }
}

// ---------------------------------------------------------------------------------------------
// A supervisor reassigns a task.

pub(crate) struct Candidate {
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/officer_reassign.html")]
struct ReassignPage {
    page: Page,
    task: String,
    kind: String,
    office: String,
    declaration_id: String,
    number: String,
    assigned_to: String,
    pool: String,
    candidates: Vec<Candidate>,
    reason: String,
    issues: Vec<FieldIssue>,
    officer_error: Option<String>,
    reason_error: Option<String>,
}

/// The open task, as a supervisor sees it, or the not-found page.
async fn open_task<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    task: &str,
) -> Result<Option<Value>, Response> {
    if caller.role != clearance::Role::Supervisor {
        return Ok(None);
    }
    match state
        .clearance
        .tasks(
            caller,
            false,
            None,
            Some("open"),
            clearance::tasks::TASK_PAGE_MAX,
        )
        .await
    {
        Ok(tasks) => Ok(tasks.into_iter().find(|t| t["id"] == task)),
        Err(other) => Err(crate::problem::ApiError::from(other).into_response()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn reassign_form<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    task: &Value,
    chosen: &str,
    reason: &str,
    issues: Vec<FieldIssue>,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let office = text(&task["office"]);
    let found = match state
        .clearance
        .reassignment_candidates(caller, &office)
        .await
    {
        Ok(found) => found,
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let officers = found["officers"].as_array().cloned().unwrap_or_default();
    let assigned = text(&task["assigned_to"]);
    let assigned_to = officers
        .iter()
        .find(|o| o["id"] == assigned.as_str())
        .map_or(assigned.clone(), |o| text(&o["name"]));
    let candidates = officers
        .iter()
        .filter(|o| o["id"] != assigned.as_str())
        .map(|o| Candidate {
            selected: text(&o["name"]) == chosen,
            name: text(&o["name"]),
        })
        .collect();
    let error = |field: &str| {
        issues
            .iter()
            .find(|i| i.field == field)
            .map(|i| i.message.clone())
    };
    let declaration_id = text(&task["declaration_id"]);
    let number = state
        .clearance
        .declaration(caller, &declaration_id)
        .await
        .map(|view| view.number)
        .unwrap_or_else(|_| declaration_id.clone());
    let page = ReassignPage {
        page: visit.page(Some(user_bar(caller))),
        number,
        task: text(&task["id"]),
        kind: tr.of("task", &text(&task["kind"])),
        declaration_id,
        pool: tr.of("pool", &text(&found["pool"])),
        office,
        assigned_to,
        candidates,
        reason: reason.to_owned(),
        officer_error: error("officer"),
        reason_error: error("reason"),
        issues,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn reassignment_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(task): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(
        &headers,
        &query,
        &format!("/console/tasks/{task}/reassignment"),
    );
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match open_task(&state, &caller, &task).await {
        Ok(Some(found)) => {
            reassign_form(
                &state,
                &visit,
                &caller,
                &found,
                "",
                "",
                Vec::new(),
                StatusCode::OK,
            )
            .await
        }
        Ok(None) => not_found(&visit, Some(user_bar(&caller))),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReassignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    officer: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn reassign<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(task): Path<String>,
    axum::Form(form): axum::Form<ReassignForm>,
) -> Response {
    let path = format!("/console/tasks/{task}/reassignment");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let found = match open_task(&state, &caller, &task).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&visit, Some(user_bar(&caller))),
        Err(response) => return response,
    };
    let body = json!({ "officer": form.officer.trim(), "reason": form.reason.trim() });
    let outcome = state
        .clearance
        .reassign_task(&caller, &task, None, body.to_string().as_bytes())
        .await;
    match outcome {
        Ok(_) => Redirect::to(&format!("/console/tasks?office={}", text(&found["office"])))
            .into_response(),
        Err(ClearanceError::Invalid(errors)) => {
            let issues = errors
                .into_iter()
                .map(|e| FieldIssue {
                    field: if e.path == "reason" {
                        "reason"
                    } else {
                        "officer"
                    }
                    .to_owned(),
                    message: if visit.language == Language::Zh {
                        e.message_zh
                    } else {
                        e.message_en
                    },
                })
                .collect();
            reassign_form(
                &state,
                &visit,
                &caller,
                &found,
                form.officer.trim(),
                &form.reason,
                issues,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(ClearanceError::NotFound) => not_found(&visit, Some(user_bar(&caller))),
        Err(other) => crate::problem::ApiError::from(other).into_response(),
    }
}
