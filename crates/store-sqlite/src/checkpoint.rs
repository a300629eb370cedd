//! Signing the chain head. A checkpoint is written in its own small transaction after the batch
//! that moved the head has committed, so signing never delays an acknowledgement.

use audit::{AuditSigner, Checkpoint};
use rusqlite::{Connection, TransactionBehavior};

use crate::rows;

/// When the writer signs on its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckpointPolicy {
    pub every_entries: u64,
    pub every_ms: i64,
}

/// What the writer saw at the start of its last batch, to decide cheaply whether a checkpoint is
/// due without another query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainPosition {
    pub head_seq: u64,
    pub last_checkpoint_seq: u64,
    /// When the last checkpoint was signed; the writer's start time if there is none yet.
    pub last_checkpoint_at_ms: i64,
}

impl CheckpointPolicy {
    pub(crate) fn is_due(&self, position: &ChainPosition, now_ms: i64) -> bool {
        let new_entries = position
            .head_seq
            .saturating_sub(position.last_checkpoint_seq);
        let elapsed_ms = now_ms.saturating_sub(position.last_checkpoint_at_ms);
        new_entries > 0 && (new_entries >= self.every_entries || elapsed_ms >= self.every_ms)
    }
}

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
