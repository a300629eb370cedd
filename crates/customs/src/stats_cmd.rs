//! `customs stats ...`: clearance statistics as a customs user reads them, acting as the user of a
//! bearer token, on the store opened read-only. `release-times`: the time from lodging to release
//! of the declarations released in a period (通关时间).

use clap::Subcommand;
use clearance::ClearanceConfig;
use serde_json::Value;

use crate::desk::{Access, Site, told};
use crate::show::cell;

#[derive(Subcommand)]
pub enum StatsCommand {
    /// Time from lodging to release of the declarations released from `--from` to `--to`
    /// (inclusive days, at most 366), at one office of lodging or all.
    ReleaseTimes {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (inclusive).
        #[arg(long)]
        to: String,
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

pub async fn run(
    site: &Site,
    config: ClearanceConfig,
    command: StatsCommand,
) -> anyhow::Result<()> {
    let StatsCommand::ReleaseTimes {
        from,
        to,
        office,
        token,
        json,
    } = command;
    let desk = site.desk(config, token, Access::Read).await?;
    let outcome = desk.release_times(&from, &to, office.as_deref()).await;
    desk.close().await;
    let times = outcome.map_err(|e| told(e, None))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&times)?);
    } else {
        print_release_times(&times);
    }
    Ok(())
}

fn duration(value: &Value) -> String {
    let Some(total) = value.as_i64() else {
        return "-".to_owned();
    };
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

fn print_release_times(times: &Value) {
    let office = match times["office"].as_str() {
        Some(office) => format!("office {office}"),
        None => "every office".to_owned(),
    };
    println!(
        "released {} to {} at {office} / 放行: {} declaration(s), {} within 24 h",
        cell(&times["from"]),
        cell(&times["to"]),
        cell(&times["released"]),
        cell(&times["released_within_24h"]),
    );
    for (label, key) in [
        ("mean / 平均", "mean_seconds"),
        ("50 % / 中位数", "p50_seconds"),
        ("90 %", "p90_seconds"),
        ("99 %", "p99_seconds"),
        ("longest / 最长", "max_seconds"),
    ] {
        println!("  {label}: {}", duration(&times[key]));
    }
}
