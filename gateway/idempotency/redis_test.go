package idempotency_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

// replicas are two stores on one prefix: two gateway replicas.
func replicas(t *testing.T, lease, ttl time.Duration) (*stores.Conns, *idempotency.Redis, *idempotency.Redis) {
	t.Helper()
	cfg := testkit.SharedStores(t, "", "")
	// Generous: the tests check the semantics on a loaded machine (-race).
	cfg.Redis.Timeout = 2 * time.Second
	a, b := testkit.Conns(t, cfg), testkit.Conns(t, cfg)
	ra, rb := idempotency.NewRedis(a, lease, ttl), idempotency.NewRedis(b, lease, ttl)
	t.Cleanup(func() { ra.Close(); rb.Close() })
	return a, ra, rb
}

// settle is admission's loop: Begin again after each Wait, up to bound.
func settle(t *testing.T, s *idempotency.Redis, tenant, key string, fp idempotency.Fingerprint, bound time.Duration) idempotency.Result {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		r := s.Begin(tenant, key, fp)
		if r.State != idempotency.Wait {
			return r
		}
		if time.Now().After(deadline) {
			return r
		}
		<-r.Done
	}
}

var answer = idempotency.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{"result":"0"}`), Result: "0"}

func TestRedisConcurrentBeginOneLeads(t *testing.T) {
	_, ra, rb := replicas(t, 10*time.Second, time.Hour)
	fp := idempotency.NewFingerprint("/v1/check", []byte("body"))
	const n = 16
	results := make([]idempotency.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		s := ra
		if i%2 == 1 {
			s = rb
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Begin("acme", "k-1", fp)
		}()
	}
	wg.Wait()
	leads, waits := 0, 0
	var claim idempotency.Claim
	for _, r := range results {
		switch r.State {
		case idempotency.Lead:
			leads++
			claim = r.Claim
		case idempotency.Wait:
			waits++
		default:
			t.Fatalf("state %v (%v)", r.State, r.Err)
		}
	}
	if leads != 1 || waits != n-1 {
		t.Fatalf("leads %d waits %d, want 1 and %d", leads, waits, n-1)
	}
	// The duplicates poll; the leader (on either replica) completes.
	got := make(chan idempotency.Result, 2)
	for _, s := range []*idempotency.Redis{ra, rb} {
		go func() { got <- settle(t, s, "acme", "k-1", fp, 5*time.Second) }()
	}
	time.Sleep(60 * time.Millisecond)
	ra.Complete(claim, answer)
	ra.WaitSettled(5 * time.Second)
	for range 2 {
		r := <-got
		if r.State != idempotency.Replay || r.Answer.Status != 200 || r.Answer.ContentType != answer.ContentType ||
			string(r.Answer.Body) != string(answer.Body) || r.Answer.Result != "0" {
			t.Fatalf("after complete: %+v", r)
		}
	}
}

func TestRedisStates(t *testing.T) {
	conns, ra, rb := replicas(t, 300*time.Millisecond, time.Hour)
	fp := idempotency.NewFingerprint("/v1/check", []byte("one"))
	other := idempotency.NewFingerprint("/v1/check", []byte("two"))
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, key string)
	}{
		{"mismatch while running and after the answer", func(t *testing.T, key string) {
			r := ra.Begin("acme", key, fp)
			if r.State != idempotency.Lead {
				t.Fatalf("first: %v", r.State)
			}
			if got := rb.Begin("acme", key, other).State; got != idempotency.Mismatch {
				t.Fatalf("running, other body: %v", got)
			}
			ra.Complete(r.Claim, answer)
			ra.WaitSettled(5 * time.Second)
			if got := rb.Begin("acme", key, other).State; got != idempotency.Mismatch {
				t.Fatalf("answered, other body: %v", got)
			}
			if got := rb.Begin("acme", key, fp).State; got != idempotency.Replay {
				t.Fatalf("answered, same body: %v", got)
			}
		}},
		{"abandon lets the next lead", func(t *testing.T, key string) {
			r := ra.Begin("acme", key, fp)
			ra.Abandon(r.Claim)
			ra.WaitSettled(5 * time.Second)
			if got := rb.Begin("acme", key, fp).State; got != idempotency.Lead {
				t.Fatalf("after abandon: %v", got)
			}
		}},
		{"lease expiry lets the next lead; the old leader cannot settle", func(t *testing.T, key string) {
			old := ra.Begin("acme", key, fp)
			if got := rb.Begin("acme", key, fp).State; got != idempotency.Wait {
				t.Fatalf("within the lease: %v", got)
			}
			time.Sleep(400 * time.Millisecond)
			r := rb.Begin("acme", key, fp)
			if r.State != idempotency.Lead {
				t.Fatalf("after the lease: %v", r.State)
			}
			ra.Complete(old.Claim, idempotency.Answer{Status: 500})
			ra.WaitSettled(5 * time.Second)
			ra.Abandon(old.Claim)
			ra.WaitSettled(5 * time.Second)
			if got := ra.Begin("acme", key, fp).State; got != idempotency.Wait {
				t.Fatalf("old leader's settle touched the new record: %v", got)
			}
			rb.Complete(r.Claim, answer)
			rb.WaitSettled(5 * time.Second)
			if got := ra.Begin("acme", key, fp); got.State != idempotency.Replay || got.Answer.Status != 200 {
				t.Fatalf("new leader's answer: %+v", got)
			}
		}},
		{"answer kept for the ttl, fingerprint only", func(t *testing.T, key string) {
			r := ra.Begin("acme", key, fp)
			ra.Complete(r.Claim, answer)
			ra.WaitSettled(5 * time.Second)
			h := sha256.Sum256([]byte(key))
			rk := conns.Key("{t:acme}", "idem", hex.EncodeToString(h[:]))
			ttl, err := conns.Redis.PTTL(context.Background(), rk).Result()
			if err != nil || ttl < 59*time.Minute || ttl > time.Hour {
				t.Fatalf("ttl %v, %v", ttl, err)
			}
		}},
		{"tenants do not share keys", func(t *testing.T, key string) {
			ra.Begin("acme", key, fp)
			if got := rb.Begin("globex", key, other).State; got != idempotency.Lead {
				t.Fatalf("other tenant: %v", got)
			}
		}},
		{"any printable key", func(t *testing.T, key string) {
			k := key + `:{x}*?[]"\~`
			if got := ra.Begin("acme", k, fp).State; got != idempotency.Lead {
				t.Fatalf("%v", got)
			}
			if got := rb.Begin("acme", k, fp).State; got != idempotency.Wait {
				t.Fatalf("%v", got)
			}
		}},
		{"empty answer fields round-trip", func(t *testing.T, key string) {
			r := ra.Begin("acme", key, fp)
			ra.Complete(r.Claim, idempotency.Answer{Status: 400})
			ra.WaitSettled(5 * time.Second)
			got := rb.Begin("acme", key, fp)
			if got.State != idempotency.Replay || got.Answer.Status != 400 || len(got.Answer.Body) != 0 || got.Answer.ContentType != "" {
				t.Fatalf("%+v", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "key-"+tc.name) })
	}
}

func TestRedisTTLExpires(t *testing.T) {
	_, ra, rb := replicas(t, time.Second, 200*time.Millisecond)
	fp := idempotency.NewFingerprint("/v1/check", []byte("one"))
	r := ra.Begin("acme", "k", fp)
	ra.Complete(r.Claim, answer)
	ra.WaitSettled(5 * time.Second)
	if got := rb.Begin("acme", "k", fp).State; got != idempotency.Replay {
		t.Fatalf("within ttl: %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := rb.Begin("acme", "k", fp).State; got != idempotency.Lead {
		t.Fatalf("after ttl: %v", got)
	}
}

// down is a store whose Redis does not answer.
func down(t *testing.T, failures int) *idempotency.Redis {
	cfg := stores.DefaultConfig()
	cfg.Redis.Prefix = "idgtest_down"
	cfg.Breaker.Failures, cfg.Breaker.OpenFor = failures, time.Minute
	conns := testkit.DownRedis(t, cfg)
	return idempotency.NewRedis(conns, time.Second, time.Hour)
}

func TestRedisUnavailable(t *testing.T) {
	s := down(t, 2)
	fp := idempotency.NewFingerprint("/v1/check", nil)
	for i, want := range []error{nil, nil, stores.ErrOpen} {
		r := s.Begin("acme", "k", fp)
		if r.State != idempotency.Unavailable || r.Err == nil {
			t.Fatalf("call %d: %+v", i, r)
		}
		if want != nil && !errors.Is(r.Err, want) {
			t.Fatalf("call %d: %v, want %v", i, r.Err, want)
		}
	}
}

// faults makes a Redis client fail on demand: down fails every command
// before it is sent; loseReply sends it and then reports an error, as a
// timeout after Redis ran it would.
type faults struct{ down, loseReply atomic.Bool }

func (f *faults) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *faults) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.down.Load() {
			return errors.New("injected: redis down")
		}
		err := next(ctx, cmd)
		if err == nil && f.loseReply.Load() {
			return errors.New("injected: reply lost")
		}
		return err
	}
}
func (f *faults) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// faulty is a replica whose Redis client fails on demand, beside a healthy
// one on the same prefix.
func faulty(t *testing.T, lease time.Duration) (*faults, *idempotency.Redis, *idempotency.Redis) {
	t.Helper()
	cfg := testkit.SharedStores(t, "", "")
	cfg.Redis.Timeout = 2 * time.Second
	cfg.Breaker.OpenFor = 100 * time.Millisecond
	a, b := testkit.Conns(t, cfg), testkit.Conns(t, cfg)
	f := &faults{}
	a.Redis.AddHook(f)
	ra, rb := idempotency.NewRedis(a, lease, time.Hour), idempotency.NewRedis(b, lease, time.Hour)
	t.Cleanup(func() { ra.Close(); rb.Close() })
	return f, ra, rb
}

// Complete and Abandon return at once; while Redis fails (breaker open
// included) the write is retried in the background, past any short bound,
// and lands once Redis answers again: a duplicate then replays the answer
// instead of leading afresh after the lease.
func TestRedisSettleRetriedUntilRedisAnswers(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		f, ra, rb := faulty(t, 5*time.Second)
		fp := idempotency.NewFingerprint("/v1/check", []byte("body"))
		r := ra.Begin("acme", "k", fp)
		if r.State != idempotency.Lead {
			t.Fatalf("%v", r.State)
		}
		f.down.Store(true)
		start := time.Now()
		if abandon {
			ra.Abandon(r.Claim)
		} else {
			ra.Complete(r.Claim, answer)
		}
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Fatalf("settle blocked the caller %v", d)
		}
		time.Sleep(400 * time.Millisecond) // many failed tries, the breaker opened
		if got := rb.Begin("acme", "k", fp).State; got != idempotency.Wait {
			t.Fatalf("while Redis fails: %v", got)
		}
		f.down.Store(false)
		got := settle(t, rb, "acme", "k", fp, 2*time.Second)
		want := idempotency.Replay
		if abandon {
			want = idempotency.Lead
		}
		if got.State != want {
			t.Fatalf("abandon %v: after Redis is back: %v, want %v", abandon, got.State, want)
		}
	}
}

// A settlement that cannot be sent before its record's lease ends is
// dropped: the expiry frees the key.
func TestRedisSettleDroppedAfterLease(t *testing.T) {
	f, ra, rb := faulty(t, 300*time.Millisecond)
	fp := idempotency.NewFingerprint("/v1/check", nil)
	r := ra.Begin("acme", "k", fp)
	if r.State != idempotency.Lead {
		t.Fatalf("%v", r.State)
	}
	f.down.Store(true)
	ra.Complete(r.Claim, answer)
	if !ra.WaitSettled(2 * time.Second) {
		t.Fatalf("still queued after the lease: %d", ra.Pending())
	}
	if got := rb.Begin("acme", "k", fp).State; got != idempotency.Lead {
		t.Fatalf("after the lease: %v", got)
	}
}

// A Begin whose reply is lost after Redis ran the script answers
// Unavailable and abandons the record it may have set: the key is not
// locked for the lease.
func TestRedisBeginErrorAbandons(t *testing.T) {
	f, ra, rb := faulty(t, 5*time.Second)
	fp := idempotency.NewFingerprint("/v1/check", nil)
	f.loseReply.Store(true)
	if r := ra.Begin("acme", "k", fp); r.State != idempotency.Unavailable {
		t.Fatalf("lost reply: %v", r.State)
	}
	f.loseReply.Store(false)
	if got := settle(t, rb, "acme", "k", fp, time.Second).State; got != idempotency.Lead {
		t.Fatalf("after a lost reply: %v, want Lead", got)
	}
}

// Close sends what is still queued.
func TestRedisCloseDrains(t *testing.T) {
	_, ra, rb := replicas(t, 5*time.Second, time.Hour)
	fp := idempotency.NewFingerprint("/v1/check", nil)
	r := ra.Begin("acme", "k", fp)
	ra.Complete(r.Claim, answer)
	ra.Close()
	if got := rb.Begin("acme", "k", fp).State; got != idempotency.Replay {
		t.Fatalf("after close: %v", got)
	}
}
