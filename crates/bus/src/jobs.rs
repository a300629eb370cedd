//! Work from the bus: a durable JetStream consumer of one action's events, for `customs worker`.
//!
//! A job is the event that asks for it (e.g. `release.rolled_back` asks for the declarations
//! assessed with the withdrawn release to be reassessed). The consumer is durable and acks
//! explicitly: a job is delivered again until the worker says it is done, after a crash or a
//! failure too, and one job is in hand at a time per consumer (`max_ack_pending` 1), so workers
//! sharing the consumer's name share the work. Acting on a job must therefore be idempotent;
//! the worker's jobs are (each of their records carries an idempotency key derived from the job).

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use futures_util::StreamExt;

use crate::{BusError, BusEvent, JetStreamConfig, JetStreamPublisher, subject_for};

/// How long JetStream waits for a job's acknowledgement before delivering it again. A job that
/// takes longer says it is still at work ([`Job::in_progress`]) every [`JOB_PROGRESS_EVERY`].
pub const JOB_ACK_WAIT: Duration = Duration::from_secs(120);
/// How often a worker tells JetStream it is still at work on a job: well within
/// [`JOB_ACK_WAIT`], so that a live worker's job is never handed to another.
pub const JOB_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// How long a job that failed for a passing reason (the store unreachable) waits before it is
/// delivered again.
pub const JOB_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A durable consumer of one action's events.
pub struct JobConsumer {
    messages: pull::Stream,
}

/// One delivered job: the event, and its acknowledgement.
pub struct Job {
    pub event: BusEvent,
    message: async_nats::jetstream::Message,
}

impl JobConsumer {
    /// The consumer `durable` of the events of `action` in the stream of `config` (created, with
    /// the stream, if missing). A new consumer starts at the stream's first message: a job asked
    /// for while no worker ran is still done.
    pub async fn open(
        config: JetStreamConfig,
        durable: &str,
        action: &str,
    ) -> Result<JobConsumer, BusError> {
        let subject = subject_for(&config.subject_prefix, action);
        let stream = JetStreamPublisher::new(config).stream().await?;
        let consumer: PullConsumer = stream
            .get_or_create_consumer(
                durable,
                pull::Config {
                    durable_name: Some(durable.to_owned()),
                    description: Some(format!("customs worker: {action}")),
                    filter_subject: subject.clone(),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: JOB_ACK_WAIT,
                    max_ack_pending: 1,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::Unreachable(format!("the consumer {durable}: {e}")))?;
        let info = consumer.cached_info();
        if info.config.filter_subject != subject {
            return Err(BusError::Inconsistent(format!(
                "the consumer {durable} exists for {}, not {subject}",
                info.config.filter_subject
            )));
        }
        let messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::Unreachable(format!("the consumer {durable}: {e}")))?;
        Ok(JobConsumer { messages })
    }

    /// The next job, waiting for one; `None` when the connection is closed for good. A
    /// delivery that is not a bus event is refused for good ([`AckKind::Term`]) and reported.
    pub async fn next(&mut self) -> Option<Result<Job, BusError>> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(e) => return Some(Err(BusError::Unreachable(format!("receiving a job: {e}")))),
        };
        match BusEvent::from_json(&message.payload) {
            Ok(event) => Some(Ok(Job { event, message })),
            Err(error) => {
                let _ = message.ack_with(AckKind::Term).await;
                Some(Err(error))
            }
        }
    }
}

impl Job {
    /// The job is done: it is not delivered again.
    pub async fn done(&self) -> Result<(), BusError> {
        self.message
            .double_ack()
            .await
            .map_err(|e| BusError::NotAcknowledged(format!("acknowledging a job: {e}")))
    }

    /// The job cannot be done (refused for good): it is not delivered again.
    pub async fn refuse(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| BusError::NotAcknowledged(format!("refusing a job: {e}")))
    }

    /// The job failed for a passing reason: delivered again after `delay`.
    pub async fn retry_after(&self, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| BusError::NotAcknowledged(format!("returning a job: {e}")))
    }

    /// Still at work: the acknowledgement wait starts again.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| BusError::NotAcknowledged(format!("extending a job: {e}")))
    }
}
