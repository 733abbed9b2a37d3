package tencent

import "github.com/idgate/idgate/contracts"

// flatCheckFields are the members DecodeCheckRequestNoCopy's fast path
// reads, in the order of its destinations.
var flatCheckFields = []string{"IdCard", "Name", "ValidityBegin", "ValidityEnd"}

// DecodeCheckRequestNoCopy is DecodeCheckRequest for a server's hot path:
// a flat body of plain string members (almost every request) is read in
// one pass without allocating, its strings pointing into body (valid only
// while body is neither modified nor reused); every other body, and every
// refusal, takes DecodeCheckRequest, so the answers and messages are the
// same (FuzzDecodeCheckRequestNoCopy holds the two to it).
func DecodeCheckRequestNoCopy(body []byte, withValidity bool) (contracts.CheckRequest, *Error) {
	var r contracts.CheckRequest
	dst := [...]*string{&r.IDCard, &r.Name, &r.ValidityBegin, &r.ValidityEnd}
	seen, ok := contracts.DecodeFlatStrings(body, flatCheckFields, dst[:])
	need := uint16(0b0011)
	if withValidity {
		need = 0b1111
	}
	if ok && seen&need == need {
		return r, nil
	}
	return DecodeCheckRequest(body, withValidity)
}
