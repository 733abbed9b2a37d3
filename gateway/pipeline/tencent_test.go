package pipeline

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/idempotency"
	gwtencent "github.com/idgate/idgate/gateway/tencent"
)

// The Tencent-front harness: the same pipeline, a key with a Tencent pair,
// requests signed as the SDKs sign them.
const (
	tcSecretID  = "AKIDtest"
	tcSecretKey = "tc-secret-key"
	tcHost      = "gateway.example"
)

func tencentTenants() []auth.TenantConfig {
	return []auth.TenantConfig{{ID: "t1", Rate: 1e12, Burst: 1e12, Keys: []auth.KeyConfig{
		{ID: "k1", Key: "good-key", SecretID: tcSecretID, SecretKey: tcSecretKey},
	}}}
}

func (h *harness) front() *gwtencent.Front {
	return &gwtencent.Front{Dir: h.p.Auth.(*auth.Store)}
}

// tcRequest fills ctx with a signed POST / of body as action.
func tcRequest(ctx *fasthttp.RequestCtx, signer *tencent.Signer, action string, body []byte, ts int64, auth string) {
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/")
	ctx.Request.Header.SetHost(tcHost)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.Header.Set(tencent.HeaderAction, action)
	ctx.Request.Header.Set(tencent.HeaderVersion, tencent.Version)
	ctx.Request.Header.Set(tencent.HeaderTimestamp, strconv.FormatInt(ts, 10))
	if auth == "" {
		auth = signer.Authorization(tcHost, "application/json", body, ts)
	}
	ctx.Request.Header.Set("Authorization", auth)
	ctx.Request.SetBodyRaw(body)
}

// doTencent sends body as the route's action, signed at the harness's now.
func (h *harness) doTencent(body string, opts ...reqOpt) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	signer := &tencent.Signer{SecretID: tcSecretID, SecretKey: tcSecretKey, Service: "faceid"}
	tcRequest(&ctx, signer, h.route.Action, []byte(body), now.Unix(), "")
	for _, o := range opts {
		o(&ctx.Request)
	}
	h.p.ServeTencent(&ctx, h.route, h.front())
	resp := &fasthttp.Response{}
	ctx.Response.CopyTo(resp)
	return resp
}

// tcAnswer is a check action's envelope as a client reads it.
type tcAnswer struct {
	Response struct {
		Result, Description, RequestId string
		Encryption                     *tencent.Encryption
		Error                          *struct{ Code, Message string }
	}
}

func readTencent(t *testing.T, resp *fasthttp.Response) tcAnswer {
	t.Helper()
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: the dialect always answers 200; body %s", resp.StatusCode(), resp.Body())
	}
	var a tcAnswer
	if err := json.Unmarshal(resp.Body(), &a); err != nil {
		t.Fatalf("envelope %q: %v", resp.Body(), err)
	}
	if a.Response.RequestId == "" || a.Response.RequestId != string(resp.Header.Peek("X-Request-Id")) {
		t.Fatalf("RequestId %q, X-Request-Id %q", a.Response.RequestId, resp.Header.Peek("X-Request-Id"))
	}
	return a
}

func tcBody(name, id string) string { return fmt.Sprintf(`{"IdCard":%q,"Name":%q}`, id, name) }

func TestTencentFront(t *testing.T) {
	dateRoute := func(h *harness) {
		rt, err := NewRoute(billing.DateRoute())
		if err != nil {
			t.Fatal(err)
		}
		h.route = rt
	}
	validity := func(begin, end string) string {
		return fmt.Sprintf(`{"IdCard":%q,"Name":%q,"ValidityBegin":%q,"ValidityEnd":%q}`, goodID, goodName, begin, end)
	}
	cases := []struct {
		name       string
		route      func(*harness)
		body       string
		upStatus   int
		upBody     string
		wantResult string // Response.Result
		wantCode   string // Response.Error.Code
		wantClass  billing.Class
		wantCalls  int64
		wantUpBody string // the aggregator body forwarded
	}{
		{name: "billed", upStatus: 200, upBody: `{"result":"0","description":"Name and ID card number are consistent"}`,
			wantResult: "0", wantClass: billing.Billed, wantCalls: 1, wantUpBody: goodBody()},
		{name: "validity ignored by IdCardVerification", body: fmt.Sprintf(`{"IdCard":%q,"Name":%q,"ValidityBegin":"x","ValidityEnd":"y"}`, goodID, goodName),
			upStatus: 200, upBody: `{"result":"0","description":"x"}`, wantResult: "0", wantClass: billing.Billed, wantCalls: 1, wantUpBody: goodBody()},
		{name: "billed inconsistent with sim", upStatus: 200, upBody: `{"result":"-1","description":"x","sim":42.5}`,
			wantResult: "-1", wantClass: billing.Billed, wantCalls: 1},
		{name: "not billed", upStatus: 200, upBody: `{"result":"-5","description":"x"}`, wantResult: "-5", wantClass: billing.NotBilled, wantCalls: 1},
		{name: "escaped description", upStatus: 200, upBody: `{"result":"-6","description":"up\u0067rading"}`, wantResult: "-6", wantClass: billing.NotBilled, wantCalls: 1},
		{name: "local illegal id", body: tcBody(goodName, "110101191111110011"), wantResult: "-2", wantClass: billing.LocalReject},
		{name: "local illegal name", body: tcBody("X", goodID), wantResult: "-3", wantClass: billing.LocalReject},
		{name: "missing IdCard", body: `{"Name":"张三"}`, wantCode: tencent.CodeMissingParameter, wantClass: billing.LocalReject},
		{name: "aggregator field names", body: goodBody(), wantCode: tencent.CodeInvalidParameter, wantClass: billing.LocalReject},
		{name: "malformed", body: `{"IdCard":`, wantCode: tencent.CodeInvalidParameter, wantClass: billing.LocalReject},
		{name: "repeated member", body: `{"IdCard":"1","IdCard":"2","Name":"x"}`, wantCode: tencent.CodeInvalidParameter, wantClass: billing.LocalReject},
		{name: "wrong type", body: `{"IdCard":1,"Name":"x"}`, wantCode: tencent.CodeInvalidParameter, wantClass: billing.LocalReject},
		{name: "oversized", body: `{"Name":"` + strings.Repeat("a", 5000) + `"}`, wantCode: tencent.CodeRequestSizeLimit, wantClass: billing.LocalReject},
		{name: "upstream 429", upStatus: 429, upBody: `{"success":false,"error":{"code":"too_many_requests","message":"m"},"trace_id":"u"}`,
			wantCode: tencent.CodeRequestLimitExceeded, wantClass: billing.UpstreamError, wantCalls: 1},
		{name: "upstream garbage", upStatus: 200, upBody: `<html>`, wantCode: tencent.CodeInternalError, wantClass: billing.Unknown, wantCalls: 1},
		// CheckIdNameDate: its own table and local answers.
		{name: "date billed", route: dateRoute, body: validity("20100101", "00000000"), upStatus: 200, upBody: `{"result":"0","description":"x"}`,
			wantResult: "0", wantClass: billing.Billed, wantCalls: 1,
			wantUpBody: fmt.Sprintf(`{"name":%q,"id_card":%q,"validity_begin":"20100101","validity_end":"00000000"}`, goodName, goodID)},
		{name: "date -8 not billed", route: dateRoute, body: validity("20100101", "00000000"), upStatus: 200, upBody: `{"result":"-8","description":"x"}`,
			wantResult: "-8", wantClass: billing.NotBilled, wantCalls: 1},
		{name: "date -4 from upstream not billed", route: dateRoute, body: validity("20100101", "00000000"), upStatus: 200, upBody: `{"result":"-4","description":"x"}`,
			wantResult: "-4", wantClass: billing.NotBilled, wantCalls: 1},
		{name: "date local illegal id", route: dateRoute, body: fmt.Sprintf(`{"IdCard":"110101191111110011","Name":%q,"ValidityBegin":"20100101","ValidityEnd":"20300101"}`, goodName),
			wantResult: "-2", wantClass: billing.LocalReject},
		{name: "date local illegal name", route: dateRoute, body: fmt.Sprintf(`{"IdCard":%q,"Name":"X","ValidityBegin":"20100101","ValidityEnd":"20300101"}`, goodID),
			wantResult: "-3", wantClass: billing.LocalReject},
		{name: "date local illegal validity", route: dateRoute, body: validity("20200101", "20100101"), wantResult: "-4", wantClass: billing.LocalReject},
		{name: "date missing validity", route: dateRoute, body: tcBody(goodName, goodID), wantCode: tencent.CodeMissingParameter, wantClass: billing.LocalReject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tencentTenants())
			if tc.route != nil {
				tc.route(h)
			}
			h.up.status, h.up.body = tc.upStatus, tc.upBody
			body := tc.body
			if body == "" {
				body = tcBody(goodName, goodID)
			}
			a := readTencent(t, h.doTencent(body))
			switch {
			case tc.wantCode != "":
				if a.Response.Error == nil || a.Response.Error.Code != tc.wantCode {
					t.Fatalf("answer %+v, want error %s", a.Response, tc.wantCode)
				}
			case a.Response.Error != nil || a.Response.Result != tc.wantResult || a.Response.Description == "":
				t.Fatalf("answer %+v, want result %s with a description", a.Response, tc.wantResult)
			}
			if got := h.up.calls.Load(); got != tc.wantCalls {
				t.Fatalf("upstream calls %d, want %d", got, tc.wantCalls)
			}
			if tc.wantUpBody != "" && string(h.up.last.Body) != tc.wantUpBody {
				t.Fatalf("forwarded %s, want the aggregator's body %s", h.up.last.Body, tc.wantUpBody)
			}
			es := h.led.Entries()
			if len(es) != 1 {
				t.Fatalf("ledger entries %d, want 1", len(es))
			}
			if e := es[0]; e.Class != string(tc.wantClass) || e.Route != h.route.Name || e.KeyID != "k1" || e.RequestID != a.Response.RequestId {
				t.Fatalf("ledger entry %+v, want class %s on %s", e, tc.wantClass, h.route.Name)
			}
			u, _ := h.quota.Tenant("t1", now)
			if want := int64(map[bool]int{true: 1}[tc.wantClass.CountsQuota()]); u.Used != want || u.Reserved != 0 {
				t.Fatalf("quota %+v, want used %d", u, want)
			}
		})
	}
}

// The signature is step 1: a request it refuses is never rate-limited,
// quota-counted, recorded or forwarded.
func TestTencentFrontRefusesBeforeBilling(t *testing.T) {
	body := []byte(tcBody(goodName, goodID))
	ts := now.Unix()
	good := &tencent.Signer{SecretID: tcSecretID, SecretKey: tcSecretKey, Service: "faceid"}
	cases := []struct {
		name string
		edit func(ctx *fasthttp.RequestCtx)
		want string
	}{
		{"altered body", func(ctx *fasthttp.RequestCtx) { ctx.Request.SetBodyString(tcBody("李四", goodID)) }, tencent.CodeSignatureFailure},
		{"altered host", func(ctx *fasthttp.RequestCtx) { ctx.Request.Header.SetHost("evil.example") }, tencent.CodeSignatureFailure},
		{"altered content type", func(ctx *fasthttp.RequestCtx) {
			ctx.Request.Header.SetContentType("application/json; charset=utf-8")
		}, tencent.CodeSignatureFailure},
		{"altered timestamp", func(ctx *fasthttp.RequestCtx) {
			ctx.Request.Header.Set(tencent.HeaderTimestamp, strconv.FormatInt(ts+1, 10))
		}, tencent.CodeSignatureFailure},
		{"stale", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, good, tencent.ActionIdCardVerification, body, ts-int64(tencent.MaxSkew.Seconds())-1, "")
		}, tencent.CodeSignatureExpire},
		{"from the future", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, good, tencent.ActionIdCardVerification, body, ts+int64(tencent.MaxSkew.Seconds())+1, "")
		}, tencent.CodeSignatureExpire},
		{"unknown SecretId", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, &tencent.Signer{SecretID: "AKIDnope", SecretKey: tcSecretKey, Service: "faceid"}, tencent.ActionIdCardVerification, body, ts, "")
		}, tencent.CodeSecretIDNotFound},
		{"disabled key", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, &tencent.Signer{SecretID: "AKIDoff", SecretKey: "off-secret", Service: "faceid"}, tencent.ActionIdCardVerification, body, ts, "")
		}, tencent.CodeSecretIDNotFound},
		{"disabled tenant", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, &tencent.Signer{SecretID: "AKIDgone", SecretKey: "gone-secret", Service: "faceid"}, tencent.ActionIdCardVerification, body, ts, "")
		}, tencent.CodeSecretIDNotFound},
		{"other secret", func(ctx *fasthttp.RequestCtx) {
			tcRequest(ctx, &tencent.Signer{SecretID: tcSecretID, SecretKey: "wrong", Service: "faceid"}, tencent.ActionIdCardVerification, body, ts, "")
		}, tencent.CodeSignatureFailure},
		{"bearer token instead", func(ctx *fasthttp.RequestCtx) { ctx.Request.Header.Set("Authorization", "Bearer good-key") }, tencent.CodeInvalidAuthorization},
		{"no Authorization", func(ctx *fasthttp.RequestCtx) { ctx.Request.Header.Del("Authorization") }, tencent.CodeInvalidAuthorization},
		{"no timestamp", func(ctx *fasthttp.RequestCtx) { ctx.Request.Header.Del(tencent.HeaderTimestamp) }, tencent.CodeMissingParameter},
	}
	tenants := append(tencentTenants(),
		auth.TenantConfig{ID: "t2", Rate: 1, Burst: 1, Keys: []auth.KeyConfig{{ID: "k2", Key: "off-key", Disabled: true, SecretID: "AKIDoff", SecretKey: "off-secret"}}},
		auth.TenantConfig{ID: "t3", Rate: 1, Burst: 1, Disabled: true, Keys: []auth.KeyConfig{{ID: "k3", Key: "gone-key", SecretID: "AKIDgone", SecretKey: "gone-secret"}}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tenants)
			var ctx fasthttp.RequestCtx
			tcRequest(&ctx, good, tencent.ActionIdCardVerification, body, ts, "")
			tc.edit(&ctx)
			h.p.ServeTencent(&ctx, h.route, h.front())
			resp := &fasthttp.Response{}
			ctx.Response.CopyTo(resp)
			a := readTencent(t, resp)
			if a.Response.Error == nil || a.Response.Error.Code != tc.want {
				t.Fatalf("answer %s, want %s", resp.Body(), tc.want)
			}
			if n := len(h.led.Entries()); n != 0 || h.up.calls.Load() != 0 {
				t.Fatalf("refused request recorded (%d entries) or forwarded", n)
			}
			if u, _ := h.quota.Tenant("t1", now); u.Used != 0 || u.Reserved != 0 {
				t.Fatalf("quota touched: %+v", u)
			}
			if strings.Contains(string(resp.Body()), tcSecretKey) {
				t.Fatal("the SecretKey is in the answer")
			}
		})
	}
}

// One key, two credentials: the bearer token and the Tencent pair share
// the key's quota.
func TestTencentFrontSharesTheKeysQuota(t *testing.T) {
	tenants := tencentTenants()
	tenants[0].Keys[0].DailyQuota = 2
	h := newHarness(t, tenants)
	if resp := h.do(goodBody()); resp.StatusCode() != 200 {
		t.Fatalf("bearer: %d", resp.StatusCode())
	}
	if a := readTencent(t, h.doTencent(tcBody(goodName, goodID))); a.Response.Result != "0" {
		t.Fatalf("tencent: %+v", a.Response)
	}
	a := readTencent(t, h.doTencent(tcBody(goodName, goodID)))
	if a.Response.Error == nil || a.Response.Error.Code != tencent.CodeLimitExceeded {
		t.Fatalf("third billed request: %+v, want LimitExceeded", a.Response)
	}
}

// An Idempotency-Key replay is the stored answer as rendered (the Tencent
// envelope of the first request), not billed again.
func TestTencentFrontIdempotentReplay(t *testing.T) {
	h := newHarness(t, tencentTenants())
	h.p.Idempotency = idempotency.NewMemory(time.Hour, 10)
	first := h.doTencent(tcBody(goodName, goodID), withHeader("Idempotency-Key", "k-1"))
	readTencent(t, first)
	again := h.doTencent(tcBody(goodName, goodID), withHeader("Idempotency-Key", "k-1"))
	if string(again.Body()) != string(first.Body()) || string(again.Header.Peek("Idempotent-Replayed")) != "true" {
		t.Fatalf("replay %s, want %s replayed", again.Body(), first.Body())
	}
	if h.up.calls.Load() != 1 {
		t.Fatalf("upstream calls %d", h.up.calls.Load())
	}
	if es := h.led.Entries(); len(es) != 2 || es[1].Class != string(billing.Replayed) {
		t.Fatalf("ledger %+v", es)
	}
}
