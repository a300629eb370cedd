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

/// The example with its first item's origin changed.
fn example_from(origin: &str) -> Vec<u8> {
    let mut declaration: Value = serde_json::from_str(EXAMPLE).unwrap();
    declaration["items"][0]["origin_country"] = json!(origin);
    declaration.to_string().into_bytes()
}

/// The finding that the first item was undervalued by 1,000 USD: more duty and tax to pay.
const UNDERVALUED: &str = r#"{"discrepancy":true,"corrections":[
    {"path":"items[0].unit_price","value":"225.00"},
    {"path":"items[0].amount","value":"9000.00"},
    {"path":"invoice.amount","value":"11000.00"}]}"#;

#[tokio::test]
async fn a_rule_is_back_tested_on_the_labelled_declarations_of_a_period() {
    // The sample tariff and rates in force (26 November 2026): a finding's corrections are
    // reassessed, the difference is the revenue the check recovered.
    let (f, _, _) = crate::assessment_tests::with_sample().await;
    let (wang, zhao) = two_analysts(&f).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    // Every import is inspected while this rule is in force: the checks are the labels.
    let mut every =
        serde_json::from_slice::<Value>(&rule("declaration.procedure == \"0110\"")).unwrap();
    every["reason_en"] = json!("inspect all");
    f.clearance
        .propose_rule(&wang, every.to_string().as_bytes())
        .await
        .unwrap();
    f.clearance
        .approve_rule(&zhao, "R-000001", 1)
        .await
        .unwrap();

    // The labelled history of 26 November: US smartphones undervalued (d1), Korean ones
    // undervalued (d2), US ones in order (d3), US ones not checked yet (d4).
    let mut ids = Vec::new();
    for (key, origin) in [("d1", "US"), ("d2", "KR"), ("d3", "US"), ("d4", "US")] {
        let lodged = f
            .clearance
            .lodge(&broker, Some(key), &example_from(origin))
            .await
            .unwrap();
        ids.push((lodged.id, lodged.number));
    }
    let open = f
        .clearance
        .tasks(&officer, true, None, Some("open"), 50)
        .await
        .unwrap();
    let task_of = |i: usize| {
        open.iter()
            .find(|t| t["declaration_id"] == json!(ids[i].0) && t["kind"] == "physical_inspection")
            .unwrap_or_else(|| panic!("no task for {i}: {open:#?}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut revenue = Vec::new();
    for (i, finding) in [
        (0, UNDERVALUED),
        (1, UNDERVALUED),
        (2, r#"{"discrepancy":false}"#),
    ] {
        let closed = f
            .clearance
            .record_finding(&officer, &task_of(i), None, finding.as_bytes())
            .await
            .unwrap();
        let total = closed["outcome"]["revenue_difference"]["total"]
            .as_str()
            .map(|t| t.parse::<rust_decimal::Decimal>().unwrap())
            .unwrap_or_default();
        revenue.push(total);
    }
    assert!(revenue[0] > rust_decimal::Decimal::ZERO, "{revenue:?}");
    assert!(revenue[1] > rust_decimal::Decimal::ZERO, "{revenue:?}");
    // Two days later, another US one, outside the first period.
    f.advance(chrono::Duration::days(2));
    f.clearance
        .lodge(&broker, Some("d5"), &example_from("US"))
        .await
        .unwrap();

    let smartphones = rule(SMARTPHONES_FROM_US);
    let report = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-26")
        .await
        .unwrap();
    // By hand: 4 declarations, the rule hits d1, d3, d4 (3, rate 0.75); d1, d2, d3 were checked
    // (3), of the hits d1 and d3 (2); d1 and d2 were frauds (2), the rule found d1 (1):
    // precision 1/2, recall 1/2; revenue recovered d1 + d2, of it found d1's.
    assert_eq!(
        (
            &report["declarations"],
            &report["hits"],
            &report["checked"],
            &report["checked_hits"],
            &report["frauds"],
            &report["frauds_found"],
        ),
        (
            &json!(4),
            &json!(3),
            &json!(3),
            &json!(2),
            &json!(2),
            &json!(1)
        ),
        "{report:#}"
    );
    assert_eq!(report["hit_rate"], json!(0.75));
    assert_eq!(report["precision"], json!(0.5));
    assert_eq!(report["recall"], json!(0.5));
    assert_eq!(
        report["revenue"],
        json!((revenue[0] + revenue[1]).to_string())
    );
    assert_eq!(report["revenue_found"], json!(revenue[0].to_string()));
    let listed: Vec<(&Value, &Value, &Value)> = report["hit_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (&h["number"], &h["discrepancy"], &h["lodged_on"]))
        .collect();
    assert_eq!(
        listed,
        [
            (&json!(ids[0].1), &json!(true), &json!("2026-11-26")),
            (&json!(ids[2].1), &json!(false), &json!("2026-11-26")),
            (&json!(ids[3].1), &json!(false), &json!("2026-11-26")),
        ]
    );
    assert_eq!(
        report["hit_list"][0]["revenue_found"],
        json!(revenue[0].to_string())
    );
    assert_eq!(report["hit_list"][0]["items"], json!([0]));

    // The period widened to the 28th takes d5 in: one more hit, never checked.
    let wider = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-28")
        .await
        .unwrap();
    assert_eq!(
        (&wider["declarations"], &wider["hits"]),
        (&json!(5), &json!(4))
    );
    assert_eq!(wider["precision"], json!(0.5));
    // A period without declarations: nothing hit, no rate to give.
    let empty = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2026-01-01", "2026-01-31")
        .await
        .unwrap();
    assert_eq!(
        (&empty["declarations"], &empty["hit_rate"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(empty["revenue_found"], "0");

    // Read only: nothing was recorded by the back-tests.
    let after = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-26")
        .await
        .unwrap();
    assert_eq!(after, report);

    // The declarations' limit, at its edge (5 lodged in the wider period).
    let at = f
        .clearance
        .backtest_rule_limited(&wang, &smartphones, "2026-11-26", "2026-11-28", 5)
        .await;
    assert!(at.is_ok(), "{at:?}");
    let over = f
        .clearance
        .backtest_rule_limited(&wang, &smartphones, "2026-11-26", "2026-11-28", 4)
        .await;
    let Err(ClearanceError::Invalid(errors)) = over else {
        panic!("{over:?}")
    };
    assert_eq!(errors[0].path, "to");
    assert!(
        errors[0].message_en.contains("at most 4 declarations"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_back_test_is_bounded_and_refused_to_others_than_analysts() {
    let f = fixture(beijing(2026, 11, 24, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    let smartphones = rule(SMARTPHONES_FROM_US);
    let paths = |outcome: Result<Value, ClearanceError>| match outcome {
        Err(ClearanceError::Invalid(errors)) => {
            errors.into_iter().map(|e| e.path).collect::<Vec<_>>()
        }
        other => panic!("{other:?}"),
    };
    // The period's length at its edge: 366 days, both ends included (2028 is a leap year).
    assert_eq!(crate::targeting::BACKTEST_PERIOD_DAYS_MAX, 366);
    let year = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2028-01-01", "2028-12-31")
        .await;
    assert!(year.is_ok(), "{year:?}");
    let longer = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2027-12-31", "2028-12-31")
        .await;
    assert_eq!(paths(longer), ["to"]);
    assert_eq!(
        paths(
            f.clearance
                .backtest_rule(&wang, &smartphones, "2026-11-25", "2026-11-24")
                .await
        ),
        ["to"]
    );
    // Every problem at once: the dates and the rule's own.
    let broken = rule("itme.origin_country == \"US\" && item.amout > 1.0");
    let outcome = f
        .clearance
        .backtest_rule(&wang, &broken, "24/11/2026", "2026-11-24")
        .await;
    let Err(ClearanceError::Invalid(errors)) = outcome else {
        panic!("{outcome:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["from", "expression", "expression"], "{errors:?}");
    assert!(
        errors[1].message_en.contains("did you mean `item`?"),
        "{errors:?}"
    );
    assert!(
        errors[2].message_en.contains("did you mean `item.amount`?"),
        "{errors:?}"
    );
    // Trade, and customs roles other than the analysts', are refused.
    for caller in [f.caller("broker").await, f.caller("officer").await] {
        let refused = f
            .clearance
            .backtest_rule(&caller, &smartphones, "2026-11-24", "2026-11-24")
            .await;
        assert!(
            matches!(refused, Err(ClearanceError::Forbidden { .. })),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_rule_with_a_wrong_action_still_has_its_expression_checked() {
    let f = fixture(beijing(2026, 11, 24, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    let mut body: Value = serde_json::from_slice(&rule("item.origin_contry == \"US\"")).unwrap();
    body["action"] = json!("x-ray");
    body["expected_selection_rate"] = json!("lots");
    let outcome = f
        .clearance
        .propose_rule(&wang, body.to_string().as_bytes())
        .await;
    let Err(ClearanceError::Invalid(errors)) = outcome else {
        panic!("{outcome:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["action", "expected_selection_rate", "expression"]);
    assert!(
        errors[2]
            .message_zh
            .contains("您是否想写 `item.origin_country`"),
        "{errors:?}"
    );
}
