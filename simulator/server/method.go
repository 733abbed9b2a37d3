package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
)

// knownMethod reports whether Fiber routes method. Fiber answers any
// other method itself, before routing and the error handler, with a
// plain-text 400 in no contract's vocabulary.
func knownMethod(method []byte) bool {
	for _, m := range fiber.DefaultMethods {
		if string(method) == m {
			return true
		}
	}
	return false
}

// withKnownMethods answers a request whose method no route has as an
// unknown API (400 api_not_implemented, X-Trace-Id), and hands every other
// request to h.
func (s *Server) withKnownMethods(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() && !knownMethod(ctx.Method()) {
			a := answer{result: -1}
			a.setError(contracts.ErrAPINotImplemented, "", srcRouting)
			s.finish(ctx, nil, nil, &a, time.Now())
			return
		}
		h(ctx)
	}
}
