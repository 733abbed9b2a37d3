package tencent

import (
	"encoding/json"

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

// answerFields are the members flatAnswer reads; sim (a number) is
// checked and dropped, FaceID's answer has no place for it.
var answerFields = []string{"result", "description", "sim"}

// flatAnswer reads the answer almost every check gets without reflection:
// one JSON object of plain string result and description members and an
// optional numeric sim. Anything else (an encryption object, escapes, a
// member repeated) reports false and takes encoding/json.
func flatAnswer(b []byte) (result, description string, ok bool) {
	seen, ok := contracts.DecodeFlatStrings(b, answerFields, []*string{&result, &description, nil})
	return result, description, ok && seen&3 == 3 && result != ""
}
