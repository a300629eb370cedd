//! The roll-back → bulk reassessment story: a wrong exchange-rate table and a wrong tariff are
//! withdrawn, the declarations assessed with them listed, reassessed in a dry run, then applied;
//! the trade is told what it owes more or is owed back. Amounts derived by hand from
//! /work/shared/rules/china-import-taxes.md (§1 CIF with 3‰ insurance, §2.6 half-up rounding
//! to the fen: value, then duty, then VAT on value + duty), for examples/declaration-import.json
//! accepted on 26 November 2026:
//!
//! | item | FOB USD | freight share | insurance 3‰ | CIF USD |
//! |------|---------|---------------|--------------|---------|
//! | phones (8517.13) | 8,000.00 | 400.00 | 25.20 | 8,425.20 |
//! | laptops (8471.30) | 2,000.00 | 100.00 | 6.30 | 2,106.30 |
//!
//! - wrong: USD 6.0163 and 5 % duty on phones: 50,688.53 + 12,672.13 CNY; duty 2,534.43;
//!   VAT (50,688.53 + 2,534.43) × 13 % = 6,918.98 and 12,672.13 × 13 % = 1,647.38:
//!   total **11,100.79**.
//! - rates rolled back (USD 7.0163), duty still 5 %: 59,113.73 + 14,778.43; duty 2,955.69;
//!   VAT 8,069.02 + 1,921.20: total **12,945.91** → pay more **1,845.12**.
//! - tariff rolled back too (0 %): VAT 7,684.78 + 1,921.20: total **9,605.98** → refund
//!   **3,339.93** (12,945.91 − 9,605.98).

use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::Store;

use crate::assessment_tests::{activate, admin, files, import, with_sample};
use crate::bulk_reassessment::{
    BULK_JOBS_SUBJECT, BULK_REASSESSMENT_DECLARATIONS_MAX, BULK_STARTED_ACTION,
};
use crate::releases::ReleaseKind;
use crate::roll_back_tests::lodged_under_a_second_tariff;
use crate::tests::EXAMPLE;
use crate::{ClearanceError, Role};

fn money(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value}"))
        .parse()
        .unwrap()
}

fn receipts(answer: wire::EventsAnswer) -> Vec<wire::TradeReceiptView> {
    match answer {
        wire::EventsAnswer::Trade(page) => page.receipts,
        other => panic!("the trade sees receipts: {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_rate_table_and_a_wrong_tariff_rolled_back_are_reassessed_in_bulk() {
    let (f, _, _) = with_sample().await;
    // The wrong releases, in force from 1 November: USD a whole yuan too low, and 5 % duty on
    // smartphones instead of 0 %.
    let mut tariff = files(ReleaseKind::Tariff);
    tariff[1].text = tariff[1]
        .text
        .replace("85171300,mfn,,ad_valorem,0,", "85171300,mfn,,ad_valorem,5,");
    let wrong_tariff = import(&f, ReleaseKind::Tariff, tariff).await;
    activate(&f, &wrong_tariff, (2026, 11, 1)).await;
    let wrong_rates = import(
        &f,
        ReleaseKind::ExchangeRates,
        vec![store::ReleaseFileRow {
            name: "exchange_rates.csv".into(),
            text: "currency,month,rate\nUSD,2026-11,6.0163\n".into(),
        }],
    )
    .await;
    activate(&f, &wrong_rates, (2026, 11, 1)).await;

    let broker = f.caller("broker").await;
    let officer = f.caller_with_role("bulk-officer", Role::Officer).await;
    let unpaid = f
        .clearance
        .lodge(&broker, Some("a"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let paid = f
        .clearance
        .lodge(&broker, Some("b"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    for lodged in [&unpaid, &paid] {
        let records = f.clearance.assessment_records(&lodged.id).await.unwrap();
        assert_eq!(
            money(&records[0]["total_payable"]),
            "11100.79".parse().unwrap()
        );
    }

    // Nothing is reassessed while the table is in force: the job says to roll it back first.
    match f
        .clearance
        .bulk_reassess(&officer, Some("early"), &wrong_rates, false)
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "release");
            assert!(errors[0].message_zh.contains("未被撤回"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }

    // 1. The rate table is rolled back; both declarations are listed as assessed with it.
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::ExchangeRates, "USD a yuan too low")
        .await
        .unwrap();
    let affected = f
        .clearance
        .declarations_assessed_with(&officer, &wrong_rates)
        .await
        .unwrap();
    let mut listed: Vec<&str> = affected
        .declarations
        .iter()
        .map(|d| d.number.as_str())
        .collect();
    listed.sort();
    let mut expected = vec![unpaid.number.as_str(), paid.number.as_str()];
    expected.sort();
    assert_eq!(listed, expected, "{affected:?}");
    assert!(!affected.more);

    // 2. Dry run: the difference, nothing written.
    let dry = f
        .clearance
        .bulk_reassess(&officer, Some("rates-dry"), &wrong_rates, false)
        .await
        .unwrap();
    assert_eq!(dry["mode"], "dry_run");
    assert_eq!(dry["totals"]["changed"], 2, "{dry:#}");
    assert_eq!(
        dry["totals"]["pay_more_total"], "3690.24",
        "2 × 1,845.12: {dry:#}"
    );
    assert_eq!(dry["totals"]["refund_total"], "0.00");
    for line in dry["lines"].as_array().unwrap() {
        assert_eq!(line["outcome"], "pay_more");
        assert_eq!(line["difference"], "1845.12");
        assert_eq!(line["total_payable"], "12945.91");
        assert_eq!(line["previous_total"], "11100.79");
    }
    assert_eq!(
        f.clearance
            .assessment_records(&unpaid.id)
            .await
            .unwrap()
            .len(),
        1,
        "a dry run writes nothing to a declaration"
    );

    // 3. Applied: each difference recorded once, as the officer's reassessment.
    let applied = f
        .clearance
        .bulk_reassess(&officer, Some("rates-apply"), &wrong_rates, true)
        .await
        .unwrap();
    assert_eq!(applied["totals"], dry["totals"], "{applied:#}");
    let records = f.clearance.assessment_records(&unpaid.id).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["basis"], "officer");
    assert_eq!(records[1]["difference"]["total"], "1845.12");
    // The same job again answers with its record; a new job finds nothing left to do.
    let again = f
        .clearance
        .bulk_reassess(&officer, Some("rates-apply"), &wrong_rates, true)
        .await
        .unwrap();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["totals"], applied["totals"]);
    let later = f
        .clearance
        .bulk_reassess(&officer, Some("rates-apply-2"), &wrong_rates, true)
        .await
        .unwrap();
    assert_eq!(later["totals"]["processed"], 0, "{later:#}");
    assert_eq!(
        f.clearance
            .assessment_records(&unpaid.id)
            .await
            .unwrap()
            .len(),
        2
    );
    // The key names one job: another release or mode under it is refused.
    assert!(matches!(
        f.clearance
            .bulk_reassess(&officer, Some("rates-apply"), &wrong_rates, false)
            .await,
        Err(ClearanceError::IdempotencyKeyReused)
    ));

    // 4. The trade is told to pay more, and the goods wait for it.
    let told = receipts(f.clearance.events(&broker, &unpaid.number).await.unwrap());
    let last = told.iter().rfind(|r| r.receipt == "assessed").unwrap();
    assert_eq!(last.amount.as_deref(), Some("12945.91"));
    assert_eq!(last.difference.as_deref(), Some("1845.12"));
    assert_eq!(last.settlement.as_deref(), Some("pay_more"));
    let owed = f.clearance.payments(&broker, &unpaid.number).await.unwrap();
    assert_eq!(owed["outstanding"], "12945.91");
    match f
        .clearance
        .release(&officer, &unpaid.number, Some("rel"), b"{}")
        .await
    {
        Err(ClearanceError::Transition(t)) => assert_eq!(t.code, "unpaid"),
        other => panic!("{other:?}"),
    }

    // The second declaration is paid in full at 12,945.91.
    crate::story::register_bank(&f).await;
    let settled = crate::story::pay_in_full(&f, &broker, &paid.number, "BOC-BULK-1").await;
    assert_eq!(settled["outstanding"], "0.00");

    // 5. The tariff is rolled back too: a refund of 3,339.93 on each; the paid one is owed it.
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "5 % on phones was wrong")
        .await
        .unwrap();
    let refund = f
        .clearance
        .bulk_reassess(&officer, Some("tariff-apply"), &wrong_tariff, true)
        .await
        .unwrap();
    assert_eq!(refund["totals"]["changed"], 2, "{refund:#}");
    assert_eq!(refund["totals"]["refund_total"], "6679.86", "{refund:#}");
    assert_eq!(refund["totals"]["pay_more_total"], "0.00");
    assert_eq!(
        refund["totals"]["refund_due_total"], "3339.93",
        "{refund:#}"
    );
    let told = receipts(f.clearance.events(&broker, &paid.number).await.unwrap());
    let last = told.iter().rfind(|r| r.receipt == "assessed").unwrap();
    assert_eq!(last.amount.as_deref(), Some("9605.98"));
    assert_eq!(last.difference.as_deref(), Some("-3339.93"));
    assert_eq!(last.settlement.as_deref(), Some("refund"));
    let owed = f.clearance.payments(&broker, &paid.number).await.unwrap();
    assert_eq!(owed["refund_due"], "3339.93", "{owed:#}");
    assert_eq!(owed["outstanding"], "0.00");
    let owed = f.clearance.payments(&broker, &unpaid.number).await.unwrap();
    assert_eq!(
        owed["refund_due"], "0.00",
        "nothing paid, nothing refunded: {owed:#}"
    );
    assert_eq!(owed["outstanding"], "9605.98");

    // 6. The officers' list of jobs, most recent first, with totals; the trade cannot see it.
    let jobs = f.clearance.bulk_reassessments(&officer).await.unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j["job"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["tariff-apply", "rates-apply-2", "rates-apply", "rates-dry"]
    );
    assert!(jobs.iter().all(|j| j["state"] == "finished"), "{jobs:#?}");
    assert_eq!(jobs[2]["totals"]["pay_more_total"], "3690.24");
    assert!(matches!(
        f.clearance.bulk_reassessments(&broker).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    // One job with its differences, per declaration: what the console's job page shows.
    let started_by = jobs[0]["started_by"].as_str().unwrap().to_owned();
    let one = f
        .clearance
        .bulk_reassessment(&officer, &started_by, "tariff-apply")
        .await
        .unwrap();
    assert_eq!(one["totals"], refund["totals"], "{one:#}");
    let lines: Vec<(&Value, &Value)> = one["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (&l["outcome"], &l["difference"]))
        .collect();
    assert_eq!(
        lines,
        [
            (&json!("refund"), &json!("-3339.93")),
            (&json!("refund"), &json!("-3339.93"))
        ],
        "{one:#}"
    );
    assert_eq!(one["lines"], refund["lines"]);
    assert!(matches!(
        f.clearance
            .bulk_reassessment(&officer, "someone-else", "tariff-apply")
            .await,
        Err(ClearanceError::NotFound)
    ));
    assert!(matches!(
        f.clearance
            .bulk_reassessment(&broker, &started_by, "tariff-apply")
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    assert!(matches!(
        f.clearance
            .bulk_reassess(&broker, None, &wrong_tariff, false)
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    // Every job is in the audit chain.
    let chained = f.clearance.store.events(BULK_JOBS_SUBJECT).await.unwrap();
    assert_eq!(
        chained
            .iter()
            .filter(|e| e.action == BULK_STARTED_ACTION)
            .count(),
        4
    );
}

/// A job takes at most BULK_REASSESSMENT_DECLARATIONS_MAX declarations; one more is left for the
/// next job, which the list still shows.
#[tokio::test]
async fn a_job_takes_at_most_its_limit_and_the_next_job_the_rest() {
    let count = BULK_REASSESSMENT_DECLARATIONS_MAX + 1;
    let (f, _, second_tariff, _) = lodged_under_a_second_tariff(count).await;
    let officer = f.caller_with_role("bulk-officer", Role::Officer).await;
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    let listed = f
        .clearance
        .declarations_assessed_with(&officer, &second_tariff)
        .await
        .unwrap();
    assert_eq!(
        listed.declarations.len(),
        BULK_REASSESSMENT_DECLARATIONS_MAX
    );
    assert!(listed.more);
    let first = f
        .clearance
        .bulk_reassess(&officer, Some("first"), &second_tariff, true)
        .await
        .unwrap();
    assert_eq!(first["declarations"], BULK_REASSESSMENT_DECLARATIONS_MAX);
    assert_eq!(first["more"], true);
    assert_eq!(
        first["totals"]["changed"],
        BULK_REASSESSMENT_DECLARATIONS_MAX
    );
    // Progress was recorded along the way (what a resumed job and the list read).
    let progress = f
        .clearance
        .store
        .events(BULK_JOBS_SUBJECT)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == crate::bulk_reassessment::BULK_PROGRESS_ACTION)
        .count();
    assert_eq!(
        progress,
        (BULK_REASSESSMENT_DECLARATIONS_MAX - 1) / crate::bulk_reassessment::BULK_PROGRESS_EVERY
    );
    let rest = f
        .clearance
        .declarations_assessed_with(&officer, &second_tariff)
        .await
        .unwrap();
    assert_eq!((rest.declarations.len(), rest.more), (1, false));
    let second = f
        .clearance
        .bulk_reassess(&officer, Some("second"), &second_tariff, true)
        .await
        .unwrap();
    assert_eq!(second["totals"]["changed"], 1);
    assert_eq!(second["more"], false);
}

/// `customs rates dry-run`: an exchange-rate table not yet in force, laid over the tables in
/// force, re-assesses recent declarations. The example at USD 6.0163 instead of 7.0163 (duty 0 %):
/// VAT 50,688.53 × 13 % = 6,589.51 and 12,672.13 × 13 % = 1,647.38, 8,236.89 against 9,605.98
/// now: −1,369.09.
#[tokio::test]
async fn a_rate_table_dry_run_reassesses_recent_declarations_under_it() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    f.clearance
        .lodge(&broker, Some("a"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let candidate = import(
        &f,
        ReleaseKind::ExchangeRates,
        vec![store::ReleaseFileRow {
            name: "exchange_rates.csv".into(),
            text: "currency,month,rate\nUSD,2026-11,6.0163\n".into(),
        }],
    )
    .await;
    let report = f.clearance.dry_run(&admin(), &candidate, 10).await.unwrap();
    assert_eq!(report["declarations_compared"], 1, "{report:#}");
    assert_eq!(report["changed"], 1, "{report:#}");
    assert_eq!(report["total_difference"], "-1369.09", "{report:#}");
    assert_eq!(report["changes"][0]["total_payable_now"], "9605.98");
    assert_eq!(report["changes"][0]["total_payable_candidate"], "8236.89");
    // Nothing was written: the declaration keeps its one assessment.
    let page = f
        .clearance
        .store
        .list_declarations(&store::DeclarationQuery {
            limit: 1,
            ..store::DeclarationQuery::default()
        })
        .await
        .unwrap();
    let records = f
        .clearance
        .assessment_records(&page[0].row.id)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
}

/// A declaration whose items are: the example's smartphones, and a recorder of `unit`.
fn with_a_recorder(unit: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["items"][1] = serde_json::json!({
        "commodity_code": "8521101100",
        "description": "Broadcast-quality video tape recorders",
        "quantity": { "value": "2", "unit": unit },
        "statutory_quantities": [{ "value": "2", "unit": unit }],
        "unit_price": "1000.00",
        "amount": "2000.00",
        "origin_country": "JP",
        "levy_mode": "1"
    });
    body.to_string().into_bytes()
}

/// A line taxed per unit (8521.10.11: 3 % + 4,374 CNY per UNIT, the sample tariff) takes a
/// quantity declared in pieces (C62). By hand (rules §1, §2.6): the recorders' CIF is
/// 2,000 + 100 freight + 6.30 insurance = 2,106.30 USD × 7.0163 = 14,778.43 CNY; duty
/// 14,778.43 × 3 % + 2 × 4,374 = 443.3529 + 8,748 = 9,191.35; VAT (14,778.43 + 9,191.35) × 13 %
/// = 3,116.07. The phones: VAT 7,684.78. Total 9,191.35 + 3,116.07 + 7,684.78 = 19,992.20.
/// In kilograms the quantity cannot be converted, and the problem names the item's unit.
#[tokio::test]
async fn a_per_piece_rate_takes_pieces_and_names_the_item_whose_unit_it_cannot_use() {
    let (f, _, _) = with_sample().await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("c62"), &with_a_recorder("C62"))
        .await
        .unwrap();
    let records = f.clearance.assessment_records(&lodged.id).await.unwrap();
    assert_eq!(records[0]["outcome"], "assessed", "{:#}", records[0]);
    assert_eq!(records[0]["total_payable"], "19992.20", "{:#}", records[0]);

    let lodged = f
        .clearance
        .lodge(&broker, Some("kgm"), &with_a_recorder("KGM"))
        .await
        .unwrap();
    let records = f.clearance.assessment_records(&lodged.id).await.unwrap();
    assert_eq!(records[0]["outcome"], "not_assessed", "{:#}", records[0]);
    let problem = &records[0]["problems"][0];
    assert_eq!(problem["path"], "items[1].quantity.unit", "{problem:#}");
    let en = problem["en"].as_str().unwrap_or_default();
    assert!(
        en.contains("KGM") && en.contains("C62") && en.contains("UNIT"),
        "{problem:#}"
    );
    assert!(
        problem["zh"]
            .as_str()
            .unwrap_or_default()
            .contains("无法换算"),
        "{problem:#}"
    );
}

/// A job interrupted after its start and one reassessment is resumed by its key: it goes over the
/// same declarations, answers the one done with its record, does the other, and nothing is
/// recorded twice.
#[tokio::test]
async fn an_interrupted_job_resumed_by_its_key_records_nothing_twice() {
    let (f, _, second_tariff, ids) = lodged_under_a_second_tariff(2).await;
    let officer = f.caller_with_role("bulk-officer", Role::Officer).await;
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    let affected = f
        .clearance
        .declarations_assessed_with(&officer, &second_tariff)
        .await
        .unwrap();
    // What the interrupted run wrote: its start, and the first declaration's reassessment.
    let digest = crate::request_digest(
        "bulk-reassessment",
        format!("{second_tariff}\napply").as_bytes(),
    );
    let declarations: Vec<Value> = affected
        .declarations
        .iter()
        .map(|d| serde_json::json!({ "id": d.id, "number": d.number }))
        .collect();
    f.clearance
        .append_job_event(
            &officer,
            crate::Clearance::<store_sqlite::SqliteStore>::job_event_key("resumed", "started"),
            BULK_STARTED_ACTION,
            &serde_json::json!({
                "job": "resumed", "release": second_tariff, "kind": "tariff", "mode": "apply",
                "declarations": declarations, "released_not_reassessed": 0, "more": false,
            }),
            &digest,
        )
        .await
        .unwrap();
    let first = &affected.declarations[0].id;
    f.clearance
        .reassess(
            &officer,
            first,
            Some(&crate::roll_back::roll_back_key(&second_tariff, first)),
            "before the interruption",
        )
        .await
        .unwrap();
    let listed = f.clearance.bulk_reassessments(&officer).await.unwrap();
    assert_eq!(listed[0]["state"], "started", "{listed:#?}");
    assert_eq!(listed[0]["declarations"], 2);

    let resumed = f
        .clearance
        .bulk_reassess(&officer, Some("resumed"), &second_tariff, true)
        .await
        .unwrap();
    assert_eq!(resumed["totals"]["processed"], 2, "{resumed:#}");
    assert_eq!(resumed["totals"]["changed"], 2, "{resumed:#}");
    for id in &ids {
        let records = f.clearance.assessment_records(id).await.unwrap();
        assert_eq!(records.len(), 2, "one reassessment of {id}");
    }
    let listed = f.clearance.bulk_reassessments(&officer).await.unwrap();
    assert_eq!(listed[0]["state"], "finished", "{listed:#?}");
}
