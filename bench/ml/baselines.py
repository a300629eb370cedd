"""LightGBM and XGBoost baselines on the raw KCS columns, evaluated like `customs model evaluate`.

    python baselines.py [--train TRAIN.csv] [--valid VALID.csv] [--threads 2] [--json out.json]

Raw columns only (no engineered features): the categorical codes as native categoricals (LightGBM
`categorical_feature`, XGBoost `enable_categorical`), tax rate, net mass and item price as
numbers. Each library runs with its defaults and with the tuned settings of the research spike;
an exact-price lookup (training discrepancy rate of the same price, else the prior) shows what
memorised prices alone give. Prints a table, and the metrics as JSON in the field names of the
Rust `model::Evaluation` (see metrics.py).
"""
import argparse
import os
import json
import math
import time

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

# name -> (library, parameters, rounds). "default": the library's defaults (LightGBM 100 rounds,
# XGBoost eta 0.3, depth 6, 100 rounds); "tuned": the spike's best raw-column settings.
MODELS = {
    "lightgbm_default": ("lgb", {}, 100),
    "lightgbm_tuned": ("lgb", dict(learning_rate=0.05, num_leaves=63, min_data_in_leaf=20, feature_fraction=0.8,
                                   bagging_fraction=0.8, bagging_freq=1, cat_smooth=10, max_cat_to_onehot=4), 500),
    "xgboost_default": ("xgb", {}, 100),
    "xgboost_tuned": ("xgb", dict(eta=0.1, max_depth=6, max_cat_to_onehot=4), 300),
}


def frame(df, train):
    x = df[CATEGORICAL + NUMERIC].copy()
    for column in CATEGORICAL:
        # Categories fixed by the training split: an unseen code is missing, as in the Rust encoder.
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


def clean(value):
    """JSON has no NaN: undefined metrics become null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def side_by_side(results, platform_json):
    """One table: AUC on all rows and on unseen-price rows, then exact top-k precision at 1, 2, 5
    and 10 % on each view, for every baseline and (if given) the platform's own model."""
    rows = []
    for name, result in results.items():
        views = [result["all"], result["unseen_price"]]
        rows.append((name, views, "top_k_precision"))
    if platform_json:
        with open(platform_json) as f:
            platform = json.load(f)
        rows.append(("platform (customs model evaluate)",
                     [platform["all"], platform["unseen_price"]], "top_k_precision"))
    head = f"{'model':36} {'AUC all':>8} {'AUC unseen':>10}  " + "  ".join(
        f"P@{r}% all/unseen" for r in (1, 2, 5, 10))
    lines = ["side by side (validation split, Jan-Mar 2021)", head]
    for name, (whole, unseen), key in rows:
        cells = "  ".join(
            f"{rate[key]:.3f}/{urate[key]:.3f}".rjust(len(f"P@{rate['rate_pct']}% all/unseen"))
            for rate, urate in zip(whole["rates"], unseen["rates"]))
        lines.append(f"{name:36} {whole['auc']:8.4f} {unseen['auc']:10.4f}  {cells}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default=DATA + "df_syn_train_eng.csv")
    parser.add_argument("--valid", default=DATA + "df_syn_valid_eng.csv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--platform", help="the JSON of `customs model evaluate --json` on the "
                        "same split, to print side by side")
    args = parser.parse_args()

    # Prices compared as text, normalised like the Rust Decimal (12.50 == 12.5).
    train = pd.read_csv(args.train, dtype={"Item Price": str})
    valid = pd.read_csv(args.valid, dtype={"Item Price": str})
    price_train = train["Item Price"].map(lambda t: str(pd.to_numeric(t)))
    price_valid = valid["Item Price"].map(lambda t: str(pd.to_numeric(t)))
    unseen = ~price_valid.isin(set(price_train)).to_numpy()
    for df in (train, valid):
        df["Item Price"] = df["Item Price"].astype(np.float64)
    y_train = train["Fraud"].to_numpy()
    y_valid = valid["Fraud"].to_numpy()
    revenue = valid["Revenue"].to_numpy(np.float64) if "Revenue" in valid else None

    results = {}
    prior = y_train.mean()
    rates = pd.Series(y_train).groupby(price_train.to_numpy()).mean()
    lookup = price_valid.map(rates).fillna(prior).to_numpy(np.float64)
    results["price_lookup"] = dict(train_s=0.0, **evaluation(lookup, y_valid, unseen, revenue))

    x_train, x_valid = frame(train, train), frame(valid, train)
    for name, (library, params, rounds) in MODELS.items():
        started = time.perf_counter()
        scores = fit_predict(library, params, rounds, x_train, y_train, x_valid, args.threads)
        seconds = time.perf_counter() - started
        results[name] = dict(train_s=round(seconds, 3), params=params, rounds=rounds,
                             **evaluation(scores, y_valid, unseen, revenue))

    for name, result in results.items():
        print(render_table(name, result) + f"\n  fit + predict {result['train_s']:.2f} s\n")
    print(side_by_side(results, args.platform))
    document = clean(dict(train=args.train, valid=args.valid, versions=dict(lightgbm=lgb.__version__,
                          xgboost=xgb.__version__), unseen_price_rows=int(unseen.sum()), models=results))
    text = json.dumps(document, indent=2)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
