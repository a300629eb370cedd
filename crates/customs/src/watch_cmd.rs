//! `customs watch ...`: the watch list (布控名单) of entities — importers and declarants by credit
//! code, sellers and consignors by name, vessels and flights — as a risk analyst keeps it, acting as
//! the user of a bearer token. An entry selects every declaration naming the entity while it is in
//! force; taking it off is an event like adding it, and the entry stays on record as removed.
//! Four eyes: `add` proposes an entry and `approve`, by another analyst, puts it in force;
//! `remove` of an entry in force asks for its removal and `approve`, by another analyst, takes it
//! off (a proposal not yet approved is withdrawn at once).

use clap::Subcommand;
use clearance::ClearanceConfig;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

use crate::desk::{Access, Desk, Site, told};
use crate::show::cell;

#[derive(Subcommand)]
pub enum WatchCommand {
    /// Propose an entity for the watch list; it acts once another analyst approves it. The
    /// request is checked like the same call over HTTP: every problem is named by its field.
    Add {
        /// importer, declarant (credit codes), seller, consignor (names) or transport_means.
        #[arg(long)]
        kind: String,
        /// The credit code, name or means of transport watched.
        #[arg(long)]
        value: String,
        /// document_check, physical_inspection, lab_sampling or hold.
        #[arg(long)]
        action: String,
        /// The reason an officer reads, in English.
        #[arg(long)]
        reason_en: String,
        /// The same reason in Chinese.
        #[arg(long)]
        reason_zh: String,
        /// First day in force, YYYY-MM-DD (inclusive); absent is open.
        #[arg(long)]
        from: Option<String>,
        /// Last day in force, YYYY-MM-DD (inclusive); absent is open.
        #[arg(long)]
        to: Option<String>,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Four eyes: approve what awaits approval on another analyst's entry, its addition (it
    /// comes into force) or its removal (it is taken off).
    Approve {
        /// The entry's id.
        id: String,
        /// Bearer token of a risk analyst other than the one who asked.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Take an entry off the list (it stays on record, marked removed): a proposal at once, an
    /// entry in force once another analyst approves the removal.
    Remove {
        /// The entry's id.
        id: String,
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Every entry, removed ones included.
    List {
        /// Bearer token of a customs user (officer, risk analyst, auditor, administrator).
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl WatchCommand {
    fn token(&self) -> Option<String> {
        match self {
            WatchCommand::Add { token, .. }
            | WatchCommand::Approve { token, .. }
            | WatchCommand::Remove { token, .. }
            | WatchCommand::List { token, .. } => token.clone(),
        }
    }
}

pub async fn run(
    site: &Site,
    config: ClearanceConfig,
    command: WatchCommand,
) -> anyhow::Result<()> {
    let access = if matches!(command, WatchCommand::List { .. }) {
        Access::Read
    } else {
        Access::Write
    };
    let desk = site.desk(config, command.token(), access).await?;
    let outcome = execute(&desk, command).await;
    desk.close().await;
    outcome
}

fn no_entry(id: &str) -> impl FnOnce(anyhow::Error) -> anyhow::Error {
    let text = format!("no watch-list entry {id} / 没有布控名单条目 {id}");
    move |error| told(error, Some(text))
}

async fn execute(desk: &Desk, command: WatchCommand) -> anyhow::Result<()> {
    match command {
        WatchCommand::Add {
            kind,
            value,
            action,
            reason_en,
            reason_zh,
            from,
            to,
            json,
            ..
        } => {
            let body = json!({
                "kind": kind, "value": value, "action": action,
                "reason_en": reason_en, "reason_zh": reason_zh,
                "valid_from": from, "valid_to": to,
            });
            let entry = desk
                .add_watch_entry(body)
                .await
                .map_err(|e| told(e, None))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entry)?);
            } else {
                println!(
                    "{}: {} {:?} proposed for the watch list ({}); another analyst approves it \
                     with `customs watch approve {}`",
                    cell(&entry["id"]),
                    cell(&entry["kind"]),
                    cell(&entry["value"]),
                    cell(&entry["action"]),
                    cell(&entry["id"]),
                );
            }
        }
        WatchCommand::Approve { id, .. } => {
            let entry = desk.approve_watch_entry(&id).await.map_err(no_entry(&id))?;
            println!("{}: {}", cell(&entry["id"]), cell(&entry["status"]));
        }
        WatchCommand::Remove { id, reason, .. } => {
            let entry = desk
                .remove_watch_entry(&id, &reason)
                .await
                .map_err(no_entry(&id))?;
            println!("{}: {}", cell(&entry["id"]), cell(&entry["status"]));
        }
        WatchCommand::List { json, .. } => {
            let entries = desk.watch_entries().await.map_err(|e| told(e, None))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                print_entries(&entries);
            }
        }
    }
    Ok(())
}

fn print_entries(entries: &[Value]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id", "kind", "value", "action", "from", "to", "status", "reason",
    ]);
    for e in entries {
        table.add_row([
            cell(&e["id"]),
            cell(&e["kind"]),
            cell(&e["value"]),
            cell(&e["action"]),
            cell(&e["valid_from"]),
            cell(&e["valid_to"]),
            cell(&e["status"]),
            cell(&e["reason_en"]),
        ]);
    }
    println!("{table}");
}
