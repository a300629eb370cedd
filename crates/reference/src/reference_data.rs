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

    /// The same data with `lists` in force instead of every release of their kinds, and with
    /// `statutory_units` instead of the hints when given: the reference data of one day, once
    /// the caller has chosen the imported releases in force on it. Lists of other kinds and the
    /// HS sections are kept.
    pub fn with_in_force(
        &self,
        lists: Vec<CodeList>,
        statutory_units: Option<Vec<StatutoryUnitHint>>,
    ) -> ReferenceData {
        let mut data = self.clone();
        for list in lists {
            data.versions.insert(list.kind, vec![list]);
        }
        if let Some(hints) = statutory_units {
            data.statutory_units = hints
                .into_iter()
                .map(|hint| (hint.hs_prefix, hint.units))
                .collect();
        }
        data
    }

    /// The same data widened to read back documents accepted under any of `imported`: for each
    /// kind among them, one open-ended list holding every code of this data's releases of the
    /// kind and of `imported` (the first name met wins, entry validity dropped), and no
    /// statutory-unit hints when `statutory_units_imported`. A document was checked against
    /// the lists in force when it was accepted; a release rolled back later must not make the
    /// record unreadable.
    pub fn with_recorded(
        &self,
        imported: &[&CodeList],
        statutory_units_imported: bool,
    ) -> ReferenceData {
        let mut data = self.clone();
        let mut widened: BTreeMap<CodeListKind, (NaiveDate, BTreeMap<String, CodeEntry>)> =
            BTreeMap::new();
        for list in imported {
            let (from, entries) = widened.entry(list.kind).or_insert_with(|| {
                let mut entries = BTreeMap::new();
                let mut from = list.valid_from;
                for own in self.versions.get(&list.kind).into_iter().flatten() {
                    from = from.min(own.valid_from);
                    add_open_ended(&mut entries, own);
                }
                (from, entries)
            });
            *from = (*from).min(list.valid_from);
            add_open_ended(entries, list);
        }
        for (kind, (from, entries)) in widened {
            let list = CodeList::new(kind, "recorded", from, None, entries.into_values());
            data.versions.insert(kind, vec![list]);
        }
        if statutory_units_imported {
            data.statutory_units.clear();
        }
        data
    }

    /// Every statutory unit hint, by HS prefix.
    pub fn statutory_unit_hints(&self) -> Vec<StatutoryUnitHint> {
        self.statutory_units
            .iter()
            .map(|(hs_prefix, units)| StatutoryUnitHint {
                hs_prefix: hs_prefix.clone(),
                units: units.clone(),
            })
            .collect()
    }

    /// Every release of every kind, by kind and then by `valid_from`.
    pub fn lists(&self) -> impl Iterator<Item = &CodeList> {
        self.versions.values().flatten()
    }
}

/// Adds the codes of `list` not yet in `entries`, without their own validity.
fn add_open_ended(entries: &mut BTreeMap<String, CodeEntry>, list: &CodeList) {
    for entry in list.entries() {
        entries
            .entry(entry.code.clone())
            .or_insert_with(|| CodeEntry {
                valid_from: None,
                valid_to: None,
                ..entry.clone()
            });
    }
}
