//! CUSDEC lodged over HTTP (`Content-Type: application/edifact`): CUSRES for acceptance and
//! refusal, CONTRL for syntax errors, the idempotency key derived from the interchange, limits.

use reqwest::StatusCode;

use crate::helpers::{Reply, TestApp, example, send, spawn_app};

pub(crate) const EXAMPLE_EDI: &str = include_str!("../../../../examples/declaration-import.edi");

async fn lodge_edi(app: &TestApp, user: &str, body: &str, accept: Option<&str>) -> Reply {
    let mut request = app
        .http
        .post(app.url("/v1/declarations"))
        .bearer_auth(app.token(user))
        .header("content-type", "application/edifact")
        .body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    send(request).await
}

/// The position of the first segment starting with `prefix` in the example's message (UNH = 1;
/// the file has UNA and UNB on the two lines before UNH).
fn position_in_example(text: &str, prefix: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(prefix))
        .nth(nth)
        .map(|(i, _)| i + 1 - 2)
        .expect("the segment is in the example")
}

#[tokio::test]
async fn the_example_cusdec_is_accepted_with_a_cusres_naming_its_number_and_a_resend_lodges_nothing()
 {
    let app = spawn_app().await;

    let first = lodge_edi(&app, "broker", EXAMPLE_EDI, None).await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.content_type(), "application/edifact");
    let number = first
        .text
        .lines()
        .find_map(|l| l.strip_prefix("RFF+ABT:"))
        .and_then(|n| n.strip_suffix('\''))
        .expect("the declaration number")
        .to_owned();
    assert_eq!(number.len(), 18, "{}", first.text);
    assert!(
        first.text.contains(&format!("BGM+961+{number}+29'")),
        "{}",
        first.text
    );
    assert!(first.text.contains("RFF+ABO:PE20261107'"), "{}", first.text);
    let location = first.headers["location"].to_str().unwrap().to_owned();
    let read = app.get(&location, "broker").await;
    assert_eq!(read.body["number"], number.as_str());
    // The same declaration as the JSON example: the mapping lost and changed nothing.
    assert_eq!(read.body["declaration"], example(), "{}", read.text);

    // The same interchange again, without an Idempotency-Key: the sender and BGM's document
    // number are the key, so the first result comes back and nothing is lodged twice.
    let again = lodge_edi(&app, "broker", EXAMPLE_EDI, None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert!(again.text.contains(&format!("RFF+ABT:{number}'")));
    let listed = app.get("/v1/declarations", "broker").await;
    assert_eq!(
        listed.body["declarations"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
}

#[tokio::test]
async fn a_refusal_names_the_segment_its_position_and_element_in_english_and_chinese() {
    let app = spawn_app().await;
    let broken = EXAMPLE_EDI.replace("LOC+27+MY'", "LOC+27+XX'");
    let position = position_in_example(&broken, "LOC+27+", 1);

    let refused = lodge_edi(&app, "broker", &broken, None).await;

    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert_eq!(refused.content_type(), "application/edifact");
    assert!(
        refused.text.contains("BGM+961+PE20261107+27'"),
        "{}",
        refused.text
    );
    assert!(
        refused
            .text
            .contains(&format!("ERP+SG30:2+LOC:{position}'")),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("RFF+ZZZ:items[1].origin_country'"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains(&format!(
            "FTX+AAO+++SG30 LOC?+27 (segment {position}), element 2, component 1'"
        )),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("+EN'") && refused.text.contains("+ZH'"),
        "{}",
        refused.text
    );

    let as_problem = lodge_edi(&app, "broker", &broken, Some("application/problem+json")).await;
    as_problem.assert_problem(422);
    assert_eq!(
        as_problem.error_paths()[0].0,
        format!(
            "SG30 LOC+27 (segment {position}), element 2, component 1 (items[1].origin_country)"
        )
    );
    let listed = app.get("/v1/declarations", "broker").await;
    assert_eq!(
        listed.body["declarations"].as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn a_segment_the_profile_does_not_carry_is_refused_with_its_position() {
    let app = spawn_app().await;
    let with_equipment = EXAMPLE_EDI
        .replace("TOD+++FOB'\n", "TOD+++FOB'\nEQD+CN+COSU1234567'\n")
        .replace("UNT+45+1'", "UNT+46+1'");
    let position = position_in_example(&with_equipment, "EQD+", 0);

    let refused = lodge_edi(&app, "broker", &with_equipment, None).await;

    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains(&format!("ERP+SG7+EQD:{position}'")),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_syntax_error_is_answered_with_contrl_naming_segment_position_and_element() {
    let app = spawn_app().await;
    let wrong_count = EXAMPLE_EDI.replace("UNT+45+1'", "UNT+44+1'");

    let refused = lodge_edi(&app, "broker", &wrong_count, None).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.content_type(), "application/edifact");
    assert!(
        refused.text.contains("UNH+1+CONTRL:4:1:UN'"),
        "{}",
        refused.text
    );
    assert!(
        refused
            .text
            .contains("UCI+PE20261107+91310000MA1FL0001R+CNCUSTOMS+4'"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("UCM+1+CUSDEC:D:96B:UN+4+29'"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("UCS+45'") && refused.text.contains("UCD+29+2:1'"),
        "{}",
        refused.text
    );
    let words = refused.headers["customs-syntax-error"].to_str().unwrap();
    assert!(words.contains("UNT (segment 45), element 1"), "{words}");

    let unknown = EXAMPLE_EDI.replace("TOD+++FOB'", "XYZ+1'");
    let position = position_in_example(&unknown, "XYZ+", 0);
    let refused = lodge_edi(&app, "broker", &unknown, Some("application/problem+json")).await;
    refused.assert_problem(400);
    assert_eq!(
        refused.error_paths()[0].0,
        format!("XYZ (segment {position})")
    );
}

#[tokio::test]
async fn an_interchange_over_its_size_is_refused_before_it_is_read_and_two_messages_are_refused() {
    let app = spawn_app().await;
    let limit = edifact::limits::INTERCHANGE_BYTES_MAX;
    let padded = format!("{}{EXAMPLE_EDI}", "\n".repeat(limit - EXAMPLE_EDI.len()));
    let at_limit = lodge_edi(&app, "broker", &padded, None).await;
    assert_eq!(
        at_limit.status,
        StatusCode::CREATED,
        "{}",
        &at_limit.text[..at_limit.text.len().min(500)]
    );
    let over = lodge_edi(&app, "broker", &format!("\n{padded}"), None).await;
    over.assert_problem(413);

    let unh = EXAMPLE_EDI.find("UNH").unwrap();
    let unz = EXAMPLE_EDI.find("UNZ").unwrap();
    let message = EXAMPLE_EDI[unh..unz]
        .replace("UNH+1+", "UNH+2+")
        .replace("UNT+45+1'", "UNT+45+2'");
    let two = EXAMPLE_EDI.replace("UNZ+1+", &format!("{message}UNZ+2+"));
    let refused = lodge_edi(&app, "broker", &two, None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(refused.text.contains("+4+35+UNH'"), "{}", refused.text);
}
