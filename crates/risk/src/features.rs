//! Features computed per goods item, which rules read as `features.*`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::lists::{ValueControlEntry, ValueControlTable};
use crate::model::{DeclarationHeader, RiskItem};

/// The computed features of one item. `None` where a figure is missing or a quantity is zero.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemFeatures {
    /// Amount / declared quantity, in the invoice currency.
    pub unit_value: Option<Decimal>,
    /// Value in CNY / declared quantity. The CNY value is the item's customs value, or its amount
    /// when the invoice is in CNY.
    pub unit_value_cny: Option<Decimal>,
    /// Amount / net mass, in the invoice currency.
    pub value_per_kg: Option<Decimal>,
    /// Value in CNY / net mass.
    pub value_per_kg_cny: Option<Decimal>,
    /// The item's unit value in CNY, in the unit of its value-control entry, divided by the entry's
    /// reference unit value.
    pub reference_price_ratio: Option<Decimal>,
}

/// The value-control entry that applies to an item and the item's unit value in its unit.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlledValue<'a> {
    pub entry: &'a ValueControlEntry,
    pub unit_value_cny: Decimal,
    pub unit: String,
}

/// The item's value in CNY, when known.
pub fn value_cny(header: &DeclarationHeader, item: &RiskItem) -> Option<Decimal> {
    item.customs_value_cny
        .or_else(|| (header.invoice_currency == "CNY").then_some(item.amount))
}

fn per(value: Option<Decimal>, quantity: Option<Decimal>) -> Option<Decimal> {
    let (value, quantity) = (value?, quantity?);
    if quantity.is_zero() {
        return None;
    }
    value.checked_div(quantity).map(|v| v.round_dp(6))
}

/// The quantity of an item in `unit`: the declared quantity or a statutory one.
fn quantity_in(item: &RiskItem, unit: &str) -> Option<Decimal> {
    if item.unit == unit {
        return Some(item.quantity);
    }
    [&item.statutory_quantity_1, &item.statutory_quantity_2]
        .into_iter()
        .flatten()
        .find(|(_, u)| u == unit)
        .map(|(q, _)| *q)
}

/// The features of an item, and its value-control figure on `day` if an entry applies.
pub fn item_features<'a>(
    header: &DeclarationHeader,
    item: &RiskItem,
    table: &'a ValueControlTable,
    day: NaiveDate,
) -> (ItemFeatures, Option<ControlledValue<'a>>) {
    let cny = value_cny(header, item);
    let mut features = ItemFeatures {
        unit_value: per(Some(item.amount), Some(item.quantity)),
        unit_value_cny: per(cny, Some(item.quantity)),
        value_per_kg: per(Some(item.amount), item.net_mass_kg),
        value_per_kg_cny: per(cny, item.net_mass_kg),
        reference_price_ratio: None,
    };
    let controlled = table.lookup(item, day).and_then(|entry| {
        let unit = entry.unit.clone().unwrap_or_else(|| item.unit.clone());
        let unit_value_cny = per(cny, quantity_in(item, &unit))?;
        Some(ControlledValue {
            entry,
            unit_value_cny,
            unit,
        })
    });
    if let Some(c) = &controlled {
        features.reference_price_ratio =
            per(Some(c.unit_value_cny), c.entry.reference_unit_value_cny);
    }
    (features, controlled)
}
