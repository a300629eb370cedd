//! WCO response messages (RES, HMRC's DMS notifications): the answer to a lodging (DMSACC, or
//! DMSREJ with one `Error` per problem naming its WCO element path) and a trade receipt (回执) as
//! a notification, and a reader for any of them (HMRC's samples come with and without namespaces).
//!
//! Which notification a receipt becomes (`Notification::for_receipt`):
//!
//! | receipt | notification | function code |
//! |---|---|---|
//! | accepted, completed | DMSACC (accepted) | 01 |
//! | amendment_requested, cancellation_requested, assessment_pending | DMSRCV (registered) | 02 |
//! | request_refused | DMSREJ (the request is refused; the declaration stands) | 03 |
//! | checks_required with an inspection, lab sampling or a hold; held | DMSCTL (goods under control) | 05 |
//! | checks_required with document checks only | DMSDOC (documents required) | 06 |
//! | check_completed, hold_lifted | DMSRES (result of the control) | 07 |
//! | released | DMSCLE (cleared, goods released) | 09 |
//! | cancelled | DMSINV (invalidated) | 10 |
//! | amended, request_approved | DMSREQ (request accepted) | 11 |
//! | assessed, payment_claimed, payment_confirmed, guarantee_accepted | DMSTAX (the debt; the amount due, or paid, in CNY) | 13 |
//! | any other (a kind added later) | DMSRCV | 02 |
//!
//! Every notification also says which receipt it is (`AdditionalInformation`, statement code
//! `RECEIPT`), so nothing of the receipt is lost on the way; a check is named by its kind only
//! (`CHECK`), never with a reason, because the receipt has none to give.

use domain::FieldError;
use domain::problem::ErrorCode;
use wire::LodgementView;
use wire::views::TradeReceiptView;

use crate::xml::Element;
use crate::{METADATA_NAMESPACE, RESPONSE_DS_NAMESPACE, RESPONSE_NAMESPACE, metadata};

/// The DMS notification kinds the platform sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    Acc,
    Rcv,
    Rej,
    Ctl,
    Doc,
    Res,
    Cle,
    Inv,
    Req,
    Tax,
}

impl Notification {
    pub fn function_code(self) -> &'static str {
        match self {
            Notification::Acc => "01",
            Notification::Rcv => "02",
            Notification::Rej => "03",
            Notification::Ctl => "05",
            Notification::Doc => "06",
            Notification::Res => "07",
            Notification::Cle => "09",
            Notification::Inv => "10",
            Notification::Req => "11",
            Notification::Tax => "13",
        }
    }

    /// HMRC's name for it, e.g. DMSACC.
    pub fn name(self) -> &'static str {
        match self {
            Notification::Acc => "DMSACC",
            Notification::Rcv => "DMSRCV",
            Notification::Rej => "DMSREJ",
            Notification::Ctl => "DMSCTL",
            Notification::Doc => "DMSDOC",
            Notification::Res => "DMSRES",
            Notification::Cle => "DMSCLE",
            Notification::Inv => "DMSINV",
            Notification::Req => "DMSREQ",
            Notification::Tax => "DMSTAX",
        }
    }

    pub fn from_function_code(code: &str) -> Option<Notification> {
        ALL.iter().copied().find(|n| n.function_code() == code)
    }

    /// The notification a receipt becomes (see the module's table).
    pub fn for_receipt(receipt: &TradeReceiptView) -> Notification {
        match receipt.receipt.as_str() {
            "accepted" | "completed" => Notification::Acc,
            "request_refused" => Notification::Rej,
            "checks_required" => {
                if receipt.checks.iter().all(|c| c == "document_check")
                    && !receipt.checks.is_empty()
                {
                    Notification::Doc
                } else {
                    Notification::Ctl
                }
            }
            "held" => Notification::Ctl,
            "check_completed" | "hold_lifted" => Notification::Res,
            "released" => Notification::Cle,
            "cancelled" => Notification::Inv,
            "amended" | "request_approved" => Notification::Req,
            "assessed" | "payment_claimed" | "payment_confirmed" | "guarantee_accepted" => {
                Notification::Tax
            }
            _ => Notification::Rcv,
        }
    }
}

const ALL: &[Notification] = &[
    Notification::Acc,
    Notification::Rcv,
    Notification::Rej,
    Notification::Ctl,
    Notification::Doc,
    Notification::Res,
    Notification::Cle,
    Notification::Inv,
    Notification::Req,
    Notification::Tax,
];

/// An RFC 3339 time as DMS writes it (format 304, CCYYMMDDhhmmss and Z or the hours' offset).
pub fn format_304(rfc3339: &str) -> String {
    let digits: String = rfc3339
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect();
    let rest = rfc3339.get(19..).unwrap_or("");
    let zone = match rest.rfind(['+', '-']) {
        Some(at) if !rest.ends_with('Z') => rest[at..].chars().take(3).collect(),
        _ => "Z".to_owned(),
    };
    format!("{digits}{zone}")
}

fn date_time(parent: &mut Element, name: &str, rfc3339: &str) {
    let element = parent.push(name);
    let string = element.push_text("ds:DateTimeString", &format_304(rfc3339));
    string.attributes.push(("formatCode".into(), "304".into()));
}

fn statement(response: &mut Element, code: &str, description: &str) {
    let element = response.push("AdditionalInformation");
    element.push_text("StatementCode", code);
    element.push_text("StatementDescription", &cut(description, 512));
}

fn cut(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(chars_max - 1).collect();
    kept.push('…');
    kept
}

fn envelope(response: &Element) -> String {
    let mut response = response.clone();
    response
        .attributes
        .insert(0, ("xmlns:ds".into(), RESPONSE_DS_NAMESPACE.into()));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<md:MetaData xmlns:md=\"{METADATA_NAMESPACE}\">\n"
    ));
    metadata(&mut out, "RES");
    response.write(&mut out, 1, Some(("xmlns", RESPONSE_NAMESPACE)));
    out.push_str("</md:MetaData>\n");
    out
}

fn response(function: Notification, reference: Option<&str>, issued_at: &str) -> Element {
    let mut response = Element::new("Response");
    response.push_text("FunctionCode", function.function_code());
    if let Some(reference) = reference {
        response.push_text("FunctionalReferenceID", reference);
    }
    date_time(&mut response, "IssueDateTime", issued_at);
    response
}

/// DMSACC: the lodging was accepted under `lodgement.number`, with the lane as the trade may see
/// it and the amount due (CNY) when assessed. Its own reference is the lodging's id.
pub fn render_acceptance(lodgement: &LodgementView, functional_reference: Option<&str>) -> String {
    let id = lodgement.id.replace('-', "");
    let mut message = response(Notification::Acc, Some(&cut_id(&id)), &lodgement.lodged_at);
    statement(&mut message, "RECEIPT", "accepted");
    statement(&mut message, "STATUS", &lodgement.status);
    // The lane as the trade may see it (never why) and how the duty stands.
    if let Some(lane) = &lodgement.lane {
        statement(&mut message, "LANE", lane);
    }
    statement(&mut message, "ASSESSMENT", &lodgement.assessment);
    let declaration = message.push("Declaration");
    date_time(declaration, "AcceptanceDateTime", &lodgement.lodged_at);
    if let Some(reference) = functional_reference {
        declaration.push_text("FunctionalReferenceID", reference);
    }
    declaration.push_text("ID", &lodgement.number);
    declaration.push_text("VersionID", &lodgement.version.to_string());
    if let Some(amount) = &lodgement.amount_due {
        let payment = declaration.push("DutyTaxFee").push("Payment");
        let element = payment.push_text("TaxAssessedAmount", amount);
        element.attributes.push(("currencyID".into(), "CNY".into()));
    }
    envelope(&message)
}

fn cut_id(id: &str) -> String {
    id.chars().take(35).collect()
}

/// A short, stable validation code for an error code (the schema allows 8 characters); the full
/// code, path and messages are in the error's description.
pub fn validation_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Required => "REQUIRED",
        ErrorCode::InvalidType => "BADTYPE",
        ErrorCode::UnknownField => "UNKFIELD",
        ErrorCode::InvalidFormat => "BADFORMT",
        ErrorCode::TooLong => "TOOLONG",
        ErrorCode::TooMany => "TOOMANY",
        ErrorCode::TooFew => "TOOFEW",
        ErrorCode::OutOfRange => "RANGE",
        ErrorCode::Precision => "DECIMALS",
        ErrorCode::CheckDigit => "CHECKDIG",
        ErrorCode::UnknownCode => "UNKCODE",
        ErrorCode::CodeNotInForce => "NOTINFRC",
        ErrorCode::NoCodeListInForce => "NOCODELS",
        ErrorCode::Duplicate => "DUPLICAT",
        ErrorCode::NotAllowed => "NOTALLOW",
        ErrorCode::SumMismatch => "SUMMISM",
        ErrorCode::AmountMismatch => "AMTMISM",
        ErrorCode::MassInconsistent => "MASSINC",
        ErrorCode::DateOrder => "DATEORDR",
        ErrorCode::UnitMismatch => "UNITMISM",
        ErrorCode::SummaryMismatch => "SUMRYMIS",
        ErrorCode::InvalidJson => "BADXML",
    }
}

/// The WCO class of an element a pointer names (the schema's WCO IDs).
fn class_code(name: &str) -> Option<&'static str> {
    match name {
        "Declaration" => Some("42A"),
        "GoodsShipment" => Some("67A"),
        "GovernmentAgencyGoodsItem" => Some("68A"),
        "Commodity" => Some("23A"),
        "AdditionalDocument" => Some("02A"),
        "AdditionalInformation" => Some("03A"),
        "Consignment" => Some("28A"),
        "Origin" => Some("62A"),
        "Exporter" => Some("41A"),
        "Importer" => Some("39A"),
        "Declarant" => Some("18A"),
        _ => None,
    }
}

/// Pointers to the classes on an element path, with the position of a repeated one
/// (`GovernmentAgencyGoodsItem[2]` is class 68A, sequence 2).
fn pointers(error: &mut Element, path: &str) {
    for segment in path.split('/') {
        let (name, position) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<u32>().ok()),
            None => (segment, None),
        };
        if let Some(code) = class_code(name) {
            let pointer = error.push("Pointer");
            if let Some(position) = position {
                pointer.push_text("SequenceNumeric", &position.to_string());
            }
            pointer.push_text("DocumentSectionCode", code);
        }
    }
}

/// DMSREJ: the lodging is refused, one `Error` per problem, its description naming the WCO
/// element path and what is wrong in English and Chinese. No declaration was recorded, so the
/// message carries no reference of its own.
pub fn render_rejection(
    errors: &[FieldError],
    functional_reference: Option<&str>,
    issued_at: &str,
) -> String {
    let mut message = response(Notification::Rej, None, issued_at);
    for problem in errors {
        let error = message.push("Error");
        error.push_text(
            "Description",
            &cut(
                &format!(
                    "{}: {} / {} ({})",
                    problem.path,
                    problem.message_en,
                    problem.message_zh,
                    problem.code.as_str()
                ),
                512,
            ),
        );
        error.push_text("ValidationCode", validation_code(problem.code));
        pointers(error, &problem.path);
    }
    let declaration = message.push("Declaration");
    if let Some(reference) = functional_reference {
        declaration.push_text("FunctionalReferenceID", reference);
    }
    date_time(declaration, "RejectionDateTime", issued_at);
    envelope(&message)
}

/// A trade receipt (回执) as a WCO notification: the kind chosen by `Notification::for_receipt`,
/// the receipt's own facts (the amount due in CNY, the checks by kind, the trade's reason), the
/// declaration's number and the trader's own reference (LRN). Built only from the receipt, which
/// is an allow-list of what the trade may see.
pub fn render_receipt(
    receipt: &TradeReceiptView,
    number: &str,
    functional_reference: Option<&str>,
) -> String {
    let kind = Notification::for_receipt(receipt);
    let reference = cut_id(&format!("{number}-{}", receipt.seq));
    let mut message = response(kind, Some(&reference), &receipt.recorded_at);
    statement(&mut message, "RECEIPT", &receipt.receipt);
    statement(&mut message, "BY", &receipt.by);
    if let Some(other) = &receipt.number
        && other != number
    {
        statement(&mut message, "NUMBER", other);
    }
    for check in &receipt.checks {
        statement(&mut message, "CHECK", check);
    }
    if let Some(reason) = &receipt.reason {
        statement(&mut message, "REASON", reason);
    }
    if let Some(continuity) = &receipt.continuity {
        statement(
            &mut message,
            "PROVISIONAL-REF",
            &continuity.provisional_reference,
        );
    }
    if kind == Notification::Rej {
        let error = message.push("Error");
        error.push_text(
            "Description",
            &cut(
                &format!(
                    "the request is refused: {}",
                    receipt.reason.as_deref().unwrap_or("no reason given")
                ),
                512,
            ),
        );
        error.push_text("ValidationCode", "REFUSED");
    }
    let declaration = message.push("Declaration");
    if receipt.receipt == "accepted" {
        date_time(declaration, "AcceptanceDateTime", &receipt.recorded_at);
    }
    if receipt.receipt == "cancelled" {
        date_time(declaration, "CancellationDateTime", &receipt.recorded_at);
    }
    if let Some(reference) = functional_reference {
        declaration.push_text("FunctionalReferenceID", &cut_id(reference));
    }
    declaration.push_text("ID", number);
    if kind == Notification::Rej {
        date_time(declaration, "RejectionDateTime", &receipt.recorded_at);
    }
    if kind == Notification::Tax
        && let Some(amount) = &receipt.amount
    {
        let payment = declaration.push("DutyTaxFee").push("Payment");
        if let Some(reference) = &receipt.reference {
            payment.push_text("ReferenceID", &cut_id(reference));
        }
        let name = if receipt.receipt == "assessed" {
            "TaxAssessedAmount"
        } else {
            "PaymentAmount"
        };
        let element = payment.push_text(name, amount);
        element.attributes.push(("currencyID".into(), "CNY".into()));
    }
    envelope(&message)
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// One error of a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseError {
    pub validation_code: Option<String>,
    pub description: Option<String>,
    /// Each pointer as (sequence, document section code, tag id).
    pub pointers: Vec<(Option<String>, Option<String>, Option<String>)>,
}

/// An amount anywhere in the response's declaration part (e.g. `TaxAssessedAmount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseAmount {
    pub element: String,
    pub currency: Option<String>,
    pub value: String,
}

/// A WCO response message as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseMessage {
    pub function_code: String,
    pub notification: Option<Notification>,
    /// The message's own reference.
    pub reference: Option<String>,
    /// As written (format 304 or 102).
    pub issued_at: Option<String>,
    /// The trader's reference (LRN) of the declaration it is about.
    pub functional_reference: Option<String>,
    /// The declaration's number (MRN; 海关编号).
    pub declaration_id: Option<String>,
    /// Statements as (code, description).
    pub statements: Vec<(Option<String>, Option<String>)>,
    pub errors: Vec<ResponseError>,
    pub amounts: Vec<ResponseAmount>,
}

fn text_of(element: &Element, name: &str) -> Option<String> {
    element
        .child(name)
        .map(|c| c.text.clone())
        .filter(|t| !t.is_empty())
}

fn collect_amounts(element: &Element, out: &mut Vec<ResponseAmount>) {
    for child in &element.children {
        if child.name.ends_with("Amount") && child.children.is_empty() {
            out.push(ResponseAmount {
                element: child.name.clone(),
                currency: child.attribute("currencyID").map(str::to_owned),
                value: child.text.clone(),
            });
        } else {
            collect_amounts(child, out);
        }
    }
}

/// Reads a WCO response (`MetaData/Response` or a bare `Response`, namespaced or not).
pub fn read_response(bytes: &[u8]) -> Result<ResponseMessage, FieldError> {
    let root = crate::xml::parse(bytes).map_err(|refusal| {
        let (en, zh) = refusal.messages();
        FieldError {
            path: crate::MESSAGE_PATH.into(),
            code: ErrorCode::InvalidJson,
            message_en: en,
            message_zh: zh,
        }
    })?;
    let response = match root.name.as_str() {
        "Response" => &root,
        "MetaData" => root
            .child("Response")
            .ok_or_else(|| FieldError::required("MetaData/Response"))?,
        _ => {
            return Err(FieldError::invalid_format(
                crate::MESSAGE_PATH,
                "a WCO response (MetaData or Response)",
                "WCO 回执报文（MetaData 或 Response）",
            ));
        }
    };
    let function_code = text_of(response, "FunctionCode")
        .ok_or_else(|| FieldError::required("Response/FunctionCode"))?;
    let declaration = response.child("Declaration");
    let mut amounts = Vec::new();
    if let Some(declaration) = declaration {
        collect_amounts(declaration, &mut amounts);
    }
    Ok(ResponseMessage {
        notification: Notification::from_function_code(&function_code),
        function_code,
        reference: text_of(response, "FunctionalReferenceID"),
        issued_at: response
            .child("IssueDateTime")
            .and_then(|d| text_of(d, "DateTimeString")),
        functional_reference: declaration.and_then(|d| text_of(d, "FunctionalReferenceID")),
        declaration_id: declaration.and_then(|d| text_of(d, "ID")),
        statements: response
            .children_named("AdditionalInformation")
            .map(|a| {
                (
                    text_of(a, "StatementCode"),
                    text_of(a, "StatementDescription"),
                )
            })
            .collect(),
        errors: response
            .children_named("Error")
            .map(|e| ResponseError {
                validation_code: text_of(e, "ValidationCode"),
                description: text_of(e, "Description"),
                pointers: e
                    .children_named("Pointer")
                    .map(|p| {
                        (
                            text_of(p, "SequenceNumeric"),
                            text_of(p, "DocumentSectionCode"),
                            text_of(p, "TagID"),
                        )
                    })
                    .collect(),
            })
            .collect(),
        amounts,
    })
}
