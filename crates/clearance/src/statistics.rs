//! Clearance statistics for customs roles. The first: the time from lodging to release (通关时间)
//! of the declarations released in a period, at one office or all — the figure the plan's
//! clearance-facilitation targets are stated in, and the one traders complain about.
//!
//! Periods are whole days in the administration's time zone (`ClearanceConfig::utc_offset`),
//! both ends inclusive, at most [`STATISTICS_PERIOD_DAYS_MAX`] days. Percentiles are nearest-rank
//! (the smallest time with at least p % of the releases at or below it), so every figure is the
//! release time of a real declaration.

use chrono::{Duration, NaiveDate, NaiveTime};
use domain::FieldError;
use serde_json::{Value, json};
use store::Store;

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;

/// The longest period a statistic covers, in days.
pub const STATISTICS_PERIOD_DAYS_MAX: i64 = 366;

/// Release times summarised: how many, and the mean and percentiles in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTimes {
    pub released: usize,
    pub mean_seconds: Option<i64>,
    pub p50_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub p99_seconds: Option<i64>,
    pub max_seconds: Option<i64>,
    /// Released within 24 hours of lodging, of all released.
    pub within_24h: usize,
}

/// The nearest-rank `percent` percentile of ascending `sorted`.
fn percentile(sorted: &[i64], percent: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * percent as usize).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Summarises release times given in milliseconds, ascending. The mean is rounded half up to the
/// second; percentiles are truncated to the second.
pub fn summarise_release_times(sorted_ms: &[i64]) -> ReleaseTimes {
    let seconds = |ms: Option<i64>| ms.map(|ms| ms.div_euclid(1000));
    let mean = (!sorted_ms.is_empty()).then(|| {
        let total: i128 = sorted_ms.iter().map(|&ms| i128::from(ms)).sum();
        let n = sorted_ms.len() as i128;
        // Half up, in milliseconds then seconds: (2·total + n·1000) / (2·n·1000).
        ((2 * total + n * 1000).div_euclid(2 * n * 1000)) as i64
    });
    ReleaseTimes {
        released: sorted_ms.len(),
        mean_seconds: mean,
        p50_seconds: seconds(percentile(sorted_ms, 50)),
        p90_seconds: seconds(percentile(sorted_ms, 90)),
        p99_seconds: seconds(percentile(sorted_ms, 99)),
        max_seconds: seconds(sorted_ms.last().copied()),
        within_24h: sorted_ms.partition_point(|&ms| ms <= 86_400_000),
    }
}

fn date(errors: &mut Vec<FieldError>, path: &str, raw: &str) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10);
    if parsed.is_none() {
        errors.push(FieldError::invalid_format(
            path,
            "a date as YYYY-MM-DD",
            "YYYY-MM-DD 格式的日期",
        ));
    }
    parsed
}

impl<S: Store> Clearance<S> {
    /// The time from lodging to release of the declarations released from `from` to `to`
    /// (inclusive days, `YYYY-MM-DD`), lodged at `office` if given (customs roles).
    pub async fn release_times(
        &self,
        caller: &Caller,
        from: &str,
        to: &str,
        office: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ReadStatistics)?;
        let mut errors = Vec::new();
        let (first, last) = (date(&mut errors, "from", from), date(&mut errors, "to", to));
        // Any office a release ever held: the period asked about may be before a roll-back.
        let reference = self.recorded_reference().await?;
        let ctx = domain::ParseContext {
            reference: &reference,
            on: self.lodging_date(self.now()),
        };
        let office = office.and_then(|raw| {
            domain::codes::CustomsOfficeCode::parse("office", raw, &ctx)
                .map_err(|e| errors.push(e))
                .ok()
        });
        if let (Some(first), Some(last)) = (first, last) {
            let days = (last - first).num_days() + 1;
            if !(1..=STATISTICS_PERIOD_DAYS_MAX).contains(&days) {
                errors.push(FieldError::out_of_range(
                    "to",
                    &format!("on or after `from`, at most {STATISTICS_PERIOD_DAYS_MAX} days"),
                    &format!("不早于 from，期间最多 {STATISTICS_PERIOD_DAYS_MAX} 天"),
                ));
            }
        }
        let (Some(first), Some(last), true) = (first, last, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let start_of = |day: NaiveDate| {
            day.and_time(NaiveTime::MIN)
                .and_local_timezone(self.config.utc_offset)
                .single()
                .map(|t| t.timestamp_millis())
                .unwrap_or_default()
        };
        let durations = self
            .store
            .release_durations(
                start_of(first),
                start_of(last + Duration::days(1)),
                office.as_ref().map(|o| o.as_str()),
            )
            .await?;
        let summary = summarise_release_times(&durations);
        Ok(json!({
            "from": first.to_string(),
            "to": last.to_string(),
            "office": office.as_ref().map(|o| o.as_str()),
            "released": summary.released,
            "released_within_24h": summary.within_24h,
            "mean_seconds": summary.mean_seconds,
            "p50_seconds": summary.p50_seconds,
            "p90_seconds": summary.p90_seconds,
            "p99_seconds": summary.p99_seconds,
            "max_seconds": summary.max_seconds,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_cases() {
        let none = summarise_release_times(&[]);
        assert_eq!(none.released, 0);
        assert_eq!(none.mean_seconds, None);
        assert_eq!(none.p50_seconds, None);

        let one = summarise_release_times(&[1_500]);
        assert_eq!(
            (
                one.mean_seconds,
                one.p50_seconds,
                one.p99_seconds,
                one.max_seconds
            ),
            (Some(2), Some(1), Some(1), Some(1)),
            "1.5 s: mean half up to 2, percentiles truncate to 1"
        );

        // Ten releases of 1..=10 hours; the tenth just over a day.
        let mut hours: Vec<i64> = (1..=9).map(|h| h * 3_600_000).collect();
        hours.push(86_400_001);
        let s = summarise_release_times(&hours);
        assert_eq!(s.released, 10);
        assert_eq!(s.p50_seconds, Some(5 * 3600), "rank 5 of 10");
        assert_eq!(s.p90_seconds, Some(9 * 3600), "rank 9 of 10");
        assert_eq!(s.p99_seconds, Some(86_400), "rank 10 of 10");
        assert_eq!(s.max_seconds, Some(86_400));
        assert_eq!(s.within_24h, 9, "24 h and a millisecond is not within 24 h");
        // (45 h + 24 h + 1 ms) / 10 = 24,840.0001 s → 24,840.
        assert_eq!(s.mean_seconds, Some(24_840));
    }

    /// The period's edges: a day is the smallest, `STATISTICS_PERIOD_DAYS_MAX` days the longest;
    /// every wrong parameter is named.
    #[tokio::test]
    async fn a_period_is_one_to_366_days_and_every_wrong_parameter_is_named() {
        let f = crate::tests::fixture(crate::tests::beijing(2026, 11, 26, 10)).await;
        let officer = f.caller("officer").await;
        let times = |from: &'static str, to: &'static str, office: Option<&'static str>| {
            let (f, officer) = (&f, &officer);
            async move { f.clearance.release_times(officer, from, to, office).await }
        };
        assert!(times("2026-11-26", "2026-11-26", None).await.is_ok());
        // 2024 is a leap year: 2024-01-01 to 2024-12-31 is 366 days, one more is 367.
        assert!(times("2024-01-01", "2024-12-31", None).await.is_ok());
        let paths = |result: Result<Value, ClearanceError>| match result {
            Err(ClearanceError::Invalid(errors)) => {
                errors.into_iter().map(|e| e.path).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(paths(times("2024-01-01", "2025-01-01", None).await), ["to"]);
        assert_eq!(paths(times("2026-11-26", "2026-11-25", None).await), ["to"]);
        assert_eq!(
            paths(times("26-11-2026", "2026-11-2", Some("22")).await),
            ["from", "to", "office"]
        );
    }

    proptest! {
        /// Percentiles are release times that occur, in order, and the mean lies between the
        /// shortest and the longest.
        #[test]
        fn percentiles_are_ordered_and_occur(mut ms in proptest::collection::vec(0i64..10_000_000_000, 1..200)) {
            ms.sort_unstable();
            let s = summarise_release_times(&ms);
            let secs: Vec<i64> = ms.iter().map(|m| m / 1000).collect();
            for p in [s.p50_seconds, s.p90_seconds, s.p99_seconds, s.max_seconds] {
                prop_assert!(secs.contains(&p.unwrap()));
            }
            prop_assert!(s.p50_seconds <= s.p90_seconds && s.p90_seconds <= s.p99_seconds);
            prop_assert!(s.p99_seconds <= s.max_seconds);
            let mean = s.mean_seconds.unwrap();
            prop_assert!(mean >= secs[0] && mean <= secs[secs.len() - 1] + 1);
        }
    }
}
