//! Rebuilding the derived tables from the chain, and comparing them with the stored ones.
//!
//! Every event records its projection in the chain (`events.projection`, covered by the
//! version-2 hash). A scratch in-memory database gets the schema, the store is attached read-only
//! as `stored`, and each recorded projection is applied in seq order by the very code the writer
//! uses ([`projection::apply_in`]), so the rebuilt tables are what the writer would have made.
//! Statements that read the event itself (`FROM events`) find the stored log: the scratch copy of
//! the `events` table is dropped, and SQLite resolves an unqualified name in the attached
//! database when the main one has none. Then every table but the chain's own is compared, all
//! columns but the contents kept once beside the chain (vouched for by digests in the payloads).
//!
//! Adding a table or a column to the schema needs no change here: it is compared as soon as it
//! exists. A table that is not a projection of events goes in [`NOT_PROJECTIONS`].

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use store::{Projection, ProjectionCheck};

use crate::fault::Fault;
use crate::projection::{self, Mode};
use crate::{cbec, migrate};

/// Tables that are not derived from events: the chain itself, its checkpoints, and the numbering
/// counters (reserved in blocks, not recorded; a number's uniqueness is the declarations' index),
/// and the webhooks' delivery state (operational: how far receipts were pushed, not a fact of
/// the record; the receipts themselves are read from the chain).
pub(crate) const NOT_PROJECTIONS: &[&str] = &[
    "events",
    "checkpoints",
    "counters",
    "webhooks",
    "webhook_dead_letters",
];

/// Columns holding contents kept once beside the chain: the chain records their digests (checked
/// by `clearance::audit_trail`), not the contents, so they cannot be rebuilt here.
pub(crate) const KEPT_BESIDE_THE_CHAIN: &[(&str, &str)] = &[
    ("release_files", "text"),
    ("history_batches", "text"),
    ("risk_models", "bytes"),
    ("task_attachments", "content"),
    ("declaration_documents", "content"),
];

/// Differences reported at most: enough to name the damage, bounded for a wholly rewritten table.
pub const PROJECTION_DIFFERENCES_MAX: usize = 20;

/// Longest value quoted in a difference.
const VALUE_CHARS_MAX: usize = 80;

/// Rebuilds the tables of the store at `path` from its chain and compares them.
pub(crate) fn check(path: &Path) -> anyhow::Result<ProjectionCheck> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut scratch = Connection::open_with_flags(":memory:", flags)?;
    // The replay applies projections in the writer's order; references need no enforcing here
    // (and the scratch has no `events` table for them to point at).
    scratch.pragma_update(None, "foreign_keys", "OFF")?;
    for sql in migrate::schema_sql() {
        scratch.execute_batch(sql)?;
    }
    scratch.execute_batch("DROP TABLE events")?;
    scratch.busy_timeout(crate::connection::BUSY_TIMEOUT)?;
    scratch.execute("ATTACH DATABASE ?1 AS stored", [read_only_uri(path)])?;
    // One transaction: the events replayed and the tables compared are one snapshot, even while
    // a server appends.
    let tx = scratch.transaction()?;
    let mut check = ProjectionCheck::default();
    replay(&tx, &mut check)?;
    if check.not_rebuilt.is_none() && check.differences.is_empty() {
        compare(&tx, &mut check)?;
    }
    drop(tx);
    Ok(check)
}

/// `file:` URI of the store, read-only; `%`, `?` and `#` are escaped so any path works.
fn read_only_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

fn replay(tx: &Connection, check: &mut ProjectionCheck) -> anyhow::Result<()> {
    let sql = "SELECT seq, action, encoding_version, projection, recorded_at_ms, \
         CASE WHEN action = ?1 THEN payload END FROM stored.events ORDER BY seq";
    let mut events = tx.prepare(sql)?;
    let mut rows = events.query([cbec::ACTION])?;
    while let Some(row) = rows.next()? {
        let seq: u64 = row.get(0)?;
        let action: String = row.get(1)?;
        let version: u8 = row.get(2)?;
        let recorded: String = row.get(3)?;
        check.events_replayed += 1;
        let applied = if action == cbec::ACTION {
            let payload: Option<String> = row.get(5)?;
            book_from_payload(tx, seq, row.get(4)?, payload.as_deref().unwrap_or(""))
        } else if version < audit::ENCODING_V2 {
            check.not_rebuilt = Some(format!(
                "entry {seq} ({action}) was recorded before projections were chained \
                 (audit encoding version {version}): the tables cannot be rebuilt from the chain"
            ));
            return Ok(());
        } else {
            match serde_json::from_str::<Projection>(&recorded) {
                Ok(projection) => projection::apply_in(tx, &projection, seq, Mode::Replay, None)
                    .map_err(|fault| fault_text(&fault)),
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

fn fault_text(fault: &Fault) -> String {
    match fault {
        Fault::Refused(err) => err.to_string(),
        Fault::Database(err) => format!("{err:#}"),
    }
}

/// A CBEC booking's ledger row is all in its payload (see `cbec::payload`).
fn book_from_payload(
    tx: &Connection,
    seq: u64,
    recorded_at_ms: i64,
    payload: &str,
) -> Result<(), String> {
    let store::CbecLedgerEntry {
        order_ref,
        buyer_id,
        year,
        amount_fen: amount,
        year_to_date_fen: year_to_date,
    } = store::cbec_ledger_entry(payload)?;
    let sql = "INSERT INTO main.cbec_ledger (order_ref, buyer_id, year, amount_fen, \
         year_to_date_fen, recorded_at_ms, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    tx.prepare_cached(sql)
        .and_then(|mut insert| {
            insert.execute(rusqlite::params![
                order_ref,
                buyer_id,
                year,
                amount,
                year_to_date,
                recorded_at_ms,
                seq
            ])
        })
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// A compared table: its columns (without those kept beside the chain) and the ones naming a row.
struct Table {
    name: String,
    columns: Vec<String>,
    key: Vec<usize>,
}

fn tables(tx: &Connection) -> anyhow::Result<Vec<Table>> {
    let names: Vec<String> = tx
        .prepare(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::new();
    for name in names {
        if NOT_PROJECTIONS.contains(&name.as_str()) {
            continue;
        }
        let info: Vec<(String, i64)> = tx
            .prepare(&format!("PRAGMA main.table_info({})", quoted(&name)))?
            .query_map([], |row| Ok((row.get(1)?, row.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let columns: Vec<(String, i64)> = info
            .into_iter()
            .filter(|(column, _)| {
                !KEPT_BESIDE_THE_CHAIN.contains(&(name.as_str(), column.as_str()))
            })
            .collect();
        // A row is named by its `id` if it has one, else by its primary key, else by all of it.
        let key = match columns.iter().position(|(c, _)| c == "id") {
            Some(id) => vec![id],
            None => {
                let mut pk: Vec<(i64, usize)> = columns
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, pk))| *pk > 0)
                    .map(|(i, (_, pk))| (*pk, i))
                    .collect();
                pk.sort_unstable();
                match pk.as_slice() {
                    [] => (0..columns.len()).collect(),
                    pk => pk.iter().map(|(_, i)| *i).collect(),
                }
            }
        };
        tables.push(Table {
            name,
            columns: columns.into_iter().map(|(c, _)| c).collect(),
            key,
        });
    }
    Ok(tables)
}

fn compare(tx: &Connection, check: &mut ProjectionCheck) -> anyhow::Result<()> {
    for table in tables(tx)? {
        check.tables.push(table.name.clone());
        if check.differences.len() >= PROJECTION_DIFFERENCES_MAX {
            continue;
        }
        compare_table(tx, &table, &mut check.differences)?;
    }
    check.differences.truncate(PROJECTION_DIFFERENCES_MAX);
    Ok(())
}

fn compare_table(tx: &Connection, table: &Table, out: &mut Vec<String>) -> anyhow::Result<()> {
    let columns = table
        .columns
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    let name = quoted(&table.name);
    let rows_of = |from: &str, minus: &str| -> anyhow::Result<Vec<Vec<Value>>> {
        let sql = format!(
            "SELECT {columns} FROM {from}.{name} EXCEPT SELECT {columns} FROM {minus}.{name} \
             LIMIT {PROJECTION_DIFFERENCES_MAX}"
        );
        let mut statement = tx.prepare(&sql)?;
        let width = table.columns.len();
        let rows = statement
            .query_map([], |row| (0..width).map(|i| row.get(i)).collect())?
            .collect::<rusqlite::Result<Vec<Vec<Value>>>>()?;
        Ok(rows)
    };
    let in_store = rows_of("stored", "main")?;
    let mut in_chain = rows_of("main", "stored")?;
    let key_of =
        |row: &[Value]| -> Vec<Value> { table.key.iter().map(|&i| row[i].clone()).collect() };
    for row in &in_store {
        let key = key_of(row);
        let label = row_label(table, &key);
        match in_chain.iter().position(|other| key_of(other) == key) {
            Some(found) => {
                let chain_row = in_chain.remove(found);
                let changed: Vec<String> = table
                    .columns
                    .iter()
                    .zip(row.iter().zip(&chain_row))
                    .filter(|(_, (stored, rebuilt))| stored != rebuilt)
                    .map(|(column, (stored, rebuilt))| {
                        format!(
                            "{column} is {} in the store but {} in the chain",
                            shown(stored),
                            shown(rebuilt)
                        )
                    })
                    .collect();
                out.push(format!(
                    "{} row {label}: {}",
                    table.name,
                    changed.join("; ")
                ));
            }
            None => out.push(format!(
                "{} row {label} is in the store but no event records it",
                table.name
            )),
        }
    }
    for row in &in_chain {
        let label = row_label(table, &key_of(row));
        out.push(format!(
            "{} row {label}, recorded by the chain, is missing from the store",
            table.name
        ));
    }
    if in_store.is_empty() && in_chain.is_empty() {
        // Equal as sets; a duplicated row (in a table without a unique key) shows in the counts.
        let count = |schema: &str| -> rusqlite::Result<i64> {
            tx.query_row(
                &format!("SELECT count(*) FROM {schema}.{name}"),
                [],
                |row| row.get(0),
            )
        };
        let (stored, rebuilt) = (count("stored")?, count("main")?);
        if stored != rebuilt {
            out.push(format!(
                "{} holds {stored} rows but the chain records {rebuilt}",
                table.name
            ));
        }
    }
    Ok(())
}

fn row_label(table: &Table, key: &[Value]) -> String {
    let parts: Vec<String> = table
        .key
        .iter()
        .zip(key)
        .map(|(&i, value)| format!("{}={}", table.columns[i], shown(value)))
        .collect();
    format!("({})", parts.join(", "))
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Integer(n) => n.to_string(),
        Value::Real(x) => x.to_string(),
        Value::Text(text) => {
            let mut cut: String = text.chars().take(VALUE_CHARS_MAX).collect();
            if cut.len() < text.len() {
                cut.push('…');
            }
            format!("{cut:?}")
        }
        Value::Blob(bytes) => format!("<{} bytes>", bytes.len()),
    }
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
