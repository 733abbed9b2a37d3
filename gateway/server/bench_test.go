package server

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// The proxy benchmarks put the gateway (every step on: auth, rate limit,
// validation, quota, SQLite ledger; no cache) and a bare fasthttp reverse
// proxy side by side in front of the same in-process upstream, over
// loopback TCP, and report requests per second and latency percentiles.
// The target: gateway ≥ 0.8× the bare proxy's throughput.
//
//	go test -run '^$' -bench 'Proxy' -benchtime 5s ./gateway/server

var upstreamBody = []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)

func benchUpstream(b *testing.B) string {
	return testkit.Serve(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(upstreamBody)
	})
}

// bareProxy serves load.BareProxy, the yardstick the harness uses too.
func bareProxy(b *testing.B, upstream string) string {
	return testkit.Serve(b, load.BareProxy(upstream))
}

func gatewayProxy(b *testing.B, upstream string) string {
	cfg := config.Default()
	cfg.Upstream.URL = "http://" + upstream
	cfg.Store.Path = filepath.Join(b.TempDir(), "ledger.db")
	cfg.Auth.Tenants[0].Rate, cfg.Auth.Tenants[0].Burst, cfg.Auth.Tenants[0].DailyQuota = auth.MaxRate, auth.MaxBurst, auth.MaxDailyQuota
	if v := os.Getenv("IDGATE_BENCH_LINGER"); v != "" { // experiments with the ledger's batching
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Store.Linger = d
	}
	s, err := New(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("IDGATE_BENCH_NO_LEDGER") != "" { // experiment: what the ledger costs
		s.pipeline.Ledger = &testkit.Ledger{Discard: true}
	}
	addr, _ := serveOnLoopback(b, s)
	return addr
}

func runParallel(b *testing.B, addr string) {
	body := []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: 256}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16) // 32 client goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + addr + contracts.CheckPath)
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", "Bearer demo-key")
		req.SetBody(body)
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("status %d err %v", resp.StatusCode(), err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

func BenchmarkProxyBare(b *testing.B)    { runParallel(b, bareProxy(b, benchUpstream(b))) }
func BenchmarkProxyGateway(b *testing.B) { runParallel(b, gatewayProxy(b, benchUpstream(b))) }

// BenchmarkProxyRatio alternates short rounds of the bare proxy and the
// gateway (the machine's other load hits both alike) and reports the
// gateway's throughput as a fraction of the bare proxy's, and the p99 of
// each. Run it once:
//
//	go test -run '^$' -bench ProxyRatio -benchtime 1x ./gateway/server
func BenchmarkProxyRatio(b *testing.B) {
	up := benchUpstream(b)
	bodies := load.Bodies(2000, 1)
	bare := load.Target{Addr: bareProxy(b, up), Path: contracts.CheckPath, Token: "demo-key", Bodies: bodies}
	gw := load.Target{Addr: gatewayProxy(b, up), Path: contracts.CheckPath, Token: benchToken(), Bodies: bodies}
	const rounds, round, workers = 6, time.Second, 32
	var bareN, gwN int64
	var bareCPU, gwCPU time.Duration
	for i := 0; i < rounds; i++ {
		c0 := cpuTime()
		r := load.Saturate(bare, workers, round)
		c1 := cpuTime()
		checkRun(b, "bare", r)
		bareN, bareCPU = bareN+r.Requests, bareCPU+c1-c0
		r = load.Saturate(gw, workers, round)
		checkRun(b, "gateway", r)
		gwN, gwCPU = gwN+r.Requests, gwCPU+cpuTime()-c1
	}
	// CPU per request of the whole process (client, proxy, upstream): on a
	// shared, busy machine the ratio of these is steadier than throughput.
	bareCost := float64(bareCPU.Microseconds()) / float64(bareN)
	gwCost := float64(gwCPU.Microseconds()) / float64(gwN)
	b.ReportMetric(bareCost, "bare-cpu-µs/req")
	b.ReportMetric(gwCost, "gateway-cpu-µs/req")
	b.ReportMetric(bareCost/gwCost, "cpu-ratio")
	b.ReportMetric(float64(bareN)/(rounds*round.Seconds()), "bare-req/s")
	b.ReportMetric(float64(gwN)/(rounds*round.Seconds()), "gateway-req/s")
	b.ReportMetric(float64(gwN)/float64(bareN), "ratio")

	// Open loop at half the gateway's capacity, both proxies alike: the
	// latency the gateway adds when it is not saturated.
	rate := int(float64(gwN) / (rounds * round.Seconds()) / 2)
	rb, err := load.FixedRate(bare, rate, 6*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	rg, err := load.FixedRate(gw, rate, 6*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	checkRun(b, "bare open loop", rb)
	checkRun(b, "gateway open loop", rg)
	b.ReportMetric(float64(rate), "half-rate-req/s")
	b.ReportMetric(float64(rb.Percentile(99).Microseconds()), "half-bare-p99-µs")
	b.ReportMetric(float64(rg.Percentile(99).Microseconds()), "half-gateway-p99-µs")
	b.ReportMetric(float64((rg.Percentile(99) - rb.Percentile(99)).Microseconds()), "half-added-p99-µs")
}

func checkRun(b *testing.B, name string, r load.Result) {
	if r.Errors+r.Non200 > 0 {
		b.Errorf("%s: %d errors, %d non-200 answers of %d", name, r.Errors, r.Non200, r.Requests)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchToken is the gateway bearer token the ratio benchmark sends: the demo key, or
// IDGATE_BENCH_TOKEN when driving another server by hand.
func benchToken() string {
	if v := os.Getenv("IDGATE_BENCH_TOKEN"); v != "" {
		return v
	}
	return "demo-key"
}
