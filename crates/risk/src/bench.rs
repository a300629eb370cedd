//! Generated rule sets and declarations for benchmarks (`customs bench`) and scale tests. Seeded:
//! the same seed gives the same rules and declarations.
//!
//! The rules look like an analyst's: mostly a commodity prefix (4, 6 or 8 digits) with origins and
//! a unit-value condition; some name a trader or an office; a few (0.1 %) read only the credit
//! level and the model score, so they are candidates for every declaration. Declarations draw their
//! commodity codes from the same headings.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::draw::splitmix64;
use crate::index::RuleSet;
use crate::model::{
    Action, CreditLevel, DeclarationHeader, DeclarationKind, Direction, History, Purpose,
    RiskInput, RiskItem,
};
use crate::rule::{RuleDefinition, Scope, compile};

const CHAPTERS: [&str; 20] = [
    "84", "85", "61", "62", "64", "39", "73", "87", "90", "94", "95", "30", "33", "22", "03", "08",
    "44", "48", "71", "29",
];
const SUBHEADINGS: [&str; 4] = ["10", "20", "30", "90"];
const NATIONAL: [&str; 3] = ["0000", "1000", "9000"];
const ORIGINS: [&str; 8] = ["CN", "VN", "US", "DE", "JP", "KR", "TH", "MY"];
const OFFICES: [&str; 8] = [
    "2200", "2201", "2210", "2223", "2225", "5300", "5301", "5316",
];
/// Traders the generated declarations and party rules draw from.
const TRADERS: usize = 1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

fn heading(rng: &mut Rng) -> String {
    format!("{}{:02}", rng.pick(&CHAPTERS), 1 + rng.below(20))
}

fn code(rng: &mut Rng) -> String {
    format!(
        "{}{}{}",
        heading(rng),
        rng.pick(&SUBHEADINGS),
        rng.pick(&NATIONAL)
    )
}

fn trader(i: usize) -> String {
    format!("91310000MA1K{:06}", i)
}

fn origins(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3);
    let mut chosen: Vec<&str> = Vec::new();
    while chosen.len() < n {
        let o = rng.pick(&ORIGINS);
        if !chosen.contains(&o) {
            chosen.push(o);
        }
    }
    chosen
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The definition of generated rule `i`.
pub fn generated_rule(i: usize, rng_seed: u64) -> RuleDefinition {
    let mut rng = Rng(rng_seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let shape = rng.below(1000);
    let expression = if shape < 1 {
        "credit == \"untrustworthy\" && model_score != null && model_score > 0.95".to_owned()
    } else if shape < 21 {
        format!(
            "declaration.trader == \"{}\" && declaration.invoice_amount > {}.0",
            trader(rng.below(TRADERS)),
            1000 * (1 + rng.below(100))
        )
    } else if shape < 31 {
        format!(
            "declaration.office_of_lodging == \"{}\" && declaration.transport_mode == \"{}\" && declaration.invoice_amount > {}.0",
            rng.pick(&OFFICES),
            1 + rng.below(9),
            10000 * (1 + rng.below(100))
        )
    } else {
        let h = heading(&mut rng);
        let prefix = match rng.below(10) {
            0..6 => h,
            6..9 => format!("{h}{}", rng.pick(&SUBHEADINGS)),
            _ => format!("{h}{}{}", rng.pick(&SUBHEADINGS), &rng.pick(&NATIONAL)[..2]),
        };
        let value = match rng.below(3) {
            0 => format!(
                "has(features.unit_value_cny) && features.unit_value_cny < {}.0",
                1 + rng.below(100)
            ),
            1 => format!(
                "has(features.value_per_kg_cny) && features.value_per_kg_cny > {}.0",
                1000 + rng.below(20_000)
            ),
            _ => format!("item.amount > {}.0", 10_000 * (5 + rng.below(20))),
        };
        format!(
            "item.commodity_code.startsWith(\"{prefix}\") && item.origin_country in [{}] && {value}",
            origins(&mut rng)
        )
    };
    let action = match rng.below(10) {
        0..6 => Action::DocumentCheck,
        6..9 => Action::PhysicalInspection,
        _ => Action::LabSampling,
    };
    RuleDefinition {
        id: format!("GEN-{i:06}"),
        version: 1,
        scope: Scope::default(),
        purpose: Purpose::Both,
        action,
        expected_selection_rate: Decimal::new(5 + rng.below(46) as i64, 2),
        priority: rng.below(256) as u8,
        reason_en: format!("generated rule {i}"),
        reason_zh: format!("生成的规则 {i}"),
        expression,
    }
}

/// `n` generated rules, compiled and indexed.
pub fn generated_rule_set(n: usize, seed: u64) -> RuleSet {
    let rules = (0..n)
        .map(|i| compile(generated_rule(i, seed)).expect("a generated rule compiles"))
        .collect();
    RuleSet::build(rules)
}

/// Generated declaration `i`: 1 to 5 items, assessed, a general-trade import.
pub fn generated_input(i: u64, seed: u64) -> RiskInput {
    let mut rng = Rng(seed ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let items: Vec<RiskItem> = (0..1 + rng.below(5))
        .map(|_| {
            let quantity = Decimal::from(1 + rng.below(1000));
            let amount = Decimal::new((100 + rng.below(10_000_000)) as i64, 2);
            RiskItem {
                commodity_code: code(&mut rng),
                description: "generated goods".to_owned(),
                origin_country: rng.pick(&ORIGINS).to_owned(),
                quantity,
                unit: "PCE".to_owned(),
                statutory_quantity_1: Some((quantity, "PCE".to_owned())),
                statutory_quantity_2: None,
                amount,
                customs_value_cny: Some(amount * Decimal::new(71, 1)),
                net_mass_kg: Some(Decimal::from(1 + rng.below(5000))),
                licence_codes: Vec::new(),
            }
        })
        .collect();
    let invoice_amount = items.iter().map(|i| i.amount).sum::<Decimal>();
    let office = rng.pick(&OFFICES).to_owned();
    RiskInput {
        declaration: DeclarationHeader {
            direction: Direction::Import,
            kind: DeclarationKind::Ordinary,
            procedure: "0110".to_owned(),
            office_of_lodging: office.clone(),
            office_of_entry_exit: office,
            transport_mode: (1 + rng.below(9)).to_string(),
            transport_means: Some(format!("VESSEL {}", rng.below(500))),
            trader: trader(rng.below(TRADERS)),
            declarant: trader(rng.below(TRADERS)),
            overseas_party_name: format!("SELLER {} LTD", rng.below(5000)),
            overseas_party_country: rng.pick(&ORIGINS).to_owned(),
            consignor: None,
            dispatch_country: rng.pick(&ORIGINS).to_owned(),
            invoice_currency: "USD".to_owned(),
            invoice_amount,
            customs_value_cny: Some(invoice_amount * Decimal::new(71, 1)),
            payable_cny: Some(invoice_amount * Decimal::new(9, 1)),
            documents: Vec::new(),
        },
        items,
        credit: match rng.below(20) {
            0 => CreditLevel::AdvancedCertified,
            1 => CreditLevel::Untrustworthy,
            _ => CreditLevel::General,
        },
        history: History {
            declarations_365d: rng.below(500) as u32,
            discrepancies: rng.below(3) as u32,
        },
        model_score: Some((rng.below(1000) as f64) / 1000.0),
        model: None,
    }
}

/// A day inside every generated rule's validity.
pub fn generated_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("a valid date")
}
