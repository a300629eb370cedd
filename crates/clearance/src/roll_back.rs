//! Bulk reassessment after a roll-back (撤回税则或汇率后的批量重新计征): when an administrator
//! withdraws a tariff release or an exchange-rate table, the declarations still awaiting release
//! whose latest assessment used it are reassessed with what is in force on their acceptance
//! dates now. Each is an officer's reassessment like any other (an event in the chain naming the
//! acting user, the reason and the difference), made under an idempotency key derived from the
//! release and the declaration, so a job run twice, by two workers, or redelivered by the bus,
//! records each reassessment once.
//!
//! The job is heavy (it reads every open import declaration lodged since the release took
//! effect): `customs worker` runs it when the bus delivers a `release.rolled_back` event, off the
//! request path; `serve` runs the same job in-process on the embedded store.

use serde::Serialize;
use store::{DeclarationCursor, DeclarationQuery, Store};

use crate::bulk_reassessment::{record_member, record_used};
use crate::{Action, Caller, Clearance, ClearanceError, FieldError};

/// Open declarations read per page while looking for those to reassess: bounds each read of the
/// store and the memory a job holds, whatever the number of open declarations.
pub const ROLL_BACK_PAGE: usize = 200;
/// Failures a job's report names (it counts them all): a job that fails on every declaration
/// (the store went away) does not grow its report without bound.
pub const ROLL_BACK_FAILURES_LISTED_MAX: usize = 20;

/// What a bulk reassessment did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BulkReassessment {
    /// The release withdrawn.
    pub release: String,
    /// `tariff` or `exchange_rates`; any other kind enters no assessment and is not examined.
    pub kind: String,
    /// Open import declarations looked at.
    pub examined: usize,
    /// Reassessed now (a new event each).
    pub reassessed: usize,
    /// Reassessed before under the same key (a second run, or a redelivery): nothing new.
    pub already_reassessed: usize,
    /// Declarations that could not be reassessed (all counted).
    pub failed: usize,
    /// The first [`ROLL_BACK_FAILURES_LISTED_MAX`] of them: number and reason.
    pub failures: Vec<(String, String)>,
}

impl BulkReassessment {
    /// Counts a declaration that could not be reassessed, and names it while there is room.
    pub fn note_failure(&mut self, number: &str, error: &ClearanceError) {
        self.failed += 1;
        if self.failures.len() < ROLL_BACK_FAILURES_LISTED_MAX {
            self.failures.push((number.to_owned(), error.to_string()));
        }
    }
}

/// The idempotency key of the reassessment of `declaration_id` after `release` was withdrawn.
pub fn roll_back_key(release: &str, declaration_id: &str) -> String {
    format!("roll-back:{release}:{declaration_id}")
}

impl<S: Store> Clearance<S> {
    /// Reassesses every open import declaration whose latest assessment used the release `id`,
    /// which must be rolled back (a release in force again is not a reason to reassess). The
    /// caller must be allowed to reassess (an officer); each reassessment is recorded as theirs.
    /// `event` names the roll-back (e.g. its chain position) in each reassessment's reason.
    pub async fn reassess_after_roll_back(
        &self,
        caller: &Caller,
        id: &str,
        event: &str,
    ) -> Result<BulkReassessment, ClearanceError> {
        caller.require(Action::Reassess)?;
        let release = self.store.release(id).await?.ok_or_else(|| {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "release",
                &format!("no release {id}"),
                &format!("不存在版本 {id}"),
            )])
        })?;
        if release.status != "rolled_back" {
            return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                "release",
                &format!("release {id} is {}, not rolled back", release.status),
                &format!("版本 {id} 的状态为 {}，未被撤回", release.status),
            )]));
        }
        let mut report = BulkReassessment {
            release: release.id.clone(),
            kind: release.kind.clone(),
            ..BulkReassessment::default()
        };
        let Some(member) = record_member(&release.kind) else {
            return Ok(report);
        };
        let reason = format!(
            "{kind} release {id} rolled back ({event}) / {kind} 版本 {id} 已撤回（{event}）",
            kind = release.kind
        );
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
                    continuity: false,
                    visible_to: None,
                    status: Some("accepted".to_owned()),
                    kind: None,
                    direction: Some("import".to_owned()),
                    office_of_lodging: None,
                    trader_credit_code: None,
                    lodged_from_ms,
                    lodged_to_ms: None,
                    before,
                    limit: ROLL_BACK_PAGE,
                    search: Default::default(),
                })
                .await?;
            let full = page.len() == ROLL_BACK_PAGE;
            before = page.last().map(|listed| listed.cursor);
            for listed in page {
                report.examined += 1;
                let row = listed.row;
                let records = self.assessment_records(&row.id).await?;
                if !records
                    .last()
                    .is_some_and(|last| record_used(last, member, id))
                {
                    continue;
                }
                let key = roll_back_key(id, &row.id);
                match self.reassess(caller, &row.id, Some(&key), &reason).await {
                    Ok(done) if done.created => report.reassessed += 1,
                    Ok(_) => report.already_reassessed += 1,
                    // The store failing, or a change racing this one, ends the job (the bus
                    // delivers it again, and what was done replays); a refusal of one
                    // declaration is reported and the job goes on.
                    Err(
                        error @ (ClearanceError::Unavailable(_)
                        | ClearanceError::Internal(_)
                        | ClearanceError::Conflict),
                    ) => {
                        return Err(error);
                    }
                    Err(error) => report.note_failure(&row.number, &error),
                }
            }
            if !full {
                return Ok(report);
            }
        }
    }
}
