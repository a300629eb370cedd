//! The three-document comparison (三单对碰), pure: an inventory list against its order,
//! payment and waybill, field by field. Every disagreement is returned (none stops the others),
//! each naming the field of one document, the field of the other and both values. Amounts are
//! compared to the fen (0.01 CNY, rounded half-up). ID numbers are shown masked.

use rust_decimal::Decimal;

use crate::arithmetic::to_fen;
use crate::documents::{Cancellation, IdNumber, Inventory, Order, Payment, Return, Waybill};

/// The documents compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    Inventory,
    Order,
    Payment,
    Waybill,
    Cancellation,
    Return,
}

impl Document {
    pub fn name_en(self) -> &'static str {
        match self {
            Document::Inventory => "inventory list (CEB621)",
            Document::Order => "order (CEB311)",
            Document::Payment => "payment (CEB411)",
            Document::Waybill => "waybill (CEB511)",
            Document::Cancellation => "cancellation (CEB623)",
            Document::Return => "return (CEB625)",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Document::Inventory => "清单（CEB621）",
            Document::Order => "订单（CEB311）",
            Document::Payment => "支付凭证（CEB411）",
            Document::Waybill => "运单（CEB511）",
            Document::Cancellation => "撤销申请单（CEB623）",
            Document::Return => "退货申请单（CEB625）",
        }
    }
}

/// One field on which two documents disagree. `document` is the inventory list whenever it
/// carries the field; otherwise (payment against order, waybill against order) the one that
/// arrives to be matched against the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub document: Document,
    /// Within the document, e.g. `InventoryHead/orderNo` or `InventoryList[2]/qty`.
    pub field: String,
    pub value: String,
    pub other: Document,
    pub other_field: String,
    pub other_value: String,
    pub message_en: String,
    pub message_zh: String,
}

struct Side<'a> {
    document: Document,
    field: String,
    value: &'a str,
}

fn side(document: Document, field: impl Into<String>, value: &str) -> Side<'_> {
    Side {
        document,
        field: field.into(),
        value,
    }
}

fn disagreement(a: Side<'_>, b: Side<'_>) -> Disagreement {
    let (va, vb) = (
        domain::problem::echoed(a.value).into_owned(),
        domain::problem::echoed(b.value).into_owned(),
    );
    Disagreement {
        message_en: format!(
            "{} {} is '{va}' but {} {} is '{vb}'",
            a.document.name_en(),
            a.field,
            b.document.name_en(),
            b.field
        ),
        message_zh: format!(
            "{}的 {} 为“{va}”，但{}的 {} 为“{vb}”",
            a.document.name_zh(),
            a.field,
            b.document.name_zh(),
            b.field
        ),
        document: a.document,
        field: a.field,
        value: va,
        other: b.document,
        other_field: b.field,
        other_value: vb,
    }
}

#[derive(Default)]
struct Found(Vec<Disagreement>);

impl Found {
    fn text(&mut self, a: Side<'_>, b: Side<'_>) {
        if a.value.trim() != b.value.trim() {
            self.0.push(disagreement(a, b));
        }
    }

    fn amount(&mut self, a: (Document, &str, Decimal), b: (Document, &str, Decimal)) {
        if to_fen(a.2) != to_fen(b.2) {
            let (va, vb) = (a.2.normalize().to_string(), b.2.normalize().to_string());
            self.0
                .push(disagreement(side(a.0, a.1, &va), side(b.0, b.1, &vb)));
        }
    }

    fn id(&mut self, a: (Document, &str, &IdNumber), b: (Document, &str, &IdNumber)) {
        if !a.2.0.trim().eq_ignore_ascii_case(b.2.0.trim()) {
            let (va, vb) = (a.2.masked(), b.2.masked());
            self.0
                .push(disagreement(side(a.0, a.1, &va), side(b.0, b.1, &vb)));
        }
    }
}

use Document::{Inventory as I, Order as O, Payment as P, Waybill as W};

/// Compares an inventory list with its order, payment and waybill.
pub fn compare(
    inventory: &Inventory,
    order: &Order,
    payment: &Payment,
    waybill: &Waybill,
) -> Vec<Disagreement> {
    let mut found = Found::default();
    let f = &mut found;
    // The link keys.
    f.text(
        side(I, "InventoryHead/orderNo", &inventory.order_no),
        side(O, "OrderHead/orderNo", &order.order_no),
    );
    f.text(
        side(I, "InventoryHead/ebpCode", &inventory.ebp_code),
        side(O, "OrderHead/ebpCode", &order.ebp_code),
    );
    f.text(
        side(I, "InventoryHead/ebcCode", &inventory.ebc_code),
        side(O, "OrderHead/ebcCode", &order.ebc_code),
    );
    f.text(
        side(I, "InventoryHead/logisticsNo", &inventory.logistics_no),
        side(W, "LogisticsHead/logisticsNo", &waybill.logistics_no),
    );
    f.text(
        side(I, "InventoryHead/logisticsCode", &inventory.logistics_code),
        side(W, "LogisticsHead/logisticsCode", &waybill.logistics_code),
    );
    f.text(
        side(P, "PaymentHead/orderNo", &payment.order_no),
        side(O, "OrderHead/orderNo", &order.order_no),
    );
    f.text(
        side(P, "PaymentHead/ebpCode", &payment.ebp_code),
        side(O, "OrderHead/ebpCode", &order.ebp_code),
    );
    f.text(
        side(W, "LogisticsHead/orderNo", &waybill.order_no),
        side(O, "OrderHead/orderNo", &order.order_no),
    );
    // The order names its payment when it can.
    if let Some(pay_code) = &order.pay_code {
        f.text(
            side(P, "PaymentHead/payCode", &payment.pay_code),
            side(O, "OrderHead/payCode", pay_code),
        );
    }
    if let Some(transaction) = &order.pay_transaction_id {
        f.text(
            side(
                P,
                "PaymentHead/payTransactionId",
                &payment.pay_transaction_id,
            ),
            side(O, "OrderHead/payTransactionId", transaction),
        );
    }
    // The buyer: the list's against the order's buyer and the payment's payer.
    f.text(
        side(
            I,
            "InventoryHead/buyerIdType",
            inventory.buyer_id_type.code(),
        ),
        side(O, "OrderHead/buyerIdType", order.buyer_id_type.code()),
    );
    f.id(
        (I, "InventoryHead/buyerIdNumber", &inventory.buyer_id_number),
        (O, "OrderHead/buyerIdNumber", &order.buyer_id_number),
    );
    f.text(
        side(I, "InventoryHead/buyerName", &inventory.buyer_name),
        side(O, "OrderHead/buyerName", &order.buyer_name),
    );
    f.text(
        side(
            I,
            "InventoryHead/buyerIdType",
            inventory.buyer_id_type.code(),
        ),
        side(P, "PaymentHead/payerIdType", payment.payer_id_type.code()),
    );
    f.id(
        (I, "InventoryHead/buyerIdNumber", &inventory.buyer_id_number),
        (P, "PaymentHead/payerIdNumber", &payment.payer_id_number),
    );
    f.text(
        side(I, "InventoryHead/buyerName", &inventory.buyer_name),
        side(P, "PaymentHead/payerName", &payment.payer_name),
    );
    // The goods, line by line (the list's gnum answers the order's one to one).
    let (ni, no) = (inventory.items.len(), order.items.len());
    if ni != no {
        let (vi, vo) = (ni.to_string(), no.to_string());
        f.0.push(disagreement(
            side(I, "InventoryList (count)", &vi),
            side(O, "OrderList (count)", &vo),
        ));
    }
    for (at, item) in inventory.items.iter().enumerate() {
        let Some((oat, ordered)) = order
            .items
            .iter()
            .enumerate()
            .find(|(_, o)| o.gnum == item.gnum)
        else {
            continue;
        };
        let il = |name: &str| format!("InventoryList[{}]/{name}", at + 1);
        let ol = |name: &str| format!("OrderList[{}]/{name}", oat + 1);
        if let Some(ordered_no) = &ordered.item_no {
            let listed = item.item_no.as_deref().unwrap_or("");
            f.text(
                side(I, il("itemNo"), listed),
                side(O, ol("itemNo"), ordered_no),
            );
        }
        f.amount((I, &il("qty"), item.qty), (O, &ol("qty"), ordered.qty));
        f.amount(
            (I, &il("price"), item.price),
            (O, &ol("price"), ordered.price),
        );
        f.amount(
            (I, &il("totalPrice"), item.total_price),
            (O, &ol("totalPrice"), ordered.total_price),
        );
        f.text(
            side(I, il("unit"), &item.unit),
            side(O, ol("unit"), &ordered.unit),
        );
        f.text(
            side(I, il("country"), item.country.code),
            side(O, ol("country"), ordered.country.code),
        );
    }
    // The amounts.
    let listed: Decimal = inventory.items.iter().map(|i| to_fen(i.total_price)).sum();
    f.amount(
        (I, "InventoryList (Σ totalPrice)", listed),
        (O, "OrderHead/goodsValue", order.goods_value),
    );
    f.amount(
        (P, "PaymentHead/amountPaid", payment.amount_paid),
        (O, "OrderHead/acturalPaid", order.actural_paid),
    );
    // The freight: the list's against the order's and the waybill's (when it states one).
    f.amount(
        (I, "InventoryHead/freight", inventory.freight),
        (O, "OrderHead/freight", order.freight),
    );
    if let Some(freight) = waybill.freight {
        f.amount(
            (I, "InventoryHead/freight", inventory.freight),
            (W, "LogisticsHead/freight", freight),
        );
    }
    // The consignee: the waybill's against the order's, and the list's address.
    f.text(
        side(W, "LogisticsHead/consignee", &waybill.consignee),
        side(O, "OrderHead/consignee", &order.consignee),
    );
    f.text(
        side(
            W,
            "LogisticsHead/consigneeAddress",
            &waybill.consignee_address,
        ),
        side(O, "OrderHead/consigneeAddress", &order.consignee_address),
    );
    f.text(
        side(
            W,
            "LogisticsHead/consigneeTelephone",
            &waybill.consignee_telephone,
        ),
        side(
            O,
            "OrderHead/consigneeTelephone",
            &order.consignee_telephone,
        ),
    );
    f.text(
        side(
            I,
            "InventoryHead/consigneeAddress",
            &inventory.consignee_address,
        ),
        side(O, "OrderHead/consigneeAddress", &order.consignee_address),
    );
    found.0
}

/// The tax the order says the platform withheld (`taxTotal`) against the tax assessed on the
/// list: the documents carry only the former, the assessment is the platform's (the caller's).
pub fn compare_tax(order: &Order, assessed: Decimal) -> Option<Disagreement> {
    let mut found = Found::default();
    let assessed_text = format!("{:.2}", to_fen(assessed));
    let withheld = to_fen(order.tax_total);
    if withheld != to_fen(assessed) {
        let withheld_text = format!("{withheld:.2}");
        found.0.push(disagreement(
            side(O, "OrderHead/taxTotal", &withheld_text),
            side(I, "(tax assessed on the list)", &assessed_text),
        ));
    }
    found.0.pop()
}

/// The keys a cancellation or a return repeats from the list it concerns (found by `invtNo`).
struct ListKeys<'a> {
    document: Document,
    head: &'static str,
    order_no: &'a str,
    ebp_code: &'a str,
    ebc_code: &'a str,
    logistics_no: &'a str,
    logistics_code: &'a str,
    buyer_id_number: &'a IdNumber,
    buyer_name: &'a str,
    agent_code: &'a str,
}

fn compare_keys(keys: ListKeys<'_>, inventory: &Inventory, f: &mut Found) {
    let at = |name: &str| format!("{}{name}", keys.head);
    let pairs = [
        ("orderNo", keys.order_no, &inventory.order_no),
        ("ebpCode", keys.ebp_code, &inventory.ebp_code),
        ("ebcCode", keys.ebc_code, &inventory.ebc_code),
        ("logisticsNo", keys.logistics_no, &inventory.logistics_no),
        (
            "logisticsCode",
            keys.logistics_code,
            &inventory.logistics_code,
        ),
        ("buyerName", keys.buyer_name, &inventory.buyer_name),
        ("agentCode", keys.agent_code, &inventory.agent_code),
    ];
    for (name, theirs, listed) in pairs {
        f.text(
            side(keys.document, at(name), theirs),
            side(I, format!("InventoryHead/{name}"), listed),
        );
    }
    f.id(
        (keys.document, &at("buyerIdNumber"), keys.buyer_id_number),
        (I, "InventoryHead/buyerIdNumber", &inventory.buyer_id_number),
    );
}

/// A cancellation (CEB623) against the list it cancels: the same order, parties and buyer.
pub fn compare_cancellation(
    cancellation: &Cancellation,
    inventory: &Inventory,
) -> Vec<Disagreement> {
    let mut found = Found::default();
    compare_keys(
        ListKeys {
            document: Document::Cancellation,
            head: "",
            order_no: &cancellation.order_no,
            ebp_code: &cancellation.ebp_code,
            ebc_code: &cancellation.ebc_code,
            logistics_no: &cancellation.logistics_no,
            logistics_code: &cancellation.logistics_code,
            buyer_id_number: &cancellation.buyer_id_number,
            buyer_name: &cancellation.buyer_name,
            agent_code: &cancellation.agent_code,
        },
        inventory,
        &mut found,
    );
    found.0
}

/// A return (CEB625) against the list its goods were cleared on: the same order, parties and
/// buyer, and each item returned an item of the list (by `gnum`) with the same commodity code and
/// unit, no more than was listed.
pub fn compare_return(refund: &Return, inventory: &Inventory) -> Vec<Disagreement> {
    let mut found = Found::default();
    compare_keys(
        ListKeys {
            document: Document::Return,
            head: "InvtRefundHead/",
            order_no: &refund.order_no,
            ebp_code: &refund.ebp_code,
            ebc_code: &refund.ebc_code,
            logistics_no: &refund.logistics_no,
            logistics_code: &refund.logistics_code,
            buyer_id_number: &refund.buyer_id_number,
            buyer_name: &refund.buyer_name,
            agent_code: &refund.agent_code,
        },
        inventory,
        &mut found,
    );
    for (at, item) in refund.items.iter().enumerate() {
        let rl = |name: &str| format!("InvtRefundList[{}]/{name}", at + 1);
        let Some((lat, listed)) = inventory
            .items
            .iter()
            .enumerate()
            .find(|(_, l)| l.gnum == item.gnum)
        else {
            let gnum = item.gnum.to_string();
            found.0.push(disagreement(
                side(Document::Return, rl("gnum"), &gnum),
                side(I, "InventoryList (gnum)", "none"),
            ));
            continue;
        };
        let ll = |name: &str| format!("InventoryList[{}]/{name}", lat + 1);
        found.text(
            side(Document::Return, rl("gcode"), &item.gcode),
            side(I, ll("gcode"), &listed.gcode),
        );
        found.text(
            side(Document::Return, rl("unit"), &item.unit),
            side(I, ll("unit"), &listed.unit),
        );
        if item.qty > listed.qty {
            let (returned, cleared) = (
                item.qty.normalize().to_string(),
                listed.qty.normalize().to_string(),
            );
            let mut d = disagreement(
                side(Document::Return, rl("qty"), &returned),
                side(I, ll("qty"), &cleared),
            );
            d.message_en = format!(
                "{} returns {returned}, more than the {cleared} the list cleared",
                rl("qty")
            );
            d.message_zh = format!(
                "{} 退货数量 {returned} 超过清单申报数量 {cleared}",
                rl("qty")
            );
            found.0.push(d);
        }
    }
    found.0
}

/// The value of the goods a return sends back, to credit the buyer's annual allowance: for each
/// item returned, its share of the listed item's total price (returned qty ÷ listed qty × total),
/// rounded half-up to the fen. Items not on the list count nothing (`compare_return` names them).
pub fn returned_value(refund: &Return, inventory: &Inventory) -> Decimal {
    refund
        .items
        .iter()
        .filter_map(|item| {
            let listed = inventory.items.iter().find(|l| l.gnum == item.gnum)?;
            if listed.qty.is_zero() {
                return None;
            }
            let share = item
                .qty
                .min(listed.qty)
                .checked_mul(listed.total_price)?
                .checked_div(listed.qty)?;
            Some(to_fen(share))
        })
        .sum()
}
