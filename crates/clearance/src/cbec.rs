//! Cross-border e-commerce (CBEC) retail orders, procedures 9610/1210/1239 (digest §2.7).
//!
//! At lodging, the buyer's ID number is replaced by a keyed hash and a masked form before anything
//! is stored, so the number never reaches the append-only audit chain: the same buyer gets the
//! same hash on every platform (the per-person allowance needs it), and without the key the hash
//! cannot be reversed by trying the few billion possible numbers. The order is assessed under the
//! CBEC regime and its value booked against the buyer's annual allowance in the lodging's own
//! transaction: an order that does not fit is refused (declare it as general trade) and nothing
//! is written.
//!
//! Deliberately absent for now: amending a CBEC order (it is cancelled and declared again, as
//! China's 撤单 works), and crediting a cancelled order back to the buyer's allowance (returns,
//! 退货, are later work): a cancelled order still counts toward the year.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use domain::{BuyerIdentity, Declaration, FieldError};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::Sha256;
use store::{Actor, CbecBooking, Store};

use crate::Clearance;
use crate::assessing::{AssessedFigures, AssessmentChange, Recording};
use crate::assessment::{self, Basis, CbecClearance, NotAssessable};
use crate::error::ClearanceError;

/// The secret key of the buyers' identity hashes (HMAC-SHA-256). Kept in the data folder, never
/// in the store; losing it means the next year's allowances start from new hashes.
#[derive(Clone)]
pub struct BuyerIdKey([u8; 32]);

impl BuyerIdKey {
    pub fn from_bytes(bytes: [u8; 32]) -> BuyerIdKey {
        BuyerIdKey(bytes)
    }

    /// The buyer's hash: 64 lowercase hex characters, the same for the same number.
    pub(crate) fn hash(&self, id_type: &str, number: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(id_type.as_bytes());
        mac.update(b":");
        mac.update(number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for BuyerIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BuyerIdKey(..)")
    }
}

fn fen_of(cny: Decimal) -> Option<i64> {
    (cny * Decimal::ONE_HUNDRED).round().to_i64()
}

fn problems_as_errors(problems: Vec<NotAssessable>) -> ClearanceError {
    ClearanceError::Invalid(
        problems
            .into_iter()
            .map(|p| FieldError {
                path: p.path,
                code: domain::ErrorCode::NotAllowed,
                message_en: format!(
                    "a CBEC order is taxed when it is declared and this one cannot be: {}",
                    p.message_en
                ),
                message_zh: format!(
                    "跨境电商订单须在申报时计税，本订单无法计税：{}",
                    p.message_zh
                ),
            })
            .map(FieldError::bounded)
            .collect(),
    )
}

/// Whether an assessment reads the buyer's purchases so far (the CBEC ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuyerLedger {
    /// A lodging or reassessment: the order is booked against (or was booked against) the
    /// buyer's year, so the year so far is read.
    Read,
    /// An estimate, for any caller: a person's purchases are not disclosed to whoever types
    /// their ID number. The order is taken as the buyer's first of the year, the annual total is
    /// not reported, and the report says the annual allowance is checked at lodging.
    NotRead,
}

impl<S: Store> Clearance<S> {
    /// Replaces a lodged buyer's ID number by its protected form. A lodging must carry the number
    /// itself: the protected form is made by customs only.
    pub(crate) fn protect_buyer(
        &self,
        declaration: &mut Declaration,
    ) -> Result<(), ClearanceError> {
        let Some(order) = declaration.cbec_order.as_mut() else {
            return Ok(());
        };
        if matches!(order.buyer.identity, BuyerIdentity::Protected { .. }) {
            return Err(ClearanceError::Invalid(vec![FieldError::required(
                "cbec_order.buyer.id_number",
            )]));
        }
        let key = self.config.buyer_id_key.as_ref().ok_or_else(|| {
            ClearanceError::Unavailable(
                "no buyer-identity key is configured: CBEC orders cannot be lodged".into(),
            )
        })?;
        order.buyer.identity = order
            .buyer
            .identity
            .protect(|number| key.hash("resident_id", number))
            .ok_or_else(|| anyhow::anyhow!("the buyer hash is not 64 hex characters"))?;
        Ok(())
    }

    /// The assessment of a CBEC order and, at acceptance, its booking. At acceptance an order
    /// that cannot be assessed or does not fit the limits is refused; a later reassessment
    /// records why instead.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn cbec_assessment(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
        day: NaiveDate,
        basis: Basis,
        note: Option<&str>,
        actor: &Actor,
        now_ms: i64,
        ledger: BuyerLedger,
    ) -> Result<AssessmentChange, ClearanceError> {
        let order = declaration
            .cbec_order
            .as_ref()
            .expect("called for CBEC orders only");
        let BuyerIdentity::Protected { hash, masked } = &order.buyer.identity else {
            return Err(
                anyhow::anyhow!("a CBEC buyer's identity reached assessment unprotected").into(),
            );
        };
        let previous = self.previous_assessment(declaration_id, basis).await?;
        // A reassessment does not count the order's own booking twice.
        let own_fen = previous
            .as_ref()
            .and_then(|p| p["cbec"]["order_value_fen"].as_i64())
            .unwrap_or(0);
        let year = day.year();
        let year_to_date_fen = match ledger {
            BuyerLedger::Read => self.store.cbec_year_to_date(hash, year).await? - own_fen,
            BuyerLedger::NotRead => 0,
        };
        let in_force = self.releases_cache.in_force(&self.store, day).await?;
        let outcome = match &in_force.tariff {
            None => Err(vec![NotAssessable::new(
                "",
                format!("no tariff release is in force on {day}"),
                format!("{day} 无生效的税则版本"),
            )]),
            Some((_, release)) => assessment::assess_cbec_with_release(
                declaration,
                day,
                release,
                &in_force.rates,
                &self.config.assessment,
                Decimal::new(year_to_date_fen, 2),
            ),
        };
        let acceptance = basis == Basis::Acceptance;
        let (report, cbec, booking) = match outcome {
            Err(problems) if acceptance => return Err(problems_as_errors(problems)),
            Ok(CbecClearance::GeneralTrade(reason)) if acceptance => {
                return Err(ClearanceError::Invalid(vec![FieldError::not_allowed(
                    "cbec_order",
                    &reason.en,
                    &reason.zh,
                )]));
            }
            Err(problems) => (Err(problems), Value::Null, None),
            Ok(CbecClearance::GeneralTrade(reason)) => (
                Err(vec![NotAssessable::new("cbec_order", reason.en, reason.zh)]),
                Value::Null,
                None,
            ),
            Ok(CbecClearance::Cbec {
                input,
                assessment,
                order_value,
                annual_total_after,
                within_limits,
            }) => {
                let order_value_fen = fen_of(order_value)
                    .ok_or_else(|| anyhow::anyhow!("order value {order_value} out of range"))?;
                let regime = if within_limits {
                    json!({ "code": "cbec_within_limits",
                            "en": "CBEC retail import within the limits: duty 0, VAT and consumption tax at 70 %",
                            "zh": "跨境电商零售进口限值以内：关税0，增值税、消费税按70%征收" })
                } else {
                    json!({ "code": "cbec_indivisible_full_rates",
                            "en": "CBEC retail import, one indivisible item above the transaction limit: full rates",
                            "zh": "跨境电商零售进口，单件不可分割商品超过单次限值：按货物税率全额征收" })
                };
                let mut cbec = json!({
                    "order_ref": order.order_ref,
                    "platform": order.platform,
                    "buyer": masked,
                    "order_value": tariff::money::fen_text(order_value),
                    "order_value_fen": order_value_fen,
                    "annual_total_after": tariff::money::fen_text(annual_total_after),
                    "annual_limit": tariff::money::fen_text(self.config.assessment.cbec_annual_limit),
                });
                if ledger == BuyerLedger::NotRead {
                    // Not the buyer's total: the year so far was not read.
                    cbec.as_object_mut()
                        .expect("an object")
                        .remove("annual_total_after");
                    cbec["annual_allowance"] = json!({
                        "checked": "at_lodging",
                        "en": "the buyer's annual allowance is checked when the order is lodged; this estimate does not read the buyer's purchases",
                        "zh": "个人年度交易限值在申报时核验；本估算不读取该消费者的既往交易",
                    });
                }
                let annual_limit_fen = fen_of(self.config.assessment.cbec_annual_limit)
                    .ok_or_else(|| anyhow::anyhow!("the annual limit is out of range"))?;
                let booking = acceptance.then(|| CbecBooking {
                    buyer_id: hash.clone(),
                    year,
                    amount_fen: order_value_fen,
                    annual_limit_fen,
                    order_ref: order.order_ref.clone(),
                    actor: actor.clone(),
                    recorded_at_ms: now_ms,
                });
                let documents = assessment::document_types(declaration);
                let report = assessment::report_json(
                    &input,
                    &assessment,
                    &documents,
                    Some(&regime),
                    // A CBEC order's assessment depends on the buyer's purchases that year and
                    // keeps its words: orders are small, and the ledger is not replayed on read.
                    assessment::Words::Explained,
                );
                (Ok(report), cbec, booking)
            }
        };
        let mut extra = Vec::new();
        if !cbec.is_null() {
            extra.push(("cbec", cbec));
        } else if let Some(previous_cbec) = previous.as_ref().map(|p| &p["cbec"])
            && !previous_cbec.is_null()
        {
            // The booking stands whatever a reassessment finds: keep what it booked.
            extra.push(("cbec", previous_cbec.clone()));
        }
        let recording = Recording {
            declaration_id,
            basis,
            day,
            in_force: &in_force,
            previous: previous.as_ref(),
            note,
        };
        let figures = report.as_ref().ok().map(AssessedFigures::of);
        Ok(AssessmentChange {
            figures,
            event: recording.event(report, extra, Vec::new()),
            cbec_purchase: booking,
        })
    }
}
