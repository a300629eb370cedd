//! The writer's guarantees: group commit under concurrency, isolation of bad requests inside a
//! batch, durability across close/open, and a second process's view of the same file.

use std::path::Path;

use audit::{AuditSigner, verify_chain};
use store::{Actor, Append, AppendOutcome, EnterpriseRow, Projection, Store, StoreError};
use store_sqlite::{SqliteOptions, SqliteStore};

fn signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[3; 32])
}

fn open(path: &Path, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open(path, signer(), options).expect("the store opens")
}

/// Registering an enterprise: the smallest real append. `credit` picks the credit code, so two
/// registrations can be made to collide on it.
fn registration(n: usize, credit: usize) -> Append {
    let enterprise = EnterpriseRow {
        id: format!("ent-{n}"),
        credit_code: format!("913100000000{credit:06}"),
        customs_code: format!("31010{n:05}"),
        name: format!("Trading Co. {n}"),
    };
    Append {
        actor: Actor {
            user_id: "usr-admin".to_owned(),
            role: "administrator".to_owned(),
        },
        recorded_at_ms: 1_735_689_600_000 + n as i64,
        subject: enterprise.id.clone(),
        action: "enterprise.registered".to_owned(),
        idempotency_scope: "usr-admin".to_owned(),
        idempotency_key: format!("register-{n}"),
        request_digest: format!("digest-{n}"),
        payload: format!(r#"{{"enterprise":"ent-{n}"}}"#),
        expected_version: None,
        projection: Projection::NewEnterprise(enterprise),
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// Sends every append from its own task at once, so the writer sees them queued together.
async fn append_concurrently(
    store: &SqliteStore,
    appends: Vec<Append>,
) -> Vec<Result<AppendOutcome, StoreError>> {
    let tasks: Vec<_> = appends
        .into_iter()
        .map(|append| {
            let store = store.clone();
            tokio::spawn(async move { store.append(append).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("the task finishes"));
    }
    outcomes
}

fn appended_seq(outcome: &Result<AppendOutcome, StoreError>) -> Option<u64> {
    match outcome {
        Ok(AppendOutcome::Appended { seq }) => Some(*seq),
        _ => None,
    }
}

/// The whole chain verifies against the signer's key, with its last checkpoint at `head`.
async fn assert_chain_verifies(store: &SqliteStore, head: u64) {
    let entries = store.audit_entries(0, usize::MAX).await.unwrap();
    let checkpoints = store.checkpoints().await.unwrap();
    let report = verify_chain(entries, &checkpoints, &signer().public_key());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.last_seq, head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_appends_get_distinct_gap_free_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"), SqliteOptions::production());
    let outcomes =
        append_concurrently(&store, (1..=64).map(|n| registration(n, n)).collect()).await;
    let mut seqs: Vec<u64> = outcomes
        .iter()
        .map(|o| appended_seq(o).expect("appended"))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    assert_eq!(
        store.checkpoint_now().await.unwrap().map(|c| c.seq),
        Some(64)
    );
    assert_chain_verifies(&store, 64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn refused_requests_do_not_fail_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"), SqliteOptions::production());
    // Pairs share a credit code: exactly one of each pair is registered, whatever the order.
    let outcomes =
        append_concurrently(&store, (0..32).map(|n| registration(n, n / 2)).collect()).await;
    let mut seqs: Vec<u64> = outcomes.iter().filter_map(appended_seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>(), "refusals leave no gaps");
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))));
    assert_eq!(conflicts.count(), 16);
    assert_chain_verifies(&store, 16).await;
}

/// An unexpected database error (here a trigger another tool left behind) in one request rolls
/// back its batch; the others are retried alone and succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_database_fault_fails_only_its_own_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path, SqliteOptions::production());
    let sabotage = rusqlite::Connection::open(&path).unwrap();
    sabotage
        .execute_batch(
            "CREATE TRIGGER refuse_ent_13 BEFORE INSERT ON enterprises \
             WHEN NEW.id = 'ent-13' BEGIN SELECT RAISE(ABORT, 'sabotaged'); END;",
        )
        .unwrap();
    let outcomes =
        append_concurrently(&store, (1..=24).map(|n| registration(n, n)).collect()).await;
    for (n, outcome) in (1..=24).zip(&outcomes) {
        if n == 13 {
            assert!(matches!(outcome, Err(StoreError::Other(_))), "{outcome:?}");
        } else {
            assert!(
                appended_seq(outcome).is_some(),
                "registration {n}: {outcome:?}"
            );
        }
    }
    assert_chain_verifies(&store, 23).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopening_the_file_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path, SqliteOptions::production());
    for n in 1..=5 {
        assert_eq!(
            appended_seq(&store.append(registration(n, n)).await),
            Some(n as u64)
        );
    }
    let first = store
        .reserve_serials("declaration-number/2201/2025", 10)
        .await
        .unwrap();
    store.close().await;
    let closed = store.append(registration(6, 6)).await;
    assert!(
        matches!(closed, Err(StoreError::Unavailable(_))),
        "{closed:?}"
    );
    drop(store);

    let store = open(&path, SqliteOptions::production());
    let checkpoints = store.checkpoints().await.unwrap();
    assert_eq!(
        checkpoints.last().map(|c| c.seq),
        Some(5),
        "close signs the head"
    );
    let found = store
        .enterprise_by_credit_code("913100000000000003")
        .await
        .unwrap();
    assert_eq!(found.map(|e| e.id), Some("ent-3".to_owned()));
    assert_eq!(store.events("ent-4").await.unwrap().len(), 1);
    let next = store
        .reserve_serials("declaration-number/2201/2025", 1)
        .await
        .unwrap();
    assert!(
        next >= first + 10,
        "serials are not handed out twice across a restart"
    );
    assert_eq!(
        appended_seq(&store.append(registration(6, 6)).await),
        Some(6)
    );
    let duplicate = store.append(registration(2, 2)).await.unwrap();
    assert!(matches!(
        duplicate,
        AppendOutcome::Duplicate {
            same_request: true,
            ..
        }
    ));
    assert_chain_verifies(&store, 6).await;
}

/// Dropping the last handle also drains the writer and signs the head.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_last_handle_signs_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path, SqliteOptions::production());
    let clone = store.clone();
    clone.append(registration(1, 1)).await.unwrap();
    drop(store);
    clone.append(registration(2, 2)).await.unwrap();
    drop(clone);
    let store = open(&path, SqliteOptions::production());
    assert_eq!(
        store.checkpoints().await.unwrap().last().map(|c| c.seq),
        Some(2)
    );
    assert_chain_verifies(&store, 2).await;
}

/// Two stores on one file, as a server and the CLI would be: each continues the other's chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_store_on_the_same_file_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let server = open(&path, SqliteOptions::production());
    let cli = open(&path, SqliteOptions::production());
    let mut expected_seq = 0;
    for n in 1..=6 {
        let writer = if n % 2 == 0 { &cli } else { &server };
        expected_seq += 1;
        assert_eq!(
            appended_seq(&writer.append(registration(n, n)).await),
            Some(expected_seq)
        );
    }
    let taken = cli.append(registration(7, 1)).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(_))),
        "the CLI sees the server's rows"
    );
    let a = server.reserve_serials("counter", 4).await.unwrap();
    let b = cli.reserve_serials("counter", 4).await.unwrap();
    assert!(b >= a + 4, "the two writers share the counter");
    assert!(cli.checkpoint_now().await.unwrap().is_some());
    assert_eq!(
        server.checkpoint_now().await.unwrap(),
        None,
        "the CLI already signed this head"
    );
    assert_eq!(
        appended_seq(&server.append(registration(8, 8)).await),
        Some(7)
    );
    assert_chain_verifies(&server, 7).await;
    assert_chain_verifies(&cli, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkpoints_follow_the_entry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        checkpoint_every_entries: 3,
        ..SqliteOptions::production()
    };
    let store = open(&path, options);
    for n in 1..=7 {
        store.append(registration(n, n)).await.unwrap();
    }
    let signed: Vec<u64> = store
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(signed, [3, 6]);
    store.close().await;
    let signed: Vec<u64> = store
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(signed, [3, 6, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkpoints_follow_the_time_policy_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        checkpoint_every_ms: 50,
        ..SqliteOptions::production()
    };
    let store = open(&dir.path().join("customs.db"), options);
    store.append(registration(1, 1)).await.unwrap();
    // Wait for the idle writer's checkpoint (not for a guessed time), then four periods more:
    // a head that has not moved is not signed again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.checkpoints().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint within 10 s of a 50 ms policy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(4 * 50)).await;
    let signed: Vec<u64> = store
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(
        signed,
        [1],
        "an idle writer signs a moved head once it is due"
    );
}

#[test]
fn a_schema_newer_than_the_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    drop(open(&path, SqliteOptions::production()));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, signer(), SqliteOptions::production()).err();
    let message = format!("{:#}", err.expect("a newer schema is refused"));
    assert!(message.contains("newer"), "{message}");
}

/// Backpressure: with the writer stuck behind another process's write lock, writes queue up to
/// `write_queue_max` and the next one is refused at once; once the lock is released every queued
/// write commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_write_queue_refuses_at_once_and_loses_nothing_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        batch_max: 1,
        write_queue_max: 2,
        ..SqliteOptions::production()
    };
    let store = open(&path, options);
    store.append(registration(1, 1)).await.unwrap();
    // Another process takes the write lock and holds it.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The writer takes the first, then waits for the lock; two more fill the queue.
    let mut queued = Vec::new();
    for n in 2..=4 {
        let store = store.clone();
        queued.push(tokio::spawn(async move {
            store.append(registration(n, n)).await
        }));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = store.append(registration(5, 5)).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    // The figures show it, and readiness's round trip is refused like a write.
    let full = store.operational_stats().await.unwrap();
    assert_eq!((full.write_queue_depth, full.write_queue_capacity), (2, 2));
    assert_eq!(full.write_queue_refusals, 1);
    let ping = store.ping_writer().await;
    assert!(
        matches!(&ping, Err(StoreError::Unavailable(why)) if why == store::WRITE_QUEUE_FULL),
        "{ping:?}"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    for write in queued {
        assert!(matches!(
            write.await.unwrap(),
            Ok(AppendOutcome::Appended { .. })
        ));
    }
    assert_chain_verifies(&store, 4).await;
    stats_when(&store, |s| s.write_queue_depth == 0).await;
    store.ping_writer().await.unwrap();
}

/// A tail left unsigned (the last run crashed before its final checkpoint) is signed as soon as
/// the store opens again, before any new write: the unsigned run stays within the bound.
#[tokio::test]
async fn an_unsigned_tail_is_signed_when_the_store_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path, SqliteOptions::production());
    for n in 0..3 {
        store.append(registration(n, n)).await.unwrap();
    }
    store.close().await;
    // The crash: the final checkpoint never made it.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM checkpoints", [])
        .unwrap();
    let store = open(&path, SqliteOptions::production());
    // The writer signs on start; wait for it without writing anything.
    let mut signed = Vec::new();
    for _ in 0..100 {
        signed = store.checkpoints().await.unwrap();
        if !signed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(signed.iter().map(|c| c.seq).collect::<Vec<_>>(), [3]);
    store.close().await;
}

/// The production writer's bound, as `audit verify` applies it: the policy (1,000 entries, one
/// minute) plus one batch of 64 requests of up to 32 events, and twice the interval plus a minute.
#[test]
fn the_production_checkpoint_bound() {
    assert_eq!(
        SqliteOptions::production().checkpoint_bound(),
        (1_000 + 64 * 32, 2 * 60_000 + 60_000)
    );
}

/// Every row of a derived table that no event records is named, up to
/// `PROJECTION_DIFFERENCES_MAX`; an untouched store has none.
#[tokio::test]
async fn forged_rows_are_named_up_to_the_limit() {
    use store_sqlite::PROJECTION_DIFFERENCES_MAX as MAX;
    for forged in [0, MAX, MAX + 1] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customs.db");
        let store = open(&path, SqliteOptions::production());
        store.append(registration(0, 0)).await.unwrap();
        let connection = rusqlite::Connection::open(&path).unwrap();
        for n in 0..forged {
            connection
                .execute(
                    "INSERT INTO users (id, name, role, enterprise_id) VALUES (?1, ?1, 'admin', NULL)",
                    [format!("forged-{n}")],
                )
                .unwrap();
        }
        let check = store.check_projections().await.unwrap();
        assert_eq!(check.events_replayed, 1);
        assert_eq!(check.not_rebuilt, None);
        assert_eq!(check.differences.len(), forged.min(MAX), "{check:?}");
        if forged > 0 {
            assert_eq!(
                check.differences[0],
                r#"users row (id="forged-0") is in the store but no event records it"#
            );
        }
        store.close().await;
    }
}

/// Waits, polling, until `ready` holds of the store's figures (at most five seconds).
async fn stats_when(
    store: &SqliteStore,
    ready: impl Fn(&store::OperationalStats) -> bool,
) -> store::OperationalStats {
    for _ in 0..500 {
        let stats = store.operational_stats().await.unwrap();
        if ready(&stats) {
            return stats;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{:?}", store.operational_stats().await.unwrap());
}

/// What an operator reads of a working store: every commit counted with its size and time, the
/// files' sizes, the free space, the chain head and its signed checkpoint, and the WAL copied
/// back into the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn operational_stats_count_every_commit_and_read_the_files_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"), SqliteOptions::production());
    let fresh = store.operational_stats().await.unwrap();
    assert!(fresh.writer_running);
    assert_eq!(
        fresh.write_queue_capacity,
        store_sqlite::WRITE_QUEUE_MAX_DEFAULT as u64
    );
    assert_eq!(fresh.chain_head_seq, 0);
    let outcomes =
        append_concurrently(&store, (1..=40).map(|n| registration(n, n)).collect()).await;
    assert!(outcomes.iter().all(|o| appended_seq(o).is_some()));
    store.checkpoint_now().await.unwrap();
    let stats = stats_when(&store, |s| s.last_wal_checkpoint_at_ms.is_some()).await;
    let batches = &stats.commit_batch_sizes;
    // Each append is in exactly one commit, each commit timed once.
    assert_eq!(batches.sum, 40.0);
    assert!((1..=40).contains(&batches.count), "{batches:?}");
    assert_eq!(stats.commit_seconds.count, batches.count);
    assert_eq!(batches.buckets.last().map(|b| b.1), Some(batches.count));
    assert_eq!(stats.write_queue_depth, 0);
    assert_eq!(stats.write_queue_refusals, 0);
    assert_eq!(stats.chain_head_seq, 40);
    assert_eq!(stats.last_audit_checkpoint.map(|(seq, _)| seq), Some(40));
    assert!(stats.database_bytes > 0);
    assert!(
        stats.disk_free_bytes.is_some_and(|free| free > 0),
        "{stats:?}"
    );
    store.ping_writer().await.unwrap();
}

/// A closed store's writer is stopped, and so is a read-only store's: the figures and the ping
/// say so.
#[tokio::test]
async fn a_stopped_writer_shows_in_the_figures_and_the_ping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let store = open(&path, SqliteOptions::production());
    store.append(registration(1, 1)).await.unwrap();
    store.ping_writer().await.unwrap();
    store.close().await;
    let closed = store.operational_stats().await.unwrap();
    assert!(!closed.writer_running);
    assert_eq!(closed.chain_head_seq, 1);
    assert!(matches!(
        store.ping_writer().await,
        Err(StoreError::Unavailable(_))
    ));
    drop(store);
    let read_only = SqliteStore::open_read_only(&path, 1).unwrap();
    assert!(!read_only.operational_stats().await.unwrap().writer_running);
    assert!(read_only.ping_writer().await.is_err());
}

/// A registration carrying `padding` bytes more in its payload: WAL-filling writes.
fn bulky_registration(n: usize, padding: usize) -> Append {
    let mut append = registration(n, n);
    append.payload = format!(
        r#"{{"enterprise":"ent-{n}","note":"{}"}}"#,
        "x".repeat(padding)
    );
    append
}

fn wal_size(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(std::path::PathBuf::from(wal)).map_or(0, |m| m.len())
}

/// What one append of `bulky_registration(_, PADDING)` adds to the WAL at most: its payload in
/// overflow pages, the event row, the projection row and their index pages, each a 4 KiB page
/// plus its 24-byte frame header.
const PADDING: usize = 16 * 1024;
const APPEND_WAL_BYTES_MAX: u64 = (PADDING as u64 / 4096 + 12) * (4096 + 24);

/// Under a flood of appends the WAL stays within its bound (plus the one batch the writer commits
/// after its check): checkpoints truncate it, and past the bound writes are refused with
/// `Unavailable` rather than filling the disk. Nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_within_its_bound_under_a_flood() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        wal_bytes_max: 4 * 1024 * 1024,
        ..SqliteOptions::production()
    };
    let store = open(&path, options);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut largest = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                largest = largest.max(wal_size(&path));
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            largest
        })
    };
    // 2,000 appends of 16 KiB, eight times the bound, sent 200 at a time; refused ones are sent
    // again after a pause, as a client honouring Retry-After would.
    let (mut appended, mut refused) = (0_u64, 0_u64);
    for chunk in 0..10 {
        let mut pending: Vec<usize> = (0..200).map(|i| 1 + chunk * 200 + i).collect();
        while !pending.is_empty() {
            let appends = pending
                .iter()
                .map(|n| bulky_registration(*n, PADDING))
                .collect();
            let outcomes = append_concurrently(&store, appends).await;
            let mut again = Vec::new();
            for (n, outcome) in pending.iter().zip(outcomes) {
                match outcome {
                    Ok(AppendOutcome::Appended { .. }) => appended += 1,
                    Err(StoreError::Unavailable(_)) => again.push(*n),
                    other => panic!("{other:?}"),
                }
            }
            refused += again.len() as u64;
            if !again.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            pending = again;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let largest = sampler.join().unwrap();
    let batch = options.batch_max as u64 * APPEND_WAL_BYTES_MAX;
    assert!(
        largest <= options.wal_bytes_max + batch,
        "the WAL reached {largest} bytes, bound {} + one batch {batch}",
        options.wal_bytes_max
    );
    // Without checkpoints truncating it, the WAL would hold all 32 MiB: eight times the bound.
    assert_eq!(appended, 2_000, "{refused} refusals on the way");
    assert_chain_verifies(&store, appended).await;
}

/// A long read keeps every checkpoint from truncating the WAL: the writer refuses appends with
/// `Unavailable` once the log reaches its bound, and appends again once the read ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_its_wal_bound_the_writer_refuses_until_a_checkpoint_truncates_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        wal_bytes_max: 1024 * 1024,
        ..SqliteOptions::production()
    };
    let store = open(&path, options);
    store.append(bulky_registration(1, PADDING)).await.unwrap();
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .unwrap();
    let mut n = 2;
    let refusal = loop {
        let before = wal_size(&path);
        match store.append(bulky_registration(n, PADDING)).await {
            Ok(AppendOutcome::Appended { .. }) => {
                assert!(before < options.wal_bytes_max, "appended at {before} bytes");
                n += 1;
            }
            Err(StoreError::Unavailable(message)) => break (before, message),
            other => panic!("{other:?}"),
        }
        assert!(n < 1000, "never refused");
    };
    let (size, message) = refusal;
    assert!(size >= options.wal_bytes_max, "refused at {size} bytes");
    assert!(
        size < options.wal_bytes_max + APPEND_WAL_BYTES_MAX,
        "{size}"
    );
    assert!(message.contains("write-ahead log"), "{message}");
    // The read ends: the next checkpoint truncates the log and appends go through again.
    reader.execute_batch("COMMIT").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match store.append(bulky_registration(n, PADDING)).await {
            Ok(AppendOutcome::Appended { .. }) => break,
            Err(StoreError::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::task::yield_now().await;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(wal_size(&path) < options.wal_bytes_max);
    assert_chain_verifies(&store, n as u64).await;
}

/// Under sustained appends the writer restarts the WAL from its beginning and reuses the file
/// (a RESTART checkpoint, the file cut back to `wal_truncate_at` by `journal_size_limit`), rather
/// than truncating it to nothing and growing it again for every commit: once the file reached
/// the restart size it never shrinks below it while appends go on, and it stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_writer_reuses_the_wal_file_instead_of_truncating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let options = SqliteOptions {
        wal_bytes_max: 4 * 1024 * 1024,
        ..SqliteOptions::production()
    };
    let restart_at = store_sqlite::wal_truncate_at(options.wal_bytes_max);
    let store = open(&path, options);
    // 600 appends of 16 KiB (~10 MiB of frames, ten times the restart size), 50 at a time.
    let mut reached = false;
    let mut smallest_after = u64::MAX;
    let mut largest = 0;
    for chunk in 0..12 {
        let appends = (0..50)
            .map(|i| bulky_registration(1 + chunk * 50 + i, PADDING))
            .collect();
        for outcome in append_concurrently(&store, appends).await {
            assert!(
                matches!(outcome, Ok(AppendOutcome::Appended { .. })),
                "{outcome:?}"
            );
        }
        let size = wal_size(&path);
        largest = largest.max(size);
        if reached {
            smallest_after = smallest_after.min(size);
        }
        reached |= size >= restart_at;
    }
    assert!(
        reached,
        "the WAL never reached {restart_at} bytes (largest {largest})"
    );
    assert!(
        smallest_after >= restart_at,
        "the WAL file shrank to {smallest_after} bytes after reaching {restart_at}: truncated, not reused"
    );
    let batch = options.batch_max as u64 * APPEND_WAL_BYTES_MAX;
    assert!(
        largest <= restart_at + batch,
        "the WAL reached {largest} bytes: restarts from {restart_at} should keep it within one batch of that"
    );
    assert_chain_verifies(&store, 600).await;
}
