//! The message tree into typed documents: the message's structure (which documents, how many,
//! the `BaseTransfer`), each record against its table (`spec`), codes through `codes`, then the
//! arithmetic the documents state (`arithmetic`). Every problem is collected, none stops the
//! others.

use domain::FieldError;
use domain::problem::ErrorCode;

use crate::codes::{self, Country, Currency};
use crate::documents::*;
use crate::spec::{self, Field, Joined, Values, check_record, error, no_text, not_ceb};
use crate::xml::{Element, Ns};
use crate::{DOCUMENTS_MAX, ITEMS_MAX, MessageType};

type Errors = Vec<FieldError>;

pub(crate) fn base_transfer(
    root: &Element,
    path: &str,
    errors: &mut Errors,
) -> Option<BaseTransfer> {
    let v = check_record(root, path, spec::BASE_TRANSFER, errors);
    Some(BaseTransfer {
        cop_code: v.text("copCode")?,
        cop_name: v.text("copName")?,
        dxp_mode: v.text("dxpMode")?,
        dxp_id: v.text("dxpId")?,
        note: v.optional("note"),
    })
}

/// The root's children in the schema's order: the documents, `BaseTransfer`, up to 5
/// `BaseSubscribe`, an optional `ExtendMessage` (its content is free and not kept). Returns the
/// documents' elements and the `BaseTransfer`.
pub(crate) fn envelope<'a>(
    root: &'a Element,
    kind: MessageType,
    errors: &mut Errors,
) -> (Vec<&'a Element>, Option<&'a Element>) {
    let root_path = kind.root_name();
    let document = kind.document_name();
    let mut documents = Vec::new();
    let mut transfer = None;
    let mut subscribes = 0usize;
    let mut extend = false;
    no_text(root, root_path, errors);
    // 0: documents, 1: BaseTransfer, 2: BaseSubscribe, 3: ExtendMessage.
    let mut stage = 0;
    for child in &root.children {
        let path = format!("{root_path}/{}", child.name);
        if child.ns != Ns::Ceb {
            errors.push(not_ceb(&path));
            continue;
        }
        let (this, ok) = match child.name.as_str() {
            n if n == document => {
                documents.push(child);
                (0, true)
            }
            "BaseTransfer" => (1, transfer.replace(child).is_none()),
            "BaseSubscribe" => {
                subscribes += 1;
                let mut sub = Vec::new();
                check_record(
                    child,
                    &format!("{path}[{subscribes}]"),
                    spec::BASE_SUBSCRIBE,
                    &mut sub,
                );
                errors.extend(sub);
                (2, subscribes <= crate::SUBSCRIPTIONS_MAX)
            }
            "ExtendMessage" => (3, !std::mem::replace(&mut extend, true)),
            _ => {
                errors.push(FieldError::unknown_field(&path));
                continue;
            }
        };
        if !ok {
            errors.push(FieldError::too_many(
                &path,
                if this == 2 {
                    crate::SUBSCRIPTIONS_MAX
                } else {
                    1
                },
            ));
        }
        if this < stage {
            errors.push(error(
                &path,
                ErrorCode::InvalidFormat,
                "is out of order: the schema puts the documents first, then BaseTransfer, BaseSubscribe and ExtendMessage".into(),
                "顺序错误：按报文规范应依次为单证、BaseTransfer、BaseSubscribe、ExtendMessage".into(),
            ));
        }
        stage = stage.max(this);
    }
    if documents.is_empty() {
        errors.push(FieldError::required(format!("{root_path}/{document}")));
    }
    if documents.len() > DOCUMENTS_MAX {
        errors.push(FieldError::too_many(
            format!("{root_path}/{document}"),
            DOCUMENTS_MAX,
        ));
        documents.clear();
    }
    if transfer.is_none() {
        errors.push(FieldError::required(format!("{root_path}/BaseTransfer")));
    }
    (documents, transfer)
}

/// The head and the items of a document made of `head` then 1 to `ITEMS_MAX` `list` records.
fn head_and_items<'a>(
    element: &'a Element,
    path: &str,
    head: &str,
    list: &str,
    errors: &mut Errors,
) -> (Option<&'a Element>, Vec<&'a Element>) {
    no_text(element, path, errors);
    let mut heads = Vec::new();
    let mut items = Vec::new();
    for child in &element.children {
        let child_path = format!("{path}/{}", child.name);
        if child.ns != Ns::Ceb {
            errors.push(not_ceb(&child_path));
        } else if child.name == head {
            if !items.is_empty() {
                errors.push(error(
                    &child_path,
                    ErrorCode::InvalidFormat,
                    format!("is out of order: the schema puts it before {list}"),
                    format!("顺序错误：按报文规范应在 {list} 之前"),
                ));
            }
            heads.push(child);
        } else if child.name == list {
            items.push(child);
        } else {
            errors.push(FieldError::unknown_field(&child_path));
        }
    }
    if heads.len() > 1 {
        errors.push(FieldError::too_many(format!("{path}/{head}"), 1));
    }
    if heads.is_empty() {
        errors.push(FieldError::required(format!("{path}/{head}")));
    }
    if !list.is_empty() {
        if items.is_empty() {
            errors.push(FieldError::required(format!("{path}/{list}")));
        }
        if items.len() > ITEMS_MAX {
            errors.push(FieldError::too_many(format!("{path}/{list}"), ITEMS_MAX));
            items.clear();
        }
    }
    (heads.first().copied(), items)
}

fn application(v: &Values<'_>) -> Option<Application> {
    Some(Application {
        guid: v.text("guid")?,
        app_type: AppType::from_code(&v.text("appType")?)?,
        app_time: v.date_time("appTime")?,
        app_status: AppStatus::from_code(&v.text("appStatus")?)?,
    })
}

fn country(v: &Values<'_>, path: &str, name: &str, errors: &mut Errors) -> Option<Country> {
    let code = v.text(name)?;
    codes::parse_country(Joined(path, name), &code)
        .map_err(|e| errors.push(e))
        .ok()
}

fn optional_country(
    v: &Values<'_>,
    path: &str,
    name: &str,
    errors: &mut Errors,
) -> Option<Option<Country>> {
    match v.optional(name) {
        None => Some(None),
        Some(code) => codes::parse_country(Joined(path, name), &code)
            .map(Some)
            .map_err(|e| errors.push(e))
            .ok(),
    }
}

fn currency(v: &Values<'_>, path: &str, errors: &mut Errors) -> Option<Currency> {
    let code = v.text("currency")?;
    codes::parse_currency(Joined(path, "currency"), &code)
        .map_err(|e| errors.push(e))
        .ok()
}

fn id_type(v: &Values<'_>, name: &str) -> Option<IdType> {
    (v.text(name)? == "1").then_some(IdType::ResidentId)
}

fn record<'a>(
    element: &'a Element,
    path: &str,
    spec: &'static [Field],
    errors: &mut Errors,
) -> Values<'a> {
    check_record(element, path, spec, errors)
}

pub(crate) fn order(element: &Element, path: &str, errors: &mut Errors) -> Option<Order> {
    let (head, lists) = head_and_items(element, path, "OrderHead", "OrderList", errors);
    let mut items = Vec::new();
    let mut all_items = true;
    for (i, list) in lists.iter().enumerate() {
        let at = format!("{path}/OrderList[{}]", i + 1);
        let v = record(list, &at, spec::ORDER_LIST, errors);
        let country = country(&v, &at, "country", errors);
        let currency = currency(&v, &at, errors);
        let item = (|| {
            Some(OrderItem {
                gnum: v.int("gnum")?,
                item_no: v.optional("itemNo"),
                item_name: v.text("itemName")?,
                gmodel: v.text("gmodel")?,
                item_describe: v.optional("itemDescribe"),
                bar_code: v.optional("barCode"),
                unit: v.text("unit")?,
                qty: v.decimal("qty")?,
                price: v.decimal("price")?,
                total_price: v.decimal("totalPrice")?,
                currency: currency?,
                country: country?,
                note: v.optional("note"),
            })
        })();
        match item {
            Some(item) => items.push(item),
            None => all_items = false,
        }
    }
    let at = format!("{path}/OrderHead");
    let v = record(head?, &at, spec::ORDER_HEAD, errors);
    let currency = currency(&v, &at, errors);
    let order = Order {
        application: application(&v)?,
        order_no: v.text("orderNo")?,
        ebp_code: v.text("ebpCode")?,
        ebp_name: v.text("ebpName")?,
        ebc_code: v.text("ebcCode")?,
        ebc_name: v.text("ebcName")?,
        goods_value: v.decimal("goodsValue")?,
        freight: v.decimal("freight")?,
        discount: v.decimal("discount")?,
        tax_total: v.decimal("taxTotal")?,
        actural_paid: v.decimal("acturalPaid")?,
        currency: currency?,
        buyer_reg_no: v.text("buyerRegNo")?,
        buyer_name: v.text("buyerName")?,
        buyer_telephone: v.text("buyerTelephone")?,
        buyer_id_type: id_type(&v, "buyerIdType")?,
        buyer_id_number: IdNumber(v.text("buyerIdNumber")?),
        pay_code: v.optional("payCode"),
        pay_name: v.optional("payName"),
        pay_transaction_id: v.optional("payTransactionId"),
        batch_numbers: v.optional("batchNumbers"),
        consignee: v.text("consignee")?,
        consignee_telephone: v.text("consigneeTelephone")?,
        consignee_address: v.text("consigneeAddress")?,
        consignee_district: v.optional("consigneeDistrict"),
        note: v.optional("note"),
        items,
    };
    all_items.then_some(order)
}

pub(crate) fn payment(element: &Element, path: &str, errors: &mut Errors) -> Option<Payment> {
    let (head, _) = head_and_items(element, path, "PaymentHead", "", errors);
    let at = format!("{path}/PaymentHead");
    let v = record(head?, &at, spec::PAYMENT_HEAD, errors);
    let currency = currency(&v, &at, errors);
    Some(Payment {
        application: application(&v)?,
        pay_code: v.text("payCode")?,
        pay_name: v.text("payName")?,
        pay_transaction_id: v.text("payTransactionId")?,
        order_no: v.text("orderNo")?,
        ebp_code: v.text("ebpCode")?,
        ebp_name: v.text("ebpName")?,
        payer_id_type: id_type(&v, "payerIdType")?,
        payer_id_number: IdNumber(v.text("payerIdNumber")?),
        payer_name: v.text("payerName")?,
        telephone: v.optional("telephone"),
        amount_paid: v.decimal("amountPaid")?,
        currency: currency?,
        pay_time: v.date_time("payTime")?,
        note: v.optional("note"),
    })
}

pub(crate) fn waybill(element: &Element, path: &str, errors: &mut Errors) -> Option<Waybill> {
    let (head, _) = head_and_items(element, path, "LogisticsHead", "", errors);
    let at = format!("{path}/LogisticsHead");
    let v = record(head?, &at, spec::LOGISTICS_HEAD, errors);
    let currency = currency(&v, &at, errors);
    Some(Waybill {
        application: application(&v)?,
        logistics_code: v.text("logisticsCode")?,
        logistics_name: v.text("logisticsName")?,
        logistics_no: v.text("logisticsNo")?,
        bill_no: v.optional("billNo"),
        order_no: v.text("orderNo")?,
        freight: v.decimal("freight"),
        insured_fee: v.decimal("insuredFee"),
        currency: currency?,
        weight: v.decimal("weight")?,
        pack_no: v.int("packNo")?,
        goods_info: v.optional("goodsInfo"),
        consignee: v.text("consignee")?,
        consignee_address: v.text("consigneeAddress")?,
        consignee_telephone: v.text("consigneeTelephone")?,
        note: v.optional("note"),
    })
}

pub(crate) fn inventory(element: &Element, path: &str, errors: &mut Errors) -> Option<Inventory> {
    let (head, lists) = head_and_items(element, path, "InventoryHead", "InventoryList", errors);
    let mut items = Vec::new();
    let mut all_items = true;
    for (i, list) in lists.iter().enumerate() {
        let at = format!("{path}/InventoryList[{}]", i + 1);
        let v = record(list, &at, spec::INVENTORY_LIST, errors);
        let origin = country(&v, &at, "country", errors);
        let trade_country = optional_country(&v, &at, "tradeCountry", errors);
        let currency = currency(&v, &at, errors);
        let item = (|| {
            Some(InventoryItem {
                gnum: v.int("gnum")?,
                item_record_no: v.optional("itemRecordNo"),
                item_no: v.optional("itemNo"),
                item_name: v.optional("itemName"),
                gcode: v.text("gcode")?,
                gname: v.text("gname")?,
                gmodel: v.text("gmodel")?,
                bar_code: v.optional("barCode"),
                country: origin?,
                trade_country: trade_country?,
                currency: currency?,
                qty: v.decimal("qty")?,
                unit: v.text("unit")?,
                qty1: v.decimal("qty1")?,
                unit1: v.text("unit1")?,
                qty2: v.decimal("qty2"),
                unit2: v.optional("unit2"),
                price: v.decimal("price")?,
                total_price: v.decimal("totalPrice")?,
                note: v.optional("note"),
            })
        })();
        match item {
            Some(item) => items.push(item),
            None => all_items = false,
        }
    }
    let at = format!("{path}/InventoryHead");
    let v = record(head?, &at, spec::INVENTORY_HEAD, errors);
    let origin = country(&v, &at, "country", errors);
    let currency = currency(&v, &at, errors);
    let inventory = Inventory {
        application: application(&v)?,
        order_no: v.text("orderNo")?,
        ebp_code: v.text("ebpCode")?,
        ebp_name: v.text("ebpName")?,
        ebc_code: v.text("ebcCode")?,
        ebc_name: v.text("ebcName")?,
        logistics_no: v.text("logisticsNo")?,
        logistics_code: v.text("logisticsCode")?,
        logistics_name: v.text("logisticsName")?,
        cop_no: v.optional("copNo"),
        pre_no: v.optional("preNo"),
        assure_code: v.text("assureCode")?,
        ems_no: v.optional("emsNo"),
        invt_no: v.optional("invtNo"),
        decl_time: v.date("declTime")?,
        customs_code: v.text("customsCode")?,
        port_code: v.text("portCode")?,
        ie_date: v.date("ieDate"),
        buyer_id_type: id_type(&v, "buyerIdType")?,
        buyer_id_number: IdNumber(v.text("buyerIdNumber")?),
        buyer_name: v.text("buyerName")?,
        buyer_telephone: v.text("buyerTelephone")?,
        consignee_address: v.text("consigneeAddress")?,
        agent_code: v.text("agentCode")?,
        agent_name: v.text("agentName")?,
        area_code: v.optional("areaCode"),
        area_name: v.optional("areaName"),
        trade_mode: v.text("tradeMode")?,
        traf_mode: v.text("trafMode")?,
        traf_no: v.optional("trafNo"),
        voyage_no: v.optional("voyageNo"),
        bill_no: v.optional("billNo"),
        loct_no: v.optional("loctNo"),
        license_no: v.optional("licenseNo"),
        country: origin?,
        freight: v.decimal("freight")?,
        insured_fee: v.decimal("insuredFee")?,
        currency: currency?,
        wrap_type: v.optional("wrapType"),
        pack_no: v.int("packNo")?,
        gross_weight: v.decimal("grossWeight")?,
        net_weight: v.decimal("netWeight")?,
        note: v.optional("note"),
        items,
    };
    all_items.then_some(inventory)
}

pub(crate) fn cancellation(
    element: &Element,
    path: &str,
    errors: &mut Errors,
) -> Option<Cancellation> {
    let v = record(element, path, spec::INVT_CANCEL, errors);
    Some(Cancellation {
        application: application(&v)?,
        customs_code: v.text("customsCode")?,
        order_no: v.text("orderNo")?,
        ebp_code: v.text("ebpCode")?,
        ebp_name: v.text("ebpName")?,
        ebc_code: v.text("ebcCode")?,
        ebc_name: v.text("ebcName")?,
        logistics_no: v.text("logisticsNo")?,
        logistics_code: v.text("logisticsCode")?,
        logistics_name: v.text("logisticsName")?,
        cop_no: v.optional("copNo"),
        pre_no: v.optional("preNo"),
        invt_no: v.text("invtNo")?,
        buyer_id_type: id_type(&v, "buyerIdType")?,
        buyer_id_number: IdNumber(v.text("buyerIdNumber")?),
        buyer_name: v.text("buyerName")?,
        buyer_telephone: v.text("buyerTelephone")?,
        agent_code: v.text("agentCode")?,
        agent_name: v.text("agentName")?,
        reason: v.text("reason")?,
        note: v.optional("note"),
    })
}

pub(crate) fn refund(element: &Element, path: &str, errors: &mut Errors) -> Option<Return> {
    let (head, lists) = head_and_items(element, path, "InvtRefundHead", "InvtRefundList", errors);
    let mut items = Vec::new();
    let mut all_items = true;
    for (i, list) in lists.iter().enumerate() {
        let at = format!("{path}/InvtRefundList[{}]", i + 1);
        let v = record(list, &at, spec::INVT_REFUND_LIST, errors);
        let item = (|| {
            Some(ReturnItem {
                gnum: v.int("gnum")?,
                gcode: v.text("gcode")?,
                gname: v.text("gname")?,
                qty: v.decimal("qty")?,
                unit: v.text("unit")?,
                note: v.optional("note"),
            })
        })();
        match item {
            Some(item) => items.push(item),
            None => all_items = false,
        }
    }
    let at = format!("{path}/InvtRefundHead");
    let v = record(head?, &at, spec::INVT_REFUND_HEAD, errors);
    let refund = Return {
        application: application(&v)?,
        customs_code: v.text("customsCode")?,
        order_no: v.text("orderNo")?,
        ebp_code: v.text("ebpCode")?,
        ebp_name: v.text("ebpName")?,
        ebc_code: v.text("ebcCode")?,
        ebc_name: v.text("ebcName")?,
        logistics_no: v.text("logisticsNo")?,
        logistics_code: v.text("logisticsCode")?,
        logistics_name: v.text("logisticsName")?,
        cop_no: v.optional("copNo"),
        pre_no: v.optional("preNo"),
        invt_no: v.text("invtNo")?,
        buyer_id_type: id_type(&v, "buyerIdType")?,
        buyer_id_number: IdNumber(v.text("buyerIdNumber")?),
        buyer_name: v.text("buyerName")?,
        buyer_telephone: v.text("buyerTelephone")?,
        agent_code: v.text("agentCode")?,
        agent_name: v.text("agentName")?,
        reason: v.text("reason")?,
        note: v.optional("note"),
        items,
    };
    all_items.then_some(refund)
}
