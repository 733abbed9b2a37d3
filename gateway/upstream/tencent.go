package upstream

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
)

// The Tencent dialect at the upstream boundary: the pipeline, the retry
// policy, the breaker, the cache and the ledger all see the aggregator's
// form. A request whose Action is set is translated on its way out (POST /
// with the FaceID body, X-TC-* headers and a TC3 signature made for this
// attempt) and its answer on its way back (Response.Result → result,
// Response.Error → the aggregator's error and status, Response.RequestId →
// X-Trace-Id, the id AnswerID gives the ledger).

// tencentUpstream is the client's Tencent credential.
type tencentUpstream struct {
	signer *tencent.Signer
	region string
	reqs   sync.Pool // of *fasthttp.Request with the constant headers set
	bufs   sync.Pool // of *[]byte, request bodies
}

var (
	hdrTCAction    = []byte(tencent.HeaderAction)
	hdrTCTimestamp = []byte(tencent.HeaderTimestamp)
	hdrTraceID     = []byte("X-Trace-Id")
)

// errNotTranslated: the gateway could not write the request in the
// upstream's dialect; nothing was sent.
var errNotTranslated = errors.New("upstream: request not translatable to the Tencent dialect")

func newTencentUpstream(c Config) *tencentUpstream {
	t := c.Tencent
	if t.SecretID == "" || t.SecretKey == "" {
		return nil
	}
	return &tencentUpstream{
		signer: &tencent.Signer{SecretID: t.SecretID, SecretKey: t.SecretKey.Reveal(), Service: t.ServiceFor(c.URL)},
		region: t.Region,
	}
}

func (c *Client) tencentRequest() *fasthttp.Request {
	if req, ok := c.tc.reqs.Get().(*fasthttp.Request); ok {
		return req
	}
	req := &fasthttp.Request{}
	req.Header.SetMethod(fasthttp.MethodPost)
	uri := req.URI()
	uri.SetScheme(c.scheme)
	uri.SetHost(c.host)
	uri.SetPath("/")
	req.Header.SetHost(c.host)
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	req.Header.Set(tencent.HeaderVersion, tencent.Version)
	if c.tc.region != "" {
		req.Header.Set(tencent.HeaderRegion, c.tc.region)
	}
	return req
}

// forwardTencent is Forward towards a Tencent-dialect upstream.
func (c *Client) forwardTencent(r *Request, resp *fasthttp.Response, timeout time.Duration) error {
	if c.tc == nil {
		return fmt.Errorf("%w: upstream.tencent has no pair", errNotTranslated) // excluded by config validation
	}
	check := r.Check
	if check == nil {
		decoded, err := contracts.DecodeCheckRequestNoCopy(r.Body)
		if err != nil {
			return fmt.Errorf("%w: %w", errNotTranslated, err)
		}
		check = &decoded
	}
	bp, _ := c.tc.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	body := tencent.AppendCheckRequest((*bp)[:0], check)
	req := c.tencentRequest()
	defer func() {
		req.SetBodyRaw(nil)
		c.tc.reqs.Put(req)
		*bp = body[:0]
		c.tc.bufs.Put(bp)
	}()
	c.setVarying(req, r)
	ts := time.Now().Unix()
	var tsBuf [20]byte
	req.Header.SetCanonical(hdrTCAction, []byte(r.Action))
	req.Header.SetCanonical(hdrTCTimestamp, strconv.AppendInt(tsBuf[:0], ts, 10))
	req.Header.Set(fasthttp.HeaderAuthorization, c.tc.signer.Authorization(c.host, "application/json", body, ts))
	req.SetBodyRaw(body)

	raw := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(raw)
	if err := c.hc.DoTimeout(req, raw, timeout); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	translateAnswer(raw, resp)
	return nil
}

// translateAnswer writes the aggregator form of a Tencent answer into
// resp. An answer that is not the dialect's envelope is passed on as it
// came, so the pipeline judges it as it judges any garbage (a 200 it
// cannot read is unknown, never billed as a verdict).
func translateAnswer(raw, resp *fasthttp.Response) {
	if raw.StatusCode() != fasthttp.StatusOK {
		raw.CopyTo(resp)
		return
	}
	a, err := tencent.DecodeCheckAnswer(raw.Body())
	if err != nil {
		raw.CopyTo(resp)
		return
	}
	status, body := a.ContractAnswer()
	resp.Reset()
	resp.SetStatusCode(status)
	resp.Header.SetContentType("application/json")
	if a.RequestID != "" {
		resp.Header.SetCanonical(hdrTraceID, []byte(a.RequestID))
	}
	if ra := raw.Header.Peek(fasthttp.HeaderRetryAfter); len(ra) > 0 {
		resp.Header.SetBytesV(fasthttp.HeaderRetryAfter, ra)
	}
	resp.SetBody(body)
}
