//! The CLI as an operator uses it: lodge files, lodge them again, show a declaration, refuse a
//! broken one with every error named.

use crate::support::{customs, declarations_file, ok, seed_broker};

#[test]
fn lodging_a_file_twice_creates_each_declaration_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let file = declarations_file(dir.path(), 5);
    let file = file.to_str().unwrap();
    let first = ok(&data, &["lodge", file, "--token", &token]);
    assert!(first.contains("5 accepted, 0 refused"), "{first}");
    let again = ok(&data, &["lodge", file, "--token", &token]);
    assert!(
        again.contains("5 accepted, 0 refused") && again.matches("lodged before").count() == 5,
        "{again}"
    );
    let number = first
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap();
    assert_eq!(number.len(), 18);
    let shown = ok(&data, &["show", number]);
    assert!(
        shown.contains(number)
            && shown.contains("8517130000")
            && shown.contains("declaration.accepted"),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&data, &["show", number, "--json"])).unwrap();
    assert_eq!(json["declaration"]["number"], number);
    // People read times in the administration's time zone (the pinned clock's 02:00 UTC is
    // 10:00 in UTC+8), labelled with the offset, and who acted by name, not by id.
    assert!(
        shown.contains("2026-11-27 10:00:") && shown.contains("+08:00"),
        "{shown}"
    );
    assert!(!shown.contains("T02:00"), "{shown}");
    let broker_id = json["events"][0]["actor_user"].as_str().unwrap();
    assert!(!shown.contains(broker_id), "{shown}");
    assert!(shown.contains("┆ broker "), "{shown}");
}

#[test]
fn a_broken_declaration_is_refused_with_every_error_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let broken = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/declaration-broken.json"
    );
    let output = customs(&data, &["lodge", broken, "--token", &token]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "trader.credit_code",
        "invoice.currency",
        "items[0].origin_country",
        "check_digit",
        "不在",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected} in:\n{stderr}"
        );
    }
}

#[test]
fn a_wrong_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_broker(&data);
    let file = declarations_file(dir.path(), 1);
    let output = customs(
        &data,
        &["lodge", file.to_str().unwrap(), "--token", "oc_0000"],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("token is not valid"));
}

/// `bench` runs end to end on a handful of declarations, into a folder given by `--data` (the
/// option it shares with the global one; a type mismatch there once panicked on every bench),
/// and reports what it measured as JSON.
#[test]
fn a_small_bench_runs_and_reports_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bench-data");
    // The machine's clock, not the pinned one: the bench dates its synthetic declarations and
    // its release by the machine's day (a known gap: it does not read `CUSTOMS_CLOCK_FIXED`).
    let output = std::process::Command::new(crate::support::customs_binary())
        .env_remove("CUSTOMS_CLOCK_FIXED")
        .args([
            "bench",
            "--stages",
            "inprocess,sqlite-floor",
            "--declarations",
            "30",
        ])
        .args(["--clients", "2", "--json", "--data"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let text = report.to_string();
    assert!(
        text.contains("inprocess") && text.contains("sqlite-floor"),
        "{text}"
    );
    assert!(
        folder.join("customs.db").exists(),
        "the bench kept its given folder"
    );
}

/// The http-wco stage lodges the same declarations as WCO XML next to http's JSON, every one
/// accepted, and reports both throughputs.
#[test]
fn bench_lodges_the_same_declarations_as_wco_xml_next_to_json() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bench-data");
    let output = std::process::Command::new(crate::support::customs_binary())
        .env_remove("CUSTOMS_CLOCK_FIXED")
        .args(["bench", "--stages", "http,http-wco", "--declarations", "30"])
        .args(["--clients", "2", "--json", "--data"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["http", "http-wco"]);
    for stage in stages {
        assert_eq!(stage["declarations"], 30, "{stage}");
        assert_eq!(stage["failures"], 0, "{stage}");
        assert!(stage["declarations_per_s"].as_f64().unwrap() > 0.0);
        assert!(stage["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    }
}
