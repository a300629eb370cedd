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
            None,
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
                .import_model(&zhao, "onnx", xgboost, "M-0001", "x", None)
                .await
        ),
        ["format"]
    );
    assert_eq!(
        paths(
            f.clearance
                .import_model(&zhao, "xgboost-json", b"{}", "M-0001", "x", None)
                .await
        ),
        ["file"]
    );
    assert_eq!(
        paths(
            f.clearance
                .import_model(&zhao, "xgboost-json", xgboost, "M-0009", "x", None)
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
    // Why and with what chance, in the audit chain: exploited, propensity 1 (no exploration
    // in this fixture, so no exploration draw either).
    assert_eq!(reasons[0]["source"]["selected_by"], "exploitation");
    assert_eq!(reasons[0]["rate"], 1.0);
    assert_eq!(selection["model_exploration"], Value::Null);
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
    // Four declarations are too few to judge drift on (the edge: the test below).
    let drift = f.clearance.model_drift(&zhao, "M-0001", 100).await.unwrap();
    assert_eq!(drift["declarations"], 4);
    assert_eq!(drift["judged"], false, "{drift:#}");
    // The monitor `serve` runs: the same report for the active model; with enough
    // declarations lodged here (two goods, one price unseen), nothing like the training
    // items, an alert, which is recorded on the model's record.
    for i in 4..crate::models::DRIFT_DECLARATIONS_MIN {
        lodged(&f, &format!("more{i}")).await;
    }
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

/// The history's rows `range`, as a KCS file.
fn history_rows(range: std::ops::Range<usize>) -> String {
    let text = history();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_owned();
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for row in &rows[range] {
        out.push_str(row);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn overlapping_history_rows_are_found_by_identity_and_skipped() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let first = f
        .clearance
        .import_history(&wang, "kcs", "first", &history_rows(0..200))
        .await
        .unwrap();
    assert_eq!(first["rows"], 200);
    assert_eq!(first["overlapping"]["rows"], 0);
    // Rows 100..300 again, another file: row 101 (a 1,000+ price) written with float noise, row
    // 102 with another outcome. The same identity (declaration id and item) is the same row.
    let second_text = history_rows(100..300)
        .replacen(",1707.50,", ",1707.5000000000002,", 1)
        .replacen(",1714.50,0,0", ",1714.50,1,1", 1);
    assert!(second_text.contains("1707.5000000000002") && second_text.contains("1714.50,1,1"));
    let second = f
        .clearance
        .import_history(&wang, "kcs", "second", &second_text)
        .await
        .unwrap();
    assert_eq!(second["rows"], 100, "{second:#}");
    assert_eq!(second["file_rows"], 200);
    assert_eq!(second["overlapping"]["rows"], 100);
    assert_eq!(
        second["overlapping"]["differing"], 1,
        "the noisy price is the same price; the other outcome differs"
    );
    assert_eq!(second["overlapping"]["batches"], json!(["H-0001"]));
    assert_eq!(second["first_date"], "2026-07-20", "{second:#}");
    // Training reads each row once: the first import's.
    let (records, sources) = f.clearance.training_records().await.unwrap();
    assert_eq!(records.len(), 300);
    assert_eq!(sources[1]["overlapping_skipped"], 100, "{sources:#}");
    let row_102 = records
        .iter()
        .find(|r| r.declaration_id == "100102")
        .unwrap();
    assert!(
        !row_102.label.as_ref().unwrap().discrepancy,
        "first import kept"
    );
    // A file whose every row is on record adds nothing: refused, naming the batches.
    match f
        .clearance
        .import_history(&wang, "kcs", "third", &history_rows(150..250))
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "file");
            assert!(
                errors[0].message_en.contains("H-0001, H-0002"),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Mann-Whitney AUC by counting pairs, independent of the model crate's ranks.
fn pairwise_auc(rows: &[(f64, bool)]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for &(p, _) in rows.iter().filter(|r| r.1) {
        for &(n, _) in rows.iter().filter(|r| !r.1) {
            pairs += 1.0;
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

fn read_scores(csv: &str) -> Vec<(String, f64, bool, bool, Option<u32>)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(crate::models::SCORES_HEADER));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 5, "{line}");
            (
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                cells[2] == "1",
                cells[3] == "1",
                (!cells[4].is_empty()).then(|| cells[4].parse().unwrap()),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_evaluation_writes_scores_an_outsider_can_recompute_and_refuses_a_leaking_model() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();
    let period = |train_until: (u32, u32), from: (u32, u32), to: (u32, u32)| {
        let day = |(m, d): (u32, u32)| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        crate::EvaluationSplit::Period {
            train_until: day(train_until),
            from: day(from),
            to: day(to),
        }
    };
    let request = |split, model, allow_overlap| crate::EvaluationRequest {
        split,
        model,
        allow_overlap,
        allow_overlap_named: crate::ALLOW_OVERLAP_FLAG,
    };
    let split = period((8, 31), (9, 1), (12, 31));
    let report = f
        .clearance
        .evaluate(&wang, &request(split, None, false))
        .await
        .unwrap();
    let rows = read_scores(&crate::scores_csv(&report.rows));
    assert_eq!(
        rows.len(),
        report.view["all"]["rows"].as_u64().unwrap() as usize
    );
    assert!(
        rows.iter().all(|r| r.4.is_none()),
        "no folds in a time split"
    );
    assert_eq!(
        rows[0].0, "100243/1",
        "the row identity: declaration id / item"
    );
    let all: Vec<(f64, bool)> = rows.iter().map(|r| (r.1, r.2)).collect();
    let unseen: Vec<(f64, bool)> = rows.iter().filter(|r| r.3).map(|r| (r.1, r.2)).collect();
    assert_eq!(
        pairwise_auc(&all),
        report.view["all"]["auc"].as_f64().unwrap()
    );
    assert_eq!(
        unseen.len(),
        report.view["unseen_price"]["rows"].as_u64().unwrap() as usize
    );
    // Every row at the smartphones' price was seen; the others' prices are new.
    assert_eq!(unseen.len(), rows.iter().filter(|r| !r.2).count());

    // A model trained on the whole year reaches into the test period: refused, or flagged.
    f.clearance
        .train_model(&wang, "whole year", None)
        .await
        .unwrap();
    match f
        .clearance
        .evaluate(&wang, &request(split, Some("M-0001"), false))
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "model");
            assert!(
                errors[0]
                    .message_en
                    .contains("reaches into the test period"),
                "{errors:?}"
            );
            // It names what the command-line user types, in both languages.
            assert!(
                errors[0].message_en.contains("(--allow-overlap to"),
                "{errors:?}"
            );
            assert!(
                errors[0].message_zh.contains("可用 --allow-overlap"),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let flagged = f
        .clearance
        .evaluate(&wang, &request(split, Some("M-0001"), true))
        .await
        .unwrap();
    assert!(
        flagged.view["overlap"]["en"]
            .as_str()
            .unwrap()
            .contains("2026-01-01 to 2026-10-27"),
        "{:#}",
        flagged.view["overlap"]
    );
    // One trained up to the cut is not.
    let day = NaiveDate::from_ymd_opt(2026, 8, 31).unwrap();
    f.clearance
        .train_model(&wang, "to August", Some(day))
        .await
        .unwrap();
    let clean = f
        .clearance
        .evaluate(&wang, &request(split, Some("M-0002"), false))
        .await
        .unwrap();
    assert_eq!(clean.view["overlap"], Value::Null);
    assert_eq!(
        clean.view["all"], report.view["all"],
        "the same model, retrained"
    );

    // Price-grouped cross-validation over every labelled item: every item in one fold, every
    // price in one fold, each scored on a price its model never saw.
    let cv = f
        .clearance
        .evaluate(
            &wang,
            &request(crate::EvaluationSplit::PriceFolds { folds: 3 }, None, false),
        )
        .await
        .unwrap();
    let rows = read_scores(&crate::scores_csv(&cv.rows));
    assert_eq!(rows.len(), 300);
    assert!(rows.iter().all(|r| r.3 && r.4.is_some()));
    let all: Vec<(f64, bool)> = rows.iter().map(|r| (r.1, r.2)).collect();
    assert_eq!(pairwise_auc(&all), cv.view["all"]["auc"].as_f64().unwrap());
    assert_eq!(cv.view["unseen_price"]["rows"], 300);
    let phones: std::collections::HashSet<Option<u32>> =
        rows.iter().filter(|r| r.2).map(|r| r.4).collect();
    assert_eq!(phones.len(), 1, "one price, one fold");
    for folds in [1, 21] {
        assert!(
            f.clearance
                .evaluate(
                    &wang,
                    &request(crate::EvaluationSplit::PriceFolds { folds }, None, false)
                )
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn an_imported_model_records_its_own_provenance() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let zhao = analyst(&f, "analyst-zhao").await;
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();
    let base = f.clearance.train_model(&wang, "base", None).await.unwrap();
    let xgboost = include_bytes!("../../model/test_data/xgb_tiny.json");
    let undeclared = f
        .clearance
        .import_model(&zhao, "xgboost-json", xgboost, "M-0001", "team", None)
        .await
        .unwrap();
    let s = &undeclared["summary"];
    let provenance = &s["provenance"];
    use sha2::Digest;
    assert_eq!(
        provenance["file_sha256"],
        hex::encode(sha2::Sha256::digest(xgboost))
    );
    assert_eq!(provenance["format"], "xgboost-json");
    assert_eq!(provenance["imported_by"], undeclared["author"]);
    assert_eq!(provenance["imported_at"], "2026-11-26T02:00:00Z");
    assert_eq!(provenance["features_of"], "M-0001");
    assert_eq!(s["training_period"], Value::Null, "not the donor's period");
    assert_eq!(s["training_rows"], Value::Null);
    assert_eq!(s["data_hash"], Value::Null);
    assert_ne!(base["summary"]["data_hash"], Value::Null);
    // Unknown training period: evaluating it is refused (it may have seen the test period).
    let split = crate::EvaluationSplit::Period {
        train_until: NaiveDate::from_ymd_opt(2026, 8, 31).unwrap(),
        from: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    };
    let request = |model| crate::EvaluationRequest {
        split,
        model: Some(model),
        allow_overlap: false,
        allow_overlap_named: crate::ALLOW_OVERLAP_FLAG,
    };
    assert!(matches!(
        f.clearance.evaluate(&wang, &request("M-0002")).await,
        Err(ClearanceError::Invalid(e)) if e[0].message_en.contains("no recorded training period")
    ));
    let declared = f
        .clearance
        .import_model(
            &zhao,
            "xgboost-json",
            xgboost,
            "M-0001",
            "team, declared",
            Some((
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        declared["summary"]["training_period"],
        json!(["2026-01-01", "2026-06-30"])
    );
    assert!(
        f.clearance
            .evaluate(&wang, &request("M-0003"))
            .await
            .is_ok()
    );
    assert!(matches!(
        f.clearance
            .import_model(
                &zhao,
                "xgboost-json",
                xgboost,
                "M-0001",
                "x",
                Some((
                    NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
                    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                )),
            )
            .await,
        Err(ClearanceError::Invalid(e)) if e[0].path == "trained_until"
    ));
}

#[tokio::test]
async fn drift_on_fewer_declarations_than_the_minimum_is_too_few_to_judge() {
    use crate::models::DRIFT_DECLARATIONS_MIN;
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let wang = analyst(&f, "analyst-wang").await;
    let zhao = analyst(&f, "analyst-zhao").await;
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();
    f.clearance.train_model(&wang, "m", None).await.unwrap();
    f.clearance.promote_model(&zhao, "M-0001").await.unwrap();
    for i in 0..DRIFT_DECLARATIONS_MIN - 1 {
        lodged(&f, &format!("k{i}")).await;
    }
    let report = f.clearance.monitor_drift().await.unwrap().unwrap();
    assert_eq!(report["judged"], false, "{report:#}");
    assert_eq!(report["declarations"], DRIFT_DECLARATIONS_MIN - 1);
    assert_eq!(report["alerts"], 0);
    assert!(
        report["reason"]["en"]
            .as_str()
            .unwrap()
            .starts_with("too few to judge")
    );
    let alerts = |f: &Fixture| {
        let store = f.clearance.store().clone();
        async move {
            store
                .events("model:M-0001")
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.action == crate::models::DRIFT_ALERT_ACTION)
                .count()
        }
    };
    assert_eq!(alerts(&f).await, 0, "no alert on too few");
    // One more: judged; the same example declaration every time is nothing like the training
    // items, an alert.
    lodged(&f, "last").await;
    let report = f.clearance.monitor_drift().await.unwrap().unwrap();
    assert_eq!(report["judged"], true, "{report:#}");
    assert_eq!(report["declarations"], DRIFT_DECLARATIONS_MIN);
    assert!(report["alerts"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(alerts(&f).await, 1);
}

/// The declaration an exploration explores: goods and prices the model has seen only as
/// declared (the history's computers from Malaysia), the invoice total kept.
fn unremarkable(n: u32) -> String {
    crate::tests::EXAMPLE
        .replace("\"8517130000\"", "\"8471300000\"")
        .replace("\"origin_country\": \"US\"", "\"origin_country\": \"MY\"")
        .replace("\"unit_price\": \"200.00\"", "\"unit_price\": \"190.00\"")
        .replace("\"amount\": \"8000.00\"", "\"amount\": \"7600.00\"")
        .replace("\"unit_price\": \"400.00\"", "\"unit_price\": \"480.00\"")
        .replace("\"amount\": \"2000.00\"", "\"amount\": \"2400.00\"")
        .replace("PE-2026-1107", &format!("PE-2026-{n:04}"))
}

/// The production side of learning from its own inspections: with half of a 40 % budget
/// explored, the model exploits the riskiest fifth and explores a quarter of the rest. The
/// selection records why (exploitation or exploration) and the propensity; the trade sees
/// neither; a training from the closed checks weighs the explored labels by their inverse
/// propensity (4) and the exploited ones 1, and the model's record says so.
#[tokio::test]
async fn explored_declarations_are_recorded_with_their_propensity_and_weigh_more_in_training() {
    let f = crate::tests::fixture_with(beijing(2026, 11, 26, 10), |config| {
        config.model_budget = rust_decimal::Decimal::new(4, 1);
        config.model_exploration_percent = crate::MODEL_EXPLORATION_PERCENT_MAX;
    })
    .await;
    let wang = analyst(&f, "analyst-wang").await;
    let zhao = analyst(&f, "analyst-zhao").await;
    let officer = f.caller("officer").await;
    let broker = f.caller("broker").await;
    f.clearance
        .import_history(&wang, "kcs", "2026", &history())
        .await
        .unwrap();
    let first = f
        .clearance
        .train_model(&wang, "history", None)
        .await
        .unwrap();
    assert_eq!(
        first["summary"]["label_weights"]["weighted"], false,
        "history only: nothing to weigh"
    );
    f.clearance.promote_model(&zhao, "M-0001").await.unwrap();
    let (exploitation, exploration) = crate::model_shares(0.4, 50);
    assert!((exploitation - 0.2).abs() < 1e-12);
    assert!((exploration - 0.25).abs() < 1e-12);

    // The smartphones at the price seen misdeclared: exploited.
    let (exploited, _, selection) = lodged(&f, "hot").await;
    let reasons = model_reasons(&selection);
    assert_eq!(
        reasons[0]["source"]["selected_by"], "exploitation",
        "{selection:#}"
    );
    assert_eq!(reasons[0]["rate"], 1.0);
    assert_eq!(
        selection["model_exploration"],
        Value::Null,
        "exploited: not drawn"
    );

    // Goods it has seen only as declared: below the threshold, each explored at a quarter
    // (the seed is drawn at every lodging: none of 60 lodgings explored, about once in 3·10⁷).
    let mut explored = None;
    let mut not_explored = 0;
    for n in 0..60 {
        let lodged = f
            .clearance
            .lodge(
                &broker,
                Some(&format!("cold-{n}")),
                unremarkable(n).as_bytes(),
            )
            .await
            .unwrap();
        let record = f.clearance.selection(&officer, &lodged.id).await.unwrap();
        let draw = &record["model_exploration"];
        assert!(
            (draw["rate"].as_f64().unwrap() - exploration).abs() < 1e-12,
            "{record:#}"
        );
        let reasons = model_reasons(&record);
        if draw["selected"] == true {
            assert_eq!(reasons.len(), 1, "{record:#}");
            assert_eq!(reasons[0]["source"]["selected_by"], "exploration");
            assert_eq!(reasons[0]["rate"], draw["rate"]);
            assert_eq!(reasons[0]["draw"], draw["draw"]);
            assert!(reasons[0]["en"].as_str().unwrap().contains("explored"));
            assert_eq!(record["lane"], "red");
            explored = Some(lodged.id);
            break;
        }
        assert!(reasons.is_empty(), "{record:#}");
        not_explored += 1;
    }
    let explored = explored.expect("one of 60 explored at a quarter");
    // The trade sees the lane and what is asked, never why nor the chance.
    let seen = f.clearance.selection(&broker, &explored).await.unwrap();
    assert_eq!(
        seen,
        json!({ "lane": "red", "asked": ["physical_inspection"] })
    );

    // Both checks close with a finding; a model trained on them weighs each for how it was
    // selected.
    for id in [&exploited, &explored] {
        let task = f
            .clearance
            .tasks(&officer, true, None, Some("open"), 100)
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
    }
    let model = f
        .clearance
        .train_model(&wang, "own checks", None)
        .await
        .unwrap();
    let weights = &model["summary"]["label_weights"];
    assert_eq!(weights["weighted"], true, "{weights:#}");
    assert_eq!(
        weights["items_by_selection"],
        json!({ "exploitation": 2, "exploration": 2, "history": 300 }),
        "{weights:#}"
    );
    assert_eq!(weights["clipped"], 0);
    assert_eq!(weights["weight_max"], crate::LABEL_WEIGHT_MAX);
    assert!(
        (weights["max"].as_f64().unwrap() - 4.0).abs() < 1e-6,
        "{weights:#}"
    );
    // 300 history rows and 2 exploited items at 1, 2 explored at 4.
    assert!(
        (weights["sum"].as_f64().unwrap() - 310.0).abs() < 1e-3,
        "{weights:#}"
    );
    assert!(not_explored < 60);
}
