//! Keeping the service's caches true when other instances write to the same store.
//!
//! Several `customs serve` processes may share one PostgreSQL database. Each keeps caches (the
//! callers of tokens, the releases, rules, watch lists and models in force, traders' credit
//! levels) that a change made by another instance makes stale. A change made here empties them
//! at once; one made elsewhere reaches this process as the action of the event that made it
//! (PostgreSQL's `NOTIFY`, sent by the database when that event commits), and
//! [`Clearance::invalidate_after`] empties the caches that action can change.
//!
//! Failing closed: while the feed of changes is not known to be connected
//! ([`Clearance::distrust_caches`], from before the first `LISTEN` answers and whenever the
//! connection is lost), every cache is bypassed (looked up never, filled never), and once the
//! feed is back ([`Clearance::trust_caches`]) everything is emptied before it is trusted, since
//! changes made meanwhile were not heard. Each cache's own refresh (`CATALOG_REFRESH`,
//! `PRINCIPAL_CACHE_TTL`) still bounds an entry's age whatever happens.
//!
//! A cache fill races an invalidation: the store is read, another instance commits a change, its
//! notification empties the cache, and only then does the fill put what it read before the
//! change. So a fill takes a [`Ticket`] before it reads and puts its result only if no
//! invalidation happened since ([`Freshness::still`], checked under the cache's lock, after
//! which an invalidation's emptying would remove it anyway).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use store::Store;

use crate::Clearance;

/// The epoch of the caches and whether they may be trusted at all; shared by every cache of a
/// service.
#[derive(Debug)]
pub(crate) struct Freshness {
    /// Moves at every invalidation, before the caches are emptied.
    epoch: AtomicU64,
    /// False while changes made elsewhere might go unheard: every cache is bypassed.
    trusted: AtomicBool,
}

impl Default for Freshness {
    /// Trusted: a store that only this process writes (the embedded SQLite one) hears every
    /// change, its own.
    fn default() -> Freshness {
        Freshness {
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
        }
    }
}

/// The epoch a fill started in; `None` when the caches were not trusted then.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(Option<u64>);

impl Freshness {
    /// Take before reading the store for a fill.
    pub(crate) fn ticket(&self) -> Ticket {
        if !self.trusted.load(Ordering::SeqCst) {
            return Ticket(None);
        }
        Ticket(Some(self.epoch.load(Ordering::SeqCst)))
    }

    /// Whether a fill that took `ticket` may put what it read: the caches are trusted and
    /// nothing was invalidated since.
    pub(crate) fn still(&self, ticket: Ticket) -> bool {
        self.trusted.load(Ordering::SeqCst) && ticket.0 == Some(self.epoch.load(Ordering::SeqCst))
    }

    /// Whether a cached entry may be used at all.
    pub(crate) fn trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    fn advance(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// An invalidation, as a test of a cache sees it.
    #[cfg(test)]
    pub(crate) fn advance_for_tests(&self) {
        self.advance();
    }
}

/// The caches a change can make stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Callers by token: revocations, disabled users, passwords, broker authorisations.
    Principals,
    /// Tariff, exchange-rate, value-control and reference releases in force.
    Releases,
    /// The active targeting rules, compiled.
    Rules,
    /// Traders' credit levels and records, as targeting reads them.
    CreditLevels,
    /// The watch list and the value-control table, built for targeting.
    Lists,
    /// The risk models in force (active and shadow).
    Models,
    /// The CEB register: enterprises' e-commerce roles and certificates in force.
    CebRegister,
}

impl Cache {
    pub const ALL: [Cache; 7] = [
        Cache::Principals,
        Cache::Releases,
        Cache::Rules,
        Cache::CreditLevels,
        Cache::Lists,
        Cache::Models,
        Cache::CebRegister,
    ];
}

/// The actions that change the CEB register (an enterprise's roles, its certificate in force).
pub const CEB_REGISTER_ACTIONS: [&str; 2] = ["ceb.enterprise_registered", "ceb.certificate_added"];

/// The caches an event of `action` can make stale, by the action's kind (the part before the
/// dot). An action of a kind not named here empties every cache: a new kind of change is
/// stale nowhere before someone decides it cannot be.
pub fn caches_changed_by(action: &str) -> &'static [Cache] {
    let kind = action.split_once('.').map_or(action, |(kind, _)| kind);
    match kind {
        "token" | "user" | "broker" => &[Cache::Principals],
        "enterprise" if action == crate::CREDIT_LEVEL_SET_ACTION => &[Cache::CreditLevels],
        // A registered enterprise's row never changes, and "not registered" is never cached.
        "enterprise" => &[],
        // The value-control table in force is a release, and the lists are built on it.
        "release" => &[Cache::Releases, Cache::Lists],
        "rule" => &[Cache::Rules],
        "watch_entry" => &[Cache::Lists],
        "risk_model" => &[Cache::Models],
        // A CEB registration or a new certificate changes the CEB register; the messages, lists
        // and guarantee movements (the e-commerce hot path) change nothing cached.
        "ceb" if CEB_REGISTER_ACTIONS.contains(&action) => &[Cache::CebRegister],
        "ceb" | "guarantee" => &[],
        // The hot path's kinds: nothing cached depends on them but traders' records (counts and
        // discrepancies, which targeting may read up to `CATALOG_REFRESH` late).
        "declaration" | "task" | "cbec" | "payment" | "document" | "draft" | "modification"
        | "officer" | "history" | "payment_connector" => &[],
        _ => &Cache::ALL,
    }
}

impl<S: Store> Clearance<S> {
    /// Empties the caches `caches` (a change made here, or told by another instance).
    pub(crate) fn invalidate(&self, caches: &[Cache]) {
        if caches.is_empty() {
            return;
        }
        // The epoch moves first: a fill that checks it after this sees the change, and one
        // that put its entry before is emptied below.
        self.freshness.advance();
        for cache in caches {
            match cache {
                Cache::Principals => self.principals.clear(),
                Cache::Releases => self.releases_cache.invalidate(),
                Cache::Rules => self.rule_catalog.invalidate(),
                Cache::CreditLevels => self.credit_levels.invalidate(),
                Cache::Lists => self.lists_catalog.invalidate(),
                Cache::Models => self.models.invalidate(),
                Cache::CebRegister => self.ceb_register.clear(),
            }
        }
    }

    /// Another instance committed an event of `action`: empty what it can make stale.
    pub fn invalidate_after(&self, action: &str) {
        self.invalidate(caches_changed_by(action));
    }

    /// Changes made elsewhere may go unheard from now on (the feed of changes is not
    /// connected): every cache is emptied and bypassed until [`Clearance::trust_caches`].
    pub fn distrust_caches(&self) {
        self.freshness.trusted.store(false, Ordering::SeqCst);
        self.invalidate(&Cache::ALL);
    }

    /// The feed of changes is connected (its `LISTEN` answered): every change committed from
    /// now on will be heard. What was committed while it was not, was not: everything is
    /// emptied, then trusted again.
    pub fn trust_caches(&self) {
        self.invalidate(&Cache::ALL);
        self.freshness.trusted.store(true, Ordering::SeqCst);
    }

    /// Whether the caches are in use (false while changes made elsewhere could go unheard).
    pub fn caches_trusted(&self) -> bool {
        self.freshness.trusted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_change_names_its_cache_and_an_unknown_kind_empties_all() {
        assert_eq!(caches_changed_by("token.revoked"), &[Cache::Principals]);
        assert_eq!(caches_changed_by("token.revoked_all"), &[Cache::Principals]);
        assert_eq!(caches_changed_by("user.disabled"), &[Cache::Principals]);
        assert_eq!(caches_changed_by("user.password_set"), &[Cache::Principals]);
        assert_eq!(
            caches_changed_by("broker.authorisation_withdrawn"),
            &[Cache::Principals]
        );
        assert_eq!(
            caches_changed_by("enterprise.credit_level_set"),
            &[Cache::CreditLevels]
        );
        assert_eq!(
            caches_changed_by("release.activated"),
            &[Cache::Releases, Cache::Lists]
        );
        assert_eq!(
            caches_changed_by("release.rolled_back"),
            &[Cache::Releases, Cache::Lists]
        );
        assert_eq!(caches_changed_by("rule.approved"), &[Cache::Rules]);
        assert_eq!(caches_changed_by("rule.retired"), &[Cache::Rules]);
        assert_eq!(caches_changed_by("watch_entry.approved"), &[Cache::Lists]);
        assert_eq!(caches_changed_by("risk_model.promoted"), &[Cache::Models]);
        assert_eq!(
            caches_changed_by("risk_model.rolled_back"),
            &[Cache::Models]
        );
        assert!(caches_changed_by("declaration.accepted").is_empty());
        for action in CEB_REGISTER_ACTIONS {
            assert_eq!(caches_changed_by(action), &[Cache::CebRegister], "{action}");
        }
        // The e-commerce hot path: every CEB message and list state, guarantee movements.
        for action in [
            "ceb.order.received",
            "ceb.inventory.received",
            "ceb.inventory_list.waiting",
            "ceb.inventory_list.accepted",
            "guarantee.debited",
            "guarantee.debit_released",
        ] {
            assert!(caches_changed_by(action).is_empty(), "{action}");
        }
        assert_eq!(caches_changed_by("quota.changed"), &Cache::ALL);
        assert_eq!(caches_changed_by("nodot"), &Cache::ALL);
    }

    #[test]
    fn a_fill_started_before_an_invalidation_or_while_distrusted_is_not_kept() {
        let freshness = Freshness::default();
        let before = freshness.ticket();
        assert!(freshness.still(before));
        freshness.advance();
        assert!(!freshness.still(before), "an invalidation came between");
        assert!(freshness.still(freshness.ticket()));
        freshness.trusted.store(false, Ordering::SeqCst);
        let untrusted = freshness.ticket();
        freshness.trusted.store(true, Ordering::SeqCst);
        assert!(
            !freshness.still(untrusted),
            "what was read while distrusted is never kept"
        );
    }

    /// Two services on one store stand for two instances on one database: what one changes,
    /// the other's caches keep until told, or until they are distrusted.
    #[tokio::test]
    async fn another_instances_revocation_stops_a_cached_token_once_heard_or_distrusted() {
        use std::sync::Arc;

        use crate::TokenRefusal;
        use crate::tests::fixture;

        let here = fixture(crate::tests::beijing(2026, 11, 27, 10)).await;
        let elsewhere = Clearance::new(
            here.clearance.store().clone(),
            Arc::new(reference::ReferenceData::embedded().clone()),
            crate::ClearanceConfig::china(),
            Arc::new(crate::SystemClock),
        );
        let admin = crate::story::admin();
        let revoked = |result: Result<crate::Caller, crate::ClearanceError>| {
            matches!(
                result,
                Err(crate::ClearanceError::TokenRefused(TokenRefusal::Revoked))
            )
        };

        // Heard: the revocation's action empties the principals of the other instance.
        let token = here.clearance.issue_token(&admin, "broker").await.unwrap();
        here.clearance.authenticate(&token.token).await.unwrap();
        elsewhere.revoke_token(&admin, &token.token).await.unwrap();
        assert!(
            here.clearance.authenticate(&token.token).await.is_ok(),
            "unheard, the cached caller is still trusted (the delay this module removes)"
        );
        here.clearance.invalidate_after("token.revoked");
        assert!(revoked(here.clearance.authenticate(&token.token).await));

        // Unheard while the feed is lost: nothing cached is used, so it is refused at once.
        let token = here.clearance.issue_token(&admin, "broker").await.unwrap();
        here.clearance.authenticate(&token.token).await.unwrap();
        here.clearance.distrust_caches();
        assert!(!here.clearance.caches_trusted());
        elsewhere.revoke_token(&admin, &token.token).await.unwrap();
        assert!(revoked(here.clearance.authenticate(&token.token).await));

        // Nor is what was read while distrusted kept once the feed is back.
        let token = here.clearance.issue_token(&admin, "broker").await.unwrap();
        here.clearance.authenticate(&token.token).await.unwrap();
        here.clearance.trust_caches();
        elsewhere.revoke_token(&admin, &token.token).await.unwrap();
        assert!(revoked(here.clearance.authenticate(&token.token).await));
    }
}
