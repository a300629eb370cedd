//! The token lifecycle over HTTP: a revoked token, a disabled user's token and an unknown one are
//! each refused with 401 and a problem that says why in English and Chinese; listings never show
//! a secret or its hash; a withdrawn broker stops seeing the trader's declarations.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{BROKER, TRADER, TestApp, example, example_for_declarant, send, spawn_app};

async fn get_with(app: &TestApp, path: &str, token: &str) -> crate::helpers::Reply {
    send(app.http.get(app.url(path)).bearer_auth(token)).await
}

#[tokio::test]
async fn revoked_and_disabled_tokens_are_refused_with_a_reason_in_both_languages() {
    let app = spawn_app().await;
    let issued = app
        .post("/v1/tokens", "admin", None, &json!({"user": "officer"}))
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let id = issued.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("T-"), "{}", issued.text);
    let ok = get_with(&app, "/v1/tasks", &token).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let listed = app.get("/v1/tokens?user=officer", "admin").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert!(listed.body["tokens"].as_array().unwrap().len() >= 2);
    assert!(
        !listed.text.contains(&token) && !listed.text.contains("hash\""),
        "{}",
        listed.text
    );

    let revoked = app
        .post(
            &format!("/v1/tokens/{id}/revocation"),
            "admin",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.body["status"], "revoked");
    let refused = get_with(&app, "/v1/tasks", &token).await;
    refused.assert_problem(401);
    assert_eq!(
        refused.body["type"],
        "urn:opencustoms:problem:token-revoked"
    );
    assert!(refused.body["detail_zh"].as_str().unwrap().contains("吊销"));

    // The officer's seeded token works until the officer is disabled.
    let officer = app.token("officer").to_owned();
    let disabled = app
        .post(
            "/v1/users/officer/disablement",
            "admin",
            None,
            &json!({"reason": "left the service"}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
    let refused = get_with(&app, "/v1/tasks", &officer).await;
    refused.assert_problem(401);
    assert_eq!(
        refused.body["type"],
        "urn:opencustoms:problem:user-disabled"
    );

    let unknown = get_with(&app, "/v1/tasks", &format!("oc_{}", "0".repeat(64))).await;
    unknown.assert_problem(401);
    assert_eq!(
        unknown.body["type"],
        "urn:opencustoms:problem:unauthenticated"
    );

    // Somebody else's token is absent to a non-administrator; an unknown id too.
    let other = app
        .post("/v1/tokens", "admin", None, &json!({"user": "auditor"}))
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let not_theirs = app
        .post(
            &format!("/v1/tokens/{other_id}/revocation"),
            "broker",
            None,
            &json!({}),
        )
        .await;
    not_theirs.assert_problem(404);
    assert_eq!(
        not_theirs.body["type"],
        "urn:opencustoms:problem:token-not-found"
    );

    // Lifetimes are bounded: the field is named.
    let too_long = app
        .post(
            "/v1/tokens",
            "admin",
            None,
            &json!({"user": "auditor", "expires_in_days": 367}),
        )
        .await;
    too_long.assert_problem(422);
    assert_eq!(too_long.body["errors"][0]["path"], "expires_in_days");
}

#[tokio::test]
async fn a_trader_withdraws_its_brokers_authorisation() {
    let app = spawn_app().await;
    let by_trader = app.lodged_id("declarant", &example_for_declarant()).await;
    let by_broker = app.lodged_id("broker", &example()).await;
    let seen = app
        .get(&format!("/v1/declarations/{by_trader}"), "broker")
        .await;
    assert_eq!(seen.status, StatusCode::OK);

    let path = format!("/v1/enterprises/{TRADER}/brokers/{BROKER}/withdrawal");
    let withdrawn = app
        .post(
            &path,
            "declarant",
            None,
            &json!({"reason": "contract ended"}),
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);

    app.get(&format!("/v1/declarations/{by_trader}"), "broker")
        .await
        .assert_problem(404);
    let own = app
        .get(&format!("/v1/declarations/{by_broker}"), "broker")
        .await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "what it declared itself stays visible"
    );
    let lodged = app.lodge("broker", &example()).await;
    lodged.assert_problem(403);

    let again = app
        .post(&path, "declarant", None, &json!({"reason": "again"}))
        .await;
    again.assert_problem(422);
}
