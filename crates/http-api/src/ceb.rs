//! Cross-border e-commerce messages over HTTP (issue 15): `POST /v1/ceb/messages` takes one CEB
//! message (CEB311, 411, 511, 621, 623 or 625) and answers its receipt as XML (200), or a CEB900
//! (400) for a message that fails the schema; who-you-are refusals (no token, not the message's
//! sender, not registered for the role, a signature that does not verify) are problem JSON (401,
//! 403), as on every route. The body limit (`ceb::MESSAGE_BYTES_MAX`) is enforced before the
//! body is read. The agent reads its lists' state and receipt; administrators register the CEB
//! enterprises, their certificates and the agents' guarantees.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clearance::ecommerce::CebAnswer;
use clearance::{Action, ClearanceError};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::assessing::parse_body;
use crate::extract::{Authenticated, IdempotencyKey, JsonBody, limited_body};
use crate::problem::{ApiError, RenderedPage};

fn xml(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    // A CEB900 is the standard's answer, not to be replaced by a problem document.
    response.extensions_mut().insert(RenderedPage);
    response
}

#[utoipa::path(
    post,
    path = "/v1/ceb/messages",
    tag = "e-commerce",
    summary = "Send one CEB message (CEB311 order, 411 payment, 511 waybill, 621 inventory list, 623 cancellation, 625 return)",
    description = "The message must be signed (SM2-SM3 enveloped signature) with the certificate registered for \
                   the sending enterprise (`BaseTransfer/copCode`), which must be the caller's enterprise, registered \
                   for the message's role (order: ebp; payment: payment; waybill: logistics; list, cancellation, \
                   return: agent). Each document is answered in the receipt (CEB312, 412, 512, 622, 624, 626): 120 \
                   recorded; 100 refused with the fields named; a list waits (2) until its order, payment and \
                   waybill have arrived and agree (三单对碰), then is lodged as a declaration: 120 or 800 (released) \
                   with `invtNo` the declaration number. A message sent again is recorded once and answered again.",
    request_body(content = String, content_type = "application/xml"),
    responses(
        (status = 200, description = "The receipt", body = String, content_type = "application/xml"),
        (status = 400, description = "The message fails the schema: CEB900", body = String, content_type = "application/xml"),
        (status = 403, description = "Not the message's sender, not registered for its role, or its signature does not verify",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 4 MiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn receive<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(Action::Lodge)?;
    let limit = state.config.body_limit_bytes.min(ceb::MESSAGE_BYTES_MAX);
    let body = limited_body(request, &state, limit).await?;
    match state.clearance.receive_ceb(&caller, &body).await? {
        CebAnswer::Receipt(receipt) => Ok(xml(StatusCode::OK, receipt)),
        CebAnswer::FormatError(receipt) => Ok(xml(StatusCode::BAD_REQUEST, receipt)),
    }
}

/// An inventory list's state. Members: `id` (the list's guid); `status` (`waiting`, `accepted`,
/// `refused`, `cancelled`, `returned`); `deadline` (RFC 3339, until when it waits);
/// `declaration_id` and `declaration_number` once accepted; `reason` (the refusal's field errors);
/// `receipt` (the CEB622 as it stands, XML text).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct InventoryListView(Value);

#[utoipa::path(
    get,
    path = "/v1/ceb/inventory-lists/{id}",
    tag = "e-commerce",
    summary = "An inventory list's state and its receipt (the declaring agent only)",
    params(("id" = String, Path, description = "The list's guid (InventoryHead/guid)")),
    responses(
        (status = 200, description = "The list", body = InventoryListView),
        (status = 404, description = "No such list, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn inventory_list<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<InventoryListView>, ApiError> {
    let view = state.clearance.ceb_inventory_list(&caller, &id).await?;
    let deadline = chrono::DateTime::from_timestamp_millis(view.list.deadline_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let reason: Value = view
        .list
        .reason
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    Ok(Json(InventoryListView(json!({
        "id": view.list.id,
        "status": view.list.status,
        "deadline": deadline,
        "order_no": view.list.order_no,
        "logistics_no": view.list.logistics_no,
        "declaration_id": view.list.declaration_id,
        "declaration_number": view.declaration_number,
        "reason": reason,
        "receipt": view.receipt,
    }))))
}

#[utoipa::path(
    get,
    path = "/v1/ceb/tax-bills/{id}",
    tag = "e-commerce",
    summary = "An accepted inventory list's tax bill, CEB816 (the declaring agent only)",
    description = "The taxes assessed on the list at acceptance, item by item (customs duty, import VAT, \
                   consumption tax, each item's dutiable value), debited from the agent's guarantee. Status 1 \
                   (generated), or 3 (void) once the list is cancelled or returned.",
    params(("id" = String, Path, description = "The list's guid (InventoryHead/guid)")),
    responses(
        (status = 200, description = "The CEB816 message", body = String, content_type = "application/xml"),
        (status = 404, description = "No such accepted list, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn tax_bill<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let bill = state.clearance.ceb_tax_bill(&caller, &id).await?;
    Ok(xml(StatusCode::OK, bill))
}

/// An enterprise registered for CEB roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CebEnterpriseRequest {
    /// The 10-character customs code (海关编码), as CEB messages name it.
    customs_code: Option<String>,
    /// The 18-character unified social credit code: required for an e-commerce enterprise or an
    /// agent whose lists are declared (the declaration's parties are known by it).
    credit_code: Option<String>,
    name: String,
    /// Some of `ebp`, `ebc`, `payment`, `logistics`, `agent`.
    roles: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/ceb/enterprises",
    tag = "e-commerce",
    summary = "Register an enterprise for CEB roles (administrators)",
    request_body(content = CebEnterpriseRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Registered (roles added to an enterprise registered before)"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, each naming its field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register_enterprise<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let request: CebEnterpriseRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    state
        .clearance
        .register_ceb_enterprise(
            &caller,
            store::CebEnterpriseRow {
                customs_code: request.customs_code,
                credit_code: request.credit_code,
                name: request.name,
                roles: request.roles,
                registered_seq: None,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A signing certificate of a registered enterprise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertificateRequest {
    /// The X.509 certificate (SM2), PEM.
    certificate_pem: String,
}

#[utoipa::path(
    post,
    path = "/v1/ceb/enterprises/{code}/certificates",
    tag = "e-commerce",
    summary = "Add a signing certificate of a CEB enterprise (administrators); the latest is in force",
    params(("code" = String, Path, description = "The enterprise's customs code or credit code")),
    request_body(content = CertificateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Added: `serial_number`", body = Object),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an SM2 certificate, or an unknown enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_certificate<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request: CertificateRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    let key = dsig::RegisteredKey::from_certificate_pem(&request.certificate_pem).map_err(|e| {
        let (en, zh) = e.messages();
        ApiError::from(ClearanceError::Invalid(vec![
            domain::FieldError::invalid_format("certificate_pem", &en, &zh),
        ]))
    })?;
    let serial = state
        .clearance
        .add_ceb_certificate(&caller, &code, key.certificate_der())
        .await?;
    Ok(Json(json!({ "serial_number": serial })))
}

/// A tax guarantee (担保) of a declaring agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GuaranteeRequest {
    /// The code lists name in `assureCode`.
    assure_code: String,
    /// The agent's code (customs or credit code): the only one whose lists it covers.
    agent_code: String,
    /// CNY, an exact decimal with at most 2 decimals, e.g. `"5000.00"`.
    amount: String,
}

#[utoipa::path(
    post,
    path = "/v1/ceb/guarantees",
    tag = "e-commerce",
    summary = "Register an agent's tax guarantee (administrators)",
    request_body(content = GuaranteeRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Registered"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, each naming its field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register_guarantee<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let request: GuaranteeRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    let fen = movement_fen("amount", &request.amount)?;
    state
        .clearance
        .register_guarantee(&caller, &request.assure_code, &request.agent_code, fen)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Money added to a guarantee.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GuaranteeTopUpRequest {
    /// CNY, an exact decimal with at most 2 decimals, more than 0 and at most
    /// 100,000,000,000.00 (`store::GUARANTEE_MOVEMENT_FEN_MAX` fen), e.g. `"2000.00"`.
    amount: String,
}

/// An amount in CNY (at most 2 decimals, > 0, at most `store::GUARANTEE_MOVEMENT_FEN_MAX` fen)
/// in fen, or the refusal naming `field`.
fn movement_fen(field: &str, amount: &str) -> Result<i64, ApiError> {
    let max = Decimal::new(store::GUARANTEE_MOVEMENT_FEN_MAX, 2);
    amount
        .parse::<Decimal>()
        .ok()
        .filter(|a| a.scale() <= 2 && *a > Decimal::ZERO && *a <= max)
        .and_then(|a| (a * Decimal::ONE_HUNDRED).to_i64())
        .ok_or_else(|| {
            ApiError::from(ClearanceError::Invalid(vec![
                domain::FieldError::invalid_format(
                    field,
                    &format!(
                        "a positive amount in CNY with at most 2 decimals, at most {max}, e.g. \"5000.00\""
                    ),
                    &format!("正数金额（元），最多两位小数，不超过 {max}，如 \"5000.00\""),
                ),
            ]))
        })
}

#[utoipa::path(
    post,
    path = "/v1/ceb/guarantees/{assure_code}/top-ups",
    tag = "e-commerce",
    summary = "Top up an agent's tax guarantee (administrators)",
    description = "Adds `amount` to the guarantee's balance, recorded as its own event. With an `Idempotency-Key`, \
                   the same request again adds nothing and answers the guarantee as it stands; the key with \
                   another amount is refused (422).",
    params(
        ("assure_code" = String, Path, description = "The guarantee's code"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = GuaranteeTopUpRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Topped up: `assure_code`, `agent_code`, `balance` (CNY)", body = Object),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such guarantee", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The amount is not a positive amount of at most 2 decimals and at most 100,000,000,000.00, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn top_up_guarantee<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(assure_code): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request: GuaranteeTopUpRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    let fen = movement_fen("amount", &request.amount)?;
    let row = state
        .clearance
        .top_up_guarantee(&caller, &assure_code, fen, key.as_deref())
        .await?;
    Ok(Json(guarantee_json(&row)))
}

fn guarantee_json(row: &store::GuaranteeRow) -> Value {
    json!({
        "assure_code": row.assure_code,
        "agent_code": row.agent_code,
        "balance": Decimal::new(row.balance_fen, 2).to_string(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/ceb/guarantees/{assure_code}",
    tag = "e-commerce",
    summary = "A guarantee's balance (administrators and its agent)",
    params(("assure_code" = String, Path, description = "The guarantee's code")),
    responses(
        (status = 200, description = "`assure_code`, `agent_code`, `balance` (CNY)", body = Object),
        (status = 404, description = "No such guarantee, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn guarantee<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(assure_code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .clearance
        .guarantee_balance(&caller, &assure_code)
        .await?;
    Ok(Json(guarantee_json(&row)))
}
