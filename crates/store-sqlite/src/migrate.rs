//! Embedded schema migrations, tracked in `PRAGMA user_version`.
//!
//! The SQL ships inside the binary (no files to deploy next to it), and each migration runs in
//! its own `BEGIN IMMEDIATE` transaction that re-reads the version, so two processes opening a
//! fresh file at the same time apply each migration exactly once.

use anyhow::{Context, bail};
use rusqlite::{Connection, TransactionBehavior};

struct Migration {
    /// The `user_version` after this migration; migrations are numbered 1, 2, ... without gaps.
    version: u32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_watch_four_eyes",
        sql: include_str!("../migrations/0002_watch_four_eyes.sql"),
    },
    Migration {
        version: 3,
        name: "0003_token_lifecycle",
        sql: include_str!("../migrations/0003_token_lifecycle.sql"),
    },
    Migration {
        version: 4,
        name: "0004_audit_encoding_v2",
        sql: include_str!("../migrations/0004_audit_encoding_v2.sql"),
    },
    Migration {
        version: 5,
        name: "0005_passwords",
        sql: include_str!("../migrations/0005_passwords.sql"),
    },
    Migration {
        version: 6,
        name: "0006_console",
        sql: include_str!("../migrations/0006_console.sql"),
    },
    Migration {
        version: 7,
        name: "0007_open_tasks",
        sql: include_str!("../migrations/0007_open_tasks.sql"),
    },
];

/// Refuses to read a store whose schema differs from this build's: a reader does not migrate
/// (reading adds nothing), and an older schema lacks columns the reads name.
pub(crate) fn require_current(conn: &Connection) -> anyhow::Result<()> {
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let found = schema_version(conn)?;
    if found < known {
        bail!(
            "the store's schema version {found} is older than this build's ({known}): \
             open it once with `customs serve` (or `customs audit checkpoint`) to migrate it"
        );
    }
    if found > known {
        bail!("the store's schema version {found} is newer than this build knows ({known})");
    }
    Ok(())
}

/// The schema's SQL, every migration in order: to build a scratch copy of the tables.
pub(crate) fn schema_sql() -> impl Iterator<Item = &'static str> {
    MIGRATIONS.iter().map(|m| m.sql)
}

/// Brings the schema up to the newest migration this binary knows.
pub(crate) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let found = schema_version(conn)?;
    if found > known {
        // An older binary must not write to a schema it does not understand.
        bail!("the store's schema version {found} is newer than this build knows ({known})");
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        apply(conn, migration).with_context(|| format!("applying migration {}", migration.name))?;
    }
    Ok(())
}

fn schema_version(conn: &Connection) -> anyhow::Result<u32> {
    let version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(version)
}

fn apply(conn: &mut Connection, migration: &Migration) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = schema_version(&tx)?;
    if current >= migration.version {
        // Another process applied it between our first look and taking the lock.
        return Ok(());
    }
    if current + 1 != migration.version {
        bail!(
            "schema version {current} cannot be followed by {}",
            migration.version
        );
    }
    tx.execute_batch(migration.sql)?;
    tx.pragma_update(None, "user_version", migration.version)?;
    tx.commit()?;
    tracing::info!(migration = migration.name, "applied store migration");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data folder from before four eyes on the watch list keeps its entries in force: the
    /// migration records them as approved by the event that added them, by nobody else.
    #[test]
    fn watch_entries_added_before_four_eyes_stay_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        apply(&mut conn, &MIGRATIONS[0]).unwrap();
        conn.execute(
            "INSERT INTO watch_entries (id, kind, value, reason_en, reason_zh, action, added_by, \
             added_at_ms, added_seq) VALUES ('W-000001', 'seller', 'X', 'r', 'r', 'hold', \
             'usr-wang', 0, 7)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let entries = crate::queries::watch_entries(&conn).unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].in_force());
        assert_eq!(entries[0].approved_seq, Some(7));
        assert_eq!(entries[0].approved_by, None);
    }
}
