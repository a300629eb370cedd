//! China's cross-border e-commerce (CEB, 跨境电子商务) import messages of the 202205 standard
//! (`test_data/xsd/ceb-import-202205.xsd`), a pure edge: bytes in, typed documents out, receipts
//! rendered back; no I/O and no clock (times come in as arguments).
//!
//! - `read` / `parse` read a CEB311 order, CEB411 payment, CEB511 waybill, CEB621 inventory
//!   list, CEB623 cancellation or CEB625 return message, with every document it carries, checking
//!   what the schema checks (namespace, elements and their order, lengths, digits, codes) and
//!   the arithmetic the documents state (`arithmetic`), and reports every problem at once by path
//!   (`CEB621Message/Inventory[2]/InventoryList[1]/totalPrice`) in English and Chinese. The
//!   enveloped `ds:Signature` is skipped (the `dsig` crate verifies it).
//! - `codes`: China customs' numeric country and currency codes to ISO.
//! - `matching::compare`: the three-document comparison (三单对碰) of an inventory list with its
//!   order, payment and waybill.
//! - `declaration::to_declaration`: an accepted list as the platform's JSON declaration.
//! - `receipt::render` / `receipt::read`: the receipts (CEB312, 412, 512, 622, 624, 626, 816,
//!   900).
//! - `write::render`: a message written back (unsigned), for senders' tools, tests and benches.
//!
//! `docs/ceb-mapping.md` says what is read, checked, compared and mapped, and why.

pub mod arithmetic;
pub mod codes;
pub mod declaration;
pub mod documents;
pub mod matching;
mod read;
pub mod receipt;
mod spec;
pub mod write;
pub mod xml;

use domain::FieldError;
use domain::problem::{ErrorCode, echoed};

pub use declaration::{Parties, to_declaration};
pub use documents::*;
pub use spec::{DECIMAL_DIGITS_MAX, DECIMAL_FRACTION_DIGITS_MAX, INT_DIGITS_MAX};

/// The CEB namespace; elements are matched by it, with any prefix.
pub const CEB_NAMESPACE: &str = "http://www.chinaport.gov.cn/ceb";
/// XML Signature's namespace: its `Signature` is skipped when reading.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The largest message read, in bytes: the platform's JSON body limit (4 MiB). A CEB621 of 100
/// lists of 5 items each is about 0.5 MB.
pub const MESSAGE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Documents per message: the schema's `maxOccurs="100"` for `Order`, `Payment`, `Logistics`,
/// `Inventory`, `InvtCancel` and `InvtRefund`.
pub const DOCUMENTS_MAX: usize = 100;
/// Items per document: the schema's `maxOccurs="99"` for `OrderList`, `InventoryList` and
/// `InvtRefundList`.
pub const ITEMS_MAX: usize = 99;
/// The deepest nesting of elements read. A CEB record is 4 deep (message, document, record,
/// field) and the signature 6 (`Signature/SignedInfo/Reference/Transforms/Transform`); the rest
/// is room for `ExtendMessage`'s free content.
pub const DEPTH_MAX: usize = 12;
/// Elements in one message: 100 documents of 99 items of 20 elements, with room.
pub const ELEMENTS_MAX: usize = 250_000;
/// `BaseSubscribe` per message: the schema's `maxOccurs="5"`.
pub const SUBSCRIPTIONS_MAX: usize = 5;

/// The path of a message that is not XML, or not a CEB message read here.
pub const MESSAGE_PATH: &str = "/";

/// The message types read here, and the receipts they are answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// CEB311 电子订单
    Order,
    /// CEB411 支付凭证
    Payment,
    /// CEB511 物流运单
    Waybill,
    /// CEB621 进口清单
    Inventory,
    /// CEB623 撤销申请单
    Cancellation,
    /// CEB625 退货申请单
    Return,
}

impl MessageType {
    pub const ALL: [MessageType; 6] = [
        MessageType::Order,
        MessageType::Payment,
        MessageType::Waybill,
        MessageType::Inventory,
        MessageType::Cancellation,
        MessageType::Return,
    ];

    /// The root element, e.g. `CEB621Message`.
    pub fn root_name(self) -> &'static str {
        match self {
            MessageType::Order => "CEB311Message",
            MessageType::Payment => "CEB411Message",
            MessageType::Waybill => "CEB511Message",
            MessageType::Inventory => "CEB621Message",
            MessageType::Cancellation => "CEB623Message",
            MessageType::Return => "CEB625Message",
        }
    }

    /// The element of one document, e.g. `Inventory`.
    pub fn document_name(self) -> &'static str {
        match self {
            MessageType::Order => "Order",
            MessageType::Payment => "Payment",
            MessageType::Waybill => "Logistics",
            MessageType::Inventory => "Inventory",
            MessageType::Cancellation => "InvtCancel",
            MessageType::Return => "InvtRefund",
        }
    }

    /// The schema requires the enveloped signature on lists, cancellations and returns; on
    /// orders, payments and waybills it is optional.
    pub fn signature_required(self) -> bool {
        matches!(
            self,
            MessageType::Inventory | MessageType::Cancellation | MessageType::Return
        )
    }

    fn from_root(name: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.root_name() == name)
    }
}

/// One message: its documents (one or more, of one kind), who sent it, its own number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    /// The message's 36-character number (`guid` attribute).
    pub guid: String,
    pub version: String,
    pub documents: Vec<T>,
    pub base_transfer: BaseTransfer,
}

/// A CEB message read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Orders(Envelope<Order>),
    Payments(Envelope<Payment>),
    Waybills(Envelope<Waybill>),
    Inventories(Envelope<Inventory>),
    Cancellations(Envelope<Cancellation>),
    Returns(Envelope<Return>),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Orders(_) => MessageType::Order,
            Message::Payments(_) => MessageType::Payment,
            Message::Waybills(_) => MessageType::Waybill,
            Message::Inventories(_) => MessageType::Inventory,
            Message::Cancellations(_) => MessageType::Cancellation,
            Message::Returns(_) => MessageType::Return,
        }
    }

    pub fn base_transfer(&self) -> &BaseTransfer {
        match self {
            Message::Orders(e) => &e.base_transfer,
            Message::Payments(e) => &e.base_transfer,
            Message::Waybills(e) => &e.base_transfer,
            Message::Inventories(e) => &e.base_transfer,
            Message::Cancellations(e) => &e.base_transfer,
            Message::Returns(e) => &e.base_transfer,
        }
    }

    pub fn guid(&self) -> &str {
        match self {
            Message::Orders(e) => &e.guid,
            Message::Payments(e) => &e.guid,
            Message::Waybills(e) => &e.guid,
            Message::Inventories(e) => &e.guid,
            Message::Cancellations(e) => &e.guid,
            Message::Returns(e) => &e.guid,
        }
    }
}

/// A message refused, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The message type, when the root element named one read here.
    pub message_type: Option<MessageType>,
    /// The message's `guid` attribute as sent, when it had one (for the CEB900 receipt).
    pub guid: Option<String>,
    pub errors: Vec<FieldError>,
    /// True when the message is what the schema allows and only its arithmetic is wrong: it is
    /// answered with its own receipts (refused), not with a CEB900 format receipt. `read` gives
    /// such a message's documents one by one.
    pub schema_valid: bool,
}

fn message_error(code: ErrorCode, en: String, zh: String) -> FieldError {
    spec::error(MESSAGE_PATH, code, en, zh)
}

/// A message the schema accepts, with every document it carries and, by document (in the same
/// order), the problems of its arithmetic: each document is answered by its own receipt, so one
/// order's wrong total does not refuse the others of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub message: Message,
    pub problems: Vec<Vec<FieldError>>,
}

impl Read {
    pub fn is_clean(&self) -> bool {
        self.problems.iter().all(Vec::is_empty)
    }
}

/// Reads a CEB message of one of the types in `MessageType`, refusing it whole if any document
/// has a problem (`read` answers document by document).
pub fn parse(bytes: &[u8]) -> Result<Message, Refusal> {
    let read = read(bytes)?;
    if read.is_clean() {
        return Ok(read.message);
    }
    Err(Refusal {
        message_type: Some(read.message.message_type()),
        guid: Some(read.message.guid().to_owned()),
        errors: read.problems.into_iter().flatten().collect(),
        schema_valid: true,
    })
}

/// Reads a CEB message: refused (`Refusal`, answered by CEB900) when the schema would refuse it;
/// otherwise every document with its own arithmetic problems.
pub fn read(bytes: &[u8]) -> Result<Read, Refusal> {
    let tree = xml::parse(bytes).map_err(|refusal| {
        let (en, zh) = refusal.messages();
        let code = match refusal {
            xml::XmlRefusal::TooLarge | xml::XmlRefusal::TooDeep => ErrorCode::TooLong,
            xml::XmlRefusal::TooManyElements => ErrorCode::TooMany,
            _ => ErrorCode::InvalidFormat,
        };
        Refusal {
            message_type: None,
            guid: None,
            errors: vec![message_error(code, en, zh)],
            schema_valid: false,
        }
    })?;
    let root = tree.root;
    let guid = root.attribute("guid").map(str::to_owned);
    let kind = (root.ns == xml::Ns::Ceb)
        .then(|| MessageType::from_root(&root.name))
        .flatten()
        .ok_or_else(|| Refusal {
            message_type: None,
            guid: guid.clone(),
            errors: vec![message_error(
                ErrorCode::InvalidFormat,
                format!(
                    "must be a CEB311, 411, 511, 621, 623 or 625 message in the namespace {CEB_NAMESPACE}, not {}",
                    echoed(&root.name)
                ),
                format!(
                    "应为命名空间 {CEB_NAMESPACE} 中的 CEB311、411、511、621、623 或 625 报文，而不是 {}",
                    echoed(&root.name)
                ),
            )],
            schema_valid: false,
        })?;
    let mut errors = Vec::new();
    let root_path = kind.root_name();
    let guid_ok = match root.attribute("guid") {
        None => {
            errors.push(FieldError::required(format!("{root_path}/@guid")));
            None
        }
        Some(g) if g.chars().count() != 36 => {
            errors.push(FieldError::invalid_format(
                format!("{root_path}/@guid"),
                "exactly 36 characters",
                "36 个字符",
            ));
            None
        }
        Some(g) => Some(g.to_owned()),
    };
    let version = match root.attribute("version") {
        None => {
            errors.push(FieldError::required(format!("{root_path}/@version")));
            None
        }
        Some(v) if v.is_empty() || v.chars().count() > 10 => {
            errors.push(FieldError::invalid_format(
                format!("{root_path}/@version"),
                "1 to 10 characters, e.g. 1.0",
                "1 至 10 个字符，如 1.0",
            ));
            None
        }
        Some(v) => Some(v.to_owned()),
    };
    let (elements, transfer) = read::envelope(&root, kind, &mut errors);
    if kind.signature_required() && !tree.signed {
        errors.push(FieldError::required(format!("{root_path}/Signature")));
    }
    let base_transfer = transfer
        .and_then(|t| read::base_transfer(t, &format!("{root_path}/BaseTransfer"), &mut errors));
    let document_name = kind.document_name();
    let path = |i: usize| format!("{root_path}/{document_name}[{}]", i + 1);
    // Arithmetic is checked on the documents that read, its problems kept apart so that a
    // message wrong only in its arithmetic is told from one the schema refuses.
    let mut arithmetic = Vec::new();
    macro_rules! documents {
        ($read:path, $check:expr) => {{
            let mut documents = Vec::new();
            for (i, element) in elements.iter().enumerate() {
                if let Some(document) = $read(element, &path(i), &mut errors) {
                    let mut problems = Vec::new();
                    $check(&document, &path(i), &mut problems);
                    arithmetic.push(problems);
                    documents.push(document);
                }
            }
            documents
        }};
    }
    let documents = match kind {
        MessageType::Order => Documents::Orders(documents!(read::order, arithmetic::check_order)),
        MessageType::Payment => Documents::Payments(documents!(read::payment, nothing)),
        MessageType::Waybill => Documents::Waybills(documents!(read::waybill, nothing)),
        MessageType::Inventory => {
            Documents::Inventories(documents!(read::inventory, arithmetic::check_inventory))
        }
        MessageType::Cancellation => {
            Documents::Cancellations(documents!(read::cancellation, nothing))
        }
        MessageType::Return => {
            Documents::Returns(documents!(read::refund, arithmetic::check_return))
        }
    };
    if !errors.is_empty() {
        errors.extend(arithmetic.into_iter().flatten());
        return Err(Refusal {
            message_type: Some(kind),
            guid,
            errors,
            schema_valid: false,
        });
    }
    let (Some(guid), Some(version), Some(base_transfer)) = (guid_ok, version, base_transfer) else {
        unreachable!("an absent or refused attribute or BaseTransfer is an error reported above")
    };
    macro_rules! envelope {
        ($documents:expr) => {
            Envelope {
                guid,
                version,
                documents: $documents,
                base_transfer,
            }
        };
    }
    let message = match documents {
        Documents::Orders(d) => Message::Orders(envelope!(d)),
        Documents::Payments(d) => Message::Payments(envelope!(d)),
        Documents::Waybills(d) => Message::Waybills(envelope!(d)),
        Documents::Inventories(d) => Message::Inventories(envelope!(d)),
        Documents::Cancellations(d) => Message::Cancellations(envelope!(d)),
        Documents::Returns(d) => Message::Returns(envelope!(d)),
    };
    Ok(Read {
        message,
        problems: arithmetic,
    })
}

/// Documents with no arithmetic of their own.
fn nothing<T>(_: &T, _: &str, _: &mut Vec<FieldError>) {}

enum Documents {
    Orders(Vec<Order>),
    Payments(Vec<Payment>),
    Waybills(Vec<Waybill>),
    Inventories(Vec<Inventory>),
    Cancellations(Vec<Cancellation>),
    Returns(Vec<Return>),
}

#[cfg(test)]
mod tests;
