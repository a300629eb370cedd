use std::time::Duration;

use http_api::{ApiConfig, BODY_LIMIT_BYTES_DEFAULT, RELEASE_BODY_LIMIT_BYTES_DEFAULT};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    example, rates_import, roomy_config, sample_file, send, spawn_app, spawn_app_with,
};

/// The example padded with trailing whitespace (still valid JSON) to exactly `length` bytes.
fn example_of_length(length: usize) -> String {
    let mut text = example().to_string();
    assert!(text.len() <= length);
    text.push_str(&" ".repeat(length - text.len()));
    text
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_taken_and_one_byte_more_is_413() {
    let app = spawn_app_with(ApiConfig {
        body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
        ..roomy_config()
    })
    .await;

    let at_limit = app
        .post_bytes(
            "/v1/declarations",
            "broker",
            None,
            example_of_length(BODY_LIMIT_BYTES_DEFAULT),
        )
        .await;
    let over = app
        .post_bytes(
            "/v1/declarations",
            "broker",
            None,
            example_of_length(BODY_LIMIT_BYTES_DEFAULT + 1),
        )
        .await;

    assert_eq!(at_limit.status, StatusCode::CREATED, "{}", at_limit.text);
    over.assert_problem(413);
}

/// A release import padded with trailing whitespace (still valid JSON) to exactly `length` bytes.
fn release_of_length(length: usize) -> String {
    let mut text = rates_import("padded", &sample_file("exchange_rates.csv")).to_string();
    assert!(text.len() <= length);
    text.push_str(&" ".repeat(length - text.len()));
    text
}

#[tokio::test]
async fn a_release_import_takes_bodies_up_to_its_own_limit_and_other_routes_do_not() {
    let body_limit_bytes = 4000;
    let release_body_limit_bytes = 20_000;
    let app = spawn_app_with(ApiConfig {
        body_limit_bytes,
        release_body_limit_bytes,
        ..roomy_config()
    })
    .await;

    let at_limit = app
        .post_bytes(
            "/v1/releases",
            "admin",
            None,
            release_of_length(release_body_limit_bytes),
        )
        .await;
    let over = app
        .post_bytes(
            "/v1/releases",
            "admin",
            None,
            release_of_length(release_body_limit_bytes + 1),
        )
        .await;
    let estimate_over = app
        .post_bytes(
            "/v1/estimates",
            "broker",
            None,
            example_of_length(body_limit_bytes + 1),
        )
        .await;

    assert_eq!(at_limit.status, StatusCode::CREATED, "{}", at_limit.text);
    over.assert_problem(413);
    assert!(
        over.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 20000 bytes"),
        "{}",
        over.text
    );
    estimate_over.assert_problem(413);
    assert!(
        estimate_over.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 4000 bytes"),
        "{}",
        estimate_over.text
    );
}

#[test]
fn the_default_release_body_limit_is_what_the_description_says() {
    // Larger than the largest release the service takes: checked where it is defined.
    // The route's description in the OpenAPI document says 80 MiB.
    assert_eq!(RELEASE_BODY_LIMIT_BYTES_DEFAULT, 80 * 1024 * 1024);
}

/// A release sent in chunks, without a Content-Length, is stopped while it is read at the
/// release limit rather than the other routes' limit.
#[tokio::test]
async fn a_chunked_release_over_its_limit_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let release_body_limit_bytes = 5000;
    let app = spawn_app_with(ApiConfig {
        body_limit_bytes: 1000,
        release_body_limit_bytes,
        ..roomy_config()
    })
    .await;
    let chunk = "x".repeat(release_body_limit_bytes + 1);
    let request = format!(
        "POST /v1/releases HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.token("admin"),
        chunk.len()
    );

    let mut stream = tokio::net::TcpStream::connect(app.socket).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();

    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("at most 5000 bytes"), "{response}");
}

/// A body sent in chunks, without a Content-Length, is stopped while it is read.
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body_limit_bytes = 1000;
    let app = spawn_app_with(ApiConfig {
        body_limit_bytes,
        ..roomy_config()
    })
    .await;
    let chunk = "x".repeat(body_limit_bytes + 1);
    let request = format!(
        "POST /v1/declarations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.token("broker"),
        chunk.len()
    );

    let mut stream = tokio::net::TcpStream::connect(app.socket).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();

    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(response.contains("at most 1000 bytes"), "{response}");
}

/// 999 items, each with a 255-character Chinese description (3 bytes a character in UTF-8).
fn largest_declaration() -> serde_json::Value {
    let mut document = example();
    let mut item = document["items"][0].clone();
    item["description"] = json!("智".repeat(255));
    item["quantity"]["value"] = json!("1");
    item["statutory_quantities"] = json!([{ "value": "1", "unit": "C62" }]);
    item["unit_price"] = json!("10.00");
    item["amount"] = json!("10.00");
    document["items"] = json!(vec![item; 999]);
    document["invoice"]["amount"] = json!("9990.00");
    document
}

#[tokio::test]
async fn the_default_body_limit_takes_a_declaration_of_999_items() {
    let app = spawn_app().await;
    let document = largest_declaration();
    assert!(
        document.to_string().len() < BODY_LIMIT_BYTES_DEFAULT / 2,
        "the limit leaves room"
    );

    let lodged = app.lodge("broker", &document).await;

    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
}

#[tokio::test]
async fn a_clients_burst_plus_one_is_429_while_another_client_proceeds() {
    // Arrange: one request a second, three at once.
    let burst = 3;
    let app = spawn_app_with(ApiConfig {
        requests_per_second_per_client: 1,
        burst_per_client: burst,
        ..roomy_config()
    })
    .await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..=burst {
        statuses.push(app.get("/v1/declarations", "officer").await);
    }
    let other_client = app.get("/v1/declarations", "auditor").await;

    // Assert
    let (within, over) = statuses.split_at(burst as usize);
    assert!(within.iter().all(|reply| reply.status == StatusCode::OK));
    over[0].assert_problem(429);
    let retry_after: u64 = over[0].headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(other_client.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_usable_token_are_limited_by_address_before_the_lookup() {
    let burst = 2;
    let app = spawn_app_with(ApiConfig {
        requests_per_second_per_client: 1,
        burst_per_client: burst,
        ..roomy_config()
    })
    .await;
    let guess = |n: u32| {
        app.http
            .get(app.url("/v1/declarations"))
            .bearer_auth(format!("oc_guess{n}"))
    };
    // A token not seen before pays one request from its address too, before it is looked up.
    let first = app.get("/v1/declarations", "officer").await;

    let mut replies = Vec::new();
    for n in 0..burst + 3 {
        replies.push(send(guess(n)).await);
    }
    let known = app.get("/v1/declarations", "officer").await;
    // Read from another address, whose budget is its own.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let metrics = send(elsewhere.get(app.url("/metrics"))).await;

    assert_eq!(first.status, StatusCode::OK);
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses,
        [401, 429, 429, 429, 429],
        "the address had {burst} requests"
    );
    replies[1].assert_problem(429);
    assert_eq!(
        known.status,
        StatusCode::OK,
        "a token that authenticated has its own budget"
    );
    // One guess was looked up; the four over the address's budget never reached the store.
    assert!(
        metrics
            .text
            .lines()
            .any(|line| line == "unknown_tokens_total 1"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let url = app.url("/v1/declarations");

    let missing = send(app.http.get(&url)).await;
    let unknown = send(app.http.get(&url).bearer_auth("oc_0000")).await;
    let other_scheme = send(app.http.get(&url).basic_auth("broker", Some("secret"))).await;

    for reply in [missing, unknown, other_scheme] {
        reply.assert_problem(401);
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;

    let unknown = app.get("/v2/declarations", "broker").await;
    let wrong_method = send(
        app.http
            .delete(app.url("/v1/declarations"))
            .bearer_auth(app.token("broker")),
    )
    .await;
    let wrong_method_on_health = send(app.http.put(app.url("/v1/health"))).await;

    unknown.assert_problem(404);
    wrong_method.assert_problem(405);
    wrong_method_on_health.assert_problem(405);
    assert_eq!(wrong_method_on_health.headers["allow"], "GET,HEAD");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let url = app.url("/v1/declarations");

    let text = send(
        app.http
            .post(&url)
            .bearer_auth(app.token("broker"))
            .header("content-type", "text/plain")
            .body("hi"),
    )
    .await;
    let untyped = send(
        app.http
            .post(&url)
            .bearer_auth(app.token("broker"))
            .body(example().to_string()),
    )
    .await;

    text.assert_problem(415);
    untyped.assert_problem(415);
}

#[tokio::test]
async fn an_idempotency_key_of_the_longest_length_is_taken_and_a_longer_one_is_not() {
    let app = spawn_app().await;
    let longest = "k".repeat(clearance::IDEMPOTENCY_KEY_LENGTH_MAX);
    let too_long = "k".repeat(clearance::IDEMPOTENCY_KEY_LENGTH_MAX + 1);

    let taken = app
        .post("/v1/declarations", "broker", Some(&longest), &example())
        .await;
    let refused = app
        .post("/v1/declarations", "broker", Some(&too_long), &example())
        .await;

    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [("Idempotency-Key".to_owned(), "invalid_format".to_owned())]
    );
}

#[tokio::test]
async fn a_clients_request_id_is_kept_and_a_missing_one_is_made() {
    let app = spawn_app().await;
    let url = app.url("/v1/declarations/unknown");

    let given = send(
        app.http
            .get(&url)
            .bearer_auth(app.token("broker"))
            .header("x-request-id", "trace-42"),
    )
    .await;
    let made = send(app.http.get(&url).bearer_auth(app.token("broker"))).await;

    assert_eq!(given.headers["x-request-id"], "trace-42");
    given.assert_problem(404);
    let made_id = made.headers["x-request-id"].to_str().unwrap();
    assert_eq!(made_id.len(), 36, "a UUID: {made_id}");
    made.assert_problem(404);
}

#[tokio::test]
async fn the_production_limits_are_the_named_defaults() {
    let production = ApiConfig::production();

    assert_eq!(production.body_limit_bytes, BODY_LIMIT_BYTES_DEFAULT);
    assert_eq!(
        production.release_body_limit_bytes,
        RELEASE_BODY_LIMIT_BYTES_DEFAULT
    );
    assert_eq!(
        production.requests_per_second_per_client,
        http_api::REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT
    );
    assert_eq!(
        production.burst_per_client,
        http_api::BURST_PER_CLIENT_DEFAULT
    );
    assert_eq!(production.request_timeout, Duration::from_secs(30));
}

#[tokio::test]
async fn the_open_routes_are_limited_by_address_too() {
    let burst = 2;
    let app = spawn_app_with(ApiConfig {
        requests_per_second_per_client: 1,
        burst_per_client: burst,
        ..roomy_config()
    })
    .await;

    let mut replies = Vec::new();
    for _ in 0..=burst {
        replies.push(send(app.http.get(app.url("/openapi.json"))).await);
    }
    // The health probe is charged to no budget (see `operations`).
    let health = send(app.http.get(app.url("/v1/health"))).await;

    assert!(
        replies[..burst as usize]
            .iter()
            .all(|reply| reply.status == StatusCode::OK)
    );
    replies[burst as usize].assert_problem(429);
    assert_eq!(health.status, StatusCode::OK);
}
