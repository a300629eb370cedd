//! The declaration model, its validation and its lifecycle: the pure core of clearance.
//!
//! No I/O, no async, no serialisation, no clock: callers pass the date and the reference data in.
//! Values of the types here are valid by construction (see `wire` for the boundary parser).

pub mod codes;
pub mod declaration;
pub mod lifecycle;
pub mod limits;
pub mod numbering;
pub mod numbers;
pub mod problem;
pub mod rules;

pub use codes::ParseContext;
pub use declaration::*;
pub use lifecycle::{DeclarationEvent, DeclarationState, DeclarationStatus, TransitionError};
pub use numbering::{DeclarationNumber, NumberScheme};
pub use problem::{ECHOED_TEXT_CHARS_MAX, ECHOED_VALUE_CHARS_MAX, ErrorCode, FieldError, echoed};

#[cfg(test)]
mod tests;
