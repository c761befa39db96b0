#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and starts rrpcd on the embedded default
# configuration (loopback, a demo product, device and access key). Extra arguments go to rrpcd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh  # the official SDKs used by examples/
exec build/rrpcd "$@"
