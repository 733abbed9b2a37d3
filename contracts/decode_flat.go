package contracts

import (
	"unicode/utf8"
	"unsafe"
)

// decodeFlat reads the shape almost every check request has: one JSON
// object whose members are distinct, exactly-cased check-2e string fields
// written without escapes or control characters, valid UTF-8, surrounded by
// JSON whitespace only. It reports false for anything else (escapes, null,
// numbers, unknown, repeated or differently-cased keys, the encryption
// object, non-JSON whitespace, invalid UTF-8, trailing bytes), leaving req
// partly written: the caller then gives the body to encoding/json, so the
// answer and the error message stay the general path's own.
//
// The fields are slices of one string holding b's bytes: a copy made at
// the first value when owned is true, b itself otherwise.
func decodeFlat(b []byte, req *CheckRequest, owned bool) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	var all string
	var seen uint8
	for {
		ks, ke, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipWS(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vs, ve, ok := plainString(b, skipWS(b, i+1))
		if !ok {
			return false
		}
		var dst *string
		var bit uint8
		switch string(b[ks:ke]) {
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
			return false // unknown or differently cased: encoding/json decides
		}
		if seen&bit != 0 {
			return false // repeated: encoding/json decides
		}
		seen |= bit
		if all == "" {
			if owned {
				all = string(b)
			} else {
				all = unsafe.String(unsafe.SliceData(b), len(b))
			}
		}
		*dst = all[vs:ve]
		i = skipWS(b, ve+1)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// skipWS skips JSON whitespace only; the general path trims more (Unicode
// spaces), so a body with other leading bytes goes there.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the JSON string opening at b[i] and returns the bounds
// of its content (end is the closing quote). It refuses escapes, control
// characters and invalid UTF-8, which encoding/json would rewrite or reject.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	start = i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:j]) {
				return 0, 0, false
			}
			return start, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return 0, 0, false
}
