package testkit

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// Serve runs h on a free loopback port (an in-process upstream, a bare
// proxy) until the test ends, and returns the address it listens on.
func Serve(t testing.TB, h fasthttp.RequestHandler) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: listen: %v", err)
	}
	s := &fasthttp.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown() })
	return ln.Addr().String()
}
