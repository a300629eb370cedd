//! The auditor's pages: the chain's verification on request, the latest signed checkpoints, the
//! entries page by page (every chain's, by their global number, on PostgreSQL), any declaration's timeline with each entry's hashes, and the replay of a
//! random draw (declarations drawn from the chain, their recorded assessments re-performed).
//! Readable by the roles that may read the chain (auditor, administrator); any other user gets
//! the not-found page, as for a page that does not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use clearance::{Caller, ClearanceError, ReplayDraw};
use serde::Deserialize;
use store::Store;
use tokio::sync::Semaphore;

use super::*;
use crate::AppState;

/// Audit entries one page lists.
pub(crate) const AUDIT_ENTRIES_PAGE: usize = 100;
/// Declarations a replay draws unless asked otherwise.
pub(crate) const REPLAY_DRAW_DEFAULT: usize = 10;
/// Verifications of the whole chain the console runs at once: each reads every entry, so a
/// second request waits for none and is told to come back.
pub(crate) const CONSOLE_VERIFICATIONS_MAX: usize = 1;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/audit", get(overview::<S>))
        .route("/console/audit/verification", post(verify::<S>))
        .route("/console/audit/entries", get(entries::<S>))
        .route("/console/audit/replay", get(replay::<S>))
        .route("/console/audit/declarations/{id}", get(timeline::<S>))
}

fn verifications() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(CONSOLE_VERIFICATIONS_MAX))
}

pub(crate) struct CheckpointRow {
    /// With several chains (PostgreSQL): the signing round over every chain's head.
    pub round: Option<u64>,
    pub seq: u64,
    pub signed_at: String,
    pub head_hash: String,
    pub key_id: String,
}

pub(crate) struct VerificationView {
    pub intact: bool,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub last_seq: u64,
    pub head_hash: String,
    pub first_fault: Option<String>,
    pub key_fingerprint: String,
    pub tables_checked: usize,
    pub warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct OverviewPage {
    page: Page,
    verification: Option<VerificationView>,
    notice: Option<String>,
    checkpoints: Vec<CheckpointRow>,
    replay_default: usize,
    replay_max: usize,
}

pub(crate) struct EntryRow {
    /// The entry's chain, on a store of several chains (PostgreSQL).
    pub chain: Option<u16>,
    /// Its place in its chain.
    pub seq: u64,
    pub recorded_at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub subject: String,
    /// The subject is a declaration the auditor can open.
    pub declaration: bool,
    pub entry_hash: String,
    pub prev_hash: String,
    pub payload: String,
}

#[derive(Template)]
#[template(path = "console/audit_entries.html")]
struct EntriesPage {
    page: Page,
    title: String,
    entries: Vec<EntryRow>,
    /// The entries name their chains (a store of several): a column shows them.
    chains: bool,
    next_after: Option<u64>,
    declaration_id: Option<String>,
}

pub(crate) struct ReplayRow {
    pub id: String,
    pub number: String,
    pub lodged_seq: u64,
    pub basis: String,
    pub recorded_total: String,
    pub recomputed_total: String,
    pub recorded_release: String,
    pub release_now: String,
    pub outcome: String,
    pub agrees: bool,
}

#[derive(Template)]
#[template(path = "console/audit_replay.html")]
struct ReplayPage {
    page: Page,
    seed: u64,
    size: usize,
    head_seq: u64,
    entries_sampled: usize,
    rows: Vec<ReplayRow>,
    agreeing: usize,
    differing: usize,
    not_reperformed: usize,
}

/// The caller, if it may read the chain; otherwise the page to answer with.
async fn auditing<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    visit: &Visit,
) -> Result<Caller, Response> {
    let caller = signed_in(state, headers).await?;
    if !clearance::Action::ReadAudit.allowed(caller.role) {
        return Err(not_found(visit, Some(user_bar(&caller))));
    }
    Ok(caller)
}

/// A page's answer to a service error: a refusal the user can act on, or the API's problem.
fn failed(visit: &Visit, caller: &Caller, error: ClearanceError) -> Response {
    match error {
        ClearanceError::NotFound | ClearanceError::Forbidden { .. } => {
            not_found(visit, Some(user_bar(caller)))
        }
        other => crate::problem::ApiError::from(other).into_response(),
    }
}

async fn overview_page<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    verification: Option<VerificationView>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let checkpoints = match state.clearance.audit_checkpoints(caller).await {
        Ok(listed) => listed,
        Err(error) => return failed(visit, caller, error),
    };
    let page = OverviewPage {
        page: visit.page(Some(user_bar(caller))),
        verification,
        notice,
        checkpoints: checkpoints
            .into_iter()
            .map(|c| CheckpointRow {
                round: c.round,
                seq: c.seq,
                signed_at: c.signed_at,
                head_hash: c.head_hash,
                key_id: c.key_id,
            })
            .collect(),
        replay_default: REPLAY_DRAW_DEFAULT,
        replay_max: clearance::REPLAY_DRAW_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

async fn overview<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/audit");
    let caller = match auditing(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    overview_page(&state, &visit, &caller, None, None, StatusCode::OK).await
}

/// Verifies the whole chain now (the checkpoints' signatures, each file kept beside it, the
/// tables rebuilt from it), one verification at a time.
async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (visit, caller) = match acting(&state, &headers, &form.csrf, "/console/audit").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    if !clearance::Action::ReadAudit.allowed(caller.role) {
        return not_found(&visit, Some(user_bar(&caller)));
    }
    let tr = visit.tr();
    let Ok(_slot) = verifications().try_acquire() else {
        let notice = Some(tr.t("audit-verification-busy"));
        return overview_page(
            &state,
            &visit,
            &caller,
            None,
            notice,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    };
    let view = match state.clearance.verify_audit(&caller).await {
        Ok(view) => view,
        Err(ClearanceError::Unavailable(why)) => {
            let notice = Some(format!("{}: {why}", tr.t("audit-verification-impossible")));
            return overview_page(
                &state,
                &visit,
                &caller,
                None,
                notice,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await;
        }
        Err(error) => return failed(&visit, &caller, error),
    };
    let verification = VerificationView {
        intact: view.intact,
        entries_checked: view.entries_checked,
        checkpoints_checked: view.checkpoints_checked,
        last_seq: view.last_seq,
        head_hash: view.head_hash,
        first_fault: view.first_fault,
        key_fingerprint: view.key_fingerprint,
        tables_checked: view.tables_checked.len(),
        warnings: view.warnings,
    };
    overview_page(
        &state,
        &visit,
        &caller,
        Some(verification),
        None,
        StatusCode::OK,
    )
    .await
}

/// An entry as a person reads it: its time in the administration's time zone, its actor by name
/// (an id the directory does not know, such as the engine's `system`, as it is).
fn entry_row(
    offset: chrono::FixedOffset,
    names: &std::collections::HashMap<String, String>,
    entry: &wire::AuditEntryView,
) -> EntryRow {
    EntryRow {
        chain: entry.chain,
        seq: entry.seq,
        recorded_at: crate::shown_time(offset, &entry.recorded_at),
        actor: names
            .get(&entry.actor)
            .cloned()
            .unwrap_or_else(|| entry.actor.clone()),
        role: entry.role.clone(),
        action: entry.action.clone(),
        declaration: entry.action.starts_with("declaration."),
        subject: entry.subject.clone(),
        entry_hash: entry.entry_hash.clone(),
        prev_hash: entry.prev_hash.clone(),
        payload: serde_json::to_string_pretty(&entry.payload).unwrap_or_default(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntriesQuery {
    lang: Option<String>,
    after: Option<u64>,
}

async fn entries<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<EntriesQuery>,
) -> Response {
    let after = query.after.unwrap_or(0);
    let language = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(
        &headers,
        &language,
        &format!("/console/audit/entries?after={after}"),
    );
    let caller = match auditing(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let listed = match state
        .clearance
        .audit_entries(&caller, after, AUDIT_ENTRIES_PAGE)
        .await
    {
        Ok(listed) => listed,
        Err(error) => return failed(&visit, &caller, error),
    };
    let actors: Vec<&str> = listed.entries.iter().map(|e| e.actor.as_str()).collect();
    let names = state
        .clearance
        .actor_names(&caller, &actors)
        .await
        .unwrap_or_default();
    let tr = visit.tr();
    let page = EntriesPage {
        page: visit.page(Some(user_bar(&caller))),
        title: tr.t("audit-entries-title"),
        entries: listed
            .entries
            .iter()
            .map(|e| entry_row(state.config.display_offset, &names, e))
            .collect(),
        chains: listed.entries.iter().any(|e| e.chain.is_some()),
        next_after: listed.next_after,
        declaration_id: None,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// Every entry of one declaration, oldest first, each with its place in the chain.
async fn timeline<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(
        &headers,
        &query,
        &format!("/console/audit/declarations/{id}"),
    );
    let caller = match auditing(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let view = match state.clearance.declaration(&caller, &id).await {
        Ok(view) => view,
        Err(error) => return failed(&visit, &caller, error),
    };
    let events = match state.clearance.events(&caller, &view.id).await {
        Ok(wire::EventsAnswer::Customs(page)) => page.events,
        // The chain's readers are customs roles: a trade view here would be a fault.
        Ok(wire::EventsAnswer::Trade(_)) => return not_found(&visit, Some(user_bar(&caller))),
        Err(error) => return failed(&visit, &caller, error),
    };
    let actors: Vec<&str> = events.iter().map(|e| e.actor_user.as_str()).collect();
    let names = state
        .clearance
        .actor_names(&caller, &actors)
        .await
        .unwrap_or_default();
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        // Each event is an entry of a chain: read it for its hashes.
        match state.clearance.event_entry(&caller, event.seq).await {
            Ok(entry) => rows.extend(
                entry
                    .iter()
                    .map(|e| entry_row(state.config.display_offset, &names, e)),
            ),
            Err(error) => return failed(&visit, &caller, error),
        }
    }
    let tr = visit.tr();
    let page = EntriesPage {
        page: visit.page(Some(user_bar(&caller))),
        title: tr.with("audit-timeline-title", "number", &view.number),
        chains: rows.iter().any(|r| r.chain.is_some()),
        entries: rows,
        next_after: None,
        declaration_id: Some(view.id.clone()),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReplayQuery {
    lang: Option<String>,
    seed: Option<u64>,
    size: Option<usize>,
}

/// Draws declarations from the chain by a seed (a new one unless given, shown so that the draw
/// can be repeated) and re-performs their assessments.
async fn replay<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<ReplayQuery>,
) -> Response {
    let seed = query.seed.unwrap_or_else(|| rand::random::<u32>().into());
    let size = query.size.unwrap_or(REPLAY_DRAW_DEFAULT);
    let language = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(
        &headers,
        &language,
        &format!("/console/audit/replay?seed={seed}&size={size}"),
    );
    let caller = match auditing(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let draw: ReplayDraw = match state.clearance.replay_draw(&caller, seed, size).await {
        Ok(draw) => draw,
        Err(ClearanceError::Invalid(errors)) => {
            let notice = errors
                .iter()
                .map(|e| match visit.language {
                    Language::Zh => format!("{}: {}", e.path, e.message_zh),
                    Language::En => format!("{}: {}", e.path, e.message_en),
                })
                .collect::<Vec<_>>()
                .join("; ");
            return overview_page(
                &state,
                &visit,
                &caller,
                None,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(error) => return failed(&visit, &caller, error),
    };
    let none = || "—".to_owned();
    let rows: Vec<ReplayRow> = draw
        .declarations
        .iter()
        .map(|d| match &d.assessment {
            Some(a) => ReplayRow {
                id: d.id.clone(),
                number: d.number.clone(),
                lodged_seq: d.lodged_seq,
                basis: tr.of("audit-basis", &a.basis),
                recorded_total: a.recorded_total.clone().unwrap_or_else(none),
                recomputed_total: a.recomputed_total.clone().unwrap_or_else(none),
                recorded_release: a.recorded_release.clone().unwrap_or_else(none),
                release_now: a.release_now.clone().unwrap_or_else(none),
                outcome: tr.t(if a.agrees {
                    "audit-replay-agrees"
                } else {
                    "audit-replay-differs"
                }),
                agrees: a.agrees,
            },
            None => ReplayRow {
                id: d.id.clone(),
                number: d.number.clone(),
                lodged_seq: d.lodged_seq,
                basis: none(),
                recorded_total: none(),
                recomputed_total: none(),
                recorded_release: none(),
                release_now: none(),
                outcome: tr.t("audit-replay-not-reperformed"),
                agrees: true,
            },
        })
        .collect();
    let performed = draw
        .declarations
        .iter()
        .filter_map(|d| d.assessment.as_ref());
    let agreeing = performed.clone().filter(|a| a.agrees).count();
    let differing = performed.filter(|a| !a.agrees).count();
    let page = ReplayPage {
        page: visit.page(Some(user_bar(&caller))),
        seed: draw.seed,
        size,
        head_seq: draw.head_seq,
        entries_sampled: draw.entries_sampled,
        not_reperformed: rows.len() - agreeing - differing,
        rows,
        agreeing,
        differing,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}
