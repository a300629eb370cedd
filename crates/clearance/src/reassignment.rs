//! A supervisor gives an officer's open task to another officer (改派): someone fell ill, went off
//! duty, or the queue is uneven. The new officer is one the task could have been drawn for now
//! (`Clearance::task_candidates`: the officers on duty at the task's office, or every officer when
//! nobody is on duty there), so a reassignment never puts a task outside the roster the draw
//! uses. Each reassignment is an audited event (`task.reassigned`: the task, from whom, to whom,
//! why); the supervisor does no task itself.

use domain::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Append, AppendOutcome, Projection, Store};

use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest};

/// The event of a task given to another officer.
pub const REASSIGNED_ACTION: &str = "task.reassigned";

/// A supervisor's reassignment: the officer (user name) the task goes to, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignmentRequest {
    pub officer: String,
    pub reason: String,
}

fn first_reassignment(first: &store::EventRow, digest: &str) -> Result<Value, ClearanceError> {
    if first.request_digest != digest || first.action != REASSIGNED_ACTION {
        return Err(ClearanceError::IdempotencyKeyReused);
    }
    serde_json::from_str(&first.payload)
        .map_err(|e| anyhow::anyhow!("stored reassignment {} is not readable: {e}", first.seq))
        .map_err(Into::into)
}

impl<S: Store> Clearance<S> {
    /// The officers a task at `office` may be given to now, `{id, name}` in the draw's order, and
    /// whether they are the officers on duty there (`on_duty`) or every officer.
    pub async fn reassignment_candidates(
        &self,
        caller: &Caller,
        office: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ReassignTasks)?;
        let (ids, pool) = self.task_candidates(office).await?;
        let officers = self.store.users_by_role(Role::Officer.as_str()).await?;
        let candidates: Vec<Value> = ids
            .iter()
            .filter_map(|id| officers.iter().find(|u| &u.id == id))
            .map(|u| json!({ "id": u.id, "name": u.name }))
            .collect();
        Ok(json!({ "office": office, "pool": pool.as_str(), "officers": candidates }))
    }

    /// Gives the open task `task_id` to another officer. Returns `{task, declaration_id, from,
    /// to, reason}` (officers by user id).
    pub async fn reassign_task(
        &self,
        caller: &Caller,
        task_id: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ReassignTasks)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("reassign:{task_id}"), body);
        let request: ReassignmentRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        let reason = domain::numbers::parse_text(
            "reason",
            &request.reason,
            domain::limits::REASON_LENGTH_MAX,
        );
        if let Err(e) = &reason {
            errors.push(e.clone());
        }
        if request.officer.trim().is_empty() {
            errors.push(FieldError::invalid_format(
                "officer",
                "the user name of an officer",
                "关员的用户名",
            ));
        }
        let (Ok(reason), true) = (reason, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            return first_reassignment(&first, &digest);
        }
        let task = self
            .store
            .task(task_id)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let closed = || {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "task",
                "the task is closed",
                "任务已关闭",
            )])
        };
        if task.status != "open" {
            return Err(closed());
        }
        let (candidates, _) = self.task_candidates(&task.office).await?;
        let to = self
            .store
            .user_by_name(request.officer.trim())
            .await?
            .filter(|u| u.role == Role::Officer.as_str() && candidates.contains(&u.id))
            .ok_or_else(|| {
                ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "officer",
                    &format!(
                        "not an officer on duty at office {} (or, with nobody on duty there, an \
                         active officer)",
                        task.office
                    ),
                    &format!(
                        "不是在 {} 关区值班的关员（该关区无人值班时，应为在职关员）",
                        task.office
                    ),
                )])
            })?;
        if to.id == task.assigned_to {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "officer",
                "the task is assigned to this officer already",
                "任务已分派给该关员",
            )]));
        }
        let view = json!({
            "task": task.id, "declaration_id": task.declaration_id, "kind": task.kind,
            "office": task.office, "from": task.assigned_to, "to": to.id, "reason": reason,
        });
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: task.declaration_id.clone(),
            action: REASSIGNED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.clone(),
            payload: view.to_string(),
            expected_version: None,
            projection: Projection::ReassignTask {
                id: task.id.clone(),
                to: to.id.clone(),
            },
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(view),
            Ok(AppendOutcome::Duplicate { first, .. }) => first_reassignment(&first, &digest),
            Ok(other) => Err(crate::refusal(other)),
            Err(store::StoreError::Conflict(_)) => Err(closed()),
            Err(other) => Err(other.into()),
        }
    }
}
