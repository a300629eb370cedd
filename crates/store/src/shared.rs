//! Pure rules every store applies the same way, kept here so that the SQLite and PostgreSQL
//! stores cannot drift apart: when a checkpoint is due, what a CBEC booking event says, how
//! linked events are keyed, what an effective date looks like.

use crate::CbecBooking;

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
