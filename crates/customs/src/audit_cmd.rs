//! `customs audit`: check the record of the whole enforcement process.

use anyhow::bail;
use audit::verify_chain;
use clap::Subcommand;
use store::Store;

use crate::datadir::DataDir;

/// Entries read from the store per round trip while verifying.
const VERIFY_PAGE_ENTRIES: usize = 10_000;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and check every signed checkpoint; names the first entry that was
    /// altered, deleted or reordered. Exits non-zero on any fault.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key that verifies the checkpoints (hex and PEM).
    PublicKey,
    /// Sign a checkpoint of the current chain head now.
    Checkpoint,
}

pub async fn run(data: &DataDir, command: AuditCommand) -> anyhow::Result<()> {
    let signer = data.signer()?;
    match command {
        AuditCommand::PublicKey => {
            let key = signer.public_key();
            println!(
                "key id: {}\nhex: {}\n{}",
                key.key_id(),
                key.to_hex(),
                key.to_pem()
            );
            Ok(())
        }
        AuditCommand::Checkpoint => {
            let store = data.open_store(store_sqlite::SqliteOptions::production())?;
            let checkpoint = store.checkpoint_now().await?;
            store.close().await;
            match checkpoint {
                Some(c) => println!(
                    "checkpoint at entry {} head {}",
                    c.seq,
                    hex::encode(c.head_hash)
                ),
                None => println!("nothing new since the last checkpoint"),
            }
            Ok(())
        }
        AuditCommand::Verify { json } => verify(data, signer, json).await,
    }
}

async fn verify(data: &DataDir, signer: audit::AuditSigner, json: bool) -> anyhow::Result<()> {
    if !data.database().exists() {
        bail!("no store at {}", data.database().display());
    }
    let store = data.open_store(store_sqlite::SqliteOptions::production())?;
    let checkpoints = store.checkpoints().await?;
    // Stream the chain through a bounded channel: memory stays flat however long the chain is.
    let (sender, receiver) =
        std::sync::mpsc::sync_channel::<audit::StoredEntry>(VERIFY_PAGE_ENTRIES);
    let public_key = signer.public_key();
    let verifier =
        tokio::task::spawn_blocking(move || verify_chain(receiver, &checkpoints, &public_key));
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, VERIFY_PAGE_ENTRIES).await?;
        let Some(last) = page.last() else { break };
        after = last.entry.seq;
        let sent = page.into_iter().try_for_each(|entry| sender.send(entry));
        if sent.is_err() {
            break; // The verifier stopped at a fault and needs no more entries.
        }
    }
    drop(sender);
    let report = verifier.await?;
    store.close().await;
    let fault = report.first_fault.as_ref().map(ToString::to_string);
    if json {
        let value = serde_json::json!({
            "ok": fault.is_none(),
            "entries_checked": report.entries_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "last_seq": report.last_seq,
            "head_hash": hex::encode(report.head_hash),
            "last_checkpoint_seq": report.last_checkpoint_seq,
            "first_fault": fault,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "{} entries checked, {} checkpoints checked, last checkpoint at entry {}",
            report.entries_checked,
            report.checkpoints_checked,
            report
                .last_checkpoint_seq
                .map_or("none".into(), |s| s.to_string())
        );
    }
    match fault {
        None => {
            if !json {
                println!("the audit chain is intact");
            }
            Ok(())
        }
        Some(fault) => bail!("the audit chain is broken: {fault}"),
    }
}
