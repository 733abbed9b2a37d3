package pipeline

import (
	"unicode/utf8"

	"github.com/idgate/idgate/contracts"
)

// decode reads a check request. Almost every body is a flat object of
// plain strings; for those a scanner returns the fields as views into
// body, without reflection or copies (valid while the request is served).
// Anything else — escapes, the encryption object, unknown or repeated
// keys, other types, invalid UTF-8 — goes to contracts.DecodeCheckRequest,
// so answers and error messages stay the contract's own. FuzzDecode checks
// that both agree wherever the fast path answers.
func decode(body []byte) (contracts.CheckRequest, error) {
	if req, ok := decodeFlat(body); ok {
		return req, nil
	}
	return contracts.DecodeCheckRequest(body)
}

func decodeFlat(b []byte) (req contracts.CheckRequest, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return req, skipWS(b, i+1) == len(b)
	}
	var seen uint8
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return req, false
		}
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return req, false
		}
		val, next, ok := plainString(b, skipWS(b, i+1))
		if !ok {
			return req, false
		}
		var dst *string
		var bit uint8
		switch b2s(key) {
		case "name":
			dst, bit = &req.Name, 1
		case "id_card":
			dst, bit = &req.IDCard, 2
		case "image_url":
			dst, bit = &req.ImageURL, 4
		case "validity_begin":
			dst, bit = &req.ValidityBegin, 8
		case "validity_end":
			dst, bit = &req.ValidityEnd, 16
		default:
			return req, false // unknown or differently-cased key: encoding/json decides
		}
		if seen&bit != 0 {
			return req, false
		}
		seen |= bit
		*dst = b2s(val)
		i = skipWS(b, next)
		if i >= len(b) {
			return req, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return req, skipWS(b, i+1) == len(b)
		default:
			return req, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string without escapes or control characters
// whose content is valid UTF-8.
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			s = b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}
