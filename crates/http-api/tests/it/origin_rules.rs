//! The README's story of rules of origin over HTTP: the sample tariff imported with its
//! `origin_rules.csv`, then `examples/declaration-rcep-cth.json` lodged: RCEP certificates stating
//! CTH on two sample lines, optical devices from Japan (rule CTSH or RVC40: met) and wine from
//! Australia (rule CC: not met). The officer sees the rule each was checked against; the trade
//! sees its report.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{sample_file, sample_rates_import, sample_tariff_import, spawn_app_at};

/// 10:00 on 2026-11-27 in UTC+8.
const NOW: &str = "2026-11-27T02:00:00Z";

/// The README's example: optical devices from Japan and wine from Australia, each with an RCEP
/// certificate stating CTH.
fn rcep_cth() -> Value {
    serde_json::from_str(include_str!(
        "../../../../examples/declaration-rcep-cth.json"
    ))
    .expect("the example is JSON")
}

async fn latest(app: &crate::helpers::TestApp, id: &str, user: &str) -> Value {
    let reply = app
        .get(&format!("/v1/declarations/{id}/assessments"), user)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["assessments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn certificates_stating_cth_are_checked_against_the_sample_rules() {
    let app = spawn_app_at(NOW).await;
    let mut tariff = sample_tariff_import();
    tariff["files"]["origin_rules.csv"] = json!(sample_file("origin_rules.csv"));
    let imported = app.post("/v1/releases", "admin", None, &tariff).await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(
        imported.body["summary"]["origin_rules"], 22,
        "{}",
        imported.text
    );
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

    let lodged = app.lodged_id("broker", &rcep_cth()).await;
    let officer = latest(&app, &lodged, "officer").await;
    let trade = latest(&app, &lodged, "broker").await;

    // Optical devices from Japan: CTH meets "CTSH or RVC40"; the RCEP rate (0 %) applies.
    let item = &officer["report"]["items"][0];
    assert_eq!(
        item["duty_rate"]["column"]["en"], "conventional (RCEP)",
        "{officer:#}"
    );
    let checked = &officer["origin_rules_checked"][0];
    assert_eq!(checked["item"], 0);
    assert_eq!(checked["claimed"], "CTH");
    assert_eq!(checked["rule"], "CTSH or RVC40");
    assert_eq!(checked["met"], true);
    assert_eq!(checked["verify"], true);

    // Wine from Australia: CTH does not meet "CC"; MFN applies and the trade is told why.
    let checked = &officer["origin_rules_checked"][1];
    assert_eq!(checked["item"], 1);
    assert_eq!(checked["met"], false, "{officer:#}");
    let rate = &trade["report"]["items"][1]["duty_rate"];
    assert!(
        rate["column"]["en"].as_str().unwrap().starts_with("MFN"),
        "{trade:#}"
    );
    let refused = rate["refused_preference"]["en"].as_str().unwrap();
    assert!(
        refused.contains("claimed CTH; rule CC (RCEP HS 220421) → not met"),
        "{refused}"
    );
    // The officers' record of the rules is not in the trade's view.
    assert!(trade.get("origin_rules_checked").is_none(), "{trade:#}");

    // The console's assessment section: the officer sees the rule each item was checked
    // against and the outcome, in both languages; the trade's page has none of it.
    crate::browser::with_passwords(&app, &["officer", "broker"]).await;
    let mut officer = crate::browser::Visitor::signed_in(&app, "officer", "en").await;
    let page = officer
        .get(&format!("/console/declarations/{lodged}?lang=en"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let section = page
        .body
        .split("id=\"origin-rules\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no origin rules section: {}", page.body));
    for shown in [
        "Rules of origin checked",
        "RCEP",
        "CTSH or RVC40",
        "CTH",
        ">met<",
        "<strong>not met</strong>",
        "verify: not read from the annex",
    ] {
        assert!(
            page.body.contains(shown),
            "{shown} in {}",
            section.chars().take(3000).collect::<String>()
        );
    }
    let zh = officer
        .get(&format!("/console/declarations/{lodged}?lang=zh"))
        .await;
    assert!(zh.body.contains("已核对的原产地规则"), "{}", zh.body);
    assert!(zh.body.contains("不符合"), "{}", zh.body);
    let mut broker = crate::browser::Visitor::signed_in(&app, "broker", "en").await;
    let theirs = broker
        .get(&format!("/console/declarations/{lodged}?lang=en"))
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(
        theirs.body.contains("Total payable"),
        "the trade sees its assessment: {}",
        theirs.body
    );
    assert!(!theirs.body.contains("origin-rules"), "{}", theirs.body);
    assert!(
        !theirs.body.contains("Rules of origin checked"),
        "{}",
        theirs.body
    );
}
