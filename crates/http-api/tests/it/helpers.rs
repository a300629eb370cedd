//! One app per test: a fresh SQLite store in a temporary directory, seeded enterprises and one user
//! (with a token) per role, served on 127.0.0.1:0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use audit::AuditSigner;
use clearance::{Clearance, ClearanceConfig, Clock, PinnedClock, Role};
use http_api::{ApiConfig, ConnectionLimits};
use reference::ReferenceData;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use store::Actor;
use store_sqlite::{SqliteOptions, SqliteStore};
use tempfile::TempDir;

pub const TRADER: &str = "91310115MA1H000024";
pub const BROKER: &str = "91310000MA1FL0001R";
pub const OTHER_TRADER: &str = "91440300MA5F00003G";

/// The seeded users, by name: each name is its role's, `other_declarant` is a declarant of an
/// enterprise that has nothing to do with `TRADER`, and `other_risk_analyst` is the second pair of
/// eyes that approves `risk_analyst`'s rules (and the other way round).
pub const USERS: [(&str, Role, Option<&str>); 9] = [
    ("declarant", Role::Declarant, Some(TRADER)),
    ("broker", Role::Broker, Some(BROKER)),
    ("officer", Role::Officer, None),
    ("risk_analyst", Role::RiskAnalyst, None),
    ("auditor", Role::Auditor, None),
    ("admin", Role::Admin, None),
    ("other_declarant", Role::Declarant, Some(OTHER_TRADER)),
    ("other_risk_analyst", Role::RiskAnalyst, None),
    ("supervisor", Role::Supervisor, None),
];

/// The seeded enterprise register: credit code, customs code and name, as the examples declare
/// them.
pub const ENTERPRISES: [(&str, &str, &str); 3] = [
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
    (
        OTHER_TRADER,
        "4403960003",
        "深圳南山电子有限公司 Shenzhen Nanshan Electronics Co., Ltd.",
    ),
];
/// An auditor without a token, outside `USERS`: disabling it or revoking its tokens changes no
/// other call.
pub const SPARE_USER: &str = "spare_auditor";

/// A caller without a token, for walking every route unauthenticated.
pub const ANONYMOUS: &str = "anonymous";

pub struct TestApp {
    pub address: String,
    pub socket: SocketAddr,
    pub http: reqwest::Client,
    tokens: HashMap<&'static str, String>,
    /// The service behind the API, for a test that must arrange what the API would time out on.
    pub clearance: Arc<Clearance<SqliteStore>>,
    _dir: TempDir,
}

/// What a test looks at in an answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `(path, code)` of each field error of a problem.
    pub fn error_paths(&self) -> Vec<(String, String)> {
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        errors
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with(http_api::PROBLEM_TYPE_PREFIX)
        );
        assert!(!self.body["detail"].as_str().unwrap().is_empty());
        assert!(!self.body["detail_zh"].as_str().unwrap().is_empty());
        let request_id = self.headers["x-request-id"].to_str().unwrap();
        assert_eq!(
            self.body["request_id"], request_id,
            "the problem carries the request id"
        );
    }
}

/// Polls `condition` (every few milliseconds) until it holds or `timeout` passes, and says
/// which: tests wait on what they need (a closed connection's place, a finished training), never
/// for a guessed time.
pub async fn eventually<F, Fut>(timeout: std::time::Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Limits so generous that only the tests of the limits meet them.
pub fn roomy_config() -> ApiConfig {
    ApiConfig {
        requests_per_second_per_client: 10_000,
        burst_per_client: 10_000,
        ..ApiConfig::production()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(roomy_config()).await
}

pub async fn spawn_app_with(config: ApiConfig) -> TestApp {
    spawn_app_with_clock(config, pinned(NOW)).await
}

/// The instant every app's clock starts at unless a test pins another: 10:00 on 2026-11-27 in
/// UTC+8, inside the sample tariff's year and after the example's arrival, far from midnight,
/// month-end and New Year; no test reads the machine's clock, so none races the calendar or
/// loses coverage when the sample's rates run out.
pub const NOW: &str = "2026-11-27T02:00:00Z";

/// A clock that starts at `start` (RFC 3339) and runs on from there.
pub fn pinned(start: &str) -> Arc<PinnedClock> {
    Arc::new(PinnedClock::parse(start).expect("an RFC 3339 instant"))
}

/// The app with its clock pinned at `start` (RFC 3339).
pub async fn spawn_app_at(start: &str) -> TestApp {
    spawn_app_with_clock(roomy_config(), pinned(start)).await
}

/// The app with users beyond [`USERS`] (each with a token, by name), e.g. a second officer; the
/// seeded users' tasks are then drawn among more officers.
pub async fn spawn_app_with_users(
    extra: &'static [(&'static str, Role, Option<&'static str>)],
) -> TestApp {
    spawn_app_seeded(
        roomy_config(),
        ConnectionLimits::production(),
        pinned(NOW),
        extra,
    )
    .await
}

async fn spawn_app_with_clock(config: ApiConfig, clock: Arc<dyn Clock>) -> TestApp {
    spawn_app_seeded(config, ConnectionLimits::production(), clock, &[]).await
}

/// The app served with these connection limits.
pub async fn spawn_app_with_connection_limits(limits: ConnectionLimits) -> TestApp {
    spawn_app_seeded(roomy_config(), limits, pinned(NOW), &[]).await
}

async fn spawn_app_seeded(
    config: ApiConfig,
    limits: ConnectionLimits,
    clock: Arc<dyn Clock>,
    extra: &'static [(&'static str, Role, Option<&'static str>)],
) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let signer = AuditSigner::from_secret_bytes(&[7; 32]);
    let audit_public_key = Some(signer.public_key());
    let store = SqliteStore::open(
        &dir.path().join("customs.sqlite"),
        signer,
        SqliteOptions::production(),
    )
    .expect("the store opens");
    let reference = Arc::new(ReferenceData::embedded().clone());
    let china = ClearanceConfig::china();
    // No random selection: a declaration's lane is decided by the rules a test puts in force.
    let mut selection = china.selection.clone();
    selection.default_random_rate = Default::default();
    selection.random_rates.clear();
    let clearance = Arc::new(Clearance::new(
        store,
        reference,
        ClearanceConfig {
            audit_public_key,
            selection,
            // So that CBEC orders can be lodged and estimated.
            buyer_id_key: Some(clearance::BuyerIdKey::from_bytes([9; 32])),
            ..china
        },
        clock,
    ));
    let tokens = seed(&clearance, extra).await;
    let app = http_api::router(clearance.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let socket = listener.local_addr().unwrap();
    let address = format!("http://{socket}");
    tokio::spawn(async move {
        http_api::serve(listener, app, limits, std::future::pending())
            .await
            .expect("the server runs")
    });
    TestApp {
        address,
        socket,
        http: reqwest::Client::new(),
        tokens,
        clearance,
        _dir: dir,
    }
}

async fn seed(
    clearance: &Clearance<SqliteStore>,
    extra: &'static [(&'static str, Role, Option<&'static str>)],
) -> HashMap<&'static str, String> {
    let actor = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    for (code, customs_code, name) in ENTERPRISES {
        clearance
            .create_enterprise(&actor, code, customs_code, name)
            .await
            .expect("an enterprise");
    }
    clearance
        .authorise_broker(&actor, BROKER, TRADER)
        .await
        .expect("an authorisation");
    // A user with no token, for the tests that disable users or revoke all of a user's tokens.
    clearance
        .create_user(&actor, SPARE_USER, Role::Auditor, None)
        .await
        .expect("a spare user");
    let mut tokens = HashMap::new();
    for &(name, role, enterprise) in USERS.iter().chain(extra) {
        clearance
            .create_user(&actor, name, role, enterprise)
            .await
            .expect("a user");
        tokens.insert(
            name,
            clearance
                .issue_token(&actor, name)
                .await
                .expect("a token")
                .token,
        );
    }
    // The paying bank of the tests is a registered payment connector.
    let admin = clearance
        .authenticate(&tokens["admin"])
        .await
        .expect("the admin's token");
    let registration = json!({
        "id": bank().connector, "name": "Test bank", "public_key": bank().public_key_hex(),
    });
    clearance
        .register_payment_connector(&admin, registration.to_string().as_bytes())
        .await
        .expect("the test bank registers");
    tokens
}

/// The paying bank of the tests (a fixed key), registered as the connector `TESTBANK`.
pub fn bank() -> clearance::payments::SimulatedBank {
    clearance::payments::SimulatedBank::new("TESTBANK", [42; 32])
}

impl TestApp {
    /// The user's token; [`ANONYMOUS`] has none (its requests carry an empty bearer token).
    pub fn token(&self, user: &str) -> &str {
        if user == ANONYMOUS {
            return "";
        }
        &self.tokens[user]
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, user: &str) -> Reply {
        send(self.http.get(self.url(path)).bearer_auth(self.token(user))).await
    }

    /// POSTs JSON, with an idempotency key if given.
    pub async fn post(&self, path: &str, user: &str, key: Option<&str>, body: &Value) -> Reply {
        self.post_bytes(path, user, key, body.to_string()).await
    }

    pub async fn post_bytes(
        &self,
        path: &str,
        user: &str,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.http.post(self.url(path)).bearer_auth(self.token(user));
        request = request
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        send(request).await
    }

    /// POSTs a file as the raw body, with a `Content-Type` if given.
    pub async fn post_file(
        &self,
        path: &str,
        user: &str,
        content_type: Option<&str>,
        content: Vec<u8>,
    ) -> Reply {
        let mut request = self.http.post(self.url(path)).bearer_auth(self.token(user));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        send(request.body(content)).await
    }

    pub async fn put(&self, path: &str, user: &str, body: &Value) -> Reply {
        let request = self.http.put(self.url(path)).bearer_auth(self.token(user));
        send(
            request
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, user: &str) -> Reply {
        send(
            self.http
                .delete(self.url(path))
                .bearer_auth(self.token(user)),
        )
        .await
    }

    pub async fn lodge(&self, user: &str, document: &Value) -> Reply {
        self.post("/v1/declarations", user, None, document).await
    }

    /// The broker claims to have paid what the declaration `id` owes, if anything, quoting the
    /// bank's `reference` (also the idempotency key), and the bank confirms it: only then is it
    /// covered.
    pub async fn settle(&self, id: &str, reference: &str) {
        let path = format!("/v1/declarations/{id}/payments");
        let owed = self.get(&path, "broker").await;
        assert_eq!(owed.status, StatusCode::OK, "{}", owed.text);
        if owed.body["outstanding"] == "0.00" {
            return;
        }
        let payment = json!({
            "kind": "payment", "amount": owed.body["outstanding"], "reference": reference,
        });
        let claimed = self.post(&path, "broker", Some(reference), &payment).await;
        assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
        assert_eq!(
            claimed.body["outstanding"], owed.body["outstanding"],
            "a claim covers nothing"
        );
        let number = self
            .get(&format!("/v1/declarations/{id}"), "broker")
            .await
            .body["number"]
            .as_str()
            .unwrap()
            .to_owned();
        let amount = owed.body["outstanding"].as_str().unwrap();
        let confirmed = self
            .confirm(&bank().confirm(&number, amount, reference, "2026-11-27T10:00:00+08:00"))
            .await;
        assert_eq!(confirmed.status, StatusCode::CREATED, "{}", confirmed.text);
        assert_eq!(confirmed.body["outstanding"], "0.00", "{}", confirmed.text);
    }

    /// Sends a bank's confirmation (no bearer token: its signature authenticates it).
    pub async fn confirm(&self, confirmation: &clearance::payments::PaymentConfirmation) -> Reply {
        send(
            self.http
                .post(self.url("/v1/payment-confirmations"))
                .header("content-type", "application/json")
                .body(serde_json::to_string(confirmation).unwrap()),
        )
        .await
    }

    /// The officer approves the request to amend or cancel pending on the declaration.
    pub async fn approve_request(&self, id: &str) -> Reply {
        let requests = self
            .get(
                &format!("/v1/declarations/{id}/modification-requests"),
                "officer",
            )
            .await;
        let pending = requests
            .body
            .as_array()
            .unwrap()
            .iter()
            .rfind(|r| r["status"] == "pending")
            .unwrap_or_else(|| panic!("no pending request: {}", requests.text))["request"]
            .as_str()
            .unwrap()
            .to_owned();
        let decided = self
            .post(
                &format!("/v1/declarations/{id}/modification-requests/{pending}/decision"),
                "officer",
                None,
                &json!({ "approve": true }),
            )
            .await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
        decided
    }

    /// The officer assesses the declaration by hand (no tariff release in force).
    pub async fn assess_by_hand(&self, id: &str, vat: &str) {
        let assessed = self
            .post(
                &format!("/v1/declarations/{id}/assessments/manual"),
                "officer",
                None,
                &json!({ "customs_duty": "0", "import_vat": vat, "reason": "no tariff release in force" }),
            )
            .await;
        assert_eq!(assessed.status, StatusCode::CREATED, "{}", assessed.text);
    }

    /// Lodges and returns the declaration's id, asserting it was created.
    pub async fn lodged_id(&self, user: &str, document: &Value) -> String {
        let reply = self.lodge(user, document).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// The valid example, as the broker lodges it for the trader.
pub fn example() -> Value {
    serde_json::from_str(include_str!("../../../../examples/declaration-import.json"))
        .expect("the example is JSON")
}

pub fn broken_example() -> Value {
    serde_json::from_str(include_str!("../../../../examples/declaration-broken.json"))
        .expect("the example is JSON")
}

/// The example as an enterprise declaring for itself.
pub fn example_declared_by(credit_code: &str, customs_code: &str) -> Value {
    let mut document = example();
    for party in ["trader", "declarant"] {
        document[party]["credit_code"] = credit_code.into();
        document[party]["customs_code"] = customs_code.into();
        if let Some((_, _, name)) = ENTERPRISES.iter().find(|(c, _, _)| *c == credit_code) {
            document[party]["name"] = (*name).into();
        }
    }
    document
}

pub fn example_for_declarant() -> Value {
    example_declared_by(TRADER, "3115960002")
}

pub fn example_for_other_declarant() -> Value {
    example_declared_by(OTHER_TRADER, "4403960003")
}

/// The SAMPLE 2026 China release of the tariff crate: its files' text by name.
pub fn sample_file(name: &str) -> String {
    let path = format!(
        "{}/../tariff/sample_release_cn_2026/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub const TARIFF_FILES: [&str; 4] = [
    "lines.csv",
    "duty_rates.csv",
    "consumption_tax.csv",
    "trade_remedies.csv",
];

/// The body importing the sample tariff release.
pub fn sample_tariff_import() -> Value {
    let files: serde_json::Map<String, Value> = TARIFF_FILES
        .iter()
        .map(|name| (name.to_string(), Value::from(sample_file(name))))
        .collect();
    json!({ "kind": "tariff", "label": "SAMPLE China tariff 2026", "files": files })
}

/// The body importing an exchange-rate table.
pub fn rates_import(label: &str, text: &str) -> Value {
    json!({ "kind": "exchange_rates", "label": label, "files": { "exchange_rates.csv": text } })
}

/// The body importing the sample exchange-rate table.
pub fn sample_rates_import() -> Value {
    rates_import(
        "SAMPLE customs exchange rates 2026",
        &sample_file("exchange_rates.csv"),
    )
}

impl TestApp {
    /// Imports and activates the sample tariff and exchange rates from `effective_from`, as the
    /// administrator; returns their ids.
    pub async fn activate_sample_releases(&self, effective_from: &str) -> (String, String) {
        let mut ids = Vec::new();
        for body in [sample_tariff_import(), sample_rates_import()] {
            let imported = self.post("/v1/releases", "admin", None, &body).await;
            assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
            let id = imported.body["id"].as_str().unwrap().to_owned();
            let activated = self
                .post(
                    &format!("/v1/releases/{id}/activation"),
                    "admin",
                    None,
                    &json!({ "effective_from": effective_from }),
                )
                .await;
            assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
            ids.push(id);
        }
        let rates = ids.pop().unwrap();
        (ids.pop().unwrap(), rates)
    }
}
