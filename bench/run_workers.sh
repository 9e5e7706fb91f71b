#!/usr/bin/env bash
# `quarry serve --workers 1` against `--workers 2`, side by side in one run, on this machine's cores.
#
# Each run starts `quarry serve --backend emulator --workers N` (each worker with its own in-process emulator, as
# offline mode runs; the UI and every feature on; usage to SQLite, limits in a Redis started here, as --workers > 1
# needs) and drives it with bench/gateway_load.py: C keep-alive connections sending short non-streamed chat
# completions for WARMUP then DURATION seconds. Nothing is pinned: the workers are meant to spread over the cores,
# and the load client (about a quarter of a core) shares them. Prints one JSON line per run, then a Markdown table.
#
#   bench/run_workers.sh
#
# Knobs: BENCH_PYTHON [.venv/bin/python], BENCH_WORKERS ["1 2"], BENCH_CONCURRENCY [32], BENCH_DURATION [10],
# BENCH_WARMUP [2]. Exits 1 if an answer failed its checks.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${BENCH_PYTHON:-.venv/bin/python}
counts=${BENCH_WORKERS:-1 2}
concurrency=${BENCH_CONCURRENCY:-32}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
api_key=bench-key

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

workdir=$(mktemp -d -t quarry-workers-bench.XXXXXX)
pids=()
# shellcheck source=bench/gateway_lib.sh
source bench/gateway_lib.sh
cleanup() {
    stop_pids
    rm -rf "$workdir"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$workdir" >/dev/null &
pids+=($!)

results=()
for workers in $counts; do
    port=$(free_port)
    log=$workdir/quarry-$workers.log
    env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_BEARER_TOKEN_BEDROCK \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
        QUARRY_API_KEY="$api_key" QUARRY_DATA_DIR="$workdir/data-$workers" QUARRY_CONFIG="$workdir/none.toml" \
        QUARRY_REDIS_URL="redis://127.0.0.1:$redis_port/$workers" \
        "$python" -m quarry serve --host 127.0.0.1 --port "$port" --backend emulator --workers "$workers" \
        >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1800); do  # start-up imports the toolbox in each worker: slow on a busy machine
        curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    # Every worker has started its app once it listens on a second socket: its in-process emulator's.
    for _ in $(seq 1800); do
        ready=0
        for w in $(pgrep -P "$pid" || true); do
            (( $(ss -ltnpH | grep -c "pid=$w,") >= 2 )) && ready=$((ready + 1))
        done
        (( workers == 1 || ready >= workers )) && break
        sleep 0.1
    done
    # ... and has finished starting (importing the toolbox is seconds of CPU): wait until every process of the
    # tree spends under 5% of a core for a second, so no start-up overlaps the measurement.
    for _ in $(seq 120); do
        before=$(for w in $pid $(pgrep -P "$pid" || true); do awk '{print $14 + $15}' "/proc/$w/stat"; done)
        sleep 1
        after=$(for w in $pid $(pgrep -P "$pid" || true); do awk '{print $14 + $15}' "/proc/$w/stat"; done)
        busy=$(paste <(echo "$before") <(echo "$after") | awk '$2 - $1 > 5 {n++} END {print n + 0}')
        (( busy == 0 )) && break
    done
    "$python" bench/gateway_load.py check --api openai --url "http://127.0.0.1:$port" --api-key "$api_key" >/dev/null
    line=$("$python" bench/gateway_load.py converse --api openai --url "http://127.0.0.1:$port" --api-key "$api_key" \
        --concurrency "$concurrency" --duration "$duration" --warmup "$warmup")
    echo "{\"workers\": $workers, \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"result\": $line}"
    results+=("$workers $line")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done

echo
echo "| workers | requests/s (c $concurrency, non-streamed) | × one worker | p50 / p99 |"
echo "|---|---|---|---|"
first=""
for entry in "${results[@]}"; do
    workers=${entry%% *}
    json=${entry#* }
    "$python" - "$workers" "$json" "$first" <<'PY'
import json, sys
workers, line, first = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rps = line["requests_per_s"]
ratio = f"{rps / float(first):.2f}" if first else "1.00"
lat = line.get("latency_ms") or {}
print(f"| {workers} | {rps:,.0f} | {ratio} | {lat.get('p50')} / {lat.get('p99')} ms |")
PY
    [[ -n $first ]] || first=$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["requests_per_s"])' "$json")
done
