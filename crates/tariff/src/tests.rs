//! The worked examples of the rules digest (§2.9), run from `test_data/worked_examples.json`;
//! table tests of rate selection; property tests of the assessment.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::*;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|_| panic!("not a decimal: {text}"))
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn since_2000() -> Validity {
    Validity::from(day("2000-01-01"))
}

// ---------------------------------------------------------------------------------------------
// Worked examples, file-driven.

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    title: String,
    regime: String,
    acceptance_date: Option<String>,
    #[serde(default)]
    exchange_rates: Vec<RateRow>,
    vat_base_includes_exempted_duty: Option<bool>,
    cbec: Option<CbecSpec>,
    #[serde(default)]
    items: Vec<ItemSpec>,
    #[serde(default)]
    parcels: Vec<Vec<ArticleSpec>>,
    expected: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RateRow {
    currency: String,
    month: String,
    rate: String,
}

#[derive(Deserialize)]
struct CbecSpec {
    indivisible_item: bool,
    person_year_to_date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    line: LineSpec,
    invoice_amount: String,
    currency: String,
    terms: String,
    freight: Option<ChargeSpec>,
    insurance: Option<ChargeSpec>,
    origin: Option<String>,
    #[serde(default)]
    quantities: Vec<QuantitySpec>,
}

#[derive(Deserialize)]
struct ChargeSpec {
    amount: Option<String>,
    rate: Option<String>,
}

#[derive(Deserialize)]
struct QuantitySpec {
    unit: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpec {
    code: String,
    columns: Vec<ColumnSpec>,
    vat: String,
    consumption_tax: Option<RateSpec>,
}

#[derive(Deserialize)]
struct ColumnSpec {
    column: String,
    #[serde(flatten)]
    rate: RateSpec,
}

/// A rate in the file: `ad_valorem` alone, `per_unit` + `unit`, both (compound), or `unit` +
/// `bands` (conditional on unit value).
#[derive(Deserialize, Default)]
struct RateSpec {
    ad_valorem: Option<String>,
    per_unit: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    bands: Vec<BandSpec>,
}

#[derive(Deserialize)]
struct BandSpec {
    at_least: Option<String>,
    above: Option<String>,
    #[serde(flatten)]
    rate: RateSpec,
}

#[derive(Deserialize)]
struct ArticleSpec {
    price: String,
    class: u8,
}

impl RateSpec {
    fn build(&self) -> DutyRate {
        let unit = || StatutoryUnit(self.unit.clone().expect("a unit"));
        if !self.bands.is_empty() {
            let bands = self.bands.iter().map(BandSpec::build).collect();
            return DutyRate::Conditional {
                unit: unit(),
                bands,
            };
        }
        let percent = self.ad_valorem.as_deref().map(|p| Rate::percent(dec(p)));
        match (percent, self.per_unit.as_deref()) {
            (Some(rate), None) => DutyRate::AdValorem { rate },
            (None, Some(amount)) => DutyRate::Specific {
                amount_per_unit: dec(amount),
                unit: unit(),
            },
            (Some(rate), Some(amount)) => DutyRate::Compound {
                rate,
                amount_per_unit: dec(amount),
                unit: unit(),
            },
            (None, None) => panic!("a rate needs ad_valorem or per_unit"),
        }
    }
}

impl BandSpec {
    fn build(&self) -> RateBand {
        let floor = match (&self.at_least, &self.above) {
            (Some(v), None) => Some(UnitValueFloor::AtLeast(dec(v))),
            (None, Some(v)) => Some(UnitValueFloor::Above(dec(v))),
            (None, None) => None,
            _ => panic!("a band has one floor"),
        };
        RateBand {
            floor,
            rate: self.rate.build(),
        }
    }
}

fn column(name: &str) -> RateColumn {
    match name {
        "mfn" => RateColumn::Mfn,
        "provisional" => RateColumn::Provisional,
        "general" => RateColumn::General,
        "in_quota" => RateColumn::TariffQuotaInQuota,
        other => panic!("unknown column {other}"),
    }
}

impl LineSpec {
    fn build(&self) -> TariffLine {
        TariffLine {
            code: self.code.clone(),
            description: String::new(),
            statutory_units: Vec::new(),
            licences: Vec::new(),
            columns: self
                .columns
                .iter()
                .map(|c| ColumnRate {
                    column: column(&c.column),
                    partners: Vec::new(),
                    validity: since_2000(),
                    rate: c.rate.build(),
                })
                .collect(),
            remedies: Vec::new(),
            vat: vec![DatedRate {
                validity: since_2000(),
                rate: Rate::percent(dec(&self.vat)),
            }],
            consumption_tax: self
                .consumption_tax
                .iter()
                .map(|r| DatedRate {
                    validity: since_2000(),
                    rate: r.build(),
                })
                .collect(),
        }
    }
}

fn charge(spec: Option<&ChargeSpec>) -> Charge {
    match spec {
        None => Charge::Absent,
        Some(ChargeSpec {
            amount: Some(a), ..
        }) => Charge::Amount(dec(a)),
        Some(ChargeSpec { rate: Some(r), .. }) => Charge::Rate(Rate::percent(dec(r))),
        Some(_) => panic!("a charge needs an amount or a rate"),
    }
}

impl ItemSpec {
    fn build(&self) -> ItemInput {
        ItemInput {
            line: self.line.build().into(),
            valuation: ValuationInput {
                invoice_amount: dec(&self.invoice_amount),
                currency: self.currency.clone(),
                terms: TransactionTerms::parse(&self.terms).expect("known terms"),
                freight: charge(self.freight.as_ref()),
                insurance: charge(self.insurance.as_ref()),
            },
            origin: match &self.origin {
                Some(country) => Origin::Known {
                    country: country.clone(),
                    mfn_entitled: true,
                },
                None => Origin::Unknown,
            },
            exporter: None,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            quantities: self
                .quantities
                .iter()
                .map(|q| Quantity {
                    unit: StatutoryUnit(q.unit.clone()),
                    amount: dec(&q.amount),
                })
                .collect(),
        }
    }
}

fn exchange_rates(rows: &[RateRow]) -> ExchangeRates {
    ExchangeRates::new(
        rows.iter()
            .map(|r| {
                let (year, month) = r.month.split_once('-').expect("YYYY-MM");
                let month = YearMonth {
                    year: year.parse().expect("a year"),
                    month: month.parse().expect("a month"),
                };
                ExchangeRate::new(r.currency.clone(), month, dec(&r.rate)).expect("a 4-dp rate")
            })
            .collect(),
    )
}

fn money(amount: Decimal) -> String {
    money::fen_text(amount)
}

/// Every figure of an assessment, flattened to the keys the file uses.
fn figures_of(assessment: &Assessment, out: &mut BTreeMap<String, String>) {
    out.insert("customs_value".into(), money(assessment.customs_value()));
    out.insert("total".into(), money(assessment.total_payable));
    let ratio = (assessment.total_payable / assessment.customs_value()).normalize();
    out.insert("total_ratio".into(), ratio.to_string());
    for total in &assessment.totals {
        let key = match total.kind {
            TaxKind::CustomsDuty => "duty",
            TaxKind::ConsumptionTax => "consumption_tax",
            TaxKind::ImportVat => "vat",
            _ => continue,
        };
        out.insert(key.into(), money(total.nominal));
        out.insert(format!("{key}.exempt"), total.exempt.to_string());
        out.insert(format!("{key}.payable"), money(total.payable));
    }
    for (i, item) in assessment.items.iter().enumerate() {
        let value = &item.customs_value;
        out.insert(format!("item[{i}].freight"), money(value.freight));
        out.insert(format!("item[{i}].insurance"), money(value.insurance));
        out.insert(format!("item[{i}].cif_foreign"), money(value.cif_foreign));
        out.insert(format!("item[{i}].column"), item.selection.column.name_en());
    }
}

/// Every figure must say where it came from, in both languages.
fn assert_explained(id: &str, assessment: &Assessment) {
    for item in &assessment.items {
        let mut lines: Vec<&Explanation> = item.customs_value.explanation.iter().collect();
        lines.extend(&item.selection.reason);
        for tax in &item.taxes {
            assert!(
                !tax.explanation.is_empty(),
                "case {id}: {:?} unexplained",
                tax.kind
            );
            lines.extend(&tax.explanation);
        }
        for line in lines {
            assert!(
                !line.en.is_empty() && !line.zh.is_empty(),
                "case {id}: {line}"
            );
        }
    }
    for total in &assessment.totals {
        assert!(!total.explanation.zh.is_empty(), "case {id}");
    }
}

fn run_case(case: &Case) -> BTreeMap<String, String> {
    let mut config = AssessmentConfig::china_2026();
    if let Some(flag) = case.vat_base_includes_exempted_duty {
        config.vat_base_includes_exempted_duty = flag;
    }
    let mut out = BTreeMap::new();
    let rates = exchange_rates(&case.exchange_rates);
    let items: Vec<ItemInput> = case.items.iter().map(ItemSpec::build).collect();
    let date = || day(case.acceptance_date.as_deref().expect("an acceptance date"));
    match case.regime.as_str() {
        "general_trade" => {
            let input = DeclarationInput {
                acceptance_date: date(),
                items,
            };
            let assessment = assess_declaration(&input, &rates, &config).expect("assessable");
            assert_explained(&case.id, &assessment);
            figures_of(&assessment, &mut out);
        }
        "cbec" => {
            let spec = case.cbec.as_ref().expect("cbec details");
            let order = CbecOrder {
                acceptance_date: date(),
                items,
                indivisible_item: spec.indivisible_item,
                person_year_to_date: dec(&spec.person_year_to_date),
            };
            let (outcome, assessment, after) =
                match assess_cbec_order(&order, &rates, &config).expect("assessable") {
                    CbecOutcome::WithinLimits {
                        assessment,
                        annual_total_after,
                    } => ("within_limits", Some(assessment), Some(annual_total_after)),
                    CbecOutcome::IndivisibleAtFullRates {
                        assessment,
                        annual_total_after,
                    } => (
                        "indivisible_full_rates",
                        Some(assessment),
                        Some(annual_total_after),
                    ),
                    CbecOutcome::GeneralTrade { reason } => {
                        assert!(!reason.en.is_empty() && !reason.zh.is_empty());
                        ("general_trade", None, None)
                    }
                };
            out.insert("outcome".into(), outcome.into());
            if let Some(assessment) = assessment {
                assert_explained(&case.id, &assessment);
                figures_of(&assessment, &mut out);
            }
            if let Some(after) = after {
                out.insert("annual_total_after".into(), money(after));
            }
        }
        "postal" => {
            for (i, parcel) in case.parcels.iter().enumerate() {
                let articles: Vec<PostalArticle> = parcel
                    .iter()
                    .map(|a| PostalArticle {
                        dutiable_price: dec(&a.price),
                        class: match a.class {
                            1 => PostalClass::Class1,
                            2 => PostalClass::Class2,
                            3 => PostalClass::Class3,
                            other => panic!("postal class {other}"),
                        },
                    })
                    .collect();
                let day = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
                let rates = config.postal_rates_on(day).unwrap().rates;
                let assessed = assess_postal_parcel(&articles, &rates, &config);
                out.insert(format!("parcel[{i}].tax"), money(assessed.total.nominal));
                out.insert(
                    format!("parcel[{i}].exempt"),
                    assessed.total.exempt.to_string(),
                );
                out.insert(
                    format!("parcel[{i}].payable"),
                    money(assessed.total.payable),
                );
            }
        }
        other => panic!("case {}: unknown regime {other}", case.id),
    }
    out
}

#[test]
fn every_worked_example_of_the_digest_gives_its_figures() {
    let text = include_str!("../test_data/worked_examples.json");
    let cases: Cases = serde_json::from_str(text).expect("worked_examples.json parses");
    let ids: Vec<&str> = cases.cases.iter().map(|c| c.id.as_str()).collect();
    let wanted = [
        "1", "2", "2b", "3", "4", "5", "6", "7", "8", "9", "10a", "10b", "11",
    ];
    assert_eq!(ids, wanted, "every example of §2.9, in order");
    let mut failures = Vec::new();
    for case in &cases.cases {
        let got = run_case(case);
        for (key, want) in &case.expected {
            match got.get(key) {
                Some(value) if value == want => {}
                other => failures.push(format!(
                    "case {} ({}): {key} expected {want}, got {other:?}",
                    case.id, case.title
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Rate selection, table-driven.

fn pct(p: i64) -> DutyRate {
    DutyRate::AdValorem {
        rate: Rate::percent(Decimal::from(p)),
    }
}

fn col(column: RateColumn, partners: &[&str], percent: i64) -> ColumnRate {
    ColumnRate {
        column,
        partners: partners.iter().map(|p| (*p).to_owned()).collect(),
        validity: since_2000(),
        rate: pct(percent),
    }
}

fn rcep() -> RateColumn {
    RateColumn::Conventional {
        agreement: "RCEP".into(),
    }
}

fn line(columns: Vec<ColumnRate>) -> TariffLine {
    TariffLine {
        code: "0000000000".into(),
        description: "test line".into(),
        statutory_units: vec![StatutoryUnit("KGM".into())],
        licences: Vec::new(),
        columns,
        remedies: vec![TradeRemedy {
            kind: RemedyKind::AntiDumping,
            origins: vec!["US".into()],
            exporters: Vec::new(),
            validity: Validity {
                from: day("2025-01-01"),
                until: Some(day("2030-01-01")),
            },
            rate: pct(20),
            notice: "MOFCOM notice (test)".into(),
        }],
        vat: vec![DatedRate {
            validity: since_2000(),
            rate: Rate::percent(Decimal::from(13)),
        }],
        consumption_tax: Vec::new(),
    }
}

fn mfn_origin(country: &str) -> Origin {
    Origin::Known {
        country: country.into(),
        mfn_entitled: true,
    }
}

struct SelectionCase {
    name: &'static str,
    columns: Vec<ColumnRate>,
    origin: Origin,
    claim: Option<PreferenceClaim>,
    quota: QuotaStatus,
    column: RateColumn,
    percent: i64,
    refused: Option<&'static str>,
    remedies: usize,
}

fn selection_cases() -> Vec<SelectionCase> {
    let valid = Some(PreferenceClaim {
        column: rcep(),
        proof: ProofCheck::Valid,
    });
    let mfn_prov = || {
        vec![
            col(RateColumn::Mfn, &[], 10),
            col(RateColumn::Provisional, &[], 5),
        ]
    };
    let with_rcep = |conv| {
        let mut c = mfn_prov();
        c.push(col(rcep(), &["JP", "KR"], conv));
        c.push(col(RateColumn::General, &[], 30));
        c
    };
    let case =
        |name, columns, origin, claim, quota, column, percent, refused, remedies| SelectionCase {
            name,
            columns,
            origin,
            claim,
            quota,
            column,
            percent,
            refused,
            remedies,
        };
    let nq = QuotaStatus::NotQuotaGoods;
    vec![
        case(
            "MFN alone",
            vec![col(RateColumn::Mfn, &[], 10)],
            mfn_origin("DE"),
            None,
            nq,
            RateColumn::Mfn,
            10,
            None,
            0,
        ),
        case(
            "provisional replaces MFN",
            mfn_prov(),
            mfn_origin("DE"),
            None,
            nq,
            RateColumn::Provisional,
            5,
            None,
            0,
        ),
        case(
            "conventional lower than provisional",
            with_rcep(3),
            mfn_origin("JP"),
            valid.clone(),
            nq,
            rcep(),
            3,
            None,
            0,
        ),
        case(
            "provisional lower than conventional",
            with_rcep(6),
            mfn_origin("JP"),
            valid.clone(),
            nq,
            RateColumn::Provisional,
            5,
            None,
            0,
        ),
        case(
            "conventional without provisional applies",
            vec![col(RateColumn::Mfn, &[], 10), col(rcep(), &["JP"], 8)],
            mfn_origin("JP"),
            valid.clone(),
            nq,
            rcep(),
            8,
            None,
            0,
        ),
        case(
            "general never takes provisional",
            with_rcep(3),
            Origin::Known {
                country: "XX".into(),
                mfn_entitled: false,
            },
            None,
            nq,
            RateColumn::General,
            30,
            None,
            0,
        ),
        case(
            "unknown origin: general",
            with_rcep(3),
            Origin::Unknown,
            None,
            nq,
            RateColumn::General,
            30,
            None,
            0,
        ),
        case(
            "in quota",
            vec![
                col(RateColumn::Mfn, &[], 65),
                col(RateColumn::TariffQuotaInQuota, &[], 1),
            ],
            mfn_origin("AU"),
            None,
            QuotaStatus::InQuota,
            RateColumn::TariffQuotaInQuota,
            1,
            None,
            0,
        ),
        case(
            "out of quota: the out-of-quota rate",
            vec![
                col(RateColumn::Mfn, &[], 65),
                col(RateColumn::TariffQuotaInQuota, &[], 1),
                col(RateColumn::TariffQuotaOutOfQuota, &[], 40),
            ],
            mfn_origin("AU"),
            None,
            QuotaStatus::OutOfQuota,
            RateColumn::TariffQuotaOutOfQuota,
            40,
            None,
            0,
        ),
        case(
            "out of quota without its own column: MFN",
            vec![
                col(RateColumn::Mfn, &[], 65),
                col(RateColumn::TariffQuotaInQuota, &[], 1),
            ],
            mfn_origin("AU"),
            None,
            QuotaStatus::OutOfQuota,
            RateColumn::Mfn,
            65,
            None,
            0,
        ),
        case(
            "anti-dumping added for the US",
            mfn_prov(),
            mfn_origin("US"),
            None,
            nq,
            RateColumn::Provisional,
            5,
            None,
            1,
        ),
        case(
            "expired proof falls back to provisional",
            with_rcep(3),
            mfn_origin("JP"),
            Some(PreferenceClaim {
                column: rcep(),
                proof: ProofCheck::Expired,
            }),
            nq,
            RateColumn::Provisional,
            5,
            Some("not valid on this date"),
            0,
        ),
        case(
            "origin not a partner falls back",
            with_rcep(3),
            mfn_origin("DE"),
            valid.clone(),
            nq,
            RateColumn::Provisional,
            5,
            Some("none in force for origin DE"),
            0,
        ),
        case(
            "refused preference for the US still bears the remedy",
            vec![col(RateColumn::Mfn, &[], 10), col(rcep(), &["JP"], 0)],
            mfn_origin("US"),
            Some(PreferenceClaim {
                column: rcep(),
                proof: ProofCheck::Missing,
            }),
            nq,
            RateColumn::Mfn,
            10,
            Some("no proof of origin"),
            1,
        ),
    ]
}

#[test]
fn rate_selection_follows_the_precedence_of_the_columns() {
    let quantities = [Quantity {
        unit: StatutoryUnit("KGM".into()),
        amount: Decimal::from(100),
    }];
    for case in selection_cases() {
        let line = line(case.columns);
        let selection = select_rate(selection::SelectionInput {
            line: &line,
            day: day("2026-03-10"),
            origin: &case.origin,
            exporter: None,
            claim: case.claim.as_ref(),
            quota: case.quota,
            customs_value: Decimal::from(1000),
            quantities: &quantities,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(selection.column, case.column, "{}", case.name);
        assert_eq!(selection.rate, pct(case.percent), "{}", case.name);
        assert_eq!(selection.remedies.len(), case.remedies, "{}", case.name);
        assert!(!selection.reason.is_empty(), "{}", case.name);
        match (case.refused, &selection.refused_preference) {
            (None, None) => {}
            (Some(why), Some(refusal)) => {
                assert!(refusal.en.contains(why), "{}: {}", case.name, refusal.en);
                assert!(!refusal.zh.is_empty());
            }
            (want, got) => panic!("{}: refusal expected {want:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn a_line_without_a_general_rate_refuses_unknown_origin() {
    let line = line(vec![col(RateColumn::Mfn, &[], 10)]);
    let error = select_rate(selection::SelectionInput {
        line: &line,
        day: day("2026-03-10"),
        origin: &Origin::Unknown,
        exporter: None,
        claim: None,
        quota: QuotaStatus::NotQuotaGoods,
        customs_value: Decimal::from(1000),
        quantities: &[],
    })
    .unwrap_err();
    assert!(matches!(error, AssessmentError::NoDutyRate { .. }));
    assert!(!error.message_zh().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Trade remedies per exporter, table-driven: the company-specific rate of a named exporter,
// otherwise the rate for all other companies; a row naming other exporters never applies.

fn remedy(kind: RemedyKind, origin: &str, exporters: &[&str], percent: i64) -> TradeRemedy {
    TradeRemedy {
        kind,
        origins: vec![origin.to_owned()],
        exporters: exporters.iter().map(|e| (*e).to_owned()).collect(),
        validity: since_2000(),
        rate: pct(percent),
        notice: format!("notice {percent}"),
    }
}

struct ExporterCase {
    name: &'static str,
    remedies: Vec<TradeRemedy>,
    exporter: Option<&'static str>,
    /// The rates of the remedies added, in the line's order.
    percents: &'static [i64],
    /// Per remedy added, a text its explanation holds (English, Chinese); `None`: no wording
    /// about companies.
    bases: &'static [Option<(&'static str, &'static str)>],
}

fn exporter_cases() -> Vec<ExporterCase> {
    use RemedyKind::{AntiDumping as Ad, Countervailing as Cvd};
    let notice = || {
        vec![
            remedy(Ad, "KR", &[], 103),
            remedy(Ad, "KR", &["POSCO", "Hyundai Steel Co., Ltd."], 23),
        ]
    };
    let case = |name, remedies, exporter, percents, bases| ExporterCase {
        name,
        remedies,
        exporter,
        percents,
        bases,
    };
    vec![
        case(
            "a named exporter takes its company-specific rate",
            notice(),
            Some("POSCO"),
            &[23],
            &[Some((
                "company-specific rate for POSCO",
                "适用 POSCO 的单独税率",
            ))],
        ),
        case(
            "names match without case and extra white space, and are quoted as the notice writes them",
            notice(),
            Some("  hyundai   STEEL co., ltd. "),
            &[23],
            &[Some((
                "company-specific rate for Hyundai Steel Co., Ltd.",
                "Hyundai Steel Co., Ltd. 的单独税率",
            ))],
        ),
        case(
            "another exporter takes the rate for all other companies",
            notice(),
            Some("Dongkuk Steel"),
            &[103],
            &[Some((
                "rate for all other companies (the declared exporter Dongkuk Steel is not named",
                "适用其他公司税率（申报的出口商 Dongkuk Steel 未列入公告）",
            ))],
        ),
        case(
            "a name that only contains a named one is another exporter",
            notice(),
            Some("POSCO International"),
            &[103],
            &[Some(("rate for all other companies", "其他公司税率"))],
        ),
        case(
            "no exporter declared: the rate for all other companies",
            notice(),
            None,
            &[103],
            &[Some((
                "rate for all other companies (no exporter declared)",
                "适用其他公司税率（未申报出口商）",
            ))],
        ),
        case(
            "a blank exporter is no exporter",
            notice(),
            Some("   "),
            &[103],
            &[Some(("no exporter declared", "未申报出口商"))],
        ),
        case(
            "only company-specific rows and another exporter: none applies",
            vec![remedy(Ad, "KR", &["POSCO"], 23)],
            Some("Dongkuk Steel"),
            &[],
            &[],
        ),
        case(
            "only company-specific rows and no exporter: none applies",
            vec![remedy(Ad, "KR", &["POSCO"], 23)],
            None,
            &[],
            &[],
        ),
        case(
            "one rate for the origin: no wording about companies",
            vec![remedy(Ad, "KR", &[], 103)],
            Some("POSCO"),
            &[103],
            &[None],
        ),
        case(
            "each kind on its own: the company's anti-dumping rate and the one countervailing rate",
            vec![
                remedy(Cvd, "KR", &[], 5),
                remedy(Ad, "KR", &[], 103),
                remedy(Ad, "KR", &["POSCO"], 23),
            ],
            Some("posco"),
            &[5, 23],
            &[
                None,
                Some(("company-specific rate for POSCO", "POSCO 的单独税率")),
            ],
        ),
        case(
            "a company's rate for another origin does not apply",
            vec![remedy(Ad, "KR", &[], 103), remedy(Ad, "JP", &["POSCO"], 23)],
            Some("POSCO"),
            &[103],
            &[None],
        ),
    ]
}

#[test]
fn trade_remedies_take_the_exporters_rate_or_the_rate_for_all_other_companies() {
    let mut failures = Vec::new();
    for case in exporter_cases() {
        let mut line = line(vec![col(RateColumn::Mfn, &[], 10)]);
        line.remedies = case.remedies;
        let selection = select_rate(selection::SelectionInput {
            line: &line,
            day: day("2026-03-10"),
            origin: &mfn_origin("KR"),
            exporter: case.exporter,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            customs_value: Decimal::from(1000),
            quantities: &[],
        })
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let percents: Vec<i64> = selection
            .remedies
            .iter()
            .map(|r| match r.rate {
                DutyRate::AdValorem { rate } => {
                    i64::try_from(rate.as_percent()).expect("a whole percentage")
                }
                _ => panic!("{}: ad valorem rates only", case.name),
            })
            .collect();
        if percents != case.percents {
            failures.push(format!(
                "{}: remedies {percents:?}, expected {:?}",
                case.name, case.percents
            ));
        }
        // The reasons: the base rate's, then one per remedy.
        let remedy_reasons = &selection.reason[selection.reason.len() - percents.len()..];
        if remedy_reasons.len() != case.bases.len() {
            failures.push(format!(
                "{}: {} remedies explained",
                case.name,
                remedy_reasons.len()
            ));
            continue;
        }
        for (reason, basis) in remedy_reasons.iter().zip(case.bases) {
            let fine = match basis {
                Some((en, zh)) => reason.en.contains(en) && reason.zh.contains(zh),
                None => !reason.en.contains("compan") && !reason.zh.contains("公司"),
            };
            if !fine {
                failures.push(format!(
                    "{}: explanation {:?} / {:?}, expected {basis:?}",
                    case.name, reason.en, reason.zh
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exporter_names_are_matched_trimmed_with_single_spaces_and_without_ascii_case() {
    assert_eq!(exporter_key("  POSCO  "), "posco");
    assert_eq!(
        exporter_key("Hyundai\u{3000}Steel   Co.,\tLtd."),
        "hyundai steel co., ltd."
    );
    assert_eq!(exporter_key("Rémy Martin"), "rémy martin");
    // Only ASCII letters are folded: full-width and other scripts must match exactly.
    assert_ne!(exporter_key("ＰＯＳＣＯ"), exporter_key("POSCO"));
    assert_ne!(exporter_key("ÉTS"), exporter_key("éts"));
    assert_eq!(exporter_key("浦项制铁"), "浦项制铁");
    assert_eq!(exporter_key(" \t "), "");
}

#[test]
fn a_company_specific_remedy_is_assessed_and_explained_on_the_item() {
    let mut item = cif_item(line(vec![col(RateColumn::Mfn, &[], 10)]), "1000", "US");
    std::sync::Arc::make_mut(&mut item.line)
        .remedies
        .push(remedy(
            RemedyKind::AntiDumping,
            "US",
            &["Sample Chemicals, Inc."],
            5,
        ));
    item.exporter = Some("SAMPLE CHEMICALS, INC.".into());
    let assessment = assess_one(item.clone());
    let remedy = assessment
        .total(TaxKind::TradeRemedy(RemedyKind::AntiDumping))
        .expect("anti-dumping");
    assert_eq!(remedy.nominal, dec("50.00"));
    let figure = assessment.items[0]
        .tax(TaxKind::TradeRemedy(RemedyKind::AntiDumping))
        .expect("the item's anti-dumping duty");
    assert!(
        figure.explanation[0]
            .en
            .contains("company-specific rate for Sample Chemicals, Inc."),
        "{}",
        figure.explanation[0].en
    );
    assert!(figure.explanation[0].zh.contains("单独税率"));
    // Any other exporter pays the 20 % of all other companies.
    item.exporter = Some("Another Trader Ltd".into());
    let assessment = assess_one(item);
    let remedy = assessment
        .total(TaxKind::TradeRemedy(RemedyKind::AntiDumping))
        .expect("anti-dumping");
    assert_eq!(remedy.nominal, dec("200.00"));
}

// ---------------------------------------------------------------------------------------------
// Assessment details at their edges.

fn cif_item(line: TariffLine, amount: &str, origin: &str) -> ItemInput {
    ItemInput {
        line: line.into(),
        valuation: ValuationInput {
            invoice_amount: dec(amount),
            currency: "CNY".into(),
            terms: TransactionTerms::Cif,
            freight: Charge::Absent,
            insurance: Charge::Absent,
        },
        origin: mfn_origin(origin),
        exporter: None,
        claim: None,
        quota: QuotaStatus::NotQuotaGoods,
        quantities: Vec::new(),
    }
}

fn assess_one(item: ItemInput) -> Assessment {
    let input = DeclarationInput {
        acceptance_date: day("2026-03-10"),
        items: vec![item],
    };
    assess_declaration(
        &input,
        &ExchangeRates::default(),
        &AssessmentConfig::china_2026(),
    )
    .expect("assessable")
}

#[test]
fn duty_of_50_00_is_exempt_and_50_01_is_not() {
    let mfn = |p| line(vec![col(RateColumn::Mfn, &[], p)]);
    let at = assess_one(cif_item(mfn(10), "500.00", "DE"));
    let duty = at.total(TaxKind::CustomsDuty).expect("duty");
    assert_eq!(
        (duty.nominal, duty.exempt, duty.payable),
        (dec("50.00"), true, Decimal::ZERO)
    );
    let above = assess_one(cif_item(mfn(10), "500.10", "DE"));
    let duty = above.total(TaxKind::CustomsDuty).expect("duty");
    assert_eq!((duty.nominal, duty.exempt), (dec("50.01"), false));
}

#[test]
fn remedy_duties_are_added_and_enter_the_vat_base() {
    let assessment = assess_one(cif_item(
        line(vec![col(RateColumn::Mfn, &[], 10)]),
        "1000",
        "US",
    ));
    let remedy = assessment
        .total(TaxKind::TradeRemedy(RemedyKind::AntiDumping))
        .expect("anti-dumping");
    assert_eq!(remedy.payable, dec("200.00"));
    // VAT on 1,000 + 100 duty + 200 anti-dumping.
    assert_eq!(
        assessment.total(TaxKind::ImportVat).expect("vat").nominal,
        dec("169.00")
    );
    assert_eq!(assessment.total_payable, dec("469.00"));
}

#[test]
fn insurance_is_added_only_where_the_terms_exclude_it() {
    let config = AssessmentConfig::china_2026();
    let rate = ExchangeRate::new(
        "USD",
        YearMonth {
            year: 2026,
            month: 3,
        },
        dec("7.1000"),
    )
    .expect("rate");
    let value = |terms| {
        let input = ValuationInput {
            invoice_amount: dec("10000"),
            currency: "USD".into(),
            terms,
            freight: Charge::Rate(Rate::percent(Decimal::from(5))),
            insurance: Charge::Absent,
        };
        customs_value(&input, &rate, &config).expect("valued")
    };
    assert_eq!(value(TransactionTerms::Fob).cif_foreign, dec("10531.50"));
    assert_eq!(value(TransactionTerms::Cfr).cif_foreign, dec("10030.00"));
    assert_eq!(value(TransactionTerms::Cif).cif_foreign, dec("10000"));
    assert_eq!(value(TransactionTerms::Ddp).cny, dec("71000.00"));
    let no_freight = ValuationInput {
        invoice_amount: dec("1"),
        currency: "USD".into(),
        terms: TransactionTerms::Exw,
        freight: Charge::Absent,
        insurance: Charge::Absent,
    };
    assert!(matches!(
        customs_value(&no_freight, &rate, &config),
        Err(AssessmentError::FreightUnknown { terms: "EXW" })
    ));
}

#[test]
fn exchange_rates_have_at_most_four_decimals() {
    let month = YearMonth {
        year: 2026,
        month: 3,
    };
    assert!(ExchangeRate::new("USD", month, dec("7.10001")).is_err());
    assert!(ExchangeRate::new("USD", month, dec("0")).is_err());
    assert!(ExchangeRate::new("USD", month, dec("7.10010")).is_ok());
    let rates = ExchangeRates::default();
    assert!(matches!(
        rates.in_force("EUR", day("2026-03-10")),
        Err(AssessmentError::NoExchangeRate { .. })
    ));
}

#[test]
fn conditional_rates_pick_the_band_of_the_unit_value() {
    let rate = DutyRate::Conditional {
        unit: StatutoryUnit("KGM".into()),
        bands: vec![
            RateBand {
                floor: None,
                rate: pct(40),
            },
            RateBand {
                floor: Some(UnitValueFloor::Above(Decimal::from(15))),
                rate: DutyRate::Compound {
                    rate: Rate::percent(Decimal::from(5)),
                    amount_per_unit: dec("0.57"),
                    unit: StatutoryUnit("KGM".into()),
                },
            },
        ],
    };
    let kg = |amount: i64| {
        vec![Quantity {
            unit: StatutoryUnit("KGM".into()),
            amount: Decimal::from(amount),
        }]
    };
    // 15 CNY/kg exactly: the lower band; 16 CNY/kg: the upper one.
    assert_eq!(
        taxes::levy_exact(&rate, dec("1500"), &kg(100)),
        Ok(dec("600.00"))
    );
    assert_eq!(
        taxes::levy_exact(&rate, dec("1600"), &kg(100)),
        Ok(dec("137.00"))
    );
    assert!(matches!(
        taxes::levy_exact(&rate, dec("1600"), &[]),
        Err(AssessmentError::MissingQuantity { .. })
    ));
}

#[test]
fn cbec_orders_beyond_the_annual_limit_go_to_general_trade() {
    let mut item = cif_item(line(vec![col(RateColumn::Mfn, &[], 10)]), "1000.01", "DE");
    item.origin = mfn_origin("DE");
    let order = |ytd: &str| CbecOrder {
        acceptance_date: day("2026-03-10"),
        items: vec![item.clone()],
        indivisible_item: false,
        person_year_to_date: dec(ytd),
    };
    let config = AssessmentConfig::china_2026();
    let rates = ExchangeRates::default();
    let outcome = assess_cbec_order(&order("25000"), &rates, &config).expect("decided");
    assert!(matches!(outcome, CbecOutcome::GeneralTrade { .. }));
    let outcome = assess_cbec_order(&order("24999.99"), &rates, &config).expect("decided");
    assert!(matches!(outcome, CbecOutcome::WithinLimits { .. }));
}

// ---------------------------------------------------------------------------------------------
// Properties.

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// An assessment with every explanation left out, as `Words::FiguresOnly` makes it.
    fn without_words(mut assessment: Assessment) -> Assessment {
        assessment.explanation.clear();
        for item in &mut assessment.items {
            item.customs_value.explanation.clear();
            item.selection.reason.clear();
            item.taxes.iter_mut().for_each(|t| t.explanation.clear());
        }
        for total in &mut assessment.totals {
            total.explanation = Explanation::new("", "");
        }
        assessment
    }

    fn amount() -> impl Strategy<Value = Decimal> {
        (1i64..10_000_000_000).prop_map(|fen| Decimal::new(fen, 2))
    }

    fn percent() -> impl Strategy<Value = i64> {
        0i64..=65
    }

    fn item_strategy() -> impl Strategy<Value = ItemInput> {
        (amount(), percent(), prop::bool::ANY, 0i64..=30).prop_map(|(value, duty, ct, ct_rate)| {
            let mut line = line(vec![col(RateColumn::Mfn, &[], duty)]);
            if ct {
                line.consumption_tax = vec![DatedRate {
                    validity: since_2000(),
                    rate: pct(ct_rate),
                }];
            }
            cif_item(line, &value.to_string(), "DE")
        })
    }

    proptest! {
        #[test]
        fn item_taxes_sum_to_the_declaration_totals(
            items in prop::collection::vec(item_strategy(), 1..6),
            includes in prop::bool::ANY,
        ) {
            let mut config = AssessmentConfig::china_2026();
            config.vat_base_includes_exempted_duty = includes;
            let input = DeclarationInput { acceptance_date: day("2026-03-10"), items };
            let assessment = assess_declaration(&input, &ExchangeRates::default(), &config).unwrap();
            for total in &assessment.totals {
                let taxes = assessment.items.iter().filter_map(|i| i.tax(total.kind));
                let (nominal, payable) = taxes.fold((Decimal::ZERO, Decimal::ZERO), |(n, p), t| (n + t.nominal, p + t.payable));
                prop_assert_eq!(total.nominal, nominal);
                prop_assert_eq!(total.payable, payable);
            }
            let sum: Decimal = assessment.totals.iter().map(|t| t.payable).sum();
            prop_assert_eq!(assessment.total_payable, sum);
        }

        #[test]
        fn figures_only_gives_the_figures_of_the_explained_assessment(
            items in prop::collection::vec(item_strategy(), 1..6),
            includes in prop::bool::ANY,
        ) {
            let mut config = AssessmentConfig::china_2026();
            config.vat_base_includes_exempted_duty = includes;
            let input = DeclarationInput { acceptance_date: day("2026-03-10"), items };
            let rates = ExchangeRates::default();
            let explained = assess_declaration(&input, &rates, &config).unwrap();
            let figures = assess_declaration_with(&input, &rates, &config, Words::FiguresOnly).unwrap();
            prop_assert!(explained.items.iter().all(|i| !i.customs_value.explanation.is_empty()));
            prop_assert_eq!(without_words(explained), figures);
        }

        #[test]
        fn no_tax_is_negative(items in prop::collection::vec(item_strategy(), 1..6)) {
            let input = DeclarationInput { acceptance_date: day("2026-03-10"), items };
            let config = AssessmentConfig::china_2026();
            let assessment = assess_declaration(&input, &ExchangeRates::default(), &config).unwrap();
            for tax in assessment.items.iter().flat_map(|i| &i.taxes) {
                prop_assert!(tax.nominal >= Decimal::ZERO && tax.payable >= Decimal::ZERO);
            }
            prop_assert!(assessment.total_payable >= Decimal::ZERO);
        }

        #[test]
        fn a_higher_value_never_lowers_ad_valorem_duty(a in amount(), b in amount(), p in percent()) {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            let rate = pct(p);
            let duty = |v| money::round_fen(taxes::levy_exact(&rate, v, &[]).unwrap());
            prop_assert!(duty(low) <= duty(high));
        }

        #[test]
        fn rounding_to_the_fen_is_idempotent(mantissa in any::<i64>(), scale in 0u32..=10) {
            let x = Decimal::new(mantissa, scale);
            let once = money::round_fen(x);
            prop_assert_eq!(money::round_fen(once), once);
            prop_assert!(once.scale() <= money::FEN_DECIMALS);
        }
    }
}
