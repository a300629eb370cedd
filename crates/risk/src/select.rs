//! Selection: every matching rule, list hit and missing licence, the random selection, and the lane.
//!
//! * A matching rule selects the declaration when its draw (per rule id, see `draw`) is below its
//!   expected selection rate; a matching rule that did not select is still listed, `selected: false`.
//! * Watch-list hits, value-control hits and missing licences always select.
//! * The random selection (双随机) draws once per declaration against the rate configured for its
//!   office and procedure (the most specific entry, else the default), modified by the trader's
//!   credit level: `min(1, max(rate × multiplier, minimum))`.
//! * Purpose: a summary declaration is checked by `Safety` and `Both` rules and watch-list entries
//!   and for licences (admissibility); a full declaration by `Revenue` and `Both` rules and entries,
//!   the value-control table and licences; an ordinary declaration by everything. The random
//!   selection applies to every kind (configure a zero rate where it should not).
//! * The lane: red if a selected reason's action is physical inspection, sampling or hold, yellow
//!   if it is a document check, else green.
//! * Reasons are ordered selected first, then by weight (priority, then severity of the action),
//!   highest first.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::draw::RandomDraw;
use crate::features::item_features;
use crate::index::{RuleSet, admits_declaration, admits_item};
use crate::lists::{EntityKind, Lists};
use crate::model::{Action, CreditLevel, Purpose, RiskInput};
use crate::values::{as_bool, bind_item, declaration_context};

/// A random-selection rate for an office and / or procedure.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomRate {
    /// `None`: any office of lodging.
    pub office: Option<String>,
    /// `None`: any procedure.
    pub procedure: Option<String>,
    /// In 0..=1.
    pub rate: Decimal,
}

/// How the trader's credit level changes the random rate: `max(rate × multiplier, minimum)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CreditModifier {
    pub multiplier: Decimal,
    pub minimum: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CreditModifiers {
    pub advanced_certified: CreditModifier,
    pub general_certified: CreditModifier,
    pub general: CreditModifier,
    pub untrustworthy: CreditModifier,
}

impl CreditModifiers {
    pub fn get(&self, level: CreditLevel) -> CreditModifier {
        match level {
            CreditLevel::AdvancedCertified => self.advanced_certified,
            CreditLevel::GeneralCertified => self.general_certified,
            CreditLevel::General => self.general,
            CreditLevel::Untrustworthy => self.untrustworthy,
        }
    }
}

/// The selection settings of an administration.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectionConfig {
    pub default_random_rate: Decimal,
    pub random_rates: Vec<RandomRate>,
    pub credit: CreditModifiers,
    pub random_action: Action,
    pub random_priority: u8,
    pub value_control_action: Action,
    pub value_control_priority: u8,
    pub licence_action: Action,
    pub licence_priority: u8,
    pub model_action: Action,
    pub model_priority: u8,
}

impl SelectionConfig {
    /// Sample figures, to *verify* against the administration's instructions: a 2 % random rate;
    /// advanced certified enterprises at 20 % of the average rate (一般认证, abolished, 50 %);
    /// untrustworthy enterprises inspected at 80 % or more (the "80 % and above" rule for 失信企业).
    pub fn sample_china() -> Self {
        let m = |multiplier: Decimal, minimum: Decimal| CreditModifier {
            multiplier,
            minimum,
        };
        SelectionConfig {
            default_random_rate: Decimal::new(2, 2),
            random_rates: Vec::new(),
            credit: CreditModifiers {
                advanced_certified: m(Decimal::new(2, 1), Decimal::ZERO),
                general_certified: m(Decimal::new(5, 1), Decimal::ZERO),
                general: m(Decimal::ONE, Decimal::ZERO),
                untrustworthy: m(Decimal::ONE, Decimal::new(8, 1)),
            },
            random_action: Action::PhysicalInspection,
            random_priority: 50,
            value_control_action: Action::DocumentCheck,
            value_control_priority: 100,
            licence_action: Action::DocumentCheck,
            licence_priority: 150,
            // A model hit asks for a look at the goods: its labels are physical checks.
            model_action: Action::PhysicalInspection,
            model_priority: 120,
        }
    }

    /// The random rate for a declaration, before the credit modifier.
    pub fn base_random_rate(&self, office: &str, procedure: &str) -> Decimal {
        let mut best: Option<(u8, Decimal)> = None;
        for r in &self.random_rates {
            let applies = r.office.as_deref().is_none_or(|o| o == office)
                && r.procedure.as_deref().is_none_or(|p| p == procedure);
            // Office and procedure, then office, then procedure; the first listed on a tie.
            let rank = u8::from(r.office.is_some()) * 2 + u8::from(r.procedure.is_some());
            if applies && best.is_none_or(|(b, _)| rank > b) {
                best = Some((rank, r.rate));
            }
        }
        best.map_or(self.default_random_rate, |(_, rate)| rate)
    }

    /// The random rate after the credit modifier, in 0..=1.
    pub fn random_rate(&self, office: &str, procedure: &str, credit: CreditLevel) -> Decimal {
        let m = self.credit.get(credit);
        let rate = (self.base_random_rate(office, procedure) * m.multiplier).max(m.minimum);
        rate.clamp(Decimal::ZERO, Decimal::ONE)
    }
}

/// green: release after payment; yellow: document check; red: physical inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    Green,
    Yellow,
    Red,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Green => "green",
            Lane::Yellow => "yellow",
            Lane::Red => "red",
        }
    }
}

/// Where a reason comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ReasonSource {
    /// A rule matched, on these items (0-based; all items for a rule that reads no item).
    Rule {
        id: String,
        version: u32,
        items: Vec<usize>,
    },
    WatchList {
        kind: EntityKind,
        value: String,
    },
    /// An item's unit value is outside the table's range.
    ValueControl {
        item: usize,
        unit: String,
        unit_value_cny: Decimal,
        min_unit_value_cny: Option<Decimal>,
        max_unit_value_cny: Option<Decimal>,
    },
    /// A licence the item's tariff line requires is not among the documents.
    Licence {
        item: usize,
        code: String,
    },
    /// The active risk model selected the declaration: scored at or above its threshold
    /// (exploitation), or below it and drawn for exploration.
    Model {
        model: String,
        item: usize,
        score: f64,
        threshold: f64,
        selected_by: ModelSelection,
    },
    Random,
}

/// Why the risk model selected a declaration: what its label is worth when the model learns
/// from the checks it asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelSelection {
    /// Scored at or above the threshold: selected with certainty (propensity 1).
    Exploitation,
    /// Scored below the threshold and drawn at the model's exploration rate (the propensity,
    /// recorded as the reason's `rate`, with the draw).
    Exploration,
}

impl ModelSelection {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSelection::Exploitation => "exploitation",
            ModelSelection::Exploration => "exploration",
        }
    }
}

/// One reason, for the officer and the audit record.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    pub source: ReasonSource,
    pub action: Action,
    pub priority: u8,
    /// `priority × 256 + severity`: the order of reasons.
    pub weight: u16,
    /// Whether this reason selected the declaration (a matched rule may not, by its rate).
    pub selected: bool,
    /// The rate and the uniform draw that decided, for a rule or the random selection.
    pub rate: Option<f64>,
    pub draw: Option<f64>,
    pub en: String,
    pub zh: String,
}

fn weight(priority: u8, action: Action) -> u16 {
    u16::from(priority) * 256 + u16::from(action.severity())
}

/// The random selection, recorded whether it selected or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCheck {
    pub rate: f64,
    pub draw: f64,
    pub selected: bool,
}

/// A rule that could not be evaluated (counted as no match).
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationError {
    pub rule_id: String,
    pub version: u32,
    /// The item, for a rule evaluated per item.
    pub item: Option<usize>,
    pub en: String,
    pub zh: String,
}

/// What the selection of one declaration cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvaluationStats {
    /// Rules in the set.
    pub rules: usize,
    /// Rules the index proposed.
    pub candidates: usize,
    /// Candidates whose scope and discriminators admitted the declaration (and an item).
    pub evaluated_rules: usize,
    /// CEL evaluations run (a rule per item counts once per admitted item).
    pub evaluations: usize,
}

/// The outcome of a selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub lane: Lane,
    pub reasons: Vec<Reason>,
    pub random: RandomCheck,
    /// The risk model's exploration draw, recorded whether it selected or not: when the active
    /// model scored a revenue declaration below its threshold with an exploration rate above 0.
    pub exploration: Option<RandomCheck>,
    /// The seed drawn from, to record.
    pub seed: u64,
    pub errors: Vec<EvaluationError>,
    pub stats: EvaluationStats,
}

impl Selection {
    /// The matched rules, selected or not.
    pub fn matched_rules(&self) -> impl Iterator<Item = (&str, &[usize], bool)> {
        self.reasons.iter().filter_map(|r| match &r.source {
            ReasonSource::Rule { id, items, .. } => {
                Some((id.as_str(), items.as_slice(), r.selected))
            }
            _ => None,
        })
    }
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn items_en(items: &[usize]) -> String {
    items
        .iter()
        .map(|i| format!("items[{i}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Selects one declaration on `day` (the acceptance date, in the administration's time zone).
pub fn select(
    input: &RiskInput,
    rules: &RuleSet,
    lists: &Lists,
    config: &SelectionConfig,
    day: NaiveDate,
    draw: RandomDraw,
) -> Selection {
    let h = &input.declaration;
    let kind = h.kind;
    let mut reasons = Vec::new();
    let mut errors = Vec::new();
    let mut stats = EvaluationStats {
        rules: rules.len(),
        ..EvaluationStats::default()
    };

    // Features, and value-control hits (revenue).
    let features: Vec<_> = input
        .items
        .iter()
        .map(|item| item_features(h, item, &lists.value_control, day))
        .collect();
    if Purpose::Revenue.applies_to(kind) {
        for (i, (_, controlled)) in features.iter().enumerate() {
            let Some(c) = controlled else { continue };
            let (min, max) = (c.entry.min_unit_value_cny, c.entry.max_unit_value_cny);
            let below = min.is_some_and(|m| c.unit_value_cny < m);
            let above = max.is_some_and(|m| c.unit_value_cny > m);
            if !(below || above) {
                continue;
            }
            let (en, zh) = if below {
                let m = min.expect("below a minimum");
                (
                    format!(
                        "items[{i}]: unit value {} CNY per {} is below the minimum {m} of the value-control table",
                        c.unit_value_cny, c.unit
                    ),
                    format!(
                        "第 {} 项：单价 {} 元/{} 低于价格风险参数下限 {m}",
                        i + 1,
                        c.unit_value_cny,
                        c.unit
                    ),
                )
            } else {
                let m = max.expect("above a maximum");
                (
                    format!(
                        "items[{i}]: unit value {} CNY per {} is above the maximum {m} of the value-control table",
                        c.unit_value_cny, c.unit
                    ),
                    format!(
                        "第 {} 项：单价 {} 元/{} 高于价格风险参数上限 {m}",
                        i + 1,
                        c.unit_value_cny,
                        c.unit
                    ),
                )
            };
            let action = config.value_control_action;
            reasons.push(Reason {
                source: ReasonSource::ValueControl {
                    item: i,
                    unit: c.unit.clone(),
                    unit_value_cny: c.unit_value_cny,
                    min_unit_value_cny: min,
                    max_unit_value_cny: max,
                },
                action,
                priority: config.value_control_priority,
                weight: weight(config.value_control_priority, action),
                selected: true,
                rate: None,
                draw: None,
                en,
                zh,
            });
        }
    }

    // Licences (admissibility: every kind).
    for (i, item) in input.items.iter().enumerate() {
        for code in &item.licence_codes {
            if h.documents.contains(code) {
                continue;
            }
            let action = config.licence_action;
            reasons.push(Reason {
                source: ReasonSource::Licence {
                    item: i,
                    code: code.clone(),
                },
                action,
                priority: config.licence_priority,
                weight: weight(config.licence_priority, action),
                selected: true,
                rate: None,
                draw: None,
                en: format!(
                    "items[{i}] ({}) requires licence {code}, which is not among the documents",
                    item.commodity_code
                ),
                zh: format!(
                    "第 {} 项（{}）须提交监管证件 {code}，随附单证中没有",
                    i + 1,
                    item.commodity_code
                ),
            });
        }
    }

    // Watch lists.
    for (entry, value) in lists.watch.hits(h, day) {
        if !entry.purpose.applies_to(kind) {
            continue;
        }
        reasons.push(Reason {
            source: ReasonSource::WatchList {
                kind: entry.kind,
                value: value.to_owned(),
            },
            action: entry.action,
            priority: entry.priority,
            weight: weight(entry.priority, entry.action),
            selected: true,
            rate: None,
            draw: None,
            en: format!(
                "watch list, {} {value}: {}",
                entry.kind.as_str(),
                entry.reason_en
            ),
            zh: format!("布控名单，{} {value}：{}", entry.kind.zh(), entry.reason_zh),
        });
    }

    // Rules.
    evaluate_rules(
        input,
        rules,
        day,
        &features,
        draw,
        &mut reasons,
        &mut errors,
        &mut stats,
    );

    // The risk model, on revenue (its labels are revenue checks): at or above its threshold it
    // exploits; below it, a declaration is explored at the model's exploration rate.
    let mut exploration = None;
    if let Some(m) = &input.model
        && Purpose::Revenue.applies_to(kind)
    {
        let selected_by = if m.score >= m.threshold {
            Some(ModelSelection::Exploitation)
        } else if m.exploration_rate > 0.0 {
            let u = draw.model_exploration(&m.model);
            let check = RandomCheck {
                rate: m.exploration_rate,
                draw: u,
                selected: u < m.exploration_rate,
            };
            exploration = Some(check);
            check.selected.then_some(ModelSelection::Exploration)
        } else {
            None
        };
        if let Some(selected_by) = selected_by {
            let action = config.model_action;
            let (en, zh, rate, u) = match selected_by {
                ModelSelection::Exploitation => (
                    format!(
                        "risk model {}: items[{}] scored {:.3}, in the riskiest {:.1} % (threshold {:.3}); {}",
                        m.model,
                        m.item,
                        m.score,
                        m.budget * 100.0,
                        m.threshold,
                        m.why_en
                    ),
                    format!(
                        "风险模型 {}：第 {} 项评分 {:.3}，位于风险最高的 {:.1}%（阈值 {:.3}）；{}",
                        m.model,
                        m.item + 1,
                        m.score,
                        m.budget * 100.0,
                        m.threshold,
                        m.why_zh
                    ),
                    1.0,
                    None,
                ),
                ModelSelection::Exploration => {
                    let u = exploration.map(|c| c.draw);
                    (
                        format!(
                            "risk model {}: explored (items[{}] scored {:.3}, below the threshold {:.3}; exploration rate {:.4}, draw {:.6}, seed {})",
                            m.model,
                            m.item,
                            m.score,
                            m.threshold,
                            m.exploration_rate,
                            u.unwrap_or_default(),
                            draw.seed
                        ),
                        format!(
                            "风险模型 {}：探索抽查（第 {} 项评分 {:.3}，低于阈值 {:.3}；探索比率 {:.4}，抽签 {:.6}，种子 {}）",
                            m.model,
                            m.item + 1,
                            m.score,
                            m.threshold,
                            m.exploration_rate,
                            u.unwrap_or_default(),
                            draw.seed
                        ),
                        m.exploration_rate,
                        u,
                    )
                }
            };
            reasons.push(Reason {
                source: ReasonSource::Model {
                    model: m.model.clone(),
                    item: m.item,
                    score: m.score,
                    threshold: m.threshold,
                    selected_by,
                },
                action,
                priority: config.model_priority,
                weight: weight(config.model_priority, action),
                selected: true,
                // The propensity: 1 for exploitation, the exploration rate for exploration.
                rate: Some(rate),
                draw: u,
                en,
                zh,
            });
        }
    }

    // Random selection.
    let rate = to_f64(config.random_rate(&h.office_of_lodging, &h.procedure, input.credit));
    let u = draw.random_selection();
    let random = RandomCheck {
        rate,
        draw: u,
        selected: u < rate,
    };
    if random.selected {
        let action = config.random_action;
        reasons.push(Reason {
            source: ReasonSource::Random,
            action,
            priority: config.random_priority,
            weight: weight(config.random_priority, action),
            selected: true,
            rate: Some(rate),
            draw: Some(u),
            en: format!(
                "random selection (rate {rate:.4}, draw {u:.6}, seed {})",
                draw.seed
            ),
            zh: format!(
                "随机布控（比率 {rate:.4}，抽签 {u:.6}，种子 {}）",
                draw.seed
            ),
        });
    }

    reasons.sort_by(|a, b| b.selected.cmp(&a.selected).then(b.weight.cmp(&a.weight)));
    let lane = reasons
        .iter()
        .filter(|r| r.selected)
        .map(|r| match r.action {
            Action::DocumentCheck => Lane::Yellow,
            _ => Lane::Red,
        })
        .max()
        .unwrap_or(Lane::Green);
    Selection {
        lane,
        reasons,
        random,
        exploration,
        seed: draw.seed,
        errors,
        stats,
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate_rules(
    input: &RiskInput,
    rules: &RuleSet,
    day: NaiveDate,
    features: &[(
        crate::features::ItemFeatures,
        Option<crate::features::ControlledValue<'_>>,
    )],
    draw: RandomDraw,
    reasons: &mut Vec<Reason>,
    errors: &mut Vec<EvaluationError>,
    stats: &mut EvaluationStats,
) {
    let candidates = rules.candidates(input);
    stats.candidates = candidates.len();
    let mut declaration_rules = Vec::new();
    let mut item_rules = Vec::new();
    for &i in &candidates {
        let rule = &rules.rules[i as usize];
        if !admits_declaration(rule, input, day) {
            continue;
        }
        if rule.per_item {
            item_rules.push(i);
        } else {
            declaration_rules.push(i);
        }
    }
    if declaration_rules.is_empty() && item_rules.is_empty() {
        return;
    }
    // Which items each per-item rule looks at.
    let admitted: Vec<Vec<usize>> = item_rules
        .iter()
        .map(|&r| {
            let rule = &rules.rules[r as usize];
            input
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| admits_item(rule, item))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    stats.evaluated_rules =
        declaration_rules.len() + admitted.iter().filter(|a| !a.is_empty()).count();
    if stats.evaluated_rules == 0 {
        return;
    }

    let root = declaration_context(&rules.env, input);
    let mut record = |rule_index: u32, items: Vec<usize>| {
        let rule = &rules.rules[rule_index as usize];
        let d = &rule.definition;
        let u = draw.rule(&d.id);
        let selected = u < rule.rate;
        let (mut en, mut zh) = (d.reason_en.clone(), d.reason_zh.clone());
        if rule.per_item {
            en = format!("{en} ({})", items_en(&items));
            zh = format!(
                "{zh}（第 {} 项）",
                items
                    .iter()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join("、")
            );
        }
        reasons.push(Reason {
            source: ReasonSource::Rule {
                id: d.id.clone(),
                version: d.version,
                items,
            },
            action: d.action,
            priority: d.priority,
            weight: weight(d.priority, d.action),
            selected,
            rate: Some(rule.rate),
            draw: Some(u),
            en,
            zh,
        });
    };
    let mut run = |ctx: &cel::Context<'_, '_>,
                   rule_index: u32,
                   item: Option<usize>,
                   errors: &mut Vec<EvaluationError>|
     -> bool {
        let rule = &rules.rules[rule_index as usize];
        let Some(expr) = &rule.expr else {
            return true;
        };
        stats.evaluations += 1;
        let problem = match ctx.resolve(expr) {
            Ok(value) => match as_bool(&value) {
                Ok(b) => return b,
                Err(got) => (
                    format!("the rule gave {got}, not a bool: no match"),
                    format!("规则结果为 {got}，不是布尔值：视为不命中"),
                ),
            },
            Err(e) => (
                format!("the rule could not be evaluated ({e}): no match"),
                format!("规则无法求值（{e}）：视为不命中"),
            ),
        };
        errors.push(EvaluationError {
            rule_id: rule.definition.id.clone(),
            version: rule.definition.version,
            item,
            en: problem.0,
            zh: problem.1,
        });
        false
    };

    for &r in &declaration_rules {
        if run(&root, r, None, errors) {
            record(r, (0..input.items.len()).collect());
        }
    }
    let mut matched: Vec<Vec<usize>> = vec![Vec::new(); item_rules.len()];
    for (i, item) in input.items.iter().enumerate() {
        let wanted: Vec<usize> = (0..item_rules.len())
            .filter(|&k| admitted[k].contains(&i))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let mut scope = root.new_inner_scope();
        bind_item(&mut scope, input, i, item, &features[i].0);
        for k in wanted {
            if run(&scope, item_rules[k], Some(i), errors) {
                matched[k].push(i);
            }
        }
    }
    for (k, items) in matched.into_iter().enumerate() {
        if !items.is_empty() {
            record(item_rules[k], items);
        }
    }
}
