//! Trains on the KCS synthetic training split and evaluates on the validation split.
//!
//! `cargo run --release -p model --example kcs [TRAIN.csv VALID.csv]`
//!
//! Prints the evaluation, the training time and the single-thread scoring throughput, so the
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
        "saved model: {} bytes (encoder {} bytes)",
        bytes.len(),
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

    // Single-thread throughput: features precomputed, then encoding included.
    let matrix = trained.encoder.encode_all(&valid);
    let repeats = 5;
    let started = Instant::now();
    let mut checksum = 0.0f64;
    for _ in 0..repeats {
        for row_idx in 0..matrix.n_rows {
            checksum += f64::from(trained.model.score(matrix.row(row_idx)));
        }
    }
    let precomputed = (matrix.n_rows * repeats) as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..repeats {
        for record in &valid {
            checksum += f64::from(trained.model.score(&trained.encoder.encode(record)));
        }
    }
    let with_encoding = (valid.len() * repeats) as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let explained = 1000.min(valid.len());
    for record in &valid[..explained] {
        checksum += f64::from(trained.score_record(record).probability);
    }
    let with_explanation = explained as f64 / started.elapsed().as_secs_f64();
    println!(
        "single-thread scoring: {precomputed:.0} rows/s on precomputed features, {with_encoding:.0} rows/s including encoding, \
         {with_explanation:.0} rows/s with explanation (score_record) [checksum {checksum:.3}]"
    );
}
