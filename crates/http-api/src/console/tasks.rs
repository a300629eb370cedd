//! The officers' queue by office: each open task with its declaration's number, trader and goods,
//! what is asked and why (the selection's reasons: customs roles only, as every reader of this
//! page is), its priority and age; the officer's own tasks or the office's, highest priority or
//! oldest first. A supervisor sees every officer's tasks and reassigns them from here.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clearance::ClearanceError;
use serde::Deserialize;
use serde_json::Value;
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/tasks", get(tasks::<S>))
}

pub(crate) struct TaskRowView {
    pub id: String,
    pub kind: String,
    pub declaration_id: String,
    pub number: String,
    pub trader: String,
    pub goods: String,
    pub reasons: Vec<String>,
    pub priority: u64,
    pub age: String,
    pub age_minutes: i64,
    pub office: String,
    pub created_at: String,
    pub assigned_to: String,
}

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TasksPage {
    page: Page,
    rows: Vec<TaskRowView>,
    offices: Vec<String>,
    office: String,
    mine: bool,
    by_age: bool,
    /// The officer's own queue is theirs to choose; a supervisor reassigns.
    officer: bool,
    supervisor: bool,
}

/// Tasks the queue page lists at most.
pub(crate) const CONSOLE_TASKS_MAX: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    lang: Option<String>,
    office: Option<String>,
    /// `mine` (an officer's default) or `office`.
    scope: Option<String>,
    /// `priority` (default: highest first, then oldest) or `age` (oldest first).
    sort: Option<String>,
}

/// The queue: open tasks, of an office if chosen, the officer's own unless they ask for the
/// office's.
pub(crate) async fn tasks<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<QueueQuery>,
) -> Response {
    let language_query = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let visit = Visit::of(&headers, &language_query, "/console/tasks");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let officer = caller.role == clearance::Role::Officer;
    let supervisor = caller.role == clearance::Role::Supervisor;
    let mine = officer && query.scope.as_deref() != Some("office");
    let office = query
        .office
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty() && o.len() <= 8 && o.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    // Every office with open tasks, for the filter.
    let all = match state
        .clearance
        .tasks(&caller, mine, None, Some("open"), CONSOLE_TASKS_MAX)
        .await
    {
        Ok(listed) => listed,
        // Not a customs user: the page does not exist for them.
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(&visit, Some(user_bar(&caller)));
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let mut offices: Vec<String> = all.iter().map(|t| text(&t["office"])).collect();
    offices.sort();
    offices.dedup();
    let listed = match &office {
        None => all,
        Some(office) => match state
            .clearance
            .tasks(&caller, mine, Some(office), Some("open"), CONSOLE_TASKS_MAX)
            .await
        {
            Ok(listed) => listed,
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        },
    };
    let key = if visit.language == Language::Zh {
        "zh"
    } else {
        "en"
    };
    let now = state.clearance.now();
    // A supervisor sees who has each task, by name (the officers a task could go to).
    let mut names: HashMap<String, String> = HashMap::new();
    if supervisor {
        for office in &offices {
            if let Ok(found) = state
                .clearance
                .reassignment_candidates(&caller, office)
                .await
            {
                for o in found["officers"].as_array().into_iter().flatten() {
                    names.insert(text(&o["id"]), text(&o["name"]));
                }
            }
        }
    }
    let mut rows = Vec::with_capacity(listed.len());
    for t in &listed {
        let declaration_id = text(&t["declaration_id"]);
        let (mut number, mut trader, mut goods) = (String::new(), String::new(), String::new());
        if let Ok(view) = state.clearance.declaration(&caller, &declaration_id).await {
            let document = serde_json::to_value(&view.declaration).unwrap_or(Value::Null);
            number = view.number.clone();
            trader = text(&document["trader"]["name"]);
            let items = document["items"].as_array().cloned().unwrap_or_default();
            goods = items
                .first()
                .map(|i| text(&i["description"]))
                .unwrap_or_default();
            if items.len() > 1 {
                goods = format!(
                    "{goods} {}",
                    tr.with("goods-more", "count", &(items.len() - 1).to_string())
                );
            }
        }
        let (mut reasons, mut priority) = (Vec::new(), 0u64);
        if let Ok(selection) = state.clearance.selection(&caller, &declaration_id).await {
            for reason in selection["reasons"].as_array().into_iter().flatten() {
                if reason["selected"] == true {
                    reasons.push(text(&reason[key]));
                    priority = priority.max(reason["priority"].as_u64().unwrap_or(0));
                }
            }
        }
        let created_at = text(&t["created_at"]);
        let age_minutes = chrono::DateTime::parse_from_rfc3339(&created_at)
            .map(|c| (now - c.with_timezone(&chrono::Utc)).num_minutes().max(0))
            .unwrap_or(0);
        let assigned = text(&t["assigned_to"]);
        rows.push(TaskRowView {
            id: text(&t["id"]),
            kind: tr.of("task", &text(&t["kind"])),
            declaration_id,
            number,
            trader,
            goods,
            reasons,
            priority,
            age: age(&tr, age_minutes),
            age_minutes,
            office: text(&t["office"]),
            created_at: crate::shown_time(state.config.display_offset, &created_at),
            assigned_to: names.get(&assigned).cloned().unwrap_or(assigned),
        });
    }
    let by_age = query.sort.as_deref() == Some("age");
    if by_age {
        rows.sort_by_key(|row| std::cmp::Reverse(row.age_minutes));
    } else {
        rows.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.age_minutes.cmp(&a.age_minutes))
        });
    }
    let page = TasksPage {
        page: visit.page(Some(user_bar(&caller))),
        rows,
        offices,
        office: office.unwrap_or_default(),
        mine,
        by_age,
        officer,
        supervisor,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// How long a task has waited, in minutes, hours or days.
fn age(tr: &Tr, minutes: i64) -> String {
    if minutes < 60 {
        tr.with("age-minutes", "count", &minutes.to_string())
    } else if minutes < 48 * 60 {
        tr.with("age-hours", "count", &(minutes / 60).to_string())
    } else {
        tr.with("age-days", "count", &(minutes / (24 * 60)).to_string())
    }
}
