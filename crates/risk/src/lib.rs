//! Risk targeting (风险布控): the pure core of selectivity.
//!
//! No I/O, no async, no serialisation, no clock: the declaration's data, the importer's history,
//! the rules, the lists, the day and the random seed are passed in, so an auditor who has them
//! replays a selection exactly.
//!
//! * `model`: the input ([`RiskInput`]), filled by the caller from a parsed declaration and its
//!   assessment.
//! * `rule`: targeting rules written in CEL, validated and compiled at save time ([`compile`]):
//!   limits, whitelisted names (documented there), a static type check, errors with positions.
//! * `index`: [`RuleSet`], rules indexed by commodity prefix, trader, office and origin, so a
//!   declaration evaluates only the rules that can match it.
//! * `lists`: watch lists and the value-control table; licence requirements come with the items.
//! * `features`: unit values, value per kg, declared vs reference price.
//! * `select`: [`select`], the outcome ([`Selection`]): reasons, random selection (双随机), lane.
//! * `catalogue` and `reference`: every name a rule may use, and the analysts' reference rendered
//!   from it (`docs/rule-reference.md`).
//! * `draw`: the reproducible draws (SplitMix64, specified in full).
//! * `bench`: generated rules and declarations for `customs bench`.
//!
//! CEL is the `cel` crate (cel-rust); see `rule` for what this crate adds to it.

pub mod bench;
pub mod catalogue;
pub mod draw;
pub mod features;
pub mod index;
pub mod lists;
pub mod model;
pub mod reference;
pub mod rule;
pub mod select;
mod values;

pub use draw::RandomDraw;
pub use features::{ControlledValue, ItemFeatures, item_features};
pub use index::{IndexSummary, RuleSet};
pub use lists::{EntityKind, Lists, ValueControlEntry, ValueControlTable, WatchEntry, WatchList};
pub use model::{
    Action, CreditLevel, DeclarationHeader, DeclarationKind, Direction, History, ModelVerdict,
    Purpose, RiskInput, RiskItem,
};
pub use rule::{
    CompiledRule, Discriminators, EXPRESSION_COST_MAX, EXPRESSION_DEPTH_MAX, EXPRESSION_LENGTH_MAX,
    EXPRESSION_NODES_MAX, Field, LIST_FIELD_LENGTH_BOUND, LIST_LITERAL_LENGTH_MAX, Position,
    REASON_LENGTH_MAX, RULE_ID_LENGTH_MAX, RULE_PROBLEMS_MAX, RuleDefinition, RuleProblem,
    SCOPE_LIST_LENGTH_MAX, SUGGESTION_DISTANCE_MAX, Scope, closest, compile, compile_within,
};
pub use select::{
    CreditModifier, CreditModifiers, EvaluationError, EvaluationStats, Lane, ModelSelection,
    RandomCheck, RandomRate, Reason, ReasonSource, Selection, SelectionConfig, select,
};

#[cfg(test)]
mod tests;
