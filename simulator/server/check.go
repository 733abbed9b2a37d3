package server

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/journal"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/statement"
	"github.com/idgate/idgate/simulator/stats"
)

// Sources of answers decided before outcome.Decide, as the journal records
// them (outcome.Source names the others).
const (
	srcPrefer     = string(outcome.SourcePrefer)
	srcValidation = "validation"
	srcRateLimit  = "rate_limit"
	srcAuth       = "auth"
	srcRouting    = "routing"
)

// encryptionUnsupported answers encrypted requests when encryption.enabled
// is off, in the codec's words (fieldcrypto.ErrNotEnabled).
const encryptionUnsupported = fieldcrypto.NotEnabled

// answer is what the simulator decided for one request.
type answer struct {
	result     int // index in contracts.Results; -1 for an HTTP error or a fault
	status     int // HTTP status of an error answer
	code       contracts.ErrorCode
	message    string
	retryAfter int // seconds, for 429
	fault      fault.Kind
	faultSeed  uint64
	latency    time.Duration
	sim        float64
	hasSim     bool
	source     string
	scenSeq    uint64
	// uncounted answers (errors of the admin API and mounted groups) stay
	// out of the check API's stats, metrics and journal.
	uncounted bool
	// sess is the data key of an encrypted request (whose fields were
	// opened in place); its 200 answer echoes them sealed with it.
	sess *fieldcrypto.Session
	// clientID is the request's X-Request-Id (nil: none), for the
	// statement.
	clientID []byte
	// route is the check the request asked for; result indexes its table.
	route route
	// tc is set for a Tencent Cloud API 3.0 call: the answer is rendered
	// in that dialect.
	tc *tcCall
}

// route is one of the checks, each with its own result table.
type route uint8

const (
	routeCheck2E   route = iota // contracts.CheckPath, IdCardVerification: contracts.Results
	routeCheckDate              // contracts.CheckDatePath, CheckIdNameDate: contracts.DateResults
)

// results is the route's result table.
func (r route) results() []contracts.ResultInfo {
	if r == routeCheckDate {
		return contracts.DateResults
	}
	return contracts.Results
}

// index is the position of a code in the route's table, or -1.
func (r route) index(c contracts.ResultCode) int {
	for i, info := range r.results() {
		if info.Code == c {
			return i
		}
	}
	return -1
}

// checkHeaders are the request headers the check API reads, found in one
// pass over the headers instead of a normalising lookup each.
type checkHeaders struct {
	auth     []byte // the first Authorization (nil: none)
	clientID []byte // the first X-Request-Id (nil: none)
	prefer   bool   // the first Prefer is not empty
}

func readCheckHeaders(h *fasthttp.RequestHeader) checkHeaders {
	var r checkHeaders
	seenPrefer := false
	for k, v := range h.All() {
		switch len(k) {
		case len(hdrAuthorization):
			if r.auth == nil && string(k) == hdrAuthorization {
				r.auth = v[:len(v):len(v)]
			}
		case len(HeaderRequestID):
			if r.clientID == nil && string(k) == HeaderRequestID {
				r.clientID = v[:len(v):len(v)]
			}
		case len(hdrPrefer):
			if !seenPrefer && string(k) == hdrPrefer {
				seenPrefer, r.prefer = true, len(v) > 0
			}
		}
	}
	return r
}

// HeaderTraceID carries the authority's id of a check answer, on every
// answer (errors repeat it as the body's trace_id). The statement lists it
// as request_id.
const HeaderTraceID = "X-Trace-Id"

// HeaderRequestID is the client's own request id (the gateway sends one
// per upstream call); the statement lists it as client_request_id.
const HeaderRequestID = "X-Request-Id"

// Request header names as fasthttp keeps them (normalised).
const (
	hdrAuthorization = "Authorization"
	hdrPrefer        = "Prefer"
)

var (
	headerTraceID    = []byte(HeaderTraceID)
	headerAuth       = []byte(hdrAuthorization)
	jsonContentType  = []byte("application/json")
	applicationJSON  = "application/json"
	resultConsistent = stats.ResultIndex(contracts.ResultConsistent)
	resultMismatch   = stats.ResultIndex(contracts.ResultInconsistent)
)

// simulatorHeaders are the single-valued headers the check API reads.
const simulatorHeaders = contracts.HeaderAuthorization | contracts.HeaderContentType |
	contracts.HeaderContentEncoding | contracts.HeaderPrefer

// check serves POST /identity/idcard/check-2e.
func (s *Server) check(c *fiber.Ctx) error { return s.checkRoute(c, routeCheck2E) }

// checkRoute serves a check route of the aggregator dialect.
func (s *Server) checkRoute(c *fiber.Ctx, rt route) error {
	ctx := c.Context()
	start := time.Now()
	a := answer{result: -1, route: rt}
	hdr := readCheckHeaders(&ctx.Request.Header)
	a.clientID = hdr.clientID
	// A repeated header that decides authentication, parsing or the
	// outcome is refused before the token is even looked at.
	if r := contracts.RepeatedHeaders(ctx.Request.Header.RawHeaders()) & simulatorHeaders; r != 0 {
		a.setError(contracts.ErrTokenMismatched, r.Refusal(), srcValidation)
		s.finish(ctx, nil, nil, &a, start)
		return nil
	}

	tok := s.authenticate(hdr.auth, &a)
	if tok == nil {
		s.finish(ctx, nil, nil, &a, start)
		return nil
	}
	if lim := tok.limiter.Load(); lim != nil && !lim.AllowN(start, 1) {
		a.setError(contracts.ErrTooManyRequests, "", srcRateLimit)
		a.retryAfter = retryAfter(lim, start)
		s.finish(ctx, tok, nil, &a, start)
		return nil
	}
	if ct := ctx.Request.Header.ContentType(); !bytes.Equal(ct, jsonContentType) && !contracts.IsJSONContentType(string(ct)) {
		a.setError(contracts.ErrTokenMismatched, "content-type must be application/json", srcValidation)
		s.finish(ctx, tok, nil, &a, start)
		return nil
	}
	if err := contracts.ContentEncodingError(ctx.Request.Header.ContentEncoding()); err != nil {
		a.setError(contracts.ErrTokenMismatched, err.Error(), srcValidation)
		s.finish(ctx, tok, nil, &a, start)
		return nil
	}
	body := ctx.Request.Body()
	if len(body) > s.cfg.BodyLimit {
		a.setError(contracts.ErrTokenMismatched, s.tooLarge, srcValidation)
		s.finish(ctx, tok, nil, &a, start)
		return nil
	}
	req, err := contracts.DecodeCheckRequest(body)
	if err != nil {
		s.badBody(ctx, tok, err, &a, start)
		return nil
	}
	s.judge(ctx, tok, &req, hdr.prefer, &a, start)
	s.finish(ctx, tok, &req, &a, start)
	return nil
}

// checkDate serves POST /identity/idcard/check-id-name-date: check's
// path with the date route's validation and result table.
func (s *Server) checkDate(c *fiber.Ctx) error {
	return s.checkRoute(c, routeCheckDate)
}

// judge decides the answer of a decoded check request, the one decision
// path of every check in both dialects: it opens encrypted fields (in
// place), applies the route's validation, then the Prefer header, the
// magic identities, the credential's scenario and the daily limit
// (outcome.Decide), and waits the latency decided. a.route says which
// check; a is filled for finish.
func (s *Server) judge(ctx *fasthttp.RequestCtx, tok *tokenState, req *contracts.CheckRequest, preferred bool, a *answer, start time.Time) {
	now := start
	if s.clock != nil {
		now = s.clock()
	}
	if req.Encryption != nil {
		if a.sess = s.openEncrypted(req, a); a.sess == nil {
			return
		}
	}
	var rej *contracts.Rejection
	if a.route == routeCheckDate {
		rej = contracts.ValidateDate(req, now)
	} else {
		rej = contracts.Validate(req, now)
	}
	if a.sess != nil {
		// Refusing a decrypted field as -2/-3 would tell a CBC padding
		// oracle that the padding was right.
		rej = a.sess.MaskRejection(rej)
	}
	if rej != nil {
		if rej.Result != "" {
			a.result, a.source = a.route.index(rej.Result), srcValidation
		} else {
			a.setError(rej.Error, rej.Reason, srcValidation)
		}
		return
	}
	var p outcome.Prefer
	if preferred {
		if err := s.parsePrefer(ctx, &p); err != nil {
			a.setError(contracts.ErrTokenMismatched, err.Error(), srcPrefer)
			return
		}
	}
	s.decide(tok, req, &p, a, now)
	if !p.Empty() {
		var buf [128]byte
		ctx.Response.Header.SetBytesV("Preference-Applied", p.AppendApplied(buf[:0]))
	}
	if a.latency > 0 {
		time.Sleep(a.latency)
	}
}

// openEncrypted decrypts an encrypted request in place. On failure it
// fills a with the error and returns nil.
func (s *Server) openEncrypted(req *contracts.CheckRequest, a *answer) *fieldcrypto.Session {
	if s.crypto == nil {
		a.setError(contracts.ErrTokenMismatched, encryptionUnsupported, srcValidation)
		return nil
	}
	ring, err := s.crypto.keyring()
	if err != nil {
		s.log.Error("simulator: encryption keys unavailable", "error", err)
		a.setError(contracts.ErrAPIError, "", srcValidation)
		return nil
	}
	sess, err := ring.OpenRequest(req)
	if err != nil {
		kind := "error"
		var fe *fieldcrypto.Error
		if errors.As(err, &fe) {
			kind = fe.Kind.String()
		}
		s.metrics.encrypted.WithLabelValues(kind).Inc()
		rej := fieldcrypto.Rejection(err)
		a.setError(rej.Error, rej.Reason, srcValidation)
		return nil
	}
	s.metrics.encrypted.WithLabelValues("opened").Inc()
	return sess
}

func (s *Server) badBody(ctx *fasthttp.RequestCtx, tok *tokenState, err error, a *answer, start time.Time) {
	var re *contracts.RequestError
	msg := "request body is not a valid check request"
	if errors.As(err, &re) {
		msg = re.Reason
	}
	a.setError(contracts.ErrTokenMismatched, msg, srcValidation)
	s.finish(ctx, tok, nil, a, start)
}

func (a *answer) setError(code contracts.ErrorCode, msg, source string) {
	a.result, a.status, a.code, a.message, a.source = -1, code.Status(), code, msg, source
}

// authenticate resolves the bearer token; on failure it fills a with the
// 401 and returns nil.
func (s *Server) authenticate(h []byte, a *answer) *tokenState {
	if len(h) == 0 {
		a.setError(contracts.ErrInvalidToken, "missing authorization token", srcAuth)
		return nil
	}
	secret, ok := contracts.BearerToken(h)
	if !ok {
		a.setError(contracts.ErrInvalidToken, "authorization must be: Bearer <token>", srcAuth)
		return nil
	}
	tok := s.tokens[string(secret)]
	if tok == nil {
		a.setError(contracts.ErrInvalidToken, "", srcAuth)
	}
	return tok
}

// retryAfter is the whole seconds until the token's bucket holds a token
// again, at least 1 (Retry-After cannot say "now").
func retryAfter(lim *rate.Limiter, now time.Time) int {
	missing := 1 - lim.TokensAt(now)
	secs := int(math.Ceil(missing / float64(lim.Limit())))
	if secs < 1 {
		secs = 1
	}
	return secs
}

func (s *Server) parsePrefer(ctx *fasthttp.RequestCtx, p *outcome.Prefer) error {
	for _, h := range ctx.Request.Header.PeekAll(hdrPrefer) {
		if err := outcome.ParsePrefer(p, h); err != nil {
			return err
		}
	}
	if p.HasLatency && p.Latency > s.maxLatency {
		return errors.New("invalid Prefer header: latency above this simulator's max_latency " + s.maxLatency.String())
	}
	return nil
}

// decide applies outcome.Decide to a valid request and fills a.
func (s *Server) decide(tok *tokenState, req *contracts.CheckRequest, p *outcome.Prefer, a *answer, now time.Time) {
	var magic *contracts.MagicIdentity
	if m, ok := contracts.LookupMagic(req.IDCard); ok {
		magic = &m
	}
	var exceeded func() bool
	if s.daily != nil {
		exceeded = func() bool { return !s.daily.Allow(req.IDCard, now) }
	}
	d := outcome.Decide(p, magic, tok.scenario.Load(), exceeded)
	a.source, a.scenSeq, a.latency, a.faultSeed = string(d.Source), d.ScenarioSeq, d.Latency, d.FaultSeed
	switch {
	case d.Fault != fault.None:
		a.fault = d.Fault
	case d.Status != 0:
		a.setError(statusCode(d.Status), "", a.source)
		if d.Status == 429 {
			a.retryAfter = 1
		}
	case a.route == routeCheckDate:
		a.result = a.route.index(contracts.DateResultOf(d.Result))
	default:
		a.result, a.sim, a.hasSim = stats.ResultIndex(d.Result), d.Sim, d.HasSim
	}
}

// statusCode maps an HTTP status a test asked for to the authority's code.
func statusCode(st int) contracts.ErrorCode {
	switch st {
	case 400:
		return contracts.ErrTokenMismatched
	case 401:
		return contracts.ErrInvalidToken
	case 429:
		return contracts.ErrTooManyRequests
	}
	return contracts.ErrAPIError
}

// finish writes the answer (or performs the fault) and counts it, in the
// stats and on the statement. tok is nil for requests that failed
// authentication: they count in the stats' totals only, and are on no
// statement (the authority bills credentials). req is nil when the body
// could not be read.
//
// Stats and statement agree to the unit: both count an answer when it is
// handed to the network, before the client can read it, and both bill
// exactly the 200 answers with a billed result. A client that gives up
// after the verdict (during an injected latency, say) is billed all the
// same, as by the real authority. Faults are decided instead of a verdict,
// so they are never billed.
func (s *Server) finish(ctx *fasthttp.RequestCtx, tok *tokenState, req *contracts.CheckRequest, a *answer, start time.Time) {
	if a.uncounted {
		s.writeError(ctx, a, []byte(newTraceID()))
		return
	}
	id := s.statement.NextID()
	var idBuf [36]byte
	traceID := id.AppendText(idBuf[:0])
	var billing statement.Outcome
	// said names the answer in the per-API stats of every API but
	// check-2e.
	var said string
	switch {
	case a.fault != fault.None:
		if a.faultSeed == 0 && req != nil {
			// Without a scenario, the garbage follows from the input.
			a.faultSeed = inputHash(req)
		}
		s.faults.Inject(ctx, a.fault, a.faultSeed)
		billing, said = statement.Fault(a.fault), a.fault.String()
		s.book.Totals.Fault(a.fault)
		if tok != nil {
			tok.counter.Fault(a.fault)
		}
		s.metrics.faults[a.fault].Inc()
	case a.result >= 0 && a.route == routeCheck2E && a.tc == nil:
		ctx.Response.Header.SetContentTypeBytes(jsonContentType)
		ctx.Response.Header.SetCanonical(headerTraceID, traceID)
		if a.sess != nil && req != nil {
			s.writeSealed(ctx, req, a)
		} else if req != nil && req.ImageURL != "" && (a.result == resultConsistent || a.result == resultMismatch) {
			sim := a.sim
			if !a.hasSim {
				sim = faceSimilarity(req)
			}
			info := contracts.Results[a.result]
			var buf [256]byte
			ctx.Response.SetBody(contracts.AppendResponse(buf[:0], contracts.CheckResponse{Result: info.Code, Description: info.Description, Sim: &sim}))
		} else {
			ctx.Response.SetBodyRaw(s.answers[a.result])
		}
		billing = statement.Result(a.result)
		s.book.Totals.Answer(a.result)
		if tok != nil {
			tok.counter.Answer(a.result)
		}
		s.metrics.results[a.result].Inc()
	case a.result >= 0:
		// The date route in either dialect, or IdCardVerification.
		info := a.route.results()[a.result]
		s.writeResult(ctx, req, a, traceID)
		said = string(info.Code)
		if a.route == routeCheck2E {
			billing = statement.Result(a.result)
			s.book.Totals.Answer(a.result)
			if tok != nil {
				tok.counter.Answer(a.result)
			}
		} else {
			billing = statement.DateResult(a.result)
			s.book.Totals.Other(billing.Billed())
			if tok != nil {
				tok.counter.Other(billing.Billed())
			}
		}
	case a.tc != nil:
		if a.tc.resp != nil {
			s.writeTencentResponse(ctx, a.tc.resp, traceID)
			said = "ok"
		} else {
			e := a.tc.err
			if e == nil {
				e = tencent.FromContract(a.code, a.message)
			}
			s.writeTencentError(ctx, e, traceID)
			billing, said = statement.TencentError(e.Code), e.Code
		}
		s.book.Totals.Other(false)
		if tok != nil {
			tok.counter.Other(false)
		}
	default:
		s.writeError(ctx, a, traceID)
		billing, said = statement.Error(a.code), string(a.code)
		si := stats.StatusIndex(a.status)
		s.book.Totals.Error(si)
		if tok != nil {
			tok.counter.Error(si)
		}
		s.metrics.errors[si].Inc()
	}
	api, label, onStatement := a.api()
	if tok != nil && onStatement {
		at := start
		if s.clock != nil {
			at = s.clock()
		}
		s.statement.Record(at, tok.cred, api, id, a.clientID, billing)
	}
	if label != "" {
		cred := ""
		if tok != nil {
			cred = tok.name
		}
		s.book.CountAPI(cred, label, said, billing.Billed())
		s.metrics.apis.WithLabelValues(label, said).Inc()
	}
	s.metrics.duration.Observe(time.Since(start).Seconds())
	if s.journal.Enabled() {
		s.record(ctx, tok, req, a, start, traceID)
	}
}

// api is where an answer is accounted: its statement API, its name in
// the per-API stats ("" for check-2e, whose answers the top-level stats
// break down), and whether the statement lists it (every answer of a
// check; the calls of session actions are not, the sessions' ends are).
func (a *answer) api() (statement.API, string, bool) {
	switch {
	case a.tc != nil:
		return a.tc.api, a.tc.label(), a.tc.check
	case a.route == routeCheckDate:
		return statement.APICheckDate, "check-id-name-date", true
	}
	return statement.APICheck2E, "", true
}

// sealedEcho seals the fields the client encrypted with its own data key
// and IV, for the answer. Echoing exactly the values received reproduces
// the request's own ciphertexts, so the shared GCM nonce reveals nothing
// new (see fieldcrypto's package doc). ok is false when sealing failed:
// only a field set the session itself produced can reach it, so that is a
// bug, and the answer goes without the echo rather than fail the check.
func (s *Server) sealedEcho(req *contracts.CheckRequest, a *answer) (name, idCard string, enc *contracts.AnswerEncryption, ok bool) {
	sealed, e, err := a.sess.Seal(fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard}, a.sess.Fields())
	if err != nil {
		s.log.Error("simulator: sealing the answer failed", "error", err)
		return "", "", nil, false
	}
	if a.sess.Fields().Has(fieldcrypto.FieldName) {
		name = sealed.Name
	}
	if a.sess.Fields().Has(fieldcrypto.FieldIDCard) {
		idCard = sealed.IDCard
	}
	return name, idCard, contracts.NewAnswerEncryption(e), true
}

// writeSealed answers an encrypted check-2e request: the result, with the
// fields the client encrypted echoed under its own data key and IV.
func (s *Server) writeSealed(ctx *fasthttp.RequestCtx, req *contracts.CheckRequest, a *answer) {
	info := contracts.Results[a.result]
	resp := contracts.CheckResponse{Result: info.Code, Description: info.Description}
	if req.ImageURL != "" && (a.result == resultConsistent || a.result == resultMismatch) {
		sim := a.sim
		if !a.hasSim {
			sim = faceSimilarity(req)
		}
		resp.Sim = &sim
	}
	if name, id, enc, ok := s.sealedEcho(req, a); ok {
		resp.Name, resp.IDCard, resp.Encryption = name, id, enc
	}
	var buf [512]byte
	ctx.Response.SetBody(contracts.AppendResponse(buf[:0], resp))
}

// writeResult answers a result of the date route (aggregator dialect),
// echoing sealed fields to encrypted requests, or of a Tencent check
// action, whose answer has FaceID's members only.
func (s *Server) writeResult(ctx *fasthttp.RequestCtx, req *contracts.CheckRequest, a *answer, traceID []byte) {
	info := a.route.results()[a.result]
	if a.tc != nil {
		setTencentHeaders(ctx, traceID)
		var buf [256]byte
		ctx.Response.SetBody(tencent.AppendCheckResult(buf[:0], string(info.Code), info.Description, string(traceID)))
		return
	}
	var name, idCard string
	var enc *contracts.AnswerEncryption
	if a.sess != nil && req != nil {
		name, idCard, enc, _ = s.sealedEcho(req, a)
	}
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.Response.Header.SetCanonical(headerTraceID, traceID)
	if enc == nil {
		ctx.Response.SetBodyRaw(s.dateAnswers[a.result])
		return
	}
	var buf [512]byte
	ctx.Response.SetBody(contracts.AppendResponse(buf[:0], contracts.CheckResponse{
		Result: info.Code, Description: info.Description, Name: name, IDCard: idCard, Encryption: enc}))
}

// writeError answers with the authority's error body; traceID is the
// answer's id, in the body and in X-Trace-Id.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, a *answer, traceID []byte) {
	ctx.Response.SetStatusCode(a.status)
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.Response.Header.SetCanonical(headerTraceID, traceID)
	if a.retryAfter > 0 {
		ctx.Response.Header.Set(fiber.HeaderRetryAfter, strconv.Itoa(a.retryAfter))
	}
	var buf [512]byte
	ctx.Response.SetBody(contracts.AppendError(buf[:0], contracts.NewError(a.code, a.message, string(traceID))))
}

func (s *Server) record(ctx *fasthttp.RequestCtx, tok *tokenState, req *contracts.CheckRequest, a *answer, start time.Time, traceID []byte) {
	e := journal.Entry{
		Time:        start,
		RequestID:   journal.NewRequestID(traceID),
		Method:      string(ctx.Method()),
		Path:        string(ctx.Path()),
		Source:      a.source,
		ScenarioSeq: a.scenSeq,
	}
	if tok != nil {
		e.Token = tok.name
	}
	if req != nil && req.IDCard != "" {
		e.IDCard = idcard.Mask(req.IDCard)
	}
	if a.latency > 0 {
		e.LatencyMS = float64(a.latency) / float64(time.Millisecond)
	}
	switch {
	case a.fault != fault.None:
		e.Fault = a.fault.String()
	case a.result >= 0:
		e.Status, e.Result = 200, string(a.route.results()[a.result].Code)
	case a.tc != nil && a.tc.resp != nil:
		e.Status = 200
	case a.tc != nil:
		e.Status, e.Error = 200, a.tc.errCode(a)
	default:
		e.Status, e.Error = a.status, string(a.code)
	}
	if a.tc != nil {
		e.Action = a.tc.label()
	}
	s.journal.Add(e)
}

// newTraceID names one error answer of the admin API or a mounted group.
func newTraceID() string { return uuid.NewString() }

// faceSimilarity is the deterministic "comparison" of the request's face
// with the authoritative portrait: a passing score between 80.00 and 99.99
// derived from the input, so the same request always scores the same.
// Lower scores are for tests to ask for (magic identity, Prefer sim=,
// scenario sim).
func faceSimilarity(req *contracts.CheckRequest) float64 {
	h := inputHash(req)
	return 80 + float64(h%2000)/100
}

// inputHash is FNV-1a over the identifying fields.
func inputHash(req *contracts.CheckRequest) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, s := range [...]string{req.Name, req.IDCard, req.ImageURL} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff
		h *= prime
	}
	return h
}

// notImplemented answers every path and method the simulator does not
// serve, as the authority does: 400 api_not_implemented.
func (s *Server) notImplemented(c *fiber.Ctx) error {
	a := answer{result: -1}
	a.setError(contracts.ErrAPINotImplemented, "", srcRouting)
	s.finish(c.Context(), nil, nil, &a, time.Now())
	return nil
}

// fiberError turns errors raised before routing (body too large, header
// too large, read timeout) and unexpected handler errors into the
// authority's error bodies.
func (s *Server) fiberError(c *fiber.Ctx, err error) error {
	a := answer{result: -1}
	var fe *fiber.Error
	code := fiber.StatusInternalServerError
	if errors.As(err, &fe) {
		code = fe.Code
	}
	switch {
	case code == fiber.StatusRequestEntityTooLarge:
		a.setError(contracts.ErrTokenMismatched, s.tooLarge, srcValidation)
	case code == fiber.StatusNotFound || code == fiber.StatusMethodNotAllowed:
		a.setError(contracts.ErrAPINotImplemented, "", srcRouting)
	case code >= 400 && code < 500:
		a.setError(contracts.ErrTokenMismatched, "", srcValidation)
	default:
		s.log.Error("simulator: unexpected handler error", "error", err, "path", string(c.Context().Path()))
		a.setError(contracts.ErrAPIError, "", srcRouting)
	}
	// Errors before routing (no path matched yet) and on the check path
	// are the check API's; the admin API's and mounted groups' are not.
	p := c.Context().Path()
	a.uncounted = code != fiber.StatusRequestEntityTooLarge && code != fiber.StatusRequestHeaderFieldsTooLarge &&
		code != fiber.StatusRequestTimeout && string(p) != contracts.CheckPath
	s.finish(c.Context(), nil, nil, &a, time.Now())
	return nil
}
