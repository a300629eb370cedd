//! From a goods item to the numbers a fraud model reads.
//!
//! Everything is learned from the training rows only. The strongest signals on the KCS data are
//! target statistics on exact keys (the same declared price, net mass, price with HS6, ...):
//! the smoothed discrepancy rate of past items sharing the key. For a training row that statistic
//! is computed out of fold (fold = row index mod [`TARGET_FOLDS`]), so a row never sees its own
//! label; a live item sees the statistic over the whole training set. [`FeatureEncoder::encode`]
//! (and its allocation-free form [`FeatureEncoder::encode_into`]) is the one path for validation
//! rows and live scoring. Live scoring needs only the whole-set statistics: an encoder saved by
//! [`FeatureEncoder::to_scoring_bytes`] leaves the per-fold ones out.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

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
/// The encoder computes the keys of every slot at once ([`record_keys`]); the slot enums and
/// `code_key` / `target_key` stay as the reference the tests compare it with.
#[cfg(test)]
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

#[cfg(test)]
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
#[cfg(test)]
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

#[cfg(test)]
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
    fnv_extend(FNV_OFFSET, text.as_bytes())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a 64 hash over `bytes`: the hash of a text is the hash of its prefix
/// extended by the rest.
fn fnv_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The keys of the HS chapter, heading and subheading in one pass over `hs6`: the first two
/// and four characters, or all of `hs6` when it has no such prefix.
fn hash_hs(hs6: &str) -> [u64; 3] {
    let bytes = hs6.as_bytes();
    let cut = |n: usize| {
        if hs6.is_char_boundary(n) {
            n
        } else {
            bytes.len()
        }
    };
    let (cut2, cut4) = (cut(2), cut(4));
    let (low, high) = (cut2.min(cut4), cut2.max(cut4));
    let hash_low = fnv_extend(FNV_OFFSET, &bytes[..low]);
    let hash_high = fnv_extend(hash_low, &bytes[low..high]);
    let hash_all = fnv_extend(hash_high, &bytes[high..]);
    let at = |n: usize| if n == low { hash_low } else { hash_high };
    [at(cut2), at(cut4), hash_all]
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

#[cfg(test)]
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

#[cfg(test)]
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

/// Code slots: office, procedure, import kind, import use, payment, transport mode, courier,
/// dispatch country, origin country, tax type, origin indicator, HS2, HS4, HS6, declarant,
/// importer, seller (the order of the first 17 features).
const N_CODE_SLOTS: usize = 17;
/// Target slots: price, net mass, price with HS6, with net mass, with origin, with importer,
/// with tax type.
const N_TARGET_SLOTS: usize = 7;

/// A goods item's keys, each text and decimal hashed once.
struct RecordKeys {
    codes: [u64; N_CODE_SLOTS],
    /// `targets[0]` is the price's key, also the key of the training price counts.
    targets: [u64; N_TARGET_SLOTS],
}

fn record_keys(record: &HistoryRecord) -> RecordKeys {
    let price = hash_decimal(record.item_price);
    let mass = hash_decimal(record.net_mass_kg);
    let [hs2, hs4, hs6] = hash_hs(&record.hs6);
    let origin = hash_text(&record.origin_country);
    let tax_type = hash_text(&record.tax_type);
    let importer = hash_text(&record.importer);
    RecordKeys {
        codes: [
            hash_text(&record.office),
            hash_text(&record.procedure),
            hash_text(&record.import_kind),
            hash_text(&record.import_use),
            hash_text(&record.payment),
            hash_text(&record.transport_mode),
            record.courier.as_deref().map_or(0, hash_text),
            hash_text(&record.dispatch_country),
            origin,
            tax_type,
            hash_text(&record.origin_indicator),
            hs2,
            hs4,
            hs6,
            hash_text(&record.declarant),
            importer,
            hash_text(&record.seller),
        ],
        targets: [
            price,
            mass,
            pair(price, hs6),
            pair(price, mass),
            pair(price, origin),
            pair(price, importer),
            pair(price, tax_type),
        ],
    }
}

/// A hasher for keys that are already hashes (FNV-1a or SplitMix64): one multiply instead of
/// SipHash. Not randomised: the maps are filled from training rows only, so a crafted live
/// item costs at most one probe sequence.
#[derive(Clone, Copy, Debug, Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_u64(&mut self, key: u64) {
        // Fold the high half into the low bits (which pick the bucket), then multiply so the
        // top bits (the table's control bytes) depend on the whole key.
        self.0 = (self.0 ^ key ^ (key >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map from a key hash, with [`KeyHasher`].
type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// A read-only map from a key hash, for the encoder's lookups: open addressing with linear
/// probing in one array of `(key, value)` slots at most 5/8 full, so a lookup usually reads a
/// single slot (a std `HashMap` reads a control byte group, then the bucket), and the first
/// slots of all of an item's lookups can be read before any is resolved
/// ([`KeyTable::first_slot`]), so their cache misses overlap.
#[derive(Clone, Debug)]
struct KeyTable<V> {
    slots: Box<[(u64, V)]>,
    /// `64 - log2(slots.len())`: a slot index is the top bits of the mixed key.
    shift: u32,
    /// The value of the key equal to [`FREE`], which marks free slots and so is kept apart.
    free_key_value: Option<V>,
    len: usize,
}

/// The key that marks a free slot (any value works; the entry of this key is kept apart).
const FREE: u64 = 0x8e4f_2d61_77a3_b5c9;

impl<V: Copy + Default> KeyTable<V> {
    fn slot_of(&self, key: u64) -> usize {
        ((key ^ (key >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, key: u64) -> Option<&V> {
        if key == FREE {
            return self.free_key_value.as_ref();
        }
        let mask = self.slots.len() - 1;
        let mut slot_idx = self.slot_of(key);
        loop {
            let (slot_key, value) = &self.slots[slot_idx];
            if *slot_key == key {
                return Some(value);
            }
            if *slot_key == FREE {
                return None;
            }
            slot_idx = (slot_idx + 1) & mask;
        }
    }

    /// The slot where the search for `key` starts: step one of a lookup, read early.
    #[inline]
    fn first_slot(&self, key: u64) -> (u64, V) {
        self.slots[self.slot_of(key)]
    }

    /// Step two: [`KeyTable::get`] given the [`KeyTable::first_slot`] of `key`.
    #[inline]
    fn get_after(&self, key: u64, first: (u64, V)) -> Option<V> {
        if first.0 == key && key != FREE {
            Some(first.1)
        } else if first.0 == FREE && key != FREE {
            None
        } else {
            self.get(key).copied()
        }
    }

    fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The entries, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (u64, V)> + '_ {
        self.slots
            .iter()
            .filter(|(key, _)| *key != FREE)
            .copied()
            .chain(self.free_key_value.map(|value| (FREE, value)))
    }
}

/// Builds the table; a repeated key keeps its last value.
impl<V: Copy + Default> FromIterator<(u64, V)> for KeyTable<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(entries: I) -> KeyTable<V> {
        let entries: Vec<(u64, V)> = entries.into_iter().collect();
        let n_slots = (entries.len() * 8 / 5 + 1).next_power_of_two().max(8);
        let mut table = KeyTable {
            slots: vec![(FREE, V::default()); n_slots].into_boxed_slice(),
            shift: 64 - n_slots.trailing_zeros(),
            free_key_value: None,
            len: 0,
        };
        let mask = n_slots - 1;
        for (key, value) in entries {
            if key == FREE {
                table.len += usize::from(table.free_key_value.is_none());
                table.free_key_value = Some(value);
                continue;
            }
            let mut slot_idx = table.slot_of(key);
            loop {
                let slot = &mut table.slots[slot_idx];
                if slot.0 == FREE {
                    *slot = (key, value);
                    table.len += 1;
                    break;
                }
                if slot.0 == key {
                    slot.1 = value;
                    break;
                }
                slot_idx = (slot_idx + 1) & mask;
            }
        }
        table
    }
}

impl<V: Copy + Default> Default for KeyTable<V> {
    fn default() -> KeyTable<V> {
        std::iter::empty().collect()
    }
}

/// Equal when they hold the same entries, whatever the slot layout.
impl<V: Copy + Default + PartialEq> PartialEq for KeyTable<V> {
    fn eq(&self, other: &KeyTable<V>) -> bool {
        self.len == other.len
            && self
                .iter()
                .all(|(key, value)| other.get(key) == Some(&value))
    }
}

fn is_discrepancy(record: &HistoryRecord) -> bool {
    record.label.as_ref().is_some_and(|label| label.discrepancy)
}

/// Counts of a key in the whole training set (integers, so exact): what live scoring reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KeyTotal {
    count: u32,
    discrepancies: u32,
}

/// Counts of a key per fold: only for the out-of-fold features of the training rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KeyFolds {
    count: [u32; TARGET_FOLDS],
    discrepancies: [u32; TARGET_FOLDS],
}

/// Everything learned from the training rows. Unlabelled rows count as without discrepancy:
/// pass labelled rows.
///
/// An encoder read from scoring-only bytes ([`FeatureEncoder::to_scoring_bytes`]) has no
/// per-fold statistics: it encodes live items exactly as the full one, but cannot
/// [`FeatureEncoder::encode_training`].
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureEncoder {
    config: FeatureConfig,
    n_training_rows: usize,
    prior: f64,
    /// Prior of the rows outside each fold.
    fold_prior: [f64; TARGET_FOLDS],
    codes: [KeyTable<u32>; N_CODE_SLOTS],
    targets: [KeyTable<KeyTotal>; N_TARGET_SLOTS],
    /// The same keys as `targets`, per fold; `None` in a scoring-only encoder.
    folds: Option<[KeyMap<KeyFolds>; N_TARGET_SLOTS]>,
    price_counts: KeyTable<u32>,
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
        let keys: Vec<RecordKeys> = train.iter().map(record_keys).collect();
        let codes = std::array::from_fn(|slot_idx| {
            let mut codes: KeyMap<u32> = KeyMap::default();
            for record_keys in &keys {
                let next = codes.len() as u32;
                codes.entry(record_keys.codes[slot_idx]).or_insert(next);
            }
            codes.into_iter().collect()
        });
        let mut targets: [KeyMap<KeyTotal>; N_TARGET_SLOTS] = Default::default();
        let mut folds: [KeyMap<KeyFolds>; N_TARGET_SLOTS] = Default::default();
        for slot_idx in 0..N_TARGET_SLOTS {
            for (row_idx, (record, record_keys)) in train.iter().zip(&keys).enumerate() {
                let key = record_keys.targets[slot_idx];
                let discrepancy = u32::from(is_discrepancy(record));
                let total = targets[slot_idx].entry(key).or_default();
                total.count += 1;
                total.discrepancies += discrepancy;
                let by_fold = folds[slot_idx].entry(key).or_default();
                by_fold.count[row_idx % TARGET_FOLDS] += 1;
                by_fold.discrepancies[row_idx % TARGET_FOLDS] += discrepancy;
            }
        }
        let mut price_counts: KeyMap<u32> = KeyMap::default();
        for record_keys in &keys {
            *price_counts.entry(record_keys.targets[0]).or_default() += 1;
        }
        FeatureEncoder {
            config,
            n_training_rows: n_rows,
            prior,
            fold_prior,
            codes,
            targets: targets.map(|totals| totals.into_iter().collect()),
            folds: Some(folds),
            price_counts: price_counts.into_iter().collect(),
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

    /// Whether the encoder keeps the per-fold statistics that
    /// [`FeatureEncoder::encode_training`] needs (a fitted encoder does; one read from
    /// scoring-only bytes does not).
    pub fn has_fold_statistics(&self) -> bool {
        self.folds.is_some()
    }

    /// The same encoder without the per-fold statistics: every live feature is unchanged,
    /// [`FeatureEncoder::encode_training`] is no longer possible.
    pub fn without_fold_statistics(mut self) -> FeatureEncoder {
        self.folds = None;
        self
    }

    /// Whether this exact item price occurs in the training rows. Items whose price is new are
    /// the hard case (the exact-price statistics know nothing): evaluations report them apart.
    pub fn is_price_seen(&self, record: &HistoryRecord) -> bool {
        self.price_counts
            .contains_key(hash_decimal(record.item_price))
    }

    /// Features of the training rows the encoder was fitted on, with out-of-fold target
    /// statistics. `train` must be the slice given to [`FeatureEncoder::fit`].
    ///
    /// # Panics
    ///
    /// When `train` has another length, or the encoder is scoring-only
    /// ([`FeatureEncoder::has_fold_statistics`] is false).
    pub fn encode_training(&self, train: &[HistoryRecord]) -> Matrix {
        assert_eq!(
            train.len(),
            self.n_training_rows,
            "encode_training takes the rows the encoder was fitted on"
        );
        assert!(
            self.folds.is_some(),
            "encode_training needs the per-fold statistics, which a scoring-only encoder does not keep"
        );
        let mut values = vec![0.0; train.len() * N_FEATURES];
        for (row_idx, (record, out)) in train
            .iter()
            .zip(values.chunks_exact_mut(N_FEATURES))
            .enumerate()
        {
            self.encode_row(record, Some(row_idx % TARGET_FOLDS), out);
        }
        Matrix {
            n_rows: train.len(),
            n_columns: N_FEATURES,
            values,
        }
    }

    /// Features of a goods item outside training: validation rows and live declarations.
    pub fn encode(&self, record: &HistoryRecord) -> Vec<f32> {
        let mut values = vec![0.0; N_FEATURES];
        self.encode_row(record, None, &mut values);
        values
    }

    /// [`FeatureEncoder::encode`] into a caller's buffer, without allocating: the fast path of
    /// live scoring (`let mut row = [0.0; N_FEATURES]` on the stack, reused across items).
    ///
    /// # Panics
    ///
    /// When `out` does not hold exactly [`N_FEATURES`] values.
    pub fn encode_into(&self, record: &HistoryRecord, out: &mut [f32]) {
        self.encode_row(record, None, out);
    }

    /// [`FeatureEncoder::encode`] for many items.
    pub fn encode_all(&self, records: &[HistoryRecord]) -> Matrix {
        let mut values = vec![0.0; records.len() * N_FEATURES];
        for (record, out) in records.iter().zip(values.chunks_exact_mut(N_FEATURES)) {
            self.encode_row(record, None, out);
        }
        Matrix {
            n_rows: records.len(),
            n_columns: N_FEATURES,
            values,
        }
    }

    /// Writes one row. `fold` is the training row's fold, `None` outside training.
    fn encode_row(&self, record: &HistoryRecord, fold: Option<usize>, out: &mut [f32]) {
        let out: &mut [f32; N_FEATURES] = out
            .try_into()
            .unwrap_or_else(|_| panic!("a feature row holds {N_FEATURES} values"));
        let keys = record_keys(record);
        // Read the first slot of every lookup before resolving any: the reads are independent,
        // so their cache misses overlap instead of following one another.
        let code_slots: [(u64, u32); N_CODE_SLOTS] =
            std::array::from_fn(|slot_idx| self.codes[slot_idx].first_slot(keys.codes[slot_idx]));
        let target_slots: [(u64, KeyTotal); N_TARGET_SLOTS] = std::array::from_fn(|slot_idx| {
            self.targets[slot_idx].first_slot(keys.targets[slot_idx])
        });
        let price_slot = self.price_counts.first_slot(keys.targets[0]);
        let tax_rate = decimal_f64(record.tax_rate);
        let price = decimal_f64(record.item_price);
        let mass = decimal_f64(record.net_mass_kg);
        for slot_idx in 0..N_CODE_SLOTS {
            let code = self.codes[slot_idx].get_after(keys.codes[slot_idx], code_slots[slot_idx]);
            out[slot_idx] = code.map_or(f32::NAN, |code| code as f32);
        }
        let mut at = N_CODE_SLOTS;
        out[at] = tax_rate as f32;
        let log_price = (price + 1.0).ln();
        let log_mass = (mass + 1.0).ln();
        out[at + 1] = log_price as f32;
        out[at + 2] = log_mass as f32;
        out[at + 3] = (log_price - log_mass) as f32;
        at += 4;
        let smoothing = self.config.smoothing;
        let prior = fold.map_or(self.prior, |fold| self.fold_prior[fold]);
        for (slot_idx, (&key, &first)) in keys.targets.iter().zip(&target_slots).enumerate() {
            let total = self.targets[slot_idx].get_after(key, first);
            let (count, discrepancies) = match total {
                None => (0, 0),
                Some(total) => match fold {
                    None => (total.count, total.discrepancies),
                    Some(fold) => {
                        let by_fold = self.folds.as_ref().expect("per-fold statistics")[slot_idx]
                            .get(&key)
                            .expect("every key has per-fold statistics");
                        (
                            total.count - by_fold.count[fold],
                            total.discrepancies - by_fold.discrepancies[fold],
                        )
                    }
                },
            };
            let rate =
                (f64::from(discrepancies) + smoothing * prior) / (f64::from(count) + smoothing);
            out[at] = rate as f32;
            out[at + 1] = count as f32;
            at += 2;
        }
        out[at] = f32::from(u8::from(record.origin_country != record.dispatch_country));
        out[at + 1] = record.date.weekday().num_days_from_sunday() as f32;
        let price_count = self
            .price_counts
            .get_after(keys.targets[0], price_slot)
            .unwrap_or(0);
        out[at + 2] = price_count as f32;
        debug_assert_eq!(at + 3, N_FEATURES);
        // The booster refuses infinities; a feature that is not finite is unknown.
        for value in out.iter_mut() {
            if value.is_infinite() {
                *value = f32::NAN;
            }
        }
    }

    /// The encoder as bytes (format in [`FeatureEncoder::from_bytes`]). Maps are written in key
    /// order, so the same training rows give the same bytes. With the per-fold statistics
    /// (format 1) when the encoder has them, else as [`FeatureEncoder::to_scoring_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let Some(folds) = &self.folds else {
            return self.to_scoring_bytes();
        };
        let mut out = self.header(ENCODER_FORMAT_FULL);
        for (totals, folds) in self.targets.iter().zip(folds) {
            let entries = sorted_entries(totals.iter());
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (key, total) in entries {
                let by_fold = folds.get(&key).expect("every key has per-fold statistics");
                out.extend_from_slice(&key.to_le_bytes());
                for value in [total.count, total.discrepancies]
                    .iter()
                    .chain(&by_fold.count)
                    .chain(&by_fold.discrepancies)
                {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }
        }
        write_u32_map(&mut out, &self.price_counts);
        out
    }

    /// The encoder without the per-fold statistics (format 2), about a third of
    /// [`FeatureEncoder::to_bytes`]: everything live scoring reads, and every live feature is
    /// bit for bit the same. [`FeatureEncoder::from_bytes`] reads it as a scoring-only encoder.
    pub fn to_scoring_bytes(&self) -> Vec<u8> {
        let mut out = self.header(ENCODER_FORMAT_SCORING);
        for totals in &self.targets {
            let entries = sorted_entries(totals.iter());
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (key, total) in entries {
                out.extend_from_slice(&key.to_le_bytes());
                out.extend_from_slice(&total.count.to_le_bytes());
                out.extend_from_slice(&total.discrepancies.to_le_bytes());
            }
        }
        // A fitted encoder's price counts are the price slot's counts: a flag then stands for
        // the map.
        if self.price_counts_match_price_slot() {
            out.push(1);
        } else {
            out.push(0);
            write_u32_map(&mut out, &self.price_counts);
        }
        out
    }

    fn price_counts_match_price_slot(&self) -> bool {
        self.price_counts.len() == self.targets[0].len()
            && self.targets[0]
                .iter()
                .all(|(key, total)| self.price_counts.get(key) == Some(&total.count))
    }

    /// Magic, version, settings, priors and the code maps: the part both formats share.
    fn header(&self, version: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(ENCODER_MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&self.config.smoothing.to_le_bytes());
        out.extend_from_slice(&(self.n_training_rows as u64).to_le_bytes());
        out.extend_from_slice(&self.prior.to_le_bytes());
        for prior in self.fold_prior {
            out.extend_from_slice(&prior.to_le_bytes());
        }
        for codes in &self.codes {
            write_u32_map(&mut out, codes);
        }
        out
    }

    /// Reads [`FeatureEncoder::to_bytes`] and [`FeatureEncoder::to_scoring_bytes`]: magic
    /// `OCFE`, format version (u32), smoothing (f64), training rows (u64), prior and the five
    /// fold priors (f64), then for each of the 17 code slots `n` (u64) and `n` × (key u64,
    /// code u32). Format 1 (full) goes on with, for each of the 7 target slots, `n` and
    /// `n` × (key, count, discrepancies, 5 fold counts, 5 fold discrepancies as u32), then the
    /// price counts like a code slot. Format 2 (scoring-only) goes on with, for each target
    /// slot, `n` and `n` × (key, count, discrepancies), then a byte: 1 when the price counts
    /// are the price slot's counts (and left out), 0 when they follow like a code slot.
    /// Little-endian throughout.
    pub fn from_bytes(bytes: &[u8]) -> Result<FeatureEncoder, ModelError> {
        let mut reader = ByteReader { bytes, offset: 0 };
        if reader.take(4)? != ENCODER_MAGIC {
            return Err(ModelError::Format(
                "not a feature encoder (magic OCFE missing)".to_owned(),
            ));
        }
        let version = reader.u32()?;
        if version != ENCODER_FORMAT_FULL && version != ENCODER_FORMAT_SCORING {
            return Err(ModelError::Format(format!(
                "feature encoder format {version} is not supported"
            )));
        }
        let full = version == ENCODER_FORMAT_FULL;
        let smoothing = reader.f64()?;
        let n_training_rows = reader.u64()? as usize;
        let prior = reader.f64()?;
        let mut fold_prior = [0.0; TARGET_FOLDS];
        for prior in &mut fold_prior {
            *prior = reader.f64()?;
        }
        let mut codes: [KeyTable<u32>; N_CODE_SLOTS] = Default::default();
        for codes in &mut codes {
            *codes = reader.u32_map()?.into_iter().collect();
        }
        let mut targets: [KeyMap<KeyTotal>; N_TARGET_SLOTS] = Default::default();
        let mut folds: [KeyMap<KeyFolds>; N_TARGET_SLOTS] = Default::default();
        let entry_bytes = if full {
            8 + 4 * (2 + 2 * TARGET_FOLDS)
        } else {
            8 + 4 * 2
        };
        for (totals, folds) in targets.iter_mut().zip(&mut folds) {
            let n_entries = reader.count(entry_bytes)?;
            totals.reserve(n_entries);
            if full {
                folds.reserve(n_entries);
            }
            for _ in 0..n_entries {
                let key = reader.u64()?;
                let total = KeyTotal {
                    count: reader.u32()?,
                    discrepancies: reader.u32()?,
                };
                if total.discrepancies > total.count {
                    return Err(ModelError::Format(
                        "feature encoder statistics do not add up".to_owned(),
                    ));
                }
                totals.insert(key, total);
                if !full {
                    continue;
                }
                let mut by_fold = KeyFolds::default();
                for count in &mut by_fold.count {
                    *count = reader.u32()?;
                }
                for discrepancies in &mut by_fold.discrepancies {
                    *discrepancies = reader.u32()?;
                }
                let folds_consistent = by_fold.count.iter().sum::<u32>() == total.count
                    && by_fold.discrepancies.iter().sum::<u32>() == total.discrepancies;
                if !folds_consistent {
                    return Err(ModelError::Format(
                        "feature encoder statistics do not add up".to_owned(),
                    ));
                }
                folds.insert(key, by_fold);
            }
        }
        let price_counts: KeyTable<u32> = if full {
            reader.u32_map()?.into_iter().collect()
        } else {
            match reader.take(1)?[0] {
                0 => reader.u32_map()?.into_iter().collect(),
                1 => targets[0]
                    .iter()
                    .map(|(&key, total)| (key, total.count))
                    .collect(),
                _ => {
                    return Err(ModelError::Format(
                        "feature encoder price counts flag is not 0 or 1".to_owned(),
                    ));
                }
            }
        };
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
            targets: targets.map(|totals| totals.into_iter().collect()),
            folds: full.then_some(folds),
            price_counts,
        })
    }
}

/// A map's entries in key order, for deterministic bytes.
fn sorted_entries<V>(entries: impl Iterator<Item = (u64, V)>) -> Vec<(u64, V)> {
    let mut entries: Vec<(u64, V)> = entries.collect();
    entries.sort_unstable_by_key(|&(key, _)| key);
    entries
}

/// `n` (u64), then `n` × (key u64, value u32) in key order.
fn write_u32_map(out: &mut Vec<u8>, map: &KeyTable<u32>) {
    let entries = sorted_entries(map.iter());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (key, value) in entries {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
}

const ENCODER_MAGIC: &[u8; 4] = b"OCFE";
/// With the per-fold statistics.
const ENCODER_FORMAT_FULL: u32 = 1;
/// Scoring-only: the full-train statistics.
const ENCODER_FORMAT_SCORING: u32 = 2;

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

    fn u32_map(&mut self) -> Result<KeyMap<u32>, ModelError> {
        let n_entries = self.count(12)?;
        let mut map = KeyMap::with_capacity_and_hasher(n_entries, Default::default());
        for _ in 0..n_entries {
            let key = self.u64()?;
            map.insert(key, self.u32()?);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    fn records() -> Vec<HistoryRecord> {
        let text = include_str!("../test_data/kcs_train_600.csv");
        let mut records = crate::history::parse_kcs(text.as_bytes())
            .unwrap_or_else(|errors| panic!("{errors:?}"));
        // HS codes without the usual six ASCII digits: short, and with multi-byte characters
        // across the 2- and 4-byte cuts.
        for (record, hs6) in records.iter_mut().zip([
            "", "4", "44", "440", "4408", "é", "4é", "44é1", "4éé", "ééé", "440é9",
        ]) {
            record.hs6 = hs6.to_owned();
            record.courier = None;
        }
        records
    }

    #[test]
    fn record_keys_are_the_slot_keys() {
        for record in records() {
            let keys = record_keys(&record);
            for (slot_idx, &slot) in CODE_SLOTS.iter().enumerate() {
                assert_eq!(keys.codes[slot_idx], code_key(slot, &record), "{slot:?}");
            }
            for (slot_idx, &slot) in TARGET_SLOTS.iter().enumerate() {
                assert_eq!(
                    keys.targets[slot_idx],
                    target_key(slot, &record),
                    "{slot:?}"
                );
            }
            assert_eq!(keys.targets[0], hash_decimal(record.item_price));
        }
    }

    #[test]
    fn key_table_is_a_map() {
        // Keys that share their first slot, the free-slot key itself, and a repeated key.
        let mut entries: Vec<(u64, u32)> = (0..1000u64).map(|i| (i << 40, i as u32)).collect();
        entries.push((FREE, 7));
        entries.push((5 << 40, 99));
        let table: KeyTable<u32> = entries.iter().copied().collect();
        assert_eq!(table.len(), 1001);
        assert_eq!(table.get(FREE), Some(&7));
        assert_eq!(
            table.get(5 << 40),
            Some(&99),
            "a repeated key keeps its last value"
        );
        assert_eq!(table.get(6 << 40), Some(&6));
        assert_eq!(table.get(1), None);
        for key in [FREE, 5 << 40, 999 << 40, 1, 1000 << 40] {
            assert_eq!(
                table.get_after(key, table.first_slot(key)),
                table.get(key).copied()
            );
        }
        let empty: KeyTable<u32> = KeyTable::default();
        assert_eq!(empty.get(FREE), None);
        assert_eq!(empty.get_after(FREE, empty.first_slot(FREE)), None);
        let reversed: KeyTable<u32> = table.iter().collect::<Vec<_>>().into_iter().rev().collect();
        assert_eq!(reversed, table);
        assert_ne!(reversed, empty);
    }
}
