#!/usr/bin/env bash
# The relay benchmark (../shared/bench/README.md): askd relaying askmock (openai provider,
# retrieval off) side by side with the FastAPI relay (deepwiki-open's stack), the Node relay
# (the seed's proxy) and the nginx byte relay (the limit), plus askmock direct (the
# baseline added TTFT and gaps are measured against). Each stream: 64 deltas, 20 ms apart.
# For each concurrency C, RUNS interleaved rounds; each round runs every target once with
# askload: C clients, one stream each, started over RAMP_S seconds. A target stops climbing
# once it failed every run of a level. Memory per idle WebSocket is measured on askd last.
# Writes the table (markdown) to stdout and the raw JSON to $OUT.
#   bench/relay.sh [C...]     (default 25 50 100 250 500 1000 2000 5000; RUNS=3 RAMP_S=1 PIN=1)
# PIN=1 gives the relay under test CPU 0 and askmock + askload CPU 1 (taskset).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] && LEVELS=("$@") || LEVELS=(25 50 100 250 500 1000 2000 5000)
RUNS=${RUNS:-3}
RAMP_S=${RAMP_S:-1}
PIN=${PIN:-1}
IDLE_WS=${IDLE_WS:-5000}
OPEN_STREAMS=${OPEN_STREAMS:-1000}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}
OUT=${OUT:-$(mktemp -d /tmp/relay.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=9100 NODE_PORT=9201 FASTAPI_PORT=9202 NGINX_PORT=9203 ASKD_PORT=9204

sudo_cmd() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v node >/dev/null || need+=(nodejs)
/usr/bin/python3 -c 'import fastapi, uvicorn, httpx' 2>/dev/null || need+=(python3-fastapi python3-uvicorn python3-httpx)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
./dev build askd askmock askload >/dev/null

if [ "$PIN" = 1 ]; then TARGET_PIN="taskset -c 0" LOAD_PIN="taskset -c 1"; else TARGET_PIN="" LOAD_PIN=""; fi
MOCK_KEY="" MOCK_PIN=$LOAD_PIN ASKD_PIN=$TARGET_PIN
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"
start_askd "$cfg" "$OUT/askd.log"
UPSTREAM=http://127.0.0.1:$MOCK_PORT PORT=$NODE_PORT $TARGET_PIN node "$PEERS/node_relay.mjs" &
node_pid=$!; bench_pids+=($node_pid)
UPSTREAM=http://127.0.0.1:$MOCK_PORT $TARGET_PIN /usr/bin/python3 -m uvicorn fastapi_relay:app \
  --app-dir "$PEERS" --host 127.0.0.1 --port $FASTAPI_PORT --log-level warning --backlog 8192 &
fastapi_pid=$!; bench_pids+=($fastapi_pid)
ngx=$(mktemp -d); mkdir -p "$ngx/logs"
$TARGET_PIN /usr/sbin/nginx -p "$ngx" -c "$PEERS/nginx_relay.conf" -g 'daemon off;' &
nginx_pid=$!; bench_pids+=($nginx_pid)
for p in $NODE_PORT $FASTAPI_PORT $NGINX_PORT; do
  for _ in $(seq 200); do curl -s -o /dev/null "127.0.0.1:$p/health" && break; sleep 0.05; done
done

# The pids of a target's processes (nginx: its workers too).
pids_of() { if [ "$1" = nginx ]; then echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; else echo "$2"; fi; }
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
rss_kb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }

# Memory per idle WebSocket: a fresh askd's RSS with IDLE_WS sockets open and idle (fresh,
# so memory freed by earlier work cannot hide the sockets' cost).
for kind in compat-ws v1-ws; do
  kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
  start_askd "$cfg" "$OUT/askd.log"
  rss0=$(rss_kb "$askd_pid")
  $LOAD_PIN build/apps/askload/askload --url "http://127.0.0.1:$ASKD_PORT" --target $kind \
    --idle "$IDLE_WS" --duration 4 --json --quiet --max-connections 20000 > "$OUT/idle-$kind.json" &
  loader=$!
  sleep 3
  rss1=$(rss_kb "$askd_pid")
  wait $loader || true
  printf '{"kind":"%s","sockets":%s,"rss0_kb":%s,"rss1_kb":%s}\n' "$kind" "$IDLE_WS" "$rss0" "$rss1" > "$OUT/idle-$kind.meta"
  sleep 1
done
kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true
start_askd "$cfg" "$OUT/askd.log"  # fresh again for the open-stream memory below


# Request bodies (JSON lines for askload --mix) for a #mock directive: compat for askd
# (openai provider, retrieval off), FastAPI and Node; OpenAI's for askmock and nginx.
bodies() {  # DIRECTIVE NAME
  /usr/bin/python3 - "How are streams relayed? #mock$1" "$OUT/$2" <<'PY'
import json, sys
q, out = sys.argv[1], sys.argv[2]
msgs = [{"role": "user", "content": q}]
open(out + ".compat.jsonl", "w").write(json.dumps({"repo_url": "https://github.com/askd/bench",
    "provider": "openai", "retrieval": {"mode": "none"}, "messages": msgs}) + "\n")
open(out + ".openai.jsonl", "w").write(json.dumps({"model": "mock", "stream": True, "messages": msgs}) + "\n")
PY
}
bodies '{"deltas":64,"first_ms":20,"gap_ms":20}' fast
bodies '{"deltas":30,"first_ms":20,"gap_ms":500}' slow

# measure NAME PORT FACE MIX PID C RUN
measure() {
  local name=$1 port=$2 face=$3 mix=$4 c=$6 run=$7 pids path=
  # nginx_relay.conf maps "/" (only) onto the mock's /v1/chat/completions.
  [ "$name" = nginx ] && path="--path /"
  pids=$(pids_of "$name" "$5")
  local cpu0 rss0 peak_file=$OUT/peak.$$
  cpu0=$(cpu_ticks $pids); rss0=$(rss_kb $pids)
  echo "$rss0" > "$peak_file"
  ( while :; do rss_kb $pids >> "$peak_file" 2>/dev/null || exit; sleep 0.05; done ) &
  local sampler=$!
  $LOAD_PIN build/apps/askload/askload --url "http://127.0.0.1:$port" --target "$face" $path \
    -c "$c" -n "$c" --ramp "$RAMP_S" --mix "$mix" --verify --json --quiet --timeout 30 \
    --max-connections 20000 > "$OUT/$name-$c-$run.json" || true
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  local cpu1 peak
  cpu1=$(cpu_ticks $pids); peak=$(sort -n "$peak_file" | tail -1)
  printf '{"target":"%s","c":%s,"run":%s,"cpu_s":%s,"rss0_kb":%s,"rss_peak_kb":%s}\n' \
    "$name" "$c" "$run" "$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN {print (b - a) / hz}')" "$rss0" "$peak" \
    > "$OUT/$name-$c-$run.meta"
}

# A level is sustained when every stream completed whole and none was late by more than
# 100 ms: the last delta is due 1,280 ms after the request (20 + 63 x 20).
sustained() {
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); c = int(sys.argv[2])
ok = d["ok"] == c and d["verify"].get("exact", 0) == c and d["ms"]["total"]["max"] <= 1380 and d["ms"]["max_gap_stream"]["max"] <= 120
print(1 if ok else 0)' "$1" "$2" 2>/dev/null || echo 0
}

TARGETS=(askmock askd fastapi node nginx)
declare -A port=([askmock]=$MOCK_PORT [askd]=$ASKD_PORT [fastapi]=$FASTAPI_PORT [node]=$NODE_PORT [nginx]=$NGINX_PORT)
declare -A face=([askmock]=openai [askd]=compat-http [fastapi]=compat-http [node]=compat-http [nginx]=openai)
declare -A body=([askmock]=openai [askd]=compat [fastapi]=compat [node]=compat [nginx]=openai)
declare -A pid=([askmock]=$mock_pid [askd]=$askd_pid [fastapi]=$fastapi_pid [node]=$node_pid [nginx]=$nginx_pid)
declare -A active=([askmock]=1 [askd]=1 [fastapi]=1 [node]=1 [nginx]=1)

# RSS per open stream, first, while every process is fresh (memory freed by earlier
# runs would hide the cost): OPEN_STREAMS slow streams (30 deltas, 500 ms apart) held
# open through each relay in turn, RSS sampled once all are open, minus RSS before.
for t in askd fastapi node nginx; do
  pids=$(pids_of "$t" "${pid[$t]}")
  rss0=$(rss_kb $pids)
  path=; [ "$t" = nginx ] && path="--path /"
  $LOAD_PIN build/apps/askload/askload --url "http://127.0.0.1:${port[$t]}" --target "${face[$t]}" $path \
    -c "$OPEN_STREAMS" -n "$OPEN_STREAMS" --ramp 2 --mix "$OUT/slow.${body[$t]}.jsonl" --json --quiet \
    --timeout 60 --max-connections 20000 > "$OUT/open-$t.json" &
  loader=$!
  sleep 6
  rss1=$(rss_kb $pids)
  wait $loader || true
  printf '{"target":"%s","streams":%s,"rss0_kb":%s,"rss1_kb":%s}\n' "$t" "$OPEN_STREAMS" "$rss0" "$rss1" > "$OUT/open-$t.meta"
  echo "relay: $OPEN_STREAMS open streams through $t: $(( (rss1 - rss0) / OPEN_STREAMS )) KB each" >&2
done

for c in "${LEVELS[@]}"; do
  declare -A passed=()
  for run in $(seq "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      [ "${active[$t]}" = 1 ] || continue
      echo "relay: C=$c run $run $t" >&2
      measure "$t" "${port[$t]}" "${face[$t]}" "$OUT/fast.${body[$t]}.jsonl" "${pid[$t]}" "$c" "$run"
      passed[$t]=$(( ${passed[$t]:-0} + $(sustained "$OUT/$t-$c-$run.json" "$c") ))
      sleep 1  # let closed connections leave TIME_WAIT's way
    done
  done
  for t in "${TARGETS[@]}"; do
    [ "${active[$t]}" = 1 ] && [ "${passed[$t]:-0}" = 0 ] && active[$t]=0 && echo "relay: $t stops at C=$c" >&2
  done
  unset passed
done

/usr/bin/python3 bench/relay_table.py "$OUT"
echo "raw results: $OUT" >&2
