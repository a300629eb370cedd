//! Lists the caller passes in: watch lists of entities and the value-control table. Both are
//! indexed once when built; licence requirements come with each item (`RiskItem::licence_codes`).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{Action, DeclarationHeader, Purpose, RiskItem};

/// Who or what a watch-list entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// The trader (境内收发货人), by credit code.
    Importer,
    /// The declarant (申报单位), by credit code.
    Declarant,
    /// The overseas party (境外收发货人), by name.
    Seller,
    /// The consignor, by name.
    Consignor,
    /// The means of transport (vessel, flight), by its identification.
    TransportMeans,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Importer => "importer",
            EntityKind::Declarant => "declarant",
            EntityKind::Seller => "seller",
            EntityKind::Consignor => "consignor",
            EntityKind::TransportMeans => "transport_means",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            EntityKind::Importer => "收发货人",
            EntityKind::Declarant => "申报单位",
            EntityKind::Seller => "境外收发货人",
            EntityKind::Consignor => "发货人",
            EntityKind::TransportMeans => "运输工具",
        }
    }
}

/// One watch-list entry.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEntry {
    pub kind: EntityKind,
    /// Compared after [`normalise`]: case, surrounding and repeated spaces do not matter.
    pub value: String,
    pub reason_en: String,
    pub reason_zh: String,
    /// Inclusive validity; `None` is open.
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub action: Action,
    pub priority: u8,
    pub purpose: Purpose,
}

/// Upper case (ASCII), trimmed, inner whitespace collapsed to one space.
pub fn normalise(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

pub(crate) fn in_force(from: Option<NaiveDate>, to: Option<NaiveDate>, day: NaiveDate) -> bool {
    from.is_none_or(|f| f <= day) && to.is_none_or(|t| day <= t)
}

/// Watch-list entries indexed by kind and normalised value.
#[derive(Clone, Debug, Default)]
pub struct WatchList {
    entries: Vec<WatchEntry>,
    index: HashMap<(EntityKind, String), Vec<usize>>,
}

impl WatchList {
    pub fn new(entries: Vec<WatchEntry>) -> Self {
        let mut index: HashMap<(EntityKind, String), Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            index
                .entry((e.kind, normalise(&e.value)))
                .or_default()
                .push(i);
        }
        WatchList { entries, index }
    }

    pub fn entries(&self) -> &[WatchEntry] {
        &self.entries
    }

    /// The entries in force on `day` naming one of the declaration's parties, with the value named.
    pub fn hits<'a>(
        &'a self,
        header: &'a DeclarationHeader,
        day: NaiveDate,
    ) -> Vec<(&'a WatchEntry, &'a str)> {
        let mut hits = Vec::new();
        if self.index.is_empty() {
            return hits;
        }
        let parties: [(EntityKind, Option<&str>); 5] = [
            (EntityKind::Importer, Some(&header.trader)),
            (EntityKind::Declarant, Some(&header.declarant)),
            (EntityKind::Seller, Some(&header.overseas_party_name)),
            (EntityKind::Consignor, header.consignor.as_deref()),
            (
                EntityKind::TransportMeans,
                header.transport_means.as_deref(),
            ),
        ];
        for (kind, value) in parties {
            let Some(value) = value else { continue };
            if let Some(found) = self.index.get(&(kind, normalise(value))) {
                for &i in found {
                    let e = &self.entries[i];
                    if in_force(e.valid_from, e.valid_to, day) {
                        hits.push((e, value));
                    }
                }
            }
        }
        hits
    }
}

/// One line of the value-control table: the unit values (CNY per unit) accepted for goods under a
/// commodity-code prefix, from one origin or any.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueControlEntry {
    /// 2 to 10 digits.
    pub commodity_prefix: String,
    /// `None`: any origin.
    pub origin: Option<String>,
    /// The unit the values are per (a quantity of the item in this unit is used: the declared
    /// quantity or a statutory one); `None`: the declared quantity, whatever its unit.
    pub unit: Option<String>,
    pub min_unit_value_cny: Option<Decimal>,
    pub max_unit_value_cny: Option<Decimal>,
    /// The reference price, for `features.reference_price_ratio`.
    pub reference_unit_value_cny: Option<Decimal>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// The value-control table, indexed by prefix.
#[derive(Clone, Debug, Default)]
pub struct ValueControlTable {
    entries: Vec<ValueControlEntry>,
    by_prefix: HashMap<String, Vec<usize>>,
}

impl ValueControlTable {
    pub fn new(entries: Vec<ValueControlEntry>) -> Self {
        let mut by_prefix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_prefix
                .entry(e.commodity_prefix.clone())
                .or_default()
                .push(i);
        }
        ValueControlTable { entries, by_prefix }
    }

    pub fn entries(&self) -> &[ValueControlEntry] {
        &self.entries
    }

    /// The entry for an item on `day`: the longest prefix, an origin-specific entry before a
    /// generic one.
    pub fn lookup(&self, item: &RiskItem, day: NaiveDate) -> Option<&ValueControlEntry> {
        if self.by_prefix.is_empty() {
            return None;
        }
        let code = item.commodity_code.as_str();
        for len in (1..=code.len()).rev() {
            let Some(prefix) = code.get(..len) else {
                continue;
            };
            let Some(found) = self.by_prefix.get(prefix) else {
                continue;
            };
            let candidates = found
                .iter()
                .map(|&i| &self.entries[i])
                .filter(|e| in_force(e.valid_from, e.valid_to, day));
            let mut generic = None;
            for e in candidates {
                match &e.origin {
                    Some(o) if *o == item.origin_country => return Some(e),
                    None if generic.is_none() => generic = Some(e),
                    _ => {}
                }
            }
            if generic.is_some() {
                return generic;
            }
        }
        None
    }
}

/// The lists a selection consults.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    pub watch: WatchList,
    pub value_control: ValueControlTable,
}
