//! Request and response bodies of the HTTP API (v1) other than the declaration itself.

use domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::declaration::DeclarationDto;

/// A declaration as the API returns it: its identity and state, and the document in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeclarationView {
    pub id: String,
    /// Customs declaration number (海关编号).
    pub number: String,
    /// accepted, released or cancelled.
    pub status: String,
    pub kind: String,
    pub direction: String,
    pub version: u32,
    /// RFC 3339 UTC.
    pub lodged_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_number: Option<String>,
    /// On a summary declaration: the full declaration that completed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    pub declaration: DeclarationDto,
}

/// The answer to a lodging, a receipt (回执): the number and state, not the document the caller
/// just sent (read it back with GET when needed). `created` is false when the idempotency key was
/// seen before: nothing new was created and this is the first result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LodgementView {
    pub created: bool,
    pub id: String,
    /// Customs declaration number (海关编号).
    pub number: String,
    pub status: String,
    pub kind: String,
    pub direction: String,
    pub version: u32,
    /// RFC 3339 UTC.
    pub lodged_at: String,
    /// On a full declaration: the summary declaration it completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_number: Option<String>,
    /// The lane as the trade may see it (green, yellow, red, ...), as the selection gave it at
    /// lodging; absent when the declaration was not targeted. Never why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// assessed (`amount_due` says how much), pending (an officer assesses it by hand) or
    /// not_assessed (nothing is assessed on this declaration, e.g. an export).
    pub assessment: String,
    /// CNY, an exact decimal: the duty and taxes payable as assessed at lodging. Absent unless
    /// `assessment` is assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<String>,
    /// The regime the declaration was assessed under at lodging: general_trade, cbec or postal
    /// (postal and express articles, 行邮). Absent when nothing was assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regime: Option<String>,
}

/// The format a declaration was lodged in, recorded with its acceptance: receipts pushed to the
/// trade are rendered in it. A record without one was lodged as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    #[default]
    Json,
    /// WCO Data Model XML (Declaration / Response).
    WcoXml,
    /// UN/EDIFACT CUSDEC / CUSRES.
    Edifact,
}

impl MessageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageFormat::Json => "json",
            MessageFormat::WcoXml => "wco_xml",
            MessageFormat::Edifact => "edifact",
        }
    }

    pub fn parse(text: &str) -> Option<MessageFormat> {
        [
            MessageFormat::Json,
            MessageFormat::WcoXml,
            MessageFormat::Edifact,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }
}

/// One receipt of the feed: which declaration, where the feed stands after it, and the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedReceiptView {
    /// Pass as `after` to read the receipts that follow this one.
    pub cursor: String,
    pub declaration_id: String,
    /// Customs declaration number (海关编号).
    pub declaration_number: String,
    pub receipt: TradeReceiptView,
}

/// A page of the receipts feed, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptFeedPage {
    pub receipts: Vec<FeedReceiptView>,
    /// Pass as `after` to read on (the same cursor again when nothing is new yet).
    pub next_after: String,
}

/// Registering an enterprise's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// http or https URL the receipts are POSTed to.
    pub url: String,
    /// Deliver the receipts after this feed cursor ("0" for all); by default only receipts
    /// made from now on.
    #[serde(default)]
    pub after: Option<String>,
}

/// An enterprise's webhook. The secret is shown only in the answer to its registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    /// The enterprise's credit code.
    pub enterprise: String,
    pub url: String,
    pub created_at: String,
    /// The feed cursor of the last receipt delivered or dead-lettered.
    pub delivered: String,
    /// The signing secret: only in the answer to the registration, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A receipt that failed every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    pub id: String,
    pub cursor: String,
    pub declaration_id: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetterView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeclarationPage {
    pub declarations: Vec<DeclarationView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    /// e.g. declaration.accepted, declaration.amended.
    pub action: String,
    pub actor_user: String,
    pub actor_role: String,
    pub recorded_at: String,
    pub idempotency_key: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
}

/// One receipt (回执) of a declaration's history as the trade sees it. Built member by member from
/// an allow-list of what the trade is told (`clearance::trade_view`), never by filtering a customs
/// event: no rule, list, score, officer, draw or note can reach it, because it has no field for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TradeReceiptView {
    pub seq: u64,
    pub recorded_at: String,
    /// accepted, amended, cancelled, released, completed, assessed, assessment_pending,
    /// payment_claimed, payment_confirmed, guarantee_accepted, checks_required, held,
    /// hold_lifted, check_completed, amendment_requested, cancellation_requested,
    /// request_approved, request_refused.
    pub receipt: String,
    /// trade, customs, bank or system: who acted, never which officer.
    pub by: String,
    /// The declaration number (accepted) or the full declaration's number (completed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The trade's own reason (an amendment, a cancellation, a request) or the officer's reason
    /// for refusing a request; never a targeting reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// CNY: the total payable (assessed), or the amount of a payment or guarantee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The bank's payment reference of a claimed or confirmed payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// On a reassessment (assessed) that changed the total: the new total payable minus the
    /// previous one, CNY, signed (`"120.50"` more to pay, `"-80.00"` less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<String>,
    /// With `difference`: `pay_more` (the difference is owed, and the goods are not released
    /// until it is paid or guaranteed) or `refund` (owed less; what was paid beyond the new
    /// total is refunded: the declaration's payments show it as `refund_due`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<String>,
    /// What the trade must present for: document_check, physical_inspection, lab_sampling,
    /// hold (checks_required, check_completed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// On an acceptance: present when the lodging was received in continuity (the central store
    /// unreachable) and accepted later; `recorded_at` is then the acceptance's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity: Option<ContinuityReceiptView>,
}

/// A lodging received in continuity (报关单经应急通道受理), as its acceptance records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContinuityReceiptView {
    /// The reference the instance answered with (202 Accepted) while the store was unreachable.
    pub provisional_reference: String,
    /// When it was received and made durable in continuity, RFC 3339 UTC.
    pub received_at: String,
}

/// A declaration's history for the trade: where it stands and its receipts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TradeEventPage {
    /// accepted, under_assessment, modification_requested, under_document_check,
    /// under_inspection, held, duty_due, released or cancelled.
    pub clearance_status: String,
    pub receipts: Vec<TradeReceiptView>,
}

/// The answer to a declaration's history: customs roles get every event, the trade its receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventsAnswer {
    Customs(EventPage),
    Trade(TradeEventPage),
}

/// Amending an accepted declaration: the whole corrected document and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendmentRequest {
    pub reason: String,
    pub declaration: DeclarationDto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancellationRequest {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldErrorView {
    /// Where the problem is, e.g. items[3].origin_country (0-based indexes).
    pub path: String,
    /// Stable machine-readable code, e.g. unknown_code.
    pub code: String,
    pub message_en: String,
    pub message_zh: String,
}

impl From<&FieldError> for FieldErrorView {
    fn from(e: &FieldError) -> Self {
        FieldErrorView {
            path: e.path.clone(),
            code: e.code.as_str().to_owned(),
            message_en: e.message_en.clone(),
            message_zh: e.message_zh.clone(),
        }
    }
}

/// RFC 9457 problem details, with every field error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub detail_zh: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// The release of the server (the workspace version, as `customs --version` prints it).
    pub version: String,
    /// The schema version the store records (its last migration's number).
    pub schema_version: u32,
    pub store: String,
}

/// Parses a JSON body into `T`, naming the path of a type error or an unknown field
/// (`items[3].origin_country`) rather than a line and column.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    // Most bodies are well-formed: parse them at full speed, and pay for path tracking only to
    // explain a failure.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(empty_body());
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = json_path(&error.path().to_string());
        let inner = error.into_inner();
        let message = inner.to_string();
        if message.starts_with("unknown field") {
            FieldError::unknown_field(&path)
        } else if let Some(field) = missing_field(&message) {
            let path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            FieldError::required(&path)
        } else if inner.is_data() {
            FieldError::invalid_type(&path, &strip_position(&message))
        } else {
            FieldError::invalid_json(&path, &message)
        }
    })
}

/// An empty (or blank) body, said so rather than as serde's "EOF while parsing a value".
pub fn empty_body() -> FieldError {
    FieldError {
        path: "body".into(),
        code: domain::ErrorCode::Required,
        message_en: "the request body is empty: send a JSON document".into(),
        message_zh: "请求体为空：请发送 JSON 文档".into(),
    }
}

/// serde_path_to_error writes `items[3].origin_country`, `.` for the root and `?` when unknown.
fn json_path(path: &str) -> String {
    if path == "." || path == "?" {
        String::new()
    } else {
        path.to_owned()
    }
}

/// serde says "missing field `reason`"; the field belongs in the path, like every other refusal.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// One entry of the record of the whole enforcement process (执法全过程记录), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    /// The chain the entry is in, on a store that keeps its record as several chains
    /// (PostgreSQL); absent for a store of one chain (SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<u16>,
    /// The event's number across all chains (the listing's order and the `after` cursor), on a
    /// store of several chains; absent for one chain, where `seq` is that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The entry's place in its chain, from 1 without gaps: what its hashes chain on.
    pub seq: u64,
    pub recorded_at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub subject: String,
    pub idempotency_key: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// SHA-256 of the previous entry (hex); the chain's first entry follows 64 zeros.
    pub prev_hash: String,
    /// SHA-256 over prev_hash, seq and the entry's canonical encoding (hex).
    pub entry_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `after` to read on (the last entry's `row`, or its `seq` with one chain); absent
    /// at the end of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// The outcome of recomputing the whole chain and checking every signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditVerificationView {
    pub intact: bool,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub last_seq: u64,
    pub head_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint_seq: Option<u64>,
    /// The first entry found altered, deleted or reordered, or the first file kept beside the
    /// chain (a release's files, a history batch, an attachment) whose content no longer has the
    /// digest its entry records, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_fault: Option<String>,
    /// Hex Ed25519 public key that verified the checkpoints.
    pub public_key: String,
    /// SHA-256 (hex) of that key: compare it with the fingerprint kept when the store was set up.
    pub key_fingerprint: String,
    /// True when the key came from the auditor (`audit verify --public-key`), false when it is
    /// the data folder's own: then whoever holds the folder could have re-signed a rewritten chain.
    pub key_held_by_auditor: bool,
    /// Heads held by the auditor outside the store (`--expect-head`, `--anchor`) that matched.
    pub anchors_checked: u64,
    /// The derived tables rebuilt from the chain and compared with the stored ones.
    pub tables_checked: Vec<String>,
    /// Each row of a derived table that differs from what the chain records (any one makes the
    /// store not intact), in words naming the table, the row and the column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_differences: Vec<String>,
    /// What this verification could not vouch for, in English and Chinese.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
