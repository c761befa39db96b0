#!/usr/bin/env bash
# The cluster's cost (issue 23), in one run: 20 echo devices on node A, signed V1 RRpc at C=64
# (bench/rrpc_bench), called through A (same node) and through B (cross node: a Redis route and
# two inbox messages), beside a single node without a cluster. Prints calls/s, p50, p99 and the
# CPU per call of A + B + redis-server, and the ratios.
#   bench/cluster.sh [calls]   (default 40000; RRPCD_BENCH_BUILD=DIR: an existing build tree)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
bin=${RRPCD_BENCH_BUILD:-build-release}
[[ -n ${RRPCD_BENCH_BUILD:-} ]] || RRPCD_BUILD_TYPE=Release RRPCD_BUILD_DIR=build-release scripts/build.sh >/dev/null
calls=${1:-40000}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --dir "$work" --loglevel warning \
    > "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

start_node() {  # $1 = name, $2 = cluster (1) or not (0); sets ${1}_pid, ${1}_mqtt, ${1}_http
    # Each node in its own directory (its store beside its config).
    mkdir -p "$work/$1"
    $bin/bench/rrpc_bench config --devices 20 --threads 1 > "$work/$1/rrpcd.toml"
    if [[ $2 == 1 ]]; then
        printf '[cluster]\nredis = "redis://127.0.0.1:%s"\n' "$redis_port" >> "$work/$1/rrpcd.toml"
    fi
    local out=$work/$1.ready
    $bin/rrpcd --config "$work/$1/rrpcd.toml" > "$out" 2> "$work/$1.log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do grep -q '^rrpcd ready' "$out" 2>/dev/null && break; sleep 0.05; done
    local line; line=$(grep "^rrpcd ready" "$out" || true)
    [[ $line =~ mqtt=127\.0\.0\.1:([0-9]+)\ http=127\.0\.0\.1:([0-9]+) ]] || { echo "$1: not ready"; cat "$work/$1.log"; exit 1; }
    printf -v "${1}_pid" %s "$pid"
    printf -v "${1}_mqtt" %s "${BASH_REMATCH[1]}"
    printf -v "${1}_http" %s "${BASH_REMATCH[2]}"
}

# $1 = label, $2 = devices' MQTT port, $3 = the HTTP port called, $4.. = pids whose CPU counts
measure() {
    local label=$1 mqtt=$2 http=$3; shift 3
    local before=0 after=0 p
    for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
    $bin/bench/rrpc_bench reqrep --target rrpcd --mqtt "$mqtt" --http "$http" --pid "$1" \
        --devices 20 --concurrency 64 --calls "$calls" > "$work/$label.json"
    for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
    echo "{\"label\":\"$label\",\"cpu_ticks\":$((after - before)),\"figures\":$(cat "$work/$label.json")}" >> "$work/all.jsonl"
}

start_node single 0
measure single "$single_mqtt" "$single_http" "$single_pid"
kill "$single_pid"
start_node a 1
start_node b 1
measure same_node "$a_mqtt" "$a_http" "$a_pid" "$b_pid" "$redis_pid"
measure cross_node "$a_mqtt" "$b_http" "$a_pid" "$b_pid" "$redis_pid"

python3 - "$work/all.jsonl" "$calls" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
calls = int(sys.argv[2])
hz = 100
print(f"cluster bench: {calls} signed RRpc calls, C=64, 20 echo devices on node A (single plane each)")
print(f"  {'case':<34}{'calls/s':>10}{'p50 µs':>10}{'p99 µs':>10}{'CPU µs/call':>14}")
names = {"single": "single node, no cluster", "same_node": "cluster, called through A (same)",
         "cross_node": "cluster, called through B (cross)"}
for k in ("single", "same_node", "cross_node"):
    r = rows[k]; f = r["figures"]
    print(f"  {names[k]:<34}{f['calls_per_s']:>10.0f}{f['p50_us']:>10.0f}{f['p99_us']:>10.0f}{r['cpu_ticks'] / hz / calls * 1e6:>14.1f}")
s, a, b = (rows[k]["figures"] for k in ("single", "same_node", "cross_node"))
print(f"  verdict: same-node calls/s with the cluster on {a['calls_per_s'] / s['calls_per_s']:.2f}x the single node's (goal >= 0.97)")
print(f"  verdict: cross-node {b['calls_per_s'] / a['calls_per_s']:.2f}x the same-node calls/s, p99 {b['p99_us'] / a['p99_us']:.2f}x, "
      f"CPU per call {rows['cross_node']['cpu_ticks'] / max(1, rows['same_node']['cpu_ticks']):.2f}x (A + B + Redis)")
PY
