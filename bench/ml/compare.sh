#!/usr/bin/env bash
# The platform's model and the Python baselines (LightGBM, XGBoost, exact-price lookup) on the
# same KCS split, with the same metrics, side by side in one run. Outside CI.
#
#   bench/ml/compare.sh [PYTHON]    # PYTHON: an interpreter with requirements.txt installed
#                                   # (default: bench/ml/.venv/bin/python)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
python="${1:-$here/.venv/bin/python}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT

cargo build --release -p customs --manifest-path "$root/Cargo.toml" >&2
customs="$root/target/release/customs"
export CUSTOMS_DATA="$data"
"$customs" admin user --name bench-analyst --role risk_analyst >/dev/null
token="$("$customs" admin token --user bench-analyst)"
for split in train valid; do
  "$customs" history import "$root/datasets/kcs-synthetic/df_syn_${split}_eng.csv" \
    --format kcs --token "$token" >&2
done
started=$(date +%s.%N)
"$customs" model evaluate --train-until 2020-12-31 --from 2021-01-01 --to 2021-03-31 \
  --token "$token" --json > "$data/platform.json"
echo "platform: trained and evaluated in $(echo "$(date +%s.%N) - $started" | bc) s" >&2
"$python" "$here/baselines.py" --platform "$data/platform.json" --json "$data/baselines.json"
