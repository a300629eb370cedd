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

/// Worked example 1's laptop as a CBEC direct-purchase order (9610) of `cny` CNY, CIF.
fn cbec_order(cny: &str, indivisible: bool) -> String {
    let mut body: serde_json::Value = serde_json::from_str(EXAMPLE_1).unwrap();
    body["procedure"] = "9610".into();
    body["transaction_terms"] = "CIF".into();
    body.as_object_mut().unwrap().remove("freight");
    body["invoice"]["currency"] = "CNY".into();
    body["invoice"]["amount"] = cny.into();
    body["items"][0]["quantity"]["value"] = "1".into();
    body["items"][0]["statutory_quantities"][0]["value"] = "1".into();
    body["items"][0]["unit_price"] = cny.into();
    body["items"][0]["amount"] = cny.into();
    body["cbec_order"] = serde_json::json!({
        "order_ref": "TM-2026-0310", "platform": "Tmall Global", "indivisible_item": indivisible,
        "buyer": { "name": "张三", "id_type": "resident_id", "id_number": "11010519491231002X" }
    });
    body.to_string()
}

/// Issue 15: `customs assess` taxed a CBEC order as general trade (0.00 for 300 CNY, 729.00 for
/// 3,000). It takes the regime lodging takes: 9.1 % within the limits.
#[test]
fn a_cbec_order_is_estimated_under_the_cbec_regime() {
    let dir = tempfile::tempdir().unwrap();
    for (cny, expected) in [("300.00", "27.30"), ("3000.00", "273.00")] {
        let declaration = write_declaration(dir.path(), &cbec_order(cny, false));
        let output = assess(
            &dir.path().join("data"),
            &declaration,
            &sample_release(),
            true,
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["regime"]["code"], "cbec_within_limits", "{report:#}");
        assert_eq!(report["total_payable"], expected, "{cny}");
        assert_eq!(report["cbec"]["annual_allowance"]["checked"], "at_lodging");
        let table = assess(
            &dir.path().join("data"),
            &declaration,
            &sample_release(),
            false,
        );
        let table = String::from_utf8_lossy(&table.stdout);
        assert!(
            table.contains(&format!("total payable / 应缴税款合计: {expected} CNY")),
            "{table}"
        );
    }
    // Above the transaction limit and divisible: refused as lodging refuses it.
    let declaration = write_declaration(dir.path(), &cbec_order("5200.00", false));
    let output = assess(
        &dir.path().join("data"),
        &declaration,
        &sample_release(),
        true,
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cbec_order: "),
        "{}",
        stderr(&output)
    );
}

const POSTAL: &str = include_str!("../../../../examples/postal-parcel.json");

fn assess_on(data: &Path, declaration: &Path, date: &str, json: bool) -> Output {
    let release = sample_release();
    let (declaration, release) = (declaration.to_str().unwrap(), release.to_str().unwrap());
    let mut args = vec!["assess", declaration, "--release", release, "--date", date];
    if json {
        args.push("--json");
    }
    customs(data, &args)
}

/// Worked example 9 of the digest through `customs assess`: an article of 300 CNY of class 2 pays
/// 60.00; one of 250 CNY, tax 50.00, is exempt; above the parcel's 1,000 CNY limit it is refused.
#[test]
fn a_postal_parcel_is_estimated_under_the_postal_regime() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (price, payable, exempt) in [("300.00", "60.00", false), ("250.00", "0.00", true)] {
        let mut body: serde_json::Value = serde_json::from_str(POSTAL).unwrap();
        body["postal_parcel"]["articles"][0]["unit_dutiable_price"] = price.into();
        let declaration = write_declaration(dir.path(), &body.to_string());
        let output = assess_on(&data, &declaration, "2026-11-26", true);
        assert!(output.status.success(), "{}", stderr(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["regime"]["code"], "postal_articles");
        assert_eq!(report["total_payable"], payable);
        assert_eq!(report["totals"][0]["exempt"], exempt);
        assert_eq!(report["articles"][0]["rate"], "20%");
    }
    let mut body: serde_json::Value = serde_json::from_str(POSTAL).unwrap();
    body["postal_parcel"]["articles"][0]["unit_dutiable_price"] = "1000.01".into();
    let declaration = write_declaration(dir.path(), &body.to_string());
    let output = assess_on(&data, &declaration, "2026-11-26", false);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("postal_parcel.articles") && message.contains("应按货物申报"),
        "{message}"
    );
    assert!(
        !data.exists(),
        "an estimate must not create the data folder"
    );
}
