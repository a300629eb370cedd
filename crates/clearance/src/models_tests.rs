//! ML targeting in the service, the issue's story: labelled history imported, a model trained
//! (in shadow: scored and recorded, not acting), promoted by a second analyst, and a high-scoring
//! declaration selected into the red lane with the features that pushed its score, in words;
//! rolled back, it acts no more. Every step is in the declaration's or the model's record.

use chrono::NaiveDate;
use serde_json::{Value, json};
use store::{Actor, Store};

use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

const HEADER: &str = "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,\
Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,\
Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,\
Item Price,Fraud,Critical Fraud";

/// 300 past items over 2026: every fourth the example's smartphones at its price (8,000.00),
/// found misdeclared; the rest other goods at other prices, found as declared.
pub(crate) fn history() -> String {
    let mut text = format!("{HEADER}\n");
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    for i in 0..300u32 {
        let day = start + chrono::Days::new(u64::from(i));
        let (hs6, origin, mass, price, fraud) = if i % 4 == 0 {
            ("851713", "US", "336.0", "8000.00".to_owned(), 1)
        } else {
            ("847130", "MY", "84.0", format!("{}.50", 1000 + i * 7), 0)
        };
        text.push_str(&format!(
            "{},{day},2200,B,11,21,11,2,D{},I{},S{},,{hs6},US,{origin},0.0,A,N,{mass},{price},{fraud},{fraud}\n",
            100_000 + i,
            i % 7,
            i % 11,
            i % 5
        ));
    }
    text
}

pub(crate) async fn analyst(f: &Fixture, name: &str) -> Caller {
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .create_user(&admin, name, Role::RiskAnalyst, None)
        .await
        .unwrap();
    f.caller(name).await
}

/// Lodges the example and returns its id and the payloads of its `declaration.scored` and
/// `declaration.targeted` events.
async fn lodged(f: &Fixture, key: &str) -> (String, Option<Value>, Value) {
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some(key), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let events = f.clearance.store().events(&lodged.id).await.unwrap();
    let payload = |action: &str| {
        events
            .iter()
            .find(|e| e.action == action)
            .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap())
    };
    // The models score and the engine selects: neither is the broker's act.
    for event in &events {
        if [
            crate::models::SCORED_ACTION,
            crate::targeting::TARGETED_ACTION,
        ]
        .contains(&event.action.as_str())
        {
            assert_eq!(
                (event.actor.user_id.as_str(), event.actor.role.as_str()),
                (crate::SYSTEM_USER_ID, crate::SYSTEM_ROLE),
                "{}",
                event.action
            );
        }
    }
    (
        lodged.id.clone(),
        payload(crate::models::SCORED_ACTION),
        payload(crate::targeting::TARGETED_ACTION).unwrap(),
    )
}

fn model_reasons(selection: &Value) -> Vec<Value> {
    selection["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"]["kind"] == "model")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_promoted_model_sends_a_high_scoring_declaration_to_the_red_lane_with_its_reasons() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let zhao = analyst(&f, "analyst-zhao").await;
    let officer = f.caller("officer").await;

    // No model yet: nothing is scored.
    let (_, scored, _) = lodged(&f, "d0").await;
    assert_eq!(scored, None);

    // History: every problem named by line and column; the format checked; officers do not train.
    let paths = |r: Result<Value, ClearanceError>| match r {
        Err(ClearanceError::Invalid(errors)) => {
            errors.into_iter().map(|e| e.path).collect::<Vec<_>>()
        }
        other => panic!("{other:?}"),
    };
    let broken = history().replacen(",336.0,", ",heavy,", 1);
    assert_eq!(
        paths(
            f.clearance
                .import_history(&wang, "kcs", "2026", &broken)
                .await
        ),
        ["line 2, column \"Net Mass\""]
    );
    assert_eq!(
        paths(
            f.clearance
                .import_history(&wang, "csv", "2026", &history())
                .await
        ),
        ["format"]
    );
    assert!(matches!(
        f.clearance
            .import_history(&officer, "kcs", "x", &history())
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let batch = f
        .clearance
        .import_history(&wang, "kcs", "2026 checks", &history())
        .await
        .unwrap();
    assert_eq!(
        (batch["id"].as_str(), batch["rows"].as_u64()),
        (Some("H-0001"), Some(300))
    );
    assert_eq!(
        paths(
            f.clearance
                .import_history(&wang, "kcs", "again", &history())
                .await
        ),
        ["file"],
        "the same file twice"
    );

    // Trained and registered in shadow: scored and recorded, not acting.
    let model = f.clearance.train_model(&wang, "first", None).await.unwrap();
    assert_eq!(model["id"], "M-0001");
    assert_eq!(model["status"], "shadow");
    assert_eq!(model["summary"]["training_rows"], 300);
    assert!(
        model["summary"]["training_metrics"]["auc"]
            .as_f64()
            .unwrap()
            > 0.9,
        "{model:#}"
    );
    assert_eq!(model["model_hash"].as_str().unwrap().len(), 64);
    let (_, scored, selection) = lodged(&f, "d1").await;
    let scored = scored.expect("scored by the shadow model");
    assert_eq!(scored["scores"][0]["model"], "M-0001");
    assert_eq!(scored["scores"][0]["status"], "shadow");
    assert!(
        scored["scores"][0]["score"].as_f64().unwrap() > 0.5,
        "{scored:#}"
    );
    assert!(
        model_reasons(&selection).is_empty(),
        "a shadow model does not act"
    );

    // A model trained elsewhere (XGBoost JSON) on the same features, imported in shadow; one
    // for other features is refused.
    let xgboost = include_bytes!("../../model/test_data/xgb_tiny.json");
    let imported = f
        .clearance
        .import_model(
            &zhao,
            "xgboost-json",
            xgboost,
            "M-0001",
            "data science team",
        )
        .await
        .unwrap();
    assert_eq!(
        (imported["id"].as_str(), imported["source"].as_str()),
        (Some("M-0002"), Some("imported"))
    );
    assert_ne!(imported["model_hash"], model["model_hash"]);
    assert_eq!(
        paths(
            f.clearance
                .import_model(&zhao, "onnx", xgboost, "M-0001", "x")
                .await
        ),
        ["format"]
    );
    assert_eq!(
        paths(
            f.clearance
                .import_model(&zhao, "xgboost-json", b"{}", "M-0001", "x")
                .await
        ),
        ["file"]
    );
    assert_eq!(
        paths(
            f.clearance
                .import_model(&zhao, "xgboost-json", xgboost, "M-0009", "x")
                .await
        ),
        ["features_of"]
    );
    let (_, scored, _) = lodged(&f, "d1b").await;
    let statuses: Vec<&str> = scored.as_ref().unwrap()["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["model"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["M-0001", "M-0002"], "both shadows scored");

    // Four eyes: its author may not promote it; another analyst does.
    assert!(matches!(
        f.clearance.promote_model(&wang, "M-0001").await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let promoted = f.clearance.promote_model(&zhao, "M-0001").await.unwrap();
    assert_eq!(promoted["status"], "active");

    // The smartphones at the price seen misdeclared: red lane, with the reasons in words.
    let (id, scored, selection) = lodged(&f, "d2").await;
    let scored = scored.unwrap();
    assert_eq!(scored["scores"][0]["status"], "active");
    assert_eq!(scored["explanation"]["item"], 0, "{scored:#}");
    let contributions = scored["explanation"]["contributions"].as_array().unwrap();
    assert!(!contributions.is_empty());
    assert_eq!(selection["lane"], "red", "{selection:#}");
    let reasons = model_reasons(&selection);
    assert_eq!(reasons.len(), 1, "{selection:#}");
    assert_eq!(reasons[0]["selected"], true);
    let en = reasons[0]["en"].as_str().unwrap();
    assert!(en.starts_with("risk model M-0001: items[0] scored"), "{en}");
    assert!(
        en.contains(contributions[0]["en"].as_str().unwrap()),
        "{en}"
    );
    assert!(
        reasons[0]["zh"]
            .as_str()
            .unwrap()
            .contains("风险模型 M-0001")
    );
    // The officer's task comes from it; the trade sees only what is asked.
    let broker = f.caller("broker").await;
    let seen = f.clearance.selection(&broker, &id).await.unwrap();
    assert_eq!(
        seen,
        json!({ "lane": "red", "asked": ["physical_inspection"] })
    );

    // The inspection finds the phones misdeclared: the finding is a label of the platform's own,
    // on the same training path as the history (both goods items, on the acceptance day).
    let task = f
        .clearance
        .tasks(&officer, true, None, Some("open"), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t["declaration_id"] == json!(id) && t["kind"] == "physical_inspection")
        .unwrap();
    f.clearance
        .record_finding(
            &officer,
            task["id"].as_str().unwrap(),
            None,
            br#"{"discrepancy":true,"note":"undervalued"}"#,
        )
        .await
        .unwrap();
    let (records, sources) = f.clearance.training_records().await.unwrap();
    assert_eq!(sources[1]["closed_checks"], 2, "{sources:#}");
    let own: Vec<_> = records.iter().filter(|r| r.declaration_id == id).collect();
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|r| r.label.as_ref().unwrap().discrepancy));
    assert_eq!(own[0].hs6, "851713");
    assert_eq!(own[0].item_price.to_string(), "8000.00");

    // Evaluated on a time split; drift measured against the training items.
    let (evaluation, table) = f
        .clearance
        .evaluate_model(
            &zhao,
            NaiveDate::from_ymd_opt(2026, 8, 31).unwrap(),
            NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(
        evaluation["all"]["auc"].as_f64().unwrap() > 0.9,
        "{evaluation:#}"
    );
    assert_eq!(evaluation["all"]["rates"].as_array().unwrap().len(), 4);
    assert!(table.contains("AUC"), "{table}");
    let drift = f.clearance.model_drift(&zhao, "M-0001", 100).await.unwrap();
    assert_eq!(drift["declarations"], 4);
    assert!(drift["score"]["psi"].as_f64().is_some(), "{drift:#}");
    // The monitor `serve` runs: the same report for the active model; the declarations lodged
    // here (two goods, one price unseen) are nothing like the training items, an alert, which
    // is recorded on the model's record.
    let monitored = f.clearance.monitor_drift().await.unwrap().unwrap();
    assert_eq!(monitored["model"], "M-0001");
    assert!(monitored["alerts"].as_u64().unwrap() > 0, "{monitored:#}");

    // Rolled back: no model in force, none acts (the imported one is still scored in shadow).
    let models = f
        .clearance
        .roll_back_model(&zhao, "too many hits")
        .await
        .unwrap();
    assert_eq!(models[0]["status"], "retired");
    let (_, scored, selection) = lodged(&f, "d3").await;
    assert_eq!(
        scored.unwrap()["scores"][0]["model"],
        "M-0002",
        "only the shadow left"
    );
    assert!(model_reasons(&selection).is_empty());
    let history: Vec<String> = f
        .clearance
        .store()
        .events("model:M-0001")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        history,
        [
            "risk_model.registered",
            "risk_model.promoted",
            "risk_model.drift_alert",
            "risk_model.rolled_back"
        ]
    );
    assert_eq!(
        f.clearance.monitor_drift().await.unwrap(),
        None,
        "no active model"
    );
}
