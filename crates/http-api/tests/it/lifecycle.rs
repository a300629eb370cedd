//! A declaration's life as the trade and customs live it: changes under customs control are
//! requests (修撤单), goods are released only once assessed, paid (as the bank confirms) and
//! every task is closed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{bank, example, spawn_app, spawn_app_at};

fn actions(events: &Value) -> Vec<&str> {
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

fn receipts(events: &Value) -> Vec<&str> {
    events["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["receipt"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn amend_release_then_amend_again_is_refused_and_the_history_shows_each_step() {
    // Arrange: no tariff release is in force, so the import waits for a manual assessment and
    // customs has acted on it.
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let path = format!("/v1/declarations/{id}");
    let mut corrected = example();
    corrected["transport"]["voyage"] = json!("048E");

    // Act
    let without_reason = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": " ", "declaration": corrected}),
        )
        .await;
    let requested = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": "voyage corrected", "declaration": corrected}),
        )
        .await;
    let second_request = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": "and again", "declaration": corrected}),
        )
        .await;
    let unchanged = app.get(&path, "broker").await;
    let decided = app.approve_request(&id).await;
    let amended = app.get(&path, "broker").await;
    let unassessed = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    app.assess_by_hand(&id, "13.00").await;
    app.settle(&id, "TB-0001").await;
    let released = app
        .post(
            &format!("{path}/release"),
            "officer",
            None,
            &json!({"note": "documents checked"}),
        )
        .await;
    let too_late = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": "one more", "declaration": example()}),
        )
        .await;
    let customs_events = app.get(&format!("{path}/events"), "officer").await;
    let trade_events = app.get(&format!("{path}/events"), "broker").await;

    // Assert
    without_reason.assert_problem(422);
    assert_eq!(
        without_reason.error_paths(),
        [("reason".to_owned(), "required".to_owned())]
    );
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.text);
    assert_eq!(requested.body["kind"], "amendment");
    assert_eq!(requested.body["status"], "pending");
    second_request.assert_problem(409);
    assert_eq!(
        second_request.body["type"],
        "urn:opencustoms:problem:request-pending"
    );
    assert_eq!(
        unchanged.body["version"], 1,
        "a request changes nothing yet"
    );
    assert_eq!(decided.body["approved"], true);
    assert_eq!(amended.body["version"], 2);
    assert_eq!(amended.body["declaration"]["transport"]["voyage"], "048E");
    unassessed.assert_problem(409);
    assert_eq!(
        unassessed.body["type"],
        "urn:opencustoms:problem:not-assessed"
    );
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(released.body["status"], "released");
    too_late.assert_problem(409);
    assert!(
        too_late.body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be amended: it is released"),
        "{}",
        too_late.text
    );
    assert!(
        too_late.body["detail_zh"]
            .as_str()
            .unwrap()
            .contains("已放行"),
        "{}",
        too_late.text
    );
    assert_eq!(
        customs_events.status,
        StatusCode::OK,
        "{}",
        customs_events.text
    );
    assert_eq!(
        actions(&customs_events.body),
        [
            "declaration.accepted",
            "declaration.assessed",
            "task.created",
            "declaration.targeted",
            "modification.requested",
            "task.created",
            "modification.decided",
            "task.closed",
            "declaration.amended",
            "declaration.assessed",
            "declaration.targeted",
            "declaration.assessed",
            "task.closed",
            "payment.claimed",
            "declaration.paid",
            "declaration.released"
        ],
        "assessed and selected at acceptance; the request, its review and the amendment \
         reassessed and targeted again; the manual assessment; the claim and the bank's \
         confirmation; the release"
    );
    assert_eq!(trade_events.status, StatusCode::OK, "{}", trade_events.text);
    assert_eq!(trade_events.body["clearance_status"], "released");
    assert_eq!(
        receipts(&trade_events.body),
        [
            "accepted",
            "assessment_pending",
            "amendment_requested",
            "request_approved",
            "amended",
            "assessment_pending",
            "assessed",
            "payment_claimed",
            "payment_confirmed",
            "released"
        ],
        "{}",
        trade_events.text
    );
}

#[tokio::test]
async fn an_amendment_without_a_reason_field_is_refused() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;

    let refused = app
        .post(
            &format!("/v1/declarations/{id}/amendments"),
            "broker",
            None,
            &json!({"declaration": example()}),
        )
        .await;

    refused.assert_problem(422);
    assert_eq!(
        refused.body["errors"][0]["path"], "reason",
        "{}",
        refused.text
    );
    assert_eq!(
        refused.body["errors"][0]["code"], "required",
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_cancelled_declaration_cannot_be_released() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let path = format!("/v1/declarations/{id}");

    let requested = app
        .post(
            &format!("{path}/cancellation"),
            "broker",
            Some("cancel-1"),
            &json!({"reason": "lodged twice"}),
        )
        .await;
    let again = app
        .post(
            &format!("{path}/cancellation"),
            "broker",
            Some("cancel-1"),
            &json!({"reason": "lodged twice"}),
        )
        .await;
    app.approve_request(&id).await;
    let cancelled = app.get(&path, "broker").await;
    let release = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    let open = app
        .get("/v1/tasks?status=open&mine=false", "officer")
        .await
        .body["tasks"]
        .clone();

    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.text);
    assert_eq!(requested.body["kind"], "cancellation");
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "a retried request answers the first result"
    );
    assert_eq!(again.body["request"], requested.body["request"]);
    assert_eq!(cancelled.body["status"], "cancelled");
    release.assert_problem(409);
    // The pending manual assessment was withdrawn with the declaration: nothing is left open.
    assert_eq!(open.as_array().unwrap().len(), 0, "{open}");
}

#[tokio::test]
async fn a_release_may_have_an_empty_body() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    app.assess_by_hand(&id, "13.00").await;
    app.settle(&id, "TB-EMPTY").await;
    let url = app.url(&format!("/v1/declarations/{id}/release"));

    let released = crate::helpers::send(app.http.post(url).bearer_auth(app.token("officer"))).await;

    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(released.body["status"], "released");
}

/// Defect 2 of the control-integrity issue: an import with an item the tariff does not list owed
/// 0.00 and was released duty-free. It now waits for an officer's manual assessment, then for
/// the bank's confirmation of the payment.
#[tokio::test]
async fn an_import_the_engine_cannot_assess_is_assessed_by_hand_and_paid_before_release() {
    let app = spawn_app_at("2026-11-27T02:00:00Z").await;
    app.activate_sample_releases("2026-01-01").await;
    let mut document = example();
    let mut shoes = document["items"][0].clone();
    shoes["commodity_code"] = json!("6403999000");
    shoes["description"] = json!("Leather shoes");
    shoes["quantity"]["unit"] = json!("PR");
    shoes["statutory_quantities"][0]["unit"] = json!("PR");
    document["items"].as_array_mut().unwrap().push(shoes);
    // The invoice covers the shoes too (8000.00 more).
    let invoice = document["invoice"]["amount"].as_str().unwrap();
    let whole: i64 = invoice.strip_suffix(".00").unwrap().parse().unwrap();
    document["invoice"]["amount"] = json!(format!("{}.00", whole + 8000));
    let lodged = app.lodge("broker", &document).await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    let id = lodged.body["id"].as_str().unwrap().to_owned();
    let number = lodged.body["number"].as_str().unwrap().to_owned();
    let path = format!("/v1/declarations/{id}");

    let owed = app.get(&format!("{path}/payments"), "broker").await;
    assert_eq!(owed.body["assessed"], false, "{}", owed.text);
    let release = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    release.assert_problem(409);
    assert_eq!(release.body["type"], "urn:opencustoms:problem:not-assessed");
    let status = app.get(&format!("{path}/events"), "broker").await;
    assert_eq!(
        status.body["clearance_status"], "under_assessment",
        "{}",
        status.text
    );
    let queue = app.get("/v1/tasks?mine=true&status=open", "officer").await;
    assert!(
        queue.body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "manual_assessment"),
        "{}",
        queue.text
    );
    // The trade neither pays nor is told it owes before the assessment.
    let early = app
        .post(
            &format!("{path}/payments"),
            "broker",
            None,
            &json!({ "kind": "payment", "amount": "1.00", "reference": "TB-EARLY" }),
        )
        .await;
    early.assert_problem(409);
    // A finding does not close a manual assessment.
    let manual_task = queue.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "manual_assessment")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_finding = app
        .post(
            &format!("/v1/tasks/{manual_task}/finding"),
            "officer",
            None,
            &json!({ "discrepancy": false }),
        )
        .await;
    by_finding.assert_problem(422);
    // Only officers assess by hand; every amount is named when wrong.
    let by_broker = app
        .post(
            &format!("{path}/assessments/manual"),
            "broker",
            None,
            &json!({ "customs_duty": "1", "import_vat": "1", "reason": "x" }),
        )
        .await;
    by_broker.assert_problem(403);
    let wrong = app
        .post(
            &format!("{path}/assessments/manual"),
            "officer",
            None,
            &json!({ "customs_duty": "-1", "import_vat": "1.234", "reason": "" }),
        )
        .await;
    wrong.assert_problem(422);
    assert_eq!(
        wrong
            .error_paths()
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        ["customs_duty", "import_vat", "reason"]
    );
    app.assess_by_hand(&id, "3120.00").await;
    let owed = app.get(&format!("{path}/payments"), "broker").await;
    assert_eq!(owed.body["payable"], "3120.00", "{}", owed.text);
    let unpaid = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    assert_eq!(
        unpaid.body["type"], "urn:opencustoms:problem:unpaid",
        "{}",
        unpaid.text
    );
    // A confirmation for more than is owed is refused: nothing is overpaid.
    let over = app
        .confirm(&bank().confirm(&number, "3120.01", "TB-OVER", "2026-11-27T10:00:00+08:00"))
        .await;
    over.assert_problem(409);
    assert_eq!(over.body["type"], "urn:opencustoms:problem:overpayment");
    app.settle(&id, "TB-0002").await;
    let released = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
}
