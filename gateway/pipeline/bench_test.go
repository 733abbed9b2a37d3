package pipeline

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/upstream"
	"github.com/idgate/idgate/internal/testkit"
)

// BenchmarkServe is the pipeline alone (every step on, upstream faked in
// memory, ledger discarding): the gateway's own cost per request.
func BenchmarkServe(b *testing.B) {
	// The bucket is consulted on every request but never refuses: the
	// default harness's 1e6/s with a 1e6 burst ran dry when a fast run
	// made b.N two million.
	h := newHarness(b, []auth.TenantConfig{{ID: "t1", Rate: 1e12, Burst: 1e12, Keys: []auth.KeyConfig{{ID: "k1", Key: "good-key"}}}})
	h.p.Ledger = &testkit.Ledger{Discard: true}
	body := []byte(goodBody())
	up := []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)
	h.p.Forward = forwardFunc(func(r *upstream.Request, resp *fasthttp.Response) error {
		resp.SetStatusCode(200)
		resp.Header.SetContentType("application/json")
		resp.SetBodyRaw(up)
		return nil
	})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI(contracts.CheckPath)
			ctx.Request.Header.SetContentType("application/json")
			ctx.Request.Header.Set("Authorization", "Bearer good-key")
			ctx.Request.SetBodyRaw(body)
			h.p.Serve(&ctx, h.route)
			if ctx.Response.StatusCode() != 200 {
				b.Fatal(ctx.Response.StatusCode())
			}
		}
	})
}
