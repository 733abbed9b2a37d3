package upstream

// ResultField returns the top-level "result" string of a JSON object. ok is
// false unless body is one complete, valid JSON object whose "result" is a
// plain string: truncated or malformed bodies are garbage, not verdicts.
// It avoids reflection: this runs on every answer.
func ResultField(body []byte) (result []byte, ok bool) {
	if !validJSON(body) {
		return nil, false
	}
	return PeekResult(body)
}

// PeekResult finds the result code like ResultField without validating the
// rest of the body first. It suits decisions that depend on the code alone
// (whether to retry): a "-4" is safe to retry whatever follows it. Billing
// and caching use ResultField.
func PeekResult(body []byte) (result []byte, ok bool) {
	// Every index is bounds-checked: the body may be truncated or junk.
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipWS(body, i)
		if i >= len(body) || body[i] != '"' {
			return nil, false // '}' of an object without "result", or junk
		}
		ks, ke, next := scanString(body, i)
		if ke >= len(body) {
			return nil, false // unterminated key
		}
		i = skipWS(body, next)
		if i >= len(body) || body[i] != ':' {
			return nil, false
		}
		i = skipWS(body, i+1)
		if i >= len(body) {
			return nil, false
		}
		if string(body[ks:ke]) == "result" {
			if body[i] != '"' {
				return nil, false
			}
			vs, ve, _ := scanString(body, i)
			if ve >= len(body) {
				return nil, false // unterminated value
			}
			v := body[vs:ve]
			for _, c := range v {
				if c == '\\' {
					return nil, false // result codes never need escapes
				}
			}
			return v, true
		}
		i = skipValue(body, i)
		i = skipWS(body, i)
		if i >= len(body) || body[i] != ',' {
			return nil, false
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString takes b[i] == '"' and returns the content bounds and the index
// after the closing quote.
func scanString(b []byte, i int) (start, end, next int) {
	start = i + 1
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return start, j, j + 1
		}
	}
	return start, len(b), len(b)
}

// skipValue skips one JSON value of a body already known to be valid.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		_, _, next := scanString(b, i)
		return next
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				_, _, next := scanString(b, i)
				i = next - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
			i++
		}
		return i
	}
}
