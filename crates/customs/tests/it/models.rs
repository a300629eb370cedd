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

/// (score, discrepancy) of each line of a scores file.
fn read_scores(path: &Path) -> Vec<(f64, bool)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[1].parse().unwrap(), cells[2] == "1")
        })
        .collect()
}

/// AUC by counting pairs (ties one half), independent of the platform's code.
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

    // Every score written down: the AUC recomputed from the file (pairs counted) is the one
    // printed; price-grouped cross-validation over every labelled row writes its folds.
    let scores = dir.path().join("scores.csv");
    let mut with_scores = args.clone();
    with_scores.extend(["--json", "--scores", scores.to_str().unwrap()]);
    let printed: Value = serde_json::from_str(&ok(&data, &with_scores)).unwrap();
    let rows = read_scores(&scores);
    assert_eq!(rows.len(), 200);
    assert_eq!(pairwise_auc(&rows), printed["all"]["auc"].as_f64().unwrap());
    let cv: Value = serde_json::from_str(&ok(
        &data,
        &[
            "model",
            "evaluate",
            "--cv-folds",
            "3",
            "--group-by",
            "price",
            "--scores",
            scores.to_str().unwrap(),
            "--token",
            &zhao,
            "--json",
        ],
    ))
    .unwrap();
    let text = std::fs::read_to_string(&scores).unwrap();
    assert!(
        text.starts_with("row_id,score,label,unseen_price,fold\n"),
        "{text}"
    );
    let rows = read_scores(&scores);
    assert_eq!(rows.len(), 800);
    assert_eq!(pairwise_auc(&rows), cv["all"]["auc"].as_f64().unwrap());
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.ends_with(",1,0") || l.ends_with(",1,1") || l.ends_with(",1,2"))
    );

    let trained = ok(
        &data,
        &["model", "train", "--until", "2020-12-31", "--token", &wang],
    );
    assert!(trained.starts_with("M-0001 (shadow)"), "{trained}");
    let own = customs(&data, &["model", "promote", "M-0001", "--token", &wang]);
    assert!(!own.status.success(), "four eyes");
    let promoted = ok(&data, &["model", "promote", "M-0001", "--token", &zhao]);
    assert!(promoted.starts_with("M-0001 (active)"), "{promoted}");
    // A model trained on the test period is refused, naming the flag the user types.
    let leaking = customs(
        &data,
        &[
            "model",
            "evaluate",
            "--model",
            "M-0001",
            "--train-until",
            "2020-01-02",
            "--from",
            "2020-01-03",
            "--to",
            "2020-01-06",
            "--token",
            &zhao,
        ],
    );
    assert!(!leaking.status.success());
    let said = String::from_utf8_lossy(&leaking.stderr);
    assert!(
        said.contains("(--allow-overlap to evaluate it anyway"),
        "{said}"
    );
    assert!(said.contains("可用 --allow-overlap"), "{said}");

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

    // One declaration is too few to judge drift on (DRIFT_DECLARATIONS_MIN).
    let drift = ok(&data, &["model", "drift", "M-0001", "--token", &zhao]);
    assert!(
        drift.starts_with("M-0001: too few to judge: 1 declarations, at least 30 needed"),
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
