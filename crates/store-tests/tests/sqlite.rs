//! The clearance story on a fresh SQLite file.

use store_sqlite::{SqliteOptions, SqliteStore};
use store_tests::{clearance_story, story_signer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clearance_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    clearance_story(&store).await;
    store.close().await;
}

/// The same story with a checkpoint after every commit and one-request batches, so the story's
/// checks do not depend on one tuning.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clearance_story_on_sqlite_signing_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        read_connections: 1,
        batch_max: 1,
        checkpoint_every_entries: 1,
        ..SqliteOptions::production()
    };
    let store = SqliteStore::open(&path, story_signer(), options).unwrap();
    clearance_story(&store).await;
}

/// The feed and the delivery state are what the file holds: reopened, the store reads the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_receipts_feed_and_webhooks_survive_reopening_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    clearance_story(&store).await;
    let before = store_tests::receipts_snapshot(&store).await;
    store.close().await;
    drop(store);
    let reopened = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    let after = store_tests::receipts_snapshot(&reopened).await;
    assert!(!before.0.is_empty() && !before.1.is_empty());
    assert_eq!(before, after);
}

/// Migration 0008's backfill writes the same search keys as the projection: after the story,
/// the keys are emptied and written again by the migration's statement, and the tables are what
/// the chain rebuilds (which writes them by the projection's code).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_search_backfill_writes_what_the_projection_writes() {
    use store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    clearance_story(&store).await;
    store.close().await;
    drop(store);
    let migration = include_str!("../../store-sqlite/migrations/0008_declaration_search.sql");
    let backfill = &migration[migration
        .find("INSERT OR IGNORE INTO declaration_search")
        .expect("the migration backfills")..];
    let db = rusqlite::Connection::open(&path).unwrap();
    // The projection reads the keys in Rust (store::search_keys), the migration with SQL.
    let rows = |db: &rusqlite::Connection| -> Vec<(i64, String, String)> {
        let sql = "SELECT declaration_row, kind, value FROM declaration_search ORDER BY 1, 2, 3";
        let mut statement = db.prepare(sql).unwrap();
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
        rows.unwrap().map(Result::unwrap).collect()
    };
    let keys = rows(&db);
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
    db.execute_batch(&format!("DELETE FROM declaration_search; {backfill}"))
        .unwrap();
    assert_eq!(rows(&db), keys);
    drop(db);
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    let check = store.check_projections().await.unwrap();
    assert_eq!(check.differences, Vec::<String>::new());
    store.close().await;
}

/// Two stores on one file (a server and a CLI) racing e-commerce writes: guarantees never
/// overdrawn, the allowance never overbooked, releases, credit-backs and acceptances once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ecommerce_writes_raced_by_two_stores_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let server = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    let cli = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    store_tests::ecommerce_race(server.clone(), cli.clone()).await;
    cli.close().await;
    server.close().await;
}

/// The waiting lists a query answers are bounded (see `store_tests::waiting_lists_limit`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_inventory_lists_are_listed_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    store_tests::waiting_lists_limit(&store).await;
    store.close().await;
}

/// An edited guarantee balance or inventory list state is not what the chain rebuilds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edited_guarantee_or_list_differs_from_what_the_chain_rebuilds() {
    use store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    clearance_story(&store).await;
    store.close().await;
    drop(store);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "UPDATE guarantees SET balance_fen = balance_fen + 100; \
         UPDATE inventory_lists SET status = 'waiting' WHERE id = 'L-1';",
    )
    .unwrap();
    drop(db);
    let store = SqliteStore::open(&path, story_signer(), SqliteOptions::production()).unwrap();
    let check = store.check_projections().await.unwrap();
    let found = |what: &str| check.differences.iter().any(|d| d.contains(what));
    assert!(
        found("guarantees row (assure_code=\"ASSURE-1\")"),
        "{:?}",
        check.differences
    );
    assert!(
        found("inventory_lists row (id=\"L-1\")"),
        "{:?}",
        check.differences
    );
    store.close().await;
}
