#!/usr/bin/env bash
# Runs one k6 script against the stack on embedded defaults:
#   scripts/loadtest.sh capacity.js RATE=2000 DURATION=30s
# Starts the simulator (journal off) and the gateway, generates test data,
# runs k6, and stops the stack whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
script=${1:?usage: loadtest.sh SCRIPT [VAR=value ...]}
shift
mkdir -p loadtest/results var/loadtest
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
wait_healthy() {
  for _ in $(seq 1 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "loadtest: $1 did not become healthy" >&2; return 1
}
IDGATE_SIM_JOURNAL_ENABLED=false ./bin/simulator >var/loadtest/simulator.log 2>&1 &
pids+=($!)
wait_healthy http://127.0.0.1:8081/healthz
IDGATE_GW_STORE_PATH=var/loadtest/ledger.db ./bin/gateway >var/loadtest/gateway.log 2>&1 &
pids+=($!)
wait_healthy http://127.0.0.1:8080/healthz
go run ./loadtest/cmd/idgen -n 20000 -seed 1 > loadtest/results/data.json
env_args=()
for kv in "$@"; do env_args+=(-e "$kv"); done
./bin/k6 run --no-usage-report "${env_args[@]}" -e DATA_FILE="$PWD/loadtest/results/data.json" -e RESULTS_DIR=loadtest/results "loadtest/k6/$script"
