package admission

import (
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ledger"
)

// Intend is step 5, right before a request goes upstream: its intent is
// made durable, so that a crash during the call leaves an entry of class
// unknown rather than a charge nobody can see, and the ledger holds a
// place for its outcome. When the ledger cannot promise that (it cannot
// write, or its queue is full), nothing is sent: the unit is released and
// the request answered 503 service_unavailable with Retry-After, not
// billed, and Intend returns false.
func (g *Gate) Intend(x *Exchange) bool {
	err := g.Ledger.Intend(g.entry(x, billing.Class(""), 0))
	if err != nil {
		g.Settle(x, false)
		g.logLedgerRefusal(x, err)
		x.Ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		g.Refuse(x, billing.LedgerUnavailable, contracts.ErrServiceUnavailable,
			"The gateway cannot record billing right now; nothing was sent to the authority; retry later")
		return false
	}
	x.intended = true
	return true
}

// ledgerRefusalLogged rate-limits the log line of step 5's refusals to
// one a second: a full disk refuses every billable request.
var ledgerRefusalLogged atomic.Int64

func (g *Gate) logLedgerRefusal(x *Exchange, err error) {
	now := g.Now().Unix()
	if last := ledgerRefusalLogged.Load(); last != now && ledgerRefusalLogged.CompareAndSwap(last, now) {
		g.Log.Error("ledger cannot record; refusing billable requests before they go upstream",
			"request_id", x.RequestID, "route", x.Route, "err", err)
	}
}

// Finish is step 8: the leader's Idempotency-Key record takes the answer,
// the ledger records the request's entry, and only then is the answer
// written. The entry of a request that went upstream, or that used a
// quota unit, is durable before its answer leaves; when the ledger cannot
// make it so, the client gets 500 api_error instead of an answer the
// ledger might lose (the entry stays queued for the database, and the
// intent makes it an unknown after a crash).
//
// The answer is given in the aggregator's form; a route with a Dialect
// renders it in the client's.
func (g *Gate) Finish(x *Exchange, class billing.Class, status int, contentType string, body []byte) {
	if x.Dialect != nil {
		status, contentType, body = x.Dialect.Answer(status, contentType, body, x.RequestID)
	}
	g.FinishRendered(x, class, status, contentType, body)
}

// FinishRendered is Finish for an answer already in the client's dialect
// (a dialect's own refusal, a stored answer replayed).
func (g *Gate) FinishRendered(x *Exchange, class billing.Class, status int, contentType string, body []byte) {
	if x.rateDeferred {
		// The request ended before Reserve: its token is taken now, and
		// a request over its rate gets 429, as it would have at step 2.
		x.rateDeferred = false
		if !g.RateLimit(x) {
			return
		}
	}
	x.finished = true
	e := g.entry(x, class, status)
	e.Intended, x.intended = x.intended, false
	idemClass := class
	if err := g.Ledger.Record(e); err != nil {
		if e.Intended || class.CountsQuota() {
			idemClass = billing.Unknown // a retry must run afresh, not replay the 500
			g.Log.Error("ledger entry not durable; the answer is withheld", "request_id", x.RequestID,
				"tenant", x.Key.Tenant.ID, "route", x.Route, "class", class, "err", err)
			contentType = "application/json"
			status, body = errorBody(x, contracts.ErrAPIError, "")
		} else {
			// Only after shutdown began; the listener is closed by then, so
			// this is a request that slipped in at the edge. Say so loudly.
			g.Log.Error("ledger entry not recorded", "request_id", x.RequestID, "tenant", x.Key.Tenant.ID, "route", x.Route, "class", class, "err", err)
		}
	}
	g.settleIdempotency(x, idemClass, status, contentType, body)
	x.Ctx.SetStatusCode(status)
	if contentType == "" {
		contentType = "application/json"
	}
	x.Ctx.SetContentType(contentType)
	x.Ctx.SetBody(body)
	g.Metrics.Observe(x.Route, string(class), x.Key.Tenant.ID, g.Now().Sub(x.Start))
}

// entry is x's ledger entry as it stands.
func (g *Gate) entry(x *Exchange, class billing.Class, status int) ledger.Entry {
	if x.day == "" {
		x.day = g.Calendar.Day(x.Start)
	}
	return ledger.Entry{
		Time: x.Start, Day: x.day, RequestID: x.RequestID,
		Tenant: x.Key.Tenant.ID, KeyID: x.Key.ID, Route: x.Route,
		Result: x.Result, Class: string(class), Billed: class == billing.Billed,
		HTTPStatus: status, UpstreamLatency: x.UpstreamLatency, IDMasked: x.IDMasked,
		Attempts: x.Attempts, UpstreamID: x.UpstreamID,
	}
}

// Refuse finishes with one of the contract's errors, in the route's
// dialect.
func (g *Gate) Refuse(x *Exchange, class billing.Class, code contracts.ErrorCode, message string) {
	status, body := errorBody(x, code, message)
	g.FinishRendered(x, class, status, "application/json", body)
}

// errorBody is a contract error as x's dialect writes it.
func errorBody(x *Exchange, code contracts.ErrorCode, message string) (int, []byte) {
	if x.Dialect != nil {
		return x.Dialect.Error(code, message, x.RequestID)
	}
	return code.Status(), contracts.AppendError(nil, contracts.NewError(code, message, x.RequestID))
}

// WriteError answers with a contract error outside the admission path
// (unknown routes, errors the HTTP server raises itself).
func WriteError(ctx *fasthttp.RequestCtx, code contracts.ErrorCode, message, requestID string) {
	ctx.Response.Header.SetCanonical(hdrRequestID, []byte(requestID))
	writeBody(ctx, code.Status(), contracts.AppendError(nil, contracts.NewError(code, message, requestID)))
}

// writeError answers x with a contract error without recording it.
func writeError(x *Exchange, code contracts.ErrorCode, message string) {
	status, body := errorBody(x, code, message)
	writeBody(x.Ctx, status, body)
}

func writeBody(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
