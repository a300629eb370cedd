//! The CEB register's entries (an enterprise's CEB roles and its certificate in force), kept in
//! memory because every CEB message reads its sender's, and a list its agent's and e-commerce
//! enterprise's: read from the store for every message, they were a large part of a parcel's
//! store reads (the Singles' Day bench).
//!
//! Unlike the enterprise register (`parties`), an entry changes: roles are added, a new
//! certificate comes into force. So the cache is watched like the others (`invalidation`): the
//! actions that change an entry (`ceb.enterprise_registered`, `ceb.certificate_added`) empty it,
//! here at once and on other instances when their notification arrives; a fill that raced an
//! invalidation is not kept; nothing is used while the feed of changes is down; and an entry is
//! read again after `CEB_REGISTER_CACHE_TTL` whatever happens. Only found entries are kept: "not
//! registered" is always asked again, so a registration counts at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use store::{CebRegistration, Store};

use crate::Clearance;
use crate::error::ClearanceError;
use crate::invalidation::Freshness;

/// Entries kept at most; when full the cache starts again empty rather than grow.
pub const CEB_REGISTER_CACHE_MAX: usize = 10_000;

/// The longest an entry is used before it is read again, even with no change heard.
pub const CEB_REGISTER_CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct CebRegisterCache {
    entries: Mutex<HashMap<String, (Arc<CebRegistration>, Instant)>>,
    freshness: Arc<Freshness>,
}

impl CebRegisterCache {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> CebRegisterCache {
        CebRegisterCache {
            freshness: freshness.clone(),
            ..CebRegisterCache::default()
        }
    }

    fn get(&self, code: &str) -> Option<Arc<CebRegistration>> {
        if !self.freshness.trusted() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (entry, at) = entries.get(code)?;
        (at.elapsed() < CEB_REGISTER_CACHE_TTL).then(|| entry.clone())
    }

    /// Keeps `entry` under `code` unless an invalidation came since `ticket` was taken.
    fn put(&self, code: &str, entry: Arc<CebRegistration>, ticket: crate::invalidation::Ticket) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.freshness.still(ticket) {
            return;
        }
        if entries.len() >= CEB_REGISTER_CACHE_MAX && !entries.contains_key(code) {
            entries.clear();
        }
        entries.insert(code.to_owned(), (entry, Instant::now()));
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
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
    /// The CEB registration of the enterprise known by `code` (customs or credit code), from
    /// memory when it was found before and nothing changed since.
    pub(crate) async fn ceb_registration(
        &self,
        code: &str,
    ) -> Result<Option<CebRegistration>, ClearanceError> {
        if let Some(entry) = self.ceb_register.get(code) {
            return Ok(Some(CebRegistration::clone(&entry)));
        }
        let ticket = self.freshness.ticket();
        let found = self.store.ceb_registration(code).await?;
        if let Some(entry) = &found {
            self.ceb_register.put(code, Arc::new(entry.clone()), ticket);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::CebEnterpriseRow;

    fn entry(code: &str) -> Arc<CebRegistration> {
        Arc::new(CebRegistration {
            enterprise: CebEnterpriseRow {
                customs_code: Some(code.to_owned()),
                credit_code: None,
                name: "Test".into(),
                roles: vec!["ebp".into()],
                registered_seq: None,
            },
            certificate: None,
            certificates_kept: 0,
        })
    }

    #[test]
    fn a_full_cache_starts_again_empty_at_its_edge() {
        let freshness = Arc::new(Freshness::default());
        let cache = CebRegisterCache::watched(&freshness);
        for n in 0..CEB_REGISTER_CACHE_MAX {
            cache.put(&format!("{n:010}"), entry("x"), freshness.ticket());
        }
        assert_eq!(cache.len(), CEB_REGISTER_CACHE_MAX);
        // Putting one already kept does not empty it.
        cache.put(&format!("{:010}", 0), entry("x"), freshness.ticket());
        assert_eq!(cache.len(), CEB_REGISTER_CACHE_MAX);
        cache.put("one more", entry("x"), freshness.ticket());
        assert_eq!(cache.len(), 1);
        assert!(cache.get("one more").is_some());
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_not_kept() {
        let freshness = Arc::new(Freshness::default());
        let cache = CebRegisterCache::watched(&freshness);
        let ticket = freshness.ticket();
        // An invalidation (a certificate added here or elsewhere) between the read and the put.
        freshness.advance_for_tests();
        cache.put("3301960001", entry("3301960001"), ticket);
        assert!(cache.get("3301960001").is_none());
        cache.put("3301960001", entry("3301960001"), freshness.ticket());
        assert!(cache.get("3301960001").is_some());
    }
}
