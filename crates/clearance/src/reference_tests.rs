//! National code lists as releases, on the real SQLite store: a declaration naming customs
//! office 9999 is refused by field until a release adding the office is in force on its
//! lodging date, and again once that release is rolled back; the dry run names what changes; the
//! code pickers and `reference_list` follow the release in force; every step is in the chain.

use chrono::NaiveDate;
use reference::{CodeListKind, ReferenceData};
use serde_json::Value;
use store::{ReleaseFileRow, Store};

use crate::reference_releases::{REFERENCE_PAGE_SIZE_MAX, ReferenceList};
use crate::releases::{NewRelease, ReleaseKind};
use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

fn with_office(office: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(EXAMPLE).unwrap();
    body["office_of_lodging"] = office.into();
    serde_json::to_vec(&body).unwrap()
}

/// The sample's offices and office 9999, as an administrator would export and extend them.
fn offices_with_9999() -> ReleaseFileRow {
    let sample = ReferenceData::embedded()
        .list_in_force(CodeListKind::CustomsOffice, date(2026, 11, 26))
        .unwrap();
    let mut text = reference::render_code_list_csv(sample);
    text.push_str("9999,Test Customs,测试海关\n");
    ReleaseFileRow {
        name: "customs_office.csv".into(),
        text,
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Lodges the example at office 9999 and checks it is refused naming that field.
async fn office_9999_is_refused(f: &Fixture, broker: &Caller) {
    let error = f
        .clearance
        .lodge(broker, None, &with_office("9999"))
        .await
        .unwrap_err();
    assert_eq!(
        refused_paths(error),
        [("office_of_lodging".to_owned(), "unknown_code".to_owned())]
    );
}

fn refused_paths(error: ClearanceError) -> Vec<(String, String)> {
    match error {
        ClearanceError::Invalid(errors) => errors
            .into_iter()
            .map(|e| (e.path, e.code.as_str().to_owned()))
            .collect(),
        other => panic!("expected a refusal by field, got {other:?}"),
    }
}

#[tokio::test]
async fn office_9999_is_accepted_from_the_day_its_release_is_in_force_until_rolled_back() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = f.caller_with_role("registrar", Role::Admin).await;
    let broker = f.caller("broker").await;

    // Without any import the SAMPLE profile is in force: 9999 is not an office.
    office_9999_is_refused(&f, &broker).await;
    let before = f
        .clearance
        .reference_list(&broker, "customs_office", None, None, None)
        .await
        .unwrap();
    assert_eq!(before["release"], "cn-sample-2026");

    let kind = ReleaseKind::Reference(ReferenceList::CustomsOffice);
    let release = f
        .clearance
        .import_release(
            &admin,
            NewRelease {
                kind,
                label: "offices 2026-12".into(),
                files: vec![offices_with_9999()],
            },
        )
        .await
        .unwrap();
    let id = release["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "RCO-0001");
    assert_eq!(release["summary"]["codes"], 42);

    // The dry run names the one code added, nothing removed or renamed.
    let report = f.clearance.dry_run(&admin, &id, 10).await.unwrap();
    assert_eq!(report["compared_with"], "cn-sample-2026");
    assert_eq!(report["added"][0]["code"], "9999");
    assert_eq!(report["added"][0]["name_zh"], "测试海关");
    assert_eq!(report["added"].as_array().unwrap().len(), 1);
    assert_eq!(report["removed"], serde_json::json!([]));
    assert_eq!(report["renamed"], serde_json::json!([]));

    // Imported is not in force; activated from 1 December it is not in force on 26 November.
    office_9999_is_refused(&f, &broker).await;
    f.clearance
        .activate_release(&admin, &id, date(2026, 12, 1))
        .await
        .unwrap();
    office_9999_is_refused(&f, &broker).await;

    // From 1 December it is accepted, offered by the code picker and served to clients.
    f.advance(chrono::Duration::days(5));
    let accepted = f
        .clearance
        .lodge(&broker, None, &with_office("9999"))
        .await
        .unwrap();
    assert_eq!(accepted.status, "accepted");
    let found = f
        .clearance
        .search_codes("customs_office", "9999", 5)
        .await
        .unwrap();
    assert_eq!(found[0].name_zh, "测试海关");
    let served = f
        .clearance
        .reference_list(&broker, "customs_office", None, None, None)
        .await
        .unwrap();
    assert_eq!(
        (
            &served["release"],
            &served["effective_from"],
            &served["total"]
        ),
        (&"RCO-0001".into(), &"2026-12-01".into(), &42.into())
    );
    let on_26th = f
        .clearance
        .reference_list(
            &broker,
            "customs_office",
            Some(date(2026, 11, 26)),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(on_26th["release"], "cn-sample-2026");

    // Rolled back: refused again; the declaration accepted meanwhile still reads and cancels.
    f.clearance
        .roll_back_release(&admin, kind, "office 9999 opens next year")
        .await
        .unwrap();
    office_9999_is_refused(&f, &broker).await;
    assert!(
        f.clearance
            .search_codes("customs_office", "9999", 5)
            .await
            .unwrap()
            .is_empty()
    );
    f.clearance
        .cancel(
            &broker,
            &accepted.id,
            None,
            br#"{"reason": "lodged at the wrong office"}"#,
        )
        .await
        .unwrap();

    // Each step is an event of the audit chain with its idempotency key.
    let events = f
        .clearance
        .store()
        .events(&format!("release:{id}"))
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "release.imported",
            "release.activated",
            "release.rolled_back"
        ]
    );
    assert!(events.iter().all(|e| !e.idempotency_key.is_empty()));
}

#[tokio::test]
async fn a_bad_code_list_is_refused_naming_file_line_and_column_in_both_languages() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = f.caller_with_role("registrar", Role::Admin).await;
    let text = "code,name_en,name_zh,valid_from\n9999,Test,测试海关,\n9998,Other,,2027-13-01\n9999,Again,,\n9997,,,\n";
    let error = f
        .clearance
        .import_release(
            &admin,
            NewRelease {
                kind: ReleaseKind::Reference(ReferenceList::CustomsOffice),
                label: "broken".into(),
                files: vec![ReleaseFileRow {
                    name: "customs_office.csv".into(),
                    text: text.into(),
                }],
            },
        )
        .await
        .unwrap_err();
    let ClearanceError::Invalid(errors) = error else {
        panic!("a refusal by field");
    };
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.message_zh.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "customs_office.csv:3.valid_from",
                "`valid_from` 的值 `2027-13-01` 无效：应为 YYYY-MM-DD 格式的日期"
            ),
            ("customs_office.csv:4.code", "代码 `9999` 已在第 2 行定义"),
            ("customs_office.csv:5.name_en", "`name_en` 为空"),
        ]
    );
    assert_eq!(
        errors[0].message_en,
        "`valid_from` value `2027-13-01` is invalid: expected a date as YYYY-MM-DD"
    );
    // A file of another list is named, not guessed.
    let error = f
        .clearance
        .import_release(
            &admin,
            NewRelease {
                kind: ReleaseKind::Reference(ReferenceList::LevyMode),
                label: "wrong file".into(),
                files: vec![offices_with_9999()],
            },
        )
        .await
        .unwrap_err();
    let paths: Vec<String> = refused_paths(error).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["files[levy_mode.csv]", "files[customs_office.csv]"]);
}

#[tokio::test]
async fn reference_lists_are_paged_within_their_limit() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let list = |page, size| {
        f.clearance
            .reference_list(&broker, "customs_office", None, page, size)
    };
    let page = list(Some(2), Some(40)).await.unwrap();
    assert_eq!(page["total"], 41);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    assert!(list(None, Some(REFERENCE_PAGE_SIZE_MAX)).await.is_ok());
    let over = list(None, Some(REFERENCE_PAGE_SIZE_MAX + 1))
        .await
        .unwrap_err();
    assert_eq!(
        refused_paths(over),
        [("size".to_owned(), "out_of_range".to_owned())]
    );
    let zero = list(Some(0), None).await.unwrap_err();
    assert_eq!(
        refused_paths(zero),
        [("page".to_owned(), "out_of_range".to_owned())]
    );
    let unknown = f
        .clearance
        .reference_list(&broker, "customs_offices", None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(unknown, ClearanceError::NotFound));
    let hints = f
        .clearance
        .reference_list(&broker, "statutory_unit", None, None, Some(5))
        .await
        .unwrap();
    assert_eq!(hints["entries"].as_array().unwrap().len(), 5);
    assert_eq!(hints["release"], "cn-sample-2026");
}
