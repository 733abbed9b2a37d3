package admission

import (
	"fmt"
	"runtime/debug"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
)

// End is deferred by every handler right after NewExchange. It guarantees
// that whatever happened in between the request ends cleanly:
//
//   - a panic is answered 500 api_error (unless the answer was already
//     written) and logged with the request id, route, tenant, the panic's
//     type and the stack, never its value, which may quote a name or an ID
//     number;
//   - a quota unit still held is released (kept, and the request recorded
//     as unknown, when it panicked after its intent: the call may have
//     been made);
//   - an Idempotency-Key record this request leads is abandoned, so the
//     duplicates waiting for it are released, not left hanging.
func (g *Gate) End(x *Exchange) {
	if r := recover(); r != nil {
		g.Log.Error("request handler panicked", "request_id", x.RequestID, "route", x.Route, "tenant", x.Tenant(),
			"panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
		if !x.finished {
			if x.Key == nil {
				writeError(x, contracts.ErrAPIError, "")
			} else if x.intended {
				// The call may have been made: a possible charge keeps its
				// unit and is recorded as unknown.
				g.Settle(x, true)
				g.Refuse(x, billing.Unknown, contracts.ErrAPIError, "")
			} else {
				g.Settle(x, false)
				g.Refuse(x, billing.UpstreamError, contracts.ErrAPIError, "")
			}
		}
	}
	g.Settle(x, false)
	if x.idemLead {
		x.idemLead = false
		g.Idempotency.Abandon(x.idem)
	}
}
