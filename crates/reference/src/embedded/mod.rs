//! The reference data shipped inside the binary, and the importers for the upstream file
//! formats (ISO 3166, ISO 4217, UNECE Rec 20/21, HS 2022).

mod hs2022;
mod iso3166;
mod iso4217;

#[cfg(test)]
pub(crate) use iso4217::withdrawal_valid_to;
mod unece;

use chrono::NaiveDate;

use crate::{
    CodeList, CodeListKind, ReferenceData, ReferenceError, parse_code_list_csv,
    parse_statutory_units_csv,
};

/// Start of the snapshot lists. Their files are current snapshots without earlier releases, so
/// they stand in for the whole history: an old declaration is checked against today's codes
/// rather than reported as having no list. Withdrawn currencies keep their own end dates.
const SNAPSHOT_FROM: NaiveDate = date(1970, 1, 1);

/// HS 2022 entered into force on 1 January 2022; there is no HS 2017 release here, so earlier
/// dates get `NoListInForce` on purpose.
const HS2022_FROM: NaiveDate = date(2022, 1, 1);

/// Incoterms 2010 entered into force on 1 January 2011; the list holds the 2010 and 2020 rules
/// with per-entry validity (DAT ends, DPU starts on 2020-01-01).
const INCOTERMS_2010_FROM: NaiveDate = date(2011, 1, 1);

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// A list in the simple `code,name_en,name_zh[,valid_from,valid_to]` format.
struct SimpleList {
    kind: CodeListKind,
    version: &'static str,
    valid_from: NaiveDate,
    file_name: &'static str,
    text: &'static str,
}

/// China's lists: a SAMPLE profile that an administration replaces with its own release.
const CHINA_SAMPLE_LISTS: [SimpleList; 7] = [
    SimpleList {
        kind: CodeListKind::CustomsOffice,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/customs-offices.csv",
        text: include_str!("../../data/china/customs-offices.csv"),
    },
    SimpleList {
        kind: CodeListKind::CustomsProcedure,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/customs-procedures.csv",
        text: include_str!("../../data/china/customs-procedures.csv"),
    },
    SimpleList {
        kind: CodeListKind::LevyNature,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/levy-natures.csv",
        text: include_str!("../../data/china/levy-natures.csv"),
    },
    SimpleList {
        kind: CodeListKind::LevyMode,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/levy-modes.csv",
        text: include_str!("../../data/china/levy-modes.csv"),
    },
    SimpleList {
        kind: CodeListKind::TransportMode,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/transport-modes.csv",
        text: include_str!("../../data/china/transport-modes.csv"),
    },
    SimpleList {
        kind: CodeListKind::DocumentType,
        version: "cn-sample-2026",
        valid_from: SNAPSHOT_FROM,
        file_name: "data/china/document-types.csv",
        text: include_str!("../../data/china/document-types.csv"),
    },
    SimpleList {
        kind: CodeListKind::Incoterm,
        version: "incoterms-2010-2020",
        valid_from: INCOTERMS_2010_FROM,
        file_name: "data/china/incoterms.csv",
        text: include_str!("../../data/china/incoterms.csv"),
    },
];

const STATUTORY_UNITS_FILE: &str = "data/china/statutory-units.csv";
const STATUTORY_UNITS_TEXT: &str = include_str!("../../data/china/statutory-units.csv");

/// Called once by [`ReferenceData::embedded`]. The embedded files are fixed at build time, so a
/// failure here is a packaging bug: stop with every problem listed rather than run on bad data.
pub(crate) fn load_or_panic() -> ReferenceData {
    match load() {
        Ok(reference_data) => reference_data,
        Err(errors) => {
            let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("embedded reference data is corrupt:\n{}", report.join("\n"))
        }
    }
}

/// Parses every embedded file, collecting the problems of all of them.
pub(crate) fn load() -> Result<ReferenceData, Vec<ReferenceError>> {
    let mut lists = Vec::new();
    let mut errors = Vec::new();
    let mut keep = |result: Result<CodeList, Vec<ReferenceError>>| match result {
        Ok(list) => lists.push(list),
        Err(list_errors) => errors.extend(list_errors),
    };
    keep(iso3166::countries(SNAPSHOT_FROM));
    keep(iso4217::currencies(SNAPSHOT_FROM));
    keep(unece::units(SNAPSHOT_FROM));
    keep(unece::package_types(SNAPSHOT_FROM));
    let hs_sections = match hs2022::nomenclature(HS2022_FROM) {
        Ok(hs2022) => {
            keep(Ok(hs2022.subheadings));
            hs2022.sections_by_chapter
        }
        Err(hs_errors) => {
            keep(Err(hs_errors));
            Default::default()
        }
    };
    for list in &CHINA_SAMPLE_LISTS {
        keep(parse_simple_list(list));
    }
    let statutory_units = parse_statutory_units_csv(STATUTORY_UNITS_FILE, STATUTORY_UNITS_TEXT)
        .unwrap_or_else(|hint_errors| {
            errors.extend(hint_errors);
            Vec::new()
        });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ReferenceData::from_lists(lists, statutory_units).with_hs_sections(hs_sections))
}

fn parse_simple_list(list: &SimpleList) -> Result<CodeList, Vec<ReferenceError>> {
    parse_code_list_csv(
        list.kind,
        list.version,
        list.valid_from,
        None,
        list.file_name,
        list.text,
    )
}
