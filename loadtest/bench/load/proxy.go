package load

import "github.com/valyala/fasthttp"

// BareProxy forwards every request unchanged to upstream (host:port) over
// pooled keep-alive connections and returns the answer: the least any
// reverse proxy must do, and so the yardstick the gateway is measured by.
func BareProxy(upstream string) fasthttp.RequestHandler {
	client := &fasthttp.HostClient{Addr: upstream, MaxConns: 1024}
	return func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Header.Del("Connection")
		if err := client.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error("upstream: "+err.Error(), fasthttp.StatusBadGateway)
		}
	}
}
