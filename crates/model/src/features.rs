//! From a goods item to the numbers a fraud model reads.
//!
//! Everything is learned from the training rows only. The strongest signals on the KCS data are
//! target statistics on exact keys (the same declared price, net mass, price with HS6, ...):
//! the smoothed discrepancy rate of past items sharing the key. For a training row that statistic
//! is computed out of fold (fold = row index mod [`TARGET_FOLDS`]), so a row never sees its own
//! label; a live item sees the statistic over the whole training set. [`FeatureEncoder::encode`]
//! is the one path for validation rows and live scoring.

use std::collections::HashMap;

use chrono::Datelike;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::ModelError;
use crate::history::HistoryRecord;

/// Folds of the out-of-fold target statistics.
pub const TARGET_FOLDS: usize = 5;

/// Choices of the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureConfig {
    /// Pseudo-count of the smoothing toward the prior: a key seen `n` times with `k`
    /// discrepancies gets `(k + smoothing · prior) / (n + smoothing)`. 10 was best on KCS.
    pub smoothing: f64,
}

impl Default for FeatureConfig {
    fn default() -> FeatureConfig {
        FeatureConfig { smoothing: 10.0 }
    }
}

/// A dense row-major matrix of features, `NaN` for missing values.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub n_rows: usize,
    pub n_columns: usize,
    pub values: Vec<f32>,
}

impl Matrix {
    pub fn row(&self, row_idx: usize) -> &[f32] {
        &self.values[row_idx * self.n_columns..(row_idx + 1) * self.n_columns]
    }
}

/// A feature's name and what it means to an officer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureInfo {
    pub name: &'static str,
    pub description_en: &'static str,
    pub description_zh: &'static str,
}

const fn info(
    name: &'static str,
    description_en: &'static str,
    description_zh: &'static str,
) -> FeatureInfo {
    FeatureInfo {
        name,
        description_en,
        description_zh,
    }
}

/// The features in column order. The order is part of a saved model: do not reorder.
pub const FEATURES: [FeatureInfo; 38] = [
    info(
        "code_office",
        "customs office (code seen in training)",
        "申报海关（训练中出现的代码）",
    ),
    info(
        "code_procedure",
        "procedure (process type)",
        "监管方式（处理类型）",
    ),
    info("code_import_kind", "import type", "进口类型"),
    info("code_import_use", "use of the imported goods", "进口用途"),
    info("code_payment", "payment type", "支付方式"),
    info("code_transport_mode", "mode of transport", "运输方式"),
    info("code_courier", "courier", "快递企业"),
    info("code_dispatch_country", "country of departure", "启运国"),
    info("code_origin_country", "country of origin", "原产国"),
    info("code_tax_type", "tax type", "税种类型"),
    info("code_origin_indicator", "origin indicator", "原产地标志"),
    info("code_hs2", "HS chapter", "HS章"),
    info("code_hs4", "HS heading", "HS品目"),
    info("code_hs6", "HS subheading", "HS子目"),
    info("code_declarant", "declarant", "申报人"),
    info("code_importer", "importer", "进口商"),
    info("code_seller", "seller", "卖方"),
    info("tax_rate", "tax rate", "税率"),
    info("log_price", "declared item price (log)", "申报价格（对数）"),
    info("log_net_mass", "net mass (log)", "净重（对数）"),
    info(
        "log_unit_value",
        "price per kilogram (log)",
        "每千克单价（对数）",
    ),
    info(
        "rate_price",
        "discrepancy rate of past items with this exact price",
        "同一申报价格历史商品的违规率",
    ),
    info(
        "count_price",
        "past items with this exact price (other folds in training)",
        "同一申报价格的历史商品数",
    ),
    info(
        "rate_net_mass",
        "discrepancy rate of past items with this exact net mass",
        "同一净重历史商品的违规率",
    ),
    info(
        "count_net_mass",
        "past items with this exact net mass",
        "同一净重的历史商品数",
    ),
    info(
        "rate_price_hs6",
        "discrepancy rate of past items with this price and HS subheading",
        "同一价格和HS子目历史商品的违规率",
    ),
    info(
        "count_price_hs6",
        "past items with this price and HS subheading",
        "同一价格和HS子目的历史商品数",
    ),
    info(
        "rate_price_net_mass",
        "discrepancy rate of past items with this price and net mass",
        "同一价格和净重历史商品的违规率",
    ),
    info(
        "count_price_net_mass",
        "past items with this price and net mass",
        "同一价格和净重的历史商品数",
    ),
    info(
        "rate_price_origin",
        "discrepancy rate of past items with this price and origin",
        "同一价格和原产国历史商品的违规率",
    ),
    info(
        "count_price_origin",
        "past items with this price and origin",
        "同一价格和原产国的历史商品数",
    ),
    info(
        "rate_price_importer",
        "discrepancy rate of this importer's past items at this price",
        "该进口商同一价格历史商品的违规率",
    ),
    info(
        "count_price_importer",
        "this importer's past items at this price",
        "该进口商同一价格的历史商品数",
    ),
    info(
        "rate_price_tax_type",
        "discrepancy rate of past items with this price and tax type",
        "同一价格和税种历史商品的违规率",
    ),
    info(
        "count_price_tax_type",
        "past items with this price and tax type",
        "同一价格和税种的历史商品数",
    ),
    info(
        "origin_differs_from_dispatch",
        "origin differs from the country of departure",
        "原产国与启运国不同",
    ),
    info(
        "weekday",
        "day of the week of the declaration (0 = Sunday)",
        "申报日星期（0 = 星期日）",
    ),
    info(
        "training_count_price",
        "items in the whole training history with this exact price",
        "训练历史中同一价格的商品总数",
    ),
];

/// Number of features.
pub const N_FEATURES: usize = FEATURES.len();

/// Low-cardinality and party codes, encoded as the order of first appearance in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CodeSlot {
    Office,
    Procedure,
    ImportKind,
    ImportUse,
    Payment,
    TransportMode,
    Courier,
    DispatchCountry,
    OriginCountry,
    TaxType,
    OriginIndicator,
    Hs2,
    Hs4,
    Hs6,
    Declarant,
    Importer,
    Seller,
}

const CODE_SLOTS: [CodeSlot; 17] = [
    CodeSlot::Office,
    CodeSlot::Procedure,
    CodeSlot::ImportKind,
    CodeSlot::ImportUse,
    CodeSlot::Payment,
    CodeSlot::TransportMode,
    CodeSlot::Courier,
    CodeSlot::DispatchCountry,
    CodeSlot::OriginCountry,
    CodeSlot::TaxType,
    CodeSlot::OriginIndicator,
    CodeSlot::Hs2,
    CodeSlot::Hs4,
    CodeSlot::Hs6,
    CodeSlot::Declarant,
    CodeSlot::Importer,
    CodeSlot::Seller,
];

/// Exact keys with a target statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TargetSlot {
    Price,
    NetMass,
    PriceHs6,
    PriceNetMass,
    PriceOrigin,
    PriceImporter,
    PriceTaxType,
}

const TARGET_SLOTS: [TargetSlot; 7] = [
    TargetSlot::Price,
    TargetSlot::NetMass,
    TargetSlot::PriceHs6,
    TargetSlot::PriceNetMass,
    TargetSlot::PriceOrigin,
    TargetSlot::PriceImporter,
    TargetSlot::PriceTaxType,
];

/// FNV-1a 64: a stable hash of text, so keys (and saved encoders) do not depend on the
/// standard library's randomised hasher.
fn hash_text(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The SplitMix64 finaliser, to combine two keys into one.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pair(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b).rotate_left(17))
}

/// A decimal's key: its normalised value, so 12.50 and 12.5 are the same price.
fn hash_decimal(value: Decimal) -> u64 {
    let normalized = value.normalize();
    let mantissa = normalized.mantissa();
    mix((mantissa as u64) ^ mix((mantissa >> 64) as u64) ^ mix(u64::from(normalized.scale()) << 32))
}

fn code_key(slot: CodeSlot, record: &HistoryRecord) -> u64 {
    match slot {
        CodeSlot::Office => hash_text(&record.office),
        CodeSlot::Procedure => hash_text(&record.procedure),
        CodeSlot::ImportKind => hash_text(&record.import_kind),
        CodeSlot::ImportUse => hash_text(&record.import_use),
        CodeSlot::Payment => hash_text(&record.payment),
        CodeSlot::TransportMode => hash_text(&record.transport_mode),
        CodeSlot::Courier => record.courier.as_deref().map_or(0, hash_text),
        CodeSlot::DispatchCountry => hash_text(&record.dispatch_country),
        CodeSlot::OriginCountry => hash_text(&record.origin_country),
        CodeSlot::TaxType => hash_text(&record.tax_type),
        CodeSlot::OriginIndicator => hash_text(&record.origin_indicator),
        CodeSlot::Hs2 => hash_text(record.hs6.get(..2).unwrap_or(&record.hs6)),
        CodeSlot::Hs4 => hash_text(record.hs6.get(..4).unwrap_or(&record.hs6)),
        CodeSlot::Hs6 => hash_text(&record.hs6),
        CodeSlot::Declarant => hash_text(&record.declarant),
        CodeSlot::Importer => hash_text(&record.importer),
        CodeSlot::Seller => hash_text(&record.seller),
    }
}

fn target_key(slot: TargetSlot, record: &HistoryRecord) -> u64 {
    let price = hash_decimal(record.item_price);
    match slot {
        TargetSlot::Price => price,
        TargetSlot::NetMass => hash_decimal(record.net_mass_kg),
        TargetSlot::PriceHs6 => pair(price, hash_text(&record.hs6)),
        TargetSlot::PriceNetMass => pair(price, hash_decimal(record.net_mass_kg)),
        TargetSlot::PriceOrigin => pair(price, hash_text(&record.origin_country)),
        TargetSlot::PriceImporter => pair(price, hash_text(&record.importer)),
        TargetSlot::PriceTaxType => pair(price, hash_text(&record.tax_type)),
    }
}

fn is_discrepancy(record: &HistoryRecord) -> bool {
    record.label.as_ref().is_some_and(|label| label.discrepancy)
}

/// Counts of a key in training, overall and per fold (integers, so exact).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KeyStat {
    count: u32,
    discrepancies: u32,
    fold_count: [u32; TARGET_FOLDS],
    fold_discrepancies: [u32; TARGET_FOLDS],
}

/// Everything learned from the training rows. Unlabelled rows count as without discrepancy:
/// pass labelled rows.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureEncoder {
    config: FeatureConfig,
    n_training_rows: usize,
    prior: f64,
    /// Prior of the rows outside each fold.
    fold_prior: [f64; TARGET_FOLDS],
    codes: Vec<HashMap<u64, u32>>,
    targets: Vec<HashMap<u64, KeyStat>>,
    price_counts: HashMap<u64, u32>,
}

impl FeatureEncoder {
    pub fn fit(train: &[HistoryRecord], config: FeatureConfig) -> FeatureEncoder {
        let n_rows = train.len();
        let mut fold_positives = [0u64; TARGET_FOLDS];
        let mut fold_rows = [0u64; TARGET_FOLDS];
        for (row_idx, record) in train.iter().enumerate() {
            fold_positives[row_idx % TARGET_FOLDS] += u64::from(is_discrepancy(record));
            fold_rows[row_idx % TARGET_FOLDS] += 1;
        }
        let positives: u64 = fold_positives.iter().sum();
        let prior = if n_rows == 0 {
            0.0
        } else {
            positives as f64 / n_rows as f64
        };
        let mut fold_prior = [prior; TARGET_FOLDS];
        for fold in 0..TARGET_FOLDS {
            let rows_outside = n_rows as u64 - fold_rows[fold];
            if rows_outside > 0 {
                fold_prior[fold] = (positives - fold_positives[fold]) as f64 / rows_outside as f64;
            }
        }
        let codes = CODE_SLOTS
            .iter()
            .map(|&slot| {
                let mut codes: HashMap<u64, u32> = HashMap::new();
                for record in train {
                    let next = codes.len() as u32;
                    codes.entry(code_key(slot, record)).or_insert(next);
                }
                codes
            })
            .collect();
        let targets = TARGET_SLOTS
            .iter()
            .map(|&slot| {
                let mut stats: HashMap<u64, KeyStat> = HashMap::new();
                for (row_idx, record) in train.iter().enumerate() {
                    let stat = stats.entry(target_key(slot, record)).or_default();
                    let discrepancy = u32::from(is_discrepancy(record));
                    stat.count += 1;
                    stat.discrepancies += discrepancy;
                    stat.fold_count[row_idx % TARGET_FOLDS] += 1;
                    stat.fold_discrepancies[row_idx % TARGET_FOLDS] += discrepancy;
                }
                stats
            })
            .collect();
        let mut price_counts: HashMap<u64, u32> = HashMap::new();
        for record in train {
            *price_counts
                .entry(hash_decimal(record.item_price))
                .or_default() += 1;
        }
        FeatureEncoder {
            config,
            n_training_rows: n_rows,
            prior,
            fold_prior,
            codes,
            targets,
            price_counts,
        }
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    pub fn n_training_rows(&self) -> usize {
        self.n_training_rows
    }

    pub fn feature_names(&self) -> Vec<&'static str> {
        FEATURES.iter().map(|feature| feature.name).collect()
    }

    pub fn features(&self) -> &'static [FeatureInfo] {
        &FEATURES
    }

    /// Whether this exact item price occurs in the training rows. Items whose price is new are
    /// the hard case (the exact-price statistics know nothing): evaluations report them apart.
    pub fn is_price_seen(&self, record: &HistoryRecord) -> bool {
        self.price_counts
            .contains_key(&hash_decimal(record.item_price))
    }

    /// Features of the training rows the encoder was fitted on, with out-of-fold target
    /// statistics. `train` must be the slice given to [`FeatureEncoder::fit`].
    pub fn encode_training(&self, train: &[HistoryRecord]) -> Matrix {
        assert_eq!(
            train.len(),
            self.n_training_rows,
            "encode_training takes the rows the encoder was fitted on"
        );
        let mut values = Vec::with_capacity(train.len() * N_FEATURES);
        for (row_idx, record) in train.iter().enumerate() {
            self.encode_into(record, Some(row_idx % TARGET_FOLDS), &mut values);
        }
        Matrix {
            n_rows: train.len(),
            n_columns: N_FEATURES,
            values,
        }
    }

    /// Features of a goods item outside training: validation rows and live declarations.
    pub fn encode(&self, record: &HistoryRecord) -> Vec<f32> {
        let mut values = Vec::with_capacity(N_FEATURES);
        self.encode_into(record, None, &mut values);
        values
    }

    /// [`FeatureEncoder::encode`] for many items.
    pub fn encode_all(&self, records: &[HistoryRecord]) -> Matrix {
        let mut values = Vec::with_capacity(records.len() * N_FEATURES);
        for record in records {
            self.encode_into(record, None, &mut values);
        }
        Matrix {
            n_rows: records.len(),
            n_columns: N_FEATURES,
            values,
        }
    }

    /// Appends one row. `fold` is the training row's fold, `None` outside training.
    fn encode_into(&self, record: &HistoryRecord, fold: Option<usize>, out: &mut Vec<f32>) {
        let start = out.len();
        for (slot_idx, &slot) in CODE_SLOTS.iter().enumerate() {
            let code = self.codes[slot_idx].get(&code_key(slot, record));
            out.push(code.map_or(f32::NAN, |&code| code as f32));
        }
        out.push(decimal_f64(record.tax_rate) as f32);
        let price = decimal_f64(record.item_price);
        let mass = decimal_f64(record.net_mass_kg);
        let log_price = (price + 1.0).ln();
        let log_mass = (mass + 1.0).ln();
        out.push(log_price as f32);
        out.push(log_mass as f32);
        out.push((log_price - log_mass) as f32);
        let smoothing = self.config.smoothing;
        let prior = fold.map_or(self.prior, |fold| self.fold_prior[fold]);
        for (slot_idx, &slot) in TARGET_SLOTS.iter().enumerate() {
            let (count, discrepancies) = match self.targets[slot_idx].get(&target_key(slot, record))
            {
                None => (0, 0),
                Some(stat) => match fold {
                    None => (stat.count, stat.discrepancies),
                    Some(fold) => (
                        stat.count - stat.fold_count[fold],
                        stat.discrepancies - stat.fold_discrepancies[fold],
                    ),
                },
            };
            let rate =
                (f64::from(discrepancies) + smoothing * prior) / (f64::from(count) + smoothing);
            out.push(rate as f32);
            out.push(count as f32);
        }
        out.push(f32::from(u8::from(
            record.origin_country != record.dispatch_country,
        )));
        out.push(record.date.weekday().num_days_from_sunday() as f32);
        let price_count = self
            .price_counts
            .get(&hash_decimal(record.item_price))
            .copied()
            .unwrap_or(0);
        out.push(price_count as f32);
        // The booster refuses infinities; a feature that is not finite is unknown.
        for value in &mut out[start..] {
            if value.is_infinite() {
                *value = f32::NAN;
            }
        }
        debug_assert_eq!(out.len() - start, N_FEATURES);
    }

    /// The encoder as bytes (format in [`FeatureEncoder::from_bytes`]). Maps are written in key
    /// order, so the same training rows give the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(ENCODER_MAGIC);
        out.extend_from_slice(&ENCODER_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.config.smoothing.to_le_bytes());
        out.extend_from_slice(&(self.n_training_rows as u64).to_le_bytes());
        out.extend_from_slice(&self.prior.to_le_bytes());
        for prior in self.fold_prior {
            out.extend_from_slice(&prior.to_le_bytes());
        }
        for codes in &self.codes {
            let mut entries: Vec<(&u64, &u32)> = codes.iter().collect();
            entries.sort_unstable();
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (key, code) in entries {
                out.extend_from_slice(&key.to_le_bytes());
                out.extend_from_slice(&code.to_le_bytes());
            }
        }
        for stats in &self.targets {
            let mut entries: Vec<(&u64, &KeyStat)> = stats.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| **key);
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (key, stat) in entries {
                out.extend_from_slice(&key.to_le_bytes());
                for value in [stat.count, stat.discrepancies]
                    .iter()
                    .chain(&stat.fold_count)
                    .chain(&stat.fold_discrepancies)
                {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
        }
        let mut entries: Vec<(&u64, &u32)> = self.price_counts.iter().collect();
        entries.sort_unstable();
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for (key, count) in entries {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
        }
        out
    }

    /// Reads [`FeatureEncoder::to_bytes`]: magic `OCFE`, format version (u32), smoothing (f64),
    /// training rows (u64), prior and the five fold priors (f64), then for each of the 17 code
    /// slots `n` (u64) and `n` × (key u64, code u32), for each of the 7 target slots `n` and
    /// `n` × (key, count, discrepancies, 5 fold counts, 5 fold discrepancies as u32), then the
    /// price counts like a code slot. Little-endian throughout.
    pub fn from_bytes(bytes: &[u8]) -> Result<FeatureEncoder, ModelError> {
        let mut reader = ByteReader { bytes, offset: 0 };
        if reader.take(4)? != ENCODER_MAGIC {
            return Err(ModelError::Format(
                "not a feature encoder (magic OCFE missing)".to_owned(),
            ));
        }
        let version = reader.u32()?;
        if version != ENCODER_FORMAT_VERSION {
            return Err(ModelError::Format(format!(
                "feature encoder format {version} is not supported"
            )));
        }
        let smoothing = reader.f64()?;
        let n_training_rows = reader.u64()? as usize;
        let prior = reader.f64()?;
        let mut fold_prior = [0.0; TARGET_FOLDS];
        for prior in &mut fold_prior {
            *prior = reader.f64()?;
        }
        let mut codes = Vec::with_capacity(CODE_SLOTS.len());
        for _ in CODE_SLOTS {
            codes.push(reader.u32_map()?);
        }
        let mut targets = Vec::with_capacity(TARGET_SLOTS.len());
        for _ in TARGET_SLOTS {
            let n_entries = reader.count(8 + 4 * (2 + 2 * TARGET_FOLDS))?;
            let mut stats = HashMap::with_capacity(n_entries);
            for _ in 0..n_entries {
                let key = reader.u64()?;
                let mut stat = KeyStat {
                    count: reader.u32()?,
                    discrepancies: reader.u32()?,
                    ..KeyStat::default()
                };
                for count in &mut stat.fold_count {
                    *count = reader.u32()?;
                }
                for discrepancies in &mut stat.fold_discrepancies {
                    *discrepancies = reader.u32()?;
                }
                let folds_consistent = stat.fold_count.iter().sum::<u32>() == stat.count
                    && stat.fold_discrepancies.iter().sum::<u32>() == stat.discrepancies
                    && stat.discrepancies <= stat.count;
                if !folds_consistent {
                    return Err(ModelError::Format(
                        "feature encoder statistics do not add up".to_owned(),
                    ));
                }
                stats.insert(key, stat);
            }
            targets.push(stats);
        }
        let price_counts = reader.u32_map()?;
        if reader.offset != bytes.len() {
            return Err(ModelError::Format(
                "feature encoder has trailing bytes".to_owned(),
            ));
        }
        if !(smoothing.is_finite() && smoothing >= 0.0) {
            return Err(ModelError::Format(
                "feature encoder smoothing is not a finite non-negative number".to_owned(),
            ));
        }
        Ok(FeatureEncoder {
            config: FeatureConfig { smoothing },
            n_training_rows,
            prior,
            fold_prior,
            codes,
            targets,
            price_counts,
        })
    }
}

const ENCODER_MAGIC: &[u8; 4] = b"OCFE";
const ENCODER_FORMAT_VERSION: u32 = 1;

/// Prices and masses as floats, only for features: the record keeps the exact decimal.
fn decimal_f64(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

/// Bounds-checked little-endian reads for the hand-rolled formats of this crate.
pub(crate) struct ByteReader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) offset: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| ModelError::Format("unexpected end of data".to_owned()))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    pub(crate) fn f64(&mut self) -> Result<f64, ModelError> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    /// An entry count, checked against the bytes left so a damaged count cannot allocate.
    pub(crate) fn count(&mut self, entry_bytes: usize) -> Result<usize, ModelError> {
        let n = self.u64()?;
        let left = (self.bytes.len() - self.offset) as u64;
        if n > left / entry_bytes as u64 {
            return Err(ModelError::Format(
                "entry count exceeds the data".to_owned(),
            ));
        }
        Ok(n as usize)
    }

    fn u32_map(&mut self) -> Result<HashMap<u64, u32>, ModelError> {
        let n_entries = self.count(12)?;
        let mut map = HashMap::with_capacity(n_entries);
        for _ in 0..n_entries {
            let key = self.u64()?;
            map.insert(key, self.u32()?);
        }
        Ok(map)
    }
}
