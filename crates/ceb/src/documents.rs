//! The documents of the CEB messages read here, typed. Amounts are `rust_decimal` read exactly
//! from the message's text; codes are checked; the buyer's ID number is kept but never shown by
//! `Debug`.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::codes::{Country, Currency};

/// 企业报送类型 (`appType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppType {
    /// 1 新增
    New,
    /// 2 变更
    Change,
    /// 3 删除
    Delete,
}

impl AppType {
    pub(crate) fn from_code(code: &str) -> Option<AppType> {
        match code {
            "1" => Some(AppType::New),
            "2" => Some(AppType::Change),
            "3" => Some(AppType::Delete),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AppType::New => "1",
            AppType::Change => "2",
            AppType::Delete => "3",
        }
    }
}

/// 业务状态 (`appStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppStatus {
    /// 1 暂存: stored by the enterprise, not declared.
    Stored,
    /// 2 申报
    Declared,
}

impl AppStatus {
    pub(crate) fn from_code(code: &str) -> Option<AppStatus> {
        match code {
            "1" => Some(AppStatus::Stored),
            "2" => Some(AppStatus::Declared),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AppStatus::Stored => "1",
            AppStatus::Declared => "2",
        }
    }
}

/// The buyer's (or payer's) identity document: a resident identity card, the only kind these
/// messages allow (`buyerIdType` 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdType {
    ResidentId,
}

impl IdType {
    pub fn code(self) -> &'static str {
        "1"
    }
}

/// A person's ID number as the message carries it. Personal data: `Debug` does not show it, and
/// a disagreement shows it masked (`masked`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(pub String);

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumber(..)")
    }
}

impl IdNumber {
    /// The first 6 and last 4 characters, the rest as `*` (110101********100X), the way the
    /// platform stores a CBEC buyer's number beside its hash.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 10 {
            return "*".repeat(chars.len());
        }
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 6 || i >= chars.len() - 4 {
                    *c
                } else {
                    '*'
                }
            })
            .collect()
    }
}

/// 基础报文传输实体: who sent the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseTransfer {
    /// The sending enterprise's code (报文传输的企业代码), the one its certificate is registered to.
    pub cop_code: String,
    pub cop_name: String,
    /// Always DXP.
    pub dxp_mode: String,
    /// Its user number on the data exchange platform.
    pub dxp_id: String,
    pub note: Option<String>,
}

/// The fields every declared document starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The enterprise's 36-character unique number of the document.
    pub guid: String,
    pub app_type: AppType,
    pub app_time: NaiveDateTime,
    pub app_status: AppStatus,
}

/// 电子订单 (CEB311 `Order`): the platform's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub application: Application,
    pub order_no: String,
    pub ebp_code: String,
    pub ebp_name: String,
    pub ebc_code: String,
    pub ebc_name: String,
    pub goods_value: Decimal,
    pub freight: Decimal,
    pub discount: Decimal,
    pub tax_total: Decimal,
    /// `acturalPaid` (sic in the standard).
    pub actural_paid: Decimal,
    pub currency: Currency,
    pub buyer_reg_no: String,
    pub buyer_name: String,
    pub buyer_telephone: String,
    pub buyer_id_type: IdType,
    pub buyer_id_number: IdNumber,
    pub pay_code: Option<String>,
    pub pay_name: Option<String>,
    pub pay_transaction_id: Option<String>,
    pub batch_numbers: Option<String>,
    pub consignee: String,
    pub consignee_telephone: String,
    pub consignee_address: String,
    pub consignee_district: Option<String>,
    pub note: Option<String>,
    pub items: Vec<OrderItem>,
}

/// 电子订单商品 (`OrderList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub gnum: u32,
    pub item_no: Option<String>,
    pub item_name: String,
    pub gmodel: String,
    pub item_describe: Option<String>,
    pub bar_code: Option<String>,
    /// China customs unit code (JGS-20 计量单位), e.g. 007 个.
    pub unit: String,
    pub qty: Decimal,
    pub price: Decimal,
    pub total_price: Decimal,
    pub currency: Currency,
    pub country: Country,
    pub note: Option<String>,
}

/// 支付凭证 (CEB411 `Payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub application: Application,
    pub pay_code: String,
    pub pay_name: String,
    pub pay_transaction_id: String,
    pub order_no: String,
    pub ebp_code: String,
    pub ebp_name: String,
    pub payer_id_type: IdType,
    pub payer_id_number: IdNumber,
    pub payer_name: String,
    pub telephone: Option<String>,
    pub amount_paid: Decimal,
    pub currency: Currency,
    pub pay_time: NaiveDateTime,
    pub note: Option<String>,
}

/// 物流运单 (CEB511 `Logistics`): the waybill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waybill {
    pub application: Application,
    pub logistics_code: String,
    pub logistics_name: String,
    pub logistics_no: String,
    pub bill_no: Option<String>,
    pub order_no: String,
    pub freight: Option<Decimal>,
    pub insured_fee: Option<Decimal>,
    pub currency: Currency,
    /// Gross weight, kg.
    pub weight: Decimal,
    pub pack_no: u32,
    pub goods_info: Option<String>,
    pub consignee: String,
    pub consignee_address: String,
    pub consignee_telephone: String,
    pub note: Option<String>,
}

/// 进口清单 (CEB621 `Inventory`): the declaring agent's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub application: Application,
    pub order_no: String,
    pub ebp_code: String,
    pub ebp_name: String,
    pub ebc_code: String,
    pub ebc_name: String,
    pub logistics_no: String,
    pub logistics_code: String,
    pub logistics_name: String,
    pub cop_no: Option<String>,
    pub pre_no: Option<String>,
    /// The enterprise whose tax guarantee (担保) is drawn.
    pub assure_code: String,
    pub ems_no: Option<String>,
    pub invt_no: Option<String>,
    pub decl_time: NaiveDate,
    /// The customs office receiving the list (关区代码, 4 digits).
    pub customs_code: String,
    pub port_code: String,
    pub ie_date: Option<NaiveDate>,
    pub buyer_id_type: IdType,
    pub buyer_id_number: IdNumber,
    pub buyer_name: String,
    pub buyer_telephone: String,
    pub consignee_address: String,
    pub agent_code: String,
    pub agent_name: String,
    pub area_code: Option<String>,
    pub area_name: Option<String>,
    /// 9610, 1210 or 1239.
    pub trade_mode: String,
    /// China transport mode code (运输方式).
    pub traf_mode: String,
    pub traf_no: Option<String>,
    pub voyage_no: Option<String>,
    pub bill_no: Option<String>,
    pub loct_no: Option<String>,
    pub license_no: Option<String>,
    /// The country the goods were sent from (直购) or 142 (保税).
    pub country: Country,
    pub freight: Decimal,
    pub insured_fee: Decimal,
    pub currency: Currency,
    pub wrap_type: Option<String>,
    pub pack_no: u32,
    pub gross_weight: Decimal,
    pub net_weight: Decimal,
    pub note: Option<String>,
    pub items: Vec<InventoryItem>,
}

/// 进口清单表体 (`InventoryList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    pub gnum: u32,
    pub item_record_no: Option<String>,
    pub item_no: Option<String>,
    pub item_name: Option<String>,
    /// The 10-digit commodity code.
    pub gcode: String,
    pub gname: String,
    pub gmodel: String,
    pub bar_code: Option<String>,
    /// Country of origin.
    pub country: Country,
    pub trade_country: Option<Country>,
    pub currency: Currency,
    pub qty: Decimal,
    pub unit: String,
    pub qty1: Decimal,
    pub unit1: String,
    pub qty2: Option<Decimal>,
    pub unit2: Option<String>,
    pub price: Decimal,
    pub total_price: Decimal,
    pub note: Option<String>,
}

/// 撤销申请单 (CEB623 `InvtCancel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub application: Application,
    pub customs_code: String,
    pub order_no: String,
    pub ebp_code: String,
    pub ebp_name: String,
    pub ebc_code: String,
    pub ebc_name: String,
    pub logistics_no: String,
    pub logistics_code: String,
    pub logistics_name: String,
    pub cop_no: Option<String>,
    pub pre_no: Option<String>,
    /// The accepted list to cancel.
    pub invt_no: String,
    pub buyer_id_type: IdType,
    pub buyer_id_number: IdNumber,
    pub buyer_name: String,
    pub buyer_telephone: String,
    pub agent_code: String,
    pub agent_name: String,
    pub reason: String,
    pub note: Option<String>,
}

/// 退货申请单 (CEB625 `InvtRefund`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    pub application: Application,
    pub customs_code: String,
    pub order_no: String,
    pub ebp_code: String,
    pub ebp_name: String,
    pub ebc_code: String,
    pub ebc_name: String,
    pub logistics_no: String,
    pub logistics_code: String,
    pub logistics_name: String,
    pub cop_no: Option<String>,
    pub pre_no: Option<String>,
    /// The accepted list the goods were cleared on.
    pub invt_no: String,
    pub buyer_id_type: IdType,
    pub buyer_id_number: IdNumber,
    pub buyer_name: String,
    pub buyer_telephone: String,
    pub agent_code: String,
    pub agent_name: String,
    pub reason: String,
    pub note: Option<String>,
    pub items: Vec<ReturnItem>,
}

/// 退货申请单表体 (`InvtRefundList`): one item of the original list, by its `gnum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnItem {
    pub gnum: u32,
    pub gcode: String,
    pub gname: String,
    pub qty: Decimal,
    pub unit: String,
    pub note: Option<String>,
}
