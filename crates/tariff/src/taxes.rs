//! Duty, trade-remedy duties, consumption tax and VAT of a declaration; cross-border e-commerce
//! retail imports; postal articles (digest §2.2, §2.5–§2.8).
//!
//! General trade, in the legal order, each amount rounded half-up to the fen per item
//! (digest §2.6):
//! 1. duty per item (ad valorem, specific, compound or by unit value), then trade-remedy duties;
//! 2. the per-consignment exemption for duty: the declaration's duty total at most
//!    `AssessmentConfig::exemption_at_most` is not collected;
//! 3. consumption tax per item on `(value + duty + remedies [+ specific part]) / (1 − r)`, then its
//!    exemption test;
//! 4. VAT per item on `value + duty + remedies + consumption tax`, then its exemption test.
//!
//! Whether an exempted duty or consumption tax still counts in the later bases is
//! `AssessmentConfig::vat_base_includes_exempted_duty`. Trade-remedy duties are added to the bases
//! and are never exempted (the digest's threshold names duty, VAT and consumption tax only).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::config::AssessmentConfig;
use crate::error::AssessmentError;
use crate::explain::{Explanation, Words, rounded_half_up};
use crate::model::{
    DutyRate, ExchangeRates, Quantity, Rate, RemedyKind, StatutoryUnit, TariffLine,
};
use crate::money::{fen_text, round_fen};
use crate::selection::{
    Origin, PreferenceClaim, QuotaStatus, RateSelection, SelectionInput, remedy_basis,
    select_rate_with,
};
use crate::valuation::{CustomsValue, ValuationInput, customs_value, customs_value_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxKind {
    CustomsDuty,
    TradeRemedy(RemedyKind),
    ConsumptionTax,
    ImportVat,
    PostalArticlesTax,
}

impl TaxKind {
    pub fn name_en(self) -> &'static str {
        match self {
            TaxKind::CustomsDuty => "customs duty",
            TaxKind::TradeRemedy(kind) => kind.name_en(),
            TaxKind::ConsumptionTax => "consumption tax",
            TaxKind::ImportVat => "import VAT",
            TaxKind::PostalArticlesTax => "import tax on articles",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            TaxKind::CustomsDuty => "关税",
            TaxKind::TradeRemedy(kind) => kind.name_zh(),
            TaxKind::ConsumptionTax => "消费税",
            TaxKind::ImportVat => "进口环节增值税",
            TaxKind::PostalArticlesTax => "进境物品进口税",
        }
    }
}

/// One tax of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxFigure {
    pub kind: TaxKind,
    /// The amount the formula gives, rounded to the fen.
    pub nominal: Decimal,
    /// What is collected: `nominal`, or zero when the consignment's total of this tax is exempt.
    pub payable: Decimal,
    pub explanation: Vec<Explanation>,
}

/// One tax over the whole declaration (consignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxTotal {
    pub kind: TaxKind,
    pub nominal: Decimal,
    pub exempt: bool,
    pub payable: Decimal,
    pub explanation: Explanation,
}

/// One goods item to assess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInput {
    /// Shared with the release it comes from (see `TariffRelease::lines`).
    pub line: std::sync::Arc<TariffLine>,
    pub valuation: ValuationInput,
    pub origin: Origin,
    /// The overseas exporter or producer of the goods as declared (境外发货人 / 生产商), for the
    /// company-specific rates of trade remedies; `None` when not declared, which takes the rates
    /// for all other companies. Matched by `model::exporter_key`.
    pub exporter: Option<String>,
    pub claim: Option<PreferenceClaim>,
    pub quota: QuotaStatus,
    /// Quantities in the units the line's rates use (statutory units, tax units).
    pub quantities: Vec<Quantity>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationInput {
    /// 申报之日: decides the rates and the exchange rate in force.
    pub acceptance_date: NaiveDate,
    pub items: Vec<ItemInput>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAssessment {
    pub customs_value: CustomsValue,
    pub selection: RateSelection,
    pub taxes: Vec<TaxFigure>,
}

impl ItemAssessment {
    pub fn tax(&self, kind: TaxKind) -> Option<&TaxFigure> {
        self.taxes.iter().find(|t| t.kind == kind)
    }
}

/// The result for a declaration: per item, per tax, and the total payable, all in CNY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub items: Vec<ItemAssessment>,
    pub totals: Vec<TaxTotal>,
    pub total_payable: Decimal,
    pub explanation: Vec<Explanation>,
}

impl Assessment {
    pub fn total(&self, kind: TaxKind) -> Option<&TaxTotal> {
        self.totals.iter().find(|t| t.kind == kind)
    }
    pub fn customs_value(&self) -> Decimal {
        self.items.iter().map(|i| i.customs_value.cny).sum()
    }
}

/// The duty of a duty-shaped rate, unrounded: ad valorem, specific, compound, or the band of a
/// conditional rate picked by the unit value (value / quantity in the rate's unit).
pub fn levy_exact(
    rate: &DutyRate,
    value: Decimal,
    quantities: &[Quantity],
) -> Result<Decimal, AssessmentError> {
    let (ad_valorem, specific) = resolve(rate, value, quantities)?;
    Ok(value * ad_valorem.as_fraction() + specific)
}

/// Reduces a rate to its ad valorem fraction and its specific amount for this item.
fn resolve(
    rate: &DutyRate,
    value: Decimal,
    quantities: &[Quantity],
) -> Result<(Rate, Decimal), AssessmentError> {
    match rate {
        DutyRate::AdValorem { rate } => Ok((*rate, Decimal::ZERO)),
        DutyRate::Specific {
            amount_per_unit,
            unit,
        } => Ok((Rate::ZERO, quantity_in(unit, quantities)? * amount_per_unit)),
        DutyRate::Compound {
            rate,
            amount_per_unit,
            unit,
        } => Ok((*rate, quantity_in(unit, quantities)? * amount_per_unit)),
        DutyRate::Conditional { unit, bands } => {
            let quantity = quantity_in(unit, quantities)?;
            if quantity <= Decimal::ZERO {
                return Err(AssessmentError::ZeroQuantity {
                    unit: unit.clone(),
                    item: None,
                });
            }
            let unit_value = value / quantity;
            let band = bands
                .iter()
                .rev()
                .find(|b| b.floor.is_none_or(|f| f.reached_by(unit_value)))
                .ok_or(AssessmentError::NoBand { unit_value })?;
            resolve(&band.rate, value, quantities)
        }
    }
}

/// The item's quantity in the rate's unit: stated in it, or converted from an equivalent unit
/// (`C62` pieces for the tariff's `UNIT`, grams for kilograms: `crate::units`).
fn quantity_in(unit: &StatutoryUnit, quantities: &[Quantity]) -> Result<Decimal, AssessmentError> {
    crate::units::quantity_in(unit, quantities).ok_or_else(|| AssessmentError::MissingQuantity {
        unit: unit.clone(),
        declared: quantities.iter().map(|q| q.unit.0.clone()).collect(),
        item: None,
    })
}

/// Consumption tax, unrounded, on the composite assessable price (组成计税价格):
/// `(value_and_duty + specific) / (1 − r) × r + specific` — which is the ad valorem formula when
/// there is no specific part and `quantity × unit_tax` when there is no ad valorem part.
pub fn consumption_tax_exact(
    rate: &DutyRate,
    customs_value: Decimal,
    value_and_duty: Decimal,
    quantities: &[Quantity],
) -> Result<Decimal, AssessmentError> {
    // Unit-value bands are read on the customs value, before duty.
    let (ad_valorem, specific) = resolve(rate, customs_value, quantities)?;
    let r = ad_valorem.as_fraction();
    if r >= Decimal::ONE {
        return Err(AssessmentError::ConsumptionTaxRateTooHigh {
            percent: ad_valorem.as_percent(),
        });
    }
    Ok((value_and_duty + specific) / (Decimal::ONE - r) * r + specific)
}

/// A figure rounded to the fen, with its formula and its rounding explained.
pub(crate) fn figure(kind: TaxKind, exact: Decimal, en: String, zh: String) -> TaxFigure {
    figure_with(kind, exact, Words::Explained, || (en, zh))
}

/// [`figure`], its formula (English, Chinese) made by `formula` only when `words` asks for it.
fn figure_with(
    kind: TaxKind,
    exact: Decimal,
    words: Words,
    formula: impl FnOnce() -> (String, String),
) -> TaxFigure {
    let nominal = round_fen(exact);
    let explanation = if words.explained() {
        let (en, zh) = formula();
        vec![Explanation::new(en, zh), rounded_half_up(exact, nominal)]
    } else {
        Vec::new()
    };
    TaxFigure {
        kind,
        nominal,
        payable: nominal,
        explanation,
    }
}

/// Assesses a general-trade declaration (steps in the module documentation).
pub fn assess_declaration(
    input: &DeclarationInput,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
) -> Result<Assessment, AssessmentError> {
    assess_declaration_with(input, rates, config, Words::Explained)
}

/// [`assess_declaration`] with the words `words` asks for: the figures are the same either way.
pub fn assess_declaration_with(
    input: &DeclarationInput,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    words: Words,
) -> Result<Assessment, AssessmentError> {
    assess(input, rates, config, Some(config.exemption_at_most), words)
}

/// The shared general-trade computation; `exemption_at_most` is `None` where no threshold applies
/// (CBEC orders assessed at full rates).
fn assess(
    input: &DeclarationInput,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    exemption_at_most: Option<Decimal>,
    words: Words,
) -> Result<Assessment, AssessmentError> {
    if input.items.is_empty() {
        return Err(AssessmentError::NoItems);
    }
    let day = input.acceptance_date;
    let mut items = input
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| duties_of(item, day, rates, config, words).map_err(|e| e.on_item(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut totals = Vec::new();
    let duty = close(&mut items, TaxKind::CustomsDuty, exemption_at_most, words);
    let keep_exempt = config.vat_base_includes_exempted_duty;
    let duty_in_base = !duty.exempt || keep_exempt;
    totals.push(duty);
    for kind in remedy_kinds(&items) {
        totals.push(close(&mut items, kind, None, words));
    }
    for (i, (item, input)) in items.iter_mut().zip(&input.items).enumerate() {
        if let Some(ct) =
            consumption_tax_of(item, input, day, duty_in_base, words).map_err(|e| e.on_item(i))?
        {
            item.taxes.push(ct);
        }
    }
    let ct = close(
        &mut items,
        TaxKind::ConsumptionTax,
        exemption_at_most,
        words,
    );
    let ct_in_base = !ct.exempt || keep_exempt;
    totals.push(ct);
    for (item, input) in items.iter_mut().zip(&input.items) {
        let vat = vat_of(item, &input.line, day, duty_in_base, ct_in_base, words)?;
        item.taxes.push(vat);
    }
    totals.push(close(
        &mut items,
        TaxKind::ImportVat,
        exemption_at_most,
        words,
    ));
    Ok(finish(items, totals, words))
}

fn finish(items: Vec<ItemAssessment>, totals: Vec<TaxTotal>, words: Words) -> Assessment {
    let total_payable: Decimal = totals.iter().map(|t| t.payable).sum();
    let mut explanation = Vec::new();
    words.push(&mut explanation, || {
        Explanation::new(
            format!(
                "total payable: {} CNY, the sum of the taxes payable",
                fen_text(total_payable)
            ),
            format!("应缴税款合计: {} 元", fen_text(total_payable)),
        )
    });
    Assessment {
        items,
        totals,
        total_payable,
        explanation,
    }
}

/// Value, rate selection, duty and trade-remedy duties of one item.
fn duties_of(
    item: &ItemInput,
    day: NaiveDate,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    words: Words,
) -> Result<ItemAssessment, AssessmentError> {
    let exchange_rate = rates.in_force(&item.valuation.currency, day)?;
    let value = customs_value_with(&item.valuation, &exchange_rate, config, words)?;
    let selection = select_rate_with(
        SelectionInput {
            line: &item.line,
            day,
            origin: &item.origin,
            exporter: item.exporter.as_deref(),
            claim: item.claim.as_ref(),
            quota: item.quota,
            customs_value: value.cny,
            quantities: &item.quantities,
        },
        words,
    )?;
    let cny = value.cny;
    let code = &item.line.code;
    let source = words.say(|| {
        Explanation::new(
            format!("line {code}, {} column", selection.column.name_en()),
            format!("税则号列 {code}，{}", selection.column.name_zh()),
        )
    });
    let duty = TaxKind::CustomsDuty;
    let mut taxes = vec![duty_figure(
        duty,
        &selection.rate,
        cny,
        &item.quantities,
        &source,
        words,
    )?];
    for remedy in &selection.remedies {
        let kind = TaxKind::TradeRemedy(remedy.kind);
        let source = words.say(|| {
            let basis = remedy_basis(
                &item.line,
                remedy,
                item.origin.country(),
                item.exporter.as_deref(),
                day,
            );
            match basis {
                Some(basis) => Explanation::new(
                    format!("line {code}, {}, {}", basis.en, remedy.notice),
                    format!("税则号列 {code}，{}，{}", basis.zh, remedy.notice),
                ),
                None => Explanation::new(
                    format!("line {code}, {}", remedy.notice),
                    format!("税则号列 {code}，{}", remedy.notice),
                ),
            }
        });
        taxes.push(duty_figure(
            kind,
            &remedy.rate,
            cny,
            &item.quantities,
            &source,
            words,
        )?);
    }
    Ok(ItemAssessment {
        customs_value: value,
        selection,
        taxes,
    })
}

fn duty_figure(
    kind: TaxKind,
    rate: &DutyRate,
    value: Decimal,
    quantities: &[Quantity],
    source: &Explanation,
    words: Words,
) -> Result<TaxFigure, AssessmentError> {
    // `levy_exact`'s formula, with the parts kept for the explanation.
    let (ad_valorem, specific) = resolve(rate, value, quantities)?;
    let exact = value * ad_valorem.as_fraction() + specific;
    Ok(figure_with(kind, exact, words, || {
        (
            format!(
                "{}: customs value {value} × {ad_valorem} + specific part {specific} (rate {rate}; {})",
                kind.name_en(),
                source.en
            ),
            format!(
                "{}: 完税价格 {value} × {ad_valorem} + 从量部分 {specific}（税率 {rate}；{}）",
                kind.name_zh(),
                source.zh
            ),
        )
    }))
}

fn remedy_kinds(items: &[ItemAssessment]) -> Vec<TaxKind> {
    let mut kinds = Vec::new();
    for tax in items.iter().flat_map(|i| &i.taxes) {
        if matches!(tax.kind, TaxKind::TradeRemedy(_)) && !kinds.contains(&tax.kind) {
            kinds.push(tax.kind);
        }
    }
    kinds
}

/// The payable amount of one tax in the bases of later taxes.
fn in_base(item: &ItemAssessment, kind: TaxKind, included: bool) -> Decimal {
    match item.tax(kind) {
        Some(tax) if included => tax.nominal,
        _ => Decimal::ZERO,
    }
}

fn remedies_in_base(item: &ItemAssessment) -> Decimal {
    item.taxes
        .iter()
        .filter(|t| matches!(t.kind, TaxKind::TradeRemedy(_)))
        .map(|t| t.nominal)
        .sum()
}

fn consumption_tax_of(
    item: &ItemAssessment,
    input: &ItemInput,
    day: NaiveDate,
    duty_in_base: bool,
    words: Words,
) -> Result<Option<TaxFigure>, AssessmentError> {
    let Some(rate) = input.line.consumption_tax_rate(day) else {
        return Ok(None);
    };
    let value = item.customs_value.cny;
    let base = value + in_base(item, TaxKind::CustomsDuty, duty_in_base) + remedies_in_base(item);
    let exact = consumption_tax_exact(rate, value, base, &input.quantities)?;
    let (r, specific) = resolve(rate, value, &input.quantities)?;
    let code = &input.line.code;
    let formula = || {
        (
            format!(
                "consumption tax (line {code}, rate {rate}): (value + duty = {base}, + specific part {specific}) / (1 − {r}) × {r} + {specific}"
            ),
            format!(
                "消费税（税则号列 {code}，税率 {rate}）: （完税价格+关税 = {base}，+ 从量部分 {specific}）/（1 − {r}）× {r} + {specific}"
            ),
        )
    };
    Ok(Some(figure_with(
        TaxKind::ConsumptionTax,
        exact,
        words,
        formula,
    )))
}

fn vat_of(
    item: &ItemAssessment,
    line: &TariffLine,
    day: NaiveDate,
    duty_in_base: bool,
    ct_in_base: bool,
    words: Words,
) -> Result<TaxFigure, AssessmentError> {
    let rate = line.vat_rate(day)?;
    let base = item.customs_value.cny
        + in_base(item, TaxKind::CustomsDuty, duty_in_base)
        + remedies_in_base(item)
        + in_base(item, TaxKind::ConsumptionTax, ct_in_base);
    let (left_out_en, left_out_zh) = if duty_in_base && ct_in_base {
        ("", "")
    } else {
        (
            "; exempted duty or consumption tax left out of the base (configuration)",
            "；免征的关税或消费税不计入计税价格（配置）",
        )
    };
    let code = &line.code;
    Ok(figure_with(
        TaxKind::ImportVat,
        base * rate.as_fraction(),
        words,
        || {
            (
                format!(
                    "import VAT (line {code}): (value + duty + consumption tax) {base} × {rate}{left_out_en}"
                ),
                format!(
                    "进口环节增值税（税则号列 {code}）: （完税价格+关税+消费税）{base} × {rate}{left_out_zh}"
                ),
            )
        },
    ))
}

/// Totals one tax over the consignment and applies the exemption threshold to it: when the
/// total is at most the threshold, nothing of it is collected, on any item.
fn close(
    items: &mut [ItemAssessment],
    kind: TaxKind,
    exemption_at_most: Option<Decimal>,
    words: Words,
) -> TaxTotal {
    let nominal: Decimal = items
        .iter()
        .filter_map(|i| i.tax(kind))
        .map(|t| t.nominal)
        .sum();
    let exempt = exemption_at_most.is_some_and(|limit| nominal > Decimal::ZERO && nominal <= limit);
    if exempt {
        for tax in items
            .iter_mut()
            .flat_map(|i| i.taxes.iter_mut())
            .filter(|t| t.kind == kind)
        {
            tax.payable = Decimal::ZERO;
        }
    }
    let explanation = words.say(|| total_explained(kind, nominal, exempt, exemption_at_most));
    TaxTotal {
        kind,
        nominal,
        exempt,
        payable: if exempt { Decimal::ZERO } else { nominal },
        explanation,
    }
}

/// Why a tax's total over the consignment is exempt or payable.
fn total_explained(
    kind: TaxKind,
    nominal: Decimal,
    exempt: bool,
    exemption_at_most: Option<Decimal>,
) -> Explanation {
    let (name_en, name_zh, total) = (kind.name_en(), kind.name_zh(), fen_text(nominal));
    match exemption_at_most {
        Some(limit) if exempt => Explanation::new(
            format!("{name_en} of the consignment {total} CNY is at most {limit}: exempt"),
            format!("一票货物{name_zh} {total} 元在 {limit} 元以下: 免征"),
        ),
        Some(limit) => Explanation::new(
            format!("{name_en} of the consignment {total} CNY (exemption only at most {limit})"),
            format!("一票货物{name_zh} {total} 元（{limit} 元以下方免征）"),
        ),
        None => Explanation::new(
            format!("{name_en} of the consignment {total} CNY; no exemption threshold applies"),
            format!("一票货物{name_zh} {total} 元；不适用免征额"),
        ),
    }
}

/// A cross-border e-commerce retail order (digest §2.7). The value of each item is its actual
/// transaction price including freight and insurance (give it with CIF or CIP terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbecOrder {
    pub acceptance_date: NaiveDate,
    pub items: Vec<ItemInput>,
    /// The order is one item that cannot be divided.
    pub indivisible_item: bool,
    /// What the buyer has already bought under CBEC this calendar year (the ledger is kept by the
    /// caller).
    pub person_year_to_date: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbecOutcome {
    /// Within both limits: duty 0, VAT and consumption tax at 70 %.
    WithinLimits {
        assessment: Assessment,
        annual_total_after: Decimal,
    },
    /// One indivisible item over the transaction limit, within the annual limit: full rates.
    IndivisibleAtFullRates {
        assessment: Assessment,
        annual_total_after: Decimal,
    },
    /// Not admissible as CBEC: to be declared as general trade.
    GeneralTrade { reason: Explanation },
}

/// Decides the CBEC treatment of an order and assesses it.
pub fn assess_cbec_order(
    order: &CbecOrder,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
) -> Result<CbecOutcome, AssessmentError> {
    let day = order.acceptance_date;
    let mut values = Vec::new();
    for item in &order.items {
        let rate = rates.in_force(&item.valuation.currency, day)?;
        values.push(customs_value(&item.valuation, &rate, config)?);
    }
    let order_value: Decimal = values.iter().map(|v| v.cny).sum();
    let annual_total_after = order.person_year_to_date + order_value;
    let (per_order, annual) = (config.cbec_transaction_limit, config.cbec_annual_limit);
    if annual_total_after > annual {
        // The reason names the order and the limit, never the buyer's total: whoever lodges
        // an order with a person's ID number must not learn what that person bought this year.
        return Ok(CbecOutcome::GeneralTrade {
            reason: Explanation::new(
                format!(
                    "an order of {order_value} CNY would take the buyer's annual total above the {annual} CNY limit: general trade"
                ),
                format!(
                    "本订单 {order_value} 元将使个人年度交易额超过 {annual} 元限值: 按一般贸易"
                ),
            ),
        });
    }
    if order_value <= per_order {
        let assessment = cbec_preferential(order, values, config)?;
        return Ok(CbecOutcome::WithinLimits {
            assessment,
            annual_total_after,
        });
    }
    if order.items.len() == 1 && order.indivisible_item {
        let declaration = DeclarationInput {
            acceptance_date: day,
            items: order.items.clone(),
        };
        let mut assessment = assess(&declaration, rates, config, None, Words::Explained)?;
        assessment.explanation.push(Explanation::new(
            format!("one indivisible item of {order_value} CNY above the {per_order} transaction limit: CBEC at full duty, VAT and consumption tax; counts toward the annual total"),
            format!("单件不可分割商品 {order_value} 元超过单次 {per_order} 元限值: 按货物税率全额征收关税、增值税和消费税，计入年度交易额"),
        ));
        return Ok(CbecOutcome::IndivisibleAtFullRates {
            assessment,
            annual_total_after,
        });
    }
    Ok(CbecOutcome::GeneralTrade {
        reason: Explanation::new(
            format!(
                "order of {order_value} CNY above the {per_order} transaction limit and not one indivisible item: general trade"
            ),
            format!(
                "订单 {order_value} 元超过单次 {per_order} 元限值且非单件不可分割商品: 按一般贸易"
            ),
        ),
    })
}

/// Within the limits: duty 0; consumption tax and VAT at `cbec_tax_factor` of the statutory
/// amounts, each rounded once (price × composite rate). The full statutory consumption tax is in
/// the VAT base. No exemption threshold.
fn cbec_preferential(
    order: &CbecOrder,
    values: Vec<CustomsValue>,
    config: &AssessmentConfig,
) -> Result<Assessment, AssessmentError> {
    let day = order.acceptance_date;
    let factor = config.cbec_tax_factor;
    let mut items = Vec::new();
    for (input, value) in order.items.iter().zip(values) {
        let cny = value.cny;
        let statutory_ct = match input.line.consumption_tax_rate(day) {
            Some(rate) => consumption_tax_exact(rate, cny, cny, &input.quantities)?,
            None => Decimal::ZERO,
        };
        let vat_rate = input.line.vat_rate(day)?;
        let statutory_vat = (cny + statutory_ct) * vat_rate.as_fraction();
        let f = factor.as_fraction();
        let mut taxes = vec![figure(
            TaxKind::CustomsDuty,
            Decimal::ZERO,
            "customs duty: 0% within the CBEC limits".into(),
            "关税: 跨境电商限值以内税率为0%".into(),
        )];
        if input.line.consumption_tax_rate(day).is_some() {
            taxes.push(figure(
                TaxKind::ConsumptionTax,
                statutory_ct * f,
                format!(
                    "consumption tax: statutory {statutory_ct} × {factor} (CBEC within limits)"
                ),
                format!("消费税: 法定应纳税额 {statutory_ct} × {factor}（跨境电商限值以内）"),
            ));
        }
        taxes.push(figure(
            TaxKind::ImportVat,
            statutory_vat * f,
            format!("import VAT: (value {cny} + statutory consumption tax {statutory_ct}) × {vat_rate} × {factor} (CBEC within limits)"),
            format!("进口环节增值税: （完税价格 {cny} + 法定消费税 {statutory_ct}）× {vat_rate} × {factor}（跨境电商限值以内）"),
        ));
        let selection = RateSelection {
            column: crate::model::RateColumn::Mfn,
            rate: DutyRate::AdValorem { rate: Rate::ZERO },
            reason: vec![Explanation::new(
                "CBEC retail import within the limits: duty rate 0% (财关税〔2018〕49号)",
                "跨境电商零售进口限值以内: 关税税率暂设为0%（财关税〔2018〕49号）",
            )],
            refused_preference: None,
            remedies: Vec::new(),
        };
        items.push(ItemAssessment {
            customs_value: value,
            selection,
            taxes,
        });
    }
    let mut totals = Vec::new();
    for kind in [
        TaxKind::CustomsDuty,
        TaxKind::ConsumptionTax,
        TaxKind::ImportVat,
    ] {
        totals.push(close(&mut items, kind, None, Words::Explained));
    }
    Ok(finish(items, totals, Words::Explained))
}
