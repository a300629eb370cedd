//! `customs worker`: heavy stages of the pipeline run off the request path, as jobs taken from
//! the event bus (issue 13). The job today: when a tariff release or an exchange-rate table is
//! rolled back (`release.rolled_back`), the open import declarations assessed with it are
//! reassessed with what is in force now (`clearance::roll_back`), recorded as the officer
//! account whose token is `worker.token`.
//!
//! In scale-out (PostgreSQL and NATS JetStream) the worker is a process of its own: a durable
//! JetStream consumer shared by every worker, so each job is done by one worker at a time and
//! delivered again until it is done. On the embedded store the same job runs inside `serve`,
//! fed by the in-process bus ([`start_in_process`]). Either way a job done twice records
//! nothing twice: each reassessment carries an idempotency key made of the release and the
//! declaration.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clearance::roll_back::BulkReassessment;
use clearance::{Action, Caller, Clearance, ClearanceConfig, ClearanceError};
use store::Store;

use crate::config::Config;
use crate::datadir::DataDir;

/// The durable consumer every worker of a stream shares: one job in hand at a time.
pub const ROLL_BACK_CONSUMER: &str = "customs-worker-roll-back";
/// The event that asks for the job.
pub const ROLL_BACK_ACTION: &str = "release.rolled_back";
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
        consumer = ROLL_BACK_CONSUMER,
        officer = %officer.principal.user.name,
        "customs worker: reassessing after roll-backs"
    );
    eprintln!(
        "customs worker: reassessing after roll-backs (stream {}, consumer {ROLL_BACK_CONSUMER}) \
         as {}",
        jetstream.stream, officer.principal.user.name
    );
    tokio::select! {
        _ = crate::serve::shutdown_signal() => {}
        () = consume(&clearance, jetstream, &token) => {}
    }
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

/// Takes jobs from JetStream for ever, opening the consumer again whenever the bus goes away.
async fn consume<S: Store>(clearance: &Clearance<S>, jetstream: bus::JetStreamConfig, token: &str) {
    loop {
        match bus::JobConsumer::open(jetstream.clone(), ROLL_BACK_CONSUMER, ROLL_BACK_ACTION).await
        {
            Ok(mut consumer) => {
                while let Some(delivered) = consumer.next().await {
                    match delivered {
                        Ok(job) => work_on(clearance, token, &job).await,
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
async fn work_on<S: Store>(clearance: &Clearance<S>, token: &str, job: &bus::Job) {
    let work = reassess_after(clearance, token, &job.event);
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
        Ok(_) => job.done().await,
        Err(JobError::Passing(_)) => job.retry_after(bus::JOB_RETRY_AFTER).await,
        Err(JobError::Refused(_)) => job.refuse().await,
    };
    report(&job.event, &outcome);
    if let Err(error) = acknowledged {
        // Not acknowledged: JetStream delivers the job again, which records nothing twice.
        tracing::warn!(%error, "customs worker");
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

/// The same job inside `serve` on the embedded store, fed by the in-process bus, when
/// `worker.token` is set. A job that fails for a passing reason is tried
/// [`IN_PROCESS_ATTEMPTS_MAX`] times; a roll-back missed because the job fell too far behind
/// the bus is logged, and left to officers (`POST /v1/declarations/{id}/assessments`).
pub fn start_in_process<S: Store>(
    clearance: Arc<Clearance<S>>,
    in_process: &bus::InProcessBus,
    token: Option<String>,
) -> Option<tokio::task::JoinHandle<()>> {
    let token = token?;
    let mut events = in_process.subscribe();
    tracing::info!("roll-backs are followed by reassessment in this process (worker.token)");
    Some(tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::error!(
                        missed,
                        "the in-process worker fell behind the bus and missed events: a \
                         roll-back among them is not followed by reassessment"
                    );
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if event.action != ROLL_BACK_ACTION {
                continue;
            }
            for attempt in 1..=IN_PROCESS_ATTEMPTS_MAX {
                let outcome = reassess_after(&clearance, &token, &event).await;
                report(&event, &outcome);
                if !matches!(outcome, Err(JobError::Passing(_))) {
                    break;
                }
                if attempt < IN_PROCESS_ATTEMPTS_MAX {
                    tokio::time::sleep(bus::JOB_RETRY_AFTER).await;
                }
            }
        }
    }))
}
