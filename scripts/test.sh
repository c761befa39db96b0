#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (unit and integration)
# through CTest, twice: on the optimised build (g++) with four device planes (server.threads = 4,
# through RRPCD_TEST_THREADS; its memory bounds are the real ones), then on a clang-14 build with
# AddressSanitizer and UndefinedBehaviorSanitizer with one, where planes.test.mjs runs four (skip
# that second pass with RRPCD_NO_SANITIZE=1). The second tree
# also holds the libFuzzer targets, which run there briefly beside the tests (RRPCD_FUZZ_SECONDS,
# default 10 each; skip with RRPCD_NO_FUZZ=1; scripts/fuzz.sh runs them longer). The integration
# tests start their own rrpcd and clients on free loopback ports; the image test (label `image`,
# first pass only) builds the container image with buildah and runs it with podman. Extra arguments
# go to ctest (e.g. -L unit, -LE image).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh
RRPCD_TEST_THREADS=4 ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"

if [[ -z ${RRPCD_NO_SANITIZE:-} ]]; then
    echo "== the same tests under AddressSanitizer and UndefinedBehaviorSanitizer, and the fuzzers =="
    skip=image
    fuzz=ON
    if [[ -n ${RRPCD_NO_FUZZ:-} ]]; then skip="image|fuzz" fuzz=OFF; fi
    CC=clang-14 CXX=clang++-14 cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DRRPCD_SANITIZE=ON -DRRPCD_FUZZ=$fuzz -DRRPCD_FUZZ_SECONDS="${RRPCD_FUZZ_SECONDS:-10}" \
        -DRRPCD_BENCH=OFF -DRRPCD_WERROR=ON -DRRPCD_PCH=ON >/dev/null
    cmake --build build-san -j "$(nproc)"
    RRPCD_TEST_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-san --output-on-failure -j "$(nproc)" -LE "$skip" "$@"
fi
