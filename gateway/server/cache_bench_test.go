package server

import (
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/internal/testkit"
)

// BenchmarkCacheHitVsMiss measures, in one run and against one gateway
// with the cache on, the throughput of the cache-hit path (16 identities
// asked again and again) and of the miss path (every request a new
// question, answered by an in-process upstream over loopback and then
// stored). Rounds alternate so the machine's other load hits both alike.
// The target: hit ≥ 2× miss, since a hit skips the upstream round trip,
// the ledger's billing work and the quota.
//
//	go test -run '^$' -bench CacheHitVsMiss -benchtime 1x ./gateway/server
func BenchmarkCacheHitVsMiss(b *testing.B) {
	up := benchUpstream(b)
	cfg := config.Default()
	cfg.Upstream.URL = "http://" + up
	cfg.Store.Path = filepath.Join(b.TempDir(), "ledger.db")
	cfg.LogLevel = "error"
	cfg.Sessions.Enabled = false
	cfg.Cache.Enabled, cfg.Cache.KeySecret = true, "bench-cache-secret-0123456789"
	cfg.Auth.Tenants[0].Rate, cfg.Auth.Tenants[0].Burst, cfg.Auth.Tenants[0].DailyQuota = auth.MaxRate, auth.MaxBurst, auth.MaxDailyQuota
	s, err := New(cfg, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	addr, _ := serveOnLoopback(b, s)

	hitBody := func(i int64) []byte {
		return []byte(`{"name":"测试一致","id_card":"110101191111110010","image_url":"https://img.example/warm-` + strconv.FormatInt(i%16, 10) + `.jpg"}`)
	}
	var missSeq atomic.Int64
	missBody := func(int64) []byte {
		return []byte(`{"name":"测试一致","id_card":"110101191111110010","image_url":"https://img.example/` + strconv.FormatInt(missSeq.Add(1), 10) + `.jpg"}`)
	}
	// Warm the 16 hit identities.
	driveBodies(b, addr, 1, 0, 16, hitBody)
	s.res.cache.Wait()

	const rounds, round, workers = 3, time.Second, 32
	var hitN, missN int
	for range rounds {
		missN += driveBodies(b, addr, workers, round, 0, missBody)
		hitN += driveBodies(b, addr, workers, round, 0, hitBody)
	}
	st := s.res.cache.Stats()
	hitRate, missRate := float64(hitN)/(rounds*round.Seconds()), float64(missN)/(rounds*round.Seconds())
	b.ReportMetric(hitRate, "hit-req/s")
	b.ReportMetric(missRate, "miss-req/s")
	b.ReportMetric(hitRate/missRate, "hit/miss")
	b.Logf("hit %.0f req/s, miss %.0f req/s, ratio %.2f; cache %+v", hitRate, missRate, hitRate/missRate, st)
	if hitRate < 2*missRate {
		b.Errorf("cache-hit path %.0f req/s is under 2× the miss path's %.0f", hitRate, missRate)
	}
}

// driveBodies sends POSTs from workers for d (or n requests each when
// n > 0) and returns how many got a 200.
func driveBodies(b *testing.B, addr string, workers int, d time.Duration, n int, body func(int64) []byte) int {
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: workers}
	reqs, resps := make([]*fasthttp.Request, workers), make([]*fasthttp.Response, workers)
	for w := range workers {
		reqs[w], resps[w] = fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(reqs[w])
		defer fasthttp.ReleaseResponse(resps[w])
		reqs[w].Header.SetMethod("POST")
		reqs[w].SetRequestURI("http://" + addr + contracts.CheckPath)
		reqs[w].Header.SetContentType("application/json")
		reqs[w].Header.Set("Authorization", "Bearer demo-key")
	}
	var seq atomic.Int64
	ok, _ := testkit.Load{Workers: workers, PerWorker: n, For: d}.Run(func(w, _ int) bool {
		req, resp := reqs[w], resps[w]
		req.SetBody(body(seq.Add(1)))
		if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Errorf("status %d err %v: %s", resp.StatusCode(), err, resp.Body())
			return false
		}
		return true
	})
	return int(ok)
}
