//! The handlers of risk models (智能风险模型) over HTTP: labelled history imported, a model
//! trained (off the request workers: it runs for seconds), the registry read by customs roles, a
//! shadow model promoted by a second analyst, the active one rolled back, drift measured, and a
//! declaration's scores. Importing a model trained elsewhere and evaluating on a time split are
//! commands (`customs model import|evaluate`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::{Extension, Json};
use clearance::{Action, ClearanceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::admission::HeldJob;
use crate::assessing::parse_body;
use crate::extract::{
    Authenticated, DeclarationRef, DriftQuery, HistoryUpload, IdempotencyKey, JsonBody, ModelRef,
    TrainingJobRef,
};
use crate::problem::ApiError;

/// A registered model. Members: `id`; `status` (shadow: scored and recorded, not acting; active:
/// selects its inspection budget; retired); `source` (trained or imported); `author`;
/// `model_hash` (SHA-256 of the model, recorded with every score); `created_seq`, `promoted_by`,
/// `promoted_seq`, `ended_seq`; `summary` (label, training rows and positives, training period,
/// data hash, features, sources).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ModelView(Value);

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelList {
    /// In the order registered.
    #[schema(value_type = Vec<ModelView>)]
    models: Vec<Value>,
}

/// Why the active model is taken out of force.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollBackRequest {
    reason: String,
}

/// A drift report. Members: `model`, `declarations` and `items` scored, `score` (`psi`, `level`:
/// stable, watch from 0.1, alert from 0.25), `features` (each with its `psi` and `level`, largest
/// first), `alerts` (how many alerts).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct DriftView(Value);

/// A declaration's scores at acceptance. Members: `scores` (per model in force: `model`,
/// `status`, `model_hash`, `score` of the riskiest item, `item`, `threshold`) and `explanation`
/// (when the active model selected it: the `item` and the features that pushed the score,
/// `contributions` with `feature`, `en`, `zh`, `value`, `log_odds`), or `null` when it was not
/// scored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ScoresView(Value);

/// Sets its flag when dropped: with the future of the request that started a training.
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn model_refusal(error: ClearanceError) -> ApiError {
    match error {
        ClearanceError::NotFound => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "model-not-found",
            "Risk model not found",
            "there is no risk model with this id".into(),
            "没有此编号的风险模型".into(),
        ),
        other => other.into(),
    }
}

#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "targeting",
    summary = "The risk models",
    description = "For customs roles that read rules (never the trade).",
    responses(
        (status = 200, description = "Every registered model", body = ModelList),
        (status = 403, description = "The role may not read risk models", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn models<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<ModelList>, ApiError> {
    let models = state.clearance.risk_models(&caller).await?;
    Ok(Json(ModelList { models }))
}

#[utoipa::path(
    post,
    path = "/v1/models/{id}/promotion",
    tag = "targeting",
    summary = "Put a model in force",
    description = "For risk analysts other than the model's author (four eyes). The model in force until \
                   now is retired in the same transaction; from now on the promoted model selects the \
                   declarations it scores among the riskiest share of its training items.",
    params(("id" = String, Path, description = "The model's id, e.g. M-0001")),
    responses(
        (status = 200, description = "The model, active", body = ModelView),
        (status = 403, description = "The role may not manage models, or the caller is its author",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such model", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The model is active already", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn promote<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ModelRef(id): ModelRef,
) -> Result<Json<ModelView>, ApiError> {
    let model = state
        .clearance
        .promote_model(&caller, &id)
        .await
        .map_err(model_refusal)?;
    Ok(Json(ModelView(model)))
}

#[utoipa::path(
    post,
    path = "/v1/models/rollback",
    tag = "targeting",
    summary = "Take the active model out of force",
    description = "For risk analysts. The model it replaced, if any, is in force again.",
    request_body(content = RollBackRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Every model, after the roll-back", body = ModelList),
        (status = 403, description = "The role may not manage models", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No model is active, or the request has errors", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn roll_back<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Json<ModelList>, ApiError> {
    let request: RollBackRequest = parse_body(&caller, Action::ManageModels, &body)?;
    let models = state
        .clearance
        .roll_back_model(&caller, &request.reason)
        .await?;
    Ok(Json(ModelList { models }))
}

#[utoipa::path(
    get,
    path = "/v1/models/{id}/drift",
    tag = "targeting",
    summary = "A model's drift",
    description = "For customs roles that read rules. The newest import declarations (`sample`, 1 to 5,000, \
                   default 1,000) scored by the model, and the population stability index of the score and \
                   of each feature against its training items.",
    params(
        ("id" = String, Path, description = "The model's id"),
        ("sample" = Option<usize>, Query, minimum = 1, maximum = 5000, description = "Declarations scored"),
    ),
    responses(
        (status = 200, description = "The drift report", body = DriftView),
        (status = 403, description = "The role may not read risk models", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such model", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is wrong", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn drift<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ModelRef(id): ModelRef,
    query: DriftQuery,
) -> Result<Json<DriftView>, ApiError> {
    let drift = state
        .clearance
        .model_drift(&caller, &id, query.sample)
        .await
        .map_err(model_refusal)?;
    Ok(Json(DriftView(drift)))
}

#[utoipa::path(
    get,
    path = "/v1/declarations/{id_or_number}/scores",
    tag = "targeting",
    summary = "A declaration's risk scores",
    description = "For customs roles that read rules (never the trade): the scores of the models in force \
                   at its acceptance, and the active model's reasons when it selected it.",
    params(("id_or_number" = String, Path, description = "The declaration's id or its 18-digit number")),
    responses(
        (status = 200, description = "The scores, or null when the declaration was not scored", body = ScoresView),
        (status = 403, description = "The role may not read risk models", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such declaration is visible to the caller", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn scores<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    DeclarationRef(id_or_number): DeclarationRef,
) -> Result<Json<ScoresView>, ApiError> {
    let scores = state.clearance.scores(&caller, &id_or_number).await?;
    Ok(Json(ScoresView(scores.unwrap_or(Value::Null))))
}

/// A history batch as imported. Members: `id`, `format`, `label`, `digest` (SHA-256 of the file),
/// `rows`, `labelled`, `first_date`, `last_date`, `imported_by`, `imported_seq`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct HistoryBatchView(Value);

#[utoipa::path(
    post,
    path = "/v1/history",
    tag = "targeting",
    summary = "Import labelled history",
    description = "For risk analysts. The body is the file itself (`format=kcs`: the Korea Customs Service \
                   columns, CSV), at most 256 MiB. Every problem is named by line and column; the same file \
                   twice is refused.",
    params(
        ("format" = String, Query, description = "kcs"),
        ("label" = String, Query, description = "A name for the batch"),
    ),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 201, description = "Imported", body = HistoryBatchView),
        (status = 403, description = "The role may not manage risk models", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "The file is too large", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The file has errors (each named by line and column), or was \
            imported before", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn import_history<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    upload: HistoryUpload,
) -> Result<(axum::http::StatusCode, Json<HistoryBatchView>), ApiError> {
    let batch = state
        .clearance
        .import_history(&caller, &upload.format, &upload.label, &upload.text)
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(HistoryBatchView(batch)),
    ))
}

/// A training job. Members: `job` (e.g. TJ-0001); `status` (queued: waiting for whoever runs
/// jobs; registered: `model` names the model, in shadow; failed: `reason` says why, in English
/// and Chinese); `label`; `until`; `requested_by` and `requested_by_name`; `requested_at_ms`,
/// `finished_at_ms`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct TrainingJobView(Value);

/// What to train on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainingRequest {
    /// A name for the model.
    label: String,
    /// The last day of the labelled items trained on, YYYY-MM-DD (default: every one).
    until: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/models/training-jobs",
    tag = "targeting",
    summary = "Ask for a risk model to be trained",
    description = "For risk analysts. As `POST /v1/models/training`, but answered at once with a job: the \
                   model is trained by whoever runs the platform's heavy jobs (a `customs worker` process \
                   in scale-out, the server itself on the embedded store), as the analyst who asked, and \
                   registered in shadow once however often the job is delivered. Follow it with \
                   `GET /v1/models/training-jobs/{id}`. At most 8 jobs wait at once \
                   (`TRAINING_JOBS_WAITING_MAX`): the next request is answered 503 until one is done. A retry with the same Idempotency-Key answers \
                   the first job.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key is safe")),
    request_body(content = TrainingRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "The job, queued (or as it stands, for a retry)", body = TrainingJobView),
        (status = 403, description = "The role may not manage risk models", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The request has errors", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn request_training<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(body): JsonBody,
) -> Result<(axum::http::StatusCode, Json<TrainingJobView>), ApiError> {
    let request: TrainingRequest = parse_body(&caller, Action::ManageModels, &body)?;
    let until = training_until(request.until.as_deref())?;
    let job = state
        .clearance
        .request_training(&caller, &request.label, until, key.as_deref())
        .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(TrainingJobView(job))))
}

#[utoipa::path(
    get,
    path = "/v1/models/training-jobs/{id}",
    tag = "targeting",
    summary = "Follow a training job",
    description = "For customs roles that read targeting rules: queued, registered (with the model) or \
                   failed (with the reason).",
    params(("id" = String, Path, description = "The job's id, e.g. TJ-0001")),
    responses(
        (status = 200, description = "The job", body = TrainingJobView),
        (status = 403, description = "The role may not read targeting", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn training_job<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TrainingJobRef(id): TrainingJobRef,
) -> Result<Json<TrainingJobView>, ApiError> {
    Ok(Json(TrainingJobView(
        state.clearance.training_job(&caller, &id).await?,
    )))
}

/// The `until` of a training request: a day as YYYY-MM-DD.
fn training_until(raw: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(&[domain::FieldError::invalid_format(
                "until",
                "a date as YYYY-MM-DD",
                "YYYY-MM-DD 格式的日期",
            )])
        })
}

#[utoipa::path(
    post,
    path = "/v1/models/training",
    tag = "targeting",
    summary = "Train a risk model",
    description = "For risk analysts. Trains on every labelled item (the imported history and the platform's \
                   closed checks) up to `until`, and registers the model in shadow: scored and recorded with \
                   every import declaration, not acting until another analyst promotes it.",
    request_body(content = TrainingRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The model, in shadow", body = ModelView),
        (status = 403, description = "The role may not manage risk models", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, or there is nothing labelled to train on",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn train<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Extension(held): Extension<HeldJob>,
    JsonBody(body): JsonBody,
) -> Result<(axum::http::StatusCode, Json<ModelView>), ApiError> {
    let request: TrainingRequest = parse_body(&caller, Action::ManageModels, &body)?;
    let until = training_until(request.until.as_deref())?;
    // Training is CPU-bound for seconds: a blocking thread, not a request worker. The thread
    // holds the training slot until it ends, and the request's future, when it is dropped (the
    // request timed out, or the client went away), tells it to stop after the current round:
    // a training nobody waits for neither runs on nor frees its slot while it still runs.
    let slot = held.take();
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_when_dropped = StopWhenDropped(stop.clone());
    let clearance = state.clearance.clone();
    let handle = tokio::runtime::Handle::current();
    let model = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        handle.block_on(clearance.train_model_until_stopped(&caller, &request.label, until, &stop))
    })
    .await
    .map_err(|e| {
        let stopped = std::io::Error::other(format!("training stopped: {e}"));
        ApiError::from(ClearanceError::Internal(stopped.into()))
    })??;
    Ok((axum::http::StatusCode::CREATED, Json(ModelView(model))))
}
