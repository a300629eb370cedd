//! `customs assess FILE --release DIR`: an estimate of the duty and taxes of an import declaration
//! against a tariff release, by the pure `tariff` engine. Nothing is lodged and no store is opened.
//!
//! Also the one conversion of a declaration's JSON into the engine's input, shared with the
//! assessment stage of `customs bench`.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use chrono::{FixedOffset, NaiveDate, Utc};
use clap::Args;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tariff::money::fen_text;
use tariff::{
    Assessment, Charge, DeclarationInput, Explanation, ItemInput, Origin, PreferenceClaim,
    QuotaStatus, TariffLine, TariffRelease, TaxKind,
};

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
    let day = args
        .date
        .unwrap_or_else(|| Utc::now().with_timezone(&utc_offset).date_naive());
    let text =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    check_declaration(&text, day)?;
    let body: Value = serde_json::from_slice(&text)?;
    let release = read_release(&args.release)?;
    let input = declaration_input(&body, day, &mut |conversion: Conversion<'_>| {
        release_item(&release, day, conversion)
    })
    .map_err(|message| anyhow!("the declaration cannot be assessed:\n  {message}"))?
    .ok_or_else(|| anyhow!("direction: an export declaration has no import duty or taxes"))?;
    let assessment = tariff::assess_declaration(
        &input,
        &release.exchange_rates,
        &tariff::AssessmentConfig::china_2026(),
    )
    .map_err(|e| {
        anyhow!(
            "the declaration cannot be assessed: {e} / {}",
            e.message_zh()
        )
    })?;
    if args.json {
        let report = json_report(&input, &assessment, day);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&input, &assessment, day);
    }
    Ok(())
}

/// The same parse and field checks as lodging, so a broken declaration gets the same errors.
fn check_declaration(text: &[u8], day: NaiveDate) -> anyhow::Result<()> {
    let invalid = |errors| crate::show::explain(clearance::ClearanceError::Invalid(errors));
    let dto: wire::DeclarationDto = wire::parse_json(text).map_err(|e| invalid(vec![e]))?;
    let context = domain::ParseContext {
        reference: reference::ReferenceData::embedded(),
        on: day,
    };
    dto.parse(&context).map_err(invalid)?;
    Ok(())
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
    tariff::parse_release(&files).map_err(|problems| {
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
    })
}

/// The release's line of an item on the day, and the preference claimed: with a certificate of
/// origin among the documents, the conventional or special column of the line that lists the
/// origin (the proof is taken as valid: this is an estimate).
fn release_item(
    release: &TariffRelease,
    day: NaiveDate,
    conversion: Conversion<'_>,
) -> Result<(TariffLine, Option<PreferenceClaim>), String> {
    let code = conversion.code;
    let line = release.line(code, day).ok_or_else(|| {
        format!("no tariff line {code} in force on {day} in the release / 税则中无 {day} 有效的税号 {code}")
    })?;
    let claim = line
        .columns
        .iter()
        .filter(|_| conversion.certificate_of_origin)
        .filter(|c| c.validity.contains(day))
        .find(|c| c.partners.iter().any(|p| p == conversion.origin))
        .map(|c| PreferenceClaim {
            column: c.column.clone(),
            proof: tariff::ProofCheck::Valid,
        });
    Ok((line.clone(), claim))
}

// ---------------------------------------------------------------------------------------------
// The conversion.

/// What the conversion asks its caller about one goods item: its line and the preference claimed.
pub struct Conversion<'a> {
    pub code: &'a str,
    pub origin: &'a str,
    /// A certificate of origin (`COO`) is among the declaration's documents.
    pub certificate_of_origin: bool,
}

fn json_decimal(value: &Value, path: &str) -> Result<Decimal, String> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("{path}: not a decimal: {value}"))
}

/// Freight or insurance given as an amount must be in the invoice currency: the engine converts
/// one currency per item.
fn same_currency(charge: &Value, currency: &str, path: &str) -> Result<(), String> {
    match charge["currency"].as_str() {
        Some(other) if other != currency => Err(format!(
            "{path}.currency: {other} differs from the invoice currency {currency}; not converted"
        )),
        _ => Ok(()),
    }
}

/// The freight of one item: an amount is shared by the items' amounts (the last item takes the
/// rest, so the shares add up), a rate applies to each item's price, a per-tonne amount to each
/// item's net mass.
fn item_freight(
    freight: &Value,
    item: &Value,
    index: usize,
    share: (usize, Decimal, &mut Decimal),
) -> Result<Charge, String> {
    let (count, invoice_total, shared) = share;
    Ok(match freight["kind"].as_str() {
        None => Charge::Absent,
        Some("amount") => {
            let total = json_decimal(&freight["amount"], "freight.amount")?;
            let amount = if index + 1 == count {
                total - *shared
            } else {
                let item_amount = json_decimal(&item["amount"], &format!("items[{index}].amount"))?;
                (total * item_amount / invoice_total.max(Decimal::new(1, 2))).round_dp(2)
            };
            *shared += amount;
            Charge::Amount(amount)
        }
        Some("rate") => Charge::Rate(tariff::Rate::percent(json_decimal(
            &freight["percent"],
            "freight.percent",
        )?)),
        Some("per_unit") if freight["unit"] == "TNE" => {
            let kilograms = item["statutory_quantities"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|q| q["unit"] == "KGM")
                .ok_or_else(|| {
                    format!("items[{index}].statutory_quantities: no net mass in KGM for the freight per tonne")
                })?;
            Charge::PerUnit {
                amount_per_unit: json_decimal(&freight["amount"], "freight.amount")?,
                quantity: json_decimal(&kilograms["value"], "the net mass in KGM")?
                    / Decimal::ONE_THOUSAND,
            }
        }
        Some(other) => return Err(format!("freight.kind: {other:?} is not converted")),
    })
}

/// A declaration's JSON as the engine's input: `Ok(None)` for an export, which the engine does
/// not assess. `item` gives each goods item's tariff line and preference claim. An error names
/// the field it is about.
pub fn declaration_input(
    body: &Value,
    day: NaiveDate,
    item: &mut impl FnMut(Conversion<'_>) -> Result<(TariffLine, Option<PreferenceClaim>), String>,
) -> Result<Option<DeclarationInput>, String> {
    if body["direction"] != "import" {
        return Ok(None);
    }
    if !body["other_costs"].is_null() {
        return Err("other_costs: not converted".into());
    }
    let invoice = &body["invoice"];
    let currency = invoice["currency"]
        .as_str()
        .ok_or("invoice.currency: missing")?;
    let invoice_total = json_decimal(&invoice["amount"], "invoice.amount")?;
    let terms = body["transaction_terms"]
        .as_str()
        .and_then(tariff::TransactionTerms::parse)
        .ok_or("transaction_terms: missing or not known")?;
    same_currency(&body["freight"], currency, "freight")?;
    let insurance = match body["insurance"]["kind"].as_str() {
        None => Charge::Absent,
        Some("rate") => Charge::Rate(tariff::Rate::percent(json_decimal(
            &body["insurance"]["percent"],
            "insurance.percent",
        )?)),
        Some(other) => return Err(format!("insurance.kind: {other:?} is not converted")),
    };
    let certificate_of_origin = body["documents"]
        .as_array()
        .is_some_and(|documents| documents.iter().any(|d| d["type"] == "COO"));
    let items = body["items"].as_array().ok_or("items: missing")?;
    let mut freight_shared = Decimal::ZERO;
    let mut inputs = Vec::with_capacity(items.len());
    for (index, goods) in items.iter().enumerate() {
        let code = goods["commodity_code"]
            .as_str()
            .ok_or_else(|| format!("items[{index}].commodity_code: missing"))?;
        let country = goods["origin_country"]
            .as_str()
            .ok_or_else(|| format!("items[{index}].origin_country: missing"))?;
        let (line, claim) = item(Conversion {
            code,
            origin: country,
            certificate_of_origin,
        })
        .map_err(|message| format!("items[{index}].commodity_code: {message}"))?;
        let quantities = goods["statutory_quantities"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(q_index, q)| {
                Ok(tariff::Quantity {
                    unit: tariff::StatutoryUnit(q["unit"].as_str().unwrap_or_default().to_owned()),
                    amount: json_decimal(
                        &q["value"],
                        &format!("items[{index}].statutory_quantities[{q_index}].value"),
                    )?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let share = (items.len(), invoice_total, &mut freight_shared);
        inputs.push(ItemInput {
            line,
            valuation: tariff::ValuationInput {
                invoice_amount: json_decimal(&goods["amount"], &format!("items[{index}].amount"))?,
                currency: currency.to_owned(),
                terms,
                freight: item_freight(&body["freight"], goods, index, share)?,
                insurance,
            },
            origin: Origin::Known {
                country: country.to_owned(),
                mfn_entitled: true,
            },
            claim,
            quota: QuotaStatus::NotQuotaGoods,
            quantities,
        });
    }
    Ok(Some(DeclarationInput {
        acceptance_date: day,
        items: inputs,
    }))
}

// ---------------------------------------------------------------------------------------------
// The report.

fn explained(explanation: &Explanation) -> Value {
    json!({ "en": explanation.en, "zh": explanation.zh })
}

fn all_explained(explanations: &[Explanation]) -> Vec<Value> {
    explanations.iter().map(explained).collect()
}

/// `customs_duty`, `anti_dumping_duty`, `import_vat`...
fn kind_key(kind: TaxKind) -> String {
    kind.name_en()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn json_report(input: &DeclarationInput, assessment: &Assessment, day: NaiveDate) -> Value {
    let items: Vec<Value> = input
        .items
        .iter()
        .zip(&assessment.items)
        .enumerate()
        .map(|(index, (item, assessed))| {
            let value = &assessed.customs_value;
            let selection = &assessed.selection;
            let taxes: Vec<Value> = assessed
                .taxes
                .iter()
                .map(|t| {
                    json!({
                        "kind": kind_key(t.kind),
                        "name": { "en": t.kind.name_en(), "zh": t.kind.name_zh() },
                        "nominal": fen_text(t.nominal),
                        "payable": fen_text(t.payable),
                        "explanation": all_explained(&t.explanation),
                    })
                })
                .collect();
            json!({
                "index": index,
                "commodity_code": item.line.code,
                "description": item.line.description,
                "origin": item.origin.country(),
                "customs_value": {
                    "cny": fen_text(value.cny),
                    "currency": value.exchange_rate.currency(),
                    "freight": value.freight.to_string(),
                    "insurance": value.insurance.to_string(),
                    "cif_foreign": value.cif_foreign.to_string(),
                    "exchange_rate": value.exchange_rate.rate_4dp().to_string(),
                    "exchange_rate_month": value.exchange_rate.month().to_string(),
                    "explanation": all_explained(&value.explanation),
                },
                "duty_rate": {
                    "column": { "en": selection.column.name_en(), "zh": selection.column.name_zh() },
                    "rate": selection.rate.to_string(),
                    "explanation": all_explained(&selection.reason),
                    "refused_preference": selection.refused_preference.as_ref().map(explained),
                },
                "taxes": taxes,
            })
        })
        .collect();
    let totals: Vec<Value> = assessment
        .totals
        .iter()
        .map(|t| {
            json!({
                "kind": kind_key(t.kind),
                "name": { "en": t.kind.name_en(), "zh": t.kind.name_zh() },
                "nominal": fen_text(t.nominal),
                "exempt": t.exempt,
                "payable": fen_text(t.payable),
                "explanation": explained(&t.explanation),
            })
        })
        .collect();
    json!({
        "estimate": true,
        "acceptance_date": day.to_string(),
        "currency": "CNY",
        "items": items,
        "customs_value": fen_text(assessment.customs_value()),
        "totals": totals,
        "total_payable": fen_text(assessment.total_payable),
        "explanation": all_explained(&assessment.explanation),
    })
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
