//! The rows of the receipts feed and of webhook delivery (issue 14).
//!
//! The feed is not a table: it is read from the events of the declarations an enterprise may
//! see, chain by chain, so it is exactly the record and survives every restart with it. What
//! delivery keeps (the webhook, how far it was delivered, the lease, the dead letters) is
//! operational state beside the record, changed by [`DeliveryChange`].

use crate::EventRow;

/// Dead letters read at most (the oldest): an enterprise redelivers or replays them, and a
/// receiver down for long cannot make one read unbounded.
pub const DEAD_LETTERS_LISTED_MAX: usize = 200;

/// One event of a declaration the reader may see, with where it stands in its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub chain: u16,
    /// The event's position in its chain (gap-free, committed in order).
    pub chain_seq: u64,
    pub declaration_id: String,
    pub number: String,
    /// The event; its `seq` orders events across chains.
    pub event: EventRow,
}

/// The events of one chain after a position, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedWindow {
    pub events: Vec<FeedEvent>,
    /// The position a reader continues after: the last event returned if the limit was
    /// reached, else the end of the window read, never beyond the chain's head at the snapshot
    /// (an event committed later is after it).
    pub read_to: u64,
}

/// An enterprise's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// The enterprise's credit code.
    pub enterprise: String,
    /// A new id at each registration: delivery under an older one stops.
    pub id: String,
    pub url: String,
    /// The signing secret (`whsec_...`); shown to the enterprise once, kept to sign.
    pub secret: String,
    pub created_at_ms: i64,
    pub created_by: String,
    /// The feed cursor of the last receipt delivered (or dead-lettered); empty: none yet.
    pub delivered: String,
    pub lease_holder: Option<String>,
    pub lease_until_ms: i64,
}

/// A receipt that failed every attempt, kept until the enterprise has it delivered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    pub id: String,
    pub enterprise: String,
    pub cursor: String,
    pub declaration_id: String,
    pub body: String,
    pub content_type: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at_ms: i64,
}

/// A change to the delivery state. Each is one statement; the answer says whether a row
/// changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryChange {
    /// Registers (or replaces) the enterprise's webhook.
    PutWebhook(WebhookRow),
    DeleteWebhook {
        enterprise: String,
    },
    /// Moves the delivered cursor from `from` to `to`, only if it is still `from` under this
    /// webhook id (a replay or a new registration meanwhile wins).
    Advance {
        enterprise: String,
        webhook_id: String,
        from: String,
        to: String,
    },
    /// Sets the delivered cursor (a replay from a cursor).
    Rewind {
        enterprise: String,
        to: String,
    },
    /// Takes (or extends) the lease on delivering the enterprise's receipts, if it is free,
    /// expired or already this holder's.
    Lease {
        enterprise: String,
        holder: String,
        now_ms: i64,
        until_ms: i64,
    },
    /// Gives up every lease `holder` has (an instance stopping): another may deliver at once.
    Release {
        holder: String,
    },
    DeadLetter(DeadLetterRow),
    RemoveDeadLetter {
        enterprise: String,
        id: String,
    },
}
