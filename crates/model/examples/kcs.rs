//! Trains on the KCS synthetic training split and evaluates on the validation split.
//!
//! `cargo run --release -p model --example kcs [TRAIN.csv VALID.csv]`
//!
//! Checks that the flattened forest gives hessboost's bits on every validation row, then prints
//! the evaluation, the saved sizes, the training time and the single-thread scoring
//! throughput (best of 3 runs: precomputed features, encoding included, with explanation), so the
//! numbers in the crate's reports can be reproduced.

use std::time::Instant;

use model::{FeatureConfig, RiskModel, TrainParams, TrainedModel, history, train_pipeline};

const TRAIN_DEFAULT: &str = "/work/shared/data/fraud/kcs-synthetic/df_syn_train_eng.csv";
const VALID_DEFAULT: &str = "/work/shared/data/fraud/kcs-synthetic/df_syn_valid_eng.csv";

fn read(path: &str) -> Vec<model::HistoryRecord> {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("cannot open {path}: {error}"));
    match history::parse_kcs(std::io::BufReader::new(file)) {
        Ok(records) => records,
        Err(errors) => {
            for error in &errors {
                eprintln!("{path}: {error}");
            }
            panic!("{path}: {} errors", errors.len());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let train_path = args.get(1).map_or(TRAIN_DEFAULT, String::as_str);
    let valid_path = args.get(2).map_or(VALID_DEFAULT, String::as_str);
    let started = Instant::now();
    let train = read(train_path);
    let valid = read(valid_path);
    println!(
        "read {} training and {} validation rows in {:.2} s",
        train.len(),
        valid.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let trained = train_pipeline(&train, FeatureConfig::default(), &TrainParams::default())
        .expect("training");
    let training_s = started.elapsed().as_secs_f64();
    println!(
        "trained in {training_s:.2} s (encoder + {} trees, {} threads): {} rows, {} positives, {} .. {}",
        trained.model.n_trees(),
        TrainParams::default().threads,
        trained.training.rows,
        trained.training.positives,
        trained.training.period.0,
        trained.training.period.1
    );
    println!("data hash  {}", trained.training.data_hash);
    println!("model hash {}", trained.training.model_hash);
    let bytes = trained.to_bytes();
    let reloaded = TrainedModel::from_bytes(&bytes).expect("reload");
    println!(
        "saved model: {} bytes (scoring-only encoder {} bytes); with the per-fold statistics {} bytes (encoder {} bytes)",
        bytes.len(),
        trained.encoder.to_scoring_bytes().len(),
        trained.to_bytes_with_fold_statistics().len(),
        trained.encoder.to_bytes().len()
    );

    let evaluation = reloaded.evaluate(&valid);
    println!(
        "\nAUC all {:.6}, unseen price {:.6} ({} of {} validation rows)\n\n{}",
        evaluation.all.auc,
        evaluation.unseen_price.auc,
        evaluation.unseen_price.n_rows,
        evaluation.all.n_rows,
        evaluation.render_table()
    );

    // Single-thread throughput, best of 3 runs, with the model as loaded for live scoring.
    let live = &reloaded;
    let matrix = live.encoder.encode_all(&valid);

    // The flattened forest must give hessboost's bits on every validation row, for the model as
    // trained and as reloaded.
    for (name, model) in [("trained", &trained.model), ("reloaded", &live.model)] {
        assert!(model.has_forest(), "the {name} KCS model has no forest");
        let mismatches = (0..matrix.n_rows)
            .filter(|&row_idx| {
                let row = matrix.row(row_idx);
                model.score(row).to_bits() != model.score_hessboost(row).to_bits()
                    || model.margin(row).to_bits() != model.margin_hessboost(row).to_bits()
            })
            .count();
        assert_eq!(mismatches, 0, "{name}: forest differs from hessboost");
        println!(
            "forest = hessboost bit for bit on all {} validation rows ({name} model)",
            matrix.n_rows
        );
    }
    let repeats = 10;
    let mut checksum = 0.0f64;
    let precomputed = best_of_3(matrix.n_rows * repeats, || {
        for _ in 0..repeats {
            for row_idx in 0..matrix.n_rows {
                checksum += f64::from(live.model.score(matrix.row(row_idx)));
            }
        }
    });
    let precomputed_hessboost = best_of_3(matrix.n_rows * repeats, || {
        for _ in 0..repeats {
            for row_idx in 0..matrix.n_rows {
                checksum += f64::from(live.model.score_hessboost(matrix.row(row_idx)));
            }
        }
    });
    let encode_only = best_of_3(valid.len() * repeats, || {
        let mut row = [0.0f32; model::features::N_FEATURES];
        for _ in 0..repeats {
            for record in &valid {
                live.encoder.encode_into(record, &mut row);
                checksum += f64::from(std::hint::black_box(&row)[0]);
            }
        }
    });
    let with_encoding = best_of_3(valid.len() * repeats, || {
        for _ in 0..repeats {
            for record in &valid {
                checksum += f64::from(live.score(record));
            }
        }
    });
    let with_encoding_hessboost = best_of_3(valid.len() * repeats, || {
        let mut row = [0.0f32; model::features::N_FEATURES];
        for _ in 0..repeats {
            for record in &valid {
                live.encoder.encode_into(record, &mut row);
                checksum += f64::from(live.model.score_hessboost(&row));
            }
        }
    });
    let with_encoding_vec = best_of_3(valid.len() * repeats, || {
        for _ in 0..repeats {
            for record in &valid {
                checksum += f64::from(live.model.score(&live.encoder.encode(record)));
            }
        }
    });
    let explained = 1000.min(valid.len());
    let with_explanation = best_of_3(explained, || {
        for record in &valid[..explained] {
            checksum += f64::from(live.score_record(record).probability);
        }
    });
    let batch_explanation = best_of_3(valid.len(), || {
        for scored in live.score_records_explained(&valid) {
            checksum += f64::from(scored.probability);
        }
    });
    println!(
        "single-thread scoring (best of 3):\n  \
         {precomputed:>9.0} rows/s on precomputed features (RiskModel::score, flattened forest)\n  \
         {precomputed_hessboost:>9.0} rows/s on precomputed features (hessboost predict_row)\n  \
         {with_encoding:>9.0} rows/s including encoding (TrainedModel::score: encode_into + forest)\n  \
         {with_encoding_hessboost:>9.0} rows/s including encoding (encode_into + hessboost predict_row)\n  \
         {with_encoding_vec:>9.0} rows/s including encoding (FeatureEncoder::encode + RiskModel::score)\n  \
         {encode_only:>9.0} rows/s encoding only (FeatureEncoder::encode_into)\n  \
         {with_explanation:>9.0} rows/s with explanation, one item per call (score_record)\n  \
         {batch_explanation:>9.0} rows/s with explanation, all {} items in one call (score_records_explained; hessboost may use more threads)\n  \
         [checksum {checksum:.3}]",
        valid.len()
    );
}

/// Rows per second of the fastest of three runs of `run`, which handles `rows` rows.
fn best_of_3(rows: usize, mut run: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            run();
            rows as f64 / started.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}
