//! Tests of the fraud-model crate. Data: a 600 + 200 row slice of the KCS synthetic data
//! (`test_data/kcs_*.csv`, MIT, see `test_data/README.md`), generated records, and tiny
//! XGBoost / LightGBM models written by `test_data/make_import_models.py`.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::features::{FEATURES, N_FEATURES, TARGET_FOLDS};
use crate::history::{HISTORY_ERRORS_MAX, HISTORY_ROWS_MAX, parse_kcs, parse_kcs_limited};
use crate::metrics::{
    auc, date_precision_recall, numpy_percentile, top_k_count, top_k_precision_recall,
    top_k_revenue_share,
};
use crate::*;

const TRAIN_SLICE: &str = include_str!("../test_data/kcs_train_600.csv");
const VALID_SLICE: &str = include_str!("../test_data/kcs_valid_200.csv");
const GOLDEN_SCORES: &str = include_str!("../test_data/golden_scores.txt");
const GOLDEN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/golden_scores.txt");

const KCS_HEADER: &str = "Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,Critical Fraud";
const KCS_ROW: &str = "97061800,2020-01-01,30,B,11,21,11,10,ZZR1LT6,QLRUBN9,0VKY2BR,,440890,BE,BE,0.0,FEU1,G,108.0,372254.4,0,0";

fn parse_ok(text: &str) -> Vec<HistoryRecord> {
    parse_kcs(text.as_bytes()).unwrap_or_else(|errors| panic!("{errors:?}"))
}

fn small_params() -> TrainParams {
    // Fewer rounds keep the debug-build tests fast; everything else is the production setting.
    TrainParams {
        rounds: 40,
        ..TrainParams::default()
    }
}

/// SplitMix64, for generated records that are the same on every machine.
struct Draw(u64);
impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Records whose prices repeat (a few dozen values), so exact-key statistics are shared across
/// folds and dates, which is what the leak tests need.
fn generated_records(n: usize, seed: u64) -> Vec<HistoryRecord> {
    let mut draw = Draw(seed);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    (0..n)
        .map(|idx| {
            let price = Decimal::new(1000 + 125 * draw.below(40) as i64, 1);
            let discrepancy = draw.below(4) == 0;
            HistoryRecord {
                declaration_id: format!("D{idx:06}"),
                date: start + chrono::Days::new(draw.below(365)),
                office: format!("{}", 10 + draw.below(5)),
                procedure: ["A", "B", "C"][draw.below(3) as usize].to_owned(),
                import_kind: format!("{}", 11 + draw.below(4)),
                import_use: "21".to_owned(),
                payment: "11".to_owned(),
                transport_mode: "40".to_owned(),
                declarant: format!("DECL{}", draw.below(20)),
                importer: format!("IMP{}", draw.below(50)),
                seller: format!("SEL{}", draw.below(50)),
                courier: (draw.below(3) == 0).then(|| format!("C{}", draw.below(4))),
                hs6: format!("{:06}", 10_000 + draw.below(30) * 1010),
                dispatch_country: ["CN", "US", "DE"][draw.below(3) as usize].to_owned(),
                origin_country: ["CN", "US", "VN"][draw.below(3) as usize].to_owned(),
                tax_rate: Decimal::new(draw.below(20) as i64, 0),
                tax_type: "A".to_owned(),
                origin_indicator: "G".to_owned(),
                net_mass_kg: Decimal::new(1 + draw.below(30) as i64, 0),
                item_price: price,
                label: Some(Label {
                    discrepancy,
                    critical: false,
                    revenue: None,
                }),
            }
        })
        .collect()
}

fn flip(record: &mut HistoryRecord) {
    let label = record.label.as_mut().expect("labelled");
    label.discrepancy = !label.discrepancy;
}

// ---------------------------------------------------------------- history

#[test]
fn kcs_slice_parses_with_the_platform_vocabulary() {
    let records = parse_ok(TRAIN_SLICE);
    assert_eq!(records.len(), 600);
    let first = &records[0];
    assert_eq!(first.declaration_id, "97061800");
    assert_eq!(
        first.date,
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("date")
    );
    assert_eq!(first.procedure, "B");
    assert_eq!(first.courier, None);
    assert_eq!(first.hs6, "440890");
    assert_eq!(first.dispatch_country, "BE");
    assert_eq!(
        first.net_mass_kg,
        Decimal::from_str("108").expect("decimal")
    );
    assert_eq!(
        first.item_price,
        Decimal::from_str("372254.4").expect("decimal")
    );
    assert_eq!(
        first.label,
        Some(Label {
            discrepancy: false,
            critical: false,
            revenue: None
        })
    );
    assert_eq!(
        records
            .iter()
            .filter(|record| record.label.as_ref().is_some_and(|l| l.discrepancy))
            .count(),
        123
    );
}

#[test]
fn columns_are_found_by_name_and_outcomes_are_optional() {
    // Reordered columns, no outcome columns, an HS6 that lost its leading zero, a revenue column.
    let text = "Item Price,Net Mass,Country of Origin Indicator,Tax Type,Tax Rate,Country of Origin,Country of Departure,HS6 Code,Courier ID,Seller ID,Importer ID,Declarant ID,Mode of Transport,Payment Type,Import Use,Import Type,Process Type,Office ID,Date,Declaration ID\n\
                12.50,3,G,A,8.0,CN,HK,10121,CR1,,IMP,DEC,10,11,21,11,B,30,2020-02-03,1\n";
    let records = parse_ok(text);
    assert_eq!(records[0].hs6, "010121");
    assert_eq!(records[0].courier.as_deref(), Some("CR1"));
    assert_eq!(records[0].seller, "");
    assert_eq!(
        records[0].item_price,
        Decimal::from_str("12.5").expect("decimal")
    );
    assert_eq!(records[0].label, None);

    let with_revenue = format!("{KCS_HEADER},Revenue\n{KCS_ROW},1250.00\n");
    let records = parse_ok(&with_revenue);
    let revenue = records[0].label.as_ref().and_then(|label| label.revenue);
    assert_eq!(revenue, Some(Decimal::from(1250)));

    let critical = format!("{KCS_HEADER}\n{}\n", KCS_ROW.replace(",0,0", ",1,2"));
    assert_eq!(
        parse_ok(&critical)[0].label,
        Some(Label {
            discrepancy: true,
            critical: true,
            revenue: None
        })
    );
}

#[test]
fn a_missing_column_is_named_in_english_and_chinese() {
    let header = KCS_HEADER.replace("Net Mass,", "");
    let row = KCS_ROW.replace("108.0,", "");
    let errors = parse_kcs(format!("{header}\n{row}\n").as_bytes()).expect_err("missing column");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 1);
    assert_eq!(errors[0].column.as_deref(), Some("Net Mass"));
    assert_eq!(
        errors[0].to_string(),
        "line 1, column \"Net Mass\": the header has no such column / 表头缺少该列"
    );
}

#[test]
fn every_bad_cell_is_reported_with_its_line_and_column() {
    let bad_mass = KCS_ROW.replace("108.0", "abc");
    let bad_date_and_price = KCS_ROW
        .replace("2020-01-01", "2020-13-01")
        .replace("372254.4", "-5");
    let text = format!("{KCS_HEADER}\n{KCS_ROW}\n{bad_mass}\n{KCS_ROW}\n{bad_date_and_price}\n");
    let errors = parse_kcs(text.as_bytes()).expect_err("bad cells");
    let found: Vec<(u64, Option<&str>)> = errors
        .iter()
        .map(|error| (error.line, error.column.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![
            (3, Some("Net Mass")),
            (5, Some("Date")),
            (5, Some("Item Price"))
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "line 3, column \"Net Mass\": \"abc\" is not a decimal number / \"abc\" 不是十进制数"
    );
    assert_eq!(errors[2].message_en, "\"-5\" is negative");
    assert_eq!(errors[2].message_zh, "\"-5\" 为负数");
}

#[test]
fn errors_stop_at_history_errors_max() {
    let bad_row = KCS_ROW.replace("108.0", "x");
    let file = |n_bad: usize| format!("{KCS_HEADER}\n{}", format!("{bad_row}\n").repeat(n_bad));
    let errors = parse_kcs(file(HISTORY_ERRORS_MAX).as_bytes()).expect_err("bad rows");
    assert_eq!(errors.len(), HISTORY_ERRORS_MAX);
    assert_eq!(
        errors.last().map(|error| error.line),
        Some(HISTORY_ERRORS_MAX as u64 + 1)
    );
    let errors = parse_kcs(file(HISTORY_ERRORS_MAX + 1).as_bytes()).expect_err("bad rows");
    assert_eq!(errors.len(), HISTORY_ERRORS_MAX);
}

#[test]
fn rows_stop_at_the_row_limit() {
    assert_eq!(HISTORY_ROWS_MAX, 5_000_000);
    // The limit is the same code path with a smaller number: 3 rows pass, the fourth is refused.
    let file = |n_rows: usize| format!("{KCS_HEADER}\n{}", format!("{KCS_ROW}\n").repeat(n_rows));
    assert_eq!(
        parse_kcs_limited(file(3).as_bytes(), 3, HISTORY_ERRORS_MAX).map(|records| records.len()),
        Ok(3)
    );
    let errors =
        parse_kcs_limited(file(4).as_bytes(), 3, HISTORY_ERRORS_MAX).expect_err("too many rows");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 5);
    assert_eq!(errors[0].column, None);
    assert_eq!(errors[0].message_en, "the file has more than 3 rows");
}

// ---------------------------------------------------------------- features

#[test]
fn every_feature_has_a_unique_name_and_both_descriptions() {
    assert_eq!(N_FEATURES, 38);
    let mut names: Vec<&str> = FEATURES.iter().map(|feature| feature.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), N_FEATURES);
    for feature in FEATURES {
        assert!(
            !feature.description_en.is_empty() && !feature.description_zh.is_empty(),
            "{}",
            feature.name
        );
    }
}

#[test]
fn labels_after_the_training_cut_change_no_feature() {
    let records = generated_records(400, 7);
    let cut = NaiveDate::from_ymd_opt(2025, 7, 1).expect("date");
    let mut flipped = records.clone();
    for record in flipped.iter_mut().filter(|record| record.date >= cut) {
        flip(record);
    }
    let before_cut = |records: &[HistoryRecord]| -> Vec<HistoryRecord> {
        records
            .iter()
            .filter(|record| record.date < cut)
            .cloned()
            .collect()
    };
    let (train, train_flipped) = (before_cut(&records), before_cut(&flipped));
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let encoder_flipped = FeatureEncoder::fit(&train_flipped, FeatureConfig::default());
    assert_eq!(encoder.to_bytes(), encoder_flipped.to_bytes());
    assert_eq!(
        encoder.encode_training(&train).values,
        encoder_flipped.encode_training(&train_flipped).values
    );
    // A later item's own label does not enter its features either.
    for (record, record_flipped) in records
        .iter()
        .zip(&flipped)
        .filter(|(record, _)| record.date >= cut)
    {
        assert_eq!(
            bits(&encoder.encode(record)),
            bits(&encoder_flipped.encode(record_flipped))
        );
    }
}

#[test]
fn a_training_row_never_sees_its_own_label() {
    let train = generated_records(300, 11);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let matrix = encoder.encode_training(&train);
    let mut changed_elsewhere = false;
    for row_idx in [0, 1, 7, 150, 299] {
        let mut flipped = train.clone();
        flip(&mut flipped[row_idx]);
        let encoder_flipped = FeatureEncoder::fit(&flipped, FeatureConfig::default());
        let matrix_flipped = encoder_flipped.encode_training(&flipped);
        for other_idx in 0..train.len() {
            let same = bits(matrix.row(other_idx)) == bits(matrix_flipped.row(other_idx));
            if other_idx % TARGET_FOLDS == row_idx % TARGET_FOLDS {
                // The row's own fold (itself included) sees neither the label nor a prior with it.
                assert!(
                    same,
                    "row {other_idx} changed when row {row_idx}'s label flipped"
                );
            } else if !same {
                changed_elsewhere = true;
            }
        }
    }
    // The test can fail: the label does reach rows of other folds.
    assert!(changed_elsewhere);
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|value| value.to_bits()).collect()
}

#[test]
fn live_encoding_uses_full_training_statistics() {
    let train = parse_ok(TRAIN_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let record = &train[0];
    let live = encoder.encode(record);
    let count_price = FEATURES
        .iter()
        .position(|feature| feature.name == "count_price")
        .expect("feature");
    let training_count = FEATURES
        .iter()
        .position(|feature| feature.name == "training_count_price")
        .expect("feature");
    // Out of fold, a row's own occurrence is not counted; live, every training row is.
    assert_eq!(live[count_price], live[training_count]);
    assert!(encoder.encode_training(&train).row(0)[count_price] < live[count_price]);
    assert!(encoder.is_price_seen(record));
}

#[test]
fn features_are_finite_or_nan_even_for_unseen_and_extreme_items() {
    let train = parse_ok(TRAIN_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let mut record = train[0].clone();
    record.office = "never seen".to_owned();
    record.item_price = Decimal::MAX;
    record.net_mass_kg = Decimal::ZERO;
    record.courier = Some("new courier".to_owned());
    let features = encoder.encode(&record);
    assert_eq!(features.len(), N_FEATURES);
    assert!(
        features
            .iter()
            .all(|value| value.is_finite() || value.is_nan())
    );
    assert!(features[0].is_nan(), "an unseen office is unknown");
    assert!(!encoder.is_price_seen(&record));
}

#[test]
fn encoder_bytes_round_trip_and_damage_is_refused() {
    let train = parse_ok(TRAIN_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let bytes = encoder.to_bytes();
    assert_eq!(
        bytes,
        FeatureEncoder::fit(&train, FeatureConfig::default()).to_bytes(),
        "deterministic"
    );
    let read = FeatureEncoder::from_bytes(&bytes).expect("round trip");
    assert_eq!(read, encoder);
    assert!(matches!(
        FeatureEncoder::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ModelError::Format(_))
    ));
    assert!(matches!(
        FeatureEncoder::from_bytes(b"OCTM"),
        Err(ModelError::Format(_))
    ));
}

// ---------------------------------------------------------------- metrics

#[test]
fn auc_counts_ties_as_one_half() {
    // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1 only, 0.8 beats both
    // → 3 of 4 pairs.
    assert_eq!(
        auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
        0.75
    );
    // Positives 0.5 and 0.9, negatives 0.5 and 0.2: (0.5, 0.5) is a tie worth 1/2, the other three
    // pairs are won → 3.5 / 4.
    assert_eq!(
        auc(&[0.5, 0.5, 0.2, 0.9], &[true, false, false, true]),
        0.875
    );
    assert!(auc(&[0.1, 0.2], &[true, true]).is_nan());
}

/// Ten items; positives at rows 1, 2, 6, 7. Inspection order (score desc, row asc):
/// 0 (0.9), 2 (0.9), 7 (0.8), 9 (0.7), 1 (0.5), 4 (0.5), 8 (0.4), 5 (0.3), 6 (0.2), 3 (0.1).
const SCORES: [f64; 10] = [0.9, 0.5, 0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.4, 0.7];
const LABELS: [bool; 10] = [
    false, true, true, false, false, false, true, true, false, false,
];

#[test]
fn top_k_inspects_exactly_ceil_rate_times_n_with_ties_by_row() {
    assert_eq!(
        [
            top_k_count(10, 5),
            top_k_count(10, 10),
            top_k_count(10, 25),
            top_k_count(0, 10)
        ],
        [1, 1, 3, 0]
    );
    // k = 1: row 0 (negative).
    assert_eq!(top_k_precision_recall(&SCORES, &LABELS, 10), (0.0, 0.0));
    // k = 2: rows 0 and 2 (the tie at 0.9 goes by row) → 1 hit.
    assert_eq!(top_k_precision_recall(&SCORES, &LABELS, 20), (0.5, 0.25));
    // k = ceil(2.5) = 3: rows 0, 2, 7 → 2 hits.
    assert_eq!(
        top_k_precision_recall(&SCORES, &LABELS, 25),
        (2.0 / 3.0, 0.5)
    );
    // k = 5: rows 0, 2, 7, 9, 1 → 3 hits.
    assert_eq!(top_k_precision_recall(&SCORES, &LABELS, 50), (0.6, 0.75));
}

#[test]
fn date_selects_strictly_above_the_numpy_percentile() {
    // Sorted: 0.1 0.2 0.3 0.4 0.5 0.5 0.7 0.8 0.9 0.9. The 80th percentile sits at 9 × 0.8 = 7.2:
    // 0.8 + (0.9 − 0.8) × 0.2 = 0.82 → rows 0 and 2 selected, one positive.
    assert!((numpy_percentile(&SCORES, 80.0) - 0.82).abs() < 1e-12);
    assert_eq!(date_precision_recall(&SCORES, &LABELS, 20), (0.5, 0.25, 2));
    // The 90th percentile is 9 × 0.9 = 8.1 → between 0.9 and 0.9 = 0.9: nothing is strictly
    // above, so the DATE rule selects no item where top-k would inspect one.
    assert_eq!(numpy_percentile(&SCORES, 90.0), 0.9);
    assert_eq!(date_precision_recall(&SCORES, &LABELS, 10), (0.0, 0.0, 0));
    // 50th: 4.5 → 0.5 + 0 = 0.5 → the four items above 0.5: rows 0, 2, 7, 9 → 2 positives.
    assert_eq!(date_precision_recall(&SCORES, &LABELS, 50), (0.5, 0.5, 4));
}

#[test]
fn revenue_share_is_the_top_k_part_of_all_revenue() {
    let revenue = [100.0, 0.0, 50.0, 0.0, 0.0, 0.0, 10.0, 40.0, 0.0, 0.0];
    // k = 1: row 0 → 100 of 200. k = 3: rows 0, 2, 7 → 190 of 200.
    assert_eq!(top_k_revenue_share(&SCORES, &revenue, 10), 0.5);
    assert_eq!(top_k_revenue_share(&SCORES, &revenue, 25), 0.95);
    assert!(top_k_revenue_share(&SCORES, &[0.0; 10], 10).is_nan());
}

#[test]
fn evaluation_reports_all_rows_and_unseen_prices_apart() {
    let revenue = [100.0, 0.0, 50.0, 0.0, 0.0, 0.0, 10.0, 40.0, 0.0, 0.0];
    let unseen = [
        true, true, false, false, false, false, true, true, false, false,
    ];
    let evaluation = Evaluation::compute(&SCORES, &LABELS, Some(&revenue), &unseen);
    assert_eq!((evaluation.all.n_rows, evaluation.all.n_positive), (10, 4));
    assert_eq!(
        evaluation
            .all
            .rates
            .iter()
            .map(|rate| rate.rate_pct)
            .collect::<Vec<_>>(),
        vec![1, 2, 5, 10]
    );
    assert_eq!(evaluation.all.rates[3].revenue_share, Some(0.5));
    // Unseen rows 0, 1, 6, 7: scores 0.9 (neg), 0.5, 0.2, 0.8 (pos): every positive-negative pair
    // but (0.5, 0.2 vs 0.9) … positives 0.5, 0.2, 0.8 against the one negative 0.9 → AUC 0.
    assert_eq!(
        (
            evaluation.unseen_price.n_rows,
            evaluation.unseen_price.n_positive
        ),
        (4, 3)
    );
    assert_eq!(evaluation.unseen_price.auc, 0.0);
    let table = evaluation.render_table();
    assert!(table.contains("unseen price"), "{table}");
}

// ---------------------------------------------------------------- models

fn slice_model() -> TrainedModel {
    train_pipeline(
        &parse_ok(TRAIN_SLICE),
        FeatureConfig::default(),
        &small_params(),
    )
    .expect("training")
}

#[test]
fn explanations_sum_to_the_margin_and_scores_are_its_logistic() {
    let trained = slice_model();
    for record in parse_ok(VALID_SLICE).iter().take(50) {
        let features = trained.encoder.encode(record);
        let margin = trained.model.margin(&features);
        let explanation = trained.model.explain(&features);
        assert_eq!(explanation.contributions.len(), N_FEATURES);
        assert!(
            (explanation.margin() - margin).abs() < 1e-4,
            "{} vs {margin}",
            explanation.margin()
        );
        let probability = 1.0 / (1.0 + (-margin).exp());
        assert!((trained.model.score(&features) - probability).abs() < 1e-6);
    }
}

#[test]
fn a_stopped_training_gives_no_model() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let train = parse_ok(TRAIN_SLICE);
    let params = TrainParams {
        // Far more rounds than the stop lets it run: without the stop it would finish, later.
        rounds: 100_000,
        ..small_params()
    };
    let stopped_before = AtomicBool::new(true);
    let stop = AtomicBool::new(false);

    let before =
        train_pipeline_until_stopped(&train, FeatureConfig::default(), &params, &stopped_before);
    let during = std::thread::scope(|scope| {
        let training = scope.spawn(|| {
            train_pipeline_until_stopped(&train, FeatureConfig::default(), &params, &stop)
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        training.join().expect("the training thread ends")
    });

    assert!(matches!(before, Err(ModelError::Stopped)), "{before:?}");
    assert!(matches!(during, Err(ModelError::Stopped)), "{during:?}");
}

#[test]
fn training_is_deterministic_and_saved_models_score_identically() {
    let train = parse_ok(TRAIN_SLICE);
    let valid = parse_ok(VALID_SLICE);
    let trained = slice_model();
    let again =
        train_pipeline(&train, FeatureConfig::default(), &small_params()).expect("training");
    assert_eq!(
        trained.training, again.training,
        "same rows and seed, same model hash"
    );
    let read = TrainedModel::from_bytes(&trained.to_bytes()).expect("round trip");
    assert_eq!(read.training, trained.training);
    assert_eq!(
        bits(&read.score_records(&valid)),
        bits(&trained.score_records(&valid))
    );
    for record in valid.iter().take(20) {
        // Debug text, because a NaN feature value is not equal to itself.
        assert_eq!(
            format!("{:?}", read.score_record(record)),
            format!("{:?}", trained.score_record(record))
        );
    }
    assert_eq!(trained.training.rows, 600);
    assert_eq!(trained.training.positives, 123);
    assert_eq!(
        trained.training.period.0,
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("date")
    );
    assert_eq!(trained.training.data_hash, data_hash(&train));
}

#[test]
fn a_swapped_or_damaged_model_is_refused() {
    let trained = slice_model();
    let bytes = trained.to_bytes();
    // The model's bytes are last: changing one breaks the recorded model hash.
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(matches!(
        TrainedModel::from_bytes(&damaged),
        Err(ModelError::Format(_))
    ));
    assert!(matches!(
        TrainedModel::from_bytes(&bytes[..bytes.len() / 2]),
        Err(ModelError::Format(_))
    ));
    assert!(matches!(
        TrainedModel::from_bytes(b"not a model"),
        Err(ModelError::Format(_))
    ));
}

#[test]
fn golden_scores_do_not_change_silently() {
    // A hessboost upgrade or an encoder change that moves any score fails here. To accept a
    // deliberate change: UPDATE_GOLDEN=1 cargo test -p model golden, and review the diff.
    let trained = slice_model();
    let scores = trained.score_records(&parse_ok(VALID_SLICE));
    let rendered: String = scores.iter().map(|score| format!("{score:?}\n")).collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_PATH, &rendered).expect("write golden scores");
        return;
    }
    assert_eq!(
        rendered, GOLDEN_SCORES,
        "scores differ from test_data/golden_scores.txt"
    );
}

#[test]
fn scored_items_name_their_strongest_reasons() {
    let trained = slice_model();
    let record = &parse_ok(VALID_SLICE)[0];
    let scored = trained.score_record(record);
    assert_eq!(scored.top_contributions.len(), EXPLANATION_TOP);
    let sizes: Vec<f32> = scored
        .top_contributions
        .iter()
        .map(|contribution| contribution.log_odds.abs())
        .collect();
    assert!(sizes.windows(2).all(|pair| pair[0] >= pair[1]), "{sizes:?}");
    assert!(FEATURES.contains(&scored.top_contributions[0].feature));
    assert!((0.0..=1.0).contains(&scored.probability));
}

#[test]
fn training_without_labels_is_refused() {
    let mut records = parse_ok(TRAIN_SLICE);
    for record in &mut records {
        record.label = None;
    }
    let error =
        train_pipeline(&records, FeatureConfig::default(), &small_params()).expect_err("no labels");
    assert_eq!(error, ModelError::NoLabelledRows);
}

struct ImportRows {
    rows: Vec<Vec<f32>>,
    xgboost: Vec<f32>,
    lightgbm: Vec<f32>,
}

fn import_rows() -> ImportRows {
    let text = include_str!("../test_data/import_rows.csv");
    let mut imported = ImportRows {
        rows: Vec::new(),
        xgboost: Vec::new(),
        lightgbm: Vec::new(),
    };
    for line in text.lines().skip(1) {
        let values: Vec<f32> = line
            .split(',')
            .map(|cell| cell.parse::<f32>().expect("number or nan"))
            .collect();
        imported.rows.push(values[..N_FEATURES].to_vec());
        imported.xgboost.push(values[N_FEATURES]);
        imported.lightgbm.push(values[N_FEATURES + 1]);
    }
    imported
}

#[test]
fn an_xgboost_json_model_scores_as_xgboost_does() {
    let model =
        GbdtModel::import_xgboost_json(include_bytes!("../test_data/xgb_tiny.json"), N_FEATURES)
            .expect("import");
    let imported = import_rows();
    assert_eq!(imported.rows.len(), 40);
    for (row, expected) in imported.rows.iter().zip(&imported.xgboost) {
        assert!(
            (model.score(row) - expected).abs() < 1e-6,
            "{} vs {expected}",
            model.score(row)
        );
        assert!((model.explain(row).margin() - model.margin(row)).abs() < 1e-4);
    }
}

#[test]
fn a_lightgbm_text_model_scores_as_lightgbm_does() {
    let model =
        GbdtModel::import_lightgbm_text(include_bytes!("../test_data/lgb_tiny.txt"), N_FEATURES)
            .expect("import");
    let imported = import_rows();
    for (row, expected) in imported.rows.iter().zip(&imported.lightgbm) {
        assert!(
            (model.score(row) - expected).abs() < 1e-6,
            "{} vs {expected}",
            model.score(row)
        );
    }
}

#[test]
fn an_imported_model_for_other_features_is_refused() {
    let error = GbdtModel::import_xgboost_json(include_bytes!("../test_data/xgb_tiny.json"), 37)
        .expect_err("37");
    assert_eq!(
        error,
        ModelError::FeatureCount {
            expected: 37,
            found: 38
        }
    );
    assert_eq!(
        error.to_string(),
        "the model reads 38 features but the encoder gives 37 / 模型读取 38 个特征，编码器提供 37 个"
    );
    assert!(matches!(
        GbdtModel::import_xgboost_json(b"{}", N_FEATURES),
        Err(ModelError::Format(_))
    ));
}

#[test]
fn training_does_not_depend_on_the_thread_count() {
    let train = parse_ok(TRAIN_SLICE);
    let one = train_pipeline(
        &train,
        FeatureConfig::default(),
        &TrainParams {
            threads: 1,
            ..small_params()
        },
    );
    let two = train_pipeline(
        &train,
        FeatureConfig::default(),
        &TrainParams {
            threads: 2,
            ..small_params()
        },
    );
    assert_eq!(
        one.expect("one thread").training.model_hash,
        two.expect("two threads").training.model_hash
    );
}

// ---------------------------------------------------------------- fast paths and scoring-only bytes

/// A slice model saved by the format before the scoring-only encoder (encoder format 1, with
/// the per-fold statistics), written by the crate as of that format.
const TRAINED_V1_SLICE: &[u8] = include_bytes!("../test_data/trained_v1_slice.bin");

#[test]
fn encode_into_and_score_are_encode_and_score_record() {
    let trained = slice_model();
    let mut row = [0.0f32; N_FEATURES];
    for record in parse_ok(VALID_SLICE).iter().take(50) {
        trained.encoder.encode_into(record, &mut row);
        assert_eq!(bits(&row), bits(&trained.encoder.encode(record)));
        assert_eq!(
            trained.score(record).to_bits(),
            trained.score_record(record).probability.to_bits()
        );
    }
}

#[test]
#[should_panic(expected = "a feature row holds 38 values")]
fn encode_into_refuses_a_buffer_of_another_length() {
    let train = parse_ok(TRAIN_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    encoder.encode_into(&train[0], &mut [0.0; 37]);
}

#[test]
fn batch_explanations_are_the_single_ones() {
    let trained = slice_model();
    let valid = parse_ok(VALID_SLICE);
    let batch = trained.score_records_explained(&valid);
    assert_eq!(batch.len(), valid.len());
    for (record, scored) in valid.iter().zip(&batch) {
        // Debug text, because a NaN feature value is not equal to itself.
        assert_eq!(
            format!("{scored:?}"),
            format!("{:?}", trained.score_record(record))
        );
    }
    assert!(trained.score_records_explained(&[]).is_empty());
}

#[test]
fn scoring_only_encoder_encodes_the_same_and_is_smaller() {
    let train = parse_ok(TRAIN_SLICE);
    let valid = parse_ok(VALID_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let full = encoder.to_bytes();
    let scoring = encoder.to_scoring_bytes();
    assert!(
        scoring.len() * 2 < full.len(),
        "{} vs {}",
        scoring.len(),
        full.len()
    );
    let read = FeatureEncoder::from_bytes(&scoring).expect("scoring-only bytes");
    assert!(!read.has_fold_statistics());
    assert!(encoder.has_fold_statistics());
    assert_eq!(read, encoder.clone().without_fold_statistics());
    assert_eq!(
        read.to_bytes(),
        scoring,
        "a scoring-only encoder writes scoring-only bytes"
    );
    assert_eq!(
        bits(&read.encode_all(&valid).values),
        bits(&encoder.encode_all(&valid).values)
    );
    for record in train.iter().chain(&valid) {
        assert_eq!(read.is_price_seen(record), encoder.is_price_seen(record));
    }
    assert!(matches!(
        FeatureEncoder::from_bytes(&scoring[..scoring.len() - 1]),
        Err(ModelError::Format(_))
    ));
    let mut bad_flag = scoring.clone();
    *bad_flag.last_mut().expect("flag") = 7;
    assert!(matches!(
        FeatureEncoder::from_bytes(&bad_flag),
        Err(ModelError::Format(_))
    ));
    let mut future = scoring;
    future[4..8].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        FeatureEncoder::from_bytes(&future),
        Err(ModelError::Format(
            "feature encoder format 3 is not supported".to_owned()
        ))
    );
}

#[test]
#[should_panic(expected = "scoring-only encoder")]
fn a_scoring_only_encoder_cannot_encode_training_rows() {
    let train = parse_ok(TRAIN_SLICE);
    let encoder = FeatureEncoder::fit(&train, FeatureConfig::default());
    let read = FeatureEncoder::from_bytes(&encoder.to_scoring_bytes()).expect("read");
    read.encode_training(&train);
}

#[test]
fn saved_models_in_either_format_score_identically() {
    let valid = parse_ok(VALID_SLICE);
    let trained = slice_model();
    let compact = trained.to_bytes();
    let with_folds = trained.to_bytes_with_fold_statistics();
    assert!(compact.len() < with_folds.len());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        // The slice model changed deliberately (e.g. the history reader's rounding): the full
        // format is the same, its bytes are written again.
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/test_data/trained_v1_slice.bin"
            ),
            &with_folds,
        )
        .expect("write the slice model");
        return;
    }
    let old = TrainedModel::from_bytes(TRAINED_V1_SLICE).expect("old format");
    assert!(old.encoder.has_fold_statistics());
    assert_eq!(old.encoder, trained.encoder);
    assert_eq!(old.training, trained.training);
    assert_eq!(with_folds, TRAINED_V1_SLICE, "the full format is unchanged");
    for bytes in [&compact, &with_folds] {
        let read = TrainedModel::from_bytes(bytes).expect("round trip");
        assert_eq!(read.training, trained.training);
        assert_eq!(
            bits(&read.score_records(&valid)),
            bits(&trained.score_records(&valid))
        );
        for record in valid.iter().take(20) {
            assert_eq!(
                format!("{:?}", read.score_record(record)),
                format!("{:?}", trained.score_record(record))
            );
        }
    }
    assert!(
        !TrainedModel::from_bytes(&compact)
            .expect("read")
            .encoder
            .has_fold_statistics()
    );
}

// ---------------------------------------------------------------- flattened forest

/// `rows`, then rows that put each split's feature of the first row exactly on its threshold,
/// one `f32` below and above it, on its negation, on both zeros and missing.
fn with_boundary_rows(model: &GbdtModel, rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut out = rows.to_vec();
    let mut splits = model.split_points();
    splits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    splits.dedup();
    for (feature, threshold) in splits {
        for value in [
            threshold,
            threshold.next_down(),
            threshold.next_up(),
            -threshold,
            0.0,
            -0.0,
            f32::NAN,
        ] {
            let mut row = rows[0].clone();
            row[feature] = value;
            out.push(row);
        }
    }
    out
}

/// The forest's score and margin are hessboost's, bit for bit, on every row.
fn assert_forest_is_hessboost(model: &GbdtModel, rows: &[Vec<f32>]) {
    assert!(model.has_forest());
    let rows = with_boundary_rows(model, rows);
    for (row_idx, row) in rows.iter().enumerate() {
        assert_eq!(
            model.score(row).to_bits(),
            model.score_hessboost(row).to_bits(),
            "score of row {row_idx}: {row:?}"
        );
        assert_eq!(
            model.margin(row).to_bits(),
            model.margin_hessboost(row).to_bits(),
            "margin of row {row_idx}: {row:?}"
        );
    }
}

fn encoded_rows(trained: &TrainedModel, records: &[HistoryRecord]) -> Vec<Vec<f32>> {
    records
        .iter()
        .map(|record| trained.encoder.encode(record))
        .collect()
}

#[test]
fn the_forest_scores_kcs_rows_as_hessboost_does_bit_for_bit() {
    let valid = parse_ok(VALID_SLICE);
    // The production setting (150 rounds, depth 6) and the golden slice model (40 rounds).
    let production = train_pipeline(
        &parse_ok(TRAIN_SLICE),
        FeatureConfig::default(),
        &TrainParams::default(),
    )
    .expect("training");
    for trained in [production, slice_model()] {
        let rows = encoded_rows(&trained, &valid);
        assert_eq!(rows.len(), 200);
        assert_forest_is_hessboost(&trained.model, &rows);
        let reloaded = TrainedModel::from_bytes(&trained.to_bytes()).expect("reload");
        assert_forest_is_hessboost(&reloaded.model, &rows);
        for (record, row) in valid.iter().zip(&rows) {
            assert_eq!(
                reloaded.score(record).to_bits(),
                reloaded.model.score_hessboost(row).to_bits()
            );
        }
    }
}

#[test]
fn the_forest_walks_trees_deeper_than_its_complete_blocks() {
    // Depth 9 puts the trees on the node-by-node walk.
    let params = TrainParams {
        rounds: 20,
        max_depth: 9,
        min_child_weight: 1.0,
        ..TrainParams::default()
    };
    let trained = train_pipeline(&parse_ok(TRAIN_SLICE), FeatureConfig::default(), &params)
        .expect("training");
    let rows = encoded_rows(&trained, &parse_ok(VALID_SLICE));
    assert_forest_is_hessboost(&trained.model, &rows);
}

#[test]
fn the_forest_scores_imported_models_as_hessboost_does_bit_for_bit() {
    let rows = import_rows().rows;
    let xgboost =
        GbdtModel::import_xgboost_json(include_bytes!("../test_data/xgb_tiny.json"), N_FEATURES)
            .expect("import");
    assert_forest_is_hessboost(&xgboost, &rows);
    let lightgbm =
        GbdtModel::import_lightgbm_text(include_bytes!("../test_data/lgb_tiny.txt"), N_FEATURES)
            .expect("import");
    assert_forest_is_hessboost(&lightgbm, &rows);
}

#[test]
#[should_panic(expected = "features from the model's encoder")]
fn the_forest_refuses_an_infinite_value_as_hessboost_does() {
    let trained = slice_model();
    let mut row = trained.encoder.encode(&parse_ok(VALID_SLICE)[0]);
    row[0] = f32::INFINITY;
    trained.model.score(&row);
}

// ---------------------------------------------------------------- normalisation, identity, folds

#[test]
fn prices_differing_only_by_float_noise_are_one_price() {
    let row = |id: &str, price: &str| {
        KCS_ROW
            .replacen("97061800", id, 1)
            .replacen("372254.4", price, 1)
    };
    let text = format!(
        "{KCS_HEADER}\n{}\n{}\n{}\n",
        row("1", "73.72000000000001"),
        row("2", "73.71999999999998"),
        row("3", "73.7200")
    );
    let records = parse_ok(&text);
    let prices: Vec<String> = records.iter().map(|r| r.item_price.to_string()).collect();
    assert_eq!(prices, ["73.72", "73.72", "73.72"]);
    assert_eq!(
        cv::price_fold(records[0].item_price, 5),
        cv::price_fold(records[1].item_price, 5)
    );
    // The masses and rates go through the same rounding.
    let text = format!(
        "{KCS_HEADER}\n{}\n",
        KCS_ROW.replacen(",108.0,", ",108.00000000000001,", 1)
    );
    assert_eq!(parse_ok(&text)[0].net_mass_kg.to_string(), "108");
}

#[test]
fn amounts_are_rounded_half_away_from_zero_at_history_decimal_places() {
    use crate::history::{HISTORY_DECIMAL_PLACES, normalise_amount};
    assert_eq!(HISTORY_DECIMAL_PLACES, 4);
    let n = |t: &str| normalise_amount(Decimal::from_str(t).unwrap()).to_string();
    // The edge: half a unit of the fourth place goes up, just below it goes down.
    assert_eq!(n("0.00005"), "0.0001");
    assert_eq!(n("0.000049999"), "0");
    assert_eq!(n("12.34565"), "12.3457");
    assert_eq!(n("0.0035"), "0.0035", "sub-cent unit prices are kept");
    assert_eq!(n("2359189.8000000003"), "2359189.8");
    assert_eq!(n("100.000"), "100");
}

#[test]
fn row_identity_is_the_declaration_and_the_item_position() {
    let mut records = generated_records(3, 1);
    records[1].declaration_id = records[0].declaration_id.clone();
    let ids = history::row_ids(&records);
    assert_eq!(
        ids,
        [
            format!("{}/1", records[0].declaration_id),
            format!("{}/2", records[0].declaration_id),
            format!("{}/1", records[2].declaration_id),
        ]
    );
}

#[test]
fn the_price_fold_is_the_documented_hash() {
    // First eight bytes of SHA-256("73.72"), big-endian, modulo k: the values Python's hashlib
    // gives (bench/ml/baselines.py assigns folds with the same rule).
    let p = |t: &str| Decimal::from_str(t).unwrap();
    assert_eq!([2, 5, 7].map(|k| cv::price_fold(p("73.72"), k)), [0, 4, 6]);
    assert_eq!([2, 5, 7].map(|k| cv::price_fold(p("100.00"), k)), [1, 2, 5]);
    assert_eq!([2, 5, 7].map(|k| cv::price_fold(p("0.50"), k)), [0, 1, 5]);
}

#[test]
fn price_grouped_cross_validation_scores_every_item_on_a_price_it_never_saw() {
    let records = generated_records(400, 11);
    let cv = cv::cross_validate_by_price(
        &records,
        4,
        FeatureConfig::default(),
        &small_params(),
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(cv.rows.len(), 400);
    assert!(cv.rows.iter().all(|row| row.unseen_price));
    assert_eq!(cv.evaluation.unseen_price.n_rows, 400);
    // No price in two folds.
    let mut fold_of_price = std::collections::HashMap::new();
    for (row, fold) in cv.rows.iter().zip(&cv.row_folds) {
        let price = records[row.index].item_price;
        assert_eq!(*fold_of_price.entry(price).or_insert(*fold), *fold);
    }
    assert!(
        fold_of_price
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 4
    );
    // The figures are those of the rows listed.
    let scores: Vec<f64> = cv.rows.iter().map(|r| r.score).collect();
    let labels: Vec<bool> = cv.rows.iter().map(|r| r.discrepancy).collect();
    assert_eq!(cv.evaluation.all.auc, auc(&scores, &labels));
    for folds in [cv::CV_FOLDS_MIN - 1, cv::CV_FOLDS_MAX + 1] {
        assert!(
            cv::cross_validate_by_price(
                &records,
                folds,
                FeatureConfig::default(),
                &small_params(),
                &std::sync::atomic::AtomicBool::new(false),
            )
            .is_err(),
            "{folds} folds"
        );
    }
}
