#!/bin/bash
# The order→ack round trip of two builds against a bare echo (docs/PERFORMANCE.md, "The gateway
# writes the journal"): ROUNDS (default 5) interleaved rounds of `gavel serve --demo --durability
# MODE` (default write) under the same `gavel load --demo --clients 4 --rate 20000 --duration 14`,
# once per binary; prints each round's closed-loop order→ack and bare-echo p50/p99 (µs) and their
# ratio, then the medians. The load's JSON stays in /tmp/ack-<tag>.json.
# Usage: bench/serve_ack_ab.sh BEFORE_BINARY AFTER_BINARY [ROUNDS] [MODE]
set -u
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [ROUNDS] [MODE]" >&2; exit 2; }
rounds=${3:-5}; mode=${4:-write}
for round in $(seq 1 "$rounds"); do
  for side in before after; do
    if [ $side = before ]; then bin=$1; else bin=$2; fi
    tag=$side$round; d=/tmp/sab-$tag; rm -rf "$d"
    "$bin" serve --demo --data-dir "$d" --duration 30 --durability "$mode" > /tmp/ack-serve-$tag.log 2>&1 &
    sleep 4
    "$bin" load --demo --data-dir "$d" --clients 4 --rate 20000 --duration 14 --json /tmp/ack-$tag.json > /dev/null 2>&1
    wait
    rm -rf "$d"
    python3 - "$tag" /tmp/ack-$tag.json <<'PY'
import json, sys
j = json.load(open(sys.argv[2]))
c, e = j["closed_loop_rtt"], j["echo_rtt"]
print(f'{sys.argv[1]:9} ack p50 {c["p50_ns"]/1e3:7.1f} p99 {c["p99_ns"]/1e3:8.1f}  echo p50 {e["p50_ns"]/1e3:7.1f} p99 {e["p99_ns"]/1e3:8.1f}  ratio p50 {c["p50_ns"]/e["p50_ns"]:5.2f} p99 {c["p99_ns"]/e["p99_ns"]:5.2f}  missing {j["missing_replies"]}')
PY
  done
done
python3 - "$rounds" <<'PY'
import json, sys, statistics as st
n = int(sys.argv[1])
for side in ("before", "after"):
    runs = [json.load(open(f"/tmp/ack-{side}{r}.json")) for r in range(1, n + 1)]
    m = lambda f: st.median(f(j) for j in runs)
    print(f'median {side:6} ack p50 {m(lambda j: j["closed_loop_rtt"]["p50_ns"])/1e3:.1f} µs p99 {m(lambda j: j["closed_loop_rtt"]["p99_ns"])/1e3:.1f} µs; echo p50 {m(lambda j: j["echo_rtt"]["p50_ns"])/1e3:.1f} µs p99 {m(lambda j: j["echo_rtt"]["p99_ns"])/1e3:.1f} µs; ratio p50 {m(lambda j: j["closed_loop_rtt"]["p50_ns"]/j["echo_rtt"]["p50_ns"]):.2f} p99 {m(lambda j: j["closed_loop_rtt"]["p99_ns"]/j["echo_rtt"]["p99_ns"]):.2f}')
PY
