//! A crash loses nothing: kill -9 the server while clients lodge concurrently, restart it, and
//! every acknowledged declaration is there, idempotent resends find it, and the chain verifies.

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{EXAMPLE, NOW, ok, seed_broker, start_server};

/// Concurrent lodging clients.
const CLIENTS: usize = 8;
/// Acknowledgements to wait for before pulling the plug.
const ACKS_BEFORE_KILL: usize = 150;

/// Starts `customs serve` on a free port and returns it with its address.
fn serve(data: &Path) -> (Child, String) {
    let (child, address, _) =
        start_server(data, &["--rate-per-client", "1000000"], NOW).expect("the server starts");
    (child, address)
}

#[derive(Clone, Debug)]
struct Ack {
    key: String,
    id: String,
    number: String,
}

async fn lodge_until_refused(
    address: String,
    token: String,
    client: usize,
    acks: Arc<Mutex<Vec<Ack>>>,
) {
    let http = reqwest::Client::new();
    for n in 0.. {
        let key = format!("crash-{client}-{n}");
        let sent = http
            .post(format!("http://{address}/v1/declarations"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .header("Content-Type", "application/json")
            .body(EXAMPLE)
            .send()
            .await;
        let Ok(response) = sent else { return };
        if response.status() != 201 {
            return;
        }
        let Ok(body) = response.json::<serde_json::Value>().await else {
            return;
        };
        let ack = Ack {
            key,
            id: body["id"].as_str().unwrap().into(),
            number: body["number"].as_str().unwrap().into(),
        };
        acks.lock().unwrap().push(ack);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_concurrent_lodging_loses_no_acknowledged_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let (mut server, address) = serve(&data);
    let acks = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(lodge_until_refused(
                address.clone(),
                token.clone(),
                c,
                acks.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    while acks.lock().unwrap().len() < ACKS_BEFORE_KILL
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().expect("SIGKILL is delivered");
    server.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acks.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= ACKS_BEFORE_KILL,
        "only {} acknowledged",
        acknowledged.len()
    );

    let (mut server, address) = serve(&data);
    let http = reqwest::Client::new();
    for ack in &acknowledged {
        let response = http
            .get(format!("http://{address}/v1/declarations/{}", ack.id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "acknowledged declaration {} is lost",
            ack.number
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["number"], ack.number.as_str());
    }
    let resend = http
        .post(format!("http://{address}/v1/declarations"))
        .bearer_auth(&token)
        .header("Idempotency-Key", &acknowledged[0].key)
        .header("Content-Type", "application/json")
        .body(EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resend.status(),
        200,
        "a resend after the crash creates nothing"
    );
    let body: serde_json::Value = resend.json().await.unwrap();
    assert_eq!(body["number"], acknowledged[0].number.as_str());
    server.kill().unwrap();
    server.wait().unwrap();
    let report = ok(&data, &["audit", "verify"]);
    assert!(report.contains("intact"), "{report}");
}
