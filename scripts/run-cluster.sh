#!/usr/bin/env bash
# Starts the simulator and a fleet of gateway replicas (default 2) sharing
# the local Redis and PostgreSQL (configs/gateway.cluster.yaml), without
# Docker, and stops them all on Ctrl-C. `make run-cluster` calls it after
# building; `make run-cluster REPLICAS=3` runs three.
#
# Replica i listens on 127.0.0.1:80i0 (admin 90i0): 8080, 8090, 8100, ...
# and keeps its own journal under var/cluster/gateway-i/. With nginx
# installed (IDGATE_LB=off to skip), a least-connections balancer on
# 127.0.0.1:8000 fronts them all.
#
# Other stores: IDGATE_GW_REDIS_URL, IDGATE_GW_POSTGRES_URL (and
# IDGATE_GW_STORES_REDIS_PREFIX / IDGATE_GW_STORES_POSTGRES_SCHEMA to keep
# a second fleet apart in the same ones).
set -euo pipefail
cd "$(dirname "$0")/.."
replicas=${1:-2}
if ! [[ "$replicas" =~ ^[1-9]$ ]]; then
  echo "run-cluster: replicas must be 1 to 9, got '$replicas'" >&2
  exit 2
fi
config=configs/gateway.cluster.yaml
redis_url=${IDGATE_GW_REDIS_URL:-redis://127.0.0.1:6379/0}
pg_url=${IDGATE_GW_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}

. scripts/lib/procs.sh

# The stores must answer before any replica starts: said plainly here
# rather than as a replica's start-up error.
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  echo "run-cluster: Redis does not answer at $redis_url (set IDGATE_GW_REDIS_URL)" >&2
  exit 1
fi
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$pg_url"; then
  echo "run-cluster: PostgreSQL does not answer at the configured URL (set IDGATE_GW_POSTGRES_URL)" >&2
  exit 1
fi

./bin/simulator &
pids+=($!)
wait_healthy http://127.0.0.1:8081/healthz $!

urls=()
for i in $(seq 1 "$replicas"); do
  listen=127.0.0.1:$((8070 + 10 * i))
  admin=127.0.0.1:$((9070 + 10 * i))
  dir=var/cluster/gateway-$i
  mkdir -p "$dir"
  IDGATE_GW_STORE_PATH=$dir/ledger.db IDGATE_GW_STORES_REPLICAS=$replicas \
    IDGATE_GW_REDIS_URL=$redis_url IDGATE_GW_POSTGRES_URL=$pg_url \
    ./bin/gateway -config "$config" -listen "$listen" -admin-listen "$admin" \
    2> >(sed -u "s/^/[gateway-$i] /" >&2) &
  pids+=($!)
  # /readyz: this replica reaches both stores.
  wait_healthy "http://$listen/readyz" $!
  urls+=("  gateway-$i  http://$listen   admin http://$admin   spool $dir/")
done

lb=""
nginx_bin=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ "${IDGATE_LB:-on}" != off ] && [ -n "$nginx_bin" ]; then
  ngdir=$PWD/var/cluster/nginx
  mkdir -p "$ngdir"
  {
    echo "worker_processes 1; error_log $ngdir/error.log warn; pid $ngdir/nginx.pid;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $ngdir; proxy_temp_path $ngdir;"
    echo "  upstream idgate { least_conn;"
    for i in $(seq 1 "$replicas"); do echo "    server 127.0.0.1:$((8070 + 10 * i)) max_fails=3 fail_timeout=5s;"; done
    echo "    keepalive 32; }"
    # See configs/nginx/cluster.conf: a POST already sent is never re-sent.
    echo "  server { listen 127.0.0.1:8000;"
    echo "    location / { proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$http_host;"
    echo "      proxy_read_timeout 15s; proxy_next_upstream error timeout; proxy_pass http://idgate; } } }"
  } >"$ngdir/nginx.conf"
  "$nginx_bin" -c "$ngdir/nginx.conf" -p "$ngdir" -g "daemon off;" &
  pids+=($!)
  wait_healthy http://127.0.0.1:8000/healthz $!
  lb="  balancer   http://127.0.0.1:8000   nginx, least connections over the replicas"
fi

cat <<MSG
idgate cluster is running ($replicas replicas, Redis and PostgreSQL shared):
  simulator  http://127.0.0.1:8081   token sim-token, admin token sim-admin-token
$(printf '%s\n' "${urls[@]}")
${lb:-  (no balancer: nginx is not installed; spread clients over the replicas yourself)}
Every replica takes the key demo-key and shares one rate limit, quota and
ledger; admin token gateway-admin-token on each. Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
