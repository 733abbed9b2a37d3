package contracts

import "bytes"

// BearerToken returns the token of an Authorization header value holding
// bearer credentials (RFC 6750 section 2.1, RFC 7235 section 2.1): the
// scheme "Bearer" in any letter case, one or more spaces, then a token68.
// Spaces and tabs around the whole value (optional whitespace a header
// parser may leave) are ignored. The token is a slice of h: nothing is
// allocated. ok is false for every other value, an empty token included.
func BearerToken(h []byte) (token []byte, ok bool) {
	h = bytes.Trim(h, " \t")
	const scheme = "bearer"
	if len(h) < len(scheme)+2 || h[len(scheme)] != ' ' {
		return nil, false
	}
	for i := range len(scheme) {
		if h[i]|0x20 != scheme[i] { // ASCII letters only: |0x20 lowers them
			return nil, false
		}
	}
	i := len(scheme) + 1
	for i < len(h) && h[i] == ' ' {
		i++
	}
	if !isToken68(h[i:]) {
		return nil, false
	}
	return h[i:], true
}

// IsToken68 reports whether s can be sent as a bearer token: RFC 7235's
// token68, one or more of the letters, digits and -._~+/ followed by any
// number of '='. A configured token outside that syntax could never pass
// BearerToken.
func IsToken68(s string) bool { return isToken68([]byte(s)) }

func isToken68(b []byte) bool {
	n := 0
	for n < len(b) && token68Char(b[n]) {
		n++
	}
	if n == 0 {
		return false
	}
	for ; n < len(b); n++ {
		if b[n] != '=' {
			return false
		}
	}
	return true
}

func token68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}
