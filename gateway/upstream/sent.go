package upstream

import (
	"errors"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// NothingSent reports whether a forward error proves that the request
// never reached the upstream: the connection was refused or could not be
// dialled, or no pooled connection came free in time. Any other error — a
// timeout, a reset, a connection closed before or during the answer — may
// follow a request the authority received, decided and billed, so a caller
// must neither retry it nor record it as unbilled.
func NothingSent(err error) bool {
	var op *net.OpError
	switch {
	case err == nil:
		return false
	case errors.Is(err, errNotTranslated):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	}
	return false
}
