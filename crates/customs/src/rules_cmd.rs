//! `customs rules ...`: targeting rules (风险布控规则) as a risk analyst works on them, acting as the
//! user of a bearer token (like `customs lodge`): propose a rule from a JSON file, test it on recent
//! declarations, back-test it on the labelled declarations of a period, approve another analyst's
//! proposal (four eyes), retire a rule, list them. Each change is an event in the audit chain, like
//! the same calls over HTTP. Testing, back-testing and listing open the store read-only.
//! `customs rules reference` prints what a rule can use, from this binary's own catalogue (no
//! token, no store): the same as `docs/rule-reference.md` and `GET /v1/rules/reference`.

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
    /// Back-test a rule from a JSON file on the declarations lodged from --from to --to (both
    /// included, at most 366 days), labelled by the checks closed on them: hits, hit rate, frauds
    /// found among the checked hits (precision), recall and the revenue those checks recovered.
    /// With --source history, on the imported labelled history's rows of the period instead
    /// (`customs history import`). Nothing is stored.
    Backtest {
        /// The rule as a JSON file, back-tested without being proposed.
        file: PathBuf,
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// The labelled declarations: `declarations` (the platform's, labelled by their closed
        /// checks) or `history` (the imported labelled history).
        #[arg(long, default_value = "declarations")]
        source: String,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Every variable, field, function, macro and limit a rule can use, with its type, meaning
    /// (English and Chinese) and an example; from this binary's catalogue, no token needed.
    Reference {
        /// Print JSON (as `GET /v1/rules/reference`) instead of tables.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print Markdown (docs/rule-reference.md) instead of tables.
        #[arg(long)]
        markdown: bool,
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
            | RulesCommand::Backtest { token, .. }
            | RulesCommand::Approve { token, .. }
            | RulesCommand::Retire { token, .. }
            | RulesCommand::List { token, .. } => token.clone(),
            RulesCommand::Reference { .. } => None,
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
    // The reference is the binary's own (main answers it before opening anything).
    if let RulesCommand::Reference { json, markdown } = command {
        return print_reference(json, markdown);
    }
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
        RulesCommand::Backtest {
            file,
            from,
            to,
            source,
            json,
            ..
        } => {
            let body = read_rule(&file)?;
            let report = desk
                .backtest_rule(&body, &from, &to, &source)
                .await
                .map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_backtest(&report);
            }
        }
        RulesCommand::Reference { .. } => unreachable!("answered without a desk"),
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

/// A rate as a percentage with one decimal, or "-" when there is none (nothing to divide by).
fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

fn print_backtest(report: &Value) {
    let history = report["source"] == "history";
    if history {
        println!(
            "labelled history: {} row(s) of the period; the rule reads {} / 历史标注数据：期间内 {} 行；规则读取 {}",
            cell(&report["rows"]),
            cell(&report["names_read"]),
            cell(&report["rows"]),
            cell(&report["names_read"]),
        );
    }
    println!(
        "{} to {}: {} declaration(s), {} hit(s) (hit rate {}) / {} 至 {}：报关单 {} 份，命中 {} 份",
        cell(&report["from"]),
        cell(&report["to"]),
        cell(&report["declarations"]),
        cell(&report["hits"]),
        percent(&report["hit_rate"]),
        cell(&report["from"]),
        cell(&report["to"]),
        cell(&report["declarations"]),
        cell(&report["hits"]),
    );
    let mut totals = Table::new();
    totals.load_preset(UTF8_FULL_CONDENSED).set_header([
        "",
        "declarations / 报关单",
        "checked / 已查验",
        "frauds / 查获问题",
        if history {
            "revenue recorded / 补税（历史记录）"
        } else {
            "revenue recovered (CNY) / 补税"
        },
    ]);
    totals.add_row([
        "period / 期间".to_owned(),
        cell(&report["declarations"]),
        cell(&report["checked"]),
        cell(&report["frauds"]),
        cell(&report["revenue"]),
    ]);
    totals.add_row([
        "hits / 命中".to_owned(),
        cell(&report["hits"]),
        cell(&report["checked_hits"]),
        cell(&report["frauds_found"]),
        cell(&report["revenue_found"]),
    ]);
    println!("{totals}");
    println!(
        "precision (frauds found / checked hits) / 查获率: {}; recall (frauds found / frauds) / 查全率: {}",
        percent(&report["precision"]),
        percent(&report["recall"]),
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "declaration",
        "lodged on",
        "items (0-based)",
        "checked",
        "discrepancy",
        "revenue found",
    ]);
    for hit in report["hit_list"].as_array().into_iter().flatten() {
        let (number, day, checked) = if history {
            (&hit["declaration"], &hit["date"], &hit["labelled"])
        } else {
            (&hit["number"], &hit["lodged_on"], &hit["checked"])
        };
        table.add_row([
            cell(number),
            cell(day),
            cell(&hit["items"]),
            cell(checked),
            cell(&hit["discrepancy"]),
            cell(&hit["revenue_found"]),
        ]);
    }
    println!("{table}");
    if report["hits_listed"] != report["hits"] {
        println!(
            "the first {} hits are listed / 仅列出前 {} 个命中",
            cell(&report["hits_listed"]),
            cell(&report["hits_listed"])
        );
    }
}

/// `customs rules reference`: the JSON of `GET /v1/rules/reference`, the Markdown of
/// docs/rule-reference.md, or tables.
pub fn print_reference(json: bool, markdown: bool) -> anyhow::Result<()> {
    if json {
        let reference = clearance::targeting::rule_reference();
        println!("{}", serde_json::to_string_pretty(&reference)?);
    } else if markdown {
        print!("{}", risk::reference::markdown());
    } else {
        print_reference_tables();
    }
    Ok(())
}

/// The reference as tables for a terminal: one per kind of name, then the limits.
fn print_reference_tables() {
    use risk::catalogue::{FIELDS, FUNCTIONS, MACROS, VARIABLES};
    let kind = |t: risk::catalogue::NameType| format!("{} / {}", t.en(), t.zh());
    let mut variables = Table::new();
    variables.load_preset(UTF8_FULL_CONDENSED).set_header([
        "variable / 变量",
        "type / 类型",
        "meaning / 含义",
        "example / 示例",
    ]);
    for v in VARIABLES {
        variables.add_row([
            v.name.to_owned(),
            kind(v.ty),
            format!("{}\n{}", v.en, v.zh),
            v.example.to_owned(),
        ]);
    }
    println!("{variables}");
    let mut fields = Table::new();
    fields.load_preset(UTF8_FULL_CONDENSED).set_header([
        "field / 字段",
        "type / 类型",
        "optional / 可选",
        "per item / 按商品项",
        "meaning / 含义",
        "example / 示例",
    ]);
    let yes = |b: bool| if b { "yes / 是" } else { "no / 否" }.to_owned();
    for f in FIELDS {
        fields.add_row([
            f.path(),
            kind(f.ty),
            yes(f.optional),
            yes(f.item_level),
            format!("{}\n{}", f.en, f.zh),
            f.example(),
        ]);
    }
    println!("{fields}");
    let mut functions = Table::new();
    functions.load_preset(UTF8_FULL_CONDENSED).set_header([
        "function, macro / 函数、宏",
        "gives / 结果",
        "meaning / 含义",
        "example / 示例",
    ]);
    for f in FUNCTIONS.iter().chain(MACROS) {
        functions.add_row([
            f.name.to_owned(),
            kind(f.ty),
            format!("{}\n{}", f.en, f.zh),
            f.example.to_owned(),
        ]);
    }
    println!("{functions}");
    let mut limits = Table::new();
    limits.load_preset(UTF8_FULL_CONDENSED).set_header([
        "limit / 限制",
        "value / 值",
        "meaning / 含义",
    ]);
    for l in risk::reference::LIMITS {
        limits.add_row([
            l.name.to_owned(),
            l.value.to_string(),
            format!("{}\n{}", l.en, l.zh),
        ]);
    }
    println!("{limits}");
}
