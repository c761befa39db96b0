#!/usr/bin/env bash
# One run of the benchmark: mosquitto (the peer a user would otherwise run) and rrpcd, measured on
# this machine in the same run, printed as a table with the ratio rrpcd/mosquitto.
#   bench/run.sh [--quick] [--runs N] [--soak MINUTES] [--planes]
#     --quick: fewer calls, one run, for a smoke run; --runs N (default 3): the table shows the
#     median of N runs, each measuring both servers (the issue's targets are medians of 3 runs).
#     --soak MINUTES: only the soak: 1,000 answered AsyncRRpc/s on rrpcd (with its store) and the
#     same traffic through mosquitto (QoS 1 requests, answers back), side by side, RSS each minute.
#     --planes: only rrpcd with 1 and 2 device planes (server.threads) beside mosquitto: signed
#     calls/s and server CPU per call (1,000 echo devices, C=64), 10,000 device logins over TCP and
#     over TLS (RSA 2048, as the cloud's endpoints present), each on a fresh server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# RRPCD_BENCH_BUILD=DIR: an existing build tree instead (e.g. build/, RelWithDebInfo).
bin=${RRPCD_BENCH_BUILD:-build-release}
[[ -n ${RRPCD_BENCH_BUILD:-} ]] || RRPCD_BUILD_TYPE=Release RRPCD_BUILD_DIR=build-release scripts/build.sh >/dev/null
ulimit -n "$(ulimit -Hn)"

calls=${RRPCD_BENCH_CALLS:-40000}
runs=3
sustained_calls=200000
soak=0
planes=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) calls=4000 runs=1 sustained_calls=20000 ;;
        --runs) runs=$2; shift ;;
        --soak) soak=$2; shift ;;
        --planes) planes=1 ;;
        *) echo "usage: bench/run.sh [--quick] [--runs N] [--soak MINUTES] [--planes]" >&2; exit 2 ;;
    esac
    shift
done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_mosquitto() {  # $1 = a directory with server.crt and server.key: the listener is TLS
    local port; port=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nmax_queued_messages 100000\nlog_dest none\n' \
        "$port" > "$work/mosquitto.conf"
    # As this user (run as root, mosquitto would become `mosquitto`, which cannot read the key).
    [[ -n ${1:-} ]] && printf 'certfile %s/server.crt\nkeyfile %s/server.key\nuser %s\n' "$1" "$1" "$(id -un)" \
        >> "$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" & pids+=($!)
    mosq_pid=$!
    mosq_port=$port
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
}

start_rrpcd() {  # $1 = devices in the config, $2 = a store, $3 = threads, $4 = TLS dir (optional)
    $bin/bench/rrpc_bench config --devices "$1" ${2:+--store "$2"} ${3:+--threads "$3"} ${4:+--tls-dir "$4"} \
        > "$work/rrpcd.toml"
    coproc RRPCD { exec $bin/rrpcd --config "$work/rrpcd.toml" 2>"$work/rrpcd.log"; }
    rr_pid=$RRPCD_PID
    pids+=("$rr_pid")
    local line
    read -r line <&"${RRPCD[0]}"
    [[ $line =~ mqtt=127\.0\.0\.1:([0-9]+)\ http=127\.0\.0\.1:([0-9]+) ]] || { echo "rrpcd: $line"; exit 1; }
    rr_mqtt=${BASH_REMATCH[1]}
    rr_http=${BASH_REMATCH[2]}
    rr_mqtts=
    [[ $line =~ mqtts=127\.0\.0\.1:([0-9]+) ]] && rr_mqtts=${BASH_REMATCH[1]}
}

stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

results=$work/results.jsonl

if [[ $soak != 0 ]]; then
    # Both servers carry the same steady traffic at once, for the same minutes.
    start_mosquitto
    start_rrpcd 100 "$work/rrpcd.db"
    $bin/bench/rrpc_bench async --target broker --mqtt "$mosq_port" --pid "$mosq_pid" --devices 100 \
        --rate 1000 --seconds $((soak * 60)) > "$work/soak-broker.json" &
    broker_run=$!
    $bin/bench/rrpc_bench async --target rrpcd --mqtt "$rr_mqtt" --http "$rr_http" --pid "$rr_pid" \
        --devices 100 --concurrency 16 --rate 1000 --seconds $((soak * 60)) > "$work/soak-rrpcd.json"
    wait "$broker_run"
    python3 bench/report.py --soak "$work/soak-rrpcd.json" "$work/soak-broker.json"
    exit 0
fi
# Tags each JSON line of figures with its run and optionally a mode of its own.
record() { sed -e "s/}\$/,\"run\":$run}/" ${1:+-e "s/\"mode\":\"reqrep\"/\"mode\":\"$1\"/"} >> "$results"; }

if [[ $planes != 0 ]]; then
    tls=$work/tls
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$tls/server.key" -out "$tls/server.crt" 2>/dev/null
    planes_record() { sed -e "s/}\$/,\"run\":$run,\"threads\":$1}/" >> "$results"; }
    for run in $(seq "$runs"); do
        echo "run $run of $runs" >&2
        start_mosquitto
        $bin/bench/rrpc_bench reqrep --target broker --mqtt "$mosq_port" --pid "$mosq_pid" \
            --devices 1000 --concurrency 64 --calls "$calls" | planes_record 0
        stop "$mosq_pid"
        start_mosquitto
        $bin/bench/rrpc_bench idle --target broker --mqtt "$mosq_port" --pid "$mosq_pid" --devices 10000 | planes_record 0
        stop "$mosq_pid"
        start_mosquitto "$tls"
        $bin/bench/rrpc_bench idle --target broker --mqtt "$mosq_port" --pid "$mosq_pid" --devices 10000 --tls 1 |
            planes_record 0
        stop "$mosq_pid"
        for t in 1 2; do
            start_rrpcd 10000 "" "$t" "$tls"
            $bin/bench/rrpc_bench reqrep --target rrpcd --mqtt "$rr_mqtt" --http "$rr_http" --pid "$rr_pid" \
                --devices 1000 --concurrency 64 --calls "$calls" | planes_record "$t"
            stop "$rr_pid"
            start_rrpcd 10000 "" "$t" "$tls"
            $bin/bench/rrpc_bench idle --target rrpcd --mqtt "$rr_mqtt" --pid "$rr_pid" --devices 10000 | planes_record "$t"
            stop "$rr_pid"
            start_rrpcd 10000 "" "$t" "$tls"
            $bin/bench/rrpc_bench idle --target rrpcd --mqtt "$rr_mqtts" --pid "$rr_pid" --devices 10000 --tls 1 |
                planes_record "$t"
            stop "$rr_pid"
        done
    done
    python3 bench/report.py --planes "$results"
    exit 0
fi

for run in $(seq "$runs"); do
    echo "run $run of $runs" >&2
    # Start-up RSS of rrpcd with a small configuration.
    start_rrpcd 20
    echo "{\"mode\":\"startup\",\"rss_kib\":$(awk '/VmRSS/{print $2}' /proc/$rr_pid/status)}" | record
    stop "$rr_pid"

    # Idle devices: 10,000 logged in and subscribed, on fresh servers.
    start_mosquitto
    $bin/bench/rrpc_bench idle --target broker --mqtt "$mosq_port" --pid "$mosq_pid" --devices 10000 | record
    stop "$mosq_pid"
    start_rrpcd 10000
    $bin/bench/rrpc_bench idle --target rrpcd --mqtt "$rr_mqtt" --pid "$rr_pid" --devices 10000 | record
    stop "$rr_pid"

    # Request/reply: echo devices, C calls in flight, every reply's payload checked.
    start_mosquitto
    start_rrpcd 1000
    for devices in 20 1000; do
        for c in 1 16 64 256; do
            n=$calls; [[ $c == 1 ]] && n=$((calls / 8))
            $bin/bench/rrpc_bench reqrep --target broker --mqtt "$mosq_port" --pid "$mosq_pid" \
                --devices "$devices" --concurrency "$c" --calls "$n" | record
            $bin/bench/rrpc_bench reqrep --target rrpcd --mqtt "$rr_mqtt" --http "$rr_http" --pid "$rr_pid" \
                --devices "$devices" --concurrency "$c" --calls "$n" | record
        done
    done
    # Sustained: 200k signed calls (C=64, 20 devices), for the absolute goals.
    $bin/bench/rrpc_bench reqrep --target rrpcd --mqtt "$rr_mqtt" --http "$rr_http" --pid "$rr_pid" \
        --devices 20 --concurrency 64 --calls "$sustained_calls" | record sustained
    # Timeouts: a device that never answers; TIMEOUT must come within [Timeout, Timeout+20 ms].
    $bin/bench/rrpc_bench timeout --mqtt "$rr_mqtt" --http "$rr_http" --pid "$rr_pid" --calls 512 --concurrency 256 \
        --timeout-ms 1000 | record
    stop "$mosq_pid"
    stop "$rr_pid"
done

python3 bench/report.py "$results"
