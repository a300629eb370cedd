"""The metrics of crates/model/src/metrics.rs and evaluate.rs, line for line.

- AUC: Mann-Whitney with mid-ranks (ties count one half); NaN with one class only.
- Top-k at n%: k = ceil(n * N / 100) in integers; order score descending, then row index
  ascending; precision = hits / k, recall = hits / positives.
- DATE at n%: items scoring strictly above numpy.percentile(scores, 100 - n) (linear); precision
  0 when nothing is selected.
- Revenue share at n%: revenue of the top-k items / total revenue (NaN when the total is 0).

`python metrics.py` runs the hand-computed cases of the Rust tests.
"""
import math
import numpy as np
import pandas as pd

RATES_PCT = [1, 2, 5, 10]


def auc(scores, labels):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_k_count(n, rate_pct):
    return (n * rate_pct + 99) // 100


def inspection_order(scores):
    s = np.asarray(scores, dtype=np.float64)
    return np.lexsort((np.arange(len(s)), -s))  # score desc, row index asc


def top_k_precision_recall(scores, labels, rate_pct):
    y = np.asarray(labels, dtype=bool)
    k = top_k_count(len(y), rate_pct)
    hits = int(y[inspection_order(scores)[:k]].sum())
    n_pos = int(y.sum())
    return (hits / k if k else math.nan), (hits / n_pos if n_pos else math.nan)


def top_k_revenue_share(scores, revenue, rate_pct):
    r = np.asarray(revenue, dtype=np.float64)
    k = top_k_count(len(r), rate_pct)
    total = r.sum()
    return float(r[inspection_order(scores)[:k]].sum() / total) if total > 0 else math.nan


def date_precision_recall(scores, labels, rate_pct):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if len(s) == 0:
        return 0.0, math.nan, 0
    selected = s > np.percentile(s, 100 - rate_pct)
    hits = int(y[selected].sum())
    n_sel = int(selected.sum())
    n_pos = int(y.sum())
    return (hits / n_sel if n_sel else 0.0), (hits / n_pos if n_pos else math.nan), n_sel


def view_metrics(scores, labels, revenue=None):
    """The fields of model::ViewMetrics."""
    rates = []
    for rate in RATES_PCT:
        p, r = top_k_precision_recall(scores, labels, rate)
        dp, dr, dsel = date_precision_recall(scores, labels, rate)
        rates.append(dict(rate_pct=rate, top_k=top_k_count(len(scores), rate), top_k_precision=p, top_k_recall=r,
                          date_selected=dsel, date_precision=dp, date_recall=dr,
                          revenue_share=None if revenue is None else top_k_revenue_share(scores, revenue, rate)))
    return dict(n_rows=len(scores), n_positive=int(np.asarray(labels, dtype=bool).sum()), auc=auc(scores, labels),
                rates=rates)


def evaluation(scores, labels, unseen_price, revenue=None):
    """The fields of model::Evaluation: all rows, and rows whose exact price is not in training."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    u = np.asarray(unseen_price, dtype=bool)
    rev = None if revenue is None else np.asarray(revenue, dtype=np.float64)
    return dict(all=view_metrics(s, y, rev), unseen_price=view_metrics(s[u], y[u], None if rev is None else rev[u]))


def render_table(name, ev):
    lines = [f"{name}: AUC all {ev['all']['auc']:.4f} ({ev['all']['n_rows']} rows), "
             f"unseen price {ev['unseen_price']['auc']:.4f} ({ev['unseen_price']['n_rows']} rows)"]
    lines.append("  view          rate    k  top-k P  top-k R  DATE sel   DATE P   DATE R  revenue")
    for view_name, key in [("all", "all"), ("unseen price", "unseen_price")]:
        for r in ev[key]["rates"]:
            rev = "-" if r["revenue_share"] is None else f"{r['revenue_share']:.4f}"
            lines.append(f"  {view_name:<12} {r['rate_pct']:>4}% {r['top_k']:>5} {r['top_k_precision']:>8.4f} "
                         f"{r['top_k_recall']:>8.4f} {r['date_selected']:>9} {r['date_precision']:>8.4f} "
                         f"{r['date_recall']:>8.4f} {rev:>8}")
    return "\n".join(lines)


def _self_test():
    # The hand-computed cases of crates/model/src/tests.rs.
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == 0.875
    s = [0.9, 0.5, 0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.4, 0.7]
    y = [0, 1, 1, 0, 0, 0, 1, 1, 0, 0]
    assert [top_k_count(10, r) for r in (5, 10, 25)] == [1, 1, 3]
    assert top_k_precision_recall(s, y, 10) == (0.0, 0.0)
    assert top_k_precision_recall(s, y, 20) == (0.5, 0.25)
    assert top_k_precision_recall(s, y, 25) == (2 / 3, 0.5)
    assert top_k_precision_recall(s, y, 50) == (0.6, 0.75)
    assert date_precision_recall(s, y, 20) == (0.5, 0.25, 2)
    assert date_precision_recall(s, y, 10) == (0.0, 0.0, 0)
    assert date_precision_recall(s, y, 50) == (0.5, 0.5, 4)
    rev = [100, 0, 50, 0, 0, 0, 10, 40, 0, 0]
    assert top_k_revenue_share(s, rev, 10) == 0.5 and top_k_revenue_share(s, rev, 25) == 0.95
    print("metrics.py agrees with the Rust hand-computed cases")


if __name__ == "__main__":
    _self_test()
