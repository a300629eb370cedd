//! Risk models (智能风险模型): labelled history imported, models trained on it and on the
//! platform's own closed checks, registered in shadow, promoted by a second analyst, rolled back;
//! every import declaration scored at acceptance by the active and shadow models, the scores and
//! the model versions recorded in the audit chain; the active model selects the riskiest share
//! (the inspection budget) with the features that pushed its score, in words.
//!
//! The model itself (features, training, scoring, explanations, metrics) is the pure `model`
//! crate; this module keeps its inputs and outputs on record. Training reads every history batch
//! and closed check; it runs on the caller's task (a command, not a request handler).

use crate::invalidation::Freshness;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use domain::{Declaration, DeclarationKind, Direction, FieldError};
use model::{HistoryRecord, Label, RiskModel, TrainedModel};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{
    DeclarationQuery, HistoryBatchRow, LinkedEvent, Projection, RiskModelRow, Store, TaskQuery,
};

use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use crate::releases::CATALOG_REFRESH;
use crate::{AssessedFigures, Clearance};

/// The largest history file imported at once, in bytes.
pub const HISTORY_BYTES_MAX: usize = 256 * 1024 * 1024;
/// The largest model file imported at once, in bytes.
pub const MODEL_IMPORT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Closed checks read as the platform's own labels, at most (the newest first).
pub const OWN_LABELS_MAX: usize = 1_000_000;
/// Recent declarations a drift report scores, at most.
pub const DRIFT_SAMPLE_MAX: usize = 5_000;
/// Population stability index from which a shift is an alert (0.1 to it: to watch).
pub const DRIFT_ALERT_PSI: f64 = 0.25;
pub const DRIFT_WATCH_PSI: f64 = 0.10;

/// Fewest recent declarations a drift report judges. Below it the population stability index
/// of ten bins is mostly sampling noise (a handful of declarations fill some bins and leave
/// others empty): the report says "too few to judge" and raises no alert.
pub const DRIFT_DECLARATIONS_MIN: usize = 30;

/// Declarations the drift monitor scores.
pub const DRIFT_MONITOR_SAMPLE: usize = 1_000;
/// How often `serve` checks the active model for drift.
pub const DRIFT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
/// The event that records a drift alert on a model's record.
pub const DRIFT_ALERT_ACTION: &str = "risk_model.drift_alert";

/// The event that records a declaration's scores.
pub const SCORED_ACTION: &str = "declaration.scored";

const MODEL_COUNTER: &str = "id:risk_model";
/// The event that registers a model (trained or imported), in shadow.
pub(crate) const REGISTERED_ACTION: &str = "risk_model.registered";
const HISTORY_COUNTER: &str = "id:history";

/// History file formats read.
const FORMATS: [&str; 1] = ["kcs"];
/// Model formats imported.
const MODEL_FORMATS: [&str; 2] = ["xgboost-json", "lightgbm-text"];

fn invalid(path: &str, en: &str, zh: &str) -> ClearanceError {
    ClearanceError::Invalid(vec![FieldError::not_allowed(path, en, zh)])
}

/// A refusal of the `model` crate, in its two languages.
fn model_refusal(path: &str, e: &model::ModelError) -> ClearanceError {
    invalid(path, &e.en(), &e.zh())
}

/// Every labelled item on record, with its row identity and, for the platform's own labels,
/// how its declaration was selected and the chance it had (`None`: a history row).
struct LabelledRecords {
    records: Vec<HistoryRecord>,
    ids: Vec<String>,
    sources: Value,
    selection: Vec<Option<(SelectedBy, f64)>>,
}

/// What a training's label weights were: whether the platform's own labels were weighted, the
/// clip, the items by how they were selected, how many were clipped, and the weights' sum and
/// largest.
fn weight_summary(selection: &[Option<(SelectedBy, f64)>], weights: &[f32]) -> Value {
    let mut by: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut clipped = 0usize;
    for s in selection {
        let name = match s {
            None => "history",
            Some((selected_by, propensity)) => {
                clipped += usize::from(*propensity > 0.0 && 1.0 / propensity > LABEL_WEIGHT_MAX);
                selected_by.as_str()
            }
        };
        *by.entry(name).or_default() += 1;
    }
    let sum: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    let largest = weights.iter().copied().fold(0.0f32, f32::max);
    json!({
        "weighted": selection.iter().any(Option::is_some),
        "rule": "inverse propensity of the platform's own labels, clipped; history rows weigh 1",
        "weight_max": LABEL_WEIGHT_MAX,
        "items_by_selection": by,
        "clipped": clipped,
        "sum": (sum * 1000.0).round() / 1000.0,
        "max": largest,
    })
}

fn choice(path: &str, raw: &str, choices: &[&str]) -> Result<(), ClearanceError> {
    if choices.contains(&raw) {
        return Ok(());
    }
    Err(ClearanceError::Invalid(vec![FieldError::invalid_format(
        path,
        &format!("one of {}", choices.join(", ")),
        &format!("以下之一：{}", choices.join("、")),
    )]))
}

/// A label or reason: printable text of a reason's length at most.
fn text(path: &str, raw: &str) -> Result<String, ClearanceError> {
    domain::numbers::parse_text(path, raw, domain::limits::REASON_LENGTH_MAX)
        .map_err(|e| ClearanceError::Invalid(vec![e]))
}

/// A file of at most `max` bytes.
fn within(len: usize, max: usize) -> Result<(), ClearanceError> {
    if len <= max {
        return Ok(());
    }
    Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
        "file",
        &format!("at most {max} bytes"),
        &format!("不超过 {max} 字节"),
    )]))
}

fn f64_of(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// A platform declaration's goods items as the model reads them (one record per item), on its
/// acceptance day. Where the declaration has no field for a KCS column, the column is empty (the
/// model learns from what it is given): payment; the courier; the tax type is the item's levy
/// mode; the origin indicator says whether a preference is claimed; the item's net mass is the
/// declaration's spread by value; the price is the item's customs value in CNY when assessed,
/// else its invoice amount.
pub fn history_records(
    declaration: &Declaration,
    declaration_id: &str,
    day: NaiveDate,
    figures: Option<&AssessedFigures>,
    label: Option<&Label>,
) -> Vec<HistoryRecord> {
    let total: Decimal = declaration.items.iter().map(|i| i.amount).sum();
    let net_mass = declaration.net_mass_kg.unwrap_or(declaration.gross_mass_kg);
    declaration
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let share = if total > Decimal::ZERO {
                item.amount / total
            } else {
                Decimal::ONE / Decimal::from(declaration.items.len().max(1))
            };
            let price = figures
                .and_then(|f| f.item_customs_values.get(i).copied())
                .unwrap_or(item.amount);
            HistoryRecord {
                declaration_id: declaration_id.to_owned(),
                date: day,
                office: declaration.office_of_lodging.as_str().to_owned(),
                procedure: declaration.procedure.as_str().to_owned(),
                import_kind: declaration.kind.name().to_owned(),
                import_use: declaration
                    .levy_nature
                    .as_ref()
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_default(),
                payment: String::new(),
                transport_mode: declaration.transport.mode.as_str().to_owned(),
                declarant: declaration.declarant.credit_code.as_str().to_owned(),
                importer: declaration.trader.credit_code.as_str().to_owned(),
                seller: declaration.overseas_party.name.clone(),
                courier: None,
                hs6: item.commodity_code.as_str().chars().take(6).collect(),
                dispatch_country: declaration
                    .dispatch_country
                    .as_ref()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                origin_country: item.origin_country.as_str().to_owned(),
                tax_rate: Decimal::ZERO,
                tax_type: item
                    .levy_mode
                    .as_ref()
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_default(),
                origin_indicator: if item.preference.is_some() { "Y" } else { "N" }.to_owned(),
                net_mass_kg: (net_mass * share).round_dp(3),
                item_price: price.round_dp(2),
                label: label.cloned(),
            }
        })
        .collect()
}

/// A registered model, loaded, with the score at which it selects.
pub(crate) struct LoadedModel {
    pub id: String,
    pub status: String,
    pub model_hash: String,
    pub trained: TrainedModel,
    /// The score from which it selects by exploitation.
    pub threshold: f64,
    /// The chance it explores a declaration scored below the threshold ([`model_shares`]).
    pub exploration_rate: f64,
    /// The mean revenue recovered by a check that found a discrepancy, in the training items
    /// that record one.
    pub mean_revenue: Option<Decimal>,
}

/// How the model's budget (a share of declarations, 0..=1) is spent with `exploration_percent`
/// of it explored (clamped to [`crate::MODEL_EXPLORATION_PERCENT_MAX`]): the share exploited
/// (the riskiest scores, `budget × (1 − e)`) and the chance that a declaration scored below that
/// threshold is explored, `budget × e / (1 − budget × (1 − e))`, the same for each: so that
/// `budget × e` of all declarations are explored, at random among those not exploited. That
/// chance is the explored declaration's propensity (its label weighs its inverse).
pub fn model_shares(budget: f64, exploration_percent: u32) -> (f64, f64) {
    let budget = budget.clamp(0.0, 1.0);
    let e = f64::from(exploration_percent.min(crate::MODEL_EXPLORATION_PERCENT_MAX)) / 100.0;
    let exploited = budget * (1.0 - e);
    let rate = if exploited < 1.0 {
        (budget * e / (1.0 - exploited)).min(1.0)
    } else {
        0.0
    };
    (exploited, rate)
}

/// The active and shadow models, loaded once each (by id and hash) and re-listed when stale.
#[derive(Default)]
pub(crate) struct ModelCatalog {
    state: Mutex<ModelCatalogState>,
    freshness: Arc<Freshness>,
}

#[derive(Default)]
struct ModelCatalogState {
    listed_at: Option<Instant>,
    in_force: Vec<Arc<LoadedModel>>,
}

impl ModelCatalog {
    pub(crate) fn watched(freshness: &Arc<Freshness>) -> ModelCatalog {
        ModelCatalog {
            state: Mutex::new(ModelCatalogState::default()),
            freshness: freshness.clone(),
        }
    }

    pub(crate) fn invalidate(&self) {
        self.state.lock().expect("model catalog lock").listed_at = None;
    }

    /// The active model first (if any), then the shadow models.
    async fn in_force<S: Store>(
        &self,
        store: &S,
        budget: f64,
        exploration_percent: u32,
    ) -> Result<Vec<Arc<LoadedModel>>, ClearanceError> {
        let loaded: HashMap<String, Arc<LoadedModel>> = {
            let state = self.state.lock().expect("model catalog lock");
            if let Some(at) = state.listed_at
                && at.elapsed() < CATALOG_REFRESH
                && self.freshness.trusted()
            {
                return Ok(state.in_force.clone());
            }
            state
                .in_force
                .iter()
                .map(|m| (format!("{}:{}", m.id, m.model_hash), m.clone()))
                .collect()
        };
        let ticket = self.freshness.ticket();
        let mut rows: Vec<RiskModelRow> = store
            .risk_models()
            .await?
            .into_iter()
            .filter(|r| r.status == "active" || r.status == "shadow")
            .collect();
        rows.sort_by_key(|r| r.status != "active");
        let mut in_force = Vec::with_capacity(rows.len());
        for row in rows {
            let key = format!("{}:{}", row.id, row.model_hash);
            let model = match loaded.get(&key) {
                Some(m) if m.status == row.status => m.clone(),
                Some(m) => Arc::new(LoadedModel {
                    id: m.id.clone(),
                    status: row.status.clone(),
                    model_hash: m.model_hash.clone(),
                    trained: m.trained.clone(),
                    threshold: m.threshold,
                    exploration_rate: m.exploration_rate,
                    mean_revenue: m.mean_revenue,
                }),
                None => Arc::new(load(store, &row, budget, exploration_percent).await?),
            };
            in_force.push(model);
        }
        let mut state = self.state.lock().expect("model catalog lock");
        if self.freshness.still(ticket) {
            state.listed_at = Some(Instant::now());
            state.in_force = in_force.clone();
        }
        Ok(in_force)
    }
}

async fn load<S: Store>(
    store: &S,
    row: &RiskModelRow,
    budget: f64,
    exploration_percent: u32,
) -> Result<LoadedModel, ClearanceError> {
    let bytes = store
        .risk_model_bytes(&row.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("risk model {} has no bytes", row.id))?;
    let trained = TrainedModel::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("stored risk model {} is not readable: {e}", row.id))?;
    let summary: Value = serde_json::from_str(&row.summary).unwrap_or(Value::Null);
    let (exploited, exploration_rate) = model_shares(budget, exploration_percent);
    Ok(LoadedModel {
        id: row.id.clone(),
        status: row.status.clone(),
        model_hash: row.model_hash.clone(),
        threshold: threshold(&summary, exploited),
        exploration_rate,
        mean_revenue: summary["mean_revenue_recovered_cny"]
            .as_str()
            .and_then(|t| t.parse().ok()),
        trained,
    })
}

/// The score at which a model selects `budget` (a share) of the items it was trained on: from
/// the percentiles of its training scores recorded with it, interpolated linearly between two
/// percentiles (a budget of 4.5 % lies between the 95th and the 96th).
pub fn threshold(summary: &Value, budget: f64) -> f64 {
    let quantiles: Vec<f64> = summary["score_percentiles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if quantiles.len() != 101 {
        return f64::INFINITY;
    }
    let at = (1.0 - budget.clamp(0.0, 1.0)) * 100.0;
    // A whole percentile up to rounding noise (0.95 × 100 is not exactly 95 in binary).
    if (at - at.round()).abs() < 1e-9 {
        return quantiles[(at.round() as usize).min(100)];
    }
    let below = (at.floor() as usize).min(99);
    let part = at - below as f64;
    quantiles[below] + part * (quantiles[below + 1] - quantiles[below])
}

/// The mean revenue a check that found a discrepancy recovered, over the items that record it;
/// `None` without any (the KCS data has none).
fn mean_revenue_recovered(train: &[HistoryRecord]) -> Option<Decimal> {
    let recovered: Vec<Decimal> = train
        .iter()
        .filter_map(|r| r.label.as_ref())
        .filter(|l| l.discrepancy)
        .filter_map(|l| l.revenue)
        .collect();
    (!recovered.is_empty())
        .then(|| (recovered.iter().sum::<Decimal>() / Decimal::from(recovered.len())).round_dp(2))
}

/// The expected revenue at risk of a score: its probability of a discrepancy times the mean
/// revenue such a discrepancy recovered, to the fen (half up); `null` without revenue labels.
fn revenue_at_risk(score: f64, mean_revenue: Option<Decimal>) -> Value {
    match (mean_revenue, Decimal::from_f64_retain(score)) {
        (Some(mean), Some(p)) => json!(
            (mean * p)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .to_string()
        ),
        _ => Value::Null,
    }
}

/// The largest training weight of a label from the platform's own checks: its inverse
/// propensity is clipped here so that a few labels drawn at a small chance (a 2 % random check
/// weighs 50 unclipped, a declaration explored at 0.5 % about 200) do not outweigh the rest.
/// The replay's clip ([`model::simulate::PROPENSITY_WEIGHT_MAX`]), whose figures are measured.
pub const LABEL_WEIGHT_MAX: f64 = model::simulate::PROPENSITY_WEIGHT_MAX;

/// How a closed check's declaration came to be checked, as its selection record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SelectedBy {
    /// The active risk model scored it at or above its threshold.
    Exploitation,
    /// The risk model explored it at its exploration rate.
    Exploration,
    /// The random selection (双随机).
    Random,
    /// A rule, a watch list, the value-control table or a missing licence.
    Rule,
    /// No reason of its selection selected it: an officer opened the check.
    Officer,
}

impl SelectedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SelectedBy::Exploitation => "exploitation",
            SelectedBy::Exploration => "exploration",
            SelectedBy::Random => "random",
            SelectedBy::Rule => "rule",
            SelectedBy::Officer => "officer",
        }
    }
}

/// Why a declaration was checked and the chance it had to be selected (its propensity), from
/// its `declaration.targeted` record (`None`: none on record). A reason that selects for certain
/// (the model's exploitation, a watch list, value control, a licence, a rule at rate 1) gives
/// propensity 1; so does a check no recorded reason asked for (an officer's). Otherwise the
/// declaration was selected by chance only, and its propensity is the chance that any of the
/// draws it was exposed to selected it, `1 − Π(1 − rate)` over the matched rules' rates, the
/// random selection's and the model's exploration rate.
pub fn selection_propensity(targeted: Option<&Value>) -> (SelectedBy, f64) {
    let Some(record) = targeted else {
        return (SelectedBy::Officer, 1.0);
    };
    let reasons = record["reasons"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let selecting: Vec<&Value> = reasons.iter().filter(|r| r["selected"] == true).collect();
    let kind = |r: &Value| r["source"]["kind"].as_str().unwrap_or_default().to_owned();
    let explored = |r: &Value| kind(r) == "model" && r["source"]["selected_by"] == "exploration";
    let by_chance = |r: &Value| {
        explored(r)
            || kind(r) == "random"
            || (kind(r) == "rule" && r["rate"].as_f64().is_some_and(|p| p < 1.0))
    };
    if selecting.is_empty() {
        return (SelectedBy::Officer, 1.0);
    }
    if let Some(certain) = selecting.iter().copied().find(|&r| !by_chance(r)) {
        let by = if kind(certain) == "model" {
            SelectedBy::Exploitation
        } else {
            SelectedBy::Rule
        };
        return (by, 1.0);
    }
    let mut rates: Vec<f64> = reasons
        .iter()
        .filter(|r| kind(r) == "rule")
        .filter_map(|r| r["rate"].as_f64())
        .collect();
    rates.extend(record["random"]["rate"].as_f64());
    rates.extend(record["model_exploration"]["rate"].as_f64());
    let missed: f64 = rates.iter().map(|p| 1.0 - p.clamp(0.0, 1.0)).product();
    let propensity = 1.0 - missed;
    let by = if selecting.iter().any(|&r| explored(r)) {
        SelectedBy::Exploration
    } else if selecting.iter().any(|&r| kind(r) == "random") {
        SelectedBy::Random
    } else {
        SelectedBy::Rule
    };
    // A record without the rates it selected by (none before they were recorded) weighs 1.
    (by, if propensity > 0.0 { propensity } else { 1.0 })
}

/// A label's training weight: its inverse propensity, at most [`LABEL_WEIGHT_MAX`].
pub fn label_weight(propensity: f64) -> f32 {
    if propensity <= 0.0 || propensity.is_nan() {
        return 1.0;
    }
    (1.0 / propensity).clamp(1.0, LABEL_WEIGHT_MAX) as f32
}

/// Percentiles 0..=100 of `scores` (nearest rank).
fn percentiles(scores: &mut [f64]) -> Vec<f64> {
    scores.sort_by(f64::total_cmp);
    (0..=100)
        .map(|p| {
            if scores.is_empty() {
                return 0.0;
            }
            let rank = ((scores.len() * p).div_ceil(100)).max(1);
            scores[rank - 1]
        })
        .collect()
}

/// The population stability index of `actual` against the bins `edges` (ascending, inner
/// edges), where the training share of each bin is `expected`. Empty bins count as 0.1 %.
fn psi(edges: &[f64], expected: &[f64], actual: &[f64]) -> f64 {
    let mut counts = vec![0usize; edges.len() + 1];
    for &v in actual {
        let bin = if v.is_nan() {
            edges.len()
        } else {
            edges.partition_point(|&e| e < v)
        };
        counts[bin.min(edges.len())] += 1;
    }
    let n = actual.len().max(1) as f64;
    counts
        .iter()
        .zip(expected)
        .map(|(&c, &e)| {
            let a = (c as f64 / n).max(0.001);
            let e = e.max(0.001);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Deciles (inner edges) and the share of values in each of the 10 bins, NaN apart.
fn decile_bins(values: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut known: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    known.sort_by(f64::total_cmp);
    if known.is_empty() {
        return (Vec::new(), vec![1.0]);
    }
    let mut edges: Vec<f64> = (1..10)
        .map(|d| known[(known.len() * d / 10).min(known.len() - 1)])
        .collect();
    edges.dedup();
    let mut counts = vec![0usize; edges.len() + 1];
    for &v in values {
        let bin = if v.is_nan() {
            edges.len()
        } else {
            edges.partition_point(|&e| e < v)
        };
        counts[bin] += 1;
    }
    let n = values.len() as f64;
    (edges, counts.iter().map(|&c| c as f64 / n).collect())
}

fn summary_of(row: &RiskModelRow) -> Value {
    serde_json::from_str(&row.summary).unwrap_or(Value::Null)
}

pub fn model_view(row: &RiskModelRow) -> Value {
    let mut summary = summary_of(row);
    if let Some(s) = summary.as_object_mut() {
        // Reference data for drift and thresholds, not for reading.
        s.remove("score_percentiles");
        s.remove("feature_bins");
    }
    json!({
        "id": row.id, "status": row.status, "source": row.source, "author": row.author,
        "model_hash": row.model_hash, "created_seq": row.created_seq,
        "promoted_by": row.promoted_by, "promoted_seq": row.promoted_seq,
        "ended_seq": row.ended_seq, "summary": summary,
    })
}

/// How `model evaluate` splits the labelled items.
#[derive(Clone, Copy, Debug)]
pub enum EvaluationSplit {
    /// Train on the items up to `train_until`, test on those from `from` to `to`.
    Period {
        train_until: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// Cross-validation over every labelled item, `folds` folds grouped by price.
    PriceFolds { folds: u32 },
}

/// What an evaluation runs.
#[derive(Clone, Copy, Debug)]
pub struct EvaluationRequest<'a> {
    pub split: EvaluationSplit,
    /// A registered model to evaluate instead of training one (time split only).
    pub model: Option<&'a str>,
    /// Evaluate a registered model whose training period reaches into the test period (or is
    /// unknown), flagged in the result, instead of refusing it.
    pub allow_overlap: bool,
    /// What the caller types to set `allow_overlap`, named by the refusal: `--allow-overlap` on
    /// the command line ([`ALLOW_OVERLAP_FLAG`]), the field's name in a JSON body.
    pub allow_overlap_named: &'a str,
}

/// The command line's name of [`EvaluationRequest::allow_overlap`].
pub const ALLOW_OVERLAP_FLAG: &str = "--allow-overlap";

/// One evaluated item: a line of the scores file.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredRow {
    /// `<declaration id>/<item>` ([`model::history::row_ids`]).
    pub row_id: String,
    pub score: f64,
    pub discrepancy: bool,
    pub unseen_price: bool,
    /// The price fold that held it out (cross-validation only).
    pub fold: Option<u32>,
}

/// An evaluation: the figures as JSON and as a table, and every item's score.
#[derive(Clone, Debug)]
pub struct EvaluationReport {
    pub view: Value,
    pub table: String,
    pub rows: Vec<ScoredRow>,
}

/// The header of a scores file.
pub const SCORES_HEADER: &str = "row_id,score,label,unseen_price,fold";

/// A scores file: CSV (RFC 4180, `\n` line ends), the header [`SCORES_HEADER`], then one line
/// per evaluated item in the order evaluated: its row identity, the model's probability (the
/// shortest decimal that reads back to the same 32-bit float), the outcome (1 a discrepancy,
/// 0 none), 1 when its exact price is not among the training items' prices, and the price fold
/// that held it out (empty for a time split). Every figure `model evaluate` prints can be
/// recomputed from it.
pub fn scores_csv(rows: &[ScoredRow]) -> String {
    let mut out = String::with_capacity(32 * (rows.len() + 1));
    out.push_str(SCORES_HEADER);
    out.push('\n');
    for row in rows {
        let id = if row.row_id.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", row.row_id.replace('"', "\"\""))
        } else {
            row.row_id.clone()
        };
        // The score is an f32 widened exactly: its shortest f32 text reads back bit for bit.
        out.push_str(&format!(
            "{id},{},{},{},{}\n",
            row.score as f32,
            u8::from(row.discrepancy),
            u8::from(row.unseen_price),
            row.fold.map(|f| f.to_string()).unwrap_or_default()
        ));
    }
    out
}

/// A registered model's training period, when its record has one.
fn training_period(summary: &Value) -> Option<(NaiveDate, NaiveDate)> {
    let day = |v: &Value| {
        v.as_str()
            .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
    };
    Some((
        day(&summary["training_period"][0])?,
        day(&summary["training_period"][1])?,
    ))
}

fn imported_before(digest: &str) -> ClearanceError {
    invalid(
        "file",
        &format!("was imported before (SHA-256 {digest})"),
        &format!("此文件已导入（SHA-256 {digest}）"),
    )
}

fn batch_view(row: &HistoryBatchRow) -> Value {
    json!({
        "id": row.id, "format": row.format, "label": row.label, "digest": row.digest,
        "rows": row.rows, "labelled": row.labelled, "first_date": row.first_date,
        "last_date": row.last_date, "imported_by": row.imported_by,
        "imported_seq": row.imported_seq,
    })
}

/// Evaluation figures as JSON.
pub fn evaluation_view(evaluation: &model::evaluate::Evaluation) -> Value {
    let view = |v: &model::evaluate::ViewMetrics| {
        json!({
            "rows": v.n_rows, "positives": v.n_positive, "auc": v.auc,
            "rates": v.rates.iter().map(|r| json!({
                "rate_pct": r.rate_pct, "top_k": r.top_k,
                "top_k_precision": r.top_k_precision, "top_k_recall": r.top_k_recall,
                "date_selected": r.date_selected, "date_precision": r.date_precision,
                "date_recall": r.date_recall, "revenue_share": r.revenue_share,
            })).collect::<Vec<_>>(),
        })
    };
    json!({ "all": view(&evaluation.all), "unseen_price": view(&evaluation.unseen_price) })
}

/// What a declaration's scoring adds to its acceptance: the verdict of the active model for
/// selection, and the record of every score.
pub(crate) struct Scoring {
    pub verdict: Option<risk::ModelVerdict>,
    pub event: Option<LinkedEvent>,
    /// The models that scored it (for the operators' counts).
    pub scored_by: Vec<String>,
}

/// The strongest reasons of a score, in words: `description (+0.84)`.
fn why(scored: &model::Scored) -> (String, String, Vec<Value>) {
    let parts: Vec<(String, String, Value)> = scored
        .top_contributions
        .iter()
        .take(3)
        .map(|c| {
            let value = if c.value.is_nan() {
                Value::Null
            } else {
                json!(c.value)
            };
            (
                format!("{} ({:+.2})", c.feature.description_en, c.log_odds),
                format!("{}（{:+.2}）", c.feature.description_zh, c.log_odds),
                json!({
                    "feature": c.feature.name, "en": c.feature.description_en,
                    "zh": c.feature.description_zh, "value": value, "log_odds": c.log_odds,
                }),
            )
        })
        .collect();
    let en = parts
        .iter()
        .map(|p| p.0.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let zh = parts
        .iter()
        .map(|p| p.1.as_str())
        .collect::<Vec<_>>()
        .join("；");
    (en, zh, parts.into_iter().map(|p| p.2).collect())
}

impl<S: Store> Clearance<S> {
    /// Scores an import declaration with the models in force. Exports and summary declarations
    /// are not scored (the models learn from import revenue checks).
    pub(crate) async fn score_declaration(
        &self,
        declaration_id: &str,
        declaration: &Declaration,
        figures: Option<&AssessedFigures>,
        day: NaiveDate,
    ) -> Result<Scoring, ClearanceError> {
        let none = Scoring {
            verdict: None,
            event: None,
            scored_by: Vec::new(),
        };
        if declaration.direction != Direction::Import
            || matches!(declaration.kind, DeclarationKind::Summary)
        {
            return Ok(none);
        }
        let budget = f64_of(self.config.model_budget);
        let exploration_percent = self.config.model_exploration_percent;
        let models = self
            .models
            .in_force(&self.store, budget, exploration_percent)
            .await?;
        let (exploited, _) = model_shares(budget, exploration_percent);
        if models.is_empty() {
            return Ok(none);
        }
        let records = history_records(declaration, declaration_id, day, figures, None);
        let mut scores = Vec::with_capacity(models.len());
        let mut verdict = None;
        let mut explanation = Value::Null;
        for m in &models {
            let item_scores = m.trained.score_records(&records);
            let (item, score) =
                item_scores
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::MIN),
                        |best, (i, &s)| if s > best.1 { (i, s) } else { best },
                    );
            let score = f64::from(score);
            scores.push(json!({
                "model": m.id, "status": m.status, "model_hash": m.model_hash,
                "score": score, "item": item, "threshold": m.threshold,
                "revenue_at_risk_cny": revenue_at_risk(score, m.mean_revenue),
            }));
            if m.status == "active" {
                // Explained only when it selects: the explanation costs more than the score.
                let (why_en, why_zh) = if score >= m.threshold {
                    let scored = m.trained.score_record(&records[item]);
                    let (en, zh, parts) = why(&scored);
                    explanation = json!({ "model": m.id, "item": item, "contributions": parts,
                                          "bias": scored.bias, "margin": scored.margin });
                    (en, zh)
                } else {
                    (String::new(), String::new())
                };
                verdict = Some(risk::ModelVerdict {
                    model: m.id.clone(),
                    score,
                    threshold: m.threshold,
                    budget: exploited,
                    exploration_rate: m.exploration_rate,
                    item,
                    why_en,
                    why_zh,
                });
            }
        }
        let payload = json!({ "scores": scores, "explanation": explanation });
        Ok(Scoring {
            verdict,
            scored_by: models.iter().map(|m| m.id.clone()).collect(),
            event: Some(LinkedEvent {
                // Scoring is the models' act (each named with its hash), not the lodging caller's.
                actor: Some(crate::system_actor()),
                subject: declaration_id.to_owned(),
                action: SCORED_ACTION.to_owned(),
                payload: payload.to_string(),
                expected_version: None,
                projection: Projection::Nothing,
            }),
        })
    }

    /// A declaration's scores by the models in force at its acceptance, and the explanation of
    /// the active model's when it selected (customs roles that read rules: never the trade).
    /// `None` when it was not scored.
    pub async fn scores(
        &self,
        caller: &Caller,
        id_or_number: &str,
    ) -> Result<Option<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        let row = self.visible_row(caller, id_or_number).await?;
        let scored = self
            .store
            .events(&row.id)
            .await?
            .into_iter()
            .rfind(|e| e.action == SCORED_ACTION);
        scored
            .map(|e| {
                serde_json::from_str(&e.payload).map_err(|err| {
                    ClearanceError::Internal(anyhow::anyhow!(
                        "stored scores {} are not readable: {err}",
                        e.seq
                    ))
                })
            })
            .transpose()
    }

    /// Imports a file of labelled past goods items (`kcs`: the Korea Customs Service format)
    /// for training. Every problem is named by line and column; the same file twice is refused.
    pub async fn import_history(
        &self,
        caller: &Caller,
        format: &str,
        label: &str,
        file: &str,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageModels)?;
        choice("format", format, &FORMATS)?;
        let label = text("label", label)?;
        within(file.len(), HISTORY_BYTES_MAX)?;
        let records = model::history::parse_kcs(file.as_bytes()).map_err(|errors| {
            ClearanceError::Invalid(
                errors
                    .into_iter()
                    .map(|e| {
                        let path = match &e.column {
                            Some(column) => format!("line {}, column \"{column}\"", e.line),
                            None => format!("line {}", e.line),
                        };
                        FieldError::not_allowed(path, &e.message_en, &e.message_zh)
                    })
                    .collect(),
            )
        })?;
        let digest = hex::encode(Sha256::digest(file.as_bytes()));
        let batches = self.store.history_batches().await?;
        if batches.iter().any(|b| b.digest == digest) {
            return Err(imported_before(&digest));
        }
        // Rows already on record (by row identity: declaration id and item) are reported and
        // skipped: they stay in the stored file, and every read keeps the first batch's row.
        let known = self.history_row_index(&batches).await?;
        let ids = model::history::row_ids(&records);
        let mut overlapping = 0usize;
        let mut differing = 0usize;
        let mut overlapped_batches: Vec<String> = Vec::new();
        let mut fresh: Vec<&HistoryRecord> = Vec::new();
        for (record, id) in records.iter().zip(&ids) {
            match known.get(id) {
                None => fresh.push(record),
                Some((batch, line)) => {
                    overlapping += 1;
                    if *line != model::history::canonical_line(record) {
                        differing += 1;
                    }
                    if !overlapped_batches.contains(batch) {
                        overlapped_batches.push(batch.clone());
                    }
                }
            }
        }
        let (Some(first), Some(last)) = (
            fresh.iter().map(|r| r.date).min(),
            fresh.iter().map(|r| r.date).max(),
        ) else {
            if records.is_empty() {
                return Err(invalid("file", "has no rows", "没有数据行"));
            }
            return Err(invalid(
                "file",
                &format!(
                    "every row was imported before (same declaration id and item), in {}",
                    overlapped_batches.join(", ")
                ),
                &format!(
                    "所有数据行均已导入（相同申报单号及项号），见 {}",
                    overlapped_batches.join("、")
                ),
            ));
        };
        let serial = self.store.reserve_serials(HISTORY_COUNTER, 1).await?;
        let batch = HistoryBatchRow {
            id: format!("H-{serial:04}"),
            format: format.to_owned(),
            label,
            digest: digest.clone(),
            rows: fresh.len() as u64,
            labelled: fresh.iter().filter(|r| r.label.is_some()).count() as u64,
            first_date: first.to_string(),
            last_date: last.to_string(),
            imported_by: caller.user_id().to_owned(),
            imported_seq: None,
        };
        let mut view = batch_view(&batch);
        view["file_rows"] = json!(records.len());
        view["overlapping"] = json!({
            "rows": overlapping,
            "differing": differing,
            "batches": overlapped_batches,
            "note": "rows whose declaration id and item were imported before are skipped; \
                     the first import's row is kept",
        });
        self.append_reference_event(
            caller,
            format!("history:{}", batch.id),
            "history.imported",
            view.clone(),
            Projection::ImportHistory {
                batch,
                text: file.to_owned(),
            },
            "file",
            |_| ClearanceError::NotFound,
        )
        .await
        .map_err(|e| match e {
            ClearanceError::Invalid(_) => imported_before(&digest),
            other => other,
        })?;
        Ok(view)
    }

    /// Every history row on record by identity: the batch that holds it first and its
    /// canonical line.
    async fn history_row_index(
        &self,
        batches: &[HistoryBatchRow],
    ) -> Result<HashMap<String, (String, String)>, ClearanceError> {
        let mut index = HashMap::new();
        for batch in batches {
            let parsed = self.stored_batch(batch).await?;
            for (record, id) in parsed.iter().zip(model::history::row_ids(&parsed)) {
                index
                    .entry(id)
                    .or_insert_with(|| (batch.id.clone(), model::history::canonical_line(record)));
            }
        }
        Ok(index)
    }

    /// A stored batch's rows, read again from its text.
    pub(crate) async fn stored_batch(
        &self,
        batch: &HistoryBatchRow,
    ) -> Result<Vec<HistoryRecord>, ClearanceError> {
        let text = self
            .store
            .history_text(&batch.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("history batch {} has no text", batch.id))?;
        Ok(model::history::parse_kcs(text.as_bytes()).map_err(|e| {
            anyhow::anyhow!(
                "stored history batch {} no longer parses: {}",
                batch.id,
                e[0]
            )
        })?)
    }

    /// Every history batch (customs roles that read rules).
    pub async fn history_batches(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        Ok(self
            .store
            .history_batches()
            .await?
            .iter()
            .map(batch_view)
            .collect())
    }

    /// Every labelled item on record: the history batches, and the goods items of declarations
    /// whose checks were closed with a finding (discrepancy yes or no, and the revenue it
    /// recovered), each on its acceptance day. A history row whose identity (declaration id and
    /// item, [`model::history::row_ids`]) an earlier batch holds is left out: the first import
    /// wins.
    pub async fn training_records(&self) -> Result<(Vec<HistoryRecord>, Value), ClearanceError> {
        let (records, _, sources) = self.identified_records().await?;
        Ok((records, sources))
    }

    /// [`Clearance::training_records`] with each item's row identity: `<declaration id>/<item>`
    /// (the history's declaration ids, or the platform's for its closed checks).
    pub async fn identified_records(
        &self,
    ) -> Result<(Vec<HistoryRecord>, Vec<String>, Value), ClearanceError> {
        let labelled = self.labelled_records().await?;
        Ok((labelled.records, labelled.ids, labelled.sources))
    }

    /// Every labelled item on record ([`Clearance::identified_records`]), with how each was
    /// selected: history rows were not selected by the platform.
    async fn labelled_records(&self) -> Result<LabelledRecords, ClearanceError> {
        let mut records = Vec::new();
        let mut ids = Vec::new();
        let mut sources = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for batch in self.store.history_batches().await? {
            let parsed = self.stored_batch(&batch).await?;
            let batch_ids = model::history::row_ids(&parsed);
            let mut kept = 0usize;
            let mut overlapping = 0usize;
            for (record, id) in parsed.into_iter().zip(batch_ids) {
                if seen.insert(id.clone()) {
                    kept += 1;
                    records.push(record);
                    ids.push(id);
                } else {
                    overlapping += 1;
                }
            }
            let mut source = json!({ "history": batch.id, "rows": kept });
            if overlapping > 0 {
                source["overlapping_skipped"] = json!(overlapping);
            }
            sources.push(source);
        }
        let own = self.own_labels().await?;
        sources.push(json!({ "closed_checks": own.len() }));
        let mut selection = vec![None; records.len()];
        let (own, own_selection): (Vec<HistoryRecord>, Vec<_>) = own
            .into_iter()
            .map(|(record, by, propensity)| (record, Some((by, propensity))))
            .unzip();
        ids.extend(model::history::row_ids(&own));
        records.extend(own);
        selection.extend(own_selection);
        Ok(LabelledRecords {
            records,
            ids,
            sources: Value::Array(sources),
            selection,
        })
    }

    /// The goods items of the declarations whose checks were closed with a finding, each with
    /// how its declaration was selected and the chance it had ([`selection_propensity`]).
    async fn own_labels(&self) -> Result<Vec<(HistoryRecord, SelectedBy, f64)>, ClearanceError> {
        let closed = self
            .store
            .tasks(&TaskQuery {
                status: Some("closed".to_owned()),
                limit: OWN_LABELS_MAX,
                ..TaskQuery::default()
            })
            .await?;
        // One label per declaration, in the order its first check closed (a declaration with
        // several checks: a discrepancy if any found one, the latest revenue recorded).
        let mut order: Vec<&str> = Vec::new();
        let mut labels: HashMap<&str, Label> = HashMap::new();
        // Only checks label: a hold, a manual assessment or a request's review finds nothing
        // about the goods.
        for task in closed
            .iter()
            .filter(|t| crate::tasks::is_check_kind(&t.kind))
        {
            let outcome: Value = task
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            let discrepancy = outcome["discrepancy"] == true;
            let revenue = outcome["revenue_difference"]["total"]
                .as_str()
                .and_then(|t| t.parse::<Decimal>().ok());
            let label = labels
                .entry(task.declaration_id.as_str())
                .or_insert_with(|| {
                    order.push(task.declaration_id.as_str());
                    Label {
                        discrepancy: false,
                        critical: false,
                        revenue: None,
                    }
                });
            label.discrepancy |= discrepancy;
            if revenue.is_some() {
                label.revenue = revenue;
            }
        }
        let by_declaration = order
            .into_iter()
            .filter_map(|id| labels.remove(id).map(|label| (id.to_owned(), label)));
        let mut records = Vec::new();
        for (id, label) in by_declaration {
            let Some(row) = self.store.declaration(&id).await? else {
                continue;
            };
            let state = self.state_of(&row).await?;
            if state.declaration.direction != Direction::Import {
                continue;
            }
            let figures = self
                .assessment_records(&id)
                .await?
                .last()
                .and_then(AssessedFigures::of_record);
            let day = self.date_of_ms(row.lodged_at_ms);
            let targeted: Option<Value> = self
                .store
                .events(&id)
                .await?
                .into_iter()
                .rfind(|e| e.action == crate::targeting::TARGETED_ACTION)
                .and_then(|e| serde_json::from_str(&e.payload).ok());
            let (by, propensity) = selection_propensity(targeted.as_ref());
            records.extend(
                history_records(&state.declaration, &id, day, figures.as_ref(), Some(&label))
                    .into_iter()
                    .map(|record| (record, by, propensity)),
            );
        }
        Ok(records)
    }

    /// Trains a model on every labelled item up to `until` (inclusive) and registers it in
    /// shadow: scored and recorded with every import declaration, not acting until another
    /// analyst promotes it. The record names the training period, the data's and the model's
    /// SHA-256 and the sources.
    pub async fn train_model(
        &self,
        caller: &Caller,
        label: &str,
        until: Option<NaiveDate>,
    ) -> Result<Value, ClearanceError> {
        self.train_model_until_stopped(caller, label, until, &AtomicBool::new(false))
            .await
    }

    /// [`Clearance::train_model`], given up between boosting rounds once `stop` is set (the
    /// request that asked for it timed out or went away): nothing is registered, and the
    /// answer is `Unavailable`.
    pub async fn train_model_until_stopped(
        &self,
        caller: &Caller,
        label: &str,
        until: Option<NaiveDate>,
        stop: &AtomicBool,
    ) -> Result<Value, ClearanceError> {
        self.train_and_register(caller, label, until, stop, None)
            .await
    }

    /// Trains and registers as [`Clearance::train_model_until_stopped`]; with `job` (a training
    /// job's id) the model is registered once per job: a job trained again (delivered twice)
    /// answers the model registered first.
    pub(crate) async fn train_and_register(
        &self,
        caller: &Caller,
        label: &str,
        until: Option<NaiveDate>,
        stop: &AtomicBool,
        job: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageModels)?;
        let label = text("label", label)?;
        let labelled = self.labelled_records().await?;
        let sources = labelled.sources;
        let (train, selection): (Vec<HistoryRecord>, Vec<_>) = labelled
            .records
            .into_iter()
            .zip(labelled.selection)
            .filter(|(r, _)| r.label.is_some() && until.is_none_or(|u| r.date <= u))
            .unzip();
        // The platform's own labels are weighted for how they were selected (inverse
        // propensity, clipped): a model trained on its own checks as they come learns its own
        // bias. Without any, the unweighted trainer (the same model as ever).
        let weights: Vec<f32> = selection
            .iter()
            .map(|s| s.map_or(1.0, |(_, propensity)| label_weight(propensity)))
            .collect();
        let weighting = weight_summary(&selection, &weights);
        let trained = if selection.iter().any(Option::is_some) {
            model::train_pipeline_weighted_until_stopped(
                &train,
                &weights,
                model::FeatureConfig::default(),
                &model::TrainParams::default(),
                stop,
            )
        } else {
            model::train_pipeline_until_stopped(
                &train,
                model::FeatureConfig::default(),
                &model::TrainParams::default(),
                stop,
            )
        }
        .map_err(|e| match e {
            model::ModelError::Stopped => ClearanceError::Unavailable(e.to_string()),
            e => model_refusal("history", &e),
        })?;
        self.register_model(
            caller,
            "trained",
            &label,
            trained,
            &train,
            sources,
            Some(weighting),
            None,
            stop,
            job,
        )
        .await
    }

    /// Imports a model trained elsewhere (XGBoost JSON or LightGBM text) on the features of a
    /// registered model `features_of` (its encoder, so its feature order), in shadow. The record
    /// carries the model's own provenance: the file's SHA-256 and format, who imported it and
    /// when, and the training period its maker declares (`trained_on`, first and last day), or
    /// none: never the donor's training period, rows or data hash, which describe another model.
    pub async fn import_model(
        &self,
        caller: &Caller,
        format: &str,
        bytes: &[u8],
        features_of: &str,
        label: &str,
        trained_on: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageModels)?;
        choice("format", format, &MODEL_FORMATS)?;
        let label = text("label", label)?;
        within(bytes.len(), MODEL_IMPORT_BYTES_MAX)?;
        if let Some((first, last)) = trained_on
            && first > last
        {
            return Err(invalid(
                "trained_until",
                "the declared training period ends before it starts",
                "声明的训练期结束早于开始",
            ));
        }
        let base = self.stored_model(features_of, "features_of").await?;
        let n = base.encoder.features().len();
        let imported = match format {
            "xgboost-json" => model::GbdtModel::import_xgboost_json(bytes, n),
            _ => model::GbdtModel::import_lightgbm_text(bytes, n),
        }
        .map_err(|e| model_refusal("file", &e))?;
        let donor_period = base.training.period;
        let mut training = base.training.clone();
        training.model_hash = hex::encode(Sha256::digest(imported.to_bytes()));
        if let Some(period) = trained_on {
            training.period = period;
        }
        let trained = TrainedModel {
            encoder: base.encoder,
            model: imported,
            training,
        };
        // Reference items for the score thresholds and the drift baselines: the donor's
        // training items (the features this model reads were fitted on them).
        let (records, sources) = self.training_records().await?;
        let (first, last) = donor_period;
        let reference: Vec<HistoryRecord> = records
            .into_iter()
            .filter(|r| r.label.is_some() && r.date >= first && r.date <= last)
            .collect();
        let sources = json!({ "format": format, "features_of": features_of, "history": sources });
        let provenance = json!({
            "file_sha256": hex::encode(Sha256::digest(bytes)),
            "format": format,
            "imported_by": caller.user_id(),
            "imported_at": self.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "features_of": features_of,
            "declared_training_period": trained_on.map(|(a, b)| [a.to_string(), b.to_string()]),
            "reference_items": {
                "rows": reference.len(),
                "period": [first.to_string(), last.to_string()],
                "note": "the features' donor's training items, scored for the selection threshold \
                         and the drift baselines; not what this model was trained on",
            },
        });
        let never = AtomicBool::new(false);
        self.register_model(
            caller,
            "imported",
            &label,
            trained,
            &reference,
            sources,
            None,
            Some(provenance),
            &never,
            None,
        )
        .await
    }

    // More than clippy's seven: the stop and the label weights are a training's only, and a
    // struct for two private calls would only rename the arguments.
    #[allow(clippy::too_many_arguments)]
    async fn register_model(
        &self,
        caller: &Caller,
        source: &str,
        label: &str,
        trained: TrainedModel,
        train: &[HistoryRecord],
        sources: Value,
        label_weights: Option<Value>,
        provenance: Option<Value>,
        stop: &AtomicBool,
        job: Option<&str>,
    ) -> Result<Value, ClearanceError> {
        // The training items' scores (out of fold, as a new declaration would be scored) give
        // the thresholds and the reference distributions drift is measured against.
        // (A model imported onto a registered model's features has only its encoder's
        // full-training statistics: its training items are scored as new ones would be.)
        let matrix = if train.is_empty() {
            None
        } else if trained.encoder.has_fold_statistics() {
            Some(trained.encoder.encode_training(train))
        } else {
            Some(trained.encoder.encode_all(train))
        };
        let mut scores: Vec<f64> = matrix
            .as_ref()
            .map(|m| {
                trained
                    .model
                    .score_matrix(m)
                    .into_iter()
                    .map(f64::from)
                    .collect()
            })
            .unwrap_or_default();
        let feature_bins: Vec<Value> = match &matrix {
            Some(m) => (0..m.n_columns)
                .map(|c| {
                    let column: Vec<f64> = (0..m.n_rows).map(|r| f64::from(m.row(r)[c])).collect();
                    let (edges, shares) = decile_bins(&column);
                    json!({ "edges": edges, "shares": shares })
                })
                .collect(),
            None => Vec::new(),
        };
        // The training items' own figures (their features out of fold, the trees in sample: an
        // upper bound; `model evaluate` measures on a later period).
        let labels: Vec<bool> = train
            .iter()
            .map(|r| r.label.as_ref().is_some_and(|l| l.discrepancy))
            .collect();
        let training_metrics = (scores.len() == labels.len() && !scores.is_empty()).then(|| {
            let (precision, recall) = model::metrics::top_k_precision_recall(&scores, &labels, 5);
            json!({
                "auc": model::metrics::auc(&scores, &labels),
                "top_5_pct_precision": precision, "top_5_pct_recall": recall,
                "note": "on the training items (in sample)",
            })
        });
        let score_percentiles = percentiles(&mut scores);
        let t = &trained.training;
        let bytes = trained.to_bytes();
        // Scoring the training items takes as long as training: whoever asked may be gone by
        // now, and a model nobody waited for is not registered.
        if stop.load(Ordering::Relaxed) {
            return Err(ClearanceError::Unavailable(
                model::ModelError::Stopped.to_string(),
            ));
        }
        let serial = self.store.reserve_serials(MODEL_COUNTER, 1).await?;
        let id = format!("M-{serial:04}");
        let mut summary = json!({
            "label": label,
            "training_rows": t.rows,
            "training_positives": t.positives,
            "training_period": [t.period.0.to_string(), t.period.1.to_string()],
            "data_hash": t.data_hash,
            "features": trained.encoder.feature_names(),
            "sources": sources,
            // How the training labels were weighted (trained models; `null` when imported).
            "label_weights": label_weights,
            "training_metrics": training_metrics,
            "score_percentiles": score_percentiles,
            "mean_revenue_recovered_cny": mean_revenue_recovered(train).map(|m| m.to_string()),
            "feature_bins": feature_bins,
        });
        // A model made elsewhere: what it was trained on is what its maker declares, if
        // anything; the figures above describe the reference items, not its training.
        if let Some(provenance) = provenance {
            summary["training_rows"] = Value::Null;
            summary["training_positives"] = Value::Null;
            summary["data_hash"] = Value::Null;
            summary["training_period"] = provenance["declared_training_period"].clone();
            if let Some(metrics) = summary["training_metrics"].as_object_mut() {
                metrics.insert(
                    "note".to_owned(),
                    json!("on the reference items (the features' donor's training items)"),
                );
            }
            summary["provenance"] = provenance;
        }
        let row = RiskModelRow {
            id: id.clone(),
            status: "shadow".to_owned(),
            source: source.to_owned(),
            author: caller.user_id().to_owned(),
            model_hash: t.model_hash.clone(),
            summary: summary.to_string(),
            created_seq: None,
            promoted_by: None,
            promoted_seq: None,
            ended_seq: None,
        };
        let mut view = model_view(&row);
        view["status"] = json!("shadow");
        if let Some(job) = job {
            view["training_job"] = json!(job);
        }
        let projection = Projection::NewRiskModel { model: row, bytes };
        let Some(job) = job else {
            self.model_event(caller, &id, REGISTERED_ACTION, view, projection)
                .await?;
            return self.model(&id).await;
        };
        let first = self
            .append_reference_event_once(
                caller,
                format!("model:{id}"),
                REGISTERED_ACTION,
                view,
                projection,
                (crate::training_jobs::JOB_SCOPE, job),
            )
            .await;
        self.invalidate(&[crate::invalidation::Cache::Models]);
        match first? {
            None => self.model(&id).await,
            // Trained twice (the job delivered again): the model of the first registration.
            Some(first) => self.model(first.subject.trim_start_matches("model:")).await,
        }
    }

    /// Appends a change of the registry on the model's subject; the catalog of the models in
    /// force is read again at the next acceptance.
    async fn model_event(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        payload: Value,
        projection: Projection,
    ) -> Result<(), ClearanceError> {
        let appended = self
            .append_reference_event(
                caller,
                format!("model:{id}"),
                action,
                payload,
                projection,
                "model",
                |_| ClearanceError::NotFound,
            )
            .await;
        self.invalidate(&[crate::invalidation::Cache::Models]);
        appended
    }

    /// A registered model, loaded; an unknown id is refused at `path`.
    async fn stored_model(&self, id: &str, path: &str) -> Result<TrainedModel, ClearanceError> {
        let bytes = self.store.risk_model_bytes(id).await?.ok_or_else(|| {
            invalid(
                path,
                &format!("no risk model {id}"),
                &format!("没有风险模型 {id}"),
            )
        })?;
        Ok(TrainedModel::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("stored risk model {id} is not readable: {e}"))?)
    }

    pub(crate) async fn model(&self, id: &str) -> Result<Value, ClearanceError> {
        self.store
            .risk_models()
            .await?
            .iter()
            .find(|m| m.id == id)
            .map(model_view)
            .ok_or(ClearanceError::NotFound)
    }

    /// Every registered model (customs roles that read rules).
    pub async fn risk_models(&self, caller: &Caller) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ReadRules)?;
        Ok(self
            .store
            .risk_models()
            .await?
            .iter()
            .map(model_view)
            .collect())
    }

    /// Puts a model in force (an analyst other than its author: four eyes); the model in force
    /// until now is retired in the same transaction.
    pub async fn promote_model(&self, caller: &Caller, id: &str) -> Result<Value, ClearanceError> {
        caller.require(Action::ManageModels)?;
        let row = self
            .store
            .risk_models()
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or(ClearanceError::NotFound)?;
        if row.author == caller.user_id() {
            return Err(ClearanceError::Forbidden {
                message_en: "a model is promoted by another analyst than its author (four eyes)"
                    .into(),
                message_zh: "模型须由作者以外的分析员启用（双人复核）".into(),
                errors: vec![],
            });
        }
        self.model_event(
            caller,
            id,
            "risk_model.promoted",
            json!({ "model": id, "model_hash": row.model_hash }),
            Projection::PromoteRiskModel {
                id: id.to_owned(),
                promoted_by: caller.user_id().to_owned(),
            },
        )
        .await?;
        self.model(id).await
    }

    /// Takes the active model out of force and puts back the one it replaced, if any.
    pub async fn roll_back_model(
        &self,
        caller: &Caller,
        reason: &str,
    ) -> Result<Vec<Value>, ClearanceError> {
        caller.require(Action::ManageModels)?;
        let reason = text("reason", reason)?;
        let active = self
            .store
            .risk_models()
            .await?
            .into_iter()
            .find(|m| m.status == "active")
            .ok_or_else(|| invalid("model", "no model is active", "没有启用的模型"))?;
        self.model_event(
            caller,
            &active.id,
            "risk_model.rolled_back",
            json!({ "model": active.id, "reason": reason }),
            Projection::RollBackRiskModel,
        )
        .await?;
        self.risk_models(caller).await
    }

    /// Trains on the labelled items up to `train_until` (or takes the registered `model`) and
    /// evaluates on those from `from` to `to`: AUC, precision and recall at inspection rates of
    /// 1, 2, 5 and 10 % (exact top-k and the DATE definition), revenue shares where revenue
    /// exists, on all rows and on the rows whose exact price never occurs in training. A
    /// registered model whose training period reaches into the test period is refused
    /// ([`Clearance::evaluate`] with `allow_overlap` evaluates it, flagged).
    pub async fn evaluate_model(
        &self,
        caller: &Caller,
        train_until: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        model_id: Option<&str>,
    ) -> Result<(Value, String), ClearanceError> {
        let report = self
            .evaluate(
                caller,
                &EvaluationRequest {
                    split: EvaluationSplit::Period {
                        train_until,
                        from,
                        to,
                    },
                    model: model_id,
                    allow_overlap: false,
                    allow_overlap_named: "allow_overlap",
                },
            )
            .await?;
        Ok((report.view, report.table))
    }

    /// An evaluation as [`EvaluationRequest`] asks, with the score of every item evaluated
    /// (for [`scores_csv`]).
    pub async fn evaluate(
        &self,
        caller: &Caller,
        request: &EvaluationRequest<'_>,
    ) -> Result<EvaluationReport, ClearanceError> {
        caller.require(Action::ReadRules)?;
        let (train_until, from, to) = match request.split {
            EvaluationSplit::Period {
                train_until,
                from,
                to,
            } => (train_until, from, to),
            EvaluationSplit::PriceFolds { folds } => {
                if request.model.is_some() {
                    return Err(invalid(
                        "model",
                        "a cross-validation trains its own model for each fold",
                        "交叉验证为每一折训练自己的模型",
                    ));
                }
                return self.cross_validate(folds).await;
            }
        };
        if !(train_until < from && from <= to) {
            return Err(invalid(
                "from",
                "the test period starts after the training cut and ends after it starts",
                "测试期须晚于训练截止日，且结束不早于开始",
            ));
        }
        let mut overlap = Value::Null;
        let mut registered_period = None;
        if let Some(id) = request.model {
            let row = self
                .store
                .risk_models()
                .await?
                .into_iter()
                .find(|m| m.id == id)
                .ok_or_else(|| {
                    invalid(
                        "model",
                        &format!("no risk model {id}"),
                        &format!("没有风险模型 {id}"),
                    )
                })?;
            let summary = summary_of(&row);
            let period = training_period(&summary);
            registered_period = Some(summary["training_period"].clone());
            let (en, zh) = match period {
                Some((first, last)) if first <= to && last >= from => (
                    format!(
                        "{id} was trained on items from {first} to {last}, which reaches into the \
                         test period {from} to {to}: its figures would be optimistic"
                    ),
                    format!(
                        "{id} 的训练期 {first} 至 {last} 与测试期 {from} 至 {to} 重叠，指标会偏高"
                    ),
                ),
                Some(_) => (String::new(), String::new()),
                None => (
                    format!(
                        "{id} has no recorded training period (an imported model declared none): \
                         it may have been trained on the test period {from} to {to}"
                    ),
                    format!(
                        "{id} 没有记录训练期（导入时未声明），可能用测试期 {from} 至 {to} 训练过"
                    ),
                ),
            };
            if !en.is_empty() {
                if !request.allow_overlap {
                    return Err(invalid(
                        "model",
                        &format!(
                            "{en} ({} to evaluate it anyway, flagged)",
                            request.allow_overlap_named
                        ),
                        &format!(
                            "{zh}（可用 {} 仍然评估，并加以标注）",
                            request.allow_overlap_named
                        ),
                    ));
                }
                overlap = json!({ "en": en, "zh": zh });
            }
        }
        let (records, ids, _) = self.identified_records().await?;
        let trained = match request.model {
            Some(id) => self.stored_model(id, "model").await?,
            None => {
                let train: Vec<HistoryRecord> = records
                    .iter()
                    .filter(|r| r.label.is_some() && r.date <= train_until)
                    .cloned()
                    .collect();
                model::train_pipeline(
                    &train,
                    model::FeatureConfig::default(),
                    &model::TrainParams::default(),
                )
                .map_err(|e| model_refusal("history", &e))?
            }
        };
        let (test, test_ids): (Vec<HistoryRecord>, Vec<String>) = records
            .into_iter()
            .zip(ids)
            .filter(|(r, _)| r.label.is_some() && r.date >= from && r.date <= to)
            .unzip();
        if test.is_empty() {
            return Err(invalid(
                "from",
                "no labelled items in the test period",
                "测试期内没有已标注的商品",
            ));
        }
        let (evaluation, outcomes) = trained.evaluate_rows(&test);
        let mut view = evaluation_view(&evaluation);
        view["training_period"] = registered_period.unwrap_or_else(|| {
            json!([
                trained.training.period.0.to_string(),
                trained.training.period.1.to_string()
            ])
        });
        view["test_period"] = json!([from.to_string(), to.to_string()]);
        view["model_hash"] = json!(trained.training.model_hash);
        view["overlap"] = overlap;
        let rows = outcomes
            .into_iter()
            .map(|o| ScoredRow {
                row_id: test_ids[o.index].clone(),
                score: o.score,
                discrepancy: o.discrepancy,
                unseen_price: o.unseen_price,
                fold: None,
            })
            .collect();
        Ok(EvaluationReport {
            view,
            table: evaluation.render_table(),
            rows,
        })
    }

    /// Cross-validation over every labelled item with folds grouped by price
    /// ([`model::cv::price_fold`]).
    async fn cross_validate(&self, folds: u32) -> Result<EvaluationReport, ClearanceError> {
        if !(model::cv::CV_FOLDS_MIN..=model::cv::CV_FOLDS_MAX).contains(&folds) {
            return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                "cv_folds",
                &format!(
                    "from {} to {}",
                    model::cv::CV_FOLDS_MIN,
                    model::cv::CV_FOLDS_MAX
                ),
                &format!(
                    "在 {} 到 {} 之间",
                    model::cv::CV_FOLDS_MIN,
                    model::cv::CV_FOLDS_MAX
                ),
            )]));
        }
        let (records, ids, _) = self.identified_records().await?;
        let (records, ids): (Vec<HistoryRecord>, Vec<String>) = records
            .into_iter()
            .zip(ids)
            .filter(|(r, _)| r.label.is_some())
            .unzip();
        let cv = model::cv::cross_validate_by_price(
            &records,
            folds,
            model::FeatureConfig::default(),
            &model::TrainParams::default(),
            &AtomicBool::new(false),
        )
        .map_err(|e| model_refusal("history", &e))?;
        let mut view = evaluation_view(&cv.evaluation);
        let (first, last) = (
            records.iter().map(|r| r.date).min(),
            records.iter().map(|r| r.date).max(),
        );
        view["cross_validation"] = json!({
            "folds": folds, "group_by": "price",
            "fold_rule": "first 8 bytes of SHA-256 of the normalised price text, big-endian, modulo folds",
        });
        view["training_period"] = Value::Null;
        view["test_period"] = json!([first.map(|d| d.to_string()), last.map(|d| d.to_string())]);
        let rows = cv
            .rows
            .iter()
            .zip(&cv.row_folds)
            .map(|(o, &fold)| ScoredRow {
                row_id: ids[o.index].clone(),
                score: o.score,
                discrepancy: o.discrepancy,
                unseen_price: o.unseen_price,
                fold: Some(fold),
            })
            .collect();
        Ok(EvaluationReport {
            view,
            table: format!(
                "{folds}-fold cross-validation grouped by price (every item scored by a model \
                 that never saw its price)\n{}",
                cv.evaluation.render_table()
            ),
            rows,
        })
    }

    /// How far the recent import declarations have moved from what `id` was trained on: the
    /// population stability index of its score and of each feature over the newest `sample`
    /// declarations, with `alert` from [`DRIFT_ALERT_PSI`] and `watch` from
    /// [`DRIFT_WATCH_PSI`].
    pub async fn model_drift(
        &self,
        caller: &Caller,
        id: &str,
        sample: usize,
    ) -> Result<Value, ClearanceError> {
        caller.require(Action::ReadRules)?;
        if !(1..=DRIFT_SAMPLE_MAX).contains(&sample) {
            return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                "sample",
                &format!("from 1 to {DRIFT_SAMPLE_MAX}"),
                &format!("在 1 到 {DRIFT_SAMPLE_MAX} 之间"),
            )]));
        }
        let row = self
            .store
            .risk_models()
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or(ClearanceError::NotFound)?;
        self.drift_report(&row, sample).await
    }

    /// Checks the active model for drift over the newest [`DRIFT_MONITOR_SAMPLE`] import
    /// declarations (`serve` runs it every [`DRIFT_CHECK_INTERVAL`]). An alert is recorded on the
    /// model's record (`risk_model.drift_alert`, by the system) and logged. `None` without an
    /// active model.
    pub async fn monitor_drift(&self) -> Result<Option<Value>, ClearanceError> {
        let Some(active) = self
            .store
            .risk_models()
            .await?
            .into_iter()
            .find(|m| m.status == "active")
        else {
            return Ok(None);
        };
        let report = self.drift_report(&active, DRIFT_MONITOR_SAMPLE).await?;
        let alerted = report["alerts"].as_u64().unwrap_or(0) > 0;
        self.activity.count_drift_check(alerted);
        if alerted {
            let system = crate::system_actor();
            let alerted: Vec<&Value> = report["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["level"] == "alert")
                .collect();
            let payload = json!({
                "model": active.id, "score": report["score"], "alerted_features": alerted,
                "declarations": report["declarations"],
            });
            self.admin_append(
                &system,
                format!("model:{}", active.id),
                DRIFT_ALERT_ACTION,
                format!("drift:{}:{}", active.id, uuid::Uuid::now_v7()),
                payload,
                Projection::Nothing,
            )
            .await?;
        }
        Ok(Some(report))
    }

    async fn drift_report(
        &self,
        row: &RiskModelRow,
        sample: usize,
    ) -> Result<Value, ClearanceError> {
        let id = row.id.as_str();
        let summary = summary_of(row);
        let loaded = load(
            &self.store,
            row,
            f64_of(self.config.model_budget),
            self.config.model_exploration_percent,
        )
        .await?;
        let listed = self
            .store
            .list_declarations(&DeclarationQuery {
                direction: Some("import".to_owned()),
                limit: sample,
                ..DeclarationQuery::default()
            })
            .await?;
        let mut records = Vec::new();
        let mut declarations = 0usize;
        for listed in &listed {
            let state = self.state_of(&listed.row).await?;
            if matches!(state.declaration.kind, DeclarationKind::Summary) {
                continue;
            }
            declarations += 1;
            let figures = self
                .assessment_records(&listed.row.id)
                .await?
                .last()
                .and_then(AssessedFigures::of_record);
            records.extend(history_records(
                &state.declaration,
                &listed.row.id,
                self.date_of_ms(listed.row.lodged_at_ms),
                figures.as_ref(),
                None,
            ));
        }
        if declarations < DRIFT_DECLARATIONS_MIN {
            let en = format!(
                "too few to judge: {declarations} declarations, at least {DRIFT_DECLARATIONS_MIN} needed"
            );
            let zh = format!(
                "样本过少，无法判断：{declarations} 份申报，至少需要 {DRIFT_DECLARATIONS_MIN} 份"
            );
            return Ok(json!({
                "model": id, "declarations": declarations, "items": records.len(),
                "judged": false, "reason": { "en": en, "zh": zh },
                "minimum_declarations": DRIFT_DECLARATIONS_MIN,
                "score": { "psi": null, "level": "too_few" },
                "features": [], "alerts": 0,
            }));
        }
        let level = |psi: f64| {
            if psi >= DRIFT_ALERT_PSI {
                "alert"
            } else if psi >= DRIFT_WATCH_PSI {
                "watch"
            } else {
                "stable"
            }
        };
        let percentiles: Vec<f64> = summary["score_percentiles"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let scores: Vec<f64> = loaded
            .trained
            .score_records(&records)
            .into_iter()
            .map(f64::from)
            .collect();
        let score_psi = if percentiles.len() == 101 {
            let edges: Vec<f64> = (1..10).map(|d| percentiles[d * 10]).collect();
            psi(&edges, &[0.1; 10], &scores)
        } else {
            0.0
        };
        let bins = summary["feature_bins"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names = loaded.trained.encoder.feature_names();
        let encoded: Vec<Vec<f32>> = records
            .iter()
            .map(|r| loaded.trained.encoder.encode(r))
            .collect();
        let mut features: Vec<Value> = bins
            .iter()
            .enumerate()
            .map(|(c, b)| {
                let edges: Vec<f64> = b["edges"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                let mut shares: Vec<f64> = b["shares"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                shares.resize(edges.len() + 1, 0.0);
                let column: Vec<f64> = encoded.iter().map(|row| f64::from(row[c])).collect();
                let value = psi(&edges, &shares, &column);
                json!({ "feature": names.get(c), "psi": value, "level": level(value) })
            })
            .collect();
        features.sort_by(|a, b| {
            b["psi"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&a["psi"].as_f64().unwrap_or(0.0))
        });
        let alerts = features.iter().filter(|f| f["level"] == "alert").count()
            + usize::from(level(score_psi) == "alert");
        if alerts > 0 {
            tracing::warn!(model = id, score_psi, alerts, "risk model drift");
        }
        Ok(json!({
            "model": id, "declarations": declarations, "items": records.len(), "judged": true,
            "minimum_declarations": DRIFT_DECLARATIONS_MIN,
            "score": { "psi": score_psi, "level": level(score_psi) },
            "features": features, "alerts": alerts,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_the_training_score_at_the_budget() {
        let scores: Vec<f64> = (1..=100).map(|i| f64::from(i) / 100.0).collect();
        let summary = json!({ "score_percentiles": percentiles(&mut scores.clone()) });
        assert_eq!(threshold(&summary, 0.05), 0.95);
        assert_eq!(threshold(&summary, 0.0), 1.0);
        assert_eq!(threshold(&summary, 1.0), 0.01);
        assert_eq!(
            threshold(&json!({}), 0.05),
            f64::INFINITY,
            "no percentiles: never selects"
        );
    }

    #[test]
    fn the_threshold_is_interpolated_between_percentiles() {
        let scores: Vec<f64> = (1..=100).map(|i| f64::from(i) / 100.0).collect();
        let summary = json!({ "score_percentiles": percentiles(&mut scores.clone()) });
        assert!((threshold(&summary, 0.045) - 0.955).abs() < 1e-12);
        assert!((threshold(&summary, 0.005) - 0.995).abs() < 1e-12);
    }

    /// The budget split: exploitation `budget × (1 − e)`, each other declaration explored at
    /// `budget × e / (1 − budget × (1 − e))`; the share clamped at its named limit.
    #[test]
    fn the_budget_is_split_between_exploitation_and_exploration() {
        let max = crate::MODEL_EXPLORATION_PERCENT_MAX;
        let cases: [(f64, u32, f64, f64); 6] = [
            (0.05, 0, 0.05, 0.0),
            (0.05, 10, 0.045, 0.005 / 0.955),
            (0.05, max, 0.025, 0.025 / 0.975),
            (0.05, max + 1, 0.025, 0.025 / 0.975),
            (0.5, 50, 0.25, 0.25 / 0.75),
            (1.0, 0, 1.0, 0.0),
        ];
        for (budget, percent, exploited, rate) in cases {
            let (e, r) = model_shares(budget, percent);
            assert!((e - exploited).abs() < 1e-12, "{budget} {percent}: {e}");
            assert!((r - rate).abs() < 1e-12, "{budget} {percent}: {r}");
            // Exploited plus explored is the budget.
            assert!(
                (e + r * (1.0 - e) - budget).abs() < 1e-12,
                "{budget} {percent}"
            );
        }
    }

    /// How a closed check was selected and what its label weighs: exploration and random
    /// checks by their inverse propensity (clipped), everything certain 1.
    #[test]
    fn a_label_weighs_the_inverse_of_its_selection_propensity() {
        let reason = |source: Value, selected: bool, rate: Option<f64>| json!({ "source": source, "selected": selected, "rate": rate });
        let record = |reasons: Vec<Value>, random: f64, exploration: Option<(f64, bool)>| {
            json!({
                "reasons": reasons,
                "random": { "rate": random, "selected": false },
                "model_exploration": exploration.map(|(rate, selected)| json!({ "rate": rate, "selected": selected })),
            })
        };
        let model = |by: &str| json!({ "kind": "model", "selected_by": by });
        let random = json!({ "kind": "random" });
        let rule = json!({ "kind": "rule", "rule": "R-000001" });
        let list = json!({ "kind": "watch_list" });
        let cases: Vec<(&str, Option<Value>, SelectedBy, f64, f32)> = vec![
            (
                "no selection on record: an officer's",
                None,
                SelectedBy::Officer,
                1.0,
                1.0,
            ),
            (
                "nothing selected it: an officer's",
                Some(record(
                    vec![reason(rule.clone(), false, Some(0.5))],
                    0.0,
                    None,
                )),
                SelectedBy::Officer,
                1.0,
                1.0,
            ),
            (
                "exploited",
                Some(record(
                    vec![reason(model("exploitation"), true, Some(1.0))],
                    0.02,
                    None,
                )),
                SelectedBy::Exploitation,
                1.0,
                1.0,
            ),
            (
                "explored at 0.25",
                Some(record(
                    vec![reason(model("exploration"), true, Some(0.25))],
                    0.0,
                    Some((0.25, true)),
                )),
                SelectedBy::Exploration,
                0.25,
                4.0,
            ),
            (
                "explored at 0.005: clipped",
                Some(record(
                    vec![reason(model("exploration"), true, Some(0.005))],
                    0.0,
                    Some((0.005, true)),
                )),
                SelectedBy::Exploration,
                0.005,
                LABEL_WEIGHT_MAX as f32,
            ),
            (
                "random at 0.2",
                Some(record(
                    vec![reason(random.clone(), true, Some(0.2))],
                    0.2,
                    None,
                )),
                SelectedBy::Random,
                0.2,
                5.0,
            ),
            (
                "random at 0.5 and not explored at 0.5: either could have",
                Some(record(
                    vec![reason(random.clone(), true, Some(0.5))],
                    0.5,
                    Some((0.5, false)),
                )),
                SelectedBy::Random,
                0.75,
                1.0 / 0.75,
            ),
            (
                "a rule at rate 1",
                Some(record(
                    vec![reason(rule.clone(), true, Some(1.0))],
                    0.02,
                    None,
                )),
                SelectedBy::Rule,
                1.0,
                1.0,
            ),
            (
                "a rule at 0.5",
                Some(record(
                    vec![reason(rule.clone(), true, Some(0.5))],
                    0.0,
                    None,
                )),
                SelectedBy::Rule,
                0.5,
                2.0,
            ),
            (
                "a watch list and an exploration: certain",
                Some(record(
                    vec![
                        reason(list, true, None),
                        reason(model("exploration"), true, Some(0.1)),
                    ],
                    0.0,
                    Some((0.1, true)),
                )),
                SelectedBy::Rule,
                1.0,
                1.0,
            ),
        ];
        let mut explored = 0.0f32;
        let mut exploited = 0.0f32;
        for (name, targeted, by, propensity, weight) in cases {
            let (b, p) = selection_propensity(targeted.as_ref());
            assert_eq!(b, by, "{name}");
            assert!((p - propensity).abs() < 1e-12, "{name}: {p}");
            assert!(
                (label_weight(p) - weight).abs() < 1e-6,
                "{name}: {}",
                label_weight(p)
            );
            match by {
                SelectedBy::Exploration => explored = explored.max(label_weight(p)),
                SelectedBy::Exploitation => exploited = exploited.max(label_weight(p)),
                _ => {}
            }
        }
        assert!(
            explored > exploited,
            "an explored label weighs more than an exploited one"
        );
        assert_eq!(label_weight(0.0), 1.0, "no chance recorded: 1");
    }

    #[test]
    fn revenue_at_risk_is_the_probability_times_the_mean_recovered() {
        let label = |discrepancy: bool, revenue: Option<&str>| Label {
            discrepancy,
            critical: false,
            revenue: revenue.map(|r| r.parse().unwrap()),
        };
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let record = |l: Label| HistoryRecord {
            declaration_id: "d".into(),
            date: day,
            office: String::new(),
            procedure: String::new(),
            import_kind: String::new(),
            import_use: String::new(),
            payment: String::new(),
            transport_mode: String::new(),
            declarant: String::new(),
            importer: String::new(),
            seller: String::new(),
            courier: None,
            hs6: "851713".into(),
            dispatch_country: String::new(),
            origin_country: String::new(),
            tax_rate: Decimal::ZERO,
            tax_type: String::new(),
            origin_indicator: String::new(),
            net_mass_kg: Decimal::ONE,
            item_price: Decimal::ONE,
            label: Some(l),
        };
        let train = [
            record(label(true, Some("100.00"))),
            record(label(true, Some("201.00"))),
            record(label(true, None)),
            record(label(false, Some("999.00"))),
        ];
        let mean = mean_revenue_recovered(&train);
        assert_eq!(
            mean,
            Some(Decimal::new(15050, 2)),
            "discrepancies with revenue only"
        );
        assert_eq!(revenue_at_risk(0.5, mean), json!("75.25"));
        assert_eq!(revenue_at_risk(0.5, None), Value::Null);
        assert_eq!(mean_revenue_recovered(&train[2..]), None);
    }

    #[test]
    fn psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() {
        let training: Vec<f64> = (0..1000).map(f64::from).collect();
        let (edges, shares) = decile_bins(&training);
        assert!(psi(&edges, &shares, &training).abs() < 1e-9);
        let shifted: Vec<f64> = training.iter().map(|v| v + 500.0).collect();
        assert!(psi(&edges, &shares, &shifted) > DRIFT_ALERT_PSI);
        let nudged: Vec<f64> = training.iter().map(|v| v + 20.0).collect();
        assert!(psi(&edges, &shares, &nudged) < DRIFT_WATCH_PSI);
    }
}
