package tencent

import (
	"strings"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// Error is an API 3.0 error: answered HTTP 200 with
// {"Response":{"Error":{"Code","Message"},"RequestId"}}.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The error codes this dialect answers: Tencent Cloud's common codes and
// FaceID's own (tencentcloud-sdk-go faceid/v20180301/errors.go).
const (
	CodeInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	CodeSecretIDNotFound     = "AuthFailure.SecretIdNotFound"
	CodeSignatureExpire      = "AuthFailure.SignatureExpire"
	CodeSignatureFailure     = "AuthFailure.SignatureFailure"
	CodeInvalidAction        = "InvalidAction"
	CodeNoSuchVersion        = "NoSuchVersion"
	CodeMissingParameter     = "MissingParameter"
	CodeInvalidParameter     = "InvalidParameter"
	CodeInvalidParameterVal  = "InvalidParameterValue"
	CodeUnsupportedProtocol  = "UnsupportedProtocol"
	CodeRequestSizeLimit     = "RequestSizeLimitExceeded"
	CodeRequestLimitExceeded = "RequestLimitExceeded"
	CodeLimitExceeded        = "LimitExceeded"
	CodeInternalError        = "InternalError"
	CodeResourceUnavailable  = "ResourceUnavailable"
	CodeUnsupportedOperation = "UnsupportedOperation"
	// FaceID's own.
	CodeDecryptSystemError     = "FailedOperation.DecryptSystemError"
	CodeUnsupportEncryptField  = "InvalidParameter.UnsupportEncryptField"
	CodeBizTokenExpired        = "InvalidParameterValue.BizTokenExpired"
	CodeBizTokenIllegal        = "InvalidParameterValue.BizTokenIllegal"
	CodeRuleIDNotExist         = "InvalidParameterValue.RuleIdNotExist"
	CodeFailedOperationUnknown = "FailedOperation.UnKnown"
)

func errInvalidAuthorization(msg string) *Error {
	return &Error{Code: CodeInvalidAuthorization, Message: msg}
}

// ErrorMapping is one aggregator error with its API 3.0 equivalent.
type ErrorMapping struct {
	Aggregator contracts.ErrorCode
	Tencent    string
}

// ErrorMappings maps every error of the aggregator dialect to its API 3.0
// equivalent: what a Tencent-dialect client gets where an aggregator
// client would get the other. The README documents the table side by side.
var ErrorMappings = []ErrorMapping{
	{contracts.ErrTokenMismatched, CodeInvalidParameter},
	{contracts.ErrAPINotImplemented, CodeInvalidAction},
	{contracts.ErrInvalidToken, CodeInvalidAuthorization},
	{contracts.ErrTooManyRequests, CodeRequestLimitExceeded},
	{contracts.ErrAPIError, CodeInternalError},
	{contracts.ErrUsedUp, CodeLimitExceeded},
	{contracts.ErrServiceUnavailable, CodeResourceUnavailable},
}

// FromContract is the API 3.0 error of an aggregator error. The
// sensitive-field codec's refusals (400 token_mismatched with the codec's
// messages, contracts/fieldcrypto) become FaceID's own: a field that may
// not be encrypted is InvalidParameter.UnsupportEncryptField, a decrypt
// failure FailedOperation.DecryptSystemError, encryption on a route
// without keys UnsupportedOperation, any other malformed encryption
// object InvalidParameterValue.
func FromContract(code contracts.ErrorCode, message string) *Error {
	if message == "" {
		if info, ok := contracts.LookupError(code); ok {
			message = info.Message
		}
	}
	if code == contracts.ErrTokenMismatched {
		switch {
		case strings.Contains(message, "unsupported field to encrypt"):
			return &Error{Code: CodeUnsupportEncryptField, Message: message}
		case message == fieldcrypto.DecryptFailure:
			return &Error{Code: CodeDecryptSystemError, Message: message}
		case message == fieldcrypto.NotEnabled:
			return &Error{Code: CodeUnsupportedOperation, Message: message}
		case strings.HasPrefix(message, "encryption"):
			return &Error{Code: CodeInvalidParameterVal, Message: message}
		}
	}
	for _, m := range ErrorMappings {
		if m.Aggregator == code {
			return &Error{Code: m.Tencent, Message: message}
		}
	}
	return &Error{Code: CodeInternalError, Message: message}
}

// ToContract is the aggregator error of an API 3.0 error code, for a
// gateway that faces a Tencent upstream with an aggregator client; the
// HTTP status follows from the code.
func ToContract(code string) contracts.ErrorCode {
	switch {
	case strings.HasPrefix(code, "AuthFailure"), strings.HasPrefix(code, "UnauthorizedOperation"):
		return contracts.ErrInvalidToken
	case code == CodeRequestLimitExceeded || strings.HasPrefix(code, CodeRequestLimitExceeded+"."):
		return contracts.ErrTooManyRequests
	case code == CodeLimitExceeded:
		return contracts.ErrUsedUp
	case code == CodeInvalidAction, code == CodeNoSuchVersion, code == CodeUnsupportedOperation:
		return contracts.ErrAPINotImplemented
	case strings.HasPrefix(code, "InvalidParameter"), strings.HasPrefix(code, "MissingParameter"),
		code == "UnknownParameter", code == CodeDecryptSystemError, code == CodeRequestSizeLimit:
		return contracts.ErrTokenMismatched
	case strings.HasPrefix(code, CodeResourceUnavailable), code == "ServiceUnavailable":
		return contracts.ErrServiceUnavailable
	}
	return contracts.ErrAPIError
}
