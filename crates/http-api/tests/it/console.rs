//! The web console through HTTP as a browser sees it: sign-in with a password, sessions in
//! cookies, CSRF on every form, both languages, and the same visibility as the API.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::browser::{PASSWORD, Page, Visitor};
use crate::helpers::{TestApp, example, spawn_app_at};

const NOW: &str = "2026-11-27T02:00:00Z";

/// The cookies an answer sets, as `name=value` pairs.
fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookies(headers).iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    })
}

async fn with_passwords(app: &TestApp) {
    crate::browser::with_passwords(app, &["broker", "officer", "other_declarant", "auditor"]).await;
}

#[tokio::test]
async fn the_log_in_page_is_chinese_by_default_english_on_request_and_runs_only_its_own_script() {
    let app = spawn_app_at(NOW).await;
    let mut visitor = Visitor::new(&app);

    let home = visitor.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    let to_list = visitor.get("/console/declarations").await;
    assert_eq!(
        to_list.headers[LOCATION], "/console/login",
        "no session: sign in first"
    );
    let chinese = visitor.get("/console/login").await;
    let english = visitor.get("/console/login?lang=en").await;
    let remembered = visitor.get("/console/login").await;

    assert_eq!(chinese.status, StatusCode::OK);
    assert!(
        chinese.body.contains(r#"<html lang="zh-CN">"#),
        "{}",
        chinese.body
    );
    assert!(chinese.body.contains("登录单一窗口"));
    assert!(english.body.contains(r#"<html lang="en">"#));
    assert!(english.body.contains("Sign in to the single window"));
    assert!(
        remembered.body.contains("Sign in to the single window"),
        "the choice is kept"
    );
    for page in [&chinese, &english] {
        // Only this site's own script files (htmx, vendored): no inline script.
        let scripts: Vec<&str> = page.body.split("<script").skip(1).collect();
        assert!(!scripts.is_empty());
        for script in scripts {
            assert!(
                script.starts_with(r#" src="/console/static/"#) && script.contains("></script>"),
                "only a file of this site: <script{script}"
            );
        }
        assert!(!page.body.contains("style="), "no inline style");
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers["x-frame-options"], "DENY");
    }
    let css = visitor.get("/console/static/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let htmx = visitor.get("/console/static/htmx.min.js").await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.starts_with("var htmx="), "the vendored htmx");
    assert_eq!(
        visitor.get("/console/static/nothing.js").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn signing_in_names_each_wrong_field_and_the_session_cookie_is_private() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    let mut visitor = Visitor::new(&app);

    // A form that did not come from the page (no CSRF token) is refused.
    visitor.get("/console/login?lang=en").await;
    let forged = visitor
        .post(
            "/console/login",
            &[("name", "broker"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let csrf = visitor.cookie("oc_csrf").unwrap().to_owned();
    let empty = visitor
        .post(
            "/console/login",
            &[("name", " "), ("password", ""), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The summary links to each field, and each message stands beside its field.
    assert!(
        empty
            .body
            .contains(r##"<a href="#name">Enter your user name</a>"##),
        "{}",
        empty.body
    );
    assert!(
        empty
            .body
            .contains(r##"<a href="#password">Enter your password</a>"##)
    );
    assert!(
        empty
            .body
            .contains(r#"id="name-error">Enter your user name"#)
    );
    assert!(empty.body.contains(r#"aria-invalid="true""#));

    let wrong = visitor.sign_in("broker", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .body
            .contains("The user name or password is not right")
    );
    assert!(wrong.body.contains(r#"value="broker""#), "the name is kept");
    let unknown = visitor.sign_in("nobody", PASSWORD).await;
    assert!(
        unknown
            .body
            .contains("The user name or password is not right"),
        "same answer"
    );

    let signed_in = visitor.sign_in("broker", PASSWORD).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let session = set_cookies(&signed_in.headers)
        .into_iter()
        .find(|c| c.starts_with("oc_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(
        cookie_value(&signed_in.headers, "oc_session")
            .unwrap()
            .starts_with("oc_")
    );
}

#[tokio::test]
async fn the_trade_sees_its_own_declarations_without_reasons_and_another_enterprise_gets_not_found()
{
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    crate::integrity::secret_rule(&app).await;
    with_passwords(&app).await;
    let lodged = app.lodge("broker", &example()).await;
    let (id, number) = (
        lodged.body["id"].as_str().unwrap().to_owned(),
        lodged.body["number"].as_str().unwrap().to_owned(),
    );

    let mut broker = Visitor::new(&app);
    broker.sign_in("broker", PASSWORD).await;
    let list = broker.get("/console/declarations?lang=en").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&number), "{}", list.body);
    let owed = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    let outstanding = owed.body["outstanding"].as_str().unwrap();
    let due = format!("{outstanding} CNY");
    for (what, shown) in [
        ("the lane as the trade may see it", "red (inspection)"),
        ("the amount due", due.as_str()),
        ("where it stands", "under inspection"),
        ("its latest receipt", "Checks required"),
    ] {
        assert!(list.body.contains(shown), "{what}: {}", list.body);
    }
    let page = broker.get(&format!("/console/declarations/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Smartphones"));
    assert!(page.body.contains("under inspection"), "{}", page.body);
    assert!(page.body.contains("Checks required"));
    assert!(page.body.contains("Outstanding"), "the duty owed is shown");
    for explained in [
        "How it was worked out",
        "Customs value",
        "import VAT",
        "rounded half-up to the fen",
    ] {
        assert!(
            page.body.contains(explained),
            "the assessment with its explanation: {explained}: {}",
            page.body
        );
    }
    assert!(
        page.body.contains("Lane: red (inspection)"),
        "the lane in words: {}",
        page.body
    );
    assert!(
        page.body.contains(&format!("<dd>{outstanding} CNY</dd>")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("SECRET-RULE"),
        "no targeting reason reaches the trade"
    );

    let mut officer = Visitor::new(&app);
    officer.sign_in("officer", PASSWORD).await;
    let seen = officer
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert!(
        seen.body.contains("SECRET-RULE"),
        "customs see why: {}",
        seen.body
    );
    assert!(seen.body.contains("declaration.targeted"));
    assert!(
        seen.body.contains("broker (broker)"),
        "the history names who acted, not their ids: {}",
        seen.body
    );

    let mut stranger = Visitor::new(&app);
    stranger.sign_in("other_declarant", PASSWORD).await;
    let by_url = stranger
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert_eq!(by_url.status, StatusCode::NOT_FOUND);
    assert!(by_url.body.contains("Page not found"));
    assert!(!by_url.body.contains(&number));
    let listed = stranger.get("/console/declarations").await;
    assert!(!listed.body.contains(&number));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    let mut visitor = Visitor::new(&app);
    visitor.sign_in("broker", PASSWORD).await;
    let session = visitor.cookie("oc_session").unwrap().to_owned();
    assert_eq!(
        visitor.get("/console/declarations").await.status,
        StatusCode::OK
    );

    let without_csrf = visitor.post("/console/logout", &[]).await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    let csrf = visitor.cookie("oc_csrf").unwrap().to_owned();
    let out = visitor.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.cookie("oc_session"), None, "the cookie is cleared");
    // The token itself is revoked: sent again, it opens nothing.
    visitor.cookies.push(("oc_session".into(), session));
    let after = visitor.get("/console/declarations").await;
    assert_eq!(after.headers[LOCATION], "/console/login");
}

#[tokio::test]
async fn an_officer_finds_the_inspection_in_the_queue_and_releases_from_the_page_once_it_may() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    crate::integrity::secret_rule(&app).await;
    with_passwords(&app).await;
    let id = app.lodged_id("broker", &example()).await;
    let mut officer = Visitor::new(&app);
    officer.sign_in("officer", PASSWORD).await;

    let queue = officer.get("/console/tasks?lang=en").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.body.contains("Physical inspection"), "{}", queue.body);
    assert!(queue.body.contains(&format!("/console/declarations/{id}")));

    // Unpaid and under inspection: the release is refused on the page, saying why.
    let csrf = officer.cookie("oc_csrf").unwrap().to_owned();
    let release = format!("/console/declarations/{id}/release");
    let forged = officer.post(&release, &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let refused = officer.post(&release, &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains("neither paid nor guaranteed"),
        "{}",
        refused.body
    );

    app.settle(&id, "TB-CONSOLE").await;
    // The officer records the inspection's finding from the declaration's page.
    let page = officer.get(&format!("/console/declarations/{id}")).await;
    assert!(page.body.contains("Record the finding"), "{}", page.body);
    let tasks = app.get("/v1/tasks?mine=true&status=open", "officer").await;
    for task in tasks.body["tasks"].as_array().unwrap() {
        let task = task["id"].as_str().unwrap();
        let closed = officer
            .post(
                &format!("/console/tasks/{task}/finding"),
                &[
                    ("csrf", &csrf),
                    ("declaration", &id),
                    ("discrepancy", "no"),
                    ("note", "seals intact"),
                ],
            )
            .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
    }
    let closed = app
        .get("/v1/tasks?mine=true&status=closed", "officer")
        .await;
    assert!(closed.text.contains("seals intact"), "{}", closed.text);
    let released = officer.post(&release, &[("csrf", &csrf)]).await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
    let page = officer.get(&format!("/console/declarations/{id}")).await;
    assert!(page.body.contains("released"), "{}", page.body);
    assert!(
        !page.body.contains("Release the goods"),
        "released goods offer no release"
    );

    // The trade has no queue and no release button.
    let mut broker = Visitor::new(&app);
    broker.sign_in("broker", PASSWORD).await;
    assert_eq!(
        broker.get("/console/tasks").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_officer_decides_a_request_and_assesses_by_hand_from_the_page() {
    // No tariff release: the import waits for an assessment by hand.
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    let id = app.lodged_id("broker", &example()).await;
    let mut corrected = example();
    corrected["transport"]["voyage"] = serde_json::json!("048E");
    let requested = app
        .post(
            &format!("/v1/declarations/{id}/amendments"),
            "broker",
            None,
            &serde_json::json!({"reason": "voyage corrected", "declaration": corrected}),
        )
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.text);
    let request = requested.body["request"].as_str().unwrap().to_owned();

    let mut officer = Visitor::new(&app);
    officer.sign_in("officer", PASSWORD).await;
    let page = officer
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert!(
        page.body.contains("Request to amend or cancel"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Assessment by hand"));
    let csrf = officer.cookie("oc_csrf").unwrap().to_owned();

    // Refusing needs a reason: said on the page; approving applies the amendment.
    let decide = format!("/console/declarations/{id}/requests/{request}/decision");
    let no_reason = officer
        .post(
            &decide,
            &[("csrf", &csrf), ("decision", "refuse"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::CONFLICT);
    assert!(no_reason.body.contains("reason"), "{}", no_reason.body);
    let approved = officer
        .post(&decide, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let read = app.get(&format!("/v1/declarations/{id}"), "broker").await;
    assert_eq!(read.body["declaration"]["transport"]["voyage"], "048E");

    // A wrong amount is named; a right one records the assessment.
    let assess = format!("/console/declarations/{id}/assessment");
    let wrong = officer
        .post(
            &assess,
            &[
                ("csrf", &csrf),
                ("customs_duty", "-1"),
                ("import_vat", "13.00"),
                ("reason", "no line"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::CONFLICT);
    assert!(wrong.body.contains("customs_duty"), "{}", wrong.body);
    let assessed = officer
        .post(
            &assess,
            &[
                ("csrf", &csrf),
                ("customs_duty", "120.00"),
                ("import_vat", "1560.00"),
                ("reason", "no line"),
            ],
        )
        .await;
    assert_eq!(assessed.status, StatusCode::SEE_OTHER, "{}", assessed.body);
    let owed = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    assert_eq!(owed.body["payable"], "1680.00", "{}", owed.text);
}

impl Visitor {
    async fn upload_declarations(&mut self, path: &str, csrf: &str, file: Vec<u8>) -> Page {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(file)
                    .file_name("declarations.json")
                    .mime_str("application/json")
                    .unwrap(),
            );
        self.post_multipart(path, form).await
    }
}

#[tokio::test]
async fn a_broker_lodges_a_file_and_each_declaration_is_answered_on_its_row() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    let mut broker = Visitor::new(&app);
    broker.sign_in("broker", PASSWORD).await;
    let page = broker.get("/console/lodge?lang=en").await;
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));
    let csrf = broker.cookie("oc_csrf").unwrap().to_owned();

    let mut broken = example();
    broken["items"][0]["origin_country"] = serde_json::json!("XX");
    let file = serde_json::to_vec(&serde_json::json!([example(), broken])).unwrap();
    let lodged = broker
        .upload_declarations("/console/lodge", &csrf, file.clone())
        .await;
    assert_eq!(lodged.status, StatusCode::OK, "{}", lodged.body);
    assert!(
        lodged.body.contains("accepted and numbered"),
        "{}",
        lodged.body
    );
    assert!(
        lodged.body.contains("items[0].origin_country"),
        "the field is named"
    );
    assert!(lodged.body.contains("refused"));
    // The same file again lodges nothing twice.
    let again = broker
        .upload_declarations("/console/lodge", &csrf, file)
        .await;
    assert!(
        again.body.contains("lodged before: nothing new"),
        "{}",
        again.body
    );
    let listed = app.get("/v1/declarations", "broker").await;
    assert_eq!(listed.body["declarations"].as_array().unwrap().len(), 1);

    // At the limit a file is taken; one more and it is refused whole, before anything is lodged.
    let max = http_api::CONSOLE_UPLOAD_DECLARATIONS_MAX;
    let refused = broker
        .upload_declarations(
            "/console/lodge",
            &csrf,
            serde_json::to_vec(&vec![serde_json::json!({}); max + 1]).unwrap(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("more declarations than one upload takes")
    );
    let at_limit = broker
        .upload_declarations(
            "/console/lodge",
            &csrf,
            serde_json::to_vec(&vec![serde_json::json!({}); max]).unwrap(),
        )
        .await;
    assert_eq!(at_limit.status, StatusCode::OK);
    assert_eq!(
        at_limit.body.matches("<td>refused").count(),
        max,
        "each row answered"
    );
    let not_json = broker
        .upload_declarations("/console/lodge", &csrf, b"not json".to_vec())
        .await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);
    let forged = broker
        .upload_declarations("/console/lodge", "x", b"{}".to_vec())
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// The auditor's pages: the chain verified on request (one at a time), entries and a
/// declaration's timeline with their hashes, a replay of a random draw bounded at its edge; no
/// other role finds them.
#[tokio::test]
async fn an_auditor_verifies_the_chain_reads_a_timeline_and_replays_a_draw() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    app.activate_sample_releases("2026-01-01").await;
    let lodged = app.lodge("broker", &example()).await;
    let (id, number) = (
        lodged.body["id"].as_str().unwrap().to_owned(),
        lodged.body["number"].as_str().unwrap().to_owned(),
    );
    let mut auditor = Visitor::new(&app);
    auditor.sign_in("auditor", PASSWORD).await;

    let overview = auditor.get("/console/audit?lang=en").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Audit trail"));
    assert!(
        overview.body.contains(r#"href="/console/audit""#),
        "the nav shows it"
    );
    let csrf = auditor.cookie("oc_csrf").unwrap().to_owned();
    let refused = auditor
        .post("/console/audit/verification", &[("csrf", "x")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "CSRF first");
    let verified = auditor
        .post("/console/audit/verification", &[("csrf", &csrf)])
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert!(verified.body.contains("Intact"), "{}", verified.body);

    let timeline = auditor
        .get(&format!("/console/audit/declarations/{id}"))
        .await;
    assert_eq!(timeline.status, StatusCode::OK);
    assert!(timeline.body.contains(&number));
    assert!(timeline.body.contains("declaration.accepted"));
    assert!(timeline.body.contains("declaration.assessed"));
    let hashes = timeline
        .body
        .split(r#"<code class="hash""#)
        .skip(1)
        .filter(|c| {
            c.split_once('>')
                .and_then(|(_, rest)| rest.split_once('<'))
                .is_some_and(|(hash, _)| {
                    hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit())
                })
        })
        .count();
    assert!(hashes >= 2, "each entry with its hash: {}", timeline.body);
    // People read times in the administration's time zone (NOW is 10:00 in UTC+8), labelled
    // with the offset, and users by name, not by their ids.
    let broker_id = {
        use store::Store as _;
        app.clearance
            .store()
            .user_by_name("broker")
            .await
            .unwrap()
            .expect("the broker")
            .id
    };
    assert!(
        timeline.body.contains("2026-11-27 10:00:0") && timeline.body.contains("+08:00"),
        "{}",
        timeline.body
    );
    assert!(
        !timeline.body.contains("2026-11-27T02:00"),
        "{}",
        timeline.body
    );
    assert!(!timeline.body.contains(&broker_id), "{}", timeline.body);
    let entries = auditor.get("/console/audit/entries?after=0&lang=zh").await;
    assert!(entries.body.contains("审计链记录"));
    assert!(
        entries
            .body
            .contains(&format!("/console/audit/declarations/{id}"))
    );

    let draw = auditor
        .get("/console/audit/replay?seed=42&size=5&lang=en")
        .await;
    assert_eq!(draw.status, StatusCode::OK, "{}", draw.body);
    assert!(draw.body.contains(&number), "the only declaration is drawn");
    assert!(draw.body.contains("verdict-ok"));
    assert!(!draw.body.contains(r#"<td class="verdict-fault""#));
    let max = clearance::REPLAY_DRAW_MAX;
    let at_edge = auditor
        .get(&format!("/console/audit/replay?seed=1&size={max}"))
        .await;
    assert_eq!(at_edge.status, StatusCode::OK);
    let beyond = auditor
        .get(&format!(
            "/console/audit/replay?seed=1&size={}&lang=en",
            max + 1
        ))
        .await;
    assert_eq!(beyond.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        beyond.body.contains("size: must be from 1 to 50"),
        "{}",
        beyond.body
    );

    for user in ["broker", "officer"] {
        let mut other = Visitor::new(&app);
        other.sign_in(user, PASSWORD).await;
        let home = other.get("/console/declarations").await;
        assert!(
            !home.body.contains(r#"href="/console/audit""#),
            "{user}: no link"
        );
        for path in [
            "/console/audit".to_owned(),
            "/console/audit/entries".to_owned(),
            "/console/audit/replay?seed=1&size=1".to_owned(),
            format!("/console/audit/declarations/{id}"),
        ] {
            assert_eq!(
                other.get(&path).await.status,
                StatusCode::NOT_FOUND,
                "{user} {path}"
            );
        }
        let csrf = other.cookie("oc_csrf").unwrap().to_owned();
        let verify = other
            .post("/console/audit/verification", &[("csrf", &csrf)])
            .await;
        assert_eq!(verify.status, StatusCode::NOT_FOUND, "{user}");
    }
}

/// A declaration received in continuity (an instance's queue while the central store was
/// unreachable) and lodged later: the trade's receipt and page, and the officer's history, say
/// so with the receipt time and the provisional reference; the trade is not told the instance.
#[tokio::test]
async fn a_lodging_received_in_continuity_is_shown_as_such_to_the_trade_and_to_officers() {
    let app = spawn_app_at(NOW).await;
    crate::browser::with_passwords(&app, &["broker", "officer"]).await;
    let caller = app
        .clearance
        .authenticate(app.token("broker"))
        .await
        .unwrap();
    let receipt = clearance::continuity::ContinuityReceipt {
        provisional_reference: "CP-0a1b2c3d-000000007".into(),
        received_at: "2026-11-27T01:30:00.000Z".into(),
        instance: "0a1b2c3d".into(),
    };
    let body = serde_json::to_vec(&example()).unwrap();
    let lodged = app
        .clearance
        .lodge_from_continuity(&caller, "queued-key", &body, &receipt)
        .await
        .unwrap();
    // The same request sent again directly under its key is the same declaration.
    let again = app
        .http
        .post(format!("{}/v1/declarations", app.address))
        .bearer_auth(app.token("broker"))
        .header("idempotency-key", "queued-key")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["number"], lodged.number.as_str());

    // A declaration lodged directly whose answer was lost, then sent again into a queue: the
    // queue's lodging finds it by its key and creates nothing.
    let direct = app
        .post_bytes(
            "/v1/declarations",
            "broker",
            Some("direct-key"),
            body.clone(),
        )
        .await;
    assert_eq!(direct.status, StatusCode::CREATED, "{}", direct.text);
    let requeued = app
        .clearance
        .lodge_from_continuity(&caller, "direct-key", &body, &receipt)
        .await
        .unwrap();
    assert!(!requeued.created);
    assert_eq!(requeued.number, direct.body["number"].as_str().unwrap());

    let events = app
        .get(&format!("/v1/declarations/{}/events", lodged.id), "broker")
        .await;
    let accepted = &events.body["receipts"][0];
    assert_eq!(accepted["receipt"], "accepted", "{}", events.text);
    assert_eq!(
        accepted["continuity"],
        serde_json::json!({
            "provisional_reference": "CP-0a1b2c3d-000000007",
            "received_at": "2026-11-27T01:30:00.000Z",
        }),
        "{}",
        events.text
    );
    let customs = app
        .get(&format!("/v1/declarations/{}/events", lodged.id), "officer")
        .await;
    assert_eq!(
        customs.body["events"][0]["payload"]["continuity"]["instance"], "0a1b2c3d",
        "{}",
        customs.text
    );

    let mut broker = Visitor::new(&app);
    broker.sign_in("broker", PASSWORD).await;
    let page = broker
        .get(&format!("/console/declarations/{}?lang=en", lodged.id))
        .await;
    assert!(
        page.body.contains(
            "received in continuity at 2026-11-27 09:30:00 +08:00 (provisional reference \
             CP-0a1b2c3d-000000007)"
        ),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("0a1b2c3d]"),
        "no instance for the trade"
    );
    let page = broker
        .get(&format!("/console/declarations/{}?lang=zh", lodged.id))
        .await;
    assert!(page.body.contains("经应急通道"), "{}", page.body);
    let mut officer = Visitor::new(&app);
    officer.sign_in("officer", PASSWORD).await;
    let seen = officer
        .get(&format!("/console/declarations/{}?lang=en", lodged.id))
        .await;
    assert!(
        seen.body
            .contains("declaration.accepted — received in continuity"),
        "{}",
        seen.body
    );
    assert!(seen.body.contains("[0a1b2c3d]"), "{}", seen.body);
}

/// The search box of the declarations list: by container, the trade finds only its own; a term
/// the search refuses is told beside the box in the page's language; the next page keeps it.
#[tokio::test]
async fn the_declarations_list_searches_by_container_and_tells_a_wrong_one() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app).await;
    let mut ours = example();
    ours["transport"]["containers"] = serde_json::json!(["CSQU3054383"]);
    let ours = app.lodge("broker", &ours).await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.text);
    let ours = ours.body["number"].as_str().unwrap().to_owned();
    let other = app.lodge("broker", &example()).await;
    let other = other.body["number"].as_str().unwrap().to_owned();
    let mut theirs = crate::helpers::example_for_other_declarant();
    theirs["transport"]["containers"] = serde_json::json!(["CSQU3054383"]);
    let theirs = app.lodge("other_declarant", &theirs).await;
    let theirs = theirs.body["number"].as_str().unwrap().to_owned();

    let mut broker = Visitor::new(&app);
    broker.sign_in("broker", PASSWORD).await;
    let found = broker
        .get("/console/declarations?lang=en&by=container&q=csqu+3054383")
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.body.contains(&ours), "{}", found.body);
    assert!(
        !found.body.contains(&other),
        "another container is left out"
    );
    assert!(
        !found.body.contains(&theirs),
        "another enterprise's is never listed"
    );
    assert!(
        found
            .body
            .contains(r#"<option value="container" selected>"#),
        "{}",
        found.body
    );

    let wrong = broker
        .get("/console/declarations?lang=zh&by=container&q=CSQU3054384")
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(
        wrong.body.contains(r#"id="search-error""#),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("校验码"), "{}", wrong.body);
    assert!(!wrong.body.contains(&ours));

    let mut officer = Visitor::new(&app);
    officer.sign_in("officer", PASSWORD).await;
    let both = officer
        .get("/console/declarations?lang=en&by=container&q=CSQU3054383")
        .await;
    assert!(
        both.body.contains(&ours) && both.body.contains(&theirs),
        "{}",
        both.body
    );
}
