//! Token and user lifecycle over HTTP: tokens listed (administrators all, anybody else their
//! own), issued with an expiry, revoked by id or all of a user's at once; users disabled; a
//! broker's authorisation withdrawn. Every change is an event in the audit chain; the CLI
//! (`customs admin ...`) does the same as an administrator with a token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clearance::{Action, ClearanceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::assessing::parse_body;
use crate::extract::{
    Authenticated, BrokerAuthorisationRef, JsonBody, TokenRef, TokensQuery, UserRef,
};
use crate::problem::ApiError;

/// A token to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// The user's name.
    user: String,
    /// Days it stays valid, 1 to 366 (default 90).
    expires_in_days: Option<u32>,
}

/// Why: a reason kept in the audit chain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonRequest {
    reason: String,
}

/// Tokens, never their secrets nor hashes: `tokens`, each with `id`, `user`, `user_id`,
/// `issued_at`, `expires_at`, `status` (`active`, `expired`, `revoked`) and `revoked_seq`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct TokenListView(Value);

/// A token as issued: `id`, `token` (the secret, shown this once), `user`, `expires_at`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct IssuedTokenView(Value);

/// The outcome of a lifecycle change (a token's new state, the tokens revoked, the user
/// disabled, the authorisation withdrawn).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct LifecycleView(Value);

fn token_refusal(error: ClearanceError) -> ApiError {
    match error {
        ClearanceError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "token-not-found",
            "Token not found",
            "no token with this id is visible to you".into(),
            "没有您可查看的此编号令牌".into(),
        ),
        other => other.into(),
    }
}

#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "administration",
    summary = "List bearer tokens",
    description = "Administrators list everybody's tokens (or one user's with `user`); anybody else \
                   lists their own. Never the secret nor its hash.",
    params(("user" = Option<String>, Query, description = "A user's name")),
    responses(
        (status = 200, description = "The tokens", body = TokenListView),
        (status = 403, description = "Another user's tokens, asked by someone who is not an administrator",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn tokens<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: TokensQuery,
) -> Result<Json<TokenListView>, ApiError> {
    let view = state
        .clearance
        .tokens_as(&caller, query.user.as_deref())
        .await?;
    Ok(Json(TokenListView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "administration",
    summary = "Issue a bearer token",
    description = "For administrators. The secret is in this answer only; the platform keeps its SHA-256. \
                   The token expires after `expires_in_days` (default 90, at most 366).",
    request_body(content = TokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Issued", body = IssuedTokenView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such user, a disabled user, or a lifetime out of range",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn issue_token<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: TokenRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    let view = state
        .clearance
        .issue_token_view(&caller, &request.user, request.expires_in_days)
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedTokenView(view))).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/tokens/{id}/revocation",
    tag = "administration",
    summary = "Revoke a bearer token",
    description = "Administrators revoke any token, anybody else their own. It stops working at once \
                   (401 `token-revoked`). Revoking a revoked token changes nothing.",
    params(("id" = String, Path, description = "The token's id, `T-...`")),
    responses(
        (status = 200, description = "The token, revoked", body = LifecycleView),
        (status = 404, description = "No such token is visible to the caller", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_token<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    TokenRef(id): TokenRef,
) -> Result<Json<LifecycleView>, ApiError> {
    let view = state
        .clearance
        .revoke_token_as(&caller, &id)
        .await
        .map_err(token_refusal)?;
    Ok(Json(LifecycleView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/users/{name}/tokens/revocation",
    tag = "administration",
    summary = "Revoke every token of a user",
    description = "Administrators for anybody, anybody else for themselves. Answers the ids revoked.",
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "The tokens revoked", body = LifecycleView),
        (status = 403, description = "Another user's tokens, by someone who is not an administrator",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_user_tokens<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    UserRef(name): UserRef,
) -> Result<Json<LifecycleView>, ApiError> {
    let view = state
        .clearance
        .revoke_user_tokens_as(&caller, &name)
        .await?;
    Ok(Json(LifecycleView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/users/{name}/disablement",
    tag = "administration",
    summary = "Disable a user",
    description = "For administrators (not themselves). The user's tokens stop working at once \
                   (401 `user-disabled`) and an officer is drawn for no new task. Kept, not deleted. \
                   The answer lists the officer's tasks still open (`open_tasks`).",
    params(("name" = String, Path, description = "The user's name")),
    request_body(content = ReasonRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user, disabled", body = LifecycleView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such user, oneself, or no reason", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn disable_user<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    UserRef(name): UserRef,
    JsonBody(body): JsonBody,
) -> Result<Json<LifecycleView>, ApiError> {
    let request: ReasonRequest = parse_body(&caller, Action::ManageUsers, &body)?;
    let view = state
        .clearance
        .disable_user_as(&caller, &name, &request.reason)
        .await?;
    Ok(Json(LifecycleView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/enterprises/{credit_code}/brokers/{broker}/withdrawal",
    tag = "administration",
    summary = "Withdraw a broker's authorisation",
    description = "By an administrator or a declarant of the enterprise that granted it. From now on the \
                   broker neither declares for the enterprise nor sees its declarations other than those \
                   it declared itself, and amends or cancels none of them.",
    params(
        ("credit_code" = String, Path, description = "The credit code of the enterprise that authorised the broker"),
        ("broker" = String, Path, description = "The broker enterprise's credit code"),
    ),
    request_body(content = ReasonRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Withdrawn", body = LifecycleView),
        (status = 403, description = "Neither an administrator nor the enterprise's declarant", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No such enterprise, no authorisation in force, or no reason",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn withdraw_broker<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    pair: BrokerAuthorisationRef,
    JsonBody(body): JsonBody,
) -> Result<Json<LifecycleView>, ApiError> {
    // The service decides who may (an administrator, or the principal's declarant).
    let request: ReasonRequest = wire::parse_json(&body).map_err(|e| ApiError::invalid(&[e]))?;
    let view = state
        .clearance
        .withdraw_broker_as(&caller, &pair.principal, &pair.broker, &request.reason)
        .await?;
    Ok(Json(LifecycleView(view)))
}

#[utoipa::path(
    post,
    path = "/v1/enterprises/{credit_code}/brokers/{broker}/authorisation",
    tag = "administration",
    summary = "Record a broker's authorisation",
    description = "For administrators: the enterprise authorised the broker to declare on its behalf. \
                   Already in force: nothing new is recorded.",
    params(
        ("credit_code" = String, Path, description = "The credit code of the enterprise that authorises the broker"),
        ("broker" = String, Path, description = "The broker enterprise's credit code"),
    ),
    responses(
        (status = 200, description = "In force", body = LifecycleView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn authorise_broker<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    pair: BrokerAuthorisationRef,
) -> Result<Json<LifecycleView>, ApiError> {
    state
        .clearance
        .authorise_broker_as(&caller, &pair.broker, &pair.principal)
        .await?;
    Ok(Json(LifecycleView(serde_json::json!({
        "principal": pair.principal, "broker": pair.broker, "authorised": true,
    }))))
}
