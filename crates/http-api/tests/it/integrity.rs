//! Control integrity over HTTP: what the trade may see of a declaration customs acted on, how its
//! changes become requests, and what counts as payment.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, bank, example, spawn_app_at};

/// 10:00 on 2026-11-27 in UTC+8: the sample tariff and exchange rates are in force.
const NOW: &str = "2026-11-27T02:00:00Z";

/// Words and names that only customs may know of the declaration below.
const SECRETS: [&str; 5] = [
    "SECRET-RULE",
    "SECRET-WATCH",
    "SECRET-HOLD",
    "SECRET-NOTE",
    "SECRET-MANUAL",
];

/// Members of a customs view that must never reach the trade, in any answer.
const CUSTOMS_MEMBERS: [&str; 16] = [
    "reasons",
    "seed",
    "draw",
    "candidates",
    "assigned_to",
    "pool",
    "score",
    "scores",
    "threshold",
    "rule",
    "note",
    "actor_user",
    "selected_by",
    "annual_total_after",
    "contributions",
    "model",
];

fn members(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                into.insert(key.clone());
                members(inner, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| members(v, into)),
        _ => {}
    }
}

/// A rule (by one analyst, approved by another) asking for a physical inspection of the
/// example's US smartphones, with a reason only customs may read.
pub(crate) async fn secret_rule(app: &TestApp) {
    let rule = json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "SECRET-RULE: US smartphones undervalued",
        "reason_zh": "SECRET-RULE：美国产手机低报",
        "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
    });
    let proposed = app.post("/v1/rules", "risk_analyst", None, &rule).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    let id = proposed.body["id"].as_str().unwrap();
    let approved = app
        .post(
            &format!("/v1/rules/{id}/versions/1/approval"),
            "other_risk_analyst",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
}

async fn secret_watch_entry(app: &TestApp) {
    let entry = json!({
        "kind": "seller",
        "value": "Pacific Electronics Inc.",
        "reason_en": "SECRET-WATCH: intelligence report 17",
        "reason_zh": "SECRET-WATCH：情报 17",
        "action": "document_check",
    });
    let added = app
        .post("/v1/watch-list", "risk_analyst", None, &entry)
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let id = added.body["id"].as_str().unwrap();
    let approved = app
        .post(
            &format!("/v1/watch-list/{id}/approval"),
            "other_risk_analyst",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
}

async fn open_tasks_of(app: &TestApp, id: &str) -> Vec<Value> {
    let reply = app.get("/v1/tasks?mine=false&status=open", "officer").await;
    reply.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["declaration_id"] == json!(id))
        .cloned()
        .collect()
}

/// Closes every open check of the declaration with a finding of no discrepancy.
async fn close_checks(app: &TestApp, id: &str, note: &str) {
    for task in open_tasks_of(app, id).await {
        if ![
            "document_check",
            "physical_inspection",
            "lab_sampling",
            "hold",
        ]
        .contains(&task["kind"].as_str().unwrap())
        {
            continue;
        }
        let closed = app
            .post(
                &format!("/v1/tasks/{}/finding", task["id"].as_str().unwrap()),
                "officer",
                None,
                &json!({ "discrepancy": false, "note": note }),
            )
            .await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    }
}

/// Every route a declaration answers on, as `user` (None: no token).
async fn every_answer(app: &TestApp, id: &str, user: Option<&str>) -> Vec<(String, u16, String)> {
    let mut paths: Vec<String> = [
        "",
        "/events",
        "/assessments",
        "/selection",
        "/payments",
        "/scores",
        "/modification-requests",
    ]
    .iter()
    .map(|suffix| format!("/v1/declarations/{id}{suffix}"))
    .collect();
    paths.extend([
        "/v1/declarations".to_owned(),
        "/v1/tasks?mine=false".to_owned(),
        "/v1/rules".to_owned(),
        "/v1/watch-list".to_owned(),
        "/v1/models".to_owned(),
        "/v1/audit/entries".to_owned(),
        "/v1/payment-connectors".to_owned(),
        // The receipts feed: every receipt of the declaration, as the trade's webhook gets them.
        "/v1/receipts?after=0&limit=500".to_owned(),
    ]);
    let mut answers = Vec::new();
    for path in paths {
        let request = app.http.get(app.url(&path));
        let request = match user {
            Some(user) => request.bearer_auth(app.token(user)),
            None => request,
        };
        let reply = crate::helpers::send(request).await;
        answers.push((path, reply.status.as_u16(), reply.text));
    }
    answers
}

/// Defect 1: the trade read the targeting record through `/events`. Every answer the trade (or
/// anyone without a token) gets about a declaration carrying every kind of customs event is
/// checked for every secret and every customs member.
#[tokio::test]
async fn no_targeting_or_officer_fact_reaches_the_trade_by_any_route() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    secret_rule(&app).await;
    secret_watch_entry(&app).await;
    // A model in shadow scores every import at acceptance.
    crate::access::trained_model(&app, "risk_analyst").await;

    let id = app.lodged_id("broker", &example()).await;
    // Every kind of event: selection with reasons, score, tasks, a hold by hand, an officer's
    // reassessment and assessment by hand with their notes, a refused request, the bank's
    // confirmation, findings, the release.
    let hold = app
        .post(
            &format!("/v1/declarations/{id}/hold"),
            "officer",
            None,
            &json!({"reason": "SECRET-HOLD: seal differs"}),
        )
        .await;
    assert_eq!(hold.status, StatusCode::OK, "{}", hold.text);
    let reassessed = app
        .post(
            &format!("/v1/declarations/{id}/assessments"),
            "officer",
            None,
            &json!({"reason": "SECRET-NOTE: valuation doubt"}),
        )
        .await;
    assert_eq!(
        reassessed.status,
        StatusCode::CREATED,
        "{}",
        reassessed.text
    );
    let mut corrected = example();
    corrected["transport"]["voyage"] = json!("048E");
    let requested = app
        .post(
            &format!("/v1/declarations/{id}/amendments"),
            "broker",
            None,
            &json!({"reason": "voyage corrected", "declaration": corrected}),
        )
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.text);
    let request = requested.body["request"].as_str().unwrap();
    let refused = app
        .post(
            &format!("/v1/declarations/{id}/modification-requests/{request}/decision"),
            "officer",
            None,
            &json!({"approve": false, "reason": "send the bill of lading"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text);
    let manual = app
        .post(
            &format!("/v1/declarations/{id}/assessments/manual"),
            "officer",
            None,
            &json!({"customs_duty": "0", "import_vat": "1040.00", "reason": "SECRET-MANUAL: by hand"}),
        )
        .await;
    assert_eq!(manual.status, StatusCode::CREATED, "{}", manual.text);
    app.settle(&id, "TB-SECRET").await;
    close_checks(&app, &id, "SECRET-NOTE: seal checked").await;
    let released = app
        .post(
            &format!("/v1/declarations/{id}/release"),
            "officer",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);

    // What customs reads holds every secret (so the check below can fail).
    let customs: String = every_answer(&app, &id, Some("officer"))
        .await
        .into_iter()
        .map(|(_, _, text)| text)
        .collect();
    for secret in SECRETS {
        assert!(customs.contains(secret), "customs should see {secret}");
    }
    let officer_id = open_or_closed_officer(&app, &id).await;
    assert!(customs.contains(&officer_id));

    let mut checked = 0;
    for user in [
        Some("broker"),
        Some("declarant"),
        Some("other_declarant"),
        None,
    ] {
        for (path, status, text) in every_answer(&app, &id, user).await {
            checked += 1;
            for secret in SECRETS {
                assert!(
                    !text.contains(secret),
                    "{user:?} GET {path} ({status}) shows {secret}: {text}"
                );
            }
            assert!(
                !text.contains(&officer_id),
                "{user:?} GET {path} ({status}) names the officer: {text}"
            );
            if status == 200 {
                let mut seen = BTreeSet::new();
                members(
                    &serde_json::from_str(&text).unwrap_or(Value::Null),
                    &mut seen,
                );
                for member in CUSTOMS_MEMBERS {
                    assert!(
                        !seen.contains(member),
                        "{user:?} GET {path} has the customs member {member}: {text}"
                    );
                }
            }
        }
    }
    assert_eq!(checked, 4 * 15);

    // The trade sees where the declaration stands and its receipts, no reason among them.
    let trade = app
        .get(&format!("/v1/declarations/{id}/events"), "broker")
        .await;
    assert_eq!(trade.body["clearance_status"], "released", "{}", trade.text);
    let receipts: Vec<&str> = trade.body["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt"].as_str().unwrap())
        .collect();
    for expected in [
        "accepted",
        "assessed",
        "checks_required",
        "held",
        "amendment_requested",
        "request_refused",
        "payment_confirmed",
        "check_completed",
        "hold_lifted",
        "released",
    ] {
        assert!(receipts.contains(&expected), "{expected} in {receipts:?}");
    }
    // The feed (and so the webhook) carries exactly these receipts of the declaration.
    let feed = app.get("/v1/receipts?after=0&limit=500", "broker").await;
    let fed: Vec<&Value> = feed.body["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["declaration_id"] == json!(id))
        .map(|r| &r["receipt"])
        .collect();
    let listed: Vec<&Value> = trade.body["receipts"].as_array().unwrap().iter().collect();
    assert_eq!(fed, listed);
}

/// The user id of the officer the declaration's tasks went to.
async fn open_or_closed_officer(app: &TestApp, id: &str) -> String {
    let reply = app.get("/v1/tasks?mine=false", "officer").await;
    reply.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["declaration_id"] == json!(id))
        .unwrap()["assigned_to"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Defect 3: the trade amended the origin of a red-lane declaration, or cancelled it to lodge
/// again for a fresh draw, orphaning the inspection. Under customs control both are requests; a
/// cancellation is not approved while the inspection is open; an approved amendment is
/// targeted again.
#[tokio::test]
async fn under_inspection_the_trade_requests_and_the_inspection_is_never_orphaned() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    secret_rule(&app).await;
    let id = app.lodged_id("broker", &example()).await;
    let path = format!("/v1/declarations/{id}");
    let status = app.get(&format!("{path}/events"), "broker").await;
    assert_eq!(
        status.body["clearance_status"], "under_inspection",
        "{}",
        status.text
    );

    // The origin "corrected" to dodge the rule is only a request; nothing changes.
    let mut dodged = example();
    dodged["items"][0]["origin_country"] = json!("VN");
    let amendment = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": "origin corrected", "declaration": dodged}),
        )
        .await;
    assert_eq!(amendment.status, StatusCode::ACCEPTED, "{}", amendment.text);
    let read = app.get(&path, "broker").await;
    assert_eq!(read.body["declaration"]["items"][0]["origin_country"], "US");
    // Another officer than the one assigned cannot decide it; the assigned one approves it, and
    // the amended declaration is targeted again: its inspection still stands.
    let request = amendment.body["request"].as_str().unwrap();
    let decide = format!("{path}/modification-requests/{request}/decision");
    let by_broker = app
        .post(&decide, "broker", None, &json!({"approve": true}))
        .await;
    by_broker.assert_problem(403);
    let no_reason = app
        .post(&decide, "officer", None, &json!({"approve": false}))
        .await;
    no_reason.assert_problem(422);
    let approved = app
        .post(&decide, "officer", None, &json!({"approve": true}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let twice = app
        .post(&decide, "officer", None, &json!({"approve": true}))
        .await;
    twice.assert_problem(409);
    let events = app.get(&format!("{path}/events"), "officer").await;
    let targeted = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "declaration.targeted")
        .count();
    assert_eq!(targeted, 2, "the approved amendment is targeted again");
    let inspections: Vec<Value> = open_tasks_of(&app, &id)
        .await
        .into_iter()
        .filter(|t| t["kind"] == "physical_inspection")
        .collect();
    assert_eq!(inspections.len(), 1, "{inspections:#?}");

    // A cancellation to lodge again for a fresh draw: requested, and not approved while the
    // inspection is open.
    let cancellation = app
        .post(
            &format!("{path}/cancellation"),
            "broker",
            None,
            &json!({"reason": "lodged in error"}),
        )
        .await;
    assert_eq!(
        cancellation.status,
        StatusCode::ACCEPTED,
        "{}",
        cancellation.text
    );
    let request = cancellation.body["request"].as_str().unwrap();
    let decide = format!("{path}/modification-requests/{request}/decision");
    let early = app
        .post(&decide, "officer", None, &json!({"approve": true}))
        .await;
    early.assert_problem(409);
    assert_eq!(
        early.body["type"], "urn:opencustoms:problem:open-tasks",
        "{}",
        early.text
    );
    close_checks(&app, &id, "as declared").await;
    let approved = app
        .post(&decide, "officer", None, &json!({"approve": true}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let read = app.get(&path, "broker").await;
    assert_eq!(read.body["status"], "cancelled");
    assert!(open_tasks_of(&app, &id).await.is_empty());
}

/// Defect 4: payments were whatever the trade typed. Now only a registered bank's signed
/// confirmation counts, once per bank reference across the platform, never above what is owed.
#[tokio::test]
async fn only_a_registered_banks_signed_confirmation_pays_and_never_more_than_is_owed() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    let first = app.lodge("broker", &example()).await;
    let second = app.lodge("broker", &example()).await;
    let (id, number) = (
        first.body["id"].as_str().unwrap().to_owned(),
        first.body["number"].as_str().unwrap().to_owned(),
    );
    let other_number = second.body["number"].as_str().unwrap().to_owned();
    let owed = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    let outstanding = owed.body["outstanding"].as_str().unwrap().to_owned();
    let paid_at = "2026-11-27T10:00:00+08:00";

    // The trade's own word is a claim: bounded, and covering nothing.
    let claim = app
        .post(
            &format!("/v1/declarations/{id}/payments"),
            "broker",
            None,
            &json!({"kind": "payment", "amount": "100000004.00", "reference": "X"}),
        )
        .await;
    claim.assert_problem(409);
    assert_eq!(claim.body["type"], "urn:opencustoms:problem:overpayment");

    // Forged, unregistered and tampered confirmations are refused before anything is read.
    let mut forged = bank().confirm(&number, &outstanding, "TB-1", paid_at);
    forged.amount = "1.00".to_owned();
    app.confirm(&forged).await.assert_problem(403);
    let stranger = clearance::payments::SimulatedBank::new("TESTBANK", [1; 32]);
    app.confirm(&stranger.confirm(&number, &outstanding, "TB-1", paid_at))
        .await
        .assert_problem(403);
    let unknown = clearance::payments::SimulatedBank::new("NOBANK", [42; 32]);
    app.confirm(&unknown.confirm(&number, &outstanding, "TB-1", paid_at))
        .await
        .assert_problem(403);
    // Every field is named when wrong.
    let wrong = app
        .confirm(&bank().confirm(&number, "-5", "TB 1", "yesterday"))
        .await;
    wrong.assert_problem(422);
    let paths: Vec<String> = wrong.error_paths().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["bank_reference", "amount", "paid_at"],
        "{}",
        wrong.text
    );

    // The real one counts once, however often it is sent.
    let confirmation = bank().confirm(&number, &outstanding, "TB-1", paid_at);
    let counted = app.confirm(&confirmation).await;
    assert_eq!(counted.status, StatusCode::CREATED, "{}", counted.text);
    assert_eq!(counted.body["outstanding"], "0.00");
    let again = app.confirm(&confirmation).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["paid"], json!(outstanding));
    // The same bank reference on another declaration is refused.
    let reused = app
        .confirm(&bank().confirm(&other_number, &outstanding, "TB-1", paid_at))
        .await;
    reused.assert_problem(409);
    assert_eq!(
        reused.body["type"],
        "urn:opencustoms:problem:bank-reference-used"
    );
    // Nothing is left to pay: more is an overpayment, even a cent.
    let more = app
        .confirm(&bank().confirm(&number, "0.01", "TB-2", paid_at))
        .await;
    more.assert_problem(409);
    assert_eq!(more.body["type"], "urn:opencustoms:problem:overpayment");

    // At the edge of the amount bound: the largest amount is an overpayment here (409), one
    // cent more is not an amount at all (422), so sums never come near overflowing.
    let max = clearance::payments::PAYMENT_AMOUNT_MAX.to_string();
    let at_max = app
        .confirm(&bank().confirm(&other_number, &format!("{max}.00"), "TB-3", paid_at))
        .await;
    at_max.assert_problem(409);
    let above = app
        .confirm(&bank().confirm(&other_number, &format!("{max}.01"), "TB-4", paid_at))
        .await;
    above.assert_problem(422);
    assert_eq!(above.error_paths()[0].0, "amount");
    // The declaration still answers: no sum overflowed.
    let read = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);

    // A withdrawn connector's confirmations are refused.
    let withdrawn = app
        .post(
            "/v1/payment-connectors/TESTBANK/withdrawal",
            "admin",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
    let after = app
        .confirm(&bank().confirm(&other_number, "1.00", "TB-5", paid_at))
        .await;
    after.assert_problem(403);
}
