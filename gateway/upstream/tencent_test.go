package upstream

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts/tencent"
)

// tencentServer is a Tencent-dialect upstream that verifies each call's
// TC3 signature with the gateway's pair, as FaceID does, records what it
// received and answers with answer(body).
type tencentServer struct {
	mu       sync.Mutex
	verifier tencent.Verifier
	calls    []tencentCall
	answer   func(req tencent.CheckRequest) string
}

type tencentCall struct {
	action, version, region, prefer, requestID, auth, ts string
	body                                                 string
	authErr                                              *tencent.Error
}

func (s *tencentServer) handle(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	call := tencentCall{
		action: string(h.Peek(tencent.HeaderAction)), version: string(h.Peek(tencent.HeaderVersion)),
		region: string(h.Peek(tencent.HeaderRegion)), prefer: string(h.Peek("Prefer")), requestID: string(h.Peek("X-Request-Id")),
		auth: string(h.Peek("Authorization")), ts: string(h.Peek(tencent.HeaderTimestamp)), body: string(ctx.Request.Body()),
	}
	a, err := tencent.ParseAuthorization(h.Peek("Authorization"))
	if err == nil {
		var ts int64
		if ts, err = tencent.ParseTimestamp(h.Peek(tencent.HeaderTimestamp)); err == nil {
			r := tencent.Request{Method: string(h.Method()), Path: string(ctx.Path()), Body: ctx.Request.Body(), Header: func(name string) []byte {
				switch name {
				case "host":
					return h.Host()
				case "content-type":
					return h.ContentType()
				}
				return h.Peek(name)
			}}
			if a.SecretID != "up-id" || a.Service != "127" {
				err = &tencent.Error{Code: tencent.CodeSecretIDNotFound, Message: "unknown"}
			} else {
				err = s.verifier.Verify(&r, &a, ts, "up-key", time.Now())
			}
		}
	}
	call.authErr = err
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("X-Request-Id", "not-the-answer-id")
	if err != nil {
		ctx.SetBody(tencent.AppendError(nil, err, "up-req-1"))
		return
	}
	var req tencent.CheckRequest
	if perr := jsonUnmarshal(ctx.Request.Body(), &req); perr != nil {
		ctx.SetBody(tencent.AppendError(nil, &tencent.Error{Code: tencent.CodeInvalidParameter, Message: "body"}, "up-req-1"))
		return
	}
	ctx.SetBodyString(s.answer(req))
}

func tencentClient(t *testing.T, s *tencentServer) *Client {
	t.Helper()
	url := fakeServer(t, s.handle)
	c, err := New(Config{URL: url, Token: "up-secret", Timeout: time.Second, ConnectTimeout: time.Second, MaxConns: 4,
		MaxIdleConnDuration: time.Second, MaxResponseBytes: 1 << 16,
		Tencent: TencentConfig{SecretID: "up-id", SecretKey: "up-key", Region: "ap-guangzhou"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestForwardTencent(t *testing.T) {
	s := &tencentServer{answer: func(req tencent.CheckRequest) string {
		if req.IdCard == "110101191111110053" {
			return `{"Response":{"Result":"-7","Description":"no record","RequestId":"up-req-2"}}`
		}
		return `{"Response":{"Result":"0","Description":"consistent","RequestId":"up-req-1"}}`
	}}
	c := tencentClient(t, s)
	body := `{"name":"测试一致","id_card":"110101191111110010","validity_begin":"20100101","validity_end":"00000000"}`
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	r := &Request{Path: "/identity/idcard/check-id-name-date", Body: []byte(body), Prefer: []byte("result=-5"), RequestID: []byte("gw-1"),
		Action: tencent.ActionCheckIdNameDate}
	// Two calls: each signed afresh (the second at least a second later,
	// so a replayed signature would not do).
	for i := range 2 {
		if i == 1 {
			time.Sleep(1100 * time.Millisecond)
		}
		if err := c.Forward(r, resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 200 || string(resp.Body()) != `{"result":"0","description":"consistent"}` {
			t.Fatalf("answer %d %s, want the aggregator's form", resp.StatusCode(), resp.Body())
		}
		if id := AnswerID(resp); id != "up-req-1" {
			t.Fatalf("AnswerID %q, want the Response's RequestId", id)
		}
	}
	if len(s.calls) != 2 {
		t.Fatalf("%d calls", len(s.calls))
	}
	for i, call := range s.calls {
		if call.authErr != nil {
			t.Fatalf("call %d: signature refused: %v", i, call.authErr)
		}
		if call.action != tencent.ActionCheckIdNameDate || call.version != tencent.Version || call.region != "ap-guangzhou" ||
			call.prefer != "result=-5" || call.requestID != "gw-1" {
			t.Fatalf("call %d: headers %+v", i, call)
		}
		want := `{"IdCard":"110101191111110010","Name":"测试一致","ValidityBegin":"20100101","ValidityEnd":"00000000"}`
		if call.body != want {
			t.Fatalf("call %d: body %s, want %s", i, call.body, want)
		}
	}
	if s.calls[0].auth == s.calls[1].auth || s.calls[0].ts == s.calls[1].ts {
		t.Fatal("the second attempt reused the first one's signature")
	}
	if ts, _ := strconv.ParseInt(s.calls[1].ts, 10, 64); time.Since(time.Unix(ts, 0)) > 5*time.Second {
		t.Fatalf("timestamp %s is not now", s.calls[1].ts)
	}
}

func TestTranslateAnswer(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantBody   string
		wantID     string
	}{
		{"result", 200, `{"Response":{"Result":"-1","Description":"d","RequestId":"r-1"}}`, 200, `{"result":"-1","description":"d"}`, "r-1"},
		{"sealed fields are not FaceID's", 200, `{"Response":{"Result":"0","Description":"d","Encryption":{"EncryptList":["Name"],"Algorithm":"SM4-GCM"},"RequestId":"r-1"}}`,
			200, `{"result":"0","description":"d"}`, "r-1"},
		{"auth failure: the gateway's credential", 200, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"m"},"RequestId":"r-2"}}`,
			401, `{"success":false,"error":{"code":"invalid_token","message":"m"},"trace_id":"r-2"}`, "r-2"},
		{"rate limit", 200, `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"m"},"RequestId":"r-3"}}`,
			429, `{"success":false,"error":{"code":"too_many_requests","message":"m"},"trace_id":"r-3"}`, "r-3"},
		{"internal error", 200, `{"Response":{"Error":{"Code":"InternalError","Message":"m"},"RequestId":"r-4"}}`,
			500, `{"success":false,"error":{"code":"api_error","message":"m"},"trace_id":"r-4"}`, "r-4"},
		{"not the envelope: passed on as garbage", 200, `{"result":"0"}`, 200, `{"result":"0"}`, ""},
		{"not JSON", 200, `<html>`, 200, `<html>`, ""},
		{"HTTP error passed on", 502, `bad gateway`, 502, `bad gateway`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw, resp fasthttp.Response
			raw.SetStatusCode(c.status)
			raw.SetBodyString(c.body)
			resp.SetBodyString("stale")
			translateAnswer(&raw, &resp)
			if resp.StatusCode() != c.wantStatus || string(resp.Body()) != c.wantBody || AnswerID(&resp) != c.wantID {
				t.Fatalf("%d %s id %q, want %d %s id %q", resp.StatusCode(), resp.Body(), AnswerID(&resp), c.wantStatus, c.wantBody, c.wantID)
			}
		})
	}
}

// A body the gateway cannot write in the dialect never leaves: the error
// says nothing was sent, so it is neither billed nor unknown.
func TestForwardTencentUntranslatable(t *testing.T) {
	s := &tencentServer{answer: func(tencent.CheckRequest) string { return "" }}
	c := tencentClient(t, s)
	var resp fasthttp.Response
	err := c.Forward(&Request{Path: "/", Body: []byte(`not json`), Action: tencent.ActionIdCardVerification}, &resp)
	if err == nil || !NothingSent(err) || len(s.calls) != 0 {
		t.Fatalf("err %v (nothing sent: %v), calls %d", err, NothingSent(err), len(s.calls))
	}
}

func TestTencentService(t *testing.T) {
	for url, want := range map[string]string{
		"http://127.0.0.1:8081":                "127",
		"https://faceid.tencentcloudapi.com":   "faceid",
		"https://faceid.tencentcloudapi.com:8": "faceid",
	} {
		if got := (TencentConfig{}).ServiceFor(url); got != want {
			t.Errorf("%s: service %q, want %q", url, got, want)
		}
	}
	if got := (TencentConfig{Service: "faceid"}).ServiceFor("http://127.0.0.1:8081"); got != "faceid" {
		t.Errorf("configured service %q", got)
	}
	cfg := DefaultConfig()
	cfg.Token = "t"
	if err := cfg.ValidateTencent(); err == nil {
		t.Error("a Tencent upstream without a pair")
	}
	cfg.Tencent = TencentConfig{SecretID: "a/b", SecretKey: "k"}
	if err := cfg.ValidateTencent(); err == nil {
		t.Error("a SecretId with '/'")
	}
	cfg.Tencent = TencentConfig{SecretID: "up-id", SecretKey: "k"}
	if err := cfg.ValidateTencent(); err != nil {
		t.Error(err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
