//! Opening connections with the settings the store's guarantees rest on.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for another connection (or process) to release a lock before it
/// gives up with SQLITE_BUSY. The CLI may hold the write lock for one short transaction while a
/// server runs; five seconds covers that without hanging a request forever.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each connection keeps (rusqlite's `prepare_cached`, least recently used
/// dropped first). rusqlite's default of 16 is fewer than the statements one lodging and the
/// requests around it use in turn (events, declaration, search keys, counters, assessments,
/// checkpoints...; the readers' queries are more still), so each was compiled again nearly every
/// time. Each cached statement holds a few KB.
pub(crate) const STATEMENTS_CACHED_MAX: usize = 256;

/// Opens (creating on first run) the single write connection.
pub(crate) fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    create_private(path)?;
    let conn = Connection::open(path)
        .with_context(|| format!("opening the store at {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run while the writer commits, and makes a commit one sequential append
    // to the log instead of rewriting pages in place. The mode is persistent in the file.
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "the store at {} cannot use WAL (journal mode is {mode})",
            path.display()
        );
    }
    // FULL syncs the WAL on every commit: an acknowledged append survives power loss, not only a
    // process crash (NORMAL in WAL mode may lose the last commits on power loss).
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Projections reference enterprises and users; the database enforces it as a last line.
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each request runs in a savepoint; its statement journal belongs in memory, not in a
    // temporary file written for every request.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run on their own thread (see `wal`), not inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED_MAX);
    Ok(conn)
}

/// Opens one read-only connection; readers never take the write lock, so they cannot delay the
/// writer, and a bug in a read path cannot change data.
pub(crate) fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening a reader on the store at {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED_MAX);
    Ok(conn)
}

/// Creates the database file readable and writable by its owner only (0600) if it does not exist
/// yet, before SQLite opens it: SQLite gives its WAL and shared-memory files the database file's
/// permissions, so none of the store's files is readable by other users whatever the umask.
pub(crate) fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err).with_context(|| format!("creating the store at {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_connection_is_durable_and_checks_references() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("customs.db")).unwrap();
        let pragma = |name: &str| -> String {
            conn.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
                .map(|value| format!("{value:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        // 2 is FULL: every commit is synced before it is acknowledged.
        assert_eq!(pragma("synchronous"), "Integer(2)");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
    }

    /// Whatever the umask, the store's files are readable by their owner only: the database is
    /// created 0600 and SQLite gives its WAL and shared-memory files the same mode.
    #[cfg(unix)]
    #[test]
    fn the_store_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customs.db");
        let conn = open_writer(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for file in ["customs.db", "customs.db-wal", "customs.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}
