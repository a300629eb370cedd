//! A wrong exchange-rate table rolled back, then the declarations assessed with it reassessed in
//! bulk over HTTP: listed, tried (dry run), applied; the trade told to pay more. The example
//! accepted on 27 November 2026 (duty 0 %): VAT at USD 6.0163 is 6,589.51 + 1,647.38 = 8,236.89;
//! at 7.0163, 7,684.78 + 1,921.20 = 9,605.98: 1,369.09 more to pay (rules §1, §2.6).

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Visitor, with_passwords};
use crate::helpers::{example, rates_import, spawn_app_at};

#[tokio::test]
async fn a_rolled_back_rate_table_is_reassessed_in_bulk_and_the_trade_told_to_pay_more() {
    let app = spawn_app_at("2026-11-27T02:00:00Z").await;
    app.activate_sample_releases("2026-01-01").await;
    let wrong = app
        .post(
            "/v1/releases",
            "admin",
            None,
            &rates_import("USD typo", "currency,month,rate\nUSD,2026-11,6.0163\n"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::CREATED, "{}", wrong.text);
    let wrong = wrong.body["id"].as_str().unwrap().to_owned();
    let activated = app
        .post(
            &format!("/v1/releases/{wrong}/activation"),
            "admin",
            None,
            &json!({ "effective_from": "2026-11-01" }),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let id = app.lodged_id("broker", &example()).await;

    // Before the roll-back, a job is refused (nothing to correct yet); the trade may not run one.
    let early = app
        .post(
            &format!("/v1/releases/{wrong}/reassessments"),
            "officer",
            Some("early"),
            &json!({ "apply": false }),
        )
        .await;
    early.assert_problem(422);
    assert_eq!(early.error_paths()[0].0, "release");
    app.post(
        &format!("/v1/releases/{wrong}/reassessments"),
        "broker",
        None,
        &json!({ "apply": false }),
    )
    .await
    .assert_problem(403);

    let rolled_back = app
        .post(
            "/v1/releases/rollback",
            "admin",
            None,
            &json!({ "kind": "exchange_rates", "reason": "USD typo" }),
        )
        .await;
    assert_eq!(rolled_back.status, StatusCode::OK, "{}", rolled_back.text);

    let listed = app
        .get(&format!("/v1/releases/{wrong}/declarations"), "officer")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["declarations"][0]["id"], id.as_str());
    assert_eq!(listed.body["declarations"][0]["total_payable"], "8236.89");
    assert_eq!(listed.body["more"], false);

    let dry = app
        .post(
            &format!("/v1/releases/{wrong}/reassessments"),
            "officer",
            Some("dry-1"),
            &json!({ "apply": false }),
        )
        .await;
    assert_eq!(dry.status, StatusCode::CREATED, "{}", dry.text);
    assert_eq!(
        dry.body["totals"]["pay_more_total"], "1369.09",
        "{}",
        dry.text
    );

    let applied = app
        .post(
            &format!("/v1/releases/{wrong}/reassessments"),
            "officer",
            Some("apply-1"),
            &json!({ "apply": true }),
        )
        .await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text);
    assert_eq!(applied.body["totals"]["changed"], 1);
    assert_eq!(applied.body["lines"][0]["outcome"], "pay_more");
    assert_eq!(applied.body["lines"][0]["difference"], "1369.09");
    let again = app
        .post(
            &format!("/v1/releases/{wrong}/reassessments"),
            "officer",
            Some("apply-1"),
            &json!({ "apply": true }),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["totals"], applied.body["totals"]);

    // The trade's receipt: the new total, the difference and what it means, nothing else.
    let events = app
        .get(&format!("/v1/declarations/{id}/events"), "broker")
        .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let receipts = events.body["receipts"].as_array().unwrap();
    let last = receipts
        .iter()
        .rfind(|r| r["receipt"] == "assessed")
        .unwrap();
    assert_eq!(last["amount"], "9605.98", "{last}");
    assert_eq!(last["difference"], "1369.09", "{last}");
    assert_eq!(last["settlement"], "pay_more", "{last}");
    assert_eq!(last["by"], "customs");
    assert!(last.get("reason").is_none(), "no officer's note: {last}");
    assert_eq!(events.body["clearance_status"], "duty_due");

    let jobs = app.get("/v1/reassessments", "officer").await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.text);
    assert_eq!(jobs.body["jobs"][0]["job"], "apply-1");
    assert_eq!(jobs.body["jobs"][0]["state"], "finished");
    assert_eq!(jobs.body["jobs"][0]["totals"]["pay_more_total"], "1369.09");
    app.get("/v1/reassessments", "broker")
        .await
        .assert_problem(403);

    // One job with its differences: the caller's own by default, another officer's by
    // `started_by`; an unknown job is not found; the trade is refused.
    let one = app.get("/v1/reassessments/apply-1", "officer").await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["lines"], applied.body["lines"], "{}", one.text);
    let started_by = one.body["started_by"].as_str().unwrap().to_owned();
    let named = app
        .get(
            &format!("/v1/reassessments/dry-1?started_by={started_by}"),
            "officer",
        )
        .await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.text);
    assert_eq!(named.body["mode"], "dry_run");
    assert_eq!(named.body["lines"][0]["outcome"], "pay_more");
    app.get("/v1/reassessments/nobody-ran-this", "officer")
        .await
        .assert_problem(404);
    app.get("/v1/reassessments/apply-1", "broker")
        .await
        .assert_problem(403);

    // The console: the officers' list of jobs and a job's page with each declaration's
    // difference, in both languages; the trade gets the not-found page for both.
    with_passwords(&app, &["officer", "broker"]).await;
    let number = app
        .get(&format!("/v1/declarations/{id}"), "officer")
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let list = officer.get("/console/reassessments?lang=en").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    for shown in [
        "Bulk reassessments",
        "apply-1",
        "dry-1",
        "applied",
        "dry run",
        "1369.09",
        "/console/reassessments/apply-1?by=",
    ] {
        assert!(list.body.contains(shown), "{shown} in {}", list.body);
    }
    assert!(
        list.body.contains("href=\"/console/reassessments\""),
        "the officer's bar links the page: {}",
        list.body
    );
    let page = officer
        .get(&format!("/console/reassessments/apply-1?by={started_by}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for shown in [
        "Differences per declaration",
        number.as_str(),
        "data-outcome=\"pay_more\"",
        "pay more",
        "8236.89",
        "9605.98",
        "1369.09",
    ] {
        assert!(page.body.contains(shown), "{shown} in {}", page.body);
    }
    let zh = officer
        .get(&format!(
            "/console/reassessments/apply-1?by={started_by}&lang=zh"
        ))
        .await;
    assert!(zh.body.contains("各报关单差额"), "{}", zh.body);
    assert!(zh.body.contains("补缴"), "{}", zh.body);
    let unknown = officer.get("/console/reassessments/nobody-ran-this").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    for path in [
        "/console/reassessments".to_owned(),
        format!("/console/reassessments/apply-1?by={started_by}"),
    ] {
        let refused = broker.get(&path).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!refused.body.contains("1369.09"), "{}", refused.body);
        // (The job's name is in the page's own address, the language switch's link: no data.)
        assert!(!refused.body.contains("bulk-lines"), "{}", refused.body);
        assert!(
            !refused.body.contains("Bulk reassessments"),
            "{}",
            refused.body
        );
    }
    let declarations = broker.get("/console/declarations").await;
    assert!(
        !declarations.body.contains("/console/reassessments"),
        "no link for the trade: {}",
        declarations.body
    );
}
