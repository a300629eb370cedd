//! HS 2022 nomenclature from datasets/harmonized-system.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::code_list_csv::{collect_unique, combine_errors};
use crate::table::{Column, Row, Table};
use crate::{CodeEntry, CodeList, CodeListKind, HsSection, ReferenceError};

const FILE_NAME: &str = "data/hs2022-harmonized-system.csv";
const TEXT: &str = include_str!("../../data/hs2022-harmonized-system.csv");
const SECTIONS_FILE_NAME: &str = "data/hs2022-sections.csv";
const SECTIONS_TEXT: &str = include_str!("../../data/hs2022-sections.csv");
const VERSION: &str = "HS2022";

/// The file's `level` of a 6-digit subheading and of a 2-digit chapter.
const SUBHEADING_LEVEL: &str = "6";
const CHAPTER_LEVEL: &str = "2";

/// Chapter 99 / subheading 999999 ("commodities not specified according to kind") is a
/// statistical placeholder of the dataset, not a subheading a declarant may use.
const NOT_SPECIFIED_SUBHEADING: &str = "999999";
const NOT_SPECIFIED_SECTION: &str = "TOTAL";

/// The parsed nomenclature: the subheading list and the section of every chapter.
pub(super) struct Hs2022 {
    pub subheadings: CodeList,
    pub sections_by_chapter: BTreeMap<String, HsSection>,
}

/// Reads the large nomenclature file once for both the subheadings and the chapters.
pub(super) fn nomenclature(valid_from: NaiveDate) -> Result<Hs2022, Vec<ReferenceError>> {
    let table = Table::read(FILE_NAME, TEXT);
    let subheadings = subheadings(&table, valid_from);
    let sections_by_chapter = sections_by_chapter(&table);
    match (subheadings, sections_by_chapter) {
        (Ok(subheadings), Ok(sections_by_chapter)) => Ok(Hs2022 {
            subheadings,
            sections_by_chapter,
        }),
        (subheadings, sections) => {
            let errors = [subheadings.err(), sections.err()];
            Err(errors.into_iter().flatten().flatten().collect())
        }
    }
}

fn subheadings(table: &Table<'_>, valid_from: NaiveDate) -> Result<CodeList, Vec<ReferenceError>> {
    let [code, description, level] = table.columns(["hscode", "description", "level"])?;
    let rows = table
        .rows
        .iter()
        .filter(|row| row.text(level) == SUBHEADING_LEVEL)
        .filter(|row| row.text(code) != NOT_SPECIFIED_SUBHEADING)
        .map(|row| Ok((row.line, subheading(row, code, description)?)));
    let entries = combine_errors(table.errors.clone(), collect_unique(FILE_NAME, rows))?;
    let list = CodeList::new(
        CodeListKind::HsSubheading,
        VERSION,
        valid_from,
        None,
        entries,
    );
    Ok(list)
}

fn subheading(
    row: &Row<'_>,
    code: Column,
    description: Column,
) -> Result<CodeEntry, Vec<ReferenceError>> {
    let subheading = row.text(code);
    let is_six_digits = subheading.len() == 6 && subheading.bytes().all(|b| b.is_ascii_digit());
    let code = if is_six_digits {
        Ok(subheading)
    } else {
        Err(row.invalid(code, "six digits"))
    };
    match (code, row.required(description)) {
        (Ok(code), Ok(description)) => Ok(CodeEntry {
            code: code.to_owned(),
            name_en: description.to_owned(),
            name_zh: None,
            valid_from: None,
            valid_to: None,
            minor_unit: None,
        }),
        (code, description) => Err([code.err(), description.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// The section of every chapter, keyed by the 2-digit chapter.
fn sections_by_chapter(
    table: &Table<'_>,
) -> Result<BTreeMap<String, HsSection>, Vec<ReferenceError>> {
    let sections = section_titles()?;
    let [code, section, level] = table.columns(["hscode", "section", "level"])?;
    let mut by_chapter = BTreeMap::new();
    // Reading errors of the shared table are reported once, by `subheadings`.
    let mut errors = Vec::new();
    let chapters = table
        .rows
        .iter()
        .filter(|row| row.text(level) == CHAPTER_LEVEL);
    for row in chapters.filter(|row| row.text(section) != NOT_SPECIFIED_SECTION) {
        match sections.get(row.text(section)) {
            Some(hs_section) => {
                by_chapter.insert(row.text(code).to_owned(), hs_section.clone());
            }
            None => errors.push(row.invalid(section, "a section of hs2022-sections.csv")),
        }
    }
    combine_errors(errors, Ok(by_chapter))
}

/// Section titles keyed by Roman numeral.
fn section_titles() -> Result<BTreeMap<String, HsSection>, Vec<ReferenceError>> {
    let table = Table::read(SECTIONS_FILE_NAME, SECTIONS_TEXT);
    let [number, name] = table.columns(["section", "name"])?;
    let mut sections = BTreeMap::new();
    let mut errors = table.errors.clone();
    for row in &table.rows {
        match (row.required(number), row.required(name)) {
            (Ok(number), Ok(name)) => {
                let section = HsSection {
                    number: number.to_owned(),
                    name_en: name.to_owned(),
                };
                sections.insert(number.to_owned(), section);
            }
            (number, name) => errors.extend([number.err(), name.err()].into_iter().flatten()),
        }
    }
    combine_errors(errors, Ok(sections))
}
