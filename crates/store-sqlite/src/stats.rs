//! The store's working figures for operators: counters the writer and the WAL checkpointer bump
//! as they work (atomics, no lock on the commit path), and the file sizes and checkpoints read
//! when someone asks (`Store::operational_stats`, at each metrics scrape).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use store::HistogramSnapshot;

/// Requests per group commit: powers of two up to the largest batch a production store takes
/// (`SqliteOptions::production().batch_max` is 64) and beyond, for tuned stores.
pub const COMMIT_BATCH_SIZE_BUCKETS: [f64; 10] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Seconds per commit, fsync included: from a fast SSD's fraction of a millisecond to the
/// seconds a saturated disk takes.
pub const COMMIT_SECONDS_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram with fixed bounds whose samples are counted with atomics.
pub(crate) struct AtomicHistogram {
    bounds: &'static [f64],
    /// Non-cumulative: `counts[i]` holds samples in `(bounds[i-1], bounds[i]]`; one more above.
    counts: Vec<AtomicU64>,
    /// The sum in millionths of the unit, so that it adds exactly.
    sum_micros: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int: a negative or absurd value cannot wrap the sum.
        let micros = (value * 1e6).round() as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        let above = self.counts[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count: cumulative + above,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// What the writer, its callers and the WAL checkpointer count, shared by them all.
pub(crate) struct WriterStats {
    /// Writes handed to the queue and not yet taken into a batch.
    pub(crate) queue_depth: AtomicU64,
    pub(crate) queue_refusals: AtomicU64,
    pub(crate) writer_running: AtomicBool,
    pub(crate) batch_sizes: AtomicHistogram,
    pub(crate) commit_seconds: AtomicHistogram,
    /// Milliseconds since the epoch of the last complete WAL checkpoint; `i64::MIN` for never.
    pub(crate) last_wal_checkpoint_ms: AtomicI64,
}

impl WriterStats {
    pub(crate) fn new(writer_running: bool) -> WriterStats {
        WriterStats {
            queue_depth: AtomicU64::new(0),
            queue_refusals: AtomicU64::new(0),
            writer_running: AtomicBool::new(writer_running),
            batch_sizes: AtomicHistogram::new(&COMMIT_BATCH_SIZE_BUCKETS),
            commit_seconds: AtomicHistogram::new(&COMMIT_SECONDS_BUCKETS),
            last_wal_checkpoint_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// `n` writes left the queue for a batch.
    pub(crate) fn dequeued(&self, n: usize) {
        let n = n as u64;
        // Never below zero, even if a count and its write cross.
        let _ = self
            .queue_depth
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |depth| {
                Some(depth.saturating_sub(n))
            });
    }

    pub(crate) fn last_wal_checkpoint_at_ms(&self) -> Option<i64> {
        let ms = self.last_wal_checkpoint_ms.load(Ordering::Relaxed);
        (ms != i64::MIN).then_some(ms)
    }
}

/// Marks the writer stopped when its thread ends, however it ends (a panic included).
pub(crate) struct RunningGuard<'a>(pub(crate) &'a WriterStats);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.writer_running.store(false, Ordering::Relaxed);
    }
}

/// The sizes of the database file and its WAL (0 for a file that is not there).
pub(crate) fn file_sizes(database: &Path) -> (u64, u64) {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    (size(database), size(Path::new(&wal)))
}

/// Bytes an unprivileged process may still write on the file system holding `database`.
pub(crate) fn disk_free_bytes(database: &Path) -> Option<u64> {
    let folder = database.parent().filter(|p| !p.as_os_str().is_empty())?;
    let stat = rustix::fs::statvfs(folder).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_sample_in_its_bucket_cumulatively() {
        let histogram = AtomicHistogram::new(&COMMIT_BATCH_SIZE_BUCKETS);
        for value in [1.0, 1.0, 3.0, 64.0, 65.0, 10_000.0] {
            histogram.record(value);
        }
        let snapshot = histogram.snapshot();
        let at = |bound: f64| {
            snapshot
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map(|(_, n)| *n)
        };
        assert_eq!(at(1.0), Some(2));
        assert_eq!(at(2.0), Some(2));
        assert_eq!(at(4.0), Some(3));
        // A sample equal to a bound counts in that bound's bucket.
        assert_eq!(at(64.0), Some(4));
        assert_eq!(at(128.0), Some(5));
        assert_eq!(at(512.0), Some(5));
        assert_eq!(snapshot.count, 6);
        assert_eq!(snapshot.sum, 10_134.0);
    }

    #[test]
    fn the_queue_depth_never_goes_below_zero() {
        let stats = WriterStats::new(true);
        stats.queue_depth.fetch_add(2, Ordering::Relaxed);
        stats.dequeued(3);
        assert_eq!(stats.queue_depth.load(Ordering::Relaxed), 0);
    }
}
