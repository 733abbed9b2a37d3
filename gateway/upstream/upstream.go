// Package upstream forwards a check to the authority (or the simulator)
// over a pooled keep-alive fasthttp client, with the gateway's credential.
// The client's own Authorization never leaves the gateway.
package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/deadline"
	"github.com/idgate/idgate/internal/httpurl"
)

// Request is what the pipeline hands to Forward.
type Request struct {
	Path      string
	Body      []byte
	Prefer    []byte // forwarded only when non-empty
	RequestID []byte
	// Route names the gateway route (retry policies are per route).
	Route string
	// Timeout, when positive and shorter, replaces upstream.timeout for
	// this call (the retry deadline's remainder).
	Timeout time.Duration
	// Start, when set, is when the caller began forwarding: the retry
	// deadline counts from it, without a clock read of its own.
	Start time.Time
	// FlightKey, when set, lets identical concurrent requests share one
	// upstream call (the cache's keyed hash; never personal data).
	FlightKey string
	// Excused marks an outcome a test chose on purpose (a forwarded Prefer
	// header, or a magic identity, on a route towards the simulator): its
	// failures say nothing about the upstream's health, so the breaker does
	// not count them. Retries still apply.
	Excused bool
	// Action, when set, sends the request in the Tencent Cloud API 3.0
	// dialect as this action (Body stays in the aggregator's form; the
	// client translates it and the answer, tencent.go).
	Action string
	// Check, with Action, is Body as the caller already read it: the
	// Tencent body is written from it and Body is not read again.
	Check *contracts.CheckRequest
	// Attempts and Shared are filled by the forwarders: the upstream calls
	// made, and whether the answer was another request's (no call of its own).
	Attempts int
	Shared   bool
}

// Client is one upstream's connection pool.
type Client struct {
	hc      *fasthttp.HostClient
	host    string
	scheme  string
	auth    string
	timeout time.Duration
	addr    string
	dialTO  time.Duration
	reqs    sync.Pool // of *fasthttp.Request, see request
	// tc is the Tencent pair (nil: no route's upstream speaks Tencent).
	tc *tencentUpstream
}

// New builds a client from the upstream config (validated at load).
func New(c Config) (*Client, error) {
	hc, u, err := NewHostClient(c, c.MaxResponseBytes)
	if err != nil {
		return nil, err
	}
	return &Client{
		hc: hc, host: u.Host, scheme: u.Scheme, auth: "Bearer " + c.Token.Reveal(),
		timeout: c.Timeout, addr: hc.Addr, dialTO: c.ConnectTimeout, tc: newTencentUpstream(c),
	}, nil
}

// NewHostClient builds a pooled keep-alive connection pool towards the
// upstream: the one place for its address, timeouts, TLS and the rule that
// nothing is ever resent. Callers that must not share a pool (the session
// API) each build their own.
func NewHostClient(c Config, maxResponseBytes int) (*fasthttp.HostClient, *url.URL, error) {
	u, err := httpurl.Parse(c.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream: url: %w", err)
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	dialTO := c.ConnectTimeout
	hc := &fasthttp.HostClient{
		Addr:                addr,
		Name:                "idgate-gateway",
		IsTLS:               u.Scheme == "https",
		MaxConns:            c.MaxConns,
		MaxIdleConnDuration: c.MaxIdleConnDuration,
		// No ReadTimeout/WriteTimeout: every call goes through DoTimeout,
		// whose deadline bounds the write and the read together; the two
		// per-phase timeouts would only add clock reads to every call.
		MaxResponseBodySize: maxResponseBytes,
		// A request waits briefly for a pooled connection instead of
		// failing at once when every connection is busy.
		MaxConnWaitTimeout: c.Timeout,
		Dial: func(a string) (net.Conn, error) {
			c, err := fasthttp.DialTimeout(a, dialTO)
			if err != nil {
				return nil, err
			}
			// Each call moves both deadlines later; armed lazily, they
			// cost nothing per call (gateway/deadline).
			return deadline.Wrap(c), nil
		},
		// POST is not idempotent: never resend a check that may have been
		// billed. The retry policy (gateway/retry) decides retries
		// explicitly, from what the answer proves was not billed.
		RetryIfErr:             func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		DisablePathNormalizing: true,
	}
	if hc.IsTLS {
		hc.TLSConfig = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	return hc, u, nil
}

// Forward sends r and fills resp. An error means no usable HTTP answer
// (connection refused, reset, timeout, malformed HTTP).
func (c *Client) Forward(r *Request, resp *fasthttp.Response) error {
	timeout := c.timeout
	if r.Timeout > 0 && r.Timeout < timeout {
		timeout = r.Timeout
	}
	if r.Attempts == 0 {
		r.Attempts = 1 // without a retry layer, the one call
	}
	if r.Action != "" {
		return c.forwardTencent(r, resp, timeout)
	}
	req := c.request(r.Path)
	defer c.release(req)
	c.build(req, r)
	if err := c.hc.DoTimeout(req, resp, timeout); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}

// request is a request from the pool with the gateway's constant headers
// (method, host, credential, content type, accept) already in place: a
// pooled request keeps them, so each call sets only what varies. Setting
// them afresh (normalising each name, scanning each value) would be a third
// of the cost of composing the request.
func (c *Client) request(path string) *fasthttp.Request {
	if req, ok := c.reqs.Get().(*fasthttp.Request); ok {
		return req
	}
	req := &fasthttp.Request{}
	req.Header.SetMethod(fasthttp.MethodPost)
	uri := req.URI()
	uri.SetScheme(c.scheme)
	uri.SetHost(c.host)
	req.Header.SetHost(c.host)
	req.Header.Set(fasthttp.HeaderAuthorization, c.auth)
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	return req
}

// release returns req to the pool without the body it pointed at (the
// client's request buffer, which fasthttp reuses).
func (c *Client) release(req *fasthttp.Request) {
	req.SetBodyRaw(nil)
	c.reqs.Put(req)
}

var (
	hdrPrefer    = []byte("Prefer")
	hdrRequestID = []byte("X-Request-Id")
)

// build sets what varies per call on a pooled request: only headers the
// gateway chooses, never the client's own.
func (c *Client) build(req *fasthttp.Request, r *Request) {
	req.URI().SetPath(r.Path)
	c.setVarying(req, r)
	req.SetBodyRaw(r.Body)
}

// setVarying sets the per-call headers both dialects send: Prefer (the
// simulator's outcome switch) and the gateway's request id.
func (c *Client) setVarying(req *fasthttp.Request, r *Request) {
	if len(r.Prefer) > 0 {
		req.Header.SetCanonical(hdrPrefer, r.Prefer)
	} else {
		req.Header.DelBytes(hdrPrefer)
	}
	if len(r.RequestID) > 0 {
		req.Header.SetCanonical(hdrRequestID, r.RequestID)
	} else {
		req.Header.DelBytes(hdrRequestID)
	}
}

// Ping reports whether the upstream accepts TCP connections.
func (c *Client) Ping() error {
	conn, err := net.DialTimeout("tcp", c.addr, c.dialTO)
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return conn.Close()
}

// CloseIdle drops pooled connections (shutdown).
func (c *Client) CloseIdle() { c.hc.CloseIdleConnections() }
