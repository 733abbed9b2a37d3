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
