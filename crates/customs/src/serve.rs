//! `customs serve`: the HTTP API on the embedded store, until SIGINT or SIGTERM.

use std::time::Duration;

use clap::Args;
use clearance::ClearanceConfig;

use crate::datadir::DataDir;

/// The flags of `serve`. Each but `--demo` sets a configuration key (see `config::KEYS`), which
/// the file and the environment may set too; the flag wins.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, host:port (a name such as localhost is resolved). [default:
    /// 127.0.0.1:8080] [env: CUSTOMS_LISTEN] [file: serve.listen]
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Seed demo enterprises, users, tokens and declarations, and print how to call the API.
    #[arg(long)]
    pub demo: bool,
    /// Log format: text for a terminal or a file, json for a log collector. [default: text]
    /// [env: CUSTOMS_LOG_FORMAT] [file: log.format]
    #[arg(long, value_name = "text|json")]
    pub log_format: Option<String>,
    /// Requests per second allowed to one client (bearer token) before 429; at least 1.
    /// [default: 20] [env: CUSTOMS_RATE_PER_CLIENT] [file: serve.rate_per_client]
    #[arg(long, value_name = "N")]
    pub rate_per_client: Option<String>,
    /// Connections served at once from one client address; behind a reverse proxy, whose one
    /// address every connection comes from, raise it. [default: 128] [env:
    /// CUSTOMS_CONNECTIONS_PER_ADDRESS] [file: serve.connections_per_address]
    #[arg(long, value_name = "N")]
    pub connections_per_address: Option<String>,
    /// TLS certificate chain (PEM), served by `serve` itself and reloaded when the file
    /// changes; with --tls-key. [env: CUSTOMS_TLS_CERTIFICATE] [file: tls.certificate]
    #[arg(long, value_name = "FILE")]
    pub tls_certificate: Option<String>,
    /// The TLS certificate's private key (PEM). [env: CUSTOMS_TLS_KEY] [file: tls.key]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Serve /metrics on this address of its own instead of the API's. [env:
    /// CUSTOMS_METRICS_LISTEN] [file: metrics.listen]
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// Time zone the console shows times in, as a fixed offset from UTC (+08:00, -05:00, UTC);
    /// stored and API times stay UTC. [default: +08:00] [env: CUSTOMS_TIME_ZONE] [file:
    /// serve.time_zone]
    #[arg(long, value_name = "+HH:MM")]
    pub time_zone: Option<String>,
    /// Publish every committed event to NATS JetStream at this server (stream CUSTOMS_EVENTS,
    /// subjects customs.events.<action>); without it, events go to the in-process bus only.
    /// [env: CUSTOMS_BUS] [file: bus.url]
    #[arg(long, value_name = "nats://HOST:PORT")]
    pub bus: Option<String>,
    /// Keep the records in PostgreSQL (postgres://user@host:5432/database; several hosts and
    /// target_session_attrs=read-write pick the primary) instead of the data folder's SQLite
    /// file, so that several instances serve one database. [env: CUSTOMS_DATABASE] [file:
    /// serve.database]
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

impl ServeArgs {
    /// The configuration keys these flags set.
    pub fn flags(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("serve.listen", self.listen.clone()),
            ("log.format", self.log_format.clone()),
            ("serve.rate_per_client", self.rate_per_client.clone()),
            (
                "serve.connections_per_address",
                self.connections_per_address.clone(),
            ),
            ("tls.certificate", self.tls_certificate.clone()),
            ("tls.key", self.tls_key.clone()),
            ("metrics.listen", self.metrics_listen.clone()),
            ("serve.time_zone", self.time_zone.clone()),
            ("bus.url", self.bus.clone()),
            ("serve.database", self.database.clone()),
        ]
    }
}

/// Log lines waiting for the log thread at most. Past it a request waits for room (lines are
/// never dropped): the access log slows lodging down rather than losing a line.
pub const LOG_LINES_BUFFERED_MAX: usize = 16_384;

/// A writer that hands lines to a thread of its own, so that no request waits on the write
/// itself; dropping the guard writes out what is buffered. Used by `serve` and by the bench's
/// copy of it, so the bench pays what production pays.
pub fn log_writer<W: std::io::Write + Send + 'static>(
    out: W,
) -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_LINES_BUFFERED_MAX)
        .thread_name("customs-log")
        .finish(out)
}

/// Logs to stderr, as text or JSON lines, filtered by `filter` (`log.filter`, `CUSTOMS_LOG`);
/// colour codes only when stderr is a terminal, so that a file or a journal gets plain text.
/// Keep the guard until the process ends: dropping it writes out the lines still buffered.
#[must_use = "dropping the guard stops the log thread"]
pub fn init_logging(format: &str, filter: &str) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = log_writer(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    if format == "json" {
        builder.json().init()
    } else {
        builder.init()
    }
    guard
}

pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    settings: &crate::config::Config,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let _log = init_logging(&settings.log.format, &settings.log.filter);
    let serve = &settings.serve;
    // Everything that can be refused is, before the store is opened.
    let tls = match settings.tls_files() {
        Some(files) => Some(http_api::Tls::from_files(files)?),
        None => None,
    };
    let listen = crate::config::socket_address("serve.listen", &serve.listen).await?;
    let metrics_listen = match &settings.metrics.listen {
        Some(text) => Some(crate::config::socket_address("metrics.listen", text).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "serve.listen {listen}: cannot listen there ({error}) / 无法在 {listen} 上监听"
            )
        })?;
    let metrics_listener = match metrics_listen {
        Some(at) => Some(tokio::net::TcpListener::bind(at).await.map_err(|error| {
            anyhow::anyhow!(
                "metrics.listen {at}: cannot listen there ({error}) / 无法在 {at} 上监听"
            )
        })?),
        None => None,
    };
    let address = listener.local_addr()?;
    match &serve.database {
        Some(url) => {
            if args.demo {
                anyhow::bail!(
                    "--demo seeds the data folder's own store and is not used with serve.database \
                     / --demo 仅用于数据目录自带的数据库，不能与 serve.database 同用"
                );
            }
            // Reached, the store is migrated and checked before anything is served. Unreachable,
            // an instance that kept what continuity needs (code lists read within
            // CONTINUITY_CODE_LISTS_KEPT) starts in continuity and makes those checks when the
            // store answers; one that never reached it refuses to start (docs/operations.md,
            // Continuity).
            let (clearance, offline) = match data.open_clearance_postgres(url, config.clone()).await
            {
                Ok(clearance) => {
                    refuse_a_tampered_store(&clearance).await?;
                    (clearance, None)
                }
                Err(error)
                    if store_postgres::is_unreachable(&error)
                        && crate::continuity::can_start_in_continuity(&data.path) =>
                {
                    tracing::warn!(error = %format!("{error:#}"), "PostgreSQL is unreachable at the start");
                    eprintln!(
                        "PostgreSQL is unreachable ({error:#}): starting in continuity / 中心数据库无法连接：以应急模式启动"
                    );
                    let clearance = data.open_clearance_postgres_deferred(url, config)?;
                    let checked = clearance.clone();
                    let checks: crate::continuity::BeforeLeaving = Box::new(move || {
                        let checked = checked.clone();
                        Box::pin(async move { refuse_a_tampered_store(&checked).await })
                    });
                    (clearance, Some(checks))
                }
                Err(error) => return Err(error),
            };
            let shown = store_postgres::redacted_url(url);
            tracing::info!(database = %shown, "the records are kept in PostgreSQL");
            eprintln!("Records: PostgreSQL {shown}");
            // Other instances may write to the database: follow their changes (crate::instances).
            let changes = crate::instances::follow_changes(&clearance, url)?;
            // Lodgings survive an outage of the central store (docs/operations.md, Continuity).
            let continuity = crate::continuity::Continuity::open(
                clearance.clone(),
                &data.path,
                serve.continuity_queue_max,
                (
                    serve.rate_per_client,
                    serve.burst_per_client.max(serve.rate_per_client),
                ),
                offline,
            )?;
            eprintln!("Continuity: instance {}", continuity.instance());
            let listeners = (listener, metrics_listener);
            let served =
                serve_clearance(clearance, data, settings, listeners, tls, Some(continuity)).await;
            changes.abort();
            served
        }
        None => {
            let options = store_sqlite::SqliteOptions::production();
            let clearance = data.open_clearance(options, config)?;
            refuse_a_tampered_store(&clearance).await?;
            if args.demo {
                crate::demo::seed(&clearance, data, address).await?;
            } else if matches!(
                crate::demo::folder_kind(&clearance).await?,
                crate::demo::FolderKind::Demo { .. }
            ) {
                // Its demo users hold tokens printed in a file, and its demo officer would be
                // drawn for tasks: a demo folder is never served as a real one.
                clearance.store().close().await;
                anyhow::bail!(
                    "the data folder {} is a demo folder (made by `serve --demo`): serve it with --demo, \
                     or use a new folder for real data / 数据目录 {} 是演示目录：请加 --demo 运行，或为真实数据使用新目录",
                    data.path.display(),
                    data.path.display()
                );
            }
            let listeners = (listener, metrics_listener);
            serve_clearance(clearance, data, settings, listeners, tls, None).await
        }
    }
}

/// A store `serve` can run on, and how it is closed when the server stops.
trait ServedStore: store::Store + Clone + 'static {
    async fn close_served(&self);
}

impl ServedStore for store_sqlite::SqliteStore {
    /// Drains the writer and signs a final checkpoint.
    async fn close_served(&self) {
        self.close().await;
    }
}

impl ServedStore for store_postgres::PostgresStore {
    /// Closes the pool; every acknowledged append is already committed.
    async fn close_served(&self) {
        self.close();
    }
}

/// Serves the API (and the metrics) on `listeners` until a signal stops the process.
async fn serve_clearance<S: ServedStore>(
    clearance: std::sync::Arc<clearance::Clearance<S>>,
    data: &DataDir,
    settings: &crate::config::Config,
    (listener, metrics_listener): (tokio::net::TcpListener, Option<tokio::net::TcpListener>),
    tls: Option<http_api::Tls>,
    continuity: Option<std::sync::Arc<crate::continuity::Continuity<S>>>,
) -> anyhow::Result<()> {
    let serve = &settings.serve;
    let address = listener.local_addr()?;
    // On PostgreSQL several instances share the record: the work only one of them may do
    // (publishing to NATS, the drift check) runs where this process holds that work's lock.
    let leaders = Leaders::of(serve.database.as_deref(), &settings.bus)?;
    leaders.reported_by(&clearance);
    let (relay, in_process) =
        start_event_relay(clearance.store(), &settings.bus, leaders.relay.as_ref());
    // Without NATS there is no `customs worker` to take jobs: this process runs them.
    let worker = in_process.map(|in_process| {
        crate::worker::start_in_process(
            clearance.clone(),
            &in_process,
            settings.worker.token.clone(),
        )
    });
    let api_config = http_api::ApiConfig {
        requests_per_second_per_client: serve.rate_per_client,
        // Checked when the configuration was resolved.
        display_offset: http_api::parse_time_zone(&serve.time_zone)
            .map_err(|error| anyhow::anyhow!("serve.time_zone: {error}"))?,
        // A second's worth of burst at least, so that a raised rate is not cut at the old burst.
        burst_per_client: serve.burst_per_client.max(serve.rate_per_client),
        request_timeout: Duration::from_secs(serve.request_timeout_seconds),
        metrics_access: http_api::MetricsAccess {
            token: settings.metrics.token.clone(),
            own_listener: metrics_listener.is_some(),
        },
        webhook_private_targets: serve.webhook_private_targets == "yes",
        ..http_api::ApiConfig::production()
    };
    let mut routers = http_api::routers(clearance.clone(), api_config);
    // Continuity's door in front of the API and the metrics; its probe and reconciler beside.
    let mut continuity_task = None;
    if let Some(continuity) = continuity {
        let door =
            axum::middleware::from_fn_with_state(continuity.clone(), crate::continuity::door::<S>);
        routers.api = routers.api.layer(door.clone());
        routers.metrics = routers.metrics.layer(door);
        continuity_task = Some(continuity.spawn());
    }
    // The drift monitor; on PostgreSQL only the process holding the drift lock checks (an
    // instance or a `customs worker`).
    let monitor = spawn_drift_monitor(
        clearance.clone(),
        leaders
            .drift
            .as_ref()
            .map(store_postgres::Leadership::watch),
    );
    // CEB inventory lists still waiting for their documents past their deadline are refused,
    // every `CEB_SWEEP_INTERVAL`; on PostgreSQL every instance sweeps, and a list refused by one
    // is skipped by the others (its state changes once).
    let swept = clearance.clone();
    let ceb_sweep = tokio::spawn(async move {
        let every = clearance::ecommerce::CEB_SWEEP_INTERVAL;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            match swept.sweep_ceb_waiting().await {
                Ok(0) => {}
                Ok(refused) => tracing::info!(refused, "CEB lists past their deadline refused"),
                Err(error) => tracing::warn!(%error, "the CEB sweep failed"),
            }
        }
    });
    // Receipts to the enterprises' webhooks; on PostgreSQL every instance runs one and a lease
    // per enterprise lets one deliver at a time. What is delivered is in the store: stopping
    // loses nothing.
    let deliverer = http_api::webhooks::spawn_deliverer(
        clearance.clone(),
        http_api::webhooks::DeliveryPolicy::production(serve.webhook_private_targets == "yes"),
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, data = %data.path.display(), tls = tls.is_some(), "OpenCustoms is listening");
    eprintln!(
        "OpenCustoms is listening on {scheme}://{address} (API docs: {scheme}://{address}/docs)"
    );
    if tls.is_none() && !address.ip().is_loopback() {
        // Tokens and passwords would cross the network in clear.
        tracing::warn!(%address, "listening on a non-loopback address without TLS");
        eprintln!(
            "WARNING: listening on {address}, reachable from other machines, WITHOUT TLS: tokens and \
             passwords cross the network in clear. Set [tls] certificate and key, or serve behind a \
             TLS reverse proxy on 127.0.0.1 (docs/operations.md) / 警告：在非本机地址上未启用 TLS 监听"
        );
    }
    let limits = http_api::ConnectionLimits {
        header_read_timeout: Duration::from_secs(serve.header_read_timeout_seconds),
        write_stall_timeout: Duration::from_secs(serve.write_stall_timeout_seconds),
        connections_max: within_descriptor_limit(serve.connections_max),
        connections_per_address_max: serve.connections_per_address,
        shutdown_grace: Duration::from_secs(serve.shutdown_grace_seconds),
        tls_handshake_timeout: Duration::from_secs(serve.tls_handshake_timeout_seconds),
    };
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let stop_on_signal = tokio::spawn(async move {
        shutdown_signal().await;
        drop(stop);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
        while stopped.changed().await.is_ok() {}
    };
    let metrics_server = metrics_listener.map(|metrics_listener| {
        if let Ok(at) = metrics_listener.local_addr() {
            tracing::info!(address = %at, "metrics are served on their own listener");
            eprintln!("Metrics: http://{at}/metrics");
        }
        let limits = http_api::ConnectionLimits {
            connections_max: METRICS_CONNECTIONS_MAX,
            ..limits.clone()
        };
        tokio::spawn(http_api::serve(
            metrics_listener,
            routers.metrics,
            limits,
            until_stopped(stopped.clone()),
        ))
    });
    let served = match tls {
        Some(tls) => {
            http_api::serve_tls(listener, routers.api, limits, tls, until_stopped(stopped)).await
        }
        None => http_api::serve(listener, routers.api, limits, until_stopped(stopped)).await,
    };
    stop_on_signal.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    served?;
    monitor.abort();
    ceb_sweep.abort();
    // Its leases given up: the next start (or another instance) delivers at once.
    deliverer.stop().await;
    if let Some(task) = continuity_task {
        // Whatever is queued is on disk; the next start lodges it.
        task.abort();
    }
    // The relay holds no state of its own: the next start resumes from the bus's record.
    relay.task.abort();
    // The locks given up: another instance leads at once.
    drop(leaders);
    if let Some(worker) = worker {
        worker.abort();
    }
    // Drain the writer and sign a final checkpoint before exiting.
    clearance.store().close_served().await;
    tracing::info!("stopped");
    Ok(())
}

/// The leaderships of an instance on PostgreSQL (`store_postgres::Leadership`): none on the
/// embedded store, where one process is the only one.
struct Leaders {
    /// The relay to NATS (with `bus.url` only: the in-process bus is each instance's own).
    relay: Option<store_postgres::Leadership>,
    drift: Option<store_postgres::Leadership>,
}

impl Leaders {
    /// Keeps the service's figure of each leadership (`customs_leader` in `/metrics`) as it
    /// changes, until the leadership ends.
    fn reported_by<S: store::Store + 'static>(
        &self,
        clearance: &std::sync::Arc<clearance::Clearance<S>>,
    ) {
        for (lock, leadership) in [
            (store_postgres::RELAY_LEADER, &self.relay),
            (store_postgres::DRIFT_LEADER, &self.drift),
        ] {
            let Some(leadership) = leadership else {
                continue;
            };
            report_leadership(clearance.clone(), lock.name, leadership.watch());
        }
    }

    fn of(database: Option<&str>, bus: &crate::config::BusConfig) -> anyhow::Result<Leaders> {
        let Some(url) = database else {
            return Ok(Leaders {
                relay: None,
                drift: None,
            });
        };
        let relay = match bus.url {
            Some(_) => Some(store_postgres::Leadership::for_url(
                url,
                store_postgres::RELAY_LEADER,
            )?),
            None => None,
        };
        Ok(Leaders {
            relay,
            drift: Some(store_postgres::Leadership::for_url(
                url,
                store_postgres::DRIFT_LEADER,
            )?),
        })
    }
}

/// The drift monitor: the active model against the newest declarations, every
/// `DRIFT_CHECK_INTERVAL` (the first check one interval after this process starts, or starts to
/// lead); an alert is recorded on the model's record and logged. With `leader` (PostgreSQL) it
/// checks only while this process holds the drift lock, which the instances and the workers
/// share. Runs until aborted.
pub(crate) fn spawn_drift_monitor<S: store::Store + 'static>(
    monitored: std::sync::Arc<clearance::Clearance<S>>,
    mut drift_leader: Option<tokio::sync::watch::Receiver<bool>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = clearance::models::DRIFT_CHECK_INTERVAL;
        loop {
            if !until_leading(&mut drift_leader, true).await {
                return;
            }
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = until_leading(&mut drift_leader, false) => break,
                }
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
        }
    })
}

/// Keeps `clearance`'s figure of the leadership `lock` as `leading` changes, until it ends.
pub(crate) fn report_leadership<S: store::Store + 'static>(
    clearance: std::sync::Arc<clearance::Clearance<S>>,
    lock: &'static str,
    mut leading: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            let now = *leading.borrow_and_update();
            clearance.set_leading(lock, now);
            if leading.changed().await.is_err() {
                clearance.set_leading(lock, false);
                return;
            }
        }
    });
}

/// Waits until `leader` says `leading` (without a leader, this process always leads: at once
/// for `true`, never for `false`); false when the leadership is gone for good.
async fn until_leading(
    leader: &mut Option<tokio::sync::watch::Receiver<bool>>,
    leading: bool,
) -> bool {
    match leader {
        None if leading => true,
        None => std::future::pending().await,
        Some(leader) => leader.wait_for(|now| *now == leading).await.is_ok(),
    }
}

/// The event relay (`crates/bus`): every committed event to NATS JetStream when `bus.url` is
/// set, else to the in-process bus. A server that cannot reach NATS still serves: events are
/// committed in the store and published when NATS answers (the relay logs each failed attempt).
/// With `leader` (PostgreSQL and NATS: several instances) it publishes only while this process
/// holds the relay's lock. The in-process bus is returned for the jobs this process runs itself.
fn start_event_relay<S: store::Store + Clone + 'static>(
    store: &S,
    settings: &crate::config::BusConfig,
    leader: Option<&store_postgres::Leadership>,
) -> (bus::RelayHandle, Option<bus::InProcessBus>) {
    use std::sync::Arc;
    let store = Arc::new(store.clone());
    let options = bus::RelayOptions::default();
    match &settings.url {
        Some(url) => {
            let config = bus::JetStreamConfig {
                url: url.clone(),
                stream: settings.stream.clone(),
                subject_prefix: settings.subject_prefix.clone(),
            };
            tracing::info!(
                url,
                stream = %config.stream,
                subjects = %config.stream_subjects(),
                "events are published to NATS JetStream"
            );
            let publisher = Arc::new(bus::JetStreamPublisher::new(config));
            let relay = match leader {
                Some(leader) => bus::Relay::spawn_led(store, publisher, options, leader.watch()),
                None => bus::Relay::spawn(store, publisher, options),
            };
            (relay, None)
        }
        None => {
            let in_process = bus::InProcessBus::new();
            let relay = bus::Relay::spawn(store, Arc::new(in_process.clone()), options);
            (relay, Some(in_process))
        }
    }
}

/// Connections to the metrics' own listener at once: one scraper or two need a few.
const METRICS_CONNECTIONS_MAX: usize = 16;

/// File descriptors kept for what is not a client's connection: the store and its WAL, the
/// listeners, the metrics' connections, logs, files read by an import.
const DESCRIPTORS_RESERVED: usize = 64 + METRICS_CONNECTIONS_MAX;

/// `connections_max`, lowered (with a warning) to fit under the process's limit of open files:
/// past it, accepting fails and so would opening the store's files.
fn within_descriptor_limit(connections_max: usize) -> usize {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| open_files_limit(&limits))
    else {
        return connections_max;
    };
    let fits = limit.saturating_sub(DESCRIPTORS_RESERVED).max(1);
    if connections_max > fits {
        tracing::warn!(
            configured = connections_max,
            used = fits,
            open_files_limit = limit,
            "serve.connections_max is above what the limit of open files allows: lowered; raise \
             the limit (ulimit -n, LimitNOFILE=) to serve more"
        );
        return fits;
    }
    connections_max
}

/// The soft limit of open files in the text of `/proc/self/limits`; `None` if unlimited or absent.
fn open_files_limit(limits: &str) -> Option<usize> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The tables that decide clearance (roles, tokens, broker authorisations, tasks, the CBEC
/// ledger, ...) are rebuilt from the audit chain and compared before the server acts on them: a
/// row edited in the file (a role raised to admin, a forged authorisation) stops the start.
/// Linear in the events; measured at about a second per 100,000 events on a laptop core.
async fn refuse_a_tampered_store<S: ServedStore>(
    clearance: &clearance::Clearance<S>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let check = clearance.store().check_projections().await?;
    if let Some(difference) = check.differences.first() {
        clearance.store().close_served().await;
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

pub(crate) async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_of_open_files_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63432                63432                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(open_files_limit(limits), Some(1024));
        assert_eq!(
            open_files_limit(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
        assert_eq!(open_files_limit(""), None);
    }
}
