//! Reading and verifying the record of the whole enforcement process, for auditors.

use audit::{AuditPublicKey, ChainVerifier, StoredEntry};
use store::Store;
use wire::{AuditEntryView, AuditPage, AuditVerificationView};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::{Clearance, views};

/// Largest page of audit entries one request returns.
pub const AUDIT_PAGE_MAX: usize = 1000;
/// Entries read from the store per round trip while verifying: bounds memory, not the chain.
const VERIFY_PAGE_ENTRIES: usize = 10_000;

fn entry_view(stored: &StoredEntry) -> Result<AuditEntryView, ClearanceError> {
    let entry = &stored.entry;
    let payload = serde_json::from_str(&entry.payload)
        .map_err(|e| anyhow::anyhow!("audit entry {} is not readable: {e}", entry.seq))?;
    Ok(AuditEntryView {
        seq: entry.seq,
        recorded_at: views::rfc3339(entry.recorded_at_ms),
        actor: entry.actor.clone(),
        role: entry.role.clone(),
        action: entry.action.clone(),
        subject: entry.subject.clone(),
        idempotency_key: entry.idempotency_key.clone(),
        payload,
        prev_hash: hex::encode(stored.prev_hash),
        entry_hash: hex::encode(stored.entry_hash),
    })
}

impl<S: Store> Clearance<S> {
    /// Entries with `seq > after`, oldest first, at most `limit` (1 to `AUDIT_PAGE_MAX`).
    pub async fn audit_entries(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<AuditPage, ClearanceError> {
        caller.require(Action::ReadAudit)?;
        if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::out_of_range(
                    "limit",
                    &format!("from 1 to {AUDIT_PAGE_MAX}"),
                    &format!("在 1 到 {AUDIT_PAGE_MAX} 之间"),
                ),
            ]));
        }
        let stored = self.store.audit_entries(after, limit).await?;
        let next_after = (stored.len() == limit)
            .then(|| stored.last().map(|s| s.entry.seq))
            .flatten();
        let entries = stored.iter().map(entry_view).collect::<Result<_, _>>()?;
        Ok(AuditPage {
            entries,
            next_after,
        })
    }

    /// Recomputes the whole chain and checks every checkpoint against the configured public key.
    pub async fn verify_audit(
        &self,
        caller: &Caller,
    ) -> Result<AuditVerificationView, ClearanceError> {
        caller.require(Action::ReadAudit)?;
        let public_key: &AuditPublicKey =
            self.config.audit_public_key.as_ref().ok_or_else(|| {
                ClearanceError::Unavailable(
                    "no audit public key is configured to check checkpoints".into(),
                )
            })?;
        let checkpoints = self.store.checkpoints().await?;
        let mut verifier = ChainVerifier::new(&checkpoints, public_key);
        let mut after = 0;
        // Page by page: memory stays flat however long the chain is.
        'pages: loop {
            let page = self.store.audit_entries(after, VERIFY_PAGE_ENTRIES).await?;
            let Some(last) = page.last() else { break };
            after = last.entry.seq;
            for stored in &page {
                if !verifier.push(stored) {
                    break 'pages;
                }
            }
        }
        let report = verifier.finish();
        Ok(AuditVerificationView {
            intact: report.first_fault.is_none(),
            entries_checked: report.entries_checked,
            checkpoints_checked: report.checkpoints_checked,
            last_seq: report.last_seq,
            head_hash: hex::encode(report.head_hash),
            last_checkpoint_seq: report.last_checkpoint_seq,
            first_fault: report.first_fault.map(|f| f.to_string()),
            public_key: public_key.to_hex(),
        })
    }
}
