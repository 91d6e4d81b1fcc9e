#!/usr/bin/env bash
# What one stream costs askd in counts that do not depend on the machine's load:
# syscalls, futex calls and context switches per stream, from `perf stat` on every thread
# of askd (and of nginx relaying the same streams) while askload runs STREAMS streams of
# SHAPE at concurrency C; then askd's user-space instructions per stream, from callgrind
# (this VM has no hardware counters) over INSTR_STREAMS streams at concurrency 5. askd:
# openai provider pointed at askmock, retrieval none, compat HTTP, answer cache off (as
# bench/threads.sh). Counts, not time: it can run beside a build and still compare two
# binaries.
#   bench/setup_counts.sh          (STREAMS=2000 C=25 SHAPE=d1 RUNS=2 INSTR_STREAMS=300)
#   ASKD_BIN=/path/to/other/askd bench/setup_counts.sh     another build, for before/after
# SHAPE: d1 (one delta: the per-stream cost) or d64 (64 deltas 20 ms apart).
# WITH_NGINX=0 skips nginx, INSTR_STREAMS=0 callgrind. Needs root (or
# perf_event_paranoid <= -1) for the syscall tracepoints.
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-2000}
C=${C:-25}
SHAPE=${SHAPE:-d1}
RUNS=${RUNS:-2}
INSTR_STREAMS=${INSTR_STREAMS:-300}
WITH_NGINX=${WITH_NGINX:-1}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}
OUT=${OUT:-$(mktemp -d /tmp/setup_counts.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=9100 ASKD_PORT=9204 NGINX_PORT=9203
./dev build askd askmock askload >/dev/null
MOCK_KEY=""
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"
start_askd "$cfg" "$OUT/askd.log"
if [ "$WITH_NGINX" = 1 ]; then
  ngx=$(mktemp -d); mkdir -p "$ngx/logs"
  /usr/sbin/nginx -p "$ngx" -c "$PEERS/nginx_relay.conf" -g 'daemon off;' &
  nginx_pid=$!; bench_pids+=($nginx_pid)
  for _ in $(seq 200); do curl -s -o /dev/null "127.0.0.1:$NGINX_PORT/health" && break; sleep 0.05; done
fi

case "$SHAPE" in
  d1) mock='{"deltas":1,"first_ms":0}' ;;
  d64) mock='{"deltas":64,"first_ms":20,"gap_ms":20}' ;;
  *) echo "SHAPE is d1 or d64" >&2; exit 2 ;;
esac
msg="How are streams relayed? #mock$mock"
printf '{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"%s"}]}\n' \
  "${msg//\"/\\\"}" > "$OUT/compat.jsonl"
printf '{"model":"mock","stream":true,"messages":[{"role":"user","content":"%s"}]}\n' \
  "${msg//\"/\\\"}" > "$OUT/openai.jsonl"

EVENTS=${EVENTS:-raw_syscalls:sys_enter,syscalls:sys_enter_futex,context-switches}
load() {  # $1 port, $2 face, $3 body, then askload's extra flags
  local port=$1 face=$2 body=$3; shift 3
  build/apps/askload/askload --url "http://127.0.0.1:$port" --target "$face" "$@" \
    -c "${LOAD_C:-$C}" -n "${LOAD_N:-$STREAMS}" --ramp 1 --mix "$OUT/$body.jsonl" --verify --json --quiet \
    --timeout 30 --max-connections 20000
}
for run in $(seq "$RUNS"); do
  targets=(askd); [ "$WITH_NGINX" = 1 ] && targets+=(nginx)
  for target in "${targets[@]}"; do
    if [ "$target" = askd ]; then
      pids=$askd_pid; args=("$ASKD_PORT" compat-http compat)
    else
      pids="$nginx_pid,$(pgrep -P "$nginx_pid" | paste -sd,)"; args=("$NGINX_PORT" openai openai --path /)
    fi
    load "${args[@]}" > /dev/null  # warm: connections, caches, the allocator
    perf stat -x, -e "$EVENTS" -p "$pids" -o "$OUT/$target-$run.perf" -- \
      bash -c "$(declare -f load); OUT=$OUT C=$C STREAMS=$STREAMS load ${args[*]}" > "$OUT/$target-$run.json"
  done
done

# User-space instructions: a second askd under callgrind, its counts zeroed after a
# warm-up load and dumped when the measured one is over.
instr=0
if [ "$INSTR_STREAMS" -gt 0 ]; then
  kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
  ASKD_PIN="valgrind --tool=callgrind --callgrind-out-file=$OUT/callgrind.out"
  start_askd "$cfg" "$OUT/askd-callgrind.log"
  for _ in $(seq 600); do curl -sf "127.0.0.1:$ASKD_PORT/health" >/dev/null && break; sleep 0.1; done
  LOAD_C=5 LOAD_N=50 load "$ASKD_PORT" compat-http compat > /dev/null
  callgrind_control -z "$askd_pid" > /dev/null  # counts from here
  LOAD_C=5 LOAD_N=$INSTR_STREAMS load "$ASKD_PORT" compat-http compat > "$OUT/askd-callgrind.json"
  callgrind_control -d "$askd_pid" > /dev/null  # to here: dumped beside the out file
  kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
  instr=$(awk '/^(summary|totals):/ {print $2; exit}' "$(ls "$OUT"/callgrind.out.* | head -1)")
fi

/usr/bin/python3 - "$OUT" "$STREAMS" "$RUNS" "$WITH_NGINX" "$instr" "$INSTR_STREAMS" <<'PY'
import json, statistics, sys
out, streams, runs, nginx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
instr, instr_streams = int(sys.argv[5] or 0), int(sys.argv[6])
names = {"raw_syscalls:sys_enter": "syscalls", "syscalls:sys_enter_futex": "futex",
         "context-switches": "context switches"}
def counts(target, run):
    r = {}
    for line in open(f"{out}/{target}-{run}.perf"):
        f = line.strip().split(",")
        if len(f) > 2 and f[2] in names and f[0] not in ("<not counted>", "<not supported>"):
            r[names[f[2]]] = float(f[0]) / streams
    return r
targets = ["askd"] + (["nginx"] if nginx else [])
print("| target | " + " | ".join(names.values()) + " |")
print("|---|" + "---|" * len(names))
for t in targets:
    cells = []
    for n in names.values():
        v = [counts(t, r).get(n, 0) for r in range(1, runs + 1)]
        cells.append(f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})")
    print(f"| {t} | " + " | ".join(cells) + " |")
for t in targets:
    bad = [r for r in range(1, runs + 1) if json.load(open(f"{out}/{t}-{r}.json"))["verify"].get("exact", 0) != streams]
    if bad: print(f"\n{t}: runs {bad} had streams not exact")
if instr_streams:
    exact = json.load(open(f"{out}/askd-callgrind.json"))["verify"].get("exact", 0)
    print(f"\naskd user-space instructions per stream (callgrind, {instr_streams} streams at C=5): "
          f"{instr / instr_streams / 1000:.0f}k" + ("" if exact == instr_streams else f" ({exact} exact)"))
PY
