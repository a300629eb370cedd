//! The handlers of clearance statistics for customs roles: the time from lodging to release of
//! the declarations released in a period (通关时间).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::extract::{Authenticated, PeriodQuery};
use crate::problem::ApiError;

/// Release times of a period. Members: `from`, `to` (inclusive days), `office` (or `null`: every
/// office), `released` (how many declarations' goods were released), `released_within_24h`,
/// `mean_seconds`, `p50_seconds`, `p90_seconds`, `p99_seconds`, `max_seconds` (nearest-rank
/// percentiles of the time from lodging to release; `null` when none was released).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ReleaseTimesView(Value);

#[utoipa::path(
    get,
    path = "/v1/statistics/release-times",
    tag = "statistics",
    summary = "Time from lodging to release",
    description = "For customs roles. The declarations whose goods were released in the period (days in \
                   the administration's time zone, both inclusive, at most 366), at one office of lodging or \
                   all: how many, the mean and the 50th, 90th and 99th percentiles and the longest time from \
                   lodging to release, and how many within 24 hours.",
    params(
        ("from" = String, Query, description = "First day, YYYY-MM-DD"),
        ("to" = String, Query, description = "Last day, YYYY-MM-DD (inclusive)"),
        ("office" = Option<String>, Query, description = "Customs office of lodging, e.g. 2200"),
    ),
    responses(
        (status = 200, description = "The release times", body = ReleaseTimesView),
        (status = 403, description = "The role may not read clearance statistics", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A parameter is missing, wrong or unknown, or the period is longer \
            than 366 days; the problem names it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn release_times<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    query: PeriodQuery,
) -> Result<Json<ReleaseTimesView>, ApiError> {
    let view = state
        .clearance
        .release_times(&caller, &query.from, &query.to, query.office.as_deref())
        .await?;
    Ok(Json(ReleaseTimesView(view)))
}
