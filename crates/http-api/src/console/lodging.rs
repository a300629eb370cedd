//! Lodging a file of declarations from the console.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clearance::ClearanceError;
use serde_json::Value;
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/lodge", get(lodge_page::<S>).post(lodge_file::<S>))
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
        match state.clearance.lodge(&caller, Some(&key), &body).await {
            Ok(receipt) => {
                row.outcome = tr.t(if receipt.created {
                    "lodge-created"
                } else {
                    "lodge-repeated"
                });
                row.id = Some(receipt.id);
                row.number = receipt.number;
            }
            Err(ClearanceError::Invalid(errors)) => {
                row.outcome = tr.t("lodge-refused");
                row.errors = errors
                    .iter()
                    .map(|e| (e.path.clone(), pick(&e.message_en, &e.message_zh)))
                    .collect();
            }
            Err(ClearanceError::Forbidden {
                message_en,
                message_zh,
                errors,
            }) => {
                row.outcome = tr.t("lodge-refused");
                row.errors = std::iter::once((String::new(), pick(&message_en, &message_zh)))
                    .chain(
                        errors
                            .iter()
                            .map(|e| (e.path.clone(), pick(&e.message_en, &e.message_zh))),
                    )
                    .collect();
            }
            Err(other) => return crate::problem::ApiError::from(other).into_response(),
        }
        results.push(row);
    }
    let page = LodgePage {
        page: visit.page(Some(user_bar(&caller))),
        problem: None,
        results,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}
