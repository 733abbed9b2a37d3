package contracts

import "bytes"

// ContentEncodingError refuses a request body sent with a content coding:
// a check request's body is read as it arrives, and decompressing it would
// need its own bounds against decompression bombs. ce is the request's
// Content-Encoding header (empty or identity: none). Only a short token is
// repeated back in the reason.
func ContentEncodingError(ce []byte) error {
	ce = bytes.TrimSpace(ce)
	if len(ce) == 0 || bytes.EqualFold(ce, []byte("identity")) {
		return nil
	}
	if len(ce) > 32 || !token(ce) {
		return &RequestError{Reason: "content encodings are not supported; send the JSON body uncompressed"}
	}
	return &RequestError{Reason: "content encoding " + string(bytes.ToLower(ce)) + " is not supported; send the JSON body uncompressed"}
}

// token reports whether b is an HTTP token of letters, digits and - . _.
func token(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// HeaderSet is a set of the request headers that decide authentication,
// parsing or billing; a request may carry each of them once. Servers keep
// repeated headers and libraries pick one silently (fasthttp the first
// Authorization but the last Content-Type), so two readers of one request
// could authenticate, parse or bill it differently.
type HeaderSet uint8

// The headers RepeatedHeaders looks for.
const (
	HeaderAuthorization HeaderSet = 1 << iota
	HeaderContentType
	HeaderContentEncoding
	HeaderIdempotencyKey
	HeaderPrefer
)

var singleHeaders = [...]string{"Authorization", "Content-Type", "Content-Encoding", "Idempotency-Key", "Prefer"}

// RepeatedHeaders reads a request's raw header lines (as fasthttp's
// RequestHeader.RawHeaders keeps them: every line as received, unlike its
// parsed headers, where a second Content-Type replaces the first) once and
// reports which of the HeaderSet headers appear more than once. It
// allocates nothing.
func RepeatedHeaders(raw []byte) HeaderSet {
	var seen, repeated HeaderSet
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1]
		}
		for i, h := range singleHeaders {
			if len(name) == len(h) && equalFoldASCII(name, h) {
				bit := HeaderSet(1) << i
				repeated |= seen & bit
				seen |= bit
				break
			}
		}
	}
	return repeated
}

// Refusal is the reason a request with these repeated headers is refused
// (400 token_mismatched), naming the first of them; "" for none.
func (s HeaderSet) Refusal() string {
	for i, h := range singleHeaders {
		if s&(HeaderSet(1)<<i) != 0 {
			return "duplicate " + h + " header: send it once"
		}
	}
	return ""
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
