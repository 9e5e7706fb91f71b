#!/usr/bin/env bash
# What durable usage costs on SQLite: `quarry serve` (in-process emulator, one worker) with QUARRY_USAGE_DURABLE
# off, then on, each measured with gateway_load.py (short non-streamed replies) at concurrency 1 (latency) and 32
# (requests/s). One JSON line per run, labelled.
#
#   bench/run_usage_durable.sh            BENCH_DURATION [5]  BENCH_WARMUP [1]  BENCH_PORT [18431]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
duration=${BENCH_DURATION:-5}
warmup=${BENCH_WARMUP:-1}
port=${BENCH_PORT:-18431}
for durable in false true; do
    data=$(mktemp -d)
    QUARRY_DATA_DIR=$data QUARRY_BACKEND=emulator QUARRY_API_KEY=bench-key QUARRY_UI__ENABLED=false \
        QUARRY_USAGE_DURABLE=$durable QUARRY_LOG_LEVEL=warning quarry serve --port "$port" >/dev/null 2>"$data/serve.log" &
    server=$!
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
    for concurrency in 1 32; do
        printf 'durable=%s concurrency=%s ' "$durable" "$concurrency"
        python "$here/gateway_load.py" converse --url "http://127.0.0.1:$port" -c "$concurrency" \
            -d "$duration" -w "$warmup" --pid "quarry=$server"
    done
    kill "$server"
    wait "$server" || true
    rm -rf "$data"
done
