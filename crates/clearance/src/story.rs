//! Steps of the clearance story that many tests take, as a customs administration takes them:
//! an officer decides a trader's request, assesses by hand what the engine could not, and the
//! paying bank confirms the payment (a [`SimulatedBank`] registered as a connector).

use serde_json::{Value, json};
use store::{Actor, Store};

use crate::payments::SimulatedBank;
use crate::tests::Fixture;
use crate::{Caller, Clearance};

/// The demo bank of the tests, with a fixed key.
pub(crate) fn bank() -> SimulatedBank {
    SimulatedBank::new("TESTBANK", [42; 32])
}

/// The caller among `officers` that an open task of `kind` on the declaration is assigned to.
pub(crate) async fn assigned<'a, S: Store>(
    clearance: &Clearance<S>,
    officers: &'a [&'a Caller],
    declaration_id: &str,
    kind: &str,
) -> Option<(&'a Caller, String)> {
    let open = clearance.open_tasks(declaration_id).await.unwrap();
    let task = open.iter().find(|t| t.kind == kind)?;
    let officer = officers
        .iter()
        .find(|o| o.user_id() == task.assigned_to)
        .unwrap_or_else(|| panic!("task {} is assigned to none of the officers given", task.id));
    Some((officer, task.id.clone()))
}

/// The assigned officer approves the request pending on the declaration.
pub(crate) async fn approve_request(f: &Fixture, officers: &[&Caller], number: &str) -> Value {
    let row = f
        .clearance
        .store()
        .declaration_by_number(number)
        .await
        .unwrap()
        .unwrap();
    let (officer, request) = assigned(
        &f.clearance,
        officers,
        &row.id,
        crate::modifications::REVIEW_TASK,
    )
    .await
    .expect("a request is pending");
    f.clearance
        .decide_modification(officer, number, &request, None, br#"{"approve": true}"#)
        .await
        .unwrap()
}

/// An officer assesses the declaration by hand (duty 0, VAT 13.00).
pub(crate) async fn assess_by_hand(f: &Fixture, officer: &Caller, number: &str) -> Value {
    let body = json!({ "customs_duty": "0", "import_vat": "13.00", "reason": "no tariff line in the test data" });
    f.clearance
        .assess_manually(officer, number, None, body.to_string().as_bytes())
        .await
        .unwrap()
        .record
}

/// Registers the test bank as a payment connector (once).
pub(crate) async fn register_bank(f: &Fixture) {
    let admin = f.caller_with_role("story-admin", crate::Role::Admin).await;
    let body = json!({ "id": bank().connector, "name": "Test bank", "public_key": bank().public_key_hex() });
    f.clearance
        .register_payment_connector(&admin, body.to_string().as_bytes())
        .await
        .unwrap();
}

/// The bank confirms payment of everything outstanding on the declaration.
pub(crate) async fn pay_in_full(
    f: &Fixture,
    payer: &Caller,
    number: &str,
    reference: &str,
) -> Value {
    let owed = f.clearance.payments(payer, number).await.unwrap();
    let amount = owed["outstanding"].as_str().unwrap().to_owned();
    let confirmation = bank().confirm(number, &amount, reference, "2026-11-26T12:00:00+08:00");
    f.clearance
        .confirm_payment(serde_json::to_string(&confirmation).unwrap().as_bytes())
        .await
        .unwrap()
}

/// An actor for fixture set-up.
pub(crate) fn admin() -> Actor {
    Actor {
        user_id: "test".into(),
        role: "admin".into(),
    }
}
