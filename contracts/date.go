package contracts

import (
	"errors"
	"time"

	"github.com/idgate/idgate/contracts/idcard"
)

// CheckDatePath is the two-factor check with the card's validity period
// (the authority's CheckIdNameDate): the body of CheckPath with
// validity_begin and validity_end required, answered from DateResults.
const CheckDatePath = "/identity/idcard/check-id-name-date"

// The result codes of CheckDatePath. The authority numbers them
// differently from check-2e's (ResultCode): only "0" to "-3" mean the
// same on both routes.
const (
	DateConsistent      ResultCode = "0"
	DateInconsistent    ResultCode = "-1"
	DateIllegalID       ResultCode = "-2"
	DateIllegalName     ResultCode = "-3"
	DateIllegalValidity ResultCode = "-4"
	DateInvalidIdentity ResultCode = "-5"
	DateDBError         ResultCode = "-6"
	DateNoRecord        ResultCode = "-7"
	DateDailyLimit      ResultCode = "-8"
)

// DateResults lists every CheckDatePath result code in the authority's
// order. Only "0" and "-1" are billed.
var DateResults = []ResultInfo{
	{DateConsistent, "Name, ID card number and validity period are consistent", Billed, false},
	{DateInconsistent, "Name, ID card number and validity period are inconsistent", Billed, false},
	{DateIllegalID, "Illegal ID card number (length, check digit, etc. are incorrect)", NotBilled, false},
	{DateIllegalName, "Illegal name (length, format, etc. are incorrect)", NotBilled, false},
	{DateIllegalValidity, "Illegal validity period (format, order or length is incorrect)", NotBilled, false},
	{DateInvalidIdentity, "The identity information is invalid", NotBilled, false},
	{DateDBError, "Document database service exception", NotBilled, true},
	{DateNoRecord, "No record of this ID card in the document database", NotBilled, false},
	{DateDailyLimit, "The number of authentications has exceeded the daily limit", NotBilled, false},
}

// LookupDateResult returns the description and billing of a CheckDatePath
// code.
func LookupDateResult(c ResultCode) (ResultInfo, bool) {
	for _, r := range DateResults {
		if r.Code == c {
			return r, true
		}
	}
	return ResultInfo{}, false
}

// DateResultOf is the CheckDatePath code with the meaning of a check-2e
// code, so one decision (magic identity, Prefer result=, scenario) serves
// both routes: "-4" database exception is "-6", "-5" no record "-7", "-7"
// daily limit "-8", and "-6" system upgrading, which the date route has no
// code for, is its nearest transient failure, "-6" database exception.
// "0" to "-3" are the same on both routes.
func DateResultOf(c ResultCode) ResultCode {
	switch c {
	case ResultDBError, ResultUpgrading:
		return DateDBError
	case ResultNoRecord:
		return DateNoRecord
	case ResultDailyLimit:
		return DateDailyLimit
	}
	return c
}

// ValidateDate is Validate for CheckDatePath: the same number and name
// rules ("-2", "-3"), then validity_begin and validity_end, both required
// (a missing one is the HTTP error token_mismatched). A malformed,
// reversed, future or wrong-length period is "-4"; a period that begins
// before the holder's birth date contradicts the ID number itself and is
// "-5". Rejection.Result holds DateResults codes.
func ValidateDate(req *CheckRequest, now time.Time) *Rejection {
	plain := *req
	plain.ValidityBegin, plain.ValidityEnd = "", ""
	if rej := Validate(&plain, now); rej != nil {
		return rej
	}
	switch {
	case req.ValidityBegin == "":
		return &Rejection{Error: ErrTokenMismatched, Reason: "missing required field validity_begin"}
	case req.ValidityEnd == "":
		return &Rejection{Error: ErrTokenMismatched, Reason: "missing required field validity_end"}
	}
	num, _ := idcard.ParseAt(req.IDCard, now) // valid: Validate passed
	err := idcard.ValidateValidity(req.ValidityBegin, req.ValidityEnd, num.Birth, now)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, idcard.ErrValidityBirth):
		return &Rejection{Result: DateInvalidIdentity, Reason: err.Error()}
	}
	return &Rejection{Result: DateIllegalValidity, Reason: err.Error()}
}
