//! The console's officer and payment pages through HTTP, as a browser sends them: the queue by
//! office, the finding with corrections and photos and its reassessment difference, holds, a
//! supervisor's reassignment, the trade's payment and its confirmation, the printed declaration
//! and tax payment form, and the bulk upload's per-row result file. The trade never sees a
//! reason or a photo; every form needs its CSRF token.

use http_api::{
    CONSOLE_FINDING_PARTS_MAX, CONSOLE_FINDING_PHOTOS_MAX, CONSOLE_UPLOAD_RESULTS_KEPT,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

use crate::browser::Visitor;
use crate::helpers::{TestApp, bank, example, spawn_app_at, spawn_app_with_users};

const NOW: &str = "2026-11-27T02:00:00Z";

use crate::browser::with_passwords;

/// The open tasks of a declaration, by the API.
async fn open_tasks(app: &TestApp, id: &str) -> Vec<Value> {
    let tasks = app.get("/v1/tasks?status=open", "auditor").await;
    tasks.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["declaration_id"] == json!(id))
        .cloned()
        .collect()
}

/// A JPEG's first bytes and something to tell photos apart.
fn photo(n: usize) -> reqwest::multipart::Part {
    let mut bytes = b"\xff\xd8\xff\xe0 photo of the container ".to_vec();
    bytes.extend(n.to_string().as_bytes());
    reqwest::multipart::Part::bytes(bytes)
        .file_name(format!("container-{n}.jpg"))
        .mime_str("image/jpeg")
        .unwrap()
}

fn finding_form(csrf: &str, id: &str, fields: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("declaration", id.to_owned());
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    form
}

#[tokio::test]
async fn the_queue_shows_each_task_with_its_trader_goods_reason_priority_and_age_to_customs_only() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    crate::integrity::secret_rule(&app).await;
    with_passwords(&app, &["broker", "officer", "supervisor", "auditor"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let number = app
        .get(&format!("/v1/declarations/{id}"), "broker")
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let queue = officer.get("/console/tasks?lang=en").await;
    assert_eq!(queue.status, StatusCode::OK);
    for shown in [
        number.as_str(),
        "Shanghai Pudong Trading",
        "Smartphones, 5G, 256 GB and 1 more",
        "Physical inspection",
        "SECRET-RULE: US smartphones undervalued",
        ">200<",
        "0 min",
    ] {
        assert!(queue.body.contains(shown), "{shown} in {}", queue.body);
    }
    // By office: another office has nothing; the office's queue and the oldest first answer too.
    let elsewhere = officer.get("/console/tasks?office=5300").await;
    assert!(!elsewhere.body.contains(&number), "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("No open task"),
        "{}",
        elsewhere.body
    );
    let office = officer
        .get("/console/tasks?office=2200&scope=office&sort=age")
        .await;
    assert!(office.body.contains(&number), "{}", office.body);
    assert!(
        office.body.contains("Assigned to"),
        "the office's tasks say whose"
    );
    // Not a reassignment for an officer.
    assert!(!office.body.contains("/reassignment"));

    // The supervisor sees every officer's tasks and may reassign them; an auditor reads.
    let mut supervisor = Visitor::signed_in(&app, "supervisor", "en").await;
    let queue = supervisor.get("/console/tasks?lang=en").await;
    assert!(queue.body.contains(&number), "{}", queue.body);
    assert!(queue.body.contains("/reassignment"), "{}", queue.body);
    assert!(queue.body.contains(r#"href="/console/tasks">Task queue"#));
    let mut auditor = Visitor::signed_in(&app, "auditor", "en").await;
    assert_eq!(auditor.get("/console/tasks").await.status, StatusCode::OK);

    // The trade: no queue, and no reason anywhere on its pages.
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    assert_eq!(
        broker.get("/console/tasks").await.status,
        StatusCode::NOT_FOUND
    );
    for path in ["", "/print", "/tax-form"] {
        let page = broker
            .get(&format!("/console/declarations/{id}{path}?lang=en"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("SECRET-RULE"), "{path}: {}", page.body);
    }
}

#[tokio::test]
async fn an_officer_records_a_finding_with_corrections_and_photos_then_releases() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    crate::integrity::secret_rule(&app).await;
    with_passwords(&app, &["broker", "officer"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let tasks = open_tasks(&app, &id).await;
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let task = tasks[0]["id"].as_str().unwrap().to_owned();
    let finding = format!("/console/tasks/{task}/finding");
    let page_path = format!("/console/declarations/{id}?lang=en");

    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let page = officer.get(&page_path).await;
    assert!(
        page.body.contains("Correct the declared values"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(r#"id="f-{task}-c-0-origin""#)));
    assert!(
        page.body.contains(r#"value="8000.00""#),
        "the values as declared"
    );
    let csrf = officer.csrf();

    // Without the CSRF token: refused before anything.
    let forged = officer
        .post_multipart(&finding, finding_form("", &id, &[("discrepancy", "no")]))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // A correction the declaration refuses: beside its field and in the summary, linked.
    let wrong = officer
        .post_multipart(
            &finding,
            finding_form(
                &csrf,
                &id,
                &[
                    ("discrepancy", "yes"),
                    ("c-0-origin", "ZZ"),
                    ("note", "kept"),
                ],
            ),
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    let field = format!("f-{task}-c-0-origin");
    assert!(
        wrong.body.contains(&format!("href=\"#{field}\"")),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("items[0].origin_country"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains(r#"value="ZZ""#),
        "the value sent is kept"
    );
    assert!(wrong.body.contains(">kept</textarea>"), "the note is kept");
    // As many parts as a finding form may have are read (then refused here for the token)...
    let mut full = finding_form("", &id, &[("discrepancy", "no")]);
    for n in 0..CONSOLE_FINDING_PARTS_MAX - 3 {
        full = full.text(format!("x-{n}"), "");
    }
    assert_eq!(
        officer.post_multipart(&finding, full).await.status,
        StatusCode::FORBIDDEN
    );
    // ...one more, and the form is refused before any part is used.
    let mut crowded = finding_form(&csrf, &id, &[("discrepancy", "no")]);
    for n in 0..CONSOLE_FINDING_PARTS_MAX - 2 {
        crowded = crowded.text(format!("x-{n}"), "");
    }
    let refused = officer.post_multipart(&finding, crowded).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    // One photo more than a finding takes: refused whole, nothing attached.
    let mut too_many = finding_form(&csrf, &id, &[("discrepancy", "no")]);
    for n in 0..=CONSOLE_FINDING_PHOTOS_MAX {
        too_many = too_many.part("photo", photo(n));
    }
    let refused = officer.post_multipart(&finding, too_many).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("at most 5 photos"),
        "{}",
        refused.body
    );
    assert!(
        app.get(&format!("/v1/tasks/{task}/attachments"), "officer")
            .await
            .body["attachments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A file that is not a photo or a PDF is refused beside the photo field.
    let text_file = reqwest::multipart::Part::bytes(b"hello".to_vec())
        .file_name("notes.txt")
        .mime_str("text/plain")
        .unwrap();
    let refused = officer
        .post_multipart(
            &finding,
            finding_form(&csrf, &id, &[("discrepancy", "no")]).part("photo", text_file),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(&format!("href=\"#f-{task}-photo\"")),
        "{}",
        refused.body
    );

    // As many photos as a finding takes, and the quantity found: 50 phones, not 40.
    let mut form = finding_form(
        &csrf,
        &id,
        &[
            ("discrepancy", "yes"),
            ("c-0-quantity", "50"),
            ("c-0-amount", "10000.00"),
            ("c-0-origin", "US"),
            ("invoice", "12000.00"),
            ("note", "50 phones in the container"),
        ],
    );
    for n in 0..CONSOLE_FINDING_PHOTOS_MAX {
        form = form.part("photo", photo(n));
    }
    let owed_before = app
        .get(&format!("/v1/declarations/{id}/payments"), "officer")
        .await
        .body["payable"]
        .clone();
    let recorded = officer.post_multipart(&finding, form).await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let closed = app.get("/v1/tasks?status=closed", "auditor").await;
    let outcome = closed.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(task))
        .unwrap()["outcome"]
        .clone();
    assert_eq!(
        outcome["attachments"].as_array().unwrap().len(),
        CONSOLE_FINDING_PHOTOS_MAX
    );
    assert_eq!(
        outcome["corrections"],
        json!([
            {"path": "items[0].quantity.value", "value": "50"},
            {"path": "items[0].amount", "value": "10000.00"},
            {"path": "invoice.amount", "value": "12000.00"},
        ]),
        "only what changed"
    );
    let difference = &outcome["revenue_difference"];
    assert!(difference.is_object(), "{outcome:#}");

    // The page: the photos and the reassessment difference, exact, per tax.
    let page = officer.get(&page_path).await;
    assert!(page.body.contains("container-0.jpg"), "{}", page.body);
    assert!(page.body.contains("Reassessment after the finding"));
    for row in difference["per_tax"].as_array().unwrap() {
        for member in ["previous", "now", "difference"] {
            let figure = row[member].as_str().unwrap();
            assert!(
                page.body.contains(&format!(">{figure}<")),
                "{member} {figure}"
            );
        }
    }
    let total = difference["total"].as_str().unwrap();
    assert!(
        page.body.contains(&format!("{total} CNY (to pay)")),
        "{}",
        page.body
    );
    let owed_after = app
        .get(&format!("/v1/declarations/{id}/payments"), "officer")
        .await
        .body["payable"]
        .clone();
    assert_ne!(owed_before, owed_after, "reassessed");
    let link = page
        .body
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|href| href.starts_with(&format!("/console/tasks/{task}/attachments/")))
        .unwrap()
        .to_owned();
    let image = officer.get(&link).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.headers[CONTENT_TYPE], "image/jpeg");
    assert!(image.bytes.starts_with(b"\xff\xd8\xff"));

    // The trade sees neither the photos nor the officer's figures of the check.
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    assert_eq!(broker.get(&link).await.status, StatusCode::NOT_FOUND);
    let trade_page = broker.get(&page_path).await;
    assert!(!trade_page.body.contains("container-0.jpg"));
    assert!(!trade_page.body.contains("Reassessment after the finding"));
    assert!(!trade_page.body.contains("Record the finding"));

    // Paid, nothing open: the officer releases.
    app.settle(&id, "TB-OFFICER-1").await;
    let released = officer
        .post(
            &format!("/console/declarations/{id}/release"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
    let page = officer.get(&page_path).await;
    assert!(
        !page.body.contains("Hold the goods"),
        "released goods are not held"
    );
}

#[tokio::test]
async fn an_officer_holds_the_goods_from_the_page_and_lifts_the_hold_with_a_finding() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    with_passwords(&app, &["broker", "officer"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let hold = format!("/console/declarations/{id}/hold");
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let page = officer
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert!(page.body.contains("Hold the goods"), "{}", page.body);
    let csrf = officer.csrf();

    let forged = officer.post(&hold, &[("reason", "seal broken")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let empty = officer
        .post(&hold, &[("csrf", &csrf), ("reason", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.body.contains(r##"href="#hold-reason""##),
        "{}",
        empty.body
    );
    let held = officer
        .post(&hold, &[("csrf", &csrf), ("reason", "seal broken")])
        .await;
    assert_eq!(held.status, StatusCode::SEE_OTHER, "{}", held.body);
    let tasks = open_tasks(&app, &id).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["kind"], "hold");

    // The trade may not hold.
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let csrf_b = broker.csrf();
    let refused = broker
        .post(&hold, &[("csrf", &csrf_b), ("reason", "x")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        broker
            .get(&format!("/console/declarations/{id}?lang=en"))
            .await
            .body
            .contains("held")
    );

    // The hold's finding (a plain form, no photo) lifts it.
    let task = tasks[0]["id"].as_str().unwrap();
    let lifted = officer
        .post(
            &format!("/console/tasks/{task}/finding"),
            &[
                ("csrf", &csrf),
                ("declaration", &id),
                ("discrepancy", "no"),
                ("note", "seal intact after all"),
            ],
        )
        .await;
    assert_eq!(lifted.status, StatusCode::SEE_OTHER, "{}", lifted.body);
    assert!(open_tasks(&app, &id).await.is_empty());
}

#[tokio::test]
async fn a_supervisor_reassigns_a_task_to_another_officer_from_the_console() {
    static SECOND_OFFICER: [(&str, clearance::Role, Option<&str>); 1] =
        [("officer_wu", clearance::Role::Officer, None)];
    let app = spawn_app_with_users(&SECOND_OFFICER).await;
    with_passwords(&app, &["broker", "officer", "supervisor"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let held = app
        .post(
            &format!("/v1/declarations/{id}/hold"),
            "officer",
            None,
            &json!({"reason": "seal to check"}),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let task = held.body["id"].as_str().unwrap().to_owned();
    let path = format!("/console/tasks/{task}/reassignment");

    let mut supervisor = Visitor::signed_in(&app, "supervisor", "en").await;
    let form = supervisor.get(&format!("{path}?lang=en")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let number = app
        .get(&format!("/v1/declarations/{id}"), "supervisor")
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        form.body.contains(&format!(">{number}</a>")),
        "{}",
        form.body
    );
    assert!(
        form.body.contains(r#"<option value="officer_wu""#),
        "{}",
        form.body
    );
    assert!(
        !form.body.contains(r#"<option value="officer""#),
        "not to whom it is assigned"
    );
    let csrf = supervisor.csrf();
    let forged = supervisor
        .post(&path, &[("officer", "officer_wu"), ("reason", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let no_reason = supervisor
        .post(
            &path,
            &[("csrf", &csrf), ("officer", "officer_wu"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason.body.contains(r##"href="#reason""##),
        "{}",
        no_reason.body
    );
    let nobody = supervisor
        .post(
            &path,
            &[("csrf", &csrf), ("officer", "broker"), ("reason", "x")],
        )
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nobody.body.contains(r##"href="#officer""##),
        "{}",
        nobody.body
    );
    let done = supervisor
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("officer", "officer_wu"),
                ("reason", "Li is on leave"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers[LOCATION], "/console/tasks?office=2200");
    let wu = app
        .get("/v1/tasks?mine=true&status=open", "officer_wu")
        .await;
    assert!(wu.text.contains(&task), "{}", wu.text);

    // Nobody else reassigns: officers and the trade get the not-found page.
    for user in ["officer", "broker"] {
        let mut visitor = Visitor::signed_in(&app, user, "en").await;
        assert_eq!(
            visitor.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{user}"
        );
        let csrf = visitor.csrf();
        let tried = visitor
            .post(
                &path,
                &[("csrf", &csrf), ("officer", "officer"), ("reason", "x")],
            )
            .await;
        assert_eq!(tried.status, StatusCode::NOT_FOUND, "{user}");
    }
}

#[tokio::test]
async fn the_trade_pays_from_the_page_and_sees_the_bank_confirm_it() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    with_passwords(&app, &["broker", "officer", "other_declarant"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let owed = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    let outstanding = owed.body["outstanding"].as_str().unwrap().to_owned();
    let page_path = format!("/console/declarations/{id}?lang=en");
    let pay = format!("/console/declarations/{id}/payments");

    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let page = broker.get(&page_path).await;
    assert!(
        page.body.contains("Pay the duty and taxes"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("value=\"{outstanding}\"")));
    let nonce = page
        .body
        .split(r#"name="nonce" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let csrf = broker.csrf();

    let forged = broker
        .post(
            &pay,
            &[
                ("nonce", &nonce),
                ("amount", &outstanding),
                ("reference", "B-1"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = broker
        .post(
            &pay,
            &[
                ("csrf", &csrf),
                ("nonce", &nonce),
                ("amount", "12.345"),
                ("reference", ""),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains(r##"href="#pay-amount""##),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains(r##"href="#pay-reference""##),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains(r#"value="12.345""#),
        "the value sent is kept"
    );
    let too_much = broker
        .post(
            &pay,
            &[
                ("csrf", &csrf),
                ("nonce", &nonce),
                ("amount", "100000000"),
                ("reference", "B-1"),
            ],
        )
        .await;
    assert_eq!(too_much.status, StatusCode::CONFLICT);
    assert!(too_much.body.contains("outstanding"), "{}", too_much.body);

    // The same form twice (a double click) claims once.
    for _ in 0..2 {
        let claimed = broker
            .post(
                &pay,
                &[
                    ("csrf", &csrf),
                    ("nonce", &nonce),
                    ("amount", &outstanding),
                    ("reference", "B-1"),
                ],
            )
            .await;
        assert_eq!(claimed.status, StatusCode::SEE_OTHER, "{}", claimed.body);
    }
    let settlement = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    assert_eq!(settlement.body["claimed_unconfirmed"], json!(outstanding));
    assert_eq!(
        settlement.body["outstanding"],
        json!(outstanding),
        "a claim is not money"
    );
    let page = broker.get(&page_path).await;
    assert!(
        page.body
            .contains(r#"id="payment-status">Payment reported, awaiting the bank"#),
        "{}",
        page.body
    );

    // The bank confirms: covered.
    let number = app
        .get(&format!("/v1/declarations/{id}"), "broker")
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirmed = app
        .confirm(&bank().confirm(&number, &outstanding, "B-1", "2026-11-27T10:00:00+08:00"))
        .await;
    assert_eq!(confirmed.status, StatusCode::CREATED, "{}", confirmed.text);
    let page = broker.get(&page_path).await;
    assert!(
        page.body.contains("Covered: the bank confirmed"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Report the payment"),
        "nothing left to pay"
    );

    // Printed: the declaration and the tax payment form, for the trade and for customs.
    let printed = broker
        .get(&format!("/console/declarations/{id}/print?lang=en"))
        .await;
    assert_eq!(printed.status, StatusCode::OK);
    assert!(printed.body.contains(&number));
    assert!(printed.body.contains("Smartphones, 5G, 256 GB"));
    assert!(
        printed
            .body
            .contains(&format!(">{}<", owed.body["payable"].as_str().unwrap()))
    );
    let form = broker
        .get(&format!("/console/declarations/{id}/tax-form?lang=zh"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("海关专用缴款书"), "{}", form.body);
    assert!(form.body.contains("进口环节增值税"), "{}", form.body);
    // Issued on the assessment's acceptance date, due TAX_FORM_DAYS_TO_PAY (15) days later.
    assert!(form.body.contains("2026-11-27"), "{}", form.body);
    assert!(form.body.contains("2026-12-12"), "{}", form.body);
    assert!(
        form.body
            .contains(&format!("{} CNY", owed.body["payable"].as_str().unwrap()))
    );
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    assert_eq!(
        officer
            .get(&format!("/console/declarations/{id}/print"))
            .await
            .status,
        StatusCode::OK
    );
    // Another enterprise's user: the not-found page, for both.
    let mut other = Visitor::signed_in(&app, "other_declarant", "en").await;
    for path in ["print", "tax-form"] {
        let page = other
            .get(&format!("/console/declarations/{id}/{path}"))
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains(&number));
    }
}

#[tokio::test]
async fn without_an_assessment_there_is_no_tax_payment_form_and_an_officer_may_accept_a_guarantee()
{
    // No tariff release: the declaration waits for an assessment by hand.
    let app = spawn_app_at(NOW).await;
    with_passwords(&app, &["broker", "officer"]).await;
    let id = app.lodged_id("broker", &example()).await;
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let form = broker
        .get(&format!("/console/declarations/{id}/tax-form?lang=en"))
        .await;
    assert_eq!(form.status, StatusCode::NOT_FOUND);
    assert!(form.body.contains("not assessed yet"), "{}", form.body);
    let page = broker
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert!(
        !page.body.contains("Report the payment"),
        "nothing to pay yet"
    );

    app.assess_by_hand(&id, "13.00").await;
    let mut officer = Visitor::signed_in(&app, "officer", "en").await;
    let page = officer
        .get(&format!("/console/declarations/{id}?lang=en"))
        .await;
    assert!(page.body.contains("Accept a guarantee"), "{}", page.body);
    let csrf = officer.csrf();
    let guaranteed = officer
        .post(
            &format!("/console/declarations/{id}/payments"),
            &[
                ("csrf", &csrf),
                ("nonce", ""),
                ("amount", "13.00"),
                ("reference", "G-7"),
            ],
        )
        .await;
    assert_eq!(
        guaranteed.status,
        StatusCode::SEE_OTHER,
        "{}",
        guaranteed.body
    );
    let settlement = app
        .get(&format!("/v1/declarations/{id}/payments"), "broker")
        .await;
    assert_eq!(settlement.body["guaranteed"], "13.00");
    assert_eq!(settlement.body["outstanding"], "0.00");
}

#[tokio::test]
async fn a_bulk_upload_offers_its_per_row_results_as_a_csv_file_to_its_own_user() {
    let app = spawn_app_at(NOW).await;
    with_passwords(&app, &["broker", "other_declarant"]).await;
    let mut broker = Visitor::signed_in(&app, "broker", "en").await;
    let page = broker.get("/console/lodge?lang=en").await;
    assert!(page.body.contains("<progress"), "{}", page.body);
    assert!(
        page.body
            .contains(r#"<script src="/console/static/console-upload.js" defer>"#)
    );
    let script = broker.get("/console/static/console-upload.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("upload.addEventListener('progress'"));
    let csrf = broker.csrf();
    let upload = |file: Vec<u8>| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(file)
                    .file_name("declarations.json")
                    .mime_str("application/json")
                    .unwrap(),
            )
    };

    let mut broken = example();
    broken["items"][0]["origin_country"] = json!("XX");
    broken["items"][1]["commodity_code"] = json!("=HYPERLINK(1)");
    let file = serde_json::to_vec(&json!([example(), broken])).unwrap();
    let lodged = broker.post_multipart("/console/lodge", upload(file)).await;
    assert_eq!(lodged.status, StatusCode::OK, "{}", lodged.body);
    let link = lodged
        .body
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|href| href.starts_with("/console/lodge/results/"))
        .unwrap()
        .to_owned();
    let csv = broker.get(&link).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        csv.headers[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let lines: Vec<&str> = csv.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "row,outcome,declaration_number,field,message_en,message_zh"
    );
    let number = app.get("/v1/declarations", "broker").await.body["declarations"][0]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(lines[1], format!("1,created,{number},,,"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2,refused,,items[0].origin_country,")),
        "{}",
        csv.body
    );
    // Every refused row's field, in both languages; nothing a spreadsheet would run.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2,refused,,items[1].commodity_code,"))
    );
    assert!(!csv.body.contains(",=HYPERLINK"), "{}", csv.body);
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with("2,"))
            .all(|l| l.split(',').count() >= 6)
    );

    // Only its own user fetches it; an unknown file is not found.
    let mut other = Visitor::signed_in(&app, "other_declarant", "en").await;
    assert_eq!(other.get(&link).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        broker
            .get("/console/lodge/results/00000000000000000000000000000000.csv")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A bounded number of files is kept: the oldest goes first.
    let mut last = String::new();
    for _ in 0..CONSOLE_UPLOAD_RESULTS_KEPT {
        let answer = broker
            .post_multipart("/console/lodge", upload(b"{}".to_vec()))
            .await;
        last = answer
            .body
            .split("href=\"")
            .map(|s| s.split('"').next().unwrap())
            .find(|href| href.starts_with("/console/lodge/results/"))
            .unwrap()
            .to_owned();
    }
    assert_eq!(
        broker.get(&link).await.status,
        StatusCode::NOT_FOUND,
        "evicted"
    );
    assert_eq!(broker.get(&last).await.status, StatusCode::OK);
}
