package admission

import (
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
)

// oneCall is a RateQuota made of the embedded stores that counts its
// calls, standing for a shared store's one round trip; err fails the quota.
type oneCall struct {
	limits *ratelimit.Limiters
	quota  *quota.Counter
	calls  int
	err    error
}

func (o *oneCall) AllowReserve(keyID string, rate float64, burst int, l quota.Limits, now time.Time) (ratelimit.Decision, quota.Ticket, quota.Scope, error) {
	o.calls++
	d := o.limits.Allow(keyID, rate, burst, now)
	if !d.Allowed {
		return d, quota.Ticket{}, quota.ScopeNone, nil
	}
	if o.err != nil {
		return d, quota.Ticket{}, quota.ScopeNone, o.err
	}
	t, s, err := o.quota.Reserve(l, now)
	return d, t, s, err
}

// countingLimiter counts the separate step-2 calls.
type countingLimiter struct {
	*ratelimit.Limiters
	calls int
}

func (c *countingLimiter) Allow(keyID string, rate float64, burst int, now time.Time) ratelimit.Decision {
	c.calls++
	return c.Limiters.Allow(keyID, rate, burst, now)
}

// unavailableIdem is an Idempotency-Key store that does not answer.
type unavailableIdem struct{}

func (unavailableIdem) Begin(string, string, idempotency.Fingerprint) idempotency.Result {
	return idempotency.Result{State: idempotency.Unavailable, Err: errors.New("redis: i/o timeout")}
}
func (unavailableIdem) Complete(idempotency.Claim, idempotency.Answer) {}
func (unavailableIdem) Abandon(idempotency.Claim)                      {}

// TestDeferredRate holds the promises of AdmitDeferringRate: the token and
// the quota unit in one call, the same refusals in the same order as the
// separate steps, and nothing admitted when the store cannot count.
func TestDeferredRate(t *testing.T) {
	type step struct {
		reserve    bool // the route reaches Reserve (else it answers locally)
		idemKey    string
		wantStatus int
		wantCode   contracts.ErrorCode
	}
	for _, tc := range []struct {
		name          string
		quota         int64
		quotaErr      error
		idem          IdempotencyStore
		steps         []step
		wantClasses   []billing.Class
		wantOneCalls  int // AllowReserve calls
		wantSeparate  int // Limits.Allow calls
		wantUsedAfter int64
	}{
		{name: "billed: one call for token and unit", steps: []step{{reserve: true, wantStatus: 200}},
			wantClasses: []billing.Class{billing.Billed}, wantOneCalls: 1, wantUsedAfter: 1},
		{name: "over the rate: 429 and no unit reserved", steps: []step{
			{reserve: true, wantStatus: 200}, {reserve: true, wantStatus: 200},
			{reserve: true, wantStatus: 429, wantCode: contracts.ErrTooManyRequests},
		}, wantClasses: []billing.Class{billing.Billed, billing.Billed, billing.RateLimited}, wantOneCalls: 3, wantUsedAfter: 2},
		{name: "local answer takes its token before it is written", steps: []step{
			{wantStatus: 200}, {wantStatus: 200}, {wantStatus: 429, wantCode: contracts.ErrTooManyRequests},
		}, wantClasses: []billing.Class{billing.LocalReject, billing.LocalReject, billing.RateLimited}, wantSeparate: 3},
		{name: "quota used up after the token", quota: 1, steps: []step{
			{reserve: true, wantStatus: 200}, {reserve: true, wantStatus: 402, wantCode: contracts.ErrUsedUp},
		}, wantClasses: []billing.Class{billing.Billed, billing.QuotaExceeded}, wantOneCalls: 2, wantUsedAfter: 1},
		{name: "quota store down: 503, nothing admitted", quotaErr: errors.New("redis: i/o timeout"), steps: []step{
			{reserve: true, wantStatus: 503, wantCode: contracts.ErrServiceUnavailable},
		}, wantClasses: []billing.Class{billing.StoreUnavailable}, wantOneCalls: 1},
		{name: "idempotency store down: 503 before any unit", idem: unavailableIdem{}, steps: []step{
			{reserve: true, idemKey: "k", wantStatus: 503, wantCode: contracts.ErrServiceUnavailable},
		}, wantClasses: []billing.Class{billing.StoreUnavailable}, wantSeparate: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.quota)
			one := &oneCall{limits: ratelimit.New(), quota: f.quota, err: tc.quotaErr}
			sep := &countingLimiter{Limiters: one.limits}
			f.g.RateQuota, f.g.Limits = one, sep
			if tc.idem != nil {
				f.g.Idempotency = tc.idem
			}
			for i, st := range tc.steps {
				ctx := request("Bearer good-key", st.idemKey, "{}")
				x := f.g.NewExchange(ctx, "test")
				func() {
					defer f.g.End(&x)
					if !f.g.AdmitDeferringRate(&x) || !f.g.Idempotent(&x, "/x", ctx.Request.Body()) {
						return
					}
					if !st.reserve {
						f.g.Finish(&x, billing.LocalReject, 200, "application/json", []byte(`{"result":"-1"}`))
						return
					}
					if !f.g.Reserve(&x) {
						return
					}
					f.g.Settle(&x, true)
					f.g.Finish(&x, billing.Billed, 200, "application/json", []byte(`{"result":"0"}`))
				}()
				if got := ctx.Response.StatusCode(); got != st.wantStatus {
					t.Fatalf("request %d: status %d, want %d (%s)", i, got, st.wantStatus, ctx.Response.Body())
				}
				if st.wantCode != "" {
					if got := errorCode(t, ctx); got != st.wantCode {
						t.Fatalf("request %d: code %s, want %s", i, got, st.wantCode)
					}
				}
				if len(ctx.Response.Header.Peek("Ratelimit-Limit")) == 0 {
					t.Fatalf("request %d: no RateLimit-Limit header", i)
				}
				if st.wantStatus == fasthttp.StatusServiceUnavailable && string(ctx.Response.Header.Peek("Retry-After")) != "1" {
					t.Fatalf("request %d: 503 without Retry-After", i)
				}
			}
			var got []billing.Class
			for _, e := range f.led.Entries() {
				got = append(got, billing.Class(e.Class))
			}
			if len(got) != len(tc.wantClasses) {
				t.Fatalf("ledger classes %v, want %v", got, tc.wantClasses)
			}
			for i := range got {
				if got[i] != tc.wantClasses[i] {
					t.Fatalf("ledger classes %v, want %v", got, tc.wantClasses)
				}
			}
			if one.calls != tc.wantOneCalls || sep.calls != tc.wantSeparate {
				t.Fatalf("calls: AllowReserve %d (want %d), Allow %d (want %d)", one.calls, tc.wantOneCalls, sep.calls, tc.wantSeparate)
			}
			if u, _ := f.quota.Key("k1", now); u.Used != tc.wantUsedAfter || u.Reserved != 0 {
				t.Fatalf("key usage %+v, want used %d and nothing reserved", u, tc.wantUsedAfter)
			}
		})
	}
}
