//! Assessment in the service, on the real SQLite store and the sample tariff release
//! (`crates/tariff/sample_release_cn_2026`): releases imported, tried, activated and rolled back;
//! declarations assessed at acceptance, after amendment and by an officer; proofs of origin
//! checked and used up.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::{Principal, ReleaseFileRow, UserRow};

use crate::releases::{NewRelease, ReleaseKind};
use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

fn admin() -> Caller {
    Caller {
        principal: Principal {
            user: UserRow {
                id: "admin-1".into(),
                name: "admin".into(),
                role: "admin".into(),
                enterprise_id: None,
            },
            enterprise: None,
            principals: vec![],
        },
        role: Role::Admin,
    }
}

fn files(kind: ReleaseKind) -> Vec<ReleaseFileRow> {
    kind.files()
        .iter()
        .map(|name| ReleaseFileRow {
            name: (*name).to_owned(),
            text: std::fs::read_to_string(format!("{SAMPLE}/{name}")).unwrap(),
        })
        .collect()
}

async fn import(f: &Fixture, kind: ReleaseKind, files: Vec<ReleaseFileRow>) -> String {
    let release = f
        .clearance
        .import_release(
            &admin(),
            NewRelease {
                kind,
                label: format!("sample {}", kind.as_str()),
                files,
            },
        )
        .await
        .unwrap();
    assert_eq!(release["status"], "imported");
    release["id"].as_str().unwrap().to_owned()
}

async fn activate(f: &Fixture, id: &str, from: (i32, u32, u32)) {
    let from = NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap();
    let release = f
        .clearance
        .activate_release(&admin(), id, from)
        .await
        .unwrap();
    assert_eq!(release["status"], "active");
}

/// A fixture on 26 November 2026 with the sample tariff and exchange rates in force since 1 January.
async fn with_sample() -> (Fixture, String, String) {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let tariff = import(&f, ReleaseKind::Tariff, files(ReleaseKind::Tariff)).await;
    let rates = import(
        &f,
        ReleaseKind::ExchangeRates,
        files(ReleaseKind::ExchangeRates),
    )
    .await;
    activate(&f, &tariff, (2026, 1, 1)).await;
    activate(&f, &rates, (2026, 1, 1)).await;
    (f, tariff, rates)
}

fn money(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}

fn round(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Bananas from the Philippines, 10,000 kg at USD 1.00 FOB, freight USD 500, with an ACFTA
/// certificate of origin (Form E, wholly obtained) claimed for the item.
fn bananas(proof_number: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["invoice"]["amount"] = json!("10000.00");
    body["gross_mass_kg"] = json!("10500");
    body["net_mass_kg"] = json!("10000");
    body["items"] = json!([{
        "commodity_code": "0803900000",
        "description": "Bananas, fresh",
        "quantity": { "value": "10000", "unit": "KGM" },
        "statutory_quantities": [{ "value": "10000", "unit": "KGM" }],
        "unit_price": "1.00",
        "amount": "10000.00",
        "origin_country": "PH",
        "levy_mode": "1",
        "preference": { "agreement": "ACFTA", "proof_number": proof_number, "proof_item": 1 }
    }]);
    body["origin_proofs"] = json!([{
        "agreement": "ACFTA",
        "kind": "certificate",
        "number": proof_number,
        "issue_date": "2026-11-01",
        "exporter": "Davao Fruit Exporters Inc.",
        "country_of_origin": "PH",
        "direct_consignment_evidence": true,
        "items": [{ "hs6": "080390", "criterion": "WO", "quantity": { "value": "10000", "unit": "KGM" } }]
    }]);
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn a_lodged_declaration_is_assessed_with_the_release_in_force_and_its_id_recorded() {
    let (f, tariff, rates) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let assessments = f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap();
    assert_eq!(assessments.len(), 1);
    let record = &assessments[0];
    assert_eq!(record["outcome"], "assessed", "{record:#}");
    assert_eq!(record["basis"], "acceptance");
    assert_eq!(record["tariff_release"], json!(tariff));
    assert_eq!(record["exchange_rate_tables"], json!([rates]));
    assert_eq!(record["acceptance_date"], "2026-11-26");
    // Smartphones and laptops are duty-free (ITA): only import VAT at 13 %, on the CIF value
    // at the November rate 7.0163. FOB 10,000 + freight 500 shared 8:2, insurance 3 ‰.
    let report = &record["report"];
    let rate = Decimal::new(70163, 4);
    let cif = |fob: i64, freight: i64| {
        let base = Decimal::from(fob) + Decimal::from(freight);
        round(base + round(base * Decimal::new(3, 3)))
    };
    let values = [round(cif(8000, 400) * rate), round(cif(2000, 100) * rate)];
    let vat: Decimal = values.iter().map(|v| round(v * Decimal::new(13, 2))).sum();
    assert_eq!(money(&report["customs_value"]), values[0] + values[1]);
    assert_eq!(money(&report["total_payable"]), vat);
    assert_eq!(money(&record["total_payable"]), vat);
    // Every figure is explained.
    for item in report["items"].as_array().unwrap() {
        assert!(
            !item["customs_value"]["explanation"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(
            !item["duty_rate"]["explanation"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn without_a_release_in_force_the_declaration_is_accepted_and_waits_for_assessment() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap()[0];
    assert_eq!(record["outcome"], "not_assessed");
    assert_eq!(record["tariff_release"], Value::Null);
    assert!(
        record["problems"][0]["en"]
            .as_str()
            .unwrap()
            .contains("no tariff release is in force on 2026-11-26")
    );
}

#[tokio::test]
async fn an_amendment_is_reassessed_and_the_difference_recorded() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut amended: Value = serde_json::from_str(EXAMPLE).unwrap();
    amended["invoice"]["amount"] = json!("12000.00");
    amended["items"][0]["unit_price"] = json!("250.00");
    amended["items"][0]["amount"] = json!("10000.00");
    let request = json!({ "reason": "price corrected", "declaration": amended });
    f.clearance
        .amend(
            &broker,
            &lodged.number,
            Some("amend-1"),
            request.to_string().as_bytes(),
        )
        .await
        .unwrap();
    let assessments = f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap();
    assert_eq!(assessments.len(), 2);
    let (first, second) = (&assessments[0], &assessments[1]);
    assert_eq!(second["basis"], "amendment");
    assert_eq!(second["assessment"], 2);
    let difference = &second["difference"];
    assert_eq!(difference["previous_assessment"], 1);
    assert_eq!(
        money(&difference["total"]),
        money(&second["total_payable"]) - money(&first["total_payable"])
    );
    assert!(money(&difference["total"]) > Decimal::ZERO);
    assert_eq!(difference["settlement"]["en"], "to pay");
}

#[tokio::test]
async fn a_valid_proof_of_origin_gives_the_conventional_rate_once() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let first = f
        .clearance
        .lodge(&broker, Some("k1"), &bananas("E2026PH0001"))
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &first.number)
        .await
        .unwrap()[0];
    let item = &record["report"]["items"][0];
    assert_eq!(
        item["duty_rate"]["column"]["en"], "conventional (ACFTA)",
        "{item:#}"
    );
    // CIF: 10,000 + 500 + 3 ‰ of 10,500 = 10,531.50 USD at 7.0163; ACFTA 0 %, VAT 9 %.
    let value = round(Decimal::new(1053150, 2) * Decimal::new(70163, 4));
    assert_eq!(money(&item["customs_value"]["cny"]), value);
    assert_eq!(
        money(&record["report"]["total_payable"]),
        round(value * Decimal::new(9, 2))
    );

    // The same certificate again on another declaration: already used, so MFN 10 %, with why.
    let second = f
        .clearance
        .lodge(&broker, Some("k2"), &bananas("E2026PH0001"))
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &second.number)
        .await
        .unwrap()[0];
    let item = &record["report"]["items"][0];
    assert!(
        item["duty_rate"]["column"]["en"]
            .as_str()
            .unwrap()
            .starts_with("MFN"),
        "{item:#}"
    );
    let refused = item["duty_rate"]["refused_preference"]["en"]
        .as_str()
        .unwrap();
    assert!(refused.contains("used"), "{refused}");
    let duty = round(value * Decimal::new(10, 2));
    assert_eq!(
        money(&record["report"]["total_payable"]),
        duty + round((value + duty) * Decimal::new(9, 2))
    );

    // Re-assessing the first declaration does not count its own proof as used by another.
    let officer = f.caller("officer").await;
    let again = f
        .clearance
        .reassess(&officer, &first.number, Some("r1"), "finding 1")
        .await
        .unwrap();
    assert_eq!(
        again["report"]["items"][0]["duty_rate"]["column"]["en"],
        "conventional (ACFTA)"
    );
    assert_eq!(money(&again["difference"]["total"]), Decimal::ZERO);
}

#[tokio::test]
async fn dry_run_activation_and_roll_back_of_a_new_release() {
    let (f, first_tariff, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    // A new release in which smartphones carry 5 % duty.
    let mut changed = files(ReleaseKind::Tariff);
    let duty_rates = &mut changed[1];
    assert_eq!(duty_rates.name, "duty_rates.csv");
    duty_rates.text = duty_rates
        .text
        .replace("85171300,mfn,,ad_valorem,0,", "85171300,mfn,,ad_valorem,5,");
    let second_tariff = import(&f, ReleaseKind::Tariff, changed).await;

    let report = f
        .clearance
        .dry_run(&admin(), &second_tariff, 50)
        .await
        .unwrap();
    assert_eq!(report["declarations_compared"], 1, "{report:#}");
    assert_eq!(report["changed"], 1);
    let change = &report["changes"][0];
    assert_eq!(change["number"], json!(lodged.number));
    assert_eq!(change["current_release"], json!(first_tariff));
    assert!(money(&change["difference"]) > Decimal::ZERO);
    // The dry run wrote nothing: the declaration's assessment is as it was.
    assert_eq!(
        f.clearance
            .assessments(&broker, &lodged.number)
            .await
            .unwrap()
            .len(),
        1
    );

    activate(&f, &second_tariff, (2026, 11, 1)).await;
    let later = f
        .clearance
        .lodge(&broker, Some("k2"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &later.number)
        .await
        .unwrap()[0];
    assert_eq!(record["tariff_release"], json!(second_tariff));

    let rolled = f
        .clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    assert_eq!(rolled["id"], json!(second_tariff));
    assert_eq!(rolled["status"], "rolled_back");
    // An officer's reassessment now takes the first release again and refunds the difference.
    let officer = f.caller("officer").await;
    let again = f
        .clearance
        .reassess(&officer, &later.number, Some("r1"), "release rolled back")
        .await
        .unwrap();
    assert_eq!(again["tariff_release"], json!(first_tariff));
    assert_eq!(again["difference"]["settlement"]["en"], "to refund");
    // A rolled-back release cannot be rolled back twice; the first is still active.
    let again = f
        .clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "again")
        .await
        .unwrap();
    assert_eq!(again["id"], json!(first_tariff));
}

#[tokio::test]
async fn a_broken_release_is_refused_with_every_problem_and_its_place() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let mut broken = files(ReleaseKind::Tariff);
    broken[1].text = broken[1].text.replace(
        "85171300,mfn,,ad_valorem,0,",
        "85171300,mfn,,ad_valorem,abc,",
    );
    broken.pop(); // no trade_remedies.csv
    let refused = f
        .clearance
        .import_release(
            &admin(),
            NewRelease {
                kind: ReleaseKind::Tariff,
                label: "broken".into(),
                files: broken.clone(),
            },
        )
        .await;
    let Err(ClearanceError::Invalid(errors)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(errors[0].path, "files[trade_remedies.csv]");
    broken.push(files(ReleaseKind::Tariff).pop().unwrap());
    let refused = f
        .clearance
        .import_release(
            &admin(),
            NewRelease {
                kind: ReleaseKind::Tariff,
                label: "broken".into(),
                files: broken,
            },
        )
        .await;
    let Err(ClearanceError::Invalid(errors)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].path.starts_with("duty_rates.csv:") && errors[0].path.ends_with(".rate_percent"),
        "{}",
        errors[0].path
    );
    // Only administrators manage releases.
    let broker = f.caller("broker").await;
    let refused = f
        .clearance
        .import_release(
            &broker,
            NewRelease {
                kind: ReleaseKind::Tariff,
                label: "x".into(),
                files: files(ReleaseKind::Tariff),
            },
        )
        .await;
    assert!(matches!(refused, Err(ClearanceError::Forbidden { .. })));
    // The same files twice are refused.
    import(&f, ReleaseKind::Tariff, files(ReleaseKind::Tariff)).await;
    let refused = f
        .clearance
        .import_release(
            &admin(),
            NewRelease {
                kind: ReleaseKind::Tariff,
                label: "again".into(),
                files: files(ReleaseKind::Tariff),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(ClearanceError::Invalid(_))),
        "{refused:?}"
    );
}
