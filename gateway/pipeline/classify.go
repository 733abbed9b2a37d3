package pipeline

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/upstream"
)

// answer is the classified upstream response.
type answer struct {
	class  billing.Class
	result string
	// ownError: the gateway answers 500 api_error instead of passing the
	// upstream's response on; problem says why (for the log, no body data).
	ownError bool
	problem  string
}

// classify reads the upstream's answer with the route's billing table.
// Whatever may have been billed without a verdict the gateway can read is
// unknown, never upstream_error: a call that failed after the request may
// have been written (a timeout, a lost connection), a 200 whose result
// cannot be read. Only failures that prove nothing was sent (the
// connection was refused, never dialled) are upstream_error.
func classify(rt *Route, resp *fasthttp.Response, err error) answer {
	if err != nil {
		if upstream.NothingSent(err) {
			return answer{class: billing.UpstreamError, ownError: true, problem: "upstream unavailable"}
		}
		return answer{class: billing.Unknown, ownError: true, problem: "upstream call failed after the request was sent"}
	}
	status := resp.StatusCode()
	body := resp.Body()
	switch {
	case status == fasthttp.StatusOK:
		res, ok := upstream.ResultField(body)
		if !ok {
			return answer{class: billing.Unknown, ownError: true, problem: "upstream answer unreadable"}
		}
		class, known := rt.Billing.Classify(res)
		if !known {
			return answer{class: billing.Unknown, ownError: true, problem: "upstream result code unknown"}
		}
		return answer{class: class, result: string(res)}
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		// The gateway's own upstream credential was refused: a gateway
		// fault, not the client's, whose key was fine.
		return answer{class: billing.UpstreamError, ownError: true, problem: "upstream refused the gateway's credential"}
	case json.Valid(body) && len(body) > 0 && body[0] == '{':
		// The authority's own HTTP error: passed on unchanged, never billed.
		return answer{class: billing.UpstreamError}
	default:
		return answer{class: billing.UpstreamError, ownError: true, problem: "upstream error unreadable"}
	}
}

// errKind names a forward error without quoting anything the upstream sent.
func errKind(err error) string {
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fasthttp.ErrTimeout), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "response too large"
	case errors.As(err, &netErr):
		return "network error"
	default:
		return "malformed response"
	}
}
