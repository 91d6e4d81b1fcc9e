#!/usr/bin/env bash
# Runs one fuzzer (or all) on its seed corpus for a bounded time; a crash, a timeout on
# one input, a leak or running out of memory fails it (libFuzzer's exit status).
#   tests/fuzz/run.sh NAME|all SECONDS [BIN_DIR] [TIMEOUT_PER_INPUT_S]
# BIN_DIR defaults to build/sanitize/tests/fuzz (what ./dev test builds). New inputs are
# kept in BIN_DIR/work/NAME, never in the tree: copy one to tests/fuzz/corpus/NAME by hand
# when it is worth keeping. A crash leaves its input in BIN_DIR/work/NAME-crash-*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: run.sh NAME|all SECONDS [BIN_DIR] [TIMEOUT_S]}
seconds=${2:-20}
bin_dir=${3:-$here/../../build/sanitize/tests/fuzz}
timeout_s=${4:-5}
if [ "$name" = all ]; then
  for f in "$here"/corpus/*/; do "$0" "$(basename "$f")" "$seconds" "$bin_dir" "$timeout_s"; done
  exit 0
fi
work="$bin_dir/work/$name"
mkdir -p "$work"
exec "$bin_dir/fuzz_$name" -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$bin_dir/work/$name-" \
  "$work" "$here/corpus/$name"
