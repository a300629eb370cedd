//! The receipts feed (events of the declarations a trade enterprise sees, chain by chain) and
//! the webhook delivery state (`store::delivery`) in PostgreSQL.

use deadpool_postgres::GenericClient;
use store::{DeadLetterRow, DeliveryChange, FeedEvent, FeedWindow, Visibility, WebhookRow};
use tokio_postgres::Row;

use crate::db;
use crate::rows::{self, EVENT_COLUMNS_OF_E, all, u64_at};

type R<T> = anyhow::Result<T>;

/// `c` is a REPEATABLE READ snapshot: a chain's events commit in seq order (its head row is
/// locked by every append to it), so every event up to the head read here is visible in it.
pub(crate) async fn trade_feed<C: GenericClient>(
    c: &C,
    visibility: &Visibility,
    chain: i16,
    after: u64,
    window: u64,
    limit: usize,
) -> R<FeedWindow> {
    let head = db::query_opt(c, "SELECT seq FROM chain_heads WHERE chain = $1", &[&chain])
        .await?
        .map(|row| u64_at(&row, 0))
        .transpose()?
        .unwrap_or(0);
    let end = after.saturating_add(window).min(head);
    let sql = format!(
        "SELECT {EVENT_COLUMNS_OF_E}, d.id, d.number FROM events e \
         JOIN declarations d ON d.id = e.subject \
         WHERE e.chain = $1 AND e.seq > $2 AND e.seq <= $3 \
         AND (d.trader_credit_code = ANY($4) OR d.declarant_credit_code = ANY($4) \
              OR d.trader_credit_code = ANY($5)) \
         ORDER BY e.seq LIMIT $6"
    );
    let (after_i, end_i) = (as_i64(after), as_i64(end));
    let limit_i = as_i64(limit as u64);
    let found = db::query(
        c,
        &sql,
        &[
            &chain,
            &after_i,
            &end_i,
            &visibility.own,
            &visibility.principals,
            &limit_i,
        ],
    )
    .await?;
    let events = all(found, feed_event)?;
    let read_to = match events.last() {
        Some(last) if events.len() >= limit => last.chain_seq,
        _ => end,
    };
    Ok(FeedWindow { events, read_to })
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn feed_event(row: &Row) -> R<FeedEvent> {
    let chain: i16 = row.try_get(15)?;
    Ok(FeedEvent {
        chain: u16::try_from(chain)?,
        chain_seq: u64_at(row, 14)?,
        declaration_id: row.try_get(16)?,
        number: row.try_get(17)?,
        event: rows::event(row)?,
    })
}

const WEBHOOK_COLUMNS: &str = "enterprise, id, url, secret, created_at_ms, created_by, \
     delivered, lease_holder, lease_until_ms";

fn webhook(row: &Row) -> R<WebhookRow> {
    Ok(WebhookRow {
        enterprise: row.try_get(0)?,
        id: row.try_get(1)?,
        url: row.try_get(2)?,
        secret: row.try_get(3)?,
        created_at_ms: row.try_get(4)?,
        created_by: row.try_get(5)?,
        delivered: row.try_get(6)?,
        lease_holder: row.try_get(7)?,
        lease_until_ms: row.try_get(8)?,
    })
}

pub(crate) async fn webhooks<C: GenericClient>(
    c: &C,
    enterprise: Option<&str>,
) -> R<Vec<WebhookRow>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE $1::TEXT IS NULL OR enterprise = $1 \
         ORDER BY enterprise"
    );
    all(db::query(c, &sql, &[&enterprise]).await?, webhook)
}

const DEAD_LETTER_COLUMNS: &str = "id, enterprise, cursor, declaration_id, body, content_type, \
     attempts, last_error, failed_at_ms";

pub(crate) async fn dead_letters<C: GenericClient>(
    c: &C,
    enterprise: &str,
) -> R<Vec<DeadLetterRow>> {
    let sql = format!(
        "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE enterprise = $1 \
         ORDER BY failed_at_ms, id LIMIT {}",
        store::DEAD_LETTERS_LISTED_MAX
    );
    all(db::query(c, &sql, &[&enterprise]).await?, |row| {
        let attempts: i64 = row.try_get(6)?;
        Ok(DeadLetterRow {
            id: row.try_get(0)?,
            enterprise: row.try_get(1)?,
            cursor: row.try_get(2)?,
            declaration_id: row.try_get(3)?,
            body: row.try_get(4)?,
            content_type: row.try_get(5)?,
            attempts: u32::try_from(attempts)?,
            last_error: row.try_get(7)?,
            failed_at_ms: row.try_get(8)?,
        })
    })
}

/// Each change is one statement in its own implicit transaction. The lease is a conditional
/// UPDATE: of two instances asking at once, PostgreSQL's row lock lets one change the row and
/// the other sees the new holder and changes nothing.
pub(crate) async fn change<C: GenericClient>(c: &C, change: &DeliveryChange) -> R<bool> {
    let changed = match change {
        DeliveryChange::PutWebhook(w) => {
            let sql = format!(
                "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (enterprise) DO UPDATE SET id = $2, url = $3, secret = $4, \
                 created_at_ms = $5, created_by = $6, delivered = $7, lease_holder = $8, \
                 lease_until_ms = $9"
            );
            db::execute(
                c,
                &sql,
                &[
                    &w.enterprise,
                    &w.id,
                    &w.url,
                    &w.secret,
                    &w.created_at_ms,
                    &w.created_by,
                    &w.delivered,
                    &w.lease_holder,
                    &w.lease_until_ms,
                ],
            )
            .await?
        }
        DeliveryChange::DeleteWebhook { enterprise } => {
            db::execute(
                c,
                "DELETE FROM webhooks WHERE enterprise = $1",
                &[enterprise],
            )
            .await?
        }
        DeliveryChange::Advance {
            enterprise,
            webhook_id,
            from,
            to,
        } => {
            db::execute(
                c,
                "UPDATE webhooks SET delivered = $4 WHERE enterprise = $1 AND id = $2 \
                 AND delivered = $3",
                &[enterprise, webhook_id, from, to],
            )
            .await?
        }
        DeliveryChange::Rewind { enterprise, to } => {
            db::execute(
                c,
                "UPDATE webhooks SET delivered = $2 WHERE enterprise = $1",
                &[enterprise, to],
            )
            .await?
        }
        DeliveryChange::Lease {
            enterprise,
            holder,
            now_ms,
            until_ms,
        } => {
            db::execute(
                c,
                "UPDATE webhooks SET lease_holder = $2, lease_until_ms = $4 WHERE enterprise = $1 \
                 AND (lease_holder IS NULL OR lease_holder = $2 OR lease_until_ms < $3)",
                &[enterprise, holder, now_ms, until_ms],
            )
            .await?
        }
        DeliveryChange::Release { holder } => {
            db::execute(
                c,
                "UPDATE webhooks SET lease_holder = NULL, lease_until_ms = 0 \
                 WHERE lease_holder = $1",
                &[holder],
            )
            .await?
        }
        DeliveryChange::DeadLetter(d) => {
            let sql = format!(
                "INSERT INTO webhook_dead_letters ({DEAD_LETTER_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
            );
            let attempts = i64::from(d.attempts);
            db::execute(
                c,
                &sql,
                &[
                    &d.id,
                    &d.enterprise,
                    &d.cursor,
                    &d.declaration_id,
                    &d.body,
                    &d.content_type,
                    &attempts,
                    &d.last_error,
                    &d.failed_at_ms,
                ],
            )
            .await?
        }
        DeliveryChange::RemoveDeadLetter { enterprise, id } => {
            db::execute(
                c,
                "DELETE FROM webhook_dead_letters WHERE enterprise = $1 AND id = $2",
                &[enterprise, id],
            )
            .await?
        }
    };
    Ok(changed > 0)
}
