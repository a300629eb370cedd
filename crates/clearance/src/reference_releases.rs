//! National code lists as reference-data releases (关区代码、监管方式、征免性质、征免方式、运输方式、
//! 监管证件、成交方式、法定计量单位): each list is its own kind of release, imported from one CSV
//! file, tried (dry run), activated from a date and rolled back exactly like a tariff release
//! (`crate::releases`), so adding customs office 9999 needs no new binary.
//!
//! The China SAMPLE profile compiled into `reference` stays the default: a list with no active
//! release in force on a day is the sample's. A declaration is checked against the lists in
//! force on its lodging date (`Clearance::reference_on`), and a stored one is read back with
//! every code any release ever held (`Clearance::recorded_reference`), so rolling a release
//! back refuses new declarations without making recorded ones unreadable.
//!
//! Format of a code list: `code,name_en,name_zh[,valid_from,valid_to]` (dates YYYY-MM-DD,
//! `valid_to` exclusive, for a code of limited validity); of statutory units:
//! `hs_prefix,units` (UNECE Rec 20 codes separated by `|`). Lines starting with `#` are
//! comments. `docs/import-formats.md` documents both for administrators.

use std::sync::Arc;

use chrono::NaiveDate;
use domain::{ErrorCode, FieldError};
use reference::{CodeEntry, CodeList, CodeListChanges, CodeListKind, ReferenceData};
use serde_json::{Value, json};
use store::{ReleaseFileRow, Store};

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::releases::{Parsed, ReleaseKind, parse_files};

/// Entries of a code list returned in one page of `reference_list` when the caller does not say.
pub const REFERENCE_PAGE_SIZE_DEFAULT: usize = 500;

/// Entries of a code list returned in one page at most: the largest national list (the HS
/// subheadings, about 5,600) takes a dozen pages, and no answer grows past a few hundred KB.
pub const REFERENCE_PAGE_SIZE_MAX: usize = 1000;

/// The code lists an administration releases itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferenceList {
    CustomsOffice,
    CustomsProcedure,
    LevyNature,
    LevyMode,
    TransportMode,
    DocumentType,
    Incoterm,
    /// Statutory (legal) units of quantity by HS prefix: hints, not a code list.
    StatutoryUnit,
}

impl ReferenceList {
    pub const ALL: [ReferenceList; 8] = [
        ReferenceList::CustomsOffice,
        ReferenceList::CustomsProcedure,
        ReferenceList::LevyNature,
        ReferenceList::LevyMode,
        ReferenceList::TransportMode,
        ReferenceList::DocumentType,
        ReferenceList::Incoterm,
        ReferenceList::StatutoryUnit,
    ];

    /// The list's name: its release kind, its file's stem and its `/v1/reference/{list}`.
    pub fn name(self) -> &'static str {
        self.code_list_kind()
            .map_or("statutory_unit", CodeListKind::name)
    }

    pub fn parse(text: &str) -> Option<ReferenceList> {
        ReferenceList::ALL
            .into_iter()
            .find(|list| list.name() == text)
    }

    fn row(self) -> &'static ListRow {
        LISTS
            .iter()
            .find(|row| row.list == self)
            .expect("every list has its row")
    }

    /// The code list it is, or `None` for the statutory-unit hints.
    pub fn code_list_kind(self) -> Option<CodeListKind> {
        self.row().kind
    }

    /// The one file of a release of the list.
    pub fn files(self) -> &'static [&'static str] {
        std::slice::from_ref(&self.row().file)
    }

    /// Release ids are numbered per kind, so each list has its own prefix.
    pub(crate) fn id_prefix(self) -> &'static str {
        self.row().id_prefix
    }
}

/// What each list is: its code list, its file and the prefix of its release ids.
struct ListRow {
    list: ReferenceList,
    kind: Option<CodeListKind>,
    file: &'static str,
    id_prefix: &'static str,
}

const fn row(
    list: ReferenceList,
    kind: Option<CodeListKind>,
    file: &'static str,
    id_prefix: &'static str,
) -> ListRow {
    ListRow {
        list,
        kind,
        file,
        id_prefix,
    }
}

static LISTS: [ListRow; 8] = {
    use CodeListKind as K;
    use ReferenceList as L;
    [
        row(
            L::CustomsOffice,
            Some(K::CustomsOffice),
            "customs_office.csv",
            "RCO",
        ),
        row(
            L::CustomsProcedure,
            Some(K::CustomsProcedure),
            "customs_procedure.csv",
            "RCP",
        ),
        row(L::LevyNature, Some(K::LevyNature), "levy_nature.csv", "RLN"),
        row(L::LevyMode, Some(K::LevyMode), "levy_mode.csv", "RLM"),
        row(
            L::TransportMode,
            Some(K::TransportMode),
            "transport_mode.csv",
            "RTM",
        ),
        row(
            L::DocumentType,
            Some(K::DocumentType),
            "document_type.csv",
            "RDT",
        ),
        row(L::Incoterm, Some(K::Incoterm), "incoterm.csv", "RIT"),
        row(L::StatutoryUnit, None, "statutory_unit.csv", "RSU"),
    ]
};

/// A parsed reference release: the list's dates are set when it is put in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceContent {
    Codes(CodeList),
    StatutoryUnits(Vec<reference::StatutoryUnitHint>),
}

impl ReferenceContent {
    /// The content as in force from `effective_from`, named by its release id.
    pub(crate) fn in_force_from(&self, id: &str, effective_from: NaiveDate) -> ReferenceContent {
        match self {
            ReferenceContent::Codes(list) => {
                let mut list = list.clone();
                list.version = id.to_owned();
                list.valid_from = effective_from;
                ReferenceContent::Codes(list)
            }
            hints => hints.clone(),
        }
    }

    pub(crate) fn summary(&self) -> Value {
        match self {
            ReferenceContent::Codes(list) => json!({ "codes": list.len() }),
            ReferenceContent::StatutoryUnits(hints) => json!({ "hs_prefixes": hints.len() }),
        }
    }
}

/// Parses the one file of a reference release; every problem named `file:line.column` with the
/// value and why, in English and Chinese.
pub(crate) fn parse(
    list: ReferenceList,
    file: &ReleaseFileRow,
) -> Result<ReferenceContent, Vec<FieldError>> {
    let parsed = match list.code_list_kind() {
        // The list's own dates are those of its activation; until then it is dated from the
        // earliest day so that entry dates are checked against nothing but themselves.
        Some(kind) => reference::parse_code_list_csv(
            kind,
            list.name(),
            NaiveDate::MIN,
            None,
            &file.name,
            &file.text,
        )
        .map(ReferenceContent::Codes),
        None => reference::parse_statutory_units_csv(&file.name, &file.text)
            .map(ReferenceContent::StatutoryUnits),
    };
    parsed.map_err(|errors| {
        errors
            .iter()
            .map(|error| {
                let at = error.at();
                FieldError {
                    path: match error.column() {
                        Some(column) => format!("{}:{}.{column}", at.file_name, at.line),
                        None => format!("{}:{}", at.file_name, at.line),
                    },
                    code: ErrorCode::InvalidFormat,
                    message_en: error.message_en(),
                    message_zh: error.message_zh(),
                }
                .bounded()
            })
            .collect()
    })
}

fn entry_view(entry: &CodeEntry) -> Value {
    json!({
        "code": entry.code, "name_en": entry.name_en, "name_zh": entry.name_zh,
        "valid_from": entry.valid_from.map(|d| d.to_string()),
        "valid_to": entry.valid_to.map(|d| d.to_string()),
    })
}

fn unknown_list() -> ClearanceError {
    let names: Vec<&str> = CodeListKind::ALL
        .iter()
        .map(|kind| kind.name())
        .chain(["statutory_unit"])
        .collect();
    ClearanceError::Invalid(vec![FieldError::invalid_format(
        "list",
        &names.join(", "),
        &names.join("、"),
    )])
}

impl<S: Store> Clearance<S> {
    /// The reference data of `day`: the SAMPLE profile with, for each list, the reference
    /// release in force on that day instead.
    pub(crate) async fn reference_on(
        &self,
        day: NaiveDate,
    ) -> Result<Arc<ReferenceData>, ClearanceError> {
        self.releases_cache
            .reference_on(&self.store, &self.reference, day)
            .await
    }

    /// The reference data stored declarations are read back with: every code of the sample and
    /// of every reference release ever imported (see the module doc).
    pub(crate) async fn recorded_reference(&self) -> Result<Arc<ReferenceData>, ClearanceError> {
        self.releases_cache
            .recorded_reference(&self.store, &self.reference)
            .await
    }

    /// The list `list` in force on `on` (today by default), a page of its entries (1-based
    /// `page`, `size` at most [`REFERENCE_PAGE_SIZE_MAX`]), with the release it comes from (its
    /// id, or the sample's version) and the day that release took effect. For every
    /// authenticated user: these are the codes a declaration must use. An unknown list is
    /// [`ClearanceError::NotFound`].
    pub async fn reference_list(
        &self,
        caller: &Caller,
        list: &str,
        on: Option<NaiveDate>,
        page: Option<usize>,
        size: Option<usize>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Read)?;
        let hints = list == ReferenceList::StatutoryUnit.name();
        let kind = CodeListKind::ALL.into_iter().find(|k| k.name() == list);
        if kind.is_none() && !hints {
            return Err(ClearanceError::NotFound);
        }
        let mut errors = Vec::new();
        let size = size.unwrap_or(REFERENCE_PAGE_SIZE_DEFAULT);
        if !(1..=REFERENCE_PAGE_SIZE_MAX).contains(&size) {
            errors.push(FieldError::out_of_range(
                "size",
                &format!("from 1 to {REFERENCE_PAGE_SIZE_MAX}"),
                &format!("在 1 到 {REFERENCE_PAGE_SIZE_MAX} 之间"),
            ));
        }
        let page = page.unwrap_or(1);
        if page == 0 {
            errors.push(FieldError::out_of_range("page", "1 or more", "不小于 1"));
        }
        if !errors.is_empty() {
            return Err(ClearanceError::Invalid(errors));
        }
        let day = on.unwrap_or_else(|| self.lodging_date(self.now()));
        let start = (page - 1).saturating_mul(size);
        if hints {
            let (release, effective_from) = self
                .releases_cache
                .statutory_release_on(&self.store, day)
                .await?
                .map_or(("cn-sample-2026".to_owned(), None), |(id, from)| {
                    (id, Some(from))
                });
            let all = self.reference_on(day).await?.statutory_unit_hints();
            let entries: Vec<Value> = all
                .iter()
                .skip(start)
                .take(size)
                .map(|hint| json!({ "hs_prefix": hint.hs_prefix, "units": hint.units }))
                .collect();
            return Ok(json!({
                "list": list, "on": day.to_string(), "release": release,
                "effective_from": effective_from.map(|d| d.to_string()),
                "total": all.len(), "page": page, "size": size, "entries": entries,
            }));
        }
        let kind = kind.expect("checked above");
        let reference = self.reference_on(day).await?;
        let Some(codes) = reference.list_in_force(kind, day) else {
            return Ok(json!({
                "list": list, "on": day.to_string(), "release": null, "effective_from": null,
                "total": 0, "page": page, "size": size, "entries": [],
            }));
        };
        let entries: Vec<Value> = codes
            .entries()
            .skip(start)
            .take(size)
            .map(entry_view)
            .collect();
        Ok(json!({
            "list": list, "on": day.to_string(), "release": codes.version,
            "effective_from": codes.valid_from.to_string(),
            "total": codes.len(), "page": page, "size": size, "entries": entries,
        }))
    }

    /// What activating reference release `id` today would change: the codes added, removed,
    /// renamed and re-dated against the list in force today, and which of the `sample` most
    /// recent declarations would be refused under it (each with its problems). Writes nothing.
    pub(crate) async fn reference_dry_run(
        &self,
        id: &str,
        list: ReferenceList,
        sample: usize,
    ) -> Result<Value, ClearanceError> {
        let files = self
            .store
            .release_files(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("release {id} has no files"))?;
        let Parsed::Reference(candidate) = parse_files(ReleaseKind::Reference(list), &files)
            .map_err(|e| anyhow::anyhow!("stored release {id} no longer parses: {}", e[0]))?
        else {
            return Err(anyhow::anyhow!("release {id} is not a reference release").into());
        };
        let today = self.lodging_date(self.now());
        let in_force = self.reference_on(today).await?;
        let candidate = candidate.in_force_from(id, NaiveDate::MIN);
        let mut report = match (&candidate, list.code_list_kind()) {
            (ReferenceContent::Codes(new), Some(kind)) => {
                let current = in_force.list_in_force(kind, today);
                let changes = CodeListChanges::between(current, new);
                let pair = |(old, new): &(CodeEntry, CodeEntry)| json!({ "code": new.code, "before": entry_view(old), "after": entry_view(new) });
                json!({
                    "compared_with": current.map(|c| c.version.clone()),
                    "added": changes.added.iter().map(entry_view).collect::<Vec<_>>(),
                    "removed": changes.removed.iter().map(entry_view).collect::<Vec<_>>(),
                    "renamed": changes.renamed.iter().map(pair).collect::<Vec<_>>(),
                    "redated": changes.redated.iter().map(pair).collect::<Vec<_>>(),
                })
            }
            (ReferenceContent::StatutoryUnits(new), _) => {
                let old = in_force.statutory_unit_hints();
                let prefixes =
                    |from: &[reference::StatutoryUnitHint],
                     not_in: &[reference::StatutoryUnitHint]| {
                        from.iter()
                            .filter(|h| !not_in.iter().any(|o| o.hs_prefix == h.hs_prefix))
                            .map(|h| json!({ "hs_prefix": h.hs_prefix, "units": h.units }))
                            .collect::<Vec<_>>()
                    };
                let changed: Vec<Value> = new
                    .iter()
                    .filter_map(|h| {
                        let before = old.iter().find(|o| o.hs_prefix == h.hs_prefix)?;
                        (before.units != h.units).then(|| {
                            json!({ "hs_prefix": h.hs_prefix, "before": before.units, "after": h.units })
                        })
                    })
                    .collect();
                json!({
                    "added": prefixes(new, &old), "removed": prefixes(&old, new), "changed": changed,
                })
            }
            (ReferenceContent::Codes(_), None) => {
                return Err(anyhow::anyhow!("release {id} does not match its list").into());
            }
        };
        // The recent declarations as if the candidate had been in force on their lodging dates.
        let listed = self
            .store
            .list_declarations(&store::DeclarationQuery {
                limit: sample,
                ..store::DeclarationQuery::default()
            })
            .await?;
        let mut refused = Vec::new();
        for listed in &listed {
            let row = &listed.row;
            if row.status == "cancelled" {
                continue;
            }
            let day = self.date_of_ms(row.lodged_at_ms);
            let trial = match &candidate {
                ReferenceContent::Codes(new) => {
                    let mut new = new.clone();
                    new.valid_from = day;
                    self.reference_on(day).await?.with_in_force(vec![new], None)
                }
                ReferenceContent::StatutoryUnits(hints) => self
                    .reference_on(day)
                    .await?
                    .with_in_force(Vec::new(), Some(hints.clone())),
            };
            let dto: wire::DeclarationDto = serde_json::from_str(&row.document).map_err(|e| {
                anyhow::anyhow!("stored declaration {} is not readable: {e}", row.id)
            })?;
            let ctx = domain::ParseContext {
                reference: &trial,
                on: day,
            };
            if let Err(problems) = dto.parse(&ctx) {
                refused.push(json!({
                    "number": row.number,
                    "problems": problems.iter().map(|p| json!({
                        "path": p.path, "en": p.message_en, "zh": p.message_zh,
                    })).collect::<Vec<_>>(),
                }));
            }
        }
        report["release"] = json!(id);
        report["list"] = json!(list.name());
        report["on"] = json!(today.to_string());
        report["declarations_compared"] = json!(listed.len());
        report["refused_under_it"] = json!(refused);
        Ok(report)
    }

    /// The importable list of that name, or a refusal naming the lists (for callers that take
    /// a list as a parameter).
    pub fn reference_list_named(list: &str) -> Result<ReferenceList, ClearanceError> {
        ReferenceList::parse(list).ok_or_else(unknown_list)
    }
}
