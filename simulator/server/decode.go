package server

import (
	"unicode/utf8"

	"github.com/idgate/idgate/contracts"
)

// decodeFast reads the shape almost every check request has: one flat JSON
// object whose members are check-2e's string fields, written without
// escapes. It does in one pass and one allocation what encoding/json does
// with reflection and several; it is the largest cost of the hot path
// otherwise. Anything else (escapes, null, unknown or differently cased
// keys, the encryption object, non-JSON whitespace, invalid UTF-8) reports
// false, and the caller uses contracts.DecodeCheckRequest, which stays the
// authority on what a valid body is. FuzzDecodeFastAgrees holds the two to
// the same answer wherever the fast path answers.
func decodeFast(body []byte, req *contracts.CheckRequest) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	// One string holds every value; the fields are slices of it.
	var all string
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipWS(body, i+1) == len(body)
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return false
		}
		ks, ke, ok := scanString(body, i+1)
		if !ok {
			return false
		}
		i = skipWS(body, ke+1)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipWS(body, i+1)
		if i >= len(body) || body[i] != '"' {
			return false
		}
		vs, ve, ok := scanString(body, i+1)
		if !ok {
			return false
		}
		if all == "" {
			all = string(body)
		}
		v := all[vs:ve]
		switch string(body[ks:ke]) {
		case "name":
			req.Name = v
		case "id_card":
			req.IDCard = v
		case "image_url":
			req.ImageURL = v
		case "validity_begin":
			req.ValidityBegin = v
		case "validity_end":
			req.ValidityEnd = v
		default:
			return false
		}
		i = skipWS(body, ve+1)
		if i >= len(body) {
			return false
		}
		switch body[i] {
		case ',':
			i = skipWS(body, i+1)
		case '}':
			return skipWS(body, i+1) == len(body)
		default:
			return false
		}
	}
}

// scanString finds the end quote of a string starting at i (just past the
// opening quote). It refuses escapes, control characters and invalid
// UTF-8, which encoding/json would rewrite or reject.
func scanString(b []byte, i int) (start, end int, ok bool) {
	start = i
	ascii := true
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:i]) {
				return 0, 0, false
			}
			return start, i, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return 0, 0, false
}

// skipWS skips JSON whitespace only; bytes.TrimSpace in the slow path
// trims more (Unicode spaces), so other bytes send the body there.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
