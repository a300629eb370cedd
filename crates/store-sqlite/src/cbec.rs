//! The CBEC buyer's annual ledger (rules §2.7): booking a purchase against the buyer's allowance.
//!
//! Runs on the writer thread inside the request's savepoint, like an append: the year's sum, the
//! limit check, the ledger row and the audit-chain event are one atomic step, serialised with
//! every other write (and, through `BEGIN IMMEDIATE`, with writers in other processes). A booking
//! that does not fit, or repeats an order reference, returns without writing anything.

use audit::ChainHead;
use rusqlite::{Connection, OptionalExtension};
use store::{CbecBooked, CbecBooking, CbecBookingOutcome, StoreError};

use crate::append;
use crate::fault::{Fault, conflict, taken_columns};

/// The event recording a booking.
pub(crate) const ACTION: &str = store::CBEC_BOOKED_ACTION;

/// Books `b` after `head`, advancing `head`. Anything but `Booked` wrote nothing.
pub(crate) fn book(
    tx: &Connection,
    b: &CbecBooking,
    head: &mut ChainHead,
) -> Result<CbecBookingOutcome, Fault> {
    validate(b)?;
    if let Some(first) = booked(tx, &b.order_ref)? {
        return Ok(store::cbec_duplicate(first, b));
    }
    let after = match store::cbec_total_after(b, year_to_date(tx, &b.buyer_id, b.year)?) {
        Ok(after) => after,
        Err(exceeded) => return Ok(exceeded),
    };
    let subject = store::cbec_subject(b);
    let payload = store::cbec_payload(b, after);
    let event = store::cbec_event(b, &subject, &payload);
    append::insert_event(tx, &event, head)?;
    let seq = head.seq;
    let sql = "INSERT INTO cbec_ledger (order_ref, buyer_id, year, amount_fen, year_to_date_fen, \
         recorded_at_ms, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let values = rusqlite::params![
        b.order_ref,
        b.buyer_id,
        b.year,
        b.amount_fen,
        after,
        b.recorded_at_ms,
        seq
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("CBEC order {}", b.order_ref)),
            None => err.into(),
        })?;
    Ok(CbecBookingOutcome::Booked {
        seq,
        year_to_date_fen: after,
    })
}

/// The buyer's booked total for `year`, in fen, less what cancelled or returned orders credited
/// back (each credit-back is the amount of a booking of that year, so this is never negative).
pub(crate) fn year_to_date(conn: &Connection, buyer_id: &str, year: i32) -> rusqlite::Result<i64> {
    let sql = "SELECT (SELECT COALESCE(SUM(amount_fen), 0) FROM cbec_ledger \
             WHERE buyer_id = ?1 AND year = ?2) \
         - (SELECT COALESCE(SUM(amount_fen), 0) FROM cbec_credit_backs \
             WHERE buyer_id = ?1 AND year = ?2)";
    conn.prepare_cached(sql)?
        .query_row((buyer_id, year), |row| row.get(0))
}

fn booked(tx: &Connection, order_ref: &str) -> rusqlite::Result<Option<CbecBooked>> {
    let sql = "SELECT seq, buyer_id, year, order_ref, amount_fen, year_to_date_fen, \
         recorded_at_ms FROM cbec_ledger WHERE order_ref = ?1";
    tx.prepare_cached(sql)?
        .query_row([order_ref], |row| {
            Ok(CbecBooked {
                seq: row.get(0)?,
                buyer_id: row.get(1)?,
                year: row.get(2)?,
                order_ref: row.get(3)?,
                amount_fen: row.get(4)?,
                year_to_date_fen: row.get(5)?,
                recorded_at_ms: row.get(6)?,
            })
        })
        .optional()
}

/// Refuses a booking the ledger must never hold (see [`store::cbec_refusal`]).
fn validate(b: &CbecBooking) -> Result<(), Fault> {
    match store::cbec_refusal(b) {
        Some(message) => Err(Fault::Refused(StoreError::Other(anyhow::anyhow!(message)))),
        None => Ok(()),
    }
}
