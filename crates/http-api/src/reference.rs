//! `GET /v1/reference/{list}`: the code list in force for clients (the codes a declaration must
//! use), with the release it comes from. The releases themselves are managed under
//! `/v1/releases` with the list's name as their kind (`crate::assessing`).

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;
use clearance::ClearanceError;
use domain::FieldError;
use serde::Serialize;
use serde_json::Value;
use store::Store;
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::extract::{Authenticated, ListRef, parse_date, query_pairs, single_params};
use crate::problem::ApiError;

/// A code list in force. Members: `list`; `on` (the day asked about, today by default);
/// `release` (the reference release's id, e.g. RCO-0001, or the SAMPLE profile's version
/// `cn-sample-2026` when no release of the list is in force) and `effective_from` (the day it
/// took effect); `total` (entries in the list); `page`, `size`; `entries` (each `code`,
/// `name_en`, `name_zh`, `valid_from`, `valid_to`; for `statutory_unit`, `hs_prefix` and
/// `units`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct ReferenceListView(Value);

/// `?date=&page=&size=` of a code list, each optional.
pub(crate) struct ReferenceQuery {
    date: Option<NaiveDate>,
    page: Option<usize>,
    size: Option<usize>,
}

impl<S: Send + Sync> FromRequestParts<S> for ReferenceQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = single_params(query_pairs(parts)?, &["date", "page", "size"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let mut errors = Vec::new();
        let date = params
            .get("date")
            .and_then(|raw| parse_date("date", raw).map_err(|e| errors.push(e)).ok());
        let mut number = |name: &str| {
            params.get(name).and_then(|raw| {
                raw.parse::<usize>()
                    .map_err(|_| {
                        errors.push(FieldError::invalid_format(name, "a whole number", "整数"))
                    })
                    .ok()
            })
        };
        let (page, size) = (number("page"), number("size"));
        if !errors.is_empty() {
            return Err(ApiError::invalid(&errors));
        }
        Ok(ReferenceQuery { date, page, size })
    }
}

fn unknown_list(list: &str) -> ApiError {
    let shown: String = list.chars().take(64).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "reference-list-not-found",
        "Code list not found",
        format!(
            "there is no code list `{shown}`: the lists are country, currency, unit, package_type, \
             hs_subheading, customs_office, customs_procedure, levy_nature, levy_mode, \
             transport_mode, document_type, incoterm and statutory_unit"
        ),
        format!("不存在代码表 `{shown}`"),
    )
}

#[utoipa::path(
    get,
    path = "/v1/reference/{list}",
    tag = "reference",
    summary = "A code list in force",
    description = "For every authenticated user. The code list in force on `date` (today by default): \
                   the reference release of the list in force on that day, or the China SAMPLE profile \
                   when none is, with the release's id and effective date, and a page of its entries in \
                   code order. `size` is 1 to 1000 (`REFERENCE_PAGE_SIZE_MAX`, default 500); `page` \
                   starts at 1.",
    params(
        ("list" = String, Path, description = "country, currency, unit, package_type, hs_subheading, \
            customs_office, customs_procedure, levy_nature, levy_mode, transport_mode, document_type, \
            incoterm or statutory_unit"),
        ("date" = Option<String>, Query, description = "The day, YYYY-MM-DD (default today)"),
        ("page" = Option<usize>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
        ("size" = Option<usize>, Query, minimum = 1, maximum = 1000,
            description = "Entries per page, 1 to 1000 (default 500)"),
    ),
    responses(
        (status = 200, description = "The list in force", body = ReferenceListView),
        (status = 404, description = "No such code list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong or unknown, or out of range; the problem names it",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn reference_list<S: Store>(
    State(state): State<AppState<S>>,
    Authenticated(caller): Authenticated,
    ListRef(list): ListRef,
    query: ReferenceQuery,
) -> Result<Json<ReferenceListView>, ApiError> {
    match state
        .clearance
        .reference_list(&caller, &list, query.date, query.page, query.size)
        .await
    {
        Ok(view) => Ok(Json(ReferenceListView(view))),
        Err(ClearanceError::NotFound) => Err(unknown_list(&list)),
        Err(error) => Err(error.into()),
    }
}
