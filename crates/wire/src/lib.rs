//! JSON forms of the domain (API v1) and their parsers: the boundary where raw input becomes
//! validated domain types, once. The domain crate knows nothing of serde; this crate converts
//! both ways by hand, so the JSON shape can stay stable while the model evolves.

pub mod declaration;
pub mod event;
pub mod render;
pub mod views;

pub use declaration::DeclarationDto;
pub use event::{DecodeError, decode_event, encode_acceptance, encode_event};
pub use views::*;

#[cfg(test)]
mod tests;
