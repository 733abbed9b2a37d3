#!/usr/bin/env bash
# Starts the simulator and the gateway in front of it on embedded defaults,
# and stops both on Ctrl-C. `make run` calls it after building.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/procs.sh

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
