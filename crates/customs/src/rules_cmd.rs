//! `customs rules ...`: targeting rules (风险布控规则) as a risk analyst works on them, acting as the
//! user of a bearer token (like `customs lodge`): propose a rule from a JSON file, test it on recent
//! declarations, approve another analyst's proposal (four eyes), retire a rule, list them. Each
//! change is an event in the audit chain, like the same calls over HTTP. Testing and listing open
//! the store read-only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use clearance::ClearanceConfig;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use crate::desk::{Access, Desk, Site, told};
use crate::show::cell;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Propose a rule (or, with an `id` in the file, a new version of it) from a JSON file:
    /// `{scope, purpose, action, expected_selection_rate, priority, reason_en, reason_zh,
    /// expression}`. It is in force only once another analyst approves it.
    Add {
        /// The rule as a JSON file (its CEL condition, action and reasons).
        file: PathBuf,
        /// Bearer token of the risk analyst proposing it.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a rule from a JSON file over the most recent declarations: what it would match and
    /// select. Nothing is stored.
    Test {
        /// The rule as a JSON file, tested without being proposed.
        file: PathBuf,
        /// How many recent declarations to test it on.
        #[arg(long, default_value_t = 200)]
        sample: usize,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Approve another analyst's proposed version: it is in force from now on.
    Approve {
        /// The rule's id.
        id: String,
        version: u32,
        /// Bearer token of a risk analyst other than the version's author.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Take an active version out of force.
    Retire {
        /// The rule's id.
        id: String,
        version: u32,
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Every rule version, or those with a status (proposed, active, superseded, retired).
    List {
        /// proposed, active, superseded or retired.
        #[arg(long)]
        status: Option<String>,
        /// Bearer token of a customs user (officer, risk analyst, auditor, administrator).
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl RulesCommand {
    fn token(&self) -> Option<String> {
        match self {
            RulesCommand::Add { token, .. }
            | RulesCommand::Test { token, .. }
            | RulesCommand::Approve { token, .. }
            | RulesCommand::Retire { token, .. }
            | RulesCommand::List { token, .. } => token.clone(),
        }
    }

    fn writes(&self) -> bool {
        matches!(
            self,
            RulesCommand::Add { .. } | RulesCommand::Approve { .. } | RulesCommand::Retire { .. }
        )
    }
}

fn read_rule(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("{}: cannot be read / 无法读取", file.display()))
}

pub async fn run(
    site: &Site,
    config: ClearanceConfig,
    command: RulesCommand,
) -> anyhow::Result<()> {
    let access = if command.writes() {
        Access::Write
    } else {
        Access::Read
    };
    let desk = site.desk(config, command.token(), access).await?;
    let outcome = execute(&desk, command).await;
    desk.close().await;
    outcome
}

fn explain(error: anyhow::Error) -> anyhow::Error {
    told(error, None)
}

async fn execute(desk: &Desk, command: RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Add { file, json, .. } => {
            let body = read_rule(&file)?;
            let rule = desk.propose_rule(&body).await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rule)?);
            } else {
                println!(
                    "{} version {}: {} (in force once another analyst approves it)",
                    cell(&rule["id"]),
                    cell(&rule["version"]),
                    cell(&rule["status"])
                );
            }
        }
        RulesCommand::Test {
            file, sample, json, ..
        } => {
            let body = read_rule(&file)?;
            let report = desk.test_rule(&body, sample).await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_test(&report);
            }
        }
        RulesCommand::Approve { id, version, .. } => {
            let rule = desk
                .approve_rule(&id, version)
                .await
                .map_err(|e| rule_refusal(e, &id, version))?;
            let approver = cell(&rule["approved_by"]);
            let names = desk.names(std::slice::from_ref(&approver)).await;
            println!(
                "{} version {}: {} (approved by {})",
                cell(&rule["id"]),
                cell(&rule["version"]),
                cell(&rule["status"]),
                names.get(&approver).unwrap_or(&approver)
            );
        }
        RulesCommand::Retire {
            id,
            version,
            reason,
            ..
        } => {
            let rule = desk
                .retire_rule(&id, version, &reason)
                .await
                .map_err(|e| rule_refusal(e, &id, version))?;
            println!(
                "{} version {}: {}",
                cell(&rule["id"]),
                cell(&rule["version"]),
                cell(&rule["status"])
            );
        }
        RulesCommand::List { status, json, .. } => {
            if let Some(status) = &status
                && !["proposed", "active", "superseded", "retired"].contains(&status.as_str())
            {
                anyhow::bail!(
                    "--status {status:?}: one of proposed, active, superseded, retired / \
                     状态应为 proposed、active、superseded 或 retired"
                );
            }
            let rules = desk.rules(status.as_deref()).await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rules)?);
            } else {
                let people: Vec<String> = rules
                    .iter()
                    .flat_map(|r| [cell(&r["author"]), cell(&r["approved_by"])])
                    .collect();
                let names = desk.names(&people).await;
                print_rules(&rules, &names);
            }
        }
    }
    Ok(())
}

/// The service's "not found" speaks of declarations; here it is a rule version.
fn rule_refusal(error: anyhow::Error, id: &str, version: u32) -> anyhow::Error {
    told(
        error,
        Some(format!(
            "no rule {id} version {version} / 没有规则 {id} 第 {version} 版"
        )),
    )
}

/// The rules as a table, their author and approver by name.
fn print_rules(rules: &[Value], names: &std::collections::HashMap<String, String>) {
    let named = |value: &Value| {
        let id = cell(value);
        names.get(&id).cloned().unwrap_or(id)
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id",
        "version",
        "status",
        "action",
        "rate",
        "priority",
        "expression",
        "author",
        "approved by",
    ]);
    for r in rules {
        let d = &r["definition"];
        table.add_row([
            cell(&r["id"]),
            cell(&r["version"]),
            cell(&r["status"]),
            cell(&d["action"]),
            cell(&d["expected_selection_rate"]),
            cell(&d["priority"]),
            cell(&d["expression"]),
            named(&r["author"]),
            named(&r["approved_by"]),
        ]);
    }
    println!("{table}");
}

fn print_test(report: &Value) {
    println!(
        "{} declaration(s) tested: {} matched (rate {}), {} selected",
        cell(&report["declarations_tested"]),
        cell(&report["matched"]),
        cell(&report["match_rate"]),
        cell(&report["selected"]),
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "declaration",
        "items (0-based)",
        "selected",
    ]);
    for hit in report["hits"].as_array().into_iter().flatten() {
        table.add_row([
            cell(&hit["number"]),
            cell(&hit["items"]),
            cell(&hit["selected"]),
        ]);
    }
    println!("{table}");
}
