//! The input as CEL values, borrowed from the input (no string is copied): built once per
//! declaration (`declaration`, `party`, `credit`, `model_score`, the declaration-level `features`)
//! and once per goods item in an inner scope (`item`, `features`).

use std::collections::HashMap;

use cel::Context;
use cel::common::types::{CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::Val;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::features::ItemFeatures;
use crate::model::{RiskInput, RiskItem};

type Boxed<'v> = Box<dyn Val + 'v>;

fn string(v: &str) -> Boxed<'_> {
    Box::new(CelString::from(v))
}

fn double<'v>(v: Decimal) -> Boxed<'v> {
    Box::new(CelDouble::from(v.to_f64().unwrap_or(f64::NAN)))
}

fn int<'v>(v: i64) -> Boxed<'v> {
    Box::new(CelInt::from(v))
}

fn strings(values: &[String]) -> Boxed<'_> {
    let list: Vec<Boxed<'_>> = values.iter().map(|s| string(s)).collect();
    Box::new(CelList::from(list))
}

/// A variable's fields, under the variable's name (each must be in the catalogue).
struct MapBuilder<'v>(&'static str, HashMap<CelMapKey<'v>, Boxed<'v>>);

impl<'v> MapBuilder<'v> {
    fn with_capacity(root: &'static str, n: usize) -> Self {
        MapBuilder(root, HashMap::with_capacity(n))
    }
    fn put(&mut self, key: &'static str, value: Boxed<'v>) {
        // What a rule can read is what the catalogue lists (the analyst's editor shows it).
        debug_assert!(
            crate::catalogue::field(self.0, key).is_some(),
            "{}.{key} is bound but not in the catalogue",
            self.0
        );
        self.1.insert(CelMapKey::from(key), value);
    }
    /// An absent optional field is left out of the map: `has()` is false for it.
    fn opt(&mut self, key: &'static str, value: Option<Boxed<'v>>) {
        if let Some(value) = value {
            self.put(key, value);
        }
    }
    fn build(self) -> Boxed<'v> {
        Box::new(CelMap::from(self.1))
    }
}

fn history<'v>(m: &mut MapBuilder<'v>, input: &RiskInput) {
    m.put(
        "importer_declarations_365d",
        int(i64::from(input.history.declarations_365d)),
    );
    m.put(
        "importer_discrepancies",
        int(i64::from(input.history.discrepancies)),
    );
}

/// A root context with the declaration-level variables bound.
pub(crate) fn declaration_context<'v>(
    env: &std::sync::Arc<cel::Env>,
    input: &'v RiskInput,
) -> Context<'v, 'v> {
    let h = &input.declaration;
    let mut ctx = Context::with_env(env.clone());
    let mut d = MapBuilder::with_capacity("declaration", 24);
    d.put("direction", string(h.direction.as_str()));
    d.put("kind", string(h.kind.as_str()));
    d.put("procedure", string(&h.procedure));
    d.put("office_of_lodging", string(&h.office_of_lodging));
    d.put("office_of_entry_exit", string(&h.office_of_entry_exit));
    d.put("transport_mode", string(&h.transport_mode));
    d.opt("transport_means", h.transport_means.as_deref().map(string));
    d.put("trader", string(&h.trader));
    d.put("declarant", string(&h.declarant));
    d.put("overseas_party_name", string(&h.overseas_party_name));
    d.put("overseas_party_country", string(&h.overseas_party_country));
    d.opt("consignor", h.consignor.as_deref().map(string));
    d.put("dispatch_country", string(&h.dispatch_country));
    d.put("invoice_currency", string(&h.invoice_currency));
    d.put("invoice_amount", double(h.invoice_amount));
    d.opt("customs_value_cny", h.customs_value_cny.map(double));
    d.opt("payable_cny", h.payable_cny.map(double));
    d.put("item_count", int(input.items.len() as i64));
    d.put("documents", strings(&h.documents));
    ctx.add_variable_as_val("declaration", d.build());

    let mut p = MapBuilder::with_capacity("party", 8);
    p.put("trader", string(&h.trader));
    p.put("declarant", string(&h.declarant));
    p.put("seller", string(&h.overseas_party_name));
    p.put("seller_country", string(&h.overseas_party_country));
    p.opt("consignor", h.consignor.as_deref().map(string));
    p.opt("transport_means", h.transport_means.as_deref().map(string));
    ctx.add_variable_as_val("party", p.build());

    let mut f = MapBuilder::with_capacity("features", 2);
    history(&mut f, input);
    ctx.add_variable_as_val("features", f.build());

    ctx.add_variable_as_val("credit", string(input.credit.as_str()));
    let score: Boxed<'v> = match input.model_score {
        Some(s) => Box::new(CelDouble::from(s)),
        None => Box::new(CelNull),
    };
    ctx.add_variable_as_val("model_score", score);
    ctx
}

/// Binds `item` and the item's `features` in an inner scope.
pub(crate) fn bind_item<'v>(
    scope: &mut Context<'_, 'v>,
    input: &'v RiskInput,
    index: usize,
    item: &'v RiskItem,
    features: &ItemFeatures,
) {
    let mut m = MapBuilder::with_capacity("item", 16);
    m.put("index", int(index as i64));
    m.put("commodity_code", string(&item.commodity_code));
    m.put("description", string(&item.description));
    m.put("origin_country", string(&item.origin_country));
    m.put("quantity", double(item.quantity));
    m.put("unit", string(&item.unit));
    if let Some((q, u)) = &item.statutory_quantity_1 {
        m.put("statutory_quantity_1", double(*q));
        m.put("statutory_unit_1", string(u));
    }
    if let Some((q, u)) = &item.statutory_quantity_2 {
        m.put("statutory_quantity_2", double(*q));
        m.put("statutory_unit_2", string(u));
    }
    m.put("amount", double(item.amount));
    m.opt("customs_value_cny", item.customs_value_cny.map(double));
    m.opt("net_mass_kg", item.net_mass_kg.map(double));
    m.put("licence_codes", strings(&item.licence_codes));
    scope.add_variable_as_val("item", m.build());

    let mut f = MapBuilder::with_capacity("features", 8);
    f.opt("unit_value", features.unit_value.map(double));
    f.opt("unit_value_cny", features.unit_value_cny.map(double));
    f.opt("value_per_kg", features.value_per_kg.map(double));
    f.opt("value_per_kg_cny", features.value_per_kg_cny.map(double));
    f.opt(
        "reference_price_ratio",
        features.reference_price_ratio.map(double),
    );
    history(&mut f, input);
    scope.add_variable_as_val("features", f.build());
}

/// Whether a CEL result is `true`; `Err` with the type's name when it is not a bool.
pub(crate) fn as_bool(value: &cel::Value) -> Result<bool, String> {
    match value {
        cel::Value::Bool(b) => Ok(*b),
        other => Err(format!("{other:?}")),
    }
}
