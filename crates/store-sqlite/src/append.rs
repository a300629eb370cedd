//! Appending one request's events to the log (which is the audit chain) with their projections.
//! Runs on the writer thread inside the request's savepoint; the caller commits or rolls back.

use audit::ChainHead;
use rusqlite::Connection;
use store::{Append, AppendOutcome, Projection, SearchKeys};

use crate::fault::{Fault, conflict, taken_columns};
use crate::{cbec, ecommerce, projection, rows};

/// Records `append` after `head`, advancing `head`. Anything but `Appended` must be rolled back
/// by the caller (a version conflict may be found after the main event was written).
/// `keys`: the search keys of the declarations `append` writes, read before the write.
pub(crate) fn record(
    tx: &Connection,
    append: &Append,
    keys: &SearchKeys,
    head: &mut ChainHead,
) -> Result<AppendOutcome, Fault> {
    let scope = &append.idempotency_scope;
    if let Some((first, digest)) = rows::event_by_idempotency(tx, scope, &append.idempotency_key)? {
        let same_request = digest == append.request_digest;
        return Ok(AppendOutcome::Duplicate {
            first,
            same_request,
        });
    }
    // A purchase that does not fit, or whose order was booked before, stops the append.
    if let Some(booking) = &append.cbec_purchase
        && let Some(refused) = cbec::book(tx, booking, head)?.refused_append()
    {
        return Ok(refused);
    }
    // A message received before (its guid recorded) is answered, not recorded again.
    if let Some(already) = ecommerce::already_received(tx, append)? {
        return Ok(already);
    }
    // A debit the agent's guarantee does not cover stops the append.
    if let Some(debit) = &append.guarantee_debit
        && let Some(exhausted) = ecommerce::debit(tx, append, debit, head)?
    {
        return Ok(exhausted);
    }
    let main_seq = head.seq + 1;
    for draft in store::event_drafts(append) {
        if let Some(conflict) = version_conflict(tx, &draft)? {
            return Ok(conflict);
        }
        let event = NewEvent {
            actor: draft.actor,
            recorded_at_ms: append.recorded_at_ms,
            idempotency_scope: &append.idempotency_scope,
            idempotency_key: &draft.idempotency_key,
            request_digest: &append.request_digest,
            subject: draft.subject,
            action: draft.action,
            payload: draft.payload,
            projection: &recorded_projection(draft.projection)?,
        };
        insert_event(tx, &event, head)?;
        // The projection may point at the event just inserted (a declaration's document).
        projection::apply(tx, draft.projection, head.seq, keys)?;
    }
    Ok(AppendOutcome::Appended { seq: main_seq })
}

/// Optimistic concurrency against the declarations projection (see
/// [`store::EventDraft::versioned_declaration`]).
fn version_conflict(
    tx: &Connection,
    draft: &store::EventDraft<'_>,
) -> Result<Option<AppendOutcome>, Fault> {
    let Some(declaration_id) = draft.versioned_declaration() else {
        return Ok(None);
    };
    Ok(draft.version_conflict(rows::declaration_version(tx, declaration_id)?))
}

pub(crate) use store::NewEvent;

/// The text of a projection the chain covers: serde's JSON of it, without the contents the
/// projection type marks as kept once beside the chain.
pub(crate) fn recorded_projection(projection: &Projection) -> Result<String, Fault> {
    serde_json::to_string(projection)
        .map_err(|err| Fault::Database(anyhow::anyhow!("recording a projection: {err}")))
}

/// Chains the event after `head` and inserts it with both hashes.
pub(crate) fn insert_event(
    tx: &Connection,
    event: &NewEvent<'_>,
    head: &mut ChainHead,
) -> Result<(), Fault> {
    let entry = event.entry_ref(head.seq + 1);
    let prev_hash = head.hash;
    let entry_hash = head.append_borrowed(&entry);
    let sql = "INSERT INTO events (seq, subject, action, actor_user, actor_role, recorded_at_ms, \
         idempotency_scope, idempotency_key, request_digest, payload, prev_hash, entry_hash, \
         encoding_version, projection) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
    let values = rusqlite::params![
        entry.seq,
        entry.subject,
        entry.action,
        entry.actor,
        entry.role,
        entry.recorded_at_ms,
        entry.idempotency_scope,
        entry.idempotency_key,
        entry.request_digest,
        entry.payload,
        prev_hash,
        entry_hash,
        entry.encoding_version,
        entry.projection,
    ];
    tx.prepare_cached(sql)?.execute(values).map_err(|err| {
        // Only a linked key can collide here (`<key>#n` used directly as a request key):
        // the main key was looked up first.
        if taken_columns(&err).is_some_and(|columns| columns.contains("idempotency_key")) {
            conflict(format!("idempotency key {}", entry.idempotency_key))
        } else {
            err.into()
        }
    })?;
    Ok(())
}
