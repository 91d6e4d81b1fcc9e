# bench/lib.sh — what the bench scripts share: sourced after they set MOCK_PORT and
# ASKD_PORT. Processes started here are stopped when the script exits.
ulimit -n "$(ulimit -Hn)"

bench_pids=()
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap bench_cleanup EXIT

# Nanoseconds on CPU per thread name of the processes given (from each thread's
# schedstat; stat's 10 ms ticks are too coarse for a per-stream figure): "name ns" lines,
# sorted by name (for join). Printed with %.0f: mawk prints a large number as %.6g.
cpu_by_name() {
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      printf '%s %s\n' "$(tr ' ' '_' < "$t/comm")" "$(awk '{print $1}' "$t/schedstat")"
    done
  done | awk '{a[$1] += $2} END {for (k in a) printf "%s %.0f\n", k, a[k]}' | sort
}

# User and system CPU of the processes given, all threads, in clock ticks (10 ms, from
# each thread's stat; coarse, so for thousands of streams): "user system".
user_sys_ticks() {
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do sed 's/^.*) //' "$t/stat"; done
  done | awk '{u += $12; s += $13} END {printf "%.0f %.0f\n", u, s}'
}

# askmock on MOCK_PORT, requiring the key askd is given (MOCK_KEY="" for none, as the
# peers send no key). Its pid is in $mock_pid.
start_askmock() {
  local key=${MOCK_KEY-sk-bench}
  ${MOCK_PIN:-} build/apps/askmock/askmock --port "$MOCK_PORT" ${key:+--require-key "$key"} > /dev/null &
  mock_pid=$!
  bench_pids+=($mock_pid)
}

# askd on ASKD_PORT with config dir $1, its openai provider pointed at askmock, logging to
# $2; returns when /health answers. Its pid is in $askd_pid. ASKD_BIN: another build's
# askd, to compare (one from before answer_cache existed needs NO_CACHE_KEY=1 below).
start_askd() {
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY=sk-bench \
    ${ASKD_PIN:-} ${ASKD_BIN:-build/apps/askd/askd} --config "$1" > "$2" 2>&1 &
  askd_pid=$!
  bench_pids+=($askd_pid)
  for _ in $(seq 100); do curl -sf "127.0.0.1:$ASKD_PORT/health" >/dev/null && return; sleep 0.05; done
}

# askd.json with limits that do not cap the measurement (server.port = ASKD_PORT).
# The answer cache is off: these benchmarks measure askd relaying every stream's own
# upstream call (their streams all ask the same question); bench/answer_cache.sh measures it.
unlimited_askd_json() {
  cat <<JSON | if [ -n "${NO_CACHE_KEY:-}" ]; then sed 's/"answer_cache":{"enabled":false},//'; else cat; fi
{"server":{"port":$ASKD_PORT,"max_connections":20000},"log":{"level":"warn"},"answer_cache":{"enabled":false},
 "limits":{"max_queued_requests":20000,"providers":{"openai":{"max_concurrent":20000,"max_queued":20000}}}}
JSON
}

# nginx in $1 (a directory it may fill) listening on 127.0.0.1:$2, round robin over the
# loopback ports in $3 ("8111 8112 8113"); $4: more of the upstream block, $5: more of the
# location. Its pid is in $nginx_pid.
start_nginx_balancer() {
  local dir=$1 servers="" p
  for p in $3; do servers+="server 127.0.0.1:$p; "; done
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  upstream askd { $servers$4 }
  server {
    listen 127.0.0.1:$2;
    location / { proxy_pass http://askd; proxy_http_version 1.1; proxy_set_header Host \$host;
                 proxy_buffering off; $5 }
  }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  bench_pids+=($nginx_pid)
  sleep 0.3
}
