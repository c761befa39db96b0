#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and starts rrpcd on the embedded default
# configuration (loopback, a demo product, device and access key). Extra arguments go to rrpcd
# (e.g. --set mqtt.listen=127.0.0.1:1884, --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/node-clients.sh  # the official SDKs used by examples/

# A demo port something else holds (a mosquitto broker started by the system, another rrpcd):
# rather than fail, that listener takes a free port, which the ready line names.
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
moved=()
for listener in mqtt:1883 http:8080; do
    name=${listener%%:*} port=${listener##*:}
    env_name="RRPCD_${name^^}__LISTEN"
    [[ -n ${!env_name:-} ]] && continue
    [[ " $* " == *" $name.listen="* || -n ${RRPCD_CONFIG:-} || " $* " == *" --config "* ]] && continue
    taken "$port" || continue
    holder=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*"' | head -1 | cut -d'"' -f2 || true)
    echo "run: 127.0.0.1:$port is taken${holder:+ by $holder}; rrpcd's $name listener takes a free port instead (the ready line names it)." >&2
    echo "run: to choose one: scripts/run.sh --set $name.listen=127.0.0.1:PORT (or $env_name=127.0.0.1:PORT)" >&2
    moved+=(--set "$name.listen=127.0.0.1:0")
done
exec build/rrpcd "${moved[@]}" "$@"
