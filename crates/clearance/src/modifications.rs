//! Requests to amend or cancel a declaration under customs control (修撤单).
//!
//! Once customs has acted on a declaration (it was selected for a check, a task on it is open, or
//! it has been assessed), the trade can no longer change it at will: an amendment or a
//! cancellation becomes a request (`modification.requested`) that an officer reviews, as a
//! `modification_review` task drawn like any other. While it is pending the goods are not
//! released (an open task), and only one request is pending at a time. The officer approves or
//! refuses it (`modification.decided`, the review task closed in the same transaction):
//! - an approved amendment is applied as it was requested, reassessed and targeted again: a
//!   fresh selection adds its checks to the ones already open; it never withdraws one;
//! - an approved cancellation never closes or orphans a task: it is refused while any other task
//!   on the declaration is open (the officer closes the checks with their findings first);
//! - a request decided on an older version of the declaration than the one now in force (a
//!   finding corrected it meanwhile) cannot be approved: the trade asks again.

use domain::{DeclarationEvent, FieldError};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Append, AppendOutcome, DeclarationRow, EventRow, LinkedEvent, Projection, Store};
use wire::DeclarationView;

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest, views};

/// The event of a trade's request to amend or cancel.
pub const REQUESTED_ACTION: &str = "modification.requested";
/// The event of an officer's decision on it.
pub const DECIDED_ACTION: &str = "modification.decided";
/// The task kind of a request's review.
pub const REVIEW_TASK: &str = "modification_review";

/// What an amendment or a cancellation did: applied at once, or requested for an officer's
/// decision.
#[derive(Debug, Clone)]
pub enum Modification {
    Applied(Box<DeclarationView>),
    Requested(Value),
}

impl Modification {
    /// The declaration as changed; panics on a request (for tests that expect a direct change).
    pub fn applied(self) -> DeclarationView {
        match self {
            Modification::Applied(view) => *view,
            Modification::Requested(request) => {
                panic!("expected the change to be applied, it was requested: {request}")
            }
        }
    }

    /// The request; panics on a direct change (for tests).
    pub fn requested(self) -> Value {
        match self {
            Modification::Requested(request) => request,
            Modification::Applied(view) => {
                panic!(
                    "expected a request, the change was applied: {}",
                    view.number
                )
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub approve: bool,
    /// Required to refuse (it is told to the trade); optional to approve.
    #[serde(default)]
    pub reason: Option<String>,
}

fn payload_of(event: &EventRow) -> Value {
    serde_json::from_str(&event.payload).unwrap_or(Value::Null)
}

/// Whether customs has acted on the declaration, so that the trade's changes need approval: it
/// was selected (a lane other than green, or a task ever opened), a task on it is open, or it
/// has been assessed.
pub(crate) fn under_control(events: &[EventRow]) -> bool {
    events.iter().any(|event| match event.action.as_str() {
        "task.created" => true,
        crate::targeting::TARGETED_ACTION => {
            let record = payload_of(event);
            record["lane"] != "green" || !crate::tasks::kinds_asked(&record).is_empty()
        }
        crate::assessment::ASSESSED_ACTION => payload_of(event)["outcome"] == "assessed",
        _ => false,
    })
}

/// The id of the request pending on the declaration, if any.
fn pending_request(events: &[EventRow]) -> Option<String> {
    let mut pending = None;
    for event in events {
        match event.action.as_str() {
            REQUESTED_ACTION => pending = payload_of(event)["request"].as_str().map(str::to_owned),
            DECIDED_ACTION => pending = None,
            _ => {}
        }
    }
    pending
}

fn request_view(record: &Value, number: &str, status: &str) -> Value {
    json!({
        "request": record["request"],
        "kind": record["kind"],
        "declaration": number,
        "status": status,
        "reason": record["reason"],
    })
}

fn transition(code: &'static str, en: String, zh: String) -> ClearanceError {
    ClearanceError::Transition(domain::TransitionError {
        code,
        message_en: en,
        message_zh: zh,
    })
}

impl<S: Store> Clearance<S> {
    /// Turns a decided amendment or cancellation of a declaration under control into a request.
    /// `None` when the declaration is not under control: the change is applied at once.
    pub(crate) async fn modification_request(
        &self,
        caller: &Caller,
        (row, events): (&DeclarationRow, &[EventRow]),
        event: &DeclarationEvent,
        reason: &str,
        key: &str,
        digest: &str,
    ) -> Result<Option<Modification>, ClearanceError> {
        if !under_control(events) {
            return Ok(None);
        }
        if pending_request(events).is_some() {
            return Err(transition(
                "request_pending",
                format!(
                    "declaration {} already has a request waiting for an officer's decision",
                    row.number
                ),
                format!("报关单 {} 已有待海关审批的修撤单申请", row.number),
            ));
        }
        let kind = match event {
            DeclarationEvent::Cancelled { .. } => "cancellation",
            _ => "amendment",
        };
        let request_id = uuid::Uuid::now_v7().to_string();
        let now_ms = self.now().timestamp_millis();
        let record = json!({
            "request": request_id,
            "kind": kind,
            "reason": reason,
            "base_version": row.version,
            "change": serde_json::from_str::<Value>(&wire::encode_event(event))
                .map_err(|e| anyhow::anyhow!("an event encodes as JSON: {e}"))?,
        });
        let review = self
            .task_drawn_now(
                &row.id,
                &row.office_of_lodging,
                REVIEW_TASK,
                &request_id,
                now_ms,
                json!({ "request": request_id }),
            )
            .await?;
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: now_ms,
            subject: row.id.clone(),
            action: REQUESTED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key.to_owned(),
            request_digest: digest.to_owned(),
            payload: record.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
            linked: vec![review],
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { first, .. } => {
                return self.replayed_request(&first, digest).await.map(Some);
            }
            other => return Err(crate::refusal(other)),
        }
        Ok(Some(Modification::Requested(request_view(
            &record,
            &row.number,
            "pending",
        ))))
    }

    /// The answer first given to a request's idempotency key.
    pub(crate) async fn replayed_request(
        &self,
        first: &EventRow,
        digest: &str,
    ) -> Result<Modification, ClearanceError> {
        if first.request_digest != digest {
            return Err(ClearanceError::IdempotencyKeyReused);
        }
        let row = self
            .store
            .declaration(&first.subject)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        Ok(Modification::Requested(request_view(
            &payload_of(first),
            &row.number,
            "pending",
        )))
    }

    /// A declaration's requests to amend or cancel, with their decisions.
    pub async fn modification_requests(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, id_or_number).await?;
        let events = self.store.events(&row.id).await?;
        let mut requests: Vec<Value> = Vec::new();
        for event in &events {
            let record = payload_of(event);
            match event.action.as_str() {
                REQUESTED_ACTION => requests.push(request_view(&record, &row.number, "pending")),
                DECIDED_ACTION => {
                    if let Some(request) = requests
                        .iter_mut()
                        .find(|r| r["request"] == record["request"])
                    {
                        request["status"] = json!(if record["approved"] == true {
                            "approved"
                        } else {
                            "refused"
                        });
                        request["decision_reason"] = record["reason"].clone();
                    }
                }
                _ => {}
            }
        }
        Ok(requests)
    }

    /// An officer's decision on a request: the officer its review task is assigned to approves
    /// or refuses it.
    pub async fn decide_modification(
        &self,
        caller: &Caller,
        id_or_number: &str,
        request_id: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::DecideModifications)?;
        let decision: DecisionRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let reason = match (&decision.reason, decision.approve) {
            (Some(text), _) => Some(
                domain::numbers::parse_text("reason", text, domain::limits::REASON_LENGTH_MAX)
                    .map_err(|e| ClearanceError::Invalid(vec![e]))?,
            ),
            (None, true) => None,
            (None, false) => {
                return Err(ClearanceError::Invalid(vec![FieldError::required(
                    "reason",
                )]));
            }
        };
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("decide:{id_or_number}:{request_id}"), body);
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            if first.request_digest != digest || first.action != DECIDED_ACTION {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            return Ok(payload_of(&first));
        }
        let row = self.visible_row(caller, id_or_number).await?;
        let events = self.store.events(&row.id).await?;
        let request = events
            .iter()
            .filter(|e| e.action == REQUESTED_ACTION)
            .map(payload_of)
            .find(|r| r["request"] == request_id)
            .ok_or(ClearanceError::NotFound)?;
        if pending_request(&events).as_deref() != Some(request_id) {
            return Err(transition(
                "request_decided",
                format!("request {request_id} was decided already"),
                format!("申请 {request_id} 已审批"),
            ));
        }
        let open_tasks = self.open_tasks(&row.id).await?;
        let task = open_tasks
            .iter()
            .find(|t| t.id == request_id)
            .ok_or_else(|| anyhow::anyhow!("request {request_id} has no open review task"))?;
        if task.assigned_to != caller.user_id() {
            return Err(ClearanceError::Forbidden {
                message_en: "only the officer the review is assigned to decides the request".into(),
                message_zh: "只有被指派审核的关员可以审批此申请".into(),
                errors: vec![],
            });
        }
        let outcome = json!({ "approved": decision.approve, "reason": reason });
        let mut linked = vec![crate::tasks::closing_event(
            &row.id,
            request_id,
            REVIEW_TASK,
            outcome.clone(),
        )];
        if decision.approve {
            linked.extend(
                self.approved_change(&actor(caller), &row, &events, &open_tasks, &request)
                    .await?,
            );
        }
        let record = json!({
            "request": request_id,
            "kind": request["kind"],
            "approved": decision.approve,
            "reason": reason,
        });
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: row.id.clone(),
            action: DECIDED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.clone(),
            payload: record.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
            linked,
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => {}
            Ok(AppendOutcome::Duplicate { first, .. }) => {
                if first.request_digest != digest {
                    return Err(ClearanceError::IdempotencyKeyReused);
                }
                return Ok(payload_of(&first));
            }
            Ok(other) => return Err(crate::refusal(other)),
            // The task closed or the declaration changed meanwhile: read again and retry.
            Err(store::StoreError::Conflict(_)) => return Err(ClearanceError::Conflict),
            Err(other) => return Err(other.into()),
        }
        Ok(record)
    }

    /// The events an approved request adds: the change itself, and for an amendment its
    /// reassessment, a manual-assessment task if the engine cannot assess it, and its selection.
    async fn approved_change(
        &self,
        by: &store::Actor,
        row: &DeclarationRow,
        events: &[EventRow],
        open_tasks: &[store::TaskRow],
        request: &Value,
    ) -> Result<Vec<LinkedEvent>, ClearanceError> {
        if request["base_version"].as_u64() != Some(u64::from(row.version)) {
            return Err(transition(
                "request_stale",
                format!(
                    "declaration {} changed since the request was made: refuse it, and the trade asks again",
                    row.number
                ),
                format!(
                    "报关单 {} 在申请后已变更：请退回申请，由企业重新申请",
                    row.number
                ),
            ));
        }
        // A stored request, read back like the declaration it changes.
        let reference = self.recorded_reference().await?;
        let ctx = domain::ParseContext {
            reference: &reference,
            on: self.date_of_ms(row.lodged_at_ms),
        };
        let change = request["change"].to_string();
        let action = match request["kind"].as_str() {
            Some("cancellation") => "declaration.cancelled",
            _ => "declaration.amended",
        };
        let event = wire::decode_event(action, &change, &ctx)
            .map_err(|e| anyhow::anyhow!("a stored request does not decode: {e:?}"))?;
        let mut withdrawn = Vec::new();
        if matches!(event, DeclarationEvent::Cancelled { .. }) {
            // A check or a hold is never closed or orphaned by a cancellation: the officer closes
            // it with its finding first. A pending manual assessment has nothing left to assess
            // and is withdrawn with the declaration (it is no check, so no label).
            for task in open_tasks
                .iter()
                .filter(|t| t.kind == crate::assessing::MANUAL_ASSESSMENT_TASK)
            {
                withdrawn.push(crate::tasks::closing_event(
                    &row.id,
                    &task.id,
                    &task.kind,
                    json!({ "withdrawn": "the declaration is cancelled" }),
                ));
            }
            let open: Vec<&str> = open_tasks
                .iter()
                .map(|t| t.kind.as_str())
                .filter(|k| *k != REVIEW_TASK && *k != crate::assessing::MANUAL_ASSESSMENT_TASK)
                .collect();
            if !open.is_empty() {
                return Err(transition(
                    "open_tasks",
                    format!(
                        "declaration {} cannot be cancelled while its tasks are open ({}): close them with their findings first",
                        row.number,
                        open.join(", ")
                    ),
                    format!(
                        "报关单 {} 尚有未完成的任务（{}），不能撤销：请先录入结果",
                        row.number,
                        open.join("、")
                    ),
                ));
            }
        }
        let state = self.state_of(row).await?;
        state.check(&event).map_err(ClearanceError::Transition)?;
        let mut next = state.clone();
        next.apply(&event);
        let now_ms = self.now().timestamp_millis();
        // The officer who approved the request applies it.
        let mut linked = vec![crate::changes::lifecycle_linked(row, &event, &next, now_ms)];
        linked.extend(withdrawn);
        if let DeclarationEvent::Amended { declaration, .. } = &event {
            linked.extend(
                self.amendment_consequences(by, row, declaration, events, now_ms)
                    .await?,
            );
        }
        Ok(linked)
    }

    /// What an amendment applied after acceptance brings with it: the reassessment (on the
    /// acceptance date), a manual-assessment task when the engine cannot assess it and none is
    /// open, and a new selection with the checks it asks for.
    pub(crate) async fn amendment_consequences(
        &self,
        by: &store::Actor,
        row: &DeclarationRow,
        declaration: &domain::Declaration,
        events: &[EventRow],
        now_ms: i64,
    ) -> Result<Vec<LinkedEvent>, ClearanceError> {
        let day = self.date_of_ms(row.lodged_at_ms);
        let reassessed = self
            .assessment_event(
                &row.id,
                declaration,
                day,
                crate::assessment::Basis::Amendment,
                None,
                by,
                now_ms,
            )
            .await?;
        let figures = reassessed.as_ref().and_then(|c| c.figures.clone());
        let mut linked = Vec::new();
        if let Some(change) = reassessed {
            let unassessed = change.figures.is_none();
            linked.push(change.event);
            let open = crate::trade_view::open_task_kinds(events);
            if unassessed
                && !open
                    .iter()
                    .any(|k| k == crate::assessing::MANUAL_ASSESSMENT_TASK)
            {
                linked.push(
                    self.manual_assessment_task(&row.id, &row.office_of_lodging, now_ms)
                        .await?,
                );
            }
        }
        linked.extend(
            self.targeting(&row.id, declaration, figures.as_ref(), day, now_ms)
                .await?
                .0,
        );
        Ok(linked)
    }
}

/// The declaration view of a change applied at once.
pub(crate) fn applied(row: &DeclarationRow) -> Result<Modification, ClearanceError> {
    Ok(Modification::Applied(Box::new(views::declaration_view(
        row,
    )?)))
}
