package admission

import (
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ledger"
)

// Finish is step 7: the leader's Idempotency-Key record takes the answer,
// the ledger records the request's entry, and only then is the answer
// written, so no answer leaves without its entry.
func (g *Gate) Finish(x *Exchange, class billing.Class, status int, contentType string, body []byte) {
	x.finished = true
	g.settleIdempotency(x, class, status, contentType, body)
	err := g.Ledger.Record(ledger.Entry{
		Time: x.Start, Day: g.Calendar.Day(x.Start), RequestID: x.RequestID,
		Tenant: x.Key.Tenant.ID, KeyID: x.Key.ID, Route: x.Route,
		Result: x.Result, Class: string(class), Billed: class == billing.Billed,
		HTTPStatus: status, UpstreamLatency: x.UpstreamLatency, IDMasked: x.IDMasked,
		Attempts: x.Attempts, UpstreamID: x.UpstreamID,
	})
	if err != nil {
		// Only after shutdown began; the listener is closed by then, so this
		// is a request that slipped in at the edge. Say so loudly.
		g.Log.Error("ledger entry not recorded", "request_id", x.RequestID, "tenant", x.Key.Tenant.ID, "route", x.Route, "class", class, "err", err)
	}
	x.Ctx.SetStatusCode(status)
	if contentType == "" {
		contentType = "application/json"
	}
	x.Ctx.SetContentType(contentType)
	x.Ctx.SetBody(body)
	g.Metrics.Observe(x.Route, string(class), x.Key.Tenant.ID, g.Now().Sub(x.Start))
}

// Refuse finishes with one of the contract's errors.
func (g *Gate) Refuse(x *Exchange, class billing.Class, code contracts.ErrorCode, message string) {
	g.Finish(x, class, code.Status(), "application/json", contracts.AppendError(nil, contracts.NewError(code, message, x.RequestID)))
}

// WriteError answers with a contract error outside the admission path
// (unknown routes, errors the HTTP server raises itself).
func WriteError(ctx *fasthttp.RequestCtx, code contracts.ErrorCode, message, requestID string) {
	ctx.Response.Header.SetCanonical(hdrRequestID, []byte(requestID))
	writeError(ctx, code, message, requestID)
}

func writeError(ctx *fasthttp.RequestCtx, code contracts.ErrorCode, message, requestID string) {
	ctx.SetStatusCode(code.Status())
	ctx.SetContentType("application/json")
	ctx.SetBody(contracts.AppendError(nil, contracts.NewError(code, message, requestID)))
}
