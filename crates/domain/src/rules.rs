//! Cross-field rules: checks that need more than one field. They run on a declaration whose fields
//! each parsed, and report every problem found, never only the first.

use std::collections::HashSet;

use chrono::NaiveDate;
use reference::{CodeListKind, Lookup};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::codes::ParseContext;
use crate::declaration::{CBEC_PROCEDURES, Declaration, DeclarationKind, Direction};
use crate::problem::FieldError;

/// Allowed difference between the invoice total and the sum of the item amounts, per goods item:
/// each item amount may carry up to half a minor unit of rounding, so one minor unit per item is
/// generous enough for honest rounding and far too small to hide an under-declared item.
pub const INVOICE_ROUNDING_PER_ITEM: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Allowed difference between an item amount and quantity × unit price.
pub const ITEM_AMOUNT_ROUNDING: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Every cross-field problem of `declaration`, lodged on `ctx.on`.
pub fn check_declaration(declaration: &Declaration, ctx: &ParseContext<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_kind_requirements(declaration, &mut errors);
    check_direction(declaration, &mut errors);
    check_charges(declaration, &mut errors);
    check_amounts(declaration, ctx, &mut errors);
    check_masses(declaration, &mut errors);
    check_dates(declaration, ctx.on, &mut errors);
    check_statutory_units(declaration, ctx, &mut errors);
    check_documents(declaration, &mut errors);
    check_origin_proofs(declaration, &mut errors);
    check_preferences(declaration, &mut errors);
    check_cbec_order(declaration, &mut errors);
    check_postal_parcel(declaration, &mut errors);
    errors
}

fn is_summary(declaration: &Declaration) -> bool {
    matches!(declaration.kind, DeclarationKind::Summary)
}

/// A summary declaration may leave out the revenue elements; ordinary and full ones may not.
fn check_kind_requirements(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    if is_summary(declaration) {
        return;
    }
    if declaration.transaction_terms.is_none() {
        errors.push(FieldError::required("transaction_terms"));
    }
    if declaration.levy_nature.is_none() && declaration.direction == Direction::Import {
        errors.push(FieldError::required("levy_nature"));
    }
    if declaration.net_mass_kg.is_none() {
        errors.push(FieldError::required("net_mass_kg"));
    }
    for (idx, item) in declaration.items.iter().enumerate() {
        if item.unit_price.is_none() {
            errors.push(FieldError::required(format!("items[{idx}].unit_price")));
        }
        if item.levy_mode.is_none() {
            errors.push(FieldError::required(format!("items[{idx}].levy_mode")));
        }
    }
}

fn check_direction(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    match declaration.direction {
        Direction::Import if declaration.dispatch_country.is_none() => {
            errors.push(FieldError::required("dispatch_country"));
        }
        Direction::Export if declaration.destination_country.is_none() => {
            errors.push(FieldError::required("destination_country"));
        }
        _ => {}
    }
}

/// Freight and insurance must fit the transaction terms: the customs value is built on a CIF
/// basis, so freight must be declared when the price excludes it, and must not be added twice.
fn check_charges(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    let Some(terms) = &declaration.transaction_terms else {
        return;
    };
    if declaration.direction != Direction::Import || is_summary(declaration) {
        return;
    }
    if terms.buyer_pays_main_carriage() && declaration.freight.is_none() {
        errors.push(FieldError::not_allowed(
            "freight",
            &format!("it must be declared when the transaction terms are {terms}, which exclude the main carriage"),
            &format!("成交方式为 {terms} 时不含主运费，必须申报运费"),
        ));
    }
    if terms.includes_freight() && declaration.freight.is_some() {
        errors.push(FieldError::not_allowed(
            "freight",
            &format!("the price under {terms} already includes freight"),
            &format!("成交方式 {terms} 的价格已含运费"),
        ));
    }
    if terms.includes_insurance() && declaration.insurance.is_some() {
        errors.push(FieldError::not_allowed(
            "insurance",
            &format!("the price under {terms} already includes insurance"),
            &format!("成交方式 {terms} 的价格已含保险费"),
        ));
    }
}

fn currency_decimals(ctx: &ParseContext<'_>, currency: &str) -> u32 {
    match ctx
        .reference
        .lookup(CodeListKind::Currency, currency, ctx.on)
    {
        Lookup::InForce(entry) => entry.minor_unit.map_or(2, u32::from),
        _ => 2,
    }
}

fn check_amounts(declaration: &Declaration, ctx: &ParseContext<'_>, errors: &mut Vec<FieldError>) {
    let decimals = currency_decimals(ctx, declaration.invoice.currency.as_str());
    if declaration.invoice.amount.normalize().scale() > decimals {
        errors.push(FieldError::precision("invoice.amount", decimals));
    }
    let mut sum = Decimal::ZERO;
    for (idx, item) in declaration.items.iter().enumerate() {
        sum += item.amount;
        if item.amount.normalize().scale() > decimals {
            errors.push(FieldError::precision(
                format!("items[{idx}].amount"),
                decimals,
            ));
        }
        let Some(unit_price) = item.unit_price else {
            continue;
        };
        let computed = (item.quantity.value * unit_price)
            .round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
        if (computed - item.amount).abs() > ITEM_AMOUNT_ROUNDING {
            errors.push(FieldError::amount_mismatch(
                format!("items[{idx}].amount"),
                &item.amount.to_string(),
                &computed.to_string(),
            ));
        }
    }
    let tolerance = INVOICE_ROUNDING_PER_ITEM * Decimal::from(declaration.items.len());
    if (sum - declaration.invoice.amount).abs() > tolerance {
        errors.push(FieldError::sum_mismatch(
            "invoice.amount",
            &declaration.invoice.amount.to_string(),
            &sum.to_string(),
            &tolerance.to_string(),
        ));
    }
}

fn check_masses(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    errors.extend(mass_errors(
        declaration.gross_mass_kg,
        declaration.net_mass_kg,
    ));
}

/// Net mass must not exceed gross mass. Public so the boundary parser can run it even when other
/// fields of the declaration failed to parse: every problem comes in one answer.
pub fn mass_errors(gross_mass_kg: Decimal, net_mass_kg: Option<Decimal>) -> Option<FieldError> {
    let net = net_mass_kg?;
    (net > gross_mass_kg).then(|| {
        FieldError::mass_inconsistent("net_mass_kg", &net.to_string(), &gross_mass_kg.to_string())
    })
}

fn check_dates(declaration: &Declaration, lodged_on: NaiveDate, errors: &mut Vec<FieldError>) {
    let transport = &declaration.transport;
    errors.extend(date_errors(
        declaration.invoice.date,
        transport.departure_date,
        transport.arrival_date,
        lodged_on,
    ));
}

/// Dates in order: the invoice not after lodging, departure not after arrival. Public for the
/// same reason as `mass_errors`.
pub fn date_errors(
    invoice_date: Option<NaiveDate>,
    departure_date: Option<NaiveDate>,
    arrival_date: Option<NaiveDate>,
    lodged_on: NaiveDate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if invoice_date.is_some_and(|date| date > lodged_on) {
        errors.push(FieldError::date_order(
            "invoice.date",
            "the invoice date",
            "the lodging date",
            "发票日期",
            "申报日期",
        ));
    }
    if let (Some(departure), Some(arrival)) = (departure_date, arrival_date)
        && departure > arrival
    {
        errors.push(FieldError::date_order(
            "transport.departure_date",
            "the departure date",
            "the arrival date",
            "启运日期",
            "抵达日期",
        ));
    }
    errors
}

/// The first statutory quantity must be in the commodity's statutory unit when that unit is known.
fn check_statutory_units(
    declaration: &Declaration,
    ctx: &ParseContext<'_>,
    errors: &mut Vec<FieldError>,
) {
    for (idx, item) in declaration.items.iter().enumerate() {
        let Some(units) = ctx.reference.statutory_units(item.commodity_code.as_str()) else {
            continue;
        };
        let expected = units.join(" or ");
        match item.statutory_quantities.first() {
            Some(first) if !units.iter().any(|u| u == first.unit.as_str()) => {
                errors.push(FieldError::unit_mismatch(
                    format!("items[{idx}].statutory_quantities[0].unit"),
                    first.unit.as_str(),
                    &expected,
                ))
            }
            None if !is_summary(declaration)
                && !units.iter().any(|u| u == item.quantity.unit.as_str()) =>
            {
                errors.push(FieldError::unit_mismatch(
                    format!("items[{idx}].quantity.unit"),
                    item.quantity.unit.as_str(),
                    &format!("{expected} (or give statutory_quantities)"),
                ))
            }
            _ => {}
        }
    }
}

fn check_documents(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (idx, document) in declaration.documents.iter().enumerate() {
        if !seen.insert((document.document_type.as_str(), document.number.as_str())) {
            errors.push(FieldError::duplicate(
                format!("documents[{idx}]"),
                "a document",
                "随附单证",
            ));
        }
    }
}

/// A proof number appears once among the declaration's proofs, so a preference names one proof.
fn check_origin_proofs(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (idx, proof) in declaration.origin_proofs.iter().enumerate() {
        if !seen.insert(proof.number.as_str()) {
            errors.push(FieldError::duplicate(
                format!("origin_proofs[{idx}].number"),
                "a proof of origin number",
                "原产地证明编号",
            ));
        }
    }
}

/// Each claimed preference must point at a good on one of the declaration's proofs: a proof with
/// that number, issued under the agreement claimed, holding the item named.
///
/// Only these structural and referential faults refuse the lodging. Whether the proof is good for
/// the preference (HS6 of the proof's good against the item's commodity code, country of origin,
/// quantity, dates, the origin criterion, direct consignment, ...) is for the origin engine at
/// assessment (`tariff::origin::check_proof`): a declaration that claims a preference it cannot
/// have is assessed at the rate it can have, with the reason, not refused.
fn check_preferences(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    for (idx, item) in declaration.items.iter().enumerate() {
        let Some(preference) = &item.preference else {
            continue;
        };
        let number = preference.proof_number.as_str();
        let agreement = preference.agreement;
        let same_number = || {
            declaration
                .origin_proofs
                .iter()
                .filter(move |p| p.number == number)
        };
        let Some(proof) = same_number().find(|p| p.agreement == agreement) else {
            match same_number().next() {
                Some(other) => errors.push(FieldError::not_allowed(
                    format!("items[{idx}].preference.agreement"),
                    &format!(
                        "the claim is under {agreement} but proof of origin {number} is issued under {}",
                        other.agreement
                    ),
                    &format!(
                        "享惠协定为 {agreement}，但原产地证明 {number} 属于 {}",
                        other.agreement
                    ),
                )),
                None => errors.push(FieldError::not_allowed(
                    format!("items[{idx}].preference.proof_number"),
                    &format!("no proof of origin numbered {number} is declared in origin_proofs"),
                    &format!("原产地证明（origin_proofs）中没有编号为 {number} 的证明"),
                )),
            }
            continue;
        };
        let count = proof.items.len();
        let position = preference.proof_item as usize;
        if position == 0 || position > count {
            errors.push(FieldError::out_of_range(
                format!("items[{idx}].preference.proof_item"),
                &format!("from 1 to {count}, the goods on proof of origin {number}"),
                &format!("在 1 到 {count} 之间（原产地证明 {number} 的商品项数）"),
            ));
        }
    }
}

/// A cross-border e-commerce retail import (a procedure of `CBEC_PROCEDURES`) carries the order
/// it is imported for, and only such an import does (digest §2.7).
fn check_cbec_order(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    let procedure = declaration.procedure.as_str();
    let cbec_procedure = CBEC_PROCEDURES.contains(&procedure);
    let import = declaration.direction == Direction::Import;
    match (&declaration.cbec_order, import, cbec_procedure) {
        (None, true, true) => errors.push(FieldError::required("cbec_order")),
        (Some(_), false, _) => errors.push(FieldError::not_allowed(
            "cbec_order",
            "a cross-border e-commerce retail order is declared only on an import",
            "跨境电商零售订单只在进口报关单上申报",
        )),
        (Some(_), true, false) => {
            let codes = CBEC_PROCEDURES.join(", ");
            errors.push(FieldError::not_allowed(
                "cbec_order",
                &format!(
                    "a cross-border e-commerce retail order goes with the procedures {codes}, not {procedure}"
                ),
                &format!("跨境电商零售订单只适用于监管方式 {codes}，不适用于 {procedure}"),
            ))
        }
        _ => {}
    }
}

/// A postal parcel of personal articles is an import of articles, not goods under a CBEC order
/// or a CBEC procedure (digest §2.8: CBEC goods without the three documents fall back to this
/// regime, but then they are declared as a parcel, not as an order).
fn check_postal_parcel(declaration: &Declaration, errors: &mut Vec<FieldError>) {
    if declaration.postal_parcel.is_none() {
        return;
    }
    let procedure = declaration.procedure.as_str();
    if declaration.direction != Direction::Import {
        errors.push(FieldError::not_allowed(
            "postal_parcel",
            "a parcel of personal articles is declared only on an import",
            "进境邮递物品只在进口报关单上申报",
        ));
    } else if declaration.cbec_order.is_some() {
        errors.push(FieldError::not_allowed(
            "postal_parcel",
            "a declaration carries a cross-border e-commerce order or a parcel of personal articles, not both",
            "跨境电商零售订单与进境邮递物品不能在同一报关单上申报",
        ));
    } else if CBEC_PROCEDURES.contains(&procedure) {
        errors.push(FieldError::not_allowed(
            "postal_parcel",
            &format!(
                "personal articles are not declared under the cross-border e-commerce procedure {procedure}"
            ),
            &format!("个人物品不适用跨境电商监管方式 {procedure}"),
        ));
    }
}

/// The full declaration must agree with the summary declaration it completes on what the goods were
/// released against: direction, trader, transport document, office, and each item's HS subheading
/// and origin.
pub fn check_full_against_summary(full: &Declaration, summary: &Declaration) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut compare = |path: &str, summary_value: &str, full_value: &str| {
        if summary_value != full_value {
            errors.push(FieldError::summary_mismatch(
                path,
                summary_value,
                full_value,
            ));
        }
    };
    let direction = |d: &Declaration| {
        if d.direction == Direction::Import {
            "import"
        } else {
            "export"
        }
    };
    compare("direction", direction(summary), direction(full));
    compare(
        "trader.credit_code",
        summary.trader.credit_code.as_str(),
        full.trader.credit_code.as_str(),
    );
    compare(
        "transport.document.number",
        &summary.transport.document.number,
        &full.transport.document.number,
    );
    compare(
        "office_of_entry_exit",
        summary.office_of_entry_exit.as_str(),
        full.office_of_entry_exit.as_str(),
    );
    compare(
        "items",
        &summary.items.len().to_string(),
        &full.items.len().to_string(),
    );
    for (idx, (summary_item, full_item)) in summary.items.iter().zip(&full.items).enumerate() {
        compare(
            &format!("items[{idx}].commodity_code"),
            summary_item.commodity_code.hs6(),
            full_item.commodity_code.hs6(),
        );
        compare(
            &format!("items[{idx}].origin_country"),
            summary_item.origin_country.as_str(),
            full_item.origin_country.as_str(),
        );
    }
    errors
}
