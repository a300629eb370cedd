//! UN/EDIFACT at the platform's edge: a CUSDEC (D.96B) interchange in, read into the JSON
//! boundary form `wire::DeclarationDto` (then lodged through the same clearance path as JSON),
//! and CUSRES and CONTRL out. Pure: bytes in, text out, no I/O and no clock (the caller passes
//! the time of preparation).
//!
//! - `syntax`: UNA, UNB/UNZ, UNH/UNT, segments, elements, components, the release character,
//!   the repertoires UNOA/UNOB/UNOC/UNOY, with ISO 9735 error codes and positions.
//! - `mapping`: the one table of where each field travels (docs/edifact-mapping.md).
//! - `cusdec`: reading a CUSDEC into the JSON form and rendering one from it.
//! - `cusres`: acceptance, refusal and receipts. `contrl`: syntax errors.

// A syntax error carries its place and its words in two languages; it is made at most once per
// refused interchange, so its size costs nothing worth boxing it for.
#![allow(clippy::result_large_err)]

pub mod contrl;
pub mod cusdec;
pub mod cusres;
pub mod mapping;
pub mod syntax;

#[cfg(test)]
mod tests;

pub use contrl::{Received, contrl, received};
pub use cusdec::{Cusdec, Envelope, ReadError, Refusal, RenderError, read, render};
pub use cusres::{acceptance, refusal, render_receipt};
pub use syntax::{Interchange, SyntaxError, parse_interchange};

/// The media type of a lodging in EDIFACT.
pub const MEDIA_TYPE: &str = "application/edifact";

/// Every limit of the syntax layer, checked before the work it bounds.
pub mod limits {
    /// The largest interchange read: a CUSDEC of the largest declaration (999 items) written
    /// out is about 600 KiB.
    pub const INTERCHANGE_BYTES_MAX: usize = 2 * 1024 * 1024;
    /// Segments of one message, UNH and UNT included (999 items of about 9 segments, and the
    /// header).
    pub const SEGMENTS_PER_MESSAGE_MAX: usize = 10_000;
    /// Messages of one interchange: a lodging is one CUSDEC; many declarations go through the
    /// declaration batches (`POST /v1/declaration-batches`).
    pub const MESSAGES_PER_INTERCHANGE_MAX: usize = 1;
    /// Characters of one data element value (D.96B's longest is an..512).
    pub const ELEMENT_LENGTH_MAX: usize = 512;
    /// Data elements after a segment's tag (D.96B's segments have fewer than 30).
    pub const ELEMENTS_PER_SEGMENT_MAX: usize = 99;
    /// Components of one composite data element.
    pub const COMPONENTS_PER_ELEMENT_MAX: usize = 99;
}

/// A lodging read from an interchange: its envelope and the one CUSDEC it carries.
#[derive(Debug, Clone)]
pub struct Lodging {
    pub interchange: Interchange,
    pub cusdec: Cusdec,
}

/// Reads a lodging: the interchange's syntax, then the CUSDEC's content.
pub fn read_lodging(input: &[u8]) -> Result<Lodging, ReadError> {
    let interchange = parse_interchange(input).map_err(ReadError::Syntax)?;
    let cusdec = read(&interchange.messages[0], interchange.delimiters.decimal)?;
    Ok(Lodging {
        interchange,
        cusdec,
    })
}
