#!/usr/bin/env bash
# Installs the npm packages pinned in package-lock.json (the official Alibaba SDKs and mqtt.js),
# unless node_modules already holds exactly that lockfile's set.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.rrpcd-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
