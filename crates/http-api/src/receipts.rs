//! The receipts feed and the enterprise's webhook: its registration, replay and dead letters.
//! Delivery itself is `webhooks`.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use domain::FieldError;
use serde::Serialize;
use store::Store;
use utoipa::ToSchema;
use wire::{DeadLetterPage, Problem, ReceiptFeedPage, WebhookRequest, WebhookView};

use crate::AppState;
use crate::extract::{Authenticated, JsonBody, query_pairs};
use crate::problem::ApiError;
use crate::webhooks::{DeliveryPolicy, redeliver};

/// `?after=&limit=&enterprise=`: each route takes the ones it names; others are refused.
pub(crate) struct FeedQuery {
    after: Option<String>,
    limit: Option<usize>,
    enterprise: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for FeedQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut query = FeedQuery {
            after: None,
            limit: None,
            enterprise: None,
        };
        let mut errors = Vec::new();
        for (name, value) in query_pairs(parts)? {
            match name.as_str() {
                "after" => query.after = Some(value),
                "enterprise" => query.enterprise = Some(value),
                "limit" => match value.parse() {
                    Ok(limit) => query.limit = Some(limit),
                    Err(_) => errors.push(FieldError::invalid_format(
                        "limit",
                        "a whole number",
                        "整数",
                    )),
                },
                _ => errors.push(FieldError::unknown_field(&name)),
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(ApiError::invalid(&errors))
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/receipts",
    tag = "receipts",
    summary = "The receipts feed (回执)",
    description = "Every receipt of every declaration the caller's enterprise may see (as trader, declarant or authorised broker), oldest first, each with its declaration and a cursor. For declarants and brokers; customs roles get 403. Receipts are built from an allow-list: never a targeting reason, rule, score, officer or note.",
    params(
        ("after" = Option<String>, Query, description = "A cursor from this feed (`cursor` of a receipt or `next_after`); absent or 0 for the beginning"),
        ("limit" = Option<usize>, Query, description = "Receipts per page, 1 to 500 (default 100)"),
    ),
    responses(
        (status = 200, description = "One page of receipts", body = ReceiptFeedPage),
        (status = 403, description = "A customs role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn receipts<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
) -> Result<Json<ReceiptFeedPage>, ApiError> {
    if query.enterprise.is_some() {
        return Err(ApiError::invalid(&[FieldError::unknown_field(
            "enterprise",
        )]));
    }
    Ok(Json(
        state
            .clearance
            .receipts(&caller, query.after.as_deref(), query.limit)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/webhook",
    tag = "receipts",
    summary = "Register the enterprise's webhook",
    description = "Every receipt of the feed is POSTed to the URL, signed: `Customs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`. The secret is in this answer only. Registering again replaces the webhook (and its secret). Declarants and brokers register their own enterprise's; an administrator names the enterprise.",
    params(("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code")),
    request_body = WebhookRequest,
    responses(
        (status = 201, description = "Registered; the secret is shown once", body = WebhookView),
        (status = 403, description = "The role may not manage this enterprise's webhook", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The URL is not http(s), or targets a private network", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    only_enterprise(&query)?;
    let view = state
        .clearance
        .register_webhook(
            &caller,
            query.enterprise.as_deref(),
            &body,
            state.config.webhook_private_targets,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

fn only_enterprise(query: &FeedQuery) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if query.after.is_some() {
        errors.push(FieldError::unknown_field("after"));
    }
    if query.limit.is_some() {
        errors.push(FieldError::unknown_field("limit"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&errors))
    }
}

#[utoipa::path(
    get,
    path = "/v1/webhook",
    tag = "receipts",
    summary = "The enterprise's webhook and how far it was delivered",
    params(("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code")),
    responses(
        (status = 200, description = "The webhook, without its secret", body = WebhookView),
        (status = 404, description = "No webhook is registered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn webhook<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
) -> Result<Json<WebhookView>, ApiError> {
    only_enterprise(&query)?;
    Ok(Json(
        state
            .clearance
            .webhook(&caller, query.enterprise.as_deref())
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/webhook",
    tag = "receipts",
    summary = "Remove the enterprise's webhook",
    params(("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code")),
    responses(
        (status = 204, description = "Removed: nothing more is delivered"),
        (status = 404, description = "No webhook is registered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
) -> Result<StatusCode, ApiError> {
    only_enterprise(&query)?;
    state
        .clearance
        .delete_webhook(&caller, query.enterprise.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/webhook/replay",
    tag = "receipts",
    summary = "Deliver the receipts after a cursor again",
    description = "Sets the webhook's delivered cursor back to `after`: every receipt after it is delivered again, in order.",
    params(
        ("after" = String, Query, description = "A cursor from the feed; 0 for the beginning"),
        ("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code"),
    ),
    responses(
        (status = 200, description = "The webhook, its cursor set back", body = WebhookView),
        (status = 404, description = "No webhook is registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The cursor is missing or not one of this feed's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replay<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
) -> Result<Json<WebhookView>, ApiError> {
    if query.limit.is_some() {
        return Err(ApiError::invalid(&[FieldError::unknown_field("limit")]));
    }
    let Some(after) = query.after.as_deref() else {
        return Err(ApiError::invalid(&[FieldError::required("after")]));
    };
    Ok(Json(
        state
            .clearance
            .replay_webhook(&caller, query.enterprise.as_deref(), after)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/webhook/dead-letters",
    tag = "receipts",
    summary = "Receipts that failed every delivery attempt",
    params(("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code")),
    responses((status = 200, description = "Oldest first", body = DeadLetterPage)),
    security(("bearer" = []))
)]
pub(crate) async fn dead_letters<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: FeedQuery,
) -> Result<Json<DeadLetterPage>, ApiError> {
    only_enterprise(&query)?;
    Ok(Json(
        state
            .clearance
            .dead_letters(&caller, query.enterprise.as_deref())
            .await?,
    ))
}

/// The outcome of delivering a dead letter again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Redelivery {
    /// True when the receiver answered 2xx: the dead letter is gone.
    delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/webhook/dead-letters/{id}/redelivery",
    tag = "receipts",
    summary = "Deliver a dead letter again, now",
    description = "One signed attempt, as sent the first time (a new signature and timestamp).",
    params(
        ("id" = String, Path, description = "The dead letter's id"),
        ("enterprise" = Option<String>, Query, description = "An administrator: the enterprise's credit code"),
    ),
    responses(
        (status = 200, description = "Whether the receiver took it", body = Redelivery),
        (status = 404, description = "No such dead letter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn redeliver_dead_letter<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    query: FeedQuery,
) -> Result<Json<Redelivery>, ApiError> {
    only_enterprise(&query)?;
    let (webhook, letter) = state
        .clearance
        .dead_letter(&caller, query.enterprise.as_deref(), &id)
        .await?;
    let policy = DeliveryPolicy::production(state.config.webhook_private_targets);
    let outcome = redeliver(&state.clearance, &policy, &webhook, &letter).await?;
    Ok(Json(Redelivery {
        delivered: outcome.is_ok(),
        error: outcome.err(),
    }))
}
