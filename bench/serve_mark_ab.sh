#!/bin/bash
# The live mark path of two builds (docs/PERFORMANCE.md, "Re-measured after the auction stop at every
# mark"): three interleaved rounds of `gavel serve --demo --durability write` under the same open-loop
# `gavel load`, once per binary; prints each round's server stages (mark_to_auction and others) and
# leaves the load's JSON in /tmp/load-<tag>.json.
# Usage: bench/serve_mark_ab.sh BEFORE_BINARY AFTER_BINARY
set -u
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
for round in 1 2 3; do
  for side in before after; do
    if [ $side = before ]; then bin=$1; else bin=$2; fi
    tag=$side$round; d=/tmp/sdb-$tag; rm -rf "$d"
    "$bin" serve --demo --data-dir "$d" --duration 40 --durability write > /tmp/serve-$tag.log 2>&1 &
    sleep 4
    "$bin" load --demo --data-dir "$d" --clients 4 --rate 20000 --duration 20 --json /tmp/load-$tag.json > /dev/null 2>&1
    wait
    grep -E "mark_to_auction|mark_to_first|order_to_report" /tmp/serve-$tag.log | sed "s/^/$tag /"
  done
done
