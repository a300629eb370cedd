//! Two processes on one database: two stores with independent pools (as two `customs serve`
//! instances would have) write at the same time. Every acknowledged append is in the chain
//! exactly once, seqs and serials are never handed out twice, the chain verifies, and the CBEC
//! allowance is never exceeded.

mod common;

use std::collections::HashSet;

use store::{Actor, Append, AppendOutcome, CbecBooking, CbecBookingOutcome, Projection, Store};
use store_postgres::{PostgresOptions, PostgresStore};
use store_tests::story_signer;
use tokio::task::JoinSet;

const APPENDS_PER_PROCESS: usize = 200;

fn options() -> PostgresOptions {
    PostgresOptions {
        pool_size: 8,
        // Sign often, so that background signing from both processes races with the appends.
        checkpoint_every_entries: 25,
        ..PostgresOptions::production()
    }
}

fn actor() -> Actor {
    Actor {
        user_id: "U-CLERK".to_owned(),
        role: "officer".to_owned(),
    }
}

fn append(process: usize, n: usize) -> Append {
    Append {
        actor: actor(),
        recorded_at_ms: 1_767_225_600_000 + n as i64,
        subject: format!("P{process}-{n}"),
        action: "test.noted".to_owned(),
        idempotency_scope: format!("process-{process}"),
        idempotency_key: format!("K-{n}"),
        request_digest: format!("{process:064x}"),
        payload: format!(r#"{{"n":{n},"process":{process}}}"#),
        expected_version: None,
        projection: Projection::Nothing,
        linked: Vec::new(),
        cbec_purchase: None,
    }
}

/// One process's work: each append also reserves a serial, as lodging reserves a number.
async fn lodge(store: PostgresStore, process: usize) -> Vec<(String, u64, u64)> {
    let mut tasks = JoinSet::new();
    for n in 0..APPENDS_PER_PROCESS {
        let store = store.clone();
        tasks.spawn(async move {
            let serial = store.reserve_serials("D:2026:2200", 1).await.unwrap();
            let append = append(process, n);
            let key = format!("{}/{}", append.idempotency_scope, append.idempotency_key);
            match store.append(append).await.unwrap() {
                AppendOutcome::Appended { seq } => (key, seq, serial),
                other => panic!("{key} should be appended, got {other:?}"),
            }
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(done) = tasks.join_next().await {
        acknowledged.push(done.unwrap());
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_lodging_at_once_chain_every_append_once() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    let (a, b) = tokio::join!(lodge(first.clone(), 1), lodge(second.clone(), 2));
    let acknowledged: Vec<_> = a.into_iter().chain(b).collect();
    assert_eq!(acknowledged.len(), 2 * APPENDS_PER_PROCESS);

    let seqs: HashSet<u64> = acknowledged.iter().map(|(_, seq, _)| *seq).collect();
    assert_eq!(seqs.len(), acknowledged.len(), "no seq handed out twice");
    let serials: HashSet<u64> = acknowledged.iter().map(|(_, _, serial)| *serial).collect();
    assert_eq!(
        serials.len(),
        acknowledged.len(),
        "no serial handed out twice"
    );
    assert_eq!(
        serials,
        (1..=acknowledged.len() as u64).collect(),
        "serials are consecutive"
    );

    // The chain holds exactly the acknowledged appends, each once, at its acknowledged seq.
    first.checkpoint_now().await.unwrap();
    let entries = first.audit_entries(0, 10_000).await.unwrap();
    assert_eq!(entries.len(), acknowledged.len());
    for (key, seq, _) in &acknowledged {
        let (scope, key) = key.split_once('/').unwrap();
        let found: Vec<_> = entries
            .iter()
            .filter(|e| e.entry.idempotency_scope == scope && e.entry.idempotency_key == key)
            .collect();
        assert_eq!(found.len(), 1, "{scope}/{key} is in the chain once");
        assert_eq!(found[0].entry.seq, *seq);
    }
    let checkpoints = second.checkpoints().await.unwrap();
    let report = audit::verify_chain(entries, &checkpoints, &story_signer().public_key());
    assert!(report.is_ok(), "the chain verifies: {report:?}");
    assert_eq!(report.last_seq, acknowledged.len() as u64);
    assert_eq!(report.last_checkpoint_seq, Some(acknowledged.len() as u64));

    // A retry from the other process is a duplicate, not a second event.
    match second.append(append(1, 7)).await.unwrap() {
        AppendOutcome::Duplicate { same_request, .. } => assert!(same_request),
        other => panic!("a replayed append should be a duplicate, got {other:?}"),
    }
    first.close();
    second.close();
}

const BUYER: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
/// 26,000 CNY in fen.
const ANNUAL_LIMIT_FEN: i64 = 2_600_000;
/// 500 CNY: exactly 52 purchases reach the limit.
const AMOUNT_FEN: i64 = 50_000;
const ORDERS_PER_PROCESS: usize = 60;

fn booking(process: usize, n: usize) -> CbecBooking {
    CbecBooking {
        buyer_id: BUYER.to_owned(),
        year: 2026,
        amount_fen: AMOUNT_FEN,
        annual_limit_fen: ANNUAL_LIMIT_FEN,
        order_ref: format!("ORDER-{process}-{n}"),
        actor: actor(),
        recorded_at_ms: 1_767_225_600_000,
    }
}

/// One process books directly, the other through appends carrying the purchase (a CBEC retail
/// declaration): both paths count against the same allowance. Returns how many were booked.
async fn book(store: PostgresStore, process: usize) -> usize {
    let mut tasks = JoinSet::new();
    for n in 0..ORDERS_PER_PROCESS {
        let store = store.clone();
        tasks.spawn(async move {
            let booking = booking(process, n);
            if process == 1 {
                match store.book_cbec_purchase(booking).await.unwrap() {
                    CbecBookingOutcome::Booked { .. } => 1,
                    CbecBookingOutcome::Exceeded { .. } => 0,
                    other => panic!("unexpected {other:?}"),
                }
            } else {
                let mut append = append(process, n);
                append.cbec_purchase = Some(booking);
                match store.append(append).await.unwrap() {
                    AppendOutcome::Appended { .. } => 1,
                    AppendOutcome::CbecLimitExceeded { .. } => 0,
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
    }
    let mut booked = 0;
    while let Some(done) = tasks.join_next().await {
        booked += done.unwrap();
    }
    booked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cbec_bookings_from_two_processes_never_exceed_the_allowance() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    let (a, b) = tokio::join!(book(first.clone(), 1), book(second.clone(), 2));
    let fit = (ANNUAL_LIMIT_FEN / AMOUNT_FEN) as usize;
    assert_eq!(a + b, fit, "exactly as many as fit are booked ({a} + {b})");
    assert_eq!(
        first.cbec_year_to_date(BUYER, 2026).await.unwrap(),
        ANNUAL_LIMIT_FEN,
        "the allowance is reached, never passed"
    );
    // Each booking's year-to-date is the running total in chain order: no two saw one total.
    let client = database.client().await;
    let rows = client
        .query(
            "SELECT amount_fen, year_to_date_fen FROM cbec_ledger WHERE buyer_id = $1 ORDER BY seq",
            &[&BUYER],
        )
        .await
        .unwrap();
    let mut total = 0;
    for row in rows {
        total += row.get::<_, i64>(0);
        assert_eq!(row.get::<_, i64>(1), total);
    }
    assert_eq!(total, ANNUAL_LIMIT_FEN);
    let rebuilt = second.check_projections().await.unwrap();
    assert_eq!(rebuilt.differences, Vec::<String>::new());
    first.close();
    second.close();
}

/// An unreachable server is an error that says so, not a hang or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error() {
    let url = "postgres://postgres@127.0.0.1:1/test?connect_timeout=2";
    let err = match PostgresStore::connect(url, options(), story_signer()).await {
        Ok(_) => panic!("nothing listens on port 1"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("connecting to PostgreSQL"), "{err}");
}

/// Of many closings of one task from two processes at once, exactly one is recorded; every
/// other is refused as a conflict and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_closed_from_two_processes_at_once_is_closed_once() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    let task = store::TaskRow {
        id: "T-1".to_owned(),
        declaration_id: "D-1".to_owned(),
        kind: "physical_inspection".to_owned(),
        office: "2200".to_owned(),
        assigned_to: "U-CLERK".to_owned(),
        status: "open".to_owned(),
        created_at_ms: 1_767_225_600_000,
        created_seq: None,
        closed_seq: None,
        outcome: None,
    };
    let mut open = append(0, 0);
    open.projection = Projection::NewTask(task);
    assert!(matches!(
        first.append(open).await.unwrap(),
        AppendOutcome::Appended { seq: 1 }
    ));
    let mut tasks = JoinSet::new();
    for n in 1..=20 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move {
            let mut close = append(n % 2 + 1, n);
            close.projection = Projection::CloseTask {
                id: "T-1".to_owned(),
                outcome: format!(r#"{{"by":{n}}}"#),
            };
            store.append(close).await
        });
    }
    let (mut closed, mut refused) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            Ok(AppendOutcome::Appended { .. }) => closed += 1,
            Err(store::StoreError::Conflict(what)) => {
                assert_eq!(what, "task T-1 is closed");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((closed, refused), (1, 19));
    let entries = second.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries.len(),
        2,
        "the opening and one closing, nothing of the refused"
    );
    let task = second.task("T-1").await.unwrap().unwrap();
    assert_eq!(task.closed_seq, Some(2));
    first.close();
    second.close();
}
