//! Appending one request's events to the log (which is the audit chains) with their projections,
//! inside the append's own transaction.
//!
//! The log is [`crate::CHAINS`] hash chains. An event goes to the chain of its subject
//! ([`chain_of`]: a stable hash, so every event about one declaration is in one chain, in
//! order), and an append locks only the head rows of the chains its events go to, in ascending
//! chain order (so two appends never wait for each other in a cycle). Appends about different
//! declarations therefore run side by side; the idempotency key, the CBEC buyer's year, proofs of
//! origin and status checks have locks of their own, so none of them relied on the one chain.

use std::collections::BTreeMap;

use audit::ChainHead;
use deadpool_postgres::Transaction;
use sha2::{Digest, Sha256};
use store::{Append, AppendOutcome, Projection};

use crate::db;
use crate::fault::{Fault, conflict, taken_constraint};
use crate::rows::i64_of;
use crate::{cbec, ecommerce, projection};

/// The chain an event about `subject` belongs to when there are `chains` chains: the first
/// 8 bytes of SHA-256 of the subject (big-endian) modulo the count. Stable across builds,
/// platforms and processes (not Rust's `Hash`, which may change); the count is recorded in the
/// database (`chain_config`), so it cannot change under a running store.
pub fn chain_of(subject: &str, chains: u16) -> i16 {
    let digest = Sha256::digest(subject.as_bytes());
    let high = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes of 32"));
    // `chains` is at most `CHAINS_MAX` (1024), so the remainder fits an i16.
    (high % u64::from(chains.max(1))) as i16
}

/// The heads of the chains an append writes to, locked for the rest of its transaction.
pub(crate) struct Heads {
    heads: BTreeMap<i16, ChainHead>,
}

impl Heads {
    pub(crate) fn head(&mut self, chain: i16) -> Result<&mut ChainHead, Fault> {
        self.heads.get_mut(&chain).ok_or_else(|| {
            Fault::Database(anyhow::anyhow!(
                "chain {chain} was written without its head locked"
            ))
        })
    }

    /// The heads as they are now, to store and to count.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i16, &ChainHead)> {
        self.heads.iter().map(|(chain, head)| (*chain, head))
    }
}

/// Locks the head rows of `chains` (ascending, each once) and reads them. Under READ COMMITTED
/// each later statement of the transaction sees everything committed before each lock was
/// granted, so the events about one subject are chained one after the other.
pub(crate) async fn lock_heads(
    tx: &Transaction<'_>,
    chains: impl IntoIterator<Item = i16>,
) -> Result<Heads, Fault> {
    let mut heads = BTreeMap::new();
    for chain in chains {
        heads.insert(chain, ChainHead::genesis());
    }
    let sql = "SELECT seq, head_hash FROM chain_heads WHERE chain = $1 FOR UPDATE";
    for (chain, head) in heads.iter_mut() {
        let row = db::query_opt(tx, sql, &[chain])
            .await?
            .ok_or_else(|| Fault::Database(anyhow::anyhow!("chain {chain} has no head row")))?;
        *head = head_of(&row)?;
    }
    Ok(Heads { heads })
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

/// Moves the locked head rows to `heads`, in the same transaction as the entries.
pub(crate) async fn store_heads(tx: &Transaction<'_>, heads: &Heads) -> Result<(), Fault> {
    let sql = "UPDATE chain_heads SET seq = $2, head_hash = $3 WHERE chain = $1";
    for (chain, head) in heads.iter() {
        let seq = i64_of(head.seq)?;
        db::execute(tx, sql, &[&chain, &seq, &head.hash.as_slice()]).await?;
    }
    Ok(())
}

/// Serialises every transaction using one idempotency key (across chains and processes) until
/// it ends: the first commits its events, the second then finds them. A transaction-scoped
/// advisory lock on the key's hash (a collision only serialises two unrelated keys).
pub(crate) async fn lock_idempotency_key(
    tx: &Transaction<'_>,
    scope: &str,
    key: &str,
) -> Result<(), Fault> {
    let sql = "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, $3))";
    db::execute(tx, sql, &[&scope, &key, &IDEMPOTENCY_LOCK_SEED]).await?;
    Ok(())
}

/// The seed of the idempotency keys' advisory-lock hash: any constant every process shares,
/// chosen apart from the CBEC buyer-year locks' (which are seeded by the year).
const IDEMPOTENCY_LOCK_SEED: i64 = 0x1DE0_7E27;

/// The chains `append` writes to: its events' subjects' and its CBEC booking's.
pub(crate) fn chains_of(append: &Append, chains: u16) -> Vec<i16> {
    let mut of: Vec<i16> = store::event_drafts(append)
        .map(|draft| chain_of(draft.subject, chains))
        .chain(
            append
                .cbec_purchase
                .iter()
                .map(|b| chain_of(&store::cbec_subject(b), chains)),
        )
        .chain(
            append
                .guarantee_debit
                .iter()
                .map(|d| chain_of(&store::guarantee_subject(&d.assure_code), chains)),
        )
        .collect();
    of.sort_unstable();
    of.dedup();
    of
}

/// The idempotency check, under the key's lock: a repeat answers with the first event.
pub(crate) async fn duplicate_of(
    tx: &Transaction<'_>,
    append: &Append,
) -> Result<Option<AppendOutcome>, Fault> {
    let scope = &append.idempotency_scope;
    lock_idempotency_key(tx, scope, &append.idempotency_key).await?;
    // An order credited back is locked as its booking is (the same lock): a credit-back waits
    // for a booking of its order being written, so its row comes after the booking's, in the
    // order the rebuild replays them.
    let mut orders: Vec<&str> = store::event_drafts(append)
        .filter_map(|draft| match draft.projection {
            Projection::CbecCreditBack { order_ref, .. } => Some(order_ref.as_str()),
            _ => None,
        })
        .chain(append.cbec_purchase.iter().map(|b| b.order_ref.as_str()))
        .collect();
    orders.sort_unstable();
    orders.dedup();
    for order_ref in orders {
        lock_idempotency_key(tx, store::CBEC_IDEMPOTENCY_SCOPE, order_ref).await?;
    }
    Ok(event_by_idempotency(tx, scope, &append.idempotency_key)
        .await?
        .map(|(first, digest)| AppendOutcome::Duplicate {
            same_request: digest == append.request_digest,
            first,
        }))
}

/// Records `append` after its chains' `heads` (locked by [`lock_heads`]), advancing them.
/// Anything but `Appended` must be rolled back.
pub(crate) async fn record(
    tx: &Transaction<'_>,
    append: &Append,
    heads: &mut Heads,
    chains: u16,
) -> Result<AppendOutcome, Fault> {
    // A purchase that does not fit, or whose order was booked before, stops the append.
    if let Some(booking) = &append.cbec_purchase {
        let head = heads.head(chain_of(&store::cbec_subject(booking), chains))?;
        if let Some(refused) = cbec::book(tx, booking, head, chains)
            .await?
            .refused_append()
        {
            return Ok(refused);
        }
    }
    lock_shared_claims(tx, append).await?;
    // A message received before (its guid recorded) is answered, not recorded again.
    if let Some(already) = ecommerce::already_received(tx, append).await? {
        return Ok(already);
    }
    // A debit the agent's guarantee does not cover stops the append.
    if let Some(debit) = &append.guarantee_debit {
        let chain = chain_of(&store::guarantee_subject(&debit.assure_code), chains);
        let head = heads.head(chain)?;
        if let Some(exhausted) = ecommerce::debit(tx, append, debit, chain, head).await? {
            return Ok(exhausted);
        }
    }
    // Read in this task, not by the database's JSON functions inside the transaction.
    let keys = store::SearchKeys::of_append(append);
    let mut main_row = None;
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
        let chain = chain_of(draft.subject, chains);
        let row = insert_event(tx, &event, chain, heads.head(chain)?).await?;
        main_row.get_or_insert(row);
        projection::apply(tx, draft.projection, row, &keys).await?;
    }
    Ok(AppendOutcome::Appended {
        seq: main_row.unwrap_or(0),
    })
}

/// Locks what events about different subjects (so perhaps in different chains) may both claim,
/// before any of this append's events draws its row: the proofs of origin its declarations use
/// (first use wins). The row order then is the order in which the claims were decided, which is
/// what rebuilding the tables from the chains replays. Keys in order, after the chain heads, so
/// two appends never wait for each other in a cycle.
async fn lock_shared_claims(tx: &Transaction<'_>, append: &Append) -> Result<(), Fault> {
    let mut keys: Vec<(&str, &str)> = store::event_drafts(append)
        .flat_map(|draft| match draft.projection {
            Projection::OriginProofUses { proof_keys, .. } => proof_keys.as_slice(),
            _ => &[],
        })
        .map(|key| ("origin-proof", key.as_str()))
        .chain(ecommerce::claims(append))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let sql = "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, $3))";
    for (kind, key) in keys {
        db::execute(tx, sql, &[&kind, &key, &IDEMPOTENCY_LOCK_SEED]).await?;
    }
    Ok(())
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
        "SELECT {} FROM idempotency_keys k JOIN events e ON e.chain = k.chain AND e.seq = k.seq \
         WHERE k.idempotency_scope = $1 AND k.idempotency_key = $2",
        crate::rows::EVENT_COLUMNS_OF_E
    );
    match db::query_opt(c, &sql, &[&scope, &key]).await? {
        Some(row) => Ok(Some((crate::rows::event(&row)?, row.try_get(8)?))),
        None => Ok(None),
    }
}

pub(crate) use store::NewEvent;

/// Chains the event after `head` of `chain` (the same `audit::AuditEntry` encoding and hashes as
/// the SQLite store, so `audit::verify_chain` verifies each chain), inserts it and its
/// idempotency key, and answers its global row number (what projections and readers call the
/// event's seq).
pub(crate) async fn insert_event(
    tx: &Transaction<'_>,
    event: &NewEvent<'_>,
    chain: i16,
    head: &mut ChainHead,
) -> Result<u64, Fault> {
    let entry = event.audit_entry(head.seq + 1);
    let prev_hash = head.hash;
    let entry_hash = head.append(&entry);
    let sql = "INSERT INTO events (seq, chain, subject, action, actor_user, actor_role, \
         recorded_at_ms, idempotency_scope, idempotency_key, request_digest, payload, prev_hash, \
         entry_hash, encoding_version, projection) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING row";
    let seq = i64_of(entry.seq)?;
    let version = i16::from(entry.encoding_version);
    let values: db::Params<'_> = &[
        &seq,
        &chain,
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
    let row = db::query_one(tx, sql, values).await?;
    let sql = "INSERT INTO idempotency_keys (idempotency_scope, idempotency_key, chain, seq) \
         VALUES ($1, $2, $3, $4)";
    let values: db::Params<'_> = &[
        &entry.idempotency_scope,
        &entry.idempotency_key,
        &chain,
        &seq,
    ];
    db::execute(tx, sql, values).await.map_err(|err| {
        // Only a linked key can collide here (`<key>#n` used directly as a request key): the
        // request's own key was looked up under its lock.
        if taken_constraint(&err).is_some() {
            conflict(format!("idempotency key {}", entry.idempotency_key))
        } else {
            err.into()
        }
    })?;
    Ok(crate::rows::u64_at(&row, 0)?)
}

#[cfg(test)]
mod tests {
    use super::chain_of;

    /// The hash is part of the stored data's meaning: these values must never change.
    #[test]
    fn a_subject_always_goes_to_the_same_chain() {
        let pinned: Vec<i16> = ["D-1", "D-2", "cbec:ab:2026", ""]
            .iter()
            .map(|s| chain_of(s, 16))
            .collect();
        assert_eq!(pinned, PINNED);
        assert!((0..1000).all(|i| chain_of(&format!("D-{i}"), 1) == 0));
        let mut used = [false; 16];
        for i in 0..1000 {
            used[chain_of(&format!("D-{i}"), 16) as usize] = true;
        }
        assert!(used.iter().all(|u| *u), "1000 subjects reach every chain");
    }

    // SHA-256 of each subject, first 8 bytes big-endian, modulo 16 (computed apart, in Python).
    const PINNED: [i16; 4] = [5, 11, 6, 4];
}
