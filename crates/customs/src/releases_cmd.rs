//! `customs tariff ...` and `customs rates ...`: import, list, dry-run, activate and roll back
//! tariff releases and exchange-rate tables in the data folder, as the administrator (every step
//! is an event in the audit chain, like the same calls over HTTP).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use clearance::releases::{NewRelease, ReleaseKind};
use clearance::{Clearance, ClearanceConfig};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;
use store::ReleaseFileRow;
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;
use crate::show::{cell, explain};

#[derive(clap::Args)]
pub struct ReleaseArgs {
    /// An administrator's bearer token.
    #[arg(long, env = "CUSTOMS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: ReleaseCommand,
}

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Check and import a release from a folder (tariff: lines.csv, duty_rates.csv,
    /// consumption_tax.csv, trade_remedies.csv; rates: exchange_rates.csv). It stays inert until
    /// activated; every problem is reported with its file, line and field.
    Import {
        folder: PathBuf,
        /// The administrator's name for it (default: the folder's name).
        #[arg(long)]
        label: Option<String>,
    },
    /// Every release of this kind, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-assess the most recent import declarations under a (not yet active) tariff release and
    /// show what would change. Writes nothing.
    DryRun {
        id: String,
        /// How many recent declarations to re-assess.
        #[arg(long, default_value_t = 200)]
        sample: usize,
        #[arg(long)]
        json: bool,
    },
    /// Put a release in force from a date (inclusive, YYYY-MM-DD).
    Activate {
        id: String,
        #[arg(long)]
        from: NaiveDate,
    },
    /// Withdraw the latest activation: the release before it is in force again.
    RollBack {
        #[arg(long)]
        reason: String,
    },
}

fn read_files(kind: ReleaseKind, folder: &Path) -> anyhow::Result<Vec<ReleaseFileRow>> {
    kind.files()
        .iter()
        .map(|name| {
            let path = folder.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{}: cannot be read / 无法读取", path.display()))?;
            Ok(ReleaseFileRow {
                name: (*name).to_owned(),
                text,
            })
        })
        .collect()
}

pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    kind: ReleaseKind,
    args: ReleaseArgs,
) -> anyhow::Result<()> {
    // Times people read are in the administration's time zone.
    let utc_offset = config.utc_offset;
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let outcome = match crate::admin::caller(&clearance, args.token.as_deref()).await {
        Ok(admin) => execute(&clearance, &admin, kind, args.command, utc_offset).await,
        Err(error) => Err(error),
    };
    clearance.store().close().await;
    outcome
}

async fn execute(
    clearance: &Clearance<SqliteStore>,
    admin: &clearance::Caller,
    kind: ReleaseKind,
    command: ReleaseCommand,
    utc_offset: chrono::FixedOffset,
) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::Import { folder, label } => {
            let label = label.unwrap_or_else(|| {
                folder.file_name().map_or_else(
                    || folder.display().to_string(),
                    |n| n.to_string_lossy().into(),
                )
            });
            let files = read_files(kind, &folder)?;
            let release = clearance
                .import_release(admin, NewRelease { kind, label, files })
                .await
                .map_err(explain)?;
            println!(
                "imported {} ({}), not yet in force: {}",
                release["id"].as_str().unwrap_or_default(),
                release["label"].as_str().unwrap_or_default(),
                release["summary"]
            );
        }
        ReleaseCommand::List { json } => {
            let releases = clearance.releases(admin, kind).await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&releases)?);
            } else {
                print_releases(&releases, utc_offset);
            }
        }
        ReleaseCommand::DryRun { id, sample, json } => {
            let report = clearance
                .dry_run(admin, &id, sample)
                .await
                .map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_dry_run(&report);
            }
        }
        ReleaseCommand::Activate { id, from } => {
            let release = clearance
                .activate_release(admin, &id, from)
                .await
                .map_err(explain)?;
            println!(
                "{} is in force from {}",
                release["id"].as_str().unwrap_or_default(),
                release["effective_from"].as_str().unwrap_or_default()
            );
        }
        ReleaseCommand::RollBack { reason } => {
            let release = clearance
                .roll_back_release(admin, kind, &reason)
                .await
                .map_err(explain)?;
            println!(
                "{} is rolled back; the release activated before it is in force again",
                release["id"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn print_releases(releases: &[Value], utc_offset: chrono::FixedOffset) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id",
        "label",
        "status",
        "in force from",
        "imported",
        "summary",
    ]);
    for r in releases {
        table.add_row([
            cell(&r["id"]),
            cell(&r["label"]),
            cell(&r["status"]),
            cell(&r["effective_from"]),
            http_api::shown_time(utc_offset, &cell(&r["imported_at"])),
            cell(&r["summary"]),
        ]);
    }
    println!("{table}");
}

fn print_dry_run(report: &Value) {
    println!(
        "dry run of {}: {} declaration(s) compared, {} unchanged, {} changed (total difference {} CNY), \
         {} no longer assessable, {} assessable only under it, {} assessable under neither",
        cell(&report["release"]),
        cell(&report["declarations_compared"]),
        cell(&report["unchanged"]),
        cell(&report["changed"]),
        cell(&report["total_difference"]),
        cell(&report["not_assessable_under_candidate"]),
        cell(&report["assessable_only_under_candidate"]),
        cell(&report["not_assessable_under_either"]),
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "declaration",
        "payable now",
        "payable under it",
        "difference",
    ]);
    for change in report["changes"].as_array().into_iter().flatten() {
        table.add_row([
            cell(&change["number"]),
            cell(&change["total_payable_now"]),
            cell(&change["total_payable_candidate"]),
            cell(&change["difference"]),
        ]);
    }
    println!("{table}");
    for blocked in report["newly_not_assessable"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for problem in blocked["problems"].as_array().into_iter().flatten() {
            println!(
                "{}: {}: {} / {}",
                cell(&blocked["number"]),
                cell(&problem["path"]),
                cell(&problem["en"]),
                cell(&problem["zh"])
            );
        }
    }
}
