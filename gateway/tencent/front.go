// Package tencent is the gateway's Tencent Cloud API 3.0 front (FaceID
// 2018-03-01): clients that speak the dialect call POST / with
// X-TC-Action, sign with a key's Tencent pair (TC3-HMAC-SHA256), and read
// {"Response":{…}} envelopes, always HTTP 200. The request takes the same
// admission path as the check API (gateway/admission, gateway/pipeline):
// Front is the admission.Dialect that authenticates the signature and
// renders the aggregator-form answers in this dialect; Mux is the one
// endpoint, dispatching by action to the handlers the server registers.
package tencent

import (
	"bytes"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	tc "github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
)

// Directory finds the active key of a SecretId (auth.Store).
type Directory interface {
	BySecretID(id string) (*auth.Key, bool)
}

// Front is the Tencent dialect of the admission path. It implements
// admission.Dialect.
type Front struct {
	Dir      Directory
	verifier tc.Verifier
}

var _ admission.Dialect = (*Front)(nil)

var hdrTimestamp = []byte(tc.HeaderTimestamp)

// Authenticate is step 1 in this dialect: the Authorization header must be
// a TC3-HMAC-SHA256 signature by an active key's Tencent pair over this
// request (body, host, content type and the other signed headers) at
// X-TC-Timestamp, within tc.MaxSkew of the request's arrival (the
// exchange's start, so the gate's clock is the one clock). Refusals are
// AuthFailure.InvalidAuthorization (malformed header), SecretIdNotFound
// (unknown SecretId, disabled key or tenant), SignatureExpire and
// SignatureFailure, answered before any quota or ledger step.
func (f *Front) Authenticate(x *admission.Exchange) (*auth.Key, int, []byte) {
	h := &x.Ctx.Request.Header
	var key *auth.Key
	secretKey := func(id string) (string, *tc.Error) {
		k, ok := f.Dir.BySecretID(id)
		if !ok {
			return "", &tc.Error{Code: tc.CodeSecretIDNotFound, Message: "The SecretId is not found, or its key is disabled."}
		}
		key = k
		return k.SecretKey.Reveal(), nil
	}
	// The request line's URI as sent (the mux serves its path "/" only);
	// reading it raw spares parsing the URI, unless it is in absolute
	// form (through a proxy).
	path, query, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	if len(path) == 0 || path[0] != '/' {
		uri := x.Ctx.URI()
		path, query = uri.PathOriginal(), uri.QueryString()
	}
	r := tc.Request{
		Method: b2s(h.Method()), Path: b2s(path), Query: b2s(query),
		Header: func(name string) []byte { return signedHeader(h, name) },
		Body:   x.Ctx.Request.Body(),
	}
	if err := f.verifier.Authenticate(&r, h.Peek(fasthttp.HeaderAuthorization), h.PeekBytes(hdrTimestamp), x.Start, secretKey); err != nil {
		return nil, fasthttp.StatusOK, tc.AppendError(nil, err, x.RequestID)
	}
	return key, 0, nil
}

// signedHeader is a signed header's value as the client sent it (nil:
// absent).
func signedHeader(h *fasthttp.RequestHeader, name string) []byte {
	var v []byte
	switch name {
	case "host":
		v = h.Host()
	case "content-type":
		v = h.ContentType()
	default:
		v = h.Peek(name)
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

// Error renders one of the contract's errors as the dialect's envelope
// (tc.FromContract), HTTP 200 as the dialect always answers.
func (f *Front) Error(code contracts.ErrorCode, message, requestID string) (int, []byte) {
	return fasthttp.StatusOK, tc.AppendError(nil, tc.FromContract(code, message), requestID)
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
