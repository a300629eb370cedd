//! Two processes on one database: two stores with independent pools (as two `customs serve`
//! instances would have) write at the same time, their appends spread over the audit chains.
//! Every acknowledged append is in a chain exactly once, event numbers and serials are never
//! handed out twice, every chain verifies, and what must be decided once across chains is: an
//! idempotency key, the CBEC allowance, a proof of origin's first use, four eyes, a task's
//! closing.

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
        guarantee_debit: None,
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

    // The chains hold exactly the acknowledged appends, each once, at its acknowledged number.
    first.checkpoint_now().await.unwrap();
    let entries = common::verified_chains(&second, &story_signer().public_key()).await;
    assert_eq!(entries.len(), acknowledged.len());
    let used: HashSet<u16> = entries.iter().map(|(chain, _)| *chain).collect();
    assert_eq!(
        used.len(),
        usize::from(store_postgres::CHAINS),
        "every chain is used"
    );
    for (key, seq, _) in &acknowledged {
        let (scope, key) = key.split_once('/').unwrap();
        let found: Vec<_> = entries
            .iter()
            .filter(|(_, e)| e.entry.idempotency_scope == scope && e.entry.idempotency_key == key)
            .collect();
        assert_eq!(found.len(), 1, "{scope}/{key} is in a chain once");
        let (chain, entry) = second.entry_of_event(*seq).await.unwrap().unwrap();
        assert_eq!((chain, &entry), (found[0].0, &found[0].1));
    }
    // The last round signed every head.
    let rounds = second.checkpoint_rounds().await.unwrap();
    let heads = second.chain_heads().await.unwrap();
    let signed: Vec<u64> = rounds.last().unwrap().heads.iter().map(|h| h.seq).collect();
    assert_eq!(signed, heads);
    assert_eq!(heads.iter().sum::<u64>(), acknowledged.len() as u64);

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
    let mut closed_as = None;
    let mut tasks = JoinSet::new();
    for n in 1..=20 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move {
            // Each closing about a subject of its own: the closings go to different chains,
            // and only the task row's lock decides.
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
            Ok(AppendOutcome::Appended { seq }) => {
                closed += 1;
                closed_as = Some(seq);
            }
            Err(store::StoreError::Conflict(what)) => {
                assert_eq!(what, "task T-1 is closed");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((closed, refused), (1, 19));
    let entries = common::verified_chains(&second, &story_signer().public_key()).await;
    assert_eq!(
        entries.len(),
        2,
        "the opening and one closing, nothing of the refused"
    );
    let task = second.task("T-1").await.unwrap().unwrap();
    assert_eq!(task.closed_seq, closed_as);
    let rebuilt = first.check_projections().await.unwrap();
    assert_eq!(rebuilt.differences, Vec::<String>::new());
    first.close();
    second.close();
}

/// One request sent to both processes at once, each copy about another subject (so in another
/// chain, as a retried lodging gets a new declaration id): the key's lock makes exactly one an
/// event and every other copy its duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_from_two_processes_in_different_chains_is_recorded_once() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    const COPIES: usize = 24;
    let mut tasks = JoinSet::new();
    for n in 0..COPIES {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move {
            let mut copy = append(9, 1);
            copy.subject = format!("D-RETRY-{n}");
            store.append(copy).await.unwrap()
        });
    }
    let subjects: HashSet<i16> = (0..COPIES)
        .map(|n| store_postgres::chain_of(&format!("D-RETRY-{n}"), store_postgres::CHAINS))
        .collect();
    assert!(subjects.len() > 1, "the copies go to several chains");
    let (mut appended, mut duplicates) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            AppendOutcome::Appended { seq } => appended.push(seq),
            AppendOutcome::Duplicate {
                first,
                same_request,
            } => {
                assert!(same_request);
                assert_eq!(first.idempotency_key, "K-1");
                duplicates += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((appended.len(), duplicates), (1, COPIES - 1));
    let entries = common::verified_chains(&first, &story_signer().public_key()).await;
    assert_eq!(entries.len(), 1, "one event for the key");
    let found = second
        .event_by_idempotency("process-9", "K-1")
        .await
        .unwrap();
    assert_eq!(found.map(|e| e.seq), Some(appended[0]));
    first.close();
    second.close();
}

/// Declarations in different chains using one proof of origin at once, from two processes: the
/// proof has one first user, the one recorded first, and the tables rebuilt from the chains
/// (in the order of the events' numbers) say the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_proof_of_origin_used_from_two_processes_at_once_has_one_first_user() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    const USERS: usize = 40;
    let proof = "RCEP:KR:KR-2026-0001".to_owned();
    let mut tasks = JoinSet::new();
    for n in 0..USERS {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let proof = proof.clone();
        tasks.spawn(async move {
            let mut using = append(n % 2 + 1, n);
            using.subject = format!("D-ORIGIN-{n}");
            using.projection = Projection::OriginProofUses {
                declaration_id: using.subject.clone(),
                proof_keys: vec![proof],
            };
            match store.append(using).await.unwrap() {
                AppendOutcome::Appended { seq } => (seq, format!("D-ORIGIN-{n}")),
                other => panic!("unexpected {other:?}"),
            }
        });
    }
    let mut recorded = Vec::new();
    while let Some(done) = tasks.join_next().await {
        recorded.push(done.unwrap());
    }
    recorded.sort();
    let user = first.origin_proof_user(&proof).await.unwrap();
    assert_eq!(
        user.as_deref(),
        Some(recorded[0].1.as_str()),
        "the first recorded wins"
    );
    let rebuilt = second.check_projections().await.unwrap();
    assert_eq!(rebuilt.differences, Vec::<String>::new());
    first.close();
    second.close();
}

/// A proposed rule approved by several analysts at once from two processes, each approval
/// about a subject of its own (different chains): one approval puts it in force, every other is
/// refused, and its author's own approval never passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_eyes_from_two_processes_at_once_approve_a_rule_once() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    let mut propose = append(0, 0);
    propose.subject = "RULE-1".to_owned();
    propose.projection = Projection::ProposeRule(store::RiskRuleRow {
        id: "RULE-1".to_owned(),
        version: 1,
        status: "proposed".to_owned(),
        definition: r#"{"when":"true"}"#.to_owned(),
        author: "U-AUTHOR".to_owned(),
        proposed_at_ms: 1_767_225_600_000,
        approved_by: None,
        approved_seq: None,
        ended_seq: None,
    });
    assert!(matches!(
        first.append(propose).await.unwrap(),
        AppendOutcome::Appended { .. }
    ));
    const APPROVALS: usize = 16;
    let mut tasks = JoinSet::new();
    for n in 1..=APPROVALS {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move {
            let mut approve = append(n % 2 + 1, n);
            approve.subject = format!("RULE-1/approval-{n}");
            // The author tries too, and must never pass.
            let approver = if n == 1 {
                "U-AUTHOR".to_owned()
            } else {
                format!("U-ANALYST-{n}")
            };
            approve.projection = Projection::ApproveRule {
                id: "RULE-1".to_owned(),
                version: 1,
                approver: approver.clone(),
            };
            (approver, store.append(approve).await)
        });
    }
    let mut approved = Vec::new();
    let mut refused = 0;
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            (approver, Ok(AppendOutcome::Appended { seq })) => approved.push((approver, seq)),
            (_, Err(store::StoreError::Conflict(_))) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((approved.len(), refused), (1, APPROVALS - 1));
    assert_ne!(approved[0].0, "U-AUTHOR");
    let rules = second.risk_rules(Some("active")).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].approved_by.as_deref(),
        Some(approved[0].0.as_str())
    );
    assert_eq!(rules[0].approved_seq, Some(approved[0].1));
    let rebuilt = first.check_projections().await.unwrap();
    assert_eq!(rebuilt.differences, Vec::<String>::new());
    first.close();
    second.close();
}

/// The number of chains is fixed when the database is made: a database recording another
/// count is refused with both numbers, never written to with the wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_another_number_of_chains_is_refused() {
    let database = common::TestDatabase::create().await;
    database.open(options(), story_signer()).await.close();
    let other = store_postgres::CHAINS + 1;
    assert!(other <= store_postgres::CHAINS_MAX);
    let client = database.client().await;
    client
        .execute("UPDATE chain_config SET chains = $1", &[&(other as i16)])
        .await
        .unwrap();
    let err = match PostgresStore::open(database.config.clone(), options(), story_signer()).await {
        Ok(_) => panic!("a database of {other} chains must be refused"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        err.contains(&format!("records {other} audit chains")),
        "{err}"
    );
    assert!(
        err.contains(&format!("writes {}", store_postgres::CHAINS)),
        "{err}"
    );
    // The most chains a database may record is the migration's check.
    let beyond = client
        .execute(
            "UPDATE chain_config SET chains = $1",
            &[&((store_postgres::CHAINS_MAX + 1) as i16)],
        )
        .await;
    assert!(beyond.is_err(), "more than CHAINS_MAX chains is refused");
    let at_most = client
        .execute(
            "UPDATE chain_config SET chains = $1",
            &[&(store_postgres::CHAINS_MAX as i16)],
        )
        .await;
    assert!(at_most.is_ok(), "CHAINS_MAX chains is allowed");
}

/// Two instances' deliverers ask for one enterprise's webhook lease at once, many times over:
/// at each instant exactly one holds it, and the cursor moved compare-and-set from one position
/// moves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_instance_at_a_time_holds_an_enterprises_webhook_lease() {
    use store::{DeliveryChange, WebhookRow};
    let database = common::TestDatabase::create().await;
    let one = database.open(options(), story_signer()).await;
    let two = database.open(options(), story_signer()).await;
    let hook = WebhookRow {
        enterprise: "91310000MA1FL0001R".into(),
        id: "W-1".into(),
        url: "https://hooks.example.com/".into(),
        secret: "whsec_x".into(),
        created_at_ms: 0,
        created_by: "U-1".into(),
        delivered: "0".into(),
        lease_holder: None,
        lease_until_ms: 0,
    };
    assert!(
        one.change_delivery(DeliveryChange::PutWebhook(hook.clone()))
            .await
            .unwrap()
    );
    for round in 0..20_i64 {
        // Each round starts after the previous round's lease expired.
        let now_ms = 1_000 + round * 10_000;
        let mut tasks = JoinSet::new();
        for (instance, store) in [(1, one.clone()), (2, two.clone())] {
            for worker in 0..4 {
                let store = store.clone();
                let enterprise = hook.enterprise.clone();
                tasks.spawn(async move {
                    let holder = format!("instance-{instance}-{worker}");
                    let leased = store
                        .change_delivery(DeliveryChange::Lease {
                            enterprise,
                            holder,
                            now_ms,
                            until_ms: now_ms + 5_000,
                        })
                        .await
                        .unwrap();
                    leased as u32
                });
            }
        }
        let holders: u32 = tasks.join_all().await.into_iter().sum();
        assert_eq!(holders, 1, "round {round}");
        // Both instances move the cursor from the same position: one succeeds.
        let from = round.to_string();
        let to = (round + 1).to_string();
        let advance = |store: PostgresStore| {
            let (from, to, enterprise) = (from.clone(), to.clone(), hook.enterprise.clone());
            async move {
                store
                    .change_delivery(DeliveryChange::Advance {
                        enterprise,
                        webhook_id: "W-1".into(),
                        from,
                        to,
                    })
                    .await
                    .unwrap()
            }
        };
        let (a, b) = tokio::join!(advance(one.clone()), advance(two.clone()));
        assert!(a ^ b, "round {round}: {a} {b}");
    }
    one.close();
    two.close();
}

/// Two processes racing e-commerce writes: guarantees never overdrawn, the allowance never
/// overbooked, releases, credit-backs and acceptances once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_racing_ecommerce_writes_never_overdraw() {
    let database = common::TestDatabase::create().await;
    let first = database.open(options(), story_signer()).await;
    let second = database.open(options(), story_signer()).await;
    store_tests::ecommerce_race(first, second).await;
}

/// The waiting lists a query answers are bounded (see `store_tests::waiting_lists_limit`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_inventory_lists_are_listed_up_to_the_limit() {
    let database = common::TestDatabase::create().await;
    let store = database.open(options(), story_signer()).await;
    store_tests::waiting_lists_limit(&store).await;
}
