//! `GET /v1/reference/{list}` and code lists as releases over HTTP: imported under
//! `/v1/releases` with the list's name as kind, the list in force served with its release and
//! effective date, an unknown list a 404 problem, the page size bounded.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{example, spawn_app_at};

#[tokio::test]
async fn a_code_list_release_is_served_from_its_effective_date() {
    let app = spawn_app_at("2026-11-27T02:00:00Z").await;

    let sample = app.get("/v1/reference/customs_office", "declarant").await;
    assert_eq!(sample.status, StatusCode::OK, "{}", sample.text);
    assert_eq!(sample.body["release"], "cn-sample-2026");
    assert_eq!(sample.body["total"], 41);
    assert_eq!(sample.body["entries"][0]["code"], "0100");
    assert_eq!(sample.body["entries"][0]["name_zh"], "北京海关");

    let mut office_9999 = example();
    office_9999["office_of_lodging"] = "9999".into();
    let refused = app.lodge("broker", &office_9999).await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [("office_of_lodging".to_owned(), "unknown_code".to_owned())]
    );

    let import = json!({
        "kind": "customs_office",
        "label": "offices with 9999",
        "files": {"customs_office.csv": "code,name_en,name_zh\n2200,Shanghai Customs,上海海关\n9999,Test Customs,测试海关\n"},
    });
    let imported = app.post("/v1/releases", "admin", None, &import).await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(imported.body["id"], "RCO-0001");
    let dry_run = app
        .get("/v1/releases/RCO-0001/dry-run?sample=5", "admin")
        .await;
    assert_eq!(dry_run.status, StatusCode::OK, "{}", dry_run.text);
    assert_eq!(dry_run.body["added"][0]["code"], "9999");
    assert_eq!(dry_run.body["removed"].as_array().unwrap().len(), 40);
    let activated = app
        .post(
            "/v1/releases/RCO-0001/activation",
            "admin",
            None,
            &json!({"effective_from": "2026-11-01"}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);

    let served = app.get("/v1/reference/customs_office", "officer").await;
    assert_eq!(
        (
            &served.body["release"],
            &served.body["effective_from"],
            &served.body["total"]
        ),
        (&json!("RCO-0001"), &json!("2026-11-01"), &json!(2))
    );
    let before = app
        .get("/v1/reference/customs_office?date=2026-10-31", "officer")
        .await;
    assert_eq!(before.body["release"], "cn-sample-2026");
    let accepted = app.lodge("broker", &office_9999).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);

    let rolled_back = app
        .post(
            "/v1/releases/rollback",
            "admin",
            None,
            &json!({"kind": "customs_office", "reason": "9999 opens next year"}),
        )
        .await;
    assert_eq!(rolled_back.status, StatusCode::OK, "{}", rolled_back.text);
    app.lodge("broker", &office_9999).await.assert_problem(422);
    let id = accepted.body["id"].as_str().unwrap();
    let read = app.get(&format!("/v1/declarations/{id}"), "broker").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
}

#[tokio::test]
async fn unknown_lists_and_pages_out_of_bounds_are_problems() {
    let app = spawn_app_at("2026-11-27T02:00:00Z").await;

    let unknown = app.get("/v1/reference/customs_offices", "broker").await;
    unknown.assert_problem(404);
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains("customs_office")
    );

    let at_limit = app
        .get("/v1/reference/hs_subheading?size=1000&page=2", "broker")
        .await;
    assert_eq!(at_limit.status, StatusCode::OK, "{}", at_limit.text);
    assert_eq!(at_limit.body["entries"].as_array().unwrap().len(), 1000);
    let over = app
        .get("/v1/reference/hs_subheading?size=1001", "broker")
        .await;
    over.assert_problem(422);
    assert_eq!(
        over.error_paths(),
        [("size".to_owned(), "out_of_range".to_owned())]
    );
    let wrong = app
        .get("/v1/reference/levy_mode?page=first&colour=red", "broker")
        .await;
    wrong.assert_problem(422);

    let hints = app
        .get("/v1/reference/statutory_unit?size=2", "auditor")
        .await;
    assert_eq!(hints.status, StatusCode::OK, "{}", hints.text);
    assert_eq!(hints.body["entries"][0]["hs_prefix"], "02");
    assert_eq!(hints.body["entries"][0]["units"], json!(["KGM"]));
}
