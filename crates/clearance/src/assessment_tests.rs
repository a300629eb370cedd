//! Assessment in the service, on the real SQLite store and the sample tariff release
//! (`crates/tariff/sample_release_cn_2026`): releases imported, tried, activated and rolled back;
//! declarations assessed at acceptance, after amendment and by an officer; proofs of origin
//! checked and used up.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::{Principal, ReleaseFileRow, Store, UserRow};

use crate::releases::{NewRelease, ReleaseKind};
use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

pub(crate) fn admin() -> Caller {
    Caller {
        principal: Principal {
            user: UserRow {
                id: "admin-1".into(),
                name: "admin".into(),
                role: "admin".into(),
                enterprise_id: None,
                disabled_seq: None,
            },
            token: None,
            enterprise: None,
            principals: vec![],
        },
        role: Role::Admin,
    }
}

pub(crate) fn files(kind: ReleaseKind) -> Vec<ReleaseFileRow> {
    kind.files()
        .iter()
        .map(|name| ReleaseFileRow {
            name: (*name).to_owned(),
            text: std::fs::read_to_string(format!("{SAMPLE}/{name}")).unwrap(),
        })
        .collect()
}

pub(crate) async fn import(f: &Fixture, kind: ReleaseKind, files: Vec<ReleaseFileRow>) -> String {
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

pub(crate) async fn activate(f: &Fixture, id: &str, from: (i32, u32, u32)) {
    let from = NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap();
    let release = f
        .clearance
        .activate_release(&admin(), id, from)
        .await
        .unwrap();
    assert_eq!(release["status"], "active");
}

/// A fixture on 26 November 2026 with the sample tariff and exchange rates in force since 1 January.
pub(crate) async fn with_sample() -> (Fixture, String, String) {
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
    // Assessed at acceptance, so the amendment is a request (修撤单) an officer approves.
    f.clearance
        .amend(
            &broker,
            &lodged.number,
            Some("amend-1"),
            request.to_string().as_bytes(),
        )
        .await
        .unwrap()
        .requested();
    let officer = f.caller("officer").await;
    crate::story::approve_request(&f, &[&officer], &lodged.number).await;
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
    // By hand (../shared/rules/china-import-taxes.md; USD 2026-11 at 7.0163; both lines MFN 0%,
    // VAT 13%; freight shared by the items' amounts, the last taking the rest; insurance unknown
    // is 3‰ of price + freight; each step rounded half-up to the fen):
    //   before: 8,000 + 400 freight + 25.20 insurance = 8,425.20 USD → 59,113.73 CNY, VAT 7,684.78;
    //           2,000 + 100 + 6.30 = 2,106.30 USD → 14,778.43 CNY, VAT 1,921.20; total 9,605.98.
    //   after:  10,000 + 416.67 + 31.25 = 10,447.92 USD → 73,305.74 CNY, VAT 9,529.75;
    //           2,000 + 83.33 + 6.25 = 2,089.58 USD → 14,661.12 CNY, VAT 1,905.95; total 11,435.70.
    //   difference: 11,435.70 − 9,605.98 = 1,829.72 to pay.
    assert_eq!(money(&first["total_payable"]), Decimal::new(960_598, 2));
    assert_eq!(money(&difference["total"]), Decimal::new(182_972, 2));
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
    // The line requires inspection and quarantine (A, B); the declaration carries neither.
    assert_eq!(
        item["licences"],
        json!([{ "code": "A", "produced": false }, { "code": "B", "produced": false }])
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
        .unwrap()
        .record;
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
    // By hand: smartphones 59,113.73 CNY (see the amendment test) now owe 5% duty, 2,955.69, and
    // VAT (59,113.73 + 2,955.69) × 13% = 8,069.02 instead of 7,684.78; the computers' VAT 1,921.20
    // is unchanged. 2,955.69 + 8,069.02 + 1,921.20 = 12,945.91 against 9,605.98: 3,339.93 more.
    assert_eq!(money(&change["difference"]), Decimal::new(333_993, 2));
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
        .unwrap()
        .record;
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

const BUYER_ID: &str = "11010519491231002X";

/// A CBEC direct-purchase order (9610) of `units` smartphones at USD `price` each, CIF.
fn cbec_order(order_ref: &str, units: u32, price: u32, indivisible: bool) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    let amount = format!("{}.00", units * price);
    body["procedure"] = json!("9610");
    body["transaction_terms"] = json!("CIF");
    body.as_object_mut().unwrap().remove("freight");
    body["invoice"]["amount"] = json!(amount);
    body["packages"]["count"] = json!("1");
    body["gross_mass_kg"] = json!("1");
    body["net_mass_kg"] = json!("0.5");
    body["items"] = json!([{
        "commodity_code": "8517130000",
        "description": "Smartphone, 5G",
        "quantity": { "value": units.to_string(), "unit": "C62" },
        "statutory_quantities": [{ "value": units.to_string(), "unit": "C62" }],
        "unit_price": format!("{price}.00"),
        "amount": amount,
        "origin_country": "US",
        "levy_mode": "1"
    }]);
    body["cbec_order"] = json!({
        "order_ref": order_ref,
        "platform": "Tmall Global",
        "indivisible_item": indivisible,
        "buyer": { "name": "张三", "id_type": "resident_id", "id_number": BUYER_ID }
    });
    serde_json::to_vec(&body).unwrap()
}

fn refused_at(outcome: Result<wire::LodgementView, ClearanceError>, path: &str) -> String {
    match outcome {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, path, "{errors:?}");
            errors[0].message_en.clone()
        }
        other => panic!("expected a refusal at {path}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cbec_order_is_taxed_at_70_percent_and_booked_against_the_buyers_allowance() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("o1"), &cbec_order("TM-1", 1, 300, false))
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap()[0];
    assert_eq!(
        record["report"]["regime"]["code"], "cbec_within_limits",
        "{record:#}"
    );
    // CIF USD 300 at 7.0163; duty 0; VAT 13 % × 70 %, rounded once.
    let value = round(Decimal::from(300) * Decimal::new(70163, 4));
    assert_eq!(money(&record["cbec"]["order_value"]), value);
    assert_eq!(
        money(&record["report"]["total_payable"]),
        round(value * Decimal::new(13, 2) * Decimal::new(7, 1))
    );
    // The buyer's number never reaches the store: only its hash and its masked form do.
    let store = f.clearance.store();
    let row = store.declaration(&lodged.id).await.unwrap().unwrap();
    assert!(!row.document.contains(BUYER_ID));
    assert!(row.document.contains("110105********002X"));
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert!(entries.iter().all(|e| !e.entry.payload.contains(BUYER_ID)));
    let hash = entries
        .iter()
        .find(|e| e.entry.action == "cbec.purchase_booked")
        .map(|e| serde_json::from_str::<Value>(&e.entry.payload).unwrap()["buyer_id"].clone())
        .unwrap();
    let booked = store
        .cbec_year_to_date(hash.as_str().unwrap(), 2026)
        .await
        .unwrap();
    assert_eq!(Decimal::new(booked, 2), value);

    // The same order again is refused; so is a lodging that brings a protected identity.
    let again = f
        .clearance
        .lodge(
            &broker,
            Some("o1-again"),
            &cbec_order("TM-1", 1, 300, false),
        )
        .await;
    refused_at(again, "cbec_order.order_ref");
    let mut protected: Value = serde_json::from_str(&row.document).unwrap();
    protected["cbec_order"]["order_ref"] = json!("TM-9");
    let refused = f
        .clearance
        .lodge(&broker, Some("o9"), protected.to_string().as_bytes())
        .await;
    refused_at(refused, "cbec_order.buyer.id_number");

    // An officer's reassessment finds the same and books nothing more.
    let officer = f.caller("officer").await;
    let again = f
        .clearance
        .reassess(&officer, &lodged.number, Some("r1"), "check")
        .await
        .unwrap()
        .record;
    assert_eq!(money(&again["difference"]["total"]), Decimal::ZERO);
    assert_eq!(
        store
            .cbec_year_to_date(hash.as_str().unwrap(), 2026)
            .await
            .unwrap(),
        booked
    );
    // A CBEC order is cancelled and declared again, not amended.
    let amendment = json!({ "reason": "x", "declaration": serde_json::from_slice::<Value>(&cbec_order("TM-1", 2, 300, false)).unwrap() });
    let refused = f
        .clearance
        .amend(
            &broker,
            &lodged.number,
            Some("a1"),
            amendment.to_string().as_bytes(),
        )
        .await;
    assert!(
        matches!(&refused, Err(ClearanceError::Invalid(e)) if e.iter().any(|e| e.path == "declaration.cbec_order")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn cbec_orders_beyond_the_limits_are_refused_as_general_trade() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    // Above the 5,000 CNY transaction limit and divisible: general trade.
    let refused = f
        .clearance
        .lodge(&broker, Some("o1"), &cbec_order("TM-1", 3, 300, false))
        .await;
    let message = refused_at(refused, "cbec_order");
    assert!(message.contains("general trade"), "{message}");
    // One indivisible item above it: full rates, and it counts toward the year (~21,751 CNY).
    let lodged = f
        .clearance
        .lodge(&broker, Some("o2"), &cbec_order("TM-2", 1, 3100, true))
        .await
        .unwrap();
    let record = &f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap()[0];
    assert_eq!(
        record["report"]["regime"]["code"],
        "cbec_indivisible_full_rates"
    );
    // Another ~4,631 CNY would take the year past 26,000: refused, nothing booked.
    let refused = f
        .clearance
        .lodge(&broker, Some("o3"), &cbec_order("TM-3", 2, 330, false))
        .await;
    let message = refused_at(refused, "cbec_order");
    assert!(message.contains("annual"), "{message}");
    // A smaller order still fits.
    f.clearance
        .lodge(&broker, Some("o4"), &cbec_order("TM-4", 1, 300, false))
        .await
        .unwrap();
}

/// Stainless-steel ingots from Korea, 20 tonnes at USD 2.00/kg CIF, from `exporter`.
fn stainless_steel(exporter: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["overseas_party"] = json!({ "name": exporter, "country": "KR" });
    body["transaction_terms"] = json!("CIF");
    body.as_object_mut().unwrap().remove("freight");
    body["invoice"]["amount"] = json!("40000.00");
    body["gross_mass_kg"] = json!("20100");
    body["net_mass_kg"] = json!("20000");
    body["items"] = json!([{
        "commodity_code": "7218100000",
        "description": "Stainless steel ingots",
        "quantity": { "value": "20000", "unit": "KGM" },
        "statutory_quantities": [{ "value": "20000", "unit": "KGM" }],
        "unit_price": "2.00",
        "amount": "40000.00",
        "origin_country": "KR",
        "levy_mode": "1"
    }]);
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn an_anti_dumping_duty_takes_the_exporters_own_rate_when_the_notice_names_it() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let mut duties = Vec::new();
    for (key, exporter) in [("s1", "POSCO"), ("s2", "Another Steel Co")] {
        let lodged = f
            .clearance
            .lodge(&broker, Some(key), &stainless_steel(exporter))
            .await
            .unwrap();
        let record = &f
            .clearance
            .assessments(&broker, &lodged.number)
            .await
            .unwrap()[0];
        let taxes = record["report"]["items"][0]["taxes"].as_array().unwrap();
        let anti_dumping = taxes
            .iter()
            .find(|t| t["kind"] == "anti_dumping_duty")
            .unwrap_or_else(|| panic!("{record:#}"));
        duties.push(money(&anti_dumping["payable"]));
    }
    // CIF USD 40,000 at 7.0163 = 280,652.00 CNY: POSCO's 23.1 %, all other companies' 103.1 %.
    let value = round(Decimal::from(40_000) * Decimal::new(70163, 4));
    assert_eq!(duties[0], round(value * Decimal::new(231, 3)));
    assert_eq!(duties[1], round(value * Decimal::new(1031, 3)));
}

/// Puts `rule` in force as analysts do it: proposed by one (analyst-wang), approved by another
/// (analyst-zhao). Returns its id.
async fn active_rule(f: &Fixture, rule: &Value) -> String {
    let admin = store::Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    for name in ["analyst-wang", "analyst-zhao"] {
        // Created once per fixture; a second rule finds them there.
        let _ = f
            .clearance
            .create_user(&admin, name, Role::RiskAnalyst, None)
            .await;
    }
    let (wang, zhao) = (
        f.caller("analyst-wang").await,
        f.caller("analyst-zhao").await,
    );
    let proposed = f
        .clearance
        .propose_rule(&wang, rule.to_string().as_bytes())
        .await
        .unwrap();
    let id = proposed["id"].as_str().unwrap().to_owned();
    f.clearance.approve_rule(&zhao, &id, 1).await.unwrap();
    id
}

/// The story of the issue: lodge → assessed → red lane by a rule → inspection finds a wrong
/// origin → reassessed with the difference → released.
#[tokio::test]
async fn a_red_lane_inspection_finds_a_wrong_origin_and_the_declaration_is_reassessed() {
    let (f, _, _) = with_sample().await;
    let rule = json!({
        "purpose": "revenue", "action": "physical_inspection", "expected_selection_rate": "1",
        "priority": 200, "reason_en": "bananas: origin fraud", "reason_zh": "香蕉：原产地造假",
        "expression": "item.commodity_code.startsWith(\"0803\")",
    });
    let id = active_rule(&f, &rule).await;
    let zhao = f.caller("analyst-zhao").await;

    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("b1"), &bananas("E2026PH0009"))
        .await
        .unwrap();
    let selection = f
        .clearance
        .selection(&officer, &lodged.number)
        .await
        .unwrap();
    assert_eq!(selection["lane"], "red", "{selection:#}");
    let queue = f
        .clearance
        .tasks(&officer, true, None, Some("open"), 50)
        .await
        .unwrap();
    assert_eq!(
        queue.len(),
        1,
        "the only officer gets the inspection: {queue:#?}"
    );
    assert_eq!(queue[0]["kind"], "physical_inspection");
    let task = queue[0]["id"].as_str().unwrap().to_owned();

    // Not released before the duty and taxes are paid, nor while the inspection is open.
    let refused_for = |outcome: &Result<wire::DeclarationView, ClearanceError>| match outcome {
        Err(ClearanceError::Transition(t)) => t.code,
        other => panic!("{other:?}"),
    };
    let early = f
        .clearance
        .release(&officer, &lodged.number, Some("rel-0"), b"{}")
        .await;
    assert_eq!(refused_for(&early), "unpaid");
    let owed = f.clearance.payments(&broker, &lodged.number).await.unwrap();
    let payment =
        json!({ "kind": "payment", "amount": owed["outstanding"], "reference": "BOC-0001" });
    let paid = f
        .clearance
        .record_payment(
            &broker,
            &lodged.number,
            Some("p1"),
            payment.to_string().as_bytes(),
        )
        .await
        .unwrap();
    // What the trade says it paid is a claim: it covers nothing until the bank confirms it.
    assert_eq!(paid["outstanding"], owed["outstanding"], "{paid:#}");
    assert_eq!(paid["claimed_unconfirmed"], owed["outstanding"], "{paid:#}");
    let early = f
        .clearance
        .release(&officer, &lodged.number, Some("rel-0a"), b"{}")
        .await;
    assert_eq!(refused_for(&early), "unpaid");
    crate::story::register_bank(&f).await;
    let paid = crate::story::pay_in_full(&f, &broker, &lodged.number, "BOC-0001").await;
    assert_eq!(money(&paid["outstanding"]), Decimal::ZERO, "{paid:#}");
    let early = f
        .clearance
        .release(&officer, &lodged.number, Some("rel-0b"), b"{}")
        .await;
    assert_eq!(refused_for(&early), "open_tasks");

    // The goods come from Ecuador, not the Philippines: no ACFTA rate, MFN 10 % to pay.
    let finding = json!({
        "discrepancy": true,
        "corrections": [{ "path": "items[0].origin_country", "value": "EC" }],
        "note": "labels and phytosanitary certificate show Ecuador",
    });
    let closed = f
        .clearance
        .record_finding(&officer, &task, Some("f1"), finding.to_string().as_bytes())
        .await
        .unwrap();
    let outcome = &closed["outcome"];
    assert_eq!(outcome["discrepancy"], true);
    // A retry with the same key answers the first finding and changes nothing.
    let retried = f
        .clearance
        .record_finding(&officer, &task, Some("f1"), finding.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(retried, closed);
    assert_eq!(outcome["selected_by"]["reasons"][0]["rule"], json!(id));
    let value = round(Decimal::new(1053150, 2) * Decimal::new(70163, 4));
    let duty = round(value * Decimal::new(10, 2));
    let vat_before = round(value * Decimal::new(9, 2));
    let vat_after = round((value + duty) * Decimal::new(9, 2));
    assert_eq!(
        money(&outcome["revenue_difference"]["total"]),
        duty + vat_after - vat_before,
        "{outcome:#}"
    );
    let assessments = f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap();
    let last = assessments.last().unwrap();
    assert_eq!(last["basis"], "officer");
    assert_eq!(last["report"]["items"][0]["origin"], "EC");
    // The declaration in force carries the corrected origin.
    let view = f
        .clearance
        .declaration(&broker, &lodged.number)
        .await
        .unwrap();
    assert_eq!(
        view.declaration.items[0].origin_country.as_deref(),
        Some("EC")
    );

    // The check is the rule's record: one match, one selection, one hit, the revenue recovered.
    let statistics = f.clearance.rule_statistics(&zhao).await.unwrap();
    let of_rule = statistics.iter().find(|r| r["rule"] == json!(id)).unwrap();
    assert_eq!(
        (
            &of_rule["matches"],
            &of_rule["selections"],
            &of_rule["checks_closed"],
            &of_rule["hits"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{of_rule:#}"
    );
    assert_eq!(
        money(&of_rule["revenue_recovered"]),
        money(&outcome["revenue_difference"]["total"])
    );

    // The task is closed; the difference is owed, then guaranteed by an officer: the goods go.
    let owed = f.clearance.payments(&broker, &lodged.number).await.unwrap();
    assert_eq!(
        money(&owed["outstanding"]),
        money(&outcome["revenue_difference"]["total"])
    );
    let late = f
        .clearance
        .release(&officer, &lodged.number, Some("rel-0c"), b"{}")
        .await;
    assert_eq!(refused_for(&late), "unpaid");
    let by_broker =
        json!({ "kind": "guarantee", "amount": owed["outstanding"], "reference": "G-1" });
    let refused = f
        .clearance
        .record_payment(
            &broker,
            &lodged.number,
            Some("g0"),
            by_broker.to_string().as_bytes(),
        )
        .await;
    assert!(
        matches!(refused, Err(ClearanceError::Forbidden { .. })),
        "{refused:?}"
    );
    f.clearance
        .record_payment(
            &officer,
            &lodged.number,
            Some("g1"),
            by_broker.to_string().as_bytes(),
        )
        .await
        .unwrap();
    // Three hours after lodging, the goods are released; the release time is measured.
    f.advance(chrono::Duration::hours(3));
    let released = f
        .clearance
        .release(&officer, &lodged.number, Some("rel-1"), b"{}")
        .await
        .unwrap();
    assert_eq!(released.status, "released");
    let times = f
        .clearance
        .release_times(&officer, "2026-11-26", "2026-11-26", Some("2200"))
        .await
        .unwrap();
    assert_eq!(times["released"], 1, "{times:#}");
    assert_eq!(times["p50_seconds"], 3 * 3600, "{times:#}");
    assert_eq!(times["released_within_24h"], 1, "{times:#}");
    let elsewhere = f
        .clearance
        .release_times(&officer, "2026-11-01", "2026-11-30", Some("5300"))
        .await
        .unwrap();
    assert_eq!(elsewhere["released"], 0, "{elsewhere:#}");
    assert!(matches!(
        f.clearance
            .release_times(&broker, "2026-11-26", "2026-11-26", None)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let verified = f.clearance.store().audit_entries(0, 10_000).await.unwrap();
    assert!(!verified.is_empty());
}

/// Rules read the assessment made at acceptance: customs values and the total payable.
#[tokio::test]
async fn a_rule_on_the_assessed_figures_sees_them_at_acceptance() {
    let (f, _, _) = with_sample().await;
    let rule = json!({
        "purpose": "revenue", "action": "document_check", "expected_selection_rate": "1",
        "priority": 100, "reason_en": "high value", "reason_zh": "高价值",
        "expression": "has(item.customs_value_cny) && item.customs_value_cny > 50000.0 \
                       && declaration.payable_cny > 9000.0",
    });
    active_rule(&f, &rule).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("v1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    // Smartphones: 59,113.73 CNY (laptops 14,778.43); payable 9,605.98 CNY.
    let selection = f
        .clearance
        .selection(&officer, &lodged.number)
        .await
        .unwrap();
    let hit = selection["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"]["kind"] == "rule")
        .unwrap_or_else(|| panic!("{selection:#}"));
    assert_eq!(hit["source"]["items"], json!([0]));
    assert_eq!(selection["lane"], "yellow");

    // The recorded assessment gives the same figures back, so a rule test sees them too.
    let records = f.clearance.assessment_records(&lodged.id).await.unwrap();
    let figures = crate::AssessedFigures::of_record(records.last().unwrap()).unwrap();
    assert_eq!(figures.total_payable, Decimal::new(960_598, 2));
    assert_eq!(figures.item_customs_values[0], Decimal::new(5_911_373, 2));
    let wang = f.caller("analyst-wang").await;
    let tested = f
        .clearance
        .test_rule(&wang, rule.to_string().as_bytes(), 10)
        .await
        .unwrap();
    assert_eq!(tested["matched"], 1, "{tested:#}");
    assert_eq!(tested["hits"][0]["items"], json!([0]), "{tested:#}");
}

/// An auditor's replay draws declarations from the chain and re-performs their assessments: all
/// agree while the release they were assessed with is in force; after a roll-back the draw shows
/// the recorded release, the one now in force, and the two totals.
#[tokio::test]
async fn a_replay_draw_re_performs_the_recorded_assessments() {
    let (f, first_tariff, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let auditor = f.caller_with_role("auditor", Role::Auditor).await;
    let mut changed = files(ReleaseKind::Tariff);
    changed[1].text = changed[1]
        .text
        .replace("85171300,mfn,,ad_valorem,0,", "85171300,mfn,,ad_valorem,5,");
    let second_tariff = import(&f, ReleaseKind::Tariff, changed).await;
    activate(&f, &second_tariff, (2026, 11, 1)).await;
    for key in ["r1", "r2", "r3"] {
        f.clearance
            .lodge(&broker, Some(key), EXAMPLE.as_bytes())
            .await
            .unwrap();
    }

    let draw = f.clearance.replay_draw(&auditor, 7, 3).await.unwrap();
    assert_eq!(draw.declarations.len(), 3, "{draw:#?}");
    assert_eq!(
        draw,
        f.clearance.replay_draw(&auditor, 7, 3).await.unwrap(),
        "the same seed on the same chain draws the same"
    );
    for drawn in &draw.declarations {
        let reperformed = drawn.assessment.as_ref().expect("the engine assessed it");
        assert!(reperformed.agrees, "{reperformed:?}");
        assert_eq!(reperformed.recorded_release.as_ref(), Some(&second_tariff));
    }

    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    let after = f.clearance.replay_draw(&auditor, 7, 3).await.unwrap();
    for drawn in &after.declarations {
        let reperformed = drawn.assessment.as_ref().unwrap();
        assert!(
            !reperformed.agrees,
            "5 % duty recorded, 0 % now: {reperformed:?}"
        );
        assert_eq!(reperformed.release_now.as_ref(), Some(&first_tariff));
        let (recorded, now) = (
            money(&json!(reperformed.recorded_total)),
            money(&json!(reperformed.recomputed_total)),
        );
        assert!(recorded > now);
    }

    // The size is bounded at both ends; only customs roles that read the chain may draw.
    for size in [0, crate::REPLAY_DRAW_MAX + 1] {
        assert!(matches!(
            f.clearance.replay_draw(&auditor, 7, size).await,
            Err(ClearanceError::Invalid(_))
        ));
    }
    assert!(
        f.clearance
            .replay_draw(&auditor, 7, crate::REPLAY_DRAW_MAX)
            .await
            .is_ok()
    );
    assert!(f.clearance.replay_draw(&broker, 7, 1).await.is_err());
    let checkpoints = f.clearance.audit_checkpoints(&auditor).await.unwrap();
    assert!(checkpoints.len() <= crate::CHECKPOINTS_LISTED_MAX);
    assert!(f.clearance.audit_checkpoints(&broker).await.is_err());
}

/// The engine's report of `body` lodged on 26 November 2026, explained as the lodging path
/// rendered it before recorded assessments kept their figures only; `used` holds the proofs of
/// origin other declarations had used.
async fn eager_report(f: &Fixture, body: &[u8], used: &[String]) -> Value {
    let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let dto: wire::DeclarationDto = wire::parse_json(body).unwrap();
    let reference = f.clearance.reference_on(day).await.unwrap();
    let declaration = dto
        .parse(&domain::ParseContext {
            reference: &reference,
            on: day,
        })
        .unwrap();
    let in_force = f
        .clearance
        .releases_cache
        .in_force(&f.clearance.store, day)
        .await
        .unwrap();
    let (_, release) = in_force.tariff.as_ref().unwrap();
    let is_used = |key: &str| used.iter().any(|k| k == key);
    let origin = crate::assessment::OriginContext {
        agreements: &f.clearance.config.agreements,
        used_elsewhere: &is_used,
    };
    let (input, assessed) = crate::assessment::assess_with_release(
        &declaration,
        day,
        release,
        &in_force.rates,
        &f.clearance.config.assessment,
        &origin,
    )
    .unwrap()
    .unwrap();
    let documents = crate::assessment::document_types(&declaration);
    crate::assessment::report(&input, &assessed, &documents)
}

/// The stored payloads of a declaration's assessments, as the chain holds them.
async fn recorded_assessments(f: &Fixture, number: &str) -> Vec<Value> {
    let row = f
        .clearance
        .store
        .declaration_by_number(number)
        .await
        .unwrap()
        .unwrap();
    f.clearance
        .store
        .events(&row.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == crate::assessment::ASSESSED_ACTION)
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect()
}

#[tokio::test]
async fn a_recorded_assessment_keeps_its_figures_and_is_explained_on_read_as_the_engine_did() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let first = f
        .clearance
        .lodge(&broker, Some("k1"), &bananas("E2026PH0001"))
        .await
        .unwrap();
    // The same certificate again: refused as already used, a fact of the moment the record keeps.
    let second = f
        .clearance
        .lodge(&broker, Some("k2"), &bananas("E2026PH0001"))
        .await
        .unwrap();
    let lodged = f
        .clearance
        .lodge(&broker, Some("k3"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let used = ["ACFTA:PH:E2026PH0001".to_owned()];
    for (number, body, used) in [
        (&first.number, bananas("E2026PH0001"), &[][..]),
        (&second.number, bananas("E2026PH0001"), &used[..]),
        (&lodged.number, EXAMPLE.as_bytes().to_vec(), &[][..]),
    ] {
        let eager = eager_report(&f, &body, used).await;
        let recorded = recorded_assessments(&f, number).await;
        let record = &recorded[0];
        // The chain holds the figures, not the words.
        assert_eq!(record["explanations"], "on_read", "{record:#}");
        assert!(!record["report"].to_string().contains("explanation"));
        assert_eq!(record["report"], crate::assessment::figures_of(&eager));
        assert!(record.to_string().len() * 2 < eager.to_string().len());
        let recorded_used = record["proofs_used_elsewhere"].as_array();
        assert_eq!(recorded_used.map_or(0, Vec::len), used.len());
        // Every reader (trade, officer) sees the words the engine gave at lodging.
        for caller in [&broker, &f.caller("officer").await] {
            let shown = f.clearance.assessments(caller, number).await.unwrap();
            assert_eq!(shown[0]["report"], eager, "{number}");
            assert!(shown[0].get("explanations").is_none());
        }
    }
    // The refused preference is explained again with its reason.
    let shown = f
        .clearance
        .assessments(&broker, &second.number)
        .await
        .unwrap();
    let refused = shown[0]["report"]["items"][0]["duty_rate"]["refused_preference"]["en"]
        .as_str()
        .unwrap();
    assert!(refused.contains("used"), "{refused}");
}

#[tokio::test]
async fn an_assessment_recorded_with_its_words_is_shown_as_recorded() {
    // Records made before the figures-only form (and CBEC orders') carry their explanation:
    // they are shown as the chain holds them, without running the engine again.
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut old = recorded_assessments(&f, &lodged.number).await.remove(0);
    old["report"] = eager_report(&f, EXAMPLE.as_bytes(), &[]).await;
    old.as_object_mut().unwrap().remove("explanations");
    old["assessment"] = json!(2);
    old["report"]["explanation"][0]["en"] = json!("as recorded then");
    let outcome = f
        .clearance
        .store
        .append(store::Append {
            actor: crate::system_actor(),
            recorded_at_ms: 0,
            subject: lodged.id.clone(),
            action: crate::assessment::ASSESSED_ACTION.to_owned(),
            idempotency_scope: "system".to_owned(),
            idempotency_key: "old-form".to_owned(),
            request_digest: "old-form".to_owned(),
            payload: old.to_string(),
            expected_version: None,
            projection: store::Projection::OriginProofUses {
                declaration_id: lodged.id.clone(),
                proof_keys: Vec::new(),
            },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        })
        .await
        .unwrap();
    assert!(matches!(outcome, store::AppendOutcome::Appended { .. }));
    let shown = f
        .clearance
        .assessments(&broker, &lodged.number)
        .await
        .unwrap();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[1]["report"], old["report"]);
    assert_eq!(
        shown[1]["report"]["explanation"][0]["en"],
        "as recorded then"
    );
    // The figures-only one before it is explained by the engine.
    assert_eq!(
        shown[0]["report"],
        eager_report(&f, EXAMPLE.as_bytes(), &[]).await
    );
}
