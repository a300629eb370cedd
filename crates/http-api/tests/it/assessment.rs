//! Duty assessment over HTTP: tariff releases imported, tried, activated and rolled back, and the
//! assessments of declarations lodged meanwhile.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Reply, TestApp, example, sample_file, sample_rates_import, sample_tariff_import, spawn_app,
    spawn_app_at,
};

/// 10:00 on 2026-11-27 in UTC+8: the lodging date of every declaration of the story. The sample
/// exchange-rate table has a USD rate for 2026-11, the example's invoice currency.
const NOW: &str = "2026-11-27T02:00:00Z";
const LODGING_DATE: &str = "2026-11-27";

/// The assessments of a declaration, oldest first.
async fn assessments(app: &TestApp, id: &str, user: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/declarations/{id}/assessments"), user)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["assessments"].as_array().unwrap().clone()
}

async fn reassess(app: &TestApp, id: &str, user: &str, reason: &str) -> Reply {
    app.post(
        &format!("/v1/declarations/{id}/assessments"),
        user,
        None,
        &json!({ "reason": reason }),
    )
    .await
}

async fn activate(app: &TestApp, id: &str, user: &str, effective_from: &str) -> Reply {
    app.post(
        &format!("/v1/releases/{id}/activation"),
        user,
        None,
        &json!({ "effective_from": effective_from }),
    )
    .await
}

/// The sample tariff with the MFN rate of `code` spoilt; and the 1-based line of duty_rates.csv
/// that is spoilt, and whether a comment line is right above it.
fn broken_tariff_import(code: &str) -> (Value, usize, bool) {
    let text = sample_file("duty_rates.csv");
    let lines: Vec<&str> = text.lines().collect();
    let index = lines
        .iter()
        .position(|l| l.starts_with(&format!("{code},mfn,")))
        .expect("the sample has an MFN rate for the code");
    let fields: Vec<&str> = lines[index].split(',').collect();
    let spoilt_row = [&fields[..4], &["abc"], &fields[5..]].concat().join(",");
    let spoilt_text = text.replacen(lines[index], &spoilt_row, 1);
    let mut body = sample_tariff_import();
    body["label"] = json!("SAMPLE, spoilt");
    body["files"]["duty_rates.csv"] = json!(spoilt_text);
    (body, index + 1, lines[index - 1].starts_with('#'))
}

#[tokio::test]
async fn a_tariff_release_is_imported_tried_activated_applied_and_rolled_back() {
    let app = spawn_app_at(NOW).await;

    // 1. The administrator imports the sample tariff and exchange rates; a spoilt release and the
    //    same files again are refused.
    let tariff = app
        .post("/v1/releases", "admin", None, &sample_tariff_import())
        .await;
    let rates = app
        .post("/v1/releases", "admin", None, &sample_rates_import())
        .await;
    // A row with another rate row right above it; a row after a comment is tested at the end.
    let (broken, broken_line, after_comment) = broken_tariff_import("84451113");
    assert!(!after_comment);
    let spoilt = app.post("/v1/releases", "admin", None, &broken).await;
    let twice = app
        .post("/v1/releases", "admin", None, &sample_tariff_import())
        .await;
    let listed = app.get("/v1/releases?kind=tariff", "officer").await;

    assert_eq!(tariff.status, StatusCode::CREATED, "{}", tariff.text);
    assert_eq!(tariff.body["id"], "TR-0001");
    assert_eq!(tariff.body["kind"], "tariff");
    assert_eq!(tariff.body["status"], "imported");
    assert!(tariff.body["summary"]["lines"].as_u64().unwrap() > 0);
    assert_eq!(rates.status, StatusCode::CREATED, "{}", rates.text);
    assert_eq!(rates.body["id"], "XR-0001");
    spoilt.assert_problem(422);
    assert_eq!(
        spoilt.error_paths(),
        [(
            format!("duty_rates.csv:{broken_line}.rate_percent"),
            "invalid_format".to_owned()
        )],
        "{}",
        spoilt.text
    );
    twice.assert_problem(422);
    assert_eq!(
        twice.error_paths(),
        [("files".to_owned(), "duplicate".to_owned())]
    );
    assert!(twice.text.contains("TR-0001"), "{}", twice.text);
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let listed_ids: Vec<&str> = listed.body["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, ["TR-0001"], "refused imports leave nothing");

    // 2. Lodged while no tariff is in force: accepted, and not assessed.
    let first = app.lodged_id("broker", &example()).await;
    let before = assessments(&app, &first, "broker").await;

    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["outcome"], "not_assessed", "{}", before[0]);
    assert_eq!(before[0]["basis"], "acceptance");
    assert_eq!(before[0]["acceptance_date"], LODGING_DATE);
    assert_eq!(before[0]["tariff_release"], Value::Null);

    // 3. With the rates in force, a dry run of the tariff finds the declaration assessable under it.
    let rates_active = activate(&app, "XR-0001", "admin", "2026-11-01").await;
    let dry_run = app
        .get("/v1/releases/TR-0001/dry-run?sample=50", "admin")
        .await;

    assert_eq!(rates_active.status, StatusCode::OK, "{}", rates_active.text);
    assert_eq!(rates_active.body["status"], "active");
    assert_eq!(rates_active.body["effective_from"], "2026-11-01");
    assert_eq!(dry_run.status, StatusCode::OK, "{}", dry_run.text);
    assert_eq!(dry_run.body["release"], "TR-0001");
    assert_eq!(dry_run.body["release_status"], "imported");
    assert_eq!(dry_run.body["declarations_compared"], 1, "{}", dry_run.text);
    assert_eq!(dry_run.body["assessable_only_under_candidate"], 1);
    assert_eq!(dry_run.body["changed"], 0);
    assert_eq!(dry_run.body["not_assessable_under_either"], 0);

    // 4. The tariff in force from before the lodging date: a new lodging is assessed with it, and
    //    an estimate of the same document comes to the same total.
    let tariff_active = activate(&app, "TR-0001", "admin", "2026-11-01").await;
    let second = app.lodged_id("broker", &example()).await;
    let assessed = assessments(&app, &second, "broker").await;
    let estimate = app.post("/v1/estimates", "broker", None, &example()).await;

    assert_eq!(
        tariff_active.status,
        StatusCode::OK,
        "{}",
        tariff_active.text
    );
    assert_eq!(assessed.len(), 1);
    let record = &assessed[0];
    assert_eq!(record["outcome"], "assessed", "{record}");
    assert_eq!(record["tariff_release"], "TR-0001");
    assert_eq!(record["exchange_rate_tables"], json!(["XR-0001"]));
    assert_eq!(record["acceptance_date"], LODGING_DATE);
    let total_payable = record["total_payable"].as_str().expect("a total");
    // By hand (../shared/rules/china-import-taxes.md; USD 2026-11 at 7.0163; MFN 0% on both
    // lines, VAT 13%; freight shared by the items' amounts; insurance unknown: 3‰ of price +
    // freight; each step rounded half-up to the fen):
    //   8,000 + 400 + 25.20 = 8,425.20 USD → 59,113.73 CNY, VAT 7,684.78
    //   2,000 + 100 + 6.30 = 2,106.30 USD → 14,778.43 CNY, VAT 1,921.20; total 9,605.98 CNY.
    assert_eq!(total_payable, "9605.98");
    assert!(!record["report"]["totals"].as_array().unwrap().is_empty());
    assert_eq!(record["report"]["total_payable"], total_payable);
    assert_eq!(estimate.status, StatusCode::OK, "{}", estimate.text);
    assert_eq!(estimate.body["estimate"], true);
    assert_eq!(estimate.body["total_payable"], total_payable);
    assert_eq!(estimate.body["tariff_release"], "TR-0001");

    // 5. Only the administrator manages releases, only officers reassess. The officer's
    //    reassessment of the first declaration finds what it owes.
    let broker_imports = app
        .post("/v1/releases", "broker", None, &sample_rates_import())
        .await;
    let declarant_activates = activate(&app, "TR-0001", "declarant", "2026-11-01").await;
    let officer_imports = app
        .post("/v1/releases", "officer", None, &sample_rates_import())
        .await;
    let reassessed = reassess(&app, &first, "officer", "tariff now in force").await;
    let by_declarant = reassess(&app, &first, "declarant", "please").await;

    broker_imports.assert_problem(403);
    declarant_activates.assert_problem(403);
    officer_imports.assert_problem(403);
    assert_eq!(
        reassessed.status,
        StatusCode::CREATED,
        "{}",
        reassessed.text
    );
    assert_eq!(reassessed.body["assessment"], 2);
    assert_eq!(reassessed.body["basis"], "officer");
    assert_eq!(reassessed.body["note"], "tariff now in force");
    assert_eq!(reassessed.body["outcome"], "assessed");
    let difference = &reassessed.body["difference"];
    assert!(difference.is_object(), "{}", reassessed.text);
    assert_eq!(difference["previous_assessment"], 1);
    assert_eq!(difference["total"], total_payable, "all of it is to pay");
    assert_eq!(difference["settlement"]["en"], "to pay");
    by_declarant.assert_problem(403);

    // 6. The tariff rolled back: the second declaration, reassessed, is not assessed again, and
    //    its first assessment still names the release it used.
    let rolled_back = app
        .post(
            "/v1/releases/rollback",
            "admin",
            None,
            &json!({"kind": "tariff", "reason": "published in error"}),
        )
        .await;
    let after_roll_back = reassess(&app, &second, "officer", "tariff rolled back").await;
    let history = assessments(&app, &second, "officer").await;

    assert_eq!(rolled_back.status, StatusCode::OK, "{}", rolled_back.text);
    assert_eq!(rolled_back.body["id"], "TR-0001");
    assert_eq!(rolled_back.body["status"], "rolled_back");
    assert_eq!(
        after_roll_back.status,
        StatusCode::CREATED,
        "{}",
        after_roll_back.text
    );
    assert_eq!(after_roll_back.body["outcome"], "not_assessed");
    assert_eq!(after_roll_back.body["tariff_release"], Value::Null);
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["tariff_release"], "TR-0001");
    assert_eq!(history[1], after_roll_back.body);
}

#[tokio::test]
async fn a_reassessment_retried_with_its_key_answers_the_first_record() {
    let app = spawn_app_at(NOW).await;
    let id = app.lodged_id("broker", &example()).await;
    let path = format!("/v1/declarations/{id}/assessments");
    let body = json!({"reason": "checked"});

    let first = app.post(&path, "officer", Some("reassess-1"), &body).await;
    let retried = app.post(&path, "officer", Some("reassess-1"), &body).await;
    let other = app
        .post(
            &path,
            "officer",
            Some("reassess-1"),
            &json!({"reason": "other"}),
        )
        .await;
    let history = assessments(&app, &id, "officer").await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(retried.status, StatusCode::OK, "a retry creates nothing");
    assert_eq!(retried.body, first.body);
    other.assert_problem(422);
    assert_eq!(
        other.error_paths(),
        [("Idempotency-Key".to_owned(), "not_allowed".to_owned())]
    );
    assert_eq!(history.len(), 2, "the acceptance's and one reassessment");
}

#[tokio::test]
async fn every_bad_parameter_and_body_is_named() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;
    let mut bad_kind = sample_rates_import();
    bad_kind["kind"] = json!("excise");

    let cases = [
        (
            app.get("/v1/releases", "officer").await,
            vec![("kind", "required")],
        ),
        (
            app.get("/v1/releases?kind=excise", "officer").await,
            vec![("kind", "invalid_format")],
        ),
        (
            app.get("/v1/releases?kind=tariff&kind=tariff&colour=red", "officer")
                .await,
            vec![("kind", "duplicate"), ("colour", "unknown_field")],
        ),
        (
            app.post("/v1/estimates?date=27.11.2026", "broker", None, &example())
                .await,
            vec![("date", "invalid_format")],
        ),
        (
            app.post("/v1/estimates?on=2026-11-27", "broker", None, &example())
                .await,
            vec![("on", "unknown_field")],
        ),
        (
            app.get("/v1/releases/TR-0001/dry-run?sample=many", "admin")
                .await,
            vec![("sample", "invalid_format")],
        ),
        (
            app.get("/v1/releases/TR-0001/dry-run?sample=0", "admin")
                .await,
            vec![("sample", "out_of_range")],
        ),
        (
            app.get("/v1/releases/TR-0001/dry-run?sample=501", "admin")
                .await,
            vec![("sample", "out_of_range")],
        ),
        (
            app.get("/v1/releases/TR-0001/dry-run", "admin").await,
            vec![("release", "not_allowed")],
        ),
        (
            app.post("/v1/releases", "admin", None, &bad_kind).await,
            vec![("kind", "invalid_format")],
        ),
        (
            app.post(
                "/v1/releases/TR-0001/activation",
                "admin",
                None,
                &json!({"effective_from": "2026-02-30"}),
            )
            .await,
            vec![("effective_from", "invalid_format")],
        ),
        (
            app.post(
                "/v1/releases/TR-0009/activation",
                "admin",
                None,
                &json!({"effective_from": "2026-01-01"}),
            )
            .await,
            vec![("release", "not_allowed")],
        ),
        (
            app.post(
                "/v1/releases/rollback",
                "admin",
                None,
                &json!({"kind": "tariff", "reason": "nothing to withdraw"}),
            )
            .await,
            vec![("kind", "not_allowed")],
        ),
        (
            app.post(
                "/v1/releases/rollback",
                "admin",
                None,
                &json!({"kind": "excise", "reason": "x"}),
            )
            .await,
            vec![("kind", "invalid_format")],
        ),
        (
            app.post(
                &format!("/v1/declarations/{id}/assessments"),
                "officer",
                None,
                &json!({"reason": "x", "amount": "1"}),
            )
            .await,
            vec![("amount", "unknown_field")],
        ),
        (
            app.post(
                &format!("/v1/declarations/{id}/assessments"),
                "officer",
                None,
                &json!({}),
            )
            .await,
            vec![("reason", "required")],
        ),
    ];

    let mut mismatches = Vec::new();
    for (n, (reply, want)) in cases.iter().enumerate() {
        reply.assert_problem(422);
        let got = reply.error_paths();
        let got: Vec<(&str, &str)> = got.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
        if &got != want {
            mismatches.push(format!("case {n}: want {want:?}, got {got:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn a_file_named_twice_is_refused_rather_than_one_copy_dropped() {
    let app = spawn_app().await;
    let rates = sample_file("exchange_rates.csv");
    let body = format!(
        r#"{{"kind": "exchange_rates", "label": "twice", "files": {{"exchange_rates.csv": {text}, "exchange_rates.csv": {text}}}}}"#,
        text = Value::from(rates)
    );

    let refused = app.post_bytes("/v1/releases", "admin", None, body).await;
    let by_broker = app
        .post_bytes(
            "/v1/releases",
            "broker",
            None,
            r#"{"kind": "exchange_rates", "files": 3}"#,
        )
        .await;

    refused.assert_problem(422);
    assert_eq!(
        refused.error_paths(),
        [(
            "files[exchange_rates.csv]".to_owned(),
            "duplicate".to_owned()
        )]
    );
    // A role that may not import at all is told so before what is wrong with its body.
    by_broker.assert_problem(403);
}

#[tokio::test]
async fn an_estimate_without_a_tariff_in_force_names_why_it_cannot_be_made() {
    let app = spawn_app_at(NOW).await;

    let estimate = app
        .post("/v1/estimates", "declarant", None, &example())
        .await;

    estimate.assert_problem(422);
    assert!(
        estimate
            .text
            .contains("no tariff release is in force on 2026-11-27"),
        "{}",
        estimate.text
    );
}

/// The line a release problem names counts comment lines (`tariff::ReleaseProblem::line`), also
/// when comment lines are right above the row (the `csv` crate's record position is where the
/// reader started, the first of those comment lines; `read_table` skips them).
#[tokio::test]
async fn a_problem_on_a_row_after_a_comment_names_the_rows_line() {
    let app = spawn_app().await;
    let (broken, line, after_comment) = broken_tariff_import("84713000");
    assert!(after_comment);

    let spoilt = app.post("/v1/releases", "admin", None, &broken).await;

    spoilt.assert_problem(422);
    assert_eq!(
        spoilt.error_paths(),
        [(
            format!("duty_rates.csv:{line}.rate_percent"),
            "invalid_format".to_owned()
        )]
    );
}

/// A CBEC direct-purchase order (9610) of `units` smartphones at USD `price` each, CIF, for the
/// buyer with resident ID `buyer_id`.
fn cbec_order(order_ref: &str, buyer_id: &str, units: u32, price: u32, indivisible: bool) -> Value {
    let mut body = example();
    let amount = format!("{}.00", units * price);
    body["procedure"] = json!("9610");
    body["transaction_terms"] = json!("CIF");
    body.as_object_mut().unwrap().remove("freight");
    body["invoice"]["amount"] = json!(amount);
    body["packages"]["count"] = json!("1");
    body["gross_mass_kg"] = json!("1");
    body["net_mass_kg"] = json!("0.5");
    body["items"] = json!([{
        "commodity_code": "8517130000",
        "description": "Smartphone, 5G",
        "quantity": { "value": units.to_string(), "unit": "C62" },
        "statutory_quantities": [{ "value": units.to_string(), "unit": "C62" }],
        "unit_price": format!("{price}.00"),
        "amount": amount,
        "origin_country": "US",
        "levy_mode": "1"
    }]);
    body["cbec_order"] = json!({
        "order_ref": order_ref,
        "platform": "Tmall Global",
        "indivisible_item": indivisible,
        "buyer": { "name": "张三", "id_type": "resident_id", "id_number": buyer_id }
    });
    body
}

/// Defect 5 of issue 10: an estimate answered the annual CBEC total of whatever buyer ID it was
/// given, to any authenticated user. Now no estimate reads the buyer's purchases: the answer for
/// a buyer who bought ~21,751 CNY this year is the answer for a buyer who bought nothing.
#[tokio::test]
async fn an_estimate_does_not_disclose_a_buyers_purchases_to_anyone() {
    const BOUGHT: &str = "11010519491231002X";
    const NEVER_BOUGHT: &str = "440304198001011239";
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-11-01").await;
    // One indivisible item of USD 3,100: about 21,751 CNY booked against the year.
    let lodged = app
        .post(
            "/v1/declarations",
            "broker",
            Some("cbec-1"),
            &cbec_order("TM-1", BOUGHT, 1, 3100, true),
        )
        .await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    let booked = assessments(&app, lodged.body["id"].as_str().unwrap(), "broker").await[0]["cbec"]
        ["order_value"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another ~4,631 CNY would take that buyer past the 26,000 CNY year: lodging refuses it, but
    // an estimate, for the trade or for customs, answers as for a buyer with no purchases.
    for user in ["other_declarant", "broker", "officer"] {
        let mut answers = Vec::new();
        for buyer in [BOUGHT, NEVER_BOUGHT] {
            let reply = app
                .post(
                    "/v1/estimates",
                    user,
                    None,
                    &cbec_order("TM-2", buyer, 2, 330, false),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{user}: {}", reply.text);
            assert!(!reply.text.contains(&booked), "{user}: {}", reply.text);
            let cbec = &reply.body["cbec"];
            assert_eq!(cbec["annual_total_after"], Value::Null, "{user}: {cbec}");
            assert_eq!(cbec["annual_allowance"]["checked"], "at_lodging");
            let mut body = reply.body.clone();
            body["cbec"]["buyer"] = Value::Null;
            answers.push(body);
        }
        assert_eq!(answers[0], answers[1], "{user}");
    }
    // Lodging refuses the order that does not fit, naming the order and the limit, not the
    // buyer's total; the trade's view of a lodged order has no total either.
    let refused = app
        .post(
            "/v1/declarations",
            "broker",
            Some("cbec-2"),
            &cbec_order("TM-2", BOUGHT, 2, 330, false),
        )
        .await;
    refused.assert_problem(422);
    assert_eq!(refused.error_paths()[0].0, "cbec_order", "{}", refused.text);
    // No figure in the reason is above the limit (the old reason gave the year's total).
    let reason = refused.body["errors"][0]["message_en"].as_str().unwrap();
    let figures: Vec<f64> = reason
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.trim_end_matches('.').parse().ok())
        .collect();
    assert!(figures.iter().all(|f| *f <= 26_000.0), "{reason}");
    let second = app
        .post(
            "/v1/declarations",
            "broker",
            Some("cbec-3"),
            &cbec_order("TM-3", BOUGHT, 1, 300, false),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let id = second.body["id"].as_str().unwrap();
    let for_trade = &assessments(&app, id, "broker").await[0]["cbec"];
    assert_eq!(for_trade["annual_total_after"], Value::Null, "{for_trade}");
    let for_customs = &assessments(&app, id, "officer").await[0]["cbec"];
    assert!(
        for_customs["annual_total_after"].is_string(),
        "{for_customs}"
    );
}

/// A release whose file carries a megabyte in a column name or a cell is refused with an answer
/// of a few kilobytes: no message repeats more than a bounded part of it.
#[tokio::test]
async fn a_megabyte_in_a_release_file_gives_a_small_refusal() {
    let app = spawn_app().await;
    let megabyte = "Z".repeat(1 << 20);
    let mut header = sample_tariff_import();
    let lines = sample_file("lines.csv");
    let first_line = lines.lines().find(|l| !l.starts_with('#')).unwrap();
    // The last column renamed: one unknown column and one missing, reported before any row.
    let renamed = match first_line.rsplit_once(',') {
        Some((rest, _)) => format!("{rest},{megabyte}"),
        None => megabyte.clone(),
    };
    header["files"]["lines.csv"] = json!(lines.replacen(first_line, &renamed, 1));
    let mut cell = sample_rates_import();
    let rates = sample_file("exchange_rates.csv");
    let row = rates
        .lines()
        .filter(|l| !l.starts_with('#'))
        .nth(1)
        .unwrap();
    let spoilt: Vec<&str> = row.split(',').collect();
    let spoilt = [&[megabyte.as_str()][..], &spoilt[1..]].concat().join(",");
    cell["files"]["exchange_rates.csv"] = json!(rates.replacen(row, &spoilt, 1));
    for body in [header, cell] {
        let refused = app.post("/v1/releases", "admin", None, &body).await;
        refused.assert_problem(422);
        // At most FIELD_ERRORS_LISTED_MAX errors of bounded messages: 200 KB would be the
        // worst case; these short messages take far less.
        assert!(
            refused.body["errors"].as_array().unwrap().len() <= http_api::FIELD_ERRORS_LISTED_MAX
        );
        assert!(
            refused.text.len() < 64 * 1024,
            "{} bytes answered: {}",
            refused.text.len(),
            &refused.text[..2000.min(refused.text.len())]
        );
    }
}

/// The example postal parcel (`examples/postal-parcel.json`) with its one article, class 2, at
/// `price` CNY.
fn postal_parcel(price: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(include_str!("../../../../examples/postal-parcel.json")).unwrap();
    body["postal_parcel"]["articles"][0]["unit_dutiable_price"] = json!(price);
    body
}

/// A parcel of personal articles lodged like any declaration: assessed at acceptance under the
/// postal regime (worked example 9: 300 CNY at 20 % pays 60.00), the trade's view shows the
/// regime and the tax; the estimate route gives the same; above the parcel's value limit both
/// refuse, naming the field in English and Chinese.
#[tokio::test]
async fn a_postal_parcel_is_lodged_assessed_under_the_postal_regime_and_estimated_alike() {
    let app = spawn_app_at(NOW).await;
    app.activate_sample_releases("2026-11-01").await;
    let lodged = app
        .post(
            "/v1/declarations",
            "broker",
            Some("parcel-1"),
            &postal_parcel("300.00"),
        )
        .await;
    assert_eq!(lodged.status, StatusCode::CREATED, "{}", lodged.text);
    assert_eq!(lodged.body["assessment"], "assessed");
    assert_eq!(lodged.body["amount_due"], "60.00");
    assert_eq!(lodged.body["regime"], "postal");
    let id = lodged.body["id"].as_str().unwrap();
    let record = &assessments(&app, id, "broker").await[0];
    assert_eq!(record["regime"], "postal", "{record:#}");
    assert_eq!(record["report"]["regime"]["code"], "postal_articles");
    assert_eq!(
        record["report"]["articles"][0]["taxes"][0]["payable"],
        "60.00"
    );
    assert_eq!(record["report"]["totals"][0]["exempt"], false);
    assert_eq!(record["total_payable"], "60.00");

    let estimate = app
        .post("/v1/estimates", "broker", None, &postal_parcel("300.00"))
        .await;
    assert_eq!(estimate.status, StatusCode::OK, "{}", estimate.text);
    assert_eq!(estimate.body["total_payable"], "60.00");
    assert_eq!(estimate.body["estimate"], true);
    let exempt = app
        .post("/v1/estimates", "broker", None, &postal_parcel("250.00"))
        .await;
    assert_eq!(exempt.body["total_payable"], "0.00", "{}", exempt.text);
    assert_eq!(exempt.body["totals"][0]["nominal"], "50.00");
    assert_eq!(exempt.body["totals"][0]["exempt"], true);

    for (path, key) in [
        ("/v1/declarations", Some("parcel-2")),
        ("/v1/estimates", None),
    ] {
        let refused = app
            .post(path, "broker", key, &postal_parcel("1000.01"))
            .await;
        refused.assert_problem(422);
        assert_eq!(
            refused.error_paths(),
            [(
                "postal_parcel.articles".to_owned(),
                "not_allowed".to_owned()
            )],
            "{path}"
        );
        let error = &refused.body["errors"][0];
        assert!(error["message_en"].as_str().unwrap().contains("1000.00"));
        assert!(error["message_zh"].as_str().unwrap().contains("限值"));
    }
}
