//! What the trade is told of a declaration's history: where it stands (a broker's statuses) and
//! its receipts (回执). Each receipt is built member by member from an allow-list of event kinds
//! and of the facts the trade may know; an event kind not listed here gives no receipt at all.
//! Nothing is ever copied from a customs payload wholesale, so a new targeting or officer field
//! can never leak by being added to an event: the trade's view has no slot for it.

use serde_json::Value;
use store::EventRow;
use wire::{TradeEventPage, TradeReceiptView};

use crate::payments::Settlement;

/// Who acted, as the trade is told: never which officer or which rule.
fn by(event: &EventRow) -> &'static str {
    match event.actor.role.as_str() {
        "declarant" | "broker" => "trade",
        "system" => "system",
        "payment_connector" => "bank",
        _ => "customs",
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// The checks a task kind asks the trade to present goods or documents for.
fn is_check(kind: &str) -> bool {
    matches!(
        kind,
        "document_check" | "physical_inspection" | "lab_sampling" | "hold"
    )
}

/// The receipt of one event, if the trade is told of it.
pub(crate) fn receipt(event: &EventRow) -> Option<TradeReceiptView> {
    let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    let by = by(event);
    let mut view = TradeReceiptView {
        seq: event.seq,
        recorded_at: crate::views::rfc3339(event.recorded_at_ms),
        receipt: String::new(),
        by: by.to_owned(),
        number: None,
        reason: None,
        amount: None,
        reference: None,
        difference: None,
        settlement: None,
        checks: Vec::new(),
        continuity: None,
    };
    // The trade's own words are its own; an officer's correction is announced without them.
    let own_reason = || (by == "trade").then(|| text(&payload["reason"])).flatten();
    view.receipt = match event.action.as_str() {
        "declaration.accepted" => {
            view.number = text(&payload["number"]);
            // Only the reference the trade was given and when: not the instance.
            view.continuity = crate::continuity::receipt_of(&payload).map(|receipt| {
                wire::ContinuityReceiptView {
                    provisional_reference: receipt.provisional_reference,
                    received_at: receipt.received_at,
                }
            });
            "accepted"
        }
        "declaration.amended" => {
            view.reason = own_reason();
            "amended"
        }
        "declaration.cancelled" => {
            view.reason = own_reason();
            "cancelled"
        }
        "declaration.released" => "released",
        "declaration.completed" => {
            view.number = text(&payload["full_number"]);
            "completed"
        }
        crate::assessment::ASSESSED_ACTION => {
            if payload["outcome"] == "assessed" {
                view.amount = text(&payload["total_payable"]);
                // A reassessment that changed the total: the trade is told what it owes more
                // or is owed back (the record's own difference, nothing else of it).
                let difference = payload["difference"]["total"]
                    .as_str()
                    .and_then(|t| t.parse::<rust_decimal::Decimal>().ok())
                    .filter(|d| !d.is_zero());
                if let Some(d) = difference {
                    view.difference = Some(tariff::money::fen_text(d));
                    view.settlement = Some(
                        if d > rust_decimal::Decimal::ZERO {
                            "pay_more"
                        } else {
                            "refund"
                        }
                        .to_owned(),
                    );
                }
                "assessed"
            } else {
                "assessment_pending"
            }
        }
        crate::payments::PAID_ACTION => {
            view.amount = text(&payload["amount"]);
            if payload["kind"] == "guarantee" {
                "guarantee_accepted"
            } else {
                view.reference = text(&payload["bank_reference"]);
                "payment_confirmed"
            }
        }
        crate::payments::CLAIMED_ACTION => {
            view.amount = text(&payload["amount"]);
            view.reference = text(&payload["reference"]);
            "payment_claimed"
        }
        crate::targeting::TARGETED_ACTION => {
            let asked = crate::tasks::kinds_asked(&payload);
            if asked.is_empty() {
                return None;
            }
            view.checks = asked.into_iter().map(str::to_owned).collect();
            "checks_required"
        }
        "task.created" if payload["kind"] == "hold" => {
            view.checks = vec!["hold".to_owned()];
            "held"
        }
        "task.closed" => {
            let kind = payload["kind"].as_str().unwrap_or_default();
            if !is_check(kind) {
                return None;
            }
            view.checks = vec![kind.to_owned()];
            if kind == "hold" {
                "hold_lifted"
            } else {
                "check_completed"
            }
        }
        crate::modifications::REQUESTED_ACTION => {
            view.reason = own_reason();
            if payload["request"] == "cancellation" {
                "cancellation_requested"
            } else {
                "amendment_requested"
            }
        }
        crate::modifications::DECIDED_ACTION => {
            if payload["approved"] == true {
                "request_approved"
            } else {
                // The officer's reason for refusing is addressed to the trade.
                view.reason = text(&payload["reason"]);
                "request_refused"
            }
        }
        _ => return None,
    }
    .to_owned();
    Some(view)
}

/// The kinds of the declaration's tasks still open, from its events.
pub(crate) fn open_task_kinds(events: &[EventRow]) -> Vec<String> {
    let mut open: Vec<(String, String)> = Vec::new();
    for event in events {
        let payload = || serde_json::from_str::<Value>(&event.payload).unwrap_or(Value::Null);
        match event.action.as_str() {
            "task.created" => {
                let p = payload();
                if let (Some(id), Some(kind)) = (p["task"].as_str(), p["kind"].as_str()) {
                    open.push((id.to_owned(), kind.to_owned()));
                }
            }
            "task.closed" => {
                let p = payload();
                open.retain(|(id, _)| Some(id.as_str()) != p["task"].as_str());
            }
            _ => {}
        }
    }
    open.into_iter().map(|(_, kind)| kind).collect()
}

/// Where a declaration stands, as a broker asks: the strongest of what still stops its release.
pub(crate) fn clearance_status(row_status: &str, events: &[EventRow]) -> &'static str {
    match row_status {
        "released" => return "released",
        "cancelled" => return "cancelled",
        _ => {}
    }
    let open = open_task_kinds(events);
    let has = |kind: &str| open.iter().any(|k| k == kind);
    if has("hold") {
        "held"
    } else if has("physical_inspection") || has("lab_sampling") {
        "under_inspection"
    } else if has("document_check") {
        "under_document_check"
    } else if has(crate::modifications::REVIEW_TASK) {
        "modification_requested"
    } else if has(crate::assessing::MANUAL_ASSESSMENT_TASK) {
        "under_assessment"
    } else if Settlement::of_events(events)
        .is_ok_and(|s| s.outstanding() > rust_decimal::Decimal::ZERO)
    {
        "duty_due"
    } else {
        "accepted"
    }
}

/// The trade's page of a declaration's history.
pub(crate) fn trade_page(row_status: &str, events: &[EventRow]) -> TradeEventPage {
    TradeEventPage {
        clearance_status: clearance_status(row_status, events).to_owned(),
        receipts: events.iter().filter_map(receipt).collect(),
    }
}

/// An assessment as the trade sees it (its tax notice): the members listed here and nothing
/// else. The engine's report is the computation of the trade's own duty and taxes and goes as
/// it is; an officer's note and the buyer's annual CBEC total (a person's purchases from
/// other sellers) do not.
pub(crate) fn trade_assessment(record: &Value) -> Value {
    let mut view = serde_json::Map::new();
    for member in [
        "assessment",
        "basis",
        "acceptance_date",
        "tariff_release",
        "exchange_rate_tables",
        "outcome",
        "regime",
        "total_payable",
        "difference",
        "problems",
        "report",
    ] {
        if let Some(value) = record.get(member) {
            view.insert(member.to_owned(), value.clone());
        }
    }
    if let Some(cbec) = record.get("cbec").filter(|c| c.is_object()) {
        let mut order = serde_json::Map::new();
        for member in ["order_value", "annual_limit"] {
            if let Some(value) = cbec.get(member) {
                order.insert(member.to_owned(), value.clone());
            }
        }
        view.insert("cbec".to_owned(), Value::Object(order));
    }
    Value::Object(view)
}

/// What the lodging answer tells the trade of its selection and assessment (`LodgementView`):
/// the lane exactly as the trade's view of the selection shows it (`Clearance::selection`), and
/// the total payable exactly as the `assessed` receipt carries it; nothing else of either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LodgingFacts {
    pub lane: Option<String>,
    pub assessment: &'static str,
    pub amount_due: Option<String>,
    /// The regime the assessment names (`regime::REGIME_MEMBER`), when it names one.
    pub regime: Option<String>,
}

/// The facts of the first selection and assessment among a declaration's events (`(action,
/// payload)`, in order): those written with its acceptance.
pub(crate) fn lodging_facts<'a>(
    events: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> LodgingFacts {
    let mut facts = LodgingFacts {
        lane: None,
        assessment: "not_assessed",
        amount_due: None,
        regime: None,
    };
    let (mut targeted, mut assessed) = (false, false);
    for (action, payload) in events {
        if action == crate::targeting::TARGETED_ACTION && !targeted {
            targeted = true;
            let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            facts.lane = text(&payload["lane"]);
        } else if action == crate::assessment::ASSESSED_ACTION && !assessed {
            assessed = true;
            let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            facts.regime = text(&payload[crate::regime::REGIME_MEMBER]);
            if payload["outcome"] == "assessed" {
                facts.assessment = "assessed";
                facts.amount_due = text(&payload["total_payable"]);
            } else {
                facts.assessment = "pending";
            }
        }
    }
    facts
}
