//! The clearance service: lodging, numbering, amendment, cancellation and release of declarations,
//! with access control. It turns requests (bytes and a caller) into events for the `Store`, and
//! rows from the store into API views. The HTTP API and the CLI both call this, never the store.
//!
//! Lodging in one picture:
//! bytes → `wire` parser (every field error) → cross-field rules → authority check
//! → (full declaration: agreement with its summary) → number → one `Append` (event + audit entry +
//! projection, in one transaction) → view.

mod access;
mod admin;
pub(crate) mod assessing;
pub mod assessment;
pub mod attachments;
mod audit_trail;
pub mod backtest_history;
pub mod bulk_reassessment;
mod cbec;
pub mod ceb_keys;
pub mod ceb_register;
mod changes;
pub mod console;
pub mod continuity;
pub mod dashboards;
pub mod directory;
pub mod duty;
pub mod ecommerce;
mod error;
pub mod invalidation;
pub mod models;
pub mod modifications;
mod numbering;
pub mod operations;
mod parties;
mod passwords;
pub mod payments;
pub mod reassignment;
pub mod receipts;
pub mod reference_releases;
pub mod regime;
pub mod releases;
pub mod roll_back;
pub mod simulation;
pub mod statistics;
pub mod targeting;
pub mod tasks;
mod trade_view;
pub mod training_jobs;
pub mod value_control;
mod views;
pub mod watch_list;

#[cfg(test)]
mod assessment_tests;
#[cfg(test)]
mod bulk_reassessment_tests;
#[cfg(test)]
mod console_tests;
#[cfg(test)]
mod credit_tests;
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod lists_tests;
#[cfg(test)]
mod models_tests;
#[cfg(test)]
mod officer_tests;
#[cfg(test)]
mod origin_rules_tests;
#[cfg(test)]
mod password_tests;
#[cfg(test)]
mod reassignment_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod regime_tests;
#[cfg(test)]
mod release_property_tests;
#[cfg(test)]
mod roll_back_tests;
#[cfg(test)]
mod story;
#[cfg(test)]
mod targeting_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod training_jobs_tests;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::{
    Declaration, DeclarationEvent, DeclarationKind, DeclarationNumber, DeclarationState,
    DeclarationStatus, FieldError, NumberScheme, ParseContext,
};
use reference::ReferenceData;
use sha2::{Digest, Sha256};
use store::{
    Actor, Append, AppendOutcome, DeclarationRow, DeclarationUpdate, EventRow, LinkedEvent,
    Projection, Store,
};
use wire::{DeclarationDto, LodgementView};

pub use access::{Action, Caller, Role};
pub use admin::{
    ADMIN_BOOTSTRAPPED_ACTION, CREDIT_LEVEL_SET_ACTION, CREDIT_LEVELS, NewToken, SYSTEM_ROLE,
    SYSTEM_USER_ID, TOKEN_LIFETIME_DEFAULT_DAYS, TOKEN_LIFETIME_MAX_DAYS, TOKEN_PREFIX,
    TokenRefusal, parse_credit_level, system_actor, token_hash, token_id,
};
pub use assessing::{AssessedFigures, MANUAL_ASSESSMENT_TASK, Reassessment, Reperformed};
pub use audit_trail::{
    AUDIT_PAGE_MAX, AuditorsCheck, CHECKPOINTS_LISTED_MAX, CheckpointView, REPLAY_DRAW_MAX,
    ReplayDraw, ReplayedDeclaration,
};
pub use cbec::BuyerIdKey;
pub use error::ClearanceError;
pub use models::{
    ALLOW_OVERLAP_FLAG, EvaluationReport, EvaluationRequest, EvaluationSplit, LABEL_WEIGHT_MAX,
    ScoredRow, SelectedBy, label_weight, model_shares, scores_csv, selection_propensity,
};
pub use modifications::Modification;
pub use passwords::{
    PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN, PASSWORD_SET_ACTION, SESSION_LIFETIME_HOURS,
    SESSION_TOKEN_KIND,
};
pub use views::{
    ListFilter, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, SEARCH_TERM_CHARS_MAX,
    TRADER_NAME_SEARCH_CHARS_MIN,
};

/// A summary declaration a full declaration may complete, as read before lodging it.
struct OpenSummary {
    row: DeclarationRow,
    state: DeclarationState,
    /// The cancelled full declaration the new one takes the place of.
    replaces: Option<DeclarationNumber>,
}

/// The event name of an acceptance (`DeclarationEvent::Accepted`'s name), spelled once here for
/// the lodging path, which encodes the event without building it.
const ACCEPTED_ACTION: &str = "declaration.accepted";

/// Longest idempotency key accepted: long enough for a UUID with a prefix, short enough to index.
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 128;

/// A source of the current time, so tests can pin it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a set instant and runs on from there at the pace of the machine's
/// monotonic clock: tests (and the binary under `CUSTOMS_CLOCK_FIXED`) meet the code lists,
/// tariff and exchange rates of a known day, never race midnight, month-end or New Year, and
/// still see events come one after another.
pub struct PinnedClock {
    start: DateTime<Utc>,
    started: std::time::Instant,
}

impl PinnedClock {
    pub fn new(start: DateTime<Utc>) -> PinnedClock {
        PinnedClock {
            start,
            started: std::time::Instant::now(),
        }
    }

    /// `start` as RFC 3339 (e.g. `2027-03-15T10:00:00Z`); the error names what is wrong.
    pub fn parse(start: &str) -> Result<PinnedClock, String> {
        DateTime::parse_from_rfc3339(start.trim())
            .map(|at| PinnedClock::new(at.with_timezone(&Utc)))
            .map_err(|e| {
                format!("{start:?} is not an RFC 3339 instant such as 2027-03-15T10:00:00Z: {e}")
            })
    }
}

impl Clock for PinnedClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + self.started.elapsed()
    }
}

/// How this administration runs clearance. No `Default`: the caller chooses (China's is `china()`).
#[derive(Clone)]
pub struct ClearanceConfig {
    pub number_scheme: NumberScheme,
    /// The administration's time zone: it decides the lodging date, hence the code lists and
    /// rates in force, and the year in the declaration number.
    pub utc_offset: FixedOffset,
    /// Serials reserved from the store at a time. Larger blocks mean fewer writes; unused serials of a
    /// block are skipped after a restart (numbers stay unique, not gap-free).
    pub serial_block: u64,
    /// The key that verifies the audit checkpoints (the data folder's signing key's public half).
    pub audit_public_key: Option<audit::AuditPublicKey>,
    /// How long the store's writer may leave the chain unsigned; with it, verification reports a
    /// missing checkpoint. `None` (tests with a clock that jumps) checks no bound.
    pub audit_checkpoint_bound: Option<AuditCheckpointBound>,
    /// How duty and taxes are assessed (thresholds, the VAT-base question).
    pub assessment: tariff::AssessmentConfig,
    /// The preferential trade agreements' data the proofs of origin are checked against.
    pub agreements: tariff::origin::Agreements,
    /// The key of the CBEC buyers' identity hashes (the data folder's); without one, CBEC
    /// retail orders cannot be lodged.
    pub buyer_id_key: Option<BuyerIdKey>,
    /// Random selection rates, credit modifiers and the actions of list hits.
    pub selection: risk::SelectionConfig,
    /// The share of declarations the active risk model selects (its inspection budget): those
    /// it scores among the riskiest this share of its training items.
    pub model_budget: rust_decimal::Decimal,
    /// The part of the model's budget spent on exploration, 0..=[`MODEL_EXPLORATION_PERCENT_MAX`]
    /// percent (`model.exploration_percent`; default [`MODEL_EXPLORATION_PERCENT_DEFAULT`]). The
    /// model exploits `budget × (1 − share)` (the riskiest scores) and selects the declarations it
    /// scored below that threshold at random, each with the same chance (the propensity,
    /// recorded with the selection), so that `budget × share` of all declarations are explored.
    /// A model that learns only from its own selections learns its own bias; the labels of
    /// explored declarations show it what it does not look at (DATE, KDD 2020).
    pub model_exploration_percent: u32,
}

/// The default exploration share of the model's budget, in percent. The replay of the KCS period
/// (bench/ml/README.md, "Lower exploration shares") measured 10 % random exploration costing 4–7
/// points of the selection's precision over the last four weeks against exploitation only
/// (0.893 against 0.934, seed 0) for 1.3–1.8 times the frauds new to the model caught; 20 %
/// cost 8 points. A tenth keeps every declaration's chance above zero (the weights stay
/// unbiased) at about half the cost of the replay's default fifth.
pub const MODEL_EXPLORATION_PERCENT_DEFAULT: u32 = 10;
/// The largest exploration share of the model's budget, in percent: beyond half the model no
/// longer mainly selects on its scores (uniform sampling is the random selection's, 双随机).
pub const MODEL_EXPLORATION_PERCENT_MAX: u32 = 50;

/// The most entries, and the longest time, the store's writer leaves unsigned; see
/// [`audit::CheckpointBound`]. The verifier's clock is the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCheckpointBound {
    pub entries_max: u64,
    pub ms_max: i64,
}

impl ClearanceConfig {
    pub fn china() -> ClearanceConfig {
        ClearanceConfig {
            number_scheme: NumberScheme::china(),
            utc_offset: FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"),
            serial_block: 64,
            audit_public_key: None,
            audit_checkpoint_bound: None,
            assessment: tariff::AssessmentConfig::china_2026(),
            agreements: tariff::origin::agreements_china_2026(),
            buyer_id_key: None,
            selection: risk::SelectionConfig::sample_china(),
            model_budget: rust_decimal::Decimal::new(5, 2),
            model_exploration_percent: MODEL_EXPLORATION_PERCENT_DEFAULT,
        }
    }
}

pub struct Clearance<S> {
    store: S,
    reference: Arc<ReferenceData>,
    config: ClearanceConfig,
    clock: Arc<dyn Clock>,
    serials: numbering::SerialPool,
    principals: admin::PrincipalCache,
    /// Register entries checked at every lodging (never changed once registered).
    register: parties::RegisterCache,
    releases_cache: releases::ReleaseCatalog,
    rule_catalog: targeting::RuleCatalog,
    credit_levels: targeting::CreditLevels,
    lists_catalog: watch_list::ListsCatalog,
    models: models::ModelCatalog,
    activity: operations::Activity,
    work_figures: operations::WorkFiguresCache,
    /// The caches' epoch and whether they are trusted (see `invalidation`).
    freshness: Arc<invalidation::Freshness>,
    /// How long a CEB inventory list waits for its documents (`ecommerce`).
    ceb_match_wait_ms: std::sync::atomic::AtomicI64,
    /// The CEB senders' certificates, read once (`ceb_keys`).
    ceb_keys: ceb_keys::CebKeys,
    /// The CEB register's entries read before (`ceb_register`).
    ceb_register: ceb_register::CebRegisterCache,
}

impl<S: Store> Clearance<S> {
    pub fn new(
        store: S,
        reference: Arc<ReferenceData>,
        config: ClearanceConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let freshness = Arc::new(invalidation::Freshness::default());
        Clearance {
            store,
            reference,
            config,
            clock,
            serials: numbering::SerialPool::default(),
            principals: admin::PrincipalCache::watched(&freshness),
            register: parties::RegisterCache::default(),
            releases_cache: releases::ReleaseCatalog::watched(&freshness),
            rule_catalog: targeting::RuleCatalog::watched(&freshness),
            credit_levels: targeting::CreditLevels::watched(&freshness),
            lists_catalog: watch_list::ListsCatalog::watched(&freshness),
            models: models::ModelCatalog::watched(&freshness),
            activity: operations::Activity::default(),
            work_figures: operations::WorkFiguresCache::default(),
            ceb_register: ceb_register::CebRegisterCache::watched(&freshness),
            freshness,
            ceb_match_wait_ms: std::sync::atomic::AtomicI64::new(ecommerce::CEB_MATCH_WAIT_MAX_MS),
            ceb_keys: ceb_keys::CebKeys::default(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether the store answers reads: a look-up by an id that matches nothing, cheap, and failing
    /// only if the store cannot be read. For health probes.
    pub async fn check_store(&self) -> Result<(), ClearanceError> {
        self.store.declaration("").await?;
        Ok(())
    }

    /// The schema version the store records (its last migration's number).
    pub async fn store_schema_version(&self) -> Result<u32, ClearanceError> {
        Ok(self.store.schema_version().await?)
    }

    /// The service's clock (pinned in tests): what pages measure a task's age against.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today in the administration's time zone: the day whose code lists and rates are in force.
    pub fn today(&self) -> NaiveDate {
        self.lodging_date(self.now())
    }

    fn lodging_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.config.utc_offset).date_naive()
    }

    fn date_of_ms(&self, ms: i64) -> NaiveDate {
        self.lodging_date(DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }

    /// Lodges a declaration. With an idempotency key seen before, returns the first result and
    /// creates nothing.
    ///
    /// The key is not looked up before the work: on the common path it is new, and the store
    /// finds a repeat inside the append anyway. It is looked up only when the lodging would be
    /// refused or the store reports a repeat, so a resend always gets the first result. (A resend
    /// thus consumes a serial that is then skipped: numbers are unique, not gap-free.)
    #[tracing::instrument(name = "lodging a declaration", skip_all, fields(user = caller.user_id()))]
    pub async fn lodge(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<LodgementView, ClearanceError> {
        self.lodge_as(caller, idempotency_key, body, wire::MessageFormat::Json)
            .await
    }

    /// Lodges a declaration that came in another format (WCO XML, EDIFACT), already mapped by
    /// its edge onto the JSON form (`body`): the same lodging, with the format recorded in the
    /// acceptance so that the receipts pushed to the trade are rendered in it.
    pub async fn lodge_as(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        body: &[u8],
        format: wire::MessageFormat,
    ) -> Result<LodgementView, ClearanceError> {
        self.lodge_in(caller, idempotency_key, body, None, format)
            .await
    }

    /// Lodging, with the facts of a receipt in continuity when it comes from an instance's
    /// queue (`continuity`): they are recorded in the acceptance event's payload. The request
    /// digest is the same as a direct lodging's, so a resend lodged directly and the queued
    /// copy are one lodging under the idempotency key.
    pub(crate) async fn lodge_with(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        body: &[u8],
        continuity: Option<&continuity::ContinuityReceipt>,
    ) -> Result<LodgementView, ClearanceError> {
        self.lodge_in(
            caller,
            idempotency_key,
            body,
            continuity,
            wire::MessageFormat::Json,
        )
        .await
    }

    async fn lodge_in(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        body: &[u8],
        continuity: Option<&continuity::ContinuityReceipt>,
        format: wire::MessageFormat,
    ) -> Result<LodgementView, ClearanceError> {
        caller.require(Action::Lodge)?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest("lodge", body);
        match self
            .accept(caller, &key, &digest, body, continuity, format, None)
            .await
        {
            Ok(Some(receipt)) => Ok(receipt),
            Ok(None) => self
                .replay(caller, &key, &digest)
                .await?
                .ok_or(ClearanceError::Conflict),
            Err(refusal) => match self.replay(caller, &key, &digest).await? {
                Some(first) => Ok(first),
                None => Err(refusal),
            },
        }
    }

    /// Parses, checks, numbers and appends; `Ok(None)` when the store found the key used before.
    /// `ceb`: a CEB inventory list lodged (`ecommerce`): its acceptance and the debit of its
    /// agent's guarantee go in the same append.
    #[allow(clippy::too_many_arguments)]
    async fn accept(
        &self,
        caller: &Caller,
        key: &str,
        digest: &str,
        body: &[u8],
        continuity: Option<&continuity::ContinuityReceipt>,
        format: wire::MessageFormat,
        ceb: Option<&ecommerce::CebLodging>,
    ) -> Result<Option<LodgementView>, ClearanceError> {
        let now = self.now();
        let dto: DeclarationDto =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let day = self.lodging_date(now);
        let reference = self.reference_on(day).await?;
        let declaration = declared_by(caller, &dto, &reference, day)?;
        // The trader and declarant as the register knows them, not only their credit codes.
        self.check_parties(&declaration).await?;
        let summary = self.open_summary(caller, &declaration).await?;
        let mut declaration = declaration;
        // A CEB list's buyer was protected when its documents were received (`ecommerce`): the
        // number never reached the store.
        let protected_at_receipt = ceb.is_some()
            && declaration.cbec_order.as_ref().is_some_and(|o| {
                matches!(o.buyer.identity, domain::BuyerIdentity::Protected { .. })
            });
        if !protected_at_receipt {
            self.protect_buyer(&mut declaration)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let assessed = self
            .assessment_event(
                &id,
                &declaration,
                self.lodging_date(now),
                assessment::Basis::Acceptance,
                None,
                &actor(caller),
                now.timestamp_millis(),
            )
            .await?;
        let (assessed, cbec_purchase, figures) = match assessed {
            Some(change) => (Some(change.event), change.cbec_purchase, change.figures),
            None => (None, None, None),
        };
        let ceb_linked = ceb.map(|lodging| lodging.accepted(&id));
        let guarantee_debit = match ceb {
            Some(lodging) => lodging.debit(figures.as_ref())?,
            None => None,
        };
        let guarantee_covered = ceb
            .zip(guarantee_debit.as_ref())
            .map(|(lodging, debit)| lodging.covered(&id, debit));
        // What the engine could not assess, an officer assesses by hand: until then the goods
        // are not released (fail closed).
        let manual = if assessed.is_some() && figures.is_none() {
            Some(
                self.manual_assessment_task(
                    &id,
                    declaration.office_of_lodging.as_str(),
                    now.timestamp_millis(),
                )
                .await?,
            )
        } else {
            None
        };
        let (targeted, decided) = self
            .targeting(
                &id,
                &declaration,
                figures.as_ref(),
                self.lodging_date(now),
                now.timestamp_millis(),
            )
            .await?;
        let number = self.next_number(&declaration, now).await?;
        let linked = summary
            .map(|summary| self.completion(summary, &number, now))
            .into_iter()
            .chain(assessed)
            .chain(manual)
            .chain(targeted)
            .chain(ceb_linked)
            .chain(guarantee_covered)
            .collect::<Vec<LinkedEvent>>();
        let facts = trade_view::lodging_facts(
            linked
                .iter()
                .map(|e| (e.action.as_str(), e.payload.as_str())),
        );
        let mut append = self.acceptance(
            caller,
            key,
            digest.to_owned(),
            (id, number),
            declaration,
            now,
            linked,
        );
        append.cbec_purchase = cbec_purchase;
        append.guarantee_debit = guarantee_debit;
        if let Some(receipt) = continuity {
            append.payload = continuity::with_receipt(&append.payload, receipt);
        }
        if format != wire::MessageFormat::Json {
            append.payload = receipts::with_format(&append.payload, format);
        }
        let Projection::NewDeclaration(row) = &append.projection else {
            unreachable!("acceptance projects a new declaration")
        };
        // The appended row is the stored row: answer from it instead of reading it back.
        let receipt = views::receipt(row, true, facts);
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {
                self.activity.count_accepted(&decided);
                Ok(Some(receipt))
            }
            AppendOutcome::Duplicate { .. } => Ok(None),
            other => Err(refusal(other)),
        }
    }

    /// The first result of an idempotency key, if this caller used it before.
    async fn replay(
        &self,
        caller: &Caller,
        key: &str,
        digest: &str,
    ) -> Result<Option<LodgementView>, ClearanceError> {
        let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), key)
            .await?
        else {
            return Ok(None);
        };
        if first.request_digest != digest || first.action != ACCEPTED_ACTION {
            return Err(ClearanceError::IdempotencyKeyReused);
        }
        let row = self
            .store
            .declaration(&first.subject)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        // The first result is the receipt as first given: accepted, version 1, whatever happened
        // to the declaration since (its current state is one GET away).
        let events = self.store.events(&row.id).await?;
        let facts = trade_view::lodging_facts(
            events
                .iter()
                .map(|e| (e.action.as_str(), e.payload.as_str())),
        );
        let first_receipt = LodgementView {
            status: DeclarationStatus::Accepted.as_str().to_owned(),
            version: 1,
            ..views::receipt(&row, false, facts)
        };
        Ok(Some(first_receipt))
    }

    async fn next_number(
        &self,
        declaration: &Declaration,
        now: DateTime<Utc>,
    ) -> Result<DeclarationNumber, ClearanceError> {
        use chrono::Datelike;
        let scheme = &self.config.number_scheme;
        let (office, year, flag) = (
            declaration.office_of_lodging.as_str(),
            self.lodging_date(now).year(),
            declaration.direction_flag(),
        );
        let counter_key = scheme.counter_key(office, year, flag);
        let serial = self
            .serials
            .next(&self.store, &counter_key, self.config.serial_block)
            .await?;
        scheme.number(office, year, flag, serial).ok_or_else(|| {
            ClearanceError::Unavailable(format!("the numbering counter {counter_key} is exhausted"))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn acceptance(
        &self,
        caller: &Caller,
        key: &str,
        request_digest: String,
        (id, number): (String, DeclarationNumber),
        declaration: Declaration,
        now: DateTime<Utc>,
        linked: Vec<LinkedEvent>,
    ) -> Append {
        let document =
            serde_json::to_string(&DeclarationDto::from(&declaration)).expect("a DTO serialises");
        let row = DeclarationRow {
            id: id.clone(),
            number: number.to_string(),
            direction: views::direction_name(&declaration).to_owned(),
            kind: declaration.kind.name().to_owned(),
            status: DeclarationStatus::Accepted.as_str().to_owned(),
            office_of_lodging: declaration.office_of_lodging.to_string(),
            trader_credit_code: declaration.trader.credit_code.as_str().to_owned(),
            declarant_credit_code: declaration.declarant.credit_code.as_str().to_owned(),
            summary_number: match &declaration.kind {
                DeclarationKind::Full { summary_number } => Some(summary_number.to_string()),
                _ => None,
            },
            completed_by: None,
            lodged_at_ms: now.timestamp_millis(),
            updated_at_ms: now.timestamp_millis(),
            version: 1,
            document,
        };
        let payload = wire::encode_acceptance(&number, &row.document);
        Append {
            actor: actor(caller),
            recorded_at_ms: now.timestamp_millis(),
            subject: id,
            action: ACCEPTED_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key.to_owned(),
            request_digest,
            payload,
            expected_version: None,
            projection: Projection::NewDeclaration(row),
            linked,
            cbec_purchase: None,
            guarantee_debit: None,
        }
    }

    /// For a full declaration: its summary must be visible to the caller, a summary, open, and in
    /// agreement with the full declaration.
    async fn open_summary(
        &self,
        caller: &Caller,
        declaration: &Declaration,
    ) -> Result<Option<OpenSummary>, ClearanceError> {
        let DeclarationKind::Full { summary_number } = &declaration.kind else {
            return Ok(None);
        };
        let not_found = || {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "summary_number",
                &format!("no summary declaration {summary_number} of yours exists"),
                &format!("不存在贵单位的概要申报 {summary_number}"),
            )])
        };
        let row = self
            .store
            .declaration_by_number(summary_number.as_str())
            .await?;
        let row = row
            .filter(|r| caller.sees(&r.trader_credit_code, &r.declarant_credit_code))
            .ok_or_else(not_found)?;
        let state = self.state_of(&row).await?;
        if !matches!(state.declaration.kind, DeclarationKind::Summary) {
            return Err(not_found());
        }
        let errors = domain::rules::check_full_against_summary(declaration, &state.declaration);
        if !errors.is_empty() {
            return Err(ClearanceError::Invalid(errors));
        }
        let replaces = self.cancelled_completion(&state).await?;
        let probe = DeclarationEvent::Completed {
            full_number: state.number.clone(),
            replaces: replaces.clone(),
        };
        state.check(&probe).map_err(|refusal| {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                "summary_number",
                &refusal.message_en,
                &refusal.message_zh,
            )])
        })?;
        Ok(Some(OpenSummary {
            row,
            state,
            replaces,
        }))
    }

    /// The full declaration that completed this summary, if it was cancelled since: a new full
    /// declaration may then take its place.
    async fn cancelled_completion(
        &self,
        summary: &DeclarationState,
    ) -> Result<Option<DeclarationNumber>, ClearanceError> {
        let Some(full_number) = &summary.completed_by else {
            return Ok(None);
        };
        let full = self
            .store
            .declaration_by_number(full_number.as_str())
            .await?;
        let cancelled = full.is_some_and(|row| row.status == DeclarationStatus::Cancelled.as_str());
        Ok(cancelled.then(|| full_number.clone()))
    }

    /// The summary's `Completed` event, written in the same transaction as the full declaration.
    fn completion(
        &self,
        summary: OpenSummary,
        full_number: &DeclarationNumber,
        now: DateTime<Utc>,
    ) -> LinkedEvent {
        let OpenSummary {
            row,
            state,
            replaces,
        } = summary;
        let event = DeclarationEvent::Completed {
            full_number: full_number.clone(),
            replaces,
        };
        LinkedEvent {
            // Completing the summary is the lodging caller's own act.
            actor: None,
            subject: row.id.clone(),
            action: event.name().to_owned(),
            payload: wire::encode_event(&event),
            expected_version: Some(state.version),
            projection: Projection::UpdateDeclaration(DeclarationUpdate {
                id: row.id.clone(),
                status: row.status.clone(),
                version: state.version + 1,
                updated_at_ms: now.timestamp_millis(),
                completed_by: Some(full_number.to_string()),
                replaces_document: false,
            }),
        }
    }

    /// The current state of a stored declaration, read back on its lodging date with every code
    /// a reference release ever held (it was checked against the lists in force when accepted).
    async fn state_of(&self, row: &DeclarationRow) -> Result<DeclarationState, ClearanceError> {
        let dto: DeclarationDto = serde_json::from_str(&row.document)
            .map_err(|e| anyhow::anyhow!("stored declaration {} is not readable: {e}", row.id))?;
        let reference = self.recorded_reference().await?;
        let declaration = dto
            .parse(&ParseContext {
                reference: &reference,
                on: self.date_of_ms(row.lodged_at_ms),
            })
            .map_err(|e| {
                anyhow::anyhow!("stored declaration {} no longer parses: {}", row.id, e[0])
            })?;
        let status = DeclarationStatus::parse(&row.status).ok_or_else(|| {
            anyhow::anyhow!("stored declaration {} has status {}", row.id, row.status)
        })?;
        Ok(DeclarationState {
            number: DeclarationNumber::parse(&row.number)
                .ok_or_else(|| anyhow::anyhow!("bad stored number"))?,
            status,
            declaration,
            version: row.version,
            n_amendments: 0,
            completed_by: row
                .completed_by
                .as_deref()
                .and_then(DeclarationNumber::parse),
        })
    }
}

/// Whether an event of a declaration's history is a lifecycle event (`DeclarationEvent`), which
/// the declaration's state folds. Assessments, selections and officers' tasks share the
/// declaration's subject but do not change its state.
pub fn is_lifecycle_event(action: &str) -> bool {
    action.starts_with("declaration.")
        && action != assessment::ASSESSED_ACTION
        && action != targeting::TARGETED_ACTION
        && action != payments::PAID_ACTION
}

impl<S: Store> Clearance<S> {
    /// Appends the one event of a change to a reference object (a release, a rule, a watch-list
    /// entry) under a fresh idempotency key. A conflict the store finds (a taken id, a status
    /// that changed meanwhile) is a refusal naming `field`; `not_found` answers an unknown object.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append_reference_event(
        &self,
        caller: &Caller,
        subject: String,
        action: &str,
        payload: serde_json::Value,
        projection: Projection,
        field: &str,
        not_found: impl FnOnce(&str) -> ClearanceError,
    ) -> Result<(), ClearanceError> {
        let append = self.reference_append(caller, subject, action, payload, projection);
        match self.store.append(append).await {
            Ok(AppendOutcome::Appended { .. }) => Ok(()),
            Ok(other) => Err(refusal(other)),
            Err(store::StoreError::NotFound(what)) => Err(not_found(&what)),
            Err(store::StoreError::Conflict(what)) => {
                Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                    field,
                    &format!("refused: {what}"),
                    &format!("已拒绝：{what}"),
                )]))
            }
            Err(other) => Err(other.into()),
        }
    }
}

impl<S: Store> Clearance<S> {
    /// The append of a reference event by `caller`, under a key of its own.
    fn reference_append(
        &self,
        caller: &Caller,
        subject: String,
        action: &str,
        payload: serde_json::Value,
        projection: Projection,
    ) -> Append {
        let payload = payload.to_string();
        Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject,
            action: action.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            request_digest: request_digest(action, payload.as_bytes()),
            payload,
            expected_version: None,
            projection,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        }
    }

    /// A reference event appended once for `(scope, key)`: `None` when this call appended it,
    /// else the event appended first under that key (nothing is written again).
    pub(crate) async fn append_reference_event_once(
        &self,
        caller: &Caller,
        subject: String,
        action: &str,
        payload: serde_json::Value,
        projection: Projection,
        (scope, key): (&str, &str),
    ) -> Result<Option<EventRow>, ClearanceError> {
        let mut append = self.reference_append(caller, subject, action, payload, projection);
        append.idempotency_scope = scope.to_owned();
        append.idempotency_key = key.to_owned();
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => Ok(None),
            AppendOutcome::Duplicate { first, .. } => Ok(Some(first)),
            other => Err(refusal(other)),
        }
    }
}

/// A store outcome that refused an append: a concurrent change, or a CBEC order that does not
/// fit the buyer's allowance or was booked before.
pub(crate) fn refusal(outcome: AppendOutcome) -> ClearanceError {
    let fen = |fen: i64| tariff::money::fen_text(rust_decimal::Decimal::new(fen, 2));
    match outcome {
        AppendOutcome::CbecLimitExceeded {
            year_to_date_fen,
            room_fen,
        } => ClearanceError::Invalid(vec![FieldError::not_allowed(
            "cbec_order",
            &format!(
                "the buyer's CBEC purchases this year total {} CNY and only {} CNY of the annual allowance remain: this order exceeds it, declare it as general trade",
                fen(year_to_date_fen),
                fen(room_fen)
            ),
            &format!(
                "该消费者本年度跨境电商交易额已达 {} 元，年度限值仅余 {} 元：本订单超出限值，应按一般贸易申报",
                fen(year_to_date_fen),
                fen(room_fen)
            ),
        )]),
        AppendOutcome::CbecOrderBooked { first } => {
            ClearanceError::Invalid(vec![FieldError::duplicate(
                "cbec_order.order_ref",
                &format!("order {} (declared before)", first.order_ref),
                &format!("订单 {}（已申报）", first.order_ref),
            )])
        }
        AppendOutcome::GuaranteeExhausted {
            balance_fen,
            needed_fen,
        } => ClearanceError::Invalid(vec![FieldError::not_allowed(
            "InventoryHead/assureCode",
            &format!(
                "the guarantee's balance is {} CNY and the taxes assessed are {} CNY: top the guarantee up",
                fen(balance_fen),
                fen(needed_fen)
            ),
            &format!(
                "担保余额为 {} 元，应征税款为 {} 元：请补充担保额度",
                fen(balance_fen),
                fen(needed_fen)
            ),
        )]),
        AppendOutcome::VersionConflict { .. } => ClearanceError::Conflict,
        AppendOutcome::Appended { .. }
        | AppendOutcome::Duplicate { .. }
        | AppendOutcome::CebDocumentAlready { .. } => ClearanceError::Internal(anyhow::anyhow!(
            "an accepted append was taken for a refusal"
        )),
    }
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        user_id: caller.user_id().to_owned(),
        role: caller.role.as_str().to_owned(),
    }
}

/// The declaration a document declares on `day` with the code lists `reference`, if the caller
/// may declare for its trader and declarant: what lodging, validation and continuity's check at
/// the door have in common. Every problem is an error with its field path.
pub(crate) fn declared_by(
    caller: &Caller,
    dto: &DeclarationDto,
    reference: &ReferenceData,
    day: NaiveDate,
) -> Result<Declaration, ClearanceError> {
    let declaration = dto
        .parse(&ParseContext { reference, on: day })
        .map_err(ClearanceError::Invalid)?;
    let denied = caller.may_declare(
        declaration.trader.credit_code.as_str(),
        declaration.declarant.credit_code.as_str(),
    );
    if !denied.is_empty() {
        return Err(ClearanceError::Forbidden {
            message_en: "your enterprise may not lodge this declaration".into(),
            message_zh: "贵单位无权申报此报关单".into(),
            errors: denied,
        });
    }
    Ok(declaration)
}

pub(crate) fn idempotency_key_or_new(key: Option<&str>) -> Result<String, ClearanceError> {
    let Some(key) = key else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let valid = !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_LENGTH_MAX
        // '#' is reserved: the store derives the keys of linked events as `<key>#<n>`.
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    if !valid {
        return Err(ClearanceError::Invalid(vec![FieldError::invalid_format(
            "Idempotency-Key",
            &format!("1 to {IDEMPOTENCY_KEY_LENGTH_MAX} printable ASCII characters other than '#'"),
            &format!("1 到 {IDEMPOTENCY_KEY_LENGTH_MAX} 个可打印 ASCII 字符（不含“#”）"),
        )]));
    }
    Ok(key.to_owned())
}

pub(crate) fn request_digest(action: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(action.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}
