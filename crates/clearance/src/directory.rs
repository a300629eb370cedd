//! Who is registered, for administrators: the users (disabled ones too) and the enterprises with
//! their credit levels. Listed from the store's projections, at most [`DIRECTORY_LIST_MAX`] each.

use std::collections::HashMap;

use store::Store;

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;

/// The most users, or enterprises, one listing holds.
pub const DIRECTORY_LIST_MAX: usize = 500;

/// A user as an administrator sees it (never a password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    pub role: String,
    /// The credit code of the user's enterprise (trade roles).
    pub enterprise: Option<String>,
    pub disabled: bool,
}

/// An enterprise and its credit level in force (`None`: never set, which targeting reads as
/// `general`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseEntry {
    pub credit_code: String,
    pub customs_code: String,
    pub name: String,
    pub credit_level: Option<String>,
}

impl<S: Store> Clearance<S> {
    /// The users, by name, at most `limit` (capped at [`DIRECTORY_LIST_MAX`]); administrators.
    pub async fn users_as(
        &self,
        caller: &Caller,
        limit: usize,
    ) -> Result<Vec<UserEntry>, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        let users = self.store.users(limit.min(DIRECTORY_LIST_MAX)).await?;
        let codes: HashMap<String, String> = self
            .store
            .enterprises(usize::MAX >> 1)
            .await?
            .into_iter()
            .map(|e| (e.id, e.credit_code))
            .collect();
        Ok(users
            .into_iter()
            .map(|u| UserEntry {
                enterprise: u
                    .enterprise_id
                    .as_ref()
                    .and_then(|id| codes.get(id).cloned()),
                name: u.name,
                role: u.role,
                disabled: u.disabled_seq.is_some(),
            })
            .collect())
    }

    /// The enterprises, by credit code, at most `limit` (capped at [`DIRECTORY_LIST_MAX`]), with
    /// their credit levels; administrators.
    pub async fn enterprises_as(
        &self,
        caller: &Caller,
        limit: usize,
    ) -> Result<Vec<EnterpriseEntry>, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        let enterprises = self
            .store
            .enterprises(limit.min(DIRECTORY_LIST_MAX))
            .await?;
        let mut entries = Vec::with_capacity(enterprises.len());
        for e in enterprises {
            let credit_level = self.store.credit_level(&e.credit_code).await?;
            entries.push(EnterpriseEntry {
                credit_code: e.credit_code,
                customs_code: e.customs_code,
                name: e.name,
                credit_level,
            });
        }
        Ok(entries)
    }
}

/// Most distinct actors one history's names are looked up for (a declaration's history has a
/// handful; the rest are shown by id).
pub const ACTOR_NAMES_MAX: usize = 100;

impl<S: Store> Clearance<S> {
    /// The names of the users behind `ids` (events' actors), for customs roles reading a
    /// declaration's history: an officer reads who acted by name, not by id. The trade never
    /// reads customs histories, so it is refused here too. Unknown ids (the engine, a bank's
    /// connector) are absent from the answer.
    pub async fn actor_names(
        &self,
        caller: &Caller,
        ids: &[&str],
    ) -> Result<HashMap<String, String>, ClearanceError> {
        caller.require(Action::ReadTasks)?;
        let mut names = HashMap::new();
        for id in ids.iter().take(ACTOR_NAMES_MAX) {
            if names.contains_key(*id) {
                continue;
            }
            if let Some(user) = self.store.user(id).await? {
                names.insert((*id).to_owned(), user.name);
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{TRADER, beijing, fixture};
    use crate::{ClearanceError, Role};

    #[tokio::test]
    async fn administrators_list_users_and_enterprises_and_nobody_else_does() {
        let f = fixture(beijing(2026, 11, 26, 10)).await;
        let admin = f.caller_with_role("root", Role::Admin).await;
        let users = f.clearance.users_as(&admin, 100).await.unwrap();
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["broker", "officer", "root"], "by name");
        assert_eq!(users[0].enterprise.as_deref(), Some("91310000MA1FL0001R"));
        assert_eq!(users[1].enterprise, None);
        assert_eq!(f.clearance.users_as(&admin, 1).await.unwrap().len(), 1);
        let enterprises = f.clearance.enterprises_as(&admin, 100).await.unwrap();
        assert_eq!(enterprises.len(), 2);
        assert!(enterprises.iter().any(|e| e.credit_code == TRADER));
        f.clearance
            .set_credit_level_as(&admin, TRADER, "untrustworthy", "decision 7")
            .await
            .unwrap();
        let enterprises = f.clearance.enterprises_as(&admin, 100).await.unwrap();
        let trader = enterprises
            .iter()
            .find(|e| e.credit_code == TRADER)
            .unwrap();
        assert_eq!(trader.credit_level.as_deref(), Some("untrustworthy"));
        let officer = f.caller("officer").await;
        assert!(matches!(
            f.clearance.users_as(&officer, 100).await,
            Err(ClearanceError::Forbidden { .. })
        ));
        assert!(matches!(
            f.clearance.enterprises_as(&officer, 100).await,
            Err(ClearanceError::Forbidden { .. })
        ));
    }
}
