use std::fmt;

use chrono::NaiveDate;

/// Where a problem is: the file as the caller named it and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub file_name: String,
    pub line: u64,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.file_name, self.line)
    }
}

/// A problem in reference-data text. Parsers collect every one of them, so an administrator
/// fixes a release in one pass instead of one error per upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("{at}: malformed CSV: {message}")]
    MalformedCsv { at: SourceLine, message: String },
    #[error("{at}: the header has no `{column}` column")]
    MissingColumn { at: SourceLine, column: String },
    #[error("{at}: `{column}` is empty")]
    EmptyField { at: SourceLine, column: String },
    #[error("{at}: `{column}` value `{value}` is invalid: expected {expected}")]
    InvalidValue {
        at: SourceLine,
        column: String,
        value: String,
        expected: &'static str,
    },
    #[error(
        "{at}: validity from {valid_from} to {valid_to} is empty: valid_to must be after valid_from"
    )]
    EmptyValidity {
        at: SourceLine,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
    },
    #[error("{at}: code `{code}` is already defined on line {first_line}")]
    DuplicateCode {
        at: SourceLine,
        code: String,
        first_line: u64,
    },
}

impl ReferenceError {
    pub fn at(&self) -> &SourceLine {
        match self {
            ReferenceError::MalformedCsv { at, .. }
            | ReferenceError::MissingColumn { at, .. }
            | ReferenceError::EmptyField { at, .. }
            | ReferenceError::InvalidValue { at, .. }
            | ReferenceError::EmptyValidity { at, .. }
            | ReferenceError::DuplicateCode { at, .. } => at,
        }
    }

    pub fn file_name(&self) -> &str {
        &self.at().file_name
    }

    pub fn line(&self) -> u64 {
        self.at().line
    }
}
