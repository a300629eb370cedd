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
    Migration {
        version: 8,
        name: "0008_declaration_search",
        sql: include_str!("../migrations/0008_declaration_search.sql"),
    },
    Migration {
        version: 9,
        name: "0009_webhooks",
        sql: include_str!("../migrations/0009_webhooks.sql"),
    },
    Migration {
        version: 10,
        name: "0010_ecommerce",
        sql: include_str!("../migrations/0010_ecommerce.sql"),
    },
    Migration {
        version: 11,
        name: "0011_partial_returns",
        sql: include_str!("../migrations/0011_partial_returns.sql"),
    },
    Migration {
        version: 12,
        name: "0012_continuity_outcomes",
        sql: include_str!("../migrations/0012_continuity_outcomes.sql"),
    },
];

/// The schema version this build writes: the number of its last migration. A store records
/// its own in `PRAGMA user_version`.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Refuses to read a store whose schema differs from this build's: a reader does not migrate
/// (reading adds nothing), and an older schema lacks columns the reads name.
pub(crate) fn require_current(conn: &Connection) -> anyhow::Result<()> {
    let known = SCHEMA_VERSION;
    let found = schema_version(conn)?;
    if found < known {
        bail!(
            "the store's schema version {found} is older than this build's ({known}): \
             open it once with `customs serve` (or `customs audit checkpoint`) to migrate it / \
             存储的结构版本 {found} 低于本程序的版本 {known}：请先用 `customs serve`（或 \
             `customs audit checkpoint`）打开一次以完成迁移"
        );
    }
    refuse_newer(found)
}

/// An older binary must neither read nor write a schema it does not understand: the operator
/// has to run the binary that made it (or restore the backup taken before the upgrade).
fn refuse_newer(found: u32) -> anyhow::Result<()> {
    let known = SCHEMA_VERSION;
    if found > known {
        bail!(
            "the store's schema version {found} is newer than this build knows ({known}, \
             customs {}): it was written by a newer release; run that release, or restore the \
             backup taken before the upgrade / 存储的结构版本 {found} 高于本程序支持的版本 {known}\
             （customs {}）：它由更新的版本写入，请运行该版本，或恢复升级前的备份",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION"),
        );
    }
    Ok(())
}

/// The schema's SQL, every migration in order: to build a scratch copy of the tables.
pub(crate) fn schema_sql() -> impl Iterator<Item = &'static str> {
    MIGRATIONS.iter().map(|m| m.sql)
}

/// Brings the schema up to the newest migration this binary knows.
pub(crate) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let found = schema_version(conn)?;
    refuse_newer(found)?;
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        apply(conn, migration).with_context(|| format!("applying migration {}", migration.name))?;
    }
    Ok(())
}

pub(crate) fn schema_version(conn: &Connection) -> anyhow::Result<u32> {
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

    /// A store's credit-backs from before partial returns are kept, and an order may then be
    /// credited back again (another event), not twice by one event.
    #[test]
    fn credit_backs_made_before_partial_returns_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        for migration in MIGRATIONS.iter().take_while(|m| m.version <= 10) {
            apply(&mut conn, migration).unwrap();
        }
        let insert = "INSERT INTO cbec_credit_backs (order_ref, buyer_id, year, amount_fen, seq) \
             VALUES ('O-1', 'b', 2026, ?1, ?2)";
        conn.execute(insert, (31_000, 7)).unwrap();
        migrate(&mut conn).unwrap();
        let kept: (i64, i64) = conn
            .query_row(
                "SELECT SUM(amount_fen), COUNT(*) FROM cbec_credit_backs WHERE order_ref = 'O-1'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, (31_000, 1));
        conn.execute(insert, (100, 8)).unwrap();
        assert!(conn.execute(insert, (100, 8)).is_err());
    }

    /// The tables, indexes and triggers a schema defines, as SQLite keeps them.
    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        conn.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Every schema a release may have left (the first k migrations applied, k = 0..=latest) is
    /// brought to the latest, and ends exactly like a store made at the latest from the start.
    #[test]
    fn a_store_at_every_earlier_migration_migrates_to_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let mut fresh = crate::connection::open_writer(&dir.path().join("fresh.db")).unwrap();
        migrate(&mut fresh).unwrap();
        let expected = schema_of(&fresh);
        assert_eq!(schema_version(&fresh).unwrap(), SCHEMA_VERSION);
        for k in 0..MIGRATIONS.len() {
            let path = dir.path().join(format!("prefix-{k}.db"));
            let mut conn = crate::connection::open_writer(&path).unwrap();
            for migration in &MIGRATIONS[..k] {
                apply(&mut conn, migration).unwrap();
            }
            assert_eq!(schema_version(&conn).unwrap(), k as u32);
            migrate(&mut conn).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION, "from {k}");
            assert_eq!(schema_of(&conn), expected, "the schema migrated from {k}");
        }
    }

    /// A store written by a newer release is refused, by the writer and by a reader, with both
    /// versions named in both languages; nothing is changed in it.
    #[test]
    fn a_store_newer_than_this_build_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        migrate(&mut conn).unwrap();
        let newer = SCHEMA_VERSION + 1;
        conn.pragma_update(None, "user_version", newer).unwrap();
        for refusal in [
            migrate(&mut conn).unwrap_err(),
            require_current(&conn).unwrap_err(),
        ] {
            let text = refusal.to_string();
            assert!(
                text.contains(&format!("schema version {newer} is newer"))
                    && text.contains(&format!("({SCHEMA_VERSION}, customs "))
                    && text.contains(&format!(
                        "结构版本 {newer} 高于本程序支持的版本 {SCHEMA_VERSION}"
                    )),
                "{text}"
            );
        }
        assert_eq!(schema_version(&conn).unwrap(), newer);
    }
}
