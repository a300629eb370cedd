//! Payment of the assessed duty and taxes, or a guarantee in its place: goods are released only
//! when what was paid and guaranteed covers the latest assessment's total payable.
//!
//! A payment is recorded by the trade that declared (with the bank's reference: the confirmation
//! of China's electronic payment system 电子支付 stands in here as the reference the trader
//! quotes), a guarantee (担保) by an officer who accepted it. Both are `declaration.paid` events;
//! nothing is edited, and a reassessment that raises the total simply needs more. Refunds of an
//! overpayment are later work.

use domain::FieldError;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Append, AppendOutcome, Projection, Store};

use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest};

/// The event that records a payment or a guarantee.
pub const PAID_ACTION: &str = "declaration.paid";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// `payment` (by the trade) or `guarantee` (accepted by an officer).
    pub kind: String,
    /// CNY, a decimal string with at most 2 decimals, above zero.
    pub amount: String,
    /// The bank's payment reference or the guarantee's number.
    pub reference: String,
}

/// What a declaration owes and has covered, from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Total payable of the latest assessment; `None` when it was never assessed.
    pub payable: Option<Decimal>,
    pub paid: Decimal,
    pub guaranteed: Decimal,
}

impl Settlement {
    pub fn outstanding(&self) -> Decimal {
        (self.payable.unwrap_or_default() - self.paid - self.guaranteed).max(Decimal::ZERO)
    }

    fn view(&self) -> Value {
        let text = |d: Decimal| tariff::money::fen_text(d);
        json!({
            "payable": self.payable.map(text),
            "paid": text(self.paid),
            "guaranteed": text(self.guaranteed),
            "outstanding": text(self.outstanding()),
        })
    }
}

fn amount_of(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

impl<S: Store> Clearance<S> {
    /// The declaration's settlement, read from its assessments and payments.
    pub(crate) async fn settlement(
        &self,
        declaration_id: &str,
    ) -> Result<Settlement, ClearanceError> {
        let mut settlement = Settlement {
            payable: None,
            paid: Decimal::ZERO,
            guaranteed: Decimal::ZERO,
        };
        for event in self.store.events(declaration_id).await? {
            let payload = || serde_json::from_str::<Value>(&event.payload).unwrap_or(Value::Null);
            if event.action == crate::assessment::ASSESSED_ACTION {
                let record = payload();
                settlement.payable = match record["outcome"].as_str() {
                    Some("assessed") => Some(amount_of(&record["total_payable"])),
                    _ => None,
                };
            } else if event.action == PAID_ACTION {
                let paid = payload();
                let amount = amount_of(&paid["amount"]);
                match paid["kind"].as_str() {
                    Some("guarantee") => settlement.guaranteed += amount,
                    _ => settlement.paid += amount,
                }
            }
        }
        Ok(settlement)
    }

    /// What a declaration owes and has covered.
    pub async fn payments(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Read)?;
        let row = self.visible_row(caller, id_or_number).await?;
        Ok(self.settlement(&row.id).await?.view())
    }

    /// Records a payment (trade) or a guarantee (officer) against a declaration.
    pub async fn record_payment(
        &self,
        caller: &Caller,
        id_or_number: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::Pay)?;
        let request: PaymentRequest =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        let allowed = match request.kind.as_str() {
            "payment" => caller.role.is_trade(),
            "guarantee" => caller.role == Role::Officer,
            _ => {
                errors.push(FieldError::invalid_format(
                    "kind",
                    "payment or guarantee",
                    "payment（缴款）或 guarantee（担保）",
                ));
                true
            }
        };
        if !allowed {
            return Err(ClearanceError::Forbidden {
                message_en: "payments are recorded by the trade, guarantees by an officer".into(),
                message_zh: "缴款由企业录入，担保由关员录入".into(),
                errors: vec![],
            });
        }
        let amount = domain::numbers::parse_decimal("amount", &request.amount)
            .ok()
            .filter(|a| *a > Decimal::ZERO && a.scale() <= 2);
        if amount.is_none() {
            errors.push(FieldError::invalid_format(
                "amount",
                "an amount in CNY above zero with at most 2 decimals, e.g. \"1234.50\"",
                "大于零、最多两位小数的人民币金额，如 \"1234.50\"",
            ));
        }
        let reference = domain::numbers::parse_text(
            "reference",
            &request.reference,
            domain::limits::REFERENCE_LENGTH_MAX,
        );
        if let Err(e) = &reference {
            errors.push(e.clone());
        }
        let (Some(amount), Ok(reference), true) = (amount, reference, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let row = self.visible_row(caller, id_or_number).await?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("pay:{id_or_number}"), body);
        let payload = json!({
            "kind": request.kind,
            "amount": tariff::money::fen_text(amount),
            "reference": reference,
        });
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: row.id.clone(),
            action: PAID_ACTION.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest,
            payload: payload.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
            linked: Vec::new(),
            cbec_purchase: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { same_request, .. } if same_request => {}
            AppendOutcome::Duplicate { .. } => return Err(ClearanceError::IdempotencyKeyReused),
            other => return Err(crate::refusal(other)),
        }
        Ok(self.settlement(&row.id).await?.view())
    }
}
