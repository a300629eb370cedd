//! The WCO edge against HMRC's schemas and samples (`test_data/hmrc`), the repository's example
//! declarations and the validation fixtures. Schema validation runs Debian's `xmllint`
//! (libxml2-utils, installed by `.ci/run`); without it these tests fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use wco::response::Notification;
use wire::DeclarationDto;
use wire::views::TradeReceiptView;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Validates a message against one of the envelope schemas with xmllint; panics with xmllint's
/// answer if it does not validate, or if xmllint is missing.
fn assert_valid(xml: &str, schema: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(data(&format!("test_data/hmrc/schemas/{schema}")))
        .arg(&file)
        .output()
        .expect("xmllint (Debian's libxml2-utils) must be installed: .ci/run installs it");
    assert!(
        output.status.success(),
        "{schema}: {}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_valid_declaration(xml: &str) {
    assert_valid(xml, "declaration-with-envelope.xsd");
}

fn assert_valid_response(xml: &str) {
    assert_valid(xml, "response-with-envelope.xsd");
}

#[test]
fn the_validator_refuses_what_the_schema_refuses() {
    // The check itself can fail: a declaration with an element the schema does not have.
    let dto: DeclarationDto = serde_json::from_value(example()).unwrap();
    let xml = wco::render_declaration(&dto, None).replace(
        "<TypeCode>IMA</TypeCode>",
        "<TypeCode>IMA</TypeCode><Nonsense/>",
    );
    let result = std::panic::catch_unwind(|| assert_valid_declaration(&xml));
    assert!(result.is_err());
}

fn example() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repository("examples/declaration-import.json")).unwrap(),
    )
    .unwrap()
}

/// The example with every field the JSON form has, on both directions.
fn full_import() -> Value {
    let mut body = example();
    body["kind"] = json!("full");
    body["summary_number"] = json!("220020261000000017");
    body["insurance"] = json!({"kind": "rate", "percent": "0.3"});
    body["other_costs"] =
        json!({"kind": "per_unit", "amount": "2.5", "currency": "USD", "unit": "KGM"});
    body["destination_country"] = json!("CN");
    body["origin_proofs"] = json!([{
        "agreement": "RCEP", "kind": "certificate", "number": "RCEP-MY-2026-0001",
        "issue_date": "2026-10-20", "retroactive": true, "exporter": "Penang Computers Sdn Bhd",
        "country_of_origin": "MY", "direct_consignment_evidence": true,
        "items": [
            {"hs6": "847130", "criterion": "RVC", "quantity": {"value": "5", "unit": "C62"},
             "fob": "1900.00", "fob_currency": "USD", "vnm": "300.00"},
            {"hs6": "847130", "criterion": "WO", "quantity": {"value": "1", "unit": "C62"}}
        ]
    }]);
    body["items"][1]["preference"] =
        json!({"agreement": "RCEP", "proof_number": "RCEP-MY-2026-0001", "proof_item": "1"});
    body["items"][1]["statutory_quantities"] =
        json!([{"value": "5", "unit": "C62"}, {"value": "12.5", "unit": "KGM"}]);
    body["cbec_order"] = json!({
        "order_ref": "TM-2026-1", "platform": "Tmall Global",
        "buyer": {"name": "测试姓名", "id_type": "resident_id", "id_number": "11010519491231002X"},
        "indivisible_item": true
    });
    body
}

fn full_export() -> Value {
    let mut body = full_import();
    body["direction"] = json!("export");
    body["kind"] = json!("summary");
    body["cbec_order"]["buyer"] = json!({"name": "测试姓名", "id_type": "resident_id", "id_hash": "ab".repeat(32), "id_masked": "110105********002X"});
    body
}

/// The validation fixtures (`crates/wire/test_data/validation_cases.json`): the example with
/// fields set or removed.
fn validation_fixtures() -> Vec<(String, Value)> {
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repository("crates/wire/test_data/validation_cases.json"))
            .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for case in cases {
        let mut body = example();
        if let Some(sets) = case.get("set").and_then(Value::as_object) {
            for (pointer, value) in sets {
                set_pointer(&mut body, pointer, value.clone());
            }
        }
        if let Some(removes) = case.get("remove").and_then(Value::as_array) {
            for pointer in removes {
                let pointer = pointer.as_str().unwrap();
                let (parent, last) = pointer.rsplit_once('/').unwrap();
                match body.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(last);
                    }
                    Some(Value::Array(list)) => {
                        list.remove(last.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            }
        }
        out.push((case["name"].as_str().unwrap().to_owned(), body));
    }
    out
}

fn set_pointer(body: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    if body.pointer(parent).is_none() {
        set_pointer(body, parent, json!({}));
    }
    match body.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        Value::Array(list) => {
            let at: usize = last.parse().unwrap();
            while list.len() <= at {
                list.push(json!({}));
            }
            list[at] = value;
        }
        other => *other = json!({ last: value }),
    }
}

fn round_trip(name: &str, body: &Value) -> String {
    let dto: DeclarationDto =
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let xml = wco::render_declaration(&dto, Some("LRN-0001"));
    let back = wco::parse_declaration(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(back.problems, vec![], "{name}: {xml}");
    assert_eq!(back.declaration, dto, "{name}: {xml}");
    assert_eq!(back.functional_reference.as_deref(), Some("LRN-0001"));
    xml
}

#[test]
fn every_example_and_fixture_round_trips_json_to_wco_and_back() {
    let mut count = 0;
    for entry in std::fs::read_dir(repository("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let body: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            round_trip(&path.display().to_string(), &body);
            count += 1;
        }
    }
    for (name, body) in validation_fixtures() {
        // A fixture whose direction or kind is not a known word cannot share TypeCode losslessly
        // (the two are one element); the parser refuses those values anyway.
        let known = |field: &str, words: &[&str]| {
            body.get(field)
                .is_none_or(|v| v.as_str().is_some_and(|s| words.contains(&s)))
        };
        if !known("direction", &["import", "export"])
            || !known("kind", &["ordinary", "summary", "full"])
        {
            continue;
        }
        let Ok(dto) = serde_json::from_value::<DeclarationDto>(body.clone()) else {
            continue; // a fixture about the JSON shape itself (a wrong type): not a declaration.
        };
        // A fractional JSON number is marked with a NUL for the parser to refuse; XML cannot carry
        // a NUL, and an XML message has no JSON numbers to begin with.
        if serde_json::to_string(&dto).unwrap().contains("\\u0000") {
            continue;
        }
        round_trip(&name, &body);
        count += 1;
    }
    round_trip("full import", &full_import());
    round_trip("full export", &full_export());
    assert!(count > 20, "only {count} fixtures");
}

#[test]
fn rendered_declarations_validate_against_hmrc_schema() {
    for (name, body) in [
        ("example", example()),
        ("full import", full_import()),
        ("full export", full_export()),
    ] {
        let xml = round_trip(name, &body);
        assert_valid_declaration(&xml);
    }
}

#[test]
fn the_committed_xml_example_is_the_json_example_rendered() {
    let dto: DeclarationDto = serde_json::from_value(example()).unwrap();
    let rendered = wco::render_declaration(&dto, Some("PE-2026-1107-LRN"));
    // `WCO_BLESS=1 cargo test -p wco --test it committed` writes it after a deliberate change.
    if std::env::var_os("WCO_BLESS").is_some() {
        std::fs::write(repository("examples/declaration-import.xml"), &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(repository("examples/declaration-import.xml")).unwrap();
    assert_eq!(committed, rendered);
    let read = wco::parse_declaration(committed.as_bytes()).unwrap();
    assert_eq!(read.declaration, dto);
    assert_valid_declaration(&committed);
}

#[test]
fn a_declaration_without_namespaces_or_envelope_reads_the_same() {
    let dto: DeclarationDto = serde_json::from_value(full_import()).unwrap();
    let xml = wco::render_declaration(&dto, Some("LRN-1"));
    let plain = xml
        .replace(&format!(" xmlns:md=\"{}\"", wco::METADATA_NAMESPACE), "")
        .replace(&format!(" xmlns=\"{}\"", wco::DECLARATION_NAMESPACE), "")
        .replace(
            &format!(" xmlns:ds=\"{}\"", wco::DECLARATION_DS_NAMESPACE),
            "",
        )
        .replace("md:", "")
        .replace("ds:", "");
    assert!(!plain.contains("xmlns"));
    assert_eq!(
        wco::parse_declaration(plain.as_bytes())
            .unwrap()
            .declaration,
        dto
    );
    // A bare Declaration, without the MetaData envelope.
    let start = plain.find("<Declaration").unwrap();
    let end = plain.find("</Declaration>").unwrap() + "</Declaration>".len();
    let bare = wco::parse_declaration(&plain.as_bytes()[start..end]).unwrap();
    assert_eq!(bare.declaration, dto);
    assert_eq!(bare.functional_reference.as_deref(), Some("LRN-1"));
    // Another prefix for the same namespaces reads the same.
    let prefixed = xml
        .replace("<Declaration xmlns=", "<dec:Declaration xmlns:dec=")
        .replace("</Declaration>", "</dec:Declaration>");
    assert_eq!(
        wco::parse_declaration(prefixed.as_bytes())
            .unwrap()
            .declaration,
        dto
    );
}

#[test]
fn json_paths_are_named_by_wco_element_paths() {
    let dto: DeclarationDto = serde_json::from_value(example()).unwrap();
    let error = |path: &str| domain::FieldError::required(path);
    let named = wco::wco_errors(
        vec![
            error("items[1].origin_country"),
            error("trader.credit_code"),
            error("trader.name"),
            error("items[0].statutory_quantities[1].unit"),
            error("items"),
            error("items[3]"),
            error("invoice.date"),
            error("Idempotency-Key"),
            error(""),
        ],
        &dto,
    );
    let paths: Vec<&str> = named.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Origin/CountryCode",
            "Declaration/AdditionalInformation[StatementCode='TRADER-USCC']/StatementDescription",
            "Declaration/GoodsShipment/Importer/Name",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]/AdditionalInformation[StatementCode='STAT2-UNIT']/StatementDescription",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[4]",
            "Declaration/GoodsShipment/Invoice/IssueDateTime/DateTimeString",
            "Idempotency-Key",
            "Declaration",
        ]
    );
    let mut export = dto.clone();
    export.direction = Some("export".into());
    let named = wco::wco_errors(
        vec![error("trader.name"), error("overseas_party.country")],
        &export,
    );
    assert_eq!(named[0].path, "Declaration/Exporter/Name");
    assert_eq!(
        named[1].path,
        "Declaration/GoodsShipment/Consignee/Address/CountryCode"
    );
}

/// HMRC's sample declarations: name → the element paths the China profile must name among its
/// problems (UK codes and UK-only elements), checked exactly for presence.
const SAMPLES: &[(&str, &[&str])] = &[
    (
        "TT_IM001a/Step1_TT_IM001a.xml",
        &[
            "Declaration/AuthorisationHolder[1]",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]/GovernmentProcedure[1]",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]/Commodity/Classification[1]",
            "Declaration/ObligationGuarantee",
            "Declaration/AdditionalDocument[1]/CategoryCode",
        ],
    ),
    (
        "TT_IM001b/TT_IM001b.xml",
        &["Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]/GovernmentProcedure[1]"],
    ),
    (
        "TT_IM001d/TT_IM001d.xml",
        &["Declaration/GoodsShipment/GovernmentAgencyGoodsItem[3]/GovernmentProcedure[1]"],
    ),
    ("TT_IM004a/TT_IM004a.xml", &[]),
    ("TT_IM017a/Step1_TT_IM017a.xml", &[]),
    (
        "TT_IM017a/TT_IM017a_Amendment.xml",
        &["Declaration/FunctionCode"],
    ),
    ("TT_IM031a/TT_IM031a.xml", &[]),
    ("TT_IM083a/Step1_TT_IM083a.xml", &[]),
    ("TT_EX001a/TT_EX001a.xml", &[]),
];

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(data(&format!("test_data/hmrc/samples/{name}"))).unwrap()
}

#[test]
fn every_hmrc_sample_declaration_maps_and_each_problem_is_named_by_element_path() {
    for (name, expected) in SAMPLES {
        let read =
            wco::parse_declaration(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            read.functional_reference.is_some(),
            "{name}: the LRN is read"
        );
        assert!(!read.problems.is_empty(), "{name}: UK elements are named");
        let paths: Vec<&str> = read.problems.iter().map(|p| p.path.as_str()).collect();
        for path in &paths {
            assert!(
                path.starts_with("Declaration") || path.starts_with("MetaData/"),
                "{name}: {path}"
            );
        }
        for path in *expected {
            assert!(paths.contains(path), "{name}: {path} not among {paths:#?}");
        }
        // The refusal is a valid WCO response naming every problem.
        let xml = wco::render_rejection(
            &read.problems,
            read.functional_reference.as_deref(),
            "2026-11-20T08:00:00Z",
        );
        assert_valid_response(&xml);
        let answer = wco::read_response(xml.as_bytes()).unwrap();
        assert_eq!(answer.notification, Some(Notification::Rej));
        assert_eq!(answer.errors.len(), read.problems.len());
        for (error, problem) in answer.errors.iter().zip(&read.problems) {
            assert!(
                error
                    .description
                    .as_deref()
                    .unwrap()
                    .starts_with(&format!("{}: ", problem.path))
            );
        }
    }
}

#[test]
fn the_mapped_uk_fields_are_read_where_the_profile_carries_them() {
    let read = wco::parse_declaration(&sample("TT_IM001a/Step1_TT_IM001a.xml")).unwrap();
    let dto = read.declaration;
    assert_eq!(read.functional_reference.as_deref(), Some("7847767E1WB6"));
    assert_eq!(dto.direction.as_deref(), Some("import"));
    assert_eq!(dto.kind.as_deref(), Some("ordinary"));
    assert_eq!(dto.items.len(), 1);
    assert_eq!(dto.items[0].origin_country.as_deref(), Some("US"));
    assert_eq!(dto.dispatch_country.as_deref(), Some("US"));
    assert_eq!(dto.transaction_terms.as_deref(), Some("CIF"));
    assert_eq!(
        dto.overseas_party.unwrap().name.as_deref(),
        Some("US Clipper Inc.")
    );
    let three = wco::parse_declaration(&sample("TT_IM001d/TT_IM001d.xml")).unwrap();
    assert_eq!(three.declaration.items.len(), 3);
    let export = wco::parse_declaration(&sample("TT_EX001a/TT_EX001a.xml")).unwrap();
    assert_eq!(export.declaration.direction.as_deref(), Some("export"));
}

fn notification_samples() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data("test_data/hmrc/samples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains("otification") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The same message with the DMS namespaces declared (HMRC's notification samples have none).
fn namespaced(xml: &str) -> String {
    xml.replacen(
        "<MetaData>",
        &format!("<md:MetaData xmlns:md=\"{}\">", wco::METADATA_NAMESPACE),
        1,
    )
    .replacen("</MetaData>", "</md:MetaData>", 1)
    .replacen(
        "<Response>",
        &format!("<Response xmlns=\"{}\">", wco::RESPONSE_NAMESPACE),
        1,
    )
}

#[test]
fn every_hmrc_notification_sample_is_read_with_and_without_namespaces() {
    let samples = notification_samples();
    assert!(samples.len() >= 30, "{}", samples.len());
    for path in samples {
        let text = std::fs::read_to_string(&path).unwrap();
        let plain = wco::read_response(text.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let with_namespaces = wco::read_response(namespaced(&text).as_bytes()).unwrap();
        assert!(namespaced(&text).contains("xmlns=\""));
        assert_eq!(plain, with_namespaces, "{}", path.display());
        assert!(!plain.function_code.is_empty());
        assert!(
            plain.declaration_id.is_some() || plain.functional_reference.is_some(),
            "{}",
            path.display()
        );
    }
    let rejection = wco::read_response(&sample("Example_DMS_notifications/03_DMSREJ.xml")).unwrap();
    assert_eq!(rejection.notification, Some(Notification::Rej));
    assert_eq!(
        rejection.errors[0].validation_code.as_deref(),
        Some("CDS12005")
    );
    assert_eq!(
        rejection.errors[0].pointers[1],
        (None, Some("17C".into()), Some("R144".into()))
    );
    let tax = wco::read_response(&sample("Example_DMS_notifications/13_DMSTAX.xml")).unwrap();
    assert_eq!(tax.notification, Some(Notification::Tax));
    assert!(
        tax.amounts
            .iter()
            .any(|a| a.element == "PaymentAmount" && a.value == "2054.00")
    );
}

fn lodgement() -> wire::LodgementView {
    wire::LodgementView {
        created: true,
        id: "0193a3c2-7f3e-7cc1-8d5a-3f1b2c4d5e6f".into(),
        number: "220020261000000123".into(),
        status: "accepted".into(),
        kind: "ordinary".into(),
        direction: "import".into(),
        version: 1,
        lodged_at: "2026-11-20T08:15:30.123456Z".into(),
        summary_number: None,
        lane: Some("green".into()),
        assessment: "assessed".into(),
        amount_due: Some("1356.80".into()),
        regime: Some("general_trade".into()),
    }
}

#[test]
fn the_acceptance_and_the_rejection_validate_and_read_back() {
    let acceptance = wco::render_acceptance(&lodgement(), Some("LRN-1"));
    assert_valid_response(&acceptance);
    let read = wco::read_response(acceptance.as_bytes()).unwrap();
    assert_eq!(read.notification, Some(Notification::Acc));
    assert_eq!(read.declaration_id.as_deref(), Some("220020261000000123"));
    assert_eq!(read.functional_reference.as_deref(), Some("LRN-1"));
    assert_eq!(read.issued_at.as_deref(), Some("20261120081530Z"));
    assert!(
        read.statements
            .contains(&(Some("LANE".into()), Some("green".into())))
    );
    assert!(
        read.statements
            .contains(&(Some("ASSESSMENT".into()), Some("assessed".into())))
    );
    assert_eq!(read.amounts[0].element, "TaxAssessedAmount");
    assert_eq!(read.amounts[0].value, "1356.80");
    assert_eq!(read.amounts[0].currency.as_deref(), Some("CNY"));

    let long = "长".repeat(600);
    let errors = vec![
        domain::FieldError::required(
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Origin/CountryCode",
        ),
        domain::FieldError::invalid_format("Declaration", &long, &long),
    ];
    let rejection = wco::render_rejection(&errors, Some("LRN-1"), "2026-11-20T08:15:30Z");
    assert_valid_response(&rejection);
    let read = wco::read_response(rejection.as_bytes()).unwrap();
    assert_eq!(read.notification, Some(Notification::Rej));
    assert_eq!(read.errors[0].validation_code.as_deref(), Some("REQUIRED"));
    assert_eq!(
        read.errors[0].pointers,
        [
            (None, Some("42A".into()), None),
            (None, Some("67A".into()), None),
            (Some("2".into()), Some("68A".into()), None),
            (None, Some("62A".into()), None),
        ]
    );
    assert!(
        read.errors[0]
            .description
            .as_deref()
            .unwrap()
            .contains("必填项不能为空")
    );
    assert_eq!(
        read.errors[1]
            .description
            .as_deref()
            .unwrap()
            .chars()
            .count(),
        512
    );
}

fn receipt(kind: &str) -> TradeReceiptView {
    TradeReceiptView {
        seq: 7,
        recorded_at: "2026-11-20T09:00:00Z".into(),
        receipt: kind.into(),
        by: "customs".into(),
        number: None,
        reason: None,
        amount: None,
        reference: None,
        difference: None,
        settlement: None,
        checks: Vec::new(),
        continuity: None,
    }
}

#[test]
fn every_receipt_kind_becomes_a_valid_notification_of_its_kind() {
    let cases: Vec<(TradeReceiptView, Notification)> = vec![
        (receipt("accepted"), Notification::Acc),
        (
            TradeReceiptView {
                number: Some("220020261000000999".into()),
                ..receipt("completed")
            },
            Notification::Acc,
        ),
        (
            TradeReceiptView {
                reason: Some("wrong weight".into()),
                by: "trade".into(),
                ..receipt("amended")
            },
            Notification::Req,
        ),
        (receipt("cancelled"), Notification::Inv),
        (receipt("released"), Notification::Cle),
        (
            TradeReceiptView {
                amount: Some("1356.80".into()),
                ..receipt("assessed")
            },
            Notification::Tax,
        ),
        (receipt("assessment_pending"), Notification::Rcv),
        (
            TradeReceiptView {
                amount: Some("1356.80".into()),
                reference: Some("BANK-REF-1".into()),
                by: "bank".into(),
                ..receipt("payment_claimed")
            },
            Notification::Tax,
        ),
        (
            TradeReceiptView {
                amount: Some("1356.80".into()),
                reference: Some("BANK-REF-1".into()),
                by: "bank".into(),
                ..receipt("payment_confirmed")
            },
            Notification::Tax,
        ),
        (
            TradeReceiptView {
                amount: Some("1356.80".into()),
                ..receipt("guarantee_accepted")
            },
            Notification::Tax,
        ),
        (
            TradeReceiptView {
                checks: vec!["document_check".into()],
                ..receipt("checks_required")
            },
            Notification::Doc,
        ),
        (
            TradeReceiptView {
                checks: vec!["document_check".into(), "physical_inspection".into()],
                ..receipt("checks_required")
            },
            Notification::Ctl,
        ),
        (
            TradeReceiptView {
                checks: vec!["hold".into()],
                ..receipt("held")
            },
            Notification::Ctl,
        ),
        (receipt("hold_lifted"), Notification::Res),
        (
            TradeReceiptView {
                checks: vec!["physical_inspection".into()],
                ..receipt("check_completed")
            },
            Notification::Res,
        ),
        (
            TradeReceiptView {
                reason: Some("fix the invoice".into()),
                by: "trade".into(),
                ..receipt("amendment_requested")
            },
            Notification::Rcv,
        ),
        (receipt("cancellation_requested"), Notification::Rcv),
        (receipt("request_approved"), Notification::Req),
        (
            TradeReceiptView {
                reason: Some("the goods are already released".into()),
                ..receipt("request_refused")
            },
            Notification::Rej,
        ),
        (receipt("a_kind_added_later"), Notification::Rcv),
    ];
    for (receipt, expected) in cases {
        let xml = wco::render_receipt(&receipt, "220020261000000123", Some("LRN-1"));
        assert_valid_response(&xml);
        let read = wco::read_response(xml.as_bytes()).unwrap();
        assert_eq!(read.notification, Some(expected), "{}", receipt.receipt);
        assert_eq!(read.declaration_id.as_deref(), Some("220020261000000123"));
        assert_eq!(read.functional_reference.as_deref(), Some("LRN-1"));
        assert_eq!(read.reference.as_deref(), Some("220020261000000123-7"));
        assert!(
            read.statements
                .contains(&(Some("RECEIPT".into()), Some(receipt.receipt.clone())))
        );
        for check in &receipt.checks {
            assert!(
                read.statements
                    .contains(&(Some("CHECK".into()), Some(check.clone())))
            );
        }
        if let Some(amount) = &receipt.amount {
            assert_eq!(read.amounts[0].value, *amount);
            assert_eq!(read.amounts[0].currency.as_deref(), Some("CNY"));
        }
    }
}

// ----- limits and hostile XML -----

fn refusal(bytes: &[u8]) -> String {
    match wco::parse_declaration(bytes) {
        Err(unreadable) => unreadable.errors[0].message_en.clone(),
        Ok(read) => panic!("read: {:?}", read.problems),
    }
}

#[test]
fn a_document_type_declaration_is_refused_so_no_entity_is_ever_expanded() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Declaration><FunctionCode>&lol2;</FunctionCode></Declaration>"#;
    assert!(refusal(laughs.as_bytes()).contains("DTD"));
    let external = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Declaration><FunctionCode>&xxe;</FunctionCode></Declaration>"#;
    assert!(refusal(external.as_bytes()).contains("DTD"));
    let undeclared = "<Declaration><FunctionCode>&xxe;</FunctionCode></Declaration>";
    assert!(refusal(undeclared.as_bytes()).contains("entity reference"));
    let fine = "<Declaration><FunctionCode>&#57;</FunctionCode><TypeCode>I&#x4D;A</TypeCode></Declaration>";
    let read = wco::parse_declaration(fine.as_bytes()).unwrap();
    assert_eq!(read.declaration.direction.as_deref(), Some("import"));
}

#[test]
fn the_message_size_limit_holds_at_its_edge() {
    let head = "<Declaration><FunctionCode>9</FunctionCode></Declaration>";
    let at_limit = format!("{head}{}", " ".repeat(wco::MESSAGE_BYTES_MAX - head.len()));
    assert_eq!(at_limit.len(), wco::MESSAGE_BYTES_MAX);
    assert!(wco::parse_declaration(at_limit.as_bytes()).is_ok());
    let over = format!("{at_limit} ");
    assert!(
        refusal(over.as_bytes()).contains(&format!("larger than {} bytes", wco::MESSAGE_BYTES_MAX))
    );
}

#[test]
fn the_nesting_limit_holds_at_its_edge() {
    let nest = |depth: usize| {
        let inner = depth - 1;
        format!(
            "<Declaration>{}{}</Declaration>",
            "<A>".repeat(inner),
            "</A>".repeat(inner)
        )
    };
    let read = wco::parse_declaration(nest(wco::DEPTH_MAX).as_bytes()).unwrap();
    assert_eq!(read.problems[0].path, "Declaration/A");
    assert!(refusal(nest(wco::DEPTH_MAX + 1).as_bytes()).contains("nested more than"));
}

#[test]
fn the_element_count_limit_holds_at_its_edge() {
    let flat = |count: usize| format!("<Declaration>{}</Declaration>", "<A/>".repeat(count - 1));
    assert!(wco::parse_declaration(flat(wco::ELEMENTS_MAX).as_bytes()).is_ok());
    assert!(refusal(flat(wco::ELEMENTS_MAX + 1).as_bytes()).contains("more than"));
}

#[test]
fn the_goods_item_limit_holds_at_its_edge() {
    let items = |count: usize| {
        let mut xml = String::from(
            "<Declaration><FunctionCode>9</FunctionCode><TypeCode>IMA</TypeCode><GoodsShipment>",
        );
        for n in 1..=count {
            xml.push_str(&format!("<GovernmentAgencyGoodsItem><SequenceNumeric>{n}</SequenceNumeric></GovernmentAgencyGoodsItem>"));
        }
        xml.push_str("</GoodsShipment></Declaration>");
        xml
    };
    let read = wco::parse_declaration(items(wco::GOODS_ITEMS_MAX).as_bytes()).unwrap();
    assert_eq!(read.declaration.items.len(), wco::GOODS_ITEMS_MAX);
    let over = wco::parse_declaration(items(wco::GOODS_ITEMS_MAX + 1).as_bytes()).unwrap_err();
    assert_eq!(
        over.errors[0].path,
        "Declaration/GoodsShipment/GovernmentAgencyGoodsItem"
    );
    assert_eq!(over.errors[0].code.as_str(), "too_many");
}

#[test]
fn out_of_order_items_a_wrong_count_and_bad_flags_are_named() {
    let xml = r#"<Declaration><FunctionCode>9</FunctionCode><TypeCode>IMA</TypeCode><GoodsItemQuantity>3</GoodsItemQuantity>
        <AdditionalInformation><StatementCode>CBEC-INDIVISIBLE</StatementCode><StatementDescription>yes</StatementDescription></AdditionalInformation>
        <GoodsShipment><GovernmentAgencyGoodsItem><SequenceNumeric>2</SequenceNumeric></GovernmentAgencyGoodsItem>
        <Invoice><IssueDateTime><DateTimeString formatCode="304">20261120080000Z</DateTimeString></IssueDateTime></Invoice></GoodsShipment></Declaration>"#;
    let read = wco::parse_declaration(xml.as_bytes()).unwrap();
    let paths: Vec<(&str, &str)> = read
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.code.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("Declaration/GoodsItemQuantity", "invalid_format"),
            (
                "Declaration/AdditionalInformation[StatementCode='CBEC-INDIVISIBLE']/StatementDescription",
                "invalid_format"
            ),
            (
                "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]/SequenceNumeric",
                "invalid_format"
            ),
            (
                "Declaration/GoodsShipment/Invoice/IssueDateTime/DateTimeString/@formatCode",
                "invalid_format"
            ),
        ]
    );
}

#[test]
fn not_xml_and_not_a_declaration_are_named_at_the_root() {
    for bytes in [
        &b"{\"direction\": \"import\"}"[..],
        b"<Declaration>",
        b"",
        b"<Other/>",
        b"\xff\xfe",
    ] {
        let refused = wco::parse_declaration(bytes).unwrap_err();
        assert_eq!(refused.errors[0].path, wco::MESSAGE_PATH);
        assert!(!refused.errors[0].message_zh.is_empty());
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_bytes_are_answered_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = wco::parse_declaration(&bytes);
            let _ = wco::read_response(&bytes);
        }

        #[test]
        fn a_cut_or_spliced_declaration_is_answered_never_a_panic(cut in 0usize..6000, at in 0usize..6000, splice in "[<>/&;=\"a-zA-Z0-9 ]{0,12}") {
            let xml = std::fs::read_to_string(repository("examples/declaration-import.xml")).unwrap();
            let cut = cut.min(xml.len());
            let at = at.min(cut);
            if xml.is_char_boundary(cut) && xml.is_char_boundary(at) {
                let mangled = format!("{}{splice}{}", &xml[..at], &xml[at..cut]);
                if let Ok(read) = wco::parse_declaration(mangled.as_bytes()) {
                    for problem in &read.problems {
                        prop_assert!(problem.path.starts_with("Declaration") || problem.path.starts_with("MetaData/"));
                    }
                }
            }
        }

        #[test]
        fn any_text_values_round_trip(
            description in "[^\\s\\p{Cc}][^\\p{Cc}]{0,40}[^\\s\\p{Cc}]",
            name in "[^\\s\\p{Cc}]{1,30}",
            number in "[A-Za-z0-9<>&'\"]{1,20}",
        ) {
            let mut body = example();
            body["items"][0]["description"] = json!(description);
            body["trader"]["name"] = json!(name);
            body["transport"]["document"]["number"] = json!(number);
            round_trip("generated", &body);
        }
    }
}

#[test]
fn the_documented_mapping_table_is_the_table_the_code_reads() {
    let path = repository("docs/wco-mapping.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = (
        "<!-- table: generated from wco::mapping::TABLE -->\n",
        "<!-- end of table -->",
    );
    let start = doc.find(begin).expect("the table's start marker") + begin.len();
    let stop = doc.find(end).expect("the table's end marker");
    let table = wco::mapping::table_markdown();
    if std::env::var_os("WCO_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..stop],
        table,
        "run WCO_BLESS=1 cargo test -p wco --test it documented"
    );
}

#[test]
fn a_batch_is_split_into_its_declarations_with_their_lines_and_limited_at_its_edge() {
    use wco::xml::{XmlRefusal, split_batch};
    let batch = "<?xml version=\"1.0\"?>\n<b:Batch xmlns:b=\"urn:x\">\n  <b:Declaration><b:ID>1</b:ID></b:Declaration>\n  <MetaData/>\n  <Declaration>\n<ID>3</ID></Declaration>\n</b:Batch>\n";
    let parts = split_batch(batch.as_bytes(), 3).unwrap();
    let lines: Vec<usize> = parts.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(
        String::from_utf8(parts[0].bytes.clone()).unwrap(),
        "<b:Declaration><b:ID>1</b:ID></b:Declaration>"
    );
    assert_eq!(parts[1].bytes, b"<MetaData/>");
    // A part read alone, its prefix undeclared there, reads as the declaration reader reads any.
    assert!(wco::xml::parse(&parts[0].bytes).is_ok());
    assert!(matches!(
        split_batch(batch.as_bytes(), 2),
        Err(XmlRefusal::TooManyElements)
    ));
    assert!(matches!(
        split_batch(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a/>", 10),
        Err(XmlRefusal::DocumentType)
    ));
    assert!(matches!(
        split_batch(b"<a><b></b>loose text</a>", 10),
        Err(XmlRefusal::Malformed(_))
    ));
    assert!(matches!(
        split_batch(b"<a><b></a>", 10),
        Err(XmlRefusal::Malformed(_))
    ));
    assert!(matches!(split_batch(b"  ", 10), Err(XmlRefusal::Empty)));
    assert_eq!(split_batch(b"<a></a>", 10).unwrap(), Vec::new());
}
