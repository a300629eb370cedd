//! Cross-border e-commerce messages (CEB, issue 15): orders (CEB311), payments (CEB411) and
//! waybills (CEB511) from the enterprises registered for those roles, inventory lists (清单,
//! CEB621), cancellations (CEB623) and returns (CEB625) from the declaring agent.
//!
//! A message is answered by its receipt. In order: the message must read (else CEB900); the
//! caller's enterprise must be the message's sender (`BaseTransfer/copCode`), registered for the
//! role the message needs, and the code each document names for that role must be its own or
//! that of an enterprise registered for the role that authorised the sender as its broker (a
//! transmitting enterprise, 传输企业, as in the official samples) (else `Forbidden`); the signature must verify against the sender's registered certificate (else
//! `Forbidden`). Then each document on its own: one with a problem of its own (its arithmetic)
//! is refused by its receipt (status 100, the fields named); a good one is recorded once (by its
//! guid: a resent message is answered again, not recorded again).
//!
//! Three-document matching (三单对碰): a list is recorded `waiting` until its order, payment and
//! waybill have all arrived, at most [`CEB_MATCH_WAIT_MAX_MS`] (configurable,
//! [`Clearance::set_ceb_match_wait_ms`]); each late document re-matches the lists waiting on it;
//! [`Clearance::sweep_ceb_waiting`] refuses those past their deadline. A list whose documents
//! disagree is refused field by field. An agreeing list becomes a declaration
//! (`ceb::to_declaration`, trader the e-commerce enterprise, declarant the agent, both from the
//! CEB register) lodged through the lodging path as the agent (so a broker authorisation of the
//! agent by the e-commerce enterprise is required unless they are one), assessed under the CBEC
//! regime, booked against the buyer's allowance, its taxes debited from the agent's guarantee
//! (`assureCode`) and the list accepted, all in one append; a guarantee that does not cover the
//! taxes refuses the list and writes nothing of the lodging.
//!
//! The order's `taxTotal` (what the platform withheld) is compared with the tax assessed and a
//! difference is *reported* in the acceptance receipt's info, not refused: the tax debited is
//! customs' assessment whatever the platform withheld, and the difference is between the
//! platform and its buyer.

mod returns;

use chrono::NaiveDateTime;
use domain::FieldError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{
    Append, AppendOutcome, CebDocumentRow, CebKey, CebRegistration, GuaranteeDebit,
    InventoryListChange, InventoryListRow, LinkedEvent, Principal, Projection, Store, UserRow,
};

use ceb::receipt::{DocumentReturn, FormatError, Receipt, ReceiptType, ReturnStatus};
use ceb::{Envelope, Message, MessageType};

use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::{Clearance, actor, request_digest};

/// How long an inventory list waits for its order, payment and waybill by default: 24 hours.
pub const CEB_MATCH_WAIT_MAX_MS: i64 = 24 * 3600 * 1000;
/// The longest wait that can be configured: 30 days.
pub const CEB_MATCH_WAIT_CONFIGURABLE_MAX_MS: i64 = 30 * 24 * 3600 * 1000;
/// How often the server sweeps the lists past their deadline.
pub const CEB_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// Lists refused by one sweep; the next sweep takes the rest.
pub const CEB_SWEEP_LISTS_MAX: usize = store::INVENTORY_LISTS_LISTED_MAX;
/// A kept document's pseudonym of an ID number: at most this many characters of its masked form,
/// `#`, and this many hex characters of its keyed hash: 60 characters at most, the schema's
/// longest `buyerIdNumber`.
const PSEUDONYM_MASKED_CHARS_MAX: usize = 19;
const PSEUDONYM_HASH_CHARS: usize = 40;
/// The idempotency scope of every CEB document's event: its guid is its key.
pub const CEB_IDEMPOTENCY_SCOPE: &str = "ceb";
/// China's time zone, in which receipts state their time.
const CHINA_OFFSET_SECONDS: i32 = 8 * 3600;

/// What a message gets back: its receipt, or a CEB900 when it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CebAnswer {
    /// CEB312, 412, 512, 622, 624 or 626: one entity per document.
    Receipt(String),
    /// CEB900: the message fails the schema.
    FormatError(String),
}

/// A list lodged by the CEB path: what `accept` adds to the lodging's append.
pub(crate) struct CebLodging {
    list_id: String,
    assure_code: String,
    agent_code: String,
    actor: store::Actor,
}

impl CebLodging {
    /// The list's acceptance as the declaration `declaration_id`, in the lodging's append.
    pub(crate) fn accepted(&self, declaration_id: &str) -> LinkedEvent {
        let change = InventoryListChange::Accepted {
            declaration_id: declaration_id.to_owned(),
        };
        LinkedEvent {
            actor: Some(self.actor.clone()),
            subject: list_subject(&self.list_id),
            action: "ceb.inventory_list.accepted".into(),
            payload: json!({ "list": self.list_id, "declaration_id": declaration_id }).to_string(),
            expected_version: None,
            projection: Projection::InventoryListChange {
                id: self.list_id.clone(),
                change,
            },
        }
    }

    /// The debit of the taxes assessed from the agent's guarantee; none when nothing is payable.
    pub(crate) fn debit(
        &self,
        figures: Option<&crate::AssessedFigures>,
    ) -> Result<Option<GuaranteeDebit>, ClearanceError> {
        let Some(figures) = figures else {
            return Ok(None);
        };
        let fen = (ceb::arithmetic::to_fen(figures.total_payable) * Decimal::ONE_HUNDRED)
            .to_i64()
            .ok_or_else(|| anyhow::anyhow!("taxes {} out of range", figures.total_payable))?;
        Ok((fen > 0).then(|| GuaranteeDebit {
            assure_code: self.assure_code.clone(),
            agent_code: self.agent_code.clone(),
            amount_fen: fen,
            debit_ref: self.list_id.clone(),
        }))
    }

    /// The taxes the debit took from the agent's guarantee, recorded on the declaration as
    /// guaranteed (as an officer records a guarantee): the list's taxes are settled by the
    /// debit, so its goods are not held as unpaid. In the lodging's append, with the debit.
    pub(crate) fn covered(&self, declaration_id: &str, debit: &GuaranteeDebit) -> LinkedEvent {
        let amount = tariff::money::fen_text(Decimal::new(debit.amount_fen, 2));
        LinkedEvent {
            actor: Some(crate::system_actor()),
            subject: declaration_id.to_owned(),
            action: crate::payments::PAID_ACTION.into(),
            payload: json!({
                "kind": "guarantee",
                "amount": amount,
                "reference": debit.assure_code,
                "list": self.list_id,
            })
            .to_string(),
            expected_version: None,
            projection: Projection::Nothing,
        }
    }
}

fn list_subject(id: &str) -> String {
    format!("ceb-list:{id}")
}

fn kind_of(t: MessageType) -> &'static str {
    match t {
        MessageType::Order => "order",
        MessageType::Payment => "payment",
        MessageType::Waybill => "waybill",
        MessageType::Inventory => "inventory",
        MessageType::Cancellation => "cancellation",
        MessageType::Return => "return",
    }
}

/// The CEB role a message's sender must be registered for, and the element naming it.
fn role_of(t: MessageType) -> (&'static str, &'static str) {
    match t {
        MessageType::Order => ("ebp", "ebpCode"),
        MessageType::Payment => ("payment", "payCode"),
        MessageType::Waybill => ("logistics", "logisticsCode"),
        MessageType::Inventory | MessageType::Cancellation | MessageType::Return => {
            ("agent", "agentCode")
        }
    }
}

fn head_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Order => "OrderHead",
        MessageType::Payment => "PaymentHead",
        MessageType::Waybill => "LogisticsHead",
        MessageType::Inventory => "InventoryHead",
        MessageType::Cancellation => "InvtCancel",
        MessageType::Return => "InvtRefundHead",
    }
}

/// One document of a message, typed. Held one message at a time, never in bulk: the size of
/// its largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
enum OneDocument {
    Order(ceb::Order),
    Payment(ceb::Payment),
    Waybill(ceb::Waybill),
    Inventory(ceb::Inventory),
    Cancellation(ceb::Cancellation),
    Return(ceb::Return),
}

impl OneDocument {
    fn all(message: &Message) -> Vec<OneDocument> {
        fn each<T: Clone>(e: &Envelope<T>, one: fn(T) -> OneDocument) -> Vec<OneDocument> {
            e.documents.iter().cloned().map(one).collect()
        }
        match message {
            Message::Orders(e) => each(e, OneDocument::Order),
            Message::Payments(e) => each(e, OneDocument::Payment),
            Message::Waybills(e) => each(e, OneDocument::Waybill),
            Message::Inventories(e) => each(e, OneDocument::Inventory),
            Message::Cancellations(e) => each(e, OneDocument::Cancellation),
            Message::Returns(e) => each(e, OneDocument::Return),
        }
    }

    fn role_code(&self) -> &str {
        match self {
            OneDocument::Order(d) => &d.ebp_code,
            OneDocument::Payment(d) => &d.pay_code,
            OneDocument::Waybill(d) => &d.logistics_code,
            OneDocument::Inventory(d) => &d.agent_code,
            OneDocument::Cancellation(d) => &d.agent_code,
            OneDocument::Return(d) => &d.agent_code,
        }
    }

    fn application(&self) -> &ceb::Application {
        match self {
            OneDocument::Order(d) => &d.application,
            OneDocument::Payment(d) => &d.application,
            OneDocument::Waybill(d) => &d.application,
            OneDocument::Inventory(d) => &d.application,
            OneDocument::Cancellation(d) => &d.application,
            OneDocument::Return(d) => &d.application,
        }
    }

    /// The receipt entity's keys, without status and info.
    fn keys(&self) -> DocumentReturn {
        let guid = self.application().guid.clone();
        let keys = match self {
            OneDocument::Order(d) => DocumentReturn::order(d),
            OneDocument::Payment(d) => DocumentReturn::payment(d),
            OneDocument::Waybill(d) => DocumentReturn::waybill(d),
            OneDocument::Inventory(d) => DocumentReturn::inventory(d, &pre_no(&guid)),
            OneDocument::Cancellation(d) => DocumentReturn::cancellation(d, &pre_no(&guid)),
            OneDocument::Return(d) => DocumentReturn::refund(d, &pre_no(&guid)),
        };
        // A list's receipt must name a copNo; one sent without gets the pre-entry number there.
        let cop_no = match self {
            OneDocument::Inventory(_) | OneDocument::Cancellation(_) | OneDocument::Return(_) => {
                keys.cop_no.clone().or_else(|| keys.pre_no.clone())
            }
            _ => keys.cop_no.clone(),
        };
        DocumentReturn {
            guid,
            cop_no,
            ..keys
        }
    }

    /// The document alone as a message of its type (unsigned), as the store keeps it: read back
    /// with `ceb::parse` when it is matched.
    fn alone(&self, envelope_guid: &str, base: &ceb::BaseTransfer) -> Message {
        fn one<T: Clone>(d: &T, guid: &str, base: &ceb::BaseTransfer) -> Envelope<T> {
            Envelope {
                guid: guid.to_owned(),
                version: "1.0".into(),
                documents: vec![d.clone()],
                base_transfer: base.clone(),
            }
        }
        match self {
            OneDocument::Order(d) => Message::Orders(one(d, envelope_guid, base)),
            OneDocument::Payment(d) => Message::Payments(one(d, envelope_guid, base)),
            OneDocument::Waybill(d) => Message::Waybills(one(d, envelope_guid, base)),
            OneDocument::Inventory(d) => Message::Inventories(one(d, envelope_guid, base)),
            OneDocument::Cancellation(d) => Message::Cancellations(one(d, envelope_guid, base)),
            OneDocument::Return(d) => Message::Returns(one(d, envelope_guid, base)),
        }
    }
}

/// The platform's 18-character pre-entry number of a list (or cancellation, return): made from
/// its guid, so the same document always gets the same one.
fn pre_no(guid: &str) -> String {
    let digest = Sha256::digest(guid.as_bytes());
    format!("CEB{}", &hex::encode_upper(digest)[..15])
}

fn field_errors_json(errors: &[FieldError]) -> Value {
    json!({
        "errors": errors.iter().map(|e| json!({
            "path": e.path, "code": e.code.as_str(), "message_en": e.message_en, "message_zh": e.message_zh,
        })).collect::<Vec<_>>()
    })
}

fn info_of(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {} / {}", e.path, e.message_en, e.message_zh))
        .collect::<Vec<_>>()
        .join("\n")
}

fn disagreement_errors(found: &[ceb::matching::Disagreement]) -> Vec<FieldError> {
    found
        .iter()
        .map(|d| FieldError {
            path: d.field.clone(),
            code: domain::ErrorCode::NotAllowed,
            message_en: format!(
                "{} {} is {}, {} {} is {}: {}",
                d.document.name_en(),
                d.field,
                d.value,
                d.other.name_en(),
                d.other_field,
                d.other_value,
                d.message_en
            ),
            message_zh: format!(
                "{}{}为 {}，{}{}为 {}：{}",
                d.document.name_zh(),
                d.field,
                d.value,
                d.other.name_zh(),
                d.other_field,
                d.other_value,
                d.message_zh
            ),
        })
        .map(FieldError::bounded)
        .collect()
}

fn who(en: &str, zh: &str, errors: Vec<FieldError>) -> ClearanceError {
    ClearanceError::Forbidden {
        message_en: en.to_owned(),
        message_zh: zh.to_owned(),
        errors,
    }
}

/// Where an inventory list stands, as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryListView {
    pub list: InventoryListRow,
    /// The declaration's number, once accepted.
    pub declaration_number: Option<String>,
    /// The list's receipt (CEB622) as it stands now.
    pub receipt: String,
}

/// How a list's matching ended, for its receipt.
enum Matched {
    Waiting {
        missing: Vec<&'static str>,
    },
    Refused {
        errors: Vec<FieldError>,
    },
    Accepted {
        number: String,
        released: bool,
        info: String,
    },
    /// The list was no longer waiting (decided by another message meanwhile).
    Decided,
}

impl<S: Store> Clearance<S> {
    /// How long lists wait for their documents from now on (at most
    /// [`CEB_MATCH_WAIT_CONFIGURABLE_MAX_MS`]).
    pub fn set_ceb_match_wait_ms(&self, ms: i64) {
        self.ceb_match_wait_ms.store(
            ms.clamp(1, CEB_MATCH_WAIT_CONFIGURABLE_MAX_MS),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    fn ceb_match_wait(&self) -> i64 {
        self.ceb_match_wait_ms
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn china_time(&self) -> NaiveDateTime {
        let offset = chrono::FixedOffset::east_opt(CHINA_OFFSET_SECONDS).expect("UTC+8");
        self.now().with_timezone(&offset).naive_local()
    }

    fn receipt_guid() -> String {
        uuid::Uuid::new_v4().to_string().to_uppercase()
    }

    fn render(receipt: &Receipt) -> Result<String, ClearanceError> {
        ceb::receipt::render(receipt).map_err(|errors| {
            ClearanceError::Internal(anyhow::anyhow!(
                "a receipt the schema refuses: {}",
                info_of(&errors)
            ))
        })
    }

    /// Receives one CEB message from `caller` (see the module's description) and answers it.
    #[tracing::instrument(name = "receiving a CEB message", skip_all, fields(user = caller.user_id()))]
    pub async fn receive_ceb(
        &self,
        caller: &Caller,
        bytes: &[u8],
    ) -> Result<CebAnswer, ClearanceError> {
        caller.require(Action::Lodge)?;
        let read = match ceb::read(bytes) {
            Ok(read) => read,
            Err(refusal) => {
                let guid = Self::receipt_guid();
                let error = FormatError::from_refusal(&refusal, &guid, bytes, self.china_time());
                return Ok(CebAnswer::FormatError(Self::render(
                    &Receipt::FormatError { guid, error },
                )?));
            }
        };
        let message_type = read.message.message_type();
        let registration = self.ceb_sender(caller, &read.message).await?;
        let certificate = registration.certificate.as_ref().ok_or_else(|| {
            who(
                "the sending enterprise has no signing certificate registered",
                "发送企业未登记签名证书",
                vec![FieldError::required(format!(
                    "{}/Signature",
                    message_type.root_name()
                ))],
            )
        })?;
        if let Err(e) = self.ceb_keys.verify(bytes, &certificate.der) {
            return Err(who(
                "the message's signature does not verify against the sender's registered certificate",
                "报文签名未能以发送企业登记的证书验证通过",
                vec![e.to_field_error()],
            ));
        }
        let digest = hex::encode(Sha256::digest(bytes));
        let base = read.message.base_transfer().clone();
        let documents = OneDocument::all(&read.message);
        let mut returns = Vec::with_capacity(documents.len());
        for (document, problems) in documents.iter().zip(&read.problems) {
            let keys = document.keys();
            let (status, info, invt_no) = if problems.is_empty() {
                self.receive_document(caller, document, &base, &digest)
                    .await?
            } else {
                (ReturnStatus::Refused, info_of(problems), None)
            };
            returns.push(DocumentReturn {
                status: Some(status),
                time: Some(self.china_time()),
                info,
                invt_no: invt_no.or(keys.invt_no.clone()),
                ..keys
            });
        }
        let receipt = Receipt::Documents {
            receipt: ReceiptType::answering(message_type),
            guid: Self::receipt_guid(),
            returns,
        };
        Ok(CebAnswer::Receipt(Self::render(&receipt)?))
    }

    /// The sender's registration, if the caller is the message's sender and registered for its
    /// role, and every document names it in that role.
    async fn ceb_sender(
        &self,
        caller: &Caller,
        message: &Message,
    ) -> Result<CebRegistration, ClearanceError> {
        let t = message.message_type();
        let root = t.root_name();
        let cop_code = &message.base_transfer().cop_code;
        let cop_path = format!("{root}/BaseTransfer/copCode");
        let own = caller
            .principal
            .enterprise
            .as_ref()
            .is_some_and(|e| &e.customs_code == cop_code || &e.credit_code == cop_code);
        if !own {
            return Err(who(
                "the message's sender is not your enterprise",
                "报文发送企业不是贵单位",
                vec![FieldError::not_allowed(
                    &cop_path,
                    "is not the code of the caller's enterprise",
                    "不是调用方所属企业的代码",
                )],
            ));
        }
        let (role, element) = role_of(t);
        let registration = self.ceb_registration(cop_code).await?;
        let Some(registration) =
            registration.filter(|r| r.enterprise.roles.iter().any(|x| x == role))
        else {
            return Err(who(
                "the sending enterprise is not registered for this CEB role",
                "发送企业未登记此跨境电商角色",
                vec![FieldError::not_allowed(
                    &cop_path,
                    &format!("is not registered for the CEB role {role}"),
                    &format!("未登记跨境电商角色 {role}"),
                )],
            ));
        };
        let codes = [
            registration.enterprise.customs_code.as_deref(),
            registration.enterprise.credit_code.as_deref(),
        ];
        let mut errors = Vec::new();
        for (i, d) in OneDocument::all(message).iter().enumerate() {
            let code = d.role_code();
            if codes.contains(&Some(code)) || self.transmits_for(caller, code, role).await? {
                continue;
            }
            errors.push(FieldError::not_allowed(
                format!(
                    "{root}/{}[{}]/{}/{element}",
                    t.document_name(),
                    i + 1,
                    head_name(t)
                ),
                "is neither the sending enterprise nor an enterprise registered for the role that authorised it",
                "既不是发送企业，也不是已登记该角色并授权发送企业的企业",
            ));
        }
        if !errors.is_empty() {
            return Err(who(
                "a document names another enterprise in the sender's role",
                "单证所列该角色企业不是发送企业",
                errors,
            ));
        }
        Ok(registration)
    }

    /// The document with its buyer's (payer's) ID number replaced by a pseudonym, and the
    /// number's keyed hash and masked form.
    fn pseudonymised(
        &self,
        document: &OneDocument,
    ) -> Result<(OneDocument, (String, String)), ClearanceError> {
        let key = self.config.buyer_id_key.as_ref().ok_or_else(|| {
            ClearanceError::Unavailable(
                "no buyer-identity key is configured: CEB messages cannot be received".into(),
            )
        })?;
        let protect = |number: &mut ceb::IdNumber| {
            let hash = key.hash("resident_id", &number.0);
            let masked = number.masked();
            let short: String = masked.chars().take(PSEUDONYM_MASKED_CHARS_MAX).collect();
            *number = ceb::IdNumber(format!("{short}#{}", &hash[..PSEUDONYM_HASH_CHARS]));
            (hash, masked)
        };
        let mut kept = match document {
            OneDocument::Order(d) => OneDocument::Order(d.clone()),
            OneDocument::Payment(d) => OneDocument::Payment(d.clone()),
            OneDocument::Waybill(d) => OneDocument::Waybill(d.clone()),
            OneDocument::Inventory(d) => OneDocument::Inventory(d.clone()),
            OneDocument::Cancellation(d) => OneDocument::Cancellation(d.clone()),
            OneDocument::Return(d) => OneDocument::Return(d.clone()),
        };
        let buyer = match &mut kept {
            OneDocument::Order(d) => protect(&mut d.buyer_id_number),
            OneDocument::Payment(d) => protect(&mut d.payer_id_number),
            OneDocument::Waybill(_) => (String::new(), String::new()),
            OneDocument::Inventory(d) => protect(&mut d.buyer_id_number),
            OneDocument::Cancellation(d) => protect(&mut d.buyer_id_number),
            OneDocument::Return(d) => protect(&mut d.buyer_id_number),
        };
        Ok((kept, buyer))
    }

    /// Whether the enterprise `code` is registered for `role` and authorised the caller's
    /// enterprise to act for it (a broker authorisation): a transmitting enterprise (传输企业,
    /// `copCode`) then sends its documents.
    async fn transmits_for(
        &self,
        caller: &Caller,
        code: &str,
        role: &str,
    ) -> Result<bool, ClearanceError> {
        let Some(registration) = self.ceb_registration(code).await? else {
            return Ok(false);
        };
        let enterprise = registration.enterprise;
        Ok(enterprise.roles.iter().any(|r| r == role)
            && enterprise
                .credit_code
                .is_some_and(|credit| caller.principal.principals.contains(&credit)))
    }

    /// Records one good document and decides what its receipt says: status, info and, for a
    /// list, its declaration number.
    async fn receive_document(
        &self,
        caller: &Caller,
        document: &OneDocument,
        base: &ceb::BaseTransfer,
        digest: &str,
    ) -> Result<(ReturnStatus, String, Option<String>), ClearanceError> {
        let app = document.application();
        let guid = app.guid.clone();
        // The buyer's (payer's) ID number never reaches the store: the documents are kept with a
        // pseudonym (its masked form and part of its keyed hash: equal for equal numbers, so
        // matching still compares them), the full hash beside them for the allowance.
        let (kept, buyer) = self.pseudonymised(document)?;
        let alone = kept.alone(&Self::receipt_guid(), base);
        let message_type = alone.message_type();
        let mut row = CebDocumentRow {
            guid: guid.clone(),
            kind: kind_of(message_type).into(),
            app_type: app.app_type.code().parse().unwrap_or(1),
            sender_code: base.cop_code.clone(),
            ebp_code: None,
            order_no: None,
            logistics_code: None,
            logistics_no: None,
            document: json!({
                "xml": kept_xml(&alone),
                "buyer_id_hash": buyer.0,
                "buyer_id_masked": buyer.1,
            })
            .to_string(),
            message_digest: digest.to_owned(),
            received_at_ms: self.now().timestamp_millis(),
            recorded_seq: None,
        };
        let mut linked = Vec::new();
        match document {
            OneDocument::Order(d) => {
                row.ebp_code = Some(d.ebp_code.clone());
                row.order_no = Some(d.order_no.clone());
            }
            OneDocument::Payment(d) => {
                row.ebp_code = Some(d.ebp_code.clone());
                row.order_no = Some(d.order_no.clone());
            }
            OneDocument::Waybill(d) => {
                row.logistics_code = Some(d.logistics_code.clone());
                row.logistics_no = Some(d.logistics_no.clone());
            }
            OneDocument::Inventory(d) => {
                row.ebp_code = Some(d.ebp_code.clone());
                row.order_no = Some(d.order_no.clone());
                row.logistics_code = Some(d.logistics_code.clone());
                row.logistics_no = Some(d.logistics_no.clone());
                let list = InventoryListRow {
                    id: guid.clone(),
                    ebp_code: d.ebp_code.clone(),
                    order_no: d.order_no.clone(),
                    logistics_code: d.logistics_code.clone(),
                    logistics_no: d.logistics_no.clone(),
                    agent_code: d.agent_code.clone(),
                    status: "waiting".into(),
                    deadline_ms: self.now().timestamp_millis() + self.ceb_match_wait(),
                    declaration_id: None,
                    reason: None,
                    created_seq: None,
                    status_seq: None,
                };
                linked.push(LinkedEvent {
                    actor: None,
                    subject: list_subject(&guid),
                    action: "ceb.inventory_list.waiting".into(),
                    payload: json!({ "list": guid, "deadline_ms": list.deadline_ms }).to_string(),
                    expected_version: None,
                    projection: Projection::InventoryListWaiting(list),
                });
            }
            OneDocument::Cancellation(d) => {
                row.ebp_code = Some(d.ebp_code.clone());
                row.order_no = Some(d.order_no.clone());
                row.logistics_code = Some(d.logistics_code.clone());
                row.logistics_no = Some(d.logistics_no.clone());
            }
            OneDocument::Return(d) => {
                row.ebp_code = Some(d.ebp_code.clone());
                row.order_no = Some(d.order_no.clone());
                row.logistics_code = Some(d.logistics_code.clone());
                row.logistics_no = Some(d.logistics_no.clone());
            }
        }
        // Cancellations and returns are checked against their list before anything is recorded.
        // Compared as kept: the list's buyer is a pseudonym, so is this document's.
        let after = match &kept {
            OneDocument::Cancellation(c) => match self.list_of(&c.ebp_code, &c.order_no).await? {
                None => {
                    return Ok(no_list("InvtCancel/orderNo"));
                }
                Some((list, inventory)) => {
                    let found = ceb::matching::compare_cancellation(c, &inventory);
                    if !found.is_empty() {
                        let errors = disagreement_errors(&found);
                        return Ok((ReturnStatus::Refused, info_of(&errors), None));
                    }
                    match self.cancellation_of(list, c, &guid).await? {
                        Ok(outcome) => Some(outcome),
                        Err(refused) => return Ok(refused),
                    }
                }
            },
            OneDocument::Return(r) => match self.list_of(&r.ebp_code, &r.order_no).await? {
                None => return Ok(no_list("InvtRefundHead/orderNo")),
                Some((list, inventory)) => {
                    let found = ceb::matching::compare_return(r, &inventory);
                    if !found.is_empty() {
                        let errors = disagreement_errors(&found);
                        return Ok((ReturnStatus::Refused, info_of(&errors), None));
                    }
                    if list.status != "accepted" {
                        return Ok(not_in_state(&list, "InvtRefundHead/invtNo"));
                    }
                    if let Some(refused) = self
                        .other_number(&list, &r.invt_no, "InvtRefundHead/invtNo")
                        .await?
                    {
                        return Ok(refused);
                    }
                    match self.return_of(list, &inventory, r).await? {
                        Ok(outcome) => Some(outcome),
                        Err(refused) => return Ok(refused),
                    }
                }
            },
            _ => None,
        };
        if let Some(outcome) = &after {
            linked.extend(outcome.linked(&guid));
        }
        let kind = row.kind.clone();
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: format!("ceb:{kind}:{guid}"),
            action: format!("ceb.{kind}.received"),
            idempotency_scope: CEB_IDEMPOTENCY_SCOPE.into(),
            idempotency_key: guid.clone(),
            request_digest: digest.to_owned(),
            payload: json!({ "guid": guid, "kind": kind, "sender": base.cop_code, "message_digest": digest })
                .to_string(),
            expected_version: None,
            projection: Projection::CebDocument(row),
            linked,
            cbec_purchase: None,
            guarantee_debit: None,
        };
        let release = after
            .as_ref()
            .filter(|outcome| outcome.releases_debit())
            .map(|outcome| outcome.list.id.clone());
        match self.append_with_release(append, release).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::CebDocumentAlready { .. } | AppendOutcome::Duplicate { .. } => {
                return self.answer_again(document).await;
            }
            other => return Err(crate::refusal(other)),
        }
        match document {
            OneDocument::Order(d) => {
                self.rematch(CebKey::Order {
                    ebp_code: d.ebp_code.clone(),
                    order_no: d.order_no.clone(),
                })
                .await?;
                Ok(accepted_document())
            }
            OneDocument::Payment(d) => {
                self.rematch(CebKey::Order {
                    ebp_code: d.ebp_code.clone(),
                    order_no: d.order_no.clone(),
                })
                .await?;
                Ok(accepted_document())
            }
            OneDocument::Waybill(d) => {
                self.rematch(CebKey::Waybill {
                    logistics_code: d.logistics_code.clone(),
                    logistics_no: d.logistics_no.clone(),
                })
                .await?;
                Ok(accepted_document())
            }
            OneDocument::Inventory(_) => {
                let list = self
                    .store
                    .inventory_list(&guid)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("list {guid} recorded and not found"))?;
                let matched = self.try_match(&list).await?;
                self.list_answer(&guid, matched).await
            }
            OneDocument::Cancellation(_) | OneDocument::Return(_) => Ok((
                ReturnStatus::Accepted,
                after.map(|outcome| outcome.info).unwrap_or_default(),
                None,
            )),
        }
    }

    /// A refusal when the list was accepted as a declaration whose number is not `invt_no`.
    async fn other_number(
        &self,
        list: &InventoryListRow,
        invt_no: &str,
        path: &str,
    ) -> Result<Option<(ReturnStatus, String, Option<String>)>, ClearanceError> {
        let Some(id) = &list.declaration_id else {
            return Ok(None);
        };
        let number = self
            .store
            .declaration(id)
            .await?
            .map(|d| d.number)
            .unwrap_or_default();
        if number == invt_no {
            return Ok(None);
        }
        let e = FieldError::not_allowed(
            path,
            &format!("the list of this order was accepted as {number}"),
            &format!("该订单的清单编号为 {number}"),
        );
        Ok(Some((ReturnStatus::Refused, info_of(&[e]), None)))
    }

    /// Appends, releasing the list's guarantee debit in the same append when it has one.
    async fn append_with_release(
        &self,
        mut append: Append,
        release: Option<String>,
    ) -> Result<AppendOutcome, ClearanceError> {
        let Some(list_id) = release else {
            return Ok(self.store.append(append).await?);
        };
        let Some(assure_code) = self.assure_code_of(&list_id).await? else {
            return Ok(self.store.append(append).await?);
        };
        let without = append.clone();
        append.linked.push(LinkedEvent {
            actor: None,
            subject: store::guarantee_subject(&assure_code),
            action: "guarantee.debit_released".into(),
            payload: json!({ "assure_code": assure_code, "debit_ref": list_id }).to_string(),
            expected_version: None,
            projection: Projection::ReleaseGuaranteeDebit {
                assure_code,
                debit_ref: list_id,
            },
        });
        match self.store.append(append).await {
            // A list whose taxes were nil had no debit to release.
            Err(store::StoreError::NotFound(what)) if what.starts_with("guarantee debit") => {
                Ok(self.store.append(without).await?)
            }
            other => Ok(other?),
        }
    }

    async fn assure_code_of(&self, list_id: &str) -> Result<Option<String>, ClearanceError> {
        Ok(self
            .stored_document(list_id)
            .await?
            .and_then(|m| match m {
                Message::Inventories(e) => e.documents.into_iter().next(),
                _ => None,
            })
            .map(|i| i.assure_code))
    }

    /// A stored document read back.
    async fn stored_document(&self, guid: &str) -> Result<Option<Message>, ClearanceError> {
        let Some(row) = self.store.ceb_document(guid).await? else {
            return Ok(None);
        };
        stored_message(&row).map(Some)
    }

    /// The list of an order, with its document.
    async fn list_of(
        &self,
        ebp_code: &str,
        order_no: &str,
    ) -> Result<Option<(InventoryListRow, ceb::Inventory)>, ClearanceError> {
        let documents = self
            .store
            .ceb_documents_for_order(ebp_code, order_no)
            .await?;
        let Some(row) = documents.iter().find(|d| d.kind == "inventory") else {
            return Ok(None);
        };
        let Some(list) = self.store.inventory_list(&row.guid).await? else {
            return Ok(None);
        };
        match stored_message(row)? {
            Message::Inventories(e) => Ok(e.documents.into_iter().next().map(|i| (list, i))),
            _ => Ok(None),
        }
    }

    /// A document received before is answered as it stands now.
    async fn answer_again(
        &self,
        document: &OneDocument,
    ) -> Result<(ReturnStatus, String, Option<String>), ClearanceError> {
        match document {
            OneDocument::Inventory(d) => {
                let guid = &d.application.guid;
                match self.store.inventory_list(guid).await? {
                    Some(list) => {
                        let (status, info, number) = self.list_state(&list).await?;
                        Ok((status, info, number))
                    }
                    None => Ok(accepted_document()),
                }
            }
            _ => Ok((
                ReturnStatus::Accepted,
                "received before: recorded once / 重复报文：已入库，不重复记录".into(),
                None,
            )),
        }
    }

    /// Re-matches the lists waiting on a document that arrived.
    async fn rematch(&self, key: CebKey) -> Result<(), ClearanceError> {
        for list in self.store.inventory_lists_waiting(&key).await? {
            self.try_match(&list).await?;
        }
        Ok(())
    }

    /// Matches a waiting list with its documents and, if they agree, lodges it.
    async fn try_match(&self, list: &InventoryListRow) -> Result<Matched, ClearanceError> {
        if list.status != "waiting" {
            return Ok(Matched::Decided);
        }
        let Some(Message::Inventories(e)) = self.stored_document(&list.id).await? else {
            return Err(anyhow::anyhow!("list {} without its document", list.id).into());
        };
        let inventory = e
            .documents
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("list {} without its document", list.id))?;
        let for_order = self
            .store
            .ceb_documents_for_order(&list.ebp_code, &list.order_no)
            .await?;
        let mut order = None;
        let mut payment = None;
        for row in &for_order {
            match stored_message(row)? {
                Message::Orders(e) if row.kind == "order" => order = e.documents.into_iter().next(),
                Message::Payments(e) if row.kind == "payment" => {
                    payment = e.documents.into_iter().next()
                }
                _ => {}
            }
        }
        let waybill = match self
            .store
            .ceb_waybill(&list.logistics_code, &list.logistics_no)
            .await?
        {
            Some(row) => match stored_message(&row)? {
                Message::Waybills(e) => e.documents.into_iter().next(),
                _ => None,
            },
            None => None,
        };
        let (Some(order), Some(payment), Some(waybill)) = (order, payment, waybill) else {
            let missing = [
                (
                    "order (CEB311)",
                    for_order.iter().any(|r| r.kind == "order"),
                ),
                (
                    "payment (CEB411)",
                    for_order.iter().any(|r| r.kind == "payment"),
                ),
                ("waybill (CEB511)", false),
            ];
            let mut names: Vec<&'static str> = missing
                .iter()
                .filter(|(_, had)| !had)
                .map(|(n, _)| *n)
                .collect();
            if self
                .store
                .ceb_waybill(&list.logistics_code, &list.logistics_no)
                .await?
                .is_some()
            {
                names.retain(|n| !n.starts_with("waybill"));
            }
            return Ok(Matched::Waiting { missing: names });
        };
        let found = ceb::matching::compare(&inventory, &order, &payment, &waybill);
        if !found.is_empty() {
            return self.refuse_list(list, disagreement_errors(&found)).await;
        }
        match self.lodge_list(list, &inventory, &order).await {
            Ok(matched) => Ok(matched),
            // Another message matched the list at the same moment and lodged it (the list's
            // acceptance and its debit are each written once): this one has nothing to add.
            Err(ClearanceError::Conflict) => Ok(Matched::Decided),
            Err(ClearanceError::Invalid(errors)) => self.refuse_list(list, errors).await,
            Err(ClearanceError::Forbidden {
                message_en,
                message_zh,
                errors,
            }) => {
                let errors = if errors.is_empty() {
                    vec![FieldError::not_allowed(
                        "InventoryHead/agentCode",
                        &message_en,
                        &message_zh,
                    )]
                } else {
                    errors
                };
                self.refuse_list(list, errors).await
            }
            Err(other) => Err(other),
        }
    }

    async fn refuse_list(
        &self,
        list: &InventoryListRow,
        errors: Vec<FieldError>,
    ) -> Result<Matched, ClearanceError> {
        let mut reason = field_errors_json(&errors).to_string();
        if reason.len() > store::INVENTORY_REASON_JSON_BYTES_MAX {
            let kept: Vec<FieldError> = errors.iter().take(20).cloned().collect();
            reason = field_errors_json(&kept).to_string();
        }
        let change = InventoryListChange::Refused { reason };
        match self
            .change_list(list, change, "ceb.inventory_list.refused")
            .await?
        {
            true => Ok(Matched::Refused { errors }),
            false => Ok(Matched::Decided),
        }
    }

    /// Appends a change of a list as the system; `false` when the list was no longer in a state
    /// the change starts from (decided meanwhile).
    async fn change_list(
        &self,
        list: &InventoryListRow,
        change: InventoryListChange,
        action: &str,
    ) -> Result<bool, ClearanceError> {
        let payload = json!({ "list": list.id, "change": change }).to_string();
        let append = Append {
            actor: crate::system_actor(),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: list_subject(&list.id),
            action: action.to_owned(),
            idempotency_scope: CEB_IDEMPOTENCY_SCOPE.into(),
            idempotency_key: format!("{}:{action}", list.id),
            request_digest: request_digest(action, payload.as_bytes()),
            payload,
            expected_version: None,
            projection: Projection::InventoryListChange {
                id: list.id.clone(),
                change,
            },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(true),
            Ok(AppendOutcome::Duplicate { .. }) => Ok(false),
            Ok(other) => Err(crate::refusal(other)),
            Err(store::StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// The list as a declaration, lodged as its agent.
    async fn lodge_list(
        &self,
        list: &InventoryListRow,
        inventory: &ceb::Inventory,
        order: &ceb::Order,
    ) -> Result<Matched, ClearanceError> {
        let agent = self
            .ceb_party(&inventory.agent_code, "InventoryHead/agentCode")
            .await?;
        let trader = self
            .ceb_party(&inventory.ebc_code, "InventoryHead/ebcCode")
            .await?;
        let parties = ceb::Parties {
            declarant: agent.clone(),
            trader: trader.clone(),
        };
        let mut dto =
            ceb::to_declaration(inventory, order, &parties).map_err(ClearanceError::Invalid)?;
        let kept: Value = match self.store.ceb_document(&list.id).await? {
            Some(row) => serde_json::from_str(&row.document).map_err(anyhow::Error::from)?,
            None => Value::Null,
        };
        if let (Some(hash), Some(masked), Some(buyer)) = (
            kept["buyer_id_hash"].as_str(),
            kept["buyer_id_masked"].as_str(),
            dto.cbec_order.as_mut().and_then(|o| o.buyer.as_mut()),
        ) {
            buyer.id_number = None;
            buyer.id_hash = Some(hash.to_owned());
            buyer.id_masked = Some(masked.to_owned());
        }
        let body = serde_json::to_vec(&dto).map_err(anyhow::Error::from)?;
        let caller = self.agent_caller(&agent, &trader).await?;
        let key = format!("ceb-list:{}", list.id);
        let digest = request_digest("lodge", &body);
        let lodging = CebLodging {
            list_id: list.id.clone(),
            assure_code: inventory.assure_code.clone(),
            agent_code: list.agent_code.clone(),
            actor: actor(&caller),
        };
        let view = match self
            .accept(
                &caller,
                &key,
                &digest,
                &body,
                None,
                wire::MessageFormat::Json,
                Some(&lodging),
            )
            .await?
        {
            Some(view) => view,
            None => return Ok(Matched::Decided),
        };
        let assessed = view
            .amount_due
            .as_deref()
            .and_then(|a| a.parse::<Decimal>().ok())
            .unwrap_or_default();
        let mut info = format!(
            "accepted as declaration {}, taxes {} CNY debited from guarantee {} / 已入库，报关单号 {}，税款 {} 元已从担保 {} 扣减",
            view.number,
            ceb::arithmetic::to_fen(assessed),
            inventory.assure_code,
            view.number,
            ceb::arithmetic::to_fen(assessed),
            inventory.assure_code
        );
        if let Some(d) = ceb::matching::compare_tax(order, assessed) {
            info.push_str(&format!("\n{}", info_of(&disagreement_errors(&[d]))));
        }
        Ok(Matched::Accepted {
            number: view.number,
            released: view.status == "released",
            info,
        })
    }

    /// An enterprise of the CEB register as a declaration party: it must be registered for CEB
    /// with its credit code (the declaration's parties are known by it).
    async fn ceb_party(
        &self,
        code: &str,
        path: &str,
    ) -> Result<wire::declaration::EnterpriseDto, ClearanceError> {
        let registration = self.ceb_registration(code).await?;
        let Some(enterprise) = registration.map(|r| r.enterprise) else {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                path,
                "is not an enterprise registered for cross-border e-commerce",
                "不是已登记的跨境电商企业",
            )]));
        };
        if enterprise.credit_code.is_none() {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                path,
                "is registered without its unified social credit code",
                "登记时未提供统一社会信用代码",
            )]));
        }
        Ok(wire::declaration::EnterpriseDto {
            credit_code: enterprise.credit_code,
            customs_code: enterprise.customs_code,
            name: Some(enterprise.name),
        })
    }

    /// The agent as a caller of the lodging path: a broker acting for the e-commerce enterprises
    /// that authorised it (a declarant when it is the e-commerce enterprise itself).
    async fn agent_caller(
        &self,
        agent: &wire::declaration::EnterpriseDto,
        trader: &wire::declaration::EnterpriseDto,
    ) -> Result<Caller, ClearanceError> {
        let credit_code = agent.credit_code.clone().unwrap_or_default();
        let Some(enterprise) = self.store.enterprise_by_credit_code(&credit_code).await? else {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "InventoryHead/agentCode",
                "is not in the enterprise register",
                "不在企业名录中",
            )]));
        };
        let principals = self.store.broker_principals(&enterprise.id).await?;
        let role = if trader.credit_code == agent.credit_code {
            Role::Declarant
        } else {
            Role::Broker
        };
        Ok(Caller {
            principal: Principal {
                user: UserRow {
                    id: format!("ceb-agent:{credit_code}"),
                    name: format!("CEB agent {credit_code}"),
                    role: role.as_str().into(),
                    enterprise_id: Some(enterprise.id.clone()),
                    disabled_seq: None,
                },
                token: None,
                enterprise: Some(enterprise),
                principals,
            },
            role,
        })
    }

    async fn list_answer(
        &self,
        id: &str,
        matched: Matched,
    ) -> Result<(ReturnStatus, String, Option<String>), ClearanceError> {
        Ok(match matched {
            Matched::Waiting { missing } => (ReturnStatus::Declaring, waiting_info(&missing), None),
            Matched::Refused { errors } => (ReturnStatus::Refused, info_of(&errors), None),
            Matched::Accepted {
                number,
                released,
                info,
            } => (
                if released {
                    ReturnStatus::Released
                } else {
                    ReturnStatus::Accepted
                },
                info,
                Some(number),
            ),
            Matched::Decided => match self.store.inventory_list(id).await? {
                Some(list) => self.list_state(&list).await?,
                None => (ReturnStatus::Declaring, String::new(), None),
            },
        })
    }

    /// A list's receipt status, info and declaration number as it stands.
    async fn list_state(
        &self,
        list: &InventoryListRow,
    ) -> Result<(ReturnStatus, String, Option<String>), ClearanceError> {
        let declaration = match &list.declaration_id {
            Some(id) => self.store.declaration(id).await?,
            None => None,
        };
        let number = declaration.as_ref().map(|d| d.number.clone());
        Ok(match list.status.as_str() {
            "waiting" => (ReturnStatus::Declaring, waiting_info(&[]), None),
            "accepted" => {
                let released = declaration.as_ref().is_some_and(|d| d.status == "released");
                (
                    if released {
                        ReturnStatus::Released
                    } else {
                        ReturnStatus::Accepted
                    },
                    format!(
                        "accepted as declaration {0} / 已入库，报关单号 {0}",
                        number.clone().unwrap_or_default()
                    ),
                    number,
                )
            }
            "refused" => {
                let reason: Value = list
                    .reason
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or(Value::Null);
                let info = reason["errors"]
                    .as_array()
                    .map(|errors| {
                        errors
                            .iter()
                            .map(|e| {
                                format!(
                                    "{}: {} / {}",
                                    e["path"].as_str().unwrap_or(""),
                                    e["message_en"].as_str().unwrap_or(""),
                                    e["message_zh"].as_str().unwrap_or("")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                (ReturnStatus::Refused, info, None)
            }
            "cancelled" => (
                ReturnStatus::Concluded,
                "cancelled (CEB623) / 已撤销".into(),
                number,
            ),
            _ => (
                ReturnStatus::Concluded,
                "returned (CEB625) / 已退货".into(),
                number,
            ),
        })
    }

    /// Refuses the lists still waiting past their deadline; answers how many. The server calls
    /// it periodically.
    pub async fn sweep_ceb_waiting(&self) -> Result<usize, ClearanceError> {
        let now = self.now().timestamp_millis();
        let expired = self.store.expired_waiting(now, CEB_SWEEP_LISTS_MAX).await?;
        let mut refused = 0;
        for list in expired {
            // A document may have arrived in time and its match failed: one more try first.
            if let Matched::Waiting { missing } = self.try_match(&list).await? {
                let errors = vec![FieldError::not_allowed(
                    "InventoryHead/orderNo",
                    &format!(
                        "the list waited until its deadline for documents that did not arrive: {}",
                        missing.join(", ")
                    ),
                    &format!(
                        "清单已等待至截止时间，下列单证仍未到达：{}",
                        missing.join("、")
                    ),
                )];
                if matches!(
                    self.refuse_list(&list, errors).await?,
                    Matched::Refused { .. }
                ) {
                    refused += 1;
                }
            }
        }
        Ok(refused)
    }

    /// An inventory list and its receipt as it stands, for its agent only (others: not found).
    pub async fn ceb_inventory_list(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<InventoryListView, ClearanceError> {
        caller.require(Action::Read)?;
        let list = self
            .store
            .inventory_list(id)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let visible =
            caller.principal.enterprise.as_ref().is_some_and(|e| {
                e.customs_code == list.agent_code || e.credit_code == list.agent_code
            });
        if !visible {
            return Err(ClearanceError::NotFound);
        }
        let Some(Message::Inventories(e)) = self.stored_document(id).await? else {
            return Err(ClearanceError::NotFound);
        };
        let inventory = e
            .documents
            .into_iter()
            .next()
            .ok_or(ClearanceError::NotFound)?;
        let (status, info, number) = self.list_state(&list).await?;
        let keys = OneDocument::Inventory(inventory).keys();
        let receipt = Receipt::Documents {
            receipt: ReceiptType::Inventory,
            guid: Self::receipt_guid(),
            returns: vec![DocumentReturn {
                status: Some(status),
                time: Some(self.china_time()),
                info,
                invt_no: number.clone(),
                ..keys
            }],
        };
        Ok(InventoryListView {
            list,
            declaration_number: number,
            receipt: Self::render(&receipt)?,
        })
    }

    /// The tax bill (CEB816) of an accepted list, for its agent only (others: not found): the
    /// taxes assessed at acceptance, item by item; void once the list is cancelled or returned.
    pub async fn ceb_tax_bill(&self, caller: &Caller, id: &str) -> Result<String, ClearanceError> {
        let view = self.ceb_inventory_list(caller, id).await?;
        let (Some(declaration_id), Some(number)) =
            (view.list.declaration_id.as_deref(), view.declaration_number)
        else {
            return Err(ClearanceError::NotFound);
        };
        let Some(Message::Inventories(e)) = self.stored_document(id).await? else {
            return Err(ClearanceError::NotFound);
        };
        let inventory = e
            .documents
            .into_iter()
            .next()
            .ok_or(ClearanceError::NotFound)?;
        let record = self
            .assessment_records(declaration_id)
            .await?
            .pop()
            .ok_or(ClearanceError::NotFound)?;
        let amount =
            |v: &Value| -> Decimal { v.as_str().and_then(|t| t.parse().ok()).unwrap_or_default() };
        let tax = |taxes: &Value, kind: &str| -> Decimal {
            taxes
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["kind"] == kind)
                .map(|t| amount(&t["payable"]))
                .sum()
        };
        let mut items = Vec::new();
        for (i, item) in record["report"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let listed = inventory.items.get(i);
            items.push(ceb::receipt::TaxBillItem {
                gnum: listed.map_or(i as u32 + 1, |l| l.gnum),
                gcode: listed.map_or_else(
                    || item["commodity_code"].as_str().unwrap_or("").to_owned(),
                    |l| l.gcode.clone(),
                ),
                tax_price: amount(&item["customs_value"]["cny"]),
                customs_tax: tax(&item["taxes"], "customs_duty"),
                value_added_tax: tax(&item["taxes"], "import_vat"),
                consumption_tax: tax(&item["taxes"], "consumption_tax"),
            });
        }
        let sum = |f: fn(&ceb::receipt::TaxBillItem) -> Decimal| items.iter().map(f).sum();
        let bill = ceb::receipt::TaxBill {
            guid: id.to_owned(),
            time: self.china_time(),
            invt_no: number.clone(),
            tax_no: format!("{number}01"),
            customs_tax: sum(|i| i.customs_tax),
            value_added_tax: sum(|i| i.value_added_tax),
            consumption_tax: sum(|i| i.consumption_tax),
            status: if view.list.status == "accepted" {
                ceb::receipt::TaxBillStatus::Generated
            } else {
                ceb::receipt::TaxBillStatus::Void
            },
            ent_duty_no: None,
            note: None,
            assure_code: Some(inventory.assure_code.clone()),
            ebc_code: Some(inventory.ebc_code.clone()),
            logistics_code: Some(inventory.logistics_code.clone()),
            agent_code: Some(inventory.agent_code.clone()),
            customs_code: Some(inventory.customs_code.clone()),
            items,
        };
        Self::render(&Receipt::TaxBills {
            guid: Self::receipt_guid(),
            bills: vec![bill],
        })
    }

    /// Registers an enterprise for CEB roles (administrators).
    pub async fn register_ceb_enterprise(
        &self,
        caller: &Caller,
        enterprise: store::CebEnterpriseRow,
    ) -> Result<(), ClearanceError> {
        caller.require(Action::ManageUsers)?;
        let code = enterprise
            .customs_code
            .clone()
            .or(enterprise.credit_code.clone())
            .unwrap_or_default();
        let outcome = self
            .ceb_admin_event(
                caller,
                format!("ceb-enterprise:{code}"),
                "ceb.enterprise_registered",
                json!({ "customs_code": enterprise.customs_code, "credit_code": enterprise.credit_code,
                        "name": enterprise.name, "roles": enterprise.roles }),
                Projection::RegisterCebEnterprise(enterprise),
                "customs_code",
            )
            .await;
        // Whatever the outcome (a refusal may follow a commit made meanwhile), the register
        // is read afresh.
        self.invalidate(&[crate::invalidation::Cache::CebRegister]);
        outcome
    }

    /// Adds a signing certificate (DER) of a registered enterprise (administrators).
    pub async fn add_ceb_certificate(
        &self,
        caller: &Caller,
        enterprise_code: &str,
        der: &[u8],
    ) -> Result<String, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        let key = dsig::RegisteredKey::from_certificate(der).map_err(|e| {
            let (en, zh) = e.messages();
            ClearanceError::Invalid(vec![FieldError::invalid_format("certificate", &en, &zh)])
        })?;
        let serial = key.serial().to_owned();
        let outcome = self
            .ceb_admin_event(
                caller,
                format!("ceb-enterprise:{enterprise_code}"),
                "ceb.certificate_added",
                json!({ "enterprise_code": enterprise_code, "serial_number": serial,
                    "subject": key.subject() }),
                Projection::AddCebCertificate {
                    enterprise_code: enterprise_code.to_owned(),
                    certificate: store::CebCertificateRow {
                        serial_number: serial.clone(),
                        der: der.to_vec(),
                        added_seq: None,
                    },
                },
                "certificate",
            )
            .await;
        // The new certificate is in force from now on: the register is read afresh.
        self.invalidate(&[crate::invalidation::Cache::CebRegister]);
        outcome?;
        Ok(serial)
    }

    /// Registers an agent's tax guarantee (担保) with its first amount (administrators).
    pub async fn register_guarantee(
        &self,
        caller: &Caller,
        assure_code: &str,
        agent_code: &str,
        amount_fen: i64,
    ) -> Result<(), ClearanceError> {
        caller.require(Action::ManageUsers)?;
        self.ceb_admin_event(
            caller,
            store::guarantee_subject(assure_code),
            "guarantee.registered",
            json!({ "assure_code": assure_code, "agent_code": agent_code, "amount_fen": amount_fen }),
            Projection::RegisterGuarantee {
                assure_code: assure_code.to_owned(),
                agent_code: agent_code.to_owned(),
                amount_fen,
            },
            "assure_code",
        )
        .await
    }

    /// Tops up an agent's tax guarantee (administrators) by `amount_fen` (1 to
    /// [`store::GUARANTEE_MOVEMENT_FEN_MAX`]), once per idempotency key: the same key and amount
    /// again answers the guarantee as it stands and adds nothing; the same key with another
    /// amount is refused. Answers the guarantee after it.
    pub async fn top_up_guarantee(
        &self,
        caller: &Caller,
        assure_code: &str,
        amount_fen: i64,
        idempotency_key: Option<&str>,
    ) -> Result<store::GuaranteeRow, ClearanceError> {
        caller.require(Action::ManageUsers)?;
        let key = crate::idempotency_key_or_new(idempotency_key)?;
        let projection = Projection::TopUpGuarantee {
            assure_code: assure_code.to_owned(),
            amount_fen,
        };
        if let Some(message) = store::ecommerce_refusal(&projection, true) {
            // The store's words name its own field; the caller's is the amount.
            let (en, zh) = message.split_once(" / ").unwrap_or((&message, &message));
            let path = if en.starts_with("guarantee.amount_fen") {
                "amount"
            } else {
                "assure_code"
            };
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                path, en, zh,
            )]));
        }
        if self.store.guarantee(assure_code).await?.is_none() {
            return Err(ClearanceError::NotFound);
        }
        let payload = json!({ "assure_code": assure_code, "amount_fen": amount_fen }).to_string();
        let digest = request_digest(
            &format!("guarantee.topped_up:{assure_code}"),
            payload.as_bytes(),
        );
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: store::guarantee_subject(assure_code),
            action: "guarantee.topped_up".into(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest,
            payload,
            expected_version: None,
            projection,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => {}
            Ok(AppendOutcome::Duplicate {
                same_request: true, ..
            }) => {}
            Ok(AppendOutcome::Duplicate { .. }) => {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            Ok(other) => return Err(crate::refusal(other)),
            Err(store::StoreError::NotFound(_)) => return Err(ClearanceError::NotFound),
            Err(store::StoreError::Other(e))
                if e.to_string().starts_with("guarantee.amount_fen") =>
            {
                let message = e.to_string();
                let (en, zh) = message.split_once(" / ").unwrap_or((&message, &message));
                return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "amount", en, zh,
                )]));
            }
            Err(other) => return Err(other.into()),
        }
        self.store
            .guarantee(assure_code)
            .await?
            .ok_or(ClearanceError::NotFound)
    }

    /// A guarantee's balance in fen, for administrators and the agent it belongs to.
    pub async fn guarantee_balance(
        &self,
        caller: &Caller,
        assure_code: &str,
    ) -> Result<store::GuaranteeRow, ClearanceError> {
        let row = self
            .store
            .guarantee(assure_code)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let own =
            caller.principal.enterprise.as_ref().is_some_and(|e| {
                e.customs_code == row.agent_code || e.credit_code == row.agent_code
            });
        if !own && caller.require(Action::ManageUsers).is_err() {
            return Err(ClearanceError::NotFound);
        }
        Ok(row)
    }

    async fn ceb_admin_event(
        &self,
        caller: &Caller,
        subject: String,
        action: &str,
        payload: Value,
        projection: Projection,
        field: &str,
    ) -> Result<(), ClearanceError> {
        if let Some(message) = store::ecommerce_refusal(&projection, true) {
            // The store's own words name the field; kept whole in both languages.
            let (en, zh) = message.split_once(" / ").unwrap_or((&message, &message));
            let path = en.split(':').next().unwrap_or(field).to_owned();
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                path, en, zh,
            )]));
        }
        self.append_reference_event(
            caller,
            subject,
            action,
            payload,
            projection,
            field,
            |what| {
                ClearanceError::Invalid(vec![FieldError::not_allowed(
                    field,
                    &format!("not found: {what}"),
                    &format!("未找到：{what}"),
                )])
            },
        )
        .await
    }
}

fn accepted_document() -> (ReturnStatus, String, Option<String>) {
    (ReturnStatus::Accepted, "recorded / 已入库".into(), None)
}

fn waiting_info(missing: &[&str]) -> String {
    if missing.is_empty() {
        "waiting for its order, payment and waybill / 等待订单、支付凭证、运单".into()
    } else {
        format!(
            "waiting for: {} / 等待单证：{}",
            missing.join(", "),
            missing.join("、")
        )
    }
}

fn no_list(path: &str) -> (ReturnStatus, String, Option<String>) {
    let e = FieldError::not_allowed(
        path,
        "no inventory list of this order was received",
        "未收到该订单的清单",
    );
    (ReturnStatus::Refused, info_of(&[e]), None)
}

fn not_in_state(list: &InventoryListRow, path: &str) -> (ReturnStatus, String, Option<String>) {
    let e = FieldError::not_allowed(
        path,
        &format!("the inventory list is {}", list.status),
        &format!("清单状态为 {}", list.status),
    );
    (ReturnStatus::Refused, info_of(&[e]), None)
}

/// A stored document's message.
fn stored_message(row: &CebDocumentRow) -> Result<Message, ClearanceError> {
    let document: Value = serde_json::from_str(&row.document).map_err(anyhow::Error::from)?;
    let xml = document["xml"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("CEB document {} has no message", row.guid))?;
    ceb::parse(xml.as_bytes()).map_err(|refusal| {
        ClearanceError::Internal(anyhow::anyhow!(
            "CEB document {} does not read back: {}",
            row.guid,
            ceb::receipt::refusal_info(&refusal)
        ))
    })
}

/// A document as the store keeps it: alone in a message of its type, its signature (verified at
/// receipt) replaced by an empty `ds:Signature` so the message still reads where the schema
/// requires one.
fn kept_xml(message: &Message) -> String {
    let mut xml = ceb::write::render(message);
    if let Some(close) = xml.rfind("</") {
        xml.insert_str(
            close,
            &format!("<ds:Signature xmlns:ds=\"{}\"/>\n", ceb::DSIG_NAMESPACE),
        );
    }
    xml
}
