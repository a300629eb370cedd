//! The CBEC annual ledger under concurrency: the limit check and the booking are one atomic
//! step, so racing orders for one buyer never overbook the allowance, within one store or across
//! two stores (processes) writing the same file.

use std::path::Path;

use audit::{AuditSigner, verify_chain};
use store::{Actor, CbecBooking, CbecBookingOutcome, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

/// 26,000.00 CNY in fen.
const ANNUAL_LIMIT_FEN: i64 = 2_600_000;
/// 1,000.00 CNY in fen.
const ORDER_FEN: i64 = 100_000;

fn signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[5; 32])
}

fn open(path: &Path, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open(path, signer(), options).expect("the store opens")
}

fn buyer() -> String {
    "c0ffee".repeat(10) + "0123"
}

fn booking(n: usize, amount_fen: i64) -> CbecBooking {
    CbecBooking {
        buyer_id: buyer(),
        year: 2025,
        amount_fen,
        annual_limit_fen: ANNUAL_LIMIT_FEN,
        order_ref: format!("ORDER-{n:03}"),
        actor: Actor {
            user_id: "usr-platform".to_owned(),
            role: "declarant".to_owned(),
        },
        recorded_at_ms: 1_735_689_600_000 + n as i64,
    }
}

/// Books every order from its own task at once, each on the given store.
async fn book_concurrently(bookings: Vec<(SqliteStore, CbecBooking)>) -> Vec<CbecBookingOutcome> {
    let tasks: Vec<_> = bookings
        .into_iter()
        .map(|(store, booking)| {
            tokio::spawn(async move { store.book_cbec_purchase(booking).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(
            task.await
                .expect("the task finishes")
                .expect("the store answers"),
        );
    }
    outcomes
}

/// Exactly 26 of the 50 orders are booked, with totals 1,000.00 ... 26,000.00 each once, and
/// the 24 others are refused with no room left (every refusal came after the allowance was full,
/// or saw it full once its turn came).
fn assert_26_booked(outcomes: &[CbecBookingOutcome]) {
    let mut totals: Vec<i64> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            CbecBookingOutcome::Booked {
                year_to_date_fen, ..
            } => Some(*year_to_date_fen),
            _ => None,
        })
        .collect();
    totals.sort_unstable();
    let expected: Vec<i64> = (1..=26).map(|n| n * ORDER_FEN).collect();
    assert_eq!(totals, expected, "26 bookings, each total once");
    let exceeded = outcomes
        .iter()
        .filter(|outcome| {
            **outcome
                == CbecBookingOutcome::Exceeded {
                    year_to_date_fen: ANNUAL_LIMIT_FEN,
                    room_fen: 0,
                }
        })
        .count();
    assert_eq!(exceeded, 24, "{outcomes:?}");
}

/// The chain holds exactly the 26 bookings and verifies.
async fn assert_chain_has_26_bookings(store: &SqliteStore) {
    store.checkpoint_now().await.unwrap();
    let entries = store.audit_entries(0, usize::MAX).await.unwrap();
    assert_eq!(entries.len(), 26);
    assert!(
        entries
            .iter()
            .all(|e| e.entry.action == "cbec.purchase_booked")
    );
    let checkpoints = store.checkpoints().await.unwrap();
    let report = verify_chain(entries, &checkpoints, &signer().public_key());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.last_seq, 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_racing_orders_book_exactly_the_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"), SqliteOptions::production());
    let bookings = (0..50)
        .map(|n| (store.clone(), booking(n, ORDER_FEN)))
        .collect();
    let outcomes = book_concurrently(bookings).await;
    assert_26_booked(&outcomes);
    let ytd = store.cbec_year_to_date(&buyer(), 2025).await.unwrap();
    assert_eq!(ytd, 2_600_000, "26,000.00 CNY exactly");
    assert_chain_has_26_bookings(&store).await;

    // Replaying every order books nothing more: the booked ones are duplicates, the refused
    // ones are refused again.
    let replays = (0..50)
        .map(|n| (store.clone(), booking(n, ORDER_FEN)))
        .collect();
    let replayed = book_concurrently(replays).await;
    let duplicates = replayed
        .iter()
        .filter(|o| {
            matches!(
                o,
                CbecBookingOutcome::Duplicate {
                    same_booking: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(duplicates, 26);
    assert_eq!(store.cbec_year_to_date(&buyer(), 2025).await.unwrap(), ytd);
    store.close().await;
}

/// The brief's race: two orders of 15,000 from 11,000 booked, i.e. 15,000 of room: only one passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_orders_racing_for_the_last_room_do_not_both_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("customs.db"), SqliteOptions::production());
    let first = store
        .book_cbec_purchase(booking(0, 1_100_000))
        .await
        .unwrap();
    assert!(matches!(
        first,
        CbecBookingOutcome::Booked {
            year_to_date_fen: 1_100_000,
            ..
        }
    ));
    let racing = (1..=2)
        .map(|n| (store.clone(), booking(n, 1_500_000)))
        .collect();
    let mut outcomes = book_concurrently(racing).await;
    outcomes.sort_by_key(|o| matches!(o, CbecBookingOutcome::Exceeded { .. }));
    assert!(matches!(
        outcomes[0],
        CbecBookingOutcome::Booked {
            year_to_date_fen: ANNUAL_LIMIT_FEN,
            ..
        }
    ));
    assert_eq!(
        outcomes[1],
        CbecBookingOutcome::Exceeded {
            year_to_date_fen: ANNUAL_LIMIT_FEN,
            room_fen: 0
        }
    );
}

/// Two stores on one file (a server and a CLI) serialise through the database's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_stores_on_one_file_do_not_overbook() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.db");
    let server = open(&path, SqliteOptions::production());
    let cli = open(&path, SqliteOptions::production());
    let bookings = (0..50)
        .map(|n| {
            let store = if n % 2 == 0 { &server } else { &cli };
            (store.clone(), booking(n, ORDER_FEN))
        })
        .collect();
    let outcomes = book_concurrently(bookings).await;
    assert_26_booked(&outcomes);
    assert_eq!(
        cli.cbec_year_to_date(&buyer(), 2025).await.unwrap(),
        ANNUAL_LIMIT_FEN
    );
    cli.close().await;
    assert_chain_has_26_bookings(&server).await;
}
