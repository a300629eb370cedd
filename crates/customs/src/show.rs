//! `customs show NUMBER`: a declaration, its state and its history, for an operator at the console.

use clap::Args;
use clearance::{Caller, ClearanceConfig, ClearanceError, Role};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use store::{Principal, UserRow};
use wire::DeclarationView;

use crate::desk::{Desk, Place, Site, told};

#[derive(Args)]
pub struct ShowArgs {
    /// Customs declaration number (or id).
    pub number: String,
    /// Bearer token of a customs user, for a server (`--server`); on the data folder the
    /// operator reads without one.
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the declaration and its events as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The local reader of the data folder (`show`, `audit verify`), with an administrator's view. It
/// records nothing: every writing command authenticates its user with a token instead.
pub fn operator() -> Caller {
    let user = UserRow {
        id: "local-reader".into(),
        name: "local-reader".into(),
        role: Role::Admin.as_str().into(),
        enterprise_id: None,
        disabled_seq: None,
    };
    Caller {
        principal: Principal {
            user,
            token: None,
            enterprise: None,
            principals: vec![],
        },
        role: Role::Admin,
    }
}

type Read = (
    DeclarationView,
    wire::EventPage,
    Vec<serde_json::Value>,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    std::collections::HashMap<String, String>,
);

/// Everything `show` prints, read from one desk: customs get every event, the assessment, the
/// selection and the scores; the trade (a broker or declarant with `--server`) gets its own
/// declaration and its receipts (回执) as the API's allow-listed trade view gives them, nothing
/// more.
enum Shown {
    Customs(Read),
    Trade(DeclarationView, wire::TradeEventPage),
}

async fn read(desk: &Desk, number: &str) -> anyhow::Result<Shown> {
    let view = desk.declaration(number).await?;
    let events = match desk.events(number).await? {
        wire::EventsAnswer::Customs(events) => events,
        wire::EventsAnswer::Trade(page) => return Ok(Shown::Trade(view, page)),
    };
    let assessments = desk.assessments(number).await?;
    // Absent for a declaration accepted before targeting existed.
    let selection = desk.selection(number).await?;
    let scores = desk.scores(number).await?;
    // Who acted, by name (an id the directory does not know, such as `system`, as it is).
    let actors: Vec<String> = events.events.iter().map(|e| e.actor_user.clone()).collect();
    let names = desk.names(&actors).await;
    Ok(Shown::Customs((
        view,
        events,
        assessments,
        selection,
        scores,
        names,
    )))
}

/// The trade's `show`: the declaration and where it stands, then its receipts.
fn print_trade(
    view: &DeclarationView,
    page: &wire::TradeEventPage,
    utc_offset: chrono::FixedOffset,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let value = serde_json::json!({
            "declaration": view,
            "clearance_status": page.clearance_status,
            "receipts": page.receipts,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    print!("{}", render(view, utc_offset));
    println!("clearance status 通关状态: {}", page.clearance_status);
    let mut receipts = Table::new();
    receipts.load_preset(UTF8_FULL_CONDENSED).set_header([
        "seq",
        "when",
        "receipt 回执",
        "by",
        "amount CNY",
        "difference CNY",
        "checks",
    ]);
    for receipt in &page.receipts {
        // A reassessment that changed the total: what it means to the trade, in its words.
        let difference = match (&receipt.difference, receipt.settlement.as_deref()) {
            (Some(d), Some("pay_more")) => format!("{d} pay more / 应补"),
            (Some(d), Some("refund")) => format!("{d} refund / 应退"),
            (Some(d), _) => d.clone(),
            (None, _) => String::new(),
        };
        receipts.add_row([
            receipt.seq.to_string(),
            http_api::shown_time(utc_offset, &receipt.recorded_at),
            receipt.receipt.clone(),
            receipt.by.clone(),
            receipt.amount.clone().unwrap_or_default(),
            difference,
            receipt.checks.join(", "),
        ]);
    }
    println!("{receipts}");
    Ok(())
}

/// Turns a refusal into a message listing every field error in both languages.
pub fn explain(error: ClearanceError) -> anyhow::Error {
    match error {
        ClearanceError::Invalid(errors) | ClearanceError::Forbidden { errors, .. }
            if !errors.is_empty() =>
        {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!(
                        "  {}: {} / {} [{}]",
                        e.path,
                        e.message_en,
                        e.message_zh,
                        e.code.as_str()
                    )
                })
                .collect();
            anyhow::anyhow!(
                "refused with {} error(s):\n{}",
                errors.len(),
                lines.join("\n")
            )
        }
        ClearanceError::Transition(t) => anyhow::anyhow!("{} / {}", t.message_en, t.message_zh),
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            ..
        } => anyhow::anyhow!("{message_en} / {message_zh}"),
        ClearanceError::Unauthenticated => anyhow::anyhow!("the token is not valid / 令牌无效"),
        ClearanceError::TokenRefused(why) => {
            let (en, zh) = why.describe();
            anyhow::anyhow!("{en} / {zh}")
        }
        other => anyhow::anyhow!(other),
    }
}

pub async fn run(site: &Site, config: ClearanceConfig, args: ShowArgs) -> anyhow::Result<()> {
    // Times people read are in the administration's time zone.
    let utc_offset = config.utc_offset;
    let desk = match &site.place {
        Place::Folder(data) => Desk::local_reader(data, config)?,
        Place::Server { .. } => {
            site.desk(config, args.token.clone(), crate::desk::Access::Read)
                .await?
        }
    };
    let read = read(&desk, &args.number).await;
    desk.close().await;
    let (view, events, assessments, selection, scores, names) =
        match read.map_err(|e| told(e, None))? {
            Shown::Customs(read) => read,
            Shown::Trade(view, page) => return print_trade(&view, &page, utc_offset, args.json),
        };
    if args.json {
        let value = serde_json::json!({
            "declaration": view,
            "assessments": assessments,
            "selection": selection,
            "scores": scores,
            "events": events.events,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    print!("{}", render(&view, utc_offset));
    if let Some(latest) = assessments.last() {
        print!("{}", render_assessment(latest));
    }
    if let Some(selection) = &selection {
        print!("{}", render_selection(selection));
    }
    if let Some(scores) = &scores {
        print!("{}", render_scores(scores));
    }
    let mut history = Table::new();
    history
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["seq", "when", "event", "by", "role"]);
    for event in &events.events {
        history.add_row([
            event.seq.to_string(),
            http_api::shown_time(utc_offset, &event.recorded_at),
            event.action.clone(),
            names
                .get(&event.actor_user)
                .cloned()
                .unwrap_or_else(|| event.actor_user.clone()),
            event.actor_role.clone(),
        ]);
    }
    println!("{history}");
    Ok(())
}

/// The users' names by id, for people to read; an id the directory does not know (or a caller
/// who may not look) is shown as it is.
pub(crate) async fn names_of(
    clearance: &clearance::Clearance<store_sqlite::SqliteStore>,
    caller: &clearance::Caller,
    ids: &[String],
) -> std::collections::HashMap<String, String> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    clearance
        .actor_names(caller, &ids)
        .await
        .unwrap_or_default()
}

/// A JSON value as a table cell: text without quotes, nothing for null.
pub(crate) fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The assessment in force: per item the line and rate, per tax the amount, and the difference
/// to the assessment before it.
pub fn render_assessment(record: &serde_json::Value) -> String {
    let mut out = format!(
        "assessment {} ({}) on {}, tariff release {}, exchange-rate tables {}\n",
        cell(&record["assessment"]),
        cell(&record["basis"]),
        cell(&record["acceptance_date"]),
        cell(&record["tariff_release"]),
        cell(&record["exchange_rate_tables"]),
    );
    if record["outcome"] != "assessed" {
        out.push_str("not assessed / 未能计税:\n");
        for problem in record["problems"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {}: {} / {}\n",
                cell(&problem["path"]),
                cell(&problem["en"]),
                cell(&problem["zh"])
            ));
        }
        return out;
    }
    let report = &record["report"];
    let mut items = Table::new();
    items.load_preset(UTF8_FULL_CONDENSED).set_header([
        "#",
        "tariff line",
        "customs value (CNY)",
        "duty rate",
        "taxes",
    ]);
    for item in report["items"].as_array().into_iter().flatten() {
        let taxes: Vec<String> = item["taxes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!("{} {}", cell(&t["kind"]), cell(&t["payable"])))
            .collect();
        items.add_row([
            cell(&item["index"]),
            cell(&item["commodity_code"]),
            cell(&item["customs_value"]["cny"]),
            format!(
                "{} {}",
                cell(&item["duty_rate"]["column"]["en"]),
                cell(&item["duty_rate"]["rate"])
            ),
            taxes.join(", "),
        ]);
    }
    out.push_str(&format!("{items}\n"));
    for total in report["totals"].as_array().into_iter().flatten() {
        let exempt = if total["exempt"] == true {
            " (exempt)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{} / {}: {}{exempt}\n",
            cell(&total["name"]["en"]),
            cell(&total["name"]["zh"]),
            cell(&total["payable"])
        ));
    }
    out.push_str(&format!(
        "total payable / 应缴税款合计: {} CNY\n",
        cell(&report["total_payable"])
    ));
    if let Some(difference) = record["difference"].as_object() {
        out.push_str(&format!(
            "difference to assessment {}: {} CNY ({} / {})\n",
            cell(&difference["previous_assessment"]),
            cell(&difference["total"]),
            cell(&difference["settlement"]["en"]),
            cell(&difference["settlement"]["zh"]),
        ));
    }
    out
}

/// The lane the declaration was selected into and every reason weighed, selected or not.
pub fn render_selection(selection: &serde_json::Value) -> String {
    let mut out = format!("lane / 查验通道: {}\n", cell(&selection["lane"]));
    for reason in selection["reasons"].as_array().into_iter().flatten() {
        let source = &reason["source"];
        let what = match source["kind"].as_str() {
            Some("rule") => format!(
                "rule {} v{}",
                cell(&source["rule"]),
                cell(&source["version"])
            ),
            Some("watch_list") => format!(
                "watch list {} {}",
                cell(&source["entity"]),
                cell(&source["value"])
            ),
            Some(kind) => kind.replace('_', " "),
            None => String::new(),
        };
        let outcome = if reason["selected"] == true {
            "selected"
        } else {
            "not selected"
        };
        out.push_str(&format!(
            "  {what}: {} ({outcome}, rate {}): {} / {}\n",
            cell(&reason["action"]),
            cell(&reason["rate"]),
            cell(&reason["en"]),
            cell(&reason["zh"]),
        ));
    }
    let random = &selection["random"];
    out.push_str(&format!(
        "  random check: rate {}, {}\n",
        cell(&random["rate"]),
        if random["selected"] == true {
            "selected"
        } else {
            "not selected"
        }
    ));
    for error in selection["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  rule {} v{} could not be evaluated: {} / {}\n",
            cell(&error["rule"]),
            cell(&error["version"]),
            cell(&error["en"]),
            cell(&error["zh"]),
        ));
    }
    out
}

/// The risk models' scores of the riskiest item, and the active model's reasons when it selected.
pub fn render_scores(scores: &serde_json::Value) -> String {
    let mut out = String::from("risk model scores / 风险模型评分:\n");
    for s in scores["scores"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} ({}): {:.3} on items[{}], selects from {:.3}\n",
            cell(&s["model"]),
            cell(&s["status"]),
            s["score"].as_f64().unwrap_or(0.0),
            cell(&s["item"]),
            s["threshold"].as_f64().unwrap_or(f64::INFINITY),
        ));
    }
    for c in scores["explanation"]["contributions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "    {:+.2}  {} / {}\n",
            c["log_odds"].as_f64().unwrap_or(0.0),
            cell(&c["en"]),
            cell(&c["zh"]),
        ));
    }
    out
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The declaration's header and items; its lodging time in the administration's time zone.
pub fn render(view: &DeclarationView, utc_offset: chrono::FixedOffset) -> String {
    let d = &view.declaration;
    let mut header = Table::new();
    header.load_preset(UTF8_FULL_CONDENSED);
    let trader = d
        .trader
        .as_ref()
        .map(|t| format!("{} {}", text(&t.credit_code), text(&t.name)))
        .unwrap_or_default();
    let invoice = d
        .invoice
        .as_ref()
        .map(|i| {
            format!(
                "{} {}",
                text(&i.currency),
                i.amount.as_ref().map(|a| a.0.clone()).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let rows = [
        ("number 海关编号", view.number.clone()),
        ("status 状态", view.status.clone()),
        ("kind 申报类型", format!("{} {}", view.direction, view.kind)),
        ("procedure 监管方式", text(&d.procedure)),
        ("office 申报地海关", text(&d.office_of_lodging)),
        ("trader 境内收发货人", trader),
        ("invoice 发票", invoice),
        (
            "lodged 申报时间",
            http_api::shown_time(utc_offset, &view.lodged_at),
        ),
        ("version", view.version.to_string()),
    ];
    for (label, value) in rows {
        header.add_row([label.to_owned(), value]);
    }
    if let Some(full) = &view.completed_by {
        header.add_row(["completed by 完整申报".to_owned(), full.clone()]);
    }
    let mut items = Table::new();
    items.load_preset(UTF8_FULL_CONDENSED).set_header([
        "#",
        "commodity",
        "description",
        "quantity",
        "amount",
        "origin",
    ]);
    for (idx, item) in d.items.iter().enumerate() {
        let quantity = item
            .quantity
            .as_ref()
            .map(|q| {
                format!(
                    "{} {}",
                    q.value.as_ref().map(|v| v.0.clone()).unwrap_or_default(),
                    text(&q.unit)
                )
            })
            .unwrap_or_default();
        items.add_row([
            (idx + 1).to_string(),
            text(&item.commodity_code),
            text(&item.description),
            quantity,
            item.amount
                .as_ref()
                .map(|a| a.0.clone())
                .unwrap_or_default(),
            text(&item.origin_country),
        ]);
    }
    format!("{header}\n{items}\n")
}
