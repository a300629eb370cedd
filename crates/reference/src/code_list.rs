use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::CodeListKind;

/// One code of a code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: String,
    pub name_en: String,
    pub name_zh: Option<String>,
    /// First day the code is in force; `None` means as long as its list.
    pub valid_from: Option<NaiveDate>,
    /// First day the code is no longer in force (exclusive end); `None` means open-ended.
    pub valid_to: Option<NaiveDate>,
    /// Decimal places of the currency's minor unit; currencies only.
    pub minor_unit: Option<u8>,
}

impl CodeEntry {
    /// Whether the entry's own validity contains `on`; the list's validity is checked separately.
    pub fn is_in_force(&self, on: NaiveDate) -> bool {
        is_within(on, self.valid_from, self.valid_to)
    }
}

/// One version (release) of a code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeList {
    pub kind: CodeListKind,
    /// Release identifier shown to users and recorded with checks, e.g. `HS2022`.
    pub version: String,
    pub valid_from: NaiveDate,
    /// Exclusive end; `None` means in force until a later release replaces it.
    pub valid_to: Option<NaiveDate>,
    /// Keyed by code: one entry per code per release, in code order for stable output.
    entries: BTreeMap<String, CodeEntry>,
}

impl CodeList {
    /// Builds a release from entries. Codes are unique within a release: a later entry with the
    /// same code replaces an earlier one. Use [`crate::parse_code_list_csv`] to have duplicates
    /// reported instead.
    pub fn new(
        kind: CodeListKind,
        version: impl Into<String>,
        valid_from: NaiveDate,
        valid_to: Option<NaiveDate>,
        entries: impl IntoIterator<Item = CodeEntry>,
    ) -> CodeList {
        let entries = entries
            .into_iter()
            .map(|entry| (entry.code.clone(), entry))
            .collect();
        CodeList {
            kind,
            version: version.into(),
            valid_from,
            valid_to,
            entries,
        }
    }

    /// The entry for `code`, matched exactly (codes are case-sensitive: China's licence codes
    /// use both `a` and `A`).
    pub fn get(&self, code: &str) -> Option<&CodeEntry> {
        self.entries.get(code)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in code order.
    pub fn entries(&self) -> impl Iterator<Item = &CodeEntry> {
        self.entries.values()
    }

    /// Whether the release's validity contains `on`.
    pub fn is_in_force(&self, on: NaiveDate) -> bool {
        is_within(on, Some(self.valid_from), self.valid_to)
    }
}

/// Half-open interval test shared by lists and entries: `[valid_from, valid_to)`.
fn is_within(on: NaiveDate, valid_from: Option<NaiveDate>, valid_to: Option<NaiveDate>) -> bool {
    let started = valid_from.is_none_or(|from| from <= on);
    let not_ended = valid_to.is_none_or(|to| on < to);
    started && not_ended
}
