//! `customs worker`: after a tariff release is rolled back, every open declaration assessed with
//! it is reassessed with the tariff in force again, recorded as the officer whose token is
//! `worker.token`; a model an analyst asked for is trained as that analyst and registered once.
//! By a worker process taking the jobs from NATS JetStream on PostgreSQL, and inside `serve` (the
//! in-process bus) on the embedded store. Against the real PostgreSQL and NATS; fails, never
//! skips, without them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::instances::{Client, Killed, admin, until_ready};
use crate::postgres::{TestDatabase, psql};
use crate::support::{BROKER, TRADER, command, ok};

/// How long the reassessments may take to appear after the roll-back (a job is taken within a
/// second; the margin is for a loaded CI machine).
const WAIT: Duration = Duration::from_secs(60);
/// Declarations lodged under the tariff that is then withdrawn.
const LODGED: usize = 3;

/// Labelled history (the model crate's slice of the KCS data) for the training job.
const HISTORY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/test_data/kcs_train_600.csv"
);

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

/// A release's files as the import route takes them; `raise` makes the example's telephones
/// (HS 85171300) dutiable at 5 % instead of 0 %.
fn files(names: &[&str], raise: bool) -> Value {
    let files: serde_json::Map<String, Value> = names
        .iter()
        .map(|name| {
            let mut text = std::fs::read_to_string(format!("{SAMPLE}/{name}")).unwrap();
            if raise {
                text = text.replace("85171300,mfn,,ad_valorem,0,", "85171300,mfn,,ad_valorem,5,");
            }
            ((*name).to_owned(), Value::String(text))
        })
        .collect();
    Value::Object(files)
}

const TARIFF_FILES: [&str; 4] = [
    "lines.csv",
    "duty_rates.csv",
    "consumption_tax.csv",
    "trade_remedies.csv",
];

async fn import_and_activate(
    client: &Client,
    at: &str,
    root: &str,
    kind: &str,
    files: Value,
    from: &str,
) -> String {
    let (status, release) = client
        .post(
            at,
            "/v1/releases",
            root,
            &json!({ "kind": kind, "label": format!("{kind} {from}"), "files": files }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    let id = release["id"].as_str().unwrap().to_owned();
    let (status, activated) = client
        .post(
            at,
            &format!("/v1/releases/{id}/activation"),
            root,
            &json!({ "effective_from": from }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    id
}

/// `serve` (or `worker`) with `env`, its stderr read until `ready` appears in a line; what
/// follows is drained so the process never blocks on a full pipe. For `serve`, the address.
pub(crate) fn start(
    data: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    ready: &str,
) -> (Killed, String) {
    let mut run = command();
    run.env("CUSTOMS_LOG", "warn")
        .env_remove("CUSTOMS_DATABASE")
        .env_remove("CUSTOMS_BUS")
        .arg("--data")
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        run.env(name, value);
    }
    let mut child = run.spawn().expect("the binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut printed = String::new();
    let child = Killed(child);
    loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("{args:?} stopped before it was ready:\n{printed}");
        };
        if line.contains(ready) {
            let address = line
                .split("listening on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (child, address);
        }
        printed.push_str(&line);
        printed.push('\n');
    }
}

/// The users: a broker for TRADER, and an officer account for the worker; the administrator's,
/// the broker's and the worker's tokens. `run` is `customs admin ...` on the backend.
pub(crate) fn seed(run: &dyn Fn(Option<&str>, &[&str]) -> String) -> (String, String, String) {
    let root = run(None, &["init", "--name", "root"]);
    let as_root = |args: &[&str]| run(Some(&root), args);
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
        as_root(&[
            "enterprise",
            "--credit-code",
            code,
            "--customs-code",
            customs_code,
            "--name",
            name,
        ]);
    }
    as_root(&[
        "authorise-broker",
        "--broker",
        BROKER,
        "--principal",
        TRADER,
    ]);
    as_root(&[
        "user",
        "--name",
        "broker",
        "--role",
        "broker",
        "--enterprise",
        BROKER,
    ]);
    as_root(&["user", "--name", "reassessor", "--role", "officer"]);
    let broker = as_root(&["token", "--user", "broker"]);
    let worker = as_root(&["token", "--user", "reassessor"]);
    (root, broker, worker)
}

/// On the served API at `at`: two tariffs in force one after the other, LODGED declarations
/// assessed with the second, the second rolled back; then every declaration gets, within
/// WAIT, one reassessment with the first tariff and a lower total. The declarations' ids.
async fn roll_back_and_see_the_reassessments(
    at: &str,
    root: &str,
    broker: &str,
    worker: &str,
) -> Vec<String> {
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    };
    until_ready(&client.http, at).await;
    let first = import_and_activate(
        &client,
        at,
        root,
        "tariff",
        files(&TARIFF_FILES, false),
        "2026-01-01",
    )
    .await;
    import_and_activate(
        &client,
        at,
        root,
        "exchange_rates",
        files(&["exchange_rates.csv"], false),
        "2026-01-01",
    )
    .await;
    let second = import_and_activate(
        &client,
        at,
        root,
        "tariff",
        files(&TARIFF_FILES, true),
        "2026-11-01",
    )
    .await;
    let mut lodged = Vec::new();
    for lot in 0..LODGED {
        lodged.push(client.lodge(at, broker, lot).await.0);
    }
    let mut totals = Vec::new();
    for id in &lodged {
        let path = format!("/v1/declarations/{id}/assessments");
        let (status, body) = client.get(at, &path, worker).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = &body["assessments"];
        assert_eq!(records[0]["tariff_release"], json!(second), "{body}");
        totals.push(money(&records[0]["total_payable"]));
    }

    let (status, rolled) = client
        .post(
            at,
            "/v1/releases/rollback",
            root,
            &json!({ "kind": "tariff", "reason": "wrong rate for 85171300" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");

    let deadline = Instant::now() + WAIT;
    for (id, before) in lodged.iter().zip(totals) {
        let path = format!("/v1/declarations/{id}/assessments");
        let records = loop {
            let (status, mut body) = client.get(at, &path, worker).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let records = body["assessments"].take();
            if records.as_array().is_some_and(|r| r.len() >= 2) {
                break records;
            }
            assert!(
                Instant::now() < deadline,
                "{id} was not reassessed within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let records = records.as_array().unwrap();
        assert_eq!(records.len(), 2, "one reassessment of {id}");
        let last = &records[1];
        assert_eq!(last["basis"], "officer", "{last}");
        assert_eq!(last["tariff_release"], json!(first), "{last}");
        assert!(money(&last["total_payable"]) < before, "{last}");
        assert!(
            last.to_string().contains(&second),
            "the reason names it: {last}"
        );
    }
    lodged
}

/// The analyst account that asks for training jobs (made with `run`, as root); its token.
fn analyst(run: &dyn Fn(Option<&str>, &[&str]) -> String, root: &str) -> String {
    run(
        Some(root),
        &["user", "--name", "analyst-wang", "--role", "risk_analyst"],
    );
    run(Some(root), &["token", "--user", "analyst-wang"])
}

/// On the served API at `at`: labelled history imported, a training job asked for (twice with
/// one key: one job, answered at once), and within WAIT its model registered in shadow as the
/// analyst's, by whoever runs jobs.
async fn train_as_a_job(at: &str, analyst: &str) {
    let http = reqwest::Client::new();
    let imported = http
        .post(format!("http://{at}/v1/history?format=kcs&label=600"))
        .bearer_auth(analyst)
        .body(std::fs::read_to_string(HISTORY).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::CREATED);
    let ask = || {
        http.post(format!("http://{at}/v1/models/training-jobs"))
            .bearer_auth(analyst)
            .header("Idempotency-Key", "weekly-1")
            .json(&json!({ "label": "weekly" }))
            .send()
    };
    let first = ask().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again: Value = ask().await.unwrap().json().await.unwrap();
    assert_eq!(first["job"], again["job"], "{again}");
    let job = first["job"].as_str().unwrap();
    let client = Client { http: http.clone() };
    let started = Instant::now();
    let done = loop {
        let (status, view) = client
            .get(at, &format!("/v1/models/training-jobs/{job}"), analyst)
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        if view["status"] != "queued" {
            break view;
        }
        assert!(
            started.elapsed() < WAIT,
            "not trained within {WAIT:?}: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["status"], "registered", "{done}");
    let (_, models) = client.get(at, "/v1/models", analyst).await;
    let models = models["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0]["id"], done["model"]);
    assert_eq!(models[0]["status"], "shadow");
}

fn money(value: &Value) -> rust_decimal::Decimal {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_process_reassesses_after_a_roll_back_on_postgres_and_jetstream() {
    let database = TestDatabase::create();
    let url = database.url();
    let nats = bus::testing::nats_url();
    let test_stream = bus::testing::TestStream::new(&nats);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |token: Option<&str>, args: &[&str]| admin(&data, &url, token, args);
    let (root, broker, worker) = seed(&run);
    let analyst = analyst(&run, &root);
    let bus_env = [
        ("CUSTOMS_BUS_STREAM", test_stream.config.stream.as_str()),
        (
            "CUSTOMS_BUS_SUBJECT_PREFIX",
            test_stream.config.subject_prefix.as_str(),
        ),
    ];
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &url,
        "--bus",
        &nats,
    ];
    let (_server, at) = start(&data, &serve, &bus_env, "listening on http://");
    let mut worker_env = bus_env.to_vec();
    worker_env.push(("CUSTOMS_WORKER_TOKEN", worker.as_str()));
    let (_worker, _) = start(
        &data,
        &["worker", "--database", &url, "--bus", &nats],
        &worker_env,
        "customs worker: reassessing after roll-backs",
    );

    let lodged = roll_back_and_see_the_reassessments(&at, &root, &broker, &worker).await;
    train_as_a_job(&at, &analyst).await;
    // Registered once, under the job's key (the instances leave jobs to workers with NATS).
    let registered = psql(
        &url,
        "SELECT count(*) FROM events WHERE action = 'risk_model.registered' \
         AND idempotency_scope = 'training-job'",
    );
    assert_eq!(registered, "1");

    // Recorded as the worker's officer, each under the job's key: once.
    let recorded = psql(
        &url,
        "SELECT count(*) || ' ' || count(DISTINCT subject) || ' ' || min(u.name) || ' ' || max(u.name) \
         FROM events e JOIN users u ON u.id = e.actor_user \
         WHERE e.action = 'declaration.assessed' AND e.idempotency_key LIKE 'roll-back:%'",
    );
    assert_eq!(recorded, format!("{LODGED} {LODGED} reassessor reassessor"));
    assert_eq!(lodged.len(), LODGED);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_the_embedded_store_reassesses_after_a_roll_back_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |token: Option<&str>, args: &[&str]| {
        let mut line = vec!["admin"];
        if let Some(token) = token {
            line.extend(["--token", token]);
        }
        line.extend(args);
        ok(&data, &line).trim().to_owned()
    };
    let (root, broker, worker) = seed(&run);
    let analyst = analyst(&run, &root);
    let (_server, at) = start(
        &data,
        &["serve", "--listen", "127.0.0.1:0"],
        &[("CUSTOMS_WORKER_TOKEN", worker.as_str())],
        "listening on http://",
    );
    roll_back_and_see_the_reassessments(&at, &root, &broker, &worker).await;
    train_as_a_job(&at, &analyst).await;
}

/// The worker says which setting it lacks before it connects to anything.
#[test]
fn the_worker_names_what_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let worker = |args: &[&str], token: Option<&str>| {
        let mut run = Command::new(crate::support::customs_binary());
        run.env_remove("CUSTOMS_DATABASE")
            .env_remove("CUSTOMS_BUS")
            .env_remove("CUSTOMS_WORKER_TOKEN")
            .arg("--data")
            .arg(&data)
            .arg("worker")
            .args(args);
        if let Some(token) = token {
            run.env("CUSTOMS_WORKER_TOKEN", token);
        }
        let output = run.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let database = ["--database", "postgres://customs@127.0.0.1:1/customs"];
    // The folder (it holds the keys) must exist: the worker never makes one.
    assert!(worker(&[], None).contains("does not exist"));
    std::fs::create_dir(&data).unwrap();
    assert!(worker(&[], None).contains("serve.database"));
    assert!(worker(&database, None).contains("bus.url"));
    let both = [&database[..], &["--bus", "nats://127.0.0.1:1"]].concat();
    let lacks_token = worker(&both, None);
    assert!(lacks_token.contains("worker.token"), "{lacks_token}");
    assert!(lacks_token.contains("关员"), "{lacks_token}");
    // A token shorter than a secret may be is named as a bad setting.
    let short = worker(&both, Some("short"));
    assert!(short.contains("worker.token"), "{short}");
}
