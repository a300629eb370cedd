//! `customs model simulate`: replays the labelled history week by week, revealing labels only
//! for what each selection policy inspected (`model::simulate`), and prints the weekly table of
//! the hybrid policy against exploitation only, random selection and full information.

use clap::ValueEnum;
use clearance::Clearance;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use model::simulate::{Exploration, Policy, SimulationConfig, Totals};
use store_sqlite::SqliteStore;

use crate::show::explain;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExplorationArg {
    /// The highest scores among items whose price is new to the policy.
    Novelty,
    /// Chances in proportion to the model's uncertainty s·(1 − s).
    Uncertainty,
    /// Uniformly among the items not exploited.
    Random,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Items selected each week, in percent of the week's items (0.1 to 50).
    #[arg(long, default_value_t = 5.0)]
    budget_pct: f64,
    /// Part of the budget explored instead of exploited, in percent (0 to 100).
    #[arg(long, default_value_t = 20.0)]
    exploration_pct: f64,
    /// How the explored part is chosen.
    #[arg(long, value_enum, default_value_t = ExplorationArg::Novelty)]
    exploration: ExplorationArg,
    /// Weeks of fully labelled history every policy starts from (1 to 52).
    #[arg(long, default_value_t = 4)]
    initial_weeks: usize,
    /// Retrain every this many weeks (1 to 13).
    #[arg(long, default_value_t = 4)]
    retrain_every: usize,
    /// Clip of an explored label's inverse-propensity weight (1 to 100; 1: unweighted).
    #[arg(long, default_value_t = model::simulate::PROPENSITY_WEIGHT_MAX)]
    weight_max: f64,
    /// Seed of every random draw and of the trainer: the same seed gives the same table.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bearer token of a customs user who reads rules.
    #[arg(long, env = "CUSTOMS_TOKEN")]
    token: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v * 100.0))
}

fn row(label: String, totals: &Totals) -> Vec<String> {
    let mut cells = vec![label, totals.items.to_string(), totals.frauds.to_string()];
    for policy in Policy::ALL {
        cells.push(pct(totals.precision(policy)));
        cells.push(pct(totals.recall(policy)));
        cells.push(pct(totals.new_product_share(policy)));
    }
    cells
}

pub async fn run(clearance: &Clearance<SqliteStore>, args: SimulateArgs) -> anyhow::Result<()> {
    let caller = clearance.authenticate(&args.token).await.map_err(explain)?;
    let mut config = SimulationConfig::new(args.seed);
    config.budget_pct = args.budget_pct;
    config.exploration_pct = args.exploration_pct;
    config.exploration = match args.exploration {
        ExplorationArg::Novelty => Exploration::Novelty,
        ExplorationArg::Uncertainty => Exploration::Uncertainty,
        ExplorationArg::Random => Exploration::Random,
    };
    config.initial_weeks = args.initial_weeks;
    config.retrain_every = args.retrain_every;
    config.weight_max = args.weight_max;
    let simulation = clearance
        .simulate_selection(&caller, &config)
        .await
        .map_err(explain)?;
    if args.json {
        let view = clearance::simulation::simulation_view(&simulation);
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    println!(
        "{} weeks replayed after {} weeks of history ({} items, {} frauds); budget {} %, {} % explored ({}), retrained every {} weeks; seed {}",
        simulation.weeks.len(),
        config.initial_weeks,
        simulation.history_items,
        simulation.history_frauds,
        config.budget_pct,
        config.exploration_pct,
        config.exploration.name(),
        config.retrain_every,
        config.seed
    );
    println!(
        "per policy, in %: P precision (frauds among the selected), R recall of the week's frauds, N share of the frauds new to the policy (price in no label it has revealed) it caught"
    );
    let mut header = vec!["week".to_owned(), "items".to_owned(), "frauds".to_owned()];
    for policy in Policy::ALL {
        let short = match policy {
            Policy::Hybrid => "hyb",
            Policy::ExploitationOnly => "expl",
            Policy::Random => "rand",
            Policy::FullInformation => "full",
        };
        for figure in ["P", "R", "N"] {
            header.push(format!("{short} {figure}"));
        }
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for week in &simulation.weeks {
        table.add_row(row(
            format!("{} {}", week.index, week.first_date),
            &week.totals(),
        ));
    }
    let end = simulation.end_of_replay();
    table.add_row(row(format!("last {} weeks", end.weeks), &end));
    table.add_row(row("all weeks".to_owned(), &simulation.totals()));
    println!("{table}");
    let full = end.precision(Policy::FullInformation);
    for policy in [Policy::Hybrid, Policy::ExploitationOnly] {
        println!(
            "{}, last {} weeks: selection precision {} %, its model's top-k precision {} % (full information {} %); frauds new to it caught {} %",
            policy.name(),
            end.weeks,
            pct(end.precision(policy)),
            pct(end.model_precision(policy)),
            pct(full),
            pct(end.new_product_share(policy)),
        );
    }
    Ok(())
}
