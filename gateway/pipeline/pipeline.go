// Package pipeline is the gateway's request path, in one place and in
// order. Serve reads top to bottom:
//
//	authenticate → rate-limit → decode+validate → reserve quota → forward
//	→ classify → commit/release → record → respond
//
// Every step is a small interface declared here and implemented in its own
// package (auth, ratelimit, quota, upstream, billing, ledger, metrics), so
// shared-store implementations slot in without touching the order. Issue 4
// adds an Idempotency-Key step after the rate limit and a cache lookup
// before the quota (resilience.go); retries, the circuit breaker and the
// singleflight of identical misses wrap the Forwarder.
package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/upstream"
)

// Authenticator finds the active key of an Authorization header.
type Authenticator interface {
	Authenticate(authorization []byte) (*auth.Key, bool)
}

// RateLimiter takes one token from a key's bucket.
type RateLimiter interface {
	Allow(keyID string, rate float64, burst int, now time.Time) ratelimit.Decision
}

// Quota reserves, commits and releases daily units.
type Quota interface {
	Reserve(l quota.Limits, now time.Time) (quota.Ticket, quota.Scope)
	Commit(quota.Ticket)
	Release(quota.Ticket)
}

// Forwarder sends a request upstream. An error means no HTTP answer.
type Forwarder interface {
	Forward(r *upstream.Request, resp *fasthttp.Response) error
}

// Ledger records an entry; it may block (backpressure), never drop.
type Ledger interface {
	Record(ledger.Entry) error
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

// Calendar names the quota day.
type Calendar interface {
	Day(now time.Time) string
}

// Metrics observes finished requests and upstream calls.
type Metrics interface {
	Observe(route, class, tenant string, d time.Duration)
	ObserveUpstream(route string, d time.Duration)
}

// Route is one served API with its billing table.
type Route struct {
	Name            string
	Path            string
	UpstreamPath    string
	ForwardPrefer   bool
	LocalValidation bool
	Local           config.LocalAnswers
	Billing         *billing.Table
	// Crypto is the route's encryption mode; nil forwards encrypted
	// requests untouched (passthrough).
	Crypto FieldCrypto
}

// NewRoute builds a Route from config.
func NewRoute(c config.Route) (*Route, error) {
	t, err := billing.NewTable(c)
	if err != nil {
		return nil, err
	}
	return &Route{
		Name: c.Name, Path: c.Path, UpstreamPath: c.UpstreamPath, ForwardPrefer: c.ForwardPrefer,
		LocalValidation: c.LocalValidation, Local: c.LocalAnswers, Billing: t,
	}, nil
}

// Pipeline holds the steps. All fields are required.
type Pipeline struct {
	Auth     Authenticator
	Limits   RateLimiter
	Quota    Quota
	Forward  Forwarder
	Ledger   Ledger
	Calendar Calendar
	Metrics  Metrics
	IDs      *IDs
	Log      *slog.Logger
	// MaxBody is the largest accepted body; larger is 400 token_mismatched.
	MaxBody int
	Now     func() time.Time

	// Issue 4, each optional (nil: off): the response cache and the
	// Idempotency-Key store; IdempotencyWait bounds a duplicate's wait.
	Cache           Cache
	Idempotency     IdempotencyStore
	IdempotencyWait time.Duration
}

// Class names for requests the ledger never sees (not authenticated).
const (
	classUnauthenticated = "unauthenticated"
	classUnknownRoute    = "unknown_route"
)

// Serve runs one request through the pipeline.
func (p *Pipeline) Serve(ctx *fasthttp.RequestCtx, rt *Route) {
	x := exchange{ctx: ctx, route: rt, start: p.Now(), requestID: p.IDs.Next()}
	ctx.Response.Header.SetCanonical(hdrRequestID, s2b(x.requestID))

	// 1. Authenticate. Failures are not recorded in the ledger: there is no
	// tenant to record them against.
	key, ok := p.Auth.Authenticate(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		writeError(ctx, contracts.ErrInvalidToken, "", x.requestID)
		p.Metrics.Observe(rt.Name, classUnauthenticated, "", p.Now().Sub(x.start))
		return
	}
	x.key = key

	// 2. Rate-limit per key.
	d := p.Limits.Allow(key.ID, key.Rate, key.Burst, x.start)
	setRateLimitHeaders(ctx, d)
	if !d.Allowed {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(ceilSeconds(d.RetryAfter)))
		p.refuse(&x, billing.RateLimited, contracts.ErrTooManyRequests, "")
		return
	}

	// 2b. Idempotency-Key: a repeat gets the stored answer (no upstream
	// call, no charge), a concurrent one waits for the first, the same key
	// with another body is a 400 (resilience.go).
	if p.Idempotency != nil && p.idempotent(&x, rt) {
		return
	}
	if x.idemLead {
		// finish settles the record; should it never run (a panic), the
		// duplicates waiting for it are released, not left hanging.
		defer p.abandonUnsettled(&x)
	}

	// The decoded request and the upstream call reach the steps through
	// interfaces, so they live on the heap: from a pool, not two fresh
	// allocations a request (they were half the bytes the gateway
	// allocated, and so half of its collections).
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	req := &sc.req

	// 3. Decode and validate locally: what the authority would refuse never
	// costs an upstream call.
	verdict := p.check(ctx, rt, x.start, req)
	x.idMasked = maskedID(req)
	switch {
	case verdict.errCode != "":
		p.refuse(&x, billing.LocalReject, verdict.errCode, verdict.reason)
		return
	case verdict.result != "":
		x.result = verdict.result
		resp := contracts.CheckResponse{
			Result: contracts.ResultCode(verdict.result), Description: rt.Billing.Description(verdict.result),
		}
		var body []byte
		if verdict.sess != nil {
			var err error
			if body, err = rt.Crypto.Answer(nil, resp, req, verdict.sess); err != nil {
				p.Log.Error("sealing a local answer failed", "request_id", x.requestID, "route", rt.Name, "err", err)
				p.refuse(&x, billing.LocalReject, contracts.ErrAPIError, "")
				return
			}
		} else {
			body = contracts.AppendResponse(nil, resp)
		}
		p.finish(&x, billing.LocalReject, fasthttp.StatusOK, "application/json", body)
		return
	}

	// 3c. Cache lookup: a hit costs no upstream call and is answered before
	// the quota, which counts it only when the tenant's policy says so.
	// The cache sees plaintext requests only, in memory: requests a
	// terminate route opened qualify (a hit is sealed for the client with
	// its own key), fields still encrypted (passthrough) do not. Never
	// with a forwarded Prefer (it picks the simulator's outcome).
	if p.Cache != nil && req.Encryption == nil && len(preferOf(ctx, rt)) == 0 &&
		p.serveCached(&x, rt, req, verdict.sess) {
		return
	}

	// 3d. Encryption towards the upstream (terminate, encrypt-upstream):
	// a fresh data key, so the client's never leaves the gateway.
	forwardBody := ctx.Request.Body()
	var upSess *fieldcrypto.Session
	if rt.Crypto != nil {
		sealedBody, sess, err := rt.Crypto.SealUpstream(req, verdict.sess)
		if err != nil {
			p.Log.Error("sealing for the upstream failed", "request_id", x.requestID, "route", rt.Name, "err", err)
			p.refuse(&x, billing.LocalReject, contracts.ErrAPIError, "")
			return
		}
		if sealedBody != nil {
			forwardBody, upSess = sealedBody, sess
		}
	}

	// 4. Reserve a unit of the daily quotas (key and tenant).
	ticket, scope := p.Quota.Reserve(quota.Limits{
		TenantID: key.Tenant.ID, TenantQuota: key.Tenant.DailyQuota, KeyID: key.ID, KeyQuota: key.DailyQuota,
	}, x.start)
	if scope != quota.ScopeNone {
		p.refuse(&x, billing.QuotaExceeded, contracts.ErrUsedUp, "The daily verification quota of this "+string(scope)+" is used up")
		return
	}

	// (A miss carries its cache key as the flight key: identical
	// concurrent misses share one upstream call, see step 6b.)

	// 5. Forward.
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	upStart := p.Now()
	ureq := &sc.ureq
	*ureq = upstream.Request{
		Path:      rt.UpstreamPath,
		Body:      forwardBody,
		Prefer:    preferOf(ctx, rt),
		RequestID: s2b(x.requestID),
		Route:     rt.Name,
		Start:     upStart,
		FlightKey: x.lookup.Key,
		Excused:   excused(ctx, rt, req),
	}
	if upSess != nil {
		// An answer sealed for one upstream session opens with no other:
		// identical sealed requests cannot share a call.
		ureq.FlightKey = ""
	}
	err := p.Forward.Forward(ureq, resp)
	x.upstreamLatency = p.Now().Sub(upStart)
	x.attempts = ureq.Attempts
	p.Metrics.ObserveUpstream(rt.Name, x.upstreamLatency)
	if errors.Is(err, breaker.ErrOpen) {
		// The breaker answers at once: nothing was sent, nothing billed.
		p.Quota.Release(ticket)
		p.refuse(&x, billing.CircuitOpen, contracts.ErrServiceUnavailable, "The authority is unavailable; retry later")
		return
	}

	// 6. Classify the answer with the route's billing table.
	ans := classify(rt, resp, err)
	var answerBody []byte
	if !ans.ownError && resp.StatusCode() == fasthttp.StatusOK && (upSess != nil || verdict.sess != nil) {
		if answerBody, err = rt.Crypto.Reseal(nil, resp.Body(), req, upSess, verdict.sess); err != nil {
			ans = answer{class: billing.UpstreamError, ownError: true, problem: "upstream encrypted answer unreadable"}
		}
	}
	if upSess != nil && resp.StatusCode() == fasthttp.StatusBadRequest && bytes.Contains(resp.Body(), []byte("encryption")) {
		// The upstream could not open what the gateway sealed: the
		// gateway's upstream key is wrong, not the client's request.
		// Passing the 400 on would tell the client its encryption failed.
		ans = answer{class: billing.UpstreamError, ownError: true, problem: "upstream refused the gateway's encryption (check encryption.upstream_keys)"}
	}
	x.result = ans.result
	if ans.problem != "" {
		// The error's kind only: fasthttp quotes the upstream's bytes in its
		// parse errors, and those bytes are not ours to log.
		p.Log.Warn("upstream answer unusable", "request_id", x.requestID, "route", rt.Name,
			"tenant", key.Tenant.ID, "status", resp.StatusCode(), "problem", ans.problem, "err", errKind(err))
	}

	// 6b. An answer shared from an identical concurrent request's call
	// cost nothing more: class cached (the call's owner is billed). A
	// billed answer of our own call is offered to the cache, unless it went
	// through the flight, whose leader stored it before sharing it.
	countHit := false
	if ureq.Shared && ans.class == billing.Billed {
		ans.class = billing.Cached
		if countHit = p.Cache != nil && p.Cache.CountsQuota(key.Tenant.ID); countHit {
			ans.class = billing.CachedQuota
		}
	} else if ans.class == billing.Billed && x.lookup.Key != "" && ureq.FlightKey == "" {
		cached, perr := resp.Body(), error(nil)
		if answerBody != nil {
			// The cache keeps the plain answer (result, description), never
			// fields sealed for one data key.
			cached, perr = rt.Crypto.Reseal(nil, resp.Body(), req, upSess, nil)
		}
		if perr == nil {
			p.Cache.Put(x.lookup, rt.Name, ans.result, cached)
		}
	}

	// 7. Commit the unit when billed, release it otherwise.
	if ans.class == billing.Billed || countHit {
		p.Quota.Commit(ticket)
	} else {
		p.Quota.Release(ticket)
	}

	// 8–9. Record, then respond: the upstream body unchanged, or the
	// gateway's own api_error for garbage.
	if ans.ownError {
		p.refuse(&x, billing.UpstreamError, contracts.ErrAPIError, ans.problem)
		return
	}
	if ra := resp.Header.Peek(fasthttp.HeaderRetryAfter); len(ra) > 0 {
		ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, ra)
	}
	if answerBody != nil {
		p.finish(&x, ans.class, resp.StatusCode(), "application/json", answerBody)
		return
	}
	p.finish(&x, ans.class, resp.StatusCode(), b2s(resp.Header.ContentType()), resp.Body())
}

// exchange is the state of one request as it moves down the pipeline.
type exchange struct {
	ctx             *fasthttp.RequestCtx
	route           *Route
	start           time.Time
	requestID       string
	key             *auth.Key
	result          string
	idMasked        string
	upstreamLatency time.Duration
	// Issue 4: upstream calls made, the cache key of a cacheable request,
	// and the Idempotency-Key record this request leads.
	attempts int
	lookup   cache.Lookup
	idem     idempotency.Claim
	idemLead bool
}

// refuse answers with one of the contract's errors and records it.
func (p *Pipeline) refuse(x *exchange, class billing.Class, code contracts.ErrorCode, message string) {
	body := contracts.AppendError(nil, contracts.NewError(code, message, x.requestID))
	p.finish(x, class, code.Status(), "application/json", body)
}

// finish records the ledger entry, then writes the response.
func (p *Pipeline) finish(x *exchange, class billing.Class, status int, contentType string, body []byte) {
	p.settleIdempotency(x, class, status, contentType, body)
	err := p.Ledger.Record(ledger.Entry{
		Time: x.start, Day: p.Calendar.Day(x.start), RequestID: x.requestID,
		Tenant: x.key.Tenant.ID, KeyID: x.key.ID, Route: x.route.Name,
		Result: x.result, Class: string(class), Billed: class == billing.Billed,
		HTTPStatus: status, UpstreamLatency: x.upstreamLatency, IDMasked: x.idMasked,
		Attempts: x.attempts,
	})
	if err != nil {
		// Only after shutdown began; the listener is closed by then, so this
		// is a request that slipped in at the edge. Say so loudly.
		p.Log.Error("ledger entry not recorded", "request_id", x.requestID, "tenant", x.key.Tenant.ID, "class", class, "err", err)
	}
	x.ctx.SetStatusCode(status)
	if contentType == "" {
		contentType = "application/json"
	}
	x.ctx.SetContentType(contentType)
	x.ctx.SetBody(body)
	p.Metrics.Observe(x.route.Name, string(class), x.key.Tenant.ID, p.Now().Sub(x.start))
}

// verdict of local validation: at most one of errCode and result is set.
type verdict struct {
	errCode contracts.ErrorCode
	reason  string
	result  string
	// sess is the client's data key when the route opened its encrypted
	// request (the answer is sealed with it).
	sess *fieldcrypto.Session
}

// check decodes the body into req, which must be zero on entry, and
// validates it. req stays zero when the body was refused before it was
// read (content type, size, syntax, decryption).
func (p *Pipeline) check(ctx *fasthttp.RequestCtx, rt *Route, now time.Time, req *contracts.CheckRequest) verdict {
	if ct := ctx.Request.Header.ContentType(); !contracts.IsJSONContentType(b2s(ct)) {
		return verdict{errCode: contracts.ErrTokenMismatched, reason: "content type must be application/json"}
	}
	body := ctx.Request.Body()
	if len(body) > p.MaxBody {
		return verdict{errCode: contracts.ErrTokenMismatched, reason: "request body exceeds " + strconv.Itoa(p.MaxBody) + " bytes"}
	}
	decoded, err := contracts.DecodeCheckRequestNoCopy(body)
	if err != nil {
		return verdict{errCode: contracts.ErrTokenMismatched, reason: err.Error()}
	}
	*req = decoded
	var sess *fieldcrypto.Session
	if rt.Crypto != nil {
		if sess, err = rt.Crypto.Open(req); err != nil {
			*req = contracts.CheckRequest{}
			// One answer for every decrypt failure (no padding oracle).
			rej := fieldcrypto.Rejection(err)
			return verdict{errCode: rej.Error, reason: rej.Reason}
		}
	}
	if req.Encryption != nil || !rt.LocalValidation {
		// Fields still encrypted can only be read by the authority; it
		// validates them.
		if req.Encryption == nil && (req.Name == "" || req.IDCard == "") {
			return verdict{errCode: contracts.ErrTokenMismatched, reason: "missing required field", sess: sess}
		}
		return verdict{sess: sess}
	}
	// For CBC, a -2/-3 about a decrypted field is answered as the decrypt
	// failure: otherwise it tells a padding oracle the padding was right.
	rej := sess.MaskRejection(contracts.Validate(req, now))
	if rej == nil {
		return verdict{sess: sess}
	}
	var local string
	switch {
	case rej.Result == contracts.ResultIllegalID:
		local = rt.Local.IllegalID
	case rej.Result == contracts.ResultIllegalName:
		local = rt.Local.IllegalName
	case rej.Error != "" && req.Name != "" && req.IDCard != "":
		// Both fields present, so the refusal is about the validity period.
		local = rt.Local.IllegalValidity
	}
	if local != "" {
		return verdict{result: local, sess: sess}
	}
	code := rej.Error
	if code == "" {
		code = contracts.ErrTokenMismatched
	}
	return verdict{errCode: code, reason: rej.Reason, sess: sess}
}

// scratch is one request's heap-bound state, pooled (see Serve).
type scratch struct {
	req  contracts.CheckRequest
	ureq upstream.Request
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release zeroes sc, so the pool holds no request's data, and returns it.
func (sc *scratch) release() {
	*sc = scratch{}
	scratchPool.Put(sc)
}

// maskedID is the only form of the ID number the ledger sees.
func maskedID(req *contracts.CheckRequest) string {
	if req.IDCard == "" {
		return ""
	}
	if req.Encryption != nil {
		for _, f := range req.Encryption.EncryptList {
			if f == "id_card" {
				return "encrypted"
			}
		}
	}
	return idcard.Mask(req.IDCard)
}

// excused reports whether a test chose this request's outcome: only on a
// route that forwards Prefer, which is a route towards the simulator.
func excused(ctx *fasthttp.RequestCtx, rt *Route, req *contracts.CheckRequest) bool {
	if !rt.ForwardPrefer {
		return false
	}
	if len(preferOf(ctx, rt)) > 0 {
		return true
	}
	_, magic := contracts.LookupMagic(req.IDCard)
	return magic
}

func preferOf(ctx *fasthttp.RequestCtx, rt *Route) []byte {
	if !rt.ForwardPrefer {
		return nil
	}
	return ctx.Request.Header.Peek("Prefer")
}

// answer is the classified upstream response.
type answer struct {
	class  billing.Class
	result string
	// ownError: the gateway answers 500 api_error instead of passing the
	// upstream's response on; problem says why (for the log, no body data).
	ownError bool
	problem  string
}

func classify(rt *Route, resp *fasthttp.Response, err error) answer {
	if err != nil {
		return answer{class: billing.UpstreamError, ownError: true, problem: "upstream unavailable"}
	}
	status := resp.StatusCode()
	body := resp.Body()
	switch {
	case status == fasthttp.StatusOK:
		res, ok := upstream.ResultField(body)
		if !ok {
			return answer{class: billing.UpstreamError, ownError: true, problem: "upstream answer unreadable"}
		}
		class, known := rt.Billing.Classify(res)
		if !known {
			return answer{class: billing.UpstreamError, ownError: true, problem: "upstream result code unknown"}
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

// Header names in fasthttp's canonical form, so setting them skips
// normalisation (HTTP header names are case-insensitive on the wire).
var (
	hdrRateLimitLimit     = []byte("Ratelimit-Limit")
	hdrRateLimitRemaining = []byte("Ratelimit-Remaining")
	hdrRateLimitReset     = []byte("Ratelimit-Reset")
	hdrRequestID          = []byte("X-Request-Id")
)

func setRateLimitHeaders(ctx *fasthttp.RequestCtx, d ratelimit.Decision) {
	h := &ctx.Response.Header
	var buf [20]byte // strconv.Itoa would allocate for every value above 99
	h.SetCanonical(hdrRateLimitLimit, strconv.AppendInt(buf[:0], int64(d.Limit), 10))
	h.SetCanonical(hdrRateLimitRemaining, strconv.AppendInt(buf[:0], int64(d.Remaining), 10))
	h.SetCanonical(hdrRateLimitReset, strconv.AppendInt(buf[:0], int64(ceilSeconds(d.Reset)), 10))
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 0 {
		return 0
	}
	return s
}

// WriteError answers with a contract error outside the pipeline (unknown
// routes, oversized bodies rejected by the server).
func WriteError(ctx *fasthttp.RequestCtx, code contracts.ErrorCode, message, requestID string) {
	ctx.Response.Header.Set("X-Request-Id", requestID)
	writeError(ctx, code, message, requestID)
}

func writeError(ctx *fasthttp.RequestCtx, code contracts.ErrorCode, message, requestID string) {
	ctx.SetStatusCode(code.Status())
	ctx.SetContentType("application/json")
	ctx.SetBody(contracts.AppendError(nil, contracts.NewError(code, message, requestID)))
}

// ObserveUnknownRoute counts a request for a path the gateway does not serve.
func (p *Pipeline) ObserveUnknownRoute(d time.Duration) {
	p.Metrics.Observe("", classUnknownRoute, "", d)
}
