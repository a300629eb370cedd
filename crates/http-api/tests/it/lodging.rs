use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{broken_example, example, send, spawn_app};

#[tokio::test]
async fn lodging_the_example_numbers_it_and_it_can_be_read_by_id_and_by_number() {
    // Arrange
    let app = spawn_app().await;
    // The app's pinned clock (`helpers::NOW`) is in 2026 in UTC+8.
    let year = 2026;

    // Act
    let lodged = app.lodge("broker", &example()).await;

    // Assert
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    assert_eq!(lodged.body["created"], true);
    let number = lodged.body["number"].as_str().unwrap().to_owned();
    assert_eq!(number.len(), 18);
    assert!(number.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        number.starts_with(&format!("2200{year}1")),
        "office 2200, this year (UTC+8), import: {number}"
    );
    let id = lodged.body["id"].as_str().unwrap();
    assert_eq!(
        lodged.headers["location"],
        format!("/v1/declarations/{id}").as_str()
    );
    for key in [id, number.as_str()] {
        let read = app.get(&format!("/v1/declarations/{key}"), "broker").await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        assert_eq!(read.body["id"], id);
        assert_eq!(read.body["number"], number.as_str());
        assert_eq!(read.body["status"], "accepted");
    }
}

#[tokio::test]
async fn the_broken_example_is_refused_with_every_error_in_english_and_chinese() {
    let app = spawn_app().await;

    let refused = app.lodge("broker", &broken_example()).await;

    refused.assert_problem(422);
    let errors = refused.body["errors"].as_array().unwrap();
    // Every field error at once, and the cross-field rules whose fields parsed (net above gross).
    assert_eq!(
        errors.len(),
        4,
        "every error, not the first: {}",
        refused.text
    );
    for error in errors {
        for field in ["path", "code", "message_en", "message_zh"] {
            assert!(
                !error[field].as_str().unwrap_or("").is_empty(),
                "{field} of {error}"
            );
        }
    }
    let mut problem = refused.body.clone();
    problem["request_id"] = json!("[request_id]");
    insta::assert_json_snapshot!(problem);
}

#[tokio::test]
async fn the_same_idempotency_key_twice_lodges_once() {
    // Arrange
    let app = spawn_app().await;
    let key = "lodging-2026-0001";

    // Act
    let first = app
        .post("/v1/declarations", "broker", Some(key), &example())
        .await;
    let second = app
        .post("/v1/declarations", "broker", Some(key), &example())
        .await;

    // Assert
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["created"], false);
    assert_eq!(second.body["number"], first.body["number"]);
    assert_eq!(second.headers["location"], first.headers["location"]);
    let listed = app.get("/v1/declarations", "broker").await;
    assert_eq!(listed.body["declarations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let key = "lodging-2026-0002";
    let mut other = example();
    other["invoice"]["number"] = json!("PE-2026-9999");

    let first = app
        .post("/v1/declarations", "broker", Some(key), &example())
        .await;
    let reused = app
        .post("/v1/declarations", "broker", Some(key), &other)
        .await;

    assert_eq!(first.status, StatusCode::CREATED);
    reused.assert_problem(422);
    assert_eq!(
        reused.error_paths(),
        [("Idempotency-Key".to_owned(), "not_allowed".to_owned())]
    );
}

#[tokio::test]
async fn json_syntax_errors_are_problems_naming_the_position() {
    let app = spawn_app().await;

    let refused = app
        .post_bytes(
            "/v1/declarations",
            "broker",
            None,
            r#"{"direction": "import",,}"#,
        )
        .await;

    refused.assert_problem(422);
    assert_eq!(refused.error_paths()[0].1, "invalid_json");
}

#[tokio::test]
async fn an_empty_or_missing_body_says_so_on_every_json_route() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let routes = [
        ("/v1/declarations".to_owned(), "broker"),
        ("/v1/estimates".to_owned(), "broker"),
        (format!("/v1/declarations/{id}/amendments"), "broker"),
        ("/v1/tokens".to_owned(), "admin"),
        ("/v1/rules".to_owned(), "risk_analyst"),
    ];
    for (path, user) in routes {
        let empty = app.post_bytes(&path, user, Some("empty-body-1"), "").await;
        let blank = app
            .post_bytes(&path, user, Some("empty-body-2"), "  \n")
            .await;
        // No body and no Content-Type at all.
        let missing = send(
            app.http
                .post(app.url(&path))
                .bearer_auth(app.token(user))
                .header("idempotency-key", "empty-body-3"),
        )
        .await;
        for refused in [&empty, &blank, &missing] {
            refused.assert_problem(422);
            assert_eq!(
                refused.error_paths(),
                [("body".to_owned(), "required".to_owned())],
                "{path}: {}",
                refused.text
            );
            assert!(
                refused.text.contains("the request body is empty"),
                "{}",
                refused.text
            );
            assert!(refused.text.contains("请求体为空"), "{}", refused.text);
        }
    }
}

#[tokio::test]
async fn a_wrong_type_is_a_problem_naming_the_field_path() {
    let app = spawn_app().await;
    let mut document = example();
    document["items"][1]["description"] = json!(["not", "text"]);

    let refused = app.lodge("broker", &document).await;

    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [("items[1].description".to_owned(), "invalid_type".to_owned())]
    );
}

/// Defect 12 of issue 10: a declaration named its trader by a registered credit code with
/// another enterprise's customs code and name, and its declarant by a name that is not the
/// register's, and was accepted. Each disagreement is now refused at its path, in both
/// languages; names are compared after normalising whitespace only.
#[tokio::test]
async fn the_trader_and_declarant_must_be_the_registers_enterprises() {
    use crate::helpers::{ENTERPRISES, OTHER_TRADER};
    let app = spawn_app().await;
    let (_, other_customs_code, other_name) = ENTERPRISES
        .iter()
        .find(|(code, _, _)| *code == OTHER_TRADER)
        .unwrap();

    let mut wrong = example();
    wrong["trader"]["customs_code"] = json!(other_customs_code);
    wrong["trader"]["name"] = json!(other_name);
    wrong["declarant"]["name"] = json!("上海报关服务有限公司 Shanghai Customs Brokerage Co Ltd");
    let refused = app.lodge("broker", &wrong).await;
    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [
            ("trader.customs_code".to_owned(), "not_allowed".to_owned()),
            ("trader.name".to_owned(), "not_allowed".to_owned()),
            ("declarant.name".to_owned(), "not_allowed".to_owned()),
        ],
        "{}",
        refused.text
    );
    for error in refused.body["errors"].as_array().unwrap() {
        assert!(
            error["message_en"].as_str().unwrap().contains("registered"),
            "{error}"
        );
        assert!(
            error["message_zh"].as_str().unwrap().contains("备案"),
            "{error}"
        );
    }

    // The same name with its whitespace spread differently is the register's name.
    let mut spaced = example();
    spaced["trader"]["name"] =
        json!("  上海浦东贸易有限公司\u{3000}Shanghai  Pudong Trading Co., Ltd. ");
    let lodged = app.lodge("broker", &spaced).await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    // ...but a difference of case is not.
    let mut cased = example();
    cased["trader"]["name"] = json!("上海浦东贸易有限公司 SHANGHAI PUDONG TRADING CO., LTD.");
    let refused = app.lodge("broker", &cased).await;
    assert_eq!(
        refused.error_paths()[0].0,
        "trader.name",
        "{}",
        refused.text
    );
}

/// A refusal does not echo an offending value in full: a megabyte in a field or a field name gives
/// an answer of a few kilobytes.
#[tokio::test]
async fn a_megabyte_value_gives_a_small_refusal() {
    let app = spawn_app().await;
    let megabyte = "Q".repeat(1 << 20);
    for field in [
        "invoice.currency",
        "trader.name",
        "items.0.origin_country",
        "unknown",
    ] {
        let mut document = example();
        match field {
            "invoice.currency" => document["invoice"]["currency"] = json!(megabyte),
            "trader.name" => document["trader"]["name"] = json!(megabyte),
            "items.0.origin_country" => document["items"][0]["origin_country"] = json!(megabyte),
            _ => document[megabyte.as_str()] = json!(1),
        }
        let refused = app.lodge("broker", &document).await;
        refused.assert_problem(422);
        assert!(
            refused.text.len() < 8 * 1024,
            "{field}: {} bytes answered",
            refused.text.len()
        );
    }
}
