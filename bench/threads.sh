#!/usr/bin/env bash
# Where askd's CPU goes, by thread role, per stream and per delta: askd (openai provider
# pointed at askmock, retrieval none, compat HTTP, answer cache off) pinned to CPU 0,
# askmock and askload to CPU 1. For each stream shape, STREAMS streams at concurrency C;
# CPU from /proc/<pid>/task/*/schedstat (time on CPU in ns; the 10 ms ticks of stat were
# too coarse for the smaller differences), by thread name (askd.curl, askd.io, CAF's
# workers and clock, the rest). Shapes: 1 delta (the per-stream cost) and 64 deltas 20 ms apart
# (the relay benchmark's); the difference over 63 is the cost of one more delta. Then
# askd's total over nginx's round by round (the two ran back to back in each), and the
# user / system split of each (stat's 10 ms ticks).
#   bench/threads.sh            (STREAMS=2000 C=100 RUNS=3; WITH_NGINX=0 skips nginx)
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-2000}
C=${C:-100}
RUNS=${RUNS:-3}
WITH_NGINX=${WITH_NGINX:-1}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}
OUT=${OUT:-$(mktemp -d /tmp/threads.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=9100 ASKD_PORT=9204 NGINX_PORT=9203
./dev build askd askmock askload >/dev/null
MOCK_KEY="" MOCK_PIN="taskset -c 1" ASKD_PIN="taskset -c 0"
LOAD_PIN="taskset -c 1"
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"
start_askd "$cfg" "$OUT/askd.log"
if [ "$WITH_NGINX" = 1 ]; then
  ngx=$(mktemp -d); mkdir -p "$ngx/logs"
  taskset -c 0 /usr/sbin/nginx -p "$ngx" -c "$PEERS/nginx_relay.conf" -g 'daemon off;' &
  nginx_pid=$!; bench_pids+=($nginx_pid)
  for _ in $(seq 200); do curl -s -o /dev/null "127.0.0.1:$NGINX_PORT/health" && break; sleep 0.05; done
fi

/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for name, mock in (("d1", '{"deltas":1,"first_ms":0}'), ("d64", '{"deltas":64,"first_ms":20,"gap_ms":20}')):
    msgs = [{"role": "user", "content": "How are streams relayed? #mock" + mock}]
    open(f"{out}/{name}.compat.jsonl", "w").write(json.dumps({"repo_url": "https://github.com/askd/bench",
        "provider": "openai", "retrieval": {"mode": "none"}, "messages": msgs}) + "\n")
    open(f"{out}/{name}.openai.jsonl", "w").write(json.dumps({"model": "mock", "stream": True, "messages": msgs}) + "\n")
PY

for run in $(seq "$RUNS"); do
  for shape in d1 d64; do
    targets=(askd); [ "$WITH_NGINX" = 1 ] && targets+=(nginx)
    for target in "${targets[@]}"; do
      if [ "$target" = askd ]; then
        pids=$askd_pid port=$ASKD_PORT face=compat-http body=compat path=()
      else
        pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" port=$NGINX_PORT face=openai body=openai path=(--path /)
      fi
      cpu_by_name $pids > "$OUT/$target-$shape-$run.before"
      user_sys_ticks $pids > "$OUT/$target-$shape-$run.ticks-before"
      $LOAD_PIN build/apps/askload/askload --url "http://127.0.0.1:$port" --target $face "${path[@]}" \
        -c "$C" -n "$STREAMS" --ramp 1 --mix "$OUT/$shape.$body.jsonl" --verify --json --quiet \
        --timeout 30 --max-connections 20000 > "$OUT/$target-$shape-$run.json" || true
      cpu_by_name $pids > "$OUT/$target-$shape-$run.after"
      user_sys_ticks $pids > "$OUT/$target-$shape-$run.ticks-after"
    done
  done
done

/usr/bin/python3 - "$OUT" "$STREAMS" "$RUNS" "$WITH_NGINX" <<'PY'
import json, statistics, sys
out, streams, runs, nginx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
def role(name):
    if name.startswith("askd.curl"): return "curl"
    if name.startswith("askd.io"): return "io"
    if name in ("askd.worker", "caf.multiplexer"): return "CAF workers"  # CAF's own name, before askd's workers
    if name in ("caf.clock", "askd.clock", "askd.timers"): return "clocks and timers"
    if name.startswith("nginx"): return "nginx"
    return "other (main, " + name + ")" if name != "askd" else "askd (main thread; before askd.curl/askd.io had names, all)"
def per_role(target, shape, run):
    def read(f):
        return {l.split()[0]: int(l.split()[1]) for l in open(f)}
    b, a = read(f"{out}/{target}-{shape}-{run}.before"), read(f"{out}/{target}-{shape}-{run}.after")
    r = {}
    for k, v in a.items():
        r[role(k)] = r.get(role(k), 0) + (v - b.get(k, 0))
    return {k: v / 1e3 / streams for k, v in r.items()}  # µs per stream
targets = ["askd"] + (["nginx"] if nginx else [])
print("| target | role | µs / stream, 1-delta streams | µs / stream, 64-delta streams | µs / extra delta |")
print("|---|---|---|---|---|")
for t in targets:
    roles = sorted({k for s in ("d1", "d64") for r in range(1, runs + 1) for k in per_role(t, s, r)})
    total1, total64 = [], []
    for ro in roles + ["total"]:
        v1 = [per_role(t, "d1", r).get(ro, 0) if ro != "total" else sum(per_role(t, "d1", r).values()) for r in range(1, runs + 1)]
        v64 = [per_role(t, "d64", r).get(ro, 0) if ro != "total" else sum(per_role(t, "d64", r).values()) for r in range(1, runs + 1)]
        m1, m64 = statistics.median(v1), statistics.median(v64)
        print(f"| {t} | {ro} | {m1:.0f} ({min(v1):.0f}–{max(v1):.0f}) | {m64:.0f} ({min(v64):.0f}–{max(v64):.0f}) | {(m64 - m1) / 63:.1f} |")
if nginx:
    # The VM's speed drifts by 20-40% over minutes: askd and nginx ran one after the other
    # in each round, so a round's ratio compares like with like; the median of those.
    def total(t, s, r): return sum(per_role(t, s, r).values())
    rows = [("1-delta stream", lambda t, r: total(t, "d1", r)),
            ("64-delta stream", lambda t, r: total(t, "d64", r)),
            ("extra delta", lambda t, r: (total(t, "d64", r) - total(t, "d1", r)) / 63)]
    print("\n| askd over nginx, round by round | " + " | ".join(f"round {r}" for r in range(1, runs + 1)) + " | median |")
    print("|---|" + "---|" * (runs + 1))
    for name, f in rows:
        x = [f("askd", r) / f("nginx", r) for r in range(1, runs + 1)]
        print(f"| {name} | " + " | ".join(f"{v:.2f}x" for v in x) + f" | {statistics.median(x):.2f}x |")
# User and system time (10 ms ticks from stat, so coarse): where the difference lies.
def user_sys(t, s, r):
    b = [int(v) for v in open(f"{out}/{t}-{s}-{r}.ticks-before").read().split()]
    a = [int(v) for v in open(f"{out}/{t}-{s}-{r}.ticks-after").read().split()]
    return [(a[i] - b[i]) * 1e4 / streams for i in (0, 1)]  # µs per stream
print("\n| target | shape | user µs / stream | system µs / stream |")
print("|---|---|---|---|")
for t in targets:
    for s in ("d1", "d64"):
        u = [user_sys(t, s, r)[0] for r in range(1, runs + 1)]
        y = [user_sys(t, s, r)[1] for r in range(1, runs + 1)]
        print(f"| {t} | {s} | {statistics.median(u):.0f} ({min(u):.0f}–{max(u):.0f}) | {statistics.median(y):.0f} ({min(y):.0f}–{max(y):.0f}) |")
for t in targets:
    for s in ("d1", "d64"):
        bad = [r for r in range(1, runs + 1) if json.load(open(f"{out}/{t}-{s}-{r}.json"))["verify"].get("exact", 0) != streams]
        if bad: print(f"\n{t} {s}: runs {bad} had streams not exact")
PY
