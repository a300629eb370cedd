//! The handlers: take the transport apart, call the clearance service, put the answer together.
//! The `#[utoipa::path]` of each handler is its entry in `/openapi.json`.

use axum::Json;
use axum::extract::{FromRequest, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use store::Store;
use utoipa::IntoParams;
use wire::{
    AmendmentRequest, AuditPage, AuditVerificationView, CancellationRequest, DeclarationDto,
    DeclarationPage, DeclarationView, EventsAnswer, Health, LodgementView, Problem, ReleaseRequest,
};

use crate::AppState;
use crate::admission;
use crate::extract::{
    AuditQuery, Authenticated, DeclarationRef, IdempotencyKey, JsonBody, ListQuery,
};
use crate::problem::ApiError;

pub(crate) const DECLARATIONS_PATH: &str = "/v1/declarations";

/// Query parameters of the listing; parsed by `extract::ListQuery`, described here.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ListParams {
    /// accepted, released or cancelled.
    status: Option<String>,
    /// ordinary, summary or full.
    kind: Option<String>,
    /// import or export.
    direction: Option<String>,
    /// Customs office code (申报地海关), e.g. 2200.
    office_of_lodging: Option<String>,
    trader_credit_code: Option<String>,
    /// Lodged on or after this date (UTC+8), YYYY-MM-DD.
    lodged_from: Option<String>,
    /// Lodged on or before this date (UTC+8), YYYY-MM-DD.
    lodged_to: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, from 1 to 500 (default 50); for a declarant or broker from 1 to 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// Bill of lading / waybill number (提运单号, `transport.document.number`), exactly.
    bill_of_lading: Option<String>,
    /// A container number (ISO 6346, check digit checked) among `transport.containers`.
    container: Option<String>,
    /// The invoice number (`invoice.number`), exactly.
    invoice: Option<String>,
    /// 2 to 10 first digits of any goods item's commodity code (HS), e.g. 8517.
    commodity_code: Option<String>,
    /// A part of the trader's name, at least 2 characters, in any case (Chinese too).
    trader_name: Option<String>,
    /// `true`: only declarations received in continuity (queued by an instance while PostgreSQL
    /// was unreachable, then lodged); `false` (the default): every declaration.
    continuity: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/v1/declarations",
    tag = "declarations",
    summary = "Lodge a declaration",
    description = "Validates the whole document and reports every error at once. With an `Idempotency-Key` \
                   seen before, answers the first result (200) and creates nothing. \
                   With `Content-Type: application/xml` (or `text/xml`) the body is a WCO Data Model 3.6 \
                   declaration (HMRC DMS schema, China profile: docs/wco-mapping.md) and the answer a WCO \
                   response: DMSACC (201/200) or DMSREJ (422), one Error per problem naming its WCO element \
                   path. Without an Idempotency-Key its FunctionalReferenceID (LRN) is the key. \
                   With `Content-Type: application/edifact` the body is a UN/EDIFACT interchange of one \
                   CUSDEC (D.96B) message, read with the mapping of docs/edifact-mapping.md, and the answer \
                   is a CUSRES (201/200 accepted with the declaration number, 422 refused with one ERP group \
                   per problem naming segment group, segment, position and element) or, for a syntax error, \
                   a CONTRL (400; its words in the `Customs-Syntax-Error` header). Without an \
                   `Idempotency-Key`, an interchange's key is its sender with the BGM document number (or \
                   the UNH message reference). `Accept: application/problem+json` gives problem documents \
                   instead of CUSRES and CONTRL refusals.",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 printable ASCII characters; \
             retrying with the same key is safe")),
    request_body(
        description = "A declaration: JSON, a WCO DM 3.6 declaration (MetaData/Declaration) as XML, or a CUSDEC interchange",
        content(
            (DeclarationDto = "application/json"),
            (String = "application/xml"),
            (String = "application/edifact", example = json!("UNA:+.?*'UNB+UNOY:4+SENDER+CNCUSTOMS+261107:0930+PE1'UNH+1+CUSDEC:D:96B:UN'BGM+929:::ordinary+PE1+9'...UNT+45+1'UNZ+1+PE1'")),
        ),
    ),
    responses(
        (status = 201, description = "Accepted and numbered (JSON, a WCO DMSACC for XML, a CUSRES for EDIFACT)",
            content((LodgementView = "application/json"), (String = "application/xml"), (String = "application/edifact")),
            headers(("Location" = String, description = "The declaration's URL"))),
        (status = 200, description = "The first result of this Idempotency-Key (or LRN, or interchange key)",
            content((LodgementView = "application/json"), (String = "application/xml"), (String = "application/edifact")),
            headers(("Location" = String, description = "The declaration's URL"))),
        (status = 400, description = "An EDIFACT interchange with a syntax error: CONTRL",
            content((String = "application/edifact"), (Problem = "application/problem+json"))),
        (status = 403, description = "The role may not lodge, or the enterprise may not declare for this trader",
            content((Problem = "application/problem+json"), (String = "application/edifact"))),
        (status = 413, description = "The body is larger than its limit (an EDIFACT interchange: 2 MiB)",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The document has errors, or the Idempotency-Key was used for another request \
            (a WCO DMSREJ for XML, a CUSRES for EDIFACT)",
            content((Problem = "application/problem+json"), (String = "application/xml"), (String = "application/edifact"))),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn lodge<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    // Other message formats are edge rooms onto the same lodging path, each in its own module,
    // dispatched on the content type.
    if crate::wco::is_wco(request.headers()) {
        return crate::wco::lodge(&state, &caller, key.as_deref(), request).await;
    }
    if crate::edifact::is_edifact(request.headers()) {
        return crate::edifact::lodge(&state, &caller, key, request).await;
    }
    let JsonBody(body) = JsonBody::from_request(request, &state).await?;
    let result = state.clearance.lodge(&caller, key.as_deref(), &body).await;
    state.metrics.record_lodgement(&result);
    let lodgement = result?;
    lodged(&lodgement, Json(&lodgement))
}

/// The answer to an accepted lodging in whichever format it came: 201 when it created the
/// declaration (200 for a repeated key), the declaration's `Location`, and the answer's body.
pub(crate) fn lodged(
    lodgement: &LodgementView,
    answer: impl IntoResponse,
) -> Result<Response, ApiError> {
    let status = if lodgement.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::try_from(format!("{DECLARATIONS_PATH}/{}", lodgement.id))
        .map_err(|_| ApiError::internal())?;
    Ok((status, [(header::LOCATION, location)], answer).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/declarations",
    tag = "declarations",
    summary = "List declarations",
    description = "Declarations visible to the caller, newest first, a page at a time. The search \
                   parameters (bill_of_lading, container, invoice, commodity_code, trader_name) \
                   combine with each other and the other filters (AND); a declarant or broker finds \
                   only the declarations it may see.",
    params(ListParams),
    responses(
        (status = 200, description = "One page", body = DeclarationPage),
        (status = 422, description = "A query parameter is wrong; the problem names it",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ListQuery(filter): ListQuery,
) -> Result<Json<DeclarationPage>, ApiError> {
    let rows = filter.limit.unwrap_or(clearance::PAGE_SIZE_DEFAULT);
    admission::check_trade_page(&caller, rows)?;
    let _slot = admission::admit_page(&state.jobs, &caller, rows, clearance::PAGE_SIZE_MAX)?;
    Ok(Json(state.clearance.list(&caller, &filter).await?))
}

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}",
    tag = "declarations",
    summary = "Read a declaration",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "The declaration", body = DeclarationView),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn declaration<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<DeclarationView>, ApiError> {
    Ok(Json(
        state.clearance.declaration(&caller, &id_or_number).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/events",
    tag = "declarations",
    summary = "A declaration's history",
    description = "Customs roles get every event of the declaration, oldest first (an `EventPage`). \
                   The trade gets where the declaration stands and its receipts (回执), built from an \
                   allow-list: never a targeting reason, score, officer or note (a `TradeEventPage`).",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "The events (customs) or the receipts (trade)", body = EventsAnswer),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<EventsAnswer>, ApiError> {
    Ok(Json(state.clearance.events(&caller, &id_or_number).await?))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/amendments",
    tag = "declarations",
    summary = "Amend a declaration",
    description = "Replaces the document of an accepted declaration, with a reason. Once customs has acted \
                   on the declaration (selected, a task open, or assessed), the amendment is a request \
                   (修撤单) an officer approves or refuses: 202 with the request.",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = AmendmentRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The amended declaration", body = DeclarationView),
        (status = 202, description = "The amendment is requested: `{request, kind, declaration, status, reason}`", body = Object),
        (status = 403, description = "The role may not amend", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The declaration's state does not allow it, or it changed meanwhile",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn amend<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    Ok(modification(
        state
            .clearance
            .amend(&caller, &id_or_number, key.as_deref(), &body)
            .await?,
    ))
}

/// A change applied at once answers 200 with the declaration; a request, 202 with the request.
fn modification(outcome: clearance::Modification) -> Response {
    match outcome {
        clearance::Modification::Applied(view) => Json(*view).into_response(),
        clearance::Modification::Requested(request) => {
            (StatusCode::ACCEPTED, Json(request)).into_response()
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/cancellation",
    tag = "declarations",
    summary = "Cancel a declaration",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = CancellationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The cancelled declaration", body = DeclarationView),
        (status = 202, description = "The cancellation is requested (the declaration is under customs control): `{request, kind, declaration, status, reason}`", body = Object),
        (status = 403, description = "The role may not cancel", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The declaration's state does not allow it, or it changed meanwhile",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    Ok(modification(
        state
            .clearance
            .cancel(&caller, &id_or_number, key.as_deref(), &body)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/declarations/{id_or_number}/release",
    tag = "declarations",
    summary = "Release the goods",
    description = "For officers. The body (an optional note) may be left empty. Goods are not released \
                   while an import is not assessed (409 `not-assessed`), duty and taxes are neither paid \
                   (confirmed by the bank) nor guaranteed (409 `unpaid`) or an officer's task on the \
                   declaration is open (409 `open-tasks`).",
    params(
        ("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe"),
    ),
    request_body(content = Option<ReleaseRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The released declaration", body = DeclarationView),
        (status = 403, description = "The role may not release", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The declaration's state does not allow it, duty and taxes are \
            outstanding (`urn:opencustoms:problem:unpaid`, naming the amount), an officer's task on it is \
            open (`urn:opencustoms:problem:open-tasks`, naming the tasks' kinds), or it changed meanwhile",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn release<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<Json<DeclarationView>, ApiError> {
    Ok(Json(
        state
            .clearance
            .release(&caller, &id_or_number, key.as_deref(), &body)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "operations",
    summary = "Health",
    description = "Whether the server answers and can read its store. No authentication.",
    responses((status = 200, description = "Healthy", body = Health)),
)]
pub(crate) async fn health<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Health>, ApiError> {
    let read = match state.clearance.check_store().await {
        Ok(()) => state.clearance.store_schema_version().await,
        Err(error) => Err(error),
    };
    let schema_version = match read {
        Ok(version) => version,
        Err(error) => {
            tracing::warn!(%error, "the health probe cannot read the store");
            return Err(ApiError::unavailable());
        }
    };
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        store: "ok".into(),
    }))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Metrics",
    description = "Prometheus text exposition: requests by route, method and status, their latency, \
                   requests in progress and refusals by reason; lodgings by outcome; the store's write queue, \
                   group commits, commit time, files, free space and checkpoints; open and overdue tasks per \
                   office, lanes, rules, models and drift. Every family is described in docs/operations.md \
                   (Monitoring). With a metrics token configured, send it as 'Authorization: Bearer'; \
                   without one, only clients on the server's own machine (loopback) are answered, \
                   unless the metrics have a listener of their own (then 404 here).",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "The metrics token is missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No token configured and the client is not on this machine", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn metrics<S: Store>(
    State(state): State<AppState<S>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let access = &state.config.metrics_access;
    match &access.token {
        Some(token) => check_metrics_token(token, request.headers())?,
        None => {
            let peer = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip());
            // Fail-closed: a request whose peer is unknown is not known to be local.
            if !peer.is_some_and(|ip| ip.is_loopback()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "metrics-local-only",
                    "Metrics are answered on this machine only",
                    "no metrics token is configured, so /metrics answers only clients on the \
                     server's own machine; set [metrics] token or [metrics] listen"
                        .into(),
                    "未配置指标令牌，/metrics 仅响应本机客户端；请设置 [metrics] token 或 \
                     [metrics] listen"
                        .into(),
                ));
            }
        }
    }
    Ok(render_metrics(&state).await)
}

/// `/metrics` on its own listener (`metrics_router`): the token if one is configured, else open to
/// whoever reaches the address the operator chose.
pub(crate) async fn metrics_on_own_listener<S: Store>(
    State(state): State<AppState<S>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.metrics_access.token {
        check_metrics_token(token, &headers)?;
    }
    Ok(render_metrics(&state).await)
}

async fn render_metrics<S: Store>(state: &AppState<S>) -> Response {
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    (
        [(header::CONTENT_TYPE, content_type)],
        state
            .metrics
            .render(crate::monitoring::read_at_scrape(&state.clearance).await),
    )
        .into_response()
}

/// The bearer token of the request against the configured one, in time independent of where they
/// differ (a guesser learns nothing from how long a refusal takes).
fn check_metrics_token(expected: &str, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().as_bytes())
        .unwrap_or_default();
    let expected = expected.as_bytes();
    let differs = given.len() != expected.len()
        || given
            .iter()
            .zip(expected)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            != 0;
    if differs {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "metrics-token",
            "Metrics token required",
            "send the metrics token as 'Authorization: Bearer <token>'".into(),
            "请以“Authorization: Bearer <令牌>”提供指标令牌".into(),
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This API's description",
    description = "OpenAPI 3.1, generated from the code. No authentication.",
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
pub(crate) async fn openapi<S: Store>(State(state): State<AppState<S>>) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    (
        [(header::CONTENT_TYPE, content_type)],
        state.openapi_json.clone(),
    )
        .into_response()
}

pub(crate) async fn unknown_route() -> ApiError {
    ApiError::unknown_route()
}

#[utoipa::path(
    get,
    path = "/v1/audit/entries",
    tag = "audit",
    summary = "Read the record of the whole enforcement process",
    description = "The whole record, oldest first, each entry with its hashes. For auditors and \
        administrators. The embedded store keeps one chain: entries are in `seq` order and `after` \
        is a `seq`. The PostgreSQL store keeps several chains: entries of every chain are listed \
        in the order of their global number `row`, each with its `chain` and its `seq` in that \
        chain (its hashes chain on the previous `seq` of the same chain, so each chain verifies \
        alone), and `after` is a `row`. Either way pass `next_after` as `after` to read on: only \
        settled entries are listed (none with a lower number commits later), so paging neither \
        misses nor repeats an entry.",
    params(
        ("after" = Option<u64>, Query, description = "Only entries numbered after this: a `seq` with one chain, a `row` with several (default 0)"),
        ("limit" = Option<usize>, Query, description = "Entries per page, 1 to 1000 (default 100)"),
    ),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 403, description = "The role may not read the audit record", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn audit_entries<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: AuditQuery,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(clearance::Action::ReadAudit)?;
    let _slot =
        admission::admit_page(&state.jobs, &caller, query.limit, clearance::AUDIT_PAGE_MAX)?;
    Ok(Json(
        state
            .clearance
            .audit_entries(&caller, query.after, query.limit)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/audit/verification",
    tag = "audit",
    summary = "Verify the audit chain",
    description = "Recomputes every entry's hash and checks every signed checkpoint; names the first \
        entry found altered, deleted or reordered. For auditors and administrators.",
    responses(
        (status = 200, description = "The verdict (intact or the first fault)", body = AuditVerificationView),
        (status = 403, description = "The role may not read the audit record", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn audit_verification<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<AuditVerificationView>, ApiError> {
    Ok(Json(state.clearance.verify_audit(&caller).await?))
}
