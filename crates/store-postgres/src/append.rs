//! Appending one request's events to the log (which is the audit chain) with their projections,
//! inside the append's own transaction, after its chain's head row was locked.

use audit::ChainHead;
use deadpool_postgres::Transaction;
use store::{Append, AppendOutcome};

use crate::db;
use crate::fault::{Fault, conflict, taken_constraint};
use crate::rows::i64_of;
use crate::{cbec, projection};

/// The one audit chain of this first step. `events.chain` and `chain_heads.chain` exist so that
/// partitioning the chain later is a data change.
pub(crate) const CHAIN: i16 = 0;

/// Locks the chain's head row for the rest of the transaction and reads it: the appends of
/// every process are chained one after the other here. Under READ COMMITTED each later
/// statement of the transaction sees everything committed before the lock was granted.
pub(crate) async fn lock_head(tx: &Transaction<'_>) -> Result<ChainHead, Fault> {
    let sql = "SELECT seq, head_hash FROM chain_heads WHERE chain = $1 FOR UPDATE";
    let row = db::query_one(tx, sql, &[&CHAIN]).await?;
    Ok(head_of(&row)?)
}

pub(crate) fn head_of(row: &tokio_postgres::Row) -> anyhow::Result<ChainHead> {
    let hash: Vec<u8> = row.try_get(1)?;
    Ok(ChainHead {
        seq: crate::rows::u64_at(row, 0)?,
        hash: hash
            .try_into()
            .map_err(|_| anyhow::anyhow!("the chain head's hash is not 32 bytes"))?,
    })
}

/// Moves the locked head row to `head`, in the same transaction as the entries.
pub(crate) async fn store_head(tx: &Transaction<'_>, head: &ChainHead) -> Result<(), Fault> {
    let sql = "UPDATE chain_heads SET seq = $2, head_hash = $3 WHERE chain = $1";
    let seq = i64_of(head.seq)?;
    db::execute(tx, sql, &[&CHAIN, &seq, &head.hash.as_slice()]).await?;
    Ok(())
}

/// Records `append` after `head`, advancing `head`. Anything but `Appended` must be rolled back.
pub(crate) async fn record(
    tx: &Transaction<'_>,
    append: &Append,
    head: &mut ChainHead,
) -> Result<AppendOutcome, Fault> {
    let scope = &append.idempotency_scope;
    if let Some((first, digest)) = event_by_idempotency(tx, scope, &append.idempotency_key).await? {
        let same_request = digest == append.request_digest;
        return Ok(AppendOutcome::Duplicate {
            first,
            same_request,
        });
    }
    // A purchase that does not fit, or whose order was booked before, stops the append.
    if let Some(booking) = &append.cbec_purchase
        && let Some(refused) = cbec::book(tx, booking, head).await?.refused_append()
    {
        return Ok(refused);
    }
    let main_seq = head.seq + 1;
    for draft in store::event_drafts(append) {
        if let Some(conflict) = version_conflict(tx, &draft).await? {
            return Ok(conflict);
        }
        let recorded = serde_json::to_string(draft.projection)
            .map_err(|err| Fault::Database(anyhow::anyhow!("recording a projection: {err}")))?;
        let event = NewEvent {
            actor: draft.actor,
            recorded_at_ms: append.recorded_at_ms,
            idempotency_scope: &append.idempotency_scope,
            idempotency_key: &draft.idempotency_key,
            request_digest: &append.request_digest,
            subject: draft.subject,
            action: draft.action,
            payload: draft.payload,
            projection: &recorded,
        };
        insert_event(tx, &event, head).await?;
        projection::apply(tx, draft.projection, head.seq).await?;
    }
    Ok(AppendOutcome::Appended { seq: main_seq })
}

/// Optimistic concurrency against the declarations projection (see
/// [`store::EventDraft::versioned_declaration`]); the row is locked, so the version stays what
/// was checked until the commit.
async fn version_conflict(
    tx: &Transaction<'_>,
    draft: &store::EventDraft<'_>,
) -> Result<Option<AppendOutcome>, Fault> {
    let Some(declaration_id) = draft.versioned_declaration() else {
        return Ok(None);
    };
    let sql = "SELECT version FROM declarations WHERE id = $1 FOR UPDATE";
    let current = match db::query_opt(tx, sql, &[&declaration_id]).await? {
        Some(row) => {
            let v: i64 = row.try_get(0)?;
            Some(u32::try_from(v).map_err(|_| anyhow::anyhow!("version {v}"))?)
        }
        None => None,
    };
    Ok(draft.version_conflict(current))
}

/// The first event recorded under an idempotency key, with the digest of its request.
pub(crate) async fn event_by_idempotency<C: deadpool_postgres::GenericClient>(
    c: &C,
    scope: &str,
    key: &str,
) -> anyhow::Result<Option<(store::EventRow, String)>> {
    let sql = format!(
        "SELECT {} FROM events WHERE idempotency_scope = $1 AND idempotency_key = $2",
        crate::rows::EVENT_COLUMNS
    );
    match db::query_opt(c, &sql, &[&scope, &key]).await? {
        Some(row) => Ok(Some((crate::rows::event(&row)?, row.try_get(8)?))),
        None => Ok(None),
    }
}

pub(crate) use store::NewEvent;

/// Chains the event after `head` (the same `audit::AuditEntry` encoding and hashes as the
/// SQLite store, so `audit::verify_chain` verifies either) and inserts it.
pub(crate) async fn insert_event(
    tx: &Transaction<'_>,
    event: &NewEvent<'_>,
    head: &mut ChainHead,
) -> Result<(), Fault> {
    let entry = event.audit_entry(head.seq + 1);
    let prev_hash = head.hash;
    let entry_hash = head.append(&entry);
    let sql = "INSERT INTO events (seq, chain, subject, action, actor_user, actor_role, \
         recorded_at_ms, idempotency_scope, idempotency_key, request_digest, payload, prev_hash, \
         entry_hash, encoding_version, projection) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
    let seq = i64_of(entry.seq)?;
    let version = i16::from(entry.encoding_version);
    let values: db::Params<'_> = &[
        &seq,
        &CHAIN,
        &entry.subject,
        &entry.action,
        &entry.actor,
        &entry.role,
        &entry.recorded_at_ms,
        &entry.idempotency_scope,
        &entry.idempotency_key,
        &entry.request_digest,
        &entry.payload,
        &prev_hash.as_slice(),
        &entry_hash.as_slice(),
        &version,
        &entry.projection,
    ];
    db::execute(tx, sql, values).await.map_err(|err| {
        // Only a linked key can collide here (`<key>#n` used directly as a request key).
        if taken_constraint(&err).is_some() {
            conflict(format!("idempotency key {}", entry.idempotency_key))
        } else {
            err.into()
        }
    })?;
    Ok(())
}
