//! Enterprises, users, bearer tokens, broker authorisations and enterprise credit levels;
//! authentication of callers.
//!
//! Tokens are 256-bit random secrets shown once; only their SHA-256 is stored. A slow password
//! hash (argon2) would add nothing for a secret of that entropy and would cost milliseconds on
//! every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use store::{
    Actor, Append, AppendOutcome, EnterpriseRow, Projection, Store, StoreError, TokenRow, UserRow,
};

use crate::Clearance;
use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;

/// How long an authenticated token is trusted without asking the store again. Bounds how long a
/// revoked token keeps working, and saves a read per request.
pub const PRINCIPAL_CACHE_TTL: Duration = Duration::from_secs(5);
/// Tokens remembered at most; the cache is emptied when full rather than grown.
pub const PRINCIPAL_CACHE_MAX: usize = 10_000;
/// Prefix that makes a token recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "oc_";

#[derive(Default)]
pub(crate) struct PrincipalCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl PrincipalCache {
    fn get(&self, token_hash: &str) -> Option<Caller> {
        let entries = self
            .entries
            .lock()
            .expect("the principal cache lock is never poisoned");
        let (caller, at) = entries.get(token_hash)?;
        (at.elapsed() < PRINCIPAL_CACHE_TTL).then(|| caller.clone())
    }

    fn put(&self, token_hash: String, caller: Caller) {
        let mut entries = self
            .entries
            .lock()
            .expect("the principal cache lock is never poisoned");
        if entries.len() >= PRINCIPAL_CACHE_MAX {
            entries.clear();
        }
        entries.insert(token_hash, (caller, Instant::now()));
    }

    fn clear(&self) {
        self.entries
            .lock()
            .expect("the principal cache lock is never poisoned")
            .clear();
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A token as issued: the secret, shown once, and whose it is.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token: String,
    pub user: UserRow,
}

impl<S: Store> Clearance<S> {
    /// The caller a bearer token belongs to.
    pub async fn authenticate(&self, bearer_token: &str) -> Result<Caller, ClearanceError> {
        if !bearer_token.starts_with(TOKEN_PREFIX) || bearer_token.len() > 128 {
            return Err(ClearanceError::Unauthenticated);
        }
        let hash = token_hash(bearer_token);
        if let Some(caller) = self.principals.get(&hash) {
            return Ok(caller);
        }
        let principal = self
            .store
            .principal_by_token(&hash)
            .await?
            .ok_or(ClearanceError::Unauthenticated)?;
        let caller = Caller::from_principal(principal).ok_or(ClearanceError::Unauthenticated)?;
        self.principals.put(hash, caller.clone());
        Ok(caller)
    }

    pub(crate) async fn admin_append(
        &self,
        actor: &Actor,
        subject: String,
        action: &str,
        key: String,
        payload: serde_json::Value,
        projection: Projection,
    ) -> Result<AppendOutcome, ClearanceError> {
        let payload = payload.to_string();
        let append = Append {
            actor: actor.clone(),
            recorded_at_ms: self.now().timestamp_millis(),
            subject,
            action: action.to_owned(),
            idempotency_scope: "admin".to_owned(),
            idempotency_key: key,
            request_digest: hex::encode(Sha256::digest(payload.as_bytes())),
            payload,
            expected_version: None,
            projection,
            linked: vec![],
            cbec_purchase: None,
        };
        match self.store.append(append).await {
            Err(StoreError::Conflict(what)) => Err(ClearanceError::Invalid(vec![
                domain::FieldError::duplicate(&what, "an existing record", "已有记录"),
            ])),
            other => Ok(other?),
        }
    }

    /// Registers an enterprise; registering the same credit code again returns the first record.
    pub async fn create_enterprise(
        &self,
        actor: &Actor,
        credit_code: &str,
        customs_code: &str,
        name: &str,
    ) -> Result<EnterpriseRow, ClearanceError> {
        let mut errors = Vec::new();
        let credit = domain::codes::CreditCode::parse("credit_code", credit_code)
            .map_err(|e| errors.push(e))
            .ok();
        let customs = domain::codes::CustomsRegistrationCode::parse("customs_code", customs_code)
            .map_err(|e| errors.push(e))
            .ok();
        let name = domain::numbers::parse_text("name", name, domain::limits::TEXT_LENGTH_MAX)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(credit), Some(customs), Some(name)) = (credit, customs, name) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let row = EnterpriseRow {
            id: uuid::Uuid::now_v7().to_string(),
            credit_code: credit.as_str().to_owned(),
            customs_code: customs.as_str().to_owned(),
            name,
        };
        let payload = json!({"credit_code": row.credit_code, "customs_code": row.customs_code, "name": row.name});
        let key = format!("enterprise:{}", row.credit_code);
        self.admin_append(
            actor,
            row.id.clone(),
            "enterprise.registered",
            key,
            payload,
            Projection::NewEnterprise(row.clone()),
        )
        .await?;
        self.store
            .enterprise_by_credit_code(&row.credit_code)
            .await?
            .ok_or(ClearanceError::NotFound)
    }

    /// Creates a user with a role; trade roles belong to an enterprise. The same name again returns
    /// the first user.
    pub async fn create_user(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        enterprise_credit_code: Option<&str>,
    ) -> Result<UserRow, ClearanceError> {
        let name = domain::numbers::parse_text("name", name, 64)
            .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let enterprise = match enterprise_credit_code {
            Some(code) => Some(
                self.store
                    .enterprise_by_credit_code(code)
                    .await?
                    .ok_or_else(|| unknown_enterprise(code))?,
            ),
            None => None,
        };
        if role.is_trade() != enterprise.is_some() {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::not_allowed(
                    "enterprise",
                    "declarants and brokers belong to an enterprise; customs roles do not",
                    "申报人和报关企业用户须属于企业，海关角色不属于企业",
                ),
            ]));
        }
        let row = UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            role: role.as_str().to_owned(),
            enterprise_id: enterprise.map(|e| e.id),
        };
        let payload =
            json!({"name": row.name, "role": row.role, "enterprise_id": row.enterprise_id});
        let key = format!("user:{}", row.name);
        self.admin_append(
            actor,
            row.id.clone(),
            "user.created",
            key,
            payload,
            Projection::NewUser(row.clone()),
        )
        .await?;
        self.store
            .user_by_name(&row.name)
            .await?
            .ok_or(ClearanceError::NotFound)
    }

    /// Issues a new bearer token for a user; the secret is returned once and never stored.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        user_name: &str,
    ) -> Result<NewToken, ClearanceError> {
        let user = self
            .store
            .user_by_name(user_name)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let row = TokenRow {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            created_at_ms: self.now().timestamp_millis(),
        };
        let payload = json!({"user_id": user.id, "token_hash": row.token_hash});
        let key = format!("token:{}", row.token_hash);
        self.admin_append(
            actor,
            user.id.clone(),
            "token.issued",
            key,
            payload,
            Projection::NewToken(row),
        )
        .await?;
        Ok(NewToken { token, user })
    }

    pub async fn revoke_token(&self, actor: &Actor, token: &str) -> Result<(), ClearanceError> {
        let hash = token_hash(token);
        let principal = self
            .store
            .principal_by_token(&hash)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let payload = json!({"token_hash": hash});
        let key = format!("token-revoked:{hash}");
        self.admin_append(
            actor,
            principal.user.id,
            "token.revoked",
            key,
            payload,
            Projection::RevokeToken { token_hash: hash },
        )
        .await?;
        self.principals.clear();
        Ok(())
    }

    /// Records that `principal` authorised `broker` to declare on its behalf.
    pub async fn authorise_broker(
        &self,
        actor: &Actor,
        broker_credit_code: &str,
        principal_credit_code: &str,
    ) -> Result<(), ClearanceError> {
        let broker = self
            .store
            .enterprise_by_credit_code(broker_credit_code)
            .await?
            .ok_or_else(|| unknown_enterprise(broker_credit_code))?;
        let principal = self
            .store
            .enterprise_by_credit_code(principal_credit_code)
            .await?
            .ok_or_else(|| unknown_enterprise(principal_credit_code))?;
        let payload =
            json!({"broker_enterprise_id": broker.id, "principal_enterprise_id": principal.id});
        let key = format!("broker:{}:{}", broker.id, principal.id);
        let projection = Projection::BrokerAuthorisation {
            broker_enterprise_id: broker.id.clone(),
            principal_enterprise_id: principal.id,
        };
        self.admin_append(
            actor,
            broker.id,
            "broker.authorised",
            key,
            payload,
            projection,
        )
        .await?;
        self.principals.clear();
        Ok(())
    }
}

/// The credit levels (企业信用等级) an administrator sets, as written and as targeting sees them.
pub const CREDIT_LEVELS: [(&str, risk::CreditLevel); 4] = [
    ("advanced_certified", risk::CreditLevel::AdvancedCertified),
    ("general_certified", risk::CreditLevel::GeneralCertified),
    ("general", risk::CreditLevel::General),
    ("untrustworthy", risk::CreditLevel::Untrustworthy),
];

/// A credit level by its name (`advanced_certified`, `general_certified`, `general`,
/// `untrustworthy`).
pub fn parse_credit_level(text: &str) -> Option<risk::CreditLevel> {
    CREDIT_LEVELS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, level)| *level)
}

impl<S: Store> Clearance<S> {
    /// Sets an enterprise's credit level (企业信用等级), with the reason (the rating decision).
    /// Every change is an event and is kept; declarations accepted from now on are targeted with
    /// the new level (the random rate's credit modifier, rules on `credit`). Returns the change:
    /// `credit_code`, `level`, `previous_level` (`null` when none was set: `general`), `reason`
    /// and `seq` (its audit-chain entry).
    pub async fn set_credit_level(
        &self,
        actor: &Actor,
        credit_code: &str,
        level: &str,
        reason: &str,
    ) -> Result<serde_json::Value, ClearanceError> {
        let mut errors = Vec::new();
        let code = domain::codes::CreditCode::parse("credit_code", credit_code)
            .map_err(|e| errors.push(e))
            .ok();
        if parse_credit_level(level).is_none() {
            let names: Vec<&str> = CREDIT_LEVELS.iter().map(|(name, _)| *name).collect();
            errors.push(domain::FieldError::invalid_format(
                "level",
                &format!("one of {}", names.join(", ")),
                &format!("以下之一：{}", names.join("、")),
            ));
        }
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| errors.push(e))
                .ok();
        let (Some(code), Some(reason), true) = (code, reason, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let enterprise = self
            .store
            .enterprise_by_credit_code(code.as_str())
            .await?
            .ok_or_else(|| {
                ClearanceError::Invalid(vec![domain::FieldError::not_allowed(
                    "credit_code",
                    &format!(
                        "no enterprise with credit code {} is registered",
                        code.as_str()
                    ),
                    &format!("未登记统一社会信用代码为 {} 的企业", code.as_str()),
                )])
            })?;
        let previous = self.store.credit_level(&enterprise.credit_code).await?;
        let payload = json!({
            "credit_code": enterprise.credit_code,
            "level": level,
            "previous_level": previous,
            "reason": reason,
        });
        // Every change is a new event: setting the same level twice records it twice.
        let key = format!("credit:{}:{}", enterprise.credit_code, uuid::Uuid::now_v7());
        let projection = Projection::SetCreditLevel {
            credit_code: enterprise.credit_code.clone(),
            level: level.to_owned(),
        };
        let outcome = self
            .admin_append(
                actor,
                enterprise.id,
                CREDIT_LEVEL_SET_ACTION,
                key,
                payload.clone(),
                projection,
            )
            .await;
        self.credit_levels.invalidate();
        let seq = match outcome? {
            AppendOutcome::Appended { seq } => seq,
            AppendOutcome::Duplicate { first, .. } => first.seq,
            other => {
                return Err(ClearanceError::Internal(anyhow::anyhow!(
                    "setting a credit level was not appended: {other:?}"
                )));
            }
        };
        let mut view = payload;
        view["seq"] = json!(seq);
        Ok(view)
    }

    /// [`Clearance::set_credit_level`] for an authenticated caller (the HTTP API): administrators
    /// only ([`Action::ManageCredit`]).
    pub async fn set_credit_level_as(
        &self,
        caller: &Caller,
        credit_code: &str,
        level: &str,
        reason: &str,
    ) -> Result<serde_json::Value, ClearanceError> {
        caller.require(Action::ManageCredit)?;
        self.set_credit_level(&crate::actor(caller), credit_code, level, reason)
            .await
    }
}

/// The event that records a change of an enterprise's credit level.
pub const CREDIT_LEVEL_SET_ACTION: &str = "enterprise.credit_level_set";

fn unknown_enterprise(code: &str) -> ClearanceError {
    ClearanceError::Invalid(vec![domain::FieldError::not_allowed(
        "enterprise",
        &format!(
            "no enterprise with credit code {} is registered",
            domain::echoed(code)
        ),
        &format!("未登记统一社会信用代码为 {} 的企业", domain::echoed(code)),
    )])
}
