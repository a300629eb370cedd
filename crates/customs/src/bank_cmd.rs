//! `customs bank`: the simulated paying bank of the demo and the tests, and the registration of a
//! bank's connector. A real bank link (税费电子支付) holds its own key and sends the same signed
//! confirmation to `POST /v1/payment-confirmations`; this one keeps its key in a file.
//!
//! - `keygen` writes a connector's secret key (0600) and prints its public key to register;
//! - `register` registers a connector's public key, as an administrator;
//! - `confirm` signs a confirmation and prints it (to POST it), or with `--submit` hands it to
//!   the platform in the data folder directly.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use clearance::ClearanceConfig;
use clearance::payments::SimulatedBank;

use crate::datadir::DataDir;

#[derive(Subcommand)]
pub enum BankCommand {
    /// Make a connector's signing key; prints the public key to register.
    Keygen {
        /// Where the secret key goes (created 0600; an existing file is never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Register a connector's public key (an administrator).
    Register {
        /// The connector's id, e.g. SIMBANK.
        #[arg(long)]
        connector: String,
        #[arg(long)]
        name: String,
        /// 64 hex digits (from `bank keygen`).
        #[arg(long)]
        public_key: String,
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Sign a confirmation that a declaration's duty and taxes were paid.
    Confirm {
        /// The secret key file of `bank keygen`.
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        connector: String,
        /// The declaration number.
        #[arg(long)]
        number: String,
        /// CNY, e.g. 9596.26.
        #[arg(long)]
        amount: String,
        /// The bank's reference of the payment (unique).
        #[arg(long)]
        reference: String,
        /// When the payer was debited (RFC 3339); now if left out.
        #[arg(long)]
        paid_at: Option<String>,
        /// Hand the confirmation to the platform in the data folder instead of printing it.
        #[arg(long)]
        submit: bool,
    },
}

/// Reads a secret key written by `keygen`: 64 hex digits.
pub fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the bank key {}: {e}", path.display()))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| anyhow::anyhow!("{} is not a bank key (64 hex digits)", path.display()))
}

/// Writes a new secret key, readable by its owner only.
pub fn write_key(path: &Path, secret: &[u8; 32]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create the bank key {}: {e}", path.display()))?;
    file.write_all(hex::encode(secret).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    command: BankCommand,
) -> anyhow::Result<()> {
    match command {
        BankCommand::Keygen { out } => {
            let bank = SimulatedBank::generate("KEYGEN");
            write_key(&out, &bank.secret())?;
            println!("{}", bank.public_key_hex());
            Ok(())
        }
        BankCommand::Register {
            connector,
            name,
            public_key,
            token,
        } => {
            let clearance =
                data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
            let outcome = async {
                let caller = clearance
                    .authenticate(&token)
                    .await
                    .map_err(|_| anyhow::anyhow!("the token is not valid"))?;
                let body =
                    serde_json::json!({ "id": connector, "name": name, "public_key": public_key });
                clearance
                    .register_payment_connector(&caller, body.to_string().as_bytes())
                    .await
                    .map_err(crate::show::explain)
            }
            .await;
            clearance.store().close().await;
            println!("{}", serde_json::to_string_pretty(&outcome?)?);
            Ok(())
        }
        BankCommand::Confirm {
            key,
            connector,
            number,
            amount,
            reference,
            paid_at,
            submit,
        } => {
            let bank = SimulatedBank::new(&connector, read_key(&key)?);
            let paid_at = match paid_at {
                Some(at) => at,
                None => crate::datadir::process_clock()?
                    .now()
                    .with_timezone(&config.utc_offset)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            };
            let confirmation = bank.confirm(&number, &amount, &reference, &paid_at);
            let text = serde_json::to_string(&confirmation)?;
            if !submit {
                println!("{text}");
                return Ok(());
            }
            let clearance =
                data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
            let outcome = clearance.confirm_payment(text.as_bytes()).await;
            clearance.store().close().await;
            let settlement = outcome.map_err(crate::show::explain)?;
            println!("{}", serde_json::to_string_pretty(&settlement)?);
            Ok(())
        }
    }
}
