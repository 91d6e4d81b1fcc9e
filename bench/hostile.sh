#!/usr/bin/env bash
# What attacks cost a running askd (issue 17), and the bounds that hold them:
#  - N connections parking a 1 MiB body each (default server.body_budget_bytes, then with
#    the budget lifted to 1 TiB, as askd was before it had one): askd's RSS and a /health
#    meanwhile;
#  - W watchers of one finished 3 MB v1 stream that stop reading: RSS per watcher;
#  - the glob matcher's worst patterns.
#   bench/hostile.sh      (N=1000 W=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
W=${W:-1000}
MOCK_PORT=${MOCK_PORT:-9107}
ASKD_PORT=${ASKD_PORT:-8107}

./dev build askd askmock hostile_bench >/dev/null
source bench/lib.sh
start_askmock
work=$(mktemp -d)

askd_json() {  # $1: body budget
  cat <<JSON
{"server":{"port":$ASKD_PORT,"max_connections":20000,"body_budget_bytes":$1},"log":{"level":"warn"},"answer_cache":{"enabled":false},
 "streams":{"replay_bytes":8388608},
 "limits":{"max_queued_requests":20000,"providers":{"openai":{"max_concurrent":20000,"max_queued":20000}}}}
JSON
}

for budget in 67108864 1099511627776; do
  askd_json "$budget" > "$work/askd.json"
  start_askd "$work" /tmp/askd-hostile.log
  echo "body_budget_bytes=$budget: $(build/bench/hostile_bench bodies --port "$ASKD_PORT" --pid "$askd_pid" --n "$N")"
  kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
done

askd_json 67108864 > "$work/askd.json"
start_askd "$work" /tmp/askd-hostile.log
body='{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"q #mock{\"words\":500000,\"chunk\":4096,\"gap_ms\":1}"}]}'
id=$(curl -s "127.0.0.1:$ASKD_PORT/v1/streams" -H 'Content-Type: application/json' -d "$body" | sed 's/.*"stream_id":"\([0-9a-f]*\)".*/\1/')
bytes=$(curl -s "127.0.0.1:$ASKD_PORT/v1/streams/$id" | wc -c)
echo "stream $id: $bytes bytes of SSE"
build/bench/hostile_bench watchers --port "$ASKD_PORT" --pid "$askd_pid" --n "$W" --stream "$id"
kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true

build/bench/hostile_bench glob
