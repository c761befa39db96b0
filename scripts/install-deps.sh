#!/usr/bin/env bash
# Installs (from Debian's apt only) whatever rrpcd needs to build, run and test that is missing.
# Idempotent: it asks apt only when a package is absent.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
    libssl-dev libspdlog-dev libtomlplusplus-dev libsqlite3-dev catch2 clang-format git coreutils
    # AMQP 1.0 (the server-side subscription): Qpid Proton C++; its Python binding is a test peer
    libqpid-proton-cpp12-dev python3-qpid-proton
    # cluster mode: nodes share Redis (hiredis drives it; redis-server is the tests' peer)
    libhiredis-dev redis-server redis-tools
    # test peers: real MQTT clients and the official SDKs' runtime
    mosquitto mosquitto-clients python3 python3-paho-mqtt openssl sqlite3
    # a clock set back, for one process (the MessageId floor test)
    libfaketime
    # the console's browser tests: headless Chromium (driven by playwright-core from npm), a font
    chromium fonts-dejavu-core
    # the fuzzers: clang's libFuzzer and sanitizer runtimes
    clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js may come from another Debian-format repo that bundles npm; ask for Debian's only when absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    # Test peers (the mosquitto broker) are started by the tests that need them, on ports of their
    # own: their packages must not leave a daemon on the demo's ports. policy-rc.d keeps apt from
    # starting services, for the install only (unless the machine has a policy of its own).
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
        "${sudo_cmd[@]}" chmod 755 "$policy"
        own_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
    ((own_policy)) && "${sudo_cmd[@]}" rm -f "$policy"
    ((status == 0)) || exit "$status"
    # And not at the next boot either (systemd enables the unit it did not start).
    for unit in mosquitto redis-server; do
        if [[ " ${missing[*]} " == *" $unit "* ]] && command -v systemctl >/dev/null &&
            [[ -d /run/systemd/system ]]; then
            "${sudo_cmd[@]}" systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
            echo "install-deps: $unit (a test peer) is installed but not enabled"
        fi
    done
fi
