//! The idempotent consumer's check: each seq acted on once, in order.

/// What a consumer should do with a delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The next event: act on it.
    New,
    /// Seen before (a redelivery): acknowledge it and do nothing.
    Duplicate,
}

/// A delivery that skips ahead: an event between was not seen. Acting on it would act out of
/// order, so the consumer stops and says which seq it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event {got} arrived while event {expected} was due: the consumer missed an event")]
pub struct OutOfOrder {
    pub expected: u64,
    pub got: u64,
}

/// Deduplication by seq for one chain (a consumer of a store with several chains keeps one per
/// chain, keyed by the event's `chain`). A consumer keeps `last_seq` with the effects of acting
/// (in the same transaction, for a consumer with a store), so a redelivery after a crash is
/// recognised too.
#[derive(Debug, Clone, Default)]
pub struct DedupConsumer {
    last_seq: u64,
    duplicates: u64,
}

impl DedupConsumer {
    /// A consumer that has acted on every event up to `last_seq` (0: none).
    pub fn after(last_seq: u64) -> DedupConsumer {
        DedupConsumer {
            last_seq,
            duplicates: 0,
        }
    }

    /// Whether to act on the event with this seq; records it when it is new.
    pub fn accept(&mut self, seq: u64) -> Result<Delivery, OutOfOrder> {
        if seq <= self.last_seq {
            self.duplicates += 1;
            return Ok(Delivery::Duplicate);
        }
        if seq != self.last_seq + 1 {
            return Err(OutOfOrder {
                expected: self.last_seq + 1,
                got: seq,
            });
        }
        self.last_seq = seq;
        Ok(Delivery::New)
    }

    /// The last seq acted on.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Redeliveries recognised and ignored.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}
