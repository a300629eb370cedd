//! `customs pay`, `customs owed` and `customs release`: settling a declaration's duty and taxes
//! (缴税、担保) and releasing its goods (放行), acting as the user of a bearer token (like
//! `customs lodge`). The trade records payments, an officer guarantees; an officer releases once
//! what was assessed is paid or guaranteed and no task on the declaration is open. Each payment
//! and release is an event in the audit chain, like the same call over HTTP. `owed` opens the
//! store read-only.

use clap::Args;
use clearance::ClearanceConfig;
use serde_json::{Value, json};

use crate::desk::{Access, Site, told};

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
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Idempotency key: running the command again with it records nothing new.
    #[arg(long)]
    pub key: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A refusal in both languages; "not found" names the declaration.
fn explain(number: &str, error: anyhow::Error) -> anyhow::Error {
    told(
        error,
        Some(format!(
            "no declaration {number} visible to you / 未找到您可查看的报关单 {number}"
        )),
    )
}

pub async fn pay(site: &Site, config: ClearanceConfig, args: PayArgs) -> anyhow::Result<()> {
    let desk = site.desk(config, args.token.clone(), Access::Write).await?;
    let kind = if args.guarantee {
        "guarantee"
    } else {
        "payment"
    };
    let body = json!({"kind": kind, "amount": args.amount, "reference": args.reference});
    let outcome = desk
        .record_payment(&args.number, args.key.as_deref(), body)
        .await;
    desk.close().await;
    let settlement = outcome.map_err(|e| explain(&args.number, e))?;
    print_settlement(&args.number, &settlement, args.json)
}

pub async fn owed(site: &Site, config: ClearanceConfig, args: OwedArgs) -> anyhow::Result<()> {
    let desk = site.desk(config, args.token.clone(), Access::Read).await?;
    let outcome = desk.payments(&args.number).await;
    desk.close().await;
    let settlement = outcome.map_err(|e| explain(&args.number, e))?;
    print_settlement(&args.number, &settlement, args.json)
}

pub async fn release(
    site: &Site,
    config: ClearanceConfig,
    args: ReleaseArgs,
) -> anyhow::Result<()> {
    let desk = site.desk(config, args.token.clone(), Access::Write).await?;
    let body = match &args.note {
        Some(note) => json!({ "note": note }),
        None => json!({}),
    };
    let outcome = desk.release(&args.number, args.key.as_deref(), body).await;
    desk.close().await;
    let view = outcome.map_err(|e| explain(&args.number, e))?;
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
pub async fn hold(site: &Site, config: ClearanceConfig, args: HoldArgs) -> anyhow::Result<()> {
    let desk = site.desk(config, args.token.clone(), Access::Write).await?;
    let body = json!({ "reason": args.reason });
    let outcome = desk
        .place_hold(&args.number, args.key.as_deref(), body)
        .await;
    desk.close().await;
    let task = outcome.map_err(|e| explain(&args.number, e))?;
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
    // Paid beyond a lower reassessment (an older server does not say).
    if settlement.get("refund_due").is_some() {
        println!("refund due / 应退:    {}", cny(&settlement["refund_due"]));
    }
    Ok(())
}
