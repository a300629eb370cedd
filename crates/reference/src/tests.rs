//! Table-driven tests over the embedded data and the public API.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::embedded;
use crate::{
    CodeEntry, CodeList, CodeListKind, Lookup, ReferenceData, ReferenceError, StatutoryUnitHint,
    parse_code_list_csv, parse_statutory_units_csv,
};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test dates are ISO dates")
}

/// The kind of answer a lookup gives, without the borrowed entry, so tables can name it.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    InForce,
    Unknown,
    NotInForce,
    NoListInForce,
}

fn outcome(lookup: Lookup<'_>) -> Expect {
    match lookup {
        Lookup::InForce(_) => Expect::InForce,
        Lookup::Unknown => Expect::Unknown,
        Lookup::NotInForce { .. } => Expect::NotInForce,
        Lookup::NoListInForce => Expect::NoListInForce,
    }
}

fn check_lookups(reference_data: &ReferenceData, cases: &[(CodeListKind, &str, &str, Expect)]) {
    for (kind, code, on, expected) in cases {
        let actual = outcome(reference_data.lookup(*kind, code, date(on)));
        assert_eq!(&actual, expected, "{kind} `{code}` on {on}");
    }
}

#[test]
fn embedded_data_is_not_corrupt() {
    if let Err(errors) = embedded::load() {
        let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("embedded reference data is corrupt:\n{}", report.join("\n"));
    }
}

#[test]
fn every_kind_has_one_non_empty_embedded_list_of_sensible_size() {
    use CodeListKind::*;
    let reference_data = ReferenceData::embedded();
    // Lower and upper bounds: an importer that drops or duplicates rows shows up here.
    let sizes = [
        (Country, 240, 260),
        (Currency, 250, 320),
        (Unit, 1_500, 1_900),
        (PackageType, 350, 420),
        (HsSubheading, 5_600, 5_620),
        (CustomsOffice, 41, 100),
        (CustomsProcedure, 20, 200),
        (LevyNature, 10, 100),
        (LevyMode, 9, 9),
        (TransportMode, 15, 30),
        (DocumentType, 10, 60),
        (Incoterm, 12, 12),
    ];
    for (kind, minimum, maximum) in sizes {
        let lists: Vec<&CodeList> = reference_data.lists().filter(|l| l.kind == kind).collect();
        assert_eq!(lists.len(), 1, "{kind}: one embedded release");
        let n_entries = lists[0].len();
        assert!(
            (minimum..=maximum).contains(&n_entries),
            "{kind}: {n_entries} entries"
        );
    }
    assert_eq!(reference_data.lists().count(), CodeListKind::ALL.len());
}

#[test]
fn embedded_currency_list_has_at_least_150_codes_in_force_today() {
    let currencies = ReferenceData::embedded()
        .list_in_force(CodeListKind::Currency, date("2026-06-01"))
        .expect("a currency list is in force");
    let n_active = currencies
        .entries()
        .filter(|e| e.valid_to.is_none())
        .count();
    assert!(n_active >= 150, "{n_active} active currencies");
}

#[test]
fn embedded_lookups() {
    use CodeListKind::*;
    use Expect::*;
    let cases = [
        (Country, "CN", "2024-03-01", InForce),
        (Country, "US", "2024-03-01", InForce),
        (Country, "DE", "2024-03-01", InForce),
        (Country, "NA", "2024-03-01", InForce), // Namibia: "NA" is a code, not a missing value.
        (Country, "XX", "2024-03-01", Unknown),
        (Country, "cn", "2024-03-01", Unknown), // Codes match exactly; callers normalise.
        (Currency, "CNY", "2024-03-01", InForce),
        (Currency, "EUR", "2024-03-01", InForce),
        (Currency, "DEM", "1995-06-01", InForce),
        (Currency, "DEM", "2002-02-28", InForce),
        (Currency, "DEM", "2002-03-01", NotInForce),
        (Currency, "DEM", "2020-01-01", NotInForce),
        (Currency, "HRK", "2022-12-31", InForce),
        (Currency, "HRK", "2023-01-01", NotInForce),
        (Unit, "KGM", "2024-03-01", InForce),
        (Unit, "C62", "2024-03-01", InForce),
        (Unit, "64", "2024-03-01", InForce), // Deprecated (D) codes stay valid.
        (Unit, "05", "2024-03-01", Unknown), // Deleted (X) codes are dropped.
        (PackageType, "CT", "2024-03-01", InForce),
        (PackageType, "SX", "2024-03-01", Unknown), // Deleted (X).
        (HsSubheading, "851713", "2023-05-01", InForce),
        (HsSubheading, "851713", "2021-12-31", NoListInForce),
        (HsSubheading, "851713", "2022-01-01", InForce),
        (HsSubheading, "999999", "2023-05-01", Unknown),
        (HsSubheading, "8517", "2023-05-01", Unknown), // Headings are not subheadings.
        (CustomsOffice, "2200", "2024-03-01", InForce),
        (CustomsOffice, "0000", "2024-03-01", Unknown),
        (CustomsProcedure, "0110", "2024-03-01", InForce),
        (CustomsProcedure, "9610", "2024-03-01", InForce),
        (LevyNature, "101", "2024-03-01", InForce),
        (LevyMode, "1", "2024-03-01", InForce),
        (LevyMode, "0", "2024-03-01", Unknown),
        (TransportMode, "2", "2024-03-01", InForce),
        (TransportMode, "Y", "2024-03-01", InForce),
        (DocumentType, "Y", "2024-03-01", InForce),
        (DocumentType, "INV", "2024-03-01", InForce),
        (Incoterm, "FOB", "2024-03-01", InForce),
        (Incoterm, "DAT", "2015-06-01", InForce),
        (Incoterm, "DAT", "2021-06-01", NotInForce),
        (Incoterm, "DPU", "2015-06-01", NotInForce),
        (Incoterm, "DPU", "2021-06-01", InForce),
        (Incoterm, "FOB", "2005-06-01", NoListInForce), // Incoterms 2000 is not loaded.
    ];
    check_lookups(ReferenceData::embedded(), &cases);
}

#[test]
fn embedded_currency_minor_units() {
    let cases = [
        ("CNY", Some(2)),
        ("JPY", Some(0)),
        ("KWD", Some(3)),
        ("XAU", None),
    ];
    for (code, expected) in cases {
        let entry = embedded_entry(CodeListKind::Currency, code, "2024-03-01");
        assert_eq!(entry.minor_unit, expected, "{code}");
    }
}

#[test]
fn embedded_names() {
    use CodeListKind::*;
    let cases = [
        (Country, "CN", "China", Some("中国")),
        (Country, "DE", "Germany", Some("德国")),
        (Currency, "CNY", "Yuan Renminbi", None),
        (Unit, "KGM", "kilogram", None),
        (CustomsOffice, "0100", "Beijing Customs", Some("北京海关")),
        (
            Incoterm,
            "CIF",
            "Cost, Insurance and Freight",
            Some("成本加保险费加运费"),
        ),
    ];
    for (kind, code, name_en, name_zh) in cases {
        let entry = embedded_entry(kind, code, "2024-03-01");
        assert_eq!(entry.name_en, name_en, "{kind} {code}");
        assert_eq!(entry.name_zh.as_deref(), name_zh, "{kind} {code}");
    }
}

fn embedded_entry(kind: CodeListKind, code: &str, on: &str) -> &'static CodeEntry {
    match ReferenceData::embedded().lookup(kind, code, date(on)) {
        Lookup::InForce(entry) => entry,
        other => panic!("{kind} `{code}` on {on}: {other:?}"),
    }
}

#[test]
fn withdrawn_currency_reports_its_validity() {
    let lookup =
        ReferenceData::embedded().lookup(CodeListKind::Currency, "DEM", date("2020-01-01"));
    let expected = Lookup::NotInForce {
        valid_from: None,
        valid_to: Some(date("2002-03-01")),
    };
    assert_eq!(lookup, expected);
}

#[test]
fn withdrawal_dates_of_every_upstream_shape() {
    let cases = [
        ("2002-03", Some("2002-03-01")),
        ("1990-07 to 1990-09", Some("1990-07-01")),
        ("1978 to 1981", Some("1982-01-01")),
        ("1989-1990", Some("1991-01-01")),
        ("soon", None),
    ];
    for (text, expected) in cases {
        let actual = embedded::withdrawal_valid_to(text);
        assert_eq!(actual, expected.map(date), "{text}");
    }
}

#[test]
fn embedded_statutory_units() {
    let reference_data = ReferenceData::embedded();
    let cases: [(&str, Option<&[&str]>); 7] = [
        ("2203000000", Some(&["LTR"])),
        ("8703231410", Some(&["C62"])),
        ("7108120000", Some(&["GRM"])),
        ("0201100000", Some(&["KGM"])), // Chapter-wide default.
        ("2716000000", Some(&["KWH"])),
        ("9999", None),
        ("", None),
    ];
    for (commodity_code, expected) in cases {
        let actual = reference_data.statutory_units(commodity_code);
        let expected: Option<Vec<String>> =
            expected.map(|u| u.iter().map(|s| s.to_string()).collect());
        assert_eq!(actual, expected.as_deref(), "{commodity_code}");
    }
}

#[test]
fn embedded_statutory_units_are_known_units() {
    let reference_data = ReferenceData::embedded();
    let hints = parse_statutory_units_csv(
        "statutory-units.csv",
        include_str!("../data/china/statutory-units.csv"),
    )
    .expect("statutory units parse");
    for hint in hints {
        for unit in &hint.units {
            let lookup = reference_data.lookup(CodeListKind::Unit, unit, date("2024-03-01"));
            assert_eq!(
                outcome(lookup),
                Expect::InForce,
                "{} {unit}",
                hint.hs_prefix
            );
        }
    }
}

#[test]
fn statutory_units_longest_prefix_wins() {
    let hint = |hs_prefix: &str, unit: &str| StatutoryUnitHint {
        hs_prefix: hs_prefix.to_owned(),
        units: vec![unit.to_owned()],
    };
    let hints = vec![
        hint("22", "KGM"),
        hint("2204", "LTR"),
        hint("220421", "C62"),
    ];
    let reference_data = ReferenceData::from_lists(Vec::new(), hints);
    let cases = [
        ("2201100000", Some("KGM")),
        ("2204100000", Some("LTR")),
        ("2204211000", Some("C62")),
        ("220421", Some("C62")),
        ("22", Some("KGM")),
        ("2", None),
        ("8703", None),
    ];
    for (commodity_code, expected) in cases {
        let actual = reference_data.statutory_units(commodity_code);
        let actual = actual.map(|units| units[0].as_str());
        assert_eq!(actual, expected, "{commodity_code}");
    }
}

#[test]
fn embedded_hs_sections() {
    let reference_data = ReferenceData::embedded();
    let cases = [
        ("851713", Some("XVI")),
        ("0101", Some("I")),
        ("97", Some("XXI")),
        ("99", None),
    ];
    for (commodity_code, expected) in cases {
        let actual = reference_data
            .hs_section(commodity_code)
            .map(|s| s.number.as_str());
        assert_eq!(actual, expected, "{commodity_code}");
    }
}

const OFFICES_2024: &str = "\
# comment lines are skipped but still counted
code,name_en,name_zh
0100,Beijing Customs,北京海关
2200,Shanghai Customs,
";

const OFFICES_2025: &str = "\
code,name_en,name_zh,valid_from,valid_to
0100,Beijing Customs,北京海关,,
2200,Shanghai Customs,上海海关,,2025-07-01
2233,Pudong Customs,,2025-03-01,
";

fn office_release(version: &str, from: &str, to: Option<&str>, text: &str) -> CodeList {
    let (valid_from, valid_to) = (date(from), to.map(date));
    let kind = CodeListKind::CustomsOffice;
    parse_code_list_csv(kind, version, valid_from, valid_to, "offices.csv", text)
        .expect("test release parses")
}

#[test]
fn lookup_picks_the_release_in_force_then_the_entry() {
    use CodeListKind::CustomsOffice;
    use Expect::*;
    let releases = vec![
        office_release("2025", "2025-01-01", None, OFFICES_2025),
        office_release("2024", "2024-01-01", None, OFFICES_2024),
    ];
    let reference_data = ReferenceData::from_lists(releases, Vec::new());
    let cases = [
        (CustomsOffice, "0100", "2023-12-31", NoListInForce),
        (CustomsOffice, "0100", "2024-06-01", InForce),
        (CustomsOffice, "2233", "2024-06-01", Unknown),
        (CustomsOffice, "2233", "2025-02-28", NotInForce),
        (CustomsOffice, "2233", "2025-03-01", InForce),
        (CustomsOffice, "2200", "2025-06-30", InForce),
        (CustomsOffice, "2200", "2025-07-01", NotInForce),
        (CodeListKind::Country, "CN", "2025-07-01", NoListInForce),
    ];
    check_lookups(&reference_data, &cases);
    let in_force = |on| {
        reference_data
            .list_in_force(CustomsOffice, date(on))
            .map(|l| l.version.as_str())
    };
    assert_eq!(in_force("2024-12-31"), Some("2024"));
    assert_eq!(in_force("2025-01-01"), Some("2025"));
}

#[test]
fn closed_release_ends_on_its_valid_to() {
    let release = office_release("2024", "2024-01-01", Some("2025-01-01"), OFFICES_2024);
    let reference_data = ReferenceData::from_lists(vec![release], Vec::new());
    let cases = [
        (
            CodeListKind::CustomsOffice,
            "0100",
            "2024-12-31",
            Expect::InForce,
        ),
        (
            CodeListKind::CustomsOffice,
            "0100",
            "2025-01-01",
            Expect::NoListInForce,
        ),
    ];
    check_lookups(&reference_data, &cases);
}

#[test]
fn parsed_entries_keep_names_and_validity() {
    let release = office_release("2025", "2025-01-01", None, OFFICES_2025);
    assert_eq!(release.len(), 3);
    let pudong = release.get("2233").expect("2233 is listed");
    assert_eq!(pudong.name_zh, None);
    assert_eq!(pudong.valid_from, Some(date("2025-03-01")));
    let codes: Vec<&str> = release.entries().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["0100", "2200", "2233"]);
}

/// Each case: the text and the (line, error kind) pairs expected, in file order.
#[test]
fn parse_code_list_csv_reports_every_bad_line() {
    let cases: [(&str, &[(u64, &str)]); 6] = [
        (
            "# header comment\ncode,name_en,name_zh\n,Nameless,\n0100,Beijing,北京\n0200,,\n",
            &[(3, "EmptyField"), (5, "EmptyField")],
        ),
        (
            "code,name_en,name_zh,valid_from,valid_to\nA,a,,2020-13-01,\nB,b,,2021-01-01,2020-01-01\n",
            &[(2, "InvalidValue"), (3, "EmptyValidity")],
        ),
        (
            "code,name_en,name_zh\nA,a,\nA,again,\n",
            &[(3, "DuplicateCode")],
        ),
        (
            "code,name_en,name_zh\nA,a\nB,b,,extra\n",
            &[(2, "MalformedCsv"), (3, "MalformedCsv")],
        ),
        ("code,name_en\nA,a\n", &[(1, "MissingColumn")]),
        (
            "",
            &[
                (1, "MissingColumn"),
                (1, "MissingColumn"),
                (1, "MissingColumn"),
            ],
        ),
    ];
    for (text, expected) in cases {
        let errors = parse_code_list_csv(
            CodeListKind::LevyMode,
            "test",
            date("2020-01-01"),
            None,
            "levy-modes.csv",
            text,
        )
        .expect_err("the text has bad lines");
        let actual: Vec<(u64, &str)> = errors.iter().map(|e| (e.line(), error_kind(e))).collect();
        assert_eq!(actual, expected, "{text:?}");
        assert!(errors.iter().all(|e| e.file_name() == "levy-modes.csv"));
    }
}

fn error_kind(error: &ReferenceError) -> &'static str {
    match error {
        ReferenceError::MalformedCsv { .. } => "MalformedCsv",
        ReferenceError::MissingColumn { .. } => "MissingColumn",
        ReferenceError::EmptyField { .. } => "EmptyField",
        ReferenceError::InvalidValue { .. } => "InvalidValue",
        ReferenceError::EmptyValidity { .. } => "EmptyValidity",
        ReferenceError::DuplicateCode { .. } => "DuplicateCode",
    }
}

#[test]
fn error_messages_name_file_and_line() {
    let text = "code,name_en,name_zh\nA,a,\nA,again,\n";
    let errors = parse_code_list_csv(
        CodeListKind::LevyMode,
        "test",
        date("2020-01-01"),
        None,
        "levy-modes.csv",
        text,
    )
    .expect_err("duplicate code");
    let message = errors[0].to_string();
    assert_eq!(
        message,
        "levy-modes.csv:3: code `A` is already defined on line 2"
    );
}

#[test]
fn empty_list_validity_is_reported_against_line_1() {
    let errors = parse_code_list_csv(
        CodeListKind::LevyMode,
        "test",
        date("2020-01-01"),
        Some(date("2020-01-01")),
        "levy-modes.csv",
        "code,name_en,name_zh\n1,Levy per regulation,照章征税\n",
    )
    .expect_err("empty list validity");
    let actual: Vec<(u64, &str)> = errors.iter().map(|e| (e.line(), error_kind(e))).collect();
    assert_eq!(actual, [(1, "EmptyValidity")]);
}

#[test]
fn parse_statutory_units_csv_reports_every_bad_line() {
    let text = "hs_prefix,units\n8703,C62\n87.03,C62\n2204,LTR||KGM\n8703,KGM\n";
    let errors = parse_statutory_units_csv("units.csv", text).expect_err("bad lines");
    let actual: Vec<(u64, &str)> = errors.iter().map(|e| (e.line(), error_kind(e))).collect();
    assert_eq!(
        actual,
        [
            (3, "InvalidValue"),
            (4, "InvalidValue"),
            (5, "DuplicateCode")
        ]
    );
}

proptest! {
    /// Entry validity is the half-open interval: DAT is in force exactly from the Incoterms 2010
    /// list start up to (not including) 2020-01-01.
    #[test]
    fn dat_is_in_force_exactly_within_its_validity(days in 0i64..40_000) {
        let on = date("1990-01-01") + chrono::Duration::days(days);
        let lookup = ReferenceData::embedded().lookup(CodeListKind::Incoterm, "DAT", on);
        let expected = if on < date("2011-01-01") {
            Expect::NoListInForce
        } else if on < date("2020-01-01") {
            Expect::InForce
        } else {
            Expect::NotInForce
        };
        prop_assert_eq!(outcome(lookup), expected);
    }

    /// A code list written as CSV (quoted where a name needs it: commas, quotes, Chinese, `#`
    /// inside) reads back to the same entries, with and without the validity columns.
    #[test]
    fn a_code_list_written_as_csv_reads_back_the_same(
        rows in proptest::collection::btree_map(
            "[A-Z0-9]{1,6}",
            (
                "[A-Za-z0-9][A-Za-z0-9 ,.\"'()#;-]{0,30}[A-Za-z0-9.)]",
                proptest::option::of("[一-龥][一-龥，（）0-9]{0,10}"),
                proptest::option::of((0i64..20_000, 1i64..5_000)),
            ),
            0..40,
        ),
        with_validity in any::<bool>(),
    ) {
        let expected: Vec<CodeEntry> = rows
            .iter()
            .map(|(code, (name_en, name_zh, validity))| {
                let validity = validity.filter(|_| with_validity);
                let from = validity.map(|(start, _)| date("1990-01-01") + chrono::Duration::days(start));
                CodeEntry {
                    code: code.clone(),
                    name_en: name_en.clone(),
                    name_zh: name_zh.clone(),
                    valid_from: from,
                    valid_to: validity.zip(from).map(|((_, length), from)| from + chrono::Duration::days(length)),
                    minor_unit: None,
                }
            })
            .collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["code", "name_en", "name_zh"];
        if with_validity {
            header.extend(["valid_from", "valid_to"]);
        }
        writer.write_record(&header).unwrap();
        let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        for entry in &expected {
            let mut record = vec![entry.code.clone(), entry.name_en.clone(), entry.name_zh.clone().unwrap_or_default()];
            if with_validity {
                record.extend([day(entry.valid_from), day(entry.valid_to)]);
            }
            writer.write_record(&record).unwrap();
        }
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let list = parse_code_list_csv(CodeListKind::Incoterm, "round-trip", date("1990-01-01"), None, "round-trip.csv", &text)
            .unwrap_or_else(|errors| panic!("{errors:?} in\n{text}"));
        let mut read: Vec<CodeEntry> = list.entries().cloned().collect();
        read.sort_by(|a, b| a.code.cmp(&b.code));
        prop_assert_eq!(read, expected);
    }

    /// Administrator uploads are arbitrary text: parsing reports, it never panics.
    #[test]
    fn parse_code_list_csv_never_panics(text in ".{0,400}") {
        let _ = parse_code_list_csv(
            CodeListKind::Incoterm,
            "fuzz",
            date("2020-01-01"),
            None,
            "fuzz.csv",
            &text,
        );
    }
}
