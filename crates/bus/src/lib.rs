//! The event bus: every committed event of the store, published in seq order within its chain.
//!
//! The store's `events` table is the transactional outbox: an event commits in the same
//! transaction as its projections, with a gap-free `seq` in its audit chain (SQLite keeps one
//! chain, PostgreSQL several, an event in the chain of its subject). So no outbox row is
//! written beside it; a [`relay`] follows each chain after its own cursor
//! (`Store::chain_entries`), hands each event to a [`Publisher`] and advances that chain's
//! cursor only past what the publisher acknowledged. Two publishers:
//!
//! - [`InProcessBus`], the embedded default: a tokio broadcast channel inside `customs serve`,
//!   no NATS; subscribers see the events committed while they listen.
//! - [`JetStreamPublisher`]: NATS JetStream, one subject per action
//!   (`customs.events.declaration.accepted`), each message carrying `Nats-Msg-Id =
//!   <chain>:<seq>` so JetStream drops a republish within its duplicate window, and the relay's
//!   cursors (one per chain, in the header [`HEADER_CURSORS`]) recovered on start from the
//!   stream's own last message.
//!
//! Consumers deduplicate by seq within each chain ([`DedupConsumer`], one per chain): with
//! JetStream's deduplication this makes delivery effectively once.

mod consumer;
mod in_process;
mod jetstream;
mod jobs;
pub mod relay;
#[doc(hidden)]
pub mod testing;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use consumer::{DedupConsumer, Delivery, OutOfOrder};
pub use in_process::{IN_PROCESS_CAPACITY, InProcessBus};
pub use jetstream::{
    ACK_TIMEOUT, CONNECT_TIMEOUT, DUPLICATE_WINDOW, HEADER_ACTION, HEADER_CHAIN, HEADER_CURSORS,
    HEADER_SEQ, JetStreamConfig, JetStreamPublisher, STREAM_NAME_DEFAULT, SUBJECT_PREFIX_DEFAULT,
};
pub use jobs::{JOB_ACK_WAIT, JOB_PROGRESS_EVERY, JOB_RETRY_AFTER, Job, JobConsumer};
pub use relay::{Relay, RelayHandle, RelayOptions, RelayStatus};

/// One committed event as the bus carries it: what a consumer needs to act on it, not the
/// store's bookkeeping (the projection, which may hold a password hash, and the request digest
/// stay in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    /// The audit chain the event belongs to (the first 16 hex digits of its first entry's hash):
    /// a seq means something only within its chain.
    pub chain: String,
    /// The event's position in the chain: 1-based, gap-free, the consumers' deduplication key.
    pub seq: u64,
    /// The chain's number in the store (0 for a store of one chain): where the relay keeps its
    /// cursor. Not on the wire; `chain` names the chain there.
    pub chain_index: u16,
    /// The aggregate, e.g. a declaration id.
    pub subject: String,
    /// The event's name, e.g. `declaration.accepted`.
    pub action: String,
    pub actor: String,
    pub role: String,
    /// Milliseconds since the Unix epoch, as recorded.
    pub recorded_at_ms: i64,
    /// The event body: canonical JSON, byte for byte as the chain covers it.
    pub payload: String,
}

/// The message body on the wire (JSON). The payload is embedded as JSON, unparsed, so its bytes
/// (decimal amounts among them) reach the consumer exactly.
#[derive(Serialize)]
struct WireEvent<'a> {
    chain: &'a str,
    seq: u64,
    subject: &'a str,
    action: &'a str,
    actor: &'a str,
    role: &'a str,
    recorded_at_ms: i64,
    /// RFC 3339, UTC, for people reading the stream.
    recorded_at: String,
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct WireEventOwned {
    chain: String,
    seq: u64,
    subject: String,
    action: String,
    actor: String,
    role: String,
    recorded_at_ms: i64,
    payload: Box<RawValue>,
}

impl BusEvent {
    /// The bus's form of a stored chain entry.
    pub fn from_entry(chain: &str, chain_index: u16, entry: &audit::AuditEntry) -> BusEvent {
        BusEvent {
            chain: chain.to_owned(),
            seq: entry.seq,
            chain_index,
            subject: entry.subject.clone(),
            action: entry.action.clone(),
            actor: entry.actor.clone(),
            role: entry.role.clone(),
            recorded_at_ms: entry.recorded_at_ms,
            payload: entry.payload.clone(),
        }
    }

    /// The message id JetStream deduplicates on: stable across republishing.
    pub fn message_id(&self) -> String {
        format!("{}:{}", self.chain, self.seq)
    }

    /// The JSON message body.
    pub fn to_json(&self) -> Vec<u8> {
        // A payload that is not JSON (none is: the store keeps canonical JSON) still travels,
        // as a JSON string, rather than stopping the relay for ever.
        let quoted;
        let payload = match serde_json::from_str::<&RawValue>(&self.payload) {
            Ok(raw) => raw,
            Err(_) => {
                quoted = RawValue::from_string(
                    serde_json::to_string(&self.payload).expect("a string serialises"),
                )
                .expect("a JSON string is JSON");
                &*quoted
            }
        };
        let recorded_at = chrono::DateTime::from_timestamp_millis(self.recorded_at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        serde_json::to_vec(&WireEvent {
            chain: &self.chain,
            seq: self.seq,
            subject: &self.subject,
            action: &self.action,
            actor: &self.actor,
            role: &self.role,
            recorded_at_ms: self.recorded_at_ms,
            recorded_at,
            payload,
        })
        .expect("an event serialises")
    }

    /// Reads a message body written by [`BusEvent::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<BusEvent, BusError> {
        let wire: WireEventOwned = serde_json::from_slice(bytes)
            .map_err(|e| BusError::Decode(format!("the message is not a bus event: {e}")))?;
        Ok(BusEvent {
            chain: wire.chain,
            seq: wire.seq,
            chain_index: 0,
            subject: wire.subject,
            action: wire.action,
            actor: wire.actor,
            role: wire.role,
            recorded_at_ms: wire.recorded_at_ms,
            payload: wire.payload.get().to_owned(),
        })
    }
}

/// The NATS subject of an action under `prefix`: `customs.events.declaration.accepted`. A
/// character NATS gives a meaning in subjects (space, `*`, `>`) or an empty token cannot come
/// from the store's action names; should one appear it becomes `_`, so the subject stays one
/// literal subject under the prefix.
pub fn subject_for(prefix: &str, action: &str) -> String {
    let tokens: Vec<String> = action
        .split('.')
        .map(|token| {
            let token: String = token
                .chars()
                .map(|c| {
                    if c.is_whitespace() || c == '*' || c == '>' {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            if token.is_empty() {
                "_".to_owned()
            } else {
                token
            }
        })
        .collect();
    format!("{prefix}.{}", tokens.join("."))
}

/// The chain id of a chain whose first entry hashes to `first_entry_hash`.
pub fn chain_id(first_entry_hash: &audit::Hash) -> String {
    first_entry_hash[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a relay starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// After `cursors[i]` in chain `i` (`seq` is the last message's, in its chain); the chain
    /// the publisher's last message belongs to, if it holds one, so a relay never continues
    /// another store's chains.
    After {
        seq: u64,
        chain: Option<String>,
        cursors: Vec<u64>,
    },
    /// At the store's head: only events committed from now on (the in-process bus, whose
    /// subscribers live in this process and were not there before).
    Head,
}

/// What a publish achieved: the first `acked` events are durably accepted, in order; `error`
/// says why the rest were not.
#[derive(Debug)]
pub struct PublishOutcome {
    pub acked: usize,
    pub error: Option<BusError>,
}

/// A destination for committed events.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Where to resume. Called on start and after every failure, so the cursor is always the
    /// publisher's own record, never a guess.
    async fn resume(&self) -> Result<Resume, BusError>;
    /// Publishes `events` (consecutive seqs of one chain) in order and waits for their
    /// acknowledgements.
    async fn publish(&self, events: &[BusEvent]) -> PublishOutcome;
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// NATS could not be reached or did not answer; the relay retries.
    #[error("the event bus is unreachable: {0}")]
    Unreachable(String),
    /// JetStream refused or did not acknowledge a message; the relay resumes from the stream.
    #[error("the event bus did not acknowledge a message: {0}")]
    NotAcknowledged(String),
    /// The stream holds something the relay cannot continue from (another chain, a message
    /// without a seq, a chain ahead of the store). Nothing is published until an operator acts.
    #[error("the event stream cannot be continued: {0}")]
    Inconsistent(String),
    /// Reading the store failed.
    #[error("reading the store: {0}")]
    Store(String),
    #[error("{0}")]
    Decode(String),
}

#[cfg(test)]
mod tests;
