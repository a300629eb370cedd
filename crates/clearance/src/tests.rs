//! Service-level tests on the real SQLite store: numbering, idempotency, and the invariant that a
//! declaration's state is the fold of its events.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::{DeclarationState, ParseContext};
use reference::ReferenceData;
use store::{Actor, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

use crate::{Clearance, ClearanceConfig, ClearanceError, Clock, IDEMPOTENCY_KEY_LENGTH_MAX, Role};

pub(crate) const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");
pub(crate) const TRADER: &str = "91310115MA1H000024";
const BROKER: &str = "91310000MA1FL0001R";

/// Stands still until a test moves it on (`Fixture::advance`).
struct FixedClock(std::sync::Mutex<DateTime<Utc>>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub(crate) struct Fixture {
    pub(crate) clearance: Clearance<SqliteStore>,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

pub(crate) async fn fixture(now: DateTime<Utc>) -> Fixture {
    fixture_with(now, |_| {}).await
}

/// [`fixture`] with its configuration changed by `change` first.
pub(crate) async fn fixture_with(
    now: DateTime<Utc>,
    change: impl FnOnce(&mut ClearanceConfig),
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let signer = audit::AuditSigner::from_secret_bytes(&[7; 32]);
    let store = SqliteStore::open(
        &dir.path().join("t.db"),
        signer,
        SqliteOptions::production(),
    )
    .unwrap();
    let reference = Arc::new(ReferenceData::embedded().clone());
    let mut config = ClearanceConfig {
        buyer_id_key: Some(crate::BuyerIdKey::from_bytes([9; 32])),
        // No random selection and no model exploration in these tests: lanes come from rules,
        // lists and the model's scores only.
        selection: risk::SelectionConfig {
            default_random_rate: rust_decimal::Decimal::ZERO,
            ..risk::SelectionConfig::sample_china()
        },
        model_exploration_percent: 0,
        ..ClearanceConfig::china()
    };
    change(&mut config);
    let clock = Arc::new(FixedClock(std::sync::Mutex::new(now)));
    let clearance = Clearance::new(store, reference, config, clock.clone());
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    clearance
        .create_enterprise(
            &admin,
            TRADER,
            "3115960002",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        )
        .await
        .unwrap();
    clearance
        .create_enterprise(
            &admin,
            BROKER,
            "3122260001",
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
        )
        .await
        .unwrap();
    clearance
        .authorise_broker(&admin, BROKER, TRADER)
        .await
        .unwrap();
    clearance
        .create_user(&admin, "broker", Role::Broker, Some(BROKER))
        .await
        .unwrap();
    clearance
        .create_user(&admin, "officer", Role::Officer, None)
        .await
        .unwrap();
    Fixture {
        clearance,
        clock,
        _dir: dir,
    }
}

impl Fixture {
    /// Moves the clock on.
    pub(crate) fn advance(&self, by: chrono::Duration) {
        *self.clock.0.lock().unwrap() += by;
    }

    pub(crate) async fn caller(&self, user: &str) -> crate::Caller {
        let admin = Actor {
            user_id: "test".into(),
            role: "admin".into(),
        };
        let token = self.clearance.issue_token(&admin, user).await.unwrap();
        self.clearance.authenticate(&token.token).await.unwrap()
    }

    /// A new user of `role` (no enterprise), as a caller.
    pub(crate) async fn caller_with_role(&self, name: &str, role: Role) -> crate::Caller {
        self.clearance
            .create_user(&crate::story::admin(), name, role, None)
            .await
            .unwrap();
        self.caller(name).await
    }
}

pub(crate) fn beijing(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn numbers_follow_the_china_scheme_in_beijing_time() {
    // 00:30 on 1 January in Beijing is still 31 December in UTC: the number's year is Beijing's.
    let now = beijing(2027, 1, 1, 0) + chrono::Duration::minutes(30);
    let f = fixture(now).await;
    let broker = f.caller("broker").await;
    let first = f
        .clearance
        .lodge(&broker, Some("a"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let second = f
        .clearance
        .lodge(&broker, Some("b"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    assert_eq!(first.number, "220020271000000001");
    assert_eq!(second.number, "220020271000000002");
}

#[tokio::test]
async fn an_idempotent_resend_creates_nothing_and_a_reused_key_is_refused() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let first = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let again = f
        .clearance
        .lodge(&broker, Some("k1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.number, again.number);
    let other_body = EXAMPLE.replace("Smartphones", "Mobile phones");
    let reused = f
        .clearance
        .lodge(&broker, Some("k1"), other_body.as_bytes())
        .await;
    assert!(
        matches!(reused, Err(ClearanceError::IdempotencyKeyReused)),
        "{reused:?}"
    );
    let page = f
        .clearance
        .list(&broker, &crate::ListFilter::default())
        .await
        .unwrap();
    assert_eq!(page.declarations.len(), 1);
}

#[tokio::test]
async fn idempotency_keys_are_bounded_and_cannot_use_the_reserved_character() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let at_limit = "k".repeat(IDEMPOTENCY_KEY_LENGTH_MAX);
    assert!(
        f.clearance
            .lodge(&broker, Some(&at_limit), EXAMPLE.as_bytes())
            .await
            .is_ok()
    );
    for bad in [
        "k".repeat(IDEMPOTENCY_KEY_LENGTH_MAX + 1),
        "a#1".into(),
        "".into(),
        "with space".into(),
    ] {
        let outcome = f
            .clearance
            .lodge(&broker, Some(&bad), EXAMPLE.as_bytes())
            .await;
        assert!(
            matches!(outcome, Err(ClearanceError::Invalid(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn the_stored_state_is_the_fold_of_the_events() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let officer = f.caller("officer").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let amendment = serde_json::json!({
        "reason": "corrected description",
        "declaration": serde_json::from_str::<serde_json::Value>(&EXAMPLE.replace("Smartphones", "Mobile phones")).unwrap(),
    });
    // No tariff release is in force: the import waits for a manual assessment, so customs has
    // acted on it and the amendment is a request the officer approves.
    f.clearance
        .amend(
            &broker,
            &lodged.id,
            Some("amend"),
            amendment.to_string().as_bytes(),
        )
        .await
        .unwrap()
        .requested();
    crate::story::approve_request(&f, &[&officer], &lodged.number).await;
    crate::story::assess_by_hand(&f, &officer, &lodged.number).await;
    crate::story::register_bank(&f).await;
    crate::story::pay_in_full(&f, &broker, &lodged.number, "TB-1").await;
    f.clearance
        .release(&officer, &lodged.number, Some("rel"), b"{}")
        .await
        .unwrap();

    let store = f.clearance.store();
    let row = store.declaration(&lodged.id).await.unwrap().unwrap();
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let events: Vec<_> = store
        .events(&lodged.id)
        .await
        .unwrap()
        .iter()
        // Assessments share the declaration's subject but are not lifecycle events.
        .filter(|e| crate::is_lifecycle_event(&e.action))
        .map(|e| wire::decode_event(&e.action, &e.payload, &ctx).unwrap())
        .collect();
    let folded = DeclarationState::fold(&events).unwrap();
    let projected = f.clearance.state_of(&row).await.unwrap();
    assert_eq!(folded.status, projected.status);
    assert_eq!(folded.version, projected.version);
    assert_eq!(folded.declaration, projected.declaration);
    assert_eq!(folded.number, projected.number);
    assert!(
        folded.declaration.items[0]
            .description
            .starts_with("Mobile phones")
    );
}

#[tokio::test]
async fn an_amendment_cannot_change_what_the_number_was_made_from() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut changed: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    changed["office_of_lodging"] = "5300".into();
    let body = serde_json::json!({"reason": "move", "declaration": changed}).to_string();
    match f
        .clearance
        .amend(&broker, &lodged.id, None, body.as_bytes())
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors[0].path, "declaration.office_of_lodging")
        }
        other => panic!("{other:?}"),
    }
}

/// An amendment cannot rename the trader or declarant away from the register either: the
/// credit codes stay, and the customs code and name must still be the register's.
#[tokio::test]
async fn an_amendment_keeps_the_parties_the_registers() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut changed: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    changed["trader"]["customs_code"] = "3122260001".into();
    changed["declarant"]["name"] = "Another Brokerage".into();
    let body = serde_json::json!({"reason": "rename", "declaration": changed}).to_string();
    match f
        .clearance
        .amend(&broker, &lodged.id, None, body.as_bytes())
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "declaration.trader.customs_code",
                    "declaration.declarant.name"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Lodges the example as a summary declaration; returns its receipt and the matching full
/// declaration's document.
async fn lodge_summary(
    f: &Fixture,
    broker: &crate::Caller,
) -> (wire::LodgementView, serde_json::Value) {
    let mut summary: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    summary["kind"] = "summary".into();
    let summary = f
        .clearance
        .lodge(broker, Some("s"), summary.to_string().as_bytes())
        .await
        .unwrap();
    let mut full: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    full["kind"] = "full".into();
    full["summary_number"] = summary.number.clone().into();
    (summary, full)
}

#[tokio::test]
async fn an_amended_full_declaration_must_still_agree_with_its_summary() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let (summary, mut full) = lodge_summary(&f, &broker).await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("f"), full.to_string().as_bytes())
        .await
        .unwrap();
    let completed = f
        .clearance
        .declaration(&broker, &summary.number)
        .await
        .unwrap();
    assert_eq!(
        completed.completed_by.as_deref(),
        Some(lodged.number.as_str())
    );

    full["items"][0]["origin_country"] = "DE".into();
    let body = serde_json::json!({"reason": "origin", "declaration": full}).to_string();
    match f
        .clearance
        .amend(&broker, &lodged.number, None, body.as_bytes())
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path, "declaration.items[0].origin_country");
            assert_eq!(errors[0].code, domain::ErrorCode::SummaryMismatch);
        }
        other => panic!("{other:?}"),
    }
}

/// The access matrix written out literally, so a change to `Action::allowed` must change this
/// table too (the HTTP tests check that every endpoint follows `Action::allowed`).
#[test]
fn the_access_matrix_is_as_documented() {
    use crate::Action::*;
    // Columns: declarant, broker, officer, risk_analyst, auditor, admin, supervisor.
    let table = [
        (Lodge, [true, true, false, false, false, false, false]),
        (Read, [true, true, true, true, true, true, true]),
        (Amend, [true, true, false, false, false, false, false]),
        (Cancel, [true, true, false, false, false, false, false]),
        (Release, [false, false, true, false, false, false, false]),
        (ReadAudit, [false, false, false, false, true, true, false]),
        (Reassess, [false, false, true, false, false, false, false]),
        (
            ManageReleases,
            [false, false, false, false, false, true, false],
        ),
        (ReadRules, [false, false, true, true, true, true, true]),
        (WriteRules, [false, false, false, true, false, false, false]),
        (ReadTasks, [false, false, true, true, true, true, true]),
        (
            RecordFindings,
            [false, false, true, false, false, false, false],
        ),
        (Pay, [true, true, true, false, false, false, false]),
        (
            ManageCredit,
            [false, false, false, false, false, true, false],
        ),
        (KeepDuty, [false, false, true, false, false, false, false]),
        (ReadStatistics, [false, false, true, true, true, true, true]),
        (Hold, [false, false, true, false, false, false, false]),
        (
            ManageModels,
            [false, false, false, true, false, false, false],
        ),
        (
            ManagePaymentConnectors,
            [false, false, false, false, false, true, false],
        ),
        (
            ReadPaymentConnectors,
            [false, false, false, false, true, true, false],
        ),
        (
            DecideModifications,
            [false, false, true, false, false, false, false],
        ),
        (
            ManageUsers,
            [false, false, false, false, false, true, false],
        ),
        (
            ReassignTasks,
            [false, false, false, false, false, false, true],
        ),
    ];
    assert_eq!(table.len(), crate::Action::ALL.len());
    for (action, allowed) in table {
        for (role, expected) in Role::ALL.into_iter().zip(allowed) {
            assert_eq!(action.allowed(role), expected, "{action:?} by {role:?}");
        }
    }
}

/// A broker authorised by another broker (as a client) must not see or change what that broker
/// declared for its own clients; nor may the trader's own declarant cancel the broker's lodging.
#[tokio::test]
async fn authorisation_does_not_chain_through_a_brokers_clients() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = Actor {
        user_id: "test".into(),
        role: "admin".into(),
    };
    let second_broker = "91440300MA5F00003G";
    f.clearance
        .create_enterprise(&admin, second_broker, "4403960003", "Second broker")
        .await
        .unwrap();
    // The first broker is itself a client of the second broker.
    f.clearance
        .authorise_broker(&admin, second_broker, BROKER)
        .await
        .unwrap();
    f.clearance
        .create_user(&admin, "second", Role::Broker, Some(second_broker))
        .await
        .unwrap();
    f.clearance
        .create_user(&admin, "trader", Role::Declarant, Some(TRADER))
        .await
        .unwrap();
    let broker = f.caller("broker").await;
    let second = f.caller("second").await;
    let trader = f.caller("trader").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();

    let listed = f
        .clearance
        .list(&second, &crate::ListFilter::default())
        .await
        .unwrap();
    assert!(listed.declarations.is_empty(), "{:?}", listed.declarations);
    let read = f.clearance.declaration(&second, &lodged.number).await;
    assert!(matches!(read, Err(ClearanceError::NotFound)), "{read:?}");
    let cancel = br#"{"reason": "not mine"}"#;
    let by_second = f
        .clearance
        .cancel(&second, &lodged.number, None, cancel)
        .await;
    assert!(
        matches!(by_second, Err(ClearanceError::NotFound)),
        "{by_second:?}"
    );
    // The trader sees its declaration, but the broker declared it: only the broker withdraws it.
    assert!(
        f.clearance
            .declaration(&trader, &lodged.number)
            .await
            .is_ok()
    );
    let by_trader = f
        .clearance
        .cancel(&trader, &lodged.number, None, cancel)
        .await;
    assert!(
        matches!(by_trader, Err(ClearanceError::Forbidden { .. })),
        "{by_trader:?}"
    );
    assert!(
        f.clearance
            .cancel(&broker, &lodged.number, None, cancel)
            .await
            .is_ok()
    );
}

/// A cancelled full declaration frees its summary for a new one, and the history says which one
/// it replaces; a summary completed by a live full declaration is refused, naming the field.
#[tokio::test]
async fn a_new_full_declaration_takes_the_place_of_a_cancelled_one() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let (summary, full) = lodge_summary(&f, &broker).await;
    let body = full.to_string();
    let first = f
        .clearance
        .lodge(&broker, Some("f1"), body.as_bytes())
        .await
        .unwrap();
    match f
        .clearance
        .lodge(&broker, Some("f2"), body.as_bytes())
        .await
    {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "summary_number"),
        other => panic!("{other:?}"),
    }
    f.clearance
        .cancel(&broker, &first.number, None, br#"{"reason": "wrong lot"}"#)
        .await
        .unwrap()
        .requested();
    let officer = f.caller("officer").await;
    crate::story::approve_request(&f, &[&officer], &first.number).await;
    let second = f
        .clearance
        .lodge(&broker, Some("f3"), body.as_bytes())
        .await
        .unwrap();
    let completed = f
        .clearance
        .declaration(&broker, &summary.number)
        .await
        .unwrap();
    assert_eq!(
        completed.completed_by.as_deref(),
        Some(second.number.as_str())
    );
    let wire::EventsAnswer::Customs(page) =
        f.clearance.events(&officer, &summary.number).await.unwrap()
    else {
        panic!("customs roles get every event");
    };
    let history = page.events;
    let last = &history
        .iter()
        .rfind(|e| crate::is_lifecycle_event(&e.action))
        .unwrap()
        .payload;
    assert_eq!(last["replaces"], first.number.as_str(), "{last}");
    // The summary's history still folds: the replacement names the completion it supersedes.
    let ctx = ParseContext {
        reference: ReferenceData::embedded(),
        on: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
    };
    let events: Vec<_> = history
        .iter()
        .filter(|e| crate::is_lifecycle_event(&e.action))
        .map(|e| wire::decode_event(&e.action, &e.payload.to_string(), &ctx).unwrap())
        .collect();
    assert!(DeclarationState::fold(&events).is_some());
}

#[tokio::test]
async fn an_amendment_reports_its_reason_and_its_declaration_errors_together() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let mut changed: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    changed["items"][0]["origin_country"] = "XX".into();
    let body = serde_json::json!({"reason": " ", "declaration": changed}).to_string();
    match f
        .clearance
        .amend(&broker, &lodged.id, None, body.as_bytes())
        .await
    {
        Err(ClearanceError::Invalid(errors)) => {
            let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(paths, ["reason", "declaration.items[0].origin_country"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_resend_returns_the_first_result_even_after_later_changes() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let first = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    f.clearance
        .cancel(&broker, &first.number, None, br#"{"reason": "duplicate"}"#)
        .await
        .unwrap();
    let again = f
        .clearance
        .lodge(&broker, Some("k"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.status.as_str(), again.version),
        (false, "accepted", 1)
    );
    assert_eq!(
        (again.id, again.number, again.lodged_at),
        (first.id, first.number, first.lodged_at)
    );
}

/// A declaration mapped from another format by its edge is the same lodging, its format recorded
/// with the acceptance (its receipts are rendered in it); a JSON lodging records none.
#[tokio::test]
async fn a_lodging_in_another_format_records_it_with_the_acceptance() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let broker = f.caller("broker").await;
    let as_xml = f
        .clearance
        .lodge_as(
            &broker,
            Some("x"),
            EXAMPLE.as_bytes(),
            wire::MessageFormat::WcoXml,
        )
        .await
        .unwrap();
    let as_json = f
        .clearance
        .lodge(&broker, Some("j"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let again = f
        .clearance
        .lodge_as(
            &broker,
            Some("x"),
            EXAMPLE.as_bytes(),
            wire::MessageFormat::WcoXml,
        )
        .await
        .unwrap();

    assert_eq!(
        f.clearance.lodging_format(&as_xml.id).await.unwrap(),
        wire::MessageFormat::WcoXml
    );
    assert_eq!(
        f.clearance.lodging_format(&as_json.id).await.unwrap(),
        wire::MessageFormat::Json
    );
    let accepted = f.clearance.store().events(&as_json.id).await.unwrap();
    assert!(!accepted[0].payload.contains("message_format"));
    assert_eq!((again.id, again.created), (as_xml.id, false));
}
