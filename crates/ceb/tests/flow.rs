//! One consistent set of messages (`test_data/flow`: an order, its payment, its waybill, the
//! list, a cancellation and a return, each valid against the schema) through the reader, the
//! three-document comparison and the declaration.

use std::path::Path;

use ceb::matching::{Disagreement, Document, compare};
use ceb::{Inventory, Message, Order, Payment, Waybill};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn flow(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/flow")
            .join(name),
    )
    .unwrap()
}

fn documents() -> (Inventory, Order, Payment, Waybill) {
    let Ok(Message::Inventories(i)) = ceb::parse(&flow("CEB621Message.xml")) else {
        panic!()
    };
    let Ok(Message::Orders(o)) = ceb::parse(&flow("CEB311Message.xml")) else {
        panic!()
    };
    let Ok(Message::Payments(p)) = ceb::parse(&flow("CEB411Message.xml")) else {
        panic!()
    };
    let Ok(Message::Waybills(w)) = ceb::parse(&flow("CEB511Message.xml")) else {
        panic!()
    };
    (
        i.documents[0].clone(),
        o.documents[0].clone(),
        p.documents[0].clone(),
        w.documents[0].clone(),
    )
}

fn parties() -> ceb::Parties {
    use wire::declaration::EnterpriseDto;
    ceb::Parties {
        declarant: EnterpriseDto {
            credit_code: Some("91310000MA1FL0001R".into()),
            customs_code: Some("3122260001".into()),
            name: Some("上海报关服务有限公司".into()),
        },
        trader: EnterpriseDto {
            credit_code: Some("91310115MA1H000024".into()),
            customs_code: Some("3115960002".into()),
            name: Some("上海浦东贸易有限公司".into()),
        },
    }
}

#[test]
fn the_list_becomes_a_declaration_the_platform_accepts() {
    let (inventory, order, _, _) = documents();
    let dto = ceb::to_declaration(&inventory, &order, &parties()).unwrap();
    let ctx = domain::ParseContext {
        reference: reference::ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 11).unwrap(),
    };
    let declaration = dto.parse(&ctx).unwrap_or_else(|e| panic!("{e:#?}"));
    let problems = domain::rules::check_declaration(&declaration, &ctx);
    assert!(problems.is_empty(), "{problems:#?}");
}

type Docs = (Inventory, Order, Payment, Waybill);
type Named = (Document, &'static str, Document, &'static str);
type Case = (&'static str, fn(&mut Docs), Vec<Named>);

fn named(found: &[Disagreement]) -> Vec<(Document, String, Document, String)> {
    found
        .iter()
        .map(|d| (d.document, d.field.clone(), d.other, d.other_field.clone()))
        .collect()
}

#[test]
fn documents_that_agree_have_no_disagreement() {
    let (i, o, p, w) = documents();
    assert_eq!(compare(&i, &o, &p, &w), vec![]);
    assert_eq!(ceb::matching::compare_tax(&o, Decimal::new(2730, 2)), None);
}

#[test]
fn each_field_disagreeing_alone_is_named() {
    use Document::{Inventory as I, Order as O, Payment as P, Waybill as W};
    let cases: Vec<Case> = vec![
        (
            "order number on the list",
            |d| d.0.order_no.push('9'),
            vec![(I, "InventoryHead/orderNo", O, "OrderHead/orderNo")],
        ),
        (
            "platform on the list",
            |d| d.0.ebp_code.push('9'),
            vec![(I, "InventoryHead/ebpCode", O, "OrderHead/ebpCode")],
        ),
        (
            "e-commerce enterprise on the list",
            |d| d.0.ebc_code.push('9'),
            vec![(I, "InventoryHead/ebcCode", O, "OrderHead/ebcCode")],
        ),
        (
            "waybill number on the list",
            |d| d.0.logistics_no.push('9'),
            vec![(
                I,
                "InventoryHead/logisticsNo",
                W,
                "LogisticsHead/logisticsNo",
            )],
        ),
        (
            "logistics enterprise on the list",
            |d| d.0.logistics_code.push('9'),
            vec![(
                I,
                "InventoryHead/logisticsCode",
                W,
                "LogisticsHead/logisticsCode",
            )],
        ),
        (
            "order number on the payment",
            |d| d.2.order_no.push('9'),
            vec![(P, "PaymentHead/orderNo", O, "OrderHead/orderNo")],
        ),
        (
            "platform on the payment",
            |d| d.2.ebp_code.push('9'),
            vec![(P, "PaymentHead/ebpCode", O, "OrderHead/ebpCode")],
        ),
        (
            "order number on the waybill",
            |d| d.3.order_no.push('9'),
            vec![(W, "LogisticsHead/orderNo", O, "OrderHead/orderNo")],
        ),
        (
            "payment enterprise",
            |d| d.2.pay_code.push('9'),
            vec![(P, "PaymentHead/payCode", O, "OrderHead/payCode")],
        ),
        (
            "payment transaction",
            |d| d.2.pay_transaction_id.push('9'),
            vec![(
                P,
                "PaymentHead/payTransactionId",
                O,
                "OrderHead/payTransactionId",
            )],
        ),
        (
            "buyer's ID on the order",
            |d| d.1.buyer_id_number.0 = "440304198001011239".into(),
            vec![(
                I,
                "InventoryHead/buyerIdNumber",
                O,
                "OrderHead/buyerIdNumber",
            )],
        ),
        (
            "payer's ID",
            |d| d.2.payer_id_number.0 = "440304198001011239".into(),
            vec![(
                I,
                "InventoryHead/buyerIdNumber",
                P,
                "PaymentHead/payerIdNumber",
            )],
        ),
        (
            "buyer's name on the order",
            |d| d.1.buyer_name = "李四".into(),
            vec![(I, "InventoryHead/buyerName", O, "OrderHead/buyerName")],
        ),
        (
            "payer's name",
            |d| d.2.payer_name = "李四".into(),
            vec![(I, "InventoryHead/buyerName", P, "PaymentHead/payerName")],
        ),
        (
            "item number",
            |d| d.0.items[1].item_no = Some("SKU-003".into()),
            vec![(I, "InventoryList[2]/itemNo", O, "OrderList[2]/itemNo")],
        ),
        (
            "quantity",
            |d| d.0.items[0].qty = Decimal::new(3, 0),
            vec![(I, "InventoryList[1]/qty", O, "OrderList[1]/qty")],
        ),
        (
            "price",
            |d| d.1.items[0].price = Decimal::new(9951, 2),
            vec![(I, "InventoryList[1]/price", O, "OrderList[1]/price")],
        ),
        (
            "unit",
            |d| d.0.items[0].unit = "007".into(),
            vec![(I, "InventoryList[1]/unit", O, "OrderList[1]/unit")],
        ),
        (
            "origin",
            |d| d.1.items[1].country = ceb::codes::country("116").unwrap(),
            vec![(I, "InventoryList[2]/country", O, "OrderList[2]/country")],
        ),
        (
            "an item's total price, and so the goods value",
            |d| d.0.items[1].total_price = Decimal::new(10101, 2),
            vec![
                (
                    I,
                    "InventoryList[2]/totalPrice",
                    O,
                    "OrderList[2]/totalPrice",
                ),
                (I, "InventoryList (Σ totalPrice)", O, "OrderHead/goodsValue"),
            ],
        ),
        (
            "an item missing from the list",
            |d| {
                d.0.items.pop();
            },
            vec![
                (I, "InventoryList (count)", O, "OrderList (count)"),
                (I, "InventoryList (Σ totalPrice)", O, "OrderHead/goodsValue"),
            ],
        ),
        (
            "the goods value",
            |d| d.1.goods_value = Decimal::new(301, 0),
            vec![(I, "InventoryList (Σ totalPrice)", O, "OrderHead/goodsValue")],
        ),
        (
            "the amount paid",
            |d| d.2.amount_paid = Decimal::new(33229, 2),
            vec![(P, "PaymentHead/amountPaid", O, "OrderHead/acturalPaid")],
        ),
        (
            "the order's freight",
            |d| d.1.freight = Decimal::new(12, 0),
            vec![(I, "InventoryHead/freight", O, "OrderHead/freight")],
        ),
        (
            "the waybill's freight",
            |d| d.3.freight = Some(Decimal::new(12, 0)),
            vec![(I, "InventoryHead/freight", W, "LogisticsHead/freight")],
        ),
        (
            "the list's freight",
            |d| d.0.freight = Decimal::new(12, 0),
            vec![
                (I, "InventoryHead/freight", O, "OrderHead/freight"),
                (I, "InventoryHead/freight", W, "LogisticsHead/freight"),
            ],
        ),
        (
            "the consignee",
            |d| d.3.consignee = "李四".into(),
            vec![(W, "LogisticsHead/consignee", O, "OrderHead/consignee")],
        ),
        (
            "the consignee's telephone",
            |d| d.3.consignee_telephone = "13900000000".into(),
            vec![(
                W,
                "LogisticsHead/consigneeTelephone",
                O,
                "OrderHead/consigneeTelephone",
            )],
        ),
        (
            "the waybill's address",
            |d| d.3.consignee_address.push('2'),
            vec![(
                W,
                "LogisticsHead/consigneeAddress",
                O,
                "OrderHead/consigneeAddress",
            )],
        ),
        (
            "the list's address",
            |d| d.0.consignee_address.push('2'),
            vec![(
                I,
                "InventoryHead/consigneeAddress",
                O,
                "OrderHead/consigneeAddress",
            )],
        ),
    ];
    for (name, change, expected) in cases {
        let mut docs = documents();
        change(&mut docs);
        let (i, o, p, w) = &docs;
        let found = compare(i, o, p, w);
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(a, f, b, g)| (a, f.to_owned(), b, g.to_owned()))
            .collect();
        assert_eq!(named(&found), expected, "{name}");
        for d in &found {
            assert_ne!(d.value, d.other_value, "{name}");
            assert!(
                d.message_en.contains(&d.field) && d.message_zh.contains(&d.other_field),
                "{name}: {d:?}"
            );
        }
    }
}

#[test]
fn amounts_agree_to_the_fen_and_id_numbers_are_shown_masked() {
    let (i, mut o, p, w) = documents();
    // 99.504 is 99.50 to the fen: the same price.
    o.items[0].price = Decimal::new(99504, 3);
    assert_eq!(compare(&i, &o, &p, &w), vec![]);
    o.items[0].price = Decimal::new(99505, 3);
    let found = compare(&i, &o, &p, &w);
    assert_eq!(
        (found[0].value.as_str(), found[0].other_value.as_str()),
        ("99.5", "99.505")
    );
    let (i, mut o, p, w) = documents();
    o.buyer_id_number.0 = "440304198001011239".into();
    let found = compare(&i, &o, &p, &w);
    assert_eq!(found[0].value, "110105********002X");
    assert_eq!(found[0].other_value, "440304********1239");
    assert!(!found[0].message_en.contains("11010519491231002X"));
}

#[test]
fn the_withheld_tax_is_compared_with_the_assessed_one() {
    let (_, o, _, _) = documents();
    let found = ceb::matching::compare_tax(&o, Decimal::new(2731, 2)).unwrap();
    assert_eq!(
        (
            found.field.as_str(),
            found.value.as_str(),
            found.other_value.as_str()
        ),
        ("OrderHead/taxTotal", "27.30", "27.31")
    );
}

#[test]
fn the_declaration_carries_the_list() {
    let (inventory, order, _, _) = documents();
    let dto = ceb::to_declaration(&inventory, &order, &parties()).unwrap();
    let json = serde_json::to_value(&dto).unwrap();
    assert_eq!(json["procedure"], "9610");
    assert_eq!(json["dispatch_country"], "JP");
    assert_eq!(json["invoice"]["currency"], "CNY");
    assert_eq!(json["invoice"]["amount"], "300");
    assert_eq!(json["items"][1]["origin_country"], "US");
    assert_eq!(json["items"][0]["quantity"]["unit"], "C62");
    assert_eq!(json["transport"]["document"]["kind"], "air_waybill");
    assert_eq!(json["cbec_order"]["order_ref"], "TM2026111100000001");
    assert_eq!(
        json["cbec_order"]["buyer"]["id_number"],
        "11010519491231002X"
    );
    // The ID number goes nowhere else.
    assert_eq!(json.to_string().matches("11010519491231002X").count(), 1);
}

#[test]
fn only_a_list_of_one_article_is_one_indivisible_item() {
    let (mut inventory, order, _, _) = documents();
    let indivisible = |inventory: &Inventory| {
        let dto = ceb::to_declaration(inventory, &order, &parties()).unwrap();
        assert_eq!(
            ceb::declaration::single_article(inventory),
            dto.cbec_order.as_ref().unwrap().indivisible_item
        );
        dto.cbec_order.unwrap().indivisible_item
    };
    // Two item lines: divisible.
    assert!(!indivisible(&inventory));
    // One line of one article (台): one indivisible item.
    inventory.items.truncate(1);
    inventory.items[0].qty = Decimal::ONE;
    assert!(indivisible(&inventory));
    for unit in ["006", "011", "025"] {
        inventory.items[0].unit = unit.into();
        assert!(indivisible(&inventory), "{unit}");
    }
    // Two of it, a kilogram of goods, or a box of articles: divisible.
    inventory.items[0].unit = "001".into();
    inventory.items[0].qty = Decimal::TWO;
    assert!(!indivisible(&inventory));
    inventory.items[0].qty = Decimal::ONE;
    for unit in ["035", "120", "140"] {
        inventory.items[0].unit = unit.into();
        assert!(!indivisible(&inventory), "{unit}");
    }
}

#[test]
fn codes_without_an_iso_equivalent_are_refused_by_their_path() {
    let (mut inventory, order, _, _) = documents();
    inventory.items[1].country = ceb::codes::country("701").unwrap();
    inventory.items[0].unit = "999".into();
    let errors = ceb::to_declaration(&inventory, &order, &parties()).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["InventoryList[1]/unit", "InventoryList[2]/country"]);
}

#[test]
fn every_unit_maps_to_a_unece_unit_in_force() {
    let reference = reference::ReferenceData::embedded();
    let on = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
    assert!(ceb::declaration::units().len() >= 30);
    for (code, unece) in ceb::declaration::units() {
        assert!(
            code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
            "{code}"
        );
        assert!(
            matches!(
                reference.lookup(reference::CodeListKind::Unit, unece, on),
                reference::Lookup::InForce(_)
            ),
            "{code} → {unece}"
        );
    }
}

#[test]
fn a_bonded_list_becomes_a_declaration_the_platform_accepts() {
    let (mut inventory, order, _, _) = documents();
    // 1210: goods leave a bonded zone's warehouse; the list's country is 142 and there is no
    // carrier's document.
    inventory.trade_mode = "1210".into();
    inventory.traf_mode = "Y".into();
    inventory.traf_no = None;
    inventory.voyage_no = None;
    inventory.bill_no = None;
    inventory.country = ceb::codes::country("142").unwrap();
    inventory.ems_no = Some("T2244W000001".into());
    let dto = ceb::to_declaration(&inventory, &order, &parties()).unwrap();
    let document = dto.transport.as_ref().unwrap().document.as_ref().unwrap();
    assert_eq!(document.kind.as_deref(), Some("road_consignment_note"));
    assert_eq!(document.number.as_deref(), Some("YT2026111100000001"));
    let ctx = domain::ParseContext {
        reference: reference::ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 11).unwrap(),
    };
    let declaration = dto.parse(&ctx).unwrap_or_else(|e| panic!("{e:#?}"));
    let problems = domain::rules::check_declaration(&declaration, &ctx);
    assert!(problems.is_empty(), "{problems:#?}");
}

fn cancellation_and_return() -> (ceb::Cancellation, ceb::Return) {
    let Ok(Message::Cancellations(c)) = ceb::parse(&flow("CEB623Message.xml")) else {
        panic!()
    };
    let Ok(Message::Returns(r)) = ceb::parse(&flow("CEB625Message.xml")) else {
        panic!()
    };
    (c.documents[0].clone(), r.documents[0].clone())
}

#[test]
fn a_cancellation_and_a_return_are_compared_with_their_list() {
    use ceb::matching::{compare_cancellation, compare_return, returned_value};
    let (inventory, ..) = documents();
    let (mut cancellation, mut refund) = cancellation_and_return();
    assert_eq!(compare_cancellation(&cancellation, &inventory), vec![]);
    assert_eq!(compare_return(&refund, &inventory), vec![]);
    // The phone (item 2, 1 × 101.00) goes back: 101.00 to credit.
    assert_eq!(returned_value(&refund, &inventory), Decimal::new(10100, 2));

    cancellation.agent_code.push('9');
    cancellation.buyer_id_number.0 = "440304198001011239".into();
    let found = named(&compare_cancellation(&cancellation, &inventory));
    assert_eq!(
        found,
        [
            (
                Document::Cancellation,
                "agentCode".into(),
                Document::Inventory,
                "InventoryHead/agentCode".into()
            ),
            (
                Document::Cancellation,
                "buyerIdNumber".into(),
                Document::Inventory,
                "InventoryHead/buyerIdNumber".into()
            ),
        ]
    );

    refund.order_no.push('9');
    refund.items[0].qty = Decimal::new(2, 0);
    refund.items[0].gcode = "8517140000".into();
    let mut unknown = refund.items[0].clone();
    unknown.gnum = 7;
    refund.items.push(unknown);
    let found = named(&compare_return(&refund, &inventory));
    let expected: Vec<(Document, String, Document, String)> = [
        ("InvtRefundHead/orderNo", "InventoryHead/orderNo"),
        ("InvtRefundList[1]/gcode", "InventoryList[2]/gcode"),
        ("InvtRefundList[1]/qty", "InventoryList[2]/qty"),
        ("InvtRefundList[2]/gnum", "InventoryList (gnum)"),
    ]
    .into_iter()
    .map(|(a, b)| {
        (
            Document::Return,
            a.to_owned(),
            Document::Inventory,
            b.to_owned(),
        )
    })
    .collect();
    assert_eq!(found, expected);
    // No more than the list cleared is credited back.
    assert_eq!(returned_value(&refund, &inventory), Decimal::new(10100, 2));
}

#[test]
fn a_partial_return_credits_its_share_to_the_fen() {
    use ceb::matching::returned_value;
    let (inventory, ..) = documents();
    let (_, mut refund) = cancellation_and_return();
    // One of the two laptops (item 1: 2 × 99.50 = 199.00).
    refund.items[0].gnum = 1;
    refund.items[0].gcode = "8471300000".into();
    assert_eq!(returned_value(&refund, &inventory), Decimal::new(9950, 2));
    // A third of an item of 100.00 is 33.33 (half-up to the fen).
    let mut odd = inventory.clone();
    odd.items[0].qty = Decimal::new(3, 0);
    odd.items[0].total_price = Decimal::new(100, 0);
    assert_eq!(returned_value(&refund, &odd), Decimal::new(3333, 2));
}

#[test]
fn what_a_declaration_cannot_carry_is_refused_by_the_lists_path() {
    let (mut inventory, order, _, _) = documents();
    // The list allows 5 decimals in a price, a declaration 4.
    inventory.items[0].price = Decimal::new(9_950_001, 5);
    inventory.items[1].qty = Decimal::from(domain::limits::QUANTITY_MAX) + Decimal::ONE;
    let errors = ceb::to_declaration(&inventory, &order, &parties()).unwrap_err();
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("InventoryList[1]/price", "too_many_decimals"),
            ("InventoryList[2]/qty", "out_of_range")
        ]
    );
    // At the limits, the declaration is made.
    inventory.items[0].price = Decimal::new(995_001, 4);
    inventory.items[1].qty = Decimal::from(domain::limits::QUANTITY_MAX);
    assert!(ceb::to_declaration(&inventory, &order, &parties()).is_ok());
}
