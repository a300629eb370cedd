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
    assert_eq!(propanol.remedies.len(), 1);
    assert!(propanol.remedies[0].applies_to(Some("US"), day("2026-03-10")));
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
            .clone();
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
            "2905120000,anti_dumping,US,ad_valorem,20,,,,SAMPLE notice (not a real MOFCOM notice),2025-01-01,2030-01-01\n",
            &[(1, None)],
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
            "847130000,Nine digits,KGM,13,2019-04-01,\n8471300010,Big VAT,KGM,2000,2019-04-01,\n",
            &[(1, Some("code")), (2, Some("vat_percent"))],
        ),
        append(
            "a new period of a line with another description and overlapping VAT",
            File::Lines,
            "3304990000,Cosmetics,KGM,13,2030-01-01,\n9101110000,Watches,UNIT,13,2018-01-01,2019-04-01\n",
            &[(1, Some("valid_from")), (2, Some("description"))],
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
            "2905120000,anti_dumping,usa,ad_valorem,20,,,,,2031-01-01,\n",
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
            text: "code,description,units,vat_percent,valid_from,valid_to\n\
                   8471300000,Computers,UNIT,13,2019-04-01,\n",
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
            text: "code,remedy,origins,kind,rate_percent,amount_per_unit,unit,bands,notice,valid_from,valid_to\n",
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
