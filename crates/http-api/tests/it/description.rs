use reqwest::StatusCode;

use crate::helpers::{example, send, spawn_app};

#[tokio::test]
async fn the_openapi_document_is_reviewed_as_a_snapshot() {
    let app = spawn_app().await;

    let document = send(app.http.get(app.url("/openapi.json"))).await;

    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["openapi"], "3.1.0");
    // The release changes with every version; the snapshot reviews the rest.
    let mut body = document.body;
    assert_eq!(body["info"]["version"], env!("CARGO_PKG_VERSION"));
    body["info"]["version"] = "<CARGO_PKG_VERSION>".into();
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn every_schema_the_document_refers_to_is_in_it() {
    let app = spawn_app().await;

    let document = send(app.http.get(app.url("/openapi.json"))).await;

    let prefix = "#/components/schemas/";
    let text = document.body.to_string();
    let dangling: Vec<&str> = text
        .match_indices(prefix)
        .map(|(at, _)| {
            let name = &text[at + prefix.len()..];
            &name[..name.find('"').unwrap()]
        })
        .filter(|name| document.body["components"]["schemas"][name].is_null())
        .collect();
    assert!(dangling.is_empty(), "{dangling:?}");
}

#[tokio::test]
async fn the_docs_are_a_browsable_page() {
    let app = spawn_app().await;

    let docs = send(app.http.get(app.url("/docs"))).await;

    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.content_type().starts_with("text/html"),
        "{}",
        docs.content_type()
    );
    assert!(docs.text.contains("swagger"), "{}", docs.text);
}

#[tokio::test]
async fn health_needs_no_token() {
    let app = spawn_app().await;

    let health = send(app.http.get(app.url("/v1/health"))).await;

    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["store"], "ok");
    assert_eq!(health.body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health.body["schema_version"], store_sqlite::SCHEMA_VERSION);
}

#[tokio::test]
async fn metrics_count_lodgings_and_requests_by_route_and_status() {
    let app = spawn_app().await;
    let lodged = app.lodge("broker", &example()).await;
    assert_eq!(lodged.status, StatusCode::CREATED);
    let refused = app.lodge("officer", &example()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let metrics = send(app.http.get(app.url("/metrics"))).await;

    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    for line in [
        r#"lodgements_total{outcome="accepted"} 1"#,
        r#"lodgements_total{outcome="rejected"} 1"#,
        r#"http_requests_total{route="/v1/declarations",method="POST",status="201"} 1"#,
        r#"http_request_duration_seconds_bucket{route="/v1/declarations",le="+Inf"} 2"#,
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "{line} in\n{}",
            metrics.text
        );
    }
}
