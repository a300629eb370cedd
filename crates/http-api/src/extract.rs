//! Extractors that turn transport concerns (headers, path, query string, body) into what the
//! clearance service takes, and reject with problems rather than axum's plain-text rejections.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::NaiveDate;
use clearance::releases::ReleaseKind;
use clearance::{Caller, ClearanceError, ListFilter};
use domain::FieldError;
use store::Store;

use crate::AppState;
use crate::problem::ApiError;

pub(crate) const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The caller the guard authenticated (see `guard`).
pub(crate) struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Absent only if a route was mounted without the guard: refusing is the safe answer.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// The optional `Idempotency-Key` header, as the service validates it.
pub(crate) struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKey(None));
        };
        if values.next().is_some() {
            let error = FieldError::duplicate(
                "Idempotency-Key",
                "the Idempotency-Key header",
                "Idempotency-Key 请求头",
            );
            return Err(ApiError::invalid(&[error]));
        }
        // Non-ASCII bytes become replacement characters, which the service refuses with its one
        // message about the key's format; validating here too would say it twice.
        Ok(IdempotencyKey(Some(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )))
    }
}

/// The `{id_or_number}` path segment.
pub(crate) struct DeclarationRef(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeclarationRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // A segment that does not decode (bad percent-encoding) names no declaration.
        let Path(id_or_number) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(ClearanceError::NotFound))?;
        Ok(DeclarationRef(id_or_number))
    }
}

/// A path segment naming one reference object (a release, a task, ...). A segment that does not
/// decode (bad percent-encoding) names nothing: the route is unknown.
macro_rules! path_segment {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub(crate) struct $name(pub String);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let Path(segment) = Path::<String>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| ApiError::unknown_route())?;
                Ok($name(segment))
            }
        }
    };
}

path_segment!(
    /// The `{id}` path segment of a release.
    ReleaseRef
);
path_segment!(
    /// The `{list}` path segment of a code list.
    ListRef
);
path_segment!(
    /// The `{id}` path segment of a task.
    TaskRef
);
path_segment!(
    /// The `{id}` path segment of a watch-list entry.
    WatchEntryRef
);
path_segment!(
    /// The `{id}` path segment of a risk model.
    ModelRef
);
path_segment!(
    /// The `{id}` path segment of a training job.
    TrainingJobRef
);
path_segment!(
    /// The `{credit_code}` path segment of an enterprise (checked by the service, with its field path).
    EnterpriseRef
);

/// The `{id}` and `{digest}` path segments of a task's attachment.
pub(crate) struct AttachmentRef {
    pub task: String,
    pub digest: String,
}

impl<S: Send + Sync> FromRequestParts<S> for AttachmentRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((task, digest)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::unknown_route())?;
        Ok(AttachmentRef { task, digest })
    }
}

/// An attachment upload: the raw file as the body (at most the service's
/// `ATTACHMENT_BYTES_MAX`, else 413), its declared `Content-Type` if any, and the `file_name`
/// query parameter (required, the only one).
pub(crate) struct AttachmentUpload {
    pub file_name: String,
    pub media_type: Option<String>,
    pub content: Bytes,
}

impl<S: Store> FromRequest<AppState<S>> for AttachmentUpload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        let limit = clearance::attachments::ATTACHMENT_BYTES_MAX;
        let (mut parts, body) = request.into_parts();
        let mut params = single_params(query_pairs(&parts)?, &["file_name"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let file_name = params
            .remove("file_name")
            .ok_or_else(|| ApiError::invalid(&[FieldError::required("file_name")]))?;
        if declared_length(&parts.headers).is_some_and(|length| length > limit) {
            return Err(ApiError::body_too_large(limit));
        }
        let media_type = parts
            .headers
            .remove(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok().map(str::to_owned));
        let request = Request::from_parts(parts, body);
        let content = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::body_too_large(limit)
                } else {
                    ApiError::unreadable_body()
                }
            })?;
        Ok(AttachmentUpload {
            file_name,
            media_type,
            content,
        })
    }
}

/// A JSON request body as bytes: the service parses it, so that errors name the field path.
/// An empty body needs no content type (a release without a note).
pub(crate) struct JsonBody(pub Bytes);

impl<S: Store> FromRequest<AppState<S>> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        let limit = state.config.body_limit_bytes;
        json_body(request, state, limit).await.map(JsonBody)
    }
}

/// The JSON body of a release import, which may be larger than any other
/// (`ApiConfig::release_body_limit_bytes`). The route raises axum's `DefaultBodyLimit` to match.
pub(crate) struct ReleaseBody(pub Bytes);

impl<S: Store> FromRequest<AppState<S>> for ReleaseBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        let limit = state.config.release_body_limit_bytes;
        json_body(request, state, limit).await.map(ReleaseBody)
    }
}

async fn json_body<S: Store>(
    request: Request,
    state: &AppState<S>,
    body_limit_bytes: usize,
) -> Result<Bytes, ApiError> {
    let is_json = content_type_is_json(request.headers());
    if is_json == Some(false) {
        return Err(ApiError::unsupported_media_type());
    }
    let body = limited_body(request, state, body_limit_bytes).await?;
    if is_json.is_none() && !body.is_empty() {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(body)
}

/// A request body of at most `body_limit_bytes`, whatever its format (the other message formats'
/// edge modules read theirs with it).
pub(crate) async fn limited_body<S: Store>(
    request: Request,
    state: &AppState<S>,
    body_limit_bytes: usize,
) -> Result<Bytes, ApiError> {
    // Refuse a declared length at once rather than after reading up to the limit.
    if declared_length(request.headers()).is_some_and(|length| length > body_limit_bytes) {
        return Err(ApiError::body_too_large(body_limit_bytes));
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::body_too_large(body_limit_bytes)
            } else {
                ApiError::unreadable_body()
            }
        })
}

/// `None` without a `Content-Type`; parameters such as `charset=utf-8` are allowed.
fn content_type_is_json(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim();
    Some(essence.eq_ignore_ascii_case("application/json"))
}

/// The raw body of a route with a limit of its own (an EDIFACT interchange, a batch): a declared
/// length over `limit` is refused before anything is read, and reading stops at `limit`.
pub(crate) async fn body_within(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    if declared_length(request.headers()).is_some_and(|length| length > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::body_too_large(limit))
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The query string as name-value pairs, in order; repeated names stay visible to the caller.
pub(crate) fn query_pairs(parts: &Parts) -> Result<Vec<(String, String)>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|_| {
        ApiError::invalid(&[FieldError::invalid_format(
            "",
            "a URL-encoded query string",
            "URL 编码的查询字符串",
        )])
    })?;
    Ok(pairs)
}

/// The query string of `GET /v1/declarations`, every problem named by its parameter.
pub(crate) struct ListQuery(pub ListFilter);

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let pairs = query_pairs(parts)?;
        list_filter(pairs)
            .map(ListQuery)
            .map_err(|errors| ApiError::invalid(&errors))
    }
}

/// The parameters are the fields of `ListFilter`; value checks other than the limit's type are the
/// service's, so that the CLI and the API refuse the same values.
fn list_filter(pairs: Vec<(String, String)>) -> Result<ListFilter, Vec<FieldError>> {
    let mut filter = ListFilter::default();
    let mut errors = Vec::new();
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "status" => &mut filter.status,
            "kind" => &mut filter.kind,
            "direction" => &mut filter.direction,
            "office_of_lodging" => &mut filter.office_of_lodging,
            "trader_credit_code" => &mut filter.trader_credit_code,
            "lodged_from" => &mut filter.lodged_from,
            "lodged_to" => &mut filter.lodged_to,
            "cursor" => &mut filter.cursor,
            "bill_of_lading" => &mut filter.bill_of_lading,
            "container" => &mut filter.container,
            "invoice" => &mut filter.invoice,
            "commodity_code" => &mut filter.commodity_code,
            "trader_name" => &mut filter.trader_name,
            "continuity" => &mut filter.continuity,
            "limit" => {
                match value.parse::<usize>() {
                    Ok(limit) if filter.limit.is_none() => filter.limit = Some(limit),
                    Ok(_) => errors.push(FieldError::duplicate("limit", "the parameter", "该参数")),
                    Err(_) => errors.push(FieldError::invalid_format(
                        "limit",
                        "a whole number",
                        "整数",
                    )),
                }
                continue;
            }
            _ => {
                errors.push(FieldError::unknown_field(&name));
                continue;
            }
        };
        if slot.replace(value).is_some() {
            errors.push(FieldError::duplicate(&name, "the parameter", "该参数"));
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(errors)
    }
}

/// `?after=&limit=` of the audit entries: both whole numbers, unknown parameters refused.
pub(crate) struct AuditQuery {
    pub after: u64,
    pub limit: usize,
}

/// Audit entries per page when the caller does not say.
pub(crate) const AUDIT_PAGE_DEFAULT: usize = 100;

impl<S: Send + Sync> FromRequestParts<S> for AuditQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let pairs = query_pairs(parts)?;
        let mut query = AuditQuery {
            after: 0,
            limit: AUDIT_PAGE_DEFAULT,
        };
        let mut errors = Vec::new();
        for (name, value) in pairs {
            let parsed = match name.as_str() {
                "after" => value.parse().map(|after| query.after = after).is_ok(),
                "limit" => value.parse().map(|limit| query.limit = limit).is_ok(),
                _ => {
                    errors.push(FieldError::unknown_field(&name));
                    continue;
                }
            };
            if !parsed {
                errors.push(FieldError::invalid_format(&name, "a whole number", "整数"));
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(ApiError::invalid(&errors))
        }
    }
}

/// The query parameters of a route that takes only `known` ones, each at most once, by name.
pub(crate) fn single_params(
    pairs: Vec<(String, String)>,
    known: &[&str],
) -> Result<HashMap<String, String>, Vec<FieldError>> {
    let mut params = HashMap::new();
    let mut errors = Vec::new();
    for (name, value) in pairs {
        if !known.contains(&name.as_str()) {
            errors.push(FieldError::unknown_field(&name));
            continue;
        }
        match params.entry(name) {
            Entry::Occupied(seen) => {
                errors.push(FieldError::duplicate(seen.key(), "the parameter", "该参数"));
            }
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    if errors.is_empty() {
        Ok(params)
    } else {
        Err(errors)
    }
}

pub(crate) fn parse_date(path: &str, raw: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        FieldError::invalid_format(path, "a date as YYYY-MM-DD", "YYYY-MM-DD 格式的日期")
    })
}

pub(crate) fn parse_release_kind(path: &str, raw: &str) -> Result<ReleaseKind, FieldError> {
    ReleaseKind::parse(raw).ok_or_else(|| {
        let kinds: Vec<&str> = ReleaseKind::ALL.iter().map(|k| k.as_str()).collect();
        FieldError::invalid_format(path, &kinds.join(", "), &kinds.join("、"))
    })
}

/// `?date=YYYY-MM-DD` of an estimate: the day whose releases assess it (by default today).
pub(crate) struct EstimateQuery {
    pub date: Option<NaiveDate>,
}

impl<S: Send + Sync> FromRequestParts<S> for EstimateQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = single_params(query_pairs(parts)?, &["date"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let date = params
            .get("date")
            .map(|raw| parse_date("date", raw))
            .transpose()
            .map_err(|error| ApiError::invalid(&[error]))?;
        Ok(EstimateQuery { date })
    }
}

/// `?kind=` of the release listing: required.
pub(crate) struct ReleaseKindQuery(pub ReleaseKind);

impl<S: Send + Sync> FromRequestParts<S> for ReleaseKindQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = single_params(query_pairs(parts)?, &["kind"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let raw = params
            .get("kind")
            .ok_or_else(|| ApiError::invalid(&[FieldError::required("kind")]))?;
        parse_release_kind("kind", raw)
            .map(ReleaseKindQuery)
            .map_err(|error| ApiError::invalid(&[error]))
    }
}

/// Recent declarations a dry run re-assesses when the caller does not say.
pub(crate) const DRY_RUN_SAMPLE_DEFAULT: usize = 200;

/// `?sample=N`: a whole number, `DEFAULT` when absent; its bounds are the service's (a dry run's
/// `clearance::releases::DRY_RUN_SAMPLE_MAX`, a rule test's
/// `clearance::targeting::RULE_TEST_SAMPLE_MAX`, a drift report's
/// `clearance::models::DRIFT_SAMPLE_MAX`).
pub(crate) struct SampleQuery<const DEFAULT: usize> {
    pub sample: usize,
}

pub(crate) type DryRunQuery = SampleQuery<DRY_RUN_SAMPLE_DEFAULT>;
pub(crate) type RuleTestQuery = SampleQuery<RULE_TEST_SAMPLE_DEFAULT>;
pub(crate) type DriftQuery = SampleQuery<DRIFT_SAMPLE_DEFAULT>;

/// Recent declarations a drift report scores when the caller does not say.
pub(crate) const DRIFT_SAMPLE_DEFAULT: usize = 1_000;

impl<S: Send + Sync, const DEFAULT: usize> FromRequestParts<S> for SampleQuery<DEFAULT> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = single_params(query_pairs(parts)?, &["sample"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let sample = match params.get("sample") {
            None => DEFAULT,
            Some(raw) => raw.parse().map_err(|_| {
                ApiError::invalid(&[FieldError::invalid_format(
                    "sample",
                    "a whole number",
                    "整数",
                )])
            })?,
        };
        Ok(SampleQuery { sample })
    }
}

/// The statuses a rule version can have, which `?status=` of the rule listing takes.
pub(crate) const RULE_STATUSES: [&str; 4] = ["proposed", "active", "superseded", "retired"];

/// `?status=` of the rule listing: absent for every version.
pub(crate) struct RuleStatusQuery(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RuleStatusQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["status"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let status = params.remove("status");
        if let Some(raw) = &status
            && !RULE_STATUSES.contains(&raw.as_str())
        {
            return Err(ApiError::invalid(&[FieldError::invalid_format(
                "status",
                "proposed, active, superseded or retired",
                "proposed、active、superseded 或 retired",
            )]));
        }
        Ok(RuleStatusQuery(status))
    }
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD[&source=declarations|history]` of a rule's back-test: the
/// dates required, all parsed (and bounded: `clearance::targeting::BACKTEST_PERIOD_DAYS_MAX`) by
/// the service, which names each problem.
pub(crate) struct RuleBacktestQuery {
    pub from: String,
    pub to: String,
    pub source: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RuleBacktestQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["from", "to", "source"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let (from, to) = (params.remove("from"), params.remove("to"));
        let source = params.remove("source");
        let missing: Vec<FieldError> = [("from", from.is_none()), ("to", to.is_none())]
            .into_iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| FieldError::required(name))
            .collect();
        match (from, to) {
            (Some(from), Some(to)) => Ok(RuleBacktestQuery { from, to, source }),
            _ => Err(ApiError::invalid(&missing)),
        }
    }
}

/// `?started_by=USER` of one bulk reassessment job: the officer who ran it (a job's key is in
/// its officer's own scope); the caller when absent.
pub(crate) struct ReassessmentJobQuery {
    pub started_by: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ReassessmentJobQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["started_by"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        Ok(ReassessmentJobQuery {
            started_by: params.remove("started_by"),
        })
    }
}

/// Recent declarations a rule test runs over when the caller does not say.
pub(crate) const RULE_TEST_SAMPLE_DEFAULT: usize = 200;

/// Tasks listed when the caller does not say.
pub(crate) const TASKS_LIMIT_DEFAULT: usize = 100;

/// The query string of `GET /v1/tasks`: `mine` (true or false, default false), `office`, `status`
/// (open or closed) and `limit` (a whole number; its bounds are the service's,
/// `clearance::tasks::TASK_PAGE_MAX`). Every problem is named by its parameter.
pub(crate) struct TasksQuery {
    pub mine: bool,
    pub office: Option<String>,
    pub status: Option<String>,
    pub limit: usize,
}

impl<S: Send + Sync> FromRequestParts<S> for TasksQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        tasks_query(query_pairs(parts)?).map_err(|errors| ApiError::invalid(&errors))
    }
}

/// A history upload: the file as the body (text, at most the service's `HISTORY_BYTES_MAX`),
/// `format` and `label` as query parameters (both required, the only ones).
pub(crate) struct HistoryUpload {
    pub format: String,
    pub label: String,
    pub text: String,
}

impl<S: Store> FromRequest<AppState<S>> for HistoryUpload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        let limit = clearance::models::HISTORY_BYTES_MAX;
        let (parts, body) = request.into_parts();
        let mut params = single_params(query_pairs(&parts)?, &["format", "label"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let (format, label) = (params.remove("format"), params.remove("label"));
        let (Some(format), Some(label)) = (format.clone(), label.clone()) else {
            let missing: Vec<FieldError> = [("format", format), ("label", label)]
                .into_iter()
                .filter(|(_, v)| v.is_none())
                .map(|(name, _)| FieldError::required(name))
                .collect();
            return Err(ApiError::invalid(&missing));
        };
        if declared_length(&parts.headers).is_some_and(|length| length > limit) {
            return Err(ApiError::body_too_large(limit));
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::body_too_large(limit)
                } else {
                    ApiError::unreadable_body()
                }
            })?;
        let text = String::from_utf8(Vec::from(bytes)).map_err(|_| {
            ApiError::invalid(&[FieldError::invalid_format(
                "file",
                "UTF-8 text",
                "UTF-8 编码的文本",
            )])
        })?;
        Ok(HistoryUpload {
            format,
            label,
            text,
        })
    }
}

/// The query of `GET /v1/directory/names`: users' ids, `id` repeated, at most
/// `clearance::directory::ACTOR_NAMES_MAX`.
#[derive(Debug)]
pub(crate) struct NamesQuery {
    pub ids: Vec<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for NamesQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        for (name, value) in query_pairs(parts)? {
            if name == "id" {
                ids.push(value);
            } else {
                errors.push(FieldError::unknown_field(&name));
            }
        }
        let max = clearance::directory::ACTOR_NAMES_MAX;
        if ids.len() > max {
            errors.push(FieldError::too_many("id", max));
        }
        if errors.is_empty() {
            Ok(NamesQuery { ids })
        } else {
            Err(ApiError::invalid(&errors))
        }
    }
}

/// The query of `GET /v1/duty`: an office, if any.
#[derive(Debug)]
pub(crate) struct DutyQuery {
    pub office: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for DutyQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["office"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        Ok(DutyQuery {
            office: params.remove("office"),
        })
    }
}

/// The query of a statistic over a period: `from` and `to` (required), `office` (optional).
#[derive(Debug)]
pub(crate) struct PeriodQuery {
    pub from: String,
    pub to: String,
    pub office: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PeriodQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["from", "to", "office"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        let (from, to) = (params.remove("from"), params.remove("to"));
        let missing: Vec<FieldError> = [("from", &from), ("to", &to)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| FieldError::required(name))
            .collect();
        let (Some(from), Some(to)) = (from, to) else {
            return Err(ApiError::invalid(&missing));
        };
        Ok(PeriodQuery {
            from,
            to,
            office: params.remove("office"),
        })
    }
}

fn tasks_query(pairs: Vec<(String, String)>) -> Result<TasksQuery, Vec<FieldError>> {
    let mut params = single_params(pairs, &["mine", "office", "status", "limit"])?;
    let mut errors = Vec::new();
    let mine = match params.remove("mine").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::invalid_format(
                "mine",
                "true or false",
                "true 或 false",
            ));
            false
        }
    };
    let status = params.remove("status");
    if let Some(raw) = &status
        && !["open", "closed"].contains(&raw.as_str())
    {
        errors.push(FieldError::invalid_format(
            "status",
            "open or closed",
            "open 或 closed",
        ));
    }
    let limit = match params.remove("limit") {
        None => TASKS_LIMIT_DEFAULT,
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            errors.push(FieldError::invalid_format(
                "limit",
                "a whole number",
                "整数",
            ));
            TASKS_LIMIT_DEFAULT
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(TasksQuery {
        mine,
        office: params.remove("office"),
        status,
        limit,
    })
}

/// The `{id}` and `{version}` path segments of a rule version; the version a whole number from 1.
pub(crate) struct RuleVersionRef {
    pub id: String,
    pub version: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for RuleVersionRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Segments that do not decode (bad percent-encoding) name no rule.
        let Path((id, raw)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::unknown_route())?;
        let version = parse_rule_version(&raw).map_err(|error| ApiError::invalid(&[error]))?;
        Ok(RuleVersionRef { id, version })
    }
}

/// A rule version: digits only (no sign, no spaces), from 1.
fn parse_rule_version(raw: &str) -> Result<u32, FieldError> {
    raw.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw.parse::<u32>().ok())
        .flatten()
        .filter(|&v| v >= 1)
        .ok_or_else(|| {
            FieldError::invalid_format("version", "a whole number from 1", "从 1 起的整数")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_bad_query_parameter_is_named() {
        let errors = list_filter(pairs(&[
            ("limit", "ten"),
            ("colour", "red"),
            ("kind", "full"),
            ("kind", "summary"),
        ]))
        .expect_err("three problems");
        let named: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("limit", "invalid_format"),
                ("colour", "unknown_field"),
                ("kind", "duplicate")
            ]
        );
    }

    #[test]
    fn query_parameters_fill_the_filter() {
        let filter = list_filter(pairs(&[
            ("status", "accepted"),
            ("limit", "7"),
            ("cursor", "1_2"),
        ]))
        .expect("valid");
        assert_eq!(filter.status.as_deref(), Some("accepted"));
        assert_eq!(filter.limit, Some(7));
        assert_eq!(filter.cursor.as_deref(), Some("1_2"));
        assert_eq!(filter.kind, None);
    }

    #[test]
    fn content_type_parameters_are_allowed_and_other_types_are_not() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(value),
            );
            content_type_is_json(&headers)
        };
        assert_eq!(with("application/json"), Some(true));
        assert_eq!(with("Application/JSON; charset=utf-8"), Some(true));
        assert_eq!(with("text/plain"), Some(false));
        assert_eq!(with("application/jsonx"), Some(false));
        assert_eq!(content_type_is_json(&HeaderMap::new()), None);
    }

    #[test]
    fn a_rule_version_is_a_whole_number_from_one() {
        assert_eq!(parse_rule_version("1"), Ok(1));
        assert_eq!(parse_rule_version("42"), Ok(42));
        for bad in ["0", "", "-1", "+1", "1.0", "v1", " 1", "4294967296"] {
            let error = parse_rule_version(bad).expect_err(bad);
            assert_eq!(error.path, "version", "{bad}");
        }
    }

    #[test]
    fn the_task_query_names_every_bad_parameter() {
        let errors = tasks_query(pairs(&[
            ("mine", "yes"),
            ("status", "pending"),
            ("limit", "ten"),
        ]))
        .err()
        .expect("three problems");
        let named: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(named, ["mine", "status", "limit"]);
        let query = tasks_query(pairs(&[("mine", "true"), ("office", "2200")])).unwrap();
        assert!(query.mine);
        assert_eq!(query.office.as_deref(), Some("2200"));
        assert_eq!((query.status, query.limit), (None, TASKS_LIMIT_DEFAULT));
        let query = tasks_query(vec![]).unwrap();
        assert!(!query.mine, "everybody's tasks by default");
        assert!(tasks_query(pairs(&[("assignee", "me")])).is_err());
    }

    #[test]
    fn the_documented_task_limit_is_the_services() {
        // `maximum = 500` on GET /v1/tasks (an annotation takes no constant).
        assert_eq!(clearance::tasks::TASK_PAGE_MAX, 500);
        const { assert!(TASKS_LIMIT_DEFAULT <= clearance::tasks::TASK_PAGE_MAX) };
    }

    #[test]
    fn the_documented_rule_test_sample_is_the_services() {
        // `maximum = 1000` on POST /v1/rules/test (an annotation takes no constant).
        assert_eq!(clearance::targeting::RULE_TEST_SAMPLE_MAX, 1000);
        const { assert!(RULE_TEST_SAMPLE_DEFAULT <= clearance::targeting::RULE_TEST_SAMPLE_MAX) };
    }
}

path_segment!(
    /// The `{id}` path segment of a bearer token (`T-...`).
    TokenRef
);
path_segment!(
    /// The `{name}` path segment of a user.
    UserRef
);

/// The `{credit_code}` and `{broker}` path segments of a broker authorisation.
pub(crate) struct BrokerAuthorisationRef {
    pub principal: String,
    pub broker: String,
}

impl<S: Send + Sync> FromRequestParts<S> for BrokerAuthorisationRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((principal, broker)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::unknown_route())?;
        Ok(BrokerAuthorisationRef { principal, broker })
    }
}

/// The query of `GET /v1/tokens`: a user's name, if any.
#[derive(Debug)]
pub(crate) struct TokensQuery {
    pub user: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for TokensQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut params = single_params(query_pairs(parts)?, &["user"])
            .map_err(|errors| ApiError::invalid(&errors))?;
        Ok(TokensQuery {
            user: params.remove("user"),
        })
    }
}
