package tencent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// AppendError appends {"Response":{"Error":{"Code","Message"},"RequestId"}}.
func AppendError(dst []byte, e *Error, requestID string) []byte {
	dst = append(dst, `{"Response":{"Error":{"Code":`...)
	dst = appendString(dst, e.Code)
	dst = append(dst, `,"Message":`...)
	dst = appendString(dst, e.Message)
	dst = append(dst, `},"RequestId":`...)
	dst = appendString(dst, requestID)
	return append(dst, `}}`...)
}

// AppendCheckResult appends the answer of IdCardVerification and
// CheckIdNameDate: {"Response":{"Result","Description","RequestId"}},
// FaceID's members and no others. Unlike the aggregator's, FaceID's check
// answers echo no sealed fields, encrypted request or not.
func AppendCheckResult(dst []byte, result, description, requestID string) []byte {
	dst = append(dst, `{"Response":{"Result":`...)
	dst = appendString(dst, result)
	dst = append(dst, `,"Description":`...)
	dst = appendString(dst, description)
	dst = append(dst, `,"RequestId":`...)
	dst = appendString(dst, requestID)
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
	dst = appendString(dst, requestID)
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

// appendString appends s as a JSON string, escaping what JSON requires
// and replacing invalid UTF-8 (as encoding/json does).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// The common case, printable ASCII without quotes or backslashes, in
	// one copy.
	clean := 0
	for clean < len(s) && s[clean] >= 0x20 && s[clean] < utf8.RuneSelf && s[clean] != '"' && s[clean] != '\\' {
		clean++
	}
	dst = append(dst, s[:clean]...)
	for i := clean; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, `\u00`...)
				dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, `\u`...)
			dst = strconv.AppendInt(dst, int64(r), 16)
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
