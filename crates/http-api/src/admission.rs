//! Admission: what a request must pass before its body is read or its work begins.
//!
//! The guard (`guard`) has authenticated the caller. A route whose body is large or whose work is
//! heavy then passes a gate, in this order, before any byte of its body is read:
//! 1. the role: a caller whose role may not take the action is refused (403) at once, so that a
//!    trade role or a wrong customs role cannot make the server read a 256 MiB history file or
//!    an 80 MiB release only to refuse it afterwards;
//! 2. the heavy-job slots: each kind of heavy job (training, drift, rule test, dry run, history
//!    and release imports, attachment uploads, statistics, audit verification, large pages,
//!    batches of declarations)
//!    runs at most a named number at once, and one caller runs at most
//!    [`HEAVY_JOBS_PER_CALLER_MAX`] of them. Over either limit the answer is 503 with
//!    `Retry-After` at once, never a queue: a queued request would hold its connection and
//!    memory while it waits, which is what the limit is there to prevent.
//!
//! Before the gate, every guarded request counts against its user's requests in progress
//! (`limit_in_progress`): a declarant or broker has at most [`TRADE_REQUESTS_IN_PROGRESS_MAX`]
//! at once, a customs user [`CUSTOMS_REQUESTS_IN_PROGRESS_MAX`]; one more is 429 at once.
//!
//! The role check repeats the service's (`clearance::Action::allowed`), which still decides: the
//! gate only refuses earlier what the service would refuse later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clearance::{Action, Caller};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::problem::{ApiError, Refusal};

/// Risk models trained at once. Training takes both cores for seconds to minutes; a second run
/// at the same time would only halve the speed of both.
pub const TRAININGS_AT_ONCE: usize = 1;
/// History files imported at once: each holds up to `clearance::models::HISTORY_BYTES_MAX`
/// (256 MiB) in memory, twice while it is parsed.
pub const HISTORY_IMPORTS_AT_ONCE: usize = 1;
/// Release imports at once: each holds up to `RELEASE_BODY_LIMIT_BYTES_DEFAULT` (80 MiB).
pub const RELEASE_IMPORTS_AT_ONCE: usize = 1;
/// Drift reports at once: each scores up to `clearance::models::DRIFT_SAMPLE_MAX` declarations.
pub const DRIFT_REPORTS_AT_ONCE: usize = 2;
/// Rule tests and back-tests at once: each evaluates a rule over up to `RULE_TEST_SAMPLE_MAX`
/// declarations (a back-test: up to `BACKTEST_DECLARATIONS_MAX`, or on the labelled history up
/// to `BACKTEST_HISTORY_ROWS_MAX` rows).
pub const RULE_TESTS_AT_ONCE: usize = 2;
/// Release dry runs at once: each re-assesses up to `DRY_RUN_SAMPLE_MAX` declarations.
pub const DRY_RUNS_AT_ONCE: usize = 2;
/// Bulk reassessments at once (and lists of the declarations a release touched): each reads the
/// declarations lodged since a release took effect and reassesses up to
/// `clearance::bulk_reassessment::BULK_REASSESSMENT_DECLARATIONS_MAX` of them; two at once
/// would race each other over the same declarations.
pub const BULK_REASSESSMENTS_AT_ONCE: usize = 1;
/// Attachment uploads at once: each holds up to `ATTACHMENT_BYTES_MAX` (10 MiB).
pub const ATTACHMENT_UPLOADS_AT_ONCE: usize = 8;
/// Release-time statistics computed at once: each reads every declaration of a period of up to
/// `clearance::statistics::STATISTICS_PERIOD_DAYS_MAX` days.
pub const STATISTICS_AT_ONCE: usize = 2;
/// Audit-chain verifications at once: each rehashes every entry of the record.
pub const AUDIT_VERIFICATIONS_AT_ONCE: usize = 1;
/// Batches of declarations lodged at once (`batches`): each holds up to
/// `batches::BATCH_BYTES_MAX` (16 MiB) and lodges up to `batches::BATCH_ROWS_MAX` declarations,
/// one after the other, through the writer that single lodgings share.
pub const BATCH_LODGINGS_AT_ONCE: usize = 4;
/// Pages of more than [`LARGE_PAGE_ROWS`] rows (declarations, tasks, audit entries) read at once.
pub const LARGE_PAGES_AT_ONCE: usize = 4;
/// A page of more rows than this is a heavy job; a page of this many or fewer is not.
pub const LARGE_PAGE_ROWS: usize = 100;
/// Largest page of declarations a trade role (declarant, broker) reads: a broker's system pages
/// through its own declarations; only customs roles need the large pages of a worklist, so the
/// trade never takes a large-page slot.
pub const TRADE_PAGE_ROWS_MAX: usize = LARGE_PAGE_ROWS;
/// Heavy jobs of any kind one user runs at once, so that one user cannot take every slot of a
/// kind and keep the others out.
pub const HEAVY_JOBS_PER_CALLER_MAX: usize = 1;
/// Requests a declarant or broker has in progress at once by default
/// (`ApiConfig::trade_requests_in_progress_max`; each may hold a body of up to
/// `ApiConfig::body_limit_bytes`): a broker's system lodging a batch sends a few at a time.
pub const TRADE_REQUESTS_IN_PROGRESS_MAX: usize = 8;
/// Requests a customs user has in progress at once by default
/// (`ApiConfig::customs_requests_in_progress_max`): an officer's screens load several reads at
/// a time.
pub const CUSTOMS_REQUESTS_IN_PROGRESS_MAX: usize = 16;
/// What a refused heavy job is told to wait: the jobs it waits for take seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// A kind of heavy job, each with its own number of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HeavyJob {
    Training,
    HistoryImport,
    ReleaseImport,
    DriftReport,
    RuleTest,
    DryRun,
    AttachmentUpload,
    Statistics,
    AuditVerification,
    LargePage,
    BatchLodging,
    BulkReassessment,
}

impl HeavyJob {
    pub(crate) const ALL: [HeavyJob; 12] = [
        HeavyJob::Training,
        HeavyJob::HistoryImport,
        HeavyJob::ReleaseImport,
        HeavyJob::DriftReport,
        HeavyJob::RuleTest,
        HeavyJob::DryRun,
        HeavyJob::AttachmentUpload,
        HeavyJob::Statistics,
        HeavyJob::AuditVerification,
        HeavyJob::LargePage,
        HeavyJob::BatchLodging,
        HeavyJob::BulkReassessment,
    ];

    pub(crate) fn at_once(self) -> usize {
        match self {
            HeavyJob::Training => TRAININGS_AT_ONCE,
            HeavyJob::HistoryImport => HISTORY_IMPORTS_AT_ONCE,
            HeavyJob::ReleaseImport => RELEASE_IMPORTS_AT_ONCE,
            HeavyJob::DriftReport => DRIFT_REPORTS_AT_ONCE,
            HeavyJob::RuleTest => RULE_TESTS_AT_ONCE,
            HeavyJob::DryRun => DRY_RUNS_AT_ONCE,
            HeavyJob::AttachmentUpload => ATTACHMENT_UPLOADS_AT_ONCE,
            HeavyJob::Statistics => STATISTICS_AT_ONCE,
            HeavyJob::AuditVerification => AUDIT_VERIFICATIONS_AT_ONCE,
            HeavyJob::LargePage => LARGE_PAGES_AT_ONCE,
            HeavyJob::BatchLodging => BATCH_LODGINGS_AT_ONCE,
            HeavyJob::BulkReassessment => BULK_REASSESSMENTS_AT_ONCE,
        }
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            HeavyJob::Training => ("model trainings", "模型训练"),
            HeavyJob::HistoryImport => ("history imports", "历史数据导入"),
            HeavyJob::ReleaseImport => ("release imports", "税则版本导入"),
            HeavyJob::DriftReport => ("drift reports", "模型漂移报告"),
            HeavyJob::RuleTest => ("rule tests", "规则测试"),
            HeavyJob::DryRun => ("release dry runs", "税则版本试算"),
            HeavyJob::AttachmentUpload => ("attachment uploads", "附件上传"),
            HeavyJob::Statistics => ("statistics", "统计"),
            HeavyJob::AuditVerification => ("audit-chain verifications", "执法记录链校验"),
            HeavyJob::LargePage => ("large pages", "大页查询"),
            HeavyJob::BatchLodging => ("batches of declarations", "批量申报"),
            HeavyJob::BulkReassessment => ("bulk reassessments", "批量重新计征"),
        }
    }

    fn index(self) -> usize {
        HeavyJob::ALL
            .iter()
            .position(|&job| job == self)
            .expect("every job is in ALL")
    }
}

/// The slots of every kind of heavy job, and how many each user holds.
pub(crate) struct HeavyJobs {
    slots: Vec<Arc<Semaphore>>,
    per_caller: Mutex<HashMap<String, usize>>,
}

/// A slot held until dropped: with the request's future when it ends or times out, or with the
/// blocking thread a training runs on (see `models::train`).
#[must_use = "the slot is given back when the permit is dropped"]
pub(crate) struct JobPermit {
    _slot: OwnedSemaphorePermit,
    _caller: CallerSlot,
}

struct CallerSlot {
    jobs: Arc<HeavyJobs>,
    user_id: String,
}

impl Drop for CallerSlot {
    fn drop(&mut self) {
        let mut per_caller = self.jobs.lock_per_caller();
        if let Some(held) = per_caller.get_mut(&self.user_id) {
            *held -= 1;
            if *held == 0 {
                per_caller.remove(&self.user_id);
            }
        }
    }
}

impl HeavyJobs {
    pub(crate) fn new() -> HeavyJobs {
        HeavyJobs {
            slots: HeavyJob::ALL
                .iter()
                .map(|job| Arc::new(Semaphore::new(job.at_once())))
                .collect(),
            per_caller: Mutex::new(HashMap::new()),
        }
    }

    fn lock_per_caller(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        // A panic while the map was held cannot leave it inconsistent (one counter changes at a
        // time), so a poisoned lock is used as it is.
        self.per_caller
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for `job`, or 503 at once when every slot of the kind is taken or the caller runs
    /// as many heavy jobs as it may.
    pub(crate) fn admit(
        self: &Arc<Self>,
        job: HeavyJob,
        user_id: &str,
    ) -> Result<JobPermit, ApiError> {
        let user_id = user_id.to_owned();
        let caller_slot = {
            let mut per_caller = self.lock_per_caller();
            let held = per_caller.entry(user_id.clone()).or_insert(0);
            if *held >= HEAVY_JOBS_PER_CALLER_MAX {
                return Err(busy_caller());
            }
            *held += 1;
            CallerSlot {
                jobs: self.clone(),
                user_id,
            }
        };
        // On refusal `caller_slot` is dropped here and gives the caller's count back.
        let slot = self.slots[job.index()]
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy(job))?;
        Ok(JobPermit {
            _slot: slot,
            _caller: caller_slot,
        })
    }

    #[cfg(test)]
    pub(crate) fn held_by(&self, user_id: &str) -> usize {
        self.lock_per_caller().get(user_id).copied().unwrap_or(0)
    }
}

/// A slot when a page of `rows` rows is large, none when it is not; `page_max` is the service's
/// largest page, beyond which the service refuses the request without reading.
pub(crate) fn admit_page(
    jobs: &Arc<HeavyJobs>,
    caller: &Caller,
    rows: usize,
    page_max: usize,
) -> Result<Option<JobPermit>, ApiError> {
    if rows <= LARGE_PAGE_ROWS || rows > page_max {
        return Ok(None);
    }
    jobs.admit(HeavyJob::LargePage, caller.user_id()).map(Some)
}

/// Refuses a trade role's page of more than [`TRADE_PAGE_ROWS_MAX`] declarations, naming `limit`.
pub(crate) fn check_trade_page(caller: &Caller, rows: usize) -> Result<(), ApiError> {
    if caller.role.is_trade() && rows > TRADE_PAGE_ROWS_MAX {
        let n = TRADE_PAGE_ROWS_MAX;
        return Err(ApiError::invalid(&[domain::FieldError::out_of_range(
            "limit",
            &format!("from 1 to {n} for a declarant or broker"),
            &format!("申报人或报关企业在 1 到 {n} 之间"),
        )]));
    }
    Ok(())
}

fn busy(job: HeavyJob) -> ApiError {
    let (en, zh) = job.describe();
    let n = job.at_once();
    let wait = BUSY_RETRY_AFTER_SECS;
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Busy",
        format!(
            "the server runs at most {n} {en} at once and all are running; retry after {wait} s"
        ),
        format!("服务器同时最多进行 {n} 项{zh}，目前已满；请在 {wait} 秒后重试"),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
    .refused_as(Refusal::HEAVY_JOB_BUSY)
}

fn busy_caller() -> ApiError {
    let n = HEAVY_JOBS_PER_CALLER_MAX;
    let wait = BUSY_RETRY_AFTER_SECS;
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Busy",
        format!(
            "one user runs at most {n} heavy job(s) (training, imports, reports, large pages) at \
             once and yours is still running; retry after {wait} s"
        ),
        format!(
            "每位用户同时最多进行 {n} 项大型作业（训练、导入、报告、大页查询），\
             您的作业尚未结束；请在 {wait} 秒后重试"
        ),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
    .refused_as(Refusal::HEAVY_JOB_BUSY)
}

/// Requests in progress per user, each counted from the guard to the response.
pub(crate) struct InProgress {
    per_user: Mutex<HashMap<String, usize>>,
    trade_max: usize,
    customs_max: usize,
}

/// One request's place, given back when it ends (or its future is dropped).
struct InProgressSlot {
    in_progress: Arc<InProgress>,
    user_id: String,
}

impl Drop for InProgressSlot {
    fn drop(&mut self) {
        let mut per_user = self.in_progress.lock();
        if let Some(n) = per_user.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                per_user.remove(&self.user_id);
            }
        }
    }
}

impl InProgress {
    /// Panics if a maximum is 0 (a user who may send nothing is a configuration mistake).
    pub(crate) fn new(config: &crate::ApiConfig) -> InProgress {
        assert!(
            config.trade_requests_in_progress_max >= 1
                && config.customs_requests_in_progress_max >= 1,
            "ApiConfig's requests in progress are at least 1"
        );
        InProgress {
            per_user: Mutex::new(HashMap::new()),
            trade_max: config.trade_requests_in_progress_max,
            customs_max: config.customs_requests_in_progress_max,
        }
    }

    /// How many requests a caller's role may have in progress at once.
    fn max_for(&self, caller: &Caller) -> usize {
        if caller.role.is_trade() {
            self.trade_max
        } else {
            self.customs_max
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        // One counter changes at a time: a poisoned map is still consistent.
        self.per_user
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(self: &Arc<Self>, user_id: &str, max: usize) -> Option<InProgressSlot> {
        let mut per_user = self.lock();
        let n = per_user.entry(user_id.to_owned()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(InProgressSlot {
            in_progress: self.clone(),
            user_id: user_id.to_owned(),
        })
    }
}

/// Counts the caller's requests in progress (inside the guard, which put the caller in the
/// extensions): over its role's number, 429 at once, before the body is read. Bounds what one
/// user holds at once (bodies, store reads, connections' worth of work) whatever the rate.
pub(crate) async fn limit_in_progress(
    State(in_progress): State<Arc<InProgress>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(caller) = request.extensions().get::<Caller>() else {
        return ApiError::unauthenticated().into_response();
    };
    let max = in_progress.max_for(caller);
    let Some(slot) = in_progress.admit(caller.user_id(), max) else {
        let wait = 1;
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests-in-progress",
            "Too many requests in progress",
            format!(
                "this user may have at most {max} requests in progress at once; wait for one \
                 to be answered, or retry after {wait} s"
            ),
            format!(
                "该用户同时进行的请求不得超过 {max} 个；请等待其中一个完成，或在 {wait} 秒后重试"
            ),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
        .refused_as(Refusal::IN_PROGRESS)
        .into_response();
    };
    let response = next.run(request).await;
    drop(slot);
    response
}

/// What a gated route requires before its body is read: a role allowed the action, and a slot
/// of a kind of heavy job if it is one.
#[derive(Clone)]
pub(crate) struct Gate {
    pub action: Action,
    pub job: Option<HeavyJob>,
    pub jobs: Arc<HeavyJobs>,
}

/// The gate as a route layer (inside the guard, outside the handler and its extractors). The
/// slot, if any, is handed to the handler in the request's extensions: a handler whose work can
/// outlive its future (training, on a blocking thread) takes it along; any other holds it until
/// the response is made.
pub(crate) async fn gate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    // The guard put the caller there; without one the route was mounted without the guard.
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return ApiError::unauthenticated().into_response();
    };
    if let Err(refusal) = caller.require(gate.action) {
        return ApiError::from(refusal).into_response();
    }
    let Some(job) = gate.job else {
        return next.run(request).await;
    };
    let held = match gate.jobs.admit(job, caller.user_id()) {
        Ok(permit) => HeldJob::new(permit),
        Err(busy) => return busy.into_response(),
    };
    request.extensions_mut().insert(held.clone());
    // Held here, not only in the extensions: an extractor drops the request's extensions once
    // it has them, before it reads the body.
    let response = next.run(request).await;
    drop(held);
    response
}

/// The slot a gated request holds, in its extensions (which must be `Clone`): the handler may
/// take it out to move it elsewhere; otherwise it is dropped with the request.
#[derive(Clone)]
pub(crate) struct HeldJob(Arc<Mutex<Option<JobPermit>>>);

impl HeldJob {
    fn new(permit: JobPermit) -> HeldJob {
        HeldJob(Arc::new(Mutex::new(Some(permit))))
    }

    pub(crate) fn take(&self) -> Option<JobPermit> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_admits_its_named_number_at_once_and_refuses_one_more() {
        for job in HeavyJob::ALL {
            let jobs = Arc::new(HeavyJobs::new());
            let held: Vec<JobPermit> = (0..job.at_once())
                .map(|n| {
                    jobs.admit(job, &format!("analyst{n}"))
                        .unwrap_or_else(|e| panic!("{job:?} slot {n}: {e:?}"))
                })
                .collect();

            let refused = jobs
                .admit(job, "one_more")
                .err()
                .unwrap_or_else(|| panic!("{job:?}: one more than {}", job.at_once()));

            assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                jobs.held_by("one_more"),
                0,
                "a refused job gives the caller's count back"
            );
            drop(held);
            assert!(jobs.admit(job, "one_more").is_ok());
        }
    }

    #[test]
    fn the_documented_limits_are_these() {
        // The common 429 and 503 answers of the OpenAPI document name them (`openapi.rs`; a
        // description takes no constant).
        assert_eq!(TRADE_REQUESTS_IN_PROGRESS_MAX, 8);
        assert_eq!(CUSTOMS_REQUESTS_IN_PROGRESS_MAX, 16);
        assert_eq!(LARGE_PAGE_ROWS, 100);
        assert_eq!(HEAVY_JOBS_PER_CALLER_MAX, 1);
    }

    #[test]
    fn a_user_has_at_most_the_requests_in_progress_of_its_role() {
        let in_progress = Arc::new(InProgress::new(&crate::ApiConfig::production()));
        let held: Vec<InProgressSlot> = (0..TRADE_REQUESTS_IN_PROGRESS_MAX)
            .map(|_| {
                in_progress
                    .admit("broker", TRADE_REQUESTS_IN_PROGRESS_MAX)
                    .expect("within")
            })
            .collect();

        assert!(
            in_progress
                .admit("broker", TRADE_REQUESTS_IN_PROGRESS_MAX)
                .is_none()
        );
        assert!(
            in_progress
                .admit("declarant", TRADE_REQUESTS_IN_PROGRESS_MAX)
                .is_some()
        );
        drop(held);
        assert!(
            in_progress.lock().get("broker").is_none(),
            "every place given back"
        );
        const { assert!(TRADE_REQUESTS_IN_PROGRESS_MAX < CUSTOMS_REQUESTS_IN_PROGRESS_MAX) };
    }

    #[test]
    fn one_caller_runs_at_most_its_number_of_heavy_jobs_and_others_still_can() {
        let jobs = Arc::new(HeavyJobs::new());
        let analyst = "analyst";
        let held: Vec<JobPermit> = (0..HEAVY_JOBS_PER_CALLER_MAX)
            .map(|_| jobs.admit(HeavyJob::LargePage, analyst).expect("within"))
            .collect();
        const { assert!(HEAVY_JOBS_PER_CALLER_MAX < LARGE_PAGES_AT_ONCE) };

        let refused = jobs.admit(HeavyJob::LargePage, analyst).err();
        let other = jobs.admit(HeavyJob::LargePage, "other");

        assert!(refused.is_some(), "one over the caller's number");
        assert!(other.is_ok(), "another user has slots left");
        assert_eq!(jobs.held_by("analyst"), HEAVY_JOBS_PER_CALLER_MAX);
        drop(held);
        assert_eq!(jobs.held_by("analyst"), 0);
        assert!(jobs.admit(HeavyJob::Training, analyst).is_ok());
    }
}
