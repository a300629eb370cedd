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
pub(crate) fn serve(data: &Path) -> (Child, String) {
    let (child, address, _) =
        start_server(data, &["--rate-per-client", "1000000"], NOW).expect("the server starts");
    (child, address)
}

/// Every declaration, as (id, number), is served by the server at `address` under its number.
pub(crate) async fn assert_served<'a>(
    address: &str,
    token: &str,
    declarations: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let http = reqwest::Client::new();
    for (id, number) in declarations {
        let response = http
            .get(format!("http://{address}/v1/declarations/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "acknowledged declaration {number} is lost"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["number"], number);
    }
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
    kill_9_under_lodging(&data, &token, &[]).await;
    let report = ok(&data, &["audit", "verify"]);
    assert!(report.contains("intact"), "{report}");
}

/// The same on PostgreSQL (`serve --database`): what an instance acknowledged is committed in the
/// database, whatever becomes of the instance; numbers stay unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_an_instance_on_postgres_loses_no_acknowledged_declaration() {
    let database = crate::postgres::TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, token, _) =
        crate::worker::seed(&|token, args| crate::instances::admin(&data, &url, token, args));
    let acknowledged = kill_9_under_lodging(&data, &token, &["--database", &url]).await;
    let counted = crate::postgres::psql(
        &url,
        "SELECT count(*) || ' ' || count(DISTINCT number) FROM declarations",
    );
    let (count, distinct) = counted.split_once(' ').unwrap();
    assert_eq!(count, distinct, "no number is given twice");
    assert!(
        count.parse::<usize>().unwrap() >= acknowledged,
        "{count} stored, {acknowledged} acknowledged"
    );
}

/// CLIENTS lodge until ACKS_BEFORE_KILL are acknowledged; kill -9; restart (with `serve_args`):
/// every acknowledged declaration is served under its number and an idempotent resend finds it.
/// How many were acknowledged.
async fn kill_9_under_lodging(data: &Path, token: &str, serve_args: &[&str]) -> usize {
    let serve = |data: &Path| {
        let args = [&["--rate-per-client", "1000000"][..], serve_args].concat();
        let (child, address, _) = start_server(data, &args, NOW).expect("the server starts");
        (child, address)
    };
    let token = token.to_owned();
    let (mut server, address) = serve(data);
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

    let (mut server, address) = serve(data);
    let http = reqwest::Client::new();
    assert_served(
        &address,
        &token,
        acknowledged
            .iter()
            .map(|ack| (ack.id.as_str(), ack.number.as_str())),
    )
    .await;
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
    acknowledged.len()
}
