#!/usr/bin/env bash
# tests/chaos/partition.sh BUILD_DIR — a real network partition (docs/ARCHITECTURE.md,
# Failover). Three askd nodes, each in a network namespace this script creates (a veth
# pair to a bridge of its own; private 10.231.X.0/24 addresses that exist only on this
# machine), askmock in the root namespace. Node a is cut off from b and c with iptables
# inside its namespace; the client (this script, in the root namespace) still reaches it,
# as a balancer on a's side of the partition would.
#
# Checks: b and c see a down within heartbeat + timeout; a's stream is taken over by its
# replica and read to its end through b; a releases nothing more (a client reading on a
# sees only events the replica's answer has, then the connection ends: the stream is
# fenced); after the partition heals a rejoins and serves new streams. Prints the times.
# Everything it creates (namespaces, veths, bridge, rules, processes) is removed on exit.
# Needs root, ip and iptables: exits 77 (skipped) without them.
set -euo pipefail
build=$(realpath "${1:-build}")
for tool in ip iptables curl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }

tag=$(( $$ % 200 + 20 ))  # one subnet and one set of names per run: runs may overlap
net=10.231.$tag
br=askbr$tag
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in a b c; do ip netns del "ask$n$tag" 2>/dev/null || true; done
  ip link del "$br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

ip link add "$br" type bridge
ip addr add "$net.254/24" dev "$br"
ip link set "$br" up
declare -A addr
i=0
for n in a b c; do
  i=$((i + 1))
  ns=ask$n$tag
  addr[$n]=$net.$i
  ip netns add "$ns"
  ip link add "v$n$tag" type veth peer name "p$n$tag"
  ip link set "p$n$tag" netns "$ns"
  ip link set "v$n$tag" master "$br" up
  ip netns exec "$ns" ip addr add "${addr[$n]}/24" dev "p$n$tag"
  ip netns exec "$ns" ip link set "p$n$tag" up
  ip netns exec "$ns" ip link set lo up
done

"$build/apps/askmock/askmock" --host "$net.254" --port 9400 > "$work/askmock.log" 2>&1 &
pids+=($!)
start_node() {  # name seeds
  local ns=ask$1$tag
  mkdir -p "$work/$1/data"
  cat > "$work/$1/askd.json" <<JSON
{"server":{"host":"${addr[$1]}","port":8400,"shutdown_grace_ms":0},"log":{"level":"info"},"answer_cache":{"enabled":false},
 "cluster":{"node":"$1","listen":"${addr[$1]}:9401","seeds":[$2],"insecure":true,
            "heartbeat_ms":200,"timeout_ms":1000,"reconnect_ms":200},
 "data_dir":"$work/$1/data"}
JSON
  ip netns exec "$ns" env OPENAI_BASE_URL="http://$net.254:9400/v1" OPENAI_API_KEY=sk-x \
    "$build/apps/askd/askd" --config "$work/$1/askd.json" > "$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do curl -sf "${addr[$1]}:8400/health" >/dev/null && return; sleep 0.05; done
  echo "FAIL: node $1 did not start"; cat "$work/$1.log"; exit 1
}
state_of() {  # on-node of-node
  curl -s "${addr[$1]}:8400/v1/cluster" |
    python3 -c "import json,sys; print(next((n['state'] for n in json.load(sys.stdin)['nodes'] if n['name']=='$2'), ''))"
}
metric() { curl -s "${addr[$1]}:8400/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
wait_for() {  # seconds command...
  local until=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@"; do [ "$(now_ms)" -lt "$until" ] || return 1; sleep 0.02; done
}
all_up() { for x in a b c; do for y in a b c; do [ $x = $y ] || [ "$(state_of $x $y)" = up ] || return 1; done; done; }
fail() { echo "FAIL: $*"; for n in a b c; do echo "--- $n"; grep -E 'level=(warn|error)|taken over|fenced|replica' "$work/$n.log" | tail -20; done; exit 1; }

start_node a ""
start_node b "\"${addr[a]}:9401\""
start_node c "\"${addr[b]}:9401\""
wait_for 10 all_up || fail "the cluster did not form"

body='{"repo_url":"https://github.com/askd/chaos","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"q #mock{\"deltas\":150,\"gap_ms\":20}"}]}'
id=$(curl -s -XPOST "${addr[a]}:8400/v1/streams" -H 'content-type: application/json' -d "$body" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_id"])')
replica=""
has_copy() { for n in b c; do [ "$(metric $n askd_replicas_held)" = 1 ] && replica=$n && return 0; done; return 1; }
wait_for 5 has_copy || fail "no node holds a copy of $id"
other=b; [ "$replica" = b ] && other=c
curl -sN "${addr[a]}:8400/v1/streams/$id" > "$work/on_a" &
reader=$!
pids+=($reader)
events_in() { grep -c '^id: ' "$1" 2>/dev/null || echo 0; }
wait_for 10 bash -c "[ \$(grep -c '^id: ' $work/on_a) -ge 30 ]" || fail "the stream did not start"

# The partition: a drops everything from and to b and c.
t0=$(now_ms)
for n in b c; do
  ip netns exec "aska$tag" iptables -A INPUT -s "${addr[$n]}" -j DROP
  ip netns exec "aska$tag" iptables -A OUTPUT -d "${addr[$n]}" -j DROP
done
a_down() { [ "$(state_of b a)" = down ] && [ "$(state_of c a)" = down ]; }
wait_for 10 a_down || fail "b and c did not see a down"
t_detect=$(( $(now_ms) - t0 ))
taken() { [ "$(metric $replica askd_takeovers_total)" = 1 ]; }
wait_for 10 taken || fail "the replica ($replica) did not take $id over"
t_taken=$(( $(now_ms) - t0 ))
fenced() { [ "$(metric a askd_streams_fenced_total)" = 1 ]; }
wait_for 10 fenced || fail "a did not fence $id"
t_fenced=$(( $(now_ms) - t0 ))
wait $reader 2>/dev/null || true  # a's client: the connection ended when a fenced the stream
last=$(grep '^id: ' "$work/on_a" | tail -1 | cut -c5-)
t1=$(now_ms)
curl -sN -H "Last-Event-ID: $last" "${addr[$other]}:8400/v1/streams/$id" > "$work/rest"
t_rest=$(( $(now_ms) - t1 ))
curl -sN "${addr[$replica]}:8400/v1/streams/$id" > "$work/whole"
python3 - "$work/on_a" "$work/rest" "$work/whole" <<'PY' || fail "the answers differ"
import json, sys
def events(path):
    out = []
    for block in open(path).read().split("\n\n"):
        f = dict(l.split(": ", 1) for l in block.split("\n") if ": " in l and not l.startswith(":"))
        if "id" in f: out.append((int(f["id"]), f.get("event"), f.get("data")))
    return out
def text(evs): return "".join(json.loads(d)["text"] for _, e, d in evs if e == "delta")
on_a, rest, whole = events(sys.argv[1]), events(sys.argv[2]), events(sys.argv[3])
assert whole and whole[-1][1] == "done", "the replica's stream has no end"
assert on_a == whole[:len(on_a)], "a showed events the replica's stream does not have"
assert on_a[-1][1] != "done", "a ended the stream itself"
assert rest[0][0] == on_a[-1][0] + 1 and rest[-1][1] == "done", "the resume has a gap or no end"
assert text(on_a) + text(rest) == text(whole), "the resumed answer is not the whole answer once"
print(f"a's client read {len(on_a)} events; the resume through the other node {len(rest)}; "
      f"the whole answer {len(text(whole))} bytes, exact")
PY

# Healed: a rejoins and serves new, replicated streams.
ip netns exec "aska$tag" iptables -F
wait_for 15 all_up || fail "a did not rejoin"
again=$(curl -s -XPOST "${addr[a]}:8400/v1/chat/stream" -H 'content-type: application/json' \
  -d '{"repo_url":"https://github.com/askd/chaos","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"again #mock{\"deltas\":5}"}]}')
grep -q '^event: done' <<<"$again" || fail "a rejoined but did not answer"
echo "partition of a: seen down by b and c after ${t_detect} ms; taken over by $replica after ${t_taken} ms;" \
     "fenced on a after ${t_fenced} ms; the rest read through $other in ${t_rest} ms; a rejoined and answers"
echo "PASS"
