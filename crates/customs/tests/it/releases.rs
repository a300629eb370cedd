//! `customs tariff ...` and `customs rates ...` as an administrator runs them: the sample release
//! imported, tried on a lodged declaration, activated, shown in `customs show`, rolled back.

use std::path::Path;

use crate::support::{THIS_MONTH, customs, declarations_file, ok, seed_broker};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

/// An exchange-rate table for this month in China (the pinned clock's), so the test does not depend on the sample's
/// months: USD 7.1000.
fn this_months_rates(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join("rates");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("exchange_rates.csv"),
        format!("# test table\ncurrency,month,rate\nUSD,{THIS_MONTH},7.1000\n"),
    )
    .unwrap();
    folder
}

/// Lodges the `n`-th of `n` distinct declarations (earlier ones are already lodged: the CLI keys
/// each by its content) and returns its number.
fn lodged_number(data: &Path, dir: &Path, token: &str, n: usize) -> String {
    let file = declarations_file(dir, n);
    let out = ok(
        data,
        &["lodge", file.to_str().unwrap(), "--token", token, "--json"],
    );
    // One receipt per line; the last is the `n`-th declaration's.
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    last["number"]
        .as_str()
        .unwrap_or_else(|| panic!("no number in {out}"))
        .to_owned()
}

#[test]
fn an_administrator_imports_tries_activates_and_rolls_back_a_release() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let number = lodged_number(&data, dir.path(), &token, 1);
    let shown = ok(&data, &["show", &number]);
    assert!(shown.contains("not assessed"), "{shown}");

    let imported = ok(&data, &["tariff", "import", SAMPLE, "--label", "sample"]);
    assert!(imported.contains("imported TR-0001"), "{imported}");
    let rates = this_months_rates(dir.path());
    let imported = ok(&data, &["rates", "import", rates.to_str().unwrap()]);
    assert!(imported.contains("imported XR-0001"), "{imported}");
    ok(
        &data,
        &["rates", "activate", "XR-0001", "--from", "2026-01-01"],
    );

    // The same files again are refused; a folder without the files is refused with their names.
    let again = customs(&data, &["tariff", "import", SAMPLE]);
    assert!(!again.status.success());
    let empty = customs(&data, &["tariff", "import", dir.path().to_str().unwrap()]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("lines.csv"));

    let dry_run = ok(&data, &["tariff", "dry-run", "TR-0001", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&dry_run).unwrap();
    assert_eq!(report["declarations_compared"], 1, "{report:#}");
    assert_eq!(report["assessable_only_under_candidate"], 1, "{report:#}");

    let activated = ok(
        &data,
        &["tariff", "activate", "TR-0001", "--from", "2026-01-01"],
    );
    assert!(
        activated.contains("in force from 2026-01-01"),
        "{activated}"
    );
    let list = ok(&data, &["tariff", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["status"], "active");

    let number = lodged_number(&data, dir.path(), &token, 2);
    let shown = ok(&data, &["show", &number]);
    assert!(shown.contains("tariff release TR-0001"), "{shown}");
    assert!(shown.contains("total payable / 应缴税款合计"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&data, &["show", &number, "--json"])).unwrap();
    assert_eq!(json["assessments"][0]["outcome"], "assessed");
    assert_eq!(json["assessments"][0]["tariff_release"], "TR-0001");

    let rolled = ok(&data, &["tariff", "roll-back", "--reason", "test"]);
    assert!(rolled.contains("TR-0001 is rolled back"), "{rolled}");
    let list = ok(&data, &["tariff", "list"]);
    assert!(list.contains("rolled_back"), "{list}");
}
