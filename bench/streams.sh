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
source bench/lib.sh
start_askmock
work=$(mktemp -d)
unlimited_askd_json > "$work/askd.json"

for what in "lingering $N" "sinks $W" "resume $N"; do
  start_askd "$work" /tmp/askd-streams.log
  node bench/streams.mjs "$ASKD_PORT" "$askd_pid" $what
  kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
done
