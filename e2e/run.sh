#!/usr/bin/env bash
# The console in a real browser: builds the binary, serves a fresh demo folder on a spare port,
# runs every e2e/*.test.mjs with node's test runner, stops the server. Needs Debian's chromium
# (`apt-get install chromium`) and `npm ci` in e2e/ (playwright-core, axe-core: no browser
# download). Screenshots land in e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "e2e/run.sh needs Debian's chromium at $chromium: apt-get install chromium" >&2
  exit 1
fi
cargo build --release -p customs
data=$(mktemp -d)
port=${CONSOLE_PORT:-18090}
./target/release/customs --data "$data/demo" serve --demo --listen "127.0.0.1:$port" >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do
  node -e "fetch('http://127.0.0.1:$port/v1/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
  sleep 0.2
done
cd e2e
[ -d node_modules ] || npm ci --no-audit --no-fund
CONSOLE_URL="http://127.0.0.1:$port" node --test ./*.test.mjs
