//! Reading CSV text into rows that know their line, so every problem can be reported with a
//! place an administrator can find in the file.

use chrono::NaiveDate;
use csv::{ReaderBuilder, StringRecord, Trim};

use crate::{ReferenceError, SourceLine};

/// A CSV file split into its header and data rows. Lines starting with `#` are comments, so the
/// data files can say what they are (for example that a China list is a sample).
pub(crate) struct Table<'a> {
    file_name: &'a str,
    header: Option<Row<'a>>,
    pub rows: Vec<Row<'a>>,
    /// Rows the CSV reader could not split (for example a wrong number of fields).
    pub errors: Vec<ReferenceError>,
}

/// A column located by its header name.
#[derive(Clone, Copy)]
pub(crate) struct Column {
    index: usize,
    pub name: &'static str,
}

pub(crate) struct Row<'a> {
    file_name: &'a str,
    pub line: u64,
    record: StringRecord,
}

impl<'a> Table<'a> {
    pub fn read(file_name: &'a str, text: &str) -> Table<'a> {
        // Some upstream files start with a UTF-8 byte order mark; it is not part of the header.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .comment(Some(b'#'))
            .trim(Trim::All)
            .from_reader(text.as_bytes());
        let mut table = Table {
            file_name,
            header: None,
            rows: Vec::new(),
            errors: Vec::new(),
        };
        for result in reader.records() {
            match result {
                Ok(record) => table.push(record),
                Err(error) => table.errors.push(malformed(file_name, &error)),
            }
        }
        table
    }

    fn push(&mut self, record: StringRecord) {
        let line = record.position().map_or(0, |position| position.line());
        let row = Row {
            file_name: self.file_name,
            line,
            record,
        };
        if self.header.is_none() {
            self.header = Some(row);
        } else {
            self.rows.push(row);
        }
    }

    pub fn column(&self, name: &'static str) -> Result<Column, ReferenceError> {
        self.optional_column(name)
            .ok_or_else(|| ReferenceError::MissingColumn {
                at: self.header_line(),
                column: name.to_owned(),
            })
    }

    pub fn optional_column(&self, name: &'static str) -> Option<Column> {
        let header = self.header.as_ref()?;
        let index = header.record.iter().position(|field| field == name)?;
        Some(Column { index, name })
    }

    /// Locates every named column, reporting each missing one.
    pub fn columns<const N: usize>(
        &self,
        names: [&'static str; N],
    ) -> Result<[Column; N], Vec<ReferenceError>> {
        let found = names.map(|name| self.column(name));
        let errors: Vec<ReferenceError> = found.iter().filter_map(|r| r.clone().err()).collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(found.map(|result| result.expect("errors were returned above")))
    }

    fn header_line(&self) -> SourceLine {
        // A file without any header is reported against its first line.
        let line = self.header.as_ref().map_or(1, |header| header.line);
        SourceLine {
            file_name: self.file_name.to_owned(),
            line,
        }
    }
}

impl Row<'_> {
    pub fn at(&self) -> SourceLine {
        SourceLine {
            file_name: self.file_name.to_owned(),
            line: self.line,
        }
    }

    /// The trimmed field, empty when the row is shorter than the header.
    pub fn text(&self, column: Column) -> &str {
        self.record.get(column.index).unwrap_or("")
    }

    pub fn optional(&self, column: Column) -> Option<&str> {
        Some(self.text(column)).filter(|text| !text.is_empty())
    }

    pub fn required(&self, column: Column) -> Result<&str, ReferenceError> {
        self.optional(column).ok_or_else(|| self.empty(column))
    }

    pub fn empty(&self, column: Column) -> ReferenceError {
        ReferenceError::EmptyField {
            at: self.at(),
            column: column.name.to_owned(),
        }
    }

    /// An ISO date (`YYYY-MM-DD`); empty means not given.
    pub fn date(&self, column: Column) -> Result<Option<NaiveDate>, ReferenceError> {
        let Some(text) = self.optional(column) else {
            return Ok(None);
        };
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| self.invalid(column, "a date as YYYY-MM-DD"))
    }

    pub fn invalid(&self, column: Column, expected: &'static str) -> ReferenceError {
        ReferenceError::InvalidValue {
            at: self.at(),
            column: column.name.to_owned(),
            value: self.text(column).to_owned(),
            expected,
        }
    }
}

fn malformed(file_name: &str, error: &csv::Error) -> ReferenceError {
    let line = error.position().map_or(0, |position| position.line());
    ReferenceError::MalformedCsv {
        at: SourceLine {
            file_name: file_name.to_owned(),
            line,
        },
        message: malformed_message(error),
    }
}

/// The reader's own message repeats the position, which the error already carries.
fn malformed_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("found {len} fields, the header has {expected_len}"),
        _ => error.to_string(),
    }
}
