//! `customs audit`: check the record of the whole enforcement process.

use anyhow::bail;
use clap::Subcommand;
use store::Store;

use crate::datadir::DataDir;

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
        AuditCommand::Verify { json } => verify(data, json).await,
    }
}

async fn verify(data: &DataDir, json: bool) -> anyhow::Result<()> {
    if !data.database().exists() {
        bail!("no store at {}", data.database().display());
    }
    let clearance = data.open_clearance_read_only(clearance::ClearanceConfig::china())?;
    let verification = clearance.verify_audit(&crate::show::operator()).await;
    clearance.store().close().await;
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
