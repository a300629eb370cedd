//! The syntax layer, the CUSDEC mapping both ways, CUSRES and CONTRL, and every limit at its edge.

use proptest::prelude::*;
use wire::DeclarationDto;

use crate::limits::*;
use crate::syntax::codes;
use crate::*;

const EXAMPLE_JSON: &str = include_str!("../../../examples/declaration-import.json");
const EXAMPLE_EDI: &str = include_str!("../../../examples/declaration-import.edi");

fn envelope(reference: &str) -> Envelope {
    Envelope {
        sender: "91310000MA1FL0001R".into(),
        recipient: "CNCUSTOMS".into(),
        reference: reference.into(),
        date: "20261107".into(),
        time: "0930".into(),
    }
}

fn example() -> DeclarationDto {
    serde_json::from_str(EXAMPLE_JSON).expect("the example parses")
}

fn syntax_error(input: &str) -> SyntaxError {
    match read_lodging(input.as_bytes()) {
        Err(ReadError::Syntax(e)) => e,
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

fn content_errors(input: &str) -> Vec<Refusal> {
    match read_lodging(input.as_bytes()) {
        Err(ReadError::Content(e)) => e,
        other => panic!("expected content errors, got {other:?}"),
    }
}

/// Wraps message segments (without UNH/UNT) in an interchange with a correct UNT count.
fn interchange(body: &[&str]) -> String {
    let mut text =
        String::from("UNB+UNOY:4+SENDER+CNCUSTOMS+261107:0930+REF1'UNH+M1+CUSDEC:D:96B:UN'");
    for s in body {
        text.push_str(s);
        text.push('\'');
    }
    text.push_str(&format!("UNT+{}+M1'UNZ+1+REF1'", body.len() + 2));
    text
}

#[test]
fn the_readme_example_renders_to_the_committed_interchange_and_reads_back_unchanged() {
    let rendered = render(&example(), &envelope("PE20261107")).expect("renders");
    if std::env::var_os("EDIFACT_BLESS").is_some() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::write(root.join("examples/declaration-import.edi"), &rendered).expect("writes");
        let doc = std::fs::read_to_string(root.join("docs/edifact-mapping.md")).expect("reads");
        let start = doc.find("| JSON field |").unwrap_or(doc.len());
        let end = doc[start..]
            .find("\n\n")
            .map_or(doc.len(), |e| start + e + 1);
        let doc = format!(
            "{}{}{}",
            &doc[..start],
            mapping::markdown_table(),
            &doc[end..]
        );
        std::fs::write(root.join("docs/edifact-mapping.md"), doc).expect("writes");
        return;
    }
    assert_eq!(
        rendered, EXAMPLE_EDI,
        "examples/declaration-import.edi is the example's rendering; update it deliberately"
    );
    let lodging = read_lodging(rendered.as_bytes()).expect("reads");
    assert_eq!(lodging.cusdec.dto, example());
    assert_eq!(
        lodging.cusdec.document_number.as_deref(),
        Some("PE20261107")
    );
    assert_eq!(lodging.interchange.sender, "91310000MA1FL0001R");
}

#[test]
fn every_fixture_in_test_data_reads_and_round_trips() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let mut seen = 0;
    for entry in std::fs::read_dir(folder).expect("test_data") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "edi") {
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&path).expect("reads");
        let lodging = read_lodging(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
        let again = render(&lodging.cusdec.dto, &envelope("X")).expect("renders");
        let back = read_lodging(again.as_bytes()).expect("reads back");
        assert_eq!(back.cusdec.dto, lodging.cusdec.dto, "{path:?}");
    }
    assert!(seen >= 2, "the fixtures are read");
}

#[test]
fn charges_preferences_exports_and_long_texts_round_trip() {
    let mut dto = example();
    dto.direction = Some("export".into());
    dto.destination_country = Some("US".into());
    dto.freight = Some(wire::declaration::ChargeDto {
        kind: Some("per_unit".into()),
        amount: Some(wire::declaration::NumText("12.5".into())),
        currency: Some("USD".into()),
        percent: None,
        unit: Some("TNE".into()),
    });
    dto.insurance = Some(wire::declaration::ChargeDto {
        kind: Some("rate".into()),
        percent: Some(wire::declaration::NumText("0.3".into())),
        ..Default::default()
    });
    dto.items[0].description = Some("智能手机 5G 256GB: a 'quoted' + released? text ".repeat(5));
    dto.items[1].preference = Some(wire::declaration::PreferenceDto {
        agreement: Some("RCEP".into()),
        proof_number: Some("E261234567890001".into()),
        proof_item: Some(wire::declaration::NumText("2".into())),
    });
    if let Some(trader) = dto.trader.as_mut() {
        trader.name = Some("上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd. — 进出口部 Import & Export Department".into());
    }
    let rendered = render(&dto, &envelope("R2")).expect("renders");
    assert!(rendered.contains("NAD+EX+"), "an exporter: {rendered}");
    assert_eq!(
        read_lodging(rendered.as_bytes()).expect("reads").cusdec.dto,
        dto
    );
}

#[test]
fn cbec_orders_and_proofs_of_origin_are_refused_not_dropped() {
    let mut dto = example();
    dto.origin_proofs.push(Default::default());
    assert_eq!(
        render(&dto, &envelope("R")).unwrap_err().path,
        "origin_proofs"
    );
    let mut dto = example();
    dto.postal_parcel = Some(Default::default());
    assert_eq!(
        render(&dto, &envelope("R")).unwrap_err().path,
        "postal_parcel"
    );
}

#[test]
fn una_release_characters_and_another_decimal_mark_are_read() {
    let text = "UNA:+,? '\r\nUNB+UNOC:3+S+R+261107:0930+9'\r\nUNH+1+CUSDEC:D:96B:UN'BGM+929+A?+B?'C+9'\
                MEA+WT+AAD+KGM:460,5'UNS+D'CST+1+8517130000'FTX+AAA+++Caf\u{e9}?:s'UNS+S'UNT+8+1'UNZ+1+9'";
    // UNOC is ISO 8859-1: the é is one byte.
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let lodging = read_lodging(&bytes).expect("reads");
    assert_eq!(lodging.cusdec.document_number.as_deref(), Some("A+B'C"));
    assert_eq!(
        lodging
            .cusdec
            .dto
            .gross_mass_kg
            .as_ref()
            .map(|n| n.0.as_str()),
        Some("460.5")
    );
    assert_eq!(
        lodging.cusdec.dto.items[0].description.as_deref(),
        Some("Café:s")
    );
}

#[test]
fn an_unknown_segment_is_a_syntax_error_naming_it_and_its_position() {
    let e = syntax_error(&interchange(&["BGM+929", "XYZ+1", "UNS+D", "UNS+S"]));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.segment),
        (codes::NOT_SUPPORTED_IN_POSITION, "XYZ", 3)
    );
    assert_eq!(e.message_reference.as_deref(), Some("M1"));
}

#[test]
fn a_missing_mandatory_segment_is_named() {
    let e = syntax_error(&interchange(&["CST++0110", "UNS+D", "UNS+S"]));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.segment),
        (codes::MISSING, "BGM", 2)
    );
    let e = syntax_error(&interchange(&["BGM+929", "UNS+D"]));
    assert_eq!((e.code, e.at.tag.as_str()), (codes::MISSING, "UNS"));
}

#[test]
fn a_wrong_segment_count_or_message_reference_in_unt_is_named() {
    let good = interchange(&["BGM+929", "UNS+D", "UNS+S"]);
    let e = syntax_error(&good.replace("UNT+5+M1", "UNT+6+M1"));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.segment, e.at.element),
        (codes::CONTROL_COUNT_DOES_NOT_MATCH, "UNT", 5, Some(1))
    );
    let e = syntax_error(&good.replace("UNT+5+M1", "UNT+5+M2"));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.element),
        (codes::REFERENCES_DO_NOT_MATCH, "UNT", Some(2))
    );
}

#[test]
fn a_bad_syntax_identifier_and_an_unterminated_release_are_named() {
    let good = interchange(&["BGM+929", "UNS+D", "UNS+S"]);
    let e = syntax_error(&good.replace("UNOY:4", "UNOZ:4"));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.element, e.at.component),
        (codes::SYNTAX_LEVEL_NOT_SUPPORTED, "UNB", Some(1), Some(1))
    );
    let e = syntax_error(&good.replace("UNOY:4", "UNOY:9"));
    assert_eq!(
        (e.code, e.at.component),
        (codes::SYNTAX_LEVEL_NOT_SUPPORTED, Some(2))
    );
    let e = syntax_error(&format!(
        "{}UNZ+1+REF?",
        good.trim_end_matches("UNZ+1+REF1'")
    ));
    assert_eq!(
        (e.code, e.at.tag.as_str()),
        (codes::INVALID_SERVICE_CHARACTERS, "UNZ")
    );
    let e = syntax_error(good.trim_end_matches('\''));
    assert_eq!((e.code, e.at.tag.as_str()), (codes::MISSING, "UNZ"));
}

#[test]
fn characters_outside_the_repertoire_are_named() {
    let good = interchange(&[
        "BGM+929",
        "UNS+D",
        "CST+1+8517130000",
        "FTX+AAA+++Phones",
        "UNS+S",
    ]);
    let e = syntax_error(&good.replace("UNOY:4", "UNOA:3"));
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.element),
        (codes::INVALID_CHARACTERS, "FTX", Some(4))
    );
    assert!(read_lodging(good.replace("UNOY:4", "UNOB:3").as_bytes()).is_ok());
    let mut bytes = good.replace("Phones", "Ph\u{0}").into_bytes();
    bytes.retain(|_| true);
    assert!(
        matches!(read_lodging(&bytes), Err(ReadError::Syntax(e)) if e.code == codes::INVALID_CHARACTERS)
    );
}

#[test]
fn element_length_is_limited_at_its_edge() {
    let at_limit = interchange(&[
        "BGM+929",
        "UNS+D",
        "CST+1+8517130000",
        &format!("FTX+AAA+++{}", "x".repeat(ELEMENT_LENGTH_MAX)),
        "UNS+S",
    ]);
    assert!(!matches!(
        read_lodging(at_limit.as_bytes()),
        Err(ReadError::Syntax(_))
    ));
    let over = at_limit.replace(
        &"x".repeat(ELEMENT_LENGTH_MAX),
        &"x".repeat(ELEMENT_LENGTH_MAX + 1),
    );
    let e = syntax_error(&over);
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.element, e.at.component),
        (codes::DATA_ELEMENT_TOO_LONG, "FTX", Some(4), Some(1))
    );
}

#[test]
fn segments_per_message_are_limited_at_their_edge() {
    let filler = "FTX+AAA+++x";
    let fixed = ["BGM+929", "UNS+D", "CST+1+8517130000", "UNS+S"];
    let mut body: Vec<&str> = fixed[..3].to_vec();
    // UNH, UNT and the fixed segments count too.
    body.extend(std::iter::repeat_n(
        filler,
        SEGMENTS_PER_MESSAGE_MAX - fixed.len() - 2,
    ));
    body.push("UNS+S");
    assert!(!matches!(
        read_lodging(interchange(&body).as_bytes()),
        Err(ReadError::Syntax(_))
    ));
    body.insert(3, filler);
    let e = syntax_error(&interchange(&body));
    assert_eq!(
        (e.code, e.at.tag.as_str()),
        (codes::TOO_MANY_REPETITIONS, "UNT")
    );
}

#[test]
fn messages_per_interchange_are_limited_at_their_edge() {
    let one = interchange(&["BGM+929", "UNS+D", "UNS+S"]);
    assert!(parse_interchange(one.as_bytes()).is_ok());
    let message = "UNH+M2+CUSDEC:D:96B:UN'BGM+929'UNS+D'UNS+S'UNT+5+M2'";
    let two = one.replace("UNZ+1+REF1'", &format!("{message}UNZ+2+REF1'"));
    let e = parse_interchange(two.as_bytes()).unwrap_err();
    assert_eq!(
        (e.code, e.at.tag.as_str(), e.at.segment),
        (codes::TOO_MANY_REPETITIONS, "UNH", 7)
    );
}

#[test]
fn interchange_size_is_limited_at_its_edge() {
    let one = interchange(&["BGM+929", "UNS+D", "UNS+S"]);
    let pad = INTERCHANGE_BYTES_MAX - one.len();
    let at_limit = format!("{}{one}", "\n".repeat(pad));
    assert!(parse_interchange(at_limit.as_bytes()).is_ok());
    let e = parse_interchange(format!("\n{at_limit}").as_bytes()).unwrap_err();
    assert_eq!(e.code, codes::UNSPECIFIED);
}

#[test]
fn mapping_errors_name_segment_position_and_element() {
    let errors = content_errors(&interchange(&[
        "BGM+123",
        "LOC+99+X",
        "UNS+D",
        "CST+2+8517130000",
        "QTY+1:5",
        "UNS+S",
    ]));
    let found: Vec<(&str, &str, usize, Option<usize>)> = errors
        .iter()
        .map(|r| (r.path.as_str(), r.segment.as_str(), r.position, r.element))
        .collect();
    assert_eq!(
        found,
        [
            ("direction", "BGM+123", 2, Some(1)),
            ("", "LOC+99", 3, Some(1)),
            ("items[0]", "CST+2", 5, Some(1)),
            ("", "QTY+1", 6, None),
        ]
    );
    assert_eq!(errors[2].group, "SG30");
    assert!(
        errors
            .iter()
            .all(|r| !r.message_en.is_empty() && !r.message_zh.is_empty())
    );
}

#[test]
fn a_json_refusal_is_translated_to_the_cusdec_location_that_carried_the_field() {
    let rendered = render(&example(), &envelope("R")).expect("renders");
    let lodging = read_lodging(rendered.as_bytes()).expect("reads");
    let error = |path: &str| domain::FieldError::required(path);
    let origin = lodging.cusdec.locate(&error("items[1].origin_country"));
    let line = rendered
        .lines()
        .position(|l| l == "LOC+27+MY'")
        .expect("item 2's origin")
        + 1;
    // Lines 1 and 2 are UNA and UNB; UNH is line 3, segment 1.
    assert_eq!(
        (
            origin.group.as_str(),
            origin.segment.as_str(),
            origin.position,
            origin.element,
            origin.component
        ),
        ("SG30", "LOC+27", line - 2, Some(2), Some(1))
    );
    assert_eq!(
        origin.location(),
        format!("SG30 LOC+27 (segment {}), element 2, component 1", line - 2)
    );
    // An absent field: the mapping's place, at the position of its item's CST.
    let mut dto = example();
    dto.items[1].origin_country = None;
    let rendered = render(&dto, &envelope("R")).expect("renders");
    let lodging = read_lodging(rendered.as_bytes()).expect("reads");
    let missing = lodging.cusdec.locate(&error("items[1].origin_country"));
    let cst = rendered
        .lines()
        .position(|l| l.starts_with("CST+2+"))
        .expect("item 2")
        + 1;
    assert_eq!(
        (missing.segment.as_str(), missing.position, missing.element),
        ("LOC+27", cst - 2, Some(2))
    );
    let unknown = lodging.cusdec.locate(&error("cbec_order.platform"));
    assert_eq!(unknown.segment, "UNT");
}

#[test]
fn the_mapping_document_is_the_table_in_the_code() {
    let doc = include_str!("../../../docs/edifact-mapping.md");
    assert!(
        doc.contains(&mapping::markdown_table()),
        "docs/edifact-mapping.md must contain mapping::markdown_table(); regenerate it"
    );
    for p in mapping::MAPPING {
        assert_eq!(mapping::place_of(p.path), Some(p));
    }
    assert_eq!(
        mapping::place_of("items[12].quantity.value").map(|p| p.segment),
        Some("MEA+AAA")
    );
}

#[test]
fn cusres_names_the_number_or_every_problem() {
    let lodgement = wire::LodgementView {
        created: true,
        id: "D-1".into(),
        number: "220020261000000001".into(),
        status: "accepted".into(),
        kind: "ordinary".into(),
        direction: "import".into(),
        version: 1,
        lodged_at: "2026-11-07T09:30:00Z".into(),
        summary_number: None,
        lane: Some("red".into()),
        assessment: "assessed".into(),
        amount_due: Some("9605.98".into()),
        regime: Some("general_trade".into()),
    };
    let accepted = acceptance(&envelope("A1"), &lodgement, Some("PE1"));
    assert!(accepted.contains("BGM+961+220020261000000001+29'"));
    assert!(accepted.contains("GIS+red'"), "{accepted}");
    assert!(accepted.contains("RFF+ABT:220020261000000001'"));
    assert!(
        accepted.contains("TAX+9'\nMOA+128:9605.98:CNY'"),
        "{accepted}"
    );
    let pending = wire::LodgementView {
        lane: None,
        assessment: "pending".into(),
        amount_due: None,
        ..lodgement
    };
    let accepted_pending = acceptance(&envelope("A1"), &pending, Some("PE1"));
    assert!(!accepted_pending.contains("GIS+") && !accepted_pending.contains("MOA+"));
    assert!(parse_interchange(accepted.as_bytes()).is_ok(), "{accepted}");
    let refusals = content_errors(&interchange(&["BGM+123", "UNS+D", "UNS+S"]));
    let refused = refusal(&envelope("A2"), &refusals, Some("PE1"));
    assert!(refused.contains("BGM+961+PE1+27'"), "{refused}");
    assert!(refused.contains("ERP++BGM:2'"), "{refused}");
    assert!(refused.contains("RFF+ZZZ:direction'"), "{refused}");
    assert!(
        refused.contains("FTX+AAO+++BGM+123 (segment 2), element 1, component 1'")
            || refused.contains("FTX+AAO+++BGM?+123"),
        "{refused}"
    );
    assert!(refused.contains("+ZH'"), "{refused}");
    assert!(parse_interchange(refused.as_bytes()).is_ok(), "{refused}");
}

#[test]
fn a_receipt_is_rendered_from_the_trade_view_alone() {
    let receipt = wire::views::TradeReceiptView {
        seq: 42,
        recorded_at: "2026-11-21T08:30:00Z".into(),
        receipt: "checks_required".into(),
        by: "customs".into(),
        number: Some("220020261000000001".into()),
        reason: None,
        amount: Some("1234.50".into()),
        reference: None,
        difference: None,
        settlement: None,
        checks: vec!["document_check".into()],
        continuity: None,
    };
    let text = render_receipt(&receipt, "220020261000000001", Some("PE1"));
    assert!(text.contains("BGM+917+220020261000000001+9'"), "{text}");
    assert!(text.contains("DTM+137:202611210830:203'"), "{text}");
    assert!(text.contains("GIS+document_check'"), "{text}");
    assert!(text.contains("TAX+9'\nMOA+128:1234.50:CNY'"), "{text}");
    assert!(parse_interchange(text.as_bytes()).is_ok(), "{text}");
}

#[test]
fn contrl_names_segment_position_and_element() {
    let good = interchange(&["BGM+929", "UNS+D", "UNS+S"]);
    let bad = good.replace("UNT+5+M1", "UNT+6+M1");
    let e = syntax_error(&bad);
    let answer = contrl(&envelope("C1"), &received(bad.as_bytes()), &e);
    assert!(answer.contains("UCI+REF1+SENDER+CNCUSTOMS+4'"), "{answer}");
    assert!(answer.contains("UCM+M1+CUSDEC:D:96B:UN+4+29'"), "{answer}");
    assert!(answer.contains("UCS+5'"), "{answer}");
    assert!(answer.contains("UCD+29+2:1'"), "{answer}");
    let envelope_error = syntax_error(&good.replace("UNOY:4", "UNOZ:4"));
    let answer = contrl(&envelope("C2"), &received(good.as_bytes()), &envelope_error);
    assert!(
        answer.contains("UCI+REF1+SENDER+CNCUSTOMS+4+2+UNB+2:1'"),
        "{answer}"
    );
    assert!(parse_interchange(answer.as_bytes()).is_ok());
    // A missing segment: UCS names the last segment before where it was expected.
    let missing = syntax_error(&interchange(&["CST++0110", "UNS+D", "UNS+S"]));
    let answer = contrl(&envelope("C3"), &received(good.as_bytes()), &missing);
    assert!(answer.contains("UCS+1+13'"), "{answer}");
}

proptest! {
    /// Any value written with the release character reads back as itself, and no input makes
    /// the reader panic.
    #[test]
    fn released_values_read_back(value in "[ -~\u{4e00}-\u{4e20}]{0,60}") {
        let mut w = syntax::Writer::new();
        w.segment("FTX", &[&["AAA"], &[], &[], &[&value]]);
        let segment = w.finish();
        let text = interchange(&["BGM+929", "UNS+D", "CST+1+8517130000", segment.trim_end().strip_suffix('\'').unwrap_or_default(), "UNS+S"]);
        let lodging = read_lodging(text.as_bytes());
        let trimmed = value.clone();
        match lodging {
            Ok(l) => prop_assert_eq!(l.cusdec.dto.items[0].description.clone().unwrap_or_default(), trimmed),
            Err(e) => prop_assert!(false, "{:?}", e),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_lodging(&bytes);
        let mut prefixed = b"UNB+UNOY:4+S+R+261107:0930+1'UNH+1+CUSDEC:D:96B:UN'".to_vec();
        prefixed.extend(&bytes);
        let _ = read_lodging(&prefixed);
        let _ = received(&prefixed);
    }
}
