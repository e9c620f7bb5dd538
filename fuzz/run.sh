#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 300), two at a time, from
# the seeds in fuzz/seeds/ plus what earlier runs found (fuzz/corpus/, not
# committed). Prints each target's executions and whether it crashed; a
# crash leaves its input in fuzz/artifacts/TARGET/ — make it a regression
# test (tests/fuzz_regressions/) once fixed.
#
#   bash fuzz/run.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The toolchain here is
# stable, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly flags; no
# sanitizer (-s none): findmatches has no unsafe code of its own, and a
# panic is what these targets look for.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-300}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -O
targets=(read_csv read_parquet normalize labels model_json manifest_json)
run() {
    mkdir -p "corpus/$1"
    if cargo fuzz run -s none -O "$1" "corpus/$1" "seeds/$1" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 > "corpus/$1.log" 2>&1; then
        result=ok
    else
        result="CRASH (see corpus/$1.log)"
    fi
    echo "$1: $(grep -E '^#[0-9]+' "corpus/$1.log" | tail -1 | awk '{print $1}' | tr -d '#') execs, $result"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[i]}" &
    run "${targets[i + 1]}" &
    wait
done
