//! Mapping rows to the store's row types. Bad data (a hash of the wrong length, a negative seq)
//! comes back as an error, never as a panic.

use anyhow::{Context, anyhow};
use audit::{AuditEntry, Checkpoint, StoredEntry};
use serde_json::value::RawValue;
use store::{
    Actor, DeclarationRow, EnterpriseRow, EventRow, ReleaseRow, RiskRuleRow, TaskRow, TokenRow,
    UserRow,
};
use tokio_postgres::Row;

pub(crate) fn u64_at(row: &Row, i: usize) -> anyhow::Result<u64> {
    let v: i64 = row.try_get(i)?;
    u64::try_from(v).map_err(|_| anyhow!("column {i} holds a negative count or seq: {v}"))
}

pub(crate) fn opt_u64_at(row: &Row, i: usize) -> anyhow::Result<Option<u64>> {
    let v: Option<i64> = row.try_get(i)?;
    v.map(|v| u64::try_from(v).map_err(|_| anyhow!("column {i} holds a negative seq: {v}")))
        .transpose()
}

fn u32_at(row: &Row, i: usize) -> anyhow::Result<u32> {
    let v: i64 = row.try_get(i)?;
    u32::try_from(v).map_err(|_| anyhow!("column {i} holds {v}, not a version"))
}

fn array<const N: usize>(row: &Row, i: usize) -> anyhow::Result<[u8; N]> {
    let bytes: Vec<u8> = row.try_get(i)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow!("column {i} holds {} bytes, not {N}", bytes.len()))
}

/// Parameters are i64 in PostgreSQL; a seq or count past i64 is refused rather than wrapped.
pub(crate) fn i64_of(v: u64) -> anyhow::Result<i64> {
    i64::try_from(v).map_err(|_| anyhow!("{v} is too large for the database"))
}

/// Declaration columns in the order [`declaration`] reads them, from [`DECLARATIONS`]. The
/// document is taken from the payload of the event the row points at, in Rust ([`document`]):
/// jsonb would re-encode it, and it must read back byte for byte.
pub(crate) const DECLARATION_COLUMNS: &str = "d.id, d.number, d.direction, d.kind, d.status, \
     d.office_of_lodging, d.trader_credit_code, d.declarant_credit_code, d.summary_number, \
     d.completed_by, d.lodged_at_ms, d.updated_at_ms, d.version, e.payload, d.row";

/// A LEFT JOIN, so that a declaration whose document event is missing is an error when read,
/// not silently absent.
pub(crate) const DECLARATIONS: &str = "declarations d LEFT JOIN events e ON e.row = d.document_seq";

/// The `declaration` member of an event's payload, exactly as the payload holds it (the payload
/// is minified canonical JSON, so this is the text SQLite's `json_extract` gives too).
pub(crate) fn document(payload: &str) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct Carrier<'a> {
        #[serde(borrow)]
        declaration: Option<&'a RawValue>,
    }
    let carrier: Carrier<'_> = serde_json::from_str(payload).ok()?;
    let raw = carrier.declaration?.get();
    raw.starts_with('{').then_some(raw)
}

pub(crate) fn declaration(row: &Row) -> anyhow::Result<DeclarationRow> {
    let id: String = row.try_get(0)?;
    let payload: Option<String> = row.try_get(13)?;
    let document = payload
        .as_deref()
        .and_then(document)
        .with_context(|| {
            format!("declaration {id} has no document: its event is missing or altered")
        })?
        .to_owned();
    Ok(DeclarationRow {
        id,
        number: row.try_get(1)?,
        direction: row.try_get(2)?,
        kind: row.try_get(3)?,
        status: row.try_get(4)?,
        office_of_lodging: row.try_get(5)?,
        trader_credit_code: row.try_get(6)?,
        declarant_credit_code: row.try_get(7)?,
        summary_number: row.try_get(8)?,
        completed_by: row.try_get(9)?,
        lodged_at_ms: row.try_get(10)?,
        updated_at_ms: row.try_get(11)?,
        version: u32_at(row, 12)?,
        document,
    })
}

/// An event's columns: first its global `row` (what [`EventRow::seq`] and the projections call
/// its seq), last its chain's seq and its chain (what the audit entry is hashed with).
pub(crate) const EVENT_COLUMNS: &str = "row, subject, action, actor_user, actor_role, \
     recorded_at_ms, idempotency_key, payload, request_digest, prev_hash, entry_hash, \
     encoding_version, idempotency_scope, projection, seq, chain";

/// [`EVENT_COLUMNS`] of the events table named `e`.
pub(crate) const EVENT_COLUMNS_OF_E: &str = "e.row, e.subject, e.action, e.actor_user, \
     e.actor_role, e.recorded_at_ms, e.idempotency_key, e.payload, e.request_digest, \
     e.prev_hash, e.entry_hash, e.encoding_version, e.idempotency_scope, e.projection, e.seq, \
     e.chain";

pub(crate) fn event(row: &Row) -> anyhow::Result<EventRow> {
    Ok(EventRow {
        seq: u64_at(row, 0)?,
        subject: row.try_get(1)?,
        action: row.try_get(2)?,
        actor: Actor {
            user_id: row.try_get(3)?,
            role: row.try_get(4)?,
        },
        recorded_at_ms: row.try_get(5)?,
        idempotency_key: row.try_get(6)?,
        payload: row.try_get(7)?,
        request_digest: row.try_get(8)?,
    })
}

pub(crate) fn stored_entry(row: &Row) -> anyhow::Result<StoredEntry> {
    let event = event(row)?;
    let version: i16 = row.try_get(11)?;
    Ok(StoredEntry {
        entry: AuditEntry {
            encoding_version: u8::try_from(version)
                .map_err(|_| anyhow!("entry {}: encoding version {version}", event.seq))?,
            idempotency_scope: row.try_get(12)?,
            request_digest: event.request_digest,
            projection: row.try_get(13)?,
            seq: u64_at(row, 14)?,
            recorded_at_ms: event.recorded_at_ms,
            actor: event.actor.user_id,
            role: event.actor.role,
            action: event.action,
            subject: event.subject,
            idempotency_key: event.idempotency_key,
            payload: event.payload,
        },
        prev_hash: array(row, 9)?,
        entry_hash: array(row, 10)?,
    })
}

pub(crate) const CHECKPOINT_COLUMNS: &str = "seq, head_hash, signed_at_ms, key_id, signature";

pub(crate) fn checkpoint(row: &Row) -> anyhow::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: u64_at(row, 0)?,
        head_hash: array(row, 1)?,
        signed_at_ms: row.try_get(2)?,
        key_id: row.try_get(3)?,
        signature: array(row, 4)?,
    })
}

pub(crate) const ENTERPRISE_COLUMNS: &str = "id, credit_code, customs_code, name";

pub(crate) fn enterprise(row: &Row) -> anyhow::Result<EnterpriseRow> {
    Ok(EnterpriseRow {
        id: row.try_get(0)?,
        credit_code: row.try_get(1)?,
        customs_code: row.try_get(2)?,
        name: row.try_get(3)?,
    })
}

pub(crate) const USER_COLUMNS: &str = "id, name, role, enterprise_id, disabled_seq";

pub(crate) fn user(row: &Row) -> anyhow::Result<UserRow> {
    Ok(UserRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        role: row.try_get(2)?,
        enterprise_id: row.try_get(3)?,
        disabled_seq: opt_u64_at(row, 4)?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str =
    "id, token_hash, user_id, created_at_ms, expires_at_ms, revoked_seq";

pub(crate) fn token(row: &Row) -> anyhow::Result<TokenRow> {
    Ok(TokenRow {
        id: row.try_get(0)?,
        token_hash: row.try_get(1)?,
        user_id: row.try_get(2)?,
        created_at_ms: row.try_get(3)?,
        expires_at_ms: row.try_get(4)?,
        revoked_seq: opt_u64_at(row, 5)?,
    })
}

pub(crate) const RELEASE_COLUMNS: &str = "id, kind, label, digest, imported_at_ms, imported_by, \
     status, effective_from, activated_seq, rolled_back_seq, summary";

pub(crate) fn release(row: &Row) -> anyhow::Result<ReleaseRow> {
    Ok(ReleaseRow {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        label: row.try_get(2)?,
        digest: row.try_get(3)?,
        imported_at_ms: row.try_get(4)?,
        imported_by: row.try_get(5)?,
        status: row.try_get(6)?,
        effective_from: row.try_get(7)?,
        activated_seq: opt_u64_at(row, 8)?,
        rolled_back_seq: opt_u64_at(row, 9)?,
        summary: row.try_get(10)?,
    })
}

pub(crate) const RISK_RULE_COLUMNS: &str = "id, version, status, definition, author, \
     proposed_at_ms, approved_by, approved_seq, ended_seq";

pub(crate) fn risk_rule(row: &Row) -> anyhow::Result<RiskRuleRow> {
    Ok(RiskRuleRow {
        id: row.try_get(0)?,
        version: u32_at(row, 1)?,
        status: row.try_get(2)?,
        definition: row.try_get(3)?,
        author: row.try_get(4)?,
        proposed_at_ms: row.try_get(5)?,
        approved_by: row.try_get(6)?,
        approved_seq: opt_u64_at(row, 7)?,
        ended_seq: opt_u64_at(row, 8)?,
    })
}

pub(crate) const WATCH_ENTRY_COLUMNS: &str = "id, kind, value, reason_en, reason_zh, action, \
     valid_from, valid_to, added_by, added_at_ms, added_seq, removed_seq, approved_by, \
     approved_seq, removal_requested_by, removal_requested_seq, removed_by";

pub(crate) fn watch_entry(row: &Row) -> anyhow::Result<store::WatchEntryRow> {
    Ok(store::WatchEntryRow {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        value: row.try_get(2)?,
        reason_en: row.try_get(3)?,
        reason_zh: row.try_get(4)?,
        action: row.try_get(5)?,
        valid_from: row.try_get(6)?,
        valid_to: row.try_get(7)?,
        added_by: row.try_get(8)?,
        added_at_ms: row.try_get(9)?,
        added_seq: Some(u64_at(row, 10)?),
        removed_seq: opt_u64_at(row, 11)?,
        approved_by: row.try_get(12)?,
        approved_seq: opt_u64_at(row, 13)?,
        removal_requested_by: row.try_get(14)?,
        removal_requested_seq: opt_u64_at(row, 15)?,
        removed_by: row.try_get(16)?,
    })
}

pub(crate) const TASK_COLUMNS: &str = "id, declaration_id, kind, office, assigned_to, status, \
     created_at_ms, created_seq, closed_seq, outcome";

pub(crate) fn task(row: &Row) -> anyhow::Result<TaskRow> {
    Ok(TaskRow {
        id: row.try_get(0)?,
        declaration_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        office: row.try_get(3)?,
        assigned_to: row.try_get(4)?,
        status: row.try_get(5)?,
        created_at_ms: row.try_get(6)?,
        created_seq: Some(u64_at(row, 7)?),
        closed_seq: opt_u64_at(row, 8)?,
        outcome: row.try_get(9)?,
    })
}

/// Maps every row with `f`, stopping at the first error.
pub(crate) fn all<T>(
    rows: Vec<Row>,
    f: impl Fn(&Row) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    rows.iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::document;

    /// The document is the payload's own text of the member, byte for byte: escapes, Chinese
    /// text and nesting untouched (jsonb would re-encode them).
    #[test]
    fn the_document_is_cut_out_of_the_payload_byte_for_byte() {
        let carried = r#"{"a":"\u00e9 货物","n":[1,{"x":1.50}],"q":"\"x\""}"#;
        let payload = format!(r#"{{"declaration":{carried},"lane":"green"}}"#);
        assert_eq!(document(&payload), Some(carried));
    }

    #[test]
    fn a_payload_without_a_declaration_object_carries_no_document() {
        assert_eq!(document(r#"{"lane":"green"}"#), None);
        assert_eq!(document(r#"{"declaration":"text"}"#), None);
        assert_eq!(document("not json"), None);
    }
}
