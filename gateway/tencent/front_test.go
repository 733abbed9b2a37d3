package tencent

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	tc "github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func directory(t *testing.T) *auth.Store {
	t.Helper()
	d, err := auth.NewDirectory([]auth.TenantConfig{
		{ID: "t1", Rate: 1, Burst: 1, Keys: []auth.KeyConfig{
			{ID: "k1", Key: "bearer-1", SecretID: "AKIDgood", SecretKey: "good-secret"},
			{ID: "k2", Key: "bearer-2", SecretID: "AKIDoff", SecretKey: "off-secret", Disabled: true},
		}},
		{ID: "t2", Rate: 1, Burst: 1, Disabled: true, Keys: []auth.KeyConfig{{ID: "k3", Key: "bearer-3", SecretID: "AKIDgone", SecretKey: "gone-secret"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewStore(d)
}

const body = `{"IdCard":"110101191111110010","Name":"测试一致"}`

// signed is a request as an SDK sends it: host is what the client signed,
// hostHeader what it put in Host.
func signed(secretID, secretKey, host, hostHeader string, ts int64) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	r := &ctx.Request
	r.Header.SetMethod("POST")
	r.SetRequestURI("/")
	r.Header.SetHost(hostHeader)
	r.Header.SetContentType("application/json")
	r.Header.Set(tc.HeaderAction, tc.ActionIdCardVerification)
	r.Header.Set(tc.HeaderVersion, tc.Version)
	r.Header.Set(tc.HeaderTimestamp, strconv.FormatInt(ts, 10))
	r.SetBodyString(body)
	s := tc.Signer{SecretID: secretID, SecretKey: secretKey, Service: "127"}
	r.Header.Set("Authorization", s.Authorization(host, "application/json", []byte(body), ts))
	return &ctx
}

func authenticate(f *Front, ctx *fasthttp.RequestCtx) (*auth.Key, int, []byte) {
	x := admission.Exchange{Ctx: ctx, RequestID: "req-1", Start: now}
	return f.Authenticate(&x)
}

func TestAuthenticate(t *testing.T) {
	ts := now.Unix()
	good := func() *fasthttp.RequestCtx {
		return signed("AKIDgood", "good-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts)
	}
	cases := []struct {
		name string
		ctx  func() *fasthttp.RequestCtx
		want string // "" accepted as k1
	}{
		{"good", good, ""},
		// The Node SDK signs the hostname without its port.
		{"host signed without port", func() *fasthttp.RequestCtx {
			return signed("AKIDgood", "good-secret", "127.0.0.1", "127.0.0.1:8080", ts)
		}, ""},
		{"altered body", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.SetBodyString(strings.Replace(body, "测试一致", "测试不一", 1))
			return c
		}, tc.CodeSignatureFailure},
		{"altered host", func() *fasthttp.RequestCtx { c := good(); c.Request.Header.SetHost("127.0.0.2:8080"); return c }, tc.CodeSignatureFailure},
		{"altered content type", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.Header.SetContentType("text/plain")
			return c
		}, tc.CodeSignatureFailure},
		{"altered timestamp", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.Header.Set(tc.HeaderTimestamp, strconv.FormatInt(ts-1, 10))
			return c
		}, tc.CodeSignatureFailure},
		// X-TC-Action is not signed by the SDKs: another action with the
		// same signature is the same request as far as the signature goes
		// (the mux routes it; its body must still decode for that action).
		{"other action, not signed", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.Header.Set(tc.HeaderAction, tc.ActionCheckIdNameDate)
			return c
		}, ""},
		{"stale", func() *fasthttp.RequestCtx {
			return signed("AKIDgood", "good-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts-int64(tc.MaxSkew/time.Second)-1)
		}, tc.CodeSignatureExpire},
		{"future", func() *fasthttp.RequestCtx {
			return signed("AKIDgood", "good-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts+int64(tc.MaxSkew/time.Second)+1)
		}, tc.CodeSignatureExpire},
		{"within the skew", func() *fasthttp.RequestCtx {
			return signed("AKIDgood", "good-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts-int64(tc.MaxSkew/time.Second)+1)
		}, ""},
		{"unknown SecretId", func() *fasthttp.RequestCtx {
			return signed("AKIDnope", "good-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts)
		}, tc.CodeSecretIDNotFound},
		{"disabled key", func() *fasthttp.RequestCtx {
			return signed("AKIDoff", "off-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts)
		}, tc.CodeSecretIDNotFound},
		{"disabled tenant", func() *fasthttp.RequestCtx {
			return signed("AKIDgone", "gone-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts)
		}, tc.CodeSecretIDNotFound},
		{"wrong secret", func() *fasthttp.RequestCtx {
			return signed("AKIDgood", "bad-secret", "127.0.0.1:8080", "127.0.0.1:8080", ts)
		}, tc.CodeSignatureFailure},
		{"bearer token", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.Header.Set("Authorization", "Bearer bearer-1")
			return c
		}, tc.CodeInvalidAuthorization},
		{"no timestamp", func() *fasthttp.RequestCtx { c := good(); c.Request.Header.Del(tc.HeaderTimestamp); return c }, tc.CodeMissingParameter},
		{"timestamp not a number", func() *fasthttp.RequestCtx {
			c := good()
			c.Request.Header.Set(tc.HeaderTimestamp, "soon")
			return c
		}, tc.CodeInvalidParameter},
	}
	f := &Front{Dir: directory(t)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, status, b := authenticate(f, c.ctx())
			if c.want == "" {
				if key == nil || key.ID != "k1" {
					t.Fatalf("refused: %s", b)
				}
				return
			}
			if key != nil || status != 200 {
				t.Fatalf("accepted (%v) or status %d", key, status)
			}
			e := envelope(t, b)
			if e.Error == nil || e.Error.Code != c.want || e.RequestID != "req-1" {
				t.Fatalf("answer %s, want %s", b, c.want)
			}
			if strings.Contains(string(b), "good-secret") {
				t.Fatal("the SecretKey is in the answer")
			}
		})
	}
}

type response struct {
	Result, Description string
	Encryption          *tc.Encryption
	Error               *tc.Error
	RequestID           string `json:"RequestId"`
	Sim                 *float64
}

func envelope(t *testing.T, b []byte) response {
	t.Helper()
	var env struct{ Response response }
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("envelope %s: %v", b, err)
	}
	return env.Response
}

func TestAnswer(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		result      string
		description string
		enc         *tc.Encryption
		code        string
	}{
		{name: "plain", status: 200, body: `{"result":"0","description":"Name and ID card number are consistent"}`, result: "0", description: "Name and ID card number are consistent"},
		{name: "members in another order, spaces", status: 200, body: ` { "description" : "d" , "result" : "-1" } `, result: "-1", description: "d"},
		{name: "similarity dropped", status: 200, body: `{"result":"0","description":"d","sim":42.5}`, result: "0", description: "d"},
		{name: "escaped description", status: 200, body: `{"result":"-6","description":"a\"b"}`, result: "-6", description: `a"b`},
		{name: "non-ASCII description", status: 200, body: `{"result":"-6","description":"升级中"}`, result: "-6", description: "升级中"},
		{name: "sealed echo dropped (FaceID's answers have none)", status: 200,
			body:   `{"result":"0","description":"d","name":"c2VhbGVk","id_card":"c2VhbGVk","encryption":{"encrypt_list":["name","id_card"],"algorithm":"SM4-GCM","tag_list":["dA==","dA=="]}}`,
			result: "0", description: "d"},
		{name: "unreadable 200", status: 200, body: `<html>`, code: tc.CodeInternalError},
		{name: "no result", status: 200, body: `{"description":"d"}`, code: tc.CodeInternalError},
		{name: "token_mismatched", status: 400, body: `{"success":false,"error":{"code":"token_mismatched","message":"m"},"trace_id":"u"}`, code: tc.CodeInvalidParameter},
		{name: "decrypt failure", status: 400, body: `{"success":false,"error":{"code":"token_mismatched","message":"` + decryptFailure() + `"},"trace_id":"u"}`, code: tc.CodeDecryptSystemError},
		{name: "rate limit", status: 429, body: `{"success":false,"error":{"code":"too_many_requests","message":"m"},"trace_id":"u"}`, code: tc.CodeRequestLimitExceeded},
		{name: "used up", status: 402, body: `{"success":false,"error":{"code":"used_up","message":"m"},"trace_id":"u"}`, code: tc.CodeLimitExceeded},
		{name: "unavailable", status: 503, body: `{"success":false,"error":{"code":"service_unavailable","message":"m"},"trace_id":"u"}`, code: tc.CodeResourceUnavailable},
		{name: "api error", status: 500, body: `{"success":false,"error":{"code":"api_error","message":"m"},"trace_id":"u"}`, code: tc.CodeInternalError},
		{name: "garbage error", status: 502, body: `bad gateway`, code: tc.CodeInternalError},
	}
	f := &Front{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, ct, b := f.Answer(c.status, "application/json", []byte(c.body), "gw-id")
			if status != 200 || ct != "application/json" {
				t.Fatalf("status %d %q: the dialect answers 200 JSON", status, ct)
			}
			r := envelope(t, b)
			if r.RequestID != "gw-id" {
				t.Fatalf("RequestId %q: the gateway's id", r.RequestID)
			}
			if c.code != "" {
				if r.Error == nil || r.Error.Code != c.code {
					t.Fatalf("answer %s, want error %s", b, c.code)
				}
				return
			}
			if r.Error != nil || r.Result != c.result || r.Description != c.description || r.Sim != nil {
				t.Fatalf("answer %s, want result %s %q", b, c.result, c.description)
			}
			if gotEnc, _ := json.Marshal(r.Encryption); string(gotEnc) != mustJSON(c.enc) {
				t.Fatalf("Encryption %s, want %s", gotEnc, mustJSON(c.enc))
			}
		})
	}
}

func TestError(t *testing.T) {
	f := &Front{}
	status, b := f.Error(contracts.ErrUsedUp, "The daily verification quota of this key is used up", "gw-id")
	r := envelope(t, b)
	if status != 200 || r.Error == nil || r.Error.Code != tc.CodeLimitExceeded || r.RequestID != "gw-id" {
		t.Fatalf("%d %s", status, b)
	}
}

func decryptFailure() string { return fieldcrypto.DecryptFailure }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// FuzzFlatAnswer holds the fast reader to encoding/json: whatever it
// accepts reads the same there.
func FuzzFlatAnswer(f *testing.F) {
	for _, s := range []string{`{"result":"0","description":"d"}`, `{"result":"0","description":"d","sim":1e2}`, ` {"description":"","result":"-1"} `,
		`{"result":"0","result":"1","description":"d"}`, `{"result":"0","description":"d","x":"y"}`, `{"result":"0","description":"d"`,
		`{"result":"0","description":"d","sim":-}`, `{"result":"0","description":"d","sim":1e}`, `{"result":"0","description":"d","sim":"x"}`, `{"result":"0","description":"d","sim":-0.5E+3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		result, description, ok := flatAnswer(b)
		if !ok {
			return
		}
		var r contracts.CheckResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("flatAnswer accepted %q, encoding/json: %v", b, err)
		}
		if string(r.Result) != result || r.Description != description {
			t.Fatalf("%q: flat %q %q, json %q %q", b, result, description, r.Result, r.Description)
		}
	})
}
