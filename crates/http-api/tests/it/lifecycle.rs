use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{example, spawn_app};

#[tokio::test]
async fn amend_release_then_amend_again_is_refused_and_the_history_shows_each_step() {
    // Arrange
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
    let amended = app
        .post(
            &format!("{path}/amendments"),
            "broker",
            None,
            &json!({"reason": "voyage corrected", "declaration": corrected}),
        )
        .await;
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
    let events = app.get(&format!("{path}/events"), "broker").await;

    // Assert
    without_reason.assert_problem(422);
    assert_eq!(
        without_reason.error_paths(),
        [("reason".to_owned(), "required".to_owned())]
    );
    assert_eq!(amended.status, StatusCode::OK, "{}", amended.text);
    assert_eq!(amended.body["version"], 2);
    assert_eq!(amended.body["declaration"]["transport"]["voyage"], "048E");
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
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let actions: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "declaration.accepted",
            "declaration.assessed",
            "declaration.targeted",
            "declaration.amended",
            "declaration.assessed",
            "declaration.released"
        ],
        "an import is assessed and selected at acceptance, assessed again with each amendment"
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

    let cancelled = app
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
    let release = app
        .post(&format!("{path}/release"), "officer", None, &json!({}))
        .await;

    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a retried cancellation answers the first result"
    );
    assert_eq!(again.body["version"], cancelled.body["version"]);
    release.assert_problem(409);
}

#[tokio::test]
async fn a_release_may_have_an_empty_body() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let url = app.url(&format!("/v1/declarations/{id}/release"));

    let released = crate::helpers::send(app.http.post(url).bearer_auth(app.token("officer"))).await;

    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(released.body["status"], "released");
}
