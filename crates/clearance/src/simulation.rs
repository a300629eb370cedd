//! `customs model simulate`: the replay of [`model::simulate`] on the labelled history of the
//! data folder (imported history batches and closed checks, read as `model evaluate` reads
//! them), as a JSON view.

use model::simulate::{Policy, Simulation, SimulationConfig, Totals};
use serde_json::{Value, json};
use store::Store;

use crate::Clearance;
use crate::access::{Action, Caller};
use crate::error::ClearanceError;
use domain::FieldError;

impl<S: Store> Clearance<S> {
    /// Replays every labelled item under the selection policies of [`model::simulate`]. Reads
    /// only; runs on the caller's thread for minutes on a full history (a command-line tool,
    /// not an API call).
    pub async fn simulate_selection(
        &self,
        caller: &Caller,
        config: &SimulationConfig,
    ) -> Result<Simulation, ClearanceError> {
        caller.require(Action::ReadRules)?;
        let (records, _) = self.training_records().await?;
        model::simulate::simulate(&records, config).map_err(|error| {
            ClearanceError::Invalid(vec![FieldError::not_allowed(
                error.field,
                &error.message_en,
                &error.message_zh,
            )])
        })
    }
}

fn figures(totals: &Totals, policy: Policy) -> Value {
    let p = &totals.policies[Policy::ALL
        .iter()
        .position(|candidate| *candidate == policy)
        .expect("listed")];
    json!({
        "selected": p.selected,
        "explored": p.explored,
        "frauds_caught": p.frauds_caught,
        "explored_frauds": p.explored_frauds,
        "new_frauds": p.new_frauds,
        "new_frauds_caught": p.new_frauds_caught,
        "first_seen_caught": p.first_seen_caught,
        "precision": totals.precision(policy),
        "model_precision": totals.model_precision(policy),
        "recall": totals.recall(policy),
        "new_product_share": totals.new_product_share(policy),
        "first_seen_share": totals.first_seen_share(policy),
    })
}

fn totals_view(totals: &Totals) -> Value {
    let policies: serde_json::Map<String, Value> = Policy::ALL
        .iter()
        .map(|&policy| (policy.name().to_owned(), figures(totals, policy)))
        .collect();
    json!({
        "weeks": totals.weeks,
        "items": totals.items,
        "frauds": totals.frauds,
        "first_seen_frauds": totals.first_seen_frauds,
        "policies": policies,
    })
}

/// The replay as JSON: settings, every week and the totals, each policy by name.
pub fn simulation_view(simulation: &Simulation) -> Value {
    let config = &simulation.config;
    let weeks: Vec<Value> = simulation
        .weeks
        .iter()
        .map(|week| {
            let mut view = totals_view(&week.totals());
            view["week"] = json!(week.index);
            view["first_date"] = json!(week.first_date.to_string());
            view
        })
        .collect();
    let trainings: serde_json::Map<String, Value> = Policy::ALL
        .iter()
        .zip(simulation.trainings)
        .map(|(policy, count)| (policy.name().to_owned(), json!(count)))
        .collect();
    json!({
        "settings": {
            "budget_pct": config.budget_pct,
            "exploration_pct": config.exploration_pct,
            "exploration": config.exploration.name(),
            "initial_weeks": config.initial_weeks,
            "retrain_every": config.retrain_every,
            "weight_max": config.weight_max,
            "seed": config.seed,
            "rounds": config.params.rounds,
        },
        "history": { "items": simulation.history_items, "frauds": simulation.history_frauds },
        "trainings": trainings,
        "weeks": weeks,
        "total": totals_view(&simulation.totals()),
        "end_of_replay": totals_view(&simulation.end_of_replay()),
    })
}
