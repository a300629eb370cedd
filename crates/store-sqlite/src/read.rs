//! Reads: a small pool of read-only connections used from `spawn_blocking`, never the writer, so
//! a slow listing cannot hold up a commit and reads see WAL snapshots while the writer works.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use rusqlite::Connection;
use store::{StoreError, StoreResult};
use tokio::sync::Semaphore;

use crate::connection::open_reader;

pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection: waiting for a permit (async) rather than a connection (a
    /// blocked thread) keeps a burst of reads from filling the blocking pool.
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn open(path: PathBuf, size: usize) -> anyhow::Result<Arc<ReadPool>> {
        let size = size.max(1);
        let idle = (0..size)
            .map(|_| open_reader(&path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Arc::new(ReadPool {
            path,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
        }))
    }

    /// The store file the pool reads.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Runs `read` on a pooled connection on the blocking pool. `what` names the read in errors.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, what: &'static str, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".to_owned()))?;
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.take()?;
            let result = read(&mut conn);
            pool.put_back(conn);
            result
        });
        let result = task
            .await
            .map_err(|err| StoreError::Other(anyhow::anyhow!("{what} did not finish: {err}")))?;
        result.with_context(|| what).map_err(StoreError::Other)
    }

    /// A pooled connection; a new one if a panicking read lost one (the permit still bounds how
    /// many are in use).
    fn take(&self) -> anyhow::Result<Connection> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn put_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }
}
