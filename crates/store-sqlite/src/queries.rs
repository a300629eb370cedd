//! The read queries, run on pooled read-only connections. Reads that take more than one
//! statement run in one read transaction so they see a single snapshot.

use audit::{Checkpoint, StoredEntry};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use store::{
    DeclarationQuery, DeclarationRow, EnterpriseRow, EventRow, ListedDeclaration, Principal,
    ReleaseFileRow, ReleaseRow, RiskRuleRow, TaskQuery, TaskRow, TokenRow, TraderHistory, UserRow,
};

use crate::rows::{
    self, CHECKPOINT_COLUMNS, DECLARATION_COLUMNS, DECLARATIONS, ENTERPRISE_COLUMNS, EVENT_COLUMNS,
    RELEASE_COLUMNS, TASK_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS,
};

pub(crate) fn declaration(
    conn: &Connection,
    column: DeclarationKey,
    value: &str,
) -> anyhow::Result<Option<DeclarationRow>> {
    let column = match column {
        DeclarationKey::Id => "d.id",
        DeclarationKey::Number => "d.number",
    };
    let sql = format!("SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} WHERE {column} = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([value], rows::declaration)
        .optional()?;
    Ok(row)
}

/// The two unique keys a declaration is looked up by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeclarationKey {
    Id,
    Number,
}

/// Newest first by (lodged_at_ms, row), from the `before` cursor on. Keyset pagination stays
/// correct while declarations are lodged between pages, and costs the same on page 1000 as on
/// page 1; the row-value comparison is understood by SQLite and PostgreSQL alike.
pub(crate) fn list_declarations(
    conn: &Connection,
    query: &DeclarationQuery,
) -> anyhow::Result<Vec<ListedDeclaration>> {
    let nobody_visible =
        matches!(&query.visible_to, Some(v) if v.own.is_empty() && v.principals.is_empty());
    if nobody_visible || query.limit == 0 {
        return Ok(Vec::new());
    }
    let (sql, values) = list_sql(query);
    let mut statement = conn.prepare(&sql)?;
    let listed = statement
        .query_map(rusqlite::params_from_iter(values), |row| {
            Ok(ListedDeclaration {
                cursor: rows::declaration_cursor(row)?,
                row: rows::declaration(row)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(listed)
}

/// The statement listing declarations, and its parameters in order.
fn list_sql(query: &DeclarationQuery) -> (String, Vec<Value>) {
    let limit = Value::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX));
    let (conditions, mut values) = list_conditions(query);
    let sql = match &query.visible_to {
        None => {
            let filter = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            values.push(limit);
            format!(
                "SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} {filter} \
                 ORDER BY d.lodged_at_ms DESC, d.row DESC LIMIT ?"
            )
        }
        Some(visibility) => {
            // One branch per enterprise and column, each the newest `limit` rows of its own
            // index range, then the newest `limit` of them all: an OR over the columns would
            // make SQLite gather every visible row and sort them (0.4 s for a broker's first
            // page among a million declarations), this reads at most `limit` rows per branch.
            let mut branches = Vec::new();
            let mut branch_values = Vec::new();
            // (column, its index, code): the index is named, so that another filter (a status)
            // cannot lead the planner to an index that reads other enterprises' rows.
            const BY_TRADER: (&str, &str) = ("trader_credit_code", "declarations_by_trader");
            const BY_DECLARANT: (&str, &str) =
                ("declarant_credit_code", "declarations_by_declarant");
            let own = visibility
                .own
                .iter()
                .flat_map(|code| [(BY_TRADER, code), (BY_DECLARANT, code)]);
            let principals = visibility.principals.iter().map(|code| (BY_TRADER, code));
            let mut seen = std::collections::HashSet::new();
            for ((column, index), code) in own.chain(principals) {
                if !seen.insert((column, code)) {
                    continue;
                }
                let mut filter = vec![format!("d.{column} = ?")];
                filter.extend(conditions.iter().cloned());
                branches.push(format!(
                    "SELECT row FROM (SELECT d.row FROM declarations d INDEXED BY {index} \
                     WHERE {} ORDER BY d.lodged_at_ms DESC, d.row DESC LIMIT ?)",
                    filter.join(" AND ")
                ));
                branch_values.push(Value::Text(code.clone()));
                branch_values.extend(values.iter().cloned());
                branch_values.push(limit.clone());
            }
            values = branch_values;
            values.push(limit);
            format!(
                "SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} WHERE d.row IN ({}) \
                 ORDER BY d.lodged_at_ms DESC, d.row DESC LIMIT ?",
                branches.join(" UNION ALL ")
            )
        }
    };
    (sql, values)
}

/// SQL conditions with positional parameters, and their values in order, besides visibility
/// (which `list_declarations` makes branches of). Column names (of `declarations d`) come from
/// this code only; every value the caller gave is a parameter.
fn list_conditions(query: &DeclarationQuery) -> (Vec<String>, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    let equal = [
        ("d.status", &query.status),
        ("d.kind", &query.kind),
        ("d.direction", &query.direction),
        ("d.office_of_lodging", &query.office_of_lodging),
        ("d.trader_credit_code", &query.trader_credit_code),
    ];
    for (column, wanted) in equal {
        if let Some(wanted) = wanted {
            conditions.push(format!("{column} = ?"));
            values.push(Value::Text(wanted.clone()));
        }
    }
    if let Some(from) = query.lodged_from_ms {
        conditions.push("d.lodged_at_ms >= ?".to_owned());
        values.push(Value::Integer(from));
    }
    if let Some(to) = query.lodged_to_ms {
        conditions.push("d.lodged_at_ms <= ?".to_owned());
        values.push(Value::Integer(to));
    }
    if let Some(before) = query.before {
        conditions.push("(d.lodged_at_ms, d.row) < (?, ?)".to_owned());
        values.push(Value::Integer(before.lodged_at_ms));
        values.push(Value::Integer(before.row));
    }
    search_conditions(&query.search, &mut conditions, &mut values);
    if query.continuity {
        // The outcomes' partial index (0012) keeps this to the continuity events.
        conditions.push(CONTINUITY_DECLARATIONS.to_owned());
    }
    (conditions, values)
}

/// `d` is a declaration received in continuity: a `continuity.reconciled` event names it.
const CONTINUITY_DECLARATIONS: &str = "d.id IN (SELECT json_extract(e.payload, '$.id') \
     FROM events e WHERE e.action = 'continuity.reconciled')";

/// Declarations lodged in [?1, ?2) and received in continuity, per office of lodging.
const CONTINUITY_BY_OFFICE: &str = "SELECT d.office_of_lodging, count(*) FROM declarations d \
     WHERE d.lodged_at_ms >= ?1 AND d.lodged_at_ms < ?2 AND d.id IN (SELECT \
     json_extract(e.payload, '$.id') FROM events e WHERE e.action = 'continuity.reconciled') \
     GROUP BY d.office_of_lodging ORDER BY d.office_of_lodging";

/// The search terms as conditions on `d.row`, each a range of `declaration_search`'s key (kind,
/// value): exact terms an equality, a commodity code's prefix a range, a part of a name a scan
/// of the names alone.
fn search_conditions(
    search: &store::DeclarationSearch,
    conditions: &mut Vec<String>,
    values: &mut Vec<Value>,
) {
    const KEYS: &str = "d.row IN (SELECT declaration_row FROM declaration_search WHERE kind = ?";
    for (kind, term) in search.exact_terms() {
        conditions.push(format!("{KEYS} AND value = ?)"));
        values.push(Value::Text(kind.to_owned()));
        values.push(Value::Text(term.to_owned()));
    }
    if let Some(prefix) = &search.commodity_code_prefix {
        // Every code that starts with the prefix sorts from it up to, not including, the prefix
        // followed by the character after '9'.
        conditions.push(format!("{KEYS} AND value >= ? AND value < ?)"));
        values.push(Value::Text("commodity_code".to_owned()));
        values.push(Value::Text(prefix.clone()));
        values.push(Value::Text(format!("{prefix}:")));
    }
    if let Some(name) = &search.trader_name {
        conditions.push(format!("{KEYS} AND instr(lower(value), lower(?)) > 0)"));
        values.push(Value::Text("trader_name".to_owned()));
        values.push(Value::Text(name.clone()));
    }
}

pub(crate) fn events(conn: &Connection, subject: &str) -> anyhow::Result<Vec<EventRow>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE subject = ?1 ORDER BY seq");
    let events = conn
        .prepare_cached(&sql)?
        .query_map([subject], rows::event)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(events)
}

/// The user behind a live token (not revoked, its user not disabled), the token, its enterprise,
/// and the enterprises it may declare for.
pub(crate) fn principal(
    conn: &mut Connection,
    token_hash: &str,
) -> anyhow::Result<Option<Principal>> {
    let snapshot = conn.transaction()?;
    let Some(token) = token_where(&snapshot, "token_hash", token_hash)? else {
        return Ok(None);
    };
    if token.revoked_seq.is_some() {
        return Ok(None);
    }
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1 AND disabled_seq IS NULL");
    let Some(user) = snapshot
        .prepare_cached(&sql)?
        .query_row([&token.user_id], rows::user)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(enterprise_id) = &user.enterprise_id else {
        return Ok(Some(Principal {
            user,
            token: Some(token),
            enterprise: None,
            principals: Vec::new(),
        }));
    };
    let enterprise = enterprise_where(&snapshot, "id", enterprise_id)?;
    let principals = broker_principals(&snapshot, enterprise_id)?;
    Ok(Some(Principal {
        user,
        token: Some(token),
        enterprise,
        principals,
    }))
}

/// The credit codes of the enterprises that authorised the broker enterprise, ordered.
pub(crate) fn broker_principals(
    conn: &Connection,
    broker_enterprise_id: &str,
) -> anyhow::Result<Vec<String>> {
    let sql = "SELECT e.credit_code FROM broker_authorisations b \
         JOIN enterprises e ON e.id = b.principal_enterprise_id \
         WHERE b.broker_enterprise_id = ?1 ORDER BY e.credit_code";
    let principals = conn
        .prepare_cached(sql)?
        .query_map([broker_enterprise_id], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(principals)
}

pub(crate) fn token_where(
    conn: &Connection,
    column: &'static str,
    value: &str,
) -> anyhow::Result<Option<TokenRow>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE {column} = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([value], rows::token)
        .optional()?;
    Ok(row)
}

/// The tokens of a user (or everybody's), in the order issued.
pub(crate) fn tokens(conn: &Connection, user_id: Option<&str>) -> anyhow::Result<Vec<TokenRow>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE (?1 IS NULL OR user_id = ?1) \
         ORDER BY created_at_ms, id"
    );
    let tokens = conn
        .prepare_cached(&sql)?
        .query_map([user_id], rows::token)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(tokens)
}

pub(crate) fn user_by_id(conn: &Connection, id: &str) -> anyhow::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([id], rows::user)
        .optional()?;
    Ok(row)
}

pub(crate) fn password_hash(conn: &Connection, user_id: &str) -> anyhow::Result<Option<String>> {
    let row = conn
        .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?
        .query_row([user_id], |row| row.get::<_, Option<String>>(0))
        .optional()?;
    Ok(row.flatten())
}

pub(crate) fn enterprise_where(
    conn: &Connection,
    column: &'static str,
    value: &str,
) -> anyhow::Result<Option<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM enterprises WHERE {column} = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([value], rows::enterprise)
        .optional()?;
    Ok(row)
}

pub(crate) fn user_by_name(
    conn: &Connection,
    name: &str,
) -> anyhow::Result<Option<store::UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([name], rows::user)
        .optional()?;
    Ok(row)
}

pub(crate) fn audit_entries(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> anyhow::Result<Vec<StoredEntry>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    // Saturate rather than fail: a cursor past any stored seq simply finds nothing.
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let entries = conn
        .prepare_cached(&sql)?
        .query_map((after, limit), rows::stored_entry)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

pub(crate) fn checkpoints(conn: &Connection) -> anyhow::Result<Vec<Checkpoint>> {
    let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq");
    let checkpoints = conn
        .prepare_cached(&sql)?
        .query_map((), rows::checkpoint)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(checkpoints)
}

/// The releases of `kind` in import order: the seq of the importing event.
pub(crate) fn releases(conn: &Connection, kind: &str) -> anyhow::Result<Vec<ReleaseRow>> {
    let sql =
        format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE kind = ?1 ORDER BY imported_seq");
    let releases = conn
        .prepare_cached(&sql)?
        .query_map([kind], rows::release)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(releases)
}

pub(crate) fn release(conn: &Connection, id: &str) -> anyhow::Result<Option<ReleaseRow>> {
    let sql = format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([id], rows::release)
        .optional()?;
    Ok(row)
}

/// A release's files in the order given, `None` if there is no such release. One snapshot, so
/// a release is never seen without its files.
pub(crate) fn release_files(
    conn: &mut Connection,
    id: &str,
) -> anyhow::Result<Option<Vec<ReleaseFileRow>>> {
    let snapshot = conn.transaction()?;
    let exists = snapshot
        .prepare_cached("SELECT 1 FROM releases WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let sql = "SELECT name, text FROM release_files WHERE release_id = ?1 ORDER BY position";
    let files = snapshot
        .prepare_cached(sql)?
        .query_map([id], |row| {
            Ok(ReleaseFileRow {
                name: row.get(0)?,
                text: row.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(files))
}

pub(crate) fn risk_rules(
    conn: &Connection,
    status: Option<&str>,
) -> anyhow::Result<Vec<RiskRuleRow>> {
    let columns = rows::RISK_RULE_COLUMNS;
    let rules = match status {
        Some(status) => {
            let sql =
                format!("SELECT {columns} FROM risk_rules WHERE status = ?1 ORDER BY id, version");
            conn.prepare_cached(&sql)?
                .query_map([status], rows::risk_rule)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let sql = format!("SELECT {columns} FROM risk_rules ORDER BY id, version");
            conn.prepare_cached(&sql)?
                .query_map([], rows::risk_rule)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rules)
}

/// Every watch-list entry, removed ones included, in the order they were added.
pub(crate) fn watch_entries(conn: &Connection) -> anyhow::Result<Vec<store::WatchEntryRow>> {
    let sql = format!(
        "SELECT {} FROM watch_entries ORDER BY added_seq",
        rows::WATCH_ENTRY_COLUMNS
    );
    let entries = conn
        .prepare_cached(&sql)?
        .query_map([], rows::watch_entry)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

/// The latest credit level of an enterprise, if one was ever set.
pub(crate) fn credit_level(conn: &Connection, credit_code: &str) -> anyhow::Result<Option<String>> {
    let sql = "SELECT level FROM enterprise_credit WHERE credit_code = ?1 \
         ORDER BY seq DESC LIMIT 1";
    let level = conn
        .prepare_cached(sql)?
        .query_row([credit_code], |row| row.get(0))
        .optional()?;
    Ok(level)
}

/// The officers whose latest duty change put them at the office (any office with `None`): the
/// candidates come from `officer_duty_by_office`, each checked against its latest change by the
/// primary key.
pub(crate) fn officers_on_duty(
    conn: &Connection,
    office: Option<&str>,
) -> anyhow::Result<Vec<store::DutyRow>> {
    let sql = "SELECT d.officer, d.office, d.since_ms, d.seq FROM officer_duty d \
         WHERE d.office IS NOT NULL AND (?1 IS NULL OR d.office = ?1) \
         AND d.seq = (SELECT MAX(seq) FROM officer_duty l WHERE l.officer = d.officer) \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.officer \
             AND u.disabled_seq IS NOT NULL) \
         ORDER BY d.office, d.officer";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([office], |row| {
        Ok(store::DutyRow {
            officer: row.get(0)?,
            office: row.get(1)?,
            since_ms: row.get(2)?,
            seq: row.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn history_batches(conn: &Connection) -> anyhow::Result<Vec<store::HistoryBatchRow>> {
    let sql = "SELECT id, format, label, digest, rows, labelled, first_date, last_date, \
         imported_by, imported_seq FROM history_batches ORDER BY imported_seq";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([], |row| {
        Ok(store::HistoryBatchRow {
            id: row.get(0)?,
            format: row.get(1)?,
            label: row.get(2)?,
            digest: row.get(3)?,
            rows: row.get::<_, i64>(4)? as u64,
            labelled: row.get::<_, i64>(5)? as u64,
            first_date: row.get(6)?,
            last_date: row.get(7)?,
            imported_by: row.get(8)?,
            imported_seq: Some(row.get::<_, i64>(9)? as u64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn history_text(conn: &Connection, id: &str) -> anyhow::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT text FROM history_batches WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?)
}

pub(crate) fn risk_models(conn: &Connection) -> anyhow::Result<Vec<store::RiskModelRow>> {
    let sql = "SELECT id, status, source, author, model_hash, summary, created_seq, \
         promoted_by, promoted_seq, ended_seq FROM risk_models ORDER BY created_seq";
    let mut statement = conn.prepare_cached(sql)?;
    let seq = |v: Option<i64>| v.map(|v| v as u64);
    let rows = statement.query_map([], |row| {
        Ok(store::RiskModelRow {
            id: row.get(0)?,
            status: row.get(1)?,
            source: row.get(2)?,
            author: row.get(3)?,
            model_hash: row.get(4)?,
            summary: row.get(5)?,
            created_seq: seq(row.get(6)?),
            promoted_by: row.get(7)?,
            promoted_seq: seq(row.get(8)?),
            ended_seq: seq(row.get(9)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn risk_model_bytes(conn: &Connection, id: &str) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT bytes FROM risk_models WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?)
}

/// In the order they were added (their seq).
pub(crate) fn attachments(
    conn: &Connection,
    task_id: &str,
) -> anyhow::Result<Vec<store::AttachmentRow>> {
    let sql = "SELECT task_id, digest, file_name, media_type, size, added_by, added_seq \
         FROM task_attachments WHERE task_id = ?1 ORDER BY added_seq";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([task_id], |row| {
        Ok(store::AttachmentRow {
            task_id: row.get(0)?,
            digest: row.get(1)?,
            file_name: row.get(2)?,
            media_type: row.get(3)?,
            size: row.get::<_, i64>(4)? as u64,
            added_by: row.get(5)?,
            added_seq: Some(row.get::<_, i64>(6)? as u64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn attachment_content(
    conn: &Connection,
    task_id: &str,
    digest: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    let sql = "SELECT content FROM task_attachments WHERE task_id = ?1 AND digest = ?2";
    Ok(conn
        .prepare_cached(sql)?
        .query_row([task_id, digest], |row| row.get(0))
        .optional()?)
}

fn draft_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<store::DraftRow> {
    Ok(store::DraftRow {
        id: row.get(0)?,
        enterprise_id: row.get(1)?,
        title: row.get(2)?,
        body: row.get(3)?,
        saved_by: row.get(4)?,
        saved_seq: Some(row.get::<_, i64>(5)? as u64),
    })
}

/// The latest saved first.
pub(crate) fn drafts(
    conn: &Connection,
    enterprise_id: &str,
) -> anyhow::Result<Vec<store::DraftRow>> {
    let sql = "SELECT id, enterprise_id, title, body, saved_by, saved_seq FROM console_drafts \
         WHERE enterprise_id = ?1 ORDER BY saved_seq DESC";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([enterprise_id], draft_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn draft(conn: &Connection, id: &str) -> anyhow::Result<Option<store::DraftRow>> {
    let sql = "SELECT id, enterprise_id, title, body, saved_by, saved_seq FROM console_drafts \
         WHERE id = ?1";
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], draft_row)
        .optional()?)
}

/// In the order they were added (their seq).
pub(crate) fn documents(
    conn: &Connection,
    declaration_id: &str,
) -> anyhow::Result<Vec<store::DocumentRow>> {
    let sql = "SELECT declaration_id, digest, kind, file_name, media_type, size, added_by, \
         added_seq FROM declaration_documents WHERE declaration_id = ?1 ORDER BY added_seq";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([declaration_id], |row| {
        Ok(store::DocumentRow {
            declaration_id: row.get(0)?,
            digest: row.get(1)?,
            kind: row.get(2)?,
            file_name: row.get(3)?,
            media_type: row.get(4)?,
            size: row.get::<_, i64>(5)? as u64,
            added_by: row.get(6)?,
            added_seq: Some(row.get::<_, i64>(7)? as u64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn document_content(
    conn: &Connection,
    declaration_id: &str,
    digest: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    let sql = "SELECT content FROM declaration_documents WHERE declaration_id = ?1 AND digest = ?2";
    Ok(conn
        .prepare_cached(sql)?
        .query_row([declaration_id, digest], |row| row.get(0))
        .optional()?)
}

/// The period is read from `declarations_by_release`; the office is filtered row by row.
pub(crate) fn release_durations(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    office: Option<&str>,
) -> anyhow::Result<Vec<i64>> {
    let sql = "SELECT released_at_ms - lodged_at_ms AS d FROM declarations \
         WHERE released_at_ms IS NOT NULL AND released_at_ms >= ?1 AND released_at_ms < ?2 \
         AND (?3 IS NULL OR office_of_lodging = ?3) ORDER BY d";
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(rusqlite::params![from_ms, to_ms, office], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Both counts come from indexes: the trader's declarations from `declarations_by_trader`, their
/// tasks from `inspection_tasks_by_declaration`.
pub(crate) fn trader_history(
    conn: &Connection,
    credit_code: &str,
    since_ms: i64,
) -> anyhow::Result<TraderHistory> {
    let sql =
        "SELECT count(*) FROM declarations WHERE trader_credit_code = ?1 AND lodged_at_ms >= ?2";
    let declarations: i64 = conn
        .prepare_cached(sql)?
        .query_row((credit_code, since_ms), |row| row.get(0))?;
    let sql = "SELECT count(*) FROM declarations d JOIN inspection_tasks t ON t.declaration_id = d.id \
         WHERE d.trader_credit_code = ?1 AND t.status = 'closed' \
         AND json_extract(t.outcome, '$.discrepancy') = 1";
    let discrepancies: i64 = conn
        .prepare_cached(sql)?
        .query_row([credit_code], |row| row.get(0))?;
    Ok(TraderHistory {
        declarations: declarations.max(0) as u64,
        discrepancies: discrepancies.max(0) as u64,
    })
}

pub(crate) fn origin_proof_user(
    conn: &Connection,
    proof_key: &str,
) -> anyhow::Result<Option<String>> {
    let sql = "SELECT declaration_id FROM origin_proof_uses WHERE proof_key = ?1";
    let user = conn
        .prepare_cached(sql)?
        .query_row([proof_key], |row| row.get(0))
        .optional()?;
    Ok(user)
}

/// Tasks in creation (seq) order. Each query key (declaration, assignee and status, office and
/// status) has an index ending in `created_seq`, so a list is read in order without a sort.
pub(crate) fn tasks(conn: &Connection, query: &TaskQuery) -> anyhow::Result<Vec<TaskRow>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let (conditions, mut values) = task_conditions(query);
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    values.push(Value::Integer(
        i64::try_from(query.limit).unwrap_or(i64::MAX),
    ));
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM inspection_tasks {filter} ORDER BY created_seq LIMIT ?"
    );
    let tasks = conn
        .prepare(&sql)?
        .query_map(rusqlite::params_from_iter(values), rows::task)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(tasks)
}

pub(crate) fn task(conn: &Connection, id: &str) -> anyhow::Result<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM inspection_tasks WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], rows::task)
        .optional()?)
}

/// SQL conditions with positional parameters, and their values in order. Column names come from
/// this code only; every value the caller gave is a parameter.
fn task_conditions(query: &TaskQuery) -> (Vec<String>, Vec<Value>) {
    let equal = [
        ("declaration_id", &query.declaration_id),
        ("assigned_to", &query.assigned_to),
        ("office", &query.office),
        ("status", &query.status),
    ];
    equal
        .into_iter()
        .filter_map(|(column, wanted)| {
            let wanted = wanted.as_ref()?;
            Some((format!("{column} = ?"), Value::Text(wanted.clone())))
        })
        .unzip()
}

pub(crate) fn users_by_role(conn: &Connection, role: &str) -> anyhow::Result<Vec<UserRow>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE role = ?1 AND disabled_seq IS NULL ORDER BY id"
    );
    let users = conn
        .prepare_cached(&sql)?
        .query_map([role], rows::user)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(users)
}

/// Every user, disabled ones included, by name, at most `limit`.
pub(crate) fn users(conn: &Connection, limit: usize) -> anyhow::Result<Vec<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name LIMIT ?1");
    let users = conn
        .prepare_cached(&sql)?
        .query_map([limit as i64], rows::user)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(users)
}

/// Every enterprise, by credit code, at most `limit`.
pub(crate) fn enterprises(conn: &Connection, limit: usize) -> anyhow::Result<Vec<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM enterprises ORDER BY credit_code LIMIT ?1");
    let enterprises = conn
        .prepare_cached(&sql)?
        .query_map([limit as i64], rows::enterprise)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(enterprises)
}

/// An amount of money as the service writes it (`fen_text`: digits, a point, two decimals) in
/// integer fen, exactly: the point dropped, never a floating-point sum. `{0}` is the SQL of the
/// amount; `WELL_FORMED` tells whether it has that form.
const AMOUNT_FEN: &str = "CAST(replace({0}, '.', '') AS INTEGER)";
const WELL_FORMED: &str = "({0} GLOB '[0-9]*.[0-9][0-9]' OR {0} GLOB '-[0-9]*.[0-9][0-9]') \
     AND substr({0}, 2) NOT GLOB '*[^0-9.]*' AND length({0}) - length(replace({0}, '.', '')) = 1";

fn amount_sql(template: &str, amount: &str) -> String {
    template.replace("{0}", amount)
}

/// The declarations lodged in the window `?1 <= lodged_at_ms < ?2`, read from
/// `declarations_by_lodging`.
const LODGED_IN_WINDOW: &str = "d.lodged_at_ms >= ?1 AND d.lodged_at_ms < ?2";

/// The dashboards' figures. Each is one aggregate statement over the window's declarations
/// (found by the lodging index) and, per declaration, its events found by `events_by_subject`:
/// the cost follows the window, not the store. All in one read transaction: one snapshot.
/// The statements of [`dashboard_figures`], one per figure (named so that a test reads their
/// query plans).
pub(crate) struct DashboardSql {
    pub(crate) lodged: String,
    pub(crate) lanes: String,
    pub(crate) release_classes: String,
    pub(crate) assessed: String,
    pub(crate) paid: String,
    pub(crate) rule_matches: String,
    pub(crate) rule_checks: String,
}

/// Open tasks per office and how many were created before `?1`: read from the partial index of
/// open tasks alone (`inspection_tasks_open_by_office`), without the table.
const OPEN_TASKS_BY_OFFICE: &str = "SELECT office, count(*), coalesce(sum(created_at_ms < ?1), 0) \
     FROM inspection_tasks WHERE status = 'open' GROUP BY office ORDER BY office";

/// Open and overdue tasks per office, now (the dashboards and the metrics).
pub(crate) fn open_tasks_by_office(
    conn: &Connection,
    overdue_before_ms: i64,
) -> rusqlite::Result<Vec<store::OfficeTasks>> {
    conn.prepare_cached(OPEN_TASKS_BY_OFFICE)?
        .query_map([overdue_before_ms], |row| {
            Ok(store::OfficeTasks {
                office: row.get(0)?,
                open: row.get::<_, i64>(1)? as u64,
                overdue: row.get::<_, i64>(2)? as u64,
            })
        })?
        .collect()
}

pub(crate) fn dashboard_sql() -> DashboardSql {
    let payable = "json_extract(e.payload, '$.total_payable')";
    let amount = "json_extract(e.payload, '$.amount')";
    // A reason names its rule either in a `source` object or in itself (older records).
    let rule = "coalesce(json_extract(r.value, '$.source.rule'), json_extract(r.value, '$.rule'))";
    let is_rule = "coalesce(json_extract(r.value, '$.source.kind'), json_extract(r.value, '$.kind')) = 'rule'";
    DashboardSql {
        lodged: "SELECT (d.lodged_at_ms - ?1) / ?3 AS b, count(*) FROM declarations d \
         WHERE d.lodged_at_ms >= ?1 AND d.lodged_at_ms < ?2 GROUP BY b ORDER BY b"
            .to_owned(),
        lanes: format!(
            "SELECT json_extract(e.payload, '$.lane') AS lane, count(*) FROM declarations d \
         JOIN events e ON e.seq = (SELECT max(x.seq) FROM events x \
             WHERE x.subject = d.id AND x.action = 'declaration.targeted') \
         WHERE {LODGED_IN_WINDOW} GROUP BY lane ORDER BY lane"
        ),
        release_classes: "SELECT (SELECT count(*) FROM json_each(?3) b \
             WHERE d.released_at_ms - d.lodged_at_ms >= b.value) AS class, count(*) \
         FROM declarations d WHERE d.released_at_ms IS NOT NULL \
         AND d.released_at_ms >= ?1 AND d.released_at_ms < ?2 GROUP BY class"
            .to_owned(),
        assessed: format!(
            "SELECT count(*), coalesce(sum({fen}), 0), coalesce(sum(NOT ({ok})), 0) \
         FROM declarations d \
         JOIN events e ON e.seq = (SELECT max(x.seq) FROM events x \
             WHERE x.subject = d.id AND x.action = 'declaration.assessed') \
         WHERE {LODGED_IN_WINDOW} AND json_extract(e.payload, '$.outcome') = 'assessed'",
            fen = amount_sql(AMOUNT_FEN, payable),
            ok = amount_sql(WELL_FORMED, payable),
        ),
        paid: format!(
            "SELECT coalesce(json_extract(e.payload, '$.kind'), 'payment') = 'guarantee' AS g, \
             coalesce(sum({fen}), 0), coalesce(sum(NOT ({ok})), 0) \
         FROM declarations d JOIN events e ON e.subject = d.id AND e.action = 'declaration.paid' \
         WHERE {LODGED_IN_WINDOW} GROUP BY g",
            fen = amount_sql(AMOUNT_FEN, amount),
            ok = amount_sql(WELL_FORMED, amount),
        ),
        rule_matches: format!(
            "SELECT {rule} AS rule, count(*), coalesce(sum(json_extract(r.value, '$.selected') = 1), 0) \
         FROM declarations d JOIN events e ON e.subject = d.id AND e.action = 'declaration.targeted', \
             json_each(e.payload, '$.reasons') r \
         WHERE {LODGED_IN_WINDOW} AND {is_rule} AND {rule} IS NOT NULL GROUP BY rule"
        ),
        rule_checks: format!(
            "SELECT {rule} AS rule, count(*), \
             coalesce(sum(json_extract(t.outcome, '$.discrepancy') = 1), 0) \
         FROM declarations d JOIN inspection_tasks t ON t.declaration_id = d.id AND t.status = 'closed', \
             json_each(t.outcome, '$.selected_by.reasons') r \
         WHERE {LODGED_IN_WINDOW} AND {is_rule} AND {rule} IS NOT NULL \
         AND coalesce(json_extract(r.value, '$.selected'), 1) != 0 GROUP BY rule"
        ),
    }
}

pub(crate) fn dashboard_figures(
    conn: &mut Connection,
    query: &store::DashboardQuery,
) -> anyhow::Result<store::DashboardFigures> {
    let snapshot = conn.transaction()?;
    let conn = &*snapshot;
    let (from, to) = (query.from_ms, query.to_ms);
    let bucket = query.bucket_ms.max(1);
    let mut figures = store::DashboardFigures::default();
    let statements = dashboard_sql();

    let sql = &statements.lodged;
    figures.lodged = conn
        .prepare_cached(sql)?
        .query_map((from, to, bucket), |row| {
            Ok((
                from + row.get::<_, i64>(0)? * bucket,
                row.get::<_, i64>(1)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;

    let sql = &statements.lanes;
    figures.lanes = conn
        .prepare_cached(sql)?
        .query_map((from, to), |row| {
            Ok((
                row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                row.get::<_, i64>(1)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;

    // Released in the window, like `release_durations`: the class is how many bounds the time
    // from lodging to release reaches.
    let bounds = serde_json::to_string(&query.release_bounds_ms)?;
    let sql = &statements.release_classes;
    figures.release_classes = vec![0; query.release_bounds_ms.len() + 1];
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query((from, to, &bounds))?;
    while let Some(row) = rows.next()? {
        let (class, count): (i64, i64) = (row.get(0)?, row.get(1)?);
        if let Some(slot) = figures.release_classes.get_mut(class as usize) {
            *slot = count as u64;
        }
    }

    let sql = &statements.assessed;
    let (count, fen, malformed): (i64, i64, i64) =
        conn.prepare_cached(sql)?.query_row((from, to), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    anyhow::ensure!(
        malformed == 0,
        "{malformed} assessed totals are not amounts in fen"
    );
    figures.assessed_declarations = count as u64;
    figures.assessed_fen = fen;

    let sql = &statements.paid;
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query((from, to))?;
    while let Some(row) = rows.next()? {
        let (guarantee, fen, malformed): (bool, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        anyhow::ensure!(
            malformed == 0,
            "{malformed} payments are not amounts in fen"
        );
        if guarantee {
            figures.guaranteed_fen = fen;
        } else {
            figures.collected_fen = fen;
        }
    }

    figures.tasks = open_tasks_by_office(conn, query.overdue_before_ms)?;
    figures.continuity = conn
        .prepare_cached(CONTINUITY_BY_OFFICE)?
        .query_map((from, to), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;

    let sql = &statements.rule_matches;
    let mut rules: std::collections::BTreeMap<String, store::RuleHits> = Default::default();
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query((from, to))?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let hits = rules.entry(name.clone()).or_default();
        hits.rule = name;
        hits.matches = row.get::<_, i64>(1)? as u64;
        hits.selections = row.get::<_, i64>(2)? as u64;
    }
    drop(rows);
    let sql = &statements.rule_checks;
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query((from, to))?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let hits = rules.entry(name.clone()).or_default();
        hits.rule = name;
        hits.checks_closed = row.get::<_, i64>(1)? as u64;
        hits.hits = row.get::<_, i64>(2)? as u64;
    }
    drop(rows);
    figures.rules = rules.into_values().collect();
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `sql` with every parameter bound to NULL, one line per step.
    fn plan(conn: &Connection, sql: &str, parameters: usize) -> String {
        let nulls = vec![Value::Null; parameters];
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let steps = explain
            .query_map(rusqlite::params_from_iter(nulls), |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<String>>>()
            .unwrap();
        steps.join("\n")
    }

    /// Reading the document from its event costs one rowid lookup per declaration: each query
    /// plans exactly as it does without the events, plus that lookup.
    #[test]
    fn documents_are_looked_up_by_seq_without_changing_the_listing_plans() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        crate::migrate::migrate(&mut conn).unwrap();
        let trader = Some("91310000MA1TRADER1".to_owned());
        let queries = [
            DeclarationQuery::default(),
            DeclarationQuery {
                trader_credit_code: trader,
                ..DeclarationQuery::default()
            },
            DeclarationQuery {
                status: Some("accepted".to_owned()),
                before: Some(store::DeclarationCursor {
                    lodged_at_ms: 1,
                    row: 1,
                }),
                ..DeclarationQuery::default()
            },
        ];
        for query in queries {
            let (conditions, values) = list_conditions(&query);
            let filter = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            let order = "ORDER BY d.lodged_at_ms DESC, d.row DESC LIMIT ?";
            let with = format!("SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} {filter} {order}");
            let without = format!("SELECT d.* FROM declarations d {filter} {order}");
            assert_plus_lookup(
                &plan(&conn, &with, values.len() + 1),
                &plan(&conn, &without, values.len() + 1),
            );
        }
        let with = format!("SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} WHERE d.id = ?1");
        let without = "SELECT d.* FROM declarations d WHERE d.id = ?1";
        assert_plus_lookup(&plan(&conn, &with, 1), &plan(&conn, without, 1));
    }

    /// A trade caller's list reads each of its enterprises' index ranges newest first, at most a
    /// page from each, never the whole table: a broker's first page costs the same among a
    /// million declarations as among a thousand.
    #[test]
    fn a_trade_callers_list_reads_one_index_range_per_enterprise() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        crate::migrate::migrate(&mut conn).unwrap();
        let query = DeclarationQuery {
            visible_to: Some(store::Visibility {
                own: vec!["A".to_owned()],
                principals: vec!["B".to_owned(), "C".to_owned()],
            }),
            status: Some("accepted".to_owned()),
            before: Some(store::DeclarationCursor {
                lodged_at_ms: 1,
                row: 1,
            }),
            limit: 50,
            ..DeclarationQuery::default()
        };
        let (sql, values) = list_sql(&query);
        let plan = plan(&conn, &sql, values.len());
        assert_eq!(
            plan.matches("USING INDEX declarations_by_trader").count()
                + plan
                    .matches("USING COVERING INDEX declarations_by_trader")
                    .count(),
            3,
            "A, B and C as traders: {plan}"
        );
        assert_eq!(
            plan.matches("INDEX declarations_by_declarant").count(),
            1,
            "A as declarant: {plan}"
        );
        assert!(
            !plan.lines().any(|l| l.trim() == "SCAN d"),
            "no scan of the table: {plan}"
        );
    }

    /// The dashboards cost what their window holds: each statement finds the window's
    /// declarations by an index (lodging or release time) and their events and tasks by their
    /// own indexes; no statement reads a whole table of declarations, events or tasks, so a
    /// million declarations outside the window cost nothing (the open tasks per office are read
    /// from the office index).
    #[test]
    fn dashboard_statements_read_the_window_by_index_never_a_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        crate::migrate::migrate(&mut conn).unwrap();
        let sql = dashboard_sql();
        let windowed = [
            (&sql.lodged, 3, "declarations_by_lodging"),
            (&sql.lanes, 2, "declarations_by_lodging"),
            (&sql.release_classes, 3, "declarations_by_release"),
            (&sql.assessed, 2, "declarations_by_lodging"),
            (&sql.paid, 2, "declarations_by_lodging"),
            (&sql.rule_matches, 2, "declarations_by_lodging"),
            (&sql.rule_checks, 2, "declarations_by_lodging"),
        ];
        for (statement, parameters, index) in windowed {
            let plan = plan(&conn, statement, parameters);
            assert!(plan.contains(index), "{statement}\n{plan}");
            for line in plan.lines() {
                let whole = line.starts_with("SCAN") && !line.contains("VIRTUAL TABLE");
                assert!(!whole, "a whole table is read: {line}\n{statement}\n{plan}");
            }
        }
        // Only the open tasks are read, from their own index, without the table.
        let tasks = plan(&conn, OPEN_TASKS_BY_OFFICE, 1);
        assert!(
            tasks.contains("COVERING INDEX inspection_tasks_open_by_office"),
            "{tasks}"
        );
    }

    /// Each key tasks are listed by is read from its own index, in seq order, without a sort.
    #[test]
    fn tasks_are_listed_from_an_index_per_key_without_a_sort() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::connection::open_writer(&dir.path().join("customs.db")).unwrap();
        crate::migrate::migrate(&mut conn).unwrap();
        let some = || Some("x".to_owned());
        let cases = [
            (
                TaskQuery {
                    declaration_id: some(),
                    ..TaskQuery::default()
                },
                "inspection_tasks_by_declaration",
            ),
            (
                TaskQuery {
                    assigned_to: some(),
                    status: some(),
                    ..TaskQuery::default()
                },
                "inspection_tasks_by_assignee",
            ),
            (
                TaskQuery {
                    office: some(),
                    status: some(),
                    ..TaskQuery::default()
                },
                "inspection_tasks_by_office",
            ),
        ];
        for (query, index) in cases {
            let (conditions, values) = task_conditions(&query);
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM inspection_tasks WHERE {} \
                 ORDER BY created_seq LIMIT ?",
                conditions.join(" AND ")
            );
            let plan = plan(&conn, &sql, values.len() + 1);
            assert!(plan.contains(index), "{index}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{index} sorts: {plan}");
        }
        let plan = plan(
            &conn,
            &format!("SELECT {USER_COLUMNS} FROM users WHERE role = ?1 ORDER BY id"),
            1,
        );
        assert!(plan.contains("users_by_role"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    fn assert_plus_lookup(with: &str, without: &str) {
        const LOOKUP: &str = "SEARCH e USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN";
        let others: Vec<&str> = with.lines().filter(|step| *step != LOOKUP).collect();
        assert_eq!(with.lines().count(), others.len() + 1, "{with}");
        assert_eq!(others.join("\n"), without, "{with}");
    }
}
