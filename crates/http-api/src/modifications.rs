//! The handlers of requests to amend or cancel (修撤单) and of assessments by hand: what an
//! officer decides once the trade can no longer change a declaration at will.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::extract::{Authenticated, DeclarationRef, IdempotencyKey, JsonBody};
use crate::problem::ApiError;

/// A request to amend or cancel: `request` (its id), `kind` (amendment or cancellation),
/// `declaration` (number), `status` (pending, approved or refused), `reason` (the trade's), and
/// once decided `decision_reason`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct RequestView(Value);

/// An officer's decision: `{"approve": true|false, "reason": "..."}` (a reason is required to
/// refuse; the trade is told it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Decision {
    approve: bool,
    reason: Option<String>,
}

/// An assessment by hand: `customs_duty`, `consumption_tax` (optional), `import_vat` (CNY decimal
/// strings, zero or more) and `reason`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ManualAssessment {
    #[schema(example = "120.00")]
    customs_duty: String,
    consumption_tax: Option<String>,
    #[schema(example = "1560.00")]
    import_vat: String,
    reason: String,
}

/// The recorded assessment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ManualRecord(Value);

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/modification-requests",
    tag = "declarations",
    summary = "A declaration's requests to amend or cancel",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "Its requests, oldest first", body = Vec<RequestView>),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn requests<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    let list = state
        .clearance
        .modification_requests(&caller, &id_or_number)
        .await?;
    Ok(Json(list.into_iter().map(RequestView).collect()))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/modification-requests/{request}/decision",
    tag = "declarations",
    summary = "Approve or refuse a request to amend or cancel",
    description = "The officer the request's review task is assigned to. An approved amendment is applied, \
                   reassessed and targeted again; an approved cancellation is refused while another task \
                   on the declaration is open.",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("request" = String, Path, description = "The request's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = Decision, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision", body = RequestView),
        (status = 403, description = "Not an officer, or not the officer the review is assigned to",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, stale, or open tasks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path((id_or_number, request)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    let decision = state
        .clearance
        .decide_modification(&caller, &id_or_number, &request, key.as_deref(), &body)
        .await?;
    Ok(Json(RequestView(decision)))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/assessments/manual",
    tag = "assessment",
    summary = "Assess a declaration by hand",
    description = "For officers, where the engine could not assess (an item without a tariff line, no release \
                   or rate in force): each tax's amount and why. Closes the declaration's open \
                   manual-assessment tasks; until then its goods are not released.",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = ManualAssessment, content_type = "application/json"),
    responses(
        (status = 201, description = "The assessment recorded", body = ManualRecord),
        (status = 200, description = "The first record of this Idempotency-Key", body = ManualRecord),
        (status = 403, description = "Officers only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn assess_manually<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let assessed = state
        .clearance
        .assess_manually(&caller, &id_or_number, key.as_deref(), &body)
        .await?;
    let status = if assessed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ManualRecord(assessed.record))).into_response())
}
