# shellcheck shell=bash disable=SC2034,SC2154  # globals: the caller sets the inputs (below) and reads server_*
# Shell functions shared by bench/run_gateway.sh and bench/run_targets.sh (sourced, not run).
#
# The caller has cd'd to the repo root and set: python (the venv's interpreter), workdir (a temporary directory),
# results (the tab-separated results file), run_name (prefix of the kept logs under bench/results/), server_cpu,
# client_cpu, model, api_key, pids=() and, for the gateways it starts, litellm_venv, bag_src, bag_venv and
# tiktoken_cache. Each server started is pinned with taskset and added to pids, which cleanup stops.

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

# Stop what the script started; keep the servers' logs next to the results (bench/results/ is gitignored).
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
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
            taskset -c "$server_cpu" .venv/bin/quarry serve --host 127.0.0.1 --port "$port" --backend bedrock --workers 1 \
            >"$log" 2>&1 &
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
