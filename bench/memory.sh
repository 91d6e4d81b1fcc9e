#!/usr/bin/env bash
# Memory only, in about a minute: relay.sh's two memory measurements of askd relaying
# askmock, without its throughput levels.
#   - RSS per open stream: OPEN_STREAMS slow compat HTTP streams (30 deltas, 500 ms apart)
#     held open through a fresh askd, RSS sampled once all are open, minus RSS before.
#   - RSS per idle WebSocket: IDLE_WS idle compat-ws, then v1-ws sockets, each on a fresh
#     askd (memory freed by earlier work would hide the sockets' cost), RSS sampled once
#     askd counts them all open.
#   bench/memory.sh              (OPEN_STREAMS=1000 IDLE_WS=5000 REPEAT=1 WITH_NGINX=0)
# WITH_NGINX=1 measures the open streams through nginx too (the reference, relay.sh's peer).
# ASKD_WRAP is put before askd's command line (e.g. "env MALLOC_ARENA_MAX=2"; it must
# exec askd, so the pid stays askd's). REPEAT=n runs each measurement n times.
# Ports default away from relay.sh's, so both may run at once on one machine.
# Prints one line per measurement; the raw askload JSON is in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OPEN_STREAMS=${OPEN_STREAMS:-1000}
IDLE_WS=${IDLE_WS:-5000}
REPEAT=${REPEAT:-1}
WITH_NGINX=${WITH_NGINX:-0}
PEERS=${PEERS:-$(cd .. && pwd)/shared/bench/peers}
OUT=${OUT:-$(mktemp -d /tmp/memory.XXXXXX)}
mkdir -p "$OUT"
MOCK_PORT=${MOCK_PORT:-9150} ASKD_PORT=${ASKD_PORT:-9254} NGINX_PORT=${NGINX_PORT:-9253}
[ -n "${NO_BUILD:-}" ] || ./dev build askd askmock askload >/dev/null

MOCK_KEY=""  # nginx sends no key
ASKD_PIN=${ASKD_WRAP:-}
source bench/lib.sh
start_askmock
cfg=$(mktemp -d)
unlimited_askd_json > "$cfg/askd.json"

rss_kb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }
fresh_askd() {
  if [ -n "${askd_pid:-}" ]; then kill "$askd_pid"; wait "$askd_pid" 2>/dev/null || true; fi
  start_askd "$cfg" "$OUT/askd.log"
}
# per N BEFORE_KB AFTER_KB: bytes per item, one decimal of KB
per() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%.1f", (b - a) / n}'; }

/usr/bin/python3 - "How are streams relayed? #mock{\"deltas\":30,\"first_ms\":20,\"gap_ms\":500}" "$OUT" <<'PY'
import json, sys
q, out = sys.argv[1], sys.argv[2]
msgs = [{"role": "user", "content": q}]
open(out + "/slow.compat.jsonl", "w").write(json.dumps({"repo_url": "https://github.com/askd/bench",
    "provider": "openai", "retrieval": {"mode": "none"}, "messages": msgs}) + "\n")
open(out + "/slow.openai.jsonl", "w").write(json.dumps({"model": "mock", "stream": True, "messages": msgs}) + "\n")
PY

# open_streams NAME PORT FACE BODY PIDS...
open_streams() {
  local name=$1 port=$2 face=$3 body=$4 path=; shift 4
  [ "$name" = nginx ] && path="--path /"
  local rss0 rss1
  rss0=$(rss_kb "$@")
  build/apps/askload/askload --url "http://127.0.0.1:$port" --target "$face" $path \
    -c "$OPEN_STREAMS" -n "$OPEN_STREAMS" --ramp 2 --mix "$OUT/slow.$body.jsonl" --json --quiet \
    --timeout 60 --max-connections 20000 > "$OUT/open-$name.json" &
  local loader=$!
  sleep 6
  rss1=$(rss_kb "$@")
  wait $loader || true
  local ok; ok=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$OUT/open-$name.json" 2>/dev/null || echo "?")
  echo "memory: $OPEN_STREAMS open streams through $name: $(per "$OPEN_STREAMS" "$rss0" "$rss1") KB each (RSS $rss0 -> $rss1 KB, $ok ok)"
}

for _ in $(seq "$REPEAT"); do
  fresh_askd
  open_streams askd "$ASKD_PORT" compat-http compat "$askd_pid"
  for kind in compat-ws v1-ws; do
    fresh_askd
    rss0=$(rss_kb "$askd_pid")
    build/apps/askload/askload --url "http://127.0.0.1:$ASKD_PORT" --target $kind \
      --idle "$IDLE_WS" --duration 10 --json --quiet --max-connections 20000 > "$OUT/idle-$kind.json" &
    loader=$!
    # Sampled once every socket is open (askd's askd_connections gauge, which counts the
    # metrics call too), at most 8 s in.
    for _ in $(seq 80); do
      open=$(curl -s "127.0.0.1:$ASKD_PORT/metrics" | awk '/^askd_connections / {print $2}')
      [ "${open:-0}" -gt "$IDLE_WS" ] && break
      sleep 0.1
    done
    sleep 0.5  # the handshakes' last transient buffers freed
    rss1=$(rss_kb "$askd_pid")
    wait $loader || true
    echo "memory: $IDLE_WS idle $kind sockets: $(per "$IDLE_WS" "$rss0" "$rss1") KB each (RSS $rss0 -> $rss1 KB)"
  done
done

if [ "$WITH_NGINX" = 1 ]; then
  ngx=$(mktemp -d); mkdir -p "$ngx/logs"
  sed -e "s/127.0.0.1:9100/127.0.0.1:$MOCK_PORT/" -e "s/127.0.0.1:9203/127.0.0.1:$NGINX_PORT/" \
    "$PEERS/nginx_relay.conf" > "$ngx/nginx.conf"
  /usr/sbin/nginx -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!; bench_pids+=($nginx_pid)
  sleep 0.5
  # Once: a second run would reuse what the first freed (nginx is not restarted).
  open_streams nginx "$NGINX_PORT" openai openai "$nginx_pid" $(pgrep -P "$nginx_pid" | tr '\n' ' ')
fi
echo "raw results: $OUT" >&2
