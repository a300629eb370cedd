//! A tariff release's product-specific rules of origin in the service: imported with the
//! release, in force with it, rolled back with it; each assessment records for officers the rule
//! a proof's criterion was checked against, and the trade's view leaves that record out.

use serde_json::{Value, json};
use store::{ReleaseFileRow, Store};

use crate::assessment::ORIGIN_RULES_CHECKED_MEMBER;
use crate::assessment_tests::{activate, admin, files, import, with_sample};
use crate::releases::ReleaseKind;
use crate::tests::{Fixture, beijing, fixture};

const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");
const SAMPLE_RULES: &str = include_str!("../../tariff/sample_release_cn_2026/origin_rules.csv");

/// The sample tariff with its rules of origin, the row of optical devices (HS 901380) replaced
/// by `rule` when given.
fn tariff_with_rules(rule_901380: Option<&str>) -> Vec<ReleaseFileRow> {
    let mut text = SAMPLE_RULES.to_owned();
    if let Some(rule) = rule_901380 {
        let row = text
            .lines()
            .find(|l| l.starts_with("RCEP,901380,"))
            .expect("the sample has a rule for 901380")
            .to_owned();
        let fields: Vec<&str> = row.splitn(4, ',').collect();
        text = text.replace(&row, &format!("RCEP,901380,{rule},{}", fields[3]));
    }
    let mut files = files(ReleaseKind::Tariff);
    files.push(ReleaseFileRow {
        name: "origin_rules.csv".into(),
        text,
    });
    files
}

/// Optical devices from Japan, 10 units of 25 kg at USD 300, with a Japanese RCEP certificate
/// of origin whose item states `criterion` (with `fob`/`vnm` in USD when given).
fn optics(proof_number: &str, criterion: &str, values: Option<(&str, &str)>) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["invoice"]["amount"] = json!("3000.00");
    body["gross_mass_kg"] = json!("260");
    body["net_mass_kg"] = json!("250");
    body["items"] = json!([{
        "commodity_code": "9013809000",
        "description": "Optical alignment instruments",
        "quantity": { "value": "10", "unit": "C62" },
        "statutory_quantities": [
            { "value": "10", "unit": "C62" },
            { "value": "250", "unit": "KGM" }
        ],
        "unit_price": "300.00",
        "amount": "3000.00",
        "origin_country": "JP",
        "levy_mode": "1",
        "preference": { "agreement": "RCEP", "proof_number": proof_number, "proof_item": 1 }
    }]);
    let mut item = json!({
        "hs6": "901380",
        "criterion": criterion,
        "quantity": { "value": "250", "unit": "KGM" }
    });
    if let Some((fob, vnm)) = values {
        item["fob"] = json!(fob);
        item["fob_currency"] = json!("USD");
        item["vnm"] = json!(vnm);
    }
    body["origin_proofs"] = json!([{
        "agreement": "RCEP",
        "kind": "certificate",
        "number": proof_number,
        "issue_date": "2026-11-01",
        "exporter": "Osaka Optics KK",
        "country_of_origin": "JP",
        "direct_consignment_evidence": true,
        "items": [item]
    }]);
    serde_json::to_vec(&body).unwrap()
}

/// A fixture on 26 November 2026 with the sample exchange rates in force and `tariff` files
/// imported and activated from 1 January; the tariff release's id.
async fn with_tariff(tariff: Vec<ReleaseFileRow>) -> (Fixture, String) {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let id = import(&f, ReleaseKind::Tariff, tariff).await;
    let rates = import(
        &f,
        ReleaseKind::ExchangeRates,
        files(ReleaseKind::ExchangeRates),
    )
    .await;
    activate(&f, &id, (2026, 1, 1)).await;
    activate(&f, &rates, (2026, 1, 1)).await;
    (f, id)
}

/// The officer's and the trade's view of a declaration's latest assessment.
async fn latest(f: &Fixture, number: &str) -> (Value, Value) {
    let officer = f.caller("officer").await;
    let broker = f.caller("broker").await;
    let mut officers = f.clearance.assessments(&officer, number).await.unwrap();
    let mut trades = f.clearance.assessments(&broker, number).await.unwrap();
    (officers.pop().unwrap(), trades.pop().unwrap())
}

fn column(record: &Value) -> String {
    record["report"]["items"][0]["duty_rate"]["column"]["en"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_rcep_certificate_stating_cth_is_checked_against_the_release_rule() {
    let (f, release) = with_tariff(tariff_with_rules(None)).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), &optics("JP26-0001", "CTH", None))
        .await
        .unwrap();
    let (officer, trade) = latest(&f, &lodged.number).await;
    assert_eq!(officer["tariff_release"], json!(release));
    assert_eq!(column(&officer), "conventional (RCEP)", "{officer:#}");
    let checked = &officer[ORIGIN_RULES_CHECKED_MEMBER];
    assert_eq!(
        checked,
        &json!([{
            "item": 0,
            "agreement": "RCEP",
            "hs6": "901380",
            "claimed": "CTH",
            "rule": "CTSH or RVC40",
            "from_release": true,
            "source": "RCEP Annex 3A heading 90.13 from memory; not read",
            "verify": true,
            "met": true,
            "detail": {
                "en": "claimed CTH; rule CTSH or RVC40 (RCEP HS 901380) → met",
                "zh": "申报 CTH；规则 CTSH or RVC40（RCEP HS 901380）→ 符合"
            }
        }]),
        "{officer:#}"
    );
    // The trade's view is its allow-list: its report, not the officers' record of the rule.
    assert!(
        trade.get(ORIGIN_RULES_CHECKED_MEMBER).is_none(),
        "{trade:#}"
    );
    assert_eq!(trade["report"], officer["report"]);
    // The fact is in the audit chain: the stored event carries it.
    let row = f
        .clearance
        .store
        .declaration_by_number(&lodged.number)
        .await
        .unwrap()
        .unwrap();
    let events = f.clearance.store.events(&row.id).await.unwrap();
    let assessed = events
        .iter()
        .find(|e| e.action == crate::assessment::ASSESSED_ACTION)
        .unwrap();
    assert!(assessed.payload.contains("claimed CTH; rule CTSH or RVC40"));
}

#[tokio::test]
async fn a_criterion_the_rule_does_not_allow_is_refused_naming_claim_and_rule() {
    let (f, _) = with_tariff(tariff_with_rules(Some("CC or RVC40"))).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), &optics("JP26-0002", "CTH", None))
        .await
        .unwrap();
    let (officer, trade) = latest(&f, &lodged.number).await;
    assert!(column(&officer).starts_with("MFN"), "{officer:#}");
    let checked = &officer[ORIGIN_RULES_CHECKED_MEMBER][0];
    assert_eq!(checked["met"], json!(false));
    assert_eq!(checked["rule"], "CC or RVC40");
    // The trade learns why its preference was refused, in its report's words.
    let refused = trade["report"]["items"][0]["duty_rate"]["refused_preference"]["en"]
        .as_str()
        .unwrap();
    assert!(
        refused.contains("claimed CTH; rule CC or RVC40 (RCEP HS 901380) → not met"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_rvc_claim_is_recomputed_from_the_proofs_values() {
    let (f, _) = with_tariff(tariff_with_rules(Some("CC or RVC40"))).await;
    let broker = f.caller("broker").await;
    let met = f
        .clearance
        .lodge(
            &broker,
            Some("k1"),
            &optics("JP26-0003", "RVC", Some(("3000.00", "1650.00"))),
        )
        .await
        .unwrap();
    let (officer, _) = latest(&f, &met.number).await;
    assert_eq!(column(&officer), "conventional (RCEP)", "{officer:#}");
    let detail = officer[ORIGIN_RULES_CHECKED_MEMBER][0]["detail"]["en"]
        .as_str()
        .unwrap();
    assert!(
        detail.ends_with("→ met: RVC = (FOB 3000.00 − VNM 1650.00) / FOB × 100 = 45% ≥ 40%"),
        "{detail}"
    );
    let below = f
        .clearance
        .lodge(
            &broker,
            Some("k2"),
            &optics("JP26-0004", "RVC", Some(("3000.00", "1950.00"))),
        )
        .await
        .unwrap();
    let (officer, _) = latest(&f, &below.number).await;
    assert!(column(&officer).starts_with("MFN"), "{officer:#}");
    let checked = &officer[ORIGIN_RULES_CHECKED_MEMBER][0];
    assert_eq!(checked["met"], json!(false));
    assert!(
        checked["detail"]["en"]
            .as_str()
            .unwrap()
            .contains("= 35%, below 40%"),
        "{checked:#}"
    );
}

#[tokio::test]
async fn without_rules_in_the_release_the_criterion_is_refused_as_before() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), &optics("JP26-0005", "CTH", None))
        .await
        .unwrap();
    let (officer, _) = latest(&f, &lodged.number).await;
    assert!(column(&officer).starts_with("MFN"), "{officer:#}");
    let refused = officer["report"]["items"][0]["duty_rate"]["refused_preference"]["en"]
        .as_str()
        .unwrap();
    assert!(
        refused.contains("no rule of RCEP for HS 901380"),
        "{refused}"
    );
    assert!(officer.get(ORIGIN_RULES_CHECKED_MEMBER).is_none());
}

#[tokio::test]
async fn the_rules_are_activated_and_rolled_back_with_their_release() {
    let (f, first) = with_tariff(tariff_with_rules(None)).await;
    let releases = f
        .clearance
        .releases(&admin(), ReleaseKind::Tariff)
        .await
        .unwrap();
    assert_eq!(
        releases[0]["summary"]["origin_rules"],
        json!(22),
        "{releases:#?}"
    );
    assert_eq!(releases[0]["summary"]["origin_rules_to_verify"], json!(10));
    // A later release whose only change is the rule of 901380: its own file, its own digest.
    let second = import(
        &f,
        ReleaseKind::Tariff,
        tariff_with_rules(Some("CC or RVC40")),
    )
    .await;
    let stored = f
        .clearance
        .store
        .release_files(&second)
        .await
        .unwrap()
        .unwrap();
    let names: Vec<&str> = stored.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"origin_rules.csv"));
    // The dry run re-assesses under the candidate's rules, writing nothing.
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), &optics("JP26-0006", "CTH", None))
        .await
        .unwrap();
    let report = f.clearance.dry_run(&admin(), &second, 50).await.unwrap();
    assert_eq!(report["changed"], 1, "{report:#}");
    assert_eq!(report["changes"][0]["number"], json!(lodged.number));

    activate(&f, &second, (2026, 11, 1)).await;
    let officer = f.caller("officer").await;
    let again = f
        .clearance
        .reassess(&officer, &lodged.number, Some("r1"), "new rules of origin")
        .await
        .unwrap()
        .record;
    assert_eq!(again["tariff_release"], json!(second));
    assert!(column(&again).starts_with("MFN"), "{again:#}");
    assert_eq!(again[ORIGIN_RULES_CHECKED_MEMBER][0]["rule"], "CC or RVC40");

    let rolled = f
        .clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rule of origin")
        .await
        .unwrap();
    assert_eq!(rolled["id"], json!(second));
    let after = f
        .clearance
        .reassess(&officer, &lodged.number, Some("r2"), "rules rolled back")
        .await
        .unwrap()
        .record;
    assert_eq!(after["tariff_release"], json!(first));
    assert_eq!(column(&after), "conventional (RCEP)", "{after:#}");
    assert_eq!(
        after[ORIGIN_RULES_CHECKED_MEMBER][0]["rule"],
        "CTSH or RVC40"
    );
    assert_eq!(after[ORIGIN_RULES_CHECKED_MEMBER][0]["met"], json!(true));
}

#[tokio::test]
async fn a_bad_rules_file_is_refused_with_every_problem_named() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let mut tariff = tariff_with_rules(None);
    let rules = tariff.last_mut().unwrap();
    rules
        .text
        .push_str("EUFTA,901380,CTH,2026-01-01,,s,no\nRCEP,9013,CTH or RVC,2026-01-01,,s,no\n");
    let lines = rules.text.lines().count() as u64;
    let refused = f
        .clearance
        .import_release(
            &admin(),
            crate::releases::NewRelease {
                kind: ReleaseKind::Tariff,
                label: "broken rules".into(),
                files: tariff,
            },
        )
        .await
        .unwrap_err();
    let crate::ClearanceError::Invalid(errors) = refused else {
        panic!("{refused:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            format!("origin_rules.csv:{}.agreement", lines - 1),
            format!("origin_rules.csv:{lines}.hs6"),
            format!("origin_rules.csv:{lines}.rule"),
        ],
        "{errors:#?}"
    );
    assert!(errors.iter().all(|e| !e.message_zh.is_empty()));
    // A file a tariff release does not have is still refused.
    let mut extra = files(ReleaseKind::Tariff);
    extra.push(ReleaseFileRow {
        name: "origin.csv".into(),
        text: String::new(),
    });
    let refused = f
        .clearance
        .import_release(
            &admin(),
            crate::releases::NewRelease {
                kind: ReleaseKind::Tariff,
                label: "extra".into(),
                files: extra,
            },
        )
        .await
        .unwrap_err();
    assert!(format!("{refused:?}").contains("files[origin.csv]"));
}
