"""Writes the tiny XGBoost and LightGBM models the import tests read, with their predictions.

Run from this folder with the pinned bench environment (bench/ml/requirements.txt):
    python make_import_models.py
Outputs: xgb_tiny.json, lgb_tiny.txt, import_rows.csv (38 feature columns, then the
predictions of each library, computed by the library itself). 38 features because the import
refuses a model that does not read exactly the encoder's features.
"""
import numpy as np
import xgboost as xgb
import lightgbm as lgb

N_FEATURES = 38
rng = np.random.default_rng(20261127)
X = rng.normal(size=(400, N_FEATURES)).astype(np.float32)
X[rng.random(X.shape) < 0.1] = np.nan  # missing values exercise the default directions
logit = 1.5 * np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 21]) + 0.5 * np.nan_to_num(X[:, 37])
y = (rng.random(400) < 1 / (1 + np.exp(-logit))).astype(np.float32)

booster = xgb.train(dict(objective="binary:logistic", max_depth=3, eta=0.3, seed=0, nthread=1),
                    xgb.DMatrix(X, y), 8)
booster.save_model("xgb_tiny.json")
lgb_model = lgb.train(dict(objective="binary", num_leaves=7, learning_rate=0.3, seed=0, num_threads=1,
                           verbose=-1, min_data_in_leaf=10), lgb.Dataset(X, y), 8)
lgb_model.save_model("lgb_tiny.txt")

rows = X[:40]
xgb_pred = booster.predict(xgb.DMatrix(rows))
lgb_pred = lgb_model.predict(rows)
with open("import_rows.csv", "w") as out:
    out.write(",".join([f"f{j}" for j in range(N_FEATURES)] + ["xgboost", "lightgbm"]) + "\n")
    for row, px, pl in zip(rows, xgb_pred, lgb_pred):
        cells = ["nan" if np.isnan(v) else repr(float(v)) for v in row]
        out.write(",".join(cells + [repr(float(px)), repr(float(pl))]) + "\n")
print("xgboost", xgb.__version__, "lightgbm", lgb.__version__)
