//! Reference-data releases: tariff releases, monthly exchange-rate tables and value-control tables
//! (价格风险参数, read by targeting; format in [`crate::value_control`]), imported, checked,
//! tried on recent declarations (dry run), activated from a date and rolled back.
//!
//! A release is imported once (its files kept by the store, their SHA-256 in the audit chain) and
//! is inert until activated. The release in force on a day is the active one with the latest
//! `effective_from` on or before that day (the later activation wins a tie); rolling back the
//! latest activation puts the previous one back in force. Nothing is deleted: every step is an
//! event. Exchange-rate tables work the same way, except that tables in force are laid over each
//! other (a later table's rate for a currency and month wins), since each month's table adds to
//! the previous ones.
//!
//! The parsed releases in force are cached ([`ReleaseCatalog`]); the cache is refreshed after a
//! change made here and at most [`CATALOG_REFRESH`] after a change made by another process.

use crate::invalidation::Freshness;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use domain::FieldError;
use reference::ReferenceData;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{Projection, ReleaseFileRow, ReleaseRow, Store};
use tariff::{ExchangeRates, TariffRelease};

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;
pub use crate::reference_releases::{ReferenceContent, ReferenceList};

/// How long a process trusts its cache of the releases in force before reading the store again
/// (another process, e.g. `customs tariff activate`, may have changed them).
pub const CATALOG_REFRESH: Duration = Duration::from_secs(5);

/// Largest release accepted, all files together: a national tariff with every rate is a few MB.
pub const RELEASE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Recent declarations a dry run re-assesses, at most.
pub const DRY_RUN_SAMPLE_MAX: usize = 500;

/// The kinds of release and their files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKind {
    Tariff,
    ExchangeRates,
    /// The value-control table targeting consults (one in force at a time, like a tariff).
    ValueControl,
    /// A national code list (customs offices, levy natures, ...; `crate::reference_releases`),
    /// one in force at a time per list, the SAMPLE profile's when none is.
    Reference(ReferenceList),
}

impl ReleaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseKind::Tariff => "tariff",
            ReleaseKind::ExchangeRates => "exchange_rates",
            ReleaseKind::ValueControl => "value_control",
            ReleaseKind::Reference(list) => list.name(),
        }
    }

    /// Every kind.
    pub const ALL: [ReleaseKind; 3 + ReferenceList::ALL.len()] = {
        let mut all = [ReleaseKind::Tariff; 3 + ReferenceList::ALL.len()];
        all[1] = ReleaseKind::ExchangeRates;
        all[2] = ReleaseKind::ValueControl;
        let mut list = 0;
        while list < ReferenceList::ALL.len() {
            all[3 + list] = ReleaseKind::Reference(ReferenceList::ALL[list]);
            list += 1;
        }
        all
    };

    pub fn parse(text: &str) -> Option<ReleaseKind> {
        ReleaseKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The files of a release of this kind, in order.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            ReleaseKind::Tariff => &[
                "lines.csv",
                "duty_rates.csv",
                "consumption_tax.csv",
                "trade_remedies.csv",
            ],
            ReleaseKind::ExchangeRates => &["exchange_rates.csv"],
            ReleaseKind::ValueControl => &[crate::value_control::FILE],
            ReleaseKind::Reference(list) => list.files(),
        }
    }

    /// Files a release of this kind may also have: a tariff release's product-specific rules
    /// of origin (`tariff::origin_rules`), which releases imported before them lack.
    pub fn optional_files(self) -> &'static [&'static str] {
        match self {
            ReleaseKind::Tariff => &[tariff::origin_rules::ORIGIN_RULES_FILE],
            _ => &[],
        }
    }

    /// Every file a release of this kind may have, required then optional.
    pub fn accepted_files(self) -> Vec<&'static str> {
        let mut files = self.files().to_vec();
        files.extend(self.optional_files());
        files
    }

    fn id_prefix(self) -> &'static str {
        match self {
            ReleaseKind::Tariff => "TR",
            ReleaseKind::ExchangeRates => "XR",
            ReleaseKind::ValueControl => "VC",
            ReleaseKind::Reference(list) => list.id_prefix(),
        }
    }
}

/// A parsed release of either kind.
#[derive(Debug, Clone)]
pub enum Parsed {
    Tariff(Arc<TariffRelease>),
    ExchangeRates(Arc<ExchangeRates>),
    ValueControl(Arc<risk::ValueControlTable>),
    Reference(Arc<ReferenceContent>),
}

const EMPTY_EXCHANGE_RATES: &str = "currency,month,rate\n";

/// Parses the files of a release; every problem, each named `file:line.field`, in both languages.
pub fn parse_files(kind: ReleaseKind, files: &[ReleaseFileRow]) -> Result<Parsed, Vec<FieldError>> {
    let file = |name: &'static str| {
        files
            .iter()
            .find(|f| f.name == name)
            .map(|f| tariff::ReleaseFile {
                name,
                text: &f.text,
            })
    };
    let mut errors: Vec<FieldError> = kind
        .files()
        .iter()
        .filter(|name| file(name).is_none())
        .map(|name| FieldError::required(format!("files[{name}]")))
        .collect();
    let accepted = kind.accepted_files();
    for extra in files
        .iter()
        .filter(|f| !accepted.contains(&f.name.as_str()))
    {
        errors.push(FieldError::not_allowed(
            format!("files[{}]", extra.name),
            &format!(
                "a {} release has the files {}",
                kind.as_str(),
                accepted.join(", ")
            ),
            &format!("{} 版本的文件为 {}", kind.as_str(), accepted.join("、")),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let problems = |problems: Vec<tariff::ReleaseProblem>| {
        problems
            .into_iter()
            .map(|p| FieldError {
                path: match &p.field {
                    Some(field) => format!("{}:{}.{field}", p.file, p.line),
                    None => format!("{}:{}", p.file, p.line),
                },
                code: domain::ErrorCode::InvalidFormat,
                message_en: p.message_en,
                message_zh: p.message_zh,
            })
            // A cell or column name of any length gives a message of bounded length.
            .map(FieldError::bounded)
            .collect::<Vec<_>>()
    };
    let present = |name| file(name).expect("checked above");
    match kind {
        ReleaseKind::Tariff => {
            let release = tariff::parse_release(&tariff::ReleaseFiles {
                lines: present("lines.csv"),
                duty_rates: present("duty_rates.csv"),
                consumption_tax: present("consumption_tax.csv"),
                trade_remedies: present("trade_remedies.csv"),
                exchange_rates: tariff::ReleaseFile {
                    name: "exchange_rates.csv",
                    text: EMPTY_EXCHANGE_RATES,
                },
            });
            // The product-specific rules of origin, when the release has them: every problem of
            // both reported together.
            let origin_rules = file(tariff::origin_rules::ORIGIN_RULES_FILE)
                .map(|file| tariff::origin_rules::parse_origin_rules(file, &origin_agreements()))
                .transpose();
            match (release, origin_rules) {
                (Ok(mut release), Ok(origin_rules)) => {
                    release.origin_rules = origin_rules.unwrap_or_default();
                    Ok(Parsed::Tariff(Arc::new(release)))
                }
                (release, origin_rules) => Err(problems(
                    release
                        .err()
                        .into_iter()
                        .chain(origin_rules.err())
                        .flatten()
                        .collect(),
                )),
            }
        }
        ReleaseKind::ExchangeRates => tariff::parse_exchange_rates(present("exchange_rates.csv"))
            .map(|rates| Parsed::ExchangeRates(Arc::new(rates)))
            .map_err(problems),
        ReleaseKind::ValueControl => {
            crate::value_control::parse(present(crate::value_control::FILE))
                .map(|table| Parsed::ValueControl(Arc::new(table)))
                .map_err(problems)
        }
        ReleaseKind::Reference(list) => {
            let file = files
                .iter()
                .find(|f| f.name == list.files()[0])
                .expect("checked above");
            crate::reference_releases::parse(list, file)
                .map(|content| Parsed::Reference(Arc::new(content)))
        }
    }
}

/// The agreements a release's rules of origin may name: those a declaration may claim.
fn origin_agreements() -> Vec<&'static str> {
    domain::TradeAgreement::ALL
        .iter()
        .map(|(code, _, _)| *code)
        .collect()
}

pub(crate) fn digest_of(files: &[ReleaseFileRow]) -> String {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.name.as_bytes());
        hasher.update([0]);
        hasher.update((file.text.len() as u64).to_be_bytes());
        hasher.update(file.text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn summary_of(parsed: &Parsed) -> Value {
    match parsed {
        Parsed::Tariff(release) => json!({
            "lines": release.lines.len(),
            "duty_rates": release.lines.iter().map(|l| l.columns.len()).sum::<usize>(),
            "consumption_tax_lines": release.lines.iter().filter(|l| !l.consumption_tax.is_empty()).count(),
            "trade_remedies": release.lines.iter().map(|l| l.remedies.len()).sum::<usize>(),
            "origin_rules": release.origin_rules.len(),
            "origin_rules_to_verify": release.origin_rules.rows().iter().filter(|r| r.verify).count(),
        }),
        Parsed::ExchangeRates(rates) => {
            let mut months: Vec<String> = rates
                .rates()
                .iter()
                .map(|r| r.month().to_string())
                .collect();
            months.sort();
            months.dedup();
            json!({ "rates": rates.rates().len(), "months": months })
        }
        Parsed::ValueControl(table) => json!({ "rows": table.entries().len() }),
        Parsed::Reference(content) => content.summary(),
    }
}

/// A release as the API shows it.
pub fn release_view(row: &ReleaseRow) -> Value {
    json!({
        "id": row.id,
        "kind": row.kind,
        "label": row.label,
        "digest": row.digest,
        "status": row.status,
        "effective_from": row.effective_from,
        "imported_at": crate::views::rfc3339(row.imported_at_ms),
        "imported_by": row.imported_by,
        "activated_seq": row.activated_seq,
        "rolled_back_seq": row.rolled_back_seq,
        "summary": serde_json::from_str::<Value>(&row.summary).unwrap_or(Value::Null),
    })
}

// ---------------------------------------------------------------------------------------------
// The catalog of releases in force.

/// An active reference release as continuity keeps it in the instance's folder: enough to
/// parse it again without the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedCodeList {
    /// [`ReleaseKind::as_str`] of a reference list.
    pub kind: String,
    pub id: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    pub activated_seq: u64,
    /// (name, text) of each file.
    pub files: Vec<(String, String)>,
}

/// An active release, parsed.
#[derive(Clone)]
struct Active<T> {
    id: String,
    effective_from: NaiveDate,
    activated_seq: u64,
    content: Arc<T>,
}

#[derive(Clone, Default)]
struct Loaded {
    /// Ordered by (effective_from, activated_seq): the last one on or before a day is in force.
    tariffs: Vec<Active<TariffRelease>>,
    rate_tables: Vec<Active<ExchangeRates>>,
    value_controls: Vec<Active<risk::ValueControlTable>>,
    /// Active reference releases, each with its list.
    references: Vec<(ReferenceList, Active<ReferenceContent>)>,
    /// Every reference release ever imported, whatever its status, by id.
    recorded: Vec<(String, Arc<ReferenceContent>)>,
}

/// The tariff and exchange rates in force on a day, for an assessment.
#[derive(Clone)]
pub struct InForce {
    pub tariff: Option<(String, Arc<TariffRelease>)>,
    pub rate_tables: Vec<String>,
    pub rates: Arc<ExchangeRates>,
}

/// The parsed releases in force, refreshed from the store when stale.
#[derive(Default)]
pub(crate) struct ReleaseCatalog {
    state: Mutex<Option<(Instant, Arc<Loaded>)>>,
    /// The releases as last read from the store, kept whatever invalidates `state` (another
    /// instance's change, the feed of changes lost): only continuity's check at the door reads
    /// it, when the store cannot be read at all; the lodging is checked again in full when the
    /// store takes it.
    last_read: Mutex<Option<Arc<Loaded>>>,
    /// Parsed releases by id: a release's files never change, so it is parsed once per process.
    parsed: Mutex<HashMap<String, Parsed>>,
    /// Overlaid rate tables by the ids laid over each other.
    overlays: Mutex<HashMap<Vec<String>, Arc<ExchangeRates>>>,
    /// The reference data of a day by the ids of the reference releases in force on it.
    reference_days: Mutex<HashMap<Vec<String>, Arc<ReferenceData>>>,
    /// The reference data stored documents are read with, by the ids of every reference
    /// release imported.
    recorded: Mutex<Option<(Vec<String>, Arc<ReferenceData>)>>,
    freshness: Arc<Freshness>,
}

impl ReleaseCatalog {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> ReleaseCatalog {
        ReleaseCatalog {
            freshness: freshness.clone(),
            ..ReleaseCatalog::default()
        }
    }

    pub(crate) fn invalidate(&self) {
        *self.state.lock().expect("catalog lock") = None;
    }

    async fn loaded<S: Store>(&self, store: &S) -> Result<Arc<Loaded>, ClearanceError> {
        if let Some((at, loaded)) = self.state.lock().expect("catalog lock").as_ref()
            && at.elapsed() < CATALOG_REFRESH
            && self.freshness.trusted()
        {
            return Ok(loaded.clone());
        }
        let ticket = self.freshness.ticket();
        let mut loaded = Loaded::default();
        for kind in ReleaseKind::ALL {
            for row in store.releases(kind.as_str()).await? {
                if let ReleaseKind::Reference(_) = kind
                    && let Parsed::Reference(content) = self.parsed(store, &row, kind).await?
                {
                    loaded.recorded.push((row.id.clone(), content));
                }
                if row.status != "active" {
                    continue;
                }
                let parsed = self.parsed(store, &row, kind).await?;
                let (Some(from), Some(seq)) = (
                    row.effective_from
                        .as_deref()
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                    row.activated_seq,
                ) else {
                    return Err(
                        anyhow::anyhow!("active release {} has no activation", row.id).into(),
                    );
                };
                match parsed {
                    Parsed::Tariff(content) => loaded.tariffs.push(Active {
                        id: row.id,
                        effective_from: from,
                        activated_seq: seq,
                        content,
                    }),
                    Parsed::ExchangeRates(content) => loaded.rate_tables.push(Active {
                        id: row.id,
                        effective_from: from,
                        activated_seq: seq,
                        content,
                    }),
                    Parsed::ValueControl(content) => loaded.value_controls.push(Active {
                        id: row.id,
                        effective_from: from,
                        activated_seq: seq,
                        content,
                    }),
                    Parsed::Reference(content) => {
                        let ReleaseKind::Reference(list) = kind else {
                            return Err(anyhow::anyhow!(
                                "release {} is not a reference release",
                                row.id
                            )
                            .into());
                        };
                        loaded.references.push((
                            list,
                            Active {
                                id: row.id,
                                effective_from: from,
                                activated_seq: seq,
                                content,
                            },
                        ))
                    }
                }
            }
        }
        loaded
            .tariffs
            .sort_by_key(|a| (a.effective_from, a.activated_seq));
        loaded
            .rate_tables
            .sort_by_key(|a| (a.effective_from, a.activated_seq));
        loaded
            .value_controls
            .sort_by_key(|a| (a.effective_from, a.activated_seq));
        loaded
            .references
            .sort_by_key(|(_, a)| (a.effective_from, a.activated_seq));
        let loaded = Arc::new(loaded);
        *self.last_read.lock().expect("catalog lock") = Some(loaded.clone());
        let mut state = self.state.lock().expect("catalog lock");
        if self.freshness.still(ticket) {
            *state = Some((Instant::now(), loaded.clone()));
        }
        Ok(loaded)
    }

    async fn parsed<S: Store>(
        &self,
        store: &S,
        row: &ReleaseRow,
        kind: ReleaseKind,
    ) -> Result<Parsed, ClearanceError> {
        if let Some(parsed) = self.parsed.lock().expect("catalog lock").get(&row.id) {
            return Ok(parsed.clone());
        }
        let files = store
            .release_files(&row.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("release {} has no files", row.id))?;
        let parsed = parse_files(kind, &files).map_err(|errors| {
            anyhow::anyhow!("stored release {} no longer parses: {}", row.id, errors[0])
        })?;
        self.parsed
            .lock()
            .expect("catalog lock")
            .insert(row.id.clone(), parsed.clone());
        Ok(parsed)
    }

    /// The value-control table in force on `day` (the active release with the latest
    /// `effective_from` on or before it), with its release id.
    pub(crate) async fn value_control<S: Store>(
        &self,
        store: &S,
        day: NaiveDate,
    ) -> Result<Option<(String, Arc<risk::ValueControlTable>)>, ClearanceError> {
        let loaded = self.loaded(store).await?;
        Ok(loaded
            .value_controls
            .iter()
            .rfind(|a| a.effective_from <= day)
            .map(|a| (a.id.clone(), a.content.clone())))
    }

    /// For each list, the reference release in force on `day`, in list order.
    fn references_on(
        loaded: &Loaded,
        day: NaiveDate,
    ) -> Vec<(ReferenceList, &Active<ReferenceContent>)> {
        ReferenceList::ALL
            .into_iter()
            .filter_map(|list| {
                loaded
                    .references
                    .iter()
                    .rfind(|(of, a)| *of == list && a.effective_from <= day)
                    .map(|(_, a)| (list, a))
            })
            .collect()
    }

    /// The reference data of `day`: `base` (the SAMPLE profile) with each list's release in
    /// force on that day instead. Built once per set of releases in force.
    pub(crate) async fn reference_on<S: Store>(
        &self,
        store: &S,
        base: &Arc<ReferenceData>,
        day: NaiveDate,
    ) -> Result<Arc<ReferenceData>, ClearanceError> {
        let loaded = self.loaded(store).await?;
        let in_force = Self::references_on(&loaded, day);
        if in_force.is_empty() {
            return Ok(base.clone());
        }
        Ok(self.reference_of_day(base, &in_force))
    }

    /// The reference data made of `base` and the releases `in_force`, built once per set.
    fn reference_of_day(
        &self,
        base: &Arc<ReferenceData>,
        in_force: &[(ReferenceList, &Active<ReferenceContent>)],
    ) -> Arc<ReferenceData> {
        let ids: Vec<String> = in_force.iter().map(|(_, a)| a.id.clone()).collect();
        let mut days = self.reference_days.lock().expect("catalog lock");
        days.entry(ids)
            .or_insert_with(|| {
                let (mut lists, mut hints) = (Vec::new(), None);
                for (_, active) in in_force {
                    match active
                        .content
                        .in_force_from(&active.id, active.effective_from)
                    {
                        ReferenceContent::Codes(list) => lists.push(list),
                        ReferenceContent::StatutoryUnits(units) => hints = Some(units),
                    }
                }
                Arc::new(base.with_in_force(lists, hints))
            })
            .clone()
    }

    /// The reference data of `day` from the releases last read from the store, however old,
    /// without reading it; `None` if they were never read. For checking a lodging at the door
    /// while the store is unreachable (continuity): the lodging is checked again in full when
    /// the store takes it.
    pub(crate) fn reference_on_last_known(
        &self,
        base: &Arc<ReferenceData>,
        day: NaiveDate,
    ) -> Option<Arc<ReferenceData>> {
        let loaded = self.last_read.lock().expect("catalog lock").clone()?;
        let in_force = Self::references_on(&loaded, day);
        if in_force.is_empty() {
            return Some(base.clone());
        }
        Some(self.reference_of_day(base, &in_force))
    }

    /// The active reference releases (the code lists), read from the store with their files,
    /// for continuity to keep in the instance's folder: an instance that starts while the store
    /// is unreachable checks lodgings at the door against them ([`Self::restore_last_read`]).
    pub(crate) async fn code_lists_to_save<S: Store>(
        &self,
        store: &S,
    ) -> Result<Vec<SavedCodeList>, ClearanceError> {
        let mut saved = Vec::new();
        for list in ReferenceList::ALL {
            let kind = ReleaseKind::Reference(list);
            for row in store.releases(kind.as_str()).await? {
                let (Some(effective_from), Some(activated_seq)) =
                    (row.effective_from.clone(), row.activated_seq)
                else {
                    continue;
                };
                if row.status != "active" {
                    continue;
                }
                let files = store
                    .release_files(&row.id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("release {} has no files", row.id))?;
                saved.push(SavedCodeList {
                    kind: kind.as_str().to_owned(),
                    id: row.id,
                    effective_from,
                    activated_seq,
                    files: files.into_iter().map(|f| (f.name, f.text)).collect(),
                });
            }
        }
        Ok(saved)
    }

    /// The code lists kept by [`Self::code_lists_to_save`] as the releases last read, if none
    /// were read from the store in this process; a kept release that no longer parses is
    /// refused (the instance then has none: its door fails closed).
    pub(crate) fn restore_last_read(&self, saved: &[SavedCodeList]) -> Result<(), ClearanceError> {
        let mut loaded = Loaded::default();
        for list in saved {
            let kind = ReleaseKind::parse(&list.kind)
                .filter(|kind| matches!(kind, ReleaseKind::Reference(_)))
                .ok_or_else(|| {
                    anyhow::anyhow!("kept code list {}: unknown kind {}", list.id, list.kind)
                })?;
            let ReleaseKind::Reference(reference_list) = kind else {
                unreachable!("filtered above");
            };
            let effective_from = NaiveDate::parse_from_str(&list.effective_from, "%Y-%m-%d")
                .map_err(|e| anyhow::anyhow!("kept code list {}: {e}", list.id))?;
            let files: Vec<ReleaseFileRow> = list
                .files
                .iter()
                .map(|(name, text)| ReleaseFileRow {
                    name: name.clone(),
                    text: text.clone(),
                })
                .collect();
            let Ok(Parsed::Reference(content)) = parse_files(kind, &files) else {
                return Err(anyhow::anyhow!("kept code list {} no longer parses", list.id).into());
            };
            loaded.recorded.push((list.id.clone(), content.clone()));
            loaded.references.push((
                reference_list,
                Active {
                    id: list.id.clone(),
                    effective_from,
                    activated_seq: list.activated_seq,
                    content,
                },
            ));
        }
        loaded
            .references
            .sort_by_key(|(_, a)| (a.effective_from, a.activated_seq));
        let mut last_read = self.last_read.lock().expect("catalog lock");
        if last_read.is_none() {
            *last_read = Some(Arc::new(loaded));
        }
        Ok(())
    }

    /// The statutory-unit release in force on `day` and its effective date, if any.
    pub(crate) async fn statutory_release_on<S: Store>(
        &self,
        store: &S,
        day: NaiveDate,
    ) -> Result<Option<(String, NaiveDate)>, ClearanceError> {
        let loaded = self.loaded(store).await?;
        Ok(Self::references_on(&loaded, day)
            .into_iter()
            .find(|(list, _)| *list == ReferenceList::StatutoryUnit)
            .map(|(_, a)| (a.id.clone(), a.effective_from)))
    }

    /// `base` widened with every code of every reference release imported (see
    /// `crate::reference_releases`).
    pub(crate) async fn recorded_reference<S: Store>(
        &self,
        store: &S,
        base: &Arc<ReferenceData>,
    ) -> Result<Arc<ReferenceData>, ClearanceError> {
        let loaded = self.loaded(store).await?;
        if loaded.recorded.is_empty() {
            return Ok(base.clone());
        }
        let ids: Vec<String> = loaded.recorded.iter().map(|(id, _)| id.clone()).collect();
        let mut recorded = self.recorded.lock().expect("catalog lock");
        if let Some((known, data)) = recorded.as_ref()
            && *known == ids
        {
            return Ok(data.clone());
        }
        let lists: Vec<&reference::CodeList> = loaded
            .recorded
            .iter()
            .filter_map(|(_, content)| match content.as_ref() {
                ReferenceContent::Codes(list) => Some(list),
                ReferenceContent::StatutoryUnits(_) => None,
            })
            .collect();
        let hints_imported = lists.len() < loaded.recorded.len();
        let data = Arc::new(base.with_recorded(&lists, hints_imported));
        *recorded = Some((ids, data.clone()));
        Ok(data)
    }

    /// The tariff release and rate tables an assessment recorded, by id, whatever their status
    /// now (a release rolled back since still explains what was assessed with it): the rate
    /// tables are laid over each other in the recorded order, as [`Self::in_force`] did.
    pub(crate) async fn recorded<S: Store>(
        &self,
        store: &S,
        tariff: Option<&str>,
        rate_tables: &[String],
    ) -> Result<InForce, ClearanceError> {
        let release = |id: &str| {
            let id = id.to_owned();
            async move {
                store
                    .release(&id)
                    .await?
                    .ok_or_else(|| ClearanceError::from(anyhow::anyhow!("no release {id}")))
            }
        };
        let tariff = match tariff {
            Some(id) => match self
                .parsed(store, &release(id).await?, ReleaseKind::Tariff)
                .await?
            {
                Parsed::Tariff(content) => Some((id.to_owned(), content)),
                _ => return Err(anyhow::anyhow!("release {id} is not a tariff").into()),
            },
            None => None,
        };
        let mut tables = Vec::with_capacity(rate_tables.len());
        for id in rate_tables {
            let row = release(id).await?;
            match self.parsed(store, &row, ReleaseKind::ExchangeRates).await? {
                Parsed::ExchangeRates(content) => tables.push(content),
                _ => return Err(anyhow::anyhow!("release {id} is not a rate table").into()),
            }
        }
        let rates = match tables.as_slice() {
            [] => Arc::new(ExchangeRates::default()),
            [one] => one.clone(),
            _ => self
                .overlays
                .lock()
                .expect("catalog lock")
                .entry(rate_tables.to_vec())
                .or_insert_with(|| {
                    Arc::new(
                        tables
                            .iter()
                            .fold(ExchangeRates::default(), |acc, t| acc.overlaid_with(t)),
                    )
                })
                .clone(),
        };
        Ok(InForce {
            tariff,
            rate_tables: rate_tables.to_vec(),
            rates,
        })
    }

    /// What is in force on `day`; `candidate` replaces the tariff for a dry run.
    pub(crate) async fn in_force<S: Store>(
        &self,
        store: &S,
        day: NaiveDate,
    ) -> Result<InForce, ClearanceError> {
        let loaded = self.loaded(store).await?;
        let tariff = loaded
            .tariffs
            .iter()
            .rfind(|a| a.effective_from <= day)
            .map(|a| (a.id.clone(), a.content.clone()));
        let tables: Vec<&Active<ExchangeRates>> = loaded
            .rate_tables
            .iter()
            .filter(|a| a.effective_from <= day)
            .collect();
        let ids: Vec<String> = tables.iter().map(|a| a.id.clone()).collect();
        let rates = match tables.as_slice() {
            [] => Arc::new(ExchangeRates::default()),
            [one] => one.content.clone(),
            _ => {
                let mut overlays = self.overlays.lock().expect("catalog lock");
                overlays
                    .entry(ids.clone())
                    .or_insert_with(|| {
                        Arc::new(tables.iter().fold(ExchangeRates::default(), |acc, a| {
                            acc.overlaid_with(&a.content)
                        }))
                    })
                    .clone()
            }
        };
        Ok(InForce {
            tariff,
            rate_tables: ids,
            rates,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The administrator's operations.

/// A release to import: its kind, a label, and its files by name.
pub struct NewRelease {
    pub kind: ReleaseKind,
    pub label: String,
    pub files: Vec<ReleaseFileRow>,
}

fn release_not_found(id: &str) -> ClearanceError {
    ClearanceError::Invalid(vec![FieldError::not_allowed(
        "release",
        &format!("no release {id}"),
        &format!("不存在版本 {id}"),
    )])
}

impl<S: Store> Clearance<S> {
    /// Checks and imports a release (inert until activated). A release with problems is refused
    /// with every problem (`file:line.field`); the same files imported twice are refused.
    pub async fn import_release(
        &self,
        caller: &Caller,
        release: NewRelease,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageReleases)?;
        let label = domain::numbers::parse_text("label", &release.label, 200)
            .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let size: usize = release.files.iter().map(|f| f.text.len()).sum();
        if size > RELEASE_BYTES_MAX {
            return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                "files",
                &format!("at most {RELEASE_BYTES_MAX} bytes in all"),
                &format!("合计不超过 {RELEASE_BYTES_MAX} 字节"),
            )]));
        }
        let parsed = parse_files(release.kind, &release.files).map_err(ClearanceError::Invalid)?;
        // Kept in the kind's order, the optional files after the required ones (the digest, in
        // the audit chain, covers them all).
        let files: Vec<ReleaseFileRow> = release
            .kind
            .accepted_files()
            .iter()
            .filter_map(|name| release.files.iter().find(|f| f.name == *name).cloned())
            .collect();
        let digest = digest_of(&files);
        let existing = self.store.releases(release.kind.as_str()).await?;
        if let Some(same) = existing.iter().find(|r| r.digest == digest) {
            return Err(ClearanceError::Invalid(vec![FieldError::duplicate(
                "files",
                &format!("the files of release {}", same.id),
                &format!("版本 {} 的文件", same.id),
            )]));
        }
        let now = self.now();
        let id = format!("{}-{:04}", release.kind.id_prefix(), existing.len() + 1);
        let summary = summary_of(&parsed);
        let row = ReleaseRow {
            id: id.clone(),
            kind: release.kind.as_str().to_owned(),
            label,
            digest: digest.clone(),
            imported_at_ms: now.timestamp_millis(),
            imported_by: caller.user_id().to_owned(),
            status: "imported".into(),
            effective_from: None,
            activated_seq: None,
            rolled_back_seq: None,
            summary: summary.to_string(),
        };
        let payload = json!({
            "release": id, "kind": row.kind, "label": row.label, "digest": digest,
            "files": files.iter().map(|f| json!({ "name": f.name, "bytes": f.text.len() })).collect::<Vec<_>>(),
            "summary": summary,
        });
        self.release_event(
            caller,
            &id,
            "release.imported",
            payload,
            Projection::NewRelease {
                release: row,
                files,
            },
        )
        .await?;
        self.release_by_id(&id).await
    }

    /// Every release of a kind, oldest first.
    pub async fn releases(
        &self,
        caller: &Caller,
        kind: ReleaseKind,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::Read)?;
        Ok(self
            .store
            .releases(kind.as_str())
            .await?
            .iter()
            .map(release_view)
            .collect())
    }

    async fn release_by_id(&self, id: &str) -> Result<Value, ClearanceError> {
        let row = self
            .store
            .release(id)
            .await?
            .ok_or_else(|| release_not_found(id))?;
        Ok(release_view(&row))
    }

    /// Puts a release in force from `effective_from` (inclusive).
    pub async fn activate_release(
        &self,
        caller: &Caller,
        id: &str,
        effective_from: NaiveDate,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageReleases)?;
        let row = self
            .store
            .release(id)
            .await?
            .ok_or_else(|| release_not_found(id))?;
        let from = effective_from.format("%Y-%m-%d").to_string();
        let payload = json!({ "release": id, "kind": row.kind, "effective_from": from });
        self.release_event(
            caller,
            id,
            "release.activated",
            payload,
            Projection::ActivateRelease {
                id: id.to_owned(),
                effective_from: from,
            },
        )
        .await?;
        self.release_by_id(id).await
    }

    /// Withdraws the latest activation of a kind: the release before it is in force again.
    /// Assessments already recorded keep the release they name.
    pub async fn roll_back_release(
        &self,
        caller: &Caller,
        kind: ReleaseKind,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageReleases)?;
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let latest = self
            .store
            .releases(kind.as_str())
            .await?
            .into_iter()
            .filter(|r| r.status == "active")
            .max_by_key(|r| r.activated_seq)
            .ok_or_else(|| {
                ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "kind",
                    &format!("no {} release is active", kind.as_str()),
                    &format!("没有生效的 {} 版本", kind.as_str()),
                )])
            })?;
        let payload = json!({ "release": latest.id, "kind": latest.kind, "reason": reason });
        self.release_event(
            caller,
            &latest.id,
            "release.rolled_back",
            payload,
            Projection::RollBackRelease {
                id: latest.id.clone(),
            },
        )
        .await?;
        self.release_by_id(&latest.id).await
    }

    async fn release_event(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        payload: Value,
        projection: Projection,
    ) -> Result<(), ClearanceError> {
        let subject = format!("release:{id}");
        let appended = self
            .append_reference_event(
                caller,
                subject,
                action,
                payload,
                projection,
                "release",
                release_not_found,
            )
            .await;
        self.invalidate(&[
            crate::invalidation::Cache::Releases,
            crate::invalidation::Cache::Lists,
        ]);
        appended
    }
}
