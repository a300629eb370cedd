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

// ---------------------------------------------------------------------------------------------
// Confirmations from the paying bank, and the connectors they come through.

/// A bank's (or the treasury's) confirmation of a payment, signed with a registered connector's
/// Ed25519 key over the lines `opencustoms-payment-confirmation-v1`, `connector`,
/// `bank_reference`, `declaration_number`, `amount`, `currency`, `paid_at` joined by `\n`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PaymentConfirmation {
    #[schema(example = "SIMBANK")]
    connector: String,
    /// Unique across the platform; the same confirmation again changes nothing.
    #[schema(example = "SIM-20261206-000001")]
    bank_reference: String,
    #[schema(example = "220020261000000002")]
    declaration_number: String,
    #[schema(example = "9596.26")]
    amount: String,
    #[schema(example = "CNY")]
    currency: String,
    #[schema(example = "2026-12-06T10:00:00+08:00")]
    paid_at: String,
    /// Hex Ed25519 signature.
    signature: String,
}

#[utoipa::path(
    post,
    path = "/v1/payment-confirmations",
    tag = "assessment",
    summary = "A paying bank confirms a payment",
    description = "Sent by a payment connector (a bank link, 税费电子支付), authenticated by its signature, \
                   not a bearer token. Only a confirmed payment counts toward release; the trade's own \
                   `payment` is a claim. No overpayment: an amount above what is outstanding is refused.",
    request_body(content = PaymentConfirmation, content_type = "application/json"),
    responses(
        (status = 201, description = "Counted: what the declaration now owes and has covered", body = Settlement),
        (status = 200, description = "This confirmation was counted before", body = Settlement),
        (status = 403, description = "Not signed by a registered, active connector", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Overpayment, a bank reference already used for another payment, or a \
            declaration that takes no payment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The message has errors", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn confirm_payment<S: Store>(
    State(state): State<AppState<S>>,
    JsonBody(body): JsonBody,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let settlement = state.clearance.confirm_payment(&body).await?;
    let status = if settlement["created"] == true {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Json(Settlement(settlement))).into_response())
}

/// A payment connector: `id`, `name`, `public_key` (hex Ed25519), `active`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ConnectorView(Value);

/// Registering a connector: `{id, name, public_key}` (id: capital letters, digits, hyphens).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ConnectorRegistration {
    #[schema(example = "SIMBANK")]
    id: String,
    name: String,
    /// 64 hex digits.
    public_key: String,
}

#[utoipa::path(
    get,
    path = "/v1/payment-connectors",
    tag = "assessment",
    summary = "The payment connectors",
    responses(
        (status = 200, description = "Registered and withdrawn connectors", body = Vec<ConnectorView>),
        (status = 403, description = "Administrators and auditors only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn connectors<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<ConnectorView>>, ApiError> {
    let list = state.clearance.payment_connectors(&caller).await?;
    Ok(Json(list.into_iter().map(ConnectorView).collect()))
}

#[utoipa::path(
    post,
    path = "/v1/payment-connectors",
    tag = "assessment",
    summary = "Register a payment connector",
    description = "Administrators. A registration of an id registered before replaces its key.",
    request_body(content = ConnectorRegistration, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = ConnectorView),
        (status = 403, description = "Administrators only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register_connector<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<(axum::http::StatusCode, Json<ConnectorView>), ApiError> {
    let view = state
        .clearance
        .register_payment_connector(&caller, &body)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(ConnectorView(view))))
}

#[utoipa::path(
    post,
    path = "/v1/payment-connectors/{id}/withdrawal",
    tag = "assessment",
    summary = "Withdraw a payment connector",
    params(("id" = String, Path, description = "The connector's id")),
    responses(
        (status = 200, description = "Withdrawn: its confirmations are refused from now on", body = ConnectorView),
        (status = 403, description = "Administrators only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such active connector", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn withdraw_connector<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<ConnectorView>, ApiError> {
    let view = state
        .clearance
        .withdraw_payment_connector(&caller, &id)
        .await?;
    Ok(Json(ConnectorView(view)))
}
