//! `customs audit`: check the record of the whole enforcement process.
//!
//! Whoever holds the data folder holds its signing key, so a check with that key alone is only as
//! good as the folder. An auditor keeps two things elsewhere: the public key (or its fingerprint),
//! printed by `audit public-key` when the store is set up, and signed heads exported from time to
//! time by `audit checkpoint --export`. With them, `audit verify` catches a chain rewritten and
//! re-signed with a new key, and a tail deleted and the new end re-signed with the folder's key.
//!
//! With `--database` (or `serve.database`) both work on the PostgreSQL record, whose several
//! chains are bound by signed rounds: the export is then the newest round, every chain's head
//! under one signature (`audit::HeadsCheckpoint`), and each of its heads anchors its own chain.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use audit::{Anchor, AuditPublicKey, ChainHead, Checkpoint, HeadsCheckpoint};
use clap::Subcommand;
use clearance::AuditorsCheck;
use serde_json::json;
use store::Store;

use crate::datadir::DataDir;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain, check every signed checkpoint, and rebuild the tables that
    /// decide clearance from the chain; names the first entry altered, deleted or reordered, a
    /// missing checkpoint, and every table row that differs. Exits non-zero on any fault.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The public key kept outside the data folder (the PEM or hex `audit public-key`
        /// printed): checkpoints are checked with it, not with the folder's key.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// The fingerprint (SHA-256, hex) of the public key kept outside the data folder: the
        /// folder's key must have it.
        #[arg(long, value_name = "HEX")]
        key_fingerprint: Option<String>,
        /// A chain head kept outside the store, as `SEQ:HASH` (chain 0, the only chain of the
        /// embedded store) or `CHAIN:SEQ:HASH`: the chain must reach entry SEQ and have HASH
        /// there. Repeatable.
        #[arg(long, value_name = "[CHAIN:]SEQ:HASH")]
        expect_head: Vec<String>,
        /// A checkpoint exported earlier by `audit checkpoint --export` (on PostgreSQL, every
        /// chain's head signed at once): its signature must verify, and each chain must reach
        /// its head. Repeatable.
        #[arg(long, value_name = "FILE")]
        anchor: Vec<PathBuf>,
    },
    /// Print the public key that verifies the checkpoints (fingerprint, hex and PEM): keep it
    /// outside the data folder.
    PublicKey,
    /// Sign a checkpoint of the current chain head now (on PostgreSQL, a round: every chain
    /// that moved, and every chain's head under one signature).
    Checkpoint {
        /// Also write the newest signed checkpoint to FILE, for the auditor to keep outside the
        /// data folder (`audit verify --anchor FILE`); on PostgreSQL the newest round, with
        /// every chain's head.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
}

/// Runs an audit command on the data folder's SQLite store or, with `database` (the
/// `serve.database` setting), on the PostgreSQL record the instances serve; the folder gives
/// the keys either way.
pub async fn run(
    data: &DataDir,
    database: Option<&str>,
    command: AuditCommand,
) -> anyhow::Result<()> {
    match command {
        AuditCommand::PublicKey => {
            let key = data.signer()?.public_key();
            println!(
                "fingerprint: {}\nkey id: {}\nhex: {}\n{}",
                key.fingerprint(),
                key.key_id(),
                key.to_hex(),
                key.to_pem()
            );
            Ok(())
        }
        AuditCommand::Checkpoint { export } => match database {
            Some(url) => checkpoint_round(data, url, export.as_deref()).await,
            None => checkpoint(data, export.as_deref()).await,
        },
        AuditCommand::Verify {
            json,
            public_key,
            key_fingerprint,
            expect_head,
            anchor,
        } => {
            let auditors = auditors_check(
                data,
                public_key.as_deref(),
                key_fingerprint.as_deref(),
                &expect_head,
                &anchor,
            )?;
            verify(data, database, json, &auditors).await
        }
    }
}

async fn checkpoint(data: &DataDir, export: Option<&Path>) -> anyhow::Result<()> {
    let store = data.open_store(store_sqlite::SqliteOptions::production())?;
    let signed = store.checkpoint_now().await;
    let newest = store.checkpoints().await;
    store.close().await;
    match signed? {
        Some(c) => println!(
            "checkpoint at entry {} head {}",
            c.seq,
            hex::encode(c.head_hash)
        ),
        None => println!("nothing new since the last checkpoint"),
    }
    if let Some(file) = export {
        let Some(newest) = newest?.pop() else {
            bail!("the store holds no checkpoint to export");
        };
        let key = data.signer()?.public_key();
        let text = serde_json::to_string_pretty(&json!({
            "seq": newest.seq,
            "head_hash": hex::encode(newest.head_hash),
            "signed_at_ms": newest.signed_at_ms,
            "key_id": newest.key_id,
            "key_fingerprint": key.fingerprint(),
            "signature": hex::encode(newest.signature),
        }))?;
        std::fs::write(file, text + "\n").with_context(|| format!("writing {}", file.display()))?;
        println!(
            "exported the checkpoint at entry {} to {}",
            newest.seq,
            file.display()
        );
    }
    Ok(())
}

/// `audit checkpoint` on PostgreSQL: a signing round now, and the newest round exported.
async fn checkpoint_round(data: &DataDir, url: &str, export: Option<&Path>) -> anyhow::Result<()> {
    let clearance = data
        .open_clearance_postgres(url, clearance::ClearanceConfig::china())
        .await?;
    let store = clearance.store();
    let signed = store.checkpoint_now().await;
    let rounds = store.checkpoint_rounds().await;
    store.close();
    let newest = rounds?.pop();
    match (signed?, &newest) {
        (Some(_), Some(round)) => println!(
            "checkpoint round {} over {} chains, {} entries",
            round.round,
            round.heads.len(),
            round.heads.iter().map(|h| h.seq).sum::<u64>()
        ),
        _ => println!("nothing new since the last checkpoint"),
    }
    if let Some(file) = export {
        let Some(round) = newest else {
            bail!("the store holds no checkpoint to export");
        };
        let key = data.signer()?.public_key();
        let heads: Vec<serde_json::Value> = round
            .heads
            .iter()
            .enumerate()
            .map(|(chain, head)| {
                json!({ "chain": chain, "seq": head.seq, "head_hash": hex::encode(head.hash) })
            })
            .collect();
        let text = serde_json::to_string_pretty(&json!({
            "round": round.round,
            "heads": heads,
            "signed_at_ms": round.signed_at_ms,
            "key_id": round.key_id,
            "key_fingerprint": key.fingerprint(),
            "signature": hex::encode(round.signature),
        }))?;
        std::fs::write(file, text + "\n").with_context(|| format!("writing {}", file.display()))?;
        println!(
            "exported checkpoint round {} ({} chain heads) to {}",
            round.round,
            round.heads.len(),
            file.display()
        );
    }
    Ok(())
}

/// What the auditor brought, checked before the store is read: a key that cannot be read, a
/// fingerprint the folder's key does not have, or an anchor not signed by the key is an error.
fn auditors_check(
    data: &DataDir,
    public_key: Option<&Path>,
    fingerprint: Option<&str>,
    expect_head: &[String],
    anchor_files: &[PathBuf],
) -> anyhow::Result<AuditorsCheck> {
    let mut key = match public_key {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading the public key {}", file.display()))?;
            let key = AuditPublicKey::from_pem_or_hex(&text).map_err(|err| {
                anyhow::anyhow!("{} is not an Ed25519 public key: {err}", file.display())
            })?;
            Some(key)
        }
        None => None,
    };
    if let Some(expected) = fingerprint {
        let expected = expected.trim().to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|c| c.is_ascii_hexdigit()) {
            bail!("--key-fingerprint must be the 64 hex digits of the key's SHA-256");
        }
        let held = match key {
            Some(key) => key,
            None => data.folder_public_key()?.ok_or_else(|| {
                anyhow::anyhow!(
                    "the data folder has no signing key to compare the fingerprint with"
                )
            })?,
        };
        if held.fingerprint() != expected {
            bail!(
                "the audit key has fingerprint {}, not {expected}: the checkpoints are signed \
                 with another key than the one you hold (re-signed?) / 审计密钥指纹不符",
                held.fingerprint()
            );
        }
        key = Some(held);
    }
    let mut anchors = Vec::new();
    for head in expect_head {
        anchors.push(parse_head(head)?);
    }
    if !anchor_files.is_empty() {
        let verifying = match key {
            Some(key) => key,
            None => data.folder_public_key()?.ok_or_else(|| {
                anyhow::anyhow!("no key to check the anchors with: give --public-key")
            })?,
        };
        for file in anchor_files {
            anchors.extend(read_anchor(file, &verifying)?);
        }
    }
    Ok(AuditorsCheck {
        public_key: key,
        anchors,
    })
}

/// `SEQ:HASH` (chain 0) or `CHAIN:SEQ:HASH`, as the chain and the head it must reach.
fn parse_head(text: &str) -> anyhow::Result<(u16, Anchor)> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    let parsed = match parts[..] {
        [seq, hash] => Some(("0", seq, hash)),
        [chain, seq, hash] => Some((chain, seq, hash)),
        _ => None,
    }
    .and_then(|(chain, seq, hash)| {
        let chain = chain.parse::<u16>().ok()?;
        let seq = seq.parse::<u64>().ok()?;
        let hash: [u8; 32] = hex::decode(hash).ok()?.try_into().ok()?;
        Some((
            chain,
            Anchor {
                seq,
                head_hash: hash,
            },
        ))
    });
    parsed.ok_or_else(|| {
        anyhow::anyhow!(
            "--expect-head {text:?} is not SEQ:HASH or CHAIN:SEQ:HASH (a chain number, an entry \
             number, 64 hex digits)"
        )
    })
}

/// An exported checkpoint, whose signature must verify with the auditor's key: one chain's
/// (the embedded store's, chain 0) or a round's, each chain's head an anchor of its chain.
fn read_anchor(file: &Path, key: &AuditPublicKey) -> anyhow::Result<Vec<(u16, Anchor)>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an exported checkpoint", file.display()))?;
    let bytes = |name: &str| value[name].as_str().and_then(|h| hex::decode(h).ok());
    if value.get("heads").is_some() {
        let round = (|| {
            let heads = value["heads"]
                .as_array()?
                .iter()
                .enumerate()
                .map(|(place, head)| {
                    // Listed in chain order: a head out of place is not the one signed.
                    (head["chain"].as_u64()? == place as u64).then_some(())?;
                    Some(ChainHead {
                        seq: head["seq"].as_u64()?,
                        hash: hex::decode(head["head_hash"].as_str()?)
                            .ok()?
                            .try_into()
                            .ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            Some(HeadsCheckpoint {
                round: value["round"].as_u64()?,
                heads,
                signed_at_ms: value["signed_at_ms"].as_i64()?,
                key_id: value["key_id"].as_str()?.to_owned(),
                signature: bytes("signature")?.try_into().ok()?,
            })
        })()
        .ok_or_else(|| anyhow::anyhow!("{} is not an exported checkpoint", file.display()))?;
        if !key.verify_heads(&round) {
            bail!(
                "the checkpoint round in {} is not signed by the key {} (fingerprint {})",
                file.display(),
                key.key_id(),
                key.fingerprint()
            );
        }
        return Ok((0..round.heads.len())
            .filter_map(|chain| Some((u16::try_from(chain).ok()?, round.anchor(chain)?)))
            .collect());
    }
    let checkpoint = (|| {
        Some(Checkpoint {
            seq: value["seq"].as_u64()?,
            head_hash: bytes("head_hash")?.try_into().ok()?,
            signed_at_ms: value["signed_at_ms"].as_i64()?,
            key_id: value["key_id"].as_str()?.to_owned(),
            signature: bytes("signature")?.try_into().ok()?,
        })
    })()
    .ok_or_else(|| anyhow::anyhow!("{} is not an exported checkpoint", file.display()))?;
    if !key.verify(&checkpoint) {
        bail!(
            "the checkpoint in {} is not signed by the key {} (fingerprint {})",
            file.display(),
            key.key_id(),
            key.fingerprint()
        );
    }
    Ok(vec![(
        0,
        Anchor {
            seq: checkpoint.seq,
            head_hash: checkpoint.head_hash,
        },
    )])
}

async fn verify(
    data: &DataDir,
    database: Option<&str>,
    json: bool,
    auditors: &AuditorsCheck,
) -> anyhow::Result<()> {
    let verification = match database {
        Some(url) => {
            let clearance = data
                .open_clearance_postgres(url, clearance::ClearanceConfig::china())
                .await?;
            let verification = clearance
                .verify_audit_with(&crate::show::operator(), auditors)
                .await;
            clearance.store().close();
            verification
        }
        None => {
            if !data.database().exists() {
                bail!("no store at {}", data.database().display());
            }
            let clearance = data.open_clearance_read_only(clearance::ClearanceConfig::china())?;
            let verification = clearance
                .verify_audit_with(&crate::show::operator(), auditors)
                .await;
            clearance.store().close().await;
            verification
        }
    };
    let verification = verification.map_err(crate::show::explain)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&verification)?);
    } else {
        println!(
            "{} entries checked, {} checkpoints checked, last checkpoint at entry {}",
            verification.entries_checked,
            verification.checkpoints_checked,
            verification
                .last_checkpoint_seq
                .map_or("none".into(), |s| s.to_string())
        );
        println!(
            "key fingerprint {} ({})",
            verification.key_fingerprint,
            if verification.key_held_by_auditor {
                "held by the auditor"
            } else {
                "read from the data folder"
            }
        );
        println!(
            "{} tables rebuilt from the chain and compared",
            verification.tables_checked.len()
        );
        for difference in &verification.table_differences {
            eprintln!("table difference: {difference}");
        }
    }
    for warning in &verification.warnings {
        eprintln!("warning: {warning}");
    }
    match verification.first_fault {
        None => {
            if !json {
                println!("the audit chain is intact");
            }
            Ok(())
        }
        Some(fault) => bail!("the audit chain is broken: {fault}"),
    }
}
