#!/usr/bin/env bash
# Starts the simulator and the gateway in front of it on embedded defaults,
# and stops both on Ctrl-C. `make run` calls it after building.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_healthy() {
  for _ in $(seq 1 100); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "run: $1 did not become healthy" >&2
  return 1
}

./bin/simulator "$@" &
pids+=($!)
wait_healthy http://127.0.0.1:8081/healthz
if [ -x ./bin/gateway ]; then
  ./bin/gateway &
  pids+=($!)
  wait_healthy http://127.0.0.1:8080/healthz
fi
cat <<MSG
idgate is running:
  simulator  http://127.0.0.1:8081   token sim-token, admin token sim-admin-token
  gateway    http://127.0.0.1:8080   key demo-key; admin http://127.0.0.1:9080 (token gateway-admin-token)
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
