# shellcheck shell=bash disable=SC2034,SC2154  # globals: the caller sets the inputs (below) and reads server_*
# Shell functions shared by bench/run_gateway.sh and bench/run_targets.sh (sourced, not run).
#
# The caller has cd'd to the repo root and set server_cpu, client_cpu, model, api_key, targets and, for the
# gateways it starts, litellm_venv, litellm_spec, bag_src, bag_venv and tiktoken_cache; check_setup sets python,
# start_run workdir, results, run_name, pids and client. Each server started is pinned with taskset and added to
# pids, which cleanup stops.

# check_setup: the repo's venv is there (sets python); with fewer than 2 cores everything shares core 0.
check_setup() {
    if [[ ! -x .venv/bin/quarry ]]; then
        echo "error: .venv/bin/quarry not found; create the venv first: scripts/test (creates .venv, installs" >&2
        echo "quarry[dev] from the lock, then runs the checks)" >&2
        exit 1
    fi
    python=.venv/bin/python
    if [[ $(nproc) -lt 2 ]]; then
        echo "warning: fewer than 2 cores: server and client share a core, figures are not comparable" >&2
        server_cpu=0
        client_cpu=0
    fi
}

# ensure_litellm: when targets names litellm, install litellm_spec into litellm_venv unless it is there.
ensure_litellm() {
    if [[ " $targets " == *" litellm "* && ! -x $litellm_venv/bin/litellm ]]; then
        echo "installing $litellm_spec into $litellm_venv (its own venv: its pinned dependencies stay out of .venv)" >&2
        python3 -m venv "$litellm_venv"
        "$litellm_venv/bin/pip" install --quiet "$litellm_spec"
    fi
}

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# raise_open_files N: every slow stream holds a socket in the client, two in a gateway and one in the emulator.
raise_open_files() {
    local wanted=$1
    if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $wanted ]]; then
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $wanted ]]; then
            echo "warning: open-files limit $(ulimit -n) < $wanted: the slow-stream test may fail to connect" >&2
        fi
    fi
}

# start_run NAME: a temporary directory and an empty results file for the run NAME-STAMP; sets workdir, results,
# stamp, run_name, pids and client (the load client on core client_cpu). The caller then traps cleanup on EXIT.
start_run() {
    workdir=$(mktemp -d -t "quarry-$1-bench.XXXXXX")
    results=$workdir/results.tsv
    : >"$results"
    stamp=$(date +%Y%m%d-%H%M%S)
    run_name=$1-$stamp
    pids=()
    client=(taskset -c "$client_cpu" "$python" bench/gateway_load.py)
}

# stop_pids: stop every process in pids still running, and wait for each.
stop_pids() {
    local pid
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}

# Stop what the script started; keep the servers' logs next to the results (bench/results/ is gitignored).
cleanup() {
    stop_pids
    if compgen -G "$workdir/*.log" >/dev/null; then
        mkdir -p "bench/results/$run_name-logs"
        cp "$workdir"/*.log "bench/results/$run_name-logs/"
    fi
    rm -rf "$workdir"
}

# wait_ready PID URL LOG: poll URL until it answers 200; fail if the process dies or after 120 s.
wait_ready() {
    local pid=$1 url=$2 log=$3
    for _ in $(seq 1200); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: process $pid exited before answering $url:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "error: no answer on $url after 120 s:" >&2
    cat "$log" >&2
    exit 1
}

stop() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# start_emulator NAME TOKENS_PER_SECOND: sets emulator_pid and emulator_url.
start_emulator() {
    local name=$1 tps=$2 port log
    port=$(free_port)
    log=$workdir/emulator-$name.log
    taskset -c "$client_cpu" .venv/bin/quarry emulator --host 127.0.0.1 --port "$port" \
        --first-byte-ms 0 --tokens-per-second "$tps" --fault-rate 0 >"$log" 2>&1 &
    emulator_pid=$!
    pids+=("$emulator_pid")
    emulator_url=http://127.0.0.1:$port
    wait_ready "$emulator_pid" "$emulator_url/ping" "$log"
}

# start_fast_emulator: the emulator with pacing, first-byte delay and faults off; sets fast_url, fast_pid, fast_cmd.
start_fast_emulator() {
    start_emulator fast 0
    fast_url=$emulator_url
    fast_pid=$emulator_pid
    fast_cmd="taskset -c $client_cpu quarry emulator --first-byte-ms 0 --tokens-per-second 0 --fault-rate 0"
}

# aws_env EMULATOR_URL: sets aws, the command prefix of every gateway: the emulator's endpoints, dummy keys, and
# nothing from the caller's shell (no profile, config file, session token or Bedrock API key).
aws_env() {
    local upstream=$1
    aws=(env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN -u AWS_BEARER_TOKEN_BEDROCK \
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME="$upstream" AWS_ENDPOINT_URL_BEDROCK="$upstream" \
        AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)
}

# start_gateway TARGET EMULATOR_URL: quarry, litellm or bag (bedrock-access-gateway) on core server_cpu; sets
# server_pid, server_url, server_cmd and server_prefix (the path before /v1/...).
start_gateway() {
    local target=$1 upstream=$2 port log
    local -a aws
    aws_env "$upstream"
    port=$(free_port)
    log=$workdir/$target-$port.log
    server_url=http://127.0.0.1:$port
    server_prefix=
    case $target in
    quarry)
        server_cmd="taskset -c $server_cpu quarry serve --host 127.0.0.1 --port $port --backend bedrock --workers 1"
        "${aws[@]}" QUARRY_API_KEY="$api_key" QUARRY_DATA_DIR="$workdir/quarry-data" \
            QUARRY_CONFIG="$workdir/none.toml" \
            taskset -c "$server_cpu" .venv/bin/quarry serve --host 127.0.0.1 --port "$port" --backend bedrock \
            --workers 1 >"$log" 2>&1 &
        server_pid=$!
        pids+=("$server_pid")
        wait_ready "$server_pid" "$server_url/health" "$log"
        ;;
    litellm)
        server_cmd="taskset -c $server_cpu litellm --config bench/litellm_config.yaml --num_workers 1"
        env -u DATABASE_URL BENCH_EMULATOR_URL="$upstream" BENCH_API_KEY="$api_key" \
            LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
            taskset -c "$server_cpu" "$litellm_venv/bin/litellm" --config bench/litellm_config.yaml \
            --host 127.0.0.1 --port "$port" --num_workers 1 >"$log" 2>&1 &
        server_pid=$!
        pids+=("$server_pid")
        wait_ready "$server_pid" "$server_url/health/liveliness" "$log"
        ;;
    bag)
        # As its Dockerfile runs it (`uvicorn api.app:app`, one process, uvicorn's defaults); API_KEY is its
        # bearer key; DEFAULT_MODEL only matters if its start-up model listing (the emulator's control plane)
        # fails. It serves the OpenAI API under /api/v1.
        server_cmd="taskset -c $server_cpu uvicorn api.app:app --app-dir $bag_src --host 127.0.0.1 --port $port"
        "${aws[@]}" API_KEY="$api_key" DEFAULT_MODEL="$model" TIKTOKEN_CACHE_DIR="$tiktoken_cache" \
            taskset -c "$server_cpu" "$bag_venv/bin/python" -m uvicorn api.app:app --app-dir "$bag_src" \
            --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
        server_pid=$!
        pids+=("$server_pid")
        server_prefix=/api
        wait_ready "$server_pid" "$server_url/health" "$log"
        ;;
    *)
        echo "error: unknown gateway $target" >&2
        exit 1
        ;;
    esac
}

# bench TARGET LABEL COMMAND...: run one client, keep its JSON line.
bench() {
    local target=$1 label=$2 line status=0
    shift 2
    echo "running: $target $label: $*" >&2
    line=$("$@" | grep '^{' | tail -n 1) || status=$?
    if [[ -z $line ]]; then
        line='{"errors": 1, "first_error": "client printed no result"}'
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$label" "$status" "$*" "$line" >>"$results"
}

# passed_last_check: whether the last result line (a smoke check) had no errors.
passed_last_check() {
    tail -n 1 "$results" | cut -f5 | grep -q '"errors": 0'
}

# slow_benchmark TARGET API URL ARGS...: slow_streams streams at once against the paced emulator (run by client).
slow_benchmark() {
    local target=$1 api=$2 url=$3
    shift 3
    bench "$target" slow "${client[@]}" slow --api "$api" --url "$url" --model "$model" --api-key "$api_key" \
        --concurrency "$slow_streams" --words "$slow_words" --ramp "$slow_ramp" --timeout "$slow_timeout" "$@"
}
