# idgate — gateway and simulator for identity-verification authorities.
GO      ?= go
BIN     := bin
PKGS    := ./...
export GOFLAGS := -buildvcs=false

.PHONY: all build test run run-cluster setup vet fmt-check unit compose-check clean bench bench-compare bench-cluster bench-tool loadtest pgo

all: build

build: ## compile bin/simulator and bin/gateway
	$(GO) build -o $(BIN)/simulator ./simulator/cmd/simulator
	$(GO) build -o $(BIN)/gateway ./gateway/cmd/gateway

setup: ## install the tools tests need (Debian packages, Node modules)
	./scripts/setup.sh

test: setup build fmt-check vet unit compose-check ## every test CI runs

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

compose-check: ## validate docker-compose.yml, default and cluster profile (no Docker engine runs here)
	docker-compose -f docker-compose.yml config -q
	docker-compose -f docker-compose.yml --profile cluster config -q
	@# The cluster's nginx configuration, where nginx is installed (make
	@# bench installs it): its replicas' names resolve only inside compose,
	@# so they are checked as 127.0.0.1.
	@ng=$$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true); \
	if [ -n "$$ng" ]; then d=$$(mktemp -d); \
	  sed 's/gateway-[0-9]*:8080/127.0.0.1:8080/' configs/nginx/cluster.conf >$$d/nginx.conf; \
	  $$ng -t -q -c $$d/nginx.conf -p $$d; rc=$$?; rm -rf $$d; exit $$rc; fi

run: build ## start the simulator and the gateway on embedded defaults
	./scripts/run.sh

REPLICAS ?= 2
run-cluster: build ## start the simulator and REPLICAS gateway replicas (default 2) sharing the local Redis and PostgreSQL
	./scripts/run-cluster.sh $(REPLICAS)

BENCH_FLAGS ?= -duration 8s -rounds 3 -conns 64
bench-tool: ## compile bin/idgate-bench, the benchmark harness and load generator
	$(GO) build -o $(BIN)/idgate-bench ./loadtest/bench/cmd/idgate-bench

# BASE=<git revision> adds "gateway@base" to the run: the gateway as that
# revision's own `make build` makes it (its PGO profile included), built in
# a temporary git worktree (removed afterwards, failed or not) into
# $(BIN)/base/, measured in the same rounds as the working tree's gateway
# (same simulator, same load, the two swapping order every round), with
# the paired ratios gateway / gateway@base of req/s and of requests per CPU
# second of the gateway process (target >= 0.95). Taken from the command
# line only (an environment variable BASE is ignored); unset: no base.
BASE :=
# What bench-compare compares with when BASE is unset: the branch work
# merges into.
COMPARE_BASE := main

bench: build bench-tool ## side-by-side throughput/latency of bare handler, simulator, bare proxy, gateway and nginx; BASE=<rev> adds the gateway of <rev>
	./scripts/setup.sh --bench
	$(if $(BASE),$(BIN)/idgate-bench build-base -rev '$(BASE)' -o $(BIN)/base -go '$(GO)')
	$(BIN)/idgate-bench run -bin $(BIN) $(if $(BASE),-base $(BIN)/base) $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench 'CheckHandler|Serve$$|ServeTencent$$|Decode|Authenticate|Unwrap|AllowDone|AppendParallel' -benchmem -benchtime 1s \
		./simulator/server ./gateway/pipeline ./gateway/auth ./gateway/breaker ./contracts ./contracts/fieldcrypto ./gateway/wal

bench-compare: build bench-tool ## the harness alone (no micro-benchmarks), the working tree's gateway against BASE's (default main): make bench-compare BASE=HEAD
	./scripts/setup.sh --bench
	$(BIN)/idgate-bench build-base -rev '$(or $(BASE),$(COMPARE_BASE))' -o $(BIN)/base -go '$(GO)'
	$(BIN)/idgate-bench run -bin $(BIN) -base $(BIN)/base $(BENCH_FLAGS)

# The cluster comparison: the embedded gateway, one replica on the shared
# stores and two replicas (the generator splitting its connections across
# them), side by side in the same rounds, against the local Redis and
# PostgreSQL (a fresh key prefix and schema per run, removed afterwards);
# also the CPU of redis-server and of postgres, and Redis round trips and
# commands per request. REDIS_URL / POSTGRES_URL point it elsewhere;
# CLUSTER_BENCH_FLAGS="-private-redis ..." gives the gateways a Redis of
# the run's own (no other client in its figures).
CLUSTER_BENCH_FLAGS ?= -duration 8s -rounds 3 -conns 64
REDIS_URL ?= redis://127.0.0.1:6379/0
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
bench-cluster: build bench-tool ## embedded gateway vs one and two shared-store replicas: throughput, CPU (gateway, redis, postgres), Redis round trips and commands per request
	$(BIN)/idgate-bench run -bin $(BIN) -cluster -redis-url '$(REDIS_URL)' -postgres-url '$(POSTGRES_URL)' $(CLUSTER_BENCH_FLAGS)

# The gateway is built with profile-guided optimisation from
# gateway/cmd/gateway/default.pgo (go build picks it up). Refresh it after
# changes to the request path: it profiles the gateway at saturation.
pgo: build bench-tool ## re-record gateway/cmd/gateway/default.pgo under load
	$(BIN)/idgate-bench pgo -bin $(BIN) -o gateway/cmd/gateway/default.pgo
	$(GO) build -o $(BIN)/gateway ./gateway/cmd/gateway

RATE ?= 500
DURATION ?= 30s
loadtest: setup build ## k6 capacity run against gateway→simulator: make loadtest RATE=2000
	./scripts/loadtest.sh capacity.js RATE=$(RATE) DURATION=$(DURATION)

clean:
	rm -rf $(BIN)
