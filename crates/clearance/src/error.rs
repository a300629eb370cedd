//! What can go wrong in a clearance operation, split into what the caller can fix and what it cannot.

use domain::{FieldError, TransitionError};

#[derive(Debug, thiserror::Error)]
pub enum ClearanceError {
    /// No or an unknown bearer token.
    #[error("authentication required")]
    Unauthenticated,
    /// A known token that no longer authenticates: expired, revoked, or its user disabled.
    #[error("the token is refused: {0:?}")]
    TokenRefused(crate::admin::TokenRefusal),
    /// The role may not do this, or the enterprise may not act for another one.
    #[error("{message_en}")]
    Forbidden {
        message_en: String,
        message_zh: String,
        errors: Vec<FieldError>,
    },
    /// Absent, or not visible to the caller: the two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    /// The document was refused: every problem, each naming its field.
    #[error("the document has {} error(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The declaration's state does not allow the change.
    #[error("{0}")]
    Transition(TransitionError),
    /// The idempotency key was used before for a different request.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// Somebody changed the declaration at the same time; reading again and retrying is safe.
    #[error("the declaration changed concurrently; read it again and retry")]
    Conflict,
    /// The store cannot take writes now (shutting down); retrying later is safe.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<store::StoreError> for ClearanceError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Unavailable(why) => ClearanceError::Unavailable(why),
            // A unique value taken between our read and our write: a race a retry resolves.
            store::StoreError::Conflict(_) => ClearanceError::Conflict,
            other => ClearanceError::Internal(anyhow::Error::new(other)),
        }
    }
}
