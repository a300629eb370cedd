//! `customs serve --demo`: demo enterprises, one user per role with a token, and sample
//! declarations, so a newcomer can call the API at once. Seeding twice creates nothing twice:
//! enterprises, users and declarations are keyed; only new tokens are issued.

use std::fmt::Write as _;
use std::net::SocketAddr;

use clearance::releases::{NewRelease, ReleaseKind};
use clearance::{Clearance, Role};
use store::ReleaseFileRow;
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;

pub const DEMO_TRADER: &str = "91310115MA1H000024";
pub const DEMO_BROKER: &str = "91310000MA1FL0001R";
pub const DEMO_OTHER_TRADER: &str = "91440300MA5F00003G";
const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");

/// The sample tariff release and exchange-rate table (`crates/tariff/sample_release_cn_2026`),
/// in force from the start of 2026 in the demo so that lodged declarations are assessed.
const SAMPLE_TARIFF: [(&str, &str); 4] = [
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
];
const SAMPLE_RATES: [(&str, &str); 1] = [(
    "exchange_rates.csv",
    include_str!("../../tariff/sample_release_cn_2026/exchange_rates.csv"),
)];
const SAMPLE_IN_FORCE_FROM: (i32, u32, u32) = (2026, 1, 1);

/// Imports and activates the sample release of `kind` unless a release of that kind exists.
async fn seed_release(
    clearance: &Clearance<SqliteStore>,
    kind: ReleaseKind,
    files: &[(&str, &str)],
) -> anyhow::Result<()> {
    let admin = crate::show::operator();
    let explain = crate::show::explain;
    if !clearance
        .releases(&admin, kind)
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
            &admin,
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
        .activate_release(&admin, id, from)
        .await
        .map_err(explain)?;
    Ok(())
}

pub async fn seed(
    clearance: &Clearance<SqliteStore>,
    data: &DataDir,
    address: SocketAddr,
) -> anyhow::Result<()> {
    let actor = crate::admin::cli_actor();
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
    seed_release(clearance, ReleaseKind::Tariff, &SAMPLE_TARIFF).await?;
    seed_release(clearance, ReleaseKind::ExchangeRates, &SAMPLE_RATES).await?;
    let users = [
        ("demo-declarant", Role::Declarant, Some(DEMO_TRADER)),
        ("demo-broker", Role::Broker, Some(DEMO_BROKER)),
        ("demo-officer", Role::Officer, None),
        ("demo-analyst", Role::RiskAnalyst, None),
        ("demo-auditor", Role::Auditor, None),
        ("demo-admin", Role::Admin, None),
    ];
    let mut tokens = String::new();
    for (name, role, enterprise) in users {
        clearance
            .create_user(&actor, name, role, enterprise)
            .await
            .map_err(explain)?;
        let token = clearance.issue_token(&actor, name).await.map_err(explain)?;
        writeln!(tokens, "{:<14} {}", role.as_str(), token.token)?;
    }
    let broker_token = tokens
        .lines()
        .find(|l| l.starts_with("broker"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned();
    let broker = clearance
        .authenticate(&broker_token)
        .await
        .map_err(explain)?;
    let lodged = clearance
        .lodge(&broker, Some("demo-example-1"), EXAMPLE.as_bytes())
        .await
        .map_err(explain)?;
    let admin_token = tokens
        .lines()
        .find(|l| l.starts_with("admin"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned();
    let admin = clearance
        .authenticate(&admin_token)
        .await
        .map_err(explain)?;
    simulated_bank(clearance, data, &admin).await?;
    std::fs::write(data.path.join("demo-tokens.txt"), &tokens)?;
    eprintln!(
        "\nDemo data is ready (tokens also in {}):\n{tokens}\nA sample declaration was lodged: {}\n\nTry:\n  \
         export TOKEN={broker_token}   # the broker declares for Shanghai Pudong Trading\n  \
         curl -s -X POST http://{address}/v1/declarations -H \"Authorization: Bearer $TOKEN\" \\\n       \
         -H 'Content-Type: application/json' -H 'Idempotency-Key: my-first-lodging' \\\n       \
         --data @examples/declaration-import.json\n  \
         curl -s http://{address}/v1/declarations -H \"Authorization: Bearer $TOKEN\"\n  \
         curl -s http://{address}/v1/declarations/{} -H \"Authorization: Bearer $TOKEN\"\n",
        data.path.join("demo-tokens.txt").display(),
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
        .any(|c| c["id"] == SIMULATED_BANK && c["active"] == true && c["public_key"] == bank.public_key_hex());
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
