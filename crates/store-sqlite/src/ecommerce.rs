//! Cross-border e-commerce (issue 15): the CEB documents, inventory lists, guarantees, allowance
//! credit-backs and CEB registrations, applied on the writer thread inside the event's savepoint
//! (so every check below runs in the writer's transaction, serialised with every other write and,
//! through `BEGIN IMMEDIATE`, with writers in other processes), and read back by the readers.

use audit::ChainHead;
use rusqlite::{Connection, OptionalExtension, Row};
use store::{
    AppendOutcome, CebCertificateRow, CebDocumentRow, CebEnterpriseRow, CebKey, CebRegistration,
    GuaranteeDebit, GuaranteeDebitEvent, GuaranteeRow, InventoryListChange, InventoryListRow,
    StoreError,
};

use crate::append;
use crate::fault::{Fault, conflict, not_found};

fn refused(message: String) -> Fault {
    Fault::Refused(StoreError::Other(anyhow::anyhow!(message)))
}

/// The first event that recorded one of the append's CEB guids, if any: the append is then a
/// resent message and writes nothing.
pub(crate) fn already_received(
    tx: &Connection,
    append: &store::Append,
) -> Result<Option<AppendOutcome>, Fault> {
    for guid in store::ceb_guids(append) {
        let seq: Option<u64> = tx
            .prepare_cached("SELECT recorded_seq FROM ceb_documents WHERE guid = ?1")?
            .query_row([guid], |row| row.get(0))
            .optional()?;
        if let Some(seq) = seq {
            return Ok(Some(AppendOutcome::CebDocumentAlready {
                guid: guid.to_owned(),
                seq,
            }));
        }
    }
    Ok(None)
}

/// Debits `d` after `head` as its own event, or answers `GuaranteeExhausted` having written
/// nothing.
pub(crate) fn debit(
    tx: &Connection,
    append: &store::Append,
    d: &GuaranteeDebit,
    head: &mut ChainHead,
) -> Result<Option<AppendOutcome>, Fault> {
    if let Some(message) = store::guarantee_debit_refusal(d) {
        return Err(refused(message));
    }
    let balance = guarantee_for_debit(tx, d)?;
    let Some(after) = store::guarantee_balance_after(balance, d.amount_fen) else {
        return Ok(Some(AppendOutcome::GuaranteeExhausted {
            balance_fen: balance,
            needed_fen: d.amount_fen,
        }));
    };
    let debit = GuaranteeDebitEvent::new(d, after)
        .map_err(|err| Fault::Database(anyhow::anyhow!("recording a projection: {err}")))?;
    append::insert_event(tx, &debit.event(&append.actor, append.recorded_at_ms), head).map_err(
        |fault| match fault {
            Fault::Refused(StoreError::Conflict(_)) => {
                conflict(format!("guarantee debit {}", store::guarantee_debit_key(d)))
            }
            other => other,
        },
    )?;
    // A debit writes no declaration, so it has no search keys.
    crate::projection::apply(
        tx,
        &debit.projection,
        head.seq,
        &store::SearchKeys::default(),
    )?;
    Ok(None)
}

/// The guarantee's balance, once it is known to be the agent's.
fn guarantee_for_debit(tx: &Connection, d: &GuaranteeDebit) -> Result<i64, Fault> {
    let found: Option<(String, i64)> = tx
        .prepare_cached("SELECT agent_code, balance_fen FROM guarantees WHERE assure_code = ?1")?
        .query_row([&d.assure_code], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((agent, balance)) = found else {
        return Err(not_found(format!("guarantee {}", d.assure_code)));
    };
    if agent != d.agent_code {
        return Err(conflict(format!(
            "guarantee {} of another agent",
            d.assure_code
        )));
    }
    Ok(balance)
}

pub(crate) fn record_document(tx: &Connection, d: &CebDocumentRow, seq: u64) -> Result<(), Fault> {
    let sql = "INSERT INTO ceb_documents (guid, kind, app_type, sender_code, ebp_code, order_no, \
         logistics_code, logistics_no, document, message_digest, received_at_ms, recorded_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![
            d.guid,
            d.kind,
            d.app_type,
            d.sender_code,
            d.ebp_code,
            d.order_no,
            d.logistics_code,
            d.logistics_no,
            d.document,
            d.message_digest,
            d.received_at_ms,
            seq
        ])
        .map_err(|err| match crate::fault::taken_columns(&err) {
            Some(_) => conflict(format!("CEB document {}", d.guid)),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) fn list_waiting(tx: &Connection, l: &InventoryListRow, seq: u64) -> Result<(), Fault> {
    let sql = "INSERT INTO inventory_lists (id, ebp_code, order_no, logistics_code, logistics_no, \
         agent_code, status, deadline_ms, declaration_id, reason, created_seq, status_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'waiting', ?7, NULL, NULL, ?8, ?8)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![
            l.id,
            l.ebp_code,
            l.order_no,
            l.logistics_code,
            l.logistics_no,
            l.agent_code,
            l.deadline_ms,
            seq
        ])
        .map_err(|err| match crate::fault::taken_columns(&err) {
            Some(_) => conflict(format!("inventory list {}", l.id)),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) fn change_list(
    tx: &Connection,
    id: &str,
    change: &InventoryListChange,
    seq: u64,
) -> Result<(), Fault> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM inventory_lists WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    let Some(status) = status else {
        return Err(not_found(format!("inventory list {id}")));
    };
    let (to, from) = change.transition();
    if !from.contains(&status.as_str()) {
        return Err(conflict(format!("inventory list {id} is {status}")));
    }
    let (declaration_id, reason) = match change {
        InventoryListChange::Accepted { declaration_id } => (Some(declaration_id.as_str()), None),
        InventoryListChange::Refused { reason } => (None, Some(reason.as_str())),
        InventoryListChange::Cancelled
        | InventoryListChange::CancelledWaiting
        | InventoryListChange::Returned => (None, None),
    };
    let sql = "UPDATE inventory_lists SET status = ?2, status_seq = ?3, \
         declaration_id = COALESCE(?4, declaration_id), reason = COALESCE(?5, reason) \
         WHERE id = ?1";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![id, to, seq, declaration_id, reason])?;
    Ok(())
}

pub(crate) fn register_guarantee(
    tx: &Connection,
    assure_code: &str,
    agent_code: &str,
    amount_fen: i64,
    seq: u64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO guarantees (assure_code, agent_code, balance_fen, registered_seq, \
         changed_seq) VALUES (?1, ?2, ?3, ?4, ?4)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![assure_code, agent_code, amount_fen, seq])
        .map_err(|err| match crate::fault::taken_columns(&err) {
            Some(_) => conflict(format!("guarantee {assure_code}")),
            None => err.into(),
        })?;
    movement(
        tx,
        seq,
        assure_code,
        "registered",
        amount_fen,
        None,
        amount_fen,
    )
}

pub(crate) fn top_up_guarantee(
    tx: &Connection,
    assure_code: &str,
    amount_fen: i64,
    seq: u64,
) -> Result<(), Fault> {
    let balance = balance_of(tx, assure_code)?;
    let after = balance.checked_add(amount_fen).ok_or_else(|| {
        refused(format!(
            "guarantee.amount_fen: the balance of guarantee {assure_code} would overflow / \
             guarantee.amount_fen：担保 {assure_code} 的余额将溢出"
        ))
    })?;
    set_balance(tx, assure_code, after, seq)?;
    movement(tx, seq, assure_code, "top_up", amount_fen, None, after)
}

/// The debit's projection: live, after [`debit`] checked it; replayed, from the chain.
pub(crate) fn debit_guarantee(tx: &Connection, d: &GuaranteeDebit, seq: u64) -> Result<(), Fault> {
    let balance = guarantee_for_debit(tx, d)?;
    let after = store::guarantee_balance_after(balance, d.amount_fen).ok_or_else(|| {
        conflict(format!(
            "guarantee {} covers {balance} fen, not {}",
            d.assure_code, d.amount_fen
        ))
    })?;
    set_balance(tx, &d.assure_code, after, seq)?;
    movement(
        tx,
        seq,
        &d.assure_code,
        "debit",
        d.amount_fen,
        Some(&d.debit_ref),
        after,
    )
}

pub(crate) fn release_debit(
    tx: &Connection,
    assure_code: &str,
    debit_ref: &str,
    seq: u64,
) -> Result<(), Fault> {
    let sql = "SELECT kind, amount_fen FROM guarantee_movements \
         WHERE assure_code = ?1 AND debit_ref = ?2";
    let movements: Vec<(String, i64)> = tx
        .prepare_cached(sql)?
        .query_map([assure_code, debit_ref], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let Some(amount) = movements
        .iter()
        .find(|(kind, _)| kind == "debit")
        .map(|(_, amount)| *amount)
    else {
        return Err(not_found(format!(
            "guarantee debit {assure_code}:{debit_ref}"
        )));
    };
    if movements.iter().any(|(kind, _)| kind == "release") {
        return Err(conflict(format!(
            "guarantee debit {assure_code}:{debit_ref} is released"
        )));
    }
    let after = balance_of(tx, assure_code)?
        .checked_add(amount)
        .ok_or_else(|| {
            refused(format!(
                "guarantee {assure_code}: the balance would overflow"
            ))
        })?;
    set_balance(tx, assure_code, after, seq)?;
    movement(
        tx,
        seq,
        assure_code,
        "release",
        amount,
        Some(debit_ref),
        after,
    )
}

fn balance_of(tx: &Connection, assure_code: &str) -> Result<i64, Fault> {
    tx.prepare_cached("SELECT balance_fen FROM guarantees WHERE assure_code = ?1")?
        .query_row([assure_code], |row| row.get(0))
        .optional()?
        .ok_or_else(|| not_found(format!("guarantee {assure_code}")))
}

fn set_balance(tx: &Connection, assure_code: &str, balance: i64, seq: u64) -> Result<(), Fault> {
    tx.prepare_cached(
        "UPDATE guarantees SET balance_fen = ?2, changed_seq = ?3 WHERE assure_code = ?1",
    )?
    .execute(rusqlite::params![assure_code, balance, seq])?;
    Ok(())
}

fn movement(
    tx: &Connection,
    seq: u64,
    assure_code: &str,
    kind: &str,
    amount_fen: i64,
    debit_ref: Option<&str>,
    balance_after_fen: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO guarantee_movements (seq, assure_code, kind, amount_fen, debit_ref, \
         balance_after_fen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![
            seq,
            assure_code,
            kind,
            amount_fen,
            debit_ref,
            balance_after_fen
        ])
        .map_err(|err| match crate::fault::taken_columns(&err) {
            Some(_) => conflict(format!(
                "guarantee debit {assure_code}:{}",
                debit_ref.unwrap_or_default()
            )),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) fn credit_back(
    tx: &Connection,
    order_ref: &str,
    amount_fen: Option<i64>,
    credited_before_fen: Option<i64>,
    seq: u64,
) -> Result<(), Fault> {
    let booked: Option<(String, i32, i64)> = tx
        .prepare_cached("SELECT buyer_id, year, amount_fen FROM cbec_ledger WHERE order_ref = ?1")?
        .query_row([order_ref], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((buyer_id, year, booked_fen)) = booked else {
        return Err(not_found(format!("CBEC order {order_ref}")));
    };
    let credited_fen: i64 = tx
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM cbec_credit_backs WHERE order_ref = ?1",
        )?
        .query_row([order_ref], |row| row.get(0))?;
    // Never more than the booking: all that remains (a cancellation; a second one adds
    // nothing), or a partial return's amount decided on the credit-backs as they stand.
    let amount = store::cbec_credit_back_amount(
        order_ref,
        booked_fen,
        credited_fen,
        amount_fen,
        credited_before_fen,
    )
    .map_err(conflict)?;
    if amount == 0 {
        return Ok(());
    }
    let sql = "INSERT INTO cbec_credit_backs (order_ref, buyer_id, year, amount_fen, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![order_ref, buyer_id, year, amount, seq])?;
    Ok(())
}

pub(crate) fn register_enterprise(
    tx: &Connection,
    e: &CebEnterpriseRow,
    seq: u64,
) -> Result<(), Fault> {
    let by_customs = match &e.customs_code {
        Some(code) => enterprise_id(tx, "customs_code", code)?,
        None => None,
    };
    let by_credit = match &e.credit_code {
        Some(code) => enterprise_id(tx, "credit_code", code)?,
        None => None,
    };
    let id = match (by_customs, by_credit) {
        (Some(a), Some(b)) if a != b => {
            return Err(conflict(format!(
                "CEB enterprise {}",
                e.credit_code.as_deref().unwrap_or_default()
            )));
        }
        (Some(id), _) | (None, Some(id)) => {
            // A code the enterprise lacked is added; one it has is kept (a different one would
            // have found another enterprise or none).
            let sql = "UPDATE ceb_enterprises SET name = ?2, \
                 customs_code = COALESCE(customs_code, ?3), \
                 credit_code = COALESCE(credit_code, ?4) WHERE id = ?1";
            tx.prepare_cached(sql)?
                .execute(rusqlite::params![id, e.name, e.customs_code, e.credit_code])
                .map_err(|err| match crate::fault::taken_columns(&err) {
                    Some(_) => conflict(format!("CEB enterprise {id}")),
                    None => err.into(),
                })?;
            let (customs, credit): (Option<String>, Option<String>) = tx
                .prepare_cached(
                    "SELECT customs_code, credit_code FROM ceb_enterprises WHERE id = ?1",
                )?
                .query_row([&id], |row| Ok((row.get(0)?, row.get(1)?)))?;
            if (e.customs_code.is_some() && customs != e.customs_code)
                || (e.credit_code.is_some() && credit != e.credit_code)
            {
                return Err(conflict(format!("CEB enterprise {id}")));
            }
            id
        }
        (None, None) => {
            let id = e
                .customs_code
                .clone()
                .or_else(|| e.credit_code.clone())
                .unwrap_or_default();
            let sql = "INSERT INTO ceb_enterprises (id, customs_code, credit_code, name, \
                 registered_seq) VALUES (?1, ?2, ?3, ?4, ?5)";
            tx.prepare_cached(sql)?
                .execute(rusqlite::params![
                    id,
                    e.customs_code,
                    e.credit_code,
                    e.name,
                    seq
                ])
                .map_err(|err| match crate::fault::taken_columns(&err) {
                    Some(_) => conflict(format!("CEB enterprise {id}")),
                    None => err.into(),
                })?;
            id
        }
    };
    let sql = "INSERT INTO ceb_enterprise_roles (enterprise_id, role, granted_seq) \
         VALUES (?1, ?2, ?3) ON CONFLICT (enterprise_id, role) DO NOTHING";
    for role in &e.roles {
        tx.prepare_cached(sql)?
            .execute(rusqlite::params![id, role, seq])?;
    }
    Ok(())
}

fn enterprise_id(tx: &Connection, column: &str, code: &str) -> rusqlite::Result<Option<String>> {
    let sql = match column {
        "customs_code" => "SELECT id FROM ceb_enterprises WHERE customs_code = ?1",
        _ => "SELECT id FROM ceb_enterprises WHERE credit_code = ?1",
    };
    tx.prepare_cached(sql)?
        .query_row([code], |row| row.get(0))
        .optional()
}

/// The enterprise's id, found by either code.
fn enterprise_by_code(conn: &Connection, code: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT id FROM ceb_enterprises WHERE customs_code = ?1 OR credit_code = ?1 \
         ORDER BY id LIMIT 1",
    )?
    .query_row([code], |row| row.get(0))
    .optional()
}

pub(crate) fn add_certificate(
    tx: &Connection,
    enterprise_code: &str,
    c: &CebCertificateRow,
    seq: u64,
) -> Result<(), Fault> {
    let Some(id) = enterprise_by_code(tx, enterprise_code)? else {
        return Err(not_found(format!("CEB enterprise {enterprise_code}")));
    };
    let sql = "INSERT INTO ceb_certificates (enterprise_id, serial_number, der, added_seq) \
         VALUES (?1, ?2, ?3, ?4)";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![id, c.serial_number, c.der, seq])
        .map_err(|err| match crate::fault::taken_columns(&err) {
            Some(_) => conflict(format!(
                "certificate {} of {enterprise_code}",
                c.serial_number
            )),
            None => err.into(),
        })?;
    Ok(())
}

// Reads.

const DOCUMENT_COLUMNS: &str = "guid, kind, app_type, sender_code, ebp_code, order_no, \
     logistics_code, logistics_no, document, message_digest, received_at_ms, recorded_seq";

fn document(row: &Row<'_>) -> rusqlite::Result<CebDocumentRow> {
    Ok(CebDocumentRow {
        guid: row.get(0)?,
        kind: row.get(1)?,
        app_type: row.get(2)?,
        sender_code: row.get(3)?,
        ebp_code: row.get(4)?,
        order_no: row.get(5)?,
        logistics_code: row.get(6)?,
        logistics_no: row.get(7)?,
        document: row.get(8)?,
        message_digest: row.get(9)?,
        received_at_ms: row.get(10)?,
        recorded_seq: Some(row.get(11)?),
    })
}

pub(crate) fn ceb_document(
    conn: &Connection,
    guid: &str,
) -> anyhow::Result<Option<CebDocumentRow>> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM ceb_documents WHERE guid = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([guid], document)
        .optional()?)
}

/// The latest version of each kind for the key, unless it deletes the document.
fn in_force(
    conn: &Connection,
    key_sql: &str,
    a: &str,
    b: &str,
) -> anyhow::Result<Vec<CebDocumentRow>> {
    let sql = format!(
        "SELECT {DOCUMENT_COLUMNS} FROM ceb_documents d WHERE {key_sql} \
         AND recorded_seq = (SELECT MAX(recorded_seq) FROM ceb_documents l \
             WHERE l.kind = d.kind AND {}) AND app_type <> 3",
        key_sql.replace("d.", "l.")
    );
    let mut found: Vec<CebDocumentRow> = conn
        .prepare_cached(&sql)?
        .query_map([a, b], document)?
        .collect::<rusqlite::Result<_>>()?;
    found.sort_by_key(|d| store::CEB_DOCUMENT_KINDS.iter().position(|k| *k == d.kind));
    Ok(found)
}

pub(crate) fn documents_for_order(
    conn: &Connection,
    ebp_code: &str,
    order_no: &str,
) -> anyhow::Result<Vec<CebDocumentRow>> {
    in_force(
        conn,
        "d.ebp_code = ?1 AND d.order_no = ?2",
        ebp_code,
        order_no,
    )
}

pub(crate) fn waybill(
    conn: &Connection,
    logistics_code: &str,
    logistics_no: &str,
) -> anyhow::Result<Option<CebDocumentRow>> {
    Ok(in_force(
        conn,
        "d.logistics_code = ?1 AND d.logistics_no = ?2",
        logistics_code,
        logistics_no,
    )?
    .into_iter()
    .find(|d| d.kind == "waybill"))
}

const LIST_COLUMNS: &str = "id, ebp_code, order_no, logistics_code, logistics_no, agent_code, \
     status, deadline_ms, declaration_id, reason, created_seq, status_seq";

fn list(row: &Row<'_>) -> rusqlite::Result<InventoryListRow> {
    Ok(InventoryListRow {
        id: row.get(0)?,
        ebp_code: row.get(1)?,
        order_no: row.get(2)?,
        logistics_code: row.get(3)?,
        logistics_no: row.get(4)?,
        agent_code: row.get(5)?,
        status: row.get(6)?,
        deadline_ms: row.get(7)?,
        declaration_id: row.get(8)?,
        reason: row.get(9)?,
        created_seq: Some(row.get(10)?),
        status_seq: Some(row.get(11)?),
    })
}

pub(crate) fn inventory_list(
    conn: &Connection,
    id: &str,
) -> anyhow::Result<Option<InventoryListRow>> {
    let sql = format!("SELECT {LIST_COLUMNS} FROM inventory_lists WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], list)
        .optional()?)
}

pub(crate) fn lists_waiting(
    conn: &Connection,
    key: &CebKey,
) -> anyhow::Result<Vec<InventoryListRow>> {
    let (key_sql, a, b) = match key {
        CebKey::Order { ebp_code, order_no } => {
            ("ebp_code = ?1 AND order_no = ?2", ebp_code, order_no)
        }
        CebKey::Waybill {
            logistics_code,
            logistics_no,
        } => (
            "logistics_code = ?1 AND logistics_no = ?2",
            logistics_code,
            logistics_no,
        ),
    };
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM inventory_lists WHERE status = 'waiting' AND {key_sql} \
         ORDER BY created_seq LIMIT {}",
        store::INVENTORY_LISTS_LISTED_MAX
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map([a, b], list)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn expired_waiting(
    conn: &Connection,
    now_ms: i64,
    limit: usize,
) -> anyhow::Result<Vec<InventoryListRow>> {
    let limit = limit.min(store::INVENTORY_LISTS_LISTED_MAX) as i64;
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM inventory_lists WHERE status = 'waiting' \
         AND deadline_ms < ?1 ORDER BY deadline_ms, created_seq LIMIT ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params![now_ms, limit], list)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn guarantee(
    conn: &Connection,
    assure_code: &str,
) -> anyhow::Result<Option<GuaranteeRow>> {
    let sql = "SELECT assure_code, agent_code, balance_fen, registered_seq, changed_seq \
         FROM guarantees WHERE assure_code = ?1";
    Ok(conn
        .prepare_cached(sql)?
        .query_row([assure_code], |row| {
            Ok(GuaranteeRow {
                assure_code: row.get(0)?,
                agent_code: row.get(1)?,
                balance_fen: row.get(2)?,
                registered_seq: row.get(3)?,
                changed_seq: row.get(4)?,
            })
        })
        .optional()?)
}

pub(crate) fn registration(
    conn: &Connection,
    code: &str,
) -> anyhow::Result<Option<CebRegistration>> {
    let Some(id) = enterprise_by_code(conn, code)? else {
        return Ok(None);
    };
    let (customs_code, credit_code, name, registered_seq) = conn
        .prepare_cached(
            "SELECT customs_code, credit_code, name, registered_seq FROM ceb_enterprises \
             WHERE id = ?1",
        )?
        .query_row([&id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, u64>(3)?))
        })?;
    let roles: Vec<String> = conn
        .prepare_cached("SELECT role FROM ceb_enterprise_roles WHERE enterprise_id = ?1")?
        .query_map([&id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let certificate = conn
        .prepare_cached(
            "SELECT serial_number, der, added_seq FROM ceb_certificates WHERE enterprise_id = ?1 \
             ORDER BY added_seq DESC LIMIT 1",
        )?
        .query_row([&id], |row| {
            Ok(CebCertificateRow {
                serial_number: row.get(0)?,
                der: row.get(1)?,
                added_seq: Some(row.get(2)?),
            })
        })
        .optional()?;
    let certificates_kept: u64 = conn
        .prepare_cached("SELECT count(*) FROM ceb_certificates WHERE enterprise_id = ?1")?
        .query_row([&id], |row| row.get(0))?;
    Ok(Some(CebRegistration {
        enterprise: CebEnterpriseRow {
            customs_code,
            credit_code,
            name,
            roles: store::ordered_roles(roles.iter().map(String::as_str)),
            registered_seq: Some(registered_seq),
        },
        certificate,
        certificates_kept,
    }))
}
