//! An officer's bulk reassessment after a wrong release (撤回税则或汇率后的批量重新计征).
//!
//! Rolling back a tariff release or an exchange-rate table leaves every declaration assessed
//! with it standing on figures that no longer hold. An officer:
//!
//! 1. lists the declarations whose latest assessment used the release
//!    ([`Clearance::declarations_assessed_with`]): open ones and released ones;
//! 2. runs a bulk reassessment as a **dry run**: each open declaration assessed again with what is
//!    in force on its acceptance date now, the difference computed and nothing written to it;
//! 3. runs it **applied**: each difference recorded as an officer's reassessment (an appended
//!    `declaration.assessed` event naming the officer, the reason and the difference), under the
//!    key [`crate::roll_back::roll_back_key`] that `customs worker`'s automatic job uses too, so a
//!    declaration is reassessed once whoever gets there first.
//!
//! A job is bounded ([`BULK_REASSESSMENT_DECLARATIONS_MAX`] declarations; a later job takes the
//! rest, which still use the release), idempotent and resumable (a job is named by its
//! idempotency key: the same key again continues where an interrupted run stopped, or answers
//! with the finished job's record; nothing is recorded twice), and audit-chained (its start, its
//! progress and its totals are events of [`BULK_JOBS_SUBJECT`]). Released declarations are
//! listed but not reassessed here: their goods left on the figures of the time, and recovery or
//! refund after release (追征/退税) is a decision an officer takes declaration by declaration.
//!
//! What the trade is told comes from the reassessment event, through the trade's allow-list
//! (`trade_view`): the receipt's `difference` and `settlement` (`pay_more` or `refund`), the
//! tax notice's difference per tax, and the settlement's `outstanding` (a pay-more blocks the
//! release until paid) or `refund_due`.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::{Append, AppendOutcome, DeclarationCursor, DeclarationQuery, Projection, Store};

use crate::assessment::Basis;
use crate::payments::Settlement;
use crate::roll_back::{ROLL_BACK_PAGE, roll_back_key};
use crate::{Action, Caller, Clearance, ClearanceError, FieldError, actor, request_digest};

/// Declarations one bulk job reassesses (or lists) at most: a job's work and its record stay
/// bounded whatever the number of declarations a release touched. More than this many are
/// taken by the next job (they still use the withdrawn release, so the next job finds them).
pub const BULK_REASSESSMENT_DECLARATIONS_MAX: usize = 200;
/// Declarations the job examines while looking for those that used the release: bounds the
/// reads of one job whatever the number of declarations lodged since the release took effect.
pub const BULK_REASSESSMENT_EXAMINED_MAX: usize = 50_000;
/// A progress event is recorded after this many declarations: what a resumed job and the list of
/// jobs read of a job still running.
pub const BULK_PROGRESS_EVERY: usize = 50;
/// Jobs the list of jobs shows (the most recent).
pub const BULK_JOBS_LISTED_MAX: usize = 100;
/// The subject whose events record bulk jobs (each job is a run of events with its `job` key).
pub const BULK_JOBS_SUBJECT: &str = "bulk-reassessments";
pub const BULK_STARTED_ACTION: &str = "bulk_reassessment.started";
pub const BULK_PROGRESS_ACTION: &str = "bulk_reassessment.progress";
pub const BULK_FINISHED_ACTION: &str = "bulk_reassessment.finished";

/// Which member of an assessment record names the release of `kind` it used.
pub(crate) fn record_member(kind: &str) -> Option<&'static str> {
    match kind {
        "tariff" => Some("tariff_release"),
        "exchange_rates" => Some("exchange_rate_tables"),
        _ => None,
    }
}

/// Whether the assessment `record` used the release `id` (`member` from [`record_member`]).
pub(crate) fn record_used(record: &Value, member: &str, id: &str) -> bool {
    match &record[member] {
        Value::String(used) => used == id,
        Value::Array(used) => used.iter().any(|u| u.as_str() == Some(id)),
        _ => false,
    }
}

fn amount(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

fn fen(d: Decimal) -> String {
    tariff::money::fen_text(d)
}

fn overflow() -> ClearanceError {
    ClearanceError::Internal(anyhow::anyhow!("a bulk reassessment's totals overflow"))
}

fn invalid(path: &str, en: &str, zh: &str) -> ClearanceError {
    ClearanceError::Invalid(vec![FieldError::not_allowed(path, en, zh)])
}

/// A declaration whose latest assessment used the release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AffectedDeclaration {
    pub id: String,
    pub number: String,
    /// `accepted` (open: a bulk job reassesses it) or `released`.
    pub status: String,
    /// The number of its latest assessment (1 at acceptance).
    pub assessment: u64,
    /// Its latest assessment's total payable (CNY), if assessed.
    pub total_payable: Option<String>,
}

/// The declarations assessed with a release, at most [`BULK_REASSESSMENT_DECLARATIONS_MAX`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AffectedDeclarations {
    pub release: String,
    pub kind: String,
    pub status: String,
    pub declarations: Vec<AffectedDeclaration>,
    /// More declarations used the release than are listed (a job takes the first ones; the next
    /// job the rest).
    pub more: bool,
    /// Declarations examined (import declarations lodged since the release took effect).
    pub examined: usize,
}

/// Totals of a job, exact to the fen, checked sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Totals {
    processed: usize,
    changed: usize,
    unchanged: usize,
    /// Reassessed by someone else (another job, the worker) since the job started.
    skipped: usize,
    failed: usize,
    pay_more: Decimal,
    refund: Decimal,
    refund_due: Decimal,
}

impl Totals {
    fn add(&mut self, line: &Value) -> Result<(), ClearanceError> {
        self.processed += 1;
        match line["outcome"].as_str() {
            Some("pay_more") | Some("refund") => {
                self.changed += 1;
                let difference = amount(&line["difference"]);
                if difference > Decimal::ZERO {
                    self.pay_more = self.pay_more.checked_add(difference).ok_or_else(overflow)?;
                } else {
                    self.refund = self.refund.checked_add(-difference).ok_or_else(overflow)?;
                }
                self.refund_due = self
                    .refund_due
                    .checked_add(amount(&line["refund_due"]))
                    .ok_or_else(overflow)?;
            }
            Some("unchanged") => self.unchanged += 1,
            Some("skipped") => self.skipped += 1,
            _ => self.failed += 1,
        }
        Ok(())
    }

    fn json(&self) -> Value {
        json!({
            "processed": self.processed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "pay_more_total": fen(self.pay_more),
            "refund_total": fen(self.refund),
            "refund_due_total": fen(self.refund_due),
        })
    }
}

/// What a job's difference means to the trade: positive is more to pay; negative is less to pay,
/// refunded as far as it was paid already (`refund_due`).
fn outcome_of(difference: Decimal) -> &'static str {
    if difference > Decimal::ZERO {
        "pay_more"
    } else if difference < Decimal::ZERO {
        "refund"
    } else {
        "unchanged"
    }
}

/// The refund due after an assessment of `payable`: what was paid beyond it (a guarantee beyond
/// it is released, not refunded).
pub fn refund_due(settlement: &Settlement) -> Decimal {
    settlement.refund_due()
}

impl<S: Store> Clearance<S> {
    async fn rolled_back_or_listed_release(
        &self,
        id: &str,
    ) -> Result<(store::ReleaseRow, &'static str), ClearanceError> {
        let release = self.store.release(id).await?.ok_or_else(|| {
            invalid(
                "release",
                &format!("no release {id}"),
                &format!("不存在版本 {id}"),
            )
        })?;
        let member = record_member(&release.kind).ok_or_else(|| {
            invalid(
                "release",
                &format!(
                    "release {id} is a {} release, which enters no assessment",
                    release.kind
                ),
                &format!("版本 {id}（{}）不参与计税", release.kind),
            )
        })?;
        Ok((release, member))
    }

    /// Every import declaration whose latest assessment used the tariff release or rate table
    /// `id` (cancelled ones aside), most recent first, at most
    /// [`BULK_REASSESSMENT_DECLARATIONS_MAX`]. An officer's list, in or out of force.
    pub async fn declarations_assessed_with(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<AffectedDeclarations, ClearanceError> {
        caller.require(Action::Reassess)?;
        let (release, member) = self.rolled_back_or_listed_release(id).await?;
        self.affected(&release, member, BULK_REASSESSMENT_DECLARATIONS_MAX)
            .await
    }

    async fn affected(
        &self,
        release: &store::ReleaseRow,
        member: &str,
        limit: usize,
    ) -> Result<AffectedDeclarations, ClearanceError> {
        let mut found = AffectedDeclarations {
            release: release.id.clone(),
            kind: release.kind.clone(),
            status: release.status.clone(),
            declarations: Vec::new(),
            more: false,
            examined: 0,
        };
        // Nothing lodged before the release took effect was assessed with it. A day earlier
        // than its date at 00:00 UTC is before that day begins in any time zone.
        let lodged_from_ms = release
            .effective_from
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(|d| d.pred_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis());
        let mut before: Option<DeclarationCursor> = None;
        loop {
            let page = self
                .store
                .list_declarations(&DeclarationQuery {
                    direction: Some("import".to_owned()),
                    lodged_from_ms,
                    before,
                    limit: ROLL_BACK_PAGE,
                    ..DeclarationQuery::default()
                })
                .await?;
            let full = page.len() == ROLL_BACK_PAGE;
            before = page.last().map(|listed| listed.cursor);
            for listed in page {
                let row = listed.row;
                if found.examined == BULK_REASSESSMENT_EXAMINED_MAX {
                    found.more = true;
                    return Ok(found);
                }
                found.examined += 1;
                if row.status == "cancelled" {
                    continue;
                }
                let records = self.assessment_records(&row.id).await?;
                let Some(last) = records
                    .last()
                    .filter(|r| record_used(r, member, &release.id))
                else {
                    continue;
                };
                if found.declarations.len() == limit {
                    found.more = true;
                    return Ok(found);
                }
                found.declarations.push(AffectedDeclaration {
                    id: row.id,
                    number: row.number,
                    status: row.status,
                    assessment: last["assessment"].as_u64().unwrap_or_default(),
                    total_payable: last["total_payable"].as_str().map(str::to_owned),
                });
            }
            if !full {
                return Ok(found);
            }
        }
    }

    /// The job's key in the caller's idempotency scope for one of its events.
    pub(crate) fn job_event_key(job: &str, part: &str) -> String {
        format!(
            "bulk-reassessment:{}:{part}",
            &request_digest("bulk-reassessment-job", job.as_bytes())[..32]
        )
    }

    pub(crate) async fn append_job_event(
        &self,
        caller: &Caller,
        key: String,
        action: &str,
        payload: &Value,
        digest: &str,
    ) -> Result<Value, ClearanceError> {
        let text = payload.to_string();
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: BULK_JOBS_SUBJECT.to_owned(),
            action: action.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest.to_owned(),
            payload: text,
            expected_version: None,
            projection: Projection::Nothing,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => Ok(payload.clone()),
            AppendOutcome::Duplicate { first, .. } => {
                if first.request_digest != digest {
                    return Err(ClearanceError::IdempotencyKeyReused);
                }
                serde_json::from_str(&first.payload)
                    .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))
            }
            other => Err(crate::refusal(other)),
        }
    }

    /// Runs (or resumes, or answers again) the bulk reassessment `job` of the declarations whose
    /// latest assessment used the rolled-back release `id`: a dry run (`apply` false: nothing is
    /// written to any declaration) or applied. The same `job` key with the same release and mode
    /// continues an interrupted run and answers a finished one with its record; with another
    /// release or mode it is refused. The caller must be allowed to reassess (an officer).
    pub async fn bulk_reassess(
        &self,
        caller: &Caller,
        job: Option<&str>,
        id: &str,
        apply: bool,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Reassess)?;
        let job = crate::idempotency_key_or_new(job)?;
        let mode = if apply { "apply" } else { "dry_run" };
        let digest = request_digest("bulk-reassessment", format!("{id}\n{mode}").as_bytes());
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &Self::job_event_key(&job, "finished"))
            .await?
        {
            if first.request_digest != digest {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            let mut done: Value = serde_json::from_str(&first.payload)
                .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?;
            done["replayed"] = json!(true);
            return Ok(done);
        }
        let (release, member) = self.rolled_back_or_listed_release(id).await?;
        if release.status != "rolled_back" {
            return Err(invalid(
                "release",
                &format!(
                    "release {id} is {}, not rolled back: roll it back first (what is in force \
                     then is what declarations are reassessed with)",
                    release.status
                ),
                &format!(
                    "版本 {id} 的状态为 {}，未被撤回：请先撤回（撤回后生效的版本即重新计征所依据的版本）",
                    release.status
                ),
            ));
        }
        // The declarations are fixed when the job starts, so a resumed job goes over the same
        // ones (those it reassessed no longer use the release, yet belong to its totals).
        let started_now = self
            .affected(&release, member, BULK_REASSESSMENT_DECLARATIONS_MAX)
            .await?;
        let open: Vec<Value> = started_now
            .declarations
            .iter()
            .filter(|d| d.status == "accepted")
            .map(|d| json!({ "id": d.id, "number": d.number }))
            .collect();
        let released = started_now
            .declarations
            .iter()
            .filter(|d| d.status != "accepted")
            .count();
        let started = self
            .append_job_event(
                caller,
                Self::job_event_key(&job, "started"),
                BULK_STARTED_ACTION,
                &json!({
                    "job": job, "release": release.id, "kind": release.kind, "mode": mode,
                    "declarations": open, "released_not_reassessed": released,
                    "more": started_now.more,
                }),
                &digest,
            )
            .await?;
        let declarations = started["declarations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reason = format!(
            "bulk reassessment {job}: {kind} release {id} rolled back / 批量重新计征 {job}：{kind} 版本 {id} 已撤回",
            kind = release.kind
        );
        let mut totals = Totals::default();
        let mut lines = Vec::with_capacity(declarations.len());
        for (index, declaration) in declarations.iter().enumerate() {
            let (Some(decl_id), Some(number)) =
                (declaration["id"].as_str(), declaration["number"].as_str())
            else {
                continue;
            };
            let line = match self
                .reassess_one(caller, decl_id, member, id, apply, &reason)
                .await
            {
                Ok(line) => line,
                Err(
                    error @ (ClearanceError::Unavailable(_)
                    | ClearanceError::Internal(_)
                    | ClearanceError::Conflict),
                ) => return Err(error),
                Err(error) => json!({ "outcome": "failed", "reason": error.to_string() }),
            };
            let mut line = line;
            line["number"] = json!(number);
            totals.add(&line)?;
            lines.push(line);
            let done = index + 1;
            if apply && done % BULK_PROGRESS_EVERY == 0 && done < declarations.len() {
                self.append_job_event(
                    caller,
                    Self::job_event_key(&job, &format!("progress-{done}")),
                    BULK_PROGRESS_ACTION,
                    &json!({ "job": job, "processed": done, "totals": totals.json() }),
                    &digest,
                )
                .await?;
            }
        }
        let finished = json!({
            "job": job,
            "release": release.id,
            "kind": release.kind,
            "mode": mode,
            "state": "finished",
            "declarations": declarations.len(),
            "released_not_reassessed": started["released_not_reassessed"],
            "more": started["more"],
            "totals": totals.json(),
            "lines": lines,
        });
        self.append_job_event(
            caller,
            Self::job_event_key(&job, "finished"),
            BULK_FINISHED_ACTION,
            &finished,
            &digest,
        )
        .await
    }

    /// One declaration of a job: its difference, recorded when `apply`.
    async fn reassess_one(
        &self,
        caller: &Caller,
        declaration_id: &str,
        member: &str,
        release: &str,
        apply: bool,
        reason: &str,
    ) -> Result<Value, ClearanceError> {
        let key = roll_back_key(release, declaration_id);
        // Reassessed by this officer before (this job interrupted, or an earlier one): the same
        // record again, never a second reassessment.
        let earlier = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?;
        let record = if let Some(first) = earlier {
            serde_json::from_str::<Value>(&first.payload)
                .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?
        } else {
            let latest = self.assessment_records(declaration_id).await?.pop();
            if !latest.is_some_and(|r| record_used(&r, member, release)) {
                return Ok(json!({ "outcome": "skipped" }));
            }
            if apply {
                self.reassess(caller, declaration_id, Some(&key), reason)
                    .await?
                    .record
            } else {
                let row = self
                    .store
                    .declaration(declaration_id)
                    .await?
                    .ok_or(ClearanceError::NotFound)?;
                let state = self.state_of(&row).await?;
                let change = self
                    .assessment_event(
                        &row.id,
                        &state.declaration,
                        self.date_of_ms(row.lodged_at_ms),
                        Basis::Officer,
                        Some(reason),
                        &actor(caller),
                        self.now().timestamp_millis(),
                    )
                    .await?
                    .ok_or(ClearanceError::NotFound)?;
                serde_json::from_str(&change.event.payload)
                    .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?
            }
        };
        if record["outcome"] != "assessed" {
            return Ok(json!({
                "outcome": "not_assessed",
                "problems": record["problems"],
            }));
        }
        let difference = amount(&record["difference"]["total"]);
        let mut settlement = self.settlement(declaration_id).await?;
        // A dry run: the settlement as it would be with the new assessment.
        settlement.payable = Some(amount(&record["total_payable"]));
        Ok(json!({
            "outcome": outcome_of(difference),
            "previous_total": fen(amount(&record["total_payable"]) - difference),
            "total_payable": record["total_payable"],
            "difference": fen(difference),
            "per_tax": record["difference"]["per_tax"],
            "paid": fen(settlement.paid),
            "outstanding": fen(settlement.outstanding()),
            "refund_due": fen(refund_due(&settlement)),
            "assessment": record["assessment"],
        }))
    }

    /// One bulk job with its differences: the job `job` that the user `started_by` ran (a job's
    /// key is in its officer's scope), as the list shows it, and, once finished, `lines`: each
    /// declaration's outcome (`pay_more`, `refund`, `unchanged`, `not_assessed`, `skipped`,
    /// `failed`), its previous and new totals and the difference, exact. Officers only; an
    /// unknown job is not found.
    pub async fn bulk_reassessment(
        &self,
        caller: &Caller,
        started_by: &str,
        job: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Reassess)?;
        let mut found = self
            .bulk_reassessments_all(caller)
            .await?
            .into_iter()
            .find(|j| j["job"] == job && j["started_by"] == started_by)
            .ok_or(ClearanceError::NotFound)?;
        if found["state"] == "finished"
            && let Some(finished) = self
                .store
                .event_by_idempotency(started_by, &Self::job_event_key(job, "finished"))
                .await?
        {
            let payload: Value = serde_json::from_str(&finished.payload)
                .map_err(|e| ClearanceError::Internal(anyhow::anyhow!("{e}")))?;
            found["lines"] = payload["lines"].clone();
        }
        if found.get("lines").is_none() {
            found["lines"] = json!([]);
        }
        Ok(found)
    }

    /// The bulk jobs, most recent first (at most [`BULK_JOBS_LISTED_MAX`]): each job's release,
    /// mode, state (`started`: running, or interrupted and resumed by the same key; `finished`), progress and
    /// totals. Officers only.
    pub async fn bulk_reassessments(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        let mut jobs = self.bulk_reassessments_all(caller).await?;
        jobs.truncate(BULK_JOBS_LISTED_MAX);
        Ok(jobs)
    }

    /// Every bulk job, most recent first.
    async fn bulk_reassessments_all(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::Reassess)?;
        let events = self.store.events(BULK_JOBS_SUBJECT).await?;
        let mut jobs: Vec<Value> = Vec::new();
        for event in &events {
            let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
            let Some(job) = payload["job"].as_str() else {
                continue;
            };
            // A job's key is in its officer's own scope: two officers may name jobs alike.
            let position = jobs
                .iter()
                .position(|j| j["job"] == job && j["started_by"] == event.actor.user_id.as_str());
            match (event.action.as_str(), position) {
                (BULK_STARTED_ACTION, None) => {
                    jobs.push(json!({
                        "job": job,
                        "release": payload["release"],
                        "kind": payload["kind"],
                        "mode": payload["mode"],
                        "state": "started",
                        "started_by": event.actor.user_id,
                        "started_at": crate::views::rfc3339(event.recorded_at_ms),
                        "declarations": payload["declarations"].as_array().map_or(0, Vec::len),
                        "released_not_reassessed": payload["released_not_reassessed"],
                        "more": payload["more"],
                        "processed": 0,
                        "totals": Totals::default().json(),
                    }));
                }
                (BULK_PROGRESS_ACTION, Some(i)) => {
                    jobs[i]["processed"] = payload["processed"].clone();
                    jobs[i]["totals"] = payload["totals"].clone();
                }
                (BULK_FINISHED_ACTION, Some(i)) => {
                    jobs[i]["state"] = json!("finished");
                    jobs[i]["processed"] = payload["totals"]["processed"].clone();
                    jobs[i]["totals"] = payload["totals"].clone();
                    jobs[i]["finished_at"] = json!(crate::views::rfc3339(event.recorded_at_ms));
                }
                _ => {}
            }
        }
        jobs.reverse();
        Ok(jobs)
    }
}
