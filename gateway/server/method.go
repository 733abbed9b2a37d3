package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
)

// knownMethod reports whether Fiber routes method. Fiber answers any
// other method itself, before routing and the error handler, with a
// plain-text 400 that carries neither the contract's body nor an
// X-Request-Id.
func knownMethod(method []byte) bool {
	for _, m := range fiber.DefaultMethods {
		if string(method) == m {
			return true
		}
	}
	return false
}

// unknownRoute answers a request no route takes, whether for its path or
// its method: 400 api_not_implemented with X-Request-Id.
func (s *Server) unknownRoute(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	admission.WriteError(ctx, contracts.ErrAPINotImplemented, "", s.pipeline.IDs.Next())
	s.pipeline.ObserveUnknownRoute(time.Since(start))
}
