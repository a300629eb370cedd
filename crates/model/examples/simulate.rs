//! Replays the KCS period week by week (`model::simulate`) and prints the end-of-replay figures
//! of every policy with the run time, to tune the replay's settings without a data folder.
//!
//! `cargo run --release -p model --example simulate [BUDGET_PCT EXPLORATION_PCT novelty|uncertainty|random RETRAIN_EVERY ROUNDS WEIGHT_MAX SEED]`
//! (defaults: those of `SimulationConfig::new(0)`, as `customs model simulate`).

use std::time::Instant;

use model::simulate::{Exploration, Policy, SimulationConfig, simulate};

const SPLITS: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/kcs-synthetic/df_syn_train_eng.csv"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/kcs-synthetic/df_syn_valid_eng.csv"
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut records = Vec::new();
    for path in SPLITS {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        records.extend(
            model::history::parse_kcs(std::io::BufReader::new(file))
                .unwrap_or_else(|e| panic!("{path}: {}", e[0])),
        );
    }
    let mut config = SimulationConfig::new(0);
    if let Some(budget) = args.get(1) {
        config.budget_pct = budget.parse().expect("budget %");
    }
    if let Some(share) = args.get(2) {
        config.exploration_pct = share.parse().expect("exploration %");
    }
    if let Some(kind) = args.get(3) {
        config.exploration = match kind.as_str() {
            "random" => Exploration::Random,
            "novelty" => Exploration::Novelty,
            _ => Exploration::Uncertainty,
        };
    }
    if let Some(every) = args.get(4) {
        config.retrain_every = every.parse().expect("retrain every");
    }
    if let Some(rounds) = args.get(5) {
        config.params.rounds = rounds.parse().expect("rounds");
    }
    if let Some(weight_max) = args.get(6) {
        config.weight_max = weight_max.parse().expect("weight max");
    }
    if let Some(seed) = args.get(7) {
        config.seed = seed.parse().expect("seed");
    }
    let started = Instant::now();
    let simulation = simulate(&records, &config).expect("replay");
    println!(
        "{} weeks replayed in {:.1} s ({:?} trainings)",
        simulation.weeks.len(),
        started.elapsed().as_secs_f64(),
        simulation.trainings
    );
    for (name, totals) in [
        ("all weeks", simulation.totals()),
        ("last weeks", simulation.end_of_replay()),
    ] {
        println!(
            "{name}: {} weeks, {} items, {} frauds",
            totals.weeks, totals.items, totals.frauds
        );
        for policy in Policy::ALL {
            println!(
                "  {:<18} precision {:.4} (model {:.4}, explored {:.4}) recall {:.4} new-product {:.4} first-seen {:.4}",
                policy.name(),
                totals.precision(policy).unwrap_or(f64::NAN),
                totals.model_precision(policy).unwrap_or(f64::NAN),
                totals.exploration_precision(policy).unwrap_or(f64::NAN),
                totals.recall(policy).unwrap_or(f64::NAN),
                totals.new_product_share(policy).unwrap_or(f64::NAN),
                totals.first_seen_share(policy).unwrap_or(f64::NAN),
            );
        }
    }
}
