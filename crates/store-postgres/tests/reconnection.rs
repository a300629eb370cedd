//! What an instance sees of a failover, on the real PostgreSQL: its connection cut in the middle
//! of an append (the primary's backend killed), and new connections reaching a server that
//! refuses writes (a standby, or a primary demoted to one). Each is refused as `Unavailable`
//! (503 with Retry-After, never a 500), the broken connection is not handed out again, and the
//! append resent with its idempotency key is recorded exactly once. The whole failover, with
//! Patroni and HAProxy, is drilled in crates/customs/tests/it/failover.rs.

mod common;

use std::time::{Duration, Instant};

use store::{Actor, Append, AppendOutcome, Projection, Store, StoreError};
use store_postgres::{PostgresOptions, PostgresStore};
use store_tests::story_signer;

/// How long a test waits for PostgreSQL to show what it waits for (a backend gone, one waiting
/// on a lock).
const WAIT_DEADLINE: Duration = Duration::from_secs(20);

/// One connection: whatever broke it, the next request can only succeed on a new one.
fn one_connection() -> PostgresOptions {
    PostgresOptions {
        pool_size: 1,
        ..PostgresOptions::production()
    }
}

fn append(key: &str) -> Append {
    Append {
        actor: Actor {
            user_id: "U-CLERK".to_owned(),
            role: "broker".to_owned(),
        },
        recorded_at_ms: 1_767_225_600_000,
        subject: format!("D-{key}"),
        action: "test.lodged".to_owned(),
        idempotency_scope: "enterprise-1".to_owned(),
        idempotency_key: key.to_owned(),
        request_digest: format!("{:064x}", key.len()),
        payload: format!(r#"{{"key":"{key}"}}"#),
        expected_version: None,
        projection: Projection::Nothing,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// Polls `sql` (one count) on `client` until it answers `want`.
async fn wait_for_count(client: &tokio_postgres::Client, sql: &str, want: i64) {
    let started = Instant::now();
    loop {
        let count: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
        if count == want {
            return;
        }
        assert!(
            started.elapsed() < WAIT_DEADLINE,
            "{sql}: {count}, not {want} within {WAIT_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const OTHER_BACKENDS: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid()";

async fn terminate_other_backends(client: &tokio_postgres::Client) {
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    wait_for_count(client, OTHER_BACKENDS, 0).await;
}

async fn assert_recorded_once(store: &PostgresStore, key: &str) {
    let outcome = store.append(append(key)).await;
    assert!(
        matches!(outcome, Ok(AppendOutcome::Appended { .. })),
        "{key} resent after the refusal: {outcome:?}"
    );
    let outcome = store.append(append(key)).await;
    assert!(
        matches!(
            outcome,
            Ok(AppendOutcome::Duplicate {
                same_request: true,
                ..
            })
        ),
        "{key} resent again is the same lodging, not a second one: {outcome:?}"
    );
}

#[tokio::test]
async fn a_connection_cut_mid_append_is_refused_as_unavailable_then_replaced() {
    let db = common::TestDatabase::create().await;
    let store = db.open(one_connection(), story_signer()).await;
    assert!(matches!(
        store.append(append("K-1")).await,
        Ok(AppendOutcome::Appended { .. })
    ));

    // The append waits on a lock held here, inside its transaction; then its backend is killed,
    // as a primary's are when it dies.
    let mut holder = db.client().await;
    let lock = holder.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let waiting = {
        let store = store.clone();
        tokio::spawn(async move { store.append(append("K-2")).await })
    };
    let watcher = db.client().await;
    let waiting_on_lock = "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'";
    wait_for_count(&watcher, waiting_on_lock, 1).await;
    watcher
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .await
        .unwrap();
    let cut = waiting.await.unwrap();
    assert!(
        matches!(cut, Err(StoreError::Unavailable(_))),
        "a cut connection is a refusal to retry, not a fault: {cut:?}"
    );
    lock.rollback().await.unwrap();

    // The one connection was cut; the resent append gets a new one and is recorded once.
    assert_recorded_once(&store, "K-2").await;
}

#[tokio::test]
async fn a_connection_to_a_server_refusing_writes_is_refused_as_unavailable_then_replaced() {
    let db = common::TestDatabase::create().await;
    let store = db.open(one_connection(), story_signer()).await;
    assert!(matches!(
        store.append(append("K-1")).await,
        Ok(AppendOutcome::Appended { .. })
    ));

    // New sessions refuse writes, as on a standby; the store's connection is cut, so its next
    // one is such a session.
    let admin = db.client().await;
    let name = &db.name;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = on"
        ))
        .await
        .unwrap();
    terminate_other_backends(&admin).await;
    // The first attempt may still meet the cut connection; within two, one meets the
    // read-only session. Both are refusals to retry.
    let mut refused_read_only = false;
    for _ in 0..2 {
        match store.append(append("K-2")).await {
            Err(StoreError::Unavailable(why)) => {
                refused_read_only |= why.contains("read-only");
            }
            other => panic!("a write on a read-only session is refused as unavailable: {other:?}"),
        }
        if refused_read_only {
            break;
        }
    }
    assert!(refused_read_only, "a read-only session was met");

    // The server takes writes again (the new primary behind the same address). The read-only
    // session was closed, not pooled: the resent append gets a writable one.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} RESET default_transaction_read_only"
        ))
        .await
        .unwrap();
    assert_recorded_once(&store, "K-2").await;
}
