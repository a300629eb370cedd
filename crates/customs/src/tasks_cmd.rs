//! `customs tasks ...`: officers' tasks (单证审核、查验、取样、扣留) as an officer works on them,
//! acting as the user of a bearer token (like `customs lodge`): list a queue, close one's task with
//! a finding from a JSON file, go on or off duty at an office (tasks are drawn among the officers
//! on duty there), see who is on duty. A finding is an event in the audit chain, like the same call over
//! HTTP; its corrections amend the declaration and reassess it. Listing opens the store read-only.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use clearance::ClearanceConfig;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use crate::desk::{Access, Desk, Site, told};
use crate::show::cell;

/// Tasks listed when `--limit` is not given.
const LIST_LIMIT_DEFAULT: usize = 100;

#[derive(Subcommand)]
pub enum TasksCommand {
    /// Officers' tasks: everybody's, or with `--mine` the caller's own queue.
    List {
        /// Only the tasks assigned to the token's user.
        #[arg(long)]
        mine: bool,
        /// Only the tasks of this customs office of lodging, e.g. 2200.
        #[arg(long)]
        office: Option<String>,
        /// open or closed (default: both).
        #[arg(long)]
        status: Option<String>,
        /// Tasks at most, 1 to 500.
        #[arg(long, default_value_t = LIST_LIMIT_DEFAULT)]
        limit: usize,
        /// Bearer token of a customs user (officer, risk analyst, auditor, administrator).
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Close one's task with a finding from a JSON file: `{"discrepancy": bool, "corrections":
    /// [{"path": "items[0].origin_country", "value": "CN"}], "note"?, "referral"?: "penalty" |
    /// "seizure"}`. Corrections amend the declaration and reassess it.
    Finding {
        /// The task's id (see `customs tasks list --mine`).
        task: String,
        /// The finding, as JSON.
        file: PathBuf,
        /// Bearer token of the officer the task is assigned to.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Idempotency key: running the command again with it records nothing new.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Attach a photo or document (JPEG, PNG or PDF, at most 10 MiB) to one's open task, as
    /// evidence of the finding; the file's SHA-256 is recorded in the audit chain.
    Attach {
        /// The task's id.
        task: String,
        /// The photo (JPEG, PNG) or PDF.
        file: PathBuf,
        /// Bearer token of the officer the task is assigned to.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Idempotency key: running the command again with it records nothing new.
        #[arg(long)]
        key: Option<String>,
    },
    /// Go on duty at a customs office (`--office 2200`), or off duty (`--off`): tasks created at
    /// an office are drawn among the officers on duty there.
    Duty {
        /// The customs office (4 digits) to go on duty at.
        #[arg(long, required_unless_present = "off", conflicts_with = "off")]
        office: Option<String>,
        /// Go off duty instead.
        #[arg(long)]
        off: bool,
        /// Bearer token of the officer.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Decide a trader's request to amend or cancel (修撤单), as the officer its review task is
    /// assigned to: `--approve`, or `--refuse --reason R` (the trader is told the reason).
    Decide {
        /// The declaration's number (or id).
        number: String,
        /// The request's id (the review task's id, see `customs tasks list --mine`).
        request: String,
        /// Approve the request.
        #[arg(long, required_unless_present = "refuse", conflicts_with = "refuse")]
        approve: bool,
        /// Refuse it (with --reason).
        #[arg(long)]
        refuse: bool,
        /// Why it is refused; the trader is told.
        #[arg(long)]
        reason: Option<String>,
        /// Bearer token of the officer the review is assigned to.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Idempotency key: running the command again with it records nothing new.
        #[arg(long)]
        key: Option<String>,
    },
    /// Assess a declaration by hand where the engine could not (an item without a tariff line,
    /// no release or rate in force), as an officer: each tax in CNY and why. Closes its
    /// manual-assessment task.
    Assess {
        /// The declaration's number (or id).
        number: String,
        /// Customs duty in CNY, e.g. 1234.56.
        #[arg(long)]
        customs_duty: String,
        /// Consumption tax in CNY, if any.
        #[arg(long)]
        consumption_tax: Option<String>,
        /// Import VAT in CNY.
        #[arg(long)]
        import_vat: String,
        /// How the amounts were found, recorded with them.
        #[arg(long)]
        reason: String,
        /// Bearer token of an officer.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Idempotency key: running the command again with it records nothing new.
        #[arg(long)]
        key: Option<String>,
    },
    /// The officers on duty now, at one office or at all of them.
    Roster {
        /// Only this customs office (4 digits).
        #[arg(long)]
        office: Option<String>,
        /// Bearer token of a customs user (officer, risk analyst, auditor, administrator).
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl TasksCommand {
    fn token(&self) -> Option<String> {
        match self {
            TasksCommand::List { token, .. }
            | TasksCommand::Finding { token, .. }
            | TasksCommand::Duty { token, .. }
            | TasksCommand::Attach { token, .. }
            | TasksCommand::Decide { token, .. }
            | TasksCommand::Assess { token, .. }
            | TasksCommand::Roster { token, .. } => token.clone(),
        }
    }
}

pub async fn run(
    site: &Site,
    config: ClearanceConfig,
    command: TasksCommand,
) -> anyhow::Result<()> {
    // Times people read are in the administration's time zone.
    let utc_offset = config.utc_offset;
    let access = match command {
        TasksCommand::Finding { .. }
        | TasksCommand::Duty { .. }
        | TasksCommand::Attach { .. }
        | TasksCommand::Decide { .. }
        | TasksCommand::Assess { .. } => Access::Write,
        TasksCommand::List { .. } | TasksCommand::Roster { .. } => Access::Read,
    };
    let desk = site.desk(config, command.token(), access).await?;
    let outcome = execute(&desk, command, utc_offset).await;
    desk.close().await;
    outcome
}

fn explain(error: anyhow::Error) -> anyhow::Error {
    told(error, None)
}

/// The service's "not found" speaks of declarations; here it is a task.
fn no_task(task: &str) -> impl FnOnce(anyhow::Error) -> anyhow::Error {
    let text = format!("no task {task} is assigned to you / 没有分派给您的任务 {task}");
    move |error| told(error, Some(text))
}

async fn execute(
    desk: &Desk,
    command: TasksCommand,
    utc_offset: chrono::FixedOffset,
) -> anyhow::Result<()> {
    match command {
        TasksCommand::List {
            mine,
            office,
            status,
            limit,
            json,
            ..
        } => {
            if let Some(status) = &status
                && !["open", "closed"].contains(&status.as_str())
            {
                anyhow::bail!("--status {status:?}: open or closed / 状态应为 open 或 closed");
            }
            let tasks = desk
                .tasks(mine, office.as_deref(), status.as_deref(), limit)
                .await
                .map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tasks)?);
            } else {
                let officers: Vec<String> = tasks.iter().map(|t| cell(&t["assigned_to"])).collect();
                let names = desk.names(&officers).await;
                print_tasks(&tasks, &names, utc_offset);
            }
        }
        TasksCommand::Finding {
            task,
            file,
            key,
            json,
            ..
        } => {
            let body = std::fs::read(&file)
                .with_context(|| format!("{}: cannot be read / 无法读取", file.display()))?;
            let closed = desk
                .record_finding(&task, key.as_deref(), &body)
                .await
                .map_err(no_task(&task))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&closed)?);
            } else {
                print_outcome(&closed);
            }
        }
        TasksCommand::Decide {
            number,
            request,
            approve,
            reason,
            key,
            ..
        } => {
            let body = serde_json::json!({ "approve": approve, "reason": reason });
            let decided = desk
                .decide_modification(&number, &request, key.as_deref(), body)
                .await
                .map_err(explain)?;
            let verdict = if decided["approved"] == true {
                "approved / 已批准"
            } else {
                "refused / 已退回"
            };
            println!("request {request} on {number}: {verdict}");
        }
        TasksCommand::Assess {
            number,
            customs_duty,
            consumption_tax,
            import_vat,
            reason,
            key,
            ..
        } => {
            let body = serde_json::json!({
                "customs_duty": customs_duty, "consumption_tax": consumption_tax,
                "import_vat": import_vat, "reason": reason,
            });
            let assessed = desk
                .assess_manually(&number, key.as_deref(), body)
                .await
                .map_err(explain)?;
            println!(
                "{number} assessed by hand / 人工审核计税: {} CNY payable",
                assessed["total_payable"].as_str().unwrap_or("?")
            );
        }
        TasksCommand::Attach {
            task, file, key, ..
        } => {
            let content = std::fs::read(&file)
                .with_context(|| format!("{}: cannot be read / 无法读取", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let attached = desk
                .add_attachment(&task, &name, content, key.as_deref())
                .await
                .map_err(no_task(&task))?;
            println!(
                "{} attached to task {task} ({}, {} bytes, sha256 {})",
                cell(&attached["file_name"]),
                cell(&attached["media_type"]),
                cell(&attached["size"]),
                cell(&attached["digest"])
            );
        }
        TasksCommand::Duty { office, .. } => {
            let duty = desk.set_duty(office.as_deref()).await.map_err(explain)?;
            match duty["office"].as_str() {
                Some(office) => println!("{} on duty at {office}", cell(&duty["officer"])),
                None => println!("{} off duty", cell(&duty["officer"])),
            }
        }
        TasksCommand::Roster { office, json, .. } => {
            let roster = desk.duty_roster(office.as_deref()).await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&roster)?);
            } else {
                let mut table = Table::new();
                table
                    .load_preset(UTF8_FULL_CONDENSED)
                    .set_header(["office", "officer", "since"]);
                let officers: Vec<String> = roster.iter().map(|r| cell(&r["officer"])).collect();
                let names = desk.names(&officers).await;
                for r in &roster {
                    let officer = cell(&r["officer"]);
                    table.add_row([
                        cell(&r["office"]),
                        names.get(&officer).cloned().unwrap_or(officer),
                        http_api::shown_time(utc_offset, &cell(&r["since"])),
                    ]);
                }
                println!("{table}");
            }
        }
    }
    Ok(())
}

/// The tasks as a table: the officer by name, the time in the administration's time zone.
fn print_tasks(
    tasks: &[Value],
    names: &std::collections::HashMap<String, String>,
    utc_offset: chrono::FixedOffset,
) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "task",
        "kind",
        "declaration",
        "office",
        "assigned to",
        "status",
        "created",
        "discrepancy",
    ]);
    for t in tasks {
        table.add_row([
            cell(&t["id"]),
            cell(&t["kind"]),
            cell(&t["declaration_id"]),
            cell(&t["office"]),
            names
                .get(&cell(&t["assigned_to"]))
                .cloned()
                .unwrap_or_else(|| cell(&t["assigned_to"])),
            cell(&t["status"]),
            http_api::shown_time(utc_offset, &cell(&t["created_at"])),
            cell(&t["outcome"]["discrepancy"]),
        ]);
    }
    println!("{table}");
}

fn print_outcome(closed: &Value) {
    let outcome = &closed["outcome"];
    let found = if outcome["discrepancy"] == true {
        "discrepancy found / 发现差异"
    } else {
        "no discrepancy / 未发现差异"
    };
    println!("task {} closed: {found}", cell(&closed["task"]));
    for correction in outcome["corrections"].as_array().into_iter().flatten() {
        println!(
            "  corrected {} to {}",
            cell(&correction["path"]),
            cell(&correction["value"])
        );
    }
    if let Some(difference) = outcome["revenue_difference"].as_object() {
        println!(
            "revenue difference / 税款差额: {} CNY",
            cell(&difference["total"])
        );
    }
    if !outcome["referral"].is_null() {
        println!("referred to / 移交: {}", cell(&outcome["referral"]));
    }
}
