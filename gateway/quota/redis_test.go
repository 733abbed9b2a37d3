package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

// fleet is n replicas' quota stores on one Redis prefix.
type fleet struct {
	cfg   stores.Config
	conns []*stores.Conns
	qs    []*Redis
}

func newFleet(t testing.TB, n int, o RedisOptions) *fleet {
	t.Helper()
	cfg := testkit.SharedStores(t, "", "")
	// The tests check the algorithm; a loaded machine must not turn calls
	// into timeouts.
	cfg.Redis.Timeout = 2 * time.Second
	cfg.Replicas = n
	f := &fleet{cfg: cfg}
	for range n {
		c := testkit.Conns(t, cfg)
		f.conns = append(f.conns, c)
		f.qs = append(f.qs, newStore(t, c, o))
	}
	return f
}

func newStore(t testing.TB, c *stores.Conns, o RedisOptions) *Redis {
	if o.Calendar == nil {
		o.Calendar = NewCalendar(time.UTC)
	}
	if o.Hold == 0 {
		o.Hold = time.Minute
	}
	q := NewRedis(c, o)
	t.Cleanup(q.Close)
	return q
}

// settled waits until every settlement queued on qs is in Redis.
func settled(t testing.TB, qs ...*Redis) {
	t.Helper()
	for _, q := range qs {
		if err := q.flush(); err != nil {
			t.Fatalf("flush: %v", err)
		}
		// The flusher may have taken some of them: wait for its call.
		for deadline := time.Now().Add(5 * time.Second); q.Pending() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("%d settlements still pending", q.Pending())
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func lim(tenantQuota, keyQuota int64, key, lease string) Limits {
	return Limits{TenantID: "acme", TenantQuota: tenantQuota, KeyID: key, KeyQuota: keyQuota, Lease: lease}
}

// TestRedisExactUnderConcurrency: 64 reservers on 3 replicas admit
// exactly the quota, whichever counter binds.
func TestRedisExactUnderConcurrency(t *testing.T) {
	cases := []struct {
		name                  string
		tenantQuota, keyQuota int64
		want                  int
		scope                 Scope
	}{
		{"tenant binds", 20, 0, 20, ScopeTenant},
		{"key binds", 30, 7, 7, ScopeKey},
		{"unlimited", 0, 0, 64, ScopeNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, 3, RedisOptions{Tenants: func() []string { return []string{"acme", "idle"} }})
			now := time.Now()
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				tickets []Ticket
				refused = map[Scope]int{}
			)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tk, s, err := f.qs[i%3].Reserve(lim(tc.tenantQuota, tc.keyQuota, "k1", fmt.Sprint("req-", i)), now)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil:
						t.Errorf("reserve: %v", err)
					case s != ScopeNone:
						refused[s]++
					default:
						tickets = append(tickets, tk)
					}
				}()
			}
			wg.Wait()
			if len(tickets) != tc.want || (tc.want < 64 && refused[tc.scope] != 64-tc.want) {
				t.Fatalf("admitted %d, refused %v; want %d admitted, the rest %q", len(tickets), refused, tc.want, tc.scope)
			}
			if u, _ := f.qs[0].Tenant("acme", now); u != (Usage{Reserved: int64(tc.want)}) {
				t.Fatalf("tenant usage %+v", u)
			}
			// Commit half on another replica than the one that reserved,
			// release the rest: the units used stay, the others return.
			for i, tk := range tickets {
				if i%2 == 0 {
					f.qs[(i+1)%3].Commit(tk)
				} else {
					f.qs[(i+2)%3].Release(tk)
				}
			}
			settled(t, f.qs...)
			used := int64((len(tickets) + 1) / 2)
			if u, _ := f.qs[1].Tenant("acme", now); u != (Usage{Used: used}) {
				t.Fatalf("tenant usage after settling %+v, want used %d", u, used)
			}
			if all := f.qs[2].Tenants(now); len(all) != 1 || all["acme"] != (Usage{Used: used}) {
				t.Fatalf("Tenants: %+v", all)
			}
		})
	}
}

// TestRedisScopes: a key's quota refuses that key only; the tenant's
// refuses every key; the key is checked first.
func TestRedisScopes(t *testing.T) {
	q := newFleet(t, 1, RedisOptions{TenantOf: func(string) string { return "acme" }}).qs[0]
	now := time.Now()
	steps := []struct {
		key   string
		keyQ  int64
		scope Scope
	}{
		{"a", 2, ScopeNone},
		{"a", 2, ScopeNone},
		{"a", 2, ScopeKey},
		{"b", 0, ScopeNone},
		{"b", 0, ScopeNone},
		{"b", 0, ScopeNone},
		{"b", 0, ScopeTenant},
		{"a", 2, ScopeKey},
	}
	for i, st := range steps {
		_, s, err := q.Reserve(lim(5, st.keyQ, st.key, fmt.Sprint("r", i)), now)
		if err != nil || s != st.scope {
			t.Fatalf("step %d: scope %q err %v, want %q", i, s, err, st.scope)
		}
	}
	if u, _ := q.Key("a", now); u != (Usage{Reserved: 2}) {
		t.Fatalf("key a: %+v", u)
	}
	if u, _ := q.Key("b", now); u != (Usage{Reserved: 3}) {
		t.Fatalf("key b: %+v", u)
	}
}

// TestRedisSettleOnce: each lease is settled once, whatever settles it
// again or the other way.
func TestRedisSettleOnce(t *testing.T) {
	cases := []struct {
		name    string
		settle  []bool // true commit, false release
		want    Usage
		wantKey Usage
	}{
		{"commit", []bool{true}, Usage{Used: 1}, Usage{Used: 1}},
		{"commit twice", []bool{true, true}, Usage{Used: 1}, Usage{Used: 1}},
		{"release", []bool{false}, Usage{}, Usage{}},
		{"release then commit", []bool{false, true}, Usage{}, Usage{}},
		{"commit then release", []bool{true, false}, Usage{Used: 1}, Usage{Used: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, 2, RedisOptions{TenantOf: func(string) string { return "acme" }})
			now := time.Now()
			tk, s, err := f.qs[0].Reserve(lim(10, 10, "k", "lease-1"), now)
			if err != nil || s != ScopeNone || tk.Lease != "lease-1" || tk.Epoch == "" {
				t.Fatalf("reserve: %+v %q %v", tk, s, err)
			}
			for i, commit := range tc.settle {
				q := f.qs[i%2]
				if commit {
					q.Commit(tk)
				} else {
					q.Release(tk)
				}
				settled(t, q)
			}
			if u, _ := f.qs[1].Tenant("acme", now); u != tc.want {
				t.Fatalf("tenant %+v, want %+v", u, tc.want)
			}
			if u, _ := f.qs[1].Key("k", now); u != tc.wantKey {
				t.Fatalf("key %+v, want %+v", u, tc.wantKey)
			}
		})
	}
}

// TestRedisExpiredLease: a lease nobody settled within its hold counts as
// used, and its late commit does not count it again.
func TestRedisExpiredLease(t *testing.T) {
	q := newFleet(t, 1, RedisOptions{}).qs[0]
	now := time.Now()
	l := lim(2, 0, "k", "slow")
	l.Hold = 50 * time.Millisecond
	tk, _, err := q.Reserve(l, now)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if u, _ := q.Tenant("acme", now); u != (Usage{Used: 1}) {
		t.Fatalf("after the hold: %+v", u)
	}
	// The next reservation settles it and takes the last unit.
	if _, s, err := q.Reserve(lim(2, 0, "k", "next"), now); err != nil || s != ScopeNone {
		t.Fatalf("next: %q %v", s, err)
	}
	if _, s, _ := q.Reserve(lim(2, 0, "k", "over"), now); s != ScopeTenant {
		t.Fatalf("over the quota: %q", s)
	}
	q.Commit(tk)
	settled(t, q)
	if u, _ := q.Tenant("acme", now); u != (Usage{Used: 1, Reserved: 1}) {
		t.Fatalf("after the late commit: %+v", u)
	}
}

// TestRedisSeed: a day is seeded once from the durable records by the
// first of concurrent seeders; nothing is admitted past the seed.
func TestRedisSeed(t *testing.T) {
	var calls atomic.Int64
	seed := func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond) // the seeders overlap
		return 7, map[string]int64{"k": 4, "other": 3}, nil
	}
	f := newFleet(t, 3, RedisOptions{Seed: seed})
	now := time.Now()
	var (
		wg       sync.WaitGroup
		admitted atomic.Int64
		mu       sync.Mutex
		epochs   = map[string]bool{}
	)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, s, err := f.qs[i%3].Reserve(lim(10, 6, "k", fmt.Sprint("r", i)), now)
			if err != nil {
				t.Errorf("reserve: %v", err)
				return
			}
			if s == ScopeNone {
				admitted.Add(1)
				mu.Lock()
				epochs[tk.Epoch] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Key k had 4 of 6, the tenant 7 of 10: 2 more.
	if admitted.Load() != 2 || len(epochs) != 1 {
		t.Fatalf("admitted %d under epochs %v; want 2 under one", admitted.Load(), epochs)
	}
	if calls.Load() < 1 {
		t.Fatal("never seeded")
	}
	if u, _ := f.qs[0].Tenant("acme", now); u != (Usage{Used: 7, Reserved: 2}) {
		t.Fatalf("tenant %+v", u)
	}
}

// TestRedisSeedFails: a day that cannot be seeded admits nothing.
func TestRedisSeedFails(t *testing.T) {
	seed := func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		return 0, nil, errors.New("postgres down")
	}
	q := newFleet(t, 1, RedisOptions{Seed: seed}).qs[0]
	if tk, _, err := q.Reserve(lim(10, 0, "k", "r"), time.Now()); err == nil || !tk.IsZero() {
		t.Fatalf("reserve on an unseeded day: %+v %v", tk, err)
	}
}

// TestRedisWiped: Redis losing its keys mid-day reseeds from the records,
// and a commit of a lease taken before counts (the records could not show
// it yet).
func TestRedisWiped(t *testing.T) {
	var ledger atomic.Int64 // units the durable records hold
	seed := func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		n := ledger.Load()
		return n, map[string]int64{"k": n}, nil
	}
	f := newFleet(t, 2, RedisOptions{Seed: seed})
	now := time.Now()
	var tickets []Ticket
	for i := range 3 {
		tk, _, err := f.qs[0].Reserve(lim(5, 0, "k", fmt.Sprint("r", i)), now)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	f.qs[0].Commit(tickets[0])
	settled(t, f.qs[0])
	ledger.Store(1) // the ledger holds the first; the others are in flight

	testkit.DeleteRedisPrefix(t, f.conns[0].Redis, f.cfg.Redis.Prefix)

	// The other replica reseeds on its next reservation: 1 used + 1 new.
	tk, s, err := f.qs[1].Reserve(lim(5, 0, "k", "after"), now)
	if err != nil || s != ScopeNone || tk.Epoch == tickets[0].Epoch {
		t.Fatalf("after the wipe: %+v %q %v", tk, s, err)
	}
	// The requests in flight end: one billed (its lease is gone: counted
	// by its old epoch), one not.
	f.qs[0].Commit(tickets[1])
	f.qs[0].Release(tickets[2])
	settled(t, f.qs[0])
	if u, _ := f.qs[1].Tenant("acme", now); u != (Usage{Used: 2, Reserved: 1}) {
		t.Fatalf("after the wipe: %+v, want used 2 reserved 1", u)
	}
	// Settling twice in the new epoch changes nothing more.
	f.qs[1].Commit(tk)
	f.qs[0].Commit(tk)
	settled(t, f.qs...)
	if u, _ := f.qs[0].Tenant("acme", now); u != (Usage{Used: 3}) {
		t.Fatalf("final: %+v", u)
	}
}

// downConns are shared-store connections to a Redis that does not answer.
func downConns(t *testing.T, replicas int) *stores.Conns {
	cfg := stores.DefaultConfig()
	cfg.Replicas = replicas
	return testkit.DownRedis(t, cfg)
}

// TestRedisDown: with Redis down nothing is reserved, and the rate
// decision is the local fallback's at rate/N.
func TestRedisDown(t *testing.T) {
	c := downConns(t, 2)
	q := newStore(t, c, RedisOptions{})
	now := time.Now()
	if tk, _, err := q.Reserve(lim(10, 0, "k", "r"), now); err == nil || !tk.IsZero() {
		t.Fatalf("reserve with Redis down: %+v %v", tk, err)
	}
	allowed := 0
	for i := range 6 {
		d, tk, _, err := q.AllowReserve("k", 10, 4, lim(10, 0, "k", fmt.Sprint("ar", i)), now)
		if err == nil || !tk.IsZero() {
			t.Fatalf("allow-reserve with Redis down: %+v %v", tk, err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 2 || q.o.Limiter.Fallbacks() != 6 {
		t.Fatalf("fallback admitted %d (fallbacks %d); want burst 4/2 = 2", allowed, q.o.Limiter.Fallbacks())
	}
	// Settlements wait in the queue while Redis is down.
	q.Commit(Ticket{Day: "2026-01-01", Tenant: "acme", Key: "k", Lease: "x", Epoch: "e"})
	time.Sleep(30 * time.Millisecond)
	if q.Pending() == 0 {
		t.Fatal("a settlement was dropped while Redis is down")
	}
}

// commandCounter counts the commands a client sends (pipelines included).
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestRedisRoundTrips: in steady state a request's rate token and quota
// unit take one call, and its commit rides on the next call.
func TestRedisRoundTrips(t *testing.T) {
	f := newFleet(t, 1, RedisOptions{})
	q, c := f.qs[0], f.conns[0]
	now := time.Now()
	if _, _, _, err := q.AllowReserve("k", 1e6, 1000, lim(0, 0, "k", "warm"), now); err != nil {
		t.Fatal(err) // seeds the day and loads the script
	}
	var counter commandCounter
	c.Redis.AddHook(&counter)
	var evalsha0 int64
	if info, err := c.Redis.Info(context.Background(), "commandstats").Result(); err == nil {
		evalsha0 = evalshaCalls(info)
	}
	const k = 300
	start := time.Now()
	for i := range k {
		d, tk, s, err := q.AllowReserve("k", 1e6, 1000, lim(0, 0, "k", fmt.Sprint("r", i)), now)
		if err != nil || !d.Allowed || s != ScopeNone {
			t.Fatalf("cycle %d: %+v %q %v", i, d, s, err)
		}
		q.Commit(tk)
	}
	elapsed := time.Since(start)
	settled(t, q)
	// The flusher may send what no request carried yet, once per flushDelay.
	bound := int64(k) + int64(elapsed/flushDelay) + 3
	if n := counter.n.Load(); n > bound {
		t.Fatalf("%d commands for %d requests in %v; want at most %d", n, k, elapsed, bound)
	} else {
		t.Logf("%d commands for %d requests and their commits in %v", n, k, elapsed)
	}
	if u, _ := q.Tenant("acme", now); u.Used != k+0 || u.Reserved != 1 {
		t.Fatalf("usage %+v", u)
	}
	// The server-wide count (other clients of the machine's Redis
	// included) only confirms EVALSHA is what ran.
	if info, err := c.Redis.Info(context.Background(), "commandstats").Result(); err == nil && evalsha0 > 0 {
		if evalshaCalls(info)-evalsha0 < k {
			t.Fatalf("fewer EVALSHA than requests: the script did not run by its digest")
		}
	}
}

// evalshaCalls reads cmdstat_evalsha's calls from INFO commandstats.
func evalshaCalls(info string) int64 {
	var n int64
	const p = "cmdstat_evalsha:calls="
	for i := 0; i+len(p) < len(info); i++ {
		if info[i:i+len(p)] == p {
			fmt.Sscanf(info[i+len(p):], "%d", &n)
			return n
		}
	}
	return 0
}

// TestRedisAllowReserveRate: the combined call's token comes from the
// same bucket as the standalone limiter's, and a refused token reserves
// nothing.
func TestRedisAllowReserveRate(t *testing.T) {
	tenantOf := func(string) string { return "acme" }
	f := newFleet(t, 2, RedisOptions{TenantOf: tenantOf})
	now := time.Now()
	lim0 := f.qs[0].o.Limiter
	if d := lim0.Allow("k", 1, 3, now); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("standalone: %+v", d)
	}
	var refused int
	for i := range 4 {
		d, tk, s, err := f.qs[i%2].AllowReserve("k", 1, 3, lim(100, 0, "k", fmt.Sprint("r", i)), now)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed {
			refused++
			if !tk.IsZero() || s != ScopeNone || d.RetryAfter <= 0 {
				t.Fatalf("refused token: %+v %+v %q", d, tk, s)
			}
		}
	}
	if refused != 2 {
		t.Fatalf("refused %d of 4 after one standalone token; want 2", refused)
	}
	if u, _ := f.qs[0].Tenant("acme", now); u != (Usage{Reserved: 2}) {
		t.Fatalf("usage %+v", u)
	}
	if lim0.Fallbacks() != 0 {
		t.Fatal("fallback with Redis up")
	}
}

// TestRedisAllowReserveFleetRate: replicas taking tokens through the
// combined call admit a key at most rate×t + burst together.
func TestRedisAllowReserveFleetRate(t *testing.T) {
	cases := []struct {
		replicas int
		rate     float64
		burst    int
	}{
		{2, 100, 5},
		{3, 50, 20},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.replicas, "x", tc.rate), func(t *testing.T) {
			f := newFleet(t, tc.replicas, RedisOptions{})
			const d = 400 * time.Millisecond
			var allowed, seq atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for g := range 4 * tc.replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := f.qs[g%tc.replicas]
					for time.Since(start) < d {
						r, tk, _, err := q.AllowReserve("k", tc.rate, tc.burst, lim(0, 0, "k", fmt.Sprint("r", seq.Add(1))), time.Now())
						if err != nil {
							t.Error(err)
							return
						}
						if r.Allowed {
							allowed.Add(1)
							q.Commit(tk)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			limit := int64(tc.rate*elapsed.Seconds()) + int64(tc.burst) + 1
			if n := allowed.Load(); n > limit || n < int64(tc.burst) {
				t.Fatalf("admitted %d in %v; want at most %d", n, elapsed, limit)
			}
			settled(t, f.qs...)
			if u, _ := f.qs[0].Tenant("acme", time.Now()); u.Used != allowed.Load() || u.Reserved != 0 {
				t.Fatalf("usage %+v for %d admitted", u, allowed.Load())
			}
		})
	}
}

func BenchmarkAllowReserve(b *testing.B) {
	f := newFleet(b, 1, RedisOptions{})
	q := f.qs[0]
	now := time.Now()
	var i atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, tk, _, err := q.AllowReserve("k", 1e6, 1e6, lim(0, 0, "k", fmt.Sprint("b", i.Add(1))), now)
			if err != nil {
				b.Fatal(err)
			}
			q.Commit(tk)
		}
	})
}

// TestRedisSeedUnderPGGuard: a seed whose reads hang is bounded by the
// PostgreSQL guard's policy (a multiple of its timeout), its failures open
// that breaker, and then seeds fail at once without reading.
func TestRedisSeedUnderPGGuard(t *testing.T) {
	var calls atomic.Int64
	seed := func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		calls.Add(1)
		<-ctx.Done() // PostgreSQL does not answer
		return 0, nil, ctx.Err()
	}
	f := newFleet(t, 1, RedisOptions{Seed: seed})
	c := f.conns[0]
	c.PGGuard = stores.NewGuard("postgres", 50*time.Millisecond, stores.BreakerConfig{Failures: 2, OpenFor: time.Minute})
	q := f.qs[0]
	for i := range 2 {
		start := time.Now()
		if tk, _, err := q.Reserve(lim(10, 0, "k", fmt.Sprint("r", i)), time.Now()); err == nil || !tk.IsZero() {
			t.Fatalf("reserve with PostgreSQL hanging: %+v %v", tk, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a seed waited %v; the PostgreSQL guard bounds it to %v", d, seedReadFactor*c.PGGuard.Timeout())
		}
	}
	start := time.Now()
	_, _, err := q.Reserve(lim(10, 0, "k", "open"), time.Now())
	if !errors.Is(err, stores.ErrOpen) || calls.Load() != 2 {
		t.Fatalf("with the PostgreSQL breaker open: %v after %d reads; want ErrOpen, no read", err, calls.Load())
	}
	if d := time.Since(start); d > 250*time.Millisecond { // a hanging read waits 500 ms
		t.Fatalf("a refused seed took %v", d)
	}
}

// slowPipelines delays every pipeline (the admin and metric reads) past
// the read bound.
type slowPipelines struct{ delay time.Duration }

func (slowPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (slowPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (s slowPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		return next(ctx, cmds)
	}
}

// TestRedisSlowReadsSpareTheBreaker: reads of the admin API and the
// metrics that time out report nothing, and do not open the Redis
// breaker the requests' reservations depend on.
func TestRedisSlowReadsSpareTheBreaker(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	cfg.Redis.Timeout = 50 * time.Millisecond // reads: 500 ms
	cfg.Breaker = stores.BreakerConfig{Failures: 3, OpenFor: time.Minute}
	c := testkit.Conns(t, cfg)
	c.Redis.AddHook(slowPipelines{delay: time.Second})
	q := newStore(t, c, RedisOptions{Tenants: func() []string { return []string{"acme", "rival"} }})
	now := time.Now()
	// The first reservation seeds the day; a loaded machine gets retries.
	var err error
	for range 20 {
		if _, _, err = q.Reserve(lim(10, 0, "k", "r0"), now); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if got := q.Tenants(now); len(got) != 0 {
			t.Fatalf("a read past its bound reported %v", got)
		}
	}
	if s := c.RedisGuard.State(); s != stores.Up {
		t.Fatalf("Redis breaker after slow reads: %v, want up", s)
	}
}

// flakyRedis fails every command while down, counting the attempts.
type flakyRedis struct {
	down  atomic.Bool
	fails atomic.Int64
}

func (f *flakyRedis) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *flakyRedis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.down.Load() {
			f.fails.Add(1)
			err := errors.New("redis down (test)")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *flakyRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisFlushAfterRecovery: settlements queued while Redis was down
// are sent within milliseconds of the first call that reaches Redis
// again, not after the flusher's backoff (up to a second).
func TestRedisFlushAfterRecovery(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	cfg.Redis.Timeout = 2 * time.Second
	cfg.Breaker = stores.BreakerConfig{Failures: 1 << 20, OpenFor: time.Millisecond} // the flusher's attempts never open it
	c := testkit.Conns(t, cfg)
	flaky := &flakyRedis{}
	c.Redis.AddHook(flaky)
	q := newStore(t, c, RedisOptions{})
	now := time.Now()
	tk, _, err := q.Reserve(lim(10, 0, "k", "r1"), now)
	if err != nil {
		t.Fatal(err)
	}

	flaky.down.Store(true)
	downAt := time.Now()
	q.Commit(tk)
	// Let the backoff reach its bound, then recover right after a failed
	// attempt: the flusher's next attempt is a second away.
	for {
		f := flaky.fails.Load()
		for flaky.fails.Load() == f {
			time.Sleep(time.Millisecond)
		}
		if time.Since(downAt) > 1600*time.Millisecond {
			break
		}
	}
	flaky.down.Store(false)

	// Another tenant's request reaches Redis (it does not carry acme's
	// settlement).
	if _, _, err := q.Reserve(Limits{TenantID: "rival", TenantQuota: 10, KeyID: "rk", Lease: "r2"}, now); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	for q.Pending() != 0 && time.Since(up) < 2*time.Second {
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(up); d > 500*time.Millisecond { // the backoff's next attempt: a second
		t.Fatalf("the settlement reached Redis %v after its recovery; want milliseconds", d)
	}
	settled(t, q)
	if u, _ := q.Tenant("acme", now); u != (Usage{Used: 1}) {
		t.Fatalf("acme after the recovery: %+v, want used 1", u)
	}
}
