#!/usr/bin/env bash
# Builds rrpcd and its tests with ThreadSanitizer (clang-14, optimised, in build-tsan/) and runs
# the unit tests and every integration file with four device planes (server.threads = 4). Every
# report of every process goes to build-tsan/tsan/report.<pid>; the script fails if there is one.
# Not part of scripts/test.sh (a third build does not fit CI's 30 minutes on two cores).
#   scripts/tsan.sh [ctest arguments, e.g. -R planes]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/node-clients.sh
CC=clang-14 CXX=clang++-14 cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRRPCD_TSAN=ON -DRRPCD_BENCH=OFF -DRRPCD_WERROR=ON >/dev/null
cmake --build build-tsan -j "$(nproc)"
reports=$PWD/build-tsan/tsan
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error=0: a run goes on after a report, so that one run shows them all.
status=0
RRPCD_TEST_THREADS=4 TSAN_OPTIONS="log_path=$reports/report:halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/tests/tsan/suppressions.txt" \
    ctest --test-dir build-tsan --output-on-failure -j "$(nproc)" -LE "image|fuzz" --timeout 900 "$@" || status=$?
if compgen -G "$reports/report.*" >/dev/null; then
    echo "ThreadSanitizer reports:" >&2
    grep -h -A3 "^WARNING: ThreadSanitizer" "$reports"/report.* | head -100 >&2
    exit 1
fi
echo "ThreadSanitizer: no report"
exit "$status"
