//! The simple CSV formats an administration uses for its own lists:
//! `code,name_en,name_zh[,valid_from,valid_to]` for code lists and `hs_prefix,units` for
//! statutory unit hints. Lines starting with `#` are comments.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::table::{Column, Row, Table};
use crate::{CodeEntry, CodeList, CodeListKind, ReferenceError, SourceLine, StatutoryUnitHint};

/// Parses one code-list release, reporting every bad line (not just the first).
///
/// Columns are found by header name; `valid_from` and `valid_to` (ISO dates, `valid_to`
/// exclusive) are optional columns and may be empty. A code may appear only once per release.
/// An empty list validity (`valid_to` not after `valid_from`) is reported against line 1, as it
/// belongs to the file as a whole.
pub fn parse_code_list_csv(
    kind: CodeListKind,
    version: &str,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    file_name: &str,
    text: &str,
) -> Result<CodeList, Vec<ReferenceError>> {
    let mut errors = check_list_validity(file_name, valid_from, valid_to);
    let mut table = Table::read(file_name, text);
    errors.append(&mut table.errors);
    let columns = match SimpleColumns::locate(&table) {
        Ok(columns) => columns,
        Err(missing) => return Err(in_file_order(errors, missing)),
    };
    let rows = table
        .rows
        .iter()
        .map(|row| Ok((row.line, columns.entry(row)?)));
    let entries = combine_errors(errors, collect_unique(file_name, rows))?;
    Ok(CodeList::new(kind, version, valid_from, valid_to, entries))
}

/// Parses statutory unit hints: `hs_prefix,units` with the UNECE Rec 20 codes separated by `|`.
pub fn parse_statutory_units_csv(
    file_name: &str,
    text: &str,
) -> Result<Vec<StatutoryUnitHint>, Vec<ReferenceError>> {
    let table = Table::read(file_name, text);
    let [prefix_column, units_column] = table.columns(["hs_prefix", "units"])?;
    let mut first_lines: BTreeMap<String, u64> = BTreeMap::new();
    let mut hints = Vec::new();
    let mut errors = table.errors.clone();
    // Same rule as for codes: a prefix given twice is a mistake, not an override.
    for row in &table.rows {
        match statutory_unit_hint(row, prefix_column, units_column) {
            Ok(hint) => match first_lines.get(&hint.hs_prefix) {
                Some(&first_line) => errors.push(duplicate(row, &hint.hs_prefix, first_line)),
                None => {
                    first_lines.insert(hint.hs_prefix.clone(), row.line);
                    hints.push(hint);
                }
            },
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    combine_errors(errors, Ok(hints))
}

fn statutory_unit_hint(
    row: &Row<'_>,
    prefix_column: Column,
    units_column: Column,
) -> Result<StatutoryUnitHint, Vec<ReferenceError>> {
    let hs_prefix = row.required(prefix_column).and_then(|prefix| {
        // HS codes are digits only; a dotted "8703.23" would silently never match.
        let is_digits = prefix.bytes().all(|byte| byte.is_ascii_digit());
        is_digits
            .then(|| prefix.to_owned())
            .ok_or_else(|| row.invalid(prefix_column, "HS digits without separators"))
    });
    let units = row.required(units_column).and_then(|units| {
        let units: Vec<String> = units
            .split('|')
            .map(|unit| unit.trim().to_owned())
            .collect();
        let has_empty = units.iter().any(String::is_empty);
        (!has_empty)
            .then_some(units)
            .ok_or_else(|| row.invalid(units_column, "unit codes separated by '|'"))
    });
    match (hs_prefix, units) {
        (Ok(hs_prefix), Ok(units)) => Ok(StatutoryUnitHint { hs_prefix, units }),
        (hs_prefix, units) => Err([hs_prefix.err(), units.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// The columns of the simple code-list format.
struct SimpleColumns {
    code: Column,
    name_en: Column,
    name_zh: Column,
    valid_from: Option<Column>,
    valid_to: Option<Column>,
}

impl SimpleColumns {
    fn locate(table: &Table<'_>) -> Result<SimpleColumns, Vec<ReferenceError>> {
        let [code, name_en, name_zh] = table.columns(["code", "name_en", "name_zh"])?;
        Ok(SimpleColumns {
            code,
            name_en,
            name_zh,
            valid_from: table.optional_column("valid_from"),
            valid_to: table.optional_column("valid_to"),
        })
    }

    /// One entry, or every problem of its row.
    fn entry(&self, row: &Row<'_>) -> Result<CodeEntry, Vec<ReferenceError>> {
        let code = row.required(self.code);
        let name_en = row.required(self.name_en);
        let valid_from = self.valid_from.map_or(Ok(None), |column| row.date(column));
        let valid_to = self.valid_to.map_or(Ok(None), |column| row.date(column));
        match (code, name_en, valid_from, valid_to) {
            (Ok(code), Ok(name_en), Ok(valid_from), Ok(valid_to)) => {
                check_validity(row.at(), valid_from, valid_to).map_err(|error| vec![error])?;
                Ok(CodeEntry {
                    code: code.to_owned(),
                    name_en: name_en.to_owned(),
                    name_zh: row.optional(self.name_zh).map(str::to_owned),
                    valid_from,
                    valid_to,
                    minor_unit: None,
                })
            }
            (code, name_en, valid_from, valid_to) => {
                Err(
                    [code.err(), name_en.err(), valid_from.err(), valid_to.err()]
                        .into_iter()
                        .flatten()
                        .collect(),
                )
            }
        }
    }
}

/// Collects entries keyed by code, reporting a repeated code against the line that repeats it.
/// Shared by every importer so no release silently keeps only one of two rows.
pub(crate) fn collect_unique(
    file_name: &str,
    rows: impl Iterator<Item = Result<(u64, CodeEntry), Vec<ReferenceError>>>,
) -> Result<Vec<CodeEntry>, Vec<ReferenceError>> {
    let mut first_lines: BTreeMap<String, u64> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for row in rows {
        match row {
            Ok((line, entry)) => match first_lines.get(&entry.code) {
                Some(&first_line) => errors.push(ReferenceError::DuplicateCode {
                    at: SourceLine {
                        file_name: file_name.to_owned(),
                        line,
                    },
                    code: entry.code,
                    first_line,
                }),
                None => {
                    first_lines.insert(entry.code.clone(), line);
                    entries.push(entry);
                }
            },
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

pub(crate) fn check_validity(
    at: SourceLine,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
) -> Result<(), ReferenceError> {
    match (valid_from, valid_to) {
        (Some(valid_from), Some(valid_to)) if valid_to <= valid_from => {
            Err(ReferenceError::EmptyValidity {
                at,
                valid_from,
                valid_to,
            })
        }
        _ => Ok(()),
    }
}

fn check_list_validity(
    file_name: &str,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
) -> Vec<ReferenceError> {
    let at = SourceLine {
        file_name: file_name.to_owned(),
        line: 1,
    };
    check_validity(at, Some(valid_from), valid_to)
        .err()
        .into_iter()
        .collect()
}

fn duplicate(row: &Row<'_>, code: &str, first_line: u64) -> ReferenceError {
    ReferenceError::DuplicateCode {
        at: row.at(),
        code: code.to_owned(),
        first_line,
    }
}

/// Succeeds only if neither the earlier steps nor `result` found a problem; otherwise returns
/// the problems of both.
pub(crate) fn combine_errors<T>(
    errors: Vec<ReferenceError>,
    result: Result<T, Vec<ReferenceError>>,
) -> Result<T, Vec<ReferenceError>> {
    match result {
        Ok(value) if errors.is_empty() => Ok(value),
        Ok(_) => Err(in_file_order(errors, Vec::new())),
        Err(more) => Err(in_file_order(errors, more)),
    }
}

/// All errors in file order, so the report reads top to bottom.
pub(crate) fn in_file_order(
    mut errors: Vec<ReferenceError>,
    more: Vec<ReferenceError>,
) -> Vec<ReferenceError> {
    errors.extend(more);
    errors.sort_by_key(ReferenceError::line);
    errors
}

/// Renders a code list in the simple format [`parse_code_list_csv`] reads, so a release can be
/// exported, edited and imported again: `parse(render(list))` gives the same entries back.
///
/// `valid_from` and `valid_to` columns are written only when an entry has its own validity.
/// Fields are quoted when they are not numbers, so a code starting with `#` is not read back as
/// a comment line.
pub fn render_code_list_csv(list: &CodeList) -> String {
    let dated = list
        .entries()
        .any(|entry| entry.valid_from.is_some() || entry.valid_to.is_some());
    let mut header = vec!["code", "name_en", "name_zh"];
    if dated {
        header.extend(["valid_from", "valid_to"]);
    }
    let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    for entry in list.entries() {
        let mut row = vec![
            entry.code.clone(),
            entry.name_en.clone(),
            entry.name_zh.clone().unwrap_or_default(),
        ];
        if dated {
            let day = |date: Option<NaiveDate>| date.map(|d| d.to_string()).unwrap_or_default();
            row.extend([day(entry.valid_from), day(entry.valid_to)]);
        }
        rows.push(row);
    }
    write_rows(rows)
}

/// Renders statutory unit hints in the format [`parse_statutory_units_csv`] reads.
pub fn render_statutory_units_csv(hints: &[StatutoryUnitHint]) -> String {
    let mut rows = vec![vec!["hs_prefix".to_owned(), "units".to_owned()]];
    rows.extend(
        hints
            .iter()
            .map(|hint| vec![hint.hs_prefix.clone(), hint.units.join("|")]),
    );
    write_rows(rows)
}

fn write_rows(rows: Vec<Vec<String>>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .from_writer(Vec::new());
    for row in rows {
        // Writing into memory fails only on an I/O error, which a Vec does not have.
        writer.write_record(&row).expect("writing CSV into memory");
    }
    let bytes = writer.into_inner().expect("flushing CSV into memory");
    String::from_utf8(bytes).expect("the fields were UTF-8")
}
