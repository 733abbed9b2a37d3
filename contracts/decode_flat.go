package contracts

import "unicode/utf8"

// flatFields are the members decodeFlat reads, in the order of its
// destinations: check-2e's string fields.
var flatFields = []string{"name", "id_card", "image_url", "validity_begin", "validity_end"}

// decodeFlat reads the shape almost every check request has: one JSON
// object whose members are distinct, exactly-cased check-2e string fields
// written without escapes or control characters, valid UTF-8, surrounded by
// JSON whitespace only (DecodeFlatStrings). It reports false for anything
// else (escapes, null, numbers, unknown, repeated or differently-cased
// keys, the encryption object, non-JSON whitespace, invalid UTF-8, trailing
// bytes), leaving req partly written: the caller then gives the body to
// encoding/json, so the answer and the error message stay the general
// path's own. The fields point into b.
func decodeFlat(b []byte, req *CheckRequest) bool {
	dst := [...]*string{&req.Name, &req.IDCard, &req.ImageURL, &req.ValidityBegin, &req.ValidityEnd}
	_, ok := DecodeFlatStrings(b, flatFields, dst[:])
	return ok
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
