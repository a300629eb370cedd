//! The CBEC buyer's annual ledger: the year's sum, the limit check, the ledger row and the
//! audit-chain event in the append's transaction. The booking's event goes to the chain of the
//! buyer's year (`cbec:<buyer>:<year>`), whose head the append locked; the buyer's year is also
//! locked on its own (a transaction-scoped advisory lock) and the order reference by its
//! idempotency key's lock, so the check stays race-free whatever chains the appends that book
//! write their other events to.

use audit::ChainHead;
use deadpool_postgres::{GenericClient, Transaction};
use store::{CbecBooked, CbecBooking, CbecBookingOutcome};

use crate::append;
use crate::db;
use crate::fault::{Fault, conflict, refused, taken_constraint};
use crate::rows::i64_of;

/// Books `b` after `head`, advancing `head`. Anything but `Booked` wrote nothing.
pub(crate) async fn book(
    tx: &Transaction<'_>,
    b: &CbecBooking,
    head: &mut ChainHead,
    chains: u16,
) -> Result<CbecBookingOutcome, Fault> {
    if let Some(message) = store::cbec_refusal(b) {
        return Err(refused(message));
    }
    let lock = "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))";
    db::execute(tx, lock, &[&b.buyer_id, &i64::from(b.year)]).await?;
    if let Some(first) = booked(tx, &b.order_ref).await? {
        return Ok(store::cbec_duplicate(first, b));
    }
    let after = match store::cbec_total_after(b, year_to_date(tx, &b.buyer_id, b.year).await?) {
        Ok(after) => after,
        Err(exceeded) => return Ok(exceeded),
    };
    let subject = store::cbec_subject(b);
    let payload = store::cbec_payload(b, after);
    let event = store::cbec_event(b, &subject, &payload);
    let chain = append::chain_of(&subject, chains);
    let seq = append::insert_event(tx, &event, chain, head).await?;
    insert_ledger_row(tx, b, after, seq).await?;
    Ok(CbecBookingOutcome::Booked {
        seq,
        year_to_date_fen: after,
    })
}

/// The ledger row of the booking event `seq`; `row` is the seq, so a rebuild makes it again.
pub(crate) async fn insert_ledger_row(
    tx: &Transaction<'_>,
    b: &CbecBooking,
    year_to_date_fen: i64,
    seq: u64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO cbec_ledger (row, order_ref, buyer_id, year, amount_fen, \
         year_to_date_fen, recorded_at_ms, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $1)";
    let seq = i64_of(seq)?;
    let values: db::Params<'_> = &[
        &seq,
        &b.order_ref,
        &b.buyer_id,
        &b.year,
        &b.amount_fen,
        &year_to_date_fen,
        &b.recorded_at_ms,
    ];
    db::execute(tx, sql, values)
        .await
        .map_err(|err| match taken_constraint(&err) {
            Some(_) => conflict(format!("CBEC order {}", b.order_ref)),
            None => err.into(),
        })?;
    Ok(())
}

/// The buyer's booked total for `year`, in fen, less what cancelled or returned orders credited
/// back (each credit-back is the amount of a booking of that year, so this is never negative).
pub(crate) async fn year_to_date<C: GenericClient>(
    c: &C,
    buyer_id: &str,
    year: i32,
) -> anyhow::Result<i64> {
    let sql = "SELECT ((SELECT COALESCE(SUM(amount_fen), 0) FROM cbec_ledger \
             WHERE buyer_id = $1 AND year = $2) \
         - (SELECT COALESCE(SUM(amount_fen), 0) FROM cbec_credit_backs \
             WHERE buyer_id = $1 AND year = $2))::BIGINT";
    Ok(db::query_one(c, sql, &[&buyer_id, &year])
        .await?
        .try_get(0)?)
}

async fn booked(tx: &Transaction<'_>, order_ref: &str) -> anyhow::Result<Option<CbecBooked>> {
    let sql = "SELECT row, buyer_id, year, order_ref, amount_fen, year_to_date_fen, \
         recorded_at_ms FROM cbec_ledger WHERE order_ref = $1";
    let Some(row) = db::query_opt(tx, sql, &[&order_ref]).await? else {
        return Ok(None);
    };
    Ok(Some(CbecBooked {
        seq: crate::rows::u64_at(&row, 0)?,
        buyer_id: row.try_get(1)?,
        year: row.try_get(2)?,
        order_ref: row.try_get(3)?,
        amount_fen: row.try_get(4)?,
        year_to_date_fen: row.try_get(5)?,
        recorded_at_ms: row.try_get(6)?,
    }))
}
