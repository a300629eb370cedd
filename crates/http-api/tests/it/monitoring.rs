//! What an operator monitors, over HTTP: the metric families after real lodgings, refusals and
//! tasks, and liveness and readiness against a real store whose writer is stopped.

use reqwest::StatusCode;
use serde_json::json;
use store::Store;

use crate::helpers::{
    NOW, Reply, TestApp, eventually, example, roomy_config, send, spawn_app, spawn_app_at,
    spawn_app_with,
};
use crate::officer_work::inspect_us_smartphones;

/// A scrape from another address than the test's other calls, whose rate budget is its own.
async fn scrape(app: &TestApp) -> Reply {
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let reply = send(elsewhere.get(app.url("/metrics"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
}

/// The value of the sample written exactly `series` (name and labels), if there is one.
fn value(metrics: &Reply, series: &str) -> Option<f64> {
    metrics.text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}

fn assert_value(metrics: &Reply, series: &str, expected: f64) {
    assert_eq!(
        value(metrics, series),
        Some(expected),
        "{series} in\n{}",
        metrics.text
    );
}

/// Two declarations sent to the red lane by an analysts' rule: the lane mix, the rule's matches
/// and selections, the open tasks of the office (as many as the task list shows), the store's
/// commits and chain, and the requests, all in one scrape.
#[tokio::test]
async fn a_scrape_after_real_lodgings_shows_lanes_rules_tasks_and_the_store() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-01-01").await;
    let rule = inspect_us_smartphones(&app).await;
    let before = scrape(&app).await;
    assert_value(
        &before,
        r#"customs_declarations_by_lane_total{lane="red"}"#,
        0.0,
    );
    assert_value(&before, "targeting_rules_active", 1.0);
    assert!(
        !before.text.contains("customs_tasks_open{"),
        "{}",
        before.text
    );

    let id = app.lodged_id("broker", &example()).await;
    app.lodged_id("broker", &example()).await;
    let read = app.get(&format!("/v1/declarations/{id}"), "broker").await;
    assert_eq!(read.status, StatusCode::OK);
    app.get("/v1/no-such-thing/12345", "broker")
        .await
        .assert_problem(404);
    let tasks = app.get("/v1/tasks?status=open", "auditor").await;
    let tasks = tasks.body["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 2);
    let office = tasks[0]["office"].as_str().unwrap().to_owned();
    // The figures read from the store are cached for a few seconds: scrape until they show.
    let open = format!(r#"customs_tasks_open{{office="{office}"}}"#);
    let cached = std::time::Duration::from_secs(clearance::operations::WORK_FIGURES_CACHE_SECONDS);
    let shown = eventually(2 * cached, || async {
        value(&scrape(&app).await, &open).is_some()
    })
    .await;
    assert!(
        shown,
        "the open tasks show once the cached figures are read again"
    );
    let metrics = scrape(&app).await;

    assert!(metrics.content_type().starts_with("text/plain"));
    assert_value(
        &metrics,
        r#"customs_declarations_by_lane_total{lane="red"}"#,
        2.0,
    );
    assert_value(
        &metrics,
        r#"customs_declarations_by_lane_total{lane="green"}"#,
        0.0,
    );
    assert_value(
        &metrics,
        &format!(r#"targeting_rule_matches_total{{rule="{rule}"}}"#),
        2.0,
    );
    assert_value(
        &metrics,
        &format!(r#"targeting_rule_selections_total{{rule="{rule}"}}"#),
        2.0,
    );
    assert_value(&metrics, &open, 2.0);
    assert_value(
        &metrics,
        &format!(r#"customs_tasks_overdue{{office="{office}"}}"#),
        0.0,
    );
    assert_value(&metrics, "customs_work_figures_up", 1.0);
    // One process on its own store hears every change: its caches are in use.
    assert_value(&metrics, "customs_caches_trusted", 1.0);
    assert_value(&metrics, r#"risk_models{status="active"}"#, 0.0);
    // The store: its writer, its queue, its commits and its chain as the audit record shows it.
    assert_value(&metrics, "store_stats_up", 1.0);
    assert_value(&metrics, "store_writer_up", 1.0);
    assert_value(&metrics, "store_write_queue_depth", 0.0);
    assert_value(
        &metrics,
        "store_write_queue_capacity",
        store_sqlite::WRITE_QUEUE_MAX_DEFAULT as f64,
    );
    assert_value(&metrics, "store_write_queue_refusals_total", 0.0);
    let head = app
        .clearance
        .store()
        .audit_entries(0, usize::MAX)
        .await
        .unwrap()
        .len();
    assert_value(&metrics, "audit_chain_head_seq", head as f64);
    let commits = value(&metrics, "store_commit_batch_size_count").unwrap();
    assert!(commits >= 1.0, "{}", metrics.text);
    assert_value(
        &metrics,
        r#"store_commit_duration_seconds_bucket{le="+Inf"}"#,
        commits,
    );
    assert!(value(&metrics, r#"store_file_bytes{file="database"}"#).unwrap() > 0.0);
    assert!(value(&metrics, "store_disk_free_bytes").unwrap() > 0.0);
    // The requests: lodgings by route template, the scrape itself in progress.
    assert_value(
        &metrics,
        r#"http_requests_total{route="/v1/declarations",method="POST",status="201"}"#,
        2.0,
    );
    assert_value(
        &metrics,
        r#"http_requests_total{route="/v1/tasks",method="GET",status="200"}"#,
        1.0,
    );
    assert_value(
        &metrics,
        r#"http_requests_total{route="/v1/declarations/{id_or_number}",method="GET",status="200"}"#,
        1.0,
    );
    assert_value(&metrics, "http_requests_in_progress", 1.0);
    // No raw path is a label: neither a declaration's id nor a path that matches no route.
    assert!(!metrics.text.contains(&id), "{}", metrics.text);
    assert!(!metrics.text.contains("no-such-thing"), "{}", metrics.text);
}

/// A body over the limit and a client over its rate are counted as refusals by reason; the other
/// reasons show 0 before they first happen.
#[tokio::test]
async fn refusals_are_counted_by_reason() {
    let app = spawn_app_with(roomy_config_with_small_limits()).await;
    let over = app
        .post_bytes("/v1/declarations", "broker", None, " ".repeat(1001))
        .await;
    over.assert_problem(413);
    let mut refused = None;
    for _ in 0..10 {
        let reply = app.get("/v1/declarations", "broker").await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(reply);
            break;
        }
    }
    refused.expect("the burst runs out").assert_problem(429);

    let metrics = scrape(&app).await;

    assert_value(
        &metrics,
        r#"http_refusals_total{reason="body_too_large"}"#,
        1.0,
    );
    assert_value(
        &metrics,
        r#"http_refusals_total{reason="rate_limited"}"#,
        1.0,
    );
    for reason in [
        "in_progress",
        "heavy_job_busy",
        "timeout",
        "write_queue_full",
    ] {
        assert_value(
            &metrics,
            &format!(r#"http_refusals_total{{reason="{reason}"}}"#),
            0.0,
        );
    }
}

fn roomy_config_with_small_limits() -> http_api::ApiConfig {
    http_api::ApiConfig {
        body_limit_bytes: 1000,
        requests_per_second_per_client: 1,
        burst_per_client: 3,
        ..roomy_config()
    }
}

/// A real store is ready; once its writer stops, readiness says so (503, naming the writer),
/// while liveness and the old health probe (a read) still answer.
#[tokio::test]
async fn readiness_follows_the_writer_and_liveness_only_the_process() {
    let app = spawn_app().await;

    let ready = send(app.http.get(app.url("/v1/health/ready"))).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.body["status"], "ready");
    let names: Vec<&str> = ready.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ready"], true, "{c}");
            c["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["store", "writer", "write_queue", "disk"]);

    app.clearance.store().close().await;

    let not_ready = send(app.http.get(app.url("/v1/health/ready"))).await;
    not_ready.assert_problem(503);
    assert_eq!(not_ready.body["type"], "urn:opencustoms:problem:not-ready");
    let detail = not_ready.body["detail"].as_str().unwrap();
    assert!(detail.contains("writer: "), "{detail}");
    assert!(detail.contains("stopped"), "{detail}");
    assert!(
        !detail.contains("store: "),
        "the store still reads: {detail}"
    );
    assert!(
        not_ready.body["detail_zh"]
            .as_str()
            .unwrap()
            .contains("尚未就绪"),
        "{}",
        not_ready.text
    );
    let live = send(app.http.get(app.url("/v1/health/live"))).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body, json!({ "status": "live" }));
    let health = send(app.http.get(app.url("/v1/health"))).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    let metrics = scrape(&app).await;
    assert_value(&metrics, "store_writer_up", 0.0);
}
