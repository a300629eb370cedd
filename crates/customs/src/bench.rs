//! `customs bench`: lodging throughput and latency on a fresh data folder, in stages: through the
//! clearance service in-process, over HTTP on loopback, and the raw SQLite floor of the same rows;
//! the duty and tax assessment of the same declarations by the pure `tariff` engine; and their
//! selection into lanes by the pure `risk` engine against 10,000 generated active rules.
//!
//! Lodgings are assessed at acceptance, as in production: before the lodging stages, a synthetic
//! tariff release covering every commodity code of the declarations and an exchange-rate table of
//! their currencies are imported and activated through the service, as an administrator would.
//!
//! The synthetic declarations are generated before any stage (not timed) from a seed, so two runs
//! with the same seed lodge the same documents. Every lodging must be accepted: a refusal, an
//! error or an unexpected status is counted and shown, never dropped. At the end the audit chain of
//! the bench store is verified and its declarations counted, so the figures also prove that every
//! acknowledged lodging is in the store.
//!
//! A stage is one function returning a [`StageReport`]; adding one is adding it to [`STAGES`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches};
use clearance::releases::{NewRelease, ReleaseKind};
use clearance::{Caller, Clearance, ClearanceConfig, Role};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::json;
use sha2::{Digest, Sha256};
use store::{ReleaseFileRow, Store};
use store_sqlite::{SqliteOptions, SqliteStore};
use tokio::task::JoinSet;

use crate::datadir::DataDir;

// Declared here rather than in main.rs: the generator exists for the benchmark.
#[path = "synth.rs"]
pub mod synth;

#[path = "bench_ratio.rs"]
mod ratio;

#[path = "bench_postgres.rs"]
mod postgres;

#[path = "bench_wco.rs"]
mod wco_stage;

#[path = "bench_edifact.rs"]
mod edifact_stage;

#[path = "bench_ceb.rs"]
mod ceb_stage;

use synth::{Synth, SynthParty};

/// Traders, each with a declarant user lodging for itself.
const TRADERS: usize = 20;
/// Customs brokers, each lodging for a few traders that authorised it.
const BROKERS: usize = 5;
const PRINCIPALS_PER_BROKER: usize = 5;
/// Share of declarations lodged by brokers rather than by the traders themselves.
const BROKER_SHARE: f64 = 0.3;
/// Rows per transaction of the SQLite floor: the store's production batch size.
const FLOOR_BATCH_ROWS: usize = 64;
/// The HTTP stage measures the service, not the per-client throttle (20/s by default), so the
/// limit is raised far above what any client here can send.
const BENCH_REQUESTS_PER_SECOND_PER_CLIENT: u32 = 1_000_000;
/// Failure messages kept per stage; the count is always complete.
const FAILURE_EXAMPLES_MAX: usize = 5;

/// How long the HTTP server may take to finish after the last client is done.
const SERVER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct BenchOptions {
    /// Declarations lodged in each stage.
    #[arg(long, default_value_t = 20_000)]
    pub declarations: usize,
    /// Concurrent clients: tasks in-process, HTTP clients with a connection each over loopback.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seed of the synthetic parties and declarations.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stages to run, in this order: inprocess, assessment, targeting, scoring, http, http-wco (the
    /// same declarations lodged over HTTP as WCO XML, next to http's JSON), http-edifact (the same
    /// lodgings as CUSDEC interchanges, `application/edifact`), ceb-inprocess and ceb-http (the
    /// Singles' Day stages: as many cross-border e-commerce parcels, each an order, payment,
    /// waybill and inventory list signed by its sender, through `receive_ceb` and over
    /// `POST /v1/ceb/messages`; not in the default list), sqlite-floor,
    /// console (the web console's pages on the store as the earlier stages left it: with a kept
    /// `--data` folder, fill it once, e.g. `--stages inprocess --declarations 1000000`, then
    /// `--stages console`), http-ratio (a bare axum handler parsing the same JSON, then the full
    /// lodging path, each loaded `--ratio-seconds` by wrk when on PATH, and their ratio).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "inprocess,assessment,targeting,scoring,http,http-wco,http-edifact,sqlite-floor"
    )]
    pub stages: Vec<String>,
    /// Seconds each server of the http-ratio stage is loaded for (wrk's -d).
    #[arg(long, default_value_t = 10)]
    pub ratio_seconds: u64,
    /// PostgreSQL server for the postgres-1 and postgres-2 stages, as a URL whose user may
    /// create databases (e.g. postgres://postgres@127.0.0.1:5432/test): each stage lodges into a
    /// fresh database of its own there, dropped afterwards.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Data folder of the bench store, kept afterwards. Only when given on the command line
    /// (CUSTOMS_DATA is ignored): by default a fresh temporary folder, deleted afterwards, so that
    /// a benchmark never writes synthetic declarations into a real store.
    /// Text, like the global `--data` it shares its name with (clap keeps one value per name, of
    /// one type).
    #[arg(long)]
    pub data: Option<String>,
}

/// The options, and whether `--data` was given on this command line. `--data` is also the global
/// option of every command, with a default and an environment variable; only its source tells
/// an explicit folder from the default one.
pub struct BenchArgs {
    options: BenchOptions,
    data_given: bool,
}

impl FromArgMatches for BenchArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let options = BenchOptions::from_arg_matches(matches)?;
        let data_given = matches.value_source("data") == Some(ValueSource::CommandLine);
        Ok(BenchArgs {
            options,
            data_given,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = BenchArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for BenchArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        BenchOptions::augment_args(command)
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        BenchOptions::augment_args_for_update(command)
    }
}

/// What one stage measured. Latencies are per lodging (per request), sorted ascending.
pub struct StageReport {
    pub name: &'static str,
    pub declarations: usize,
    /// Goods items of the declarations lodged without failure.
    pub goods_items: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    pub failures: usize,
    pub failure_examples: Vec<String>,
    /// Declarations this stage added to the bench store; the audit check adds them up.
    pub stored: usize,
    /// How to read the figures, printed under the table.
    pub note: Option<String>,
    /// The assessments at acceptance of a lodging stage's declarations, counted in the store.
    pub assessments: Option<AssessmentTally>,
    /// The http-ratio stage's side-by-side figures.
    pub ratio: Option<ratio::RatioFigures>,
}

type StageFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<StageReport>> + 'a>>;

/// A named stage. The order here is the order they run in.
pub struct Stage {
    pub name: &'static str,
    pub run: for<'a> fn(&'a Bench) -> StageFuture<'a>,
}

pub const STAGES: &[Stage] = &[
    Stage {
        name: "inprocess",
        run: |bench| Box::pin(inprocess(bench)),
    },
    Stage {
        name: "assessment",
        run: |bench| Box::pin(assessment(bench)),
    },
    Stage {
        name: "targeting",
        run: |bench| Box::pin(targeting(bench)),
    },
    Stage {
        name: "scoring",
        run: |bench| Box::pin(scoring(bench)),
    },
    Stage {
        name: "http",
        run: |bench| Box::pin(http(bench)),
    },
    Stage {
        name: wco_stage::STAGE,
        run: |bench| Box::pin(wco_stage::http_wco(bench)),
    },
    Stage {
        name: "http-edifact",
        run: |bench| Box::pin(edifact_stage::http_edifact(bench)),
    },
    Stage {
        name: ceb_stage::INPROCESS,
        run: |bench| Box::pin(ceb_stage::inprocess(bench)),
    },
    Stage {
        name: ceb_stage::HTTP,
        run: |bench| Box::pin(ceb_stage::http(bench)),
    },
    Stage {
        name: "sqlite-floor",
        run: |bench| Box::pin(sqlite_floor(bench)),
    },
    Stage {
        name: "console",
        run: |bench| Box::pin(console(bench)),
    },
    Stage {
        name: "http-ratio",
        run: |bench| Box::pin(ratio::http_ratio(bench)),
    },
    Stage {
        name: "postgres-1",
        run: |bench| Box::pin(postgres::instances(bench, 1)),
    },
    Stage {
        name: "postgres-2",
        run: |bench| Box::pin(postgres::instances(bench, 2)),
    },
];

/// The stages that lodge through `Clearance`, so assess at acceptance.
const LODGING_STAGES: &[&str] = &[
    "inprocess",
    "http",
    wco_stage::STAGE,
    "http-edifact",
    "http-ratio",
    ceb_stage::INPROCESS,
    ceb_stage::HTTP,
];

/// The stages that lodge into PostgreSQL databases of their own (generated lodgings, no
/// releases in the bench store).
const POSTGRES_STAGES: &[&str] = &["postgres-1", "postgres-2"];

/// Everything a stage needs: the clearance service on the bench store, who lodges, and what.
pub struct Bench {
    clearance: Arc<Clearance<SqliteStore>>,
    data: DataDir,
    lodgers: Arc<[Lodger]>,
    lodgings: Arc<[Lodging]>,
    clients: usize,
    /// How long the http-ratio stage loads each of its servers.
    ratio_seconds: u64,
    /// The seed of the declarations, also of the assessment stage's synthetic tariff.
    seed: u64,
    /// Makes this run's idempotency keys new even in a kept data folder.
    run_id: String,
    /// The releases the lodging stages assess with; `None` when no lodging stage runs.
    releases: Option<BenchReleases>,
    /// The service's configuration, for the stores the postgres stages open.
    config: ClearanceConfig,
    /// `--postgres`: where the postgres stages make their databases.
    postgres: Option<String>,
    /// The CEB stages' enterprises, registered by the first of them.
    ceb: tokio::sync::OnceCell<ceb_stage::CebSetup>,
}

/// A declarant or broker user and its bearer token.
struct Lodger {
    caller: Caller,
    authorization: HeaderValue,
}

/// One pre-generated declaration and who lodges it.
struct Lodging {
    lodger: usize,
    body: Bytes,
    goods_items: usize,
}

impl Bench {
    fn idempotency_key(&self, stage: &str, index: usize) -> String {
        format!("bench-{}-{stage}-{index}", self.run_id)
    }

    fn goods_items(&self) -> usize {
        self.lodgings.iter().map(|l| l.goods_items).sum()
    }
}

pub async fn run(config: ClearanceConfig, args: BenchArgs) -> anyhow::Result<()> {
    let options = &args.options;
    let stages = selected_stages(&options.stages)?;
    if options.declarations == 0 || options.clients == 0 {
        bail!("--declarations and --clients must be at least 1");
    }
    if options.postgres.is_none() && stages.iter().any(|s| POSTGRES_STAGES.contains(&s.name)) {
        bail!(
            "the stages {} need --postgres URL: a PostgreSQL server where the bench may create \
             databases, e.g. postgres://postgres@127.0.0.1:5432/test",
            POSTGRES_STAGES.join(" and ")
        );
    }
    let folder = BenchFolder::new(
        options
            .data
            .as_deref()
            .map(std::path::Path::new)
            .filter(|_| args.data_given),
    )?;
    let data = DataDir::create(folder.path())?;
    let database = data.database();
    let bytes_before = checkpointed_bytes(&database)?;
    let clearance = data.open_clearance(SqliteOptions::production(), config.clone())?;
    let declarations_before = count_declarations(&data.database()).await?;
    let lodges = stages.iter().any(|s| LODGING_STAGES.contains(&s.name));
    let bench = prepare(clearance, data, options, lodges, config).await?;
    let reports = run_stages(&bench, &stages, options.json).await?;
    let accepted = reports.iter().map(|r| r.stored).sum();
    let audit = check_audit(&bench, declarations_before, accepted).await?;
    bench.clearance.store().close().await;
    let goods_items = bench.goods_items();
    drop(bench);
    let summary = Summary {
        options,
        goods_items,
        folder: folder.describe(),
        bytes: Some(StoredBytes {
            before: bytes_before,
            after: checkpointed_bytes(&database)?,
            declarations: audit.declarations_in_store,
        }),
    };
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&summary, &reports, &audit))?
        );
    } else {
        print_report(&summary, &reports, &audit);
    }
    folder.finish()?;
    verdict(&reports, &audit)
}

async fn run_stages(
    bench: &Bench,
    stages: &[&'static Stage],
    quiet: bool,
) -> anyhow::Result<Vec<StageReport>> {
    let mut reports = Vec::new();
    for stage in stages {
        progress(
            quiet,
            &format!(
                "stage {}: {} declarations",
                stage.name,
                bench.lodgings.len()
            ),
        );
        let report = (stage.run)(bench)
            .await
            .with_context(|| format!("stage {}", stage.name))?;
        reports.push(report);
    }
    Ok(reports)
}

fn selected_stages(names: &[String]) -> anyhow::Result<Vec<&'static Stage>> {
    let known = || STAGES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
    let mut selected = Vec::new();
    for name in names {
        let stage = STAGES.iter().find(|s| s.name == name.trim());
        let Some(stage) = stage else {
            bail!("unknown stage {name:?}: the stages are {}", known())
        };
        selected.push(stage);
    }
    if selected.is_empty() {
        bail!("no stage selected: the stages are {}", known());
    }
    Ok(selected)
}

/// Progress goes to stderr, and not at all with `--json`, so the report alone is on stdout.
fn progress(quiet: bool, line: &str) {
    if !quiet {
        eprintln!("{line}");
    }
}

/// Any failure or a store that does not add up makes the command fail, after the report.
fn verdict(reports: &[StageReport], audit: &AuditCheck) -> anyhow::Result<()> {
    let failures: usize = reports.iter().map(|r| r.failures).sum();
    if failures > 0 {
        bail!("{failures} lodging(s) failed; see the failures column and the examples above");
    }
    if let Some(fault) = &audit.fault {
        bail!("the audit chain of the bench store is broken: {fault}");
    }
    if audit.declarations_in_store != audit.declarations_accepted {
        bail!(
            "the bench store holds {} new declarations but {} were acknowledged",
            audit.declarations_in_store,
            audit.declarations_accepted
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The data folder.

/// The bench store's folder: the one given, kept; or a temporary one, deleted at the end.
struct BenchFolder {
    path: PathBuf,
    temporary: Option<tempfile::TempDir>,
}

impl BenchFolder {
    fn new(given: Option<&Path>) -> anyhow::Result<BenchFolder> {
        if let Some(path) = given {
            return Ok(BenchFolder {
                path: path.to_path_buf(),
                temporary: None,
            });
        }
        let temporary = tempfile::Builder::new()
            .prefix("customs-bench-")
            .tempdir()
            .context("creating a temporary folder")?;
        Ok(BenchFolder {
            path: temporary.path().to_path_buf(),
            temporary: Some(temporary),
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn describe(&self) -> String {
        let fate = if self.temporary.is_some() {
            "temporary, deleted afterwards"
        } else {
            "kept"
        };
        format!("{} ({fate})", self.path.display())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self.temporary {
            Some(temporary) => temporary
                .close()
                .context("deleting the temporary bench folder"),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding and generating (not timed).

async fn prepare(
    clearance: Arc<Clearance<SqliteStore>>,
    data: DataDir,
    options: &BenchOptions,
    lodges: bool,
    config: ClearanceConfig,
) -> anyhow::Result<Bench> {
    let mut synth = Synth::new(options.seed);
    let traders = synth.parties(TRADERS);
    let brokers = synth.brokers(BROKERS);
    progress(
        options.json,
        &format!("seeding {TRADERS} traders and {BROKERS} brokers with users and tokens"),
    );
    let lodgers = register(&clearance, &traders, &brokers).await?;
    progress(
        options.json,
        &format!(
            "generating {} declarations from seed {}",
            options.declarations, options.seed
        ),
    );
    let lodgings = generate(&mut synth, &traders, &brokers, options);
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let releases = if lodges {
        let releases = seed_releases(&clearance, &lodgings, options.seed, &run_id).await?;
        progress(
            options.json,
            &format!(
                "imported and activated tariff release {} ({} lines) and exchange-rate table {}, \
                 in force from {}",
                releases.tariff, releases.lines, releases.rates, releases.from
            ),
        );
        Some(releases)
    } else {
        None
    };
    Ok(Bench {
        clearance,
        data,
        lodgers: lodgers.into(),
        lodgings: lodgings.into(),
        clients: options.clients,
        ratio_seconds: options.ratio_seconds,
        seed: options.seed,
        run_id,
        releases,
        config,
        postgres: options.postgres.clone(),
        ceb: tokio::sync::OnceCell::new(),
    })
}

/// The tariff release and exchange-rate table the lodging stages assess with.
struct BenchReleases {
    tariff: String,
    lines: usize,
    rates: String,
    from: chrono::NaiveDate,
}

/// The synthetic tariff as a release: a line for every 8-digit line code the declarations use
/// (the first 8 digits of their 10-digit commodity codes), with [`synthetic_line`]'s rates, so
/// every shape of rate is in it. A line code takes the units of the first item declaring it.
fn synthetic_release(seed: u64, bodies: &[Option<serde_json::Value>]) -> tariff::TariffRelease {
    let mut lines = std::collections::BTreeMap::new();
    let items = bodies
        .iter()
        .flatten()
        .filter_map(|body| body["items"].as_array())
        .flatten();
    for item in items {
        let code = item["commodity_code"].as_str().unwrap_or_default();
        let (Some(hs6), Some(line_code)) = (code.get(..6), code.get(..8)) else {
            continue;
        };
        let units = item_units(item);
        if !lines.contains_key(line_code) && !units.is_empty() {
            let mut line = synthetic_line(seed, hs6, units);
            line.code = line_code.to_owned();
            lines.insert(line_code.to_owned(), line);
        }
    }
    tariff::TariffRelease {
        lines: lines.into_values().map(Arc::new).collect(),
        exchange_rates: tariff::ExchangeRates::default(),
        origin_rules: tariff::origin_rules::OriginRules::default(),
    }
}

/// The months around `day`: a lodging near midnight or a month's end still finds its rate.
fn months_around(day: chrono::NaiveDate) -> [tariff::YearMonth; 3] {
    let this = tariff::YearMonth::of(day);
    let previous = match this.month {
        1 => tariff::YearMonth {
            year: this.year - 1,
            month: 12,
        },
        m => tariff::YearMonth {
            year: this.year,
            month: m - 1,
        },
    };
    let next = match this.month {
        12 => tariff::YearMonth {
            year: this.year + 1,
            month: 1,
        },
        m => tariff::YearMonth {
            year: this.year,
            month: m + 1,
        },
    };
    [previous, this, next]
}

/// The bench currencies' customs rates for the months around `day`.
fn bench_exchange_rates(day: chrono::NaiveDate) -> anyhow::Result<tariff::ExchangeRates> {
    let mut rates = Vec::new();
    for month in months_around(day) {
        for (currency, rate) in ASSESSMENT_EXCHANGE_RATES {
            rates.push(tariff::ExchangeRate::new(
                *currency,
                month,
                rate.parse::<Decimal>()?,
            )?);
        }
    }
    Ok(tariff::ExchangeRates::new(rates))
}

/// Renders the synthetic tariff release and the rate table with `tariff::render_release`, then
/// imports and activates both through the service as the administrator, in force from the day
/// before the lodging date. Each file starts with a comment naming this run, so a kept data
/// folder benched again imports new releases (the same files twice are refused) and the latest
/// activation is in force.
async fn seed_releases<S: Store>(
    clearance: &Clearance<S>,
    lodgings: &[Lodging],
    seed: u64,
    run_id: &str,
) -> anyhow::Result<BenchReleases> {
    let mut bodies: Vec<Option<serde_json::Value>> = lodgings
        .iter()
        .map(|l| serde_json::from_slice(&l.body).ok())
        .collect();
    // The CEB stages' goods are in the release too.
    bodies.push(Some(ceb_stage::release_body()));
    let release = synthetic_release(seed, &bodies);
    let today = synth::today_in_china();
    let from = today.pred_opt().context("the day before today")?;
    let rendered = tariff::render_release(&release);
    let rates = tariff::render_exchange_rates(&bench_exchange_rates(today)?);
    let stamp = format!("# customs bench run {run_id}, seed {seed}\n");
    let file = |name: &str, text: &str| ReleaseFileRow {
        name: name.to_owned(),
        text: format!("{stamp}{text}"),
    };
    let tariff_files = vec![
        file("lines.csv", &rendered.lines),
        file("duty_rates.csv", &rendered.duty_rates),
        file("consumption_tax.csv", &rendered.consumption_tax),
        file("trade_remedies.csv", &rendered.trade_remedies),
    ];
    let rate_files = vec![file("exchange_rates.csv", &rates)];
    let admin = crate::show::operator();
    let mut ids = Vec::new();
    for (kind, files) in [
        (ReleaseKind::Tariff, tariff_files),
        (ReleaseKind::ExchangeRates, rate_files),
    ] {
        let label = format!("synthetic {} of customs bench seed {seed}", kind.as_str());
        let imported = clearance
            .import_release(&admin, NewRelease { kind, label, files })
            .await
            .map_err(crate::show::explain)
            .with_context(|| format!("importing the bench's {} release", kind.as_str()))?;
        let id = imported["id"]
            .as_str()
            .context("an imported release has an id")?
            .to_owned();
        clearance
            .activate_release(&admin, &id, from)
            .await
            .map_err(crate::show::explain)
            .with_context(|| format!("activating release {id}"))?;
        ids.push(id);
    }
    let [tariff, rates] = <[String; 2]>::try_from(ids).expect("two releases");
    Ok(BenchReleases {
        tariff,
        lines: release.lines.len(),
        rates,
        from,
    })
}

/// The traders this broker declares for: a window of the traders, overlapping the next
/// broker's by one, so some traders have two brokers.
fn principals_of(broker: usize) -> impl Iterator<Item = usize> {
    (0..PRINCIPALS_PER_BROKER).map(move |offset| (broker * (TRADERS / BROKERS) + offset) % TRADERS)
}

/// Registers the enterprises, broker authorisations, users and tokens, the way an administrator
/// would; lodgers are the traders' declarants first, then the brokers.
async fn register<S: Store>(
    clearance: &Clearance<S>,
    traders: &[SynthParty],
    brokers: &[SynthParty],
) -> anyhow::Result<Vec<Lodger>> {
    // The bench's own throwaway store: its administration is the bench's.
    let actor = store::Actor {
        user_id: "bench".into(),
        role: Role::Admin.as_str().into(),
    };
    let explain = crate::show::explain;
    for party in traders.iter().chain(brokers) {
        clearance
            .create_enterprise(&actor, &party.credit_code, &party.customs_code, &party.name)
            .await
            .map_err(explain)?;
    }
    for (idx, broker) in brokers.iter().enumerate() {
        for principal in principals_of(idx) {
            clearance
                .authorise_broker(&actor, &broker.credit_code, &traders[principal].credit_code)
                .await
                .map_err(explain)?;
        }
    }
    let users = traders
        .iter()
        .map(|t| (t, Role::Declarant))
        .chain(brokers.iter().map(|b| (b, Role::Broker)));
    let mut lodgers = Vec::new();
    for (party, role) in users {
        // Named after the credit code, so a kept folder benched again with another seed does not
        // find a user of the same name belonging to another enterprise.
        let name = format!("bench-{}-{}", role.as_str(), party.credit_code);
        clearance
            .create_user(&actor, &name, role, Some(&party.credit_code))
            .await
            .map_err(explain)?;
        let token = clearance
            .issue_token(&actor, &name)
            .await
            .map_err(explain)?;
        let caller = clearance
            .authenticate(&token.token)
            .await
            .map_err(explain)?;
        let authorization = HeaderValue::from_str(&format!("Bearer {}", token.token))
            .context("a token is a header value")?;
        lodgers.push(Lodger {
            caller,
            authorization,
        });
    }
    Ok(lodgers)
}

/// The bodies, each with a lodger allowed to lodge it: a trader's declarant for itself, or a
/// broker for one of its principals.
fn generate(
    synth: &mut Synth,
    traders: &[SynthParty],
    brokers: &[SynthParty],
    options: &BenchOptions,
) -> Vec<Lodging> {
    // Who lodges is drawn apart from the bodies, so the bodies of a seed stay the same if the
    // share of brokers changes.
    let mut rng = StdRng::seed_from_u64(options.seed.rotate_left(32) ^ 0x6c6f_6467_6572);
    let principals: Vec<Vec<usize>> = (0..brokers.len())
        .map(|b| principals_of(b).collect())
        .collect();
    (0..options.declarations)
        .map(|_| {
            let (lodger, trader, declarant) = if rng.gen_bool(BROKER_SHARE) {
                let broker = rng.gen_range(0..brokers.len());
                let trader = *principals[broker]
                    .choose(&mut rng)
                    .expect("every broker has principals");
                (traders.len() + broker, &traders[trader], &brokers[broker])
            } else {
                let trader = rng.gen_range(0..traders.len());
                (trader, &traders[trader], &traders[trader])
            };
            let body = synth.declaration(trader, declarant);
            let goods_items = body["items"].as_array().map_or(0, Vec::len);
            let body = serde_json::to_vec(&body).expect("a generated body serialises");
            Lodging {
                lodger,
                body: Bytes::from(body),
                goods_items,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Closed-loop clients.

/// One lodging as a client saw it.
struct Sample {
    index: usize,
    latency: Duration,
    outcome: Result<(), String>,
}

/// Runs `clients` closed-loop clients over lodgings `0..n`: each sends its next lodging as soon
/// as the previous one was answered, like a broker's system with one connection. `client` makes
/// one client's lodging function.
async fn run_clients<C, F, Fut>(
    clients: usize,
    n: usize,
    mut client: C,
) -> anyhow::Result<(Duration, Vec<Sample>)>
where
    C: FnMut() -> F,
    F: FnMut(usize) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..clients.min(n) {
        let (next, mut lodge) = (next.clone(), client());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= n {
                    return samples;
                }
                let sent = Instant::now();
                let outcome = lodge(index).await;
                samples.push(Sample {
                    index,
                    latency: sent.elapsed(),
                    outcome,
                });
            }
        });
    }
    let mut samples = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        samples.extend(joined.context("a bench client panicked")?);
    }
    Ok((started.elapsed(), samples))
}

/// A report from the samples of a lodging stage, whose accepted lodgings are all in the store.
fn lodging_report(
    bench: &Bench,
    name: &'static str,
    wall: Duration,
    samples: Vec<Sample>,
    note: Option<String>,
    assessments: Option<AssessmentTally>,
) -> StageReport {
    let mut latencies = Vec::with_capacity(samples.len());
    let (mut goods_items, mut failures, mut failure_examples) = (0, 0, Vec::new());
    for sample in &samples {
        latencies.push(sample.latency);
        match &sample.outcome {
            Ok(()) => goods_items += bench.lodgings[sample.index].goods_items,
            Err(message) => {
                failures += 1;
                if failure_examples.len() < FAILURE_EXAMPLES_MAX {
                    failure_examples.push(format!("#{}: {message}", sample.index));
                }
            }
        }
    }
    latencies.sort_unstable();
    let declarations = samples.len();
    StageReport {
        name,
        declarations,
        goods_items,
        wall,
        latencies,
        failures,
        failure_examples,
        stored: declarations - failures,
        note,
        assessments,
        ratio: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Stages.

/// Lodgings straight through `Clearance::lodge`: parse, rules, authority, number, assessment at
/// acceptance, durable append.
async fn inprocess(bench: &Bench) -> anyhow::Result<StageReport> {
    let database = bench.data.database();
    let before = last_seq(&database).await?;
    let commits_before = bench.clearance.store().operational_stats().await?;
    let shared = Arc::new(InProcess {
        clearance: bench.clearance.clone(),
        lodgers: bench.lodgers.clone(),
        lodgings: bench.lodgings.clone(),
        keys: (0..bench.lodgings.len())
            .map(|i| bench.idempotency_key("inprocess", i))
            .collect(),
    });
    let client = || {
        let shared = shared.clone();
        move |index: usize| {
            let shared = shared.clone();
            async move { shared.lodge(index).await }
        }
    };
    let (wall, samples) = run_clients(bench.clients, bench.lodgings.len(), client).await?;
    let accepted = samples.iter().filter(|s| s.outcome.is_ok()).count();
    let tally = assessments_since(&database, before).await?;
    let commits_after = bench.clearance.store().operational_stats().await?;
    let note = format!(
        "{}\n{}",
        assessment_note(bench, "inprocess", accepted, &tally),
        group_commit_note("inprocess", &commits_before, &commits_after)
    );
    Ok(lodging_report(
        bench,
        "inprocess",
        wall,
        samples,
        Some(note),
        Some(tally),
    ))
}

/// The writer's group commits during a stage: how many, how many requests each on average, and
/// the mean commit time (fsync included). Small groups mean every commit rewrites the same hot
/// index pages into the WAL, which is where a lodging's write amplification comes from.
fn group_commit_note(
    stage: &str,
    before: &store::OperationalStats,
    after: &store::OperationalStats,
) -> String {
    let commits = after
        .commit_batch_sizes
        .count
        .saturating_sub(before.commit_batch_sizes.count);
    let requests = after.commit_batch_sizes.sum - before.commit_batch_sizes.sum;
    let seconds = after.commit_seconds.sum - before.commit_seconds.sum;
    if commits == 0 {
        return format!("{stage}: no group commit");
    }
    format!(
        "{stage}: {commits} group commits, {:.1} requests each on average, {:.2} ms each (fsync included)",
        requests / commits as f64,
        seconds * 1000.0 / commits as f64
    )
}

/// What the in-process clients share.
struct InProcess {
    clearance: Arc<Clearance<SqliteStore>>,
    lodgers: Arc<[Lodger]>,
    lodgings: Arc<[Lodging]>,
    keys: Vec<String>,
}

impl InProcess {
    async fn lodge(&self, index: usize) -> Result<(), String> {
        let lodging = &self.lodgings[index];
        let caller = &self.lodgers[lodging.lodger].caller;
        match self
            .clearance
            .lodge(caller, Some(&self.keys[index]), &lodging.body)
            .await
        {
            Ok(view) if view.created => Ok(()),
            Ok(view) => Err(format!("answered as a replay of {}", view.number)),
            Err(error) => Err(first_line(&crate::show::explain(error).to_string())),
        }
    }
}

/// The same lodgings (with new idempotency keys, so new declarations) POSTed to the API served in
/// this process on loopback.
async fn http(bench: &Bench) -> anyhow::Result<StageReport> {
    let production = http_api::ApiConfig::production();
    let database = bench.data.database();
    let before = last_seq(&database).await?;
    let server = ApiServer::start(bench).await?;
    let posted = post_lodgings(bench, &server.url).await;
    server.stop().await?;
    let (wall, samples) = posted?;
    let accepted = samples.iter().filter(|s| s.outcome.is_ok()).count();
    let tally = assessments_since(&database, before).await?;
    let note = format!(
        "http: per-client rate limit raised from {}/s (burst {}) to {BENCH_REQUESTS_PER_SECOND_PER_CLIENT}/s \
         so that it does not throttle the bench; {} bearer tokens; clients and server share this \
         machine's {} cores\n{}",
        production.requests_per_second_per_client,
        production.burst_per_client,
        bench.lodgers.len(),
        cores(),
        assessment_note(bench, "http", accepted, &tally),
    );
    Ok(lodging_report(
        bench,
        "http",
        wall,
        samples,
        Some(note),
        Some(tally),
    ))
}

/// The assessments at acceptance recorded in the store during a lodging stage.
#[derive(Debug, Clone, Default)]
pub struct AssessmentTally {
    /// `declaration.assessed` events with outcome `assessed`.
    pub assessed: usize,
    /// ... with outcome `not_assessed` (the declaration waits for an officer).
    pub not_assessed: usize,
    /// The most frequent first problems of the `not_assessed` ones: path, count, an example.
    pub reasons: Vec<(String, usize, String)>,
}

/// Most frequent reasons for `not_assessed` shown in a note.
const NOT_ASSESSED_REASONS_SHOWN: usize = 3;

/// The last event's seq of the bench store, read on a connection of its own.
async fn last_seq(database: &Path) -> anyhow::Result<i64> {
    let database = database.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = read_only(&database)?;
        Ok(
            conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
                row.get(0)
            })?,
        )
    })
    .await?
}

/// Counts the `declaration.assessed` events after event `after`, by outcome, on a read-only
/// connection of its own once the stage is over: nothing is read while lodgings are timed.
async fn assessments_since(database: &Path, after: i64) -> anyhow::Result<AssessmentTally> {
    let database = database.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = read_only(&database)?;
        let mut tally = AssessmentTally::default();
        let mut outcomes = conn.prepare(
            "SELECT json_extract(payload, '$.outcome'), count(*) FROM events \
             WHERE seq > ?1 AND action = 'declaration.assessed' GROUP BY 1",
        )?;
        let rows = outcomes.query_map([after], |row| {
            Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (outcome, count) = row?;
            let count = usize::try_from(count)?;
            match outcome.as_deref() {
                Some("assessed") => tally.assessed += count,
                Some("not_assessed") => tally.not_assessed += count,
                other => bail!("an assessment with outcome {other:?}"),
            }
        }
        let mut reasons = conn.prepare(
            "SELECT coalesce(json_extract(payload, '$.problems[0].path'), ''), count(*), \
             coalesce(min(json_extract(payload, '$.problems[0].en')), '') FROM events \
             WHERE seq > ?1 AND action = 'declaration.assessed' \
             AND json_extract(payload, '$.outcome') = 'not_assessed' \
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?2",
        )?;
        let rows = reasons.query_map(
            rusqlite::params![after, NOT_ASSESSED_REASONS_SHOWN as i64],
            |row| Ok((row.get(0)?, row.get::<_, i64>(1)?, row.get(2)?)),
        )?;
        for row in rows {
            let (path, count, example) = row?;
            tally.reasons.push((path, usize::try_from(count)?, example));
        }
        Ok(tally)
    })
    .await?
}

fn read_only(database: &Path) -> anyhow::Result<rusqlite::Connection> {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    rusqlite::Connection::open_with_flags(database, flags)
        .with_context(|| format!("opening {} read-only", database.display()))
}

/// How a lodging stage's declarations were assessed at acceptance, and with what.
fn assessment_note(bench: &Bench, stage: &str, accepted: usize, tally: &AssessmentTally) -> String {
    let with = match &bench.releases {
        Some(r) => format!(
            "tariff release {} ({} synthetic lines) and exchange-rate table {}, in force from {}",
            r.tariff, r.lines, r.rates, r.from
        ),
        None => "no release of the bench".into(),
    };
    let not_assessed_kind = accepted.saturating_sub(tally.assessed + tally.not_assessed);
    let mut note = format!(
        "{stage}: every lodging assessed at acceptance in its transaction, as in production, with \
         {with}: {} assessed, {} not_assessed, {not_assessed_kind} without assessment (exports, \
         summary declarations) of {accepted} accepted; counted from the store's \
         declaration.assessed events after the stage (read-only query, not timed)",
        tally.assessed, tally.not_assessed
    );
    for (path, count, example) in &tally.reasons {
        note.push_str(&format!("\n  not_assessed {count}× at '{path}': {example}"));
    }
    note
}

/// The API on the bench store, served on a loopback port by this process.
struct ApiServer {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl ApiServer {
    async fn start(bench: &Bench) -> anyhow::Result<ApiServer> {
        ApiServer::serving(bench.clearance.clone(), bench.clients).await
    }

    /// The API on `clearance` (any store), with room for `clients` connections.
    async fn serving<S: Store + Clone + 'static>(
        clearance: Arc<Clearance<S>>,
        clients: usize,
    ) -> anyhow::Result<ApiServer> {
        let mut config = http_api::ApiConfig::production();
        config.requests_per_second_per_client = BENCH_REQUESTS_PER_SECOND_PER_CLIENT;
        config.burst_per_client = BENCH_REQUESTS_PER_SECOND_PER_CLIENT;
        // Every bench client may lodge for the same broker at once.
        config.trade_requests_in_progress_max = config.trade_requests_in_progress_max.max(clients);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let url = format!("http://{}/v1/declarations", listener.local_addr()?);
        // Served as `customs serve` serves it, with room for every bench client's connection.
        let app = http_api::router(clearance, config);
        let mut limits = http_api::ConnectionLimits::production();
        limits.connections_per_address_max = limits.connections_per_address_max.max(clients);
        limits.connections_max = limits.connections_max.max(clients);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(http_api::serve(listener, app, limits, async move {
            stopped.await.unwrap_or(())
        }));
        Ok(ApiServer { url, stop, task })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(SERVER_SHUTDOWN_TIMEOUT, self.task)
            .await
            .context("the HTTP server did not stop")?
            .context("the HTTP server panicked")?
            .context("serving HTTP")
    }
}

async fn post_lodgings(bench: &Bench, url: &str) -> anyhow::Result<(Duration, Vec<Sample>)> {
    post_lodgings_to(bench, "http", &[url.to_owned()], bench.lodgers.clone()).await
}

/// The bench's lodgings POSTed by its clients as `lodgers`, lodging `i` to `urls[i % n]` (the
/// instances in turn, as a round-robin balancer sends them), with the keys of `stage`.
async fn post_lodgings_to(
    bench: &Bench,
    stage: &str,
    urls: &[String],
    lodgers: Arc<[Lodger]>,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    let keys = (0..bench.lodgings.len())
        .map(|i| {
            HeaderValue::from_str(&bench.idempotency_key(stage, i))
                .context("a key is a header value")
        })
        .collect::<anyhow::Result<_>>()?;
    let shared = Arc::new(OverHttp {
        urls: urls.to_vec(),
        lodgers,
        lodgings: bench.lodgings.clone(),
        keys,
    });
    let mut https = (0..bench.clients)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter();
    let client = || {
        let (shared, http) = (
            shared.clone(),
            https.next().expect("one HTTP client per bench client"),
        );
        move |index: usize| {
            let request = shared.request(&http, index);
            async move { post(request).await }
        }
    };
    run_clients(bench.clients, bench.lodgings.len(), client).await
}

/// What the HTTP clients share.
struct OverHttp {
    /// The instances' lodging URLs, taken in turn.
    urls: Vec<String>,
    lodgers: Arc<[Lodger]>,
    lodgings: Arc<[Lodging]>,
    keys: Vec<HeaderValue>,
}

impl OverHttp {
    fn request(&self, http: &reqwest::Client, index: usize) -> reqwest::RequestBuilder {
        let lodging = &self.lodgings[index];
        http.post(&self.urls[index % self.urls.len()])
            .header(
                header::AUTHORIZATION,
                self.lodgers[lodging.lodger].authorization.clone(),
            )
            .header("idempotency-key", self.keys[index].clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(lodging.body.clone())
    }
}

/// One keep-alive connection per client, never through a proxy (loopback is measured, not a proxy).
fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()
        .context("building an HTTP client")
}

/// Anything but 201 Created is a failure, reported with the status and the start of the problem.
async fn post(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    // The body is read either way: the connection is reused only after it.
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{status}, reading the answer failed: {e}"))?;
    if status == StatusCode::CREATED {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&body);
    Err(format!(
        "{status}: {}",
        text.chars().take(300).collect::<String>()
    ))
}

/// The raw floor: the same bodies inserted with rusqlite into a fresh file with the store's
/// durability settings and a table shaped like its events table, 64 rows per transaction. No
/// parsing, no rules, no HTTP: what any lodging path on this disk can at best approach.
async fn sqlite_floor(bench: &Bench) -> anyhow::Result<StageReport> {
    let path = bench.data.path.join("sqlite-floor.db");
    let lodgings = bench.lodgings.clone();
    let (wall, latencies) =
        tokio::task::spawn_blocking(move || insert_floor(&path, &lodgings)).await??;
    let note = format!(
        "sqlite-floor: {FLOOR_BATCH_ROWS} rows per transaction, WAL + synchronous=FULL, one thread; \
         a row's latency is the time of its transaction"
    );
    let declarations = latencies.len();
    Ok(StageReport {
        name: "sqlite-floor",
        declarations,
        goods_items: bench.goods_items(),
        wall,
        latencies,
        failures: 0,
        failure_examples: Vec::new(),
        stored: 0,
        note: Some(note),
        assessments: None,
        ratio: None,
    })
}

/// The store's events table (crates/store-sqlite/migrations/0001_initial.sql) with its indexes.
const FLOOR_SCHEMA: &str = "
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        action TEXT NOT NULL,
        actor_user TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        recorded_at_ms BIGINT NOT NULL,
        idempotency_scope TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        request_digest TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        entry_hash BLOB NOT NULL,
        UNIQUE (idempotency_scope, idempotency_key)
    );
    CREATE INDEX events_by_subject ON events (subject, seq);";

const FLOOR_INSERT: &str = "INSERT INTO events (seq, subject, action, actor_user, actor_role, recorded_at_ms, \
     idempotency_scope, idempotency_key, request_digest, payload, prev_hash, entry_hash) \
     VALUES (?1, ?2, 'declaration.accepted', 'bench', 'declarant', ?3, 'bench', ?4, ?5, ?6, ?7, ?8)";

fn insert_floor(path: &Path, lodgings: &[Lodging]) -> anyhow::Result<(Duration, Vec<Duration>)> {
    for stale in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", path.display()));
    }
    // Private like every file of the data folder (SQLite's WAL and shm take the file's mode).
    crate::datadir::write_private_file(path, b"")?;
    let mut conn =
        rusqlite::Connection::open(path).with_context(|| format!("creating {}", path.display()))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("{} cannot use WAL (journal mode is {mode})", path.display());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(FLOOR_SCHEMA)?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(lodgings.len());
    let mut head = [0u8; 32];
    for (batch, rows) in lodgings.chunks(FLOOR_BATCH_ROWS).enumerate() {
        let batch_started = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(FLOOR_INSERT)?;
            for (offset, lodging) in rows.iter().enumerate() {
                let seq = (batch * FLOOR_BATCH_ROWS + offset + 1) as i64;
                let payload =
                    std::str::from_utf8(&lodging.body).context("a generated body is UTF-8")?;
                let prev = head;
                head = Sha256::new()
                    .chain_update(prev)
                    .chain_update(seq.to_be_bytes())
                    .chain_update(payload)
                    .finalize()
                    .into();
                let digest = hex::encode(Sha256::digest(payload));
                let subject = uuid::Uuid::now_v7().to_string();
                let now_ms = chrono::Utc::now().timestamp_millis();
                insert.execute(rusqlite::params![
                    seq,
                    subject,
                    now_ms,
                    format!("floor-{seq}"),
                    digest,
                    payload,
                    prev,
                    head
                ])?;
            }
        }
        tx.commit()?;
        latencies.extend(std::iter::repeat_n(batch_started.elapsed(), rows.len()));
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    Ok((wall, latencies))
}

// ---------------------------------------------------------------------------------------------
// The assessment stage.

/// The issue's target for the assessment engine on one core.
const ASSESSMENT_TARGET_ITEMS_PER_SECOND: f64 = 200_000.0;

/// Customs exchange rates of the synthetic invoice currencies, CNY per unit to 4 decimals: the
/// round rates of synth.rs's currency table (7.2 CNY per US dollar). CNY needs none. A currency
/// missing here is an assessment error, counted as a failure.
const ASSESSMENT_EXCHANGE_RATES: &[(&str, &str)] = &[
    ("USD", "7.2000"),
    ("EUR", "7.8261"),
    ("JPY", "0.0480"),
    ("KRW", "0.0053"),
    ("GBP", "9.1139"),
];

/// Trade agreements of the synthetic tariff's conventional columns, with their partners.
const ASSESSMENT_AGREEMENTS: &[(&str, &[&str])] = &[
    (
        "RCEP",
        &["AU", "ID", "JP", "KR", "MY", "NZ", "SG", "TH", "VN"],
    ),
    ("CHFTA", &["CH"]),
    ("CCFTA", &["CL"]),
];

/// Consumption tax of the synthetic tariff, by heading (chapters 22, 33 and 87).
fn synthetic_consumption_tax(hs6: &str) -> Option<tariff::DutyRate> {
    let percent = |p: i64| tariff::Rate::percent(Decimal::from(p));
    let litre = || tariff::StatutoryUnit("LTR".into());
    Some(match &hs6[..4] {
        "2203" => tariff::DutyRate::Specific {
            amount_per_unit: Decimal::new(25, 2),
            unit: litre(),
        },
        "2204" => tariff::DutyRate::AdValorem { rate: percent(10) },
        "2208" => tariff::DutyRate::Compound {
            rate: percent(20),
            amount_per_unit: Decimal::ONE,
            unit: litre(),
        },
        "3304" => tariff::DutyRate::AdValorem { rate: percent(15) },
        "8703" if hs6 != "870380" => tariff::DutyRate::AdValorem { rate: percent(9) },
        "8711" => tariff::DutyRate::AdValorem { rate: percent(3) },
        _ => return None,
    })
}

/// A specific amount per unit, in CNY, in a range that suits the unit.
fn synthetic_amount_per_unit(rng: &mut StdRng, unit: &tariff::StatutoryUnit) -> Decimal {
    let cents = match unit.0.as_str() {
        "KGM" => rng.gen_range(5..=300),
        "LTR" => rng.gen_range(20..=500),
        "C62" => rng.gen_range(100..=5_000),
        "PR" => rng.gen_range(100..=2_000),
        "GRM" => rng.gen_range(1..=10),
        _ => rng.gen_range(10..=1_000),
    };
    Decimal::new(cents, 2)
}

/// One national line for an HS subheading, code HS6 + "00", drawn from the seed and the subheading
/// alone (so a subheading gets the same line whatever else the run declares): an MFN rate, ad
/// valorem (60 %), specific (20 %) or compound (20 %); a general rate; now and then a provisional
/// rate and conventional rates; VAT 9 % for farm and food goods (chapters 1 to 15) and natural
/// gas, else 13 %; consumption tax on a few headings; licences A|B (inspection and quarantine)
/// on chapters 1 to 24. `units` are the statutory units the items
/// declare; specific rates use the first or kilograms, which every synthetic item declares.
fn synthetic_line(seed: u64, hs6: &str, units: Vec<tariff::StatutoryUnit>) -> tariff::TariffLine {
    use tariff::{ColumnRate, DatedRate, DutyRate, Rate, RateColumn, StatutoryUnit, Validity};
    let subheading: u64 = hs6.parse().unwrap_or_default();
    let mut rng = StdRng::seed_from_u64(
        seed.rotate_left(17) ^ subheading.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let since = Validity::from(chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date"));
    let percent = |halves: i64| Rate::percent(Decimal::new(halves * 5, 1));
    let specific_unit = if rng.gen_bool(0.5) {
        units[0].clone()
    } else {
        StatutoryUnit("KGM".into())
    };
    // Ad valorem rates in half percents: 0 to 30 %.
    let mfn_halves = rng.gen_range(0..=60);
    let shape = rng.gen_range(0..10);
    let shaped = |halves: i64, amount: Decimal| match shape {
        0..6 => DutyRate::AdValorem {
            rate: percent(halves),
        },
        6..8 => DutyRate::Specific {
            amount_per_unit: amount,
            unit: specific_unit.clone(),
        },
        _ => DutyRate::Compound {
            rate: percent(halves / 2),
            amount_per_unit: amount / Decimal::TWO,
            unit: specific_unit.clone(),
        },
    };
    let mfn_amount = synthetic_amount_per_unit(&mut rng, &specific_unit);
    let column = |column: RateColumn, partners: &[&str], rate: DutyRate| ColumnRate {
        column,
        partners: partners.iter().map(|p| (*p).to_owned()).collect(),
        validity: since,
        rate,
    };
    let mut columns = vec![
        column(RateColumn::Mfn, &[], shaped(mfn_halves, mfn_amount)),
        column(
            RateColumn::General,
            &[],
            shaped(mfn_halves * 3 + 40, mfn_amount * Decimal::from(3)),
        ),
    ];
    if rng.gen_bool(0.3) {
        let halves = rng.gen_range(0..=mfn_halves);
        let rate = DutyRate::AdValorem {
            rate: percent(halves),
        };
        columns.push(column(RateColumn::Provisional, &[], rate));
    }
    if rng.gen_bool(0.5) {
        for (agreement, partners) in ASSESSMENT_AGREEMENTS {
            let share = Decimal::new(rng.gen_range(0..=8), 1);
            let halves = rng.gen_range(0..=mfn_halves);
            let column_name = RateColumn::Conventional {
                agreement: (*agreement).to_owned(),
            };
            columns.push(column(
                column_name,
                partners,
                shaped(halves, (mfn_amount * share).round_dp(2)),
            ));
        }
    }
    let chapter: u32 = hs6[..2].parse().unwrap_or_default();
    let vat = if chapter <= 15 || hs6.starts_with("2711") {
        9
    } else {
        13
    };
    tariff::TariffLine {
        code: format!("{hs6}00"),
        description: format!("synthetic line of subheading {hs6}"),
        statutory_units: units,
        // Food and farm goods (chapters 1 to 24) carry inspection and quarantine on entry and exit.
        licences: if chapter <= 24 {
            vec!["A".into(), "B".into()]
        } else {
            Vec::new()
        },
        columns,
        remedies: Vec::new(),
        vat: vec![DatedRate {
            validity: since,
            rate: Rate::percent(Decimal::from(vat)),
        }],
        consumption_tax: synthetic_consumption_tax(hs6)
            .map(|rate| DatedRate {
                validity: since,
                rate,
            })
            .into_iter()
            .collect(),
    }
}

/// The statutory units of a JSON goods item, in order.
fn item_units(item: &serde_json::Value) -> Vec<tariff::StatutoryUnit> {
    item["statutory_quantities"]
        .as_array()
        .map(|quantities| {
            quantities
                .iter()
                .filter_map(|q| q["unit"].as_str())
                .map(|u| tariff::StatutoryUnit(u.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The synthetic tariff, by HS subheading: a line for every subheading the declarations use.
fn synthetic_tariff(
    seed: u64,
    bodies: &[Option<serde_json::Value>],
) -> std::collections::BTreeMap<String, Arc<tariff::TariffLine>> {
    let mut tariff = std::collections::BTreeMap::new();
    let items = bodies
        .iter()
        .flatten()
        .filter_map(|body| body["items"].as_array())
        .flatten();
    for item in items {
        let Some(hs6) = item["commodity_code"].as_str().and_then(|c| c.get(..6)) else {
            continue;
        };
        let units = item_units(item);
        if !tariff.contains_key(hs6) && !units.is_empty() {
            tariff.insert(hs6.to_owned(), Arc::new(synthetic_line(seed, hs6, units)));
        }
    }
    tariff
}

fn exchange_rates(day: chrono::NaiveDate) -> anyhow::Result<tariff::ExchangeRates> {
    let month = tariff::YearMonth::of(day);
    let rates = ASSESSMENT_EXCHANGE_RATES
        .iter()
        .map(|(currency, rate)| {
            let rate = rate.parse::<Decimal>()?;
            Ok(tariff::ExchangeRate::new(*currency, month, rate)?)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(tariff::ExchangeRates::new(rates))
}

/// The synthetic line of an item's HS subheading, and a preference claimed where a certificate
/// of origin was produced and the origin is a partner of one of the synthetic agreements; the
/// proof counts as checked.
fn synthetic_item(
    tariff_lines: &std::collections::BTreeMap<String, Arc<tariff::TariffLine>>,
    item: &domain::GoodsItem,
    certificate_of_origin: bool,
) -> Result<clearance::assessment::ItemTariff, clearance::assessment::NotAssessable> {
    let code = item.commodity_code.as_str();
    let line = code
        .get(..6)
        .and_then(|hs6| tariff_lines.get(hs6))
        .ok_or_else(|| {
            clearance::assessment::NotAssessable::new(
                "commodity_code",
                format!("no tariff line for {code}"),
                format!("无税号 {code}"),
            )
        })?;
    let origin = item.origin_country.as_str();
    let claim = ASSESSMENT_AGREEMENTS
        .iter()
        .find(|(_, partners)| partners.contains(&origin))
        .filter(|_| certificate_of_origin)
        .map(|(agreement, _)| tariff::PreferenceClaim {
            column: tariff::RateColumn::Conventional {
                agreement: (*agreement).to_owned(),
            },
            proof: tariff::ProofCheck::Valid,
        });
    Ok((line.clone(), claim))
}

/// Runs a single-threaded stage over the lodgings on a blocking thread, off the runtime.
async fn on_one_thread(
    bench: &Bench,
    stage: fn(&[Lodging], u64, chrono::NaiveDate) -> anyhow::Result<StageReport>,
) -> anyhow::Result<StageReport> {
    let lodgings = bench.lodgings.clone();
    let seed = bench.seed;
    tokio::task::spawn_blocking(move || stage(&lodgings, seed, synth::today_in_china())).await?
}

/// Duty and taxes of the lodgings' import declarations by the pure engine, on this one thread.
async fn assessment(bench: &Bench) -> anyhow::Result<StageReport> {
    on_one_thread(bench, assess_lodgings).await
}

/// The assessment stage proper. Not timed: parsing the JSON bodies, building the tariff and the
/// exchange rates, and converting every declaration into the engine's input. Timed: only
/// `tariff::assess_declaration` over all import declarations, one after the other; a declaration's
/// latency is its call. An engine error or a declaration that cannot be converted is a failure.
fn assess_lodgings(
    lodgings: &[Lodging],
    seed: u64,
    day: chrono::NaiveDate,
) -> anyhow::Result<StageReport> {
    let prepared = Instant::now();
    let bodies: Vec<Option<serde_json::Value>> = lodgings
        .iter()
        .map(|l| serde_json::from_slice(&l.body).ok())
        .collect();
    let tariff_lines = synthetic_tariff(seed, &bodies);
    let rates = exchange_rates(day)?;
    let config = tariff::AssessmentConfig::china_2026();
    let (mut inputs, mut exports) = (Vec::with_capacity(lodgings.len()), 0);
    let (mut failures, mut failure_examples) = (0, Vec::new());
    let mut fail = |index: usize, message: String| {
        failures += 1;
        if failure_examples.len() < FAILURE_EXAMPLES_MAX {
            failure_examples.push(format!("#{index}: {message}"));
        }
    };
    for (index, body) in bodies.iter().enumerate() {
        let declaration = match body
            .as_ref()
            .map(|_| crate::assess::parse_declaration(&lodgings[index].body, day))
        {
            Some(Ok(declaration)) => declaration,
            Some(Err(error)) => {
                fail(index, format!("not a valid declaration: {error}"));
                continue;
            }
            None => {
                fail(index, "the body is not JSON".into());
                continue;
            }
        };
        let certificate_of_origin = declaration
            .documents
            .iter()
            .any(|d| d.document_type.as_str() == "COO");
        let mut item_tariff = |_: usize, item: &domain::GoodsItem| {
            synthetic_item(&tariff_lines, item, certificate_of_origin)
        };
        match clearance::assessment::declaration_input(&declaration, day, &mut item_tariff) {
            Ok(Some(input)) => inputs.push((index, input)),
            Ok(None) => exports += 1,
            Err(problems) => fail(index, format!("not converted: {}", problems[0])),
        }
    }
    let preparation = prepared.elapsed();
    let mut latencies = Vec::with_capacity(inputs.len());
    let mut goods_items = 0;
    let mut payable = Decimal::ZERO;
    let started = Instant::now();
    for (index, input) in &inputs {
        let call = Instant::now();
        let outcome = tariff::assess_declaration(input, &rates, &config);
        latencies.push(call.elapsed());
        match outcome {
            Ok(assessment) => {
                goods_items += input.items.len();
                payable += std::hint::black_box(assessment).total_payable;
            }
            Err(error) => fail(*index, format!("assessment error: {error}")),
        }
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    // Every lodging but the exports: assessed, or failed before or during the assessment.
    let declarations = lodgings.len() - exports;
    let items_per_second = per_second(goods_items, wall);
    let verdict = if items_per_second >= ASSESSMENT_TARGET_ITEMS_PER_SECOND {
        "met"
    } else {
        "NOT met"
    };
    let note = format!(
        "assessment: {declarations} import declarations assessed one after the other on one thread by \
         tariff::assess_declaration (only that call is timed; parsing the bodies, a synthetic tariff \
         of {} lines, one per HS subheading declared, and converting the items took {:.2} s, not \
         timed); {exports} export declarations skipped; total payable {} CNY; \
         {items_per_second:.0} goods items/s against the target of ≥ {ASSESSMENT_TARGET_ITEMS_PER_SECOND:.0} \
         on one core: {verdict}",
        tariff_lines.len(),
        preparation.as_secs_f64(),
        payable.round_dp(2),
    );
    Ok(StageReport {
        name: "assessment",
        declarations,
        goods_items,
        wall,
        latencies,
        failures,
        failure_examples,
        stored: 0,
        note: Some(note),
        assessments: None,
        ratio: None,
    })
}

/// Every lodging's body parsed as at acceptance and converted by `convert` (given its index);
/// a body that is not a valid declaration is a failure, the first few kept as examples.
fn parse_lodgings<T>(
    lodgings: &[Lodging],
    day: chrono::NaiveDate,
    convert: impl Fn(usize, &domain::Declaration) -> T,
) -> (Vec<T>, usize, Vec<String>) {
    let mut converted = Vec::with_capacity(lodgings.len());
    let (mut failures, mut failure_examples) = (0, Vec::new());
    for (index, lodging) in lodgings.iter().enumerate() {
        match crate::assess::parse_declaration(&lodging.body, day) {
            Ok(declaration) => converted.push(convert(index, &declaration)),
            Err(error) => {
                failures += 1;
                if failure_examples.len() < FAILURE_EXAMPLES_MAX {
                    failure_examples.push(format!("#{index}: not a valid declaration: {error}"));
                }
            }
        }
    }
    (converted, failures, failure_examples)
}

/// Active rules of the targeting stage, and its target on one core (issue 4).
const TARGETING_RULES: usize = 10_000;
const TARGETING_TARGET_PER_SECOND: f64 = 20_000.0;

async fn targeting(bench: &Bench) -> anyhow::Result<StageReport> {
    on_one_thread(bench, select_lodgings).await
}

/// The targeting stage: every lodging selected into a lane by `risk::select` against 10,000
/// generated rules, one after the other on one thread. Not timed: generating, compiling and
/// indexing the rules, parsing the bodies and converting them (`clearance::targeting::risk_input`,
/// as at lodging). Timed: only `risk::select`; a declaration's latency is its call.
fn select_lodgings(
    lodgings: &[Lodging],
    seed: u64,
    day: chrono::NaiveDate,
) -> anyhow::Result<StageReport> {
    let prepared = Instant::now();
    let rules = risk::bench::generated_rule_set(TARGETING_RULES, seed);
    let (inputs, failures, failure_examples) = parse_lodgings(lodgings, day, |_, declaration| {
        clearance::targeting::risk_input(declaration, None)
    });
    let preparation = prepared.elapsed();
    let config = risk::SelectionConfig::sample_china();
    let lists = risk::Lists::default();
    let mut latencies = Vec::with_capacity(inputs.len());
    let (mut goods_items, mut evaluated, mut lanes) = (0, 0, [0usize; 3]);
    let started = Instant::now();
    for (i, input) in inputs.iter().enumerate() {
        let call = Instant::now();
        let draw = risk::RandomDraw {
            seed: seed ^ i as u64,
        };
        let selection = risk::select(input, &rules, &lists, &config, day, draw);
        latencies.push(call.elapsed());
        goods_items += input.items.len();
        evaluated += selection.stats.evaluated_rules;
        lanes[match selection.lane {
            risk::Lane::Green => 0,
            risk::Lane::Yellow => 1,
            risk::Lane::Red => 2,
        }] += 1;
        std::hint::black_box(selection);
    }
    let wall = started.elapsed();
    latencies.sort_unstable();
    let per_second_now = per_second(inputs.len(), wall);
    let verdict = if per_second_now >= TARGETING_TARGET_PER_SECOND {
        "met"
    } else {
        "NOT met"
    };
    let note = format!(
        "targeting: {} declarations selected one after the other on one thread by risk::select \
         against {TARGETING_RULES} generated active rules (only that call is timed; generating, \
         compiling and indexing the rules and converting the declarations took {:.2} s, not timed); \
         {:.1} rules evaluated per declaration on average; lanes green {} / yellow {} / red {}; \
         {per_second_now:.0} declarations/s against the target of ≥ {TARGETING_TARGET_PER_SECOND:.0} \
         on one core: {verdict}",
        inputs.len(),
        preparation.as_secs_f64(),
        evaluated as f64 / inputs.len().max(1) as f64,
        lanes[0],
        lanes[1],
        lanes[2],
    );
    Ok(StageReport {
        name: "targeting",
        declarations: inputs.len(),
        goods_items,
        wall,
        latencies,
        failures,
        failure_examples,
        stored: 0,
        note: Some(note),
        assessments: None,
        ratio: None,
    })
}

/// The labelled KCS data the scoring stage trains on and scores (in the repository).
const KCS_TRAIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../datasets/kcs-synthetic/df_syn_train_eng.csv"
);
const KCS_VALID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../datasets/kcs-synthetic/df_syn_valid_eng.csv"
);
/// Passes over the KCS validation split, so the timed part lasts long enough to measure.
const SCORING_PASSES: usize = 40;
/// The target on one core (issue 5), in KCS declarations (one goods item each) per second.
const SCORING_TARGET_PER_SECOND: f64 = 500_000.0;

async fn scoring(bench: &Bench) -> anyhow::Result<StageReport> {
    on_one_thread(bench, score_lodgings).await
}

fn read_kcs(path: &str) -> anyhow::Result<Vec<model::HistoryRecord>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{path}: the KCS data of the scoring stage cannot be read"))?;
    model::history::parse_kcs(std::io::BufReader::new(file))
        .map_err(|errors| anyhow::anyhow!("{path}: {}", errors[0]))
}

/// The scoring stage: a model trained on the KCS training split (one thread; not timed) and
/// loaded from its bytes as the service loads it scores every row of the validation split — a
/// KCS declaration is one goods item — `SCORING_PASSES` times, one after the other on one thread:
/// encoding and scoring, as at acceptance (latencies: from one more pass, timed call by call). Then the
/// bench's own declarations (several items each, converted as at acceptance, not timed) are
/// scored the same way, the declaration's score being its riskiest item's.
fn score_lodgings(
    lodgings: &[Lodging],
    _seed: u64,
    day: chrono::NaiveDate,
) -> anyhow::Result<StageReport> {
    let prepared = Instant::now();
    let train = read_kcs(KCS_TRAIN)?;
    let valid = read_kcs(KCS_VALID)?;
    let params = model::TrainParams {
        threads: 1,
        ..model::TrainParams::default()
    };
    let trained = model::train_pipeline(&train, model::FeatureConfig::default(), &params)?;
    // As the service holds it: loaded from its stored bytes (the scoring-only encoder).
    let trained = model::TrainedModel::from_bytes(&trained.to_bytes())?;
    let training = prepared.elapsed();
    // Latencies from one pass, a clock read around each call; throughput from the passes after
    // it, without (the clock reads would be a tenth of the cost).
    let mut latencies = Vec::with_capacity(valid.len());
    let mut riskiest = 0f32;
    for record in &valid {
        let call = Instant::now();
        riskiest = riskiest.max(trained.score(record));
        latencies.push(call.elapsed());
    }
    let started = Instant::now();
    for _ in 0..SCORING_PASSES {
        for record in &valid {
            riskiest = riskiest.max(trained.score(record));
        }
    }
    let wall = started.elapsed();
    std::hint::black_box(riskiest);
    let rows = valid.len() * SCORING_PASSES;

    let (declarations, failures, failure_examples) =
        parse_lodgings(lodgings, day, |index, declaration| {
            clearance::models::history_records(
                declaration,
                &format!("bench-{index}"),
                day,
                None,
                None,
            )
        });
    let items: usize = declarations.iter().map(Vec::len).sum();
    let platform = Instant::now();
    for records in &declarations {
        let score = records
            .iter()
            .map(|r| trained.score(r))
            .fold(0f32, f32::max);
        std::hint::black_box(score);
    }
    let platform_wall = platform.elapsed();
    latencies.sort_unstable();
    let per_second_now = per_second(rows, wall);
    let verdict = if per_second_now >= SCORING_TARGET_PER_SECOND {
        "met"
    } else {
        "NOT met"
    };
    let note = format!(
        "scoring: a model trained on the KCS training split ({} items, {:.2} s on one thread, not \
         timed) scored the {} KCS validation declarations (one goods item each) {SCORING_PASSES} \
         times on one thread, encoding included: {per_second_now:.0} declarations/s against the \
         target of ≥ {SCORING_TARGET_PER_SECOND:.0} on one core: {verdict}; the bench's {} \
         declarations ({items} goods items, the riskiest item's score each): {:.0} declarations/s, \
         {:.0} items/s",
        train.len(),
        training.as_secs_f64(),
        valid.len(),
        declarations.len(),
        per_second(declarations.len(), platform_wall),
        per_second(items, platform_wall),
    );
    Ok(StageReport {
        name: "scoring",
        declarations: rows,
        goods_items: rows,
        wall,
        latencies,
        failures,
        failure_examples,
        stored: 0,
        note: Some(note),
        assessments: None,
        ratio: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The audit check.

struct AuditCheck {
    entries_verified: u64,
    checkpoints_verified: u64,
    fault: Option<String>,
    /// Declarations the bench store gained during the run.
    declarations_in_store: usize,
    /// Lodgings acknowledged as accepted by the stages.
    declarations_accepted: usize,
}

/// Signs the head, then verifies the whole chain of the bench store as `customs audit verify`
/// does, and counts the declarations it holds.
async fn check_audit(
    bench: &Bench,
    declarations_before: usize,
    declarations_accepted: usize,
) -> anyhow::Result<AuditCheck> {
    bench.clearance.store().checkpoint_now().await?;
    let verification = bench
        .clearance
        .verify_audit(&crate::show::operator())
        .await
        .map_err(crate::show::explain)?;
    let declarations_in_store =
        count_declarations(&bench.data.database()).await? - declarations_before;
    Ok(AuditCheck {
        entries_verified: verification.entries_checked,
        checkpoints_verified: verification.checkpoints_checked,
        fault: verification.first_fault,
        declarations_in_store,
        declarations_accepted,
    })
}

/// Declarations in the store, read on a connection of its own (the store has no count).
async fn count_declarations(database: &Path) -> anyhow::Result<usize> {
    let database = database.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = read_only(&database)?;
        let count: i64 =
            conn.query_row("SELECT count(*) FROM declarations", [], |row| row.get(0))?;
        Ok(usize::try_from(count)?)
    })
    .await?
}

// ---------------------------------------------------------------------------------------------
// The report.

struct Summary<'a> {
    options: &'a BenchOptions,
    goods_items: usize,
    folder: String,
    bytes: Option<StoredBytes>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The nearest-rank percentile of a sorted sample: the smallest value with at least `percent`%
/// of the sample at or below it.
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent * sorted.len())
        .div_ceil(100)
        .clamp(1, sorted.len());
    sorted[rank - 1]
}

fn per_second(count: usize, wall: Duration) -> f64 {
    count as f64 / wall.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Milliseconds with 2 decimals, or 3 below one millisecond (an assessment takes microseconds).
fn ms_text(duration: Duration) -> String {
    let ms = ms(duration);
    if ms < 1.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.2}")
    }
}

fn first_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_owned();
    match lines.next() {
        Some(second) => format!("{first} {}", second.trim()),
        None => first,
    }
}

fn print_report(summary: &Summary<'_>, reports: &[StageReport], audit: &AuditCheck) {
    let options = summary.options;
    println!(
        "{} declarations ({} goods items) from seed {}, {} clients, {} cores; data folder {}",
        options.declarations,
        summary.goods_items,
        options.seed,
        options.clients,
        cores(),
        summary.folder
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "stage",
        "declarations",
        "wall s",
        "declarations/s",
        "goods items/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failures",
    ]);
    for report in reports {
        // wrk reports percentiles, not each latency.
        let (p50, p99, max) = match &report.ratio {
            Some(ratio) => (ratio.full.p50, ratio.full.p99, None),
            None => (
                percentile(&report.latencies, 50),
                percentile(&report.latencies, 99),
                report.latencies.last().copied(),
            ),
        };
        table.add_row([
            report.name.to_owned(),
            report.declarations.to_string(),
            format!("{:.2}", report.wall.as_secs_f64()),
            format!(
                "{:.0}",
                per_second(report.declarations - report.failures, report.wall)
            ),
            format!("{:.0}", per_second(report.goods_items, report.wall)),
            ms_text(p50),
            ms_text(p99),
            max.map_or_else(|| "-".to_owned(), ms_text),
            report.failures.to_string(),
        ]);
    }
    for column in table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    println!("{table}");
    for report in reports {
        if let Some(note) = &report.note {
            println!("{note}");
        }
        for example in &report.failure_examples {
            println!("{} failure {example}", report.name);
        }
    }
    for report in reports {
        if let Some(ratio) = &report.ratio {
            let mut side = Table::new();
            side.load_preset(UTF8_FULL_CONDENSED).set_header([
                "http-ratio",
                "answered/s",
                "p50 ms",
                "p99 ms",
                "answered",
                "failed",
            ]);
            for (name, load) in [
                ("bare axum handler", &ratio.bare),
                ("full lodging", &ratio.full),
            ] {
                side.add_row([
                    name.to_owned(),
                    format!("{:.0}", load.per_second),
                    ms_text(load.p50),
                    ms_text(load.p99),
                    load.answered.to_string(),
                    load.failed.to_string(),
                ]);
            }
            println!("{side}");
            println!(
                "http-ratio: full / bare = {:.1} % (target >= {:.0} %), full p99 {} ms (target <= {} ms)",
                ratio.ratio() * 100.0,
                ratio::RATIO_TARGET * 100.0,
                ms_text(ratio.full.p99),
                ratio::P99_TARGET.as_millis()
            );
        }
    }
    if let Some(floor) = floor_ratio(reports) {
        println!(
            "inprocess / sqlite-floor = {:.1} % (target >= {:.0} %)",
            floor * 100.0,
            FLOOR_RATIO_TARGET * 100.0
        );
    }
    if let Some(bytes) = &summary.bytes {
        println!("{}", bytes.describe());
    }
    print_audit(audit);
}

/// The share of the raw SQLite floor in-process lodging must reach (issue 12).
const FLOOR_RATIO_TARGET: f64 = 0.5;

/// In-process lodgings per second as a share of the floor's rows per second, when both ran.
fn floor_ratio(reports: &[StageReport]) -> Option<f64> {
    let rate = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .map(|r| per_second(r.declarations - r.failures, r.wall))
    };
    Some(rate("inprocess")? / rate("sqlite-floor")?.max(f64::MIN_POSITIVE))
}

/// The bytes the bench store grew by per declaration it gained: the database file and its WAL
/// after a truncating checkpoint (so the WAL adds nothing), before the stages and after.
#[derive(Debug, Clone, Copy)]
struct StoredBytes {
    before: u64,
    after: u64,
    declarations: usize,
}

impl StoredBytes {
    fn per_declaration(&self) -> Option<f64> {
        (self.declarations > 0)
            .then(|| self.after.saturating_sub(self.before) as f64 / self.declarations as f64)
    }

    fn describe(&self) -> String {
        match self.per_declaration() {
            Some(per) => format!(
                "bytes stored per declaration: {per:.0} (store file + WAL after a checkpoint: {} \
                 -> {} bytes for {} new declarations, with their events, projections and \
                 indexes; the bench's users and releases included)",
                self.before, self.after, self.declarations
            ),
            None => "bytes stored per declaration: no declaration was stored".to_owned(),
        }
    }
}

/// The store's bytes on disk once its WAL is copied back and truncated: file + WAL.
fn checkpointed_bytes(database: &Path) -> anyhow::Result<u64> {
    if !database.exists() {
        return Ok(0);
    }
    let conn = rusqlite::Connection::open(database)
        .with_context(|| format!("opening {}", database.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let _: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    drop(conn);
    let size = |path: PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    Ok(size(database.to_path_buf()) + size(PathBuf::from(wal)))
}

fn print_audit(audit: &AuditCheck) {
    match &audit.fault {
        None => println!(
            "audit chain: {} entries verified ({} checkpoints); declarations in the store: {} new, {} acknowledged",
            audit.entries_verified,
            audit.checkpoints_verified,
            audit.declarations_in_store,
            audit.declarations_accepted
        ),
        Some(fault) => println!(
            "audit chain: BROKEN after {} entries: {fault}",
            audit.entries_verified
        ),
    }
}

fn load_json(load: &ratio::Load) -> serde_json::Value {
    json!({
        "per_s": load.per_second,
        "p50_ms": ms(load.p50),
        "p99_ms": ms(load.p99),
        "answered": load.answered,
        "failed": load.failed,
    })
}

fn json_report(
    summary: &Summary<'_>,
    reports: &[StageReport],
    audit: &AuditCheck,
) -> serde_json::Value {
    let options = summary.options;
    let stages: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            json!({
                "stage": r.name,
                "declarations": r.declarations,
                "goods_items": r.goods_items,
                "wall_s": r.wall.as_secs_f64(),
                "declarations_per_s": per_second(r.declarations - r.failures, r.wall),
                "goods_items_per_s": per_second(r.goods_items, r.wall),
                "latency_ms": {
                    "p50": ms(percentile(&r.latencies, 50)),
                    "p99": ms(percentile(&r.latencies, 99)),
                    "max": ms(r.latencies.last().copied().unwrap_or_default()),
                },
                "failures": r.failures,
                "failure_examples": r.failure_examples,
                "note": r.note,
                "http_ratio": r.ratio.as_ref().map(|f| json!({
                    "client": f.client,
                    "ratio": f.ratio(),
                    "meets_targets": f.meets_targets(),
                    "bare": load_json(&f.bare),
                    "full": load_json(&f.full),
                })),
                "assessments_at_acceptance": r.assessments.as_ref().map(|t| json!({
                    "assessed": t.assessed,
                    "not_assessed": t.not_assessed,
                    "not_assessed_reasons": t.reasons.iter().map(|(path, count, example)| json!({
                        "path": path, "count": count, "example": example,
                    })).collect::<Vec<_>>(),
                })),
            })
        })
        .collect();
    json!({
        "declarations": options.declarations,
        "goods_items": summary.goods_items,
        "seed": options.seed,
        "clients": options.clients,
        "cores": cores(),
        "data": summary.folder,
        "stages": stages,
        "inprocess_to_sqlite_floor": floor_ratio(reports),
        "bytes_per_declaration": summary.bytes.and_then(|b| b.per_declaration()),
        "audit": {
            "ok": audit.fault.is_none() && audit.declarations_in_store == audit.declarations_accepted,
            "entries_verified": audit.entries_verified,
            "checkpoints_verified": audit.checkpoints_verified,
            "first_fault": audit.fault,
            "declarations_in_store": audit.declarations_in_store,
            "declarations_accepted": audit.declarations_accepted,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The web console's pages.

/// Requests per page of the console stage, one after the other (server time, not queueing).
const CONSOLE_REQUESTS_PER_PAGE: usize = 300;
/// How deep in the list the console stage's "later page" is (pages of 50 followed from the first).
const CONSOLE_LIST_DEPTH: usize = 20;
/// The console stage's officer, created in the bench store if absent.
const CONSOLE_OFFICER: &str = "bench-officer";
/// The password the console stage gives its two users (a throwaway store's).
const CONSOLE_PASSWORD: &str = "bench-console-password";

/// A signed-in browser without a cookie jar: the session and CSRF cookies, sent by hand.
struct ConsoleVisitor {
    http: reqwest::Client,
    base: String,
    cookies: String,
}

impl ConsoleVisitor {
    async fn sign_in(base: &str, name: &str) -> anyhow::Result<ConsoleVisitor> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let cookie = |response: &reqwest::Response, name: &str| {
            response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| v.split(';').next())
                .find(|pair| pair.starts_with(&format!("{name}=")))
                .map(str::to_owned)
        };
        let page = http.get(format!("{base}/console/login")).send().await?;
        let csrf = cookie(&page, "oc_csrf").context("the log-in page sets a CSRF cookie")?;
        let token = csrf.trim_start_matches("oc_csrf=").to_owned();
        let signed = http
            .post(format!("{base}/console/login"))
            .header(header::COOKIE, &csrf)
            .form(&[
                ("name", name),
                ("password", CONSOLE_PASSWORD),
                ("csrf", &token),
            ])
            .send()
            .await?;
        let session = cookie(&signed, "oc_session")
            .with_context(|| format!("{name} could not sign in: {}", signed.status()))?;
        let csrf = cookie(&signed, "oc_csrf").unwrap_or(csrf);
        Ok(ConsoleVisitor {
            http,
            base: base.to_owned(),
            cookies: format!("{session}; {csrf}"),
        })
    }

    /// The page's HTML and how long it took; anything but 200 is an error.
    async fn get(&self, path: &str) -> anyhow::Result<(Duration, String)> {
        let sent = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookies)
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        let took = sent.elapsed();
        if status != StatusCode::OK {
            bail!("{path}: {status}");
        }
        Ok((took, body))
    }
}

/// The targets of a page's links that start with `prefix` (up to the closing quote).
fn links(html: &str, prefix: &str) -> Vec<String> {
    html.split(&format!("href=\"{prefix}"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|tail| format!("{prefix}{tail}").replace("&amp;", "&"))
        .collect()
}

/// Each declaration page a list links to.
fn declaration_links(html: &str) -> Vec<String> {
    links(html, "/console/declarations/")
        .into_iter()
        .filter(|l| !l.contains('?'))
        .collect()
}

/// Server time per console page on the bench store as it stands: each page requested
/// `CONSOLE_REQUESTS_PER_PAGE` times by one signed-in user after the other, over loopback, with
/// the log-in page (rendered without reading the store) as the floor of the same run.
async fn console(bench: &Bench) -> anyhow::Result<StageReport> {
    let actor = store::Actor {
        user_id: "bench".into(),
        role: Role::Admin.as_str().into(),
    };
    let explain = crate::show::explain;
    let clearance = &bench.clearance;
    clearance
        .create_user(&actor, CONSOLE_OFFICER, Role::Officer, None)
        .await
        .map_err(explain)?;
    // A broker (the last lodgers are the brokers): sees its own and its principals' declarations.
    let broker = bench
        .lodgers
        .last()
        .context("the bench has lodgers")?
        .caller
        .principal
        .user
        .name
        .clone();
    for user in [CONSOLE_OFFICER, broker.as_str()] {
        clearance
            .set_password_as(&actor, user, CONSOLE_PASSWORD)
            .await
            .map_err(explain)?;
    }
    let in_store = count_declarations(&bench.data.database()).await?;
    let server = ApiServer::start(bench).await?;
    let base = server.url.trim_end_matches("/v1/declarations").to_owned();
    let measured = console_pages(&base, &broker).await;
    server.stop().await?;
    let (wall, pages) = measured?;
    let mut latencies: Vec<Duration> = pages.iter().flat_map(|p| p.1.clone()).collect();
    latencies.sort_unstable();
    let mut note = format!(
        "console: {in_store} declarations in the store; {CONSOLE_REQUESTS_PER_PAGE} requests per \
         page by one signed-in user after the other over loopback (server time plus loopback); \
         the log-in page reads nothing from the store and is the floor\n"
    );
    for (page, mut times) in pages {
        times.sort_unstable();
        note.push_str(&format!(
            "  {page:<44} p50 {:>7} ms  p99 {:>7} ms  max {:>7} ms\n",
            ms_text(percentile(&times, 50)),
            ms_text(percentile(&times, 99)),
            ms_text(times.last().copied().unwrap_or_default()),
        ));
    }
    Ok(StageReport {
        name: "console",
        declarations: latencies.len(),
        goods_items: 0,
        wall,
        latencies,
        failures: 0,
        failure_examples: Vec::new(),
        stored: 0,
        note: Some(note.trim_end().to_owned()),
        assessments: None,
        ratio: None,
    })
}

type PageTimes = Vec<(String, Vec<Duration>)>;

async fn console_pages(base: &str, broker: &str) -> anyhow::Result<(Duration, PageTimes)> {
    let started = Instant::now();
    let officer = ConsoleVisitor::sign_in(base, CONSOLE_OFFICER).await?;
    let trade = ConsoleVisitor::sign_in(base, broker).await?;
    let anonymous = ConsoleVisitor {
        http: officer.http.clone(),
        base: base.to_owned(),
        cookies: String::new(),
    };
    // What to ask for: declarations linked from the lists, and a page deep in the officer's list.
    let mut officer_ids = Vec::new();
    let mut deep = "/console/declarations".to_owned();
    for depth in 0..CONSOLE_LIST_DEPTH {
        let (_, html) = officer.get(&deep).await?;
        officer_ids.extend(declaration_links(&html));
        match links(&html, "/console/declarations?cursor=").pop() {
            Some(next) if depth + 1 < CONSOLE_LIST_DEPTH => deep = next,
            _ => break,
        }
    }
    let (_, html) = trade.get("/console/declarations").await?;
    let trade_ids = declaration_links(&html);
    if officer_ids.is_empty() || trade_ids.is_empty() {
        bail!("the bench store has no declarations to show: run a lodging stage first");
    }
    let mut times: PageTimes = Vec::new();
    let mut measure = async |name: &str, visitor: &ConsoleVisitor, paths: &[String]| {
        let mut taken = Vec::with_capacity(CONSOLE_REQUESTS_PER_PAGE);
        for i in 0..CONSOLE_REQUESTS_PER_PAGE {
            let (took, _) = visitor.get(&paths[i % paths.len()]).await?;
            taken.push(took);
        }
        times.push((name.to_owned(), taken));
        anyhow::Ok(())
    };
    let login = ["/console/login".to_owned()];
    measure("floor: log-in page (no store read)", &anonymous, &login).await?;
    let first = ["/console/declarations".to_owned()];
    measure("officer: list, first page", &officer, &first).await?;
    measure(
        &format!("officer: list, page {CONSOLE_LIST_DEPTH}"),
        &officer,
        &[deep],
    )
    .await?;
    measure("officer: a declaration's page", &officer, &officer_ids).await?;
    measure(
        "officer: task queue",
        &officer,
        &["/console/tasks".to_owned()],
    )
    .await?;
    measure("broker: list, first page", &trade, &first).await?;
    measure("broker: a declaration's page", &trade, &trade_ids).await?;
    Ok((started.elapsed(), times))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_sample(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank_of_the_sorted_sample() {
        let sample = ms_sample(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sample, 50), Duration::from_millis(50));
        assert_eq!(percentile(&sample, 99), Duration::from_millis(99));
        assert_eq!(percentile(&sample, 100), Duration::from_millis(100));
        assert_eq!(percentile(&ms_sample(&[7]), 99), Duration::from_millis(7));
        assert_eq!(
            percentile(&ms_sample(&[1, 2, 3]), 50),
            Duration::from_millis(2)
        );
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn stages_are_chosen_by_name_in_the_order_given() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let chosen = selected_stages(&names(&["sqlite-floor", "inprocess"])).unwrap();
        assert_eq!(
            chosen.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["sqlite-floor", "inprocess"]
        );
        assert!(selected_stages(&names(&["no-such-stage"])).is_err());
        assert!(selected_stages(&[]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_bench_lodges_everything_and_the_store_adds_up() {
        let stages = STAGES.iter().map(|s| s.name.to_owned()).collect();
        let options = BenchOptions {
            ratio_seconds: 1,
            declarations: 40,
            clients: 4,
            seed: 1,
            stages,
            // The postgres stages against the real PostgreSQL, in databases of their own.
            postgres: Some(
                std::env::var("CUSTOMS_TEST_POSTGRES")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
            ),
            json: true,
            data: None,
        };
        let args = BenchArgs {
            options,
            data_given: false,
        };
        // `run` fails on any failed lodging, a broken chain, or a store that does not add up.
        run(ClearanceConfig::china(), args)
            .await
            .expect("every lodging accepted and found in the store");
    }

    #[test]
    fn the_assessment_stage_assesses_fifty_declarations_without_failure() {
        let options = BenchOptions {
            ratio_seconds: 1,
            declarations: 50,
            clients: 1,
            seed: 7,
            stages: Vec::new(),
            postgres: None,
            json: true,
            data: None,
        };
        let mut synth = Synth::new(options.seed);
        let traders = synth.parties(TRADERS);
        let brokers = synth.brokers(BROKERS);
        let lodgings = generate(&mut synth, &traders, &brokers, &options);
        let report = assess_lodgings(&lodgings, options.seed, synth::today_in_china())
            .expect("the stage runs");
        assert_eq!(report.failures, 0, "{:?}", report.failure_examples);
        assert!(report.declarations > 0 && report.declarations <= 50);
        assert_eq!(report.latencies.len(), report.declarations);
        assert!(report.goods_items >= report.declarations);
    }

    #[test]
    fn the_synthetic_tariff_mixes_every_kind_of_rate() {
        use tariff::{DutyRate, RateColumn};
        let options = BenchOptions {
            ratio_seconds: 1,
            declarations: 2_000,
            clients: 1,
            seed: 42,
            stages: Vec::new(),
            postgres: None,
            json: true,
            data: None,
        };
        let mut synth = Synth::new(options.seed);
        let traders = synth.parties(TRADERS);
        let brokers = synth.brokers(BROKERS);
        let bodies: Vec<_> = generate(&mut synth, &traders, &brokers, &options)
            .iter()
            .map(|l| serde_json::from_slice(&l.body).ok())
            .collect();
        let lines = synthetic_tariff(options.seed, &bodies);
        let columns = || lines.values().flat_map(|l| &l.columns);
        let mfn = || columns().filter(|c| c.column == RateColumn::Mfn);
        assert!(mfn().any(|c| matches!(c.rate, DutyRate::AdValorem { .. })));
        assert!(mfn().any(|c| matches!(c.rate, DutyRate::Specific { .. })));
        assert!(mfn().any(|c| matches!(c.rate, DutyRate::Compound { .. })));
        assert!(columns().any(|c| c.column == RateColumn::Provisional));
        assert!(columns().any(|c| matches!(c.column, RateColumn::Conventional { .. })));
        assert!(lines.values().any(|l| !l.consumption_tax.is_empty()));
        assert!(
            lines
                .values()
                .all(|l| l.code.len() == 8 && l.vat.len() == 1)
        );
        assert_eq!(synthetic_tariff(options.seed, &bodies), lines);
    }

    #[test]
    fn the_synthetic_release_covers_every_line_code_and_round_trips() {
        let options = BenchOptions {
            ratio_seconds: 1,
            declarations: 1_000,
            clients: 1,
            seed: 42,
            stages: Vec::new(),
            postgres: None,
            json: true,
            data: None,
        };
        let mut synth = Synth::new(options.seed);
        let traders = synth.parties(TRADERS);
        let brokers = synth.brokers(BROKERS);
        let bodies: Vec<_> = generate(&mut synth, &traders, &brokers, &options)
            .iter()
            .map(|l| serde_json::from_slice(&l.body).ok())
            .collect();
        let release = synthetic_release(options.seed, &bodies);
        let day = synth::today_in_china();
        for body in bodies.iter().flatten() {
            for item in body["items"].as_array().into_iter().flatten() {
                let code = item["commodity_code"].as_str().unwrap_or_default();
                let line = release
                    .line(code, day)
                    .unwrap_or_else(|| panic!("no line {code}"));
                assert_eq!(line.code, code[..8]);
            }
        }
        let rendered = tariff::render_release(&release);
        assert_eq!(tariff::parse_release(&rendered.files()), Ok(release));
        let rates = bench_exchange_rates(day).expect("rates");
        for (currency, _) in ASSESSMENT_EXCHANGE_RATES {
            assert!(rates.in_force(currency, day).is_ok(), "{currency}");
        }
        let months = months_around(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        assert_eq!(
            months.map(|m| m.to_string()),
            ["2025-12", "2026-01", "2026-02"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lodgings_are_assessed_at_acceptance_with_the_bench_releases() {
        let options = BenchOptions {
            ratio_seconds: 1,
            declarations: 40,
            clients: 4,
            seed: 3,
            stages: vec!["inprocess".into()],
            postgres: None,
            json: true,
            data: None,
        };
        let folder = BenchFolder::new(None).expect("a temporary folder");
        let data = DataDir::create(folder.path()).expect("a data folder");
        let clearance = data
            .open_clearance(SqliteOptions::production(), ClearanceConfig::china())
            .expect("the bench store");
        let bench = prepare(clearance, data, &options, true, ClearanceConfig::china())
            .await
            .expect("seeded");
        let report = inprocess(&bench).await.expect("the stage runs");
        bench.clearance.store().close().await;
        assert_eq!(report.failures, 0, "{:?}", report.failure_examples);
        let tally = report
            .assessments
            .expect("a lodging stage counts assessments");
        assert!(tally.assessed > 0);
        assert_eq!(tally.not_assessed, 0, "{:?}", tally.reasons);
        assert!(tally.assessed <= report.stored);
    }

    #[test]
    fn brokers_declare_for_overlapping_windows_of_traders() {
        let windows: Vec<Vec<usize>> = (0..BROKERS).map(|b| principals_of(b).collect()).collect();
        assert_eq!(windows[0], [0, 1, 2, 3, 4]);
        assert_eq!(windows[BROKERS - 1], [16, 17, 18, 19, 0]);
        assert!(windows.iter().flatten().all(|t| *t < TRADERS));
    }
}
