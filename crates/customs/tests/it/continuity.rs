//! Continuity (issue 13): `serve --database` keeps taking lodgings while PostgreSQL is down,
//! and lodges them when it is back, each exactly once. Against a private PostgreSQL server of
//! the test's own (initdb into a temporary folder, on a free port; the shared server at
//! 127.0.0.1:5432 is never stopped), stopped with `pg_ctl stop -m immediate` under concurrent
//! lodging through the real binary, then started again. The test fails, never skips, without
//! PostgreSQL's server binaries (`/usr/lib/postgresql/*/bin`, Debian's `postgresql`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::instances::Killed;
use crate::support::{BROKER, EXAMPLE, NOW, TRADER, customs_binary};

/// A PostgreSQL server of the test's own, stopped (immediately) when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    /// Holds the cluster and the socket; removed when dropped.
    folder: tempfile::TempDir,
    port: u16,
}

/// The newest PostgreSQL server binaries installed.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries under /usr/lib/postgresql (Debian's postgresql)")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version with pg_ctl under /usr/lib/postgresql")
        .1
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let bin = postgres_bin();
        let folder = tempfile::tempdir().unwrap();
        if running_as_root() {
            // PostgreSQL refuses to run as root: the cluster is the postgres user's.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(folder.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let server = PrivatePostgres { bin, folder, port };
        server.run(
            "initdb",
            &[
                "-D",
                &server.cluster(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.pg_ctl_start();
        server
    }

    fn cluster(&self) -> String {
        self.folder.path().join("cluster").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs a server binary as the user that owns the cluster.
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .expect("PostgreSQL's server binaries run");
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.folder.path().display()
        );
        let log = self.folder.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.cluster(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server as a crash would: no checkpoint, connections cut.
    fn stop_immediately(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.cluster(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args([&self.url(), "-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .expect("psql runs (Debian's postgresql-client)");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(if running_as_root() { "runuser" } else { "true" })
            .args(if running_as_root() {
                vec!["-u", "postgres", "--"]
            } else {
                vec![]
            })
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.cluster(), "-m", "immediate", "stop"])
            .output();
    }
}

/// `customs --data DATA serve --listen 127.0.0.1:0 --database URL` with `env`; the server (killed
/// when dropped, so that a failing test leaves no server behind) and its address once it listens.
fn serve(data: &Path, url: &str, env: &[(&str, &str)]) -> (Killed, String) {
    let mut child = Command::new(customs_binary())
        .env("CUSTOMS_CLOCK_FIXED", NOW)
        .env("CUSTOMS_LOG", "warn")
        .envs(env.iter().copied())
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut printed = String::new();
    loop {
        let Some(Ok(line)) = lines.next() else {
            child.wait().unwrap();
            panic!("serve --database stopped:\n{printed}");
        };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let address = rest.split_whitespace().next().unwrap().to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (Killed(child), address);
        }
        printed.push_str(&line);
        printed.push('\n');
    }
}

/// The users of the test, made through the service on the same database and with the data
/// folder's signing key, as the system (a private server's database, reached before any instance
/// serves it).
struct Users {
    broker: String,
    other_broker: String,
    /// A third broker, for the checks made while the others lodge (their rate is theirs).
    checker: String,
    auditor: String,
}

async fn make_users(data: &Path, url: &str) -> Users {
    use clearance::{Clearance, ClearanceConfig, Role};
    let key = std::fs::read_to_string(data.join("audit-signing.key")).unwrap();
    let key: [u8; 32] = hex::decode(key.trim()).unwrap().try_into().unwrap();
    let signer = audit::AuditSigner::from_secret_bytes(&key);
    let store = store_postgres::PostgresStore::connect(
        url,
        store_postgres::PostgresOptions::production(),
        signer.clone(),
    )
    .await
    .unwrap();
    let config = ClearanceConfig {
        audit_public_key: Some(signer.public_key()),
        ..ClearanceConfig::china()
    };
    let clock = Arc::new(clearance::PinnedClock::new(NOW.parse().unwrap()));
    let service = Clearance::new(
        store.clone(),
        Arc::new(reference::ReferenceData::embedded().clone()),
        config,
        clock,
    );
    let system = clearance::system_actor();
    // Registered under the names the example declares them by.
    let example: Value = serde_json::from_str(EXAMPLE).unwrap();
    service
        .create_enterprise(
            &system,
            TRADER,
            "3115960002",
            example["trader"]["name"].as_str().unwrap(),
        )
        .await
        .unwrap();
    service
        .create_enterprise(
            &system,
            BROKER,
            "3122260001",
            example["declarant"]["name"].as_str().unwrap(),
        )
        .await
        .unwrap();
    service
        .authorise_broker(&system, BROKER, TRADER)
        .await
        .unwrap();
    let token = async |name: &str, role: Role, enterprise: Option<&str>| {
        service
            .create_user(&system, name, role, enterprise)
            .await
            .unwrap();
        service.issue_token(&system, name).await.unwrap().token
    };
    let users = Users {
        broker: token("broker", Role::Broker, Some(BROKER)).await,
        other_broker: token("other-broker", Role::Broker, Some(BROKER)).await,
        checker: token("checker", Role::Broker, Some(BROKER)).await,
        auditor: token("auditor", Role::Auditor, None).await,
    };
    store.close();
    users
}

/// Revokes a token through the service, as the system.
async fn revoke(data: &Path, url: &str, token: &str) {
    let key = std::fs::read_to_string(data.join("audit-signing.key")).unwrap();
    let key: [u8; 32] = hex::decode(key.trim()).unwrap().try_into().unwrap();
    let signer = audit::AuditSigner::from_secret_bytes(&key);
    let store = store_postgres::PostgresStore::connect(
        url,
        store_postgres::PostgresOptions::production(),
        signer.clone(),
    )
    .await
    .unwrap();
    let service = clearance::Clearance::new(
        store.clone(),
        Arc::new(reference::ReferenceData::embedded().clone()),
        clearance::ClearanceConfig {
            audit_public_key: Some(signer.public_key()),
            ..clearance::ClearanceConfig::china()
        },
        Arc::new(clearance::PinnedClock::new(NOW.parse().unwrap())),
    );
    service
        .revoke_token(&clearance::system_actor(), token)
        .await
        .unwrap();
    store.close();
}

/// An answer: status, a header or two, the JSON body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn lodge(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    key: Option<&str>,
    body: &str,
) -> Result<Answer, reqwest::Error> {
    let mut request = client
        .post(format!("http://{address}/v1/declarations"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    answer(request.send().await?).await
}

async fn get(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    path: &str,
) -> Result<Answer, reqwest::Error> {
    let response = client
        .get(format!("http://{address}{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    answer(response).await
}

async fn answer(response: reqwest::Response) -> Result<Answer, reqwest::Error> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Waits until `done` holds, checking every 100 ms, for at most `deadline`.
async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, deadline: Duration, mut done: F) {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < deadline,
            "waited {deadline:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a client was told for one idempotency key: numbers (201/200) and provisional
/// references (202).
#[derive(Default, Debug, Clone)]
struct Told {
    numbers: BTreeSet<String>,
    references: BTreeSet<String>,
}

type Ledger = Arc<std::sync::Mutex<BTreeMap<String, Told>>>;

/// A trade client lodging declarations one after another under keys `prefix-N`, as a real one
/// does: a refusal for the outage (503) or a cut connection is sent again under the same key;
/// a 202 is sent again once more at once (a client that did not trust the answer). Until
/// `stop`.
async fn trade_client(
    address: String,
    token: String,
    prefix: String,
    ledger: Ledger,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let key = format!("{prefix}-{n}");
        let answer = match lodge(&client, &address, &token, Some(&key), EXAMPLE).await {
            Ok(answer) => answer,
            Err(_) => continue, // the same key again
        };
        match answer.status {
            200 | 201 => {
                let number = answer.body["number"].as_str().unwrap().to_owned();
                ledger
                    .lock()
                    .unwrap()
                    .entry(key)
                    .or_default()
                    .numbers
                    .insert(number);
                n += 1;
            }
            202 => {
                let reference = answer.body["provisional_reference"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                if answer.body["continuity"] != true || !answer.body["message_zh"].is_string() {
                    return Err(format!(
                        "a 202 without its continuity facts: {}",
                        answer.body
                    ));
                }
                ledger
                    .lock()
                    .unwrap()
                    .entry(key.clone())
                    .or_default()
                    .references
                    .insert(reference.clone());
                // Sent again: the same reference, nothing new.
                if let Ok(again) = lodge(&client, &address, &token, Some(&key), EXAMPLE).await {
                    match again.status {
                        202 => {
                            let again_reference =
                                again.body["provisional_reference"].as_str().unwrap_or("");
                            if again_reference != reference || again.body["created"] != false {
                                return Err(format!(
                                    "a resend got {} after {reference}",
                                    again.body
                                ));
                            }
                        }
                        200 | 201 => {
                            let number = again.body["number"].as_str().unwrap().to_owned();
                            ledger
                                .lock()
                                .unwrap()
                                .entry(key.clone())
                                .or_default()
                                .numbers
                                .insert(number);
                        }
                        _ => {}
                    }
                }
                n += 1;
            }
            // The outage (503) or the token's rate (429, kept in continuity too): again later.
            // Retry-After says when; a test client does not wait that long.
            429 | 503 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Err(format!("{key}: unexpected {other}: {}", answer.body)),
        }
    }
    Ok(())
}

fn count(ledger: &Ledger, pick: impl Fn(&Told) -> bool) -> usize {
    ledger
        .lock()
        .unwrap()
        .values()
        .filter(|told| pick(told))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_lodging_acknowledged_through_an_outage_of_postgres_gets_one_number() {
    let postgres = PrivatePostgres::start();
    let url = postgres.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, address) = serve(&data, &url, &[]);
    let users = make_users(&data, &url).await;
    let http = reqwest::Client::new();

    // A first lodging: the instance verifies the token against the store (and remembers it).
    for (token, key) in [(&users.broker, "first"), (&users.checker, "checker-first")] {
        let first = lodge(&http, &address, token, Some(key), EXAMPLE)
            .await
            .unwrap();
        assert_eq!(first.status, 201, "{}", first.body);
    }

    let ledger: Ledger = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            tokio::spawn(trade_client(
                address.clone(),
                users.broker.clone(),
                format!("client{c}"),
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    wait_until(
        "lodgings before the outage",
        Duration::from_secs(60),
        async || count(&ledger, |told| !told.numbers.is_empty()) >= 8,
    )
    .await;

    postgres.stop_immediately();
    let outage = Instant::now();
    wait_until(
        "lodgings queued in continuity",
        Duration::from_secs(60),
        async || count(&ledger, |told| !told.references.is_empty()) >= 12,
    )
    .await;

    // In continuity: readiness says so, the metrics count the queue, a broken declaration is
    // still refused with its fields, anything but lodging answers 503 with Retry-After, and a
    // token this instance never verified is not trusted.
    let ready = get(&http, &address, "", "/v1/health/ready").await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "continuity", "{}", ready.body);
    let metrics = http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("customs_continuity_active 1"), "{metrics}");
    let queued_line = metrics
        .lines()
        .find(|line| line.starts_with("customs_continuity_queued "))
        .unwrap();
    assert_ne!(queued_line, "customs_continuity_queued 0");
    let broken = include_str!("../../../../examples/declaration-broken.json");
    let refused = lodge(&http, &address, &users.checker, Some("broken"), broken)
        .await
        .unwrap();
    assert_eq!(refused.status, 422, "{}", refused.body);
    let paths: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"invoice.currency"), "{paths:?}");
    assert!(refused.body["errors"][0]["message_zh"].is_string());
    let listing = get(&http, &address, &users.checker, "/v1/declarations")
        .await
        .unwrap();
    assert_eq!(listing.status, 503, "{}", listing.body);
    assert!(listing.retry_after.is_some());
    assert!(listing.body["detail_zh"].is_string(), "{}", listing.body);
    let console = http
        .get(format!("http://{address}/console/declarations"))
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 503);
    assert!(
        console.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let console = console.text().await.unwrap();
    assert!(console.contains("海关中心系统暂时无法连接"), "{console}");
    assert!(
        console.contains("The central customs system is unreachable"),
        "{console}"
    );
    let keyless = lodge(&http, &address, &users.checker, None, EXAMPLE)
        .await
        .unwrap();
    assert_eq!(keyless.status, 503, "{}", keyless.body);
    assert!(
        keyless.body["type"]
            .as_str()
            .unwrap()
            .ends_with("continuity-needs-idempotency-key"),
        "{}",
        keyless.body
    );
    let unverified = lodge(&http, &address, &users.other_broker, Some("o-1"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(unverified.status, 503, "{}", unverified.body);
    assert!(
        unverified.body["type"]
            .as_str()
            .unwrap()
            .ends_with("continuity-token-unverified"),
        "{}",
        unverified.body
    );

    // The store is back: the instance lodges its queue and takes lodgings directly again.
    postgres.pg_ctl_start();
    let back = Instant::now();
    let outage = back - outage;
    let before = count(&ledger, |told| !told.numbers.is_empty());
    wait_until(
        "direct lodgings after the outage",
        Duration::from_secs(90),
        async || count(&ledger, |told| !told.numbers.is_empty()) >= before + 8,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap().unwrap();
    }

    // Every provisional reference ends with its customs number.
    let references: Vec<(String, String)> = ledger
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(key, told)| told.references.iter().map(|r| (key.clone(), r.clone())))
        .collect();
    for (key, reference) in &references {
        let path = format!("/v1/declarations/{reference}");
        let mut settled = Value::Null;
        wait_until(
            &format!("{reference} reconciled"),
            Duration::from_secs(60),
            async || {
                let answer = get(&http, &address, &users.broker, &path).await.unwrap();
                // The outage, or the token's rate while polling: ask again.
                if answer.status == 503 || answer.status == 429 {
                    return false;
                }
                assert_eq!(answer.status, 200, "{}", answer.body);
                settled = answer.body;
                settled["status"] != "queued"
            },
        )
        .await;
        assert_eq!(settled["status"], "reconciled", "{settled}");
        assert!(settled["received_at"].is_string(), "{settled}");
        let number = settled["number"].as_str().unwrap().to_owned();
        ledger
            .lock()
            .unwrap()
            .get_mut(key)
            .unwrap()
            .numbers
            .insert(number);
    }
    assert!(!references.is_empty());
    let settled_within = back.elapsed();

    // Exactly one number per acknowledged key, and no number for two keys.
    let ledger = ledger.lock().unwrap().clone();
    eprintln!(
        "continuity: {} keys acknowledged, {} of them with a provisional reference (202); \
         PostgreSQL down {:.1} s; every reference reconciled within {:.1} s of its return \
         (four clients stopped once eight more were lodged directly)",
        ledger.len(),
        references.len(),
        outage.as_secs_f64(),
        settled_within.as_secs_f64()
    );
    let mut numbers = BTreeSet::new();
    for (key, told) in &ledger {
        assert_eq!(told.numbers.len(), 1, "{key}: {told:?}");
        assert!(
            numbers.insert(told.numbers.first().unwrap().clone()),
            "{key}: {told:?}"
        );
    }
    // The store holds one acceptance per key, for every acknowledged key.
    let accepted: BTreeMap<String, String> = postgres
        .psql(
            "SELECT idempotency_key || ' ' || (payload::jsonb->>'number') FROM events \
             WHERE action = 'declaration.accepted'",
        )
        .lines()
        .map(|line| {
            let (key, number) = line.split_once(' ').unwrap();
            (key.to_owned(), number.to_owned())
        })
        .collect();
    for (key, told) in &ledger {
        assert_eq!(accepted.get(key), told.numbers.first(), "{key}");
    }
    let duplicates = postgres.psql(
        "SELECT count(*) FROM (SELECT payload::jsonb->>'number' FROM events \
         WHERE action = 'declaration.accepted' GROUP BY 1 HAVING count(*) > 1) d",
    );
    assert_eq!(duplicates, "0");

    // The record shows both times; the trade sees the continuity on its acceptance receipt.
    let (key, reference) = &references[0];
    let received = postgres.psql(&format!(
        "SELECT payload::jsonb->'continuity'->>'received_at' FROM events \
         WHERE action = 'declaration.accepted' AND idempotency_key = '{key}'"
    ));
    assert!(!received.is_empty());
    let number = ledger[key].numbers.first().unwrap();
    let history = get(
        &http,
        &address,
        &users.broker,
        &format!("/v1/declarations/{number}/events"),
    )
    .await
    .unwrap();
    assert_eq!(history.status, 200, "{}", history.body);
    let receipt = &history.body["receipts"][0];
    assert_eq!(receipt["receipt"], "accepted", "{}", history.body);
    // A key first lodged directly (its answer lost in the outage) keeps the first acceptance.
    if let Some(continuity) = receipt.get("continuity") {
        assert_eq!(continuity["provisional_reference"], json!(reference));
        assert_eq!(continuity["received_at"], json!(received));
    }
    assert!(
        postgres.psql(
            "SELECT count(*) FROM events WHERE action = 'declaration.accepted' \
             AND payload::jsonb ? 'continuity'"
        ) != "0"
    );

    // Out of continuity: ready again, nothing queued, what was queued counted as lodged.
    let ready = get(&http, &address, "", "/v1/health/ready").await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    let metrics = http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in ["customs_continuity_active 0", "customs_continuity_queued 0"] {
        assert!(metrics.lines().any(|l| l == line), "{line}: {metrics}");
    }
    let reconciled: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("customs_continuity_reconciled_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reconciled as usize, references.len());

    // The audit chain verifies.
    let verification = get(&http, &address, &users.auditor, "/v1/audit/verification")
        .await
        .unwrap();
    assert_eq!(verification.status, 200, "{}", verification.body);
    assert_eq!(verification.body["intact"], true, "{}", verification.body);

    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lodgings_queued_survive_a_kill_of_the_instance_and_are_lodged_in_order() {
    let postgres = PrivatePostgres::start();
    let url = postgres.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A queue of three, to reach its limit.
    let limit = [("CUSTOMS_CONTINUITY_QUEUE_MAX", "3")];
    let (mut server, address) = serve(&data, &url, &limit);
    let users = make_users(&data, &url).await;
    let http = reqwest::Client::new();
    for (token, key) in [(&users.broker, "warm-1"), (&users.other_broker, "warm-2")] {
        let warm = lodge(&http, &address, token, Some(key), EXAMPLE)
            .await
            .unwrap();
        assert_eq!(warm.status, 201, "{}", warm.body);
    }

    postgres.stop_immediately();
    let mut queued = Vec::new();
    for (token, key) in [
        (&users.broker, "q-1"),
        (&users.other_broker, "q-2"),
        (&users.broker, "q-3"),
    ] {
        let mut answer = None;
        wait_until(
            &format!("{key} queued"),
            Duration::from_secs(60),
            async || {
                let got = lodge(&http, &address, token, Some(key), EXAMPLE)
                    .await
                    .unwrap();
                let done = got.status == 202;
                assert!(
                    done || got.status == 503,
                    "{key}: {} {}",
                    got.status,
                    got.body
                );
                answer = Some(got);
                done
            },
        )
        .await;
        let answer = answer.unwrap();
        assert_eq!(answer.body["status"], "queued", "{}", answer.body);
        queued.push(
            answer.body["provisional_reference"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // The queue's limit: the next is refused, a resend of a queued one still answered.
    let full = lodge(&http, &address, &users.broker, Some("q-4"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(full.status, 503, "{}", full.body);
    assert!(
        full.body["type"]
            .as_str()
            .unwrap()
            .ends_with("continuity-queue-full"),
        "{}",
        full.body
    );
    assert_eq!(full.retry_after.as_deref(), Some("10"));
    let resent = lodge(&http, &address, &users.broker, Some("q-1"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(resent.status, 202, "{}", resent.body);
    assert_eq!(resent.body["provisional_reference"], json!(queued[0]));

    // kill -9 while queued; the store comes back; one broker's token is revoked meanwhile.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    postgres.pg_ctl_start();
    revoke(&data, &url, &users.other_broker).await;
    let (mut server, address) = serve(&data, &url, &limit);

    let mut settled = Vec::new();
    for reference in &queued {
        let path = format!("/v1/declarations/{reference}");
        let mut body = Value::Null;
        wait_until(
            &format!("{reference} settled"),
            Duration::from_secs(60),
            async || {
                let answer = get(&http, &address, &users.auditor, &path).await.unwrap();
                // While the restarted instance is still in continuity, it has verified no token.
                // The outage, or the token's rate while polling: ask again.
                if answer.status == 503 || answer.status == 429 {
                    return false;
                }
                assert_eq!(answer.status, 200, "{}", answer.body);
                body = answer.body;
                body["status"] != "queued"
            },
        )
        .await;
        settled.push(body);
    }
    assert_eq!(settled[0]["status"], "reconciled", "{}", settled[0]);
    assert_eq!(settled[2]["status"], "reconciled", "{}", settled[2]);
    // The revoked token's lodging is refused, with why, and kept.
    assert_eq!(settled[1]["status"], "refused", "{}", settled[1]);
    assert_eq!(
        settled[1]["refusal"]["code"], "token-refused",
        "{}",
        settled[1]
    );
    assert!(settled[1]["refusal"]["message_zh"].is_string());
    // ...and recorded in the audit chain, as the platform's act, with the reasons.
    assert_eq!(
        postgres.psql(&format!(
            "SELECT payload::jsonb->'refusal'->>'code' FROM events \
             WHERE action = 'continuity.refused' AND subject = '{}'",
            queued[1]
        )),
        "token-refused"
    );

    // In receipt order: the first queued was accepted before the third. `row` orders events
    // across the audit chains (a seq orders them within one chain only).
    let row_of = |key: &str| -> u64 {
        postgres
            .psql(&format!(
                "SELECT row FROM events WHERE action = 'declaration.accepted' \
                 AND idempotency_key = '{key}'"
            ))
            .parse()
            .unwrap()
    };
    assert!(row_of("q-1") < row_of("q-3"));
    assert_eq!(
        postgres.psql(
            "SELECT count(*) FROM events WHERE action = 'declaration.accepted' \
             AND idempotency_key = 'q-2'"
        ),
        "0"
    );
    // Once reconciled, the instance lodges directly again.
    let direct = lodge(&http, &address, &users.broker, Some("after"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(direct.status, 201, "{}", direct.body);
    let verification = get(&http, &address, &users.auditor, "/v1/audit/verification")
        .await
        .unwrap();
    assert_eq!(verification.body["intact"], true, "{}", verification.body);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // The tables rebuilt from the chain, acceptances from continuity included, agree with the
    // store's (serve refuses to start otherwise).
    let (mut server, _) = serve(&data, &url, &limit);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

/// What an instance keeps in its folder for a start without the store: (code lists kept,
/// tokens kept), read from its queue's file.
fn kept_in_folder(data: &Path) -> (bool, usize) {
    let path = data.join("continuity-queue.sqlite");
    let Ok(connection) =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return (false, 0);
    };
    let lists: i64 = connection
        .query_row(
            "SELECT count(*) FROM kept WHERE name = 'code_lists'",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0);
    let tokens: i64 = connection
        .query_row("SELECT count(*) FROM trusted_tokens", [], |row| row.get(0))
        .unwrap_or(0);
    (lists == 1, tokens as usize)
}

/// The lodgings of a queue's file: (reference, state), in receipt order.
fn queue_rows(data: &Path) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open_with_flags(
        data.join("continuity-queue.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut statement = connection
        .prepare("SELECT reference, state FROM lodgings ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An instance that starts while PostgreSQL is down starts in continuity (with the tokens and
/// code lists it kept), queues, is backed up and restored with its queue, and lodges the queue
/// when PostgreSQL is back; another instance answers the provisional reference, saying while
/// it is queued that only the instance named in it knows it, and once reconciled with its
/// number from the central store.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_started_without_postgres_queues_and_any_instance_answers_its_references() {
    let postgres = PrivatePostgres::start();
    let url = postgres.url();
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let never = dir.path().join("never");

    // An instance that never reached its database refuses to start without it (a wrong address
    // is seen at once), however it is asked.
    postgres.stop_immediately();
    let refused = Command::new(customs_binary())
        .env("CUSTOMS_LOG", "warn")
        .arg("--data")
        .arg(&never)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cannot open the PostgreSQL store"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    postgres.pg_ctl_start();

    let (server_a, address_a) = serve(&data_a, &url, &[]);
    let users = make_users(&data_a, &url).await;
    std::fs::create_dir_all(&data_b).unwrap();
    for key in ["audit-signing.key", "buyer-id.key"] {
        std::fs::copy(data_a.join(key), data_b.join(key)).unwrap();
    }
    let (_server_b, address_b) = serve(&data_b, &url, &[]);
    let http = reqwest::Client::new();
    for (address, key) in [(&address_a, "warm-a"), (&address_b, "warm-b")] {
        let warm = lodge(&http, address, &users.broker, Some(key), EXAMPLE)
            .await
            .unwrap();
        assert_eq!(warm.status, 201, "{}", warm.body);
    }
    // The auditor reads on B: verified there, but not kept for continuity (it may not lodge).
    let read = get(&http, &address_b, &users.auditor, "/v1/declarations")
        .await
        .unwrap();
    assert_eq!(read.status, 200, "{}", read.body);
    wait_until(
        "A keeps its code lists and the broker's token",
        Duration::from_secs(30),
        async || kept_in_folder(&data_a) == (true, 1),
    )
    .await;

    // A is killed; PostgreSQL goes down; A starts again without it: in continuity.
    drop(server_a);
    postgres.stop_immediately();
    let (server_a, address_a) = serve(&data_a, &url, &[]);
    let ready = http
        .get(format!("http://{address_a}/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers()["x-customs-mode"], "continuity");
    let queued = lodge(&http, &address_a, &users.broker, Some("offline-1"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(queued.status, 202, "{}", queued.body);
    assert_eq!(queued.body["status"], "queued", "{}", queued.body);
    let reference = queued.body["provisional_reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let instance_a = queued.body["instance"].as_str().unwrap().to_owned();
    assert!(
        reference.starts_with(&format!("CP-{instance_a}-")),
        "{reference}"
    );
    // A token it never verified is not trusted (fail closed).
    let unverified = lodge(
        &http,
        &address_a,
        &users.checker,
        Some("offline-c"),
        EXAMPLE,
    )
    .await
    .unwrap();
    assert_eq!(unverified.status, 503, "{}", unverified.body);
    assert!(
        unverified.body["type"]
            .as_str()
            .unwrap()
            .ends_with("continuity-token-unverified"),
        "{}",
        unverified.body
    );
    // A broken declaration is still refused at the door, with its field path, against the
    // code lists A kept.
    let mut broken: Value = serde_json::from_str(EXAMPLE).unwrap();
    broken["items"][0]["commodity_code"] = json!("12");
    let refused = lodge(
        &http,
        &address_a,
        &users.broker,
        Some("offline-broken"),
        &broken.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body["errors"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("items[0]"),
        "{}",
        refused.body
    );

    // B, in continuity too, does not know A's reference and says who does.
    let path = format!("/v1/declarations/{reference}");
    let mut elsewhere = None;
    wait_until(
        "B answers for A's reference",
        Duration::from_secs(30),
        async || {
            let answer = get(&http, &address_b, &users.broker, &path).await.unwrap();
            let done = answer.status == 404;
            elsewhere = Some(answer);
            done
        },
    )
    .await;
    let elsewhere = elsewhere.unwrap();
    let detail = elsewhere.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("continuity instance {instance_a}")),
        "{detail}"
    );
    assert!(
        elsewhere.body["detail_zh"]
            .as_str()
            .unwrap()
            .contains(&instance_a),
        "{}",
        elsewhere.body
    );

    // The queue is in the backup of A's folder, with its digest, and restored.
    let backup = dir.path().join("backup");
    let output = crate::support::customs(&data_a, &["backup", backup.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(backup.join("backup-manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["embedded_store"], false, "{manifest}");
    assert_eq!(manifest["continuity_queue"]["queued"], 1, "{manifest}");
    assert_eq!(
        manifest["continuity_queue"]["instance"],
        json!(instance_a),
        "{manifest}"
    );
    let listed = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "continuity-queue.sqlite")
        .unwrap_or_else(|| panic!("the queue in {manifest}"));
    assert_eq!(listed["sha256"].as_str().unwrap().len(), 64);
    assert!(
        !manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"]
                .as_str()
                .unwrap()
                .starts_with("continuity-queue.sqlite-")),
        "{manifest}"
    );
    let restored = dir.path().join("restored");
    let output = crate::support::customs(&restored, &["restore", backup.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = queue_rows(&restored);
    assert!(
        rows.contains(&(reference.clone(), "queued".to_owned())),
        "{rows:?}"
    );
    // A queue altered after the backup is refused, nothing restored.
    let copy = backup.join("continuity-queue.sqlite");
    let mut bytes = std::fs::read(&copy).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&copy, bytes).unwrap();
    let again = dir.path().join("restored-again");
    let output = crate::support::customs(&again, &["restore", backup.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SHA-256"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!again.join("continuity-queue.sqlite").exists());

    // PostgreSQL is back: A makes the start's checks, lodges its queue, and leaves continuity.
    postgres.pg_ctl_start();
    let mut settled = Value::Null;
    wait_until("A's queue lodged", Duration::from_secs(60), async || {
        let answer = get(&http, &address_a, &users.broker, &path).await.unwrap();
        if answer.status == 503 || answer.status == 429 {
            return false;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        settled = answer.body;
        settled["status"] != "queued"
    })
    .await;
    assert_eq!(settled["status"], "reconciled", "{settled}");
    let number = settled["number"].as_str().unwrap().to_owned();
    // Any instance answers the reference now, from the central store: the sender and customs.
    for token in [&users.broker, &users.auditor] {
        let mut answer = None;
        wait_until(
            "B answers the reconciled reference",
            Duration::from_secs(30),
            async || {
                let got = get(&http, &address_b, token, &path).await.unwrap();
                let done = got.status == 200;
                answer = Some(got);
                done
            },
        )
        .await;
        let answer = answer.unwrap();
        assert_eq!(answer.body["status"], "reconciled", "{}", answer.body);
        assert_eq!(answer.body["number"], json!(number), "{}", answer.body);
        assert_eq!(
            answer.body["instance"],
            json!(instance_a),
            "{}",
            answer.body
        );
        assert_eq!(answer.body["continuity"], true, "{}", answer.body);
        assert!(answer.body.get("user").is_none(), "{}", answer.body);
    }
    // Another broker of the same enterprise did not send it: not found, as any unknown one.
    let other = get(&http, &address_b, &users.other_broker, &path)
        .await
        .unwrap();
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(
        postgres.psql(&format!(
            "SELECT payload::jsonb->>'number' FROM events \
             WHERE action = 'continuity.reconciled' AND subject = '{reference}'"
        )),
        number
    );
    assert_eq!(
        postgres.psql(
            "SELECT payload::jsonb->'continuity'->>'provisional_reference' FROM events \
             WHERE action = 'declaration.accepted' AND idempotency_key = 'offline-1'"
        ),
        reference
    );
    // A lodges directly again.
    let direct = lodge(&http, &address_a, &users.broker, Some("after"), EXAMPLE)
        .await
        .unwrap();
    assert_eq!(direct.status, 201, "{}", direct.body);
    drop(server_a);
}
