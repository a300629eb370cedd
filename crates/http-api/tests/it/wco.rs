//! Lodging WCO DM 3.6 XML over the real HTTP path: the README's example, refusals named by WCO
//! element path, idempotency on the LRN, and every HMRC sample declaration; every answer is a
//! WCO response that validates against HMRC's schema (Debian's xmllint; missing, the tests fail).

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use wco::response::Notification;
use wire::DeclarationDto;

use crate::helpers::{example, spawn_app};

fn wco_data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wco/test_data/hmrc")
        .join(path)
}

pub(crate) fn assert_valid_response(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("response.xml");
    std::fs::write(&file, xml).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(wco_data("schemas/response-with-envelope.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint (Debian's libxml2-utils) must be installed: .ci/run installs it");
    assert!(
        output.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn example_xml() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/declaration-import.xml"),
    )
    .unwrap()
}

#[tokio::test]
async fn the_readme_example_lodged_as_wco_xml_is_accepted_and_answered_with_dmsacc() {
    let app = spawn_app().await;

    let reply = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            example_xml().into_bytes(),
        )
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(reply.content_type().starts_with("application/xml"));
    assert_valid_response(&reply.text);
    let answer = wco::read_response(reply.text.as_bytes()).unwrap();
    assert_eq!(answer.notification, Some(Notification::Acc));
    assert_eq!(
        answer.functional_reference.as_deref(),
        Some("PE-2026-1107-LRN")
    );
    // The lodging answer's assessment (and amount due when assessed) as the JSON answer has them.
    let assessment = answer
        .statements
        .iter()
        .find(|(code, _)| code.as_deref() == Some("ASSESSMENT"))
        .and_then(|(_, text)| text.clone())
        .expect("the assessment is told");
    assert_eq!(
        assessment == "assessed",
        !answer.amounts.is_empty(),
        "{}",
        reply.text
    );
    let number = answer.declaration_id.unwrap();
    assert_eq!(number.len(), 18);
    // The declaration recorded is the JSON example, field for field.
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    let stored = app.get(&location, "broker").await;
    assert_eq!(stored.body["number"], number.as_str());
    let lodged: DeclarationDto =
        serde_json::from_value(stored.body["declaration"].clone()).unwrap();
    let json_example: DeclarationDto = serde_json::from_value(example()).unwrap();
    assert_eq!(lodged.items.len(), json_example.items.len());
    assert_eq!(lodged.invoice, json_example.invoice);

    // The same message again (no Idempotency-Key): its LRN is the key, so the first answer.
    let again = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("text/xml; charset=utf-8"),
            example_xml().into_bytes(),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(
        wco::read_response(again.text.as_bytes())
            .unwrap()
            .declaration_id
            .as_deref(),
        Some(number.as_str())
    );

    // Another LRN is another declaration.
    let other = example_xml().replace("PE-2026-1107-LRN", "PE-2026-1107-LRN2");
    let third = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            other.into_bytes(),
        )
        .await;
    assert_eq!(third.status, StatusCode::CREATED);
    assert_ne!(
        wco::read_response(third.text.as_bytes())
            .unwrap()
            .declaration_id
            .as_deref(),
        Some(number.as_str())
    );

    // JSON is unchanged on the same route.
    let json = app.lodge("broker", &example()).await;
    assert_eq!(json.status, StatusCode::CREATED);
    assert_eq!(json.content_type(), "application/json");
}

#[tokio::test]
async fn a_refused_wco_lodging_names_every_problem_by_wco_element_path() {
    let app = spawn_app().await;
    let mut broken: DeclarationDto = serde_json::from_value(example()).unwrap();
    broken.items[1].origin_country = Some("XX".into());
    broken.invoice.as_mut().unwrap().currency = Some("USX".into());
    broken.trader.as_mut().unwrap().credit_code = Some("91310115MA1H000025".into());
    let xml = wco::render_declaration(&broken, Some("LRN-BROKEN"));

    let reply = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            xml.into_bytes(),
        )
        .await;

    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert_valid_response(&reply.text);
    let answer = wco::read_response(reply.text.as_bytes()).unwrap();
    assert_eq!(answer.notification, Some(Notification::Rej));
    assert_eq!(answer.functional_reference.as_deref(), Some("LRN-BROKEN"));
    let mut paths: Vec<String> = answer
        .errors
        .iter()
        .map(|e| {
            e.description
                .as_deref()
                .unwrap()
                .split(": ")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "Declaration/AdditionalInformation[StatementCode='TRADER-USCC']/StatementDescription",
            "Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Origin/CountryCode",
            "Declaration/InvoiceAmount/@currencyID",
        ]
    );
    assert!(
        answer
            .errors
            .iter()
            .all(|e| e.description.as_deref().unwrap().contains(" / "))
    );
}

#[tokio::test]
async fn xml_that_is_not_a_declaration_is_refused_with_a_wco_rejection() {
    let app = spawn_app().await;
    for body in [
        "<Declaration>".to_owned(),
        r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Declaration><FunctionCode>&xxe;</FunctionCode></Declaration>"#.to_owned(),
        "{\"direction\": \"import\"}".to_owned(),
    ] {
        let reply = app.post_file("/v1/declarations", "broker", Some("application/xml"), body.into_bytes()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_valid_response(&reply.text);
        let answer = wco::read_response(reply.text.as_bytes()).unwrap();
        assert!(answer.errors[0].description.as_deref().unwrap().starts_with("/: "));
    }
    // An officer may not lodge, in any format: the usual problem JSON.
    let reply = app
        .post_file(
            "/v1/declarations",
            "officer",
            Some("application/xml"),
            example_xml().into_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

const SAMPLES: &[&str] = &[
    "TT_IM001a/Step1_TT_IM001a.xml",
    "TT_IM001b/TT_IM001b.xml",
    "TT_IM001d/TT_IM001d.xml",
    "TT_IM004a/TT_IM004a.xml",
    "TT_IM017a/Step1_TT_IM017a.xml",
    "TT_IM017a/TT_IM017a_Amendment.xml",
    "TT_IM031a/TT_IM031a.xml",
    "TT_IM083a/Step1_TT_IM083a.xml",
    "TT_EX001a/TT_EX001a.xml",
];

#[tokio::test]
async fn every_hmrc_sample_declaration_is_refused_over_http_with_every_problem_named() {
    let app = spawn_app().await;
    for name in SAMPLES {
        let bytes = std::fs::read(wco_data(&format!("samples/{name}"))).unwrap();
        let mapped = wco::parse_declaration(&bytes).unwrap();

        let reply = app
            .post_file("/v1/declarations", "broker", Some("application/xml"), bytes)
            .await;

        // UK codes (offices, EORI numbers, procedure codes) are not in the China profile.
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            reply.text
        );
        assert_valid_response(&reply.text);
        let answer = wco::read_response(reply.text.as_bytes()).unwrap();
        assert_eq!(answer.notification, Some(Notification::Rej), "{name}");
        assert_eq!(
            answer.functional_reference, mapped.functional_reference,
            "{name}"
        );
        let paths: Vec<&str> = answer
            .errors
            .iter()
            .map(|e| {
                e.description
                    .as_deref()
                    .unwrap()
                    .split(": ")
                    .next()
                    .unwrap()
            })
            .collect();
        // Every element the profile does not carry, then what the lodging path found.
        for problem in &mapped.problems {
            assert!(
                paths.contains(&problem.path.as_str()),
                "{name}: {} missing",
                problem.path
            );
        }
        assert!(
            paths.len() > mapped.problems.len(),
            "{name}: the lodging path's checks are added"
        );
        for path in &paths {
            assert!(
                path.starts_with("Declaration") || path.starts_with("MetaData/"),
                "{name}: {path}"
            );
        }
        assert!(
            paths.contains(
                &"Declaration/AdditionalInformation[StatementCode='PROCEDURE']/StatementDescription"
            ),
            "{name}: the missing procedure is named: {paths:#?}"
        );
    }
}

#[tokio::test]
async fn wco_lodgings_are_counted_like_json_ones() {
    let app = spawn_app().await;
    let accepted = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            example_xml().into_bytes(),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    let sample = std::fs::read(wco_data("samples/TT_IM001a/Step1_TT_IM001a.xml")).unwrap();
    let refused = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            sample,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unreadable = app
        .post_file(
            "/v1/declarations",
            "broker",
            Some("application/xml"),
            b"<Declaration>".to_vec(),
        )
        .await;
    assert_eq!(unreadable.status, StatusCode::UNPROCESSABLE_ENTITY);

    let metrics = crate::helpers::send(app.http.get(app.url("/metrics"))).await;

    for line in [
        r#"lodgements_total{outcome="accepted"} 1"#,
        r#"lodgements_total{outcome="rejected"} 2"#,
        r#"http_requests_total{route="/v1/declarations",method="POST",status="422"} 2"#,
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "{line} in\n{}",
            metrics.text
        );
    }
}
