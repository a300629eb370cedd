//! Officers' work over HTTP: a rule of two analysts sends the example's US smartphones to the red
//! lane; the only officer finds a physical inspection in its queue; the goods are not released
//! while it is open (once paid); the inspection finds the phones are Chinese, the finding corrects the origin
//! and the declaration is reassessed; the goods are released; the audit chain is intact.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, example, spawn_app, spawn_app_at};

/// 10:00 on 2026-11-27 in UTC+8; the sample exchange-rate table has the example's USD for 2026-11.
const NOW: &str = "2026-11-27T02:00:00Z";

/// Puts in force (proposed by one analyst, approved by the other) a rule asking for a physical
/// inspection of US smartphones.
pub(crate) async fn inspect_us_smartphones(app: &TestApp) -> String {
    let rule = json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "US smartphones: origin and undervaluation",
        "reason_zh": "美国产手机：原产地与低报价格",
        "expression": "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"",
    });
    let proposed = app.post("/v1/rules", "risk_analyst", None, &rule).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    let id = proposed.body["id"].as_str().unwrap().to_owned();
    let approved = app
        .post(
            &format!("/v1/rules/{id}/versions/1/approval"),
            "other_risk_analyst",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    id
}

async fn tasks(app: &TestApp, query: &str, user: &str) -> Vec<Value> {
    let reply = app.get(&format!("/v1/tasks{query}"), user).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["tasks"].as_array().unwrap().clone()
}

async fn assessments(app: &TestApp, id: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/declarations/{id}/assessments"), "broker")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["assessments"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_red_lane_inspection_corrects_the_origin_and_the_goods_are_released_once_it_is_closed() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    let rule = inspect_us_smartphones(&app).await;

    // Lodged, assessed at acceptance, selected into the red lane for the rule.
    let id = app.lodged_id("broker", &example()).await;
    let at_acceptance = assessments(&app, &id).await;
    assert_eq!(at_acceptance.len(), 1);
    assert_eq!(at_acceptance[0]["basis"], "acceptance");
    assert_eq!(
        at_acceptance[0]["outcome"], "assessed",
        "{:#}",
        at_acceptance[0]
    );
    let selection = app
        .get(&format!("/v1/declarations/{id}/selection"), "officer")
        .await;
    assert_eq!(selection.body["lane"], "red", "{}", selection.text);

    // The only officer has one open physical inspection of it.
    let queue = tasks(&app, "?mine=true&status=open", "officer").await;
    assert_eq!(queue.len(), 1, "{queue:#?}");
    let task = &queue[0];
    assert_eq!(task["kind"], "physical_inspection");
    assert_eq!(task["declaration_id"], json!(id));
    assert_eq!(task["status"], "open");
    let task_id = task["id"].as_str().unwrap().to_owned();
    // The analysts and auditors see every queue; the trade none.
    let everybody = tasks(&app, "", "auditor").await;
    assert_eq!(everybody.len(), 1);
    assert_eq!(everybody[0]["assigned_to"], task["assigned_to"]);
    assert!(tasks(&app, "?mine=true", "risk_analyst").await.is_empty());
    app.get("/v1/tasks", "broker").await.assert_problem(403);

    // Paid, but not released while the inspection is open.
    app.settle(&id, "BOC-0001").await;
    let release = format!("/v1/declarations/{id}/release");
    let early = app
        .post(&release, "officer", Some("rel-0"), &json!({}))
        .await;
    early.assert_problem(409);
    assert_eq!(early.body["type"], "urn:opencustoms:problem:open-tasks");
    assert!(
        early.body["detail"]
            .as_str()
            .unwrap()
            .contains("physical_inspection"),
        "{}",
        early.text
    );

    // Only its officer records the finding; a correction outside the correctable fields is refused.
    let finding_path = format!("/v1/tasks/{task_id}/finding");
    let finding = json!({
        "discrepancy": true,
        "corrections": [{ "path": "items[0].origin_country", "value": "CN" }],
        "note": "the markings and the packing list show the phones were made in China",
    });
    app.post(&finding_path, "risk_analyst", None, &finding)
        .await
        .assert_problem(403);
    let missing = app
        .post("/v1/tasks/no-such-task/finding", "officer", None, &finding)
        .await;
    missing.assert_problem(404);
    assert_eq!(
        missing.body["type"],
        "urn:opencustoms:problem:task-not-found"
    );
    let wrong_field = json!({
        "discrepancy": true,
        "corrections": [{ "path": "items[0].description", "value": "Bananas" }],
    });
    let refused = app.post(&finding_path, "officer", None, &wrong_field).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_paths()[0].0, "corrections[0].path");

    // A photo of the markings as evidence: kept byte for byte, named in the finding.
    let photo = b"\xff\xd8\xff\xe0 made in China markings".to_vec();
    let attach = format!("/v1/tasks/{task_id}/attachments?file_name=markings.jpg");
    let attached = app
        .post_file(&attach, "officer", Some("image/jpeg"), photo.clone())
        .await;
    assert_eq!(attached.status, StatusCode::CREATED, "{}", attached.text);
    let digest = attached.body["digest"].as_str().unwrap().to_owned();
    let listed = app
        .get(&format!("/v1/tasks/{task_id}/attachments"), "auditor")
        .await;
    assert_eq!(listed.body["attachments"][0]["digest"], json!(digest));
    let file = app
        .http
        .get(app.url(&format!("/v1/tasks/{task_id}/attachments/{digest}")))
        .bearer_auth(app.token("auditor"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "image/jpeg");
    assert_eq!(file.bytes().await.unwrap().to_vec(), photo);
    for (path, content_type, content, status, field) in [
        (
            attach.clone(),
            Some("image/png"),
            photo.clone(),
            422,
            Some("Content-Type"),
        ),
        (
            attach.clone(),
            None,
            b"plain text".to_vec(),
            422,
            Some("content"),
        ),
        (
            format!("/v1/tasks/{task_id}/attachments"),
            None,
            photo.clone(),
            422,
            Some("file_name"),
        ),
        (
            attach.clone(),
            None,
            vec![0xff; clearance::attachments::ATTACHMENT_BYTES_MAX + 1],
            413,
            None,
        ),
    ] {
        let reply = app.post_file(&path, "officer", content_type, content).await;
        reply.assert_problem(status);
        if let Some(field) = field {
            assert_eq!(reply.error_paths()[0].0, field, "{}", reply.text);
        }
    }

    let closed = app
        .post(&finding_path, "officer", Some("finding-1"), &finding)
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    assert_eq!(closed.body["task"], json!(task_id));
    let outcome = &closed.body["outcome"];
    assert_eq!(outcome["discrepancy"], true);
    assert_eq!(outcome["corrections"][0]["value"], "CN");
    assert_eq!(outcome["attachments"][0]["digest"], json!(digest));
    assert_eq!(
        outcome["selected_by"]["reasons"][0]["rule"],
        json!(rule),
        "{outcome:#}"
    );

    // Reassessed by the officer's finding, with the corrected origin.
    let after = assessments(&app, &id).await;
    assert_eq!(after.len(), 2, "{after:#?}");
    let officer = after.last().unwrap();
    assert_eq!(officer["basis"], "officer", "{officer:#}");
    assert_eq!(officer["report"]["items"][0]["origin"], "CN", "{officer:#}");
    let declaration = app.get(&format!("/v1/declarations/{id}"), "broker").await;
    assert_eq!(
        declaration.body["declaration"]["items"][0]["origin_country"], "CN",
        "{}",
        declaration.text
    );
    let closed_tasks = tasks(&app, "?status=closed", "officer").await;
    assert_eq!(closed_tasks.len(), 1);
    assert_eq!(closed_tasks[0]["outcome"]["discrepancy"], true);
    assert!(
        tasks(&app, "?mine=true&status=open", "officer")
            .await
            .is_empty()
    );

    // The inspection is closed and any difference paid: the goods may go, and the record is intact.
    app.settle(&id, "BOC-0002").await;
    let released = app
        .post(&release, "officer", Some("rel-1"), &json!({}))
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(released.body["status"], "released", "{}", released.text);
    // The release time is measured (the clock is pinned: lodged and released at the same time).
    let times = app
        .get(
            "/v1/statistics/release-times?from=2026-11-27&to=2026-11-27",
            "auditor",
        )
        .await;
    assert_eq!(times.status, StatusCode::OK, "{}", times.text);
    assert_eq!(times.body["released"], 1, "{}", times.text);
    assert_eq!(times.body["max_seconds"], 0, "{}", times.text);
    for (query, path) in [
        ("to=2026-11-27", "from"),
        ("from=2026-11-27", "to"),
        ("from=2026-11-27&to=2027-12-01", "to"),
        ("from=2026-11-27&to=2026-11-27&lane=red", "lane"),
    ] {
        let reply = app
            .get(&format!("/v1/statistics/release-times?{query}"), "auditor")
            .await;
        reply.assert_problem(422);
        assert_eq!(reply.error_paths()[0].0, path, "{query}: {}", reply.text);
    }
    let verification = app.get("/v1/audit/verification", "auditor").await;
    assert_eq!(verification.status, StatusCode::OK, "{}", verification.text);
    assert_eq!(verification.body["intact"], true, "{}", verification.text);
    // The answer names the key it checked with, by its full fingerprint, says the key is the
    // server's own (not an auditor's), and lists the tables rebuilt from the chain.
    let key = audit::AuditSigner::from_secret_bytes(&[7; 32]).public_key();
    assert_eq!(
        verification.body["key_fingerprint"],
        key.fingerprint().as_str()
    );
    assert_eq!(verification.body["key_held_by_auditor"], false);
    let tables = verification.body["tables_checked"].as_array().unwrap();
    assert!(tables.iter().any(|t| t == "users"), "{}", verification.text);
    let warnings = verification.body["warnings"].to_string();
    assert!(
        warnings.contains("only as good as the folder"),
        "{warnings}"
    );
}

#[tokio::test]
async fn the_task_listing_names_every_wrong_parameter() {
    let app = spawn_app().await;

    assert!(tasks(&app, "", "officer").await.is_empty());
    for (query, path) in [
        ("mine=yes", "mine"),
        ("status=pending", "status"),
        ("limit=ten", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("assignee=me", "assignee"),
        ("mine=true&mine=false", "mine"),
    ] {
        let reply = app.get(&format!("/v1/tasks?{query}"), "officer").await;
        reply.assert_problem(422);
        assert_eq!(reply.error_paths()[0].0, path, "{query}: {}", reply.text);
    }
    assert!(
        tasks(&app, "?limit=500&mine=false&office=2200", "officer")
            .await
            .is_empty()
    );
}

/// The officer goes on duty at 2200, is listed there and not at 5300, and goes off duty; a wrong
/// office or query parameter is named.
#[tokio::test]
async fn an_officer_goes_on_and_off_duty() {
    let app = spawn_app().await;
    let roster = |office: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .get(&format!("/v1/duty?office={office}"), "risk_analyst")
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.body["on_duty"].as_array().unwrap().clone()
        }
    };
    let on = app
        .put("/v1/duty", "officer", &json!({"office": "2200"}))
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(on.body["office"], "2200");
    assert_eq!(roster("2200").await.len(), 1);
    assert!(roster("5300").await.is_empty());

    for body in [
        json!({"office": "22"}),
        json!({"office": "2200", "shift": "night"}),
    ] {
        let reply = app.put("/v1/duty", "officer", &body).await;
        reply.assert_problem(422);
        assert!(
            ["office", "shift"].contains(&reply.error_paths()[0].0.as_str()),
            "{}",
            reply.text
        );
    }
    let reply = app.get("/v1/duty?desk=3", "officer").await;
    reply.assert_problem(422);
    assert_eq!(reply.error_paths()[0].0, "desk");

    let off = app.delete("/v1/duty", "officer").await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(off.body["on_duty"], false);
    assert!(roster("2200").await.is_empty());
}

/// Only the officer a task is assigned to records its finding or attaches evidence: another
/// officer meets the task as if it did not exist (404, as for a missing task), and the task stays
/// open until its own officer closes it.
#[tokio::test]
async fn only_the_assigned_officer_records_a_finding_over_http() {
    use crate::helpers::spawn_app_with_users;
    static SECOND_OFFICER: [(&str, clearance::Role, Option<&str>); 1] =
        [("officer_wu", clearance::Role::Officer, None)];
    let app = spawn_app_with_users(&SECOND_OFFICER).await;
    let id = app.lodged_id("broker", &example()).await;
    let held = app
        .post(
            &format!("/v1/declarations/{id}/hold"),
            "officer",
            None,
            &json!({ "reason": "seal to be checked" }),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let task_id = held.body["id"].as_str().unwrap().to_owned();
    let finding_path = format!("/v1/tasks/{task_id}/finding");
    let finding = json!({ "discrepancy": false, "note": "seal intact" });

    let by_another = app
        .post(&finding_path, "officer_wu", Some("wu-1"), &finding)
        .await;
    by_another.assert_problem(404);
    assert_eq!(
        by_another.body["type"],
        "urn:opencustoms:problem:task-not-found"
    );
    app.post_file(
        &format!("/v1/tasks/{task_id}/attachments?file_name=seal.jpg"),
        "officer_wu",
        Some("image/jpeg"),
        b"\xff\xd8\xff\xe0 seal".to_vec(),
    )
    .await
    .assert_problem(404);
    app.post(&finding_path, "broker", Some("b-1"), &finding)
        .await
        .assert_problem(403);
    let open: Vec<Value> = tasks(&app, "?status=open", "auditor")
        .await
        .into_iter()
        .filter(|t| t["kind"] == "hold")
        .collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["assigned_to"], held.body["assigned_to"]);

    let closed = app
        .post(&finding_path, "officer", Some("o-1"), &finding)
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    assert!(
        !tasks(&app, "?status=open", "auditor")
            .await
            .iter()
            .any(|t| t["kind"] == "hold"),
        "the hold is lifted"
    );
}

/// The directory of names: customs roles read the names of the users who act, by id (unknown ids
/// left out), at most `ACTOR_NAMES_MAX` ids at once; the trade reads none.
#[tokio::test]
async fn customs_roles_read_the_names_of_who_acted_and_the_trade_does_not() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let held = app
        .post(
            &format!("/v1/declarations/{id}/hold"),
            "officer",
            Some("h-names"),
            &json!({ "reason": "names" }),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let officer = held.body["assigned_to"].as_str().unwrap().to_owned();

    let names = app
        .get(
            &format!("/v1/directory/names?id={officer}&id=system&id={officer}"),
            "auditor",
        )
        .await;
    assert_eq!(names.status, StatusCode::OK, "{}", names.text);
    assert_eq!(
        names.body,
        json!({ "names": { officer.clone(): "officer" } })
    );
    app.get(&format!("/v1/directory/names?id={officer}"), "broker")
        .await
        .assert_problem(403);
    let max = clearance::directory::ACTOR_NAMES_MAX;
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("id=U-{i}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let at_max = app
        .get(&format!("/v1/directory/names?{}", ids(max)), "officer")
        .await;
    assert_eq!(at_max.status, StatusCode::OK, "{}", at_max.text);
    let over = app
        .get(&format!("/v1/directory/names?{}", ids(max + 1)), "officer")
        .await;
    over.assert_problem(422);
    assert_eq!(
        over.error_paths(),
        [("id".to_owned(), "too_many".to_owned())]
    );
    let unknown = app.get("/v1/directory/names?name=x", "officer").await;
    assert_eq!(
        unknown.error_paths(),
        [("name".to_owned(), "unknown_field".to_owned())]
    );
}
