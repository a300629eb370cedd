//! Moving WAL checkpoints off the commit path.
//!
//! By default SQLite copies the WAL back into the database (a checkpoint, with its own fsync)
//! inside whichever commit crosses 1000 pages: every few hundred lodgings one batch pays for it
//! on the writer thread. The writer turns that off and this thread checkpoints instead, on its
//! own connection, every `WAL_CHECKPOINT_INTERVAL`. PASSIVE never waits for readers or the
//! writer, so it cannot delay a commit; durability is unaffected (the WAL is already synced).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

use crate::stats::WriterStats;

/// How often the WAL is copied back into the database file.
pub(crate) const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

pub(crate) struct WalCheckpointer {
    stop: Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    pub(crate) fn start(path: PathBuf, stats: Arc<WriterStats>) -> anyhow::Result<WalCheckpointer> {
        let conn = rusqlite::Connection::open(&path)
            .with_context(|| format!("opening the WAL checkpointer on {}", path.display()))?;
        conn.busy_timeout(crate::connection::BUSY_TIMEOUT)?;
        let (stop, stopped) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("store-wal-checkpoint".to_owned())
            .spawn(move || run(&conn, &stopped, &stats))
            .context("starting the WAL checkpointer thread")?;
        Ok(WalCheckpointer {
            stop,
            handle: Some(handle),
        })
    }
}

fn run(conn: &rusqlite::Connection, stopped: &Receiver<()>, stats: &WriterStats) {
    // Stops when told to, or when the store is gone (the sender dropped).
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(WAL_CHECKPOINT_INTERVAL) {
        // A failed checkpoint is retried at the next tick; the WAL only grows meanwhile.
        // The answer is (busy, frames in the WAL, frames copied back): complete when all were.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        }) {
            Ok((0, in_wal, copied)) if copied >= in_wal => stats
                .last_wal_checkpoint_ms
                .store(crate::writer::now_ms(), Ordering::Relaxed),
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "WAL checkpoint postponed"),
        }
    }
    // A final full checkpoint leaves a compact database file behind at shutdown.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
