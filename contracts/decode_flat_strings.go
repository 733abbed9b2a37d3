package contracts

import "unsafe"

// DecodeFlatStrings is the fast path of a dialect's body decoder: it reads
// a body that is one JSON object whose members are distinct, exactly-cased
// members of names, each a plain string (no escapes, no control characters,
// valid UTF-8), surrounded by JSON whitespace only, and stores each value
// in the dst of the same index. seen has bit i set for each member read.
// ok is false for any other body (the general decoder, encoding/json,
// decides then; dst may be partly written). The strings point into b:
// valid only while b is neither modified nor reused. At most 16 names.
// A nil dst names a member whose value is a JSON number, checked to the
// JSON grammar and dropped (an answer's similarity, say); any other value
// there is refused.
func DecodeFlatStrings(b []byte, names []string, dst []*string) (seen uint16, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, skipWS(b, i+1) == len(b)
	}
	all := unsafe.String(unsafe.SliceData(b), len(b))
	for {
		ks, ke, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		i = skipWS(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		field := -1
		for j, n := range names {
			if n == string(b[ks:ke]) {
				field = j
				break
			}
		}
		if field < 0 || seen&(1<<field) != 0 {
			return 0, false // unknown, other case or repeated: the general path decides
		}
		seen |= 1 << field
		if dst[field] == nil {
			if i, ok = skipNumber(b, i); !ok {
				return 0, false
			}
		} else {
			vs, ve, ok := plainString(b, i)
			if !ok {
				return 0, false
			}
			*dst[field] = all[vs:ve]
			i = ve + 1
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return seen, skipWS(b, i+1) == len(b)
		default:
			return 0, false
		}
	}
}

// skipNumber reads the JSON number opening at b[i] (RFC 8259 grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) and returns the index
// after it; ok is false when b[i:] does not open with one.
func skipNumber(b []byte, i int) (end int, ok bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
