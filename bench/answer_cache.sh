#!/usr/bin/env bash
# The answer cache benchmark (actors/answer_cache.hpp): askd (openai provider pointed at
# askmock, retrieval none, compat HTTP face, answer cache on) pinned to CPU 0, askmock
# and askload on CPU 1.
#   1. Hit against miss: N distinct questions (64 deltas, 20 ms apart, as the relay
#      benchmark's), each asked once (misses), then the same N again (hits), at
#      concurrency C, then 200 of them one at a time (hit-alone): askd's CPU per stream,
#      first byte and first token (askload's clock: it includes askload's own time).
#   2. Repeated questions under load: STREAMS streams at concurrency C whose questions are
#      drawn from DISTINCT (Zipf, s=1) — the upstream calls askmock saw, and askd's hits,
#      shared flights and misses — every answer verified against askmock's script.
#   bench/answer_cache.sh            (N=1000 C=50 STREAMS=4000 DISTINCT=200)
# Prints a markdown table; raw JSON in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
C=${C:-50}
STREAMS=${STREAMS:-4000}
DISTINCT=${DISTINCT:-200}
OUT=${OUT:-$(mktemp -d /tmp/answer_cache.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=9100 ASKD_PORT=9204
./dev build askd askmock askload >/dev/null
MOCK_KEY="" MOCK_PIN="taskset -c 1" ASKD_PIN="taskset -c 0"
LOAD_PIN="taskset -c 1"
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json | sed 's/"answer_cache":{"enabled":false}/"answer_cache":{"enabled":true,"max_mb":256}/' > "$cfg/askd.json"
start_askd "$cfg" "$OUT/askd.log"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "127.0.0.1:$ASKD_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
mock_requests() { curl -s "127.0.0.1:$MOCK_PORT/_mock/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }

# JSON lines for askload --mix: compat requests, question i of a list.
/usr/bin/python3 - "$OUT" "$N" "$STREAMS" "$DISTINCT" <<'PY'
import json, random, sys
out, n, streams, distinct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def line(i, mock):
    return json.dumps({"repo_url": "https://github.com/askd/bench", "provider": "openai",
                       "retrieval": {"mode": "none"},
                       "messages": [{"role": "user", "content": f"Question {i}: how are streams relayed? #mock{mock}"}]})
fast = '{"deltas":64,"first_ms":20,"gap_ms":20}'
with open(out + "/distinct.jsonl", "w") as f:
    for i in range(n): f.write(line(i, fast) + "\n")
rng = random.Random(7)
weights = [1 / (k + 1) for k in range(distinct)]
with open(out + "/zipf.jsonl", "w") as f:
    for q in rng.choices(range(distinct), weights, k=streams): f.write(line(100000 + q, fast) + "\n")
PY

run() {  # NAME MIX STREAMS CONCURRENCY
  local t0 t1
  t0=$(cpu_ticks "$askd_pid")
  $LOAD_PIN build/apps/askload/askload --url "http://127.0.0.1:$ASKD_PORT" --target compat-http \
    -c "$4" -n "$3" --ramp 1 --mix "$2" --verify --json --quiet --timeout 30 \
    --max-connections 20000 > "$OUT/$1.json" || true
  t1=$(cpu_ticks "$askd_pid")
  echo "$(( t1 - t0 ))" > "$OUT/$1.ticks"
}

r0=$(mock_requests)
run miss "$OUT/distinct.jsonl" "$N" "$C"
r1=$(mock_requests)
run hit "$OUT/distinct.jsonl" "$N" "$C"
run hit-alone "$OUT/distinct.jsonl" 200 1  # one at a time: first byte without queueing
r2=$(mock_requests)
h0=$(metric askd_answer_cache_hits_total) s0=$(metric askd_answer_cache_shared_total) m0=$(metric askd_answer_cache_misses_total)
run zipf "$OUT/zipf.jsonl" "$STREAMS" 100
r3=$(mock_requests)
h1=$(metric askd_answer_cache_hits_total) s1=$(metric askd_answer_cache_shared_total) m1=$(metric askd_answer_cache_misses_total)
bytes=$(metric askd_answer_cache_bytes) entries=$(metric askd_answer_cache_entries)

/usr/bin/python3 - "$OUT" "$N" "$STREAMS" "$DISTINCT" "$(getconf CLK_TCK)" \
  "$((r1 - r0))" "$((r2 - r1))" "$((r3 - r2))" "$((h1 - h0))" "$((s1 - s0))" "$((m1 - m0))" "$bytes" "$entries" <<'PY'
import json, sys
out, n, streams, distinct, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
up_miss, up_hit, up_zipf, hits, shared, misses, nbytes, entries = map(int, sys.argv[6:14])
print("| run | streams | ok | exact | upstream calls | askd CPU µs / stream | first byte p50 / p99 ms | first token p50 / p99 ms | total p50 ms |")
print("|---|---|---|---|---|---|---|---|---|")
for name, count, up in (("miss", n, up_miss), ("hit", n, up_hit), ("hit-alone", 200, 0), ("zipf", streams, up_zipf)):
    d = json.load(open(f"{out}/{name}.json"))
    ticks = int(open(f"{out}/{name}.ticks").read())
    ms = d["ms"]
    print(f"| {name} | {count} | {d['ok']} | {d['verify'].get('exact', 0)} | {up} | "
          f"{ticks / hz / count * 1e6:.0f} | {ms['first_byte']['p50']:.2f} / {ms['first_byte']['p99']:.2f} | "
          f"{ms['first_token']['p50']:.2f} / {ms['first_token']['p99']:.2f} | {ms['total']['p50']:.0f} |")
print()
print(f"zipf run ({streams} streams over {distinct} questions, C=100): {up_zipf} upstream calls "
      f"({100 * (1 - up_zipf / streams):.1f}% saved); askd: {hits} hits, {shared} shared, {misses} misses; "
      f"cache after: {entries} answers, {nbytes} bytes")
PY
