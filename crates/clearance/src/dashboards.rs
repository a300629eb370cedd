//! The supervisors' dashboards: declarations lodged per hour (or day), the lane mix, the time
//! from lodging to release, revenue assessed and collected, open and overdue tasks per office,
//! and targeting rules' hit rates, over a recent window ([`DashboardWindow`]). The store counts
//! every figure with aggregate queries ([`store::Store::dashboard_figures`]), so a dashboard
//! costs what its window holds, not what the store holds. Money is exact (fen, then decimals).

use chrono::{DateTime, Duration, FixedOffset, Timelike};
use rust_decimal::Decimal;
use store::{DashboardQuery, OfficeTasks, RuleHits, Store};

use crate::Clearance;
use crate::access::{Caller, Role};
use crate::error::ClearanceError;

/// Who sees the dashboards: customs roles, never the trade. The one gate (pages and service).
pub fn may_see_dashboards(role: Role) -> bool {
    matches!(
        role,
        Role::Officer | Role::Supervisor | Role::RiskAnalyst | Role::Auditor | Role::Admin
    )
}

/// The longest window a dashboard covers, in days.
pub const DASHBOARD_WINDOW_DAYS_MAX: i64 = 30;

/// An open task older than this is overdue.
pub const TASK_OVERDUE_HOURS: i64 = 24;

/// The classes of the time from lodging to release: upper bounds in hours (exclusive); one class
/// more above the last.
pub const RELEASE_TIME_CLASS_HOURS: [i64; 4] = [1, 4, 24, 72];

/// The windows a supervisor chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashboardWindow {
    Day,
    Week,
    Month,
}

impl DashboardWindow {
    pub const ALL: [DashboardWindow; 3] = [
        DashboardWindow::Day,
        DashboardWindow::Week,
        DashboardWindow::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DashboardWindow::Day => "24h",
            DashboardWindow::Week => "7d",
            DashboardWindow::Month => "30d",
        }
    }

    pub fn parse(text: &str) -> Option<DashboardWindow> {
        DashboardWindow::ALL
            .into_iter()
            .find(|w| w.as_str() == text)
    }

    /// The window's length in hours (at most [`DASHBOARD_WINDOW_DAYS_MAX`] days).
    pub fn hours(self) -> i64 {
        match self {
            DashboardWindow::Day => 24,
            DashboardWindow::Week => 7 * 24,
            DashboardWindow::Month => DASHBOARD_WINDOW_DAYS_MAX * 24,
        }
    }

    /// The width of a bar of declarations lodged, in hours: hourly over a day, daily beyond.
    pub fn bucket_hours(self) -> i64 {
        match self {
            DashboardWindow::Day => 1,
            DashboardWindow::Week | DashboardWindow::Month => 24,
        }
    }
}

/// A dashboard's figures over its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub window: DashboardWindow,
    /// The window: from (inclusive) to (exclusive), in the administration's time zone.
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
    /// Every bucket of the window in order (empty ones as 0): its start and the declarations lodged.
    pub lodged: Vec<(DateTime<FixedOffset>, u64)>,
    /// Lane of each declaration's latest selection: declarations per lane.
    pub lanes: Vec<(String, u64)>,
    /// Declarations released in the window per class of time from lodging to release: the class's
    /// bounds in hours (lower inclusive, upper exclusive or `None` above the last) and the count.
    pub release_times: Vec<(i64, Option<i64>, u64)>,
    /// The latest made assessments of the window's declarations: their total payable.
    pub assessed: Decimal,
    pub assessed_declarations: u64,
    /// Confirmed by banks (collected) and guaranteed, for the window's declarations.
    pub collected: Decimal,
    pub guaranteed: Decimal,
    /// Open and overdue tasks per office, now.
    pub tasks: Vec<OfficeTasks>,
    /// Per rule, over the window's declarations.
    pub rules: Vec<RuleHits>,
    /// Per office of lodging: the window's declarations received in continuity.
    pub continuity: Vec<(String, u64)>,
}

fn forbidden() -> ClearanceError {
    ClearanceError::Forbidden {
        message_en: "only customs roles see the dashboards".to_owned(),
        message_zh: "只有海关角色可以查看统计看板".to_owned(),
        errors: vec![],
    }
}

fn yuan(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

impl<S: Store> Clearance<S> {
    /// The dashboards' figures over `window`, ending at the end of the current hour (customs
    /// roles: [`may_see_dashboards`]).
    pub async fn dashboard(
        &self,
        caller: &Caller,
        window: DashboardWindow,
    ) -> Result<Dashboard, ClearanceError> {
        if !may_see_dashboards(caller.role) {
            return Err(forbidden());
        }
        let offset = self.config.utc_offset;
        let now = self.now();
        let local = now.with_timezone(&offset);
        // Buckets start on whole hours (whole local days for daily bars) so that bars read well.
        let hour_start = local
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(local);
        let to = if window.bucket_hours() == 24 {
            hour_start - Duration::hours(i64::from(hour_start.hour())) + Duration::days(1)
        } else {
            hour_start + Duration::hours(1)
        };
        let from = to - Duration::hours(window.hours());
        let bucket_ms = window.bucket_hours() * 3_600_000;
        let bounds: Vec<i64> = RELEASE_TIME_CLASS_HOURS
            .iter()
            .map(|h| h * 3_600_000)
            .collect();
        let figures = self
            .store
            .dashboard_figures(&DashboardQuery {
                from_ms: from.timestamp_millis(),
                to_ms: to.timestamp_millis(),
                bucket_ms,
                release_bounds_ms: bounds,
                overdue_before_ms: (now - Duration::hours(TASK_OVERDUE_HOURS)).timestamp_millis(),
            })
            .await?;
        let buckets = window.hours() / window.bucket_hours();
        let lodged = (0..buckets)
            .map(|i| {
                let start = from + Duration::milliseconds(i * bucket_ms);
                let count = figures
                    .lodged
                    .iter()
                    .find(|(ms, _)| *ms == start.timestamp_millis())
                    .map_or(0, |(_, n)| *n);
                (start, count)
            })
            .collect();
        let mut lower = 0;
        let release_times = figures
            .release_classes
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let upper = RELEASE_TIME_CLASS_HOURS.get(i).copied();
                let class = (lower, upper, *count);
                lower = upper.unwrap_or(lower);
                class
            })
            .collect();
        Ok(Dashboard {
            window,
            from,
            to,
            lodged,
            lanes: figures.lanes,
            release_times,
            assessed: yuan(figures.assessed_fen),
            assessed_declarations: figures.assessed_declarations,
            collected: yuan(figures.collected_fen),
            guaranteed: yuan(figures.guaranteed_fen),
            tasks: figures.tasks,
            rules: figures.rules,
            continuity: figures.continuity,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;
    use store::{Store, TaskQuery};

    use super::*;
    use crate::assessment_tests::with_sample;
    use crate::payments::Settlement;
    use crate::tests::EXAMPLE;

    /// Figures checked against a real SQLite store holding known declarations: each figure is
    /// recomputed here from the declarations' own events and tasks.
    #[tokio::test]
    async fn the_dashboard_counts_what_the_store_holds() {
        // 10:00 in Beijing on 26 November 2026.
        let (f, _, _) = with_sample().await;
        let broker = f.caller("broker").await;
        let officer = f.caller("officer").await;
        let mut lodged = Vec::new();
        for (i, hours_later) in [0, 0, 2].into_iter().enumerate() {
            f.advance(Duration::hours(hours_later));
            let receipt = f
                .clearance
                .lodge(&broker, Some(&format!("d{i}")), EXAMPLE.as_bytes())
                .await
                .unwrap();
            lodged.push(receipt);
        }
        // 12:00: the first is guaranteed in full and released three hours after its lodging.
        let first = &lodged[0];
        let owed = f.clearance.payments(&officer, &first.number).await.unwrap();
        let guarantee =
            json!({ "kind": "guarantee", "amount": owed["outstanding"], "reference": "G-1" });
        f.clearance
            .record_payment(
                &officer,
                &first.number,
                Some("g1"),
                guarantee.to_string().as_bytes(),
            )
            .await
            .unwrap();
        f.advance(Duration::hours(1));
        let released = f
            .clearance
            .release(&officer, &first.number, Some("r1"), b"{}")
            .await
            .unwrap();
        assert_eq!(released.status, "released");

        let dashboard = f
            .clearance
            .dashboard(&officer, DashboardWindow::Day)
            .await
            .unwrap();
        assert_eq!(dashboard.lodged.len(), 24);
        assert_eq!(dashboard.to - dashboard.from, Duration::hours(24));
        let per_hour: Vec<(u32, u64)> = dashboard
            .lodged
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| (t.hour(), *n))
            .collect();
        assert_eq!(per_hour, [(10, 2), (12, 1)], "{:?}", dashboard.lodged);
        assert_eq!(dashboard.lanes.iter().map(|(_, n)| n).sum::<u64>(), 3);

        let (mut assessed, mut made, mut guaranteed) = (Decimal::ZERO, 0, Decimal::ZERO);
        for receipt in &lodged {
            let events = f.clearance.store().events(&receipt.id).await.unwrap();
            let settlement = Settlement::of_events(&events).unwrap();
            if let Some(payable) = settlement.payable {
                assessed += payable;
                made += 1;
            }
            guaranteed += settlement.guaranteed;
        }
        assert!(made > 0 && assessed > Decimal::ZERO);
        assert_eq!(dashboard.assessed, assessed);
        assert_eq!(dashboard.assessed_declarations, made);
        assert_eq!(dashboard.guaranteed, guaranteed);
        assert_eq!(
            dashboard.collected,
            Decimal::ZERO,
            "no bank confirmed anything"
        );

        let releases: Vec<u64> = dashboard.release_times.iter().map(|c| c.2).collect();
        assert_eq!(
            releases,
            [0, 1, 0, 0, 0],
            "3 hours: the class from 1 to 4 hours"
        );
        assert_eq!(dashboard.release_times[1].0, 1);
        assert_eq!(dashboard.release_times[4], (72, None, releases[4]));

        let open = f
            .clearance
            .store()
            .tasks(&TaskQuery {
                status: Some("open".into()),
                limit: 1000,
                ..TaskQuery::default()
            })
            .await
            .unwrap();
        let mut per_office: BTreeMap<String, u64> = BTreeMap::new();
        for task in &open {
            *per_office.entry(task.office.clone()).or_default() += 1;
        }
        let counted: BTreeMap<String, u64> = dashboard
            .tasks
            .iter()
            .map(|t| (t.office.clone(), t.open))
            .collect();
        assert_eq!(counted, per_office);
        assert!(
            dashboard.tasks.iter().all(|t| t.overdue == 0),
            "none is a day old"
        );
        // Two days on, the same tasks are overdue and the declarations out of the day's window.
        f.advance(Duration::hours(48));
        let later = f
            .clearance
            .dashboard(&officer, DashboardWindow::Day)
            .await
            .unwrap();
        assert!(later.tasks.iter().all(|t| t.overdue == t.open));
        assert!(later.lodged.iter().all(|(_, n)| *n == 0));
        assert_eq!(later.assessed, Decimal::ZERO);
        let week = f
            .clearance
            .dashboard(&officer, DashboardWindow::Week)
            .await
            .unwrap();
        assert_eq!(week.lodged.len(), 7);
        assert_eq!(week.lodged.iter().map(|(_, n)| n).sum::<u64>(), 3);
        assert_eq!(week.assessed, assessed);
        assert_eq!(
            f.clearance
                .dashboard(&officer, DashboardWindow::Month)
                .await
                .unwrap()
                .lodged
                .len() as i64,
            DASHBOARD_WINDOW_DAYS_MAX
        );

        assert!(matches!(
            f.clearance.dashboard(&broker, DashboardWindow::Day).await,
            Err(ClearanceError::Forbidden { .. })
        ));
    }

    #[test]
    fn only_customs_roles_see_dashboards_and_windows_parse() {
        for role in Role::ALL {
            assert_eq!(may_see_dashboards(role), !role.is_trade(), "{role:?}");
        }
        for window in DashboardWindow::ALL {
            assert_eq!(DashboardWindow::parse(window.as_str()), Some(window));
            assert!(window.hours() <= DASHBOARD_WINDOW_DAYS_MAX * 24);
        }
        assert_eq!(DashboardWindow::parse("31d"), None);
    }
}
