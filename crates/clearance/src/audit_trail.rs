//! Reading and verifying the record of the whole enforcement process, for auditors.

use audit::{AuditPublicKey, ChainVerifier, CheckpointBound, StoredEntry, VerifyOptions};
use store::Store;
use wire::{AuditEntryView, AuditPage, AuditVerificationView};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::{Clearance, views};

/// Largest page of audit entries one request returns.
pub const AUDIT_PAGE_MAX: usize = 1000;
/// Entries read from the store per round trip while verifying: bounds memory, not the chain.
const VERIFY_PAGE_ENTRIES: usize = 10_000;

/// An entry as the API shows it; `place` is its chain and global number, given only for a store
/// of several chains (one chain's entries are shown as they always were: seq is the number).
fn entry_view(
    stored: &StoredEntry,
    place: Option<(u16, u64)>,
) -> Result<AuditEntryView, ClearanceError> {
    let entry = &stored.entry;
    let payload = serde_json::from_str(&entry.payload)
        .map_err(|e| anyhow::anyhow!("audit entry {} is not readable: {e}", entry.seq))?;
    Ok(AuditEntryView {
        chain: place.map(|(chain, _)| chain),
        row: place.map(|(_, row)| row),
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

/// A file kept beside the chain whose digest an entry records.
#[derive(Debug)]
enum ContentReference {
    Release {
        seq: u64,
        id: String,
        digest: String,
    },
    History {
        seq: u64,
        id: String,
        digest: String,
    },
    /// A supporting document (随附单证) of a declaration.
    Document {
        seq: u64,
        declaration: String,
        digest: String,
    },
    Attachment {
        seq: u64,
        task: String,
        digest: String,
    },
}

fn content_reference(entry: &audit::AuditEntry) -> Option<ContentReference> {
    let kind = match entry.action.as_str() {
        "release.imported"
        | "history.imported"
        | crate::attachments::ATTACHMENT_ADDED_ACTION
        | crate::console::DOCUMENT_ADDED_ACTION => entry.action.as_str(),
        _ => return None,
    };
    let payload: serde_json::Value = serde_json::from_str(&entry.payload).ok()?;
    let text = |key: &str| payload[key].as_str().map(str::to_owned);
    let (seq, digest) = (entry.seq, text("digest")?);
    Some(match kind {
        "release.imported" => ContentReference::Release {
            seq,
            id: text("release")?,
            digest,
        },
        "history.imported" => ContentReference::History {
            seq,
            id: text("id")?,
            digest,
        },
        crate::console::DOCUMENT_ADDED_ACTION => ContentReference::Document {
            seq,
            declaration: text("declaration")?,
            digest,
        },
        _ => ContentReference::Attachment {
            seq,
            task: text("task")?,
            digest,
        },
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

impl<S: Store> Clearance<S> {
    /// Whether the file an entry names still has the digest the entry records; the fault in
    /// words if not.
    async fn check_content(
        &self,
        reference: &ContentReference,
    ) -> Result<Option<String>, ClearanceError> {
        let (seq, what, digest, found) = match reference {
            ContentReference::Release { seq, id, digest } => {
                let files = self.store.release_files(id).await?;
                let found = files.map(|f| crate::releases::digest_of(&f));
                (seq, format!("release {id} (its files)"), digest, found)
            }
            ContentReference::History { seq, id, digest } => {
                let found = self
                    .store
                    .history_text(id)
                    .await?
                    .map(|t| sha256_hex(t.as_bytes()));
                (seq, format!("history batch {id}"), digest, found)
            }
            ContentReference::Document {
                seq,
                declaration,
                digest,
            } => {
                let found = self
                    .store
                    .document_content(declaration, digest)
                    .await?
                    .map(|c| sha256_hex(&c));
                (
                    seq,
                    format!("document {digest} of declaration {declaration}"),
                    digest,
                    found,
                )
            }
            ContentReference::Attachment { seq, task, digest } => {
                let found = self
                    .store
                    .attachment_content(task, digest)
                    .await?
                    .map(|c| sha256_hex(&c));
                (
                    seq,
                    format!("attachment {digest} of task {task}"),
                    digest,
                    found,
                )
            }
        };
        Ok(match found {
            Some(found) if &found == digest => None,
            Some(_) => Some(format!(
                "{what} was altered: its content no longer has the digest entry {seq} records"
            )),
            None => Some(format!("{what}, recorded by entry {seq}, is missing")),
        })
    }

    /// The whole record, every chain, oldest first, at most `limit` (1 to `AUDIT_PAGE_MAX`):
    /// the entries whose number is above `after`. With one chain (SQLite) the number is the
    /// entry's seq; with several (PostgreSQL) it is the event's global row
    /// ([`store::Store::record_entries`]), and each entry also carries its chain and row, its
    /// seq being its place in that chain. `next_after` is the last number of a full page.
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
        let listed = self.store.record_entries(after, limit).await?;
        let next_after = (listed.len() == limit)
            .then(|| listed.last().map(|e| e.row))
            .flatten();
        let several = self.store.chain_count() > 1;
        let entries = listed
            .iter()
            .map(|e| entry_view(&e.stored, several.then_some((e.chain, e.row))))
            .collect::<Result<_, _>>()?;
        Ok(AuditPage {
            entries,
            next_after,
        })
    }

    /// The chain entry of the event a history lists as `seq` ([`store::EventRow::seq`]), if any.
    pub async fn event_entry(
        &self,
        caller: &Caller,
        seq: u64,
    ) -> Result<Option<AuditEntryView>, ClearanceError> {
        caller.require(Action::ReadAudit)?;
        let several = self.store.chain_count() > 1;
        match self.store.entry_of_event(seq).await? {
            Some((chain, stored)) => {
                Ok(Some(entry_view(&stored, several.then_some((chain, seq)))?))
            }
            None => Ok(None),
        }
    }

    /// Recomputes the whole chain and checks every checkpoint against the configured public key
    /// (the data folder's, so the answer warns that it is only as good as the folder).
    pub async fn verify_audit(
        &self,
        caller: &Caller,
    ) -> Result<AuditVerificationView, ClearanceError> {
        self.verify_audit_with(caller, &AuditorsCheck::default())
            .await
    }

    /// [`Clearance::verify_audit`] with what the auditor holds outside the store: its own copy of
    /// the public key, and heads it kept earlier. Also rebuilds the derived tables from the chain
    /// and names each row that differs.
    pub async fn verify_audit_with(
        &self,
        caller: &Caller,
        auditors: &AuditorsCheck,
    ) -> Result<AuditVerificationView, ClearanceError> {
        caller.require(Action::ReadAudit)?;
        let public_key: &AuditPublicKey = auditors
            .public_key
            .as_ref()
            .or(self.config.audit_public_key.as_ref())
            .ok_or_else(|| {
                ClearanceError::Unavailable(
                    "no audit public key to check the checkpoints: give the one kept outside the data \
                     folder (`audit verify --public-key FILE`)"
                        .into(),
                )
            })?;
        let checkpoint_bound = self
            .config
            .audit_checkpoint_bound
            .map(|bound| CheckpointBound {
                entries_max: bound.entries_max,
                ms_max: bound.ms_max,
                now_ms: self.now().timestamp_millis(),
            });
        // A store of several chains (PostgreSQL) also signs every chain's head at once in each
        // round: each verified round's heads anchor the chains, so no chain can lose its tail
        // while the others keep theirs. One chain (SQLite) has no rounds.
        let chains = self.store.chain_count();
        let rounds = self.store.checkpoint_rounds().await?;
        let (round_anchors, round_fault) =
            match audit::round_anchors(&rounds, usize::from(chains), public_key) {
                Ok(anchors) => (anchors, None),
                Err(fault) => (
                    vec![Vec::new(); usize::from(chains)],
                    Some(fault.to_string()),
                ),
            };
        let mut report = None::<audit::VerifyReport>;
        // A head the auditor kept of a chain the store does not have: the record is not the one
        // the auditor saw (fewer chains, or another store).
        let mut chain_fault = auditors
            .anchors
            .iter()
            .find(|(chain, _)| *chain >= chains)
            .map(|(chain, anchor)| {
                format!(
                    "a head kept by the auditor is of chain {chain} (entry {}), but the record has \
                     {chains} chain(s)",
                    anchor.seq
                )
            });
        let mut contents = Vec::new();
        for chain in 0..chains {
            let mut anchors = round_anchors[usize::from(chain)].clone();
            // The heads the auditor kept of this chain (every chain's, from an exported round).
            anchors.extend(
                auditors
                    .anchors
                    .iter()
                    .filter(|(of, _)| *of == chain)
                    .map(|(_, anchor)| *anchor),
            );
            let options = VerifyOptions {
                anchors,
                checkpoint_bound,
            };
            let checkpoints = self.store.chain_checkpoints(chain).await?;
            let mut verifier = ChainVerifier::with_options(&checkpoints, public_key, &options);
            let mut after = 0;
            // Page by page: memory stays flat however long the chain is (the kept files'
            // references are small: an id and a digest each).
            'pages: loop {
                let page = self
                    .store
                    .chain_entries(chain, after, VERIFY_PAGE_ENTRIES)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.entry.seq;
                for stored in &page {
                    if !verifier.push(stored) {
                        break 'pages;
                    }
                    contents.extend(content_reference(&stored.entry));
                }
            }
            let verified = verifier.finish();
            if chain_fault.is_none()
                && let Some(fault) = verified.first_fault
            {
                chain_fault = Some(if chains == 1 {
                    fault.to_string()
                } else {
                    format!("chain {chain}: {fault}")
                });
            }
            report = Some(match report {
                // The first chain's head and checkpoint; every chain's counts.
                Some(mut total) => {
                    total.entries_checked += verified.entries_checked;
                    total.checkpoints_checked += verified.checkpoints_checked;
                    total
                }
                None => verified,
            });
        }
        let report = report.unwrap_or_else(|| audit::verify_chain(Vec::new(), &[], public_key));
        let chain_fault = round_fault.or(chain_fault);
        let chains_intact = chain_fault.is_none();
        // The chain holds the digests of the files kept beside it; an intact chain vouches for a
        // file only if the file still has that digest.
        let mut content_fault = None;
        if chain_fault.is_none() {
            for reference in &contents {
                if let Some(fault) = self.check_content(reference).await? {
                    content_fault = Some(fault);
                    break;
                }
            }
        }
        // The tables that decide clearance (roles, tokens, authorisations, tasks, the ledger...)
        // are projections of the chain: rebuilt from it, they must equal the stored ones.
        let tables = self.store.check_projections().await?;
        let first_fault = chain_fault.or(content_fault).or_else(|| {
            tables
                .differences
                .first()
                .map(|d| format!("a table differs from the chain: {d}"))
        });
        let warnings = verification_warnings(auditors, &tables);
        Ok(AuditVerificationView {
            intact: first_fault.is_none(),
            entries_checked: report.entries_checked,
            checkpoints_checked: report.checkpoints_checked,
            last_seq: report.last_seq,
            head_hash: hex::encode(report.head_hash),
            last_checkpoint_seq: report.last_checkpoint_seq,
            first_fault,
            public_key: public_key.to_hex(),
            key_fingerprint: public_key.fingerprint(),
            key_held_by_auditor: auditors.public_key.is_some(),
            anchors_checked: if chains_intact {
                auditors.anchors.len() as u64
            } else {
                0
            },
            tables_checked: tables.tables,
            table_differences: tables.differences,
            warnings,
        })
    }
}

/// What an auditor brings to a verification from outside the data folder; it exists because
/// whoever holds the folder holds its signing key, so only a key and heads kept elsewhere show a
/// chain rewritten or cut short and re-signed.
#[derive(Debug, Clone, Default)]
pub struct AuditorsCheck {
    /// The public key the auditor kept (`customs audit public-key` when the store was set up).
    pub public_key: Option<AuditPublicKey>,
    /// Heads the auditor kept (exported checkpoints, `seq:hash` written down), each with the
    /// chain it is the head of (0 for the embedded store's only chain).
    pub anchors: Vec<(u16, audit::Anchor)>,
}

/// What the verification could not vouch for.
fn verification_warnings(auditors: &AuditorsCheck, tables: &store::ProjectionCheck) -> Vec<String> {
    let mut warnings = Vec::new();
    if auditors.public_key.is_none() {
        warnings.push(
            "the checkpoints were checked with the key in the data folder: whoever holds the \
             folder can rewrite the chain and re-sign it, so this is only as good as the folder; \
             verify with the public key kept outside it (--public-key or --key-fingerprint) / \
             检查点仅用数据目录中的密钥验证：持有该目录者可改写并重新签名，请使用目录外保存的公钥验证"
                .to_owned(),
        );
    }
    if auditors.anchors.is_empty() {
        warnings.push(
            "no chain head held outside the store was given (--anchor, --expect-head): a tail \
             deleted and re-signed with the folder's key would not show / \
             未提供目录外保存的链头（--anchor、--expect-head）：删除末尾并用目录密钥重新签名无法发现"
                .to_owned(),
        );
    }
    if let Some(why) = &tables.not_rebuilt {
        warnings.push(format!(
            "the derived tables were not compared: {why} / 派生表未核对：旧版记录不含投影"
        ));
    }
    warnings
}

/// Most declarations one replay draws.
pub const REPLAY_DRAW_MAX: usize = 50;
/// Entries read per declaration drawn before the draw stops short: most entries are not
/// lodgings, so a draw samples entries until it meets enough (bounded work on any chain).
const REPLAY_TRIES_PER_DECLARATION: usize = 64;
/// Checkpoints the auditor's overview lists, newest first.
pub const CHECKPOINTS_LISTED_MAX: usize = 20;

/// A signed checkpoint, as the auditor reads it. With several chains (PostgreSQL) one signing
/// round over every chain's head: `round` is its number, `seq` the entries of every chain it
/// covers, `head_hash` the SHA-256 of the heads it signs (per chain in order: seq, 8 bytes big
/// endian, then hash).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointView {
    pub round: Option<u64>,
    pub seq: u64,
    pub signed_at: String,
    pub head_hash: String,
    pub key_id: String,
}

/// One declaration of a replay draw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayedDeclaration {
    pub id: String,
    pub number: String,
    /// The audit entry of its lodging, which the draw picked.
    pub lodged_seq: u64,
    /// Its last assessment re-performed; `None` when the engine did not make it (by hand, a
    /// CBEC order, an export, none yet).
    pub assessment: Option<crate::assessing::Reperformed>,
}

/// A random draw of declarations whose recorded assessments are re-performed: reproducible from
/// the seed and the chain's head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayDraw {
    pub seed: u64,
    pub head_seq: u64,
    pub entries_sampled: usize,
    pub declarations: Vec<ReplayedDeclaration>,
}

impl<S: Store> Clearance<S> {
    /// The latest signed checkpoints, newest first (at most `CHECKPOINTS_LISTED_MAX`).
    pub async fn audit_checkpoints(
        &self,
        caller: &Caller,
    ) -> Result<Vec<CheckpointView>, ClearanceError> {
        caller.require(Action::ReadAudit)?;
        if self.store.chain_count() > 1 {
            let rounds = self.store.checkpoint_rounds().await?;
            return Ok(rounds
                .iter()
                .rev()
                .take(CHECKPOINTS_LISTED_MAX)
                .map(|r| CheckpointView {
                    round: Some(r.round),
                    seq: r.heads.iter().map(|h| h.seq).sum(),
                    signed_at: views::rfc3339(r.signed_at_ms),
                    head_hash: sha256_hex(&audit::HeadsCheckpoint::heads_to_bytes(&r.heads)),
                    key_id: r.key_id.clone(),
                })
                .collect());
        }
        let checkpoints = self.store.checkpoints().await?;
        Ok(checkpoints
            .iter()
            .rev()
            .take(CHECKPOINTS_LISTED_MAX)
            .map(|c| CheckpointView {
                round: None,
                seq: c.seq,
                signed_at: views::rfc3339(c.signed_at_ms),
                head_hash: hex::encode(c.head_hash),
                key_id: c.key_id.clone(),
            })
            .collect())
    }

    /// The sequence number of the chain's last entry (0 when empty), found by doubling then
    /// halving: a few dozen one-entry reads whatever the chain's length (entries are numbered
    /// from 1 without gaps).
    async fn audit_head_seq(&self) -> Result<u64, ClearanceError> {
        let exists = |seq: u64| async move {
            Ok::<_, ClearanceError>(!self.store.audit_entries(seq - 1, 1).await?.is_empty())
        };
        if !exists(1).await? {
            return Ok(0);
        }
        let mut high = 2u64;
        while exists(high).await? {
            high = high.saturating_mul(2);
        }
        // The head is in [high / 2, high).
        let (mut low, mut high) = (high / 2, high);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if exists(middle).await? {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }

    /// Draws up to `size` declarations uniformly from the chain's lodgings with the seed, and
    /// re-performs each one's last assessment (an auditor's test of the engine's records).
    pub async fn replay_draw(
        &self,
        caller: &Caller,
        seed: u64,
        size: usize,
    ) -> Result<ReplayDraw, ClearanceError> {
        use rand::{Rng, SeedableRng};
        caller.require(Action::ReadAudit)?;
        if !(1..=REPLAY_DRAW_MAX).contains(&size) {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::out_of_range(
                    "size",
                    &format!("from 1 to {REPLAY_DRAW_MAX}"),
                    &format!("在 1 到 {REPLAY_DRAW_MAX} 之间"),
                ),
            ]));
        }
        // Every chain's head, chain 0 first: a draw picks a place among all their entries.
        let heads = if self.store.chain_count() == 1 {
            vec![self.audit_head_seq().await?]
        } else {
            self.store.chain_heads().await?
        };
        let head_seq: u64 = heads.iter().sum();
        let mut draw = ReplayDraw {
            seed,
            head_seq,
            entries_sampled: 0,
            declarations: Vec::new(),
        };
        if head_seq == 0 {
            return Ok(draw);
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let tries = size * REPLAY_TRIES_PER_DECLARATION;
        while draw.declarations.len() < size && draw.entries_sampled < tries {
            draw.entries_sampled += 1;
            let (chain, seq) = place_in_chains(&heads, rng.gen_range(1..=head_seq));
            let Some(stored) = self.store.chain_entries(chain, seq - 1, 1).await?.pop() else {
                continue;
            };
            let entry = &stored.entry;
            // Drawing lodgings (one per declaration) makes every declaration equally likely.
            if entry.action != crate::ACCEPTED_ACTION
                || draw.declarations.iter().any(|d| d.id == entry.subject)
            {
                continue;
            }
            let Some(row) = self.store.declaration(&entry.subject).await? else {
                continue;
            };
            draw.declarations.push(ReplayedDeclaration {
                assessment: self.reperform_last_assessment(&row).await?,
                id: row.id,
                number: row.number,
                lodged_seq: entry.seq,
            });
        }
        Ok(draw)
    }
}

/// The chain and seq of the `place`-th entry (1-based) counting chain 0's entries first, then
/// chain 1's, and so on.
fn place_in_chains(heads: &[u64], place: u64) -> (u16, u64) {
    let mut left = place;
    for (chain, head) in heads.iter().enumerate() {
        if left <= *head {
            return (u16::try_from(chain).unwrap_or(u16::MAX), left);
        }
        left -= head;
    }
    (0, place)
}
