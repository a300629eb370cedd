//! The officers' bulk reassessment jobs (批量重新计征): the list of jobs with their totals
//! (`Clearance::bulk_reassessments`, as `GET /v1/reassessments`) and one job's differences, per
//! declaration a pay-more or a refund (`Clearance::bulk_reassessment`, as
//! `GET /v1/reassessments/{job}`). Read only: jobs are run from the API or `customs rates
//! reassess`. Roles that may not reassess, the trade above all, get the not-found page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clearance::{Action, Caller, ClearanceError};
use serde::Deserialize;
use serde_json::Value;
use store::Store;

use super::analyst::urlencoding;
use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/reassessments", get(jobs_page::<S>))
        .route("/console/reassessments/{job}", get(job_page::<S>))
}

/// A job as a row of the list, and the head of its own page.
pub(crate) struct JobRow {
    pub url: String,
    pub job: String,
    pub release: String,
    pub kind: String,
    pub mode: String,
    pub state: String,
    pub started_by: String,
    pub started_at: String,
    pub processed: String,
    pub declarations: String,
    pub released_not_reassessed: String,
    pub more: bool,
    pub pay_more_total: String,
    pub refund_total: String,
    pub refund_due_total: String,
    pub changed: String,
    pub unchanged: String,
    pub failed: String,
}

/// One declaration's difference in a job.
pub(crate) struct LineRow {
    pub number: String,
    pub outcome: String,
    /// `pay_more`, `refund`, ... (for the page's style and tests).
    pub outcome_code: String,
    pub previous_total: String,
    pub total_payable: String,
    pub difference: String,
    pub refund_due: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "console/reassessments.html")]
struct JobsPage {
    page: Page,
    jobs: Vec<JobRow>,
}

#[derive(Template)]
#[template(path = "console/reassessment.html")]
struct JobPage {
    page: Page,
    job: JobRow,
    lines: Vec<LineRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobQuery {
    /// The officer who ran the job (a job's key is in its officer's scope).
    by: Option<String>,
}

/// The caller, if it may see bulk jobs; otherwise the not-found page (as for any customs-only
/// page the trade asks for).
async fn officer<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    visit: &Visit,
) -> Result<Caller, Response> {
    let caller = signed_in(state, headers).await?;
    if caller.role.is_trade() || caller.require(Action::Reassess).is_err() {
        return Err(not_found(visit, Some(user_bar(&caller))));
    }
    Ok(caller)
}

fn job_row(
    tr: &Tr,
    offset: chrono::FixedOffset,
    names: &std::collections::HashMap<String, String>,
    job: &Value,
) -> JobRow {
    let totals = &job["totals"];
    let started_by = text(&job["started_by"]);
    JobRow {
        url: format!(
            "/console/reassessments/{}?by={}",
            urlencoding(&text(&job["job"])),
            urlencoding(&started_by)
        ),
        job: text(&job["job"]),
        release: text(&job["release"]),
        kind: tr.of("bulk-kind", &text(&job["kind"])),
        mode: tr.of("bulk-mode", &text(&job["mode"])),
        state: tr.of("bulk-state", &text(&job["state"])),
        started_by: names.get(&started_by).cloned().unwrap_or(started_by),
        started_at: crate::shown_time(offset, &text(&job["started_at"])),
        processed: text(&job["processed"]),
        declarations: text(&job["declarations"]),
        released_not_reassessed: text(&job["released_not_reassessed"]),
        more: job["more"] == true,
        pay_more_total: text(&totals["pay_more_total"]),
        refund_total: text(&totals["refund_total"]),
        refund_due_total: text(&totals["refund_due_total"]),
        changed: text(&totals["changed"]),
        unchanged: text(&totals["unchanged"]),
        failed: text(&totals["failed"]),
    }
}

async fn names_of<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    jobs: &[&Value],
) -> std::collections::HashMap<String, String> {
    let ids: Vec<String> = jobs.iter().map(|j| text(&j["started_by"])).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    state
        .clearance
        .actor_names(caller, &ids)
        .await
        .unwrap_or_default()
}

fn failure(visit: &Visit, caller: &Caller, error: ClearanceError) -> Response {
    match error {
        ClearanceError::NotFound | ClearanceError::Forbidden { .. } => {
            not_found(visit, Some(user_bar(caller)))
        }
        other => crate::problem::ApiError::from(other).into_response(),
    }
}

pub(crate) async fn jobs_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/reassessments");
    let caller = match officer(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let jobs = match state.clearance.bulk_reassessments(&caller).await {
        Ok(jobs) => jobs,
        Err(error) => return failure(&visit, &caller, error),
    };
    let names = names_of(&state, &caller, &jobs.iter().collect::<Vec<_>>()).await;
    let tr = visit.tr();
    let page = JobsPage {
        page: visit.page(Some(user_bar(&caller))),
        jobs: jobs
            .iter()
            .map(|j| job_row(&tr, state.config.display_offset, &names, j))
            .collect(),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

pub(crate) async fn job_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(job): Path<String>,
    Query(query): Query<LanguageQuery>,
    Query(by): Query<JobQuery>,
) -> Response {
    let by_part = by
        .by
        .as_deref()
        .map(|b| format!("?by={}", urlencoding(b)))
        .unwrap_or_default();
    let path = format!("/console/reassessments/{}{by_part}", urlencoding(&job));
    let visit = Visit::of(&headers, &query, &path);
    let caller = match officer(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let started_by = by.by.unwrap_or_else(|| caller.user_id().to_owned());
    let found = match state
        .clearance
        .bulk_reassessment(&caller, &started_by, &job)
        .await
    {
        Ok(found) => found,
        Err(error) => return failure(&visit, &caller, error),
    };
    let names = names_of(&state, &caller, &[&found]).await;
    let tr = visit.tr();
    let language = visit.language;
    let lines = found["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let outcome = text(&line["outcome"]);
            // Why a declaration was not reassessed, in the user's language where the service
            // says it in both.
            let note = match outcome.as_str() {
                "not_assessed" => line["problems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let key = if language == Language::Zh { "zh" } else { "en" };
                        text(&p[key])
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                "failed" => text(&line["reason"]),
                _ => String::new(),
            };
            LineRow {
                number: text(&line["number"]),
                outcome: tr.of("bulk-outcome", &outcome),
                outcome_code: outcome,
                previous_total: text(&line["previous_total"]),
                total_payable: text(&line["total_payable"]),
                difference: text(&line["difference"]),
                refund_due: text(&line["refund_due"]),
                note,
            }
        })
        .collect();
    let page = JobPage {
        page: visit.page(Some(user_bar(&caller))),
        job: job_row(&tr, state.config.display_offset, &names, &found),
        lines,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}
