//! Payment of the assessed duty and taxes, or a guarantee in its place: goods are released only
//! when the declaration is assessed and what was paid and guaranteed covers the latest
//! assessment's total payable.
//!
//! What the trade says it paid is a claim (`payment.claimed`), never money: a payment counts only
//! once the paying bank or the treasury confirms it (`declaration.paid`), in a message signed by
//! a registered payment connector (China: 税费电子支付) and verified here with the connector's
//! public key. A confirmation is idempotent by its bank reference, which is unique across the
//! platform (the store's unique idempotency index enforces it: the reference is the key of the
//! platform-wide scope `payment-confirmation`). No payment or guarantee may exceed what is
//! outstanding, so the sums stay within the assessed total and never overflow. A guarantee (担保)
//! is recorded by an officer who accepted it. What was paid beyond a lower reassessment is shown as `refund_due`
//! (its payment back goes through the treasury, outside this platform).
//!
//! Connectors are registered and withdrawn by administrators as events of the subject
//! [`CONNECTORS_SUBJECT`]: the registry is the fold of those events, in the audit chain.
//! [`SimulatedBank`] is the connector of the demo and the tests: it signs exactly as a bank
//! link would.

use domain::FieldError;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{Actor, Append, AppendOutcome, DeclarationRow, EventRow, Projection, Store};

use crate::access::{Action, Caller, Role};
use crate::error::ClearanceError;
use crate::{Clearance, actor, idempotency_key_or_new, request_digest};

/// The event that records a confirmed payment or an accepted guarantee: money that counts.
pub const PAID_ACTION: &str = "declaration.paid";
/// The event that records what the trade says it paid: a claim, which counts for nothing until
/// the bank confirms it.
pub const CLAIMED_ACTION: &str = "payment.claimed";
/// The subject whose events register and withdraw payment connectors.
pub const CONNECTORS_SUBJECT: &str = "payment-connectors";
pub const CONNECTOR_REGISTERED_ACTION: &str = "payment_connector.registered";
pub const CONNECTOR_WITHDRAWN_ACTION: &str = "payment_connector.withdrawn";
/// The platform-wide idempotency scope of confirmations: a bank reference is its key, so one
/// reference confirms one payment, once, whichever connector or declaration it names.
pub const CONFIRMATION_SCOPE: &str = "payment-confirmation";
/// The largest amount one payment, claim or guarantee may carry (CNY). Far above any real
/// declaration's taxes, far below where a sum of a declaration's payments could overflow.
pub const PAYMENT_AMOUNT_MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Longest connector id (e.g. `ICBC-TAX`).
pub const CONNECTOR_ID_LENGTH_MAX: usize = 32;
/// The domain separator of a signed confirmation, so no other signed text can pass for one.
const CONFIRMATION_CONTEXT: &str = "opencustoms-payment-confirmation-v1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// `payment` (a claim by the trade) or `guarantee` (accepted by an officer).
    pub kind: String,
    /// CNY, a decimal string with at most 2 decimals, above zero.
    pub amount: String,
    /// The bank's payment reference or the guarantee's number.
    pub reference: String,
}

/// A paying bank's (or the treasury's) confirmation that duty and taxes were paid, signed by a
/// registered payment connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfirmation {
    pub connector: String,
    /// The bank's reference of the payment: unique across the platform.
    pub bank_reference: String,
    pub declaration_number: String,
    /// CNY, a decimal string with at most 2 decimals.
    pub amount: String,
    pub currency: String,
    /// When the bank debited the payer, RFC 3339.
    pub paid_at: String,
    /// Ed25519 signature (hex) over [`PaymentConfirmation::signed_text`].
    pub signature: String,
}

impl PaymentConfirmation {
    /// The text a connector signs: every member but the signature, one a line, after a domain
    /// separator. (Lines, not JSON: nothing to canonicalise, and no member may hold a newline.)
    pub fn signed_text(&self) -> String {
        [
            CONFIRMATION_CONTEXT,
            &self.connector,
            &self.bank_reference,
            &self.declaration_number,
            &self.amount,
            &self.currency,
            &self.paid_at,
        ]
        .join("\n")
    }
}

/// A bank that signs confirmations with its own key: the demo's and the tests' connector. A real
/// bank link signs the same text with a key whose public half an administrator registered.
pub struct SimulatedBank {
    pub connector: String,
    key: SigningKey,
}

impl SimulatedBank {
    pub fn new(connector: &str, secret: [u8; 32]) -> SimulatedBank {
        SimulatedBank {
            connector: connector.to_owned(),
            key: SigningKey::from_bytes(&secret),
        }
    }

    pub fn generate(connector: &str) -> SimulatedBank {
        SimulatedBank::new(connector, rand::random())
    }

    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key (hex) to register the connector with.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// A signed confirmation of a payment of `amount` CNY for the declaration.
    pub fn confirm(
        &self,
        declaration_number: &str,
        amount: &str,
        bank_reference: &str,
        paid_at: &str,
    ) -> PaymentConfirmation {
        let mut confirmation = PaymentConfirmation {
            connector: self.connector.clone(),
            bank_reference: bank_reference.to_owned(),
            declaration_number: declaration_number.to_owned(),
            amount: amount.to_owned(),
            currency: "CNY".to_owned(),
            paid_at: paid_at.to_owned(),
            signature: String::new(),
        };
        let signature = self.key.sign(confirmation.signed_text().as_bytes());
        confirmation.signature = hex::encode(signature.to_bytes());
        confirmation
    }
}

/// A connector as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connector {
    pub id: String,
    pub name: String,
    pub public_key: String,
    pub active: bool,
}

/// The registry: the fold of the connectors' events, oldest first.
fn connectors_of(events: &[EventRow]) -> Vec<Connector> {
    let mut connectors: Vec<Connector> = Vec::new();
    for event in events {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        let id = payload["connector"].as_str().unwrap_or_default().to_owned();
        match event.action.as_str() {
            CONNECTOR_REGISTERED_ACTION => {
                connectors.retain(|c| c.id != id);
                connectors.push(Connector {
                    id,
                    name: payload["name"].as_str().unwrap_or_default().to_owned(),
                    public_key: payload["public_key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    active: true,
                });
            }
            CONNECTOR_WITHDRAWN_ACTION => {
                for connector in connectors.iter_mut().filter(|c| c.id == id) {
                    connector.active = false;
                }
            }
            _ => {}
        }
    }
    connectors
}

fn connector_view(c: &Connector) -> Value {
    json!({ "id": c.id, "name": c.name, "public_key": c.public_key, "active": c.active })
}

/// What a declaration owes and has covered, from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Total payable of the latest assessment; `None` when it is not assessed (never, or its
    /// latest assessment could not be made).
    pub payable: Option<Decimal>,
    /// Confirmed by a bank: claims do not count.
    pub paid: Decimal,
    pub guaranteed: Decimal,
    /// Claimed by the trade and not (yet) confirmed; shown, never counted.
    pub claimed: Decimal,
}

fn amount_of(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

fn overflow() -> ClearanceError {
    ClearanceError::Internal(anyhow::anyhow!(
        "a declaration's payments overflow their sum"
    ))
}

impl Settlement {
    /// The settlement of a declaration's events. Sums are checked: an overflow is an error, never
    /// a wrapped or saturated figure (bounded amounts make it unreachable).
    pub fn of_events(events: &[EventRow]) -> Result<Settlement, ClearanceError> {
        let mut settlement = Settlement {
            payable: None,
            paid: Decimal::ZERO,
            guaranteed: Decimal::ZERO,
            claimed: Decimal::ZERO,
        };
        for event in events {
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
                let sum = match paid["kind"].as_str() {
                    Some("guarantee") => &mut settlement.guaranteed,
                    _ => &mut settlement.paid,
                };
                *sum = sum.checked_add(amount).ok_or_else(overflow)?;
            } else if event.action == CLAIMED_ACTION {
                let amount = amount_of(&payload()["amount"]);
                settlement.claimed = settlement
                    .claimed
                    .checked_add(amount)
                    .ok_or_else(overflow)?;
            }
        }
        Ok(settlement)
    }

    pub fn outstanding(&self) -> Decimal {
        let covered = self.paid.saturating_add(self.guaranteed);
        self.payable
            .unwrap_or_default()
            .saturating_sub(covered)
            .max(Decimal::ZERO)
    }

    /// What was paid beyond the latest assessment's total (a reassessment lowered it): refunded
    /// to the payer. A guarantee beyond it is released, not refunded; an unassessed declaration
    /// owes nothing and is owed nothing until it is assessed.
    pub fn refund_due(&self) -> Decimal {
        self.payable.map_or(Decimal::ZERO, |payable| {
            (self.paid - payable).max(Decimal::ZERO)
        })
    }

    fn view(&self) -> Value {
        let text = |d: Decimal| tariff::money::fen_text(d);
        json!({
            "payable": self.payable.map(text),
            "assessed": self.payable.is_some(),
            "paid": text(self.paid),
            "guaranteed": text(self.guaranteed),
            "claimed_unconfirmed": text(self.claimed),
            "outstanding": text(self.outstanding()),
            "refund_due": text(self.refund_due()),
        })
    }
}

/// An amount of CNY with at most 2 decimals and at most [`PAYMENT_AMOUNT_MAX`]: above zero, or
/// with `zero_allowed` zero or more (a tax assessed by hand may be nothing).
pub(crate) fn parse_amount(
    path: &str,
    raw: &str,
    zero_allowed: bool,
) -> Result<Decimal, FieldError> {
    let (floor_en, floor_zh) = if zero_allowed {
        ("zero or more", "不小于零")
    } else {
        ("above zero", "大于零")
    };
    domain::numbers::parse_decimal(path, raw)
        .ok()
        .filter(|a| {
            (*a > Decimal::ZERO || (zero_allowed && a.is_zero()))
                && a.scale() <= 2
                && *a <= PAYMENT_AMOUNT_MAX
        })
        .ok_or_else(|| {
            FieldError::invalid_format(
                path,
                &format!(
                    "an amount in CNY {floor_en} with at most 2 decimals, at most {PAYMENT_AMOUNT_MAX}, e.g. \"1234.50\""
                ),
                &format!(
                    "{floor_zh}、最多两位小数且不超过 {PAYMENT_AMOUNT_MAX} 的人民币金额，如 \"1234.50\""
                ),
            )
        })
}

/// A payment or guarantee above what is outstanding is refused: nothing is overpaid, and the sums
/// stay within the assessed total.
fn overpayment(number: &str, amount: Decimal, outstanding: Decimal) -> ClearanceError {
    let (amount, outstanding) = (
        tariff::money::fen_text(amount),
        tariff::money::fen_text(outstanding),
    );
    ClearanceError::Transition(domain::TransitionError {
        code: "overpayment",
        message_en: format!(
            "{amount} CNY is more than the {outstanding} CNY outstanding on declaration {number}"
        ),
        message_zh: format!("{amount} 元超过报关单 {number} 尚欠的 {outstanding} 元"),
    })
}

fn not_payable(number: &str, why_en: &str, why_zh: &str) -> ClearanceError {
    ClearanceError::Transition(domain::TransitionError {
        code: "not_payable",
        message_en: format!("declaration {number} takes no payment: {why_en}"),
        message_zh: format!("报关单 {number} 不能缴款：{why_zh}"),
    })
}

impl<S: Store> Clearance<S> {
    /// Whether `amount` may be paid or guaranteed on the declaration now: it is accepted and
    /// assessed, and the amount is no more than what is outstanding (nothing is overpaid).
    async fn may_cover(&self, row: &DeclarationRow, amount: Decimal) -> Result<(), ClearanceError> {
        if row.status != "accepted" {
            return Err(not_payable(&row.number, &row.status, &row.status));
        }
        let settlement = self.settlement(&row.id).await?;
        if settlement.payable.is_none() {
            return Err(not_payable(
                &row.number,
                "it is not assessed yet",
                "尚未审核计税",
            ));
        }
        if amount > settlement.outstanding() {
            return Err(overpayment(&row.number, amount, settlement.outstanding()));
        }
        Ok(())
    }

    /// The declaration's settlement, read from its assessments and payments.
    pub(crate) async fn settlement(
        &self,
        declaration_id: &str,
    ) -> Result<Settlement, ClearanceError> {
        Settlement::of_events(&self.store.events(declaration_id).await?)
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

    /// Records a payment claim (trade) or a guarantee (officer) against a declaration. A claim
    /// does not cover anything: the bank's confirmation does.
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
                message_en: "payments are claimed by the trade, guarantees recorded by an officer"
                    .into(),
                message_zh: "缴款由企业申报，担保由关员录入".into(),
                errors: vec![],
            });
        }
        let amount = parse_amount("amount", &request.amount, false);
        if let Err(e) = &amount {
            errors.push(e.clone());
        }
        let reference = domain::numbers::parse_text(
            "reference",
            &request.reference,
            domain::limits::REFERENCE_LENGTH_MAX,
        );
        if let Err(e) = &reference {
            errors.push(e.clone());
        }
        let (Ok(amount), Ok(reference), true) = (amount, reference, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let row = self.visible_row(caller, id_or_number).await?;
        let key = idempotency_key_or_new(idempotency_key)?;
        let digest = request_digest(&format!("pay:{id_or_number}"), body);
        if let Some(first) = self
            .store
            .event_by_idempotency(caller.user_id(), &key)
            .await?
        {
            if first.request_digest != digest {
                return Err(ClearanceError::IdempotencyKeyReused);
            }
            return Ok(self.settlement(&row.id).await?.view());
        }
        self.may_cover(&row, amount).await?;
        let (action, payload) = if request.kind == "payment" {
            (
                CLAIMED_ACTION,
                json!({ "amount": tariff::money::fen_text(amount), "reference": reference }),
            )
        } else {
            (
                PAID_ACTION,
                json!({ "kind": "guarantee", "amount": tariff::money::fen_text(amount), "reference": reference }),
            )
        };
        let append = Append {
            actor: actor(caller),
            recorded_at_ms: self.now().timestamp_millis(),
            subject: row.id.clone(),
            action: action.to_owned(),
            idempotency_scope: caller.user_id().to_owned(),
            idempotency_key: key,
            request_digest: digest,
            payload: payload.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { same_request, .. } if same_request => {}
            AppendOutcome::Duplicate { .. } => return Err(ClearanceError::IdempotencyKeyReused),
            other => return Err(crate::refusal(other)),
        }
        Ok(self.settlement(&row.id).await?.view())
    }

    /// The payment connectors, registered and withdrawn.
    pub async fn payment_connectors(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadPaymentConnectors)?;
        Ok(self
            .connectors()
            .await?
            .iter()
            .map(connector_view)
            .collect())
    }

    async fn connectors(&self) -> Result<Vec<Connector>, ClearanceError> {
        Ok(connectors_of(&self.store.events(CONNECTORS_SUBJECT).await?))
    }

    /// Registers a payment connector (a bank link) with the public key its confirmations verify
    /// with, or replaces the key of one registered before (a key rotation is a new registration).
    pub async fn register_payment_connector(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManagePaymentConnectors)?;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Registration {
            id: String,
            name: String,
            public_key: String,
        }
        let request: Registration =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        if request.id.is_empty()
            || request.id.len() > CONNECTOR_ID_LENGTH_MAX
            || !request
                .id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            errors.push(FieldError::invalid_format(
                "id",
                &format!("1 to {CONNECTOR_ID_LENGTH_MAX} capital letters, digits or hyphens"),
                &format!("1 至 {CONNECTOR_ID_LENGTH_MAX} 个大写字母、数字或连字符"),
            ));
        }
        let name =
            domain::numbers::parse_text("name", &request.name, domain::limits::REASON_LENGTH_MAX);
        if let Err(e) = &name {
            errors.push(e.clone());
        }
        let key_ok = hex::decode(&request.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .is_some_and(|b| VerifyingKey::from_bytes(&b).is_ok());
        if !key_ok {
            errors.push(FieldError::invalid_format(
                "public_key",
                "an Ed25519 public key, 64 hex digits",
                "Ed25519 公钥，64 位十六进制数字",
            ));
        }
        let (Ok(name), true) = (name, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        let connector = Connector {
            id: request.id,
            name,
            public_key: request.public_key.to_ascii_lowercase(),
            active: true,
        };
        let payload = json!({
            "connector": connector.id, "name": connector.name, "public_key": connector.public_key,
        });
        self.connector_event(caller, CONNECTOR_REGISTERED_ACTION, payload)
            .await?;
        Ok(connector_view(&connector))
    }

    /// Withdraws a connector: its confirmations are refused from now on.
    pub async fn withdraw_payment_connector(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManagePaymentConnectors)?;
        let mut connector = self
            .connectors()
            .await?
            .into_iter()
            .find(|c| c.id == id && c.active)
            .ok_or(ClearanceError::NotFound)?;
        self.connector_event(
            caller,
            CONNECTOR_WITHDRAWN_ACTION,
            json!({ "connector": id }),
        )
        .await?;
        connector.active = false;
        Ok(connector_view(&connector))
    }

    async fn connector_event(
        &self,
        caller: &Caller,
        action: &str,
        payload: Value,
    ) -> Result<(), ClearanceError> {
        self.append_reference_event(
            caller,
            CONNECTORS_SUBJECT.to_owned(),
            action,
            payload,
            Projection::Nothing,
            "id",
            |_| ClearanceError::NotFound,
        )
        .await
    }

    /// A bank's confirmation of a payment: verified against its registered connector's key, then
    /// counted against the declaration it names. The same confirmation again answers as the first
    /// did; another one quoting a used bank reference is refused.
    pub async fn confirm_payment(&self, body: &[u8]) -> Result<Value, ClearanceError> {
        let message: PaymentConfirmation =
            wire::parse_json(body).map_err(|e| ClearanceError::Invalid(vec![e]))?;
        let mut errors = Vec::new();
        for (path, value, max) in [
            ("connector", &message.connector, CONNECTOR_ID_LENGTH_MAX),
            (
                "bank_reference",
                &message.bank_reference,
                domain::limits::REFERENCE_LENGTH_MAX,
            ),
            ("declaration_number", &message.declaration_number, 18),
            ("paid_at", &message.paid_at, 40),
        ] {
            if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic())
            {
                errors.push(FieldError::invalid_format(
                    path,
                    &format!("1 to {max} printable ASCII characters without spaces"),
                    &format!("1 至 {max} 个不含空格的可打印 ASCII 字符"),
                ));
            }
        }
        let amount = parse_amount("amount", &message.amount, false);
        if let Err(e) = &amount {
            errors.push(e.clone());
        }
        if message.currency != "CNY" {
            errors.push(FieldError::not_allowed(
                "currency",
                "duty and taxes are paid in CNY",
                "税款以人民币缴纳",
            ));
        }
        if chrono::DateTime::parse_from_rfc3339(&message.paid_at).is_err() {
            errors.push(FieldError::invalid_format(
                "paid_at",
                "an RFC 3339 time, e.g. 2026-03-01T10:00:00+08:00",
                "RFC 3339 时间，如 2026-03-01T10:00:00+08:00",
            ));
        }
        let (Ok(amount), true) = (amount, errors.is_empty()) else {
            return Err(ClearanceError::Invalid(errors));
        };
        // The signature first: nothing about declarations is answered to an unverified sender.
        let unverified = || ClearanceError::Forbidden {
            message_en: "the confirmation is not signed by a registered payment connector".into(),
            message_zh: "该缴款确认未经已登记的支付通道签名".into(),
            errors: vec![FieldError::not_allowed(
                "signature",
                "does not verify with the connector's registered key",
                "无法用该支付通道登记的公钥验证",
            )],
        };
        let connector = self
            .connectors()
            .await?
            .into_iter()
            .find(|c| c.id == message.connector && c.active)
            .ok_or_else(unverified)?;
        let key = hex::decode(&connector.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(unverified)?;
        let signature = hex::decode(&message.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b))
            .ok_or_else(unverified)?;
        key.verify(message.signed_text().as_bytes(), &signature)
            .map_err(|_| unverified())?;

        let digest = request_digest("payment-confirmation", message.signed_text().as_bytes());
        if let Some(first) = self
            .store
            .event_by_idempotency(CONFIRMATION_SCOPE, &message.bank_reference)
            .await?
        {
            return self.confirmed(&first, &digest).await;
        }
        let row = self
            .store
            .declaration_by_number(&message.declaration_number)
            .await?
            .ok_or_else(|| {
                ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "declaration_number",
                    "no declaration has this number",
                    "无此编号的报关单",
                )])
            })?;
        self.may_cover(&row, amount).await?;
        let payload = json!({
            "kind": "payment",
            "amount": tariff::money::fen_text(amount),
            "connector": connector.id,
            "bank_reference": message.bank_reference,
            "paid_at": message.paid_at,
            "signature": message.signature,
        });
        let append = Append {
            actor: Actor {
                user_id: format!("connector:{}", connector.id),
                role: "payment_connector".to_owned(),
            },
            recorded_at_ms: self.now().timestamp_millis(),
            subject: row.id.clone(),
            action: PAID_ACTION.to_owned(),
            idempotency_scope: CONFIRMATION_SCOPE.to_owned(),
            idempotency_key: message.bank_reference.clone(),
            request_digest: digest.clone(),
            payload: payload.to_string(),
            expected_version: None,
            projection: Projection::Nothing,
            linked: Vec::new(),
            cbec_purchase: None,
            guarantee_debit: None,
        };
        match self.store.append(append).await? {
            AppendOutcome::Appended { .. } => {}
            AppendOutcome::Duplicate { first, .. } => return self.confirmed(&first, &digest).await,
            other => return Err(crate::refusal(other)),
        }
        let mut view = self.settlement(&row.id).await?.view();
        view["declaration_number"] = json!(row.number);
        view["bank_reference"] = json!(message.bank_reference);
        view["created"] = json!(true);
        Ok(view)
    }

    /// The answer to a confirmation whose bank reference was seen before.
    async fn confirmed(&self, first: &EventRow, digest: &str) -> Result<Value, ClearanceError> {
        if first.request_digest != digest {
            return Err(ClearanceError::Transition(domain::TransitionError {
                code: "bank_reference_used",
                message_en: "this bank reference already confirmed another payment".into(),
                message_zh: "该银行流水号已确认过另一笔缴款".into(),
            }));
        }
        let row = self
            .store
            .declaration(&first.subject)
            .await?
            .ok_or(ClearanceError::NotFound)?;
        let mut view = self.settlement(&row.id).await?.view();
        view["declaration_number"] = json!(row.number);
        view["bank_reference"] = json!(first.idempotency_key);
        view["created"] = json!(false);
        Ok(view)
    }
}
