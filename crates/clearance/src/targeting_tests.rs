//! Targeting in the service: a rule proposed, refused when its expression is wrong (with the
//! position), tested on recent declarations, approved by a second analyst (never its author),
//! selecting declarations into the red lane with its reason; trade sees only the lane.

use serde_json::{Value, json};
use store::Actor;

use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

fn rule(expression: &str) -> Vec<u8> {
    json!({
        "purpose": "revenue",
        "action": "physical_inspection",
        "expected_selection_rate": "1",
        "priority": 200,
        "reason_en": "US smartphones: undervaluation seen in 2026",
        "reason_zh": "美国产手机：2026年发现低报价格",
        "expression": expression,
    })
    .to_string()
    .into_bytes()
}

const SMARTPHONES_FROM_US: &str =
    "item.commodity_code.startsWith(\"8517\") && item.origin_country == \"US\"";

/// Two risk analysts, Wang and Zhao: one proposes, the other approves.
async fn two_analysts(f: &Fixture) -> (Caller, Caller) {
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    for name in ["analyst-wang", "analyst-zhao"] {
        f.clearance
            .create_user(&admin, name, Role::RiskAnalyst, None)
            .await
            .unwrap();
    }
    (
        f.caller("analyst-wang").await,
        f.caller("analyst-zhao").await,
    )
}

#[tokio::test]
async fn an_analysts_rule_is_tested_approved_by_another_and_selects_into_the_red_lane() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let (wang, zhao) = two_analysts(&f).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let before = f
        .clearance
        .lodge(&broker, Some("d1"), EXAMPLE.as_bytes())
        .await
        .unwrap();

    // A wrong name is refused with its position.
    let refused = f
        .clearance
        .propose_rule(&wang, &rule("item.origin == \"US\""))
        .await;
    let Err(ClearanceError::Invalid(errors)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(errors[0].path, "expression");
    assert!(
        errors[0].message_en.contains("1:"),
        "{}",
        errors[0].message_en
    );

    // Tested on the recent declarations before anything is stored.
    let tested = f
        .clearance
        .test_rule(&wang, &rule(SMARTPHONES_FROM_US), 100)
        .await
        .unwrap();
    assert_eq!(tested["declarations_tested"], 1, "{tested:#}");
    assert_eq!(tested["matched"], 1);
    assert_eq!(tested["hits"][0]["number"], json!(before.number));
    assert_eq!(tested["hits"][0]["items"], json!([0]));

    // Proposed, not in force until a second analyst approves it: four eyes.
    let proposed = f
        .clearance
        .propose_rule(&wang, &rule(SMARTPHONES_FROM_US))
        .await
        .unwrap();
    assert_eq!(
        (proposed["id"].as_str(), proposed["status"].as_str()),
        (Some("R-000001"), Some("proposed"))
    );
    let own = f.clearance.approve_rule(&wang, "R-000001", 1).await;
    assert!(
        matches!(own, Err(ClearanceError::Forbidden { .. })),
        "{own:?}"
    );
    let by_officer = f.clearance.approve_rule(&officer, "R-000001", 1).await;
    assert!(matches!(by_officer, Err(ClearanceError::Forbidden { .. })));
    let approved = f
        .clearance
        .approve_rule(&zhao, "R-000001", 1)
        .await
        .unwrap();
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["approved_by"], json!(zhao.user_id()));

    // Now a lodging of US smartphones goes red, for this rule's reason.
    let lodged = f
        .clearance
        .lodge(&broker, Some("d2"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let selection = f
        .clearance
        .selection(&officer, &lodged.number)
        .await
        .unwrap();
    assert_eq!(selection["lane"], "red", "{selection:#}");
    let reason = selection["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"]["kind"] == "rule")
        .unwrap_or_else(|| panic!("{selection:#}"));
    assert_eq!(reason["source"]["rule"], "R-000001");
    assert_eq!(reason["selected"], true);
    assert!(selection["seed"].as_str().is_some_and(|s| !s.is_empty()));
    // The trader sees its lane and what is asked of it, never the rule.
    let seen = f
        .clearance
        .selection(&broker, &lodged.number)
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({ "lane": "red", "asked": ["physical_inspection"] })
    );
    assert!(matches!(
        f.clearance.rules(&broker, None).await,
        Err(ClearanceError::Forbidden { .. })
    ));

    // Retired: it selects nothing more.
    f.clearance
        .retire_rule(&zhao, "R-000001", 1, "measure ended")
        .await
        .unwrap();
    let after = f
        .clearance
        .lodge(&broker, Some("d3"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let selection: Value = f
        .clearance
        .selection(&officer, &after.number)
        .await
        .unwrap();
    assert!(
        selection["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["source"]["kind"] != "rule"),
        "{selection:#}"
    );
    let rules = f.clearance.rules(&officer, None).await.unwrap();
    assert_eq!(rules[0]["status"], "retired");
}

/// Rules see the trader's record: its declarations of the last 365 days.
#[tokio::test]
async fn a_rule_sees_the_importers_declaration_count() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .create_user(&admin, "analyst-wang", Role::RiskAnalyst, None)
        .await
        .unwrap();
    let wang = f.caller("analyst-wang").await;
    let broker = f.caller("broker").await;
    for key in ["h1", "h2"] {
        f.clearance
            .lodge(&broker, Some(key), EXAMPLE.as_bytes())
            .await
            .unwrap();
    }
    f.clearance.credit_levels.invalidate();
    let tested = f
        .clearance
        .test_rule(&wang, &rule("features.importer_declarations_365d >= 2"), 10)
        .await
        .unwrap();
    assert_eq!(tested["matched"], 2, "{tested:#}");
    let tested = f
        .clearance
        .test_rule(&wang, &rule("features.importer_declarations_365d >= 3"), 10)
        .await
        .unwrap();
    assert_eq!(tested["matched"], 0, "{tested:#}");
}

/// Rules and watch-list entries are numbered from counters: analysts proposing at the same time
/// get distinct numbers, none refused.
#[tokio::test]
async fn concurrent_proposals_get_distinct_rule_and_watch_entry_numbers() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let (wang, zhao) = two_analysts(&f).await;
    let body = rule(SMARTPHONES_FROM_US);
    let c = &f.clearance;
    let (a, b, c2, d) = tokio::join!(
        c.propose_rule(&wang, &body),
        c.propose_rule(&zhao, &body),
        c.propose_rule(&wang, &body),
        c.propose_rule(&zhao, &body),
    );
    let mut ids: Vec<String> = [a, b, c2, d]
        .into_iter()
        .map(|r| r.unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["R-000001", "R-000002", "R-000003", "R-000004"]);

    let entry = json!({
        "kind": "importer", "value": "91310000MA1FL0X123", "action": "hold",
        "reason_en": "r", "reason_zh": "r",
    })
    .to_string();
    let (a, b) = tokio::join!(
        c.add_watch_entry(&wang, entry.as_bytes()),
        c.add_watch_entry(&zhao, entry.as_bytes()),
    );
    let mut ids = [a.unwrap()["id"].clone(), b.unwrap()["id"].clone()];
    ids.sort_by_key(|v| v.to_string());
    assert_eq!(ids, [json!("W-000001"), json!("W-000002")]);
}

#[tokio::test]
async fn a_rule_is_checked_without_being_kept_and_only_by_an_analyst() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    let officer = f.caller("officer").await;
    f.clearance
        .check_rule(&wang, &rule(SMARTPHONES_FROM_US))
        .expect("a right rule passes");
    let Err(ClearanceError::Invalid(errors)) = f
        .clearance
        .check_rule(&wang, &rule("item.colour == \"red\""))
    else {
        panic!("a wrong name is refused");
    };
    assert_eq!(errors[0].path, "expression");
    assert!(errors[0].message_en.contains("at 1:6"), "{errors:?}");
    assert!(
        errors[0].message_zh.contains("第 1 行第 6 列"),
        "{errors:?}"
    );
    assert!(matches!(
        f.clearance.check_rule(&officer, &rule(SMARTPHONES_FROM_US)),
        Err(ClearanceError::Forbidden { .. })
    ));
    assert!(
        f.clearance.rules(&wang, None).await.unwrap().is_empty(),
        "nothing is kept"
    );
}
