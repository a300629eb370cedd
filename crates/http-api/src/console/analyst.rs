//! The risk analyst's pages (风险分析): the rule editor with the parser's errors in place and the
//! catalogue of names a rule may use, a rule's test against history, proposal and approval by a
//! second analyst (four eyes), retirement, each rule's performance, the watch list (布控名单) and
//! the risk models with their drift.
//!
//! Everything through the service calls of the API (`propose_rule`, `test_rule`, `approve_rule`,
//! `retire_rule`, `rule_statistics`, the watch list's and the models' calls): the service decides
//! who may do what. Customs roles that read rules see these pages read-only; the trade gets the
//! not-found page, before any work.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clearance::{Action, Caller, ClearanceError};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/rules", get(rules_page::<S>))
        .route(
            "/console/rules/editor",
            get(editor_page::<S>).post(editor_submit::<S>),
        )
        .route("/console/rules/check", post(check_rule::<S>))
        .route("/console/rules/performance", get(performance_page::<S>))
        .route(
            "/console/rules/{id}/versions/{version}/approval",
            post(approve_rule::<S>),
        )
        .route(
            "/console/rules/{id}/versions/{version}/retirement",
            post(retire_rule::<S>),
        )
        .route(
            "/console/watch-list",
            get(watch_page::<S>).post(watch_add::<S>),
        )
        .route(
            "/console/watch-list/{id}/approval",
            post(watch_approve::<S>),
        )
        .route("/console/watch-list/{id}/removal", post(watch_remove::<S>))
        .route("/console/models", get(models_page::<S>))
        .route("/console/models/rollback", post(model_roll_back::<S>))
        .route("/console/models/{id}/promotion", post(model_promote::<S>))
        .route("/console/models/{id}/drift", get(drift_page::<S>))
}

/// Declarations a rule is tested on unless the analyst says otherwise (the API's default).
pub const CONSOLE_RULE_TEST_SAMPLE_DEFAULT: usize = 200;
/// Hit declarations the test's answer lists (the count and rate cover them all).
pub const CONSOLE_RULE_HITS_SHOWN: usize = 20;
/// Declarations a drift page scores (the API's default; at most
/// `clearance::models::DRIFT_SAMPLE_MAX`).
pub const CONSOLE_DRIFT_SAMPLE: usize = 1_000;
/// Features the drift chart draws (the largest shifts; the table lists every one).
pub const CONSOLE_DRIFT_CHART_FEATURES_MAX: usize = 20;

const RULE_PURPOSES: [&str; 3] = ["safety", "revenue", "both"];
const RULE_ACTIONS: [&str; 4] = [
    "document_check",
    "physical_inspection",
    "lab_sampling",
    "hold",
];
const DIRECTIONS: [&str; 2] = ["import", "export"];
const WATCH_KINDS: [&str; 5] = [
    "importer",
    "declarant",
    "seller",
    "consignor",
    "transport_means",
];

/// Which analyst page is shown (the sub-navigation marks it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Rules,
    Editor,
    Performance,
    WatchList,
    Models,
}

/// What every analyst page shows besides its own content.
pub(crate) struct Analyst {
    pub section: Section,
    /// The caller may write (a risk analyst); other customs roles read.
    pub writer: bool,
    /// What was done (a status message).
    pub done: Option<String>,
    /// Why an action was refused, in the user's language.
    pub notice: Option<String>,
}

impl Analyst {
    fn new(section: Section, caller: &Caller) -> Analyst {
        Analyst {
            section,
            writer: caller.require(Action::WriteRules).is_ok(),
            done: None,
            notice: None,
        }
    }

    pub fn current(&self, section: &str) -> &'static str {
        let this = match self.section {
            Section::Rules => "rules",
            Section::Editor => "editor",
            Section::Performance => "performance",
            Section::WatchList => "watch-list",
            Section::Models => "models",
        };
        if this == section { "page" } else { "false" }
    }
}

/// An error of a form, beside its field: the field's id, the API's path and the message.
pub(crate) struct ShownError {
    pub anchor: String,
    pub path: String,
    pub message: String,
}

/// The id of the form field an API path names: `scope.offices[2]` is `scope-offices`.
fn anchor_of(path: &str, fields: &[&str], fallback: &str) -> String {
    let base = path.split('[').next().unwrap_or(path).replace('.', "-");
    if fields.contains(&base.as_str()) {
        base
    } else {
        fallback.to_owned()
    }
}

/// The refusal's errors, each with the field it belongs to.
fn shown_errors(
    language: Language,
    error: &ClearanceError,
    fields: &[&str],
    fallback: &str,
) -> Option<Vec<ShownError>> {
    let pick = |en: &str, zh: &str| {
        if language == Language::Zh {
            zh.to_owned()
        } else {
            en.to_owned()
        }
    };
    let errors = match error {
        ClearanceError::Invalid(errors) => errors,
        ClearanceError::Forbidden {
            errors,
            message_en,
            message_zh,
        } => {
            if errors.is_empty() {
                return Some(vec![ShownError {
                    anchor: fallback.to_owned(),
                    path: String::new(),
                    message: pick(message_en, message_zh),
                }]);
            }
            errors
        }
        _ => return None,
    };
    Some(
        errors
            .iter()
            .map(|e| ShownError {
                anchor: anchor_of(&e.path, fields, fallback),
                path: e.path.clone(),
                message: pick(&e.message_en, &e.message_zh),
            })
            .collect(),
    )
}

/// The caller if it may read the analyst's pages; else the not-found page (the trade, and any
/// role that may not read rules): checked before any work.
async fn reader<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    visit: &Visit,
) -> Result<Caller, Response> {
    let caller = signed_in(state, headers).await?;
    if caller.role.is_trade() || caller.require(Action::ReadRules).is_err() {
        return Err(not_found(visit, Some(user_bar(&caller))));
    }
    Ok(caller)
}

/// The session and CSRF checks of a form, then the reader's check.
async fn acting_reader<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    csrf: &str,
    path: &str,
) -> Result<(Visit, Caller), Response> {
    let (visit, caller) = acting(state, headers, csrf, path).await?;
    if caller.role.is_trade() || caller.require(Action::ReadRules).is_err() {
        return Err(not_found(&visit, Some(user_bar(&caller))));
    }
    Ok((visit, caller))
}

fn service_failure(error: ClearanceError) -> Response {
    crate::problem::ApiError::from(error).into_response()
}

fn pick(language: Language, en: &str, zh: &str) -> String {
    if language == Language::Zh {
        zh.to_owned()
    } else {
        en.to_owned()
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

/// A list typed as codes separated by commas or spaces.
fn codes(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An option of a choice, translated, and whether it is the one chosen.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

fn choices(tr: &Tr, prefix: &str, values: &[&'static str], chosen: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice {
            value: v,
            label: tr.of(prefix, v),
            selected: *v == chosen,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rules: the list, approval and retirement.

pub(crate) struct RuleRow {
    pub id: String,
    pub version: String,
    pub status_key: String,
    pub status: String,
    pub purpose: String,
    pub action: String,
    pub rate: String,
    pub priority: String,
    pub reason: String,
    pub expression: String,
    pub author: String,
    pub proposed_at: String,
    pub approved_by: String,
    /// The caller wrote it (the page says another analyst must approve it).
    pub own: bool,
}

#[derive(Template)]
#[template(path = "console/analyst_rules.html")]
struct RulesPage {
    page: Page,
    analyst: Analyst,
    rows: Vec<RuleRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
    rule: Option<String>,
    version: Option<u32>,
}

/// What was done, from the query after a redirect.
fn done_message(tr: &Tr, query: &DoneQuery) -> Option<String> {
    let id = match (&query.rule, query.version) {
        (Some(rule), Some(version)) => format!("{rule} v{version}"),
        (Some(rule), None) => rule.clone(),
        _ => String::new(),
    };
    // Only an id is echoed (the link could be made by anyone): letters, digits, '-', '_', '.'.
    let is_id = |t: &str| {
        t.len() <= risk::RULE_ID_LENGTH_MAX
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !is_id(&id.replace(" v", "")) {
        return None;
    }
    let key = query.done.as_deref()?;
    let message = [
        "proposed",
        "approved",
        "retired",
        "watch-added",
        "watch-approved",
        "watch-removed",
        "promoted",
        "rolled-back",
    ]
    .into_iter()
    .find(|k| *k == key)?;
    Some(tr.with(&format!("an-done-{message}"), "id", &id))
}

async fn render_rules<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    mut analyst: Analyst,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let rules = match state.clearance.rules(caller, None).await {
        Ok(rules) => rules,
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(visit, Some(user_bar(caller)));
        }
        Err(other) => return service_failure(other),
    };
    let language = visit.language;
    // Authors and approvers by name (an id the directory does not know, as is).
    let actors: Vec<String> = rules
        .iter()
        .flat_map(|r| [text(&r["author"]), text(&r["approved_by"])])
        .filter(|id| !id.is_empty())
        .collect();
    let actors: Vec<&str> = actors.iter().map(String::as_str).collect();
    let names = state
        .clearance
        .actor_names(caller, &actors)
        .await
        .unwrap_or_default();
    let named = |id: String| names.get(&id).cloned().unwrap_or(id);
    let mut rows: Vec<RuleRow> = rules
        .iter()
        .map(|r| {
            let d = &r["definition"];
            let status_key = text(&r["status"]);
            RuleRow {
                id: text(&r["id"]),
                version: text(&r["version"]),
                status: tr.of("an-rule-status", &status_key),
                status_key,
                purpose: tr.of("an-purpose", &text(&d["purpose"])),
                action: tr.of("an-action", &text(&d["action"])),
                rate: text(&d["expected_selection_rate"]),
                priority: text(&d["priority"]),
                reason: pick(language, &text(&d["reason_en"]), &text(&d["reason_zh"])),
                expression: text(&d["expression"]),
                author: named(text(&r["author"])),
                proposed_at: crate::shown_time(
                    state.config.display_offset,
                    &text(&r["proposed_at"]),
                ),
                approved_by: named(text(&r["approved_by"])),
                own: text(&r["author"]) == caller.user_id(),
            }
        })
        .collect();
    // The newest first: what awaits approval is on top.
    rows.reverse();
    analyst.section = Section::Rules;
    let page = RulesPage {
        page: visit.page(Some(user_bar(caller))),
        analyst,
        rows,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn rules_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/rules");
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut analyst = Analyst::new(Section::Rules, &caller);
    analyst.done = done_message(&visit.tr(), &done);
    render_rules(&state, &visit, &caller, analyst, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReasonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// The refusal of an action on the rules' page: the page again, saying why.
async fn rules_refused<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    error: ClearanceError,
) -> Response {
    let status = match &error {
        ClearanceError::NotFound => return not_found(visit, Some(user_bar(caller))),
        ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let Some(notice) = refusal_text(visit.language, &error) else {
        return service_failure(error);
    };
    let mut analyst = Analyst::new(Section::Rules, caller);
    analyst.notice = Some(notice);
    render_rules(state, visit, caller, analyst, status).await
}

/// Four eyes: another analyst than the author approves a proposed version (the service refuses
/// the author, and the page says why).
pub(crate) async fn approve_rule<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, version)): Path<(String, u32)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (visit, caller) = match acting_reader(&state, &headers, &form.csrf, "/console/rules").await
    {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    match state.clearance.approve_rule(&caller, &id, version).await {
        Ok(_) => Redirect::to(&format!(
            "/console/rules?done=approved&rule={}&version={version}",
            urlencoding(&id)
        ))
        .into_response(),
        Err(error) => rules_refused(&state, &visit, &caller, error).await,
    }
}

/// An active version taken out of force, with the analyst's reason.
pub(crate) async fn retire_rule<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, version)): Path<(String, u32)>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let (visit, caller) = match acting_reader(&state, &headers, &form.csrf, "/console/rules").await
    {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    match state
        .clearance
        .retire_rule(&caller, &id, version, &form.reason)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/console/rules?done=retired&rule={}&version={version}",
            urlencoding(&id)
        ))
        .into_response(),
        Err(error) => rules_refused(&state, &visit, &caller, error).await,
    }
}

/// An id in a query: only what ids are made of passes unchanged.
pub(super) fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The rule editor: errors in place, the catalogue, a test against history, the proposal.

/// The editor's fields, as typed (kept as they were when the page answers).
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub expected_selection_rate: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub reason_en: String,
    #[serde(default)]
    pub reason_zh: String,
    #[serde(default)]
    pub expression: String,
    #[serde(default)]
    pub offices: String,
    #[serde(default)]
    pub procedures: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_to: String,
    #[serde(default)]
    pub sample: String,
}

/// The editor's field ids (an error whose path names none of them goes beside the expression).
const RULE_FIELDS: [&str; 13] = [
    "id",
    "purpose",
    "action",
    "expected_selection_rate",
    "priority",
    "reason_en",
    "reason_zh",
    "expression",
    "scope-offices",
    "scope-procedures",
    "scope-direction",
    "scope-valid_from",
    "scope-valid_to",
];

impl RuleForm {
    /// The request the API takes, built from the fields as typed: the service checks it.
    fn body(&self) -> Vec<u8> {
        let mut scope = Map::new();
        for (name, raw) in [("offices", &self.offices), ("procedures", &self.procedures)] {
            let list = codes(raw);
            if !list.is_empty() {
                scope.insert(name.into(), json!(list));
            }
        }
        for (name, raw) in [
            ("direction", &self.direction),
            ("valid_from", &self.valid_from),
            ("valid_to", &self.valid_to),
        ] {
            if !raw.trim().is_empty() {
                scope.insert(name.into(), json!(raw.trim()));
            }
        }
        // A number if it is one, else as typed (the service names the field).
        let priority = self
            .priority
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(self.priority.trim()));
        let mut body = json!({
            "scope": scope,
            "purpose": self.purpose,
            "action": self.action,
            "expected_selection_rate": self.expected_selection_rate.trim(),
            "priority": priority,
            "reason_en": self.reason_en,
            "reason_zh": self.reason_zh,
            "expression": self.expression,
        });
        if !self.id.trim().is_empty() {
            body["id"] = json!(self.id.trim());
        }
        serde_json::to_vec(&body).expect("a rule serializes")
    }

    /// A version's definition in the editor (for its next version).
    fn of_definition(d: &Value) -> RuleForm {
        let list = |v: &Value| {
            v.as_array()
                .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        };
        RuleForm {
            id: text(&d["id"]),
            purpose: text(&d["purpose"]),
            action: text(&d["action"]),
            expected_selection_rate: text(&d["expected_selection_rate"]),
            priority: text(&d["priority"]),
            reason_en: text(&d["reason_en"]),
            reason_zh: text(&d["reason_zh"]),
            expression: text(&d["expression"]),
            offices: list(&d["scope"]["offices"]),
            procedures: list(&d["scope"]["procedures"]),
            direction: text(&d["scope"]["direction"]),
            valid_from: text(&d["scope"]["valid_from"]),
            valid_to: text(&d["scope"]["valid_to"]),
            ..RuleForm::default()
        }
    }
}

/// One name of the catalogue, in the user's language.
pub(crate) struct CatalogueRow {
    pub name: String,
    pub ty: String,
    pub note: String,
    pub description: String,
}

/// The catalogue of names a rule may use, from the risk crate's own list (what the checker
/// reads), so that it cannot drift from what a rule is checked against.
fn catalogue(
    tr: &Tr,
    language: Language,
) -> (Vec<CatalogueRow>, Vec<CatalogueRow>, Vec<CatalogueRow>) {
    use risk::catalogue::{FIELDS, FUNCTIONS, MACROS, VARIABLES};
    let ty = |t: risk::catalogue::NameType| pick(language, t.en(), t.zh());
    let variables = VARIABLES
        .iter()
        .map(|v| CatalogueRow {
            name: v.name.to_owned(),
            ty: ty(v.ty),
            note: String::new(),
            description: pick(language, v.en, v.zh),
        })
        .collect();
    let fields = FIELDS
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.optional {
                notes.push(tr.t("an-catalogue-optional"));
            }
            if f.item_level {
                notes.push(tr.t("an-catalogue-per-item"));
            }
            CatalogueRow {
                name: f.path(),
                ty: ty(f.ty),
                note: notes.join("; "),
                description: pick(language, f.en, f.zh),
            }
        })
        .collect();
    let functions = FUNCTIONS
        .iter()
        .chain(MACROS)
        .map(|f| CatalogueRow {
            name: f.name.to_owned(),
            ty: ty(f.ty),
            note: f.example.to_owned(),
            description: pick(language, f.en, f.zh),
        })
        .collect();
    (variables, fields, functions)
}

/// A rule's test against history, as the page shows it.
pub(crate) struct TestReport {
    pub tested: String,
    pub matched: String,
    pub rate: String,
    pub selected: String,
    pub hits: Vec<TestHit>,
    /// More hits than are listed.
    pub more: bool,
}

pub(crate) struct TestHit {
    pub number: String,
    pub items: String,
    pub selected: bool,
}

fn test_report(report: &Value) -> TestReport {
    let hits = report["hits"].as_array().cloned().unwrap_or_default();
    TestReport {
        tested: text(&report["declarations_tested"]),
        matched: text(&report["matched"]),
        rate: percent(report["match_rate"].as_f64().unwrap_or(0.0)),
        selected: text(&report["selected"]),
        more: hits.len() > CONSOLE_RULE_HITS_SHOWN,
        hits: hits
            .iter()
            .take(CONSOLE_RULE_HITS_SHOWN)
            .map(|h| TestHit {
                number: text(&h["number"]),
                items: h["items"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|i| (i.as_u64().unwrap_or(0) + 1).to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                selected: h["selected"] == true,
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "console/analyst_editor.html")]
struct EditorPage {
    page: Page,
    analyst: Analyst,
    form: RuleForm,
    purposes: Vec<Choice>,
    actions: Vec<Choice>,
    directions: Vec<Choice>,
    errors: Vec<ShownError>,
    report: Option<TestReport>,
    variables: Vec<CatalogueRow>,
    fields: Vec<CatalogueRow>,
    functions: Vec<CatalogueRow>,
    expression_max: usize,
}

impl EditorPage {
    fn errors_for(&self, anchor: &str) -> Vec<&ShownError> {
        self.errors.iter().filter(|e| e.anchor == anchor).collect()
    }

    fn has_error(&self, anchor: &str) -> bool {
        self.errors.iter().any(|e| e.anchor == anchor)
    }
}

fn editor(
    visit: &Visit,
    caller: &Caller,
    mut form: RuleForm,
    errors: Vec<ShownError>,
    report: Option<TestReport>,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let (variables, fields, functions) = catalogue(&tr, visit.language);
    if form.sample.trim().is_empty() {
        form.sample = CONSOLE_RULE_TEST_SAMPLE_DEFAULT.to_string();
    }
    let page = EditorPage {
        purposes: choices(&tr, "an-purpose", &RULE_PURPOSES, &form.purpose),
        actions: choices(&tr, "an-action", &RULE_ACTIONS, &form.action),
        directions: choices(&tr, "an-direction", &DIRECTIONS, &form.direction),
        page: visit.page(Some(user_bar(caller))),
        analyst: Analyst::new(Section::Editor, caller),
        form,
        errors,
        report,
        variables,
        fields,
        functions,
        expression_max: risk::EXPRESSION_LENGTH_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EditorQuery {
    /// The rule whose version the editor starts from (a new version of it).
    from: Option<String>,
    version: Option<u32>,
}

pub(crate) async fn editor_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
    Query(start): Query<EditorQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/rules/editor");
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    // Only an analyst writes rules: the others read the catalogue, without the form.
    let mut form = RuleForm {
        purpose: "both".into(),
        action: "document_check".into(),
        expected_selection_rate: "1".into(),
        priority: "100".into(),
        ..RuleForm::default()
    };
    if let Some(from) = &start.from {
        let rules = match state.clearance.rules(&caller, None).await {
            Ok(rules) => rules,
            Err(error) => return service_failure(error),
        };
        let found = rules.iter().rev().find(|r| {
            r["id"] == from.as_str()
                && start
                    .version
                    .is_none_or(|v| r["version"].as_u64() == Some(u64::from(v)))
        });
        let Some(found) = found else {
            return not_found(&visit, Some(user_bar(&caller)));
        };
        form = RuleForm::of_definition(&found["definition"]);
    }
    editor(&visit, &caller, form, Vec::new(), None, StatusCode::OK)
}

/// The editor's form: tested against history, or proposed; either way checked by the service,
/// every error shown beside its field.
pub(crate) async fn editor_submit<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<RuleForm>,
) -> Response {
    let (visit, caller) =
        match acting_reader(&state, &headers, &form.csrf, "/console/rules/editor").await {
            Ok(acting) => acting,
            Err(response) => return response,
        };
    let body = form.body();
    let refused = |error: ClearanceError, form: RuleForm| {
        let status = match &error {
            ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        match shown_errors(visit.language, &error, &RULE_FIELDS, "expression") {
            Some(errors) => editor(&visit, &caller, form, errors, None, status),
            None => service_failure(error),
        }
    };
    match form.intent.as_str() {
        "propose" => match state.clearance.propose_rule(&caller, &body).await {
            Ok(view) => Redirect::to(&format!(
                "/console/rules?done=proposed&rule={}&version={}",
                urlencoding(&text(&view["id"])),
                text(&view["version"])
            ))
            .into_response(),
            Err(error) => refused(error, form),
        },
        _ => {
            // A sample that is not a number is out of range: the service names the field.
            let sample = form.sample.trim().parse::<usize>().unwrap_or(0);
            let sample = if form.sample.trim().is_empty() {
                CONSOLE_RULE_TEST_SAMPLE_DEFAULT
            } else {
                sample
            };
            match state.clearance.test_rule(&caller, &body, sample).await {
                Ok(report) => {
                    let report = test_report(&report);
                    editor(
                        &visit,
                        &caller,
                        form,
                        Vec::new(),
                        Some(report),
                        StatusCode::OK,
                    )
                }
                Err(error) => {
                    let fields: Vec<&str> = RULE_FIELDS.iter().copied().chain(["sample"]).collect();
                    let status = match &error {
                        ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
                        _ => StatusCode::UNPROCESSABLE_ENTITY,
                    };
                    match shown_errors(visit.language, &error, &fields, "expression") {
                        Some(errors) => editor(&visit, &caller, form, errors, None, status),
                        None => service_failure(error),
                    }
                }
            }
        }
    }
}

#[derive(Template)]
#[template(path = "console/analyst_check.html")]
struct CheckFragment {
    page: Page,
    errors: Vec<ShownError>,
}

/// The editor's check as the analyst types (htmx): the rule's problems, or that it has none.
/// Nothing is read or kept.
pub(crate) async fn check_rule<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<RuleForm>,
) -> Response {
    let (visit, caller) =
        match acting_reader(&state, &headers, &form.csrf, "/console/rules/editor").await {
            Ok(acting) => acting,
            Err(response) => return response,
        };
    let errors = match state.clearance.check_rule(&caller, &form.body()) {
        Ok(()) => Vec::new(),
        Err(error @ ClearanceError::Invalid(_)) => {
            shown_errors(visit.language, &error, &RULE_FIELDS, "expression").unwrap_or_default()
        }
        // Not an analyst: the editor has no form for them.
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(&visit, Some(user_bar(&caller)));
        }
        Err(error) => return service_failure(error),
    };
    let fragment = CheckFragment {
        page: visit.page(Some(user_bar(&caller))),
        errors,
    };
    respond(StatusCode::OK, fragment.render(), visit.cookies.clone())
}

// ---------------------------------------------------------------------------------------------
// Each rule's performance.

pub(crate) struct PerformanceRow {
    pub rule: String,
    pub matches: String,
    pub selections: String,
    pub inspected: String,
    pub found: String,
    pub hit_rate: String,
    pub revenue: String,
}

#[derive(Template)]
#[template(path = "console/analyst_performance.html")]
struct PerformancePage {
    page: Page,
    analyst: Analyst,
    rows: Vec<PerformanceRow>,
}

pub(crate) async fn performance_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/rules/performance");
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let figures = match state.clearance.rule_statistics(&caller).await {
        Ok(figures) => figures,
        Err(error) => return service_failure(error),
    };
    let rows = figures
        .iter()
        .map(|f| PerformanceRow {
            rule: text(&f["rule"]),
            matches: text(&f["matches"]),
            selections: text(&f["selections"]),
            inspected: text(&f["checks_closed"]),
            found: text(&f["hits"]),
            hit_rate: f["hit_rate"]
                .as_f64()
                .map(percent)
                .unwrap_or_else(|| "–".into()),
            revenue: text(&f["revenue_recovered"]),
        })
        .collect();
    let page = PerformancePage {
        page: visit.page(Some(user_bar(&caller))),
        analyst: Analyst::new(Section::Performance, &caller),
        rows,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

// ---------------------------------------------------------------------------------------------
// The watch list (布控名单).

pub(crate) struct WatchRow {
    pub id: String,
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub action: String,
    pub validity: String,
    pub status_key: String,
    pub status: String,
    pub added_by: String,
    /// The caller asked for what awaits approval (another analyst must approve it).
    pub own_request: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct WatchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub reason_en: String,
    #[serde(default)]
    pub reason_zh: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_to: String,
}

const WATCH_FIELDS: [&str; 7] = [
    "kind",
    "value",
    "reason_en",
    "reason_zh",
    "action",
    "valid_from",
    "valid_to",
];

#[derive(Template)]
#[template(path = "console/analyst_watch.html")]
struct WatchPage {
    page: Page,
    analyst: Analyst,
    rows: Vec<WatchRow>,
    form: WatchForm,
    kinds: Vec<Choice>,
    actions: Vec<Choice>,
    errors: Vec<ShownError>,
    value_max: usize,
    reason_max: usize,
}

impl WatchPage {
    fn errors_for(&self, anchor: &str) -> Vec<&ShownError> {
        self.errors.iter().filter(|e| e.anchor == anchor).collect()
    }

    fn has_error(&self, anchor: &str) -> bool {
        self.errors.iter().any(|e| e.anchor == anchor)
    }
}

async fn render_watch<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    analyst: Analyst,
    form: WatchForm,
    errors: Vec<ShownError>,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let entries = match state.clearance.watch_entries(caller).await {
        Ok(entries) => entries,
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(visit, Some(user_bar(caller)));
        }
        Err(error) => return service_failure(error),
    };
    let me = caller.user_id();
    // Who proposed each entry, by name.
    let proposers: Vec<String> = entries.iter().map(|e| text(&e["added_by"])).collect();
    let proposers: Vec<&str> = proposers.iter().map(String::as_str).collect();
    let names = state
        .clearance
        .actor_names(caller, &proposers)
        .await
        .unwrap_or_default();
    let mut rows: Vec<WatchRow> = entries
        .iter()
        .map(|e| {
            let status_key = text(&e["status"]);
            let own_request = match status_key.as_str() {
                "proposed" => text(&e["added_by"]) == me,
                "removal_requested" => text(&e["removal_requested_by"]) == me,
                _ => false,
            };
            let (from, to) = (text(&e["valid_from"]), text(&e["valid_to"]));
            WatchRow {
                id: text(&e["id"]),
                kind: tr.of("an-watch-kind", &text(&e["kind"])),
                value: text(&e["value"]),
                reason: pick(
                    visit.language,
                    &text(&e["reason_en"]),
                    &text(&e["reason_zh"]),
                ),
                action: tr.of("an-action", &text(&e["action"])),
                validity: if from.is_empty() && to.is_empty() {
                    tr.t("an-open")
                } else {
                    format!("{from} – {to}")
                },
                status: tr.of("an-watch-status", &status_key),
                status_key,
                added_by: {
                    let id = text(&e["added_by"]);
                    names.get(&id).cloned().unwrap_or(id)
                },
                own_request,
            }
        })
        .collect();
    rows.reverse();
    let page = WatchPage {
        kinds: choices(&tr, "an-watch-kind", &WATCH_KINDS, &form.kind),
        actions: choices(&tr, "an-action", &RULE_ACTIONS, &form.action),
        page: visit.page(Some(user_bar(caller))),
        analyst,
        rows,
        form,
        errors,
        value_max: clearance::watch_list::WATCH_VALUE_LENGTH_MAX,
        reason_max: clearance::watch_list::WATCH_REASON_LENGTH_MAX,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn watch_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/watch-list");
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut analyst = Analyst::new(Section::WatchList, &caller);
    analyst.done = done_message(&visit.tr(), &done);
    let form = WatchForm {
        action: "document_check".into(),
        ..WatchForm::default()
    };
    render_watch(
        &state,
        &visit,
        &caller,
        analyst,
        form,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// An entry proposed for the watch list: in force once another analyst approves it.
pub(crate) async fn watch_add<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<WatchForm>,
) -> Response {
    let (visit, caller) =
        match acting_reader(&state, &headers, &form.csrf, "/console/watch-list").await {
            Ok(acting) => acting,
            Err(response) => return response,
        };
    let optional = |raw: &str| (!raw.trim().is_empty()).then(|| raw.trim().to_owned());
    let body = json!({
        "kind": form.kind, "value": form.value, "reason_en": form.reason_en,
        "reason_zh": form.reason_zh, "action": form.action,
        "valid_from": optional(&form.valid_from), "valid_to": optional(&form.valid_to),
    });
    match state
        .clearance
        .add_watch_entry(&caller, body.to_string().as_bytes())
        .await
    {
        Ok(view) => Redirect::to(&format!(
            "/console/watch-list?done=watch-added&rule={}",
            urlencoding(&text(&view["id"]))
        ))
        .into_response(),
        Err(error) => {
            let status = match &error {
                ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let Some(errors) = shown_errors(visit.language, &error, &WATCH_FIELDS, "value") else {
                return service_failure(error);
            };
            let analyst = Analyst::new(Section::WatchList, &caller);
            render_watch(&state, &visit, &caller, analyst, form, errors, status).await
        }
    }
}

async fn watch_refused<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    error: ClearanceError,
) -> Response {
    let status = match &error {
        ClearanceError::NotFound => return not_found(visit, Some(user_bar(caller))),
        ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let Some(notice) = refusal_text(visit.language, &error) else {
        return service_failure(error);
    };
    let mut analyst = Analyst::new(Section::WatchList, caller);
    analyst.notice = Some(notice);
    let form = WatchForm {
        action: "document_check".into(),
        ..WatchForm::default()
    };
    render_watch(state, visit, caller, analyst, form, Vec::new(), status).await
}

/// Four eyes on the watch list: another analyst approves an entry or its removal.
pub(crate) async fn watch_approve<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (visit, caller) =
        match acting_reader(&state, &headers, &form.csrf, "/console/watch-list").await {
            Ok(acting) => acting,
            Err(response) => return response,
        };
    match state.clearance.approve_watch_entry(&caller, &id).await {
        Ok(_) => Redirect::to(&format!(
            "/console/watch-list?done=watch-approved&rule={}",
            urlencoding(&id)
        ))
        .into_response(),
        Err(error) => watch_refused(&state, &visit, &caller, error).await,
    }
}

/// An entry taken off: a proposed one at once, one in force once another analyst approves.
pub(crate) async fn watch_remove<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let (visit, caller) =
        match acting_reader(&state, &headers, &form.csrf, "/console/watch-list").await {
            Ok(acting) => acting,
            Err(response) => return response,
        };
    match state
        .clearance
        .remove_watch_entry(&caller, &id, &form.reason)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/console/watch-list?done=watch-removed&rule={}",
            urlencoding(&id)
        ))
        .into_response(),
        Err(error) => watch_refused(&state, &visit, &caller, error).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Risk models: the registry, promotion by a second analyst, roll-back, drift.

pub(crate) struct ModelRow {
    pub id: String,
    pub status_key: String,
    pub status: String,
    pub source: String,
    pub author: String,
    pub label: String,
    pub rows: String,
    pub positives: String,
    pub period: String,
    pub auc: String,
    pub precision: String,
    pub recall: String,
    pub own: bool,
}

#[derive(Template)]
#[template(path = "console/analyst_models.html")]
struct ModelsPage {
    page: Page,
    analyst: Analyst,
    rows: Vec<ModelRow>,
    active: bool,
}

fn decimal3(value: &Value) -> String {
    value
        .as_f64()
        .map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "–".into())
}

async fn render_models<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    analyst: Analyst,
    status: StatusCode,
) -> Response {
    let tr = visit.tr();
    let models = match state.clearance.risk_models(caller).await {
        Ok(models) => models,
        Err(ClearanceError::Forbidden { .. }) => {
            return not_found(visit, Some(user_bar(caller)));
        }
        Err(error) => return service_failure(error),
    };
    let rows: Vec<ModelRow> = models
        .iter()
        .rev()
        .map(|m| {
            let s = &m["summary"];
            let metrics = &s["training_metrics"];
            let period = s["training_period"]
                .as_array()
                .map(|p| p.iter().map(text).collect::<Vec<_>>().join(" – "))
                .unwrap_or_default();
            let status_key = text(&m["status"]);
            ModelRow {
                id: text(&m["id"]),
                status: tr.of("an-model-status", &status_key),
                status_key,
                source: text(&m["source"]),
                author: text(&m["author"]),
                label: text(&s["label"]),
                rows: text(&s["training_rows"]),
                positives: text(&s["training_positives"]),
                period,
                auc: decimal3(&metrics["auc"]),
                precision: decimal3(&metrics["top_5_pct_precision"]),
                recall: decimal3(&metrics["top_5_pct_recall"]),
                own: text(&m["author"]) == caller.user_id(),
            }
        })
        .collect();
    let page = ModelsPage {
        active: rows.iter().any(|r| r.status_key == "active"),
        page: visit.page(Some(user_bar(caller))),
        analyst,
        rows,
    };
    respond(status, page.render(), visit.cookies.clone())
}

pub(crate) async fn models_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/models");
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut analyst = Analyst::new(Section::Models, &caller);
    analyst.done = done_message(&visit.tr(), &done);
    render_models(&state, &visit, &caller, analyst, StatusCode::OK).await
}

async fn models_refused<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    error: ClearanceError,
) -> Response {
    let status = match &error {
        ClearanceError::NotFound => return not_found(visit, Some(user_bar(caller))),
        ClearanceError::Forbidden { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let Some(notice) = refusal_text(visit.language, &error) else {
        return service_failure(error);
    };
    let mut analyst = Analyst::new(Section::Models, caller);
    analyst.notice = Some(notice);
    render_models(state, visit, caller, analyst, status).await
}

/// Four eyes: another analyst than the model's author puts it in force.
pub(crate) async fn model_promote<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (visit, caller) = match acting_reader(&state, &headers, &form.csrf, "/console/models").await
    {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    match state.clearance.promote_model(&caller, &id).await {
        Ok(_) => Redirect::to(&format!(
            "/console/models?done=promoted&rule={}",
            urlencoding(&id)
        ))
        .into_response(),
        Err(error) => models_refused(&state, &visit, &caller, error).await,
    }
}

/// The active model out of force; the one it replaced, if any, in force again.
pub(crate) async fn model_roll_back<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Form(form): Form<ReasonForm>,
) -> Response {
    let (visit, caller) = match acting_reader(&state, &headers, &form.csrf, "/console/models").await
    {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    match state.clearance.roll_back_model(&caller, &form.reason).await {
        Ok(_) => Redirect::to("/console/models?done=rolled-back").into_response(),
        Err(error) => models_refused(&state, &visit, &caller, error).await,
    }
}

/// One bar of the drift chart, placed by the server (SVG attributes, no style).
pub(crate) struct DriftBar {
    pub label: String,
    /// Where the bar's number is written, right of the bar.
    pub value_x: String,
    pub psi: String,
    pub level_key: String,
    pub level: String,
    pub y: usize,
    pub text_y: usize,
    pub width: String,
    pub fill: &'static str,
}

pub(crate) struct DriftChart {
    pub bars: Vec<DriftBar>,
    pub height: usize,
    pub watch_x: String,
    pub alert_x: String,
    pub axis_bottom: usize,
}

/// The chart's geometry: label column, bar area, row height.
const CHART_LABEL_WIDTH: f64 = 240.0;
const CHART_BAR_WIDTH: f64 = 380.0;
const CHART_ROW: usize = 24;
const CHART_TOP: usize = 8;
/// The largest index the chart's scale shows (far past an alert).
const CHART_PSI_MAX: f64 = 1.0;

fn drift_bar(tr: &Tr, label: String, psi: f64, level: &str, scale: f64, row: usize) -> DriftBar {
    let psi = if psi.is_finite() { psi.max(0.0) } else { 0.0 };
    let y = CHART_TOP + row * CHART_ROW;
    let width = (psi / scale * CHART_BAR_WIDTH).min(CHART_BAR_WIDTH);
    DriftBar {
        label,
        value_x: format!("{:.1}", CHART_LABEL_WIDTH + width + 4.0),
        psi: format!("{psi:.3}"),
        level_key: level.to_owned(),
        level: tr.of("an-drift-level", level),
        y,
        text_y: y + 15,
        width: format!(
            "{:.1}",
            (psi / scale * CHART_BAR_WIDTH).min(CHART_BAR_WIDTH)
        ),
        // Colours that a reader tells apart in the table too (the level is written there).
        fill: match level {
            "alert" => "#b0190f",
            "watch" => "#b35900",
            _ => "#00703c",
        },
    }
}

fn drift_chart(tr: &Tr, report: &Value) -> (DriftChart, Vec<DriftBar>) {
    let features = report["features"].as_array().cloned().unwrap_or_default();
    let psi_of = |v: &Value| v["psi"].as_f64().unwrap_or(0.0);
    let largest = std::iter::once(psi_of(&report["score"]))
        .chain(features.iter().map(psi_of))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // The scale reaches past the alert line, so that both lines always show, and stops at
    // `CHART_PSI_MAX` (a larger shift fills the row; its number is written beside it).
    let scale = largest.clamp(clearance::models::DRIFT_ALERT_PSI * 1.2, CHART_PSI_MAX);
    let mut rows = vec![drift_bar(
        tr,
        tr.t("an-drift-score"),
        psi_of(&report["score"]),
        &text(&report["score"]["level"]),
        scale,
        0,
    )];
    rows.extend(features.iter().enumerate().map(|(i, f)| {
        drift_bar(
            tr,
            text(&f["feature"]),
            psi_of(f),
            &text(&f["level"]),
            scale,
            i + 1,
        )
    }));
    let x = |psi: f64| format!("{:.1}", CHART_LABEL_WIDTH + psi / scale * CHART_BAR_WIDTH);
    let drawn: Vec<DriftBar> = rows
        .iter()
        .take(CONSOLE_DRIFT_CHART_FEATURES_MAX + 1)
        .map(|b| DriftBar {
            label: b.label.chars().take(32).collect(),
            value_x: b.value_x.clone(),
            psi: b.psi.clone(),
            level_key: b.level_key.clone(),
            level: b.level.clone(),
            y: b.y,
            text_y: b.text_y,
            width: b.width.clone(),
            fill: b.fill,
        })
        .collect();
    let axis_bottom = CHART_TOP + drawn.len() * CHART_ROW;
    let chart = DriftChart {
        height: axis_bottom + 24,
        watch_x: x(clearance::models::DRIFT_WATCH_PSI),
        alert_x: x(clearance::models::DRIFT_ALERT_PSI),
        axis_bottom,
        bars: drawn,
    };
    (chart, rows)
}

#[derive(Template)]
#[template(path = "console/analyst_drift.html")]
struct DriftPage {
    page: Page,
    analyst: Analyst,
    model: String,
    declarations: String,
    items: String,
    alerts: String,
    chart: DriftChart,
    rows: Vec<DriftBar>,
    watch_psi: f64,
    alert_psi: f64,
}

pub(crate) async fn drift_page<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, &format!("/console/models/{id}/drift"));
    let caller = match reader(&state, &headers, &visit).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let report = match state
        .clearance
        .model_drift(&caller, &id, CONSOLE_DRIFT_SAMPLE)
        .await
    {
        Ok(report) => report,
        Err(ClearanceError::NotFound) => return not_found(&visit, Some(user_bar(&caller))),
        Err(error) => return service_failure(error),
    };
    let tr = visit.tr();
    let (chart, rows) = drift_chart(&tr, &report);
    let page = DriftPage {
        page: visit.page(Some(user_bar(&caller))),
        analyst: Analyst::new(Section::Models, &caller),
        model: text(&report["model"]),
        declarations: text(&report["declarations"]),
        items: text(&report["items"]),
        alerts: text(&report["alerts"]),
        chart,
        rows,
        watch_psi: clearance::models::DRIFT_WATCH_PSI,
        alert_psi: clearance::models::DRIFT_ALERT_PSI,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_id_is_echoed_from_the_address() {
        let tr = Tr {
            language: Language::En,
        };
        let query = |rule: &str| DoneQuery {
            done: Some("approved".into()),
            rule: Some(rule.into()),
            version: Some(2),
        };
        assert_eq!(
            done_message(&tr, &query("R-000001")).unwrap(),
            "Approved R-000001 v2: it is in force for declarations accepted from now on."
        );
        assert_eq!(done_message(&tr, &query("call 110 now")), None);
        assert_eq!(done_message(&tr, &query(&"R".repeat(65))), None);
        let unknown = DoneQuery {
            done: Some("hacked".into()),
            ..query("R-000001")
        };
        assert_eq!(done_message(&tr, &unknown), None);
    }

    #[test]
    fn an_api_path_names_its_field() {
        assert_eq!(
            anchor_of("scope.offices[2]", &RULE_FIELDS, "expression"),
            "scope-offices"
        );
        assert_eq!(
            anchor_of("priority", &RULE_FIELDS, "expression"),
            "priority"
        );
        assert_eq!(anchor_of("", &RULE_FIELDS, "expression"), "expression");
        assert_eq!(
            anchor_of("nothing", &RULE_FIELDS, "expression"),
            "expression"
        );
    }

    #[test]
    fn the_form_becomes_the_apis_request() {
        let form = RuleForm {
            purpose: "revenue".into(),
            action: "hold".into(),
            expected_selection_rate: " 0.5 ".into(),
            priority: "300".into(),
            offices: "2200, 2201 2202".into(),
            expression: "true".into(),
            ..RuleForm::default()
        };
        let body: Value = serde_json::from_slice(&form.body()).unwrap();
        assert_eq!(body["scope"]["offices"], json!(["2200", "2201", "2202"]));
        assert_eq!(body["priority"], 300, "a number, refused by the service");
        assert_eq!(body["expected_selection_rate"], "0.5");
        assert!(body.get("id").is_none(), "a new rule");
        assert!(body["scope"].get("direction").is_none());
    }

    #[test]
    fn the_drift_chart_scales_to_the_largest_shift_and_keeps_both_lines() {
        let tr = Tr {
            language: Language::En,
        };
        let report = json!({
            "score": { "psi": 0.05, "level": "stable" },
            "features": [
                { "feature": "price", "psi": 0.6, "level": "alert" },
                { "feature": "mass", "psi": f64::NAN, "level": "stable" },
                { "feature": "seller", "psi": 13.8, "level": "alert" },
            ],
        });
        let (chart, rows) = drift_chart(&tr, &report);
        assert_eq!(rows.len(), 4);
        assert_eq!(chart.bars[1].width, "228.0", "the scale stops at 1.0");
        assert_eq!(chart.bars[3].width, "380.0", "a larger shift fills the row");
        assert_eq!(chart.bars[3].psi, "13.800", "and is written beside it");
        assert_eq!(chart.bars[2].width, "0.0", "no number: no bar");
        assert!(chart.alert_x.parse::<f64>().unwrap() < 240.0 + 380.0);
    }
}
