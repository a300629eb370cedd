//! Declaration events as stored JSON. The audit chain covers these bytes, so the encoding is
//! deterministic: struct fields in declaration order, absent options left out.

use domain::{Declaration, DeclarationEvent, DeclarationNumber, FieldError, ParseContext};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::declaration::DeclarationDto;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPayloadDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration: Option<DeclarationDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

pub fn encode_event(event: &DeclarationEvent) -> String {
    let empty = EventPayloadDto {
        number: None,
        declaration: None,
        reason: None,
        note: None,
        full_number: None,
        replaces: None,
    };
    let dto = match event {
        DeclarationEvent::Accepted {
            number,
            declaration,
        } => EventPayloadDto {
            number: Some(number.to_string()),
            declaration: Some(DeclarationDto::from(&**declaration)),
            ..empty
        },
        DeclarationEvent::Amended {
            declaration,
            reason,
        } => EventPayloadDto {
            declaration: Some(DeclarationDto::from(&**declaration)),
            reason: Some(reason.clone()),
            ..empty
        },
        DeclarationEvent::Cancelled { reason } => EventPayloadDto {
            reason: Some(reason.clone()),
            ..empty
        },
        DeclarationEvent::Released { note } => EventPayloadDto {
            note: note.clone(),
            ..empty
        },
        DeclarationEvent::Completed {
            full_number,
            replaces,
        } => EventPayloadDto {
            full_number: Some(full_number.to_string()),
            replaces: replaces.as_ref().map(ToString::to_string),
            ..empty
        },
    };
    serde_json::to_string(&dto).expect("an event payload always serialises")
}

/// The payload of an acceptance built from the already-encoded document: the same bytes as
/// `encode_event(&DeclarationEvent::Accepted { .. })` (a test holds them equal), without
/// serialising the declaration a second time on the lodging path.
pub fn encode_acceptance(number: &DeclarationNumber, document: &str) -> String {
    let number = serde_json::to_string(number.as_str()).expect("a string serialises");
    format!("{{\"number\":{number},\"declaration\":{document}}}")
}

/// Why a stored event could not be read back: the store was written by something else, or altered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn declaration(
    dto: Option<DeclarationDto>,
    ctx: &ParseContext<'_>,
) -> Result<Box<Declaration>, DecodeError> {
    let dto = dto.ok_or_else(|| DecodeError("the event has no declaration".into()))?;
    dto.parse(ctx)
        .map(Box::new)
        .map_err(|errors: Vec<FieldError>| {
            DecodeError(format!(
                "the stored declaration no longer parses: {}",
                errors[0]
            ))
        })
}

fn number(raw: Option<String>) -> Result<DeclarationNumber, DecodeError> {
    raw.as_deref()
        .and_then(DeclarationNumber::parse)
        .ok_or_else(|| DecodeError("the event has no valid number".into()))
}

/// Reads a stored event back. `ctx.on` must be the declaration's lodging date: the code lists in
/// force then are the ones it was checked against.
pub fn decode_event(
    action: &str,
    payload: &str,
    ctx: &ParseContext<'_>,
) -> Result<DeclarationEvent, DecodeError> {
    let dto: EventPayloadDto = serde_json::from_str(payload)
        .map_err(|e| DecodeError(format!("the event payload is not valid: {e}")))?;
    let reason = |r: Option<String>| r.ok_or_else(|| DecodeError("the event has no reason".into()));
    match action {
        "declaration.accepted" => Ok(DeclarationEvent::Accepted {
            number: number(dto.number)?,
            declaration: declaration(dto.declaration, ctx)?,
        }),
        "declaration.amended" => Ok(DeclarationEvent::Amended {
            declaration: declaration(dto.declaration, ctx)?,
            reason: reason(dto.reason)?,
        }),
        "declaration.cancelled" => Ok(DeclarationEvent::Cancelled {
            reason: reason(dto.reason)?,
        }),
        "declaration.released" => Ok(DeclarationEvent::Released { note: dto.note }),
        "declaration.completed" => Ok(DeclarationEvent::Completed {
            full_number: number(dto.full_number)?,
            replaces: dto.replaces.map(|r| number(Some(r))).transpose()?,
        }),
        other => Err(DecodeError(format!("unknown declaration event {other}"))),
    }
}
