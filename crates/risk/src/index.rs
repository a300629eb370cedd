//! The rule set and its index: with thousands of rules, a declaration evaluates only the rules
//! that can match it.
//!
//! Each rule is filed under one dimension, the most selective it has, in this order:
//! 1. the commodity-code prefix of its top-level conjunction (2 to 10 characters);
//! 2. the trader it names (`declaration.trader == ...`, `party.trader == ...`, or `in [...]`);
//! 3. the office of lodging it names (`declaration.office_of_lodging == ...` or `in [...]`);
//! 4. the offices of its scope (office of lodging or of entry/exit);
//! 5. the origins it names (`item.origin_country == ...` or `in [...]`);
//! 6. none: the rule is a candidate for every declaration.
//!
//! A declaration's candidates are the rules filed under each prefix of each item's code, under its
//! trader, its offices and its items' origins, and the unfiled ones. A candidate is then filtered by
//! its scope (validity, direction, kind and purpose, procedure, offices) and all its discriminators,
//! per item for the commodity prefix and origin, before any CEL is evaluated. What CEL then
//! evaluates is the rule's residual: its conjunction without the terms those checks imply (see
//! `CompiledRule`); a rule with nothing left matches without evaluating.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::lists::in_force;
use crate::model::{RiskInput, RiskItem};
use crate::rule::CompiledRule;

/// Compiled rules with their index. Build it once per set of active rules and share it (it is
/// `Send + Sync`).
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) env: Arc<cel::Env>,
    by_prefix: HashMap<String, Vec<u32>>,
    by_trader: HashMap<String, Vec<u32>>,
    by_office: HashMap<String, Vec<u32>>,
    by_scope_office: HashMap<String, Vec<u32>>,
    by_origin: HashMap<String, Vec<u32>>,
    unindexed: Vec<u32>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("by_prefix", &self.by_prefix.len())
            .field("by_trader", &self.by_trader.len())
            .field("by_office", &self.by_office.len())
            .field("by_scope_office", &self.by_scope_office.len())
            .field("by_origin", &self.by_origin.len())
            .field("unindexed", &self.unindexed.len())
            .finish()
    }
}

/// The number of rules filed under each dimension (a rule filed under several values of one
/// dimension counts once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSummary {
    pub by_prefix: usize,
    pub by_trader: usize,
    pub by_office: usize,
    pub by_scope_office: usize,
    pub by_origin: usize,
    pub unindexed: usize,
}

impl RuleSet {
    pub fn build(rules: Vec<CompiledRule>) -> RuleSet {
        let mut set = RuleSet {
            rules: Vec::new(),
            // The standard environment is built once per rule set: building it per evaluation is
            // what makes a fresh `Context::default()` 30x slower.
            env: Arc::new(cel::Env::stdlib()),
            by_prefix: HashMap::new(),
            by_trader: HashMap::new(),
            by_office: HashMap::new(),
            by_scope_office: HashMap::new(),
            by_origin: HashMap::new(),
            unindexed: Vec::new(),
        };
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            let d = &rule.discriminators;
            let file = |map: &mut HashMap<String, Vec<u32>>, keys: &[String]| {
                for k in keys {
                    let bucket = map.entry(k.clone()).or_default();
                    if bucket.last() != Some(&i) {
                        bucket.push(i);
                    }
                }
            };
            match d.commodity_prefix.as_ref() {
                Some(p) if (2..=10).contains(&p.len()) => {
                    file(&mut set.by_prefix, std::slice::from_ref(p));
                    continue;
                }
                _ => {}
            }
            if let Some(t) = &d.traders {
                file(&mut set.by_trader, t);
            } else if let Some(o) = &d.offices_of_lodging {
                file(&mut set.by_office, o);
            } else if !rule.definition.scope.offices.is_empty() {
                file(&mut set.by_scope_office, &rule.definition.scope.offices);
            } else if let Some(o) = &d.origins {
                file(&mut set.by_origin, o);
            } else {
                set.unindexed.push(i);
            }
        }
        set.rules = rules;
        set
    }

    /// The same rules, every one a candidate for every declaration: what the index must agree with.
    #[cfg(test)]
    pub(crate) fn without_index(mut self) -> RuleSet {
        self.by_prefix.clear();
        self.by_trader.clear();
        self.by_office.clear();
        self.by_scope_office.clear();
        self.by_origin.clear();
        self.unindexed = (0..self.rules.len() as u32).collect();
        self
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn summary(&self) -> IndexSummary {
        let count = |m: &HashMap<String, Vec<u32>>| {
            let mut all: Vec<u32> = m.values().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            all.len()
        };
        IndexSummary {
            by_prefix: count(&self.by_prefix),
            by_trader: count(&self.by_trader),
            by_office: count(&self.by_office),
            by_scope_office: count(&self.by_scope_office),
            by_origin: count(&self.by_origin),
            unindexed: self.unindexed.len(),
        }
    }

    /// The candidate rules of a declaration, by index, sorted and without repeats.
    pub(crate) fn candidates(&self, input: &RiskInput) -> Vec<u32> {
        let h = &input.declaration;
        let mut out: Vec<u32> = Vec::new();
        let mut add = |v: Option<&Vec<u32>>| {
            if let Some(v) = v {
                out.extend_from_slice(v);
            }
        };
        if !self.by_prefix.is_empty() {
            for item in &input.items {
                let code = item.commodity_code.as_str();
                for len in 2..=code.len().min(10) {
                    if let Some(prefix) = code.get(..len) {
                        add(self.by_prefix.get(prefix));
                    }
                }
            }
        }
        add(self.by_trader.get(h.trader.as_str()));
        add(self.by_office.get(h.office_of_lodging.as_str()));
        add(self.by_scope_office.get(h.office_of_lodging.as_str()));
        if h.office_of_entry_exit != h.office_of_lodging {
            add(self.by_scope_office.get(h.office_of_entry_exit.as_str()));
        }
        if !self.by_origin.is_empty() {
            for item in &input.items {
                add(self.by_origin.get(item.origin_country.as_str()));
            }
        }
        out.extend_from_slice(&self.unindexed);
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether a rule's scope and declaration-level discriminators admit the declaration on `day`.
pub(crate) fn admits_declaration(rule: &CompiledRule, input: &RiskInput, day: NaiveDate) -> bool {
    let h = &input.declaration;
    let s = &rule.definition.scope;
    if !in_force(s.valid_from, s.valid_to, day)
        || !rule.definition.purpose.applies_to(h.kind)
        || s.direction.is_some_and(|d| d != h.direction)
        || (!s.kinds.is_empty() && !s.kinds.contains(&h.kind))
        || (!s.procedures.is_empty() && !s.procedures.contains(&h.procedure))
        || (!s.offices.is_empty()
            && !s.offices.contains(&h.office_of_lodging)
            && !s.offices.contains(&h.office_of_entry_exit))
    {
        return false;
    }
    let d = &rule.discriminators;
    d.offices_of_lodging
        .as_ref()
        .is_none_or(|o| o.contains(&h.office_of_lodging))
        && d.traders.as_ref().is_none_or(|t| t.contains(&h.trader))
        && d.conditions.iter().all(|(field, values)| {
            let value = field.value(input);
            values.iter().any(|v| v == value)
        })
}

/// Whether a rule's item-level discriminators admit the item.
pub(crate) fn admits_item(rule: &CompiledRule, item: &RiskItem) -> bool {
    let d = &rule.discriminators;
    d.commodity_prefix
        .as_ref()
        .is_none_or(|p| item.commodity_code.starts_with(p.as_str()))
        && d.origins
            .as_ref()
            .is_none_or(|o| o.contains(&item.origin_country))
}
