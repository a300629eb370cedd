//! The postgres-1 and postgres-2 stages: the bench's lodgings over HTTP into a fresh PostgreSQL
//! database (made on `--postgres`'s server, dropped afterwards), served by one instance or by two
//! instances side by side, each its own `Clearance` over its own connection pool and HTTP
//! listener in this process (as two `customs serve --database` processes would be, without a
//! second binary; both follow the database's change announcements as serve does). Clients send
//! lodging `i` to instance `i % n`, as a round-robin balancer would. Read beside the `http`
//! stage of the same run, which lodges the same bodies into SQLite.
//!
//! Setup (the enterprises, users and tokens, the synthetic tariff and rates) is done through the
//! first instance and not timed. Afterwards the database must hold exactly the lodgings
//! acknowledged, or the stage fails.

use anyhow::Context;

use super::synth::Synth;
use super::{
    ApiServer, BROKERS, Bench, StageReport, TRADERS, lodging_report, post_lodgings_to, register,
    seed_releases,
};

pub(super) async fn instances(bench: &Bench, count: usize) -> anyhow::Result<StageReport> {
    let name: &'static str = if count == 1 {
        "postgres-1"
    } else {
        "postgres-2"
    };
    let admin_url = bench
        .postgres
        .as_deref()
        .context("the postgres stages need --postgres URL")?;
    let database = format!("customs_bench_{}_{}", count, bench.run_id);
    let url = store_postgres::create_database(admin_url, &database).await?;
    let measured = measure(bench, count, name, &url).await;
    let dropped = store_postgres::drop_database(admin_url, &database).await;
    let report = measured?;
    dropped?;
    Ok(report)
}

async fn measure(
    bench: &Bench,
    count: usize,
    name: &'static str,
    url: &str,
) -> anyhow::Result<StageReport> {
    let mut served = Vec::new();
    for _ in 0..count {
        let clearance = bench
            .data
            .open_clearance_postgres(url, bench.config.clone())
            .await?;
        let changes = crate::instances::follow_changes(&clearance, url)?;
        served.push((clearance, changes));
    }
    let first = &served[0].0;
    // The same parties as the SQLite store's (same seed), with tokens of this database.
    let mut synth = Synth::new(bench.seed);
    let traders = synth.parties(TRADERS);
    let brokers = synth.brokers(BROKERS);
    let lodgers = register(first.as_ref(), &traders, &brokers).await?;
    let releases =
        seed_releases(first.as_ref(), &bench.lodgings, bench.seed, &bench.run_id).await?;
    let mut servers = Vec::new();
    for (clearance, _) in &served {
        servers.push(ApiServer::serving(clearance.clone(), bench.clients).await?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let posted = post_lodgings_to(bench, name, &urls, lodgers.into()).await;
    for server in servers {
        server.stop().await?;
    }
    // The chain the instances wrote together verifies as one (not timed).
    let verified = first
        .verify_audit(&crate::show::operator())
        .await
        .map_err(crate::show::explain);
    for (clearance, changes) in &served {
        changes.abort();
        clearance.store().close();
    }
    let verified = verified?;
    if let Some(fault) = &verified.first_fault {
        anyhow::bail!("{name}: the audit chain in PostgreSQL is broken: {fault}");
    }
    let (wall, samples) = posted?;
    let accepted = samples.iter().filter(|s| s.outcome.is_ok()).count();
    let stored = store_postgres::count_declarations(url).await?;
    anyhow::ensure!(
        stored == accepted as u64,
        "{name}: the database holds {stored} declarations but {accepted} lodgings were acknowledged"
    );
    let note = format!(
        "{name}: {count} instance(s) on one fresh PostgreSQL database ({}), each its own \
         Clearance, pool of {} connections and HTTP listener in this process; lodging i to \
         instance i mod {count}; tariff {} and rates {} in force; {stored} declarations in the \
         database = acknowledged; audit chain {} entries verified",
        store_postgres::redacted_url(url),
        store_postgres::POOL_SIZE_DEFAULT,
        releases.tariff,
        releases.rates,
        verified.entries_checked,
    );
    let mut report = lodging_report(bench, name, wall, samples, Some(note), None);
    // Not in the bench's SQLite store, whose audit check counts `stored`.
    report.stored = 0;
    Ok(report)
}
