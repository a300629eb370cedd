//! The handlers of enterprise administration over HTTP: an enterprise's credit level
//! (企业信用等级), which targeting reads at every acceptance. Administrators only; the CLI
//! (`customs admin credit`) does the same on the data folder.

use axum::Json;
use axum::extract::State;
use clearance::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::assessing::parse_body;
use crate::extract::{Authenticated, EnterpriseRef, JsonBody};
use crate::problem::ApiError;

/// An enterprise's new credit level, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreditLevelRequest {
    /// `advanced_certified` (高级认证企业), `general_certified` (一般认证企业), `general`
    /// (一般信用企业, the level of an enterprise never rated) or `untrustworthy` (失信企业).
    level: String,
    /// The rating decision, e.g. its reference.
    reason: String,
}

/// A change of credit level. Members: `credit_code`; `level`; `previous_level` (`null` when none
/// was set, which targeting reads as `general`); `reason`; `seq` (the audit-chain entry).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct CreditLevelView(Value);

#[utoipa::path(
    post,
    path = "/v1/enterprises/{credit_code}/credit",
    tag = "administration",
    summary = "Set an enterprise's credit level",
    description = "For administrators. Every change is recorded in the audit chain and kept. Declarations \
                   accepted from now on with the enterprise as trader are targeted with the new level: its \
                   random-selection modifier (untrustworthy: 80 % or more) and rules on `credit`.",
    params(("credit_code" = String, Path, description = "The enterprise's unified social credit code")),
    request_body(content = CreditLevelRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The change", body = CreditLevelView),
        (status = 403, description = "The role may not set credit levels", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request has errors, each naming its field (an enterprise not \
                                      registered: `credit_code`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set_credit_level<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    EnterpriseRef(credit_code): EnterpriseRef,
    JsonBody(body): JsonBody,
) -> Result<Json<CreditLevelView>, ApiError> {
    let request: CreditLevelRequest = parse_body(&caller, Action::ManageCredit, &body)?;
    let view = state
        .clearance
        .set_credit_level_as(&caller, &credit_code, &request.level, &request.reason)
        .await?;
    Ok(Json(CreditLevelView(view)))
}
