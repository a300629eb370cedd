//! `customs history ...` and `customs model ...` as README tells a newcomer to run them, on a
//! slice of the KCS data (the model crate's test data): import the history, evaluate on the time
//! split, train (shadow), promote as another analyst, lodge and see the scores in `customs show`,
//! measure drift, roll back.

use std::path::Path;

use serde_json::Value;

use crate::support::{customs, declarations_file, ok, seed_broker};

const TRAIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/test_data/kcs_train_600.csv"
);
const VALID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/test_data/kcs_valid_200.csv"
);

fn analyst(data: &Path, name: &str) -> String {
    ok(
        data,
        &["admin", "user", "--name", name, "--role", "risk_analyst"],
    );
    ok(data, &["admin", "token", "--user", name])
        .trim()
        .to_owned()
}

#[test]
fn an_analyst_imports_history_trains_evaluates_and_another_promotes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    let wang = analyst(&data, "analyst-wang");
    let zhao = analyst(&data, "analyst-zhao");

    let imported = ok(
        &data,
        &[
            "history", "import", TRAIN, "--format", "kcs", "--token", &wang,
        ],
    );
    assert!(
        imported.starts_with("H-0001: 600 rows (600 labelled)"),
        "{imported}"
    );
    ok(
        &data,
        &[
            "history", "import", VALID, "--format", "kcs", "--token", &wang,
        ],
    );
    let again = customs(
        &data,
        &[
            "history", "import", VALID, "--format", "kcs", "--token", &wang,
        ],
    );
    assert!(!again.status.success(), "the same file twice");
    let listed = ok(&data, &["history", "list", "--token", &zhao]);
    assert!(listed.contains("H-0002"), "{listed}");

    let split = [
        "--train-until",
        "2020-12-31",
        "--from",
        "2021-01-01",
        "--to",
        "2021-03-31",
    ];
    let mut args = vec!["model", "evaluate"];
    args.extend(split);
    args.extend(["--token", zhao.as_str(), "--json"]);
    let evaluation: Value = serde_json::from_str(&ok(&data, &args)).unwrap();
    assert_eq!(evaluation["all"]["rows"], 200, "{evaluation:#}");
    let auc = evaluation["all"]["auc"].as_f64().unwrap();
    assert!(auc > 0.5 && auc <= 1.0, "{evaluation:#}");
    assert_eq!(evaluation["unseen_price"]["rates"][2]["rate_pct"], 5);
    args.pop();
    let table = ok(&data, &args);
    assert!(table.contains("AUC") && table.contains("unseen"), "{table}");

    let trained = ok(
        &data,
        &["model", "train", "--until", "2020-12-31", "--token", &wang],
    );
    assert!(trained.starts_with("M-0001 (shadow)"), "{trained}");
    let own = customs(&data, &["model", "promote", "M-0001", "--token", &wang]);
    assert!(!own.status.success(), "four eyes");
    let promoted = ok(&data, &["model", "promote", "M-0001", "--token", &zhao]);
    assert!(promoted.starts_with("M-0001 (active)"), "{promoted}");

    let file = declarations_file(dir.path(), 1);
    let lodged = ok(
        &data,
        &[
            "lodge",
            file.to_str().unwrap(),
            "--token",
            &broker,
            "--json",
        ],
    );
    let number = serde_json::from_str::<Value>(lodged.trim()).unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = ok(&data, &["show", &number]);
    assert!(
        shown.contains("risk model scores / 风险模型评分:"),
        "{shown}"
    );
    assert!(shown.contains("M-0001 (active)"), "{shown}");

    let drift = ok(&data, &["model", "drift", "M-0001", "--token", &zhao]);
    assert!(
        drift.starts_with("M-0001: 1 declarations, 2 items"),
        "{drift}"
    );
    let models: Value =
        serde_json::from_str(&ok(&data, &["model", "list", "--token", &zhao, "--json"])).unwrap();
    assert_eq!(models[0]["summary"]["training_rows"], 600, "{models:#}");
    let rolled = ok(
        &data,
        &["model", "roll-back", "--reason", "review", "--token", &zhao],
    );
    assert!(rolled.contains("no model is in force"), "{rolled}");
    let refused = customs(&data, &["model", "list", "--token", &broker]);
    assert!(!refused.status.success(), "the trade never sees the models");
}
