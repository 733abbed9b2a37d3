package pipeline

import (
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/upstream"
)

func TestUpstreamOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		forward forwardFunc
		status  int
		code    contracts.ErrorCode
		class   billing.Class
	}{
		{"breaker open", func(r *upstream.Request, _ *fasthttp.Response) error { return breaker.ErrOpen },
			503, contracts.ErrServiceUnavailable, billing.CircuitOpen},
		{"shared billed answer", func(r *upstream.Request, resp *fasthttp.Response) error {
			r.Shared = true
			resp.SetBodyString(`{"result":"0","description":"x"}`)
			return nil
		}, 200, "", billing.Cached},
		{"own billed answer after retries", func(r *upstream.Request, resp *fasthttp.Response) error {
			r.Attempts = 3
			resp.SetBodyString(`{"result":"-1","description":"x"}`)
			return nil
		}, 200, "", billing.Billed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.p.Forward = tc.forward
			resp := h.do(goodBody())
			if resp.StatusCode() != tc.status || (tc.code != "" && errorCode(t, resp) != tc.code) {
				t.Fatalf("%d %s", resp.StatusCode(), resp.Body())
			}
			e := h.led.Entries()[0]
			if e.Class != string(tc.class) || e.Billed != (tc.class == billing.Billed) {
				t.Fatalf("ledger %+v, want class %s", e, tc.class)
			}
			if tc.class == billing.Billed && e.Attempts != 3 {
				t.Fatalf("attempts %d, want 3", e.Attempts)
			}
			if used, _ := h.quota.Tenant("t1", now); tc.class != billing.Billed && used.Used != 0 {
				t.Fatalf("quota used %d by class %s", used.Used, tc.class)
			}
		})
	}
}

func TestIdempotencyInPipeline(t *testing.T) {
	h := newHarness(t, nil)
	store := idempotency.NewMemory(time.Hour, 100)
	h.p.Idempotency, h.p.IdempotencyWait = store, 20*time.Millisecond
	key := withHeader("Idempotency-Key", "k1")

	// A failure is not stored: the retry runs and is billed once.
	h.up.err = errors.New("reset")
	if resp := h.do(goodBody(), key); resp.StatusCode() != 500 {
		t.Fatalf("first: %d", resp.StatusCode())
	}
	h.up.err = nil
	if resp := h.do(goodBody(), key); resp.StatusCode() != 200 || len(resp.Header.Peek("Idempotent-Replayed")) > 0 {
		t.Fatalf("retry: %d %s", resp.StatusCode(), resp.Header.Peek("Idempotent-Replayed"))
	}
	resp := h.do(goodBody(), key)
	if string(resp.Header.Peek("Idempotent-Replayed")) != "true" || h.up.calls.Load() != 2 {
		t.Fatalf("replay: %d calls, header %q", h.up.calls.Load(), resp.Header.Peek("Idempotent-Replayed"))
	}
	if e := h.led.Entries(); e[len(e)-1].Class != string(billing.Replayed) || e[len(e)-1].Billed {
		t.Fatalf("replay entry %+v", e[len(e)-1])
	}

	// A leader that never finishes (panic) releases its record.
	h.p.Forward = forwardFunc(func(*upstream.Request, *fasthttp.Response) error { panic("boom") })
	func() {
		defer func() { _ = recover() }()
		h.do(goodBody(), withHeader("Idempotency-Key", "k2"))
	}()
	if r := store.Begin("t1", "k2", idempotency.NewFingerprint(h.route.Path, []byte(goodBody()))); r.State != idempotency.Lead {
		t.Fatalf("after a panic the key is %v, want free", r.State)
	} else {
		// A duplicate of a request still running past the wait: 429, no call.
		before := h.up.calls.Load()
		resp := h.do(goodBody(), withHeader("Idempotency-Key", "k2"))
		if resp.StatusCode() != 429 || errorCode(t, resp) != contracts.ErrTooManyRequests || h.up.calls.Load() != before {
			t.Fatalf("duplicate of a stuck request: %d %s", resp.StatusCode(), resp.Body())
		}
		store.Abandon(r.Claim)
	}

	for _, bad := range []string{"has space", string(make([]byte, 256))} {
		if resp := h.do(goodBody(), withHeader("Idempotency-Key", bad)); resp.StatusCode() != 400 {
			t.Errorf("key %q: %d", bad, resp.StatusCode())
		}
	}
}
