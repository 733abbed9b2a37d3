package server

import (
	"bytes"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/statement"
)

// The Tencent Cloud API 3.0 dialect (FaceID 2018-03-01): POST / with
// X-TC-Action, signed TC3-HMAC-SHA256 with a configured SecretId and
// SecretKey. Every answer is HTTP 200 with {"Response":{…,"RequestId"}};
// the RequestId is the answer's id, sent also as X-Tc-Traceid (where
// Tencent's SDKs look) and X-Trace-Id (where the gateway's ledger looks),
// and listed as request_id on the statement. The check actions share the
// aggregator's decision path (judge); the session actions drive the same
// sessions as the aggregator's session API.

// HeaderTencentTraceID carries an API 3.0 answer's RequestId.
const HeaderTencentTraceID = "X-Tc-Traceid"

var headerTencentTraceID = []byte(HeaderTencentTraceID)

// tcCall is one API 3.0 call, as finish renders and accounts it.
type tcCall struct {
	// action is X-TC-Action once it names a served action ("" before).
	action string
	// api is the statement's API of the action; check says the statement
	// lists every answer (check actions), not only sessions' ends.
	api   statement.API
	check bool
	// err is an error only this dialect has (signature, action,
	// parameters); errors of the shared decision path are the
	// aggregator's, translated by tencent.FromContract.
	err *tencent.Error
	// resp is a session action's answer: the Response's members.
	resp any
}

// label names the call's API in the per-API stats, metrics and journal.
func (c *tcCall) label() string {
	if c.action == "" {
		return "unknown"
	}
	return c.action
}

// errCode is the API 3.0 error code of an error answer.
func (c *tcCall) errCode(a *answer) string {
	if c.err != nil {
		return c.err.Code
	}
	return tencent.FromContract(a.code, a.message).Code
}

// actionAPI is the statement API of a served action and whether it is a
// check.
func actionAPI(action string) (statement.API, bool) {
	switch action {
	case tencent.ActionIdCardVerification:
		return statement.APIIdCardVerification, true
	case tencent.ActionCheckIdNameDate:
		return statement.APICheckIdNameDate, true
	case tencent.ActionDetectAuth, tencent.ActionGetDetectInfoEnhanced:
		return statement.APIDetectAuth, false
	case tencent.ActionGetEidToken, tencent.ActionGetEidResult:
		return statement.APIGetEidToken, false
	}
	return statement.APIGetNFCToken, false
}

// tencentAPI serves POST / with X-TC-Action. The request is checked in
// Tencent's order: method, action and version headers, body size,
// content type, Authorization, timestamp, SecretId, signature; then the
// credential's rate limit and the action. A request to / without
// X-TC-Action is not an API 3.0 call and falls through to the catch-all.
func (s *Server) tencentAPI(c *fiber.Ctx) error {
	ctx := c.Context()
	h := &ctx.Request.Header
	action := h.Peek(tencent.HeaderAction)
	if action == nil {
		return c.Next()
	}
	start := time.Now()
	a := answer{result: -1, tc: &tcCall{}}
	if id := h.Peek(HeaderRequestID); id != nil {
		a.clientID = id[:len(id):len(id)]
	}
	refuse := func(tok *tokenState, src, code, msg string) error {
		a.tc.err, a.source = &tencent.Error{Code: code, Message: msg}, src
		s.finish(ctx, tok, nil, &a, start)
		return nil
	}
	if !ctx.IsPost() {
		return refuse(nil, srcRouting, tencent.CodeUnsupportedProtocol, "API 3.0 calls are POST requests to / with a JSON body.")
	}
	if e := tencent.CheckHeaders(action, h.Peek(tencent.HeaderVersion)); e != nil {
		return refuse(nil, srcRouting, e.Code, e.Message)
	}
	a.tc.action = string(action)
	a.tc.api, a.tc.check = actionAPI(a.tc.action)
	body := ctx.Request.Body()
	if len(body) > s.cfg.BodyLimit {
		return refuse(nil, srcValidation, tencent.CodeRequestSizeLimit, "The request body exceeds "+strconv.Itoa(s.cfg.BodyLimit)+" bytes.")
	}
	// A repeated header that decides authentication, parsing or the
	// outcome is refused before the credential is looked at.
	if r := contracts.RepeatedHeaders(h.RawHeaders()) & simulatorHeaders; r != 0 {
		return refuse(nil, srcValidation, tencent.CodeInvalidParameter, r.Refusal())
	}
	if ct := h.ContentType(); !bytes.Equal(ct, jsonContentType) && !contracts.IsJSONContentType(string(ct)) {
		return refuse(nil, srcValidation, tencent.CodeInvalidParameter, "Content-Type must be application/json.")
	}
	if err := contracts.ContentEncodingError(h.ContentEncoding()); err != nil {
		return refuse(nil, srcValidation, tencent.CodeInvalidParameter, err.Error())
	}
	var cred *secretState
	secretKey := func(id string) (string, *tencent.Error) {
		if cred = s.secretIDs[id]; cred == nil {
			return "", &tencent.Error{Code: tencent.CodeSecretIDNotFound, Message: "The SecretId is not found, please ensure that your SecretId is correct."}
		}
		return cred.key, nil
	}
	signed := tencent.Request{
		Method: "POST", Path: "/", Query: string(ctx.URI().QueryString()),
		Header: func(name string) []byte { return h.Peek(name) }, Body: body,
	}
	if e := s.verifier.Authenticate(&signed, h.PeekBytes(headerAuth), h.Peek(tencent.HeaderTimestamp), s.now(), secretKey); e != nil {
		return refuse(nil, srcAuth, e.Code, e.Message)
	}
	tok := cred.tokenState
	if lim := tok.limiter.Load(); lim != nil && !lim.AllowN(start, 1) {
		return refuse(tok, srcRateLimit, tencent.CodeRequestLimitExceeded, "Your request frequency has exceeded the limit.")
	}
	preferred := len(h.Peek(hdrPrefer)) > 0
	switch a.tc.action {
	case tencent.ActionIdCardVerification, tencent.ActionCheckIdNameDate:
		date := a.tc.action == tencent.ActionCheckIdNameDate
		req, e := tencent.DecodeCheckRequest(body, date)
		if e != nil {
			return refuse(tok, srcValidation, e.Code, e.Message)
		}
		if date {
			a.route = routeCheckDate
		} else {
			// Not parameters of IdCardVerification: ignored like any
			// other unknown member.
			req.ValidityBegin, req.ValidityEnd = "", ""
		}
		s.judge(ctx, tok, &req, preferred, &a, start)
		s.finish(ctx, tok, &req, &a, start)
		return nil
	}
	if s.sessions == nil {
		return refuse(tok, srcRouting, tencent.CodeUnsupportedOperation, "This simulator serves no verification sessions.")
	}
	// The check API's Prefer keys (fault=, status=, latency=) apply to
	// session actions too; the session keys (nfc=, review=, …) plan the
	// session a create action opens.
	var p outcome.Prefer
	if preferred {
		if err := s.parsePrefer(ctx, &p); err != nil {
			return refuse(tok, srcPrefer, tencent.CodeInvalidParameter, err.Error())
		}
		if !p.Empty() {
			var buf [128]byte
			ctx.Response.Header.SetBytesV("Preference-Applied", p.AppendApplied(buf[:0]))
		}
	}
	if p.HasLatency && p.Latency > 0 {
		a.latency = p.Latency
		time.Sleep(p.Latency)
	}
	switch {
	case p.Fault != fault.None:
		a.fault, a.source = p.Fault, srcPrefer
	case p.Status != 0:
		a.setError(statusCode(p.Status), "", srcPrefer)
	default:
		a.source = string(outcome.SourceDefault)
		resp, e := s.sessionAction(c, tok, a.tc.action, body, a.clientID)
		if e != nil {
			a.tc.err = e
		} else {
			a.tc.resp = resp
		}
	}
	s.finish(ctx, tok, nil, &a, start)
	return nil
}

// writeTencentError answers with the API 3.0 error envelope.
func (s *Server) writeTencentError(ctx *fasthttp.RequestCtx, e *tencent.Error, requestID []byte) {
	setTencentHeaders(ctx, requestID)
	var buf [512]byte
	ctx.Response.SetBody(tencent.AppendError(buf[:0], e, string(requestID)))
}

// writeTencentResponse answers with v's members in the envelope.
func (s *Server) writeTencentResponse(ctx *fasthttp.RequestCtx, v any, requestID []byte) {
	setTencentHeaders(ctx, requestID)
	var buf [1024]byte
	b, err := tencent.AppendResponse(buf[:0], v, string(requestID))
	if err != nil {
		// Only the simulator's own answer types reach here: a bug.
		s.log.Error("simulator: encoding an API 3.0 answer failed", "error", err)
		b = tencent.AppendError(buf[:0], &tencent.Error{Code: tencent.CodeInternalError, Message: "The answer could not be encoded."}, string(requestID))
	}
	ctx.Response.SetBody(b)
}

func setTencentHeaders(ctx *fasthttp.RequestCtx, requestID []byte) {
	ctx.Response.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.Response.Header.SetCanonical(headerTraceID, requestID)
	ctx.Response.Header.SetCanonical(headerTencentTraceID, requestID)
}
