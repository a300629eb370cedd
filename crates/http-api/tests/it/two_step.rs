use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, example, spawn_app};

/// A summary declaration (两步申报, step one), released by an officer; returns its number.
async fn released_summary(app: &TestApp) -> String {
    let mut summary = example();
    summary["kind"] = json!("summary");
    let lodged = app.lodge("broker", &summary).await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    let id = lodged.body["id"].as_str().unwrap();
    let released = app
        .post(
            &format!("/v1/declarations/{id}/release"),
            "officer",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    lodged.body["number"].as_str().unwrap().to_owned()
}

fn full_of(summary_number: &str) -> Value {
    let mut full = example();
    full["kind"] = json!("full");
    full["summary_number"] = json!(summary_number);
    full
}

#[tokio::test]
async fn a_full_declaration_completes_its_released_summary() {
    // Arrange
    let app = spawn_app().await;
    let summary_number = released_summary(&app).await;

    // Act
    let full = app.lodge("broker", &full_of(&summary_number)).await;
    let summary = app
        .get(&format!("/v1/declarations/{summary_number}"), "broker")
        .await;

    // Assert
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.text);
    assert_eq!(full.body["summary_number"], summary_number.as_str());
    assert_eq!(summary.body["completed_by"], full.body["number"]);
}

#[tokio::test]
async fn a_full_declaration_that_disagrees_with_its_summary_is_refused_naming_the_fields() {
    let app = spawn_app().await;
    let summary_number = released_summary(&app).await;
    let mut full = full_of(&summary_number);
    full["transport"]["document"]["number"] = json!("COSU6999999990");
    full["items"][0]["origin_country"] = json!("VN");

    let refused = app.lodge("broker", &full).await;

    refused.assert_problem(422);
    let paths: Vec<String> = refused
        .error_paths()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert!(
        paths.contains(&"transport.document.number".to_owned()),
        "{}",
        refused.text
    );
    assert!(
        paths.contains(&"items[0].origin_country".to_owned()),
        "{}",
        refused.text
    );
    let summary = app
        .get(&format!("/v1/declarations/{summary_number}"), "broker")
        .await;
    assert_eq!(
        summary.body.get("completed_by"),
        None,
        "a refused full declaration completes nothing"
    );
}
