//! A message written back as XML: the documents in the schema's order, in the CEB namespace
//! (`ceb:` prefix), without a signature (the `dsig` crate signs what is written here). Reading
//! it back gives the same message (for 621/623/625, once signed, as the schema requires).
//! For senders' test tools and benches, which need messages the platform reads.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::documents::*;
use crate::xml::escape_into;
use crate::{CEB_NAMESPACE, Envelope, Message};

type Fields = Vec<(&'static str, Option<String>)>;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn o(v: &Option<String>) -> Option<String> {
    v.clone()
}

fn d(v: Decimal) -> Option<String> {
    Some(v.to_string())
}

fn time(t: NaiveDateTime) -> Option<String> {
    Some(t.format("%Y%m%d%H%M%S").to_string())
}

fn date(t: NaiveDate) -> Option<String> {
    Some(t.format("%Y%m%d").to_string())
}

fn application(a: &Application) -> Fields {
    vec![
        ("guid", s(&a.guid)),
        ("appType", s(a.app_type.code())),
        ("appTime", time(a.app_time)),
        ("appStatus", s(a.app_status.code())),
    ]
}

fn record(out: &mut String, indent: usize, name: &str, fields: Fields) {
    let tabs = "\t".repeat(indent);
    out.push_str(&format!("{tabs}<ceb:{name}>\n"));
    for (field, value) in fields {
        if let Some(value) = value {
            out.push_str(&format!("{tabs}\t<ceb:{field}>"));
            escape_into(out, &value);
            out.push_str(&format!("</ceb:{field}>\n"));
        }
    }
    out.push_str(&format!("{tabs}</ceb:{name}>\n"));
}

fn order(out: &mut String, order: &Order) {
    out.push_str("\t<ceb:Order>\n");
    let mut head = application(&order.application);
    head.extend([
        ("orderType", s("I")),
        ("orderNo", s(&order.order_no)),
        ("ebpCode", s(&order.ebp_code)),
        ("ebpName", s(&order.ebp_name)),
        ("ebcCode", s(&order.ebc_code)),
        ("ebcName", s(&order.ebc_name)),
        ("goodsValue", d(order.goods_value)),
        ("freight", d(order.freight)),
        ("discount", d(order.discount)),
        ("taxTotal", d(order.tax_total)),
        ("acturalPaid", d(order.actural_paid)),
        ("currency", s(order.currency.code)),
        ("buyerRegNo", s(&order.buyer_reg_no)),
        ("buyerName", s(&order.buyer_name)),
        ("buyerTelephone", s(&order.buyer_telephone)),
        ("buyerIdType", s(order.buyer_id_type.code())),
        ("buyerIdNumber", s(&order.buyer_id_number.0)),
        ("payCode", o(&order.pay_code)),
        ("payName", o(&order.pay_name)),
        ("payTransactionId", o(&order.pay_transaction_id)),
        ("batchNumbers", o(&order.batch_numbers)),
        ("consignee", s(&order.consignee)),
        ("consigneeTelephone", s(&order.consignee_telephone)),
        ("consigneeAddress", s(&order.consignee_address)),
        ("consigneeDistrict", o(&order.consignee_district)),
        ("note", o(&order.note)),
    ]);
    record(out, 2, "OrderHead", head);
    for item in &order.items {
        record(
            out,
            2,
            "OrderList",
            vec![
                ("gnum", Some(item.gnum.to_string())),
                ("itemNo", o(&item.item_no)),
                ("itemName", s(&item.item_name)),
                ("gmodel", s(&item.gmodel)),
                ("itemDescribe", o(&item.item_describe)),
                ("barCode", o(&item.bar_code)),
                ("unit", s(&item.unit)),
                ("qty", d(item.qty)),
                ("price", d(item.price)),
                ("totalPrice", d(item.total_price)),
                ("currency", s(item.currency.code)),
                ("country", s(item.country.code)),
                ("note", o(&item.note)),
            ],
        );
    }
    out.push_str("\t</ceb:Order>\n");
}

fn payment(out: &mut String, p: &Payment) {
    out.push_str("\t<ceb:Payment>\n");
    let mut head = application(&p.application);
    head.extend([
        ("payCode", s(&p.pay_code)),
        ("payName", s(&p.pay_name)),
        ("payTransactionId", s(&p.pay_transaction_id)),
        ("orderNo", s(&p.order_no)),
        ("ebpCode", s(&p.ebp_code)),
        ("ebpName", s(&p.ebp_name)),
        ("payerIdType", s(p.payer_id_type.code())),
        ("payerIdNumber", s(&p.payer_id_number.0)),
        ("payerName", s(&p.payer_name)),
        ("telephone", o(&p.telephone)),
        ("amountPaid", d(p.amount_paid)),
        ("currency", s(p.currency.code)),
        ("payTime", time(p.pay_time)),
        ("note", o(&p.note)),
    ]);
    record(out, 2, "PaymentHead", head);
    out.push_str("\t</ceb:Payment>\n");
}

fn waybill(out: &mut String, w: &Waybill) {
    out.push_str("\t<ceb:Logistics>\n");
    let mut head = application(&w.application);
    head.extend([
        ("logisticsCode", s(&w.logistics_code)),
        ("logisticsName", s(&w.logistics_name)),
        ("logisticsNo", s(&w.logistics_no)),
        ("billNo", o(&w.bill_no)),
        ("orderNo", s(&w.order_no)),
        ("freight", w.freight.and_then(d)),
        ("insuredFee", w.insured_fee.and_then(d)),
        ("currency", s(w.currency.code)),
        ("weight", d(w.weight)),
        ("packNo", Some(w.pack_no.to_string())),
        ("goodsInfo", o(&w.goods_info)),
        ("consignee", s(&w.consignee)),
        ("consigneeAddress", s(&w.consignee_address)),
        ("consigneeTelephone", s(&w.consignee_telephone)),
        ("note", o(&w.note)),
    ]);
    record(out, 2, "LogisticsHead", head);
    out.push_str("\t</ceb:Logistics>\n");
}

fn inventory(out: &mut String, i: &Inventory) {
    out.push_str("\t<ceb:Inventory>\n");
    let mut head = application(&i.application);
    head.extend([
        ("orderNo", s(&i.order_no)),
        ("ebpCode", s(&i.ebp_code)),
        ("ebpName", s(&i.ebp_name)),
        ("ebcCode", s(&i.ebc_code)),
        ("ebcName", s(&i.ebc_name)),
        ("logisticsNo", s(&i.logistics_no)),
        ("logisticsCode", s(&i.logistics_code)),
        ("logisticsName", s(&i.logistics_name)),
        ("copNo", o(&i.cop_no)),
        ("preNo", o(&i.pre_no)),
        ("assureCode", s(&i.assure_code)),
        ("emsNo", o(&i.ems_no)),
        ("invtNo", o(&i.invt_no)),
        ("ieFlag", s("I")),
        ("declTime", date(i.decl_time)),
        ("customsCode", s(&i.customs_code)),
        ("portCode", s(&i.port_code)),
        ("ieDate", i.ie_date.and_then(date)),
        ("buyerIdType", s(i.buyer_id_type.code())),
        ("buyerIdNumber", s(&i.buyer_id_number.0)),
        ("buyerName", s(&i.buyer_name)),
        ("buyerTelephone", s(&i.buyer_telephone)),
        ("consigneeAddress", s(&i.consignee_address)),
        ("agentCode", s(&i.agent_code)),
        ("agentName", s(&i.agent_name)),
        ("areaCode", o(&i.area_code)),
        ("areaName", o(&i.area_name)),
        ("tradeMode", s(&i.trade_mode)),
        ("trafMode", s(&i.traf_mode)),
        ("trafNo", o(&i.traf_no)),
        ("voyageNo", o(&i.voyage_no)),
        ("billNo", o(&i.bill_no)),
        ("loctNo", o(&i.loct_no)),
        ("licenseNo", o(&i.license_no)),
        ("country", s(i.country.code)),
        ("freight", d(i.freight)),
        ("insuredFee", d(i.insured_fee)),
        ("currency", s(i.currency.code)),
        ("wrapType", o(&i.wrap_type)),
        ("packNo", Some(i.pack_no.to_string())),
        ("grossWeight", d(i.gross_weight)),
        ("netWeight", d(i.net_weight)),
        ("note", o(&i.note)),
    ]);
    record(out, 2, "InventoryHead", head);
    for item in &i.items {
        record(
            out,
            2,
            "InventoryList",
            vec![
                ("gnum", Some(item.gnum.to_string())),
                ("itemRecordNo", o(&item.item_record_no)),
                ("itemNo", o(&item.item_no)),
                ("itemName", o(&item.item_name)),
                ("gcode", s(&item.gcode)),
                ("gname", s(&item.gname)),
                ("gmodel", s(&item.gmodel)),
                ("barCode", o(&item.bar_code)),
                ("country", s(item.country.code)),
                (
                    "tradeCountry",
                    item.trade_country.map(|c| c.code.to_owned()),
                ),
                ("currency", s(item.currency.code)),
                ("qty", d(item.qty)),
                ("unit", s(&item.unit)),
                ("qty1", d(item.qty1)),
                ("unit1", s(&item.unit1)),
                ("qty2", item.qty2.and_then(d)),
                ("unit2", o(&item.unit2)),
                ("price", d(item.price)),
                ("totalPrice", d(item.total_price)),
                ("note", o(&item.note)),
            ],
        );
    }
    out.push_str("\t</ceb:Inventory>\n");
}

/// The fields a cancellation and a return share, after `customsCode`.
macro_rules! parties {
    ($x:expr) => {
        [
            ("orderNo", s(&$x.order_no)),
            ("ebpCode", s(&$x.ebp_code)),
            ("ebpName", s(&$x.ebp_name)),
            ("ebcCode", s(&$x.ebc_code)),
            ("ebcName", s(&$x.ebc_name)),
            ("logisticsNo", s(&$x.logistics_no)),
            ("logisticsCode", s(&$x.logistics_code)),
            ("logisticsName", s(&$x.logistics_name)),
            ("copNo", o(&$x.cop_no)),
            ("preNo", o(&$x.pre_no)),
            ("invtNo", s(&$x.invt_no)),
            ("buyerIdType", s($x.buyer_id_type.code())),
            ("buyerIdNumber", s(&$x.buyer_id_number.0)),
            ("buyerName", s(&$x.buyer_name)),
            ("buyerTelephone", s(&$x.buyer_telephone)),
            ("agentCode", s(&$x.agent_code)),
            ("agentName", s(&$x.agent_name)),
            ("reason", s(&$x.reason)),
            ("note", o(&$x.note)),
        ]
    };
}

fn cancellation(out: &mut String, c: &Cancellation) {
    let mut fields = application(&c.application);
    fields.push(("customsCode", s(&c.customs_code)));
    fields.extend(parties!(c));
    record(out, 1, "InvtCancel", fields);
}

fn refund(out: &mut String, r: &Return) {
    out.push_str("\t<ceb:InvtRefund>\n");
    let mut head = application(&r.application);
    head.push(("customsCode", s(&r.customs_code)));
    head.extend(parties!(r));
    record(out, 2, "InvtRefundHead", head);
    for item in &r.items {
        record(
            out,
            2,
            "InvtRefundList",
            vec![
                ("gnum", Some(item.gnum.to_string())),
                ("gcode", s(&item.gcode)),
                ("gname", s(&item.gname)),
                ("qty", d(item.qty)),
                ("unit", s(&item.unit)),
                ("note", o(&item.note)),
            ],
        );
    }
    out.push_str("\t</ceb:InvtRefund>\n");
}

fn envelope<T>(root: &str, e: &Envelope<T>, document: fn(&mut String, &T)) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<ceb:{root} guid=\""));
    escape_into(&mut out, &e.guid);
    out.push_str("\" version=\"");
    escape_into(&mut out, &e.version);
    out.push_str(&format!("\" xmlns:ceb=\"{CEB_NAMESPACE}\">\n"));
    for d in &e.documents {
        document(&mut out, d);
    }
    let t = &e.base_transfer;
    record(
        &mut out,
        1,
        "BaseTransfer",
        vec![
            ("copCode", s(&t.cop_code)),
            ("copName", s(&t.cop_name)),
            ("dxpMode", s(&t.dxp_mode)),
            ("dxpId", s(&t.dxp_id)),
            ("note", o(&t.note)),
        ],
    );
    out.push_str(&format!("</ceb:{root}>\n"));
    out
}

/// The message as XML, unsigned.
pub fn render(message: &Message) -> String {
    let root = message.message_type().root_name();
    match message {
        Message::Orders(e) => envelope(root, e, order),
        Message::Payments(e) => envelope(root, e, payment),
        Message::Waybills(e) => envelope(root, e, waybill),
        Message::Inventories(e) => envelope(root, e, inventory),
        Message::Cancellations(e) => envelope(root, e, cancellation),
        Message::Returns(e) => envelope(root, e, refund),
    }
}
