//! Many instances: two `customs serve --database` processes on one fresh PostgreSQL database
//! behind a real HAProxy (Debian's `haproxy`, started here on free ports, round-robin). Any
//! instance answers any request; a token revoked on one is refused by the other, and a rule
//! activated on one selects on the other, within [`CROSS_INSTANCE_DELAY_MAX`] (well inside the
//! caches' own 5 s refresh, so the test fails if changes are not announced); after the
//! listening connection is killed, the instance listens again and still hears changes. The
//! first administrator and the users are made with `customs admin --database`. Fails, never
//! skips, without PostgreSQL or haproxy.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::postgres::{TestDatabase, psql};
use crate::support::{BROKER, EXAMPLE, NOW, TRADER, command, start_server};

/// How late another instance may still honour a change: the delay promised in
/// docs/operations.md ("Many instances"). A notification takes milliseconds; the margin is for
/// a loaded CI machine. It must stay under the caches' own refresh (5 s), or this test would
/// pass without any notification.
const CROSS_INSTANCE_DELAY_MAX: Duration = Duration::from_secs(2);

/// Between two tries with one token: under its rate limit (20 a second by default), so that a
/// 429 never passes for a refusal.
const POLL: Duration = Duration::from_millis(60);

/// How long HAProxy and the instances may take to be ready.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// `customs --data DATA admin --database URL ARGS...`, which must succeed; its standard output.
pub(crate) fn admin(data: &Path, url: &str, token: Option<&str>, args: &[&str]) -> String {
    let mut run = command();
    run.arg("--data")
        .arg(data)
        .args(["admin", "--database", url])
        .args(args)
        .env_remove("CUSTOMS_TOKEN")
        .env_remove("CUSTOMS_DATABASE");
    if let Some(token) = token {
        run.env("CUSTOMS_TOKEN", token);
    }
    let output = run.output().expect("the customs binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "customs admin {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// HAProxy in front of `servers`, round-robin, naming the instance that answered in
/// `X-Customs-Instance`.
fn start_haproxy(dir: &Path, servers: &[(&str, &str)]) -> (Killed, String) {
    let port = free_port();
    let backends: String = servers
        .iter()
        .map(|(name, address)| format!("    server {name} {address}\n"))
        .collect();
    let config = format!(
        "global\n    maxconn 256\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend customs\n    bind 127.0.0.1:{port}\n    default_backend instances\n\
         backend instances\n    balance roundrobin\n\
         \x20   http-response set-header X-Customs-Instance %s\n{backends}"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let check = Command::new("haproxy")
        .args(["-c", "-q", "-f"])
        .arg(&path)
        .output()
        .expect("haproxy runs (Debian's haproxy; .ci/run installs it)");
    assert!(
        check.status.success(),
        "haproxy refuses the generated configuration: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    (Killed(child), format!("127.0.0.1:{port}"))
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        at: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self
            .http
            .request(method, format!("http://{at}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.expect("the request is answered");
        let status = reply.status();
        let instance = reply
            .headers()
            .get("x-customs-instance")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = reply.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body, instance)
    }

    pub(crate) async fn get(&self, at: &str, path: &str, token: &str) -> (StatusCode, Value) {
        let (status, body, _) = self.send(reqwest::Method::GET, at, path, token, None).await;
        (status, body)
    }

    pub(crate) async fn post(
        &self,
        at: &str,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let (status, body, _) = self
            .send(reqwest::Method::POST, at, path, token, Some(body))
            .await;
        (status, body)
    }

    /// Lodges the example (made distinct by `lot`); the declaration's id and who answered.
    pub(crate) async fn lodge(
        &self,
        at: &str,
        token: &str,
        lot: usize,
    ) -> (String, Option<String>) {
        let body: Value = serde_json::from_str(
            &EXAMPLE.replace("Smartphones", &format!("Smartphones lot {lot}")),
        )
        .unwrap();
        let (status, body, instance) = self
            .send(
                reqwest::Method::POST,
                at,
                "/v1/declarations",
                token,
                Some(&body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["id"].as_str().unwrap().to_owned(), instance)
    }
}

pub(crate) async fn until_ready(client: &reqwest::Client, at: &str) {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        let ready = client
            .get(format!("http://{at}/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "{at} did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the instance at `at` says its caches are in use (`customs_caches_trusted 1` in its
/// metrics, read from loopback).
async fn caches_trusted(client: &reqwest::Client, at: &str) -> bool {
    let text = client
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .expect("the metrics are answered")
        .text()
        .await
        .unwrap_or_default();
    text.lines().any(|line| line == "customs_caches_trusted 1")
}

/// Whether the declaration's selection (as `officer` sees it on `at`) names `rule`.
async fn selected_by(client: &Client, at: &str, officer: &str, id: &str, rule: &str) -> bool {
    let (status, selection) = client
        .get(at, &format!("/v1/declarations/{id}/selection"), officer)
        .await;
    assert_eq!(status, StatusCode::OK, "{selection}");
    selection["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["source"]["kind"] == "rule" && r["source"]["rule"] == rule)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_behind_haproxy_share_the_database_and_hear_each_others_changes() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));

    // The first administrator and the users, from the command line, on the fresh database.
    let root_token = admin(&data_a, &url, None, &["init", "--name", "root"]);
    let root = Some(root_token.as_str());
    for (code, customs_code, name) in [
        (
            TRADER,
            "3115960002",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        ),
        (
            BROKER,
            "3122260001",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        ),
    ] {
        admin(
            &data_a,
            &url,
            root,
            &[
                "enterprise",
                "--credit-code",
                code,
                "--customs-code",
                customs_code,
                "--name",
                name,
            ],
        );
    }
    admin(
        &data_a,
        &url,
        root,
        &[
            "authorise-broker",
            "--broker",
            BROKER,
            "--principal",
            TRADER,
        ],
    );
    admin(
        &data_a,
        &url,
        root,
        &[
            "user",
            "--name",
            "broker",
            "--role",
            "broker",
            "--enterprise",
            BROKER,
        ],
    );
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [
        ("officer", "officer"),
        ("analyst-wang", "risk_analyst"),
        ("analyst-zhao", "risk_analyst"),
    ] {
        admin(
            &data_a,
            &url,
            root,
            &["user", "--name", name, "--role", role],
        );
    }
    for name in ["broker", "officer", "analyst-wang", "analyst-zhao"] {
        tokens.insert(name, admin(&data_a, &url, root, &["token", "--user", name]));
    }
    let root = root_token.clone();
    let (broker, officer) = (tokens["broker"].clone(), tokens["officer"].clone());

    // Every instance holds the same keys (docs/operations.md): instance B gets A's.
    std::fs::create_dir_all(&data_b).unwrap();
    for key in ["audit-signing.key", "buyer-id.key"] {
        std::fs::copy(data_a.join(key), data_b.join(key)).unwrap();
    }
    let (a, at_a, _) = start_server(&data_a, &["--database", &url], NOW)
        .unwrap_or_else(|printed| panic!("instance a did not start:\n{printed}"));
    let _a = Killed(a);
    let (b, at_b, _) = start_server(&data_b, &["--database", &url], NOW)
        .unwrap_or_else(|printed| panic!("instance b did not start:\n{printed}"));
    let _b = Killed(b);
    let (_haproxy, front) = start_haproxy(dir.path(), &[("a", &at_a), ("b", &at_b)]);
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    until_ready(&client.http, &front).await;
    let deadline = Instant::now() + START_DEADLINE;
    while !(caches_trusted(&client.http, &at_a).await && caches_trusted(&client.http, &at_b).await)
    {
        assert!(Instant::now() < deadline, "the instances never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Lodged through HAProxy (round-robin: both instances answer), read back from either.
    let mut answered = std::collections::BTreeSet::new();
    let mut lodged = Vec::new();
    for lot in 0..4 {
        let (id, instance) = client.lodge(&front, &broker, lot).await;
        answered.insert(instance.expect("HAProxy names the instance"));
        lodged.push(id);
    }
    assert_eq!(
        answered.into_iter().collect::<Vec<_>>(),
        ["a", "b"],
        "round-robin reaches both instances"
    );
    for id in &lodged {
        for at in [&at_a, &at_b] {
            let (status, read) = client
                .get(at, &format!("/v1/declarations/{id}"), &broker)
                .await;
            assert_eq!(status, StatusCode::OK, "{at}: {read}");
            assert_eq!(read["id"], json!(id));
        }
    }

    // A token revoked on A is refused by B, whose cache held it a moment before.
    let revoked_within =
        revoke_on_a_refused_on_b(&client, &root, &at_a, &at_b, &url, &data_a).await;
    eprintln!("a revocation on a was refused on b after {revoked_within:?}");

    // A rule proposed and approved on A selects lodgings on B, whose rule cache was just filled.
    let wang = &tokens["analyst-wang"];
    let zhao = &tokens["analyst-zhao"];
    let (warm, _) = client.lodge(&at_b, &broker, 100).await;
    let (status, proposed) = client
        .post(
            &at_a,
            "/v1/rules",
            wang,
            &json!({
                "scope": { "direction": "import" },
                "purpose": "revenue",
                "action": "physical_inspection",
                "expected_selection_rate": "1",
                "priority": 200,
                "reason_en": "US smartphones: undervaluation seen in 2026",
                "reason_zh": "美国产手机：2026年发现低报价格",
                "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{proposed}");
    let rule = proposed["id"].as_str().unwrap().to_owned();
    assert!(!selected_by(&client, &at_b, &officer, &warm, &rule).await);
    let (status, approved) = client
        .post(
            &at_a,
            &format!("/v1/rules/{rule}/versions/1/approval"),
            zhao,
            &json!({}),
        )
        .await;
    assert!(status.is_success(), "{approved}");
    let approved_at = Instant::now();
    let mut lot = 200;
    loop {
        let (id, _) = client.lodge(&at_b, &broker, lot).await;
        if selected_by(&client, &at_b, &officer, &id, &rule).await {
            break;
        }
        assert!(
            approved_at.elapsed() < CROSS_INSTANCE_DELAY_MAX,
            "instance b still lodges without the rule approved on a"
        );
        lot += 1;
    }
    eprintln!(
        "a rule approved on a selected on b after {:?}",
        approved_at.elapsed()
    );

    // The listening connection killed: B listens again and still hears A's revocations.
    let killed = psql(
        &database.url(),
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}' AND datname = current_database()",
            store_postgres::CHANGES_APPLICATION_NAME
        ),
    );
    assert_eq!(killed, "2", "each instance has one listening connection");
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        // Both listening again: their connection has sent LISTEN (or, after it, a heartbeat).
        let listening = psql(
            &database.url(),
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{}' \
                 AND datname = current_database() AND query IN ('LISTEN {}', 'SELECT 1')",
                store_postgres::CHANGES_APPLICATION_NAME,
                store_postgres::CHANGES_CHANNEL
            ),
        );
        let trusted =
            caches_trusted(&client.http, &at_a).await && caches_trusted(&client.http, &at_b).await;
        if listening == "2" && trusted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the instances did not listen again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = revoke_on_a_refused_on_b(&client, &root, &at_a, &at_b, &url, &data_a).await;
    eprintln!("after the listener was killed, a revocation on a was refused on b after {again:?}");
}

/// Issues a broker token, uses it on B (so B caches its caller), revokes it on A and waits for B
/// to refuse it; how long that took after the revocation was answered.
async fn revoke_on_a_refused_on_b(
    client: &Client,
    root: &str,
    at_a: &str,
    at_b: &str,
    url: &str,
    data_a: &Path,
) -> Duration {
    let token = admin(data_a, url, Some(root), &["token", "--user", "broker"]);
    let deadline = Instant::now() + START_DEADLINE;
    // B may still be reconnecting its feed (caches bypassed): the token works either way.
    loop {
        let (status, _) = client.get(at_b, "/v1/declarations?limit=1", &token).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "b refuses a new token: {status}");
        tokio::time::sleep(POLL).await;
    }
    let id = clearance::token_id(&clearance::token_hash(&token));
    let (status, revoked) = client
        .post(
            at_a,
            &format!("/v1/tokens/{id}/revocation"),
            root,
            &json!({}),
        )
        .await;
    assert!(status.is_success(), "{revoked}");
    let revoked_at = Instant::now();
    loop {
        let (status, refused) = client.get(at_b, "/v1/declarations?limit=1", &token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                refused.to_string().contains("revoked"),
                "refused as revoked: {refused}"
            );
            return revoked_at.elapsed();
        }
        assert!(
            revoked_at.elapsed() < CROSS_INSTANCE_DELAY_MAX,
            "b still accepts a token revoked on a {:?} ago",
            revoked_at.elapsed()
        );
        tokio::time::sleep(POLL).await;
    }
}
