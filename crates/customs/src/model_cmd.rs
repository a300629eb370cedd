//! `customs history ...` and `customs model ...`: ML targeting as a risk analyst runs it, acting
//! as the user of a bearer token. Import labelled history (the KCS file format), train a model
//! (registered in shadow), evaluate on a time split, import a model trained elsewhere, promote
//! (another analyst), roll back, list, and measure drift. Each change is an event in the audit
//! chain; reading opens the store read-only.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use clearance::{Caller, Clearance, ClearanceConfig, ClearanceError};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;
use store_sqlite::SqliteStore;

use crate::datadir::DataDir;
use crate::show::{cell, explain};

#[derive(Subcommand)]
pub enum HistoryCommand {
    /// Import a file of labelled past goods items for training (`--format kcs`: the Korea
    /// Customs Service synthetic data's columns). Every problem is named by line and column.
    Import {
        /// The history file (CSV).
        file: PathBuf,
        /// The file's columns: kcs (the Korea Customs Service's labelled set).
        #[arg(long)]
        format: String,
        /// A name for the batch (default: the file's name).
        #[arg(long)]
        label: Option<String>,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Every imported batch.
    List {
        /// Bearer token of a customs user who reads rules.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Train a model on every labelled item (history and closed checks) up to `--until`, and
    /// register it in shadow: scored with every import declaration, not acting.
    Train {
        /// Train on items lodged up to this day, YYYY-MM-DD (default: all).
        #[arg(long)]
        until: Option<NaiveDate>,
        /// A label shown with the model.
        #[arg(long, default_value = "trained on the command line")]
        label: String,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Train on the items up to `--train-until` (or take `--model`) and evaluate on those from
    /// `--from` to `--to`: AUC; precision and recall at 1, 2, 5 and 10 %; on all rows and on the
    /// rows whose exact price never occurs in training. Or, with `--cv-folds K --group-by
    /// price`, cross-validate over every labelled item with folds grouped by price. `--scores`
    /// writes every item's score so any other tool can recompute the figures.
    Evaluate {
        /// Train on items lodged up to this day, YYYY-MM-DD.
        #[arg(long, required_unless_present = "cv_folds")]
        train_until: Option<NaiveDate>,
        /// First day of the items it is evaluated on, YYYY-MM-DD.
        #[arg(long, required_unless_present = "cv_folds")]
        from: Option<NaiveDate>,
        /// Last day of the items it is evaluated on, YYYY-MM-DD.
        #[arg(long, required_unless_present = "cv_folds")]
        to: Option<NaiveDate>,
        /// Cross-validate over every labelled item in this many folds (2 to 20) instead of a
        /// time split; each fold is scored by a model trained on the others.
        #[arg(long, conflicts_with_all = ["train_until", "from", "to", "model"])]
        cv_folds: Option<u32>,
        /// What the folds are grouped by: price (no price in two folds; the fold is the first
        /// 8 bytes of SHA-256 of the normalised price text, big-endian, modulo the folds).
        #[arg(long, requires = "cv_folds", value_parser = ["price"], default_value = "price")]
        group_by: String,
        /// Evaluate this registered model instead of training one. Refused when its training
        /// period reaches into the test period, or is unknown (see `--allow-overlap`).
        #[arg(long)]
        model: Option<String>,
        /// Evaluate `--model` even when its training period reaches into the test period (or
        /// is unknown): the result is flagged, loudly.
        #[arg(long, requires = "model")]
        allow_overlap: bool,
        /// Write every evaluated item's score to this file: CSV with the header
        /// `row_id,score,label,unseen_price,fold` (see README, "Evaluating a model").
        #[arg(long)]
        scores: Option<PathBuf>,
        /// Bearer token of a customs user who reads rules.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replay the labelled history week by week, revealing labels only for what each policy
    /// selected: exploitation with exploration against exploitation only, random selection and
    /// a model that sees every label (see bench/ml/README.md).
    Simulate(crate::simulate_cmd::SimulateArgs),
    /// Import a model trained elsewhere (`--format xgboost-json` or `lightgbm-text`) on the
    /// features of a registered model (`--features-of M-0001`), in shadow.
    Import {
        /// The model file.
        file: PathBuf,
        /// The model file's format (xgboost-json or lightgbm-text).
        #[arg(long)]
        format: String,
        /// The id of the registered model whose features this model reads.
        #[arg(long)]
        features_of: String,
        /// A label shown with the model.
        #[arg(long)]
        label: Option<String>,
        /// The first day of the items the model was trained on, as its maker declares it
        /// (recorded with the model; `model evaluate --model` checks it against the test period).
        #[arg(long, requires = "trained_until")]
        trained_from: Option<NaiveDate>,
        /// The last day of the items the model was trained on, as its maker declares it.
        #[arg(long, requires = "trained_from")]
        trained_until: Option<NaiveDate>,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Put a model in force (an analyst other than its author); the one in force is retired.
    Promote {
        /// The model's id.
        id: String,
        /// Bearer token of a risk analyst other than the model's author.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Take the active model out of force; the one it replaced is in force again.
    RollBack {
        /// Why, recorded in the audit chain.
        #[arg(long)]
        reason: String,
        /// Bearer token of a risk analyst.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
    },
    /// Every registered model.
    List {
        /// Bearer token of a customs user who reads rules.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The shift of the recent import declarations from what a model was trained on: the
    /// population stability index of its score and of each feature.
    Drift {
        /// The model's id.
        id: String,
        /// How many recent import declarations to compare.
        #[arg(long, default_value_t = 1000)]
        sample: usize,
        /// Bearer token of a customs user who reads rules.
        #[arg(long, env = "CUSTOMS_TOKEN")]
        token: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

async fn caller(clearance: &Clearance<SqliteStore>, token: &str) -> anyhow::Result<Caller> {
    clearance
        .authenticate(token)
        .await
        .map_err(crate::show::explain)
}

fn file_label(file: &std::path::Path, label: Option<String>) -> String {
    label.unwrap_or_else(|| {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

pub async fn history(
    data: &DataDir,
    config: ClearanceConfig,
    command: HistoryCommand,
) -> anyhow::Result<()> {
    let writes = matches!(command, HistoryCommand::Import { .. });
    let clearance = if writes {
        data.open_clearance(store_sqlite::SqliteOptions::production(), config)?
    } else {
        data.open_clearance_read_only(config)?
    };
    let outcome = async {
        match command {
            HistoryCommand::Import {
                file,
                format,
                label,
                token,
            } => {
                let caller = caller(&clearance, &token).await?;
                let text = std::fs::read_to_string(&file).with_context(|| {
                    format!("{}: cannot be read as text / 无法读取", file.display())
                })?;
                let batch = clearance
                    .import_history(&caller, &format, &file_label(&file, label), &text)
                    .await
                    .map_err(explain)?;
                println!(
                    "{}: {} rows ({} labelled), {} to {}",
                    cell(&batch["id"]),
                    cell(&batch["rows"]),
                    cell(&batch["labelled"]),
                    cell(&batch["first_date"]),
                    cell(&batch["last_date"])
                );
                let overlapping = &batch["overlapping"];
                if overlapping["rows"].as_u64().unwrap_or(0) > 0 {
                    println!(
                        "{} of the file's {} rows were imported before (same declaration id and item, in {}; {} of them differ): skipped, the first import's rows kept",
                        cell(&overlapping["rows"]),
                        cell(&batch["file_rows"]),
                        overlapping["batches"]
                            .as_array()
                            .map(|b| b.iter().map(cell).collect::<Vec<_>>().join(", "))
                            .unwrap_or_default(),
                        cell(&overlapping["differing"]),
                    );
                }
            }
            HistoryCommand::List { token, json } => {
                let caller = caller(&clearance, &token).await?;
                let batches = clearance.history_batches(&caller).await.map_err(explain)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&batches)?);
                } else {
                    let mut table = Table::new();
                    table
                        .load_preset(UTF8_FULL_CONDENSED)
                        .set_header(["id", "format", "label", "rows", "labelled", "from", "to"]);
                    for b in &batches {
                        table.add_row([
                            cell(&b["id"]),
                            cell(&b["format"]),
                            cell(&b["label"]),
                            cell(&b["rows"]),
                            cell(&b["labelled"]),
                            cell(&b["first_date"]),
                            cell(&b["last_date"]),
                        ]);
                    }
                    println!("{table}");
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    clearance.store().close().await;
    outcome
}

fn model_refusal(error: ClearanceError, id: &str) -> anyhow::Error {
    match error {
        ClearanceError::NotFound => anyhow::anyhow!("no risk model {id} / 没有风险模型 {id}"),
        other => explain(other),
    }
}

fn print_model(m: &Value) {
    let s = &m["summary"];
    println!(
        "{} ({}): {}, trained on {} items ({} with a discrepancy) from {} to {}, model SHA-256 {}",
        cell(&m["id"]),
        cell(&m["status"]),
        cell(&s["label"]),
        cell(&s["training_rows"]),
        cell(&s["training_positives"]),
        cell(&s["training_period"][0]),
        cell(&s["training_period"][1]),
        cell(&m["model_hash"]),
    );
    // The platform's own labels weighted by how they were selected (inverse propensity).
    let w = &s["label_weights"];
    if w["weighted"] == true {
        println!(
            "  own labels weighted by inverse selection propensity (at most {}): items by selection {}, {} clipped, largest weight {}",
            cell(&w["weight_max"]),
            w["items_by_selection"],
            cell(&w["clipped"]),
            cell(&w["max"]),
        );
    }
}

pub async fn model(
    data: &DataDir,
    config: ClearanceConfig,
    command: ModelCommand,
) -> anyhow::Result<()> {
    let reads = matches!(
        command,
        ModelCommand::List { .. }
            | ModelCommand::Drift { .. }
            | ModelCommand::Evaluate { .. }
            | ModelCommand::Simulate(_)
    );
    let clearance = if reads {
        data.open_clearance_read_only(config)?
    } else {
        data.open_clearance(store_sqlite::SqliteOptions::production(), config)?
    };
    let outcome = async {
        match command {
            ModelCommand::Train {
                until,
                label,
                token,
            } => {
                let caller = caller(&clearance, &token).await?;
                let started = std::time::Instant::now();
                let model = clearance
                    .train_model(&caller, &label, until)
                    .await
                    .map_err(explain)?;
                print_model(&model);
                println!(
                    "trained in {:.1} s; in shadow until another analyst promotes it",
                    started.elapsed().as_secs_f64()
                );
            }
            ModelCommand::Evaluate {
                train_until,
                from,
                to,
                cv_folds,
                group_by: _,
                model,
                allow_overlap,
                scores,
                token,
                json,
            } => {
                let caller = caller(&clearance, &token).await?;
                let split = match (cv_folds, train_until, from, to) {
                    (Some(folds), ..) => clearance::EvaluationSplit::PriceFolds { folds },
                    (None, Some(train_until), Some(from), Some(to)) => {
                        clearance::EvaluationSplit::Period {
                            train_until,
                            from,
                            to,
                        }
                    }
                    _ => anyhow::bail!(
                        "--train-until, --from and --to, or --cv-folds / 须给出 --train-until、--from 和 --to，或 --cv-folds"
                    ),
                };
                let report = clearance
                    .evaluate(
                        &caller,
                        &clearance::EvaluationRequest {
                            split,
                            model: model.as_deref(),
                            allow_overlap,
                            allow_overlap_named: clearance::ALLOW_OVERLAP_FLAG,
                        },
                    )
                    .await
                    .map_err(explain)?;
                let view = &report.view;
                if !view["overlap"].is_null() {
                    eprintln!(
                        "WARNING: {} / 警告：{}",
                        cell(&view["overlap"]["en"]),
                        cell(&view["overlap"]["zh"])
                    );
                }
                if let Some(path) = &scores {
                    std::fs::write(path, clearance::scores_csv(&report.rows)).with_context(
                        || format!("{}: cannot be written / 无法写入", path.display()),
                    )?;
                    eprintln!("{} scores written to {}", report.rows.len(), path.display());
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(view)?);
                } else {
                    if view["cross_validation"].is_null() {
                        println!(
                            "trained on {} to {}, tested on {} to {}",
                            cell(&view["training_period"][0]),
                            cell(&view["training_period"][1]),
                            cell(&view["test_period"][0]),
                            cell(&view["test_period"][1])
                        );
                    } else {
                        println!(
                            "every labelled item from {} to {}",
                            cell(&view["test_period"][0]),
                            cell(&view["test_period"][1])
                        );
                    }
                    println!("{}", report.table);
                }
            }
            ModelCommand::Simulate(args) => crate::simulate_cmd::run(&clearance, args).await?,
            ModelCommand::Import {
                file,
                format,
                features_of,
                label,
                trained_from,
                trained_until,
                token,
            } => {
                let caller = caller(&clearance, &token).await?;
                let bytes = std::fs::read(&file)
                    .with_context(|| format!("{}: cannot be read / 无法读取", file.display()))?;
                let model = clearance
                    .import_model(
                        &caller,
                        &format,
                        &bytes,
                        &features_of,
                        &file_label(&file, label),
                        trained_from.zip(trained_until),
                    )
                    .await
                    .map_err(explain)?;
                print_model(&model);
            }
            ModelCommand::Promote { id, token } => {
                let caller = caller(&clearance, &token).await?;
                let model = clearance
                    .promote_model(&caller, &id)
                    .await
                    .map_err(|e| model_refusal(e, &id))?;
                print_model(&model);
            }
            ModelCommand::RollBack { reason, token } => {
                let caller = caller(&clearance, &token).await?;
                let models = clearance
                    .roll_back_model(&caller, &reason)
                    .await
                    .map_err(explain)?;
                match models.iter().find(|m| m["status"] == "active") {
                    Some(m) => println!("rolled back: {} is in force again", cell(&m["id"])),
                    None => println!("rolled back: no model is in force"),
                }
            }
            ModelCommand::List { token, json } => {
                let caller = caller(&clearance, &token).await?;
                let models = clearance.risk_models(&caller).await.map_err(explain)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&models)?);
                } else {
                    let people: Vec<String> = models
                        .iter()
                        .flat_map(|m| [cell(&m["author"]), cell(&m["promoted_by"])])
                        .collect();
                    let names = crate::show::names_of(&clearance, &caller, &people).await;
                    let named = |value: &Value| {
                        let id = cell(value);
                        names.get(&id).cloned().unwrap_or(id)
                    };
                    let mut table = Table::new();
                    table.load_preset(UTF8_FULL_CONDENSED).set_header([
                        "id",
                        "status",
                        "source",
                        "label",
                        "rows",
                        "period",
                        "author",
                        "promoted by",
                    ]);
                    for m in &models {
                        let s = &m["summary"];
                        table.add_row([
                            cell(&m["id"]),
                            cell(&m["status"]),
                            cell(&m["source"]),
                            cell(&s["label"]),
                            cell(&s["training_rows"]),
                            format!(
                                "{} to {}",
                                cell(&s["training_period"][0]),
                                cell(&s["training_period"][1])
                            ),
                            named(&m["author"]),
                            named(&m["promoted_by"]),
                        ]);
                    }
                    println!("{table}");
                }
            }
            ModelCommand::Drift {
                id,
                sample,
                token,
                json,
            } => {
                let caller = caller(&clearance, &token).await?;
                let drift = clearance
                    .model_drift(&caller, &id, sample)
                    .await
                    .map_err(|e| model_refusal(e, &id))?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&drift)?);
                } else if drift["judged"] == false {
                    println!(
                        "{id}: {} / {}",
                        cell(&drift["reason"]["en"]),
                        cell(&drift["reason"]["zh"])
                    );
                } else {
                    println!(
                        "{}: {} declarations, {} items; score PSI {:.3} ({}); {} alert(s)",
                        id,
                        cell(&drift["declarations"]),
                        cell(&drift["items"]),
                        drift["score"]["psi"].as_f64().unwrap_or(0.0),
                        cell(&drift["score"]["level"]),
                        cell(&drift["alerts"]),
                    );
                    let mut table = Table::new();
                    table
                        .load_preset(UTF8_FULL_CONDENSED)
                        .set_header(["feature", "PSI", "level"]);
                    for f in drift["features"].as_array().into_iter().flatten().take(10) {
                        table.add_row([
                            cell(&f["feature"]),
                            format!("{:.3}", f["psi"].as_f64().unwrap_or(0.0)),
                            cell(&f["level"]),
                        ]);
                    }
                    println!("{table}");
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    clearance.store().close().await;
    outcome
}
