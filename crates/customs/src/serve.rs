//! `customs serve`: the HTTP API on the embedded store, until SIGINT or SIGTERM.

use std::net::SocketAddr;

use clap::Args;
use clearance::ClearanceConfig;

use crate::datadir::DataDir;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CUSTOMS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed demo enterprises, users, tokens and declarations, and print how to call the API.
    #[arg(long)]
    pub demo: bool,
    /// Log format: text for a terminal, json for a log collector.
    #[arg(long, env = "CUSTOMS_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Requests per second allowed to one client (bearer token) before 429.
    #[arg(long, env = "CUSTOMS_RATE_PER_CLIENT")]
    pub rate_per_client: Option<u32>,
    /// Connections served at once from one client address (default 128); behind a reverse
    /// proxy, whose one address every connection comes from, raise it.
    #[arg(long, env = "CUSTOMS_CONNECTIONS_PER_ADDRESS")]
    pub connections_per_address: Option<usize>,
    /// Time zone the console shows times in, as a fixed offset from UTC (+08:00, -05:00, UTC);
    /// stored and API times stay UTC.
    #[arg(
        long,
        env = "CUSTOMS_TIME_ZONE",
        default_value = http_api::DISPLAY_TIME_ZONE_DEFAULT,
        value_parser = http_api::parse_time_zone
    )]
    pub time_zone: chrono::FixedOffset,
}

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init()
    } else {
        builder.init()
    }
}

pub async fn run(data: &DataDir, config: ClearanceConfig, args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    refuse_a_tampered_store(&clearance).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    if args.demo {
        crate::demo::seed(&clearance, data, address).await?;
    } else if matches!(
        crate::demo::folder_kind(&clearance).await?,
        crate::demo::FolderKind::Demo { .. }
    ) {
        // Its demo users hold tokens printed in a file, and its demo officer would be drawn for
        // tasks: a demo folder is never served as a real one.
        clearance.store().close().await;
        anyhow::bail!(
            "the data folder {} is a demo folder (made by `serve --demo`): serve it with --demo, \
             or use a new folder for real data / 数据目录 {} 是演示目录：请加 --demo 运行，或为真实数据使用新目录",
            data.path.display(),
            data.path.display()
        );
    }
    let mut api_config = http_api::ApiConfig::production();
    api_config.display_offset = args.time_zone;
    if let Some(rate) = args.rate_per_client {
        // A second's worth of burst at least, so that a raised rate is not cut at the old burst.
        api_config.requests_per_second_per_client = rate;
        api_config.burst_per_client = api_config.burst_per_client.max(rate);
    }
    let app = http_api::router(clearance.clone(), api_config);
    // The drift monitor: the active model against the newest declarations, every
    // `DRIFT_CHECK_INTERVAL` (the first check after one interval); an alert is recorded on the
    // model's record and logged. Stops with the process.
    let monitored = clearance.clone();
    let monitor = tokio::spawn(async move {
        let every = clearance::models::DRIFT_CHECK_INTERVAL;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            match monitored.monitor_drift().await {
                Ok(Some(report)) => tracing::info!(
                    model = %report["model"],
                    score_psi = %report["score"]["psi"],
                    alerts = %report["alerts"],
                    "drift checked"
                ),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "the drift check failed"),
            }
        }
    });
    tracing::info!(%address, data = %data.path.display(), "OpenCustoms is listening");
    eprintln!("OpenCustoms is listening on http://{address} (API docs: http://{address}/docs)");
    let mut limits = http_api::ConnectionLimits::production();
    if let Some(n) = args.connections_per_address {
        limits.connections_per_address_max = n.max(1);
    }
    http_api::serve(listener, app, limits, shutdown_signal()).await?;
    monitor.abort();
    // Drain the writer and sign a final checkpoint before exiting.
    clearance.store().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The tables that decide clearance (roles, tokens, broker authorisations, tasks, the CBEC
/// ledger, ...) are rebuilt from the audit chain and compared before the server acts on them: a
/// row edited in the file (a role raised to admin, a forged authorisation) stops the start.
/// Linear in the events; measured at about a second per 100,000 events on a laptop core.
async fn refuse_a_tampered_store(
    clearance: &clearance::Clearance<store_sqlite::SqliteStore>,
) -> anyhow::Result<()> {
    use store::Store;
    let started = std::time::Instant::now();
    let check = clearance.store().check_projections().await?;
    if let Some(difference) = check.differences.first() {
        clearance.store().close().await;
        anyhow::bail!(
            "refusing to serve: the data folder's tables differ from its audit chain ({} \
             difference(s); the first: {difference}). Run `customs audit verify` / \
             数据目录中的表与审计链不一致，拒绝启动",
            check.differences.len()
        );
    }
    if let Some(why) = &check.not_rebuilt {
        tracing::warn!(%why, "the tables could not be checked against the audit chain");
    }
    tracing::info!(
        events = check.events_replayed,
        tables = check.tables.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tables checked against the audit chain"
    );
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
