#!/usr/bin/env bash
# How many concurrent streams askmock, and askd relaying askmock, hold on this machine.
# Each stream is the bench method's answer: 64 deltas, 20 ms apart (about 1.3 s);
# DELTAS and GAP_MS change it. A stream count is "held" when every request completes
# without error and the p99 stream time stays within 100 ms of what the mock takes by
# itself (DELTAS x GAP_MS).
#   bench/capacity.sh [concurrency...]     (default: 500 1000 2000 4000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] && LEVELS=("$@") || LEVELS=(500 1000 2000 4000)
DURATION=${DURATION:-15s}
MOCK_PORT=${MOCK_PORT:-9100}
ASKD_PORT=${ASKD_PORT:-8101}

./dev build askd askmock >/dev/null
command -v wrk >/dev/null || { sudo_cmd() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }; sudo_cmd apt-get install -y -qq wrk >/dev/null; }
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"
start_askd "$cfg" /tmp/askd-capacity.log

run() {  # name url body_kind concurrency
  local out
  out=$(DELTAS=${DELTAS:-64} GAP_MS=${GAP_MS:-20} BODY_KIND=$3 wrk -t2 -c"$4" -d"$DURATION" --timeout 30s --latency -s bench/compat_post.lua "$2" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' <<<"$out")
  printf "| %-6s | %5s | %8s | %8s | %8s | %s |\n" "$1" "$4" "$rps" "$p50" "$p99" "${errs:-none}"
}

echo "| target | conns | streams/s | p50 time | p99 time | errors |"
echo "|---|---|---|---|---|---|"
for c in "${LEVELS[@]}"; do
  run askmock "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" mock "$c"
  run askd "http://127.0.0.1:$ASKD_PORT/chat/completions/stream" askd "$c"
done
