//! `customs lodge FILE...`: lodge declarations from JSON files, each holding one declaration or an
//! array of them. Each declaration's idempotency key is the hash of its text, so lodging the same
//! file again (after a crash, or by mistake) creates nothing new.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use clearance::ClearanceConfig;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::datadir::DataDir;

/// Declarations in flight at once: enough to fill the store's group commits.
const LODGE_CONCURRENCY: usize = 64;

#[derive(Args)]
pub struct LodgeArgs {
    /// JSON files: one declaration object, or an array of them, per file.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Bearer token of the declarant or broker lodging them.
    #[arg(long, env = "CUSTOMS_TOKEN")]
    pub token: String,
    /// Print one JSON line per declaration instead of a summary.
    #[arg(long)]
    pub json: bool,
}

fn read_declarations(files: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut declarations = Vec::new();
    for file in files {
        let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let values = match value {
            serde_json::Value::Array(values) => values,
            single => vec![single],
        };
        for (idx, value) in values.into_iter().enumerate() {
            declarations.push((
                format!("{}[{idx}]", file.display()),
                serde_json::to_vec(&value)?,
            ));
        }
    }
    Ok(declarations)
}

pub async fn run(data: &DataDir, config: ClearanceConfig, args: LodgeArgs) -> anyhow::Result<()> {
    let declarations = read_declarations(&args.files)?;
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let caller = clearance
        .authenticate(&args.token)
        .await
        .map_err(crate::show::explain)?;
    let progress = if declarations.len() > 1 && !args.json {
        ProgressBar::new(declarations.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} lodged ({per_sec}, {eta} left)",
    )?);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(LODGE_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (idx, (source, body)) in declarations.into_iter().enumerate() {
        let permit = semaphore.clone().acquire_owned().await?;
        let (clearance, caller) = (clearance.clone(), caller.clone());
        tasks.spawn(async move {
            let key = format!("file-{}", hex::encode(&Sha256::digest(&body)[..16]));
            let outcome = clearance.lodge(&caller, Some(&key), &body).await;
            drop(permit);
            (idx, source, outcome)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        progress.inc(1);
        outcomes.push(joined?);
    }
    progress.finish_and_clear();
    clearance.store().close().await;
    outcomes.sort_by_key(|(idx, ..)| *idx);
    report(outcomes, args.json)
}

type Outcome = (
    usize,
    String,
    Result<wire::LodgementView, clearance::ClearanceError>,
);

fn report(outcomes: Vec<Outcome>, json: bool) -> anyhow::Result<()> {
    let (mut accepted, mut refused) = (0, 0);
    for (_, source, outcome) in outcomes {
        match outcome {
            Ok(view) => {
                accepted += 1;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"source": source, "id": view.id, "number": view.number, "created": view.created})
                    );
                } else {
                    let note = if view.created {
                        ""
                    } else {
                        " (lodged before; nothing new created)"
                    };
                    println!("{source}: accepted {}{note}", view.number);
                }
            }
            Err(error) => {
                refused += 1;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"source": source, "error": crate::show::explain(error).to_string()})
                    );
                } else {
                    eprintln!("{source}: {}", crate::show::explain(error));
                }
            }
        }
    }
    if !json {
        println!("{accepted} accepted, {refused} refused");
    }
    if refused > 0 {
        anyhow::bail!("{refused} declaration(s) refused");
    }
    Ok(())
}
