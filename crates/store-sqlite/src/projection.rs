//! Applying an event's projection change to the derived tables, inside the event's savepoint.
//!
//! References (an enterprise for a user, a user for a token) are checked explicitly first so the
//! caller is told *what* is missing; a foreign-key failure would not say. Unique violations are
//! mapped from the constraint that fired, so the check costs no extra query.
//!
//! A declaration's document is not copied into `declarations`: the row points (`document_seq`)
//! at the event whose payload carries it, so the writer writes each document once.

use rusqlite::{Connection, OptionalExtension};
use store::{
    DeclarationRow, DeclarationUpdate, EnterpriseRow, Projection, StoreError, TokenRow, UserRow,
};

use crate::fault::{Fault, conflict, not_found, taken_columns};

/// Applies the projection change of the event `seq`, which is already inserted.
pub(crate) fn apply(tx: &Connection, projection: &Projection, seq: u64) -> Result<(), Fault> {
    match projection {
        Projection::NewDeclaration(row) => lodge_declaration(tx, row, seq),
        Projection::UpdateDeclaration(update) => update_declaration(tx, update, seq),
        Projection::NewEnterprise(enterprise) => register_enterprise(tx, enterprise),
        Projection::NewUser(user) => register_user(tx, user),
        Projection::NewToken(token) => issue_token(tx, token),
        Projection::RevokeToken { token_hash } => revoke_token(tx, token_hash),
        Projection::BrokerAuthorisation {
            broker_enterprise_id,
            principal_enterprise_id,
        } => authorise_broker(tx, broker_enterprise_id, principal_enterprise_id),
    }
}

/// `d.document` is not stored: the lodging event `seq` carries it (see [`check_carried_document`]).
fn lodge_declaration(tx: &Connection, d: &DeclarationRow, seq: u64) -> Result<(), Fault> {
    if cfg!(debug_assertions) {
        check_carried_document(tx, seq, Some(d))?;
    }
    let sql = "INSERT INTO declarations (id, number, direction, kind, status, office_of_lodging, \
         trader_credit_code, declarant_credit_code, summary_number, completed_by, lodged_at_ms, \
         updated_at_ms, version, document_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
    let values = rusqlite::params![
        d.id,
        d.number,
        d.direction,
        d.kind,
        d.status,
        d.office_of_lodging,
        d.trader_credit_code,
        d.declarant_credit_code,
        d.summary_number,
        d.completed_by,
        d.lodged_at_ms,
        d.updated_at_ms,
        d.version,
        seq,
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some("declarations.number") => conflict(format!("declaration number {}", d.number)),
            Some(_) => conflict(format!("declaration {}", d.id)),
            None => err.into(),
        })?;
    Ok(())
}

fn update_declaration(tx: &Connection, u: &DeclarationUpdate, seq: u64) -> Result<(), Fault> {
    if u.replaces_document && cfg!(debug_assertions) {
        check_carried_document(tx, seq, None)?;
    }
    // Only an amendment moves the document to its own event; a `None` completing declaration
    // leaves the stored one: an update that only changes the status must not un-complete a summary.
    let document_seq = u.replaces_document.then_some(seq);
    let sql = "UPDATE declarations SET status = ?2, version = ?3, updated_at_ms = ?4, \
         completed_by = COALESCE(?5, completed_by), document_seq = COALESCE(?6, document_seq) \
         WHERE id = ?1";
    let values = rusqlite::params![
        u.id,
        u.status,
        u.version,
        u.updated_at_ms,
        u.completed_by,
        document_seq
    ];
    let changed = tx.prepare_cached(sql)?.execute(values)?;
    if changed == 0 {
        return Err(not_found(format!("declaration {}", u.id)));
    }
    Ok(())
}

fn register_enterprise(tx: &Connection, e: &EnterpriseRow) -> Result<(), Fault> {
    let sql = "INSERT INTO enterprises (id, credit_code, customs_code, name) \
         VALUES (?1, ?2, ?3, ?4)";
    tx.prepare_cached(sql)?
        .execute((&e.id, &e.credit_code, &e.customs_code, &e.name))
        .map_err(|err| match taken_columns(&err) {
            Some("enterprises.credit_code") => conflict(format!("credit code {}", e.credit_code)),
            Some(_) => conflict(format!("enterprise {}", e.id)),
            None => err.into(),
        })?;
    Ok(())
}

fn register_user(tx: &Connection, u: &UserRow) -> Result<(), Fault> {
    if let Some(enterprise_id) = &u.enterprise_id {
        require(
            tx,
            "SELECT 1 FROM enterprises WHERE id = ?1",
            enterprise_id,
            "enterprise",
        )?;
    }
    let sql = "INSERT INTO users (id, name, role, enterprise_id) VALUES (?1, ?2, ?3, ?4)";
    tx.prepare_cached(sql)?
        .execute((&u.id, &u.name, &u.role, &u.enterprise_id))
        .map_err(|err| match taken_columns(&err) {
            Some("users.name") => conflict(format!("user name {}", u.name)),
            Some(_) => conflict(format!("user {}", u.id)),
            None => err.into(),
        })?;
    Ok(())
}

fn issue_token(tx: &Connection, t: &TokenRow) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = ?1", &t.user_id, "user")?;
    let sql = "INSERT INTO tokens (token_hash, user_id, created_at_ms, revoked) \
         VALUES (?1, ?2, ?3, 0)";
    tx.prepare_cached(sql)?
        .execute((&t.token_hash, &t.user_id, t.created_at_ms))
        .map_err(|err| match taken_columns(&err) {
            // Never echo a token hash into an error message.
            Some(_) => conflict("token".to_owned()),
            None => err.into(),
        })?;
    Ok(())
}

/// Revoking is idempotent: revoking a revoked token changes nothing and is not an error.
fn revoke_token(tx: &Connection, token_hash: &str) -> Result<(), Fault> {
    let sql = "UPDATE tokens SET revoked = 1 WHERE token_hash = ?1";
    if tx.prepare_cached(sql)?.execute([token_hash])? == 0 {
        return Err(not_found("token".to_owned()));
    }
    Ok(())
}

fn authorise_broker(tx: &Connection, broker: &str, principal: &str) -> Result<(), Fault> {
    let exists = "SELECT 1 FROM enterprises WHERE id = ?1";
    require(tx, exists, broker, "broker enterprise")?;
    require(tx, exists, principal, "principal enterprise")?;
    let sql = "INSERT INTO broker_authorisations (broker_enterprise_id, principal_enterprise_id) \
         VALUES (?1, ?2)";
    tx.prepare_cached(sql)?
        .execute((broker, principal))
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("authorisation of broker {broker} by {principal}")),
            None => err.into(),
        })?;
    Ok(())
}

/// Refuses with `NotFound("<what> <id>")` unless `exists_sql` finds the row.
fn require(tx: &Connection, exists_sql: &str, id: &str, what: &str) -> Result<(), Fault> {
    let found = tx
        .prepare_cached(exists_sql)?
        .query_row([id], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| not_found(format!("{what} {id}")))
}

/// Debug builds only, as it parses the payload once more on the writer thread: the event `seq`
/// carries a declaration object, and for a lodging exactly the row's document, so a read gives
/// back what the caller appended. A breach is refused (not a panic, which would stop the writer).
fn check_carried_document(
    tx: &Connection,
    seq: u64,
    lodged: Option<&DeclarationRow>,
) -> Result<(), Fault> {
    let sql = "SELECT CASE WHEN json_valid(payload) THEN \
         CASE json_type(payload, '$.declaration') \
         WHEN 'object' THEN json_extract(payload, '$.declaration') END END \
         FROM events WHERE seq = ?1";
    let carried: Option<String> = tx.prepare_cached(sql)?.query_row([seq], |row| row.get(0))?;
    let refuse = |message: String| Err(Fault::Refused(StoreError::Other(anyhow::anyhow!(message))));
    match (carried, lodged) {
        (None, _) => refuse(format!(
            "event {seq} carries no document: its payload has no `declaration` object"
        )),
        (Some(carried), Some(row)) if carried != row.document => refuse(format!(
            "the document of declaration {} is not the `declaration` its event {seq} carries",
            row.id
        )),
        _ => Ok(()),
    }
}
