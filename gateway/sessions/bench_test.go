package sessions

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
)

// BenchmarkPoll is the gateway's own cost of one status poll of an open
// session (auth, rate limit, tenant scope, forward to an in-process fake,
// outcome decode, ledger entry), without the network.
func BenchmarkPoll(b *testing.B) {
	f := newFixture(b, 0, "")
	f.create(b, "bench", "")
	f.up.set("GET "+contracts.SessionPath("bench"), 200, sessionJSON("bench", contracts.StateUnderReview, 6, 0))
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.Header.Set("Authorization", "Bearer acme-key")
		f.svc.poll(&ctx, RouteStatus, "bench", "")
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
