//! `customs assess FILE --release DIR`: an estimate of the duty and taxes of an import declaration
//! against a tariff release, by the pure `tariff` engine. Nothing is lodged and no store is opened.
//!
//! The conversion and the report are `clearance::assessment`'s, the same as for lodged
//! declarations.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use chrono::{FixedOffset, NaiveDate};
use clap::Args;
use clearance::assessment;
use clearance::regime::{self, Regime};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use rust_decimal::Decimal;
use serde_json::json;
use tariff::money::fen_text;
use tariff::{Assessment, DeclarationInput, TariffRelease, TaxKind};

/// The five files of a release, in the order of [`tariff::ReleaseFiles`].
pub const RELEASE_FILES: [&str; 5] = [
    "lines.csv",
    "duty_rates.csv",
    "consumption_tax.csv",
    "trade_remedies.csv",
    "exchange_rates.csv",
];

#[derive(Args)]
pub struct AssessArgs {
    /// The declaration, a JSON file as lodged.
    pub file: PathBuf,
    /// Folder of the tariff release: lines.csv, duty_rates.csv, consumption_tax.csv,
    /// trade_remedies.csv and exchange_rates.csv.
    #[arg(long)]
    pub release: PathBuf,
    /// Day of acceptance the rates are taken on (YYYY-MM-DD); by default today in China.
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Print the assessment, every figure with its explanation in English and Chinese, as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AssessArgs, utc_offset: FixedOffset) -> anyhow::Result<()> {
    let day = args.date.map(Ok).unwrap_or_else(|| {
        crate::datadir::process_clock()
            .map(|clock| clock.now().with_timezone(&utc_offset).date_naive())
    })?;
    let text =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let declaration = parse_declaration(&text, day)?;
    let release = read_release(&args.release)?;
    let config = tariff::AssessmentConfig::china_2026();
    let agreements = tariff::origin::agreements_china_2026();
    // No store: a proof of origin's number cannot be checked against earlier declarations.
    let origin = assessment::OriginContext {
        agreements: &agreements,
        used_elsewhere: &|_| false,
    };
    // The regime is chosen as lodging chooses it; CBEC orders and postal parcels are reported
    // from the same pure functions the estimate route and lodging use.
    if Regime::of(&declaration) != Regime::GeneralTrade {
        let (_, mut report) = regime::estimate(
            &declaration,
            day,
            Some(&release),
            &release.exchange_rates,
            &config,
            &origin,
        )
        .map_err(|problems| cannot_be_assessed(&problems))?;
        report["estimate"] = json!(true);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_regime_report(&report, day);
        }
        return Ok(());
    }
    let (input, assessment) = assessment::assess_with_release(
        &declaration,
        day,
        &release,
        &release.exchange_rates,
        &config,
        &origin,
    )
    .ok_or_else(|| anyhow!("direction: an export declaration has no import duty or taxes"))?
    .map_err(|problems| cannot_be_assessed(&problems))?;
    if args.json {
        let documents = assessment::document_types(&declaration);
        let mut report = assessment::report(&input, &assessment, &documents);
        report["estimate"] = json!(true);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&input, &assessment, day);
    }
    Ok(())
}

fn cannot_be_assessed(problems: &[assessment::NotAssessable]) -> anyhow::Error {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    anyhow!(
        "the declaration cannot be assessed / 无法计税:\n{}",
        lines.join("\n")
    )
}

/// A CBEC order's or a postal parcel's estimate as a table: each item or article, its value, rate
/// and taxes payable, then the totals and the regime in both languages.
fn print_regime_report(report: &serde_json::Value, day: NaiveDate) {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let postal = report["articles"].is_array();
    let lines = if postal {
        table.set_header(vec![
            "article",
            "description",
            "class",
            "dutiable price",
            "rate",
            "tax",
        ]);
        &report["articles"]
    } else {
        table.set_header(vec![
            "item",
            "code",
            "customs value",
            "duty",
            "consumption tax",
            "VAT",
        ]);
        &report["items"]
    };
    for line in lines.as_array().into_iter().flatten() {
        let payable = |kind: &str| {
            line["taxes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["kind"] == kind)
                .map_or("-".to_owned(), |t| text(&t["payable"]))
        };
        let row = if postal {
            vec![
                line["index"].to_string(),
                text(&line["description"]),
                line["rate_class"].to_string(),
                text(&line["dutiable_price"]),
                text(&line["rate"]),
                payable("import_tax_on_articles"),
            ]
        } else {
            vec![
                line["index"].to_string(),
                text(&line["commodity_code"]),
                text(&line["customs_value"]["cny"]),
                payable("customs_duty"),
                payable("consumption_tax"),
                payable("import_vat"),
            ]
        };
        table.add_row(row);
    }
    for column in table.column_iter_mut().skip(3) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    println!("Estimate on {day} (CNY); nothing was lodged or stored.");
    println!(
        "regime: {} / {}",
        text(&report["regime"]["en"]),
        text(&report["regime"]["zh"])
    );
    println!("{table}");
    for total in report["totals"].as_array().into_iter().flatten() {
        let exempt = if total["exempt"] == true {
            format!(" (exempt; nominal {})", text(&total["nominal"]))
        } else {
            String::new()
        };
        println!(
            "{} / {}: {}{exempt}",
            text(&total["name"]["en"]),
            text(&total["name"]["zh"]),
            text(&total["payable"])
        );
    }
    println!(
        "total payable / 应缴税款合计: {} CNY",
        text(&report["total_payable"])
    );
    if let Some(allowance) = report["cbec"]["annual_allowance"].as_object() {
        let say = |k: &str| {
            allowance
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        println!("{} / {}", say("en"), say("zh"));
    }
}

/// The same parse and field checks as lodging, so a broken declaration gets the same errors.
pub fn parse_declaration(text: &[u8], day: NaiveDate) -> anyhow::Result<domain::Declaration> {
    let invalid = |errors| crate::show::explain(clearance::ClearanceError::Invalid(errors));
    let dto: wire::DeclarationDto = wire::parse_json(text).map_err(|e| invalid(vec![e]))?;
    let context = domain::ParseContext {
        reference: reference::ReferenceData::embedded(),
        on: day,
    };
    dto.parse(&context).map_err(invalid)
}

/// Reads and parses the five files; every problem (a file that cannot be read, or every problem
/// of the release with its file and line) is reported at once.
fn read_release(folder: &Path) -> anyhow::Result<TariffRelease> {
    let paths = RELEASE_FILES.map(|name| folder.join(name));
    let mut unreadable = Vec::new();
    let texts = paths.clone().map(|path| {
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            unreadable.push(format!(
                "  {}: cannot be read: {e} / 无法读取",
                path.display()
            ));
            String::new()
        })
    });
    if !unreadable.is_empty() {
        bail!(
            "the tariff release in {} is incomplete:\n{}",
            folder.display(),
            unreadable.join("\n")
        );
    }
    let names = paths.map(|path| path.display().to_string());
    let file = |i: usize| tariff::ReleaseFile {
        name: &names[i],
        text: &texts[i],
    };
    let files = tariff::ReleaseFiles {
        lines: file(0),
        duty_rates: file(1),
        consumption_tax: file(2),
        trade_remedies: file(3),
        exchange_rates: file(4),
    };
    let mut release = tariff::parse_release(&files).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {p} / {}", p.message_zh))
            .collect();
        anyhow!(
            "the tariff release in {} has {} problem(s):\n{}",
            folder.display(),
            problems.len(),
            lines.join("\n")
        )
    })?;
    // The release's product-specific rules of origin, when its folder has them.
    let rules_path = folder.join(tariff::origin_rules::ORIGIN_RULES_FILE);
    if rules_path.exists() {
        let text = std::fs::read_to_string(&rules_path)
            .with_context(|| format!("reading {}", rules_path.display()))?;
        let name = rules_path.display().to_string();
        let agreements = tariff::origin::agreements_china_2026();
        let codes: Vec<&str> = agreements
            .agreements
            .iter()
            .map(|a| a.code.as_str())
            .collect();
        release.origin_rules = tariff::origin_rules::parse_origin_rules(
            tariff::ReleaseFile {
                name: &name,
                text: &text,
            },
            &codes,
        )
        .map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("  {p} / {}", p.message_zh))
                .collect();
            anyhow!(
                "the rules of origin in {} have {} problem(s):\n{}",
                rules_path.display(),
                problems.len(),
                lines.join("\n")
            )
        })?;
    }
    Ok(release)
}

fn print_table(input: &DeclarationInput, assessment: &Assessment, day: NaiveDate) {
    let remedies = assessment
        .totals
        .iter()
        .any(|t| matches!(t.kind, TaxKind::TradeRemedy(_)));
    let mut header = vec!["item", "code", "customs value", "duty rate", "duty"];
    if remedies {
        header.push("trade remedies");
    }
    header.extend(["consumption tax", "VAT"]);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for (index, (item, assessed)) in input.items.iter().zip(&assessment.items).enumerate() {
        let payable = |wanted: &dyn Fn(TaxKind) -> bool| -> String {
            let taxes: Vec<Decimal> = assessed
                .taxes
                .iter()
                .filter(|t| wanted(t.kind))
                .map(|t| t.payable)
                .collect();
            if taxes.is_empty() {
                "-".into()
            } else {
                fen_text(taxes.iter().sum())
            }
        };
        let selection = &assessed.selection;
        let mut row = vec![
            index.to_string(),
            item.line.code.clone(),
            fen_text(assessed.customs_value.cny),
            format!("{} {}", selection.column.name_en(), selection.rate),
            payable(&|k| k == TaxKind::CustomsDuty),
        ];
        if remedies {
            row.push(payable(&|k| matches!(k, TaxKind::TradeRemedy(_))));
        }
        row.push(payable(&|k| k == TaxKind::ConsumptionTax));
        row.push(payable(&|k| k == TaxKind::ImportVat));
        table.add_row(row);
    }
    for column in table.column_iter_mut().skip(2) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    if let Some(column) = table.column_mut(3) {
        column.set_cell_alignment(CellAlignment::Left);
    }
    println!("Estimate on {day} (CNY); nothing was lodged or stored.");
    println!("{table}");
    println!("customs value: {}", fen_text(assessment.customs_value()));
    for total in &assessment.totals {
        let exempt = if total.exempt {
            format!(" (exempt; nominal {})", fen_text(total.nominal))
        } else {
            String::new()
        };
        println!(
            "{} / {}: {}{exempt}",
            total.kind.name_en(),
            total.kind.name_zh(),
            fen_text(total.payable)
        );
    }
    println!(
        "total payable / 应缴税款合计: {} CNY",
        fen_text(assessment.total_payable)
    );
    for (index, assessed) in assessment.items.iter().enumerate() {
        if let Some(refused) = &assessed.selection.refused_preference {
            println!("item {index}: {refused}");
        }
    }
}
