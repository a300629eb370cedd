//! `customs admin`: enterprises, users, tokens, broker authorisations and credit levels, written as events into
//! the audit chain like every other change. Runs on the data folder directly: whoever can read
//! the data folder is already its administrator.

use clap::Subcommand;
use clearance::{ClearanceConfig, Role};
use store::Actor;

use crate::datadir::DataDir;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Register an enterprise (unified social credit code, customs registration code, name).
    Enterprise {
        #[arg(long)]
        credit_code: String,
        #[arg(long)]
        customs_code: String,
        #[arg(long)]
        name: String,
    },
    /// Create a user with a role: declarant, broker, officer, risk_analyst, auditor or admin.
    User {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// Credit code of the user's enterprise (declarants and brokers only).
        #[arg(long)]
        enterprise: Option<String>,
    },
    /// Issue a bearer token for a user; it is printed once and only its hash is stored.
    Token {
        #[arg(long)]
        user: String,
    },
    /// Revoke a bearer token.
    RevokeToken {
        #[arg(long)]
        token: String,
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
    /// Set an enterprise's credit level (企业信用等级): advanced_certified, general_certified,
    /// general or untrustworthy. Declarations accepted from then on are targeted with it.
    Credit {
        #[arg(long)]
        credit_code: String,
        #[arg(long)]
        level: String,
        /// The rating decision, e.g. its reference.
        #[arg(long)]
        reason: String,
    },
}

/// The administrator as recorded in the audit chain: the operating-system user running the CLI.
pub fn cli_actor() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Actor {
        user_id: format!("cli:{user}"),
        role: Role::Admin.as_str().to_owned(),
    }
}

pub async fn run(
    data: &DataDir,
    config: ClearanceConfig,
    command: AdminCommand,
) -> anyhow::Result<()> {
    let clearance = data.open_clearance(store_sqlite::SqliteOptions::production(), config)?;
    let actor = cli_actor();
    let outcome = match command {
        AdminCommand::Enterprise {
            credit_code,
            customs_code,
            name,
        } => clearance
            .create_enterprise(&actor, &credit_code, &customs_code, &name)
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
                .create_user(&actor, &name, role, enterprise.as_deref())
                .await
                .map(|u| format!("user {} role {} ({})", u.name, u.role, u.id))
        }
        AdminCommand::Token { user } => clearance.issue_token(&actor, &user).await.map(|t| t.token),
        AdminCommand::RevokeToken { token } => clearance
            .revoke_token(&actor, &token)
            .await
            .map(|()| "revoked".into()),
        AdminCommand::AuthoriseBroker { broker, principal } => clearance
            .authorise_broker(&actor, &broker, &principal)
            .await
            .map(|()| format!("{broker} may now declare for {principal}")),
        AdminCommand::Credit {
            credit_code,
            level,
            reason,
        } => clearance
            .set_credit_level(&actor, &credit_code, &level, &reason)
            .await
            .map(|change| {
                let previous = change["previous_level"].as_str().unwrap_or("general (not set)");
                format!(
                    "enterprise {credit_code} credit level {level} (was {previous}), audit entry {}",
                    change["seq"]
                )
            }),
    };
    clearance.store().close().await;
    match outcome {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(error) => Err(crate::show::explain(error)),
    }
}
