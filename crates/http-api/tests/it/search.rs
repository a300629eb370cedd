//! Searching declarations over the API: by bill of lading, container, invoice, commodity code
//! prefix and part of the trader's name, each term leaving something out, combined with AND; the
//! trade finds only what it may see (the entitlement is part of the query); every refused term
//! named by its parameter, at the edges of its limits.

use clearance::{SEARCH_TERM_CHARS_MAX, TRADER_NAME_SEARCH_CHARS_MIN};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{example, example_for_other_declarant, spawn_app};

fn ids(reply: &crate::helpers::Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["declarations"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_search_term_finds_its_declarations_and_the_trade_only_its_own() {
    let app = spawn_app().await;
    let mut ours = example();
    ours["transport"]["document"]["number"] = json!("COSU-BL-0001");
    ours["transport"]["containers"] = json!(["CSQU3054383", "MSKU9070323"]);
    ours["invoice"]["number"] = json!("INV-OURS");
    let ours = app.lodged_id("broker", &ours).await;
    let mut theirs = example_for_other_declarant();
    theirs["transport"]["document"]["number"] = json!("COSU-BL-0002");
    theirs["transport"]["containers"] = json!(["csqu 305438-3"]);
    theirs["invoice"]["number"] = json!("INV-THEIRS");
    let theirs = app.lodged_id("other_declarant", &theirs).await;
    let plain = app.lodged_id("broker", &example()).await;
    let search = async |user: &str, query: &str| {
        ids(&app.get(&format!("/v1/declarations?{query}"), user).await)
    };

    let cases: &[(&str, &[&String])] = &[
        ("bill_of_lading=COSU-BL-0001", &[&ours]),
        ("bill_of_lading=COSU-BL", &[]),
        ("container=CSQU3054383", &[&theirs, &ours]),
        ("container=msku9070323", &[&ours]),
        ("invoice=INV-THEIRS", &[&theirs]),
        ("commodity_code=8517", &[&plain, &theirs, &ours]),
        ("commodity_code=8517.13", &[&plain, &theirs, &ours]),
        ("commodity_code=0101", &[]),
        ("trader_name=pudong", &[&plain, &ours]),
        ("trader_name=%E6%B5%A6%E4%B8%9C", &[&plain, &ours]),
        ("container=CSQU3054383&invoice=INV-OURS", &[&ours]),
        ("container=CSQU3054383&status=released", &[]),
    ];
    for (query, want) in cases {
        let want: Vec<String> = want.iter().map(|id| id.to_string()).collect();
        assert_eq!(search("officer", query).await, want, "{query}");
    }
    // The trade: the same container, only its own; another's bill of lading finds nothing.
    assert_eq!(
        search("broker", "container=CSQU3054383").await,
        std::slice::from_ref(&ours)
    );
    assert_eq!(
        search("other_declarant", "container=CSQU3054383").await,
        std::slice::from_ref(&theirs)
    );
    assert!(
        search("broker", "bill_of_lading=COSU-BL-0002")
            .await
            .is_empty()
    );
    assert_eq!(
        search("broker", "container=CSQU3054383&limit=1").await,
        std::slice::from_ref(&ours),
        "a page of one is the trade's own, not a page filtered after the fact"
    );
}

#[tokio::test]
async fn search_terms_are_refused_at_the_edges_of_their_limits() {
    let app = spawn_app().await;
    let refused = |query: String| {
        let app = &app;
        async move {
            let reply = app
                .get(&format!("/v1/declarations?{query}"), "officer")
                .await;
            reply.assert_problem(422);
            reply.error_paths()
        }
    };
    let accepted = |query: String| {
        let app = &app;
        async move {
            let reply = app
                .get(&format!("/v1/declarations?{query}"), "officer")
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
        }
    };
    let name = |n: usize| "浦".repeat(n);
    accepted(format!(
        "trader_name={}",
        name(TRADER_NAME_SEARCH_CHARS_MIN)
    ))
    .await;
    assert_eq!(
        refused(format!(
            "trader_name={}",
            name(TRADER_NAME_SEARCH_CHARS_MIN - 1)
        ))
        .await,
        [("trader_name".to_owned(), "out_of_range".to_owned())]
    );
    accepted(format!("invoice={}", "I".repeat(SEARCH_TERM_CHARS_MAX))).await;
    assert_eq!(
        refused(format!("invoice={}", "I".repeat(SEARCH_TERM_CHARS_MAX + 1))).await,
        [("invoice".to_owned(), "out_of_range".to_owned())]
    );
    assert_eq!(
        refused("container=CSQU3054384".to_owned()).await,
        [("container".to_owned(), "check_digit".to_owned())]
    );
    accepted("commodity_code=85".to_owned()).await;
    accepted("commodity_code=8517130000".to_owned()).await;
    for bad in ["8", "85171300001", "85x"] {
        assert_eq!(
            refused(format!("commodity_code={bad}")).await,
            [("commodity_code".to_owned(), "invalid_format".to_owned())],
            "{bad}"
        );
    }
    let all = refused("bill_of_lading=&container=X&trader_name=a".to_owned()).await;
    let named: Vec<&str> = all.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        named,
        ["bill_of_lading", "container", "trader_name"],
        "every term at once"
    );
}

#[tokio::test]
async fn a_container_with_a_wrong_check_digit_is_refused_naming_its_index() {
    let app = spawn_app().await;
    let mut document = example();
    document["transport"]["containers"] =
        json!(["CSQU3054383", "MSKU9070323", "MSKU9070324", "CSQU3054383"]);
    let reply = app.lodge("broker", &document).await;
    reply.assert_problem(422);
    assert_eq!(
        reply.error_paths(),
        [
            (
                "transport.containers[2]".to_owned(),
                "check_digit".to_owned()
            ),
            ("transport.containers[3]".to_owned(), "duplicate".to_owned()),
        ]
    );
    let zh = reply.body["errors"][0]["message_zh"].as_str().unwrap();
    assert!(zh.contains("校验码"), "{zh}");
}
