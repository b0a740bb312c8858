#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation on the stable toolchain (the
# flags `cargo fuzz --sanitizer none` passes, plus debug assertions and overflow checks) and runs
# each for SECONDS (default 20), from seeds that `make_seeds` writes to a temporary folder (the
# docs/examples files, snapshots of a small engine) plus fuzz/corpus/<target> (local, ignored by git) and
# fuzz/regressions/<target> (committed: inputs that once failed) if present (copied,
# so the run leaves the repository as it was). Any crash, panic, timeout or malloc over 2 GiB fails it.
# Usage: fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
# An explicit --target keeps the instrumentation off build scripts and proc macros.
triple="$(rustc -vV | sed -n "s/^host: //p")"
cargo build --release --locked --bins --target "$triple"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v -e '^gavel-fuzz$' -e '^make_seeds$')
fi
mkdir -p artifacts
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/$triple/release/make_seeds" "$work"
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    if [ -d "corpus/$t" ]; then cp -r "corpus/$t/." "$work/$t/"; fi
    if [ -d "regressions/$t" ]; then cp -r "regressions/$t/." "$work/$t/"; fi
    echo "fuzz: $t for ${seconds}s ($(ls "$work/$t" | wc -l) seeds)"
    log="$work/$t.log"
    if ! "$CARGO_TARGET_DIR/$triple/release/$t" "$work/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$(pwd)/artifacts/" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz: $t FAILED; the input is in fuzz/artifacts/ (and base64 above)" >&2
        exit 1
    fi
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" | tr '\n' ' '
    echo
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no failure"
