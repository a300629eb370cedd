//! How well scores find discrepancies: AUC, exact top-k, the DATE paper's selection, and the
//! share of revenue found. The definitions match `bench/ml/metrics.py` line for line, so numbers
//! from the Python baselines and from this crate can be put side by side.

/// AUC (Mann-Whitney), ties counted as one half through mid-ranks. `NaN` when the labels are
/// all one class.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(scores.len(), labels.len());
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_positive = 0.0f64;
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end + 1 < n && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let mid_rank = (start + end) as f64 / 2.0 + 1.0;
        for &row_idx in &order[start..=end] {
            if labels[row_idx] {
                rank_sum_positive += mid_rank;
            }
        }
        start = end + 1;
    }
    let n_positive = labels.iter().filter(|&&label| label).count() as f64;
    let n_negative = n as f64 - n_positive;
    if n_positive == 0.0 || n_negative == 0.0 {
        return f64::NAN;
    }
    (rank_sum_positive - n_positive * (n_positive + 1.0) / 2.0) / (n_positive * n_negative)
}

/// Items inspected at `rate_pct` percent of `n`: ceil(n · rate / 100), in integers.
pub fn top_k_count(n: usize, rate_pct: u32) -> usize {
    (n * rate_pct as usize).div_ceil(100)
}

/// Row indices by score descending, ties by row index ascending: the inspection order.
fn inspection_order(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// Precision and recall when exactly the top `top_k_count` items are inspected. Recall is
/// `NaN` without positives, precision `NaN` when nothing is inspected.
pub fn top_k_precision_recall(scores: &[f64], labels: &[bool], rate_pct: u32) -> (f64, f64) {
    assert_eq!(scores.len(), labels.len());
    let k = top_k_count(scores.len(), rate_pct);
    let order = inspection_order(scores);
    let true_positives = order[..k]
        .iter()
        .filter(|&&row_idx| labels[row_idx])
        .count() as f64;
    let n_positive = labels.iter().filter(|&&label| label).count() as f64;
    let precision = if k > 0 {
        true_positives / k as f64
    } else {
        f64::NAN
    };
    let recall = if n_positive > 0.0 {
        true_positives / n_positive
    } else {
        f64::NAN
    };
    (precision, recall)
}

/// Share of the revenue of all items that the top `top_k_count` items carry. `NaN` when the
/// total is zero.
pub fn top_k_revenue_share(scores: &[f64], revenue: &[f64], rate_pct: u32) -> f64 {
    assert_eq!(scores.len(), revenue.len());
    let k = top_k_count(scores.len(), rate_pct);
    let order = inspection_order(scores);
    let total: f64 = revenue.iter().sum();
    let found: f64 = order[..k].iter().map(|&row_idx| revenue[row_idx]).sum();
    if total > 0.0 { found / total } else { f64::NAN }
}

/// `numpy.percentile(x, q)` with numpy's default linear method, including its lerp
/// (`a + (b-a)·t`, or `b - (b-a)·(1-t)` when t ≥ 0.5) so thresholds agree bit for bit.
pub fn numpy_percentile(values: &[f64], q: f64) -> f64 {
    assert!(!values.is_empty(), "percentile of no values");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let virtual_idx = (n as f64 - 1.0) * (q / 100.0);
    let below = virtual_idx.floor();
    let gamma = virtual_idx - below;
    let below = below as usize;
    let above = (below + 1).min(n - 1);
    let (a, b) = (sorted[below], sorted[above]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// The DATE paper's selection (Kim et al., KDD 2020): items scoring strictly above the
/// (100 − rate)th percentile. With ties at the threshold fewer than `rate` percent are selected.
/// Returns (precision, recall, items selected); precision is 0 when nothing is selected, as in
/// the paper's code.
pub fn date_precision_recall(scores: &[f64], labels: &[bool], rate_pct: u32) -> (f64, f64, usize) {
    assert_eq!(scores.len(), labels.len());
    if scores.is_empty() {
        return (0.0, f64::NAN, 0);
    }
    let threshold = numpy_percentile(scores, 100.0 - f64::from(rate_pct));
    let mut selected = 0usize;
    let mut true_positives = 0usize;
    for (score, &label) in scores.iter().zip(labels) {
        if *score > threshold {
            selected += 1;
            true_positives += usize::from(label);
        }
    }
    let n_positive = labels.iter().filter(|&&label| label).count() as f64;
    let precision = if selected > 0 {
        true_positives as f64 / selected as f64
    } else {
        0.0
    };
    let recall = if n_positive > 0.0 {
        true_positives as f64 / n_positive
    } else {
        f64::NAN
    };
    (precision, recall, selected)
}
