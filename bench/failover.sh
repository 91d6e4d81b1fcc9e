#!/usr/bin/env bash
# Failover (issue 19) on this machine: three askd nodes (plain TCP on loopback, heartbeat
# 200 ms, timeout 1 s), askmock, and Debian's nginx in front (round robin; a node that
# refuses is skipped).
#  1. What replication costs: STREAMS background streams on node a (DELTAS deltas GAP_MS
#     apart) watched on a, with streams.replicate on and off: the nodes' CPU per delta,
#     the bytes sent to replicas per delta, and what group commit adds to each event
#     (publish -> release, askd_replica_commit_seconds: p50 / p99).
#  2. kill -9 of a node under load: askload runs N v1 streams (SSE, --verify, resuming
#     through nginx with Last-Event-ID); node a is killed KILL_AT_MS after the start. The
#     streams exact / lost / duplicated / failed, and what the nodes did.
#  3. The replica killed first, then the owner: b killed at KILL_AT_MS, a once c counts
#     on two nodes (the first loss settled).
#  4. Failover time: one stream on a read by a client until event 50; a killed; the client
#     resumes through b at once: kill -> first resumed event, and -> the takeover logged.
#   bench/failover.sh    (STREAMS=100 DELTAS=100 GAP_MS=20 N=240 KILL_AT_MS=1500 RUNS=5
#                         PARTS="1 2 3 4"; the nodes' logs are left in the directory printed)
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-100}
DELTAS=${DELTAS:-100}
GAP_MS=${GAP_MS:-20}
N=${N:-240}
KILL_AT_MS=${KILL_AT_MS:-1500}
RUNS=${RUNS:-5}
PARTS=${PARTS:-1 2 3 4}
part() { [[ " $PARTS " == *" $1 "* ]]; }
MOCK_PORT=${MOCK_PORT:-9120}
ASKD_PORT=8121  # node a's HTTP port (b 8122, c 8123); cluster ports 9221..9223; nginx 8120

./dev build askd askmock askload cluster_bench >/dev/null
source bench/lib.sh
MOCK_KEY="" start_askmock
work=$(mktemp -d)
echo "(logs: $work)" >&2
declare -A pid
port_of() { echo $((8120 + $(printf '%d' "'$1") - 96)); }
start_node() {  # name seeds replicate
  local p; p=$(port_of "$1")
  mkdir -p "$work/$1"
  cat > "$work/$1/askd.json" <<JSON
{"server":{"port":$p,"max_connections":20000,"shutdown_grace_ms":0},"log":{"level":"info"},"answer_cache":{"enabled":false},
 "limits":{"max_queued_requests":20000,"providers":{"default":{"max_concurrent":20000,"max_queued":20000}}},
 "streams":{"replicate":$3},
 "cluster":{"node":"$1","listen":"127.0.0.1:$((p + 1100))","seeds":[$2],"insecure":true,
            "heartbeat_ms":200,"timeout_ms":1000,"reconnect_ms":200},
 "data_dir":"$work/$1/data"}
JSON
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY=sk-bench \
    build/apps/askd/askd --config "$work/$1/askd.json" > "$work/$1.log" 2>&1 &
  pid[$1]=$!
  bench_pids+=(${pid[$1]})
  for _ in $(seq 100); do curl -sf "127.0.0.1:$p/health" >/dev/null && return; sleep 0.05; done
}
up_count() { curl -s "127.0.0.1:$1/v1/cluster" | grep -o '"state":"up"' | wc -l; }
start_all() {  # replicate
  start_node a "" "$1"
  start_node b '"127.0.0.1:9221"' "$1"
  start_node c '"127.0.0.1:9222"' "$1"
  for _ in $(seq 100); do [ "$(up_count 8121)" = 2 ] && [ "$(up_count 8123)" = 2 ] && return; sleep 0.05; done
  echo "cluster did not form" >&2; exit 1
}
stop_all() {
  for n in a b c; do kill "${pid[$n]}" 2>/dev/null || true; done
  for n in a b c; do wait "${pid[$n]}" 2>/dev/null || true; done
}
metric() { curl -s "127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
metric_sum() { local t=0 v; for n in a b c; do v=$(metric "$(port_of $n)" "$1" 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
now_ms() { date +%s%3N; }
hz=$(getconf CLK_TCK)

if part 1; then
echo "## 1. what replication costs ($STREAMS streams x $DELTAS deltas, ${GAP_MS} ms apart, watched on their node)"
echo
cat > "$work/body.json" <<JSON
{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},
 "messages":[{"role":"user","content":"q #mock{\"deltas\":$DELTAS,\"first_ms\":1500,\"gap_ms\":$GAP_MS}"}]}
JSON
echo "| streams.replicate | CPU a+b+c per delta (µs) | replica batches / events / bytes per delta | commit added per event: p50 / p99 / mean (µs) |"
echo "|---|---|---|---|"
for replicate in false true; do
  start_all $replicate
  before=$(cpu_ticks ${pid[a]} ${pid[b]} ${pid[c]})
  build/bench/cluster_bench --start 8121 --watch 8121 --streams "$STREAMS" --body "$work/body.json" >/dev/null
  after=$(cpu_ticks ${pid[a]} ${pid[b]} ${pid[c]})
  per_delta=$(( (after - before) * 1000000 / hz / (STREAMS * DELTAS) ))
  curl -s 127.0.0.1:8121/metrics > "$work/metrics"
  python3 - "$replicate" "$per_delta" "$((STREAMS * DELTAS))" "$work/metrics" <<'PY'
import sys
label, per_delta, deltas, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m, buckets = {}, []
for line in open(path):
    if line.startswith("#"): continue
    k, v = line.split()
    if k.startswith("askd_replica_commit_seconds_bucket"):
        le = k.split('le="')[1].rstrip('"}')
        buckets.append((float("inf") if le == "+Inf" else float(le) * 1e6, int(v)))
    else: m[k] = float(v)
def q(p):
    n = buckets[-1][1] if buckets else 0
    if not n: return "-"
    prev_b, prev_c = 0.0, 0
    for b, c in buckets:
        if c >= p * n:
            if b == float("inf"): return f">{prev_b:.0f}"
            return f"{prev_b + (b - prev_b) * (p * n - prev_c) / max(1, c - prev_c):.0f}"
        prev_b, prev_c = b, c
count = m.get("askd_replica_commit_seconds_count", 0)
mean = f"{m['askd_replica_commit_seconds_sum'] / count * 1e6:.0f}" if count else "-"
per = lambda k: f"{m.get(k, 0) / deltas:.2f}"
print(f"| {label} | {per_delta} | {per('askd_replica_batches_total')} / {per('askd_replica_events_total')} / "
      f"{per('askd_replica_bytes_total')} | {q(0.5)} / {q(0.99)} / {mean} |")
PY
  stop_all
done
echo
fi

start_nginx_balancer "$work/nginx" 8120 "8121 8122 8123" "" \
  "proxy_read_timeout 60s; proxy_next_upstream error timeout http_502 non_idempotent;"
# An answer with no phrase in it twice: continuation trimming (what a resumed model
# repeats of the answer's end is dropped) cannot mistake a repeat in the text for one.
python3 - > "$work/mix.jsonl" <<'PY'
import json
text = " ".join(f"w{i:03d}" for i in range(150)) + "."
q = "q #mock" + json.dumps({"text": text, "chunk": 5, "gap_ms": 20})
print(json.dumps({"repo_url": "https://github.com/askd/bench", "provider": "openai",
                  "retrieval": {"mode": "none"}, "messages": [{"role": "user", "content": q}]}))
PY

# askload in the background through nginx; $1: what to do to the nodes meanwhile.
under_load() {
  build/apps/askload/askload --url http://127.0.0.1:8120 --target v1-sse -n "$N" -c "$N" \
    --mix "$work/mix.jsonl" --verify --retry --json --quiet --drain 60 > "$work/load.json" || true &
  local load=$!
  "$@"
  wait $load || true
}
report() {  # label
  python3 - "$1" "$work/load.json" "$(metric_sum askd_takeovers_total)" \
    "$(metric_sum askd_replicas_moved_total)" "$(metric_sum askd_streams_fenced_total)" <<'PY'
import json, sys
label, path, takeovers, moved, fenced = sys.argv[1:6]
d = json.load(open(path))
v = d.get("verify", {})
print(f"| {label} | {d['started'] if 'started' in d else d['ok'] + d.get('failed', 0)} | {d['ok']} | {v.get('exact', 0)} | "
      f"{v.get('lost', 0)} | {v.get('duplicated', 0)} | {v.get('corrupted', 0)} | {d.get('failed', 0)} | "
      f"{takeovers} / {moved} / {fenced} |")
PY
}
echo "## 2-3. nodes killed under load ($N v1 streams of 150 deltas 20 ms apart, no phrase twice, through nginx, resuming by Last-Event-ID)"
echo
echo "| scenario | streams | ok | exact | lost | duplicated | corrupted | failed | takeovers / replicas moved / fenced (all nodes) |"
echo "|---|---|---|---|---|---|---|---|---|"
keep_logs() { for n in a b c; do cp "$work/$n.log" "$work/$1-$n.log"; done; }
kill_a() { sleep "$(bc <<<"scale=3; $KILL_AT_MS / 1000")"; kill -9 "${pid[a]}"; }
if part 2; then
start_all true
under_load kill_a
report "kill -9 of a at ${KILL_AT_MS} ms"
stop_all
keep_logs kill
fi
kill_b_then_a() {
  sleep "$(bc <<<"scale=3; $KILL_AT_MS / 1000")"
  kill -9 "${pid[b]}"
  until curl -s 127.0.0.1:8123/v1/cluster | grep -q '"base":2'; do sleep 0.02; done
  kill -9 "${pid[a]}"
}
if part 3; then
start_all true
under_load kill_b_then_a
report "kill -9 of b at ${KILL_AT_MS} ms, of a once c counts on two"
stop_all
keep_logs replica-first
fi
echo

part 4 || exit 0
echo "## 4. failover time (one stream on a, read to event 50, a killed, resumed through b; $RUNS runs)"
echo
echo "| run | kill -> first resumed event (ms) | kill -> takeover logged (ms) |"
echo "|---|---|---|"
start_all true
for run in $(seq "$RUNS"); do
  id=$(curl -s -XPOST 127.0.0.1:8121/v1/streams -H 'content-type: application/json' \
    -d '{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"q #mock{\"deltas\":400,\"gap_ms\":10}"}]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_id"])')
  python3 bench/failover_time.py "$id" "${pid[a]}" > "$work/ft" || echo "failover_time.py: rc=$?" >&2
  read -r first killed_at < "$work/ft"
  sleep 0.5  # the takeover's log line
  taken=$(grep -h 'msg="stream taken over"' "$work/b.log" "$work/c.log" | grep "$id" | grep -o 'ts=[^ ]*' | head -1 || true)
  taken_ms=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime('${taken#ts=}','%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc); print(int(t.timestamp()*1000) - $killed_at)" 2>/dev/null || echo "-")
  echo "| $run | $first | $taken_ms |"
  # a comes back for the next run
  start_node a '"127.0.0.1:9222"' true
  for _ in $(seq 100); do [ "$(up_count 8122)" = 2 ] && break; sleep 0.05; done
done
stop_all
