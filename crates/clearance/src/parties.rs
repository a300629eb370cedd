//! The declaration's domestic parties against the enterprise register (企业备案): the trader
//! (境内收发货人) and the declarant (申报单位) are named by their credit code, and the customs code
//! and name declared with it must be the register's. A declaration that names a registered credit
//! code with another enterprise's customs code or name is refused, field by field.
//!
//! Names are compared exactly after normalising whitespace: leading and trailing whitespace is
//! dropped and every run of whitespace inside (ASCII or full-width, U+3000) counts as one space.
//! Letter case, full- and half-width brackets and punctuation are significant: the register holds
//! the legal name, and a name that differs in them is not that name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use domain::{Declaration, Enterprise, FieldError, echoed};
use store::{EnterpriseRow, Store};

use crate::Clearance;
use crate::error::ClearanceError;

/// A name as compared with the register's: trimmed, inner whitespace runs as one space.
fn normalised_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The register's entries for a declaration's trader and declarant, read before deciding.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredParties {
    trader: Option<EnterpriseRow>,
    declarant: Option<EnterpriseRow>,
}

impl RegisteredParties {
    /// Every way the declared parties disagree with the register, by field path (`prefix` is put
    /// before each path, e.g. `declaration.` in an amendment).
    pub(crate) fn disagreements(&self, declaration: &Declaration, prefix: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (party, declared, registered) in [
            ("trader", &declaration.trader, &self.trader),
            ("declarant", &declaration.declarant, &self.declarant),
        ] {
            errors.extend(disagreements(
                &format!("{prefix}{party}"),
                declared,
                registered.as_ref(),
            ));
        }
        errors
    }
}

fn disagreements(
    path: &str,
    declared: &Enterprise,
    registered: Option<&EnterpriseRow>,
) -> Vec<FieldError> {
    let Some(registered) = registered else {
        // Fails closed: a party that is not on the register is never accepted.
        return vec![FieldError::not_allowed(
            format!("{path}.credit_code"),
            &format!(
                "no enterprise is registered with credit code {}",
                echoed(declared.credit_code.as_str())
            ),
            &format!(
                "统一社会信用代码 {} 无备案企业",
                echoed(declared.credit_code.as_str())
            ),
        )];
    };
    let mut errors = Vec::new();
    if declared.customs_code.as_str() != registered.customs_code {
        errors.push(FieldError::not_allowed(
            format!("{path}.customs_code"),
            &format!(
                "the enterprise registered with credit code {} has customs code {}",
                registered.credit_code, registered.customs_code
            ),
            &format!(
                "统一社会信用代码 {} 的备案企业海关编码为 {}",
                registered.credit_code, registered.customs_code
            ),
        ));
    }
    if normalised_name(&declared.name) != normalised_name(&registered.name) {
        errors.push(FieldError::not_allowed(
            format!("{path}.name"),
            &format!(
                "the enterprise registered with credit code {} is named '{}'",
                registered.credit_code,
                echoed(&registered.name)
            ),
            &format!(
                "统一社会信用代码 {} 的备案企业名称为“{}”",
                registered.credit_code,
                echoed(&registered.name)
            ),
        ));
    }
    errors
}

/// Register entries remembered at most; the cache is emptied when full rather than grown.
pub(crate) const REGISTER_CACHE_MAX: usize = 10_000;

/// The enterprise register's entries found by credit code, kept in memory because every lodging
/// checks two of them. Safe without invalidation, in this process and across processes: a
/// registered enterprise's row is never changed or removed (the store has no such projection).
/// Only found entries are kept; "not registered" is always asked again, so a registration made
/// by another instance counts at once.
#[derive(Default)]
pub(crate) struct RegisterCache {
    entries: Mutex<HashMap<String, Arc<EnterpriseRow>>>,
}

impl RegisterCache {
    fn get(&self, credit_code: &str) -> Option<Arc<EnterpriseRow>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(credit_code)
            .cloned()
    }

    fn put(&self, row: Arc<EnterpriseRow>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= REGISTER_CACHE_MAX {
            entries.clear();
        }
        entries.insert(row.credit_code.clone(), row);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<S: Store> Clearance<S> {
    /// The register's entries for these credit codes (a missing one is `None`).
    pub(crate) async fn registered_parties(
        &self,
        trader_credit_code: &str,
        declarant_credit_code: &str,
    ) -> Result<RegisteredParties, ClearanceError> {
        Ok(RegisteredParties {
            trader: self.registered(trader_credit_code).await?,
            declarant: self.registered(declarant_credit_code).await?,
        })
    }

    /// One register entry, from memory when it was found before.
    async fn registered(&self, credit_code: &str) -> Result<Option<EnterpriseRow>, ClearanceError> {
        if let Some(row) = self.register.get(credit_code) {
            return Ok(Some(EnterpriseRow::clone(&row)));
        }
        let found = self.store.enterprise_by_credit_code(credit_code).await?;
        if let Some(row) = &found {
            self.register.put(Arc::new(row.clone()));
        }
        Ok(found)
    }

    /// The declaration's parties checked against the register: every disagreement, by path.
    pub(crate) async fn check_parties(
        &self,
        declaration: &Declaration,
    ) -> Result<(), ClearanceError> {
        let errors = self
            .registered_parties(
                declaration.trader.credit_code.as_str(),
                declaration.declarant.credit_code.as_str(),
            )
            .await?
            .disagreements(declaration, "");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ClearanceError::Invalid(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::EnterpriseRow;

    use super::{REGISTER_CACHE_MAX, RegisterCache, normalised_name};

    fn row(n: usize) -> Arc<EnterpriseRow> {
        Arc::new(EnterpriseRow {
            id: format!("e{n}"),
            credit_code: format!("code-{n}"),
            customs_code: format!("{n:010}"),
            name: format!("Enterprise {n}"),
        })
    }

    #[test]
    fn the_register_cache_is_emptied_when_full_not_grown() {
        let cache = RegisterCache::default();
        for n in 0..REGISTER_CACHE_MAX {
            cache.put(row(n));
        }
        assert_eq!(cache.len(), REGISTER_CACHE_MAX);
        assert_eq!(cache.get("code-0").map(|r| r.id.clone()), Some("e0".into()));
        cache.put(row(REGISTER_CACHE_MAX));
        assert_eq!(
            cache.len(),
            1,
            "the entry past the limit starts a new cache"
        );
        assert!(cache.get("code-0").is_none());
        assert!(cache.get(&format!("code-{REGISTER_CACHE_MAX}")).is_some());
    }

    #[test]
    fn names_are_compared_after_normalising_whitespace_only() {
        assert_eq!(
            normalised_name("  上海浦东贸易有限公司\u{3000}Shanghai  Pudong\tTrading Co., Ltd. "),
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd."
        );
        assert_ne!(normalised_name("ACME Ltd."), normalised_name("Acme Ltd."));
    }
}
