//! Assessment of a declaration by the pure `tariff` engine, and its record.
//!
//! The one conversion of a parsed declaration into the engine's input lives here; the lodging
//! path, the dry run of a new release, `customs assess` and the benchmark all call it. An item
//! that cannot be converted (no tariff line in the release, freight in another currency, a
//! quantity the rate needs and the item lacks) is a [`NotAssessable`] naming the field: the
//! declaration is still accepted, and its assessment says why it waits for an officer.
//!
//! The record (`declaration.assessed` event payload) carries every figure, the tariff release and
//! exchange-rate tables used, and the difference to the previous assessment of the same
//! declaration (to pay or to refund). The engine's bilingual explanation of each figure is not
//! recorded for a general-trade assessment: it is rendered on read by running the engine again on
//! the recorded inputs ([`EXPLANATIONS_ON_READ`]; the engine is deterministic), which keeps a
//! lodging's record small. Records made before, and CBEC orders', carry their words.

use std::sync::Arc;

use chrono::NaiveDate;
use domain::{Charge as DeclaredCharge, Declaration, Direction, GoodsItem};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use tariff::money::{Fen, fen_text};
use tariff::{
    Assessment, AssessmentConfig, Charge, DeclarationInput, ExchangeRates, Explanation, ItemInput,
    Origin, PreferenceClaim, QuotaStatus, RateColumn, TariffLine, TariffRelease, TaxKind,
};

/// The event that records an assessment.
pub const ASSESSED_ACTION: &str = "declaration.assessed";

/// Document type of China's tariff-quota certificate (关税配额证明, supervision certificate `t`).
const TARIFF_QUOTA_CERTIFICATE: &str = "t";

/// Why a declaration cannot be assessed by the engine, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAssessable {
    pub path: String,
    pub message_en: String,
    pub message_zh: String,
}

impl NotAssessable {
    pub fn new(path: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        NotAssessable {
            path: path.into(),
            message_en: en.into(),
            message_zh: zh.into(),
        }
    }

    fn json(&self) -> Value {
        json!({ "path": self.path, "en": self.message_en, "zh": self.message_zh })
    }
}

impl std::fmt::Display for NotAssessable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            self.path, self.message_en, self.message_zh
        )
    }
}

/// An item's tariff line and the preference it may claim, as the caller finds them.
pub type ItemTariff = (Arc<TariffLine>, Option<PreferenceClaim>);

/// The declaration as the engine's input: `Ok(None)` for an export, which has no import duty.
/// `item_tariff` gives each goods item's line and claim (from a release, or synthetic for the
/// benchmark). Every item is converted, so every problem is reported at once.
///
/// Each item's exporter, for company-specific trade-remedy rates, is the declaration's overseas
/// party (`overseas_party.name`, the consignor): China's notices name producers, but a
/// declaration does not carry one yet, so the consignor stands in for it until it does.
pub fn declaration_input(
    declaration: &Declaration,
    day: NaiveDate,
    item_tariff: &mut dyn FnMut(usize, &GoodsItem) -> Result<ItemTariff, NotAssessable>,
) -> Result<Option<DeclarationInput>, Vec<NotAssessable>> {
    if declaration.direction == Direction::Export {
        return Ok(None);
    }
    let mut problems = Vec::new();
    let currency = declaration.invoice.currency.as_str();
    let terms = declaration
        .transaction_terms
        .as_ref()
        .and_then(|t| tariff::TransactionTerms::parse(t.as_str()));
    if terms.is_none() {
        problems.push(NotAssessable::new(
            "transaction_terms",
            "the terms of the sale are needed to value the goods",
            "完税价格的审定需要成交方式",
        ));
    }
    let item_amounts: Vec<Decimal> = declaration.items.iter().map(|i| i.amount).collect();
    // The exporter for company-specific trade-remedy rates. China's anti-dumping and
    // countervailing notices name producers (and exporters); the declaration does not carry the
    // producer, so its overseas party (境外发货人, the consignor) is taken as the exporter until it
    // does. A consignor that is a trader, not the producer the notice names, gets the rate for all
    // other companies.
    let exporter = Some(declaration.overseas_party.name.trim())
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let quota_certificate = declaration
        .documents
        .iter()
        .any(|d| d.document_type.as_str() == TARIFF_QUOTA_CERTIFICATE);
    let mut inputs = Vec::with_capacity(declaration.items.len());
    for (index, item) in declaration.items.iter().enumerate() {
        let charges = (
            item_charge(
                declaration.freight.as_ref(),
                "freight",
                currency,
                item,
                index,
                &item_amounts,
            ),
            item_charge(
                declaration.insurance.as_ref(),
                "insurance",
                currency,
                item,
                index,
                &item_amounts,
            ),
            item_charge(
                declaration.other_costs.as_ref(),
                "other_costs",
                currency,
                item,
                index,
                &item_amounts,
            ),
            item_tariff(index, item),
        );
        let (freight, insurance, other_costs, (line, claim)) = match charges {
            (Ok(f), Ok(i), Ok(o), Ok(t)) => (f, i, o, t),
            (f, i, o, t) => {
                problems.extend(f.err());
                problems.extend(i.err());
                problems.extend(o.err());
                problems.extend(t.err());
                continue;
            }
        };
        // Other costs (杂费) belong to the price actually paid (Art. 8 additions): added to the
        // item's price before freight and insurance are computed on it.
        let invoice_amount = item.amount + other_costs.map_or(Decimal::ZERO, |c| c.added(item));
        let quota = quota_status(&line, day, quota_certificate);
        let quantities = item
            .statutory_quantities
            .iter()
            .chain(std::iter::once(&item.quantity))
            .map(|q| tariff::Quantity {
                unit: tariff::StatutoryUnit(q.unit.as_str().to_owned()),
                amount: q.value,
            })
            .collect();
        let Some(terms) = terms else { continue };
        inputs.push(ItemInput {
            line,
            valuation: tariff::ValuationInput {
                invoice_amount,
                currency: currency.to_owned(),
                terms,
                freight: freight.map_or(Charge::Absent, |c| c.charge),
                insurance: insurance.map_or(Charge::Absent, |c| c.charge),
            },
            origin: Origin::Known {
                country: item.origin_country.as_str().to_owned(),
                mfn_entitled: true,
            },
            exporter: exporter.clone(),
            claim,
            quota,
            quantities,
        });
    }
    if problems.is_empty() {
        Ok(Some(DeclarationInput {
            acceptance_date: day,
            items: inputs,
        }))
    } else {
        Err(problems)
    }
}

/// Tariff-quota goods: in quota with a quota certificate among the documents, out of quota
/// without one. Other goods are not quota goods.
fn quota_status(line: &TariffLine, day: NaiveDate, certificate: bool) -> QuotaStatus {
    let quota_goods = line
        .columns
        .iter()
        .any(|c| c.column == RateColumn::TariffQuotaInQuota && c.validity.contains(day));
    match (quota_goods, certificate) {
        (false, _) => QuotaStatus::NotQuotaGoods,
        (true, true) => QuotaStatus::InQuota,
        (true, false) => QuotaStatus::OutOfQuota,
    }
}

/// One item's share of a declared charge.
struct ItemCharge {
    charge: Charge,
}

impl ItemCharge {
    /// As an addition to the item's price (other costs): an amount, or a rate of the price.
    fn added(&self, item: &GoodsItem) -> Decimal {
        match self.charge {
            Charge::Absent => Decimal::ZERO,
            Charge::Amount(amount) => amount,
            Charge::Rate(rate) => tariff::money::round_fen(item.amount * rate.as_fraction()),
            Charge::PerUnit {
                amount_per_unit,
                quantity,
            } => tariff::money::round_fen(amount_per_unit * quantity),
        }
    }
}

/// The item's share of freight, insurance or other costs. An amount is shared by the items'
/// amounts (the last item takes the rest, so the shares add up); a rate applies to each item; an
/// amount per unit applies to the item's quantity in that unit (per tonne: its kilograms / 1000).
/// Amounts must be in the invoice currency: the engine converts one currency per item.
fn item_charge(
    declared: Option<&DeclaredCharge>,
    name: &str,
    currency: &str,
    item: &GoodsItem,
    index: usize,
    amounts: &[Decimal],
) -> Result<Option<ItemCharge>, NotAssessable> {
    let Some(declared) = declared else {
        return Ok(None);
    };
    let other_currency = |other: &str| {
        NotAssessable::new(
            format!("{name}.currency"),
            format!("{other} differs from the invoice currency {currency}"),
            format!("{other} 与发票币制 {currency} 不同"),
        )
    };
    let charge = match declared {
        DeclaredCharge::Amount {
            amount,
            currency: c,
        } => {
            if c.as_str() != currency {
                return Err(other_currency(c.as_str()));
            }
            let total: Decimal = amounts.iter().sum();
            let share = if index + 1 == amounts.len() {
                let earlier: Decimal = amounts[..index]
                    .iter()
                    .map(|a| share_of(*amount, *a, total))
                    .sum();
                *amount - earlier
            } else {
                share_of(*amount, amounts[index], total)
            };
            Charge::Amount(share)
        }
        DeclaredCharge::RatePercent(percent) => Charge::Rate(tariff::Rate::percent(*percent)),
        DeclaredCharge::PerUnit {
            amount,
            currency: c,
            unit,
        } => {
            if c.as_str() != currency {
                return Err(other_currency(c.as_str()));
            }
            let quantity = quantity_in(item, unit.as_str()).ok_or_else(|| {
                NotAssessable::new(
                    format!("items[{index}].statutory_quantities"),
                    format!("no quantity in {unit} (or KGM) for the {name} per {unit}"),
                    format!("缺少按 {unit} 计收{name}所需的数量"),
                )
            })?;
            Charge::PerUnit {
                amount_per_unit: *amount,
                quantity,
            }
        }
    };
    Ok(Some(ItemCharge { charge }))
}

fn share_of(amount: Decimal, item_amount: Decimal, total: Decimal) -> Decimal {
    if total.is_zero() {
        return Decimal::ZERO;
    }
    tariff::money::round_fen(amount * item_amount / total)
}

/// The item's quantity in `unit`, from its statutory quantities or its declared quantity; tonnes
/// from kilograms.
fn quantity_in(item: &GoodsItem, unit: &str) -> Option<Decimal> {
    let quantities = || {
        item.statutory_quantities
            .iter()
            .chain(std::iter::once(&item.quantity))
    };
    if let Some(q) = quantities().find(|q| q.unit.as_str() == unit) {
        return Some(q.value);
    }
    (unit == "TNE")
        .then(|| quantities().find(|q| q.unit.as_str() == "KGM"))
        .flatten()
        .map(|kg| kg.value / Decimal::ONE_THOUSAND)
}

/// What the proof-of-origin check needs besides the declaration: the agreements' data and
/// the keys ([`proof_key`]) of the proofs other declarations already used.
pub struct OriginContext<'a> {
    pub agreements: &'a tariff::origin::Agreements,
    pub used_elsewhere: &'a dyn Fn(&str) -> bool,
}

/// The register key of a proof of origin: proof numbers are unique per agreement and issuing
/// country, not worldwide.
pub fn proof_key(proof: &domain::OriginProof) -> String {
    format!(
        "{}:{}:{}",
        proof.agreement.code(),
        proof.country_of_origin.as_str(),
        proof.number
    )
}

/// The preference an item claims, with the outcome of the proof check (digest §3): the
/// conventional column of the agreement, refused with a reason when the proof does not hold
/// (the item is then assessed at the rate it can have).
fn item_claim(
    declaration: &Declaration,
    item: &GoodsItem,
    day: NaiveDate,
    origin: &OriginContext<'_>,
    rules: &tariff::origin_rules::OriginRules,
) -> Option<(PreferenceClaim, Option<tariff::origin::RuleChecked>)> {
    use tariff::origin::{DeclaredGoods, OriginCriterion as C, ProofOfOrigin, ProofType};
    let preference = item.preference.as_ref()?;
    let (proof, proof_item) = declaration.proof_for(preference)?;
    let unit = proof_item.quantity.unit.as_str();
    let declared_quantity = quantity_in(item, unit).unwrap_or(item.quantity.value);
    let quantity = |amount| tariff::Quantity {
        unit: tariff::StatutoryUnit(unit.to_owned()),
        amount,
    };
    let goods = DeclaredGoods {
        agreement: preference.agreement.code().to_owned(),
        date: day,
        origin_country: item.origin_country.as_str().to_owned(),
        hs6: item
            .commodity_code
            .as_str()
            .get(..6)
            .unwrap_or_default()
            .to_owned(),
        quantity: quantity(declared_quantity),
        // Without a departure date the goods count as shipped on the day of declaration, the
        // latest they can have been: the proof's issue date is then judged most leniently.
        shipment_date: declaration.transport.departure_date.unwrap_or(day),
    };
    let proof = ProofOfOrigin {
        agreement: proof.agreement.code().to_owned(),
        kind: match proof.kind {
            domain::ProofKind::Certificate => ProofType::Certificate,
            domain::ProofKind::ApprovedExporterDeclaration => {
                ProofType::ApprovedExporterDeclaration
            }
            domain::ProofKind::ExporterDeclaration => ProofType::ExporterDeclaration,
        },
        number: proof.number.clone(),
        issue_date: proof.issue_date,
        retroactive: proof.retroactive,
        exporter: proof.exporter.clone(),
        hs6: proof_item.hs6.as_str().to_owned(),
        criterion: match proof_item.criterion {
            domain::OriginCriterion::Wo => C::Wo,
            domain::OriginCriterion::Pe => C::Pe,
            domain::OriginCriterion::Ctc => C::Ctc,
            domain::OriginCriterion::Cc => C::Cc,
            domain::OriginCriterion::Cth => C::Cth,
            domain::OriginCriterion::Ctsh => C::Ctsh,
            domain::OriginCriterion::Rvc => C::Rvc,
            domain::OriginCriterion::Cr => C::Cr,
            domain::OriginCriterion::Acu => C::Acu,
            domain::OriginCriterion::Dmi => C::Dmi,
        },
        country_of_origin: Some(proof.country_of_origin.as_str().to_owned()),
        quantity: quantity(proof_item.quantity.value),
        fob: proof_item.value.as_ref().map(|v| v.fob),
        vnm: proof_item.value.as_ref().and_then(|v| v.vnm),
        direct_consignment_evidence: proof.direct_consignment_evidence,
    };
    let key = proof_key(declaration.proof_for(preference)?.0);
    let used = |_: &str| (origin.used_elsewhere)(&key);
    Some(tariff::origin::claim_with(
        Some(&proof),
        &goods,
        origin.agreements,
        rules,
        &used,
    ))
}

/// The member of an assessment record that states, for each item whose proof of origin got as
/// far as its criterion, the product-specific rule it was checked against and the outcome
/// ("claimed CTH; rule CC or RVC40 → not met"). For officers: the trade's view of an
/// assessment (`trade_view::trade_assessment`) is an allow-list that leaves it out.
pub const ORIGIN_RULES_CHECKED_MEMBER: &str = "origin_rules_checked";

/// The rules the declaration's proofs of origin were checked against under `release` (the
/// same check the assessment makes), as recorded in [`ORIGIN_RULES_CHECKED_MEMBER`]; an empty
/// list when no item's criterion was checked.
pub fn origin_rules_checked(
    declaration: &Declaration,
    day: NaiveDate,
    release: &TariffRelease,
    origin: &OriginContext<'_>,
) -> Vec<Value> {
    declaration
        .items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let (_, checked) = item_claim(declaration, item, day, origin, &release.origin_rules)?;
            let checked = checked?;
            let (source, verify) = match &checked.source {
                tariff::origin::RuleSource::Release { source, verify } => {
                    (Value::from(source.as_str()), Value::from(*verify))
                }
                tariff::origin::RuleSource::Agreement => {
                    (Value::from("the agreement's data (no rule in the release)"), Value::Null)
                }
            };
            Some(serde_json::json!({
                "item": index,
                "agreement": checked.agreement,
                "hs6": checked.hs6,
                "claimed": checked.claimed.to_string(),
                "rule": checked.rule.to_string(),
                "from_release": matches!(checked.source, tariff::origin::RuleSource::Release { .. }),
                "source": source,
                "verify": verify,
                "met": checked.met,
                "detail": { "en": checked.detail.en, "zh": checked.detail.zh },
            }))
        })
        .collect()
}

/// A declaration assessed under a tariff release and exchange rates: the engine's input and
/// result, or every reason it cannot be assessed; `None` for an export. Each item takes the
/// release's line of its commodity code in force on `day`, and the preference its proof of
/// origin supports.
pub fn assess_with_release(
    declaration: &Declaration,
    day: NaiveDate,
    release: &TariffRelease,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    origin: &OriginContext<'_>,
) -> Option<Result<(DeclarationInput, Assessment), Vec<NotAssessable>>> {
    assess_with_release_in(
        declaration,
        day,
        release,
        rates,
        config,
        origin,
        Words::Explained,
    )
}

/// [`assess_with_release`], the engine writing the words `words` asks for (a figures-only
/// report has no use for them).
pub fn assess_with_release_in(
    declaration: &Declaration,
    day: NaiveDate,
    release: &TariffRelease,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    origin: &OriginContext<'_>,
    words: Words,
) -> Option<Result<(DeclarationInput, Assessment), Vec<NotAssessable>>> {
    let mut item_tariff = |index: usize, item: &GoodsItem| -> Result<ItemTariff, NotAssessable> {
        let line = line_of(release, index, item, day)?;
        let claim = item_claim(declaration, item, day, origin, &release.origin_rules);
        Ok((line, claim.map(|(claim, _)| claim)))
    };
    let input = match declaration_input(declaration, day, &mut item_tariff) {
        Ok(Some(input)) => input,
        Ok(None) => return None,
        Err(problems) => return Some(Err(problems)),
    };
    Some(
        assess_in(&input, rates, config, words)
            .map(|assessed| (input, assessed))
            .map_err(|problem| vec![problem]),
    )
}

/// How a CBEC retail order clears (digest §2.7), with its assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbecClearance {
    /// Within the limits (or one indivisible item at full rates): assessed, and the order's
    /// value counts toward the buyer's annual allowance.
    Cbec {
        input: DeclarationInput,
        assessment: Assessment,
        /// Sum of the items' customs values, CNY.
        order_value: Decimal,
        annual_total_after: Decimal,
        within_limits: bool,
    },
    /// Not admissible as CBEC: to be declared as general trade, and why.
    GeneralTrade(Explanation),
}

/// A CBEC retail order assessed under a tariff release: duty 0 and 70 % of VAT and consumption
/// tax within the limits, no preference (the regime is its own preference), the buyer's
/// purchases this year so far given by the caller from the ledger.
pub fn assess_cbec_with_release(
    declaration: &Declaration,
    day: NaiveDate,
    release: &TariffRelease,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    person_year_to_date: Decimal,
) -> Result<CbecClearance, Vec<NotAssessable>> {
    let mut item_tariff = |index: usize, item: &GoodsItem| -> Result<ItemTariff, NotAssessable> {
        line_of(release, index, item, day).map(|line| (line, None))
    };
    let input = declaration_input(declaration, day, &mut item_tariff)?.ok_or_else(|| {
        vec![NotAssessable::new(
            "direction",
            "a CBEC retail order is an import",
            "跨境电商零售订单为进口",
        )]
    })?;
    let order = tariff::CbecOrder {
        acceptance_date: day,
        items: input.items.clone(),
        indivisible_item: declaration
            .cbec_order
            .as_ref()
            .is_some_and(|o| o.indivisible_item),
        person_year_to_date,
    };
    let outcome = tariff::assess_cbec_order(&order, rates, config)
        .map_err(|e| vec![NotAssessable::new("items", e.to_string(), e.message_zh())])?;
    let (assessment, annual_total_after, within_limits) = match outcome {
        tariff::CbecOutcome::WithinLimits {
            assessment,
            annual_total_after,
        } => (assessment, annual_total_after, true),
        tariff::CbecOutcome::IndivisibleAtFullRates {
            assessment,
            annual_total_after,
        } => (assessment, annual_total_after, false),
        tariff::CbecOutcome::GeneralTrade { reason } => {
            return Ok(CbecClearance::GeneralTrade(reason));
        }
    };
    Ok(CbecClearance::Cbec {
        order_value: assessment.customs_value(),
        input,
        assessment,
        annual_total_after,
        within_limits,
    })
}

fn line_of(
    release: &TariffRelease,
    index: usize,
    item: &GoodsItem,
    day: NaiveDate,
) -> Result<Arc<TariffLine>, NotAssessable> {
    let code = item.commodity_code.as_str();
    // Shared, not copied: a line's rates, remedies and texts are the same for every item.
    release.shared_line(code, day).cloned().ok_or_else(|| {
        NotAssessable::new(
            format!("items[{index}].commodity_code"),
            format!("no tariff line {code} in force on {day}"),
            format!("税则中无 {day} 有效的税号 {code}"),
        )
    })
}

/// The register keys of the proofs of origin whose preference was granted in `input` (made
/// by [`declaration_input`] from `declaration`, item for item).
pub fn granted_proofs(declaration: &Declaration, input: &DeclarationInput) -> Vec<String> {
    let mut keys: Vec<String> = declaration
        .items
        .iter()
        .zip(&input.items)
        .filter(|(_, item)| {
            item.claim
                .as_ref()
                .is_some_and(|c| c.proof == tariff::ProofCheck::Valid)
        })
        .filter_map(|(goods, _)| declaration.proof_for(goods.preference.as_ref()?))
        .map(|(proof, _)| proof_key(proof))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Runs the engine; an engine error names the item it is about when there is one.
pub fn assess(
    input: &DeclarationInput,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
) -> Result<Assessment, NotAssessable> {
    assess_in(input, rates, config, Words::Explained)
}

/// [`assess`], the engine writing the words `words` asks for.
fn assess_in(
    input: &DeclarationInput,
    rates: &ExchangeRates,
    config: &AssessmentConfig,
    words: Words,
) -> Result<Assessment, NotAssessable> {
    tariff::assess_declaration_with(input, rates, config, words).map_err(|e| {
        let path = match &e {
            tariff::AssessmentError::NoExchangeRate { .. }
            | tariff::AssessmentError::ExchangeRatePrecision { .. } => "invoice.currency".into(),
            tariff::AssessmentError::FreightUnknown { .. } => "freight".into(),
            // The item whose quantity is in a unit its rate cannot use, by its declared unit.
            tariff::AssessmentError::MissingQuantity { item: Some(i), .. } => {
                format!("items[{i}].quantity.unit")
            }
            tariff::AssessmentError::ZeroQuantity { item: Some(i), .. } => {
                format!("items[{i}].quantity.value")
            }
            _ => "items".to_owned(),
        };
        NotAssessable::new(path, e.to_string(), e.message_zh())
    })
}

// ---------------------------------------------------------------------------------------------
// The report: every figure with its explanation.

/// `customs_duty`, `anti_dumping_duty`, `import_vat`...: the key of a tax in reports, its English
/// name in lower case with `_` for every other character (a test holds every key to that rule).
/// Spelt out, not derived per report: every item of every lodging writes them.
pub fn kind_key(kind: TaxKind) -> &'static str {
    use tariff::RemedyKind;
    match kind {
        TaxKind::CustomsDuty => "customs_duty",
        TaxKind::TradeRemedy(RemedyKind::AntiDumping) => "anti_dumping_duty",
        TaxKind::TradeRemedy(RemedyKind::Countervailing) => "countervailing_duty",
        TaxKind::TradeRemedy(RemedyKind::Safeguard) => "safeguard_duty",
        TaxKind::TradeRemedy(RemedyKind::Countermeasure) => "countermeasure_duty",
        TaxKind::ConsumptionTax => "consumption_tax",
        TaxKind::ImportVat => "import_vat",
        TaxKind::PostalArticlesTax => "import_tax_on_articles",
    }
}

// The report is serialized from views that borrow the engine's figures and explanations, once,
// straight to text: it is the bulk of every lodging's assessment event, and building a
// `serde_json::Value` tree of it first (a map and a copied string per member) cost more than
// the assessment itself. Members are declared in alphabetical order, as `Value` writes them.
// Figures are written into the text as they are formatted ([`Shown`]), not each into a `String`
// first.

/// A figure written into the report as a JSON string, formatted straight into the output.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct Text<'a> {
    en: &'a str,
    zh: &'a str,
}

fn texts(explanations: &[Explanation]) -> Vec<Text<'_>> {
    explanations
        .iter()
        .map(|e| Text {
            en: &e.en,
            zh: &e.zh,
        })
        .collect()
}

#[derive(Serialize)]
struct TaxView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Vec<Text<'a>>>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Text<'static>>,
    nominal: Shown<Fen>,
    payable: Shown<Fen>,
}

#[derive(Serialize)]
struct ValueView<'a> {
    cif_foreign: Shown<Decimal>,
    cny: Shown<Fen>,
    currency: &'a str,
    exchange_rate: Shown<Decimal>,
    exchange_rate_month: Shown<tariff::YearMonth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Vec<Text<'a>>>,
    freight: Shown<Decimal>,
    insurance: Shown<Decimal>,
}

#[derive(Serialize)]
struct RateView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<ColumnName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Vec<Text<'a>>>,
    rate: Shown<&'a tariff::DutyRate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_preference: Option<Option<Text<'a>>>,
}

#[derive(Serialize)]
struct ColumnName {
    en: String,
    zh: String,
}

/// A licence or certificate the tariff line requires (监管证件), and whether the declaration's
/// documents carry one of that type. Informative: the checks of documents are an officer's.
#[derive(Serialize)]
struct LicenceView<'a> {
    code: &'a str,
    produced: bool,
}

#[derive(Serialize)]
struct ItemView<'a> {
    commodity_code: &'a str,
    customs_value: ValueView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    duty_rate: RateView<'a>,
    index: usize,
    licences: Vec<LicenceView<'a>>,
    origin: Option<&'a str>,
    taxes: Vec<TaxView<'a>>,
}

#[derive(Serialize)]
struct TotalView<'a> {
    exempt: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Text<'a>>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Text<'static>>,
    nominal: Shown<Fen>,
    payable: Shown<Fen>,
}

#[derive(Serialize)]
struct ReportView<'a> {
    acceptance_date: Shown<NaiveDate>,
    currency: &'static str,
    customs_value: Shown<Fen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Vec<Text<'a>>>,
    items: Vec<ItemView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regime: Option<&'a Value>,
    total_payable: Shown<Fen>,
    totals: Vec<TotalView<'a>>,
}

fn tax_name(kind: TaxKind) -> Text<'static> {
    Text {
        en: kind.name_en(),
        zh: kind.name_zh(),
    }
}

/// Whether a report carries the words (explanations, names of taxes, columns and lines) or the
/// figures only. Recorded assessments keep the figures only: the words are ~2 KB per item, the
/// bulk of a lodging's bytes, and the engine renders them again on read from the recorded inputs
/// ([`EXPLANATIONS_ON_READ`]). The engine is told too, so that it does not write them at all.
pub use tariff::Words;

fn report_view<'a>(
    input: &'a DeclarationInput,
    assessment: &'a Assessment,
    documents: &[&str],
    regime: Option<&'a Value>,
    words: Words,
) -> ReportView<'a> {
    let explained = words == Words::Explained;
    let said = |explanations: &'a [Explanation]| explained.then(|| texts(explanations));
    let items = input
        .items
        .iter()
        .zip(&assessment.items)
        .enumerate()
        .map(|(index, (item, assessed))| {
            let value = &assessed.customs_value;
            let selection = &assessed.selection;
            ItemView {
                commodity_code: &item.line.code,
                customs_value: ValueView {
                    cif_foreign: Shown(value.cif_foreign),
                    cny: Shown(Fen(value.cny)),
                    currency: value.exchange_rate.currency(),
                    exchange_rate: Shown(value.exchange_rate.rate_4dp()),
                    exchange_rate_month: Shown(value.exchange_rate.month()),
                    explanation: said(&value.explanation),
                    freight: Shown(value.freight),
                    insurance: Shown(value.insurance),
                },
                description: explained.then_some(item.line.description.as_str()),
                duty_rate: RateView {
                    column: explained.then(|| ColumnName {
                        en: selection.column.name_en(),
                        zh: selection.column.name_zh(),
                    }),
                    explanation: said(&selection.reason),
                    rate: Shown(&selection.rate),
                    refused_preference: explained.then(|| {
                        selection.refused_preference.as_ref().map(|e| Text {
                            en: &e.en,
                            zh: &e.zh,
                        })
                    }),
                },
                index,
                licences: item
                    .line
                    .licences
                    .iter()
                    .map(|code| LicenceView {
                        code,
                        produced: documents.contains(&code.as_str()),
                    })
                    .collect(),
                origin: item.origin.country(),
                taxes: assessed
                    .taxes
                    .iter()
                    .map(|t| TaxView {
                        explanation: said(&t.explanation),
                        kind: kind_key(t.kind),
                        name: explained.then(|| tax_name(t.kind)),
                        nominal: Shown(Fen(t.nominal)),
                        payable: Shown(Fen(t.payable)),
                    })
                    .collect(),
            }
        })
        .collect();
    ReportView {
        acceptance_date: Shown(input.acceptance_date),
        currency: "CNY",
        customs_value: Shown(Fen(assessment.customs_value())),
        explanation: said(&assessment.explanation),
        items,
        regime,
        total_payable: Shown(Fen(assessment.total_payable)),
        totals: assessment
            .totals
            .iter()
            .map(|t| TotalView {
                exempt: t.exempt,
                explanation: explained.then(|| Text {
                    en: &t.explanation.en,
                    zh: &t.explanation.zh,
                }),
                kind: kind_key(t.kind),
                name: explained.then(|| tax_name(t.kind)),
                nominal: Shown(Fen(t.nominal)),
                payable: Shown(Fen(t.payable)),
            })
            .collect(),
    }
}

/// The members of an explained report that a figures-only one leaves out, where they occur.
const WORDS_OF_REPORT: &[&str] = &["explanation"];
const WORDS_OF_ITEM: &[&str] = &["description"];
const WORDS_OF_VALUE: &[&str] = &["explanation"];
const WORDS_OF_RATE: &[&str] = &["column", "explanation", "refused_preference"];
const WORDS_OF_TAX: &[&str] = &["explanation", "name"];

/// An explained report (as JSON) without its words: what [`Words::FiguresOnly`] records. The
/// report rendered on read must give back exactly the recorded figures under this.
pub fn figures_of(report: &Value) -> Value {
    let mut figures = report.clone();
    let strip = |value: &mut Value, members: &[&str]| {
        if let Some(object) = value.as_object_mut() {
            for member in members {
                object.remove(*member);
            }
        }
    };
    strip(&mut figures, WORDS_OF_REPORT);
    for item in figures["items"].as_array_mut().into_iter().flatten() {
        strip(item, WORDS_OF_ITEM);
        strip(&mut item["customs_value"], WORDS_OF_VALUE);
        strip(&mut item["duty_rate"], WORDS_OF_RATE);
        for tax in item["taxes"].as_array_mut().into_iter().flatten() {
            strip(tax, WORDS_OF_TAX);
        }
    }
    for total in figures["totals"].as_array_mut().into_iter().flatten() {
        strip(total, WORDS_OF_TAX);
    }
    figures
}

/// The document types a declaration carries, for the licences its lines require.
pub fn document_types(declaration: &Declaration) -> Vec<&str> {
    declaration
        .documents
        .iter()
        .map(|d| d.document_type.as_str())
        .collect()
}

/// The assessment as JSON: per item (line, value, rate and why, each tax, the licences the line
/// requires and whether `documents` has them), per tax, the total.
pub fn report(input: &DeclarationInput, assessment: &Assessment, documents: &[&str]) -> Value {
    serde_json::to_value(report_view(
        input,
        assessment,
        documents,
        None,
        Words::Explained,
    ))
    .expect("a report serializes")
}

/// An assessment's report serialized once, with what a record needs from it.
#[derive(Debug, Clone)]
pub struct ReportJson {
    pub json: String,
    /// Whether `json` carries the words or the figures only.
    pub words: Words,
    pub total_payable: Decimal,
    /// Payable per tax (`kind_key`), for the difference to the next assessment.
    pub payable_by_kind: Vec<(String, Decimal)>,
    /// Each item's customs value in CNY, in the declaration's item order (for targeting).
    pub item_customs_values: Vec<Decimal>,
}

impl ReportJson {
    /// The report as a JSON value, for answers that add to it (estimates, dry runs).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.json).expect("a serialized report parses")
    }
}

/// The report as text; `regime` (a CBEC order's) is added as its `regime` member.
pub fn report_json(
    input: &DeclarationInput,
    assessment: &Assessment,
    documents: &[&str],
    regime: Option<&Value>,
    words: Words,
) -> ReportJson {
    let json = serde_json::to_string(&report_view(input, assessment, documents, regime, words))
        .expect("a report serializes");
    ReportJson {
        json,
        words,
        total_payable: assessment.total_payable,
        payable_by_kind: assessment
            .totals
            .iter()
            .map(|t| (kind_key(t.kind).to_owned(), t.payable))
            .collect(),
        item_customs_values: assessment
            .items
            .iter()
            .map(|i| i.customs_value.cny)
            .collect(),
    }
}

/// The member of a `declaration.assessed` record saying how its words are kept, and its value
/// when the record holds the figures only: the explanations are rendered on read by running the
/// engine again on the recorded inputs (the declaration as it stood, the release and rate tables
/// named, the proofs of origin other declarations had used). Records without it carry their words.
pub const EXPLANATIONS_MEMBER: &str = "explanations";
pub const EXPLANATIONS_ON_READ: &str = "on_read";

/// The member of a record listing the declaration's proofs of origin that other declarations had
/// already used when it was assessed (a fact of the moment, needed to assess it again alike);
/// absent when there were none.
pub const PROOFS_USED_ELSEWHERE_MEMBER: &str = "proofs_used_elsewhere";

/// Why an assessment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Acceptance,
    Amendment,
    /// Requested by an officer (a finding, or a release rolled back).
    Officer,
    /// Made by an officer by hand, where the engine could not assess.
    Manual,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Acceptance => "acceptance",
            Basis::Amendment => "amendment",
            Basis::Officer => "officer",
            Basis::Manual => "manual",
        }
    }
}

/// The tariff data an assessment used: recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub tariff_release: Option<String>,
    pub exchange_rate_tables: Vec<String>,
}

/// The payload of a `declaration.assessed` event. `previous` is the payload of the declaration's
/// last assessment, if any: the difference per tax and in total is recorded against it. `extra`
/// members (a CBEC order's booking, an officer's note) are added as they are.
pub fn record(
    number: u32,
    basis: Basis,
    day: NaiveDate,
    sources: &Sources,
    outcome: Result<ReportJson, Vec<NotAssessable>>,
    previous: Option<&Value>,
    extra: Vec<(&str, Value)>,
) -> String {
    let mut record = json!({
        "assessment": number,
        "basis": basis.as_str(),
        "acceptance_date": day.to_string(),
        "tariff_release": sources.tariff_release,
        "exchange_rate_tables": sources.exchange_rate_tables,
    });
    for (key, value) in extra {
        record[key] = value;
    }
    let report = match outcome {
        Ok(report) => {
            record["outcome"] = json!("assessed");
            record["total_payable"] = json!(fen_text(report.total_payable));
            record["difference"] =
                previous.map_or(Value::Null, |p| difference(p, &report.payable_by_kind));
            if report.words == Words::FiguresOnly {
                record[EXPLANATIONS_MEMBER] = json!(EXPLANATIONS_ON_READ);
            }
            Some(report.json)
        }
        Err(problems) => {
            record["outcome"] = json!("not_assessed");
            record["problems"] = problems.iter().map(NotAssessable::json).collect();
            None
        }
    };
    let mut text = record.to_string();
    if let Some(report) = report {
        // `report` sorts after every other member, as `Value` would place it.
        text.pop();
        text.push_str(",\"report\":");
        text.push_str(&report);
        text.push('}');
    }
    text
}

fn payable_by_kind(record: &Value) -> Vec<(String, Decimal)> {
    record["report"]["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let kind = t["kind"].as_str()?.to_owned();
            let payable = t["payable"].as_str()?.parse().ok()?;
            Some((kind, payable))
        })
        .collect()
}

/// Per tax and in total: new payable − previous payable (positive: to pay; negative: to refund).
/// A previous record that was not assessed counts as nothing assessed.
fn difference(previous: &Value, after: &[(String, Decimal)]) -> Value {
    let before = payable_by_kind(previous);
    let mut kinds: Vec<&String> = before.iter().chain(after).map(|(k, _)| k).collect();
    kinds.sort();
    kinds.dedup();
    let amount = |list: &[(String, Decimal)], kind: &str| {
        list.iter()
            .find(|(k, _)| k == kind)
            .map_or(Decimal::ZERO, |(_, v)| *v)
    };
    let per_tax: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let (was, now) = (amount(&before, kind), amount(after, kind));
            json!({ "kind": kind, "previous": fen_text(was), "now": fen_text(now),
                    "difference": fen_text(now - was) })
        })
        .collect();
    let total: Decimal = after.iter().map(|(_, v)| v).sum::<Decimal>()
        - before.iter().map(|(_, v)| v).sum::<Decimal>();
    let (en, zh) = if total > Decimal::ZERO {
        ("to pay", "应补税款")
    } else if total < Decimal::ZERO {
        ("to refund", "应退税款")
    } else {
        ("no change", "无变化")
    };
    json!({
        "previous_assessment": previous["assessment"],
        "per_tax": per_tax,
        "total": fen_text(total),
        "settlement": { "en": en, "zh": zh },
    })
}

#[cfg(test)]
mod kind_key_tests {
    use super::*;
    use tariff::RemedyKind;

    /// Every key spelt out in [`kind_key`] is the tax's English name in lower case with `_` for
    /// every other character: the keys recorded before they were spelt out.
    #[test]
    fn every_kind_key_is_its_english_name_in_snake_case() {
        let remedies = [
            RemedyKind::AntiDumping,
            RemedyKind::Countervailing,
            RemedyKind::Safeguard,
            RemedyKind::Countermeasure,
        ];
        let kinds = [
            TaxKind::CustomsDuty,
            TaxKind::ConsumptionTax,
            TaxKind::ImportVat,
            TaxKind::PostalArticlesTax,
        ]
        .into_iter()
        .chain(remedies.into_iter().map(TaxKind::TradeRemedy));
        for kind in kinds {
            let derived: String = kind
                .name_en()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            assert_eq!(kind_key(kind), derived, "{kind:?}");
        }
    }
}
