package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/session"
	"github.com/idgate/idgate/simulator/statement"
)

// The session actions of API 3.0 on the simulator's sessions (the
// translation is contracts/tencent's, as the gateway's): the token an
// action hands out (BizToken, EidToken, NFC Token) is the session's
// request ID, so the phone routes and the QA console drive a session a
// Tencent client opened exactly as one the session API opened.
//
//	DetectAuth     → flow nfc      → GetDetectInfoEnhanced
//	GetEidToken    → flow app_auth → GetEidResult
//	GetNFCToken    → flow nfc_read → GetWxNFCResult
//
// Sessions belong to the SecretId that opened them: another credential's
// token is unknown (BizTokenIllegal), as the session API answers 404.

// sessionAction runs a session action for the credential tok.
func (s *Server) sessionAction(c *fiber.Ctx, tok *tokenState, action string, body []byte, clientID []byte) (any, *tencent.Error) {
	switch action {
	case tencent.ActionDetectAuth:
		r, e := tencent.DecodeDetectAuthRequest(body)
		if e != nil {
			return nil, e
		}
		sess, e := s.identitySession(c, tok, statement.APIDetectAuth, &r.Name, &r.IdCard, &r.Encryption, r.Contract, clientID)
		if e != nil {
			return nil, e
		}
		return tencent.DetectAuthAnswer(&sess), nil
	case tencent.ActionGetEidToken:
		r, e := tencent.DecodeGetEidTokenRequest(body)
		if e != nil {
			return nil, e
		}
		sess, e := s.identitySession(c, tok, statement.APIGetEidToken, &r.Name, &r.IdCard, &r.Encryption, r.Contract, clientID)
		if e != nil {
			return nil, e
		}
		return tencent.EidTokenAnswer(&sess), nil
	case tencent.ActionGetNFCToken:
		if e := tencent.DecodeGetNFCTokenRequest(body); e != nil {
			return nil, e
		}
		sess, e := s.createSession(c, tok, statement.APIGetNFCToken, tencent.NFCTokenContract(), clientID)
		if e != nil {
			return nil, e
		}
		return tencent.NFCTokenAnswer(&sess), nil
	case tencent.ActionGetDetectInfoEnhanced:
		r, e := tencent.DecodeGetDetectInfoEnhancedRequest(body)
		if e != nil {
			return nil, e
		}
		read, e := s.readSession(tok, r.BizToken, contracts.FlowNFC)
		if e != nil {
			return nil, e
		}
		return read.DetectInfo(&r)
	case tencent.ActionGetEidResult:
		r, e := tencent.DecodeGetEidResultRequest(body)
		if e != nil {
			return nil, e
		}
		read, e := s.readSession(tok, r.EidToken, contracts.FlowAppAuth)
		if e != nil {
			return nil, e
		}
		// EidInfo stays null: FaceID returns it only to merchants who
		// applied for the identity in its console, and a gateway in front
		// of the aggregator's sessions has no way to pass one on.
		return read.EidResult(&r)
	case tencent.ActionGetWxNFCResult:
		r, e := tencent.DecodeGetWxNFCResultRequest(body)
		if e != nil {
			return nil, e
		}
		read, e := s.readSession(tok, r.NFCToken, contracts.FlowNFCRead)
		if e != nil {
			return nil, e
		}
		return read.WxNFCResult()
	}
	return nil, &tencent.Error{Code: tencent.CodeInvalidAction, Message: "The action is not supported by this service."}
}

// identitySession creates the session of a create action that may carry
// an expected identity (DetectAuth, GetEidToken): the identity opened when
// sealed, then the action's translation (contract) and the create.
func (s *Server) identitySession(c *fiber.Ctx, tok *tokenState, api statement.API, name, idCard *string, enc **tencent.Encryption,
	contract func() (contracts.CreateSessionRequest, *tencent.Error), clientID []byte) (contracts.Session, *tencent.Error) {
	var e *tencent.Error
	if *name, *idCard, e = s.openIdentity(*name, *idCard, *enc); e != nil {
		return contracts.Session{}, e
	}
	*enc = nil
	req, e := contract()
	if e != nil {
		return contracts.Session{}, e
	}
	return s.createSession(c, tok, api, req, clientID)
}

// openIdentity decrypts a create action's Name and IdCard when the client
// encrypted them, with the check actions' codec and keys; errors are the
// check actions' (tencent.FromContract of the codec's refusal). The
// session keeps the plain values in memory only, as a session created in
// plain would.
func (s *Server) openIdentity(name, idCard string, enc *tencent.Encryption) (string, string, *tencent.Error) {
	if enc == nil {
		return name, idCard, nil
	}
	req := contracts.CheckRequest{Name: name, IDCard: idCard, Encryption: enc.Contract()}
	var a answer
	if s.openEncrypted(&req, &a) == nil {
		return "", "", tencent.FromContract(a.code, a.message)
	}
	return req.Name, req.IDCard, nil
}

// createSession opens a session for tok, planned by the request's Prefer
// header (session keys), the expected identity's session magic and the
// credential's session scenario, as the session API does.
func (s *Server) createSession(c *fiber.Ctx, tok *tokenState, api statement.API, req contracts.CreateSessionRequest, clientID []byte) (contracts.Session, *tencent.Error) {
	sess, err := s.sessions.CreateAs(tok.name, api.String(), string(clientID), req, joinPrefer(c), strings.Clone(c.BaseURL()))
	if err != nil {
		return contracts.Session{}, sessionError(err)
	}
	return sess, nil
}

// joinPrefer is every Prefer header joined by commas.
func joinPrefer(c *fiber.Ctx) string {
	var parts []string
	for _, v := range c.Request().Header.PeekAll(hdrPrefer) {
		parts = append(parts, string(v))
	}
	return strings.Join(parts, ",")
}

// readSession is the result read of tok's session id for a result action
// of flow: a session of another flow is an unknown token for the action.
func (s *Server) readSession(tok *tokenState, id string, flow contracts.SessionFlow) (tencent.SessionRead, *tencent.Error) {
	st, err := s.sessions.Status(tok.name, id)
	if err != nil {
		return sessionRead(err), nil
	}
	if st.Flow != flow {
		return tencent.SessionRead{}, &tencent.Error{Code: tencent.CodeBizTokenIllegal, Message: "The token does not belong to this action's verification flow."}
	}
	res, err := s.sessions.Result(tok.name, id)
	if err != nil {
		return sessionRead(err), nil
	}
	return tencent.SessionRead{Status: http.StatusOK, Result: &res}, nil
}

// sessionRead is a failed result read as the session API would have
// answered it.
func sessionRead(err error) tencent.SessionRead {
	var se *session.Error
	if !errors.As(err, &se) {
		return tencent.SessionRead{Status: http.StatusInternalServerError, Code: contracts.ErrAPIError}
	}
	st := http.StatusInternalServerError
	if info, ok := contracts.LookupSessionError(se.Code); ok {
		st = info.Status
	}
	return tencent.SessionRead{Status: st, Code: se.Code, Message: se.Message}
}

// sessionError is the API 3.0 error of a refused create: the session
// store full is LimitExceeded, a bad parameter InvalidParameterValue (the
// body was well formed; a value was not), the rest as FromContract maps.
func sessionError(err error) *tencent.Error {
	var se *session.Error
	if !errors.As(err, &se) {
		return &tencent.Error{Code: tencent.CodeInternalError, Message: "The verification session could not be created."}
	}
	switch se.Code {
	case contracts.ErrSessionCapacity:
		return &tencent.Error{Code: tencent.CodeLimitExceeded, Message: se.Message}
	case contracts.ErrTokenMismatched:
		return &tencent.Error{Code: tencent.CodeInvalidParameterVal, Message: se.Message}
	}
	return tencent.FromContract(se.Code, se.Message)
}

// sessionEnded puts every session's end on the statement: one line per
// session, under the credential that created it (an API token or a
// SecretId) and the API that created it (sessions, DetectAuth,
// GetEidToken, GetNFCToken), billed as its result says.
func (s *Server) sessionEnded(e session.End) {
	id, ok := statement.SessionID(e.RequestID)
	if !ok {
		return
	}
	api := statement.APISessions
	if e.API != "" {
		if a, ok := statement.ParseAPI(e.API); ok {
			api = a
		}
	}
	s.statement.Record(e.At, s.statement.CredentialByKey(e.Tenant), api, id, []byte(e.ClientRequestID), statement.Session(e.Code, e.Billed))
}
