//! The README's story of rules of origin over HTTP: the sample tariff imported with its
//! `origin_rules.csv`, then RCEP certificates stating CTH lodged on two sample lines: optical
//! devices from Japan (rule CTSH or RVC40: met) and wine from Australia (rule CC: not met). The
//! officer sees the rule each was checked against; the trade sees its report.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{example, sample_file, sample_rates_import, sample_tariff_import, spawn_app_at};

/// 10:00 on 2026-11-27 in UTC+8.
const NOW: &str = "2026-11-27T02:00:00Z";

/// One item with an RCEP certificate stating CTH for it.
fn with_rcep_certificate(
    number: &str,
    item: Value,
    hs6: &str,
    quantity: Value,
    country: &str,
) -> Value {
    let mut body = example();
    let amount = item["amount"].clone();
    body["invoice"]["amount"] = amount;
    body["items"] = json!([item]);
    body["origin_proofs"] = json!([{
        "agreement": "RCEP",
        "kind": "certificate",
        "number": number,
        "issue_date": "2026-11-01",
        "exporter": "Exporter Co",
        "country_of_origin": country,
        "direct_consignment_evidence": true,
        "items": [{ "hs6": hs6, "criterion": "CTH", "quantity": quantity }]
    }]);
    body
}

fn optics() -> Value {
    with_rcep_certificate(
        "JP26-0100",
        json!({
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
            "preference": { "agreement": "RCEP", "proof_number": "JP26-0100", "proof_item": 1 }
        }),
        "901380",
        json!({ "value": "250", "unit": "KGM" }),
        "JP",
    )
}

fn wine() -> Value {
    with_rcep_certificate(
        "AU26-0100",
        json!({
            "commodity_code": "2204210000",
            "description": "Red wine, 750 ml bottles",
            "quantity": { "value": "900", "unit": "LTR" },
            "statutory_quantities": [
                { "value": "900", "unit": "LTR" },
                { "value": "1100", "unit": "KGM" }
            ],
            "unit_price": "8.00",
            "amount": "7200.00",
            "origin_country": "AU",
            "levy_mode": "1",
            "preference": { "agreement": "RCEP", "proof_number": "AU26-0100", "proof_item": 1 }
        }),
        "220421",
        json!({ "value": "900", "unit": "LTR" }),
        "AU",
    )
}

async fn latest(app: &crate::helpers::TestApp, id: &str, user: &str) -> Value {
    let reply = app
        .get(&format!("/v1/declarations/{id}/assessments"), user)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["assessments"].as_array().unwrap().last().unwrap().clone()
}

#[tokio::test]
async fn certificates_stating_cth_are_checked_against_the_sample_rules() {
    let app = spawn_app_at(NOW).await;
    let mut tariff = sample_tariff_import();
    tariff["files"]["origin_rules.csv"] = json!(sample_file("origin_rules.csv"));
    let imported = app.post("/v1/releases", "admin", None, &tariff).await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(imported.body["summary"]["origin_rules"], 22, "{}", imported.text);
    let rates = app
        .post("/v1/releases", "admin", None, &sample_rates_import())
        .await;
    for id in [&imported.body["id"], &rates.body["id"]] {
        let id = id.as_str().unwrap();
        let reply = app
            .post(
                &format!("/v1/releases/{id}/activation"),
                "admin",
                None,
                &json!({ "effective_from": "2026-01-01" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }

    // Optical devices from Japan: CTH meets "CTSH or RVC40"; the RCEP rate (0 %) applies.
    let optics = app.lodged_id("broker", &optics()).await;
    let officer = latest(&app, &optics, "officer").await;
    let item = &officer["report"]["items"][0];
    assert_eq!(item["duty_rate"]["column"]["en"], "conventional (RCEP)", "{officer:#}");
    let checked = &officer["origin_rules_checked"][0];
    assert_eq!(checked["claimed"], "CTH");
    assert_eq!(checked["rule"], "CTSH or RVC40");
    assert_eq!(checked["met"], true);
    assert_eq!(checked["verify"], true);
    let trade = latest(&app, &optics, "broker").await;
    assert!(trade.get("origin_rules_checked").is_none(), "{trade:#}");

    // Wine from Australia: CTH does not meet "CC"; MFN applies and the trade is told why.
    let wine = app.lodged_id("broker", &wine()).await;
    let officer = latest(&app, &wine, "officer").await;
    assert_eq!(officer["origin_rules_checked"][0]["met"], false, "{officer:#}");
    let trade = latest(&app, &wine, "broker").await;
    let rate = &trade["report"]["items"][0]["duty_rate"];
    assert!(rate["column"]["en"].as_str().unwrap().starts_with("MFN"), "{trade:#}");
    let refused = rate["refused_preference"]["en"].as_str().unwrap();
    assert!(
        refused.contains("claimed CTH; rule CC (RCEP HS 220421) → not met"),
        "{refused}"
    );
    assert!(trade.get("origin_rules_checked").is_none());
}
