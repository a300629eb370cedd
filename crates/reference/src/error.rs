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

    /// The column the problem is in, when it is one column's.
    pub fn column(&self) -> Option<&str> {
        match self {
            ReferenceError::MissingColumn { column, .. }
            | ReferenceError::EmptyField { column, .. }
            | ReferenceError::InvalidValue { column, .. } => Some(column),
            ReferenceError::DuplicateCode { .. } => Some("code"),
            ReferenceError::MalformedCsv { .. } | ReferenceError::EmptyValidity { .. } => None,
        }
    }

    /// What is wrong, in English, without the place (see [`ReferenceError::at`]).
    pub fn message_en(&self) -> String {
        match self {
            ReferenceError::MalformedCsv { message, .. } => format!("malformed CSV: {message}"),
            ReferenceError::MissingColumn { column, .. } => {
                format!("the header has no `{column}` column")
            }
            ReferenceError::EmptyField { column, .. } => format!("`{column}` is empty"),
            ReferenceError::InvalidValue {
                column,
                value,
                expected,
                ..
            } => format!("`{column}` value `{value}` is invalid: expected {expected}"),
            ReferenceError::EmptyValidity {
                valid_from,
                valid_to,
                ..
            } => format!(
                "validity from {valid_from} to {valid_to} is empty: valid_to must be after valid_from"
            ),
            ReferenceError::DuplicateCode {
                code, first_line, ..
            } => format!("code `{code}` is already defined on line {first_line}"),
        }
    }

    /// What is wrong, in Chinese, without the place.
    pub fn message_zh(&self) -> String {
        match self {
            ReferenceError::MalformedCsv { message, .. } => format!("CSV 格式错误：{message}"),
            ReferenceError::MissingColumn { column, .. } => format!("表头缺少 `{column}` 列"),
            ReferenceError::EmptyField { column, .. } => format!("`{column}` 为空"),
            ReferenceError::InvalidValue {
                column,
                value,
                expected,
                ..
            } => format!(
                "`{column}` 的值 `{value}` 无效：应为 {}",
                expected_zh(expected)
            ),
            ReferenceError::EmptyValidity {
                valid_from,
                valid_to,
                ..
            } => format!("有效期 {valid_from} 至 {valid_to} 为空：valid_to 必须晚于 valid_from"),
            ReferenceError::DuplicateCode {
                code, first_line, ..
            } => format!("代码 `{code}` 已在第 {first_line} 行定义"),
        }
    }

    pub fn file_name(&self) -> &str {
        &self.at().file_name
    }

    pub fn line(&self) -> u64 {
        self.at().line
    }
}

/// The Chinese of an `expected` text of [`ReferenceError::InvalidValue`]; the English is kept for
/// one this table does not know, so a message is never empty.
fn expected_zh(expected: &str) -> &str {
    match expected {
        "a date as YYYY-MM-DD" => "YYYY-MM-DD 格式的日期",
        "HS digits without separators" => "不带分隔符的 HS 数字",
        "unit codes separated by '|'" => "以 '|' 分隔的单位代码",
        other => other,
    }
}
