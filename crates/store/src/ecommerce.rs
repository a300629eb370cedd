//! Cross-border e-commerce (跨境电商, issue 15): what the stores record of the CEB messages
//! received (orders CEB311, payments CEB411, waybills CEB511, inventory lists CEB621,
//! cancellations CEB623, returns CEB625), the inventory lists' state while their three documents
//! are matched (三单对碰), the agents' tax guarantees (担保, `assureCode`), the buyers' allowance
//! credited back on a cancellation or a return, and the enterprises registered for a CEB role
//! with their signing certificates.
//!
//! Pure rules both stores apply alike: which rows they refuse (every refusal names the field, in
//! English and Chinese), the guarantee debit's event, the limits.

use crate::{Actor, Projection};

/// The CEB document kinds a store records, by the message that carries them.
pub const CEB_DOCUMENT_KINDS: [&str; 6] = [
    "order",        // CEB311 订单
    "payment",      // CEB411 支付单
    "waybill",      // CEB511 运单
    "inventory",    // CEB621 清单
    "cancellation", // CEB623 撤销申请单
    "return",       // CEB625 退货申请单
];

/// The CEB roles an enterprise registers for.
pub const CEB_ROLES: [&str; 5] = [
    "ebp",       // e-commerce platform 电商平台
    "ebc",       // e-commerce enterprise 电商企业
    "payment",   // payment enterprise 支付企业
    "logistics", // logistics enterprise 物流企业
    "agent",     // declaring agent 申报企业
];

/// Inventory list states; the first is the only one a list is recorded in.
pub const INVENTORY_LIST_STATUSES: [&str; 5] =
    ["waiting", "accepted", "refused", "cancelled", "returned"];

/// Longest code, number, guid or reference a store keeps (the CEB schemas' longest key is 60).
pub const CEB_KEY_CHARS_MAX: usize = 64;
/// Largest parsed document (JSON text) a store keeps per CEB document; the messages themselves
/// are bounded by the parser, this bounds what reaches the store.
pub const CEB_DOCUMENT_JSON_BYTES_MAX: usize = 1 << 20;
/// Largest refusal reason (JSON text) of an inventory list.
pub const INVENTORY_REASON_JSON_BYTES_MAX: usize = 16 * 1024;
/// Largest signing certificate (DER) a store keeps; real ones are 1-3 KiB.
pub const CEB_CERTIFICATE_DER_BYTES_MAX: usize = 16 * 1024;
/// Longest enterprise name.
pub const CEB_NAME_CHARS_MAX: usize = 200;
/// Largest single guarantee movement (registration, top-up, debit) in fen: 10^13 fen is
/// 100 billion CNY, far above any guarantee, and keeps every sum of a few hundred thousand
/// movements inside i64 (sums are checked all the same).
pub const GUARANTEE_MOVEMENT_FEN_MAX: i64 = 10_000_000_000_000;
/// Most inventory lists one query answers ([`crate::Store::expired_waiting`],
/// [`crate::Store::inventory_lists_waiting`]); a larger `limit` is cut to it.
pub const INVENTORY_LISTS_LISTED_MAX: usize = 1000;

/// The action of a guarantee debit's own event.
pub const GUARANTEE_DEBITED_ACTION: &str = "guarantee.debited";
/// Debit events are keyed `<assure_code>:<debit_ref>` in this idempotency scope.
pub const GUARANTEE_IDEMPOTENCY_SCOPE: &str = "guarantee-ledger";

/// A CEB document as received: a new version of its kind for its keys, or a modification or
/// deletion of one. Never edited: every version is kept; the latest in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CebDocumentRow {
    /// The message's guid (its 系统唯一序号): unique across every document; the same guid again
    /// records nothing ([`crate::AppendOutcome::CebDocumentAlready`]).
    pub guid: String,
    /// One of [`CEB_DOCUMENT_KINDS`].
    pub kind: String,
    /// 1 new, 2 modify, 3 delete (the CEB `appType`).
    pub app_type: u8,
    /// The sending enterprise's code (customs code or credit code).
    pub sender_code: String,
    /// The e-commerce platform's code and the order number: required for every kind but
    /// `waybill`.
    pub ebp_code: Option<String>,
    pub order_no: Option<String>,
    /// The logistics enterprise's code and the waybill number: required for `waybill` and
    /// `inventory`.
    pub logistics_code: Option<String>,
    pub logistics_no: Option<String>,
    /// The parsed document as JSON text made by the caller, kept as given.
    pub document: String,
    /// SHA-256 (hex) of the raw message as received.
    pub message_digest: String,
    pub received_at_ms: i64,
    /// Set by the store on read: the event that recorded it. `None` in
    /// [`Projection::CebDocument`].
    pub recorded_seq: Option<u64>,
}

/// The key a CEB document or an inventory list is matched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CebKey {
    /// `ebp_code` + `order_no`: order, payment, inventory, cancellation, return.
    Order { ebp_code: String, order_no: String },
    /// `logistics_code` + `logistics_no`: waybill and inventory.
    Waybill {
        logistics_code: String,
        logistics_no: String,
    },
}

/// An inventory list (清单) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InventoryListRow {
    /// Made by the caller (the list's guid or its enterprise number), unique.
    pub id: String,
    pub ebp_code: String,
    pub order_no: String,
    pub logistics_code: String,
    pub logistics_no: String,
    /// The declaring agent's code (申报企业).
    pub agent_code: String,
    /// One of [`INVENTORY_LIST_STATUSES`]; `waiting` in [`Projection::InventoryListWaiting`].
    pub status: String,
    /// Until when the list waits for its documents (ms since the epoch); a sweep refuses it
    /// after ([`crate::Store::expired_waiting`]).
    pub deadline_ms: i64,
    /// The declaration the list became, once accepted.
    pub declaration_id: Option<String>,
    /// Why it was refused (JSON made by the caller), once refused.
    pub reason: Option<String>,
    /// Set by the store: the event that recorded the list, and the one of its latest change.
    pub created_seq: Option<u64>,
    pub status_seq: Option<u64>,
}

/// A change of an inventory list's state ([`Projection::InventoryListChange`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InventoryListChange {
    /// waiting → accepted, as the declaration `declaration_id`.
    Accepted { declaration_id: String },
    /// waiting → refused (the documents did not match, or never came); `reason` is JSON.
    Refused { reason: String },
    /// waiting or accepted → cancelled (CEB623).
    Cancelled,
    /// waiting → cancelled (CEB623 of a list not yet accepted, decided on nothing booked or
    /// debited: a list accepted meanwhile is not cancelled by it).
    CancelledWaiting,
    /// accepted → returned (CEB625).
    Returned,
}

impl InventoryListChange {
    /// The status the change leads to, and the statuses it may start from.
    pub fn transition(&self) -> (&'static str, &'static [&'static str]) {
        match self {
            InventoryListChange::Accepted { .. } => ("accepted", &["waiting"]),
            InventoryListChange::Refused { .. } => ("refused", &["waiting"]),
            InventoryListChange::Cancelled => ("cancelled", &["waiting", "accepted"]),
            InventoryListChange::CancelledWaiting => ("cancelled", &["waiting"]),
            InventoryListChange::Returned => ("returned", &["accepted"]),
        }
    }
}

/// A tax guarantee (担保) and its balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuaranteeRow {
    pub assure_code: String,
    /// The agent's enterprise code: the only one whose lodgings may debit it.
    pub agent_code: String,
    /// Registered plus topped up plus released, less debited, in fen: never negative.
    pub balance_fen: i64,
    pub registered_seq: u64,
    /// The event of the latest movement.
    pub changed_seq: u64,
}

/// A debit of an agent's guarantee made with a lodging ([`crate::Append::guarantee_debit`]):
/// recorded as its own event (`guarantee.debited`, subject `guarantee:<assure_code>`) in the
/// same transaction, or, if the balance does not cover it, nothing at all is written
/// ([`crate::AppendOutcome::GuaranteeExhausted`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuaranteeDebit {
    pub assure_code: String,
    /// The lodging agent: must be the guarantee's.
    pub agent_code: String,
    /// The taxes assessed, in fen; > 0.
    pub amount_fen: i64,
    /// What the debit is for (the inventory list's id): unique per guarantee, and what a
    /// release names.
    pub debit_ref: String,
}

/// An enterprise registered for CEB roles, under its customs code and/or credit code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CebEnterpriseRow {
    /// The 10-character customs code (海关编码).
    pub customs_code: Option<String>,
    /// The 18-character unified social credit code (统一社会信用代码).
    pub credit_code: Option<String>,
    pub name: String,
    /// Some of [`CEB_ROLES`], in the order of that list on read. A later registration adds roles.
    pub roles: Vec<String>,
    /// Set by the store on read: the first registration's event. `None` in the projection.
    pub registered_seq: Option<u64>,
}

/// A signing certificate of a registered enterprise: several over time, the latest in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CebCertificateRow {
    /// The certificate's serial number, as the caller read it (hex); unique per enterprise.
    pub serial_number: String,
    /// The certificate, DER, byte for byte (hex in the recorded projection).
    #[serde(with = "hex_bytes")]
    pub der: Vec<u8>,
    /// Set by the store on read. `None` in [`Projection::AddCebCertificate`].
    pub added_seq: Option<u64>,
}

/// What [`crate::Store::ceb_registration`] answers: the enterprise, its roles, its certificate
/// in force (the latest added) and how many it has had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CebRegistration {
    pub enterprise: CebEnterpriseRow,
    pub certificate: Option<CebCertificateRow>,
    pub certificates_kept: u64,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// A refusal naming the field, in English and Chinese.
fn refusal(path: &str, en: &str, zh: &str) -> Option<String> {
    Some(format!("{path}: {en} / {path}：{zh}"))
}

fn key_refusal(path: &str, value: &str) -> Option<String> {
    let chars = value.chars().count();
    if chars == 0 || chars > CEB_KEY_CHARS_MAX {
        return refusal(
            path,
            &format!("must be 1 to {CEB_KEY_CHARS_MAX} characters"),
            &format!("长度须为 1 至 {CEB_KEY_CHARS_MAX} 个字符"),
        );
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refusal(
            path,
            "must not contain spaces or control characters",
            "不得包含空格或控制字符",
        );
    }
    None
}

fn optional_key_refusal(path: &str, value: &Option<String>, required: bool) -> Option<String> {
    match value {
        Some(value) => key_refusal(path, value),
        None if required => refusal(path, "is required", "为必填项"),
        None => None,
    }
}

fn json_refusal(path: &str, text: &str, bytes_max: usize) -> Option<String> {
    if text.len() > bytes_max {
        return refusal(
            path,
            &format!("is {} bytes, more than {bytes_max}", text.len()),
            &format!("为 {} 字节，超过上限 {bytes_max}", text.len()),
        );
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return refusal(path, "is not JSON", "不是有效的 JSON");
    }
    None
}

fn digest_refusal(path: &str, text: &str) -> Option<String> {
    let is_hex = text.len() == 64 && text.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    (!is_hex)
        .then(|| {
            refusal(
                path,
                "must be a SHA-256 digest: 64 lowercase hex characters",
                "须为 SHA-256 摘要：64 位小写十六进制字符",
            )
        })
        .flatten()
}

fn fen_refusal(path: &str, fen: i64) -> Option<String> {
    if fen <= 0 || fen > GUARANTEE_MOVEMENT_FEN_MAX {
        return refusal(
            path,
            &format!("must be 1 to {GUARANTEE_MOVEMENT_FEN_MAX} fen"),
            &format!("须为 1 至 {GUARANTEE_MOVEMENT_FEN_MAX} 分"),
        );
    }
    None
}

/// Why a store refuses a CEB document, if it must.
pub fn ceb_document_refusal(d: &CebDocumentRow) -> Option<String> {
    if d.recorded_seq.is_some() {
        return refusal(
            "ceb_document.recorded_seq",
            "must be empty: the store sets it",
            "须为空：由存储设置",
        );
    }
    if !CEB_DOCUMENT_KINDS.contains(&d.kind.as_str()) {
        return refusal(
            "ceb_document.kind",
            &format!(
                "{:?} is not one of {}",
                d.kind,
                CEB_DOCUMENT_KINDS.join(", ")
            ),
            &format!("{:?} 不是 {} 之一", d.kind, CEB_DOCUMENT_KINDS.join("、")),
        );
    }
    if !(1..=3).contains(&d.app_type) {
        return refusal(
            "ceb_document.app_type",
            "must be 1 (new), 2 (modify) or 3 (delete)",
            "须为 1（新增）、2（变更）或 3（删除）",
        );
    }
    let needs_order = d.kind != "waybill";
    let needs_waybill = d.kind == "waybill" || d.kind == "inventory";
    key_refusal("ceb_document.guid", &d.guid)
        .or_else(|| key_refusal("ceb_document.sender_code", &d.sender_code))
        .or_else(|| optional_key_refusal("ceb_document.ebp_code", &d.ebp_code, needs_order))
        .or_else(|| optional_key_refusal("ceb_document.order_no", &d.order_no, needs_order))
        .or_else(|| {
            optional_key_refusal(
                "ceb_document.logistics_code",
                &d.logistics_code,
                needs_waybill,
            )
        })
        .or_else(|| {
            optional_key_refusal("ceb_document.logistics_no", &d.logistics_no, needs_waybill)
        })
        .or_else(|| {
            // A half key would match nothing and hide the other half.
            (d.ebp_code.is_some() != d.order_no.is_some())
                .then(|| {
                    refusal(
                        "ceb_document.order_no",
                        "comes with ebp_code, or neither is given",
                        "须与 ebp_code 同时给出或同时省略",
                    )
                })
                .flatten()
        })
        .or_else(|| {
            (d.logistics_code.is_some() != d.logistics_no.is_some())
                .then(|| {
                    refusal(
                        "ceb_document.logistics_no",
                        "comes with logistics_code, or neither is given",
                        "须与 logistics_code 同时给出或同时省略",
                    )
                })
                .flatten()
        })
        .or_else(|| {
            json_refusal(
                "ceb_document.document",
                &d.document,
                CEB_DOCUMENT_JSON_BYTES_MAX,
            )
        })
        .or_else(|| digest_refusal("ceb_document.message_digest", &d.message_digest))
}

/// Why a store refuses a new inventory list, if it must.
pub fn inventory_list_refusal(l: &InventoryListRow) -> Option<String> {
    if l.status != "waiting"
        || l.declaration_id.is_some()
        || l.reason.is_some()
        || l.created_seq.is_some()
        || l.status_seq.is_some()
    {
        return refusal(
            "inventory_list.status",
            "a new list must be `waiting`, without a declaration, a reason or seqs",
            "新清单的状态须为 `waiting`，且不得带有报关单、原因或序号",
        );
    }
    key_refusal("inventory_list.id", &l.id)
        .or_else(|| key_refusal("inventory_list.ebp_code", &l.ebp_code))
        .or_else(|| key_refusal("inventory_list.order_no", &l.order_no))
        .or_else(|| key_refusal("inventory_list.logistics_code", &l.logistics_code))
        .or_else(|| key_refusal("inventory_list.logistics_no", &l.logistics_no))
        .or_else(|| key_refusal("inventory_list.agent_code", &l.agent_code))
}

fn inventory_change_refusal(change: &InventoryListChange) -> Option<String> {
    match change {
        InventoryListChange::Accepted { declaration_id } => {
            key_refusal("inventory_list.declaration_id", declaration_id)
        }
        InventoryListChange::Refused { reason } => json_refusal(
            "inventory_list.reason",
            reason,
            INVENTORY_REASON_JSON_BYTES_MAX,
        ),
        InventoryListChange::Cancelled
        | InventoryListChange::CancelledWaiting
        | InventoryListChange::Returned => None,
    }
}

/// Why a store refuses a guarantee debit, if it must.
pub fn guarantee_debit_refusal(d: &GuaranteeDebit) -> Option<String> {
    key_refusal("guarantee_debit.assure_code", &d.assure_code)
        .or_else(|| key_refusal("guarantee_debit.agent_code", &d.agent_code))
        .or_else(|| key_refusal("guarantee_debit.debit_ref", &d.debit_ref))
        .or_else(|| fen_refusal("guarantee_debit.amount_fen", d.amount_fen))
}

fn ceb_enterprise_refusal(e: &CebEnterpriseRow) -> Option<String> {
    if e.registered_seq.is_some() {
        return refusal(
            "ceb_enterprise.registered_seq",
            "must be empty: the store sets it",
            "须为空：由存储设置",
        );
    }
    if e.customs_code.is_none() && e.credit_code.is_none() {
        return refusal(
            "ceb_enterprise.customs_code",
            "a customs code or a credit code is required",
            "海关编码与统一社会信用代码至少须有其一",
        );
    }
    if let Some(code) = &e.customs_code
        && (code.len() != 10 || !code.bytes().all(|c| c.is_ascii_alphanumeric()))
    {
        return refusal(
            "ceb_enterprise.customs_code",
            "must be 10 letters or digits",
            "须为 10 位字母或数字",
        );
    }
    if let Some(code) = &e.credit_code
        && (code.len() != 18 || !code.bytes().all(|c| c.is_ascii_alphanumeric()))
    {
        return refusal(
            "ceb_enterprise.credit_code",
            "must be 18 letters or digits",
            "须为 18 位字母或数字",
        );
    }
    let name_chars = e.name.chars().count();
    if name_chars == 0 || name_chars > CEB_NAME_CHARS_MAX {
        return refusal(
            "ceb_enterprise.name",
            &format!("must be 1 to {CEB_NAME_CHARS_MAX} characters"),
            &format!("长度须为 1 至 {CEB_NAME_CHARS_MAX} 个字符"),
        );
    }
    if e.roles.is_empty() {
        return refusal(
            "ceb_enterprise.roles",
            "at least one role is required",
            "至少须有一个角色",
        );
    }
    if e.roles.len() > CEB_ROLES.len() {
        return refusal(
            "ceb_enterprise.roles",
            &format!("at most {} roles", CEB_ROLES.len()),
            &format!("最多 {} 个角色", CEB_ROLES.len()),
        );
    }
    for (i, role) in e.roles.iter().enumerate() {
        if !CEB_ROLES.contains(&role.as_str()) {
            return refusal(
                &format!("ceb_enterprise.roles[{i}]"),
                &format!("{role:?} is not one of {}", CEB_ROLES.join(", ")),
                &format!("{role:?} 不是 {} 之一", CEB_ROLES.join("、")),
            );
        }
    }
    None
}

fn certificate_refusal(enterprise_code: &str, c: &CebCertificateRow, live: bool) -> Option<String> {
    if c.added_seq.is_some() {
        return refusal(
            "ceb_certificate.added_seq",
            "must be empty: the store sets it",
            "须为空：由存储设置",
        );
    }
    if c.der.is_empty() || c.der.len() > CEB_CERTIFICATE_DER_BYTES_MAX {
        return refusal(
            "ceb_certificate.der",
            &format!("must be 1 to {CEB_CERTIFICATE_DER_BYTES_MAX} bytes"),
            &format!("须为 1 至 {CEB_CERTIFICATE_DER_BYTES_MAX} 字节"),
        );
    }
    // DER of a certificate is a SEQUENCE (0x30): a cheap guard against PEM or text passed by
    // mistake; the signature check parses it in full.
    if live && c.der[0] != 0x30 {
        return refusal(
            "ceb_certificate.der",
            "is not DER (it does not start with a SEQUENCE)",
            "不是 DER 编码（未以 SEQUENCE 开头）",
        );
    }
    key_refusal("ceb_certificate.enterprise_code", enterprise_code)
        .or_else(|| key_refusal("ceb_certificate.serial_number", &c.serial_number))
}

/// Why a store refuses an e-commerce projection before touching any table, if it must (`None`
/// for every other projection).
pub fn ecommerce_refusal(projection: &Projection, live: bool) -> Option<String> {
    match projection {
        Projection::CebDocument(d) => ceb_document_refusal(d),
        Projection::InventoryListWaiting(l) => inventory_list_refusal(l),
        Projection::InventoryListChange { id, change } => {
            key_refusal("inventory_list.id", id).or_else(|| inventory_change_refusal(change))
        }
        Projection::RegisterGuarantee {
            assure_code,
            agent_code,
            amount_fen,
        } => key_refusal("guarantee.assure_code", assure_code)
            .or_else(|| key_refusal("guarantee.agent_code", agent_code))
            .or_else(|| fen_refusal("guarantee.amount_fen", *amount_fen)),
        Projection::TopUpGuarantee {
            assure_code,
            amount_fen,
        } => key_refusal("guarantee.assure_code", assure_code)
            .or_else(|| fen_refusal("guarantee.amount_fen", *amount_fen)),
        Projection::DebitGuarantee(d) => guarantee_debit_refusal(d),
        Projection::ReleaseGuaranteeDebit {
            assure_code,
            debit_ref,
        } => key_refusal("guarantee.assure_code", assure_code)
            .or_else(|| key_refusal("guarantee.debit_ref", debit_ref)),
        Projection::CbecCreditBack {
            order_ref,
            amount_fen,
            credited_before_fen,
        } => key_refusal("cbec_order.order_ref", order_ref)
            .or_else(|| amount_fen.and_then(|fen| fen_refusal("cbec_credit_back.amount_fen", fen)))
            .or_else(|| {
                credited_before_fen
                    .filter(|fen| !(0..=GUARANTEE_MOVEMENT_FEN_MAX).contains(fen))
                    .and_then(|_| {
                        refusal(
                            "cbec_credit_back.credited_before_fen",
                            &format!("must be 0 to {GUARANTEE_MOVEMENT_FEN_MAX} fen"),
                            &format!("须为 0 至 {GUARANTEE_MOVEMENT_FEN_MAX} 分"),
                        )
                    })
            }),
        Projection::RegisterCebEnterprise(e) => ceb_enterprise_refusal(e),
        Projection::AddCebCertificate {
            enterprise_code,
            certificate,
        } => certificate_refusal(enterprise_code, certificate, live),
        _ => None,
    }
}

/// What a credit-back ([`Projection::CbecCreditBack`]) of an order booked at `booked_fen`, of
/// which `credited_fen` was credited back already, adds to its credit-backs (0: nothing), or why
/// it conflicts. Both stores decide by it, under the order's lock.
pub fn cbec_credit_back_amount(
    order_ref: &str,
    booked_fen: i64,
    credited_fen: i64,
    amount_fen: Option<i64>,
    credited_before_fen: Option<i64>,
) -> Result<i64, String> {
    if let Some(before) = credited_before_fen
        && before != credited_fen
    {
        return Err(format!(
            "CBEC order {order_ref} was credited back meanwhile ({credited_fen} fen, not {before})"
        ));
    }
    let remaining = booked_fen.saturating_sub(credited_fen).max(0);
    match amount_fen {
        None => Ok(remaining),
        Some(fen) if fen <= remaining => Ok(fen),
        Some(fen) => Err(format!(
            "CBEC order {order_ref}: {fen} fen to credit back, only {remaining} fen of its booking remain"
        )),
    }
}

/// The subject of a guarantee's events.
pub fn guarantee_subject(assure_code: &str) -> String {
    format!("guarantee:{assure_code}")
}

/// The idempotency key of a debit's event: one debit per reference per guarantee.
pub fn guarantee_debit_key(d: &GuaranteeDebit) -> String {
    format!("{}:{}", d.assure_code, d.debit_ref)
}

/// The balance after debiting `needed_fen` from `balance_fen`, or `None` when it does not cover
/// it (reaching 0 exactly is allowed).
pub fn guarantee_balance_after(balance_fen: i64, needed_fen: i64) -> Option<i64> {
    balance_fen
        .checked_sub(needed_fen)
        .filter(|after| *after >= 0)
}

/// Canonical JSON of a debit event's payload: minified, keys in byte order, integers for money.
pub fn guarantee_debit_payload(d: &GuaranteeDebit, balance_after_fen: i64) -> String {
    let text = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    format!(
        r#"{{"agent_code":{},"amount_fen":{},"assure_code":{},"balance_after_fen":{},"debit_ref":{}}}"#,
        text(&d.agent_code),
        d.amount_fen,
        text(&d.assure_code),
        balance_after_fen,
        text(&d.debit_ref)
    )
}

/// The debit's own event, for a store to chain: the append's actor and time, keyed by
/// [`guarantee_debit_key`] in [`GUARANTEE_IDEMPOTENCY_SCOPE`], its projection
/// [`Projection::DebitGuarantee`] recorded like any other (so the ledger is rebuilt from it).
pub struct GuaranteeDebitEvent {
    pub subject: String,
    pub idempotency_key: String,
    pub payload: String,
    pub projection: Projection,
    pub recorded: String,
}

impl GuaranteeDebitEvent {
    /// The event; an error only if the projection cannot be recorded (serde's JSON of plain
    /// data: never in practice, but an empty recording would not replay).
    pub fn new(
        d: &GuaranteeDebit,
        balance_after_fen: i64,
    ) -> Result<GuaranteeDebitEvent, serde_json::Error> {
        let projection = Projection::DebitGuarantee(d.clone());
        Ok(GuaranteeDebitEvent {
            subject: guarantee_subject(&d.assure_code),
            idempotency_key: guarantee_debit_key(d),
            payload: guarantee_debit_payload(d, balance_after_fen),
            recorded: serde_json::to_string(&projection)?,
            projection,
        })
    }

    pub fn event<'a>(&'a self, actor: &'a Actor, recorded_at_ms: i64) -> crate::NewEvent<'a> {
        crate::NewEvent {
            actor,
            recorded_at_ms,
            idempotency_scope: GUARANTEE_IDEMPOTENCY_SCOPE,
            idempotency_key: &self.idempotency_key,
            request_digest: "",
            subject: &self.subject,
            action: GUARANTEE_DEBITED_ACTION,
            payload: &self.payload,
            projection: &self.recorded,
        }
    }
}

/// The guids of the CEB documents an append records, main event first.
pub fn ceb_guids(append: &crate::Append) -> impl Iterator<Item = &str> {
    std::iter::once(&append.projection)
        .chain(append.linked.iter().map(|linked| &linked.projection))
        .filter_map(|projection| match projection {
            Projection::CebDocument(d) => Some(d.guid.as_str()),
            _ => None,
        })
}

/// The roles in [`CEB_ROLES`] order, each once.
pub fn ordered_roles<'a>(roles: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let given: Vec<&str> = roles.into_iter().collect();
    CEB_ROLES
        .iter()
        .filter(|role| given.contains(role))
        .map(|role| (*role).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> CebDocumentRow {
        CebDocumentRow {
            guid: "4CDE1CFD-EDED-46B1-946C-B8022E42FC94".into(),
            kind: "order".into(),
            app_type: 1,
            sender_code: "3105961682".into(),
            ebp_code: Some("3105961682".into()),
            order_no: Some("order-1".into()),
            logistics_code: None,
            logistics_no: None,
            document: "{}".into(),
            message_digest: "a".repeat(64),
            received_at_ms: 0,
            recorded_seq: None,
        }
    }

    #[test]
    fn a_key_of_the_longest_length_is_kept_and_one_more_refused() {
        let mut d = document();
        d.order_no = Some("x".repeat(CEB_KEY_CHARS_MAX));
        assert_eq!(ceb_document_refusal(&d), None);
        d.order_no = Some("x".repeat(CEB_KEY_CHARS_MAX + 1));
        let why = ceb_document_refusal(&d).unwrap();
        assert!(
            why.starts_with("ceb_document.order_no: must be 1 to 64"),
            "{why}"
        );
        assert!(why.contains("长度须为"), "{why}");
    }

    #[test]
    fn a_document_of_the_largest_size_is_kept_and_one_byte_more_refused() {
        let mut d = document();
        let filler = CEB_DOCUMENT_JSON_BYTES_MAX - 2;
        d.document = format!("\"{}\"", "x".repeat(filler));
        assert_eq!(ceb_document_refusal(&d), None);
        d.document = format!("\"{}\"", "x".repeat(filler + 1));
        assert!(
            ceb_document_refusal(&d)
                .unwrap()
                .starts_with("ceb_document.document: is")
        );
    }

    #[test]
    fn each_kind_needs_its_keys() {
        let mut d = document();
        d.kind = "waybill".into();
        let why = ceb_document_refusal(&d).unwrap();
        assert!(
            why.starts_with("ceb_document.logistics_code: is required"),
            "{why}"
        );
        d.kind = "inventory".into();
        d.logistics_code = Some("3105961111".into());
        d.logistics_no = Some("SF1".into());
        assert_eq!(ceb_document_refusal(&d), None);
        d.order_no = None;
        assert!(
            ceb_document_refusal(&d)
                .unwrap()
                .starts_with("ceb_document.order_no")
        );
        let mut d = document();
        d.kind = "invoice".into();
        assert!(
            ceb_document_refusal(&d)
                .unwrap()
                .starts_with("ceb_document.kind")
        );
        let mut d = document();
        d.app_type = 4;
        assert!(
            ceb_document_refusal(&d)
                .unwrap()
                .starts_with("ceb_document.app_type")
        );
        let mut d = document();
        d.document = "{not json".into();
        assert!(ceb_document_refusal(&d).unwrap().contains("is not JSON"));
    }

    #[test]
    fn guarantee_movements_are_bounded() {
        let debit = |amount_fen| GuaranteeDebit {
            assure_code: "A1".into(),
            agent_code: "3105961682".into(),
            amount_fen,
            debit_ref: "L1".into(),
        };
        assert_eq!(
            guarantee_debit_refusal(&debit(GUARANTEE_MOVEMENT_FEN_MAX)),
            None
        );
        assert!(guarantee_debit_refusal(&debit(GUARANTEE_MOVEMENT_FEN_MAX + 1)).is_some());
        assert!(guarantee_debit_refusal(&debit(0)).is_some());
        assert!(guarantee_debit_refusal(&debit(-1)).is_some());
        assert_eq!(guarantee_balance_after(100, 100), Some(0));
        assert_eq!(guarantee_balance_after(99, 100), None);
        assert_eq!(guarantee_balance_after(i64::MIN, 1), None);
    }

    #[test]
    fn credit_backs_never_exceed_the_booking() {
        // A cancellation or the last return: all that remains.
        assert_eq!(
            cbec_credit_back_amount("O", 31_000, 0, None, None),
            Ok(31_000)
        );
        assert_eq!(
            cbec_credit_back_amount("O", 31_000, 10_100, None, None),
            Ok(20_900)
        );
        assert_eq!(
            cbec_credit_back_amount("O", 31_000, 31_000, None, None),
            Ok(0)
        );
        // A partial return: up to what remains, exactly; one fen more conflicts.
        assert_eq!(
            cbec_credit_back_amount("O", 31_000, 10_100, Some(20_900), Some(10_100)),
            Ok(20_900)
        );
        assert!(cbec_credit_back_amount("O", 31_000, 10_100, Some(20_901), None).is_err());
        // Decided on another state of the order's credit-backs: conflicts.
        let why = cbec_credit_back_amount("O", 31_000, 10_100, Some(100), Some(0)).unwrap_err();
        assert!(why.contains("meanwhile"), "{why}");
        let refused = |amount_fen, credited_before_fen| {
            ecommerce_refusal(
                &Projection::CbecCreditBack {
                    order_ref: "O".into(),
                    amount_fen,
                    credited_before_fen,
                },
                true,
            )
        };
        assert_eq!(refused(Some(GUARANTEE_MOVEMENT_FEN_MAX), Some(0)), None);
        assert!(
            refused(Some(0), None)
                .unwrap()
                .starts_with("cbec_credit_back.amount_fen")
        );
        assert!(
            refused(Some(1), Some(-1))
                .unwrap()
                .starts_with("cbec_credit_back.credited_before_fen")
        );
    }

    #[test]
    fn a_certificate_of_the_largest_size_is_kept_and_one_byte_more_refused() {
        let certificate = |len: usize| {
            let mut der = vec![0u8; len];
            der[0] = 0x30;
            CebCertificateRow {
                serial_number: "01AB".into(),
                der,
                added_seq: None,
            }
        };
        let refused = |c: &CebCertificateRow| certificate_refusal("3105961682", c, true);
        assert_eq!(refused(&certificate(CEB_CERTIFICATE_DER_BYTES_MAX)), None);
        assert!(refused(&certificate(CEB_CERTIFICATE_DER_BYTES_MAX + 1)).is_some());
        let mut pem = certificate(10);
        pem.der[0] = b'-';
        assert!(refused(&pem).unwrap().contains("not DER"));
    }

    #[test]
    fn roles_are_checked_and_ordered() {
        let mut e = CebEnterpriseRow {
            customs_code: Some("3105961682".into()),
            credit_code: None,
            name: "平台".into(),
            roles: vec!["agent".into(), "ebp".into()],
            registered_seq: None,
        };
        assert_eq!(ceb_enterprise_refusal(&e), None);
        assert_eq!(
            ordered_roles(e.roles.iter().map(String::as_str)),
            ["ebp", "agent"]
        );
        e.roles.push("bank".into());
        assert!(
            ceb_enterprise_refusal(&e)
                .unwrap()
                .starts_with("ceb_enterprise.roles[2]")
        );
        e.roles = CEB_ROLES.iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(ceb_enterprise_refusal(&e), None);
        e.roles.push("ebp".into());
        assert!(ceb_enterprise_refusal(&e).is_some());
    }

    #[test]
    fn a_refusal_reason_and_a_name_of_the_largest_size_are_kept_and_one_more_refused() {
        let refused = |reason: String| {
            ecommerce_refusal(
                &Projection::InventoryListChange {
                    id: "L-1".into(),
                    change: InventoryListChange::Refused { reason },
                },
                true,
            )
        };
        let fill = INVENTORY_REASON_JSON_BYTES_MAX - 2;
        assert_eq!(refused(format!("\"{}\"", "x".repeat(fill))), None);
        let why = refused(format!("\"{}\"", "x".repeat(fill + 1))).unwrap();
        assert!(why.starts_with("inventory_list.reason: is"), "{why}");

        let mut e = CebEnterpriseRow {
            customs_code: None,
            credit_code: Some("91310000MA1AGENT01".into()),
            name: "名".repeat(CEB_NAME_CHARS_MAX),
            roles: vec!["agent".into()],
            registered_seq: None,
        };
        assert_eq!(ceb_enterprise_refusal(&e), None);
        e.name.push('名');
        assert!(
            ceb_enterprise_refusal(&e)
                .unwrap()
                .starts_with("ceb_enterprise.name")
        );
    }

    proptest::proptest! {
        /// A debit passes exactly when the balance covers it, and leaves the exact difference.
        #[test]
        fn a_debit_never_overdraws(balance in 0i64..=i64::MAX, needed in 1i64..=GUARANTEE_MOVEMENT_FEN_MAX) {
            match guarantee_balance_after(balance, needed) {
                Some(after) => {
                    proptest::prop_assert!(balance >= needed);
                    proptest::prop_assert_eq!(after + needed, balance);
                    proptest::prop_assert!(after >= 0);
                }
                None => proptest::prop_assert!(balance < needed),
            }
        }
    }

    #[test]
    fn a_certificate_round_trips_through_the_recorded_projection() {
        let projection = Projection::AddCebCertificate {
            enterprise_code: "3105961682".into(),
            certificate: CebCertificateRow {
                serial_number: "01".into(),
                der: vec![0x30, 0x82, 0x00],
                added_seq: None,
            },
        };
        let text = serde_json::to_string(&projection).unwrap();
        assert!(text.contains(r#""der":"308200""#), "{text}");
        let back: Projection = serde_json::from_str(&text).unwrap();
        assert!(
            matches!(back, Projection::AddCebCertificate { certificate, .. }
            if certificate.der == [0x30, 0x82, 0x00])
        );
    }
}
