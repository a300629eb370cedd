//! Declarations: the list every role sees (its own, for the trade), a declaration's page, and
//! the officer's actions from it (finding, 修撤单 decision, manual assessment, release).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use clearance::{Caller, ClearanceError, ListFilter};
use serde::Deserialize;
use serde_json::Value;
use store::Store;

use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/declarations", get(declarations::<S>))
        .route("/console/declarations/{id}", get(declaration::<S>))
        .route("/console/declarations/{id}/release", post(release::<S>))
        .route(
            "/console/declarations/{id}/requests/{request}/decision",
            post(decide::<S>),
        )
        .route("/console/declarations/{id}/assessment", post(assess::<S>))
}

pub(crate) struct ListedRow {
    pub id: String,
    pub number: String,
    pub status: String,
    pub kind: String,
    pub direction: String,
    pub office: String,
    pub trader: String,
    pub lodged_at: String,
    pub lane: String,
    /// The amount outstanding, in CNY.
    pub due: String,
    /// The trade's latest receipt (回执).
    pub last_receipt: String,
}

#[derive(Template)]
#[template(path = "console/declarations.html")]
struct DeclarationsPage {
    page: Page,
    rows: Vec<ListedRow>,
    /// The next page's link, with the search kept.
    next_href: Option<String>,
    /// The search box: what to search by (value, label, chosen), the term, and its refusal.
    search_by: Vec<(&'static str, String, bool)>,
    search_term: String,
    search_error: Option<String>,
}

/// What the declarations list may be searched by: the listing's search parameters.
const SEARCH_BY: [&str; 5] = [
    "bill_of_lading",
    "container",
    "invoice",
    "commodity_code",
    "trader_name",
];

/// `?by=&q=` of the declarations list (the search box).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchQuery {
    by: Option<String>,
    q: Option<String>,
}

/// A query string value, percent-encoded (a term may hold any character).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The goods items of a declaration's document as its pages list them.
pub(super) fn item_rows(document: &Value) -> Vec<ItemRow> {
    document["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| ItemRow {
            line: i + 1,
            commodity_code: text(&item["commodity_code"]),
            description: text(&item["description"]),
            quantity: format!(
                "{} {}",
                text(&item["quantity"]["value"]),
                text(&item["quantity"]["unit"])
            ),
            amount: text(&item["amount"]),
            origin: text(&item["origin_country"]),
        })
        .collect()
}

/// One tax of an assessed item, with the engine's explanation of it.
pub(crate) struct AssessedTax {
    pub name: String,
    pub payable: String,
    pub explanation: Vec<String>,
}

/// An assessed item: its customs value and duty rate, each explained, and its taxes.
pub(crate) struct AssessedItem {
    pub line: usize,
    pub commodity_code: String,
    pub customs_value: String,
    pub value_explanation: Vec<String>,
    pub rate: String,
    pub rate_explanation: Vec<String>,
    pub taxes: Vec<AssessedTax>,
}

/// The declaration's assessment in force as its page explains it (the trade's view is its own
/// allow-list, which keeps the explanation).
pub(crate) struct AssessmentView {
    pub number: String,
    pub basis: String,
    pub tariff_release: String,
    /// The total payable, or none when the engine could not assess.
    pub total: Option<String>,
    pub explanation: Vec<String>,
    /// Why the engine could not assess, each problem in words.
    pub problems: Vec<String>,
    pub items: Vec<AssessedItem>,
    /// Customs only: the product-specific origin rule each item's proof was checked against
    /// (`origin_rules_checked`, which the trade's view of an assessment leaves out).
    pub origin_rules: Vec<OriginRuleRow>,
}

/// One item's proof of origin as checked: the criterion claimed against the rule for its HS6.
pub(crate) struct OriginRuleRow {
    pub line: usize,
    pub agreement: String,
    pub hs6: String,
    pub claimed: String,
    pub rule: String,
    pub met: bool,
    pub detail: String,
    /// Where the rule comes from: the release's table (with its source) or the agreement's data.
    pub source: String,
    /// The release marks the rule *verify* (not read from the annex).
    pub verify: bool,
}

/// The origin rules an assessment record says were checked, in the user's language.
fn origin_rule_rows(language: Language, record: &Value) -> Vec<OriginRuleRow> {
    let key = if language == Language::Zh { "zh" } else { "en" };
    record["origin_rules_checked"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|checked| OriginRuleRow {
            line: checked["item"].as_u64().map_or(0, |i| i as usize + 1),
            agreement: text(&checked["agreement"]),
            hs6: text(&checked["hs6"]),
            claimed: text(&checked["claimed"]),
            rule: text(&checked["rule"]),
            met: checked["met"] == true,
            detail: text(&checked["detail"][key]),
            source: text(&checked["source"]),
            verify: checked["verify"] == true,
        })
        .collect()
}

/// The latest of a declaration's assessments (from `Clearance::assessments`) in the user's
/// language.
fn assessment_view(language: Language, record: &Value) -> AssessmentView {
    let words = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|line| {
                let key = if language == Language::Zh { "zh" } else { "en" };
                text(&line[key])
            })
            .collect()
    };
    let name = |v: &Value| {
        let key = if language == Language::Zh { "zh" } else { "en" };
        text(&v[key])
    };
    let report = &record["report"];
    let items = report["items"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| AssessedItem {
            line: i + 1,
            commodity_code: text(&item["commodity_code"]),
            customs_value: text(&item["customs_value"]["cny"]),
            value_explanation: words(&item["customs_value"]["explanation"]),
            rate: format!(
                "{} ({})",
                text(&item["duty_rate"]["rate"]),
                name(&item["duty_rate"]["column"])
            ),
            rate_explanation: words(&item["duty_rate"]["explanation"]),
            taxes: item["taxes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|tax| AssessedTax {
                    name: name(&tax["name"]),
                    payable: text(&tax["payable"]),
                    explanation: words(&tax["explanation"]),
                })
                .collect(),
        })
        .collect();
    AssessmentView {
        number: text(&record["assessment"]),
        basis: text(&record["basis"]),
        tariff_release: text(&record["tariff_release"]),
        total: (record["outcome"] == "assessed").then(|| text(&record["total_payable"])),
        explanation: words(&report["explanation"]),
        origin_rules: origin_rule_rows(language, record),
        problems: record["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let message = if language == Language::Zh {
                    text(&p["zh"])
                } else {
                    text(&p["en"])
                };
                match text(&p["path"]) {
                    path if path.is_empty() => message,
                    path => format!("{path}: {message}"),
                }
            })
            .collect(),
        items,
    }
}

pub(crate) struct ItemRow {
    pub line: usize,
    pub commodity_code: String,
    pub description: String,
    pub quantity: String,
    pub amount: String,
    pub origin: String,
}

pub(crate) struct HistoryRow {
    pub when: String,
    pub what: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "console/declaration.html")]
struct DeclarationPage {
    page: Page,
    id: String,
    /// Why the last action was refused, in the user's language, and each field's problem.
    feedback: Feedback,
    /// Customs only: holds, attachments, reassessment differences, the finding form's items.
    officer: Option<super::officer::OfficerSection>,
    /// The payment panel: the trade pays, an officer accepts a guarantee.
    payment: Option<super::payment::PaymentPanel>,
    /// An officer may ask for the release (the service still decides).
    may_release: bool,
    /// The assessment in force with the engine's explanation, if any.
    assessment: Option<AssessmentView>,
    /// The caller's own open tasks on the declaration, each with its form.
    my_tasks: Vec<MyTask>,
    settlement: Option<MoneyView>,
    number: String,
    status: String,
    clearance_status: Option<String>,
    procedure: String,
    office: String,
    lodged_at: String,
    trader: String,
    declarant: String,
    overseas_party: String,
    items: Vec<ItemRow>,
    lane: Option<String>,
    /// Customs only: the reasons of the selection, in the user's language.
    reasons: Vec<String>,
    /// The trade only: its receipts.
    receipts: Vec<HistoryRow>,
    /// Customs only: every event.
    history: Vec<HistoryRow>,
}

/// What a declaration owes and has covered, in CNY.
pub(crate) struct MoneyView {
    pub payable: String,
    pub paid: String,
    pub guaranteed: String,
    pub claimed: String,
    pub outstanding: String,
}

/// What a refused form says on the page: a notice for the whole page, and each field's problem
/// (GOV.UK: beside the field and in the summary, linking to it), with the values sent back.
#[derive(Default)]
pub(crate) struct Feedback {
    pub notice: Option<String>,
    pub issues: Vec<super::officer::FieldIssue>,
    pub values: std::collections::HashMap<String, String>,
}

impl Feedback {
    pub(crate) fn notice(notice: String) -> Feedback {
        Feedback {
            notice: Some(notice),
            ..Feedback::default()
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.notice.is_none() && self.issues.is_empty()
    }

    /// The problem of the field with this id, if any.
    pub(crate) fn error_for(&self, field: &str) -> Option<&str> {
        self.issues
            .iter()
            .find(|i| i.field == field)
            .map(|i| i.message.as_str())
    }

    /// The value sent back for the field, or `default`.
    pub(crate) fn value_or(&self, field: &str, default: &str) -> String {
        self.values
            .get(field)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
}

pub(crate) struct MyTask {
    pub id: String,
    pub kind: String,
    pub title: String,
}

pub(crate) async fn declarations<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<LanguageQuery>,
    Query(search): Query<SearchQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, "/console/declarations");
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let by = search
        .by
        .as_deref()
        .and_then(|by| SEARCH_BY.iter().find(|known| **known == by).copied())
        .unwrap_or("bill_of_lading");
    let term = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut filter = ListFilter {
        cursor: query.cursor.clone(),
        limit: Some(CONSOLE_PAGE_SIZE),
        ..ListFilter::default()
    };
    if let Some(term) = term {
        let slot = match by {
            "container" => &mut filter.container,
            "invoice" => &mut filter.invoice,
            "commodity_code" => &mut filter.commodity_code,
            "trader_name" => &mut filter.trader_name,
            _ => &mut filter.bill_of_lading,
        };
        *slot = Some(term.to_owned());
    }
    let mut search_error = None;
    let listed = match state.clearance.list(&caller, &filter).await {
        Ok(page) => page,
        // A term the search refuses is told beside the box, with nothing listed.
        Err(error @ ClearanceError::Invalid(_)) if term.is_some() && query.cursor.is_none() => {
            search_error = refusal_text(visit.language, &error);
            wire::DeclarationPage {
                declarations: Vec::new(),
                next_cursor: None,
            }
        }
        Err(ClearanceError::Invalid(_)) => return not_found(&visit, Some(user_bar(&caller))),
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let tr = visit.tr();
    let mut rows = Vec::with_capacity(listed.declarations.len());
    for d in &listed.declarations {
        let document = serde_json::to_value(&d.declaration).unwrap_or(Value::Null);
        let mut row = ListedRow {
            id: d.id.clone(),
            number: d.number.clone(),
            status: tr.of("status", &d.status),
            kind: d.kind.clone(),
            direction: d.direction.clone(),
            office: text(&document["office_of_lodging"]),
            trader: text(&document["trader"]["name"]),
            lodged_at: crate::shown_time(state.config.display_offset, &d.lodged_at),
            lane: String::new(),
            due: String::new(),
            last_receipt: String::new(),
        };
        // What the row's user may see of each, through the same calls as its page: the lane as
        // the trade may see it, the amount outstanding, and (for the trade) where it stands and
        // its latest receipt. A declaration without one (not yet selected, an export) shows none.
        if let Ok(selection) = state.clearance.selection(&caller, &d.id).await {
            row.lane = tr.of("lane-name", &text(&selection["lane"]));
        }
        if let Ok(settlement) = state.clearance.payments(&caller, &d.id).await
            && !settlement["outstanding"].is_null()
        {
            row.due = format!("{} CNY", text(&settlement["outstanding"]));
        }
        if let Ok(wire::EventsAnswer::Trade(page)) = state.clearance.events(&caller, &d.id).await {
            row.status = tr.of("standing", &page.clearance_status);
            if let Some(last) = page.receipts.last() {
                row.last_receipt = tr.of("receipt", &last.receipt);
            }
        }
        rows.push(row);
    }
    let tr = visit.tr();
    let search_by = SEARCH_BY
        .iter()
        .map(|value| (*value, tr.t(&format!("search-by-{value}")), *value == by))
        .collect();
    let kept = match term {
        Some(term) => format!("&by={by}&q={}", query_value(term)),
        None => String::new(),
    };
    let page = DeclarationsPage {
        page: visit.page(Some(user_bar(&caller))),
        rows,
        next_href: listed.next_cursor.map(|cursor| {
            format!(
                "/console/declarations?cursor={}{kept}",
                query_value(&cursor)
            )
        }),
        search_by,
        search_term: term.unwrap_or_default().to_owned(),
        search_error,
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

pub(crate) async fn declaration<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(&headers, &query, &format!("/console/declarations/{id}"));
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    declaration_page(
        &state,
        &visit,
        &caller,
        &id,
        Feedback::default(),
        StatusCode::OK,
    )
    .await
}

/// An officer releases the goods from the declaration's page; a refusal (not assessed, unpaid,
/// a task open) is shown on the page in the user's language.
pub(crate) async fn release<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let outcome = state.clearance.release(&caller, &id, None, b"{}").await;
    after_action(&state, &visit, &caller, &id, outcome).await
}

pub(crate) async fn declaration_page<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    feedback: Feedback,
    status: StatusCode,
) -> Response {
    let caller = caller.clone();
    let id = id.to_owned();
    let user = Some(user_bar(&caller));
    let clearance: &Arc<clearance::Clearance<S>> = &state.clearance;
    let view = match clearance.declaration(&caller, &id).await {
        Ok(view) => view,
        Err(ClearanceError::NotFound) => return not_found(visit, user),
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let tr = visit.tr();
    let document = serde_json::to_value(&view.declaration).unwrap_or(Value::Null);
    let party = |p: &Value| {
        let code = text(&p["credit_code"]);
        let name = text(&p["name"]);
        if code.is_empty() {
            name
        } else {
            format!("{name} ({code})")
        }
    };
    let items = item_rows(&document);
    let (mut lane, mut reasons, mut receipts, mut history, mut clearance_status) =
        (None, Vec::new(), Vec::new(), Vec::new(), None);
    let mut officer = None;
    if let Ok(selection) = clearance.selection(&caller, &view.id).await {
        lane = Some(text(&selection["lane"]));
        // Customs see why; the trade's view has no reasons to show.
        let key = if visit.language == Language::Zh {
            "zh"
        } else {
            "en"
        };
        reasons = selection["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["selected"] == true)
            .map(|r| text(&r[key]))
            .collect();
    }
    match clearance.events(&caller, &view.id).await {
        Ok(wire::EventsAnswer::Trade(page)) => {
            clearance_status = Some(tr.of("standing", &page.clearance_status));
            receipts = page
                .receipts
                .iter()
                .map(|r| HistoryRow {
                    when: crate::shown_time(state.config.display_offset, &r.recorded_at),
                    what: match &r.continuity {
                        Some(continuity) => format!(
                            "{} — {}",
                            tr.of("receipt", &r.receipt),
                            tr.received_in_continuity(
                                &crate::shown_time(
                                    state.config.display_offset,
                                    &continuity.received_at
                                ),
                                &continuity.provisional_reference
                            )
                        ),
                        None => tr.of("receipt", &r.receipt),
                    },
                    by: tr.of("by", &r.by),
                })
                .collect();
        }
        Ok(wire::EventsAnswer::Customs(page)) => {
            officer = Some(super::officer::section(
                &tr,
                state.config.display_offset,
                visit.language,
                &caller,
                &view.status,
                &document,
                &page.events,
            ));
            // Who acted, by name (an id the directory does not know, such as the engine's, as is).
            let actors: Vec<&str> = page.events.iter().map(|e| e.actor_user.as_str()).collect();
            let names = clearance
                .actor_names(&caller, &actors)
                .await
                .unwrap_or_default();
            history = page
                .events
                .iter()
                .map(|e| HistoryRow {
                    when: crate::shown_time(state.config.display_offset, &e.recorded_at),
                    what: match clearance::continuity::receipt_of(&e.payload) {
                        Some(continuity) => format!(
                            "{} — {} [{}]",
                            e.action,
                            tr.received_in_continuity(
                                &crate::shown_time(
                                    state.config.display_offset,
                                    &continuity.received_at
                                ),
                                &continuity.provisional_reference
                            ),
                            continuity.instance
                        ),
                        None => e.action.clone(),
                    },
                    by: format!(
                        "{} ({})",
                        names.get(&e.actor_user).unwrap_or(&e.actor_user),
                        e.actor_role
                    ),
                })
                .collect();
        }
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    }
    let assessment = clearance
        .assessments(&caller, &view.id)
        .await
        .ok()
        .and_then(|records| records.last().map(|r| assessment_view(visit.language, r)))
        .map(|mut a| {
            a.basis = tr.of("audit-basis", &a.basis);
            // The trade's record has none (its view is an allow-list); never shown to it anyway.
            if caller.role.is_trade() {
                a.origin_rules.clear();
            }
            a
        });
    let payments = clearance.payments(&caller, &view.id).await.ok();
    let payment = payments
        .as_ref()
        .and_then(|s| super::payment::panel(&caller, &view.status, s));
    let settlement = payments.map(|s| {
        let cny = |v: &Value| match v {
            Value::Null => tr.t("duty-not-assessed"),
            other => format!("{} CNY", text(other)),
        };
        MoneyView {
            payable: cny(&s["payable"]),
            paid: cny(&s["paid"]),
            guaranteed: cny(&s["guaranteed"]),
            claimed: cny(&s["claimed_unconfirmed"]),
            outstanding: cny(&s["outstanding"]),
        }
    });
    let may_release = caller.role == clearance::Role::Officer && view.status == "accepted";
    let my_tasks = if caller.role == clearance::Role::Officer {
        clearance
            .tasks(
                &caller,
                true,
                None,
                Some("open"),
                clearance::tasks::TASK_PAGE_MAX,
            )
            .await
            .unwrap_or_default()
            .iter()
            .filter(|t| t["declaration_id"] == view.id.as_str())
            .map(|t| MyTask {
                id: text(&t["id"]),
                kind: text(&t["kind"]),
                title: tr.of("task", &text(&t["kind"])),
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = DeclarationPage {
        page: visit.page(user),
        id: view.id.clone(),
        feedback,
        officer,
        payment,
        may_release,
        assessment,
        my_tasks,
        settlement,
        number: view.number.clone(),
        status: tr.of("status", &view.status),
        clearance_status,
        procedure: text(&document["procedure"]),
        office: text(&document["office_of_lodging"]),
        lodged_at: crate::shown_time(state.config.display_offset, &view.lodged_at),
        trader: party(&document["trader"]),
        declarant: party(&document["declarant"]),
        overseas_party: text(&document["overseas_party"]["name"]),
        items,
        lane,
        reasons,
        receipts,
        history,
    };
    respond(status, page.render(), visit.cookies.clone())
}

/// with the refusal.
pub(crate) async fn after_action<S: Store, T>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
    outcome: Result<T, ClearanceError>,
) -> Response {
    match outcome {
        Ok(_) => Redirect::to(&format!("/console/declarations/{id}")).into_response(),
        Err(ClearanceError::NotFound) => not_found(visit, Some(user_bar(caller))),
        Err(error) => match refusal_text(visit.language, &error) {
            Some(notice) => {
                declaration_page(
                    state,
                    visit,
                    caller,
                    id,
                    Feedback::notice(notice),
                    StatusCode::CONFLICT,
                )
                .await
            }
            None => crate::problem::ApiError::from(error).into_response(),
        },
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// The officer's decision on a request to amend or cancel (修撤单).
pub(crate) async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path((id, request)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let reason = form.reason.trim();
    let body = serde_json::json!({
        "approve": form.decision == "approve",
        "reason": (!reason.is_empty()).then_some(reason),
    });
    let outcome = state
        .clearance
        .decide_modification(&caller, &id, &request, None, body.to_string().as_bytes())
        .await;
    after_action(&state, &visit, &caller, &id, outcome).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssessmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customs_duty: String,
    #[serde(default)]
    consumption_tax: String,
    #[serde(default)]
    import_vat: String,
    #[serde(default)]
    reason: String,
}

/// The officer's assessment by hand.
pub(crate) async fn assess<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AssessmentForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let body = serde_json::json!({
        "customs_duty": form.customs_duty.trim(),
        "consumption_tax": optional(&form.consumption_tax),
        "import_vat": form.import_vat.trim(),
        "reason": form.reason,
    });
    let outcome = state
        .clearance
        .assess_manually(&caller, &id, None, body.to_string().as_bytes())
        .await;
    after_action(&state, &visit, &caller, &id, outcome).await
}
