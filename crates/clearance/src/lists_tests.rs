//! The lists targeting consults, in the service: an analyst's watch-list entry selects the
//! declarations naming the party until it is removed; a value-control release, activated like a
//! tariff, selects an item whose customs value per unit is below its minimum.

use chrono::NaiveDate;
use serde_json::{Value, json};
use store::{Actor, ReleaseFileRow};

use crate::releases::{NewRelease, ReleaseKind};
use crate::tests::{EXAMPLE, Fixture, beijing, fixture};
use crate::{Caller, ClearanceError, Role};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tariff/sample_release_cn_2026"
);

async fn user(f: &Fixture, name: &str, role: Role) -> Caller {
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    f.clearance
        .create_user(&admin, name, role, None)
        .await
        .unwrap();
    f.caller(name).await
}

fn reasons_of(selection: &Value, kind: &str) -> Vec<Value> {
    selection["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"]["kind"] == kind)
        .cloned()
        .collect()
}

async fn selection_of_a_lodging(f: &Fixture, key: &str) -> Value {
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some(key), EXAMPLE.as_bytes())
        .await
        .unwrap();
    f.clearance
        .selection(&officer, &lodged.number)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_watch_list_entry_selects_the_declarations_naming_the_party_until_removed() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let analyst = user(&f, "analyst-wang", Role::RiskAnalyst).await;
    let second = user(&f, "analyst-zhao", Role::RiskAnalyst).await;
    let officer = f.caller("officer").await;
    let broker = f.caller("broker").await;
    let entry = json!({
        "kind": "seller",
        "value": "  pacific electronics   INC. ",
        "reason_en": "undervalued invoices found twice in 2026",
        "reason_zh": "2026年两次查获低报发票",
        "action": "document_check",
        "valid_from": "2026-01-01",
    })
    .to_string();

    // Only analysts write the list; customs roles read it, the trade does not.
    for caller in [&officer, &broker] {
        let refused = f.clearance.add_watch_entry(caller, entry.as_bytes()).await;
        assert!(
            matches!(refused, Err(ClearanceError::Forbidden { .. })),
            "{refused:?}"
        );
    }
    assert!(matches!(
        f.clearance.watch_entries(&broker).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let refused = f
        .clearance
        .add_watch_entry(
            &analyst,
            br#"{"kind":"buyer","value":"x","reason_en":"x","reason_zh":"x","action":"look"}"#,
        )
        .await;
    let Err(ClearanceError::Invalid(errors)) = refused else {
        panic!("{refused:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["kind", "action"]);

    let added = f
        .clearance
        .add_watch_entry(&analyst, entry.as_bytes())
        .await
        .unwrap();
    assert_eq!(added["id"], "W-000001");
    assert_eq!(added["status"], "proposed");
    assert_eq!(added["value"], "pacific electronics   INC.");

    // Four eyes: a proposal does not act; its author cannot approve it; another analyst does.
    let selection = selection_of_a_lodging(&f, "d0").await;
    assert!(
        reasons_of(&selection, "watch_list").is_empty(),
        "a proposal selected: {selection:#}"
    );
    assert!(matches!(
        f.clearance.approve_watch_entry(&analyst, "W-000001").await,
        Err(ClearanceError::Forbidden { .. })
    ));
    assert!(matches!(
        f.clearance.approve_watch_entry(&officer, "W-000001").await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let approved = f
        .clearance
        .approve_watch_entry(&second, "W-000001")
        .await
        .unwrap();
    assert_eq!(approved["status"], "listed");
    assert_eq!(approved["approved_by"], second.user_id());
    // Nothing more awaits approval.
    assert!(matches!(
        f.clearance.approve_watch_entry(&second, "W-000001").await,
        Err(ClearanceError::Invalid(_))
    ));

    // The example names the seller "Pacific Electronics Inc.": case and spaces do not matter.
    let selection = selection_of_a_lodging(&f, "d1").await;
    let hits = reasons_of(&selection, "watch_list");
    assert_eq!(hits.len(), 1, "{selection:#}");
    assert_eq!(hits[0]["source"]["entity"], "seller");
    assert_eq!(hits[0]["source"]["value"], "Pacific Electronics Inc.");
    assert_eq!(hits[0]["action"], "document_check");
    assert_eq!(hits[0]["selected"], true);
    assert!(
        hits[0]["zh"]
            .as_str()
            .unwrap()
            .contains("2026年两次查获低报发票"),
        "{hits:#?}"
    );
    assert_ne!(selection["lane"], "green");

    // Taking it off is four eyes too: requested, it still acts; the requester cannot approve
    // the removal; another analyst does (an event; the entry is kept): no more hits. Requesting
    // twice, removing twice, or an unknown entry, is refused.
    let requested = f
        .clearance
        .remove_watch_entry(&second, "W-000001", "measure ended")
        .await
        .unwrap();
    assert_eq!(requested["status"], "removal_requested");
    let selection = selection_of_a_lodging(&f, "d1b").await;
    assert_eq!(
        reasons_of(&selection, "watch_list").len(),
        1,
        "{selection:#}"
    );
    let again = f
        .clearance
        .remove_watch_entry(&analyst, "W-000001", "again")
        .await;
    assert!(
        matches!(again, Err(ClearanceError::Invalid(_))),
        "{again:?}"
    );
    assert!(matches!(
        f.clearance.approve_watch_entry(&second, "W-000001").await,
        Err(ClearanceError::Forbidden { .. })
    ));
    let removed = f
        .clearance
        .approve_watch_entry(&analyst, "W-000001")
        .await
        .unwrap();
    assert_eq!(removed["status"], "removed");
    assert_eq!(removed["removed_by"], analyst.user_id());
    let again = f
        .clearance
        .remove_watch_entry(&analyst, "W-000001", "again")
        .await;
    assert!(
        matches!(again, Err(ClearanceError::Invalid(_))),
        "{again:?}"
    );
    let unknown = f
        .clearance
        .remove_watch_entry(&analyst, "W-000009", "no such")
        .await;
    assert!(
        matches!(unknown, Err(ClearanceError::NotFound)),
        "{unknown:?}"
    );
    let selection = selection_of_a_lodging(&f, "d2").await;
    assert!(
        reasons_of(&selection, "watch_list").is_empty(),
        "{selection:#}"
    );
    let listed = f.clearance.watch_entries(&officer).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["removed_seq"].is_u64());

    // A proposal never approved is withdrawn at once by any analyst: it never acted.
    let proposed = f
        .clearance
        .add_watch_entry(&analyst, entry.as_bytes())
        .await
        .unwrap();
    let withdrawn = f
        .clearance
        .remove_watch_entry(&analyst, proposed["id"].as_str().unwrap(), "not needed")
        .await
        .unwrap();
    assert_eq!(withdrawn["status"], "removed");
    assert_eq!(withdrawn["approved_seq"], Value::Null);
}

fn files(kind: ReleaseKind) -> Vec<ReleaseFileRow> {
    kind.files()
        .iter()
        .map(|name| ReleaseFileRow {
            name: (*name).to_owned(),
            text: std::fs::read_to_string(format!("{SAMPLE}/{name}")).unwrap(),
        })
        .collect()
}

async fn import_and_activate(
    f: &Fixture,
    admin: &Caller,
    kind: ReleaseKind,
    files: Vec<ReleaseFileRow>,
) -> String {
    let imported = f
        .clearance
        .import_release(
            admin,
            NewRelease {
                kind,
                label: format!("sample {}", kind.as_str()),
                files,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let id = imported["id"].as_str().unwrap().to_owned();
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    f.clearance
        .activate_release(admin, &id, from)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_value_control_release_selects_an_item_below_its_minimum_unit_value() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = user(&f, "admin-li", Role::Admin).await;
    import_and_activate(&f, &admin, ReleaseKind::Tariff, files(ReleaseKind::Tariff)).await;
    import_and_activate(
        &f,
        &admin,
        ReleaseKind::ExchangeRates,
        files(ReleaseKind::ExchangeRates),
    )
    .await;

    // A broken table is refused with every problem at its file, line and column.
    let broken = f
        .clearance
        .import_release(
            &admin,
            NewRelease {
                kind: ReleaseKind::ValueControl,
                label: "broken".into(),
                files: vec![ReleaseFileRow {
                    name: "value_control.csv".into(),
                    text: "code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to\n\
                           85,usa,C62,,,2026-01-01,\n"
                        .into(),
                }],
            },
        )
        .await;
    let Err(ClearanceError::Invalid(errors)) = broken else {
        panic!("{broken:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["value_control.csv:2.origin"]);

    // Smartphones at USD 200 each are some 1,450 CNY of customs value per C62: below 5,000.
    let table = ReleaseFileRow {
        name: "value_control.csv".into(),
        text: "# smartphones\n\
               code_prefix,origin,unit,min_unit_value_cny,max_unit_value_cny,valid_from,valid_to\n\
               851713,,C62,5000,,2026-01-01,\n\
               847130,MY,,10,,2026-01-01,\n"
            .into(),
    };
    let id = import_and_activate(&f, &admin, ReleaseKind::ValueControl, vec![table]).await;
    assert!(id.starts_with("VC-"), "{id}");
    let listed = f
        .clearance
        .releases(&admin, ReleaseKind::ValueControl)
        .await
        .unwrap();
    assert_eq!(listed[0]["summary"], json!({ "rows": 2 }));

    let selection = selection_of_a_lodging(&f, "d1").await;
    let controlled = reasons_of(&selection, "value_control");
    assert_eq!(controlled.len(), 1, "{selection:#}");
    assert_eq!(controlled[0]["source"]["item"], 0);
    assert_eq!(controlled[0]["source"]["unit"], "C62");
    assert_eq!(controlled[0]["source"]["min_unit_value_cny"], "5000");
    let unit_value: f64 = controlled[0]["source"]["unit_value_cny"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1_400.0..1_500.0).contains(&unit_value), "{unit_value}");

    // Rolled back like any release: nothing is controlled any more.
    f.clearance
        .roll_back_release(&admin, ReleaseKind::ValueControl, "wrong minimum")
        .await
        .unwrap();
    let selection = selection_of_a_lodging(&f, "d2").await;
    assert!(
        reasons_of(&selection, "value_control").is_empty(),
        "{selection:#}"
    );
}
