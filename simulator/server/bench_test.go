package server

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
)

// benchServer is the simulator as a load test meets it: journal off, no
// latency, default limits.
func benchServer(b testing.TB) *Server {
	cfg := config.Default()
	cfg.Journal.Enabled = false
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var benchBody = []byte(`{"name":"张三","id_card":"11010519491231002X"}`)

func prepare(req *fasthttp.Request) {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://sim" + contracts.CheckPath)
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer sim-token")
	req.SetBody(benchBody)
}

// BenchmarkCheckHandler is the handler alone, without the network: what
// each request costs the simulator in CPU and allocations. "default" is
// the load-test configuration; the others show what each feature adds.
func BenchmarkCheckHandler(b *testing.B) {
	cases := []struct {
		name    string
		journal bool
		mutate  func(*fasthttp.Request)
		status  int
	}{
		{"default", false, nil, 200},
		{"journal-on", true, nil, 200},
		{"image_url-sim", false, func(r *fasthttp.Request) {
			r.SetBody([]byte(`{"name":"张三","id_card":"11010519491231002X","image_url":"https://example.test/face.jpg"}`))
		}, 200},
		{"prefer-result", false, func(r *fasthttp.Request) { r.Header.Set("Prefer", "result=-1") }, 200},
		// What the gateway sends: its request id, which the statement keeps.
		{"gateway-request-id", false, func(r *fasthttp.Request) { r.Header.Set("X-Request-Id", "0f8c1c1e-1234-4abc-8def-0123456789ab") }, 200},
		{"escaped-json-slow-path", false, func(r *fasthttp.Request) {
			r.SetBody([]byte(`{"name":"\u5f20\u4e09","id_card":"11010519491231002X"}`))
		}, 200},
		{"unknown-token-401", false, func(r *fasthttp.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b)
			s.journal.SetEnabled(tc.journal)
			h := s.Handler()
			var ctx fasthttp.RequestCtx
			prepare(&ctx.Request)
			if tc.mutate != nil {
				tc.mutate(&ctx.Request)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Response.Reset()
				h(&ctx)
			}
			if ctx.Response.StatusCode() != tc.status {
				b.Fatalf("answer %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
}

// bareAnswer is the simulator's default answer, byte for byte.
var bareAnswer = contracts.AppendResponse(nil, contracts.CheckResponse{Result: contracts.ResultConsistent, Description: contracts.Results[0].Description})

// bareHandler is the yardstick: plain fasthttp returning the same JSON.
func bareHandler(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetBodyRaw(bareAnswer)
}

// BenchmarkInmemory compares the simulator with a bare fasthttp handler
// over fasthttp's in-memory listener, side by side in one run, with
// parallel keep-alive clients. Target: simulator >= 0.7x bare.
func BenchmarkInmemory(b *testing.B) {
	b.Run("bare-fasthttp", func(b *testing.B) { benchInmemory(b, bareHandler) })
	b.Run("simulator", func(b *testing.B) { benchInmemory(b, benchServer(b).Handler()) })
}

func benchInmemory(b *testing.B, h fasthttp.RequestHandler) {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck // ends with the listener
	defer srv.Shutdown()
	client := &fasthttp.Client{
		Dial:            func(string) (net.Conn, error) { return ln.Dial() },
		MaxConnsPerHost: 256,
		ReadTimeout:     5 * time.Second,
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		prepare(req)
		for pb.Next() {
			if err := client.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}
