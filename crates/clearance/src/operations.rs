//! What operators watch of the customs work (the API's `/metrics`): the lane of each accepted
//! declaration, each targeting rule's matches and selections, each model's scorings and the drift
//! monitor's checks and alerts, counted in memory as they happen ([`Activity`]); and the figures
//! read from the store (open and overdue tasks per office, rules active, the models' status),
//! cached for [`WORK_FIGURES_CACHE_SECONDS`] so that scrapes, however frequent, cannot load the
//! store ([`WorkFigures`]).
//!
//! Counters count since the process started (Prometheus takes a restart's reset in its stride);
//! what must survive a restart is in the audit chain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use store::{OfficeTasks, Store};

use crate::Clearance;
use crate::dashboards::TASK_OVERDUE_HOURS;
use crate::error::ClearanceError;

/// How long the store's figures are reused: a scrape every second costs one set of indexed
/// queries every five seconds, and an operator's view is at most five seconds old.
pub const WORK_FIGURES_CACHE_SECONDS: u64 = 5;

/// Targeting rules and models counted apart, each its own series. Rule ids are made by
/// analysts (a few hundred at most in practice); beyond this many, the rest are counted together
/// as [`OTHER_SERIES`], so that the number of series stays bounded whatever is written.
pub const ACTIVITY_SERIES_MAX: usize = 500;

/// The name under which rules and models beyond [`ACTIVITY_SERIES_MAX`] are counted.
pub const OTHER_SERIES: &str = "other";

/// The lanes a selection puts a declaration in, in order.
pub const LANES: [&str; 3] = ["green", "yellow", "red"];

/// What one selection decided, counted once its declaration is accepted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decided {
    pub lane: &'static str,
    /// Every rule that matched, and whether it selected.
    pub rules: Vec<(String, bool)>,
    /// The models that scored the declaration.
    pub scored_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleActivity {
    pub matches: u64,
    pub selections: u64,
}

/// Counters of the customs work since the process started.
#[derive(Default)]
pub(crate) struct Activity {
    lanes: [AtomicU64; 3],
    rules: Mutex<BTreeMap<String, RuleActivity>>,
    scorings: Mutex<BTreeMap<String, u64>>,
    drift_checks: AtomicU64,
    drift_alerts: AtomicU64,
    /// Per lock of the work one process does at a time (PostgreSQL): whether this one holds it.
    leaderships: Mutex<BTreeMap<&'static str, bool>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivitySnapshot {
    /// Declarations accepted per lane of their selection at acceptance, every lane of [`LANES`].
    pub lanes: Vec<(&'static str, u64)>,
    /// Per rule id (at most [`ACTIVITY_SERIES_MAX`], then [`OTHER_SERIES`]).
    pub rules: Vec<(String, RuleActivity)>,
    /// Declarations scored per model id (bounded the same way).
    pub scorings: Vec<(String, u64)>,
    /// Checks of the active model for drift, and those that raised an alert.
    pub drift_checks: u64,
    pub drift_alerts: u64,
    /// Per lock of the work one process does at a time (`relay`, `drift`; none on the embedded
    /// store): whether this process holds it now.
    pub leaderships: Vec<(&'static str, bool)>,
}

/// The series a name is counted under: its own while there is room.
fn series<'a, V>(map: &BTreeMap<String, V>, name: &'a str) -> &'a str {
    if map.contains_key(name) || map.len() < ACTIVITY_SERIES_MAX {
        name
    } else {
        OTHER_SERIES
    }
}

impl Activity {
    pub(crate) fn count_accepted(&self, decided: &Decided) {
        if let Some(i) = LANES.iter().position(|lane| *lane == decided.lane) {
            self.lanes[i].fetch_add(1, Ordering::Relaxed);
        }
        if !decided.rules.is_empty() {
            let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
            for (rule, selected) in &decided.rules {
                let name = series(&rules, rule).to_owned();
                let counts = rules.entry(name).or_default();
                counts.matches += 1;
                counts.selections += u64::from(*selected);
            }
        }
        if !decided.scored_by.is_empty() {
            let mut scorings = self.scorings.lock().unwrap_or_else(PoisonError::into_inner);
            for model in &decided.scored_by {
                let name = series(&scorings, model).to_owned();
                *scorings.entry(name).or_default() += 1;
            }
        }
    }

    pub(crate) fn count_drift_check(&self, alerted: bool) {
        self.drift_checks.fetch_add(1, Ordering::Relaxed);
        if alerted {
            self.drift_alerts.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> ActivitySnapshot {
        let rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let scorings = self.scorings.lock().unwrap_or_else(PoisonError::into_inner);
        ActivitySnapshot {
            lanes: LANES
                .iter()
                .zip(&self.lanes)
                .map(|(lane, n)| (*lane, n.load(Ordering::Relaxed)))
                .collect(),
            rules: rules.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            scorings: scorings.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            drift_checks: self.drift_checks.load(Ordering::Relaxed),
            drift_alerts: self.drift_alerts.load(Ordering::Relaxed),
            leaderships: self
                .leaderships
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(lock, leading)| (*lock, *leading))
                .collect(),
        }
    }
}

/// The figures of the customs work read from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkFigures {
    /// Open tasks per office and how many of them are overdue (open longer than
    /// [`TASK_OVERDUE_HOURS`]), ordered by office.
    pub tasks: Vec<OfficeTasks>,
    /// Targeting rules in force (active versions).
    pub rules_active: u64,
    /// Every model's id and status (`shadow`, `active`, `retired`), in the order registered.
    pub models: Vec<(String, String)>,
}

/// The cached figures and when they were read.
#[derive(Default)]
pub(crate) struct WorkFiguresCache {
    cached: Mutex<Option<(Instant, Arc<WorkFigures>)>>,
    /// One reader at a time: while it reads, others get the figures read before.
    reading: AtomicBool,
}

/// Gives the read back when it ends, however it ends (its future may be dropped).
struct Reading<'a>(&'a AtomicBool);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<S: Store> Clearance<S> {
    /// The customs work counted since the process started.
    pub fn activity(&self) -> ActivitySnapshot {
        self.activity.snapshot()
    }

    /// Whether this process holds `lock` now (one of the locks of the work only one process
    /// does at a time), for operators.
    pub fn set_leading(&self, lock: &'static str, leading: bool) {
        self.activity
            .leaderships
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lock, leading);
    }

    /// The store's figures of the customs work, read at most once per
    /// [`WORK_FIGURES_CACHE_SECONDS`]; while one caller reads them, the others get the figures
    /// read before.
    pub async fn work_figures(&self) -> Result<Arc<WorkFigures>, ClearanceError> {
        let cache = &self.work_figures;
        let before = cache
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((at, figures)) = &before
            && at.elapsed() < Duration::from_secs(WORK_FIGURES_CACHE_SECONDS)
        {
            return Ok(figures.clone());
        }
        let first = cache
            .reading
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if let (false, Some((_, figures))) = (first, &before) {
            return Ok(figures.clone());
        }
        let _reading = first.then(|| Reading(&cache.reading));
        let overdue_before = self.now() - chrono::Duration::hours(TASK_OVERDUE_HOURS);
        let tasks = self
            .store
            .open_tasks_by_office(overdue_before.timestamp_millis())
            .await?;
        let rules_active = self.store.risk_rules(Some("active")).await?.len() as u64;
        let models = self
            .store
            .risk_models()
            .await?
            .into_iter()
            .map(|m| (m.id, m.status))
            .collect();
        let figures = Arc::new(WorkFigures {
            tasks,
            rules_active,
            models,
        });
        *cache.cached.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), figures.clone()));
        Ok(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_beyond_the_series_limit_are_counted_together() {
        let activity = Activity::default();
        for n in 0..=ACTIVITY_SERIES_MAX {
            activity.count_accepted(&Decided {
                lane: "red",
                rules: vec![(format!("R-{n:04}"), n % 2 == 0)],
                scored_by: vec![],
            });
        }
        // A rule already counted keeps its own series once the limit is reached.
        activity.count_accepted(&Decided {
            lane: "green",
            rules: vec![("R-0000".to_owned(), true)],
            scored_by: vec!["M-1".to_owned()],
        });
        let snapshot = activity.snapshot();
        assert_eq!(snapshot.rules.len(), ACTIVITY_SERIES_MAX + 1);
        let of = |name: &str| {
            snapshot
                .rules
                .iter()
                .find(|(rule, _)| rule == name)
                .map(|(_, counts)| *counts)
        };
        assert_eq!(
            of(OTHER_SERIES),
            Some(RuleActivity {
                matches: 1,
                selections: 1
            })
        );
        assert_eq!(
            of("R-0000"),
            Some(RuleActivity {
                matches: 2,
                selections: 2
            })
        );
        let last_own = format!("R-{:04}", ACTIVITY_SERIES_MAX - 1);
        assert_eq!(of(&last_own).map(|c| c.matches), Some(1));
        assert_eq!(
            snapshot.lanes,
            vec![
                ("green", 1),
                ("yellow", 0),
                ("red", ACTIVITY_SERIES_MAX as u64 + 1)
            ]
        );
        assert_eq!(snapshot.scorings, vec![("M-1".to_owned(), 1)]);
    }
}
