//! Bulk reassessment after a roll-back: every open import declaration assessed with the withdrawn
//! release is reassessed once, by the acting officer, with what is in force now.

use rust_decimal::Decimal;
use serde_json::Value;
use store::Store;

use crate::assessment_tests::{activate, admin, files, import, with_sample};
use crate::releases::ReleaseKind;
use crate::roll_back::{
    BulkReassessment, ROLL_BACK_FAILURES_LISTED_MAX, ROLL_BACK_PAGE, roll_back_key,
};
use crate::tests::{EXAMPLE, Fixture};
use crate::{ClearanceError, Role};

fn total(record: &Value) -> Decimal {
    record["total_payable"].as_str().unwrap().parse().unwrap()
}

/// The sample with a second tariff in force from 1 November 2026 that raises the duty on the
/// example's telephones from 0 % to 5 %, and `count` example declarations lodged under it.
pub(crate) async fn lodged_under_a_second_tariff(
    count: usize,
) -> (Fixture, String, String, Vec<String>) {
    let (f, first_tariff, _) = with_sample().await;
    let mut changed = files(ReleaseKind::Tariff);
    changed[1].text = changed[1]
        .text
        .replace("85171300,mfn,,ad_valorem,0,", "85171300,mfn,,ad_valorem,5,");
    let second_tariff = import(&f, ReleaseKind::Tariff, changed).await;
    activate(&f, &second_tariff, (2026, 11, 1)).await;
    let broker = f.caller("broker").await;
    let mut ids = Vec::new();
    for i in 0..count {
        let lodged = f
            .clearance
            .lodge(&broker, Some(&format!("k{i}")), EXAMPLE.as_bytes())
            .await
            .unwrap();
        ids.push(lodged.id);
    }
    (f, first_tariff, second_tariff, ids)
}

/// More than a page of open declarations: each is reassessed once with the tariff in force again,
/// recorded as the officer's, with a lower total; running the job again, or two at once, records
/// nothing more.
#[tokio::test]
async fn every_open_declaration_assessed_with_a_withdrawn_tariff_is_reassessed_once() {
    let count = ROLL_BACK_PAGE + 1;
    let (f, first_tariff, second_tariff, ids) = lodged_under_a_second_tariff(count).await;
    let officer = f.caller_with_role("worker-officer", Role::Officer).await;
    let before = f.clearance.assessment_records(&ids[0]).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["tariff_release"], second_tariff.as_str());

    // While the release is in force there is nothing to do, and the job says so.
    let refused = f
        .clearance
        .reassess_after_roll_back(&officer, &second_tariff, "test")
        .await;
    match refused {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "release"),
        other => panic!("{other:?}"),
    }

    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    // Two jobs at once (two workers, or a redelivery while the first runs).
    let (a, b) = tokio::join!(
        f.clearance
            .reassess_after_roll_back(&officer, &second_tariff, "chain 0 seq 9"),
        f.clearance
            .reassess_after_roll_back(&officer, &second_tariff, "chain 0 seq 9"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.reassessed + b.reassessed, count, "{a:?} {b:?}");
    assert_eq!((a.failed, b.failed), (0, 0), "{a:?} {b:?}");
    assert_eq!(a.kind, "tariff");
    for id in &ids {
        let records = f.clearance.assessment_records(id).await.unwrap();
        assert_eq!(records.len(), 2, "one reassessment of {id}");
        let last = &records[1];
        assert_eq!(last["basis"], "officer");
        assert_eq!(last["tariff_release"], first_tariff.as_str());
        assert!(total(last) < total(&records[0]), "{last:#}");
        assert!(
            last.to_string()
                .contains(&format!("release {second_tariff} rolled back")),
            "the reason names the withdrawn release: {last:#}"
        );
        let event = f
            .clearance
            .store
            .event_by_idempotency(officer.user_id(), &roll_back_key(&second_tariff, id))
            .await
            .unwrap()
            .expect("recorded under the job's key, as the officer");
        assert_eq!(event.subject, *id);
    }

    // Again: every declaration's latest assessment uses the tariff in force, nothing is recorded.
    let again = f
        .clearance
        .reassess_after_roll_back(&officer, &second_tariff, "redelivered")
        .await
        .unwrap();
    assert_eq!((again.examined, again.reassessed), (count, 0), "{again:?}");
}

/// The trade cannot run the job; a withdrawn value-control table enters no assessment and is not
/// looked for; an unknown release is named.
#[tokio::test]
async fn only_customs_may_reassess_and_only_assessment_releases_are_examined() {
    let (f, _, second_tariff, _) = lodged_under_a_second_tariff(1).await;
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::Tariff, "wrong rate")
        .await
        .unwrap();
    let broker = f.caller("broker").await;
    assert!(matches!(
        f.clearance
            .reassess_after_roll_back(&broker, &second_tariff, "x")
            .await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let officer = f.caller_with_role("worker-officer", Role::Officer).await;
    match f
        .clearance
        .reassess_after_roll_back(&officer, "TR-9999", "x")
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "release");
            assert!(errors[0].message_en.contains("TR-9999"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
    let table = store::ReleaseFileRow {
        name: "value_control.csv".into(),
        text: "code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to\n\
               851713,,C62,5000,,2026-01-01,\n"
            .into(),
    };
    let value_control = import(&f, ReleaseKind::ValueControl, vec![table]).await;
    activate(&f, &value_control, (2026, 11, 1)).await;
    f.clearance
        .roll_back_release(&admin(), ReleaseKind::ValueControl, "wrong minimum")
        .await
        .unwrap();
    let report = f
        .clearance
        .reassess_after_roll_back(&officer, &value_control, "x")
        .await
        .unwrap();
    assert_eq!((report.examined, report.reassessed), (0, 0), "{report:?}");
}

/// A job's report counts every failure and names the first ROLL_BACK_FAILURES_LISTED_MAX.
#[test]
fn the_report_names_failures_up_to_its_limit_and_counts_them_all() {
    let mut report = BulkReassessment::default();
    for i in 0..=ROLL_BACK_FAILURES_LISTED_MAX {
        report.note_failure(&format!("n{i}"), &ClearanceError::NotFound);
        let listed = (i + 1).min(ROLL_BACK_FAILURES_LISTED_MAX);
        assert_eq!((report.failed, report.failures.len()), (i + 1, listed));
    }
    assert_eq!(report.failures[0].0, "n0");
}
