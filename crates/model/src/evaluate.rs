//! An evaluation of scores against outcomes, for all items and for items whose exact price
//! never occurs in training (where memorised prices cannot help). Plain structs with public
//! fields: rendering them as JSON is the edge's job.

use crate::metrics;

/// Inspection rates reported, in percent of the items.
pub const RATES_PCT: [u32; 4] = [1, 2, 5, 10];

/// Figures at one inspection rate.
#[derive(Clone, Debug, PartialEq)]
pub struct RateMetrics {
    pub rate_pct: u32,
    /// Items inspected by the exact top-k rule: ceil(rate · n).
    pub top_k: usize,
    pub top_k_precision: f64,
    pub top_k_recall: f64,
    /// Items selected by the DATE rule (strictly above the percentile).
    pub date_selected: usize,
    pub date_precision: f64,
    pub date_recall: f64,
    /// Share of the revenue found by the top-k items, when revenue is known.
    pub revenue_share: Option<f64>,
}

/// Figures over one set of items.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewMetrics {
    pub n_rows: usize,
    pub n_positive: usize,
    pub auc: f64,
    pub rates: Vec<RateMetrics>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub all: ViewMetrics,
    pub unseen_price: ViewMetrics,
}

impl ViewMetrics {
    pub fn compute(scores: &[f64], labels: &[bool], revenue: Option<&[f64]>) -> ViewMetrics {
        let rates = RATES_PCT
            .iter()
            .map(|&rate_pct| {
                let (top_k_precision, top_k_recall) =
                    metrics::top_k_precision_recall(scores, labels, rate_pct);
                let (date_precision, date_recall, date_selected) =
                    metrics::date_precision_recall(scores, labels, rate_pct);
                RateMetrics {
                    rate_pct,
                    top_k: metrics::top_k_count(scores.len(), rate_pct),
                    top_k_precision,
                    top_k_recall,
                    date_selected,
                    date_precision,
                    date_recall,
                    revenue_share: revenue
                        .map(|revenue| metrics::top_k_revenue_share(scores, revenue, rate_pct)),
                }
            })
            .collect();
        ViewMetrics {
            n_rows: scores.len(),
            n_positive: labels.iter().filter(|&&label| label).count(),
            auc: metrics::auc(scores, labels),
            rates,
        }
    }
}

impl Evaluation {
    /// `unseen_price[i]` marks items whose exact price is not in the training rows.
    pub fn compute(
        scores: &[f64],
        labels: &[bool],
        revenue: Option<&[f64]>,
        unseen_price: &[bool],
    ) -> Evaluation {
        assert_eq!(scores.len(), labels.len());
        assert_eq!(scores.len(), unseen_price.len());
        if let Some(revenue) = revenue {
            assert_eq!(scores.len(), revenue.len());
        }
        let keep = |values: &[f64]| -> Vec<f64> {
            values
                .iter()
                .zip(unseen_price)
                .filter(|(_, unseen)| **unseen)
                .map(|(value, _)| *value)
                .collect()
        };
        let unseen_scores = keep(scores);
        let unseen_labels: Vec<bool> = labels
            .iter()
            .zip(unseen_price)
            .filter(|(_, unseen)| **unseen)
            .map(|(label, _)| *label)
            .collect();
        let unseen_revenue = revenue.map(keep);
        Evaluation {
            all: ViewMetrics::compute(scores, labels, revenue),
            unseen_price: ViewMetrics::compute(
                &unseen_scores,
                &unseen_labels,
                unseen_revenue.as_deref(),
            ),
        }
    }

    /// A plain-text table: one line per view, then one per view and rate.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        out.push_str("view          rows  positives     AUC\n");
        for (name, view) in [("all", &self.all), ("unseen price", &self.unseen_price)] {
            out.push_str(&format!(
                "{name:<12} {:>5} {:>10} {:>7.4}\n",
                view.n_rows, view.n_positive, view.auc
            ));
        }
        out.push('\n');
        out.push_str(
            "view          rate    k  top-k P  top-k R  DATE sel   DATE P   DATE R  revenue\n",
        );
        for (name, view) in [("all", &self.all), ("unseen price", &self.unseen_price)] {
            for rate in &view.rates {
                let revenue = rate
                    .revenue_share
                    .map_or("-".to_owned(), |share| format!("{share:.4}"));
                out.push_str(&format!(
                    "{name:<12} {:>4}% {:>5} {:>8.4} {:>8.4} {:>9} {:>8.4} {:>8.4} {revenue:>8}\n",
                    rate.rate_pct,
                    rate.top_k,
                    rate.top_k_precision,
                    rate.top_k_recall,
                    rate.date_selected,
                    rate.date_precision,
                    rate.date_recall,
                ));
            }
        }
        out
    }
}
