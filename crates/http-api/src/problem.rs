//! Every error the API answers is an RFC 9457 problem (`application/problem+json`).
//!
//! Errors become an `ApiError`, whose response carries the `Problem` in its extensions and no body
//! yet. One middleware, `render_problems`, writes every error body: it adds the request id, and it
//! turns the bare error responses of axum and tower-http (405, timeouts) into problems too. So no
//! code path can answer an error in another shape.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clearance::ClearanceError;
use domain::FieldError;
use wire::{FieldErrorView, Problem};

/// The `type` of every problem starts with this, followed by a stable slug (`invalid-request`).
/// A URN rather than a URL: it identifies the kind of problem without promising a web page.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:opencustoms:problem:";
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The most field errors a problem lists: the first ones, in order; the detail gives how many
/// there were. With each message bounded too (`domain::ECHOED_TEXT_CHARS_MAX`), a refusal stays
/// small whatever the request (a megabyte-wide column fails every row of a release file).
pub const FIELD_ERRORS_LISTED_MAX: usize = 200;

/// An error on its way to becoming a problem response. Boxed, since errors are the rare path and
/// `Result<T, ApiError>` should stay small on the common one.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    problem: Box<Problem>,
    headers: HeaderMap,
    refusal: Option<Refusal>,
}

/// The problem a response carries until `render_problems` writes it as the body.
#[derive(Debug, Clone)]
struct PendingProblem(Problem);

/// Why a request was refused for a limit rather than for what it asked, carried by the response
/// for the metrics (`http_refusals_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) &'static str);

impl Refusal {
    pub(crate) const RATE_LIMITED: Refusal = Refusal("rate_limited");
    pub(crate) const IN_PROGRESS: Refusal = Refusal("in_progress");
    pub(crate) const BODY_TOO_LARGE: Refusal = Refusal("body_too_large");
    pub(crate) const HEAVY_JOB_BUSY: Refusal = Refusal("heavy_job_busy");
    pub(crate) const TIMEOUT: Refusal = Refusal("timeout");
    pub(crate) const WRITE_QUEUE_FULL: Refusal = Refusal("write_queue_full");
    pub(crate) const UNAVAILABLE: Refusal = Refusal("unavailable");
    /// Every reason, so that each is shown (as 0) before it first happens.
    pub(crate) const ALL: [Refusal; 7] = [
        Refusal::RATE_LIMITED,
        Refusal::IN_PROGRESS,
        Refusal::BODY_TOO_LARGE,
        Refusal::HEAVY_JOB_BUSY,
        Refusal::TIMEOUT,
        Refusal::WRITE_QUEUE_FULL,
        Refusal::UNAVAILABLE,
    ];
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        slug: &str,
        title: &str,
        detail: String,
        detail_zh: String,
    ) -> ApiError {
        let problem = Problem {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            detail_zh,
            errors: vec![],
            request_id: None,
        };
        ApiError {
            problem: Box::new(problem),
            headers: HeaderMap::new(),
            refusal: None,
        }
    }

    /// Marks the error as a refusal for a limit, counted by its reason.
    pub(crate) fn refused_as(mut self, refusal: Refusal) -> ApiError {
        self.refusal = Some(refusal);
        self
    }

    pub(crate) fn with_errors(mut self, errors: &[FieldError]) -> ApiError {
        self.problem.errors = errors
            .iter()
            .take(FIELD_ERRORS_LISTED_MAX)
            .map(FieldErrorView::from)
            .collect();
        self
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(crate) fn invalid(errors: &[FieldError]) -> ApiError {
        let n_errors = errors.len();
        let (detail, detail_zh) = if n_errors > FIELD_ERRORS_LISTED_MAX {
            (
                format!(
                    "the request has {n_errors} error(s); the first {FIELD_ERRORS_LISTED_MAX} \
                     are listed, each naming its field"
                ),
                format!(
                    "请求有 {n_errors} 处错误，列出前 {FIELD_ERRORS_LISTED_MAX} 处，每处均注明字段"
                ),
            )
        } else {
            (
                format!("the request has {n_errors} error(s); each names its field"),
                format!("请求有 {n_errors} 处错误，每处均注明字段"),
            )
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "The request has errors",
            detail,
            detail_zh,
        )
        .with_errors(errors)
    }

    pub(crate) fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send a valid token as 'Authorization: Bearer <token>'".into(),
            "请以“Authorization: Bearer <令牌>”提供有效令牌".into(),
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// A known token that no longer authenticates, saying why (its holder held it: nothing is
    /// revealed to a guesser, who gets `unauthenticated`).
    pub(crate) fn token_refused(why: clearance::TokenRefusal) -> ApiError {
        use clearance::TokenRefusal::*;
        let (slug, title) = match why {
            Expired => ("token-expired", "Token expired"),
            Revoked => ("token-revoked", "Token revoked"),
            UserDisabled => ("user-disabled", "User disabled"),
        };
        let (en, zh) = why.describe();
        ApiError::new(StatusCode::UNAUTHORIZED, slug, title, en.into(), zh.into())
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub(crate) fn too_many_requests(retry_after_secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            format!(
                "this client sent requests faster than it may; retry after {retry_after_secs} s"
            ),
            format!("请求过于频繁，请在 {retry_after_secs} 秒后重试"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs))
        .refused_as(Refusal::RATE_LIMITED)
    }

    pub(crate) fn body_too_large(body_limit_bytes: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("the body may have at most {body_limit_bytes} bytes"),
            format!("请求体不得超过 {body_limit_bytes} 字节"),
        )
        .refused_as(Refusal::BODY_TOO_LARGE)
    }

    pub(crate) fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as JSON with 'Content-Type: application/json'".into(),
            "请以 JSON 格式发送请求体，并注明“Content-Type: application/json”".into(),
        )
    }

    pub(crate) fn unreadable_body() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "The request body could not be read",
            "the connection failed while the body was being sent".into(),
            "发送请求体时连接中断".into(),
        )
    }

    pub(crate) fn unknown_route() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "nothing is at this path; the API is described at /openapi.json".into(),
            "此路径下没有资源；接口说明见 /openapi.json".into(),
        )
    }

    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the failure is logged under this request id".into(),
            "服务器内部错误，已按本请求编号记录".into(),
        )
    }

    pub(crate) fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "the server cannot answer now; retrying later with the same Idempotency-Key is safe"
                .into(),
            "服务暂时不可用；稍后使用相同的 Idempotency-Key 重试是安全的".into(),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    /// For error responses made by axum or tower-http rather than by us: nothing more is known
    /// than the status.
    fn for_status(status: StatusCode) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => ApiError::unknown_route(),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                status,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take this method; the Allow header lists those it takes".into(),
                "此路径不支持该请求方法；Allow 响应头列出了支持的方法".into(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                status,
                "body-too-large",
                "Request body too large",
                "the request body is too large".into(),
                "请求体过大".into(),
            ),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(),
            status if status.is_server_error() => ApiError::internal(),
            status => {
                let reason = status.canonical_reason().unwrap_or("Error");
                ApiError::new(
                    status,
                    "http-error",
                    reason,
                    reason.to_lowercase(),
                    reason.to_lowercase(),
                )
            }
        }
    }
}

impl From<ClearanceError> for ApiError {
    fn from(error: ClearanceError) -> ApiError {
        match error {
            ClearanceError::Unauthenticated => ApiError::unauthenticated(),
            ClearanceError::TokenRefused(why) => ApiError::token_refused(why),
            ClearanceError::Forbidden {
                message_en,
                message_zh,
                errors,
            } => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                message_en,
                message_zh,
            )
            .with_errors(&errors),
            // One answer for absent and invisible, so that nobody learns which declarations exist.
            ClearanceError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "declaration-not-found",
                "Declaration not found",
                "no declaration with this id or number is visible to you".into(),
                "没有您可查看的此编号报关单".into(),
            ),
            ClearanceError::Invalid(errors) => ApiError::invalid(&errors),
            ClearanceError::Transition(refusal) => {
                let slug = refusal.code.replace('_', "-");
                ApiError::new(
                    StatusCode::CONFLICT,
                    &slug,
                    "Not allowed in this state",
                    refusal.message_en,
                    refusal.message_zh,
                )
            }
            ClearanceError::IdempotencyKeyReused => ApiError::invalid(&[FieldError::not_allowed(
                "Idempotency-Key",
                "it was used before for a different request; use a new key",
                "该幂等键已用于另一请求，请使用新的键",
            )]),
            ClearanceError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "Changed concurrently",
                "the declaration changed while this request was handled; read it again and retry"
                    .into(),
                "处理本请求时报关单已被修改，请重新读取后重试".into(),
            ),
            ClearanceError::Unavailable(why) => {
                tracing::warn!(%why, "the clearance service is unavailable");
                let refusal = if why == store::WRITE_QUEUE_FULL {
                    Refusal::WRITE_QUEUE_FULL
                } else {
                    Refusal::UNAVAILABLE
                };
                ApiError::unavailable().refused_as(refusal)
            }
            // The cause is for the operator's log, never for the caller.
            ClearanceError::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, self.headers).into_response();
        response
            .extensions_mut()
            .insert(PendingProblem(*self.problem));
        if let Some(refusal) = self.refusal {
            response.extensions_mut().insert(refusal);
        }
        response
    }
}

/// Writes the body of every error response as a problem with the request id, whoever made it.
/// Marks a response whose error body is meant as it is rather than replaced by a problem
/// document: a page of the console (HTML for people), or an answer in the message format the
/// request came in (a WCO DMSREJ for XML, a CUSRES or CONTRL for an EDIFACT lodging).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderedPage;

pub(crate) async fn render_problems(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    if response.extensions().get::<RenderedPage>().is_some() {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let mut problem = match parts.extensions.remove::<PendingProblem>() {
        Some(PendingProblem(problem)) => problem,
        None => {
            // Made by axum or tower-http: a body over the limit, or the request timeout.
            let refusal = match status {
                StatusCode::PAYLOAD_TOO_LARGE => Some(Refusal::BODY_TOO_LARGE),
                StatusCode::SERVICE_UNAVAILABLE => Some(Refusal::TIMEOUT),
                _ => None,
            };
            if let Some(refusal) = refusal
                && parts.extensions.get::<Refusal>().is_none()
            {
                parts.extensions.insert(refusal);
            }
            let fallback = ApiError::for_status(status);
            for (name, value) in &fallback.headers {
                parts.headers.entry(name).or_insert_with(|| value.clone());
            }
            *fallback.problem
        }
    };
    problem.request_id = request_id;
    let body = serde_json::to_vec(&problem).expect("a problem serialises");
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// What a panicking handler answers; the panic message goes to the log only.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(not a string)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_lists_at_most_the_first_field_errors() {
        let errors: Vec<FieldError> = (0..=FIELD_ERRORS_LISTED_MAX)
            .map(|i| FieldError::required(format!("items[{i}].amount")))
            .collect();
        let at_edge = ApiError::invalid(&errors[..FIELD_ERRORS_LISTED_MAX]);
        assert_eq!(at_edge.problem.errors.len(), FIELD_ERRORS_LISTED_MAX);
        assert!(!at_edge.problem.detail.contains("first"));
        let over = ApiError::invalid(&errors);
        assert_eq!(over.problem.errors.len(), FIELD_ERRORS_LISTED_MAX);
        assert_eq!(over.problem.errors[0].path, "items[0].amount");
        assert!(
            over.problem
                .detail
                .contains(&format!("{} error(s)", FIELD_ERRORS_LISTED_MAX + 1)),
            "{}",
            over.problem.detail
        );
        assert!(over.problem.detail_zh.contains("列出前"));
    }
}
