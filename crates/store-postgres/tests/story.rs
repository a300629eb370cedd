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

/// The same story signing a checkpoint after every commit (in the background, racing the
/// story's own `checkpoint_now`), so its checks do not depend on one tuning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearance_story_on_postgres_signing_every_entry() {
    let database = common::TestDatabase::create().await;
    let options = PostgresOptions {
        pool_size: 2,
        checkpoint_every_entries: 1,
        ..PostgresOptions::production()
    };
    let store = database.open(options, story_signer()).await;
    clearance_story(&store).await;
    store.close();
}

/// A row edited in the database behind the store's back is found by rebuilding the tables from
/// the chain: the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_row_differs_from_what_the_chain_rebuilds() {
    let database = common::TestDatabase::create().await;
    let store = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    let enterprise = store::EnterpriseRow {
        id: "ent-1".to_owned(),
        credit_code: "91310000MA1FL00001".to_owned(),
        customs_code: "3101234567".to_owned(),
        name: "Shanghai Trading".to_owned(),
    };
    let append = store::Append {
        actor: store::Actor {
            user_id: "U-ADMIN".to_owned(),
            role: "admin".to_owned(),
        },
        recorded_at_ms: 1_767_225_600_000,
        subject: enterprise.id.clone(),
        action: "enterprise.registered".to_owned(),
        idempotency_scope: "U-ADMIN".to_owned(),
        idempotency_key: "K-1".to_owned(),
        request_digest: String::new(),
        payload: "{}".to_owned(),
        expected_version: None,
        projection: store::Projection::NewEnterprise(enterprise),
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    };
    assert!(matches!(
        store.append(append).await.unwrap(),
        store::AppendOutcome::Appended { seq: 1 }
    ));
    let clean = store.check_projections().await.unwrap();
    assert_eq!(clean.differences, Vec::<String>::new());
    assert_eq!(clean.events_replayed, 1);

    let client = database.client().await;
    client
        .batch_execute("UPDATE enterprises SET name = 'Forged Trading' WHERE id = 'ent-1'")
        .await
        .unwrap();
    let edited = store.check_projections().await.unwrap();
    assert_eq!(edited.differences.len(), 2, "{edited:?}");
    assert!(
        edited.differences[0].starts_with("enterprises: "),
        "{edited:?}"
    );
    assert!(
        edited.differences[0].contains("Forged Trading"),
        "{edited:?}"
    );
    assert!(
        edited.differences[1].contains("Shanghai Trading"),
        "{edited:?}"
    );
    store.close();
}

/// Two processes starting on a fresh database at once: each migration is applied once, and
/// both open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_opening_a_fresh_database_at_once_migrate_it_once() {
    let database = common::TestDatabase::create().await;
    let (first, second) = tokio::join!(
        database.open(PostgresOptions::production(), story_signer()),
        database.open(PostgresOptions::production(), story_signer()),
    );
    let client = database.client().await;
    let applied: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(store_postgres::SCHEMA_VERSION));
    first.close();
    second.close();
}

/// The feed and the delivery state are what the database holds: a store opened anew (another
/// process, or a restart) reads the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipts_feed_and_webhooks_survive_reopening_on_postgres() {
    let database = common::TestDatabase::create().await;
    let first = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    clearance_story(&first).await;
    let before = store_tests::receipts_snapshot(&first).await;
    first.close();
    drop(first);
    let reopened = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    let after = store_tests::receipts_snapshot(&reopened).await;
    assert!(!before.0.is_empty() && !before.1.is_empty());
    assert_eq!(before, after);
    reopened.close();
}

/// Migration 0004's backfill writes the same search keys as the projection: after the story,
/// the keys are emptied and written again by the migration's statement, and the tables are what
/// the chain rebuilds (which writes them by the projection's code).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_backfill_writes_what_the_projection_writes() {
    let database = common::TestDatabase::create().await;
    let store = database
        .open(PostgresOptions::production(), story_signer())
        .await;
    clearance_story(&store).await;
    let client = database.client().await;
    // The projection reads the keys in Rust (store::search_keys), the migration with SQL.
    let rows = async || -> Vec<(i64, String, String)> {
        let sql = "SELECT declaration_row, kind, value FROM declaration_search ORDER BY 1, 2, 3";
        let rows = client.query(sql, &[]).await.unwrap();
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let keys = rows().await;
    assert!(
        !keys.is_empty(),
        "the story's declarations have search keys"
    );
    for kind in store::SEARCH_KINDS {
        assert!(
            keys.iter().any(|(_, k, _)| k == kind),
            "the story's declarations have a {kind} key"
        );
    }
    let migration = include_str!("../migrations/0004_declaration_search.sql");
    let backfill = &migration[migration
        .find("INSERT INTO declaration_search")
        .expect("the migration backfills")..];
    client
        .batch_execute(&format!("DELETE FROM declaration_search; {backfill}"))
        .await
        .unwrap();
    assert_eq!(rows().await, keys);
    let check = store.check_projections().await.unwrap();
    assert_eq!(check.differences, Vec::<String>::new());
    store.close();
}
