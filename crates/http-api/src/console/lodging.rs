//! Lodging a file of declarations from the console.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/lodge", get(lodge_page::<S>).post(lodge_file::<S>))
        .route("/console/lodge/results/{file}", get(result_file::<S>))
}

/// Result files kept at once (the oldest goes first), and how long each is kept: the file of an
/// upload is offered on its result page, to its own user, for a short while.
pub const CONSOLE_UPLOAD_RESULTS_KEPT: usize = 64;
pub const CONSOLE_UPLOAD_RESULT_TTL_SECONDS: u64 = 15 * 60;

/// One upload's per-row result file (CSV), kept in memory for its user.
struct ResultFile {
    id: String,
    user_id: String,
    made: std::time::Instant,
    csv: String,
}

/// The result files of recent uploads. Kept here rather than re-derived: a refused row is not
/// recorded anywhere (nothing was lodged), so only the upload's own answer knows its errors.
fn result_files() -> &'static std::sync::Mutex<std::collections::VecDeque<ResultFile>> {
    static FILES: std::sync::OnceLock<std::sync::Mutex<std::collections::VecDeque<ResultFile>>> =
        std::sync::OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// Keeps an upload's result file; its id, to fetch it by.
fn keep_result_file(user_id: &str, csv: String, now: std::time::Instant) -> String {
    let id = hex_of(&rand::random::<[u8; 16]>());
    let mut files = result_files().lock().unwrap_or_else(|e| e.into_inner());
    let ttl = std::time::Duration::from_secs(CONSOLE_UPLOAD_RESULT_TTL_SECONDS);
    files.retain(|f| now.saturating_duration_since(f.made) < ttl);
    while files.len() >= CONSOLE_UPLOAD_RESULTS_KEPT {
        files.pop_front();
    }
    files.push_back(ResultFile {
        id: id.clone(),
        user_id: user_id.to_owned(),
        made: now,
        csv,
    });
    id
}

/// A CSV field: quoted when it must be, and never read as a formula by a spreadsheet.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One row of an upload's result: its position, outcome, number, and errors (path, en, zh).
type ResultRow = (usize, &'static str, String, Vec<(String, String, String)>);

/// The per-row result file: row, outcome, declaration number, field path, message in English and
/// in Chinese; a row with several errors has a line for each.
fn results_csv(rows: &[ResultRow]) -> String {
    // A byte order mark, so that spreadsheets read the Chinese as UTF-8.
    let mut csv =
        String::from("\u{feff}row,outcome,declaration_number,field,message_en,message_zh\r\n");
    for (row, outcome, number, errors) in rows {
        if errors.is_empty() {
            csv.push_str(&format!("{row},{outcome},{},,,\r\n", csv_field(number)));
        }
        for (path, en, zh) in errors {
            csv.push_str(&format!(
                "{row},{outcome},{},{},{},{}\r\n",
                csv_field(number),
                csv_field(path),
                csv_field(en),
                csv_field(zh)
            ));
        }
    }
    csv
}

/// The result file `file` (its id, `.csv` or not) of `user_id`, if it is kept and not expired.
fn fetch_result_file(file: &str, user_id: &str, now: std::time::Instant) -> Option<String> {
    let ttl = std::time::Duration::from_secs(CONSOLE_UPLOAD_RESULT_TTL_SECONDS);
    let files = result_files().lock().unwrap_or_else(|e| e.into_inner());
    files
        .iter()
        .find(|f| {
            f.id == file.trim_end_matches(".csv")
                && f.user_id == user_id
                && now.saturating_duration_since(f.made) < ttl
        })
        .map(|f| f.csv.clone())
}

/// An upload's result file, to the user who uploaded, while it is kept; else the not-found page.
pub(crate) async fn result_file<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let visit = Visit::of(&headers, &LanguageQuery::default(), "/console/lodge");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let csv = fetch_result_file(&file, caller.user_id(), std::time::Instant::now());
    let Some(csv) = csv else {
        return not_found(&visit, Some(user_bar(&caller)));
    };
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    secure(headers);
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"lodging-results.csv\""),
    );
    response
}
/// Declarations one uploaded file may hold: the file is refused whole above it, before any is
/// lodged (a larger batch goes through the API or `customs lodge`).
pub const CONSOLE_UPLOAD_DECLARATIONS_MAX: usize = 100;

pub(crate) struct UploadRow {
    pub index: usize,
    pub id: Option<String>,
    pub number: String,
    pub outcome: String,
    pub errors: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/lodge.html")]
struct LodgePage {
    page: Page,
    problem: Option<String>,
    results: Vec<UploadRow>,
    /// Where the per-row result file of this upload is fetched.
    results_file: Option<String>,
}

pub(crate) async fn lodge_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/lodge");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let page = LodgePage {
        page: visit.page(Some(user_bar(&caller))),
        problem: None,
        results: Vec::new(),
        results_file: None,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// A file of declarations lodged one after the other, each answered on its own row: its number,
/// or every error with its field path. Each declaration's idempotency key is the hash of its
/// text, so sending the same file again lodges nothing twice.
pub(crate) async fn lodge_file<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (mut csrf, mut file) = (String::new(), None::<Vec<u8>>);
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => file = field.bytes().await.ok().map(|b| b.to_vec()),
            _ => {}
        }
    }
    let (visit, caller) = match acting(&state, &headers, &csrf, "/console/lodge").await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let refuse = |problem: String| {
        let page = LodgePage {
            page: visit.page(Some(user_bar(&caller))),
            problem: Some(problem),
            results: Vec::new(),
            results_file: None,
        };
        respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.render(),
            visit.cookies.clone(),
        )
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return refuse(tr.t("lodge-no-file"));
    };
    let declarations = match serde_json::from_slice::<Value>(&file) {
        Ok(Value::Array(values)) => values,
        Ok(single @ Value::Object(_)) => vec![single],
        _ => return refuse(tr.t("lodge-not-json")),
    };
    if declarations.len() > CONSOLE_UPLOAD_DECLARATIONS_MAX {
        return refuse(tr.t("lodge-too-many"));
    }
    let pick = |en: &str, zh: &str| {
        if visit.language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    let mut results = Vec::new();
    let mut file_rows = Vec::new();
    for (index, declaration) in declarations.iter().enumerate() {
        use sha2::Digest;
        let body = serde_json::to_vec(declaration).unwrap_or_default();
        let key = format!("file-{}", hex::encode(&sha2::Sha256::digest(&body)[..16]));
        let mut row = UploadRow {
            index: index + 1,
            id: None,
            number: String::new(),
            outcome: String::new(),
            errors: Vec::new(),
        };
        let lodged = match crate::batches::lodge_one(
            &state.clearance,
            &state.metrics,
            &caller,
            &key,
            &body,
            wire::MessageFormat::Json,
        )
        .await
        {
            Ok(lodged) => lodged,
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        };
        file_rows.push((
            index + 1,
            lodged.outcome,
            lodged.number.clone(),
            lodged
                .errors
                .iter()
                .map(|e| (e.path.clone(), e.message_en.clone(), e.message_zh.clone()))
                .collect(),
        ));
        row.outcome = tr.t(match lodged.outcome {
            "created" => "lodge-created",
            "repeated" => "lodge-repeated",
            _ => "lodge-refused",
        });
        row.id = lodged.id;
        row.number = lodged.number;
        row.errors = lodged
            .errors
            .iter()
            .map(|e| (e.path.clone(), pick(&e.message_en, &e.message_zh)))
            .collect();
        results.push(row);
    }
    let file = keep_result_file(
        caller.user_id(),
        results_csv(&file_rows),
        std::time::Instant::now(),
    );
    let page = LodgePage {
        page: visit.page(Some(user_bar(&caller))),
        problem: None,
        results,
        results_file: Some(format!("/console/lodge/results/{file}.csv")),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_result_file_is_kept_for_its_time_and_for_its_user_only() {
        let made = Instant::now();
        let id = keep_result_file("user-a", "row\r\n".to_owned(), made);
        let ttl = Duration::from_secs(CONSOLE_UPLOAD_RESULT_TTL_SECONDS);
        let just_before = made + ttl - Duration::from_millis(1);
        assert!(fetch_result_file(&format!("{id}.csv"), "user-a", just_before).is_some());
        assert!(fetch_result_file(&id, "user-b", just_before).is_none());
        assert!(fetch_result_file(&id, "user-a", made + ttl).is_none());
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("报关单"), "报关单");
    }
}
