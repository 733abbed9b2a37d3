package sessions

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/gateway/upstream"
)

// Upstream sends one session call to the authority with the gateway's
// credential. An error means no HTTP answer.
type Upstream interface {
	Do(method, path string, body, prefer, requestID []byte, resp *fasthttp.Response) error
}

// Client is the session API's own pool towards the upstream: sessions use
// GET as well as POST, and their calls must not queue behind (or be
// counted as) the check API's.
type Client struct {
	hc      *fasthttp.HostClient
	host    string
	scheme  string
	auth    string
	timeout time.Duration
}

// NewClient builds a client from the upstream config (validated at load).
func NewClient(c upstream.Config) (*Client, error) {
	// QR PNGs and results with a portrait are larger than checks.
	hc, u, err := upstream.NewHostClient(c, max(c.MaxResponseBytes, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return &Client{hc: hc, host: u.Host, scheme: u.Scheme, auth: "Bearer " + c.Token.Reveal(), timeout: c.Timeout}, nil
}

// Do sends one call. The client's own Authorization never gets here.
func (c *Client) Do(method, path string, body, prefer, requestID []byte, resp *fasthttp.Response) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	uri := req.URI()
	uri.SetScheme(c.scheme)
	uri.SetHost(c.host)
	uri.SetPath(path)
	req.Header.SetHost(c.host)
	req.Header.Set(fasthttp.HeaderAuthorization, c.auth)
	if method == fasthttp.MethodPost {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if len(prefer) > 0 {
		req.Header.SetBytesV("Prefer", prefer)
	}
	if len(requestID) > 0 {
		req.Header.SetBytesV("X-Request-Id", requestID)
	}
	if err := c.hc.DoTimeout(req, resp, c.timeout); err != nil {
		return fmt.Errorf("sessions: upstream: %w", err)
	}
	return nil
}

// CloseIdle drops pooled connections (shutdown).
func (c *Client) CloseIdle() { c.hc.CloseIdleConnections() }
