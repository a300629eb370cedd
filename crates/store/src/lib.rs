//! The `Store` trait: what clearance needs from persistence, and nothing about SQL.
//!
//! One embedded implementation (`store-sqlite`) ships now; a PostgreSQL one will satisfy the same
//! trait for scale-out. The trait deals in rows of plain data: documents arrive already encoded
//! (canonical JSON made by `wire`), so a store never needs the domain model to do its job.
//!
//! Invariants every implementation keeps:
//! - `append` is atomic: the event, its audit-chain entry and every projection change commit
//!   together or not at all, and an acknowledged append survives a crash.
//! - The event log is append-only and is the audit chain (or several: [`Store::chain_count`]):
//!   within a chain `seq` is gap-free and each entry's hash covers the previous hash. With one
//!   chain an event's [`EventRow::seq`] is its chain seq; with several it is a global number
//!   that rises but may skip ([`Store::entry_of_event`] finds its chain entry). Projections
//!   (`declarations`, `users`, ...) are derived caches.
//! - A declaration's document is kept once: in the payload of the event that lodged or last
//!   amended it (its `declaration` member). The projection points at that event; it never holds
//!   a second copy that could drift from what the audit chain covers.
//! - An idempotency key is unique within its scope; a second append with it returns the first event.
//! - A CBEC booking ([`Store::book_cbec_purchase`]) checks the buyer's annual total and books the
//!   purchase atomically with every other write: concurrent orders for one buyer never both pass
//!   a check that only one of them fits. Each booking is also an event in the audit chain.
//! - A reference-data release (a tariff release, an exchange-rate table) is imported once: its
//!   files are kept in the store, once (the importing event's payload carries only their digest),
//!   and read back byte for byte. Activating and rolling back are events whose status checks run
//!   in the writer's transaction, so two concurrent activations of one release never both pass.
//! - A proof of origin is used by the first declaration recorded as using it; later uses are
//!   not recorded over it.
//! - A watch-list entry is added once and removed once, by events; it is never deleted, so the
//!   list in force on any past day can be read back.
//! - An enterprise's credit level (企业信用等级) changes by events and every change is kept; the
//!   level in force is the latest.
//! - A token once revoked and a user once disabled stay so (both are events, kept with their seq),
//!   and [`Store::principal_by_token`] never returns either; a broker authorisation withdrawn is
//!   out of the principal's list from the withdrawing transaction on.
//! - An officer's task is opened once and closed once: the check that it is still open runs in
//!   the writer's transaction, so of two concurrent closings only one passes.
//! - A CEB document's guid is recorded once (a resend writes nothing); every version of a
//!   document is kept, the latest of its kind and key in force.
//! - An inventory list changes state by events whose check runs in the writer's transaction: of
//!   two concurrent acceptances of one list only one passes.
//! - A tax guarantee is never overdrawn: a debit ([`Append::guarantee_debit`]) is checked and
//!   written with its lodging in one transaction, serialised with every other movement of the
//!   guarantee (across processes); a debit is released once. Balances are integer fen, checked.
//! - A cancelled or returned CBEC order is credited back to the buyer's allowance once, by an
//!   appended row: the booking is never edited.

use async_trait::async_trait;

mod delivery;
mod ecommerce;
mod search;
mod shared;
pub use delivery::{
    DEAD_LETTERS_LISTED_MAX, DeadLetterRow, DeliveryChange, FeedEvent, FeedWindow, WebhookRow,
};
pub use ecommerce::{
    CEB_CERTIFICATE_DER_BYTES_MAX, CEB_DOCUMENT_JSON_BYTES_MAX, CEB_DOCUMENT_KINDS,
    CEB_KEY_CHARS_MAX, CEB_NAME_CHARS_MAX, CEB_ROLES, CebCertificateRow, CebDocumentRow,
    CebEnterpriseRow, CebKey, CebRegistration, GUARANTEE_DEBITED_ACTION,
    GUARANTEE_IDEMPOTENCY_SCOPE, GUARANTEE_MOVEMENT_FEN_MAX, GuaranteeDebit, GuaranteeDebitEvent,
    GuaranteeRow, INVENTORY_LIST_STATUSES, INVENTORY_LISTS_LISTED_MAX,
    INVENTORY_REASON_JSON_BYTES_MAX, InventoryListChange, InventoryListRow,
    cbec_credit_back_amount, ceb_document_refusal, ceb_guids, ecommerce_refusal,
    guarantee_balance_after, guarantee_debit_key, guarantee_debit_payload, guarantee_debit_refusal,
    guarantee_subject, inventory_list_refusal, ordered_roles,
};
pub use shared::{
    CBEC_BOOKED_ACTION, CBEC_IDEMPOTENCY_SCOPE, CbecLedgerEntry, ChainPosition, CheckpointPolicy,
    EventDraft, NewEvent, WatchChange, WatchStanding, cbec_duplicate, cbec_event,
    cbec_ledger_entry, cbec_payload, cbec_refusal, cbec_subject, cbec_total_after, event_drafts,
    is_iso_date, linked_idempotency_key, new_row_refusal,
};

pub use search::{SEARCH_KINDS, SearchKey, SearchKeys, payload_search_keys, search_keys};

pub use audit::{Checkpoint, StoredEntry};

/// An entry of the whole record as [`Store::record_entries`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The chain the entry is in (0 for a store of one chain).
    pub chain: u16,
    /// The event's global number, the listing's order and cursor (the entry's seq with one chain).
    pub row: u64,
    /// The entry, with its seq in its chain and its hashes.
    pub stored: StoredEntry,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (credit code, user name, number) is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A referenced row (enterprise, user) does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The store is shutting down or its writer stopped; the caller may retry later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Who did something, as recorded with every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub role: String,
}

/// One event to append, with the changes to the projections it implies.
#[derive(Debug, Clone)]
pub struct Append {
    pub actor: Actor,
    pub recorded_at_ms: i64,
    /// The aggregate the event belongs to, e.g. a declaration id.
    pub subject: String,
    /// Event name, e.g. `declaration.accepted`.
    pub action: String,
    /// Unique within `idempotency_scope` (the acting user, or the enterprise it acts for).
    pub idempotency_scope: String,
    pub idempotency_key: String,
    /// SHA-256 (hex) of the request that produced the event, to tell an honest retry from a reused key.
    pub request_digest: String,
    /// Canonical JSON of the event body; the audit chain covers it byte for byte.
    pub payload: String,
    /// Optimistic concurrency: the subject's projection version this event was decided on.
    pub expected_version: Option<u32>,
    pub projection: Projection,
    /// Further events the same change implies, written in the same transaction (a summary declaration
    /// completed by its full declaration). Never nested further.
    pub linked: Vec<LinkedEvent>,
    /// A CBEC purchase to book in the same transaction (a CBEC retail declaration): booked first,
    /// exactly as [`Store::book_cbec_purchase`] would (its own `cbec.purchase_booked` event); if
    /// it does not fit the allowance or its order was booked before, nothing at all is written
    /// and the outcome says so ([`AppendOutcome::CbecLimitExceeded`],
    /// [`AppendOutcome::CbecOrderBooked`]).
    pub cbec_purchase: Option<CbecBooking>,
    /// A debit of the lodging agent's tax guarantee (担保) in the same transaction (a CBEC
    /// inventory list's taxes): written after the CBEC booking, as its own event
    /// (`guarantee.debited`, subject `guarantee:<assure_code>`, projection
    /// [`Projection::DebitGuarantee`]). If the guarantee's balance does not cover it, nothing at
    /// all is written and the outcome says so ([`AppendOutcome::GuaranteeExhausted`]); an
    /// unknown guarantee is `NotFound("guarantee <code>")`, another agent's
    /// `Conflict("guarantee <code> of another agent")`, a reference debited before
    /// `Conflict("guarantee debit <code>:<ref>")`. The check and the debit are serialised with
    /// every other movement of the guarantee, across processes: it is never overdrawn.
    pub guarantee_debit: Option<GuaranteeDebit>,
}

#[derive(Debug, Clone)]
pub struct LinkedEvent {
    /// Who did it, when not the append's actor: the system for what the engine decides by itself
    /// (a selection, a score, a task's draw, an automatic assessment). `None`: the append's actor.
    pub actor: Option<Actor>,
    pub subject: String,
    pub action: String,
    pub payload: String,
    pub expected_version: Option<u32>,
    pub projection: Projection,
}

/// A version of a targeting rule (布控指令) as the store keeps it. The definition is the analyst's
/// rule as JSON made by the caller; the store never interprets it. A version is never edited: a
/// change is a new version, approval and retirement are events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RiskRuleRow {
    pub id: String,
    /// 1 for a new rule, then one more than the latest version of the id.
    pub version: u32,
    /// `proposed` (awaiting a second analyst), `active`, `superseded` (a later version was
    /// approved) or `retired`.
    pub status: String,
    pub definition: String,
    /// The user who proposed this version.
    pub author: String,
    pub proposed_at_ms: i64,
    /// The user who approved it: never the author (four eyes).
    pub approved_by: Option<String>,
    pub approved_seq: Option<u64>,
    /// The event that superseded or retired it.
    pub ended_seq: Option<u64>,
}

/// A trader's record, for targeting: its declarations since a time, and the checks of its
/// declarations that found a discrepancy (ever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraderHistory {
    pub declarations: u64,
    pub discrepancies: u64,
}

/// The change to a derived table that an event implies. A store records it with the event, in
/// the audit chain (serde's JSON of this enum, without the bulky contents marked `skip`, which
/// are kept once beside the chain and vouched for by digests), so the derived tables can be
/// rebuilt from the chain and compared: a new variant or field is recorded without more code.
/// Recorded projections are read back by later builds, so never rename a variant or a field, and
/// give a field added later `#[serde(default)]` (projections recorded before it lack it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Projection {
    /// A declaration lodged by this event. The event's payload must carry the document as its
    /// `declaration` member, byte for byte equal to `row.document` (minified JSON, as `wire`
    /// writes it): a store keeps the document once, in the event (covered by the audit chain),
    /// and does not store `row.document` again.
    NewDeclaration(DeclarationRow),
    /// A change to a stored declaration; see [`DeclarationUpdate::replaces_document`].
    UpdateDeclaration(DeclarationUpdate),
    NewEnterprise(EnterpriseRow),
    NewUser(UserRow),
    /// A token issued by this event. `token.revoked_seq` must be `None`; an id or hash already
    /// taken is `Conflict("token")` (a hash is never echoed).
    NewToken(TokenRow),
    /// Revokes one token: it stops authenticating; revoking a revoked token changes nothing. The
    /// token is kept (with this event's seq), so it is never issued again.
    RevokeToken {
        token_hash: String,
    },
    /// Revokes every token of the user not yet revoked (issued before this event), with this
    /// event's seq. The user must exist (`NotFound("user <id>")`).
    RevokeUserTokens {
        user_id: String,
    },
    /// Disables a user: its tokens stop authenticating, it is drawn for no task and listed by
    /// neither [`Store::users_by_role`] nor [`Store::officers_on_duty`]. Kept with this event's
    /// seq; disabling a disabled user changes nothing. The user must exist.
    DisableUser {
        user_id: String,
    },
    /// Sets (or replaces) a user's password: `password_hash` is its PHC string (salted argon2id,
    /// parameters included), never the password. Recorded in the chain so the table can be
    /// rebuilt from it; the event's payload does not repeat it. The user must exist.
    SetPassword {
        user_id: String,
        password_hash: String,
    },
    BrokerAuthorisation {
        broker_enterprise_id: String,
        principal_enterprise_id: String,
    },
    /// The principal withdrew the broker's authorisation: the broker no longer declares for it
    /// nor sees its declarations (except those it declared itself). An authorisation not in
    /// force is `NotFound("authorisation ...")`.
    WithdrawBrokerAuthorisation {
        broker_enterprise_id: String,
        principal_enterprise_id: String,
    },
    /// A reference-data release imported by this event, with its files (in the order given).
    /// `release.status` must be `imported` and `effective_from`, `activated_seq` and
    /// `rolled_back_seq` must be `None`; anything else is refused. An id already taken is
    /// `Conflict("release <id>")`; a release of the same kind with the same digest is
    /// `Conflict("release with digest <digest> (<existing id>)")`, so the same files are not
    /// imported twice; two files of one release with the same name are
    /// `Conflict("file <name> of release <id>")`. The event's payload should carry the digest,
    /// not the files: the store keeps the files once, here.
    NewRelease {
        release: ReleaseRow,
        files: Vec<ReleaseFileRow>,
    },
    /// Puts a release in force from `effective_from` (`YYYY-MM-DD`): only from status `imported`
    /// or `rolled_back`. Sets the status `active`, `activated_seq` to this event's seq and clears
    /// `rolled_back_seq`. An unknown id is `NotFound("release <id>")`, another status
    /// `Conflict("release <id> is <status>")`, checked in the writer's transaction.
    ActivateRelease {
        id: String,
        effective_from: String,
    },
    /// Takes an `active` release out of force: status `rolled_back`, `rolled_back_seq` this
    /// event's seq (`effective_from` and `activated_seq` are kept). Errors as for activation.
    RollBackRelease {
        id: String,
    },
    /// The declaration used these proofs of origin (keys made by the caller, e.g.
    /// `RCEP:KR:KR-2026-0001`). A key already recorded, by this or another declaration, keeps its
    /// first user and is not an error. An empty list changes nothing, like [`Projection::Nothing`].
    OriginProofUses {
        declaration_id: String,
        proof_keys: Vec<String>,
    },
    /// A new version of a targeting rule, status `proposed` (approval fields empty). Its version
    /// must be 1 for a new id, else exactly one more than the id's latest version; otherwise
    /// `Conflict` (two analysts editing the same rule at once: one of them wins).
    ProposeRule(RiskRuleRow),
    /// Four eyes: a proposed version becomes `active`, approved by someone else than its author
    /// (`Conflict` otherwise, or when it is not proposed; `NotFound` for no such version). The
    /// id's previously active version, if any, becomes `superseded` in the same transaction.
    ApproveRule {
        id: String,
        version: u32,
        approver: String,
    },
    /// An active version is retired (deactivation is an event, never a deletion).
    RetireRule {
        id: String,
        version: u32,
    },
    /// An officer's task created by this event (usually a linked event of the lane's selection).
    /// `task.status` must be `open` and `created_seq`, `closed_seq` and `outcome` must be `None`;
    /// anything else is refused. The store records this event's seq as `created_seq`. An id
    /// already taken is `Conflict("task <id>")`.
    NewTask(TaskRow),
    /// Closes an `open` task with the caller's outcome (JSON, kept as given): status `closed`,
    /// `closed_seq` this event's seq. An unknown id is `NotFound("task <id>")`, a closed task
    /// `Conflict("task <id> is closed")`, checked in the writer's transaction, so of two
    /// concurrent closings exactly one succeeds.
    CloseTask {
        id: String,
        outcome: String,
    },
    /// Gives an `open` task to another officer (a supervisor's reassignment): `assigned_to`
    /// becomes `to`. An unknown id is `NotFound("task <id>")`, a closed task
    /// `Conflict("task <id> is closed")`, checked in the writer's transaction.
    ReassignTask {
        id: String,
        to: String,
    },
    /// A watch-list entry (布控名单) proposed by this event: it does not act until another
    /// analyst approves it ([`Projection::ApproveWatchEntry`]). Every seq and every `*_by` but
    /// `added_by` must be `None` (anything else is refused); the store records this event's seq
    /// as the entry's `added_seq`. An id already taken is `Conflict("watch entry <id>")`.
    AddWatchEntry(WatchEntryRow),
    /// `by` takes an entry off the watch list. A proposed entry (never in force) is withdrawn at
    /// once (`removed_seq` this event's seq, `removed_by` = `by`); an entry in force gets a
    /// removal request (`removal_requested_*`) and stays in force until another analyst
    /// approves the removal. The entry is always kept. An unknown id is
    /// `NotFound("watch entry <id>")`; an entry removed, or with a removal already requested,
    /// `Conflict("watch entry <id> is removed" / "... has a removal awaiting approval")`,
    /// checked in the writer's transaction.
    RemoveWatchEntry {
        id: String,
        by: String,
    },
    /// Four eyes on the watch list: `approver` approves what awaits approval on the entry. A
    /// proposed entry comes into force (`approved_*`); an entry with a removal request is taken
    /// off (`removed_seq` this event's seq, `removed_by` = `approver`). The approver must not
    /// be the analyst who proposed the entry (or requested its removal):
    /// `Conflict("watch entry <id>: ... cannot approve it")`. Nothing awaiting approval is
    /// `Conflict("watch entry <id> has nothing awaiting approval")` or `"... is removed"`; an
    /// unknown id `NotFound("watch entry <id>")`. Checked in the writer's transaction.
    ApproveWatchEntry {
        id: String,
        approver: String,
    },
    /// An enterprise's credit level (企业信用等级) changes to `level`: one of
    /// [`CREDIT_LEVELS`] (anything else is refused as `Other`). The enterprise must exist
    /// (`NotFound("enterprise <credit_code>")`). Every change is kept, with this event's seq; the
    /// latest is the level in force ([`Store::credit_level`]).
    SetCreditLevel {
        credit_code: String,
        level: String,
    },
    /// A batch of labelled past goods items (a history file, e.g. the KCS data) imported by
    /// this event, kept byte for byte. The same digest twice is `Conflict("history <digest>")`,
    /// an id taken `Conflict("history batch <id>")`. `batch.imported_seq` must be `None`.
    ImportHistory {
        batch: HistoryBatchRow,
        // Kept once, in its own table, its digest in the payload: not copied into the chain.
        #[serde(skip)]
        text: String,
    },
    /// A risk model (its bytes) registered by this event in the status `shadow`: scored and
    /// recorded, not acting. `model.status` must be `shadow` and its seqs `None`. An id taken is
    /// `Conflict("risk model <id>")`.
    NewRiskModel {
        model: RiskModelRow,
        // Kept once, in its own table, its digest in the payload: not copied into the chain.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// Puts a `shadow` or `retired` model in force (status `active`, `promoted_by`, `promoted_seq`
    /// this event's), and the model active until now out (`retired`, `ended_seq`), in one
    /// transaction. An unknown id is `NotFound("risk model <id>")`; an active one
    /// `Conflict("risk model <id> is active")`.
    PromoteRiskModel {
        id: String,
        promoted_by: String,
    },
    /// Takes the active model out of force (`retired`, `ended_seq` this event's) and puts back
    /// the one retired last before it (`active` again), if any. Without an active model:
    /// `Conflict("no active risk model")`.
    RollBackRiskModel,
    /// A photo or document attached to an `open` task by this event, with its content (at most
    /// the caller's limit; the store keeps it as given). The task must exist
    /// (`NotFound("task <id>")`) and be open (`Conflict("task <id> is closed")`); the same
    /// digest twice on one task is `Conflict("attachment <digest>")`. `attachment.added_seq`
    /// must be `None`; the store records this event's seq.
    AddAttachment {
        attachment: AttachmentRow,
        // Kept once, in its own table, its digest in the payload: not copied into the chain.
        #[serde(skip)]
        content: Vec<u8>,
    },
    /// An officer goes on duty at `office` (`Some`, leaving any other office) or off duty
    /// (`None`). The user must exist with the role `officer` (`NotFound("officer <id>")`). Every
    /// change is kept, with this event's seq; the latest is the officer's duty in force
    /// ([`Store::officers_on_duty`]).
    SetDuty {
        officer: String,
        office: Option<String>,
    },
    /// A declaration form saved unvalidated as a draft (暂存) of its enterprise, by this event:
    /// a new draft, or a new text for one of the same enterprise. `draft.saved_seq` must be
    /// `None`; the store records this event's seq. A draft id of another enterprise is
    /// `Conflict("draft <id>")`.
    SaveDraft(DraftRow),
    /// A draft discarded (deleted) by this event. An unknown id is `NotFound("draft <id>")`.
    DiscardDraft {
        id: String,
    },
    /// A supporting document (随附单证) of a declaration, with its content (at most the caller's
    /// limit; the store keeps it as given). The declaration must exist
    /// (`NotFound("declaration <id>")`); the same digest twice on one declaration is
    /// `Conflict("document <digest>")`. `document.added_seq` must be `None`.
    AddDocument {
        document: DocumentRow,
        // Kept once, in its own table, its digest in the payload: not copied into the chain.
        #[serde(skip)]
        content: Vec<u8>,
    },
    /// Projects nothing: the event (a selection, say) is recorded in the log and the audit chain
    /// and changes no table.
    Nothing,
    /// A CEB document received (order, payment, waybill, inventory list, cancellation, return),
    /// kept as a new version for its keys: never edited, every version kept, the latest in
    /// force. Its fields are checked ([`ceb_document_refusal`]); a guid recorded before makes the
    /// whole append write nothing and answer [`AppendOutcome::CebDocumentAlready`] (a resent
    /// message is not an error).
    CebDocument(CebDocumentRow),
    /// An inventory list recorded as `waiting` for its documents until `deadline_ms`
    /// ([`inventory_list_refusal`]). An id taken is `Conflict("inventory list <id>")`.
    InventoryListWaiting(InventoryListRow),
    /// An inventory list changes state ([`InventoryListChange::transition`]), with this event's
    /// seq as `status_seq`. An unknown id is `NotFound("inventory list <id>")`, a list in
    /// another state `Conflict("inventory list <id> is <status>")`, checked in the writer's
    /// transaction: of two concurrent acceptances of one list exactly one wins.
    InventoryListChange {
        id: String,
        change: InventoryListChange,
    },
    /// A tax guarantee (担保) registered by an administrator for an agent, with its first
    /// amount. An assure code taken is `Conflict("guarantee <code>")`.
    RegisterGuarantee {
        assure_code: String,
        agent_code: String,
        amount_fen: i64,
    },
    /// More money on a guarantee. Unknown: `NotFound("guarantee <code>")`; a balance that would
    /// leave i64 is refused.
    TopUpGuarantee {
        assure_code: String,
        amount_fen: i64,
    },
    /// A debit, as recorded on the event [`Append::guarantee_debit`] writes (append that,
    /// which answers [`AppendOutcome::GuaranteeExhausted`]; this projection given directly
    /// refuses an uncovered debit as `Conflict`).
    DebitGuarantee(GuaranteeDebit),
    /// A debit released (the list was cancelled or returned): its amount goes back on the
    /// balance, once. An unknown debit is `NotFound("guarantee debit <code>:<ref>")`, a
    /// released one `Conflict("guarantee debit <code>:<ref> is released")`.
    ReleaseGuaranteeDebit {
        assure_code: String,
        debit_ref: String,
    },
    /// A cancelled or returned CBEC order's amount credited back to the buyer's allowance for
    /// its year: a reversing row appended (the booking is never edited), so
    /// [`Store::cbec_year_to_date`] is lower by it. The credit-backs of one order never exceed
    /// its booking. An order never booked is `NotFound("CBEC order <ref>")`.
    ///
    /// `amount_fen: None` credits back all that remains of the booking (a cancellation, or the
    /// last of a list's returns): a second one of the order changes nothing. `Some(fen)` credits
    /// back that much (a partial return); more than remains is
    /// `Conflict("CBEC order <ref> ...")`. `credited_before_fen: Some(fen)` is optimistic
    /// concurrency on the order's credit-backs: the sum already credited back must be exactly
    /// that, else `Conflict("CBEC order <ref> was credited back meanwhile ...")`, so two partial
    /// returns decided on the same state cannot both be written.
    CbecCreditBack {
        order_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount_fen: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credited_before_fen: Option<i64>,
    },
    /// An enterprise registered for CEB roles. An enterprise already registered (found by
    /// either code) gets the roles added (and a code it lacked, and the name given); a code
    /// that names a different enterprise than the other is `Conflict("CEB enterprise <code>")`.
    RegisterCebEnterprise(CebEnterpriseRow),
    /// A signing certificate of a registered enterprise (`enterprise_code`: its customs or
    /// credit code), in force from this event on; earlier ones are kept. An unknown enterprise
    /// is `NotFound("CEB enterprise <code>")`, a serial number it had before
    /// `Conflict("certificate <serial> of <code>")`.
    AddCebCertificate {
        enterprise_code: String,
        certificate: CebCertificateRow,
    },
}

/// A draft declaration form (暂存), owned by an enterprise: its fields as the form holds them
/// (a JSON text), not checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DraftRow {
    pub id: String,
    /// The enterprise (its id) whose users see the draft.
    pub enterprise_id: String,
    pub title: String,
    pub body: String,
    pub saved_by: String,
    pub saved_seq: Option<u64>,
}

/// A supporting document (随附单证) of a declaration, named by the SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocumentRow {
    pub declaration_id: String,
    /// SHA-256 of the content, lower-case hex.
    pub digest: String,
    /// invoice, packing_list, contract, certificate_of_origin, licence or other.
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub added_by: String,
    pub added_seq: Option<u64>,
}

/// The enterprise credit levels (企业信用等级) a store accepts, from best to worst.
pub const CREDIT_LEVELS: [&str; 4] = [
    "advanced_certified",
    "general_certified",
    "general",
    "untrustworthy",
];

/// A batch of labelled past goods items, as imported (without its text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryBatchRow {
    /// Made by the caller, e.g. `H-0001`.
    pub id: String,
    /// The file's format, e.g. `kcs`.
    pub format: String,
    pub label: String,
    /// SHA-256 of the text, hex.
    pub digest: String,
    pub rows: u64,
    pub labelled: u64,
    /// `YYYY-MM-DD` of the first and last item.
    pub first_date: String,
    pub last_date: String,
    pub imported_by: String,
    pub imported_seq: Option<u64>,
}

/// A risk model in the registry (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RiskModelRow {
    /// Made by the caller, e.g. `M-0001`.
    pub id: String,
    /// `shadow`, `active` or `retired`.
    pub status: String,
    /// `trained` or `imported`.
    pub source: String,
    /// The user who trained or imported it (who may not promote it).
    pub author: String,
    /// SHA-256 of the model's bytes, hex.
    pub model_hash: String,
    /// What the caller records with it (training period, data hash, metrics, threshold), JSON.
    pub summary: String,
    pub created_seq: Option<u64>,
    pub promoted_by: Option<String>,
    pub promoted_seq: Option<u64>,
    pub ended_seq: Option<u64>,
}

/// A photo or document an officer attached to a task (查验照片、单证), named by the SHA-256 of its
/// content (which the attaching event records in the audit chain).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttachmentRow {
    pub task_id: String,
    /// SHA-256 of the content, lower-case hex.
    pub digest: String,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub added_by: String,
    pub added_seq: Option<u64>,
}

/// An officer on duty at an office, since the event that put them there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyRow {
    pub officer: String,
    pub office: String,
    pub since_ms: i64,
    pub seq: u64,
}

/// A watch-list entry (布控名单): a party or a means of transport that targeting selects when a
/// declaration names it. Kept as the caller made it; never edited, never deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchEntryRow {
    /// Made by the caller, unique, e.g. `W-000001`.
    pub id: String,
    /// `importer`, `declarant`, `seller`, `consignor` or `transport_means`.
    pub kind: String,
    /// The credit code, name or identification the entry names, as given.
    pub value: String,
    pub reason_en: String,
    pub reason_zh: String,
    /// `document_check`, `physical_inspection`, `lab_sampling` or `hold`.
    pub action: String,
    /// `YYYY-MM-DD`, inclusive; `None` is open.
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// The user id of the analyst who added it.
    pub added_by: String,
    pub added_at_ms: i64,
    /// Set by the store on read: the seq of the event that added it. `None` in
    /// [`Projection::AddWatchEntry`].
    pub added_seq: Option<u64>,
    /// The second analyst who put the entry in force, and the event that did; `None` while it
    /// is proposed. (An entry added before four eyes has `approved_seq` = `added_seq` and no
    /// `approved_by`.)
    pub approved_by: Option<String>,
    pub approved_seq: Option<u64>,
    /// The analyst who asked to take an entry in force off the list, and the event.
    pub removal_requested_by: Option<String>,
    pub removal_requested_seq: Option<u64>,
    /// Who took it off (the analyst who approved the removal, or who withdrew a proposal).
    pub removed_by: Option<String>,
    /// The seq of the event that removed it; `None` while it is on the list.
    pub removed_seq: Option<u64>,
}

impl WatchEntryRow {
    /// Whether targeting acts on the entry: approved by a second analyst and not removed.
    pub fn in_force(&self) -> bool {
        self.approved_seq.is_some() && self.removed_seq.is_none()
    }
}

/// An officer's task on a declaration (单证审核 / 查验 / 取样 / 扣留), created from its lane.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskRow {
    /// Made by the caller, unique.
    pub id: String,
    pub declaration_id: String,
    /// `document_check`, `physical_inspection`, `lab_sampling` or `hold`.
    pub kind: String,
    /// The customs office (4 digits).
    pub office: String,
    /// The user id of the officer.
    pub assigned_to: String,
    /// `open` or `closed`.
    pub status: String,
    pub created_at_ms: i64,
    /// Set by the store on read: the seq of the event that created the task (for a linked event,
    /// its own seq, not the main event's). `None` in [`Projection::NewTask`].
    pub created_seq: Option<u64>,
    /// The seq of the event that closed the task.
    pub closed_seq: Option<u64>,
    /// JSON made by the caller, set when the task is closed; kept as given.
    pub outcome: Option<String>,
}

/// Filters for listing tasks; every filter given must match. Tasks come in creation (seq)
/// order, at most `limit` of them (`limit: 0` lists nothing).
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub declaration_id: Option<String>,
    pub assigned_to: Option<String>,
    pub office: Option<String>,
    pub status: Option<String>,
    pub limit: usize,
}

/// What the supervisors' dashboards count, for the declarations lodged in `[from_ms, to_ms)`.
#[derive(Debug, Clone, Default)]
pub struct DashboardQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The width of each bar of declarations lodged (e.g. an hour), > 0.
    pub bucket_ms: i64,
    /// Upper bounds (exclusive, ascending) of the release-time classes; one class more above.
    pub release_bounds_ms: Vec<i64>,
    /// Open tasks created before this instant are overdue.
    pub overdue_before_ms: i64,
}

/// The dashboards' figures, each counted by the store (aggregate queries, not rows read one by
/// one). Money in fen (integer minor units), exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardFigures {
    /// Declarations lodged per bucket: the bucket's start (ms) and the count; empty buckets left out.
    pub lodged: Vec<(i64, u64)>,
    /// The lane of each declaration's latest selection, and how many declarations are in it.
    pub lanes: Vec<(String, u64)>,
    /// Declarations lodged in the window and released: how many per release-time class
    /// (`release_bounds_ms.len() + 1` classes).
    pub release_classes: Vec<u64>,
    /// The total payable of each declaration's latest assessment (made ones only), summed.
    pub assessed_fen: i64,
    /// Declarations whose latest assessment was made.
    pub assessed_declarations: u64,
    /// Payments confirmed by a bank (`declaration.paid`, not a guarantee), summed.
    pub collected_fen: i64,
    /// Guarantees accepted by officers, summed.
    pub guaranteed_fen: i64,
    /// Per office (ordered): open tasks, and of those how many overdue. Not windowed: now.
    pub tasks: Vec<OfficeTasks>,
    /// Per targeting rule (ordered): matches, selections, closed checks and hits.
    pub rules: Vec<RuleHits>,
    /// Per office of lodging (ordered): declarations lodged in the window that were received
    /// in continuity (see [`DeclarationQuery::continuity`]); offices with none left out.
    pub continuity: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficeTasks {
    pub office: String,
    pub open: u64,
    pub overdue: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleHits {
    pub rule: String,
    pub matches: u64,
    pub selections: u64,
    pub checks_closed: u64,
    pub hits: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclarationRow {
    pub id: String,
    pub number: String,
    pub direction: String,
    pub kind: String,
    pub status: String,
    pub office_of_lodging: String,
    pub trader_credit_code: String,
    pub declarant_credit_code: String,
    pub summary_number: Option<String>,
    pub completed_by: Option<String>,
    pub lodged_at_ms: i64,
    pub updated_at_ms: i64,
    pub version: u32,
    /// The declaration as currently in force, canonical JSON. On read, it is the `declaration`
    /// member of the payload of the event that lodged or last amended the declaration, exactly
    /// as that event embedded it. On append ([`Projection::NewDeclaration`]) it must equal the
    /// event payload's `declaration` member and is not stored a second time.
    /// The event's payload carries it: not copied into the recorded projection.
    #[serde(skip)]
    pub document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclarationUpdate {
    pub id: String,
    pub status: String,
    pub version: u32,
    pub updated_at_ms: i64,
    /// `None` leaves the stored value (a summary stays completed).
    pub completed_by: Option<String>,
    /// True when the event amends the declaration: its payload's `declaration` member (which
    /// must be present) becomes the document in force. False leaves the document as it was.
    pub replaces_document: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnterpriseRow {
    pub id: String,
    pub credit_code: String,
    pub customs_code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub enterprise_id: Option<String>,
    /// The event that disabled the user (`None`: enabled). Must be `None` in
    /// [`Projection::NewUser`].
    pub disabled_seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRow {
    /// The token's public name (`T-` and 16 hex characters of its hash): listed, and revoked by.
    pub id: String,
    /// SHA-256 (hex) of the bearer token; the token itself is never stored.
    pub token_hash: String,
    pub user_id: String,
    pub created_at_ms: i64,
    /// The token authenticates before this time only.
    pub expires_at_ms: i64,
    /// The event that revoked it (`None`: not revoked). Must be `None` in
    /// [`Projection::NewToken`].
    pub revoked_seq: Option<u64>,
}

/// A reference-data release as the store keeps it. `kind` is `tariff` or `exchange_rates`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReleaseRow {
    /// Made by the caller, unique across kinds, e.g. `TR-0001`, `XR-0001`.
    pub id: String,
    pub kind: String,
    /// The administrator's name for it, e.g. "2026 tariff, January".
    pub label: String,
    /// SHA-256 (hex) of the files, made by the caller; unique within a kind.
    pub digest: String,
    pub imported_at_ms: i64,
    /// The importing user's id.
    pub imported_by: String,
    /// `imported`, `active` or `rolled_back`.
    pub status: String,
    /// `YYYY-MM-DD`, set on activation (and kept after a roll-back).
    pub effective_from: Option<String>,
    /// The seq of the (latest) activation event, kept after a roll-back.
    pub activated_seq: Option<u64>,
    /// The seq of the roll-back event, cleared by a re-activation.
    pub rolled_back_seq: Option<u64>,
    /// A small JSON object of counts made by the caller, stored as given.
    pub summary: String,
}

/// One file of a release, kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReleaseFileRow {
    pub name: String,
    /// Kept once, in `release_files`; the release's digest (in the payload) vouches for it.
    #[serde(skip)]
    pub text: String,
}

/// An authenticated user and the enterprises whose declarations it may see. Serialisable: an
/// instance keeps those it verified for continuity (`customs` crate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    pub user: UserRow,
    /// The token the principal was found by (`None` for a principal not made from a token). Its
    /// expiry is for the caller to check against its clock.
    pub token: Option<TokenRow>,
    pub enterprise: Option<EnterpriseRow>,
    /// Credit codes of the enterprises that authorised this user's enterprise as their broker.
    pub principals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The event's number: its chain seq in a store of one chain, else a global number that
    /// rises and may skip (what the projections' `*_seq` columns hold).
    pub seq: u64,
    pub subject: String,
    pub action: String,
    pub actor: Actor,
    pub recorded_at_ms: i64,
    pub idempotency_key: String,
    /// SHA-256 (hex) of the request that produced the event (see `Append::request_digest`).
    pub request_digest: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended {
        seq: u64,
    },
    /// The idempotency key was used before: the first event, and whether it came from the same request.
    Duplicate {
        first: EventRow,
        same_request: bool,
    },
    /// The subject changed since the caller read it.
    VersionConflict {
        subject: String,
        current_version: Option<u32>,
    },
    /// The append's CBEC purchase would take the buyer past the annual allowance: nothing was
    /// written. `room_fen` is what is left of the allowance.
    CbecLimitExceeded {
        year_to_date_fen: i64,
        room_fen: i64,
    },
    /// The append's CBEC order reference was booked before (by another declaration): nothing
    /// was written.
    CbecOrderBooked {
        first: CbecBooked,
    },
    /// The append's guarantee debit is more than the guarantee's balance: nothing was written.
    GuaranteeExhausted {
        balance_fen: i64,
        needed_fen: i64,
    },
    /// The append records a CEB document whose guid was recorded before (by event `seq`):
    /// nothing was written; the message was received already.
    CebDocumentAlready {
        guid: String,
        seq: u64,
    },
}

/// Which declarations a trade caller may see: those whose trader or declarant is one of `own`
/// (its enterprise), and those whose *trader* is one of `principals` (enterprises that authorised it
/// as their broker). A principal's code never matches the declarant column: being authorised by a
/// broker's client does not reveal what that broker declared for others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    pub own: Vec<String>,
    pub principals: Vec<String>,
}

/// Filters for listing declarations. `visible_to` limits to what a trade caller may see (see
/// `Visibility`); `None` means every declaration (officers, analysts, auditors).
#[derive(Debug, Clone, Default)]
pub struct DeclarationQuery {
    pub visible_to: Option<Visibility>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub office_of_lodging: Option<String>,
    pub trader_credit_code: Option<String>,
    pub lodged_from_ms: Option<i64>,
    pub lodged_to_ms: Option<i64>,
    /// Keyset pagination: only declarations lodged before this position (newest first).
    pub before: Option<DeclarationCursor>,
    pub limit: usize,
    /// Only declarations whose document in force has these keys (all that are given).
    pub search: DeclarationSearch,
    /// Only declarations received in continuity (an instance's local queue while PostgreSQL
    /// was unreachable): those a `continuity.reconciled` event names (see
    /// [`CONTINUITY_RECONCILED_ACTION`]).
    pub continuity: bool,
}

/// The event that names, under a provisional reference, the declaration a lodging received in
/// continuity became (written by the `clearance` crate; both stores index it).
pub const CONTINUITY_RECONCILED_ACTION: &str = "continuity.reconciled";

/// Search keys of the document in force, kept by both stores in `declaration_search` (written in
/// the transaction of the lodging or amendment that changes the document): every term given must
/// match. The kinds, each read from the declaration's JSON document:
///
/// - `bill_of_lading`: `transport.document.number` (提运单号), exactly;
/// - `container`: one of `transport.containers`, exactly;
/// - `invoice`: `invoice.number`, exactly;
/// - `commodity_code`: a prefix of any item's `items[i].commodity_code`;
/// - `trader_name`: a part of `trader.name`, case folded on both sides by the database's
///   `lower()` (ASCII in SQLite, Unicode in PostgreSQL; Chinese has no case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclarationSearch {
    pub bill_of_lading: Option<String>,
    pub container: Option<String>,
    pub invoice: Option<String>,
    pub commodity_code_prefix: Option<String>,
    pub trader_name: Option<String>,
}

impl DeclarationSearch {
    /// The exact-match terms, by their kind in `declaration_search`.
    pub fn exact_terms(&self) -> Vec<(&'static str, &str)> {
        [
            ("bill_of_lading", &self.bill_of_lading),
            ("container", &self.container),
            ("invoice", &self.invoice),
        ]
        .into_iter()
        .filter_map(|(kind, value)| Some((kind, value.as_deref()?)))
        .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclarationCursor {
    pub lodged_at_ms: i64,
    pub row: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDeclaration {
    pub cursor: DeclarationCursor,
    pub row: DeclarationRow,
}

/// One cross-border e-commerce (CBEC) retail purchase to book against a buyer's annual allowance
/// (rules `china-import-taxes.md` §2.7: 26,000 CNY per person per calendar year). The store only
/// keeps the ledger and enforces `annual_limit_fen` atomically; the caller decides the limits
/// (and applies the 5,000 CNY per-transaction limit, which a single indivisible item may exceed
/// while still counting toward the annual total).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecBooking {
    /// The buyer's identity as a hash made by the caller: 64 lowercase hex characters, e.g. an
    /// HMAC-SHA-256 of the normalised ID-card number under a key the store does not hold. The
    /// store never sees the ID-card number itself, only this hash, which it keeps in the ledger
    /// and in the (append-only, never erasable) audit chain. Anything else is refused, so a raw
    /// ID-card number passed by mistake cannot end up in the chain.
    pub buyer_id: String,
    /// The calendar year the purchase counts toward.
    pub year: i32,
    /// The purchase's dutiable value in fen (integer minor units; 1 CNY = 100 fen). Must be > 0.
    pub amount_fen: i64,
    /// The buyer's allowance for the year in fen (26,000 CNY = 2,600,000). Reaching it exactly
    /// is allowed; going one fen past it is not. Must be >= 0.
    pub annual_limit_fen: i64,
    /// The order's reference, unique across the whole ledger: booking the same reference again
    /// books nothing and returns the first booking (an honest retry is safe).
    pub order_ref: String,
    pub actor: Actor,
    pub recorded_at_ms: i64,
}

/// A purchase as the ledger recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecBooked {
    /// The audit-chain event (`cbec.purchase_booked`) that records the booking.
    pub seq: u64,
    pub buyer_id: String,
    pub year: i32,
    pub order_ref: String,
    pub amount_fen: i64,
    /// The buyer's total for the year including this purchase, as of its booking.
    pub year_to_date_fen: i64,
    pub recorded_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbecBookingOutcome {
    /// Booked, and recorded in the audit chain as event `seq`; `year_to_date_fen` includes it.
    Booked { seq: u64, year_to_date_fen: i64 },
    /// The purchase would take the year's total past the limit: nothing was written (so the
    /// order may clear as general trade instead, and its reference stays free). `room_fen` is
    /// what is left of the allowance (never negative).
    Exceeded {
        year_to_date_fen: i64,
        room_fen: i64,
    },
    /// The order reference was booked before: nothing more was written. `same_booking` tells
    /// whether the buyer, year and amount match the first booking (an honest retry) or not (a
    /// reused reference).
    Duplicate {
        first: CbecBooked,
        same_booking: bool,
    },
}

/// The derived tables rebuilt from the chain (each event's recorded projection, replayed in
/// order) and compared with the stored ones; it exists because the tables decide clearance
/// (roles, tokens, authorisations, tasks, the CBEC ledger, ...) and the chain alone cannot show
/// an edited row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionCheck {
    /// Events replayed.
    pub events_replayed: u64,
    /// The tables compared, by name.
    pub tables: Vec<String>,
    /// Why the tables could not be rebuilt, if they could not (entries recorded before
    /// projections were chained); nothing was compared then.
    pub not_rebuilt: Option<String>,
    /// Every difference found (up to a limit), in words naming the table, the row and the
    /// column. Empty when the tables are what the chain records.
    pub differences: Vec<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends one event (and its linked events) with its projection changes in one durable transaction.
    async fn append(&self, append: Append) -> StoreResult<AppendOutcome>;
    /// The events of `chain` after `after_chain_seq` whose subject is a declaration `visibility`
    /// sees, in chain order: at most `limit`, read from a window of at most `window` chain
    /// positions (so a reader that sees little of a busy store still reads a bounded amount).
    async fn trade_feed(
        &self,
        visibility: &Visibility,
        chain: u16,
        after_chain_seq: u64,
        window: u64,
        limit: usize,
    ) -> StoreResult<FeedWindow>;
    /// Webhooks: the enterprise's, or every one with `None`.
    async fn webhooks(&self, enterprise: Option<&str>) -> StoreResult<Vec<WebhookRow>>;
    /// The enterprise's dead letters, oldest first, at most [`DEAD_LETTERS_LISTED_MAX`].
    async fn dead_letters(&self, enterprise: &str) -> StoreResult<Vec<DeadLetterRow>>;
    /// Changes the delivery state; true when a row changed.
    async fn change_delivery(&self, change: DeliveryChange) -> StoreResult<bool>;
    /// Reserves `count` consecutive serials of a numbering counter; returns the first. Serials are
    /// never handed out twice, even across crashes; unused reserved ones are skipped, not reused.
    async fn reserve_serials(&self, counter_key: &str, count: u64) -> StoreResult<u64>;
    async fn event_by_idempotency(&self, scope: &str, key: &str) -> StoreResult<Option<EventRow>>;
    async fn declaration(&self, id: &str) -> StoreResult<Option<DeclarationRow>>;
    /// The schema version the store records (its last migration's number), read from the store:
    /// what `/v1/health` reports, so an operator sees which schema a server runs on.
    async fn schema_version(&self) -> StoreResult<u32>;
    async fn declaration_by_number(&self, number: &str) -> StoreResult<Option<DeclarationRow>>;
    async fn list_declarations(
        &self,
        query: &DeclarationQuery,
    ) -> StoreResult<Vec<ListedDeclaration>>;
    async fn events(&self, subject: &str) -> StoreResult<Vec<EventRow>>;
    /// The principal of a token that is not revoked and whose user is not disabled (`None`
    /// otherwise, and for an unknown token). Expiry is left to the caller, which has the clock.
    async fn principal_by_token(&self, token_hash: &str) -> StoreResult<Option<Principal>>;
    /// A token by its hash, whatever its state (to tell a caller why it is refused).
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<TokenRow>>;
    /// A token by its id, whatever its state.
    async fn token(&self, id: &str) -> StoreResult<Option<TokenRow>>;
    /// The tokens of a user, or of everybody with `None`, in the order issued.
    async fn tokens(&self, user_id: Option<&str>) -> StoreResult<Vec<TokenRow>>;
    /// A user by id, disabled or not.
    async fn user(&self, id: &str) -> StoreResult<Option<UserRow>>;
    /// The PHC string of a user's password ([`Projection::SetPassword`]); `None` for a user
    /// without a password, or no such user. Kept out of [`UserRow`] so that no listing of users
    /// carries it.
    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
    /// The credit codes of the enterprises whose authorisation of the broker enterprise is in
    /// force, ordered.
    async fn broker_principals(&self, broker_enterprise_id: &str) -> StoreResult<Vec<String>>;
    async fn enterprise_by_credit_code(
        &self,
        credit_code: &str,
    ) -> StoreResult<Option<EnterpriseRow>>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<UserRow>>;
    /// Audit chain entries with `seq > after_seq`, in seq order, at most `limit`. Chain 0's only
    /// with several chains: [`Store::record_entries`] lists the whole record.
    async fn audit_entries(&self, after_seq: u64, limit: usize) -> StoreResult<Vec<StoredEntry>>;
    /// The whole record, every chain, in the order of the events' global numbers
    /// ([`EventRow::seq`], the `row` of the PostgreSQL store): the entries with a number above
    /// `after_row`, at most `limit`, each with its chain and its seq in that chain (what verifies
    /// it). Only settled entries are listed: none with a number at or below the last one listed
    /// commits later, so paging by the last number listed neither misses nor repeats an entry.
    /// One chain (SQLite): chain 0's entries, whose number is their seq.
    async fn record_entries(&self, after_row: u64, limit: usize) -> StoreResult<Vec<RecordEntry>> {
        Ok(self
            .audit_entries(after_row, limit)
            .await?
            .into_iter()
            .map(|stored| RecordEntry {
                chain: 0,
                row: stored.entry.seq,
                stored,
            })
            .collect())
    }
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;
    /// Rebuilds the derived tables from the chain and compares them with the stored ones, in
    /// one consistent snapshot.
    async fn check_projections(&self) -> StoreResult<ProjectionCheck>;
    /// Signs a checkpoint of the current chain head now (if anything is new since the last one).
    async fn checkpoint_now(&self) -> StoreResult<Option<Checkpoint>>;
    /// How many audit chains the store keeps: one for the SQLite store (one writer), a fixed
    /// number for the PostgreSQL store, whose events go to the chain of their subject. Chains
    /// are numbered from 0; [`Store::audit_entries`] and [`Store::checkpoints`] are chain 0's,
    /// [`Store::record_entries`] lists every chain.
    fn chain_count(&self) -> u16 {
        1
    }
    /// Entries of `chain` with `seq > after_seq`, in seq order, at most `limit`: each chain
    /// verifies alone with `audit::verify_chain`.
    async fn chain_entries(
        &self,
        chain: u16,
        after_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<StoredEntry>> {
        if chain == 0 {
            self.audit_entries(after_seq, limit).await
        } else {
            Ok(Vec::new())
        }
    }
    /// The signed checkpoints of `chain`, oldest first.
    async fn chain_checkpoints(&self, chain: u16) -> StoreResult<Vec<Checkpoint>> {
        if chain == 0 {
            self.checkpoints().await
        } else {
            Ok(Vec::new())
        }
    }
    /// Each chain's head seq, chain 0 first.
    async fn chain_heads(&self) -> StoreResult<Vec<u64>> {
        Ok(vec![self.operational_stats().await?.chain_head_seq])
    }
    /// The signatures over every chain's head at once, one per signing round, oldest first;
    /// none for a store of one chain (its checkpoints are that already).
    async fn checkpoint_rounds(&self) -> StoreResult<Vec<audit::HeadsCheckpoint>> {
        Ok(Vec::new())
    }
    /// The chain and chain entry of the event a reader knows by its [`EventRow::seq`] (with
    /// one chain the same number; with several, `EventRow::seq` numbers events across chains).
    async fn entry_of_event(&self, seq: u64) -> StoreResult<Option<(u16, StoredEntry)>> {
        Ok(self
            .audit_entries(seq.saturating_sub(1), 1)
            .await?
            .pop()
            .filter(|stored| stored.entry.seq == seq)
            .map(|stored| (0, stored)))
    }
    /// Books a CBEC purchase if the buyer's total for the year stays within
    /// `booking.annual_limit_fen`. The check and the booking are one atomic, durable write,
    /// serialised with every other write: of concurrent orders for one buyer, only as many pass as
    /// fit. A booking is recorded as event `cbec.purchase_booked` with subject
    /// `cbec:<buyer_id>:<year>` in the audit chain, committed with the ledger row.
    async fn book_cbec_purchase(&self, booking: CbecBooking) -> StoreResult<CbecBookingOutcome>;
    /// The buyer's booked total for `year` in fen (0 if none).
    async fn cbec_year_to_date(&self, buyer_id: &str, year: i32) -> StoreResult<i64>;

    // Cross-border e-commerce (issue 15): the CEB documents, inventory lists, guarantees and
    // registrations the e-commerce projections record.

    /// A CEB document by its guid, whatever its version's standing.
    async fn ceb_document(&self, guid: &str) -> StoreResult<Option<CebDocumentRow>>;
    /// The documents in force for an order: of each kind keyed by (`ebp_code`, `order_no`), the
    /// latest version recorded, unless that one deletes it (`app_type` 3); ordered by kind as
    /// in [`CEB_DOCUMENT_KINDS`].
    async fn ceb_documents_for_order(
        &self,
        ebp_code: &str,
        order_no: &str,
    ) -> StoreResult<Vec<CebDocumentRow>>;
    /// The waybill in force for (`logistics_code`, `logistics_no`), as for an order.
    async fn ceb_waybill(
        &self,
        logistics_code: &str,
        logistics_no: &str,
    ) -> StoreResult<Option<CebDocumentRow>>;
    /// An inventory list by its id.
    async fn inventory_list(&self, id: &str) -> StoreResult<Option<InventoryListRow>>;
    /// The `waiting` inventory lists with this order or waybill key, in the order recorded, at
    /// most [`INVENTORY_LISTS_LISTED_MAX`].
    async fn inventory_lists_waiting(&self, key: &CebKey) -> StoreResult<Vec<InventoryListRow>>;
    /// The `waiting` lists whose deadline is before `now_ms`, earliest deadline first, at most
    /// `limit` (cut to [`INVENTORY_LISTS_LISTED_MAX`]): what a sweep refuses.
    async fn expired_waiting(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<InventoryListRow>>;
    /// A guarantee and its balance now.
    async fn guarantee(&self, assure_code: &str) -> StoreResult<Option<GuaranteeRow>>;
    /// The registration of the enterprise with this customs code or credit code: its roles and
    /// its certificate in force.
    async fn ceb_registration(&self, enterprise_code: &str)
    -> StoreResult<Option<CebRegistration>>;
    /// Every release of `kind`, in import order (oldest first).
    async fn releases(&self, kind: &str) -> StoreResult<Vec<ReleaseRow>>;
    async fn release(&self, id: &str) -> StoreResult<Option<ReleaseRow>>;
    /// The files of a release, in the order they were given; `None` if there is no such release.
    async fn release_files(&self, id: &str) -> StoreResult<Option<Vec<ReleaseFileRow>>>;
    /// Targeting rule versions, all of them or those with `status`, ordered by id then version.
    async fn risk_rules(&self, status: Option<&str>) -> StoreResult<Vec<RiskRuleRow>>;
    /// The time from lodging to release, in milliseconds, of every declaration whose goods
    /// were released in `[released_from_ms, released_to_ms)`, lodged at `office` if given,
    /// ascending. The release time is that of the update that first set the status `released`.
    async fn release_durations(
        &self,
        released_from_ms: i64,
        released_to_ms: i64,
        office: Option<&str>,
    ) -> StoreResult<Vec<i64>>;
    /// The trader's declarations lodged at or after `since_ms`, and the closed tasks on its
    /// declarations whose outcome records a discrepancy.
    async fn trader_history(&self, credit_code: &str, since_ms: i64) -> StoreResult<TraderHistory>;
    /// The declaration id that first used the proof of origin `proof_key`, if any.
    async fn origin_proof_user(&self, proof_key: &str) -> StoreResult<Option<String>>;
    /// Officers' tasks matching `query`, in creation (seq) order, at most `query.limit`.
    async fn tasks(&self, query: &TaskQuery) -> StoreResult<Vec<TaskRow>>;
    /// One task by its id, whoever it is assigned to and however many tasks there are.
    async fn task(&self, id: &str) -> StoreResult<Option<TaskRow>>;
    /// The enabled users with `role`, ordered by user id (none for an unknown role).
    async fn users_by_role(&self, role: &str) -> StoreResult<Vec<UserRow>>;
    /// Every watch-list entry, removed ones included (with their `removed_seq`), in the order
    /// they were added.
    async fn watch_entries(&self) -> StoreResult<Vec<WatchEntryRow>>;
    /// The enterprise's credit level in force (the latest change), or `None` if it was never
    /// set (or there is no such enterprise).
    async fn credit_level(&self, credit_code: &str) -> StoreResult<Option<String>>;
    /// Every history batch, in the order imported (without their text).
    async fn history_batches(&self) -> StoreResult<Vec<HistoryBatchRow>>;
    /// A history batch's text, byte for byte.
    async fn history_text(&self, id: &str) -> StoreResult<Option<String>>;
    /// Every risk model, in the order registered (without their bytes).
    async fn risk_models(&self) -> StoreResult<Vec<RiskModelRow>>;
    /// A risk model's bytes.
    async fn risk_model_bytes(&self, id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// The attachments of a task, in the order they were added (without their content).
    async fn attachments(&self, task_id: &str) -> StoreResult<Vec<AttachmentRow>>;
    /// The content of a task's attachment, if there is one with this digest.
    async fn attachment_content(&self, task_id: &str, digest: &str)
    -> StoreResult<Option<Vec<u8>>>;
    /// The officers on duty (值班) now, at `office` or, with `None`, at every office: those whose
    /// latest duty change put them there, ordered by office then officer id.
    async fn officers_on_duty(&self, office: Option<&str>) -> StoreResult<Vec<DutyRow>>;
    /// The drafts of an enterprise, the latest saved first.
    async fn drafts(&self, enterprise_id: &str) -> StoreResult<Vec<DraftRow>>;
    /// One draft by its id, whichever enterprise owns it.
    async fn draft(&self, id: &str) -> StoreResult<Option<DraftRow>>;
    /// The supporting documents of a declaration, in the order added (without their content).
    async fn documents(&self, declaration_id: &str) -> StoreResult<Vec<DocumentRow>>;
    /// The content of a declaration's document, if there is one with this digest.
    async fn document_content(
        &self,
        declaration_id: &str,
        digest: &str,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Users, disabled ones included, ordered by name, at most `limit`.
    async fn users(&self, limit: usize) -> StoreResult<Vec<UserRow>>;
    /// Registered enterprises, ordered by credit code, at most `limit`.
    async fn enterprises(&self, limit: usize) -> StoreResult<Vec<EnterpriseRow>>;
    /// The supervisors' dashboards' figures for the declarations lodged in the query's window,
    /// counted with aggregate queries (cost follows the window, not the whole store).
    async fn dashboard_figures(&self, query: &DashboardQuery) -> StoreResult<DashboardFigures>;

    // What an operator watches (metrics and readiness). Each is cheap enough to run on every
    // scrape or probe: counters kept by the store, file sizes, and reads by primary key or index.

    /// Open tasks per office (ordered), and of those how many were created before
    /// `overdue_before_ms`: an indexed count of the open tasks only, whatever the number closed.
    async fn open_tasks_by_office(&self, overdue_before_ms: i64) -> StoreResult<Vec<OfficeTasks>>;
    /// The store's working figures now: its write queue, commits, size and checkpoints.
    async fn operational_stats(&self) -> StoreResult<OperationalStats>;
    /// A round trip through the writer that writes nothing: `Ok` once the writer took it from
    /// its queue and answered, `Unavailable` if the queue is full or the writer stopped. The
    /// caller bounds the wait (a writer busy with a long queue is slow to answer, not broken).
    async fn ping_writer(&self) -> StoreResult<()>;
}

/// What `StoreError::Unavailable` says when a write is refused because the store's write queue
/// is full (so that the API can count these refusals apart).
pub const WRITE_QUEUE_FULL: &str =
    "the store is at capacity (its write queue is full); retry shortly";

/// A store's working figures, read at scrape time: what its write queue, its commits, its files
/// and its checkpoints are doing. Counters count since the store was opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationalStats {
    /// Writes waiting for the writer now, and the most that may wait (beyond it a write is
    /// refused at once).
    pub write_queue_depth: u64,
    pub write_queue_capacity: u64,
    /// Writes refused because the queue was full.
    pub write_queue_refusals: u64,
    /// Whether the writer thread is running (false after `close`, for a read-only store, or if
    /// it stopped).
    pub writer_running: bool,
    /// Requests committed per transaction (group commit): one sample per commit.
    pub commit_batch_sizes: HistogramSnapshot,
    /// Time of each commit, fsync included, in seconds.
    pub commit_seconds: HistogramSnapshot,
    /// Bytes of the database file and of its write-ahead log.
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// Bytes free for this process on the file system that holds the store (`None` if unknown).
    pub disk_free_bytes: Option<u64>,
    /// The audit chain's head and its newest signed checkpoint (seq and signing time), if any.
    pub chain_head_seq: u64,
    pub last_audit_checkpoint: Option<(u64, i64)>,
    /// When the WAL was last copied back into the database completely (ms since the epoch),
    /// `None` before the first time.
    pub last_wal_checkpoint_at_ms: Option<i64>,
}

/// A histogram's state: for each upper bound (ascending), the samples at or below it
/// (cumulative, as Prometheus shows them), then how many there are in all and their sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}
