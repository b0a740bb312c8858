#!/bin/bash
# Snapshot cost under load (docs/PERFORMANCE.md): three interleaved rounds of `gavel serve --demo`
# with snapshots every 5 s and off, each under the same open-loop `gavel load`. Needs a release build
# (cargo build --release -p gavel-tools); prints each round's figures.
cd "$(dirname "$0")/.."
for round in 1 2 3; do
  for mode in 5000 0; do
    d=/tmp/sb-$mode; rm -rf $d
    ./target/release/gavel serve --demo --data-dir $d --listen 127.0.0.1:7993 --snapshot-interval-ms $mode --durability write > /tmp/sb-$mode.log 2>&1 &
    sleep 1.5
    ./target/release/gavel load --addr 127.0.0.1:7993 --demo --data-dir $d --clients 4 --rate 40000 --duration 15 --json /tmp/sb-$mode-$round.json > /dev/null 2>&1
    pkill -INT -f "data-dir $d --listen"; sleep 3
    python3 -c "
import json; d=json.load(open('/tmp/sb-$mode-$round.json'))
r=d['rtt']; c=d['closed_loop_rtt']
print('$mode', $round, 'open p50', r['p50_ns'], 'p99', r['p99_ns'], 'closed p50', c['p50_ns'], 'p99', c['p99_ns'])"
    grep -E "snapshots:" /tmp/sb-$mode.log
  done
done
