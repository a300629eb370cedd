//! Mapping database rows to the store's row types, and the lookups both the writer and the
//! readers need. Bad data (a NULL where a value belongs, a hash of the wrong length, a negative
//! seq) comes back as an error from rusqlite's conversions, never as a panic.

use audit::{AuditEntry, ChainHead, Checkpoint, StoredEntry};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};
use store::{
    Actor, DeclarationCursor, DeclarationRow, EnterpriseRow, EventRow, ReleaseRow, RiskRuleRow,
    TaskRow, TokenRow, UserRow,
};

/// Declaration columns in the order [`declaration`] reads them, starting at index 0, selected
/// from [`DECLARATIONS`]. The document is the `declaration` member of the payload of the event
/// the row points at: `json_extract` returns an object member as minified JSON text, which is
/// the writer's own (already minified) text byte for byte.
pub(crate) const DECLARATION_COLUMNS: &str = "d.id, d.number, d.direction, d.kind, d.status, \
     d.office_of_lodging, d.trader_credit_code, d.declarant_credit_code, d.summary_number, \
     d.completed_by, d.lodged_at_ms, d.updated_at_ms, d.version, \
     json_extract(e.payload, '$.declaration') AS document, d.row";

/// Declarations (`d`) with the event carrying each one's document (`e`). A LEFT JOIN, so that a
/// declaration whose document event is missing (a damaged file) is an error when read, not
/// silently absent; it also keeps `declarations` the outer loop of every plan.
pub(crate) const DECLARATIONS: &str = "declarations d LEFT JOIN events e ON e.seq = d.document_seq";

pub(crate) fn declaration(row: &Row<'_>) -> rusqlite::Result<DeclarationRow> {
    let document: Option<String> = row.get(13)?;
    let document = document.ok_or_else(|| {
        let id = row.get::<_, String>(0).unwrap_or_default();
        let message = format!("declaration {id} has no document: its event is missing or altered");
        rusqlite::Error::FromSqlConversionFailure(13, Type::Null, message.into())
    })?;
    Ok(DeclarationRow {
        id: row.get(0)?,
        number: row.get(1)?,
        direction: row.get(2)?,
        kind: row.get(3)?,
        status: row.get(4)?,
        office_of_lodging: row.get(5)?,
        trader_credit_code: row.get(6)?,
        declarant_credit_code: row.get(7)?,
        summary_number: row.get(8)?,
        completed_by: row.get(9)?,
        lodged_at_ms: row.get(10)?,
        updated_at_ms: row.get(11)?,
        version: row.get(12)?,
        document,
    })
}

/// The keyset position of a row read with [`DECLARATION_COLUMNS`].
pub(crate) fn declaration_cursor(row: &Row<'_>) -> rusqlite::Result<DeclarationCursor> {
    Ok(DeclarationCursor {
        lodged_at_ms: row.get(10)?,
        row: row.get(14)?,
    })
}

/// Event columns in the order [`event`] and [`stored_entry`] read them.
pub(crate) const EVENT_COLUMNS: &str = "seq, subject, action, actor_user, actor_role, \
     recorded_at_ms, idempotency_key, payload, request_digest, prev_hash, entry_hash, \
     encoding_version, idempotency_scope, projection";

pub(crate) fn event(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: row.get(0)?,
        subject: row.get(1)?,
        action: row.get(2)?,
        actor: Actor {
            user_id: row.get(3)?,
            role: row.get(4)?,
        },
        recorded_at_ms: row.get(5)?,
        idempotency_key: row.get(6)?,
        request_digest: row.get(8)?,
        payload: row.get(7)?,
    })
}

/// An event as the audit chain sees it, with both stored hashes so the verifier checks what is
/// actually on disk.
pub(crate) fn stored_entry(row: &Row<'_>) -> rusqlite::Result<StoredEntry> {
    let event = event(row)?;
    Ok(StoredEntry {
        entry: AuditEntry {
            encoding_version: row.get(11)?,
            idempotency_scope: row.get(12)?,
            request_digest: event.request_digest,
            projection: row.get(13)?,
            seq: event.seq,
            recorded_at_ms: event.recorded_at_ms,
            actor: event.actor.user_id,
            role: event.actor.role,
            action: event.action,
            subject: event.subject,
            idempotency_key: event.idempotency_key,
            payload: event.payload,
        },
        prev_hash: row.get(9)?,
        entry_hash: row.get(10)?,
    })
}

pub(crate) const CHECKPOINT_COLUMNS: &str = "seq, head_hash, signed_at_ms, key_id, signature";

pub(crate) fn checkpoint(row: &Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: row.get(0)?,
        head_hash: row.get(1)?,
        signed_at_ms: row.get(2)?,
        key_id: row.get(3)?,
        signature: row.get(4)?,
    })
}

pub(crate) const ENTERPRISE_COLUMNS: &str = "id, credit_code, customs_code, name";

pub(crate) fn enterprise(row: &Row<'_>) -> rusqlite::Result<EnterpriseRow> {
    Ok(EnterpriseRow {
        id: row.get(0)?,
        credit_code: row.get(1)?,
        customs_code: row.get(2)?,
        name: row.get(3)?,
    })
}

pub(crate) const USER_COLUMNS: &str = "id, name, role, enterprise_id, disabled_seq";

pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        enterprise_id: row.get(3)?,
        disabled_seq: row.get::<_, Option<i64>>(4)?.map(|seq| seq as u64),
    })
}

/// Token columns in the order [`token`] reads them.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, token_hash, user_id, created_at_ms, expires_at_ms, revoked_seq";

pub(crate) fn token(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        user_id: row.get(2)?,
        created_at_ms: row.get(3)?,
        expires_at_ms: row.get(4)?,
        revoked_seq: row.get::<_, Option<i64>>(5)?.map(|seq| seq as u64),
    })
}

/// Release columns in the order [`release`] reads them.
pub(crate) const RELEASE_COLUMNS: &str = "id, kind, label, digest, imported_at_ms, imported_by, \
     status, effective_from, activated_seq, rolled_back_seq, summary";

pub(crate) fn release(row: &Row<'_>) -> rusqlite::Result<ReleaseRow> {
    Ok(ReleaseRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        label: row.get(2)?,
        digest: row.get(3)?,
        imported_at_ms: row.get(4)?,
        imported_by: row.get(5)?,
        status: row.get(6)?,
        effective_from: row.get(7)?,
        activated_seq: row.get(8)?,
        rolled_back_seq: row.get(9)?,
        summary: row.get(10)?,
    })
}

pub(crate) const RISK_RULE_COLUMNS: &str = "id, version, status, definition, author, \
     proposed_at_ms, approved_by, approved_seq, ended_seq";

pub(crate) fn risk_rule(row: &Row<'_>) -> rusqlite::Result<RiskRuleRow> {
    Ok(RiskRuleRow {
        id: row.get(0)?,
        version: row.get(1)?,
        status: row.get(2)?,
        definition: row.get(3)?,
        author: row.get(4)?,
        proposed_at_ms: row.get(5)?,
        approved_by: row.get(6)?,
        approved_seq: row.get(7)?,
        ended_seq: row.get(8)?,
    })
}

/// Watch-list columns in the order [`watch_entry`] reads them.
pub(crate) const WATCH_ENTRY_COLUMNS: &str = "id, kind, value, reason_en, reason_zh, action, \
     valid_from, valid_to, added_by, added_at_ms, added_seq, removed_seq, approved_by, \
     approved_seq, removal_requested_by, removal_requested_seq, removed_by";

pub(crate) fn watch_entry(row: &Row<'_>) -> rusqlite::Result<store::WatchEntryRow> {
    Ok(store::WatchEntryRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        value: row.get(2)?,
        reason_en: row.get(3)?,
        reason_zh: row.get(4)?,
        action: row.get(5)?,
        valid_from: row.get(6)?,
        valid_to: row.get(7)?,
        added_by: row.get(8)?,
        added_at_ms: row.get(9)?,
        added_seq: Some(row.get(10)?),
        removed_seq: row.get(11)?,
        approved_by: row.get(12)?,
        approved_seq: row.get(13)?,
        removal_requested_by: row.get(14)?,
        removal_requested_seq: row.get(15)?,
        removed_by: row.get(16)?,
    })
}

/// Task columns in the order [`task`] reads them.
pub(crate) const TASK_COLUMNS: &str = "id, declaration_id, kind, office, assigned_to, status, \
     created_at_ms, created_seq, closed_seq, outcome";

pub(crate) fn task(row: &Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        id: row.get(0)?,
        declaration_id: row.get(1)?,
        kind: row.get(2)?,
        office: row.get(3)?,
        assigned_to: row.get(4)?,
        status: row.get(5)?,
        created_at_ms: row.get(6)?,
        created_seq: Some(row.get(7)?),
        closed_seq: row.get(8)?,
        outcome: row.get(9)?,
    })
}

/// The first event recorded under an idempotency key, with the digest of its request.
pub(crate) fn event_by_idempotency(
    conn: &Connection,
    scope: &str,
    key: &str,
) -> rusqlite::Result<Option<(EventRow, String)>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE idempotency_scope = ?1 AND idempotency_key = ?2"
    );
    conn.prepare_cached(&sql)?
        .query_row((scope, key), |row| Ok((event(row)?, row.get(8)?)))
        .optional()
}

/// The chain head as stored: read inside each write transaction rather than kept in memory,
/// because another process (the CLI) may have appended since.
pub(crate) fn chain_head(conn: &Connection) -> rusqlite::Result<ChainHead> {
    let head = conn
        .prepare_cached("SELECT seq, entry_hash FROM events ORDER BY seq DESC LIMIT 1")?
        .query_row((), |row| {
            Ok(ChainHead {
                seq: row.get(0)?,
                hash: row.get(1)?,
            })
        })
        .optional()?;
    Ok(head.unwrap_or_else(ChainHead::genesis))
}

/// The newest checkpoint's seq and signing time, if any.
pub(crate) fn last_checkpoint(conn: &Connection) -> rusqlite::Result<Option<(u64, i64)>> {
    conn.prepare_cached("SELECT seq, signed_at_ms FROM checkpoints ORDER BY seq DESC LIMIT 1")?
        .query_row((), |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

/// The projection version of a declaration, `None` if it does not exist.
pub(crate) fn declaration_version(conn: &Connection, id: &str) -> rusqlite::Result<Option<u32>> {
    conn.prepare_cached("SELECT version FROM declarations WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()
}
