//! The platform's model in the three views of `bench/ml/compare.sh`, without the store: 5-fold
//! cross-validation grouped by price over both KCS files, and March 2021 held out, trained on
//! 2020 and on 2020 to February 2021. The same library calls as `customs model evaluate`.
//!
//! `cargo run --release -p model --example kcs_views [TRAIN.csv VALID.csv]`

use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use model::{FeatureConfig, TrainParams, cv, history, train_pipeline};

fn read(path: &str) -> Vec<model::HistoryRecord> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    history::parse_kcs(std::io::BufReader::new(file)).unwrap_or_else(|e| panic!("{path}: {}", e[0]))
}

fn line(view: &str, e: &model::Evaluation) {
    let u = &e.unseen_price;
    println!(
        "{view:12} AUC all {:.4}  AUC unseen {:.4} ({} rows)  P@5% unseen {:.3}  P@10% unseen {:.3}",
        e.all.auc, u.auc, u.n_rows, u.rates[2].top_k_precision, u.rates[3].top_k_precision
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/kcs-synthetic/");
    let train_path = args
        .get(1)
        .cloned()
        .unwrap_or(format!("{root}df_syn_train_eng.csv"));
    let valid_path = args
        .get(2)
        .cloned()
        .unwrap_or(format!("{root}df_syn_valid_eng.csv"));
    let mut every = read(&train_path);
    every.extend(read(&valid_path));
    let started = std::time::Instant::now();
    let folds = cv::cross_validate_by_price(
        &every,
        5,
        FeatureConfig::default(),
        &TrainParams::default(),
        &AtomicBool::new(false),
    )
    .expect("cross-validation");
    line("cv", &folds.evaluation);
    let day = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap();
    let (from, to) = (day("2021-03-01"), day("2021-03-31"));
    let test: Vec<_> = every
        .iter()
        .filter(|r| r.date >= from && r.date <= to)
        .cloned()
        .collect();
    for (view, until) in [("train", "2020-12-31"), ("train+valid", "2021-02-28")] {
        let train: Vec<_> = every
            .iter()
            .filter(|r| r.date <= day(until))
            .cloned()
            .collect();
        let trained = train_pipeline(&train, FeatureConfig::default(), &TrainParams::default())
            .expect("training");
        line(view, &trained.evaluate(&test));
    }
    eprintln!("{:.1} s", started.elapsed().as_secs_f64());
}
