//! For tests that need the real NATS: its address and a connection that fails the test, saying
//! what is missing, when NATS is not there (a test never skips silently).

use std::time::Duration;

use async_nats::jetstream;

use store::{Actor, Append, EnterpriseRow, Projection};

use crate::JetStreamConfig;

/// The test server: `CUSTOMS_TEST_NATS`, else NATS's port on this machine.
pub fn nats_url() -> String {
    std::env::var("CUSTOMS_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// JetStream on the test server. Panics with the reason when it cannot be reached.
pub async fn jetstream() -> jetstream::Context {
    let url = nats_url();
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url.as_str())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "these tests need NATS with JetStream at {url} (start it with `nats-server -js`, \
                 or set CUSTOMS_TEST_NATS): {e}"
            )
        });
    jetstream::new(client)
}

/// A stream and prefix of this test's own, deleted when the test ends, passed or failed.
pub struct TestStream {
    pub config: JetStreamConfig,
}

impl TestStream {
    /// A stream named `CUSTOMS_TEST_<uuid>` with subjects `test-<uuid>.customs.events.>`,
    /// reached through `url`.
    pub fn new(url: &str) -> TestStream {
        let run = uuid::Uuid::new_v4().simple().to_string();
        TestStream {
            config: JetStreamConfig {
                url: url.to_owned(),
                stream: format!("CUSTOMS_TEST_{run}"),
                subject_prefix: format!("test-{run}.customs.events"),
            },
        }
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        // A runtime of its own on a thread of its own: drop may run while the test's runtime
        // unwinds from a failed assertion.
        let stream = self.config.stream.clone();
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async { jetstream().await.delete_stream(&stream).await.is_ok() })
        })
        .join();
        if !std::thread::panicking() {
            assert!(matches!(deleted, Ok(true)), "the test's stream is deleted");
        }
    }
}

/// The `n`th enterprise's registration: the smallest real append, one event, whose payload
/// carries a decimal amount as text (the bus must carry it byte for byte).
pub fn registration(n: usize) -> Append {
    let enterprise = EnterpriseRow {
        id: format!("ent-{n}"),
        credit_code: format!("9131{n:014}"),
        customs_code: format!("3{n:09}"),
        name: format!("Trading Co. {n}"),
    };
    Append {
        actor: Actor {
            user_id: "usr-admin".to_owned(),
            role: "administrator".to_owned(),
        },
        recorded_at_ms: 1_767_225_600_000 + n as i64,
        subject: enterprise.id.clone(),
        action: "enterprise.registered".to_owned(),
        idempotency_scope: "usr-admin".to_owned(),
        idempotency_key: format!("register-{n}"),
        request_digest: format!("digest-{n}"),
        payload: format!(r#"{{"enterprise":"ent-{n}","fee":"12.50"}}"#),
        expected_version: None,
        projection: Projection::NewEnterprise(enterprise),
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}
