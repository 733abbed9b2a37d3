package server

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
)

// recovering guards the handlers outside the admission path (health,
// public keys, the upstream's webhooks, unknown routes, the admin API),
// which recovers on its own: a panic is answered 500 api_error in the
// contract's body and logged with the path and the stack, never the
// panic's value, which may quote a request's personal data. The process
// keeps serving.
func recovering(h fasthttp.RequestHandler, log *slog.Logger, ids admission.RequestIDs) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			id := ids.Next()
			log.Error("request handler panicked", "request_id", id, "method", string(ctx.Method()), "path", string(ctx.Path()),
				"panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			admission.WriteError(ctx, contracts.ErrAPIError, "", id)
		}()
		h(ctx)
	}
}
