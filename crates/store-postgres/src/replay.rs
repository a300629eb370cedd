//! Rebuilding the derived tables from the chain, and comparing them with the stored ones.
//!
//! On a connection of its own, in one REPEATABLE READ transaction (one snapshot, even while
//! other processes append): every projection table gets an empty temporary twin (`LIKE` the
//! stored one, with its keys and checks). PostgreSQL resolves an unqualified table name in the
//! session's temporary schema first, so the very code the writer uses
//! ([`projection::apply_in`]) replays each recorded projection, in the order of the events'
//! global `row` (the number the projections were made with), onto the twins,
//! while `events` (which has no twin) is the stored log. Then each table is compared with its
//! twin, all columns but the contents kept once beside the chain, both ways (`EXCEPT ALL`).
//! The transaction is rolled back and the connection closed, so nothing of it stays.

use deadpool_postgres::{Object, Transaction};
use store::{Projection, ProjectionCheck};
use tokio_postgres::IsolationLevel;

use crate::fault::Fault;
use crate::projection::{self, Mode};
use crate::rows::u64_at;

/// Tables that are not derived from events.
const NOT_PROJECTIONS: &[&str] = &[
    "events",
    "idempotency_keys",
    "checkpoints",
    "checkpoint_rounds",
    "counters",
    "chain_heads",
    "chain_config",
    "schema_migrations",
    // The webhooks' delivery state: operational, not a fact of the record.
    "webhooks",
    "webhook_dead_letters",
];

/// Columns holding contents kept once beside the chain (their digests are in the chain).
const KEPT_BESIDE_THE_CHAIN: &[(&str, &str)] = &[
    ("release_files", "text"),
    ("history_batches", "text"),
    ("risk_models", "bytes"),
    ("task_attachments", "content"),
    ("declaration_documents", "content"),
];

/// Differences reported at most (as in the SQLite store).
pub const PROJECTION_DIFFERENCES_MAX: usize = 20;

pub(crate) async fn check(mut client: Object) -> anyhow::Result<ProjectionCheck> {
    // Statements prepared earlier on this connection name the stored tables; the replay's
    // must name the twins.
    client.statement_cache.clear();
    let checked = check_on(&mut client).await;
    // The connection leaves the pool: its cached statements name twins that are gone.
    drop(Object::take(client));
    checked
}

async fn check_on(client: &mut Object) -> anyhow::Result<ProjectionCheck> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let tables = tables(&tx).await?;
    for table in &tables {
        let name = quoted(&table.name);
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE {name} (LIKE public.{name} INCLUDING DEFAULTS \
             INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP"
        ))
        .await?;
    }
    let mut check = ProjectionCheck {
        tables: tables.iter().map(|t| t.name.clone()).collect(),
        ..ProjectionCheck::default()
    };
    replay(&tx, &mut check).await?;
    if check.not_rebuilt.is_none() && check.differences.is_empty() {
        compare(&tx, &tables, &mut check).await?;
    }
    tx.rollback().await?;
    Ok(check)
}

async fn replay(tx: &Transaction<'_>, check: &mut ProjectionCheck) -> anyhow::Result<()> {
    // Within a chain rows rise with seqs; across chains, appends that touch one projection row
    // take its lock, so the later one (the higher row, drawn after the chains' locks) sees the
    // earlier one's change, as the replay does.
    let sql = "SELECT row, action, encoding_version, projection, recorded_at_ms, \
         CASE WHEN action = $1 THEN payload END FROM public.events ORDER BY row";
    for row in tx.query(sql, &[&store::CBEC_BOOKED_ACTION]).await? {
        let seq = u64_at(&row, 0)?;
        let action: String = row.try_get(1)?;
        let version: i16 = row.try_get(2)?;
        let recorded: String = row.try_get(3)?;
        check.events_replayed += 1;
        let applied = if action == store::CBEC_BOOKED_ACTION {
            let payload: Option<String> = row.try_get(5)?;
            book_from_payload(tx, seq, row.try_get(4)?, payload.as_deref().unwrap_or("")).await
        } else if version < i16::from(audit::ENCODING_V2) {
            check.not_rebuilt = Some(format!(
                "entry {seq} ({action}) was recorded before projections were chained \
                 (audit encoding version {version}): the tables cannot be rebuilt from the chain"
            ));
            return Ok(());
        } else {
            match serde_json::from_str::<Projection>(&recorded) {
                Ok(projection) => projection::apply_in(tx, &projection, seq, Mode::Replay, None)
                    .await
                    .map_err(|fault| match fault {
                        Fault::Refused(err) => err.to_string(),
                        Fault::Database(err) => format!("{err:#}"),
                    }),
                Err(err) => Err(format!("its recorded projection is unreadable ({err})")),
            }
        };
        if let Err(why) = applied {
            check.differences.push(format!(
                "entry {seq} ({action}) cannot be replayed onto the tables: {why}"
            ));
            return Ok(());
        }
    }
    Ok(())
}

/// A CBEC booking's ledger row is all in its payload (`store::cbec_payload`).
async fn book_from_payload(
    tx: &Transaction<'_>,
    seq: u64,
    recorded_at_ms: i64,
    payload: &str,
) -> Result<(), String> {
    let entry = store::cbec_ledger_entry(payload)?;
    let booking = store::CbecBooking {
        buyer_id: entry.buyer_id,
        year: entry.year,
        amount_fen: entry.amount_fen,
        annual_limit_fen: 0,
        order_ref: entry.order_ref,
        actor: store::Actor {
            user_id: String::new(),
            role: String::new(),
        },
        recorded_at_ms,
    };
    crate::cbec::insert_ledger_row(tx, &booking, entry.year_to_date_fen, seq)
        .await
        .map_err(|fault| format!("{:#}", store::StoreError::from(fault)))
}

struct Table {
    name: String,
    columns: Vec<String>,
}

async fn tables(tx: &Transaction<'_>) -> anyhow::Result<Vec<Table>> {
    let sql = "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name";
    let mut tables = Vec::new();
    for row in tx.query(sql, &[]).await? {
        let name: String = row.try_get(0)?;
        if NOT_PROJECTIONS.contains(&name.as_str()) {
            continue;
        }
        let sql = "SELECT column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position";
        let mut columns = Vec::new();
        for row in tx.query(sql, &[&name]).await? {
            let column: String = row.try_get(0)?;
            if !KEPT_BESIDE_THE_CHAIN.contains(&(name.as_str(), column.as_str())) {
                columns.push(column);
            }
        }
        tables.push(Table { name, columns });
    }
    Ok(tables)
}

async fn compare(
    tx: &Transaction<'_>,
    tables: &[Table],
    check: &mut ProjectionCheck,
) -> anyhow::Result<()> {
    for table in tables {
        let name = quoted(&table.name);
        let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
        let columns = columns.join(", ");
        let sides = [
            (
                "public",
                "pg_temp",
                "is stored but not rebuilt from the chain",
            ),
            (
                "pg_temp",
                "public",
                "is rebuilt from the chain but not stored",
            ),
        ];
        for (from, minus, what) in sides {
            let room = PROJECTION_DIFFERENCES_MAX.saturating_sub(check.differences.len());
            if room == 0 {
                return Ok(());
            }
            let sql = format!(
                "SELECT row_to_json(x)::TEXT FROM (SELECT {columns} FROM {from}.{name} \
                 EXCEPT ALL SELECT {columns} FROM {minus}.{name}) x LIMIT {room}"
            );
            for row in tx.query(&sql, &[]).await? {
                let text: String = row.try_get(0)?;
                check
                    .differences
                    .push(format!("{}: the row {text} {what}", table.name));
            }
        }
    }
    Ok(())
}

/// An identifier quoted for SQL (names come from the catalogue, quoted all the same).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
