//! Identity in the record and the token lifecycle (issue 10, defects 7, 8 and 13): the engine's
//! acts are recorded as the system's; tokens expire, are listed, revoked by id or all at once;
//! users are disabled; broker authorisations withdrawn; the first administrator is bootstrapped
//! once. All through the service on the real store.

use serde_json::{Value, json};
use store::{Actor, Store};

use crate::tests::{EXAMPLE, Fixture, TRADER, beijing, fixture};
use crate::{
    Caller, ClearanceError, Role, SYSTEM_ROLE, SYSTEM_USER_ID, TOKEN_LIFETIME_MAX_DAYS,
    TokenRefusal,
};

const BROKER: &str = "91310000MA1FL0001R";

fn test_admin() -> Actor {
    Actor {
        user_id: "test".into(),
        role: "admin".into(),
    }
}

async fn admin_caller(f: &Fixture) -> Caller {
    f.clearance
        .create_user(&test_admin(), "admin-li", Role::Admin, None)
        .await
        .unwrap();
    f.caller("admin-li").await
}

fn refusal(result: Result<Caller, ClearanceError>) -> TokenRefusal {
    match result {
        Err(ClearanceError::TokenRefused(why)) => why,
        other => panic!("expected a refused token, got {other:?}"),
    }
}

#[tokio::test]
async fn targeting_scoring_tasks_and_assessment_are_recorded_as_the_system() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    f.clearance
        .create_user(&test_admin(), "analyst-wang", Role::RiskAnalyst, None)
        .await
        .unwrap();
    let analyst = f.caller("analyst-wang").await;
    let entry = json!({
        "kind": "seller", "value": "Pacific Electronics Inc.", "action": "document_check",
        "reason_en": "invoices to check", "reason_zh": "核查发票",
    });
    f.clearance
        .add_watch_entry(&analyst, entry.to_string().as_bytes())
        .await
        .unwrap();
    let broker = f.caller("broker").await;
    let lodged = f
        .clearance
        .lodge(&broker, Some("sys-1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    let events = f.clearance.store().events(&lodged.id).await.unwrap();
    let by = |action: &str| -> Vec<(String, String)> {
        events
            .iter()
            .filter(|e| e.action == action)
            .map(|e| (e.actor.user_id.clone(), e.actor.role.clone()))
            .collect()
    };
    let system = vec![(SYSTEM_USER_ID.to_owned(), SYSTEM_ROLE.to_owned())];
    assert_eq!(
        by("declaration.accepted"),
        vec![(broker.user_id().to_owned(), "broker".to_owned())],
        "the lodging is the broker's"
    );
    assert_eq!(
        by("declaration.targeted"),
        system,
        "the selection is the engine's"
    );
    assert_eq!(
        by("task.created"),
        system,
        "the task's draw is the engine's"
    );
    assert_eq!(
        by("declaration.assessed"),
        system,
        "the assessment is the engine's"
    );
    // The payloads name what acted: the reasons and seed of the selection, the draw of the task.
    let targeted = events
        .iter()
        .find(|e| e.action == "declaration.targeted")
        .unwrap();
    let record: Value = serde_json::from_str(&targeted.payload).unwrap();
    assert!(
        record["seed"].is_string() || record["seed"].is_u64(),
        "{record:#}"
    );
    let task = events.iter().find(|e| e.action == "task.created").unwrap();
    let task: Value = serde_json::from_str(&task.payload).unwrap();
    assert!(
        task["draw"].is_number() && task["candidates"].is_array(),
        "{task:#}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_even_when_it_was_just_used() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = admin_caller(&f).await;
    let issued = f
        .clearance
        .issue_token_as(&admin, "broker", None)
        .await
        .unwrap();
    // Authenticated once: the principal is cached.
    f.clearance.authenticate(&issued.token).await.unwrap();
    let listed = f.clearance.tokens_as(&admin, Some("broker")).await.unwrap();
    let ids: Vec<&str> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![issued.id.as_str()]);
    assert!(
        !listed.to_string().contains(&issued.token) && !listed.to_string().contains("hash"),
        "a listing shows neither the secret nor its hash: {listed}"
    );
    let revoked = f
        .clearance
        .revoke_token_as(&admin, &issued.id)
        .await
        .unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        refusal(f.clearance.authenticate(&issued.token).await),
        TokenRefusal::Revoked
    );
    // Revoking again changes nothing; an unknown id is absent.
    f.clearance
        .revoke_token_as(&admin, &issued.id)
        .await
        .unwrap();
    assert!(matches!(
        f.clearance
            .revoke_token_as(&admin, "T-0000000000000000")
            .await,
        Err(ClearanceError::NotFound)
    ));
    let events = f
        .clearance
        .store()
        .events(revoked["user_id"].as_str().unwrap())
        .await
        .unwrap();
    let revocations: Vec<_> = events
        .iter()
        .filter(|e| e.action == "token.revoked")
        .collect();
    assert_eq!(revocations.len(), 1, "one event, by the administrator");
    assert_eq!(revocations[0].actor.user_id, admin.user_id());
}

#[tokio::test]
async fn a_token_expires_after_its_lifetime_and_lifetimes_are_bounded() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = admin_caller(&f).await;
    let day = f
        .clearance
        .issue_token_as(&admin, "broker", Some(1))
        .await
        .unwrap();
    let default = f
        .clearance
        .issue_token_as(&admin, "broker", None)
        .await
        .unwrap();
    f.advance(chrono::Duration::days(1) - chrono::Duration::milliseconds(1));
    f.clearance.authenticate(&day.token).await.unwrap();
    f.advance(chrono::Duration::milliseconds(1));
    assert_eq!(
        refusal(f.clearance.authenticate(&day.token).await),
        TokenRefusal::Expired,
        "expired exactly at its expiry, even while cached"
    );
    f.advance(chrono::Duration::days(88));
    f.clearance.authenticate(&default.token).await.unwrap();
    f.advance(chrono::Duration::days(1));
    assert_eq!(
        refusal(f.clearance.authenticate(&default.token).await),
        TokenRefusal::Expired,
        "a default token lives 90 days"
    );
    let listed = f.clearance.tokens_as(&admin, Some("broker")).await.unwrap();
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "expired")
    );

    for days in [0, TOKEN_LIFETIME_MAX_DAYS + 1] {
        match f
            .clearance
            .issue_token_as(&admin, "broker", Some(days))
            .await
        {
            Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "expires_in_days"),
            other => panic!("{days} days: {other:?}"),
        }
    }
    let longest = f
        .clearance
        .issue_token_as(&admin, "broker", Some(TOKEN_LIFETIME_MAX_DAYS))
        .await
        .unwrap();
    f.clearance.authenticate(&longest.token).await.unwrap();
}

#[tokio::test]
async fn revoking_all_of_a_users_tokens_and_disabling_a_user() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = admin_caller(&f).await;
    let first = f
        .clearance
        .issue_token_as(&admin, "officer", None)
        .await
        .unwrap();
    let second = f
        .clearance
        .issue_token_as(&admin, "officer", None)
        .await
        .unwrap();
    f.clearance.authenticate(&first.token).await.unwrap();
    let answer = f
        .clearance
        .revoke_user_tokens_as(&admin, "officer")
        .await
        .unwrap();
    assert_eq!(answer["revoked"].as_array().unwrap().len(), 2, "{answer}");
    for token in [&first.token, &second.token] {
        assert_eq!(
            refusal(f.clearance.authenticate(token).await),
            TokenRefusal::Revoked
        );
    }
    let third = f
        .clearance
        .issue_token_as(&admin, "officer", None)
        .await
        .unwrap();
    f.clearance.authenticate(&third.token).await.unwrap();

    let officers = f.clearance.store().users_by_role("officer").await.unwrap();
    assert_eq!(officers.len(), 1);
    // An administrator does not disable themselves; a reason is required.
    assert!(matches!(
        f.clearance
            .disable_user_as(&admin, "admin-li", "leaving")
            .await,
        Err(ClearanceError::Invalid(_))
    ));
    assert!(matches!(
        f.clearance.disable_user_as(&admin, "officer", "").await,
        Err(ClearanceError::Invalid(_))
    ));
    let disabled = f
        .clearance
        .disable_user_as(&admin, "officer", "left the service")
        .await
        .unwrap();
    assert!(disabled["disabled_seq"].is_u64(), "{disabled}");
    assert_eq!(disabled["open_tasks"], json!([]), "{disabled}");
    assert_eq!(
        refusal(f.clearance.authenticate(&third.token).await),
        TokenRefusal::UserDisabled
    );
    assert!(
        f.clearance
            .store()
            .users_by_role("officer")
            .await
            .unwrap()
            .is_empty(),
        "a disabled officer is in no pool tasks are drawn from"
    );
    match f.clearance.issue_token_as(&admin, "officer", None).await {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "user"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_administrators_manage_tokens_and_a_user_only_their_own() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = admin_caller(&f).await;
    let broker = f.caller("broker").await;
    let officers = f
        .clearance
        .issue_token_as(&admin, "officer", None)
        .await
        .unwrap();
    for refused in [
        f.clearance
            .issue_token_as(&broker, "broker", None)
            .await
            .map(|_| ()),
        f.clearance
            .disable_user_as(&broker, "officer", "x")
            .await
            .map(|_| ()),
        f.clearance
            .tokens_as(&broker, Some("officer"))
            .await
            .map(|_| ()),
        f.clearance
            .revoke_user_tokens_as(&broker, "officer")
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(ClearanceError::Forbidden { .. })),
            "{refused:?}"
        );
    }
    // Another user's token is absent to the broker.
    assert!(matches!(
        f.clearance.revoke_token_as(&broker, &officers.id).await,
        Err(ClearanceError::NotFound)
    ));
    f.clearance.authenticate(&officers.token).await.unwrap();
    // The broker lists and revokes its own.
    let own = f.clearance.tokens_as(&broker, None).await.unwrap();
    let own = own["tokens"].as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert!(own.iter().all(|t| t["user"] == "broker"));
    let id = own[0]["id"].as_str().unwrap().to_owned();
    f.clearance.revoke_token_as(&broker, &id).await.unwrap();
    let all = f.clearance.tokens_as(&admin, None).await.unwrap();
    assert_eq!(all["tokens"].as_array().unwrap().len(), 3, "{all:#}");
}

#[tokio::test]
async fn a_withdrawn_broker_neither_declares_for_the_trader_nor_sees_its_declarations() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    let admin = admin_caller(&f).await;
    let broker_token = f
        .clearance
        .issue_token(&test_admin(), "broker")
        .await
        .unwrap()
        .token;
    let broker = f.clearance.authenticate(&broker_token).await.unwrap();
    f.clearance
        .create_user(&test_admin(), "trader-clerk", Role::Declarant, Some(TRADER))
        .await
        .unwrap();
    let trader = f.caller("trader-clerk").await;
    let by_broker = f
        .clearance
        .lodge(&broker, Some("w1"), EXAMPLE.as_bytes())
        .await
        .unwrap();
    // The trader lodges one itself (it is its own declarant).
    let own = EXAMPLE
        .replace(BROKER, TRADER)
        .replace("3122260001", "3115960002")
        .replace(
            "上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.",
            "上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.",
        );
    let by_trader = f
        .clearance
        .lodge(&trader, Some("w2"), own.as_bytes())
        .await
        .unwrap();
    f.clearance
        .declaration(&broker, &by_trader.id)
        .await
        .unwrap();

    // Another enterprise's declarant may not withdraw it; the trader's own declarant may.
    match f
        .clearance
        .withdraw_broker_as(&broker, TRADER, BROKER, "x")
        .await
    {
        Err(ClearanceError::Forbidden { .. }) => {}
        other => panic!("{other:?}"),
    }
    f.clearance
        .withdraw_broker_as(&trader, TRADER, BROKER, "contract ended")
        .await
        .unwrap();
    // Its callers' next request sees it (no stale principal), token unchanged.
    let broker = f.clearance.authenticate(&broker_token).await.unwrap();
    assert!(matches!(
        f.clearance.declaration(&broker, &by_trader.id).await,
        Err(ClearanceError::NotFound)
    ));
    // What it declared itself stays visible to it.
    f.clearance
        .declaration(&broker, &by_broker.id)
        .await
        .unwrap();
    match f
        .clearance
        .lodge(
            &broker,
            Some("w3"),
            EXAMPLE.replace("Smartphones", "Phones").as_bytes(),
        )
        .await
    {
        Err(ClearanceError::Forbidden { errors, .. }) | Err(ClearanceError::Invalid(errors)) => {
            assert!(
                errors.iter().any(|e| e.path == "trader.credit_code"),
                "{errors:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Withdrawing what is not in force is refused; granting again is recorded anew.
    assert!(matches!(
        f.clearance
            .withdraw_broker_as(&admin, TRADER, BROKER, "again")
            .await,
        Err(ClearanceError::Invalid(_))
    ));
    f.clearance
        .authorise_broker_as(&admin, BROKER, TRADER)
        .await
        .unwrap();
    let broker = f.clearance.authenticate(&broker_token).await.unwrap();
    f.clearance
        .declaration(&broker, &by_trader.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_first_administrator_is_bootstrapped_once_by_the_system() {
    let f = fixture(beijing(2026, 11, 26, 10)).await;
    // A name taken by another role is refused.
    match f.clearance.bootstrap_admin("broker").await {
        Err(ClearanceError::Invalid(errors)) => assert_eq!(errors[0].path, "name"),
        other => panic!("{other:?}"),
    }
    let first = f.clearance.bootstrap_admin("root-zhang").await.unwrap();
    let caller = f.clearance.authenticate(&first.token).await.unwrap();
    assert_eq!(caller.role, Role::Admin);
    match f.clearance.bootstrap_admin("root-chen").await {
        Err(ClearanceError::Forbidden { message_en, .. }) => {
            assert!(message_en.contains("root-zhang"), "{message_en}")
        }
        other => panic!("{other:?}"),
    }
    let events = f.clearance.store().events(caller.user_id()).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.actor.user_id == SYSTEM_USER_ID && e.actor.role == SYSTEM_ROLE),
        "bootstrapped by the system, not by a name anyone can set: {events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == crate::ADMIN_BOOTSTRAPPED_ACTION)
    );
    // An administrator locked out (every token revoked) can be bootstrapped again, recorded.
    f.clearance
        .revoke_user_tokens_as(&caller, "root-zhang")
        .await
        .unwrap();
    let again = f.clearance.bootstrap_admin("root-chen").await.unwrap();
    f.clearance.authenticate(&again.token).await.unwrap();
}
