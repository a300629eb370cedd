//! Signing the chain head, in its own small transaction after the appends that moved it have
//! committed, so signing never delays an acknowledgement.

use audit::{AuditSigner, Checkpoint};
use deadpool_postgres::Object;

use crate::append::{CHAIN, head_of};
use crate::db;
use crate::rows::i64_of;

/// Signs and stores a checkpoint of the committed head unless the newest checkpoint already
/// covers it. Two processes signing the same head at once: the checkpoint's seq is its key, the
/// second insert does nothing and that signer answers `None`.
pub(crate) async fn sign_head(
    client: &mut Object,
    signer: &AuditSigner,
    now_ms: i64,
) -> anyhow::Result<Option<Checkpoint>> {
    let tx = client.transaction().await?;
    let sql = "SELECT seq, head_hash FROM chain_heads WHERE chain = $1";
    let head = head_of(&db::query_one(&tx, sql, &[&CHAIN]).await?)?;
    let last_seq = last_checkpoint(&tx).await?.map_or(0, |(seq, _)| seq);
    if head.seq <= last_seq {
        return Ok(None);
    }
    let checkpoint = signer.sign(&head, now_ms);
    let sql = "INSERT INTO checkpoints (seq, head_hash, signed_at_ms, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING";
    let seq = i64_of(checkpoint.seq)?;
    let inserted = db::execute(
        &tx,
        sql,
        &[
            &seq,
            &checkpoint.head_hash.as_slice(),
            &checkpoint.signed_at_ms,
            &checkpoint.key_id,
            &checkpoint.signature.as_slice(),
        ],
    )
    .await?;
    tx.commit().await?;
    if inserted == 0 {
        return Ok(None);
    }
    tracing::debug!(seq = checkpoint.seq, "signed audit checkpoint");
    Ok(Some(checkpoint))
}

/// The newest checkpoint's seq and signing time, if any.
pub(crate) async fn last_checkpoint<C: deadpool_postgres::GenericClient>(
    c: &C,
) -> anyhow::Result<Option<(u64, i64)>> {
    let sql = "SELECT seq, signed_at_ms FROM checkpoints ORDER BY seq DESC LIMIT 1";
    match db::query_opt(c, sql, &[]).await? {
        Some(row) => Ok(Some((crate::rows::u64_at(&row, 0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}
