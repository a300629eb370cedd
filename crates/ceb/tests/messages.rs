//! Reading CEB messages: the official samples, the schema's checks named by path, the limits at
//! their edges, hostile XML, and arbitrary bytes.

use std::path::Path;

use ceb::{DEPTH_MAX, DOCUMENTS_MAX, ITEMS_MAX, MESSAGE_BYTES_MAX, Message, MessageType};
use domain::problem::ErrorCode;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn read(dir: &str, name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data")
            .join(dir)
            .join(name),
    )
    .unwrap()
}

fn paths(bytes: &[u8]) -> Vec<(String, &'static str)> {
    ceb::parse(bytes)
        .unwrap_err()
        .errors
        .into_iter()
        .map(|e| (e.path, e.code.as_str()))
        .collect()
}

#[test]
fn the_official_payment_and_waybill_samples_read() {
    let Ok(Message::Payments(payments)) =
        ceb::parse(read("samples", "CEB411Message.xml").as_bytes())
    else {
        panic!("the CEB411 sample reads")
    };
    assert_eq!(payments.documents.len(), 10);
    assert_eq!(payments.base_transfer.cop_code, "1101180326");
    assert_eq!(payments.base_transfer.dxp_id, "DXPLGS0000000001");
    assert_eq!(payments.documents[0].amount_paid, Decimal::new(19050, 0));
    assert_eq!(payments.documents[0].currency.iso, "CNY");
    assert_eq!(
        format!("{:?}", payments.documents[0].payer_id_number),
        "IdNumber(..)"
    );
    let Ok(Message::Waybills(waybills)) =
        ceb::parse(read("samples", "CEB511Message.xml").as_bytes())
    else {
        panic!("the CEB511 sample reads")
    };
    assert_eq!(waybills.documents[0].logistics_no, "L201603081138007");
    assert_eq!(waybills.documents[0].freight, Some(Decimal::new(5000, 0)));
}

#[test]
fn the_official_order_sample_is_refused_for_its_arithmetic_by_the_field() {
    let refusal = ceb::parse(read("samples", "CEB311Message.xml").as_bytes()).unwrap_err();
    assert!(refusal.schema_valid);
    assert_eq!(refusal.message_type, Some(MessageType::Order));
    // Item 2 of each of the 6 orders: 200 × 10 with a total price of 12000.
    let expected: Vec<String> = (1..=6)
        .map(|i| format!("CEB311Message/Order[{i}]/OrderList[2]/totalPrice"))
        .collect();
    let found: Vec<&str> = refusal.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(found, expected);
    let first = &refusal.errors[0];
    assert_eq!(first.code, ErrorCode::AmountMismatch);
    assert!(
        first.message_en.contains("12000") && first.message_en.contains("200 × 10 = 2000.00"),
        "{first}"
    );
    assert!(first.message_zh.contains("12000") && first.message_zh.contains("2000"));
}

#[test]
fn the_official_list_sample_is_refused_for_its_arithmetic_by_the_field() {
    let refusal = ceb::parse(read("samples", "CEB621Message.xml").as_bytes()).unwrap_err();
    assert!(refusal.schema_valid);
    let found: Vec<&str> = refusal.errors.iter().map(|e| e.path.as_str()).collect();
    // Item 1: 100 × 20 with a total of 20; item 2: 200 × 60 with a total of 12; in all 10 lists.
    let expected: Vec<String> = (1..=10)
        .flat_map(|i| {
            [1, 2].map(|n| format!("CEB621Message/Inventory[{i}]/InventoryList[{n}]/totalPrice"))
        })
        .collect();
    assert_eq!(found, expected);
    let second = &refusal.errors[1];
    assert!(
        second
            .message_en
            .contains("is 12.00 but qty × price is 200 × 60 = 12000.00"),
        "{second}"
    );
}

#[test]
fn read_answers_document_by_document() {
    let answered = ceb::read(read("samples", "CEB311Message.xml").as_bytes()).unwrap();
    let Message::Orders(orders) = &answered.message else {
        panic!()
    };
    assert_eq!(orders.documents.len(), 6);
    assert!(!answered.is_clean());
    for (i, problems) in answered.problems.iter().enumerate() {
        let found: Vec<&str> = problems.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            found,
            [format!(
                "CEB311Message/Order[{}]/OrderList[2]/totalPrice",
                i + 1
            )]
        );
    }
    // Two orders, the second wrong: the first is clean.
    let text = read("flow", "CEB311Message.xml");
    let start = text.find("\t<Order>").unwrap();
    let end = text.find("\t<BaseTransfer>").unwrap();
    let wrong = text[start..end].replacen("<acturalPaid>332.30<", "<acturalPaid>332.31<", 1);
    let two = format!("{}{}{}", &text[..end], wrong, &text[end..]);
    let answered = ceb::read(two.as_bytes()).unwrap();
    let found: Vec<Vec<&str>> = answered
        .problems
        .iter()
        .map(|p| p.iter().map(|e| e.path.as_str()).collect())
        .collect();
    assert_eq!(
        found,
        [vec![], vec!["CEB311Message/Order[2]/OrderHead/acturalPaid"]]
    );
    let refusal = ceb::parse(two.as_bytes()).unwrap_err();
    assert!(refusal.schema_valid);
    assert!(
        refusal.errors[0].message_en.contains("332.31")
            && refusal.errors[0].message_en.contains("332.30")
    );
}

#[test]
fn a_receipt_is_not_a_message_read_here() {
    assert_eq!(
        paths(read("samples", "CEB622Message.xml").as_bytes()),
        [("/".to_owned(), "invalid_format")]
    );
}

#[test]
fn every_flow_message_reads_with_any_prefix() {
    // The fixtures use the default namespace (311), `pay:` (411) and `ceb:` (the rest).
    for (name, kind, count) in [
        ("CEB311Message.xml", MessageType::Order, 1),
        ("CEB411Message.xml", MessageType::Payment, 1),
        ("CEB511Message.xml", MessageType::Waybill, 1),
        ("CEB621Message.xml", MessageType::Inventory, 1),
        ("CEB623Message.xml", MessageType::Cancellation, 1),
        ("CEB625Message.xml", MessageType::Return, 1),
    ] {
        let message = ceb::parse(read("flow", name).as_bytes())
            .unwrap_or_else(|r| panic!("{name}: {:#?}", r.errors));
        assert_eq!(message.message_type(), kind);
        let documents = match &message {
            Message::Orders(e) => e.documents.len(),
            Message::Payments(e) => e.documents.len(),
            Message::Waybills(e) => e.documents.len(),
            Message::Inventories(e) => e.documents.len(),
            Message::Cancellations(e) => e.documents.len(),
            Message::Returns(e) => e.documents.len(),
        };
        assert_eq!(documents, count, "{name}");
    }
    let Ok(Message::Orders(orders)) = ceb::parse(read("flow", "CEB311Message.xml").as_bytes())
    else {
        panic!()
    };
    let order = &orders.documents[0];
    assert_eq!(order.actural_paid, Decimal::new(33230, 2));
    assert_eq!(order.items[1].country.iso_alpha2, Some("US"));
    let Ok(Message::Returns(returns)) = ceb::parse(read("flow", "CEB625Message.xml").as_bytes())
    else {
        panic!()
    };
    assert_eq!(returns.documents[0].items[0].gnum, 2);
}

fn list() -> String {
    read("flow", "CEB621Message.xml")
}

/// The flow list with `from` replaced by `to` (once, and it must be there).
fn list_with(from: &str, to: &str) -> String {
    let text = list();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn what_the_schema_checks_is_named_by_path() {
    const HEAD: &str = "CEB621Message/Inventory[1]/InventoryHead";
    const ITEM1: &str = "CEB621Message/Inventory[1]/InventoryList[1]";
    let long = format!("<ceb:orderNo>{}<", "9".repeat(61));
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "<ceb:appType>1<",
            "<ceb:appType>4<",
            format!("{HEAD}/appType"),
            "unknown_code",
        ),
        (
            "<ceb:ieFlag>I<",
            "<ceb:ieFlag>E<",
            format!("{HEAD}/ieFlag"),
            "invalid_format",
        ),
        (
            "<ceb:buyerIdType>1<",
            "<ceb:buyerIdType>2<",
            format!("{HEAD}/buyerIdType"),
            "unknown_code",
        ),
        (
            "<ceb:tradeMode>9610<",
            "<ceb:tradeMode>0110<",
            format!("{HEAD}/tradeMode"),
            "unknown_code",
        ),
        (
            "<ceb:currency>142<",
            "<ceb:currency>502<",
            format!("{HEAD}/currency"),
            "invalid_format",
        ),
        (
            "<ceb:customsCode>2200<",
            "<ceb:customsCode>22000<",
            format!("{HEAD}/customsCode"),
            "invalid_format",
        ),
        (
            "<ceb:declTime>20261111<",
            "<ceb:declTime>20261131<",
            format!("{HEAD}/declTime"),
            "invalid_format",
        ),
        (
            "<ceb:appTime>20261111000400<",
            "<ceb:appTime>20261111250000<",
            format!("{HEAD}/appTime"),
            "invalid_format",
        ),
        (
            "<ceb:orderNo>TM2026111100000001<",
            &long,
            format!("{HEAD}/orderNo"),
            "too_long",
        ),
        (
            "<ceb:orderNo>TM2026111100000001<",
            "<ceb:orderNo><",
            format!("{HEAD}/orderNo"),
            "required",
        ),
        (
            "<ceb:freight>10.00<",
            "<ceb:freight>10.000001<",
            format!("{HEAD}/freight"),
            "too_many_decimals",
        ),
        (
            "<ceb:freight>10.00<",
            "<ceb:freight>-10<",
            format!("{HEAD}/freight"),
            "out_of_range",
        ),
        (
            "<ceb:freight>10.00<",
            "<ceb:freight>1e3<",
            format!("{HEAD}/freight"),
            "invalid_format",
        ),
        (
            "<ceb:freight>10.00<",
            "<ceb:freight>12345678901234567890<",
            format!("{HEAD}/freight"),
            "too_long",
        ),
        (
            "<ceb:packNo>1<",
            "<ceb:packNo>one<",
            format!("{HEAD}/packNo"),
            "invalid_format",
        ),
        (
            "<ceb:country>116</ceb:country>\n\t\t\t<ceb:freight>",
            "<ceb:country>000</ceb:country>\n\t\t\t<ceb:freight>",
            format!("{HEAD}/country"),
            "unknown_code",
        ),
        (
            "\t\t\t<ceb:assureCode>3301960005</ceb:assureCode>\n",
            "",
            format!("{HEAD}/assureCode"),
            "required",
        ),
        (
            "<ceb:ieFlag>I</ceb:ieFlag>",
            "<ceb:ieFlag>I</ceb:ieFlag><ceb:ieFlag>I</ceb:ieFlag>",
            format!("{HEAD}/ieFlag"),
            "duplicate",
        ),
        (
            "<ceb:ieFlag>I</ceb:ieFlag>",
            "<ceb:ieFlag>I</ceb:ieFlag><ceb:colour>red</ceb:colour>",
            format!("{HEAD}/colour"),
            "unknown_field",
        ),
        (
            "<ceb:ieFlag>I</ceb:ieFlag>",
            "<ceb:ieFlag>I</ceb:ieFlag><ieFlagX xmlns=\"urn:other\">I</ieFlagX>",
            format!("{HEAD}/ieFlagX"),
            "unknown_field",
        ),
        (
            "<ceb:copNo>AG2026111100000001</ceb:copNo>\n\t\t\t<ceb:assureCode>3301960005</ceb:assureCode>",
            "<ceb:assureCode>3301960005</ceb:assureCode><ceb:copNo>AG2026111100000001</ceb:copNo>",
            format!("{HEAD}/copNo"),
            "invalid_format",
        ),
        (
            "<ceb:gcode>8471300000<",
            "<ceb:gcode>84713000<",
            format!("{ITEM1}/gcode"),
            "invalid_format",
        ),
        (
            "<ceb:gnum>1<",
            "<ceb:gnum>3<",
            format!("{ITEM1}/gnum"),
            "invalid_format",
        ),
        (
            "<ceb:totalPrice>199<",
            "<ceb:totalPrice>199.01<",
            format!("{ITEM1}/totalPrice"),
            "amount_mismatch",
        ),
        (
            "<ceb:netWeight>2.9<",
            "<ceb:netWeight>3.3<",
            format!("{HEAD}/netWeight"),
            "mass_inconsistent",
        ),
        (
            "<ceb:copCode>3301960005</ceb:copCode>",
            "",
            "CEB621Message/BaseTransfer/copCode".into(),
            "required",
        ),
        (
            "guid=\"0B6E3C8A-1D2F-4E5A-9B7C-2026111100D1\"",
            "guid=\"short\"",
            "CEB621Message/@guid".into(),
            "invalid_format",
        ),
        (
            " version=\"1.0\" xmlns",
            " xmlns",
            "CEB621Message/@version".into(),
            "required",
        ),
    ];
    for (from, to, path, code) in cases {
        let text = list_with(from, to);
        assert!(
            ceb::parse(text.as_bytes()).is_err(),
            "{path} is not refused"
        );
        let found = paths(text.as_bytes());
        assert_eq!(found, [(path.clone(), code)], "{path}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = list()
        .replacen("<ceb:appType>1<", "<ceb:appType>9<", 1)
        .replacen("<ceb:qty>1<", "<ceb:qty>x<", 1)
        .replacen("<ceb:totalPrice>199<", "<ceb:totalPrice>198<", 1);
    let refusal = ceb::parse(text.as_bytes()).unwrap_err();
    assert!(!refusal.schema_valid);
    let found: Vec<&str> = refusal.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        found,
        [
            "CEB621Message/Inventory[1]/InventoryList[2]/qty",
            "CEB621Message/Inventory[1]/InventoryHead/appType",
        ]
    );
    // (The arithmetic of a list is checked once the list reads whole: item 1's total is not
    // named while item 2's quantity is unreadable.) Each in both languages.
    assert!(
        refusal
            .errors
            .iter()
            .all(|e| !e.message_en.is_empty() && !e.message_zh.is_empty())
    );
    // The arithmetic of a list that reads is reported beside the schema's problems.
    let text = list()
        .replacen("<ceb:totalPrice>199<", "<ceb:totalPrice>198<", 1)
        .replacen("<ceb:copName>测试报关有限公司</ceb:copName>", "", 1);
    let found = paths(text.as_bytes());
    assert_eq!(
        found,
        [
            ("CEB621Message/BaseTransfer/copName".to_owned(), "required"),
            (
                "CEB621Message/Inventory[1]/InventoryList[1]/totalPrice".to_owned(),
                "amount_mismatch"
            ),
        ]
    );
}

#[test]
fn the_signature_is_skipped_but_required_where_the_schema_requires_it() {
    let text = list();
    let start = text.find("\t<ds:Signature").unwrap();
    let end = text.find("</ds:Signature>").unwrap() + "</ds:Signature>\n".len();
    let unsigned = format!("{}{}", &text[..start], &text[end..]);
    assert_eq!(
        paths(unsigned.as_bytes()),
        [("CEB621Message/Signature".to_owned(), "required")]
    );
    // An order may come unsigned (the flow's is).
    assert!(ceb::parse(read("flow", "CEB311Message.xml").as_bytes()).is_ok());
}

fn with_documents(n: usize) -> String {
    let text = list();
    let start = text.find("\t<ceb:Inventory>").unwrap();
    let end = text.find("\t<ceb:BaseTransfer>").unwrap();
    format!(
        "{}{}{}",
        &text[..start],
        text[start..end].repeat(n),
        &text[end..]
    )
}

#[test]
fn documents_per_message_at_the_limit_and_one_over() {
    let Ok(Message::Inventories(lists)) = ceb::parse(with_documents(DOCUMENTS_MAX).as_bytes())
    else {
        panic!("{DOCUMENTS_MAX} lists read")
    };
    assert_eq!(lists.documents.len(), DOCUMENTS_MAX);
    assert_eq!(
        paths(with_documents(DOCUMENTS_MAX + 1).as_bytes()),
        [("CEB621Message/Inventory".to_owned(), "too_many")]
    );
}

fn with_items(n: usize) -> String {
    let text = list();
    let start = text.find("\t\t<ceb:InventoryList>").unwrap();
    let second = text[start + 1..].find("\t\t<ceb:InventoryList>").unwrap() + start + 1;
    let item = &text[start..second];
    let items: String = (1..=n)
        .map(|i| item.replacen("<ceb:gnum>1<", &format!("<ceb:gnum>{i}<"), 1))
        .collect();
    let end = text.find("\t</ceb:Inventory>").unwrap();
    format!("{}{}{}", &text[..start], items, &text[end..])
}

#[test]
fn items_per_document_at_the_limit_and_one_over() {
    let Ok(Message::Inventories(lists)) = ceb::parse(with_items(ITEMS_MAX).as_bytes()) else {
        panic!("{ITEMS_MAX} items read")
    };
    assert_eq!(lists.documents[0].items.len(), ITEMS_MAX);
    assert_eq!(
        paths(with_items(ITEMS_MAX + 1).as_bytes()),
        [(
            "CEB621Message/Inventory[1]/InventoryList".to_owned(),
            "too_many"
        )]
    );
}

#[test]
fn nesting_at_the_limit_and_one_over() {
    // ExtendMessage's content is free: nest inside it. Message (1), ExtendMessage (2),
    // Message (3), then `depth - 3` more.
    let nested = |depth: usize| {
        let inner = depth - 3;
        let open = "<x>".repeat(inner);
        let close = "</x>".repeat(inner);
        list_with(
            "\t<ds:Signature",
            &format!(
                "<ceb:ExtendMessage><ceb:name>n</ceb:name><ceb:version>1</ceb:version><ceb:Message>{open}{close}</ceb:Message></ceb:ExtendMessage>\t<ds:Signature"
            ),
        )
    };
    assert!(ceb::parse(nested(DEPTH_MAX).as_bytes()).is_ok());
    assert_eq!(
        paths(nested(DEPTH_MAX + 1).as_bytes()),
        [("/".to_owned(), "too_long")]
    );
}

#[test]
fn message_bytes_at_the_limit_and_one_over() {
    let text = list();
    let pad = |total: usize| {
        let mut padded = text.clone();
        padded.push_str(&" ".repeat(total - text.len()));
        padded
    };
    assert!(ceb::parse(pad(MESSAGE_BYTES_MAX).as_bytes()).is_ok());
    assert_eq!(
        paths(pad(MESSAGE_BYTES_MAX + 1).as_bytes()),
        [("/".to_owned(), "too_long")]
    );
}

#[test]
fn a_dtd_and_unknown_entities_are_refused() {
    let xxe = list().replacen(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
        1,
    );
    let refusal = ceb::parse(xxe.as_bytes()).unwrap_err();
    assert_eq!(refusal.errors[0].path, "/");
    assert!(refusal.errors[0].message_en.contains("DTD"));
    let entity = list_with("<ceb:agentName>测试报关有限公司<", "<ceb:agentName>&e;<");
    assert!(
        ceb::parse(entity.as_bytes()).unwrap_err().errors[0]
            .message_en
            .contains("&e;")
    );
    // XML's own entities and character references read.
    let escaped = list_with(
        "<ceb:agentName>测试报关有限公司<",
        "<ceb:agentName>A&amp;B &#x6D4B;<",
    );
    let Ok(Message::Inventories(lists)) = ceb::parse(escaped.as_bytes()) else {
        panic!()
    };
    assert_eq!(lists.documents[0].agent_name, "A&B 测");
}

#[test]
fn a_message_outside_the_ceb_namespace_is_refused() {
    let other = list().replace("http://www.chinaport.gov.cn/ceb", "urn:not-ceb");
    assert_eq!(
        paths(other.as_bytes()),
        [("/".to_owned(), "invalid_format")]
    );
}

#[test]
fn every_row_of_the_code_tables_reads() {
    let table = ceb::codes::read_tables().unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(table.countries.len(), 239);
    assert_eq!(table.currencies.len(), 23);
    assert_eq!(ceb::codes::currency("142").unwrap().iso, "CNY");
    assert_eq!(ceb::codes::currency("502").unwrap().iso, "USD");
    assert_eq!(ceb::codes::currency("116").unwrap().iso, "JPY");
    assert_eq!(ceb::codes::country("502").unwrap().iso_alpha2, Some("US"));
    assert_eq!(ceb::codes::country("116").unwrap().iso_alpha2, Some("JP"));
    assert_eq!(ceb::codes::country("142").unwrap().iso_alpha2, Some("CN"));
    assert_eq!(ceb::codes::country("701").unwrap().iso_alpha2, None);
    let refused = ceb::codes::parse_currency("X/currency", "999").unwrap_err();
    assert_eq!(
        (refused.path.as_str(), refused.code),
        ("X/currency", ErrorCode::UnknownCode)
    );
    assert!(refused.message_zh.contains("999"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = ceb::parse(&bytes);
    }

    #[test]
    fn a_message_cut_anywhere_never_panics(cut in 0usize..4000) {
        let text = list();
        let bytes = text.as_bytes();
        let _ = ceb::parse(&bytes[..cut.min(bytes.len())]);
    }

    #[test]
    fn a_message_with_one_byte_changed_never_panics(at in 0usize..4000, byte in any::<u8>()) {
        let mut bytes = list().into_bytes();
        let at = at % bytes.len();
        bytes[at] = byte;
        let _ = ceb::parse(&bytes);
    }

    #[test]
    fn an_item_reads_when_its_total_is_its_quantity_times_price_to_the_fen(
        qty in 1u32..10_000, price_fen in 0u64..10_000_000, off in -1i64..=1,
    ) {
        let price = Decimal::new(price_fen as i64, 2);
        let total = Decimal::from(qty) * price + Decimal::new(off, 2);
        if total < Decimal::ZERO { return Ok(()); }
        let text = list()
            .replacen("<ceb:qty>2<", &format!("<ceb:qty>{qty}<"), 1)
            .replacen("<ceb:price>99.5<", &format!("<ceb:price>{price}<"), 1)
            .replacen("<ceb:totalPrice>199<", &format!("<ceb:totalPrice>{total}<"), 1);
        let result = ceb::parse(text.as_bytes());
        prop_assert_eq!(result.is_ok(), off == 0, "{:?}", result.err().map(|r| r.errors));
    }
}

#[test]
fn elements_per_message_at_the_limit_and_one_over() {
    let text = list();
    // Start tags and empty-element tags, the signature's included (it is counted, then skipped).
    let base = text
        .as_bytes()
        .windows(2)
        .filter(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())
        .count();
    let with = |total: usize| {
        let filler = "<x/>".repeat(total - base - 4);
        list_with(
            "\t<ds:Signature",
            &format!(
                "<ceb:ExtendMessage><ceb:name>n</ceb:name><ceb:version>1</ceb:version><ceb:Message>{filler}</ceb:Message></ceb:ExtendMessage>\t<ds:Signature"
            ),
        )
    };
    assert!(ceb::parse(with(ceb::ELEMENTS_MAX).as_bytes()).is_ok());
    assert_eq!(
        paths(with(ceb::ELEMENTS_MAX + 1).as_bytes()),
        [("/".to_owned(), "too_many")]
    );
}

#[test]
fn subscriptions_at_the_limit_and_one_over() {
    let subscribe = "<ceb:BaseSubscribe><ceb:status>ALL</ceb:status><ceb:dxpMode>DXP</ceb:dxpMode><ceb:dxpAddress>DXPENT0000000009</ceb:dxpAddress></ceb:BaseSubscribe>";
    let with = |n: usize| {
        list_with(
            "\t<ds:Signature",
            &format!("{}\t<ds:Signature", subscribe.repeat(n)),
        )
    };
    assert!(ceb::parse(with(ceb::SUBSCRIPTIONS_MAX).as_bytes()).is_ok());
    assert_eq!(
        paths(with(ceb::SUBSCRIPTIONS_MAX + 1).as_bytes()),
        [("CEB621Message/BaseSubscribe".to_owned(), "too_many")]
    );
    // A subscription is checked like any record.
    let wrong = with(1).replacen(
        "<ceb:dxpMode>DXP</ceb:dxpMode><ceb:dxpAddress>",
        "<ceb:dxpMode>XXX</ceb:dxpMode><ceb:dxpAddress>",
        1,
    );
    assert_eq!(
        paths(wrong.as_bytes()),
        [(
            "CEB621Message/BaseSubscribe[1]/dxpMode".to_owned(),
            "invalid_format"
        )]
    );
}

#[test]
fn whole_numbers_at_their_digit_limit_and_one_over() {
    let max = "9".repeat(ceb::INT_DIGITS_MAX);
    let text = list_with("<ceb:packNo>1<", &format!("<ceb:packNo>{max}<"));
    let Ok(Message::Inventories(lists)) = ceb::parse(text.as_bytes()) else {
        panic!()
    };
    assert_eq!(lists.documents[0].pack_no, 999_999_999);
    let over = list_with("<ceb:packNo>1<", &format!("<ceb:packNo>1{max}<"));
    assert_eq!(
        paths(over.as_bytes()),
        [(
            "CEB621Message/Inventory[1]/InventoryHead/packNo".to_owned(),
            "too_long"
        )]
    );
}
