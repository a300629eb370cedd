//! Moving WAL checkpoints off the commit path, and keeping the WAL bounded.
//!
//! By default SQLite copies the WAL back into the database (a checkpoint, with its own fsync)
//! inside whichever commit crosses 1000 pages: every few hundred lodgings one batch pays for it
//! on the writer thread. The writer turns that off and this thread checkpoints instead, on its
//! own connection, every `WAL_CHECKPOINT_INTERVAL`. PASSIVE never waits for readers or the
//! writer, so it cannot delay a commit; durability is unaffected (the WAL is already synced).
//!
//! PASSIVE alone does not bound the WAL: SQLite starts writing the log from its beginning again
//! only when a checkpoint copied every frame before the next commit, which never happens while
//! the writer is busy, so under sustained lodging the file grew without end (960 MB in 16 s).
//! From `truncate_at` bytes of frames the writer copies the log back whole and restarts it from
//! its beginning between batches (a RESTART checkpoint, waiting at most `WAL_TRUNCATE_WAIT` for
//! readers; a busy writer holds the write lock nearly all the time, so this thread rarely gets it
//! then). The file is reused, not truncated: overwriting pages the kernel holds costs far less
//! than growing the file again, and `journal_size_limit` cuts it back to `truncate_at` after a
//! restart. Should restarts keep failing (readers on old snapshots) and the file reach twice
//! that, this thread copies it back whole and truncates it (TRUNCATE). PASSIVE copies keep what
//! is left to copy small. The writer refuses writes past the hard bound
//! (`SqliteOptions::wal_bytes_max`) should readers keep every restart and truncation off.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::stats::WriterStats;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

/// How often the WAL is copied back into the database file.
pub(crate) const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// How long a truncating checkpoint waits for readers on an older snapshot (and holds off the
/// writer meanwhile) before it gives up until the next tick: short, so a long read never stalls
/// lodging for more than this.
pub(crate) const WAL_TRUNCATE_WAIT: Duration = Duration::from_millis(20);

pub(crate) struct WalCheckpointer {
    stop: Sender<()>,
    handle: Option<JoinHandle<()>>,
}

/// The WAL file of the database at `database`.
pub(crate) fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The WAL's size in bytes (0 when there is none).
pub(crate) fn wal_bytes(wal: &Path) -> u64 {
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

impl WalCheckpointer {
    pub(crate) fn start(
        path: PathBuf,
        truncate_at: u64,
        stats: Arc<WriterStats>,
    ) -> anyhow::Result<WalCheckpointer> {
        let conn = rusqlite::Connection::open(&path)
            .with_context(|| format!("opening the WAL checkpointer on {}", path.display()))?;
        conn.busy_timeout(WAL_TRUNCATE_WAIT)?;
        let wal = wal_path(&path);
        let (stop, stopped) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("store-wal-checkpoint".to_owned())
            .spawn(move || run(&conn, &wal, truncate_at, &stopped, &stats))
            .context("starting the WAL checkpointer thread")?;
        Ok(WalCheckpointer {
            stop,
            handle: Some(handle),
        })
    }
}

fn run(
    conn: &rusqlite::Connection,
    wal: &Path,
    truncate_at: u64,
    stopped: &Receiver<()>,
    stats: &WriterStats,
) {
    // Stops when told to, or when the store is gone (the sender dropped).
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(WAL_CHECKPOINT_INTERVAL) {
        // The writer restarts the log itself from `truncate_at` bytes of frames (and the file is
        // cut back to that size after a restart); a file twice that size means its restarts
        // keep failing (readers on old snapshots, or a writer refusing everything past the
        // bound): then this thread copies the log back whole and truncates it.
        let mode = if wal_bytes(wal) >= truncate_at.saturating_mul(2) {
            "TRUNCATE"
        } else {
            "PASSIVE"
        };
        // A failed checkpoint is retried at the next tick; the WAL only grows meanwhile (up to
        // the writer's bound).
        if let Err(err) = checkpoint_recorded(conn, mode, stats) {
            tracing::debug!(error = %err, mode, "WAL checkpoint postponed");
        }
    }
    // A final full checkpoint leaves a compact database file behind at shutdown.
    let _ = conn.busy_timeout(crate::connection::BUSY_TIMEOUT);
    let _ = checkpoint(conn, "TRUNCATE");
}

/// Runs a checkpoint (this thread's, or the writer's truncation between batches) and, when it
/// copied the whole log back, records when for operators (the WAL checkpoint age).
pub(crate) fn checkpoint_recorded(
    conn: &rusqlite::Connection,
    mode: &str,
    stats: &WriterStats,
) -> anyhow::Result<()> {
    if checkpoint(conn, mode)? {
        stats
            .last_wal_checkpoint_ms
            .store(crate::writer::now_ms(), Ordering::Relaxed);
    }
    Ok(())
}

/// Runs a checkpoint, and says whether it copied the whole log back (for the WAL checkpoint age
/// operators see); a TRUNCATE that could not finish (a reader or the writer in the way) is an
/// error, like a busy database.
fn checkpoint(conn: &rusqlite::Connection, mode: &str) -> anyhow::Result<bool> {
    // The answer is (busy, frames in the WAL, frames copied back): complete when all were.
    let (busy, in_wal, copied): (i64, i64, i64) =
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if busy != 0 && mode != "PASSIVE" {
        anyhow::bail!("readers kept the {mode} checkpoint from finishing");
    }
    Ok(busy == 0 && copied >= in_wal)
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
