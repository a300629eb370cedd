//! A fresh PostgreSQL database per test, dropped at the end (even when the test fails).
//!
//! The server is `CUSTOMS_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`).
//! If it cannot be reached the test fails and says so: CI runs PostgreSQL, and a test that
//! skipped silently would prove nothing.

#![allow(dead_code)]

use audit::AuditSigner;
use store_postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub config: tokio_postgres::Config,
}

fn admin_url() -> String {
    std::env::var("CUSTOMS_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = match tokio_postgres::connect(url, NoTls).await {
        Ok(connected) => connected,
        Err(err) => panic!(
            "PostgreSQL is unreachable at {url} ({err}). These tests need a real PostgreSQL: \
             start it (CI does) or point CUSTOMS_TEST_POSTGRES at one; they never skip."
        ),
    };
    tokio::spawn(connection);
    client
}

impl TestDatabase {
    /// Creates `customs_test_<random>` on the test server.
    pub async fn create() -> TestDatabase {
        let admin_url = admin_url();
        let name = format!("customs_test_{:016x}", rand::random::<u64>());
        admin(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("creating the test database {name}: {err}"));
        let mut config: tokio_postgres::Config = admin_url.parse().expect("a PostgreSQL URL");
        config.dbname(&name);
        TestDatabase {
            admin_url,
            name,
            config,
        }
    }

    pub async fn open(&self, options: PostgresOptions, signer: AuditSigner) -> PostgresStore {
        PostgresStore::open(self.config.clone(), options, signer)
            .await
            .unwrap_or_else(|err| panic!("opening the store on {}: {err:#}", self.name))
    }

    /// The test database's URL (the test server's, naming this database).
    pub fn url(&self) -> String {
        let (server, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("a PostgreSQL URL names its database");
        format!("{server}/{}", self.name)
    }

    /// A connection of the test's own to the database, to look at it directly.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = self.config.connect(NoTls).await.expect("connecting");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // On a thread of its own with its own runtime: drop may run while the test's runtime
        // unwinds from a failure.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                admin(&url)
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the test database {} could not be dropped", self.name);
        }
    }
}

/// Every chain of `store` read whole and verified against `key`, each anchored by the signed
/// rounds of all heads (which must verify too); the entries of all chains, with their chain.
pub async fn verified_chains(
    store: &PostgresStore,
    key: &audit::AuditPublicKey,
) -> Vec<(u16, audit::StoredEntry)> {
    use store::Store;
    let chains = store.chain_count();
    let rounds = store.checkpoint_rounds().await.unwrap();
    let anchors = audit::round_anchors(&rounds, usize::from(chains), key)
        .unwrap_or_else(|fault| panic!("the rounds of signed heads verify: {fault}"));
    let mut all = Vec::new();
    for chain in 0..chains {
        let entries = store.chain_entries(chain, 0, usize::MAX).await.unwrap();
        let checkpoints = store.chain_checkpoints(chain).await.unwrap();
        let options = audit::VerifyOptions {
            anchors: anchors[usize::from(chain)].clone(),
            checkpoint_bound: None,
        };
        let mut verifier = audit::ChainVerifier::with_options(&checkpoints, key, &options);
        for stored in &entries {
            verifier.push(stored);
        }
        let report = verifier.finish();
        assert!(report.is_ok(), "chain {chain} verifies: {report:?}");
        all.extend(entries.into_iter().map(|e| (chain, e)));
    }
    all
}
