//! The clearance story every store runs, against a fresh PostgreSQL database.

mod common;

use store::Store;
use store_postgres::PostgresOptions;
use store_tests::{clearance_story, story_signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearance_story_on_postgres() {
    let database = common::TestDatabase::create().await;
    let store = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    clearance_story(&store).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        store_postgres::SCHEMA_VERSION
    );
    store.ping_writer().await.unwrap();
    let stats = store.operational_stats().await.unwrap();
    assert!(stats.database_bytes > 0, "{stats:?}");
    assert!(stats.writer_running);
    assert_eq!(
        stats.last_audit_checkpoint.map(|(seq, _)| seq),
        Some(stats.chain_head_seq)
    );
    store.close();
}

/// A second store opened on a migrated database applies nothing and sees the same chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_migrates_nothing_and_keeps_the_head() {
    let database = common::TestDatabase::create().await;
    let first = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    assert_eq!(first.reserve_serials("D:2026", 3).await.unwrap(), 1);
    let second = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    assert_eq!(second.reserve_serials("D:2026", 1).await.unwrap(), 4);
    assert_eq!(
        second.schema_version().await.unwrap(),
        store_postgres::SCHEMA_VERSION
    );
    first.close();
    second.close();
}
