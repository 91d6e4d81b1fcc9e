#!/usr/bin/env bash
# The cluster (issue 18) on this machine: three askd nodes (plain TCP on loopback,
# heartbeat 200 ms, timeout 1 s) and askmock.
#  1. A stream watched through another node vs on its own: STREAMS background streams on
#     node a (DELTAS deltas GAP_MS apart, first token after FIRST_MS so every watcher is
#     attached before it), watched on a, on b, then on both at once; the nodes' CPU per
#     delta (utime + stime from /proc) and what b adds per event over a.
#  2. Retrieval on the repository's owner vs through another node: REQS requests each
#     (local provider, this repository), curl's total time and askd's own retrieval time.
#  3. Failure: kill -9 the owner (its connections reset), then SIGSTOP a node (a silent
#     one): the time until the others show it down, and until a request about its
#     repository is answered again.
#  4. Throughput: askload closed loop (C clients, compat, DURATION_S) on one node, and on
#     three behind nginx (round robin).
#   bench/cluster.sh     (STREAMS=100 DELTAS=100 GAP_MS=20 FIRST_MS=1500 REQS=200 C=100)
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-100}
DELTAS=${DELTAS:-100}
GAP_MS=${GAP_MS:-20}
FIRST_MS=${FIRST_MS:-1500}
REQS=${REQS:-200}
C=${C:-100}
DURATION_S=${DURATION_S:-10}
MOCK_PORT=${MOCK_PORT:-9110}
ASKD_PORT=8111  # node a's HTTP port (b 8112, c 8113); cluster ports 9211..9213

./dev build askd askmock askload cluster_bench >/dev/null
source bench/lib.sh
start_askmock
work=$(mktemp -d)
declare -A pid
start_node() {  # name http_port cluster_port seeds
  mkdir -p "$work/$1"
  cat > "$work/$1/askd.json" <<JSON
{"server":{"port":$2,"max_connections":20000},"log":{"level":"info"},"answer_cache":{"enabled":false},
 "limits":{"max_queued_requests":20000,"providers":{"default":{"max_concurrent":20000,"max_queued":20000}}},
 "cluster":{"node":"$1","listen":"127.0.0.1:$3","seeds":[$4],"insecure":true,
            "heartbeat_ms":200,"timeout_ms":1000,"reconnect_ms":200},
 "data_dir":"$work/$1/data"}
JSON
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY=sk-bench \
    build/apps/askd/askd --config "$work/$1/askd.json" --allow-local "$PWD" > "$work/$1.log" 2>&1 &
  pid[$1]=$!
  bench_pids+=(${pid[$1]})
  for _ in $(seq 100); do curl -sf "127.0.0.1:$2/health" >/dev/null && return; sleep 0.05; done
}
up_count() { curl -s "127.0.0.1:$1/v1/cluster" | grep -o '"state":"up"' | wc -l; }
start_all() {
  start_node a 8111 9211 ""
  start_node b 8112 9212 '"127.0.0.1:9211"'
  start_node c 8113 9213 '"127.0.0.1:9212"'
  for _ in $(seq 100); do [ "$(up_count 8111)" = 2 ] && [ "$(up_count 8113)" = 2 ] && return; sleep 0.05; done
  echo "cluster did not form" >&2; exit 1
}
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
now_ms() { date +%s%3N; }

start_all
hz=$(getconf CLK_TCK)
cat > "$work/body.json" <<JSON
{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},
 "messages":[{"role":"user","content":"q #mock{\"deltas\":$DELTAS,\"first_ms\":$FIRST_MS,\"gap_ms\":$GAP_MS}"}]}
JSON

echo "## 1. watched on its own node vs through another ($STREAMS streams x $DELTAS deltas, ${GAP_MS} ms apart)"
echo
echo "| watched on | events received | CPU a+b+c (ms) | CPU per delta (µs) | added per event through b: p50 / p99 / mean (µs) |"
echo "|---|---|---|---|---|"
for watch in 8111 8112 8111,8112; do
  before=$(cpu_ticks ${pid[a]} ${pid[b]} ${pid[c]})
  out=$(build/bench/cluster_bench --start 8111 --watch $watch --streams "$STREAMS" --body "$work/body.json")
  after=$(cpu_ticks ${pid[a]} ${pid[b]} ${pid[c]})
  cpu_ms=$(( (after - before) * 1000 / hz ))
  per_delta=$(( cpu_ms * 1000 / (STREAMS * DELTAS) ))
  events=$(grep -o 'port[0-9]*=[0-9]*' <<<"$out" | tr '\n' ' ')
  added=$(grep -o 'added_us_p50=[0-9]* added_us_p99=[0-9]* added_us_mean=[0-9]*' <<<"$out" | sed 's/added_us_//g' || true)
  case $watch in 8111) label="a (its own node)";; 8112) label="b (another node)";; *) label="a and b at once";; esac
  echo "| $label | $events | $cpu_ms | $per_delta | ${added:--} |"
done
echo

echo "## 2. retrieval on the repository's owner vs through another node ($REQS requests each)"
echo
body='{"repo_url":"'$PWD'","type":"local","messages":[{"role":"user","content":"how are retries done?"}]}'
curl -s -o /dev/null -XPOST 127.0.0.1:8111/api/chat/stream -H 'content-type: application/json' -d "$body"
owner=""
for n in a b c; do
  p=$((8110 + $(printf '%d' "'$n") - 96))
  [ "$(curl -s 127.0.0.1:$p/metrics | awk '/^askd_index_builds_total/ {print $2}')" = 1 ] && owner=$n
done
other=a; [ "$owner" = a ] && other=b
port_of() { echo $((8110 + $(printf '%d' "'$1") - 96)); }
echo "| asked | curl total p50 / p99 (ms) | askd's retrieval p50 / p99 (ms) |"
echo "|---|---|---|"
for n in $owner $other; do
  p=$(port_of $n)
  : > "$work/times"
  for _ in $(seq "$REQS"); do
    curl -s -o /dev/null -w '%{time_total}\n' -XPOST 127.0.0.1:$p/api/chat/stream \
      -H 'content-type: application/json' -d "$body" >> "$work/times"
  done
  curl_p=$(sort -n "$work/times" | awk '{v[NR]=$1} END {printf "%.2f / %.2f", v[int(NR*0.5)]*1000, v[int(NR*0.99)]*1000}')
  askd_p=$(grep -o 'retrieval=bm25:[0-9]*ms' "$work/$n.log" | tail -n "$REQS" | grep -o '[0-9]*' |
           sort -n | awk '{v[NR]=$1} END {printf "%d / %d", v[int(NR*0.5)], v[int(NR*0.99)]}')
  label=$([ $n = $owner ] && echo "$n (the owner)" || echo "$n (another node)")
  echo "| $label | $curl_p | $askd_p |"
done
echo

echo "## 3. losing the owner ($owner)"
echo
survivor=$other
sp=$(port_of $survivor)
t0=$(now_ms)
kill -9 ${pid[$owner]}
until curl -s 127.0.0.1:$sp/v1/cluster | grep -q "\"name\":\"$owner\",[^}]*\"state\":\"down\""; do sleep 0.005; done
t1=$(now_ms)
until curl -sf -o /dev/null -XPOST 127.0.0.1:$sp/api/chat/stream -H 'content-type: application/json' -d "$body"; do sleep 0.005; done
t2=$(now_ms)
echo "- kill -9: noticed by $survivor after $((t1 - t0)) ms; first answer with retrieval (rebuilt at the new owner) after $((t2 - t0)) ms"
# A silent node: stopped, its sockets stay open, only the heartbeat timeout tells.
victim=c; [ "$owner" = c ] && victim=b; [ "$survivor" = "$victim" ] && victim=a
[ "$victim" = "$owner" ] && victim=$(for n in a b c; do [ $n != $owner ] && [ $n != $survivor ] && echo $n; done)
t0=$(now_ms)
kill -STOP ${pid[$victim]}
until curl -s 127.0.0.1:$sp/v1/cluster | grep -q "\"name\":\"$victim\",[^}]*\"state\":\"down\""; do sleep 0.005; done
t1=$(now_ms)
kill -CONT ${pid[$victim]}
echo "- SIGSTOP of $victim (silent): noticed by $survivor after $((t1 - t0)) ms (heartbeat 200 ms + timeout 1000 ms)"
t0=$(now_ms)
until curl -s 127.0.0.1:$sp/v1/cluster | grep -q "\"name\":\"$victim\",[^}]*\"state\":\"up\""; do sleep 0.005; done
echo "- SIGCONT: $victim back up after $(( $(now_ms) - t0 )) ms"
echo
for n in a b c; do kill ${pid[$n]} 2>/dev/null || true; done
wait ${pid[a]} ${pid[b]} ${pid[c]} 2>/dev/null || true

echo "## 4. throughput: one node vs three behind nginx (askload -c $C, ${DURATION_S} s, compat)"
echo
cat > "$work/mix.jsonl" <<JSON
{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"q #mock{\"deltas\":50,\"gap_ms\":20}"}]}
JSON
start_all
start_nginx_balancer "$work/nginx" 8110 "8111 8112 8113" "keepalive 256;" \
  'proxy_set_header Connection "";'
echo "| target | streams/s | ok | exact | TTFT p50 / p99 (ms) | CPU per stream, askd (+ nginx) (µs) |"
echo "|---|---|---|---|---|---|"
for target in "one node:8111" "three behind nginx:8110"; do
  label=${target%%:*}; port=${target##*:}
  nodes="${pid[a]}"; [ "$port" = 8110 ] && nodes="${pid[a]} ${pid[b]} ${pid[c]}"
  before=$(cpu_ticks $nodes); nb=$(cpu_ticks $(pgrep -P $nginx_pid) $nginx_pid)
  j=$(build/apps/askload/askload --url http://127.0.0.1:$port -c "$C" --duration "$DURATION_S" \
      --mix "$work/mix.jsonl" --verify --json --quiet || true)
  cpu=$(( ($(cpu_ticks $nodes) - before) * 1000000 / hz ))
  ncpu=0; [ "$port" = 8110 ] && ncpu=$(( ($(cpu_ticks $(pgrep -P $nginx_pid) $nginx_pid) - nb) * 1000000 / hz ))
  python3 - "$label" "$cpu" "$ncpu" <<PY
import json, sys
d = json.loads('''$j''')
ft = d["ms"]["first_token"]
ok = max(1, d["ok"])
extra = f" (+ {int(sys.argv[3]) // ok})" if sys.argv[3] != "0" else ""
print(f"| {sys.argv[1]} | {d['ok'] / d['elapsed_s']:.0f} | {d['ok']} | {d['verify']['exact']} | {ft['p50']:.1f} / {ft['p99']:.1f} | {int(sys.argv[2]) // ok}{extra} |")
PY
done
