//! The record of the whole enforcement process (执法全过程记录).
//!
//! Every enforcement event is appended to a single hash chain: each entry's
//! hash covers the previous entry's hash, its sequence number and an explicit,
//! versioned binary encoding of the entry. Changing, removing or reordering any
//! stored entry therefore breaks the chain at that point. Periodically the
//! writer signs the chain head with Ed25519 ([`Checkpoint`]); a checkpoint pins
//! everything up to its sequence number, so even an attacker who rewrites the
//! chain consistently (recomputing every later hash) or deletes its tail is
//! caught by the next checkpoint. Entries after the last checkpoint are
//! protected by the chain alone: deleting them, or rewriting them with
//! recomputed hashes, is not detectable until a later checkpoint is signed.
//!
//! This crate is part of the pure core: no I/O, no clock, no serde. Callers
//! pass times in and store the bytes however they like.

mod checkpoint;
mod heads;
mod verify;

#[cfg(test)]
mod tests;

pub use checkpoint::{
    AuditPublicKey, AuditSigner, CHECKPOINT_DOMAIN, Checkpoint, checkpoint_message,
};
pub use heads::{HEADS_DOMAIN, HeadsCheckpoint, RoundFault, heads_message, round_anchors};
pub use verify::{
    Anchor, ChainFault, ChainVerifier, CheckpointBound, StoredEntry, VerifyOptions, VerifyReport,
    verify_chain,
};

use sha2::{Digest, Sha256};

/// A SHA-256 digest; the unit of linkage in the chain.
pub type Hash = [u8; 32];

/// The `prev_hash` of entry 1: the chain starts from an all-zero hash.
pub const GENESIS_HASH: Hash = [0; 32];

/// Version byte that opens every [`canonical_encoding`] the writer makes now; bump it (and keep
/// the old encoder) if the layout ever changes, so old chains still verify. Each stored entry
/// names the version it was hashed with ([`AuditEntry::encoding_version`]).
pub const ENCODING_VERSION: u8 = ENCODING_V2;

/// The first layout: the idempotency scope, the request digest and the projection were outside
/// the chain. Entries recorded with it still verify with it.
pub const ENCODING_V1: u8 = 1;

/// The layout that also covers the idempotency scope, the request digest and the projection
/// (the rows the event changed), so none of them can be rewritten unseen.
pub const ENCODING_V2: u8 = 2;

/// One event as recorded in the chain; it exists so that every enforcement step
/// is attributable (who, in which role, did what to which subject, when).
///
/// `payload` is the event body as stored (canonical JSON text produced by the
/// caller); the chain covers it byte for byte, so the caller must store exactly
/// these bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The layout this entry is hashed with ([`ENCODING_V1`] or [`ENCODING_V2`]). Any other
    /// value hashes as [`ENCODING_V2`] with its own version byte, so it can never match what
    /// the writer stored.
    pub encoding_version: u8,
    /// 1-based, gap-free position in the chain.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, as passed in by the caller.
    pub recorded_at_ms: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub subject: String,
    pub idempotency_key: String,
    pub payload: String,
    /// The caller's idempotency scope (the user whose key it is). Covered from version 2.
    pub idempotency_scope: String,
    /// The digest of the request that made the event, so a repeat is told from a different
    /// request with the same key. Covered from version 2.
    pub request_digest: String,
    /// The event's change to the derived tables as the store recorded it (its own text form),
    /// so the tables can be rebuilt from the chain and compared. Covered from version 2.
    pub projection: String,
}

/// Explicit, versioned binary encoding of an entry. Never serde: these bytes
/// are what the chain covers, so they must never change with a library upgrade.
///
/// Layout (version 1), all integers big-endian:
/// `1` (1 byte), `seq` (u64, 8 bytes), `recorded_at_ms`
/// (i64, 8 bytes), then `actor`, `role`, `action`, `subject`,
/// `idempotency_key`, `payload`, each as a u32 byte length followed by the
/// UTF-8 bytes. Integers are fixed-width, so they need no length prefix; the
/// prefixes on strings make the encoding injective (no field can bleed into
/// the next).
///
/// Layout (version 2): the same, opened by `2`, with `idempotency_scope`
/// after `subject`, `request_digest` after `idempotency_key`, and
/// `projection` after `payload`:
/// `actor`, `role`, `action`, `subject`, `idempotency_scope`,
/// `idempotency_key`, `request_digest`, `payload`, `projection`.
///
/// # Panics
/// If a string field is longer than `u32::MAX` bytes (4 GiB), which no event
/// body can legitimately be.
pub fn canonical_encoding(entry: &AuditEntry) -> Vec<u8> {
    let entry = entry.borrowed();
    let text_len: usize = entry.fields().iter().map(|s| 4 + s.len()).sum();
    let mut out = Vec::with_capacity(1 + 8 + 8 + text_len);
    entry.encode_into(|bytes| out.extend_from_slice(bytes));
    out
}

/// An entry's fields borrowed from wherever the caller keeps them: the writer hashes an event
/// this way without copying its payload into an [`AuditEntry`] first. Same encoding, same hash.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub encoding_version: u8,
    pub seq: u64,
    pub recorded_at_ms: i64,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub idempotency_key: &'a str,
    pub payload: &'a str,
    pub idempotency_scope: &'a str,
    pub request_digest: &'a str,
    pub projection: &'a str,
}

impl AuditEntry {
    /// The entry's fields borrowed.
    pub fn borrowed(&self) -> EntryRef<'_> {
        EntryRef {
            encoding_version: self.encoding_version,
            seq: self.seq,
            recorded_at_ms: self.recorded_at_ms,
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            subject: &self.subject,
            idempotency_key: &self.idempotency_key,
            payload: &self.payload,
            idempotency_scope: &self.idempotency_scope,
            request_digest: &self.request_digest,
            projection: &self.projection,
        }
    }
}

impl EntryRef<'_> {
    /// The string fields of the entry's layout, in order.
    fn fields(&self) -> Vec<&str> {
        if self.encoding_version == ENCODING_V1 {
            vec![
                self.actor,
                self.role,
                self.action,
                self.subject,
                self.idempotency_key,
                self.payload,
            ]
        } else {
            vec![
                self.actor,
                self.role,
                self.action,
                self.subject,
                self.idempotency_scope,
                self.idempotency_key,
                self.request_digest,
                self.payload,
                self.projection,
            ]
        }
    }

    /// Feeds the [`canonical_encoding`] to `sink` piece by piece.
    fn encode_into(&self, mut sink: impl FnMut(&[u8])) {
        sink(&[self.encoding_version]);
        sink(&self.seq.to_be_bytes());
        sink(&self.recorded_at_ms.to_be_bytes());
        for field in self.fields() {
            let len = u32::try_from(field.len()).expect("audit entry field exceeds 4 GiB");
            sink(&len.to_be_bytes());
            sink(field.as_bytes());
        }
    }
}

/// `SHA-256(prev_hash || seq as u64 BE || canonical_encoding(entry))`.
///
/// `seq` appears outside the encoding too so that the link itself (not only
/// the entry body) commits to the position in the chain.
pub fn entry_hash(prev_hash: &Hash, entry: &AuditEntry) -> Hash {
    entry_hash_of(prev_hash, &entry.borrowed())
}

/// [`entry_hash`] of borrowed fields: the encoding is streamed into the hash, never built.
pub fn entry_hash_of(prev_hash: &Hash, entry: &EntryRef<'_>) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(entry.seq.to_be_bytes());
    entry.encode_into(|bytes| hasher.update(bytes));
    hasher.finalize().into()
}

/// The running chain head kept by the single writer; it exists so that the
/// writer can compute each new `prev_hash`/`entry_hash` pair, and sign
/// checkpoints, without re-reading the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the last appended entry (0 for the empty chain).
    pub seq: u64,
    /// Hash of the last appended entry ([`GENESIS_HASH`] for the empty chain).
    pub hash: Hash,
}

impl ChainHead {
    /// The head of the empty chain.
    pub fn genesis() -> Self {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH,
        }
    }

    /// Appends `entry`, returning its hash (which is also the new head hash).
    /// The previous head hash is the entry's `prev_hash`.
    ///
    /// # Panics
    /// If `entry.seq` is not exactly `self.seq + 1`: the single writer assigns
    /// sequence numbers, so a mismatch is a programmer error, and writing it
    /// anyway would create a chain that can never verify.
    pub fn append(&mut self, entry: &AuditEntry) -> Hash {
        self.append_borrowed(&entry.borrowed())
    }

    /// [`ChainHead::append`] of borrowed fields.
    ///
    /// # Panics
    /// Like [`ChainHead::append`], if `entry.seq` is not the head's seq + 1.
    pub fn append_borrowed(&mut self, entry: &EntryRef<'_>) -> Hash {
        assert_eq!(
            Some(entry.seq),
            self.seq.checked_add(1),
            "audit entry seq must follow the chain head"
        );
        self.hash = entry_hash_of(&self.hash, entry);
        self.seq = entry.seq;
        self.hash
    }
}

/// Errors from parsing key material; it exists because keys arrive as text
/// from configuration, and malformed text must be rejected, not panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    #[error("invalid hex: {0}")]
    InvalidHex(#[from] hex::FromHexError),
    #[error("expected {expected} bytes, got {actual}")]
    InvalidLength { expected: usize, actual: usize },
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
}
