//! Risk models over HTTP: history imported (every problem named by line and column), a model
//! trained in shadow, a lodged declaration's scores read by customs and refused to the trade.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{example, spawn_app};

const HEADER: &str = "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,\
Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,\
Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,\
Item Price,Fraud,Critical Fraud";

fn history(mass: &str) -> Vec<u8> {
    let mut text = format!("{HEADER}\n");
    for i in 0..40 {
        text.push_str(&format!(
            "{i},2026-02-{:02},2200,B,11,21,11,2,D1,I{},S2,,851713,US,US,0.0,A,N,{mass},{}.00,{},0\n",
            1 + i % 28,
            i % 3,
            7000 + i * 100,
            u32::from(i % 5 == 0)
        ));
    }
    text.into_bytes()
}

#[tokio::test]
async fn history_is_checked_a_model_trained_and_a_declaration_scored() {
    let app = spawn_app().await;
    let path = "/v1/history?format=kcs&label=2026";
    for (path, body, field) in [
        (path, history("heavy"), "line 2, column \"Net Mass\""),
        ("/v1/history?format=kcs", history("1.0"), "label"),
        ("/v1/history?format=xlsx&label=x", history("1.0"), "format"),
        (
            "/v1/history?format=kcs&label=x&sheet=1",
            history("1.0"),
            "sheet",
        ),
        (path, vec![0xff, 0xfe], "file"),
    ] {
        let reply = app
            .post_file(path, "risk_analyst", Some("text/csv"), body)
            .await;
        reply.assert_problem(422);
        assert_eq!(reply.error_paths()[0].0, field, "{path}: {}", reply.text);
    }
    let imported = app
        .post_file(path, "risk_analyst", Some("text/csv"), history("336.0"))
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(imported.body["rows"], 40);

    let wrong = app
        .post(
            "/v1/models/training",
            "risk_analyst",
            None,
            &json!({"label": "m", "until": "2026-13-01"}),
        )
        .await;
    wrong.assert_problem(422);
    assert_eq!(wrong.error_paths()[0].0, "until");
    let trained = app
        .post(
            "/v1/models/training",
            "risk_analyst",
            None,
            &json!({"label": "first", "until": "2026-12-31"}),
        )
        .await;
    assert_eq!(trained.status, StatusCode::CREATED, "{}", trained.text);
    assert_eq!(trained.body["status"], "shadow");

    let lodged = app.lodge("broker", &example()).await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    let id = lodged.body["id"].as_str().unwrap();
    let scores = app
        .get(&format!("/v1/declarations/{id}/scores"), "officer")
        .await;
    assert_eq!(scores.status, StatusCode::OK, "{}", scores.text);
    assert_eq!(
        scores.body["scores"][0]["model"], "M-0001",
        "{}",
        scores.text
    );
    assert_eq!(scores.body["scores"][0]["status"], "shadow");
    app.get(&format!("/v1/declarations/{id}/scores"), "broker")
        .await
        .assert_problem(403);
    let drift = app.get("/v1/models/M-0001/drift?sample=0", "officer").await;
    drift.assert_problem(422);
    assert_eq!(drift.error_paths()[0].0, "sample");
    app.get("/v1/models/M-0009/drift", "officer")
        .await
        .assert_problem(404);
}

/// A training job is answered at once, queued for whoever runs jobs (none in these tests), its
/// request checked like the synchronous one's, and an unknown job is not found.
#[tokio::test]
async fn a_training_job_is_answered_at_once_and_followed_by_its_id() {
    let app = spawn_app().await;
    let wrong = app
        .post(
            "/v1/models/training-jobs",
            "risk_analyst",
            None,
            &json!({"label": "m", "until": "2026-02-30"}),
        )
        .await;
    wrong.assert_problem(422);
    assert_eq!(wrong.error_paths()[0].0, "until");
    let queued = app
        .post(
            "/v1/models/training-jobs",
            "risk_analyst",
            Some("weekly-1"),
            &json!({"label": "weekly", "until": "2026-12-31"}),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.text);
    assert_eq!(queued.body["status"], "queued");
    assert_eq!(queued.body["until"], "2026-12-31");
    let job = queued.body["job"].as_str().unwrap();
    let again = app
        .post(
            "/v1/models/training-jobs",
            "risk_analyst",
            Some("weekly-1"),
            &json!({"label": "weekly", "until": "2026-12-31"}),
        )
        .await;
    assert_eq!(again.body["job"], job);
    let followed = app
        .get(&format!("/v1/models/training-jobs/{job}"), "officer")
        .await;
    assert_eq!(followed.status, StatusCode::OK, "{}", followed.text);
    assert_eq!(
        followed.body["requested_by_name"],
        queued.body["requested_by_name"]
    );
    app.get("/v1/models/training-jobs/TJ-9999", "risk_analyst")
        .await
        .assert_problem(404);
}
