//! Signing the chain head. A checkpoint is written in its own small transaction after the batch
//! that moved the head has committed, so signing never delays an acknowledgement.

use audit::{AuditSigner, Checkpoint};
use rusqlite::{Connection, TransactionBehavior};

use crate::rows;

// The policy is shared with the PostgreSQL store (pure, in `store`).
pub(crate) use store::{ChainPosition, CheckpointPolicy};

/// Signs and stores a checkpoint of the stored head unless the newest checkpoint already covers
/// it. Head and last checkpoint are re-read under the write lock: another process may have
/// appended or signed since this writer last looked.
pub(crate) fn sign_head(
    conn: &mut Connection,
    signer: &AuditSigner,
    now_ms: i64,
) -> anyhow::Result<Option<Checkpoint>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let head = rows::chain_head(&tx)?;
    let last_seq = rows::last_checkpoint(&tx)?.map_or(0, |(seq, _)| seq);
    if head.seq <= last_seq {
        return Ok(None);
    }
    let checkpoint = signer.sign(&head, now_ms);
    let sql = "INSERT INTO checkpoints (seq, head_hash, signed_at_ms, key_id, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5)";
    tx.prepare_cached(sql)?.execute(rusqlite::params![
        checkpoint.seq,
        checkpoint.head_hash,
        checkpoint.signed_at_ms,
        checkpoint.key_id,
        checkpoint.signature,
    ])?;
    tx.commit()?;
    tracing::debug!(seq = checkpoint.seq, "signed audit checkpoint");
    Ok(Some(checkpoint))
}
