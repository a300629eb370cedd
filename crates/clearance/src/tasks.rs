//! Officers' tasks (单证审核, 查验, 取样, 扣留) created from a declaration's lane, assigned at random
//! among the officers (the candidates and the draw recorded, so the assignment can be replayed),
//! and closed with a finding: no discrepancy, or discrepancies with corrected values that amend
//! the declaration and reassess it in the same transaction, showing the difference. The finding is
//! the label of the check (discrepancy, revenue difference, what selected it) for the analysts and
//! the ML issue. Goods are not released while a task is open. An officer may also hold goods by
//! hand (`place_hold`): an open `hold` task of their own, lifted by closing it with a finding.
//!
//! The candidates are the officers on duty at the office (`crate::duty`). Simplifications, said
//! once: a correction replaces a field's value (`items[N].origin_country`, `.commodity_code`, `.amount`,
//! `.unit_price`, `.quantity.value`, `invoice.amount`), the declaration is parsed again, and the
//! cross-field rules still apply, so a correction of an item's amount needs the invoice corrected
//! too; referrals are recorded, not routed.

use chrono::NaiveDate;
use domain::{Declaration, DeclarationEvent, FieldError};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{
    Append, AppendOutcome, DeclarationRow, LinkedEvent, Projection, Store, TaskQuery, TaskRow,
};
use wire::DeclarationDto;

use crate::access::{Action, Caller};
use crate::assessment::Basis;
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest};

/// Tasks listed at once, at most.
pub const TASK_PAGE_MAX: usize = 500;

/// The fields an officer's finding may correct, as paths relative to an item (or the header).
const CORRECTABLE_ITEM_FIELDS: [&str; 5] = [
    "origin_country",
    "commodity_code",
    "amount",
    "unit_price",
    "quantity.value",
];

/// What a selected action asks of an officer, as a task kind.
fn task_kind(action: &str) -> Option<&'static str> {
    match action {
        "document_check" => Some("document_check"),
        "physical_inspection" => Some("physical_inspection"),
        "lab_sampling" => Some("lab_sampling"),
        "hold" => Some("hold"),
        _ => None,
    }
}

/// The tasks a selection record asks for: one per kind of action among its selected reasons.
pub(crate) fn kinds_asked(selection: &Value) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = selection["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["selected"] == true)
        .filter_map(|r| task_kind(r["action"].as_str().unwrap_or_default()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// Whether a task kind is a check of the goods or documents (its finding is a label for the
/// analysts and the models), as opposed to a hold, a manual assessment or a request's review.
pub(crate) fn is_check_kind(kind: &str) -> bool {
    matches!(
        kind,
        "document_check" | "physical_inspection" | "lab_sampling"
    )
}

/// The linked events creating the tasks of a selection, each assigned by a draw from the
/// selection's seed among `officers` (ids in a fixed order, recorded with the draw and the pool
/// they came from).
pub(crate) fn task_events(
    declaration_id: &str,
    office: &str,
    selection: &Value,
    seed: u64,
    candidates: (&[String], crate::duty::Pool),
    now_ms: i64,
) -> Vec<LinkedEvent> {
    kinds_asked(selection)
        .into_iter()
        .map(|kind| {
            let id = uuid::Uuid::now_v7().to_string();
            drawn_task(
                declaration_id,
                office,
                kind,
                &id,
                seed,
                candidates,
                now_ms,
                Value::Null,
            )
        })
        .collect()
}

/// The linked event creating one task of `kind`, assigned by a draw from `seed` among the
/// candidates (recorded with the draw and the pool). `extra` members join the payload (the seed
/// of a task not drawn from a selection, a request's id).
#[allow(clippy::too_many_arguments)]
pub(crate) fn drawn_task(
    declaration_id: &str,
    office: &str,
    kind: &str,
    id: &str,
    seed: u64,
    (officers, pool): (&[String], crate::duty::Pool),
    now_ms: i64,
    extra: Value,
) -> LinkedEvent {
    let draw = risk::RandomDraw { seed }.uniform("assign", kind);
    let assigned_to = if officers.is_empty() {
        String::new()
    } else {
        let index = ((draw * officers.len() as f64) as usize).min(officers.len() - 1);
        officers[index].clone()
    };
    let mut payload = json!({
        "task": id, "kind": kind, "office": office, "assigned_to": assigned_to,
        "candidates": officers, "pool": pool.as_str(), "draw": draw,
    });
    if let Value::Object(members) = extra {
        for (key, value) in members {
            payload[key] = value;
        }
    }
    LinkedEvent {
        // The draw assigns it, not the caller: the payload names the draw and the pool.
        actor: Some(crate::system_actor()),
        subject: declaration_id.to_owned(),
        action: "task.created".to_owned(),
        payload: payload.to_string(),
        expected_version: None,
        projection: Projection::NewTask(TaskRow {
            id: id.to_owned(),
            declaration_id: declaration_id.to_owned(),
            kind: kind.to_owned(),
            office: office.to_owned(),
            assigned_to,
            status: "open".to_owned(),
            created_at_ms: now_ms,
            created_seq: None,
            closed_seq: None,
            outcome: None,
        }),
    }
}

/// The linked event closing a task that is not closed by a finding (a manual assessment, a
/// request's decision), with its outcome.
pub(crate) fn closing_event(
    declaration_id: &str,
    task_id: &str,
    kind: &str,
    outcome: Value,
) -> LinkedEvent {
    LinkedEvent {
        actor: None,
        subject: declaration_id.to_owned(),
        action: "task.closed".to_owned(),
        payload: json!({ "task": task_id, "kind": kind, "outcome": outcome }).to_string(),
        expected_version: None,
        projection: Projection::CloseTask {
            id: task_id.to_owned(),
            outcome: outcome.to_string(),
        },
    }
}

/// An officer's hold (扣留) placed by hand on a declaration's goods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub reason: String,
}

/// An officer's finding on a task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRequest {
    pub discrepancy: bool,
    #[serde(default)]
    pub corrections: Vec<Correction>,
    #[serde(default)]
    pub note: Option<String>,
    /// `penalty` or `seizure`, when the case goes further.
    #[serde(default)]
    pub referral: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// e.g. `items[0].origin_country`.
    pub path: String,
    pub value: String,
}

pub fn task_view(task: &TaskRow) -> Value {
    json!({
        "id": task.id,
        "declaration_id": task.declaration_id,
        "kind": task.kind,
        "office": task.office,
        "assigned_to": task.assigned_to,
        "status": task.status,
        "created_at": crate::views::rfc3339(task.created_at_ms),
        "outcome": task.outcome.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
    })
}

/// The document with each correction applied, or the corrections that name no correctable field.
fn corrected(document: &str, corrections: &[Correction]) -> Result<Value, Vec<FieldError>> {
    let mut value: Value = serde_json::from_str(document).unwrap_or(Value::Null);
    let mut errors = Vec::new();
    for (i, correction) in corrections.iter().enumerate() {
        let path = format!("corrections[{i}].path");
        let target = if correction.path == "invoice.amount" {
            value.get_mut("invoice").and_then(|v| v.get_mut("amount"))
        } else {
            correction
                .path
                .strip_prefix("items[")
                .and_then(|rest| rest.split_once("]."))
                .filter(|(_, field)| CORRECTABLE_ITEM_FIELDS.contains(field))
                .and_then(|(index, field)| {
                    let item = value
                        .get_mut("items")?
                        .get_mut(index.parse::<usize>().ok()?)?;
                    match field.split_once('.') {
                        Some((outer, inner)) => item.get_mut(outer)?.get_mut(inner),
                        None => item.get_mut(field),
                    }
                })
        };
        match target {
            Some(slot) => *slot = Value::String(correction.value.clone()),
            None => errors.push(FieldError::not_allowed(
                path,
                "not a field a finding corrects (items[N].origin_country, .commodity_code, \
                 .amount, .unit_price, .quantity.value, invoice.amount) of this declaration",
                "不是查验结果可更正的字段（items[N].origin_country、.commodity_code、.amount、\
                 .unit_price、.quantity.value、invoice.amount）",
            )),
        }
    }
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors)
    }
}

/// The hold first placed with an Idempotency-Key, if it was this request.
fn first_hold(first: &store::EventRow, digest: &str) -> Result<Value, ClearanceError> {
    if first.request_digest != digest || first.action != "task.created" {
        return Err(ClearanceError::IdempotencyKeyReused);
    }
    let record: Value = serde_json::from_str(&first.payload)
        .map_err(|e| anyhow::anyhow!("stored hold {} is not readable: {e}", first.seq))?;
    Ok(json!({
        "id": record["task"], "declaration_id": first.subject, "kind": "hold",
        "office": record["office"], "assigned_to": record["assigned_to"], "status": "open",
        "created_at": crate::views::rfc3339(first.recorded_at_ms), "outcome": null,
        "reason": record["reason"],
    }))
}

/// The answer first given to an Idempotency-Key, if it was this request.
fn first_finding(first: &store::EventRow, digest: &str) -> Result<Value, ClearanceError> {
    if first.request_digest != digest || first.action != "task.closed" {
        return Err(ClearanceError::IdempotencyKeyReused);
    }
    let record: Value = serde_json::from_str(&first.payload)
        .map_err(|e| anyhow::anyhow!("stored finding {} is not readable: {e}", first.seq))?;
    Ok(json!({ "task": record["task"], "outcome": record["outcome"] }))
}

impl<S: Store> Clearance<S> {
    /// A task not asked for by a selection (a manual assessment, a request's review), drawn now
    /// among the office's candidates from a fresh seed, which the payload records beside `extra`.
    pub(crate) async fn task_drawn_now(
        &self,
        declaration_id: &str,
        office: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
        extra: Value,
    ) -> Result<LinkedEvent, ClearanceError> {
        let seed: u64 = rand::random();
        let (officers, pool) = self.task_candidates(office).await?;
        let mut extra = match extra {
            Value::Object(members) => members,
            _ => serde_json::Map::new(),
        };
        extra.insert("seed".to_owned(), json!(seed.to_string()));
        Ok(drawn_task(
            declaration_id,
            office,
            kind,
            id,
            seed,
            (&officers, pool),
            now_ms,
            Value::Object(extra),
        ))
    }

    /// Tasks: an officer's own queue (`mine`), an office's, or a declaration's.
    pub async fn tasks(
        &self,
        caller: &Caller,
        mine: bool,
        office: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadTasks)?;
        if !(1..=TASK_PAGE_MAX).contains(&limit) {
            return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                "limit",
                &format!("from 1 to {TASK_PAGE_MAX}"),
                &format!("在 1 到 {TASK_PAGE_MAX} 之间"),
            )]));
        }
        let query = TaskQuery {
            declaration_id: None,
            assigned_to: mine.then(|| caller.user_id().to_owned()),
            office: office.map(str::to_owned),
            status: status.map(str::to_owned),
            limit,
        };
        Ok(self
            .store
            .tasks(&query)
            .await?
            .iter()
            .map(task_view)
            .collect())
    }

    /// The caller's own task `task_id`, looked up by its id (an officer may have any number of
    /// tasks). Another officer's task answers as if there were none: only the assigned officer
    /// records a finding or attaches evidence.
    pub(crate) async fn assigned_task(
        &self,
        caller: &Caller,
        task_id: &str,
    ) -> Result<TaskRow, ClearanceError> {
        self.store
            .task(task_id)
            .await?
            .filter(|t| t.assigned_to == caller.user_id())
            .ok_or(ClearanceError::NotFound)
    }

    pub(crate) async fn open_tasks(
        &self,
        declaration_id: &str,
    ) -> Result<Vec<TaskRow>, ClearanceError> {
        let query = TaskQuery {
            declaration_id: Some(declaration_id.to_owned()),
            status: Some("open".into()),
            limit: TASK_PAGE_MAX,
            ..TaskQuery::default()
        };
        Ok(self.store.tasks(&query).await?)
    }

    /// Holds a declaration's goods (扣留) by hand, with the reason: an open `hold` task assigned to
    /// the calling officer, which keeps the goods from release until the officer lifts it by
    /// closing the task with a finding. Only goods not yet released or cancelled are held. (The
    /// release reads the open tasks before it decides: a hold placed in that same instant belongs
    /// to a later change.)
    pub async fn place_hold(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Hold)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("hold:{id_or_number}"), body);
        let request: HoldRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let reason = domain::numbers::parse_text(
            "reason",
            &request.reason,
            domain::limits::REASON_LENGTH_MAX,
        )
        .map_err(|e| ClearanceError::Invalid(vec![e]))?;
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return first_hold(&first, &digest);
        }
        let row = self.visible_row(caller, id_or_number).await?;
        if row.status != "accepted" {
            return Err(ClearanceError::Transition(domain::TransitionError {
                code: "not_holdable",
                message_en: format!(
                    "declaration {} cannot be held: it is {}",
                    row.number, row.status
                ),
                message_zh: format!("报关单 {} 不能扣留：状态为 {}", row.number, row.status),
            }));
        }
        let now_ms = self.now().timestamp_millis();
        let task = TaskRow {
            id: uuid::Uuid::now_v7().to_string(),
            declaration_id: row.id.clone(),
            kind: "hold".to_owned(),
            office: row.office_of_lodging.clone(),
            assigned_to: caller.user_id().to_owned(),
            status: "open".to_owned(),
            created_at_ms: now_ms,
            created_seq: None,
            closed_seq: None,
            outcome: None,
        };
        let payload = json!({
            "task": task.id, "kind": "hold", "office": task.office, "assigned_to": task.assigned_to,
            "pool": "placed_by_officer", "reason": reason,
        });
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now_ms,
            subject: row.id.clone(),
            action: "task.created".to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.clone(),
            payload: payload.to_string(),
            expected_version: None,
            projection: Projection::NewTask(task.clone()),
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { first, .. } => return first_hold(&first, &digest),
            other => return Err(crate::refusal(other)),
        }
        let mut view = task_view(&task);
        view["reason"] = json!(reason);
        Ok(view)
    }

    /// Closes the caller's task with a finding. Corrections amend the declaration and reassess it
    /// (on its acceptance date) in the same transaction; the outcome records the difference.
    pub async fn record_finding(
        &self,
        caller: &Caller,
        task_id: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::RecordFindings)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("finding:{task_id}"), body);
        let request: FindingRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        // A retry answers the first result, whatever happened to the task since.
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return first_finding(&first, &digest);
        }
        let task = self.assigned_task(caller, task_id).await?;
        if task.status != "open" {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "task",
                "the task is closed",
                "任务已关闭",
            )]));
        }
        // A manual assessment is closed by assessing, a request's review by deciding it: a
        // finding on them would be a label that checked nothing.
        if !is_check_kind(&task.kind) && task.kind != "hold" {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "task",
                "this task is closed by a manual assessment or a request's decision, not a finding",
                "此任务应通过人工审核计税或审批申请关闭，而非录入查验结果",
            )]));
        }
        if let Some(referral) = &request.referral
            && !["penalty", "seizure"].contains(&referral.as_str())
        {
            return Err(ClearanceError::Invalid(vec![FieldError::invalid_format(
                "referral",
                "penalty or seizure",
                "penalty（处罚）或 seizure（扣押）",
            )]));
        }
        if !request.discrepancy && !request.corrections.is_empty() {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "corrections",
                "corrections need a discrepancy",
                "无差异时不能更正",
            )]));
        }
        let row = self
            .store
            .declaration(&task.declaration_id)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let now = self.now();
        let mut linked = Vec::new();
        let mut difference = Value::Null;
        if !request.corrections.is_empty() {
            let (amended, reassessed) = self
                .corrected_declaration(
                    caller,
                    &row,
                    &request.corrections,
                    task_id,
                    now.timestamp_millis(),
                )
                .await?;
            if let Some(assessed) = &reassessed {
                let record: Value = serde_json::from_str(&assessed.payload).unwrap_or(Value::Null);
                difference = record["difference"].clone();
            }
            linked.push(amended);
            linked.extend(reassessed);
        }
        let selected_by = self
            .store
            .events(&row.id)
            .await?
            .into_iter()
            .rfind(|e| e.action == crate::targeting::TARGETED_ACTION)
            .and_then(|e| serde_json::from_str::<Value>(&e.payload).ok())
            .map(|s| {
                let reasons: Vec<Value> = s["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["selected"] == true)
                    .map(|r| r["source"].clone())
                    .collect();
                json!({ "reasons": reasons, "seed": s["seed"] })
            })
            .unwrap_or(Value::Null);
        // The evidence the officer attached, by name and digest (the files are in the chain).
        let attachments: Vec<Value> = self
            .store
            .attachments(&task.id)
            .await?
            .iter()
            .map(|a| json!({ "file_name": a.file_name, "digest": a.digest }))
            .collect();
        let outcome = json!({
            "discrepancy": request.discrepancy,
            "attachments": attachments,
            "corrections": request.corrections.iter().map(|c| json!({ "path": c.path, "value": c.value })).collect::<Vec<_>>(),
            "note": request.note,
            "referral": request.referral,
            "revenue_difference": difference,
            "selected_by": selected_by,
        });
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now.timestamp_millis(),
            subject: row.id.clone(),
            action: "task.closed".to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.clone(),
            payload: json!({ "task": task.id, "kind": task.kind, "outcome": outcome }).to_string(),
            expected_version: None,
            projection: Projection::CloseTask {
                id: task.id.clone(),
                outcome: outcome.to_string(),
            },
            linked,
            cbec_purchase: None,
            guarantee_debit: None,
        };
        let appended = self.store.append(append).await;
        // A discrepancy changes the trader's record that targeting reads.
        self.invalidate(&[crate::invalidation::Cache::CreditLevels]);
        match appended {
            Ok(AppendOutcome::Appended { .. }) => {}
            Ok(AppendOutcome::Duplicate { first, .. }) => return first_finding(&first, &digest),
            Ok(other) => return Err(crate::refusal(other)),
            Err(store::StoreError::Conflict(_)) => {
                return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "task",
                    "the task is closed",
                    "任务已关闭",
                )]));
            }
            Err(other) => return Err(other.into()),
        }
        Ok(json!({ "task": task.id, "outcome": outcome }))
    }

    /// The amendment a finding's corrections make, and the reassessment it calls for.
    async fn corrected_declaration(
        &self,
        caller: &Caller,
        row: &DeclarationRow,
        corrections: &[Correction],
        task_id: &str,
        now_ms: i64,
    ) -> Result<(LinkedEvent, Option<LinkedEvent>), ClearanceError> {
        let corrected = corrected(&row.document, corrections).map_err(ClearanceError::Invalid)?;
        let day: NaiveDate = self.date_of_ms(row.lodged_at_ms);
        let dto: DeclarationDto = serde_json::from_value(corrected)
            .map_err(|e| anyhow::anyhow!("a corrected declaration is not readable: {e}"))?;
        let reference = self.reference_on(day).await?;
        let ctx = domain::ParseContext {
            reference: &reference,
            on: day,
        };
        let declaration: Declaration = dto.parse(&ctx).map_err(|errors| {
            ClearanceError::Invalid(
                errors
                    .into_iter()
                    .map(|mut e| {
                        e.path = format!("corrections: {}", e.path);
                        e
                    })
                    .collect(),
            )
        })?;
        let state = self.state_of(row).await?;
        let event = DeclarationEvent::Amended {
            declaration: Box::new(declaration.clone()),
            reason: format!("corrected by the finding of task {task_id}"),
        };
        state.check(&event).map_err(ClearanceError::Transition)?;
        let mut next = state.clone();
        next.apply(&event);
        // The officer's finding amends: the officer's act.
        let amended = crate::changes::lifecycle_linked(row, &event, &next, now_ms);
        let reassessed = self
            .assessment_event(
                &row.id,
                &declaration,
                day,
                Basis::Officer,
                Some(&format!("finding of task {task_id}")),
                &actor(caller),
                now_ms,
            )
            .await?
            .map(|change| change.event);
        Ok((amended, reassessed))
    }
}
