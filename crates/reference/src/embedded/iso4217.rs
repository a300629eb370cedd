//! ISO 4217 currency codes from datasets/currency-codes (current and historic rows).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::code_list_csv::combine_errors;
use crate::table::{Column, Row, Table};
use crate::{CodeEntry, CodeList, CodeListKind, ReferenceError};

const FILE_NAME: &str = "data/iso4217-currency-codes.csv";
const TEXT: &str = include_str!("../../data/iso4217-currency-codes.csv");
const VERSION: &str = "iso4217-2026-02";

struct CurrencyColumns {
    code: Column,
    name: Column,
    minor_unit: Column,
    withdrawal_date: Column,
}

pub(super) fn currencies(valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let table = Table::read(FILE_NAME, TEXT);
    let [code, name, minor_unit, withdrawal_date] =
        table.columns(["AlphabeticCode", "Currency", "MinorUnit", "WithdrawalDate"])?;
    let columns = CurrencyColumns {
        code,
        name,
        minor_unit,
        withdrawal_date,
    };
    let mut by_code: BTreeMap<String, CodeEntry> = BTreeMap::new();
    let mut errors = table.errors.clone();
    // Entities without a currency of their own (Antarctica) have no code.
    for row in table.rows.iter().filter(|row| row.optional(code).is_some()) {
        match columns.entry(row) {
            Ok(entry) => keep_preferred(&mut by_code, entry),
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    let entries = combine_errors(errors, Ok(by_code.into_values()))?;
    let list = CodeList::new(CodeListKind::Currency, VERSION, valid_from, None, entries);
    Ok(list)
}

/// The file has one row per (entity, currency), so a code repeats. A code still used by any
/// entity is in force; a code only in withdrawn rows stays valid until its latest withdrawal.
fn keep_preferred(by_code: &mut BTreeMap<String, CodeEntry>, candidate: CodeEntry) {
    let replaces = match by_code.get(&candidate.code) {
        None => true,
        Some(existing) => match (existing.valid_to, candidate.valid_to) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(existing_to), Some(candidate_to)) => candidate_to > existing_to,
        },
    };
    if replaces {
        by_code.insert(candidate.code.clone(), candidate);
    }
}

impl CurrencyColumns {
    fn entry(&self, row: &Row<'_>) -> Result<CodeEntry, Vec<ReferenceError>> {
        let name = row.required(self.name);
        let minor_unit = minor_unit(row, self.minor_unit);
        let valid_to = row
            .optional(self.withdrawal_date)
            .map(|text| withdrawal_valid_to(text).ok_or_else(|| withdrawal_error(row, self)))
            .transpose();
        match (name, minor_unit, valid_to) {
            (Ok(name), Ok(minor_unit), Ok(valid_to)) => Ok(CodeEntry {
                code: row.text(self.code).to_owned(),
                name_en: name.to_owned(),
                name_zh: None,
                valid_from: None,
                valid_to,
                minor_unit,
            }),
            (name, minor_unit, valid_to) => Err([name.err(), minor_unit.err(), valid_to.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

fn withdrawal_error(row: &Row<'_>, columns: &CurrencyColumns) -> ReferenceError {
    row.invalid(
        columns.withdrawal_date,
        "YYYY-MM or years such as `1989 to 1990`",
    )
}

/// Decimal places; funds, metals and units of account have none ("N.A." upstream, "-" here).
fn minor_unit(row: &Row<'_>, column: Column) -> Result<Option<u8>, ReferenceError> {
    match row.text(column) {
        "" | "-" | "N.A." => Ok(None),
        digits => digits
            .parse::<u8>()
            .map(Some)
            .map_err(|_| row.invalid(column, "a number of decimal places or N.A.")),
    }
}

/// The exclusive end of a withdrawn code's validity. Withdrawal dates come as a month
/// ("2002-03", "1990-07 to 1990-09": the first month counts, from its first day) or as years
/// only ("1978 to 1981", "1989-1990": in force until the end of the last year mentioned).
pub(crate) fn withdrawal_valid_to(text: &str) -> Option<NaiveDate> {
    let first_month = text.split_whitespace().find_map(year_month);
    first_month.or_else(|| {
        let last_year = text
            .split(|character: char| !character.is_ascii_digit())
            .filter(|digits| digits.len() == 4)
            .filter_map(|digits| digits.parse::<i32>().ok())
            .max()?;
        NaiveDate::from_ymd_opt(last_year + 1, 1, 1)
    })
}

/// The first day of a `YYYY-MM` month.
fn year_month(token: &str) -> Option<NaiveDate> {
    let (year, month) = token.split_once('-')?;
    let is_year = year.len() == 4 && year.bytes().all(|byte| byte.is_ascii_digit());
    let is_month = month.len() == 2 && month.bytes().all(|byte| byte.is_ascii_digit());
    if !(is_year && is_month) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
}
