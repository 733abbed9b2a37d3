package retry

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/upstream"
)

// step is one scripted upstream answer.
type step struct {
	status     int
	result     string
	retryAfter string
	err        error
}

type script struct {
	steps []step
	calls int
}

func (s *script) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	if st.err != nil {
		return fmt.Errorf("upstream: %w", st.err)
	}
	resp.SetStatusCode(st.status)
	if st.retryAfter != "" {
		resp.Header.Set("Retry-After", st.retryAfter)
	}
	if st.result != "" {
		resp.SetBodyString(`{"result":"` + st.result + `","description":"x"}`)
	} else {
		resp.SetBodyString(`{"success":false,"error":{"code":"api_error","message":"x"}}`)
	}
	return nil
}

func policy() Policy {
	return NewPolicy(DefaultConfig(), billing.DefaultRoutes())
}

func ok(r string) step { return step{status: 200, result: r} }

func TestRetryPolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		calls int
		last  string // result or status of the answer kept
	}{
		{"billed at once", []step{ok("0")}, 1, "0"},
		{"billed inconsistent never retried", []step{ok("-1"), ok("0")}, 1, "-1"},
		{"no record not retried", []step{ok("-5"), ok("0")}, 1, "-5"},
		{"daily limit not retried", []step{ok("-7"), ok("0")}, 1, "-7"},
		{"database exception then billed", []step{ok("-4"), ok("0")}, 2, "0"},
		{"upgrading thrice", []step{ok("-6")}, 3, "-6"},
		{"500 burst then billed", []step{{status: 500}, {status: 502}, ok("0")}, 3, "0"},
		{"503 then 504 then billed", []step{{status: 503}, {status: 504}, ok("-1")}, 3, "-1"},
		{"400 not retried", []step{{status: 400}, ok("0")}, 1, "400"},
		{"501 not retried", []step{{status: 501}, ok("0")}, 1, "501"},
		{"429 honoured", []step{{status: 429, retryAfter: "0"}, ok("0")}, 2, "0"},
		// A reset or a close after the request was written may follow a
		// billed verdict: one possible charge, never a second call.
		{"reset not retried", []step{{err: syscall.ECONNRESET}, ok("0")}, 1, "err"},
		{"refused retried", []step{{err: syscall.ECONNREFUSED}, ok("0")}, 2, "0"},
		{"no free connection then dial timeout retried", []step{{err: fasthttp.ErrNoFreeConns}, {err: fasthttp.ErrDialTimeout}, ok("0")}, 3, "0"},
		{"closed before answer not retried", []step{{err: io.EOF}, ok("0")}, 1, "err"},
		{"closed by the server not retried", []step{{err: fasthttp.ErrConnectionClosed}, ok("0")}, 1, "err"},
		{"timeout not retried", []step{{err: fasthttp.ErrTimeout}, ok("0")}, 1, "err"},
		{"malformed not retried", []step{{err: errors.New("cannot parse response status line")}, ok("0")}, 1, "err"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{steps: tc.steps}
			p := policy()
			p.MinBackoff, p.MaxBackoff = time.Microsecond, time.Microsecond
			f, err := New(s, nil, p, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			f.sleep = func(time.Duration) {}
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			r := &upstream.Request{Route: "check-2e"}
			ferr := f.Forward(r, resp)
			if s.calls != tc.calls || r.Attempts != tc.calls {
				t.Fatalf("calls %d attempts %d, want %d", s.calls, r.Attempts, tc.calls)
			}
			var got string
			switch {
			case ferr != nil:
				got = "err"
			case resp.StatusCode() == 200:
				res, _ := upstream.ResultField(resp.Body())
				got = string(res)
			default:
				got = fmt.Sprint(resp.StatusCode())
			}
			if got != tc.last {
				t.Fatalf("kept %q, want %q", got, tc.last)
			}
		})
	}
}

func TestDeadlineStopsWaiting(t *testing.T) {
	// Retry-After beyond the deadline: answer the 429 now instead of
	// making the client wait past the deadline.
	s := &script{steps: []step{{status: 429, retryAfter: "30"}, ok("0")}}
	p := policy()
	p.Deadline = time.Second
	f, _ := New(s, nil, p, nil)
	var slept time.Duration
	f.sleep = func(d time.Duration) { slept += d }
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	r := &upstream.Request{Route: "check-2e"}
	_ = f.Forward(r, resp)
	if s.calls != 1 || slept != 0 || resp.StatusCode() != 429 {
		t.Fatalf("calls %d slept %v status %d", s.calls, slept, resp.StatusCode())
	}
	// A Retry-After inside the deadline is waited for exactly.
	s = &script{steps: []step{{status: 429, retryAfter: "1"}, ok("0")}}
	p.Deadline = 5 * time.Second
	f, _ = New(s, nil, p, nil)
	slept = 0
	f.sleep = func(d time.Duration) { slept += d }
	_ = f.Forward(&upstream.Request{Route: "check-2e"}, resp)
	if s.calls != 2 || slept != time.Second {
		t.Fatalf("calls %d slept %v, want 2 calls after 1s", s.calls, slept)
	}
	// Each call gets the deadline's remainder as its timeout.
	if r.Timeout <= 0 || r.Timeout > time.Second {
		t.Fatalf("timeout %v not bounded by the deadline", r.Timeout)
	}
}

func TestBackoffJitterAndGrowth(t *testing.T) {
	p := policy()
	for n := 1; n <= 6; n++ {
		b := min(p.MinBackoff<<(n-1), p.MaxBackoff)
		for range 100 {
			d := p.Backoff(n, fasthttp.AcquireResponse(), nil)
			if d < b/2 || d > b {
				t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, b/2, b)
			}
		}
	}
}

// gate refuses after `allow` calls.
type gate struct{ allow, outcomes int }

func (g *gate) Allow(time.Time) (uint64, error) {
	if g.allow == 0 {
		return 0, breaker.ErrOpen
	}
	g.allow--
	return 1, nil
}

func (g *gate) Done(uint64, breaker.Outcome) { g.outcomes++ }

func TestBreakerStopsRetries(t *testing.T) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	s := &script{steps: []step{{status: 500}}}
	g := &gate{allow: 0}
	f, _ := New(s, g, policy(), nil)
	f.sleep = func(time.Duration) {}
	r := &upstream.Request{Route: "check-2e"}
	if err := f.Forward(r, resp); !errors.Is(err, breaker.ErrOpen) || s.calls != 0 || r.Attempts != 0 {
		t.Fatalf("open at first: err %v calls %d", err, s.calls)
	}
	g = &gate{allow: 1}
	f, _ = New(s, g, policy(), nil)
	f.sleep = func(time.Duration) {}
	if err := f.Forward(r, resp); err != nil || s.calls != 1 || resp.StatusCode() != 500 || r.Attempts != 1 || g.outcomes != 1 {
		t.Fatalf("open mid-way: err %v calls %d status %d attempts %d", err, s.calls, resp.StatusCode(), r.Attempts)
	}
}

// Failures a test chose on purpose (Excused) are retried as usual but never
// open the breaker; the same failures unexcused do.
func TestExcusedFailuresDoNotOpenTheBreaker(t *testing.T) {
	for _, tc := range []struct {
		excused  bool
		wantOpen bool
	}{{excused: true, wantOpen: false}, {excused: false, wantOpen: true}} {
		b, err := breaker.New("sim", breaker.Config{Enabled: true, FailureRatio: 0.5, MinRequests: 4,
			Window: time.Minute, OpenFor: time.Minute, HalfOpenProbes: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := &script{steps: []step{{status: 500}}}
		f, _ := New(s, b, policy(), nil)
		f.sleep = func(time.Duration) {}
		resp := fasthttp.AcquireResponse()
		for i := 0; i < 5; i++ {
			r := &upstream.Request{Route: "check-2e", Excused: tc.excused}
			_ = f.Forward(r, resp)
		}
		fasthttp.ReleaseResponse(resp)
		if b.Open() != tc.wantOpen {
			t.Errorf("excused=%v: breaker open = %v, want %v (calls %d)", tc.excused, b.Open(), tc.wantOpen, s.calls)
		}
		if tc.excused && s.calls < 10 {
			t.Errorf("excused requests were not retried: %d calls for 5 requests", s.calls)
		}
	}
}

// timeouts records the timeout each call was given.
type timeouts struct {
	script
	got []time.Duration
}

func (s *timeouts) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	s.got = append(s.got, r.Timeout)
	return s.script.Forward(r, resp)
}

// The deadline counts from the request's Start when the caller gives one
// (the pipeline's clock reading just before forwarding, taken as the first
// call's start without reading the clock again), else from the retry's
// clock; each later call gets what is left of it.
func TestDeadlineCountsFromStart(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		start time.Time
		want  []time.Duration // per call
	}{
		{"start given", t0.Add(-time.Second), []time.Duration{5 * time.Second, 3 * time.Second}},
		{"no start", time.Time{}, []time.Duration{5 * time.Second, 4 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy()
			p.Deadline = 5 * time.Second
			p.MaxAttempts = 2
			s := &timeouts{script: script{steps: []step{{status: 503, retryAfter: "1"}, ok("0")}}}
			f, _ := New(s, nil, p, nil)
			clock := t0
			f.now = func() time.Time { return clock }
			f.sleep = func(d time.Duration) { clock = clock.Add(d) }
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			if err := f.Forward(&upstream.Request{Route: "check-2e", Start: tc.start}, resp); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.got, tc.want) {
				t.Fatalf("timeouts %v, want %v", s.got, tc.want)
			}
		})
	}
}
