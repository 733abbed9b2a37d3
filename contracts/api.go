// Package contracts is the authority's check API as both the gateway and the
// simulator speak it: paths, request and response bodies, result codes with
// their billing class, and the HTTP error vocabulary. The OpenAPI document in
// openapi.yaml describes the same contract; a test keeps the two in step.
package contracts

import (
	_ "embed"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

// OpenAPI is the contract as an OpenAPI 3 document.
//
//go:embed openapi.yaml
var OpenAPI []byte

// CheckPath is the two-factor check (name + resident ID number) route.
const CheckPath = "/identity/idcard/check-2e"

// LongTerm is the validity_end value of a card that never expires.
const LongTerm = "00000000"

// CheckRequest is the body of POST CheckPath.
type CheckRequest struct {
	Name          string      `json:"name"`
	IDCard        string      `json:"id_card"`
	ImageURL      string      `json:"image_url,omitempty"`
	ValidityBegin string      `json:"validity_begin,omitempty"`
	ValidityEnd   string      `json:"validity_end,omitempty"`
	Encryption    *Encryption `json:"encryption,omitempty"`
}

// Encryption is the sensitive-field encryption object: which fields are
// encrypted, the data key wrapped for the receiver, the IV, the algorithm
// and, for SM4-GCM, one tag per field.
type Encryption struct {
	EncryptList    []string `json:"encrypt_list"`
	CiphertextBlob string   `json:"ciphertext_blob"`
	IV             string   `json:"iv"`
	Algorithm      string   `json:"algorithm"`
	TagList        []string `json:"tag_list,omitempty"`
}

// CheckResponse is every 200 answer of CheckPath. Result is a string on the
// wire ("0", "-1", ...), exactly as the authority sends it.
type CheckResponse struct {
	Result      ResultCode `json:"result"`
	Description string     `json:"description"`
	// Sim is the face similarity (0-100) when the request carried image_url
	// and the identity was found; FaceThreshold is the pass mark.
	Sim *float64 `json:"sim,omitempty"`
	// Name, IDCard and Encryption are set only in answers to encrypted
	// requests: the sensitive fields the client encrypted, echoed encrypted
	// with the request's own data key and IV. The
	// client already holds key and IV, so the object names the fields and
	// the algorithm (and the GCM tags) but carries no blob or IV.
	Name       string            `json:"name,omitempty"`
	IDCard     string            `json:"id_card,omitempty"`
	Encryption *AnswerEncryption `json:"encryption,omitempty"`
}

// AnswerEncryption describes the encrypted fields of an answer.
type AnswerEncryption struct {
	EncryptList []string `json:"encrypt_list"`
	Algorithm   string   `json:"algorithm"`
	TagList     []string `json:"tag_list,omitempty"`
}

// Object is the answer's description as the encryption object a client
// session opens (ciphertext_blob and iv empty: the session has them).
func (a *AnswerEncryption) Object() *Encryption {
	if a == nil {
		return nil
	}
	return &Encryption{EncryptList: a.EncryptList, Algorithm: a.Algorithm, TagList: a.TagList}
}

// NewAnswerEncryption is the answer's description of a request's (or
// answer's) sealed fields: the object without blob and IV.
func NewAnswerEncryption(e Encryption) *AnswerEncryption {
	return &AnswerEncryption{EncryptList: e.EncryptList, Algorithm: e.Algorithm, TagList: e.TagList}
}

// BodyReadCap is how much of an oversized body a server reads before it
// answers 400 token_mismatched. fasthttp cannot linger after a response, so
// refusing a body it has not read resets the client's upload and the client
// never sees the answer; within the cap it always does. Beyond the cap the
// connection is closed: reading further would let one client pin memory.
const BodyReadCap = 1 << 20

// FaceThreshold is the similarity at or above which a face comparison passes
// (false-accept rate about 1/1,000).
const FaceThreshold = 70.0

// ErrorBody is the body of every non-200 answer.
type ErrorBody struct {
	Success bool        `json:"success"`
	Error   ErrorDetail `json:"error"`
	TraceID string      `json:"trace_id"`
}

// ErrorDetail names the error in the authority's vocabulary.
type ErrorDetail struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// ResultCode is the authority's verdict on a check request.
type ResultCode string

// The result codes of check-2e, in the seed's numbering. The sibling API with
// a validity period numbers them differently; billing is therefore configured
// per route and this table is only check-2e's default.
const (
	ResultConsistent   ResultCode = "0"
	ResultInconsistent ResultCode = "-1"
	ResultIllegalID    ResultCode = "-2"
	ResultIllegalName  ResultCode = "-3"
	ResultDBError      ResultCode = "-4"
	ResultNoRecord     ResultCode = "-5"
	ResultUpgrading    ResultCode = "-6"
	ResultDailyLimit   ResultCode = "-7"
)

// Billing says whether an answer costs money.
type Billing string

const (
	Billed    Billing = "billed"
	NotBilled Billing = "not_billed"
)

// ResultInfo describes one result code.
type ResultInfo struct {
	Code        ResultCode
	Description string
	Billing     Billing
	// Transient codes say the authority could not answer for a passing
	// reason (a database exception, an upgrade): they say nothing about the
	// identity, and asking again shortly may get a real answer, so they are
	// the ones worth retrying (TransientResults). -7, the daily limit, is
	// not transient: it holds until the day ends. None of them is billed,
	// so none is ever cached.
	Transient bool
}

// Results lists every check-2e result code in the seed's order.
var Results = []ResultInfo{
	{ResultConsistent, "Name and ID card number are consistent", Billed, false},
	{ResultInconsistent, "Name and ID card number are inconsistent", Billed, false},
	{ResultIllegalID, "Illegal ID card number (length, check digit, etc. are incorrect)", NotBilled, false},
	{ResultIllegalName, "Illegal name (length, format, etc. are incorrect)", NotBilled, false},
	{ResultDBError, "Document database service exception", NotBilled, true},
	{ResultNoRecord, "No record of this ID card in the document database", NotBilled, false},
	{ResultUpgrading, "The authoritative comparison system is being upgraded, please try again later", NotBilled, true},
	{ResultDailyLimit, "The number of authentications has exceeded the daily limit", NotBilled, false},
}

var resultIndex = func() map[ResultCode]ResultInfo {
	m := make(map[ResultCode]ResultInfo, len(Results))
	for _, r := range Results {
		m[r.Code] = r
	}
	return m
}()

// TransientResults lists the transient codes in Results' order: the
// results a retry policy asks again by default.
func TransientResults() []ResultCode {
	var out []ResultCode
	for _, r := range Results {
		if r.Transient {
			out = append(out, r.Code)
		}
	}
	return out
}

// LookupResult returns the description and billing of a check-2e code.
func LookupResult(c ResultCode) (ResultInfo, bool) {
	r, ok := resultIndex[c]
	return r, ok
}

// ErrorCode is the error vocabulary of non-200 answers.
type ErrorCode string

// The authority's HTTP errors and the ones its SDK knows that the
// gateway uses for its own refusals.
const (
	ErrTokenMismatched   ErrorCode = "token_mismatched"    // 400: missing or invalid parameters
	ErrAPINotImplemented ErrorCode = "api_not_implemented" // 400: unknown or unsupported API
	ErrInvalidToken      ErrorCode = "invalid_token"       // 401: missing or invalid token
	ErrTooManyRequests   ErrorCode = "too_many_requests"   // 429: rate limit exceeded
	ErrAPIError          ErrorCode = "api_error"           // 500: internal server error
	// ErrUsedUp is the gateway's daily-quota refusal. 402 rather than 429:
	// the authority's SDK retries 429 automatically, which would spin on a
	// quota that only resets at midnight.
	ErrUsedUp ErrorCode = "used_up" // 402
	// ErrServiceUnavailable is the gateway's answer while its circuit
	// breaker towards the authority is open.
	ErrServiceUnavailable ErrorCode = "service_unavailable" // 503
)

// ErrorInfo is one HTTP error of the contract.
type ErrorInfo struct {
	Code    ErrorCode
	Status  int
	Message string
	// Authority errors come from the real service; the others only from
	// the gateway.
	Authority bool
}

// Errors lists every error code with its status and default message.
var Errors = []ErrorInfo{
	{ErrTokenMismatched, http.StatusBadRequest, "Bad request, possibly due to missing or invalid parameters", true},
	{ErrAPINotImplemented, http.StatusBadRequest, "Bad request, the API is unknown or not implemented", true},
	{ErrInvalidToken, http.StatusUnauthorized, "Unauthorized, invalid or missing authorization token", true},
	{ErrTooManyRequests, http.StatusTooManyRequests, "Too many requests, you have exceeded the rate limit", true},
	{ErrAPIError, http.StatusInternalServerError, "Internal server error, something went wrong on the server", true},
	{ErrUsedUp, http.StatusPaymentRequired, "The daily verification quota is used up", false},
	{ErrServiceUnavailable, http.StatusServiceUnavailable, "The authority is unavailable, try again later", false},
}

var errorIndex = func() map[ErrorCode]ErrorInfo {
	m := make(map[ErrorCode]ErrorInfo, len(Errors))
	for _, e := range Errors {
		m[e.Code] = e
	}
	return m
}()

// LookupError returns the status and default message of an error code.
func LookupError(c ErrorCode) (ErrorInfo, bool) {
	e, ok := errorIndex[c]
	return e, ok
}

// Status is the HTTP status of an error code (500 for an unknown one).
func (c ErrorCode) Status() int {
	if e, ok := errorIndex[c]; ok {
		return e.Status
	}
	return http.StatusInternalServerError
}

// NewError builds an error body; an empty message takes the default.
func NewError(code ErrorCode, message, traceID string) ErrorBody {
	if message == "" {
		if e, ok := errorIndex[code]; ok {
			message = e.Message
		}
	}
	return ErrorBody{Success: false, Error: ErrorDetail{Code: code, Message: message}, TraceID: traceID}
}

// AppendResponse appends the JSON of a check answer to dst. It is the hot
// path of both programs, so it avoids reflection; descriptions are static
// ASCII/UTF-8 text without characters that need escaping beyond quotes.
func AppendResponse(dst []byte, r CheckResponse) []byte {
	dst = append(dst, `{"result":`...)
	dst = AppendJSONString(dst, string(r.Result))
	dst = append(dst, `,"description":`...)
	dst = AppendJSONString(dst, r.Description)
	if r.Sim != nil {
		dst = append(dst, `,"sim":`...)
		// encoding/json writes floats in [1e-6, 1e21) as strconv's shortest
		// 'f' form; a similarity is always in that range (or 0).
		if v := *r.Sim; v == 0 || (math.Abs(v) >= 1e-6 && math.Abs(v) < 1e21) {
			dst = strconv.AppendFloat(dst, v, 'f', -1, 64)
		} else {
			b, _ := json.Marshal(v)
			dst = append(dst, b...)
		}
	}
	if r.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = AppendJSONString(dst, r.Name)
	}
	if r.IDCard != "" {
		dst = append(dst, `,"id_card":`...)
		dst = AppendJSONString(dst, r.IDCard)
	}
	if e := r.Encryption; e != nil {
		dst = appendEncryption(dst, e.EncryptList, e.Algorithm, e.TagList, nil, nil)
	}
	return append(dst, '}')
}

func appendJSONStrings(dst []byte, list []string) []byte {
	if list == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, s)
	}
	return append(dst, ']')
}

// AppendError appends the JSON of an error body to dst.
func AppendError(dst []byte, e ErrorBody) []byte {
	dst = append(dst, `{"success":false,"error":{"code":`...)
	dst = AppendJSONString(dst, string(e.Error.Code))
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, e.Error.Message)
	dst = append(dst, `},"trace_id":`...)
	dst = AppendJSONString(dst, e.TraceID)
	return append(dst, '}')
}
