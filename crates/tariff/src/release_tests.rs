//! The release files: the sample parses and assesses the digest's worked examples; broken inputs
//! give exactly their problems; no text panics the parser.

use std::str::FromStr;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::*;

const LINES: &str = include_str!("../test_data/sample_release/lines.csv");
const DUTY: &str = include_str!("../test_data/sample_release/duty_rates.csv");
const CT: &str = include_str!("../test_data/sample_release/consumption_tax.csv");
const REMEDIES: &str = include_str!("../test_data/sample_release/trade_remedies.csv");
const FX: &str = include_str!("../test_data/sample_release/exchange_rates.csv");

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum File {
    Lines,
    Duty,
    Ct,
    Remedies,
    Fx,
}

impl File {
    fn name(self) -> &'static str {
        match self {
            File::Lines => "lines.csv",
            File::Duty => "duty_rates.csv",
            File::Ct => "consumption_tax.csv",
            File::Remedies => "trade_remedies.csv",
            File::Fx => "exchange_rates.csv",
        }
    }
    fn sample(self) -> &'static str {
        match self {
            File::Lines => LINES,
            File::Duty => DUTY,
            File::Ct => CT,
            File::Remedies => REMEDIES,
            File::Fx => FX,
        }
    }
}

/// The sample release with one file's text replaced.
fn parse_with(replaced: File, text: &str) -> Result<TariffRelease, Vec<ReleaseProblem>> {
    let file = |which: File| ReleaseFile {
        name: which.name(),
        text: if which == replaced {
            text
        } else {
            which.sample()
        },
    };
    parse_release(&ReleaseFiles {
        lines: file(File::Lines),
        duty_rates: file(File::Duty),
        consumption_tax: file(File::Ct),
        trade_remedies: file(File::Remedies),
        exchange_rates: file(File::Fx),
    })
}

fn sample() -> TariffRelease {
    parse_with(File::Lines, LINES).unwrap_or_else(|problems| {
        let report: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("the sample release parses:\n{}", report.join("\n"))
    })
}

#[test]
fn the_sample_release_parses_into_its_lines_and_rates() {
    let release = sample();
    assert_eq!(release.lines.len(), 10);
    let wine = release
        .line("2204210000", day("2018-03-01"))
        .expect("wine in 2018");
    assert_eq!(
        wine.vat_rate(day("2018-03-01")),
        Ok(Rate::percent(dec("17")))
    );
    assert_eq!(
        wine.vat_rate(day("2018-06-01")),
        Ok(Rate::percent(dec("16")))
    );
    assert_eq!(
        wine.vat_rate(day("2026-03-10")),
        Ok(Rate::percent(dec("13")))
    );
    assert_eq!(wine.statutory_units.len(), 2);
    assert_eq!(wine.licences, ["A", "B"]);
    // No HS6 (or 8-digit) fallback, and no line outside its periods.
    assert!(release.line("220421", day("2026-03-10")).is_none());
    assert!(release.line("22042100", day("2026-03-10")).is_none());
    assert!(release.line("8479899990", day("2018-06-01")).is_none());
    assert!(release.line("8471300000", day("2019-03-31")).is_none());

    let spirits = release
        .line("2208300000", day("2026-03-10"))
        .expect("spirits");
    assert_eq!(
        spirits.consumption_tax_rate(day("2026-03-10")),
        Some(&DutyRate::Compound {
            rate: Rate::percent(dec("20")),
            amount_per_unit: dec("0.5"),
            unit: StatutoryUnit("500ML".into()),
        })
    );
    let bananas = release
        .line("0803901000", day("2026-03-10"))
        .expect("bananas");
    let rcep = RateColumn::Conventional {
        agreement: "RCEP".into(),
    };
    assert!(
        bananas
            .column_rate(&rcep, Some("JP"), day("2026-03-10"))
            .is_some()
    );
    assert!(
        bananas
            .column_rate(&rcep, Some("TH"), day("2026-03-10"))
            .is_none()
    );
    let cotton = release
        .line("5201000000", day("2026-03-10"))
        .expect("cotton");
    let out_of_quota = cotton
        .column_rate(&RateColumn::TariffQuotaOutOfQuota, None, day("2026-03-10"))
        .expect("an out-of-quota rate");
    assert_eq!(
        out_of_quota.rate.to_string(),
        "by unit value per KGM: 40%; > 15: 5% + 0.57 CNY/KGM"
    );
    let propanol = release
        .line("2905120000", day("2026-03-10"))
        .expect("remedy");
    assert_eq!(propanol.remedies.len(), 2);
    assert!(propanol.remedies[0].applies_to(Some("US"), day("2026-03-10")));
    assert!(propanol.remedies[0].exporters.is_empty());
    // A quoted field: a name may hold a comma.
    assert_eq!(
        propanol.remedies[1].exporters,
        ["Sample Chemicals, Inc.", "Other Sample Producer LLC"]
    );
    let in_force = |exporter| {
        propanol
            .remedies_in_force(Some("US"), exporter, day("2026-03-10"))
            .into_iter()
            .map(|r| r.rate.clone())
            .collect::<Vec<_>>()
    };
    let pct = |p: &str| DutyRate::AdValorem {
        rate: Rate::percent(dec(p)),
    };
    assert_eq!(in_force(Some("other sample producer  llc")), [pct("5")]);
    assert_eq!(in_force(Some("Someone Else")), [pct("20")]);
    assert_eq!(in_force(None), [pct("20")]);
    assert_eq!(
        release
            .exchange_rates
            .in_force("USD", day("2026-03-10"))
            .map(|r| r.rate_4dp()),
        Ok(dec("7.1000"))
    );
}

// ---------------------------------------------------------------------------------------------
// Worked examples through lines looked up in the sample release.

struct Example {
    id: &'static str,
    code: &'static str,
    date: &'static str,
    amount: &'static str,
    currency: &'static str,
    terms: TransactionTerms,
    freight: Charge,
    quantities: &'static [(&'static str, &'static str)],
    /// (tax, nominal) and the total payable.
    expected: &'static [(TaxKind, &'static str)],
    total: &'static str,
}

#[test]
fn worked_examples_assess_through_lines_of_the_sample_release() {
    let release = sample();
    let examples = [
        Example {
            id: "1",
            code: "8471300000",
            date: "2026-03-10",
            amount: "10000",
            currency: "USD",
            terms: TransactionTerms::Fob,
            freight: Charge::Amount(dec("500")),
            quantities: &[],
            expected: &[
                (TaxKind::CustomsDuty, "7477.37"),
                (TaxKind::ImportVat, "10692.63"),
            ],
            total: "18170.00",
        },
        Example {
            id: "2",
            code: "2204210000",
            date: "2026-03-10",
            amount: "100000",
            currency: "CNY",
            terms: TransactionTerms::Cif,
            freight: Charge::Absent,
            quantities: &[],
            expected: &[
                (TaxKind::CustomsDuty, "14000.00"),
                (TaxKind::ConsumptionTax, "12666.67"),
                (TaxKind::ImportVat, "16466.67"),
            ],
            total: "43133.34",
        },
        Example {
            id: "2b",
            code: "2204210000",
            date: "2018-03-01",
            amount: "100000",
            currency: "CNY",
            terms: TransactionTerms::Cif,
            freight: Charge::Absent,
            quantities: &[],
            expected: &[(TaxKind::ImportVat, "21533.33")],
            total: "48200.00",
        },
        Example {
            id: "3",
            code: "2208300000",
            date: "2026-03-10",
            amount: "50000",
            currency: "CNY",
            terms: TransactionTerms::Cif,
            freight: Charge::Absent,
            quantities: &[("LTR", "700"), ("500ML", "1400")],
            expected: &[
                (TaxKind::CustomsDuty, "5000.00"),
                (TaxKind::ConsumptionTax, "14625.00"),
                (TaxKind::ImportVat, "9051.25"),
            ],
            total: "28676.25",
        },
        Example {
            id: "4",
            code: "8521101100",
            date: "2026-03-10",
            amount: "60000",
            currency: "CNY",
            terms: TransactionTerms::Cif,
            freight: Charge::Absent,
            quantities: &[("UNIT", "2")],
            expected: &[
                (TaxKind::CustomsDuty, "10548.00"),
                (TaxKind::ImportVat, "9171.24"),
            ],
            total: "19719.24",
        },
    ];
    for example in examples {
        let date = day(example.date);
        let line = release
            .line(example.code, date)
            .unwrap_or_else(|| panic!("example {}: line {}", example.id, example.code))
            .clone()
            .into();
        let input = DeclarationInput {
            acceptance_date: date,
            items: vec![ItemInput {
                line,
                valuation: ValuationInput {
                    invoice_amount: dec(example.amount),
                    currency: example.currency.into(),
                    terms: example.terms,
                    freight: example.freight,
                    insurance: Charge::Absent,
                },
                origin: Origin::Known {
                    country: "US".into(),
                    mfn_entitled: true,
                },
                exporter: None,
                claim: None,
                quota: QuotaStatus::NotQuotaGoods,
                quantities: example
                    .quantities
                    .iter()
                    .map(|(unit, amount)| Quantity {
                        unit: StatutoryUnit((*unit).into()),
                        amount: dec(amount),
                    })
                    .collect(),
            }],
        };
        let assessment = assess_declaration(
            &input,
            &release.exchange_rates,
            &AssessmentConfig::china_2026(),
        )
        .unwrap_or_else(|error| panic!("example {}: {error}", example.id));
        if example.id == "1" {
            assert_eq!(money::fen_text(assessment.customs_value()), "74773.65");
        }
        for (kind, want) in example.expected {
            let total = assessment.totals.iter().find(|t| t.kind == *kind);
            assert_eq!(
                total.map(|t| money::fen_text(t.nominal)).as_deref(),
                Some(*want),
                "example {}: {kind:?}",
                example.id
            );
        }
        assert_eq!(
            money::fen_text(assessment.total_payable),
            example.total,
            "example {}",
            example.id
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Broken inputs, table-driven: each gives exactly its problems (file, line, field).

struct Broken {
    name: &'static str,
    file: File,
    /// `false`: `text` is appended to the sample file (lines counted from its end); `true`: `text`
    /// is the whole file (lines counted from 1).
    replace: bool,
    text: &'static str,
    /// (line relative to the base, field).
    problems: &'static [(u64, Option<&'static str>)],
}

fn broken_cases() -> Vec<Broken> {
    let append = |name, file, text, problems| Broken {
        name,
        file,
        replace: false,
        text,
        problems,
    };
    vec![
        append(
            "malformed percentage",
            File::Duty,
            "8471300000,general,,ad_valorem,ten,,,,2019-04-01,\n",
            &[(1, Some("rate_percent"))],
        ),
        Broken {
            name: "unknown and missing column names",
            file: File::Duty,
            replace: true,
            text: "code,column,partner,kind,rate_percent,amount_per_unit,unit,bands,valid_from,valid_to\n",
            problems: &[(1, Some("partner")), (1, Some("partners"))],
        },
        Broken {
            name: "an empty file has no header",
            file: File::Remedies,
            replace: true,
            text: "# nothing\n",
            problems: &[(1, None)],
        },
        append(
            "percentage above 1000",
            File::Duty,
            "8471300000,general,,ad_valorem,1000.5,,,,2019-04-01,\n",
            &[(1, Some("rate_percent"))],
        ),
        append(
            "exchange rate with 5 decimals",
            File::Fx,
            "USD,2026-05,7.10001\n",
            &[(1, Some("rate"))],
        ),
        append(
            "duty rate for a code not in lines.csv",
            File::Duty,
            "9999999999,mfn,,ad_valorem,10,,,,2019-04-01,\n",
            &[(1, Some("code"))],
        ),
        append(
            "overlapping periods for the same code and column",
            File::Duty,
            "8471300000,mfn,,ad_valorem,8,,,,2025-01-01,\n",
            &[(1, Some("valid_from"))],
        ),
        append(
            "overlap for one partner of a list",
            File::Duty,
            "0803901000,conventional:RCEP,CN|KR,ad_valorem,4,,,,2025-01-01,\n",
            &[(1, Some("valid_from"))],
        ),
        append(
            "no overlap for another partner or a closed earlier period",
            File::Duty,
            "0803901000,conventional:RCEP,CN,ad_valorem,4,,,,2025-01-01,\n\
             8471300000,general,,ad_valorem,30,,,,2018-01-01,2019-04-01\n\
             8471300000,general,,ad_valorem,35,,,,2019-04-01,\n",
            &[],
        ),
        append(
            "conventional rate without partners",
            File::Duty,
            "0803901000,conventional:RCEP,,ad_valorem,5,,,,2030-01-01,\n",
            &[(1, Some("partners"))],
        ),
        append(
            "partners on an MFN rate",
            File::Duty,
            "8471300000,general,US,ad_valorem,5,,,,2019-04-01,\n",
            &[(1, Some("partners"))],
        ),
        append(
            "validity end before start",
            File::Ct,
            "8471300000,ad_valorem,5,,,,2020-01-01,2019-01-01\n",
            &[(1, Some("valid_to"))],
        ),
        append(
            "duplicate row",
            File::Remedies,
            "2905120000,anti_dumping,US,,ad_valorem,20,,,,SAMPLE notice (not a real MOFCOM notice),2025-01-01,2030-01-01\n",
            &[(1, None)],
        ),
        append(
            "an exporter twice in a row, also in another case or spacing",
            File::Remedies,
            "2905120000,anti_dumping,US,Acme|Beta|Acme,ad_valorem,9,,,,N,2031-01-01,\n\
             2905120000,anti_dumping,US,\"Gamma  Co., Ltd.|gamma co., LTD.\",ad_valorem,9,,,,N,2031-01-01,\n",
            &[(1, Some("exporters")), (2, Some("exporters"))],
        ),
        append(
            "empty exporter names",
            File::Remedies,
            "2905120000,anti_dumping,US,Acme||Beta,ad_valorem,9,,,,N,2031-01-01,\n\
             2905120000,anti_dumping,US,Acme|,ad_valorem,9,,,,N,2031-01-01,\n",
            &[(1, Some("exporters")), (2, Some("exporters"))],
        ),
        append(
            "overlap of one exporter of a list",
            File::Remedies,
            "2905120000,anti_dumping,US,New Co|OTHER SAMPLE PRODUCER LLC,ad_valorem,9,,,,N,2029-01-01,\n",
            &[(1, Some("valid_from"))],
        ),
        append(
            "overlap of a company's rate, case and spacing aside",
            File::Remedies,
            "2905120000,anti_dumping,US,\"sample  chemicals, inc.\",ad_valorem,9,,,,N,2029-01-01,\n",
            &[(1, Some("valid_from"))],
        ),
        append(
            "overlap of two rates for all other companies",
            File::Remedies,
            "2905120000,anti_dumping,US,,ad_valorem,9,,,,N,2029-01-01,\n",
            &[(1, Some("valid_from"))],
        ),
        append(
            "no overlap: another exporter, another remedy, a company's rate after it ends",
            File::Remedies,
            "2905120000,anti_dumping,US,New Co,ad_valorem,9,,,,N,2025-01-01,\n\
             2905120000,countervailing,US,\"Sample Chemicals, Inc.\",ad_valorem,9,,,,N,2025-01-01,\n\
             2905120000,anti_dumping,US,\"Sample Chemicals, Inc.\",ad_valorem,9,,,,N,2030-01-01,\n",
            &[],
        ),
        append(
            "two bad lines in one file",
            File::Fx,
            "usd,2026-05,7.1\nEUR,2026-13,7.1\n",
            &[(1, Some("currency")), (2, Some("month"))],
        ),
        append(
            "a second rate for the same currency and month",
            File::Fx,
            "USD,2026-03,7.2000\n",
            &[(1, None)],
        ),
        append(
            "zero exchange rate",
            File::Fx,
            "EUR,2026-03,0\n",
            &[(1, Some("rate"))],
        ),
        append(
            "unknown rate column",
            File::Duty,
            "8471300000,wto,,ad_valorem,5,,,,2019-04-01,\n",
            &[(1, Some("column"))],
        ),
        append(
            "fields a kind does not use, and a missing one",
            File::Duty,
            "8521101100,general,,specific,5,100,,,2019-04-01,\n",
            &[(1, Some("rate_percent")), (1, Some("unit"))],
        ),
        append(
            "unknown rate kind",
            File::Ct,
            "8471300000,sliding,5,,,,2019-04-01,\n",
            &[(1, Some("kind"))],
        ),
        append(
            "bands out of order",
            File::Duty,
            "5201000000,general,,conditional,,,KGM,40%; >15: 5%; >=10: 3%,2019-04-01,\n",
            &[(1, Some("bands"))],
        ),
        append(
            "a row with a missing field",
            File::Duty,
            "8471300000,general\n",
            &[(1, None)],
        ),
        append(
            "one row, three problems",
            File::Duty,
            "8471300000,general,,ad_valorem,-5,,,,2019-13-01,x\n",
            &[
                (1, Some("rate_percent")),
                (1, Some("valid_from")),
                (1, Some("valid_to")),
            ],
        ),
        append(
            "codes of 9 digits and a VAT of 2000%",
            File::Lines,
            "847130000,Nine digits,KGM,,13,2019-04-01,\n8471300010,Big VAT,KGM,,2000,2019-04-01,\n",
            &[(1, Some("code")), (2, Some("vat_percent"))],
        ),
        append(
            "a new period of a line with another description and overlapping VAT",
            File::Lines,
            "3304990000,Cosmetics,KGM,A|B,13,2030-01-01,\n9101110000,Watches,UNIT,,13,2018-01-01,2019-04-01\n",
            &[(1, Some("valid_from")), (2, Some("description"))],
        ),
        append(
            "licence codes of 1 to 3 letters or digits, case kept, none or several",
            File::Lines,
            "8471300011,A,KGM,t|T|7|INV,13,2019-04-01,\n\
             8471300012,B,KGM,,13,2019-04-01,\n\
             8471300013,C,KGM, 4 | A | O ,13,2019-04-01,\n",
            &[],
        ),
        append(
            "bad licence codes: four letters, an empty code, punctuation, not ASCII, a space",
            File::Lines,
            "8471300021,A,KGM,ABCD,13,2019-04-01,\n\
             8471300022,B,KGM,A||B,13,2019-04-01,\n\
             8471300023,C,KGM,A-B,13,2019-04-01,\n\
             8471300024,D,KGM,A|证,13,2019-04-01,\n\
             8471300025,E,KGM,7 A,13,2019-04-01,\n\
             8471300026,F,KGM,A|,13,2019-04-01,\n",
            &[
                (1, Some("licences")),
                (2, Some("licences")),
                (3, Some("licences")),
                (4, Some("licences")),
                (5, Some("licences")),
                (6, Some("licences")),
            ],
        ),
        append(
            "a licence code twice in a row (case-sensitive: t and T are two codes)",
            File::Lines,
            "8471300031,A,KGM,A|B|A,13,2019-04-01,\n8471300032,B,KGM,t|T|t,13,2019-04-01,\n",
            &[(1, Some("licences")), (2, Some("licences"))],
        ),
        append(
            "a new VAT period of a line with other licences, or the same in another order",
            File::Lines,
            "3304990000,Other beauty or make-up preparations (SAMPLE),KGM,A,13,2018-01-01,2019-04-01\n\
             0803901000,\"Bananas, fresh (SAMPLE)\",KGM,B|A,9,2018-01-01,2019-04-01\n",
            &[(1, Some("licences")), (2, Some("licences"))],
        ),
        append(
            "consumption tax of 100% cannot be grossed up",
            File::Ct,
            "8471300000,ad_valorem,100,,,,2019-04-01,\n",
            &[(1, Some("rate_percent"))],
        ),
        append(
            "remedy without notice and with a bad origin",
            File::Remedies,
            "2905120000,anti_dumping,usa,,ad_valorem,20,,,,,2031-01-01,\n",
            &[(1, Some("origins")), (1, Some("notice"))],
        ),
    ]
}

#[test]
fn broken_inputs_give_exactly_their_problems() {
    let mut failures = Vec::new();
    for case in broken_cases() {
        let (base, text) = if case.replace {
            (0, case.text.to_owned())
        } else {
            let sample = case.file.sample();
            (
                sample.lines().count() as u64,
                format!("{sample}{}", case.text),
            )
        };
        let got: Vec<(String, u64, Option<String>)> = match parse_with(case.file, &text) {
            Ok(_) => Vec::new(),
            Err(problems) => {
                for problem in &problems {
                    assert!(
                        !problem.message_en.is_empty() && !problem.message_zh.is_empty(),
                        "{}: {problem}",
                        case.name
                    );
                }
                problems
                    .into_iter()
                    .map(|p| (p.file, p.line, p.field))
                    .collect()
            }
        };
        let want: Vec<(String, u64, Option<String>)> = case
            .problems
            .iter()
            .map(|(line, field)| {
                (
                    case.file.name().to_owned(),
                    base + line,
                    field.map(str::to_owned),
                )
            })
            .collect();
        if got != want {
            failures.push(format!("{}: expected {want:?}, got {got:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn problems_of_several_files_are_reported_together() {
    let files = ReleaseFiles {
        lines: ReleaseFile {
            name: "lines.csv",
            text: "code,description,units,licences,vat_percent,valid_from,valid_to\n\
                   8471300000,Computers,UNIT,O,13,2019-04-01,\n",
        },
        duty_rates: ReleaseFile {
            name: "duty_rates.csv",
            text: "code,column,partners,kind,rate_percent,amount_per_unit,unit,bands,valid_from,valid_to\n\
                   8471300000,mfn,,ad_valorem,x,,,,2019-04-01,\n",
        },
        consumption_tax: ReleaseFile {
            name: "consumption_tax.csv",
            text: CT.split("code,").next().unwrap_or_default(),
        },
        trade_remedies: ReleaseFile {
            name: "trade_remedies.csv",
            text: "code,remedy,origins,exporters,kind,rate_percent,amount_per_unit,unit,bands,notice,valid_from,valid_to\n",
        },
        exchange_rates: ReleaseFile {
            name: "exchange_rates.csv",
            text: "currency,month,rate\nUSD,2026-03,7.12345\n",
        },
    };
    let problems = parse_release(&files).expect_err("three files are broken");
    let places: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}:{}", p.file, p.line, p.field.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        places,
        [
            "duty_rates.csv:2:rate_percent",
            "consumption_tax.csv:1:",
            "exchange_rates.csv:2:rate"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// No text panics the parser.

fn csv_like() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[,;|%>=:.0-9A-Za-z_\n\r\" #+-]{0,300}",]
}

fn with_header(file: File) -> impl Strategy<Value = String> {
    let header = file
        .sample()
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or_default()
        .to_owned();
    "([0-9]{8,10}|mfn|conventional:RCEP|ad_valorem|compound|conditional|KGM|JP\\|KR|40%; >15: 5%\\+0.57|2019-04-01|2026-03|7\\.1000|[0-9.]{1,6}|,|\n){0,60}"
        .prop_map(move |rows| format!("{header}\n{rows}"))
}

fn any_file() -> impl Strategy<Value = File> {
    prop_oneof![
        Just(File::Lines),
        Just(File::Duty),
        Just(File::Ct),
        Just(File::Remedies),
        Just(File::Fx),
    ]
}

proptest! {
    #[test]
    fn no_text_panics_the_parser(file in any_file(), text in csv_like()) {
        let _ = parse_with(file, &text);
    }

    #[test]
    fn no_rows_under_a_valid_header_panic_the_parser(
        (file, text) in any_file().prop_flat_map(|file| (Just(file), with_header(file)))
    ) {
        if let Err(problems) = parse_with(file, &text) {
            for problem in problems {
                prop_assert!(problem.line >= 1);
                prop_assert!(!problem.message_zh.is_empty());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing a release: parse(render(r)) == r.

/// The five files of a release folder, read at test time.
fn read_folder(folder: &str) -> [String; 5] {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    [
        "lines.csv",
        "duty_rates.csv",
        "consumption_tax.csv",
        "trade_remedies.csv",
        "exchange_rates.csv",
    ]
    .map(|name| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

fn parse_texts(texts: &[String; 5]) -> Result<TariffRelease, Vec<ReleaseProblem>> {
    let [lines, duty, ct, remedies, fx] = texts;
    parse_release(&ReleaseFiles {
        lines: ReleaseFile {
            name: "lines.csv",
            text: lines,
        },
        duty_rates: ReleaseFile {
            name: "duty_rates.csv",
            text: duty,
        },
        consumption_tax: ReleaseFile {
            name: "consumption_tax.csv",
            text: ct,
        },
        trade_remedies: ReleaseFile {
            name: "trade_remedies.csv",
            text: remedies,
        },
        exchange_rates: ReleaseFile {
            name: "exchange_rates.csv",
            text: fx,
        },
    })
}

fn report(problems: &[ReleaseProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Renders, parses back and compares; also checks the text is a fixpoint (render of the parsed
/// rendering is the same text) and the layout of each file.
fn assert_round_trip(release: &TariffRelease) -> RenderedRelease {
    let rendered = render_release(release);
    let parsed = parse_release(&rendered.files())
        .unwrap_or_else(|problems| panic!("the rendering parses:\n{}", report(&problems)));
    assert_eq!(&parsed, release);
    assert_eq!(render_release(&parsed), rendered);
    let files = rendered.files();
    for (file, header) in [
        (
            files.lines,
            "code,description,units,licences,vat_percent,valid_from,valid_to",
        ),
        (
            files.duty_rates,
            "code,column,partners,kind,rate_percent,amount_per_unit,unit,bands,valid_from,valid_to",
        ),
        (
            files.consumption_tax,
            "code,kind,rate_percent,amount_per_unit,unit,bands,valid_from,valid_to",
        ),
        (
            files.trade_remedies,
            "code,remedy,origins,exporters,kind,rate_percent,amount_per_unit,unit,bands,notice,valid_from,valid_to",
        ),
        (files.exchange_rates, "currency,month,rate"),
    ] {
        let mut lines = file.text.lines();
        let comment = lines.next().unwrap_or_default();
        assert!(
            comment.starts_with('#') && comment.contains("exported"),
            "{}: {comment}",
            file.name
        );
        assert_eq!(lines.next(), Some(header), "{}", file.name);
    }
    assert_eq!(
        parse_exchange_rates(files.exchange_rates).as_ref(),
        Ok(&release.exchange_rates)
    );
    rendered
}

#[test]
fn the_sample_release_cn_2026_round_trips() {
    let texts = read_folder("sample_release_cn_2026");
    let release = parse_texts(&texts)
        .unwrap_or_else(|problems| panic!("the sample parses:\n{}", report(&problems)));
    assert!(release.lines.len() > 200, "{}", release.lines.len());
    let rendered = assert_round_trip(&release);
    // One row per record: the comments of the source are gone, its rows are all there.
    let rows = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(rows(&rendered.lines), rows(&texts[0]));
    assert_eq!(rows(&rendered.duty_rates), rows(&texts[1]));
    assert_eq!(rows(&rendered.exchange_rates), rows(&texts[4]));
}

#[test]
fn the_illustrative_sample_release_round_trips() {
    let texts = read_folder("test_data/sample_release");
    let release = parse_texts(&texts)
        .unwrap_or_else(|problems| panic!("the sample parses:\n{}", report(&problems)));
    assert_eq!(release, sample());
    let rendered = assert_round_trip(&release);
    assert!(
        rendered
            .duty_rates
            .contains("5201000000,trq_out,,conditional,,,KGM,40%; >15: 5%+0.57,2019-04-01,\n"),
        "{}",
        rendered.duty_rates
    );
    assert!(
        rendered
            .lines
            .contains("2204210000,\"Wine of fresh grapes, in containers of 2 l or less (SAMPLE)\",LTR|KGM,A|B,16,2018-05-01,2019-04-01\n"),
        "{}",
        rendered.lines
    );
    assert!(
        rendered.lines.contains(
            "8471300000,Portable automatic data-processing machines (SAMPLE),UNIT|KGM,,13,2019-04-01,\n"
        ),
        "{}",
        rendered.lines
    );
}

#[test]
fn what_the_format_cannot_hold_is_refused_when_read_back() {
    let mut release = sample();
    let unit = StatutoryUnit("KGM".into());
    let nested = DutyRate::Conditional {
        unit: unit.clone(),
        bands: vec![RateBand {
            floor: None,
            rate: DutyRate::AdValorem {
                rate: Rate::percent(dec("5")),
            },
        }],
    };
    let other_unit = DutyRate::Specific {
        amount_per_unit: dec("1"),
        unit: StatutoryUnit("LTR".into()),
    };
    for band_rate in [nested, other_unit] {
        std::sync::Arc::make_mut(&mut release.lines[0]).columns[0].rate = DutyRate::Conditional {
            unit: unit.clone(),
            bands: vec![
                RateBand {
                    floor: None,
                    rate: DutyRate::AdValorem {
                        rate: Rate::percent(dec("1")),
                    },
                },
                RateBand {
                    floor: Some(UnitValueFloor::Above(dec("10"))),
                    rate: band_rate,
                },
            ],
        };
        let problems = parse_release(&render_release(&release).files())
            .expect_err("a band the format cannot hold");
        assert_eq!(problems.len(), 1, "{}", report(&problems));
        assert_eq!(problems[0].field.as_deref(), Some("bands"));
    }
}

// The generator: releases the parser can produce, with every shape the format has.

/// A percentage of at most 4 decimals, up to 1000 (the format's limit), or below 100 when it is
/// grossed up (consumption tax).
fn percent_value(below_100: bool) -> impl Strategy<Value = Decimal> {
    (0u32..=4).prop_flat_map(move |scale| {
        let unit = 10i64.pow(scale);
        let top = if below_100 {
            100 * unit - 1
        } else {
            1000 * unit
        };
        (0..=top).prop_map(move |n| Decimal::new(n, scale))
    })
}

fn amount_value() -> impl Strategy<Value = Decimal> {
    (0u32..=6, 0i64..=1_000_000_000).prop_map(|(scale, n)| Decimal::new(n, scale))
}

fn unit_code() -> impl Strategy<Value = StatutoryUnit> {
    prop_oneof![
        Just("KGM".to_owned()),
        Just("LTR".to_owned()),
        Just("500ML".to_owned()),
        "[A-Z0-9]{1,16}",
    ]
    .prop_map(StatutoryUnit)
}

/// A band's rate as `parse_bands` builds it: ad valorem, or specific / compound in `unit`.
fn band_rate(unit: StatutoryUnit, below_100: bool) -> impl Strategy<Value = DutyRate> {
    let (specific_unit, compound_unit) = (unit.clone(), unit);
    prop_oneof![
        percent_value(below_100).prop_map(|p| DutyRate::AdValorem {
            rate: Rate::percent(p)
        }),
        amount_value().prop_map(move |amount_per_unit| DutyRate::Specific {
            amount_per_unit,
            unit: specific_unit.clone(),
        }),
        (percent_value(below_100), amount_value()).prop_map(move |(p, amount_per_unit)| {
            DutyRate::Compound {
                rate: Rate::percent(p),
                amount_per_unit,
                unit: compound_unit.clone(),
            }
        }),
    ]
}

/// Conditional rates: ascending floors, `>=` and `>`, of up to 12 integer and 6 fraction digits.
fn conditional_rate(below_100: bool) -> impl Strategy<Value = DutyRate> {
    unit_code().prop_flat_map(move |unit| {
        let band = (
            any::<bool>(),
            1i64..=1_000_000_000,
            0u32..=6,
            band_rate(unit.clone(), below_100),
        );
        (
            band_rate(unit.clone(), below_100),
            proptest::collection::vec(band, 0..4),
        )
            .prop_map(move |(first, later)| {
                let mut bands = vec![RateBand {
                    floor: None,
                    rate: first,
                }];
                let mut floor = Decimal::ZERO;
                for (at_least, step, scale, rate) in later {
                    floor += Decimal::new(step, scale);
                    bands.push(RateBand {
                        floor: Some(if at_least {
                            UnitValueFloor::AtLeast(floor)
                        } else {
                            UnitValueFloor::Above(floor)
                        }),
                        rate,
                    });
                }
                DutyRate::Conditional {
                    unit: unit.clone(),
                    bands,
                }
            })
    })
}

/// Every kind of rate; ad valorem parts below 100 % if `below_100`.
fn duty_rate(below_100: bool) -> impl Strategy<Value = DutyRate> {
    prop_oneof![
        percent_value(below_100).prop_map(|p| DutyRate::AdValorem {
            rate: Rate::percent(p)
        }),
        (amount_value(), unit_code()).prop_map(|(amount_per_unit, unit)| DutyRate::Specific {
            amount_per_unit,
            unit
        }),
        (percent_value(below_100), amount_value(), unit_code()).prop_map(
            |(p, amount_per_unit, unit)| DutyRate::Compound {
                rate: Rate::percent(p),
                amount_per_unit,
                unit,
            }
        ),
        conditional_rate(below_100),
    ]
}

/// A line's licence codes as the parser reads them: none (often), or a few distinct codes of 1 to
/// 3 letters or digits in any order, either case (China's `7`, `A`, `O`, lower-case `t`...).
fn licence_codes() -> impl Strategy<Value = Vec<String>> {
    let code = prop_oneof![
        Just("7".to_owned()),
        Just("A".to_owned()),
        Just("B".to_owned()),
        Just("O".to_owned()),
        Just("t".to_owned()),
        Just("T".to_owned()),
        "[A-Za-z0-9]{1,3}",
    ];
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(code, 1..5).prop_map(|codes| {
            let mut distinct: Vec<String> = Vec::new();
            for code in codes {
                if !distinct.contains(&code) {
                    distinct.push(code);
                }
            }
            distinct
        }),
    ]
}

fn countries(min: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[A-Z]{2}", min..4).prop_map(|set| set.into_iter().collect())
}

/// The exporters of a remedy row as the parser reads them: none ("all other companies", often),
/// or a few names distinct by `exporter_key`, without '|', control characters or surrounding
/// white space, with commas, quotes, '#', inner runs of spaces, Chinese.
fn exporter_names() -> impl Strategy<Value = Vec<String>> {
    let name = prop_oneof![
        Just("POSCO".to_owned()),
        Just("Martell & Co".to_owned()),
        Just("posco".to_owned()),
        "[A-Za-z0-9浦项#\"(]([A-Za-z0-9 ,.&'\"#()浦项制铁-]{0,24}[A-Za-z0-9.)\"铁])?",
    ];
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(name, 1..4).prop_map(|names| {
            let mut distinct: Vec<String> = Vec::new();
            for name in names {
                if !distinct
                    .iter()
                    .any(|d| exporter_key(d) == exporter_key(&name))
                {
                    distinct.push(name);
                }
            }
            distinct
        }),
    ]
}

fn rate_column() -> impl Strategy<Value = (RateColumn, Vec<String>)> {
    let name = "[A-Za-z0-9_-]{1,10}";
    prop_oneof![
        Just((RateColumn::Mfn, Vec::new())),
        Just((RateColumn::Provisional, Vec::new())),
        Just((RateColumn::General, Vec::new())),
        Just((RateColumn::TariffQuotaInQuota, Vec::new())),
        Just((RateColumn::TariffQuotaOutOfQuota, Vec::new())),
        (name, countries(1))
            .prop_map(|(agreement, partners)| (RateColumn::Conventional { agreement }, partners)),
        (name, countries(1)).prop_map(|(arrangement, partners)| (
            RateColumn::SpecialPreferential { arrangement },
            partners
        )),
    ]
}

/// Free text as an administrator writes it (commas, quotes, '#', '|', ';', newlines, Chinese),
/// without surrounding white space, which the reader trims.
fn free_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9鸡冻税]([A-Za-z0-9 ,\"'#;|%:()\n鸡整只，冻税]{0,30}[A-Za-z0-9\"#,)鸡])?"
}

/// The periods of `n` records that must not overlap: consecutive from a day drawn here, each
/// closed but the last, which may be open-ended.
fn periods(n: usize) -> impl Strategy<Value = Vec<Validity>> {
    (
        0i64..20_000,
        proptest::collection::vec(1i64..400, n),
        any::<bool>(),
    )
        .prop_map(move |(start, lengths, open)| {
            let mut from = day("1990-01-01") + chrono::Days::new(start as u64);
            let mut periods = Vec::new();
            for (i, length) in lengths.into_iter().enumerate() {
                let until = from + chrono::Days::new(length as u64);
                let until = (!(open && i + 1 == n)).then_some(until);
                periods.push(Validity { from, until });
                from = until.unwrap_or(from);
            }
            periods
        })
}

fn tariff_line(code: String) -> impl Strategy<Value = TariffLine> {
    let columns = proptest::collection::vec((rate_column(), duty_rate(false)), 0..5)
        .prop_flat_map(|rates| (periods(rates.len()), Just(rates)));
    let taxes = proptest::collection::vec(duty_rate(true), 0..3)
        .prop_flat_map(|rates| (periods(rates.len()), Just(rates)));
    let remedy_kind = prop_oneof![
        Just(RemedyKind::AntiDumping),
        Just(RemedyKind::Countervailing),
        Just(RemedyKind::Safeguard),
        Just(RemedyKind::Countermeasure),
    ];
    let remedies = proptest::collection::vec(
        (
            remedy_kind,
            countries(0),
            exporter_names(),
            duty_rate(false),
            free_text(),
        ),
        0..3,
    )
    .prop_flat_map(|remedies| (periods(remedies.len()), Just(remedies)));
    let vat = proptest::collection::vec(percent_value(false), 1..4)
        .prop_flat_map(|rates| (periods(rates.len()), Just(rates)));
    (
        free_text(),
        proptest::collection::vec(unit_code(), 1..=2),
        licence_codes(),
        vat,
        columns,
        taxes,
        remedies,
    )
        .prop_map(
            move |(description, statutory_units, licences, vat, columns, taxes, remedies)| {
                TariffLine {
                    code: code.clone(),
                    description,
                    statutory_units,
                    licences,
                    vat: vat
                        .0
                        .into_iter()
                        .zip(vat.1)
                        .map(|(validity, p)| DatedRate {
                            validity,
                            rate: Rate::percent(p),
                        })
                        .collect(),
                    columns: columns
                        .0
                        .into_iter()
                        .zip(columns.1)
                        .map(|(validity, ((column, partners), rate))| ColumnRate {
                            column,
                            partners,
                            validity,
                            rate,
                        })
                        .collect(),
                    consumption_tax: taxes
                        .0
                        .into_iter()
                        .zip(taxes.1)
                        .map(|(validity, rate)| DatedRate { validity, rate })
                        .collect(),
                    remedies: remedies
                        .0
                        .into_iter()
                        .zip(remedies.1)
                        .map(
                            |(validity, (kind, origins, exporters, rate, notice))| TradeRemedy {
                                kind,
                                origins,
                                exporters,
                                validity,
                                rate,
                                notice,
                            },
                        )
                        .collect(),
                }
            },
        )
}

/// One rate per currency and month, above zero, at most 4 decimals, in any order.
fn exchange_rate_table() -> impl Strategy<Value = ExchangeRates> {
    let key = ("[A-Z]{3}", 1990i32..2100, 1u32..=12);
    proptest::collection::btree_map(key, (1i64..100_000_000, 0u32..=4), 0..8).prop_map(|rates| {
        ExchangeRates::new(
            rates
                .into_iter()
                .map(|((currency, year, month), (n, scale))| {
                    ExchangeRate::new(currency, YearMonth { year, month }, Decimal::new(n, scale))
                        .expect("above zero, at most 4 decimals")
                })
                .rev()
                .collect(),
        )
    })
}

fn tariff_release() -> impl Strategy<Value = TariffRelease> {
    let codes = proptest::collection::btree_set("[0-9]{8}([0-9]{2})?", 0..6);
    (
        codes.prop_flat_map(|codes| codes.into_iter().map(tariff_line).collect::<Vec<_>>()),
        exchange_rate_table(),
    )
        .prop_map(|(lines, exchange_rates)| TariffRelease {
            lines: lines.into_iter().map(std::sync::Arc::new).collect(),
            exchange_rates,
            origin_rules: Default::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_release_round_trips_through_its_files(release in tariff_release()) {
        let rendered = render_release(&release);
        let parsed = parse_release(&rendered.files());
        prop_assert!(parsed.is_ok(), "{:?}\n{rendered:#?}", parsed.err().map(|p| report(&p)));
        let parsed = parsed.ok();
        prop_assert_eq!(parsed.as_ref(), Some(&release));
        // The text is a fixpoint, and the rate table round-trips on its own too.
        prop_assert_eq!(parsed.as_ref().map(render_release), Some(rendered.clone()));
        prop_assert_eq!(
            parse_exchange_rates(rendered.files().exchange_rates).ok(),
            Some(release.exchange_rates)
        );
    }
}

/// `licences` is a required column, like the others.
#[test]
fn lines_without_the_licences_column_are_refused() {
    let problems = parse_with(
        File::Lines,
        "code,description,units,vat_percent,valid_from,valid_to\n",
    )
    .expect_err("a missing column");
    let first = &problems[0];
    assert_eq!(
        (first.file.as_str(), first.line, first.field.as_deref()),
        ("lines.csv", 1, Some("licences")),
        "{}",
        report(&problems)
    );
}

/// Licence codes are read as written, in file order, case kept; an empty field is no licence.
#[test]
fn licence_codes_keep_their_case_and_order() {
    let text = format!(
        "{LINES}8471300011,A,KGM,t|T|7|INV,13,2019-04-01,\n8471300013,C,KGM, 4 | A | O ,13,2019-04-01,\n"
    );
    let release = parse_with(File::Lines, &text).expect("valid licences");
    let licences = |code: &str| {
        release
            .line(code, day("2026-03-10"))
            .map(|line| line.licences.clone())
    };
    assert_eq!(
        licences("8471300011"),
        Some(vec!["t".into(), "T".into(), "7".into(), "INV".into()])
    );
    assert_eq!(
        licences("8471300013"),
        Some(vec!["4".into(), "A".into(), "O".into()])
    );
    assert_eq!(licences("8471300000"), Some(Vec::new()));
    let rendered = render_release(&release);
    assert!(
        rendered
            .lines
            .contains("8471300011,A,KGM,t|T|7|INV,13,2019-04-01,\n")
    );
    assert!(
        rendered
            .lines
            .contains("8471300013,C,KGM,4|A|O,13,2019-04-01,\n")
    );
}

/// A problem names the row's own line, also when comment or blank lines are right above it
/// (the csv reader reports where it started reading, before the lines it skipped).
#[test]
fn a_problem_after_comment_lines_names_the_rows_own_line() {
    let fx = "# table\ncurrency,month,rate\nUSD,2026-02,7.1000\n# a comment\n\n# another\nEUR,2026-02,abc\n";
    let problems = parse_with(File::Fx, fx).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].line, problems[0].field.as_deref()),
        (7, Some("rate"))
    );
}
