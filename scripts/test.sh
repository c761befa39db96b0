#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (unit and integration)
# through CTest. The integration tests start their own rrpcd and clients on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
