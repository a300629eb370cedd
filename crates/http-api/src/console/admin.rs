//! The administrator's pages: reference-data releases (import with their validation report, the
//! dry-run diff of a tariff, activation and roll-back), users (create, disable, set a password),
//! tokens (issue, showing the secret once, and revoke), enterprises (register, credit levels)
//! and broker authorisations. Administrators only: anybody else gets the not-found page.
//!
//! Every form posts with the CSRF token and calls the same service methods as the API; a refused
//! form comes back with an error summary linking to each field and the message beside it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clearance::releases::{NewRelease, ReleaseKind};
use clearance::{Action, Caller, ClearanceError, Role};
use serde::Deserialize;
use serde_json::Value;
use store::{ReleaseFileRow, Store};

use super::*;
use crate::AppState;
use crate::admission::HeavyJob;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/admin", get(admin_home::<S>))
        .route(
            "/console/admin/releases",
            get(releases_page::<S>).post(import_release::<S>),
        )
        .route("/console/admin/releases/rollback", post(roll_back::<S>))
        .route("/console/admin/releases/{id}", get(release_page::<S>))
        .route(
            "/console/admin/releases/{id}/dry-run",
            get(dry_run_page::<S>),
        )
        .route(
            "/console/admin/releases/{id}/activation",
            post(activate::<S>),
        )
        .route(
            "/console/admin/users",
            get(users_page::<S>).post(create_user::<S>),
        )
        .route("/console/admin/users/disablement", post(disable_user::<S>))
        .route("/console/admin/users/password", post(set_password::<S>))
        .route(
            "/console/admin/tokens",
            get(tokens_page::<S>).post(issue_token::<S>),
        )
        .route("/console/admin/tokens/revocation", post(revoke_token::<S>))
        .route(
            "/console/admin/enterprises",
            get(enterprises_page::<S>).post(register_enterprise::<S>),
        )
        .route("/console/admin/credit", post(set_credit_level::<S>))
        .route("/console/admin/brokers", post(broker_authorisation::<S>))
}

/// The most bytes the files of one release uploaded from the console may hold together (under
/// the console's body limit); a larger release goes through the API (`POST /v1/releases`).
pub const CONSOLE_RELEASE_UPLOAD_BYTES_MAX: usize = 3 * 1024 * 1024;
/// The most users, tokens or enterprises an administration page lists (the newest tokens).
pub const CONSOLE_ADMIN_LIST_MAX: usize = 200;
/// Recent declarations a dry run compares unless the form asks for another number.
pub const CONSOLE_DRY_RUN_SAMPLE_DEFAULT: usize = 200;

/// Whether the role administers the platform (releases, users, tokens, enterprises).
pub(crate) fn administers(role: Role) -> bool {
    Action::ManageUsers.allowed(role) && Action::ManageReleases.allowed(role)
}

/// One error of a form: the field it belongs to (an element id), the service's path, the message.
pub(crate) struct FieldMessage {
    pub field: String,
    pub path: String,
    pub message: String,
}

/// What a form's answer says: its errors, or what was done.
#[derive(Default)]
pub(crate) struct Feedback {
    pub errors: Vec<FieldMessage>,
    pub notice: Option<String>,
    /// What a refused form said, by element id, so that it comes back filled in.
    pub values: Vec<(String, String)>,
}

impl Feedback {
    /// Keeps what the form said when it is refused (never a password).
    fn keep(mut self, values: &[(&str, &str)]) -> Feedback {
        if !self.errors.is_empty() {
            self.values = values
                .iter()
                .map(|(id, value)| ((*id).to_owned(), (*value).to_owned()))
                .collect();
        }
        self
    }

    /// What the refused form said in a field, or empty.
    pub(crate) fn value(&self, field: &str) -> &str {
        self.values
            .iter()
            .find(|(id, _)| id == field)
            .map_or("", |(_, value)| value.as_str())
    }

    fn done(notice: String) -> Feedback {
        Feedback {
            notice: Some(notice),
            ..Feedback::default()
        }
    }

    fn error(field: &str, message: String) -> Feedback {
        Feedback {
            errors: vec![FieldMessage {
                field: field.to_owned(),
                path: String::new(),
                message,
            }],
            ..Feedback::default()
        }
    }

    /// The messages for one field, joined (`None`: the field is fine).
    pub(crate) fn for_field(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }

    fn status(&self) -> StatusCode {
        if self.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

/// A refusal by the service as a form's feedback: each field error placed on the form's field
/// whose service path it names (`fields`: path, element id), others on `fallback`. An error that
/// is not a refusal (the store failed) is given back, to be answered as the API answers it.
fn refused(
    language: Language,
    error: ClearanceError,
    fields: &[(&str, &str)],
    fallback: &str,
) -> Result<Feedback, ClearanceError> {
    let pick = |en: &str, zh: &str| {
        if language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    let place = |path: &str| {
        fields
            .iter()
            .find(|(p, _)| path == *p || path.starts_with(&format!("{p}.")))
            .map_or(fallback, |(_, id)| id)
            .to_owned()
    };
    let field_errors = |errors: &[domain::FieldError]| -> Vec<FieldMessage> {
        errors
            .iter()
            .map(|e| FieldMessage {
                field: place(&e.path),
                path: e.path.clone(),
                message: pick(&e.message_en, &e.message_zh),
            })
            .collect()
    };
    let errors = match &error {
        ClearanceError::Invalid(errors) => field_errors(errors),
        ClearanceError::Forbidden {
            message_en,
            message_zh,
            errors,
        } => {
            let mut all = vec![FieldMessage {
                field: fallback.to_owned(),
                path: String::new(),
                message: pick(message_en, message_zh),
            }];
            all.extend(field_errors(errors));
            all
        }
        ClearanceError::NotFound => vec![FieldMessage {
            field: fallback.to_owned(),
            path: String::new(),
            message: pick("not found", "未找到"),
        }],
        _ => match refusal_text(language, &error) {
            Some(message) => vec![FieldMessage {
                field: fallback.to_owned(),
                path: String::new(),
                message,
            }],
            None => Vec::new(),
        },
    };
    if errors.is_empty() {
        return Err(error);
    }
    Ok(Feedback {
        errors,
        ..Feedback::default()
    })
}

/// An administrator's page visit: signed in and an administrator, or the answer instead (the
/// log-in page, or not found).
async fn admin_visit<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    query: &LanguageQuery,
    path: &str,
) -> Result<(Visit, Caller), Response> {
    let visit = Visit::of(headers, query, path);
    let caller = signed_in(state, headers).await?;
    if !administers(caller.role) {
        return Err(not_found(&visit, Some(user_bar(&caller))));
    }
    Ok((visit, caller))
}

/// An administrator's form: CSRF, session, then the role (anybody else: not found).
async fn admin_acting<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    csrf: &str,
    path: &str,
) -> Result<(Visit, Caller), Response> {
    let (visit, caller) = acting(state, headers, csrf, path).await?;
    if !administers(caller.role) {
        return Err(not_found(&visit, Some(user_bar(&caller))));
    }
    Ok((visit, caller))
}

fn service_error(error: ClearanceError) -> Response {
    crate::problem::ApiError::from(error).into_response()
}

/// `/console/admin`: the releases page, for administrators.
pub(crate) async fn admin_home<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    match admin_visit(&state, &headers, &query, "/console/admin").await {
        Ok(_) => Redirect::to("/console/admin/releases").into_response(),
        Err(response) => response,
    }
}

// ---------------------------------------------------------------------------------------------
// Releases.

pub(crate) struct ReleaseRowView {
    pub id: String,
    pub label: String,
    pub status: String,
    pub effective_from: String,
    pub imported_at: String,
    pub summary: String,
}

pub(crate) struct KindView {
    pub kind: &'static str,
    pub title: String,
    pub rows: Vec<ReleaseRowView>,
}

#[derive(Template)]
#[template(path = "console/admin_releases.html")]
struct ReleasesPage {
    page: Page,
    feedback: Feedback,
    kinds: Vec<KindView>,
    /// The release just imported, with its check's summary.
    imported: Option<ReleaseRowView>,
    /// The errors are an upload's: shown as its validation report.
    report: bool,
    upload_max_mib: usize,
}

/// A release's summary (`{"lines": 295, ...}`) in words: `lines 295, rates 12`.
fn summary_text(summary: &Value) -> String {
    summary
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| match v.as_array() {
            // A list (the months of a rate table): its items, not its JSON.
            Some(items) => {
                let items: Vec<String> = items.iter().map(text).collect();
                format!("{k} {}", items.join(" "))
            }
            None => format!("{k} {}", text(v)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn release_row(tr: &Tr, offset: chrono::FixedOffset, view: &Value) -> ReleaseRowView {
    ReleaseRowView {
        id: text(&view["id"]),
        label: text(&view["label"]),
        status: tr.of("admin-release-status", &text(&view["status"])),
        effective_from: text(&view["effective_from"]),
        imported_at: crate::shown_time(offset, &text(&view["imported_at"])),
        summary: summary_text(&view["summary"]),
    }
}

async fn render_releases<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    feedback: Feedback,
    imported: Option<ReleaseRowView>,
    upload: bool,
) -> Response {
    let tr = visit.tr();
    let mut kinds = Vec::new();
    for kind in ReleaseKind::ALL {
        let releases = match state.clearance.releases(caller, kind).await {
            Ok(releases) => releases,
            Err(error) => return service_error(error),
        };
        kinds.push(KindView {
            kind: kind.as_str(),
            title: tr.of("admin-release-kind", kind.as_str()),
            // Newest first.
            rows: releases
                .iter()
                .rev()
                .map(|r| release_row(&tr, state.config.display_offset, r))
                .collect(),
        });
    }
    let status = feedback.status();
    let page = ReleasesPage {
        page: visit.page(Some(user_bar(caller))),
        report: upload && !feedback.errors.is_empty(),
        feedback,
        kinds,
        imported,
        upload_max_mib: CONSOLE_RELEASE_UPLOAD_BYTES_MAX / (1024 * 1024),
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn releases_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let (visit, caller) =
        match admin_visit(&state, &headers, &query, "/console/admin/releases").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    render_releases(&state, &visit, &caller, Feedback::default(), None, false).await
}

/// A release uploaded as files (`lines.csv`, ...; each named by its file name), checked by the
/// service: every problem of every file is listed (`file:line.field`), or the release is
/// imported, inert until activated.
pub(crate) async fn import_release<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (mut csrf, mut kind, mut label) = (String::new(), String::new(), String::new());
    let mut files: Vec<ReleaseFileRow> = Vec::new();
    let (mut bytes, mut unreadable) = (0usize, false);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("kind") => kind = field.text().await.unwrap_or_default(),
                Some("label") => label = field.text().await.unwrap_or_default(),
                Some("files") => {
                    let name = field.file_name().unwrap_or_default().to_owned();
                    match field.bytes().await {
                        Ok(content) if !content.is_empty() => {
                            bytes = bytes.saturating_add(content.len());
                            if bytes <= CONSOLE_RELEASE_UPLOAD_BYTES_MAX {
                                match String::from_utf8(content.to_vec()) {
                                    Ok(text) => files.push(ReleaseFileRow { name, text }),
                                    Err(_) => unreadable = true,
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            bytes = usize::MAX;
                            break;
                        }
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            // A body over the console's limit, or not multipart at all.
            Err(_) => {
                bytes = usize::MAX;
                break;
            }
        }
    }
    let kept = (kind.clone(), label.clone());
    let (visit, caller) =
        match admin_acting(&state, &headers, &csrf, "/console/admin/releases").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let mut feedback = Feedback::default();
    let kind = ReleaseKind::parse(&kind);
    if kind.is_none() {
        feedback.errors.push(FieldMessage {
            field: "release-kind".into(),
            path: "kind".into(),
            message: tr.t("admin-release-kind-required"),
        });
    }
    if bytes > CONSOLE_RELEASE_UPLOAD_BYTES_MAX {
        feedback.errors.push(FieldMessage {
            field: "release-files".into(),
            path: "files".into(),
            message: tr.t("admin-release-too-large"),
        });
    } else if unreadable {
        feedback.errors.push(FieldMessage {
            field: "release-files".into(),
            path: "files".into(),
            message: tr.t("admin-release-not-text"),
        });
    } else if files.is_empty() {
        feedback.errors.push(FieldMessage {
            field: "release-files".into(),
            path: "files".into(),
            message: tr.t("admin-release-no-files"),
        });
    } else if let Some(kind) = kind {
        // Only the kind's own files, each once.
        let expected = kind.accepted_files();
        for (i, file) in files.iter().enumerate() {
            let repeated = files[..i].iter().any(|f| f.name == file.name);
            if !expected.contains(&file.name.as_str()) || repeated {
                feedback.errors.push(FieldMessage {
                    field: "release-files".into(),
                    path: format!("files[{}]", file.name),
                    message: tr.with(
                        "admin-release-unexpected-file",
                        "files",
                        &expected.join(", "),
                    ),
                });
            }
        }
    }
    let Some(kind) = kind.filter(|_| feedback.errors.is_empty()) else {
        return render_releases(
            &state,
            &visit,
            &caller,
            feedback.keep(&[("release-kind", &kept.0), ("release-label", &kept.1)]),
            None,
            true,
        )
        .await;
    };
    let _permit = match state.jobs.admit(HeavyJob::ReleaseImport, caller.user_id()) {
        Ok(permit) => permit,
        Err(busy) => return busy.into_response(),
    };
    let release = NewRelease { kind, label, files };
    match state.clearance.import_release(&caller, release).await {
        Ok(view) => {
            let row = release_row(&tr, state.config.display_offset, &view);
            let notice = tr.with("admin-release-imported", "id", &row.id);
            render_releases(
                &state,
                &visit,
                &caller,
                Feedback::done(notice),
                Some(row),
                true,
            )
            .await
        }
        Err(error) => {
            let fields = [("label", "release-label"), ("kind", "release-kind")];
            match refused(visit.language, error, &fields, "release-files") {
                Ok(feedback) => {
                    render_releases(
                        &state,
                        &visit,
                        &caller,
                        feedback.keep(&[("release-kind", &kept.0), ("release-label", &kept.1)]),
                        None,
                        true,
                    )
                    .await
                }
                Err(error) => service_error(error),
            }
        }
    }
}

pub(crate) struct ChangeRow {
    pub number: String,
    pub now: String,
    pub candidate: String,
    pub difference: String,
    pub rates_now: String,
    pub rates_candidate: String,
}

pub(crate) struct DryRunView {
    pub compared: String,
    pub unchanged: String,
    pub changed: String,
    pub total_difference: String,
    pub not_assessable_under_candidate: String,
    pub assessable_only_under_candidate: String,
    pub changes: Vec<ChangeRow>,
    pub newly_not_assessable: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/admin_release.html")]
struct ReleasePage {
    page: Page,
    feedback: Feedback,
    release: ReleaseRowView,
    kind: String,
    /// Only a tariff is tried on recent declarations.
    tariff: bool,
    active: bool,
    sample: String,
    sample_max: usize,
    dry_run: Option<DryRunView>,
}

fn rates_text(rates: &Value) -> String {
    rates
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {} {}",
                text(&r["commodity_code"]),
                text(&r["column"]),
                text(&r["rate"])
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn dry_run_view(language: Language, report: &Value) -> DryRunView {
    let pick = |value: &Value| {
        let key = if language == Language::Zh { "zh" } else { "en" };
        text(&value[key])
    };
    DryRunView {
        compared: text(&report["declarations_compared"]),
        unchanged: text(&report["unchanged"]),
        changed: text(&report["changed"]),
        total_difference: text(&report["total_difference"]),
        not_assessable_under_candidate: text(&report["not_assessable_under_candidate"]),
        assessable_only_under_candidate: text(&report["assessable_only_under_candidate"]),
        changes: report["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| ChangeRow {
                number: text(&c["number"]),
                now: text(&c["total_payable_now"]),
                candidate: text(&c["total_payable_candidate"]),
                difference: text(&c["difference"]),
                rates_now: rates_text(&c["rates_now"]),
                rates_candidate: rates_text(&c["rates_candidate"]),
            })
            .collect(),
        newly_not_assessable: report["newly_not_assessable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                let problems = n["problems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{}: {}", text(&p["path"]), pick(p)))
                    .collect::<Vec<_>>()
                    .join("; ");
                (text(&n["number"]), problems)
            })
            .collect(),
    }
}

/// The release of `id` among every kind's, as the API shows it.
async fn find_release<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Option<(ReleaseKind, Value)>, ClearanceError> {
    for kind in ReleaseKind::ALL {
        let releases = state.clearance.releases(caller, kind).await?;
        if let Some(found) = releases.into_iter().find(|r| r["id"] == id) {
            return Ok(Some((kind, found)));
        }
    }
    Ok(None)
}

async fn render_release<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    feedback: Feedback,
    sample: String,
    dry_run: Option<DryRunView>,
) -> Response {
    let tr = visit.tr();
    let (kind, view) = match find_release(state, caller, id).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(visit, Some(user_bar(caller))),
        Err(error) => return service_error(error),
    };
    let status = feedback.status();
    let page = ReleasePage {
        page: visit.page(Some(user_bar(caller))),
        feedback,
        active: view["status"] == "active",
        release: release_row(&tr, state.config.display_offset, &view),
        kind: tr.of("admin-release-kind", kind.as_str()),
        tariff: kind == ReleaseKind::Tariff,
        sample,
        sample_max: clearance::releases::DRY_RUN_SAMPLE_MAX,
        dry_run,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn release_page<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let path = format!("/console/admin/releases/{id}");
    let (visit, caller) = match admin_visit(&state, &headers, &query, &path).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let sample = CONSOLE_DRY_RUN_SAMPLE_DEFAULT.to_string();
    render_release(
        &state,
        &visit,
        &caller,
        &id,
        Feedback::default(),
        sample,
        None,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DryRunQuery {
    lang: Option<String>,
    sample: Option<String>,
}

/// What a tariff release would change on recent declarations, next to the tariff in force:
/// nothing is recorded.
pub(crate) async fn dry_run_page<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<DryRunQuery>,
) -> Response {
    let language_query = LanguageQuery {
        lang: query.lang.clone(),
        cursor: None,
    };
    let path = format!("/console/admin/releases/{id}/dry-run");
    let (visit, caller) = match admin_visit(&state, &headers, &language_query, &path).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let raw = query
        .sample
        .unwrap_or_else(|| CONSOLE_DRY_RUN_SAMPLE_DEFAULT.to_string());
    let Ok(sample) = raw.trim().parse::<usize>() else {
        let feedback = Feedback::error("sample", tr.t("admin-sample-number"));
        return render_release(&state, &visit, &caller, &id, feedback, raw, None).await;
    };
    let _permit = match state.jobs.admit(HeavyJob::DryRun, caller.user_id()) {
        Ok(permit) => permit,
        Err(busy) => return busy.into_response(),
    };
    match state.clearance.dry_run(&caller, &id, sample).await {
        Ok(report) => {
            let view = dry_run_view(visit.language, &report);
            render_release(
                &state,
                &visit,
                &caller,
                &id,
                Feedback::default(),
                raw,
                Some(view),
            )
            .await
        }
        Err(error) => match refused(visit.language, error, &[("sample", "sample")], "sample") {
            Ok(feedback) => render_release(&state, &visit, &caller, &id, feedback, raw, None).await,
            Err(error) => service_error(error),
        },
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActivationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    effective_from: String,
}

pub(crate) async fn activate<S: Store>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActivationForm>,
) -> Response {
    let path = format!("/console/admin/releases/{id}");
    let (visit, caller) = match admin_acting(&state, &headers, &form.csrf, &path).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let sample = CONSOLE_DRY_RUN_SAMPLE_DEFAULT.to_string();
    let date = match crate::extract::parse_date("effective_from", form.effective_from.trim()) {
        Ok(date) => date,
        Err(error) => {
            let refusal = ClearanceError::Invalid(vec![error]);
            return match refused(visit.language, refusal, &[], "effective-from") {
                Ok(feedback) => {
                    render_release(
                        &state,
                        &visit,
                        &caller,
                        &id,
                        feedback.keep(&[("effective-from", &form.effective_from)]),
                        sample,
                        None,
                    )
                    .await
                }
                Err(error) => service_error(error),
            };
        }
    };
    let feedback = match state.clearance.activate_release(&caller, &id, date).await {
        Ok(_) => Feedback::done(tr.with("admin-release-activated", "id", &id)),
        Err(error) => match refused(visit.language, error, &[], "effective-from") {
            Ok(feedback) => feedback,
            Err(error) => return service_error(error),
        },
    };
    render_release(
        &state,
        &visit,
        &caller,
        &id,
        feedback.keep(&[("effective-from", &form.effective_from)]),
        sample,
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RollbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn roll_back<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RollbackForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/releases").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let fields = [("kind", "rollback-kind"), ("reason", "rollback-reason")];
    let Some(kind) = ReleaseKind::parse(&form.kind) else {
        let feedback = Feedback::error("rollback-kind", tr.t("admin-release-kind-required"));
        return render_releases(
            &state,
            &visit,
            &caller,
            feedback.keep(&[
                ("rollback-kind", &form.kind),
                ("rollback-reason", &form.reason),
            ]),
            None,
            false,
        )
        .await;
    };
    let feedback = match state
        .clearance
        .roll_back_release(&caller, kind, &form.reason)
        .await
    {
        Ok(view) => Feedback::done(tr.with("admin-release-rolled-back", "id", &text(&view["id"]))),
        Err(error) => match refused(visit.language, error, &fields, "rollback-kind") {
            Ok(feedback) => feedback,
            Err(error) => return service_error(error),
        },
    };
    render_releases(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("rollback-kind", &form.kind),
            ("rollback-reason", &form.reason),
        ]),
        None,
        false,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Users.

pub(crate) struct UserRowView {
    pub name: String,
    pub role: String,
    pub enterprise: String,
    pub disabled: bool,
}

pub(crate) struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "console/admin_users.html")]
struct UsersPage {
    page: Page,
    feedback: Feedback,
    users: Vec<UserRowView>,
    /// Enabled users, for the disable and password forms.
    enabled: Vec<Choice>,
    roles: Vec<Choice>,
    enterprises: Vec<Choice>,
    list_max: usize,
}

async fn render_users<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    feedback: Feedback,
) -> Response {
    let tr = visit.tr();
    let users = match state
        .clearance
        .users_as(caller, CONSOLE_ADMIN_LIST_MAX)
        .await
    {
        Ok(users) => users,
        Err(error) => return service_error(error),
    };
    let enterprises = match state
        .clearance
        .enterprises_as(caller, CONSOLE_ADMIN_LIST_MAX)
        .await
    {
        Ok(enterprises) => enterprises,
        Err(error) => return service_error(error),
    };
    let status = feedback.status();
    let page = UsersPage {
        page: visit.page(Some(user_bar(caller))),
        feedback,
        enabled: users
            .iter()
            .filter(|u| !u.disabled)
            .map(|u| Choice {
                value: u.name.clone(),
                label: u.name.clone(),
            })
            .collect(),
        users: users
            .into_iter()
            .map(|u| UserRowView {
                role: tr.of("admin-role", &u.role),
                name: u.name,
                enterprise: u.enterprise.unwrap_or_default(),
                disabled: u.disabled,
            })
            .collect(),
        roles: Role::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: tr.of("admin-role", r.as_str()),
            })
            .collect(),
        enterprises: enterprises
            .into_iter()
            .map(|e| Choice {
                label: format!("{} {}", e.credit_code, e.name),
                value: e.credit_code,
            })
            .collect(),
        list_max: CONSOLE_ADMIN_LIST_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn users_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let (visit, caller) = match admin_visit(&state, &headers, &query, "/console/admin/users").await
    {
        Ok(v) => v,
        Err(response) => return response,
    };
    render_users(&state, &visit, &caller, Feedback::default()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    enterprise: String,
}

pub(crate) async fn create_user<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<NewUserForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/users").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let Some(role) = Role::parse(&form.role) else {
        let feedback = Feedback::error("user-role", tr.t("admin-role-required"));
        return render_users(
            &state,
            &visit,
            &caller,
            feedback.keep(&[
                ("user-name", &form.name),
                ("user-role", &form.role),
                ("user-enterprise", &form.enterprise),
            ]),
        )
        .await;
    };
    let enterprise = Some(form.enterprise.trim()).filter(|e| !e.is_empty());
    let name = form.name.trim();
    let feedback = match state
        .clearance
        .create_user_as(&caller, name, role, enterprise)
        .await
    {
        Ok(user) => Feedback::done(tr.with("admin-user-created", "name", &user.name)),
        Err(error) => {
            let fields = [("name", "user-name"), ("enterprise", "user-enterprise")];
            match refused(visit.language, error, &fields, "user-name") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_users(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("user-name", &form.name),
            ("user-role", &form.role),
            ("user-enterprise", &form.enterprise),
        ]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn disable_user<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DisableForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/users").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let feedback = match state
        .clearance
        .disable_user_as(&caller, &form.user, &form.reason)
        .await
    {
        Ok(view) => {
            let mut notice = tr.with("admin-user-disabled", "name", &form.user);
            let open = view["open_tasks"].as_array().map_or(0, Vec::len);
            if open > 0 {
                notice = format!(
                    "{notice} {}",
                    tr.with("admin-user-open-tasks", "count", &open.to_string())
                );
            }
            Feedback::done(notice)
        }
        Err(error) => {
            let fields = [("user", "disable-user"), ("reason", "disable-reason")];
            match refused(visit.language, error, &fields, "disable-user") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_users(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("disable-user", &form.user),
            ("disable-reason", &form.reason),
        ]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn set_password<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/users").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let feedback = match state
        .clearance
        .set_password(&caller, &form.user, &form.password)
        .await
    {
        Ok(()) => Feedback::done(tr.with("admin-password-set", "name", &form.user)),
        Err(error) => {
            let fields = [("password", "password-new"), ("user", "password-user")];
            match refused(visit.language, error, &fields, "password-user") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_users(
        &state,
        &visit,
        &caller,
        feedback.keep(&[("password-user", &form.user)]),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Tokens.

pub(crate) struct TokenRowView {
    pub id: String,
    pub user: String,
    pub issued_at: String,
    pub expires_at: String,
    pub status: String,
    pub active: bool,
}

/// A token just issued: its secret, shown this once.
pub(crate) struct IssuedToken {
    pub id: String,
    pub user: String,
    pub secret: String,
    pub expires_at: String,
}

#[derive(Template)]
#[template(path = "console/admin_tokens.html")]
struct TokensPage {
    page: Page,
    feedback: Feedback,
    tokens: Vec<TokenRowView>,
    users: Vec<Choice>,
    issued: Option<IssuedToken>,
    /// The lifetime field's label and its default, in days.
    days_label: String,
    days_default: String,
    list_max: usize,
}

async fn render_tokens<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    feedback: Feedback,
    issued: Option<IssuedToken>,
) -> Response {
    let tr = visit.tr();
    let listed = match state.clearance.tokens_as(caller, None).await {
        Ok(listed) => listed,
        Err(error) => return service_error(error),
    };
    let users = match state
        .clearance
        .users_as(caller, CONSOLE_ADMIN_LIST_MAX)
        .await
    {
        Ok(users) => users,
        Err(error) => return service_error(error),
    };
    let all = listed["tokens"].as_array().cloned().unwrap_or_default();
    let tokens = all
        .iter()
        .rev()
        .take(CONSOLE_ADMIN_LIST_MAX)
        .map(|t| TokenRowView {
            id: text(&t["id"]),
            user: text(&t["user"]),
            issued_at: crate::shown_time(state.config.display_offset, &text(&t["issued_at"])),
            expires_at: crate::shown_time(state.config.display_offset, &text(&t["expires_at"])),
            active: t["status"] == "active",
            status: tr.of("admin-token-status", &text(&t["status"])),
        })
        .collect();
    let status = feedback.status();
    let page = TokensPage {
        page: visit.page(Some(user_bar(caller))),
        feedback,
        tokens,
        users: users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| Choice {
                value: u.name.clone(),
                label: u.name,
            })
            .collect(),
        issued,
        days_label: tr.with(
            "admin-token-days",
            "max",
            &clearance::TOKEN_LIFETIME_MAX_DAYS.to_string(),
        ),
        days_default: clearance::TOKEN_LIFETIME_DEFAULT_DAYS.to_string(),
        list_max: CONSOLE_ADMIN_LIST_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn tokens_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let (visit, caller) = match admin_visit(&state, &headers, &query, "/console/admin/tokens").await
    {
        Ok(v) => v,
        Err(response) => return response,
    };
    render_tokens(&state, &visit, &caller, Feedback::default(), None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct IssueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    days: String,
}

pub(crate) async fn issue_token<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<IssueForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/tokens").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let days = match form.days.trim() {
        "" => None,
        raw => match raw.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                let feedback = Feedback::error("token-days", tr.t("admin-days-number"));
                return render_tokens(
                    &state,
                    &visit,
                    &caller,
                    feedback.keep(&[("token-user", &form.user), ("token-days", &form.days)]),
                    None,
                )
                .await;
            }
        },
    };
    match state
        .clearance
        .issue_token_view(&caller, &form.user, days)
        .await
    {
        Ok(view) => {
            let issued = IssuedToken {
                id: text(&view["id"]),
                user: text(&view["user"]),
                secret: text(&view["token"]),
                expires_at: crate::shown_time(
                    state.config.display_offset,
                    &text(&view["expires_at"]),
                ),
            };
            let notice = tr.with("admin-token-issued", "name", &issued.user);
            render_tokens(
                &state,
                &visit,
                &caller,
                Feedback::done(notice),
                Some(issued),
            )
            .await
        }
        Err(error) => {
            let fields = [("expires_in_days", "token-days"), ("user", "token-user")];
            match refused(visit.language, error, &fields, "token-user") {
                Ok(feedback) => {
                    render_tokens(
                        &state,
                        &visit,
                        &caller,
                        feedback.keep(&[("token-user", &form.user), ("token-days", &form.days)]),
                        None,
                    )
                    .await
                }
                Err(error) => service_error(error),
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

pub(crate) async fn revoke_token<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/tokens").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let feedback = match state.clearance.revoke_token_as(&caller, &form.id).await {
        Ok(_) => Feedback::done(tr.with("admin-token-revoked", "id", &form.id)),
        Err(error) => match refused(visit.language, error, &[], "tokens") {
            Ok(feedback) => feedback,
            Err(error) => return service_error(error),
        },
    };
    render_tokens(&state, &visit, &caller, feedback, None).await
}

// ---------------------------------------------------------------------------------------------
// Enterprises, credit levels and broker authorisations.

pub(crate) struct EnterpriseRowView {
    pub credit_code: String,
    pub customs_code: String,
    pub name: String,
    pub credit_level: String,
    /// The enterprise's webhook URL and how far it was delivered, if it registered one.
    pub webhook: String,
}

#[derive(Template)]
#[template(path = "console/admin_enterprises.html")]
struct EnterprisesPage {
    page: Page,
    feedback: Feedback,
    enterprises: Vec<EnterpriseRowView>,
    choices: Vec<Choice>,
    levels: Vec<Choice>,
    list_max: usize,
}

async fn render_enterprises<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    feedback: Feedback,
) -> Response {
    let tr = visit.tr();
    let enterprises = match state
        .clearance
        .enterprises_as(caller, CONSOLE_ADMIN_LIST_MAX)
        .await
    {
        Ok(enterprises) => enterprises,
        Err(error) => return service_error(error),
    };
    let webhooks = match state.clearance.webhooks_as(caller).await {
        Ok(webhooks) => webhooks,
        Err(error) => return service_error(error),
    };
    let webhook_of = |code: &str| {
        webhooks
            .iter()
            .find(|w| w.enterprise == code)
            .map(|w| {
                let delivered = tr.with("admin-webhook-delivered", "cursor", &w.delivered);
                format!("{} ({delivered})", w.url)
            })
            .unwrap_or_default()
    };
    let status = feedback.status();
    let page = EnterprisesPage {
        page: visit.page(Some(user_bar(caller))),
        feedback,
        choices: enterprises
            .iter()
            .map(|e| Choice {
                value: e.credit_code.clone(),
                label: format!("{} {}", e.credit_code, e.name),
            })
            .collect(),
        enterprises: enterprises
            .into_iter()
            .map(|e| EnterpriseRowView {
                credit_level: tr.of(
                    "admin-level",
                    e.credit_level.as_deref().unwrap_or("general"),
                ),
                webhook: webhook_of(&e.credit_code),
                credit_code: e.credit_code,
                customs_code: e.customs_code,
                name: e.name,
            })
            .collect(),
        levels: clearance::CREDIT_LEVELS
            .iter()
            .map(|(name, _)| Choice {
                value: (*name).to_owned(),
                label: tr.of("admin-level", name),
            })
            .collect(),
        list_max: CONSOLE_ADMIN_LIST_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn enterprises_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let (visit, caller) =
        match admin_visit(&state, &headers, &query, "/console/admin/enterprises").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    render_enterprises(&state, &visit, &caller, Feedback::default()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnterpriseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    customs_code: String,
    #[serde(default)]
    name: String,
}

pub(crate) async fn register_enterprise<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<EnterpriseForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/enterprises").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let feedback = match state
        .clearance
        .create_enterprise_as(
            &caller,
            form.credit_code.trim(),
            form.customs_code.trim(),
            form.name.trim(),
        )
        .await
    {
        Ok(row) => Feedback::done(tr.with("admin-enterprise-registered", "code", &row.credit_code)),
        Err(error) => {
            let fields = [
                ("credit_code", "enterprise-credit-code"),
                ("customs_code", "enterprise-customs-code"),
                ("name", "enterprise-name"),
            ];
            match refused(visit.language, error, &fields, "enterprise-credit-code") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_enterprises(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("enterprise-credit-code", &form.credit_code),
            ("enterprise-customs-code", &form.customs_code),
            ("enterprise-name", &form.name),
        ]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn set_credit_level<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CreditForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/enterprises").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let feedback = match state
        .clearance
        .set_credit_level_as(&caller, &form.credit_code, &form.level, &form.reason)
        .await
    {
        Ok(view) => {
            let level = tr.of("admin-level", &text(&view["level"]));
            let mut args = FluentArgs::new();
            args.set("code", form.credit_code.clone());
            args.set("level", level);
            Feedback::done(format!(
                "{} {}",
                tr.t("admin-credit-set-done"),
                tr.format("admin-credit-set-notice", Some(&args))
            ))
        }
        Err(error) => {
            let fields = [
                ("credit_code", "credit-enterprise"),
                ("level", "credit-level"),
                ("reason", "credit-reason"),
            ];
            match refused(visit.language, error, &fields, "credit-enterprise") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_enterprises(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("credit-enterprise", &form.credit_code),
            ("credit-level", &form.level),
            ("credit-reason", &form.reason),
        ]),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct BrokerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    broker: String,
    #[serde(default)]
    reason: String,
    /// `grant` or `withdraw` (the button pressed).
    #[serde(default)]
    action: String,
}

pub(crate) async fn broker_authorisation<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BrokerForm>,
) -> Response {
    let (visit, caller) =
        match admin_acting(&state, &headers, &form.csrf, "/console/admin/enterprises").await {
            Ok(v) => v,
            Err(response) => return response,
        };
    let tr = visit.tr();
    let mut args = FluentArgs::new();
    args.set("principal", form.principal.clone());
    args.set("broker", form.broker.clone());
    let outcome = match form.action.as_str() {
        "grant" => state
            .clearance
            .authorise_broker_as(&caller, &form.broker, &form.principal)
            .await
            .map(|()| tr.format("admin-broker-granted", Some(&args))),
        "withdraw" => state
            .clearance
            .withdraw_broker_as(&caller, &form.principal, &form.broker, &form.reason)
            .await
            .map(|_| tr.format("admin-broker-withdrawn", Some(&args))),
        _ => {
            let feedback = Feedback::error("broker-principal", tr.t("admin-broker-action"));
            return render_enterprises(
                &state,
                &visit,
                &caller,
                feedback.keep(&[
                    ("broker-principal", &form.principal),
                    ("broker-broker", &form.broker),
                    ("broker-reason", &form.reason),
                ]),
            )
            .await;
        }
    };
    let feedback = match outcome {
        Ok(notice) => Feedback::done(notice),
        Err(error) => {
            let fields = [
                ("principal", "broker-principal"),
                ("broker", "broker-broker"),
                ("reason", "broker-reason"),
                ("enterprise", "broker-principal"),
            ];
            match refused(visit.language, error, &fields, "broker-principal") {
                Ok(feedback) => feedback,
                Err(error) => return service_error(error),
            }
        }
    };
    render_enterprises(
        &state,
        &visit,
        &caller,
        feedback.keep(&[
            ("broker-principal", &form.principal),
            ("broker-broker", &form.broker),
            ("broker-reason", &form.reason),
        ]),
    )
    .await
}
