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

use crate::desk::{Access, Site, told};

/// Declarations in flight at once: enough to fill the store's group commits.
const LODGE_CONCURRENCY: usize = 64;

/// Declarations in flight at once to a server: within a client's default rate (see
/// `http_api::REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT`), each answer after its commit.
const REMOTE_LODGE_CONCURRENCY: usize = 8;

#[derive(Args)]
pub struct LodgeArgs {
    /// JSON files: one declaration object, or an array of them, per file.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Bearer token of the declarant or broker lodging them (else the token file).
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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

pub async fn run(site: &Site, config: ClearanceConfig, args: LodgeArgs) -> anyhow::Result<()> {
    let declarations = read_declarations(&args.files)?;
    let desk = site.desk(config, args.token.clone(), Access::Write).await?;
    let progress = if declarations.len() > 1 && !args.json {
        ProgressBar::new(declarations.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} lodged ({per_sec}, {eta} left)",
    )?);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(if desk.is_remote() {
        REMOTE_LODGE_CONCURRENCY
    } else {
        LODGE_CONCURRENCY
    }));
    let mut tasks = JoinSet::new();
    for (idx, (source, body)) in declarations.into_iter().enumerate() {
        let permit = semaphore.clone().acquire_owned().await?;
        let desk = desk.clone();
        tasks.spawn(async move {
            let key = format!("file-{}", hex::encode(&Sha256::digest(&body)[..16]));
            let outcome = desk.lodge(&key, &body).await.map_err(|e| told(e, None));
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
    desk.close().await;
    outcomes.sort_by_key(|(idx, ..)| *idx);
    report(outcomes, args.json)
}

type Outcome = (usize, String, anyhow::Result<wire::LodgementView>);

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
                        serde_json::json!({"source": source, "error": format!("{error:#}")})
                    );
                } else {
                    eprintln!("{source}: {error:#}");
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
