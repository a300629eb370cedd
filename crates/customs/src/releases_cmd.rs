//! `customs tariff ...`, `customs rates ...`, `customs value-control ...` and `customs reference
//! --list LIST ...`: import, list, dry-run, activate and roll back tariff releases, exchange-rate
//! tables, value-control tables and national code lists in the data folder, as the administrator
//! (every step is an event in the audit chain, like the same calls over HTTP).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use clearance::releases::{NewRelease, ReferenceList, ReleaseKind};
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
    /// consumption_tax.csv, trade_remedies.csv and, when present, origin_rules.csv; rates: exchange_rates.csv; value control:
    /// value_control.csv; a code list: LIST.csv) or, for a kind of one file, from that file.
    /// It stays inert until activated; every problem is reported with its file, line and field.
    Import {
        /// The release's folder, or its file when the kind has one.
        folder: PathBuf,
        /// The administrator's name for it (default: the folder's name).
        #[arg(long)]
        label: Option<String>,
    },
    /// Every release of this kind, oldest first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what a (not yet active) release would change. A tariff release: the most recent
    /// import declarations re-assessed under it. A code list: the codes added, removed, renamed
    /// and re-dated against the list in force today, and the recent declarations it would
    /// refuse. Writes nothing.
    DryRun {
        /// The release's id (from `list`).
        id: String,
        /// How many recent declarations to re-assess.
        #[arg(long, default_value_t = 200)]
        sample: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put a release in force from a date (inclusive, YYYY-MM-DD).
    Activate {
        /// The release's id (from `list`).
        id: String,
        /// First day in force, YYYY-MM-DD (inclusive).
        #[arg(long)]
        from: NaiveDate,
    },
    /// Withdraw the latest activation: the release before it is in force again.
    #[command(visible_alias = "rollback")]
    RollBack {
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
    },
}

fn read_files(kind: ReleaseKind, folder: &Path) -> anyhow::Result<Vec<ReleaseFileRow>> {
    if let [name] = kind.files()
        && folder.is_file()
    {
        let text = std::fs::read_to_string(folder)
            .with_context(|| format!("{}: cannot be read / 无法读取", folder.display()))?;
        return Ok(vec![ReleaseFileRow {
            name: (*name).to_owned(),
            text,
        }]);
    }
    let mut files = kind
        .files()
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
        .collect::<anyhow::Result<Vec<_>>>()?;
    // An optional file (a tariff's origin_rules.csv) is imported when the folder has it.
    for name in kind.optional_files() {
        let path = folder.join(name);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{}: cannot be read / 无法读取", path.display()))?;
            files.push(ReleaseFileRow {
                name: (*name).to_owned(),
                text,
            });
        }
    }
    Ok(files)
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

/// `customs reference`: the release commands on national code lists, one list per release.
#[derive(clap::Args)]
pub struct ReferenceArgs {
    /// An administrator's bearer token.
    #[arg(long, env = "CUSTOMS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The code list: customs_office, customs_procedure, levy_nature, levy_mode,
    /// transport_mode, document_type, incoterm or statutory_unit. Needed to import and to roll
    /// back; `list` without it lists every code list's releases.
    #[arg(long, global = true, value_parser = parse_list)]
    pub list: Option<ReferenceList>,
    #[command(subcommand)]
    pub command: ReleaseCommand,
}

fn parse_list(text: &str) -> Result<ReferenceList, String> {
    ReferenceList::parse(text).ok_or_else(|| {
        let names: Vec<&str> = ReferenceList::ALL.iter().map(|l| l.name()).collect();
        format!(
            "unknown list / 未知代码表 {text:?}: one of {}",
            names.join(", ")
        )
    })
}

pub async fn run_reference(
    data: &DataDir,
    config: ClearanceConfig,
    args: ReferenceArgs,
) -> anyhow::Result<()> {
    let needs_list = matches!(
        args.command,
        ReleaseCommand::Import { .. } | ReleaseCommand::RollBack { .. }
    );
    if needs_list && args.list.is_none() {
        anyhow::bail!(
            "--list is required to import or roll back / 导入或回滚须指定 --list (e.g. --list customs_office)"
        );
    }
    if let (ReleaseCommand::List { json }, None) = (&args.command, args.list) {
        let json = *json;
        let utc_offset = config.utc_offset;
        let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
        let outcome = match crate::admin::caller(&clearance, args.token.as_deref()).await {
            Ok(admin) => {
                let mut all = Vec::new();
                for list in ReferenceList::ALL {
                    let kind = ReleaseKind::Reference(list);
                    all.extend(clearance.releases(&admin, kind).await.map_err(explain)?);
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&all)?);
                } else {
                    print_releases(&all, utc_offset);
                }
                Ok(())
            }
            Err(error) => Err(error),
        };
        clearance.store().close().await;
        return outcome;
    }
    // Activation and dry run find the release by its id, whatever the list.
    let list = args.list.unwrap_or(ReferenceList::CustomsOffice);
    let release_args = ReleaseArgs {
        token: args.token,
        command: args.command,
    };
    run(data, config, ReleaseKind::Reference(list), release_args).await
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
            } else if report.get("list").is_some() {
                print_reference_dry_run(&report);
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

fn print_reference_dry_run(report: &Value) {
    let count = |member: &str| report[member].as_array().map_or(0, Vec::len);
    println!(
        "dry run of {} ({}) against {} in force on {}: {} added, {} removed, {} renamed, {} re-dated; \
         {} recent declaration(s) compared, {} refused under it",
        cell(&report["release"]),
        cell(&report["list"]),
        cell(&report["compared_with"]),
        cell(&report["on"]),
        count("added"),
        count("removed"),
        count("renamed") + count("changed"),
        count("redated"),
        cell(&report["declarations_compared"]),
        count("refused_under_it"),
    );
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["change", "code", "name", "名称"]);
    for (change, member) in [("added", "added"), ("removed", "removed")] {
        for entry in report[member].as_array().into_iter().flatten() {
            let code = if entry["code"].is_null() {
                &entry["hs_prefix"]
            } else {
                &entry["code"]
            };
            table.add_row([
                change.to_owned(),
                cell(code),
                cell(&entry["name_en"]),
                cell(&entry["name_zh"]),
            ]);
        }
    }
    for renamed in report["renamed"].as_array().into_iter().flatten() {
        table.add_row([
            "renamed".to_owned(),
            cell(&renamed["code"]),
            format!(
                "{} → {}",
                cell(&renamed["before"]["name_en"]),
                cell(&renamed["after"]["name_en"])
            ),
            format!(
                "{} → {}",
                cell(&renamed["before"]["name_zh"]),
                cell(&renamed["after"]["name_zh"])
            ),
        ]);
    }
    for redated in report["redated"].as_array().into_iter().flatten() {
        table.add_row([
            "re-dated".to_owned(),
            cell(&redated["code"]),
            format!(
                "{}..{} → {}..{}",
                cell(&redated["before"]["valid_from"]),
                cell(&redated["before"]["valid_to"]),
                cell(&redated["after"]["valid_from"]),
                cell(&redated["after"]["valid_to"])
            ),
            String::new(),
        ]);
    }
    println!("{table}");
    for refused in report["refused_under_it"].as_array().into_iter().flatten() {
        for problem in refused["problems"].as_array().into_iter().flatten() {
            println!(
                "{}: {}: {} / {}",
                cell(&refused["number"]),
                cell(&problem["path"]),
                cell(&problem["en"]),
                cell(&problem["zh"])
            );
        }
    }
}
