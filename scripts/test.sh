#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (unit and integration)
# through CTest, twice: on the optimised build, then on an ASan+UBSan build (skip that second pass
# with RRPCD_NO_SANITIZE=1); then each libFuzzer target briefly (RRPCD_FUZZ_SECONDS, default 30;
# skip with RRPCD_NO_FUZZ=1). The integration tests start their own rrpcd and clients on free
# loopback ports; the image test (label `image`, first pass only) builds the container image with
# buildah and runs it with podman. Extra arguments go to ctest (e.g. -L unit, -LE image).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"

if [[ -z ${RRPCD_NO_SANITIZE:-} ]]; then
    echo "== the same tests under AddressSanitizer and UndefinedBehaviorSanitizer =="
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRRPCD_SANITIZE=ON -DRRPCD_WERROR=ON >/dev/null
    cmake --build build-asan -j "$(nproc)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE image "$@"
fi

if [[ -z ${RRPCD_NO_FUZZ:-} && $# -eq 0 ]]; then
    echo "== each fuzzer for ${RRPCD_FUZZ_SECONDS:-30} s (scripts/fuzz.sh) =="
    scripts/fuzz.sh "${RRPCD_FUZZ_SECONDS:-30}"
fi
