#!/usr/bin/env bash
# Benchmark the Quarry Bedrock emulator on one core: Converse requests/s and ConverseStream events/s.
#
#   bench/run_emulator.sh
#
# The server is pinned to one core and the load client to another (taskset), each benchmark runs for
# BENCH_WARMUP + BENCH_DURATION seconds, and a Markdown table plus the raw JSON lines are printed.
# Exits 1 when a response fails its checks or a target is missed.
#
# Environment knobs (defaults in brackets):
#   BENCH_DURATION [10]              measured seconds per benchmark
#   BENCH_WARMUP [2]                 unmeasured seconds before each measurement
#   BENCH_CONVERSE_CONCURRENCY [32]  keep-alive connections for Converse (also used by wrk)
#   BENCH_STREAM_CONCURRENCY [4]     connections running ConverseStream back to back
#   BENCH_STREAM_WORDS [2000]        words per streamed reply (~1.3 contentBlockDelta events per word)
#   BENCH_SERVER_CPU [0]             core the emulator is pinned to
#   BENCH_CLIENT_CPU [1]             core the load clients are pinned to
#   BENCH_WRK [auto]                 auto: cross-check Converse with wrk if installed; 1: apt-get install it if
#                                    missing; 0: skip wrk (wrk has no warm-up; it runs last, on a warm server)
set -euo pipefail

cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
converse_concurrency=${BENCH_CONVERSE_CONCURRENCY:-32}
stream_concurrency=${BENCH_STREAM_CONCURRENCY:-4}
stream_words=${BENCH_STREAM_WORDS:-2000}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
use_wrk=${BENCH_WRK:-auto}

# shellcheck source=bench/gateway_lib.sh
source bench/gateway_lib.sh
check_setup  # the venv is there (sets python); one core: server and client share it

if [[ $use_wrk == 1 ]] && ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [[ $use_wrk != 0 ]] && ! command -v wrk >/dev/null; then
    echo "note: wrk not installed, skipping the wrk cross-check (BENCH_WRK=1 installs it with apt-get)" >&2
    use_wrk=0
fi

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
workdir=$(mktemp -d -t quarry-bench.XXXXXX)
server_log=$workdir/server.log
results=$workdir/results.tsv

# Pacing and faults off explicitly, whatever quarry.toml or QUARRY_EMULATOR__* say.
server_cmd=(taskset -c "$server_cpu" .venv/bin/quarry emulator --host 127.0.0.1 --port "$port"
    --first-byte-ms 0 --tokens-per-second 0 --fault-rate 0)
"${server_cmd[@]}" >"$server_log" 2>&1 &
server_pid=$!

cleanup() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid"
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$url/ping" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the emulator exited before answering /ping:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    sleep 0.1
done
curl -fsS -o /dev/null "$url/ping" || { echo "error: no answer on $url/ping after 30 s" >&2; exit 1; }

clock_ticks=$(getconf CLK_TCK)
server_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }

# bench LABEL COMMAND...: run one client, keep its JSON line with the share of a core the server used meanwhile.
bench() {
    local label=$1 line status=0 ticks_before ticks_after start end server_cpu_share
    shift
    echo "running: $*" >&2
    ticks_before=$(server_ticks)
    start=$(date +%s.%N)
    line=$("$@" | grep '^{' | tail -n 1) || status=$?
    end=$(date +%s.%N)
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the emulator died during the run:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    ticks_after=$(server_ticks)
    if [[ -z $line ]]; then
        line='{"errors": 1, "first_error": "client printed no result"}'
    fi
    server_cpu_share=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clock_ticks" -v s="$start" -v e="$end" \
        'BEGIN { printf "%.2f", t / hz / (e - s) }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$status" "$server_cpu_share" "$*" "$line" >>"$results"
}

client=(taskset -c "$client_cpu" "$python" bench/emulator_load.py)
bench "Converse" "${client[@]}" converse --url "$url" --concurrency "$converse_concurrency" \
    --duration "$duration" --warmup "$warmup"
bench "ConverseStream" "${client[@]}" stream --url "$url" --concurrency "$stream_concurrency" \
    --duration "$duration" --warmup "$warmup" --words "$stream_words"
if [[ $use_wrk != 0 ]]; then
    bench "Converse (wrk)" taskset -c "$client_cpu" wrk -t1 -c"$converse_concurrency" -d"${duration}s" \
        -s bench/wrk_converse.lua "$url"
fi

"$python" bench/emulator_report.py "$results" --server-command "${server_cmd[*]}"
