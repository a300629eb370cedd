//! Gradient-boosted trees behind the [`RiskModel`] trait.
//!
//! The trees are hessboost's (pure Rust, XGBoost-compatible, deterministic for a fixed seed).
//! The binary logistic objective already gives a probability: no Platt or isotonic step is added,
//! because on the KCS validation split the raw probabilities were already close to the observed
//! rates and a calibration step would be one more thing to fit, save and audit.

use hessboost::prelude::{
    BoostedModel, DMatrix, Iterations, ModelFormat, Objective, RegLoss, Trainer, TrainingParams,
    TreeMethod,
};

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ModelError;
use crate::features::Matrix;
use crate::forest::Forest;

/// A model that turns a goods item's features into a risk.
pub trait RiskModel {
    /// Features the model reads, in the encoder's order.
    fn n_features(&self) -> usize;
    /// Probability of a discrepancy.
    fn score(&self, features: &[f32]) -> f32;
    /// The score in log-odds (before the logistic function).
    fn margin(&self, features: &[f32]) -> f32;
    /// Each feature's contribution in log-odds (TreeSHAP); they and the bias sum to the margin.
    fn explain(&self, features: &[f32]) -> Explanation;
    fn to_bytes(&self) -> Vec<u8>;
}

/// Why a model gave its score: `bias + Σ contributions = margin`.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub bias: f32,
    /// One per feature, in the encoder's order, in log-odds.
    pub contributions: Vec<f32>,
}

impl Explanation {
    pub fn margin(&self) -> f32 {
        self.bias + self.contributions.iter().sum::<f32>()
    }
}

/// Training settings. The defaults are the KCS spike's final choice.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    pub rounds: usize,
    pub max_depth: usize,
    pub eta: f64,
    pub min_child_weight: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub lambda: f64,
    pub max_bin: usize,
    pub seed: u64,
    /// Training threads. hessboost gives the same trees for any count; 2 matches our machines.
    pub threads: usize,
}

impl Default for TrainParams {
    fn default() -> TrainParams {
        TrainParams {
            rounds: 150,
            max_depth: 6,
            eta: 0.02,
            min_child_weight: 5.0,
            subsample: 0.8,
            colsample_bytree: 0.5,
            lambda: 1.0,
            max_bin: 256,
            seed: 0,
            threads: 2,
        }
    }
}

/// A hessboost binary-logistic model.
///
/// Scores and margins come from an inference-only copy of the trees (`forest.rs`), built
/// once when the model is trained, read or imported, and bit for bit equal to hessboost's
/// `predict_row` / `predict_margin_row`; explanations (TreeSHAP) and batch scores stay on
/// hessboost. A model the copy cannot reproduce exactly is scored by hessboost.
#[derive(Clone, Debug)]
pub struct GbdtModel {
    booster: BoostedModel,
    n_features: usize,
    forest: Option<Arc<Forest>>,
}

impl GbdtModel {
    /// Trains on `matrix` with one label per row.
    pub fn train(
        matrix: &Matrix,
        labels: &[bool],
        params: &TrainParams,
    ) -> Result<GbdtModel, ModelError> {
        GbdtModel::train_until_stopped(matrix, labels, params, &AtomicBool::new(false))
    }

    /// [`GbdtModel::train`], stopped between boosting rounds once `stop` is set
    /// ([`ModelError::Stopped`]): whoever asked for the model is gone, and the rounds left
    /// would only take the processor from others.
    pub fn train_until_stopped(
        matrix: &Matrix,
        labels: &[bool],
        params: &TrainParams,
        stop: &AtomicBool,
    ) -> Result<GbdtModel, ModelError> {
        GbdtModel::train_weighted_until_stopped(matrix, labels, None, params, stop)
    }

    /// [`GbdtModel::train`] with one weight per row: each row counts `weight` times in the
    /// gradients and in `min_child_weight`. Labels learned from the platform's own selections
    /// are weighted by the inverse of the chance they had to be selected (see `simulate`).
    pub fn train_weighted(
        matrix: &Matrix,
        labels: &[bool],
        weights: &[f32],
        params: &TrainParams,
    ) -> Result<GbdtModel, ModelError> {
        GbdtModel::train_weighted_until_stopped(
            matrix,
            labels,
            Some(weights),
            params,
            &AtomicBool::new(false),
        )
    }

    /// [`GbdtModel::train_weighted`] (or unweighted, `weights` `None`), stopped between
    /// boosting rounds once `stop` is set.
    pub fn train_weighted_until_stopped(
        matrix: &Matrix,
        labels: &[bool],
        weights: Option<&[f32]>,
        params: &TrainParams,
        stop: &AtomicBool,
    ) -> Result<GbdtModel, ModelError> {
        if stop.load(Ordering::Relaxed) {
            return Err(ModelError::Stopped);
        }
        if let Some(weights) = weights
            && (weights.len() != matrix.n_rows
                || weights.iter().any(|w| !w.is_finite() || *w <= 0.0))
        {
            return Err(ModelError::Training {
                en: format!(
                    "{} weights for {} rows, each finite and positive",
                    weights.len(),
                    matrix.n_rows
                ),
                zh: format!(
                    "{} 个权重对应 {} 行，每个须为有限正数",
                    weights.len(),
                    matrix.n_rows
                ),
            });
        }
        if labels.len() != matrix.n_rows {
            return Err(ModelError::Training {
                en: format!("{} labels for {} rows", labels.len(), matrix.n_rows),
                zh: format!("{} 个标签对应 {} 行", labels.len(), matrix.n_rows),
            });
        }
        let hessboost_params = TrainingParams::builder()
            .objective(Objective::BinaryLogistic(
                RegLoss::new(1.0).map_err(training_error)?,
            ))
            .tree_method(TreeMethod::Hist)
            .max_depth(params.max_depth)
            .eta(params.eta)
            .min_child_weight(params.min_child_weight)
            .subsample(params.subsample)
            .colsample_bytree(params.colsample_bytree)
            .lambda(params.lambda)
            .max_bin(params.max_bin)
            .seed(params.seed)
            .nthread(params.threads)
            .build()
            .map_err(training_error)?;
        let label_values: Vec<f32> = labels
            .iter()
            .map(|&label| f32::from(u8::from(label)))
            .collect();
        let dtrain = DMatrix::from_dense(&matrix.values, matrix.n_rows, matrix.n_columns)
            .and_then(|dmatrix| dmatrix.with_labels(&label_values))
            .and_then(|dmatrix| match weights {
                Some(weights) => dmatrix.with_weights(weights),
                None => Ok(dmatrix),
            })
            .map_err(training_error)?;
        let booster = Trainer::new(&hessboost_params, &dtrain, params.rounds)
            .on_round(|_| {
                if stop.load(Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .train()
            .map_err(training_error)?
            .model;
        // A stopped run keeps the rounds it finished: a shorter model than asked for, never
        // to be registered.
        if stop.load(Ordering::Relaxed) {
            return Err(ModelError::Stopped);
        }
        Ok(GbdtModel::with_forest(booster, matrix.n_columns))
    }

    /// Reads [`RiskModel::to_bytes`] (hessboost's native binary format).
    pub fn from_bytes(bytes: &[u8], n_features: usize) -> Result<GbdtModel, ModelError> {
        let booster = BoostedModel::decode(bytes, ModelFormat::Binary).map_err(format_error)?;
        GbdtModel::checked(booster, n_features)
    }

    /// A model trained by XGBoost (`booster.save_model("m.json")`, objective
    /// `binary:logistic`) on features in the encoder's order.
    pub fn import_xgboost_json(bytes: &[u8], n_features: usize) -> Result<GbdtModel, ModelError> {
        let booster =
            BoostedModel::decode(bytes, ModelFormat::XgboostJson).map_err(format_error)?;
        GbdtModel::checked(booster, n_features)
    }

    /// A model trained by LightGBM 4.x (`save_model("model.txt")`, objective `binary`).
    pub fn import_lightgbm_text(bytes: &[u8], n_features: usize) -> Result<GbdtModel, ModelError> {
        let booster =
            BoostedModel::decode(bytes, ModelFormat::LightgbmText).map_err(format_error)?;
        GbdtModel::checked(booster, n_features)
    }

    /// Refuses a model that reads another number of features or does not give one probability
    /// per row: it was trained on another encoder, and its scores would be meaningless.
    fn checked(booster: BoostedModel, n_features: usize) -> Result<GbdtModel, ModelError> {
        if booster.n_features() != n_features {
            return Err(ModelError::FeatureCount {
                expected: n_features,
                found: booster.n_features(),
            });
        }
        let logistic = booster.prediction_width() == 1
            && booster.n_outputs() == 1
            && booster.transform_margin(0.0).is_ok_and(|p| p == 0.5)
            && booster
                .transform_margin(2.0)
                .is_ok_and(|p| (p - 0.880_797).abs() < 1e-5);
        if !logistic {
            return Err(ModelError::Format(
                "the model is not a binary logistic model / 模型不是二分类逻辑回归模型".to_owned(),
            ));
        }
        Ok(GbdtModel::with_forest(booster, n_features))
    }

    fn with_forest(booster: BoostedModel, n_features: usize) -> GbdtModel {
        let forest = Forest::of(&booster)
            .filter(|forest| forest.n_features() == n_features)
            .map(Arc::new);
        GbdtModel {
            booster,
            n_features,
            forest,
        }
    }

    /// Whether [`RiskModel::score`] and [`RiskModel::margin`] use the flattened forest (`false`:
    /// hessboost's own row prediction).
    pub fn has_forest(&self) -> bool {
        self.forest.is_some()
    }

    /// hessboost's own `predict_row`, which [`RiskModel::score`] equals bit for bit (for tests
    /// and benchmarks).
    pub fn score_hessboost(&self, features: &[f32]) -> f32 {
        self.booster
            .predict_row(features, Iterations::Best)
            .expect("features from the model's encoder")
    }

    /// Every split of the trees as `(feature, threshold)` (for tests that probe the thresholds).
    #[cfg(test)]
    pub(crate) fn split_points(&self) -> Vec<(usize, f32)> {
        self.booster
            .trees()
            .iter()
            .flat_map(|tree| tree.nodes().iter().filter(|node| !node.is_leaf()))
            .map(|node| (node.split_feature as usize, node.split_cond))
            .collect()
    }

    /// hessboost's own `predict_margin_row`, which [`RiskModel::margin`] equals bit for bit.
    pub fn margin_hessboost(&self, features: &[f32]) -> f32 {
        self.booster
            .predict_margin_row(features, Iterations::Best)
            .expect("features from the model's encoder")
    }

    pub fn n_trees(&self) -> usize {
        self.booster.num_trees()
    }

    /// Scores of many rows at once (hessboost's batch prediction, bit for bit equal to
    /// [`RiskModel::score`] row by row).
    pub fn score_matrix(&self, matrix: &Matrix) -> Vec<f32> {
        assert_eq!(
            matrix.n_columns, self.n_features,
            "matrix from another encoder"
        );
        let dmatrix = DMatrix::from_dense(&matrix.values, matrix.n_rows, matrix.n_columns)
            .expect("dense matrix");
        let predictions = self
            .booster
            .predict(&dmatrix, Iterations::Best)
            .expect("features fit the model");
        predictions.as_slice().to_vec()
    }
}

impl GbdtModel {
    /// [`RiskModel::explain`] of every row of `matrix`, bit for bit, with one hessboost call
    /// (hessboost 0.4.6 rebuilds its TreeSHAP trees on every call and has no per-row API, so
    /// one call for many rows is the way to share that work).
    pub fn explain_matrix(&self, matrix: &Matrix) -> Vec<Explanation> {
        assert_eq!(
            matrix.n_columns, self.n_features,
            "matrix from another encoder"
        );
        if matrix.n_rows == 0 {
            return Vec::new();
        }
        let dmatrix = DMatrix::from_dense(&matrix.values, matrix.n_rows, matrix.n_columns)
            .expect("dense matrix");
        let contributions = self
            .booster
            .predict_contribs(&dmatrix, Iterations::Best)
            .expect("features from the model's encoder");
        (0..matrix.n_rows)
            .map(|row_idx| {
                let row = contributions.get(row_idx, 0).expect("one output per row");
                let (values, bias) = row.split_at(self.n_features);
                Explanation {
                    bias: bias[0],
                    contributions: values.to_vec(),
                }
            })
            .collect()
    }
}

impl RiskModel for GbdtModel {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, features: &[f32]) -> f32 {
        // The encoder gives one finite-or-NaN value per feature, which is all predict_row checks;
        // a row the forest refuses (another length, an infinite value) goes to hessboost, which
        // fails on it as before.
        match self
            .forest
            .as_deref()
            .and_then(|forest| forest.margin(features))
        {
            Some(margin) => self
                .booster
                .transform_margin(margin)
                .expect("a checked single-output model"),
            None => self.score_hessboost(features),
        }
    }

    fn margin(&self, features: &[f32]) -> f32 {
        match self
            .forest
            .as_deref()
            .and_then(|forest| forest.margin(features))
        {
            Some(margin) => margin,
            None => self.margin_hessboost(features),
        }
    }

    fn explain(&self, features: &[f32]) -> Explanation {
        let dmatrix = DMatrix::from_dense(features, 1, features.len()).expect("one row");
        let contributions = self
            .booster
            .predict_contribs(&dmatrix, Iterations::Best)
            .expect("features from the model's encoder");
        let row = contributions.get(0, 0).expect("one row, one output");
        let (values, bias) = row.split_at(self.n_features);
        Explanation {
            bias: bias[0],
            contributions: values.to_vec(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.booster
            .encode(ModelFormat::Binary)
            .expect("a trained tree model encodes natively")
    }
}

fn training_error(error: hessboost::prelude::HessboostError) -> ModelError {
    // The trainer library speaks English only: its words are quoted in both.
    ModelError::Training {
        en: error.to_string(),
        zh: format!("训练库报告（英文）：{error}"),
    }
}

fn format_error(error: hessboost::prelude::HessboostError) -> ModelError {
    ModelError::Format(error.to_string())
}
