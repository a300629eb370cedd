//! Fraud models for targeting: learn from labelled past goods items which new ones are likely
//! to show a discrepancy, and say why.
//!
//! **Pure core.** No I/O beyond the `Read`/`Write` a caller passes, no clock, no async, no serde
//! of its own. A trained model is bytes ([`TrainedModel::to_bytes`]); where they are kept is the
//! caller's business.
//!
//! - [`history`]: the labelled past goods items and the KCS CSV reader.
//! - [`features`]: the feature encoder (fitted on training rows only; one path for validation and
//!   live scoring).
//! - [`gbdt`]: the [`RiskModel`] trait and gradient-boosted trees (train, save, import XGBoost /
//!   LightGBM models, explain); single rows are scored through an inference-only flattened copy
//!   of the trees (`forest`), bit for bit hessboost's `predict_row`.
//! - [`metrics`] and [`evaluate`]: AUC, top-k, DATE and revenue figures.
//! - [`simulate`]: a week-by-week replay of labelled history in which labels are revealed only
//!   for what a selection policy inspected (exploitation with exploration, against baselines).

pub mod cv;
pub mod evaluate;
pub mod features;
mod forest;
pub mod gbdt;
pub mod history;
pub mod metrics;
pub mod simulate;

#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use sha2::{Digest, Sha256};

pub use evaluate::{Evaluation, RateMetrics, ViewMetrics};
pub use features::{FeatureConfig, FeatureEncoder, FeatureInfo, Matrix};
pub use gbdt::{Explanation, GbdtModel, RiskModel, TrainParams};
pub use history::{HistoryError, HistoryRecord, Label};

/// Contributions listed with a score: the officer reads the strongest reasons, not 38 numbers.
pub const EXPLANATION_TOP: usize = 5;

/// Why a model cannot be trained, read or imported.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("the model data is damaged or not a model: {0} / 模型数据损坏或不是模型")]
    Format(String),
    #[error(
        "the model reads {found} features but the encoder gives {expected} / 模型读取 {found} 个特征，编码器提供 {expected} 个"
    )]
    FeatureCount { expected: usize, found: usize },
    /// Why, in English and in Chinese (a refusal names both, never one text as the other).
    #[error("training failed: {en} / 训练失败：{zh}")]
    Training { en: String, zh: String },
    #[error("no labelled goods items to train on / 没有可用于训练的已标注商品")]
    NoLabelledRows,
    #[error("training was stopped before it finished / 训练在完成前被停止")]
    Stopped,
}

impl ModelError {
    /// The refusal in English alone.
    pub fn en(&self) -> String {
        match self {
            ModelError::Format(detail) => {
                format!("the model data is damaged or not a model: {detail}")
            }
            ModelError::FeatureCount { expected, found } => {
                format!("the model reads {found} features but the encoder gives {expected}")
            }
            ModelError::Training { en, .. } => format!("training failed: {en}"),
            ModelError::NoLabelledRows => "no labelled goods items to train on".to_owned(),
            ModelError::Stopped => "training was stopped before it finished".to_owned(),
        }
    }

    /// The refusal in Chinese alone (a file's own detail, such as a parser's, stays as it came).
    pub fn zh(&self) -> String {
        match self {
            ModelError::Format(detail) => format!("模型数据损坏或不是模型：{detail}"),
            ModelError::FeatureCount { expected, found } => {
                format!("模型读取 {found} 个特征，编码器提供 {expected} 个")
            }
            ModelError::Training { zh, .. } => format!("训练失败：{zh}"),
            ModelError::NoLabelledRows => "没有可用于训练的已标注商品".to_owned(),
            ModelError::Stopped => "训练在完成前被停止".to_owned(),
        }
    }
}

/// What a model was trained on, to be recorded with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainingSummary {
    pub rows: usize,
    pub positives: usize,
    /// Dates of the first and last training item.
    pub period: (NaiveDate, NaiveDate),
    /// SHA-256 (hex) over the canonical lines of the training rows, in order
    /// ([`history::canonical_line`], each followed by `\n`).
    pub data_hash: String,
    /// SHA-256 (hex) of the model's bytes ([`RiskModel::to_bytes`]).
    pub model_hash: String,
}

/// An encoder and the model trained on its features: what scores a goods item.
#[derive(Clone, Debug)]
pub struct TrainedModel {
    pub encoder: FeatureEncoder,
    pub model: GbdtModel,
    pub training: TrainingSummary,
}

/// One feature's part in a score.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    pub feature: FeatureInfo,
    /// The feature's value for this item (`NaN` when unknown).
    pub value: f32,
    /// Its contribution to the margin, in log-odds: positive raises the risk.
    pub log_odds: f32,
}

/// A goods item's score and its strongest reasons.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// Probability of a discrepancy.
    pub probability: f32,
    /// The score in log-odds: `bias` plus every feature's contribution.
    pub margin: f32,
    pub bias: f32,
    /// The [`EXPLANATION_TOP`] largest contributions by size, largest first.
    pub top_contributions: Vec<Contribution>,
}

/// One labelled item's score in an evaluation: what a scores file lists, so another tool can
/// recompute every figure.
#[derive(Clone, Debug, PartialEq)]
pub struct RowOutcome {
    /// Position of the item in the records given.
    pub index: usize,
    /// Probability of a discrepancy, as the model computed it (f32, widened exactly).
    pub score: f64,
    pub discrepancy: bool,
    /// The item's exact price is not among the training items' prices.
    pub unseen_price: bool,
}

/// The evaluation of `rows` (items of `records`): revenue counts only when every item carries
/// it; a partial column would make the share meaningless.
pub(crate) fn evaluation_of(records: &[HistoryRecord], rows: &[RowOutcome]) -> Evaluation {
    let scores: Vec<f64> = rows.iter().map(|row| row.score).collect();
    let labels: Vec<bool> = rows.iter().map(|row| row.discrepancy).collect();
    let unseen: Vec<bool> = rows.iter().map(|row| row.unseen_price).collect();
    let revenue: Option<Vec<f64>> = rows
        .iter()
        .map(|row| {
            let revenue = records[row.index].label.as_ref().and_then(|l| l.revenue)?;
            revenue.to_f64()
        })
        .collect();
    Evaluation::compute(&scores, &labels, revenue.as_deref(), &unseen)
}

/// Trains the encoder and the model on the labelled rows of `train` (unlabelled rows are left
/// out). Deterministic: the same rows and parameters give the same bytes.
pub fn train_pipeline(
    train: &[HistoryRecord],
    config: FeatureConfig,
    params: &TrainParams,
) -> Result<TrainedModel, ModelError> {
    train_pipeline_until_stopped(train, config, params, &AtomicBool::new(false))
}

/// [`train_pipeline`], stopped ([`ModelError::Stopped`]) between boosting rounds once `stop`
/// is set.
pub fn train_pipeline_until_stopped(
    train: &[HistoryRecord],
    config: FeatureConfig,
    params: &TrainParams,
    stop: &AtomicBool,
) -> Result<TrainedModel, ModelError> {
    let labelled: Vec<HistoryRecord> = train
        .iter()
        .filter(|record| record.label.is_some())
        .cloned()
        .collect();
    if labelled.is_empty() {
        return Err(ModelError::NoLabelledRows);
    }
    let encoder = FeatureEncoder::fit(&labelled, config);
    let matrix = encoder.encode_training(&labelled);
    let labels: Vec<bool> = labelled.iter().map(is_discrepancy).collect();
    let model = GbdtModel::train_until_stopped(&matrix, &labels, params, stop)?;
    Ok(trained(encoder, model, &labelled, &labels))
}

/// [`train_pipeline`] with one weight per row of `train` (unlabelled rows and their weights are
/// left out): the trees count each label `weight` times; the encoder's target statistics count
/// every row once. Deterministic as [`train_pipeline`].
pub fn train_pipeline_weighted(
    train: &[HistoryRecord],
    weights: &[f32],
    config: FeatureConfig,
    params: &TrainParams,
) -> Result<TrainedModel, ModelError> {
    train_pipeline_weighted_until_stopped(train, weights, config, params, &AtomicBool::new(false))
}

/// [`train_pipeline_weighted`], stopped ([`ModelError::Stopped`]) between boosting rounds once
/// `stop` is set.
pub fn train_pipeline_weighted_until_stopped(
    train: &[HistoryRecord],
    weights: &[f32],
    config: FeatureConfig,
    params: &TrainParams,
    stop: &AtomicBool,
) -> Result<TrainedModel, ModelError> {
    if weights.len() != train.len() {
        return Err(ModelError::Training {
            en: format!("{} weights for {} rows", weights.len(), train.len()),
            zh: format!("{} 个权重对应 {} 行", weights.len(), train.len()),
        });
    }
    let (labelled, labelled_weights): (Vec<HistoryRecord>, Vec<f32>) = train
        .iter()
        .zip(weights)
        .filter(|(record, _)| record.label.is_some())
        .map(|(record, weight)| (record.clone(), *weight))
        .unzip();
    if labelled.is_empty() {
        return Err(ModelError::NoLabelledRows);
    }
    let encoder = FeatureEncoder::fit(&labelled, config);
    let matrix = encoder.encode_training(&labelled);
    let labels: Vec<bool> = labelled.iter().map(is_discrepancy).collect();
    let model = GbdtModel::train_weighted_until_stopped(
        &matrix,
        &labels,
        Some(&labelled_weights),
        params,
        stop,
    )?;
    Ok(trained(encoder, model, &labelled, &labels))
}

fn trained(
    encoder: FeatureEncoder,
    model: GbdtModel,
    labelled: &[HistoryRecord],
    labels: &[bool],
) -> TrainedModel {
    let first = labelled
        .iter()
        .map(|record| record.date)
        .min()
        .expect("not empty");
    let last = labelled
        .iter()
        .map(|record| record.date)
        .max()
        .expect("not empty");
    let training = TrainingSummary {
        rows: labelled.len(),
        positives: labels.iter().filter(|&&label| label).count(),
        period: (first, last),
        data_hash: data_hash(labelled),
        model_hash: hex::encode(Sha256::digest(model.to_bytes())),
    };
    TrainedModel {
        encoder,
        model,
        training,
    }
}

fn is_discrepancy(record: &HistoryRecord) -> bool {
    record.label.as_ref().is_some_and(|label| label.discrepancy)
}

/// SHA-256 over the canonical lines of `records`, in order.
pub fn data_hash(records: &[HistoryRecord]) -> String {
    let mut hasher = Sha256::new();
    for record in records {
        hasher.update(history::canonical_line(record).as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

const TRAINED_MAGIC: &[u8; 4] = b"OCTM";
const TRAINED_FORMAT_VERSION: u32 = 1;

impl TrainedModel {
    /// Scores one goods item: the same encoding as validation, then the model, with the
    /// [`EXPLANATION_TOP`] strongest reasons.
    pub fn score_record(&self, record: &HistoryRecord) -> Scored {
        let mut features = [0.0f32; features::N_FEATURES];
        self.encoder.encode_into(record, &mut features);
        let explanation = self.model.explain(&features);
        self.scored(&features, explanation)
    }

    /// [`TrainedModel::score_record`] for many goods items, in order, with one explanation
    /// call for all of them: hessboost prepares its TreeSHAP trees once per call (about a third
    /// of the time of one item) and spreads the rows over its threads, so a batch costs about
    /// 2.5 times less per item on KCS. Every field is bit for bit that of
    /// [`TrainedModel::score_record`].
    pub fn score_records_explained(&self, records: &[HistoryRecord]) -> Vec<Scored> {
        let matrix = self.encoder.encode_all(records);
        let explanations = self.model.explain_matrix(&matrix);
        explanations
            .into_iter()
            .enumerate()
            .map(|(row_idx, explanation)| self.scored(matrix.row(row_idx), explanation))
            .collect()
    }

    fn scored(&self, features: &[f32], explanation: Explanation) -> Scored {
        let mut order: Vec<usize> = (0..explanation.contributions.len()).collect();
        order.sort_by(|&a, &b| {
            explanation.contributions[b]
                .abs()
                .total_cmp(&explanation.contributions[a].abs())
                .then(a.cmp(&b))
        });
        let top_contributions = order
            .into_iter()
            .take(EXPLANATION_TOP)
            .map(|feature_idx| Contribution {
                feature: features::FEATURES[feature_idx],
                value: features[feature_idx],
                log_odds: explanation.contributions[feature_idx],
            })
            .collect();
        Scored {
            probability: self.model.score(features),
            margin: self.model.margin(features),
            bias: explanation.bias,
            top_contributions,
        }
    }

    /// The probability of one goods item, without explanation and without allocating: the
    /// fast path of live scoring, bit for bit [`TrainedModel::score_record`]'s probability.
    pub fn score(&self, record: &HistoryRecord) -> f32 {
        let mut features = [0.0f32; features::N_FEATURES];
        self.encoder.encode_into(record, &mut features);
        self.model.score(&features)
    }

    /// Scores of many goods items, in order (no explanations).
    pub fn score_records(&self, records: &[HistoryRecord]) -> Vec<f32> {
        self.model.score_matrix(&self.encoder.encode_all(records))
    }

    /// Evaluates the model on the labelled items of `records` (unlabelled ones are left out).
    pub fn evaluate(&self, records: &[HistoryRecord]) -> Evaluation {
        self.evaluate_rows(records).0
    }

    /// [`TrainedModel::evaluate`], with the score of every labelled item (in order; `index`
    /// into `records`).
    pub fn evaluate_rows(&self, records: &[HistoryRecord]) -> (Evaluation, Vec<RowOutcome>) {
        let at: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].label.is_some())
            .collect();
        let labelled: Vec<HistoryRecord> = at.iter().map(|&i| records[i].clone()).collect();
        let rows: Vec<RowOutcome> = self
            .score_records(&labelled)
            .into_iter()
            .zip(&at)
            .map(|(score, &index)| RowOutcome {
                index,
                score: f64::from(score),
                discrepancy: is_discrepancy(&records[index]),
                unseen_price: !self.encoder.is_price_seen(&records[index]),
            })
            .collect();
        (evaluation_of(records, &rows), rows)
    }

    /// Magic `OCTM`, format version (u32), then length-prefixed (u64) parts: the summary as
    /// text lines (`rows`, `positives`, first date, last date, data hash, model hash), the
    /// encoder ([`FeatureEncoder::to_scoring_bytes`]: a saved model scores, it does not
    /// retrain, so the per-fold statistics are left out) and the model
    /// ([`RiskModel::to_bytes`]). [`TrainedModel::from_bytes`] also reads files whose encoder
    /// part is the full [`FeatureEncoder::to_bytes`] (as written before the scoring-only
    /// format).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with(self.encoder.to_scoring_bytes())
    }

    /// [`TrainedModel::to_bytes`] with the full encoder, per-fold statistics included (about
    /// three times the size); scores are the same.
    pub fn to_bytes_with_fold_statistics(&self) -> Vec<u8> {
        self.to_bytes_with(self.encoder.to_bytes())
    }

    fn to_bytes_with(&self, encoder_bytes: Vec<u8>) -> Vec<u8> {
        let summary = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            self.training.rows,
            self.training.positives,
            self.training.period.0,
            self.training.period.1,
            self.training.data_hash,
            self.training.model_hash
        );
        let mut out = Vec::new();
        out.extend_from_slice(TRAINED_MAGIC);
        out.extend_from_slice(&TRAINED_FORMAT_VERSION.to_le_bytes());
        for part in [summary.into_bytes(), encoder_bytes, self.model.to_bytes()] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(&part);
        }
        out
    }

    /// Reads [`TrainedModel::to_bytes`], and checks that the model bytes hash to the recorded
    /// model hash, so a model cannot be swapped under its summary.
    pub fn from_bytes(bytes: &[u8]) -> Result<TrainedModel, ModelError> {
        let mut reader = features::ByteReader { bytes, offset: 0 };
        if reader.take(4)? != TRAINED_MAGIC {
            return Err(ModelError::Format(
                "not a trained model (magic OCTM missing)".to_owned(),
            ));
        }
        let version = reader.u32()?;
        if version != TRAINED_FORMAT_VERSION {
            return Err(ModelError::Format(format!(
                "trained model format {version} is not supported"
            )));
        }
        let mut part = || -> Result<&[u8], ModelError> {
            let n_bytes = reader.count(1)?;
            reader.take(n_bytes)
        };
        let summary = part()?;
        let encoder_bytes = part()?;
        let model_bytes = part()?;
        let summary = std::str::from_utf8(summary)
            .map_err(|_| ModelError::Format("summary is not UTF-8".to_owned()))?;
        let lines: Vec<&str> = summary.lines().collect();
        let [rows, positives, first, last, data_hash, model_hash] = lines[..] else {
            return Err(ModelError::Format(
                "summary does not have six lines".to_owned(),
            ));
        };
        let number = |text: &str| {
            text.parse::<usize>()
                .map_err(|_| ModelError::Format(format!("{text:?} is not a count")))
        };
        let date = |text: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ModelError::Format(format!("{text:?} is not a date")))
        };
        let training = TrainingSummary {
            rows: number(rows)?,
            positives: number(positives)?,
            period: (date(first)?, date(last)?),
            data_hash: data_hash.to_owned(),
            model_hash: model_hash.to_owned(),
        };
        if hex::encode(Sha256::digest(model_bytes)) != training.model_hash {
            return Err(ModelError::Format(
                "the model bytes do not match the recorded model hash".to_owned(),
            ));
        }
        let encoder = FeatureEncoder::from_bytes(encoder_bytes)?;
        let model = GbdtModel::from_bytes(model_bytes, features::N_FEATURES)?;
        if reader.offset != bytes.len() {
            return Err(ModelError::Format(
                "trained model has trailing bytes".to_owned(),
            ));
        }
        Ok(TrainedModel {
            encoder,
            model,
            training,
        })
    }
}
