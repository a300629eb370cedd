//! Transport layers on routes the real API does not have (one that panics, one that sleeps), and
//! the rate limiter at its production limits. The API itself is tested end to end in `tests/it`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use tower::ServiceExt;
use wire::Problem;

use super::*;

fn app_with(routes: Router, config: &ApiConfig) -> Router {
    with_transport_layers(routes, config, Arc::new(Metrics::new()))
}

async fn call(app: Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Option<Problem>) {
    let request = Request::get(path)
        .header("x-request-id", "test-request")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.expect("the router never fails");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).ok(),
    )
}

/// The n-th of a run of distinct client addresses.
fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n))
}

#[tokio::test]
async fn a_panicking_handler_answers_a_500_problem_with_the_request_id() {
    // Arrange
    async fn boom() -> &'static str {
        panic!("the handler broke")
    }
    let routes = Router::new().route("/boom", get(boom));
    let app = app_with(routes, &ApiConfig::production());

    // Act
    let (status, headers, problem) = call(app, "/boom").await;

    // Assert
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
    let problem = problem.expect("a problem body");
    assert_eq!(problem.request_id.as_deref(), Some("test-request"));
    assert!(
        !problem.detail.contains("broke"),
        "the panic message is logged, never shown"
    );
}

/// Paused time: the sleeps and the timeout fire in order without the test waiting 30 s.
#[tokio::test(start_paused = true)]
async fn a_request_just_within_the_timeout_is_answered_and_one_just_over_gets_503() {
    let config = ApiConfig::production();
    let sleeping_for = |pause: Duration| {
        let routes = Router::new().route(
            "/slow",
            get(move || async move { tokio::time::sleep(pause).await }),
        );
        app_with(routes, &config)
    };
    let millisecond = Duration::from_millis(1);

    let (within, _, _) = call(sleeping_for(REQUEST_TIMEOUT_DEFAULT - millisecond), "/slow").await;
    let (over, headers, problem) =
        call(sleeping_for(REQUEST_TIMEOUT_DEFAULT + millisecond), "/slow").await;

    assert_eq!(within, StatusCode::OK);
    assert_eq!(over, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    let problem = problem.expect("a problem body");
    assert_eq!(
        problem.problem_type,
        format!("{PROBLEM_TYPE_PREFIX}unavailable")
    );
}

/// The request timeout's 503 (made by tower-http, not by a handler) is counted as a refusal for
/// the timeout, and a request that ends is no longer in progress.
#[tokio::test(start_paused = true)]
async fn a_timed_out_request_is_counted_as_a_refusal_for_the_timeout() {
    let config = ApiConfig::production();
    let routes = Router::new().route(
        "/slow",
        get(|| async { tokio::time::sleep(REQUEST_TIMEOUT_DEFAULT * 2).await }),
    );
    let metrics = Arc::new(Metrics::new());
    let app = with_transport_layers(routes, &config, metrics.clone());

    let (status, _, _) = call(app, "/slow").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let text = metrics.render(crate::monitoring::Exposition::default());
    for line in [
        r#"http_refusals_total{reason="timeout"} 1"#,
        r#"http_refusals_total{reason="unavailable"} 0"#,
        "http_requests_in_progress 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn bare_error_responses_of_the_framework_become_problems() {
    let routes = Router::new().route("/only-get", get(|| async { "ok" }));
    let app = app_with(routes, &ApiConfig::production());

    let request = Request::post("/only-get").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        PROBLEM_CONTENT_TYPE
    );
    assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
    assert!(
        response.headers().contains_key("x-request-id"),
        "a request id is made when the client sends none"
    );
}

#[test]
fn a_client_gets_its_burst_and_not_one_request_more() {
    let limiter = ClientLimiter::new(&ApiConfig::production(), RATE_LIMITED_CLIENTS_MAX);

    // The checks take microseconds; the budget refills one request every 50 ms.
    let n_admitted = (0..=BURST_PER_CLIENT_DEFAULT)
        .filter(|_| limiter.check_address(address(1)))
        .count();

    assert_eq!(n_admitted, BURST_PER_CLIENT_DEFAULT as usize);
    assert!(
        limiter.check_address(address(2)),
        "another client has its own budget"
    );
}

#[test]
fn the_rate_limiter_forgets_idle_clients_only_once_it_holds_the_most_it_may() {
    // Arrange: one client fewer than the bound, each with one request spent.
    let limiter = ClientLimiter::new(&ApiConfig::production(), RATE_LIMITED_CLIENTS_MAX);
    let n_clients = RATE_LIMITED_CLIENTS_MAX as u32;
    for n in 0..n_clients - 1 {
        assert!(limiter.check_address(address(n)));
    }
    // Long enough for every spent request to be refilled: the clients are idle again.
    let refill = Duration::from_secs(1) / REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT * 2;

    // Act and assert: below the bound, idle clients are kept.
    std::thread::sleep(refill);
    assert!(limiter.check_address(address(n_clients - 1)));
    assert_eq!(limiter.n_clients(), RATE_LIMITED_CLIENTS_MAX);

    // At the bound, the idle ones are forgotten before the next client is counted.
    std::thread::sleep(refill);
    assert!(limiter.check_address(address(n_clients)));
    assert_eq!(limiter.n_clients(), 1);
}
