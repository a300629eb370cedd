//! The customs value (计税价格/完税价格) in CNY, on a CIF basis (digest §2.3).
//!
//! China values imports up to the moment before unloading at the place of import: the price, plus
//! freight and insurance where the terms of the sale do not already include them. The order of the
//! steps, each rounded half-up to 0.01 of its currency:
//! 1. freight in the invoice currency (an amount, a rate of the price, or per unit × quantity);
//! 2. insurance in the invoice currency (an amount, a rate of price + freight, or, when unknown
//!    or not incurred, 3‰ of price + freight: `AssessmentConfig::insurance_rate_when_unknown`);
//! 3. the CIF value in the invoice currency: price + freight + insurance;
//! 4. conversion at the customs rate of the acceptance month (4 dp), rounded to the fen.
//!
//! Freight and insurance are taken to be in the invoice currency. Art. 8 additions and deductions
//! (commissions, royalties, post-import costs, duties included in a DDP price) are later work: the
//! invoice amount must already carry them.

use rust_decimal::Decimal;

use crate::config::AssessmentConfig;
use crate::error::AssessmentError;
use crate::explain::{Explanation, Words};
use crate::model::{ExchangeRate, Rate};
use crate::money::{fen_text, round_fen};

/// The Incoterms 2020 rules of the transaction (成交方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionTerms {
    Exw,
    Fca,
    Fas,
    Fob,
    Cfr,
    Cif,
    Cpt,
    Cip,
    Dap,
    Dpu,
    Ddp,
}

impl TransactionTerms {
    pub const ALL: [TransactionTerms; 11] = [
        TransactionTerms::Exw,
        TransactionTerms::Fca,
        TransactionTerms::Fas,
        TransactionTerms::Fob,
        TransactionTerms::Cfr,
        TransactionTerms::Cif,
        TransactionTerms::Cpt,
        TransactionTerms::Cip,
        TransactionTerms::Dap,
        TransactionTerms::Dpu,
        TransactionTerms::Ddp,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TransactionTerms::Exw => "EXW",
            TransactionTerms::Fca => "FCA",
            TransactionTerms::Fas => "FAS",
            TransactionTerms::Fob => "FOB",
            TransactionTerms::Cfr => "CFR",
            TransactionTerms::Cif => "CIF",
            TransactionTerms::Cpt => "CPT",
            TransactionTerms::Cip => "CIP",
            TransactionTerms::Dap => "DAP",
            TransactionTerms::Dpu => "DPU",
            TransactionTerms::Ddp => "DDP",
        }
    }

    pub fn parse(code: &str) -> Option<TransactionTerms> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// E and F terms end the seller's carriage before the main voyage: the buyer pays freight.
    pub fn price_excludes_freight(self) -> bool {
        matches!(
            self,
            TransactionTerms::Exw
                | TransactionTerms::Fca
                | TransactionTerms::Fas
                | TransactionTerms::Fob
        )
    }

    /// CFR and CPT include the freight but not the insurance; E and F terms include neither.
    /// CIF and CIP include both. D terms deliver at destination, beyond the CIF point: nothing is
    /// added (deducting post-import costs shown separately is later work).
    pub fn price_excludes_insurance(self) -> bool {
        self.price_excludes_freight()
            || matches!(self, TransactionTerms::Cfr | TransactionTerms::Cpt)
    }
}

/// How freight or insurance was declared (运费/保费标记: rate, per unit, total).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Not declared. For insurance, this also means "not incurred": 3‰ then applies.
    Absent,
    /// A total amount in the invoice currency.
    Amount(Decimal),
    /// A rate: of the price for freight, of price + freight for insurance.
    Rate(Rate),
    /// An amount per unit of quantity (e.g. per tonne), times the quantity carried.
    PerUnit {
        amount_per_unit: Decimal,
        quantity: Decimal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuationInput {
    /// The invoice amount, in the invoice currency.
    pub invoice_amount: Decimal,
    pub currency: String,
    pub terms: TransactionTerms,
    pub freight: Charge,
    pub insurance: Charge,
}

/// The customs value and the figures it was built from, each explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomsValue {
    /// Freight added, in the invoice currency (zero when the price includes it).
    pub freight: Decimal,
    /// Insurance added, in the invoice currency.
    pub insurance: Decimal,
    /// Price + freight + insurance, in the invoice currency.
    pub cif_foreign: Decimal,
    pub exchange_rate: ExchangeRate,
    /// The customs value in CNY, rounded to the fen.
    pub cny: Decimal,
    pub explanation: Vec<Explanation>,
}

/// Builds the CNY customs value of one item (steps in the module documentation).
pub fn customs_value(
    input: &ValuationInput,
    exchange_rate: &ExchangeRate,
    config: &AssessmentConfig,
) -> Result<CustomsValue, AssessmentError> {
    customs_value_with(input, exchange_rate, config, Words::Explained)
}

/// [`customs_value`], its explanation written only when `words` asks for it.
pub fn customs_value_with(
    input: &ValuationInput,
    exchange_rate: &ExchangeRate,
    config: &AssessmentConfig,
    words: Words,
) -> Result<CustomsValue, AssessmentError> {
    let mut explanation = Vec::new();
    let price = input.invoice_amount;
    let freight = freight(input, words, &mut explanation)?;
    let insurance = insurance(input, price + freight, config, words, &mut explanation);
    let cif_foreign = price + freight + insurance;
    let cny = round_fen(cif_foreign * exchange_rate.rate_4dp());
    words.push(&mut explanation, || {
        conversion_explained(input, cif_foreign, exchange_rate, cny)
    });
    Ok(CustomsValue {
        freight,
        insurance,
        cif_foreign,
        exchange_rate: exchange_rate.clone(),
        cny,
        explanation,
    })
}

fn freight(
    input: &ValuationInput,
    words: Words,
    out: &mut Vec<Explanation>,
) -> Result<Decimal, AssessmentError> {
    let terms = input.terms.code();
    if !input.terms.price_excludes_freight() {
        words.push(out, || {
            Explanation::new(
                format!("freight: included in the {terms} price"),
                format!("运费: {terms} 价格已包含"),
            )
        });
        return Ok(Decimal::ZERO);
    }
    let freight = match input.freight {
        // The "normal transport cost for the period" needs data the engine does not hold.
        Charge::Absent => return Err(AssessmentError::FreightUnknown { terms }),
        Charge::Amount(amount) => round_fen(amount),
        Charge::Rate(rate) => round_fen(input.invoice_amount * rate.as_fraction()),
        Charge::PerUnit {
            amount_per_unit,
            quantity,
        } => round_fen(amount_per_unit * quantity),
    };
    words.push(out, || {
        Explanation::new(
            format!(
                "freight added to the {terms} price ({}): {} {}, rounded half-up to 0.01",
                charge_en(input.freight),
                fen_text(freight),
                input.currency
            ),
            format!(
                "{terms} 价格加运费（{}）: {} {}，四舍五入至0.01",
                charge_zh(input.freight),
                fen_text(freight),
                input.currency
            ),
        )
    });
    Ok(freight)
}

fn insurance(
    input: &ValuationInput,
    price_and_freight: Decimal,
    config: &AssessmentConfig,
    words: Words,
    out: &mut Vec<Explanation>,
) -> Decimal {
    let terms = input.terms.code();
    if !input.terms.price_excludes_insurance() {
        words.push(out, || {
            Explanation::new(
                format!("insurance: included in the {terms} price"),
                format!("保费: {terms} 价格已包含"),
            )
        });
        return Decimal::ZERO;
    }
    let insurance = match input.insurance {
        Charge::Absent => {
            round_fen(price_and_freight * config.insurance_rate_when_unknown.as_fraction())
        }
        Charge::Rate(rate) => round_fen(price_and_freight * rate.as_fraction()),
        other => round_fen(charge_amount(other)),
    };
    words.push(out, || {
        let (en, zh) = match input.insurance {
            Charge::Absent => {
                let rate = config.insurance_rate_when_unknown;
                (
                    format!(
                        "unknown or not incurred, so {price_and_freight} (price + freight) × {rate}"
                    ),
                    format!("未知或未发生，按（货价+运费）{price_and_freight} × {rate}"),
                )
            }
            Charge::Rate(rate) => (
                format!("{price_and_freight} (price + freight) × {rate}"),
                format!("（货价+运费）{price_and_freight} × {rate}"),
            ),
            other => (charge_en(other), charge_zh(other)),
        };
        Explanation::new(
            format!(
                "insurance ({en}): {} {}, rounded half-up to 0.01",
                fen_text(insurance),
                input.currency
            ),
            format!(
                "保费（{zh}）: {} {}，四舍五入至0.01",
                fen_text(insurance),
                input.currency
            ),
        )
    });
    insurance
}

fn charge_amount(charge: Charge) -> Decimal {
    match charge {
        Charge::Amount(amount) => amount,
        Charge::PerUnit {
            amount_per_unit,
            quantity,
        } => amount_per_unit * quantity,
        Charge::Absent | Charge::Rate(_) => Decimal::ZERO,
    }
}

fn charge_en(charge: Charge) -> String {
    match charge {
        Charge::Absent => "not declared".into(),
        Charge::Amount(amount) => format!("declared total {amount}"),
        Charge::Rate(rate) => format!("declared rate {rate} of the price"),
        Charge::PerUnit {
            amount_per_unit,
            quantity,
        } => format!("declared {amount_per_unit} per unit × {quantity}"),
    }
}

fn charge_zh(charge: Charge) -> String {
    match charge {
        Charge::Absent => "未申报".into(),
        Charge::Amount(amount) => format!("申报总价 {amount}"),
        Charge::Rate(rate) => format!("申报费率 {rate}（按货价）"),
        Charge::PerUnit {
            amount_per_unit,
            quantity,
        } => format!("申报单价 {amount_per_unit} × {quantity}"),
    }
}

fn conversion_explained(
    input: &ValuationInput,
    cif_foreign: Decimal,
    rate: &ExchangeRate,
    cny: Decimal,
) -> Explanation {
    let (currency, month, r) = (&input.currency, rate.month(), rate.rate_4dp());
    Explanation::new(
        format!(
            "customs value: CIF {cif_foreign} {currency} × {r} (customs rate for {currency}, {month}) = {} CNY, rounded half-up to the fen",
            fen_text(cny)
        ),
        format!(
            "完税价格: CIF {cif_foreign} {currency} × {r}（{month} 海关汇率）= {} 元，四舍五入至分",
            fen_text(cny)
        ),
    )
}
