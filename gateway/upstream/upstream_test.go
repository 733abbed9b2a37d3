package upstream

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestResultField(t *testing.T) {
	cases := []struct {
		body string
		want string
		ok   bool
	}{
		{`{"result":"0","description":"x"}`, "0", true},
		{` { "description" : "a\"b}" , "result" : "-1" } `, "-1", true},
		{`{"sim":42.5,"nested":{"result":"9"},"arr":[{"x":"]"}],"result":"-5"}`, "-5", true},
		{`{"result":0}`, "", false},
		{`{"result":null}`, "", false},
		{`{"result":"\u0030"}`, "", false},
		{`{"description":"x"}`, "", false},
		{`{"result":"0"`, "", false},
		{`{"result":"0"}trailing`, "", false},
		{`["result","0"]`, "", false},
		{``, "", false},
		{`garbage`, "", false},
	}
	for _, tc := range cases {
		got, ok := ResultField([]byte(tc.body))
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("ResultField(%q) = %q, %v; want %q, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzResultField(f *testing.F) {
	f.Add([]byte(`{"result":"0","description":"x"}`))
	f.Add([]byte(`{"a":[1,{"b":"\""}],"result":"-1"}`))
	for _, truncated := range []string{`{"result"`, `{"result":`, `{"result":"0`, `{"a":"x`, `{"a"`, `{"a":`, `{`} {
		f.Add([]byte(truncated))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ResultField(b)
		if ok && strings.ContainsAny(string(r), `"\`) {
			t.Fatalf("result %q from %q", r, b)
		}
		// PeekResult never panics on junk, and agrees wherever the body
		// is valid.
		p, pok := PeekResult(b)
		if ok && (!pok || string(p) != string(r)) {
			t.Fatalf("PeekResult(%q) = %q, %v; ResultField = %q", b, p, pok, r)
		}
	})
}

// fakeServer is an in-process upstream on a loopback port.
func fakeServer(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String()
}

func client(t *testing.T, url string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Config{URL: url, Token: "up-secret", Timeout: timeout,
		ConnectTimeout: time.Second, MaxConns: 4, MaxIdleConnDuration: time.Second, MaxResponseBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// headerServer answers every request with a result 0 and hands over the
// request headers it received.
func headerServer(t *testing.T) (string, <-chan *fasthttp.RequestHeader) {
	got := make(chan *fasthttp.RequestHeader, 4)
	url := fakeServer(t, func(ctx *fasthttp.RequestCtx) {
		h := &fasthttp.RequestHeader{}
		ctx.Request.Header.CopyTo(h)
		got <- h
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"result":"0","description":"ok"}`)
	})
	return url, got
}

func TestForwardInjectsCredential(t *testing.T) {
	url, got := headerServer(t)
	c := client(t, url, time.Second)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	err := c.Forward(&Request{Path: "/identity/idcard/check-2e", Body: []byte(`{}`), Prefer: []byte("result=-5"), RequestID: []byte("rid")}, resp)
	if err != nil {
		t.Fatal(err)
	}
	h := <-got
	if string(h.Peek("Authorization")) != "Bearer up-secret" || string(h.Peek("Prefer")) != "result=-5" ||
		string(h.Peek("X-Request-Id")) != "rid" || string(h.RequestURI()) != "/identity/idcard/check-2e" {
		t.Fatalf("upstream saw %s", h.String())
	}
	if string(resp.Body()) != `{"result":"0","description":"ok"}` {
		t.Fatalf("body %s", resp.Body())
	}
}

// Requests come from a pool: a call without Prefer or a request id must
// not carry the previous call's.
func TestForwardPooledRequestsCarryNothingOver(t *testing.T) {
	url, got := headerServer(t)
	c := client(t, url, time.Second)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	calls := []struct {
		req               Request
		prefer, rid, path string
	}{
		{Request{Path: "/a", Body: []byte(`{"a":1}`), Prefer: []byte("result=-5"), RequestID: []byte("rid-1")}, "result=-5", "rid-1", "/a"},
		{Request{Path: "/b", Body: []byte(`{"b":2}`)}, "", "", "/b"},
		{Request{Path: "/a", Body: []byte(`{}`), RequestID: []byte("rid-3")}, "", "rid-3", "/a"},
	}
	for i, call := range calls {
		if err := c.Forward(&call.req, resp); err != nil {
			t.Fatal(err)
		}
		h := <-got
		if string(h.Peek("Prefer")) != call.prefer || string(h.Peek("X-Request-Id")) != call.rid ||
			string(h.RequestURI()) != call.path || string(h.Peek("Authorization")) != "Bearer up-secret" {
			t.Errorf("call %d: upstream saw %s", i, h.String())
		}
	}
}

func TestForwardErrors(t *testing.T) {
	url := fakeServer(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(300 * time.Millisecond) })
	c := client(t, url, 50*time.Millisecond)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := c.Forward(&Request{Path: "/"}, resp); err == nil {
		t.Fatal("want timeout")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c = client(t, "http://"+addr, time.Second)
	if err := c.Forward(&Request{Path: "/"}, resp); err == nil {
		t.Fatal("want connection refused")
	}
	if err := c.Ping(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
}

// BenchmarkBuild is the per-request cost of composing the upstream request
// and serialising it, without the network.
func BenchmarkBuild(b *testing.B) {
	c, err := New(Config{URL: "http://127.0.0.1:8081", Token: "up-secret", Timeout: time.Second, ConnectTimeout: time.Second, MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"name":"张三","idcard":"11010119900307002X"}`)
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		req := c.request("/identity/idcard/check-2e")
		c.build(req, &Request{Path: "/identity/idcard/check-2e", Body: body, RequestID: []byte("0f8c1c1e-1234-4abc-8def-0123456789ab")})
		if err := req.Write(w); err != nil {
			b.Fatal(err)
		}
		c.release(req)
	}
}

func TestAnswerID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header string
		body   string
		want   string
	}{
		{"header on a verdict", 200, "sim-7f3a", `{"result":"0"}`, "sim-7f3a"},
		{"trace header on a verdict", 200, "", `{"result":"0"}`, ""},
		{"no id on a verdict", 200, "", `{"result":"0","trace_id":"not-read-on-200"}`, ""},
		{"trace_id of an error", 429, "", `{"success":false,"error":{"code":"too_many_requests","message":"m"},"trace_id":"t-1"}`, "t-1"},
		{"header wins", 500, "h-1", `{"trace_id":"t-1"}`, "h-1"},
		{"garbage error body", 502, "", `<html>`, ""},
		{"control characters refused", 200, "a\x01b", `{}`, ""},
		{"CSV metacharacters refused", 500, "", `{"trace_id":"a,b"}`, ""},
		{"too long", 500, "", `{"trace_id":"` + strings.Repeat("x", 129) + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp fasthttp.Response
			resp.SetStatusCode(tc.status)
			if tc.header != "" {
				resp.Header.Set("X-Request-Id", tc.header)
			}
			resp.SetBodyString(tc.body)
			if got := AnswerID(&resp); got != tc.want {
				t.Fatalf("AnswerID = %q, want %q", got, tc.want)
			}
		})
	}
}
