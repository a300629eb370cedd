//! `customs pay`, `customs owed` and `customs release`: settling a declaration's duty and taxes
//! (缴税、担保) and releasing its goods (放行), acting as the user of a bearer token (like
//! `customs lodge`). The trade records payments, an officer guarantees; an officer releases once
//! what was assessed is paid or guaranteed and no task on the declaration is open. Each payment
//! and release is an event in the audit chain, like the same call over HTTP. `owed` opens the
//! store read-only.

use clap::Args;
use clearance::{Caller, Clearance, ClearanceConfig, ClearanceError};
use serde_json::{Value, json};
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;

#[derive(Args)]
pub struct PayArgs {
    /// Customs declaration number (or id).
    pub number: String,
    /// CNY, a decimal with at most 2 decimals, e.g. 1234.50.
    #[arg(long)]
    pub amount: String,
    /// The bank's payment reference, or the guarantee's number.
    #[arg(long)]
    pub reference: String,
    /// Record a guarantee (担保) accepted by an officer instead of a payment by the trade.
    #[arg(long)]
    pub guarantee: bool,
    /// Bearer token of the declarant or broker paying (of an officer for a guarantee).
    #[arg(long, env = "CUSTOMS_TOKEN")]
    pub token: String,
    /// Idempotency key: running the command again with it records nothing new.
    #[arg(long)]
    pub key: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct OwedArgs {
    /// Customs declaration number (or id).
    pub number: String,
    /// Bearer token of a user who may read the declaration.
    #[arg(long, env = "CUSTOMS_TOKEN")]
    pub token: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReleaseArgs {
    /// Customs declaration number (or id).
    pub number: String,
    /// A note recorded with the release.
    #[arg(long)]
    pub note: Option<String>,
    /// Bearer token of the officer releasing the goods.
    #[arg(long, env = "CUSTOMS_TOKEN")]
    pub token: String,
    /// Idempotency key: running the command again with it records nothing new.
    #[arg(long)]
    pub key: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct HoldArgs {
    /// Customs declaration number (or id).
    pub number: String,
    /// Why the goods are held.
    #[arg(long)]
    pub reason: String,
    /// Bearer token of the officer holding the goods.
    #[arg(long, env = "CUSTOMS_TOKEN")]
    pub token: String,
    /// Idempotency key: running the command again with it records nothing new.
    #[arg(long)]
    pub key: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

async fn caller(clearance: &Clearance<SqliteStore>, token: &str) -> anyhow::Result<Caller> {
    clearance
        .authenticate(token)
        .await
        .map_err(crate::show::explain)
}

/// A refusal in both languages; "not found" names the declaration.
fn explain(number: &str, error: ClearanceError) -> anyhow::Error {
    match error {
        ClearanceError::NotFound => {
            anyhow::anyhow!(
                "no declaration {number} visible to you / 未找到您可查看的报关单 {number}"
            )
        }
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        } if errors.is_empty() => anyhow::anyhow!("{message_en} / {message_zh}"),
        other => crate::show::explain(other),
    }
}

pub async fn pay(data: &DataDir, config: ClearanceConfig, args: PayArgs) -> anyhow::Result<()> {
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let outcome = async {
        let caller = caller(&clearance, &args.token).await?;
        let kind = if args.guarantee {
            "guarantee"
        } else {
            "payment"
        };
        let body = json!({"kind": kind, "amount": args.amount, "reference": args.reference});
        clearance
            .record_payment(
                &caller,
                &args.number,
                args.key.as_deref(),
                body.to_string().as_bytes(),
            )
            .await
            .map_err(|e| explain(&args.number, e))
    }
    .await;
    clearance.store().close().await;
    print_settlement(&args.number, &outcome?, args.json)
}

pub async fn owed(data: &DataDir, config: ClearanceConfig, args: OwedArgs) -> anyhow::Result<()> {
    let clearance = data.open_clearance_read_only(config)?;
    let outcome = async {
        let caller = caller(&clearance, &args.token).await?;
        clearance
            .payments(&caller, &args.number)
            .await
            .map_err(|e| explain(&args.number, e))
    }
    .await;
    clearance.store().close().await;
    print_settlement(&args.number, &outcome?, args.json)
}

pub async fn release(
    data: &DataDir,
    config: ClearanceConfig,
    args: ReleaseArgs,
) -> anyhow::Result<()> {
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let outcome = async {
        let caller = caller(&clearance, &args.token).await?;
        let body = match &args.note {
            Some(note) => json!({ "note": note }),
            None => json!({}),
        };
        clearance
            .release(
                &caller,
                &args.number,
                args.key.as_deref(),
                body.to_string().as_bytes(),
            )
            .await
            .map_err(|e| explain(&args.number, e))
    }
    .await;
    clearance.store().close().await;
    let view = outcome?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        println!(
            "declaration {} released / 已放行 (status {}, version {})",
            view.number, view.status, view.version
        );
    }
    Ok(())
}

/// An officer holds the goods (扣留): an open `hold` task, the officer's own, lifted by closing it
/// with a finding (`customs tasks finding`).
pub async fn hold(data: &DataDir, config: ClearanceConfig, args: HoldArgs) -> anyhow::Result<()> {
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let outcome = async {
        let caller = caller(&clearance, &args.token).await?;
        let body = json!({ "reason": args.reason });
        clearance
            .place_hold(
                &caller,
                &args.number,
                args.key.as_deref(),
                body.to_string().as_bytes(),
            )
            .await
            .map_err(|e| explain(&args.number, e))
    }
    .await;
    clearance.store().close().await;
    let task = outcome?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&task)?);
    } else {
        println!(
            "declaration {} held / 已扣留: task {} (lift it with `customs tasks finding`)",
            args.number,
            task["id"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

fn cny(value: &Value) -> String {
    match value.as_str() {
        Some(amount) => format!("{amount} CNY"),
        None => "not assessed / 未计税".to_owned(),
    }
}

fn print_settlement(number: &str, settlement: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(settlement)?);
        return Ok(());
    }
    println!("declaration / 报关单 {number}");
    println!("payable / 应缴税款:   {}", cny(&settlement["payable"]));
    println!("paid / 已缴:          {}", cny(&settlement["paid"]));
    println!("guaranteed / 已担保:  {}", cny(&settlement["guaranteed"]));
    println!(
        "claimed, unconfirmed / 已申报未确认: {}",
        cny(&settlement["claimed_unconfirmed"])
    );
    println!("outstanding / 未缴:   {}", cny(&settlement["outstanding"]));
    Ok(())
}
