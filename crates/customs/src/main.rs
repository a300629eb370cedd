//! `customs`: the one binary of OpenCustoms. Subcommands serve the API, lodge files, show
//! declarations, verify the audit record, administer users, manage tariff releases, exchange rates
//! and targeting rules, work on officers' tasks, record payments and release goods, estimate duty
//! and taxes (without a store), and benchmark.

mod admin;
mod assess;
mod audit_cmd;
mod backup_cmd;
mod bank_cmd;
mod bench;
mod ceb_sign;
mod config;
mod config_cmd;
mod continuity;
mod datadir;
mod demo;
mod desk;
mod instances;
mod lodge;
mod model_cmd;
mod reassess_cmd;
mod releases_cmd;
mod remote;
mod rules_cmd;
mod search_cmd;
mod serve;
mod settle_cmd;
mod show;
mod simulate_cmd;
mod stats_cmd;
mod tasks_cmd;
mod watch_cmd;
mod worker;

use std::path::PathBuf;

/// mimalloc instead of the system allocator: lodging allocates many small strings per request,
/// and glibc's malloc and free took about 15% of the CPU of an HTTP lodging in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use clearance::ClearanceConfig;
use clearance::releases::ReleaseKind;

#[derive(Parser)]
#[command(
    name = "customs",
    version,
    about = "OpenCustoms: an open-source customs clearance platform"
)]
struct Cli {
    /// Configuration file (TOML; see docs/customs.example.toml). Its values give way to
    /// environment variables, which give way to flags.
    #[arg(long, global = true, env = "CUSTOMS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder (created on first run): the store and the audit signing key. [default:
    /// customs-data] [env: CUSTOMS_DATA] [file: data]
    #[arg(long, global = true, value_name = "FOLDER")]
    data: Option<String>,
    /// Template of customs declaration numbers (China: 4-digit office, year, I/E flag, 9-digit
    /// serial). [env: CUSTOMS_NUMBER_TEMPLATE] [file: number_template]
    #[arg(long, global = true, value_name = "TEMPLATE")]
    number_template: Option<String>,
    /// The part of the risk model's inspection budget spent on exploration (declarations it
    /// scored below its threshold, selected at random so that it learns what it does not look
    /// at), in percent, 0 to 50. [default: 10] [env: CUSTOMS_MODEL_EXPLORATION_PERCENT] [file:
    /// model.exploration_percent]
    #[arg(long, global = true, value_name = "PERCENT")]
    model_exploration_percent: Option<String>,
    /// Work on a running server over its API instead of the data folder (the desk commands:
    /// lodge, show, search, owed, pay, release, hold, tasks, rules, watch, stats), e.g.
    /// https://customs.example:8443. [env: CUSTOMS_SERVER] [file: client.server, or a profile's
    /// server]
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    /// The profile of the configuration file to use (`[profiles.NAME]`: server, token_file,
    /// ca_file). [env: CUSTOMS_PROFILE] [file: profile]
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// A file holding the bearer token (readable by its owner only), used when --token is not
    /// given. [env: CUSTOMS_TOKEN_FILE] [file: client.token_file, or a profile's token_file]
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<String>,
    /// PEM certificates of a private CA to trust for the server's TLS, besides the system's.
    /// [env: CUSTOMS_CA_FILE] [file: client.ca_file, or a profile's ca_file]
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the single window) on the embedded store.
    Serve(serve::ServeArgs),
    /// Run heavy jobs off the request path, taken from NATS JetStream, on the PostgreSQL
    /// database the instances serve: after a tariff release or exchange-rate table is rolled
    /// back, reassess the open declarations assessed with it (as the officer of worker.token).
    Worker(worker::WorkerArgs),
    /// Lodge declarations from JSON files (one declaration or an array of them per file).
    Lodge(lodge::LodgeArgs),
    /// Show a declaration by number or id, with its history.
    Show(show::ShowArgs),
    /// Search declarations by bill of lading (提运单号), container, invoice number, commodity
    /// code (prefix) and trader name, as the user of a token: the trade finds only its own.
    Search(search_cmd::SearchArgs),
    /// The record of the whole enforcement process: verify, export the public key, checkpoint.
    Audit {
        /// Audit the record kept in PostgreSQL (postgres://user@host:5432/database), as `serve
        /// --database` keeps it, instead of the data folder's SQLite file; the folder still holds
        /// the keys. [env: CUSTOMS_DATABASE] [file: serve.database]
        #[arg(long, global = true, value_name = "URL")]
        database: Option<String>,
        #[command(subcommand)]
        command: audit_cmd::AuditCommand,
    },
    /// Enterprises, users, tokens and broker authorisations, as an administrator with a token
    /// (`admin init` makes the first one).
    Admin(admin::AdminArgs),
    /// Tariff releases: import, list, dry-run, activate, roll back.
    Tariff(releases_cmd::ReleaseArgs),
    /// Monthly exchange-rate tables: import, list, dry-run, activate, roll back.
    Rates(releases_cmd::ReleaseArgs),
    /// After a tariff release or exchange-rate table was rolled back, as an officer: list the
    /// declarations assessed with it, reassess them in bulk (dry run, then --apply), list jobs.
    Reassess(reassess_cmd::ReassessArgs),
    /// Value-control tables (价格风险参数: minimum / maximum unit values per commodity prefix and
    /// origin) for targeting: import, list, activate, roll back.
    ValueControl(releases_cmd::ReleaseArgs),
    /// National code lists as releases (customs offices, procedures, levy natures and modes,
    /// transport modes, document types, Incoterms, statutory units): import (one list per CSV
    /// file), list, dry-run, activate, roll back. The China SAMPLE profile is in force for a
    /// list until a release of it is.
    Reference(releases_cmd::ReferenceArgs),
    /// Targeting rules (风险布控), as a risk analyst with a token: add, test, approve (another
    /// analyst's), retire, list.
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
    /// The watch list (布控名单) of importers, declarants, sellers, consignors and means of
    /// transport, as a risk analyst with a token: add, remove, list.
    Watch {
        #[command(subcommand)]
        command: watch_cmd::WatchCommand,
    },
    /// Labelled past goods items for training risk models, as a risk analyst: import (the KCS
    /// format), list.
    History {
        #[command(subcommand)]
        command: model_cmd::HistoryCommand,
    },
    /// Risk models (智能风险模型), as a risk analyst: train, evaluate, import, promote (another
    /// analyst), roll back, list, drift.
    Model {
        #[command(subcommand)]
        command: model_cmd::ModelCommand,
    },
    /// Officers' tasks (单证审核、查验): list a queue, close one's task with a finding, as the
    /// user of a token.
    Tasks {
        #[command(subcommand)]
        command: tasks_cmd::TasksCommand,
    },
    /// Claim a payment of a declaration's duty and taxes (the trade: it counts once the bank
    /// confirms it) or, with `--guarantee`, record a guarantee in its place (an officer), as the
    /// user of a token.
    Pay(settle_cmd::PayArgs),
    /// The simulated paying bank (keygen, confirm) and the registration of a bank's connector.
    Bank {
        #[command(subcommand)]
        command: bank_cmd::BankCommand,
    },
    /// What a declaration owes: payable, paid, guaranteed, outstanding.
    Owed(settle_cmd::OwedArgs),
    /// Release a declaration's goods (放行), as an officer; refused while duty and taxes are
    /// outstanding or a task on the declaration is open.
    Release(settle_cmd::ReleaseArgs),
    /// Clearance statistics, as a customs user with a token: release-times (time from lodging to
    /// release, 通关时间).
    Stats {
        #[command(subcommand)]
        command: stats_cmd::StatsCommand,
    },
    /// Hold a declaration's goods (扣留), as an officer: an open hold task, the officer's own; lift
    /// it by closing the task with a finding (`tasks finding`).
    Hold(settle_cmd::HoldArgs),
    /// Estimate the duty and taxes of an import declaration against a tariff release (nothing is
    /// lodged or stored).
    Assess(assess::AssessArgs),
    /// Measure lodging throughput and latency (in-process, over HTTP, and the raw SQLite floor).
    Bench(bench::BenchArgs),
    /// CEB messages' SM2-SM3 signature: make a test key and certificate, sign, verify.
    Ceb {
        #[command(subcommand)]
        command: ceb_sign::CebCommand,
    },
    /// Back up the data folder into a new folder DEST while the server keeps running: a
    /// consistent snapshot of the store, the keys and other files kept beside it, and a manifest
    /// of their digests. The backup holds the audit signing key: keep it secret.
    Backup(backup_cmd::BackupArgs),
    /// Restore a backup into a new data folder (`--data`, which must not exist or be empty),
    /// after checking every file's digest, the audit chain and the key that signed it.
    Restore(backup_cmd::RestoreArgs),
    /// The configuration: check it (every problem named), or show the effective values and
    /// where each came from.
    Config {
        #[command(subcommand)]
        command: config_cmd::ConfigCommand,
    },
}

impl Cli {
    /// The flags that set configuration keys, by key.
    fn flags(&self) -> Vec<(&'static str, Option<String>)> {
        let mut flags = vec![
            ("data", self.data.clone()),
            ("number_template", self.number_template.clone()),
            (
                "model.exploration_percent",
                self.model_exploration_percent.clone(),
            ),
            ("profile", self.profile.clone()),
            ("client.server", self.server.clone()),
            ("client.token_file", self.token_file.clone()),
            ("client.ca_file", self.ca_file.clone()),
        ];
        if let Command::Serve(args) = &self.command {
            flags.extend(args.flags());
        }
        if let Command::Worker(args) = &self.command {
            flags.extend(args.flags());
        }
        if let Command::Admin(args) = &self.command {
            flags.push(("serve.database", args.database.clone()));
        }
        if let Command::Audit { database, .. } = &self.command {
            flags.push(("serve.database", database.clone()));
        }
        flags
    }
}

impl Command {
    /// The command's name on the command line, for messages.
    fn name(&self) -> &'static str {
        match self {
            Command::Serve(_) => "serve",
            Command::Worker(_) => "worker",
            Command::Lodge(_) => "lodge",
            Command::Show(_) => "show",
            Command::Search(_) => "search",
            Command::Audit { .. } => "audit",
            Command::Admin(_) => "admin",
            Command::Tariff(_) => "tariff",
            Command::Rates(_) => "rates",
            Command::Reassess(_) => "reassess",
            Command::ValueControl(_) => "value-control",
            Command::Reference(_) => "reference",
            Command::Rules { .. } => "rules",
            Command::Watch { .. } => "watch",
            Command::History { .. } => "history",
            Command::Model { .. } => "model",
            Command::Tasks { .. } => "tasks",
            Command::Pay(_) => "pay",
            Command::Bank { .. } => "bank",
            Command::Owed(_) => "owed",
            Command::Release(_) => "release",
            Command::Stats { .. } => "stats",
            Command::Hold(_) => "hold",
            Command::Assess(_) => "assess",
            Command::Bench(_) => "bench",
            Command::Ceb { .. } => "ceb",
            Command::Backup(_) => "backup",
            Command::Restore(_) => "restore",
            Command::Config { .. } => "config",
        }
    }

    /// Whether the command works at a desk: on the data folder's store or, with `--server`, on
    /// a running server through its API, the same calls either way.
    fn works_at_a_desk(&self) -> bool {
        matches!(
            self,
            Command::Lodge(_)
                | Command::Show(_)
                | Command::Search(_)
                | Command::Owed(_)
                | Command::Pay(_)
                | Command::Release(_)
                | Command::Hold(_)
                | Command::Tasks { .. }
                | Command::Rules { .. }
                | Command::Watch { .. }
                | Command::Stats { .. }
        )
    }

    /// Whether the command may make a new data folder: the first run of `serve`, `admin init`,
    /// and `bench` (a restore makes its own, checked apart). Every other one refuses a folder
    /// that does not exist.
    fn may_create_the_data_folder(&self) -> bool {
        match self {
            Command::Serve(_) | Command::Bench(_) => true,
            Command::Admin(args) => matches!(args.command, admin::AdminCommand::Init { .. }),
            _ => false,
        }
    }

    /// Whether the command reads or writes the data folder's SQLite store, and only that one:
    /// with `serve.database` set it would show or change records the instances do not serve.
    fn works_on_the_folders_store_only(&self) -> bool {
        !matches!(
            self,
            Command::Serve(_)
                | Command::Worker(_)
                | Command::Admin(_)
                | Command::Audit { .. }
                | Command::Assess(_)
                | Command::Bench(_)
                | Command::Backup(_)
                | Command::Restore(_)
                | Command::Config { .. }
        )
    }
}

fn clearance_config(settings: &config::Config) -> anyhow::Result<ClearanceConfig> {
    // Checked when the configuration was resolved.
    let scheme = domain::NumberScheme::parse(&settings.number_template)
        .map_err(|e| anyhow::anyhow!("number_template {:?}: {e}", settings.number_template))?;
    Ok(ClearanceConfig {
        number_scheme: scheme,
        model_exploration_percent: settings.model.exploration_percent,
        ..ClearanceConfig::china()
    })
}

/// Ordinary failures (a refusal, a bad setting, a missing file) are told as their chain of
/// causes on one line and the exit status 1, never as a panic's backtrace, whatever
/// RUST_BACKTRACE says.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let flags = cli.flags();
    let resolved = config::resolve(
        cli.config.as_deref(),
        |name| std::env::var(name).ok(),
        &flags,
    );
    if let Command::Config { command } = cli.command {
        return Ok(config_cmd::run(cli.config.as_deref(), resolved, command));
    }
    if let Command::Ceb { command } = cli.command {
        ceb_sign::run(command)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // The rules' reference is the binary's own catalogue: no folder, store, server or token.
    if let Command::Rules {
        command: rules_cmd::RulesCommand::Reference { json, markdown },
    } = &cli.command
    {
        rules_cmd::print_reference(*json, *markdown)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let settings = resolved?.config;
    let server = settings.client.server.clone();
    if server.is_some() && !cli.command.works_at_a_desk() {
        anyhow::bail!(
            "a server is set (--server, CUSTOMS_SERVER, client.server or the profile {profile}), \
             and `customs {name}` works on the data folder only; the commands that work on a \
             server are lodge, show, search, owed, pay, release, hold, tasks, rules, watch and \
             stats / 已设置服务器地址：`customs {name}` 只能用于本地数据目录",
            profile = settings.profile.as_deref().unwrap_or("-"),
            name = cli.command.name()
        );
    }
    // Fail closed: a command that knows only the folder's SQLite store is refused rather than
    // silently acting on a store nobody serves.
    if settings.serve.database.is_some()
        && server.is_none()
        && cli.command.works_on_the_folders_store_only()
    {
        anyhow::bail!(
            "serve.database is set (--database, CUSTOMS_DATABASE or the file), and `customs {name}` \
             works on the data folder's SQLite store only: on PostgreSQL use the API (or `customs \
             admin`, `customs worker`) / 已设置 serve.database：`customs {name}` 只能用于数据目录自带的 \
             SQLite 数据库；PostgreSQL 模式下请使用 API",
            name = cli.command.name()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let config = clearance_config(&settings)?;
    // An estimate opens no store: not even the data folder is created.
    if let Command::Assess(args) = cli.command {
        assess::run(args, config.utc_offset)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // A backup reads a folder that must already exist; a restore makes a new one: neither may
    // create the data folder first.
    if let Command::Backup(args) = cli.command {
        runtime.block_on(backup_cmd::backup(&settings.data, args))?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Command::Restore(args) = cli.command {
        runtime.block_on(backup_cmd::restore(args, &settings.data))?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if cli.command.works_at_a_desk() {
        let place = match server {
            Some(server) => desk::Place::Server {
                server,
                ca_file: settings.client.ca_file.clone(),
            },
            None => desk::Place::Folder(datadir::DataDir::open_existing(&settings.data)?),
        };
        let site = desk::Site {
            place,
            token_file: settings.client.token_file.clone(),
        };
        runtime.block_on(async move {
            match cli.command {
                Command::Lodge(args) => lodge::run(&site, config, args).await,
                Command::Show(args) => show::run(&site, config, args).await,
                Command::Search(args) => search_cmd::run(&site, config, args).await,
                Command::Owed(args) => settle_cmd::owed(&site, config, args).await,
                Command::Pay(args) => settle_cmd::pay(&site, config, args).await,
                Command::Release(args) => settle_cmd::release(&site, config, args).await,
                Command::Hold(args) => settle_cmd::hold(&site, config, args).await,
                Command::Tasks { command } => tasks_cmd::run(&site, config, command).await,
                Command::Rules { command } => rules_cmd::run(&site, config, command).await,
                Command::Watch { command } => watch_cmd::run(&site, config, command).await,
                Command::Stats { command } => stats_cmd::run(&site, config, command).await,
                _ => unreachable!("a desk command"),
            }
        })?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let data = if cli.command.may_create_the_data_folder() {
        datadir::DataDir::create(&settings.data)?
    } else {
        datadir::DataDir::open_existing(&settings.data)?
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&data, config, &settings, args).await,
            Command::Worker(_) => worker::run(&data, config, &settings).await,
            Command::Audit { command, .. } => {
                audit_cmd::run(&data, settings.serve.database.as_deref(), command).await
            }
            Command::Admin(args) => {
                admin::run(&data, config, settings.serve.database.as_deref(), args).await
            }
            Command::Tariff(args) => {
                releases_cmd::run(&data, config, ReleaseKind::Tariff, args).await
            }
            Command::Rates(args) => {
                releases_cmd::run(&data, config, ReleaseKind::ExchangeRates, args).await
            }
            Command::ValueControl(args) => {
                releases_cmd::run(&data, config, ReleaseKind::ValueControl, args).await
            }
            Command::Reassess(args) => reassess_cmd::run(&data, config, args).await,
            Command::Reference(args) => releases_cmd::run_reference(&data, config, args).await,
            Command::History { command } => model_cmd::history(&data, config, command).await,
            Command::Model { command } => model_cmd::model(&data, config, command).await,
            Command::Bank { command } => bank_cmd::run(&data, config, command).await,
            Command::Bench(args) => bench::run(config, args).await,
            Command::Assess(_) | Command::Backup(_) | Command::Restore(_) => {
                unreachable!("run before the data folder is opened")
            }
            Command::Lodge(_)
            | Command::Show(_)
            | Command::Search(_)
            | Command::Owed(_)
            | Command::Pay(_)
            | Command::Release(_)
            | Command::Hold(_)
            | Command::Tasks { .. }
            | Command::Rules { .. }
            | Command::Watch { .. }
            | Command::Stats { .. } => unreachable!("run at a desk above"),
            Command::Config { .. } => unreachable!("the configuration is shown before"),
            Command::Ceb { .. } => unreachable!("run before the configuration is used"),
        }
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every option and argument of every subcommand says what it is for in `--help`.
    #[test]
    fn every_option_of_every_command_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let command = super::Cli::command();
        command.clone().debug_assert();
        // An option a subcommand shares with a global one (`bench --data`) must have its type,
        // or parsing the command line panics.
        use clap::Parser;
        for line in [
            &["customs", "--data", "d", "bench", "--data", "b"][..],
            &["customs", "bench"],
            &["customs", "serve", "--listen", "localhost:0"],
        ] {
            super::Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        let mut missing = Vec::new();
        walk(&command, "customs", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }
}
