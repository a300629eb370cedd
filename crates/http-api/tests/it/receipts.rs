//! Receipts pushed to the trade (issue 14): the lodging answer's lane and amount due, the
//! receipts feed, and webhook delivery against a real local receiver that fails, times out
//! and comes back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use clearance::receipts::RECEIPTS_PAGE_SIZE_MAX;
use http_api::webhooks::{self, DeliveryPolicy};
use reqwest::StatusCode;
use serde_json::{Value, json};

use http_api::ApiConfig;

use crate::helpers::{
    TestApp, example, example_for_other_declarant, roomy_config, spawn_app, spawn_app_with,
};
use crate::officer_work::inspect_us_smartphones;

#[tokio::test]
async fn the_lodging_answer_carries_the_lane_the_trade_may_see_and_the_amount_due() {
    let app = spawn_app().await;
    app.activate_sample_releases("2026-01-01").await;
    let rule = inspect_us_smartphones(&app).await;

    let key = "lodging-answer-1";
    let lodged = app
        .post("/v1/declarations", "broker", Some(key), &example())
        .await;
    let again = app
        .post("/v1/declarations", "broker", Some(key), &example())
        .await;

    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    assert_eq!(lodged.body["lane"], "red", "{}", lodged.text);
    assert_eq!(lodged.body["assessment"], "assessed");
    // The worked example of `assessment.rs`: VAT on both lines, 9,605.98 CNY.
    assert_eq!(lodged.body["amount_due"], "9605.98");
    // The lane is exactly what the trade's view of the selection shows.
    let id = lodged.body["id"].as_str().unwrap();
    let selection = app
        .get(&format!("/v1/declarations/{id}/selection"), "broker")
        .await;
    assert_eq!(selection.body["lane"], lodged.body["lane"]);
    // Nothing of why: no rule, no reason.
    assert!(!lodged.text.contains(&rule), "{}", lodged.text);
    assert!(!lodged.text.contains("smartphones"), "{}", lodged.text);
    // The first result again, with the same facts.
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["created"], false);
    for member in ["lane", "assessment", "amount_due"] {
        assert_eq!(again.body[member], lodged.body[member], "{member}");
    }
}

#[tokio::test]
async fn without_a_tariff_in_force_the_lodging_answer_says_the_assessment_is_pending() {
    let app = spawn_app().await;

    let lodged = app.lodge("broker", &example()).await;

    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    assert_eq!(lodged.body["assessment"], "pending", "{}", lodged.text);
    assert!(lodged.body.get("amount_due").is_none(), "{}", lodged.text);
}

async fn feed(app: &TestApp, user: &str, query: &str) -> Value {
    let page = app.get(&format!("/v1/receipts{query}"), user).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.body
}

/// Every receipt from the beginning, page by page of `limit`.
async fn whole_feed(app: &TestApp, user: &str, limit: usize) -> Vec<Value> {
    let mut after = "0".to_owned();
    let mut all = Vec::new();
    loop {
        let page = feed(app, user, &format!("?after={after}&limit={limit}")).await;
        let receipts = page["receipts"].as_array().unwrap().clone();
        let next = page["next_after"].as_str().unwrap().to_owned();
        // A page that is not full continues after everything it read (events that are no
        // receipt included); the end is a page that moves no further.
        if receipts.is_empty() && next == after {
            return all;
        }
        all.extend(receipts);
        after = next;
    }
}

#[tokio::test]
async fn the_feed_gives_the_enterprise_its_receipts_in_order_and_nothing_of_customs() {
    let app = spawn_app().await;
    app.activate_sample_releases("2026-01-01").await;
    let rule = inspect_us_smartphones(&app).await;
    let first = app.lodged_id("broker", &example()).await;
    let second = app.lodged_id("broker", &example()).await;
    let others = app
        .lodged_id("other_declarant", &example_for_other_declarant())
        .await;
    app.settle(&first, "BOC-RECEIPTS-1").await;

    let whole = feed(&app, "broker", "?after=0").await;
    let paged = whole_feed(&app, "broker", 1).await;
    let officer = app.get("/v1/receipts", "officer").await;
    let other = whole_feed(&app, "other_declarant", 50).await;

    let receipts = whole["receipts"].as_array().unwrap();
    assert_eq!(&paged, receipts, "page by page is the same feed");
    let of = |id: &str| -> Vec<String> {
        receipts
            .iter()
            .filter(|r| r["declaration_id"] == id)
            .map(|r| r["receipt"]["receipt"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        of(&first),
        [
            "accepted",
            "assessed",
            "checks_required",
            "payment_claimed",
            "payment_confirmed"
        ],
        "{whole:#}"
    );
    assert_eq!(of(&second), ["accepted", "assessed", "checks_required"]);
    assert!(of(&others).is_empty());
    assert!(
        receipts
            .iter()
            .all(|r| r["declaration_number"].as_str().unwrap().len() == 18)
    );
    let checks = receipts
        .iter()
        .find(|r| r["receipt"]["receipt"] == "checks_required")
        .unwrap();
    assert_eq!(checks["receipt"]["checks"], json!(["physical_inspection"]));
    // Nothing of customs: no rule, reason, score or officer.
    let text = whole.to_string();
    for secret in [
        rule.as_str(),
        "smartphones",
        "officer",
        "score",
        "reason_en",
        "seed",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    officer.assert_problem(403);
    assert_eq!(other[0]["receipt"]["receipt"], "accepted", "{other:#?}");
    assert!(
        other.iter().all(|r| r["declaration_id"] == others.as_str()),
        "{other:#?}"
    );
}

#[tokio::test]
async fn the_feed_page_size_is_limited() {
    let app = spawn_app().await;
    app.lodged_id("broker", &example()).await;

    let at_limit = app
        .get(
            &format!("/v1/receipts?limit={RECEIPTS_PAGE_SIZE_MAX}"),
            "broker",
        )
        .await;
    let over = app
        .get(
            &format!("/v1/receipts?limit={}", RECEIPTS_PAGE_SIZE_MAX + 1),
            "broker",
        )
        .await;
    let zero = app.get("/v1/receipts?limit=0", "broker").await;
    let bad_cursor = app.get("/v1/receipts?after=1.2", "broker").await;
    let unknown = app.get("/v1/receipts?since=1", "broker").await;

    assert_eq!(at_limit.status, StatusCode::OK, "{}", at_limit.text);
    for refused in [&over, &zero] {
        refused.assert_problem(422);
        assert_eq!(refused.error_paths()[0].0, "limit", "{}", refused.text);
    }
    bad_cursor.assert_problem(422);
    assert_eq!(bad_cursor.error_paths()[0].0, "after");
    unknown.assert_problem(422);
    assert_eq!(unknown.error_paths()[0].0, "since");
}

#[tokio::test]
async fn webhook_urls_are_checked_and_the_secret_is_shown_once() {
    let app = spawn_app().await;
    let register = |url: &str| json!({ "url": url });

    let ftp = app
        .post(
            "/v1/webhook",
            "broker",
            None,
            &register("ftp://example.com/"),
        )
        .await;
    let private = app
        .post(
            "/v1/webhook",
            "broker",
            None,
            &register("http://127.0.0.1:9/"),
        )
        .await;
    let officer = app
        .post(
            "/v1/webhook",
            "officer",
            None,
            &register("https://example.com/"),
        )
        .await;
    let other = app
        .post(
            &format!("/v1/webhook?enterprise={}", crate::helpers::OTHER_TRADER),
            "broker",
            None,
            &register("https://example.com/"),
        )
        .await;
    let registered = app
        .post(
            "/v1/webhook",
            "broker",
            None,
            &register("https://hooks.example.com/customs"),
        )
        .await;
    let read = app.get("/v1/webhook", "broker").await;
    let by_admin = app
        .get(
            &format!("/v1/webhook?enterprise={}", crate::helpers::BROKER),
            "admin",
        )
        .await;

    for refused in [&ftp, &private] {
        refused.assert_problem(422);
        assert_eq!(refused.error_paths()[0].0, "url", "{}", refused.text);
    }
    officer.assert_problem(403);
    other.assert_problem(403);
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let secret = registered.body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert!(read.body.get("secret").is_none(), "{}", read.text);
    assert!(!read.text.contains(secret));
    assert_eq!(by_admin.body["id"], registered.body["id"]);
}

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Fail,
    Hang,
    Take,
}

#[derive(Debug, Clone)]
struct Received {
    signature: Option<String>,
    cursor: String,
    body: Bytes,
    taken: bool,
}

#[derive(Clone)]
struct Receiver {
    script: Arc<Mutex<VecDeque<Behaviour>>>,
    otherwise: Arc<Mutex<Behaviour>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[Behaviour], otherwise: Behaviour) -> (Receiver, String) {
        let receiver = Receiver {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            otherwise: Arc::new(Mutex::new(otherwise)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let behaviour = state
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(*state.otherwise.lock().unwrap());
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let mut received = Received {
                        signature: header(webhooks::SIGNATURE_HEADER),
                        cursor: header(webhooks::CURSOR_HEADER).unwrap_or_default(),
                        body,
                        taken: false,
                    };
                    match behaviour {
                        Behaviour::Fail => {
                            state.received.lock().unwrap().push(received);
                            AxumStatus::INTERNAL_SERVER_ERROR
                        }
                        Behaviour::Hang => {
                            state.received.lock().unwrap().push(received);
                            tokio::time::sleep(Duration::from_secs(10)).await;
                            AxumStatus::OK
                        }
                        Behaviour::Take => {
                            received.taken = true;
                            state.received.lock().unwrap().push(received);
                            AxumStatus::NO_CONTENT
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn taken(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.taken).collect()
    }
}

fn fast_policy(attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy {
        attempts,
        first_delay: Duration::from_millis(40),
        delay_max: Duration::from_millis(150),
        // Long enough that a loaded machine does not time out a receiver that answers.
        request_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(30),
        lease_margin: Duration::from_millis(100),
        private_targets: true,
    }
}

async fn app_for_webhooks() -> TestApp {
    spawn_app_with(ApiConfig {
        webhook_private_targets: true,
        ..roomy_config()
    })
    .await
}

async fn register(app: &TestApp, url: &str, after: &str) -> String {
    let registered = app
        .post(
            "/v1/webhook",
            "broker",
            None,
            &json!({ "url": url, "after": after }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    registered.body["secret"].as_str().unwrap().to_owned()
}

/// Waits (at most 20 s) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the webhook's cursor is at or after the last receipt's (it moves on past the
/// events that are no receipt, once the receiver answered). The app's SQLite store keeps one
/// chain: a cursor is one number.
async fn assert_delivered_past(app: &TestApp, last: &str) {
    let last: u64 = last.parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let webhook = app.get("/v1/webhook", "broker").await.body;
        let delivered: u64 = webhook["delivered"].as_str().unwrap().parse().unwrap();
        if delivered >= last {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{webhook}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_signed(app: &TestApp, secret: &str, received: &[Received]) {
    let now = app.clearance.now().timestamp();
    for request in received {
        let signature = request
            .signature
            .as_deref()
            .unwrap_or_else(|| panic!("an unsigned request: {request:?}"));
        assert!(
            webhooks::verify(secret, signature, &request.body, now, 300),
            "a signature that does not verify: {request:?}"
        );
    }
}

#[tokio::test]
async fn a_receiver_that_fails_then_times_out_then_comes_back_gets_every_receipt_in_order() {
    let app = app_for_webhooks().await;
    let (receiver, url) =
        Receiver::start(&[Behaviour::Fail, Behaviour::Hang], Behaviour::Take).await;
    let secret = register(&app, &url, "0").await;
    let deliverer = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(5));

    let first = app.lodged_id("broker", &example()).await;
    let second = app.lodged_id("broker", &example()).await;
    app.settle(&second, "BOC-HOOK-1").await;
    let expected = whole_feed(&app, "broker", 100).await;
    assert!(expected.len() >= 4, "{expected:#?}");
    eventually("every receipt taken", || {
        receiver.taken().len() >= expected.len()
    })
    .await;
    let last = expected.last().unwrap()["cursor"].as_str().unwrap();
    assert_delivered_past(&app, last).await;
    deliverer.abort();

    let taken = receiver.taken();
    let cursors: Vec<&str> = taken.iter().map(|r| r.cursor.as_str()).collect();
    let wanted: Vec<&str> = expected
        .iter()
        .map(|r| r["cursor"].as_str().unwrap())
        .collect();
    assert_eq!(cursors, wanted, "each receipt once, in order");
    for (request, receipt) in taken.iter().zip(&expected) {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(&body, receipt);
    }
    assert!(
        expected
            .iter()
            .any(|r| r["declaration_id"] == first.as_str())
    );
    let all = receiver.received();
    assert_eq!(
        all.len(),
        expected.len() + 2,
        "the failure and the timeout were retried"
    );
    assert_eq!(
        all[0].cursor, all[2].cursor,
        "the first receipt was tried again"
    );
    assert_signed(&app, &secret, &all);
    let dead = app.get("/v1/webhook/dead-letters", "broker").await;
    assert_eq!(dead.body["dead_letters"], json!([]));
}

#[tokio::test]
async fn a_receipt_that_fails_every_attempt_is_a_dead_letter_redelivered_on_request_and_replayable()
{
    let app = app_for_webhooks().await;
    let (receiver, url) = Receiver::start(&[], Behaviour::Fail).await;
    let attempts = 3;
    let secret = register(&app, &url, "0").await;
    let deliverer = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(attempts));

    app.lodged_id("broker", &example()).await;
    let expected = whole_feed(&app, "broker", 100).await;
    let dead_letters = || async {
        app.get("/v1/webhook/dead-letters", "broker").await.body["dead_letters"]
            .as_array()
            .unwrap()
            .clone()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let dead = dead_letters().await;
        if dead.len() == expected.len() {
            break dead;
        }
        assert!(tokio::time::Instant::now() < deadline, "{dead:#?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    // Delivery moved on past the dead letters.
    assert_delivered_past(&app, expected.last().unwrap()["cursor"].as_str().unwrap()).await;
    deliverer.abort();

    assert_eq!(
        receiver.received().len(),
        expected.len() * attempts as usize
    );
    assert!(receiver.taken().is_empty());
    assert_signed(&app, &secret, &receiver.received());
    for (letter, receipt) in dead.iter().zip(&expected) {
        assert_eq!(letter["cursor"], receipt["cursor"]);
        assert_eq!(letter["attempts"], attempts);
        assert!(
            letter["last_error"].as_str().unwrap().contains("500"),
            "{letter}"
        );
    }

    // The receiver comes back: a dead letter delivered again is gone.
    *receiver.otherwise.lock().unwrap() = Behaviour::Take;
    let id = dead[0]["id"].as_str().unwrap();
    let redelivered = app
        .post(
            &format!("/v1/webhook/dead-letters/{id}/redelivery"),
            "broker",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(redelivered.status, StatusCode::OK, "{}", redelivered.text);
    assert_eq!(redelivered.body["delivered"], true, "{}", redelivered.text);
    assert_eq!(dead_letters().await.len(), expected.len() - 1);
    assert_eq!(
        receiver.taken()[0].cursor,
        expected[0]["cursor"].as_str().unwrap()
    );

    // A replay from the first receipt's cursor delivers every later one again, in order.
    let from = expected[0]["cursor"].as_str().unwrap();
    let replayed = app
        .post(
            &format!("/v1/webhook/replay?after={from}"),
            "broker",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.text);
    assert_eq!(replayed.body["delivered"], from);
    let deliverer = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(attempts));
    eventually("the replay", || receiver.taken().len() == expected.len()).await;
    deliverer.abort();
    let again: Vec<String> = receiver.taken()[1..]
        .iter()
        .map(|r| r.cursor.clone())
        .collect();
    let wanted: Vec<String> = expected[1..]
        .iter()
        .map(|r| r["cursor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(again, wanted);
    assert_signed(&app, &secret, &receiver.received());
}

#[tokio::test]
async fn two_deliverers_deliver_each_receipt_once_in_order() {
    let app = app_for_webhooks().await;
    let (receiver, url) = Receiver::start(&[], Behaviour::Take).await;
    let secret = register(&app, &url, "0").await;
    // Two instances' deliverers: one lease per enterprise lets one deliver at a time.
    let one = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(3));
    let two = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(3));

    for _ in 0..3 {
        app.lodged_id("broker", &example()).await;
    }
    let expected = whole_feed(&app, "broker", 100).await;
    eventually("every receipt", || receiver.taken().len() >= expected.len()).await;
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    one.abort();
    two.abort();

    let cursors: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.cursor.clone())
        .collect();
    let wanted: Vec<String> = expected
        .iter()
        .map(|r| r["cursor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cursors, wanted);
    assert_signed(&app, &secret, &receiver.received());
}

#[tokio::test]
async fn a_deliverer_stopped_mid_delivery_is_followed_by_another_that_loses_nothing() {
    let app = app_for_webhooks().await;
    let (receiver, url) = Receiver::start(
        &[Behaviour::Take, Behaviour::Take, Behaviour::Hang],
        Behaviour::Take,
    )
    .await;
    let secret = register(&app, &url, "0").await;
    app.lodged_id("broker", &example()).await;
    app.lodged_id("broker", &example()).await;
    let expected = whole_feed(&app, "broker", 100).await;
    assert!(expected.len() > 3);

    // The first instance stops while the receiver hangs on the third receipt.
    let first = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(5));
    eventually("the third request", || receiver.received().len() >= 3).await;
    first.abort();
    let delivered = app.get("/v1/webhook", "broker").await.body["delivered"].clone();
    assert_eq!(
        delivered, expected[1]["cursor"],
        "the cursor is past what was taken only"
    );

    // Another instance takes over once the lease expired, from the stored cursor.
    let second = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(5));
    eventually("every receipt", || receiver.taken().len() >= expected.len()).await;
    second.abort();

    let taken: Vec<String> = receiver.taken().iter().map(|r| r.cursor.clone()).collect();
    let wanted: Vec<String> = expected
        .iter()
        .map(|r| r["cursor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(taken, wanted, "nothing lost, nothing taken twice, in order");
    assert_signed(&app, &secret, &receiver.received());
}

#[tokio::test]
async fn receipts_are_pushed_in_the_format_the_declaration_came_in() {
    let app = app_for_webhooks().await;
    let (receiver, url) = Receiver::start(&[], Behaviour::Take).await;
    let secret = register(&app, &url, "0").await;
    let deliverer = webhooks::spawn_deliverer(app.clearance.clone(), fast_policy(3));

    let as_xml = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            crate::wco::example_xml().into_bytes(),
        )
        .await;
    assert_eq!(as_xml.status, StatusCode::CREATED, "{}", as_xml.text);
    let as_edifact = crate::helpers::send(
        app.http
            .post(app.url("/v1/declarations"))
            .bearer_auth(app.token("broker"))
            .header("content-type", "application/edifact")
            .body(crate::edifact_lodging::EXAMPLE_EDI),
    )
    .await;
    assert_eq!(
        as_edifact.status,
        StatusCode::CREATED,
        "{}",
        as_edifact.text
    );
    app.lodged_id("broker", &example()).await;
    let expected = whole_feed(&app, "broker", 100).await;
    eventually("every receipt taken", || {
        receiver.taken().len() >= expected.len()
    })
    .await;
    deliverer.abort();

    let taken = receiver.taken();
    assert_signed(&app, &secret, &taken);
    let (mut xml, mut edifact, mut json) = (0, 0, 0);
    for (request, receipt) in taken.iter().zip(&expected) {
        let text = std::str::from_utf8(&request.body).unwrap();
        let number = receipt["declaration_number"].as_str().unwrap();
        if text.starts_with("<?xml") {
            // A WCO DMS notification that validates against HMRC's response schema.
            crate::wco::assert_valid_response(text);
            assert!(text.contains(number), "{text}");
            xml += 1;
        } else if text.starts_with("UNA") {
            assert!(text.contains("UNH+") && text.contains("CUSRES"), "{text}");
            assert!(text.contains(number), "{text}");
            edifact += 1;
        } else {
            let body: Value = serde_json::from_str(text).unwrap();
            assert_eq!(&body, receipt);
            json += 1;
        }
    }
    assert!(
        xml >= 1 && edifact >= 1 && json >= 1,
        "xml {xml}, edifact {edifact}, json {json}"
    );
    assert_eq!(xml + edifact + json, expected.len());
}
