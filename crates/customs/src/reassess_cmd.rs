//! `customs reassess ...`: after a tariff release or exchange-rate table was rolled back, an
//! officer lists the declarations assessed with it, runs a bulk reassessment as a dry run, then
//! applied, and lists the jobs (`clearance::bulk_reassessment`), on the data folder's store, with
//! an officer's token. Over a running server the same is `GET /v1/releases/{id}/declarations`,
//! `POST /v1/releases/{id}/reassessments` and `GET /v1/reassessments`.

use clap::Subcommand;
use clearance::ClearanceConfig;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use crate::datadir::DataDir;
use crate::show::{cell, explain};

#[derive(clap::Args)]
pub struct ReassessArgs {
    /// An officer's bearer token.
    #[arg(long, env = "CUSTOMS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ReassessCommand,
}

#[derive(Subcommand)]
pub enum ReassessCommand {
    /// The declarations whose latest assessment used the release (TR-.../XR-...), most recent
    /// first, at most 200.
    Declarations {
        /// The release's id (from `customs tariff list` or `customs rates list`).
        release: String,
    },
    /// Reassess in bulk the open declarations assessed with a rolled-back release: a dry run
    /// (nothing recorded on any declaration) unless `--apply`. `--job` names the job: the same
    /// name again resumes an interrupted job or shows the finished one; nothing is recorded twice.
    Run {
        /// The rolled-back release's id.
        release: String,
        /// Record each difference as your reassessment and tell the trade (pay more / refund).
        #[arg(long)]
        apply: bool,
        /// The job's name (its idempotency key), e.g. `xr-0002-apply`.
        #[arg(long)]
        job: String,
    },
    /// The bulk jobs, most recent first, with their progress and totals.
    Jobs,
}

pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    args: ReassessArgs,
) -> anyhow::Result<()> {
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let outcome = async {
        let officer = crate::admin::caller(&clearance, args.token.as_deref()).await?;
        match args.command {
            ReassessCommand::Declarations { release } => {
                let affected = clearance
                    .declarations_assessed_with(&officer, &release)
                    .await
                    .map_err(explain)?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&affected)?);
                    return Ok(());
                }
                println!(
                    "{} declaration(s) assessed with {} ({}, {}){}",
                    affected.declarations.len(),
                    affected.release,
                    affected.kind,
                    affected.status,
                    if affected.more {
                        "; more remain for a later job"
                    } else {
                        ""
                    }
                );
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "number",
                    "status",
                    "assessment",
                    "total payable (CNY)",
                ]);
                for d in &affected.declarations {
                    table.add_row([
                        d.number.clone(),
                        d.status.clone(),
                        d.assessment.to_string(),
                        d.total_payable.clone().unwrap_or_else(|| "-".into()),
                    ]);
                }
                println!("{table}");
            }
            ReassessCommand::Run {
                release,
                apply,
                job,
            } => {
                let done = clearance
                    .bulk_reassess(&officer, Some(&job), &release, apply)
                    .await
                    .map_err(explain)?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&done)?);
                } else {
                    print_job(&done);
                }
            }
            ReassessCommand::Jobs => {
                let jobs = clearance
                    .bulk_reassessments(&officer)
                    .await
                    .map_err(explain)?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&jobs)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED).set_header([
                    "job",
                    "release",
                    "mode",
                    "state",
                    "processed",
                    "changed",
                    "pay more",
                    "refund",
                    "refund due",
                ]);
                for j in &jobs {
                    table.add_row([
                        cell(&j["job"]),
                        cell(&j["release"]),
                        cell(&j["mode"]),
                        cell(&j["state"]),
                        format!("{}/{}", cell(&j["processed"]), cell(&j["declarations"])),
                        cell(&j["totals"]["changed"]),
                        cell(&j["totals"]["pay_more_total"]),
                        cell(&j["totals"]["refund_total"]),
                        cell(&j["totals"]["refund_due_total"]),
                    ]);
                }
                println!("{table}");
            }
        }
        anyhow::Ok(())
    }
    .await;
    clearance.store().close().await;
    outcome
}

fn print_job(job: &Value) {
    let totals = &job["totals"];
    println!(
        "{} {} of {} ({}): {} declaration(s), {} changed, {} unchanged, {} skipped, {} failed; \
         pay more {} CNY, refund {} CNY (of which paid, to refund: {} CNY){}{}",
        if job["mode"] == "apply" {
            "applied"
        } else {
            "dry run"
        },
        cell(&job["job"]),
        cell(&job["release"]),
        cell(&job["kind"]),
        cell(&totals["processed"]),
        cell(&totals["changed"]),
        cell(&totals["unchanged"]),
        cell(&totals["skipped"]),
        cell(&totals["failed"]),
        cell(&totals["pay_more_total"]),
        cell(&totals["refund_total"]),
        cell(&totals["refund_due_total"]),
        if job["more"] == true {
            "; more remain: run another job"
        } else {
            ""
        },
        if job["replayed"] == true {
            " (recorded before)"
        } else {
            ""
        },
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "number",
        "outcome",
        "previous",
        "now",
        "difference",
        "outstanding",
        "refund due",
    ]);
    for line in job["lines"].as_array().into_iter().flatten() {
        table.add_row([
            cell(&line["number"]),
            cell(&line["outcome"]),
            cell(&line["previous_total"]),
            cell(&line["total_payable"]),
            cell(&line["difference"]),
            cell(&line["outstanding"]),
            cell(&line["refund_due"]),
        ]);
    }
    println!("{table}");
}
