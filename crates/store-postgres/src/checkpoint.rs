//! Signing the chain heads, in their own small transaction after the appends that moved them
//! have committed, so signing never delays an acknowledgement.
//!
//! A signing round reads every chain's head in one statement (one snapshot of committed heads),
//! signs a checkpoint of each chain that moved since its last one (the `audit::Checkpoint` that
//! `audit::verify_chain` checks for that chain) and one signature over all the heads at once
//! (`audit::HeadsCheckpoint`), which binds the chains together: no chain can lose its tail
//! unseen while the others keep theirs.

use audit::{AuditSigner, ChainHead, Checkpoint, HeadsCheckpoint};
use deadpool_postgres::{GenericClient, Object};

use crate::append::head_of;
use crate::db;
use crate::rows::i64_of;

/// Any constant every process shares: the key of the advisory lock one signing round holds, so
/// two processes never sign the same round.
const SIGNING_LOCK: i64 = 0x0C05_C4A1;

/// What a signing round did.
pub(crate) struct Signed {
    /// The checkpoint of the lowest chain that moved (what `checkpoint_now` answers).
    pub checkpoint: Checkpoint,
}

/// Every chain's committed head, chain 0 first.
pub(crate) async fn heads<C: GenericClient>(c: &C, chains: u16) -> anyhow::Result<Vec<ChainHead>> {
    let sql = "SELECT seq, head_hash, chain FROM chain_heads ORDER BY chain";
    let rows = db::query(c, sql, &[]).await?;
    anyhow::ensure!(
        rows.len() == usize::from(chains),
        "the database has {} chain heads where {chains} chains are configured",
        rows.len()
    );
    rows.iter().map(head_of).collect()
}

/// Signs a round unless no chain moved since the last one. Two processes signing at once take
/// turns on [`SIGNING_LOCK`]; the second then finds nothing new and answers `None`.
pub(crate) async fn sign_round(
    client: &mut Object,
    signer: &AuditSigner,
    now_ms: i64,
    chains: u16,
) -> anyhow::Result<Option<Signed>> {
    let tx = client.transaction().await?;
    db::execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&SIGNING_LOCK]).await?;
    let heads = heads(&tx, chains).await?;
    let last_round = last_round(&tx).await?;
    let signed_seqs = signed_seqs(&tx, chains).await?;
    let moved: Vec<usize> = (0..heads.len())
        .filter(|&chain| heads[chain].seq > signed_seqs[chain])
        .collect();
    if moved.is_empty() {
        return Ok(None);
    }
    let round = last_round.map_or(1, |last| last.round + 1);
    let round_key = i64_of(round)?;
    let mut first = None;
    let sql = "INSERT INTO checkpoints (chain, seq, head_hash, signed_at_ms, key_id, signature, \
         round) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    for chain in moved {
        let checkpoint = signer.sign(&heads[chain], now_ms);
        let chain_key = i16::try_from(chain)?;
        let seq = i64_of(checkpoint.seq)?;
        db::execute(
            &tx,
            sql,
            &[
                &chain_key,
                &seq,
                &checkpoint.head_hash.as_slice(),
                &checkpoint.signed_at_ms,
                &checkpoint.key_id,
                &checkpoint.signature.as_slice(),
                &round_key,
            ],
        )
        .await?;
        first.get_or_insert(checkpoint);
    }
    let all = signer.sign_heads(round, &heads, now_ms);
    let entries: u64 = heads.iter().map(|h| h.seq).sum();
    let sql = "INSERT INTO checkpoint_rounds (round, entries, heads, signed_at_ms, key_id, \
         signature) VALUES ($1, $2, $3, $4, $5, $6)";
    db::execute(
        &tx,
        sql,
        &[
            &round_key,
            &i64_of(entries)?,
            &HeadsCheckpoint::heads_to_bytes(&all.heads),
            &all.signed_at_ms,
            &all.key_id,
            &all.signature.as_slice(),
        ],
    )
    .await?;
    tx.commit().await?;
    tracing::debug!(round, entries, "signed audit checkpoints of every chain");
    Ok(first.map(|checkpoint| Signed { checkpoint }))
}

/// The newest round's number, the entries it covers and its signing time.
pub(crate) struct LastRound {
    pub round: u64,
    pub entries: u64,
    pub signed_at_ms: i64,
}

pub(crate) async fn last_round<C: GenericClient>(c: &C) -> anyhow::Result<Option<LastRound>> {
    let sql = "SELECT round, entries, signed_at_ms FROM checkpoint_rounds \
         ORDER BY round DESC LIMIT 1";
    match db::query_opt(c, sql, &[]).await? {
        Some(row) => Ok(Some(LastRound {
            round: crate::rows::u64_at(&row, 0)?,
            entries: crate::rows::u64_at(&row, 1)?,
            signed_at_ms: row.try_get(2)?,
        })),
        None => Ok(None),
    }
}

/// Per chain, the seq of its newest checkpoint (0 if none).
async fn signed_seqs<C: GenericClient>(c: &C, chains: u16) -> anyhow::Result<Vec<u64>> {
    let mut seqs = vec![0; usize::from(chains)];
    let sql = "SELECT chain, max(seq) FROM checkpoints GROUP BY chain";
    for row in db::query(c, sql, &[]).await? {
        let chain: i16 = row.try_get(0)?;
        if let Some(slot) = usize::try_from(chain).ok().and_then(|c| seqs.get_mut(c)) {
            *slot = crate::rows::u64_at(&row, 1)?;
        }
    }
    Ok(seqs)
}
