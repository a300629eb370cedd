//! The metric families read at scrape time: the store's working figures (its write queue,
//! group commits, files, free space, checkpoints) and the customs work (open and overdue tasks
//! per office, lanes, rules, models, drift). They are snapshots kept elsewhere (the store's
//! atomics, the service's counters and its cached figures), so they are written here as
//! Prometheus text on each scrape rather than fed into the recorder, where a series that
//! disappears (an office whose last task closed) would linger with its last value.
//!
//! Every family is listed with its labels in `docs/operations.md` (## Monitoring).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use clearance::Clearance;
use clearance::operations::{ActivitySnapshot, WorkFigures};
use store::{HistogramSnapshot, OperationalStats, Store};

/// The families read at this scrape. A figure that cannot be read is left out and said so
/// (`store_stats_up 0`, `customs_work_figures_up 0`), and logged; the scrape still answers.
pub(crate) async fn read_at_scrape<S: Store>(clearance: &Clearance<S>) -> Exposition {
    let stats = clearance
        .store()
        .operational_stats()
        .await
        .inspect_err(|error| tracing::warn!(%error, "the store's figures cannot be read"))
        .ok();
    let figures = clearance
        .work_figures()
        .await
        .inspect_err(|error| tracing::warn!(%error, "the figures of the work cannot be read"))
        .ok();
    let mut out = Exposition::default();
    write_store(&mut out, stats.as_ref());
    write_work(&mut out, &clearance.activity(), figures.as_deref());
    out.single(
        "customs_caches_trusted",
        "gauge",
        "1 while the service's caches are in use; 0 while changes made by other instances could \
         go unheard (every request reads the store)",
        if clearance.caches_trusted() { 1.0 } else { 0.0 },
    );
    out
}

/// Prometheus text exposition (format 0.0.4), written family by family.
#[derive(Default)]
pub(crate) struct Exposition {
    text: String,
}

impl Exposition {
    pub(crate) fn into_text(self) -> String {
        self.text
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (bound, count) in &histogram.buckets {
            self.sample(&bucket, &[("le", &bound.to_string())], *count as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], histogram.count as f64);
        self.sample(&format!("{name}_sum"), &[], histogram.sum);
        self.sample(&format!("{name}_count"), &[], histogram.count as f64);
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds from `at_ms` (the store's own clock, the system's) to now, never negative.
fn age_seconds(at_ms: i64) -> f64 {
    (now_ms().saturating_sub(at_ms)).max(0) as f64 / 1000.0
}

/// The store's families; `None` when its figures could not be read (then only
/// `store_stats_up 0` says so).
pub(crate) fn write_store(out: &mut Exposition, stats: Option<&OperationalStats>) {
    out.single(
        "store_stats_up",
        "gauge",
        "1 if the store's working figures were read for this scrape, 0 if the read failed",
        f64::from(u8::from(stats.is_some())),
    );
    let Some(stats) = stats else {
        return;
    };
    out.single(
        "store_writer_up",
        "gauge",
        "1 while the store's writer thread runs, 0 once it stopped",
        f64::from(u8::from(stats.writer_running)),
    );
    out.single(
        "store_write_queue_depth",
        "gauge",
        "Writes waiting for the store's writer",
        stats.write_queue_depth as f64,
    );
    out.single(
        "store_write_queue_capacity",
        "gauge",
        "The most writes that may wait; beyond it a write is refused at once (503)",
        stats.write_queue_capacity as f64,
    );
    out.single(
        "store_write_queue_refusals_total",
        "counter",
        "Writes refused because the write queue was full",
        stats.write_queue_refusals as f64,
    );
    out.histogram(
        "store_commit_batch_size",
        "Write requests committed per transaction (group commit)",
        &stats.commit_batch_sizes,
    );
    out.histogram(
        "store_commit_duration_seconds",
        "Time of each commit of the writer, fsync included",
        &stats.commit_seconds,
    );
    out.family(
        "store_file_bytes",
        "gauge",
        "Size of the store's files: the database and its write-ahead log (wal)",
    );
    out.sample(
        "store_file_bytes",
        &[("file", "database")],
        stats.database_bytes as f64,
    );
    out.sample(
        "store_file_bytes",
        &[("file", "wal")],
        stats.wal_bytes as f64,
    );
    if let Some(free) = stats.disk_free_bytes {
        out.single(
            "store_disk_free_bytes",
            "gauge",
            "Bytes free for the server on the file system that holds the store",
            free as f64,
        );
    }
    out.single(
        "audit_chain_head_seq",
        "gauge",
        "Sequence number of the newest audit-chain entry",
        stats.chain_head_seq as f64,
    );
    let (signed_seq, signed_at) = stats
        .last_audit_checkpoint
        .map_or((0, None), |(seq, at)| (seq, Some(at)));
    out.single(
        "audit_unsigned_entries",
        "gauge",
        "Audit-chain entries after the newest signed checkpoint",
        stats.chain_head_seq.saturating_sub(signed_seq) as f64,
    );
    if let Some(at) = signed_at {
        out.single(
            "audit_checkpoint_age_seconds",
            "gauge",
            "Seconds since the newest signed audit checkpoint (absent before the first)",
            age_seconds(at),
        );
    }
    if let Some(at) = stats.last_wal_checkpoint_at_ms {
        out.single(
            "store_wal_checkpoint_age_seconds",
            "gauge",
            "Seconds since the write-ahead log was last copied back into the database completely \
             (absent before the first time)",
            age_seconds(at),
        );
    }
}

/// The customs work's families: counters since the process started, and the store's figures
/// (`None` when they could not be read: `customs_work_figures_up 0`).
pub(crate) fn write_work(
    out: &mut Exposition,
    activity: &ActivitySnapshot,
    figures: Option<&WorkFigures>,
) {
    out.family(
        "customs_declarations_by_lane_total",
        "counter",
        "Declarations accepted, by the lane their selection at acceptance put them in",
    );
    for (lane, n) in &activity.lanes {
        out.sample(
            "customs_declarations_by_lane_total",
            &[("lane", lane)],
            *n as f64,
        );
    }
    out.family(
        "targeting_rule_matches_total",
        "counter",
        "Accepted declarations a targeting rule matched, by rule id (beyond the series limit, \
         rule=\"other\")",
    );
    for (rule, counts) in &activity.rules {
        out.sample(
            "targeting_rule_matches_total",
            &[("rule", rule)],
            counts.matches as f64,
        );
    }
    out.family(
        "targeting_rule_selections_total",
        "counter",
        "Accepted declarations a targeting rule selected for a check, by rule id",
    );
    for (rule, counts) in &activity.rules {
        out.sample(
            "targeting_rule_selections_total",
            &[("rule", rule)],
            counts.selections as f64,
        );
    }
    out.family(
        "risk_model_scorings_total",
        "counter",
        "Accepted declarations scored, by model id",
    );
    for (model, n) in &activity.scorings {
        out.sample("risk_model_scorings_total", &[("model", model)], *n as f64);
    }
    out.single(
        "risk_model_drift_checks_total",
        "counter",
        "Checks of the active model for drift (hourly, by serve)",
        activity.drift_checks as f64,
    );
    if !activity.leaderships.is_empty() {
        out.family(
            "customs_leader",
            "gauge",
            "1 while this process holds the lock of work one process does at a time (relay: \
             publishing events to NATS; drift: the drift check), 0 while another process does",
        );
        for (lock, leading) in &activity.leaderships {
            out.sample(
                "customs_leader",
                &[("lock", lock)],
                f64::from(u8::from(*leading)),
            );
        }
    }
    out.single(
        "risk_model_drift_alerts_total",
        "counter",
        "Drift checks that raised an alert (recorded as risk_model.drift_alert)",
        activity.drift_alerts as f64,
    );
    out.single(
        "customs_work_figures_up",
        "gauge",
        "1 if the figures of the customs work were read from the store, 0 if the read failed",
        f64::from(u8::from(figures.is_some())),
    );
    let Some(figures) = figures else {
        return;
    };
    out.family(
        "customs_tasks_open",
        "gauge",
        "Officers' tasks open, by customs office",
    );
    for tasks in &figures.tasks {
        out.sample(
            "customs_tasks_open",
            &[("office", &tasks.office)],
            tasks.open as f64,
        );
    }
    out.family(
        "customs_tasks_overdue",
        "gauge",
        "Officers' tasks open longer than clearance::dashboards::TASK_OVERDUE_HOURS, by office",
    );
    for tasks in &figures.tasks {
        out.sample(
            "customs_tasks_overdue",
            &[("office", &tasks.office)],
            tasks.overdue as f64,
        );
    }
    out.single(
        "targeting_rules_active",
        "gauge",
        "Targeting rules in force (approved, not retired)",
        figures.rules_active as f64,
    );
    out.family(
        "risk_models",
        "gauge",
        "Risk models registered, by status (shadow, active, retired)",
    );
    for status in ["shadow", "active", "retired"] {
        let n = figures.models.iter().filter(|(_, s)| s == status).count();
        out.sample("risk_models", &[("status", status)], n as f64);
    }
    out.family(
        "risk_model_active_info",
        "gauge",
        "1 for the model that takes part in selection (at most one)",
    );
    for (model, _) in figures.models.iter().filter(|(_, s)| s == "active") {
        out.sample("risk_model_active_info", &[("model", model)], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("x", &[("rule", "a\"b\\c\nd")], 1.0);
        assert_eq!(out.into_text(), "x{rule=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn a_histogram_ends_with_inf_sum_and_count() {
        let mut out = Exposition::default();
        let histogram = HistogramSnapshot {
            buckets: vec![(1.0, 2), (2.5, 3)],
            count: 4,
            sum: 9.5,
        };
        out.histogram("h", "help", &histogram);
        let text = out.into_text();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "h_bucket{le=\"1\"} 2",
                "h_bucket{le=\"2.5\"} 3",
                "h_bucket{le=\"+Inf\"} 4",
                "h_sum 9.5",
                "h_count 4"
            ]
        );
    }
}
