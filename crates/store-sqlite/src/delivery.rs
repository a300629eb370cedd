//! The receipts feed (events of the declarations a trade enterprise sees) and the webhook
//! delivery state (`store::delivery`).

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};
use store::{DeadLetterRow, DeliveryChange, FeedEvent, FeedWindow, Visibility, WebhookRow};

use crate::fault::Fault;
use crate::rows::{self, EVENT_COLUMNS};

/// SQLite keeps one chain: an event's chain position is its seq.
pub(crate) fn trade_feed(
    conn: &mut Connection,
    visibility: &Visibility,
    after: u64,
    window: u64,
    limit: usize,
) -> anyhow::Result<FeedWindow> {
    let snapshot = conn.transaction()?;
    let head: u64 = snapshot
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
        .query_row([], |row| row.get(0))?;
    let end = after.saturating_add(window).min(head);
    let codes = |list: &[String]| vec!["?"; list.len().max(1)].join(", ");
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, d_id, d_number FROM (SELECT e.*, d.id AS d_id, \
         d.number AS d_number FROM events e JOIN declarations d ON d.id = e.subject \
         WHERE e.seq > ? AND e.seq <= ? AND (d.trader_credit_code IN ({own}) \
         OR d.declarant_credit_code IN ({own}) OR d.trader_credit_code IN ({principals}))) \
         ORDER BY seq LIMIT ?",
        own = codes(&visibility.own),
        principals = codes(&visibility.principals),
    );
    let list = |list: &[String]| -> Vec<Value> {
        if list.is_empty() {
            // No code matches an empty string: a credit code has 18 characters.
            vec![Value::Text(String::new())]
        } else {
            list.iter().cloned().map(Value::Text).collect()
        }
    };
    let mut values = vec![Value::Integer(as_i64(after)), Value::Integer(as_i64(end))];
    values.extend(list(&visibility.own));
    values.extend(list(&visibility.own));
    values.extend(list(&visibility.principals));
    values.push(Value::Integer(as_i64(limit as u64)));
    let events = snapshot
        .prepare(&sql)?
        .query_map(rusqlite::params_from_iter(values), feed_event)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let read_to = match events.last() {
        Some(last) if events.len() >= limit => last.chain_seq,
        _ => end,
    };
    Ok(FeedWindow { events, read_to })
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn feed_event(row: &Row<'_>) -> rusqlite::Result<FeedEvent> {
    let event = rows::event(row)?;
    Ok(FeedEvent {
        chain: 0,
        chain_seq: event.seq,
        declaration_id: row.get(14)?,
        number: row.get(15)?,
        event,
    })
}

const WEBHOOK_COLUMNS: &str = "enterprise, id, url, secret, created_at_ms, created_by, \
     delivered, lease_holder, lease_until_ms";

fn webhook(row: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        enterprise: row.get(0)?,
        id: row.get(1)?,
        url: row.get(2)?,
        secret: row.get(3)?,
        created_at_ms: row.get(4)?,
        created_by: row.get(5)?,
        delivered: row.get(6)?,
        lease_holder: row.get(7)?,
        lease_until_ms: row.get(8)?,
    })
}

pub(crate) fn webhooks(
    conn: &Connection,
    enterprise: Option<&str>,
) -> anyhow::Result<Vec<WebhookRow>> {
    let found = match enterprise {
        Some(enterprise) => conn
            .prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE enterprise = ?1"
            ))?
            .query_row([enterprise], webhook)
            .optional()?
            .into_iter()
            .collect(),
        None => conn
            .prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY enterprise"
            ))?
            .query_map([], webhook)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(found)
}

const DEAD_LETTER_COLUMNS: &str = "id, enterprise, cursor, declaration_id, body, content_type, \
     attempts, last_error, failed_at_ms";

pub(crate) fn dead_letters(
    conn: &Connection,
    enterprise: &str,
) -> anyhow::Result<Vec<DeadLetterRow>> {
    let sql = format!(
        "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE enterprise = ?1 \
         ORDER BY failed_at_ms, id LIMIT {}",
        store::DEAD_LETTERS_LISTED_MAX
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_map([enterprise], |row| {
            Ok(DeadLetterRow {
                id: row.get(0)?,
                enterprise: row.get(1)?,
                cursor: row.get(2)?,
                declaration_id: row.get(3)?,
                body: row.get(4)?,
                content_type: row.get(5)?,
                attempts: row.get(6)?,
                last_error: row.get(7)?,
                failed_at_ms: row.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(crate) fn change(conn: &Connection, change: &DeliveryChange) -> Result<bool, Fault> {
    let changed = match change {
        DeliveryChange::PutWebhook(w) => conn.execute(
            &format!(
                "INSERT OR REPLACE INTO webhooks ({WEBHOOK_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            rusqlite::params![
                w.enterprise,
                w.id,
                w.url,
                w.secret,
                w.created_at_ms,
                w.created_by,
                w.delivered,
                w.lease_holder,
                w.lease_until_ms
            ],
        )?,
        DeliveryChange::DeleteWebhook { enterprise } => {
            conn.execute("DELETE FROM webhooks WHERE enterprise = ?1", [enterprise])?
        }
        DeliveryChange::Advance {
            enterprise,
            webhook_id,
            from,
            to,
        } => conn.execute(
            "UPDATE webhooks SET delivered = ?4 WHERE enterprise = ?1 AND id = ?2 \
             AND delivered = ?3",
            [enterprise, webhook_id, from, to],
        )?,
        DeliveryChange::Rewind { enterprise, to } => conn.execute(
            "UPDATE webhooks SET delivered = ?2 WHERE enterprise = ?1",
            [enterprise, to],
        )?,
        DeliveryChange::Lease {
            enterprise,
            holder,
            now_ms,
            until_ms,
        } => conn.execute(
            "UPDATE webhooks SET lease_holder = ?2, lease_until_ms = ?4 WHERE enterprise = ?1 \
             AND (lease_holder IS NULL OR lease_holder = ?2 OR lease_until_ms < ?3)",
            rusqlite::params![enterprise, holder, now_ms, until_ms],
        )?,
        DeliveryChange::Release { holder } => conn.execute(
            "UPDATE webhooks SET lease_holder = NULL, lease_until_ms = 0 WHERE lease_holder = ?1",
            [holder],
        )?,
        DeliveryChange::DeadLetter(d) => conn.execute(
            &format!(
                "INSERT OR IGNORE INTO webhook_dead_letters ({DEAD_LETTER_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            rusqlite::params![
                d.id,
                d.enterprise,
                d.cursor,
                d.declaration_id,
                d.body,
                d.content_type,
                d.attempts,
                d.last_error,
                d.failed_at_ms
            ],
        )?,
        DeliveryChange::RemoveDeadLetter { enterprise, id } => conn.execute(
            "DELETE FROM webhook_dead_letters WHERE enterprise = ?1 AND id = ?2",
            [enterprise, id],
        )?,
    };
    Ok(changed > 0)
}
