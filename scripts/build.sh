#!/usr/bin/env bash
# Configures and builds rrpcd and its tests in build/ (or $RRPCD_BUILD_DIR); warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${RRPCD_BUILD_DIR:-build}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${RRPCD_BUILD_TYPE:-RelWithDebInfo}" -DRRPCD_WERROR=ON >/dev/null
cmake --build "$dir" -j "$(nproc)"
