//! Back-testing a rule on the imported labelled history (`source=history`): the KCS-style rows a
//! model trains on, evaluated by the same engine (`risk::select`) as a lodged declaration.
//!
//! A history row is one goods item; the rows sharing a declaration id are one declaration. The
//! history carries only some of what a rule may read ([`HISTORY_NAMES`], each from a named
//! column); a rule reading anything else is refused, naming each such name, rather than run over
//! values the history does not have (they would read as empty and never match: a silent "no").

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use domain::FieldError;
use model::history::HistoryRecord;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use store::Store;

use crate::Clearance;
use crate::error::ClearanceError;

/// History rows (goods items) of the period one back-test on the history evaluates, at most: a
/// period holding more is refused (narrow it) rather than judged on part of it. The whole KCS
/// training split (37 385 rows) fits several times over.
pub const BACKTEST_HISTORY_ROWS_MAX: usize = 200_000;

/// Where a back-test's labelled declarations come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BacktestSource {
    /// The declarations lodged on the platform, labelled by the checks closed on them.
    Declarations,
    /// The imported labelled history (`customs history import`), labelled by its rows.
    History,
}

/// The sources by name, as the API and the command line take them.
pub const BACKTEST_SOURCES: [(&str, BacktestSource); 2] = [
    ("declarations", BacktestSource::Declarations),
    ("history", BacktestSource::History),
];

impl BacktestSource {
    /// The source named `raw` (absent: the declarations); else the problem, on `source`.
    pub fn parse(raw: Option<&str>) -> Result<BacktestSource, FieldError> {
        let Some(raw) = raw else {
            return Ok(BacktestSource::Declarations);
        };
        BACKTEST_SOURCES
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                FieldError::invalid_format(
                    "source",
                    "declarations or history",
                    "declarations（报关单）或 history（历史数据）",
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BacktestSource::Declarations => "declarations",
            BacktestSource::History => "history",
        }
    }
}

/// Every name a rule may read that a history row supplies, and the column it comes from. The
/// item price is read as the item's customs value, the reading the model makes of it
/// (`models::history_records` maps the other way); the commodity code is the row's HS6 (six
/// digits: a rule comparing ten digits matches nothing there).
pub const HISTORY_NAMES: [(&str, &str); 21] = [
    (
        "declaration.direction",
        "(import: the history holds imports)",
    ),
    ("declaration.procedure", "Process Type"),
    ("declaration.office_of_lodging", "Office ID"),
    ("declaration.transport_mode", "Mode of Transport"),
    ("declaration.trader", "Importer ID"),
    ("declaration.declarant", "Declarant ID"),
    ("declaration.overseas_party_name", "Seller ID"),
    ("declaration.consignor", "Seller ID"),
    ("declaration.dispatch_country", "Country of Departure"),
    (
        "declaration.customs_value_cny",
        "Item Price (sum of the rows)",
    ),
    ("declaration.item_count", "(rows of the declaration)"),
    ("item.index", "(row's position in the declaration)"),
    ("item.commodity_code", "HS6 Code"),
    ("item.origin_country", "Country of Origin"),
    ("item.customs_value_cny", "Item Price"),
    ("item.net_mass_kg", "Net Mass"),
    ("features.value_per_kg_cny", "Item Price / Net Mass"),
    ("party.trader", "Importer ID"),
    ("party.declarant", "Declarant ID"),
    ("party.seller", "Seller ID"),
    ("party.consignor", "Seller ID"),
];

/// The problems of running `rule` over the history: one per name it reads that the history does
/// not supply (on `expression`), and one for a scope by declaration kind (the history has none).
pub fn history_unsupplied(rule: &risk::CompiledRule) -> Vec<FieldError> {
    let supplied: HashSet<&str> = HISTORY_NAMES.iter().map(|(n, _)| *n).collect();
    let mut problems: Vec<FieldError> = rule
        .names()
        .iter()
        .filter(|n| !supplied.contains(n.as_str()))
        .map(|name| FieldError {
            path: "expression".into(),
            code: domain::ErrorCode::NotAllowed,
            message_en: format!(
                "reads `{name}`, which the labelled history does not record: back-test this \
                 rule on the declarations (source=declarations)"
            ),
            message_zh: format!(
                "读取了 `{name}`，历史标注数据中没有该项：请在报关单上回测此规则（source=declarations）"
            ),
        })
        .collect();
    if !rule.definition().scope.kinds.is_empty() {
        problems.push(FieldError {
            path: "scope.kinds".into(),
            code: domain::ErrorCode::NotAllowed,
            message_en: "the labelled history records no declaration kind: leave scope.kinds \
                         empty to back-test on it"
                .into(),
            message_zh: "历史标注数据没有申报类型：在其上回测时 scope.kinds 须为空".into(),
        });
    }
    problems
}

/// One declaration of the history: its rows, in the order imported.
struct HistoryDeclaration<'a> {
    id: &'a str,
    date: NaiveDate,
    rows: Vec<&'a HistoryRecord>,
}

/// The declaration as the rule engine sees it: only the names of [`HISTORY_NAMES`] carry the
/// history's values; the others hold empty values no rule that passed [`history_unsupplied`]
/// reads.
pub fn history_input(rows: &[&HistoryRecord]) -> risk::RiskInput {
    let first = rows[0];
    let total: Decimal = rows.iter().map(|r| r.item_price).sum();
    risk::RiskInput {
        declaration: risk::DeclarationHeader {
            direction: risk::Direction::Import,
            kind: risk::DeclarationKind::Ordinary,
            procedure: first.procedure.clone(),
            office_of_lodging: first.office.clone(),
            office_of_entry_exit: String::new(),
            transport_mode: first.transport_mode.clone(),
            transport_means: None,
            trader: first.importer.clone(),
            declarant: first.declarant.clone(),
            overseas_party_name: first.seller.clone(),
            overseas_party_country: String::new(),
            consignor: Some(first.seller.clone()),
            dispatch_country: first.dispatch_country.clone(),
            invoice_currency: String::new(),
            invoice_amount: Decimal::ZERO,
            customs_value_cny: Some(total),
            payable_cny: None,
            documents: Vec::new(),
        },
        items: rows
            .iter()
            .map(|r| risk::RiskItem {
                commodity_code: r.hs6.clone(),
                description: String::new(),
                origin_country: r.origin_country.clone(),
                quantity: Decimal::ZERO,
                unit: String::new(),
                statutory_quantity_1: None,
                statutory_quantity_2: None,
                amount: Decimal::ZERO,
                customs_value_cny: Some(r.item_price),
                net_mass_kg: Some(r.net_mass_kg),
                licence_codes: Vec::new(),
            })
            .collect(),
        credit: risk::CreditLevel::General,
        history: risk::History::default(),
        model_score: None,
        model: None,
    }
}

fn ratio(n: u64, of: u64) -> Value {
    if of == 0 {
        Value::Null
    } else {
        json!(n as f64 / of as f64)
    }
}

/// Totals over declarations: all of the period's, or the rule's hits.
#[derive(Default)]
struct Totals {
    declarations: u64,
    labelled: u64,
    frauds: u64,
    revenue: Decimal,
}

impl<S: Store> Clearance<S> {
    /// The back-test of `rule` (compiled, checked by [`history_unsupplied`]) over the history
    /// rows dated `from` to `to`: the figures of `backtest_rule`, labelled by the rows (a
    /// declaration is labelled when one of its rows is, a fraud when one is); the revenue where
    /// the history records it (`null` when no row of the period does). A row whose identity an
    /// earlier batch holds is read once (the first import wins, as for training). At most
    /// `rows_max` rows, refused beyond.
    pub(crate) async fn backtest_history(
        &self,
        rule: risk::CompiledRule,
        from: NaiveDate,
        to: NaiveDate,
        rows_max: usize,
        hits_listed_max: usize,
    ) -> Result<Value, ClearanceError> {
        let names: Vec<String> = rule.names().to_vec();
        let mut rows: Vec<HistoryRecord> = Vec::new();
        let mut batches = Vec::new();
        let mut seen = HashSet::new();
        for batch in self.store.history_batches().await? {
            let parsed = self.stored_batch(&batch).await?;
            let ids = model::history::row_ids(&parsed);
            let mut in_period = 0usize;
            for (record, id) in parsed.into_iter().zip(ids) {
                if record.date < from || record.date > to || !seen.insert(id) {
                    continue;
                }
                if rows.len() == rows_max {
                    return Err(ClearanceError::Invalid(vec![FieldError::out_of_range(
                        "to",
                        &format!(
                            "a period holding at most {rows_max} history rows: this one holds \
                             more, shorten it"
                        ),
                        &format!("所选期间的历史数据不超过 {rows_max} 行：该期间更多，请缩短"),
                    )]));
                }
                rows.push(record);
                in_period += 1;
            }
            batches.push(json!({ "history": batch.id, "rows": in_period }));
        }
        // Declarations in the order of their first row, then by day.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut declarations: Vec<HistoryDeclaration> = Vec::new();
        for row in &rows {
            let at = *index.entry(&row.declaration_id).or_insert_with(|| {
                declarations.push(HistoryDeclaration {
                    id: &row.declaration_id,
                    date: row.date,
                    rows: Vec::new(),
                });
                declarations.len() - 1
            });
            declarations[at].rows.push(row);
        }
        declarations.sort_by_key(|d| d.date);

        let rules = risk::RuleSet::build(vec![rule]);
        let config = risk::SelectionConfig {
            default_random_rate: Decimal::ZERO,
            random_rates: Vec::new(),
            ..self.config.selection.clone()
        };
        let lists = risk::Lists::default();
        let (mut period, mut hit) = (Totals::default(), Totals::default());
        let mut revenue_recorded = false;
        let mut evaluation_errors = 0usize;
        let mut hit_list = Vec::new();
        for declaration in &declarations {
            let labels: Vec<&model::history::Label> = declaration
                .rows
                .iter()
                .filter_map(|r| r.label.as_ref())
                .collect();
            let labelled = !labels.is_empty();
            let fraud = labels.iter().any(|l| l.discrepancy);
            let mut revenue = Decimal::ZERO;
            let mut revenue_here = false;
            for amount in labels.iter().filter_map(|l| l.revenue) {
                revenue_recorded = true;
                revenue_here = true;
                revenue = revenue
                    .checked_add(amount.max(Decimal::ZERO))
                    .ok_or_else(|| anyhow::anyhow!("revenue sum overflows"))?;
            }
            let add = |totals: &mut Totals| -> Result<(), ClearanceError> {
                totals.declarations += 1;
                totals.labelled += u64::from(labelled);
                totals.frauds += u64::from(fraud);
                totals.revenue = totals
                    .revenue
                    .checked_add(revenue)
                    .ok_or_else(|| anyhow::anyhow!("revenue sum overflows"))?;
                Ok(())
            };
            add(&mut period)?;
            // No draw decides a hit (the random rate is zero and a hit is a match): the seed is
            // fixed so the same period gives the same report.
            let selection = risk::select(
                &history_input(&declaration.rows),
                &rules,
                &lists,
                &config,
                declaration.date,
                risk::RandomDraw { seed: 0 },
            );
            evaluation_errors += selection.errors.len();
            let Some((_, items, _)) = selection.matched_rules().next() else {
                continue;
            };
            add(&mut hit)?;
            if hit_list.len() < hits_listed_max {
                hit_list.push(json!({
                    "declaration": declaration.id,
                    "date": declaration.date.to_string(),
                    "items": items,
                    "labelled": labelled,
                    "discrepancy": fraud,
                    "revenue_found": revenue_here.then(|| revenue.to_string()),
                }));
            }
        }
        let money = |d: Decimal| revenue_recorded.then(|| d.to_string());
        Ok(json!({
            "source": "history",
            "from": from.to_string(),
            "to": to.to_string(),
            "batches": batches,
            "rows": rows.len(),
            "names_read": names,
            "declarations": period.declarations,
            "hits": hit.declarations,
            "hit_rate": ratio(hit.declarations, period.declarations),
            "checked": period.labelled,
            "checked_hits": hit.labelled,
            "frauds": period.frauds,
            "frauds_found": hit.frauds,
            "precision": ratio(hit.frauds, hit.labelled),
            "recall": ratio(hit.frauds, period.frauds),
            "revenue": money(period.revenue),
            "revenue_found": money(hit.revenue),
            "evaluation_errors": evaluation_errors,
            "hits_listed": hit_list.len(),
            "hit_list": hit_list,
        }))
    }
}
