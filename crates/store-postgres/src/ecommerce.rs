//! Cross-border e-commerce (issue 15): the CEB documents, inventory lists, guarantees, allowance
//! credit-backs and CEB registrations, in the append's transaction; the same rules as the SQLite
//! store (`store-sqlite/src/ecommerce.rs`), in PostgreSQL's SQL.
//!
//! What appends about different subjects (so perhaps on different chains) may both change is
//! locked before any of their events draws its row ([`claims`], taken by
//! `append::lock_shared_claims`): a guarantee, an inventory list, a CEB guid, a registered
//! enterprise, a credited-back order. So the checks below (a balance, a list's state, a guid
//! received) are decided in row order, which is the order the rebuild replays.

use audit::ChainHead;
use deadpool_postgres::{GenericClient, Transaction};
use store::{
    Append, AppendOutcome, CebCertificateRow, CebDocumentRow, CebEnterpriseRow, CebKey,
    CebRegistration, GuaranteeDebit, GuaranteeDebitEvent, GuaranteeRow, InventoryListChange,
    InventoryListRow, Projection,
};
use tokio_postgres::Row;

use crate::append;
use crate::db::{self, Params};
use crate::fault::{Fault, conflict, not_found, refused, taken_constraint};
use crate::rows::{i64_of, u64_at};

/// The claims (kind, key) an append's e-commerce writes make, to be locked in order.
pub(crate) fn claims(append: &Append) -> Vec<(&'static str, &str)> {
    let mut claims = Vec::new();
    if let Some(debit) = &append.guarantee_debit {
        claims.push(("guarantee", debit.assure_code.as_str()));
    }
    for draft in store::event_drafts(append) {
        match draft.projection {
            Projection::CebDocument(d) => claims.push(("ceb-guid", d.guid.as_str())),
            Projection::InventoryListWaiting(l) => claims.push(("inventory-list", l.id.as_str())),
            Projection::InventoryListChange { id, .. } => {
                claims.push(("inventory-list", id.as_str()))
            }
            Projection::RegisterGuarantee { assure_code, .. }
            | Projection::TopUpGuarantee { assure_code, .. }
            | Projection::ReleaseGuaranteeDebit { assure_code, .. } => {
                claims.push(("guarantee", assure_code.as_str()))
            }
            Projection::DebitGuarantee(d) => claims.push(("guarantee", d.assure_code.as_str())),
            // Locked before the chains' heads instead, like a booking's order (see
            // `append::duplicate_of`).
            Projection::CbecCreditBack { .. } => {}
            Projection::RegisterCebEnterprise(e) => {
                claims.extend(
                    e.customs_code
                        .iter()
                        .map(|c| ("ceb-enterprise", c.as_str())),
                );
                claims.extend(e.credit_code.iter().map(|c| ("ceb-enterprise", c.as_str())));
            }
            Projection::AddCebCertificate {
                enterprise_code, ..
            } => claims.push(("ceb-enterprise", enterprise_code.as_str())),
            _ => {}
        }
    }
    claims
}

/// The first event that recorded one of the append's CEB guids, if any (under the guids'
/// locks): the append is then a resent message and writes nothing.
pub(crate) async fn already_received(
    tx: &Transaction<'_>,
    append: &Append,
) -> Result<Option<AppendOutcome>, Fault> {
    for guid in store::ceb_guids(append) {
        let sql = "SELECT recorded_seq FROM ceb_documents WHERE guid = $1";
        if let Some(row) = db::query_opt(tx, sql, &[&guid]).await? {
            return Ok(Some(AppendOutcome::CebDocumentAlready {
                guid: guid.to_owned(),
                seq: u64_at(&row, 0)?,
            }));
        }
    }
    Ok(None)
}

/// Debits `d` after `head` (its chain's) as its own event, or answers `GuaranteeExhausted`
/// having written nothing. The guarantee is locked already (a claim).
pub(crate) async fn debit(
    tx: &Transaction<'_>,
    append: &Append,
    d: &GuaranteeDebit,
    chain: i16,
    head: &mut ChainHead,
) -> Result<Option<AppendOutcome>, Fault> {
    if let Some(message) = store::guarantee_debit_refusal(d) {
        return Err(refused(message));
    }
    let balance = guarantee_for_debit(tx, d).await?;
    let Some(after) = store::guarantee_balance_after(balance, d.amount_fen) else {
        return Ok(Some(AppendOutcome::GuaranteeExhausted {
            balance_fen: balance,
            needed_fen: d.amount_fen,
        }));
    };
    if debit_exists(tx, d).await? {
        return Err(conflict(format!(
            "guarantee debit {}",
            store::guarantee_debit_key(d)
        )));
    }
    let debit = GuaranteeDebitEvent::new(d, after)
        .map_err(|err| Fault::Database(anyhow::anyhow!("recording a projection: {err}")))?;
    let event = debit.event(&append.actor, append.recorded_at_ms);
    let row = append::insert_event(tx, &event, chain, head).await?;
    // A debit writes no declaration, so it has no search keys.
    crate::projection::apply(tx, &debit.projection, row, &store::SearchKeys::default()).await?;
    Ok(None)
}

async fn debit_exists(tx: &Transaction<'_>, d: &GuaranteeDebit) -> Result<bool, Fault> {
    let sql = "SELECT 1 FROM guarantee_movements WHERE assure_code = $1 AND debit_ref = $2 \
         AND kind = 'debit'";
    Ok(db::query_opt(tx, sql, &[&d.assure_code, &d.debit_ref])
        .await?
        .is_some())
}

/// The guarantee's balance, once it is known to be the agent's.
async fn guarantee_for_debit(tx: &Transaction<'_>, d: &GuaranteeDebit) -> Result<i64, Fault> {
    let sql = "SELECT agent_code, balance_fen FROM guarantees WHERE assure_code = $1 FOR UPDATE";
    let Some(row) = db::query_opt(tx, sql, &[&d.assure_code]).await? else {
        return Err(not_found(format!("guarantee {}", d.assure_code)));
    };
    let agent: String = row.try_get(0)?;
    if agent != d.agent_code {
        return Err(conflict(format!(
            "guarantee {} of another agent",
            d.assure_code
        )));
    }
    Ok(row.try_get(1)?)
}

pub(crate) async fn record_document(
    tx: &Transaction<'_>,
    d: &CebDocumentRow,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO ceb_documents (guid, kind, app_type, sender_code, ebp_code, order_no, \
         logistics_code, logistics_no, document, message_digest, received_at_ms, recorded_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    let app_type = i16::from(d.app_type);
    let values: Params<'_> = &[
        &d.guid,
        &d.kind,
        &app_type,
        &d.sender_code,
        &d.ebp_code,
        &d.order_no,
        &d.logistics_code,
        &d.logistics_no,
        &d.document,
        &d.message_digest,
        &d.received_at_ms,
        &seq,
    ];
    db::execute(tx, sql, values)
        .await
        .map_err(|err| match taken_constraint(&err) {
            Some(_) => conflict(format!("CEB document {}", d.guid)),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) async fn list_waiting(
    tx: &Transaction<'_>,
    l: &InventoryListRow,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO inventory_lists (id, ebp_code, order_no, logistics_code, logistics_no, \
         agent_code, status, deadline_ms, declaration_id, reason, created_seq, status_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, NULL, NULL, $8, $8)";
    let values: Params<'_> = &[
        &l.id,
        &l.ebp_code,
        &l.order_no,
        &l.logistics_code,
        &l.logistics_no,
        &l.agent_code,
        &l.deadline_ms,
        &seq,
    ];
    db::execute(tx, sql, values)
        .await
        .map_err(|err| match taken_constraint(&err) {
            Some(_) => conflict(format!("inventory list {}", l.id)),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) async fn change_list(
    tx: &Transaction<'_>,
    id: &str,
    change: &InventoryListChange,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "SELECT status FROM inventory_lists WHERE id = $1 FOR UPDATE";
    let Some(row) = db::query_opt(tx, sql, &[&id]).await? else {
        return Err(not_found(format!("inventory list {id}")));
    };
    let status: String = row.try_get(0)?;
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
    let sql = "UPDATE inventory_lists SET status = $2, status_seq = $3, \
         declaration_id = COALESCE($4, declaration_id), reason = COALESCE($5, reason) \
         WHERE id = $1";
    db::execute(tx, sql, &[&id, &to, &seq, &declaration_id, &reason]).await?;
    Ok(())
}

pub(crate) async fn register_guarantee(
    tx: &Transaction<'_>,
    assure_code: &str,
    agent_code: &str,
    amount_fen: i64,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO guarantees (assure_code, agent_code, balance_fen, registered_seq, \
         changed_seq) VALUES ($1, $2, $3, $4, $4)";
    db::execute(tx, sql, &[&assure_code, &agent_code, &amount_fen, &seq])
        .await
        .map_err(|err| match taken_constraint(&err) {
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
    .await
}

pub(crate) async fn top_up_guarantee(
    tx: &Transaction<'_>,
    assure_code: &str,
    amount_fen: i64,
    seq: i64,
) -> Result<(), Fault> {
    let balance = balance_of(tx, assure_code).await?;
    let after = balance.checked_add(amount_fen).ok_or_else(|| {
        refused(format!(
            "guarantee.amount_fen: the balance of guarantee {assure_code} would overflow / \
             guarantee.amount_fen：担保 {assure_code} 的余额将溢出"
        ))
    })?;
    set_balance(tx, assure_code, after, seq).await?;
    movement(tx, seq, assure_code, "top_up", amount_fen, None, after).await
}

/// The debit's projection: live, after [`debit`] checked it; replayed, from the chain.
pub(crate) async fn debit_guarantee(
    tx: &Transaction<'_>,
    d: &GuaranteeDebit,
    seq: i64,
) -> Result<(), Fault> {
    let balance = guarantee_for_debit(tx, d).await?;
    let after = store::guarantee_balance_after(balance, d.amount_fen).ok_or_else(|| {
        conflict(format!(
            "guarantee {} covers {balance} fen, not {}",
            d.assure_code, d.amount_fen
        ))
    })?;
    if debit_exists(tx, d).await? {
        return Err(conflict(format!(
            "guarantee debit {}",
            store::guarantee_debit_key(d)
        )));
    }
    set_balance(tx, &d.assure_code, after, seq).await?;
    movement(
        tx,
        seq,
        &d.assure_code,
        "debit",
        d.amount_fen,
        Some(&d.debit_ref),
        after,
    )
    .await
}

pub(crate) async fn release_debit(
    tx: &Transaction<'_>,
    assure_code: &str,
    debit_ref: &str,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "SELECT kind, amount_fen FROM guarantee_movements \
         WHERE assure_code = $1 AND debit_ref = $2";
    let movements: Vec<(String, i64)> = db::query(tx, sql, &[&assure_code, &debit_ref])
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
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
    let after = balance_of(tx, assure_code)
        .await?
        .checked_add(amount)
        .ok_or_else(|| {
            refused(format!(
                "guarantee {assure_code}: the balance would overflow"
            ))
        })?;
    set_balance(tx, assure_code, after, seq).await?;
    movement(
        tx,
        seq,
        assure_code,
        "release",
        amount,
        Some(debit_ref),
        after,
    )
    .await
}

async fn balance_of(tx: &Transaction<'_>, assure_code: &str) -> Result<i64, Fault> {
    let sql = "SELECT balance_fen FROM guarantees WHERE assure_code = $1 FOR UPDATE";
    match db::query_opt(tx, sql, &[&assure_code]).await? {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(not_found(format!("guarantee {assure_code}"))),
    }
}

async fn set_balance(
    tx: &Transaction<'_>,
    assure_code: &str,
    balance: i64,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "UPDATE guarantees SET balance_fen = $2, changed_seq = $3 WHERE assure_code = $1";
    db::execute(tx, sql, &[&assure_code, &balance, &seq]).await?;
    Ok(())
}

async fn movement(
    tx: &Transaction<'_>,
    seq: i64,
    assure_code: &str,
    kind: &str,
    amount_fen: i64,
    debit_ref: Option<&str>,
    balance_after_fen: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO guarantee_movements (seq, assure_code, kind, amount_fen, debit_ref, \
         balance_after_fen) VALUES ($1, $2, $3, $4, $5, $6)";
    let values: Params<'_> = &[
        &seq,
        &assure_code,
        &kind,
        &amount_fen,
        &debit_ref,
        &balance_after_fen,
    ];
    db::execute(tx, sql, values)
        .await
        .map_err(|err| match taken_constraint(&err) {
            Some(_) => conflict(format!(
                "guarantee debit {assure_code}:{}",
                debit_ref.unwrap_or_default()
            )),
            None => err.into(),
        })?;
    Ok(())
}

pub(crate) async fn credit_back(
    tx: &Transaction<'_>,
    order_ref: &str,
    amount_fen: Option<i64>,
    credited_before_fen: Option<i64>,
    seq: i64,
) -> Result<(), Fault> {
    // The order is locked (`append::duplicate_of`): its credit-backs are read and added to by
    // one transaction at a time.
    let sql = "SELECT buyer_id, year, amount_fen FROM cbec_ledger WHERE order_ref = $1";
    let Some(row) = db::query_opt(tx, sql, &[&order_ref]).await? else {
        return Err(not_found(format!("CBEC order {order_ref}")));
    };
    let (buyer_id, year, booked_fen): (String, i32, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let sql = "SELECT COALESCE(SUM(amount_fen), 0)::BIGINT FROM cbec_credit_backs \
         WHERE order_ref = $1";
    let credited_fen: i64 = match db::query_opt(tx, sql, &[&order_ref]).await? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
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
         VALUES ($1, $2, $3, $4, $5)";
    db::execute(tx, sql, &[&order_ref, &buyer_id, &year, &amount, &seq]).await?;
    Ok(())
}

pub(crate) async fn register_enterprise(
    tx: &Transaction<'_>,
    e: &CebEnterpriseRow,
    seq: i64,
) -> Result<(), Fault> {
    let by_customs = match &e.customs_code {
        Some(code) => enterprise_id(tx, "customs_code", code).await?,
        None => None,
    };
    let by_credit = match &e.credit_code {
        Some(code) => enterprise_id(tx, "credit_code", code).await?,
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
            let sql = "SELECT customs_code, credit_code FROM ceb_enterprises WHERE id = $1 \
                 FOR UPDATE";
            let row = db::query_one(tx, sql, &[&id]).await?;
            let (customs, credit): (Option<String>, Option<String>) =
                (row.try_get(0)?, row.try_get(1)?);
            // A code the enterprise lacked is added; one it has must be the one given.
            let differs = |had: &Option<String>, given: &Option<String>| {
                had.is_some() && given.is_some() && had != given
            };
            if differs(&customs, &e.customs_code) || differs(&credit, &e.credit_code) {
                return Err(conflict(format!("CEB enterprise {id}")));
            }
            let sql = "UPDATE ceb_enterprises SET name = $2, \
                 customs_code = COALESCE(customs_code, $3), \
                 credit_code = COALESCE(credit_code, $4) WHERE id = $1";
            db::execute(tx, sql, &[&id, &e.name, &e.customs_code, &e.credit_code])
                .await
                .map_err(|err| match taken_constraint(&err) {
                    Some(_) => conflict(format!("CEB enterprise {id}")),
                    None => err.into(),
                })?;
            id
        }
        (None, None) => {
            let id = e
                .customs_code
                .clone()
                .or_else(|| e.credit_code.clone())
                .unwrap_or_default();
            let sql = "INSERT INTO ceb_enterprises (id, customs_code, credit_code, name, \
                 registered_seq) VALUES ($1, $2, $3, $4, $5)";
            db::execute(
                tx,
                sql,
                &[&id, &e.customs_code, &e.credit_code, &e.name, &seq],
            )
            .await
            .map_err(|err| match taken_constraint(&err) {
                Some(_) => conflict(format!("CEB enterprise {id}")),
                None => err.into(),
            })?;
            id
        }
    };
    let sql = "INSERT INTO ceb_enterprise_roles (enterprise_id, role, granted_seq) \
         VALUES ($1, $2, $3) ON CONFLICT (enterprise_id, role) DO NOTHING";
    for role in &e.roles {
        db::execute(tx, sql, &[&id, role, &seq]).await?;
    }
    Ok(())
}

async fn enterprise_id<C: GenericClient>(
    c: &C,
    column: &str,
    code: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = match column {
        "customs_code" => "SELECT id FROM ceb_enterprises WHERE customs_code = $1",
        _ => "SELECT id FROM ceb_enterprises WHERE credit_code = $1",
    };
    db::query_opt(c, sql, &[&code])
        .await?
        .map(|row| row.try_get(0))
        .transpose()
}

/// The enterprise's id, found by either code.
async fn enterprise_by_code<C: GenericClient>(
    c: &C,
    code: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = "SELECT id FROM ceb_enterprises WHERE customs_code = $1 OR credit_code = $1 \
         ORDER BY id LIMIT 1";
    db::query_opt(c, sql, &[&code])
        .await?
        .map(|row| row.try_get(0))
        .transpose()
}

pub(crate) async fn add_certificate(
    tx: &Transaction<'_>,
    enterprise_code: &str,
    c: &CebCertificateRow,
    seq: i64,
) -> Result<(), Fault> {
    let Some(id) = enterprise_by_code(tx, enterprise_code).await? else {
        return Err(not_found(format!("CEB enterprise {enterprise_code}")));
    };
    let sql = "INSERT INTO ceb_certificates (enterprise_id, serial_number, der, added_seq) \
         VALUES ($1, $2, $3, $4)";
    db::execute(tx, sql, &[&id, &c.serial_number, &c.der, &seq])
        .await
        .map_err(|err| match taken_constraint(&err) {
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

fn document(row: &Row) -> anyhow::Result<CebDocumentRow> {
    let app_type: i16 = row.try_get(2)?;
    Ok(CebDocumentRow {
        guid: row.try_get(0)?,
        kind: row.try_get(1)?,
        app_type: u8::try_from(app_type)?,
        sender_code: row.try_get(3)?,
        ebp_code: row.try_get(4)?,
        order_no: row.try_get(5)?,
        logistics_code: row.try_get(6)?,
        logistics_no: row.try_get(7)?,
        document: row.try_get(8)?,
        message_digest: row.try_get(9)?,
        received_at_ms: row.try_get(10)?,
        recorded_seq: Some(u64_at(row, 11)?),
    })
}

pub(crate) async fn ceb_document<C: GenericClient>(
    c: &C,
    guid: &str,
) -> anyhow::Result<Option<CebDocumentRow>> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM ceb_documents WHERE guid = $1");
    db::query_opt(c, &sql, &[&guid])
        .await?
        .as_ref()
        .map(document)
        .transpose()
}

/// The latest version of each kind for the key, unless it deletes the document.
async fn in_force<C: GenericClient>(
    c: &C,
    key_sql: &str,
    a: &str,
    b: &str,
) -> anyhow::Result<Vec<CebDocumentRow>> {
    let sql = format!(
        "SELECT DISTINCT ON (kind) {DOCUMENT_COLUMNS} FROM ceb_documents WHERE {key_sql} \
         ORDER BY kind, recorded_seq DESC"
    );
    let mut found = db::query(c, &sql, &[&a, &b])
        .await?
        .iter()
        .map(document)
        .collect::<anyhow::Result<Vec<_>>>()?;
    found.retain(|d| d.app_type != 3);
    found.sort_by_key(|d| store::CEB_DOCUMENT_KINDS.iter().position(|k| *k == d.kind));
    Ok(found)
}

pub(crate) async fn documents_for_order<C: GenericClient>(
    c: &C,
    ebp_code: &str,
    order_no: &str,
) -> anyhow::Result<Vec<CebDocumentRow>> {
    in_force(c, "ebp_code = $1 AND order_no = $2", ebp_code, order_no).await
}

pub(crate) async fn waybill<C: GenericClient>(
    c: &C,
    logistics_code: &str,
    logistics_no: &str,
) -> anyhow::Result<Option<CebDocumentRow>> {
    Ok(in_force(
        c,
        "logistics_code = $1 AND logistics_no = $2 AND kind = 'waybill'",
        logistics_code,
        logistics_no,
    )
    .await?
    .into_iter()
    .next())
}

const LIST_COLUMNS: &str = "id, ebp_code, order_no, logistics_code, logistics_no, agent_code, \
     status, deadline_ms, declaration_id, reason, created_seq, status_seq";

fn list(row: &Row) -> anyhow::Result<InventoryListRow> {
    Ok(InventoryListRow {
        id: row.try_get(0)?,
        ebp_code: row.try_get(1)?,
        order_no: row.try_get(2)?,
        logistics_code: row.try_get(3)?,
        logistics_no: row.try_get(4)?,
        agent_code: row.try_get(5)?,
        status: row.try_get(6)?,
        deadline_ms: row.try_get(7)?,
        declaration_id: row.try_get(8)?,
        reason: row.try_get(9)?,
        created_seq: Some(u64_at(row, 10)?),
        status_seq: Some(u64_at(row, 11)?),
    })
}

pub(crate) async fn inventory_list<C: GenericClient>(
    c: &C,
    id: &str,
) -> anyhow::Result<Option<InventoryListRow>> {
    let sql = format!("SELECT {LIST_COLUMNS} FROM inventory_lists WHERE id = $1");
    db::query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(list)
        .transpose()
}

pub(crate) async fn lists_waiting<C: GenericClient>(
    c: &C,
    key: &CebKey,
) -> anyhow::Result<Vec<InventoryListRow>> {
    let (key_sql, a, b) = match key {
        CebKey::Order { ebp_code, order_no } => {
            ("ebp_code = $1 AND order_no = $2", ebp_code, order_no)
        }
        CebKey::Waybill {
            logistics_code,
            logistics_no,
        } => (
            "logistics_code = $1 AND logistics_no = $2",
            logistics_code,
            logistics_no,
        ),
    };
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM inventory_lists WHERE status = 'waiting' AND {key_sql} \
         ORDER BY created_seq LIMIT {}",
        store::INVENTORY_LISTS_LISTED_MAX
    );
    db::query(c, &sql, &[a, b])
        .await?
        .iter()
        .map(list)
        .collect()
}

pub(crate) async fn expired_waiting<C: GenericClient>(
    c: &C,
    now_ms: i64,
    limit: usize,
) -> anyhow::Result<Vec<InventoryListRow>> {
    let limit = i64_of(limit.min(store::INVENTORY_LISTS_LISTED_MAX) as u64)?;
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM inventory_lists WHERE status = 'waiting' \
         AND deadline_ms < $1 ORDER BY deadline_ms, created_seq LIMIT $2"
    );
    db::query(c, &sql, &[&now_ms, &limit])
        .await?
        .iter()
        .map(list)
        .collect()
}

pub(crate) async fn guarantee<C: GenericClient>(
    c: &C,
    assure_code: &str,
) -> anyhow::Result<Option<GuaranteeRow>> {
    let sql = "SELECT assure_code, agent_code, balance_fen, registered_seq, changed_seq \
         FROM guarantees WHERE assure_code = $1";
    let Some(row) = db::query_opt(c, sql, &[&assure_code]).await? else {
        return Ok(None);
    };
    Ok(Some(GuaranteeRow {
        assure_code: row.try_get(0)?,
        agent_code: row.try_get(1)?,
        balance_fen: row.try_get(2)?,
        registered_seq: u64_at(&row, 3)?,
        changed_seq: u64_at(&row, 4)?,
    }))
}

pub(crate) async fn registration<C: GenericClient>(
    c: &C,
    code: &str,
) -> anyhow::Result<Option<CebRegistration>> {
    let Some(id) = enterprise_by_code(c, code).await? else {
        return Ok(None);
    };
    let sql = "SELECT customs_code, credit_code, name, registered_seq FROM ceb_enterprises \
         WHERE id = $1";
    let row = db::query_one(c, sql, &[&id]).await?;
    let sql = "SELECT role FROM ceb_enterprise_roles WHERE enterprise_id = $1";
    let roles: Vec<String> = db::query(c, sql, &[&id])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let sql = "SELECT serial_number, der, added_seq FROM ceb_certificates \
         WHERE enterprise_id = $1 ORDER BY added_seq DESC LIMIT 1";
    let certificate = match db::query_opt(c, sql, &[&id]).await? {
        Some(cert) => Some(CebCertificateRow {
            serial_number: cert.try_get(0)?,
            der: cert.try_get(1)?,
            added_seq: Some(u64_at(&cert, 2)?),
        }),
        None => None,
    };
    let sql = "SELECT count(*) FROM ceb_certificates WHERE enterprise_id = $1";
    let certificates_kept = u64_at(&db::query_one(c, sql, &[&id]).await?, 0)?;
    Ok(Some(CebRegistration {
        enterprise: CebEnterpriseRow {
            customs_code: row.try_get(0)?,
            credit_code: row.try_get(1)?,
            name: row.try_get(2)?,
            roles: store::ordered_roles(roles.iter().map(String::as_str)),
            registered_seq: Some(u64_at(&row, 3)?),
        },
        certificate,
        certificates_kept,
    }))
}
