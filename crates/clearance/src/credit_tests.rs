//! Enterprise credit levels (企业信用等级) in targeting: an administrator sets a trader's level
//! (an event, every change kept), and the declarations accepted from then on are selected with
//! it: an untrustworthy trader at the credit modifier's minimum random rate, rules on `credit`.

use serde_json::{Value, json};
use store::{Actor, Store};

use crate::tests::{EXAMPLE, Fixture, TRADER, beijing, fixture};
use crate::{ClearanceError, Role};

fn admin() -> Actor {
    Actor {
        user_id: "test".into(),
        role: "admin".into(),
    }
}

/// Lodges `count` declarations of the trader (keys `<prefix>-<n>`); their selections.
async fn selections(f: &Fixture, prefix: &str, count: usize) -> Vec<Value> {
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let mut selections = Vec::new();
    for n in 0..count {
        let lodged = f
            .clearance
            .lodge(&broker, Some(&format!("{prefix}-{n}")), EXAMPLE.as_bytes())
            .await
            .unwrap();
        selections.push(
            f.clearance
                .selection(&officer, &lodged.number)
                .await
                .unwrap(),
        );
    }
    selections
}

fn randomly_selected(selections: &[Value]) -> usize {
    selections
        .iter()
        .filter(|s| {
            s["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["source"]["kind"] == "random" && r["selected"] == true)
        })
        .count()
}

#[tokio::test]
async fn an_untrustworthy_traders_declarations_are_selected_at_the_minimum_random_rate() {
    // The fixture's random rate is 0; the untrustworthy minimum is 0.8 (`sample_china`).
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    assert_eq!(
        f.clearance.store().credit_level(TRADER).await.unwrap(),
        None
    );

    let general = selections(&f, "general", 40).await;
    assert_eq!(randomly_selected(&general), 0);
    assert_eq!(
        general[0]["random"]["rate"].as_f64(),
        Some(0.0),
        "{:#}",
        general[0]
    );

    let set = f
        .clearance
        .set_credit_level(&admin(), TRADER, "untrustworthy", "失信：未按期缴纳税款")
        .await
        .unwrap();
    assert_eq!(set["level"], "untrustworthy");
    assert_eq!(set["previous_level"], Value::Null);
    assert!(set["seq"].as_u64().is_some(), "{set:#}");

    let untrustworthy = selections(&f, "untrustworthy", 40).await;
    let selected = randomly_selected(&untrustworthy);
    // Binomial(40, 0.8): mean 32, sd 2.5; 20 is 4.7 sd below, a chance of about 1 in 10^6.
    assert!(selected >= 20, "{selected} of 40 selected at random");
    assert_eq!(untrustworthy[0]["random"]["rate"].as_f64(), Some(0.8));

    // Back to `general`: the change is kept, and the random rate is 0 again.
    let back = f
        .clearance
        .set_credit_level(&admin(), TRADER, "general", "rating restored")
        .await
        .unwrap();
    assert_eq!(back["previous_level"], "untrustworthy");
    assert_eq!(randomly_selected(&selections(&f, "restored", 10).await), 0);
}

#[tokio::test]
async fn a_rule_on_credit_matches_once_the_level_is_set() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    for name in ["analyst-wang", "analyst-zhao"] {
        f.clearance
            .create_user(&admin(), name, Role::RiskAnalyst, None)
            .await
            .unwrap();
    }
    let (wang, zhao) = (
        f.caller("analyst-wang").await,
        f.caller("analyst-zhao").await,
    );
    let rule = json!({
        "purpose": "both",
        "action": "document_check",
        "expected_selection_rate": "1",
        "priority": 120,
        "reason_en": "untrustworthy trader",
        "reason_zh": "失信企业",
        "expression": "credit == \"untrustworthy\"",
    });
    let proposed = f
        .clearance
        .propose_rule(&wang, rule.to_string().as_bytes())
        .await
        .unwrap();
    let id = proposed["id"].as_str().unwrap().to_owned();
    f.clearance.approve_rule(&zhao, &id, 1).await.unwrap();
    let matched_by_rule = |selection: &Value| {
        selection["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["source"]["kind"] == "rule" && r["source"]["rule"] == json!(id))
    };

    let before = selections(&f, "before", 1).await;
    assert!(!matched_by_rule(&before[0]), "{:#}", before[0]);

    f.clearance
        .set_credit_level(&admin(), TRADER, "untrustworthy", "失信企业认定")
        .await
        .unwrap();
    let after = selections(&f, "after", 1).await;
    assert!(matched_by_rule(&after[0]), "{:#}", after[0]);
}

#[tokio::test]
async fn a_credit_level_is_checked_field_by_field_and_set_by_administrators_only() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let refused = f
        .clearance
        .set_credit_level(&admin(), "not a code", "excellent", " ")
        .await;
    let Err(ClearanceError::Invalid(errors)) = refused else {
        panic!("{refused:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["credit_code", "level", "reason"]);
    assert!(
        errors
            .iter()
            .all(|e| !e.message_en.is_empty() && !e.message_zh.is_empty())
    );
    assert!(
        errors[1].message_en.contains("untrustworthy"),
        "{}",
        errors[1].message_en
    );

    // A mistyped code is refused by its check character...
    let mistyped = f
        .clearance
        .set_credit_level(&admin(), "91310000MA1FL0002X", "general", "rating")
        .await;
    let Err(ClearanceError::Invalid(errors)) = mistyped else {
        panic!("{mistyped:?}")
    };
    assert_eq!(errors[0].path, "credit_code");
    assert_eq!(errors[0].code, domain::ErrorCode::CheckDigit);
    // ...and a well-formed code (check character right) of no registered enterprise as such.
    let unknown = f
        .clearance
        .set_credit_level(&admin(), "91310000MA1FL0002W", "general", "rating")
        .await;
    let Err(ClearanceError::Invalid(errors)) = unknown else {
        panic!("{unknown:?}")
    };
    assert_eq!(errors[0].path, "credit_code");
    assert_eq!(errors[0].code, domain::ErrorCode::NotAllowed);
    assert!(
        errors[0].message_en.contains("is registered"),
        "{}",
        errors[0].message_en
    );

    // Over the API: administrators only.
    let officer = f.caller("officer").await;
    let by_officer = f
        .clearance
        .set_credit_level_as(&officer, TRADER, "untrustworthy", "rating")
        .await;
    assert!(matches!(by_officer, Err(ClearanceError::Forbidden { .. })));
    assert_eq!(
        f.clearance.store().credit_level(TRADER).await.unwrap(),
        None
    );
    f.clearance
        .create_user(&admin(), "root", Role::Admin, None)
        .await
        .unwrap();
    let root = f.caller("root").await;
    let set = f
        .clearance
        .set_credit_level_as(&root, TRADER, "advanced_certified", "AEO 认证")
        .await
        .unwrap();
    assert_eq!(set["credit_code"], TRADER);
    assert_eq!(
        f.clearance
            .store()
            .credit_level(TRADER)
            .await
            .unwrap()
            .as_deref(),
        Some("advanced_certified")
    );
    let events = f
        .clearance
        .store()
        .events(
            &f.clearance
                .store()
                .enterprise_by_credit_code(TRADER)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.action, crate::CREDIT_LEVEL_SET_ACTION);
    assert_eq!(last.actor.user_id, root.user_id());
}
