//! The handlers of payments: what a declaration owes and has covered, and recording a payment
//! (the trade that declared, with the bank's reference) or a guarantee (an officer). Goods are
//! released only when the latest assessment is covered.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::extract::{Authenticated, DeclarationRef, IdempotencyKey, JsonBody};
use crate::problem::ApiError;

/// What a declaration owes and has covered, in CNY (decimal strings). Members: `payable` (total
/// payable of the latest assessment, `null` when it was never assessed), `paid`, `guaranteed`,
/// `outstanding` (what release still waits for).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct Settlement(Value);

/// A payment or a guarantee. The service parses it and names every problem's field; unknown
/// members are refused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PaymentRequest {
    /// `payment` (recorded by the trade that declared) or `guarantee` (accepted by an officer).
    #[schema(example = "payment")]
    kind: String,
    /// CNY above zero with at most 2 decimals.
    #[schema(example = "9605.98")]
    amount: String,
    /// The bank's payment reference or the guarantee's number, at most 64 characters.
    #[schema(example = "BOC-20261127-0001")]
    reference: String,
}

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/payments",
    tag = "assessment",
    summary = "What a declaration owes and has covered",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "Payable, paid, guaranteed and outstanding", body = Settlement),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn payments<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<Settlement>, ApiError> {
    let settlement = state.clearance.payments(&caller, &id_or_number).await?;
    Ok(Json(Settlement(settlement)))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/payments",
    tag = "assessment",
    summary = "Record a payment or a guarantee",
    description = "A payment by the trade that declared (quoting the bank's reference), a guarantee by an \
                   officer who accepted it. A retry with the same Idempotency-Key records nothing more.",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = PaymentRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What the declaration now owes and has covered", body = Settlement),
        (status = 403, description = "The role may not record this kind (payments: trade; guarantees: officers)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, or the Idempotency-Key was used for another request",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn record_payment<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<Settlement>, ApiError> {
    let settlement = state
        .clearance
        .record_payment(&caller, &id_or_number, key.as_deref(), &body)
        .await?;
    Ok(Json(Settlement(settlement)))
}
