//! Cross-validation with folds grouped by price: every labelled item lands in one of `k` folds
//! by a stable hash of its normalised price, so no price is in two folds, and each fold is
//! scored by a model trained on the others. Every prediction is then one on a price the model
//! never saw: tens of thousands of unseen-price predictions on KCS instead of the thousand a
//! time split leaves. The hash is documented so another tool (bench/ml/baselines.py) gives every
//! item the same fold.

use std::sync::atomic::AtomicBool;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::evaluate::Evaluation;
use crate::history::{HistoryRecord, normalise_amount};
use crate::{FeatureConfig, ModelError, RowOutcome, TrainParams, train_pipeline_until_stopped};

/// Fewest folds: one to train on and one to score.
pub const CV_FOLDS_MIN: u32 = 2;
/// Most folds: each costs a training, and more than twenty buys no precision on these sizes.
pub const CV_FOLDS_MAX: u32 = 20;

/// The fold of a price among `folds`: the first eight bytes of the SHA-256 of the price's
/// normalised text (rounded to [`crate::history::HISTORY_DECIMAL_PLACES`], no trailing zeros,
/// no exponent: `73.72`, `100`, `0.5`), read as a big-endian unsigned integer, modulo `folds`.
pub fn price_fold(price: Decimal, folds: u32) -> u32 {
    let text = normalise_amount(price).to_string();
    let digest = Sha256::digest(text.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(head) % u64::from(folds.max(1))) as u32
}

/// Out-of-fold scores of the labelled items, in the order of the labelled items of `records`.
#[derive(Clone, Debug)]
pub struct CrossValidation {
    pub folds: u32,
    pub evaluation: Evaluation,
    /// One per labelled item of `records`, in order; `index` points into `records`.
    pub rows: Vec<RowOutcome>,
    /// The fold of each of `rows`.
    pub row_folds: Vec<u32>,
}

/// Trains `folds` models, each on the labelled items of the other folds (folds by
/// [`price_fold`]), and evaluates the out-of-fold scores together. An item counts as an
/// unseen price when the model that scored it has not seen its price (by construction every
/// item; computed, not assumed). A fold with no labelled item, or whose complement has none,
/// is refused.
pub fn cross_validate_by_price(
    records: &[HistoryRecord],
    folds: u32,
    config: FeatureConfig,
    params: &TrainParams,
    stop: &AtomicBool,
) -> Result<CrossValidation, ModelError> {
    if !(CV_FOLDS_MIN..=CV_FOLDS_MAX).contains(&folds) {
        return Err(ModelError::Training {
            en: format!("folds must be from {CV_FOLDS_MIN} to {CV_FOLDS_MAX}"),
            zh: format!("折数须在 {CV_FOLDS_MIN} 到 {CV_FOLDS_MAX} 之间"),
        });
    }
    let labelled: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].label.is_some())
        .collect();
    if labelled.is_empty() {
        return Err(ModelError::NoLabelledRows);
    }
    let fold_of: Vec<u32> = labelled
        .iter()
        .map(|&i| price_fold(records[i].item_price, folds))
        .collect();
    let mut rows: Vec<Option<RowOutcome>> = vec![None; labelled.len()];
    for fold in 0..folds {
        let (test_at, train_at): (Vec<usize>, Vec<usize>) =
            (0..labelled.len()).partition(|&j| fold_of[j] == fold);
        if test_at.is_empty() || train_at.is_empty() {
            return Err(ModelError::Training {
                en: format!(
                    "price fold {fold} of {folds} is empty or holds every item: too few prices"
                ),
                zh: format!("价格折 {fold}（共 {folds} 折）为空或包含全部商品：价格太少"),
            });
        }
        let train: Vec<HistoryRecord> = train_at
            .iter()
            .map(|&j| records[labelled[j]].clone())
            .collect();
        let test: Vec<HistoryRecord> = test_at
            .iter()
            .map(|&j| records[labelled[j]].clone())
            .collect();
        let trained = train_pipeline_until_stopped(&train, config.clone(), params, stop)?;
        let (_, outcomes) = trained.evaluate_rows(&test);
        for (outcome, &j) in outcomes.into_iter().zip(&test_at) {
            rows[j] = Some(RowOutcome {
                index: labelled[j],
                ..outcome
            });
        }
    }
    let rows: Vec<RowOutcome> = rows
        .into_iter()
        .map(|row| row.expect("every labelled item is in one fold"))
        .collect();
    let evaluation = crate::evaluation_of(records, &rows);
    Ok(CrossValidation {
        folds,
        evaluation,
        rows,
        row_folds: fold_of,
    })
}
