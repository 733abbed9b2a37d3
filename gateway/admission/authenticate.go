package admission

import (
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
)

// classUnauthenticated labels requests the ledger never sees: without a
// key there is no tenant to record them against.
const classUnauthenticated = "unauthenticated"

// Authenticate is step 1: the Authorization header must name an active
// key. It answers 401 invalid_token itself and returns false otherwise.
// Refusals are counted in metrics, not the ledger.
func (g *Gate) Authenticate(x *Exchange) bool {
	key, ok := g.Auth.Authenticate(x.Ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		writeError(x.Ctx, contracts.ErrInvalidToken, "", x.RequestID)
		x.finished = true
		g.Metrics.Observe(x.Route, classUnauthenticated, "", g.Now().Sub(x.Start))
		return false
	}
	x.Key = key
	return true
}
