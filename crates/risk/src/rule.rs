//! Targeting rules (布控规则): their definition, and their compilation, which validates every field
//! and the CEL expression at save time.
//!
//! Compilation parses the expression with the `cel` crate, then walks the AST to enforce what the
//! crate does not: the limits below (upstream has no cost limit), a whitelist of names, members and
//! functions, a static type check (the expression must be boolean; no comparison of a string with a
//! number, which CEL evaluates to a silent `false`; no `int` ⊕ `double` arithmetic, which CEL refuses
//! at run time), and only the `exists` / `all` macros, over a list field or a list literal.
//!
//! # Names a rule sees
//!
//! A rule is evaluated once per goods item, with:
//!
//! | name | fields |
//! | --- | --- |
//! | `declaration` | `direction` ("import"/"export"), `kind` ("summary"/"full"/"ordinary"), `procedure`, `office_of_lodging`, `office_of_entry_exit`, `transport_mode`, `transport_means`?, `trader`, `declarant`, `overseas_party_name`, `overseas_party_country`, `consignor`?, `dispatch_country`, `invoice_currency`, `invoice_amount` (double), `customs_value_cny`? (double), `payable_cny`? (double), `item_count` (int), `documents` (list of document type codes) |
//! | `item` | `index` (int, 0-based), `commodity_code`, `description`, `origin_country`, `quantity` (double), `unit`, `statutory_quantity_1`?, `statutory_unit_1`?, `statutory_quantity_2`?, `statutory_unit_2`?, `amount` (double, invoice currency), `customs_value_cny`?, `net_mass_kg`?, `licence_codes` (list) |
//! | `features` | `unit_value`? (amount / quantity), `unit_value_cny`?, `value_per_kg`?, `value_per_kg_cny`?, `reference_price_ratio`? (declared / reference unit value CNY, from the value-control table), `importer_declarations_365d` (int), `importer_discrepancies` (int) |
//! | `party` | `trader`, `declarant`, `seller` (the overseas party), `seller_country`, `consignor`?, `transport_means`? |
//! | `credit` | "advanced_certified", "general_certified", "general" or "untrustworthy" |
//! | `model_score` | double in 0..=1, or `null` when there is no score |
//!
//! A field marked `?` is absent when unknown: test it with `has(item.net_mass_kg)` first, or the
//! evaluation fails (recorded, no match). Likewise compare `model_score != null && model_score > 0.8`.
//! Amounts are doubles: write `item.amount > 10000.0` (an `int` literal is fine in a comparison,
//! not in arithmetic).

use std::collections::HashSet;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SourceInfo};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::model::{Action, DeclarationKind, Direction, Purpose};

/// Longest expression source, in bytes.
pub const EXPRESSION_LENGTH_MAX: usize = 4096;
/// Deepest parsed AST (the root is at depth 1; macros count as they expand).
pub const EXPRESSION_DEPTH_MAX: usize = 32;
/// Most elements of one list literal.
pub const LIST_LITERAL_LENGTH_MAX: usize = 256;
/// Most AST nodes in one expression.
pub const EXPRESSION_NODES_MAX: usize = 1024;
/// Highest static cost: one per node, a macro's body counted once per element of its list (a list
/// field counted as [`LIST_FIELD_LENGTH_BOUND`] elements).
pub const EXPRESSION_COST_MAX: u64 = 20_000;
/// The number of elements a list field (`declaration.documents`, `item.licence_codes`) is assumed
/// to have in the cost estimate.
pub const LIST_FIELD_LENGTH_BOUND: u64 = 32;
/// Longest rule id, in bytes.
pub const RULE_ID_LENGTH_MAX: usize = 64;
/// Longest reason text, in characters.
pub const REASON_LENGTH_MAX: usize = 1000;
/// Most entries in one scope list (offices, procedures).
pub const SCOPE_LIST_LENGTH_MAX: usize = 256;
/// Most problems reported for one rule. Beyond it one more problem (`too_many_problems`) says
/// how many were left out: a rule with that many is better rewritten than read problem by problem,
/// and the answer stays small.
pub const RULE_PROBLEMS_MAX: usize = 50;
/// Largest edit distance (Damerau–Levenshtein, case folded) at which a misspelt name is answered
/// with "did you mean"; besides, the distance must be at most half the name's length, so a short
/// name is not "corrected" into an unrelated one.
pub const SUGGESTION_DISTANCE_MAX: usize = 2;
/// The bound of the lexical nesting estimate checked before parsing (see `nesting_beyond`).
const PARSE_NESTING_MAX: usize = 4 * EXPRESSION_DEPTH_MAX;
/// The parser's own recursion limit: guards its stack before the AST exists (a deeper source
/// nesting is reported as too deep).
const PARSER_RECURSION_MAX: u16 = 2 * EXPRESSION_DEPTH_MAX as u16;

/// Where a rule applies. An empty list means every value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// Customs offices (4-digit codes): the declaration's office of lodging or of entry/exit.
    pub offices: Vec<String>,
    /// Customs procedures (监管方式).
    pub procedures: Vec<String>,
    pub direction: Option<Direction>,
    pub kinds: Vec<DeclarationKind>,
    /// First day in force, inclusive.
    pub valid_from: Option<NaiveDate>,
    /// Last day in force, inclusive.
    pub valid_to: Option<NaiveDate>,
}

/// A rule as an analyst writes it (布控指令). Owner, approval and lifecycle live in the service.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDefinition {
    pub id: String,
    pub version: u32,
    pub scope: Scope,
    pub purpose: Purpose,
    pub action: Action,
    /// The share of matching declarations actually selected, in 0..=1 (ASYCUDA's "expected rate").
    pub expected_selection_rate: Decimal,
    /// Higher first when reasons are ordered.
    pub priority: u8,
    pub reason_en: String,
    pub reason_zh: String,
    pub expression: String,
}

/// A 1-based position in the expression; the column counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// One thing wrong with a rule definition.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleProblem {
    /// The field: `expression`, `scope.offices[2]`, `expected_selection_rate`, ...
    pub field: String,
    /// A stable code, e.g. `unknown_name`.
    pub code: &'static str,
    /// For an expression problem, where it is.
    pub position: Option<Position>,
    pub en: String,
    pub zh: String,
    /// For a name, member or function not in the catalogue: the closest one that is ("did you
    /// mean"), as it would be written (`item.origin_country`). Also in `en` and `zh`.
    pub suggestion: Option<String>,
}

impl RuleProblem {
    fn new(field: impl Into<String>, code: &'static str, en: String, zh: String) -> Self {
        RuleProblem {
            field: field.into(),
            code,
            position: None,
            en,
            zh,
            suggestion: None,
        }
    }
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.field)?;
        if let Some(p) = self.position {
            write!(f, " {}:{}", p.line, p.column)?;
        }
        write!(f, ": {} ({}) / {}", self.en, self.code, self.zh)
    }
}

/// The conditions of a rule's top-level conjunction that the index uses. Each is necessary for a
/// match: a declaration (or item) that fails one cannot match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Discriminators {
    /// `item.commodity_code.startsWith(p)` or `item.commodity_code == p` (the longest one).
    pub commodity_prefix: Option<String>,
    /// `item.origin_country == c` or `item.origin_country in [...]`.
    pub origins: Option<Vec<String>>,
    /// `declaration.office_of_lodging == o` or `... in [...]`.
    pub offices_of_lodging: Option<Vec<String>>,
    /// `declaration.trader == t`, `party.trader == t` or `... in [...]`.
    pub traders: Option<Vec<String>>,
    /// Other declaration-level codes compared with literals (`declaration.transport_mode == "2"`,
    /// `credit in [...]`): checked before any CEL is evaluated, not indexed.
    pub conditions: Vec<(Field, Vec<String>)>,
}

/// A declaration-level code a discriminator can test without CEL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Direction,
    Kind,
    Procedure,
    OfficeOfEntryExit,
    TransportMode,
    Declarant,
    InvoiceCurrency,
    DispatchCountry,
    OverseasPartyCountry,
    Credit,
}

impl Field {
    fn from_path(root: &str, field: &str) -> Option<Field> {
        Some(match (root, field) {
            ("declaration", "direction") => Field::Direction,
            ("declaration", "kind") => Field::Kind,
            ("declaration", "procedure") => Field::Procedure,
            ("declaration", "office_of_entry_exit") => Field::OfficeOfEntryExit,
            ("declaration", "transport_mode") => Field::TransportMode,
            ("declaration" | "party", "declarant") => Field::Declarant,
            ("declaration", "invoice_currency") => Field::InvoiceCurrency,
            ("declaration", "dispatch_country") => Field::DispatchCountry,
            ("declaration", "overseas_party_country") | ("party", "seller_country") => {
                Field::OverseasPartyCountry
            }
            ("credit", "") => Field::Credit,
            _ => return None,
        })
    }

    /// The value of the field in a declaration, as rules see it.
    pub fn value(self, input: &crate::model::RiskInput) -> &str {
        let h = &input.declaration;
        match self {
            Field::Direction => h.direction.as_str(),
            Field::Kind => h.kind.as_str(),
            Field::Procedure => &h.procedure,
            Field::OfficeOfEntryExit => &h.office_of_entry_exit,
            Field::TransportMode => &h.transport_mode,
            Field::Declarant => &h.declarant,
            Field::InvoiceCurrency => &h.invoice_currency,
            Field::DispatchCountry => &h.dispatch_country,
            Field::OverseasPartyCountry => &h.overseas_party_country,
            Field::Credit => input.credit.as_str(),
        }
    }
}

/// A validated rule, ready to be indexed and evaluated.
#[derive(Debug)]
pub struct CompiledRule {
    pub(crate) definition: RuleDefinition,
    /// What is left to evaluate once the discriminators passed: the conjunction without the terms
    /// they imply; `None` when nothing is left (the rule matches whenever they pass).
    pub(crate) expr: Option<IdedExpr>,
    pub(crate) per_item: bool,
    pub(crate) discriminators: Discriminators,
    pub(crate) rate: f64,
    pub(crate) nodes: usize,
    pub(crate) cost: u64,
    pub(crate) names: Vec<String>,
}

impl CompiledRule {
    /// The catalogue names the expression reads, sorted, each once: fields as written
    /// (`item.origin_country`), variables without fields by name (`credit`, `model_score`). A
    /// caller evaluating the rule over data that lacks some of them (labelled history) says so
    /// instead of letting them read as empty.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn definition(&self) -> &RuleDefinition {
        &self.definition
    }
    /// Whether the expression reads the goods item (`item`, or an item's feature); if not it is
    /// evaluated once per declaration.
    pub fn per_item(&self) -> bool {
        self.per_item
    }
    pub fn discriminators(&self) -> &Discriminators {
        &self.discriminators
    }
    /// The number of AST nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }
    /// The static cost bound (see [`EXPRESSION_COST_MAX`]).
    pub fn cost(&self) -> u64 {
        self.cost
    }
}

/// Validates a definition and compiles its expression; every problem is reported at once (up to
/// [`RULE_PROBLEMS_MAX`], then one saying how many more there are), the definition's fields first,
/// then the expression's in the order of the source.
pub fn compile(definition: RuleDefinition) -> Result<CompiledRule, Vec<RuleProblem>> {
    compile_within(definition, RULE_PROBLEMS_MAX)
}

/// [`compile`] reporting at most `problems_max` problems (then one saying how many more): for a
/// caller that reports problems of its own with the rule's, within [`RULE_PROBLEMS_MAX`] in all.
pub fn compile_within(
    definition: RuleDefinition,
    problems_max: usize,
) -> Result<CompiledRule, Vec<RuleProblem>> {
    let mut problems = check_fields(&definition);
    let compiled = compile_expression(&definition.expression);
    let compiled = match compiled {
        Ok(c) => Some(c),
        Err(mut p) => {
            problems.append(&mut p);
            None
        }
    };
    let problems = at_most(problems, problems_max);
    match compiled {
        Some(c) if problems.is_empty() => {
            let rate = definition.expected_selection_rate.to_f64().unwrap_or(1.0);
            Ok(CompiledRule {
                definition,
                expr: c.expr,
                per_item: c.per_item,
                discriminators: c.discriminators,
                rate,
                nodes: c.nodes,
                cost: c.cost,
                names: c.names,
            })
        }
        _ => Err(problems),
    }
}

/// The first `max` problems, and one more saying how many were left out, if any were.
fn at_most(mut problems: Vec<RuleProblem>, max: usize) -> Vec<RuleProblem> {
    if problems.len() > max {
        let left_out = problems.len() - max;
        // Named by the field of the first problem left out: where reading should resume.
        let field = problems[max].field.clone();
        problems.truncate(max);
        problems.push(RuleProblem::new(
            field,
            "too_many_problems",
            format!("{left_out} more problem(s) not shown; at most {max} are reported at once"),
            format!("另有 {left_out} 个问题未列出；一次最多报告 {max} 个"),
        ));
    }
    problems
}

/// The candidate closest to `name` ("did you mean"), if one is close enough: the smallest
/// Damerau–Levenshtein distance, case folded, at most [`SUGGESTION_DISTANCE_MAX`] and at most half
/// the name's length (ties go to the first in the catalogue's order); failing that, the one
/// candidate that contains the name or that the name contains, with at least 4 characters in
/// common (`origin` → `origin_country`).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let folded = name.to_lowercase();
    let length = folded.chars().count();
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != name).collect();
    let near = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&folded, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= SUGGESTION_DISTANCE_MAX && 2 * d <= length)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    if near.is_some() || length < 4 {
        return near;
    }
    let mut containing = candidates.iter().filter(|c| {
        let c = c.to_lowercase();
        c.contains(&folded) || folded.contains(&c) && c.chars().count() >= 4
    });
    match (containing.next(), containing.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn check_code_list(field: &str, values: &[String], problems: &mut Vec<RuleProblem>) {
    if values.len() > SCOPE_LIST_LENGTH_MAX {
        problems.push(RuleProblem::new(
            field,
            "too_many",
            format!("at most {SCOPE_LIST_LENGTH_MAX} entries"),
            format!("最多 {SCOPE_LIST_LENGTH_MAX} 项"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        let ok = !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            problems.push(RuleProblem::new(
                format!("{field}[{i}]"),
                "invalid_code",
                format!("`{v}` is not a code (1 to 16 letters or digits)"),
                format!("`{v}` 不是有效代码（1 至 16 位字母或数字）"),
            ));
        } else if !seen.insert(v) {
            problems.push(RuleProblem::new(
                format!("{field}[{i}]"),
                "duplicate",
                format!("`{v}` is listed twice"),
                format!("`{v}` 重复"),
            ));
        }
    }
}

fn check_fields(d: &RuleDefinition) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    let id_ok = !d.id.is_empty()
        && d.id.len() <= RULE_ID_LENGTH_MAX
        && d.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !id_ok {
        problems.push(RuleProblem::new(
            "id",
            "invalid_id",
            format!("a rule id is 1 to {RULE_ID_LENGTH_MAX} letters, digits, '-', '_' or '.'"),
            format!("规则编号为 1 至 {RULE_ID_LENGTH_MAX} 位字母、数字、'-'、'_' 或 '.'"),
        ));
    }
    check_code_list("scope.offices", &d.scope.offices, &mut problems);
    check_code_list("scope.procedures", &d.scope.procedures, &mut problems);
    let mut kinds = HashSet::new();
    for (i, k) in d.scope.kinds.iter().enumerate() {
        if !kinds.insert(k) {
            problems.push(RuleProblem::new(
                format!("scope.kinds[{i}]"),
                "duplicate",
                format!("`{}` is listed twice", k.as_str()),
                format!("`{}` 重复", k.as_str()),
            ));
        }
    }
    if let (Some(from), Some(to)) = (d.scope.valid_from, d.scope.valid_to)
        && to < from
    {
        problems.push(RuleProblem::new(
            "scope.valid_to",
            "before_valid_from",
            format!("the validity ends ({to}) before it starts ({from})"),
            format!("有效期截止日（{to}）早于起始日（{from}）"),
        ));
    }
    if d.expected_selection_rate < Decimal::ZERO || d.expected_selection_rate > Decimal::ONE {
        problems.push(RuleProblem::new(
            "expected_selection_rate",
            "out_of_range",
            format!(
                "the expected selection rate {} is not between 0 and 1",
                d.expected_selection_rate
            ),
            format!("预期布控率 {} 不在 0 至 1 之间", d.expected_selection_rate),
        ));
    }
    for (field, text) in [("reason_en", &d.reason_en), ("reason_zh", &d.reason_zh)] {
        let chars = text.chars().count();
        if text.trim().is_empty() || chars > REASON_LENGTH_MAX {
            problems.push(RuleProblem::new(
                field,
                "invalid_reason",
                format!("the reason for the officer is 1 to {REASON_LENGTH_MAX} characters"),
                format!("给关员的布控理由为 1 至 {REASON_LENGTH_MAX} 个字符"),
            ));
        }
    }
    problems
}

pub(crate) struct CompiledExpression {
    pub(crate) expr: Option<IdedExpr>,
    pub(crate) per_item: bool,
    pub(crate) discriminators: Discriminators,
    pub(crate) nodes: usize,
    pub(crate) cost: u64,
    pub(crate) names: Vec<String>,
}

const EXPRESSION: &str = "expression";

fn expression_problem(
    code: &'static str,
    position: Option<Position>,
    en: String,
    zh: String,
) -> RuleProblem {
    RuleProblem {
        field: EXPRESSION.to_owned(),
        code,
        position,
        en,
        zh,
        suggestion: None,
    }
}

/// Compiles an expression on its own (what `compile` does with the definition's).
pub(crate) fn compile_expression(source: &str) -> Result<CompiledExpression, Vec<RuleProblem>> {
    if source.len() > EXPRESSION_LENGTH_MAX {
        return Err(vec![expression_problem(
            "too_long",
            None,
            format!(
                "the expression is {} bytes long; at most {EXPRESSION_LENGTH_MAX}",
                source.len()
            ),
            format!(
                "表达式长 {} 字节，最多 {EXPRESSION_LENGTH_MAX} 字节",
                source.len()
            ),
        )]);
    }
    if source.trim().is_empty() {
        return Err(vec![expression_problem(
            "empty",
            None,
            "the expression is empty".into(),
            "表达式为空".into(),
        )]);
    }
    if let Some(offset) = nesting_beyond(source, PARSE_NESTING_MAX) {
        let at = Locator {
            source,
            info: &SourceInfo::default(),
        }
        .at_byte(offset);
        return Err(vec![too_deep(at)]);
    }
    let parsed = cel::parser::Parser::new()
        .max_recursion_depth(PARSER_RECURSION_MAX)
        .parse_with_source_info(source);
    let (expr, info) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            // The first error is the meaningful one; ANTLR's recovery adds followers.
            let first = errors.errors.into_iter().next();
            let (position, msg) = match &first {
                Some(e) if e.pos.0 > 0 && e.pos.1 > 0 => (
                    Some(Position {
                        line: e.pos.0 as u32,
                        column: e.pos.1 as u32,
                    }),
                    e.msg.clone(),
                ),
                Some(e) => (None, e.msg.clone()),
                None => (None, "syntax error".to_owned()),
            };
            if msg.contains("Recursion limit") {
                return Err(vec![too_deep(position)]);
            }
            return Err(vec![expression_problem(
                "syntax",
                position,
                format!("syntax error: {msg}"),
                format!("语法错误：{msg}"),
            )]);
        }
    };
    // Depth first, without recursion: every later walk recurses.
    if let Some(id) = deeper_than(&expr, EXPRESSION_DEPTH_MAX) {
        let at = Locator {
            source,
            info: &info,
        }
        .node(id);
        return Err(vec![too_deep(at)]);
    }
    let locator = Locator {
        source,
        info: &info,
    };
    let nodes = count_nodes(&expr);
    if nodes > EXPRESSION_NODES_MAX {
        return Err(vec![expression_problem(
            "too_many_nodes",
            None,
            format!("the expression has {nodes} parts; at most {EXPRESSION_NODES_MAX}"),
            format!("表达式含 {nodes} 个节点，最多 {EXPRESSION_NODES_MAX} 个"),
        )]);
    }
    let mut checker = Checker {
        locator,
        problems: Vec::new(),
        locals: Vec::new(),
        per_item: false,
        names: std::collections::BTreeSet::new(),
    };
    let ty = checker.value(&expr);
    if !matches!(ty, Ty::Bool | Ty::Dyn) {
        let at = checker.locator.start();
        checker.problems.push(expression_problem(
            "not_boolean",
            at,
            format!("the expression is {}, not a condition (bool)", ty.en()),
            format!("表达式的结果为{}，不是条件（布尔值）", ty.zh()),
        ));
    }
    // The cost does not depend on the types: reported with the checker's problems.
    let cost = cost(&expr);
    if cost > EXPRESSION_COST_MAX {
        checker.problems.push(expression_problem(
            "too_costly",
            None,
            format!("the expression's cost bound is {cost}; at most {EXPRESSION_COST_MAX}"),
            format!("表达式的成本上限为 {cost}，最多 {EXPRESSION_COST_MAX}"),
        ));
    }
    if !checker.problems.is_empty() {
        return Err(checker.problems);
    }
    let mut terms = Vec::new();
    split_conjuncts(expr, &mut terms);
    let (discriminators, implied) = discriminators(&terms);
    let kept: Vec<IdedExpr> = terms
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !implied.contains(i))
        .map(|(_, t)| t)
        .collect();
    let mut expr = conjoin(kept);
    if let Some(e) = &mut expr {
        lower_field_access(e);
    }
    Ok(CompiledExpression {
        names: checker.names.into_iter().collect(),
        per_item: checker.per_item,
        expr,
        discriminators,
        nodes,
        cost,
    })
}

/// Where a lexical estimate of the parse depth first exceeds `max`, if it does.
///
/// The parser recurses once per bracket and once per operator of a chain (`a + b + c`,
/// `a.b.c`, `!!a`, `a ? b : c ? ...`); its own recursion limit reports the error but does not stop
/// it, so a 4 KiB source of nested brackets overflows the stack (in a debug build, well before).
/// The estimate is the number of open brackets plus, in each, the operators since the last `&&`,
/// `||` or `,` (which the parser takes as flat lists). It is an upper bound of the AST depth, up to
/// the precedence levels: an expression within [`EXPRESSION_DEPTH_MAX`] stays far below
/// `PARSE_NESTING_MAX` unless it chains over ~100 operators without brackets or `&&`.
fn nesting_beyond(source: &str, max: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut frames: Vec<usize> = vec![0];
    let mut i = 0;
    let estimate = |frames: &[usize]| frames.len() - 1 + frames.iter().sum::<usize>();
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' | b'\'' => {
                let raw = i > 0 && matches!(bytes[i - 1], b'r' | b'R')
                    || i > 1
                        && matches!(bytes[i - 2], b'r' | b'R')
                        && matches!(bytes[i - 1], b'b' | b'B');
                let triple = bytes.get(i..i + 3) == Some(&[b, b, b][..]);
                let quote_len = if triple { 3 } else { 1 };
                i += quote_len;
                loop {
                    if i >= bytes.len() {
                        return None; // unterminated: the parser says so, without recursing
                    }
                    if bytes[i] == b'\\' && !raw {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b && (!triple || bytes.get(i..i + 3) == Some(&[b, b, b][..])) {
                        i += quote_len;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => frames.push(0),
            b')' | b']' | b'}' if frames.len() > 1 => {
                frames.pop();
            }
            b',' => *frames.last_mut().expect("a frame") = 0,
            b'&' | b'|' if bytes.get(i + 1) == Some(&b) => {
                *frames.last_mut().expect("a frame") = 0;
                i += 2;
                continue;
            }
            b'=' | b'!' | b'<' | b'>' if bytes.get(i + 1) == Some(&b'=') => {
                *frames.last_mut().expect("a frame") += 1;
                i += 2;
                continue;
            }
            b'.' | b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'?' | b'<' | b'>' => {
                *frames.last_mut().expect("a frame") += 1;
            }
            _ if b.is_ascii_alphanumeric() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if &bytes[start..i] == b"in" {
                    *frames.last_mut().expect("a frame") += 1;
                }
                continue;
            }
            _ => {}
        }
        if estimate(&frames) > max {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn too_deep(position: Option<Position>) -> RuleProblem {
    expression_problem(
        "too_deep",
        position,
        format!("the expression is nested too deeply; at most {EXPRESSION_DEPTH_MAX} levels"),
        format!("表达式嵌套过深，最多 {EXPRESSION_DEPTH_MAX} 层"),
    )
}

fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(c.args.iter()).collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                cel::common::ast::EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
                cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Struct(s) => s
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                cel::common::ast::EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
                cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Select(s) => vec![&s.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// The id of the first node found deeper than `max`, iteratively.
fn deeper_than(root: &IdedExpr, max: usize) -> Option<u64> {
    let mut stack = vec![(root, 1usize)];
    while let Some((e, depth)) = stack.pop() {
        if depth > max {
            return Some(e.id);
        }
        stack.extend(children(e).into_iter().map(|c| (c, depth + 1)));
    }
    None
}

fn count_nodes(e: &IdedExpr) -> usize {
    1 + children(e).into_iter().map(count_nodes).sum::<usize>()
}

fn cost(e: &IdedExpr) -> u64 {
    match &e.expr {
        Expr::Comprehension(c) => {
            let bound = match &c.iter_range.expr {
                Expr::List(l) => l.elements.len() as u64,
                _ => LIST_FIELD_LENGTH_BOUND,
            };
            1u64.saturating_add(cost(&c.iter_range))
                .saturating_add(cost(&c.accu_init))
                .saturating_add(cost(&c.result))
                .saturating_add(
                    bound.saturating_mul(cost(&c.loop_cond).saturating_add(cost(&c.loop_step))),
                )
        }
        _ => children(e)
            .into_iter()
            .map(cost)
            .fold(1u64, u64::saturating_add),
    }
}

struct Locator<'a> {
    source: &'a str,
    info: &'a SourceInfo,
}

impl Locator<'_> {
    /// 1-based line and character column of a byte offset.
    fn at_byte(&self, offset: usize) -> Option<Position> {
        let offset = offset.min(self.source.len());
        if !self.source.is_char_boundary(offset) {
            return None;
        }
        let before = &self.source[..offset];
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() as u32 + 1;
        Some(Position { line, column })
    }

    fn offset(&self, id: u64) -> Option<usize> {
        self.info.offset_for(id).map(|(start, _)| start as usize)
    }

    fn node(&self, id: u64) -> Option<Position> {
        self.at_byte(self.offset(id)?)
    }

    fn start(&self) -> Option<Position> {
        let first = self.source.len() - self.source.trim_start().len();
        self.at_byte(first)
    }

    /// A select node is placed at its dot: point at the field name after it.
    fn field(&self, id: u64, field: &str) -> Option<Position> {
        let dot = self.offset(id)?;
        let found = self
            .source
            .get(dot..)
            .and_then(|rest| rest.find(field))
            .map_or(dot, |i| dot + i);
        self.at_byte(found)
    }

    /// A call node is placed at its opening parenthesis: point at the function name before it.
    fn function(&self, id: u64, name: &str) -> Option<Position> {
        let paren = self.offset(id)?;
        let found = self
            .source
            .get(..paren)
            .and_then(|before| before.rfind(name))
            .unwrap_or(paren);
        self.at_byte(found)
    }
}

/// What the checker knows of a value's type. `Dyn` is unknown (no check).
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Bool,
    Int,
    UInt,
    Double,
    String,
    Bytes,
    Null,
    List(Box<Ty>),
    Dyn,
    Root(Root),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Root {
    Declaration,
    Item,
    Features,
    Party,
}

impl Root {
    fn name(self) -> &'static str {
        match self {
            Root::Declaration => "declaration",
            Root::Item => "item",
            Root::Features => "features",
            Root::Party => "party",
        }
    }
}

impl Ty {
    fn en(&self) -> String {
        match self {
            Ty::Bool => "a bool".into(),
            Ty::Int => "an int".into(),
            Ty::UInt => "a uint".into(),
            Ty::Double => "a double".into(),
            Ty::String => "a string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Null => "null".into(),
            Ty::List(_) => "a list".into(),
            Ty::Dyn => "a value".into(),
            Ty::Root(r) => format!("`{}`", r.name()),
        }
    }
    fn zh(&self) -> String {
        match self {
            Ty::Bool => "布尔值".into(),
            Ty::Int => "整数".into(),
            Ty::UInt => "无符号整数".into(),
            Ty::Double => "浮点数".into(),
            Ty::String => "字符串".into(),
            Ty::Bytes => "字节串".into(),
            Ty::Null => "null".into(),
            Ty::List(_) => "列表".into(),
            Ty::Dyn => "值".into(),
            Ty::Root(r) => format!("`{}`", r.name()),
        }
    }
    fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::UInt | Ty::Double)
    }
    fn known(&self) -> bool {
        !matches!(self, Ty::Dyn)
    }
}

/// Whether `==` between the two can ever be true.
fn may_equal(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn, _) | (_, Ty::Dyn) | (Ty::Null, _) | (_, Ty::Null) => true,
        (x, y) if x.numeric() && y.numeric() => true,
        (Ty::List(x), Ty::List(y)) => may_equal(x, y),
        (x, y) => std::mem::discriminant(x) == std::mem::discriminant(y),
    }
}

fn orderable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn, _) | (_, Ty::Dyn) => true,
        (x, y) if x.numeric() && y.numeric() => true,
        (Ty::String, Ty::String) | (Ty::Bytes, Ty::Bytes) | (Ty::Bool, Ty::Bool) => true,
        _ => false,
    }
}

/// The fields of a root: (type, optional, item-level), from the catalogue (the editor's list).
fn field(root: Root, name: &str) -> Option<(Ty, bool, bool)> {
    use crate::catalogue::NameType;
    let entry = crate::catalogue::field(root.name(), name)?;
    let ty = match entry.ty {
        NameType::String => Ty::String,
        NameType::Int => Ty::Int,
        NameType::Double => Ty::Double,
        NameType::Bool => Ty::Bool,
        NameType::StringList => Ty::List(Box::new(Ty::String)),
        NameType::DoubleOrNull | NameType::Object => Ty::Dyn,
    };
    Some((ty, entry.optional, entry.item_level))
}

fn root_variable(name: &str) -> Option<Ty> {
    crate::catalogue::variable(name)?;
    Some(match name {
        "declaration" => Ty::Root(Root::Declaration),
        "item" => Ty::Root(Root::Item),
        "features" => Ty::Root(Root::Features),
        "party" => Ty::Root(Root::Party),
        "credit" => Ty::String,
        "model_score" => Ty::Dyn,
        _ => return None,
    })
}

struct Checker<'a> {
    locator: Locator<'a>,
    problems: Vec<RuleProblem>,
    locals: Vec<(String, Ty)>,
    per_item: bool,
    /// The catalogue names read (see [`CompiledRule::names`]).
    names: std::collections::BTreeSet<String>,
}

impl Checker<'_> {
    fn problem(&mut self, code: &'static str, at: Option<Position>, en: String, zh: String) {
        self.problems.push(expression_problem(code, at, en, zh));
    }

    /// A problem with a name not in the catalogue, and the closest one that is, if any.
    fn suggest(
        &mut self,
        code: &'static str,
        at: Option<Position>,
        en: String,
        zh: String,
        suggestion: Option<String>,
    ) {
        let mut problem = match &suggestion {
            Some(s) => expression_problem(
                code,
                at,
                format!("{en}; did you mean `{s}`?"),
                format!("{zh}；您是否想写 `{s}`？"),
            ),
            None => expression_problem(code, at, en, zh),
        };
        problem.suggestion = suggestion;
        self.problems.push(problem);
    }

    /// The type of a value: a root (`item`) alone is not one.
    fn value(&mut self, e: &IdedExpr) -> Ty {
        let ty = self.check(e);
        if let Ty::Root(r) = ty {
            let at = self.locator.node(e.id);
            self.problem(
                "field_required",
                at,
                format!(
                    "`{}` is not a value: name one of its fields, e.g. `{}.…`",
                    r.name(),
                    r.name()
                ),
                format!("`{}` 不是值：请写出它的字段，如 `{}.…`", r.name(), r.name()),
            );
            return Ty::Dyn;
        }
        ty
    }

    fn expect_bool(&mut self, e: &IdedExpr, operator: &str) {
        let ty = self.value(e);
        if !matches!(ty, Ty::Bool | Ty::Dyn) {
            let at = self.locator.node(e.id);
            self.problem(
                "type_mismatch",
                at,
                format!("the operand of `{operator}` is {}, not a bool", ty.en()),
                format!("`{operator}` 的操作数为{}，不是布尔值", ty.zh()),
            );
        }
    }

    fn check(&mut self, e: &IdedExpr) -> Ty {
        match &e.expr {
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::UInt,
            },
            Expr::Ident(name) => {
                if let Some((_, ty)) = self.locals.iter().rev().find(|(n, _)| n == name) {
                    return ty.clone();
                }
                match root_variable(name) {
                    Some(ty) => {
                        if !matches!(ty, Ty::Root(_)) {
                            self.names.insert(name.clone());
                        }
                        if name == "item" {
                            self.per_item = true;
                        }
                        ty
                    }
                    None => {
                        let at = self.locator.node(e.id);
                        // A variable or a local of a macro; else a field written without its
                        // variable (`origin_country` for `item.origin_country`).
                        let locals: Vec<&str> =
                            self.locals.iter().map(|(n, _)| n.as_str()).collect();
                        let suggestion = closest(
                            name,
                            crate::catalogue::VARIABLES
                                .iter()
                                .map(|v| v.name)
                                .chain(locals.into_iter().filter(|n| !n.starts_with('@'))),
                        )
                        .map(str::to_owned)
                        .or_else(|| {
                            let fields = crate::catalogue::FIELDS.iter();
                            fields
                                .clone()
                                .find(|f| f.name == name)
                                .or_else(|| {
                                    let found = closest(name, fields.clone().map(|f| f.name))?;
                                    fields.clone().find(|f| f.name == found)
                                })
                                .map(|f| f.path())
                        });
                        self.suggest(
                            "unknown_name",
                            at,
                            format!(
                                "unknown name `{name}`: a rule reads declaration, item, features, party, credit and model_score"
                            ),
                            format!(
                                "未知名称 `{name}`：规则只能读取 declaration、item、features、party、credit 和 model_score"
                            ),
                            suggestion,
                        );
                        Ty::Dyn
                    }
                }
            }
            Expr::Select(select) => {
                let operand = self.check(&select.operand);
                let Ty::Root(root) = operand else {
                    if operand.known() || !matches!(select.operand.expr, Expr::Ident(_)) {
                        let at = self.locator.field(e.id, &select.field);
                        self.problem(
                            "unknown_member",
                            at,
                            format!(
                                "`.{}`: only declaration, item, features and party have fields",
                                select.field
                            ),
                            format!(
                                "`.{}`：只有 declaration、item、features 和 party 有字段",
                                select.field
                            ),
                        );
                    }
                    return Ty::Dyn;
                };
                match field(root, &select.field) {
                    Some((ty, _optional, item_level)) => {
                        self.names
                            .insert(format!("{}.{}", root.name(), select.field));
                        if item_level {
                            self.per_item = true;
                        }
                        if select.test { Ty::Bool } else { ty }
                    }
                    None => {
                        let at = self.locator.field(e.id, &select.field);
                        // A field of this variable; else the same field of another one
                        // (`declaration.origin_country` for `item.origin_country`).
                        let fields = crate::catalogue::FIELDS.iter();
                        let suggestion = closest(
                            &select.field,
                            fields
                                .clone()
                                .filter(|f| f.root == root.name())
                                .map(|f| f.name),
                        )
                        .map(|f| format!("{}.{f}", root.name()))
                        .or_else(|| {
                            fields
                                .clone()
                                .find(|f| f.name == select.field.as_str())
                                .map(|f| f.path())
                        });
                        self.suggest(
                            "unknown_member",
                            at,
                            format!("`{}` has no field `{}`", root.name(), select.field),
                            format!("`{}` 没有字段 `{}`", root.name(), select.field),
                            suggestion,
                        );
                        Ty::Dyn
                    }
                }
            }
            Expr::List(list) => {
                if list.elements.len() > LIST_LITERAL_LENGTH_MAX {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "list_too_long",
                        at,
                        format!(
                            "the list has {} elements; at most {LIST_LITERAL_LENGTH_MAX}",
                            list.elements.len()
                        ),
                        format!(
                            "列表有 {} 个元素，最多 {LIST_LITERAL_LENGTH_MAX} 个",
                            list.elements.len()
                        ),
                    );
                }
                let mut element: Option<Ty> = None;
                for item in &list.elements {
                    let ty = self.value(item);
                    element = Some(match element {
                        None => ty,
                        Some(prev) if prev == ty => prev,
                        Some(_) => Ty::Dyn,
                    });
                }
                Ty::List(Box::new(element.unwrap_or(Ty::Dyn)))
            }
            Expr::Map(_) | Expr::Struct(_) | Expr::Unspecified => {
                let at = self.locator.node(e.id);
                self.problem(
                    "unsupported",
                    at,
                    "map and message literals are not available in rules".into(),
                    "规则中不能使用映射或消息字面量".into(),
                );
                Ty::Dyn
            }
            Expr::Comprehension(c) => {
                let exists_or_all = c.accu_var == "@result"
                    && matches!(c.accu_init.expr, Expr::Literal(LiteralValue::Boolean(_)))
                    && c.iter_var2.is_none();
                if !exists_or_all {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "unsupported_macro",
                        at,
                        "only the exists and all macros are available (not map, filter or exists_one)"
                            .into(),
                        "只能使用 exists 和 all 宏（不能使用 map、filter 或 exists_one）".into(),
                    );
                    return Ty::Dyn;
                }
                let range = self.value(&c.iter_range);
                let element = match range {
                    Ty::List(element) => *element,
                    _ => {
                        let at = self.locator.node(c.iter_range.id);
                        self.problem(
                            "not_a_list",
                            at,
                            format!(
                                "exists and all iterate over a list field or a list literal, not {}",
                                range.en()
                            ),
                            format!("exists 和 all 只能遍历列表字段或列表字面量，而不是{}", range.zh()),
                        );
                        Ty::Dyn
                    }
                };
                self.locals.push((c.iter_var.clone(), element));
                self.locals.push((c.accu_var.clone(), Ty::Bool));
                self.value(&c.accu_init);
                self.expect_bool(&c.loop_cond, &c.iter_var);
                self.expect_bool(&c.loop_step, &c.iter_var);
                self.expect_bool(&c.result, &c.iter_var);
                self.locals.pop();
                self.locals.pop();
                Ty::Bool
            }
            Expr::Call(call) => self.call(e, call),
        }
    }

    fn call(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> Ty {
        let name = call.func_name.as_str();
        let operator = name.trim_matches('_').replace('_', " ");
        let args = &call.args;
        let arity =
            |n: usize, member: bool| call.args.len() == n && call.target.is_some() == member;
        match name {
            "_&&_" | "_||_" if arity(2, false) => {
                self.expect_bool(&args[0], operator.trim());
                self.expect_bool(&args[1], operator.trim());
                Ty::Bool
            }
            "!_" if arity(1, false) => {
                self.expect_bool(&args[0], "!");
                Ty::Bool
            }
            "@not_strictly_false" if arity(1, false) => {
                self.value(&args[0]);
                Ty::Bool
            }
            "_==_" | "_!=_" if arity(2, false) => {
                let (a, b) = (self.value(&args[0]), self.value(&args[1]));
                if !may_equal(&a, &b) {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "type_mismatch",
                        at,
                        format!("compares {} with {}: never equal", a.en(), b.en()),
                        format!("比较{}与{}：永不相等", a.zh(), b.zh()),
                    );
                }
                Ty::Bool
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" if arity(2, false) => {
                let (a, b) = (self.value(&args[0]), self.value(&args[1]));
                if !orderable(&a, &b) {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "type_mismatch",
                        at,
                        format!("cannot order {} and {}", a.en(), b.en()),
                        format!("无法比较{}与{}的大小", a.zh(), b.zh()),
                    );
                }
                Ty::Bool
            }
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" if arity(2, false) => {
                let (a, b) = (self.value(&args[0]), self.value(&args[1]));
                self.arithmetic(e, name, a, b)
            }
            "-_" if arity(1, false) => {
                let a = self.value(&args[0]);
                if a.known() && !a.numeric() {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "type_mismatch",
                        at,
                        format!("cannot negate {}", a.en()),
                        format!("无法对{}取负", a.zh()),
                    );
                }
                a
            }
            "_?_:_" if arity(3, false) => {
                self.expect_bool(&args[0], "?:");
                let (a, b) = (self.value(&args[1]), self.value(&args[2]));
                if a == b { a } else { Ty::Dyn }
            }
            "@in" if arity(2, false) => {
                let (a, b) = (self.value(&args[0]), self.value(&args[1]));
                match &b {
                    Ty::List(element) => {
                        if !may_equal(&a, element) {
                            let at = self.locator.node(e.id);
                            self.problem(
                                "type_mismatch",
                                at,
                                format!(
                                    "looks for {} in a list of {}: never found",
                                    a.en(),
                                    element.en()
                                ),
                                format!("在{}列表中查找{}：永远找不到", element.zh(), a.zh()),
                            );
                        }
                    }
                    Ty::Dyn => {}
                    other => {
                        let at = self.locator.node(e.id);
                        self.problem(
                            "type_mismatch",
                            at,
                            format!("`in` needs a list on its right, not {}", other.en()),
                            format!("`in` 右侧须为列表，而不是{}", other.zh()),
                        );
                    }
                }
                Ty::Bool
            }
            "_[_]" if arity(2, false) => {
                let (a, b) = (self.value(&args[0]), self.value(&args[1]));
                if !matches!(b, Ty::Int | Ty::UInt | Ty::Dyn) {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "type_mismatch",
                        at,
                        format!("a list index is an int, not {}", b.en()),
                        format!("列表下标须为整数，而不是{}", b.zh()),
                    );
                }
                match a {
                    Ty::List(element) => *element,
                    Ty::Dyn => Ty::Dyn,
                    other => {
                        let at = self.locator.node(e.id);
                        self.problem(
                            "type_mismatch",
                            at,
                            format!("only a list can be indexed, not {}", other.en()),
                            format!("只能对列表取下标，而不是{}", other.zh()),
                        );
                        Ty::Dyn
                    }
                }
            }
            "startsWith" | "endsWith" | "contains" if arity(1, true) => {
                let target = call.target.as_deref().expect("arity checked a target");
                let (t, a) = (self.value(target), self.value(&args[0]));
                for (ty, what) in [(&t, "receiver"), (&a, "argument")] {
                    if !matches!(ty, Ty::String | Ty::Dyn) {
                        let at = self.locator.function(e.id, name);
                        self.problem(
                            "type_mismatch",
                            at,
                            format!("the {what} of {name} is {}, not a string", ty.en()),
                            format!(
                                "{name} 的{}为{}，不是字符串",
                                if what == "receiver" {
                                    "接收者"
                                } else {
                                    "参数"
                                },
                                ty.zh()
                            ),
                        );
                    }
                }
                Ty::Bool
            }
            "size" if arity(1, false) || arity(0, true) => {
                let target = call
                    .target
                    .as_deref()
                    .unwrap_or_else(|| args.first().expect("one argument"));
                let t = self.value(target);
                if !matches!(t, Ty::String | Ty::Bytes | Ty::List(_) | Ty::Dyn) {
                    let at = self.locator.function(e.id, name);
                    self.problem(
                        "type_mismatch",
                        at,
                        format!("size of {}: only strings and lists have a size", t.en()),
                        format!("{}没有长度：只有字符串和列表有", t.zh()),
                    );
                }
                Ty::Int
            }
            "int" | "double" | "string" if arity(1, false) => {
                self.value(&args[0]);
                match name {
                    "int" => Ty::Int,
                    "double" => Ty::Double,
                    _ => Ty::String,
                }
            }
            _ => {
                let known = [
                    "startsWith",
                    "endsWith",
                    "contains",
                    "size",
                    "int",
                    "double",
                    "string",
                ]
                .contains(&name)
                    || name.starts_with('_')
                    || name.ends_with('_')
                    || name.starts_with('@');
                let at = if name.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !name.starts_with('_')
                {
                    self.locator.function(e.id, name)
                } else {
                    self.locator.node(e.id)
                };
                if known {
                    self.problem(
                        "wrong_arguments",
                        at,
                        format!("`{name}` is called with the wrong number of arguments or without its receiver"),
                        format!("`{name}` 的参数个数或调用方式不对"),
                    );
                } else {
                    let catalogue = crate::catalogue::FUNCTIONS
                        .iter()
                        .chain(crate::catalogue::MACROS)
                        .map(|f| f.name);
                    let suggestion = closest(name, catalogue).map(str::to_owned);
                    self.suggest(
                        "unknown_function",
                        at,
                        format!(
                            "unknown function `{name}`: rules may use startsWith, endsWith, contains, size, int, double, string, in, has, exists and all"
                        ),
                        format!(
                            "未知函数 `{name}`：规则可用 startsWith、endsWith、contains、size、int、double、string、in、has、exists 和 all"
                        ),
                        suggestion,
                    );
                }
                if let Some(target) = &call.target {
                    self.check(target);
                }
                for arg in args {
                    self.check(arg);
                }
                Ty::Dyn
            }
        }
    }

    fn arithmetic(&mut self, e: &IdedExpr, name: &str, a: Ty, b: Ty) -> Ty {
        let symbol = name.trim_matches('_');
        match (&a, &b) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => Ty::Dyn,
            (x, y) if x.numeric() && y.numeric() => {
                if x == y {
                    a
                } else {
                    let at = self.locator.node(e.id);
                    self.problem(
                        "mixed_arithmetic",
                        at,
                        format!(
                            "`{symbol}` of {} and {}: CEL does not mix them; write a double literal such as 2.0 or convert with double()",
                            a.en(),
                            b.en()
                        ),
                        format!(
                            "`{symbol}` 的操作数为{}和{}：CEL 不混合运算，请写成 2.0 这样的浮点数或用 double() 转换",
                            a.zh(),
                            b.zh()
                        ),
                    );
                    Ty::Dyn
                }
            }
            (Ty::String, Ty::String) if symbol == "+" => Ty::String,
            (Ty::List(_), Ty::List(_)) if symbol == "+" => Ty::List(Box::new(Ty::Dyn)),
            _ => {
                let at = self.locator.node(e.id);
                self.problem(
                    "type_mismatch",
                    at,
                    format!("`{symbol}` does not apply to {} and {}", a.en(), b.en()),
                    format!("`{symbol}` 不适用于{}和{}", a.zh(), b.zh()),
                );
                Ty::Dyn
            }
        }
    }
}

/// Rewrites `root.field` (a checked field of `declaration`, `item`, `features` or `party`) into
/// `root["field"]`, which evaluates the same (a missing field is the same error) but faster: cel
/// resolves a selection as a qualified name first (`"item.field"`, joined into a new string and
/// looked up in every scope), an index on a variable directly. Done after every check and the
/// extraction of discriminators, which read the expression as written.
fn lower_field_access(e: &mut IdedExpr) {
    if let Expr::Select(select) = &mut e.expr
        && !select.test
        && matches!(&select.operand.expr, Expr::Ident(root) if matches!(root.as_str(), "declaration" | "item" | "features" | "party"))
    {
        let operand = std::mem::take(&mut *select.operand);
        let field = std::mem::take(&mut select.field);
        e.expr = Expr::Call(cel::common::ast::CallExpr {
            func_name: "_[_]".to_owned(),
            target: None,
            args: vec![
                operand,
                IdedExpr {
                    id: 0,
                    expr: Expr::Literal(LiteralValue::String(field.into())),
                },
            ],
        });
        return;
    }
    match &mut e.expr {
        Expr::Call(c) => {
            if let Some(t) = &mut c.target {
                lower_field_access(t);
            }
            c.args.iter_mut().for_each(lower_field_access);
        }
        Expr::Comprehension(c) => {
            for part in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                lower_field_access(part);
            }
        }
        Expr::List(l) => l.elements.iter_mut().for_each(lower_field_access),
        Expr::Select(s) => lower_field_access(&mut s.operand),
        _ => {}
    }
}

/// The terms of the top-level conjunction, taken apart.
fn split_conjuncts(e: IdedExpr, out: &mut Vec<IdedExpr>) {
    match e.expr {
        Expr::Call(c) if c.func_name == "_&&_" && c.args.len() == 2 && c.target.is_none() => {
            for arg in c.args {
                split_conjuncts(arg, out);
            }
        }
        expr => out.push(IdedExpr { id: e.id, expr }),
    }
}

/// The conjunction of the terms, as a balanced tree (no deeper than the original); `None` for none.
fn conjoin(mut terms: Vec<IdedExpr>) -> Option<IdedExpr> {
    match terms.len() {
        0 => None,
        1 => terms.pop(),
        n => {
            let right = terms.split_off(n / 2);
            let (left, right) = (conjoin(terms)?, conjoin(right)?);
            Some(IdedExpr {
                id: left.id,
                expr: Expr::Call(cel::common::ast::CallExpr {
                    func_name: "_&&_".to_owned(),
                    target: None,
                    args: vec![left, right],
                }),
            })
        }
    }
}

fn path(e: &IdedExpr) -> Option<(&str, &str)> {
    match &e.expr {
        Expr::Select(s) if !s.test => match &s.operand.expr {
            Expr::Ident(root) => Some((root.as_str(), s.field.as_str())),
            _ => None,
        },
        _ => None,
    }
}

fn string_literal(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_owned()),
        _ => None,
    }
}

fn string_list(e: &IdedExpr) -> Option<Vec<String>> {
    match &e.expr {
        Expr::List(l) => l.elements.iter().map(string_literal).collect(),
        _ => None,
    }
}

fn narrow(slot: &mut Option<Vec<String>>, values: Vec<String>) {
    *slot = Some(match slot.take() {
        None => values,
        Some(prev) => prev.into_iter().filter(|v| values.contains(v)).collect(),
    });
}

/// The discriminators of a conjunction's terms, and the terms they imply (which need no
/// evaluation once the discriminators passed).
fn discriminators(terms: &[IdedExpr]) -> (Discriminators, Vec<usize>) {
    let mut d = Discriminators::default();
    let mut implied = Vec::new();
    let mut prefix_terms: Vec<(usize, String)> = Vec::new();
    for (index, term) in terms.iter().enumerate() {
        let Expr::Call(c) = &term.expr else { continue };
        // (path, values, is_prefix)
        let found: Option<((&str, &str), Vec<String>, bool)> =
            match (c.func_name.as_str(), &c.target) {
                ("startsWith", Some(target)) if c.args.len() == 1 => path(target)
                    .zip(string_literal(&c.args[0]))
                    .map(|(p, v)| (p, vec![v], true)),
                ("_==_", None) if c.args.len() == 2 => {
                    let (a, b) = (&c.args[0], &c.args[1]);
                    path(a)
                        .zip(string_literal(b))
                        .or_else(|| path(b).zip(string_literal(a)))
                        .map(|(p, v)| (p, vec![v], false))
                }
                ("@in", None) if c.args.len() == 2 => path(&c.args[0])
                    .zip(string_list(&c.args[1]))
                    .map(|(p, v)| (p, v, false)),
                _ => None,
            };
        let Some((p, values, prefix)) = found else {
            continue;
        };
        match p {
            ("item", "commodity_code") if values.len() == 1 => {
                let value = values.into_iter().next().expect("one value");
                if prefix {
                    prefix_terms.push((index, value.clone()));
                }
                if d.commodity_prefix
                    .as_ref()
                    .is_none_or(|prev| prev.len() < value.len())
                {
                    d.commodity_prefix = Some(value);
                }
            }
            _ if prefix => {}
            ("item", "origin_country") => {
                narrow(&mut d.origins, values);
                implied.push(index);
            }
            ("declaration", "office_of_lodging") => {
                narrow(&mut d.offices_of_lodging, values);
                implied.push(index);
            }
            ("declaration" | "party", "trader") => {
                narrow(&mut d.traders, values);
                implied.push(index);
            }
            (root, field) => {
                if let Some(f) = Field::from_path(root, field) {
                    match d.conditions.iter_mut().find(|(g, _)| *g == f) {
                        Some((_, prev)) => prev.retain(|v| values.contains(v)),
                        None => d.conditions.push((f, values)),
                    }
                    implied.push(index);
                }
            }
        }
    }
    // A `startsWith` is implied by the prefix the index checks when that prefix extends it.
    if let Some(chosen) = &d.commodity_prefix {
        for (index, value) in prefix_terms {
            if chosen.starts_with(value.as_str()) {
                implied.push(index);
            }
        }
    }
    (d, implied)
}
