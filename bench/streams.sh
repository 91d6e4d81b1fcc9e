#!/usr/bin/env bash
# What v1 streams cost (issue 5): askd's RSS per lingering finished stream and per
# attached watcher, and resume latency (reconnect with Last-Event-ID → first replayed
# event), against askmock. Each measurement on a fresh askd.
#   bench/streams.sh      (N=5000 streams, W=2000 watchers)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
W=${W:-2000}
MOCK_PORT=${MOCK_PORT:-9106}
ASKD_PORT=${ASKD_PORT:-8106}

./dev build askd askmock >/dev/null
ulimit -n "$(ulimit -Hn)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

build/apps/askmock/askmock --port "$MOCK_PORT" --require-key sk-bench > /dev/null &
pids+=($!)
work=$(mktemp -d)
cat > "$work/askd.json" <<JSON
{"server":{"port":$ASKD_PORT,"max_connections":20000},"log":{"level":"warn"},
 "limits":{"max_queued_requests":20000,"providers":{"openai":{"max_concurrent":20000,"max_queued":20000}}}}
JSON

for what in "lingering $N" "sinks $W" "resume $N"; do
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY=sk-bench \
    build/apps/askd/askd --config "$work" > /tmp/askd-streams.log 2>&1 &
  askd=$!
  for _ in $(seq 100); do curl -sf "127.0.0.1:$ASKD_PORT/health" >/dev/null && break; sleep 0.05; done
  node bench/streams.mjs "$ASKD_PORT" "$askd" $what
  kill "$askd"; wait "$askd" 2>/dev/null || true
done
