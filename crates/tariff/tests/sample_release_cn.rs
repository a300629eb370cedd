//! The SAMPLE China 2026 release in `sample_release_cn_2026/`: it parses without a problem, it
//! exercises every rate kind, column and regime of the release format, and a few declarations on
//! its lines give the figures computed by hand below with the formulas of the rules digest
//! (`/work/shared/rules/china-import-taxes.md` §2.2, §2.5, §2.6). The rates are SAMPLE figures
//! (see the folder's README.md); these tests check the engine against the sample, not the law.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tariff::{
    AssessmentConfig, Charge, DeclarationInput, DutyRate, ItemInput, Origin, PreferenceClaim,
    ProofCheck, Quantity, QuotaStatus, RateColumn, RemedyKind, StatutoryUnit, TariffRelease,
    TaxKind, TransactionTerms, ValuationInput, assess_declaration, parse_release,
};

const FOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_release_cn_2026");

fn read(name: &str) -> String {
    let path = format!("{FOLDER}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn release() -> TariffRelease {
    let texts: Vec<String> = [
        "lines.csv",
        "duty_rates.csv",
        "consumption_tax.csv",
        "trade_remedies.csv",
        "exchange_rates.csv",
    ]
    .iter()
    .map(|name| read(name))
    .collect();
    let file = |i: usize, name: &'static str| tariff::ReleaseFile {
        name,
        text: &texts[i],
    };
    let files = tariff::ReleaseFiles {
        lines: file(0, "lines.csv"),
        duty_rates: file(1, "duty_rates.csv"),
        consumption_tax: file(2, "consumption_tax.csv"),
        trade_remedies: file(3, "trade_remedies.csv"),
        exchange_rates: file(4, "exchange_rates.csv"),
    };
    match parse_release(&files) {
        Ok(release) => release,
        Err(problems) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "{} problem(s) in the sample release:\n{}",
                list.len(),
                list.join("\n")
            );
        }
    }
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|_| panic!("not a decimal: {text}"))
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn kind_of(rate: &DutyRate) -> &'static str {
    match rate {
        DutyRate::AdValorem { .. } => "ad_valorem",
        DutyRate::Specific { .. } => "specific",
        DutyRate::Compound { .. } => "compound",
        DutyRate::Conditional { .. } => "conditional",
    }
}

#[test]
fn the_sample_parses_and_exercises_every_rate_kind_and_regime() {
    let release = release();
    let jan = day("2026-01-15");

    let codes: BTreeSet<&str> = release.lines.iter().map(|l| l.code.as_str()).collect();
    assert!(codes.len() >= 200, "only {} distinct lines", codes.len());
    assert!(codes.iter().all(|c| c.len() == 8), "8-digit national codes");
    assert!(
        release.lines.iter().all(|l| l.vat_rate(jan).is_ok()),
        "every line is in force in 2026"
    );

    let columns: Vec<(&RateColumn, &DutyRate)> = release
        .lines
        .iter()
        .flat_map(|l| l.columns.iter().map(|c| (&c.column, &c.rate)))
        .collect();
    let duty_kinds: BTreeSet<&str> = columns.iter().map(|(_, r)| kind_of(r)).collect();
    for kind in ["ad_valorem", "specific", "compound", "conditional"] {
        assert!(duty_kinds.contains(kind), "no {kind} duty rate");
    }
    for wanted in [
        RateColumn::Mfn,
        RateColumn::Provisional,
        RateColumn::General,
        RateColumn::TariffQuotaInQuota,
        RateColumn::TariffQuotaOutOfQuota,
    ] {
        assert!(
            columns.iter().any(|(c, _)| **c == wanted),
            "no rate in column {wanted:?}"
        );
    }
    let agreements: BTreeSet<&str> = columns
        .iter()
        .filter_map(|(c, _)| match c {
            RateColumn::Conventional { agreement } => Some(agreement.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        agreements.contains("RCEP") && agreements.contains("ACFTA"),
        "conventional rates of RCEP and ACFTA, found {agreements:?}"
    );

    let ct_kinds: BTreeSet<&str> = release
        .lines
        .iter()
        .flat_map(|l| l.consumption_tax.iter().map(|r| kind_of(&r.rate)))
        .collect();
    for kind in ["ad_valorem", "specific", "compound", "conditional"] {
        assert!(ct_kinds.contains(kind), "no {kind} consumption tax");
    }

    let remedies: BTreeSet<String> = release
        .lines
        .iter()
        .flat_map(|l| l.remedies.iter().map(|r| format!("{:?}", r.kind)))
        .collect();
    for kind in [
        RemedyKind::AntiDumping,
        RemedyKind::Countervailing,
        RemedyKind::Countermeasure,
    ] {
        assert!(
            remedies.contains(&format!("{kind:?}")),
            "no {kind:?} remedy"
        );
    }
    assert!(
        release
            .lines
            .iter()
            .flat_map(|l| &l.remedies)
            .all(|r| !r.notice.is_empty()),
        "every remedy cites its notice"
    );
    // Company-specific rates (POSCO, Martell & Co) next to the rates for all other companies.
    let named: BTreeSet<&str> = release
        .lines
        .iter()
        .flat_map(|l| l.remedies.iter().flat_map(|r| r.exporters.iter()))
        .map(String::as_str)
        .collect();
    assert_eq!(named, BTreeSet::from(["Martell & Co", "POSCO"]));

    let vats: BTreeSet<Decimal> = release
        .lines
        .iter()
        .map(|l| l.vat_rate(jan).expect("VAT").as_percent().normalize())
        .collect();
    assert!(
        vats.contains(&dec("9")) && vats.contains(&dec("13")),
        "{vats:?}"
    );

    // Licences (监管证件代码): food carries inspection and quarantine, meat also the automatic
    // import licence, cars the licences of motor vehicles; most other lines list none.
    let licences = |code: &str| {
        release
            .line(code, jan)
            .unwrap_or_else(|| panic!("line {code}"))
            .licences
            .clone()
    };
    assert_eq!(licences("22042100"), ["A", "B"]);
    assert_eq!(licences("02071421"), ["7", "A", "B"]);
    assert_eq!(licences("10019900"), ["4", "A", "B", "x", "y"]);
    assert_eq!(licences("87032351"), ["4", "A", "O"]);
    assert!(licences("84713000").is_empty());
    let with_licences = release
        .lines
        .iter()
        .filter(|l| !l.licences.is_empty())
        .count();
    assert!(
        (100..release.lines.len()).contains(&with_licences),
        "{with_licences} lines with licences"
    );

    for month in 1..=12 {
        let first = NaiveDate::from_ymd_opt(2026, month, 1).expect("a day");
        for currency in ["USD", "EUR", "JPY", "GBP", "KRW", "AUD"] {
            let rate = release
                .exchange_rates
                .in_force(currency, first)
                .unwrap_or_else(|e| panic!("no {currency} rate for 2026-{month:02}: {e}"));
            assert!(rate.rate_4dp() > Decimal::ZERO);
        }
    }
    // CNY per ONE unit: a yen is worth a few fen, a dollar about seven yuan.
    let yen = release.exchange_rates.in_force("JPY", jan).expect("JPY");
    assert!(yen.rate_4dp() < dec("0.1"));
    let dollar = release.exchange_rates.in_force("USD", jan).expect("USD");
    assert_eq!(dollar.rate_4dp(), dec("7.0800"));
}

// ---------------------------------------------------------------------------------------------
// End-to-end assessments. January 2026 rates of the sample: USD 7.0800, EUR 8.2500.

struct Item<'a> {
    code: &'a str,
    amount: &'a str,
    currency: &'a str,
    origin: &'a str,
    /// The overseas exporter as declared, for company-specific trade-remedy rates.
    exporter: Option<&'a str>,
    claim: Option<&'a str>,
    quota: QuotaStatus,
    quantities: &'a [(&'a str, &'a str)],
}

fn assess(release: &TariffRelease, item: &Item<'_>) -> tariff::Assessment {
    let on = day("2026-01-15");
    let line = release
        .line(item.code, on)
        .unwrap_or_else(|| panic!("line {} not in the sample", item.code))
        .clone()
        .into();
    let input = DeclarationInput {
        acceptance_date: on,
        items: vec![ItemInput {
            line,
            valuation: ValuationInput {
                invoice_amount: dec(item.amount),
                currency: item.currency.to_owned(),
                terms: TransactionTerms::Cif,
                freight: Charge::Absent,
                insurance: Charge::Absent,
            },
            origin: Origin::Known {
                country: item.origin.to_owned(),
                mfn_entitled: true,
            },
            exporter: item.exporter.map(str::to_owned),
            claim: item.claim.map(|agreement| PreferenceClaim {
                column: RateColumn::Conventional {
                    agreement: agreement.to_owned(),
                },
                proof: ProofCheck::Valid,
            }),
            quota: item.quota,
            quantities: item
                .quantities
                .iter()
                .map(|(unit, amount)| Quantity {
                    unit: StatutoryUnit((*unit).to_owned()),
                    amount: dec(amount),
                })
                .collect(),
        }],
    };
    assess_declaration(
        &input,
        &release.exchange_rates,
        &AssessmentConfig::china_2026(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", item.code))
}

/// Nominal figures of the declaration, `None` for a tax that is not levied.
fn figure(assessment: &tariff::Assessment, kind: TaxKind) -> Option<Decimal> {
    assessment.total(kind).map(|t| t.nominal)
}

fn expect(assessment: &tariff::Assessment, value: &str, taxes: &[(TaxKind, &str)], total: &str) {
    assert_eq!(assessment.customs_value(), dec(value), "customs value");
    for (kind, amount) in taxes {
        assert_eq!(figure(assessment, *kind), Some(dec(amount)), "{kind:?}");
    }
    assert_eq!(assessment.total_payable, dec(total), "total payable");
}

#[test]
fn a_car_pays_duty_consumption_tax_by_engine_size_and_vat() {
    // 8703.2351, saloon car 2.0-2.5 l, from DE: MFN 15%, CT 9%, VAT 13%. CIF 40,000 USD.
    // value 40,000 × 7.08 = 283,200.00; duty 15% = 42,480.00;
    // CT (283,200 + 42,480) / 0.91 × 0.09 = 32,210.1098… → 32,210.11;
    // VAT (283,200 + 42,480 + 32,210.11) × 13% = 46,525.7143 → 46,525.71; total 121,215.82.
    let a = assess(
        &release(),
        &Item {
            code: "87032351",
            amount: "40000",
            currency: "USD",
            origin: "DE",
            exporter: None,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            quantities: &[("UNIT", "1")],
        },
    );
    expect(
        &a,
        "283200.00",
        &[
            (TaxKind::CustomsDuty, "42480.00"),
            (TaxKind::ConsumptionTax, "32210.11"),
            (TaxKind::ImportVat, "46525.71"),
        ],
        "121215.82",
    );
}

#[test]
fn wine_pays_mfn_or_the_acfta_conventional_rate() {
    let release = release();
    // 2204.2100 wine, CIF 10,000 USD = 70,800.00; CT 10% ad valorem; VAT 13%.
    // From FR at MFN 14%: duty 9,912.00; CT 80,712 / 0.9 × 0.1 = 8,968.00;
    // VAT (80,712 + 8,968) × 13% = 11,658.40; total 30,538.40.
    let mfn = assess(
        &release,
        &Item {
            code: "22042100",
            amount: "10000",
            currency: "USD",
            origin: "FR",
            exporter: None,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            quantities: &[("LTR", "1500")],
        },
    );
    expect(
        &mfn,
        "70800.00",
        &[
            (TaxKind::CustomsDuty, "9912.00"),
            (TaxKind::ConsumptionTax, "8968.00"),
            (TaxKind::ImportVat, "11658.40"),
        ],
        "30538.40",
    );
    // From TH with a valid Form E, ACFTA 0%: duty 0; CT 70,800 / 0.9 × 0.1 = 7,866.666… → 7,866.67;
    // VAT (70,800 + 7,866.67) × 13% = 10,226.6671 → 10,226.67; total 18,093.34.
    let acfta = assess(
        &release,
        &Item {
            code: "22042100",
            amount: "10000",
            currency: "USD",
            origin: "TH",
            exporter: None,
            claim: Some("ACFTA"),
            quota: QuotaStatus::NotQuotaGoods,
            quantities: &[("LTR", "1500")],
        },
    );
    assert_eq!(
        acfta.items[0].selection.column,
        RateColumn::Conventional {
            agreement: "ACFTA".into()
        }
    );
    expect(
        &acfta,
        "70800.00",
        &[
            (TaxKind::ConsumptionTax, "7866.67"),
            (TaxKind::ImportVat, "10226.67"),
        ],
        "18093.34",
    );
}

#[test]
fn frozen_chicken_wings_pay_a_specific_duty_and_9_percent_vat() {
    // 0207.1421 frozen wings from BR: 1.3 CNY/kg, VAT 9%. 20,000 kg, CIF 60,000 USD = 424,800.00;
    // duty 20,000 × 1.3 = 26,000.00; VAT (424,800 + 26,000) × 9% = 40,572.00; total 66,572.00.
    let a = assess(
        &release(),
        &Item {
            code: "02071421",
            amount: "60000",
            currency: "USD",
            origin: "BR",
            exporter: None,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            quantities: &[("KGM", "20000")],
        },
    );
    expect(
        &a,
        "424800.00",
        &[
            (TaxKind::CustomsDuty, "26000.00"),
            (TaxKind::ImportVat, "40572.00"),
        ],
        "66572.00",
    );
    assert_eq!(
        figure(&a, TaxKind::ConsumptionTax).unwrap_or_default(),
        Decimal::ZERO
    );
}

#[test]
fn wheat_pays_the_in_quota_or_the_out_of_quota_rate() {
    let release = release();
    // 1001.9900 wheat from AU, 1,000,000 kg, CIF 300,000 USD = 2,124,000.00; VAT 9%.
    // In quota 1%: duty 21,240.00; VAT 2,145,240 × 9% = 193,071.60; total 214,311.60.
    let item = |quota| Item {
        code: "10019900",
        amount: "300000",
        currency: "USD",
        origin: "AU",
        exporter: None,
        claim: None,
        quota,
        quantities: &[("KGM", "1000000")],
    };
    let inside = assess(&release, &item(QuotaStatus::InQuota));
    expect(
        &inside,
        "2124000.00",
        &[
            (TaxKind::CustomsDuty, "21240.00"),
            (TaxKind::ImportVat, "193071.60"),
        ],
        "214311.60",
    );
    // Out of quota 65%: duty 1,380,600.00; VAT 3,504,600 × 9% = 315,414.00; total 1,696,014.00.
    let outside = assess(&release, &item(QuotaStatus::OutOfQuota));
    expect(
        &outside,
        "2124000.00",
        &[
            (TaxKind::CustomsDuty, "1380600.00"),
            (TaxKind::ImportVat, "315414.00"),
        ],
        "1696014.00",
    );
}

#[test]
fn eu_brandy_pays_anti_dumping_duty_and_compound_consumption_tax() {
    // 2208.2000 brandy from FR, 1,000 l, CIF 20,000 EUR = 165,000.00. MFN 10% = 16,500.00;
    // anti-dumping 34.9% = 57,585.00; CT 20% + 1 CNY/l (0.5 per 500 ml):
    // (165,000 + 16,500 + 57,585 + 1,000) / 0.8 × 0.2 + 1,000 = 61,021.25;
    // VAT (165,000 + 16,500 + 57,585 + 61,021.25) × 13% = 39,013.8125 → 39,013.81;
    // total 16,500 + 57,585 + 61,021.25 + 39,013.81 = 174,120.06.
    let a = assess(
        &release(),
        &Item {
            code: "22082000",
            amount: "20000",
            currency: "EUR",
            origin: "FR",
            exporter: None,
            claim: None,
            quota: QuotaStatus::NotQuotaGoods,
            quantities: &[("LTR", "1000")],
        },
    );
    expect(
        &a,
        "165000.00",
        &[
            (TaxKind::CustomsDuty, "16500.00"),
            (TaxKind::TradeRemedy(RemedyKind::AntiDumping), "57585.00"),
            (TaxKind::ConsumptionTax, "61021.25"),
            (TaxKind::ImportVat, "39013.81"),
        ],
        "174120.06",
    );
}

#[test]
fn eu_brandy_of_a_named_producer_pays_its_company_specific_anti_dumping_duty() {
    // The same brandy as above, exported by Martell & Co (declared in another case and spacing):
    // its own rate of 27.7% replaces the 34.9% of all other companies. Anti-dumping
    // 165,000 × 27.7% = 45,705.00; CT (165,000 + 16,500 + 45,705 + 1,000) / 0.8 × 0.2 + 1,000
    // = 58,051.25; VAT (165,000 + 16,500 + 45,705 + 58,051.25) × 13% = 37,083.3125 → 37,083.31;
    // total 16,500 + 45,705 + 58,051.25 + 37,083.31 = 157,339.56.
    let release = release();
    let brandy = |exporter| Item {
        code: "22082000",
        amount: "20000",
        currency: "EUR",
        origin: "FR",
        exporter,
        claim: None,
        quota: QuotaStatus::NotQuotaGoods,
        quantities: &[("LTR", "1000")],
    };
    let martell = assess(&release, &brandy(Some("  MARTELL &  co ")));
    expect(
        &martell,
        "165000.00",
        &[
            (TaxKind::CustomsDuty, "16500.00"),
            (TaxKind::TradeRemedy(RemedyKind::AntiDumping), "45705.00"),
            (TaxKind::ConsumptionTax, "58051.25"),
            (TaxKind::ImportVat, "37083.31"),
        ],
        "157339.56",
    );
    let reasons = &martell.items[0].selection.reason;
    assert!(
        reasons
            .iter()
            .any(|r| r.en.contains("company-specific rate for Martell & Co")),
        "{reasons:?}"
    );
    // Another producer pays the rate for all other companies, as in the test above.
    let other = assess(&release, &brandy(Some("Maison Example SAS")));
    assert_eq!(
        figure(&other, TaxKind::TradeRemedy(RemedyKind::AntiDumping)),
        Some(dec("57585.00"))
    );
    assert!(
        other.items[0]
            .selection
            .reason
            .iter()
            .any(|r| r.en.contains("rate for all other companies")
                && r.zh.contains("其他公司税率"))
    );
}

#[test]
fn high_end_skin_care_pays_the_conditional_consumption_tax() {
    // 3304.9900 from FR: MFN 1%, CT 15% from 10 CNY per gram. 50,000 g, CIF 100,000 EUR
    // = 825,000.00, i.e. 16.50 CNY/g: high-end. Duty 8,250.00;
    // CT (825,000 + 8,250) / 0.85 × 0.15 = 147,044.1176 → 147,044.12;
    // VAT (833,250 + 147,044.12) × 13% = 127,438.2356 → 127,438.24; total 282,732.36.
    let release = release();
    let item = |amount| Item {
        code: "33049900",
        amount,
        currency: "EUR",
        origin: "FR",
        exporter: None,
        claim: None,
        quota: QuotaStatus::NotQuotaGoods,
        quantities: &[("KGM", "60"), ("GRM", "50000")],
    };
    let high = assess(&release, &item("100000"));
    expect(
        &high,
        "825000.00",
        &[
            (TaxKind::CustomsDuty, "8250.00"),
            (TaxKind::ConsumptionTax, "147044.12"),
            (TaxKind::ImportVat, "127438.24"),
        ],
        "282732.36",
    );
    // 20,000 EUR = 165,000.00, 3.30 CNY/g: no CT. Duty 1,650.00;
    // VAT (165,000 + 1,650) × 13% = 21,664.50.
    let plain = assess(&release, &item("20000"));
    assert_eq!(
        figure(&plain, TaxKind::ConsumptionTax).unwrap_or_default(),
        Decimal::ZERO
    );
    assert_eq!(figure(&plain, TaxKind::ImportVat), Some(dec("21664.50")));
}
