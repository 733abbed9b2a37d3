package sessions

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/billing"
)

// FaceID's session actions (Tencent Cloud API 3.0) are the same sessions
// in another dialect: the three token actions are create, the three
// result actions are the result read, translated by contracts/tencent.
// They take the same admission steps, reserve and settle the same quota
// unit through open and learn, and are billed once per session however
// often, and in whichever dialect, its result is read.

// Ledger and metrics route names of the Tencent actions.
const (
	RouteDetectAuth            = "sessions." + tencent.ActionDetectAuth
	RouteGetDetectInfoEnhanced = "sessions." + tencent.ActionGetDetectInfoEnhanced
	RouteGetEidToken           = "sessions." + tencent.ActionGetEidToken
	RouteGetEidResult          = "sessions." + tencent.ActionGetEidResult
	RouteGetNFCToken           = "sessions." + tencent.ActionGetNFCToken
	RouteGetWxNFCResult        = "sessions." + tencent.ActionGetWxNFCResult
)

// TencentActions returns the handlers of FaceID's session actions keyed by
// their X-TC-Action, for the Tencent dialect's dispatcher (POST /). dialect
// gives the Dialect of a request, called once per request: it
// authenticates it (the TC3 signature) and renders the errors the
// admission steps raise; the actions' own answers and errors are rendered
// here, in FaceID's words, and never as the aggregator's. The dispatcher
// has checked X-TC-Action and X-TC-Version before calling a handler.
func (s *Service) TencentActions(dialect func() admission.Dialect) map[string]fasthttp.RequestHandler {
	return map[string]fasthttp.RequestHandler{
		tencent.ActionDetectAuth: func(ctx *fasthttp.RequestCtx) {
			s.tencentCreate(ctx, dialect(), RouteDetectAuth, func(body []byte) (contracts.CreateSessionRequest, *tencent.Error) {
				r, e := tencent.DecodeDetectAuthRequest(body)
				if e == nil {
					e = s.openIdentity(&r.Name, &r.IdCard, &r.Encryption)
				}
				if e != nil {
					return contracts.CreateSessionRequest{}, e
				}
				return r.Contract()
			}, func(sess *contracts.Session) any { return tencent.DetectAuthAnswer(sess) })
		},
		tencent.ActionGetEidToken: func(ctx *fasthttp.RequestCtx) {
			s.tencentCreate(ctx, dialect(), RouteGetEidToken, func(body []byte) (contracts.CreateSessionRequest, *tencent.Error) {
				r, e := tencent.DecodeGetEidTokenRequest(body)
				if e == nil {
					e = s.openIdentity(&r.Name, &r.IdCard, &r.Encryption)
				}
				if e != nil {
					return contracts.CreateSessionRequest{}, e
				}
				return r.Contract()
			}, func(sess *contracts.Session) any { return tencent.EidTokenAnswer(sess) })
		},
		tencent.ActionGetNFCToken: func(ctx *fasthttp.RequestCtx) {
			s.tencentCreate(ctx, dialect(), RouteGetNFCToken, func(body []byte) (contracts.CreateSessionRequest, *tencent.Error) {
				if e := tencent.DecodeGetNFCTokenRequest(body); e != nil {
					return contracts.CreateSessionRequest{}, e
				}
				return tencent.NFCTokenContract(), nil
			}, func(sess *contracts.Session) any { return tencent.NFCTokenAnswer(sess) })
		},
		tencent.ActionGetDetectInfoEnhanced: func(ctx *fasthttp.RequestCtx) {
			s.tencentResult(ctx, dialect(), RouteGetDetectInfoEnhanced, contracts.FlowNFC, func(body []byte) (string, func(*tencent.SessionRead) (any, *tencent.Error), *tencent.Error) {
				r, e := tencent.DecodeGetDetectInfoEnhancedRequest(body)
				return r.BizToken, func(read *tencent.SessionRead) (any, *tencent.Error) { return read.DetectInfo(&r) }, e
			})
		},
		tencent.ActionGetEidResult: func(ctx *fasthttp.RequestCtx) {
			s.tencentResult(ctx, dialect(), RouteGetEidResult, contracts.FlowAppAuth, func(body []byte) (string, func(*tencent.SessionRead) (any, *tencent.Error), *tencent.Error) {
				r, e := tencent.DecodeGetEidResultRequest(body)
				return r.EidToken, func(read *tencent.SessionRead) (any, *tencent.Error) { return read.EidResult(&r) }, e
			})
		},
		tencent.ActionGetWxNFCResult: func(ctx *fasthttp.RequestCtx) {
			s.tencentResult(ctx, dialect(), RouteGetWxNFCResult, contracts.FlowNFCRead, func(body []byte) (string, func(*tencent.SessionRead) (any, *tencent.Error), *tencent.Error) {
				r, e := tencent.DecodeGetWxNFCResultRequest(body)
				return r.NFCToken, func(read *tencent.SessionRead) (any, *tencent.Error) { return read.WxNFCResult() }, e
			})
		},
	}
}

// openIdentity decrypts a create action's encrypted Name and IdCard in
// place with the gateway's private keys (Deps.Identity), so the session is
// opened with the plaintext identity the aggregator's create takes; it
// stays in memory. Errors are the codec's, in FaceID's codes.
func (s *Service) openIdentity(name, idCard *string, enc **tencent.Encryption) *tencent.Error {
	if *enc == nil {
		return nil
	}
	if s.Identity == nil {
		return tencent.FromContract(contracts.ErrTokenMismatched, fieldcrypto.NotEnabled)
	}
	req := contracts.CheckRequest{Name: *name, IDCard: *idCard, Encryption: (*enc).Contract()}
	if _, err := s.Identity.Open(&req); err != nil {
		r := fieldcrypto.Rejection(err)
		return tencent.FromContract(r.Error, r.Reason)
	}
	*name, *idCard, *enc = req.Name, req.IDCard, nil
	return nil
}

// tencentCreate is create in FaceID's dialect: the same steps (admission
// 1–3, the body read, then open: reserve, forward, remember), with the
// action's body translated to the aggregator's create and the created
// session answered as the action's Response. Refused requests take no
// quota unit and are never forwarded.
func (s *Service) tencentCreate(ctx *fasthttp.RequestCtx, d admission.Dialect, route string,
	decode func([]byte) (contracts.CreateSessionRequest, *tencent.Error), answer func(*contracts.Session) any) {
	x := s.NewExchange(ctx, route)
	x.Dialect = d
	defer s.End(&x)
	body := ctx.Request.Body()
	// The action is part of the fingerprint: one Idempotency-Key reused
	// for another action (or the aggregator's create) is a mismatch.
	if !s.Admit(&x) || !s.Idempotent(&x, "tencent:"+route, body) || !s.tencentBodyWithin(&x, body) {
		return
	}
	req, e := decode(body)
	if e != nil {
		s.refuseTencent(&x, billing.LocalReject, e)
		return
	}
	if req.IDCard != "" {
		x.IDMasked = idcard.Mask(req.IDCard)
	}
	fwd, err := json.Marshal(req)
	if err != nil {
		s.refuseTencent(&x, billing.LocalReject, &tencent.Error{Code: tencent.CodeInvalidParameter, Message: "The request cannot be re-encoded."})
		return
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	sess, ok := s.open(&x, fwd, "", resp)
	if !ok {
		return
	}
	s.answerTencent(&x, billing.NotBilled, answer(&sess))
}

// tencentResult is the result read in FaceID's dialect: the token is the
// session's request ID, scoped to the tenant like every session read (an
// unknown or another tenant's token is BizTokenIllegal, never forwarded);
// a 200 result settles the session's unit through learn, exactly as a
// result poll does.
func (s *Service) tencentResult(ctx *fasthttp.RequestCtx, d admission.Dialect, route string, flow contracts.SessionFlow,
	decode func([]byte) (token string, render func(*tencent.SessionRead) (any, *tencent.Error), e *tencent.Error)) {
	x := s.NewExchange(ctx, route)
	x.Dialect = d
	defer s.End(&x)
	body := ctx.Request.Body()
	if !s.Admit(&x) || !s.tencentBodyWithin(&x, body) {
		return
	}
	token, render, e := decode(body)
	if e != nil {
		s.refuseTencent(&x, billing.LocalReject, e)
		return
	}
	t, err := s.lookup(x.Key.Tenant.ID, token)
	if err != nil {
		s.storeUnavailable(&x)
		return
	}
	if t == nil {
		s.refuseTencent(&x, billing.LocalReject, &tencent.Error{Code: tencent.CodeBizTokenIllegal, Message: "The token is unknown."})
		return
	}
	x.IDMasked = t.rec.IDMasked
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if !s.forward(&x, fasthttp.MethodGet, contracts.SessionPath(token)+"/result", nil, resp) {
		return
	}
	status := resp.StatusCode()
	if status == fasthttp.StatusOK {
		s.learn(&x, t, resp.Body())
	}
	if status == fasthttp.StatusConflict && !s.sessionOfFlow(&x, token, flow) {
		// A token of another action, read before its session ends: what
		// the finished result would say (its flow is not this action's).
		s.refuseTencent(&x, billing.LocalReject, &tencent.Error{Code: tencent.CodeBizTokenIllegal, Message: "The token belongs to another action."})
		return
	}
	class := pollClass(status)
	read, err := tencent.ParseSessionRead(status, resp.Body())
	if err != nil {
		s.Log.Warn("upstream session result unreadable", "request_id", x.RequestID, "route", x.Route, "tenant", x.Key.Tenant.ID, "status", status)
		s.Refuse(&x, billing.UpstreamError, contracts.ErrAPIError, "upstream answer unreadable")
		return
	}
	v, e := render(&read)
	if e != nil {
		s.refuseTencent(&x, class, e)
		return
	}
	s.answerTencent(&x, class, v)
}

// sessionOfFlow reports whether the upstream session token is of flow. The
// gateway's records do not keep the flow, so an unfinished session's is
// read from the upstream's status (free, like every session read); when
// that read fails the answer stays the result's.
func (s *Service) sessionOfFlow(x *admission.Exchange, token string, flow contracts.SessionFlow) bool {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := s.Upstream.Do(fasthttp.MethodGet, contracts.SessionPath(token), nil, nil, []byte(x.RequestID), resp); err != nil || resp.StatusCode() != fasthttp.StatusOK {
		return true
	}
	var sess contracts.Session
	if json.Unmarshal(resp.Body(), &sess) != nil || sess.Flow == "" {
		return true
	}
	return sess.Flow == flow
}

// tencentBodyWithin bounds every action's body as the session routes'
// bodies are (Deps.MaxBody), before it is decoded: a larger one is
// refused with RequestSizeLimitExceeded and false.
func (s *Service) tencentBodyWithin(x *admission.Exchange, body []byte) bool {
	if len(body) <= s.MaxBody {
		return true
	}
	s.refuseTencent(x, billing.LocalReject, &tencent.Error{Code: tencent.CodeRequestSizeLimit, Message: "The request body exceeds " + strconv.Itoa(s.MaxBody) + " bytes."})
	return false
}

// refuseTencent answers with one of FaceID's errors: HTTP 200 and
// {"Response":{"Error":…,"RequestId"}}, RequestId being X-Request-Id.
func (s *Service) refuseTencent(x *admission.Exchange, class billing.Class, e *tencent.Error) {
	s.FinishRendered(x, class, fasthttp.StatusOK, "application/json", tencent.AppendError(nil, e, x.RequestID))
}

// answerTencent answers with an action's Response.
func (s *Service) answerTencent(x *admission.Exchange, class billing.Class, v any) {
	b, err := tencent.AppendResponse(nil, v, x.RequestID)
	if err != nil {
		// The actions' answers are plain structs: not reached.
		s.Log.Error("answer not encodable", "request_id", x.RequestID, "route", x.Route, "err", err)
		s.Refuse(x, billing.UpstreamError, contracts.ErrAPIError, "")
		return
	}
	s.FinishRendered(x, class, fasthttp.StatusOK, "application/json", b)
}
