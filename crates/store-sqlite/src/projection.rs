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
    DeclarationRow, DeclarationUpdate, EnterpriseRow, Projection, ReleaseFileRow, ReleaseRow,
    RiskRuleRow, SearchKey, SearchKeys, StoreError, TaskRow, TokenRow, UserRow, WatchEntryRow,
};

use crate::ecommerce;
use crate::fault::{Fault, conflict, not_found, taken_columns};

/// Whether a projection is applied by the writer, or replayed from the chain to rebuild the
/// tables ([`crate::replay`]): a replayed projection lacks the contents kept once beside the
/// chain (a document, a file, an attachment's bytes), so the checks on them are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Live,
    Replay,
}

/// Applies the projection change of the event `seq`, which is already inserted.
/// `keys`: the search keys of the declarations the append writes, read before the write
/// ([`store::SearchKeys`]).
pub(crate) fn apply(
    tx: &Connection,
    projection: &Projection,
    seq: u64,
    keys: &SearchKeys,
) -> Result<(), Fault> {
    apply_in(tx, projection, seq, Mode::Live, Some(keys))
}

/// `keys`: as for [`apply`]; `None` (a replay) reads a declaration's keys from its stored
/// document with SQL, as migration 0008 does.
pub(crate) fn apply_in(
    tx: &Connection,
    projection: &Projection,
    seq: u64,
    mode: Mode,
    keys: Option<&SearchKeys>,
) -> Result<(), Fault> {
    let live = mode == Mode::Live;
    if let Some(message) = store::new_row_refusal(projection, live) {
        return Err(refused(message));
    }
    match projection {
        Projection::NewDeclaration(row) => {
            lodge_declaration(tx, row, seq, live, keys.and_then(|k| k.of(&row.id)))
        }
        Projection::UpdateDeclaration(update) => {
            let keys = keys.and_then(|k| k.of(&update.id));
            update_declaration(tx, update, seq, live, keys)
        }
        Projection::NewEnterprise(enterprise) => register_enterprise(tx, enterprise),
        Projection::NewUser(user) => register_user(tx, user),
        Projection::NewToken(token) => issue_token(tx, token),
        Projection::RevokeToken { token_hash } => revoke_token(tx, token_hash, seq),
        Projection::RevokeUserTokens { user_id } => revoke_user_tokens(tx, user_id, seq),
        Projection::DisableUser { user_id } => disable_user(tx, user_id, seq),
        Projection::SetPassword {
            user_id,
            password_hash,
        } => set_password(tx, user_id, password_hash),
        Projection::BrokerAuthorisation {
            broker_enterprise_id,
            principal_enterprise_id,
        } => authorise_broker(tx, broker_enterprise_id, principal_enterprise_id),
        Projection::WithdrawBrokerAuthorisation {
            broker_enterprise_id,
            principal_enterprise_id,
        } => withdraw_broker(tx, broker_enterprise_id, principal_enterprise_id),
        Projection::NewRelease { release, files } => import_release(tx, release, files, seq),
        Projection::ActivateRelease { id, effective_from } => {
            activate_release(tx, id, effective_from, seq)
        }
        Projection::RollBackRelease { id } => roll_back_release(tx, id, seq),
        Projection::ProposeRule(rule) => propose_rule(tx, rule, seq),
        Projection::ApproveRule {
            id,
            version,
            approver,
        } => approve_rule(tx, id, *version, approver, seq),
        Projection::RetireRule { id, version } => retire_rule(tx, id, *version, seq),
        Projection::OriginProofUses {
            declaration_id,
            proof_keys,
        } => record_origin_proof_uses(tx, declaration_id, proof_keys, seq),
        Projection::NewTask(task) => open_task(tx, task, seq),
        Projection::CloseTask { id, outcome } => close_task(tx, id, outcome, seq),
        Projection::ReassignTask { id, to } => reassign_task(tx, id, to),
        Projection::AddWatchEntry(entry) => add_watch_entry(tx, entry, seq),
        Projection::RemoveWatchEntry { id, by } => remove_watch_entry(tx, id, by, seq),
        Projection::ApproveWatchEntry { id, approver } => {
            approve_watch_entry(tx, id, approver, seq)
        }
        Projection::ImportHistory { batch, text } => import_history(tx, batch, text, seq),
        Projection::NewRiskModel { model, bytes } => new_risk_model(tx, model, bytes, seq),
        Projection::PromoteRiskModel { id, promoted_by } => {
            promote_risk_model(tx, id, promoted_by, seq)
        }
        Projection::RollBackRiskModel => roll_back_risk_model(tx, seq),
        Projection::AddAttachment {
            attachment,
            content,
        } => add_attachment(tx, attachment, content, seq),
        Projection::SetDuty { officer, office } => set_duty(tx, officer, office.as_deref(), seq),
        Projection::SetCreditLevel { credit_code, level } => {
            set_credit_level(tx, credit_code, level, seq)
        }
        Projection::SaveDraft(draft) => save_draft(tx, draft, seq),
        Projection::DiscardDraft { id } => discard_draft(tx, id),
        Projection::AddDocument { document, content } => add_document(tx, document, content, seq),
        Projection::Nothing => Ok(()),
        Projection::CebDocument(document) => ecommerce::record_document(tx, document, seq),
        Projection::InventoryListWaiting(list) => ecommerce::list_waiting(tx, list, seq),
        Projection::InventoryListChange { id, change } => {
            ecommerce::change_list(tx, id, change, seq)
        }
        Projection::RegisterGuarantee {
            assure_code,
            agent_code,
            amount_fen,
        } => ecommerce::register_guarantee(tx, assure_code, agent_code, *amount_fen, seq),
        Projection::TopUpGuarantee {
            assure_code,
            amount_fen,
        } => ecommerce::top_up_guarantee(tx, assure_code, *amount_fen, seq),
        Projection::DebitGuarantee(debit) => ecommerce::debit_guarantee(tx, debit, seq),
        Projection::ReleaseGuaranteeDebit {
            assure_code,
            debit_ref,
        } => ecommerce::release_debit(tx, assure_code, debit_ref, seq),
        Projection::CbecCreditBack {
            order_ref,
            amount_fen,
            credited_before_fen,
        } => ecommerce::credit_back(tx, order_ref, *amount_fen, *credited_before_fen, seq),
        Projection::RegisterCebEnterprise(enterprise) => {
            ecommerce::register_enterprise(tx, enterprise, seq)
        }
        Projection::AddCebCertificate {
            enterprise_code,
            certificate,
        } => ecommerce::add_certificate(tx, enterprise_code, certificate, seq),
    }
}

fn save_draft(tx: &Connection, d: &store::DraftRow, seq: u64) -> Result<(), Fault> {
    let owner: Option<String> = tx
        .prepare_cached("SELECT enterprise_id FROM console_drafts WHERE id = ?1")?
        .query_row([&d.id], |row| row.get(0))
        .optional()?;
    if owner.is_some_and(|owner| owner != d.enterprise_id) {
        return Err(conflict(format!("draft {}", d.id)));
    }
    let sql = "INSERT INTO console_drafts (id, enterprise_id, title, body, saved_by, saved_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
         body = excluded.body, saved_by = excluded.saved_by, saved_seq = excluded.saved_seq";
    tx.prepare_cached(sql)?.execute(rusqlite::params![
        d.id,
        d.enterprise_id,
        d.title,
        d.body,
        d.saved_by,
        seq as i64
    ])?;
    Ok(())
}

fn discard_draft(tx: &Connection, id: &str) -> Result<(), Fault> {
    let deleted = tx
        .prepare_cached("DELETE FROM console_drafts WHERE id = ?1")?
        .execute([id])?;
    if deleted == 0 {
        return Err(not_found(format!("draft {id}")));
    }
    Ok(())
}

fn add_document(
    tx: &Connection,
    d: &store::DocumentRow,
    content: &[u8],
    seq: u64,
) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM declarations WHERE id = ?1",
        &d.declaration_id,
        "declaration",
    )?;
    let sql = "INSERT INTO declaration_documents (declaration_id, digest, kind, file_name, \
         media_type, size, added_by, added_seq, content) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    let values = rusqlite::params![
        d.declaration_id,
        d.digest,
        d.kind,
        d.file_name,
        d.media_type,
        d.size as i64,
        d.added_by,
        seq as i64,
        content
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("document {}", d.digest)),
            None => err.into(),
        })?;
    Ok(())
}

/// `d.document` is not stored: the lodging event `seq` carries it (see [`check_carried_document`]).
fn lodge_declaration(
    tx: &Connection,
    d: &DeclarationRow,
    seq: u64,
    live: bool,
    keys: Option<&[SearchKey]>,
) -> Result<(), Fault> {
    if live && cfg!(debug_assertions) {
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
    let row = tx.last_insert_rowid();
    match keys {
        Some(keys) => insert_search_keys(tx, row, keys),
        None => index_for_search(tx, &d.id, false),
    }
}

/// Writes keys read before the write ([`store::SearchKeys`]) for the declaration at `row`.
fn insert_search_keys(tx: &Connection, row: i64, keys: &[SearchKey]) -> Result<(), Fault> {
    let sql = "INSERT OR IGNORE INTO declaration_search (declaration_row, kind, value) \
         VALUES (?1, ?2, ?3)";
    let mut insert = tx.prepare_cached(sql)?;
    for key in keys {
        insert.execute(rusqlite::params![row, key.kind, key.value])?;
    }
    Ok(())
}

/// The search keys of the declaration's document in force (see migration 0008, which writes the
/// same keys for the declarations stored before it): the old keys deleted, the document's written,
/// read from the event `document_seq` names (in a replay, the stored log's).
/// `replacing`: an amendment's document replaces keys already written; a new declaration has none,
/// so its lodging skips the delete.
fn index_for_search(tx: &Connection, id: &str, replacing: bool) -> Result<(), Fault> {
    let delete = "DELETE FROM declaration_search WHERE declaration_row = \
         (SELECT row FROM declarations WHERE id = ?1)";
    if replacing {
        tx.prepare_cached(delete)?.execute([id])?;
    }
    let insert = "INSERT OR IGNORE INTO declaration_search (declaration_row, kind, value) \
         SELECT declaration_row, kind, value FROM ( \
         SELECT d.row AS declaration_row, 'bill_of_lading' AS kind, \
         json_extract(e.payload, '$.declaration.transport.document.number') AS value \
         FROM declarations d JOIN events e ON e.seq = d.document_seq WHERE d.id = ?1 \
         UNION ALL SELECT d.row, 'invoice', json_extract(e.payload, '$.declaration.invoice.number') \
         FROM declarations d JOIN events e ON e.seq = d.document_seq WHERE d.id = ?1 \
         UNION ALL SELECT d.row, 'trader_name', json_extract(e.payload, '$.declaration.trader.name') \
         FROM declarations d JOIN events e ON e.seq = d.document_seq WHERE d.id = ?1 \
         UNION ALL SELECT d.row, 'commodity_code', json_extract(i.value, '$.commodity_code') \
         FROM declarations d JOIN events e ON e.seq = d.document_seq, \
         json_each(e.payload, '$.declaration.items') i WHERE d.id = ?1 \
         UNION ALL SELECT d.row, 'container', c.value \
         FROM declarations d JOIN events e ON e.seq = d.document_seq, \
         json_each(e.payload, '$.declaration.transport.containers') c WHERE d.id = ?1) \
         WHERE typeof(value) = 'text' AND value <> ''";
    tx.prepare_cached(insert)?.execute([id])?;
    Ok(())
}

fn update_declaration(
    tx: &Connection,
    u: &DeclarationUpdate,
    seq: u64,
    live: bool,
    keys: Option<&[SearchKey]>,
) -> Result<(), Fault> {
    if live && u.replaces_document && cfg!(debug_assertions) {
        check_carried_document(tx, seq, None)?;
    }
    // Only an amendment moves the document to its own event; a `None` completing declaration
    // leaves the stored one: an update that only changes the status must not un-complete a summary.
    let document_seq = u.replaces_document.then_some(seq);
    let sql = "UPDATE declarations SET status = ?2, version = ?3, updated_at_ms = ?4, \
         completed_by = COALESCE(?5, completed_by), document_seq = COALESCE(?6, document_seq), \
         released_at_ms = CASE WHEN ?2 = 'released' AND released_at_ms IS NULL THEN ?4 \
         ELSE released_at_ms END \
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
    if u.replaces_document {
        match keys {
            Some(keys) => {
                let sql = "SELECT row FROM declarations WHERE id = ?1";
                let row: i64 = tx.prepare_cached(sql)?.query_row([&u.id], |r| r.get(0))?;
                let delete = "DELETE FROM declaration_search WHERE declaration_row = ?1";
                tx.prepare_cached(delete)?.execute([row])?;
                insert_search_keys(tx, row, keys)?;
            }
            None => index_for_search(tx, &u.id, true)?,
        }
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
    if u.disabled_seq.is_some() {
        return Err(Fault::Refused(StoreError::Other(anyhow::anyhow!(
            "a new user cannot be disabled already"
        ))));
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
    let sql = "INSERT INTO tokens (id, token_hash, user_id, created_at_ms, expires_at_ms, revoked) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0)";
    tx.prepare_cached(sql)?
        .execute((
            &t.id,
            &t.token_hash,
            &t.user_id,
            t.created_at_ms,
            t.expires_at_ms,
        ))
        .map_err(|err| match taken_columns(&err) {
            // Never echo a token hash into an error message.
            Some(_) => conflict("token".to_owned()),
            None => err.into(),
        })?;
    Ok(())
}

/// Revoking is idempotent: revoking a revoked token changes nothing (it keeps the first
/// revocation's seq) and is not an error.
fn revoke_token(tx: &Connection, token_hash: &str, seq: u64) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM tokens WHERE token_hash = ?1",
        token_hash,
        "token",
    )?;
    let sql = "UPDATE tokens SET revoked = 1, revoked_seq = ?2 \
         WHERE token_hash = ?1 AND revoked_seq IS NULL";
    tx.prepare_cached(sql)?.execute((token_hash, seq as i64))?;
    Ok(())
}

fn revoke_user_tokens(tx: &Connection, user_id: &str, seq: u64) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = ?1", user_id, "user")?;
    let sql = "UPDATE tokens SET revoked = 1, revoked_seq = ?2 \
         WHERE user_id = ?1 AND revoked_seq IS NULL";
    tx.prepare_cached(sql)?.execute((user_id, seq as i64))?;
    Ok(())
}

fn disable_user(tx: &Connection, user_id: &str, seq: u64) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = ?1", user_id, "user")?;
    let sql = "UPDATE users SET disabled_seq = ?2 WHERE id = ?1 AND disabled_seq IS NULL";
    tx.prepare_cached(sql)?.execute((user_id, seq as i64))?;
    Ok(())
}

fn set_password(tx: &Connection, user_id: &str, password_hash: &str) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = ?1", user_id, "user")?;
    let sql = "UPDATE users SET password_hash = ?2 WHERE id = ?1";
    tx.prepare_cached(sql)?.execute((user_id, password_hash))?;
    Ok(())
}

/// The projection keeps authorisations in force only; the events keep every grant and
/// withdrawal. An authorisation granted again after a withdrawal is a new row.
fn withdraw_broker(tx: &Connection, broker: &str, principal: &str) -> Result<(), Fault> {
    let sql = "DELETE FROM broker_authorisations \
         WHERE broker_enterprise_id = ?1 AND principal_enterprise_id = ?2";
    if tx.prepare_cached(sql)?.execute((broker, principal))? == 0 {
        return Err(not_found(format!(
            "authorisation of broker {broker} by {principal}"
        )));
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

/// Inserts a release as imported by the event `seq`, and its files in the order given.
fn import_release(
    tx: &Connection,
    r: &ReleaseRow,
    files: &[ReleaseFileRow],
    seq: u64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO releases (id, kind, label, digest, imported_at_ms, imported_by, \
         status, summary, imported_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    let values = rusqlite::params![
        r.id,
        r.kind,
        r.label,
        r.digest,
        r.imported_at_ms,
        r.imported_by,
        r.status,
        r.summary,
        seq,
    ];
    let inserted = tx.prepare_cached(sql)?.execute(values);
    if let Err(err) = inserted {
        return Err(match taken_columns(&err) {
            Some("releases.id") => conflict(format!("release {}", r.id)),
            Some(_) => {
                let sql = "SELECT id FROM releases WHERE kind = ?1 AND digest = ?2";
                let existing: String = tx
                    .prepare_cached(sql)?
                    .query_row((&r.kind, &r.digest), |row| row.get(0))?;
                conflict(format!("release with digest {} ({existing})", r.digest))
            }
            None => err.into(),
        });
    }
    let sql = "INSERT INTO release_files (release_id, position, name, text) \
         VALUES (?1, ?2, ?3, ?4)";
    let mut insert = tx.prepare_cached(sql)?;
    for (position, file) in (0_i64..).zip(files) {
        insert
            .execute((&r.id, position, &file.name, &file.text))
            .map_err(|err| match taken_columns(&err) {
                Some(_) => conflict(format!("file {} of release {}", file.name, r.id)),
                None => err.into(),
            })?;
    }
    Ok(())
}

/// The status check and the change are one conditional UPDATE in the writer's transaction, so
/// of concurrent activations exactly one finds the release activatable.
fn activate_release(
    tx: &Connection,
    id: &str,
    effective_from: &str,
    seq: u64,
) -> Result<(), Fault> {
    let sql = "UPDATE releases SET status = 'active', effective_from = ?2, activated_seq = ?3, \
         rolled_back_seq = NULL WHERE id = ?1 AND status IN ('imported', 'rolled_back')";
    let changed = tx.prepare_cached(sql)?.execute((id, effective_from, seq))?;
    if changed == 0 {
        return Err(release_refusal(tx, id)?);
    }
    Ok(())
}

fn roll_back_release(tx: &Connection, id: &str, seq: u64) -> Result<(), Fault> {
    let sql = "UPDATE releases SET status = 'rolled_back', rolled_back_seq = ?2 \
         WHERE id = ?1 AND status = 'active'";
    if tx.prepare_cached(sql)?.execute((id, seq))? == 0 {
        return Err(release_refusal(tx, id)?);
    }
    Ok(())
}

fn propose_rule(tx: &Connection, r: &RiskRuleRow, seq: u64) -> Result<(), Fault> {
    let latest: Option<u32> = tx
        .prepare_cached("SELECT MAX(version) FROM risk_rules WHERE id = ?1")?
        .query_row([&r.id], |row| row.get(0))?;
    let expected = latest.map_or(1, |v| v + 1);
    if r.version != expected {
        return Err(conflict(format!(
            "rule {} v{} (the next version is v{expected})",
            r.id, r.version
        )));
    }
    let sql = "INSERT INTO risk_rules (id, version, status, definition, author, proposed_at_ms, \
         proposed_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let values = rusqlite::params![
        r.id,
        r.version,
        r.status,
        r.definition,
        r.author,
        r.proposed_at_ms,
        seq
    ];
    tx.prepare_cached(sql)?.execute(values)?;
    Ok(())
}

fn approve_rule(
    tx: &Connection,
    id: &str,
    version: u32,
    approver: &str,
    seq: u64,
) -> Result<(), Fault> {
    let found: Option<(String, String)> = tx
        .prepare_cached("SELECT status, author FROM risk_rules WHERE id = ?1 AND version = ?2")?
        .query_row((id, version), |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((status, author)) = found else {
        return Err(not_found(format!("rule {id} v{version}")));
    };
    if status != "proposed" {
        return Err(conflict(format!("rule {id} v{version} is {status}")));
    }
    if author == approver {
        return Err(conflict(format!(
            "rule {id} v{version}: its author cannot approve it"
        )));
    }
    let sql = "UPDATE risk_rules SET status = 'superseded', ended_seq = ?2 \
         WHERE id = ?1 AND status = 'active'";
    tx.prepare_cached(sql)?.execute((id, seq))?;
    let sql = "UPDATE risk_rules SET status = 'active', approved_by = ?3, approved_seq = ?4 \
         WHERE id = ?1 AND version = ?2";
    tx.prepare_cached(sql)?
        .execute(rusqlite::params![id, version, approver, seq])?;
    Ok(())
}

fn retire_rule(tx: &Connection, id: &str, version: u32, seq: u64) -> Result<(), Fault> {
    let sql = "UPDATE risk_rules SET status = 'retired', ended_seq = ?3 \
         WHERE id = ?1 AND version = ?2 AND status = 'active'";
    if tx.prepare_cached(sql)?.execute((id, version, seq))? == 0 {
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM risk_rules WHERE id = ?1 AND version = ?2")?
            .query_row((id, version), |row| row.get(0))
            .optional()?;
        return Err(match status {
            None => not_found(format!("rule {id} v{version}")),
            Some(status) => conflict(format!("rule {id} v{version} is {status}")),
        });
    }
    Ok(())
}

fn open_task(tx: &Connection, t: &TaskRow, seq: u64) -> Result<(), Fault> {
    let sql = "INSERT INTO inspection_tasks (id, declaration_id, kind, office, assigned_to, \
         status, created_at_ms, created_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    let values = rusqlite::params![
        t.id,
        t.declaration_id,
        t.kind,
        t.office,
        t.assigned_to,
        t.status,
        t.created_at_ms,
        seq,
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("task {}", t.id)),
            None => err.into(),
        })?;
    Ok(())
}

/// The status check and the change are one conditional UPDATE in the writer's transaction, so
/// of concurrent closings exactly one finds the task open.
fn close_task(tx: &Connection, id: &str, outcome: &str, seq: u64) -> Result<(), Fault> {
    let sql = "UPDATE inspection_tasks SET status = 'closed', closed_seq = ?2, outcome = ?3 \
         WHERE id = ?1 AND status = 'open'";
    if tx.prepare_cached(sql)?.execute((id, seq, outcome))? == 0 {
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM inspection_tasks WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        return Err(match status {
            None => not_found(format!("task {id}")),
            Some(status) => conflict(format!("task {id} is {status}")),
        });
    }
    Ok(())
}

fn reassign_task(tx: &Connection, id: &str, to: &str) -> Result<(), Fault> {
    let sql = "UPDATE inspection_tasks SET assigned_to = ?2 WHERE id = ?1 AND status = 'open'";
    if tx.prepare_cached(sql)?.execute((id, to))? == 0 {
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM inspection_tasks WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        return Err(match status {
            None => not_found(format!("task {id}")),
            Some(status) => conflict(format!("task {id} is {status}")),
        });
    }
    Ok(())
}

fn import_history(
    tx: &Connection,
    b: &store::HistoryBatchRow,
    text: &str,
    seq: u64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO history_batches (id, format, label, digest, rows, labelled, \
         first_date, last_date, imported_by, imported_seq, text) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    let values = rusqlite::params![
        b.id,
        b.format,
        b.label,
        b.digest,
        b.rows as i64,
        b.labelled as i64,
        b.first_date,
        b.last_date,
        b.imported_by,
        seq as i64,
        text
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some("history_batches.digest") => conflict(format!("history {}", b.digest)),
            Some(_) => conflict(format!("history batch {}", b.id)),
            None => err.into(),
        })?;
    Ok(())
}

fn new_risk_model(
    tx: &Connection,
    m: &store::RiskModelRow,
    bytes: &[u8],
    seq: u64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO risk_models (id, status, source, author, model_hash, summary, \
         created_seq, bytes) VALUES (?1, 'shadow', ?2, ?3, ?4, ?5, ?6, ?7)";
    let values = rusqlite::params![
        m.id,
        m.source,
        m.author,
        m.model_hash,
        m.summary,
        seq as i64,
        bytes
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("risk model {}", m.id)),
            None => err.into(),
        })?;
    Ok(())
}

/// The model in force leaves and the new one comes in, in the writer's transaction: at most one
/// is ever active (the partial unique index says so too).
fn promote_risk_model(tx: &Connection, id: &str, by: &str, seq: u64) -> Result<(), Fault> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM risk_models WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    match status.as_deref() {
        None => return Err(not_found(format!("risk model {id}"))),
        Some("active") => return Err(conflict(format!("risk model {id} is active"))),
        Some(_) => {}
    }
    tx.prepare_cached(
        "UPDATE risk_models SET status = 'retired', ended_seq = ?1 WHERE status = 'active'",
    )?
    .execute([seq as i64])?;
    tx.prepare_cached(
        "UPDATE risk_models SET status = 'active', promoted_by = ?2, promoted_seq = ?3, \
         ended_seq = NULL WHERE id = ?1",
    )?
    .execute(rusqlite::params![id, by, seq as i64])?;
    Ok(())
}

/// The active model is retired; the model retired last before it (the one it replaced) is
/// active again.
fn roll_back_risk_model(tx: &Connection, seq: u64) -> Result<(), Fault> {
    let active: Option<(String, i64)> = tx
        .prepare_cached("SELECT id, promoted_seq FROM risk_models WHERE status = 'active'")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((active, promoted_seq)) = active else {
        return Err(conflict("no active risk model".to_owned()));
    };
    let previous: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM risk_models WHERE status = 'retired' AND ended_seq = ?1 \
             ORDER BY ended_seq DESC LIMIT 1",
        )?
        .query_row([promoted_seq], |row| row.get(0))
        .optional()?;
    tx.prepare_cached("UPDATE risk_models SET status = 'retired', ended_seq = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![active, seq as i64])?;
    if let Some(previous) = previous {
        tx.prepare_cached(
            "UPDATE risk_models SET status = 'active', ended_seq = NULL WHERE id = ?1",
        )?
        .execute([previous])?;
    }
    Ok(())
}

/// The task's state and the insert are read and written in the writer's transaction, so an
/// attachment never lands on a task closed meanwhile.
fn add_attachment(
    tx: &Connection,
    a: &store::AttachmentRow,
    content: &[u8],
    seq: u64,
) -> Result<(), Fault> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM inspection_tasks WHERE id = ?1")?
        .query_row([&a.task_id], |row| row.get(0))
        .optional()?;
    match status.as_deref() {
        None => return Err(not_found(format!("task {}", a.task_id))),
        Some("open") => {}
        Some(other) => return Err(conflict(format!("task {} is {other}", a.task_id))),
    }
    let sql = "INSERT INTO task_attachments (task_id, digest, file_name, media_type, size, \
         added_by, added_seq, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    let values = rusqlite::params![
        a.task_id,
        a.digest,
        a.file_name,
        a.media_type,
        a.size as i64,
        a.added_by,
        seq as i64,
        content
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("attachment {}", a.digest)),
            None => err.into(),
        })?;
    Ok(())
}

fn add_watch_entry(tx: &Connection, e: &WatchEntryRow, seq: u64) -> Result<(), Fault> {
    let sql = "INSERT INTO watch_entries (id, kind, value, reason_en, reason_zh, action, \
         valid_from, valid_to, added_by, added_at_ms, added_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    let values = rusqlite::params![
        e.id,
        e.kind,
        e.value,
        e.reason_en,
        e.reason_zh,
        e.action,
        e.valid_from,
        e.valid_to,
        e.added_by,
        e.added_at_ms,
        seq,
    ];
    tx.prepare_cached(sql)?
        .execute(values)
        .map_err(|err| match taken_columns(&err) {
            Some(_) => conflict(format!("watch entry {}", e.id)),
            None => err.into(),
        })?;
    Ok(())
}

/// A new row per change; the event's own time is the change's `since_ms`.
fn set_credit_level(
    tx: &Connection,
    credit_code: &str,
    level: &str,
    seq: u64,
) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM enterprises WHERE credit_code = ?1",
        credit_code,
        "enterprise",
    )?;
    let sql = "INSERT INTO enterprise_credit (credit_code, level, since_ms, seq) \
         SELECT ?1, ?2, recorded_at_ms, seq FROM events WHERE seq = ?3";
    tx.prepare_cached(sql)?.execute((credit_code, level, seq))?;
    Ok(())
}

/// A new row per change; the event's own time is the change's `since_ms`.
fn set_duty(tx: &Connection, officer: &str, office: Option<&str>, seq: u64) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM users WHERE id = ?1 AND role = 'officer'",
        officer,
        "officer",
    )?;
    let sql = "INSERT INTO officer_duty (officer, office, since_ms, seq) \
         SELECT ?1, ?2, recorded_at_ms, seq FROM events WHERE seq = ?3";
    tx.prepare_cached(sql)?.execute((officer, office, seq))?;
    Ok(())
}

fn watch_standing(tx: &Connection, id: &str) -> Result<store::WatchStanding, Fault> {
    tx.prepare_cached(
        "SELECT added_by, approved_seq IS NOT NULL, removal_requested_by, \
         removed_seq IS NOT NULL FROM watch_entries WHERE id = ?1",
    )?
    .query_row([id], |row| {
        Ok(store::WatchStanding {
            added_by: row.get(0)?,
            approved: row.get(1)?,
            removal_requested_by: row.get(2)?,
            removed: row.get(3)?,
        })
    })
    .optional()?
    .ok_or_else(|| not_found(format!("watch entry {id}")))
}

/// The columns a watch-list change sets (by whom, by which event).
fn watch_change_sql(change: store::WatchChange) -> &'static str {
    match change {
        store::WatchChange::Approve => {
            "UPDATE watch_entries SET approved_by = ?2, approved_seq = ?3 WHERE id = ?1"
        }
        store::WatchChange::RequestRemoval => {
            "UPDATE watch_entries SET removal_requested_by = ?2, removal_requested_seq = ?3 \
             WHERE id = ?1"
        }
        store::WatchChange::Remove => {
            "UPDATE watch_entries SET removed_by = ?2, removed_seq = ?3 WHERE id = ?1"
        }
    }
}

/// A proposal is withdrawn at once; an entry in force gets a removal request (four eyes).
fn remove_watch_entry(tx: &Connection, id: &str, by: &str, seq: u64) -> Result<(), Fault> {
    let change = watch_standing(tx, id)?
        .removal(id)
        .map_err(Fault::Refused)?;
    tx.prepare_cached(watch_change_sql(change))?
        .execute(rusqlite::params![id, by, seq])?;
    Ok(())
}

/// Approves what awaits approval on an entry: its addition or its removal; never by the analyst
/// who asked for it.
fn approve_watch_entry(tx: &Connection, id: &str, approver: &str, seq: u64) -> Result<(), Fault> {
    let change = watch_standing(tx, id)?
        .approval(id, approver)
        .map_err(Fault::Refused)?;
    tx.prepare_cached(watch_change_sql(change))?
        .execute(rusqlite::params![id, approver, seq])?;
    Ok(())
}

/// Why a release's status could not change: it does not exist, or is in another status.
fn release_refusal(tx: &Connection, id: &str) -> Result<Fault, Fault> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM releases WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    Ok(match status {
        None => not_found(format!("release {id}")),
        Some(status) => conflict(format!("release {id} is {status}")),
    })
}

/// First use wins: a key already recorded keeps its declaration, and is no error.
fn record_origin_proof_uses(
    tx: &Connection,
    declaration_id: &str,
    proof_keys: &[String],
    seq: u64,
) -> Result<(), Fault> {
    if proof_keys.is_empty() {
        return Ok(());
    }
    let sql = "INSERT INTO origin_proof_uses (proof_key, declaration_id, seq) \
         VALUES (?1, ?2, ?3) ON CONFLICT (proof_key) DO NOTHING";
    let mut insert = tx.prepare_cached(sql)?;
    for key in proof_keys {
        insert.execute((key, declaration_id, seq))?;
    }
    Ok(())
}

fn refused(message: String) -> Fault {
    Fault::Refused(StoreError::Other(anyhow::anyhow!(message)))
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
