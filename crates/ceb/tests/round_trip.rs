//! Messages written back (`ceb::write::render`) validate against the schema and read back the
//! same.

use std::path::Path;
use std::process::Command;

use ceb::Message;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn flow(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/flow")
            .join(name),
    )
    .unwrap()
}

/// The flow list's (dummy) signature, put where the schema wants it: `render` does not sign.
fn signed(xml: &str, root: &str) -> String {
    let list = flow("CEB621Message.xml");
    let start = list.find("\t<ds:Signature").unwrap();
    let end = list.find("</ds:Signature>").unwrap() + "</ds:Signature>\n".len();
    xml.replace(
        &format!("</ceb:{root}>"),
        &format!("{}</ceb:{root}>", &list[start..end]),
    )
}

fn assert_valid(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/xsd/ceb-import-202205.xsd");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&file)
        .output()
        .expect("xmllint (Debian's libxml2-utils) must be installed");
    assert!(
        output.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn round_trip(message: &Message) -> String {
    let root = message.message_type().root_name();
    let mut xml = ceb::write::render(message);
    if message.message_type().signature_required() {
        xml = signed(&xml, root);
    }
    let again = ceb::parse(xml.as_bytes()).unwrap_or_else(|r| panic!("{:#?}\n{xml}", r.errors));
    assert_eq!(&again, message);
    xml
}

#[test]
fn every_flow_message_is_written_back_valid_and_reads_the_same() {
    for name in [
        "CEB311Message.xml",
        "CEB411Message.xml",
        "CEB511Message.xml",
        "CEB621Message.xml",
        "CEB623Message.xml",
        "CEB625Message.xml",
    ] {
        let message = ceb::parse(flow(name).as_bytes()).unwrap();
        assert_valid(&round_trip(&message));
    }
}

#[test]
fn the_official_samples_that_read_are_written_back_the_same() {
    for name in ["CEB411Message.xml", "CEB511Message.xml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/samples")
            .join(name);
        let message = ceb::parse(&std::fs::read(path).unwrap()).unwrap();
        assert_valid(&round_trip(&message));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any order whose arithmetic holds, with text that needs escaping, reads back the same.
    #[test]
    fn an_order_with_any_amounts_and_text_reads_back_the_same(
        qty in 1u32..100_000,
        price in 0i64..100_000_000,
        freight in 0i64..1_000_000,
        name in "[a-zA-Z0-9 <>&'\"张三李四]{1,60}",
    ) {
        let Ok(Message::Orders(mut orders)) = ceb::parse(flow("CEB311Message.xml").as_bytes()) else {
            panic!()
        };
        let order = &mut orders.documents[0];
        let price = Decimal::new(price, 3);
        order.items.truncate(1);
        order.items[0].qty = Decimal::from(qty);
        order.items[0].price = price;
        order.items[0].total_price = (Decimal::from(qty) * price).normalize();
        order.goods_value = order.items[0].total_price;
        order.freight = Decimal::new(freight, 2).normalize();
        order.actural_paid = (order.goods_value + order.freight - order.discount + order.tax_total).normalize();
        order.buyer_name = name.trim().to_owned();
        if order.buyer_name.is_empty() || order.actural_paid < Decimal::ZERO {
            return Ok(());
        }
        let message = Message::Orders(orders);
        round_trip(&message);
    }
}
