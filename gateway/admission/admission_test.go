package admission

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/internal/testkit"
)

type nopMetrics struct{}

func (nopMetrics) Observe(string, string, string, time.Duration) {}
func (nopMetrics) ObserveUpstream(string, time.Duration)         {}

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type fixture struct {
	g     *Gate
	led   *testkit.Ledger
	quota *quota.Counter
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, dailyQuota int64) *fixture {
	t.Helper()
	d, err := auth.NewDirectory([]auth.TenantConfig{{
		ID: "t1", DailyQuota: dailyQuota, Rate: 1, Burst: 2, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := quota.NewCalendar(time.UTC)
	f := &fixture{led: &testkit.Ledger{}, quota: quota.NewCounter(cal), logs: &bytes.Buffer{}}
	f.g = &Gate{
		Auth: auth.NewStore(d), Limits: ratelimit.New(), Quota: f.quota, Ledger: f.led, Calendar: cal,
		Metrics: nopMetrics{}, IDs: NewIDs(), Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:         func() time.Time { return now },
		Idempotency: idempotency.NewMemory(time.Hour, 100), IdempotencyWait: 10 * time.Millisecond,
	}
	return f
}

func request(authz, idemKey, body string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/x")
	if authz != "" {
		ctx.Request.Header.Set("Authorization", authz)
	}
	if idemKey != "" {
		ctx.Request.Header.Set("Idempotency-Key", idemKey)
	}
	ctx.Request.SetBodyString(body)
	return ctx
}

// handler is a route that takes every admission step; work runs between
// Reserve and Settle, like a route's upstream call.
func (f *fixture) handler(ctx *fasthttp.RequestCtx, work func(x *Exchange) (billed bool)) {
	x := f.g.NewExchange(ctx, "test")
	defer f.g.End(&x)
	if !f.g.Admit(&x) || !f.g.Idempotent(&x, "/x", ctx.Request.Body()) || !f.g.Reserve(&x) {
		return
	}
	billed := work(&x)
	f.g.Settle(&x, billed)
	class := billing.NotBilled
	if billed {
		class = billing.Billed
	}
	f.g.Finish(&x, class, 200, "application/json", []byte(`{"result":"0"}`))
}

func errorCode(t *testing.T, ctx *fasthttp.RequestCtx) contracts.ErrorCode {
	t.Helper()
	var e contracts.ErrorBody
	if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
		t.Fatalf("error body %q: %v", ctx.Response.Body(), err)
	}
	if e.TraceID == "" || e.TraceID != string(ctx.Response.Header.Peek("X-Request-Id")) {
		t.Fatalf("trace_id %q, X-Request-Id %q", e.TraceID, ctx.Response.Header.Peek("X-Request-Id"))
	}
	return e.Error.Code
}

func TestSteps(t *testing.T) {
	billed := func(*Exchange) bool { return true }
	for _, tc := range []struct {
		name       string
		quota      int64
		requests   []*fasthttp.RequestCtx
		wantStatus []int
		wantCode   contracts.ErrorCode // of the last request
		wantClass  []billing.Class     // ledger entries in order
		wantUsed   int64
	}{
		{"no key", 0, []*fasthttp.RequestCtx{request("", "", "{}")}, []int{401}, contracts.ErrInvalidToken, nil, 0},
		{"unknown key", 0, []*fasthttp.RequestCtx{request("Bearer bad", "", "{}")}, []int{401}, contracts.ErrInvalidToken, nil, 0},
		{"billed", 0, []*fasthttp.RequestCtx{request("Bearer good-key", "", "{}")}, []int{200}, "", []billing.Class{billing.Billed}, 1},
		{"rate limited after the burst", 0, []*fasthttp.RequestCtx{
			request("Bearer good-key", "", "{}"), request("Bearer good-key", "", "{}"), request("Bearer good-key", "", "{}"),
		}, []int{200, 200, 429}, contracts.ErrTooManyRequests, []billing.Class{billing.Billed, billing.Billed, billing.RateLimited}, 2},
		{"quota used up", 1, []*fasthttp.RequestCtx{
			request("Bearer good-key", "", "{}"), request("Bearer good-key", "", "{}"),
		}, []int{200, 402}, contracts.ErrUsedUp, []billing.Class{billing.Billed, billing.QuotaExceeded}, 1},
		{"idempotent replay", 0, []*fasthttp.RequestCtx{
			request("Bearer good-key", "k", "{}"), request("Bearer good-key", "k", "{}"),
		}, []int{200, 200}, "", []billing.Class{billing.Billed, billing.Replayed}, 1},
		{"idempotency key reused with another body", 0, []*fasthttp.RequestCtx{
			request("Bearer good-key", "k", "{}"), request("Bearer good-key", "k", `{"a":1}`),
		}, []int{200, 400}, contracts.ErrTokenMismatched, []billing.Class{billing.Billed, billing.LocalReject}, 1},
		{"idempotency key not printable", 0, []*fasthttp.RequestCtx{request("Bearer good-key", "a b", "{}")},
			[]int{400}, contracts.ErrTokenMismatched, []billing.Class{billing.LocalReject}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.quota)
			for i, ctx := range tc.requests {
				f.handler(ctx, billed)
				if got := ctx.Response.StatusCode(); got != tc.wantStatus[i] {
					t.Fatalf("request %d: status %d, want %d (%s)", i, got, tc.wantStatus[i], ctx.Response.Body())
				}
				if len(ctx.Response.Header.Peek("X-Request-Id")) != 36 {
					t.Fatalf("request %d: X-Request-Id %q", i, ctx.Response.Header.Peek("X-Request-Id"))
				}
			}
			last := tc.requests[len(tc.requests)-1]
			if tc.wantCode != "" {
				if got := errorCode(t, last); got != tc.wantCode {
					t.Fatalf("code %s, want %s", got, tc.wantCode)
				}
			}
			if len(f.led.Entries()) != len(tc.wantClass) {
				t.Fatalf("ledger %+v, want classes %v", f.led.Entries(), tc.wantClass)
			}
			for i, e := range f.led.Entries() {
				if e.Class != string(tc.wantClass[i]) || e.Billed != (tc.wantClass[i] == billing.Billed) || e.Tenant != "t1" || e.KeyID != "k1" {
					t.Fatalf("entry %d %+v, want class %s", i, e, tc.wantClass[i])
				}
			}
			u, _ := f.quota.Tenant("t1", now)
			if u.Used != tc.wantUsed || u.Reserved != 0 {
				t.Fatalf("quota %+v, want used %d and nothing reserved", u, tc.wantUsed)
			}
		})
	}
}

// A panic anywhere in a route's work is answered 500 api_error, releases
// the unit it held and the Idempotency-Key record it led, and is logged
// without the panic's value (it may quote personal data).
func TestEndRecoversPanic(t *testing.T) {
	f := newFixture(t, 0)
	const secret = "110101191111110010"
	ctx := request("Bearer good-key", "k", "{}")
	f.handler(ctx, func(*Exchange) bool { panic("bad id " + secret) })
	if ctx.Response.StatusCode() != 500 || errorCode(t, ctx) != contracts.ErrAPIError {
		t.Fatalf("status %d body %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if u, _ := f.quota.Tenant("t1", now); u.Used != 0 || u.Reserved != 0 {
		t.Fatalf("quota %+v after a panic", u)
	}
	if len(f.led.Entries()) != 1 || f.led.Entries()[0].HTTPStatus != 500 {
		t.Fatalf("ledger %+v", f.led.Entries())
	}
	if strings.Contains(f.logs.String(), secret) || !strings.Contains(f.logs.String(), "request handler panicked") {
		t.Fatalf("log %s", f.logs.String())
	}
	// The key's record was abandoned: a retry runs afresh.
	retry := request("Bearer good-key", "k", "{}")
	f.handler(retry, func(*Exchange) bool { return true })
	if retry.Response.StatusCode() != 200 || len(retry.Response.Header.Peek("Idempotent-Replayed")) != 0 {
		t.Fatalf("retry: status %d replayed %q", retry.Response.StatusCode(), retry.Response.Header.Peek("Idempotent-Replayed"))
	}
}

// A panic before authentication still gets the contract's error body.
func TestEndRecoversPanicBeforeAuthentication(t *testing.T) {
	f := newFixture(t, 0)
	ctx := request("", "", "{}")
	func() {
		x := f.g.NewExchange(ctx, "test")
		defer f.g.End(&x)
		panic("early")
	}()
	if ctx.Response.StatusCode() != 500 || errorCode(t, ctx) != contracts.ErrAPIError || len(f.led.Entries()) != 0 {
		t.Fatalf("status %d body %s ledger %d", ctx.Response.StatusCode(), ctx.Response.Body(), len(f.led.Entries()))
	}
}

// A route that holds its unit beyond the request takes the ticket; End
// then leaves it alone.
func TestTakeTicket(t *testing.T) {
	f := newFixture(t, 0)
	var held quota.Ticket
	ctx := request("Bearer good-key", "", "{}")
	func() {
		x := f.g.NewExchange(ctx, "test")
		defer f.g.End(&x)
		if f.g.Admit(&x) && f.g.Reserve(&x) {
			held = x.TakeTicket()
		}
	}()
	if u, _ := f.quota.Tenant("t1", now); u.Reserved != 1 {
		t.Fatalf("quota %+v, want the unit still reserved", u)
	}
	f.quota.Commit(held)
	if u, _ := f.quota.Tenant("t1", now); u.Used != 1 || u.Reserved != 0 {
		t.Fatalf("quota %+v", u)
	}
}

func TestIDsUnique(t *testing.T) {
	g := NewIDs()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := g.Next()
		if len(id) != 36 || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
}
