use clearance::{Action, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Reply, TestApp, USERS, example, example_for_declarant, example_for_other_declarant, spawn_app,
};

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Lodge,
    Read,
    List,
    Events,
    Amend,
    Cancel,
    Release,
    AuditEntries,
    AuditVerification,
}

impl Endpoint {
    const ALL: [Endpoint; 9] = [
        Endpoint::Lodge,
        Endpoint::Read,
        Endpoint::List,
        Endpoint::Events,
        Endpoint::Amend,
        Endpoint::Cancel,
        Endpoint::Release,
        Endpoint::AuditEntries,
        Endpoint::AuditVerification,
    ];

    fn action(self) -> Action {
        match self {
            Endpoint::Lodge => Action::Lodge,
            Endpoint::Read | Endpoint::List | Endpoint::Events => Action::Read,
            Endpoint::Amend => Action::Amend,
            Endpoint::Cancel => Action::Cancel,
            Endpoint::Release => Action::Release,
            Endpoint::AuditEntries | Endpoint::AuditVerification => Action::ReadAudit,
        }
    }

    fn success(self) -> StatusCode {
        if matches!(self, Endpoint::Lodge) {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }

    /// Whether it names a declaration, which the caller may not see.
    fn names_a_declaration(self) -> bool {
        !matches!(
            self,
            Endpoint::Lodge | Endpoint::List | Endpoint::AuditEntries | Endpoint::AuditVerification
        )
    }
}

/// The status the matrix promises: the role's right first, then the declaration's visibility.
fn expected(role: Role, endpoint: Endpoint, sees: bool) -> StatusCode {
    if !endpoint.action().allowed(role) {
        StatusCode::FORBIDDEN
    } else if endpoint.names_a_declaration() && !sees {
        StatusCode::NOT_FOUND
    } else {
        endpoint.success()
    }
}

/// The document each user would lodge: its own enterprise's, or the broker's for the trader.
fn own_document(user: &str) -> Value {
    match user {
        "declarant" => example_for_declarant(),
        "other_declarant" => example_for_other_declarant(),
        _ => example(),
    }
}

/// A fresh declaration for one call, so that every change meets an accepted declaration: trade
/// users change their own; everybody else meets the broker's (for `other_declarant`, one it
/// cannot see).
async fn target(app: &TestApp, user: &str) -> (String, Value) {
    let (owner, document) = match user {
        "declarant" => ("declarant", example_for_declarant()),
        _ => ("broker", example()),
    };
    (app.lodged_id(owner, &document).await, document)
}

async fn call(app: &TestApp, user: &str, endpoint: Endpoint) -> Reply {
    let (id, document) = target(app, user).await;
    let path = format!("/v1/declarations/{id}");
    match endpoint {
        Endpoint::Lodge => app.lodge(user, &own_document(user)).await,
        Endpoint::Read => app.get(&path, user).await,
        Endpoint::List => app.get("/v1/declarations", user).await,
        Endpoint::Events => app.get(&format!("{path}/events"), user).await,
        Endpoint::Amend => {
            let body = json!({"reason": "corrected the voyage", "declaration": document});
            app.post(&format!("{path}/amendments"), user, None, &body)
                .await
        }
        Endpoint::Cancel => {
            app.post(
                &format!("{path}/cancellation"),
                user,
                None,
                &json!({"reason": "duplicate"}),
            )
            .await
        }
        Endpoint::Release => {
            app.post(&format!("{path}/release"), user, None, &json!({}))
                .await
        }
        Endpoint::AuditEntries => app.get("/v1/audit/entries?limit=10", user).await,
        Endpoint::AuditVerification => app.get("/v1/audit/verification", user).await,
    }
}

#[tokio::test]
async fn every_role_gets_what_the_access_matrix_promises_on_every_endpoint() {
    let app = spawn_app().await;
    let mut mismatches = Vec::new();
    for (user, role, _) in USERS {
        let sees_the_traders_declarations = user != "other_declarant";
        for endpoint in Endpoint::ALL {
            let reply = call(&app, user, endpoint).await;
            let want = expected(role, endpoint, sees_the_traders_declarations);
            if reply.status != want {
                mismatches.push(format!(
                    "{user} {endpoint:?}: want {want}, got {} {}",
                    reply.status, reply.text
                ));
            }
            if !reply.status.is_success() {
                reply.assert_problem(reply.status.as_u16());
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn a_declaration_of_another_enterprise_looks_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let id = app.lodged_id("broker", &example()).await;

    let hidden = app
        .get(&format!("/v1/declarations/{id}"), "other_declarant")
        .await;
    let missing = app
        .get(
            "/v1/declarations/01999999-0000-7000-8000-000000000000",
            "other_declarant",
        )
        .await;
    let listed = app.get("/v1/declarations", "other_declarant").await;

    hidden.assert_problem(404);
    missing.assert_problem(404);
    let without_request_id = |reply: &Reply| {
        let mut body = reply.body.clone();
        body["request_id"] = Value::Null;
        body
    };
    assert_eq!(without_request_id(&hidden), without_request_id(&missing));
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["declarations"], json!([]));
}

#[tokio::test]
async fn an_auditor_pages_through_the_chain_and_sees_it_verified() {
    let app = spawn_app().await;
    app.lodged_id("broker", &example()).await;

    let first = app.get("/v1/audit/entries?limit=2", "auditor").await;
    let next_after = first.body["next_after"].as_u64().expect("a next page");
    let rest = app
        .get(
            &format!("/v1/audit/entries?after={next_after}&limit=1000"),
            "auditor",
        )
        .await;
    let verification = app.get("/v1/audit/verification", "auditor").await;
    let too_many = app.get("/v1/audit/entries?limit=1001", "auditor").await;

    assert_eq!(first.body["entries"].as_array().unwrap().len(), 2);
    let entries = rest.body["entries"].as_array().unwrap();
    assert_eq!(
        entries.first().unwrap()["seq"].as_u64(),
        Some(next_after + 1)
    );
    assert_eq!(entries.last().unwrap()["action"], "declaration.accepted");
    assert_eq!(
        entries[0]["prev_hash"],
        first.body["entries"][1]["entry_hash"]
    );
    assert_eq!(verification.body["intact"], true, "{}", verification.text);
    assert_eq!(
        verification.body["last_seq"],
        entries.last().unwrap()["seq"]
    );
    too_many.assert_problem(422);
}
