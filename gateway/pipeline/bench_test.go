package pipeline

import (
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
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

// BenchmarkServeTencent is BenchmarkServe for a Tencent Cloud API 3.0
// client (IdCardVerification, TC3-signed, the same fake upstream): the
// dialect's own cost is the signature check, its body decoder, the
// aggregator body written for the upstream and the envelope of the answer.
func BenchmarkServeTencent(b *testing.B) {
	h := newHarness(b, tencentTenants())
	h.p.Ledger = &testkit.Ledger{Discard: true}
	body := []byte(tcBody(goodName, goodID))
	up := []byte(`{"result":"0","description":"Name and ID card number are consistent"}`)
	h.p.Forward = forwardFunc(func(r *upstream.Request, resp *fasthttp.Response) error {
		resp.SetStatusCode(200)
		resp.Header.SetContentType("application/json")
		resp.SetBodyRaw(up)
		return nil
	})
	front := h.front()
	signer := &tencent.Signer{SecretID: tcSecretID, SecretKey: tcSecretKey, Service: "faceid"}
	ts := now.Unix()
	authz := []byte(signer.Authorization(tcHost, "application/json", body, ts))
	tsText := []byte(strconv.FormatInt(ts, 10))
	action, version := []byte(tencent.ActionIdCardVerification), []byte(tencent.Version)
	// The answer's length (its RequestId is per request).
	want := tencent.AppendCheckResult(nil, "0", "Name and ID card number are consistent", h.p.IDs.Next())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			// The request as the server's parser leaves it, set without
			// normalising each name (the setup is not the gateway's cost).
			r := &ctx.Request
			r.Header.SetMethod("POST")
			r.SetRequestURI("/")
			r.Header.SetHost(tcHost)
			r.Header.SetContentType("application/json")
			r.Header.SetCanonical([]byte(tencent.HeaderAction), action)
			r.Header.SetCanonical([]byte(tencent.HeaderVersion), version)
			r.Header.SetCanonical([]byte(tencent.HeaderTimestamp), tsText)
			r.Header.SetCanonical([]byte("Authorization"), authz)
			r.SetBodyRaw(body)
			h.p.ServeTencent(&ctx, h.route, front)
			// The dialect answers 200 even for errors: an error's body
			// is longer than a result's.
			if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != len(want) {
				b.Fatal(string(ctx.Response.Body()))
			}
		}
	})
}
