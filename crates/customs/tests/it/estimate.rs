//! `customs assess`: an estimate against the sample tariff release, checked by hand against
//! worked example 1 of the rules digest (/work/shared/rules/china-import-taxes.md §2.9): FOB
//! 10,000 USD, freight 500 USD, insurance unknown (3‰), USD at 7.1000, duty 10 %, VAT 13 %.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::customs;

/// One laptop item (8471300000, 10 % MFN and 13 % VAT in the sample release) for the figures of
/// worked example 1.
const EXAMPLE_1: &str = include_str!("data/estimate-example-1.json");
/// The sample release has USD rates for 2026-02 to 2026-04 only.
const DATE: &str = "2026-03-10";

fn sample_release() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tariff/test_data/sample_release")
}

fn assess(data: &Path, declaration: &Path, release: &Path, json: bool) -> Output {
    let (declaration, release) = (declaration.to_str().unwrap(), release.to_str().unwrap());
    let mut args = vec!["assess", declaration, "--release", release, "--date", DATE];
    if json {
        args.push("--json");
    }
    customs(data, &args)
}

fn write_declaration(folder: &Path, body: &str) -> PathBuf {
    let path = folder.join("declaration.json");
    std::fs::write(&path, body).unwrap();
    path
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_estimate_of_worked_example_1_has_its_figures_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let declaration = write_declaration(dir.path(), EXAMPLE_1);
    let output = assess(&data, &declaration, &sample_release(), true);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let item = &report["items"][0];
    assert_eq!(item["commodity_code"], "8471300000");
    assert_eq!(item["customs_value"]["cif_foreign"], "10531.50");
    assert_eq!(item["customs_value"]["insurance"], "31.50");
    assert_eq!(item["customs_value"]["exchange_rate"], "7.1000");
    assert_eq!(item["customs_value"]["cny"], "74773.65");
    assert_eq!(item["duty_rate"]["column"]["en"], "MFN");
    assert_eq!(item["duty_rate"]["rate"], "10%");
    let tax = |kind: &str| {
        item["taxes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {item}"))
            .clone()
    };
    assert_eq!(tax("customs_duty")["payable"], "7477.37");
    assert_eq!(tax("import_vat")["payable"], "10692.63");
    let total = |kind: &str| {
        report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == kind)
            .unwrap()["payable"]
            .clone()
    };
    assert_eq!(total("customs_duty"), "7477.37");
    assert_eq!(total("import_vat"), "10692.63");
    assert_eq!(report["total_payable"], "18170.00");
    // Every figure is explained in both languages.
    for explanation in item["customs_value"]["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .chain(tax("customs_duty")["explanation"].as_array().unwrap())
        .chain(tax("import_vat")["explanation"].as_array().unwrap())
    {
        assert!(explanation["en"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(explanation["zh"].as_str().is_some_and(|t| !t.is_empty()));
    }
    assert!(
        !data.exists(),
        "an estimate must not create the data folder"
    );

    // The table shows the same figures.
    let output = assess(&data, &declaration, &sample_release(), false);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    for figure in ["74773.65", "MFN 10%", "7477.37", "10692.63", "18170.00"] {
        assert!(table.contains(figure), "{figure} missing from:\n{table}");
    }
}

#[test]
fn an_item_without_a_line_in_the_release_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut body: serde_json::Value = serde_json::from_str(EXAMPLE_1).unwrap();
    body["items"][0]["commodity_code"] = "8517130000".into();
    let declaration = write_declaration(dir.path(), &body.to_string());
    let output = assess(
        &dir.path().join("data"),
        &declaration,
        &sample_release(),
        true,
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("items[0].commodity_code") && message.contains("8517130000"),
        "{message}"
    );
}

#[test]
fn a_broken_declaration_gets_the_field_errors_of_lodging() {
    let dir = tempfile::tempdir().unwrap();
    let mut body: serde_json::Value = serde_json::from_str(EXAMPLE_1).unwrap();
    body["items"][0]["origin_country"] = "XX".into();
    let declaration = write_declaration(dir.path(), &body.to_string());
    let output = assess(
        &dir.path().join("data"),
        &declaration,
        &sample_release(),
        true,
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("items[0].origin_country"), "{message}");
}

#[test]
fn a_broken_release_is_refused_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    std::fs::create_dir(&release).unwrap();
    for entry in std::fs::read_dir(sample_release()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), release.join(entry.file_name())).unwrap();
    }
    let rates = release.join("duty_rates.csv");
    let text = std::fs::read_to_string(&rates).unwrap();
    let broken_row = text
        .lines()
        .position(|l| l.starts_with("8471300000,mfn,"))
        .unwrap();
    let broken = text.replace(
        "8471300000,mfn,,ad_valorem,10,",
        "8471300000,mfn,,ad_valorem,ten,",
    );
    assert_ne!(broken, text);
    std::fs::write(&rates, broken).unwrap();
    let declaration = write_declaration(dir.path(), EXAMPLE_1);
    let output = assess(&dir.path().join("data"), &declaration, &release, true);
    assert!(!output.status.success());
    let message = stderr(&output);
    let place = format!("duty_rates.csv:{}", broken_row + 1);
    assert!(message.contains(&place), "{place} not in:\n{message}");

    // A missing file is named too.
    std::fs::remove_file(release.join("trade_remedies.csv")).unwrap();
    let output = assess(&dir.path().join("data"), &declaration, &release, true);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("trade_remedies.csv"),
        "{}",
        stderr(&output)
    );
}
