use std::sync::atomic::{AtomicUsize, Ordering};

use clearance::{Action, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ANONYMOUS, BROKER, OTHER_TRADER, Reply, SPARE_USER, TRADER, TestApp, USERS, example,
    example_for_declarant, example_for_other_declarant, rates_import, sample_file, spawn_app,
    spawn_app_with_users,
};

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Lodge,
    Read,
    ReferenceList,
    List,
    Events,
    Amend,
    Cancel,
    Release,
    AuditEntries,
    AuditVerification,
    Estimate,
    Assessments,
    Reassess,
    ImportRelease,
    ListReleases,
    DryRun,
    ActivateRelease,
    RollBackRelease,
    ProposeRule,
    ListRules,
    TestRule,
    BacktestRule,
    RuleReference,
    ApproveRule,
    RetireRule,
    Selection,
    AddWatchEntry,
    ListWatchList,
    RemoveWatchEntry,
    ApproveWatchEntry,
    ListTasks,
    RecordFinding,
    Payments,
    Pay,
    SetCreditLevel,
    GoOnDuty,
    GoOffDuty,
    DutyRoster,
    ReleaseTimes,
    Hold,
    AddAttachment,
    ListAttachments,
    ImportHistory,
    TrainModel,
    RequestTraining,
    TrainingJob,
    ListModels,
    PromoteModel,
    RollBackModel,
    ModelDrift,
    Scores,
    ManualAssessment,
    ModificationRequests,
    DecideRequest,
    ListConnectors,
    RegisterConnector,
    WithdrawConnector,
    ListTokens,
    IssueToken,
    RevokeOwnToken,
    RevokeUserTokens,
    DisableUser,
    AuthoriseBroker,
    WithdrawBroker,
    ReassignTask,
    ReassessmentJob,
}

impl Endpoint {
    const ALL: [Endpoint; 66] = [
        Endpoint::Lodge,
        Endpoint::Read,
        Endpoint::ReferenceList,
        Endpoint::List,
        Endpoint::Events,
        Endpoint::Amend,
        Endpoint::Cancel,
        Endpoint::Release,
        Endpoint::AuditEntries,
        Endpoint::AuditVerification,
        Endpoint::Estimate,
        Endpoint::Assessments,
        Endpoint::Reassess,
        Endpoint::ImportRelease,
        Endpoint::ListReleases,
        Endpoint::DryRun,
        // Activate before rolling back, so that the roll-back withdraws the table just activated.
        Endpoint::ActivateRelease,
        Endpoint::RollBackRelease,
        Endpoint::ProposeRule,
        Endpoint::ListRules,
        Endpoint::TestRule,
        Endpoint::BacktestRule,
        Endpoint::RuleReference,
        Endpoint::ApproveRule,
        Endpoint::RetireRule,
        Endpoint::Selection,
        Endpoint::AddWatchEntry,
        Endpoint::ListWatchList,
        Endpoint::RemoveWatchEntry,
        Endpoint::ApproveWatchEntry,
        Endpoint::ListTasks,
        Endpoint::RecordFinding,
        Endpoint::Payments,
        Endpoint::Pay,
        Endpoint::SetCreditLevel,
        Endpoint::GoOnDuty,
        Endpoint::GoOffDuty,
        Endpoint::DutyRoster,
        Endpoint::ReleaseTimes,
        Endpoint::Hold,
        Endpoint::AddAttachment,
        Endpoint::ListAttachments,
        Endpoint::ImportHistory,
        Endpoint::TrainModel,
        Endpoint::RequestTraining,
        Endpoint::TrainingJob,
        Endpoint::ListModels,
        Endpoint::PromoteModel,
        Endpoint::RollBackModel,
        Endpoint::ModelDrift,
        Endpoint::Scores,
        Endpoint::ManualAssessment,
        Endpoint::ModificationRequests,
        Endpoint::DecideRequest,
        Endpoint::ListConnectors,
        Endpoint::RegisterConnector,
        Endpoint::WithdrawConnector,
        Endpoint::ListTokens,
        Endpoint::IssueToken,
        Endpoint::RevokeOwnToken,
        Endpoint::RevokeUserTokens,
        Endpoint::DisableUser,
        Endpoint::AuthoriseBroker,
        Endpoint::WithdrawBroker,
        Endpoint::ReassignTask,
        Endpoint::ReassessmentJob,
    ];

    fn action(self) -> Action {
        match self {
            Endpoint::Lodge => Action::Lodge,
            Endpoint::Read
            | Endpoint::ReferenceList
            | Endpoint::List
            | Endpoint::Events
            | Endpoint::Estimate
            | Endpoint::Assessments
            | Endpoint::ListReleases
            | Endpoint::Selection
            | Endpoint::Payments
            | Endpoint::ModificationRequests => Action::Read,
            Endpoint::ManualAssessment => Action::Reassess,
            Endpoint::DecideRequest => Action::DecideModifications,
            Endpoint::ListConnectors => Action::ReadPaymentConnectors,
            Endpoint::RegisterConnector | Endpoint::WithdrawConnector => {
                Action::ManagePaymentConnectors
            }
            // Everybody lists and revokes their own tokens.
            Endpoint::ListTokens | Endpoint::RevokeOwnToken => Action::Read,
            Endpoint::IssueToken
            | Endpoint::RevokeUserTokens
            | Endpoint::DisableUser
            | Endpoint::AuthoriseBroker
            | Endpoint::WithdrawBroker => Action::ManageUsers,
            Endpoint::Amend => Action::Amend,
            Endpoint::Cancel => Action::Cancel,
            Endpoint::Release => Action::Release,
            Endpoint::AuditEntries | Endpoint::AuditVerification => Action::ReadAudit,
            Endpoint::Reassess | Endpoint::ReassessmentJob => Action::Reassess,
            Endpoint::ImportRelease
            | Endpoint::DryRun
            | Endpoint::ActivateRelease
            | Endpoint::RollBackRelease => Action::ManageReleases,
            Endpoint::ListRules | Endpoint::ListWatchList | Endpoint::RuleReference => {
                Action::ReadRules
            }
            Endpoint::AddWatchEntry | Endpoint::RemoveWatchEntry | Endpoint::ApproveWatchEntry => {
                Action::WriteRules
            }
            Endpoint::ProposeRule
            | Endpoint::TestRule
            | Endpoint::BacktestRule
            | Endpoint::ApproveRule
            | Endpoint::RetireRule => Action::WriteRules,
            Endpoint::ListTasks | Endpoint::DutyRoster => Action::ReadTasks,
            Endpoint::GoOnDuty | Endpoint::GoOffDuty => Action::KeepDuty,
            Endpoint::ReleaseTimes => Action::ReadStatistics,
            Endpoint::Hold => Action::Hold,
            Endpoint::AddAttachment => Action::RecordFindings,
            Endpoint::ListAttachments => Action::ReadTasks,
            Endpoint::ImportHistory
            | Endpoint::TrainModel
            | Endpoint::RequestTraining
            | Endpoint::PromoteModel
            | Endpoint::RollBackModel => Action::ManageModels,
            Endpoint::ListModels
            | Endpoint::TrainingJob
            | Endpoint::ModelDrift
            | Endpoint::Scores => Action::ReadRules,
            Endpoint::RecordFinding => Action::RecordFindings,
            Endpoint::Pay => Action::Pay,
            Endpoint::SetCreditLevel => Action::ManageCredit,
            Endpoint::ReassignTask => Action::ReassignTasks,
        }
    }

    fn success(self) -> StatusCode {
        if matches!(
            self,
            Endpoint::Lodge
                | Endpoint::Reassess
                | Endpoint::ImportRelease
                | Endpoint::ProposeRule
                | Endpoint::AddWatchEntry
                | Endpoint::AddAttachment
                | Endpoint::ImportHistory
                | Endpoint::TrainModel
                | Endpoint::ManualAssessment
                | Endpoint::RegisterConnector
                | Endpoint::IssueToken
        ) {
            StatusCode::CREATED
        } else if matches!(
            self,
            Endpoint::Amend | Endpoint::Cancel | Endpoint::RequestTraining
        ) {
            // Every declaration here waits for an assessment (by the engine or by hand): customs
            // has acted on it, so the trade's change is a request (修撤单).
            StatusCode::ACCEPTED
        } else if matches!(self, Endpoint::ReassessmentJob) {
            // Nothing runs a bulk job here (it needs a rolled-back release, which would change
            // what every other endpoint assesses with): a role allowed reaches the lookup and is
            // told there is no such job. The job read back is in `bulk_reassessment.rs`.
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        }
    }

    /// Whether it names a declaration, which the caller may not see.
    fn names_a_declaration(self) -> bool {
        matches!(
            self,
            Endpoint::Read
                | Endpoint::Events
                | Endpoint::Amend
                | Endpoint::Cancel
                | Endpoint::Release
                | Endpoint::Assessments
                | Endpoint::Reassess
                | Endpoint::Selection
                | Endpoint::Payments
                | Endpoint::Pay
                | Endpoint::Hold
                | Endpoint::Scores
                | Endpoint::ManualAssessment
                | Endpoint::ModificationRequests
                | Endpoint::DecideRequest
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
        Endpoint::ReferenceList => app.get("/v1/reference/customs_office", user).await,
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
            // Goods are released only once assessed and paid (the bank confirms).
            ensure_assessed(app, &id).await;
            app.settle(&id, &format!("pay-{id}")).await;
            app.post(&format!("{path}/release"), user, None, &json!({}))
                .await
        }
        Endpoint::AuditEntries => app.get("/v1/audit/entries?limit=10", user).await,
        Endpoint::AuditVerification => app.get("/v1/audit/verification", user).await,
        Endpoint::Estimate => {
            // On a day the sample exchange rates cover, whatever day the test runs.
            app.post(
                "/v1/estimates?date=2026-11-27",
                user,
                None,
                &own_document(user),
            )
            .await
        }
        Endpoint::Assessments => app.get(&format!("{path}/assessments"), user).await,
        Endpoint::Payments => app.get(&format!("{path}/payments"), user).await,
        Endpoint::Pay => {
            // Trade claims a payment; an officer accepts a guarantee. Both need an assessment.
            ensure_assessed(app, &id).await;
            let kind = if user == "officer" {
                "guarantee"
            } else {
                "payment"
            };
            let body = json!({ "kind": kind, "amount": "1.00", "reference": format!("ref-{id}") });
            app.post(&format!("{path}/payments"), user, None, &body)
                .await
        }
        Endpoint::Reassess => {
            let body = json!({"reason": "valuation checked"});
            app.post(&format!("{path}/assessments"), user, None, &body)
                .await
        }
        Endpoint::ImportRelease => app.post("/v1/releases", user, None, &fresh_rates()).await,
        Endpoint::ListReleases => app.get("/v1/releases?kind=tariff", user).await,
        Endpoint::DryRun => app.get("/v1/releases/TR-0001/dry-run?sample=5", user).await,
        Endpoint::ActivateRelease => {
            let imported = app
                .post("/v1/releases", "admin", None, &fresh_rates())
                .await;
            assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
            let id = imported.body["id"].as_str().unwrap();
            let body = json!({"effective_from": "2026-01-01"});
            app.post(&format!("/v1/releases/{id}/activation"), user, None, &body)
                .await
        }
        Endpoint::RollBackRelease => {
            let body = json!({"kind": "exchange_rates", "reason": "wrong month"});
            app.post("/v1/releases/rollback", user, None, &body).await
        }
        Endpoint::ProposeRule => app.post("/v1/rules", user, None, &inert_rule()).await,
        Endpoint::ListRules => app.get("/v1/rules?status=active", user).await,
        Endpoint::TestRule => {
            app.post("/v1/rules/test?sample=5", user, None, &inert_rule())
                .await
        }
        Endpoint::BacktestRule => {
            let period = "/v1/rules/backtest?from=2026-01-01&to=2026-12-31";
            app.post(period, user, None, &inert_rule()).await
        }
        Endpoint::RuleReference => app.get("/v1/rules/reference", user).await,
        Endpoint::ApproveRule => {
            // Proposed by another analyst than the caller: the author may never approve.
            let author = if user == "risk_analyst" {
                "other_risk_analyst"
            } else {
                "risk_analyst"
            };
            let (id, version) = proposed_rule(app, author).await;
            app.post(
                &format!("/v1/rules/{id}/versions/{version}/approval"),
                user,
                None,
                &json!({}),
            )
            .await
        }
        Endpoint::RetireRule => {
            let (id, version) = proposed_rule(app, "risk_analyst").await;
            let path = format!("/v1/rules/{id}/versions/{version}");
            let approved = app
                .post(
                    &format!("{path}/approval"),
                    "other_risk_analyst",
                    None,
                    &json!({}),
                )
                .await;
            assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
            let body = json!({"reason": "measure ended"});
            app.post(&format!("{path}/retirement"), user, None, &body)
                .await
        }
        Endpoint::Selection => app.get(&format!("{path}/selection"), user).await,
        Endpoint::AddWatchEntry => app.post("/v1/watch-list", user, None, &inert_entry()).await,
        Endpoint::ListWatchList => app.get("/v1/watch-list", user).await,
        Endpoint::RemoveWatchEntry => {
            let added = app
                .post("/v1/watch-list", "risk_analyst", None, &inert_entry())
                .await;
            assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
            let id = added.body["id"].as_str().unwrap();
            let body = json!({"reason": "cleared"});
            app.post(&format!("/v1/watch-list/{id}/removal"), user, None, &body)
                .await
        }
        Endpoint::ApproveWatchEntry => {
            // Proposed by another analyst than the caller: who proposed may never approve.
            let author = if user == "risk_analyst" {
                "other_risk_analyst"
            } else {
                "risk_analyst"
            };
            let added = app
                .post("/v1/watch-list", author, None, &inert_entry())
                .await;
            assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
            let id = added.body["id"].as_str().unwrap();
            app.post(
                &format!("/v1/watch-list/{id}/approval"),
                user,
                None,
                &json!({}),
            )
            .await
        }
        Endpoint::SetCreditLevel => {
            // `general` for the unrelated trader: no lane of the other calls changes.
            let body = json!({"level": "general", "reason": "rating confirmed"});
            let path = format!("/v1/enterprises/{OTHER_TRADER}/credit");
            app.post(&path, user, None, &body).await
        }
        Endpoint::ListTasks => app.get("/v1/tasks?mine=true&status=open", user).await,
        Endpoint::GoOnDuty => app.put("/v1/duty", user, &json!({"office": "2200"})).await,
        Endpoint::GoOffDuty => {
            let reply = app.delete("/v1/duty", user).await;
            // The officer keeps duty at 2200 otherwise: the tasks are drawn for it alone.
            on_duty(app, "officer").await;
            reply
        }
        Endpoint::DutyRoster => app.get("/v1/duty?office=2200", user).await,
        Endpoint::AddAttachment => {
            let task = open_task(app).await;
            let path = format!("/v1/tasks/{task}/attachments?file_name=seal.jpg");
            app.post_file(&path, user, None, b"\xff\xd8\xff\xe0seal".to_vec())
                .await
        }
        Endpoint::ListAttachments => {
            let task = open_task(app).await;
            app.get(&format!("/v1/tasks/{task}/attachments"), user)
                .await
        }
        Endpoint::ImportHistory => {
            app.post_file(
                HISTORY_PATH,
                user,
                Some("text/csv"),
                tiny_history().into_bytes(),
            )
            .await
        }
        Endpoint::TrainModel => {
            imported_history(app).await;
            app.post("/v1/models/training", user, None, &json!({"label": "t"}))
                .await
        }
        Endpoint::RequestTraining => {
            let body = json!({"label": "t"});
            app.post("/v1/models/training-jobs", user, None, &body)
                .await
        }
        Endpoint::TrainingJob => {
            // One job read by every role (nothing runs jobs here: they would pile up to
            // `TRAINING_JOBS_WAITING_MAX` and be refused).
            let body = json!({"label": "t"});
            let job = app
                .post(
                    "/v1/models/training-jobs",
                    "risk_analyst",
                    Some("access-job"),
                    &body,
                )
                .await;
            assert_eq!(job.status, StatusCode::ACCEPTED, "{}", job.text);
            let path = format!(
                "/v1/models/training-jobs/{}",
                job.body["job"].as_str().unwrap()
            );
            app.get(&path, user).await
        }
        Endpoint::ListModels => app.get("/v1/models", user).await,
        Endpoint::PromoteModel => {
            // Trained by another analyst than the caller: the author may never promote.
            let author = if user == "risk_analyst" {
                "other_risk_analyst"
            } else {
                "risk_analyst"
            };
            let id = trained_model(app, author).await;
            let reply = app
                .post(
                    &format!("/v1/models/{id}/promotion"),
                    user,
                    None,
                    &json!({}),
                )
                .await;
            if reply.status == StatusCode::OK {
                // No model stays in force: the other calls' lanes must not change.
                roll_back_models(app).await;
            }
            reply
        }
        Endpoint::RollBackModel => {
            let id = trained_model(app, "other_risk_analyst").await;
            let promoted = app
                .post(
                    &format!("/v1/models/{id}/promotion"),
                    "risk_analyst",
                    None,
                    &json!({}),
                )
                .await;
            assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
            let reply = app
                .post(
                    "/v1/models/rollback",
                    user,
                    None,
                    &json!({"reason": "review"}),
                )
                .await;
            if reply.status != StatusCode::OK {
                roll_back_models(app).await;
            }
            reply
        }
        Endpoint::ModelDrift => {
            let id = trained_model(app, "risk_analyst").await;
            app.get(&format!("/v1/models/{id}/drift?sample=10"), user)
                .await
        }
        Endpoint::Scores => app.get(&format!("{path}/scores"), user).await,
        Endpoint::ListTokens => app.get("/v1/tokens", user).await,
        Endpoint::IssueToken => {
            let body = json!({"user": SPARE_USER, "expires_in_days": 1});
            app.post("/v1/tokens", user, None, &body).await
        }
        Endpoint::RevokeOwnToken => {
            // Without a token, some user's: it is refused before it is looked at.
            let owner = if user == ANONYMOUS { "auditor" } else { user };
            let body = json!({"user": owner, "expires_in_days": 1});
            let issued = app.post("/v1/tokens", "admin", None, &body).await;
            assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
            let id = issued.body["id"].as_str().unwrap();
            app.post(
                &format!("/v1/tokens/{id}/revocation"),
                user,
                None,
                &json!({}),
            )
            .await
        }
        Endpoint::RevokeUserTokens => {
            let path = format!("/v1/users/{SPARE_USER}/tokens/revocation");
            app.post(&path, user, None, &json!({})).await
        }
        Endpoint::DisableUser => {
            let path = format!("/v1/users/{SPARE_USER}/disablement");
            app.post(&path, user, None, &json!({"reason": "left"}))
                .await
        }
        Endpoint::AuthoriseBroker => {
            let path = format!("/v1/enterprises/{OTHER_TRADER}/brokers/{BROKER}/authorisation");
            app.post(&path, user, None, &json!({})).await
        }
        Endpoint::WithdrawBroker => {
            // In force first (granted by the administrator), so that each call meets it.
            let grant = format!("/v1/enterprises/{OTHER_TRADER}/brokers/{BROKER}/authorisation");
            let granted = app.post(&grant, "admin", None, &json!({})).await;
            assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
            let path = format!("/v1/enterprises/{OTHER_TRADER}/brokers/{BROKER}/withdrawal");
            app.post(&path, user, None, &json!({"reason": "contract ended"}))
                .await
        }
        Endpoint::Hold => {
            let body = json!({"reason": "seal broken"});
            app.post(&format!("{path}/hold"), user, None, &body).await
        }
        Endpoint::ReleaseTimes => {
            let query = "from=2026-11-01&to=2026-11-30&office=2200";
            app.get(&format!("/v1/statistics/release-times?{query}"), user)
                .await
        }
        Endpoint::ManualAssessment => {
            let body = json!({"customs_duty": "0", "import_vat": "13.00", "reason": "no line"});
            app.post(&format!("{path}/assessments/manual"), user, None, &body)
                .await
        }
        Endpoint::ModificationRequests => {
            app.get(&format!("{path}/modification-requests"), user)
                .await
        }
        Endpoint::DecideRequest => {
            let owner = if user == "declarant" {
                "declarant"
            } else {
                "broker"
            };
            let body = json!({"reason": "voyage corrected", "declaration": document});
            let requested = app
                .post(&format!("{path}/amendments"), owner, None, &body)
                .await;
            assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.text);
            let request = requested.body["request"].as_str().unwrap();
            app.post(
                &format!("{path}/modification-requests/{request}/decision"),
                user,
                None,
                &json!({"approve": false, "reason": "send the corrected bill of lading"}),
            )
            .await
        }
        Endpoint::ListConnectors => app.get("/v1/payment-connectors", user).await,
        Endpoint::RegisterConnector => {
            app.post("/v1/payment-connectors", user, None, &extra_bank(&id))
                .await
        }
        Endpoint::WithdrawConnector => {
            let registered = app
                .post("/v1/payment-connectors", "admin", None, &extra_bank(&id))
                .await;
            assert_eq!(
                registered.status,
                StatusCode::CREATED,
                "{}",
                registered.text
            );
            let connector = registered.body["id"].as_str().unwrap();
            app.post(
                &format!("/v1/payment-connectors/{connector}/withdrawal"),
                user,
                None,
                &json!({}),
            )
            .await
        }
        Endpoint::ReassignTask => {
            // To the second officer, on duty for the moment, and back again: the access test's
            // tasks stay the first officer's.
            let task = open_task(app).await;
            on_duty(app, SECOND_OFFICER).await;
            let body = json!({"officer": SECOND_OFFICER, "reason": "queue evened out"});
            let path = format!("/v1/tasks/{task}/reassignment");
            let reply = app.post(&path, user, None, &body).await;
            if reply.status == StatusCode::OK {
                let back = json!({"officer": "officer", "reason": "back"});
                let returned = app.post(&path, user, None, &back).await;
                assert_eq!(returned.status, StatusCode::OK, "{}", returned.text);
            }
            let off = app.delete("/v1/duty", SECOND_OFFICER).await;
            assert_eq!(off.status, StatusCode::OK, "{}", off.text);
            reply
        }
        Endpoint::ReassessmentJob => app.get("/v1/reassessments/access-job", user).await,
        Endpoint::RecordFinding => {
            let task = open_task(app).await;
            let body = json!({"discrepancy": false, "note": "as declared"});
            app.post(&format!("/v1/tasks/{task}/finding"), user, None, &body)
                .await
        }
    }
}

/// An officer beyond `USERS`, on duty only while a reassignment is tried.
const SECOND_OFFICER: &str = "second_officer";
static EXTRA_USERS: [(&str, Role, Option<&str>); 1] = [(SECOND_OFFICER, Role::Officer, None)];

async fn on_duty(app: &TestApp, officer: &str) {
    let reply = app
        .put("/v1/duty", officer, &json!({"office": "2200"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

const HISTORY_PATH: &str = "/v1/history?format=kcs&label=tiny";

/// An officer assesses the declaration by hand when the engine did not.
async fn ensure_assessed(app: &TestApp, id: &str) {
    let owed = app
        .get(&format!("/v1/declarations/{id}/payments"), "officer")
        .await;
    if owed.body["assessed"] == false {
        app.assess_by_hand(id, "13.00").await;
    }
}

/// Another bank's connector, a fresh id per call (never the test bank, which stays in force).
fn extra_bank(seed: &str) -> Value {
    let digits: String = seed
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let bank = clearance::payments::SimulatedBank::new("X", [3; 32]);
    json!({
        "id": format!("BANK-{}", digits.to_ascii_uppercase()),
        "name": "Another bank",
        "public_key": bank.public_key_hex(),
    })
}

/// A tiny labelled history in the KCS format, different at every call (so never refused as
/// imported before): 40 items of 2026, one in four found misdeclared.
fn tiny_history() -> String {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut text =
        "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,\
Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,\
Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,\
Critical Fraud\n"
            .to_owned();
    for i in 0..40 {
        let fraud = u32::from(i % 4 == 0);
        text.push_str(&format!(
            "{call}{i:03},2026-01-{:02},2200,B,11,21,11,2,D{},I{},S{},,847130,US,US,0.0,A,N,{}.0,{}.50,{fraud},0\n",
            1 + i % 28,
            i % 3,
            i % 5,
            i % 7,
            10 + i,
            100 + i * 13,
        ));
    }
    text
}

async fn imported_history(app: &TestApp) {
    let imported = app
        .post_file(
            HISTORY_PATH,
            "risk_analyst",
            Some("text/csv"),
            tiny_history().into_bytes(),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
}

/// A model in shadow trained by `author` (a risk analyst), and its id.
pub(crate) async fn trained_model(app: &TestApp, author: &str) -> String {
    imported_history(app).await;
    let trained = app
        .post("/v1/models/training", author, None, &json!({"label": "t"}))
        .await;
    assert_eq!(trained.status, StatusCode::CREATED, "{}", trained.text);
    trained.body["id"].as_str().unwrap().to_owned()
}

async fn roll_back_models(app: &TestApp) {
    let body = json!({"reason": "test over"});
    let rolled = app
        .post("/v1/models/rollback", "risk_analyst", None, &body)
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
}

/// The origin only `open_task`'s declarations have: `INSPECT_KOREAN_GOODS` selects them.
const TASK_ORIGIN: &str = "KR";

/// A rule in force that asks for a document check of goods from `TASK_ORIGIN`, and nothing else.
async fn inspect_korean_goods(app: &TestApp) {
    let rule = json!({
        "purpose": "safety",
        "action": "document_check",
        "expected_selection_rate": "1",
        "priority": 10,
        "reason_en": "goods of the access test",
        "reason_zh": "访问测试的货物",
        "expression": format!("item.origin_country == \"{TASK_ORIGIN}\""),
    });
    let proposed = app.post("/v1/rules", "risk_analyst", None, &rule).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    let id = proposed.body["id"].as_str().unwrap();
    let approved = app
        .post(
            &format!("/v1/rules/{id}/versions/1/approval"),
            "other_risk_analyst",
            None,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
}

/// A fresh open task, assigned to the only officer: the broker lodges goods from `TASK_ORIGIN`.
async fn open_task(app: &TestApp) -> String {
    let mut document = example();
    document["items"][0]["origin_country"] = json!(TASK_ORIGIN);
    let id = app.lodged_id("broker", &document).await;
    let queue = app.get("/v1/tasks?mine=true&status=open", "officer").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
    queue.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["declaration_id"] == json!(id))
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("a task for {id}: {}", queue.text))
        .to_owned()
}

/// A rule that matches none of the tests' declarations, so that it changes no lane.
fn inert_rule() -> Value {
    json!({
        "purpose": "safety",
        "action": "document_check",
        "expected_selection_rate": "0.5",
        "priority": 10,
        "reason_en": "nothing of ours",
        "reason_zh": "不涉及",
        "expression": "item.origin_country == \"AQ\"",
    })
}

/// A watch-list entry no test declaration names.
fn inert_entry() -> Value {
    json!({
        "kind": "seller",
        "value": "Nobody Trading Ltd.",
        "reason_en": "nothing of ours",
        "reason_zh": "不涉及",
        "action": "document_check",
    })
}

/// Proposes `inert_rule` as `author`; its id and version.
async fn proposed_rule(app: &TestApp, author: &str) -> (String, u64) {
    let proposed = app.post("/v1/rules", author, None, &inert_rule()).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    (
        proposed.body["id"].as_str().unwrap().to_owned(),
        proposed.body["version"].as_u64().unwrap(),
    )
}

/// The sample exchange-rate table with a comment that makes its files differ from every other
/// import's (the same files are imported once).
fn fresh_rates() -> Value {
    static IMPORTS: AtomicUsize = AtomicUsize::new(0);
    let n = IMPORTS.fetch_add(1, Ordering::Relaxed);
    let text = format!("# copy {n}\n{}", sample_file("exchange_rates.csv"));
    rates_import(&format!("copy {n}"), &text)
}

#[tokio::test]
async fn every_role_gets_what_the_access_matrix_promises_on_every_endpoint() {
    // A second officer, off duty but for a reassignment: the officer on duty gets every task.
    let app = spawn_app_with_users(&EXTRA_USERS).await;
    on_duty(&app, "officer").await;
    // TR-0001 and XR-0001, so that estimates and dry runs have something to work with.
    app.activate_sample_releases("2026-01-01").await;
    inspect_korean_goods(&app).await;
    let mut mismatches = Vec::new();
    for (user, role, _) in USERS {
        let sees_the_traders_declarations = user != "other_declarant";
        for endpoint in Endpoint::ALL {
            let reply = call(&app, user, endpoint).await;
            let want = match endpoint {
                // The enterprise that granted an authorisation withdraws it too.
                Endpoint::WithdrawBroker if user == "other_declarant" => StatusCode::OK,
                _ => expected(role, endpoint, sees_the_traders_declarations),
            };
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
    // And without a token: every endpoint answers 401 before anything else.
    for endpoint in Endpoint::ALL {
        let reply = call(&app, ANONYMOUS, endpoint).await;
        if reply.status != StatusCode::UNAUTHORIZED {
            mismatches.push(format!(
                "no token {endpoint:?}: want 401, got {} {}",
                reply.status, reply.text
            ));
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
    let last_actions: Vec<&str> = entries[entries.len() - 4..]
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        last_actions,
        [
            "declaration.accepted",
            "declaration.assessed",
            "task.created",
            "declaration.targeted"
        ],
        "the lodging, its assessment (not made: no release in force, so a manual-assessment \
         task) and its selection at acceptance"
    );
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

#[tokio::test]
async fn an_administrator_sets_a_credit_level_field_by_field() {
    let app = spawn_app().await;
    let path = format!("/v1/enterprises/{TRADER}/credit");

    let set = app
        .post(
            &path,
            "admin",
            None,
            &json!({"level": "untrustworthy", "reason": "失信企业认定 2026-17"}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.body["credit_code"], TRADER);
    assert_eq!(set.body["level"], "untrustworthy");
    assert_eq!(set.body["previous_level"], Value::Null);
    assert!(set.body["seq"].as_u64().is_some(), "{}", set.text);

    let again = app
        .post(
            &path,
            "admin",
            None,
            &json!({"level": "general", "reason": "restored"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["previous_level"], "untrustworthy");

    let wrong = app
        .post(
            &path,
            "admin",
            None,
            &json!({"level": "excellent", "reason": ""}),
        )
        .await;
    wrong.assert_problem(422);
    let paths: Vec<&str> = wrong.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["level", "reason"], "{}", wrong.text);

    // A well-formed code (its check character right) that no enterprise is registered with:
    // refused as not registered, not by the check character.
    let unknown = app
        .post(
            "/v1/enterprises/91310000MA1FL0002W/credit",
            "admin",
            None,
            &json!({"level": "general", "reason": "rating"}),
        )
        .await;
    unknown.assert_problem(422);
    assert_eq!(
        unknown.body["errors"][0]["path"], "credit_code",
        "{}",
        unknown.text
    );
    assert_eq!(
        unknown.body["errors"][0]["code"], "not_allowed",
        "{}",
        unknown.text
    );
    assert!(
        unknown.body["errors"][0]["message_en"]
            .as_str()
            .unwrap()
            .contains("is registered"),
        "{}",
        unknown.text
    );

    let by_officer = app
        .post(
            &path,
            "officer",
            None,
            &json!({"level": "general", "reason": "x"}),
        )
        .await;
    by_officer.assert_problem(403);
}
