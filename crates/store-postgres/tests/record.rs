//! What an auditor reads of a record kept as several chains, and the leaderships instances take
//! turns on. Against the real PostgreSQL (`CUSTOMS_TEST_POSTGRES`); fails, never skips.
//!
//! - `record_entries` lists every chain's entries by their global number: the declarations of
//!   different chains all appear, in order, page after page across chains, none missing or
//!   repeated, also while two processes append and the auditor follows the tail (a number drawn
//!   early can commit late: only the settled record is listed).
//! - `Leadership`: of two processes asking for one lock, one leads; when its connection closes
//!   the other leads within `LEADER_TAKEOVER_MAX`; different locks are independent.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use store::{Actor, Append, AppendOutcome, Projection, RecordEntry, Store};
use store_postgres::{
    CHAINS, DRIFT_LEADER, LEADER_TAKEOVER_MAX, Leadership, PostgresOptions, PostgresStore,
    RELAY_LEADER, chain_of,
};
use store_tests::story_signer;
use tokio::task::JoinSet;

fn options() -> PostgresOptions {
    PostgresOptions {
        pool_size: 8,
        ..PostgresOptions::production()
    }
}

/// A declaration's lodging: one event in the chain of `subject`.
fn lodging(process: usize, subject: &str) -> Append {
    Append {
        actor: Actor {
            user_id: "U-CLERK".to_owned(),
            role: "officer".to_owned(),
        },
        recorded_at_ms: 1_767_225_600_000,
        subject: subject.to_owned(),
        action: "declaration.noted".to_owned(),
        idempotency_scope: format!("process-{process}"),
        idempotency_key: format!("K-{subject}"),
        request_digest: format!("{process:064x}"),
        payload: format!(r#"{{"declaration":"{subject}"}}"#),
        expected_version: None,
        projection: Projection::Nothing,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// The whole record, read `page` entries at a time after the last number read.
async fn read_record(store: &PostgresStore, page: usize) -> Vec<RecordEntry> {
    let mut listed: Vec<RecordEntry> = Vec::new();
    loop {
        let after = listed.last().map_or(0, |e| e.row);
        let batch = store.record_entries(after, page).await.unwrap();
        assert!(batch.len() <= page);
        if batch.is_empty() {
            return listed;
        }
        listed.extend(batch);
    }
}

/// Every listed entry is its chain's entry at its seq; each (chain, seq) once; numbers rise;
/// every chain listed whole.
async fn check_listing(store: &PostgresStore, listed: &[RecordEntry]) {
    assert!(
        listed.windows(2).all(|w| w[0].row < w[1].row),
        "numbers rise, none repeated"
    );
    let heads = store.chain_heads().await.unwrap();
    let mut per_chain: HashMap<u16, Vec<u64>> = HashMap::new();
    for entry in listed {
        per_chain
            .entry(entry.chain)
            .or_default()
            .push(entry.stored.entry.seq);
    }
    for (chain, head) in heads.iter().enumerate() {
        let chain = u16::try_from(chain).unwrap();
        let seqs = per_chain.remove(&chain).unwrap_or_default();
        assert_eq!(
            seqs,
            (1..=*head).collect::<Vec<_>>(),
            "chain {chain}: every entry once, in its order"
        );
        let stored = store.chain_entries(chain, 0, usize::MAX).await.unwrap();
        let listed_of_chain: Vec<_> = listed
            .iter()
            .filter(|e| e.chain == chain)
            .map(|e| e.stored.clone())
            .collect();
        assert_eq!(
            listed_of_chain, stored,
            "chain {chain} as stored, hashes and all"
        );
    }
    assert!(per_chain.is_empty(), "no chain the store does not have");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_lists_the_declarations_of_every_chain_in_order_across_pages() {
    let database = common::TestDatabase::create().await;
    let store = database.open(options(), story_signer()).await;
    // Declarations spread over the chains, two events each (lodged, then noted again), so a
    // chain's entries are interleaved with the others' in the global order.
    let subjects: Vec<String> = (0..40).map(|n| format!("D-{n:04}")).collect();
    let chains: HashSet<i16> = subjects.iter().map(|s| chain_of(s, CHAINS)).collect();
    assert!(
        chains.len() >= 8,
        "the subjects fall in many chains: {chains:?}"
    );
    for round in 0..2 {
        for subject in &subjects {
            let mut append = lodging(round, subject);
            append.action = format!("declaration.step{round}");
            let outcome = store.append(append).await.unwrap();
            assert!(
                matches!(outcome, AppendOutcome::Appended { .. }),
                "{outcome:?}"
            );
        }
    }
    for page in [1, 3, 7, 80, 1000] {
        let listed = read_record(&store, page).await;
        assert_eq!(listed.len(), 80, "page of {page}: every entry");
        check_listing(&store, &listed).await;
        // In the order they were committed: every declaration's first step before any second.
        let steps: Vec<&str> = listed
            .iter()
            .map(|e| e.stored.entry.action.as_str())
            .collect();
        assert!(
            steps[..40].iter().all(|a| *a == "declaration.step0"),
            "{steps:?}"
        );
        for entry in &listed {
            assert_eq!(
                i16::try_from(entry.chain).unwrap(),
                chain_of(&entry.stored.entry.subject, CHAINS),
                "an entry is in its subject's chain"
            );
        }
    }
    // A page of 3 ends inside one chain's run and starts in another: pages cross chains.
    let first_pages = store.record_entries(0, 3).await.unwrap();
    let chains_in_page: HashSet<u16> = first_pages.iter().map(|e| e.chain).collect();
    assert!(chains_in_page.len() > 1, "{first_pages:?}");
    // After the last number, nothing; after a number in the middle, the rest exactly.
    let listed = read_record(&store, 1000).await;
    assert!(
        store
            .record_entries(listed[79].row, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let rest = store.record_entries(listed[49].row, 1000).await.unwrap();
    assert_eq!(rest, listed[50..].to_vec());
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_auditor_following_the_tail_while_two_processes_lodge_misses_and_repeats_nothing() {
    const PER_PROCESS: usize = 150;
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    let auditor = database.open(options(), story_signer()).await;
    let mut lodging_tasks = JoinSet::new();
    for (process, store) in [(1, first.clone()), (2, second.clone())] {
        for n in 0..PER_PROCESS {
            let store = store.clone();
            lodging_tasks.spawn(async move {
                let outcome = store
                    .append(lodging(process, &format!("P{process}-D{n}")))
                    .await
                    .unwrap();
                assert!(
                    matches!(outcome, AppendOutcome::Appended { .. }),
                    "{outcome:?}"
                );
            });
        }
    }
    // The auditor reads on from the last number it saw, as fast as it can, while they lodge:
    // an append that drew its number before another's but commits after it must still be read.
    let mut followed: Vec<RecordEntry> = Vec::new();
    let mut done = false;
    loop {
        let after = followed.last().map_or(0, |e| e.row);
        let page = auditor.record_entries(after, 16).await.unwrap();
        let empty = page.is_empty();
        followed.extend(page);
        if done && empty {
            break;
        }
        if !done && lodging_tasks.is_empty() {
            done = true;
        }
        while let Some(finished) = lodging_tasks.try_join_next() {
            finished.unwrap();
        }
    }
    assert_eq!(
        followed.len(),
        2 * PER_PROCESS,
        "every acknowledged append read once"
    );
    check_listing(&auditor, &followed).await;
    let keys: HashSet<(String, String)> = followed
        .iter()
        .map(|e| {
            (
                e.stored.entry.idempotency_scope.clone(),
                e.stored.entry.idempotency_key.clone(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 2 * PER_PROCESS);
    first.close();
    second.close();
    auditor.close();
}

/// Waits until exactly one of `leaderships` leads, at most `within`; which one.
async fn one_leader(leaderships: &[&Leadership], within: Duration) -> usize {
    let started = Instant::now();
    loop {
        let leading: Vec<usize> = (0..leaderships.len())
            .filter(|i| leaderships[*i].is_leading())
            .collect();
        assert!(leading.len() <= 1, "two lead at once: {leading:?}");
        if let [one] = leading[..] {
            return one;
        }
        assert!(
            started.elapsed() < within,
            "nobody leads after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The session holding `key`'s advisory lock on this database, by its application name.
async fn holder(client: &tokio_postgres::Client, key: i64) -> Vec<String> {
    client
        .query(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
            &[&key],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_leads_and_the_other_takes_over_when_its_connection_closes() {
    let database = common::TestDatabase::create().await;
    let look = database.client().await;
    let a = Leadership::start(database.config.clone(), RELAY_LEADER);
    let b = Leadership::start(database.config.clone(), RELAY_LEADER);
    let leader = one_leader(&[&a, &b], LEADER_TAKEOVER_MAX).await;
    // It stays that way: the follower keeps asking and keeps being refused.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(one_leader(&[&a, &b], Duration::ZERO).await, leader);
    assert_eq!(
        holder(&look, RELAY_LEADER.key).await,
        vec![store_postgres::leader_application_name(RELAY_LEADER)],
        "one session holds the relay's lock"
    );
    // Another lock is another leadership: held beside the first, by whoever asks.
    let drift = Leadership::start(database.config.clone(), DRIFT_LEADER);
    one_leader(&[&drift], LEADER_TAKEOVER_MAX).await;
    assert_eq!(holder(&look, DRIFT_LEADER.key).await.len(), 1);

    // The leader goes (its connection closes, as when its process dies): the other leads.
    let (gone, follower) = if leader == 0 { (a, b) } else { (b, a) };
    let stopped = Instant::now();
    gone.stop();
    one_leader(&[&follower], LEADER_TAKEOVER_MAX).await;
    assert!(
        stopped.elapsed() <= LEADER_TAKEOVER_MAX,
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(holder(&look, RELAY_LEADER.key).await.len(), 1);

    // The server ends the leader's session (an administrator, a network cut seen by the
    // server): the leadership notices, stops leading, and leads again on a new connection.
    let mut lost = follower.watch();
    look.execute(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
         AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[&RELAY_LEADER.key],
    )
    .await
    .unwrap();
    tokio::time::timeout(LEADER_TAKEOVER_MAX, lost.wait_for(|leading| !*leading))
        .await
        .expect("the lost session is noticed")
        .unwrap();
    one_leader(&[&follower], 2 * LEADER_TAKEOVER_MAX).await;
    drop(follower);
    drop(drift);
}
