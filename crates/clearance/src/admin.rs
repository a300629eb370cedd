//! Enterprises, users, bearer tokens, broker authorisations and enterprise credit levels;
//! authentication of callers.
//!
//! Tokens are 256-bit random secrets shown once; only their SHA-256 is stored. A slow password
//! hash (argon2) would add nothing for a secret of that entropy and would cost milliseconds on
//! every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{
    Actor, Append, AppendOutcome, EnterpriseRow, Projection, Store, StoreError, TokenRow, UserRow,
};

use crate::Clearance;
use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::invalidation::{Freshness, Ticket};

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
    freshness: Arc<Freshness>,
}

impl PrincipalCache {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> PrincipalCache {
        PrincipalCache {
            freshness: freshness.clone(),
            ..PrincipalCache::default()
        }
    }

    fn get(&self, token_hash: &str) -> Option<Caller> {
        if !self.freshness.trusted() {
            return None;
        }
        let entries = self
            .entries
            .lock()
            .expect("the principal cache lock is never poisoned");
        let (caller, at) = entries.get(token_hash)?;
        (at.elapsed() < PRINCIPAL_CACHE_TTL).then(|| caller.clone())
    }

    /// Keeps `caller` unless an invalidation came since `ticket` was taken (before the read).
    fn put(&self, token_hash: String, caller: Caller, ticket: Ticket) {
        let mut entries = self
            .entries
            .lock()
            .expect("the principal cache lock is never poisoned");
        if !self.freshness.still(ticket) {
            return;
        }
        if entries.len() >= PRINCIPAL_CACHE_MAX {
            entries.clear();
        }
        entries.insert(token_hash, (caller, Instant::now()));
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .expect("the principal cache lock is never poisoned")
            .clear();
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hex characters of the token's hash in its id: 64 bits, unique among any number of tokens a
/// platform issues (a clash is refused by the store, never merged).
const TOKEN_ID_HASH_CHARS: usize = 16;

/// A token's public id (`T-` and the start of its hash): listed, and revoked by, without the
/// secret. Whoever holds the secret can compute it too (`customs admin token revoke oc_...`).
pub fn token_id(token_hash: &str) -> String {
    let prefix = token_hash.get(..TOKEN_ID_HASH_CHARS).unwrap_or(token_hash);
    format!("T-{prefix}")
}

/// A person's token lives this many days unless the administrator says otherwise.
pub const TOKEN_LIFETIME_DEFAULT_DAYS: u32 = 90;
/// The longest a token may live: a year and a day. Longer-lived credentials are not issued.
pub const TOKEN_LIFETIME_MAX_DAYS: u32 = 366;
const DAY_MS: i64 = 86_400_000;

/// The user id and role of what the platform does by itself (targeting, scoring, task draws,
/// automatic assessments, the drift monitor). No user can have this id (user ids are UUIDs) or
/// this role ([`Role::parse`] knows no `system`).
pub const SYSTEM_USER_ID: &str = "system";
pub const SYSTEM_ROLE: &str = "system";

/// The platform itself, as recorded with its own acts; the payload names the rule, model or draw.
pub fn system_actor() -> Actor {
    Actor {
        user_id: SYSTEM_USER_ID.to_owned(),
        role: SYSTEM_ROLE.to_owned(),
    }
}

/// Why a known token no longer authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Expired,
    Revoked,
    UserDisabled,
}

impl TokenRefusal {
    /// What its holder is told, in English and Chinese.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            TokenRefusal::Expired => (
                "this token has expired; ask an administrator for a new one",
                "此令牌已过期，请向管理员申领新令牌",
            ),
            TokenRefusal::Revoked => (
                "this token was revoked; ask an administrator for a new one",
                "此令牌已被吊销，请向管理员申领新令牌",
            ),
            TokenRefusal::UserDisabled => (
                "the user of this token is disabled",
                "此令牌所属用户已被停用",
            ),
        }
    }
}

/// The event that records the first administrator created from the data folder
/// (`customs admin init`), by the system.
pub const ADMIN_BOOTSTRAPPED_ACTION: &str = "user.admin_bootstrapped";

/// A token as issued: the secret, shown once, and whose it is.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token: String,
    pub id: String,
    pub expires_at_ms: i64,
    pub user: UserRow,
}

impl<S: Store> Clearance<S> {
    /// The caller a bearer token belongs to. A known token that expired, was revoked or whose
    /// user was disabled is refused with [`ClearanceError::TokenRefused`], saying which.
    pub async fn authenticate(&self, bearer_token: &str) -> Result<Caller, ClearanceError> {
        if !bearer_token.starts_with(TOKEN_PREFIX) || bearer_token.len() > 128 {
            return Err(ClearanceError::Unauthenticated);
        }
        let hash = token_hash(bearer_token);
        let now_ms = self.now().timestamp_millis();
        let expired = |caller: &Caller| {
            caller
                .principal
                .token
                .as_ref()
                .is_none_or(|t| t.expires_at_ms <= now_ms)
        };
        if let Some(caller) = self.principals.get(&hash) {
            if expired(&caller) {
                return Err(ClearanceError::TokenRefused(TokenRefusal::Expired));
            }
            return Ok(caller);
        }
        let ticket = self.freshness.ticket();
        let Some(principal) = self.store.principal_by_token(&hash).await? else {
            // Only a refused token costs this second read: say why it no longer works.
            return Err(match self.store.token_by_hash(&hash).await? {
                None => ClearanceError::Unauthenticated,
                Some(t) if t.revoked_seq.is_some() => {
                    ClearanceError::TokenRefused(TokenRefusal::Revoked)
                }
                Some(_) => ClearanceError::TokenRefused(TokenRefusal::UserDisabled),
            });
        };
        let caller = Caller::from_principal(principal).ok_or(ClearanceError::Unauthenticated)?;
        if expired(&caller) {
            return Err(ClearanceError::TokenRefused(TokenRefusal::Expired));
        }
        self.principals.put(hash, caller.clone(), ticket);
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
            guarantee_debit: None,
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
            disabled_seq: None,
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

    /// Issues a new bearer token for a user, valid [`TOKEN_LIFETIME_DEFAULT_DAYS`]; the secret is
    /// returned once and never stored.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        user_name: &str,
    ) -> Result<NewToken, ClearanceError> {
        self.issue_token_for(actor, user_name, None).await
    }

    /// Issues a new bearer token valid `lifetime_days` (1 to [`TOKEN_LIFETIME_MAX_DAYS`]; `None`:
    /// [`TOKEN_LIFETIME_DEFAULT_DAYS`]) to an enabled user.
    pub async fn issue_token_for(
        &self,
        actor: &Actor,
        user_name: &str,
        lifetime_days: Option<u32>,
    ) -> Result<NewToken, ClearanceError> {
        let days = lifetime_days.unwrap_or(TOKEN_LIFETIME_DEFAULT_DAYS);
        if !(1..=TOKEN_LIFETIME_MAX_DAYS).contains(&days) {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::out_of_range(
                    "expires_in_days",
                    &format!("1 to {TOKEN_LIFETIME_MAX_DAYS} days"),
                    &format!("1 至 {TOKEN_LIFETIME_MAX_DAYS} 天"),
                ),
            ]));
        }
        let user = self.enabled_user(user_name).await?;
        self.issue_token_with_lifetime_ms(actor, user, i64::from(days) * DAY_MS, None)
            .await
    }

    /// Issues a new bearer token to `user` (enabled: the caller checked) that expires
    /// `lifetime_ms` after now. `kind` is recorded in the event's payload when given (`session`
    /// for a console log-in); a token without one is an API token, as before kinds existed.
    pub(crate) async fn issue_token_with_lifetime_ms(
        &self,
        actor: &Actor,
        user: UserRow,
        lifetime_ms: i64,
        kind: Option<&str>,
    ) -> Result<NewToken, ClearanceError> {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let now_ms = self.now().timestamp_millis();
        let hash = token_hash(&token);
        let row = TokenRow {
            id: token_id(&hash),
            token_hash: hash,
            user_id: user.id.clone(),
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(lifetime_ms),
            revoked_seq: None,
        };
        let mut payload = json!({
            "user_id": user.id, "token_id": row.id, "token_hash": row.token_hash,
            "expires_at_ms": row.expires_at_ms,
        });
        if let Some(kind) = kind {
            payload["kind"] = json!(kind);
        }
        let key = format!("token:{}", row.token_hash);
        self.admin_append(
            actor,
            user.id.clone(),
            "token.issued",
            key,
            payload,
            Projection::NewToken(row.clone()),
        )
        .await?;
        Ok(NewToken {
            token,
            id: row.id,
            expires_at_ms: row.expires_at_ms,
            user,
        })
    }

    /// A user by name that is not disabled; a disabled one is refused naming the field.
    pub(crate) async fn enabled_user(&self, user_name: &str) -> Result<UserRow, ClearanceError> {
        let user = self.user_named(user_name).await?;
        if user.disabled_seq.is_some() {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::not_allowed(
                    "user",
                    &format!("the user {user_name} is disabled"),
                    &format!("用户 {user_name} 已停用"),
                ),
            ]));
        }
        Ok(user)
    }

    async fn user_named(&self, user_name: &str) -> Result<UserRow, ClearanceError> {
        self.store.user_by_name(user_name).await?.ok_or_else(|| {
            ClearanceError::Invalid(vec![domain::FieldError::not_allowed(
                "user",
                &format!("no user named {user_name}"),
                &format!("没有名为 {user_name} 的用户"),
            )])
        })
    }

    /// Revokes a token given as its secret (`oc_...`) or its id (`T-...`). Revoking a revoked
    /// token again changes nothing.
    pub async fn revoke_token(&self, actor: &Actor, token: &str) -> Result<(), ClearanceError> {
        let id = if token.starts_with(TOKEN_PREFIX) {
            token_id(&token_hash(token))
        } else {
            token.to_owned()
        };
        let row = self
            .store
            .token(&id)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        self.revoke(actor, &row).await.map(|_| ())
    }

    pub(crate) async fn revoke(
        &self,
        actor: &Actor,
        row: &TokenRow,
    ) -> Result<TokenRow, ClearanceError> {
        if row.revoked_seq.is_none() {
            let payload = json!({"token_id": row.id, "token_hash": row.token_hash});
            let key = format!("token-revoked:{}", row.token_hash);
            self.admin_append(
                actor,
                row.user_id.clone(),
                "token.revoked",
                key,
                payload,
                Projection::RevokeToken {
                    token_hash: row.token_hash.clone(),
                },
            )
            .await?;
        }
        self.invalidate(&[crate::invalidation::Cache::Principals]);
        self.store
            .token(&row.id)
            .await?
            .ok_or(ClearanceError::NotFound)
    }

    /// Revokes every token of a user (issued before this event); returns the ids revoked.
    pub async fn revoke_user_tokens(
        &self,
        actor: &Actor,
        user_name: &str,
    ) -> Result<Vec<String>, ClearanceError> {
        let user = self.user_named(user_name).await?;
        let revoked: Vec<String> = self
            .store
            .tokens(Some(&user.id))
            .await?
            .into_iter()
            .filter(|t| t.revoked_seq.is_none())
            .map(|t| t.id)
            .collect();
        let payload = json!({"user_id": user.id, "token_ids": revoked});
        let key = format!("tokens-revoked:{}:{}", user.id, uuid::Uuid::now_v7());
        self.admin_append(
            actor,
            user.id.clone(),
            "token.revoked_all",
            key,
            payload,
            Projection::RevokeUserTokens {
                user_id: user.id.clone(),
            },
        )
        .await?;
        self.invalidate(&[crate::invalidation::Cache::Principals]);
        Ok(revoked)
    }

    /// Disables a user: its tokens stop working at once and it is drawn for no task. Kept, never
    /// deleted; a disabled user's name is not given to another user.
    pub async fn disable_user(
        &self,
        actor: &Actor,
        user_name: &str,
        reason: &str,
    ) -> Result<UserRow, ClearanceError> {
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let user = self.user_named(user_name).await?;
        if user.disabled_seq.is_none() {
            let payload = json!({"user_id": user.id, "name": user.name, "reason": reason});
            let key = format!("user-disabled:{}", user.id);
            self.admin_append(
                actor,
                user.id.clone(),
                "user.disabled",
                key,
                payload,
                Projection::DisableUser {
                    user_id: user.id.clone(),
                },
            )
            .await?;
        }
        self.invalidate(&[crate::invalidation::Cache::Principals]);
        self.store
            .user(&user.id)
            .await?
            .ok_or(ClearanceError::NotFound)
    }

    /// Records that `principal` authorised `broker` to declare on its behalf. Already in force:
    /// nothing new is recorded.
    pub async fn authorise_broker(
        &self,
        actor: &Actor,
        broker_credit_code: &str,
        principal_credit_code: &str,
    ) -> Result<(), ClearanceError> {
        let (broker, principal) = self
            .broker_and_principal(broker_credit_code, principal_credit_code)
            .await?;
        let in_force = self.store.broker_principals(&broker.id).await?;
        if in_force.contains(&principal.credit_code) {
            return Ok(());
        }
        let payload =
            json!({"broker_enterprise_id": broker.id, "principal_enterprise_id": principal.id});
        // A grant after a withdrawal is a new event: the key names this grant, not the pair.
        let key = format!(
            "broker:{}:{}:{}",
            broker.id,
            principal.id,
            uuid::Uuid::now_v7()
        );
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
        self.invalidate(&[crate::invalidation::Cache::Principals]);
        Ok(())
    }

    /// The principal's authorisation of the broker is withdrawn: the broker no longer declares
    /// for it, amends or cancels its declarations, nor sees those it did not declare itself.
    pub async fn withdraw_broker(
        &self,
        actor: &Actor,
        broker_credit_code: &str,
        principal_credit_code: &str,
        reason: &str,
    ) -> Result<(), ClearanceError> {
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let (broker, principal) = self
            .broker_and_principal(broker_credit_code, principal_credit_code)
            .await?;
        let in_force = self.store.broker_principals(&broker.id).await?;
        if !in_force.contains(&principal.credit_code) {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::not_allowed(
                    "broker",
                    &format!(
                        "{principal_credit_code} has not authorised {broker_credit_code} as its broker"
                    ),
                    &format!("{principal_credit_code} 未委托 {broker_credit_code} 代理报关"),
                ),
            ]));
        }
        let payload = json!({
            "broker_enterprise_id": broker.id, "principal_enterprise_id": principal.id,
            "reason": reason,
        });
        let key = format!(
            "broker-withdrawn:{}:{}:{}",
            broker.id,
            principal.id,
            uuid::Uuid::now_v7()
        );
        let projection = Projection::WithdrawBrokerAuthorisation {
            broker_enterprise_id: broker.id.clone(),
            principal_enterprise_id: principal.id,
        };
        let outcome = self
            .admin_append(
                actor,
                broker.id,
                "broker.authorisation_withdrawn",
                key,
                payload,
                projection,
            )
            .await;
        self.invalidate(&[crate::invalidation::Cache::Principals]);
        outcome.map(|_| ())
    }

    async fn broker_and_principal(
        &self,
        broker_credit_code: &str,
        principal_credit_code: &str,
    ) -> Result<(EnterpriseRow, EnterpriseRow), ClearanceError> {
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
        Ok((broker, principal))
    }

    /// The first administrator, made from the data folder (`customs admin init`): only while no
    /// enabled administrator holds a token in force (a new platform, or one whose administrators
    /// are all locked out). Recorded by the system, with its own event, and returns the token.
    pub async fn bootstrap_admin(&self, name: &str) -> Result<NewToken, ClearanceError> {
        let now_ms = self.now().timestamp_millis();
        for admin in self.store.users_by_role(Role::Admin.as_str()).await? {
            let tokens = self.store.tokens(Some(&admin.id)).await?;
            if tokens
                .iter()
                .any(|t| t.revoked_seq.is_none() && t.expires_at_ms > now_ms)
            {
                return Err(ClearanceError::Forbidden {
                    message_en: format!(
                        "an administrator ({}) already holds a token in force: ask them for one",
                        admin.name
                    ),
                    message_zh: format!("已有管理员（{}）持有有效令牌，请向其申领", admin.name),
                    errors: vec![],
                });
            }
        }
        let system = system_actor();
        if let Some(existing) = self.store.user_by_name(name).await?
            && existing.role != Role::Admin.as_str()
        {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::not_allowed(
                    "name",
                    &format!("the user {name} exists with the role {}", existing.role),
                    &format!("用户 {name} 已存在，角色为 {}", existing.role),
                ),
            ]));
        }
        let user = self.create_user(&system, name, Role::Admin, None).await?;
        let payload = json!({"user_id": user.id, "name": user.name, "via": "customs admin init"});
        self.admin_append(
            &system,
            user.id.clone(),
            ADMIN_BOOTSTRAPPED_ACTION,
            format!("admin-bootstrap:{}", uuid::Uuid::now_v7()),
            payload,
            Projection::Nothing,
        )
        .await?;
        self.issue_token_for(&system, name, None).await
    }
}

/// Administration by an authenticated caller (the HTTP API and the CLI with `--token`): the
/// same operations, recorded as the caller.
impl<S: Store> Clearance<S> {
    pub async fn create_enterprise_as(
        &self,
        caller: &Caller,
        credit_code: &str,
        customs_code: &str,
        name: &str,
    ) -> Result<EnterpriseRow, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        self.create_enterprise(&crate::actor(caller), credit_code, customs_code, name)
            .await
    }

    pub async fn create_user_as(
        &self,
        caller: &Caller,
        name: &str,
        role: Role,
        enterprise_credit_code: Option<&str>,
    ) -> Result<UserRow, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        self.create_user(&crate::actor(caller), name, role, enterprise_credit_code)
            .await
    }

    pub async fn issue_token_as(
        &self,
        caller: &Caller,
        user_name: &str,
        lifetime_days: Option<u32>,
    ) -> Result<NewToken, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        self.issue_token_for(&crate::actor(caller), user_name, lifetime_days)
            .await
    }

    pub async fn authorise_broker_as(
        &self,
        caller: &Caller,
        broker_credit_code: &str,
        principal_credit_code: &str,
    ) -> Result<(), ClearanceError> {
        caller.require(Action::ManageUsers)?;
        self.authorise_broker(
            &crate::actor(caller),
            broker_credit_code,
            principal_credit_code,
        )
        .await
    }

    /// Tokens without their secrets or hashes: an administrator lists everybody's (or one
    /// user's), anybody else only their own.
    pub async fn tokens_as(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        let user_id = if caller.role == Role::Admin {
            match user_name {
                Some(name) => Some(self.user_named(name).await?.id),
                None => None,
            }
        } else {
            if user_name.is_some_and(|name| name != caller.principal.user.name) {
                return Err(only_own_tokens(caller));
            }
            Some(caller.user_id().to_owned())
        };
        let tokens = self.store.tokens(user_id.as_deref()).await?;
        let mut names: HashMap<String, String> = HashMap::new();
        let mut views = Vec::with_capacity(tokens.len());
        for token in &tokens {
            if !names.contains_key(&token.user_id) {
                let name = self
                    .store
                    .user(&token.user_id)
                    .await?
                    .map(|u| u.name)
                    .unwrap_or_default();
                names.insert(token.user_id.clone(), name);
            }
            views.push(self.token_view(token, &names[&token.user_id]));
        }
        Ok(json!({ "tokens": views }))
    }

    fn token_view(&self, token: &TokenRow, user_name: &str) -> Value {
        let now_ms = self.now().timestamp_millis();
        let status = if token.revoked_seq.is_some() {
            "revoked"
        } else if token.expires_at_ms <= now_ms {
            "expired"
        } else {
            "active"
        };
        json!({
            "id": token.id,
            "user": user_name,
            "user_id": token.user_id,
            "issued_at": crate::views::rfc3339(token.created_at_ms),
            "expires_at": crate::views::rfc3339(token.expires_at_ms),
            "status": status,
            "revoked_seq": token.revoked_seq,
        })
    }

    /// Issues a token over the API: `{"user", "expires_in_days"}` (administrators). Returns the
    /// secret once, with the token's id and expiry.
    pub async fn issue_token_view(
        &self,
        caller: &Caller,
        user_name: &str,
        lifetime_days: Option<u32>,
    ) -> Result<Value, ClearanceError> {
        let issued = self
            .issue_token_as(caller, user_name, lifetime_days)
            .await?;
        Ok(json!({
            "id": issued.id,
            "token": issued.token,
            "user": issued.user.name,
            "expires_at": crate::views::rfc3339(issued.expires_at_ms),
        }))
    }

    /// Revokes a token by id: an administrator any token, anybody else their own (another's is
    /// answered as absent).
    pub async fn revoke_token_as(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Value, ClearanceError> {
        let row = self
            .store
            .token(id)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        if caller.role != Role::Admin && row.user_id != caller.user_id() {
            return Err(ClearanceError::NotFound);
        }
        let revoked = self.revoke(&crate::actor(caller), &row).await?;
        let name = self
            .store
            .user(&revoked.user_id)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok(self.token_view(&revoked, &name))
    }

    /// Revokes every token of a user: an administrator anybody's, anybody else their own.
    pub async fn revoke_user_tokens_as(
        &self,
        caller: &Caller,
        user_name: &str,
    ) -> Result<Value, ClearanceError> {
        if caller.role != Role::Admin && user_name != caller.principal.user.name {
            return Err(only_own_tokens(caller));
        }
        let revoked = self
            .revoke_user_tokens(&crate::actor(caller), user_name)
            .await?;
        Ok(json!({ "user": user_name, "revoked": revoked }))
    }

    /// Disables a user (administrators; not oneself, so that an administrator is never locked
    /// out by their own hand).
    pub async fn disable_user_as(
        &self,
        caller: &Caller,
        user_name: &str,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        if user_name == caller.principal.user.name {
            return Err(ClearanceError::Invalid(vec![
                domain::FieldError::not_allowed(
                    "user",
                    "an administrator does not disable themselves; another administrator does",
                    "管理员不能停用自己，须由其他管理员操作",
                ),
            ]));
        }
        let user = self
            .disable_user(&crate::actor(caller), user_name, reason)
            .await?;
        // A disabled officer closes no task: the administrator is told which are left open, so
        // that they are reassigned rather than forgotten.
        let open_tasks: Vec<String> = self
            .store
            .tasks(&store::TaskQuery {
                assigned_to: Some(user.id.clone()),
                status: Some("open".to_owned()),
                limit: crate::PAGE_SIZE_MAX,
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        Ok(json!({
            "user": user.name, "user_id": user.id, "role": user.role,
            "disabled_seq": user.disabled_seq, "open_tasks": open_tasks,
        }))
    }

    /// Withdraws a broker's authorisation: an administrator, or a declarant of the principal
    /// enterprise (the trader takes back what it granted).
    pub async fn withdraw_broker_as(
        &self,
        caller: &Caller,
        principal_credit_code: &str,
        broker_credit_code: &str,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        let own_principal = caller.role == Role::Declarant
            && caller
                .principal
                .enterprise
                .as_ref()
                .is_some_and(|e| e.credit_code == principal_credit_code);
        if !own_principal {
            caller.require(Action::ManageUsers)?;
        }
        self.withdraw_broker(
            &crate::actor(caller),
            broker_credit_code,
            principal_credit_code,
            reason,
        )
        .await?;
        Ok(json!({
            "principal": principal_credit_code, "broker": broker_credit_code,
            "authorised": false,
        }))
    }
}

fn only_own_tokens(caller: &Caller) -> ClearanceError {
    ClearanceError::Forbidden {
        message_en: format!(
            "the role {} manages only its own tokens",
            caller.role.as_str()
        ),
        message_zh: format!("角色 {} 只能管理自己的令牌", caller.role.as_str()),
        errors: vec![],
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
        self.invalidate(&[crate::invalidation::Cache::CreditLevels]);
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
