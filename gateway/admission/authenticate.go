package admission

import (
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
)

// classUnauthenticated labels requests the ledger never sees: without a
// key there is no tenant to record them against.
const classUnauthenticated = "unauthenticated"

// gatewayHeaders are the headers the gateway reads on every route that may
// be repeated nowhere: they decide the key, the body's parsing and the
// charge. Prefer is read only by routes that forward it (RepeatedPrefer).
const gatewayHeaders = contracts.HeaderAuthorization | contracts.HeaderContentType |
	contracts.HeaderContentEncoding | contracts.HeaderIdempotencyKey

// Authenticate is step 1: the Authorization header must name an active
// key. It answers 401 invalid_token itself and returns false otherwise.
// Before that, a request that repeats a header deciding authentication,
// parsing or billing is refused (400 token_mismatched): no key is tried
// and nothing is recorded against one. Refusals are counted in metrics,
// not the ledger.
func (g *Gate) Authenticate(x *Exchange) bool {
	x.repeated = contracts.RepeatedHeaders(x.Ctx.Request.Header.RawHeaders())
	if r := x.repeated & gatewayHeaders; r != 0 {
		writeError(x, contracts.ErrTokenMismatched, r.Refusal())
		g.unauthenticated(x)
		return false
	}
	if x.Dialect != nil {
		key, status, body := x.Dialect.Authenticate(x)
		if key == nil {
			writeBody(x.Ctx, status, body)
			g.unauthenticated(x)
			return false
		}
		x.Key = key
		return true
	}
	key, ok := g.Auth.Authenticate(x.Ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		writeError(x, contracts.ErrInvalidToken, "")
		g.unauthenticated(x)
		return false
	}
	x.Key = key
	return true
}

// unauthenticated ends a request refused before it had a key.
func (g *Gate) unauthenticated(x *Exchange) {
	x.finished = true
	g.Metrics.Observe(x.Route, classUnauthenticated, "", g.Now().Sub(x.Start))
}

// RepeatedPrefer reports whether the request carries more than one Prefer
// header; a route that forwards Prefer refuses it (the gateway would pass
// on one, the upstream might read both).
func (x *Exchange) RepeatedPrefer() bool { return x.repeated&contracts.HeaderPrefer != 0 }
