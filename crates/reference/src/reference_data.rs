use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::{CodeEntry, CodeList, CodeListKind};

/// The answer to "is this code valid on this date?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The code is in the list in force and in force itself.
    InForce(&'a CodeEntry),
    /// The list in force does not contain the code.
    Unknown,
    /// The list in force contains the code, but not for this date (withdrawn or not yet valid).
    NotInForce {
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    },
    /// No release of the list covers the date, so the code cannot be checked; this is not the
    /// declarant's fault (for example an HS2017-era date when only HS2022 is loaded).
    NoListInForce,
}

/// Statutory (legal) units expected for commodity codes starting with `hs_prefix`, as UNECE
/// Rec 20 codes, first statutory unit first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryUnitHint {
    pub hs_prefix: String,
    pub units: Vec<String>,
}

/// A section of the Harmonized System nomenclature (Roman numeral and title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsSection {
    pub number: String,
    pub name_en: String,
}

/// Every code-list release known to the platform, with date-aware lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceData {
    /// Releases per kind, sorted by `valid_from`.
    versions: BTreeMap<CodeListKind, Vec<CodeList>>,
    /// Statutory units keyed by HS prefix.
    statutory_units: BTreeMap<String, Vec<String>>,
    /// HS section keyed by 2-digit chapter.
    hs_sections: BTreeMap<String, HsSection>,
}

impl ReferenceData {
    /// Parsed once from the embedded files; panics only if the embedded data is corrupt (a test
    /// proves it is not).
    pub fn embedded() -> &'static ReferenceData {
        static EMBEDDED: OnceLock<ReferenceData> = OnceLock::new();
        EMBEDDED.get_or_init(crate::embedded::load_or_panic)
    }

    /// Builds from caller-supplied lists (tests and administrator-imported releases).
    ///
    /// Releases of one kind may overlap: on a date covered by several, the one with the latest
    /// `valid_from` is in force, so a new release supersedes an open-ended old one without
    /// editing it. A hint repeated for the same prefix replaces the earlier one.
    pub fn from_lists(
        lists: Vec<CodeList>,
        statutory_units: Vec<StatutoryUnitHint>,
    ) -> ReferenceData {
        let mut versions: BTreeMap<CodeListKind, Vec<CodeList>> = BTreeMap::new();
        for list in lists {
            versions.entry(list.kind).or_default().push(list);
        }
        for releases in versions.values_mut() {
            // Stable sort keeps the caller's order between releases starting on the same day.
            releases.sort_by_key(|list| list.valid_from);
        }
        let statutory_units = statutory_units
            .into_iter()
            .map(|hint| (hint.hs_prefix, hint.units))
            .collect();
        ReferenceData {
            versions,
            statutory_units,
            hs_sections: BTreeMap::new(),
        }
    }

    /// Adds the HS section of each 2-digit chapter (embedded data; optional for imports).
    pub(crate) fn with_hs_sections(mut self, hs_sections: BTreeMap<String, HsSection>) -> Self {
        self.hs_sections = hs_sections;
        self
    }

    /// Checks `code` against the list of `kind` in force on `on`.
    pub fn lookup(&self, kind: CodeListKind, code: &str, on: NaiveDate) -> Lookup<'_> {
        let Some(list) = self.list_in_force(kind, on) else {
            return Lookup::NoListInForce;
        };
        match list.get(code) {
            None => Lookup::Unknown,
            Some(entry) if entry.is_in_force(on) => Lookup::InForce(entry),
            Some(entry) => Lookup::NotInForce {
                valid_from: entry.valid_from,
                valid_to: entry.valid_to,
            },
        }
    }

    /// The release of `kind` in force on `on`: of those whose validity contains the date, the
    /// one that started last.
    pub fn list_in_force(&self, kind: CodeListKind, on: NaiveDate) -> Option<&CodeList> {
        let releases = self.versions.get(&kind)?;
        releases.iter().rev().find(|list| list.is_in_force(on))
    }

    /// Statutory (legal) units expected for a commodity code when known: longest matching HS
    /// prefix wins. None = not known.
    pub fn statutory_units(&self, commodity_code: &str) -> Option<&[String]> {
        (1..=commodity_code.len())
            .rev()
            .filter_map(|length| commodity_code.get(..length))
            .find_map(|prefix| self.statutory_units.get(prefix))
            .map(Vec::as_slice)
    }

    /// The HS section of a commodity code, from its first two digits. None when the chapter is
    /// unknown or the data was built without sections.
    pub fn hs_section(&self, commodity_code: &str) -> Option<&HsSection> {
        let chapter = commodity_code.get(..2)?;
        self.hs_sections.get(chapter)
    }

    /// Every release of every kind, by kind and then by `valid_from`.
    pub fn lists(&self) -> impl Iterator<Item = &CodeList> {
        self.versions.values().flatten()
    }
}
