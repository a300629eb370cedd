//! Reference-data releases under concurrency: an activation's status check runs in the
//! writer's transaction, so of racing activations of one release exactly one passes, within one
//! store or across two stores (processes) writing the same file.

use std::path::Path;

use audit::{AuditSigner, verify_chain};
use store::{
    Actor, Append, AppendOutcome, Projection, ReleaseFileRow, ReleaseRow, Store, StoreError,
};
use store_sqlite::{SqliteOptions, SqliteStore};

const T0: i64 = 1_735_689_600_000;
const RACERS: usize = 20;

fn signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[6; 32])
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, signer(), SqliteOptions::production()).expect("the store opens")
}

fn append(key: &str, action: &str, projection: Projection) -> Append {
    Append {
        actor: Actor {
            user_id: "usr-admin".to_owned(),
            role: "administrator".to_owned(),
        },
        recorded_at_ms: T0,
        subject: "TR-0001".to_owned(),
        action: action.to_owned(),
        idempotency_scope: "usr-admin".to_owned(),
        idempotency_key: key.to_owned(),
        request_digest: format!("digest-of-{key}"),
        payload: format!(r#"{{"key":"{key}"}}"#),
        expected_version: None,
        projection,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

fn import() -> Append {
    let release = ReleaseRow {
        id: "TR-0001".to_owned(),
        kind: "tariff".to_owned(),
        label: "2026 tariff, January".to_owned(),
        digest: "ab".repeat(32),
        imported_at_ms: T0,
        imported_by: "usr-admin".to_owned(),
        status: "imported".to_owned(),
        effective_from: None,
        activated_seq: None,
        rolled_back_seq: None,
        summary: r#"{"lines":1}"#.to_owned(),
    };
    let files = vec![ReleaseFileRow {
        name: "tariff_lines.csv".to_owned(),
        text: "hs_code,mfn\n0101210010,0\n".to_owned(),
    }];
    append(
        "import",
        "release.imported",
        Projection::NewRelease { release, files },
    )
}

fn activation(n: usize) -> Append {
    let projection = Projection::ActivateRelease {
        id: "TR-0001".to_owned(),
        // Each racer asks for its own date, so the winner's is recognisable.
        effective_from: format!("2026-01-{:02}", n + 1),
    };
    append(&format!("activate-{n}"), "release.activated", projection)
}

/// Sends every activation from its own task at once, each through the given store; returns
/// the seq and date of the one that passed, insisting every other one was refused as a conflict.
async fn race(stores: &[SqliteStore]) -> (u64, String) {
    let tasks: Vec<_> = (0..RACERS)
        .map(|n| {
            let store = stores[n % stores.len()].clone();
            tokio::spawn(async move { (n, store.append(activation(n)).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("the task finishes") {
            (n, Ok(AppendOutcome::Appended { seq })) => winners.push((seq, n)),
            (_, Err(StoreError::Conflict(what))) => assert_eq!(what, "release TR-0001 is active"),
            (n, other) => panic!("activation {n}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one activation passes: {winners:?}"
    );
    let (seq, n) = winners[0];
    (seq, format!("2026-01-{:02}", n + 1))
}

/// The release is active as the winner made it, and the chain holds the import and that one
/// activation only.
async fn assert_activated_once(store: &SqliteStore, seq: u64, effective_from: &str) {
    let release = store.release("TR-0001").await.unwrap().expect("imported");
    assert_eq!(release.status, "active");
    assert_eq!(release.activated_seq, Some(seq));
    assert_eq!(release.effective_from.as_deref(), Some(effective_from));
    assert_eq!(release.rolled_back_seq, None);

    store.checkpoint_now().await.unwrap();
    let entries = store.audit_entries(0, usize::MAX).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["release.imported", "release.activated"]);
    assert_eq!(entries[1].entry.seq, seq);
    let checkpoints = store.checkpoints().await.unwrap();
    let report = verify_chain(entries, &checkpoints, &signer().public_key());
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn twenty_racing_activations_of_one_release_activate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"));
    let imported = store.append(import()).await.unwrap();
    assert_eq!(imported, AppendOutcome::Appended { seq: 1 });
    let (seq, effective_from) = race(std::slice::from_ref(&store)).await;
    assert_activated_once(&store, seq, &effective_from).await;
    store.close().await;
}

/// Two stores on one file (a server and a CLI) serialise through the database's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn racing_activations_through_two_stores_on_one_file_activate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let server = open(&path);
    let cli = open(&path);
    server.append(import()).await.unwrap();
    let (seq, effective_from) = race(&[server.clone(), cli.clone()]).await;
    cli.close().await;
    assert_activated_once(&server, seq, &effective_from).await;
    server.close().await;
}
