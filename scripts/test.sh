#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (unit and integration)
# through CTest, twice: on the optimised build (g++) with four device planes (server.threads = 4,
# through RRPCD_TEST_THREADS; its memory bounds are the real ones), then on a clang-14 build with
# AddressSanitizer and UndefinedBehaviorSanitizer with one, where planes.test.mjs runs four (skip
# that second pass with RRPCD_NO_SANITIZE=1; its tree builds during the first pass, at nice 19).
# The second tree
# also holds the libFuzzer targets, which run there briefly beside the tests (RRPCD_FUZZ_SECONDS,
# default 10 each; skip with RRPCD_NO_FUZZ=1; scripts/fuzz.sh runs them longer). The integration
# tests start their own rrpcd and clients on free loopback ports; the image test (label `image`,
# first pass only) builds the container image with buildah (its runtime stage, with the first
# pass's rrpcd: scripts/image.sh's RRPCD_IMAGE_BINARY) and runs it with podman. Extra arguments
# go to ctest (e.g. -L unit, -LE image).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh

# The sanitizer tree builds beside the first pass's tests, at the lowest CPU priority: it takes
# only what the tests leave idle (their waits on sockets, timers, apt and the image's steps), so
# the tests see the machine as before and the second pass starts sooner.
san_build=
if [[ -z ${RRPCD_NO_SANITIZE:-} ]]; then
    skip=image
    fuzz=ON
    if [[ -n ${RRPCD_NO_FUZZ:-} ]]; then skip="image|fuzz" fuzz=OFF; fi
    CC=clang-14 CXX=clang++-14 cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DRRPCD_SANITIZE=ON -DRRPCD_FUZZ=$fuzz -DRRPCD_FUZZ_SECONDS="${RRPCD_FUZZ_SECONDS:-10}" \
        -DRRPCD_BENCH=OFF -DRRPCD_WERROR=ON -DRRPCD_PCH=ON >/dev/null
    # Its own process group: a failed first pass stops the whole build (ninja and compilers).
    setsid nice -n 19 cmake --build build-san -j "$(nproc)" > build-san/build.log 2>&1 &
    san_build=$!
    trap '[[ -n $san_build ]] && kill -- -"$san_build" 2>/dev/null || true' EXIT
fi

RRPCD_TEST_THREADS=4 ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"

if [[ -n $san_build ]]; then
    echo "== the same tests under AddressSanitizer and UndefinedBehaviorSanitizer, and the fuzzers =="
    if ! wait "$san_build"; then
        san_build=
        tail -50 build-san/build.log
        exit 1
    fi
    san_build=
    RRPCD_TEST_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-san --output-on-failure -j "$(nproc)" -LE "$skip" "$@"
fi
