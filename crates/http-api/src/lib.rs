//! The HTTP API (v1): the only crate that knows about HTTP. It exposes the clearance service as
//! JSON over HTTP and adds what a public door needs: authentication, per-client rate limits,
//! body and time limits, problem responses, request ids, metrics and a generated description.
//!
//! A request, outside in:
//! connection (`serve`: connection caps, header-read and idle timeout) → request id → span
//! → metrics → problem rendering → panic catcher → timeout → routing → (declaration routes)
//! guard: rate limits, then the token → the user's requests in progress → (large or heavy
//! routes) gate: the role, then a heavy-job slot → handler and its extractors (the body is read
//! here, only now) → clearance service.
//!
//! Invariants:
//! - Every error answer is `application/problem+json` with the request id (see `problem`).
//! - Handlers never block: they await the service and nothing else.
//! - Nothing here decides who may do what: the service does (`clearance::Action::allowed`).
//!
//! Serve the router with [`serve`], which caps connections (in all and per address), times out
//! slow request heads and idle connections, and gives each request its peer address, so that
//! callers without a token are rate-limited by address rather than all together.

mod admission;
mod assessing;
mod batches;
mod ceb;
mod config;
mod connections;
mod console;
mod edifact;
pub use console::{
    CONSOLE_FINDING_PARTS_MAX, CONSOLE_FINDING_PHOTOS_MAX, CONSOLE_RELEASE_UPLOAD_BYTES_MAX,
    CONSOLE_UPLOAD_DECLARATIONS_MAX, CONSOLE_UPLOAD_RESULT_TTL_SECONDS,
    CONSOLE_UPLOAD_RESULTS_KEPT,
};
mod enterprises;
mod extract;
mod guard;
mod health;
mod models;
mod modifications;
mod monitoring;
mod openapi;
mod payments;
mod problem;
mod receipts;
mod reference;
mod routes;
mod statistics;
mod targeting;
mod tasks;
mod telemetry;
mod time_zone;
mod tokens;
mod wco;

#[cfg(test)]
mod tests;
mod tls;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use clearance::{Action, Clearance};
use store::Store;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;

pub use admission::{
    ATTACHMENT_UPLOADS_AT_ONCE, AUDIT_VERIFICATIONS_AT_ONCE, BATCH_LODGINGS_AT_ONCE,
    BULK_REASSESSMENTS_AT_ONCE, BUSY_RETRY_AFTER_SECS, CUSTOMS_REQUESTS_IN_PROGRESS_MAX,
    DRIFT_REPORTS_AT_ONCE, DRY_RUNS_AT_ONCE, HEAVY_JOBS_PER_CALLER_MAX, HISTORY_IMPORTS_AT_ONCE,
    LARGE_PAGE_ROWS, LARGE_PAGES_AT_ONCE, RELEASE_IMPORTS_AT_ONCE, RULE_TESTS_AT_ONCE,
    STATISTICS_AT_ONCE, TRADE_PAGE_ROWS_MAX, TRADE_REQUESTS_IN_PROGRESS_MAX, TRAININGS_AT_ONCE,
};
pub use batches::{
    BATCH_BYTES_MAX, BATCH_ID_LENGTH_MAX, BATCH_RESULTS_TTL_SECONDS, BATCH_ROWS_MAX, BATCHES_KEPT,
    CSV_COLUMNS,
};
pub use config::{
    ApiConfig, BODY_LIMIT_BYTES_DEFAULT, BURST_PER_CLIENT_DEFAULT, MetricsAccess,
    RATE_LIMITED_CLIENTS_MAX, RELEASE_BODY_LIMIT_BYTES_DEFAULT, REQUEST_ID_LENGTH_MAX,
    REQUEST_TIMEOUT_DEFAULT, REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT,
};
pub use connections::{
    CONNECTIONS_MAX_DEFAULT, CONNECTIONS_PER_ADDRESS_MAX_DEFAULT, ConnectionLimits,
    HEADER_READ_TIMEOUT_DEFAULT, SHUTDOWN_GRACE_DEFAULT, WRITE_STALL_TIMEOUT_DEFAULT, serve,
    serve_tls,
};
pub use guard::AUTHENTICATED_MEMORY;
pub use health::{READINESS_WRITER_TIMEOUT, READY_DISK_FREE_BYTES_MIN};
pub use openapi::ApiDoc;
pub use problem::{FIELD_ERRORS_LISTED_MAX, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX};
pub use time_zone::{
    DISPLAY_TIME_ZONE_DEFAULT, display_offset_default, parse_time_zone, shown_time,
};
pub use tls::{
    CERTIFICATE_POLL_INTERVAL, TLS_HANDSHAKE_TIMEOUT, Tls, TlsError, TlsFiles, ring_provider,
};

use crate::admission::{Gate, HeavyJob, HeavyJobs};
use crate::assessing::RELEASES_PATH;
use crate::guard::ClientLimiter;
use crate::routes::DECLARATIONS_PATH;
use crate::targeting::{RULES_PATH, WATCH_LIST_PATH};
use crate::tasks::{DUTY_PATH, TASKS_PATH};
use crate::telemetry::Metrics;

/// What every handler can reach.
pub(crate) struct AppState<S> {
    clearance: Arc<Clearance<S>>,
    config: Arc<ApiConfig>,
    limiter: Arc<ClientLimiter>,
    /// The slots of heavy jobs (see `admission`).
    jobs: Arc<HeavyJobs>,
    metrics: Arc<Metrics>,
    /// Rendered once: the document only changes with the code.
    openapi_json: Bytes,
}

// Written by hand: a derive would require `S: Clone`, and the store is shared through the `Arc`.
impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            clearance: self.clearance.clone(),
            config: self.config.clone(),
            limiter: self.limiter.clone(),
            jobs: self.jobs.clone(),
            metrics: self.metrics.clone(),
            openapi_json: self.openapi_json.clone(),
        }
    }
}

/// The whole API. Panics if `config.requests_per_second_per_client` or `config.burst_per_client`
/// is 0 (a limiter that admits nothing is a configuration mistake, found at start-up).
pub fn router<S: Store>(clearance: Arc<Clearance<S>>, config: ApiConfig) -> Router {
    routers(clearance, config).api
}

/// The API, and `/metrics` alone for a listener of its own.
pub struct Routers {
    pub api: Router,
    /// `/metrics` (and nothing else), for `config.metrics_access.own_listener`; it shares the
    /// API's metrics. Its token, if one is configured, is required there too.
    pub metrics: Router,
}

/// The API and the metrics' own router (see [`Routers`]); panics as [`router`] does.
pub fn routers<S: Store>(clearance: Arc<Clearance<S>>, config: ApiConfig) -> Routers {
    let openapi_json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    let state = AppState {
        clearance,
        limiter: Arc::new(ClientLimiter::new(&config, RATE_LIMITED_CLIENTS_MAX)),
        config: Arc::new(config),
        jobs: Arc::new(HeavyJobs::new()),
        metrics: Arc::new(Metrics::new()),
        openapi_json: Bytes::from(openapi_json),
    };
    // The gate of a route whose body is large or whose work is heavy: the role, then a slot,
    // before the body is read (see `admission`).
    let gate = |action: Action, job: Option<HeavyJob>| {
        from_fn_with_state(
            Gate {
                action,
                job,
                jobs: state.jobs.clone(),
            },
            admission::gate,
        )
    };
    let declarations = Router::new()
        .route(
            DECLARATIONS_PATH,
            post(routes::lodge::<S>).get(routes::list::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}",
            get(routes::declaration::<S>),
        )
        .route(
            "/v1/declaration-batches/{batch_id}",
            post(batches::lodge_batch::<S>)
                .route_layer(gate(Action::Lodge, Some(HeavyJob::BatchLodging)))
                .get(batches::batch_results::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/events",
            get(routes::events::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/amendments",
            post(routes::amend::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/cancellation",
            post(routes::cancel::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/release",
            post(routes::release::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/hold",
            post(tasks::place_hold::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/assessments",
            get(assessing::assessments::<S>).post(assessing::reassess::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/selection",
            get(targeting::selection::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/payments",
            get(payments::payments::<S>).post(payments::record_payment::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/assessments/manual",
            post(modifications::assess_manually::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/modification-requests",
            get(modifications::requests::<S>),
        )
        .route(
            "/v1/declarations/{id_or_number}/modification-requests/{request}/decision",
            post(modifications::decide::<S>),
        )
        .route(
            "/v1/payment-connectors",
            get(payments::connectors::<S>).post(payments::register_connector::<S>),
        )
        .route(
            "/v1/payment-connectors/{id}/withdrawal",
            post(payments::withdraw_connector::<S>),
        )
        .route("/v1/estimates", post(assessing::estimate::<S>))
        .route("/v1/ceb/messages", post(ceb::receive::<S>))
        .route(
            "/v1/ceb/inventory-lists/{id}",
            get(ceb::inventory_list::<S>),
        )
        .route("/v1/ceb/tax-bills/{id}", get(ceb::tax_bill::<S>))
        .route("/v1/ceb/enterprises", post(ceb::register_enterprise::<S>))
        .route(
            "/v1/ceb/enterprises/{code}/certificates",
            post(ceb::add_certificate::<S>),
        )
        .route("/v1/ceb/guarantees", post(ceb::register_guarantee::<S>))
        .route("/v1/ceb/guarantees/{assure_code}", get(ceb::guarantee::<S>))
        .route(
            "/v1/ceb/guarantees/{assure_code}/top-ups",
            post(ceb::top_up_guarantee::<S>),
        )
        .route(
            RELEASES_PATH,
            // The one route whose body may be larger than `body_limit_bytes`.
            post(assessing::import_release::<S>)
                .layer(DefaultBodyLimit::max(state.config.release_body_limit_bytes))
                .route_layer(gate(Action::ManageReleases, Some(HeavyJob::ReleaseImport)))
                .get(assessing::releases::<S>),
        )
        .route(
            "/v1/releases/{id}/dry-run",
            get(assessing::dry_run::<S>)
                .route_layer(gate(Action::ManageReleases, Some(HeavyJob::DryRun))),
        )
        .route(
            "/v1/releases/{id}/declarations",
            get(assessing::affected_declarations::<S>)
                .route_layer(gate(Action::Reassess, Some(HeavyJob::BulkReassessment))),
        )
        .route(
            "/v1/releases/{id}/reassessments",
            post(assessing::bulk_reassess::<S>)
                .route_layer(gate(Action::Reassess, Some(HeavyJob::BulkReassessment))),
        )
        .route("/v1/reassessments", get(assessing::bulk_reassessments::<S>))
        .route(
            "/v1/reassessments/{job}",
            get(assessing::bulk_reassessment::<S>),
        )
        .route(
            "/v1/releases/{id}/activation",
            post(assessing::activate_release::<S>),
        )
        .route(
            "/v1/releases/rollback",
            post(assessing::roll_back_release::<S>),
        )
        .route(
            RULES_PATH,
            post(targeting::propose_rule::<S>).get(targeting::rules::<S>),
        )
        .route(
            "/v1/rules/test",
            post(targeting::test_rule::<S>)
                .route_layer(gate(Action::WriteRules, Some(HeavyJob::RuleTest))),
        )
        // A back-test evaluates a rule like a test, over a period: it takes a test's place.
        .route(
            "/v1/rules/backtest",
            post(targeting::backtest_rule::<S>)
                .route_layer(gate(Action::WriteRules, Some(HeavyJob::RuleTest))),
        )
        .route("/v1/rules/reference", get(targeting::rule_reference::<S>))
        .route(
            "/v1/rules/{id}/versions/{version}/approval",
            post(targeting::approve_rule::<S>),
        )
        .route(
            "/v1/rules/{id}/versions/{version}/retirement",
            post(targeting::retire_rule::<S>),
        )
        .route(
            WATCH_LIST_PATH,
            post(targeting::add_watch_entry::<S>).get(targeting::watch_entries::<S>),
        )
        .route(
            "/v1/watch-list/{id}/removal",
            post(targeting::remove_watch_entry::<S>),
        )
        .route(
            "/v1/watch-list/{id}/approval",
            post(targeting::approve_watch_entry::<S>),
        )
        .route(
            "/v1/enterprises/{credit_code}/credit",
            post(enterprises::set_credit_level::<S>),
        )
        .route(
            "/v1/enterprises/{credit_code}/brokers/{broker}/authorisation",
            post(tokens::authorise_broker::<S>),
        )
        .route(
            "/v1/enterprises/{credit_code}/brokers/{broker}/withdrawal",
            post(tokens::withdraw_broker::<S>),
        )
        .route(
            "/v1/tokens",
            get(tokens::tokens::<S>).post(tokens::issue_token::<S>),
        )
        .route(
            "/v1/tokens/{id}/revocation",
            post(tokens::revoke_token::<S>),
        )
        .route(
            "/v1/users/{name}/tokens/revocation",
            post(tokens::revoke_user_tokens::<S>),
        )
        .route(
            "/v1/users/{name}/disablement",
            post(tokens::disable_user::<S>),
        )
        .route(TASKS_PATH, get(tasks::tasks::<S>))
        .route("/v1/tasks/{id}/finding", post(tasks::record_finding::<S>))
        .route(
            "/v1/tasks/{id}/reassignment",
            post(tasks::reassign_task::<S>),
        )
        .route(
            "/v1/tasks/{id}/attachments",
            post(tasks::add_attachment::<S>)
                .layer(DefaultBodyLimit::max(
                    clearance::attachments::ATTACHMENT_BYTES_MAX,
                ))
                .route_layer(gate(
                    Action::RecordFindings,
                    Some(HeavyJob::AttachmentUpload),
                ))
                .get(tasks::attachments::<S>),
        )
        .route(
            "/v1/tasks/{id}/attachments/{digest}",
            get(tasks::attachment_content::<S>),
        )
        .route("/v1/directory/names", get(tasks::names::<S>))
        .route(
            DUTY_PATH,
            get(tasks::duty_roster::<S>)
                .put(tasks::go_on_duty::<S>)
                .delete(tasks::go_off_duty::<S>),
        )
        .route(
            "/v1/history",
            post(models::import_history::<S>)
                .layer(DefaultBodyLimit::max(clearance::models::HISTORY_BYTES_MAX))
                .route_layer(gate(Action::ManageModels, Some(HeavyJob::HistoryImport))),
        )
        .route(
            "/v1/models/training",
            post(models::train::<S>)
                .route_layer(gate(Action::ManageModels, Some(HeavyJob::Training))),
        )
        .route(
            "/v1/models/training-jobs",
            post(models::request_training::<S>),
        )
        .route(
            "/v1/models/training-jobs/{id}",
            get(models::training_job::<S>),
        )
        .route("/v1/models", get(models::models::<S>))
        .route("/v1/models/rollback", post(models::roll_back::<S>))
        .route("/v1/models/{id}/promotion", post(models::promote::<S>))
        .route(
            "/v1/models/{id}/drift",
            get(models::drift::<S>)
                .route_layer(gate(Action::ReadRules, Some(HeavyJob::DriftReport))),
        )
        .route(
            "/v1/declarations/{id_or_number}/scores",
            get(models::scores::<S>),
        )
        .route("/v1/reference/{list}", get(reference::reference_list::<S>))
        .route(
            "/v1/statistics/release-times",
            get(statistics::release_times::<S>)
                .route_layer(gate(Action::ReadStatistics, Some(HeavyJob::Statistics))),
        )
        .route("/v1/audit/entries", get(routes::audit_entries::<S>))
        .route("/v1/receipts", get(receipts::receipts::<S>))
        .route(
            "/v1/webhook",
            post(receipts::register::<S>)
                .get(receipts::webhook::<S>)
                .delete(receipts::delete::<S>),
        )
        .route("/v1/webhook/replay", post(receipts::replay::<S>))
        .route("/v1/webhook/dead-letters", get(receipts::dead_letters::<S>))
        .route(
            "/v1/webhook/dead-letters/{id}/redelivery",
            post(receipts::redeliver_dead_letter::<S>),
        )
        .route(
            "/v1/audit/verification",
            get(routes::audit_verification::<S>)
                .route_layer(gate(Action::ReadAudit, Some(HeavyJob::AuditVerification))),
        )
        // Inside the guard (route layers added later wrap those added before).
        .route_layer(from_fn_with_state(
            Arc::new(admission::InProgress::new(&state.config)),
            admission::limit_in_progress,
        ))
        .route_layer(from_fn_with_state(state.clone(), guard::guard::<S>));
    let open = Router::new()
        // A bank's confirmation is authenticated by its connector's signature, not a token.
        .route(
            "/v1/payment-confirmations",
            post(payments::confirm_payment::<S>),
        )
        .route("/openapi.json", get(routes::openapi::<S>))
        .route_layer(from_fn_with_state(state.clone(), guard::open_guard::<S>));
    let open = if state.config.metrics_access.own_listener {
        open
    } else {
        // Not rate-limited with the open routes: its own check (a token, or loopback only)
        // admits only the operator's scraper.
        open.route("/metrics", get(routes::metrics::<S>))
    };
    // The probes answer whatever other clients send: they are charged to no budget, so that a
    // flood (of bogus tokens, say, from the address of the balancer or of the probe) cannot
    // make a healthy server look dead. Each costs one read of the store; the connection caps
    // bound how many run at once.
    let probes = Router::new()
        .route("/v1/health", get(routes::health::<S>))
        .route("/v1/health/live", get(health::live))
        .route("/v1/health/ready", get(health::ready::<S>));
    let metrics_only = Router::new()
        .route("/metrics", get(routes::metrics_on_own_listener::<S>))
        .fallback(routes::unknown_route)
        .with_state(state.clone());
    let console = console::routes::<S>();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json"));
    let (config, metrics) = (state.config.clone(), state.metrics.clone());
    let app = Router::new()
        .merge(declarations)
        .merge(open)
        .merge(probes)
        .merge(console)
        .merge(docs)
        .fallback(routes::unknown_route)
        .with_state(state);
    Routers {
        api: with_transport_layers(app, &config, metrics.clone()),
        metrics: with_transport_layers(metrics_only, &config, metrics),
    }
}

/// The layers every route and the fallback share; separate from `router` so that tests can wrap
/// a route that panics or sleeps.
fn with_transport_layers(app: Router, config: &ApiConfig, metrics: Arc<Metrics>) -> Router {
    let layers = ServiceBuilder::new()
        .layer(from_fn(telemetry::drop_unusable_request_id))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(from_fn_with_state(metrics, telemetry::record_request))
        .layer(from_fn(problem::render_problems))
        .layer(CatchPanicLayer::custom(problem::panic_response))
        // 503 rather than 408: whether the client or the server was slow, the answer is the same,
        // retry later, which the idempotency key makes safe.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes));
    app.layer(layers)
}
