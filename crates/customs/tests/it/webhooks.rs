//! Receipts pushed by `customs serve` to an enterprise's webhook, across a restart: the receiver
//! gets every receipt, signed, once each in order, including those made while it was stopped.

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::support::{EXAMPLE, NOW, seed_broker, start_server};

/// (signature, cursor, body) of each request received.
type Received = Arc<Mutex<Vec<(String, String, Bytes)>>>;

async fn receiver() -> (Received, String) {
    let received: Received = Arc::default();
    let kept = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                kept.lock().unwrap().push((
                    header(http_api::webhooks::SIGNATURE_HEADER),
                    header(http_api::webhooks::CURSOR_HEADER),
                    body,
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (received, url)
}

fn serve(data: &Path, config: &Path) -> (Child, String) {
    let config = config.to_str().unwrap();
    let (child, address, _) =
        start_server(data, &["--config", config], NOW).expect("the server starts");
    (child, address)
}

/// Stops the server as an operator does (SIGTERM): it finishes and gives its leases up.
fn stop(mut server: Child) {
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.wait().unwrap().success());
}

async fn lodge(http: &reqwest::Client, address: &str, token: &str, key: &str) {
    let lodged = http
        .post(format!("http://{address}/v1/declarations"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(lodged.status(), 201, "{}", lodged.text().await.unwrap());
}

async fn feed(http: &reqwest::Client, address: &str, token: &str) -> Vec<Value> {
    let page: Value = http
        .get(format!("http://{address}/v1/receipts?after=0&limit=500"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["receipts"].as_array().unwrap().clone()
}

async fn until_received(received: &Received, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "{:?}", received.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_pushes_every_receipt_signed_and_in_order_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let config = dir.path().join("customs.toml");
    std::fs::write(&config, "[serve]\nwebhook_private_targets = \"yes\"\n").unwrap();
    let (received, url) = receiver().await;
    let http = reqwest::Client::new();

    let (server, address) = serve(&data, &config);
    let registered: Value = http
        .post(format!("http://{address}/v1/webhook"))
        .bearer_auth(&token)
        .json(&json!({ "url": url, "after": "0" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = registered["secret"].as_str().expect("a secret").to_owned();
    lodge(&http, &address, &token, "before-restart").await;
    let before = feed(&http, &address, &token).await.len();
    until_received(&received, before).await;
    stop(server);

    // Lodged while nothing delivers, then delivered by the restarted server.
    let (server, address) = serve(&data, &config);
    lodge(&http, &address, &token, "after-restart").await;
    let all = feed(&http, &address, &token).await;
    assert!(all.len() > before);
    until_received(&received, all.len()).await;
    // Nothing more arrives (no receipt twice).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop(server);

    let received = received.lock().unwrap().clone();
    let cursors: Vec<&str> = received.iter().map(|(_, c, _)| c.as_str()).collect();
    let wanted: Vec<&str> = all.iter().map(|r| r["cursor"].as_str().unwrap()).collect();
    assert_eq!(cursors, wanted);
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .timestamp();
    for ((signature, _, body), receipt) in received.iter().zip(&all) {
        assert!(
            http_api::webhooks::verify(&secret, signature, body, now, 600),
            "{signature}"
        );
        assert_eq!(&serde_json::from_slice::<Value>(body).unwrap(), receipt);
    }
}
