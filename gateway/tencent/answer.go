package tencent

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	tc "github.com/idgate/idgate/contracts/tencent"
)

// Answer renders an answer given in the aggregator's form (an upstream's,
// a local verdict, a cached one) in the dialect, always HTTP 200: a 200
// {"result","description",…} becomes
// {"Response":{"Result","Description","RequestId"}}, an
// error body {"success":false,"error":{"code","message"}} becomes the
// envelope's Error with the code tc.FromContract gives. RequestId is the
// gateway's request id (X-Request-Id), not the upstream's.
func (f *Front) Answer(status int, contentType string, body []byte, requestID string) (int, string, []byte) {
	if status == fasthttp.StatusOK {
		if result, description, ok := flatAnswer(body); ok {
			dst := make([]byte, 0, len(`{"Response":{"Result":"","Description":"","RequestId":""}}`)+len(result)+len(description)+len(requestID))
			return fasthttp.StatusOK, "application/json", tc.AppendCheckResult(dst, result, description, requestID)
		}
		var r contracts.CheckResponse
		if json.Unmarshal(body, &r) == nil && r.Result != "" {
			// An encrypting client's sealed echo (name, id_card,
			// encryption) has no place in FaceID's answer.
			return fasthttp.StatusOK, "application/json", tc.AppendCheckResult(nil, string(r.Result), r.Description, requestID)
		}
		return fasthttp.StatusOK, "application/json", tc.AppendError(nil, tc.FromContract(contracts.ErrAPIError, ""), requestID)
	}
	var e contracts.ErrorBody
	code, message := contracts.ErrAPIError, ""
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		code, message = e.Error.Code, e.Error.Message
	}
	return fasthttp.StatusOK, "application/json", tc.AppendError(nil, tc.FromContract(code, message), requestID)
}

// flatAnswer reads the answer almost every check gets without reflection:
// one JSON object of plain string members (no escapes) and numbers, with
// result and description. Anything else (an encryption object, escapes,
// a member repeated) reports false and takes encoding/json.
func flatAnswer(b []byte) (result, description string, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", "", false
	}
	var seen uint8
	for {
		i = skipWS(b, i+1)
		ks, ke, ok := plainString(b, i)
		if !ok {
			return "", "", false
		}
		i = skipWS(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return "", "", false
		}
		i = skipWS(b, i+1)
		var value string
		if i < len(b) && b[i] == '"' {
			vs, ve, ok := plainString(b, i)
			if !ok {
				return "", "", false
			}
			value, i = b2s(b[vs:ve]), ve+1
		} else {
			j := i
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == '-' || b[j] == '+' || b[j] == 'e' || b[j] == 'E') {
				j++
			}
			if j == i {
				return "", "", false
			}
			i = j
		}
		switch b2s(b[ks:ke]) {
		case "result":
			if seen&1 != 0 || value == "" {
				return "", "", false
			}
			seen |= 1
			result = value
		case "description":
			if seen&2 != 0 {
				return "", "", false
			}
			seen |= 2
			description = value
		case "sim":
		default:
			return "", "", false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return "", "", false
		}
		switch b[i] {
		case ',':
		case '}':
			return result, description, seen == 3 && skipWS(b, i+1) == len(b)
		default:
			return "", "", false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the JSON string opening at b[i]: its content bounds
// (end is the closing quote). Escapes, control characters and invalid
// UTF-8 (which encoding/json would rewrite) refuse it.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[i+1:j]) {
				return 0, 0, false
			}
			return i + 1, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false
}
