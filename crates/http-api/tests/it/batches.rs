//! Bulk lodging over the real HTTP server: JSON lines and CSV, per-row results streamed and read
//! again, resending after an interruption, and the limits at their edges.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Reply, TestApp, broken_example, example, send, spawn_app};

const TEMPLATE: &str = include_str!("../../../../docs/bulk-csv-template.csv");

async fn lodge_batch(app: &TestApp, batch: &str, content_type: &str, body: Vec<u8>) -> Reply {
    send(
        app.http
            .post(app.url(&format!("/v1/declaration-batches/{batch}")))
            .bearer_auth(app.token("broker"))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

/// The JSON lines of a streamed answer: the rows' results, then the summary.
fn lines(reply: &Reply) -> (Vec<Value>, Value) {
    let mut values: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let summary = values.pop().expect("a summary line");
    (values, summary)
}

fn ndjson(documents: &[Value]) -> Vec<u8> {
    documents
        .iter()
        .map(|d| format!("{d}\n"))
        .collect::<String>()
        .into_bytes()
}

async fn declarations_of(app: &TestApp) -> usize {
    let listed = app.get("/v1/declarations?limit=100", "broker").await;
    listed.body["declarations"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_mixed_file_answers_each_row_with_its_number_or_its_named_problems() {
    let app = spawn_app().await;
    let mut body = ndjson(&[example(), broken_example()]);
    body.extend_from_slice(b"\nnot json at all\n");
    body.extend(ndjson(&[example()]));

    let reply = lodge_batch(&app, "mixed-1", "application/x-ndjson", body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.content_type(), "application/x-ndjson");
    let (rows, summary) = lines(&reply);
    let outcomes: Vec<(u64, u64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["line"].as_u64().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, 1, "created"),
            (2, 2, "refused"),
            (3, 4, "refused"),
            (4, 5, "created")
        ]
    );
    assert_eq!(rows[0]["number"].as_str().map(str::len), Some(18));
    let paths: Vec<&str> = rows[1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths.len(),
        4,
        "every error of the broken example: {}",
        rows[1]
    );
    for error in rows[1]["errors"].as_array().unwrap() {
        assert_eq!(error["place"], "line 2");
        assert!(
            !error["message_en"].as_str().unwrap().is_empty()
                && !error["message_zh"].as_str().unwrap().is_empty()
        );
    }
    assert_eq!(rows[2]["errors"][0]["code"], "invalid_json");
    assert_eq!(summary["created"], 2);
    assert_eq!(summary["refused"], 2);
    assert_eq!(summary["complete"], true);

    let again = app.get("/v1/declaration-batches/mixed-1", "broker").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.text, reply.text,
        "the results read again are those streamed"
    );
    let others = send(
        app.http
            .get(app.url("/v1/declaration-batches/mixed-1"))
            .bearer_auth(app.token("declarant")),
    )
    .await;
    assert_eq!(
        others.status,
        StatusCode::NOT_FOUND,
        "another user's batch is not theirs to read"
    );
}

#[tokio::test]
async fn the_csv_template_lodges_the_readme_example_and_names_a_bad_cell_by_line_and_column() {
    let app = spawn_app().await;

    let reply = lodge_batch(&app, "csv-1", "text/csv", TEMPLATE.as_bytes().to_vec()).await;

    let (rows, _) = lines(&reply);
    assert_eq!(rows.len(), 1, "two lines, one declaration: {}", reply.text);
    assert_eq!(rows[0]["outcome"], "created", "{}", reply.text);
    let id = rows[0]["id"].as_str().unwrap();
    let read = app.get(&format!("/v1/declarations/{id}"), "broker").await;
    assert_eq!(
        read.body["declaration"],
        example(),
        "the template is the example"
    );

    let second_item_line = TEMPLATE.lines().nth(2).unwrap();
    let bad = TEMPLATE.replace(second_item_line, &second_item_line.replace(",MY,", ",XX,"));
    let bad = bad.replace("PE-2026-1107,", "PE-2026-1108,");
    let reply = lodge_batch(&app, "csv-2", "text/csv", bad.into_bytes()).await;
    let (rows, _) = lines(&reply);
    assert_eq!(rows[0]["outcome"], "refused", "{}", reply.text);
    let error = &rows[0]["errors"][0];
    assert_eq!(error["path"], "items[1].origin_country");
    assert_eq!(error["place"], "line 3, column item_origin_country");
}

#[tokio::test]
async fn an_interrupted_batch_resent_lodges_nothing_twice_and_answers_the_done_rows_with_their_first_result()
 {
    let app = spawn_app().await;
    let mut documents = Vec::new();
    for i in 0..6 {
        let mut document = example();
        document["invoice"]["number"] = Value::String(format!("INV-{i}"));
        documents.push(document);
    }
    // The first upload was cut after three declarations.
    let first = lodge_batch(
        &app,
        "resume-1",
        "application/x-ndjson",
        ndjson(&documents[..3]),
    )
    .await;
    let (first_rows, _) = lines(&first);
    assert_eq!(first_rows.len(), 3);

    let whole = lodge_batch(&app, "resume-1", "application/x-ndjson", ndjson(&documents)).await;

    let (rows, summary) = lines(&whole);
    let outcomes: Vec<&str> = rows
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "repeated", "repeated", "repeated", "created", "created", "created"
        ]
    );
    for (before, now) in first_rows.iter().zip(&rows) {
        assert_eq!(
            before["number"], now["number"],
            "a done row answers its first result"
        );
    }
    assert_eq!(
        (summary["created"].as_u64(), summary["repeated"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(declarations_of(&app).await, 6);

    // A client that goes away after the first result: the rest may or may not be lodged, and
    // resending finishes the batch with each declaration lodged once.
    let mut more = Vec::new();
    for i in 0..20 {
        let mut document = example();
        document["invoice"]["number"] = Value::String(format!("MORE-{i}"));
        more.push(document);
    }
    let mut response = app
        .http
        .post(app.url("/v1/declaration-batches/resume-2"))
        .bearer_auth(app.token("broker"))
        .header("content-type", "application/x-ndjson")
        .body(ndjson(&more))
        .send()
        .await
        .expect("answers");
    let first_chunk = response
        .chunk()
        .await
        .expect("a chunk")
        .expect("a first line");
    drop(response);
    let first_line: Value =
        serde_json::from_slice(first_chunk.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let mut resent = None;
    // The dropped stream's lodging ends at its next row; until then the user's slot is held.
    for _ in 0..100 {
        let reply = lodge_batch(&app, "resume-2", "application/x-ndjson", ndjson(&more)).await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE {
            resent = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let resent = resent.expect("the slot is given back");
    let (rows, summary) = lines(&resent);
    assert_eq!(rows[0]["outcome"], "repeated");
    assert_eq!(rows[0]["number"], first_line["number"]);
    assert_eq!(summary["complete"], true);
    assert_eq!(
        summary["created"].as_u64().unwrap() + summary["repeated"].as_u64().unwrap(),
        20
    );
    assert_eq!(declarations_of(&app).await, 26);
}

#[tokio::test]
async fn rows_and_bytes_are_limited_at_their_edges_before_anything_is_lodged() {
    let app = spawn_app().await;
    let rows_max = http_api::BATCH_ROWS_MAX;
    let over = "{}\n".repeat(rows_max + 1);
    let refused = lodge_batch(&app, "limits-1", "application/x-ndjson", over.into_bytes()).await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [(String::new(), "too_many".to_owned())]
    );

    let at_limit = "{}\n".repeat(rows_max);
    let reply = lodge_batch(
        &app,
        "limits-2",
        "application/x-ndjson",
        at_limit.into_bytes(),
    )
    .await;
    let (rows, summary) = lines(&reply);
    assert_eq!(rows.len(), rows_max);
    assert_eq!(summary["refused"], rows_max);

    let bytes_max = http_api::BATCH_BYTES_MAX;
    let mut body = ndjson(&[example()]);
    body.resize(bytes_max, b'\n');
    let reply = lodge_batch(&app, "limits-3", "application/x-ndjson", body.clone()).await;
    assert_eq!(
        lines(&reply).1["created"],
        1,
        "a body of exactly the limit is read"
    );
    body.push(b'\n');
    lodge_batch(&app, "limits-4", "application/x-ndjson", body)
        .await
        .assert_problem(413);
    assert_eq!(declarations_of(&app).await, 1);

    let bad_id = lodge_batch(&app, "no%20spaces", "application/x-ndjson", b"{}".to_vec()).await;
    bad_id.assert_problem(422);
    let wrong_type = lodge_batch(&app, "type-1", "application/json", b"{}".to_vec()).await;
    wrong_type.assert_problem(415);
}

#[tokio::test]
async fn a_user_runs_one_batch_at_a_time_and_a_trade_role_alone_may_lodge_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    // A batch whose body is still arriving holds the user's slot. The client asks to be told
    // when to send the body (Expect: 100-continue): the server says so once the handler reads
    // it, that is once the gate has admitted the batch, so the slot is surely held then.
    let mut slow = tokio::net::TcpStream::connect(app.socket)
        .await
        .expect("connects");
    let head = format!(
        "POST /v1/declaration-batches/slow-1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
        app.token("broker")
    );
    slow.write_all(head.as_bytes()).await.expect("writes");
    let mut told = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buffer = [0u8; 256];
        while !String::from_utf8_lossy(&told).contains("100 Continue") {
            let read = slow.read(&mut buffer).await.expect("reads");
            assert!(
                read > 0,
                "the server closed the slow batch: {:?}",
                String::from_utf8_lossy(&told)
            );
            told.extend_from_slice(&buffer[..read]);
        }
    })
    .await
    .expect("the server asks for the slow batch's body");
    slow.write_all(b"{").await.expect("writes");
    let busy = lodge_batch(&app, "fast-1", "application/x-ndjson", b"{}\n".to_vec()).await;
    busy.assert_problem(503);
    assert!(busy.headers.contains_key("retry-after"));
    drop(slow);

    let officer = send(
        app.http
            .post(app.url("/v1/declaration-batches/officer-1"))
            .bearer_auth(app.token("officer"))
            .header("content-type", "application/x-ndjson")
            .body("{}\n"),
    )
    .await;
    officer.assert_problem(403);
}

/// A WCO XML batch: the README's example, the same with an unknown origin, and one of HMRC's
/// UK declarations, as children of one root element.
fn wco_batch() -> Vec<u8> {
    let example = crate::wco::example_xml();
    let body = |xml: &str| {
        xml.trim_start_matches(|c| c != '<')
            .split_once("?>")
            .map_or(xml, |(_, rest)| rest)
            .to_owned()
    };
    let good = body(&example);
    let bad = good
        .replacen("PE-2026-1107-LRN", "PE-2026-1107-LRN-BAD", 1)
        .replacen(
            "<CountryCode>MY</CountryCode>",
            "<CountryCode>XX</CountryCode>",
            1,
        );
    assert_ne!(bad, good, "the example has a Malaysian origin to spoil");
    let uk = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../wco/test_data/hmrc/samples/TT_IM001a/Step1_TT_IM001a.xml"),
    )
    .unwrap();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Declarations>\n{good}\n{bad}\n{}\n</Declarations>\n",
        body(&uk)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_wco_xml_batch_lodges_each_declaration_and_names_problems_by_wco_path() {
    let app = spawn_app().await;

    let reply = lodge_batch(&app, "wco-1", "application/xml", wco_batch()).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (rows, summary) = lines(&reply);
    let outcomes: Vec<&str> = rows
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["created", "refused", "refused"],
        "{}",
        reply.text
    );
    assert_eq!(summary["created"], 1);
    let paths = |row: &Value| -> Vec<String> {
        row["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect()
    };
    let bad = paths(&rows[1]);
    assert!(
        bad.iter().any(
            |p| p.starts_with("Declaration/GoodsShipment/GovernmentAgencyGoodsItem[")
                && p.ends_with("/Origin/CountryCode")
        ),
        "{bad:?}"
    );
    assert!(
        paths(&rows[2])
            .iter()
            .all(|p| p.starts_with("Declaration") || p.starts_with("MetaData")),
        "{}",
        rows[2]
    );
    // Its receipts will be pushed as WCO notifications: the format is recorded with it.
    let number = rows[0]["number"].as_str().unwrap().to_owned();
    let stored = app
        .get(&format!("/v1/declarations/{number}"), "broker")
        .await;
    assert_eq!(stored.status, StatusCode::OK);

    // Sent again under the same batch id: the LRN is the row's key, nothing is lodged twice.
    let again = lodge_batch(&app, "wco-1", "application/xml", wco_batch()).await;
    let (rows, _) = lines(&again);
    assert_eq!(rows[0]["outcome"], "repeated", "{}", again.text);
    assert_eq!(rows[0]["number"], number.as_str());
    assert_eq!(declarations_of(&app).await, 1);
    // Each row that reached the lodging path counts as a single lodging does (the UK sample is
    // refused while it is read, before it).
    let metrics = send(app.http.get(app.url("/metrics"))).await;
    for line in [
        r#"lodgements_total{outcome="accepted"} 1"#,
        r#"lodgements_total{outcome="replayed"} 1"#,
        r#"lodgements_total{outcome="rejected"} 2"#,
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "{line} in\n{}",
            metrics.text
        );
    }

    // Not XML at all, or text between the declarations: the batch is refused, naming why.
    lodge_batch(
        &app,
        "wco-2",
        "application/xml",
        b"<Declarations>text</Declarations>".to_vec(),
    )
    .await
    .assert_problem(422);
    lodge_batch(&app, "wco-3", "text/xml", b"<!DOCTYPE x []><x/>".to_vec())
        .await
        .assert_problem(422);
}
