//! Lodging a CUSDEC interchange: `POST /v1/declarations` with `Content-Type: application/edifact`
//! (the hook is in `routes::lodge`). The interchange is read into the JSON form by the `edifact`
//! crate and lodged through the same service call as JSON; the answer is a CUSRES (201/200
//! accepted, 422 refused, 403 not allowed) or a CONTRL (400, a syntax error). A client that
//! prefers `application/problem+json` gets the refusals as a problem document instead, each
//! error's path naming the CUSDEC place and the platform's field.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clearance::{Caller, ClearanceError};
use domain::{ErrorCode, FieldError};
use edifact::limits::INTERCHANGE_BYTES_MAX;
use edifact::{Envelope, ReadError, Refusal};
use sha2::Digest;
use store::Store;

use crate::AppState;
use crate::problem::{ApiError, RenderedPage};

/// The header that carries a CONTRL's words (CONTRL has no text segment), in English, ASCII.
pub(crate) const SYNTAX_ERROR_HEADER: &str = "customs-syntax-error";

/// Whether the request's body is declared as EDIFACT.
pub(crate) fn is_edifact(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(edifact::MEDIA_TYPE))
}

/// Whether the client asked for problem documents rather than EDIFACT answers.
fn wants_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/problem+json"))
}

/// An answer in EDIFACT; a refusal's body is the CUSRES or CONTRL itself, kept as it is.
fn edifact_response(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(edifact::MEDIA_TYPE),
        )],
        body,
    )
        .into_response();
    response.extensions_mut().insert(RenderedPage);
    response
}

/// The idempotency key of an interchange lodged without an `Idempotency-Key` header: the sender
/// with the declarant's document number (BGM), or the message reference (UNH) without one.
/// Hashed, so that any sender and reference make a key of the service's form.
pub(crate) fn derived_key(sender: &str, reference: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{sender}\u{0}{reference}").as_bytes());
    format!("cusdec-{}", hex::encode(&digest[..16]))
}

/// A refusal as a field error of a problem document: the path names the CUSDEC place, then the
/// platform's field.
fn field_error(refusal: &Refusal) -> FieldError {
    let path = if refusal.path.is_empty() {
        refusal.location()
    } else {
        format!("{} ({})", refusal.location(), refusal.path)
    };
    FieldError {
        path,
        code: code_of(&refusal.code),
        message_en: refusal.message_en.clone(),
        message_zh: refusal.message_zh.clone(),
    }
}

fn code_of(code: &str) -> ErrorCode {
    match code {
        "unknown_code" => ErrorCode::UnknownCode,
        "not_allowed" => ErrorCode::NotAllowed,
        _ => ErrorCode::InvalidFormat,
    }
}

/// Lodges the CUSDEC of one interchange.
pub(crate) async fn lodge<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    key: Option<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let problem = wants_problem(request.headers());
    let bytes = crate::extract::body_within(request, INTERCHANGE_BYTES_MAX).await?;
    let now = state.clearance.now();
    let received = edifact::received(&bytes);
    let answer_envelope = |reference: &str| Envelope {
        sender: if received.recipient.is_empty() {
            "CUSTOMS".into()
        } else {
            received.recipient.clone()
        },
        recipient: if received.sender.is_empty() {
            "TRADE".into()
        } else {
            received.sender.clone()
        },
        reference: reference.chars().take(14).collect(),
        date: now.format("%Y%m%d").to_string(),
        time: now.format("%H%M").to_string(),
    };
    let lodging = match edifact::read_lodging(&bytes) {
        Ok(lodging) => lodging,
        Err(ReadError::Syntax(error)) => {
            if problem {
                let field = FieldError {
                    path: error.at.describe(),
                    code: ErrorCode::InvalidFormat,
                    message_en: format!(
                        "{} (ISO 9735 syntax error {})",
                        error.message_en, error.code
                    ),
                    message_zh: format!("{}（ISO 9735 语法错误 {}）", error.message_zh, error.code),
                };
                return Err(problem_of(StatusCode::BAD_REQUEST, &[field]));
            }
            let reference = if received.reference.is_empty() {
                "CONTRL"
            } else {
                &received.reference
            };
            let body = edifact::contrl(&answer_envelope(reference), &received, &error);
            let mut response = edifact_response(StatusCode::BAD_REQUEST, body);
            let words: String = format!(
                "{}: {} (syntax error {})",
                error.at.describe(),
                error.message_en,
                error.code
            )
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
            if let Ok(value) = HeaderValue::try_from(words) {
                response.headers_mut().insert(SYNTAX_ERROR_HEADER, value);
            }
            return Ok(response);
        }
        Err(ReadError::Content(refusals)) => {
            return Ok(refused(
                problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                &answer_envelope(&received.reference),
                &refusals,
                None,
            ));
        }
    };
    let cusdec = &lodging.cusdec;
    let their_reference = cusdec.document_number.as_deref();
    let key = key.unwrap_or_else(|| {
        derived_key(
            &lodging.interchange.sender,
            their_reference.unwrap_or(&cusdec.message_reference),
        )
    });
    let body = serde_json::to_vec(&cusdec.dto).map_err(|_| ApiError::internal())?;
    let result = state
        .clearance
        .lodge_as(caller, Some(&key), &body, wire::MessageFormat::Edifact)
        .await;
    state.metrics.record_lodgement(&result);
    let envelope = answer_envelope(&lodging.interchange.reference);
    match result {
        Ok(lodgement) => crate::routes::lodged(
            &lodgement,
            edifact_response(
                StatusCode::OK,
                edifact::acceptance(&envelope, &lodgement, their_reference),
            ),
        ),
        Err(ClearanceError::Invalid(errors)) => {
            let refusals: Vec<Refusal> = errors.iter().map(|e| cusdec.locate(e)).collect();
            Ok(refused(
                problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                &envelope,
                &refusals,
                their_reference,
            ))
        }
        Err(ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        }) => {
            let mut refusals = vec![Refusal {
                path: String::new(),
                group: String::new(),
                segment: "BGM".into(),
                position: 2,
                element: None,
                component: None,
                code: "not_allowed".into(),
                message_en,
                message_zh,
            }];
            refusals.extend(errors.iter().map(|e| cusdec.locate(e)));
            Ok(refused(
                problem,
                StatusCode::FORBIDDEN,
                &envelope,
                &refusals,
                their_reference,
            ))
        }
        Err(ClearanceError::IdempotencyKeyReused) => {
            // The key is the document number (or the client's header): said where the trader
            // wrote it.
            let refusal = Refusal {
                path: String::new(),
                group: String::new(),
                segment: "BGM".into(),
                position: 2,
                element: Some(2),
                component: Some(1),
                code: "not_allowed".into(),
                message_en:
                    "this document number (or Idempotency-Key) was used before for a different \
                             declaration: give the new declaration a new document number"
                        .into(),
                message_zh:
                    "该单证编号（或幂等键）已用于另一份报关单：请为新报关单使用新的单证编号".into(),
            };
            Ok(refused(
                problem,
                StatusCode::UNPROCESSABLE_ENTITY,
                &envelope,
                &[refusal],
                their_reference,
            ))
        }
        Err(other) => Err(ApiError::from(other)),
    }
}

fn refused(
    problem: bool,
    status: StatusCode,
    envelope: &Envelope,
    refusals: &[Refusal],
    their_reference: Option<&str>,
) -> Response {
    if problem {
        let errors: Vec<FieldError> = refusals.iter().map(field_error).collect();
        return problem_of(status, &errors).into_response();
    }
    edifact_response(
        status,
        edifact::refusal(envelope, refusals, their_reference),
    )
}

/// A problem document of `status` listing every error with its CUSDEC place.
fn problem_of(status: StatusCode, errors: &[FieldError]) -> ApiError {
    ApiError::new(
        status,
        "invalid-request",
        "The request has errors",
        format!(
            "the interchange has {} error(s); each names its segment, position and element",
            errors.len()
        ),
        format!("交换有 {} 处错误，每处均注明段、位置和数据元", errors.len()),
    )
    .with_errors(errors)
}
