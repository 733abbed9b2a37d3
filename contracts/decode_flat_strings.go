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
		vs, ve, ok := plainString(b, skipWS(b, i+1))
		if !ok {
			return 0, false
		}
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
		*dst[field] = all[vs:ve]
		i = skipWS(b, ve+1)
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
