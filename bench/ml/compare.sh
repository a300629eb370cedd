#!/usr/bin/env bash
# The platform's model and the Python baselines (LightGBM, XGBoost, exact-price lookup) on the
# same KCS rows, with the same metrics, side by side, in three views: cross-validation grouped by
# price over every labelled row, and the held-out part of the validation split (March 2021)
# trained on 2020 ("train") and on 2020 to February 2021 ("train+valid"). Outside CI.
#
#   bench/ml/compare.sh [PYTHON]    # PYTHON: an interpreter with requirements.txt installed
#                                   # (default: bench/ml/.venv/bin/python)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
python="${1:-$here/.venv/bin/python}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
folds=5

# CUSTOMS=path/to/customs uses that binary instead of building the release one.
[ -n "${CUSTOMS:-}" ] || cargo build --release -p customs --manifest-path "$root/Cargo.toml" >&2
customs="${CUSTOMS:-${CARGO_TARGET_DIR:-$root/target}/release/customs}"
export CUSTOMS_DATA="$data"
CUSTOMS_TOKEN="$("$customs" admin init --name bench-admin 2>/dev/null | tail -1)"
export CUSTOMS_TOKEN
"$customs" admin user --name bench-analyst --role risk_analyst >/dev/null
token="$("$customs" admin token --user bench-analyst)"
for split in train valid; do
  "$customs" history import "$root/datasets/kcs-synthetic/df_syn_${split}_eng.csv" \
    --format kcs --token "$token" >&2
done
evaluate() {  # view, then the split's options
  local view="$1"; shift
  local started; started=$(date +%s.%N)
  "$customs" model evaluate "$@" --token "$token" --json --scores "$data/$view.csv" > "$data/$view.json"
  echo "platform [$view]: trained and evaluated in $(echo "$(date +%s.%N) - $started" | bc) s" >&2
}
evaluate cv --cv-folds "$folds" --group-by price
evaluate train --train-until 2020-12-31 --from 2021-03-01 --to 2021-03-31
evaluate train_valid --train-until 2021-02-28 --from 2021-03-01 --to 2021-03-31
"$python" "$here/baselines.py" --cv-folds "$folds" --platform-dir "$data" --json "$data/baselines.json"
