//! `customs admin`: enterprises, users, tokens, broker authorisations and credit levels, written as
//! events into the audit chain like every other change, as an administrator: every command but
//! `init` takes the administrator's token (`--token` or `CUSTOMS_TOKEN`) and is recorded as that
//! user. `init` makes the first administrator of a new data folder (or of one whose
//! administrators are all locked out) and prints its token once; the system records it.

use clap::{Args, Subcommand};
use clearance::{Caller, Clearance, ClearanceConfig, Role};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use store::Store;

use crate::datadir::DataDir;

#[derive(Args)]
pub struct AdminArgs {
    /// An administrator's bearer token (not needed by `init`).
    #[arg(long, env = "CUSTOMS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Administer the records kept in PostgreSQL (postgres://user@host:5432/database), as
    /// `serve --database` keeps them, instead of the data folder's SQLite file; the folder still
    /// holds the keys. [env: CUSTOMS_DATABASE] [file: serve.database]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Make the first administrator and print its token (once). Refused while an administrator
    /// holds a token in force.
    Init {
        /// The administrator's user name.
        #[arg(long)]
        name: String,
    },
    /// Register an enterprise (unified social credit code, customs registration code, name).
    Enterprise {
        /// Unified social credit code (统一社会信用代码, 18 characters).
        #[arg(long)]
        credit_code: String,
        /// Customs registration code (海关编码, 10 characters).
        #[arg(long)]
        customs_code: String,
        /// The enterprise's registered name.
        #[arg(long)]
        name: String,
    },
    /// Create a user with a role: declarant, broker, officer, risk_analyst, auditor or admin.
    User {
        /// The new user's name (unique).
        #[arg(long)]
        name: String,
        /// declarant, broker, officer, risk_analyst, auditor, supervisor or admin.
        #[arg(long)]
        role: String,
        /// Credit code of the user's enterprise (declarants and brokers only).
        #[arg(long)]
        enterprise: Option<String>,
    },
    /// Issue a bearer token for a user; it is printed once and only its hash is stored.
    Token {
        /// The user the token is issued to.
        #[arg(long)]
        user: String,
        /// Days it stays valid (1 to 366; default 90).
        #[arg(long)]
        expires_in: Option<u32>,
    },
    /// List tokens (never their secrets): everybody's, or one user's.
    Tokens {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a bearer token, given by its id (`T-...`) or its secret (`oc_...`).
    RevokeToken {
        /// The token's id (`T-...`) or its secret (`oc_...`).
        token_id: String,
    },
    /// Revoke every token of a user.
    RevokeTokens {
        /// The user whose tokens are revoked.
        #[arg(long)]
        user: String,
    },
    /// Set a user's password for logging in to the console, read from the first line of
    /// standard input (never an argument: those show in the process list and shell history).
    /// An administrator sets anybody's, anybody else their own.
    Password {
        /// The user whose password is set.
        #[arg(long)]
        user: String,
    },
    /// Disable a user: its tokens stop working and it is drawn for no task.
    DisableUser {
        /// The user to disable.
        #[arg(long)]
        name: String,
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
    },
    /// Record that an enterprise authorised a customs broker to declare for it.
    AuthoriseBroker {
        /// Credit code of the broker enterprise.
        #[arg(long)]
        broker: String,
        /// Credit code of the enterprise it declares for.
        #[arg(long)]
        principal: String,
    },
    /// Withdraw an enterprise's authorisation of its broker.
    WithdrawBroker {
        /// Credit code of the broker enterprise.
        #[arg(long)]
        broker: String,
        /// Credit code of the enterprise it declared for.
        #[arg(long)]
        principal: String,
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
    },
    /// Register an enterprise for cross-border e-commerce (CEB) roles: ebp, ebc, payment,
    /// logistics, agent (a later registration adds roles).
    CebEnterprise {
        /// Its 10-character customs code, as CEB messages name it.
        #[arg(long)]
        customs_code: Option<String>,
        /// Its credit code: required for an e-commerce enterprise or agent whose lists are declared.
        #[arg(long)]
        credit_code: Option<String>,
        #[arg(long)]
        name: String,
        /// Comma-separated roles, e.g. `ebp,ebc`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Add a CEB enterprise's SM2 signing certificate (a PEM file); the latest is in force.
    CebCertificate {
        /// The enterprise's customs code or credit code.
        #[arg(long)]
        code: String,
        /// The certificate, PEM.
        #[arg(long)]
        pem: std::path::PathBuf,
    },
    /// Register an agent's tax guarantee (担保) for its CEB inventory lists.
    Guarantee {
        /// The code lists name in `assureCode`.
        #[arg(long)]
        assure_code: String,
        /// The agent's customs code or credit code.
        #[arg(long)]
        agent_code: String,
        /// CNY, at most 2 decimals, e.g. 5000.00.
        #[arg(long)]
        amount: rust_decimal::Decimal,
    },
    /// Set an enterprise's credit level (企业信用等级): advanced_certified, general_certified,
    /// general or untrustworthy. Declarations accepted from then on are targeted with it.
    Credit {
        /// Credit code of the enterprise.
        #[arg(long)]
        credit_code: String,
        /// advanced_certified, general_certified, general or untrustworthy.
        #[arg(long)]
        level: String,
        /// The rating decision, e.g. its reference.
        #[arg(long)]
        reason: String,
    },
}

/// The caller of a command that needs a token: its user, authenticated like over HTTP (an
/// expired, revoked or disabled token is refused saying why).
pub async fn caller<S: Store>(
    clearance: &Clearance<S>,
    token: Option<&str>,
) -> anyhow::Result<Caller> {
    let Some(token) = token else {
        anyhow::bail!(
            "this command needs a token: --token or CUSTOMS_TOKEN (the first administrator's \
             comes from `customs admin init --name NAME`) / 此命令需要令牌：--token 或 CUSTOMS_TOKEN"
        );
    };
    clearance
        .authenticate(token)
        .await
        .map_err(crate::show::explain)
}

/// Runs an administration command on the data folder's SQLite store or, with `database` (the
/// `serve.database` setting: `--database`, `CUSTOMS_DATABASE` or the file), on the PostgreSQL
/// database the instances serve, so that its first administrator is made from the command line
/// too. The folder is not locked in that mode (the database orders the writes, as for serve).
pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    database: Option<&str>,
    args: AdminArgs,
) -> anyhow::Result<()> {
    // Times people read are in the administration's time zone.
    let utc_offset = config.utc_offset;
    let outcome = match database {
        Some(url) => {
            let clearance = data.open_clearance_postgres(url, config).await?;
            let outcome = execute(&clearance, args, utc_offset).await;
            clearance.store().close();
            outcome
        }
        None => {
            let clearance =
                data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
            let outcome = execute(&clearance, args, utc_offset).await;
            clearance.store().close().await;
            outcome
        }
    };
    let line = outcome?;
    println!("{line}");
    Ok(())
}

async fn execute<S: Store>(
    clearance: &Clearance<S>,
    args: AdminArgs,
    utc_offset: chrono::FixedOffset,
) -> anyhow::Result<String> {
    let shown = |ms: i64| http_api::shown_time(utc_offset, &rfc3339(ms));
    let explain = crate::show::explain;
    if let AdminCommand::Init { name } = &args.command {
        let issued = clearance.bootstrap_admin(name).await.map_err(explain)?;
        eprintln!(
            "administrator {} created; its token (shown once, valid until {}):",
            issued.user.name,
            shown(issued.expires_at_ms)
        );
        return Ok(issued.token);
    }
    let admin = caller(clearance, args.token.as_deref()).await?;
    let line = match args.command {
        AdminCommand::Init { .. } => unreachable!("init is run above"),
        AdminCommand::Enterprise {
            credit_code,
            customs_code,
            name,
        } => clearance
            .create_enterprise_as(&admin, &credit_code, &customs_code, &name)
            .await
            .map(|e| format!("enterprise {} {} ({})", e.credit_code, e.name, e.id)),
        AdminCommand::User {
            name,
            role,
            enterprise,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("unknown role {role}: use declarant, broker, officer, risk_analyst, auditor or admin")
            })?;
            clearance
                .create_user_as(&admin, &name, role, enterprise.as_deref())
                .await
                .map(|u| format!("user {} role {} ({})", u.name, u.role, u.id))
        }
        AdminCommand::Token { user, expires_in } => {
            let issued = clearance
                .issue_token_as(&admin, &user, expires_in)
                .await
                .map_err(explain)?;
            eprintln!(
                "token {} for {} (shown once, valid until {}):",
                issued.id,
                issued.user.name,
                shown(issued.expires_at_ms)
            );
            Ok(issued.token)
        }
        AdminCommand::Tokens { user, json } => {
            clearance
                .tokens_as(&admin, user.as_deref())
                .await
                .map(|listed| {
                    if json {
                        serde_json::to_string_pretty(&listed).unwrap_or_default()
                    } else {
                        token_table(&listed, utc_offset)
                    }
                })
        }
        AdminCommand::RevokeToken { token_id } => {
            let id = if token_id.starts_with(clearance::TOKEN_PREFIX) {
                clearance::token_id(&clearance::token_hash(&token_id))
            } else {
                token_id
            };
            clearance
                .revoke_token_as(&admin, &id)
                .await
                .map(|t| format!("token {} of {} revoked", t["id"].as_str().unwrap_or(&id), t["user"].as_str().unwrap_or("")))
        }
        AdminCommand::RevokeTokens { user } => clearance
            .revoke_user_tokens_as(&admin, &user)
            .await
            .map(|r| format!("revoked every token of {user}: {}", r["revoked"])),
        AdminCommand::Password { user } => {
            let password = password_from_stdin()?;
            clearance
                .set_password(&admin, &user, &password)
                .await
                .map(|()| format!("password of {user} set"))
        }
        AdminCommand::DisableUser { name, reason } => clearance
            .disable_user_as(&admin, &name, &reason)
            .await
            .map(|u| {
                let open = u["open_tasks"].as_array().map_or(0, Vec::len);
                let tasks = if open == 0 {
                    String::new()
                } else {
                    format!("; {open} open task(s) still assigned to them: {}", u["open_tasks"])
                };
                format!(
                    "user {name} disabled (audit entry {}){tasks}",
                    u["disabled_seq"]
                )
            }),
        AdminCommand::AuthoriseBroker { broker, principal } => clearance
            .authorise_broker_as(&admin, &broker, &principal)
            .await
            .map(|()| format!("{broker} may now declare for {principal}")),
        AdminCommand::WithdrawBroker {
            broker,
            principal,
            reason,
        } => clearance
            .withdraw_broker_as(&admin, &principal, &broker, &reason)
            .await
            .map(|_| format!("{broker} no longer declares for {principal}")),
        AdminCommand::CebEnterprise {
            customs_code,
            credit_code,
            name,
            roles,
        } => {
            let code = customs_code.clone().or(credit_code.clone()).unwrap_or_default();
            clearance
                .register_ceb_enterprise(
                    &admin,
                    store::CebEnterpriseRow {
                        customs_code,
                        credit_code,
                        name,
                        roles,
                        registered_seq: None,
                    },
                )
                .await
                .map(|()| format!("CEB enterprise {code} registered"))
        }
        AdminCommand::CebCertificate { code, pem } => {
            let text = std::fs::read_to_string(&pem)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", pem.display()))?;
            let key = dsig::RegisteredKey::from_certificate_pem(&text).map_err(|e| {
                let (en, zh) = e.messages();
                anyhow::anyhow!("{}: {en} / {zh}", pem.display())
            })?;
            clearance
                .add_ceb_certificate(&admin, &code, key.certificate_der())
                .await
                .map(|serial| format!("certificate {serial} of {code} in force"))
        }
        AdminCommand::Guarantee {
            assure_code,
            agent_code,
            amount,
        } => {
            let fen = (amount.scale() <= 2 && amount > rust_decimal::Decimal::ZERO)
                .then(|| {
                    rust_decimal::prelude::ToPrimitive::to_i64(
                        &(amount * rust_decimal::Decimal::ONE_HUNDRED),
                    )
                })
                .flatten()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--amount: a positive amount in CNY with at most 2 decimals / 正数金额（元），最多两位小数"
                    )
                })?;
            clearance
                .register_guarantee(&admin, &assure_code, &agent_code, fen)
                .await
                .map(|()| format!("guarantee {assure_code} of {agent_code}: {amount} CNY"))
        }
        AdminCommand::Credit {
            credit_code,
            level,
            reason,
        } => clearance
            .set_credit_level_as(&admin, &credit_code, &level, &reason)
            .await
            .map(|change| {
                let previous = change["previous_level"].as_str().unwrap_or("general (not set)");
                format!(
                    "enterprise {credit_code} credit level {level} (was {previous}), audit entry {}",
                    change["seq"]
                )
            }),
    };
    line.map_err(explain)
}

/// The first line of standard input, without its line ending; nothing at all is refused.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    let read = std::io::stdin()
        .read_line(&mut line)
        .map_err(|err| anyhow::anyhow!("reading the password from standard input: {err}"))?;
    if read == 0 {
        anyhow::bail!(
            "give the new password on the first line of standard input / 请在标准输入的第一行输入新密码"
        );
    }
    let password = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&line);
    Ok(password.to_owned())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The tokens as a table, their times in the administration's time zone.
fn token_table(listed: &serde_json::Value, utc_offset: chrono::FixedOffset) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["id", "user", "issued", "expires", "status"]);
    for t in listed["tokens"].as_array().into_iter().flatten() {
        let text = |key: &str| t[key].as_str().unwrap_or("").to_owned();
        table.add_row([
            text("id"),
            text("user"),
            http_api::shown_time(utc_offset, &text("issued_at")),
            http_api::shown_time(utc_offset, &text("expires_at")),
            text("status"),
        ]);
    }
    table.to_string()
}
