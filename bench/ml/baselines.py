"""LightGBM, XGBoost and an exact-price lookup on the raw KCS columns, evaluated like
`customs model evaluate`, in the same three views, side by side with the platform's model.

    python baselines.py [--train TRAIN.csv] [--valid VALID.csv] [--threads 2] [--cv-folds 5]
                        [--platform-dir DIR] [--json out.json]

Views (all on the labelled rows of the two KCS files, prices normalised like the history reader):
- `cv`: cross-validation over every labelled row (train + valid), folds grouped by price: the
  fold of a row is the first 8 bytes of SHA-256 of its normalised price text, big-endian,
  modulo the folds (`model::cv::price_fold`), so no price is in two folds and every prediction
  is on a price its model never saw.
- `train`: trained on the training file (2020), tested on the held-out part of the validation
  file (HELD_OUT, March 2021).
- `train+valid`: trained on the training file and the validation file before the held-out part
  (2020 to February 2021), tested on the same held-out part.

Raw columns only (no engineered features): the categorical codes as native categoricals
(LightGBM `categorical_feature`, XGBoost `enable_categorical`), tax rate, net mass and item price
as numbers. Each library runs with its defaults and with the tuned settings of the research
spike; the exact-price lookup (training discrepancy rate of the same price, else the prior) shows
what memorised prices alone give.

With `--platform-dir` (written by compare.sh: `<view>.json` from `customs model evaluate --json`
and `<view>.csv` from its `--scores`), the platform's figures are recomputed here from its scores
file, checked against what it printed, and its cross-validation folds checked against this
script's: the comparison does not take the platform's word for anything.
"""
import argparse
import hashlib
import json
import math
import os
import time
from decimal import ROUND_HALF_UP, Decimal

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

from metrics import evaluation, render_table

# The copy in the repository (MIT, see its LICENSE).
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../datasets/kcs-synthetic/")
CATEGORICAL = ["Office ID", "Process Type", "Import Type", "Import Use", "Payment Type", "Mode of Transport",
               "Declarant ID", "Importer ID", "Seller ID", "Courier ID", "HS6 Code", "Country of Departure",
               "Country of Origin", "Tax Type", "Country of Origin Indicator"]
NUMERIC = ["Tax Rate", "Net Mass", "Item Price"]
# model::history::HISTORY_DECIMAL_PLACES: amounts rounded half away from zero to 4 places.
DECIMAL_PLACES = 4
# The held-out part of the validation split, tested on in the `train` and `train+valid` views.
HELD_OUT = ("2021-03-01", "2021-03-31")
# (view, last training day) for the two time-split configurations.
SPLITS = [("train", "2020-12-31"), ("train+valid", "2021-02-28")]

# name -> (library, parameters, rounds). "default": the library's defaults (LightGBM 100 rounds,
# XGBoost eta 0.3, depth 6, 100 rounds); "tuned": the spike's best raw-column settings.
MODELS = {
    "lightgbm_default": ("lgb", {}, 100),
    "lightgbm_tuned": ("lgb", dict(learning_rate=0.05, num_leaves=63, min_data_in_leaf=20, feature_fraction=0.8,
                                   bagging_fraction=0.8, bagging_freq=1, cat_smooth=10, max_cat_to_onehot=4), 500),
    "xgboost_default": ("xgb", {}, 100),
    "xgboost_tuned": ("xgb", dict(eta=0.1, max_depth=6, max_cat_to_onehot=4), 300),
}


def normalised_price(text):
    """The history reader's price text: rounded to DECIMAL_PLACES half away from zero, no
    trailing zeros, no exponent (73.72000000000001 -> 73.72, 100.0 -> 100)."""
    d = Decimal(text.strip()).quantize(Decimal(1).scaleb(-DECIMAL_PLACES), rounding=ROUND_HALF_UP)
    return format(d.normalize(), "f") if d != 0 else "0"


def price_fold(price_text, folds):
    """model::cv::price_fold, on the normalised price text."""
    return int.from_bytes(hashlib.sha256(price_text.encode()).digest()[:8], "big") % folds


def read(path):
    df = pd.read_csv(path, dtype={"Item Price": str, "Declaration ID": str})
    df = df[df["Fraud"].notna()].copy()
    df["price_key"] = df["Item Price"].map(normalised_price)
    df["Item Price"] = df["price_key"].astype(np.float64)
    # The row identity of `customs model evaluate --scores`: declaration id / item (1-based
    # position among the file's rows of the same declaration).
    df["row_id"] = df["Declaration ID"] + "/" + (df.groupby("Declaration ID").cumcount() + 1).astype(str)
    return df


def frame(df, train):
    x = df[CATEGORICAL + NUMERIC].copy()
    for column in CATEGORICAL:
        # Categories fixed by the training rows: an unseen code is missing, as in the Rust encoder.
        categories = pd.Categorical(train[column].astype(str)).categories
        codes = df[column].astype(str)
        x[column] = pd.Categorical(codes.where(codes.isin(categories)), categories=categories)
    return x


def fit_predict(library, params, rounds, x_train, y_train, x_valid, threads):
    if library == "lgb":
        booster = lgb.train(dict(objective="binary", verbose=-1, num_threads=threads, seed=0, **params),
                            lgb.Dataset(x_train, y_train, categorical_feature=CATEGORICAL), rounds)
        return booster.predict(x_valid)
    booster = xgb.train(dict(objective="binary:logistic", tree_method="hist", nthread=threads, seed=0, **params),
                        xgb.DMatrix(x_train, y_train, enable_categorical=True, nthread=threads), rounds)
    return booster.predict(xgb.DMatrix(x_valid, enable_categorical=True, nthread=threads))


def lookup(train, test):
    prior = train["Fraud"].mean()
    rates = train.groupby("price_key")["Fraud"].mean()
    return test["price_key"].map(rates).fillna(prior).to_numpy(np.float64)


def scores_of(name, train, test, threads):
    if name == "price_lookup":
        return lookup(train, test)
    library, params, rounds = MODELS[name]
    return fit_predict(library, params, rounds, frame(train, train), train["Fraud"].to_numpy(),
                       frame(test, train), threads)


def clean(value):
    """JSON has no NaN: undefined metrics become null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run_view(names, train_test_pairs, threads):
    """Scores of every model over the (train, test) pairs, concatenated in test order."""
    results = {}
    for name in names:
        started = time.perf_counter()
        scores = np.concatenate([scores_of(name, train, test, threads) for train, test in train_test_pairs])
        results[name] = (scores, round(time.perf_counter() - started, 3))
    return results


def platform_view(directory, view, test, unseen):
    """The platform's figures for one view, recomputed from its scores file and checked against
    its JSON; in the cv view, its folds checked against ours."""
    stem = os.path.join(directory, view.replace("+", "_"))
    with open(stem + ".json") as f:
        printed = json.load(f)
    scores = pd.read_csv(stem + ".csv", dtype={"row_id": str})
    if len(scores) != len(test) or set(scores["row_id"]) != set(test["row_id"]):
        raise SystemExit(f"{view}: the platform scored other rows than this script ({len(scores)} vs {len(test)})")
    scores = scores.set_index("row_id").loc[test["row_id"]]
    if view == "cv" and not (scores["fold"].to_numpy() == test["fold"].to_numpy()).all():
        raise SystemExit("cv: the platform's price folds differ from this script's")
    if not (scores["unseen_price"].to_numpy().astype(bool) == unseen).all():
        raise SystemExit(f"{view}: the platform's unseen-price rows differ from this script's")
    labels = scores["label"].to_numpy().astype(bool)
    if not (labels == test["Fraud"].to_numpy().astype(bool)).all():
        raise SystemExit(f"{view}: the platform's labels differ from the file's")
    recomputed = evaluation(scores["score"].to_numpy(np.float64), labels, scores["unseen_price"].to_numpy().astype(bool))
    for part in ("all", "unseen_price"):
        if not math.isclose(recomputed[part]["auc"], printed[part]["auc"], rel_tol=0, abs_tol=1e-12):
            raise SystemExit(f"{view}: AUC {part} recomputed {recomputed[part]['auc']} != printed {printed[part]['auc']}")
    return recomputed


def side_by_side(title, results):
    head = f"{'model':36} {'AUC all':>8} {'AUC unseen':>10} {'unseen rows':>11}  " + "  ".join(
        f"P@{r}% all/unseen" for r in (1, 2, 5, 10))
    lines = [title, head]
    for name, ev in results.items():
        whole, unseen = ev["all"], ev["unseen_price"]
        cells = "  ".join(
            f"{rate['top_k_precision']:.3f}/{urate['top_k_precision']:.3f}".rjust(len(f"P@{rate['rate_pct']}% all/unseen"))
            for rate, urate in zip(whole["rates"], unseen["rates"]))
        lines.append(f"{name:36} {whole['auc']:8.4f} {unseen['auc']:10.4f} {unseen['n_rows']:11}  {cells}")
    return "\n".join(lines) + "\n"


def summary(views):
    """One line per model: AUC and top-k precision at 5 and 10 % on the unseen-price rows of
    every view, and whether the platform is behind the best peer there."""
    names = list(next(iter(views.values())).keys())
    head = f"{'model':36}" + "".join(f" {view + ' AUC/P@5/P@10 unseen':>38}" for view in views)
    lines = ["unseen-price rows, every view", head]
    for name in names:
        cells = ""
        for results in views.values():
            u = results[name]["unseen_price"]
            cells += f" {u['auc']:.4f} / {u['rates'][2]['top_k_precision']:.3f} / {u['rates'][3]['top_k_precision']:.3f}".rjust(39)
        lines.append(f"{name:36}{cells}")
    for view, results in views.items():
        platform = results.get("platform")
        if platform is None:
            continue
        peers = {n: r for n, r in results.items() if n != "platform"}
        best = max(peers, key=lambda n: peers[n]["unseen_price"]["auc"])
        gap = platform["unseen_price"]["auc"] - peers[best]["unseen_price"]["auc"]
        lines.append(f"{view}: platform AUC unseen {platform['unseen_price']['auc']:.4f}, best peer {best} "
                     f"{peers[best]['unseen_price']['auc']:.4f} ({'+' if gap >= 0 else ''}{gap:.4f})")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default=DATA + "df_syn_train_eng.csv")
    parser.add_argument("--valid", default=DATA + "df_syn_valid_eng.csv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cv-folds", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--platform-dir", help="the platform's <view>.json and <view>.csv (compare.sh)")
    args = parser.parse_args()

    train_file, valid_file = read(args.train), read(args.valid)
    every = pd.concat([train_file, valid_file], ignore_index=True)
    names = ["price_lookup"] + list(MODELS)
    views = {}

    # Cross-validation grouped by price, over every labelled row.
    every["fold"] = every["price_key"].map(lambda p: price_fold(p, args.cv_folds))
    pairs = [(every[every["fold"] != k], every[every["fold"] == k]) for k in range(args.cv_folds)]
    tested = pd.concat([test for _, test in pairs], ignore_index=True)
    unseen = np.concatenate([~test["price_key"].isin(set(train["price_key"])).to_numpy() for train, test in pairs])
    views["cv"] = (tested, unseen, run_view(names, pairs, args.threads))

    # The held-out part of the validation split, in both training configurations.
    for view, until in SPLITS:
        train = every[every["Date"] <= until]
        test = every[(every["Date"] >= HELD_OUT[0]) & (every["Date"] <= HELD_OUT[1])]
        unseen = ~test["price_key"].isin(set(train["price_key"])).to_numpy()
        views[view] = (test, unseen, run_view(names, [(train, test)], args.threads))

    document = dict(train=args.train, valid=args.valid, cv_folds=args.cv_folds, held_out=HELD_OUT,
                    versions=dict(lightgbm=lgb.__version__, xgboost=xgb.__version__), views={})
    tables = {}
    for view, (test, unseen, runs) in views.items():
        labels = test["Fraud"].to_numpy().astype(bool)
        results = {}
        for name, (scores, seconds) in runs.items():
            results[name] = dict(fit_predict_s=seconds, **evaluation(scores, labels, unseen))
        if args.platform_dir:
            results["platform"] = platform_view(args.platform_dir, view, test, unseen)
        for name, result in results.items():
            print(render_table(f"[{view}] {name}", result) + "\n")
        tables[view] = results
        document["views"][view] = dict(rows=len(test), unseen_price_rows=int(unseen.sum()), models=results)
    for view, results in tables.items():
        title = {"cv": f"side by side: {args.cv_folds}-fold cross-validation grouped by price, every labelled row",
                 "train": f"side by side: trained on 2020, tested on {HELD_OUT[0]} to {HELD_OUT[1]}",
                 "train+valid": f"side by side: trained on 2020 to {SPLITS[1][1]}, tested on {HELD_OUT[0]} to {HELD_OUT[1]}"}[view]
        print(side_by_side(title, results))
    print(summary(tables))
    text = json.dumps(clean(document), indent=2)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
