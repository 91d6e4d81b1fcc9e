#!/usr/bin/env bash
# Refusing past capacity (issue 4): askd relays askmock with the openai provider limited
# to CAPACITY concurrent calls and no queue. Closed-loop clients at CAPACITY and at twice
# it, interleaved RUNS times: refusals should be fast (p99 under 5 ms) and the admitted
# streams' time to first token at 2x should stay within 10% of the one at 1x.
# Each stream: first token after FIRST_MS, then DELTAS deltas GAP_MS apart. A refused
# client waits PAUSE_MS before its next request.
#   bench/overload.sh            (CAPACITY=200 RUNS=3 DURATION_S=10 PAUSE_MS=100)
set -euo pipefail
cd "$(dirname "$0")/.."
CAPACITY=${CAPACITY:-200}
RUNS=${RUNS:-3}
DURATION_S=${DURATION_S:-10}
PAUSE_MS=${PAUSE_MS:-100}
FIRST_MS=${FIRST_MS:-100}
DELTAS=${DELTAS:-20}
GAP_MS=${GAP_MS:-25}
MOCK_PORT=${MOCK_PORT:-9102}
ASKD_PORT=${ASKD_PORT:-8102}

./dev build askd askmock overload_bench >/dev/null
source bench/lib.sh
start_askmock
work=$(mktemp -d)
cat > "$work/askd.json" <<JSON
{"server":{"port":$ASKD_PORT,"max_connections":20000,"io_threads":${IO_THREADS:-1}},"log":{"level":"warn"},"answer_cache":{"enabled":false},
 "limits":{"providers":{"openai":{"max_concurrent":$CAPACITY,"max_queued":0}}}}
JSON
cat > "$work/body.json" <<JSON
{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},
 "messages":[{"role":"user","content":"q #mock{\"deltas\":$DELTAS,\"first_ms\":$FIRST_MS,\"gap_ms\":$GAP_MS}"}]}
JSON
start_askd "$work" /tmp/askd-overload.log

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }
echo "| load | run | answered | refused | errors | refuse p50 ms | refuse p99 ms | TTFT p50 ms | TTFT p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $(seq "$RUNS"); do
  for load in 1 2; do
    out=$(build/bench/overload_bench --port "$ASKD_PORT" --clients $((CAPACITY * load)) \
      --seconds "$DURATION_S" --pause-ms "$PAUSE_MS" --body "$work/body.json")
    printf "| %sx (%s clients) | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$load" \
      "$(field "$out" clients)" "$run" "$(field "$out" answered)" "$(field "$out" refused)" \
      "$(( $(field "$out" errors) + $(field "$out" other_status) ))" \
      "$(field "$out" refuse_p50)" "$(field "$out" refuse_p99)" \
      "$(field "$out" ttft_p50)" "$(field "$out" ttft_p99)"
  done
done
