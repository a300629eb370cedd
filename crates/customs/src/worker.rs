//! `customs worker`: heavy stages of the pipeline run off the request path, as jobs taken from
//! the event bus (issue 13). The jobs today:
//! - when a tariff release or an exchange-rate table is rolled back (`release.rolled_back`), the
//!   open import declarations assessed with it are reassessed with what is in force now
//!   (`clearance::roll_back`), recorded as the officer account whose token is `worker.token`;
//! - when an analyst asks for a model to be trained (`risk_model.training_requested`,
//!   `POST /v1/models/training-jobs`), it is trained and registered in shadow as that analyst
//!   (`clearance::training_jobs`);
//! - the drift check of the active model, every `DRIFT_CHECK_INTERVAL`, by whichever process
//!   holds the drift lock among the instances and the workers.
//!
//! In scale-out (PostgreSQL and NATS JetStream) the worker is a process of its own: one durable
//! JetStream consumer per kind of job, shared by every worker, so each job is done by one worker
//! at a time and delivered again until it is done. On the embedded store the same jobs run
//! inside `serve`, fed by the in-process bus ([`start_in_process`]). Either way a job done twice
//! records nothing twice: each reassessment carries an idempotency key made of the release and
//! the declaration, a model the id of its training job.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clearance::roll_back::BulkReassessment;
use clearance::training_jobs::{TRAINING_REQUESTED_ACTION, TrainingOutcome};
use clearance::{Action, Caller, Clearance, ClearanceConfig, ClearanceError};
use store::Store;

use crate::config::Config;
use crate::datadir::DataDir;

/// The durable consumer of roll-backs every worker of a stream shares: one job in hand at a time.
pub const ROLL_BACK_CONSUMER: &str = "customs-worker-roll-back";
/// The event that asks for the reassessments after a roll-back.
pub const ROLL_BACK_ACTION: &str = "release.rolled_back";
/// The durable consumer of training jobs every worker of a stream shares.
pub const TRAINING_CONSUMER: &str = "customs-worker-training";

/// A kind of job taken from the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    RollBack,
    Training,
}

impl JobKind {
    const ALL: [JobKind; 2] = [JobKind::RollBack, JobKind::Training];

    fn consumer(self) -> &'static str {
        match self {
            JobKind::RollBack => ROLL_BACK_CONSUMER,
            JobKind::Training => TRAINING_CONSUMER,
        }
    }

    /// The event that asks for the job.
    fn action(self) -> &'static str {
        match self {
            JobKind::RollBack => ROLL_BACK_ACTION,
            JobKind::Training => TRAINING_REQUESTED_ACTION,
        }
    }

    fn of(action: &str) -> Option<JobKind> {
        JobKind::ALL
            .into_iter()
            .find(|kind| kind.action() == action)
    }
}
/// The wait before the worker opens its consumer again after the bus went away.
const REOPEN_AFTER: Duration = Duration::from_secs(5);
/// How often the in-process job is tried when the store fails for a passing reason, before it
/// is left to officers (and logged as such).
pub const IN_PROCESS_ATTEMPTS_MAX: u32 = 5;

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The PostgreSQL database the instances serve (postgres://user@host:5432/database).
    /// [env: CUSTOMS_DATABASE] [file: serve.database]
    #[arg(long)]
    pub database: Option<String>,
    /// NATS JetStream, where the instances publish their events (nats://host:4222).
    /// [env: CUSTOMS_BUS] [file: bus.url]
    #[arg(long)]
    pub bus: Option<String>,
}

impl WorkerArgs {
    /// The flags that set configuration keys, by key.
    pub fn flags(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("serve.database", self.database.clone()),
            ("bus.url", self.bus.clone()),
        ]
    }
}

/// Why a job was not done.
#[derive(Debug)]
enum JobError {
    /// It may succeed later (the store unreachable, a concurrent change, the worker's token
    /// refused until an administrator mends it): the job is kept and tried again.
    Passing(String),
    /// It never will (the release is in force again, the event names no release).
    Refused(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Passing(why) => write!(f, "{why} (tried again later)"),
            JobError::Refused(why) => write!(f, "{why} (not tried again)"),
        }
    }
}

pub async fn run(data: &DataDir, config: ClearanceConfig, settings: &Config) -> anyhow::Result<()> {
    let _log = crate::serve::init_logging(&settings.log.format, &settings.log.filter);
    let Some(database) = &settings.serve.database else {
        bail!(
            "customs worker works on the PostgreSQL database the instances serve: set \
             serve.database (--database, CUSTOMS_DATABASE) / 请设置 serve.database（PostgreSQL 数据库）"
        );
    };
    let Some(url) = &settings.bus.url else {
        bail!(
            "customs worker takes its jobs from NATS JetStream: set bus.url (--bus, CUSTOMS_BUS) \
             / 请设置 bus.url（NATS JetStream）"
        );
    };
    let Some(token) = settings.worker.token.clone() else {
        bail!(
            "customs worker records its work as an officer: set worker.token \
             (CUSTOMS_WORKER_TOKEN) to the bearer token of an officer account / 请设置 \
             worker.token（关员账户的令牌）"
        );
    };
    let clearance = data.open_clearance_postgres(database, config).await?;
    // Refused at start rather than at the first job.
    let officer = acting_officer(&clearance, &token)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let jetstream = bus::JetStreamConfig {
        url: url.clone(),
        stream: settings.bus.stream.clone(),
        subject_prefix: settings.bus.subject_prefix.clone(),
    };
    tracing::info!(
        stream = %jetstream.stream,
        consumers = %format!("{ROLL_BACK_CONSUMER}, {TRAINING_CONSUMER}"),
        officer = %officer.principal.user.name,
        "customs worker: reassessing after roll-backs, training models, checking drift"
    );
    eprintln!(
        "customs worker: reassessing after roll-backs as {} and training models (stream {}, \
         consumers {ROLL_BACK_CONSUMER}, {TRAINING_CONSUMER}); checking drift when it holds the \
         drift lock",
        officer.principal.user.name, jetstream.stream
    );
    // The drift check: one process among the instances and the workers holds its lock.
    let drift_leader = store_postgres::Leadership::for_url(database, store_postgres::DRIFT_LEADER)?;
    let drift = crate::serve::spawn_drift_monitor(clearance.clone(), Some(drift_leader.watch()));
    tokio::select! {
        _ = crate::serve::shutdown_signal() => {}
        _ = async {
            tokio::join!(
                consume(&clearance, jetstream.clone(), &token, JobKind::RollBack),
                consume(&clearance, jetstream.clone(), &token, JobKind::Training),
            )
        } => {}
    }
    drift.abort();
    drop(drift_leader);
    clearance.store().close();
    tracing::info!("stopped");
    Ok(())
}

/// The officer the worker acts as: the token's user, who must be allowed to reassess.
async fn acting_officer<S: Store>(
    clearance: &Clearance<S>,
    token: &str,
) -> Result<Caller, JobError> {
    let caller = clearance.authenticate(token).await.map_err(|e| {
        JobError::Passing(format!(
            "worker.token does not authenticate: {e} / worker.token 无法认证"
        ))
    })?;
    caller.require(Action::Reassess).map_err(|_| {
        JobError::Passing(format!(
            "worker.token is {}'s, who may not reassess: the worker acts as an officer / \
             worker.token 的用户无权重新计征",
            caller.principal.user.name
        ))
    })?;
    Ok(caller)
}

/// Takes jobs of one kind from JetStream for ever, opening the consumer again whenever the bus
/// goes away.
async fn consume<S: Store + 'static>(
    clearance: &Arc<Clearance<S>>,
    jetstream: bus::JetStreamConfig,
    token: &str,
    kind: JobKind,
) {
    loop {
        match bus::JobConsumer::open(jetstream.clone(), kind.consumer(), kind.action()).await {
            Ok(mut consumer) => {
                while let Some(delivered) = consumer.next().await {
                    match delivered {
                        Ok(job) => work_on(clearance, token, &job, kind).await,
                        Err(error @ bus::BusError::Unreachable(_)) => {
                            tracing::warn!(%error, "customs worker: the bus");
                            break;
                        }
                        Err(error) => tracing::error!(%error, "customs worker: a delivery refused"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "customs worker: the bus"),
        }
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// One delivered job, acknowledged by its outcome; JetStream hears that the worker is still at
/// work while it runs.
async fn work_on<S: Store + 'static>(
    clearance: &Arc<Clearance<S>>,
    token: &str,
    job: &bus::Job,
    kind: JobKind,
) {
    let work = do_job(clearance, token, &job.event, kind);
    tokio::pin!(work);
    let every = bus::JOB_PROGRESS_EVERY;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = ticks.tick() => {
                if let Err(error) = job.in_progress().await {
                    tracing::warn!(%error, "customs worker");
                }
            }
        }
    };
    let acknowledged = match &outcome {
        Ok(()) => job.done().await,
        Err(JobError::Passing(_)) => job.retry_after(bus::JOB_RETRY_AFTER).await,
        Err(JobError::Refused(_)) => job.refuse().await,
    };
    if let Err(error) = acknowledged {
        // Not acknowledged: JetStream delivers the job again, which records nothing twice.
        tracing::warn!(%error, "customs worker");
    }
}

/// The job an event asks for, done and reported.
async fn do_job<S: Store + 'static>(
    clearance: &Arc<Clearance<S>>,
    token: &str,
    event: &bus::BusEvent,
    kind: JobKind,
) -> Result<(), JobError> {
    match kind {
        JobKind::RollBack => {
            let outcome = reassess_after(clearance, token, event).await;
            report(event, &outcome);
            outcome.map(|_| ())
        }
        JobKind::Training => {
            let outcome = train(clearance, event).await;
            match &outcome {
                Ok(TrainingOutcome::Registered(model)) => tracing::info!(
                    model = %model["id"],
                    seq = event.seq,
                    "a training job's model registered, in shadow"
                ),
                Ok(TrainingOutcome::Failed(reason)) => {
                    tracing::warn!(reason, seq = event.seq, "a training job failed for good")
                }
                Err(error) => tracing::warn!(%error, seq = event.seq, "a training job"),
            }
            outcome.map(|_| ())
        }
    }
}

/// A training job: trained on a blocking thread (it is CPU-bound for seconds or minutes), told
/// to stop after its current round if the worker stops waiting for it.
async fn train<S: Store + 'static>(
    clearance: &Arc<Clearance<S>>,
    event: &bus::BusEvent,
) -> Result<TrainingOutcome, JobError> {
    let payload: serde_json::Value = serde_json::from_str(&event.payload)
        .map_err(|e| JobError::Refused(format!("the event's payload is not JSON: {e}")))?;
    let Some(job) = payload["job"].as_str().map(str::to_owned) else {
        return Err(JobError::Refused("the event names no training job".into()));
    };
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_when_dropped = StopWhenDropped(stop.clone());
    let (clearance, handle) = (clearance.clone(), tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || handle.block_on(clearance.run_training_job(&job, &stop)))
        .await
        .map_err(|e| JobError::Passing(format!("training stopped: {e}")))?
        .map_err(|error| match error {
            ClearanceError::NotFound => JobError::Refused("no such training job".into()),
            other => JobError::Passing(other.to_string()),
        })
}

/// Tells a training to stop when the future waiting for it is dropped (the worker stopping).
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The job an event asks for: the reassessments after a roll-back.
async fn reassess_after<S: Store>(
    clearance: &Clearance<S>,
    token: &str,
    event: &bus::BusEvent,
) -> Result<BulkReassessment, JobError> {
    let payload: serde_json::Value = serde_json::from_str(&event.payload)
        .map_err(|e| JobError::Refused(format!("the event's payload is not JSON: {e}")))?;
    let Some(release) = payload["release"].as_str() else {
        return Err(JobError::Refused("the event names no release".into()));
    };
    let officer = acting_officer(clearance, token).await?;
    let position = format!("event {} of chain {}", event.seq, event.chain);
    clearance
        .reassess_after_roll_back(&officer, release, &position)
        .await
        .map_err(|error| match error {
            ClearanceError::Unavailable(_)
            | ClearanceError::Internal(_)
            | ClearanceError::Conflict => JobError::Passing(error.to_string()),
            ClearanceError::Invalid(errors) => JobError::Refused(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message_en))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => JobError::Refused(other.to_string()),
        })
}

fn report(event: &bus::BusEvent, outcome: &Result<BulkReassessment, JobError>) {
    match outcome {
        Ok(done) => tracing::info!(
            release = %done.release,
            kind = %done.kind,
            examined = done.examined,
            reassessed = done.reassessed,
            already_reassessed = done.already_reassessed,
            failed = done.failed,
            failures = ?done.failures,
            seq = event.seq,
            "reassessed after a roll-back"
        ),
        Err(error) => tracing::warn!(%error, seq = event.seq, "a roll-back's reassessment"),
    }
}

/// The same jobs inside `serve` on the embedded store, fed by the in-process bus: training jobs
/// always (as the analyst who asked), roll-backs when `worker.token` is set. A job that fails
/// for a passing reason is tried [`IN_PROCESS_ATTEMPTS_MAX`] times; a roll-back missed because
/// the job fell too far behind the bus is logged, and left to officers
/// (`POST /v1/declarations/{id}/assessments`). Training jobs are queued to a task of their own,
/// one at a time, so that a long training does not hold up the bus.
pub fn start_in_process<S: Store + 'static>(
    clearance: Arc<Clearance<S>>,
    in_process: &bus::InProcessBus,
    token: Option<String>,
) -> tokio::task::JoinHandle<()> {
    let mut events = in_process.subscribe();
    match &token {
        Some(_) => tracing::info!(
            "roll-backs are followed by reassessment, and training jobs run, in this process"
        ),
        None => tracing::info!(
            "training jobs run in this process; roll-backs are not followed by reassessment \
             (worker.token is not set)"
        ),
    }
    let (training, mut trainings) = tokio::sync::mpsc::unbounded_channel::<Arc<bus::BusEvent>>();
    let trainer = clearance.clone();
    let token = token.unwrap_or_default();
    tokio::spawn(async move {
        let training_task = tokio::spawn(async move {
            while let Some(event) = trainings.recv().await {
                in_process_attempts(&trainer, "", &event, JobKind::Training).await;
            }
        });
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::error!(
                        missed,
                        "the in-process worker fell behind the bus and missed events: a \
                         roll-back or a training job among them is not done"
                    );
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            match JobKind::of(&event.action) {
                Some(JobKind::Training) => {
                    let _ = training.send(event);
                }
                Some(JobKind::RollBack) if !token.is_empty() => {
                    in_process_attempts(&clearance, &token, &event, JobKind::RollBack).await;
                }
                Some(JobKind::RollBack) | None => {}
            }
        }
        drop(training);
        let _ = training_task.await;
    })
}

/// One job in this process, tried again for a passing failure.
async fn in_process_attempts<S: Store + 'static>(
    clearance: &Arc<Clearance<S>>,
    token: &str,
    event: &bus::BusEvent,
    kind: JobKind,
) {
    for attempt in 1..=IN_PROCESS_ATTEMPTS_MAX {
        let outcome = do_job(clearance, token, event, kind).await;
        if !matches!(outcome, Err(JobError::Passing(_))) {
            break;
        }
        if attempt < IN_PROCESS_ATTEMPTS_MAX {
            tokio::time::sleep(bus::JOB_RETRY_AFTER).await;
        }
    }
}
