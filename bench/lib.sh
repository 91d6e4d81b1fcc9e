# bench/lib.sh — what the bench scripts share: sourced after they set MOCK_PORT and
# ASKD_PORT. Processes started here are stopped when the script exits.
ulimit -n "$(ulimit -Hn)"

bench_pids=()
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap bench_cleanup EXIT

# askmock on MOCK_PORT, requiring the key askd is given (MOCK_KEY="" for none, as the
# peers send no key). Its pid is in $mock_pid.
start_askmock() {
  local key=${MOCK_KEY-sk-bench}
  ${MOCK_PIN:-} build/apps/askmock/askmock --port "$MOCK_PORT" ${key:+--require-key "$key"} > /dev/null &
  mock_pid=$!
  bench_pids+=($mock_pid)
}

# askd on ASKD_PORT with config dir $1, its openai provider pointed at askmock, logging to
# $2; returns when /health answers. Its pid is in $askd_pid.
start_askd() {
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY=sk-bench \
    ${ASKD_PIN:-} build/apps/askd/askd --config "$1" > "$2" 2>&1 &
  askd_pid=$!
  bench_pids+=($askd_pid)
  for _ in $(seq 100); do curl -sf "127.0.0.1:$ASKD_PORT/health" >/dev/null && return; sleep 0.05; done
}

# askd.json with limits that do not cap the measurement (server.port = ASKD_PORT).
unlimited_askd_json() {
  cat <<JSON
{"server":{"port":$ASKD_PORT,"max_connections":20000},"log":{"level":"warn"},
 "limits":{"max_queued_requests":20000,"providers":{"openai":{"max_concurrent":20000,"max_queued":20000}}}}
JSON
}
