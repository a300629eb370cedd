//! `customs model simulate` on the KCS slices of the model crate's test data (a week of 2020 and
//! a week of 2021): the replay reads the imported history, is the same for the same seed, and
//! refuses settings outside their limits naming the flag.

use serde_json::Value;

use crate::support::{customs, ok};

const TRAIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/test_data/kcs_train_600.csv"
);
const VALID: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/test_data/kcs_valid_200.csv"
);

#[test]
fn an_analyst_replays_the_history_week_by_week_against_the_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        &data,
        &["admin", "user", "--name", "wang", "--role", "risk_analyst"],
    );
    let wang = ok(&data, &["admin", "token", "--user", "wang"])
        .trim()
        .to_owned();
    for file in [TRAIN, VALID] {
        ok(
            &data,
            &[
                "history", "import", file, "--format", "kcs", "--token", &wang,
            ],
        );
    }
    let args = [
        "model",
        "simulate",
        "--initial-weeks",
        "1",
        "--seed",
        "3",
        "--token",
        &wang,
    ];
    let json_args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    let replay: Value = serde_json::from_str(&ok(&data, &json_args)).unwrap();
    assert_eq!(
        replay,
        serde_json::from_str::<Value>(&ok(&data, &json_args)).unwrap(),
        "the same seed gives the same replay"
    );
    // The 600 items of 2020's first week are the history; the 200 of 2021's first week (week
    // 52) the one replayed week; the empty weeks between are skipped.
    assert_eq!(replay["history"]["items"], 600, "{replay:#}");
    let weeks = replay["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 1, "{replay:#}");
    assert_eq!(weeks[0]["week"], 52);
    assert_eq!(weeks[0]["items"], 200);
    for policy in ["hybrid", "exploitation-only", "random", "full-information"] {
        assert_eq!(
            weeks[0]["policies"][policy]["selected"], 10,
            "ceil(5 % of 200) for {policy}"
        );
    }
    assert_eq!(weeks[0]["policies"]["hybrid"]["explored"], 2, "20 % of 10");
    assert_eq!(replay["settings"]["exploration"], "novelty");
    assert_eq!(replay["trainings"]["random"], 0);

    let table = ok(&data, &args);
    assert!(
        table.contains("hyb P") && table.contains("full N") && table.contains("last 1 weeks"),
        "{table}"
    );

    for (flag, value) in [
        ("--budget-pct", "50.5"),
        ("--exploration-pct", "101"),
        ("--initial-weeks", "53"),
        ("--retrain-every", "0"),
        ("--weight-max", "0.5"),
    ] {
        let refused = customs(&data, &["model", "simulate", flag, value, "--token", &wang]);
        assert!(!refused.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let field = flag.trim_start_matches("--").replace('-', "_");
        assert!(stderr.contains(&field), "{flag}: {stderr}");
    }
}
