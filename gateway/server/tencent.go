package server

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/gateway/pipeline"
	gwtencent "github.com/idgate/idgate/gateway/tencent"
)

// startTencent builds the Tencent Cloud API 3.0 front (signatures checked
// against the keys' Tencent pairs) and its endpoint, POST /, and serves
// each check route's action there through the same pipeline as its path.
// Other APIs (the verification sessions) register their actions on s.tc
// the same way, before the listener starts.
func (s *Server) startTencent(routes []*pipeline.Route) error {
	s.front = &gwtencent.Front{Dir: s.dir}
	s.tc = gwtencent.NewMux(s.pipeline.IDs)
	s.tc.Refused = func(ctx *fasthttp.RequestCtx) { s.pipeline.ObserveUnknownRoute(time.Since(ctx.Time())) }
	for _, rt := range routes {
		if rt.Action == "" {
			continue
		}
		if err := s.tc.Handle(rt.Action, func(ctx *fasthttp.RequestCtx) { s.pipeline.ServeTencent(ctx, rt, s.front) }); err != nil {
			return err
		}
	}
	return nil
}

// Tencent is the Tencent dialect's endpoint, for registering actions.
func (s *Server) Tencent() *gwtencent.Mux { return s.tc }
