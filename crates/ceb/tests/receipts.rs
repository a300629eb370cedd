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
            let original = document_receipt(receipt, status);
            let rendered = render(&original);
            if status.allowed_in(receipt) {
                let xml = rendered.unwrap();
                assert_eq!(read(xml.as_bytes()).unwrap(), original);
                assert_valid(&xml);
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
    let bills = Receipt::TaxBills {
        guid: GUID.into(),
        bills: vec![bill],
    };
    let xml = render(&bills).unwrap();
    assert_eq!(read(xml.as_bytes()).unwrap(), bills);
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
    let Receipt::FormatError { error: again, .. } = read(xml.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(again.ori_biz_message.as_bytes(), original);
    assert!(
        again
            .info
            .starts_with("CEB311Message/@guid: is required / 必填项不能为空"),
        "{}",
        again.info
    );
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

#[test]
fn receipts_built_from_the_flow_documents_validate() {
    use ceb::Message;
    let flow = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test_data/flow")
                .join(name),
        )
        .unwrap()
    };
    let answer = |keys: DocumentReturn| DocumentReturn {
        guid: GUID.into(),
        status: Some(ReturnStatus::Accepted),
        time: Some(time()),
        ..keys
    };
    const PRE_NO: &str = "B20261111000000001";
    let receipts = [
        ("CEB311Message.xml", ReceiptType::Order),
        ("CEB411Message.xml", ReceiptType::Payment),
        ("CEB511Message.xml", ReceiptType::Waybill),
        ("CEB621Message.xml", ReceiptType::Inventory),
        ("CEB623Message.xml", ReceiptType::Cancellation),
        ("CEB625Message.xml", ReceiptType::Return),
    ];
    for (name, receipt) in receipts {
        let message = ceb::parse(&flow(name)).unwrap();
        assert_eq!(ReceiptType::answering(message.message_type()), receipt);
        let keys = match &message {
            Message::Orders(e) => DocumentReturn::order(&e.documents[0]),
            Message::Payments(e) => DocumentReturn::payment(&e.documents[0]),
            Message::Waybills(e) => DocumentReturn::waybill(&e.documents[0]),
            Message::Inventories(e) => DocumentReturn::inventory(&e.documents[0], PRE_NO),
            Message::Cancellations(e) => DocumentReturn::cancellation(&e.documents[0], PRE_NO),
            Message::Returns(e) => DocumentReturn::refund(&e.documents[0], PRE_NO),
        };
        let xml = render(&Receipt::Documents {
            receipt,
            guid: GUID.into(),
            returns: vec![answer(keys)],
        })
        .unwrap_or_else(|e| panic!("{name}: {e:#?}"));
        assert!(xml.contains("<returnInfo>海关入库</returnInfo>"), "{xml}");
        assert_valid(&xml);
    }
}

#[test]
fn returns_per_receipt_at_the_limit_and_one_over() {
    let with = |n: usize| {
        let Receipt::Documents { returns, .. } =
            document_receipt(ReceiptType::Payment, ReturnStatus::Accepted)
        else {
            unreachable!()
        };
        Receipt::Documents {
            receipt: ReceiptType::Payment,
            guid: GUID.into(),
            returns: vec![returns[0].clone(); n],
        }
    };
    assert_valid(&render(&with(RETURNS_MAX)).unwrap());
    let errors = render(&with(RETURNS_MAX + 1)).unwrap_err();
    assert_eq!(errors[0].path, "CEB412Message/PaymentReturn");
}

#[test]
fn a_format_errors_info_is_cut_to_the_schema_limit() {
    let error = |chars: usize| FormatError {
        guid: GUID.into(),
        status: -1,
        info: "x".repeat(chars),
        time: time(),
        ori_cop_msg_id: String::new(),
        ori_message_type: "Unknown".into(),
        ori_biz_message: "<not>xml & such".into(),
    };
    for chars in [FORMAT_INFO_CHARS_MAX, FORMAT_INFO_CHARS_MAX + 1] {
        let xml = render(&Receipt::FormatError {
            guid: GUID.into(),
            error: error(chars),
        })
        .unwrap();
        assert_valid(&xml);
        let expected = if chars > FORMAT_INFO_CHARS_MAX {
            format!(">{}…<", "x".repeat(FORMAT_INFO_CHARS_MAX - 1))
        } else {
            format!(">{}<", "x".repeat(FORMAT_INFO_CHARS_MAX))
        };
        assert!(xml.contains(&expected));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Whatever a refusal's text holds, the receipt is well-formed XML carrying it.
    #[test]
    fn any_text_is_carried_by_a_well_formed_receipt(info in "\\PC{1,200}") {
        let mut receipt = document_receipt(ReceiptType::Order, ReturnStatus::Refused);
        if let Receipt::Documents { returns, .. } = &mut receipt {
            returns[0].info = info.clone();
        }
        let xml = render(&receipt).unwrap();
        let tree = ceb::xml::parse(xml.as_bytes()).unwrap();
        let info_element = &tree.root.children[0].children.last().unwrap();
        proptest::prop_assert_eq!(&info_element.name, "returnInfo");
        proptest::prop_assert_eq!(&info_element.text, info.trim());
    }
}

#[test]
fn the_standards_list_receipt_sample_reads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/samples/CEB622Message.xml");
    let Receipt::Documents {
        receipt,
        guid,
        returns,
    } = read(&std::fs::read(path).unwrap()).unwrap()
    else {
        panic!("a list receipt")
    };
    assert_eq!(
        (receipt, guid.as_str(), returns.len()),
        (ReceiptType::Inventory, GUID, 10)
    );
    let first = &returns[0];
    assert_eq!(first.status, Some(ReturnStatus::Stored));
    assert_eq!(first.info, "暂存");
    assert_eq!(first.pre_no.as_deref(), Some("B20160512000001882"));
    assert_eq!(
        first.time,
        NaiveDate::from_ymd_opt(2016, 5, 12)
            .unwrap()
            .and_hms_milli_opt(10, 26, 46, 1)
    );
}

#[test]
fn a_receipt_that_is_not_what_the_schema_says_is_refused_by_path() {
    let xml = render(&document_receipt(
        ReceiptType::Inventory,
        ReturnStatus::Released,
    ))
    .unwrap();
    let cases = [
        (
            "<returnStatus>800<",
            "<returnStatus>801<",
            "CEB622Message/InventoryReturn[1]/returnStatus",
        ),
        (
            "<preNo>B20161111000000001<",
            "<preNo>B2016<",
            "CEB622Message/InventoryReturn[1]/preNo",
        ),
        (
            "<returnTime>20261111000001250<",
            "<returnTime>20261311000001250<",
            "CEB622Message/InventoryReturn[1]/returnTime",
        ),
        (
            "<copNo>NBBH20160308005</copNo>",
            "",
            "CEB622Message/InventoryReturn[1]/copNo",
        ),
    ];
    for (from, to, path) in cases {
        let errors = read(xml.replacen(from, to, 1).as_bytes()).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            [path]
        );
    }
    assert_eq!(read(b"<x/>").unwrap_err()[0].path, "/");
}
