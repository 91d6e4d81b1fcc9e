#!/usr/bin/env bash
# Two (or more) askd builds against each other, alternating, each run on a fresh askd: CPU
# per stream by thread, from /proc/<pid>/task/*/schedstat (ns), for N streams of SHAPE at
# concurrency C after a warm-up of 500. Setup as bench/threads.sh (askd pinned to CPU 0,
# askmock and askload to CPU 1, openai provider, retrieval none, compat HTTP, answer cache
# off). The VM's noise between runs is larger than most single changes: compare the runs
# side by side, and the counts of bench/setup_counts.sh.
#   bench/ab.sh /path/to/askd-before /path/to/askd-after     (C=250 N=2000 SHAPE=d1 ROUNDS=3)
# SHAPE: d1 (one delta) or d64 (64 deltas 20 ms apart).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: bench/ab.sh ASKD_BIN..." >&2; exit 2; }
C=${C:-250}
N=${N:-2000}
SHAPE=${SHAPE:-d1}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp -d /tmp/ab.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=9100 ASKD_PORT=9204
./dev build askmock askload >/dev/null
MOCK_KEY="" MOCK_PIN="taskset -c 1" ASKD_PIN="taskset -c 0"
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"
case $SHAPE in
  d1) mock='{"deltas":1,"first_ms":0}' ;;
  d64) mock='{"deltas":64,"first_ms":20,"gap_ms":20}' ;;
  *) echo "SHAPE: d1 or d64" >&2; exit 2 ;;
esac
/usr/bin/python3 -c 'import json, sys; print(json.dumps({"repo_url": "https://github.com/askd/bench",
  "provider": "openai", "retrieval": {"mode": "none"},
  "messages": [{"role": "user", "content": "How are streams relayed? #mock" + sys.argv[1]}]}))' \
  "$mock" > "$OUT/mix.jsonl"

load() {
  taskset -c 1 build/apps/askload/askload --url "http://127.0.0.1:$ASKD_PORT" --target compat-http \
    -c "$C" -n "$1" --ramp 1 --mix "$OUT/mix.jsonl" --json --quiet --timeout 30 \
    --max-connections 20000 > "$2" || true
}

echo "C=$C N=$N SHAPE=$SHAPE: µs of CPU per stream"
for r in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    ASKD_BIN=$bin start_askd "$cfg" "$OUT/askd.log"
    load 500 /dev/null
    cpu_by_name "$askd_pid" > "$OUT/before"
    load "$N" "$OUT/load.json"
    cpu_by_name "$askd_pid" > "$OUT/after"
    ok=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("ok", 0))' "$OUT/load.json")
    printf 'round %s %s: %s (ok %s of %s)\n' "$r" "$bin" \
      "$(join "$OUT/before" "$OUT/after" | awk -v n="$N" '{d = ($3 - $2) / 1000 / n; t += d;
          if (d >= 0.5) printf "%s %.0f, ", $1, d} END {printf "total %.0f", t}')" "$ok" "$N"
    kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
  done
done
