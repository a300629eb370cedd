//! Table tests of `origin::check_proof` (digest §3), the rule parser, and the claim through
//! `select_rate`.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::origin::*;
use crate::*;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn kgm(amount: &str) -> Quantity {
    Quantity {
        unit: StatutoryUnit("KGM".into()),
        amount: dec(amount),
    }
}

fn agreements() -> Agreements {
    let mut all = agreements_china_2026();
    for agreement in &mut all.agreements {
        if agreement.code == "RCEP" {
            *agreement = agreement
                .clone()
                .with_rule("847130", "CTH or RVC40")
                .and_then(|a| a.with_rule("030211", "WO"))
                .expect("rules parse");
        }
    }
    all
}

fn rcep_proof() -> ProofOfOrigin {
    ProofOfOrigin {
        agreement: "RCEP".into(),
        kind: ProofType::Certificate,
        number: "JP-2026-0001".into(),
        issue_date: day("2026-01-10"),
        retroactive: false,
        exporter: "Tokyo Exports KK".into(),
        hs6: "847130".into(),
        criterion: OriginCriterion::Ctc,
        country_of_origin: Some("JP".into()),
        quantity: kgm("100"),
        fob: None,
        vnm: None,
        direct_consignment_evidence: true,
    }
}

fn rcep_goods() -> DeclaredGoods {
    DeclaredGoods {
        agreement: "RCEP".into(),
        date: day("2026-03-10"),
        origin_country: "JP".into(),
        hs6: "847130".into(),
        quantity: kgm("100"),
        shipment_date: day("2026-01-12"),
    }
}

fn form_e() -> ProofOfOrigin {
    ProofOfOrigin {
        agreement: "ACFTA".into(),
        kind: ProofType::Certificate,
        number: "E266000001".into(),
        issue_date: day("2026-02-01"),
        retroactive: false,
        exporter: "Bangkok Trading Co".into(),
        hs6: "400122".into(),
        criterion: OriginCriterion::Rvc,
        country_of_origin: None,
        quantity: kgm("5000"),
        fob: Some(dec("100")),
        vnm: Some(dec("55")),
        direct_consignment_evidence: true,
    }
}

fn form_e_goods() -> DeclaredGoods {
    DeclaredGoods {
        agreement: "02".into(),
        date: day("2026-02-20"),
        origin_country: "TH".into(),
        hs6: "400122".into(),
        quantity: kgm("4000"),
        shipment_date: day("2026-02-02"),
    }
}

struct Case {
    name: &'static str,
    proof: ProofOfOrigin,
    goods: DeclaredGoods,
    expected: Option<RefusalReason>,
    field: &'static str,
}

fn case(
    name: &'static str,
    edit: impl FnOnce(&mut ProofOfOrigin, &mut DeclaredGoods),
    expected: Option<RefusalReason>,
    field: &'static str,
) -> Case {
    let (mut proof, mut goods) = (rcep_proof(), rcep_goods());
    edit(&mut proof, &mut goods);
    Case {
        name,
        proof,
        goods,
        expected,
        field,
    }
}

fn acfta_case(
    name: &'static str,
    edit: impl FnOnce(&mut ProofOfOrigin, &mut DeclaredGoods),
    expected: Option<RefusalReason>,
    field: &'static str,
) -> Case {
    let (mut proof, mut goods) = (form_e(), form_e_goods());
    edit(&mut proof, &mut goods);
    Case {
        name,
        proof,
        goods,
        expected,
        field,
    }
}

fn cases() -> Vec<Case> {
    use RefusalReason as R;
    vec![
        case("valid RCEP certificate", |_, _| {}, None, ""),
        acfta_case("valid ACFTA Form E, RVC 45% ≥ 40", |_, _| {}, None, ""),
        acfta_case(
            "ACFTA RVC 39.99% fails",
            |p, _| p.vnm = Some(dec("60.01")),
            Some(R::RvcBelowThreshold),
            "proof.vnm",
        ),
        acfta_case(
            "ACFTA RVC exactly 40% passes",
            |p, _| p.vnm = Some(dec("60")),
            None,
            "",
        ),
        acfta_case(
            "ACFTA default rule accepts CTC from the 2019 upgrade",
            |p, _| p.criterion = OriginCriterion::Ctc,
            None,
            "",
        ),
        acfta_case(
            "ACFTA before the upgrade: RVC 40 only, CTC refused",
            |p, g| {
                p.criterion = OriginCriterion::Ctc;
                p.issue_date = day("2019-03-01");
                g.shipment_date = day("2019-03-01");
                g.date = day("2019-04-01");
            },
            Some(R::CriterionNotMet),
            "proof.criterion",
        ),
        acfta_case(
            "ACFTA approved-exporter declaration not accepted",
            |p, _| p.kind = ProofType::ApprovedExporterDeclaration,
            Some(R::ProofTypeNotAllowed),
            "proof.kind",
        ),
        case(
            "agreement unknown",
            |_, g| g.agreement = "XX".into(),
            Some(R::AgreementUnknown),
            "declaration.agreement",
        ),
        case(
            "origin not a partner",
            |p, g| {
                g.origin_country = "DE".into();
                p.country_of_origin = Some("DE".into());
            },
            Some(R::AgreementNotInForce),
            "declaration.origin_country",
        ),
        case(
            "RCEP not yet in force for Korea in January 2022",
            |p, g| {
                g.origin_country = "KR".into();
                p.country_of_origin = Some("KR".into());
                p.issue_date = day("2022-01-10");
                g.shipment_date = day("2022-01-10");
                g.date = day("2022-01-20");
            },
            Some(R::AgreementNotInForce),
            "declaration.origin_country",
        ),
        case(
            "proof under another agreement",
            |p, _| p.agreement = "ACFTA".into(),
            Some(R::WrongAgreement),
            "proof.agreement",
        ),
        case(
            "exporter declaration not yet phased in",
            |p, _| p.kind = ProofType::ExporterDeclaration,
            Some(R::ProofTypeNotAllowed),
            "proof.kind",
        ),
        case(
            "issued after shipment, not retroactive",
            |p, _| p.issue_date = day("2026-01-20"),
            Some(R::IssuedAfterShipment),
            "proof.issue_date",
        ),
        case(
            "issued after shipment, marked retroactive",
            |p, _| {
                p.issue_date = day("2026-01-20");
                p.retroactive = true;
            },
            None,
            "",
        ),
        case(
            "valid on the last day of its year",
            |p, g| {
                p.issue_date = day("2025-03-10");
                g.shipment_date = day("2025-03-10");
                g.date = day("2026-03-10");
            },
            None,
            "",
        ),
        case(
            "expired by one day",
            |p, g| {
                p.issue_date = day("2025-03-10");
                g.shipment_date = day("2025-03-10");
                g.date = day("2026-03-11");
            },
            Some(R::Expired),
            "proof.issue_date",
        ),
        case(
            "number missing",
            |p, _| p.number = " ".into(),
            Some(R::DataElementsMissing),
            "proof.number",
        ),
        case(
            "RCEP country of origin missing",
            |p, _| p.country_of_origin = None,
            Some(R::DataElementsMissing),
            "proof.country_of_origin",
        ),
        case(
            "RVC without FOB",
            |p, _| p.criterion = OriginCriterion::Rvc,
            Some(R::DataElementsMissing),
            "proof.fob",
        ),
        case(
            "RCEP country of origin differs",
            |p, _| p.country_of_origin = Some("KR".into()),
            Some(R::OriginCountryMismatch),
            "proof.country_of_origin",
        ),
        case(
            "HS6 mismatch",
            |p, _| p.hs6 = "847150".into(),
            Some(R::HsCodeMismatch),
            "proof.hs6",
        ),
        case(
            "quantity exceeded",
            |_, g| g.quantity = kgm("100.5"),
            Some(R::QuantityExceeded),
            "proof.quantity",
        ),
        case(
            "quantity in another unit",
            |_, g| {
                g.quantity = Quantity {
                    unit: StatutoryUnit("PCE".into()),
                    amount: dec("1"),
                }
            },
            Some(R::QuantityExceeded),
            "proof.quantity",
        ),
        case(
            "PSR CTH or RVC40 accepts WO",
            |p, _| p.criterion = OriginCriterion::Wo,
            None,
            "",
        ),
        case(
            "PSR CTH or RVC40 accepts PE",
            |p, _| p.criterion = OriginCriterion::Pe,
            None,
            "",
        ),
        case(
            "PSR CTH or RVC40 accepts RVC 45%",
            |p, _| {
                p.criterion = OriginCriterion::Rvc;
                p.fob = Some(dec("100"));
                p.vnm = Some(dec("55"));
            },
            None,
            "",
        ),
        case(
            "PSR CTH or RVC40 refuses CR",
            |p, _| p.criterion = OriginCriterion::Cr,
            Some(R::CriterionNotMet),
            "proof.criterion",
        ),
        case(
            "PSR WO refuses CTC",
            |p, g| {
                p.hs6 = "030211".into();
                g.hs6 = "030211".into();
            },
            Some(R::CriterionNotMet),
            "proof.criterion",
        ),
        case(
            "no rule known for the HS6",
            |p, g| {
                p.hs6 = "999999".into();
                g.hs6 = "999999".into();
            },
            Some(R::ProductRuleUnknown),
            "proof.criterion",
        ),
        case(
            "RVC 39.99% fails under RCEP",
            |p, _| {
                p.criterion = OriginCriterion::Rvc;
                p.fob = Some(dec("100"));
                p.vnm = Some(dec("60.01"));
            },
            Some(R::RvcBelowThreshold),
            "proof.vnm",
        ),
        case(
            "not directly consigned",
            |p, _| p.direct_consignment_evidence = false,
            Some(R::NotDirectlyConsigned),
            "proof.direct_consignment_evidence",
        ),
    ]
}

#[test]
fn proof_checks_follow_the_digest() {
    let agreements = agreements();
    let never_used = |_: &str| false;
    for case in cases() {
        let check = check_proof(&case.proof, &case.goods, &agreements, &never_used);
        assert_eq!(check.reason(), case.expected, "{}: {check:?}", case.name);
        match &check {
            ProofCheck::Valid => {}
            ProofCheck::Refused(refusal) => {
                assert_eq!(refusal.field, case.field, "{}", case.name);
                let text = check.refusal().expect("a refusal has words");
                assert!(text.en.contains(case.field), "{}: {}", case.name, text.en);
                assert!(text.zh.contains(case.field), "{}: {}", case.name, text.zh);
                assert!(!refusal.detail.zh.is_empty(), "{}", case.name);
            }
            other => panic!("{}: a bare reason {other:?}", case.name),
        }
    }
}

#[test]
fn a_proof_used_before_is_refused() {
    let used = |number: &str| number == "JP-2026-0001";
    let check = check_proof(&rcep_proof(), &rcep_goods(), &agreements(), &used);
    assert_eq!(check.reason(), Some(RefusalReason::AlreadyUsed));
    assert!(
        check
            .refusal()
            .expect("refused")
            .en
            .contains("proof.number")
    );
}

#[test]
fn the_rvc_is_reported_when_below_the_threshold() {
    let mut proof = form_e();
    proof.vnm = Some(dec("60.01"));
    let check = check_proof(&proof, &form_e_goods(), &agreements(), &|_| false);
    let text = check.refusal().expect("refused");
    assert!(text.en.contains("39.99%, below 40%"), "{}", text.en);
    assert!(text.zh.contains("低于 40%"), "{}", text.zh);
}

#[test]
fn origin_rules_parse_and_print() {
    let rule = OriginRule::parse("CTH or RVC40").expect("parses");
    assert_eq!(
        rule.alternatives,
        vec![RuleTerm::Cth, RuleTerm::Rvc(dec("40"))]
    );
    assert_eq!(rule.to_string(), "CTH or RVC40");
    assert_eq!(rule.rvc_threshold(), Some(dec("40")));
    let all = OriginRule::parse("wo OR pe or CC or CTSH or RVC35.5 or CR").expect("parses");
    assert_eq!(all.to_string(), "WO or PE or CC or CTSH or RVC35.5 or CR");
    for bad in [
        "",
        "CTH or",
        "or CTH",
        "CTH and RVC40",
        "RVC",
        "RVC0",
        "RVC101",
        "CTHX",
    ] {
        assert!(OriginRule::parse(bad).is_err(), "{bad:?} should not parse");
    }
    let error = OriginRule::parse("CTH and RVC40").unwrap_err();
    assert_eq!(error.token, "and");
}

#[test]
fn rule_cth_or_rvc40_accepts_wo_pe_ctc_rvc() {
    let rule = OriginRule::parse("CTH or RVC40").expect("parses");
    use OriginCriterion as C;
    for criterion in [C::Wo, C::Pe, C::Ctc, C::Rvc, C::Acu, C::Dmi] {
        assert!(rule.accepts(criterion), "{criterion}");
    }
    assert!(!rule.accepts(C::Cr));
}

#[test]
fn the_china_2026_data_lists_the_partners() {
    let all = agreements_china_2026();
    let rcep = all.find("RCEP").expect("RCEP");
    assert_eq!(rcep.partners.len(), 14);
    assert!(rcep.china_code_verify);
    assert!(rcep.in_force_with("KR", day("2022-02-01")));
    assert!(!rcep.in_force_with("CN", day("2026-01-01")));
    let acfta = all.find("02").expect("ACFTA by China's code");
    assert_eq!(acfta.code, "ACFTA");
    assert_eq!(acfta.partners.len(), 10);
    assert_eq!(
        acfta
            .rule_for("400122", day("2019-08-20"))
            .map(ToString::to_string),
        Some("RVC40 or CTH".into())
    );
    assert_eq!(
        acfta
            .rule_for("400122", day("2019-08-19"))
            .map(ToString::to_string),
        Some("RVC40".into())
    );
}

// ---------------------------------------------------------------------------------------------
// End to end: the claim through `select_rate`.

fn rcep_line() -> TariffLine {
    let since = Validity::from(day("2022-01-01"));
    let pct = |p: i64| DutyRate::AdValorem {
        rate: Rate::percent(Decimal::from(p)),
    };
    let column = |column, partners: &[&str], p| ColumnRate {
        column,
        partners: partners.iter().map(|s| (*s).to_owned()).collect(),
        validity: since,
        rate: pct(p),
    };
    TariffLine {
        code: "8471300000".into(),
        description: "portable computers".into(),
        statutory_units: vec![StatutoryUnit("KGM".into())],
        licences: Vec::new(),
        columns: vec![
            column(RateColumn::Mfn, &[], 10),
            column(
                RateColumn::Conventional {
                    agreement: "RCEP".into(),
                },
                &["JP"],
                3,
            ),
            column(RateColumn::General, &[], 30),
        ],
        remedies: Vec::new(),
        vat: vec![DatedRate {
            validity: since,
            rate: Rate::percent(Decimal::from(13)),
        }],
        consumption_tax: Vec::new(),
    }
}

fn select(claim: &PreferenceClaim, goods: &DeclaredGoods) -> RateSelection {
    let line = rcep_line();
    let origin = Origin::Known {
        country: goods.origin_country.clone(),
        mfn_entitled: true,
    };
    select_rate(selection::SelectionInput {
        line: &line,
        day: goods.date,
        origin: &origin,
        exporter: None,
        claim: Some(claim),
        quota: QuotaStatus::NotQuotaGoods,
        customs_value: Decimal::from(1000),
        quantities: std::slice::from_ref(&goods.quantity),
    })
    .expect("a rate")
}

#[test]
fn a_valid_rcep_proof_gets_the_conventional_rate() {
    let goods = rcep_goods();
    let claim = claim(Some(&rcep_proof()), &goods, &agreements(), &|_| false);
    assert_eq!(claim.proof, ProofCheck::Valid);
    let selection = select(&claim, &goods);
    assert_eq!(
        selection.column,
        RateColumn::Conventional {
            agreement: "RCEP".into()
        }
    );
    assert_eq!(selection.rate.to_string(), "3%");
    assert_eq!(selection.refused_preference, None);
}

#[test]
fn an_expired_rcep_proof_falls_back_to_mfn_with_the_reason() {
    let mut goods = rcep_goods();
    let mut proof = rcep_proof();
    proof.issue_date = day("2025-03-10");
    goods.shipment_date = day("2025-03-10");
    goods.date = day("2026-03-11");
    let claim = claim(Some(&proof), &goods, &agreements(), &|_| false);
    assert_eq!(claim.proof.reason(), Some(RefusalReason::Expired));
    let selection = select(&claim, &goods);
    assert_eq!(selection.column, RateColumn::Mfn);
    assert_eq!(selection.rate.to_string(), "10%");
    let refusal = selection.refused_preference.expect("refusal recorded");
    assert!(
        refusal.en.contains("conventional (RCEP) rate refused"),
        "{}",
        refusal.en
    );
    assert!(
        refusal.en.contains("not valid on this date"),
        "{}",
        refusal.en
    );
    assert!(refusal.en.contains("proof.issue_date"), "{}", refusal.en);
    assert!(
        refusal.zh.contains("原产地证明已过有效期"),
        "{}",
        refusal.zh
    );
}

#[test]
fn no_proof_is_a_missing_proof() {
    let goods = rcep_goods();
    let claim = claim(None, &goods, &agreements(), &|_| false);
    assert_eq!(claim.proof, ProofCheck::Missing);
    assert_eq!(select(&claim, &goods).column, RateColumn::Mfn);
}
