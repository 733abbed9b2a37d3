// Package pipeline is the check routes' request path, in one place and in
// order. Serve reads top to bottom: the admission steps every billed API
// shares (gateway/admission) around the check's own work. A route is
// served in the aggregator's dialect on its path and, when it has an
// Action, in the Tencent Cloud API 3.0 dialect (ServeTencent): the same
// steps, with the dialect's authentication, body and answers at the edge.
//
//	1–2  authenticate, rate-limit                   admission
//	3    Idempotency-Key                            admission
//	     decode and validate locally                validate.go
//	     cache lookup                               cache.go
//	     seal towards the upstream                  (the route's FieldCrypto)
//	4    reserve a unit of the daily quotas         admission
//	5    the call's intent, durable                 admission → ledger
//	     forward (retries, breaker, flight)         the Forwarder
//	6    classify with the route's billing table    classify.go
//	7    commit or release the unit                 admission
//	8    record in the ledger (durable), respond    admission → ledger
package pipeline

import (
	"bytes"
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/upstream"
)

// Forwarder sends a request upstream: retries, the circuit breaker and
// the flight of identical misses wrap the upstream client behind it. An
// error means no HTTP answer.
type Forwarder interface {
	Forward(r *upstream.Request, resp *fasthttp.Response) error
}

// FieldCrypto is a route's handling of the sensitive-field encryption
// object beyond forwarding it untouched (gateway/encryption: terminate and
// encrypt-upstream; nil is passthrough). Plaintext it opens stays in memory.
type FieldCrypto interface {
	// Open decrypts an encrypted request in place and returns the
	// client's session (nil: req was plaintext). Errors are the codec's,
	// answered through fieldcrypto.Rejection.
	Open(req *contracts.CheckRequest) (*fieldcrypto.Session, error)
	// SealUpstream returns the body to forward (nil: the body as received)
	// and the session the upstream's answer opens with.
	SealUpstream(req *contracts.CheckRequest, client *fieldcrypto.Session) ([]byte, *fieldcrypto.Session, error)
	// Answer writes a local verdict for the client (sealed when it encrypted).
	Answer(dst []byte, resp contracts.CheckResponse, req *contracts.CheckRequest, client *fieldcrypto.Session) ([]byte, error)
	// Reseal turns the upstream's 200 body into the client's.
	Reseal(dst, upstreamBody []byte, req *contracts.CheckRequest, up, client *fieldcrypto.Session) ([]byte, error)
}

// Route is one served API with its billing table.
type Route struct {
	Name            string
	Path            string
	UpstreamPath    string
	ForwardPrefer   bool
	LocalValidation bool
	Local           billing.LocalAnswers
	Billing         *billing.Table
	// Crypto is the route's encryption mode; nil forwards encrypted
	// requests untouched (passthrough).
	Crypto FieldCrypto
	// Action is the Tencent action that also serves the route ("": none).
	Action string
	// UpstreamAction, when set, calls the upstream in the Tencent dialect
	// with this action (the upstream client translates).
	UpstreamAction string
	// RequireValidity: the route's API needs validity_begin and
	// validity_end (CheckIdNameDate).
	RequireValidity bool
	// actionPath stands for the path in the Idempotency-Key fingerprint
	// of the route's Tencent requests.
	actionPath string
}

// NewRoute builds a Route from config.
func NewRoute(c billing.RouteConfig) (*Route, error) {
	t, err := billing.NewTable(c)
	if err != nil {
		return nil, err
	}
	rt := &Route{
		Name: c.Name, Path: c.Path, UpstreamPath: c.UpstreamPath, ForwardPrefer: c.ForwardPrefer,
		LocalValidation: c.LocalValidation, Local: c.LocalAnswers, Billing: t,
		Action: c.Action, actionPath: "/?Action=" + c.Action,
		RequireValidity: c.Action == tencent.ActionCheckIdNameDate || c.UpstreamAction == tencent.ActionCheckIdNameDate,
	}
	if c.TencentUpstream() {
		rt.UpstreamAction = c.UpstreamAction
	}
	return rt, nil
}

// Pipeline serves the check routes: the admission gate's steps plus the
// check's own. All fields are required but Cache.
type Pipeline struct {
	admission.Gate
	Forward Forwarder
	// MaxBody is the largest accepted body; larger is 400 token_mismatched.
	MaxBody int
	// Cache is the response cache (nil: off).
	Cache Cache
}

// classUnknownRoute labels requests for paths the gateway does not serve.
const classUnknownRoute = "unknown_route"

// Serve runs one request of the aggregator's dialect through the pipeline.
func (p *Pipeline) Serve(ctx *fasthttp.RequestCtx, rt *Route) { p.serve(ctx, rt, nil) }

// ServeTencent runs one request of the route's Tencent action through the
// pipeline: front authenticates it and renders its answers (the
// gateway/tencent Front).
func (p *Pipeline) ServeTencent(ctx *fasthttp.RequestCtx, rt *Route, front admission.Dialect) {
	p.serve(ctx, rt, front)
}

// serve is the pipeline; front is the client's dialect (nil: the
// aggregator's).
func (p *Pipeline) serve(ctx *fasthttp.RequestCtx, rt *Route, front admission.Dialect) {
	x := p.NewExchange(ctx, rt.Name)
	x.Dialect = front
	tc := front != nil
	defer p.End(&x)

	// 1–2. Authenticate the key, take a token from its bucket.
	if !p.AdmitDeferringRate(&x) {
		return
	}
	if rt.ForwardPrefer && x.RepeatedPrefer() {
		p.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, contracts.HeaderPrefer.Refusal())
		return
	}

	// 3. Idempotency-Key: a repeat gets the stored answer (no upstream
	// call, no charge), a concurrent one waits for the first, the same key
	// with another body is a 400.
	idemPath := rt.Path
	if tc {
		idemPath = rt.actionPath
	}
	if !p.Idempotent(&x, idemPath, ctx.Request.Body()) {
		return
	}

	// The decoded request and the upstream call reach the steps through
	// interfaces, so they live on the heap: from a pool, not two fresh
	// allocations a request (they were half the bytes the gateway
	// allocated, and so half of its collections).
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	req := &sc.req

	// Decode and validate locally: what the authority would refuse never
	// costs an upstream call.
	verdict := p.check(ctx, rt, x.Start, req, tc)
	x.IDMasked = maskedID(req)
	switch {
	case verdict.tcErr != nil:
		p.refuseTencent(&x, verdict.tcErr)
		return
	case verdict.errCode != "":
		p.Refuse(&x, billing.LocalReject, verdict.errCode, verdict.reason)
		return
	case verdict.result != "":
		p.answerLocally(&x, rt, req, verdict)
		return
	}

	// Cache lookup: a hit costs no upstream call and is answered before
	// the quota, which counts it only when the tenant's policy says so.
	// The cache sees plaintext requests only, in memory: requests a
	// terminate route opened qualify (a hit is sealed for the client with
	// its own key), fields still encrypted (passthrough) do not. Never
	// with a forwarded Prefer (it picks the simulator's outcome).
	prefer := preferOf(ctx, rt)
	var lookup cache.Lookup
	if p.Cache != nil && req.Encryption == nil && len(prefer) == 0 {
		if p.serveCached(&x, rt, req, verdict.sess, &lookup) {
			return
		}
	}

	// The body goes upstream in the aggregator's form (the upstream
	// client translates it for a Tencent upstream): the client's own
	// bytes, or, from a Tencent client, the decoded request written anew.
	forwardBody := ctx.Request.Body()
	if tc {
		sc.body = contracts.AppendCheckRequest(sc.body[:0], req)
		forwardBody = sc.body
	}
	// A Tencent upstream's body is written from req when req is what goes
	// (no sealing for the upstream), so the upstream client does not read
	// the body again on each attempt.
	var check *contracts.CheckRequest
	if rt.UpstreamAction != "" && rt.Crypto == nil {
		check = req
	}

	// Encryption towards the upstream (terminate, encrypt-upstream): a
	// fresh data key, so the client's never leaves the gateway.
	var upSess *fieldcrypto.Session
	if rt.Crypto != nil {
		sealedBody, sess, err := rt.Crypto.SealUpstream(req, verdict.sess)
		if err != nil {
			p.Log.Error("sealing for the upstream failed", "request_id", x.RequestID, "route", rt.Name, "err", err)
			p.Refuse(&x, billing.LocalReject, contracts.ErrAPIError, "")
			return
		}
		if sealedBody != nil {
			forwardBody, upSess = sealedBody, sess
		}
	}

	// 4. Reserve a unit of the daily quotas (key and tenant).
	if !p.Reserve(&x) {
		return
	}

	// 5. The call's intent, durable before the call: a crash from here on
	// leaves an unknown entry, never an invisible charge.
	if !p.Intend(&x) {
		return
	}

	// Forward. A miss carries its cache key as the flight key: identical
	// concurrent misses share one upstream call.
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	upStart := p.Now()
	ureq := &sc.ureq
	*ureq = upstream.Request{
		Path:      rt.UpstreamPath,
		Body:      forwardBody,
		Prefer:    prefer,
		RequestID: s2b(x.RequestID),
		Route:     rt.Name,
		Start:     upStart,
		FlightKey: lookup.Key,
		Excused:   excused(rt, prefer, req),
		Action:    rt.UpstreamAction,
		Check:     check,
	}
	if upSess != nil {
		// An answer sealed for one upstream session opens with no other:
		// identical sealed requests cannot share a call.
		ureq.FlightKey = ""
	}
	err := p.Forward.Forward(ureq, resp)
	x.UpstreamLatency = p.Now().Sub(upStart)
	x.Attempts = ureq.Attempts
	x.UpstreamID = upstream.AnswerID(resp)
	p.Metrics.ObserveUpstream(rt.Name, x.UpstreamLatency)
	if errors.Is(err, breaker.ErrOpen) {
		// The breaker answers at once: nothing was sent, nothing billed.
		p.Settle(&x, false)
		p.Refuse(&x, billing.CircuitOpen, contracts.ErrServiceUnavailable, "The authority is unavailable; retry later")
		return
	}

	// 6. Classify the answer with the route's billing table.
	ans := classify(rt, resp, err)
	var answerBody []byte
	if !ans.ownError && resp.StatusCode() == fasthttp.StatusOK && (upSess != nil || verdict.sess != nil) {
		if answerBody, err = rt.Crypto.Reseal(nil, resp.Body(), req, upSess, verdict.sess); err != nil {
			ans = answer{class: billing.Unknown, ownError: true, problem: "upstream encrypted answer unreadable"}
		}
	}
	if upSess != nil && resp.StatusCode() == fasthttp.StatusBadRequest && bytes.Contains(resp.Body(), []byte("encryption")) {
		// The upstream could not open what the gateway sealed: the
		// gateway's upstream key is wrong, not the client's request.
		// Passing the 400 on would tell the client its encryption failed.
		ans = answer{class: billing.UpstreamError, ownError: true, problem: "upstream refused the gateway's encryption (check encryption.upstream_keys)"}
	}
	x.Result = ans.result
	if ans.problem != "" {
		// The error's kind only: fasthttp quotes the upstream's bytes in its
		// parse errors, and those bytes are not ours to log.
		p.Log.Warn("upstream answer unusable", "request_id", x.RequestID, "route", rt.Name,
			"tenant", x.Key.Tenant.ID, "status", resp.StatusCode(), "problem", ans.problem, "err", errKind(err))
	}

	// An answer shared from an identical concurrent request's call cost
	// nothing more: class cached (the call's owner is billed). A billed
	// answer of our own call is offered to the cache, unless it went
	// through the flight, whose leader stored it before sharing it.
	countHit := false
	if ureq.Shared && ans.class == billing.Billed {
		ans.class = billing.Cached
		if countHit = p.Cache != nil && p.Cache.CountsQuota(x.Key.Tenant.ID); countHit {
			ans.class = billing.CachedQuota
		}
	} else if ans.class == billing.Billed && lookup.Key != "" && ureq.FlightKey == "" {
		p.storeAnswer(lookup, rt, req, resp.Body(), ans.result, upSess, answerBody != nil)
	}

	// 7. Commit the unit when billed or possibly billed (unknown), release
	// it otherwise.
	p.Settle(&x, ans.class == billing.Billed || ans.class == billing.Unknown || countHit)

	// 8. Record (durable), then respond: the upstream body unchanged (re-sealed for
	// an encrypting client), or the gateway's own api_error for garbage.
	if ans.ownError {
		p.Refuse(&x, ans.class, contracts.ErrAPIError, ans.problem)
		return
	}
	if ra := resp.Header.Peek(fasthttp.HeaderRetryAfter); len(ra) > 0 {
		ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, ra)
	}
	if answerBody != nil {
		p.Finish(&x, ans.class, resp.StatusCode(), "application/json", answerBody)
		return
	}
	p.Finish(&x, ans.class, resp.StatusCode(), b2s(resp.Header.ContentType()), resp.Body())
}

// answerLocally answers a request that validation settled with one of
// the route's result codes (never billed), sealed when the client
// encrypted.
func (p *Pipeline) answerLocally(x *admission.Exchange, rt *Route, req *contracts.CheckRequest, v verdict) {
	x.Result = v.result
	resp := contracts.CheckResponse{Result: contracts.ResultCode(v.result), Description: rt.Billing.Description(v.result)}
	if v.sess == nil {
		p.Finish(x, billing.LocalReject, fasthttp.StatusOK, "application/json", contracts.AppendResponse(nil, resp))
		return
	}
	body, err := rt.Crypto.Answer(nil, resp, req, v.sess)
	if err != nil {
		p.Log.Error("sealing a local answer failed", "request_id", x.RequestID, "route", rt.Name, "err", err)
		p.Refuse(x, billing.LocalReject, contracts.ErrAPIError, "")
		return
	}
	p.Finish(x, billing.LocalReject, fasthttp.StatusOK, "application/json", body)
}

// refuseTencent answers a refusal the Tencent dialect words itself (its
// body decoder's MissingParameter and InvalidParameter), never billed.
func (p *Pipeline) refuseTencent(x *admission.Exchange, e *tencent.Error) {
	p.FinishRendered(x, billing.LocalReject, fasthttp.StatusOK, "application/json", tencent.AppendError(nil, e, x.RequestID))
}

// scratch is one request's heap-bound state, pooled (see Serve).
type scratch struct {
	req  contracts.CheckRequest
	ureq upstream.Request
	// body is the request written anew for the upstream (a Tencent
	// client's); its buffer is kept, wiped, across requests.
	body []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release zeroes sc, so the pool holds no request's data, and returns it.
func (sc *scratch) release() {
	body := sc.body[:cap(sc.body)]
	clear(body)
	*sc = scratch{body: body[:0]}
	scratchPool.Put(sc)
}

// ObserveUnknownRoute counts a request for a path the gateway does not serve.
func (p *Pipeline) ObserveUnknownRoute(d time.Duration) {
	p.Metrics.Observe("", classUnknownRoute, "", d)
}
