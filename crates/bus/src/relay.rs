//! The relay: follows the store's committed events and publishes them, in order, never skipping
//! one.
//!
//! The relay keeps a cursor per audit chain of the store (one for SQLite, several for
//! PostgreSQL). Each round reads, chain by chain, at most [`RelayOptions::batch`] events after
//! that chain's cursor, publishes them and moves the cursor past the acknowledged ones only. An idle relay polls the store every
//! [`RelayOptions::poll_interval`] (a read of the chain's tail on the read pool, not the writer);
//! a full batch is followed at once by the next. On a failure it waits ([`backoff_after`]) and
//! asks the publisher again where to resume, so its cursor is the publisher's record, never its
//! own belief.

use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{BusError, BusEvent, Publisher, Resume, chain_id};

/// Most events read and published in one round: bounds the relay's memory and the messages in
/// flight awaiting acknowledgement.
pub const BATCH_MAX: usize = 1000;
/// Events per round unless configured.
pub const BATCH_DEFAULT: usize = 256;
/// How often an idle relay looks for new events unless configured.
pub const POLL_INTERVAL_DEFAULT: Duration = Duration::from_millis(100);
/// The first wait after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait after repeated failures: an outage is noticed within this once it ends.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The wait after `failures` consecutive failures (1 for the first): doubling from
/// [`BACKOFF_MIN`] up to [`BACKOFF_MAX`].
pub fn backoff_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1 << doublings).min(BACKOFF_MAX)
}

#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Events per round, clamped to `1..=`[`BATCH_MAX`].
    pub batch: usize,
    pub poll_interval: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch: BATCH_DEFAULT,
            poll_interval: POLL_INTERVAL_DEFAULT,
        }
    }
}

impl RelayOptions {
    /// The batch size actually used.
    pub fn effective_batch(&self) -> usize {
        self.batch.clamp(1, BATCH_MAX)
    }
}

/// What the relay has done, for logs, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// The events acknowledged by the publisher, all chains together: with one chain the seq up
    /// to which every event is acknowledged (`None` before the relay knows where it starts).
    pub published_seq: Option<u64>,
    /// Per chain, the seq up to which every event is acknowledged.
    pub published: Vec<u64>,
    /// Failures since the relay started.
    pub failures: u64,
    /// The latest failure, in words; cleared by the next success.
    pub last_error: Option<String>,
    /// For a relay that runs only while its process leads ([`Relay::spawn_led`]): whether it
    /// leads now; `None` for a relay that always runs.
    pub leading: Option<bool>,
}

/// A running relay: its status, and the task (abort it to stop the relay; nothing is lost,
/// the next relay resumes from the publisher's record).
pub struct RelayHandle {
    pub status: watch::Receiver<RelayStatus>,
    pub task: JoinHandle<()>,
}

impl RelayHandle {
    /// Waits until `seq` events are acknowledged (with one chain: every event up to `seq`), or
    /// `timeout` passes; the status then.
    pub async fn wait_for(&mut self, seq: u64, timeout: Duration) -> RelayStatus {
        let _ = tokio::time::timeout(
            timeout,
            self.status
                .wait_for(|s| s.published_seq.is_some_and(|p| p >= seq)),
        )
        .await;
        self.status.borrow().clone()
    }
}

/// The relay of one store to one publisher.
pub struct Relay<S: Store + ?Sized, P: Publisher> {
    store: Arc<S>,
    publisher: Arc<P>,
    options: RelayOptions,
    status: watch::Sender<RelayStatus>,
    /// Per chain, the next round reads after this seq; `None`: ask the publisher first.
    cursors: Option<Vec<u64>>,
    /// The publisher keeps no record (it resumes at the head): after a failure the relay's own
    /// cursors are the only record, so they are kept rather than asked for again (which would
    /// skip the events committed meanwhile).
    own_cursor: bool,
    /// The chain the publisher's last message belongs to, checked against the store's.
    publisher_chain: Option<String>,
    /// Each chain's id, once read (`None` for a chain with no entry yet).
    chains: Vec<Option<String>>,
    /// Publish only while this says `true` (several instances, one relay: the leader's).
    leader: Option<watch::Receiver<bool>>,
}

impl<S: Store + ?Sized, P: Publisher> Relay<S, P> {
    /// Starts the relay on the current tokio runtime.
    pub fn spawn(store: Arc<S>, publisher: Arc<P>, options: RelayOptions) -> RelayHandle {
        Self::start(store, publisher, options, None)
    }

    /// Starts a relay that publishes only while `leading` says `true` (this process holds the
    /// relay's lock: several instances on one store, one publisher). Each time it starts to
    /// lead it resumes from the publisher's record, so what another relay published meanwhile
    /// is not published again; a round in progress when the leadership is lost finishes (at
    /// most one batch, refused by a stream that has moved on). Stops for good when `leading`'s
    /// sender is dropped.
    pub fn spawn_led(
        store: Arc<S>,
        publisher: Arc<P>,
        options: RelayOptions,
        leading: watch::Receiver<bool>,
    ) -> RelayHandle {
        Self::start(store, publisher, options, Some(leading))
    }

    fn start(
        store: Arc<S>,
        publisher: Arc<P>,
        options: RelayOptions,
        leader: Option<watch::Receiver<bool>>,
    ) -> RelayHandle {
        let (status, receiver) = watch::channel(RelayStatus {
            leading: leader.as_ref().map(|l| *l.borrow()),
            ..RelayStatus::default()
        });
        let chains = vec![None; usize::from(store.chain_count().max(1))];
        let relay = Relay {
            store,
            publisher,
            options,
            status,
            cursors: None,
            own_cursor: false,
            publisher_chain: None,
            chains,
            leader,
        };
        RelayHandle {
            status: receiver,
            task: tokio::spawn(relay.run()),
        }
    }

    /// Waits until this process leads (at once for a relay that always runs); false when the
    /// leadership is gone for good.
    async fn until_leading(&mut self) -> bool {
        let Some(leader) = self.leader.as_mut() else {
            return true;
        };
        if *leader.borrow_and_update() {
            if self.status.borrow().leading != Some(true) {
                tracing::info!("event relay: this instance publishes");
                self.status.send_modify(|s| s.leading = Some(true));
            }
            return true;
        }
        tracing::info!("event relay: another instance publishes; standing by");
        // Another relay moves the stream meanwhile: on leading again, resume from it.
        if !self.own_cursor {
            self.cursors = None;
        }
        self.status.send_modify(|s| s.leading = Some(false));
        if leader.wait_for(|leading| *leading).await.is_err() {
            return false;
        }
        tracing::info!("event relay: this instance publishes");
        self.status.send_modify(|s| s.leading = Some(true));
        true
    }

    async fn run(mut self) {
        let mut consecutive: u32 = 0;
        loop {
            if !self.until_leading().await {
                return;
            }
            match self.round().await {
                Ok(full) => {
                    if consecutive > 0 {
                        tracing::info!(
                            published = self.cursors.as_ref().map(|c| c.iter().sum::<u64>()),
                            "event relay: publishing again"
                        );
                        self.status.send_modify(|s| s.last_error = None);
                    }
                    consecutive = 0;
                    if !full {
                        tokio::time::sleep(self.options.poll_interval).await;
                    }
                }
                Err(error) => {
                    consecutive = consecutive.saturating_add(1);
                    let wait = backoff_after(consecutive);
                    tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "event relay");
                    if !self.own_cursor {
                        self.cursors = None;
                    }
                    self.status.send_modify(|s| {
                        s.failures += 1;
                        s.last_error = Some(error.to_string());
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One round over every chain: whether some chain filled a whole batch (more may wait).
    async fn round(&mut self) -> Result<bool, BusError> {
        let mut cursors = match self.cursors.take() {
            Some(cursors) => cursors,
            None => self.resume().await?,
        };
        let result = self.publish_chains(&mut cursors).await;
        self.status.send_modify(|s| {
            s.published_seq = Some(cursors.iter().sum());
            s.published = cursors.clone();
        });
        self.cursors = Some(cursors);
        result
    }

    async fn publish_chains(&mut self, cursors: &mut [u64]) -> Result<bool, BusError> {
        let batch = self.options.effective_batch();
        let mut full = false;
        for (index, cursor) in cursors.iter_mut().enumerate() {
            let chain_index = u16::try_from(index).unwrap_or(u16::MAX);
            let entries = self
                .store
                .chain_entries(chain_index, *cursor, batch)
                .await
                .map_err(|e| BusError::Store(e.to_string()))?;
            if entries.is_empty() {
                continue;
            }
            let chain = self.chain(index, &entries).await?;
            let mut events = Vec::with_capacity(entries.len());
            for (i, stored) in entries.iter().enumerate() {
                let due = *cursor + 1 + i as u64;
                if stored.entry.seq != due {
                    // The chain is gap-free; a gap here is a store fault, and skipping it would
                    // lose an event for every consumer.
                    return Err(BusError::Store(format!(
                        "the store returned event {} of chain {chain} where {due} was due",
                        stored.entry.seq
                    )));
                }
                events.push(BusEvent::from_entry(&chain, chain_index, &stored.entry));
            }
            let outcome = self.publisher.publish(&events).await;
            *cursor += outcome.acked as u64;
            if let Some(error) = outcome.error {
                return Err(error);
            }
            full |= outcome.acked == batch;
        }
        Ok(full)
    }

    async fn resume(&mut self) -> Result<Vec<u64>, BusError> {
        let heads = self
            .store
            .chain_heads()
            .await
            .map_err(|e| BusError::Store(e.to_string()))?;
        let cursors = match self.publisher.resume().await? {
            Resume::Head => {
                self.own_cursor = true;
                heads.clone()
            }
            Resume::After {
                cursors: mut resumed,
                chain,
                ..
            } => {
                if resumed.len() > heads.len() {
                    return Err(BusError::Inconsistent(format!(
                        "the bus holds events of {} chains but the store keeps {}: give each \
                         store its own stream",
                        resumed.len(),
                        heads.len()
                    )));
                }
                resumed.resize(heads.len(), 0);
                for (index, (bus, store)) in resumed.iter().zip(&heads).enumerate() {
                    if bus > store {
                        return Err(BusError::Inconsistent(format!(
                            "the bus holds events up to {bus} of chain {index} but the store's \
                             chain ends at {store} (a store restored from an older backup?); \
                             publishing would give different events the seqs consumers \
                             already saw"
                        )));
                    }
                }
                self.publisher_chain = chain;
                resumed
            }
        };
        self.check_publisher_chain(&cursors).await?;
        self.status.send_modify(|s| {
            s.published_seq = Some(cursors.iter().sum());
            s.published = cursors.clone();
        });
        Ok(cursors)
    }

    /// The publisher's last message belongs to one of this store's chains, or the stream is
    /// another store's.
    async fn check_publisher_chain(&mut self, cursors: &[u64]) -> Result<(), BusError> {
        let Some(other) = self.publisher_chain.clone() else {
            return Ok(());
        };
        for (index, cursor) in cursors.iter().enumerate() {
            if *cursor == 0 {
                continue;
            }
            let first = self
                .store
                .chain_entries(u16::try_from(index).unwrap_or(u16::MAX), 0, 1)
                .await
                .map_err(|e| BusError::Store(e.to_string()))?;
            if let Some(first) = first.first() {
                let id = self.chain(index, std::slice::from_ref(first)).await?;
                if id == other {
                    return Ok(());
                }
            }
        }
        Err(BusError::Inconsistent(format!(
            "the bus holds the events of chain {other}, which is none of this store's chains: \
             give each store its own stream"
        )))
    }

    /// The id of chain `index` (read once from its first entry).
    async fn chain(
        &mut self,
        index: usize,
        entries: &[store::StoredEntry],
    ) -> Result<String, BusError> {
        if let Some(Some(chain)) = self.chains.get(index) {
            return Ok(chain.clone());
        }
        let first_hash = if entries[0].entry.seq == 1 {
            entries[0].entry_hash
        } else {
            let first = self
                .store
                .chain_entries(u16::try_from(index).unwrap_or(u16::MAX), 0, 1)
                .await
                .map_err(|e| BusError::Store(e.to_string()))?;
            first
                .first()
                .ok_or_else(|| BusError::Store("the chain has no first entry".to_owned()))?
                .entry_hash
        };
        let chain = chain_id(&first_hash);
        if let Some(slot) = self.chains.get_mut(index) {
            *slot = Some(chain.clone());
        }
        Ok(chain)
    }
}
