//! Continuity mode (issue 13): an instance on PostgreSQL (`serve --database`) whose central store
//! becomes unreachable keeps taking lodgings into a local durable queue ([`queue`], a SQLite
//! file of its data folder), answers each with a provisional reference and says so; when the
//! store answers again it lodges them, in receipt order, through the normal lodging service
//! with the original caller and idempotency key ([`Continuity::reconcile`]).
//!
//! The decisions, as a customs administration needs them (docs/operations.md, "Continuity"):
//! - Only the trade's lodging (`POST /v1/declarations` with an `Idempotency-Key`) is taken in
//!   continuity; it is checked at the door as far as can be done without the store (the
//!   parser, the cross-field rules, who may declare for whom), so a broken declaration is still
//!   refused with its field paths. Everything else answers 503 with `Retry-After`
//!   ([`CONTINUITY_RETRY_AFTER_SECS`]); the liveness probe and the metrics are served as usual.
//! - Acknowledged means durable: the queue's row is committed and synced before the 202.
//! - Authentication without the store: a token is accepted in continuity only if this instance
//!   verified it against the store within [`CONTINUITY_TOKEN_TRUST`] (a bounded memory of
//!   [`CONTINUITY_TOKENS_MAX`] tokens, by their hash) and it has not expired; any other token is
//!   refused (503: it cannot be checked, fail closed). The exposure: a token revoked during the
//!   outage, or less than the trust window before it, still queues lodgings; the reconciler
//!   looks its principal up again, and a token revoked (or a user disabled) by then has its
//!   lodgings refused, visibly, not lodged.
//! - The queue is deduplicated on (user, idempotency key); the store's idempotency index then
//!   makes a lodging queued on two instances, or queued and resent directly, one declaration.
//! - The acceptance event records the receipt (provisional reference, received-at time,
//!   instance): the audit chain holds both times. The trade sees it on its `accepted` receipt.
//! - A refusal at reconciliation (a check that needs the store) is kept with its reasons and
//!   shown on the provisional reference; an error a retry may cure is retried
//!   [`RECONCILE_ATTEMPTS_MAX`] times, then refused with the reason.

pub mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clearance::continuity::ContinuityReceipt;
use clearance::{Caller, Clearance, ClearanceError};
use serde_json::{Value, json};
use store::Store;

use queue::{Enqueued, Entry, NewLodging, Queue, State as EntryState};

/// Lodgings an instance holds queued at most; beyond it a lodging is refused with 503 and
/// `Retry-After` (the client keeps it and sends it again), so that an outage cannot fill the
/// instance's disk. At ~10 KB a declaration, 100,000 is about 1 GB: hours of a busy office.
pub const CONTINUITY_QUEUE_MAX: usize = 100_000;

/// How long a token verified against the store is trusted in continuity: a working day's
/// outage is covered by a client that lodged (or read) once in the hour before it.
pub const CONTINUITY_TOKEN_TRUST: Duration = Duration::from_secs(60 * 60);

/// Tokens remembered for continuity at most (the oldest is forgotten first).
pub const CONTINUITY_TOKENS_MAX: usize = 10_000;

/// How long a settled lodging (reconciled or refused) stays in the queue's file, answering its
/// provisional reference: a month, for the trade to learn its number or why it was refused.
pub const CONTINUITY_SETTLED_KEPT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long the code lists an instance kept in its folder may be used by an instance that
/// starts while the store is unreachable: a week covers a long weekend's outage; older ones are
/// not used (the door then refuses every lodging, 503: nothing to check against).
pub const CONTINUITY_CODE_LISTS_KEPT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How often an instance that reaches the store checks that the code lists it keeps for
/// continuity are those in force (and saves them if not).
const CODE_LISTS_KEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The name the code lists are kept under in the queue's file.
const KEPT_CODE_LISTS: &str = "code_lists";

/// A remembered token is verified again (through the service's own short cache) at most this
/// often: a lodging does not pay a hash and a look-up for continuity each time.
const TOKEN_MEMORY_REFRESH: Duration = Duration::from_secs(60);

/// How often the store is probed, to notice an outage that no request met and to come back.
pub const CONTINUITY_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long one probe waits for the store before counting it unreachable.
pub const CONTINUITY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `Retry-After` of requests refused in continuity (and of a full queue).
pub const CONTINUITY_RETRY_AFTER_SECS: u64 = 10;

/// Attempts at lodging a queued declaration that failed for an internal error before it is
/// refused with that error (a queued lodging must not hold the queue up forever).
pub const RECONCILE_ATTEMPTS_MAX: u32 = 5;

const DECLARATIONS_PATH: &str = "/v1/declarations";
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// What the instance does with continuity: its queue, whether it is in continuity now, the
/// tokens it may trust, and its counters.
pub struct Continuity<S> {
    clearance: Arc<Clearance<S>>,
    queue: Arc<Queue>,
    active: AtomicBool,
    tokens: std::sync::Mutex<HashMap<String, (Caller, Instant)>>,
    /// The API's per-token rate, kept in continuity too (the API's own limiter is behind the
    /// door): a trusted token cannot fill the queue at any speed.
    rate: governor::DefaultKeyedRateLimiter<String>,
    queue_max: usize,
    body_limit: usize,
    /// Wakes the probe at once (a request met a server error).
    probe_now: tokio::sync::Notify,
    /// The code lists kept in the folder (ids and activations), and when they were last
    /// checked against the store.
    kept_code_lists: std::sync::Mutex<(Option<Vec<(String, u64)>>, Option<Instant>)>,
    /// What must pass before an instance that started without the store leaves continuity
    /// (the checks a start makes against the store); taken once.
    before_leaving: tokio::sync::Mutex<Option<BeforeLeaving>>,
    queued: AtomicU64,
    received: AtomicU64,
    reconciled: AtomicU64,
    refused: AtomicU64,
}

/// The checks a start makes against the store, run by an instance that started without it
/// once the store answers, before it leaves continuity.
pub type BeforeLeaving = Box<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

/// Whether `folder` holds what an instance needs to start in continuity: code lists it read
/// from the store within [`CONTINUITY_CODE_LISTS_KEPT`]. An instance that never reached its
/// database (a first start, a wrong address) refuses to start instead.
pub fn can_start_in_continuity(folder: &std::path::Path) -> bool {
    if !folder.join(queue::QUEUE_FILE).exists() {
        return false;
    }
    let Ok(queue) = Queue::open(folder) else {
        return false;
    };
    matches!(queue.kept(KEPT_CODE_LISTS), Ok(Some((_, at))) if code_lists_usable(at, wall_ms()))
}

/// Whether code lists kept at `saved_at_ms` may be used at `now_ms`: younger than
/// [`CONTINUITY_CODE_LISTS_KEPT`].
fn code_lists_usable(saved_at_ms: i64, now_ms: i64) -> bool {
    now_ms - saved_at_ms < CONTINUITY_CODE_LISTS_KEPT.as_millis() as i64
}

/// The wall clock in ms: trust and age are measured in real time, whatever the service's clock
/// (pinned in tests and demonstrations).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl<S: Store> Continuity<S> {
    /// Opens the queue in `folder`. An instance restarted with lodgings still queued lodges
    /// them once its probe finds the store (at once when it started: it reached the store).
    /// The tokens and code lists kept there are taken back within their age limits
    /// ([`CONTINUITY_TOKEN_TRUST`], [`CONTINUITY_CODE_LISTS_KEPT`]). With `offline` (the store
    /// was unreachable at the start) the instance starts in continuity, and `before_leaving`
    /// runs once the store answers, before the queue is lodged (again at the next probe if the
    /// store went away during it).
    pub fn open(
        clearance: Arc<Clearance<S>>,
        folder: &std::path::Path,
        queue_max: usize,
        (per_second, burst): (u32, u32),
        offline: Option<BeforeLeaving>,
    ) -> anyhow::Result<Arc<Continuity<S>>> {
        let queue = Queue::open(folder)?;
        let queued = queue.queued()?;
        let now = wall_ms();
        let mut tokens = HashMap::new();
        let kept = queue.kept_tokens(
            now - CONTINUITY_TOKEN_TRUST.as_millis() as i64,
            CONTINUITY_TOKENS_MAX,
        )?;
        for (hash, principal, at_ms) in kept {
            let age = Duration::from_millis(u64::try_from(now - at_ms).unwrap_or(0));
            let (Ok(principal), Some(at)) = (
                serde_json::from_str::<store::Principal>(&principal),
                Instant::now().checked_sub(age),
            ) else {
                continue;
            };
            if let Some(caller) = Caller::from_principal(principal) {
                tokens.insert(hash, (caller, at));
            }
        }
        let mut kept_code_lists = None;
        if let Some((text, at)) = queue.kept(KEPT_CODE_LISTS)?
            && code_lists_usable(at, now)
        {
            match serde_json::from_str::<Vec<clearance::continuity::SavedCodeList>>(&text)
                .map_err(anyhow::Error::from)
                .and_then(|saved| {
                    clearance
                        .restore_code_lists_for_continuity(&saved)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    Ok(saved)
                }) {
                Ok(saved) => {
                    kept_code_lists = Some(
                        saved
                            .iter()
                            .map(|l| (l.id.clone(), l.activated_seq))
                            .collect(),
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "the code lists kept for continuity are not used")
                }
            }
        }
        if offline.is_some() {
            tracing::warn!(
                instance = queue.instance(),
                tokens = tokens.len(),
                "started while the central store is unreachable: continuity (lodgings are queued locally)"
            );
        }
        let quota = governor::Quota::per_second(
            std::num::NonZeroU32::new(per_second).unwrap_or(std::num::NonZeroU32::MIN),
        )
        .allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN));
        Ok(Arc::new(Continuity {
            clearance,
            queue: Arc::new(queue),
            active: AtomicBool::new(offline.is_some()),
            tokens: std::sync::Mutex::new(tokens),
            rate: governor::RateLimiter::keyed(quota),
            queue_max,
            body_limit: http_api::BODY_LIMIT_BYTES_DEFAULT,
            probe_now: tokio::sync::Notify::new(),
            kept_code_lists: std::sync::Mutex::new((kept_code_lists, None)),
            before_leaving: tokio::sync::Mutex::new(offline),
            queued: AtomicU64::new(queued),
            received: AtomicU64::new(0),
            reconciled: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }))
    }

    pub fn instance(&self) -> &str {
        self.queue.instance()
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    fn enter(&self, why: &str) {
        if !self.active.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                instance = self.instance(),
                why,
                "the central store is unreachable: continuity (lodgings are queued locally)"
            );
        }
    }

    /// Whether the store fails to answer a read within [`CONTINUITY_PROBE_TIMEOUT`] because it
    /// is unreachable. Any other error (a fault of ours) is not an outage: no continuity.
    async fn store_unreachable(&self) -> bool {
        match tokio::time::timeout(CONTINUITY_PROBE_TIMEOUT, self.clearance.check_store()).await {
            Err(_elapsed) => true,
            Ok(Err(ClearanceError::Unavailable(_))) => true,
            Ok(_) => false,
        }
    }

    /// The probe and the reconciler, until the process ends: every [`CONTINUITY_PROBE_INTERVAL`]
    /// (or at once when a request met a server error) the store is read; unreachable, the
    /// instance enters continuity; reachable, it leaves continuity (new lodgings go to the store
    /// again) and lodges what is queued, in receipt order.
    ///
    /// Leaving before the queue is empty is deliberate: under steady lodging a queue drained
    /// one lodging at a time while new ones keep joining it might never empty, and the border
    /// would stay in continuity after the store is back. A lodging received while the queue
    /// drains may thus get its number before a queued one; the record keeps each queued
    /// lodging's receipt time, which says who came first.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let continuity = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(CONTINUITY_PROBE_INTERVAL) => {}
                    () = continuity.probe_now.notified() => {}
                }
                continuity.probe_once().await;
            }
        })
    }

    async fn probe_once(&self) {
        if self.store_unreachable().await {
            self.enter("the probe found the store unreachable");
            return;
        }
        // An instance that started without the store makes a start's checks first (the
        // migrations ran with the store's first connection).
        {
            let mut before_leaving = self.before_leaving.lock().await;
            if let Some(checks) = before_leaving.as_ref() {
                if let Err(error) = checks().await {
                    if self.store_unreachable().await {
                        // The store went away again during the checks: made again next time.
                        tracing::warn!(%error, "the start's checks met an outage; retried");
                        return;
                    }
                    tracing::error!(%error, "the start's checks against the store failed: stopping");
                    eprintln!("{error:#}");
                    std::process::exit(1);
                }
                *before_leaving = None;
            }
        }
        // Fresh code lists for the door, should the store go away next.
        if let Err(error) = self.clearance.read_code_lists_for_continuity().await {
            tracing::debug!(%error, "reading the code lists for continuity");
        }
        self.keep_code_lists().await;
        if self.active.swap(false, Ordering::SeqCst) {
            tracing::info!(
                instance = self.instance(),
                queued = self.queued.load(Ordering::SeqCst),
                "the central store answers again: continuity ends, the queue is lodged"
            );
        }
        if self.queued.load(Ordering::SeqCst) > 0 {
            self.reconcile().await;
            // After an outage's queue, not at every probe: the file stays bounded by the
            // lodgings of the last month's outages.
            let before_ms = self.clearance.now().timestamp_millis()
                - CONTINUITY_SETTLED_KEPT.as_millis() as i64;
            match self
                .blocking(move |queue| queue.prune_settled(before_ms))
                .await
            {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "settled continuity lodgings forgotten"),
                Err(error) => tracing::warn!(%error, "pruning the continuity queue"),
            }
        }
    }

    /// Saves the code lists in force in the folder when they changed, checked at most every
    /// [`CODE_LISTS_KEEP_INTERVAL`]; their age is renewed at each check.
    async fn keep_code_lists(&self) {
        let known = {
            let kept = self
                .kept_code_lists
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if kept
                .1
                .is_some_and(|at| at.elapsed() < CODE_LISTS_KEEP_INTERVAL)
            {
                return;
            }
            kept.0.clone()
        };
        let saved = match self
            .clearance
            .code_lists_for_continuity(known.as_deref())
            .await
        {
            Ok(saved) => saved,
            Err(error) => {
                tracing::debug!(%error, "reading the code lists to keep for continuity");
                return;
            }
        };
        let now = wall_ms();
        let ids = saved.as_ref().map(|saved| {
            saved
                .iter()
                .map(|l| (l.id.clone(), l.activated_seq))
                .collect()
        });
        let written = match saved {
            Some(saved) => {
                let text = serde_json::to_string(&saved).unwrap_or_default();
                self.blocking(move |queue| queue.keep(KEPT_CODE_LISTS, &text, now))
                    .await
            }
            None => {
                self.blocking(move |queue| queue.touch(KEPT_CODE_LISTS, now))
                    .await
            }
        };
        if let Err(error) = written {
            tracing::warn!(%error, "keeping the code lists for continuity");
            return;
        }
        let trusted_since = now - CONTINUITY_TOKEN_TRUST.as_millis() as i64;
        if let Err(error) = self
            .blocking(move |queue| queue.prune_tokens(trusted_since, CONTINUITY_TOKENS_MAX))
            .await
        {
            tracing::warn!(%error, "forgetting the tokens kept past their trust");
        }
        let mut kept = self
            .kept_code_lists
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if ids.is_some() {
            kept.0 = ids;
        }
        kept.1 = Some(Instant::now());
    }

    /// Lodges what is queued, oldest first, until the queue is empty or the store fails again.
    pub async fn reconcile(&self) {
        loop {
            let next = match self.blocking(|queue| queue.next_queued()).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "reading the continuity queue");
                    return;
                }
            };
            let Some(entry) = next else {
                return;
            };
            if !self.reconcile_one(entry).await {
                return;
            }
        }
    }

    /// Lodges one queued lodging; false when the store failed (stop, and come back later).
    async fn reconcile_one(&self, entry: Entry) -> bool {
        let now_ms = self.clearance.now().timestamp_millis();
        let caller = match self.clearance.caller_of_token_hash(&entry.token_hash).await {
            Ok(Some(caller)) => caller,
            Ok(None) => {
                let refusal = json!({
                    "code": "token-refused",
                    "message_en": "the token this declaration was sent with was revoked, or its user \
                                   disabled, before the central store took it: it was not lodged",
                    "message_zh": "发送此报关单所用的令牌在中心系统受理前已被吊销或其用户已被停用，未予申报",
                    "errors": [],
                });
                return self.settle_refused(&entry, &refusal, now_ms).await;
            }
            Err(error) => return self.retry_later(&entry, error).await,
        };
        let receipt = ContinuityReceipt {
            provisional_reference: entry.reference.clone(),
            received_at: rfc3339(entry.received_at_ms),
            instance: self.instance().to_owned(),
        };
        let lodged = self
            .clearance
            .lodge_from_continuity(&caller, &entry.idempotency_key, &entry.body, &receipt)
            .await;
        match lodged {
            Ok(view) => {
                // The reference → declaration mapping in the central store first, for any
                // instance to answer the reference (again on the next pass if this fails).
                if let Err(error) = self
                    .clearance
                    .record_continuity_reconciled(
                        &receipt,
                        &entry.scope,
                        &entry.idempotency_key,
                        (&view.id, &view.number),
                    )
                    .await
                {
                    return self.retry_later(&entry, error).await;
                }
                let (seq, id, number) = (entry.seq, view.id.clone(), view.number.clone());
                match self
                    .blocking(move |queue| queue.settle_reconciled(seq, &id, &number, now_ms))
                    .await
                {
                    Ok(true) => {
                        self.queued.fetch_sub(1, Ordering::SeqCst);
                        self.reconciled.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(error) => {
                        // The store has it; the next pass finds it again by its key (no
                        // duplicate).
                        tracing::error!(%error, "recording a reconciled lodging in the queue");
                        return false;
                    }
                }
                tracing::info!(
                    reference = %entry.reference,
                    number = %view.number,
                    created = view.created,
                    "a lodging received in continuity was lodged"
                );
                true
            }
            Err(
                error @ (ClearanceError::Unavailable(_)
                | ClearanceError::Conflict
                | ClearanceError::Internal(_)),
            ) => self.retry_later(&entry, error).await,
            Err(refused) => {
                let refusal = refusal_json(&refused);
                self.settle_refused(&entry, &refusal, now_ms).await
            }
        }
    }

    /// A failure a retry may cure: the store gone again (stop this pass), a race (retry), or
    /// an internal error (counted; refused after [`RECONCILE_ATTEMPTS_MAX`]).
    async fn retry_later(&self, entry: &Entry, error: ClearanceError) -> bool {
        if matches!(error, ClearanceError::Unavailable(_)) {
            self.enter("the store failed while lodging the queue");
            return false;
        }
        let seq = entry.seq;
        let attempts = self
            .blocking(move |queue| queue.count_attempt(seq))
            .await
            .unwrap_or(u32::MAX);
        tracing::warn!(reference = %entry.reference, attempts, %error, "lodging a queued declaration failed; retrying");
        if attempts >= RECONCILE_ATTEMPTS_MAX {
            let refusal = json!({
                "code": "internal-error",
                // The error itself is logged above, not told: it may name the system's insides.
                "message_en": format!("the central store could not lodge it after {attempts} attempts (an internal error, logged)"),
                "message_zh": format!("中心系统经 {attempts} 次尝试仍无法受理"),
                "errors": [],
            });
            let now_ms = self.clearance.now().timestamp_millis();
            return self.settle_refused(entry, &refusal, now_ms).await;
        }
        false
    }

    /// Records the refusal in the audit chain, then in the queue (in that order: a failure in
    /// between records it again, idempotently, on the next pass).
    async fn settle_refused(&self, entry: &Entry, refusal: &Value, now_ms: i64) -> bool {
        let receipt = ContinuityReceipt {
            provisional_reference: entry.reference.clone(),
            received_at: rfc3339(entry.received_at_ms),
            instance: self.instance().to_owned(),
        };
        if let Err(error) = self
            .clearance
            .record_continuity_refusal(&receipt, &entry.scope, &entry.idempotency_key, refusal)
            .await
        {
            if matches!(error, ClearanceError::Unavailable(_)) {
                self.enter("the store failed while recording a refusal");
            } else {
                tracing::error!(%error, reference = %entry.reference, "recording a continuity refusal");
            }
            return false;
        }
        let (seq, text) = (entry.seq, refusal.to_string());
        match self
            .blocking(move |queue| queue.settle_refused(seq, &text, now_ms))
            .await
        {
            Ok(settled) => {
                if settled {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(reference = %entry.reference, refusal = %refusal, "a lodging received in continuity was refused");
                true
            }
            Err(error) => {
                tracing::error!(%error, "recording a refusal in the continuity queue");
                false
            }
        }
    }

    /// Runs a queue operation off the async threads (SQLite syncs to disk).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Queue) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || work(&queue))
            .await
            .map_err(|error| anyhow::anyhow!("the continuity queue's task failed: {error}"))?
    }

    /// Remembers a token the store just verified, if its role may lodge (at most once per
    /// [`TOKEN_MEMORY_REFRESH`]: its trust then runs from that verification).
    async fn remember(&self, token: &str) {
        let hash = clearance::token_hash(token);
        let fresh = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .is_some_and(|(_, at)| at.elapsed() < TOKEN_MEMORY_REFRESH);
        if fresh {
            return;
        }
        let Ok(caller) = self.clearance.authenticate(token).await else {
            return;
        };
        if !clearance::Action::Lodge.allowed(caller.role) {
            return;
        }
        // Kept in the folder too, for a start without the store.
        if let Ok(principal) = serde_json::to_string(&caller.principal) {
            let (kept_hash, at) = (hash.clone(), wall_ms());
            if let Err(error) = self
                .blocking(move |queue| queue.keep_token(&kept_hash, &principal, at))
                .await
            {
                tracing::warn!(%error, "keeping a verified token for continuity");
            }
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= CONTINUITY_TOKENS_MAX {
            tokens.retain(|_, (_, at)| at.elapsed() < CONTINUITY_TOKEN_TRUST);
            if tokens.len() >= CONTINUITY_TOKENS_MAX
                && let Some(oldest) = tokens
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(hash, _)| hash.clone())
            {
                tokens.remove(&oldest);
            }
        }
        tokens.insert(hash, (caller, Instant::now()));
    }

    async fn forget(&self, token: &str) {
        let hash = clearance::token_hash(token);
        let known = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hash)
            .is_some();
        if known && let Err(error) = self.blocking(move |queue| queue.forget_token(&hash)).await {
            tracing::warn!(%error, "forgetting a token kept for continuity");
        }
    }

    /// The caller of a token verified within the trust window and not expired, in continuity.
    fn trusted(&self, token: &str) -> Option<(Caller, String)> {
        let hash = clearance::token_hash(token);
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let (caller, at) = tokens.get(&hash)?;
        let now_ms = self.clearance.now().timestamp_millis();
        let unexpired = caller
            .principal
            .token
            .as_ref()
            .is_some_and(|t| t.expires_at_ms > now_ms);
        (at.elapsed() < CONTINUITY_TOKEN_TRUST && unexpired).then(|| (caller.clone(), hash))
    }

    /// Charges a request in continuity to its token's rate (the API's limiter is behind the
    /// door, which answers it): the 429 when beyond it.
    fn rate_limited(&self, token_hash: &str) -> Option<Response> {
        if self.rate.len() >= CONTINUITY_TOKENS_MAX {
            self.rate.retain_recent();
        }
        self.rate.check_key(&token_hash.to_owned()).err().map(|_| {
            problem(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                "too many requests with this token; slow down",
                "此令牌的请求过于频繁，请放慢速度",
                vec![],
                Some(1),
            )
        })
    }

    /// Queues a lodging in continuity and answers 202, or refuses it.
    async fn lodge_in_continuity(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        let Some(token) = bearer(headers) else {
            return problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send a bearer token in the Authorization header",
                "请在 Authorization 请求头中提供持有者令牌",
                vec![],
                None,
            );
        };
        let Some((caller, token_hash)) = self.trusted(token) else {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "continuity-token-unverified",
                "The central store is unreachable",
                "the central customs system is unreachable and this token was not verified by this \
                 server recently, so it cannot be checked: send the declaration again later",
                "海关中心系统暂时无法连接，且本服务器近期未验证过此令牌，无法核验：请稍后重新发送报关单",
                vec![],
                Some(CONTINUITY_RETRY_AFTER_SECS),
            );
        };
        if let Some(limited) = self.rate_limited(&token_hash) {
            return limited;
        }
        let Some(key) = idempotency_key(headers) else {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "continuity-needs-idempotency-key",
                "The central store is unreachable",
                "the central customs system is unreachable: a declaration is taken for later lodging \
                 only with an Idempotency-Key header (so that sending it again is safe); send it with \
                 one, or send it again later",
                "海关中心系统暂时无法连接：仅接收带有 Idempotency-Key 请求头的报关单（以保证重发安全），\
                 请加上该请求头或稍后重新发送",
                vec![],
                Some(CONTINUITY_RETRY_AFTER_SECS),
            );
        };
        // The body is read only now, after the token and the key (limits before work).
        let body = match axum::body::to_bytes(body, self.body_limit).await {
            Ok(body) => body,
            Err(_) => return too_large(self.body_limit),
        };
        let digest = match self.clearance.check_at_the_door(&caller, &key, &body) {
            Ok(digest) => digest,
            Err(error) => return refusal_response(&error),
        };
        let lodging = NewLodging {
            scope: caller.user_id().to_owned(),
            idempotency_key: key,
            token_hash,
            request_digest: digest,
            body: body.to_vec(),
            received_at_ms: self.clearance.now().timestamp_millis(),
        };
        let queue_max = self.queue_max;
        let enqueued = self
            .blocking(move |queue| queue.enqueue(&lodging, queue_max))
            .await;
        match enqueued {
            Ok(Enqueued::New(entry)) => {
                self.queued.fetch_add(1, Ordering::SeqCst);
                self.received.fetch_add(1, Ordering::Relaxed);
                receipt_response(StatusCode::ACCEPTED, &entry, true, self.instance())
            }
            Ok(Enqueued::Resent(entry)) => {
                receipt_response(StatusCode::ACCEPTED, &entry, false, self.instance())
            }
            Ok(Enqueued::KeyReused) => refusal_response(&ClearanceError::IdempotencyKeyReused),
            Ok(Enqueued::Full) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "continuity-queue-full",
                "The continuity queue is full",
                &format!(
                    "the central customs system is unreachable and this server holds {} declarations \
                     for later lodging, its most: send this one again later",
                    self.queue_max
                ),
                &format!(
                    "海关中心系统暂时无法连接，本服务器待申报的报关单已达上限 {} 份：请稍后重新发送",
                    self.queue_max
                ),
                vec![],
                Some(CONTINUITY_RETRY_AFTER_SECS),
            ),
            Err(error) => {
                tracing::error!(%error, "queuing a lodging in continuity");
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "continuity-queue-failed",
                    "The declaration could not be kept",
                    "the central customs system is unreachable and this server could not keep the \
                     declaration: it was not received; send it again later",
                    "海关中心系统暂时无法连接，本服务器也未能保存此报关单（未受理）：请稍后重新发送",
                    vec![],
                    Some(CONTINUITY_RETRY_AFTER_SECS),
                )
            }
        }
    }

    /// `GET /v1/declarations/CP-...`: where a lodging received in continuity stands, for the
    /// user who sent it and for customs roles (anyone else: not found, as for a reference that
    /// does not exist).
    async fn answer_reference(&self, headers: &HeaderMap, reference: &str) -> Response {
        let caller = match bearer(headers) {
            None => None,
            Some(token) if self.is_active() => {
                let Some((caller, token_hash)) = self.trusted(token) else {
                    return problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "continuity-token-unverified",
                        "The central store is unreachable",
                        "the central customs system is unreachable and this token was not \
                         verified by this server recently, so it cannot be checked: ask again \
                         later",
                        "海关中心系统暂时无法连接，且本服务器近期未验证过此令牌，无法核验：请稍后再查询",
                        vec![],
                        Some(CONTINUITY_RETRY_AFTER_SECS),
                    );
                };
                if let Some(limited) = self.rate_limited(&token_hash) {
                    return limited;
                }
                Some(caller)
            }
            // The API's guard admitted this token a moment ago (its rate charged, the
            // service's cache of principals filled): no second read of the store.
            Some(token) => match self.clearance.authenticate(token).await {
                Ok(caller) => Some(caller),
                Err(error) => return refusal_response(&error),
            },
        };
        let Some(caller) = caller else {
            return refusal_response(&ClearanceError::Unauthenticated);
        };
        let wanted = reference.to_owned();
        match self
            .blocking(move |queue| queue.by_reference(&wanted))
            .await
        {
            Ok(Some(entry)) if entry.scope == caller.user_id() || sees_everything(&caller) => {
                receipt_response(StatusCode::OK, &entry, false, self.instance())
            }
            Ok(Some(_)) => refusal_response(&ClearanceError::NotFound),
            // Another instance's reference (or one this instance forgot): the central store
            // knows it once it was settled.
            Ok(None) if !self.is_active() => {
                match self.clearance.continuity_outcome(&caller, reference).await {
                    Ok(Some(outcome)) => outcome_response(outcome),
                    Ok(None) => not_known_here(reference, self.instance(), false),
                    Err(error) => refusal_response(&error),
                }
            }
            Ok(None) => not_known_here(reference, self.instance(), true),
            Err(error) => {
                tracing::error!(%error, "reading the continuity queue");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the server failed; the incident is logged",
                    "服务器内部错误，已记录",
                    vec![],
                    None,
                )
            }
        }
    }

    fn readiness_in_continuity(&self) -> Response {
        let queued = self.queued.load(Ordering::SeqCst);
        let body = json!({
            "status": "continuity",
            "detail": "the central store is unreachable: lodgings are received into this \
                       instance's continuity queue, every other request answers 503",
            "detail_zh": "中心数据库无法连接：报关单由本实例应急队列接收，其他请求暂答 503",
            "checks": [
                {"name": "store", "ready": false, "detail": "unreachable"},
                {"name": "continuity_queue", "ready": (queued as usize) < self.queue_max,
                 "detail": format!("{queued} of {} queued", self.queue_max)},
            ],
            "instance": self.instance(),
        });
        let mut response = (StatusCode::OK, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("x-customs-mode", HeaderValue::from_static("continuity"));
        response
    }

    /// The continuity families, appended to `/metrics`.
    fn metrics_text(&self) -> String {
        let families = [
            (
                "customs_continuity_active",
                "gauge",
                "1 while this instance is in continuity (the central store unreachable)",
                u64::from(self.is_active()),
            ),
            (
                "customs_continuity_queued",
                "gauge",
                "lodgings received in continuity and not yet lodged in the central store",
                self.queued.load(Ordering::SeqCst),
            ),
            (
                "customs_continuity_received_total",
                "counter",
                "lodgings received into the continuity queue",
                self.received.load(Ordering::Relaxed),
            ),
            (
                "customs_continuity_reconciled_total",
                "counter",
                "queued lodgings lodged in the central store",
                self.reconciled.load(Ordering::Relaxed),
            ),
            (
                "customs_continuity_refused_total",
                "counter",
                "queued lodgings the central store refused",
                self.refused.load(Ordering::Relaxed),
            ),
        ];
        let mut text = String::new();
        for (name, kind, help, value) in families {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        text
    }
}

/// The door: in continuity, lodgings are queued and everything else but the liveness probe and
/// the metrics answers 503; otherwise requests go through, a server error wakes the probe, and
/// a success remembers its token for continuity.
pub async fn door<S: Store>(
    State(continuity): State<Arc<Continuity<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if path == "/v1/health/live" {
        return next.run(request).await;
    }
    if method == Method::GET
        && let Some(reference) = path
            .strip_prefix("/v1/declarations/")
            .filter(|reference| queue::is_provisional_reference(reference))
    {
        if continuity.is_active() {
            return continuity
                .answer_reference(request.headers(), reference)
                .await;
        }
        // Through the API first, so that its limits and its authentication come before any
        // work here; it knows no such declaration (404), the queue answers.
        let headers = request.headers().clone();
        let response = next.run(request).await;
        if response.status().is_server_error() {
            continuity.probe_now.notify_one();
        }
        if response.status() != StatusCode::NOT_FOUND {
            return response;
        }
        return continuity.answer_reference(&headers, reference).await;
    }
    if path == "/metrics" {
        let response = next.run(request).await;
        return with_continuity_metrics(response, &continuity).await;
    }
    let lodging = method == Method::POST && path == DECLARATIONS_PATH;
    if continuity.is_active() {
        if path == "/v1/health/ready" {
            return continuity.readiness_in_continuity();
        }
        if path == "/v1/health" {
            // As before for existing monitors: the store cannot be read, 503; said at once.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "continuity", "store": "unreachable"})),
            )
                .into_response();
        }
        if path.starts_with("/console") {
            return console_page_in_continuity();
        }
        if !lodging {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "continuity",
                "The central store is unreachable",
                "the central customs system is unreachable: this server only receives new \
                 declarations (POST /v1/declarations with an Idempotency-Key) for later lodging; \
                 try this request again later",
                "海关中心系统暂时无法连接：本服务器目前仅接收新报关单（带 Idempotency-Key 的 \
                 POST /v1/declarations）以待稍后申报；请稍后重试此请求",
                vec![],
                Some(CONTINUITY_RETRY_AFTER_SECS),
            );
        }
        return continuity.lodge_in_continuity(request).await;
    }
    let token = bearer(request.headers()).map(str::to_owned);
    let response = next.run(request).await;
    if response.status().is_server_error() {
        // Perhaps the store is gone: the probe reads it at once. A lodging that failed is not
        // queued here (its body was not kept: the API reads it after its own limits); the
        // client sends it again under its key, and continuity takes it.
        continuity.probe_now.notify_one();
    } else if let Some(token) = token {
        if response.status().is_success() {
            continuity.remember(&token).await;
        } else if response.status() == StatusCode::UNAUTHORIZED {
            // Refused by the store now (revoked, expired, disabled): no longer trusted.
            continuity.forget(&token).await;
        }
    }
    response
}

async fn with_continuity_metrics<S: Store>(
    response: Response,
    continuity: &Continuity<S>,
) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The metrics page is bounded by the families' series caps.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    text.push_str(&continuity.metrics_text());
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// What a person in the console is shown in continuity: a page, in Chinese and English, with no
/// script or outside resource (the console's content security policy stays whole).
fn console_page_in_continuity() -> Response {
    const PAGE: &str = "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
        <title>海关中心系统暂时无法连接 / The central customs system is unreachable</title></head>\
        <body><main><h1>海关中心系统暂时无法连接</h1>\
        <p>控制台暂停服务。通过接口提交的报关单（带 Idempotency-Key）仍由应急通道接收，系统恢复后正式申报。请稍后刷新本页。</p>\
        <h2 lang=\"en\">The central customs system is unreachable</h2>\
        <p lang=\"en\">The console is paused. Declarations sent through the API (with an \
        Idempotency-Key) are still received by continuity and lodged when the system is back. \
        Reload this page later.</p></main></body></html>\n";
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(CONTINUITY_RETRY_AFTER_SECS),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    response
}

/// Customs roles read every declaration, so every provisional reference too.
fn sees_everything(caller: &Caller) -> bool {
    caller.visibility().is_none() && clearance::Action::Read.allowed(caller.role)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The answer about a lodging received in continuity: where it stands, and that it went
/// through continuity, in English and Chinese.
fn receipt_response(status: StatusCode, entry: &Entry, created: bool, instance: &str) -> Response {
    let (message_en, message_zh) = match entry.state {
        EntryState::Queued => (
            "The central customs system is unreachable. Your declaration was received by this \
             server's continuity service and will be lodged, and given its customs number, when \
             the system is back. Keep this provisional reference: it is not a customs number.",
            "海关中心系统暂时无法连接。您的报关单已由本服务器应急通道接收，系统恢复后将正式申报并分配海关编号。\
             请保留此临时受理编号，它不是海关编号。",
        ),
        EntryState::Reconciled => (
            "Received in continuity and since lodged: see its customs number.",
            "已由应急通道接收并已正式申报：请查看其海关编号。",
        ),
        EntryState::Refused => (
            "Received in continuity, but the central customs system refused it: see the reasons. \
             It was not lodged.",
            "已由应急通道接收，但海关中心系统未予受理：请查看原因。该报关单未申报。",
        ),
    };
    let mut body = json!({
        "continuity": true,
        "created": created,
        "provisional_reference": entry.reference,
        "status": entry.state.as_str(),
        "received_at": rfc3339(entry.received_at_ms),
        "instance": instance,
        "message_en": message_en,
        "message_zh": message_zh,
    });
    if let (Some(id), Some(number)) = (&entry.declaration_id, &entry.number) {
        body["id"] = json!(id);
        body["number"] = json!(number);
    }
    if entry.state == EntryState::Queued && entry.attempts > 0 {
        // Attempts that failed for an error a retry may cure (see RECONCILE_ATTEMPTS_MAX).
        body["attempts"] = json!(entry.attempts);
    }
    if let Some(at) = entry.settled_at_ms {
        body["settled_at"] = json!(rfc3339(at));
    }
    if let Some(refusal) = &entry.refusal {
        body["refusal"] = serde_json::from_str(refusal).unwrap_or(Value::Null);
    }
    let location = format!("{DECLARATIONS_PATH}/{}", entry.reference);
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A provisional reference settled at another instance, as the central store recorded it.
fn outcome_response(mut outcome: Value) -> Response {
    let reconciled = outcome["status"] == "reconciled";
    let (message_en, message_zh) = if reconciled {
        (
            "Received in continuity and since lodged: see its customs number.",
            "已由应急通道接收并已正式申报：请查看其海关编号。",
        )
    } else {
        (
            "Received in continuity, but the central customs system refused it: see the reasons. \
             It was not lodged.",
            "已由应急通道接收，但海关中心系统未予受理：请查看原因。该报关单未申报。",
        )
    };
    let reference = outcome["provisional_reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(object) = outcome.as_object_mut() {
        // Who sent it and under which key are for the record, not for this answer.
        object.remove("user");
        object.remove("idempotency_key");
        object.insert("continuity".into(), json!(true));
        object.insert("created".into(), json!(false));
        object.insert("message_en".into(), json!(message_en));
        object.insert("message_zh".into(), json!(message_zh));
    }
    let mut response = (StatusCode::OK, axum::Json(outcome)).into_response();
    if let Ok(location) = HeaderValue::try_from(format!("{DECLARATIONS_PATH}/{reference}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A provisional reference this instance did not give and the central store does not know as
/// settled: while queued, only the instance that gave it (named in the reference) knows it.
fn not_known_here(reference: &str, here: &str, store_unreachable: bool) -> Response {
    let given_by = reference
        .strip_prefix("CP-")
        .and_then(|rest| rest.split_once('-'))
        .map_or("", |(instance, _)| instance);
    let (en, zh) = if given_by == here {
        (
            format!("no lodging received in continuity under {reference} is visible to you"),
            format!("没有您可见的应急受理编号 {reference}"),
        )
    } else if store_unreachable {
        (
            format!(
                "{reference} was given by continuity instance {given_by}, not by this one \
                 ({here}); while the central customs system is unreachable only that instance \
                 knows it: ask it, or ask again once the system is back"
            ),
            format!(
                "{reference} 由应急实例 {given_by} 出具，而非本实例（{here}）；海关中心系统无法连接期间\
                 仅该实例知道其状态：请向该实例查询，或待系统恢复后再查询"
            ),
        )
    } else {
        (
            format!(
                "{reference} was given by continuity instance {given_by}; the central customs \
                 system has no record of it being lodged or refused yet (not yet reconciled, or \
                 not yours): ask that instance, or ask again later"
            ),
            format!(
                "{reference} 由应急实例 {given_by} 出具；海关中心系统尚无其申报或拒绝记录（尚未补录，\
                 或非您所有）：请向该实例查询，或稍后再查询"
            ),
        )
    };
    problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        &en,
        &zh,
        vec![],
        None,
    )
}

/// A refusal's reasons as kept in the queue: code, messages and field errors.
fn refusal_json(error: &ClearanceError) -> Value {
    let (_, code, _, en, zh, errors) = describe(error);
    json!({"code": code, "message_en": en, "message_zh": zh, "errors": errors})
}

fn refusal_response(error: &ClearanceError) -> Response {
    let (status, code, title, en, zh, errors) = describe(error);
    let retry = (status == StatusCode::SERVICE_UNAVAILABLE).then_some(CONTINUITY_RETRY_AFTER_SECS);
    problem(status, code, title, &en, &zh, errors, retry)
}

type Described = (
    StatusCode,
    &'static str,
    &'static str,
    String,
    String,
    Vec<Value>,
);

/// How the service's refusals are told, as the API tells them.
fn describe(error: &ClearanceError) -> Described {
    let field_errors = |errors: &[domain::FieldError]| -> Vec<Value> {
        errors
            .iter()
            .map(|e| {
                json!({"path": e.path, "code": e.code.as_str(),
                       "message_en": e.message_en, "message_zh": e.message_zh})
            })
            .collect()
    };
    match error {
        ClearanceError::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "The request has errors",
            format!(
                "the request has {} error(s); each names its field",
                errors.len()
            ),
            format!("请求有 {} 处错误，每处均注明字段", errors.len()),
            field_errors(errors),
        ),
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        } => (
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            message_en.clone(),
            message_zh.clone(),
            field_errors(errors),
        ),
        ClearanceError::IdempotencyKeyReused => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "The Idempotency-Key was used for another request",
            "the idempotency key was already used for a different request".into(),
            "此幂等键已用于另一个请求".into(),
            vec![json!({"path": "Idempotency-Key", "code": "duplicate",
                        "message_en": "was already used for a different request",
                        "message_zh": "已用于另一个请求"})],
        ),
        ClearanceError::NotFound => (
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such declaration is visible to you".into(),
            "没有您可见的此报关单".into(),
            vec![],
        ),
        ClearanceError::Unauthenticated | ClearanceError::TokenRefused(_) => {
            let (en, zh) = match error {
                ClearanceError::TokenRefused(why) => why.describe(),
                _ => ("a valid bearer token is required", "需要有效的持有者令牌"),
            };
            (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                en.into(),
                zh.into(),
                vec![],
            )
        }
        ClearanceError::Transition(refusal) => (
            StatusCode::CONFLICT,
            "transition-refused",
            "The declaration's state does not allow this",
            refusal.message_en.clone(),
            refusal.message_zh.clone(),
            vec![],
        ),
        ClearanceError::Conflict | ClearanceError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "the central customs system cannot take this now; send it again later".into(),
            "海关中心系统暂时无法处理，请稍后重新发送".into(),
            vec![],
        ),
        ClearanceError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the incident is logged".into(),
            "服务器内部错误，已记录".into(),
            vec![],
        ),
    }
}

fn too_large(limit: usize) -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "The request body is too large",
        &format!("the body may be at most {limit} bytes"),
        &format!("请求体最多 {limit} 字节"),
        vec![],
        None,
    )
}

/// A problem (`application/problem+json`) in the API's form, with a request id of its own (the
/// door answers before the API's layers give one).
fn problem(
    status: StatusCode,
    code: &str,
    title: &str,
    detail_en: &str,
    detail_zh: &str,
    errors: Vec<Value>,
    retry_after_secs: Option<u64>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut body = json!({
        "type": format!("{}{code}", http_api::PROBLEM_TYPE_PREFIX),
        "title": title,
        "status": status.as_u16(),
        "detail": detail_en,
        "detail_zh": detail_zh,
        "request_id": request_id,
    });
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(http_api::PROBLEM_CONTENT_TYPE),
    );
    if let Ok(id) = HeaderValue::try_from(request_id) {
        headers.insert("x-request-id", id);
    }
    if let Some(secs) = retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_code_lists_are_used_up_to_their_age_limit_and_not_at_it() {
        let kept = CONTINUITY_CODE_LISTS_KEPT.as_millis() as i64;
        assert!(code_lists_usable(1_000, 1_000));
        assert!(code_lists_usable(1_000, 1_000 + kept - 1));
        assert!(!code_lists_usable(1_000, 1_000 + kept));
    }
}
