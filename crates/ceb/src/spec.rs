//! What the 202205 schema says of each record of the messages read here: its elements in
//! order, which are required, and each one's facets (lengths, decimal digits) and, where the
//! schema's documentation states them, its codes and formats. `check_record` checks one record
//! against its table and reports every problem with its path, so one answer names them all.

use chrono::{NaiveDate, NaiveDateTime};
use domain::FieldError;
use domain::problem::{ErrorCode, echoed};
use rust_decimal::Decimal;

use crate::xml::{Element, Ns};

/// The schema's decimals: `xs:decimal` with totalDigits 19 and fractionDigits 5.
pub const DECIMAL_DIGITS_MAX: usize = 19;
pub const DECIMAL_FRACTION_DIGITS_MAX: usize = 5;
/// `xs:int` items numbers and package counts: 9 digits (`packNo` has totalDigits 9; `gnum` is
/// bounded by the items per document anyway).
pub const INT_DIGITS_MAX: usize = 9;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Text {
        min: usize,
        max: usize,
    },
    Exact(usize),
    Decimal,
    Int,
    Fixed(&'static str),
    /// A code with its English and Chinese meaning.
    OneOf(&'static [(&'static str, &'static str, &'static str)]),
    /// YYYYMMDDhhmmss.
    DateTime,
    /// YYYYMMDD.
    Date,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub required: bool,
    pub kind: Kind,
}

const fn field(name: &'static str, required: bool, kind: Kind) -> Field {
    Field {
        name,
        required,
        kind,
    }
}

pub(crate) const APP_TYPES: &[(&str, &str, &str)] = &[
    ("1", "new", "新增"),
    ("2", "change", "变更"),
    ("3", "delete", "删除"),
];
/// A cancellation is only ever new (`InvtCancel/appType`: "1-新增").
pub(crate) const APP_TYPE_NEW: &[(&str, &str, &str)] = &[("1", "new", "新增")];
pub(crate) const APP_STATUSES: &[(&str, &str, &str)] =
    &[("1", "stored (draft)", "暂存"), ("2", "declared", "申报")];
/// The schema lists 1 (identity card) and 2 (other) but restricts these messages to 1.
pub(crate) const ID_TYPES: &[(&str, &str, &str)] = &[("1", "resident identity card", "身份证")];
/// 9610 direct purchase and 1210 bonded, as the schema's documentation says, and 1239 (bonded
/// in the pilot cities), which the platform's declarations accept too.
pub(crate) const TRADE_MODES: &[(&str, &str, &str)] = &[
    ("9610", "direct purchase import", "直购进口"),
    ("1210", "bonded import", "保税进口"),
    ("1239", "bonded import (category B)", "保税进口B"),
];

// Generated once from ceb-import-202205.xsd (element order, occurrence and facets), then the
// codes and formats its documentation states put in by hand (appType, appStatus, orderType,
// buyerIdType, ieFlag, tradeMode, currency, dxpMode, the times and dates).
// `tests::the_record_tables_agree_with_the_schema` reads the schema and checks every table.
pub(crate) const ORDER_HEAD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPES)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("orderType", true, Kind::Fixed("I")),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebpName", true, Kind::Text { min: 1, max: 100 }),
    field("ebcCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebcName", true, Kind::Text { min: 1, max: 100 }),
    field("goodsValue", true, Kind::Decimal),
    field("freight", true, Kind::Decimal),
    field("discount", true, Kind::Decimal),
    field("taxTotal", true, Kind::Decimal),
    field("acturalPaid", true, Kind::Decimal),
    field("currency", true, Kind::Fixed("142")),
    field("buyerRegNo", true, Kind::Text { min: 1, max: 60 }),
    field("buyerName", true, Kind::Text { min: 1, max: 60 }),
    field("buyerTelephone", true, Kind::Text { min: 1, max: 30 }),
    field("buyerIdType", true, Kind::OneOf(ID_TYPES)),
    field("buyerIdNumber", true, Kind::Text { min: 1, max: 60 }),
    field("payCode", false, Kind::Text { min: 0, max: 18 }),
    field("payName", false, Kind::Text { min: 0, max: 100 }),
    field("payTransactionId", false, Kind::Text { min: 0, max: 60 }),
    field("batchNumbers", false, Kind::Text { min: 0, max: 100 }),
    field("consignee", true, Kind::Text { min: 1, max: 100 }),
    field("consigneeTelephone", true, Kind::Text { min: 1, max: 50 }),
    field("consigneeAddress", true, Kind::Text { min: 1, max: 200 }),
    field("consigneeDistrict", false, Kind::Exact(6)),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const ORDER_LIST: &[Field] = &[
    field("gnum", true, Kind::Int),
    field("itemNo", false, Kind::Text { min: 0, max: 30 }),
    field("itemName", true, Kind::Text { min: 1, max: 250 }),
    field("gmodel", true, Kind::Text { min: 1, max: 510 }),
    field("itemDescribe", false, Kind::Text { min: 0, max: 1000 }),
    field("barCode", false, Kind::Text { min: 0, max: 50 }),
    field("unit", true, Kind::Exact(3)),
    field("qty", true, Kind::Decimal),
    field("price", true, Kind::Decimal),
    field("totalPrice", true, Kind::Decimal),
    field("currency", true, Kind::Fixed("142")),
    field("country", true, Kind::Exact(3)),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const PAYMENT_HEAD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPES)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("payCode", true, Kind::Text { min: 1, max: 18 }),
    field("payName", true, Kind::Text { min: 1, max: 100 }),
    field("payTransactionId", true, Kind::Text { min: 1, max: 60 }),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebpName", true, Kind::Text { min: 1, max: 100 }),
    field("payerIdType", true, Kind::OneOf(ID_TYPES)),
    field("payerIdNumber", true, Kind::Text { min: 1, max: 60 }),
    field("payerName", true, Kind::Text { min: 1, max: 60 }),
    field("telephone", false, Kind::Text { min: 0, max: 60 }),
    field("amountPaid", true, Kind::Decimal),
    field("currency", true, Kind::Fixed("142")),
    field("payTime", true, Kind::DateTime),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const LOGISTICS_HEAD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPES)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("logisticsCode", true, Kind::Text { min: 1, max: 18 }),
    field("logisticsName", true, Kind::Text { min: 1, max: 100 }),
    field("logisticsNo", true, Kind::Text { min: 1, max: 60 }),
    field("billNo", false, Kind::Text { min: 0, max: 37 }),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("freight", false, Kind::Decimal),
    field("insuredFee", false, Kind::Decimal),
    field("currency", true, Kind::Fixed("142")),
    field("weight", true, Kind::Decimal),
    field("packNo", true, Kind::Int),
    field("goodsInfo", false, Kind::Text { min: 0, max: 200 }),
    field("consignee", true, Kind::Text { min: 1, max: 100 }),
    field("consigneeAddress", true, Kind::Text { min: 1, max: 200 }),
    field("consigneeTelephone", true, Kind::Text { min: 1, max: 50 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const INVENTORY_HEAD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPES)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebpName", true, Kind::Text { min: 1, max: 100 }),
    field("ebcCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebcName", true, Kind::Text { min: 1, max: 100 }),
    field("logisticsNo", true, Kind::Text { min: 1, max: 60 }),
    field("logisticsCode", true, Kind::Text { min: 1, max: 18 }),
    field("logisticsName", true, Kind::Text { min: 1, max: 100 }),
    field("copNo", false, Kind::Text { min: 0, max: 20 }),
    field("preNo", false, Kind::Text { min: 0, max: 18 }),
    field("assureCode", true, Kind::Text { min: 1, max: 30 }),
    field("emsNo", false, Kind::Text { min: 0, max: 30 }),
    field("invtNo", false, Kind::Text { min: 0, max: 18 }),
    field("ieFlag", true, Kind::Fixed("I")),
    field("declTime", true, Kind::Date),
    field("customsCode", true, Kind::Exact(4)),
    field("portCode", true, Kind::Exact(4)),
    field("ieDate", false, Kind::Date),
    field("buyerIdType", true, Kind::OneOf(ID_TYPES)),
    field("buyerIdNumber", true, Kind::Text { min: 1, max: 60 }),
    field("buyerName", true, Kind::Text { min: 1, max: 60 }),
    field("buyerTelephone", true, Kind::Text { min: 1, max: 30 }),
    field("consigneeAddress", true, Kind::Text { min: 1, max: 200 }),
    field("agentCode", true, Kind::Text { min: 1, max: 18 }),
    field("agentName", true, Kind::Text { min: 1, max: 100 }),
    field("areaCode", false, Kind::Text { min: 0, max: 18 }),
    field("areaName", false, Kind::Text { min: 0, max: 100 }),
    field("tradeMode", true, Kind::OneOf(TRADE_MODES)),
    field("trafMode", true, Kind::Exact(1)),
    field("trafNo", false, Kind::Text { min: 0, max: 100 }),
    field("voyageNo", false, Kind::Text { min: 0, max: 32 }),
    field("billNo", false, Kind::Text { min: 0, max: 37 }),
    field("loctNo", false, Kind::Text { min: 0, max: 10 }),
    field("licenseNo", false, Kind::Text { min: 0, max: 19 }),
    field("country", true, Kind::Exact(3)),
    field("freight", true, Kind::Decimal),
    field("insuredFee", true, Kind::Decimal),
    field("currency", true, Kind::Fixed("142")),
    field("wrapType", false, Kind::Exact(1)),
    field("packNo", true, Kind::Int),
    field("grossWeight", true, Kind::Decimal),
    field("netWeight", true, Kind::Decimal),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const INVENTORY_LIST: &[Field] = &[
    field("gnum", true, Kind::Int),
    field("itemRecordNo", false, Kind::Text { min: 0, max: 30 }),
    field("itemNo", false, Kind::Text { min: 0, max: 20 }),
    field("itemName", false, Kind::Text { min: 0, max: 250 }),
    field("gcode", true, Kind::Exact(10)),
    field("gname", true, Kind::Text { min: 1, max: 250 }),
    field("gmodel", true, Kind::Text { min: 1, max: 510 }),
    field("barCode", false, Kind::Text { min: 0, max: 50 }),
    field("country", true, Kind::Exact(3)),
    field("tradeCountry", false, Kind::Text { min: 1, max: 3 }),
    field("currency", true, Kind::Fixed("142")),
    field("qty", true, Kind::Decimal),
    field("unit", true, Kind::Exact(3)),
    field("qty1", true, Kind::Decimal),
    field("unit1", true, Kind::Exact(3)),
    field("qty2", false, Kind::Decimal),
    field("unit2", false, Kind::Exact(3)),
    field("price", true, Kind::Decimal),
    field("totalPrice", true, Kind::Decimal),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const INVT_CANCEL: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPE_NEW)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("customsCode", true, Kind::Exact(4)),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebpName", true, Kind::Text { min: 1, max: 100 }),
    field("ebcCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebcName", true, Kind::Text { min: 1, max: 100 }),
    field("logisticsNo", true, Kind::Text { min: 1, max: 60 }),
    field("logisticsCode", true, Kind::Text { min: 1, max: 18 }),
    field("logisticsName", true, Kind::Text { min: 1, max: 100 }),
    field("copNo", false, Kind::Text { min: 0, max: 20 }),
    field("preNo", false, Kind::Text { min: 0, max: 18 }),
    field("invtNo", true, Kind::Text { min: 1, max: 18 }),
    field("buyerIdType", true, Kind::OneOf(ID_TYPES)),
    field("buyerIdNumber", true, Kind::Text { min: 1, max: 60 }),
    field("buyerName", true, Kind::Text { min: 1, max: 60 }),
    field("buyerTelephone", true, Kind::Text { min: 1, max: 30 }),
    field("agentCode", true, Kind::Text { min: 1, max: 18 }),
    field("agentName", true, Kind::Text { min: 1, max: 100 }),
    field("reason", true, Kind::Text { min: 1, max: 1000 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const INVT_REFUND_HEAD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("appType", true, Kind::OneOf(APP_TYPES)),
    field("appTime", true, Kind::DateTime),
    field("appStatus", true, Kind::OneOf(APP_STATUSES)),
    field("customsCode", true, Kind::Exact(4)),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebpName", true, Kind::Text { min: 1, max: 100 }),
    field("ebcCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebcName", true, Kind::Text { min: 1, max: 100 }),
    field("logisticsNo", true, Kind::Text { min: 1, max: 60 }),
    field("logisticsCode", true, Kind::Text { min: 1, max: 18 }),
    field("logisticsName", true, Kind::Text { min: 1, max: 100 }),
    field("copNo", false, Kind::Text { min: 0, max: 20 }),
    field("preNo", false, Kind::Text { min: 0, max: 18 }),
    field("invtNo", true, Kind::Text { min: 1, max: 18 }),
    field("buyerIdType", true, Kind::OneOf(ID_TYPES)),
    field("buyerIdNumber", true, Kind::Text { min: 1, max: 60 }),
    field("buyerName", true, Kind::Text { min: 1, max: 60 }),
    field("buyerTelephone", true, Kind::Text { min: 1, max: 30 }),
    field("agentCode", true, Kind::Text { min: 1, max: 18 }),
    field("agentName", true, Kind::Text { min: 1, max: 100 }),
    field("reason", true, Kind::Text { min: 1, max: 1000 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const INVT_REFUND_LIST: &[Field] = &[
    field("gnum", true, Kind::Int),
    field("gcode", true, Kind::Exact(10)),
    field("gname", true, Kind::Text { min: 1, max: 250 }),
    field("qty", true, Kind::Decimal),
    field("unit", true, Kind::Exact(3)),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const BASE_TRANSFER: &[Field] = &[
    field("copCode", true, Kind::Text { min: 1, max: 18 }),
    field("copName", true, Kind::Text { min: 0, max: 100 }),
    field("dxpMode", true, Kind::Fixed("DXP")),
    field("dxpId", true, Kind::Text { min: 0, max: 30 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];
pub(crate) const BASE_SUBSCRIBE: &[Field] = &[
    field("status", true, Kind::Text { min: 0, max: 100 }),
    field("dxpMode", true, Kind::Fixed("DXP")),
    field("dxpAddress", true, Kind::Text { min: 0, max: 100 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
];

// The receipts' entities, generated from the schema the same way (read back by receipt::read).
pub(crate) const ORDER_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("ebpCode", true, Kind::Text { min: 1, max: 18 }),
    field("ebcCode", true, Kind::Text { min: 1, max: 18 }),
    field("orderNo", true, Kind::Text { min: 1, max: 60 }),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const PAYMENT_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("payCode", true, Kind::Text { min: 1, max: 18 }),
    field("payTransactionId", true, Kind::Text { min: 1, max: 60 }),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const LOGISTICS_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("logisticsCode", true, Kind::Text { min: 1, max: 18 }),
    field("logisticsNo", true, Kind::Text { min: 1, max: 60 }),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const INVENTORY_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("customsCode", false, Kind::Exact(4)),
    field("ebpCode", false, Kind::Text { min: 1, max: 18 }),
    field("ebcCode", false, Kind::Text { min: 1, max: 18 }),
    field("agentCode", false, Kind::Text { min: 1, max: 18 }),
    field("copNo", true, Kind::Text { min: 1, max: 20 }),
    field("preNo", true, Kind::Exact(18)),
    field("invtNo", false, Kind::Exact(18)),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const INVT_CANCEL_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("customsCode", false, Kind::Exact(4)),
    field("agentCode", false, Kind::Text { min: 1, max: 18 }),
    field("ebpCode", false, Kind::Text { min: 1, max: 18 }),
    field("ebcCode", false, Kind::Text { min: 1, max: 18 }),
    field("copNo", true, Kind::Text { min: 1, max: 20 }),
    field("preNo", true, Kind::Exact(18)),
    field("invtNo", false, Kind::Exact(18)),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const INVT_REFUND_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("customsCode", false, Kind::Exact(4)),
    field("agentCode", false, Kind::Text { min: 1, max: 18 }),
    field("ebpCode", false, Kind::Text { min: 1, max: 18 }),
    field("ebcCode", false, Kind::Text { min: 1, max: 18 }),
    field("copNo", true, Kind::Text { min: 1, max: 20 }),
    field("preNo", true, Kind::Exact(18)),
    field("invtNo", false, Kind::Exact(18)),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnTime", true, Kind::Exact(17)),
    field("returnInfo", true, Kind::Text { min: 1, max: 1000 }),
];
pub(crate) const MESSAGE_RETURN: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("returnStatus", true, Kind::Text { min: 1, max: 10 }),
    field("returnInfo", true, Kind::Text { min: 0, max: 5000 }),
    field("returnTime", true, Kind::Exact(17)),
    field("oriCopMsgId", true, Kind::Text { min: 0, max: 255 }),
    field("oriMessageType", true, Kind::Text { min: 0, max: 15 }),
    field(
        "oriBizMessage",
        true,
        Kind::Text {
            min: 0,
            max: usize::MAX,
        },
    ),
];
pub(crate) const TAX_HEAD_RD: &[Field] = &[
    field("guid", true, Kind::Exact(36)),
    field("returnTime", true, Kind::Exact(17)),
    field("invtNo", true, Kind::Text { min: 1, max: 18 }),
    field("taxNo", true, Kind::Text { min: 1, max: 50 }),
    field("customsTax", true, Kind::Decimal),
    field("valueAddedTax", true, Kind::Decimal),
    field("consumptionTax", true, Kind::Decimal),
    field("status", true, Kind::Exact(1)),
    field("entDutyNo", false, Kind::Text { min: 0, max: 50 }),
    field("note", false, Kind::Text { min: 0, max: 1000 }),
    field("assureCode", false, Kind::Text { min: 0, max: 64 }),
    field("ebcCode", false, Kind::Text { min: 0, max: 64 }),
    field("logisticsCode", false, Kind::Text { min: 0, max: 64 }),
    field("agentCode", false, Kind::Text { min: 1, max: 18 }),
    field("customsCode", false, Kind::Exact(4)),
];
pub(crate) const TAX_LIST_RD: &[Field] = &[
    field("gnum", true, Kind::Int),
    field("gcode", true, Kind::Exact(10)),
    field("taxPrice", true, Kind::Decimal),
    field("customsTax", true, Kind::Decimal),
    field("valueAddedTax", true, Kind::Decimal),
    field("consumptionTax", true, Kind::Decimal),
];

/// One field's problem, in both languages.
pub(crate) fn error(
    path: impl std::fmt::Display,
    code: ErrorCode,
    en: String,
    zh: String,
) -> FieldError {
    FieldError {
        path: path.to_string(),
        code,
        message_en: en,
        message_zh: zh,
    }
    .bounded()
}

/// A record's values by the position of their field in its table; `None` for a field absent
/// or refused (the refusal is already reported).
#[derive(Debug)]
pub(crate) struct Values<'a> {
    spec: &'static [Field],
    values: Vec<Option<&'a str>>,
}

impl<'a> Values<'a> {
    fn at(&self, name: &str) -> Option<&'a str> {
        let index = self
            .spec
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} is not a field of this record"));
        self.values[index]
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.at(name).map(str::to_owned)
    }

    /// An optional field's value; `None` when absent, empty or refused (a refusal is already
    /// reported).
    pub fn optional(&self, name: &str) -> Option<String> {
        self.at(name).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    pub fn decimal(&self, name: &str) -> Option<Decimal> {
        self.at(name).and_then(|s| parse_decimal(s).ok())
    }

    pub fn int(&self, name: &str) -> Option<u32> {
        self.at(name).and_then(|s| s.parse().ok())
    }

    pub fn date_time(&self, name: &str) -> Option<NaiveDateTime> {
        self.at(name)
            .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok())
    }

    pub fn date(&self, name: &str) -> Option<NaiveDate> {
        self.at(name)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
    }
}

/// Checks the record `element` at `path` against `spec`: every element known, in the schema's
/// order, none repeated, none with elements inside, every required one present, each value
/// within its facets.
pub(crate) fn check_record<'a>(
    element: &'a Element,
    path: &str,
    spec: &'static [Field],
    errors: &mut Vec<FieldError>,
) -> Values<'a> {
    no_text(element, path, errors);
    let mut values: Vec<Option<&'a str>> = vec![None; spec.len()];
    let mut seen = vec![false; spec.len()];
    let mut last: Option<usize> = None;
    for child in &element.children {
        // Built only when a problem names it: a valid record allocates no paths.
        let child_path = Joined(path, &child.name);
        if child.ns != Ns::Ceb {
            errors.push(not_ceb(&child_path.to_string()));
            continue;
        }
        let Some(index) = spec.iter().position(|f| f.name == child.name) else {
            errors.push(FieldError::unknown_field(child_path));
            continue;
        };
        if seen[index] {
            errors.push(FieldError::duplicate(
                child_path,
                "an element that the schema allows once",
                "只允许出现一次的元素",
            ));
            continue;
        }
        seen[index] = true;
        if let Some(before) = last.filter(|&l| l > index) {
            errors.push(error(
                child_path,
                ErrorCode::InvalidFormat,
                format!(
                    "is out of order: the schema puts it before {}",
                    spec[before].name
                ),
                format!("顺序错误：按报文规范应在 {} 之前", spec[before].name),
            ));
        }
        last = Some(last.map_or(index, |l| l.max(index)));
        if !child.children.is_empty() {
            errors.push(FieldError::invalid_type(child_path, "text, not elements"));
            continue;
        }
        let field = &spec[index];
        match check_value(child_path, field, &child.text) {
            Ok(()) => values[index] = Some(child.text.as_str()),
            Err(e) => errors.push(e),
        }
    }
    for (index, field) in spec.iter().enumerate() {
        if field.required && !seen[index] {
            errors.push(FieldError::required(format!("{path}/{}", field.name)));
        }
    }
    Values { spec, values }
}

/// `parent/name`, written out only when an error names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joined<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// A record or document holds elements only: text beside them is refused (the schema's complex
/// types have no mixed content).
pub(crate) fn no_text(element: &Element, path: &str, errors: &mut Vec<FieldError>) {
    if !element.text.is_empty() {
        errors.push(FieldError::invalid_type(path, "elements, not text"));
    }
}

pub(crate) fn not_ceb(path: &str) -> FieldError {
    error(
        path,
        ErrorCode::UnknownField,
        format!(
            "is not an element of the CEB namespace {}",
            crate::CEB_NAMESPACE
        ),
        format!("不是 CEB 命名空间 {} 的元素", crate::CEB_NAMESPACE),
    )
}

fn check_value(path: Joined<'_>, field: &Field, text: &str) -> Result<(), FieldError> {
    let chars = text.chars().count();
    match field.kind {
        Kind::Text { min, max } => {
            if min > 0 && chars == 0 {
                return Err(FieldError::required(path));
            }
            if chars < min {
                return Err(FieldError::invalid_format(
                    path,
                    &format!("at least {min} characters"),
                    &format!("至少 {min} 个字符"),
                ));
            }
            if chars > max {
                return Err(FieldError::too_long(path, max));
            }
            Ok(())
        }
        Kind::Exact(length) => {
            if chars == 0 && field.required {
                return Err(FieldError::required(path));
            }
            if chars != length {
                return Err(FieldError::invalid_format(
                    path,
                    &format!("exactly {length} characters"),
                    &format!("{length} 个字符"),
                ));
            }
            Ok(())
        }
        Kind::Decimal => {
            if chars == 0 {
                return Err(FieldError::required(path));
            }
            parse_decimal(text)
                .map(|_| ())
                .map_err(|problem| match problem {
                    DecimalProblem::Format => FieldError::invalid_format(
                        path,
                        "a decimal number such as 1234.5",
                        "十进制数，如 1234.5",
                    ),
                    DecimalProblem::Negative => {
                        FieldError::out_of_range(path, "zero or more", "大于或等于 0")
                    }
                    DecimalProblem::Fraction => {
                        FieldError::precision(path, DECIMAL_FRACTION_DIGITS_MAX as u32)
                    }
                    DecimalProblem::Digits => error(
                        path,
                        ErrorCode::TooLong,
                        format!("has more than {DECIMAL_DIGITS_MAX} digits"),
                        format!("数字位数超过 {DECIMAL_DIGITS_MAX} 位"),
                    ),
                })
        }
        Kind::Int => {
            if chars == 0 {
                return Err(FieldError::required(path));
            }
            let digits = text.strip_prefix('+').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::invalid_format(
                    path,
                    "a whole number such as 1",
                    "整数，如 1",
                ));
            }
            if digits.trim_start_matches('0').len() > INT_DIGITS_MAX {
                return Err(error(
                    path,
                    ErrorCode::TooLong,
                    format!("has more than {INT_DIGITS_MAX} digits"),
                    format!("数字位数超过 {INT_DIGITS_MAX} 位"),
                ));
            }
            Ok(())
        }
        Kind::Fixed(value) => {
            if chars == 0 {
                return Err(FieldError::required(path));
            }
            if text != value {
                return Err(FieldError::invalid_format(
                    path,
                    &format!("{value} (the only value the schema allows here)"),
                    &format!("{value}（报文规范限定的唯一取值）"),
                ));
            }
            Ok(())
        }
        Kind::OneOf(codes) => {
            if chars == 0 {
                return Err(FieldError::required(path));
            }
            if codes.iter().any(|(code, _, _)| *code == text) {
                return Ok(());
            }
            let en: Vec<String> = codes
                .iter()
                .map(|(code, en, _)| format!("{code} ({en})"))
                .collect();
            let zh: Vec<String> = codes
                .iter()
                .map(|(code, _, zh)| format!("{code}（{zh}）"))
                .collect();
            Err(error(
                path,
                ErrorCode::UnknownCode,
                format!("'{}' is not one of {}", echoed(text), en.join(", ")),
                format!("“{}”不是以下取值之一：{}", echoed(text), zh.join("、")),
            ))
        }
        Kind::DateTime => {
            if chars == 0 {
                return Err(FieldError::required(path));
            }
            if chars != 14 || NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S").is_err() {
                return Err(FieldError::invalid_format(
                    path,
                    "a time written YYYYMMDDhhmmss that exists",
                    "存在的时间，格式 YYYYMMDDhhmmss",
                ));
            }
            Ok(())
        }
        Kind::Date => {
            if chars == 0 && field.required {
                return Err(FieldError::required(path));
            }
            if chars != 8 || NaiveDate::parse_from_str(text, "%Y%m%d").is_err() {
                return Err(FieldError::invalid_format(
                    path,
                    "a date written YYYYMMDD that exists",
                    "存在的日期，格式 YYYYMMDD",
                ));
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalProblem {
    Format,
    Negative,
    Fraction,
    Digits,
}

/// An `xs:decimal` of at most 19 digits, 5 of them after the point, not negative. Read exactly:
/// never through a float.
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, DecimalProblem> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(DecimalProblem::Format);
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > DECIMAL_FRACTION_DIGITS_MAX {
        return Err(DecimalProblem::Fraction);
    }
    if whole.len() + fraction.len() > DECIMAL_DIGITS_MAX {
        return Err(DecimalProblem::Digits);
    }
    let value = if fraction.is_empty() {
        Decimal::from_str_exact(if whole.is_empty() { "0" } else { whole })
    } else {
        Decimal::from_str_exact(&format!(
            "{}.{fraction}",
            if whole.is_empty() { "0" } else { whole }
        ))
    }
    .map_err(|_| DecimalProblem::Format)?;
    if negative && !value.is_zero() {
        return Err(DecimalProblem::Negative);
    }
    Ok(value)
}
