#!/usr/bin/env bash
# Benchmark Quarry's gateway side by side with the emulator called directly and the LiteLLM proxy.
#
#   bench/run_gateway.sh
#
# Against the same emulator (pacing, first-byte delay and faults off), one after the other: (1) the emulator
# called directly with Converse / ConverseStream, (2) `quarry serve`, (3) the LiteLLM proxy (installed into
# bench/.venv-litellm when missing), both gateways speaking the OpenAI chat API. For each: latency at
# concurrency 1, requests/s at concurrency 32 and 64 (short replies), streamed chunks/s at concurrency 64 (long
# replies); then, against a second emulator pacing streams at 20 tokens/s, 1,000 streams at once (errors, time
# to first token, the gateway's peak RSS). First of all, bedrock_client_cpu.py measures the CPU cost of the two
# Bedrock clients (aiobotocore, quarry.bedrock) per request and per stream event.
#
# Cores (2): the server under test (Quarry or LiteLLM, one at a time) has core BENCH_SERVER_CPU to itself; the
# emulators and the load client share core BENCH_CLIENT_CPU. Three parties cannot each have a core of two, and
# the gateway is what is measured, so it gets the quiet core; the direct baseline runs in the same layout
# (emulator and client on the shared core). The JSON lines carry every process's CPU share, to show which core
# was the bottleneck. Each gateway runs once against the fast emulator and is restarted for the slow-stream
# test, so that its peak RSS (VmHWM) is that of start-up plus the slow streams.
#
# Prints a Markdown table (direct / Quarry / LiteLLM, targets, pass) and saves the raw JSON lines under
# bench/results/ (gateway-STAMP.jsonl, the servers' logs in gateway-STAMP-logs/). Exits 1 when an answer fails
# its checks or a target is missed (LiteLLM has no targets).
#
# Environment knobs (defaults in brackets):
#   BENCH_DURATION [10]           measured seconds per throughput / latency benchmark
#   BENCH_WARMUP [2]              unmeasured seconds before each of them
#   BENCH_RPS_CONCURRENCY [32 64] connections for the requests/s benchmarks (short non-streamed replies)
#   BENCH_STREAM_CONCURRENCY [64] connections for the streamed chunks/s benchmark
#   BENCH_STREAM_WORDS [500]      words per streamed reply (~1.3 chunks per word)
#   BENCH_SLOW_STREAMS [1000]     streams opened at once against the paced emulator
#   BENCH_SLOW_TPS [20]           the paced emulator's tokens (events) per second per stream
#   BENCH_SLOW_WORDS [200]        words per slow stream (~270 events: ~14 s at 20 tokens/s)
#   BENCH_SLOW_RAMP [0]           seconds over which the slow streams start (0: all at once)
#   BENCH_SLOW_TIMEOUT [900]      seconds to wait for all slow streams to end
#   BENCH_TARGETS [direct quarry litellm]   which of the three to run
#   BENCH_CLIENT_CPU_BENCH [1]    0 skips bedrock_client_cpu.py
#   BENCH_SERVER_CPU [0]          core of the server under test (and of bedrock_client_cpu.py)
#   BENCH_CLIENT_CPU [1]          core of the emulators and load clients
#   BENCH_LITELLM_SPEC [litellm[proxy]]  what pip installs into bench/.venv-litellm when it is missing
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/gateway_lib.sh
source bench/gateway_lib.sh

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
rps_concurrency=${BENCH_RPS_CONCURRENCY:-32 64}
stream_concurrency=${BENCH_STREAM_CONCURRENCY:-64}
stream_words=${BENCH_STREAM_WORDS:-500}
slow_streams=${BENCH_SLOW_STREAMS:-1000}
slow_tps=${BENCH_SLOW_TPS:-20}
slow_words=${BENCH_SLOW_WORDS:-200}
slow_ramp=${BENCH_SLOW_RAMP:-0}
slow_timeout=${BENCH_SLOW_TIMEOUT:-900}
targets=${BENCH_TARGETS:-direct quarry litellm}
client_cpu_bench=${BENCH_CLIENT_CPU_BENCH:-1}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
litellm_spec=${BENCH_LITELLM_SPEC:-litellm[proxy]}

model=anthropic.claude-3-haiku-20240307-v1:0
api_key=bench-key
litellm_venv=bench/.venv-litellm

check_setup

raise_open_files $((2 * slow_streams + 1024))

ensure_litellm

start_run gateway
trap cleanup EXIT

# fast_benchmarks TARGET API URL PID_ARGS...: latency, requests/s and streamed chunks/s against the fast emulator.
fast_benchmarks() {
    local target=$1 api=$2 url=$3 c
    shift 3
    local common=(--api "$api" --url "$url" --model "$model" --api-key "$api_key" "$@")
    bench "$target" check "${client[@]}" check "${common[@]}" --words 20
    if ! passed_last_check; then
        echo "error: $target did not pass the smoke check; skipping its benchmarks" >&2
        return
    fi
    bench "$target" latency "${client[@]}" converse "${common[@]}" --concurrency 1 \
        --duration "$duration" --warmup "$warmup"
    for c in $rps_concurrency; do
        bench "$target" "rps-$c" "${client[@]}" converse "${common[@]}" --concurrency "$c" \
            --duration "$duration" --warmup "$warmup"
    done
    bench "$target" "stream-$stream_concurrency" "${client[@]}" stream "${common[@]}" \
        --concurrency "$stream_concurrency" --duration "$duration" --warmup "$warmup" --words "$stream_words"
}

start_fast_emulator

if [[ $client_cpu_bench != 0 ]]; then
    echo "running: bedrock_client_cpu.py" >&2
    cpu_status=0
    taskset -c "$server_cpu" "$python" bench/bedrock_client_cpu.py --url "$fast_url" \
        >"$workdir/client_cpu.txt" || cpu_status=$?
    cat "$workdir/client_cpu.txt"
    grep '^{' "$workdir/client_cpu.txt" | while IFS= read -r line; do
        printf '%s\t%s\t%s\t%s\t%s\n' client-cpu bedrock-client "$cpu_status" \
            "taskset -c $server_cpu python bench/bedrock_client_cpu.py" "$line" >>"$results"
    done
    if [[ $cpu_status != 0 ]] && ! grep -q '^{' "$workdir/client_cpu.txt"; then
        printf '%s\t%s\t%s\t%s\t%s\n' client-cpu bedrock-client "$cpu_status" "bench/bedrock_client_cpu.py" \
            '{"errors": 1, "first_error": "bedrock_client_cpu.py printed no result"}' >>"$results"
    fi
fi

start_emulator slow "$slow_tps"
slow_url=$emulator_url
slow_pid=$emulator_pid

for target in $targets; do
    case $target in
    direct)
        fast_benchmarks direct bedrock "$fast_url" --pid "emulator=$fast_pid"
        slow_benchmark direct bedrock "$slow_url" --pid "emulator=$slow_pid"
        ;;
    quarry | litellm)
        start_gateway "$target" "$fast_url"
        echo "$server_cmd" >"$workdir/$target.cmd"
        fast_benchmarks "$target" openai "$server_url" --pid "gateway=$server_pid" --pid "emulator=$fast_pid"
        stop "$server_pid"
        start_gateway "$target" "$slow_url"
        bench "$target" slow-check "${client[@]}" check --url "$server_url" --model "$model" \
            --api-key "$api_key" --words 3
        slow_benchmark "$target" openai "$server_url" --pid "gateway=$server_pid" --pid "emulator=$slow_pid"
        stop "$server_pid"
        ;;
    *)
        echo "error: unknown target $target in BENCH_TARGETS (direct, quarry, litellm)" >&2
        exit 1
        ;;
    esac
done

mkdir -p bench/results
saved=bench/results/gateway-$stamp.jsonl
report_args=(--save "$saved" --emulator-command "$fast_cmd" --slow-tps "$slow_tps" --slow-streams "$slow_streams")
for target in quarry litellm; do
    if [[ -f $workdir/$target.cmd ]]; then
        report_args+=(--server-command "$target=$(cat "$workdir/$target.cmd")")
    fi
done
if [[ -x $litellm_venv/bin/python ]]; then
    report_args+=(--litellm-version "$("$litellm_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')")
fi
"$python" bench/gateway_report.py "$results" "${report_args[@]}"
