//! Pure rules every store applies the same way, kept here so that the SQLite and PostgreSQL
//! stores cannot drift apart: when a checkpoint is due, what a CBEC booking event says, how
//! linked events are keyed, what an effective date looks like.

use crate::{
    Actor, Append, AppendOutcome, CbecBooked, CbecBooking, CbecBookingOutcome, Projection,
    StoreError,
};

/// When a store signs a checkpoint of its chain head on its own.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    pub every_entries: u64,
    pub every_ms: i64,
}

/// What a store saw of its chain, to decide cheaply whether a checkpoint is due without
/// another query.
#[derive(Debug, Clone, Copy)]
pub struct ChainPosition {
    pub head_seq: u64,
    pub last_checkpoint_seq: u64,
    /// When the last checkpoint was signed; the store's start time if there is none yet.
    pub last_checkpoint_at_ms: i64,
}

impl CheckpointPolicy {
    pub fn is_due(&self, position: &ChainPosition, now_ms: i64) -> bool {
        let new_entries = position
            .head_seq
            .saturating_sub(position.last_checkpoint_seq);
        let elapsed_ms = now_ms.saturating_sub(position.last_checkpoint_at_ms);
        new_entries > 0 && (new_entries >= self.every_entries || elapsed_ms >= self.every_ms)
    }
}

/// The event recording a CBEC booking.
pub const CBEC_BOOKED_ACTION: &str = "cbec.purchase_booked";
/// Booking events are keyed by order reference in this idempotency scope, so the chain itself
/// holds at most one booking per order.
pub const CBEC_IDEMPOTENCY_SCOPE: &str = "cbec-ledger";

/// The subject of a booking's event: the buyer's year.
pub fn cbec_subject(b: &CbecBooking) -> String {
    format!("cbec:{}:{}", b.buyer_id, b.year)
}

/// Why the ledger must refuse a booking, if it must: a negative or zero amount would lower the
/// year's total, and anything but a hash as the buyer could put an ID-card number in the chain.
pub fn cbec_refusal(b: &CbecBooking) -> Option<String> {
    let is_hash = b.buyer_id.len() == 64
        && b.buyer_id
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !is_hash {
        // Never echo the value: it may be the very number that must not be stored.
        return Some("a CBEC buyer must be identified by a 64-character lowercase hex hash".into());
    }
    if b.amount_fen <= 0 {
        return Some(format!(
            "CBEC order {}: the amount must be positive",
            b.order_ref
        ));
    }
    if b.annual_limit_fen < 0 {
        return Some(format!(
            "CBEC order {}: the annual limit is negative",
            b.order_ref
        ));
    }
    if b.order_ref.is_empty() {
        return Some("a CBEC order needs a reference".into());
    }
    None
}

/// Canonical JSON of the booking event: minified, keys in byte order, integers for money.
pub fn cbec_payload(b: &CbecBooking, year_to_date_fen: i64) -> String {
    format!(
        r#"{{"amount_fen":{},"annual_limit_fen":{},"buyer_id":{},"order_ref":{},"year":{},"year_to_date_fen":{}}}"#,
        b.amount_fen,
        b.annual_limit_fen,
        json_string(&b.buyer_id),
        json_string(&b.order_ref),
        b.year,
        year_to_date_fen
    )
}

/// A JSON string literal with the escapes RFC 8259 requires (and only those).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The idempotency key of an append's `n`th linked event (from 1): `<key>#<n>`, so that every
/// event has its own place in the unique (scope, key) index and is found from the request's key.
pub fn linked_idempotency_key(key: &str, n: usize) -> String {
    format!("{key}#{n}")
}

/// `YYYY-MM-DD` exactly, and a real date.
pub fn is_iso_date(text: &str) -> bool {
    text.len() == 10
        && text.bytes().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// One event of an append: the main event or a linked one, which shares the main event's time
/// and idempotency scope, and its actor unless it names its own (the system's acts).
pub struct EventDraft<'a> {
    pub actor: &'a Actor,
    pub subject: &'a str,
    pub action: &'a str,
    pub payload: &'a str,
    pub expected_version: Option<u32>,
    pub projection: &'a Projection,
    pub idempotency_key: String,
}

/// The main event, then the linked ones keyed by [`linked_idempotency_key`].
pub fn event_drafts(append: &Append) -> impl Iterator<Item = EventDraft<'_>> {
    let main = EventDraft {
        actor: &append.actor,
        subject: &append.subject,
        action: &append.action,
        payload: &append.payload,
        expected_version: append.expected_version,
        projection: &append.projection,
        idempotency_key: append.idempotency_key.clone(),
    };
    let linked = append
        .linked
        .iter()
        .enumerate()
        .map(|(i, linked)| EventDraft {
            actor: linked.actor.as_ref().unwrap_or(&append.actor),
            subject: &linked.subject,
            action: &linked.action,
            payload: &linked.payload,
            expected_version: linked.expected_version,
            projection: &linked.projection,
            idempotency_key: linked_idempotency_key(&append.idempotency_key, i + 1),
        });
    std::iter::once(main).chain(linked)
}

impl EventDraft<'_> {
    /// Optimistic concurrency against the declarations projection: the declaration whose
    /// version must be checked, if any. `expected_version: None` means "must not exist yet" for
    /// a new declaration and "no check" for anything else; `Some(v)` means the declaration must
    /// be at exactly `v`. Other events may still be decided on a declaration's state (their
    /// subject).
    pub fn versioned_declaration(&self) -> Option<&str> {
        let (declaration_id, must_be_new) = match self.projection {
            Projection::NewDeclaration(row) => (row.id.as_str(), true),
            Projection::UpdateDeclaration(update) => (update.id.as_str(), false),
            _ => (self.subject, false),
        };
        (self.expected_version.is_some() || must_be_new).then_some(declaration_id)
    }

    /// The conflict, if the declaration's `current` version is not the expected one.
    pub fn version_conflict(&self, current: Option<u32>) -> Option<AppendOutcome> {
        (current != self.expected_version).then(|| AppendOutcome::VersionConflict {
            subject: self.subject.to_owned(),
            current_version: current,
        })
    }
}

/// A repeated order reference: the first booking, and whether this one is the same (an honest
/// retry) or not (a reused reference).
pub fn cbec_duplicate(first: CbecBooked, b: &CbecBooking) -> CbecBookingOutcome {
    let same_booking =
        first.buyer_id == b.buyer_id && first.year == b.year && first.amount_fen == b.amount_fen;
    CbecBookingOutcome::Duplicate {
        first,
        same_booking,
    }
}

/// The buyer's total after booking `b` on top of `year_to_date_fen`, or the refusal when it
/// would pass the limit (reaching it exactly is allowed).
pub fn cbec_total_after(b: &CbecBooking, year_to_date_fen: i64) -> Result<i64, CbecBookingOutcome> {
    match year_to_date_fen.checked_add(b.amount_fen) {
        Some(after) if after <= b.annual_limit_fen => Ok(after),
        _ => Err(CbecBookingOutcome::Exceeded {
            year_to_date_fen,
            room_fen: b.annual_limit_fen.saturating_sub(year_to_date_fen).max(0),
        }),
    }
}

/// A CBEC ledger row as its booking event's payload ([`cbec_payload`]) holds it, to rebuild the
/// ledger from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecLedgerEntry {
    pub order_ref: String,
    pub buyer_id: String,
    pub year: i32,
    pub amount_fen: i64,
    pub year_to_date_fen: i64,
}

/// Reads a booking event's payload back; the error says what is wrong with it.
pub fn cbec_ledger_entry(payload: &str) -> Result<CbecLedgerEntry, String> {
    let value: serde_json::Value = serde_json::from_str(payload)
        .map_err(|err| format!("its payload is unreadable ({err})"))?;
    let text = |key: &str| value[key].as_str().map(str::to_owned);
    let number = |key: &str| value[key].as_i64();
    let (Some(order_ref), Some(buyer_id), Some(year), Some(amount_fen), Some(year_to_date_fen)) = (
        text("order_ref"),
        text("buyer_id"),
        number("year").and_then(|year| i32::try_from(year).ok()),
        number("amount_fen"),
        number("year_to_date_fen"),
    ) else {
        return Err("its payload lacks a field of the ledger row".to_owned());
    };
    Ok(CbecLedgerEntry {
        order_ref,
        buyer_id,
        year,
        amount_fen,
        year_to_date_fen,
    })
}

/// Where a watch-list entry stands, as a store reads it in the writer's transaction.
pub struct WatchStanding {
    pub added_by: String,
    pub approved: bool,
    pub removal_requested_by: Option<String>,
    pub removed: bool,
}

/// What a change to a watch-list entry writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchChange {
    /// `approved_by` and `approved_seq`: the entry comes into force.
    Approve,
    /// `removal_requested_by` and `removal_requested_seq`: four eyes on taking it off.
    RequestRemoval,
    /// `removed_by` and `removed_seq`: it is off the list.
    Remove,
}

impl WatchStanding {
    /// Taking the entry off: a proposal is withdrawn at once, an entry in force gets a removal
    /// request (four eyes).
    pub fn removal(&self, id: &str) -> Result<WatchChange, StoreError> {
        if self.removed {
            return Err(StoreError::Conflict(format!("watch entry {id} is removed")));
        }
        if self.removal_requested_by.is_some() {
            return Err(StoreError::Conflict(format!(
                "watch entry {id} has a removal awaiting approval"
            )));
        }
        Ok(if self.approved {
            WatchChange::RequestRemoval
        } else {
            WatchChange::Remove
        })
    }

    /// Approving what awaits approval (its addition or its removal), never by the analyst who
    /// asked for it.
    pub fn approval(&self, id: &str, approver: &str) -> Result<WatchChange, StoreError> {
        if self.removed {
            return Err(StoreError::Conflict(format!("watch entry {id} is removed")));
        }
        let (asked_by, change) = match (&self.removal_requested_by, self.approved) {
            (None, false) => (&self.added_by, WatchChange::Approve),
            (Some(requested_by), true) => (requested_by, WatchChange::Remove),
            _ => {
                return Err(StoreError::Conflict(format!(
                    "watch entry {id} has nothing awaiting approval"
                )));
            }
        };
        if asked_by == approver {
            return Err(StoreError::Conflict(format!(
                "watch entry {id}: who asked for the change cannot approve it"
            )));
        }
        Ok(change)
    }
}

impl CbecBookingOutcome {
    /// What an append carrying this booking answers when the booking was not made (nothing is
    /// written then); `None` when it was booked and the append goes on.
    pub fn refused_append(self) -> Option<AppendOutcome> {
        match self {
            CbecBookingOutcome::Booked { .. } => None,
            CbecBookingOutcome::Exceeded {
                year_to_date_fen,
                room_fen,
            } => Some(AppendOutcome::CbecLimitExceeded {
                year_to_date_fen,
                room_fen,
            }),
            CbecBookingOutcome::Duplicate { first, .. } => {
                Some(AppendOutcome::CbecOrderBooked { first })
            }
        }
    }
}

/// The event recording booking `b`, with its `subject` ([`cbec_subject`]) and `payload`
/// ([`cbec_payload`]): keyed by the order reference, so the chain holds one booking per order;
/// no request digest (bookings are deduplicated by reference) and no recorded projection (the
/// ledger row is read back from the payload, which holds all of it).
pub fn cbec_event<'a>(b: &'a CbecBooking, subject: &'a str, payload: &'a str) -> NewEvent<'a> {
    NewEvent {
        actor: &b.actor,
        recorded_at_ms: b.recorded_at_ms,
        idempotency_scope: CBEC_IDEMPOTENCY_SCOPE,
        idempotency_key: &b.order_ref,
        request_digest: "",
        subject,
        action: CBEC_BOOKED_ACTION,
        payload,
        projection: "",
    }
}

/// Why a store refuses a projection before touching any table, if it must: a new row that
/// claims what only the store sets (a seq, an approval, a status other than the first), a date
/// or a credit level that is not one. `live` is false when the projection is replayed from the
/// chain, which does not carry the contents kept beside it (an attachment's bytes). A new user
/// already disabled is refused after its enterprise is found, by the store itself.
pub fn new_row_refusal(projection: &Projection, live: bool) -> Option<String> {
    if let Some(refusal) = crate::ecommerce_refusal(projection, live) {
        return Some(refusal);
    }
    match projection {
        Projection::SaveDraft(d) if d.saved_seq.is_some() => {
            Some(format!("draft {} must be saved without a seq", d.id))
        }
        Projection::AddDocument { document: d, .. } if d.added_seq.is_some() => {
            Some(format!("document {} must be added without a seq", d.digest))
        }
        Projection::NewToken(t) if t.revoked_seq.is_some() => {
            Some("a new token cannot be revoked already".to_owned())
        }
        Projection::NewRelease { release: r, .. }
            if r.status != "imported"
                || r.effective_from.is_some()
                || r.activated_seq.is_some()
                || r.rolled_back_seq.is_some() =>
        {
            Some(format!(
                "release {} must be imported as status `imported`, without activation",
                r.id
            ))
        }
        Projection::ActivateRelease { id, effective_from } if !is_iso_date(effective_from) => Some(
            format!("release {id}: the effective date {effective_from:?} is not a YYYY-MM-DD date"),
        ),
        Projection::ProposeRule(r)
            if r.status != "proposed"
                || r.approved_by.is_some()
                || r.approved_seq.is_some()
                || r.ended_seq.is_some() =>
        {
            Some(format!(
                "rule {} v{} must be proposed as status `proposed`, without approval",
                r.id, r.version
            ))
        }
        Projection::NewTask(t)
            if t.status != "open"
                || t.created_seq.is_some()
                || t.closed_seq.is_some()
                || t.outcome.is_some() =>
        {
            Some(format!(
                "task {} must be created as status `open`, without seqs or an outcome",
                t.id
            ))
        }
        Projection::ImportHistory { batch: b, .. } if b.imported_seq.is_some() => Some(format!(
            "history batch {} must be imported without a seq",
            b.id
        )),
        Projection::NewRiskModel { model: m, .. }
            if m.status != "shadow"
                || m.created_seq.is_some()
                || m.promoted_seq.is_some()
                || m.ended_seq.is_some() =>
        {
            Some(format!(
                "risk model {} must be registered in shadow, without seqs",
                m.id
            ))
        }
        Projection::AddAttachment {
            attachment: a,
            content,
        } if a.added_seq.is_some() || (live && a.size != content.len() as u64) => Some(format!(
            "attachment {} must be added without a seq and with its size",
            a.digest
        )),
        Projection::AddWatchEntry(e)
            if e.added_seq.is_some()
                || e.removed_seq.is_some()
                || e.approved_seq.is_some()
                || e.approved_by.is_some()
                || e.removal_requested_seq.is_some()
                || e.removal_requested_by.is_some()
                || e.removed_by.is_some() =>
        {
            Some(format!("watch entry {} must be added without seqs", e.id))
        }
        Projection::SetCreditLevel { credit_code, level }
            if !crate::CREDIT_LEVELS.contains(&level.as_str()) =>
        {
            Some(format!(
                "enterprise {credit_code}: {level:?} is not a credit level"
            ))
        }
        _ => None,
    }
}

/// What one event records in the audit chain besides its seq and hashes.
pub struct NewEvent<'a> {
    pub actor: &'a Actor,
    pub recorded_at_ms: i64,
    pub idempotency_scope: &'a str,
    pub idempotency_key: &'a str,
    pub request_digest: &'a str,
    pub subject: &'a str,
    pub action: &'a str,
    pub payload: &'a str,
    /// The projection as recorded in the chain (serde's JSON of it); empty when the table row
    /// is read from the payload (a CBEC booking).
    pub projection: &'a str,
}

impl NewEvent<'_> {
    /// The chain entry of this event at `seq`, in the current encoding: what both stores hash,
    /// so `audit::verify_chain` verifies either's chain.
    /// The event as the chain entry at `seq`, borrowed: hashed and inserted without copying the
    /// payload (the writer's time is the store's bottleneck).
    pub fn entry_ref(&self, seq: u64) -> audit::EntryRef<'_> {
        audit::EntryRef {
            encoding_version: audit::ENCODING_VERSION,
            idempotency_scope: self.idempotency_scope,
            request_digest: self.request_digest,
            projection: self.projection,
            seq,
            recorded_at_ms: self.recorded_at_ms,
            actor: &self.actor.user_id,
            role: &self.actor.role,
            action: self.action,
            subject: self.subject,
            idempotency_key: self.idempotency_key,
            payload: self.payload,
        }
    }

    pub fn audit_entry(&self, seq: u64) -> audit::AuditEntry {
        audit::AuditEntry {
            encoding_version: audit::ENCODING_VERSION,
            idempotency_scope: self.idempotency_scope.to_owned(),
            request_digest: self.request_digest.to_owned(),
            projection: self.projection.to_owned(),
            seq,
            recorded_at_ms: self.recorded_at_ms,
            actor: self.actor.user_id.clone(),
            role: self.actor.role.clone(),
            action: self.action.to_owned(),
            subject: self.subject.to_owned(),
            idempotency_key: self.idempotency_key.to_owned(),
            payload: self.payload.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
    }

    #[test]
    fn effective_dates_are_real_iso_dates() {
        assert!(is_iso_date("2026-02-28"));
        assert!(!is_iso_date("2026-02-30"));
        assert!(!is_iso_date("2026-2-28"));
    }
}
