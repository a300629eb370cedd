//! The receipts (回执) as the 202205 schema defines them: CEB312 (order), CEB412 (payment),
//! CEB512 (waybill), CEB622 (inventory list), CEB624 (cancellation), CEB626 (return), CEB816
//! (tax bill to the agent) and CEB900 (format error). Written in the CEB namespace as the default
//! namespace, as the CEB622 sample is; the tests validate each against the schema with xmllint.
//! Free text longer than its element allows (`returnInfo` 1000 characters, CEB900's 5000) is cut;
//! codes of fixed length are checked, and a receipt that the schema would refuse is not rendered.

use chrono::NaiveDateTime;
use domain::FieldError;
use rust_decimal::Decimal;

use crate::arithmetic::to_fen;
use crate::xml::escape_into;
use crate::{CEB_NAMESPACE, MessageType, Refusal};

/// `returnStatus`, as the schema's documentation lists it for each receipt. Not every status
/// belongs to every receipt (`allowed_in`): release, inspection and holds are the inventory
/// list's alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnStatus {
    /// 1 电子口岸已暂存
    Stored,
    /// 2 电子口岸申报中
    Declaring,
    /// 3 发送海关成功
    SentToCustoms,
    /// 4 发送海关失败
    SendingFailed,
    /// 100 海关退单: refused.
    Refused,
    /// 120 海关入库: accepted.
    Accepted,
    /// 300 人工审核
    ManualReview,
    /// 399 海关审结
    Concluded,
    /// 500 查验: held for inspection.
    Inspection,
    /// 501 扣留移送通关
    HeldForClearance,
    /// 502 扣留移送缉私
    HeldForAntiSmuggling,
    /// 503 扣留移送法规
    HeldForLegal,
    /// 599 其它扣留
    HeldOther,
    /// 700 退运
    ReturnedAbroad,
    /// 800 放行: released.
    Released,
    /// 899 结关
    Closed,
    /// A negative number: the message could not be processed (处理异常).
    ProcessingError(u16),
}

/// The receipts rendered here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptType {
    Order,
    Payment,
    Waybill,
    Inventory,
    Cancellation,
    Return,
}

impl ReceiptType {
    pub fn answering(message: MessageType) -> ReceiptType {
        match message {
            MessageType::Order => ReceiptType::Order,
            MessageType::Payment => ReceiptType::Payment,
            MessageType::Waybill => ReceiptType::Waybill,
            MessageType::Inventory => ReceiptType::Inventory,
            MessageType::Cancellation => ReceiptType::Cancellation,
            MessageType::Return => ReceiptType::Return,
        }
    }

    fn root(self) -> &'static str {
        match self {
            ReceiptType::Order => "CEB312Message",
            ReceiptType::Payment => "CEB412Message",
            ReceiptType::Waybill => "CEB512Message",
            ReceiptType::Inventory => "CEB622Message",
            ReceiptType::Cancellation => "CEB624Message",
            ReceiptType::Return => "CEB626Message",
        }
    }

    fn entity(self) -> &'static str {
        match self {
            ReceiptType::Order => "OrderReturn",
            ReceiptType::Payment => "PaymentReturn",
            ReceiptType::Waybill => "LogisticsReturn",
            ReceiptType::Inventory => "InventoryReturn",
            ReceiptType::Cancellation => "InvtCancelReturn",
            ReceiptType::Return => "InvtRefundReturn",
        }
    }
}

impl ReturnStatus {
    pub fn code(self) -> String {
        match self {
            ReturnStatus::Stored => "1".into(),
            ReturnStatus::Declaring => "2".into(),
            ReturnStatus::SentToCustoms => "3".into(),
            ReturnStatus::SendingFailed => "4".into(),
            ReturnStatus::Refused => "100".into(),
            ReturnStatus::Accepted => "120".into(),
            ReturnStatus::ManualReview => "300".into(),
            ReturnStatus::Concluded => "399".into(),
            ReturnStatus::Inspection => "500".into(),
            ReturnStatus::HeldForClearance => "501".into(),
            ReturnStatus::HeldForAntiSmuggling => "502".into(),
            ReturnStatus::HeldForLegal => "503".into(),
            ReturnStatus::HeldOther => "599".into(),
            ReturnStatus::ReturnedAbroad => "700".into(),
            ReturnStatus::Released => "800".into(),
            ReturnStatus::Closed => "899".into(),
            ReturnStatus::ProcessingError(n) => format!("-{}", n.max(1)),
        }
    }

    /// The standard's own words for the status.
    pub fn meaning_zh(self) -> &'static str {
        match self {
            ReturnStatus::Stored => "电子口岸已暂存",
            ReturnStatus::Declaring => "电子口岸申报中",
            ReturnStatus::SentToCustoms => "发送海关成功",
            ReturnStatus::SendingFailed => "发送海关失败",
            ReturnStatus::Refused => "海关退单",
            ReturnStatus::Accepted => "海关入库",
            ReturnStatus::ManualReview => "人工审核",
            ReturnStatus::Concluded => "海关审结",
            ReturnStatus::Inspection => "查验",
            ReturnStatus::HeldForClearance => "扣留移送通关",
            ReturnStatus::HeldForAntiSmuggling => "扣留移送缉私",
            ReturnStatus::HeldForLegal => "扣留移送法规",
            ReturnStatus::HeldOther => "其它扣留",
            ReturnStatus::ReturnedAbroad => "退运",
            ReturnStatus::Released => "放行",
            ReturnStatus::Closed => "结关",
            ReturnStatus::ProcessingError(_) => "处理异常",
        }
    }

    /// Whether the schema's documentation lists the status for the receipt.
    pub fn allowed_in(self, receipt: ReceiptType) -> bool {
        use ReturnStatus::*;
        match self {
            Declaring | SentToCustoms | SendingFailed | Refused | Accepted | Concluded
            | ProcessingError(_) => true,
            Stored => matches!(
                receipt,
                ReceiptType::Inventory | ReceiptType::Cancellation | ReceiptType::Return
            ),
            ManualReview | Inspection | HeldForClearance | HeldForAntiSmuggling | HeldForLegal
            | HeldOther | ReturnedAbroad | Released | Closed => receipt == ReceiptType::Inventory,
        }
    }
}

/// One document's answer. The keys are those the receipt's entity carries: a CEB312 names the
/// order (`ebp_code`, `ebc_code`, `order_no`), a CEB412 the payment (`pay_code`,
/// `pay_transaction_id`), a CEB512 the waybill (`logistics_code`, `logistics_no`), a CEB622 /
/// 624 / 626 the list (`cop_no`, `pre_no`, and `invt_no` once customs numbered it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentReturn {
    /// 36 characters, the platform's number of this receipt entity.
    pub guid: String,
    pub customs_code: Option<String>,
    pub ebp_code: Option<String>,
    pub ebc_code: Option<String>,
    pub agent_code: Option<String>,
    pub order_no: Option<String>,
    pub pay_code: Option<String>,
    pub pay_transaction_id: Option<String>,
    pub logistics_code: Option<String>,
    pub logistics_no: Option<String>,
    pub cop_no: Option<String>,
    /// 18 characters: the platform's pre-entry number of the list.
    pub pre_no: Option<String>,
    /// 18 characters: customs' list number (4 office + 4 year + I/E + 9 sequence).
    pub invt_no: Option<String>,
    pub status: Option<ReturnStatus>,
    pub time: Option<NaiveDateTime>,
    /// What to tell the enterprise, e.g. the refusal's reasons; cut to 1000 characters.
    pub info: String,
}

impl DocumentReturn {
    /// The keys of a CEB312 entity answering `order`; the caller adds its guid, status, time and
    /// info (`DocumentReturn { guid, status, .. DocumentReturn::order(&order) }`).
    pub fn order(order: &crate::Order) -> DocumentReturn {
        DocumentReturn {
            ebp_code: Some(order.ebp_code.clone()),
            ebc_code: Some(order.ebc_code.clone()),
            order_no: Some(order.order_no.clone()),
            ..DocumentReturn::default()
        }
    }

    /// The keys of a CEB412 entity answering `payment`.
    pub fn payment(payment: &crate::Payment) -> DocumentReturn {
        DocumentReturn {
            pay_code: Some(payment.pay_code.clone()),
            pay_transaction_id: Some(payment.pay_transaction_id.clone()),
            ..DocumentReturn::default()
        }
    }

    /// The keys of a CEB512 entity answering `waybill`.
    pub fn waybill(waybill: &crate::Waybill) -> DocumentReturn {
        DocumentReturn {
            logistics_code: Some(waybill.logistics_code.clone()),
            logistics_no: Some(waybill.logistics_no.clone()),
            ..DocumentReturn::default()
        }
    }

    /// The keys of a CEB622 entity answering `inventory`, with the platform's 18-character
    /// pre-entry number of it (the list's own `preNo` is usually empty on arrival).
    pub fn inventory(inventory: &crate::Inventory, pre_no: &str) -> DocumentReturn {
        DocumentReturn {
            customs_code: Some(inventory.customs_code.clone()),
            ebp_code: Some(inventory.ebp_code.clone()),
            ebc_code: Some(inventory.ebc_code.clone()),
            agent_code: Some(inventory.agent_code.clone()),
            cop_no: inventory.cop_no.clone(),
            pre_no: Some(pre_no.to_owned()),
            invt_no: inventory.invt_no.clone(),
            ..DocumentReturn::default()
        }
    }

    /// The keys of a CEB624 entity answering `cancellation`.
    pub fn cancellation(cancellation: &crate::Cancellation, pre_no: &str) -> DocumentReturn {
        DocumentReturn {
            customs_code: Some(cancellation.customs_code.clone()),
            ebp_code: Some(cancellation.ebp_code.clone()),
            ebc_code: Some(cancellation.ebc_code.clone()),
            agent_code: Some(cancellation.agent_code.clone()),
            cop_no: cancellation.cop_no.clone(),
            pre_no: Some(pre_no.to_owned()),
            invt_no: Some(cancellation.invt_no.clone()),
            ..DocumentReturn::default()
        }
    }

    /// The keys of a CEB626 entity answering `refund`.
    pub fn refund(refund: &crate::Return, pre_no: &str) -> DocumentReturn {
        DocumentReturn {
            customs_code: Some(refund.customs_code.clone()),
            ebp_code: Some(refund.ebp_code.clone()),
            ebc_code: Some(refund.ebc_code.clone()),
            agent_code: Some(refund.agent_code.clone()),
            cop_no: refund.cop_no.clone(),
            pre_no: Some(pre_no.to_owned()),
            invt_no: Some(refund.invt_no.clone()),
            ..DocumentReturn::default()
        }
    }
}

/// 电子税单 status (`TaxHeadRd/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxBillStatus {
    /// 1 已生成
    Generated,
    /// 2 已汇总
    Summarised,
    /// 3 作废
    Void,
}

/// One list's tax bill (CEB816 `Tax`), to the declaring agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxBill {
    pub guid: String,
    pub time: NaiveDateTime,
    pub invt_no: String,
    pub tax_no: String,
    pub customs_tax: Decimal,
    pub value_added_tax: Decimal,
    pub consumption_tax: Decimal,
    pub status: TaxBillStatus,
    pub ent_duty_no: Option<String>,
    pub note: Option<String>,
    pub assure_code: Option<String>,
    pub ebc_code: Option<String>,
    pub logistics_code: Option<String>,
    pub agent_code: Option<String>,
    pub customs_code: Option<String>,
    pub items: Vec<TaxBillItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxBillItem {
    pub gnum: u32,
    pub gcode: String,
    /// 完税价格 of the item.
    pub tax_price: Decimal,
    pub customs_tax: Decimal,
    pub value_added_tax: Decimal,
    pub consumption_tax: Decimal,
}

/// CEB900: the message could not be read, or fails the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub guid: String,
    /// Negative; -1 unless the caller has a finer code.
    pub status: i32,
    pub info: String,
    pub time: NaiveDateTime,
    /// The original transfer's copMsgId, empty when unknown.
    pub ori_cop_msg_id: String,
    /// E.g. CEB311Message, or Unknown.
    pub ori_message_type: String,
    /// The original message's content.
    pub ori_biz_message: String,
}

impl FormatError {
    /// The CEB900 answering a refusal: every problem, path and both languages, one per line.
    pub fn from_refusal(
        refusal: &Refusal,
        guid: &str,
        original: &[u8],
        time: NaiveDateTime,
    ) -> FormatError {
        FormatError {
            guid: guid.to_owned(),
            status: -1,
            info: refusal_info(refusal),
            time,
            ori_cop_msg_id: String::new(),
            ori_message_type: refusal
                .message_type
                .map_or("Unknown", |t| t.root_name())
                .to_owned(),
            ori_biz_message: String::from_utf8_lossy(original).into_owned(),
        }
    }
}

/// A refusal's problems as a receipt's `returnInfo`: `path: English / 中文`, one per line.
pub fn refusal_info(refusal: &Refusal) -> String {
    refusal
        .errors
        .iter()
        .map(|e| format!("{}: {} / {}", e.path, e.message_en, e.message_zh))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A receipt message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Documents {
        receipt: ReceiptType,
        /// The receipt message's own 36-character number.
        guid: String,
        returns: Vec<DocumentReturn>,
    },
    TaxBills {
        guid: String,
        bills: Vec<TaxBill>,
    },
    FormatError {
        guid: String,
        error: FormatError,
    },
}

/// Entities per receipt message: the schema's `maxOccurs="100"`.
pub const RETURNS_MAX: usize = 100;
/// `returnInfo` of a document's receipt, in characters.
pub const RETURN_INFO_CHARS_MAX: usize = 1000;
/// `returnInfo` of a CEB900, in characters.
pub const FORMAT_INFO_CHARS_MAX: usize = 5000;

fn cut(text: &str, chars_max: usize) -> String {
    match text.char_indices().nth(chars_max) {
        None => text.to_owned(),
        Some((end, _)) => {
            let mut cut: String = text[..end].to_owned();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

fn exact(path: &str, value: &str, length: usize, errors: &mut Vec<FieldError>) {
    if value.chars().count() != length {
        errors.push(FieldError::invalid_format(
            path,
            &format!("exactly {length} characters"),
            &format!("{length} 个字符"),
        ));
    }
}

fn bounded(path: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let chars = value.chars().count();
    if chars == 0 {
        errors.push(FieldError::required(path));
    } else if chars > max {
        errors.push(FieldError::too_long(path, max));
    }
}

fn time(t: NaiveDateTime) -> String {
    t.format("%Y%m%d%H%M%S%3f").to_string()
}

fn amount(a: Decimal) -> String {
    to_fen(a).to_string()
}

struct Writer(String);

impl Writer {
    fn field(&mut self, indent: usize, name: &str, value: &str) {
        self.0.extend(std::iter::repeat_n('\t', indent));
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        escape_into(&mut self.0, value);
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    fn open(&mut self, indent: usize, name: &str) {
        self.0.extend(std::iter::repeat_n('\t', indent));
        self.0.push_str(&format!("<{name}>\n"));
    }

    fn close(&mut self, indent: usize, name: &str) {
        self.0.extend(std::iter::repeat_n('\t', indent));
        self.0.push_str(&format!("</{name}>\n"));
    }
}

/// The receipt as XML, or what in it the schema would refuse (by path, e.g.
/// `CEB622Message/InventoryReturn[1]/preNo`).
pub fn render(receipt: &Receipt) -> Result<String, Vec<FieldError>> {
    let mut errors = Vec::new();
    let (root, guid) = match receipt {
        Receipt::Documents { receipt, guid, .. } => (receipt.root(), guid),
        Receipt::TaxBills { guid, .. } => ("CEB816Message", guid),
        Receipt::FormatError { guid, .. } => ("CEB900Message", guid),
    };
    exact(&format!("{root}/@guid"), guid, 36, &mut errors);
    let mut w = Writer(String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    w.0.push_str(&format!("<{root} xmlns=\"{CEB_NAMESPACE}\" guid=\""));
    escape_into(&mut w.0, guid);
    w.0.push_str("\" version=\"1.0\">\n");
    match receipt {
        Receipt::Documents {
            receipt, returns, ..
        } => {
            if returns.is_empty() {
                errors.push(FieldError::required(format!("{root}/{}", receipt.entity())));
            }
            if returns.len() > RETURNS_MAX {
                errors.push(FieldError::too_many(
                    format!("{root}/{}", receipt.entity()),
                    RETURNS_MAX,
                ));
            }
            for (i, r) in returns.iter().enumerate() {
                let at = format!("{root}/{}[{}]", receipt.entity(), i + 1);
                document_return(&mut w, *receipt, r, &at, &mut errors);
            }
        }
        Receipt::TaxBills { bills, .. } => {
            if bills.is_empty() {
                errors.push(FieldError::required(format!("{root}/Tax")));
            }
            for (i, bill) in bills.iter().enumerate() {
                tax_bill(&mut w, bill, &format!("{root}/Tax[{}]", i + 1), &mut errors);
            }
        }
        Receipt::FormatError { error, .. } => {
            let at = format!("{root}/MessageReturn");
            exact(&format!("{at}/guid"), &error.guid, 36, &mut errors);
            if error.status >= 0 {
                errors.push(FieldError::out_of_range(
                    format!("{at}/returnStatus"),
                    "below 0 (a format error)",
                    "小于 0（报文格式校验异常）",
                ));
            }
            w.open(1, "MessageReturn");
            w.field(2, "guid", &error.guid);
            w.field(2, "returnStatus", &error.status.to_string());
            w.field(2, "returnInfo", &cut(&error.info, FORMAT_INFO_CHARS_MAX));
            w.field(2, "returnTime", &time(error.time));
            w.field(2, "oriCopMsgId", &cut(&error.ori_cop_msg_id, 255));
            w.field(2, "oriMessageType", &cut(&error.ori_message_type, 15));
            w.field(2, "oriBizMessage", &error.ori_biz_message);
            w.close(1, "MessageReturn");
        }
    }
    w.0.push_str(&format!("</{root}>\n"));
    if errors.is_empty() {
        Ok(w.0)
    } else {
        Err(errors)
    }
}

fn document_return(
    w: &mut Writer,
    receipt: ReceiptType,
    r: &DocumentReturn,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    let entity = receipt.entity();
    exact(&format!("{at}/guid"), &r.guid, 36, errors);
    let required = |name: &str,
                    value: &Option<String>,
                    max: usize,
                    errors: &mut Vec<FieldError>| {
        match value {
            None => errors.push(FieldError::required(format!("{at}/{name}"))),
            Some(v) => bounded(&format!("{at}/{name}"), v, max, errors),
        }
    };
    let optional =
        |name: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>| {
            if let Some(v) = value {
                bounded(&format!("{at}/{name}"), v, max, errors);
            }
        };
    let status = match r.status {
        None => {
            errors.push(FieldError::required(format!("{at}/returnStatus")));
            String::new()
        }
        Some(s) if !s.allowed_in(receipt) => {
            errors.push(FieldError::not_allowed(
                format!("{at}/returnStatus"),
                &format!("status {} is not one this receipt carries", s.code()),
                &format!("此回执不使用状态 {}", s.code()),
            ));
            String::new()
        }
        Some(s) => s.code(),
    };
    let Some(when) = r.time else {
        errors.push(FieldError::required(format!("{at}/returnTime")));
        return;
    };
    let info = if r.info.is_empty() {
        r.status
            .map_or_else(String::new, |s| s.meaning_zh().to_owned())
    } else {
        cut(&r.info, RETURN_INFO_CHARS_MAX)
    };
    w.open(1, entity);
    w.field(2, "guid", &r.guid);
    let put = |w: &mut Writer, name: &str, value: &Option<String>| {
        if let Some(v) = value {
            w.field(2, name, v);
        }
    };
    match receipt {
        ReceiptType::Order => {
            required("ebpCode", &r.ebp_code, 18, errors);
            required("ebcCode", &r.ebc_code, 18, errors);
            required("orderNo", &r.order_no, 60, errors);
            put(w, "ebpCode", &r.ebp_code);
            put(w, "ebcCode", &r.ebc_code);
            put(w, "orderNo", &r.order_no);
        }
        ReceiptType::Payment => {
            required("payCode", &r.pay_code, 18, errors);
            required("payTransactionId", &r.pay_transaction_id, 60, errors);
            put(w, "payCode", &r.pay_code);
            put(w, "payTransactionId", &r.pay_transaction_id);
        }
        ReceiptType::Waybill => {
            required("logisticsCode", &r.logistics_code, 18, errors);
            required("logisticsNo", &r.logistics_no, 60, errors);
            put(w, "logisticsCode", &r.logistics_code);
            put(w, "logisticsNo", &r.logistics_no);
        }
        ReceiptType::Inventory | ReceiptType::Cancellation | ReceiptType::Return => {
            if let Some(c) = &r.customs_code {
                exact(&format!("{at}/customsCode"), c, 4, errors);
            }
            optional("ebpCode", &r.ebp_code, 18, errors);
            optional("ebcCode", &r.ebc_code, 18, errors);
            optional("agentCode", &r.agent_code, 18, errors);
            required("copNo", &r.cop_no, 20, errors);
            match &r.pre_no {
                None => errors.push(FieldError::required(format!("{at}/preNo"))),
                Some(p) => exact(&format!("{at}/preNo"), p, 18, errors),
            }
            if let Some(n) = &r.invt_no {
                exact(&format!("{at}/invtNo"), n, 18, errors);
            }
            put(w, "customsCode", &r.customs_code);
            // The schema's order differs: the list's receipt names the platform first, the
            // cancellation's and return's the agent first.
            if receipt == ReceiptType::Inventory {
                put(w, "ebpCode", &r.ebp_code);
                put(w, "ebcCode", &r.ebc_code);
                put(w, "agentCode", &r.agent_code);
            } else {
                put(w, "agentCode", &r.agent_code);
                put(w, "ebpCode", &r.ebp_code);
                put(w, "ebcCode", &r.ebc_code);
            }
            put(w, "copNo", &r.cop_no);
            put(w, "preNo", &r.pre_no);
            put(w, "invtNo", &r.invt_no);
        }
    }
    w.field(2, "returnStatus", &status);
    w.field(2, "returnTime", &time(when));
    w.field(2, "returnInfo", &info);
    w.close(1, entity);
}

fn tax_bill(w: &mut Writer, bill: &TaxBill, at: &str, errors: &mut Vec<FieldError>) {
    let head = format!("{at}/TaxHeadRd");
    exact(&format!("{head}/guid"), &bill.guid, 36, errors);
    bounded(&format!("{head}/invtNo"), &bill.invt_no, 18, errors);
    bounded(&format!("{head}/taxNo"), &bill.tax_no, 50, errors);
    if let Some(c) = &bill.customs_code {
        exact(&format!("{head}/customsCode"), c, 4, errors);
    }
    if bill.items.is_empty() {
        errors.push(FieldError::required(format!("{at}/TaxListRd")));
    }
    if bill.items.len() > crate::ITEMS_MAX {
        errors.push(FieldError::too_many(
            format!("{at}/TaxListRd"),
            crate::ITEMS_MAX,
        ));
    }
    w.open(1, "Tax");
    w.open(2, "TaxHeadRd");
    w.field(3, "guid", &bill.guid);
    w.field(3, "returnTime", &time(bill.time));
    w.field(3, "invtNo", &bill.invt_no);
    w.field(3, "taxNo", &bill.tax_no);
    w.field(3, "customsTax", &amount(bill.customs_tax));
    w.field(3, "valueAddedTax", &amount(bill.value_added_tax));
    w.field(3, "consumptionTax", &amount(bill.consumption_tax));
    let status = match bill.status {
        TaxBillStatus::Generated => "1",
        TaxBillStatus::Summarised => "2",
        TaxBillStatus::Void => "3",
    };
    w.field(3, "status", status);
    for (name, value, max) in [
        ("entDutyNo", &bill.ent_duty_no, 50),
        ("note", &bill.note, 1000),
        ("assureCode", &bill.assure_code, 64),
        ("ebcCode", &bill.ebc_code, 64),
        ("logisticsCode", &bill.logistics_code, 64),
        ("agentCode", &bill.agent_code, 18),
        ("customsCode", &bill.customs_code, 4),
    ] {
        if let Some(v) = value {
            if name != "customsCode" {
                bounded(&format!("{head}/{name}"), v, max, errors);
            }
            w.field(3, name, v);
        }
    }
    w.close(2, "TaxHeadRd");
    for (i, item) in bill.items.iter().enumerate() {
        exact(
            &format!("{at}/TaxListRd[{}]/gcode", i + 1),
            &item.gcode,
            10,
            errors,
        );
        w.open(2, "TaxListRd");
        w.field(3, "gnum", &item.gnum.to_string());
        w.field(3, "gcode", &item.gcode);
        w.field(3, "taxPrice", &amount(item.tax_price));
        w.field(3, "customsTax", &amount(item.customs_tax));
        w.field(3, "valueAddedTax", &amount(item.value_added_tax));
        w.field(3, "consumptionTax", &amount(item.consumption_tax));
        w.close(2, "TaxListRd");
    }
    w.close(1, "Tax");
}

impl ReturnStatus {
    /// The status of a `returnStatus` code, as `code` writes it.
    pub fn from_code(code: &str) -> Option<ReturnStatus> {
        use ReturnStatus::*;
        Some(match code {
            "1" => Stored,
            "2" => Declaring,
            "3" => SentToCustoms,
            "4" => SendingFailed,
            "100" => Refused,
            "120" => Accepted,
            "300" => ManualReview,
            "399" => Concluded,
            "500" => Inspection,
            "501" => HeldForClearance,
            "502" => HeldForAntiSmuggling,
            "503" => HeldForLegal,
            "599" => HeldOther,
            "700" => ReturnedAbroad,
            "800" => Released,
            "899" => Closed,
            negative => {
                let n: u16 = negative.strip_prefix('-')?.parse().ok()?;
                (n > 0).then_some(ProcessingError(n))?
            }
        })
    }
}

fn read_time(
    path: &str,
    text: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDateTime> {
    let text = text?;
    let time = NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S%3f").ok();
    if time.is_none() {
        errors.push(FieldError::invalid_format(
            path,
            "a time written YYYYMMDDhhmmssSSS that exists",
            "存在的时间，格式 YYYYMMDDhhmmssSSS",
        ));
    }
    time
}

/// Reads a receipt (CEB312, 412, 512, 622, 624, 626, 816 or 900) against the schema's tables, as
/// an enterprise's software would: the platform's own receipts read back to what was rendered,
/// and the standard's CEB622 sample reads.
pub fn read(bytes: &[u8]) -> Result<Receipt, Vec<FieldError>> {
    use crate::spec::{self, check_record, error, no_text, not_ceb};
    use crate::xml::Ns;
    use domain::problem::ErrorCode;

    let tree = crate::xml::parse(bytes).map_err(|refusal| {
        let (en, zh) = refusal.messages();
        vec![error(crate::MESSAGE_PATH, ErrorCode::InvalidFormat, en, zh)]
    })?;
    let root = tree.root;
    let document = [
        ReceiptType::Order,
        ReceiptType::Payment,
        ReceiptType::Waybill,
        ReceiptType::Inventory,
        ReceiptType::Cancellation,
        ReceiptType::Return,
    ]
    .into_iter()
    .find(|t| t.root() == root.name);
    let known = document.is_some() || root.name == "CEB816Message" || root.name == "CEB900Message";
    if root.ns != Ns::Ceb || !known {
        return Err(vec![FieldError::invalid_format(
            crate::MESSAGE_PATH,
            "a CEB312, 412, 512, 622, 624, 626, 816 or 900 receipt",
            "CEB312、412、512、622、624、626、816 或 900 回执",
        )]);
    }
    let name = root.name.as_str();
    let mut errors = Vec::new();
    no_text(&root, name, &mut errors);
    let guid = root.attribute("guid").unwrap_or_default().to_owned();
    exact(&format!("{name}/@guid"), &guid, 36, &mut errors);
    let mut children = Vec::new();
    for child in &root.children {
        if child.ns == Ns::Ceb {
            children.push(child);
        } else {
            errors.push(not_ceb(&format!("{name}/{}", child.name)));
        }
    }
    let entity_name = match document {
        Some(t) => t.entity(),
        None if name == "CEB816Message" => "Tax",
        None => "MessageReturn",
    };
    for child in &children {
        if child.name != entity_name {
            errors.push(FieldError::unknown_field(format!("{name}/{}", child.name)));
        }
    }
    let entities: Vec<_> = children
        .into_iter()
        .filter(|c| c.name == entity_name)
        .collect();
    let entities_max = match document {
        Some(_) => RETURNS_MAX,
        None if name == "CEB816Message" => usize::MAX,
        None => 1,
    };
    if entities.is_empty() {
        errors.push(FieldError::required(format!("{name}/{entity_name}")));
    }
    if entities.len() > entities_max {
        errors.push(FieldError::too_many(
            format!("{name}/{entity_name}"),
            entities_max,
        ));
        return Err(errors);
    }
    let receipt = match document {
        Some(receipt) => {
            let table = match receipt {
                ReceiptType::Order => spec::ORDER_RETURN,
                ReceiptType::Payment => spec::PAYMENT_RETURN,
                ReceiptType::Waybill => spec::LOGISTICS_RETURN,
                ReceiptType::Inventory => spec::INVENTORY_RETURN,
                ReceiptType::Cancellation => spec::INVT_CANCEL_RETURN,
                ReceiptType::Return => spec::INVT_REFUND_RETURN,
            };
            let mut returns = Vec::new();
            for (i, entity) in entities.iter().enumerate() {
                let at = format!("{name}/{entity_name}[{}]", i + 1);
                let v = check_record(entity, &at, table, &mut errors);
                let has = |field: &str| table.iter().any(|f| f.name == field);
                let get = |field: &str| if has(field) { v.optional(field) } else { None };
                let status = v.text("returnStatus").and_then(|code| {
                    let status = ReturnStatus::from_code(&code);
                    if status.is_none() {
                        errors.push(FieldError::unknown_code(
                            format!("{at}/returnStatus"),
                            "receipt status",
                            "回执状态",
                            &code,
                        ));
                    }
                    status
                });
                let time = read_time(
                    &format!("{at}/returnTime"),
                    v.text("returnTime"),
                    &mut errors,
                );
                returns.push(DocumentReturn {
                    guid: v.text("guid").unwrap_or_default(),
                    customs_code: get("customsCode"),
                    ebp_code: get("ebpCode"),
                    ebc_code: get("ebcCode"),
                    agent_code: get("agentCode"),
                    order_no: get("orderNo"),
                    pay_code: get("payCode"),
                    pay_transaction_id: get("payTransactionId"),
                    logistics_code: get("logisticsCode"),
                    logistics_no: get("logisticsNo"),
                    cop_no: get("copNo"),
                    pre_no: get("preNo"),
                    invt_no: get("invtNo"),
                    status,
                    time,
                    info: v.text("returnInfo").unwrap_or_default(),
                });
            }
            Receipt::Documents {
                receipt,
                guid,
                returns,
            }
        }
        None if name == "CEB900Message" => {
            let at = format!("{name}/MessageReturn");
            let v = check_record(entities[0], &at, spec::MESSAGE_RETURN, &mut errors);
            let status = v.text("returnStatus").and_then(|code| {
                let status = code.parse::<i32>().ok().filter(|s| *s < 0);
                if status.is_none() {
                    errors.push(FieldError::invalid_format(
                        format!("{at}/returnStatus"),
                        "a number below 0",
                        "小于 0 的数字",
                    ));
                }
                status
            });
            let time = read_time(
                &format!("{at}/returnTime"),
                v.text("returnTime"),
                &mut errors,
            );
            let (Some(status), Some(time)) = (status, time) else {
                return Err(errors);
            };
            Receipt::FormatError {
                guid,
                error: FormatError {
                    guid: v.text("guid").unwrap_or_default(),
                    status,
                    info: v.text("returnInfo").unwrap_or_default(),
                    time,
                    ori_cop_msg_id: v.text("oriCopMsgId").unwrap_or_default(),
                    ori_message_type: v.text("oriMessageType").unwrap_or_default(),
                    ori_biz_message: v.text("oriBizMessage").unwrap_or_default(),
                },
            }
        }
        None => {
            let mut bills = Vec::new();
            for (i, tax) in entities.iter().enumerate() {
                let at = format!("{name}/Tax[{}]", i + 1);
                no_text(tax, &at, &mut errors);
                let heads: Vec<_> = tax
                    .children
                    .iter()
                    .filter(|c| c.name == "TaxHeadRd")
                    .collect();
                let lists: Vec<_> = tax
                    .children
                    .iter()
                    .filter(|c| c.name == "TaxListRd")
                    .collect();
                for c in &tax.children {
                    if c.ns != Ns::Ceb || (c.name != "TaxHeadRd" && c.name != "TaxListRd") {
                        errors.push(FieldError::unknown_field(format!("{at}/{}", c.name)));
                    }
                }
                if heads.len() != 1 {
                    errors.push(FieldError::invalid_format(
                        format!("{at}/TaxHeadRd"),
                        "exactly one",
                        "有且仅有一个",
                    ));
                    continue;
                }
                if lists.is_empty() || lists.len() > crate::ITEMS_MAX {
                    errors.push(FieldError::invalid_format(
                        format!("{at}/TaxListRd"),
                        &format!("1 to {}", crate::ITEMS_MAX),
                        &format!("1 至 {} 个", crate::ITEMS_MAX),
                    ));
                    continue;
                }
                let head_at = format!("{at}/TaxHeadRd");
                let v = check_record(heads[0], &head_at, spec::TAX_HEAD_RD, &mut errors);
                let time = read_time(
                    &format!("{head_at}/returnTime"),
                    v.text("returnTime"),
                    &mut errors,
                );
                let status = v.text("status").and_then(|s| match s.as_str() {
                    "1" => Some(TaxBillStatus::Generated),
                    "2" => Some(TaxBillStatus::Summarised),
                    "3" => Some(TaxBillStatus::Void),
                    other => {
                        errors.push(FieldError::unknown_code(
                            format!("{head_at}/status"),
                            "tax bill status",
                            "税单状态",
                            other,
                        ));
                        None
                    }
                });
                let mut items = Vec::new();
                for (n, list) in lists.iter().enumerate() {
                    let l = check_record(
                        list,
                        &format!("{at}/TaxListRd[{}]", n + 1),
                        spec::TAX_LIST_RD,
                        &mut errors,
                    );
                    let item = (|| {
                        Some(TaxBillItem {
                            gnum: l.int("gnum")?,
                            gcode: l.text("gcode")?,
                            tax_price: l.decimal("taxPrice")?,
                            customs_tax: l.decimal("customsTax")?,
                            value_added_tax: l.decimal("valueAddedTax")?,
                            consumption_tax: l.decimal("consumptionTax")?,
                        })
                    })();
                    items.extend(item);
                }
                let bill = (|| {
                    Some(TaxBill {
                        guid: v.text("guid")?,
                        time: time?,
                        invt_no: v.text("invtNo")?,
                        tax_no: v.text("taxNo")?,
                        customs_tax: v.decimal("customsTax")?,
                        value_added_tax: v.decimal("valueAddedTax")?,
                        consumption_tax: v.decimal("consumptionTax")?,
                        status: status?,
                        ent_duty_no: v.optional("entDutyNo"),
                        note: v.optional("note"),
                        assure_code: v.optional("assureCode"),
                        ebc_code: v.optional("ebcCode"),
                        logistics_code: v.optional("logisticsCode"),
                        agent_code: v.optional("agentCode"),
                        customs_code: v.optional("customsCode"),
                        items,
                    })
                })();
                bills.extend(bill);
            }
            Receipt::TaxBills { guid, bills }
        }
    };
    if errors.is_empty() {
        Ok(receipt)
    } else {
        Err(errors)
    }
}
