//! Administrator-imported code lists: every problem named by line, column and value in both
//! languages; the CSV round trip; the lists of one day; reading back recorded documents; the
//! dry run's differences.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::{
    CodeEntry, CodeList, CodeListChanges, CodeListKind, Lookup, ReferenceData, StatutoryUnitHint,
    parse_code_list_csv, parse_statutory_units_csv, render_code_list_csv,
    render_statutory_units_csv,
};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test dates are ISO dates")
}

fn offices(text: &str) -> Result<CodeList, Vec<crate::ReferenceError>> {
    parse_code_list_csv(
        CodeListKind::CustomsOffice,
        "RCO-0001",
        date("2027-01-01"),
        None,
        "customs_office.csv",
        text,
    )
}

/// Each case: the text, then every problem expected as (line, column, English, Chinese).
#[test]
fn every_problem_names_its_line_column_and_value_in_both_languages() {
    type Problem = (u64, Option<&'static str>, &'static str, &'static str);
    let cases: [(&str, &[Problem]); 5] = [
        (
            "code,name_en,name_zh\n9999,,测试\n",
            &[(2, Some("name_en"), "`name_en` is empty", "`name_en` 为空")],
        ),
        (
            "code,name_en,name_zh,valid_from,valid_to\n9999,Test,,2027-02-30,\n",
            &[(
                2,
                Some("valid_from"),
                "`valid_from` value `2027-02-30` is invalid: expected a date as YYYY-MM-DD",
                "`valid_from` 的值 `2027-02-30` 无效：应为 YYYY-MM-DD 格式的日期",
            )],
        ),
        (
            "code,name_en,name_zh\n9999,Test,\n0100,Beijing,\n9999,Again,\n",
            &[(
                4,
                Some("code"),
                "code `9999` is already defined on line 2",
                "代码 `9999` 已在第 2 行定义",
            )],
        ),
        (
            "code,name_zh\n9999,测试\n",
            &[(
                1,
                Some("name_en"),
                "the header has no `name_en` column",
                "表头缺少 `name_en` 列",
            )],
        ),
        (
            "code,name_en,name_zh,valid_from,valid_to\n9999,Test,,2027-03-01,2027-02-01\n",
            &[(
                2,
                None,
                "validity from 2027-03-01 to 2027-02-01 is empty: valid_to must be after valid_from",
                "有效期 2027-03-01 至 2027-02-01 为空：valid_to 必须晚于 valid_from",
            )],
        ),
    ];
    for (text, expected) in cases {
        let errors = offices(text).expect_err("the text has problems");
        let actual: Vec<(u64, Option<&str>, String, String)> = errors
            .iter()
            .map(|e| (e.line(), e.column(), e.message_en(), e.message_zh()))
            .collect();
        let expected: Vec<(u64, Option<&str>, String, String)> = expected
            .iter()
            .map(|(line, column, en, zh)| (*line, *column, (*en).to_owned(), (*zh).to_owned()))
            .collect();
        assert_eq!(actual, expected, "{text:?}");
    }
}

fn entry(code: &str, name_en: &str, name_zh: Option<&str>) -> CodeEntry {
    CodeEntry {
        code: code.to_owned(),
        name_en: name_en.to_owned(),
        name_zh: name_zh.map(str::to_owned),
        valid_from: None,
        valid_to: None,
        minor_unit: None,
    }
}

#[test]
fn the_china_sample_lists_survive_a_round_trip() {
    let embedded = ReferenceData::embedded();
    for kind in [
        CodeListKind::CustomsOffice,
        CodeListKind::CustomsProcedure,
        CodeListKind::LevyNature,
        CodeListKind::LevyMode,
        CodeListKind::TransportMode,
        CodeListKind::DocumentType,
        CodeListKind::Incoterm,
    ] {
        let list = embedded
            .list_in_force(kind, date("2026-06-01"))
            .expect("the sample has every China list");
        let text = render_code_list_csv(list);
        let again = parse_code_list_csv(
            kind,
            &list.version,
            list.valid_from,
            list.valid_to,
            "export.csv",
            &text,
        )
        .unwrap_or_else(|errors| panic!("{kind}: {errors:?}"));
        assert_eq!(&again, list, "{kind}");
    }
    let hints = embedded.statutory_unit_hints();
    assert!(hints.len() > 20, "the sample has its hints");
    let again = parse_statutory_units_csv("units.csv", &render_statutory_units_csv(&hints))
        .expect("rendered hints parse");
    assert_eq!(again, hints);
}

/// A field as an administrator may type it: no surrounding blanks (the reader trims them), no
/// line breaks inside the quotes the writer adds, any other character (commas, quotes, `#`,
/// `|`, Chinese) allowed.
fn field() -> impl Strategy<Value = String> {
    "[^\\s]([^\r\n]{0,12}[^\\s])?"
}

fn optional_date() -> impl Strategy<Value = Option<NaiveDate>> {
    prop::option::of(
        (0i64..20_000).prop_map(|days| date("1990-01-01") + chrono::Duration::days(days)),
    )
}

fn entries() -> impl Strategy<Value = Vec<CodeEntry>> {
    prop::collection::vec(
        (
            field(),
            field(),
            prop::option::of(field()),
            optional_date(),
            1i64..5_000,
        ),
        0..12,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(code, name_en, name_zh, valid_from, length)| CodeEntry {
                valid_to: valid_from.map(|from| from + chrono::Duration::days(length)),
                valid_from,
                ..entry(&code, &name_en, name_zh.as_deref())
            })
            .collect()
    })
}

proptest! {
    /// What is exported is imported again unchanged: codes, names in both languages and the
    /// entries' own validity.
    #[test]
    fn a_code_list_survives_render_and_parse(entries in entries()) {
        let list = CodeList::new(
            CodeListKind::CustomsOffice,
            "RCO-0001",
            date("2027-01-01"),
            None,
            entries,
        );
        let text = render_code_list_csv(&list);
        let again = parse_code_list_csv(
            list.kind,
            &list.version,
            list.valid_from,
            list.valid_to,
            "customs_office.csv",
            &text,
        );
        prop_assert_eq!(again, Ok(list), "{}", text);
    }

    /// Statutory unit hints survive the round trip too.
    #[test]
    fn statutory_unit_hints_survive_render_and_parse(
        hints in prop::collection::btree_map("[0-9]{2,8}", prop::collection::vec("[A-Z0-9]{3}", 1..3), 0..8)
    ) {
        let hints: Vec<StatutoryUnitHint> = hints
            .into_iter()
            .map(|(hs_prefix, units)| StatutoryUnitHint { hs_prefix, units })
            .collect();
        let again = parse_statutory_units_csv("units.csv", &render_statutory_units_csv(&hints));
        prop_assert_eq!(again, Ok(hints));
    }
}

fn office_9999() -> CodeList {
    offices("code,name_en,name_zh\n0100,Beijing Customs,北京海关\n9999,Test Customs,测试海关\n")
        .expect("a valid list")
}

#[test]
fn an_imported_list_replaces_the_sample_for_its_kind_only() {
    let base = ReferenceData::embedded();
    let on = date("2027-01-01");
    assert_eq!(
        base.lookup(CodeListKind::CustomsOffice, "9999", on),
        Lookup::Unknown
    );
    let day = base.with_in_force(vec![office_9999()], None);
    assert!(matches!(
        day.lookup(CodeListKind::CustomsOffice, "9999", on),
        Lookup::InForce(_)
    ));
    // The sample's 2200 is not in the imported release: it is refused that day.
    assert_eq!(
        day.lookup(CodeListKind::CustomsOffice, "2200", on),
        Lookup::Unknown
    );
    // Other lists and the hints are the sample's.
    assert!(matches!(
        day.lookup(CodeListKind::LevyMode, "1", on),
        Lookup::InForce(_)
    ));
    assert_eq!(
        day.statutory_units("870323"),
        base.statutory_units("870323")
    );
    let hints = vec![StatutoryUnitHint {
        hs_prefix: "8703".into(),
        units: vec!["KGM".into()],
    }];
    let day = base.with_in_force(Vec::new(), Some(hints));
    assert_eq!(day.statutory_units("870323"), Some(&["KGM".to_owned()][..]));
    assert_eq!(day.statutory_units("020110"), None);
}

#[test]
fn recorded_documents_read_back_with_every_code_ever_imported() {
    let base = ReferenceData::embedded();
    let recorded = base.with_recorded(&[&office_9999()], true);
    for code in ["9999", "0100", "2200"] {
        assert!(
            matches!(
                recorded.lookup(CodeListKind::CustomsOffice, code, date("2000-01-01")),
                Lookup::InForce(_)
            ),
            "{code}"
        );
    }
    assert_eq!(recorded.statutory_units("870323"), None);
    // DAT ended in 2020 in the sample; a recorded Incoterm list is not widened unless imported.
    assert!(matches!(
        recorded.lookup(CodeListKind::Incoterm, "DAT", date("2026-01-01")),
        Lookup::NotInForce { .. }
    ));
}

#[test]
fn changes_name_codes_added_removed_renamed_and_redated() {
    let current = CodeList::new(
        CodeListKind::CustomsOffice,
        "cn-sample",
        date("1970-01-01"),
        None,
        [
            entry("0100", "Beijing Customs", Some("北京海关")),
            entry("0200", "Tianjin Customs", Some("天津海关")),
            entry("0300", "Old Customs", None),
            entry("0400", "Shijiazhuang Customs", None),
        ],
    );
    let new = CodeList::new(
        CodeListKind::CustomsOffice,
        "RCO-0001",
        date("2027-01-01"),
        None,
        [
            entry("0100", "Beijing Customs", Some("北京海关")),
            entry("0200", "Tianjin Customs", Some("天津新海关")),
            CodeEntry {
                valid_to: Some(date("2028-01-01")),
                ..entry("0400", "Shijiazhuang Customs", None)
            },
            entry("9999", "Test Customs", Some("测试海关")),
        ],
    );
    let changes = CodeListChanges::between(Some(&current), &new);
    let codes = |entries: &[CodeEntry]| entries.iter().map(|e| e.code.clone()).collect::<Vec<_>>();
    assert_eq!(codes(&changes.added), ["9999"]);
    assert_eq!(codes(&changes.removed), ["0300"]);
    assert_eq!(
        changes
            .renamed
            .iter()
            .map(|(old, new)| (old.name_zh.as_deref(), new.name_zh.as_deref()))
            .collect::<Vec<_>>(),
        [(Some("天津海关"), Some("天津新海关"))]
    );
    assert_eq!(changes.redated.len(), 1);
    assert_eq!(changes.redated[0].1.code, "0400");
    assert!(CodeListChanges::between(Some(&new), &new).is_empty());
    assert_eq!(CodeListChanges::between(None, &new).added.len(), 4);
}
