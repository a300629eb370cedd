//! How much partitioning the audit chain buys: appends per second from concurrent tasks in two
//! pools (two "processes") on the local PostgreSQL, once with every append's subject in one
//! chain (as before partitioning: every append waits for the one head row) and once with
//! subjects spread over all `CHAINS` chains. Prints numbers; asserts nothing about speed.
//!
//! `cargo run --release -p store-postgres --example chain_contention [-- TASKS APPENDS_PER_TASK]`
//! (defaults 8 and 250) against `CUSTOMS_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`), in a database of its own, dropped at the end.

use std::time::Instant;

use audit::AuditSigner;
use store::{Actor, Append, AppendOutcome, Projection, Store};
use store_postgres::{CHAINS, PostgresOptions, PostgresStore, chain_of};
use tokio::task::JoinSet;
use tokio_postgres::NoTls;

fn append(subject: String, key: String) -> Append {
    Append {
        actor: Actor {
            user_id: "U-BENCH".to_owned(),
            role: "officer".to_owned(),
        },
        recorded_at_ms: 1_767_225_600_000,
        subject,
        action: "bench.noted".to_owned(),
        idempotency_scope: "bench".to_owned(),
        idempotency_key: key,
        request_digest: "0".repeat(64),
        payload: r#"{"bench":true}"#.to_owned(),
        expected_version: None,
        projection: Projection::Nothing,
        linked: Vec::new(),
        cbec_purchase: None,
        guarantee_debit: None,
    }
}

/// `count` subjects, all in chain 0 when `one_chain`, else spread over every chain.
fn subjects(prefix: &str, count: usize, one_chain: bool) -> Vec<String> {
    (0..)
        .map(|n| format!("{prefix}-{n}"))
        .filter(|s| !one_chain || chain_of(s, CHAINS) == 0)
        .take(count)
        .collect()
}

async fn run(
    stores: &[PostgresStore],
    label: &str,
    tasks: usize,
    per_task: usize,
    one_chain: bool,
) -> f64 {
    let mut set = JoinSet::new();
    let started = Instant::now();
    for task in 0..tasks {
        let store = stores[task % stores.len()].clone();
        let subjects = subjects(&format!("{label}-{task}"), per_task, one_chain);
        set.spawn(async move {
            for (n, subject) in subjects.into_iter().enumerate() {
                let key = format!("{subject}/{n}");
                match store.append(append(subject, key)).await.expect("appended") {
                    AppendOutcome::Appended { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("a task");
    }
    (tasks * per_task) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tasks = args.first().copied().unwrap_or(8);
    let per_task = args.get(1).copied().unwrap_or(250);
    let admin = std::env::var("CUSTOMS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("customs_bench_{:016x}", rand::random::<u64>());
    let (client, connection) = tokio_postgres::connect(&admin, NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let mut config: tokio_postgres::Config = admin.parse()?;
    config.dbname(&name);
    let options = PostgresOptions {
        pool_size: tasks.div_ceil(2).max(1),
        ..PostgresOptions::production()
    };
    let signer = AuditSigner::from_secret_bytes(&[9; 32]);
    let measured = async {
        let stores = [
            PostgresStore::open(config.clone(), options, signer.clone()).await?,
            PostgresStore::open(config.clone(), options, signer.clone()).await?,
        ];
        // Warm both pools' connections and prepared statements.
        run(&stores, "warm", tasks, 5, false).await;
        let one = run(&stores, "one", tasks, per_task, true).await;
        let all = run(&stores, "all", tasks, per_task, false).await;
        for store in &stores {
            store.close();
        }
        anyhow::Ok((one, all))
    }
    .await;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    let (one, all) = measured?;
    println!(
        "{tasks} tasks in 2 pools, {per_task} appends each: one chain {one:.0} appends/s, \
         {CHAINS} chains {all:.0} appends/s ({:.2}x)",
        all / one
    );
    Ok(())
}
