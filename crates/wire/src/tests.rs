//! File-driven validation cases: `test_data/validation_cases.json` holds variations of
//! `examples/declaration-import.json` (JSON-pointer `set` and `remove`) and the errors each must
//! produce, as `path code` in order. Adding a case is adding one line of JSON.

use chrono::NaiveDate;
use domain::ParseContext;
use reference::ReferenceData;
use serde_json::Value;

use crate::{DeclarationDto, parse_json};

const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");
const CASES: &str = include_str!("../test_data/validation_cases.json");
const DEFAULT_LODGING_DATE: &str = "2026-11-26";

fn set_pointer(document: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer has a '/'");
    let parent = document
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no parent for {pointer}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let idx: usize = key.parse().expect("an array index");
            if idx == items.len() {
                items.push(value)
            } else {
                items[idx] = value
            }
        }
        _ => panic!("{pointer} does not point into an object or array"),
    }
}

fn remove_pointer(document: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer has a '/'");
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => assert!(map.remove(key).is_some(), "nothing at {pointer}"),
        _ => panic!("{pointer} does not point into an object"),
    }
}

/// `"@N"` stands for a text of N characters, so limits can be tested without pasting long strings.
fn expand(value: &Value) -> Value {
    match value
        .as_str()
        .and_then(|s| s.strip_prefix('@'))
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) => Value::String("货".repeat(n)),
        None => value.clone(),
    }
}

fn check(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
    for (pointer, value) in case["set"].as_object().into_iter().flatten() {
        set_pointer(&mut document, pointer, expand(value));
    }
    for pointer in case["remove"].as_array().into_iter().flatten() {
        remove_pointer(&mut document, pointer.as_str().unwrap());
    }
    let on = case["on"].as_str().unwrap_or(DEFAULT_LODGING_DATE);
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::parse_from_str(on, "%Y-%m-%d").unwrap(),
    };
    let body = serde_json::to_vec(&document).unwrap();
    let dto: DeclarationDto = parse_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
    let actual: Vec<String> = match dto.parse(&ctx) {
        Ok(_) => vec![],
        Err(errors) => errors
            .iter()
            .map(|e| format!("{} {}", e.path, e.code.as_str()))
            .collect(),
    };
    let expected: Vec<String> = case["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actual, expected, "case: {name}");
}

#[test]
fn validation_cases_from_file() {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    assert!(cases.len() >= 30);
    for case in &cases {
        check(case);
    }
}

#[test]
fn every_error_has_english_and_chinese_messages() {
    let broken = include_str!("../../../examples/declaration-broken.json");
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let dto: DeclarationDto = parse_json(broken.as_bytes()).unwrap();
    let errors = dto.parse(&ctx).unwrap_err();
    assert!(errors.len() >= 3, "{errors:?}");
    for error in &errors {
        assert!(
            !error.message_en.is_empty() && error.message_en.is_ascii(),
            "{error:?}"
        );
        assert!(
            error
                .message_zh
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{error:?}"
        );
    }
}

#[test]
fn json_type_errors_and_unknown_fields_name_their_path() {
    let cases = [
        (
            r#"{"items":[{"origin_contry":"US"}]}"#,
            "items[0].origin_contry",
            "unknown_field",
        ),
        (
            r#"{"items":[{},{"quantity":{"value":true}}]}"#,
            "items[1].quantity.value",
            "invalid_type",
        ),
        (r#"{"direction": 5}"#, "direction", "invalid_type"),
        (
            r#"{"origin_proofs":[{"items":[{"hs7":"847130"}]}]}"#,
            "origin_proofs[0].items[0].hs7",
            "unknown_field",
        ),
        (
            r#"{"origin_proofs":[{},{"retroactive":"yes"}]}"#,
            "origin_proofs[1].retroactive",
            "invalid_type",
        ),
        (
            r#"{"items":[{"preference":{"proof_item":true}}]}"#,
            "items[0].preference.proof_item",
            "invalid_type",
        ),
        (
            r#"{"cbec_order":{"buyer":{"id_numbr":"11010519491231002X"}}}"#,
            "cbec_order.buyer.id_numbr",
            "unknown_field",
        ),
        (
            r#"{"cbec_order":{"indivisible_item":"yes"}}"#,
            "cbec_order.indivisible_item",
            "invalid_type",
        ),
        (
            r#"{"cbec_order":{"buyer":{"id_number":110105194912310020}}}"#,
            "cbec_order.buyer.id_number",
            "invalid_type",
        ),
        (r#"{"direction": "import""#, "", "invalid_json"),
        (r#"[1]"#, "[0]", "invalid_type"),
    ];
    for (body, path, code) in cases {
        let error = parse_json::<DeclarationDto>(body.as_bytes()).unwrap_err();
        assert_eq!(
            (error.path.as_str(), error.code.as_str()),
            (path, code),
            "{body}"
        );
    }
}

#[test]
fn a_missing_required_member_is_named_with_its_path() {
    let error = parse_json::<crate::CancellationRequest>(b"{}").unwrap_err();
    assert_eq!(
        (error.path.as_str(), error.code.as_str()),
        ("reason", "required")
    );
    let error = parse_json::<crate::AmendmentRequest>(br#"{"reason": "r"}"#).unwrap_err();
    assert_eq!(
        (error.path.as_str(), error.code.as_str()),
        ("declaration", "required")
    );
    assert!(
        error
            .message_zh
            .chars()
            .all(|c| c.is_ascii_punctuation() || !c.is_ascii()),
        "{error:?}"
    );
}

#[test]
fn a_parsed_declaration_renders_back_to_the_same_declaration() {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let dto: DeclarationDto = parse_json(EXAMPLE.as_bytes()).unwrap();
    let declaration = dto.parse(&ctx).unwrap();
    let rendered = DeclarationDto::from(&declaration);
    let reparsed: DeclarationDto = parse_json(&serde_json::to_vec(&rendered).unwrap()).unwrap();
    assert_eq!(reparsed.parse(&ctx).unwrap(), declaration);
    assert_eq!(
        serde_json::to_string(&rendered).unwrap(),
        serde_json::to_string(&DeclarationDto::from(&declaration)).unwrap()
    );
}

#[test]
fn the_acceptance_payload_is_the_same_however_it_is_built() {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let declaration = parse_json::<DeclarationDto>(EXAMPLE.as_bytes())
        .unwrap()
        .parse(&ctx)
        .unwrap();
    let number = domain::DeclarationNumber::parse("220020261000000001").unwrap();
    let document = serde_json::to_string(&DeclarationDto::from(&declaration)).unwrap();
    let event = domain::DeclarationEvent::Accepted {
        number: number.clone(),
        declaration: Box::new(declaration),
    };
    assert_eq!(
        crate::encode_acceptance(&number, &document),
        crate::encode_event(&event)
    );
}

/// The example with one RCEP proof of origin for its second item (Malaysian laptops).
fn example_with_proof() -> Value {
    let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
    document["origin_proofs"] = serde_json::json!([{
        "agreement": "RCEP",
        "kind": "certificate",
        "number": "R2026MY000123",
        "issue_date": "2026-10-30",
        "exporter": "Penang Computers Sdn. Bhd.",
        "country_of_origin": "MY",
        "direct_consignment_evidence": true,
        "items": [{ "hs6": "847130", "criterion": "CTC", "quantity": { "value": "5", "unit": "C62" } }]
    }]);
    document["items"][1]["preference"] = serde_json::json!({ "agreement": "RCEP", "proof_number": "R2026MY000123", "proof_item": 1 });
    document
}

fn lodging_errors(document: &Value) -> Vec<String> {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let dto: DeclarationDto = parse_json(&serde_json::to_vec(document).unwrap()).unwrap();
    match dto.parse(&ctx) {
        Ok(_) => vec![],
        Err(errors) => errors
            .iter()
            .map(|e| format!("{} {}", e.path, e.code.as_str()))
            .collect(),
    }
}

#[test]
fn proofs_of_origin_per_declaration_at_the_limit() {
    use domain::limits::ORIGIN_PROOFS_PER_DECLARATION_MAX as MAX;
    let mut document = example_with_proof();
    let template = document["origin_proofs"][0].clone();
    let proofs = |n: usize| {
        let proofs = (0..n).map(|i| {
            let mut proof = template.clone();
            if i > 0 {
                proof["number"] = Value::String(format!("R2026MY{i:06}"));
            }
            proof
        });
        Value::Array(proofs.collect())
    };
    document["origin_proofs"] = proofs(MAX);
    assert_eq!(lodging_errors(&document), Vec::<String>::new());
    document["origin_proofs"] = proofs(MAX + 1);
    assert_eq!(lodging_errors(&document), ["origin_proofs too_many"]);
}

#[test]
fn goods_per_proof_of_origin_at_the_limit() {
    use domain::limits::ITEMS_PER_ORIGIN_PROOF_MAX as MAX;
    let mut document = example_with_proof();
    let good = document["origin_proofs"][0]["items"][0].clone();
    document["origin_proofs"][0]["items"] = Value::Array(vec![good.clone(); MAX]);
    document["items"][1]["preference"]["proof_item"] = Value::from(MAX);
    assert_eq!(lodging_errors(&document), Vec::<String>::new());
    document["origin_proofs"][0]["items"] = Value::Array(vec![good; MAX + 1]);
    assert_eq!(
        lodging_errors(&document),
        ["origin_proofs[0].items too_many"]
    );
}

#[test]
fn declarations_with_and_without_proofs_take_the_fast_path() {
    // `parse_json` pays for path tracking only when serde's own parse fails: both forms must
    // deserialize at full speed, and the absent members cost nothing.
    let with: DeclarationDto = serde_json::from_value(example_with_proof()).unwrap();
    assert_eq!(with.origin_proofs.len(), 1);
    assert!(with.items[1].preference.is_some());
    let without: DeclarationDto = serde_json::from_str(EXAMPLE).unwrap();
    assert!(without.origin_proofs.is_empty());
    assert!(without.items.iter().all(|i| i.preference.is_none()));
    // Absent members stay absent when rendered, so stored documents without proofs do not change.
    let text = serde_json::to_string(&without).unwrap();
    assert!(!text.contains("origin_proofs") && !text.contains("preference"));
}

#[test]
fn a_declaration_with_a_proof_renders_back_to_itself_and_names_the_agreement_by_its_code() {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let mut document = example_with_proof();
    document["origin_proofs"][0]["agreement"] = Value::String("22".into());
    let declaration = serde_json::from_value::<DeclarationDto>(document)
        .unwrap()
        .parse(&ctx)
        .unwrap();
    let (proof, good) = declaration
        .proof_for(declaration.items[1].preference.as_ref().unwrap())
        .unwrap();
    assert_eq!(proof.agreement, domain::TradeAgreement::Rcep);
    assert_eq!(good.hs6.as_str(), "847130");
    let rendered = serde_json::to_value(DeclarationDto::from(&declaration)).unwrap();
    assert_eq!(rendered["origin_proofs"][0]["agreement"], "RCEP");
    assert_eq!(rendered["origin_proofs"][0].get("retroactive"), None);
    let reparsed: DeclarationDto = serde_json::from_value(rendered).unwrap();
    assert_eq!(reparsed.parse(&ctx).unwrap(), declaration);
}

const RESIDENT_ID: &str = "11010519491231002X";

/// The example as a cross-border e-commerce retail import (direct purchase, 9610).
fn example_with_cbec_order() -> Value {
    let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
    document["procedure"] = Value::String("9610".into());
    document["cbec_order"] = serde_json::json!({
        "order_ref": "TM-2026-11260001",
        "platform": "天猫国际 Tmall Global",
        "buyer": { "name": "张三", "id_type": "resident_id", "id_number": RESIDENT_ID }
    });
    document
}

#[test]
fn a_cbec_order_renders_back_to_itself_in_both_identity_forms() {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let mut document = example_with_cbec_order();
    document["cbec_order"]["buyer"]["id_number"] = Value::String(RESIDENT_ID.to_lowercase());
    let lodged = serde_json::from_value::<DeclarationDto>(document)
        .unwrap()
        .parse(&ctx)
        .unwrap();
    let order = lodged.cbec_order.as_ref().unwrap();
    assert!(!order.indivisible_item);
    let domain::BuyerIdentity::ResidentId(number) = &order.buyer.identity else {
        panic!("lodged with the number");
    };
    assert_eq!(number.as_str(), RESIDENT_ID);
    let rendered = serde_json::to_value(DeclarationDto::from(&lodged)).unwrap();
    assert_eq!(rendered["cbec_order"]["buyer"]["id_number"], RESIDENT_ID);
    assert_eq!(rendered["cbec_order"].get("indivisible_item"), None);
    let reparsed: DeclarationDto = serde_json::from_value(rendered).unwrap();
    assert_eq!(reparsed.parse(&ctx).unwrap(), lodged);

    // What customs stores: the number replaced by its keyed hash and masked form.
    let mut stored = lodged.clone();
    let order = stored.cbec_order.as_mut().unwrap();
    order.buyer.identity = order.buyer.identity.protect(|_| "ab".repeat(32)).unwrap();
    order.indivisible_item = true;
    let text = serde_json::to_string(&DeclarationDto::from(&stored)).unwrap();
    assert!(
        !text.contains(RESIDENT_ID) && !text.contains("id_number"),
        "{text}"
    );
    let rendered: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        rendered["cbec_order"]["buyer"],
        serde_json::json!({
            "name": "张三",
            "id_type": "resident_id",
            "id_hash": "ab".repeat(32),
            "id_masked": "110105********002X"
        })
    );
    assert_eq!(rendered["cbec_order"]["indivisible_item"], true);
    let reparsed: DeclarationDto = parse_json(text.as_bytes()).unwrap();
    assert_eq!(reparsed.parse(&ctx).unwrap(), stored);
}

#[test]
fn the_buyer_id_number_is_never_echoed() {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    for bad in [
        "11010519491231003X",
        "11010519491331002X",
        "110105194912310",
        "11010520991231002X",
    ] {
        let mut document = example_with_cbec_order();
        document["cbec_order"]["buyer"]["id_number"] = Value::String(bad.into());
        let dto: DeclarationDto = serde_json::from_value(document).unwrap();
        assert!(!format!("{dto:?}").contains(bad));
        let errors = dto.parse(&ctx).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "cbec_order.buyer.id_number");
        for error in &errors {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(&bad[..10]), "{shown}");
        }
    }
    // A number given as a JSON number is refused without quoting it either.
    let body = br#"{"cbec_order":{"buyer":{"id_number":110105194912310020}}}"#;
    let error = parse_json::<DeclarationDto>(body).unwrap_err();
    assert_eq!(error.path, "cbec_order.buyer.id_number");
    assert!(!format!("{error:?}").contains("1101051949"), "{error:?}");
}

#[test]
fn declarations_with_and_without_a_cbec_order_take_the_fast_path() {
    let document = example_with_cbec_order();
    let body = serde_json::to_vec(&document).unwrap();
    let with: DeclarationDto = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        with.cbec_order
            .as_ref()
            .unwrap()
            .buyer
            .as_ref()
            .unwrap()
            .id_number,
        Some(crate::declaration::IdNumberText(RESIDENT_ID.into()))
    );
    assert_eq!(parse_json::<DeclarationDto>(&body).unwrap(), with);
    let without: DeclarationDto = serde_json::from_str(EXAMPLE).unwrap();
    assert!(without.cbec_order.is_none());
    // Absent stays absent when rendered, so stored documents without an order do not change.
    assert!(
        !serde_json::to_string(&without)
            .unwrap()
            .contains("cbec_order")
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Agreements as a declarant may write them: by code or by China's 2-digit code.
    const AGREEMENTS: [&str; 4] = ["RCEP", "ACFTA", "22", "02"];
    const KINDS: [&str; 3] = [
        "certificate",
        "approved_exporter_declaration",
        "exporter_declaration",
    ];
    const CRITERIA: [&str; 7] = ["WO", "PE", "CTC", "RVC", "CR", "ACU", "DMI"];
    const HS6: [&str; 3] = ["851713", "8471.30", "610910"];
    const UNITS: [&str; 3] = ["C62", "KGM", "LTR"];

    /// One good on a proof: HS6, criterion, quantity in thousandths, unit, and perhaps an FOB
    /// value in cents with perhaps a VNM in cents.
    type GoodSeed = (usize, usize, u64, usize, Option<(u64, Option<u64>)>);
    /// A proof: agreement, kind, retroactive, direct consignment, days before lodging, goods.
    type ProofSeed = (usize, usize, bool, bool, u64, Vec<GoodSeed>);

    fn good_seed() -> impl Strategy<Value = GoodSeed> {
        (
            0..HS6.len(),
            0..CRITERIA.len(),
            1u64..10_000_000,
            0..UNITS.len(),
            proptest::option::of((1u64..100_000_000, proptest::option::of(0u64..100_000_000))),
        )
    }

    fn proof_seed() -> impl Strategy<Value = ProofSeed> {
        (
            0..AGREEMENTS.len(),
            0..KINDS.len(),
            any::<bool>(),
            any::<bool>(),
            0u64..400,
            proptest::collection::vec(good_seed(), 1..4),
        )
    }

    fn proof_json(idx: usize, seed: &ProofSeed) -> Value {
        let (agreement, kind, retroactive, direct, days, goods) = seed;
        let issue_date = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() - chrono::Days::new(*days);
        let goods: Vec<Value> = goods
            .iter()
            .map(|(hs6, criterion, thousandths, unit, value)| {
                let mut good = serde_json::json!({
                    "hs6": HS6[*hs6],
                    "criterion": CRITERIA[*criterion],
                    "quantity": {
                        "value": rust_decimal::Decimal::new(*thousandths as i64, 3).to_string(),
                        "unit": UNITS[*unit],
                    },
                });
                if let Some((fob, vnm)) = value {
                    good["fob"] =
                        Value::String(rust_decimal::Decimal::new(*fob as i64, 2).to_string());
                    good["fob_currency"] = Value::String("usd".into());
                    if let Some(vnm) = vnm {
                        good["vnm"] =
                            Value::String(rust_decimal::Decimal::new(*vnm as i64, 2).to_string());
                    }
                }
                good
            })
            .collect();
        let country = ["MY", "VN", "JP"][idx % 3];
        let mut proof = serde_json::json!({
            "agreement": AGREEMENTS[*agreement],
            "kind": KINDS[*kind],
            "number": format!("CO-2026-{idx:04}"),
            "issue_date": issue_date.to_string(),
            "exporter": format!("Exporter {idx} 出口商"),
            "country_of_origin": country,
            "items": goods,
        });
        // Absent and false are the same; write both forms.
        if *retroactive || idx.is_multiple_of(2) {
            proof["retroactive"] = Value::Bool(*retroactive);
        }
        if *direct || !idx.is_multiple_of(2) {
            proof["direct_consignment_evidence"] = Value::Bool(*direct);
        }
        proof
    }

    /// A valid resident identity card number: address code, date of birth (days before the
    /// lodging date), sequence number, and the check character computed; perhaps a lower-case x.
    type IdSeed = (u32, u64, u16, bool);
    /// A CBEC order: procedure, order reference, platform, buyer name, the number, whether it is
    /// in its stored form (with the hash's bytes), indivisible item.
    type CbecSeed = (
        usize,
        String,
        String,
        String,
        IdSeed,
        Option<[u8; 32]>,
        bool,
    );

    fn cbec_seed() -> impl Strategy<Value = CbecSeed> {
        (
            0..domain::CBEC_PROCEDURES.len(),
            "[A-Za-z0-9-]{1,64}",
            "[A-Za-z 天猫国际京东]{1,100}",
            "[a-z 张王李赵]{1,100}",
            (
                100_000u32..1_000_000,
                0u64..50_000,
                0u16..1000,
                any::<bool>(),
            ),
            proptest::option::of(any::<[u8; 32]>()),
            any::<bool>(),
        )
            // Surrounding spaces are trimmed: the parsed text would differ from the generated.
            .prop_filter("text without surrounding spaces", |(_, r, p, n, ..)| {
                [r, p, n]
                    .iter()
                    .all(|t| !t.trim().is_empty() && t.trim() == t.as_str())
            })
    }

    fn resident_id(seed: &IdSeed) -> String {
        let (area, days, sequence, lower_x) = *seed;
        let birth = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() - chrono::Days::new(days);
        let number = domain::codes::resident_id_with_check(&format!(
            "{area}{}{sequence:03}",
            birth.format("%Y%m%d")
        ))
        .unwrap();
        if lower_x {
            number.to_ascii_lowercase()
        } else {
            number
        }
    }

    fn cbec_json(seed: &CbecSeed) -> Value {
        let (_, order_ref, platform, name, id, stored, indivisible) = seed;
        let number = resident_id(id);
        let mut buyer = serde_json::json!({ "name": name, "id_type": "resident_id" });
        match stored {
            None => buyer["id_number"] = Value::String(number),
            Some(bytes) => {
                let hash: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let number = number.to_ascii_uppercase();
                buyer["id_hash"] = Value::String(hash);
                buyer["id_masked"] =
                    Value::String(format!("{}********{}", &number[..6], &number[14..]));
            }
        }
        let mut order =
            serde_json::json!({ "order_ref": order_ref, "platform": platform, "buyer": buyer });
        // Absent and false are the same; write both forms.
        if *indivisible || order_ref.len() % 2 == 0 {
            order["indivisible_item"] = Value::Bool(*indivisible);
        }
        order
    }

    proptest! {
        /// Whatever amounts the items carry, whatever proofs of origin they claim preferences
        /// on, and whatever CBEC order (with the buyer's ID number as lodged or as stored) the
        /// declaration is for, a declaration that parses renders and re-parses to itself, and the
        /// stored text is stable.
        #[test]
        fn render_then_parse_is_identity(
            cents in proptest::collection::vec(1u64..10_000_000, 1..20),
            price_scale in 0u32..3,
            proofs in proptest::collection::vec(proof_seed(), 0..4),
            claims in proptest::collection::vec(proptest::option::of((any::<usize>(), any::<usize>(), any::<bool>())), 20),
            cbec in proptest::option::of(cbec_seed()),
            containers in proptest::collection::btree_set(("[A-Z]{3}[UJZ]", 0u32..1_000_000), 0..5),
        ) {
            let ctx = ParseContext { reference: ReferenceData::embedded(), on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() };
            let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
            let template = document["items"][0].clone();
            let mut total = rust_decimal::Decimal::ZERO;
            let items: Vec<Value> = cents.iter().zip(&claims).map(|(c, claim)| {
                let mut item = template.clone();
                let price = rust_decimal::Decimal::new(*c as i64, 2 + price_scale);
                let amount = price * rust_decimal::Decimal::from(40);
                let amount = amount.round_dp(2);
                total += amount;
                item["unit_price"] = Value::String(price.to_string());
                item["amount"] = Value::String(amount.to_string());
                if let (Some((proof, good, by_other_code)), false) = (claim, proofs.is_empty()) {
                    let idx = proof % proofs.len();
                    let seed = &proofs[idx];
                    // The same agreement, perhaps written with its other code.
                    let agreement = if *by_other_code { (seed.0 + 2) % AGREEMENTS.len() } else { seed.0 };
                    item["preference"] = serde_json::json!({
                        "agreement": AGREEMENTS[agreement],
                        "proof_number": format!("CO-2026-{idx:04}"),
                        "proof_item": good % seed.5.len() + 1,
                    });
                }
                item
            }).collect();
            document["items"] = Value::Array(items);
            document["invoice"]["amount"] = Value::String(total.to_string());
            if !proofs.is_empty() {
                document["origin_proofs"] = proofs.iter().enumerate().map(|(idx, seed)| proof_json(idx, seed)).collect();
            }
            if let Some(seed) = &cbec {
                document["procedure"] = Value::String(domain::CBEC_PROCEDURES[seed.0].into());
                document["cbec_order"] = cbec_json(seed);
            }
            // Containers as a clerk may type them (lower case, a space before the check digit).
            let containers: Vec<String> = containers.iter().enumerate().map(|(i, (owner, serial))| {
                let first = format!("{owner}{serial:06}");
                let number = format!("{first}{}", domain::codes::container_check_digit(first.as_bytes()));
                if i % 2 == 0 { number } else { format!("{} {}", first.to_ascii_lowercase(), &number[10..]) }
            }).collect();
            document["transport"]["containers"] = serde_json::json!(containers);
            let dto: DeclarationDto = serde_json::from_value(document).unwrap();
            let declaration = dto.parse(&ctx).unwrap();
            prop_assert_eq!(declaration.origin_proofs.len(), proofs.len());
            prop_assert_eq!(declaration.transport.containers.len(), containers.len());
            prop_assert_eq!(declaration.cbec_order.is_some(), cbec.is_some());
            if let (Some(order), Some(seed)) = (&declaration.cbec_order, &cbec) {
                let lodged = matches!(order.buyer.identity, domain::BuyerIdentity::ResidentId(_));
                prop_assert_eq!(lodged, seed.5.is_none());
            }
            let text = serde_json::to_string(&DeclarationDto::from(&declaration)).unwrap();
            let again: DeclarationDto = serde_json::from_str(&text).unwrap();
            let reparsed = again.parse(&ctx).unwrap();
            prop_assert_eq!(&reparsed, &declaration);
            prop_assert_eq!(serde_json::to_string(&DeclarationDto::from(&reparsed)).unwrap(), text);
        }
    }
}

mod robustness {
    use proptest::prelude::*;

    use super::*;

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            reference: ReferenceData::embedded(),
            on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        }
    }

    proptest! {

        /// Replacing any scalar of a valid declaration with arbitrary text never panics, and a
        /// refusal always names at least one field.
        #[test]
        fn any_field_replaced_with_any_text_is_refused_cleanly(field_idx in 0usize..200, text in ".{0,40}") {
            let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
            let mut pointers = Vec::new();
            collect_scalars(&document, String::new(), &mut pointers);
            let pointer = &pointers[field_idx % pointers.len()];
            *document.pointer_mut(pointer).unwrap() = Value::String(text);
            let body = serde_json::to_vec(&document).unwrap();
            match parse_json::<DeclarationDto>(&body) {
                Ok(dto) => {
                    if let Err(errors) = dto.parse(&ctx()) {
                        prop_assert!(!errors.is_empty());
                        prop_assert!(errors.iter().all(|e| !e.message_en.is_empty() && !e.message_zh.is_empty()));
                    }
                }
                Err(error) => prop_assert!(!error.message_en.is_empty()),
            }
        }
    }

    /// One edit of a document's bytes: overwrite, insert or delete at a position (taken modulo
    /// the length), or cut the document there.
    fn mutation() -> impl Strategy<Value = (usize, u8, u8)> {
        (any::<usize>(), 0u8..8, any::<u8>())
    }

    /// The positions of the bytes inside the document's string values (not its keys), where an
    /// edit keeps the JSON well formed.
    fn value_positions(body: &[u8]) -> Vec<usize> {
        let mut positions = Vec::new();
        let mut at = 0;
        while at < body.len() {
            if body[at] != b'"' {
                at += 1;
                continue;
            }
            let start = at + 1;
            let mut end = start;
            while end < body.len() && body[end] != b'"' {
                end += if body[end] == b'\\' { 2 } else { 1 };
            }
            let after = body[(end + 1).min(body.len())..]
                .iter()
                .find(|b| !b.is_ascii_whitespace());
            if after != Some(&b':') {
                positions.extend(start..end.min(body.len()));
            }
            at = end + 1;
        }
        positions
    }

    fn mutate(mut body: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
        // Mostly letters, digits and the punctuation of values, put inside string values, which
        // keeps the JSON well formed and reaches the declaration's own checks; now and then a
        // byte anywhere that breaks the syntax (a quote, a brace), any byte at all (invalid
        // UTF-8, controls), a deletion or a cut.
        const IN_VALUES: &[u8] = b"0123456789.-+eE abcXYZ";
        const SYNTAX: &[u8] = b"\"{}[]:,\\/";
        for &(at, kind, byte) in edits {
            let values = value_positions(&body);
            let in_value = values.get(at % values.len().max(1)).copied().unwrap_or(0);
            let at = at % (body.len() + 1);
            let printable = IN_VALUES[byte as usize % IN_VALUES.len()];
            match kind {
                0..=3 if in_value < body.len() => body[in_value] = printable,
                4 => body.insert(in_value, printable),
                5 if at < body.len() => body[at] = SYNTAX[byte as usize % SYNTAX.len()],
                6 if at < body.len() => {
                    body.remove(at);
                }
                7 if byte % 4 == 0 => body.truncate(at),
                7 if at < body.len() => body[at] = byte,
                _ => {}
            }
        }
        body
    }

    /// Bad input is never a panic: valid declarations with a few bytes overwritten, inserted,
    /// deleted or cut off either parse or come back with named field errors. Unlike arbitrary
    /// bytes, which stop at the JSON's first byte, many of these reach the declaration parser:
    /// the test fails unless at least a third of the cases do (about 55% do, half of them then
    /// refused by the parser).
    #[test]
    fn mutated_declarations_reach_the_parser_and_never_panic() {
        use proptest::test_runner::{Config, TestRunner};
        const CASES: u32 = 1024;
        let examples = [
            EXAMPLE.as_bytes().to_vec(),
            serde_json::to_vec_pretty(&serde_json::from_str::<Value>(EXAMPLE).unwrap()).unwrap(),
        ];
        let reached = std::cell::Cell::new(0u32);
        let refused_by_the_parser = std::cell::Cell::new(0u32);
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(0usize..2, proptest::collection::vec(mutation(), 1..3)),
                |(which, edits)| {
                    let body = mutate(examples[which].clone(), &edits);
                    match parse_json::<DeclarationDto>(&body) {
                        Ok(dto) => {
                            reached.set(reached.get() + 1);
                            if let Err(errors) = dto.parse(&ctx()) {
                                refused_by_the_parser.set(refused_by_the_parser.get() + 1);
                                prop_assert!(!errors.is_empty());
                                prop_assert!(errors.iter().all(|e| !e.path.is_empty()
                                    && !e.message_en.is_empty()
                                    && !e.message_zh.is_empty()));
                            }
                        }
                        Err(error) => prop_assert!(
                            !error.message_en.is_empty() && !error.message_zh.is_empty()
                        ),
                    }
                    Ok(())
                },
            )
            .unwrap();
        assert!(
            reached.get() >= CASES / 3,
            "only {} of {CASES} reached the declaration parser",
            reached.get()
        );
        assert!(
            refused_by_the_parser.get() > 0,
            "no mutation was refused by the declaration parser"
        );
    }

    fn collect_scalars(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| collect_scalars(v, format!("{at}/{k}"), out)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| collect_scalars(v, format!("{at}/{i}"), out)),
            _ => out.push(at),
        }
    }
}

fn example_with_postal_parcel(articles: usize) -> Value {
    let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
    let article = serde_json::json!({
        "description": "Wool sweater", "rate_class": "2", "quantity": "1.5",
        "unit_dutiable_price": "200.00", "indivisible": true,
    });
    document["postal_parcel"] = serde_json::json!({
        "carrier": "express", "sender_country": "HK", "recipient": "李四",
        "articles": vec![article; articles],
    });
    document
}

fn parse_on_default_day(document: &Value) -> Result<domain::Declaration, Vec<domain::FieldError>> {
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: NaiveDate::parse_from_str(DEFAULT_LODGING_DATE, "%Y-%m-%d").unwrap(),
    };
    let body = serde_json::to_vec(document).unwrap();
    parse_json::<DeclarationDto>(&body).unwrap().parse(&ctx)
}

#[test]
fn a_postal_parcel_holds_at_most_its_limit_of_articles() {
    let max = domain::limits::POSTAL_ARTICLES_PER_PARCEL_MAX;
    let at = parse_on_default_day(&example_with_postal_parcel(max)).expect("at the limit");
    assert_eq!(at.postal_parcel.unwrap().articles.len(), max);
    let errors = parse_on_default_day(&example_with_postal_parcel(max + 1)).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "postal_parcel.articles");
    assert_eq!(errors[0].code.as_str(), "too_many");
    assert!(errors[0].message_en.contains("99") && !errors[0].message_zh.is_empty());
}

#[test]
fn a_postal_parcel_renders_back_to_itself() {
    let parsed = parse_on_default_day(&example_with_postal_parcel(2)).unwrap();
    let parcel = parsed.postal_parcel.as_ref().unwrap();
    assert!(parcel.from_hk_mo_tw());
    assert_eq!(parcel.carrier, domain::PostalCarrier::Express);
    let article = &parcel.articles[0];
    assert_eq!(article.rate_class, domain::PostalRateClass::Class2);
    assert_eq!(article.dutiable_price(), "300.00".parse().unwrap());
    assert!(article.indivisible);
    let rendered = serde_json::to_value(DeclarationDto::from(&parsed)).unwrap();
    assert_eq!(parse_on_default_day(&rendered).unwrap(), parsed);
    assert_eq!(rendered["postal_parcel"]["articles"][1]["rate_class"], "2");
}
