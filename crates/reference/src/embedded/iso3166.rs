//! ISO 3166-1 country codes from datasets/country-codes.

use chrono::NaiveDate;

use crate::code_list_csv::{collect_unique, combine_errors};
use crate::table::{Column, Row, Table};
use crate::{CodeEntry, CodeList, CodeListKind, ReferenceError};

const FILE_NAME: &str = "data/country-codes.csv";
const TEXT: &str = include_str!("../../data/country-codes.csv");
const VERSION: &str = "iso3166-2026-05";

struct CountryColumns {
    alpha_2: Column,
    cldr_name: Column,
    official_name_en: Column,
    official_name_cn: Column,
    unterm_chinese_short: Column,
}

pub(super) fn countries(valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let table = Table::read(FILE_NAME, TEXT);
    let [
        alpha_2,
        cldr_name,
        official_name_en,
        official_name_cn,
        unterm_chinese_short,
    ] = table.columns([
        "ISO3166-1-Alpha-2",
        "CLDR display name",
        "official_name_en",
        "official_name_cn",
        "UNTERM Chinese Short",
    ])?;
    let columns = CountryColumns {
        alpha_2,
        cldr_name,
        official_name_en,
        official_name_cn,
        unterm_chinese_short,
    };
    // Rows without an alpha-2 code are territories a declaration cannot name.
    let rows = table
        .rows
        .iter()
        .filter(|row| row.optional(columns.alpha_2).is_some())
        .map(|row| Ok((row.line, columns.entry(row)?)));
    let entries = combine_errors(table.errors.clone(), collect_unique(FILE_NAME, rows))?;
    let list = CodeList::new(CodeListKind::Country, VERSION, valid_from, None, entries);
    Ok(list)
}

impl CountryColumns {
    fn entry(&self, row: &Row<'_>) -> Result<CodeEntry, Vec<ReferenceError>> {
        // CLDR names are the short everyday ones ("Bolivia"), preferred over the ISO official
        // names; the Chinese official name falls back to the UN terminology database.
        let name_en = row
            .optional(self.cldr_name)
            .or(row.optional(self.official_name_en))
            .ok_or_else(|| vec![row.empty(self.cldr_name)])?;
        let name_zh = row
            .optional(self.official_name_cn)
            .or(row.optional(self.unterm_chinese_short));
        Ok(CodeEntry {
            code: row.text(self.alpha_2).to_owned(),
            name_en: name_en.to_owned(),
            name_zh: name_zh.map(str::to_owned),
            valid_from: None,
            valid_to: None,
            minor_unit: None,
        })
    }
}
