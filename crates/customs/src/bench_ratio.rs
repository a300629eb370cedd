//! The `http-ratio` stage: the speed of lodging with every control on, next to what this machine's
//! HTTP stack gives a handler that does nothing but parse the same JSON, measured side by side in
//! one run with the same client.
//!
//! First a bare axum handler (no middleware, no store) answers `POST /v1/declarations` by parsing
//! the body into the API's declaration form; then the full API on the bench store (the router of
//! `customs serve`: bearer auth, rate limits, admission, parsing, rules, authority, numbering,
//! assessment, targeting and scoring at acceptance, the durable append) answers the same bodies,
//! each with a new Idempotency-Key, so every request lodges a new declaration. Both are loaded for
//! `--ratio-seconds` by `wrk` (64 connections by default) when it is on PATH, else by the bench's
//! own HTTP clients in this process. The server logs as `serve` does by default (level `info`,
//! `CUSTOMS_LOG` to change it, text lines), into `http-ratio-server.log` in the data folder.

use std::io::Write;
use std::process::Command;

use axum::Router;
use axum::routing::post;

use super::{
    ApiServer, Bench, StageReport, assessment_note, assessments_since, cores, count_declarations,
    first_line, http_client, last_seq, percentile, post as post_request,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::{StatusCode, header};
use store::Store;

/// The server's log file in the bench folder: `serve`'s default logging, kept off the terminal.
const SERVER_LOG: &str = "http-ratio-server.log";
/// The wrk script the stage writes into the bench folder, and the lodgings it reads.
const WRK_SCRIPT: &str = "http-ratio.lua";
const WRK_LODGINGS: &str = "http-ratio-lodgings.tsv";
/// wrk gives up on a request after this long (its default of 2 s would count a slow answer as a
/// socket error instead of a latency).
const WRK_TIMEOUT: &str = "10s";
/// The share of the bare handler's throughput the full path must reach (issue 12).
pub const RATIO_TARGET: f64 = 0.35;
/// The p99 latency the full path must keep under sustained load (issue 12).
pub const P99_TARGET: Duration = Duration::from_millis(50);

/// One server under load: what the client measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Answers with a 2xx status per second over the load's duration.
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Requests answered with a 2xx status, and the others (errors, refusals, timeouts).
    pub answered: u64,
    pub failed: u64,
}

/// The stage's figures: the bare handler, the full lodging path and the client that loaded them.
#[derive(Debug, Clone)]
pub struct RatioFigures {
    pub client: String,
    pub bare: Load,
    pub full: Load,
}

impl RatioFigures {
    /// The full path's throughput as a share of the bare handler's.
    pub fn ratio(&self) -> f64 {
        self.full.per_second / self.bare.per_second.max(f64::MIN_POSITIVE)
    }

    /// Whether both of issue 12's targets are met.
    pub fn meets_targets(&self) -> bool {
        self.ratio() >= RATIO_TARGET && self.full.p99 <= P99_TARGET
    }
}

pub(super) async fn http_ratio(bench: &Bench) -> anyhow::Result<StageReport> {
    let folder = bench.data.path.clone();
    init_server_logging(&folder.join(SERVER_LOG))?;
    let seconds = bench.ratio_seconds.max(1);
    let wrk = wrk_version();
    if wrk.is_some() {
        write_wrk_files(bench, &folder)?;
    }
    let load = |url: String, stage: &'static str| {
        let wrk = wrk.is_some();
        let folder = folder.clone();
        let (threads, connections) = (cores().min(bench.clients).max(1), bench.clients);
        async move {
            if wrk {
                tokio::task::spawn_blocking(move || {
                    run_wrk(&folder, &url, threads, connections, seconds, stage)
                })
                .await?
            } else {
                load_in_process(bench, &url, seconds, stage).await
            }
        }
    };
    let bare = BareServer::start().await?;
    let bare_load = load(bare.url.clone(), "bare");
    let bare_load = bare_load.await;
    bare.stop().await?;
    let bare_load = bare_load?;

    let database = bench.data.database();
    let (declarations_before, seq_before) = (
        count_declarations(&database).await?,
        last_seq(&database).await?,
    );
    let server = ApiServer::start(bench).await?;
    let full_load = load(server.url.clone(), "full").await;
    server.stop().await?;
    // A lodging whose client left (wrk stops with requests in flight) may still be queued for
    // the writer: a checkpoint is served after every write queued before it.
    bench.clearance.store().checkpoint_now().await?;
    let (full_load, failure_examples) = match full_load {
        Ok(load) => (load, Vec::new()),
        Err(err) => return Err(err),
    };
    // Counted in the store: wrk stops counting with requests still in flight, which the server
    // answers (and records) after.
    let stored = count_declarations(&database).await? - declarations_before;
    let tally = assessments_since(&database, seq_before).await?;
    let figures = RatioFigures {
        client: match &wrk {
            Some(version) => format!(
                "{version}, {} threads, {} connections, {seconds} s each",
                cores().min(bench.clients).max(1),
                bench.clients
            ),
            None => format!(
                "wrk not on PATH: the bench's own HTTP clients in this process, {} connections, \
                 {seconds} s each",
                bench.clients
            ),
        },
        bare: bare_load,
        full: full_load,
    };
    let note = format!(
        "http-ratio: {}; bare = axum handler parsing the body into the declaration form, no \
         middleware; full = the API of `serve` lodging with every control on (assessment, \
         targeting, scoring at acceptance); server log ({}) in {}; full/bare = {:.1} % (target \
         ≥ {:.0} %), full p99 {} ms (target ≤ {} ms): {}\n{}",
        figures.client,
        std::env::var("CUSTOMS_LOG").unwrap_or_else(|_| "info".to_owned()),
        folder.join(SERVER_LOG).display(),
        figures.ratio() * 100.0,
        RATIO_TARGET * 100.0,
        super::ms_text(figures.full.p99),
        P99_TARGET.as_millis(),
        if figures.meets_targets() {
            "met"
        } else {
            "NOT met"
        },
        assessment_note(bench, "http-ratio", stored, &tally),
    );
    let average_items = bench.goods_items() as f64 / bench.lodgings.len().max(1) as f64;
    Ok(StageReport {
        name: "http-ratio",
        declarations: usize::try_from(figures.full.answered + figures.full.failed)?,
        goods_items: (figures.full.answered as f64 * average_items) as usize,
        wall: Duration::from_secs(seconds),
        latencies: Vec::new(),
        failures: usize::try_from(figures.full.failed)?,
        failure_examples,
        stored,
        note: Some(note),
        assessments: Some(tally),
        ratio: Some(figures),
    })
}

/// `serve`'s default logging (level `info` unless `CUSTOMS_LOG` says otherwise, text lines),
/// into a file: the server pays for its access log as it does in production. Set once per
/// process; a second stage in the same process keeps the first subscriber.
fn init_server_logging(path: &std::path::Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating the server log {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Written by a log thread as `serve` writes; the guard lives as long as the process, whose
    // later stages may log into the same subscriber.
    static GUARD: std::sync::OnceLock<tracing_appender::non_blocking::WorkerGuard> =
        std::sync::OnceLock::new();
    let (writer, guard) = crate::serve::log_writer(file);
    if tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .try_init()
        .is_ok()
    {
        let _ = GUARD.set(guard);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The bare handler.

/// Parses the body into the API's declaration form and answers 201, or 400: the least any JSON
/// API on this machine does per request.
async fn bare_lodge(
    body: axum::body::Bytes,
) -> (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    &'static str,
) {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match wire::parse_json::<wire::DeclarationDto>(&body) {
        Ok(_) => (StatusCode::CREATED, json, r#"{"parsed":true}"#),
        Err(_) => (StatusCode::BAD_REQUEST, json, r#"{"parsed":false}"#),
    }
}

struct BareServer {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BareServer {
    async fn start() -> anyhow::Result<BareServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let url = format!("http://{}/v1/declarations", listener.local_addr()?);
        let app = Router::new().route("/v1/declarations", post(bare_lodge));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.await.unwrap_or(()) })
                .await
        });
        Ok(BareServer { url, stop, task })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(super::SERVER_SHUTDOWN_TIMEOUT, self.task)
            .await
            .context("the bare server did not stop")?
            .context("the bare server panicked")?
            .context("serving the bare handler")
    }
}

// ---------------------------------------------------------------------------------------------
// wrk.

/// `wrk`'s version line when it is on PATH.
fn wrk_version() -> Option<String> {
    let output = Command::new("wrk").arg("--version").output().ok()?;
    // wrk prints its version (and usage) and exits 1.
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let line = text.lines().find(|l| l.starts_with("wrk"))?;
    Some(line.split(" [").next().unwrap_or(line).trim().to_owned())
}

/// The script cycles through the bench's lodgings (its token and body per line), each request
/// with an Idempotency-Key of its own, so every request lodges a new declaration.
const WRK_LUA: &str = r#"-- Written by `customs bench --stages http-ratio`.
local auths, bodies = {}, {}
for line in io.lines(os.getenv("CUSTOMS_BENCH_LODGINGS")) do
  local tab = line:find("\t", 1, true)
  auths[#auths + 1] = line:sub(1, tab - 1)
  bodies[#bodies + 1] = line:sub(tab + 1)
end
local run = os.getenv("CUSTOMS_BENCH_RUN")
local threads = 0
function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end
local sent = 0
function request()
  sent = sent + 1
  local i = (thread_number * 7919 + sent) % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auths[i],
    ["Idempotency-Key"] = run .. "-" .. thread_number .. "-" .. sent,
  }, bodies[i])
end
"#;

fn write_wrk_files(bench: &Bench, folder: &std::path::Path) -> anyhow::Result<()> {
    std::fs::write(folder.join(WRK_SCRIPT), WRK_LUA).context("writing the wrk script")?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(folder.join(WRK_LODGINGS)).context("writing the wrk lodgings")?,
    );
    for lodging in bench.lodgings.iter() {
        let authorization = bench.lodgers[lodging.lodger]
            .authorization
            .to_str()
            .context("a token is text")?;
        file.write_all(authorization.as_bytes())?;
        file.write_all(b"\t")?;
        // Compact JSON: no raw tab or newline inside.
        file.write_all(&lodging.body)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}

fn run_wrk(
    folder: &std::path::Path,
    url: &str,
    threads: usize,
    connections: usize,
    seconds: u64,
    stage: &str,
) -> anyhow::Result<Load> {
    let run = format!("{stage}-{}", uuid::Uuid::now_v7().simple());
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            WRK_TIMEOUT,
            "--latency",
            "-s",
        ])
        .arg(folder.join(WRK_SCRIPT))
        .arg(url)
        .env("CUSTOMS_BENCH_LODGINGS", folder.join(WRK_LODGINGS))
        .env("CUSTOMS_BENCH_RUN", run)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
}

/// wrk's `--latency` report: requests, non-2xx/3xx answers, socket errors, the duration and the
/// 50 % and 99 % latencies.
fn parse_wrk(text: &str) -> anyhow::Result<Load> {
    let mut requests = None;
    let mut seconds = None;
    let (mut p50, mut p99) = (None, None);
    let mut failed = 0_u64;
    for line in text.lines().map(str::trim) {
        if let Some((count, rest)) = line.split_once(" requests in ") {
            requests = Some(count.trim().parse::<u64>()?);
            seconds = Some(duration(rest.split(',').next().unwrap_or_default())?);
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = Some(duration(rest.trim())?);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = Some(duration(rest.trim())?);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            failed += rest.trim().parse::<u64>()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in rest.split(',') {
                let count = part.split_whitespace().last().unwrap_or("0");
                failed += count.parse::<u64>()?;
            }
        }
    }
    let requests = requests.context("no request count")?;
    let seconds = seconds.context("no duration")?;
    let answered = requests.saturating_sub(failed);
    Ok(Load {
        per_second: answered as f64 / seconds.as_secs_f64().max(f64::MIN_POSITIVE),
        p50: p50.context("no 50% latency (was --latency given?)")?,
        p99: p99.context("no 99% latency")?,
        answered,
        failed,
    })
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`, `1.50m`.
fn duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("{text:?} has no unit"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().with_context(|| format!("{text:?}"))?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => anyhow::bail!("unknown unit {other:?} in {text:?}"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

// ---------------------------------------------------------------------------------------------
// Without wrk: the bench's own clients.

async fn load_in_process(
    bench: &Bench,
    url: &str,
    seconds: u64,
    stage: &str,
) -> anyhow::Result<Load> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..bench.clients {
        let http = http_client()?;
        let (next, url, lodgings, lodgers) = (
            next.clone(),
            url.to_owned(),
            bench.lodgings.clone(),
            bench.lodgers.clone(),
        );
        let prefix = format!("{}-{stage}-{}", bench.run_id, uuid::Uuid::now_v7().simple());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let lodging = &lodgings[index % lodgings.len()];
                let request = http
                    .post(&url)
                    .header(
                        header::AUTHORIZATION,
                        lodgers[lodging.lodger].authorization.clone(),
                    )
                    .header("idempotency-key", format!("{prefix}-{index}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(lodging.body.clone());
                let sent = Instant::now();
                let outcome = post_request(request).await;
                samples.push((sent.elapsed(), outcome.map_err(|e| first_line(&e))));
            }
            samples
        });
    }
    let mut latencies = Vec::new();
    let (mut answered, mut failed) = (0_u64, 0_u64);
    while let Some(joined) = tasks.join_next().await {
        for (latency, outcome) in joined.context("a bench client panicked")? {
            latencies.push(latency);
            match outcome {
                Ok(()) => answered += 1,
                Err(_) => failed += 1,
            }
        }
    }
    latencies.sort_unstable();
    Ok(Load {
        per_second: answered as f64 / started.elapsed().as_secs_f64(),
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        answered,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_REPORT: &str = "Running 10s test @ http://127.0.0.1:39051/v1/declarations
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.06ms    4.11ms  61.66ms   74.12%
    Req/Sec     3.59k   352.12     4.43k    71.50%
  Latency Distribution
     50%    8.46ms
     75%   11.02ms
     90%   14.16ms
     99%   21.92ms
  71498 requests in 10.01s, 30.27MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:   7143.07
Transfer/sec:      3.02MB
";

    #[test]
    fn wrk_reports_are_read_with_their_failures() {
        let load = parse_wrk(WRK_REPORT).unwrap();
        assert_eq!(load.answered, 71_498 - 15);
        assert_eq!(load.failed, 15);
        assert_eq!(load.p50, Duration::from_micros(8_460));
        assert_eq!(load.p99, Duration::from_micros(21_920));
        assert!((load.per_second - 71_483.0 / 10.01).abs() < 1e-6);
        assert!(parse_wrk("Running 10s test").is_err());
    }

    #[test]
    fn wrk_durations_carry_their_unit() {
        assert_eq!(duration("812.00us").unwrap(), Duration::from_micros(812));
        assert_eq!(duration("2.00s").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1.50m").unwrap(), Duration::from_secs(90));
        assert!(duration("12").is_err());
    }

    #[test]
    fn the_targets_are_issue_12s() {
        let load = |per_second, p99| Load {
            per_second,
            p50: Duration::ZERO,
            p99: Duration::from_millis(p99),
            answered: 1,
            failed: 0,
        };
        let figures = |full: Load| RatioFigures {
            client: String::new(),
            bare: load(10_000.0, 5),
            full,
        };
        assert!(figures(load(3_500.0, 50)).meets_targets());
        assert!(!figures(load(3_499.0, 50)).meets_targets());
        assert!(!figures(load(3_500.0, 51)).meets_targets());
    }
}
