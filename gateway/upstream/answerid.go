package upstream

import (
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// The headers an upstream names its answer in, in order of preference.
var answerIDHeaders = [...][]byte{[]byte("X-Trace-Id"), []byte("X-Request-Id")}

// maxAnswerID bounds the upstream id the ledger keeps: an id is a few dozen
// characters; anything longer is not one.
const maxAnswerID = 128

// AnswerID is the id the upstream gave its answer: its X-Trace-Id (the
// simulator's, matching its statement lines) or X-Request-Id response
// header, else the trace_id of an error body; "" when it gave none. The ledger keeps it so that a line of the authority's statement
// can be matched to the entry.
func AnswerID(resp *fasthttp.Response) string {
	for _, h := range answerIDHeaders {
		if id := resp.Header.PeekBytes(h); len(id) > 0 {
			if !plainID(id) {
				return ""
			}
			return string(id)
		}
	}
	if resp.StatusCode() == fasthttp.StatusOK {
		return ""
	}
	var e struct {
		TraceID string `json:"trace_id"`
	}
	if json.Unmarshal(resp.Body(), &e) != nil || !plainID([]byte(e.TraceID)) {
		return ""
	}
	return e.TraceID
}

// plainID: 1 to maxAnswerID printable ASCII characters, so that what the
// upstream sends cannot smuggle anything else into the ledger or its CSV.
func plainID(b []byte) bool {
	if len(b) == 0 || len(b) > maxAnswerID {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e || c == ',' || c == '"' {
			return false
		}
	}
	return true
}
