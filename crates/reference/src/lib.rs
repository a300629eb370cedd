//! Versioned customs code lists with validity dates.
//!
//! A declaration is checked against the lists in force on its date: every list version carries a
//! half-open validity `[valid_from, valid_to)`, and so may every entry inside it (a withdrawn
//! currency, a retired Incoterm).
//! [`ReferenceData::lookup`] first picks the list version in force, then the entry.
//!
//! This crate is part of the pure core: no I/O at run time, no async, no serialization.
//! The shipped data is embedded with `include_str!` and parsed once ([`ReferenceData::embedded`]);
//! administrator-imported releases arrive as text and go through [`parse_code_list_csv`] and
//! [`ReferenceData::from_lists`].
//!
//! The China-specific lists under `data/china/` are a SAMPLE profile that an administration
//! replaces with its own release.

mod changes;
mod code_list;
mod code_list_csv;
mod embedded;
mod error;
mod kind;
mod reference_data;
mod table;

#[cfg(test)]
mod release_tests;
#[cfg(test)]
mod tests;

pub use changes::CodeListChanges;
pub use code_list::{CodeEntry, CodeList};
pub use code_list_csv::{
    parse_code_list_csv, parse_statutory_units_csv, render_code_list_csv,
    render_statutory_units_csv,
};
pub use error::{ReferenceError, SourceLine};
pub use kind::CodeListKind;
pub use reference_data::{HsSection, Lookup, ReferenceData, StatutoryUnitHint};
