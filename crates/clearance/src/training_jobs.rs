//! Training as a job (issue 13): an analyst asks for a model to be trained
//! (`risk_model.training_requested` on the job's subject `training-job:{id}`) and is answered at
//! once; whoever runs the platform's heavy jobs trains it: a `customs worker` process in
//! scale-out (a JetStream consumer), `serve` itself on the embedded store (the in-process bus).
//! The request's answer is not held open for the seconds or minutes training takes, and an
//! instance answering requests does not spend its cores on it.
//!
//! A job is done once: the model is registered under the job's id as its idempotency key, so a
//! job delivered again (a worker killed after training, before JetStream heard it was done)
//! answers the model registered first. A job that cannot succeed (nothing labelled to train on,
//! the analyst who asked disabled since) is recorded as failed with the reason, by the system.

use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use domain::FieldError;
use serde_json::{Value, json};
use store::{Principal, Projection, Store};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::{Clearance, request_digest};

/// The event that asks for a model to be trained: the job.
pub const TRAINING_REQUESTED_ACTION: &str = "risk_model.training_requested";
/// The event that says a job will never succeed, and why.
pub const TRAINING_FAILED_ACTION: &str = "risk_model.training_failed";
/// The idempotency scope of the events a job's work records (its model's registration, keyed
/// by the job's id; its failure, keyed by the id and `/failed`).
pub(crate) const JOB_SCOPE: &str = "training-job";
const JOB_COUNTER: &str = "id:training_job";
/// Training jobs that may wait at once: a request finding the jobs before it all waiting is
/// refused (503: ask again once one is done). Each job trains for seconds to minutes, one after
/// another per worker; without a bound, a script could queue hours of training.
pub const TRAINING_JOBS_WAITING_MAX: u64 = 8;
const SUBJECT_PREFIX: &str = "training-job:";

/// What a job came to.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingOutcome {
    /// The model registered for the job (in shadow), as `GET /v1/models/{id}` shows it.
    Registered(Value),
    /// The job can never succeed: the reason, recorded on the job.
    Failed(String),
}

fn subject(job: &str) -> String {
    format!("{SUBJECT_PREFIX}{job}")
}

impl<S: Store> Clearance<S> {
    /// Records a request to train a model on every labelled item up to `until` (as
    /// [`Clearance::train_model`] does at once) and answers the job, queued. A retry with the
    /// same `idempotency_key` answers the first job.
    pub async fn request_training(
        &self,
        caller: &Caller,
        label: &str,
        until: Option<NaiveDate>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageModels)?;
        let label = domain::numbers::parse_text("label", label, domain::limits::REASON_LENGTH_MAX)
            .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        if let Some(key) = idempotency_key
            && let Some(first) = self
                .store
                .event_by_idempotency(caller.user_id(), key)
                .await?
        {
            return self
                .training_job_view(first.subject.trim_start_matches(SUBJECT_PREFIX))
                .await;
        }
        // Reserving none reads the next number: a refused request takes no number.
        let next = self.store.reserve_serials(JOB_COUNTER, 0).await?;
        self.room_for_a_training_job(next).await?;
        let serial = self.store.reserve_serials(JOB_COUNTER, 1).await?;
        let job = format!("TJ-{serial:04}");
        let payload = json!({
            "job": job,
            "label": label,
            "until": until.map(|d| d.to_string()),
            "requested_by": caller.user_id(),
        });
        let mut append = self.reference_append(
            caller,
            subject(&job),
            TRAINING_REQUESTED_ACTION,
            payload,
            Projection::Nothing,
        );
        if let Some(key) = idempotency_key {
            append.idempotency_key = key.to_owned();
        }
        match self.store.append(append).await? {
            store::AppendOutcome::Appended { .. } => self.training_job_view(&job).await,
            store::AppendOutcome::Duplicate { first, .. } => {
                self.training_job_view(first.subject.trim_start_matches(SUBJECT_PREFIX))
                    .await
            }
            other => Err(crate::refusal(other)),
        }
    }

    /// Refuses job `serial` when the [`TRAINING_JOBS_WAITING_MAX`] jobs numbered before it are
    /// all still waiting (a number reserved by a request whose append then failed is no job:
    /// not waiting). Reads at most that many jobs. Two requests at the same moment may both
    /// pass: the bound is the limit plus the requests racing for it.
    async fn room_for_a_training_job(&self, serial: u64) -> Result<(), ClearanceError> {
        let earlier = serial.saturating_sub(1);
        if earlier < TRAINING_JOBS_WAITING_MAX {
            return Ok(());
        }
        for n in (earlier + 1 - TRAINING_JOBS_WAITING_MAX..=earlier).rev() {
            let job = format!("TJ-{n:04}");
            let events = self.store.events(&subject(&job)).await?;
            let waiting = !events.is_empty()
                && events.iter().all(|e| e.action == TRAINING_REQUESTED_ACTION)
                && self
                    .store
                    .event_by_idempotency(JOB_SCOPE, &job)
                    .await?
                    .is_none();
            if !waiting {
                return Ok(());
            }
        }
        Err(ClearanceError::Unavailable(format!(
            "{TRAINING_JOBS_WAITING_MAX} training jobs are waiting (up to TJ-{earlier:04}): ask \
             again once one is done / 已有 {TRAINING_JOBS_WAITING_MAX} 个训练任务在等待（至 \
             TJ-{earlier:04}）：请待其中之一完成后再提交"
        )))
    }

    /// A training job as analysts follow it: queued, registered (with its model) or failed
    /// (with the reason).
    pub async fn training_job(&self, caller: &Caller, job: &str) -> Result<Value, ClearanceError> {
        caller.require(Action::ReadRules)?;
        self.training_job_view(job).await
    }

    async fn training_job_view(&self, job: &str) -> Result<Value, ClearanceError> {
        let events = self.store.events(&subject(job)).await?;
        let requested = events
            .iter()
            .find(|e| e.action == TRAINING_REQUESTED_ACTION)
            .ok_or(ClearanceError::NotFound)?;
        let request: Value = serde_json::from_str(&requested.payload)
            .map_err(|e| ClearanceError::Internal(e.into()))?;
        let requested_by = request["requested_by"].as_str().unwrap_or_default();
        let requested_by_name = self.store.user(requested_by).await?.map(|u| u.name);
        let mut view = json!({
            "job": job,
            "label": request["label"],
            "until": request["until"],
            "requested_by": requested_by,
            "requested_by_name": requested_by_name,
            "requested_at_ms": requested.recorded_at_ms,
            "status": "queued",
        });
        if let Some(first) = self.store.event_by_idempotency(JOB_SCOPE, job).await? {
            view["status"] = json!("registered");
            view["model"] = json!(first.subject.trim_start_matches("model:"));
            view["finished_at_ms"] = json!(first.recorded_at_ms);
        } else if let Some(failed) = events.iter().find(|e| e.action == TRAINING_FAILED_ACTION) {
            let failure: Value = serde_json::from_str(&failed.payload)
                .map_err(|e| ClearanceError::Internal(e.into()))?;
            view["status"] = json!("failed");
            view["reason"] = failure["reason"].clone();
            view["finished_at_ms"] = json!(failed.recorded_at_ms);
        }
        Ok(view)
    }

    /// Does the job: trains and registers its model as the analyst who asked (who must still be
    /// enabled and allowed to manage models), or records why it never can. Done before, it
    /// answers what it came to then. An `Err` is a passing failure (the store unavailable,
    /// training stopped): the job is to be tried again.
    pub async fn run_training_job(
        &self,
        job: &str,
        stop: &AtomicBool,
    ) -> Result<TrainingOutcome, ClearanceError> {
        let view = self.training_job_view(job).await?;
        match view["status"].as_str() {
            Some("registered") => {
                let model = view["model"].as_str().unwrap_or_default();
                return Ok(TrainingOutcome::Registered(self.model(model).await?));
            }
            Some("failed") => {
                return Ok(TrainingOutcome::Failed(
                    view["reason"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            _ => {}
        }
        let until = match view["until"].as_str() {
            None => None,
            Some(day) => Some(
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|e| ClearanceError::Internal(e.into()))?,
            ),
        };
        let requested_by = view["requested_by"].as_str().unwrap_or_default();
        let analyst = self
            .store
            .user(requested_by)
            .await?
            .filter(|user| user.disabled_seq.is_none())
            .and_then(|user| {
                Caller::from_principal(Principal {
                    user,
                    token: None,
                    enterprise: None,
                    principals: Vec::new(),
                })
            })
            .filter(|caller| caller.require(Action::ManageModels).is_ok());
        let Some(analyst) = analyst else {
            return self
                .fail_training_job(
                    job,
                    "the analyst who asked for it is disabled or may no longer manage models / \
                     提出请求的分析员已停用或已无权管理风险模型",
                )
                .await;
        };
        let label = view["label"].as_str().unwrap_or_default();
        match self
            .train_and_register(&analyst, label, until, stop, Some(job))
            .await
        {
            Ok(model) => Ok(TrainingOutcome::Registered(model)),
            Err(ClearanceError::Invalid(errors)) => {
                self.fail_training_job(job, &field_errors(&errors)).await
            }
            Err(other) => Err(other),
        }
    }

    /// Records (once) that the job can never succeed, by the system.
    async fn fail_training_job(
        &self,
        job: &str,
        reason: &str,
    ) -> Result<TrainingOutcome, ClearanceError> {
        let payload = json!({ "job": job, "reason": reason }).to_string();
        let append = store::Append {
            actor: crate::admin::system_actor(),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: subject(job),
            action: TRAINING_FAILED_ACTION.to_owned(),
            idempotency_scope: JOB_SCOPE.to_owned(),
            idempotency_key: format!("{job}/failed"),
            request_digest: request_digest(TRAINING_FAILED_ACTION, payload.as_bytes()),
            payload,
            expected_version: None,
            projection: Projection::Nothing,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            store::AppendOutcome::Appended { .. } | store::AppendOutcome::Duplicate { .. } => {
                Ok(TrainingOutcome::Failed(reason.to_owned()))
            }
            other => Err(crate::refusal(other)),
        }
    }
}

fn field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {} / {}", e.path, e.message_en, e.message_zh))
        .collect::<Vec<_>>()
        .join("; ")
}
