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

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever amounts the items carry, a declaration that parses renders and re-parses to itself,
        /// and the stored text is stable.
        #[test]
        fn render_then_parse_is_identity(cents in proptest::collection::vec(1u64..10_000_000, 1..20), price_scale in 0u32..3) {
            let ctx = ParseContext { reference: ReferenceData::embedded(), on: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap() };
            let mut document: Value = serde_json::from_str(EXAMPLE).unwrap();
            let template = document["items"][0].clone();
            let mut total = rust_decimal::Decimal::ZERO;
            let items: Vec<Value> = cents.iter().map(|c| {
                let mut item = template.clone();
                let price = rust_decimal::Decimal::new(*c as i64, 2 + price_scale);
                let amount = price * rust_decimal::Decimal::from(40);
                let amount = amount.round_dp(2);
                total += amount;
                item["unit_price"] = Value::String(price.to_string());
                item["amount"] = Value::String(amount.to_string());
                item
            }).collect();
            document["items"] = Value::Array(items);
            document["invoice"]["amount"] = Value::String(total.to_string());
            let dto: DeclarationDto = serde_json::from_value(document).unwrap();
            let declaration = dto.parse(&ctx).unwrap();
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
        /// Bad input is never a panic: arbitrary bytes either parse or come back as one field error.
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(dto) = parse_json::<DeclarationDto>(&body) {
                let _ = dto.parse(&ctx());
            }
        }

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
