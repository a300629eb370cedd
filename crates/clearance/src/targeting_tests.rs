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
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-26", None)
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
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-28", None)
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
        .backtest_rule(&wang, &smartphones, "2026-01-01", "2026-01-31", None)
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
        .backtest_rule(&wang, &smartphones, "2026-11-26", "2026-11-26", None)
        .await
        .unwrap();
    assert_eq!(after, report);

    // The declarations' limit, at its edge (5 lodged in the wider period).
    let at = f
        .clearance
        .backtest_rule_limited(
            &wang,
            &smartphones,
            "2026-11-26",
            "2026-11-28",
            None,
            crate::targeting::BacktestLimits {
                declarations: 5,
                history_rows: 1,
            },
        )
        .await;
    assert!(at.is_ok(), "{at:?}");
    let over = f
        .clearance
        .backtest_rule_limited(
            &wang,
            &smartphones,
            "2026-11-26",
            "2026-11-28",
            None,
            crate::targeting::BacktestLimits {
                declarations: 4,
                history_rows: 1,
            },
        )
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
        .backtest_rule(&wang, &smartphones, "2028-01-01", "2028-12-31", None)
        .await;
    assert!(year.is_ok(), "{year:?}");
    let longer = f
        .clearance
        .backtest_rule(&wang, &smartphones, "2027-12-31", "2028-12-31", None)
        .await;
    assert_eq!(paths(longer), ["to"]);
    assert_eq!(
        paths(
            f.clearance
                .backtest_rule(&wang, &smartphones, "2026-11-25", "2026-11-24", None)
                .await
        ),
        ["to"]
    );
    // Every problem at once: the dates and the rule's own.
    let broken = rule("itme.origin_country == \"US\" && item.amout > 1.0");
    let outcome = f
        .clearance
        .backtest_rule(&wang, &broken, "24/11/2026", "2026-11-24", None)
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
            .backtest_rule(&caller, &smartphones, "2026-11-24", "2026-11-24", None)
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

/// A small labelled history with revenue, every figure below worked by hand: H1 (two items, the
/// US smartphones found misdeclared with 500 recovered), H2 (US smartphones, as declared), H3
/// (a computer, misdeclared, 70 recovered), H4 (Chinese smartphones, not inspected) in March
/// 2026; H5 (US smartphones, misdeclared) in April.
const LABELLED_HISTORY: &str = "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,\
Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,\
Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,\
Item Price,Fraud,Critical Fraud,Revenue
H1,2026-03-01,2200,B,11,21,11,2,D1,I1,S1,,851713,US,US,0.0,A,N,2.0,8000.00,1,1,500
H1,2026-03-01,2200,B,11,21,11,2,D1,I1,S1,,847130,US,MY,0.0,A,N,1.0,100.00,0,0,
H2,2026-03-02,2200,B,11,21,11,2,D2,I2,S2,,851713,US,US,0.0,A,N,4.0,9000.00,0,0,
H3,2026-03-02,2200,B,11,21,11,2,D3,I3,S3,,847130,MY,MY,0.0,A,N,1.0,50.00,1,1,70
H4,2026-03-03,2200,B,11,21,11,2,D4,I4,S4,,851713,CN,CN,0.0,A,N,1.0,10.00,,,
H5,2026-04-01,2200,B,11,21,11,2,D5,I5,S5,,851713,US,US,0.0,A,N,1.0,7000.00,1,1,300
";

#[tokio::test]
async fn a_rule_is_back_tested_on_the_labelled_history_of_a_period() {
    let f = fixture(beijing(2026, 11, 24, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    f.clearance
        .import_history(&wang, "kcs", "2026 labelled", LABELLED_HISTORY)
        .await
        .unwrap();
    let history = |expression: &str, from: &'static str, to: &'static str| {
        let body = rule(expression);
        let clearance = &f.clearance;
        let wang = &wang;
        async move {
            clearance
                .backtest_rule(wang, &body, from, to, Some("history"))
                .await
        }
    };
    let march = history(SMARTPHONES_FROM_US, "2026-03-01", "2026-03-31")
        .await
        .unwrap();
    // By hand: 5 rows, 4 declarations; hits H1 (its item 0) and H2; labelled H1, H2, H3, of the
    // hits H1 and H2; frauds H1 and H3, found H1: precision 1/2, recall 1/2; revenue 500 + 70,
    // found 500.
    let figures = |r: &Value| {
        [
            "rows",
            "declarations",
            "hits",
            "checked",
            "checked_hits",
            "frauds",
            "frauds_found",
            "revenue",
            "revenue_found",
        ]
        .map(|k| r[k].clone())
    };
    assert_eq!(
        figures(&march),
        [
            json!(5),
            json!(4),
            json!(2),
            json!(3),
            json!(2),
            json!(2),
            json!(1),
            json!("570"),
            json!("500")
        ],
        "{march:#}"
    );
    assert_eq!(march["source"], "history");
    assert_eq!(march["hit_rate"], json!(0.5));
    assert_eq!(march["precision"], json!(0.5));
    assert_eq!(march["recall"], json!(0.5));
    assert_eq!(
        march["names_read"],
        json!(["item.commodity_code", "item.origin_country"])
    );
    assert_eq!(
        march["hit_list"],
        json!([
            {"declaration": "H1", "date": "2026-03-01", "items": [0], "labelled": true,
             "discrepancy": true, "revenue_found": "500"},
            {"declaration": "H2", "date": "2026-03-02", "items": [0], "labelled": true,
             "discrepancy": false, "revenue_found": null},
        ])
    );
    // The period decides: April holds H5 only.
    let april = history(SMARTPHONES_FROM_US, "2026-04-01", "2026-04-30")
        .await
        .unwrap();
    assert_eq!(
        (&april["declarations"], &april["hits"], &april["recall"]),
        (&json!(1), &json!(1), &json!(1.0))
    );
    // The engine's own features from the history's figures: value per kg = price / net mass
    // (H1's smartphones 4,000; H2's 2,250).
    let dear = history(
        "features.value_per_kg_cny > 3000.0",
        "2026-03-01",
        "2026-03-31",
    )
    .await
    .unwrap();
    assert_eq!(dear["hits"], json!(1), "{dear:#}");
    assert_eq!(dear["hit_list"][0]["declaration"], "H1");
    // Header names: the importer and the declaration's item count.
    let header = history(
        "declaration.trader == \"I1\" && declaration.item_count == 2",
        "2026-03-01",
        "2026-03-31",
    )
    .await
    .unwrap();
    assert_eq!(header["hits"], json!(1), "{header:#}");
    // No period row records revenue: no revenue figure, rather than a zero.
    let none = history(SMARTPHONES_FROM_US, "2026-05-01", "2026-05-31")
        .await
        .unwrap();
    assert_eq!(
        (&none["declarations"], &none["revenue"], &none["hit_rate"]),
        (&json!(0), &Value::Null, &Value::Null)
    );
    // The declarations are still the default source: none lodged in March.
    let declarations = f
        .clearance
        .backtest_rule(
            &wang,
            &rule(SMARTPHONES_FROM_US),
            "2026-03-01",
            "2026-03-31",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (&declarations["source"], &declarations["declarations"]),
        (&json!("declarations"), &json!(0))
    );
}

#[tokio::test]
async fn a_history_back_test_refuses_names_the_history_lacks_and_is_bounded() {
    let f = fixture(beijing(2026, 11, 24, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    f.clearance
        .import_history(&wang, "kcs", "2026 labelled", LABELLED_HISTORY)
        .await
        .unwrap();
    let refused = |outcome: Result<Value, ClearanceError>| match outcome {
        Err(ClearanceError::Invalid(errors)) => errors
            .into_iter()
            .map(|e| (e.path, e.message_en, e.message_zh))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    // Each name the history does not record, said (not read as empty, never matching).
    let lacking = refused(
        f.clearance
            .backtest_rule(
                &wang,
                &rule(
                    "item.amount > 1.0 && credit == \"general\" && item.origin_country == \"US\"",
                ),
                "2026-03-01",
                "2026-03-31",
                Some("history"),
            )
            .await,
    );
    assert_eq!(lacking.len(), 2, "{lacking:?}");
    assert_eq!(lacking[0].0, "expression");
    assert!(lacking[0].1.contains("`credit`"), "{lacking:?}");
    assert!(lacking[1].1.contains("`item.amount`"), "{lacking:?}");
    assert!(lacking[1].2.contains("历史标注数据中没有"), "{lacking:?}");
    // A scope by declaration kind: the history has none.
    let mut scoped: Value = serde_json::from_slice(&rule(SMARTPHONES_FROM_US)).unwrap();
    scoped["scope"] = json!({ "kinds": ["ordinary"] });
    let kinds = refused(
        f.clearance
            .backtest_rule(
                &wang,
                scoped.to_string().as_bytes(),
                "2026-03-01",
                "2026-03-31",
                Some("history"),
            )
            .await,
    );
    assert_eq!(kinds[0].0, "scope.kinds", "{kinds:?}");
    // An unknown source, with the period's problem, at once.
    let source = refused(
        f.clearance
            .backtest_rule(
                &wang,
                &rule(SMARTPHONES_FROM_US),
                "2026-03-01",
                "2026-02-01",
                Some("kcs"),
            )
            .await,
    );
    let paths: Vec<&str> = source.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(paths, ["source", "to"], "{source:?}");
    // The rows' limit at its edge: March holds 5.
    let limited = |rows| {
        let body = rule(SMARTPHONES_FROM_US);
        let clearance = &f.clearance;
        let wang = &wang;
        async move {
            clearance
                .backtest_rule_limited(
                    wang,
                    &body,
                    "2026-03-01",
                    "2026-03-31",
                    Some("history"),
                    crate::targeting::BacktestLimits {
                        declarations: 1,
                        history_rows: rows,
                    },
                )
                .await
        }
    };
    assert!(limited(5).await.is_ok());
    let over = refused(limited(4).await);
    assert_eq!(over[0].0, "to");
    assert!(over[0].1.contains("at most 4 history rows"), "{over:?}");
    assert_eq!(crate::backtest_history::BACKTEST_HISTORY_ROWS_MAX, 200_000);
}

/// Every problem of a rule at once, JSON-level (a member of the wrong type, missing or unknown)
/// with the rest (the expression's above all), each with its path, in English and Chinese, within
/// `RULE_PROBLEMS_MAX`.
#[tokio::test]
async fn json_problems_and_expression_problems_are_reported_together() {
    let f = fixture(beijing(2026, 11, 24, 10)).await;
    let (wang, _) = two_analysts(&f).await;
    let good: Value = serde_json::from_slice(&rule("item.origin_contry == \"US\"")).unwrap();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        change(&mut body);
        body.to_string()
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "priority of the wrong type",
            with(&|b| b["priority"] = json!("high")),
            vec!["priority", "expression"],
        ),
        (
            "a reason missing",
            with(&|b| {
                b.as_object_mut().unwrap().remove("reason_zh");
            }),
            vec!["reason_zh", "expression"],
        ),
        (
            "an unknown member and a wrong action",
            with(&|b| {
                b["colour"] = json!("red");
                b["action"] = json!("x-ray");
            }),
            vec!["colour", "action", "expression"],
        ),
        (
            "a scope list of the wrong types",
            with(&|b| b["scope"] = json!({ "offices": ["2200", 5], "direction": 1 })),
            vec!["scope.direction", "scope.offices[1]", "expression"],
        ),
        (
            "the expression itself of the wrong type",
            with(&|b| {
                b["expression"] = json!(true);
                b["purpose"] = json!(3);
            }),
            vec!["expression", "purpose"],
        ),
        (
            "the scope not an object, the rate not a string",
            with(&|b| {
                b["scope"] = json!([]);
                b["expected_selection_rate"] = json!(0.5);
            }),
            vec!["expected_selection_rate", "scope", "expression"],
        ),
    ];
    for (case, body, paths) in cases {
        let outcome = f.clearance.check_rule(&wang, body.as_bytes());
        let Err(ClearanceError::Invalid(errors)) = outcome else {
            panic!("{case}: {outcome:?}")
        };
        let got: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(got, paths, "{case}: {errors:?}");
        for e in &errors {
            assert!(
                !e.message_en.is_empty()
                    && !e.message_zh.is_empty()
                    && e.message_en != e.message_zh,
                "{case}: {e:?}"
            );
        }
        // The same from proposing and back-testing.
        for outcome in [
            f.clearance.propose_rule(&wang, body.as_bytes()).await,
            f.clearance
                .backtest_rule(&wang, body.as_bytes(), "2026-11-01", "2026-11-02", None)
                .await,
        ] {
            let Err(ClearanceError::Invalid(again)) = outcome else {
                panic!("{case}: {outcome:?}")
            };
            assert_eq!(again, errors, "{case}");
        }
    }
    // Not an object, or not JSON: said once, as before.
    for body in ["[1, 2]", "{\"purpose\": "] {
        let Err(ClearanceError::Invalid(errors)) = f.clearance.check_rule(&wang, body.as_bytes())
        else {
            panic!("{body}")
        };
        assert_eq!(errors.len(), 1, "{body}: {errors:?}");
    }
    // At the limit: members wrong and unknown names, RULE_PROBLEMS_MAX in all and one saying
    // how many more.
    let unknown = |n: usize| {
        let names: Vec<String> = (0..n).map(|i| format!("zz{i}")).collect();
        format!("size([{}]) > 0", names.join(", "))
    };
    let max = risk::RULE_PROBLEMS_MAX;
    for (names, expected) in [(max - 2, max), (max - 1, max + 1), (max + 5, max + 1)] {
        let body = {
            let mut b: Value = serde_json::from_slice(&rule(&unknown(names))).unwrap();
            b["priority"] = json!(-1);
            b["colour"] = json!("red");
            b.to_string()
        };
        let Err(ClearanceError::Invalid(errors)) = f.clearance.check_rule(&wang, body.as_bytes())
        else {
            panic!("{names}")
        };
        assert_eq!(errors.len(), expected, "{names}");
        assert_eq!(errors[0].path, "colour");
        assert_eq!(errors[1].path, "priority");
        if expected > max {
            let more = names + 2 - max;
            assert!(
                errors[max]
                    .message_en
                    .starts_with(&format!("{more} more problem(s)")),
                "{names}: {:?}",
                errors[max]
            );
            assert!(errors[max].message_zh.contains(&format!("另有 {more} 个")));
        }
    }
}
