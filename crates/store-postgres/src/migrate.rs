//! Embedded schema migrations, recorded in `schema_migrations`. Each runs in its own transaction
//! under a session advisory lock, so two processes starting on a fresh database at the same time
//! apply each migration exactly once.

use anyhow::Context;
use deadpool_postgres::Object;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// PostgreSQL's own numbering: it starts with the schema SQLite reached at its 0007.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_chains",
        sql: include_str!("../migrations/0002_chains.sql"),
    },
    Migration {
        version: 3,
        name: "0003_change_notifications",
        sql: include_str!("../migrations/0003_change_notifications.sql"),
    },
    Migration {
        version: 4,
        name: "0004_declaration_search",
        sql: include_str!("../migrations/0004_declaration_search.sql"),
    },
    Migration {
        version: 5,
        name: "0005_webhooks",
        sql: include_str!("../migrations/0005_webhooks.sql"),
    },
    Migration {
        version: 6,
        name: "0006_ecommerce",
        sql: include_str!("../migrations/0006_ecommerce.sql"),
    },
    Migration {
        version: 7,
        name: "0007_partial_returns",
        sql: include_str!("../migrations/0007_partial_returns.sql"),
    },
    Migration {
        version: 8,
        name: "0008_ecommerce_not_announced",
        sql: include_str!("../migrations/0008_ecommerce_not_announced.sql"),
    },
    Migration {
        version: 9,
        name: "0009_continuity_outcomes",
        sql: include_str!("../migrations/0009_continuity_outcomes.sql"),
    },
];

/// The schema version this build writes: the number of its last migration.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version as u32;

/// Any constant both processes agree on: the key of the migration lock.
const MIGRATION_LOCK: i64 = 0x0C05_7045;

pub(crate) async fn migrate(client: &mut Object) -> anyhow::Result<()> {
    // The lock comes first: two processes creating `schema_migrations` at once collide in the
    // catalogue (a duplicate table, a unique violation or "type already exists", depending on
    // the moment), so only the holder of the lock creates it.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let applied = create_and_apply(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    applied
}

async fn create_and_apply(client: &mut Object) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
    apply_pending(client).await
}

async fn apply_pending(client: &mut Object) -> anyhow::Result<()> {
    let current = schema_version(client).await?;
    anyhow::ensure!(
        current <= SCHEMA_VERSION,
        "the database's schema is version {current}, newer than this build's {SCHEMA_VERSION}: \
         run a newer build"
    );
    for migration in MIGRATIONS.iter().filter(|m| m.version as u32 > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(migration.sql)
            .await
            .with_context(|| format!("applying migration {}", migration.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = migration.name, "applied PostgreSQL migration");
    }
    Ok(())
}

pub(crate) async fn schema_version<C: deadpool_postgres::GenericClient>(
    c: &C,
) -> anyhow::Result<u32> {
    let row = c
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    let version: i32 = row.try_get(0)?;
    Ok(u32::try_from(version)?)
}

/// The number of audit chains the database records (`chain_config`).
pub(crate) async fn chain_count<C: deadpool_postgres::GenericClient>(c: &C) -> anyhow::Result<u16> {
    let row = c
        .query_one("SELECT chains FROM chain_config", &[])
        .await
        .context("reading the number of audit chains")?;
    let chains: i16 = row.try_get(0)?;
    Ok(u16::try_from(chains)?)
}
