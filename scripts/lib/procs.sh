# Sourced by the run scripts: the processes they start, stopped together
# on Ctrl-C or exit, and a wait for each to answer its health URL.
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# wait_healthy URL [PID]: until URL answers, giving up after 15 s, or at
# once when PID has exited (a process that cannot start says why in its
# own log).
wait_healthy() {
  for _ in $(seq 1 150); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      echo "$(basename "$0"): the process serving $1 exited" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$(basename "$0"): $1 did not become healthy" >&2
  return 1
}
