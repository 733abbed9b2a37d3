package retry

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/upstream"
)

// What the retry policy costs around fasthttp, against retryablehttp over
// net/http doing the same job: same loopback upstream, same body, one
// successful call each:
//
//	go test -run '^$' -bench Client -benchmem ./gateway/retry

var benchAnswer = []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)
var benchBody = []byte(`{"name":"测试一致","id_card":"110101191111110010"}`)

func benchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(benchAnswer)
	}}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String()
}

func BenchmarkClientFasthttpWithPolicy(b *testing.B) {
	url := benchServer(b)
	uc := upstream.DefaultConfig()
	uc.URL, uc.Token = url, "sim-token"
	c, err := upstream.New(uc)
	if err != nil {
		b.Fatal(err)
	}
	r, _ := New(c, nil, NewPolicy(DefaultConfig(), billing.DefaultRoutes()), nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req := upstream.Request{Path: "/identity/idcard/check-2e", Body: benchBody, Route: "check-2e"}
			if err := r.Forward(&req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClientRetryablehttp(b *testing.B) {
	url := benchServer(b)
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.RetryMax = 2
	c.HTTPClient.Transport.(*http.Transport).MaxIdleConnsPerHost = 1024
	c.HTTPClient.Timeout = 5 * time.Second
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := retryablehttp.NewRequest("POST", url+"/identity/idcard/check-2e", bytes.NewReader(benchBody))
			req.Header.Set("Authorization", "Bearer sim-token")
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
