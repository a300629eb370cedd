//! The demo keeps working on any date (issue 12, "The calendar"): the sample's exchange rates stop
//! at 2026-12, and `serve --demo` puts illustrative rates in force for the months around today,
//! so the README's example is still assessed and estimated after the sample's last month.

use serde_json::Value;

use crate::support::{EXAMPLE, start_server};

/// After the sample's last month (2026-12), in the middle of a month and of a China day.
const AFTER_THE_SAMPLE: &str = "2027-03-15T02:00:00Z";

/// The example's total payable in March 2027, derived by hand from
/// ../shared/rules/china-import-taxes.md and the illustrative rate (the sample's 2026-12 USD rate
/// held flat: 7.0092):
///   FOB 10,000.00 USD + freight 500.00 USD = 10,500.00; insurance unknown: 10,500.00 × 3‰ = 31.50;
///   CIF 10,531.50 USD.
///   Smartphones 8517.13 and portable computers 8471.30: MFN duty 0%, VAT 13%, no consumption tax.
///   Each item's share of the CIF by its invoice amount (8,000 and 2,000 of 10,000), converted at
///   7.0092 and rounded half-up to the fen:
///     8,425.20 USD × 7.0092 = 59,053.91 CNY; VAT 59,053.91 × 13% = 7,677.01
///     2,106.30 USD × 7.0092 = 14,763.48 CNY; VAT 14,763.48 × 13% = 1,919.25
///   total payable 7,677.01 + 1,919.25 = 9,596.26 CNY.
const EXPECTED_TOTAL_PAYABLE: &str = "9596.26";

#[tokio::test]
async fn the_demo_assesses_and_estimates_the_readme_example_after_the_samples_last_month() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let (mut server, address, printed) =
        start_server(&data, &["--demo"], AFTER_THE_SAMPLE).expect("the demo starts");

    // What it prints says which rates are made up, for which months, and from what.
    assert!(
        printed.contains("ILLUSTRATIVE demo rates 2027-01..2028-03")
            && printed.contains("the SAMPLE's 2026-12 rates held flat, not official"),
        "{printed}"
    );
    let tokens = std::fs::read_to_string(data.join("demo-tokens.txt")).unwrap();
    let token = tokens
        .lines()
        .find_map(|line| line.strip_prefix("broker "))
        .expect("the broker's token")
        .trim()
        .to_owned();

    let http = reqwest::Client::new();
    let lodged = http
        .post(format!("http://{address}/v1/declarations"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "calendar-1")
        .header("Content-Type", "application/json")
        .body(EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(lodged.status(), 201);
    let lodged: Value = lodged.json().await.unwrap();
    let number = lodged["number"].as_str().unwrap();
    assert_eq!(
        &number[4..8],
        "2027",
        "numbered in the pinned year: {number}"
    );

    let assessments: Value = http
        .get(format!(
            "http://{address}/v1/declarations/{}/assessments",
            lodged["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &assessments["assessments"][0];
    assert_eq!(first["outcome"], "assessed", "{assessments}");
    assert_eq!(first["acceptance_date"], "2027-03-15");
    assert_eq!(
        first["exchange_rate_tables"],
        serde_json::json!(["XR-0001", "XR-0002"]),
        "the sample's table and the illustrative one"
    );
    assert_eq!(first["total_payable"], EXPECTED_TOTAL_PAYABLE, "{first}");

    let estimate = http
        .post(format!("http://{address}/v1/estimates"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(estimate.status(), 200);
    let estimate: Value = estimate.json().await.unwrap();
    assert_eq!(
        estimate["total_payable"], EXPECTED_TOTAL_PAYABLE,
        "{estimate}"
    );

    // A restart in the same month adds no second illustrative table.
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, _, printed) =
        start_server(&data, &["--demo"], AFTER_THE_SAMPLE).expect("the demo restarts");
    assert_eq!(
        printed.matches("ILLUSTRATIVE").count(),
        1,
        "one illustrative table in force: {printed}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_pinned_clock_or_a_time_zone_that_cannot_be_read_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/declaration-import.json"
    );
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tariff/sample_release_cn_2026"
    );
    let clock = crate::support::command()
        .env("CUSTOMS_CLOCK_FIXED", "next tuesday")
        .arg("--data")
        .arg(&data)
        .args(["assess", example, "--release", sample])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&clock.stderr);
    assert!(!clock.status.success());
    assert!(
        stderr.contains("CUSTOMS_CLOCK_FIXED") && stderr.contains("next tuesday"),
        "{stderr}"
    );
    // Refused before anything opens: no server is started.
    for zone in ["+14:30", "Asia/Shanghai", "8"] {
        let serve = crate::support::command()
            .arg("--data")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0", "--time-zone", zone])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&serve.stderr);
        assert!(!serve.status.success(), "{zone}: {stderr}");
        assert!(
            stderr.contains("--time-zone") && stderr.contains(zone) && stderr.contains("+08:00"),
            "{stderr}"
        );
    }
}
