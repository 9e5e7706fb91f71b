#!/usr/bin/env bash
# Issue 22's targets, judged in one run: Quarry side by side with the emulator called directly and
# bedrock-access-gateway (BAG), all against the same emulator.
#
#   BENCH_BAG_SRC=/path/to/bedrock-access-gateway bench/run_targets.sh
#
# The four targets and what measures them (each client 2 s warm-up + 10 s measured unless said):
#   1. requests/s at 32 connections, non-streamed, Quarry one worker: >= 5x BAG and >= 0.5x the emulator direct
#      (chat completions for the gateways, Converse for the emulator);
#   2. latency added over the emulator at concurrency 1, p50 <= 1 ms and p99 <= 3 ms, for Quarry's chat
#      completions, Anthropic Messages, Responses and Bedrock Converse routes (the baseline: Converse direct);
#   3. 1,000 streams at once against an emulator pacing 20 tokens/s: 0 errors, first-token delay added over direct
#      p99 <= 300 ms, Quarry's peak RSS <= 300 MB (Quarry restarted for it, so the peak is start-up plus streams);
#   4. streamed chunks per core: Quarry's CPU per streamed chunk (64 connections, 500-word answers) at most half of
#      the 2026-12-04 figure in docs/performance.md (16.0 us), i.e. <= 8.0 us.
# BAG runs the smoke check, latency, requests/s and streamed chunks (not the slow streams: it has no target there).
# LiteLLM is optional (BENCH_TARGETS="direct quarry bag litellm"), the same benchmarks as BAG, reported only.
#
# Cores as in run_gateway.sh: the gateway under test has core BENCH_SERVER_CPU to itself; the emulators and the load
# client share core BENCH_CLIENT_CPU; the direct baseline runs in the same layout. Prints the Markdown table
# (figure | emulator direct | Quarry | BAG | target | met) and a per-run table; saves the JSON lines (tagged with
# target and benchmark, plus a summary line) to bench/results/targets-STAMP.jsonl, the servers' logs to
# bench/results/targets-STAMP-logs/. Exits 0 only if every target was judged and met and every check passed.
# About 5.5 minutes with the defaults (measured on 2026-12-05); LiteLLM adds its four benchmarks (~1 minute, not timed)
# and, on its first run, its install.
#
# Environment knobs (defaults in brackets):
#   BENCH_BAG_SRC []              bedrock-access-gateway's checkout (or its src/ directory); unset: BAG is skipped
#                                 and target 1's BAG half is "not judged"
#   BENCH_TARGETS [direct quarry bag]   which to run, in order; add litellm for the LiteLLM proxy
#   BENCH_LATENCY_APIS [openai anthropic responses bedrock]   Quarry's routes timed at concurrency 1
#   BENCH_DURATION [10]           measured seconds per throughput / latency benchmark
#   BENCH_WARMUP [2]              unmeasured seconds before each of them
#   BENCH_RPS_CONCURRENCY [32]    connections for the requests/s benchmark
#   BENCH_STREAM_CONCURRENCY [64] connections for the streamed chunks benchmark
#   BENCH_STREAM_WORDS [500]      words per streamed answer (~1.3 chunks per word)
#   BENCH_SLOW_STREAMS [1000]     streams opened at once against the paced emulator
#   BENCH_SLOW_TPS [20]           the paced emulator's tokens (events) per second per stream
#   BENCH_SLOW_WORDS [200]        words per slow stream (~270 events: ~14 s at 20 tokens/s)
#   BENCH_SLOW_RAMP [0]           seconds over which the slow streams start (0: all at once)
#   BENCH_SLOW_TIMEOUT [900]      seconds to wait for all slow streams to end
#   BENCH_SERVER_CPU [0]          core of the gateway under test
#   BENCH_CLIENT_CPU [1]          core of the emulators and load clients
#   BENCH_TIKTOKEN_CACHE [bench/.cache/tiktoken]   BAG's TIKTOKEN_CACHE_DIR (it loads cl100k_base at import)
#   BENCH_LITELLM_SPEC [litellm[proxy]]  what pip installs into bench/.venv-litellm when it is missing
set -euo pipefail

# A relative BENCH_BAG_SRC is the caller's, not the repo root's.
if [[ -n ${BENCH_BAG_SRC:-} && $BENCH_BAG_SRC != /* ]]; then
    BENCH_BAG_SRC=$PWD/$BENCH_BAG_SRC
fi
cd "$(dirname "$0")/.."
# shellcheck source=bench/gateway_lib.sh
source bench/gateway_lib.sh

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
rps_concurrency=${BENCH_RPS_CONCURRENCY:-32}
stream_concurrency=${BENCH_STREAM_CONCURRENCY:-64}
stream_words=${BENCH_STREAM_WORDS:-500}
slow_streams=${BENCH_SLOW_STREAMS:-1000}
slow_tps=${BENCH_SLOW_TPS:-20}
slow_words=${BENCH_SLOW_WORDS:-200}
slow_ramp=${BENCH_SLOW_RAMP:-0}
slow_timeout=${BENCH_SLOW_TIMEOUT:-900}
targets=${BENCH_TARGETS:-direct quarry bag}
latency_apis=${BENCH_LATENCY_APIS:-openai anthropic responses bedrock}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
tiktoken_cache=${BENCH_TIKTOKEN_CACHE:-bench/.cache/tiktoken}
litellm_spec=${BENCH_LITELLM_SPEC:-litellm[proxy]}

model=anthropic.claude-3-haiku-20240307-v1:0
api_key=bench-key
litellm_venv=bench/.venv-litellm
bag_venv=bench/.venv-bag
# tiktoken's cache name for cl100k_base: the SHA-1 of its download URL; tiktoken checks the content's SHA-256.
cl100k_file=9b5ad71b2ce5302211f9c61530b329a4922fc6a4

check_setup

raise_open_files $((2 * slow_streams + 1024))

# bedrock-access-gateway: its source from BENCH_BAG_SRC, its dependencies in bench/.venv-bag (gitignored).
bag_src=
bag_skipped=
bag_version=
if [[ " $targets " == *" bag "* ]]; then
    if [[ -z ${BENCH_BAG_SRC:-} ]]; then
        bag_skipped="BENCH_BAG_SRC is not set"
    elif [[ -f $BENCH_BAG_SRC/api/app.py ]]; then
        bag_src=$(cd "$BENCH_BAG_SRC" && pwd)
    elif [[ -f $BENCH_BAG_SRC/src/api/app.py ]]; then
        bag_src=$(cd "$BENCH_BAG_SRC/src" && pwd)
    else
        echo "error: BENCH_BAG_SRC=$BENCH_BAG_SRC holds neither api/app.py nor src/api/app.py" >&2
        exit 1
    fi
    if [[ -n $bag_skipped ]]; then
        echo "note: bedrock-access-gateway skipped ($bag_skipped): its columns stay empty and target 1's BAG" \
            "half is not judged. See bench/README.md, \"How to get bedrock-access-gateway\"." >&2
        targets=${targets//bag/}
    else
        bag_version=$(git -C "$bag_src" log -1 --format='%h %cs' 2>/dev/null || echo "from $bag_src")
        if [[ ! -x $bag_venv/bin/python ]]; then
            echo "installing bedrock-access-gateway's requirements into $bag_venv" >&2
            python3 -m venv "$bag_venv"
            "$bag_venv/bin/pip" install --quiet -r "$bag_src/requirements.txt"
        fi
        mkdir -p "$tiktoken_cache"
        tiktoken_cache=$(cd "$tiktoken_cache" && pwd)
        if [[ ! -f $tiktoken_cache/$cl100k_file ]]; then
            # As BAG's Dockerfile does (a download from openaipublic.blob.core.windows.net); offline, a copy that
            # LiteLLM's or LlamaIndex's package left in bench/.venv-litellm or ~/.cache (tiktoken checks its hash).
            if ! TIKTOKEN_CACHE_DIR=$tiktoken_cache "$bag_venv/bin/python" -c \
                'import tiktoken_ext.openai_public as tke; tke.cl100k_base()' 2>/dev/null; then
                bundled=$(find "$litellm_venv" "${HOME:-/nonexistent}/.cache" -name "$cl100k_file" -type f \
                    2>/dev/null | head -n 1 || true)
                if [[ -z $bundled ]]; then
                    echo "error: bedrock-access-gateway needs tiktoken's cl100k_base file in $tiktoken_cache" \
                        "(download failed). Put $cl100k_file there (LiteLLM's package bundles it under" \
                        "litellm/litellm_core_utils/tokenizers/) or set BENCH_TIKTOKEN_CACHE." >&2
                    exit 1
                fi
                echo "using $bundled as tiktoken's cl100k_base" >&2
                cp "$bundled" "$tiktoken_cache/"
            fi
        fi
    fi
fi

ensure_litellm

start_run targets
trap cleanup EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# throughput TARGET API URL ARGS...: requests/s and streamed chunks against the fast emulator.
throughput() {
    local target=$1 api=$2 url=$3
    shift 3
    local common=(--api "$api" --url "$url" --model "$model" --api-key "$api_key" "$@")
    bench "$target" "rps-$rps_concurrency" "${client[@]}" converse "${common[@]}" --concurrency "$rps_concurrency" \
        --duration "$duration" --warmup "$warmup"
    bench "$target" "stream-$stream_concurrency" "${client[@]}" stream "${common[@]}" \
        --concurrency "$stream_concurrency" --duration "$duration" --warmup "$warmup" --words "$stream_words"
}

# latency TARGET API URL ARGS...: a smoke check of the route, then latency at concurrency 1; 1 if the check failed.
latency() {
    local target=$1 api=$2 url=$3
    shift 3
    local common=(--api "$api" --url "$url" --model "$model" --api-key "$api_key" "$@")
    bench "$target" "check-$api" "${client[@]}" check "${common[@]}" --words 20
    if ! passed_last_check; then
        echo "error: $target did not pass the $api smoke check; skipping its benchmarks there" >&2
        return 1
    fi
    bench "$target" "latency-$api" "${client[@]}" converse "${common[@]}" --concurrency 1 \
        --duration "$duration" --warmup "$warmup"
}

start_fast_emulator
start_emulator slow "$slow_tps"
slow_url=$emulator_url
slow_pid=$emulator_pid

for target in $targets; do
    case $target in
    direct)
        if latency direct bedrock "$fast_url" --pid "emulator=$fast_pid"; then
            throughput direct bedrock "$fast_url" --pid "emulator=$fast_pid"
        fi
        slow_benchmark direct bedrock "$slow_url" --pid "emulator=$slow_pid"
        ;;
    quarry)
        start_gateway quarry "$fast_url"
        echo "$server_cmd" >"$workdir/quarry.cmd"
        watch=(--pid "gateway=$server_pid" --pid "emulator=$fast_pid")
        for api in $latency_apis; do
            extra=()
            [[ $api == bedrock ]] && extra=(--auth bearer)
            latency quarry "$api" "$server_url" "${extra[@]}" "${watch[@]}" || true
        done
        throughput quarry openai "$server_url" "${watch[@]}"
        stop "$server_pid"
        start_gateway quarry "$slow_url"
        bench quarry slow-check "${client[@]}" check --url "$server_url" --model "$model" --api-key "$api_key" \
            --words 3
        slow_benchmark quarry openai "$server_url" --pid "gateway=$server_pid" --pid "emulator=$slow_pid"
        stop "$server_pid"
        ;;
    bag | litellm)
        start_gateway "$target" "$fast_url"
        echo "$server_cmd" >"$workdir/$target.cmd"
        watch=(--prefix "$server_prefix" --pid "gateway=$server_pid" --pid "emulator=$fast_pid")
        if latency "$target" openai "$server_url" "${watch[@]}"; then
            throughput "$target" openai "$server_url" "${watch[@]}"
        fi
        stop "$server_pid"
        ;;
    *)
        echo "error: unknown target $target in BENCH_TARGETS (direct, quarry, bag, litellm)" >&2
        exit 1
        ;;
    esac
done

mkdir -p bench/results
saved=bench/results/$run_name.jsonl
report_args=(--save "$saved" --emulator-command "$fast_cmd" --slow-tps "$slow_tps" --slow-streams "$slow_streams"
    --rps-concurrency "$rps_concurrency" --stream-concurrency "$stream_concurrency"
    --load-average "start $load_start, end $(cut -d' ' -f1-3 /proc/loadavg)")
for target in quarry bag litellm; do
    if [[ -f $workdir/$target.cmd ]]; then
        report_args+=(--server-command "$target=$(cat "$workdir/$target.cmd")")
    fi
done
[[ -n $bag_skipped ]] && report_args+=(--bag-skipped "$bag_skipped")
[[ -n $bag_version ]] && report_args+=(--bag-version "$bag_version")
if [[ " $targets " == *" litellm "* && -x $litellm_venv/bin/python ]]; then
    version=$("$litellm_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')
    report_args+=(--litellm-version "$version")
fi
"$python" bench/targets_report.py "$results" "${report_args[@]}"
