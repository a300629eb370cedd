//! Applying an event's projection change to the derived tables, in the append's transaction.
//! The same rules as the SQLite store (`store-sqlite/src/projection.rs`), in PostgreSQL's SQL.
//!
//! References are checked explicitly first so the caller is told *what* is missing. Unique
//! violations are mapped from the constraint that fired. Checks whose message needs another
//! query run before the write: PostgreSQL aborts a transaction at its first error.

use deadpool_postgres::Transaction;
use store::{
    DeclarationRow, DeclarationUpdate, EnterpriseRow, Projection, ReleaseFileRow, ReleaseRow,
    RiskRuleRow, SearchKey, SearchKeys, TaskRow, TokenRow, UserRow, WatchEntryRow,
};

use crate::db::{self, Params};
use crate::ecommerce;
use crate::fault::{Fault, conflict, not_found, refused, taken_constraint};
use crate::rows::i64_of;

/// Whether a projection is applied live, or replayed from the chain ([`crate::replay`]): a
/// replayed projection lacks the contents kept once beside the chain, so checks on them are
/// skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Live,
    Replay,
}

/// `keys`: the search keys of the declarations the append writes, read before the write
/// ([`store::SearchKeys`]).
pub(crate) async fn apply(
    tx: &Transaction<'_>,
    projection: &Projection,
    seq: u64,
    keys: &SearchKeys,
) -> Result<(), Fault> {
    apply_in(tx, projection, seq, Mode::Live, Some(keys)).await
}

/// `keys`: as for [`apply`]; `None` (a replay) reads a declaration's keys from its stored
/// document with SQL, as migration 0004 does.
pub(crate) async fn apply_in(
    tx: &Transaction<'_>,
    projection: &Projection,
    seq: u64,
    mode: Mode,
    keys: Option<&SearchKeys>,
) -> Result<(), Fault> {
    let live = mode == Mode::Live;
    if let Some(message) = store::new_row_refusal(projection, live) {
        return Err(refused(message));
    }
    let seq = i64_of(seq)?;
    match projection {
        Projection::NewDeclaration(row) => {
            let keys = keys.and_then(|k| k.of(&row.id));
            lodge_declaration(tx, row, seq, live, keys).await
        }
        Projection::UpdateDeclaration(update) => {
            let keys = keys.and_then(|k| k.of(&update.id));
            update_declaration(tx, update, seq, live, keys).await
        }
        Projection::NewEnterprise(enterprise) => register_enterprise(tx, enterprise).await,
        Projection::NewUser(user) => register_user(tx, user).await,
        Projection::NewToken(token) => issue_token(tx, token).await,
        Projection::RevokeToken { token_hash } => revoke_token(tx, token_hash, seq).await,
        Projection::RevokeUserTokens { user_id } => revoke_user_tokens(tx, user_id, seq).await,
        Projection::DisableUser { user_id } => disable_user(tx, user_id, seq).await,
        Projection::SetPassword {
            user_id,
            password_hash,
        } => set_password(tx, user_id, password_hash).await,
        Projection::BrokerAuthorisation {
            broker_enterprise_id,
            principal_enterprise_id,
        } => authorise_broker(tx, broker_enterprise_id, principal_enterprise_id).await,
        Projection::WithdrawBrokerAuthorisation {
            broker_enterprise_id,
            principal_enterprise_id,
        } => withdraw_broker(tx, broker_enterprise_id, principal_enterprise_id).await,
        Projection::NewRelease { release, files } => import_release(tx, release, files, seq).await,
        Projection::ActivateRelease { id, effective_from } => {
            activate_release(tx, id, effective_from, seq).await
        }
        Projection::RollBackRelease { id } => roll_back_release(tx, id, seq).await,
        Projection::ProposeRule(rule) => propose_rule(tx, rule, seq).await,
        Projection::ApproveRule {
            id,
            version,
            approver,
        } => approve_rule(tx, id, *version, approver, seq).await,
        Projection::RetireRule { id, version } => retire_rule(tx, id, *version, seq).await,
        Projection::OriginProofUses {
            declaration_id,
            proof_keys,
        } => record_origin_proof_uses(tx, declaration_id, proof_keys, seq).await,
        Projection::NewTask(task) => open_task(tx, task, seq).await,
        Projection::CloseTask { id, outcome } => close_task(tx, id, outcome, seq).await,
        Projection::ReassignTask { id, to } => reassign_task(tx, id, to).await,
        Projection::AddWatchEntry(entry) => add_watch_entry(tx, entry, seq).await,
        Projection::RemoveWatchEntry { id, by } => remove_watch_entry(tx, id, by, seq).await,
        Projection::ApproveWatchEntry { id, approver } => {
            approve_watch_entry(tx, id, approver, seq).await
        }
        Projection::ImportHistory { batch, text } => import_history(tx, batch, text, seq).await,
        Projection::NewRiskModel { model, bytes } => new_risk_model(tx, model, bytes, seq).await,
        Projection::PromoteRiskModel { id, promoted_by } => {
            promote_risk_model(tx, id, promoted_by, seq).await
        }
        Projection::RollBackRiskModel => roll_back_risk_model(tx, seq).await,
        Projection::AddAttachment {
            attachment,
            content,
        } => add_attachment(tx, attachment, content, seq).await,
        Projection::SetDuty { officer, office } => {
            set_duty(tx, officer, office.as_deref(), seq).await
        }
        Projection::SetCreditLevel { credit_code, level } => {
            set_credit_level(tx, credit_code, level, seq).await
        }
        Projection::SaveDraft(draft) => save_draft(tx, draft, seq).await,
        Projection::DiscardDraft { id } => discard_draft(tx, id).await,
        Projection::AddDocument { document, content } => {
            add_document(tx, document, content, seq).await
        }
        Projection::Nothing => Ok(()),
        Projection::CebDocument(document) => ecommerce::record_document(tx, document, seq).await,
        Projection::InventoryListWaiting(list) => ecommerce::list_waiting(tx, list, seq).await,
        Projection::InventoryListChange { id, change } => {
            ecommerce::change_list(tx, id, change, seq).await
        }
        Projection::RegisterGuarantee {
            assure_code,
            agent_code,
            amount_fen,
        } => ecommerce::register_guarantee(tx, assure_code, agent_code, *amount_fen, seq).await,
        Projection::TopUpGuarantee {
            assure_code,
            amount_fen,
        } => ecommerce::top_up_guarantee(tx, assure_code, *amount_fen, seq).await,
        Projection::DebitGuarantee(debit) => ecommerce::debit_guarantee(tx, debit, seq).await,
        Projection::ReleaseGuaranteeDebit {
            assure_code,
            debit_ref,
        } => ecommerce::release_debit(tx, assure_code, debit_ref, seq).await,
        Projection::CbecCreditBack {
            order_ref,
            amount_fen,
            credited_before_fen,
        } => ecommerce::credit_back(tx, order_ref, *amount_fen, *credited_before_fen, seq).await,
        Projection::RegisterCebEnterprise(enterprise) => {
            ecommerce::register_enterprise(tx, enterprise, seq).await
        }
        Projection::AddCebCertificate {
            enterprise_code,
            certificate,
        } => ecommerce::add_certificate(tx, enterprise_code, certificate, seq).await,
    }
}

/// Executes `sql`, mapping a unique violation to `Conflict(what(constraint))`.
async fn insert(
    tx: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
    what: impl Fn(&str) -> String,
) -> Result<u64, Fault> {
    db::execute(tx, sql, params)
        .await
        .map_err(|err| match taken_constraint(&err) {
            Some(constraint) => conflict(what(constraint)),
            None => err.into(),
        })
}

/// Refuses with `NotFound("<what> <id>")` unless `exists_sql` finds the row.
async fn require(
    tx: &Transaction<'_>,
    exists_sql: &str,
    id: &str,
    what: &str,
) -> Result<(), Fault> {
    match db::query_opt(tx, exists_sql, &[&id]).await? {
        Some(_) => Ok(()),
        None => Err(not_found(format!("{what} {id}"))),
    }
}

/// The text of the first column of the row `sql` finds with `id`, if any.
async fn text_of(
    tx: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<String>, Fault> {
    match db::query_opt(tx, sql, params).await? {
        Some(row) => Ok(Some(row.try_get(0).map_err(anyhow::Error::from)?)),
        None => Ok(None),
    }
}

fn size_of(size: u64) -> Result<i64, Fault> {
    Ok(i64_of(size)?)
}

async fn save_draft(tx: &Transaction<'_>, d: &store::DraftRow, seq: i64) -> Result<(), Fault> {
    let owner = text_of(
        tx,
        "SELECT enterprise_id FROM console_drafts WHERE id = $1",
        &[&d.id],
    )
    .await?;
    if owner.is_some_and(|owner| owner != d.enterprise_id) {
        return Err(conflict(format!("draft {}", d.id)));
    }
    let sql = "INSERT INTO console_drafts (id, enterprise_id, title, body, saved_by, saved_seq) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
         body = excluded.body, saved_by = excluded.saved_by, saved_seq = excluded.saved_seq";
    db::execute(
        tx,
        sql,
        &[
            &d.id,
            &d.enterprise_id,
            &d.title,
            &d.body,
            &d.saved_by,
            &seq,
        ],
    )
    .await?;
    Ok(())
}

async fn discard_draft(tx: &Transaction<'_>, id: &str) -> Result<(), Fault> {
    if db::execute(tx, "DELETE FROM console_drafts WHERE id = $1", &[&id]).await? == 0 {
        return Err(not_found(format!("draft {id}")));
    }
    Ok(())
}

async fn add_document(
    tx: &Transaction<'_>,
    d: &store::DocumentRow,
    content: &[u8],
    seq: i64,
) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM declarations WHERE id = $1",
        &d.declaration_id,
        "declaration",
    )
    .await?;
    let sql = "INSERT INTO declaration_documents (declaration_id, digest, kind, file_name, \
         media_type, size, added_by, added_seq, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let size = size_of(d.size)?;
    let values: Params<'_> = &[
        &d.declaration_id,
        &d.digest,
        &d.kind,
        &d.file_name,
        &d.media_type,
        &size,
        &d.added_by,
        &seq,
        &content,
    ];
    insert(tx, sql, values, |_| format!("document {}", d.digest)).await?;
    Ok(())
}

async fn lodge_declaration(
    tx: &Transaction<'_>,
    d: &DeclarationRow,
    seq: i64,
    live: bool,
    keys: Option<&[SearchKey]>,
) -> Result<(), Fault> {
    if live {
        check_carried_document(tx, seq, Some(d)).await?;
    }
    let sql = "INSERT INTO declarations (row, id, number, direction, kind, status, \
         office_of_lodging, trader_credit_code, declarant_credit_code, summary_number, \
         completed_by, lodged_at_ms, updated_at_ms, version, document_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $1)";
    let version = i64::from(d.version);
    let values: Params<'_> = &[
        &seq,
        &d.id,
        &d.number,
        &d.direction,
        &d.kind,
        &d.status,
        &d.office_of_lodging,
        &d.trader_credit_code,
        &d.declarant_credit_code,
        &d.summary_number,
        &d.completed_by,
        &d.lodged_at_ms,
        &d.updated_at_ms,
        &version,
    ];
    insert(tx, sql, values, |constraint| match constraint {
        "declarations_number_key" => format!("declaration number {}", d.number),
        _ => format!("declaration {}", d.id),
    })
    .await?;
    match keys {
        Some(keys) => insert_search_keys(tx, &d.id, keys).await,
        None => index_for_search(tx, &d.id, false).await,
    }
}

/// Writes keys read before the write ([`store::SearchKeys`]) for the declaration `id`, in one
/// statement.
async fn insert_search_keys(
    tx: &Transaction<'_>,
    id: &str,
    keys: &[SearchKey],
) -> Result<(), Fault> {
    if keys.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = keys.iter().map(|k| k.kind).collect();
    let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    let sql = "INSERT INTO declaration_search (declaration_row, kind, value) \
         SELECT d.row, k.kind, k.value FROM declarations d, \
         UNNEST($2::text[], $3::text[]) AS k (kind, value) WHERE d.id = $1 \
         ON CONFLICT DO NOTHING";
    db::execute(tx, sql, &[&id, &kinds, &values]).await?;
    Ok(())
}

/// The search keys of the declaration's document in force (see migration 0004, which writes the
/// same keys for the declarations stored before it): the old keys deleted, the document's written,
/// read from the event `document_seq` names (in a replay, onto the twins from the stored log).
/// `replacing`: an amendment's document replaces keys already written; a new declaration has none,
/// so its lodging skips the delete.
async fn index_for_search(tx: &Transaction<'_>, id: &str, replacing: bool) -> Result<(), Fault> {
    let delete = "DELETE FROM declaration_search WHERE declaration_row = \
         (SELECT row FROM declarations WHERE id = $1)";
    if replacing {
        db::execute(tx, delete, &[&id]).await?;
    }
    let insert = "INSERT INTO declaration_search (declaration_row, kind, value) \
         SELECT d.row, k.kind, k.value FROM declarations d \
         JOIN events e ON e.row = d.document_seq \
         CROSS JOIN LATERAL (SELECT e.payload::jsonb -> 'declaration' AS doc) p \
         CROSS JOIN LATERAL ( \
         SELECT 'bill_of_lading' AS kind, p.doc #>> '{transport,document,number}' AS value \
         UNION ALL SELECT 'invoice', p.doc #>> '{invoice,number}' \
         UNION ALL SELECT 'trader_name', p.doc #>> '{trader,name}' \
         UNION ALL SELECT 'commodity_code', i ->> 'commodity_code' \
         FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.doc -> 'items') = 'array' \
         THEN p.doc -> 'items' ELSE '[]'::jsonb END) i \
         UNION ALL SELECT 'container', c \
         FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p.doc #> '{transport,containers}') \
         = 'array' THEN p.doc #> '{transport,containers}' ELSE '[]'::jsonb END) c) k \
         WHERE d.id = $1 AND k.value IS NOT NULL AND k.value <> '' \
         ON CONFLICT DO NOTHING";
    db::execute(tx, insert, &[&id]).await?;
    Ok(())
}

async fn update_declaration(
    tx: &Transaction<'_>,
    u: &DeclarationUpdate,
    seq: i64,
    live: bool,
    keys: Option<&[SearchKey]>,
) -> Result<(), Fault> {
    if live && u.replaces_document {
        check_carried_document(tx, seq, None).await?;
    }
    let document_seq = u.replaces_document.then_some(seq);
    let sql = "UPDATE declarations SET status = $2, version = $3, updated_at_ms = $4, \
         completed_by = COALESCE($5, completed_by), document_seq = COALESCE($6, document_seq), \
         released_at_ms = CASE WHEN $2 = 'released' AND released_at_ms IS NULL THEN $4 \
         ELSE released_at_ms END \
         WHERE id = $1";
    let version = i64::from(u.version);
    let values: Params<'_> = &[
        &u.id,
        &u.status,
        &version,
        &u.updated_at_ms,
        &u.completed_by,
        &document_seq,
    ];
    if db::execute(tx, sql, values).await? == 0 {
        return Err(not_found(format!("declaration {}", u.id)));
    }
    if u.replaces_document {
        match keys {
            Some(keys) => {
                let delete = "DELETE FROM declaration_search WHERE declaration_row = \
                     (SELECT row FROM declarations WHERE id = $1)";
                db::execute(tx, delete, &[&u.id]).await?;
                insert_search_keys(tx, &u.id, keys).await?;
            }
            None => index_for_search(tx, &u.id, true).await?,
        }
    }
    Ok(())
}

async fn register_enterprise(tx: &Transaction<'_>, e: &EnterpriseRow) -> Result<(), Fault> {
    let sql =
        "INSERT INTO enterprises (id, credit_code, customs_code, name) VALUES ($1, $2, $3, $4)";
    insert(
        tx,
        sql,
        &[&e.id, &e.credit_code, &e.customs_code, &e.name],
        |constraint| match constraint {
            "enterprises_credit_code_key" => format!("credit code {}", e.credit_code),
            _ => format!("enterprise {}", e.id),
        },
    )
    .await?;
    Ok(())
}

async fn register_user(tx: &Transaction<'_>, u: &UserRow) -> Result<(), Fault> {
    if let Some(enterprise_id) = &u.enterprise_id {
        require(
            tx,
            "SELECT 1 FROM enterprises WHERE id = $1",
            enterprise_id,
            "enterprise",
        )
        .await?;
    }
    if u.disabled_seq.is_some() {
        return Err(refused("a new user cannot be disabled already".to_owned()));
    }
    let sql = "INSERT INTO users (id, name, role, enterprise_id) VALUES ($1, $2, $3, $4)";
    insert(
        tx,
        sql,
        &[&u.id, &u.name, &u.role, &u.enterprise_id],
        |constraint| match constraint {
            "users_name_key" => format!("user name {}", u.name),
            _ => format!("user {}", u.id),
        },
    )
    .await?;
    Ok(())
}

async fn issue_token(tx: &Transaction<'_>, t: &TokenRow) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = $1", &t.user_id, "user").await?;
    let sql = "INSERT INTO tokens (id, token_hash, user_id, created_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $5)";
    let values: Params<'_> = &[
        &t.id,
        &t.token_hash,
        &t.user_id,
        &t.created_at_ms,
        &t.expires_at_ms,
    ];
    // Never echo a token hash into an error message.
    insert(tx, sql, values, |_| "token".to_owned()).await?;
    Ok(())
}

async fn revoke_token(tx: &Transaction<'_>, token_hash: &str, seq: i64) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM tokens WHERE token_hash = $1",
        token_hash,
        "token",
    )
    .await?;
    let sql = "UPDATE tokens SET revoked_seq = $2 WHERE token_hash = $1 AND revoked_seq IS NULL";
    db::execute(tx, sql, &[&token_hash, &seq]).await?;
    Ok(())
}

async fn revoke_user_tokens(tx: &Transaction<'_>, user_id: &str, seq: i64) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = $1", user_id, "user").await?;
    let sql = "UPDATE tokens SET revoked_seq = $2 WHERE user_id = $1 AND revoked_seq IS NULL";
    db::execute(tx, sql, &[&user_id, &seq]).await?;
    Ok(())
}

async fn disable_user(tx: &Transaction<'_>, user_id: &str, seq: i64) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = $1", user_id, "user").await?;
    let sql = "UPDATE users SET disabled_seq = $2 WHERE id = $1 AND disabled_seq IS NULL";
    db::execute(tx, sql, &[&user_id, &seq]).await?;
    Ok(())
}

async fn set_password(
    tx: &Transaction<'_>,
    user_id: &str,
    password_hash: &str,
) -> Result<(), Fault> {
    require(tx, "SELECT 1 FROM users WHERE id = $1", user_id, "user").await?;
    db::execute(
        tx,
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &password_hash],
    )
    .await?;
    Ok(())
}

async fn withdraw_broker(tx: &Transaction<'_>, broker: &str, principal: &str) -> Result<(), Fault> {
    let sql = "DELETE FROM broker_authorisations \
         WHERE broker_enterprise_id = $1 AND principal_enterprise_id = $2";
    if db::execute(tx, sql, &[&broker, &principal]).await? == 0 {
        return Err(not_found(format!(
            "authorisation of broker {broker} by {principal}"
        )));
    }
    Ok(())
}

async fn authorise_broker(
    tx: &Transaction<'_>,
    broker: &str,
    principal: &str,
) -> Result<(), Fault> {
    let exists = "SELECT 1 FROM enterprises WHERE id = $1";
    require(tx, exists, broker, "broker enterprise").await?;
    require(tx, exists, principal, "principal enterprise").await?;
    let sql = "INSERT INTO broker_authorisations (broker_enterprise_id, principal_enterprise_id) \
         VALUES ($1, $2)";
    insert(tx, sql, &[&broker, &principal], |_| {
        format!("authorisation of broker {broker} by {principal}")
    })
    .await?;
    Ok(())
}

async fn import_release(
    tx: &Transaction<'_>,
    r: &ReleaseRow,
    files: &[ReleaseFileRow],
    seq: i64,
) -> Result<(), Fault> {
    if text_of(tx, "SELECT id FROM releases WHERE id = $1", &[&r.id])
        .await?
        .is_some()
    {
        return Err(conflict(format!("release {}", r.id)));
    }
    let sql = "SELECT id FROM releases WHERE kind = $1 AND digest = $2";
    if let Some(existing) = text_of(tx, sql, &[&r.kind, &r.digest]).await? {
        return Err(conflict(format!(
            "release with digest {} ({existing})",
            r.digest
        )));
    }
    let sql = "INSERT INTO releases (id, kind, label, digest, imported_at_ms, imported_by, \
         status, summary, imported_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let values: Params<'_> = &[
        &r.id,
        &r.kind,
        &r.label,
        &r.digest,
        &r.imported_at_ms,
        &r.imported_by,
        &r.status,
        &r.summary,
        &seq,
    ];
    insert(tx, sql, values, |_| format!("release {}", r.id)).await?;
    let sql =
        "INSERT INTO release_files (release_id, position, name, text) VALUES ($1, $2, $3, $4)";
    for (position, file) in (0_i64..).zip(files) {
        insert(tx, sql, &[&r.id, &position, &file.name, &file.text], |_| {
            format!("file {} of release {}", file.name, r.id)
        })
        .await?;
    }
    Ok(())
}

/// The status check and the change are one conditional UPDATE, so of concurrent activations
/// exactly one finds the release activatable.
async fn activate_release(
    tx: &Transaction<'_>,
    id: &str,
    effective_from: &str,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "UPDATE releases SET status = 'active', effective_from = $2, activated_seq = $3, \
         rolled_back_seq = NULL WHERE id = $1 AND status IN ('imported', 'rolled_back')";
    if db::execute(tx, sql, &[&id, &effective_from, &seq]).await? == 0 {
        return Err(status_refusal(
            tx,
            "release",
            "SELECT status FROM releases WHERE id = $1",
            id,
        )
        .await?);
    }
    Ok(())
}

async fn roll_back_release(tx: &Transaction<'_>, id: &str, seq: i64) -> Result<(), Fault> {
    let sql = "UPDATE releases SET status = 'rolled_back', rolled_back_seq = $2 \
         WHERE id = $1 AND status = 'active'";
    if db::execute(tx, sql, &[&id, &seq]).await? == 0 {
        return Err(status_refusal(
            tx,
            "release",
            "SELECT status FROM releases WHERE id = $1",
            id,
        )
        .await?);
    }
    Ok(())
}

/// Why a status could not change: no such row (`NotFound("<what> <id>")`), or another status
/// (`Conflict("<what> <id> is <status>")`).
async fn status_refusal(
    tx: &Transaction<'_>,
    what: &str,
    status_sql: &str,
    id: &str,
) -> Result<Fault, Fault> {
    Ok(match text_of(tx, status_sql, &[&id]).await? {
        None => not_found(format!("{what} {id}")),
        Some(status) => conflict(format!("{what} {id} is {status}")),
    })
}

async fn propose_rule(tx: &Transaction<'_>, r: &RiskRuleRow, seq: i64) -> Result<(), Fault> {
    let row = db::query_one(
        tx,
        "SELECT MAX(version) FROM risk_rules WHERE id = $1",
        &[&r.id],
    )
    .await?;
    let latest: Option<i64> = row.try_get(0).map_err(anyhow::Error::from)?;
    let expected = latest.map_or(1, |v| v + 1);
    if i64::from(r.version) != expected {
        return Err(conflict(format!(
            "rule {} v{} (the next version is v{expected})",
            r.id, r.version
        )));
    }
    let sql = "INSERT INTO risk_rules (id, version, status, definition, author, proposed_at_ms, \
         proposed_seq) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let version = i64::from(r.version);
    let values: Params<'_> = &[
        &r.id,
        &version,
        &r.status,
        &r.definition,
        &r.author,
        &r.proposed_at_ms,
        &seq,
    ];
    insert(tx, sql, values, |_| format!("rule {} v{}", r.id, r.version)).await?;
    Ok(())
}

async fn approve_rule(
    tx: &Transaction<'_>,
    id: &str,
    version: u32,
    approver: &str,
    seq: i64,
) -> Result<(), Fault> {
    let version = i64::from(version);
    // Locked: of two approvals (or an approval and a retirement) from two processes, the
    // second sees the first's outcome.
    let sql = "SELECT status, author FROM risk_rules WHERE id = $1 AND version = $2 FOR UPDATE";
    let Some(row) = db::query_opt(tx, sql, &[&id, &version]).await? else {
        return Err(not_found(format!("rule {id} v{version}")));
    };
    let (status, author): (String, String) = (
        row.try_get(0).map_err(anyhow::Error::from)?,
        row.try_get(1).map_err(anyhow::Error::from)?,
    );
    if status != "proposed" {
        return Err(conflict(format!("rule {id} v{version} is {status}")));
    }
    if author == approver {
        return Err(conflict(format!(
            "rule {id} v{version}: its author cannot approve it"
        )));
    }
    let sql = "UPDATE risk_rules SET status = 'superseded', ended_seq = $2 \
         WHERE id = $1 AND status = 'active'";
    db::execute(tx, sql, &[&id, &seq]).await?;
    let sql = "UPDATE risk_rules SET status = 'active', approved_by = $3, approved_seq = $4 \
         WHERE id = $1 AND version = $2";
    db::execute(tx, sql, &[&id, &version, &approver, &seq]).await?;
    Ok(())
}

async fn retire_rule(tx: &Transaction<'_>, id: &str, version: u32, seq: i64) -> Result<(), Fault> {
    let version = i64::from(version);
    let sql = "UPDATE risk_rules SET status = 'retired', ended_seq = $3 \
         WHERE id = $1 AND version = $2 AND status = 'active'";
    if db::execute(tx, sql, &[&id, &version, &seq]).await? == 0 {
        let sql = "SELECT status FROM risk_rules WHERE id = $1 AND version = $2";
        return Err(match text_of(tx, sql, &[&id, &version]).await? {
            None => not_found(format!("rule {id} v{version}")),
            Some(status) => conflict(format!("rule {id} v{version} is {status}")),
        });
    }
    Ok(())
}

async fn open_task(tx: &Transaction<'_>, t: &TaskRow, seq: i64) -> Result<(), Fault> {
    let sql = "INSERT INTO inspection_tasks (id, declaration_id, kind, office, assigned_to, \
         status, created_at_ms, created_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let values: Params<'_> = &[
        &t.id,
        &t.declaration_id,
        &t.kind,
        &t.office,
        &t.assigned_to,
        &t.status,
        &t.created_at_ms,
        &seq,
    ];
    insert(tx, sql, values, |_| format!("task {}", t.id)).await?;
    Ok(())
}

const TASK_STATUS: &str = "SELECT status FROM inspection_tasks WHERE id = $1";

/// One conditional UPDATE: of concurrent closings exactly one finds the task open (the second
/// waits for the first's row lock, then re-checks the condition on the committed row).
async fn close_task(tx: &Transaction<'_>, id: &str, outcome: &str, seq: i64) -> Result<(), Fault> {
    let sql = "UPDATE inspection_tasks SET status = 'closed', closed_seq = $2, outcome = $3 \
         WHERE id = $1 AND status = 'open'";
    if db::execute(tx, sql, &[&id, &seq, &outcome]).await? == 0 {
        return Err(status_refusal(tx, "task", TASK_STATUS, id).await?);
    }
    Ok(())
}

async fn reassign_task(tx: &Transaction<'_>, id: &str, to: &str) -> Result<(), Fault> {
    let sql = "UPDATE inspection_tasks SET assigned_to = $2 WHERE id = $1 AND status = 'open'";
    if db::execute(tx, sql, &[&id, &to]).await? == 0 {
        return Err(status_refusal(tx, "task", TASK_STATUS, id).await?);
    }
    Ok(())
}

async fn import_history(
    tx: &Transaction<'_>,
    b: &store::HistoryBatchRow,
    text: &str,
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO history_batches (id, format, label, digest, rows, labelled, \
         first_date, last_date, imported_by, imported_seq, text) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    let (rows, labelled) = (size_of(b.rows)?, size_of(b.labelled)?);
    let values: Params<'_> = &[
        &b.id,
        &b.format,
        &b.label,
        &b.digest,
        &rows,
        &labelled,
        &b.first_date,
        &b.last_date,
        &b.imported_by,
        &seq,
        &text,
    ];
    insert(tx, sql, values, |constraint| match constraint {
        "history_batches_digest_key" => format!("history {}", b.digest),
        _ => format!("history batch {}", b.id),
    })
    .await?;
    Ok(())
}

async fn new_risk_model(
    tx: &Transaction<'_>,
    m: &store::RiskModelRow,
    bytes: &[u8],
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO risk_models (id, status, source, author, model_hash, summary, \
         created_seq, bytes) VALUES ($1, 'shadow', $2, $3, $4, $5, $6, $7)";
    let values: Params<'_> = &[
        &m.id,
        &m.source,
        &m.author,
        &m.model_hash,
        &m.summary,
        &seq,
        &bytes,
    ];
    insert(tx, sql, values, |_| format!("risk model {}", m.id)).await?;
    Ok(())
}

async fn promote_risk_model(
    tx: &Transaction<'_>,
    id: &str,
    by: &str,
    seq: i64,
) -> Result<(), Fault> {
    // Locks the registry's rows: of two concurrent promotions, the second sees the first's.
    let sql = "SELECT status FROM risk_models WHERE id = $1 FOR UPDATE";
    match text_of(tx, sql, &[&id]).await?.as_deref() {
        None => return Err(not_found(format!("risk model {id}"))),
        Some("active") => return Err(conflict(format!("risk model {id} is active"))),
        Some(_) => {}
    }
    let sql = "UPDATE risk_models SET status = 'retired', ended_seq = $1 WHERE status = 'active'";
    db::execute(tx, sql, &[&seq]).await?;
    let sql = "UPDATE risk_models SET status = 'active', promoted_by = $2, promoted_seq = $3, \
         ended_seq = NULL WHERE id = $1";
    db::execute(tx, sql, &[&id, &by, &seq]).await?;
    Ok(())
}

async fn roll_back_risk_model(tx: &Transaction<'_>, seq: i64) -> Result<(), Fault> {
    let sql = "SELECT id, promoted_seq FROM risk_models WHERE status = 'active' FOR UPDATE";
    let Some(row) = db::query_opt(tx, sql, &[]).await? else {
        return Err(conflict("no active risk model".to_owned()));
    };
    let active: String = row.try_get(0).map_err(anyhow::Error::from)?;
    let promoted_seq: Option<i64> = row.try_get(1).map_err(anyhow::Error::from)?;
    let sql = "SELECT id FROM risk_models WHERE status = 'retired' AND ended_seq = $1 \
         ORDER BY ended_seq DESC LIMIT 1";
    let previous = text_of(tx, sql, &[&promoted_seq]).await?;
    let sql = "UPDATE risk_models SET status = 'retired', ended_seq = $2 WHERE id = $1";
    db::execute(tx, sql, &[&active, &seq]).await?;
    if let Some(previous) = previous {
        let sql = "UPDATE risk_models SET status = 'active', ended_seq = NULL WHERE id = $1";
        db::execute(tx, sql, &[&previous]).await?;
    }
    Ok(())
}

/// The task's state is read with a row lock, so an attachment never lands on a task closed
/// meanwhile by another process.
async fn add_attachment(
    tx: &Transaction<'_>,
    a: &store::AttachmentRow,
    content: &[u8],
    seq: i64,
) -> Result<(), Fault> {
    let sql = "SELECT status FROM inspection_tasks WHERE id = $1 FOR SHARE";
    match text_of(tx, sql, &[&a.task_id]).await?.as_deref() {
        None => return Err(not_found(format!("task {}", a.task_id))),
        Some("open") => {}
        Some(other) => return Err(conflict(format!("task {} is {other}", a.task_id))),
    }
    let sql = "INSERT INTO task_attachments (task_id, digest, file_name, media_type, size, \
         added_by, added_seq, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let size = size_of(a.size)?;
    let values: Params<'_> = &[
        &a.task_id,
        &a.digest,
        &a.file_name,
        &a.media_type,
        &size,
        &a.added_by,
        &seq,
        &content,
    ];
    insert(tx, sql, values, |_| format!("attachment {}", a.digest)).await?;
    Ok(())
}

async fn add_watch_entry(tx: &Transaction<'_>, e: &WatchEntryRow, seq: i64) -> Result<(), Fault> {
    let sql = "INSERT INTO watch_entries (id, kind, value, reason_en, reason_zh, action, \
         valid_from, valid_to, added_by, added_at_ms, added_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    let values: Params<'_> = &[
        &e.id,
        &e.kind,
        &e.value,
        &e.reason_en,
        &e.reason_zh,
        &e.action,
        &e.valid_from,
        &e.valid_to,
        &e.added_by,
        &e.added_at_ms,
        &seq,
    ];
    insert(tx, sql, values, |_| format!("watch entry {}", e.id)).await?;
    Ok(())
}

async fn set_credit_level(
    tx: &Transaction<'_>,
    credit_code: &str,
    level: &str,
    seq: i64,
) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM enterprises WHERE credit_code = $1",
        credit_code,
        "enterprise",
    )
    .await?;
    let sql = "INSERT INTO enterprise_credit (credit_code, level, since_ms, seq) \
         SELECT $1, $2, recorded_at_ms, row FROM events WHERE row = $3";
    db::execute(tx, sql, &[&credit_code, &level, &seq]).await?;
    Ok(())
}

async fn set_duty(
    tx: &Transaction<'_>,
    officer: &str,
    office: Option<&str>,
    seq: i64,
) -> Result<(), Fault> {
    require(
        tx,
        "SELECT 1 FROM users WHERE id = $1 AND role = 'officer'",
        officer,
        "officer",
    )
    .await?;
    let sql = "INSERT INTO officer_duty (officer, office, since_ms, seq) \
         SELECT $1, $2, recorded_at_ms, row FROM events WHERE row = $3";
    db::execute(tx, sql, &[&officer, &office, &seq]).await?;
    Ok(())
}

/// The entry's standing, its row locked: four-eyes checks across processes see the latest.
async fn watch_standing(tx: &Transaction<'_>, id: &str) -> Result<store::WatchStanding, Fault> {
    let sql = "SELECT added_by, approved_seq IS NOT NULL, removal_requested_by, \
         removed_seq IS NOT NULL FROM watch_entries WHERE id = $1 FOR UPDATE";
    let row = db::query_opt(tx, sql, &[&id])
        .await?
        .ok_or_else(|| not_found(format!("watch entry {id}")))?;
    let get = |err: tokio_postgres::Error| Fault::Database(err.into());
    Ok(store::WatchStanding {
        added_by: row.try_get(0).map_err(get)?,
        approved: row.try_get(1).map_err(get)?,
        removal_requested_by: row.try_get(2).map_err(get)?,
        removed: row.try_get(3).map_err(get)?,
    })
}

/// The columns a watch-list change sets (by whom, by which event).
fn watch_change_sql(change: store::WatchChange) -> &'static str {
    match change {
        store::WatchChange::Approve => {
            "UPDATE watch_entries SET approved_by = $2, approved_seq = $3 WHERE id = $1"
        }
        store::WatchChange::RequestRemoval => {
            "UPDATE watch_entries SET removal_requested_by = $2, removal_requested_seq = $3 \
             WHERE id = $1"
        }
        store::WatchChange::Remove => {
            "UPDATE watch_entries SET removed_by = $2, removed_seq = $3 WHERE id = $1"
        }
    }
}

async fn remove_watch_entry(
    tx: &Transaction<'_>,
    id: &str,
    by: &str,
    seq: i64,
) -> Result<(), Fault> {
    let change = watch_standing(tx, id)
        .await?
        .removal(id)
        .map_err(Fault::Refused)?;
    db::execute(tx, watch_change_sql(change), &[&id, &by, &seq]).await?;
    Ok(())
}

async fn approve_watch_entry(
    tx: &Transaction<'_>,
    id: &str,
    approver: &str,
    seq: i64,
) -> Result<(), Fault> {
    let change = watch_standing(tx, id)
        .await?
        .approval(id, approver)
        .map_err(Fault::Refused)?;
    db::execute(tx, watch_change_sql(change), &[&id, &approver, &seq]).await?;
    Ok(())
}

/// First use wins: a key already recorded keeps its declaration, and is no error.
async fn record_origin_proof_uses(
    tx: &Transaction<'_>,
    declaration_id: &str,
    proof_keys: &[String],
    seq: i64,
) -> Result<(), Fault> {
    let sql = "INSERT INTO origin_proof_uses (proof_key, declaration_id, seq) \
         VALUES ($1, $2, $3) ON CONFLICT (proof_key) DO NOTHING";
    for key in proof_keys {
        db::execute(tx, sql, &[key, &declaration_id, &seq]).await?;
    }
    Ok(())
}

/// The event `seq` carries a declaration object, and for a lodging exactly the row's document,
/// so a read gives back what the caller appended. Checked in every build (parsing one payload
/// costs little next to a round trip to the database).
async fn check_carried_document(
    tx: &Transaction<'_>,
    seq: i64,
    lodged: Option<&DeclarationRow>,
) -> Result<(), Fault> {
    let payload = text_of(tx, "SELECT payload FROM events WHERE row = $1", &[&seq]).await?;
    let carried = payload.as_deref().and_then(crate::rows::document);
    match (carried, lodged) {
        (None, _) => Err(refused(format!(
            "event {seq} carries no document: its payload has no `declaration` object"
        ))),
        (Some(carried), Some(row)) if carried != row.document => Err(refused(format!(
            "the document of declaration {} is not the `declaration` its event {seq} carries",
            row.id
        ))),
        _ => Ok(()),
    }
}
