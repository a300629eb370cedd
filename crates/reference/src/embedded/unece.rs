//! UNECE Recommendation 20 (units of measure) and 21 (package types) from uncefact/vocab-codes.

use chrono::NaiveDate;

use crate::code_list_csv::{collect_unique, combine_errors};
use crate::table::{Column, Row, Table};
use crate::{CodeEntry, CodeList, CodeListKind, ReferenceError};

/// Rec 20 and 21 mark deleted codes with `X`; they must not be accepted on new declarations.
/// Deprecated (`D`) codes stay valid, and other marks (`¦` = changed) are kept too.
const DELETED: &str = "X";

/// One UNECE code-list file: its code column and what to call the result.
struct UneceFile {
    kind: CodeListKind,
    version: &'static str,
    file_name: &'static str,
    text: &'static str,
    code_column: &'static str,
}

pub(super) fn units(valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let file = UneceFile {
        kind: CodeListKind::Unit,
        version: "rec20-2024",
        file_name: "data/unece-rec20-units-annex2-3.csv",
        text: include_str!("../../data/unece-rec20-units-annex2-3.csv"),
        code_column: "CommonCode",
    };
    code_list(&file, valid_from)
}

pub(super) fn package_types(valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let file = UneceFile {
        kind: CodeListKind::PackageType,
        version: "rec21-2024",
        file_name: "data/unece-rec21-package-types.csv",
        text: include_str!("../../data/unece-rec21-package-types.csv"),
        code_column: "Code",
    };
    code_list(&file, valid_from)
}

fn code_list(file: &UneceFile, valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let table = Table::read(file.file_name, file.text);
    let [status, code, name] = table.columns(["Status", file.code_column, "Name"])?;
    let rows = table
        .rows
        .iter()
        .filter(|row| row.text(status) != DELETED)
        .map(|row| Ok((row.line, entry(row, code, name)?)));
    let entries = combine_errors(table.errors.clone(), collect_unique(file.file_name, rows))?;
    let list = CodeList::new(file.kind, file.version, valid_from, None, entries);
    Ok(list)
}

fn entry(row: &Row<'_>, code: Column, name: Column) -> Result<CodeEntry, Vec<ReferenceError>> {
    match (row.required(code), row.required(name)) {
        (Ok(code), Ok(name)) => Ok(CodeEntry {
            code: code.to_owned(),
            name_en: name.to_owned(),
            name_zh: None,
            valid_from: None,
            valid_to: None,
            minor_unit: None,
        }),
        (code, name) => Err([code.err(), name.err()].into_iter().flatten().collect()),
    }
}
