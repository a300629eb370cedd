//! The configuration: a TOML file (`--config`, `CUSTOMS_CONFIG`), environment variables and
//! flags, in that order of precedence (a flag wins over a variable, a variable over the file, the
//! file over the default).
//!
//! Every setting is one line of [`KEYS`]: its name in the file, its variable, its flag, its kind
//! and its default. The layers are merged key by key, each value is checked against its kind, and
//! every problem is collected (never only the first), each naming the key, the value, where the
//! value came from and why it is refused, in English and Chinese. The merged table is then read
//! into the typed [`Config`] (serde, unknown fields refused), which the commands use. To add a
//! setting: a line in `KEYS`, a field in its section of `Config`, and (if it has one) its flag
//! in the command's arguments, passed to [`resolve`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A setting's kind: how a value from a variable or flag (text) is read, and what is allowed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A file or folder path, not empty.
    Path,
    /// Text, not empty, checked by its own rule.
    Text(fn(&str) -> Result<(), (String, String)>),
    /// `host:port`, the host a name or an address (resolved when the server starts).
    Address,
    /// A whole number in `min..=max`.
    Count { min: i64, max: i64 },
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A secret: at least [`SECRET_LENGTH_MIN`] characters, never shown.
    Secret,
}

/// Shortest secret accepted (the metrics token): 16 random characters are beyond guessing at
/// any rate the server answers.
pub const SECRET_LENGTH_MIN: usize = 16;

/// Longest timeout setting, in seconds: an hour is already far beyond any reasonable client.
const SECONDS_MAX: i64 = 3600;

/// A default value.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    None,
    Text(&'static str),
    Number(i64),
}

/// One setting.
#[derive(Debug)]
pub struct Key {
    /// `section.name` in the file, or `name` for a top-level one.
    pub name: &'static str,
    pub env: Option<&'static str>,
    pub flag: Option<&'static str>,
    pub kind: Kind,
    pub default: Default,
}

const fn key(
    name: &'static str,
    env: Option<&'static str>,
    flag: Option<&'static str>,
    kind: Kind,
    default: Default,
) -> Key {
    Key {
        name,
        env,
        flag,
        kind,
        default,
    }
}

const fn count(min: i64, max: i64) -> Kind {
    Kind::Count { min, max }
}

/// Every setting. The defaults are the named constants of the crates that use them.
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    key("data", Some("CUSTOMS_DATA"), Some("--data"), Kind::Path, Default::Text("customs-data")),
    key("number_template", Some("CUSTOMS_NUMBER_TEMPLATE"), Some("--number-template"), Kind::Text(number_template), Default::Text(domain::numbering::CHINA_NUMBER_TEMPLATE)),
    // The profile of the file (`[profiles.NAME]`) whose values the `client.*` keys take.
    key("profile", Some("CUSTOMS_PROFILE"), Some("--profile"), Kind::Text(profile_name), Default::None),
    key("serve.listen", Some("CUSTOMS_LISTEN"), Some("--listen"), Kind::Address, Default::Text("127.0.0.1:8080")),
    key("serve.rate_per_client", Some("CUSTOMS_RATE_PER_CLIENT"), Some("--rate-per-client"), count(1, u32::MAX as i64), Default::Number(http_api::REQUESTS_PER_SECOND_PER_CLIENT_DEFAULT as i64)),
    key("serve.burst_per_client", Some("CUSTOMS_BURST_PER_CLIENT"), None, count(1, u32::MAX as i64), Default::Number(http_api::BURST_PER_CLIENT_DEFAULT as i64)),
    key("serve.connections_max", Some("CUSTOMS_CONNECTIONS_MAX"), None, count(1, 1_000_000), Default::Number(http_api::CONNECTIONS_MAX_DEFAULT as i64)),
    key("serve.connections_per_address", Some("CUSTOMS_CONNECTIONS_PER_ADDRESS"), Some("--connections-per-address"), count(1, 1_000_000), Default::Number(http_api::CONNECTIONS_PER_ADDRESS_MAX_DEFAULT as i64)),
    key("serve.header_read_timeout_seconds", Some("CUSTOMS_HEADER_READ_TIMEOUT_SECONDS"), None, count(1, SECONDS_MAX), Default::Number(http_api::HEADER_READ_TIMEOUT_DEFAULT.as_secs() as i64)),
    key("serve.write_stall_timeout_seconds", Some("CUSTOMS_WRITE_STALL_TIMEOUT_SECONDS"), None, count(1, SECONDS_MAX), Default::Number(http_api::WRITE_STALL_TIMEOUT_DEFAULT.as_secs() as i64)),
    key("serve.request_timeout_seconds", Some("CUSTOMS_REQUEST_TIMEOUT_SECONDS"), None, count(1, SECONDS_MAX), Default::Number(http_api::REQUEST_TIMEOUT_DEFAULT.as_secs() as i64)),
    key("serve.tls_handshake_timeout_seconds", Some("CUSTOMS_TLS_HANDSHAKE_TIMEOUT_SECONDS"), None, count(1, SECONDS_MAX), Default::Number(http_api::TLS_HANDSHAKE_TIMEOUT.as_secs() as i64)),
    key("serve.shutdown_grace_seconds", Some("CUSTOMS_SHUTDOWN_GRACE_SECONDS"), None, count(1, SECONDS_MAX), Default::Number(http_api::SHUTDOWN_GRACE_DEFAULT.as_secs() as i64)),
    key("serve.time_zone", Some("CUSTOMS_TIME_ZONE"), Some("--time-zone"), Kind::Text(time_zone), Default::Text(http_api::DISPLAY_TIME_ZONE_DEFAULT)),
    // The records in PostgreSQL instead of the data folder's SQLite file (scale-out).
    key("serve.database", Some("CUSTOMS_DATABASE"), Some("--database"), Kind::Text(database_url), Default::None),
    // Lodgings an instance on PostgreSQL keeps in its continuity queue at most (see continuity).
    key("serve.continuity_queue_max", Some("CUSTOMS_CONTINUITY_QUEUE_MAX"), None, count(1, crate::continuity::CONTINUITY_QUEUE_MAX as i64), Default::Number(crate::continuity::CONTINUITY_QUEUE_MAX as i64)),
    // Webhooks to private, loopback or link-local addresses (SSRF): refused unless "yes".
    key("serve.webhook_private_targets", Some("CUSTOMS_WEBHOOK_PRIVATE_TARGETS"), None, Kind::OneOf(&["yes", "no"]), Default::Text("no")),
    key("log.format", Some("CUSTOMS_LOG_FORMAT"), Some("--log-format"), Kind::OneOf(&["text", "json"]), Default::Text("text")),
    key("log.filter", Some("CUSTOMS_LOG"), None, Kind::Text(log_filter), Default::Text("info")),
    key("tls.certificate", Some("CUSTOMS_TLS_CERTIFICATE"), Some("--tls-certificate"), Kind::Path, Default::None),
    key("tls.key", Some("CUSTOMS_TLS_KEY"), Some("--tls-key"), Kind::Path, Default::None),
    key("metrics.listen", Some("CUSTOMS_METRICS_LISTEN"), Some("--metrics-listen"), Kind::Address, Default::None),
    // No flag: a secret on the command line is readable by every user of the machine (ps).
    key("metrics.token", Some("CUSTOMS_METRICS_TOKEN"), None, Kind::Secret, Default::None),
    // Unset: the in-process bus, no NATS.
    key("bus.url", Some("CUSTOMS_BUS"), Some("--bus"), Kind::Text(bus_url), Default::None),
    // One stream and subject prefix per data folder: a stream holds one store's chain.
    key("bus.stream", Some("CUSTOMS_BUS_STREAM"), None, Kind::Text(stream_name), Default::Text(bus::STREAM_NAME_DEFAULT)),
    key("bus.subject_prefix", Some("CUSTOMS_BUS_SUBJECT_PREFIX"), None, Kind::Text(subject_prefix), Default::Text(bus::SUBJECT_PREFIX_DEFAULT)),
    // The bearer token of the officer account the worker's jobs are recorded as; unset: no jobs
    // run (a roll-back's reassessments are left to officers). No flag: a secret (see metrics.token).
    key("worker.token", Some("CUSTOMS_WORKER_TOKEN"), None, Kind::Secret, Default::None),
    // The part of the risk model's inspection budget spent on exploration, in percent (see
    // clearance::ClearanceConfig::model_exploration_percent).
    key("model.exploration_percent", Some("CUSTOMS_MODEL_EXPLORATION_PERCENT"), Some("--model-exploration-percent"), count(0, clearance::MODEL_EXPLORATION_PERCENT_MAX as i64), Default::Number(clearance::MODEL_EXPLORATION_PERCENT_DEFAULT as i64)),
    // The desk commands against a running server instead of the data folder (issue 14). The
    // chosen `profile` (above) gives these keys their values; a variable or flag still wins.
    key("client.server", Some("CUSTOMS_SERVER"), Some("--server"), Kind::Text(server_url), Default::None),
    // The bearer token in a file of its own (never on the command line), readable by its owner only.
    key("client.token_file", Some("CUSTOMS_TOKEN_FILE"), Some("--token-file"), Kind::Path, Default::None),
    // A private CA's certificates (PEM) trusted besides the system's, for the server's TLS.
    key("client.ca_file", Some("CUSTOMS_CA_FILE"), Some("--ca-file"), Kind::Path, Default::None),
];

/// The keys a profile (`[profiles.NAME]`) may set, by their name in the profile.
pub const PROFILE_KEYS: &[(&str, &str)] = &[
    ("server", "client.server"),
    ("token_file", "client.token_file"),
    ("ca_file", "client.ca_file"),
];

/// Profiles a file may hold at most: a desk has a few (trade, officer, test), never hundreds.
pub const PROFILES_MAX: usize = 64;

/// The effective configuration, typed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data: PathBuf,
    pub number_template: String,
    pub serve: ServeConfig,
    pub log: LogConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub bus: BusConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub model: ModelSettings,
    /// The profile chosen (`--profile`, `CUSTOMS_PROFILE`), if any.
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub client: ClientConfig,
}

/// Where the desk commands work: a running server (`server`) instead of the data folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub server: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// The heavy jobs run off the request path (`customs worker`, or in `serve` on the embedded
/// store): who they are recorded as.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    pub token: Option<String>,
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: String,
    pub rate_per_client: u32,
    pub burst_per_client: u32,
    pub connections_max: usize,
    pub connections_per_address: usize,
    pub header_read_timeout_seconds: u64,
    pub write_stall_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
    pub tls_handshake_timeout_seconds: u64,
    pub shutdown_grace_seconds: u64,
    /// The console's display zone, checked by `time_zone` (`serve_config` parses it).
    pub time_zone: String,
    /// A PostgreSQL URL: the records are kept there instead of in the data folder's SQLite
    /// file (the folder still holds the signing and buyer-identity keys).
    pub database: Option<String>,
    /// With `database`: lodgings the continuity queue holds at most.
    pub continuity_queue_max: usize,
    /// "yes": webhooks may target private networks (see `http_api::webhooks`).
    pub webhook_private_targets: String,
}

/// How the active risk model spends its inspection budget.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// The part explored, in percent (0 to `clearance::MODEL_EXPLORATION_PERCENT_MAX`).
    pub exploration_percent: u32,
}

impl std::default::Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            exploration_percent: clearance::MODEL_EXPLORATION_PERCENT_DEFAULT,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: String,
    pub filter: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: Option<String>,
    pub token: Option<String>,
}

/// The event bus: NATS JetStream at `url`, or the in-process bus when unset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    pub url: Option<String>,
    pub stream: String,
    pub subject_prefix: String,
}

impl std::default::Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: None,
            stream: bus::STREAM_NAME_DEFAULT.to_owned(),
            subject_prefix: bus::SUBJECT_PREFIX_DEFAULT.to_owned(),
        }
    }
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Config {
    pub fn tls_files(&self) -> Option<http_api::TlsFiles> {
        match (&self.tls.certificate, &self.tls.key) {
            (Some(certificate), Some(key)) => Some(http_api::TlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
    /// `[profiles.NAME]` of the file.
    Profile {
        file: PathBuf,
        name: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Profile { file, name } => {
                write!(f, "profile {name} of file {}", file.display())
            }
        }
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    /// As given (a secret is never shown).
    pub value: String,
    pub source: Option<Source>,
    pub why: String,
    pub why_zh: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key, self.value)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        write!(f, ": {} / {}", self.why, self.why_zh)
    }
}

/// Every problem found, shown one a line.
#[derive(Debug)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the configuration has {} problem(s) / 配置有 {} 处问题:",
            self.0.len(),
            self.0.len()
        )?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// The configuration and where each value came from.
#[derive(Debug)]
pub struct Resolved {
    pub config: Config,
    /// Each set key's value and source, in the order of [`KEYS`].
    pub values: Vec<(&'static Key, toml::Value, Source)>,
    /// Every profile of the file, chosen or not (`config check` checks their files too).
    pub profiles: Profiles,
}

/// Merges the file (if any), the environment (`env` looks a variable up) and the flags given
/// (`flags`: a key's name and the flag's text), checks every value, and reads the result.
pub fn resolve(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    flags: &[(&'static str, Option<String>)],
) -> Result<Resolved, Problems> {
    let mut problems = Vec::new();
    let (file_values, profiles) = match file {
        Some(path) => read_file(path, &mut problems),
        None => (BTreeMap::new(), BTreeMap::new()),
    };
    let mut values: Vec<(&'static Key, toml::Value, Source)> = Vec::new();
    // The chosen profile's values, once `profile` is resolved (it comes before `client.*`).
    let mut chosen_profile: Option<(String, &BTreeMap<&'static str, toml::Value>)> = None;
    let mut profile_looked_up = false;
    for key in KEYS {
        if key.name.starts_with("client.") && !profile_looked_up {
            chosen_profile = choose_profile(file, &values, &profiles, &mut problems);
            profile_looked_up = true;
        }
        let from_profile = chosen_profile
            .as_ref()
            .and_then(|(name, values)| Some((name, values.get(key.name)?)));
        let flag = flags
            .iter()
            .find(|(name, _)| *name == key.name)
            .and_then(|(_, value)| value.clone());
        let chosen = if let (Some(text), Some(flag)) = (flag, key.flag) {
            from_text(key, &text, Source::Flag(flag), &mut problems)
        } else if let Some((name, text)) = key.env.and_then(|name| Some((name, env(name)?))) {
            from_text(key, &text, Source::Env(name), &mut problems)
        } else if let Some((name, value)) = from_profile {
            Some((
                value.clone(),
                Source::Profile {
                    file: file.expect("read from a file").to_path_buf(),
                    name: name.clone(),
                },
            ))
        } else if let Some(value) = file_values.get(key.name) {
            Some((
                value.clone(),
                Source::File(file.expect("read from a file").to_path_buf()),
            ))
        } else {
            match key.default {
                Default::None => None,
                Default::Text(text) => Some((toml::Value::String(text.into()), Source::Default)),
                Default::Number(n) => Some((toml::Value::Integer(n), Source::Default)),
            }
        };
        let Some((value, source)) = chosen else {
            continue;
        };
        match check(key, &value) {
            Ok(()) => values.push((key, value, source)),
            Err((why, why_zh)) => problems.push(Problem {
                key: key.name.into(),
                value: shown(key, &value),
                source: Some(source),
                why,
                why_zh,
            }),
        }
    }
    check_together(&values, &mut problems);
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let mut table = toml::Table::new();
    for (key, value, _) in &values {
        match key.name.split_once('.') {
            Some((section, name)) => {
                let section = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(section) = section {
                    section.insert(name.into(), value.clone());
                }
            }
            None => {
                table.insert(key.name.into(), value.clone());
            }
        }
    }
    let config = Config::deserialize(toml::Value::Table(table)).map_err(|error| {
        // Every value was checked against its kind: this is a `KEYS` and `Config` that disagree.
        Problems(vec![Problem {
            key: "(configuration)".into(),
            value: String::new(),
            source: None,
            why: format!("the checked values do not make a configuration: {error}"),
            why_zh: "已检查的配置值无法组成配置（程序错误）".into(),
        }])
    })?;
    Ok(Resolved {
        config,
        values,
        profiles,
    })
}

/// The profiles of a file: each name's values by the key they set (`client.server`, ...).
pub type Profiles = BTreeMap<String, BTreeMap<&'static str, toml::Value>>;

/// The profile named by the `profile` key (already resolved into `values`), if one is: a name the
/// file does not hold is a problem naming the ones it does.
fn choose_profile<'p>(
    file: Option<&Path>,
    values: &[(&'static Key, toml::Value, Source)],
    profiles: &'p Profiles,
    problems: &mut Vec<Problem>,
) -> Option<(String, &'p BTreeMap<&'static str, toml::Value>)> {
    let (key, value, source) = values.iter().find(|(key, _, _)| key.name == "profile")?;
    let name = value.as_str()?;
    if let Some(found) = profiles.get(name) {
        return Some((name.to_owned(), found));
    }
    let (why, why_zh) = match file {
        None => (
            "no configuration file (--config, CUSTOMS_CONFIG) holds profiles".to_owned(),
            "未指定配置文件（--config、CUSTOMS_CONFIG），没有可用的配置档".to_owned(),
        ),
        Some(file) => {
            let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
            (
                format!(
                    "{} has no [profiles.{name}]; its profiles are: {}",
                    file.display(),
                    if names.is_empty() {
                        "(none)".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
                format!("配置文件中没有配置档 {name}"),
            )
        }
    };
    problems.push(Problem {
        key: key.name.into(),
        value: value.to_string(),
        source: Some(source.clone()),
        why,
        why_zh,
    });
    None
}

/// `[profiles.NAME]` tables: every value checked against the key it sets, every unknown key named.
fn read_profiles(path: &Path, table: &toml::Value, problems: &mut Vec<Problem>) -> Profiles {
    let source = Some(Source::File(path.to_path_buf()));
    let mut profiles = Profiles::new();
    let Some(table) = table.as_table() else {
        problems.push(Problem {
            key: "profiles".into(),
            value: table.to_string(),
            source,
            why: "must be tables [profiles.NAME]".into(),
            why_zh: "必须是 [profiles.名称] 表".into(),
        });
        return profiles;
    };
    if table.len() > PROFILES_MAX {
        problems.push(Problem {
            key: "profiles".into(),
            value: format!("({} profiles)", table.len()),
            source: source.clone(),
            why: format!("at most {PROFILES_MAX} profiles"),
            why_zh: format!("配置档最多 {PROFILES_MAX} 个"),
        });
        return profiles;
    }
    for (name, profile) in table {
        let mut problem = |key: String, value: String, why: String, why_zh: String| {
            problems.push(Problem {
                key,
                value,
                source: source.clone(),
                why,
                why_zh,
            })
        };
        if let Err((why, why_zh)) = profile_name(name) {
            problem(format!("profiles.{name}"), String::new(), why, why_zh);
            continue;
        }
        let Some(profile) = profile.as_table() else {
            problem(
                format!("profiles.{name}"),
                profile.to_string(),
                "must be a table of server, token_file, ca_file".into(),
                "必须是含 server、token_file、ca_file 的表".into(),
            );
            continue;
        };
        let mut found = BTreeMap::new();
        for (inner, value) in profile {
            let Some((_, full)) = PROFILE_KEYS.iter().find(|(short, _)| short == inner) else {
                problem(
                    format!("profiles.{name}.{inner}"),
                    value.to_string(),
                    format!(
                        "no such setting of a profile; a profile sets: {}",
                        PROFILE_KEYS
                            .iter()
                            .map(|(short, _)| *short)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "配置档没有此配置项".into(),
                );
                continue;
            };
            let key = KEYS
                .iter()
                .find(|key| key.name == *full)
                .expect("a profile key is a key");
            match check(key, value) {
                Ok(()) => {
                    found.insert(key.name, value.clone());
                }
                Err((why, why_zh)) => problem(
                    format!("profiles.{name}.{inner}"),
                    shown(key, value),
                    why,
                    why_zh,
                ),
            }
        }
        profiles.insert(name.clone(), found);
    }
    profiles
}

/// The file's keys as `section.name`, every unknown key and unreadable part a problem, and its
/// profiles.
fn read_file(
    path: &Path,
    problems: &mut Vec<Problem>,
) -> (BTreeMap<&'static str, toml::Value>, Profiles) {
    let mut found = BTreeMap::new();
    let source = Some(Source::File(path.to_path_buf()));
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(Problem {
                key: "--config".into(),
                value: path.display().to_string(),
                source: None,
                why: format!("the configuration file cannot be read: {error}"),
                why_zh: "无法读取配置文件".into(),
            });
            return (found, Profiles::new());
        }
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(error) => {
            problems.push(Problem {
                key: "--config".into(),
                value: path.display().to_string(),
                source: None,
                why: format!("not valid TOML: {}", error.to_string().trim()),
                why_zh: "不是有效的 TOML".into(),
            });
            return (found, Profiles::new());
        }
    };
    let profiles = match table.get("profiles") {
        Some(value) => read_profiles(path, value, problems),
        None => Profiles::new(),
    };
    let mut unknown = |name: String, value: &toml::Value| {
        problems.push(Problem {
            key: name,
            value: value.to_string(),
            source: source.clone(),
            why: format!(
                "no such setting; the settings are: {}",
                KEYS.iter()
                    .map(|key| key.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            why_zh: "没有此配置项".into(),
        })
    };
    for (name, value) in &table {
        match value {
            _ if name == "profiles" => {}
            toml::Value::Table(section) if is_section(name) => {
                for (inner, value) in section {
                    let full = format!("{name}.{inner}");
                    match KEYS.iter().find(|key| key.name == full) {
                        Some(key) => {
                            found.insert(key.name, value.clone());
                        }
                        None => unknown(full, value),
                    }
                }
            }
            _ => match KEYS
                .iter()
                .find(|key| key.name == name && !is_section(name))
            {
                Some(key) => {
                    found.insert(key.name, value.clone());
                }
                None => unknown(name.clone(), value),
            },
        }
    }
    (found, profiles)
}

fn is_section(name: &str) -> bool {
    KEYS.iter().any(|key| {
        key.name
            .split_once('.')
            .is_some_and(|(section, _)| section == name)
    })
}

/// A variable's or flag's text as a value of the key's kind.
fn from_text(
    key: &Key,
    text: &str,
    source: Source,
    problems: &mut Vec<Problem>,
) -> Option<(toml::Value, Source)> {
    match key.kind {
        Kind::Count { .. } => match text.trim().parse::<i64>() {
            Ok(n) => Some((toml::Value::Integer(n), source)),
            Err(_) => {
                problems.push(Problem {
                    key: key.name.into(),
                    value: format!("{text:?}"),
                    source: Some(source),
                    why: "not a whole number".into(),
                    why_zh: "不是整数".into(),
                });
                None
            }
        },
        _ => Some((toml::Value::String(text.into()), source)),
    }
}

/// How a value is shown: as TOML, a secret never (nor a database URL's password).
pub fn shown(key: &Key, value: &toml::Value) -> String {
    match key.kind {
        Kind::Secret => "\"<redacted>\"".into(),
        _ if key.name == "serve.database" => match value.as_str() {
            Some(url) => toml::Value::String(store_postgres::redacted_url(url)).to_string(),
            None => value.to_string(),
        },
        _ => value.to_string(),
    }
}

/// The value against its key's kind.
fn check(key: &Key, value: &toml::Value) -> Result<(), (String, String)> {
    match key.kind {
        Kind::Count { min, max } => {
            let Some(n) = value.as_integer() else {
                return Err(("must be a whole number".into(), "必须是整数".into()));
            };
            if n < min || n > max {
                return Err((
                    format!("must be from {min} to {max}"),
                    format!("必须在 {min} 到 {max} 之间"),
                ));
            }
            Ok(())
        }
        _ => {
            let Some(text) = value.as_str() else {
                return Err(("must be text in quotes".into(), "必须是加引号的文本".into()));
            };
            if text.trim().is_empty() {
                return Err(("must not be empty".into(), "不能为空".into()));
            }
            match key.kind {
                Kind::Text(rule) => rule(text),
                Kind::Address => address(text),
                Kind::OneOf(words) if !words.contains(&text) => Err((
                    format!("must be one of: {}", words.join(", ")),
                    format!("必须是以下之一：{}", words.join("、")),
                )),
                Kind::Secret if text.chars().count() < SECRET_LENGTH_MIN => Err((
                    format!("must have at least {SECRET_LENGTH_MIN} characters"),
                    format!("至少需要 {SECRET_LENGTH_MIN} 个字符"),
                )),
                _ => Ok(()),
            }
        }
    }
}

/// Checks that need two keys.
fn check_together(values: &[(&'static Key, toml::Value, Source)], problems: &mut Vec<Problem>) {
    let get = |name: &str| values.iter().find(|(key, _, _)| key.name == name);
    match (get("tls.certificate"), get("tls.key")) {
        (Some((key, value, source)), None) | (None, Some((key, value, source))) => {
            problems.push(Problem {
                key: key.name.into(),
                value: value.to_string(),
                source: Some(source.clone()),
                why: "tls.certificate and tls.key are set together or not at all".into(),
                why_zh: "tls.certificate 与 tls.key 必须同时设置或同时不设置".into(),
            })
        }
        _ => {}
    }
    if let (Some((key, value, source)), Some((_, listen, _))) =
        (get("metrics.listen"), get("serve.listen"))
        && value == listen
        // Port 0 is any free port: two of them are two ports.
        && !value.as_str().is_some_and(|text| text.ends_with(":0"))
    {
        problems.push(Problem {
            key: key.name.into(),
            value: value.to_string(),
            source: Some(source.clone()),
            why: "must differ from serve.listen (leave it unset to serve /metrics on the API's \
                  listener)"
                .into(),
            why_zh: "不能与 serve.listen 相同（不设置则 /metrics 在接口监听地址上提供）".into(),
        });
    }
}

/// A profile's name: letters, digits, `_` and `-` (it is a TOML table name and a word on the
/// command line).
fn profile_name(text: &str) -> Result<(), (String, String)> {
    if !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err((
            "a profile name has 1 to 64 letters, digits, _ and -, e.g. broker".to_owned(),
            "配置档名称为 1 到 64 个字母、数字、_ 或 -，例如 broker".to_owned(),
        ))
    }
}

/// The server of the desk commands: `https://host[:port]`, or `http://` to a loopback address
/// only (a bearer token over plain HTTP is readable by anyone on the way).
pub fn server_url(text: &str) -> Result<(), (String, String)> {
    let refused = |why: &str, why_zh: &str| Err((why.to_owned(), why_zh.to_owned()));
    let Ok(url) = reqwest::Url::parse(text) else {
        return refused(
            "not a URL; e.g. https://customs.example:8443",
            "不是有效的地址，例如 https://customs.example:8443",
        );
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refused(
            "must not hold a user or password (the token comes from --token or a token file)",
            "地址中不能含用户名或密码（令牌来自 --token 或令牌文件）",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return refused(
            "must not have a query or fragment",
            "地址不能含查询串或片段",
        );
    }
    let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
        return refused("must name a host", "必须包含主机名");
    };
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => refused(
            "http:// only to this machine (localhost, 127.0.0.1, [::1]): elsewhere use https://, \
             a token over plain HTTP is readable on the way",
            "仅本机地址可用 http://，其他地址请使用 https://（明文 HTTP 传输的令牌可被窃听）",
        ),
        _ => refused(
            "must be https://host[:port] (or http:// to this machine)",
            "必须为 https://主机[:端口]（本机可用 http://）",
        ),
    }
}

fn number_template(text: &str) -> Result<(), (String, String)> {
    domain::NumberScheme::parse(text)
        .map(drop)
        .map_err(|error| (error.to_string(), "报关单编号模板无效".into()))
}

fn time_zone(text: &str) -> Result<(), (String, String)> {
    // The parser's message is already in both languages.
    http_api::parse_time_zone(text)
        .map(drop)
        .map_err(|error| (error, "时区无效".into()))
}

/// A NATS server: `nats://host:port` (or `tls://host:port` for TLS), the port required so that
/// the server the relay publishes to is never a guess.
fn bus_url(text: &str) -> Result<(), (String, String)> {
    let refused = || {
        (
            "must be nats://host:port or tls://host:port, e.g. nats://127.0.0.1:4222".to_owned(),
            "必须是 nats://主机:端口 或 tls://主机:端口，例如 nats://127.0.0.1:4222".to_owned(),
        )
    };
    let rest = text
        .strip_prefix("nats://")
        .or_else(|| text.strip_prefix("tls://"))
        .ok_or_else(refused)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(refused)?;
    if host.is_empty() || host.contains(['/', '@', ' ']) || port.parse::<u16>().is_err() {
        return Err(refused());
    }
    Ok(())
}

/// A JetStream stream name: letters, digits, `_` and `-` (NATS gives `.`, `*`, `>` and spaces a
/// meaning in the API subjects that carry the name).
fn stream_name(text: &str) -> Result<(), (String, String)> {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err((
            "a stream name has only letters, digits, _ and -, e.g. CUSTOMS_EVENTS".to_owned(),
            "流名称只能包含字母、数字、_ 和 -，例如 CUSTOMS_EVENTS".to_owned(),
        ))
    }
}

/// A subject prefix: dot-separated tokens of letters, digits, `_` and `-`, no wildcard.
fn subject_prefix(text: &str) -> Result<(), (String, String)> {
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if text.split('.').all(token) {
        Ok(())
    } else {
        Err((
            "a subject prefix is tokens of letters, digits, _ and - joined by dots, e.g. \
             customs.events"
                .to_owned(),
            "主题前缀由字母、数字、_ 和 - 组成的片段以点连接，例如 customs.events".to_owned(),
        ))
    }
}

fn database_url(text: &str) -> Result<(), (String, String)> {
    store_postgres::check_database_url(text).map_err(|why| {
        (
            why,
            "不是有效的 PostgreSQL 地址（例如 postgres://customs@db:5432/customs）".into(),
        )
    })
}

fn log_filter(text: &str) -> Result<(), (String, String)> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(drop)
        .map_err(|error| {
            (
                format!("not a log filter (e.g. info, or info,http_api=debug): {error}"),
                "不是有效的日志过滤规则（例如 info 或 info,http_api=debug）".into(),
            )
        })
}

/// `host:port` with a port number; the host is resolved when the server starts.
fn address(text: &str) -> Result<(), (String, String)> {
    let refused = || {
        (
            "must be host:port, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080".to_owned(),
            "必须为 主机:端口，例如 127.0.0.1:8080、[::1]:8080 或 localhost:8080".to_owned(),
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(refused)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(refused());
    }
    Ok(())
}

/// Resolves `host:port` (a name or an address) to the first address it names, for binding.
pub async fn socket_address(key: &str, text: &str) -> anyhow::Result<std::net::SocketAddr> {
    let mut found = tokio::net::lookup_host(text).await.map_err(|error| {
        anyhow::anyhow!(
            "{key} = {text:?}: the host cannot be resolved ({error}) / 无法解析主机名 {text}"
        )
    })?;
    found.next().ok_or_else(|| {
        anyhow::anyhow!("{key} = {text:?}: the host names no address / 主机名没有对应地址")
    })
}

/// The effective configuration as TOML, each value's source in a comment, unset keys commented
/// out, the secrets redacted.
pub fn show(resolved: &Resolved) -> String {
    let mut out = String::from(
        "# The effective configuration of customs: each value with where it came from\n\
         # (precedence: flag > environment > file > default).\n",
    );
    let mut section = "";
    for key in KEYS {
        let (this_section, name) = key.name.split_once('.').unwrap_or(("", key.name));
        if this_section != section {
            out.push_str(&format!("\n[{this_section}]\n"));
            section = this_section;
        }
        match resolved.values.iter().find(|(k, _, _)| k.name == key.name) {
            Some((key, value, source)) => {
                out.push_str(&format!("{name} = {}  # {source}\n", shown(key, value)));
            }
            None => out.push_str(&format!("# {name} is not set\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn every_key_has_a_field_of_the_config() {
        // A key with a value of its kind in every place: the typed configuration reads them all.
        let mut file = String::new();
        let mut section = "";
        for key in KEYS {
            let (this, name) = key.name.split_once('.').unwrap_or(("", key.name));
            if this != section {
                file.push_str(&format!("[{this}]\n"));
                section = this;
            }
            let value = match key.kind {
                Kind::Count { min, .. } => min.to_string(),
                Kind::Address if key.name == "metrics.listen" => "\"127.0.0.1:9100\"".into(),
                Kind::Address => "\"127.0.0.1:8080\"".into(),
                Kind::OneOf(words) => format!("{:?}", words[0]),
                Kind::Secret => "\"0123456789abcdef\"".into(),
                Kind::Text(_) if key.name == "bus.url" => "\"nats://127.0.0.1:4222\"".into(),
                Kind::Text(_) => match key.default {
                    Default::Text(text) => format!("{text:?}"),
                    _ if key.name == "serve.database" => {
                        "\"postgres://customs@127.0.0.1:5432/customs\"".into()
                    }
                    _ if key.name == "client.server" => "\"https://customs.example:8443\"".into(),
                    // No profile is chosen from the file here: it has none.
                    _ if key.name == "profile" => continue,
                    _ => unreachable!("text keys have defaults"),
                },
                Kind::Path => "\"somewhere\"".into(),
            };
            file.push_str(&format!("{name} = {value}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customs.toml");
        std::fs::write(&path, &file).unwrap();

        let resolved = resolve(Some(&path), env_none, &[]).expect(&file);

        assert_eq!(resolved.values.len(), KEYS.len() - 1, "all but `profile`");
        assert!(
            resolved
                .values
                .iter()
                .all(|(_, _, source)| matches!(source, Source::File(_)))
        );
    }

    #[test]
    fn a_flag_wins_over_a_variable_which_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customs.toml");
        std::fs::write(
            &path,
            "[serve]\nrate_per_client = 5\nconnections_max = 7\nconnections_per_address = 3\n",
        )
        .unwrap();
        let env = |name: &str| {
            matches!(name, "CUSTOMS_RATE_PER_CLIENT" | "CUSTOMS_CONNECTIONS_MAX")
                .then(|| "50".to_owned())
        };

        let resolved = resolve(
            Some(&path),
            env,
            &[("serve.rate_per_client", Some("500".into()))],
        )
        .unwrap();

        assert_eq!(resolved.config.serve.rate_per_client, 500);
        assert_eq!(resolved.config.serve.connections_max, 50);
        assert_eq!(resolved.config.serve.connections_per_address, 3);
        assert_eq!(
            resolved.config.serve.burst_per_client,
            http_api::BURST_PER_CLIENT_DEFAULT
        );
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customs.toml");
        std::fs::write(
            &path,
            "colour = \"blue\"\n[serve]\nrate_per_client = 0\nlisten = \"nowhere\"\n\
             connections_max = 1000001\n[log]\nformat = \"xml\"\n[metrics]\ntoken = \"short\"\n\
             [tls]\ncertificate = \"cert.pem\"\n",
        )
        .unwrap();
        let env =
            |name: &str| (name == "CUSTOMS_CONNECTIONS_PER_ADDRESS").then(|| "many".to_owned());

        let problems = resolve(Some(&path), env, &[]).unwrap_err().0;
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.key.as_str())
            .collect();

        assert_eq!(
            keys,
            [
                "colour",
                "serve.listen",
                "serve.rate_per_client",
                "serve.connections_max",
                "serve.connections_per_address",
                "log.format",
                "metrics.token",
                "tls.certificate",
            ]
        );
        let text = Problems(problems).to_string();
        assert!(text.contains("serve.rate_per_client = 0 (file "), "{text}");
        assert!(
            text.contains("must be from 1 to 4294967295 / 必须在 1 到 4294967295 之间"),
            "{text}"
        );
        assert!(
            text.contains("(environment CUSTOMS_CONNECTIONS_PER_ADDRESS): not a whole number"),
            "{text}"
        );
        assert!(!text.contains("short"), "a secret is never shown: {text}");
    }

    #[test]
    fn the_edges_of_a_count_are_kept() {
        let at = |text: &str| {
            resolve(
                None,
                env_none,
                &[("serve.connections_per_address", Some(text.into()))],
            )
        };
        assert_eq!(at("1").unwrap().config.serve.connections_per_address, 1);
        assert!(at("0").is_err());
        assert_eq!(
            at("1000000").unwrap().config.serve.connections_per_address,
            1_000_000
        );
        assert!(at("1000001").is_err());
    }

    /// The exploration share: 0 (exploitation only) to the named limit, the default without a
    /// setting, and one past the limit refused naming the key.
    #[test]
    fn the_model_exploration_share_is_kept_within_its_limit() {
        let at = |text: &str| {
            resolve(
                None,
                env_none,
                &[("model.exploration_percent", Some(text.into()))],
            )
        };
        let max = clearance::MODEL_EXPLORATION_PERCENT_MAX;
        assert_eq!(at("0").unwrap().config.model.exploration_percent, 0);
        assert_eq!(
            at(&max.to_string())
                .unwrap()
                .config
                .model
                .exploration_percent,
            max
        );
        let refused = Problems(at(&(max + 1).to_string()).unwrap_err().0).to_string();
        assert!(refused.contains("model.exploration_percent"), "{refused}");
        assert!(
            refused.contains(&format!("must be from 0 to {max}")),
            "{refused}"
        );
        assert!(at("-1").is_err());
        assert_eq!(
            resolve(None, env_none, &[])
                .unwrap()
                .config
                .model
                .exploration_percent,
            clearance::MODEL_EXPLORATION_PERCENT_DEFAULT
        );
        let env = |name: &str| (name == "CUSTOMS_MODEL_EXPLORATION_PERCENT").then(|| "25".into());
        assert_eq!(
            resolve(None, env, &[])
                .unwrap()
                .config
                .model
                .exploration_percent,
            25
        );
    }

    #[test]
    fn a_shown_configuration_is_toml_and_hides_the_token() {
        let env = |name: &str| {
            (name == "CUSTOMS_METRICS_TOKEN").then(|| "s3cret-s3cret-s3cret".to_owned())
        };
        let resolved = resolve(None, env, &[]).unwrap();

        let shown = show(&resolved);

        let table: toml::Table = shown.parse().expect(&shown);
        assert_eq!(table["metrics"]["token"].as_str(), Some("<redacted>"));
        assert!(!shown.contains("s3cret"));
        assert!(
            shown.contains("listen = \"127.0.0.1:8080\"  # default"),
            "{shown}"
        );
        assert!(
            shown.contains("token = \"<redacted>\"  # environment CUSTOMS_METRICS_TOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn the_bus_is_a_nats_address_with_its_port_and_unset_by_default() {
        let at = |text: &str| resolve(None, env_none, &[("bus.url", Some(text.into()))]);
        assert_eq!(resolve(None, env_none, &[]).unwrap().config.bus.url, None);
        for good in [
            "nats://127.0.0.1:4222",
            "tls://nats.example:4443",
            "nats://[::1]:4222",
        ] {
            assert_eq!(at(good).unwrap().config.bus.url.as_deref(), Some(good));
        }
        for bad in [
            "127.0.0.1:4222",
            "http://127.0.0.1:4222",
            "nats://127.0.0.1",
            "nats://:4222",
            "nats://127.0.0.1:99999",
            "nats://user:secret@127.0.0.1:4222",
        ] {
            let text = at(bad).unwrap_err().to_string();
            assert!(text.contains("bus.url"), "{text}");
            assert!(text.contains("nats://host:port"), "{text}");
            assert!(text.contains("主机"), "{text}");
        }
        // Keys without a flag, set by their variables.
        let set = |variable: &'static str, text: &str| {
            resolve(
                None,
                |name: &str| (name == variable).then(|| text.to_owned()),
                &[],
            )
        };
        assert_eq!(
            set("CUSTOMS_BUS_STREAM", "CUSTOMS-2_x")
                .unwrap()
                .config
                .bus
                .stream,
            "CUSTOMS-2_x"
        );
        let text = set("CUSTOMS_BUS_STREAM", "CUSTOMS.EVENTS")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("bus.stream") && text.contains("流名称"),
            "{text}"
        );
        let prefix = set("CUSTOMS_BUS_SUBJECT_PREFIX", "a.b-c.d_1").unwrap();
        assert_eq!(prefix.config.bus.subject_prefix, "a.b-c.d_1");
        for bad in ["a..b", "a.*", "a.>", ".a", "a b"] {
            let text = set("CUSTOMS_BUS_SUBJECT_PREFIX", bad)
                .unwrap_err()
                .to_string();
            assert!(
                text.contains("bus.subject_prefix") && text.contains("主题前缀"),
                "{text}"
            );
        }
    }

    fn profiles_file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("customs.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const PROFILES: &str = "[client]\nserver = \"https://default.example\"\n\
        [profiles.broker]\nserver = \"https://customs.example:8443\"\n\
        token_file = \"/home/b/.config/customs/broker.token\"\n\
        [profiles.officer]\nserver = \"https://officer.example\"\nca_file = \"/etc/ca.pem\"\n";

    #[test]
    fn a_profile_gives_the_client_keys_and_a_flag_still_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = profiles_file(dir.path(), PROFILES);
        let chosen = |env: &'static str, flags: &[(&'static str, Option<String>)]| {
            resolve(
                Some(&path),
                move |name: &str| {
                    (name == "CUSTOMS_PROFILE" && !env.is_empty()).then(|| env.to_owned())
                },
                flags,
            )
        };
        let none = chosen("", &[]).unwrap().config;
        assert_eq!(
            none.client.server.as_deref(),
            Some("https://default.example")
        );
        assert_eq!(none.client.token_file, None);

        let broker = chosen("broker", &[]).unwrap();
        assert_eq!(broker.config.profile.as_deref(), Some("broker"));
        assert_eq!(
            broker.config.client.server.as_deref(),
            Some("https://customs.example:8443")
        );
        assert_eq!(
            broker.config.client.token_file.as_deref(),
            Some(Path::new("/home/b/.config/customs/broker.token"))
        );
        assert!(
            show(&broker).contains("# profile broker of file"),
            "{}",
            show(&broker)
        );

        let officer = chosen("broker", &[("profile", Some("officer".into()))]).unwrap();
        assert_eq!(
            officer.config.client.server.as_deref(),
            Some("https://officer.example"),
            "the flag's profile wins over the variable's"
        );
        assert_eq!(officer.config.client.token_file, None);
        let flag = chosen(
            "broker",
            &[("client.server", Some("https://127.0.0.1:9443".into()))],
        )
        .unwrap();
        assert_eq!(
            flag.config.client.server.as_deref(),
            Some("https://127.0.0.1:9443")
        );
    }

    #[test]
    fn every_problem_of_the_profiles_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = profiles_file(
            dir.path(),
            "[profiles.broker]\nserver = \"http://customs.example\"\ncolour = \"blue\"\n\
             [profiles.\"bad name\"]\nserver = \"https://x.example\"\n",
        );
        let env = |name: &str| (name == "CUSTOMS_PROFILE").then(|| "nobody".to_owned());
        let problems = resolve(Some(&path), env, &[]).unwrap_err();
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "profiles.bad name",
                "profiles.broker.colour",
                "profiles.broker.server",
                "profile"
            ],
            "{problems}"
        );
        let text = problems.to_string();
        assert!(text.contains("http:// only to this machine"), "{text}");
        assert!(text.contains("its profiles are: broker"), "{text}");
        assert!(text.contains("没有配置档 nobody"), "{text}");
        let without_file =
            resolve(None, |_: &str| None, &[("profile", Some("broker".into()))]).unwrap_err();
        assert!(
            without_file.to_string().contains("no configuration file"),
            "{without_file}"
        );
    }

    #[test]
    fn a_server_is_https_or_plain_http_to_this_machine_only() {
        for good in [
            "https://customs.example:8443",
            "https://10.0.0.5",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(server_url(good), Ok(()), "{good}");
        }
        for bad in [
            "customs.example:8443",
            "http://customs.example",
            "http://10.0.0.5:8080",
            "ftp://customs.example",
            "https://user:secret@customs.example",
            "https://customs.example/?token=x",
        ] {
            assert!(server_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_holds_at_most_the_profiles_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: usize| {
            let text: String = (0..n)
                .map(|i| format!("[profiles.p{i}]\nserver = \"https://c{i}.example\"\n"))
                .collect();
            profiles_file(dir.path(), &text)
        };
        assert!(resolve(Some(&file(PROFILES_MAX)), |_: &str| None, &[]).is_ok());
        let problems = resolve(Some(&file(PROFILES_MAX + 1)), |_: &str| None, &[]).unwrap_err();
        assert!(
            problems
                .to_string()
                .contains(&format!("at most {PROFILES_MAX} profiles"))
        );
    }
}
