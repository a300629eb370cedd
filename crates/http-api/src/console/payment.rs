//! Paying the duty and taxes from a declaration's page, and the printable declaration and tax
//! payment form (税款缴款书).
//!
//! The trade's payment is a claim through the service call the API uses
//! (`Clearance::record_payment`, kind `payment`): it covers nothing until the bank's signed
//! confirmation arrives (`/v1/payment-confirmations`, `customs bank confirm`), which the page
//! then shows. An officer accepts a guarantee in the same panel (kind `guarantee`). Each form
//! carries a fresh nonce, its idempotency key: a double click pays once.
//!
//! The printed pages read what the declaration's page reads: the declaration the caller may see
//! and its assessments, which the service gives the trade as its tax notice (an allow-list,
//! `trade_view::trade_assessment`); neither page shows anything of the selection.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use clearance::{Caller, ClearanceError};
use serde::Deserialize;
use serde_json::{Value, json};
use store::Store;

use super::declarations::{Feedback, after_action, declaration_page};
use super::officer::FieldIssue;
use super::*;
use crate::AppState;

pub(super) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/declarations/{id}/payments", post(pay::<S>))
        .route("/console/declarations/{id}/print", get(print::<S>))
        .route("/console/declarations/{id}/tax-form", get(tax_form::<S>))
}

/// Days from a tax payment form's issue to the day payment is due (海关法 第六十条: 15 days).
pub const TAX_FORM_DAYS_TO_PAY: i64 = 15;

/// The payment panel of a declaration's page.
pub(crate) struct PaymentPanel {
    /// `payment` (trade) or `guarantee` (officer).
    pub kind: &'static str,
    pub outstanding: String,
    /// Claimed by the trade, not yet confirmed by the bank.
    pub awaiting_bank: Option<String>,
    /// Everything payable is covered (paid as confirmed by the bank, or guaranteed).
    pub covered: bool,
    /// A form may be sent: accepted, assessed, something outstanding.
    pub may_pay: bool,
    pub nonce: String,
}

/// The panel for the caller: the trade pays, an officer accepts a guarantee; other roles none.
pub(crate) fn panel(caller: &Caller, status: &str, settlement: &Value) -> Option<PaymentPanel> {
    let kind = if caller.role.is_trade() {
        "payment"
    } else if caller.role == clearance::Role::Officer {
        "guarantee"
    } else {
        return None;
    };
    let assessed = settlement["assessed"] == true;
    let outstanding = text(&settlement["outstanding"]);
    let claimed = text(&settlement["claimed_unconfirmed"]);
    let owes = assessed && outstanding != "0.00";
    Some(PaymentPanel {
        kind,
        awaiting_bank: (claimed != "0.00" && !claimed.is_empty()).then_some(claimed),
        covered: assessed && !owes,
        may_pay: status == "accepted" && owes,
        outstanding,
        nonce: hex_of(&rand::random::<[u8; 16]>()),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reference: String,
}

/// The trade's payment claim, or an officer's guarantee.
pub(crate) async fn pay<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let path = format!("/console/declarations/{id}");
    let (visit, caller) = match acting(&state, &headers, &form.csrf, &path).await {
        Ok(acting) => acting,
        Err(response) => return response,
    };
    let kind = if caller.role.is_trade() {
        "payment"
    } else {
        "guarantee"
    };
    let body = json!({
        "kind": kind, "amount": form.amount.trim(), "reference": form.reference.trim(),
    });
    // The form's nonce is the idempotency key: the same form sent twice pays once.
    let nonce: String = form
        .nonce
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect();
    let key = (nonce.len() == 32).then(|| format!("console-pay-{nonce}"));
    let outcome = state
        .clearance
        .record_payment(&caller, &id, key.as_deref(), body.to_string().as_bytes())
        .await;
    match outcome {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(ClearanceError::Invalid(errors)) => {
            let mut feedback = Feedback::default();
            feedback
                .values
                .insert("pay-amount".to_owned(), form.amount.clone());
            feedback
                .values
                .insert("pay-reference".to_owned(), form.reference.clone());
            for e in errors {
                feedback.issues.push(FieldIssue {
                    field: if e.path == "reference" {
                        "pay-reference"
                    } else {
                        "pay-amount"
                    }
                    .to_owned(),
                    message: if visit.language == Language::Zh {
                        e.message_zh
                    } else {
                        e.message_en
                    },
                });
            }
            declaration_page(
                &state,
                &visit,
                &caller,
                &id,
                feedback,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        other => after_action(&state, &visit, &caller, &id, other).await,
    }
}

pub(crate) struct TaxLine {
    pub name: String,
    pub payable: String,
}

#[derive(Template)]
#[template(path = "console/payment_print.html")]
struct PrintPage {
    page: Page,
    id: String,
    number: String,
    status: String,
    direction: String,
    procedure: String,
    office: String,
    lodged_at: String,
    trader: String,
    declarant: String,
    overseas_party: String,
    transport: String,
    invoice: String,
    items: Vec<super::declarations::ItemRow>,
    /// The invoice's currency, which every item's amount is in.
    currency: String,
    taxes: Vec<TaxLine>,
    total_payable: Option<String>,
}

#[derive(Template)]
#[template(path = "console/payment_tax_form.html")]
struct TaxFormPage {
    page: Page,
    id: String,
    number: String,
    office: String,
    payer: String,
    payer_code: String,
    issued: String,
    due: String,
    taxes: Vec<TaxLine>,
    total_payable: String,
}

/// What both printed pages read: the declaration as the caller may see it and its latest
/// assessment (the trade's tax notice for the trade).
struct Printed {
    view: wire::DeclarationView,
    document: Value,
    assessment: Option<Value>,
}

async fn printed<S: Store>(
    state: &AppState<S>,
    visit: &Visit,
    caller: &Caller,
    id: &str,
) -> Result<Printed, Response> {
    let view = match state.clearance.declaration(caller, id).await {
        Ok(view) => view,
        Err(ClearanceError::NotFound) => return Err(not_found(visit, Some(user_bar(caller)))),
        Err(other) => return Err(crate::problem::ApiError::from(other).into_response()),
    };
    let assessment = match state.clearance.assessments(caller, &view.id).await {
        Ok(records) => records.into_iter().last(),
        Err(ClearanceError::NotFound) => None,
        Err(other) => return Err(crate::problem::ApiError::from(other).into_response()),
    };
    let document = serde_json::to_value(&view.declaration).unwrap_or(Value::Null);
    Ok(Printed {
        view,
        document,
        assessment: assessment.filter(|a| a["outcome"] == "assessed"),
    })
}

fn taxes(language: Language, assessment: &Value) -> Vec<TaxLine> {
    let key = if language == Language::Zh { "zh" } else { "en" };
    assessment["report"]["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TaxLine {
            name: text(&t["name"][key]),
            payable: text(&t["payable"]),
        })
        .collect()
}

fn party(p: &Value) -> String {
    let code = text(&p["credit_code"]);
    let name = text(&p["name"]);
    if code.is_empty() {
        name
    } else {
        format!("{name} ({code})")
    }
}

/// The printable declaration.
pub(crate) async fn print<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(
        &headers,
        &query,
        &format!("/console/declarations/{id}/print"),
    );
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Printed {
        view,
        document,
        assessment,
    } = match printed(&state, &visit, &caller, &id).await {
        Ok(printed) => printed,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let items = super::declarations::item_rows(&document);
    let currency = text(&document["invoice"]["currency"]);
    let transport = [
        text(&document["transport"]["means_name"]),
        text(&document["transport"]["voyage"]),
        text(&document["transport"]["document"]["number"]),
    ]
    .into_iter()
    .filter(|t| !t.is_empty())
    .collect::<Vec<_>>()
    .join(" · ");
    let invoice = [
        text(&document["invoice"]["amount"]),
        text(&document["invoice"]["currency"]),
    ]
    .join(" ")
    .trim()
    .to_owned();
    let page = PrintPage {
        page: visit.page(Some(user_bar(&caller))),
        id: view.id.clone(),
        number: view.number.clone(),
        status: tr.of("status", &view.status),
        direction: text(&document["direction"]),
        procedure: text(&document["procedure"]),
        office: text(&document["office_of_lodging"]),
        lodged_at: crate::shown_time(state.config.display_offset, &view.lodged_at),
        trader: party(&document["trader"]),
        declarant: party(&document["declarant"]),
        overseas_party: text(&document["overseas_party"]["name"]),
        transport,
        invoice,
        items,
        currency,
        taxes: assessment
            .as_ref()
            .map(|a| taxes(visit.language, a))
            .unwrap_or_default(),
        total_payable: assessment.as_ref().map(|a| text(&a["total_payable"])),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}

/// The tax payment form (税款缴款书) of the latest assessment; without one, the not-found page.
pub(crate) async fn tax_form<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let visit = Visit::of(
        &headers,
        &query,
        &format!("/console/declarations/{id}/tax-form"),
    );
    let caller = match signed_in(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Printed {
        view,
        document,
        assessment,
    } = match printed(&state, &visit, &caller, &id).await {
        Ok(printed) => printed,
        Err(response) => return response,
    };
    let tr = visit.tr();
    let Some(assessment) = assessment else {
        let page = MessagePage {
            title: tr.t("tax-form-title"),
            body: tr.t("tax-form-not-assessed"),
            page: visit.page(Some(user_bar(&caller))),
        };
        return respond(StatusCode::NOT_FOUND, page.render(), visit.cookies.clone());
    };
    let issued = text(&assessment["acceptance_date"]);
    let due = chrono::NaiveDate::parse_from_str(&issued, "%Y-%m-%d")
        .map(|d| (d + chrono::Duration::days(TAX_FORM_DAYS_TO_PAY)).to_string())
        .unwrap_or_default();
    let page = TaxFormPage {
        page: visit.page(Some(user_bar(&caller))),
        id: view.id.clone(),
        number: view.number.clone(),
        office: text(&document["office_of_lodging"]),
        payer: text(&document["trader"]["name"]),
        payer_code: text(&document["trader"]["credit_code"]),
        issued,
        due,
        // One form per tax that is owed (a tax of nothing gets no form).
        taxes: taxes(visit.language, &assessment)
            .into_iter()
            .filter(|t| t.payable != "0.00")
            .collect(),
        total_payable: text(&assessment["total_payable"]),
    };
    respond(StatusCode::OK, page.render(), visit.cookies.clone())
}
