package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The cluster comparison's targets besides the embedded gateway (gwName):
// the same gateway and configuration with its state in Redis and
// PostgreSQL, one replica, then two replicas sharing the stores with the
// generator splitting its connections between them (a client-side
// balancer: no proxy's cost in the figures).
const (
	gwSharedName   = "gateway-shared → simulator (one replica on Redis + PostgreSQL, miss path)"
	gwSharedX2Name = "gateway-shared-x2 → simulator (two replicas on Redis + PostgreSQL, load split by the generator)"
)

// The cluster comparison's targets, which BENCHMARKS.md states them
// against: one replica on the shared stores keeps at least this share of
// the embedded gateway's throughput, and a request on the miss path costs
// at most this many Redis commands (one script call admits it: rate
// token and quota lease together; settlement rides on a later call).
const (
	sharedThroughputTarget  = 0.75
	sharedRedisCallsPerReqT = 1.0
)

// storeIdleSample is how long a shared target's stores are watched idle
// before each of its runs, for their background rate.
const storeIdleSample = time.Second

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// clusterTargets starts the embedded gateway and the shared-store
// replicas in front of the simulator at simAddr. Each shared target gets
// its own Redis key prefix and PostgreSQL schema, removed (keys deleted
// one by one, never a flush: the stores may be shared) by a cleanup
// appended to cleanups, which run() calls once the servers have stopped.
func clusterTargets(ln *launcher, o runOpts, tmp string, sim *proc, simAddr string, cleanups *[]func()) (_ []target, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var redisPID int
	if o.privateRedis {
		if o.redisURL, redisPID, err = ln.privateRedis(); err != nil {
			return nil, err
		}
	}
	ropt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, fmt.Errorf("bench: -redis-url: not a redis:// URL") // it may hold a password: never quoted
	}
	rdb := redis.NewClient(ropt)
	*cleanups = append(*cleanups, func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("bench: -cluster: Redis (-redis-url) does not answer: %w", err)
	}
	conn, err := pgx.Connect(ctx, o.pgURL)
	if err != nil {
		return nil, fmt.Errorf("bench: -cluster: PostgreSQL (-postgres-url) does not answer") // the error may quote the URL
	}
	conn.Close(ctx)

	conf, err := benchGatewayConfig(tmp, "gateway.yaml", nil)
	if err != nil {
		return nil, err
	}
	gw, gwAddr, _, err := ln.gateway("gateway", o.binDir, simAddr, conf)
	if err != nil {
		return nil, err
	}
	targets := []target{{name: gwName, addr: gwAddr, token: "demo-key", procs: []*proc{gw, sim}}}

	// shared starts n replicas on a fresh space of the stores, configured
	// alike but for their ledgers (the launcher gives each its own file,
	// hence its own journal) and listeners.
	shared := func(name string, n int) ([]*proc, []string, error) {
		space, err := newSharedSpace()
		if err != nil {
			return nil, nil, err
		}
		space.privateRedis = o.privateRedis
		*cleanups = append(*cleanups, func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := space.drop(ctx, rdb, o.pgURL); err != nil {
				fmt.Fprintln(os.Stderr, "idgate-bench:", err)
			}
		})
		env := []string{
			"IDGATE_GW_STORES_MODE=shared",
			fmt.Sprintf("IDGATE_GW_STORES_REPLICAS=%d", n),
			"IDGATE_GW_REDIS_URL=" + o.redisURL,
			"IDGATE_GW_POSTGRES_URL=" + o.pgURL,
			"IDGATE_GW_STORES_REDIS_PREFIX=" + space.prefix,
			"IDGATE_GW_STORES_POSTGRES_SCHEMA=" + space.schema,
		}
		var ps []*proc
		var addrs []string
		for i := range n {
			pname := name
			if n > 1 {
				pname = fmt.Sprintf("%s-%d", name, i+1)
			}
			p, addr, _, err := ln.gateway(pname, o.binDir, simAddr, conf, env...)
			if err != nil {
				return nil, nil, err
			}
			ps, addrs = append(ps, p), append(addrs, addr)
		}
		return ps, addrs, nil
	}
	one, oneAddr, err := shared("gateway-shared", 1)
	if err != nil {
		return nil, err
	}
	targets = append(targets, target{name: gwSharedName, addr: oneAddr[0], token: "demo-key",
		procs: []*proc{one[0], sim}, probe: &storeProbe{rdb: rdb, redisPID: redisPID, gateways: one}})
	two, twoAddrs, err := shared("gateway-shared-x2", 2)
	if err != nil {
		return nil, err
	}
	targets = append(targets, target{name: gwSharedX2Name, addr: twoAddrs[0], addrs: twoAddrs[1:], token: "demo-key",
		procs: []*proc{two[0], two[1], sim}, fronts: 2, probe: &storeProbe{rdb: rdb, redisPID: redisPID, gateways: two}})
	return targets, nil
}

// privateRedis starts a redis-server of the run's own on a free port,
// nothing persisted, and returns its URL and pid; the launcher stops it
// after the gateways.
func (ln *launcher) privateRedis() (url string, pid int, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, fmt.Errorf("bench: -private-redis: %w", err)
	}
	addr := free()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", ln.dir, "--loglevel", "warning")
	logf, err := os.Create(filepath.Join(ln.dir, "redis.log"))
	if err != nil {
		return "", 0, fmt.Errorf("bench: -private-redis: %w", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", 0, fmt.Errorf("bench: -private-redis: %w", err)
	}
	ln.all = append(ln.all, &proc{name: "redis", cmd: cmd})
	url = "redis://" + addr + "/0"
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return url, cmd.Process.Pid, nil
		}
		if time.Now().After(deadline) {
			return "", 0, fmt.Errorf("bench: -private-redis: not up at %s: %w", addr, err)
		}
	}
}

// idle is what the stores spend in d with the target idle.
func (p *storeProbe) idle(d time.Duration) storeUse {
	a := p.sample(context.Background())
	time.Sleep(d)
	return p.sample(context.Background()).since(a)
}

// storeFigures are one round's per-request costs in the shared stores.
type storeFigures struct {
	redisCPU, pgCPU float64 // µs per request
	redisCalls      float64 // commands per request, inside scripts included
	roundTrips      float64 // Redis requests (reply writes) per request
	callsKnown      bool
}

// storeFigures are per answered request: refusals (503 while a store's
// breaker is open) cost the stores nothing and would flatter them.
func (m measure) storeFigures() (storeFigures, bool) {
	n := float64(m.answered())
	if m.stores == nil || n == 0 {
		return storeFigures{}, false
	}
	return storeFigures{
		redisCPU:   m.stores.redisCPU.Seconds() * 1e6 / n,
		pgCPU:      m.stores.pgCPU.Seconds() * 1e6 / n,
		redisCalls: float64(m.stores.redisCalls) / n,
		roundTrips: float64(m.stores.redisWrites) / n,
		callsKnown: !m.stores.redisUnmeasurable,
	}, true
}

// answered is the requests of the run that were answered 200.
func (m measure) answered() int64 { return m.requests - m.errs - m.non200 }

// clusterRow is one target's medians over rounds.
type clusterRow struct {
	rps, okRPS, frontCPU, allCPU  float64
	redisCPU, pgCPU, calls, trips float64
	hasStores, callsKnown         bool
	p50, p99                      time.Duration
	failedSat, failedFixed        int64
	roundsCalls, roundsTrips      []float64
	// byCommand: the last round's commands per request, by command.
	byCommand map[string]float64
}

func clusterRowOf(rounds []measure, med measure) clusterRow {
	r := clusterRow{rps: med.rps, okRPS: med.okRPS, p50: med.p50, p99: med.p99, failedFixed: med.fixedFailed, callsKnown: true}
	var front, all, rcpu, pcpu, calls, trips, ok []float64
	for _, m := range rounds {
		r.failedSat += m.errs + m.non200
		// CPU per answered request, as the stores' figures.
		scale := 1.0
		if a := m.answered(); a > 0 {
			scale = float64(m.requests) / float64(a)
		}
		front, all, ok = append(front, m.frontCPU*scale), append(all, m.cpuPerReq*scale), append(ok, m.okRPS)
		if f, ok := m.storeFigures(); ok {
			r.hasStores = true
			r.callsKnown = r.callsKnown && f.callsKnown
			rcpu, pcpu, calls = append(rcpu, f.redisCPU), append(pcpu, f.pgCPU), append(calls, f.redisCalls)
			trips = append(trips, f.roundTrips)
			r.byCommand = map[string]float64{}
			for c, k := range m.stores.byCommand {
				r.byCommand[c] = float64(k) / float64(m.requests)
			}
		}
	}
	if len(front) > 0 {
		r.frontCPU, r.allCPU, r.okRPS = median(front), median(all), median(ok)
	}
	if r.hasStores {
		r.redisCPU, r.pgCPU, r.calls, r.trips = median(rcpu), median(pcpu), median(calls), median(trips)
		r.roundsCalls, r.roundsTrips = calls, trips
	}
	return r
}

// printCluster writes the cluster comparison: a table of what each
// target costs, the stores included, and the ratios it is judged by.
func printCluster(w io.Writer, targets []target, med map[string]measure, results map[string][]measure, privateRedis bool) {
	fmt.Fprintln(w, "Per answered request (200): a target that refuses part of its load (503 while a store cannot count) is judged by what it answered.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | answered req/s | gateway CPU µs/req | redis-server CPU µs/req | postgres CPU µs/req | all CPU µs/req (gateways, simulator, stores) | Redis round trips/req | Redis commands/req (in scripts too) | p50 / p99 at half capacity | failed (saturation / fixed rate) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range targets {
		if _, ok := results[t.name]; !ok {
			continue
		}
		r := clusterRowOf(results[t.name], med[t.name])
		redisCPU, pgCPU, calls, trips := "—", "—", "—", "—"
		all := r.allCPU
		if r.hasStores {
			redisCPU, pgCPU = fmt.Sprintf("%.1f", r.redisCPU), fmt.Sprintf("%.1f", r.pgCPU)
			all += r.redisCPU + r.pgCPU
			if r.callsKnown {
				calls, trips = fmt.Sprintf("%.2f", r.calls), fmt.Sprintf("%.2f", r.trips)
			}
		}
		lat := "—"
		if r.p99 > 0 {
			lat = fmtDur(r.p50) + " / " + fmtDur(r.p99)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.1f | %s | %s | %.1f | %s | %s | %s | %d / %d |\n",
			t.name, r.okRPS, r.frontCPU, redisCPU, pgCPU, all, trips, calls, lat, r.failedSat, r.failedFixed)
	}
	fmt.Fprintln(w)
	verdict := func(ok bool) string {
		if ok {
			return "meets"
		}
		return "MISSES"
	}
	if r, per := pairedOKRatio(results[gwSharedName], results[gwName]); len(per) > 0 {
		fmt.Fprintf(w, "- %s / embedded gateway, answered req/s: %.2f×, median of rounds %s (target ≥ %s×, %s)\n",
			short(gwSharedName), r, fmtRatios(per), fmtTarget(sharedThroughputTarget), verdict(r >= sharedThroughputTarget))
	}
	if r, per := paired(results[gwSharedName], results[gwName], func(x, y measure) (float64, bool) {
		xa, ya := x.answered(), y.answered()
		if xa == 0 || ya == 0 || x.frontCPU == 0 {
			return 0, false
		}
		// y's CPU per answered request over x's.
		return (y.frontCPU * float64(y.requests) / float64(ya)) / (x.frontCPU * float64(x.requests) / float64(xa)), true
	}); len(per) > 0 {
		fmt.Fprintf(w, "- %s / embedded gateway, requests per CPU-second of the gateway process: %.2f×, median of rounds %s (no target)\n",
			short(gwSharedName), r, fmtRatios(per))
	}
	if r, per := pairedOKRatio(results[gwSharedX2Name], results[gwSharedName]); len(per) > 0 {
		fmt.Fprintf(w, "- %s / %s, answered req/s: %.2f×, median of rounds %s (no target: on one machine both replicas share its cores with the stores, the simulator and the generator)\n",
			short(gwSharedX2Name), short(gwSharedName), r, fmtRatios(per))
	}
	for _, name := range []string{gwSharedName, gwSharedX2Name} {
		rounds, ok := results[name]
		if !ok {
			continue
		}
		r := clusterRowOf(rounds, med[name])
		if !r.hasStores || !r.callsKnown {
			continue
		}
		fmt.Fprintf(w, "- %s, Redis round trips per request (reply writes, INFO stats total_writes_processed, net of the idle rate): %.2f, median of rounds %s (target ≤ %s on the miss path, %s)\n",
			short(name), r.trips, fmtFloats(r.roundsTrips), fmtTarget(sharedRedisCallsPerReqT), verdict(r.trips <= sharedRedisCallsPerReqT))
		fmt.Fprintf(w, "- %s, Redis commands per request (INFO commandstats, every redis.call inside a script counted, info/ping left out): %.2f, median of rounds %s; last round by command: %s\n",
			short(name), r.calls, fmtFloats(r.roundsCalls), fmtByCommand(r.byCommand))
	}
	fmt.Fprintln(w)
	if privateRedis {
		fmt.Fprintln(w, "Redis: a redis-server of this run's own (-private-redis), which only the gateways used. PostgreSQL: the backends of the target's own connections (found by their client ports) and the server's background processes, which serve every database: net of their rate in the second before each run, so other clients' steady use drops out, but a burst of theirs during a run does not.")
	} else {
		fmt.Fprintln(w, "redis-server's CPU and commandstats are the whole server's, and postgres's background processes serve every database: both are net of their rate in the second before each run, so other clients' steady use drops out, but a burst of theirs during a run does not (-private-redis gives the gateways a Redis of their own). The postgres figure counts the backends of the target's own connections (found by their client ports) and the server's background processes.")
	}
	fmt.Fprintln(w)
}

func fmtFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// fmtByCommand lists commands per request, most first.
func fmtByCommand(m map[string]float64) string {
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if m[n] >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.2f", n, m[n]))
		}
	}
	return strings.Join(parts, ", ")
}

// pairedOKRatio is pairedRatio of answered throughput.
func pairedOKRatio(a, b []measure) (ratio float64, per []float64) {
	return paired(a, b, func(x, y measure) (float64, bool) { return x.okRPS / y.okRPS, y.okRPS > 0 })
}
