//! The e-commerce writes raced across two stores on one database (two processes, or a server
//! and a CLI on one SQLite file): a guarantee is never overdrawn, an allowance never overbooked,
//! a debit released once, an order credited back once, a list accepted once.

use store::{
    Actor, Append, AppendOutcome, CbecBooking, CebKey, GuaranteeDebit, INVENTORY_LISTS_LISTED_MAX,
    InventoryListChange, LinkedEvent, Projection, Store, StoreError,
};
use tokio::task::JoinSet;

use crate::ecommerce::inventory_list;
use crate::fixtures::T0;

const AGENT: &str = "3120980025";
const LISTS: usize = 40;
const ORDER_FEN: i64 = 100_000;
const LIMIT_FEN: i64 = 2_600_000;
const TAX_FEN: i64 = 1_000;

fn actor() -> Actor {
    Actor {
        user_id: "usr-race".to_owned(),
        role: "officer".to_owned(),
    }
}

fn buyer() -> String {
    "f".repeat(64)
}

fn event(key: String, projection: Projection) -> Append {
    Append {
        actor: actor(),
        recorded_at_ms: T0,
        subject: format!("race:{key}"),
        action: "race.written".to_owned(),
        idempotency_scope: "race".to_owned(),
        request_digest: format!("digest-{key}"),
        payload: format!(r#"{{"key":"{key}"}}"#),
        idempotency_key: key,
        expected_version: None,
        projection,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// The acceptance of list `n`, booking its order and debiting its taxes.
fn acceptance(n: usize) -> Append {
    let mut append = event(
        format!("accept-{n}"),
        Projection::InventoryListChange {
            id: format!("L-R-{n}"),
            change: InventoryListChange::Accepted {
                declaration_id: format!("D-R-{n}"),
            },
        },
    );
    append.cbec_purchase = Some(CbecBooking {
        buyer_id: buyer(),
        year: 2026,
        amount_fen: ORDER_FEN,
        annual_limit_fen: LIMIT_FEN,
        order_ref: format!("O-R-{n}"),
        actor: actor(),
        recorded_at_ms: T0,
    });
    append.guarantee_debit = Some(GuaranteeDebit {
        assure_code: "RACE-G".to_owned(),
        agent_code: AGENT.to_owned(),
        amount_fen: TAX_FEN,
        debit_ref: format!("L-R-{n}"),
    });
    append
}

/// Appends every append at once, alternating between the two stores.
async fn race<S: Store + Clone>(
    first: &S,
    second: &S,
    appends: Vec<Append>,
) -> Vec<(String, Result<AppendOutcome, StoreError>)> {
    let mut tasks = JoinSet::new();
    for (i, append) in appends.into_iter().enumerate() {
        let store = if i % 2 == 0 { first } else { second }.clone();
        tasks.spawn(async move {
            let key = append.idempotency_key.clone();
            (key, store.append(append).await)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.expect("the task finishes"));
    }
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    outcomes
}

fn appended(outcomes: &[(String, Result<AppendOutcome, StoreError>)]) -> Vec<&str> {
    outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Ok(AppendOutcome::Appended { .. })))
        .map(|(key, _)| key.as_str())
        .collect()
}

async fn written<S: Store>(store: &S, append: Append) {
    let what = append.idempotency_key.clone();
    let outcome = store.append(append).await;
    assert!(
        matches!(outcome, Ok(AppendOutcome::Appended { .. })),
        "{what}: {outcome:?}"
    );
}

/// Runs the race on two stores opened on one fresh, empty database.
pub async fn ecommerce_race<S: Store + Clone>(first: S, second: S) {
    let register = Projection::RegisterGuarantee {
        assure_code: "RACE-G".to_owned(),
        agent_code: AGENT.to_owned(),
        amount_fen: 20 * TAX_FEN,
    };
    written(&first, event("guarantee".to_owned(), register)).await;
    for n in 0..LISTS {
        let list = inventory_list(&format!("L-R-{n}"), &format!("O-R-{n}"), T0 + 1_000);
        let store = if n % 2 == 0 { &first } else { &second };
        written(
            store,
            event(format!("list-{n}"), Projection::InventoryListWaiting(list)),
        )
        .await;
    }
    let balance = || async {
        let guarantee = first.guarantee("RACE-G").await.unwrap();
        guarantee.expect("RACE-G is registered").balance_fen
    };

    // The guarantee covers 20 of the first 30 acceptances (the allowance 26): exactly 20 pass,
    // the others write nothing, not even their booking.
    let outcomes = race(&first, &second, (0..30).map(acceptance).collect()).await;
    assert_eq!(appended(&outcomes).len(), 20, "{outcomes:?}");
    for (key, outcome) in &outcomes {
        match outcome {
            Ok(AppendOutcome::Appended { .. }) => {}
            Ok(AppendOutcome::GuaranteeExhausted {
                balance_fen: 0,
                needed_fen: TAX_FEN,
            }) => {}
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(balance().await, 0, "never overdrawn");
    let ytd = second.cbec_year_to_date(&buyer(), 2026).await.unwrap();
    assert_eq!(ytd, 20 * ORDER_FEN, "the refused ones booked nothing");

    // Money enough on the guarantee: now the allowance decides, 6 of the remaining 20 fit.
    let top_up = Projection::TopUpGuarantee {
        assure_code: "RACE-G".to_owned(),
        amount_fen: 1_000_000,
    };
    written(&second, event("top-up".to_owned(), top_up)).await;
    let accepted_of = |outcomes: &[(String, Result<AppendOutcome, StoreError>)], prefix: &str| {
        appended(outcomes)
            .iter()
            .map(|key| key.strip_prefix(prefix).unwrap().parse::<usize>().unwrap())
            .collect::<Vec<usize>>()
    };
    let mut accepted = accepted_of(&outcomes, "accept-");
    let waiting: Vec<usize> = (0..LISTS).filter(|n| !accepted.contains(n)).collect();
    assert_eq!(waiting.len(), 20);
    let retries = waiting
        .iter()
        .map(|n| {
            let mut append = acceptance(*n);
            append.idempotency_key = format!("accept-again-{n}");
            append
        })
        .collect();
    let outcomes = race(&first, &second, retries).await;
    assert_eq!(appended(&outcomes).len(), 6, "{outcomes:?}");
    for (key, outcome) in &outcomes {
        match outcome {
            Ok(AppendOutcome::Appended { .. } | AppendOutcome::CbecLimitExceeded { .. }) => {}
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(
        first.cbec_year_to_date(&buyer(), 2026).await.unwrap(),
        LIMIT_FEN,
        "the allowance exactly, never more"
    );
    assert_eq!(balance().await, 1_000_000 - 6 * TAX_FEN);

    // Every accepted list cancelled twice over, from both stores: each debit released once,
    // each order credited back once.
    accepted.extend(accepted_of(&outcomes, "accept-again-"));
    assert_eq!(accepted.len(), 26);
    let mut undo = Vec::new();
    for n in &accepted {
        for round in 0..2 {
            undo.push(event(
                format!("release-{n}-{round}"),
                Projection::ReleaseGuaranteeDebit {
                    assure_code: "RACE-G".to_owned(),
                    debit_ref: format!("L-R-{n}"),
                },
            ));
            undo.push(event(
                format!("credit-{n}-{round}"),
                Projection::CbecCreditBack {
                    order_ref: format!("O-R-{n}"),
                    amount_fen: None,
                    credited_before_fen: None,
                },
            ));
        }
    }
    let outcomes = race(&first, &second, undo).await;
    let released = outcomes
        .iter()
        .filter(|(key, outcome)| key.starts_with("release-") && outcome.is_ok())
        .count();
    assert_eq!(released, 26, "each debit released once");
    for (key, outcome) in &outcomes {
        match outcome {
            Ok(AppendOutcome::Appended { .. }) => {}
            Err(StoreError::Conflict(what)) if key.starts_with("release-") => {
                assert!(what.ends_with("is released"), "{key}: {what}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(balance().await, 1_000_000 + 20 * TAX_FEN);
    assert_eq!(second.cbec_year_to_date(&buyer(), 2026).await.unwrap(), 0);

    // Two acceptances of one list, one from each store: exactly one wins.
    let list = inventory_list("L-R-X", "O-R-X", T0);
    written(
        &first,
        event("list-x".to_owned(), Projection::InventoryListWaiting(list)),
    )
    .await;
    let accept = |key: &str| {
        event(
            key.to_owned(),
            Projection::InventoryListChange {
                id: "L-R-X".to_owned(),
                change: InventoryListChange::Accepted {
                    declaration_id: key.to_owned(),
                },
            },
        )
    };
    let outcomes = race(&first, &second, vec![accept("x-1"), accept("x-2")]).await;
    assert_eq!(appended(&outcomes).len(), 1, "{outcomes:?}");
    let loser = outcomes.iter().find(|(_, o)| o.is_err()).unwrap();
    assert!(
        matches!(&loser.1, Err(StoreError::Conflict(what)) if what == "inventory list L-R-X is accepted"),
        "{loser:?}"
    );
    let list = first.inventory_list("L-R-X").await.unwrap().unwrap();
    assert_eq!(
        list.declaration_id.as_deref(),
        appended(&outcomes).first().copied()
    );

    // Orders booked while their credit-back races them: a credit-back finds its booking
    // written, or no booking at all, and the rebuild replays them in the order decided.
    let mut racing = Vec::new();
    for n in 0..10 {
        let mut booking = event(format!("book-{n}"), Projection::Nothing);
        booking.cbec_purchase = Some(CbecBooking {
            buyer_id: buyer(),
            year: 2027,
            amount_fen: ORDER_FEN,
            annual_limit_fen: LIMIT_FEN,
            order_ref: format!("O-B-{n}"),
            actor: actor(),
            recorded_at_ms: T0,
        });
        let credit = event(
            format!("credit-b-{n}"),
            Projection::CbecCreditBack {
                order_ref: format!("O-B-{n}"),
                amount_fen: None,
                credited_before_fen: None,
            },
        );
        racing.extend([credit, booking]);
    }
    let outcomes = race(&first, &second, racing).await;
    let mut credited = 0;
    for (key, outcome) in &outcomes {
        match outcome {
            Ok(AppendOutcome::Appended { .. }) if key.starts_with("credit-b-") => credited += 1,
            Ok(AppendOutcome::Appended { .. }) => {}
            Err(StoreError::NotFound(_)) if key.starts_with("credit-b-") => {}
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(
        first.cbec_year_to_date(&buyer(), 2027).await.unwrap(),
        (10 - credited) * ORDER_FEN
    );

    // One message delivered to both stores at once: recorded once, the other told so.
    let message = |key: &str| {
        event(
            key.to_owned(),
            Projection::CebDocument(crate::ecommerce::ceb_document(
                "G-RACE", "order", 1, "O-R-0",
            )),
        )
    };
    let outcomes = race(&first, &second, vec![message("msg-1"), message("msg-2")]).await;
    assert_eq!(appended(&outcomes).len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().any(|(_, o)| matches!(
            o,
            Ok(AppendOutcome::CebDocumentAlready { guid, .. }) if guid == "G-RACE"
        )),
        "{outcomes:?}"
    );

    // What the chain records rebuilds the tables exactly.
    let check = second.check_projections().await.unwrap();
    assert_eq!(check.not_rebuilt, None);
    assert_eq!(check.differences, Vec::<String>::new());
}

/// The waiting lists a query answers are bounded: 1,001 lists waiting on one order and past
/// their deadline are answered as the first [`INVENTORY_LISTS_LISTED_MAX`] (1,000), at most.
/// Runs on a fresh, empty store.
pub async fn waiting_lists_limit<S: Store>(store: &S) {
    let list = |n: usize| {
        Projection::InventoryListWaiting(store::InventoryListRow {
            id: format!("L-{n:04}"),
            ebp_code: "3105961682".to_owned(),
            order_no: "O-1".to_owned(),
            logistics_code: "3105960001".to_owned(),
            logistics_no: format!("SF{n}"),
            agent_code: "3120980025".to_owned(),
            status: "waiting".to_owned(),
            deadline_ms: n as i64,
            declaration_id: None,
            reason: None,
            created_seq: None,
            status_seq: None,
        })
    };
    let actor = Actor {
        user_id: "usr-officer".to_owned(),
        role: "officer".to_owned(),
    };
    let linked = (1..=INVENTORY_LISTS_LISTED_MAX)
        .map(|n| LinkedEvent {
            actor: None,
            subject: "lists".to_owned(),
            action: "ceb.list".to_owned(),
            payload: "{}".to_owned(),
            expected_version: None,
            projection: list(n),
        })
        .collect();
    let append = Append {
        actor,
        recorded_at_ms: 0,
        subject: "lists".to_owned(),
        action: "ceb.list".to_owned(),
        idempotency_scope: "usr-officer".to_owned(),
        idempotency_key: "lists".to_owned(),
        request_digest: String::new(),
        payload: "{}".to_owned(),
        expected_version: None,
        projection: list(0),
        linked,
        cbec_purchase: None,
        guarantee_debit: None,
    };
    let outcome = store.append(append).await.unwrap();
    assert!(matches!(outcome, store::AppendOutcome::Appended { .. }));
    let expired = store.expired_waiting(i64::MAX, usize::MAX).await.unwrap();
    assert_eq!(expired.len(), INVENTORY_LISTS_LISTED_MAX);
    assert_eq!(
        expired.first().unwrap().id,
        "L-0000",
        "earliest deadline first"
    );
    assert_eq!(expired.last().unwrap().id, "L-0999");
    // At the limit, all of them: the 1,000 whose deadline is before 1,000.
    let at_limit = store.expired_waiting(1_000, usize::MAX).await.unwrap();
    assert_eq!(at_limit.len(), INVENTORY_LISTS_LISTED_MAX);
    let key = CebKey::Order {
        ebp_code: "3105961682".to_owned(),
        order_no: "O-1".to_owned(),
    };
    let waiting = store.inventory_lists_waiting(&key).await.unwrap();
    assert_eq!(waiting.len(), INVENTORY_LISTS_LISTED_MAX);
}
