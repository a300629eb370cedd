//! The watch list (布控名单) and the lists targeting consults at acceptance.
//!
//! Analysts propose entries (a party or a means of transport, with why and what a hit asks for)
//! and take them off; every step is an event, and a removed entry is kept. Four eyes, as for
//! rules and models: a proposed entry acts only once another analyst approves it, and an entry
//! in force stays in force until another analyst approves its removal (taking it off weakens
//! targeting as much as adding a wrong one would bend it). A proposal not yet approved is
//! withdrawn at once: it never acted. The entries in force and the
//! value-control table in force (a reference-data release of kind `value_control`) are built once
//! into a `risk::Lists` and cached like the rule catalog: refreshed after a change made here, at
//! most `CATALOG_REFRESH` after one made elsewhere.

use crate::invalidation::Freshness;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use domain::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Projection, Store, WatchEntryRow};

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::releases::CATALOG_REFRESH;

/// The weight of a watch-list hit against other reasons (a rule's priority is 0 to 255): above
/// value control (100) and missing licences (150).
pub const WATCH_LIST_PRIORITY: u8 = 200;

/// The counter watch-list entries are numbered from (`W-000001`, ...).
const WATCH_ENTRY_COUNTER: &str = "id:watch_entry";

/// Longest watched value (a name or an identification), in characters.
pub const WATCH_VALUE_LENGTH_MAX: usize = 200;
/// Longest reason, in characters, in each language.
pub const WATCH_REASON_LENGTH_MAX: usize = 500;

const KINDS: [(&str, risk::EntityKind); 5] = [
    ("importer", risk::EntityKind::Importer),
    ("declarant", risk::EntityKind::Declarant),
    ("seller", risk::EntityKind::Seller),
    ("consignor", risk::EntityKind::Consignor),
    ("transport_means", risk::EntityKind::TransportMeans),
];

const ACTIONS: [(&str, risk::Action); 4] = [
    ("document_check", risk::Action::DocumentCheck),
    ("physical_inspection", risk::Action::PhysicalInspection),
    ("lab_sampling", risk::Action::LabSampling),
    ("hold", risk::Action::Hold),
];

/// A watch-list entry as an analyst sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEntryRequest {
    /// `importer`, `declarant` (credit codes), `seller`, `consignor` (names) or
    /// `transport_means` (the vessel's or flight's identification).
    pub kind: String,
    pub value: String,
    pub reason_en: String,
    pub reason_zh: String,
    /// `document_check`, `physical_inspection`, `lab_sampling` or `hold`.
    pub action: String,
    /// Inclusive, `YYYY-MM-DD`; absent is open.
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
}

fn lookup<T: Copy>(choices: &[(&str, T)], raw: &str) -> Option<T> {
    choices.iter().find(|(n, _)| *n == raw).map(|(_, v)| *v)
}

fn choice<T: Copy>(
    errors: &mut Vec<FieldError>,
    path: &str,
    raw: &str,
    choices: &[(&str, T)],
) -> Option<T> {
    let found = lookup(choices, raw);
    if found.is_none() {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        errors.push(FieldError::invalid_format(
            path,
            &format!("one of {}", names.join(", ")),
            &format!("以下之一：{}", names.join("、")),
        ));
    }
    found
}

fn text(errors: &mut Vec<FieldError>, path: &str, raw: &str, max: usize) -> Option<String> {
    domain::numbers::parse_text(path, raw, max)
        .map_err(|e| errors.push(e))
        .ok()
}

fn date(errors: &mut Vec<FieldError>, path: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?;
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10);
    if parsed.is_none() {
        errors.push(FieldError::invalid_format(
            path,
            "a date as YYYY-MM-DD",
            "YYYY-MM-DD 格式的日期",
        ));
    }
    parsed
}

/// The request checked: every problem at once, each naming its field.
fn check_request(request: &WatchEntryRequest) -> Result<WatchEntryRequest, ClearanceError> {
    let mut errors = Vec::new();
    choice(&mut errors, "kind", &request.kind, &KINDS);
    choice(&mut errors, "action", &request.action, &ACTIONS);
    let value = text(&mut errors, "value", &request.value, WATCH_VALUE_LENGTH_MAX);
    if value
        .as_deref()
        .is_some_and(|v| v.split_whitespace().next().is_none())
    {
        errors.push(FieldError::required("value"));
    }
    let reason_en = text(
        &mut errors,
        "reason_en",
        &request.reason_en,
        WATCH_REASON_LENGTH_MAX,
    );
    let reason_zh = text(
        &mut errors,
        "reason_zh",
        &request.reason_zh,
        WATCH_REASON_LENGTH_MAX,
    );
    let from = date(&mut errors, "valid_from", request.valid_from.as_deref());
    let to = date(&mut errors, "valid_to", request.valid_to.as_deref());
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        errors.push(FieldError::out_of_range(
            "valid_to",
            &format!("on or after valid_from ({from})"),
            &format!("不早于生效日期（{from}）"),
        ));
    }
    match (value, reason_en, reason_zh, errors.is_empty()) {
        (Some(value), Some(reason_en), Some(reason_zh), true) => Ok(WatchEntryRequest {
            value,
            reason_en,
            reason_zh,
            ..request.clone()
        }),
        _ => Err(ClearanceError::Invalid(errors)),
    }
}

/// A stored entry as the engine's, if it still reads (a row the service wrote always does).
fn engine_entry(row: &WatchEntryRow) -> Option<risk::WatchEntry> {
    let day = |d: &Option<String>| -> Option<Option<NaiveDate>> {
        match d {
            None => Some(None),
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().map(Some),
        }
    };
    Some(risk::WatchEntry {
        kind: lookup(&KINDS, &row.kind)?,
        value: row.value.clone(),
        reason_en: row.reason_en.clone(),
        reason_zh: row.reason_zh.clone(),
        valid_from: day(&row.valid_from)?,
        valid_to: day(&row.valid_to)?,
        action: lookup(&ACTIONS, &row.action)?,
        priority: WATCH_LIST_PRIORITY,
        purpose: risk::Purpose::Both,
    })
}

/// An entry as the API shows it.
pub fn watch_entry_view(row: &WatchEntryRow) -> Value {
    json!({
        "id": row.id,
        "kind": row.kind,
        "value": row.value,
        "reason_en": row.reason_en,
        "reason_zh": row.reason_zh,
        "action": row.action,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "added_by": row.added_by,
        "added_at": crate::views::rfc3339(row.added_at_ms),
        "added_seq": row.added_seq,
        "approved_by": row.approved_by,
        "approved_seq": row.approved_seq,
        "removal_requested_by": row.removal_requested_by,
        "removal_requested_seq": row.removal_requested_seq,
        "removed_by": row.removed_by,
        "removed_seq": row.removed_seq,
        "status": watch_status(row),
    })
}

/// `proposed` (awaiting a second analyst), `listed` (in force), `removal_requested` (in force,
/// its removal awaiting a second analyst) or `removed`.
fn watch_status(row: &WatchEntryRow) -> &'static str {
    match (
        row.removed_seq.is_some(),
        row.approved_seq.is_some(),
        row.removal_requested_seq.is_some(),
    ) {
        (true, _, _) => "removed",
        (false, false, _) => "proposed",
        (false, true, false) => "listed",
        (false, true, true) => "removal_requested",
    }
}

#[derive(Default)]
struct ListsState {
    loaded_at: Option<Instant>,
    /// The entries in force (approved, not removed).
    watch: Vec<risk::WatchEntry>,
    /// Built lists by the id of the value-control release in force (none: `None`).
    built: HashMap<Option<String>, Arc<risk::Lists>>,
}

/// The watch list and the value-control tables, built into `risk::Lists`, refreshed when stale.
#[derive(Default)]
pub(crate) struct ListsCatalog {
    state: Mutex<ListsState>,
    freshness: Arc<Freshness>,
}

impl ListsCatalog {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> ListsCatalog {
        ListsCatalog {
            state: Mutex::new(ListsState::default()),
            freshness: freshness.clone(),
        }
    }

    pub(crate) fn invalidate(&self) {
        *self.state.lock().expect("lists catalog lock") = ListsState::default();
    }
}

impl<S: Store> Clearance<S> {
    /// The lists in force on `day`: the watch list and the value-control table of that day.
    pub(crate) async fn lists_in_force(
        &self,
        day: NaiveDate,
    ) -> Result<Arc<risk::Lists>, ClearanceError> {
        let value_control = self.releases_cache.value_control(&self.store, day).await?;
        let key = value_control.as_ref().map(|(id, _)| id.clone());
        let catalog = &self.lists_catalog;
        let ticket = catalog.freshness.ticket();
        let fresh = {
            let state = catalog.state.lock().expect("lists catalog lock");
            if let Some(at) = state.loaded_at
                && at.elapsed() < CATALOG_REFRESH
                && catalog.freshness.trusted()
            {
                if let Some(lists) = state.built.get(&key) {
                    return Ok(lists.clone());
                }
                true
            } else {
                false
            }
        };
        if !fresh {
            let mut watch = Vec::new();
            for row in self.store.watch_entries().await? {
                // A proposal acts only once a second analyst approved it.
                if !row.in_force() {
                    continue;
                }
                watch.push(engine_entry(&row).ok_or_else(|| {
                    anyhow::anyhow!("stored watch entry {} is not readable", row.id)
                })?);
            }
            let mut state = catalog.state.lock().expect("lists catalog lock");
            if !catalog.freshness.still(ticket) {
                // Read while a change was being heard, or while changes could go unheard: used
                // for this lodging only, never kept.
                return Ok(Arc::new(risk::Lists {
                    watch: risk::WatchList::new(watch),
                    value_control: value_control
                        .map(|(_, table)| (*table).clone())
                        .unwrap_or_default(),
                }));
            }
            *state = ListsState {
                loaded_at: Some(Instant::now()),
                watch,
                built: HashMap::new(),
            };
        }
        let mut state = catalog.state.lock().expect("lists catalog lock");
        let lists = Arc::new(risk::Lists {
            watch: risk::WatchList::new(state.watch.clone()),
            value_control: value_control
                .map(|(_, table)| (*table).clone())
                .unwrap_or_default(),
        });
        if catalog.freshness.still(ticket) {
            state.built.insert(key, lists.clone());
        }
        Ok(lists)
    }

    /// Proposes an entry for the watch list (analysts); it acts once another analyst approves it
    /// ([`Clearance::approve_watch_entry`]).
    pub async fn add_watch_entry(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let request: WatchEntryRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let request = check_request(&request)?;
        // Numbered from a counter, so two analysts adding at once get two entries.
        let serial = self.store.reserve_serials(WATCH_ENTRY_COUNTER, 1).await?;
        let id = format!("W-{serial:06}");
        let row = WatchEntryRow {
            id: id.clone(),
            kind: request.kind,
            value: request.value,
            reason_en: request.reason_en,
            reason_zh: request.reason_zh,
            action: request.action,
            valid_from: request.valid_from,
            valid_to: request.valid_to,
            added_by: caller.user_id().to_owned(),
            added_at_ms: self.now().timestamp_millis(),
            added_seq: None,
            approved_by: None,
            approved_seq: None,
            removal_requested_by: None,
            removal_requested_seq: None,
            removed_by: None,
            removed_seq: None,
        };
        let payload = json!({ "entry": watch_entry_view(&row) });
        self.watch_event(
            caller,
            &id,
            "watch_entry.added",
            payload,
            Projection::AddWatchEntry(row),
        )
        .await?;
        self.watch_entry(&id).await
    }

    /// Takes an entry off the watch list (analysts); the entry is kept. A proposal is withdrawn
    /// at once; an entry in force gets a removal request that another analyst approves.
    pub async fn remove_watch_entry(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let reason =
            domain::numbers::parse_text("reason", reason, domain::limits::REASON_LENGTH_MAX)
                .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let current = self.watch_row(id).await?;
        let (action, payload) = if current.approved_seq.is_some() {
            (
                "watch_entry.removal_requested",
                json!({ "entry": id, "reason": reason }),
            )
        } else {
            (
                "watch_entry.removed",
                json!({ "entry": id, "reason": reason, "withdrawn_proposal": true }),
            )
        };
        self.watch_event(
            caller,
            id,
            action,
            payload,
            Projection::RemoveWatchEntry {
                id: id.to_owned(),
                by: caller.user_id().to_owned(),
            },
        )
        .await?;
        self.watch_entry(id).await
    }

    /// Four eyes: another analyst than the one who asked approves what awaits approval on the
    /// entry, its addition (the entry comes into force) or its removal (it is taken off).
    pub async fn approve_watch_entry(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::WriteRules)?;
        let current = self.watch_row(id).await?;
        let (action, asked_by) = match (&current.removal_requested_by, current.approved_seq) {
            (Some(requested_by), Some(_)) => ("watch_entry.removed", requested_by.as_str()),
            _ => ("watch_entry.approved", current.added_by.as_str()),
        };
        if asked_by == caller.user_id() {
            return Err(ClearanceError::Forbidden {
                message_en: "who asked for a watch-list change cannot approve it (four eyes)"
                    .into(),
                message_zh: "布控名单变更的申请人不能审批本人的申请（双人复核）".into(),
                errors: vec![],
            });
        }
        let payload = json!({ "entry": id, "approved_by": caller.user_id() });
        self.watch_event(
            caller,
            id,
            action,
            payload,
            Projection::ApproveWatchEntry {
                id: id.to_owned(),
                approver: caller.user_id().to_owned(),
            },
        )
        .await?;
        self.watch_entry(id).await
    }

    /// Every entry, removed ones included (customs roles).
    pub async fn watch_entries(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        Ok(self
            .store
            .watch_entries()
            .await?
            .iter()
            .map(watch_entry_view)
            .collect())
    }

    async fn watch_entry(&self, id: &str) -> Result<Value, ClearanceError> {
        Ok(watch_entry_view(&self.watch_row(id).await?))
    }

    async fn watch_row(&self, id: &str) -> Result<WatchEntryRow, ClearanceError> {
        self.store
            .watch_entries()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(ClearanceError::NotFound)
    }

    async fn watch_event(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        payload: Value,
        projection: Projection,
    ) -> Result<(), ClearanceError> {
        let subject = format!("watch:{id}");
        let appended = self
            .append_reference_event(caller, subject, action, payload, projection, "id", |_| {
                ClearanceError::NotFound
            })
            .await;
        self.invalidate(&[crate::invalidation::Cache::Lists]);
        appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        kind: &str,
        action: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> WatchEntryRequest {
        WatchEntryRequest {
            kind: kind.into(),
            value: "Pacific Electronics Inc.".into(),
            reason_en: "undervaluation".into(),
            reason_zh: "低报价格".into(),
            action: action.into(),
            valid_from: from.map(str::to_owned),
            valid_to: to.map(str::to_owned),
        }
    }

    #[test]
    fn every_field_is_checked_at_once() {
        let Err(ClearanceError::Invalid(errors)) = check_request(&WatchEntryRequest {
            value: "  ".into(),
            reason_zh: String::new(),
            ..request("buyer", "arrest", Some("2026-02-30"), Some("soon"))
        }) else {
            panic!("refused");
        };
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for path in [
            "kind",
            "action",
            "value",
            "reason_zh",
            "valid_from",
            "valid_to",
        ] {
            assert!(paths.contains(&path), "{path} in {paths:?}");
        }
        assert!(errors.iter().all(|e| !e.message_zh.is_empty()));
        let Err(ClearanceError::Invalid(errors)) = check_request(&request(
            "seller",
            "hold",
            Some("2026-03-01"),
            Some("2026-02-01"),
        )) else {
            panic!("refused");
        };
        assert_eq!(errors[0].path, "valid_to");
        assert!(check_request(&request("seller", "hold", None, None)).is_ok());
    }
}
