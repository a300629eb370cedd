//! NATS JetStream: the scale-out bus.
//!
//! Where the relay resumes is read from the stream itself, not kept elsewhere: the last message
//! in the stream carries the seq of the last event JetStream accepted ([`HEADER_SEQ`]) and, for
//! a store of several chains, the relay's cursor in every chain after it ([`HEADER_CURSORS`]). A durable
//! cursor kept beside the stream could disagree with it (written before or after the publish it
//! records); the stream's own last message cannot. A publish whose acknowledgement was lost is
//! then either in the stream (and the relay resumes after it) or not (and it is published again).
//!
//! Order: every message is published with `Nats-Expected-Last-Sequence`, the stream sequence the
//! relay knows to be last, so JetStream accepts a message only right after its predecessor;
//! a message refused or lost makes every later one in the same batch refused too, and the relay
//! resumes from the stream. The stream therefore holds the chain's events in seq order, each
//! once. `Nats-Msg-Id = <chain>:<seq>` adds JetStream's deduplication within
//! [`DUPLICATE_WINDOW`] for a second relay racing the first (two `serve`s started by mistake).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use tokio::sync::Mutex;

use crate::{BusError, BusEvent, PublishOutcome, Publisher, Resume, subject_for};

/// The stream's name unless configured.
pub const STREAM_NAME_DEFAULT: &str = "CUSTOMS_EVENTS";
/// The subjects' prefix unless configured: `customs.events.<action>`.
pub const SUBJECT_PREFIX_DEFAULT: &str = "customs.events";
/// How long JetStream remembers a message id to drop a republish. The relay itself never
/// republishes an accepted message (it resumes from the stream); the window covers a second
/// relay's late copy, which arrives within seconds, so two minutes (JetStream's own default)
/// is ample and keeps the server's id table small.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long a connection attempt may take before the relay backs off and tries again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the relay waits for JetStream to acknowledge a message (or answer a request).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Header: the event's seq in its chain.
pub const HEADER_SEQ: &str = "Customs-Seq";
/// Header: the event's action.
pub const HEADER_ACTION: &str = "Customs-Action";
/// Header: the chain id.
pub const HEADER_CHAIN: &str = "Customs-Chain";
/// Header: after this message, the last seq published of every chain of the store, chain 0
/// first, comma-separated (`12,0,7`). A message without it (a stream written before chains were
/// partitioned) stands for one chain at its [`HEADER_SEQ`].
pub const HEADER_CURSORS: &str = "Customs-Cursors";

/// Where and under which names to publish.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    /// `nats://host:port` (or `tls://`).
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
}

impl JetStreamConfig {
    /// The default stream and subjects on the server at `url`.
    pub fn new(url: &str) -> JetStreamConfig {
        JetStreamConfig {
            url: url.to_owned(),
            stream: STREAM_NAME_DEFAULT.to_owned(),
            subject_prefix: SUBJECT_PREFIX_DEFAULT.to_owned(),
        }
    }

    /// The stream's subjects: everything under the prefix.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// Publishes to a JetStream stream, creating it if missing.
pub struct JetStreamPublisher {
    config: JetStreamConfig,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Connected once; the client reconnects by itself after that.
    context: Option<jetstream::Context>,
    /// The stream sequence of the last message, as last read or acknowledged; `None` until
    /// [`Publisher::resume`] read it, and again after any failure.
    stream_last: Option<u64>,
    /// The relay's cursor in each chain as of the stream's last message.
    cursors: Vec<u64>,
}

impl JetStreamPublisher {
    /// A publisher for `config`; it connects on first use, so a server that is down at start is
    /// retried by the relay like any other outage.
    pub fn new(config: JetStreamConfig) -> JetStreamPublisher {
        JetStreamPublisher {
            config,
            state: Mutex::new(State::default()),
        }
    }

    pub fn config(&self) -> &JetStreamConfig {
        &self.config
    }

    async fn context(&self, state: &mut State) -> Result<jetstream::Context, BusError> {
        if let Some(context) = &state.context {
            return Ok(context.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(ACK_TIMEOUT))
            .connect(self.config.url.as_str())
            .await
            .map_err(|e| BusError::Unreachable(format!("NATS at {}: {e}", self.config.url)))?;
        let context = jetstream::new(client);
        state.context = Some(context.clone());
        Ok(context)
    }

    /// The stream, created if missing (file storage, the subjects under the prefix, the
    /// documented duplicate window); an existing stream must take those subjects.
    pub async fn stream(&self) -> Result<stream::Stream, BusError> {
        let mut state = self.state.lock().await;
        let context = self.context(&mut state).await?;
        self.ensure_stream(&context).await
    }

    async fn ensure_stream(
        &self,
        context: &jetstream::Context,
    ) -> Result<stream::Stream, BusError> {
        let subjects = self.config.stream_subjects();
        let stream = context
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![subjects.clone()],
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                BusError::Unreachable(format!("the stream {}: {e}", self.config.stream))
            })?;
        if !stream.cached_info().config.subjects.contains(&subjects) {
            return Err(BusError::Inconsistent(format!(
                "the stream {} exists without the subjects {subjects}",
                self.config.stream
            )));
        }
        Ok(stream)
    }
}

fn header(message: &jetstream::message::StreamMessage, name: &str) -> Option<String> {
    message.headers.get(name).map(|v| v.as_str().to_owned())
}

#[async_trait::async_trait]
impl Publisher for JetStreamPublisher {
    async fn resume(&self) -> Result<Resume, BusError> {
        let mut state = self.state.lock().await;
        state.stream_last = None;
        state.cursors.clear();
        let context = self.context(&mut state).await?;
        let mut stream = self.ensure_stream(&context).await?;
        let info = stream
            .info()
            .await
            .map_err(|e| BusError::Unreachable(format!("the stream's state: {e}")))?;
        let last = info.state.last_sequence;
        if last == 0 {
            state.stream_last = Some(0);
            return Ok(Resume::After {
                seq: 0,
                chain: None,
                cursors: Vec::new(),
            });
        }
        let message = stream.get_raw_message(last).await.map_err(|e| {
            BusError::Inconsistent(format!(
                "the stream's last message ({last}) cannot be read, so where to resume is \
                 unknown (were its messages removed by age?): {e}"
            ))
        })?;
        let seq = header(&message, HEADER_SEQ)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| {
                BusError::Inconsistent(format!(
                    "the stream's last message ({last}, subject {}) has no {HEADER_SEQ} header: \
                     something other than the relay publishes under {}",
                    message.subject,
                    self.config.stream_subjects()
                ))
            })?;
        let cursors = match header(&message, HEADER_CURSORS) {
            Some(text) => text
                .split(',')
                .map(|s| s.parse::<u64>())
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|_| {
                    BusError::Inconsistent(format!(
                        "the stream's last message ({last}) has a {HEADER_CURSORS} header that \
                         is not seqs: {text:?}"
                    ))
                })?,
            None => vec![seq],
        };
        state.stream_last = Some(last);
        state.cursors = cursors.clone();
        Ok(Resume::After {
            seq,
            chain: header(&message, HEADER_CHAIN),
            cursors,
        })
    }

    async fn publish(&self, events: &[BusEvent]) -> PublishOutcome {
        let mut state = self.state.lock().await;
        let (Some(context), Some(stream_last)) = (state.context.clone(), state.stream_last) else {
            return PublishOutcome {
                acked: 0,
                error: Some(BusError::NotAcknowledged(
                    "published before resuming from the stream".to_owned(),
                )),
            };
        };
        // From here on the stream's last sequence is known again only through acknowledgements.
        state.stream_last = None;
        let mut cursors = std::mem::take(&mut state.cursors);
        let mut pending = Vec::with_capacity(events.len());
        let mut error = None;
        for (i, event) in events.iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                event.message_id().as_str(),
            );
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
                (stream_last + i as u64).to_string().as_str(),
            );
            headers.insert(HEADER_SEQ, event.seq.to_string().as_str());
            headers.insert(HEADER_ACTION, event.action.as_str());
            headers.insert(HEADER_CHAIN, event.chain.as_str());
            let index = usize::from(event.chain_index);
            if cursors.len() <= index {
                cursors.resize(index + 1, 0);
            }
            cursors[index] = event.seq;
            let cursors_text: Vec<String> = cursors.iter().map(u64::to_string).collect();
            headers.insert(HEADER_CURSORS, cursors_text.join(",").as_str());
            let subject = subject_for(&self.config.subject_prefix, &event.action);
            match context
                .publish_with_headers(subject, headers, event.to_json().into())
                .await
            {
                Ok(ack) => pending.push(ack),
                Err(e) => {
                    error = Some(BusError::Unreachable(format!(
                        "publishing event {}: {e}",
                        event.seq
                    )));
                    break;
                }
            }
        }
        let mut acked = 0;
        for (i, ack) in pending.into_iter().enumerate() {
            let expected = stream_last + i as u64 + 1;
            match ack.await {
                Ok(ack) if ack.sequence == expected && !ack.duplicate => acked += 1,
                Ok(ack) if ack.duplicate => {
                    error = Some(BusError::NotAcknowledged(format!(
                        "event {} is already in the stream (stream sequence {}): another relay \
                         published it",
                        events[i].seq, ack.sequence
                    )));
                    break;
                }
                Ok(ack) => {
                    error = Some(BusError::NotAcknowledged(format!(
                        "event {} was stored at stream sequence {} where {expected} was due",
                        events[i].seq, ack.sequence
                    )));
                    break;
                }
                Err(e) => {
                    error = Some(BusError::NotAcknowledged(format!(
                        "event {}: {e}",
                        events[i].seq
                    )));
                    break;
                }
            }
        }
        if error.is_none() {
            state.stream_last = Some(stream_last + acked as u64);
            state.cursors = cursors;
        }
        PublishOutcome { acked, error }
    }
}
