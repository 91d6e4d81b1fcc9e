#!/usr/bin/env bash
# Index build throughput and query latency: askd's lexical index against SQLite FTS5
# on the same chunks of a large tree (default /usr/include/boost), three runs.
#   bench/index.sh [DIR] [QUERIES]
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg-query -W -f='${Status}' libsqlite3-dev 2>/dev/null | grep -q "ok installed" || {
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq libsqlite3-dev >/dev/null; else sudo apt-get install -y -qq libsqlite3-dev >/dev/null; fi; }
./dev build >/dev/null
cmake -S . -B "${ASKD_BUILD_DIR:-build}" >/dev/null   # picks up SQLite when it was just installed
ninja -C "${ASKD_BUILD_DIR:-build}" index_bench >/dev/null
for run in 1 2 3; do
  echo "run $run"
  "${ASKD_BUILD_DIR:-build}/bench/index_bench" "${1:-/usr/include/boost}" "${2:-300}"
done
