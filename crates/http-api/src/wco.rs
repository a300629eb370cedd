//! Lodging as WCO Data Model 3.6 XML (`POST /v1/declarations` with `Content-Type:
//! application/xml` or `text/xml`): the `wco` edge maps the message to the JSON declaration, the
//! same clearance lodging path lodges it (same checks, numbering, idempotency), and the answer is
//! a WCO response: DMSACC (201, or 200 for a repeat) or DMSREJ (422) naming every problem by its
//! WCO element path. Refusals that are not about the document (401, 403, 409, 503) stay problem
//! JSON, as on every route.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use clearance::{Caller, ClearanceError};
use store::Store;

use crate::AppState;
use crate::extract::limited_body;
use crate::problem::{ApiError, RenderedPage};

/// The media types of a WCO message.
pub(crate) const XML_MEDIA_TYPES: [&str; 2] = ["application/xml", "text/xml"];

/// Is the request body a WCO XML message?
pub(crate) fn is_wco(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            XML_MEDIA_TYPES
                .iter()
                .any(|t| essence.trim().eq_ignore_ascii_case(t))
        })
}

/// The idempotency key of a WCO lodging without an `Idempotency-Key` header: the trader's own
/// reference (LRN), in a namespace of its own so it cannot meet a JSON lodging's key. An LRN that
/// could not be a key (too long, spaces) gives none: the lodging is then not idempotent.
fn lrn_key(lrn: &str) -> Option<String> {
    let key = format!("wco-lrn:{lrn}");
    (key.len() <= clearance::IDEMPOTENCY_KEY_LENGTH_MAX
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'#'))
    .then_some(key)
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    // A rejection is a WCO message, not to be replaced by a problem document.
    response.extensions_mut().insert(RenderedPage);
    response
}

/// A DMSREJ for a lodging refused here (before the lodging path), counted as JSON refusals are.
fn refused<S: Store>(
    state: &AppState<S>,
    errors: Vec<domain::FieldError>,
    lrn: Option<&str>,
) -> Response {
    let response = rejection(state, &errors, lrn);
    state
        .metrics
        .record_lodgement(&Err(ClearanceError::Invalid(errors)));
    response
}

fn rejection<S: Store>(
    state: &AppState<S>,
    errors: &[domain::FieldError],
    lrn: Option<&str>,
) -> Response {
    let issued_at = state
        .clearance
        .now()
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    xml(
        StatusCode::UNPROCESSABLE_ENTITY,
        wco::render_rejection(errors, lrn, &issued_at),
    )
}

pub(crate) async fn lodge<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    key: Option<&str>,
    request: Request,
) -> Result<Response, ApiError> {
    let limit = state.config.body_limit_bytes.min(wco::MESSAGE_BYTES_MAX);
    let body = limited_body(request, state, limit).await?;
    let read = match wco::parse_declaration(&body) {
        Ok(read) => read,
        Err(unreadable) => {
            return Ok(refused(
                state,
                unreadable.errors,
                unreadable.functional_reference.as_deref(),
            ));
        }
    };
    let lrn = read.functional_reference.as_deref();
    let json = serde_json::to_vec(&read.declaration).map_err(|_| ApiError::internal())?;
    if !read.problems.is_empty() {
        // What the profile cannot carry is refused; the lodging path's own checks of what it
        // could carry are added, so the trader gets every problem in one answer.
        let mut errors = read.problems.clone();
        match state.clearance.validate(caller, &json).await {
            Ok(()) => {}
            Err(ClearanceError::Invalid(found)) => {
                errors.extend(wco::wco_errors(found, &read.declaration))
            }
            Err(other) => {
                let result = Err(other);
                state.metrics.record_lodgement(&result);
                return Err(result.map_err(ApiError::from).unwrap_err());
            }
        }
        return Ok(refused(state, errors, lrn));
    }
    let key = key.map(str::to_owned).or_else(|| lrn.and_then(lrn_key));
    let result = state
        .clearance
        .lodge_as(caller, key.as_deref(), &json, wire::MessageFormat::WcoXml)
        .await;
    state.metrics.record_lodgement(&result);
    match result {
        Ok(lodgement) => crate::routes::lodged(
            &lodgement,
            xml(StatusCode::OK, wco::render_acceptance(&lodgement, lrn)),
        ),
        Err(ClearanceError::Invalid(errors)) => Ok(rejection(
            state,
            &wco::wco_errors(errors, &read.declaration),
            lrn,
        )),
        Err(other) => Err(other.into()),
    }
}
