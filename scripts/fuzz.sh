#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan, optimised) in build-fuzz/ and runs each
# for a set time over its seed corpus (tests/fuzz/make-seeds.mjs, from the unit vectors). A finding
# stops with the crashing input saved in build-fuzz/findings/. scripts/test.sh runs the same targets
# briefly in its sanitizer pass (build-san/).
#   scripts/fuzz.sh [seconds per fuzzer, default 600] [fuzzer names...]
#   scripts/fuzz.sh --run <fuzzer binary> <seconds> <build dir>   (one run; what CTest calls)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=$root/build-fuzz

if [[ ${1:-} == --run ]]; then
    bin=$2 seconds=$3 tree=$4 name=$(basename "$2")
    mkdir -p "$tree/findings"
    # -rss_limit_mb: a leak or an unbounded buffer is a finding too.
    exec "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$tree/findings/${name}-" "$tree/corpus/${name#fuzz_}"
fi

seconds=${1:-600}
shift || true
scripts/install-deps.sh
scripts/node-clients.sh >/dev/null
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRRPCD_FUZZ=ON -DRRPCD_TESTS=OFF -DRRPCD_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$dir" --target fuzzers -j "$(nproc)"
rm -rf "$dir/corpus"  # fresh seeds from the current vectors (the fuzz_seeds test); findings stay
filter=()
(($#)) && filter=(-R "^fuzz_(seeds|$(IFS='|'; echo "$*"))\$")
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -L fuzz "${filter[@]}"
