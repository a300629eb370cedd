//! The read queries, on pooled connections. Reads that take more than one statement run in
//! one REPEATABLE READ transaction, so they see a single snapshot.

use audit::{Checkpoint, StoredEntry};
use deadpool_postgres::GenericClient;
use store::{
    DeclarationQuery, DeclarationRow, EnterpriseRow, EventRow, ListedDeclaration, Principal,
    ReleaseFileRow, ReleaseRow, RiskRuleRow, TaskQuery, TaskRow, TokenRow, TraderHistory, UserRow,
};
use tokio_postgres::types::ToSql;

use crate::db;
use crate::rows::{
    self, CHECKPOINT_COLUMNS, DECLARATION_COLUMNS, DECLARATIONS, ENTERPRISE_COLUMNS, EVENT_COLUMNS,
    RELEASE_COLUMNS, TASK_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS, all, opt_u64_at, u64_at,
};

type R<T> = anyhow::Result<T>;

/// The two unique keys a declaration is looked up by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeclarationKey {
    Id,
    Number,
}

pub(crate) async fn declaration<C: GenericClient>(
    c: &C,
    key: DeclarationKey,
    value: &str,
) -> R<Option<DeclarationRow>> {
    let column = match key {
        DeclarationKey::Id => "d.id",
        DeclarationKey::Number => "d.number",
    };
    let sql = format!("SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} WHERE {column} = $1");
    db::query_opt(c, &sql, &[&value])
        .await?
        .map(|row| rows::declaration(&row))
        .transpose()
}

/// Newest first by (lodged_at_ms, row), from the `before` cursor on (keyset pagination). A trade
/// caller sees the rows whose trader or declarant is its own enterprise, or whose trader is one
/// of its principals.
pub(crate) async fn list_declarations<C: GenericClient>(
    c: &C,
    query: &DeclarationQuery,
) -> R<Vec<ListedDeclaration>> {
    let nobody_visible =
        matches!(&query.visible_to, Some(v) if v.own.is_empty() && v.principals.is_empty());
    if nobody_visible || query.limit == 0 {
        return Ok(Vec::new());
    }
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if let Some(visibility) = &query.visible_to {
        values.push(Box::new(visibility.own.clone()));
        values.push(Box::new(visibility.principals.clone()));
        let (own, principals) = (values.len() - 1, values.len());
        // A principal's code never matches the declarant column (see `store::Visibility`).
        conditions.push(format!(
            "(d.trader_credit_code = ANY(${own}) OR d.declarant_credit_code = ANY(${own}) \
             OR d.trader_credit_code = ANY(${principals}))"
        ));
    }
    let mut push = |condition: &str, value: Box<dyn ToSql + Sync + Send>| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("${}", values.len())));
    };
    let equal = [
        ("d.status = ?", &query.status),
        ("d.kind = ?", &query.kind),
        ("d.direction = ?", &query.direction),
        ("d.office_of_lodging = ?", &query.office_of_lodging),
        ("d.trader_credit_code = ?", &query.trader_credit_code),
    ];
    for (condition, wanted) in equal {
        if let Some(wanted) = wanted {
            push(condition, Box::new(wanted.clone()));
        }
    }
    if let Some(from) = query.lodged_from_ms {
        push("d.lodged_at_ms >= ?", Box::new(from));
    }
    if let Some(to) = query.lodged_to_ms {
        push("d.lodged_at_ms <= ?", Box::new(to));
    }
    if let Some(before) = query.before {
        values.push(Box::new(before.lodged_at_ms));
        values.push(Box::new(before.row));
        let n = values.len();
        conditions.push(format!("(d.lodged_at_ms, d.row) < (${}, ${n})", n - 1));
    }
    // The search terms as conditions on `d.row`, each a range of `declaration_search`'s key
    // (kind, value), as in the SQLite store.
    const KEYS: &str = "d.row IN (SELECT declaration_row FROM declaration_search WHERE kind = ";
    for (kind, term) in query.search.exact_terms() {
        values.push(Box::new(kind.to_owned()));
        values.push(Box::new(term.to_owned()));
        let n = values.len();
        conditions.push(format!("{KEYS}${} AND value = ${n})", n - 1));
    }
    if query.continuity {
        // The outcomes' partial index (0009) keeps this to the continuity events.
        conditions.push(CONTINUITY_DECLARATIONS.to_owned());
    }
    if let Some(prefix) = &query.search.commodity_code_prefix {
        // starts_with, not a range: the database's collation may not order ':' after '9'.
        values.push(Box::new(prefix.clone()));
        let n = values.len();
        conditions.push(format!(
            "{KEYS}'commodity_code' AND starts_with(value, ${n}))"
        ));
    }
    if let Some(name) = &query.search.trader_name {
        values.push(Box::new(name.clone()));
        let n = values.len();
        conditions.push(format!(
            "{KEYS}'trader_name' AND strpos(lower(value), lower(${n})) > 0)"
        ));
    }
    values.push(Box::new(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {DECLARATION_COLUMNS} FROM {DECLARATIONS} {filter} \
         ORDER BY d.lodged_at_ms DESC, d.row DESC LIMIT ${}",
        values.len()
    );
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = c.query(&sql, &params).await?;
    all(found, |row| {
        Ok(ListedDeclaration {
            cursor: store::DeclarationCursor {
                lodged_at_ms: row.try_get(10)?,
                row: row.try_get(14)?,
            },
            row: rows::declaration(row)?,
        })
    })
}

pub(crate) async fn events<C: GenericClient>(c: &C, subject: &str) -> R<Vec<EventRow>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE subject = $1 ORDER BY row");
    all(db::query(c, &sql, &[&subject]).await?, rows::event)
}

/// The user behind a live token (not revoked, its user not disabled), the token, its
/// enterprise and the enterprises it may declare for. `c` is a snapshot transaction.
pub(crate) async fn principal<C: GenericClient>(c: &C, token_hash: &str) -> R<Option<Principal>> {
    let Some(token) = token_where(c, "token_hash", token_hash).await? else {
        return Ok(None);
    };
    if token.revoked_seq.is_some() {
        return Ok(None);
    }
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND disabled_seq IS NULL");
    let Some(user) = db::query_opt(c, &sql, &[&token.user_id]).await? else {
        return Ok(None);
    };
    let user = rows::user(&user)?;
    let Some(enterprise_id) = user.enterprise_id.clone() else {
        return Ok(Some(Principal {
            user,
            token: Some(token),
            enterprise: None,
            principals: Vec::new(),
        }));
    };
    let enterprise = enterprise_where(c, "id", &enterprise_id).await?;
    let principals = broker_principals(c, &enterprise_id).await?;
    Ok(Some(Principal {
        user,
        token: Some(token),
        enterprise,
        principals,
    }))
}

pub(crate) async fn broker_principals<C: GenericClient>(c: &C, broker: &str) -> R<Vec<String>> {
    let sql = "SELECT e.credit_code FROM broker_authorisations b \
         JOIN enterprises e ON e.id = b.principal_enterprise_id \
         WHERE b.broker_enterprise_id = $1 ORDER BY e.credit_code";
    all(db::query(c, sql, &[&broker]).await?, |row| {
        Ok(row.try_get(0)?)
    })
}

pub(crate) async fn token_where<C: GenericClient>(
    c: &C,
    column: &'static str,
    value: &str,
) -> R<Option<TokenRow>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE {column} = $1");
    db::query_opt(c, &sql, &[&value])
        .await?
        .map(|row| rows::token(&row))
        .transpose()
}

pub(crate) async fn tokens<C: GenericClient>(c: &C, user_id: Option<&str>) -> R<Vec<TokenRow>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE ($1::TEXT IS NULL OR user_id = $1) \
         ORDER BY created_at_ms, id"
    );
    all(db::query(c, &sql, &[&user_id]).await?, rows::token)
}

pub(crate) async fn user_where<C: GenericClient>(
    c: &C,
    column: &'static str,
    value: &str,
) -> R<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
    db::query_opt(c, &sql, &[&value])
        .await?
        .map(|row| rows::user(&row))
        .transpose()
}

pub(crate) async fn password_hash<C: GenericClient>(c: &C, user_id: &str) -> R<Option<String>> {
    let sql = "SELECT password_hash FROM users WHERE id = $1";
    Ok(match db::query_opt(c, sql, &[&user_id]).await? {
        Some(row) => row.try_get(0)?,
        None => None,
    })
}

pub(crate) async fn enterprise_where<C: GenericClient>(
    c: &C,
    column: &'static str,
    value: &str,
) -> R<Option<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM enterprises WHERE {column} = $1");
    db::query_opt(c, &sql, &[&value])
        .await?
        .map(|row| rows::enterprise(&row))
        .transpose()
}

/// Entries of `chain` with `seq > after_seq`, in seq order, at most `limit`.
pub(crate) async fn chain_entries<C: GenericClient>(
    c: &C,
    chain: i16,
    after_seq: u64,
    limit: usize,
) -> R<Vec<StoredEntry>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    all(
        db::query(c, &sql, &[&chain, &after, &limit]).await?,
        rows::stored_entry,
    )
}

/// The highest row below which the record is settled: every row at or below it is committed
/// or will never be. Rows are drawn from a sequence inside appends, so a row can commit after a
/// higher one (two appends on different chains); a reader paging by row past the higher one
/// would miss it. Every append draws its rows while it holds its chains' head rows `FOR
/// UPDATE` (append.rs), so with every head row held `FOR SHARE` no append is in progress, and
/// the highest committed row then is settled. The shared locks are taken in chain order, as
/// appends take theirs (no lock cycle), and held only for this one read: appends wait for
/// them a moment, never for the listing itself.
pub(crate) async fn settled_row(client: &mut deadpool_postgres::Object) -> R<u64> {
    let tx = client.transaction().await?;
    db::query(
        &tx,
        "SELECT chain FROM chain_heads ORDER BY chain FOR SHARE",
        &[],
    )
    .await?;
    let row = db::query_one(&tx, "SELECT COALESCE(max(row), 0) FROM events", &[]).await?;
    let settled: i64 = row.try_get(0)?;
    tx.commit().await?;
    Ok(u64::try_from(settled)?)
}

/// Every chain's entries with `after_row < row <= through_row`, in row order, at most
/// `limit`, each with its chain and row.
pub(crate) async fn record_entries<C: GenericClient>(
    c: &C,
    after_row: u64,
    through_row: u64,
    limit: usize,
) -> R<Vec<store::RecordEntry>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE row > $1 AND row <= $2 ORDER BY row LIMIT $3"
    );
    let after = i64::try_from(after_row).unwrap_or(i64::MAX);
    let through = i64::try_from(through_row).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    all(
        db::query(c, &sql, &[&after, &through, &limit]).await?,
        |found| {
            let chain: i16 = found.try_get(15)?;
            Ok(store::RecordEntry {
                chain: u16::try_from(chain)?,
                row: u64_at(found, 0)?,
                stored: rows::stored_entry(found)?,
            })
        },
    )
}

/// The chain and the chain entry of the event whose global row is `row`.
pub(crate) async fn entry_of_event<C: GenericClient>(
    c: &C,
    row: u64,
) -> R<Option<(u16, StoredEntry)>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE row = $1");
    let row = i64::try_from(row).unwrap_or(i64::MAX);
    match db::query_opt(c, &sql, &[&row]).await? {
        Some(found) => {
            let chain: i16 = found.try_get(15)?;
            Ok(Some((u16::try_from(chain)?, rows::stored_entry(&found)?)))
        }
        None => Ok(None),
    }
}

/// The checkpoints of `chain`, oldest first.
pub(crate) async fn checkpoints<C: GenericClient>(c: &C, chain: i16) -> R<Vec<Checkpoint>> {
    let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE chain = $1 ORDER BY seq");
    all(db::query(c, &sql, &[&chain]).await?, rows::checkpoint)
}

/// Every signing round's checkpoint over all chain heads, oldest first.
pub(crate) async fn checkpoint_rounds<C: GenericClient>(c: &C) -> R<Vec<audit::HeadsCheckpoint>> {
    let sql = "SELECT round, heads, signed_at_ms, key_id, signature FROM checkpoint_rounds \
         ORDER BY round";
    all(db::query(c, sql, &[]).await?, |row| {
        let heads: Vec<u8> = row.try_get(1)?;
        Ok(audit::HeadsCheckpoint {
            round: u64_at(row, 0)?,
            heads: audit::HeadsCheckpoint::heads_from_bytes(&heads).ok_or_else(|| {
                anyhow::anyhow!("a round's heads are not whole (seq, hash) pairs")
            })?,
            signed_at_ms: row.try_get(2)?,
            key_id: row.try_get(3)?,
            signature: {
                let bytes: Vec<u8> = row.try_get(4)?;
                bytes
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("a round's signature is not 64 bytes"))?
            },
        })
    })
}

pub(crate) async fn releases<C: GenericClient>(c: &C, kind: &str) -> R<Vec<ReleaseRow>> {
    let sql =
        format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE kind = $1 ORDER BY imported_seq");
    all(db::query(c, &sql, &[&kind]).await?, rows::release)
}

pub(crate) async fn release<C: GenericClient>(c: &C, id: &str) -> R<Option<ReleaseRow>> {
    let sql = format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = $1");
    db::query_opt(c, &sql, &[&id])
        .await?
        .map(|row| rows::release(&row))
        .transpose()
}

/// `c` is a snapshot transaction, so a release is never seen without its files.
pub(crate) async fn release_files<C: GenericClient>(
    c: &C,
    id: &str,
) -> R<Option<Vec<ReleaseFileRow>>> {
    if db::query_opt(c, "SELECT 1 FROM releases WHERE id = $1", &[&id])
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let sql = "SELECT name, text FROM release_files WHERE release_id = $1 ORDER BY position";
    let files = all(db::query(c, sql, &[&id]).await?, |row| {
        Ok(ReleaseFileRow {
            name: row.try_get(0)?,
            text: row.try_get(1)?,
        })
    })?;
    Ok(Some(files))
}

pub(crate) async fn risk_rules<C: GenericClient>(
    c: &C,
    status: Option<&str>,
) -> R<Vec<RiskRuleRow>> {
    let sql = format!(
        "SELECT {} FROM risk_rules WHERE ($1::TEXT IS NULL OR status = $1) ORDER BY id, version",
        rows::RISK_RULE_COLUMNS
    );
    all(db::query(c, &sql, &[&status]).await?, rows::risk_rule)
}

pub(crate) async fn watch_entries<C: GenericClient>(c: &C) -> R<Vec<store::WatchEntryRow>> {
    let sql = format!(
        "SELECT {} FROM watch_entries ORDER BY added_seq",
        rows::WATCH_ENTRY_COLUMNS
    );
    all(db::query(c, &sql, &[]).await?, rows::watch_entry)
}

pub(crate) async fn credit_level<C: GenericClient>(c: &C, credit_code: &str) -> R<Option<String>> {
    let sql =
        "SELECT level FROM enterprise_credit WHERE credit_code = $1 ORDER BY seq DESC LIMIT 1";
    Ok(match db::query_opt(c, sql, &[&credit_code]).await? {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

pub(crate) async fn officers_on_duty<C: GenericClient>(
    c: &C,
    office: Option<&str>,
) -> R<Vec<store::DutyRow>> {
    let sql = "SELECT d.officer, d.office, d.since_ms, d.seq FROM officer_duty d \
         WHERE d.office IS NOT NULL AND ($1::TEXT IS NULL OR d.office = $1) \
         AND d.seq = (SELECT MAX(seq) FROM officer_duty l WHERE l.officer = d.officer) \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.officer \
             AND u.disabled_seq IS NOT NULL) \
         ORDER BY d.office, d.officer";
    all(db::query(c, sql, &[&office]).await?, |row| {
        Ok(store::DutyRow {
            officer: row.try_get(0)?,
            office: row.try_get(1)?,
            since_ms: row.try_get(2)?,
            seq: u64_at(row, 3)?,
        })
    })
}

pub(crate) async fn history_batches<C: GenericClient>(c: &C) -> R<Vec<store::HistoryBatchRow>> {
    let sql = "SELECT id, format, label, digest, rows, labelled, first_date, last_date, \
         imported_by, imported_seq FROM history_batches ORDER BY imported_seq";
    all(db::query(c, sql, &[]).await?, |row| {
        Ok(store::HistoryBatchRow {
            id: row.try_get(0)?,
            format: row.try_get(1)?,
            label: row.try_get(2)?,
            digest: row.try_get(3)?,
            rows: u64_at(row, 4)?,
            labelled: u64_at(row, 5)?,
            first_date: row.try_get(6)?,
            last_date: row.try_get(7)?,
            imported_by: row.try_get(8)?,
            imported_seq: Some(u64_at(row, 9)?),
        })
    })
}

/// The first column of the row `sql` finds, if any (a text or a blob by its key).
pub(crate) async fn one_value<C: GenericClient, T>(
    c: &C,
    sql: &str,
    params: db::Params<'_>,
) -> R<Option<T>>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    Ok(match db::query_opt(c, sql, params).await? {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

pub(crate) async fn risk_models<C: GenericClient>(c: &C) -> R<Vec<store::RiskModelRow>> {
    let sql = "SELECT id, status, source, author, model_hash, summary, created_seq, \
         promoted_by, promoted_seq, ended_seq FROM risk_models ORDER BY created_seq";
    all(db::query(c, sql, &[]).await?, |row| {
        Ok(store::RiskModelRow {
            id: row.try_get(0)?,
            status: row.try_get(1)?,
            source: row.try_get(2)?,
            author: row.try_get(3)?,
            model_hash: row.try_get(4)?,
            summary: row.try_get(5)?,
            created_seq: opt_u64_at(row, 6)?,
            promoted_by: row.try_get(7)?,
            promoted_seq: opt_u64_at(row, 8)?,
            ended_seq: opt_u64_at(row, 9)?,
        })
    })
}

pub(crate) async fn attachments<C: GenericClient>(
    c: &C,
    task_id: &str,
) -> R<Vec<store::AttachmentRow>> {
    let sql = "SELECT task_id, digest, file_name, media_type, size, added_by, added_seq \
         FROM task_attachments WHERE task_id = $1 ORDER BY added_seq";
    all(db::query(c, sql, &[&task_id]).await?, |row| {
        Ok(store::AttachmentRow {
            task_id: row.try_get(0)?,
            digest: row.try_get(1)?,
            file_name: row.try_get(2)?,
            media_type: row.try_get(3)?,
            size: u64_at(row, 4)?,
            added_by: row.try_get(5)?,
            added_seq: Some(u64_at(row, 6)?),
        })
    })
}

const DRAFT_COLUMNS: &str = "id, enterprise_id, title, body, saved_by, saved_seq";

fn draft_row(row: &tokio_postgres::Row) -> R<store::DraftRow> {
    Ok(store::DraftRow {
        id: row.try_get(0)?,
        enterprise_id: row.try_get(1)?,
        title: row.try_get(2)?,
        body: row.try_get(3)?,
        saved_by: row.try_get(4)?,
        saved_seq: Some(u64_at(row, 5)?),
    })
}

pub(crate) async fn drafts<C: GenericClient>(
    c: &C,
    enterprise_id: &str,
) -> R<Vec<store::DraftRow>> {
    let sql = format!(
        "SELECT {DRAFT_COLUMNS} FROM console_drafts WHERE enterprise_id = $1 ORDER BY saved_seq DESC"
    );
    all(db::query(c, &sql, &[&enterprise_id]).await?, draft_row)
}

pub(crate) async fn draft<C: GenericClient>(c: &C, id: &str) -> R<Option<store::DraftRow>> {
    let sql = format!("SELECT {DRAFT_COLUMNS} FROM console_drafts WHERE id = $1");
    db::query_opt(c, &sql, &[&id])
        .await?
        .map(|row| draft_row(&row))
        .transpose()
}

pub(crate) async fn documents<C: GenericClient>(
    c: &C,
    declaration_id: &str,
) -> R<Vec<store::DocumentRow>> {
    let sql = "SELECT declaration_id, digest, kind, file_name, media_type, size, added_by, \
         added_seq FROM declaration_documents WHERE declaration_id = $1 ORDER BY added_seq";
    all(db::query(c, sql, &[&declaration_id]).await?, |row| {
        Ok(store::DocumentRow {
            declaration_id: row.try_get(0)?,
            digest: row.try_get(1)?,
            kind: row.try_get(2)?,
            file_name: row.try_get(3)?,
            media_type: row.try_get(4)?,
            size: u64_at(row, 5)?,
            added_by: row.try_get(6)?,
            added_seq: Some(u64_at(row, 7)?),
        })
    })
}

pub(crate) async fn release_durations<C: GenericClient>(
    c: &C,
    from_ms: i64,
    to_ms: i64,
    office: Option<&str>,
) -> R<Vec<i64>> {
    let sql = "SELECT released_at_ms - lodged_at_ms AS d FROM declarations \
         WHERE released_at_ms IS NOT NULL AND released_at_ms >= $1 AND released_at_ms < $2 \
         AND ($3::TEXT IS NULL OR office_of_lodging = $3) ORDER BY d";
    all(
        db::query(c, sql, &[&from_ms, &to_ms, &office]).await?,
        |row| Ok(row.try_get(0)?),
    )
}

/// A TEXT column read as jsonb (`json_or_null`, migration 0001): NULL when the text is not JSON,
/// so a count skips a malformed outcome instead of failing the whole read.
fn json_object(column: &str) -> String {
    format!("json_or_null({column})")
}

pub(crate) async fn trader_history<C: GenericClient>(
    c: &C,
    credit_code: &str,
    since_ms: i64,
) -> R<TraderHistory> {
    let sql =
        "SELECT count(*) FROM declarations WHERE trader_credit_code = $1 AND lodged_at_ms >= $2";
    let declarations: i64 = db::query_one(c, sql, &[&credit_code, &since_ms])
        .await?
        .try_get(0)?;
    let sql = format!(
        "SELECT count(*) FROM declarations d JOIN inspection_tasks t ON t.declaration_id = d.id \
         WHERE d.trader_credit_code = $1 AND t.status = 'closed' \
         AND {} -> 'discrepancy' IN ('true'::jsonb, '1'::jsonb)",
        json_object("t.outcome")
    );
    let discrepancies: i64 = db::query_one(c, &sql, &[&credit_code]).await?.try_get(0)?;
    Ok(TraderHistory {
        declarations: declarations.max(0) as u64,
        discrepancies: discrepancies.max(0) as u64,
    })
}

pub(crate) async fn tasks<C: GenericClient>(c: &C, query: &TaskQuery) -> R<Vec<TaskRow>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM inspection_tasks \
         WHERE ($1::TEXT IS NULL OR declaration_id = $1) AND ($2::TEXT IS NULL OR assigned_to = $2) \
         AND ($3::TEXT IS NULL OR office = $3) AND ($4::TEXT IS NULL OR status = $4) \
         ORDER BY created_seq LIMIT $5"
    );
    let values: db::Params<'_> = &[
        &query.declaration_id,
        &query.assigned_to,
        &query.office,
        &query.status,
        &limit,
    ];
    all(db::query(c, &sql, values).await?, rows::task)
}

pub(crate) async fn task<C: GenericClient>(c: &C, id: &str) -> R<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM inspection_tasks WHERE id = $1");
    db::query_opt(c, &sql, &[&id])
        .await?
        .map(|row| rows::task(&row))
        .transpose()
}

pub(crate) async fn users_by_role<C: GenericClient>(c: &C, role: &str) -> R<Vec<UserRow>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE role = $1 AND disabled_seq IS NULL ORDER BY id"
    );
    all(db::query(c, &sql, &[&role]).await?, rows::user)
}

pub(crate) async fn users<C: GenericClient>(c: &C, limit: usize) -> R<Vec<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name LIMIT $1");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    all(db::query(c, &sql, &[&limit]).await?, rows::user)
}

pub(crate) async fn enterprises<C: GenericClient>(c: &C, limit: usize) -> R<Vec<EnterpriseRow>> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM enterprises ORDER BY credit_code LIMIT $1");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    all(db::query(c, &sql, &[&limit]).await?, rows::enterprise)
}

/// `d` is a declaration received in continuity: a `continuity.reconciled` event names it.
const CONTINUITY_DECLARATIONS: &str = "d.id IN (SELECT e.payload::jsonb ->> 'id' \
     FROM events e WHERE e.action = 'continuity.reconciled')";

pub(crate) async fn open_tasks_by_office<C: GenericClient>(
    c: &C,
    overdue_before_ms: i64,
) -> R<Vec<store::OfficeTasks>> {
    let sql = "SELECT office, count(*), count(*) FILTER (WHERE created_at_ms < $1) \
         FROM inspection_tasks WHERE status = 'open' GROUP BY office ORDER BY office";
    all(db::query(c, sql, &[&overdue_before_ms]).await?, |row| {
        Ok(store::OfficeTasks {
            office: row.try_get(0)?,
            open: u64_at(row, 1)?,
            overdue: u64_at(row, 2)?,
        })
    })
}

/// An amount as the service writes it (digits, a point, two decimals) in integer fen, exactly:
/// the point dropped, never a floating-point sum. NULL when it has another form.
fn amount_fen(amount: &str) -> String {
    format!(
        "(CASE WHEN {amount} ~ '^-?[0-9]+\\.[0-9]{{2}}$' THEN replace({amount}, '.', '')::BIGINT END)"
    )
}

/// 1 when an amount is present but not in that form.
fn malformed(amount: &str) -> String {
    format!("(CASE WHEN {amount} !~ '^-?[0-9]+\\.[0-9]{{2}}$' THEN 1 ELSE 0 END)")
}

const LODGED_IN_WINDOW: &str = "d.lodged_at_ms >= $1 AND d.lodged_at_ms < $2";

/// The supervisors' dashboards, one aggregate statement per figure over the window's
/// declarations (the lodging index) and their events (`events_by_subject`), in one snapshot
/// (`c` is a REPEATABLE READ transaction).
pub(crate) async fn dashboard_figures<C: GenericClient>(
    c: &C,
    query: &store::DashboardQuery,
) -> R<store::DashboardFigures> {
    let (from, to) = (query.from_ms, query.to_ms);
    let bucket = query.bucket_ms.max(1);
    let mut figures = store::DashboardFigures::default();

    let sql = "SELECT (d.lodged_at_ms - $1) / $3 AS b, count(*) FROM declarations d \
         WHERE d.lodged_at_ms >= $1 AND d.lodged_at_ms < $2 GROUP BY b ORDER BY b";
    figures.lodged = all(db::query(c, sql, &[&from, &to, &bucket]).await?, |row| {
        Ok((from + row.try_get::<_, i64>(0)? * bucket, u64_at(row, 1)?))
    })?;

    let payload = json_object("e.payload");
    let sql = format!(
        "SELECT {payload} ->> 'lane' AS lane, count(*) FROM declarations d \
         JOIN events e ON e.row = (SELECT max(x.row) FROM events x \
             WHERE x.subject = d.id AND x.action = 'declaration.targeted') \
         WHERE {LODGED_IN_WINDOW} GROUP BY lane ORDER BY lane"
    );
    figures.lanes = all(db::query(c, &sql, &[&from, &to]).await?, |row| {
        Ok((
            row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
            u64_at(row, 1)?,
        ))
    })?;

    let sql = "SELECT (SELECT count(*) FROM unnest($3::BIGINT[]) b(bound) \
             WHERE d.released_at_ms - d.lodged_at_ms >= b.bound) AS class, count(*) \
         FROM declarations d WHERE d.released_at_ms IS NOT NULL \
         AND d.released_at_ms >= $1 AND d.released_at_ms < $2 GROUP BY class";
    figures.release_classes = vec![0; query.release_bounds_ms.len() + 1];
    for row in db::query(c, sql, &[&from, &to, &query.release_bounds_ms]).await? {
        let (class, count): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if let Some(slot) = figures.release_classes.get_mut(class as usize) {
            *slot = count as u64;
        }
    }

    let payable = format!("({payload} ->> 'total_payable')");
    let sql = format!(
        "SELECT count(*), coalesce(sum({fen}), 0)::BIGINT, coalesce(sum({bad}), 0)::BIGINT \
         FROM declarations d \
         JOIN events e ON e.row = (SELECT max(x.row) FROM events x \
             WHERE x.subject = d.id AND x.action = 'declaration.assessed') \
         WHERE {LODGED_IN_WINDOW} AND {payload} ->> 'outcome' = 'assessed'",
        fen = amount_fen(&payable),
        bad = malformed(&payable),
    );
    let row = db::query_one(c, &sql, &[&from, &to]).await?;
    let bad: i64 = row.try_get(2)?;
    anyhow::ensure!(bad == 0, "{bad} assessed totals are not amounts in fen");
    figures.assessed_declarations = u64_at(&row, 0)?;
    figures.assessed_fen = row.try_get(1)?;

    let amount = format!("({payload} ->> 'amount')");
    let sql = format!(
        "SELECT coalesce({payload} ->> 'kind', 'payment') = 'guarantee' AS g, \
             coalesce(sum({fen}), 0)::BIGINT, coalesce(sum({bad}), 0)::BIGINT \
         FROM declarations d JOIN events e ON e.subject = d.id AND e.action = 'declaration.paid' \
         WHERE {LODGED_IN_WINDOW} GROUP BY g",
        fen = amount_fen(&amount),
        bad = malformed(&amount),
    );
    for row in db::query(c, &sql, &[&from, &to]).await? {
        let (guarantee, fen, bad): (bool, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        anyhow::ensure!(bad == 0, "{bad} payments are not amounts in fen");
        if guarantee {
            figures.guaranteed_fen = fen;
        } else {
            figures.collected_fen = fen;
        }
    }

    figures.tasks = open_tasks_by_office(c, query.overdue_before_ms).await?;
    let sql = format!(
        "SELECT d.office_of_lodging, count(*) FROM declarations d \
         WHERE d.lodged_at_ms >= $1 AND d.lodged_at_ms < $2 AND {CONTINUITY_DECLARATIONS} \
         GROUP BY d.office_of_lodging ORDER BY d.office_of_lodging"
    );
    figures.continuity = all(
        db::query(c, &sql, &[&query.from_ms, &query.to_ms]).await?,
        |row| Ok((row.try_get(0)?, u64_at(row, 1)?)),
    )?;

    // A reason names its rule either in a `source` object or in itself (older records).
    let rule = "coalesce(r.value -> 'source' ->> 'rule', r.value ->> 'rule')";
    let is_rule = "coalesce(r.value -> 'source' ->> 'kind', r.value ->> 'kind') = 'rule'";
    let truthy = "IN ('true'::jsonb, '1'::jsonb)";
    let array = |json: &str| format!("(CASE WHEN jsonb_typeof({json}) = 'array' THEN {json} END)");
    let sql = format!(
        "SELECT {rule} AS rule, count(*), count(*) FILTER (WHERE r.value -> 'selected' {truthy}) \
         FROM declarations d JOIN events e ON e.subject = d.id AND e.action = 'declaration.targeted', \
             jsonb_array_elements({reasons}) r \
         WHERE {LODGED_IN_WINDOW} AND {is_rule} AND {rule} IS NOT NULL GROUP BY rule",
        reasons = array(&format!("{payload} -> 'reasons'")),
    );
    let mut rules: std::collections::BTreeMap<String, store::RuleHits> = Default::default();
    for row in db::query(c, &sql, &[&from, &to]).await? {
        let name: String = row.try_get(0)?;
        let hits = rules.entry(name.clone()).or_default();
        hits.rule = name;
        hits.matches = u64_at(&row, 1)?;
        hits.selections = u64_at(&row, 2)?;
    }
    let outcome = json_object("t.outcome");
    let sql = format!(
        "SELECT {rule} AS rule, count(*), count(*) FILTER (WHERE {outcome} -> 'discrepancy' {truthy}) \
         FROM declarations d JOIN inspection_tasks t ON t.declaration_id = d.id AND t.status = 'closed', \
             jsonb_array_elements({reasons}) r \
         WHERE {LODGED_IN_WINDOW} AND {is_rule} AND {rule} IS NOT NULL \
         AND coalesce(r.value -> 'selected', '1'::jsonb) NOT IN ('false'::jsonb, '0'::jsonb) \
         GROUP BY rule",
        reasons = array(&format!("{outcome} -> 'selected_by' -> 'reasons'")),
    );
    for row in db::query(c, &sql, &[&from, &to]).await? {
        let name: String = row.try_get(0)?;
        let hits = rules.entry(name.clone()).or_default();
        hits.rule = name;
        hits.checks_closed = u64_at(&row, 1)?;
        hits.hits = u64_at(&row, 2)?;
    }
    figures.rules = rules.into_values().collect();
    Ok(figures)
}

pub(crate) async fn origin_proof_user<C: GenericClient>(
    c: &C,
    proof_key: &str,
) -> R<Option<String>> {
    let sql = "SELECT declaration_id FROM origin_proof_uses WHERE proof_key = $1";
    one_value(c, sql, &[&proof_key]).await
}

pub(crate) async fn history_text<C: GenericClient>(c: &C, id: &str) -> R<Option<String>> {
    one_value(c, "SELECT text FROM history_batches WHERE id = $1", &[&id]).await
}

pub(crate) async fn risk_model_bytes<C: GenericClient>(c: &C, id: &str) -> R<Option<Vec<u8>>> {
    one_value(c, "SELECT bytes FROM risk_models WHERE id = $1", &[&id]).await
}

pub(crate) async fn attachment_content<C: GenericClient>(
    c: &C,
    task_id: &str,
    digest: &str,
) -> R<Option<Vec<u8>>> {
    let sql = "SELECT content FROM task_attachments WHERE task_id = $1 AND digest = $2";
    one_value(c, sql, &[&task_id, &digest]).await
}

pub(crate) async fn document_content<C: GenericClient>(
    c: &C,
    declaration_id: &str,
    digest: &str,
) -> R<Option<Vec<u8>>> {
    let sql = "SELECT content FROM declaration_documents WHERE declaration_id = $1 AND digest = $2";
    one_value(c, sql, &[&declaration_id, &digest]).await
}
