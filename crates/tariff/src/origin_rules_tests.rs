//! Tests of the release's product-specific rules of origin: the proof checked against them
//! (table-driven), the import's problems, the row limit at its edge, the export round trip and
//! the sample release's table.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::origin::*;
use crate::origin_rules::*;
use crate::*;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

const HEADER: &str = "agreement,hs6,rule,valid_from,valid_to,source,verify\n";
const AGREEMENTS: &[&str] = &["RCEP", "ACFTA"];

fn rules(rows: &str) -> OriginRules {
    let text = format!("{HEADER}{rows}");
    parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text: &text,
        },
        AGREEMENTS,
    )
    .expect("the rules parse")
}

fn problems(rows: &str) -> Vec<ReleaseProblem> {
    let text = format!("{HEADER}{rows}");
    parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text: &text,
        },
        AGREEMENTS,
    )
    .expect_err("the rules are refused")
}

fn kgm(amount: &str) -> Quantity {
    Quantity {
        unit: StatutoryUnit("KGM".into()),
        amount: dec(amount),
    }
}

/// A Japanese RCEP certificate for optical devices of HS 901380 (a sample line with an RCEP
/// rate), stating a change of heading.
fn proof() -> ProofOfOrigin {
    ProofOfOrigin {
        agreement: "RCEP".into(),
        kind: ProofType::Certificate,
        number: "JP-2026-0900".into(),
        issue_date: day("2026-01-10"),
        retroactive: false,
        exporter: "Osaka Optics KK".into(),
        hs6: "901380".into(),
        criterion: OriginCriterion::Cth,
        country_of_origin: Some("JP".into()),
        quantity: kgm("100"),
        fob: None,
        vnm: None,
        direct_consignment_evidence: true,
    }
}

fn goods() -> DeclaredGoods {
    DeclaredGoods {
        agreement: "RCEP".into(),
        date: day("2026-03-10"),
        origin_country: "JP".into(),
        hs6: "901380".into(),
        quantity: kgm("100"),
        shipment_date: day("2026-01-12"),
    }
}

struct Case {
    name: &'static str,
    /// Rows of the release's `origin_rules.csv`.
    rows: &'static str,
    criterion: OriginCriterion,
    fob_vnm: Option<(&'static str, &'static str)>,
    expected: Option<RefusalReason>,
    /// Whether a rule was checked, and its outcome.
    met: Option<bool>,
    /// Words the decision states (English).
    says: &'static str,
}

const CTH_OR_RVC40: &str = "RCEP,901380,CTH or RVC40,2026-01-01,,Annex 3A test row,no\n";
const CC_OR_RVC40: &str = "RCEP,901380,CC or RVC40,2026-01-01,,Annex 3A test row,no\n";

fn cases() -> Vec<Case> {
    use OriginCriterion as C;
    use RefusalReason as R;
    vec![
        Case {
            name: "CTH claimed, rule CTH or RVC40: met",
            rows: CTH_OR_RVC40,
            criterion: C::Cth,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "claimed CTH; rule CTH or RVC40 (RCEP HS 901380) → met",
        },
        Case {
            name: "CTH claimed, rule CC or RVC40: not met",
            rows: CC_OR_RVC40,
            criterion: C::Cth,
            fob_vnm: None,
            expected: Some(R::CriterionNotMet),
            met: Some(false),
            says: "claimed CTH; rule CC or RVC40 (RCEP HS 901380) → not met",
        },
        Case {
            name: "CTH claimed, rule CTSH: a change of heading is one of subheading",
            rows: "RCEP,901380,CTSH,2026-01-01,,t,no\n",
            criterion: C::Cth,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "rule CTSH (RCEP HS 901380) → met",
        },
        Case {
            name: "CTSH claimed, rule CTH: not met",
            rows: "RCEP,901380,CTH,2026-01-01,,t,no\n",
            criterion: C::Ctsh,
            fob_vnm: None,
            expected: Some(R::CriterionNotMet),
            met: Some(false),
            says: "claimed CTSH; rule CTH (RCEP HS 901380) → not met",
        },
        Case {
            name: "CC claimed, rule CTH or RVC40: met",
            rows: CTH_OR_RVC40,
            criterion: C::Cc,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "claimed CC; rule CTH or RVC40",
        },
        Case {
            name: "CTC claimed (level not stated), rule CC: met",
            rows: "RCEP,901380,CC,2026-01-01,,t,no\n",
            criterion: C::Ctc,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "claimed CTC; rule CC (RCEP HS 901380) → met",
        },
        Case {
            name: "CTC claimed, rule RVC40 only: not met",
            rows: "RCEP,901380,RVC40,2026-01-01,,t,no\n",
            criterion: C::Ctc,
            fob_vnm: None,
            expected: Some(R::CriterionNotMet),
            met: Some(false),
            says: "claimed CTC; rule RVC40 (RCEP HS 901380) → not met",
        },
        Case {
            name: "RVC claimed, FOB 100 VNM 55: 45% ≥ 40%, met with its figures",
            rows: CTH_OR_RVC40,
            criterion: C::Rvc,
            fob_vnm: Some(("100", "55")),
            expected: None,
            met: Some(true),
            says: "→ met: RVC = (FOB 100 − VNM 55) / FOB × 100 = 45% ≥ 40%",
        },
        Case {
            name: "RVC claimed, FOB 100 VNM 65: 35% below 40%",
            rows: CTH_OR_RVC40,
            criterion: C::Rvc,
            fob_vnm: Some(("100", "65")),
            expected: Some(R::RvcBelowThreshold),
            met: Some(false),
            says: "→ not met: RVC = (FOB 100 − VNM 65) / FOB × 100 = 35%, below 40%",
        },
        Case {
            name: "RVC claimed without VNM: allowed, not recomputed",
            rows: CTH_OR_RVC40,
            criterion: C::Rvc,
            fob_vnm: Some(("100", "")),
            expected: None,
            met: Some(true),
            says: "→ met: the RVC is not recomputed",
        },
        Case {
            name: "RVC claimed, rule CC: the criterion is not one the rule allows",
            rows: "RCEP,901380,CC,2026-01-01,,t,no\n",
            criterion: C::Rvc,
            fob_vnm: Some(("100", "10")),
            expected: Some(R::CriterionNotMet),
            met: Some(false),
            says: "claimed RVC; rule CC (RCEP HS 901380) → not met",
        },
        Case {
            name: "WO claimed, rule CC: wholly obtained goods always originate",
            rows: "RCEP,901380,CC,2026-01-01,,t,no\n",
            criterion: C::Wo,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "claimed WO; rule CC",
        },
        Case {
            name: "no rule loaded: the existing refusal, product rule unknown",
            rows: "",
            criterion: C::Cth,
            fob_vnm: None,
            expected: Some(R::ProductRuleUnknown),
            met: None,
            says: "no rule of RCEP for HS 901380",
        },
        Case {
            name: "a rule of another subheading does not apply",
            rows: "RCEP,901320,CTH,2026-01-01,,t,no\n",
            criterion: C::Cth,
            fob_vnm: None,
            expected: Some(R::ProductRuleUnknown),
            met: None,
            says: "no rule of RCEP for HS 901380",
        },
        Case {
            name: "a rule of another agreement does not apply",
            rows: "ACFTA,901380,CTH,2026-01-01,,t,no\n",
            criterion: C::Cth,
            fob_vnm: None,
            expected: Some(R::ProductRuleUnknown),
            met: None,
            says: "no rule of RCEP for HS 901380",
        },
        Case {
            name: "a rule no longer in force on the declaration date does not apply",
            rows: "RCEP,901380,CTH,2026-01-01,2026-03-10,t,no\n",
            criterion: C::Cth,
            fob_vnm: None,
            expected: Some(R::ProductRuleUnknown),
            met: None,
            says: "no rule of RCEP for HS 901380",
        },
        Case {
            name: "of two periods, the one in force on the date",
            rows: "RCEP,901380,CC,2026-01-01,2026-03-01,t,no\nRCEP,901380,CTH,2026-03-01,,t,no\n",
            criterion: C::Cth,
            fob_vnm: None,
            expected: None,
            met: Some(true),
            says: "claimed CTH; rule CTH (RCEP HS 901380) → met",
        },
    ]
}

#[test]
fn proofs_are_checked_against_the_release_rules() {
    let agreements = agreements_china_2026();
    for case in cases() {
        let table = rules(case.rows);
        let mut proof = proof();
        proof.criterion = case.criterion;
        if let Some((fob, vnm)) = case.fob_vnm {
            proof.fob = Some(dec(fob));
            proof.vnm = (!vnm.is_empty()).then(|| dec(vnm));
        }
        let (check, checked) = check_proof_with(&proof, &goods(), &agreements, &table, &|_| false);
        assert_eq!(check.reason(), case.expected, "{}: {check:?}", case.name);
        assert_eq!(checked.as_ref().map(|c| c.met), case.met, "{}", case.name);
        let said = match (&checked, check.refusal()) {
            (Some(checked), _) => checked.detail.en.clone(),
            (None, Some(refusal)) => refusal.en,
            (None, None) => String::new(),
        };
        assert!(said.contains(case.says), "{}: {said}", case.name);
        if let Some(checked) = &checked {
            assert_eq!(checked.claimed, case.criterion, "{}", case.name);
            assert!(!checked.detail.zh.is_empty(), "{}", case.name);
            assert_eq!(
                checked.source,
                RuleSource::Release {
                    source: table.rows()[0].source.clone(),
                    verify: false
                },
                "{}",
                case.name
            );
            // A refusal states the same rule the record keeps.
            if let ProofCheck::Refused(refusal) = &check {
                assert_eq!(refusal.detail, checked.detail, "{}", case.name);
            }
        }
    }
}

#[test]
fn the_release_rule_takes_precedence_over_the_agreement_data() {
    // The agreement's own data says CTH or RVC40 for 901380; the release says CC.
    let mut agreements = agreements_china_2026();
    for agreement in &mut agreements.agreements {
        if agreement.code == "RCEP" {
            *agreement = agreement
                .clone()
                .with_rule("901380", "CTH or RVC40")
                .expect("parses");
        }
    }
    let (without, checked) = check_proof_with(
        &proof(),
        &goods(),
        &agreements,
        &OriginRules::default(),
        &|_| false,
    );
    assert_eq!(without, ProofCheck::Valid);
    assert_eq!(checked.expect("checked").source, RuleSource::Agreement);
    let table = rules(CC_OR_RVC40);
    let (with, checked) = check_proof_with(&proof(), &goods(), &agreements, &table, &|_| false);
    assert_eq!(with.reason(), Some(RefusalReason::CriterionNotMet));
    assert_eq!(checked.expect("checked").rule.to_string(), "CC or RVC40");
}

#[test]
fn an_acfta_release_rule_replaces_the_general_rule() {
    // ACFTA's general rule (RVC40 or CTH) would accept an RVC of 45%; the release's WO does not.
    let mut proof = proof();
    proof.agreement = "ACFTA".into();
    proof.criterion = OriginCriterion::Rvc;
    proof.fob = Some(dec("100"));
    proof.vnm = Some(dec("55"));
    proof.country_of_origin = None;
    let mut goods = goods();
    goods.agreement = "ACFTA".into();
    goods.origin_country = "TH".into();
    let agreements = agreements_china_2026();
    let general = check_proof_with(
        &proof,
        &goods,
        &agreements,
        &OriginRules::default(),
        &|_| false,
    );
    assert_eq!(general.0, ProofCheck::Valid);
    let table = rules("ACFTA,901380,WO,2026-01-01,,ACFTA annex test row,yes\n");
    let (check, checked) = check_proof_with(&proof, &goods, &agreements, &table, &|_| false);
    assert_eq!(check.reason(), Some(RefusalReason::CriterionNotMet));
    let checked = checked.expect("checked");
    assert_eq!(
        checked.source,
        RuleSource::Release {
            source: "ACFTA annex test row".into(),
            verify: true
        }
    );
    assert!(
        checked.detail.zh.contains("不符合"),
        "{}",
        checked.detail.zh
    );
}

#[test]
fn a_refusal_before_the_criterion_checks_no_rule() {
    let mut proof = proof();
    proof.hs6 = "901320".into();
    let (check, checked) = check_proof_with(
        &proof,
        &goods(),
        &agreements_china_2026(),
        &rules(CTH_OR_RVC40),
        &|_| false,
    );
    assert_eq!(check.reason(), Some(RefusalReason::HsCodeMismatch));
    assert_eq!(checked, None);
}

#[test]
fn the_claim_carries_the_rule_checked() {
    let (claim, checked) = claim_with(
        Some(&proof()),
        &goods(),
        &agreements_china_2026(),
        &rules(CTH_OR_RVC40),
        &|_| false,
    );
    assert_eq!(claim.proof, ProofCheck::Valid);
    assert_eq!(
        claim.column,
        RateColumn::Conventional {
            agreement: "RCEP".into()
        }
    );
    assert!(checked.expect("checked").met);
}

// ---------------------------------------------------------------------------------------------
// Import.

#[test]
fn every_bad_row_is_named_by_line_and_column_in_both_languages() {
    let found = problems(concat!(
        "RCEP,901380,CTH or RVC40,2026-01-01,,ok,no\n",
        "EUFTA,901380,CTH,2026-01-01,,s,no\n",
        "RCEP,9013.80,CTH,2026-01-01,,s,no\n",
        "RCEP,901310,CTH and RVC40,2026-01-01,,s,no\n",
        "RCEP,901320,RVC140,2026-01-01,,s,no\n",
        "RCEP,901330,CTH,2026-13-01,,s,no\n",
        "RCEP,901340,CTH,2026-02-01,2026-01-01,s,no\n",
        "RCEP,901350,CTH,2026-01-01,,,no\n",
        "RCEP,901360,CTH,2026-01-01,,s,maybe\n",
        "RCEP,901380,CTH or RVC40,2026-01-01,,ok,no\n",
        "RCEP,901380,CC,2026-06-01,,other,no\n",
        "RCEP,901390,,2026-01-01,,s,no\n",
        "RCEP,901390\n",
    ));
    let named: Vec<(u64, Option<&str>)> =
        found.iter().map(|p| (p.line, p.field.as_deref())).collect();
    assert_eq!(
        named,
        vec![
            (3, Some("agreement")),
            (4, Some("hs6")),
            (5, Some("rule")),
            (6, Some("rule")),
            (7, Some("valid_from")),
            (8, Some("valid_to")),
            (9, Some("source")),
            (10, Some("verify")),
            (11, None),
            (12, Some("valid_from")),
            (13, Some("rule")),
            (14, None),
        ],
        "{found:#?}"
    );
    for problem in &found {
        assert_eq!(problem.file, ORIGIN_RULES_FILE);
        assert!(!problem.message_en.is_empty() && !problem.message_zh.is_empty());
        assert!(
            problem
                .message_zh
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{problem:?}"
        );
    }
    assert!(
        found[0].message_en.contains("EUFTA"),
        "{}",
        found[0].message_en
    );
    assert!(
        found[2].message_en.contains("and"),
        "{}",
        found[2].message_en
    );
    assert!(found[8].message_en.contains("duplicate of line 2"));
    assert!(found[9].message_en.contains("overlaps that of line 2"));
}

#[test]
fn the_header_must_hold_every_column() {
    let text = "agreement,hs6,rule,valid_from,source,verify,extra\n";
    let found = parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text,
        },
        AGREEMENTS,
    )
    .expect_err("refused");
    let fields: Vec<_> = found.iter().filter_map(|p| p.field.as_deref()).collect();
    assert!(
        fields.contains(&"extra") && fields.contains(&"valid_to"),
        "{found:?}"
    );
}

#[test]
fn a_long_source_is_refused_at_its_limit() {
    let at_limit = "s".repeat(ORIGIN_RULE_SOURCE_CHARS_MAX);
    let over = "s".repeat(ORIGIN_RULE_SOURCE_CHARS_MAX + 1);
    assert_eq!(
        rules(&format!("RCEP,901380,CTH,2026-01-01,,{at_limit},no\n")).len(),
        1
    );
    let found = problems(&format!("RCEP,901380,CTH,2026-01-01,,{over},no\n"));
    assert_eq!(found[0].field.as_deref(), Some("source"));
}

fn rows_text(count: usize) -> String {
    let mut text = String::from(HEADER);
    for i in 0..count {
        text.push_str(&format!(
            "RCEP,{i:06},CTH or RVC40,2026-01-01,,Annex 3A,no\n"
        ));
    }
    text
}

#[test]
fn the_row_limit_is_enforced_at_its_edge() {
    let at_limit = rows_text(ORIGIN_RULE_ROWS_MAX);
    let parsed = parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text: &at_limit,
        },
        AGREEMENTS,
    )
    .expect("a full annex at the limit loads");
    assert_eq!(parsed.len(), ORIGIN_RULE_ROWS_MAX);
    // Looked up by binary search among them.
    let last = format!("{:06}", ORIGIN_RULE_ROWS_MAX - 1);
    assert!(parsed.rule_for("RCEP", &last, day("2026-05-01")).is_some());
    let over = rows_text(ORIGIN_RULE_ROWS_MAX + 1);
    let found = parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text: &over,
        },
        AGREEMENTS,
    )
    .expect_err("one row over is refused");
    assert_eq!(
        found.len(),
        1,
        "refused before the rows are read: {found:?}"
    );
    // The header is line 1: row MAX + 1 is on line MAX + 2.
    assert_eq!(found[0].line, ORIGIN_RULE_ROWS_MAX as u64 + 2);
    assert!(
        found[0].message_en.contains("at most 20000"),
        "{}",
        found[0].message_en
    );
    assert!(
        found[0].message_zh.contains("最多"),
        "{}",
        found[0].message_zh
    );
}

#[test]
fn an_exported_table_reads_back_the_same() {
    let table = rules(concat!(
        "ACFTA,080390,RVC40 or CTH,2026-01-01,,\"general rule, verify\",yes\n",
        "RCEP,901380,CC,2026-01-01,2026-03-01,\"Annex 3A, p. 1\",no\n",
        "RCEP,901380,CTSH or RVC42.5,2026-03-01,,x,no\n",
    ));
    let text = render_origin_rules(&table);
    let again = parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text: &text,
        },
        AGREEMENTS,
    )
    .expect("the export parses");
    assert_eq!(again, table);
}

#[test]
fn the_sample_release_has_a_rule_for_every_line_with_a_conventional_rate() {
    let text = include_str!("../sample_release_cn_2026/origin_rules.csv");
    let table = parse_origin_rules(
        ReleaseFile {
            name: ORIGIN_RULES_FILE,
            text,
        },
        AGREEMENTS,
    )
    .expect("the sample's rules parse");
    let duty_rates = include_str!("../sample_release_cn_2026/duty_rates.csv");
    let mut conventional = 0;
    for line in duty_rates.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(',').collect();
        if let Some(agreement) = fields.get(1).and_then(|c| c.strip_prefix("conventional:")) {
            conventional += 1;
            let hs6 = &fields[0][..6];
            assert!(
                table.rule_for(agreement, hs6, day("2026-06-01")).is_some(),
                "no {agreement} rule for {hs6}"
            );
        }
    }
    assert_eq!(conventional, 9);
    // Every row says where it was read, and the rows not read from the annex say so.
    assert!(table.rows().iter().all(|r| !r.source.is_empty()));
    assert!(table.rows().iter().any(|r| r.verify));
    assert!(
        table
            .rows()
            .iter()
            .filter(|r| !r.verify)
            .all(|r| r.source.contains("reproduction p."))
    );
}
