//! `customs serve --demo`: demo enterprises, one user per role with a token, and sample
//! declarations, so a newcomer can call the API at once. Seeding twice creates nothing twice:
//! enterprises, users and declarations are keyed; only new tokens are issued.

use std::fmt::Write as _;
use std::net::SocketAddr;

use clearance::{Clearance, Role};
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;

pub const DEMO_TRADER: &str = "91310115MA1H000024";
pub const DEMO_BROKER: &str = "91310000MA1FL0001R";
pub const DEMO_OTHER_TRADER: &str = "91440300MA5F00003G";
const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");

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
