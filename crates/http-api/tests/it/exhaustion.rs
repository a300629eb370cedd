//! One user cannot exhaust the server: a large body is refused on the role before it is read,
//! heavy jobs have slots (per kind and per user) and are refused at once when they are taken,
//! the trade reads small pages, and slow, idle or numerous connections are cut off or refused.
//! Requests are written by hand where the test needs to stop half-way.

use std::net::IpAddr;
use std::time::Duration;

use http_api::{
    ApiConfig, BUSY_RETRY_AFTER_SECS, ConnectionLimits, LARGE_PAGE_ROWS,
    RELEASE_BODY_LIMIT_BYTES_DEFAULT,
};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    TestApp, eventually, roomy_config, send, spawn_app, spawn_app_with,
    spawn_app_with_connection_limits,
};

/// Longest a test waits for an answer the server owes: only so that a failing test ends.
const PATIENCE: Duration = Duration::from_secs(60);

/// Reads until the end of a response's head (or of the stream); `None` if the stream ended
/// before any byte.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the server answers or closes in time")
            .unwrap_or(0);
        if n == 0 {
            return (!received.is_empty()).then(|| String::from_utf8_lossy(&received).into());
        }
        received.extend_from_slice(&buffer[..n]);
        if received.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&received).into());
        }
    }
}

/// Opens a connection and sends a request's head announcing `length` bytes of body, then
/// `sent` of them.
async fn start_upload(
    app: &TestApp,
    path: &str,
    user: Option<&str>,
    content_type: &str,
    length: usize,
    extra_header: &str,
    sent: &[u8],
) -> TcpStream {
    let authorization = user
        .map(|user| format!("Authorization: Bearer {}\r\n", app.token(user)))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\n{authorization}Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n{extra_header}\r\n"
    );
    let mut stream = TcpStream::connect(app.socket).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(sent).await.unwrap();
    stream
}

#[tokio::test]
async fn a_large_upload_by_a_role_that_may_not_make_it_is_refused_before_its_body_is_read() {
    // A server that read the body first would wait for the rest of it and answer 503 when the
    // request's time is up; the refusal comes although the client has sent 1 KiB of it.
    let app = spawn_app_with(ApiConfig {
        request_timeout: Duration::from_secs(3),
        ..roomy_config()
    })
    .await;
    let history = "/v1/history?format=kcs&label=2026";
    let attachment = "/v1/tasks/T-1/attachments?file_name=x.pdf";
    let cases = [
        (
            history,
            Some("broker"),
            "text/csv",
            clearance::models::HISTORY_BYTES_MAX,
            403,
        ),
        (
            history,
            Some("declarant"),
            "text/csv",
            clearance::models::HISTORY_BYTES_MAX,
            403,
        ),
        (
            history,
            Some("officer"),
            "text/csv",
            clearance::models::HISTORY_BYTES_MAX,
            403,
        ),
        (
            history,
            None,
            "text/csv",
            clearance::models::HISTORY_BYTES_MAX,
            401,
        ),
        (
            "/v1/releases",
            Some("broker"),
            "application/json",
            RELEASE_BODY_LIMIT_BYTES_DEFAULT,
            403,
        ),
        (
            "/v1/releases",
            Some("risk_analyst"),
            "application/json",
            RELEASE_BODY_LIMIT_BYTES_DEFAULT,
            403,
        ),
        (
            attachment,
            Some("broker"),
            "application/pdf",
            clearance::attachments::ATTACHMENT_BYTES_MAX,
            403,
        ),
    ];

    for (path, user, content_type, length, status) in cases {
        let mut stream =
            start_upload(&app, path, user, content_type, length, "", &[b'x'; 1024]).await;
        let head = read_head(&mut stream).await.unwrap_or_default();

        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path} as {user:?}: {head}"
        );
        assert!(head.contains("application/problem+json"), "{head}");
    }
}

/// A history import that holds its slot: the server has admitted it and asked for the body
/// (`100 Continue`), which is sent only when `finish` is called.
struct HeldImport(TcpStream);

const HELD_BODY: &[u8] = b"not a history file";

impl HeldImport {
    async fn start(app: &TestApp, user: &str) -> HeldImport {
        let mut stream = start_upload(
            app,
            "/v1/history?format=kcs&label=held",
            Some(user),
            "text/csv",
            HELD_BODY.len(),
            "Expect: 100-continue\r\n",
            b"",
        )
        .await;
        let head = read_head(&mut stream).await.unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");
        HeldImport(stream)
    }

    async fn finish(mut self) -> String {
        self.0.write_all(HELD_BODY).await.unwrap();
        read_head(&mut self.0).await.unwrap_or_default()
    }
}

#[tokio::test]
async fn a_heavy_job_over_its_slots_or_its_users_share_is_refused_at_once() {
    let app = spawn_app().await;
    let held = HeldImport::start(&app, "risk_analyst").await;

    // HISTORY_IMPORTS_AT_ONCE is 1: the second import is refused while the first runs.
    let second = app
        .post_file(
            "/v1/history?format=kcs&label=second",
            "other_risk_analyst",
            Some("text/csv"),
            HELD_BODY.to_vec(),
        )
        .await;
    // HEAVY_JOBS_PER_CALLER_MAX is 1: the importing analyst's large page is refused, a page
    // of LARGE_PAGE_ROWS is not heavy, and another user's large page is served.
    let path = |rows: usize| format!("/v1/declarations?limit={rows}");
    let own_large = app.get(&path(LARGE_PAGE_ROWS + 1), "risk_analyst").await;
    let own_at_edge = app.get(&path(LARGE_PAGE_ROWS), "risk_analyst").await;
    let others_large = app
        .get(&path(LARGE_PAGE_ROWS + 1), "other_risk_analyst")
        .await;
    let first = held.finish().await;
    let after = app
        .post_file(
            "/v1/history?format=kcs&label=after",
            "other_risk_analyst",
            Some("text/csv"),
            HELD_BODY.to_vec(),
        )
        .await;

    second.assert_problem(503);
    assert_eq!(second.body["type"], "urn:opencustoms:problem:busy");
    assert_eq!(
        second.headers["retry-after"],
        BUSY_RETRY_AFTER_SECS.to_string().as_str()
    );
    assert!(
        second.body["detail"]
            .as_str()
            .unwrap()
            .contains("history imports")
    );
    own_large.assert_problem(503);
    assert_eq!(own_at_edge.status, StatusCode::OK, "{}", own_at_edge.text);
    assert_eq!(others_large.status, StatusCode::OK, "{}", others_large.text);
    assert!(first.starts_with("HTTP/1.1 422 "), "{first}");
    after.assert_problem(422);
}

#[tokio::test]
async fn a_user_over_its_roles_requests_in_progress_is_refused_and_others_are_served() {
    let app = spawn_app().await;
    let body = crate::helpers::example().to_string();
    // Lodgings whose bodies the server waits for (it has asked for them: `100 Continue`).
    let mut held = Vec::new();
    for _ in 0..http_api::TRADE_REQUESTS_IN_PROGRESS_MAX {
        let mut stream = start_upload(
            &app,
            "/v1/declarations",
            Some("broker"),
            "application/json",
            body.len(),
            "Expect: 100-continue\r\n",
            b"",
        )
        .await;
        let head = read_head(&mut stream).await.unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");
        held.push(stream);
    }

    let one_more = app.get("/v1/declarations", "broker").await;
    let other_user = app.get("/v1/declarations", "declarant").await;
    let mut first = held.remove(0);
    first.write_all(body.as_bytes()).await.unwrap();
    let lodged = read_head(&mut first).await.unwrap_or_default();
    let after_one_ended = app.get("/v1/declarations", "broker").await;

    one_more.assert_problem(429);
    assert_eq!(one_more.headers["retry-after"], "1");
    assert_eq!(other_user.status, StatusCode::OK, "{}", other_user.text);
    assert!(lodged.starts_with("HTTP/1.1 201 "), "{lodged}");
    assert_eq!(
        after_one_ended.status,
        StatusCode::OK,
        "{}",
        after_one_ended.text
    );
}

#[tokio::test]
async fn the_trade_reads_pages_of_at_most_its_number_of_rows() {
    let app = spawn_app().await;
    let path = |rows: usize| format!("/v1/declarations?limit={rows}");

    let at_edge = app
        .get(&path(http_api::TRADE_PAGE_ROWS_MAX), "broker")
        .await;
    let over = app
        .get(&path(http_api::TRADE_PAGE_ROWS_MAX + 1), "broker")
        .await;
    let officer = app.get(&path(clearance::PAGE_SIZE_MAX), "officer").await;

    assert_eq!(at_edge.status, StatusCode::OK, "{}", at_edge.text);
    over.assert_problem(422);
    assert_eq!(
        over.error_paths(),
        [("limit".to_owned(), "out_of_range".to_owned())]
    );
    assert_eq!(officer.status, StatusCode::OK, "{}", officer.text);
}

fn short_header_timeout() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ConnectionLimits::production()
    }
}

#[tokio::test]
async fn a_client_sending_half_a_header_line_is_cut_off() {
    let app = spawn_app_with_connection_limits(short_header_timeout()).await;
    let mut stream = TcpStream::connect(app.socket).await.unwrap();

    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let answer = read_head(&mut stream).await;

    // Closed, with at most an error answer: never the health it asked for.
    let answer = answer.unwrap_or_default();
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = spawn_app_with_connection_limits(short_header_timeout()).await;
    let mut stream = TcpStream::connect(app.socket).await.unwrap();
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let answered = read_head(&mut stream).await.unwrap_or_default();
    // The rest of the health answer, if it came in a second packet, then the end.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest)).await;

    assert!(answered.starts_with("HTTP/1.1 200 "), "{answered}");
    assert!(closed.is_ok(), "the server closed the idle connection");
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answers_is_cut_off_and_its_place_given_back() {
    let app = spawn_app_with_connection_limits(ConnectionLimits {
        write_stall_timeout: Duration::from_secs(1),
        connections_per_address_max: 1,
        ..ConnectionLimits::production()
    })
    .await;
    let mut stalled = TcpStream::connect(app.socket).await.unwrap();
    // Far more answer than the socket buffers hold (the description is about 250 KB), none read.
    for _ in 0..200 {
        stalled
            .write_all(b"GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
    }

    // The address's one place is the stalled connection's until the server gives up on it.
    let served = eventually(Duration::from_secs(60), || async {
        let reply = app.http.get(app.url("/v1/health")).send().await;
        reply.is_ok_and(|reply| reply.status() == StatusCode::OK)
    })
    .await;

    assert!(
        served,
        "the stalled connection was closed and its place taken"
    );
    drop(stalled);
}

#[tokio::test]
async fn connections_over_an_addresss_cap_are_refused_and_other_addresses_are_served() {
    let per_address = 3;
    let app = spawn_app_with_connection_limits(ConnectionLimits {
        connections_per_address_max: per_address,
        ..ConnectionLimits::production()
    })
    .await;
    // Idle connections, each accepted before the next: a request on each proves it.
    let mut idle = Vec::new();
    for _ in 0..per_address {
        let mut stream = TcpStream::connect(app.socket).await.unwrap();
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut stream).await.unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        idle.push(stream);
    }

    let mut one_more = TcpStream::connect(app.socket).await.unwrap();
    let refused = read_head(&mut one_more).await.unwrap_or_default();
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let other_address = send(elsewhere.get(app.url("/v1/health"))).await;
    drop(idle.pop());
    // The place given back is taken again (the server notices the close first).
    let again = eventually(Duration::from_secs(10), || async {
        let reply = app.http.get(app.url("/v1/health")).send().await;
        reply.is_ok_and(|reply| reply.status() == StatusCode::OK)
    })
    .await
    .then_some(StatusCode::OK);

    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(refused.contains("application/problem+json"), "{refused}");
    assert_eq!(other_address.status, StatusCode::OK);
    assert_eq!(again, Some(StatusCode::OK));
}

/// Labelled history of `rows` goods items in the KCS columns.
fn labelled_history(rows: usize) -> String {
    let mut text = String::from(
        "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,\
         Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,\
         Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,\
         Net Mass,Item Price,Fraud,Critical Fraud\n",
    );
    for i in 0..rows {
        text.push_str(&format!(
            "{i},2026-02-{:02},2200,B,11,21,11,2,D{},I{},S2,,851713,US,US,0.0,A,N,{}.0,{}.00,{},0\n",
            1 + i % 28,
            i % 7,
            i % 3,
            300 + i % 50,
            7000 + i * 100,
            u32::from(i % 5 == 0)
        ));
    }
    text
}

#[tokio::test]
async fn a_training_whose_request_timed_out_stops_and_registers_nothing() {
    // Far less time than a training takes: the request times out while the model trains.
    let app = spawn_app_with(ApiConfig {
        request_timeout: Duration::from_millis(50),
        ..roomy_config()
    })
    .await;
    let analyst = app
        .clearance
        .authenticate(app.token("risk_analyst"))
        .await
        .unwrap();
    app.clearance
        .import_history(&analyst, "kcs", "2026", &labelled_history(4000))
        .await
        .expect("the history is imported");
    let training = serde_json::json!({ "label": "timed out" });

    let timed_out = app
        .post("/v1/models/training", "risk_analyst", None, &training)
        .await;
    let freed = training_slot_freed(&app).await;
    let models = app.get("/v1/models", "risk_analyst").await;

    timed_out.assert_problem(503);
    assert!(freed, "the stopped training gave its slot back");
    assert_eq!(
        models.body["models"],
        serde_json::json!([]),
        "{}",
        models.text
    );
}

/// Waits until the training slot is free: a request refused for its body (422), not for the
/// slot (503). The slot is held until a training has ended, stopped or not.
async fn training_slot_freed(app: &TestApp) -> bool {
    eventually(Duration::from_secs(60), || async {
        let probe = app
            .post(
                "/v1/models/training",
                "other_risk_analyst",
                None,
                &serde_json::json!({ "label": 5 }),
            )
            .await;
        probe.status == StatusCode::UNPROCESSABLE_ENTITY
    })
    .await
}

#[tokio::test]
async fn a_training_whose_client_went_away_stops_and_registers_nothing() {
    let app = spawn_app().await;
    let analyst = app
        .clearance
        .authenticate(app.token("risk_analyst"))
        .await
        .unwrap();
    // Enough items that the training takes a while (about a second in a debug build).
    app.clearance
        .import_history(&analyst, "kcs", "2026", &labelled_history(4000))
        .await
        .expect("the history is imported");
    let body = br#"{"label":"abandoned"}"#;
    let mut stream = start_upload(
        &app,
        "/v1/models/training",
        Some("risk_analyst"),
        "application/json",
        body.len(),
        "",
        body,
    )
    .await;

    stream.shutdown().await.unwrap();
    drop(stream);
    let freed = training_slot_freed(&app).await;
    let models = app.get("/v1/models", "risk_analyst").await;

    assert!(freed, "the stopped training gave its slot back");
    assert_eq!(
        models.body["models"],
        serde_json::json!([]),
        "{}",
        models.text
    );
}

#[test]
fn the_production_limits_are_the_named_defaults() {
    let connections = ConnectionLimits::production();
    let api = ApiConfig::production();

    assert_eq!(
        connections.header_read_timeout,
        http_api::HEADER_READ_TIMEOUT_DEFAULT
    );
    assert_eq!(connections.header_read_timeout, Duration::from_secs(10));
    assert_eq!(
        connections.write_stall_timeout,
        http_api::WRITE_STALL_TIMEOUT_DEFAULT
    );
    assert_eq!(
        connections.connections_max,
        http_api::CONNECTIONS_MAX_DEFAULT
    );
    assert_eq!(
        connections.connections_per_address_max,
        http_api::CONNECTIONS_PER_ADDRESS_MAX_DEFAULT
    );
    assert!(connections.connections_per_address_max < connections.connections_max);
    assert_eq!(
        api.trade_requests_in_progress_max,
        http_api::TRADE_REQUESTS_IN_PROGRESS_MAX
    );
    assert_eq!(
        api.customs_requests_in_progress_max,
        http_api::CUSTOMS_REQUESTS_IN_PROGRESS_MAX
    );
    // A heavy job waits for no slot longer than a request may take.
    assert!(Duration::from_secs(BUSY_RETRY_AFTER_SECS) < api.request_timeout);
}
