//! One consistent set of messages (`test_data/flow`: an order, its payment, its waybill, the
//! list, a cancellation and a return, each valid against the schema) through the reader, the
//! three-document comparison and the declaration.

use std::path::Path;

use ceb::matching::{Disagreement, Document, compare};
use ceb::{Inventory, Message, Order, Payment, Waybill};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn flow(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/flow").join(name)).unwrap()
}

fn documents() -> (Inventory, Order, Payment, Waybill) {
    let Ok(Message::Inventories(i)) = ceb::parse(&flow("CEB621Message.xml")) else { panic!() };
    let Ok(Message::Orders(o)) = ceb::parse(&flow("CEB311Message.xml")) else { panic!() };
    let Ok(Message::Payments(p)) = ceb::parse(&flow("CEB411Message.xml")) else { panic!() };
    let Ok(Message::Waybills(w)) = ceb::parse(&flow("CEB511Message.xml")) else { panic!() };
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
