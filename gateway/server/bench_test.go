package server

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/ledger"
)

// The proxy benchmarks put the gateway (every step on: auth, rate limit,
// validation, quota, SQLite ledger; no cache) and a bare fasthttp reverse
// proxy side by side in front of the same in-process upstream, over
// loopback TCP, and report requests per second and latency percentiles.
// The targets: gateway ≥ 0.8× the bare proxy's throughput.
//
//	go test -run '^$' -bench 'Proxy' -benchtime 5s ./gateway/server

var upstreamBody = []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)

func benchUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(upstreamBody)
	}}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return ln.Addr().String()
}

// bareProxy forwards body and status and nothing else: the yardstick.
func bareProxy(b *testing.B, upstream string) string {
	hc := &fasthttp.HostClient{Addr: upstream, MaxConns: 1024}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		ctx.Request.CopyTo(req)
		req.SetHost(upstream)
		if err := hc.DoTimeout(req, resp, 5*time.Second); err != nil {
			ctx.SetStatusCode(500)
			return
		}
		ctx.SetStatusCode(resp.StatusCode())
		ctx.SetContentTypeBytes(resp.Header.ContentType())
		ctx.SetBody(resp.Body())
	}}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return ln.Addr().String()
}

func gatewayProxy(b *testing.B, upstream string) string {
	cfg := config.Default()
	cfg.Upstream.URL = "http://" + upstream
	cfg.Store.Path = filepath.Join(b.TempDir(), "ledger.db")
	cfg.Tenants[0].Rate, cfg.Tenants[0].Burst, cfg.Tenants[0].DailyQuota = 1e9, 1e9, 1e12
	if v := os.Getenv("IDGATE_BENCH_LINGER"); v != "" { // experiments with the ledger's batching
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Store.Linger = config.Duration(d)
	}
	s, err := New(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("IDGATE_BENCH_NO_LEDGER") != "" { // experiment: what the ledger costs
		s.pipeline.Ledger = discardLedger{}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	aln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(ln, aln)
	b.Cleanup(func() { s.Shutdown(b.Context()) })
	return ln.Addr().String()
}

func load(b *testing.B, addr string) {
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

func BenchmarkProxyBare(b *testing.B)    { load(b, bareProxy(b, benchUpstream(b))) }
func BenchmarkProxyGateway(b *testing.B) { load(b, gatewayProxy(b, benchUpstream(b))) }

// BenchmarkProxyRatio alternates short rounds of the bare proxy and the
// gateway (the machine's other load hits both alike) and reports the
// gateway's throughput as a fraction of the bare proxy's, and the p99 of
// each. Run it once:
//
//	go test -run '^$' -bench ProxyRatio -benchtime 1x ./gateway/server
func BenchmarkProxyRatio(b *testing.B) {
	up := benchUpstream(b)
	bare, gw := bareProxy(b, up), gatewayProxy(b, up)
	const rounds, round, workers = 6, time.Second, 32
	var bareN, gwN int
	var bareCPU, gwCPU time.Duration
	var bareLat, gwLat []time.Duration
	for i := 0; i < rounds; i++ {
		c0 := cpuTime()
		n, l := drive(b, bare, workers, round)
		c1 := cpuTime()
		bareN, bareLat, bareCPU = bareN+n, append(bareLat, l...), bareCPU+c1-c0
		n, l = drive(b, gw, workers, round)
		gwN, gwLat, gwCPU = gwN+n, append(gwLat, l...), gwCPU+cpuTime()-c1
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
	b.ReportMetric(float64(pct(bareLat, 99).Microseconds()), "bare-p99-µs")
	b.ReportMetric(float64(pct(gwLat, 99).Microseconds()), "gateway-p99-µs")

	// Open loop at half the gateway's capacity, both proxies alike: the
	// latency the gateway adds when it is not saturated.
	rate := float64(gwN) / (rounds * round.Seconds()) / 2
	var bareOpen, gwOpen []time.Duration
	for i := 0; i < 3; i++ {
		bareOpen = append(bareOpen, driveRate(b, bare, rate, 2*time.Second)...)
		gwOpen = append(gwOpen, driveRate(b, gw, rate, 2*time.Second)...)
	}
	b.ReportMetric(rate, "half-rate-req/s")
	b.ReportMetric(float64(pct(bareOpen, 99).Microseconds()), "half-bare-p99-µs")
	b.ReportMetric(float64(pct(gwOpen, 99).Microseconds()), "half-gateway-p99-µs")
	b.ReportMetric(float64((pct(gwOpen, 99) - pct(bareOpen, 99)).Microseconds()), "half-added-p99-µs")
}

// driveRate sends requests at a fixed arrival rate for d and returns each
// one's latency from its scheduled start, so a stall is charged to every
// request it delayed (no coordinated omission).
func driveRate(b *testing.B, addr string, rate float64, d time.Duration) []time.Duration {
	const workers = 128
	body := []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: workers}
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	start := time.Now().Add(10 * time.Millisecond)
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + addr + contracts.CheckPath)
			req.Header.SetContentType("application/json")
			req.Header.Set("Authorization", "Bearer demo-key")
			req.SetBody(body)
			for i := w; i < total; i += workers {
				at := start.Add(time.Duration(i) * interval)
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("status %d err %v", resp.StatusCode(), err)
					return
				}
				lat[i] = time.Since(at)
			}
		}(w)
	}
	wg.Wait()
	return lat
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(l []time.Duration, p int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)*p/100]
}

// drive runs closed-loop load from workers goroutines for d.
func drive(b *testing.B, addr string, workers int, d time.Duration) (int, []time.Duration) {
	body := []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: workers}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + addr + contracts.CheckPath)
			req.Header.SetContentType("application/json")
			req.Header.Set("Authorization", "Bearer "+benchToken())
			req.SetBody(body)
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("status %d err %v", resp.StatusCode(), err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(all), all
}

type discardLedger struct{}

func (discardLedger) Record(ledger.Entry) error { return nil }

// benchToken is the bearer token drive sends: the demo key, or
// IDGATE_BENCH_TOKEN when driving another server by hand.
func benchToken() string {
	if v := os.Getenv("IDGATE_BENCH_TOKEN"); v != "" {
		return v
	}
	return "demo-key"
}
