//! Passwords and console sessions (issue 11, security): the password policy at its edges, log-in
//! and its one refusal for every wrong case, a session's expiry at its edge, log-out, and the
//! password kept in the chain's projection only. All through the service on the real store.

use store::{Actor, Store};

use crate::tests::{Fixture, beijing, fixture};
use crate::{
    Caller, ClearanceError, PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN, PASSWORD_SET_ACTION, Role,
    SESSION_LIFETIME_HOURS, TokenRefusal,
};

const PASSWORD: &str = "correct horse battery";

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

fn refused_field(result: Result<(), ClearanceError>) -> Vec<domain::FieldError> {
    match result {
        Err(ClearanceError::Invalid(errors)) => errors,
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

fn unauthenticated<T: std::fmt::Debug>(result: Result<T, ClearanceError>) {
    assert!(
        matches!(result, Err(ClearanceError::Unauthenticated)),
        "expected the one log-in refusal, got {result:?}"
    );
}

#[tokio::test]
async fn a_password_is_from_12_to_128_characters() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    let admin = admin_caller(&f).await;
    let set = |password: String| {
        let f = &f;
        let admin = &admin;
        async move { f.clearance.set_password(admin, "officer", &password).await }
    };
    let short = refused_field(set("x".repeat(PASSWORD_LENGTH_MIN - 1)).await);
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].path, "password");
    assert!(
        short[0].message_en.contains("12 to 128 characters"),
        "{short:?}"
    );
    assert!(
        short[0].message_zh.contains("12 至 128 个字符"),
        "{short:?}"
    );
    assert!(
        !short[0].message_en.contains("xxxxxxxxxxx"),
        "the password is never echoed"
    );
    set("x".repeat(PASSWORD_LENGTH_MIN)).await.unwrap();
    set("x".repeat(PASSWORD_LENGTH_MAX)).await.unwrap();
    let long = refused_field(set("x".repeat(PASSWORD_LENGTH_MAX + 1)).await);
    assert_eq!(long[0].path, "password");
    // Characters, not bytes: twelve Chinese characters are 36 bytes and enough.
    set("海关单一窗口报关密码很长啊".chars().take(12).collect())
        .await
        .unwrap();
    f.clearance
        .log_in(
            "officer",
            &"海关单一窗口报关密码很长啊"
                .chars()
                .take(12)
                .collect::<String>(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_person_logs_in_with_the_password_and_gets_a_session_of_12_hours() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    let admin = admin_caller(&f).await;
    f.clearance
        .set_password(&admin, "broker", PASSWORD)
        .await
        .unwrap();
    let session = f.clearance.log_in("broker", PASSWORD).await.unwrap();
    assert_eq!(session.user.name, "broker");
    let now = beijing(2026, 12, 6, 10).timestamp_millis();
    assert_eq!(
        session.expires_at_ms,
        now + i64::from(SESSION_LIFETIME_HOURS) * 3_600_000
    );
    let caller = f.clearance.authenticate(&session.token).await.unwrap();
    assert_eq!(caller.role, Role::Broker);

    let user = f
        .clearance
        .store()
        .user_by_name("broker")
        .await
        .unwrap()
        .unwrap();
    let events = f.clearance.store().events(&user.id).await.unwrap();
    let set = events
        .iter()
        .find(|e| e.action == PASSWORD_SET_ACTION)
        .expect("the password's event");
    assert_eq!(
        set.actor.user_id,
        admin.user_id(),
        "recorded as the administrator"
    );
    let hash = f
        .clearance
        .store()
        .password_hash(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        !set.payload.contains(PASSWORD),
        "the password is nowhere in the payload"
    );
    assert!(!set.payload.contains(&hash), "nor its hash");
    let issued = events
        .iter()
        .rfind(|e| e.action == "token.issued")
        .expect("the session's event");
    assert_eq!(
        issued.actor.user_id, user.id,
        "a log-in is the user's own act"
    );
    assert_eq!(issued.actor.role, "broker");
    let payload: serde_json::Value = serde_json::from_str(&issued.payload).unwrap();
    assert_eq!(payload["kind"], "session");
    assert_eq!(payload["token_id"], session.id.as_str());

    // The hash is in the chain's projection: the users table rebuilt from it is the same.
    let check = f.clearance.store().check_projections().await.unwrap();
    assert!(check.not_rebuilt.is_none(), "{check:?}");
    assert!(check.differences.is_empty(), "{:?}", check.differences);
    assert!(check.tables.iter().any(|t| t == "users"));
}

#[tokio::test]
async fn a_wrong_password_an_unknown_name_and_no_password_get_the_same_refusal() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    let admin = admin_caller(&f).await;
    f.clearance
        .set_password(&admin, "broker", PASSWORD)
        .await
        .unwrap();
    unauthenticated(f.clearance.log_in("broker", "correct horse battery!").await);
    unauthenticated(f.clearance.log_in("broker", "").await);
    unauthenticated(f.clearance.log_in("nobody", PASSWORD).await);
    unauthenticated(f.clearance.log_in("officer", PASSWORD).await);
    unauthenticated(
        f.clearance
            .log_in("broker", &"x".repeat(PASSWORD_LENGTH_MAX + 1))
            .await,
    );
    // A changed password replaces the old one.
    f.clearance
        .set_password(&admin, "broker", "a new password of length")
        .await
        .unwrap();
    unauthenticated(f.clearance.log_in("broker", PASSWORD).await);
    f.clearance
        .log_in("broker", "a new password of length")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_user_neither_logs_in_nor_gets_a_password() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    let admin = admin_caller(&f).await;
    f.clearance
        .set_password(&admin, "officer", PASSWORD)
        .await
        .unwrap();
    let session = f.clearance.log_in("officer", PASSWORD).await.unwrap();
    f.clearance
        .disable_user_as(&admin, "officer", "left the service")
        .await
        .unwrap();
    unauthenticated(f.clearance.log_in("officer", PASSWORD).await);
    assert!(matches!(
        f.clearance.authenticate(&session.token).await,
        Err(ClearanceError::TokenRefused(TokenRefusal::UserDisabled))
    ));
    let refused = refused_field(
        f.clearance
            .set_password(&admin, "officer", "another password")
            .await,
    );
    assert_eq!(refused[0].path, "user");
}

#[tokio::test]
async fn a_session_expires_exactly_12_hours_after_log_in() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    f.clearance
        .set_password_as(&test_admin(), "officer", PASSWORD)
        .await
        .unwrap();
    let session = f.clearance.log_in("officer", PASSWORD).await.unwrap();
    let lifetime = chrono::Duration::hours(i64::from(SESSION_LIFETIME_HOURS));
    f.advance(lifetime - chrono::Duration::milliseconds(1));
    f.clearance.authenticate(&session.token).await.unwrap();
    f.advance(chrono::Duration::milliseconds(1));
    assert!(matches!(
        f.clearance.authenticate(&session.token).await,
        Err(ClearanceError::TokenRefused(TokenRefusal::Expired))
    ));
    // API tokens keep their lifetime in days.
    let token = f
        .clearance
        .issue_token(&test_admin(), "officer")
        .await
        .unwrap();
    f.advance(lifetime);
    f.clearance.authenticate(&token.token).await.unwrap();
}

#[tokio::test]
async fn logging_out_revokes_the_session_and_only_ones_own() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    for user in ["officer", "broker"] {
        f.clearance
            .set_password_as(&test_admin(), user, PASSWORD)
            .await
            .unwrap();
    }
    let officer = f.clearance.log_in("officer", PASSWORD).await.unwrap();
    let broker = f.clearance.log_in("broker", PASSWORD).await.unwrap();
    let officer_caller = f.clearance.authenticate(&officer.token).await.unwrap();
    assert!(matches!(
        f.clearance.log_out(&officer_caller, &broker.token).await,
        Err(ClearanceError::NotFound)
    ));
    f.clearance.authenticate(&broker.token).await.unwrap();
    f.clearance
        .log_out(&officer_caller, &officer.token)
        .await
        .unwrap();
    assert!(matches!(
        f.clearance.authenticate(&officer.token).await,
        Err(ClearanceError::TokenRefused(TokenRefusal::Revoked))
    ));
    // Twice changes nothing; the other session is untouched.
    f.clearance
        .log_out(&officer_caller, &officer.token)
        .await
        .unwrap();
    f.clearance.authenticate(&broker.token).await.unwrap();
}

#[tokio::test]
async fn a_person_sets_their_own_password_and_an_administrator_anybodys() {
    let f = fixture(beijing(2026, 12, 6, 10)).await;
    let officer = f.caller("officer").await;
    f.clearance
        .set_password(&officer, "officer", PASSWORD)
        .await
        .unwrap();
    f.clearance.log_in("officer", PASSWORD).await.unwrap();
    assert!(matches!(
        f.clearance.set_password(&officer, "broker", PASSWORD).await,
        Err(ClearanceError::Forbidden { .. })
    ));
    unauthenticated(f.clearance.log_in("broker", PASSWORD).await);
    let admin = admin_caller(&f).await;
    f.clearance
        .set_password(&admin, "broker", PASSWORD)
        .await
        .unwrap();
    f.clearance.log_in("broker", PASSWORD).await.unwrap();
    let refused = refused_field(f.clearance.set_password(&admin, "nobody", PASSWORD).await);
    assert_eq!(refused[0].path, "user");
}
