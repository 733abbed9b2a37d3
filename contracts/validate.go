package contracts

import (
	"errors"
	"time"

	"github.com/idgate/idgate/contracts/idcard"
)

// Rejection is a request refused on its content. Exactly one of Result and
// Error is set: Result for what the authority answers with a result code
// ("-2", "-3"), Error for what it answers with an HTTP error.
type Rejection struct {
	Result ResultCode
	Error  ErrorCode
	Reason string
}

// Validate applies the authority's own input rules to a check request, as of
// now. nil means the request may be sent. Callers that received the request
// encrypted validate the decrypted fields.
func Validate(req *CheckRequest, now time.Time) *Rejection {
	if req.IDCard == "" {
		return &Rejection{Error: ErrTokenMismatched, Reason: "missing required field id_card"}
	}
	if req.Name == "" {
		return &Rejection{Error: ErrTokenMismatched, Reason: "missing required field name"}
	}
	num, err := idcard.ParseAt(req.IDCard, now)
	if err != nil {
		return &Rejection{Result: ResultIllegalID, Reason: err.Error()}
	}
	if err := idcard.ValidateName(req.Name); err != nil {
		return &Rejection{Result: ResultIllegalName, Reason: err.Error()}
	}
	if err := idcard.ValidateValidity(req.ValidityBegin, req.ValidityEnd, num.Birth, now); err != nil {
		return &Rejection{Error: ErrTokenMismatched, Reason: err.Error()}
	}
	return nil
}

// RequestError is a body that could not be read as a check request.
type RequestError struct{ Reason string }

func (e *RequestError) Error() string { return e.Reason }

// IsRequestError reports whether err came from DecodeCheckRequest.
func IsRequestError(err error) bool {
	var re *RequestError
	return errors.As(err, &re)
}
