//! `customs serve --demo`: demo enterprises, one user per role with a token and a password, and
//! sample declarations, so a newcomer can call the API at once. Only in a new data folder, which it
//! marks as a demo's, or one it marked before. Starting again creates nothing twice: enterprises,
//! users and declarations are keyed, and the tokens of `demo-tokens.txt` are kept while they all
//! work (else every demo user's tokens are revoked and new ones minted).

use std::fmt::Write as _;
use std::net::SocketAddr;

use clearance::releases::{NewRelease, ReleaseKind};
use clearance::{Caller, Clearance, Role};
use sha2::Digest;
use store::{ReleaseFileRow, Store};
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;

pub const DEMO_TRADER: &str = "91310115MA1H000024";
pub const DEMO_BROKER: &str = "91310000MA1FL0001R";
pub const DEMO_OTHER_TRADER: &str = "91440300MA5F00003G";
const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");

/// The sample tariff release and exchange-rate table (`crates/tariff/sample_release_cn_2026`),
/// in force from the start of 2026 in the demo so that lodged declarations are assessed.
const SAMPLE_TARIFF: [(&str, &str); 5] = [
    (
        "lines.csv",
        include_str!("../../tariff/sample_release_cn_2026/lines.csv"),
    ),
    (
        "duty_rates.csv",
        include_str!("../../tariff/sample_release_cn_2026/duty_rates.csv"),
    ),
    (
        "consumption_tax.csv",
        include_str!("../../tariff/sample_release_cn_2026/consumption_tax.csv"),
    ),
    (
        "trade_remedies.csv",
        include_str!("../../tariff/sample_release_cn_2026/trade_remedies.csv"),
    ),
    (
        "origin_rules.csv",
        include_str!("../../tariff/sample_release_cn_2026/origin_rules.csv"),
    ),
];
const SAMPLE_RATES: [(&str, &str); 1] = [(
    "exchange_rates.csv",
    include_str!("../../tariff/sample_release_cn_2026/exchange_rates.csv"),
)];
const SAMPLE_IN_FORCE_FROM: (i32, u32, u32) = (2026, 1, 1);

/// How many months past the current one the demo's illustrative exchange rates reach: a demo
/// left running, or restarted, within a year of its start keeps assessing.
pub const ILLUSTRATIVE_MONTHS_AHEAD: u32 = 12;

/// The label of every illustrative rate table starts so: an administrator (and the console's
/// releases page) sees at once that these rates are made up.
pub const ILLUSTRATIVE_LABEL: &str = "ILLUSTRATIVE demo rates";

/// The sample's exchange rates stop at its last month (2026-12): after it nothing would be
/// assessed. The demo therefore makes up the months after it, from the month after the sample's
/// last through [`ILLUSTRATIVE_MONTHS_AHEAD`] months past `today`'s: each currency's rate of the
/// sample's last month, held flat (no forecast is pretended).
pub fn illustrative_rates(sample: &str, today: chrono::NaiveDate) -> anyhow::Result<Illustrative> {
    use tariff::model::YearMonth;
    let table = tariff::release::parse_exchange_rates(tariff::release::ReleaseFile {
        name: "exchange_rates.csv",
        text: sample,
    })
    .map_err(|problems| anyhow::anyhow!("the sample exchange rates: {problems:?}"))?;
    let last = table
        .rates()
        .iter()
        .map(|r| r.month())
        .max()
        .ok_or_else(|| anyhow::anyhow!("the sample exchange rates are empty"))?;
    let next = |m: YearMonth| {
        if m.month == 12 {
            YearMonth {
                year: m.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: m.year,
                month: m.month + 1,
            }
        }
    };
    let mut through = YearMonth::of(today).max(last);
    for _ in 0..ILLUSTRATIVE_MONTHS_AHEAD {
        through = next(through);
    }
    let first = next(last);
    let mut latest: Vec<&tariff::model::ExchangeRate> =
        table.rates().iter().filter(|r| r.month() == last).collect();
    latest.sort_by(|a, b| a.currency().cmp(b.currency()));
    let mut csv = format!(
        "# {ILLUSTRATIVE_LABEL}: NOT official rates, made up by `customs serve --demo` so that the\n\
         # demo assesses after the SAMPLE table's last month ({last}): each currency's {last} rate\n\
         # held flat from {first} through {through}. An administration loads the published rates.\n\
         currency,month,rate\n"
    );
    for rate in latest {
        let mut month = first;
        while month <= through {
            writeln!(csv, "{},{month},{}", rate.currency(), rate.rate_4dp())?;
            month = next(month);
        }
    }
    let label = format!(
        "{ILLUSTRATIVE_LABEL} {first}..{through}: the SAMPLE's {last} rates held flat, not official"
    );
    Ok(Illustrative { csv, label, first })
}

/// A made-up exchange-rate table for the demo ([`illustrative_rates`]).
pub struct Illustrative {
    pub csv: String,
    /// Names the months and says the rates are made up.
    pub label: String,
    /// Its first month, from whose first day it is put in force.
    pub first: tariff::model::YearMonth,
}

/// Keeps the demo assessing on any date: unless an active rate table covers this month and the
/// next, puts the [`illustrative_rates`] for the months around today in force (imported once,
/// activated from its first month; the sample's own months stay the sample's). Returns what to
/// print about the rates in force.
async fn seed_illustrative_rates(
    clearance: &Clearance<SqliteStore>,
    admin: &Caller,
) -> anyhow::Result<String> {
    let explain = crate::show::explain;
    let today = clearance.today();
    let this_month = tariff::model::YearMonth::of(today);
    let next_month = tariff::model::YearMonth::of(
        today
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(today),
    );
    let covers = |release: &serde_json::Value, month: tariff::model::YearMonth| {
        release["status"] == "active"
            && release["summary"]["months"]
                .as_array()
                .is_some_and(|months| months.iter().any(|m| m == &month.to_string()))
    };
    let releases = clearance
        .releases(admin, ReleaseKind::ExchangeRates)
        .await
        .map_err(explain)?;
    let covered = [this_month, next_month]
        .iter()
        .all(|month| releases.iter().any(|r| covers(r, *month)));
    if !covered {
        let made_up = illustrative_rates(SAMPLE_RATES[0].1, today)?;
        let id = match releases
            .iter()
            .find(|r| r["label"] == made_up.label.as_str())
        {
            Some(imported) => imported["id"].as_str().unwrap_or_default().to_owned(),
            None => clearance
                .import_release(
                    admin,
                    NewRelease {
                        kind: ReleaseKind::ExchangeRates,
                        label: made_up.label.clone(),
                        files: vec![ReleaseFileRow {
                            name: "exchange_rates.csv".into(),
                            text: made_up.csv,
                        }],
                    },
                )
                .await
                .map_err(explain)?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        let from = chrono::NaiveDate::from_ymd_opt(made_up.first.year, made_up.first.month, 1)
            .expect("a valid month");
        clearance
            .activate_release(admin, &id, from)
            .await
            .map_err(explain)?;
    }
    let mut printed = String::from("Exchange rates in force:\n");
    for release in clearance
        .releases(admin, ReleaseKind::ExchangeRates)
        .await
        .map_err(explain)?
        .iter()
        .filter(|r| r["status"] == "active")
    {
        writeln!(
            printed,
            "  from {}: {}",
            release["effective_from"].as_str().unwrap_or("?"),
            release["label"].as_str().unwrap_or("?")
        )?;
    }
    Ok(printed)
}

/// The first event of a demo data folder: `serve --demo` uses only a new folder (and marks it
/// so) or one it marked; plain `serve` refuses a marked one, so demo users and their tokens never
/// act on real declarations and the demo officer is never drawn for a real task.
pub const DEMO_MARKER_ACTION: &str = "data_folder.demo";
pub const DEMO_TOKENS_FILE: &str = "demo-tokens.txt";

/// The demo users: one per role, and a second analyst to approve the first one's rules (four
/// eyes).
const DEMO_USERS: [(&str, Role, Option<&str>); 8] = [
    ("demo-declarant", Role::Declarant, Some(DEMO_TRADER)),
    ("demo-broker", Role::Broker, Some(DEMO_BROKER)),
    ("demo-officer", Role::Officer, None),
    ("demo-analyst", Role::RiskAnalyst, None),
    ("demo-analyst-2", Role::RiskAnalyst, None),
    ("demo-auditor", Role::Auditor, None),
    ("demo-admin", Role::Admin, None),
    ("demo-supervisor", Role::Supervisor, None),
];

/// What a data folder holds, as demo mode sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// Nothing yet.
    New,
    /// Made by `serve --demo`: marked by its first event or, made by a version before the marker,
    /// holding the demo broker and the demo officer and administrator (`marked: false`).
    Demo { marked: bool },
    /// Anything else: real data.
    Real,
}

pub async fn folder_kind(clearance: &Clearance<SqliteStore>) -> anyhow::Result<FolderKind> {
    let store = clearance.store();
    let first = store.audit_entries(0, 1).await?;
    let Some(first) = first.first() else {
        return Ok(FolderKind::New);
    };
    if first.entry.action == DEMO_MARKER_ACTION {
        return Ok(FolderKind::Demo { marked: true });
    }
    let legacy_demo = store
        .enterprise_by_credit_code(DEMO_BROKER)
        .await?
        .is_some()
        && store.user_by_name("demo-officer").await?.is_some()
        && store.user_by_name("demo-admin").await?.is_some();
    Ok(if legacy_demo {
        FolderKind::Demo { marked: false }
    } else {
        FolderKind::Real
    })
}

async fn mark_demo_folder(clearance: &Clearance<SqliteStore>) -> anyhow::Result<()> {
    let payload = serde_json::json!({
        "note": "a demo data folder made by `customs serve --demo`: demo users, tokens and data only",
    })
    .to_string();
    let append = store::Append {
        actor: clearance::system_actor(),
        recorded_at_ms: clearance.now().timestamp_millis(),
        subject: "data-folder".into(),
        action: DEMO_MARKER_ACTION.into(),
        idempotency_scope: "admin".into(),
        idempotency_key: "data-folder:demo".into(),
        request_digest: hex::encode(sha2::Sha256::digest(payload.as_bytes())),
        payload,
        expected_version: None,
        projection: store::Projection::Nothing,
        linked: vec![],
        cbec_purchase: None,
        guarantee_debit: None,
    };
    clearance.store().append(append).await?;
    Ok(())
}

/// Imports and activates the sample release of `kind` unless a release of that kind exists.
async fn seed_release(
    clearance: &Clearance<SqliteStore>,
    admin: &Caller,
    kind: ReleaseKind,
    files: &[(&str, &str)],
) -> anyhow::Result<()> {
    let explain = crate::show::explain;
    if !clearance
        .releases(admin, kind)
        .await
        .map_err(explain)?
        .is_empty()
    {
        return Ok(());
    }
    let files = files
        .iter()
        .map(|(name, text)| ReleaseFileRow {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    let release = clearance
        .import_release(
            admin,
            NewRelease {
                kind,
                label: "SAMPLE China 2026 (crates/tariff/sample_release_cn_2026)".into(),
                files,
            },
        )
        .await
        .map_err(explain)?;
    let (y, m, d) = SAMPLE_IN_FORCE_FROM;
    let from = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
    let id = release["id"].as_str().unwrap_or_default();
    clearance
        .activate_release(admin, id, from)
        .await
        .map_err(explain)?;
    Ok(())
}

/// A demo user's password for the console: its name and `-password` (at least
/// [`clearance::PASSWORD_LENGTH_MIN`] characters), known to all like the demo itself.
pub fn demo_password(user_name: &str) -> String {
    format!("{user_name}-password")
}

/// Gives each demo user without a password its [`demo_password`]; a password set since (over the
/// console or `customs admin password`) is left as it is. Returns the lines to print.
async fn demo_passwords(clearance: &Clearance<SqliteStore>) -> anyhow::Result<String> {
    let explain = crate::show::explain;
    let system = clearance::system_actor();
    let mut lines = String::new();
    for (name, _, _) in DEMO_USERS {
        let user = clearance
            .store()
            .user_by_name(name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo user {name} is missing"))?;
        let password = demo_password(name);
        if clearance.store().password_hash(&user.id).await?.is_none() {
            clearance
                .set_password_as(&system, name, &password)
                .await
                .map_err(explain)?;
        }
        writeln!(lines, "{name:<16} {password}")?;
    }
    Ok(lines)
}

/// The demo users' tokens: those of `demo-tokens.txt` while every one of them still works (a
/// restart mints nothing), else new ones, after revoking every earlier token of the demo users
/// (so that no token printed by an earlier start stays valid).
async fn demo_tokens(
    clearance: &Clearance<SqliteStore>,
    data: &DataDir,
    reuse: bool,
) -> anyhow::Result<(Vec<(Role, String)>, bool)> {
    let explain = crate::show::explain;
    let path = data.path.join(DEMO_TOKENS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path)
        && reuse
    {
        let mut kept = Vec::new();
        for ((name, role, _), line) in DEMO_USERS.iter().zip(text.lines()) {
            let Some(token) = line.split_whitespace().nth(1) else {
                break;
            };
            match clearance.authenticate(token).await {
                Ok(caller) if caller.principal.user.name == *name => {
                    kept.push((*role, token.to_owned()))
                }
                _ => break,
            }
        }
        if kept.len() == DEMO_USERS.len() {
            return Ok((kept, false));
        }
    }
    let system = clearance::system_actor();
    let mut minted = Vec::new();
    for (name, role, _) in DEMO_USERS {
        clearance
            .revoke_user_tokens(&system, name)
            .await
            .map_err(explain)?;
        let token = clearance
            .issue_token(&system, name)
            .await
            .map_err(explain)?;
        minted.push((role, token.token));
    }
    Ok((minted, true))
}

pub async fn seed(
    clearance: &Clearance<SqliteStore>,
    data: &DataDir,
    address: SocketAddr,
) -> anyhow::Result<()> {
    let kind = folder_kind(clearance).await?;
    match kind {
        FolderKind::Real => anyhow::bail!(
            "the data folder {} holds data that is not a demo's: `serve --demo` uses a new folder \
             (e.g. --data demo-data) or one it made / 数据目录 {} 含有非演示数据：演示模式只使用新目录或其创建的演示目录",
            data.path.display(),
            data.path.display()
        ),
        FolderKind::New => mark_demo_folder(clearance).await?,
        FolderKind::Demo { .. } => {}
    }
    // The demo's setup is the platform's own act, recorded as the system.
    let actor = clearance::system_actor();
    let explain = crate::show::explain;
    for (code, customs, name) in [
        (
            DEMO_TRADER,
            "3115960002",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        ),
        (
            DEMO_BROKER,
            "3122260001",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        ),
        (
            DEMO_OTHER_TRADER,
            "4403960003",
            "深圳南山电子有限公司 Shenzhen Nanshan Electronics Co., Ltd.",
        ),
    ] {
        clearance
            .create_enterprise(&actor, code, customs, name)
            .await
            .map_err(explain)?;
    }
    clearance
        .authorise_broker(&actor, DEMO_BROKER, DEMO_TRADER)
        .await
        .map_err(explain)?;
    for (name, role, enterprise) in DEMO_USERS {
        clearance
            .create_user(&actor, name, role, enterprise)
            .await
            .map_err(explain)?;
    }
    // A demo folder of a version that minted tokens at every start: revoke them all.
    let reuse = kind != FolderKind::Demo { marked: false };
    let (issued, minted) = demo_tokens(clearance, data, reuse).await?;
    let token_of = |wanted: Role| {
        issued
            .iter()
            .find(|(role, _)| *role == wanted)
            .map(|(_, token)| token.clone())
            .unwrap_or_default()
    };
    let admin = clearance
        .authenticate(&token_of(Role::Admin))
        .await
        .map_err(explain)?;
    seed_release(clearance, &admin, ReleaseKind::Tariff, &SAMPLE_TARIFF).await?;
    seed_release(clearance, &admin, ReleaseKind::ExchangeRates, &SAMPLE_RATES).await?;
    let rates_in_force = seed_illustrative_rates(clearance, &admin).await?;
    let mut tokens = String::new();
    for (role, token) in &issued {
        writeln!(tokens, "{:<14} {token}", role.as_str())?;
    }
    // After the tokens' lines, which a restart reads back in this order.
    write!(
        tokens,
        "\nConsole log-in (user, password; unless changed since):\n{}",
        demo_passwords(clearance).await?
    )?;
    let broker_token = token_of(Role::Broker);
    let broker = clearance
        .authenticate(&broker_token)
        .await
        .map_err(explain)?;
    let lodged = clearance
        .lodge(&broker, Some("demo-example-1"), EXAMPLE.as_bytes())
        .await
        .map_err(explain)?;
    simulated_bank(clearance, data, &admin).await?;
    let tokens_path = data.path.join(DEMO_TOKENS_FILE);
    crate::datadir::write_private_file(&tokens_path, tokens.as_bytes())?;
    let freshness = if minted {
        "new tokens; any earlier demo token is revoked"
    } else {
        "the tokens of the previous start, still valid"
    };
    eprintln!(
        "\nDemo data is ready ({freshness}; also in {}, readable by you only):\n{tokens}\n{rates_in_force}\nA sample declaration was lodged: {}\n\nTry:\n  \
         export TOKEN={broker_token}   # the broker declares for Shanghai Pudong Trading\n  \
         curl -s -X POST http://{address}/v1/declarations -H \"Authorization: Bearer $TOKEN\" \\\n       \
         -H 'Content-Type: application/json' -H 'Idempotency-Key: my-first-lodging' \\\n       \
         --data @examples/declaration-import.json\n  \
         curl -s http://{address}/v1/declarations -H \"Authorization: Bearer $TOKEN\"\n  \
         curl -s http://{address}/v1/declarations/{} -H \"Authorization: Bearer $TOKEN\"\n\n\
         Or open the console in a browser, http://{address}/console, and sign in as demo-broker \
         or demo-officer with the password above.\n",
        tokens_path.display(),
        lodged.number,
        lodged.number,
    );
    Ok(())
}

/// The demo's paying bank: its key in the data folder (made once, 0600), its connector
/// `SIMBANK` registered with that key unless it already is. `customs bank confirm` signs as it.
async fn simulated_bank(
    clearance: &Clearance<SqliteStore>,
    data: &DataDir,
    admin: &clearance::Caller,
) -> anyhow::Result<()> {
    let path = data.path.join(SIMULATED_BANK_KEY);
    if !path.exists() {
        let bank = clearance::payments::SimulatedBank::generate(SIMULATED_BANK);
        crate::bank_cmd::write_key(&path, &bank.secret())?;
    }
    let bank =
        clearance::payments::SimulatedBank::new(SIMULATED_BANK, crate::bank_cmd::read_key(&path)?);
    let registered = clearance
        .payment_connectors(admin)
        .await
        .map_err(crate::show::explain)?
        .iter()
        .any(|c| {
            c["id"] == SIMULATED_BANK
                && c["active"] == true
                && c["public_key"] == bank.public_key_hex()
        });
    if !registered {
        let body = serde_json::json!({
            "id": SIMULATED_BANK, "name": "Simulated bank (demo)", "public_key": bank.public_key_hex(),
        });
        clearance
            .register_payment_connector(admin, body.to_string().as_bytes())
            .await
            .map_err(crate::show::explain)?;
    }
    Ok(())
}

/// The demo bank's connector id and key file (in the data folder).
pub const SIMULATED_BANK: &str = "SIMBANK";
pub const SIMULATED_BANK_KEY: &str = "simulated-bank.key";
