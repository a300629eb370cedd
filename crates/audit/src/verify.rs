//! Streaming verification of a stored chain against its checkpoints.
//!
//! How each kind of tampering shows up when rows are read ordered by seq:
//!
//! * Any field of an entry changed (including its stored `prev_hash` or
//!   `entry_hash`): the row no longer hashes to its stored `entry_hash`, so
//!   [`ChainFault::Altered`] at that seq.
//! * An entry changed *and its hash recomputed*: the row is self-consistent,
//!   but the next row's `prev_hash` still holds the original hash. The next row
//!   is self-consistent too, so the link, not the row, was broken, and the
//!   fault is reported as `Altered` at the *changed* entry (the predecessor).
//!   If a verified checkpoint vouches for the predecessor, the blame goes to the
//!   row whose `prev_hash` was rewritten instead. Data alone cannot tell "entry
//!   k rewritten" from "entry k+1's `prev_hash` and hash rewritten"; we name
//!   the former because it is the only one that changes recorded content. A
//!   checkpoint at the changed entry catches it first, as
//!   [`ChainFault::CheckpointMismatch`].
//! * A suffix rewritten consistently (every later hash recomputed): no link
//!   breaks; only the first checkpoint after the change catches it, as
//!   `CheckpointMismatch`. Without such a checkpoint it is undetectable.
//! * A middle row deleted: a seq gap, [`ChainFault::Deleted`].
//! * Tail rows deleted: the chain just ends earlier; only a checkpoint beyond
//!   the new end reveals it, as [`ChainFault::TruncatedAfterCheckpoint`].
//!   Entries after the last checkpoint are protected by the chain alone.
//! * The seq values of two rows swapped: the row now read at the lower seq
//!   hashes differently (seq is hashed), so `Altered` at the lower seq.
//! * A seq repeated (a duplicated or replayed row) or going backwards (rows not
//!   delivered in seq order): [`ChainFault::Reordered`]. A row delivered too
//!   early looks like a gap, so it is reported as `Deleted`.
//! * A forged or edited checkpoint, or one signed by another key:
//!   [`ChainFault::BadSignature`]. Checked against a key the auditor holds
//!   (not one read from the data folder), this also catches a chain rewritten
//!   and re-signed with a new key.
//! * Checkpoints deleted (with or without the tail): the writer signs at a
//!   bounded interval ([`CheckpointBound`]), so a run of entries longer than
//!   the bound, or spanning more time, without a checkpoint, or an unsigned
//!   tail older than the bound, is [`ChainFault::MissingCheckpoint`].
//! * The tail deleted and the new end re-signed with the key in the folder:
//!   only a head the auditor kept outside the folder ([`Anchor`], e.g. an
//!   exported checkpoint) reveals it, as [`ChainFault::AnchorMismatch`] or
//!   [`ChainFault::TruncatedBeforeAnchor`].

use std::fmt;

use crate::{AuditPublicKey, ChainHead, Checkpoint, Hash, entry_hash};

/// A stored row as read back from the database; it exists so the verifier
/// checks what was actually stored (including both hashes), not a recomputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry: crate::AuditEntry,
    pub prev_hash: Hash,
    pub entry_hash: Hash,
}

/// The first way in which a stored chain departs from an honest one; it exists
/// so that an auditor is told *which* entry to look at and *what* happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainFault {
    /// The entry's recomputed hash differs from the stored one, or its
    /// successor's `prev_hash` shows it was rewritten (see the module docs).
    Altered { seq: u64 },
    /// Entries `missing_from..=missing_to` are absent: the row after
    /// `after_seq` (0 for the start of the chain) has seq `missing_to + 1`.
    /// `missing_from` is always `after_seq + 1`; `missing_to` gives the range.
    Deleted {
        after_seq: u64,
        missing_from: u64,
        missing_to: u64,
    },
    /// A row with `seq` arrived where `expected_seq` was due, and `seq` is not
    /// greater than the previous row's: a repeat, or rows out of order.
    Reordered { seq: u64, expected_seq: u64 },
    /// A valid checkpoint covers `checkpoint_seq`, but the chain ends at
    /// `last_seq`: the tail was deleted.
    TruncatedAfterCheckpoint { checkpoint_seq: u64, last_seq: u64 },
    /// A validly signed checkpoint's head differs from the chain at `seq`:
    /// some entry up to `seq` was rewritten with recomputed hashes.
    CheckpointMismatch { seq: u64 },
    /// The checkpoint at `seq` is not validly signed by the given key.
    BadSignature { seq: u64 },
    /// The chain at `seq` differs from the head the auditor kept outside the store.
    AnchorMismatch { seq: u64 },
    /// The auditor kept a head at `anchor_seq`, but the chain ends at `last_seq`.
    TruncatedBeforeAnchor { anchor_seq: u64, last_seq: u64 },
    /// Entries `from_seq..=to_seq` are not covered by a checkpoint within the bound: the writer
    /// signs at least every [`CheckpointBound::entries_max`] entries and within
    /// [`CheckpointBound::ms_max`], so a checkpoint was deleted (or the writer stopped without
    /// signing, after a crash).
    MissingCheckpoint { from_seq: u64, to_seq: u64 },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChainFault::Altered { seq } => write!(f, "entry {seq} was altered"),
            ChainFault::Deleted {
                missing_from,
                missing_to,
                ..
            } => write_deleted(f, missing_from, missing_to, ""),
            ChainFault::Reordered { seq, expected_seq } => write!(
                f,
                "entry {seq} is out of order or repeated: expected entry {expected_seq}"
            ),
            ChainFault::TruncatedAfterCheckpoint {
                checkpoint_seq,
                last_seq,
            } => {
                let context = format!(
                    " from the end of the chain (the checkpoint at entry {checkpoint_seq} \
                     covers them, but the chain ends at entry {last_seq})"
                );
                write_deleted(f, last_seq.saturating_add(1), checkpoint_seq, &context)
            }
            ChainFault::CheckpointMismatch { seq } => write!(
                f,
                "the checkpoint at entry {seq} does not match the chain: \
                 an entry up to {seq} was rewritten"
            ),
            ChainFault::BadSignature { seq } => {
                write!(f, "the checkpoint at entry {seq} has an invalid signature")
            }
            ChainFault::AnchorMismatch { seq } => write!(
                f,
                "the chain at entry {seq} differs from the head the auditor holds: \
                 an entry up to {seq} was rewritten"
            ),
            ChainFault::TruncatedBeforeAnchor {
                anchor_seq,
                last_seq,
            } => {
                let context = format!(
                    " from the end of the chain (the auditor holds the head at entry \
                     {anchor_seq}, but the chain ends at entry {last_seq})"
                );
                write_deleted(f, last_seq.saturating_add(1), anchor_seq, &context)
            }
            ChainFault::MissingCheckpoint { from_seq, to_seq } => write!(
                f,
                "a checkpoint is missing: entries {from_seq} to {to_seq} are not covered by a \
                 checkpoint within the bound (checkpoints deleted, or the writer stopped \
                 without signing)"
            ),
        }
    }
}

fn write_deleted(f: &mut fmt::Formatter<'_>, from: u64, to: u64, context: &str) -> fmt::Result {
    if from == to {
        write!(f, "entry {from} was deleted{context}")
    } else {
        write!(f, "entries {from} to {to} were deleted{context}")
    }
}

impl std::error::Error for ChainFault {}

/// The outcome of [`verify_chain`]; it exists so a caller gets both the
/// verdict and how far the chain could be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Rows read, including the one at which a fault was found.
    pub entries_checked: u64,
    /// Checkpoints whose signature and head both matched.
    pub checkpoints_checked: u64,
    /// Last entry of the intact prefix (0 if none): every entry up to here
    /// links correctly. After a checkpoint fault this prefix is internally
    /// consistent but not vouched for beyond `last_checkpoint_seq`.
    pub last_seq: u64,
    /// Hash of entry `last_seq` ([`crate::GENESIS_HASH`] if 0).
    pub head_hash: Hash,
    /// Highest checkpoint that matched the chain.
    pub last_checkpoint_seq: Option<u64>,
    /// The first fault, in chain order; `None` means the chain verified.
    pub first_fault: Option<ChainFault>,
}

/// A chain head the auditor keeps outside the data folder (an exported checkpoint, or a
/// `seq:hash` written down); it exists because whoever holds the folder holds its signing key and
/// can delete the tail and re-sign the new end, and only a head kept elsewhere shows that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub head_hash: Hash,
}

/// How far the writer may let the chain run without a checkpoint; it exists so that deleted
/// checkpoints show: a longer unsigned run, or an unsigned tail older than `ms_max` at `now_ms`,
/// is [`ChainFault::MissingCheckpoint`]. The times compared are the entries' own
/// `recorded_at_ms` and `now_ms`, from the same clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointBound {
    /// Most entries after a checkpoint (or the start) before the next checkpoint.
    pub entries_max: u64,
    /// Longest time between the first entry after a checkpoint and the last one it covers, and
    /// the oldest an unsigned tail may be.
    pub ms_max: i64,
    /// The verifier's clock, to age the unsigned tail.
    pub now_ms: i64,
}

/// What an auditor brings besides the key: heads kept outside the store, and the writer's
/// checkpoint bound. The default checks neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    pub anchors: Vec<Anchor>,
    pub checkpoint_bound: Option<CheckpointBound>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.first_fault.is_none()
    }
}

/// Streams the chain in storage order (the caller reads rows ordered by seq)
/// and stops at the first fault, naming it. Checkpoints may come in any order;
/// each is checked when the chain reaches its seq, and those beyond the end of
/// the chain are checked last (they reveal a deleted tail).
pub fn verify_chain(
    entries: impl IntoIterator<Item = StoredEntry>,
    checkpoints: &[Checkpoint],
    public_key: &AuditPublicKey,
) -> VerifyReport {
    let mut verifier = ChainVerifier::new(checkpoints, public_key);
    for stored in entries {
        if !verifier.push(&stored) {
            break;
        }
    }
    verifier.finish()
}

/// `verify_chain` one entry at a time, for callers that read the chain in pages (an async store)
/// and must not hold it all in memory.
pub struct ChainVerifier<'a> {
    verifier: Verifier<'a>,
    fault: Option<ChainFault>,
}

impl<'a> ChainVerifier<'a> {
    pub fn new(checkpoints: &'a [Checkpoint], public_key: &'a AuditPublicKey) -> Self {
        Self::with_options(checkpoints, public_key, &VerifyOptions::default())
    }

    /// Also checks the auditor's anchors and the checkpoint bound, if given.
    pub fn with_options(
        checkpoints: &'a [Checkpoint],
        public_key: &'a AuditPublicKey,
        options: &VerifyOptions,
    ) -> Self {
        let mut verifier = Verifier::new(checkpoints, public_key);
        let mut anchors = options.anchors.clone();
        anchors.sort_by_key(|a| a.seq);
        verifier.anchors = anchors.into_iter().peekable();
        verifier.bound = options.checkpoint_bound;
        // A checkpoint at seq 0 vouches for the empty chain.
        let fault = verifier.check_reached_checkpoints().err();
        ChainVerifier { verifier, fault }
    }

    /// Checks the next stored entry. Returns false once a fault is found: what follows cannot
    /// change the verdict, so the caller may stop reading.
    pub fn push(&mut self, stored: &StoredEntry) -> bool {
        if self.fault.is_some() {
            return false;
        }
        self.verifier.rows_read += 1;
        let checked = self
            .verifier
            .accept(stored)
            .and_then(|()| self.verifier.check_reached_checkpoints());
        self.fault = checked.err();
        self.fault.is_none()
    }

    pub fn finish(mut self) -> VerifyReport {
        let fault = match self.fault.take() {
            Some(fault) => Some(fault),
            None => self.verifier.check_tail().err(),
        };
        self.verifier.report(fault)
    }
}

struct Verifier<'a> {
    key: &'a AuditPublicKey,
    /// The auditor's anchors not yet reached, ascending by seq.
    anchors: std::iter::Peekable<std::vec::IntoIter<Anchor>>,
    bound: Option<CheckpointBound>,
    /// The first entry (seq, recorded_at_ms) not yet covered by a checkpoint.
    unsigned_from: Option<(u64, i64)>,
    /// Checkpoints not yet checked, ascending by seq.
    pending: std::iter::Peekable<std::vec::IntoIter<&'a Checkpoint>>,
    rows_read: u64,
    checkpoints_ok: u64,
    last_checkpoint: Option<u64>,
    /// End of the intact prefix.
    head: ChainHead,
    /// The head before the last accepted row, to blame that row if the next
    /// row's link reveals it was rewritten.
    before_head: ChainHead,
}

impl<'a> Verifier<'a> {
    fn new(checkpoints: &'a [Checkpoint], key: &'a AuditPublicKey) -> Self {
        let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
        sorted.sort_by_key(|cp| cp.seq);
        Verifier {
            key,
            anchors: Vec::new().into_iter().peekable(),
            bound: None,
            unsigned_from: None,
            pending: sorted.into_iter().peekable(),
            rows_read: 0,
            checkpoints_ok: 0,
            last_checkpoint: None,
            head: ChainHead::genesis(),
            before_head: ChainHead::genesis(),
        }
    }

    /// Checks one row against the intact prefix and extends the prefix.
    fn accept(&mut self, stored: &StoredEntry) -> Result<(), ChainFault> {
        let seq = stored.entry.seq;
        let last = self.head.seq;
        if seq <= last {
            let expected_seq = last.saturating_add(1);
            return Err(ChainFault::Reordered { seq, expected_seq });
        }
        // seq > last, so last + 1 cannot overflow.
        if seq > last + 1 {
            return Err(ChainFault::Deleted {
                after_seq: last,
                missing_from: last + 1,
                missing_to: seq - 1,
            });
        }
        if entry_hash(&stored.prev_hash, &stored.entry) != stored.entry_hash {
            return Err(ChainFault::Altered { seq });
        }
        if stored.prev_hash != self.head.hash {
            return Err(self.blame_broken_link(seq));
        }
        self.before_head = self.head;
        self.head = ChainHead {
            seq,
            hash: stored.entry_hash,
        };
        self.check_bound(seq, stored.entry.recorded_at_ms)
    }

    /// The writer signs within the bound: a longer unsigned run means a deleted checkpoint.
    fn check_bound(&mut self, seq: u64, recorded_at_ms: i64) -> Result<(), ChainFault> {
        let Some(bound) = self.bound else {
            return Ok(());
        };
        let (from_seq, from_ms) = *self.unsigned_from.get_or_insert((seq, recorded_at_ms));
        let unsigned = seq - self.last_checkpoint.unwrap_or(0);
        if unsigned > bound.entries_max || recorded_at_ms.saturating_sub(from_ms) > bound.ms_max {
            return Err(ChainFault::MissingCheckpoint {
                from_seq,
                to_seq: seq,
            });
        }
        Ok(())
    }

    /// Row `seq` is self-consistent but does not link to its predecessor's
    /// stored hash: the predecessor was rewritten with a recomputed hash,
    /// unless nothing precedes it or a checkpoint vouches for it.
    fn blame_broken_link(&mut self, seq: u64) -> ChainFault {
        let predecessor = self.head.seq;
        if predecessor == 0 || self.last_checkpoint == Some(predecessor) {
            return ChainFault::Altered { seq };
        }
        self.head = self.before_head;
        ChainFault::Altered { seq: predecessor }
    }

    /// Checks every pending checkpoint at or below the current head.
    fn check_reached_checkpoints(&mut self) -> Result<(), ChainFault> {
        let head = self.head;
        while let Some(cp) = self.pending.next_if(|cp| cp.seq <= head.seq) {
            // The chain is gap-free, so a reached checkpoint sits exactly at
            // the head: earlier ones were checked when their seq was reached.
            debug_assert_eq!(cp.seq, head.seq);
            check_signature(self.key, cp)?;
            if cp.head_hash != head.hash {
                return Err(ChainFault::CheckpointMismatch { seq: cp.seq });
            }
            self.checkpoints_ok += 1;
            self.last_checkpoint = Some(cp.seq);
            self.unsigned_from = None;
        }
        while let Some(anchor) = self.anchors.next_if(|a| a.seq <= head.seq) {
            // Gap-free, like checkpoints: a reached anchor sits at the head.
            if anchor.seq != head.seq || anchor.head_hash != head.hash {
                return Err(ChainFault::AnchorMismatch { seq: anchor.seq });
            }
        }
        Ok(())
    }

    /// Checkpoints beyond the end of the chain: a valid one proves that the
    /// entries up to it existed and were deleted. Signatures are checked first
    /// so a forged checkpoint cannot fake a truncation.
    fn check_tail(&mut self) -> Result<(), ChainFault> {
        let mut furthest = None;
        for cp in self.pending.by_ref() {
            check_signature(self.key, cp)?;
            furthest = Some(cp.seq);
        }
        if let Some(checkpoint_seq) = furthest {
            return Err(ChainFault::TruncatedAfterCheckpoint {
                checkpoint_seq,
                last_seq: self.head.seq,
            });
        }
        if let Some(anchor) = self.anchors.by_ref().last() {
            return Err(ChainFault::TruncatedBeforeAnchor {
                anchor_seq: anchor.seq,
                last_seq: self.head.seq,
            });
        }
        // An unsigned tail older than the bound: its checkpoint was deleted.
        if let (Some(bound), Some((from_seq, from_ms))) = (self.bound, self.unsigned_from)
            && bound.now_ms.saturating_sub(from_ms) > bound.ms_max
        {
            return Err(ChainFault::MissingCheckpoint {
                from_seq,
                to_seq: self.head.seq,
            });
        }
        Ok(())
    }

    fn report(self, first_fault: Option<ChainFault>) -> VerifyReport {
        VerifyReport {
            entries_checked: self.rows_read,
            checkpoints_checked: self.checkpoints_ok,
            last_seq: self.head.seq,
            head_hash: self.head.hash,
            last_checkpoint_seq: self.last_checkpoint,
            first_fault,
        }
    }
}

fn check_signature(key: &AuditPublicKey, cp: &Checkpoint) -> Result<(), ChainFault> {
    if key.verify(cp) {
        Ok(())
    } else {
        Err(ChainFault::BadSignature { seq: cp.seq })
    }
}
