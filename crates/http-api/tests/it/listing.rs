use std::collections::HashSet;

use clearance::PAGE_SIZE_MAX;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{OTHER_TRADER, TRADER, example, example_for_other_declarant, spawn_app};

fn ids(reply: &crate::helpers::Reply) -> Vec<String> {
    let declarations = reply.body["declarations"].as_array().expect("a page");
    declarations
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_through_with_a_cursor_shows_every_declaration_once_newest_first() {
    // Arrange
    let app = spawn_app().await;
    let n_declarations = 7;
    let mut lodged = Vec::new();
    for _ in 0..n_declarations {
        lodged.push(app.lodged_id("broker", &example()).await);
    }

    // Act
    let mut seen = Vec::new();
    let mut path = "/v1/declarations?limit=3".to_owned();
    let mut n_pages = 0;
    loop {
        let page = app.get(&path, "officer").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(ids(&page));
        n_pages += 1;
        let Some(cursor) = page.body["next_cursor"].as_str() else {
            break;
        };
        path = format!("/v1/declarations?limit=3&cursor={cursor}");
        assert!(n_pages < 10, "the pages end");
    }

    // Assert
    assert_eq!(n_pages, 3);
    lodged.reverse();
    assert_eq!(seen, lodged, "no repeats, no gaps, newest first");
}

#[tokio::test]
async fn filters_select_by_status_kind_direction_trader_and_date() {
    let app = spawn_app().await;
    let released = app.lodged_id("broker", &example()).await;
    let accepted = app.lodged_id("broker", &example()).await;
    app.assess_by_hand(&released, "13.00").await;
    app.settle(&released, "TB-LIST").await;
    let release = app
        .post(
            &format!("/v1/declarations/{released}/release"),
            "officer",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(release.status, StatusCode::OK, "{}", release.text);
    // The app's pinned clock (`helpers::NOW`): 10:00 on 2026-11-27 in UTC+8.
    let today = "2026-11-27";
    let yesterday = "2026-11-26";
    let cases = [
        ("status=released".to_owned(), vec![released.clone()]),
        ("status=accepted".to_owned(), vec![accepted.clone()]),
        (
            "kind=ordinary&direction=import".to_owned(),
            vec![accepted.clone(), released.clone()],
        ),
        ("direction=export".to_owned(), vec![]),
        (
            format!("trader_credit_code={TRADER}&office_of_lodging=2200"),
            vec![accepted.clone(), released.clone()],
        ),
        (
            format!("lodged_from={today}&lodged_to={today}"),
            vec![accepted.clone(), released.clone()],
        ),
        (format!("lodged_to={yesterday}"), vec![]),
    ];

    for (query, want) in cases {
        let page = app
            .get(&format!("/v1/declarations?{query}"), "officer")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.text);
        assert_eq!(ids(&page), want, "{query}");
    }
}

/// Each filter on `kind`, `office_of_lodging` and `trader_credit_code` both keeps and leaves out
/// a declaration: a listing that ignored the filter would answer more than it asks for.
#[tokio::test]
async fn filters_on_kind_office_and_trader_each_leave_something_out() {
    let app = spawn_app().await;
    let ordinary = app.lodged_id("broker", &example()).await;
    let mut summary = example();
    summary["kind"] = json!("summary");
    let summary = app.lodged_id("broker", &summary).await;
    let mut elsewhere = example();
    elsewhere["office_of_lodging"] = json!("5300");
    let elsewhere = app.lodged_id("broker", &elsewhere).await;
    let other = app
        .lodged_id("other_declarant", &example_for_other_declarant())
        .await;
    let all = [&other, &elsewhere, &summary, &ordinary];
    let but = |left_out: &[&String]| -> Vec<String> {
        all.iter()
            .filter(|id| !left_out.contains(id))
            .map(|id| id.to_string())
            .collect()
    };
    let cases = [
        ("kind=ordinary".to_owned(), but(&[&summary])),
        ("kind=summary".to_owned(), vec![summary.clone()]),
        ("office_of_lodging=2200".to_owned(), but(&[&elsewhere])),
        ("office_of_lodging=5300".to_owned(), vec![elsewhere.clone()]),
        (format!("trader_credit_code={TRADER}"), but(&[&other])),
        (
            format!("trader_credit_code={OTHER_TRADER}"),
            vec![other.clone()],
        ),
        (
            format!("kind=ordinary&office_of_lodging=2200&trader_credit_code={TRADER}"),
            vec![ordinary.clone()],
        ),
    ];
    for (query, want) in cases {
        let page = app
            .get(&format!("/v1/declarations?{query}"), "officer")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.text);
        assert_eq!(ids(&page), want, "{query}");
    }
}

#[tokio::test]
async fn the_page_size_goes_from_one_to_the_maximum() {
    let app = spawn_app().await;
    app.lodged_id("broker", &example()).await;

    let at_max = app
        .get(
            &format!("/v1/declarations?limit={PAGE_SIZE_MAX}"),
            "officer",
        )
        .await;
    let one = app.get("/v1/declarations?limit=1", "officer").await;
    let zero = app.get("/v1/declarations?limit=0", "officer").await;
    let over_max = app
        .get(
            &format!("/v1/declarations?limit={}", PAGE_SIZE_MAX + 1),
            "officer",
        )
        .await;

    assert_eq!(at_max.status, StatusCode::OK, "{}", at_max.text);
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    for refused in [zero, over_max] {
        refused.assert_problem(422);
        assert_eq!(
            refused.error_paths(),
            [("limit".to_owned(), "out_of_range".to_owned())]
        );
    }
}

#[tokio::test]
async fn bad_query_parameters_are_problems_naming_each_parameter() {
    let app = spawn_app().await;

    let refused = app
        .get(
            "/v1/declarations?limit=many&status=lost&colour=red&lodged_from=1.1.2026",
            "officer",
        )
        .await;

    refused.assert_problem(422);
    let named: HashSet<(String, String)> = refused.error_paths().into_iter().collect();
    assert_eq!(
        named,
        HashSet::from([
            ("limit".to_owned(), "invalid_format".to_owned()),
            ("colour".to_owned(), "unknown_field".to_owned()),
        ]),
        "the parameters that cannot be read are named before the values are checked"
    );
    let values = app
        .get(
            "/v1/declarations?status=lost&lodged_from=1.1.2026&cursor=x",
            "officer",
        )
        .await;
    values.assert_problem(422);
    let named: HashSet<String> = values
        .error_paths()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(
        named,
        HashSet::from([
            "status".to_owned(),
            "lodged_from".to_owned(),
            "cursor".to_owned()
        ])
    );
}
