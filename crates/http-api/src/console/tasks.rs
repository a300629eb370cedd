//! The officer's queue of tasks.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clearance::ClearanceError;
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/tasks", get(tasks::<S>))
}
pub(crate) struct TaskRowView {
    pub kind: String,
    pub declaration_id: String,
    pub office: String,
    pub created_at: String,
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TasksPage {
    page: Page,
    rows: Vec<TaskRowView>,
}

/// Tasks the queue page lists at most.
pub(crate) const CONSOLE_TASKS_MAX: usize = 100;

/// An officer's open tasks, oldest first.
pub(crate) async fn tasks<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/tasks");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let listed = match state
        .clearance
        .tasks(&caller, true, None, Some("open"), CONSOLE_TASKS_MAX)
        .await
    {
        Ok(listed) => listed,
        // Not a customs user: the page does not exist for them.
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(&visit, Some(user_bar(&caller)));
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let rows = listed
        .iter()
        .map(|t| TaskRowView {
            kind: tr.of("task", &text(&t["kind"])),
            declaration_id: text(&t["declaration_id"]),
            office: text(&t["office"]),
            created_at: text(&t["created_at"]),
        })
        .collect();
    let page = TasksPage {
        page: visit.page(Some(user_bar(&caller))),
        rows,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}
