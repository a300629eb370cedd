//! Every receipt rendered validates against the 202205 schema (Debian's `xmllint`, from
//! libxml2-utils; without it these tests fail, they never skip).

use std::path::Path;
use std::process::Command;

use ceb::receipt::*;
use chrono::NaiveDate;
use rust_decimal::Decimal;

const GUID: &str = "4CDE1CFD-EDED-46B1-946C-B8022E42FC94";

fn assert_valid(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.xml");
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

fn time() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 11)
        .unwrap()
        .and_hms_milli_opt(0, 0, 1, 250)
        .unwrap()
}

fn base(status: ReturnStatus, info: &str) -> DocumentReturn {
    DocumentReturn {
        guid: GUID.into(),
        status: Some(status),
        time: Some(time()),
        info: info.into(),
        ..DocumentReturn::default()
    }
}

fn document_receipt(receipt: ReceiptType, status: ReturnStatus) -> Receipt {
    let mut r = base(status, "<退单> & \"reasons\"");
    match receipt {
        ReceiptType::Order => {
            r.ebp_code = Some("1105910159".into());
            r.ebc_code = Some("1105910159".into());
            r.order_no = Some("order20160321116421002".into());
        }
        ReceiptType::Payment => {
            r.pay_code = Some("1101110323".into());
            r.pay_transaction_id = Some("P0242250007".into());
        }
        ReceiptType::Waybill => {
            r.logistics_code = Some("1101180326".into());
            r.logistics_no = Some("L201603081138007".into());
        }
        _ => {
            r.customs_code = Some("3700".into());
            r.ebp_code = Some("1101110325".into());
            r.ebc_code = Some("1101110325".into());
            r.agent_code = Some("1105910159".into());
            r.cop_no = Some("NBBH20160308005".into());
            r.pre_no = Some("B20161111000000001".into());
            r.invt_no = Some("37002026I000000001".into());
        }
    }
    Receipt::Documents {
        receipt,
        guid: GUID.into(),
        returns: vec![r.clone(), r],
    }
}

#[test]
fn every_document_receipt_validates_with_every_status_it_carries() {
    use ReturnStatus::*;
    let statuses = [
        Stored,
        Declaring,
        SentToCustoms,
        SendingFailed,
        Refused,
        Accepted,
        ManualReview,
        Concluded,
        Inspection,
        HeldForClearance,
        HeldForAntiSmuggling,
        HeldForLegal,
        HeldOther,
        ReturnedAbroad,
        Released,
        Closed,
        ProcessingError(1),
    ];
    for receipt in [
        ReceiptType::Order,
        ReceiptType::Payment,
        ReceiptType::Waybill,
        ReceiptType::Inventory,
        ReceiptType::Cancellation,
        ReceiptType::Return,
    ] {
        for status in statuses {
            let rendered = render(&document_receipt(receipt, status));
            if status.allowed_in(receipt) {
                assert_valid(&rendered.unwrap());
            } else {
                let errors = rendered.unwrap_err();
                assert!(errors[0].path.ends_with("[1]/returnStatus"), "{errors:?}");
            }
        }
    }
}

#[test]
fn the_validator_refuses_what_the_schema_refuses() {
    let xml = render(&document_receipt(
        ReceiptType::Inventory,
        ReturnStatus::Released,
    ))
    .unwrap()
    .replace("<copNo>", "<nonsense/><copNo>");
    assert!(std::panic::catch_unwind(|| assert_valid(&xml)).is_err());
}

#[test]
fn a_tax_bill_validates() {
    let bill = TaxBill {
        guid: GUID.into(),
        time: time(),
        invt_no: "37002026I000000001".into(),
        tax_no: "37002026I000000001-01".into(),
        customs_tax: Decimal::ZERO,
        value_added_tax: Decimal::new(27300, 3),
        consumption_tax: Decimal::ZERO,
        status: TaxBillStatus::Generated,
        ent_duty_no: None,
        note: Some("跨境电商综合税".into()),
        assure_code: Some("ass201603081155".into()),
        ebc_code: Some("1101110325".into()),
        logistics_code: Some("1101180326".into()),
        agent_code: Some("1105910159".into()),
        customs_code: Some("3700".into()),
        items: vec![TaxBillItem {
            gnum: 1,
            gcode: "8541401000".into(),
            tax_price: Decimal::new(300, 0),
            customs_tax: Decimal::ZERO,
            value_added_tax: Decimal::new(2730, 2),
            consumption_tax: Decimal::ZERO,
        }],
    };
    let xml = render(&Receipt::TaxBills {
        guid: GUID.into(),
        bills: vec![bill],
    })
    .unwrap();
    assert!(
        xml.contains("<valueAddedTax>27.30</valueAddedTax>"),
        "{xml}"
    );
    assert_valid(&xml);
}

#[test]
fn a_format_error_answers_a_refused_message_and_validates() {
    let original = b"<ceb:CEB311Message xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\"/>";
    let refusal = ceb::parse(original).unwrap_err();
    let error = FormatError::from_refusal(&refusal, GUID, original, time());
    assert_eq!(error.ori_message_type, "CEB311Message");
    let xml = render(&Receipt::FormatError {
        guid: GUID.into(),
        error,
    })
    .unwrap();
    assert!(xml.contains("CEB311Message/@guid"), "{xml}");
    assert_valid(&xml);
    // Not XML at all: the message type is Unknown.
    let refusal = ceb::parse(b"not xml").unwrap_err();
    let error = FormatError::from_refusal(&refusal, GUID, b"not xml", time());
    assert_eq!(error.ori_message_type, "Unknown");
    assert_valid(
        &render(&Receipt::FormatError {
            guid: GUID.into(),
            error,
        })
        .unwrap(),
    );
}

#[test]
fn fixed_lengths_are_checked_before_rendering() {
    let mut receipt = document_receipt(ReceiptType::Inventory, ReturnStatus::Accepted);
    if let Receipt::Documents { returns, .. } = &mut receipt {
        returns[1].pre_no = Some("short".into());
        returns[0].guid = "x".into();
    }
    let paths: Vec<String> = render(&receipt)
        .unwrap_err()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        paths,
        [
            "CEB622Message/InventoryReturn[1]/guid",
            "CEB622Message/InventoryReturn[2]/preNo"
        ]
    );
}

#[test]
fn long_return_info_is_cut_to_the_schema_limit() {
    let mut receipt = document_receipt(ReceiptType::Order, ReturnStatus::Refused);
    if let Receipt::Documents { returns, .. } = &mut receipt {
        returns[0].info = "错".repeat(RETURN_INFO_CHARS_MAX + 1);
        returns[1].info = "错".repeat(RETURN_INFO_CHARS_MAX);
    }
    let xml = render(&receipt).unwrap();
    assert_valid(&xml);
    assert!(xml.contains(&format!("{}…", "错".repeat(RETURN_INFO_CHARS_MAX - 1))));
    assert!(xml.contains(&format!(">{}<", "错".repeat(RETURN_INFO_CHARS_MAX))));
}
