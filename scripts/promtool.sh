#!/usr/bin/env bash
# Prints the path of promtool, taken from Debian's `prometheus` package: downloaded (apt-get
# download, no install, no service started) and extracted once into build/tools/ (or
# $RRPCD_TOOLS_DIR). The metrics test runs `promtool check metrics` with it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${RRPCD_TOOLS_DIR:-build/tools}
tool="$dir/prometheus/usr/bin/promtool"
if [[ ! -x $tool ]]; then
    mkdir -p "$dir/download"
    (cd "$dir/download" && rm -f prometheus_*.deb &&
        { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; })
    dpkg-deb -x "$dir"/download/prometheus_*.deb "$dir/prometheus"
    rm -f "$dir"/download/prometheus_*.deb
fi
echo "$(cd "$(dirname "$tool")" && pwd)/promtool"
