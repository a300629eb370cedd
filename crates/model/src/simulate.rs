//! Learning from its own inspections, replayed: a simulation of targeting in which the platform
//! learns only the labels of what it selected.
//!
//! In production a goods item's outcome is known only when it was checked. A model retrained on
//! its own selections sees the frauds it already knows how to find and stops finding new ones
//! (DATE, Kim et al., KDD 2020; Mi et al., "Active learning for human-in-the-loop customs
//! inspection", IEEE TKDE 2022). The replay shows what a selection policy learns that way.
//!
//! **The replay.** Labelled goods items are ordered by date (then by their order in the input)
//! and cut into weeks of seven days counted from the first item's date (week `w` holds the
//! items with `(date − first date) / 7 = w`). The first `initial_weeks` weeks are labelled
//! history every policy knows in full. Then, week by week, each policy:
//!
//! 1. retrains (in the first replayed week, then once `retrain_every` weeks have passed since
//!    its last training) on the labels it has revealed so far, each weighted for how it was
//!    selected;
//! 2. selects `k = ceil(budget_pct / 100 · n)` of the week's `n` items;
//! 3. learns the labels of those `k` items only (the checks close before the next week).
//!
//! A week without items is skipped and not reported.
//!
//! **The policies.**
//!
//! - [`Policy::Hybrid`]: `k_explore = round(k · exploration_pct / 100)` items explored, the
//!   other `k − k_explore` the highest scores (exploitation). Exploration draws among the items
//!   not exploited, uniformly ([`Exploration::Random`]) or with chances in proportion to the
//!   model's uncertainty `s·(1 − s) +` [`UNCERTAINTY_FLOOR`] ([`Exploration::Uncertainty`],
//!   weighted sampling without replacement, Efraimidis–Spirakis keys). An exploited item's
//!   propensity is 1; an explored item's is `k_explore / (n − k_exploit)` (random) or
//!   `min(1, k_explore · u_i / Σu)` (uncertainty: the first-order inclusion chance; the exact
//!   one of successive sampling has no closed form). Its label is weighted
//!   `min(1 / propensity,` [`PROPENSITY_WEIGHT_MAX`]`)`: inverse propensity, clipped so a few
//!   explored labels do not outweigh the rest. History labels weigh 1.
//! - [`Policy::ExploitationOnly`]: the same model and retraining, every item of the budget the
//!   highest scores (exploration share 0).
//! - [`Policy::Random`]: `k` items uniformly at random; no model.
//! - [`Policy::FullInformation`]: the same model retrained on *every* label of the past weeks
//!   (as if every item had been checked), the `k` highest scores: the ceiling.
//!
//! **New-product frauds.** A fraud is *new to a policy* when its exact item price occurs in none
//! of the labels the policy has revealed before its week (history included). On the KCS data
//! the price is the product's identity (its generator copies product records with their label),
//! so this is "a product the policy has never learned about". The share caught is those caught
//! over all frauds new to the policy that week. A fraud is *first seen* when its price occurs in
//! no earlier item at all (labelled or not, the same set for every policy).
//!
//! Deterministic: the same items and [`SimulationConfig`] give the same [`Simulation`], every
//! random draw coming from SplitMix64 seeded by `seed`, the policy and the week.

use std::collections::HashSet;

use rust_decimal::Decimal;

use crate::history::{HISTORY_ROWS_MAX, HistoryRecord};
use crate::{FeatureConfig, TrainParams, TrainedModel, train_pipeline_weighted};

/// Weeks a replay may span (ten years): a wider span is refused before any training.
pub const SIMULATION_WEEKS_MAX: usize = 520;
/// Labelled items a replay reads at most (one history file's limit).
pub const SIMULATION_ROWS_MAX: usize = HISTORY_ROWS_MAX;
/// Weeks of labelled history every policy starts from: at least one (a model needs labels).
pub const INITIAL_WEEKS_MIN: usize = 1;
/// At most a year of starting history: the point is what is learned after it.
pub const INITIAL_WEEKS_MAX: usize = 52;
/// The weekly budget, in percent of the week's items: from 0.1 % ...
pub const BUDGET_PCT_MIN: f64 = 0.1;
/// ... to 50 % (beyond that it is no longer a selection).
pub const BUDGET_PCT_MAX: f64 = 50.0;
/// The exploration share, in percent of the budget: 0 (exploitation only) to 100.
pub const EXPLORATION_PCT_MAX: f64 = 100.0;
/// Retraining at least every quarter (13 weeks).
pub const RETRAIN_EVERY_MAX: usize = 13;
/// Clip of the inverse-propensity weight of an explored label.
pub const PROPENSITY_WEIGHT_MAX: f64 = 10.0;
/// The largest clip of the inverse-propensity weight a replay accepts (the clip's lower end is
/// 1: no weighting).
pub const WEIGHT_MAX_LIMIT: f64 = 100.0;
/// Added to `s·(1 − s)` so an item the model is sure of still has a chance to be explored.
pub const UNCERTAINTY_FLOOR: f64 = 0.01;
/// "By the end of the replay": the figures pooled over its last four weeks (one week's budget
/// is a few dozen items, too few to compare policies on).
pub const END_OF_REPLAY_WEEKS: usize = 4;

/// How the exploration part of the budget is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exploration {
    /// Uniformly among the items not exploited.
    Random,
    /// In proportion to the model's uncertainty `s·(1 − s)` plus [`UNCERTAINTY_FLOOR`].
    Uncertainty,
    /// The highest scores among the items whose price is new to the policy (no label revealed
    /// for it yet): what the model knows least about, most promising first. Deterministic:
    /// propensity 1.
    Novelty,
}

impl Exploration {
    pub fn name(self) -> &'static str {
        match self {
            Exploration::Random => "random",
            Exploration::Uncertainty => "uncertainty",
            Exploration::Novelty => "novelty",
        }
    }
}

/// The settings of a replay.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationConfig {
    /// Items selected each week, in percent of the week's items.
    pub budget_pct: f64,
    /// Part of the budget explored, in percent.
    pub exploration_pct: f64,
    pub exploration: Exploration,
    /// Weeks of fully labelled history to start from.
    pub initial_weeks: usize,
    /// Retrain every this many weeks.
    pub retrain_every: usize,
    pub seed: u64,
    /// Clip of an explored label's inverse-propensity weight (1: no weighting).
    pub weight_max: f64,
    /// The trainer's settings (its seed is replaced by `seed`).
    pub params: TrainParams,
    pub features: FeatureConfig,
}

impl SimulationConfig {
    /// The replay's defaults: 5 % budget, a fifth of it explored by novelty (the measured best
    /// on KCS, bench/ml/README.md), four weeks of history, retraining every four weeks with 100
    /// boosting rounds (the production trainer's settings otherwise): the KCS replay of the
    /// four policies takes about half a minute on two cores in a release build (weekly
    /// retraining about a minute and a half).
    pub fn new(seed: u64) -> SimulationConfig {
        SimulationConfig {
            budget_pct: 5.0,
            exploration_pct: 20.0,
            exploration: Exploration::Novelty,
            initial_weeks: 4,
            retrain_every: 4,
            seed,
            weight_max: PROPENSITY_WEIGHT_MAX,
            params: TrainParams {
                rounds: 100,
                ..TrainParams::default()
            },
            features: FeatureConfig::default(),
        }
    }
}

/// A refused replay: which setting, what is wrong, in English and Chinese.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message_en} / {message_zh}")]
pub struct SimulationError {
    pub field: &'static str,
    pub message_en: String,
    pub message_zh: String,
}

fn refuse(field: &'static str, message_en: String, message_zh: String) -> SimulationError {
    SimulationError {
        field,
        message_en,
        message_zh,
    }
}

/// The selection policies compared, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Hybrid,
    ExploitationOnly,
    Random,
    FullInformation,
}

impl Policy {
    pub const ALL: [Policy; 4] = [
        Policy::Hybrid,
        Policy::ExploitationOnly,
        Policy::Random,
        Policy::FullInformation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Hybrid => "hybrid",
            Policy::ExploitationOnly => "exploitation-only",
            Policy::Random => "random",
            Policy::FullInformation => "full-information",
        }
    }
}

/// Why an item was selected, and the chance it had to be: what a label's weight is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SelectionReason {
    /// Labelled history the replay starts from.
    History,
    /// Among the highest scores.
    Exploitation,
    /// Drawn by exploration (or by the random policy).
    Exploration { propensity: f64 },
}

impl SelectionReason {
    /// The label's training weight: 1, or the inverse propensity clipped to `weight_max`.
    pub fn weight(self, weight_max: f64) -> f32 {
        match self {
            SelectionReason::History | SelectionReason::Exploitation => 1.0,
            SelectionReason::Exploration { propensity } => {
                (1.0 / propensity).clamp(1.0, weight_max) as f32
            }
        }
    }
}

/// One policy's week.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyWeek {
    pub selected: usize,
    /// Of them, drawn by exploration.
    pub explored: usize,
    pub frauds_caught: usize,
    /// Frauds among the explored items.
    pub explored_frauds: usize,
    /// Frauds among the week's `k` highest scores of the policy's model, selected or not: what
    /// its model has learned, without the cost of exploring (0 for the random policy).
    pub model_top_k_frauds: usize,
    /// Frauds new to the policy (module doc) that week, and those of them selected.
    pub new_frauds: usize,
    pub new_frauds_caught: usize,
    /// First-seen frauds (module doc) selected.
    pub first_seen_caught: usize,
}

impl PolicyWeek {
    fn add(&mut self, other: &PolicyWeek) {
        self.selected += other.selected;
        self.explored += other.explored;
        self.frauds_caught += other.frauds_caught;
        self.explored_frauds += other.explored_frauds;
        self.model_top_k_frauds += other.model_top_k_frauds;
        self.new_frauds += other.new_frauds;
        self.new_frauds_caught += other.new_frauds_caught;
        self.first_seen_caught += other.first_seen_caught;
    }
}

/// One replayed week.
#[derive(Clone, Debug, PartialEq)]
pub struct Week {
    /// Index from the first item's week (the history weeks are 0 .. initial_weeks).
    pub index: usize,
    pub first_date: chrono::NaiveDate,
    pub items: usize,
    pub frauds: usize,
    pub first_seen_frauds: usize,
    /// In the order of [`Policy::ALL`].
    pub policies: [PolicyWeek; 4],
}

/// Figures over several weeks, per policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    pub weeks: usize,
    pub items: usize,
    pub frauds: usize,
    pub first_seen_frauds: usize,
    pub policies: [PolicyWeek; 4],
}

impl Totals {
    fn of(weeks: &[Week]) -> Totals {
        let mut totals = Totals {
            weeks: weeks.len(),
            items: 0,
            frauds: 0,
            first_seen_frauds: 0,
            policies: Default::default(),
        };
        for week in weeks {
            totals.items += week.items;
            totals.frauds += week.frauds;
            totals.first_seen_frauds += week.first_seen_frauds;
            for (total, policy) in totals.policies.iter_mut().zip(&week.policies) {
                total.add(policy);
            }
        }
        totals
    }

    fn get(&self, policy: Policy) -> &PolicyWeek {
        &self.policies[policy_idx(policy)]
    }

    /// Frauds caught over items selected (`None` when nothing was selected).
    pub fn precision(&self, policy: Policy) -> Option<f64> {
        let p = self.get(policy);
        ratio(p.frauds_caught, p.selected)
    }

    /// Frauds among the `k` highest scores of the policy's model over `k` (`None` for the
    /// random policy, which has no model).
    pub fn model_precision(&self, policy: Policy) -> Option<f64> {
        if policy == Policy::Random {
            return None;
        }
        let p = self.get(policy);
        ratio(p.model_top_k_frauds, p.selected)
    }

    /// Frauds among the explored items over the items explored.
    pub fn exploration_precision(&self, policy: Policy) -> Option<f64> {
        let p = self.get(policy);
        ratio(p.explored_frauds, p.explored)
    }

    /// Frauds caught over all frauds of the weeks.
    pub fn recall(&self, policy: Policy) -> Option<f64> {
        ratio(self.get(policy).frauds_caught, self.frauds)
    }

    /// Frauds new to the policy caught over all frauds new to it.
    pub fn new_product_share(&self, policy: Policy) -> Option<f64> {
        let p = self.get(policy);
        ratio(p.new_frauds_caught, p.new_frauds)
    }

    /// First-seen frauds caught over all first-seen frauds.
    pub fn first_seen_share(&self, policy: Policy) -> Option<f64> {
        ratio(self.get(policy).first_seen_caught, self.first_seen_frauds)
    }
}

impl Week {
    /// A week's figures as [`Totals`] (precision, recall and shares per policy).
    pub fn totals(&self) -> Totals {
        Totals::of(std::slice::from_ref(self))
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn policy_idx(policy: Policy) -> usize {
    Policy::ALL
        .iter()
        .position(|p| *p == policy)
        .expect("every policy is listed")
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    pub config: SimulationConfig,
    /// Items and frauds of the starting history.
    pub history_items: usize,
    pub history_frauds: usize,
    /// The replayed weeks that have items (after the history).
    pub weeks: Vec<Week>,
    /// Trainings run per policy (the random policy trains none).
    pub trainings: [usize; 4],
}

impl Simulation {
    /// Every replayed week.
    pub fn totals(&self) -> Totals {
        Totals::of(&self.weeks)
    }

    /// The last [`END_OF_REPLAY_WEEKS`] weeks (fewer when the replay is shorter).
    pub fn end_of_replay(&self) -> Totals {
        let from = self.weeks.len().saturating_sub(END_OF_REPLAY_WEEKS);
        Totals::of(&self.weeks[from..])
    }
}

/// Checks the settings against the limits, naming the setting at fault.
pub fn check_config(config: &SimulationConfig) -> Result<(), SimulationError> {
    if !(BUDGET_PCT_MIN..=BUDGET_PCT_MAX).contains(&config.budget_pct) {
        return Err(refuse(
            "budget_pct",
            format!(
                "{} is outside {BUDGET_PCT_MIN} to {BUDGET_PCT_MAX} percent",
                config.budget_pct
            ),
            format!(
                "{} 不在 {BUDGET_PCT_MIN} 到 {BUDGET_PCT_MAX} 百分比之间",
                config.budget_pct
            ),
        ));
    }
    if !(0.0..=EXPLORATION_PCT_MAX).contains(&config.exploration_pct) {
        return Err(refuse(
            "exploration_pct",
            format!(
                "{} is outside 0 to {EXPLORATION_PCT_MAX} percent",
                config.exploration_pct
            ),
            format!(
                "{} 不在 0 到 {EXPLORATION_PCT_MAX} 百分比之间",
                config.exploration_pct
            ),
        ));
    }
    if !(INITIAL_WEEKS_MIN..=INITIAL_WEEKS_MAX).contains(&config.initial_weeks) {
        return Err(refuse(
            "initial_weeks",
            format!(
                "{} is outside {INITIAL_WEEKS_MIN} to {INITIAL_WEEKS_MAX} weeks",
                config.initial_weeks
            ),
            format!(
                "{} 不在 {INITIAL_WEEKS_MIN} 到 {INITIAL_WEEKS_MAX} 周之间",
                config.initial_weeks
            ),
        ));
    }
    if !(1.0..=WEIGHT_MAX_LIMIT).contains(&config.weight_max) {
        return Err(refuse(
            "weight_max",
            format!("{} is outside 1 to {WEIGHT_MAX_LIMIT}", config.weight_max),
            format!("{} 不在 1 到 {WEIGHT_MAX_LIMIT} 之间", config.weight_max),
        ));
    }
    if !(1..=RETRAIN_EVERY_MAX).contains(&config.retrain_every) {
        return Err(refuse(
            "retrain_every",
            format!(
                "{} is outside 1 to {RETRAIN_EVERY_MAX} weeks",
                config.retrain_every
            ),
            format!(
                "{} 不在 1 到 {RETRAIN_EVERY_MAX} 周之间",
                config.retrain_every
            ),
        ));
    }
    Ok(())
}

/// What one policy has learned so far.
struct Learner {
    policy: Policy,
    rows: Vec<HistoryRecord>,
    weights: Vec<f32>,
    prices: HashSet<Decimal>,
    model: Option<TrainedModel>,
    /// The week it last retrained in.
    trained_week: Option<usize>,
    trainings: usize,
}

impl Learner {
    fn reveal(&mut self, record: &HistoryRecord, reason: SelectionReason, weight_max: f64) {
        self.rows.push(record.clone());
        self.weights.push(reason.weight(weight_max));
        self.prices.insert(record.item_price.normalize());
    }

    fn retrain(&mut self, config: &SimulationConfig) -> Result<(), SimulationError> {
        let params = TrainParams {
            seed: config.seed,
            ..config.params.clone()
        };
        let trained =
            train_pipeline_weighted(&self.rows, &self.weights, config.features.clone(), &params)
                .map_err(|error| {
                    refuse(
                        "history",
                        format!("training failed: {error}"),
                        format!("训练失败: {error}"),
                    )
                })?;
        self.model = Some(trained);
        self.trainings += 1;
        Ok(())
    }
}

/// SplitMix64 from a state mixed from the seed, the policy and the week.
struct Draws(u64);

impl Draws {
    fn new(seed: u64, policy: Policy, week: usize) -> Draws {
        let mut state = seed ^ 0xC0FF_EE00_D15E_A5E5;
        for byte in policy.name().bytes().chain(week.to_le_bytes()) {
            state = (state ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        Draws(state)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The week's selection: positions in the week and why each was selected.
fn select(
    scores: Option<&[f32]>,
    n: usize,
    k: usize,
    k_explore: usize,
    exploration: Exploration,
    novel: &[bool],
    draws: &mut Draws,
) -> Vec<(usize, SelectionReason)> {
    let k = k.min(n);
    let k_explore = k_explore.min(k);
    let Some(scores) = scores else {
        // No model: every item of the budget drawn uniformly (partial Fisher–Yates).
        let mut order: Vec<usize> = (0..n).collect();
        let propensity = k as f64 / n as f64;
        return (0..k)
            .map(|pick| {
                let other = pick + draws.below(n - pick);
                order.swap(pick, other);
                (order[pick], SelectionReason::Exploration { propensity })
            })
            .collect();
    };
    let mut by_score: Vec<usize> = (0..n).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let k_exploit = k - k_explore;
    let mut chosen: Vec<(usize, SelectionReason)> = by_score[..k_exploit]
        .iter()
        .map(|&pos| (pos, SelectionReason::Exploitation))
        .collect();
    let mut rest: Vec<usize> = by_score[k_exploit..].to_vec();
    rest.sort_unstable();
    if k_explore == 0 || rest.is_empty() {
        return chosen;
    }
    match exploration {
        Exploration::Random => {
            let propensity = k_explore as f64 / rest.len() as f64;
            for pick in 0..k_explore {
                let other = pick + draws.below(rest.len() - pick);
                rest.swap(pick, other);
                chosen.push((rest[pick], SelectionReason::Exploration { propensity }));
            }
        }
        Exploration::Novelty => {
            // `rest` in score order, novel items first.
            let mut ranked = rest.clone();
            ranked.sort_by(|&a, &b| {
                novel[b]
                    .cmp(&novel[a])
                    .then(scores[b].total_cmp(&scores[a]))
                    .then(a.cmp(&b))
            });
            for &pos in ranked.iter().take(k_explore) {
                chosen.push((pos, SelectionReason::Exploration { propensity: 1.0 }));
            }
        }
        Exploration::Uncertainty => {
            let uncertainty = |pos: usize| {
                let s = f64::from(scores[pos]);
                s * (1.0 - s) + UNCERTAINTY_FLOOR
            };
            let total: f64 = rest.iter().map(|&pos| uncertainty(pos)).sum();
            // Efraimidis–Spirakis: the k largest ln(u) / w are a weighted sample without
            // replacement.
            let mut keyed: Vec<(f64, usize)> = rest
                .iter()
                .map(|&pos| (draws.unit().ln() / uncertainty(pos), pos))
                .collect();
            keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, pos) in keyed.iter().take(k_explore) {
                let propensity = (k_explore as f64 * uncertainty(pos) / total).min(1.0);
                chosen.push((pos, SelectionReason::Exploration { propensity }));
            }
        }
    }
    chosen
}

fn is_fraud(record: &HistoryRecord) -> bool {
    record.label.as_ref().is_some_and(|label| label.discrepancy)
}

/// Replays the labelled items of `records` (unlabelled ones are left out) under every
/// [`Policy`]. Refuses settings outside the limits, more than [`SIMULATION_ROWS_MAX`] items, a
/// span over [`SIMULATION_WEEKS_MAX`] weeks, and a history that leaves no week to replay.
pub fn simulate(
    records: &[HistoryRecord],
    config: &SimulationConfig,
) -> Result<Simulation, SimulationError> {
    check_config(config)?;
    let mut items: Vec<&HistoryRecord> = records.iter().filter(|r| r.label.is_some()).collect();
    if items.len() > SIMULATION_ROWS_MAX {
        return Err(refuse(
            "history",
            format!(
                "{} labelled items, more than {SIMULATION_ROWS_MAX}",
                items.len()
            ),
            format!("{} 个已标注商品，超过 {SIMULATION_ROWS_MAX}", items.len()),
        ));
    }
    // Stable: items of one day keep the order they were given in.
    items.sort_by_key(|record| record.date);
    let Some(first) = items.first().map(|record| record.date) else {
        return Err(refuse(
            "history",
            "no labelled items to replay".to_owned(),
            "没有可回放的已标注商品".to_owned(),
        ));
    };
    let week_of = |record: &HistoryRecord| ((record.date - first).num_days() / 7) as usize;
    let n_weeks = week_of(items[items.len() - 1]) + 1;
    if n_weeks > SIMULATION_WEEKS_MAX {
        return Err(refuse(
            "history",
            format!("the items span {n_weeks} weeks, more than {SIMULATION_WEEKS_MAX}"),
            format!("商品跨越 {n_weeks} 周，超过 {SIMULATION_WEEKS_MAX} 周"),
        ));
    }
    if n_weeks <= config.initial_weeks {
        return Err(refuse(
            "initial_weeks",
            format!(
                "the items span {n_weeks} weeks: {} weeks of history leave none to replay",
                config.initial_weeks
            ),
            format!(
                "商品只跨越 {n_weeks} 周：{} 周历史之后没有可回放的周",
                config.initial_weeks
            ),
        ));
    }
    // Week boundaries: items[starts[w]..starts[w + 1]] is week w (possibly empty).
    let mut starts = vec![0usize; n_weeks + 1];
    for record in &items {
        starts[week_of(record) + 1] += 1;
    }
    for w in 0..n_weeks {
        starts[w + 1] += starts[w];
    }

    let mut learners: Vec<Learner> = Policy::ALL
        .iter()
        .map(|&policy| Learner {
            policy,
            rows: Vec::new(),
            weights: Vec::new(),
            prices: HashSet::new(),
            model: None,
            trained_week: None,
            trainings: 0,
        })
        .collect();
    let history = &items[..starts[config.initial_weeks]];
    for learner in &mut learners {
        for record in history {
            learner.reveal(record, SelectionReason::History, config.weight_max);
        }
    }
    let mut seen_prices: HashSet<Decimal> = history
        .iter()
        .map(|record| record.item_price.normalize())
        .collect();

    let mut weeks = Vec::new();
    for w in config.initial_weeks..n_weeks {
        let week = &items[starts[w]..starts[w + 1]];
        let n = week.len();
        let first_seen: Vec<bool> = week
            .iter()
            .map(|record| !seen_prices.contains(&record.item_price.normalize()))
            .collect();
        let frauds = week.iter().filter(|record| is_fraud(record)).count();
        let first_seen_frauds = week
            .iter()
            .zip(&first_seen)
            .filter(|(record, first)| **first && is_fraud(record))
            .count();
        if n == 0 {
            // A week without items is not reported: nothing to select, nothing to learn.
            continue;
        }
        let mut policies: [PolicyWeek; 4] = Default::default();
        {
            let k = (config.budget_pct / 100.0 * n as f64).ceil() as usize;
            let week_records: Vec<HistoryRecord> =
                week.iter().map(|record| (*record).clone()).collect();
            for (learner, outcome) in learners.iter_mut().zip(policies.iter_mut()) {
                let k_explore = match learner.policy {
                    Policy::Hybrid => (k as f64 * config.exploration_pct / 100.0).round() as usize,
                    _ => 0,
                };
                let due = learner
                    .trained_week
                    .is_none_or(|trained| w - trained >= config.retrain_every);
                let scores = if learner.policy == Policy::Random {
                    None
                } else {
                    if due {
                        learner.retrain(config)?;
                        learner.trained_week = Some(w);
                    }
                    let model = learner.model.as_ref().expect("trained above");
                    Some(model.score_records(&week_records))
                };
                let mut draws = Draws::new(config.seed, learner.policy, w);
                let novel: Vec<bool> = week
                    .iter()
                    .map(|record| !learner.prices.contains(&record.item_price.normalize()))
                    .collect();
                let chosen = select(
                    scores.as_deref(),
                    n,
                    k,
                    k_explore,
                    config.exploration,
                    &novel,
                    &mut draws,
                );
                if let Some(scores) = &scores {
                    let mut by_score: Vec<usize> = (0..n).collect();
                    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                    outcome.model_top_k_frauds = by_score[..k.min(n)]
                        .iter()
                        .filter(|&&pos| is_fraud(week[pos]))
                        .count();
                }
                for &(pos, reason) in &chosen {
                    let record = week[pos];
                    let fraud = is_fraud(record);
                    let new = !learner.prices.contains(&record.item_price.normalize());
                    // The random policy's draws are its whole selection, not exploration.
                    let explored = matches!(reason, SelectionReason::Exploration { .. })
                        && learner.policy != Policy::Random;
                    outcome.selected += 1;
                    outcome.explored += usize::from(explored);
                    outcome.explored_frauds += usize::from(explored && fraud);
                    outcome.frauds_caught += usize::from(fraud);
                    outcome.new_frauds_caught += usize::from(fraud && new);
                    outcome.first_seen_caught += usize::from(fraud && first_seen[pos]);
                }
                outcome.new_frauds = week
                    .iter()
                    .filter(|record| {
                        is_fraud(record) && !learner.prices.contains(&record.item_price.normalize())
                    })
                    .count();
                // The checks close: their labels join what the policy knows (the full-information
                // policy learns every label of the week).
                if learner.policy == Policy::FullInformation {
                    for record in week {
                        learner.reveal(record, SelectionReason::History, config.weight_max);
                    }
                } else {
                    for &(pos, reason) in &chosen {
                        learner.reveal(week[pos], reason, config.weight_max);
                    }
                }
            }
        }
        seen_prices.extend(week.iter().map(|record| record.item_price.normalize()));
        weeks.push(Week {
            index: w,
            first_date: first + chrono::Days::new(7 * w as u64),
            items: n,
            frauds,
            first_seen_frauds,
            policies,
        });
    }
    let mut trainings = [0usize; 4];
    for (count, learner) in trainings.iter_mut().zip(&learners) {
        *count = learner.trainings;
    }
    Ok(Simulation {
        config: config.clone(),
        history_items: history.len(),
        history_frauds: history.iter().filter(|record| is_fraud(record)).count(),
        weeks,
        trainings,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::history::Label;
    use crate::{GbdtModel, RiskModel, train_pipeline};

    fn params() -> TrainParams {
        // Few rounds keep the debug-build tests fast.
        TrainParams {
            rounds: 20,
            ..TrainParams::default()
        }
    }

    fn config(seed: u64) -> SimulationConfig {
        SimulationConfig {
            params: params(),
            ..SimulationConfig::new(seed)
        }
    }

    fn item(idx: usize, day: u64, product: &str, price: i64, fraud: bool) -> HistoryRecord {
        HistoryRecord {
            declaration_id: format!("D{idx:06}"),
            date: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(day),
            office: "10".to_owned(),
            procedure: "A".to_owned(),
            import_kind: "11".to_owned(),
            import_use: "21".to_owned(),
            payment: "11".to_owned(),
            transport_mode: "40".to_owned(),
            declarant: format!("DECL-{product}"),
            importer: format!("IMP-{product}"),
            seller: format!("SEL-{product}"),
            courier: None,
            hs6: "851712".to_owned(),
            dispatch_country: "CN".to_owned(),
            origin_country: "CN".to_owned(),
            tax_rate: Decimal::new(5, 0),
            tax_type: "A".to_owned(),
            origin_indicator: "G".to_owned(),
            net_mass_kg: Decimal::new(10, 0),
            item_price: Decimal::new(price, 0),
            label: Some(Label {
                discrepancy: fraud,
                critical: false,
                revenue: None,
            }),
        }
    }

    /// `weeks` weeks of 100 items a week: 10 of product A (always a fraud), 80 legitimate items
    /// of 8 products, and from week `b_from` on 10 of product B (always a fraud), which no
    /// history shows. A budget of 10 % is exactly the A items: a policy that only exploits
    /// fills it with A and never learns B.
    fn two_fraud_products(weeks: u64, b_from: u64) -> Vec<HistoryRecord> {
        let mut records = Vec::new();
        for week in 0..weeks {
            for slot in 0..100u64 {
                let day = week * 7 + slot % 7;
                let idx = records.len();
                let record = match slot {
                    0..10 => item(idx, day, "A", 111, true),
                    10..20 if week >= b_from => item(idx, day, "B", 222, true),
                    _ => {
                        let product = slot % 8;
                        item(
                            idx,
                            day,
                            &format!("L{product}"),
                            1000 + product as i64,
                            false,
                        )
                    }
                };
                records.push(record);
            }
        }
        records
    }

    fn policy(totals: &Totals, policy: Policy) -> &PolicyWeek {
        totals.get(policy)
    }

    #[test]
    fn exploration_finds_a_fraud_product_exploitation_only_never_samples() {
        let records = two_fraud_products(10, 2);
        let config = SimulationConfig {
            budget_pct: 10.0,
            exploration_pct: 50.0,
            exploration: Exploration::Random,
            initial_weeks: 2,
            ..config(7)
        };
        let simulation = simulate(&records, &config).expect("replay");
        let totals = simulation.totals();
        // Every replayed week has 20 frauds; B's are new to a policy until it selects one.
        assert_eq!(totals.frauds, 8 * 20);
        let exploit = policy(&totals, Policy::ExploitationOnly);
        assert_eq!(exploit.selected, 8 * 10);
        assert_eq!(
            exploit.new_frauds,
            8 * 10,
            "B stays new to exploitation only"
        );
        assert_eq!(exploit.new_frauds_caught, 0, "it never selects B");
        let hybrid = policy(&totals, Policy::Hybrid);
        assert!(hybrid.new_frauds_caught > 0, "exploration finds B");
        assert!(
            hybrid.new_frauds < exploit.new_frauds,
            "and B stops being new"
        );
        assert!(
            totals.new_product_share(Policy::Hybrid)
                > totals.new_product_share(Policy::ExploitationOnly)
        );
        // Once B is learned the exploited half of the budget takes A and B: by the end every
        // selected item of the hybrid is a fraud or an explored one.
        let end = simulation.end_of_replay();
        assert_eq!(end.precision(Policy::ExploitationOnly), Some(1.0));
        assert_eq!(end.precision(Policy::FullInformation), Some(1.0));
        assert!(
            end.policies[0].frauds_caught >= end.policies[0].selected - end.policies[0].explored
        );
        // B first appears in week 2: its 10 frauds that week are first seen, none later.
        assert_eq!(simulation.weeks[0].first_seen_frauds, 10);
        assert!(
            simulation.weeks[1..]
                .iter()
                .all(|week| week.first_seen_frauds == 0)
        );
    }

    #[test]
    fn uncertainty_and_novelty_exploration_find_the_new_product_too() {
        let records = two_fraud_products(8, 2);
        for exploration in [Exploration::Uncertainty, Exploration::Novelty] {
            let config = SimulationConfig {
                budget_pct: 10.0,
                exploration_pct: 50.0,
                exploration,
                initial_weeks: 2,
                retrain_every: 1,
                ..config(3)
            };
            let simulation = simulate(&records, &config).expect("replay");
            let totals = simulation.totals();
            assert!(policy(&totals, Policy::Hybrid).new_frauds_caught > 0);
            assert_eq!(
                policy(&totals, Policy::ExploitationOnly).new_frauds_caught,
                0
            );
            if exploration == Exploration::Novelty {
                // B's price is the only one new to the policy in week 2: all five explored
                // items are B frauds.
                let first = &simulation.weeks[0].policies[0];
                assert_eq!(
                    (
                        first.explored,
                        first.explored_frauds,
                        first.new_frauds_caught
                    ),
                    (5, 5, 5)
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_replay_and_another_seed_other_draws() {
        let records = two_fraud_products(6, 2);
        let config = SimulationConfig {
            budget_pct: 10.0,
            exploration_pct: 50.0,
            initial_weeks: 2,
            ..config(11)
        };
        let first = simulate(&records, &config).expect("replay");
        let second = simulate(&records, &config).expect("replay");
        assert_eq!(first, second);
        let mut differs = false;
        for seed in 12..20 {
            let other = simulate(
                &records,
                &SimulationConfig {
                    seed,
                    ..config.clone()
                },
            )
            .expect("replay");
            differs |= other.weeks != first.weeks;
        }
        assert!(differs, "the random draws depend on the seed");
    }

    #[test]
    fn the_budget_is_the_ceiling_share_of_each_week_and_policies_train_as_documented() {
        // 101 items a week (the A, legitimate and B items and one more legitimate one).
        let mut records = two_fraud_products(5, 0);
        for week in 0..5u64 {
            let idx = records.len();
            records.push(item(idx, week * 7, "L9", 1009, false));
        }
        let config = SimulationConfig {
            budget_pct: 5.0,
            exploration_pct: 40.0,
            initial_weeks: 1,
            retrain_every: 2,
            ..config(1)
        };
        let simulation = simulate(&records, &config).expect("replay");
        assert_eq!(simulation.history_items, 101);
        assert_eq!(simulation.weeks.len(), 4);
        for week in &simulation.weeks {
            assert_eq!(week.items, 101);
            for (policy, outcome) in Policy::ALL.iter().zip(&week.policies) {
                assert_eq!(outcome.selected, 6, "ceil(5 % of 101)");
                let explored = if *policy == Policy::Hybrid { 2 } else { 0 };
                assert_eq!(outcome.explored, explored, "round(40 % of 6)");
            }
        }
        // Weeks 1..=4 replayed, retraining in weeks 1 and 3; the random policy never trains.
        assert_eq!(simulation.trainings, [2, 2, 0, 2]);
    }

    #[test]
    fn labels_are_weighted_by_the_inverse_of_their_propensity_clipped() {
        assert_eq!(SelectionReason::History.weight(PROPENSITY_WEIGHT_MAX), 1.0);
        assert_eq!(
            SelectionReason::Exploitation.weight(PROPENSITY_WEIGHT_MAX),
            1.0
        );
        assert_eq!(
            SelectionReason::Exploration { propensity: 0.25 }.weight(PROPENSITY_WEIGHT_MAX),
            4.0
        );
        assert_eq!(
            SelectionReason::Exploration { propensity: 0.001 }.weight(PROPENSITY_WEIGHT_MAX),
            PROPENSITY_WEIGHT_MAX as f32
        );
    }

    #[test]
    fn exploration_draws_distinct_items_outside_the_exploited_ones() {
        let scores: Vec<f32> = (0..50).map(|idx| idx as f32 / 50.0).collect();
        // Items 0, 7 and 20 are new to the policy.
        let novel: Vec<bool> = (0..50).map(|idx| [0, 7, 20].contains(&idx)).collect();
        for exploration in [
            Exploration::Random,
            Exploration::Uncertainty,
            Exploration::Novelty,
        ] {
            let chosen = select(Some(&scores), 50, 10, 4, exploration, &novel, &mut Draws(5));
            if exploration == Exploration::Novelty {
                let explored: Vec<usize> = chosen[6..].iter().map(|(pos, _)| *pos).collect();
                assert_eq!(
                    explored,
                    vec![20, 7, 0, 43],
                    "novel first, by score, then the rest"
                );
            }
            assert_eq!(chosen.len(), 10);
            let exploited: Vec<usize> = chosen
                .iter()
                .filter(|(_, reason)| *reason == SelectionReason::Exploitation)
                .map(|(pos, _)| *pos)
                .collect();
            assert_eq!(
                exploited,
                vec![49, 48, 47, 46, 45, 44],
                "the highest scores"
            );
            let mut positions: Vec<usize> = chosen.iter().map(|(pos, _)| *pos).collect();
            positions.sort_unstable();
            positions.dedup();
            assert_eq!(positions.len(), 10, "no item twice");
            for (_, reason) in &chosen[6..] {
                let SelectionReason::Exploration { propensity } = reason else {
                    panic!("explored");
                };
                assert!(*propensity > 0.0 && *propensity <= 1.0);
                if exploration == Exploration::Random {
                    assert_eq!(*propensity, 4.0 / 44.0);
                }
            }
        }
        let random = select(
            None,
            20,
            5,
            0,
            Exploration::Random,
            &[false; 20],
            &mut Draws(5),
        );
        assert_eq!(random.len(), 5);
        assert!(
            random
                .iter()
                .all(|(_, r)| *r == SelectionReason::Exploration { propensity: 0.25 })
        );
    }

    #[test]
    fn settings_are_refused_just_outside_their_limits() {
        let ok = config(0);
        let field = |config: SimulationConfig| check_config(&config).err().map(|e| e.field);
        assert_eq!(
            field(SimulationConfig {
                budget_pct: BUDGET_PCT_MIN,
                ..ok.clone()
            }),
            None
        );
        assert_eq!(
            field(SimulationConfig {
                budget_pct: BUDGET_PCT_MAX,
                ..ok.clone()
            }),
            None
        );
        for budget_pct in [BUDGET_PCT_MIN - 0.001, BUDGET_PCT_MAX + 0.001, f64::NAN] {
            assert_eq!(
                field(SimulationConfig {
                    budget_pct,
                    ..ok.clone()
                }),
                Some("budget_pct")
            );
        }
        assert_eq!(
            field(SimulationConfig {
                exploration_pct: 0.0,
                ..ok.clone()
            }),
            None
        );
        assert_eq!(
            field(SimulationConfig {
                exploration_pct: EXPLORATION_PCT_MAX,
                ..ok.clone()
            }),
            None
        );
        for exploration_pct in [-0.001, EXPLORATION_PCT_MAX + 0.001, f64::NAN] {
            assert_eq!(
                field(SimulationConfig {
                    exploration_pct,
                    ..ok.clone()
                }),
                Some("exploration_pct")
            );
        }
        for (initial_weeks, refused) in [
            (INITIAL_WEEKS_MIN - 1, true),
            (INITIAL_WEEKS_MIN, false),
            (INITIAL_WEEKS_MAX, false),
            (INITIAL_WEEKS_MAX + 1, true),
        ] {
            assert_eq!(
                field(SimulationConfig {
                    initial_weeks,
                    ..ok.clone()
                }),
                refused.then_some("initial_weeks")
            );
        }
        for (retrain_every, refused) in [
            (0, true),
            (1, false),
            (RETRAIN_EVERY_MAX, false),
            (RETRAIN_EVERY_MAX + 1, true),
        ] {
            assert_eq!(
                field(SimulationConfig {
                    retrain_every,
                    ..ok.clone()
                }),
                refused.then_some("retrain_every")
            );
        }
        let error = check_config(&SimulationConfig {
            budget_pct: 60.0,
            ..ok
        })
        .expect_err("refused");
        assert!(error.to_string().contains("budget_pct: 60 is outside"));
        assert!(error.to_string().contains("百分比"));
    }

    #[test]
    fn a_span_of_more_weeks_than_the_limit_is_refused_before_training() {
        let config = SimulationConfig {
            initial_weeks: 1,
            ..config(0)
        };
        let last_day = 7 * (SIMULATION_WEEKS_MAX as u64 - 1);
        // Exactly the limit: two items, one in the first and one in the last week.
        let at_limit = vec![item(0, 0, "A", 1, true), item(1, last_day, "A", 1, true)];
        let simulation = simulate(&at_limit, &config).expect("at the limit");
        // The empty weeks between are skipped: one week reported, the last one.
        assert_eq!(simulation.weeks.len(), 1);
        assert_eq!(simulation.weeks[0].index, SIMULATION_WEEKS_MAX - 1);
        assert_eq!(simulation.trainings, [1, 1, 0, 1]);
        let over = vec![
            item(0, 0, "A", 1, true),
            item(1, last_day + 7, "A", 1, true),
        ];
        let error = simulate(&over, &config).expect_err("over the limit");
        assert_eq!(error.field, "history");
        assert!(error.message_en.contains("521 weeks"));
    }

    #[test]
    fn a_history_that_leaves_no_week_to_replay_is_refused() {
        let records = two_fraud_products(3, 0);
        let config = SimulationConfig {
            initial_weeks: 3,
            ..config(0)
        };
        let error = simulate(&records, &config).expect_err("no week left");
        assert_eq!(error.field, "initial_weeks");
        let unlabelled: Vec<HistoryRecord> = records
            .into_iter()
            .map(|mut record| {
                record.label = None;
                record
            })
            .collect();
        assert_eq!(
            simulate(&unlabelled, &config).expect_err("nothing").field,
            "history"
        );
    }

    #[test]
    fn unit_weights_train_the_unweighted_model_and_other_weights_change_it() {
        let records = two_fraud_products(3, 1);
        let ones = vec![1.0f32; records.len()];
        let plain = train_pipeline(&records, FeatureConfig::default(), &params()).expect("train");
        let weighted =
            train_pipeline_weighted(&records, &ones, FeatureConfig::default(), &params())
                .expect("train");
        assert_eq!(plain.model.to_bytes(), weighted.model.to_bytes());
        let uneven: Vec<f32> = (0..records.len())
            .map(|idx| 1.0 + (idx % 3) as f32)
            .collect();
        let reweighted =
            train_pipeline_weighted(&records, &uneven, FeatureConfig::default(), &params())
                .expect("train");
        assert_ne!(plain.model.to_bytes(), reweighted.model.to_bytes());
        let matrix = plain.encoder.encode_all(&records);
        let labels = vec![false; records.len()];
        for bad in [
            vec![1.0; records.len() - 1],
            vec![0.0; records.len()],
            vec![f32::NAN; records.len()],
        ] {
            assert!(matches!(
                GbdtModel::train_weighted(&matrix, &labels, &bad, &params()),
                Err(crate::ModelError::Training { .. })
            ));
        }
    }
}
