//! People's passwords and console sessions (issue 11): a person logs in with a name and a
//! password and gets a session, a bearer token that expires after [`SESSION_LIFETIME_HOURS`];
//! machines keep their API tokens.
//!
//! A password is kept as the PHC string of its argon2id hash (random salt, the parameters
//! written in the string), set by a `user.password_set` event whose projection records that
//! string so the `users` table is rebuilt from the chain like every other; the event's payload,
//! which the audit API shows, names the user only. The password itself is never stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde_json::json;
use store::{Actor, Projection, Store};

use crate::access::{Caller, Role};
use crate::admin::token_id;
use crate::error::ClearanceError;
use crate::{Clearance, NewToken};

/// Shortest password accepted, in characters: long enough that a phrase beats guessing.
pub const PASSWORD_LENGTH_MIN: usize = 12;
/// Longest password accepted, in characters: bounds the work of hashing what a caller sends.
pub const PASSWORD_LENGTH_MAX: usize = 128;
/// A console session lasts this long, then its holder logs in again.
pub const SESSION_LIFETIME_HOURS: u32 = 12;
const HOUR_MS: i64 = 3_600_000;

/// The event that sets or replaces a user's password.
pub const PASSWORD_SET_ACTION: &str = "user.password_set";
/// The `kind` recorded in the payload of a `token.issued` event for a console session.
pub const SESSION_TOKEN_KIND: &str = "session";

/// A hash of no one's password with the same parameters as [`Argon2::default`]: verified against
/// when the name is unknown or has no password, so that a refusal takes as long whichever it is.
const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0Zm9yb2M$\
     0Wv5Nhfw9ZSjD9xJMKwW8hD1kCG7lWq2Qd0f7sBy3yM";

/// Why a password is refused: its length, in characters, outside the policy.
fn check_password(password: &str) -> Result<(), ClearanceError> {
    let length = password.chars().count();
    if (PASSWORD_LENGTH_MIN..=PASSWORD_LENGTH_MAX).contains(&length) {
        return Ok(());
    }
    // The password is never echoed, not even cut.
    Err(ClearanceError::Invalid(vec![
        domain::FieldError::out_of_range(
            "password",
            &format!("from {PASSWORD_LENGTH_MIN} to {PASSWORD_LENGTH_MAX} characters long"),
            &format!("为 {PASSWORD_LENGTH_MIN} 至 {PASSWORD_LENGTH_MAX} 个字符"),
        ),
    ]))
}

/// The PHC string of a new salted argon2id hash of `password`.
fn hash_password(password: &str) -> Result<String, ClearanceError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|err| anyhow::anyhow!("hashing a password: {err}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string; an unreadable string matches nothing.
fn password_matches(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

impl<S: Store> Clearance<S> {
    /// Sets a user's password: an administrator anybody's who is not disabled, anybody else
    /// their own. Recorded as the caller.
    pub async fn set_password(
        &self,
        caller: &Caller,
        user_name: &str,
        password: &str,
    ) -> Result<(), ClearanceError> {
        if caller.role != Role::Admin && user_name != caller.principal.user.name {
            return Err(ClearanceError::Forbidden {
                message_en: format!(
                    "the role {} sets only its own password",
                    caller.role.as_str()
                ),
                message_zh: format!("角色 {} 只能设置自己的密码", caller.role.as_str()),
                errors: vec![],
            });
        }
        self.set_password_as(&crate::actor(caller), user_name, password)
            .await
    }

    /// Sets a user's password, recorded as `actor`, without asking who may: for the demo and the
    /// command line run from the data folder. A disabled user's password is not set.
    pub async fn set_password_as(
        &self,
        actor: &Actor,
        user_name: &str,
        password: &str,
    ) -> Result<(), ClearanceError> {
        check_password(password)?;
        let user = self.enabled_user(user_name).await?;
        let password_hash = hash_password(password)?;
        let payload = json!({"user_id": user.id, "name": user.name});
        // Every change is a new event: setting a password twice records it twice.
        let key = format!("password:{}:{}", user.id, uuid::Uuid::now_v7());
        self.admin_append(
            actor,
            user.id.clone(),
            PASSWORD_SET_ACTION,
            key,
            payload,
            Projection::SetPassword {
                user_id: user.id.clone(),
                password_hash,
            },
        )
        .await?;
        Ok(())
    }

    /// Logs a person in: a session token that expires after [`SESSION_LIFETIME_HOURS`], its
    /// `token.issued` event recorded as the user, with `"kind": "session"`. An unknown name, a
    /// user without a password, a disabled user and a wrong password all get the same
    /// [`ClearanceError::Unauthenticated`], after the same work.
    pub async fn log_in(
        &self,
        user_name: &str,
        password: &str,
    ) -> Result<NewToken, ClearanceError> {
        // Longer than any password set: refused without hashing what a caller sends.
        if password.chars().count() > PASSWORD_LENGTH_MAX || user_name.chars().count() > 64 {
            return Err(ClearanceError::Unauthenticated);
        }
        let user = self.store.user_by_name(user_name).await?;
        let stored = match &user {
            Some(user) => self.store.password_hash(&user.id).await?,
            None => None,
        };
        let matches = password_matches(password, stored.as_deref().unwrap_or(DUMMY_PASSWORD_HASH));
        let user = match user {
            Some(user) if matches && stored.is_some() && user.disabled_seq.is_none() => user,
            _ => return Err(ClearanceError::Unauthenticated),
        };
        let actor = Actor {
            user_id: user.id.clone(),
            role: user.role.clone(),
        };
        self.issue_token_with_lifetime_ms(
            &actor,
            user,
            i64::from(SESSION_LIFETIME_HOURS) * HOUR_MS,
            Some(SESSION_TOKEN_KIND),
        )
        .await
    }

    /// Ends the caller's session: revokes `token` (the secret), which must be the caller's own
    /// (another's is answered as absent). Logging out twice changes nothing.
    pub async fn log_out(&self, caller: &Caller, token: &str) -> Result<(), ClearanceError> {
        let row = self
            .store
            .token(&token_id(&crate::admin::token_hash(token)))
            .await?
            .ok_or(ClearanceError::NotFound)?;
        if row.user_id != caller.user_id() {
            return Err(ClearanceError::NotFound);
        }
        self.revoke(&crate::actor(caller), &row).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_PASSWORD_HASH).unwrap();
        let real = hash_password("a password of some length").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
    }
}
