package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/upstream"
	"github.com/idgate/idgate/internal/testkit"
)

// fakeUpstream answers every forward with a fixed response or error.
type fakeUpstream struct {
	mu     sync.Mutex
	status int
	body   string
	header map[string]string
	err    error
	calls  atomic.Int64
	last   upstream.Request
}

func (f *fakeUpstream) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = upstream.Request{Path: r.Path, Body: append([]byte(nil), r.Body...), Prefer: append([]byte(nil), r.Prefer...)}
	if f.err != nil {
		return f.err
	}
	resp.SetStatusCode(f.status)
	resp.Header.SetContentType("application/json")
	for k, v := range f.header {
		resp.Header.Set(k, v)
	}
	resp.SetBodyString(f.body)
	return nil
}

type nopMetrics struct{}

func (nopMetrics) Observe(string, string, string, time.Duration) {}
func (nopMetrics) ObserveUpstream(string, time.Duration)         {}

type harness struct {
	p     *Pipeline
	up    *fakeUpstream
	led   *testkit.Ledger
	quota *quota.Counter
	route *Route
}

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, tenants []auth.TenantConfig) *harness {
	t.Helper()
	if tenants == nil {
		tenants = []auth.TenantConfig{{ID: "t1", DailyQuota: 0, Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}}}}
	}
	d, err := auth.NewDirectory(tenants, nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := quota.NewCalendar(time.UTC)
	q := quota.NewCounter(cal)
	up := &fakeUpstream{status: 200, body: `{"result":"0","description":"Name and ID card number are consistent"}`}
	led := &testkit.Ledger{}
	rt, err := NewRoute(billing.CheckRoute())
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{
		Gate: admission.Gate{
			Auth: auth.NewStore(d), Limits: ratelimit.New(), Quota: q, Ledger: led,
			Calendar: cal, Metrics: nopMetrics{}, IDs: admission.NewIDs(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now: func() time.Time { return now },
		},
		Forward: up, MaxBody: 4096,
	}
	return &harness{p: p, up: up, led: led, quota: q, route: rt}
}

const goodID, goodName = "110101191111110010", "测试一致"

func goodBody() string {
	return fmt.Sprintf(`{"name":%q,"id_card":%q}`, goodName, goodID)
}

type reqOpt func(*fasthttp.Request)

func withAuth(v string) reqOpt      { return func(r *fasthttp.Request) { r.Header.Set("Authorization", v) } }
func withHeader(k, v string) reqOpt { return func(r *fasthttp.Request) { r.Header.Set(k, v) } }

func (h *harness) do(body string, opts ...reqOpt) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(contracts.CheckPath)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.Header.Set("Authorization", "Bearer good-key")
	ctx.Request.SetBodyString(body)
	for _, o := range opts {
		o(&ctx.Request)
	}
	h.p.Serve(&ctx, h.route)
	resp := &fasthttp.Response{}
	ctx.Response.CopyTo(resp)
	return resp
}

func errorCode(t *testing.T, resp *fasthttp.Response) contracts.ErrorCode {
	t.Helper()
	var e contracts.ErrorBody
	if err := json.Unmarshal(resp.Body(), &e); err != nil {
		t.Fatalf("error body %q: %v", resp.Body(), err)
	}
	if e.Success || e.TraceID == "" || e.TraceID != string(resp.Header.Peek("X-Request-Id")) {
		t.Fatalf("error body %q: want success=false and trace_id = X-Request-Id", resp.Body())
	}
	return e.Error.Code
}

func TestClasses(t *testing.T) {
	cases := []struct {
		name       string
		body       string
		opts       []reqOpt
		upStatus   int
		upBody     string
		upHeader   map[string]string
		upErr      error
		wantStatus int
		wantCode   contracts.ErrorCode // for non-200
		wantResult string              // for 200
		wantClass  billing.Class
		wantCalls  int64
		passBody   bool // response body equals upstream body
	}{
		{name: "billed consistent", upStatus: 200, upBody: `{"result":"0","description":"x"}`, wantStatus: 200, wantResult: "0", wantClass: billing.Billed, wantCalls: 1, passBody: true},
		{name: "billed inconsistent", upStatus: 200, upBody: `{"result":"-1","description":"x"}`, wantStatus: 200, wantResult: "-1", wantClass: billing.Billed, wantCalls: 1, passBody: true},
		{name: "not billed no record", upStatus: 200, upBody: `{"description":"x","result":"-5"}`, wantStatus: 200, wantResult: "-5", wantClass: billing.NotBilled, wantCalls: 1, passBody: true},
		{name: "not billed upgrading", upStatus: 200, upBody: `{"result":"-6","description":"x","extra":{"a":[1,"}"]}}`, wantStatus: 200, wantResult: "-6", wantClass: billing.NotBilled, wantCalls: 1, passBody: true},
		{name: "local illegal id", body: `{"name":"张三","id_card":"110101191111110011"}`, wantStatus: 200, wantResult: "-2", wantClass: billing.LocalReject},
		{name: "local illegal name", body: `{"name":"X","id_card":"110101191111110010"}`, wantStatus: 200, wantResult: "-3", wantClass: billing.LocalReject},
		{name: "malformed json", body: `{"name":`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "wrong type", body: `{"name":1,"id_card":"110101191111110010"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "repeated name", body: `{"name":"a","name":"张三","id_card":"110101191111110010"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "upper-case field names", body: `{"NAME":"张三","ID_CARD":"110101191111110010"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "field name in another case", body: `{"name":"张三","id_card":"110101191111110011","Id_Card":"110101191111110010"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "missing id", body: `{"name":"张三"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "empty body", body: ` `, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "oversized", body: `{"name":"` + strings.Repeat("a", 5000) + `"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "not json content type", opts: []reqOpt{withHeader("Content-Type", "text/plain")}, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "no content type", opts: []reqOpt{func(r *fasthttp.Request) { r.Header.Del("Content-Type") }}, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "gzip body", opts: []reqOpt{withHeader("Content-Encoding", "gzip")}, wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		{name: "identity encoding", opts: []reqOpt{withHeader("Content-Encoding", "identity")}, upStatus: 200, upBody: `{"result":"0","description":"x"}`, wantStatus: 200, wantResult: "0", wantClass: billing.Billed, wantCalls: 1, passBody: true},
		{name: "json with charset", opts: []reqOpt{withHeader("Content-Type", "application/json; charset=utf-8")}, upStatus: 200, upBody: `{"result":"0","description":"x"}`, wantStatus: 200, wantResult: "0", wantClass: billing.Billed, wantCalls: 1, passBody: true},
		{name: "bad validity", body: fmt.Sprintf(`{"name":%q,"id_card":%q,"validity_begin":"2020-01-01"}`, goodName, goodID), wantStatus: 400, wantCode: contracts.ErrTokenMismatched, wantClass: billing.LocalReject},
		// Nothing was sent: not billed, the unit is released.
		{name: "connection refused", upErr: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.UpstreamError, wantCalls: 1},
		{name: "no free connection", upErr: fasthttp.ErrNoFreeConns, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.UpstreamError, wantCalls: 1},
		// The request may have reached the authority and been billed:
		// unknown, the unit is kept until reconciliation resolves it.
		{name: "timeout", upErr: fasthttp.ErrTimeout, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "reset after sending", upErr: syscall.ECONNRESET, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "closed before the answer", upErr: errors.New("upstream: the server closed connection before returning the first response byte"), wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "garbage 200", upStatus: 200, upBody: `<html>oops</html>`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "truncated 200", upStatus: 200, upBody: `{"result":"0","descr`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "empty 200", upStatus: 200, upBody: ``, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "wrong shape", upStatus: 200, upBody: `{"result":0}`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "array", upStatus: 200, upBody: `["result","0"]`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "nested result only", upStatus: 200, upBody: `{"data":{"result":"0"}}`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "unknown code", upStatus: 200, upBody: `{"result":"-42","description":"x"}`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.Unknown, wantCalls: 1},
		{name: "upstream 429 passed through", upStatus: 429, upBody: `{"success":false,"error":{"code":"too_many_requests","message":"m"},"trace_id":"u-1"}`, upHeader: map[string]string{"Retry-After": "3"}, wantStatus: 429, wantClass: billing.UpstreamError, wantCalls: 1, passBody: true},
		{name: "upstream 500 passed through", upStatus: 500, upBody: `{"success":false,"error":{"code":"api_error","message":"m"},"trace_id":"u-2"}`, wantStatus: 500, wantClass: billing.UpstreamError, wantCalls: 1, passBody: true},
		{name: "upstream 502 html", upStatus: 502, upBody: `<html>bad gateway</html>`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.UpstreamError, wantCalls: 1},
		{name: "upstream refuses our credential", upStatus: 401, upBody: `{"success":false,"error":{"code":"invalid_token","message":"m"},"trace_id":"u"}`, wantStatus: 500, wantCode: contracts.ErrAPIError, wantClass: billing.UpstreamError, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.up.status, h.up.body, h.up.err, h.up.header = tc.upStatus, tc.upBody, tc.upErr, tc.upHeader
			body := tc.body
			if body == "" {
				body = goodBody()
			}
			resp := h.do(body, tc.opts...)
			if resp.StatusCode() != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode(), tc.wantStatus, resp.Body())
			}
			if len(resp.Header.Peek("X-Request-Id")) == 0 {
				t.Error("no X-Request-Id")
			}
			if tc.wantCode != "" {
				if c := errorCode(t, resp); c != tc.wantCode {
					t.Fatalf("code %s, want %s", c, tc.wantCode)
				}
			}
			if tc.wantResult != "" {
				var cr contracts.CheckResponse
				if err := json.Unmarshal(resp.Body(), &cr); err != nil || string(cr.Result) != tc.wantResult || cr.Description == "" {
					t.Fatalf("body %s, want result %s with a description", resp.Body(), tc.wantResult)
				}
			}
			if tc.passBody && string(resp.Body()) != tc.upBody {
				t.Fatalf("body %q, want upstream body unchanged %q", resp.Body(), tc.upBody)
			}
			if got := h.up.calls.Load(); got != tc.wantCalls {
				t.Fatalf("upstream calls %d, want %d", got, tc.wantCalls)
			}
			if tc.upHeader["Retry-After"] != "" && string(resp.Header.Peek("Retry-After")) != tc.upHeader["Retry-After"] {
				t.Error("upstream Retry-After not passed on")
			}
			es := h.led.Entries()
			if len(es) != 1 {
				t.Fatalf("ledger entries %d, want 1", len(es))
			}
			e := es[0]
			if e.Class != string(tc.wantClass) || e.Billed != (tc.wantClass == billing.Billed) || e.HTTPStatus != tc.wantStatus ||
				e.Tenant != "t1" || e.KeyID != "k1" || e.Route != "check-2e" || e.Day != "2026-11-22" {
				t.Fatalf("ledger entry %+v", e)
			}
			if strings.Contains(fmt.Sprintf("%+v", e), goodName) || strings.Contains(fmt.Sprintf("%+v", e), goodID) {
				t.Fatalf("ledger entry holds personal data: %+v", e)
			}
			// The quota holds exactly the billed and possibly billed answers,
			// nothing in flight.
			u, _ := h.quota.Tenant("t1", now)
			wantUsed := int64(0)
			if tc.wantClass.CountsQuota() {
				wantUsed = 1
			}
			if u.Used != wantUsed || u.Reserved != 0 {
				t.Fatalf("quota %+v, want used %d, nothing reserved", u, wantUsed)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	tenants := []auth.TenantConfig{
		{ID: "t1", Rate: 100, Burst: 100, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}, {ID: "k2", Key: "off-key", Disabled: true}}},
		{ID: "t2", Rate: 100, Burst: 100, Disabled: true, Keys: []auth.KeyConfig{{ID: "k3", Key: "tenant-off"}}},
	}
	cases := []struct {
		name, header string
		want         int
	}{
		{"good", "Bearer good-key", 200},
		{"lower-case scheme", "bearer good-key", 200},
		{"missing", "", 401},
		{"no scheme", "good-key", 401},
		{"unknown", "Bearer nope", 401},
		{"disabled key", "Bearer off-key", 401},
		{"disabled tenant", "Bearer tenant-off", 401},
		{"empty token", "Bearer ", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tenants)
			resp := h.do(goodBody(), withAuth(tc.header))
			if resp.StatusCode() != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode(), tc.want)
			}
			if tc.want == 401 {
				if c := errorCode(t, resp); c != contracts.ErrInvalidToken {
					t.Fatalf("code %s", c)
				}
				if n := len(h.led.Entries()); n != 0 || h.up.calls.Load() != 0 {
					t.Fatalf("unauthenticated request recorded (%d) or forwarded", n)
				}
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	h := newHarness(t, nil)
	h.do(goodBody(), withHeader("Prefer", "result=-5"))
	if string(h.up.last.Prefer) != "result=-5" {
		t.Fatalf("Prefer not forwarded: %q", h.up.last.Prefer)
	}
	if string(h.up.last.Body) != goodBody() || h.up.last.Path != contracts.CheckPath {
		t.Fatalf("forwarded %+v", h.up.last)
	}
	h.route.ForwardPrefer = false
	h.do(goodBody(), withHeader("Prefer", "result=-5"))
	if len(h.up.last.Prefer) != 0 {
		t.Fatal("Prefer forwarded on a route that forbids it")
	}
}

func TestRateLimitHeaders(t *testing.T) {
	tenants := []auth.TenantConfig{{ID: "t1", Rate: 1, Burst: 3, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}}}}
	h := newHarness(t, tenants)
	for i, wantRemaining := range []string{"2", "1", "0"} {
		resp := h.do(goodBody())
		if resp.StatusCode() != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode())
		}
		if got := string(resp.Header.Peek("RateLimit-Remaining")); got != wantRemaining {
			t.Fatalf("request %d: RateLimit-Remaining %s, want %s", i, got, wantRemaining)
		}
		if string(resp.Header.Peek("RateLimit-Limit")) != "3" {
			t.Fatalf("RateLimit-Limit %s", resp.Header.Peek("RateLimit-Limit"))
		}
	}
	resp := h.do(goodBody())
	if resp.StatusCode() != 429 || errorCode(t, resp) != contracts.ErrTooManyRequests {
		t.Fatalf("status %d body %s", resp.StatusCode(), resp.Body())
	}
	if string(resp.Header.Peek("Retry-After")) != "1" || string(resp.Header.Peek("RateLimit-Reset")) != "3" {
		t.Fatalf("Retry-After %q RateLimit-Reset %q", resp.Header.Peek("Retry-After"), resp.Header.Peek("RateLimit-Reset"))
	}
	if h.up.calls.Load() != 3 {
		t.Fatal("rate-limited request forwarded")
	}
	es := h.led.Entries()
	if es[len(es)-1].Class != string(billing.RateLimited) {
		t.Fatalf("last class %s", es[len(es)-1].Class)
	}
	// A second later one token is back.
	h.p.Now = func() time.Time { return now.Add(time.Second) }
	if resp := h.do(goodBody()); resp.StatusCode() != 200 {
		t.Fatalf("after refill: %d", resp.StatusCode())
	}
}

func TestQuotaExactUnderConcurrency(t *testing.T) {
	const quotaN, clients, perClient = 50, 64, 8
	tenants := []auth.TenantConfig{{ID: "t1", DailyQuota: quotaN, Rate: 1e9, Burst: 1e9, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}}}}
	h := newHarness(t, tenants)
	// Every third answer is not billed: releases must hand units back.
	var n atomic.Int64
	h.p.Forward = forwardFunc(func(r *upstream.Request, resp *fasthttp.Response) error {
		resp.SetStatusCode(200)
		if n.Add(1)%3 == 0 {
			resp.SetBodyString(`{"result":"-5","description":"x"}`)
		} else {
			resp.SetBodyString(`{"result":"0","description":"x"}`)
		}
		return nil
	})
	var billed, usedUp, other atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				resp := h.do(goodBody())
				switch {
				case resp.StatusCode() == 200 && strings.Contains(string(resp.Body()), `"result":"0"`):
					billed.Add(1)
				case resp.StatusCode() == 402:
					usedUp.Add(1)
				case resp.StatusCode() == 200:
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if billed.Load() != quotaN || other.Load() != 0 || usedUp.Load() == 0 {
		t.Fatalf("billed %d (want %d), used_up %d, other %d", billed.Load(), quotaN, usedUp.Load(), other.Load())
	}
	var ledgerBilled int64
	for _, e := range h.led.Entries() {
		if e.Billed {
			ledgerBilled++
		}
	}
	if ledgerBilled != quotaN {
		t.Fatalf("ledger billed %d", ledgerBilled)
	}
}

type forwardFunc func(*upstream.Request, *fasthttp.Response) error

func (f forwardFunc) Forward(r *upstream.Request, resp *fasthttp.Response) error { return f(r, resp) }

func TestQuotaPerKeyAndTenant(t *testing.T) {
	tenants := []auth.TenantConfig{{ID: "t1", DailyQuota: 3, Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{
		{ID: "k1", Key: "good-key", DailyQuota: 2}, {ID: "k2", Key: "other-key"},
	}}}
	h := newHarness(t, tenants)
	seq := []struct {
		key  string
		want int
	}{{"good-key", 200}, {"good-key", 200}, {"good-key", 402}, {"other-key", 200}, {"other-key", 402}}
	for i, s := range seq {
		resp := h.do(goodBody(), withAuth("Bearer "+s.key))
		if resp.StatusCode() != s.want {
			t.Fatalf("step %d (%s): %d, want %d", i, s.key, resp.StatusCode(), s.want)
		}
		if s.want == 402 && errorCode(t, resp) != contracts.ErrUsedUp {
			t.Fatal("want used_up")
		}
	}
	// The next day starts afresh.
	h.p.Now = func() time.Time { return now.Add(24 * time.Hour) }
	if resp := h.do(goodBody()); resp.StatusCode() != 200 {
		t.Fatalf("next day: %d", resp.StatusCode())
	}
}

func TestEncryptedRequestSkipsLocalValidation(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"name":"Y2lwaGVy","id_card":"Y2lwaGVydGV4dA==","encryption":{"encrypt_list":["name","id_card"],"ciphertext_blob":"a","iv":"b","algorithm":"AES-256-CBC"}}`
	resp := h.do(body)
	if resp.StatusCode() != 200 || h.up.calls.Load() != 1 {
		t.Fatalf("status %d calls %d", resp.StatusCode(), h.up.calls.Load())
	}
	if e := h.led.Entries()[0]; e.IDMasked != "encrypted" {
		t.Fatalf("masked %q", e.IDMasked)
	}
}

func TestValidityRouteAnswersLocally(t *testing.T) {
	h := newHarness(t, nil)
	h.route.Local.IllegalValidity = "-4"
	body := fmt.Sprintf(`{"name":%q,"id_card":%q,"validity_begin":"20200101","validity_end":"20100101"}`, goodName, goodID)
	resp := h.do(body)
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"result":"-4"`) || h.up.calls.Load() != 0 {
		t.Fatalf("status %d body %s calls %d", resp.StatusCode(), resp.Body(), h.up.calls.Load())
	}
}

// FuzzServe: no panic, and garbage never gets a 200 that is not a local
// -2/-3 verdict; nothing invalid reaches the upstream.
func FuzzServe(f *testing.F) {
	f.Add([]byte(goodBody()))
	f.Add([]byte(`{"name":"张三","id_card":"11010519491231002X","validity_begin":"20200101","validity_end":"00000000"}`))
	f.Add([]byte(`{"encryption":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		h := newHarness(t, nil)
		resp := h.do(string(body))
		if resp.StatusCode() != 200 {
			if resp.StatusCode() != 400 {
				t.Fatalf("status %d for %q", resp.StatusCode(), body)
			}
			return
		}
		// A 200 is either a forwarded, valid request or the local -2/-3
		// verdict on a well-formed one: never an answer to garbage.
		req, err := contracts.DecodeCheckRequest(body)
		if err != nil {
			t.Fatalf("200 for an undecodable body: %q", body)
		}
		if h.up.calls.Load() == 1 {
			if req.Encryption == nil && contracts.Validate(&req, now) != nil {
				t.Fatalf("invalid body forwarded: %q", body)
			}
			return
		}
		rej := contracts.Validate(&req, now)
		if rej == nil || rej.Result == "" || !strings.Contains(string(resp.Body()), `"result":"`+string(rej.Result)+`"`) {
			t.Fatalf("local 200 %s for %q (rejection %+v)", resp.Body(), body, rej)
		}
	})
}

// The decoded request and the upstream call come from a pool (Serve): a
// request must start from nothing a previous one left, whatever it failed
// at. Sequential requests on one goroutine reuse the same pooled state.
func TestPooledStateCarriesNothingOver(t *testing.T) {
	h := newHarness(t, nil)
	var seen []upstream.Request
	h.p.Forward = forwardFunc(func(r *upstream.Request, resp *fasthttp.Response) error {
		seen = append(seen, *r)
		// Leave the pooled call dirty, as retries and the flight do.
		r.Attempts, r.Shared, r.Timeout = 3, true, time.Second
		resp.SetStatusCode(200)
		resp.SetBodyString(`{"result":"0","description":"Name and ID card number are consistent"}`)
		return nil
	})
	cases := []struct {
		name   string
		body   string
		opts   []reqOpt
		masked string // the ledger's id_masked for this request
	}{
		{"forwarded", goodBody(), nil, "110101********0010"},
		{"wrong content type", goodBody(), []reqOpt{withHeader("Content-Type", "text/plain")}, ""},
		{"forwarded again", goodBody(), nil, "110101********0010"},
		{"malformed JSON", `{"name":`, nil, ""},
		{"forwarded a third time", goodBody(), nil, "110101********0010"},
	}
	for i, tc := range cases {
		h.do(tc.body, tc.opts...)
		es := h.led.Entries()
		if len(es) != i+1 {
			t.Fatalf("%s: %d ledger entries, want %d", tc.name, len(es), i+1)
		}
		if got := es[i].IDMasked; got != tc.masked {
			t.Errorf("%s: id_masked %q, want %q", tc.name, got, tc.masked)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("%d upstream calls, want 3", len(seen))
	}
	for i, r := range seen {
		if r.Attempts != 0 || r.Shared || r.Timeout != 0 {
			t.Errorf("call %d started with attempts %d, shared %v, timeout %v: left over from the call before", i+1, r.Attempts, r.Shared, r.Timeout)
		}
	}
}
