package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

func TestRedisAllowSequence(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	cfg.Redis.Timeout = 2 * time.Second // the algorithm's answers, not a loaded machine's timeouts
	c := testkit.Conns(t, cfg)
	r := NewRedis(c, nil)
	now := time.Now()
	// rate 10/s, burst 4: four tokens at once, then one each 100 ms.
	cases := []struct {
		wait      time.Duration
		allowed   bool
		remaining int
	}{
		{0, true, 3},
		{0, true, 2},
		{0, true, 1},
		{0, true, 0},
		{0, false, 0},
		{130 * time.Millisecond, true, 0},
		{0, false, 0},
	}
	for i, tc := range cases {
		time.Sleep(tc.wait)
		d := r.Allow("k1", 10, 4, now)
		if d.Allowed != tc.allowed || d.Remaining != tc.remaining || d.Limit != 4 {
			t.Fatalf("step %d: %+v", i, d)
		}
		if d.Reset <= 0 || d.Reset > 400*time.Millisecond+5*time.Millisecond {
			t.Fatalf("step %d: reset %v", i, d.Reset)
		}
		if !d.Allowed && (d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond) {
			t.Fatalf("step %d: retry after %v", i, d.RetryAfter)
		}
	}
	if r.Fallbacks() != 0 {
		t.Fatalf("fallbacks %d with Redis up", r.Fallbacks())
	}
	// Another key has its own bucket.
	if d := r.Allow("k2", 10, 4, now); !d.Allowed || d.Remaining != 3 {
		t.Fatalf("other key: %+v", d)
	}
}

// TestRedisFleetRate: replicas sharing one Redis admit a key at most
// rate×t + burst together, and close to it.
func TestRedisFleetRate(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	// The bound is the algorithm's: a loaded test machine must not push
	// calls past the timeout into the fallback.
	cfg.Redis.Timeout = 2 * time.Second
	cases := []struct {
		name     string
		replicas int
		rate     float64
		burst    int
	}{
		{"one replica", 1, 100, 10},
		{"three replicas", 3, 200, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fleet []*Redis
			for range tc.replicas {
				c := testkit.Conns(t, cfg)
				fleet = append(fleet, NewRedis(c, func(string) string { return "acme" }))
			}
			key := "key-" + tc.name
			const d = 500 * time.Millisecond
			var allowed atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for g := range 4 * tc.replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := fleet[g%len(fleet)]
					for time.Since(start) < d {
						if r.Allow(key, tc.rate, tc.burst, time.Now()).Allowed {
							allowed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			limit := int64(tc.rate*elapsed.Seconds()) + int64(tc.burst) + 1
			floor := int64(tc.rate * d.Seconds() * 0.5)
			var fallbacks int64
			for _, r := range fleet {
				fallbacks += r.Fallbacks()
			}
			if n := allowed.Load(); n > limit || n < floor || fallbacks != 0 {
				t.Fatalf("admitted %d in %v (%d by the fallback), want %d..%d and none", n, elapsed, fallbacks, floor, limit)
			}
			// The bucket is the tenant's (its hash tag), where the quota's
			// combined call takes the same tokens.
			if n, err := fleet[0].conns.Redis.Exists(context.Background(), fleet[0].Base("acme")+":rl:"+key).Result(); err != nil || n != 1 {
				t.Fatalf("bucket key under the tenant's tag: %d %v", n, err)
			}
		})
	}
}

// downConns are shared-store connections to a Redis that does not answer.
func downConns(t *testing.T, replicas int) *stores.Conns {
	cfg := stores.DefaultConfig()
	cfg.Replicas = replicas
	return testkit.DownRedis(t, cfg)
}

// TestRedisFallback: with Redis down each replica admits rate/N and
// burst/N (at least 1) on its own, and counts the fallbacks.
func TestRedisFallback(t *testing.T) {
	cases := []struct {
		replicas, burst int
		admitted        int
	}{
		{1, 4, 4},
		{2, 4, 2},
		{8, 4, 1},
	}
	for _, tc := range cases {
		r := NewRedis(downConns(t, tc.replicas), nil)
		now := time.Now()
		n := 0
		for range 10 {
			if r.Allow("k", 1, tc.burst, now).Allowed {
				n++
			}
		}
		if n != tc.admitted || r.Fallbacks() != 10 {
			t.Fatalf("replicas %d: admitted %d, fallbacks %d; want %d, 10", tc.replicas, n, r.Fallbacks(), tc.admitted)
		}
		d := r.Allow("k", 1, tc.burst, now.Add(time.Duration(tc.replicas)*time.Second))
		if !d.Allowed {
			t.Fatalf("replicas %d: no token after N seconds at rate 1/N", tc.replicas)
		}
		r.Prune(func(string) bool { return false })
	}
}
