package tencent

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/idgate/idgate/contracts"
)

// AppendError appends {"Response":{"Error":{"Code","Message"},"RequestId"}}.
func AppendError(dst []byte, e *Error, requestID string) []byte {
	dst = append(dst, `{"Response":{"Error":{"Code":`...)
	dst = contracts.AppendJSONString(dst, e.Code)
	dst = append(dst, `,"Message":`...)
	dst = contracts.AppendJSONString(dst, e.Message)
	dst = append(dst, `},"RequestId":`...)
	dst = contracts.AppendJSONString(dst, requestID)
	return append(dst, `}}`...)
}

// AppendCheckResult appends the answer of IdCardVerification and
// CheckIdNameDate: {"Response":{"Result","Description","RequestId"}},
// FaceID's members and no others. Unlike the aggregator's, FaceID's check
// answers echo no sealed fields, encrypted request or not.
func AppendCheckResult(dst []byte, result, description, requestID string) []byte {
	dst = append(dst, `{"Response":{"Result":`...)
	dst = contracts.AppendJSONString(dst, result)
	dst = append(dst, `,"Description":`...)
	dst = contracts.AppendJSONString(dst, description)
	dst = append(dst, `,"RequestId":`...)
	dst = contracts.AppendJSONString(dst, requestID)
	return append(dst, `}}`...)
}

// AppendResponse appends v (a struct or map marshalled to a JSON object)
// inside the envelope with RequestId as its last member.
func AppendResponse(dst []byte, v any, requestID string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("tencent: response: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return dst, fmt.Errorf("tencent: response: %T is not an object", v)
	}
	dst = append(dst, `{"Response":`...)
	dst = append(dst, b[:len(b)-1]...)
	if len(b) > 2 {
		dst = append(dst, ',')
	}
	dst = append(dst, `"RequestId":`...)
	dst = contracts.AppendJSONString(dst, requestID)
	return append(dst, `}}`...), nil
}

// Envelope is an answer of the dialect as a client reads it.
type Envelope struct {
	Response json.RawMessage `json:"Response"`
}

// ResponseHead is what every answer's Response holds besides the action's
// fields.
type ResponseHead struct {
	Error     *Error `json:"Error,omitempty"`
	RequestID string `json:"RequestId"`
}
