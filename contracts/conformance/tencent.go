package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
)

// The Tencent Cloud API 3.0 dialect (FaceID 2018-03-01): POST / with the
// action in X-TC-Action, signed TC3-HMAC-SHA256 as the official SDKs sign
// (service = the first label of the target's host, the host without its
// port), answered HTTP 200 with {"Response":{…,"RequestId"}} whatever the
// outcome. The checks run when the target has a Tencent pair
// (Target.TencentSecretID).

// tcChecks lists the dialect's checks that apply to t.
func tcChecks(t Target) []Check {
	valid := tencent.CheckRequest{IdCard: validID, Name: validName}
	dated := func(begin, end string) tencent.CheckRequest {
		return tencent.CheckRequest{IdCard: validID, Name: validName, ValidityBegin: begin, ValidityEnd: end}
	}
	cs := []Check{
		{"tc: IdCardVerification valid answers Result 0", tcCheckResult(tencent.ActionIdCardVerification, valid, "", "0")},
		{"tc: IdCardVerification bad check digit answers -2", tcCheckResult(tencent.ActionIdCardVerification, tencent.CheckRequest{IdCard: "110105194912310021", Name: validName}, "", "-2")},
		{"tc: IdCardVerification illegal name answers -3", tcCheckResult(tencent.ActionIdCardVerification, tencent.CheckRequest{IdCard: validID, Name: "Zhang San"}, "", "-3")},
		{"tc: CheckIdNameDate valid answers Result 0", tcCheckResult(tencent.ActionCheckIdNameDate, dated("20100101", "00000000"), "", "0")},
		{"tc: CheckIdNameDate bad check digit answers -2", tcCheckResult(tencent.ActionCheckIdNameDate, tencent.CheckRequest{IdCard: "110105194912310021", Name: validName, ValidityBegin: "20100101", ValidityEnd: "00000000"}, "", "-2")},
		{"tc: CheckIdNameDate illegal name answers -3", tcCheckResult(tencent.ActionCheckIdNameDate, tencent.CheckRequest{IdCard: validID, Name: "Zhang San", ValidityBegin: "20100101", ValidityEnd: "00000000"}, "", "-3")},
		{"tc: CheckIdNameDate illegal validity answers -4", tcCheckResult(tencent.ActionCheckIdNameDate, dated("20100101", "20300101"), "", "-4")},
		{"tc: CheckIdNameDate malformed validity answers -4", tcCheckResult(tencent.ActionCheckIdNameDate, dated("2010-01-01", "00000000"), "", "-4")},
		{"tc: CheckIdNameDate validity before birth answers -5", tcCheckResult(tencent.ActionCheckIdNameDate, dated("19400101", "19500101"), "", "-5")},
		{"tc: missing IdCard is MissingParameter", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: []byte(`{"Name":"张三"}`)}, tencent.CodeMissingParameter)},
		{"tc: CheckIdNameDate without validity is MissingParameter", tcCheckError(tcRequest{Action: tencent.ActionCheckIdNameDate, Body: []byte(`{"Name":"张三","IdCard":"11010519491231002X"}`)}, tencent.CodeMissingParameter)},
		{"tc: malformed JSON is InvalidParameter", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: []byte(`{"Name":`)}, tencent.CodeInvalidParameter)},
		{"tc: unknown action is InvalidAction", tcCheckError(tcRequest{Action: "Nope", Body: []byte(`{}`)}, tencent.CodeInvalidAction)},
		{"tc: missing X-TC-Version is MissingParameter", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Version: "-", Body: tcBody(valid)}, tencent.CodeMissingParameter)},
		{"tc: another version is NoSuchVersion", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Version: "2017-01-01", Body: tcBody(valid)}, tencent.CodeNoSuchVersion)},
		{"tc: stale timestamp is AuthFailure.SignatureExpire", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), Skew: -10 * time.Minute}, tencent.CodeSignatureExpire)},
		{"tc: timestamp from the future is AuthFailure.SignatureExpire", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), Skew: 10 * time.Minute}, tencent.CodeSignatureExpire)},
		{"tc: unknown SecretId is AuthFailure.SecretIdNotFound", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), SecretID: "AKIDconformance-unknown"}, tencent.CodeSecretIDNotFound)},
		{"tc: wrong SecretKey is AuthFailure.SignatureFailure", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), SecretKey: "not-the-secret-key"}, tencent.CodeSignatureFailure)},
		{"tc: body altered after signing is AuthFailure.SignatureFailure", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), SignedBody: tcBody(tencent.CheckRequest{IdCard: validID, Name: "李四"})}, tencent.CodeSignatureFailure)},
		{"tc: missing Authorization is AuthFailure", tcCheckAuthFailure},
		{"tc: host signed with its port is accepted (Go and Python SDKs)", tcCheckHostWithPort},
		{"tc: every answer is HTTP 200 with one Response and a fresh RequestId", tcCheckEnvelope},
		{"tc: a GET with X-TC-Action is answered in the envelope", tcCheckGet},
	}
	if t.Magic {
		for _, m := range contracts.MagicIdentities {
			cs = append(cs, Check{"tc: magic " + m.IDCard + " on IdCardVerification: " + m.Outcome, tcCheckMagic(tencent.ActionIdCardVerification, m)})
			if m.Result != "" && m.Sim == 0 {
				cs = append(cs, Check{"tc: magic " + m.IDCard + " on CheckIdNameDate answers " + string(contracts.DateResultOf(m.Result)), tcCheckMagic(tencent.ActionCheckIdNameDate, m)})
			}
		}
	}
	if t.Sessions {
		cs = append(cs, Check{"tc: GetDetectInfoEnhanced of an unknown BizToken is InvalidParameterValue.BizTokenIllegal",
			tcCheckError(tcRequest{Action: tencent.ActionGetDetectInfoEnhanced, Body: []byte(`{"BizToken":"0123456789abcdef0123456789abcdef","RuleId":"1"}`)}, tencent.CodeBizTokenIllegal)})
	}
	if t.Prefer {
		for _, r := range contracts.Results {
			cs = append(cs, Check{"tc: Prefer result=" + string(r.Code) + " on IdCardVerification", tcCheckResult(tencent.ActionIdCardVerification, valid, "result="+string(r.Code), string(r.Code))})
		}
		cs = append(cs,
			Check{"tc: Prefer result=-5 on CheckIdNameDate answers -7 (no record)", tcCheckResult(tencent.ActionCheckIdNameDate, dated("20100101", "00000000"), "result=-5", "-7")},
			Check{"tc: Prefer status=429 is RequestLimitExceeded", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), Prefer: "status=429"}, tencent.CodeRequestLimitExceeded)},
			Check{"tc: Prefer status=500 is InternalError", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), Prefer: "status=500"}, tencent.CodeInternalError)},
		)
		if t.Gateway {
			cs = append(cs, Check{"tc: upstream connection reset is InternalError", tcCheckError(tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(valid), Prefer: "fault=connection_reset"}, tencent.CodeInternalError)})
		}
	}
	return cs
}

func tcBody(r tencent.CheckRequest) []byte {
	b, _ := json.Marshal(r)
	return b
}

// tcRequest is one API 3.0 call.
type tcRequest struct {
	Action string
	Body   []byte
	// SignedBody, when set, is what the signature covers instead of Body.
	SignedBody []byte
	// Version is X-TC-Version; "" is FaceID's, "-" leaves it out.
	Version string
	// SecretID and SecretKey override the target's pair.
	SecretID, SecretKey string
	// Skew moves the timestamp away from now.
	Skew time.Duration
	// NoAuth sends no Authorization header.
	NoAuth bool
	// HostWithPort signs the Host header as sent (host:port), as the Go
	// and Python SDKs do, instead of the hostname the Node SDK signs.
	HostWithPort bool
	Prefer       string
}

// tc sends r to the target's root, signed as tencentcloud-sdk-nodejs
// signs: service = the first label of the host, host without its port.
func (e *Env) tc(ctx context.Context, r tcRequest) (*Answer, error) {
	u, err := url.Parse(e.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	id, key := e.TencentSecretID, e.TencentSecretKey
	if r.SecretID != "" {
		id = r.SecretID
	}
	if r.SecretKey != "" {
		key = r.SecretKey
	}
	host := u.Hostname()
	if r.HostWithPort {
		host = u.Host
	}
	service := tencent.ServiceOf(u.Hostname())
	ts := time.Now().Add(r.Skew).Unix()
	signed := r.Body
	if r.SignedBody != nil {
		signed = r.SignedBody
	}
	s := tencent.Signer{SecretID: id, SecretKey: key, Service: service}
	h := map[string]string{
		"X-TC-Action":    r.Action,
		"X-TC-Timestamp": strconv.FormatInt(ts, 10),
		"X-TC-Version":   tencent.Version,
	}
	switch r.Version {
	case "-":
		delete(h, "X-TC-Version")
	case "":
	default:
		h["X-TC-Version"] = r.Version
	}
	if !r.NoAuth {
		h["Authorization"] = s.Authorization(host, "application/json", signed, ts)
	}
	if r.Prefer != "" {
		h["Prefer"] = r.Prefer
	}
	return e.Do(ctx, Request{Path: "/", ContentType: "application/json", Body: r.Body, Header: h})
}

// tcResponse is an answer's Response with its members kept raw.
type tcResponse map[string]json.RawMessage

// expectTCEnvelope asserts the dialect's envelope: HTTP 200, a JSON
// content type, a body that is exactly {"Response":{…}} with a non-empty
// RequestId, which behind a gateway is its X-Request-Id (the id its
// ledger keeps).
func (e *Env) expectTCEnvelope(a *Answer) (tcResponse, error) {
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("status %d, want 200: the dialect answers every outcome with 200 (body %s)", a.Status, truncate(a.Body))
	}
	if ct := a.Header.Get("Content-Type"); !contracts.IsJSONContentType(ct) {
		return nil, fmt.Errorf("content type %q, want application/json", ct)
	}
	if e.Gateway && a.Header.Get("X-Request-Id") == "" {
		return nil, errors.New("gateway answer without X-Request-Id")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(a.Body, &env); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %w (%s)", err, truncate(a.Body))
	}
	if len(env) != 1 || env["Response"] == nil {
		return nil, fmt.Errorf("body must be {\"Response\":{…}} and nothing else: %s", truncate(a.Body))
	}
	var r tcResponse
	if err := json.Unmarshal(env["Response"], &r); err != nil || r == nil {
		return nil, fmt.Errorf("Response is not an object: %s", truncate(a.Body))
	}
	var id string
	if json.Unmarshal(r["RequestId"], &id) != nil || id == "" {
		return nil, fmt.Errorf("Response without a RequestId: %s", truncate(a.Body))
	}
	if e.Gateway && id != a.Header.Get("X-Request-Id") {
		return nil, fmt.Errorf("RequestId %q is not the gateway's X-Request-Id %q", id, a.Header.Get("X-Request-Id"))
	}
	return r, nil
}

// expectTCResult asserts a check action's answer with the given Result:
// Result, Description and RequestId, FaceID's members and no others.
func (e *Env) expectTCResult(a *Answer, want string) error {
	r, err := e.expectTCEnvelope(a)
	if err != nil {
		return err
	}
	if r["Error"] != nil {
		return fmt.Errorf("error %s, want Result %s", r["Error"], want)
	}
	for k := range r {
		if k != "Result" && k != "Description" && k != "RequestId" && k != "Encryption" {
			return fmt.Errorf("Response has %q, which FaceID does not answer: %s", k, truncate(a.Body))
		}
	}
	var got, desc string
	if json.Unmarshal(r["Result"], &got) != nil {
		return fmt.Errorf("Result is not a string: %s", truncate(a.Body))
	}
	if got != want {
		return fmt.Errorf("Result %q, want %q (%s)", got, want, truncate(a.Body))
	}
	if json.Unmarshal(r["Description"], &desc) != nil || desc == "" {
		return fmt.Errorf("no Description: %s", truncate(a.Body))
	}
	return nil
}

// expectTCError asserts {"Response":{"Error":{"Code","Message"},"RequestId"}}
// with the given code and nothing else.
func (e *Env) expectTCError(a *Answer, want string) error {
	r, err := e.expectTCEnvelope(a)
	if err != nil {
		return err
	}
	if got := slices.Sorted(maps.Keys(r)); !slices.Equal(got, []string{"Error", "RequestId"}) {
		return fmt.Errorf("error Response has members %v, want Error and RequestId: %s", got, truncate(a.Body))
	}
	var er map[string]json.RawMessage
	if err := json.Unmarshal(r["Error"], &er); err != nil {
		return fmt.Errorf("Error is not an object: %s", truncate(a.Body))
	}
	if got := slices.Sorted(maps.Keys(er)); !slices.Equal(got, []string{"Code", "Message"}) {
		return fmt.Errorf("Error has members %v, want Code and Message: %s", got, truncate(a.Body))
	}
	var code, msg string
	_ = json.Unmarshal(er["Code"], &code)
	_ = json.Unmarshal(er["Message"], &msg)
	if code != want || msg == "" {
		return fmt.Errorf("error %q (%q), want %s with a message", code, msg, want)
	}
	return nil
}

func tcCheckResult(action string, req tencent.CheckRequest, prefer, want string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.tc(ctx, tcRequest{Action: action, Body: tcBody(req), Prefer: prefer})
		if err != nil {
			return err
		}
		return e.expectTCResult(a, want)
	}
}

func tcCheckError(r tcRequest, want string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.tc(ctx, r)
		if err != nil {
			return err
		}
		return e.expectTCError(a, want)
	}
}

func tcCheckMagic(action string, m contracts.MagicIdentity) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		req := tencent.CheckRequest{IdCard: m.IDCard, Name: validName}
		if action == tencent.ActionCheckIdNameDate {
			req.ValidityBegin, req.ValidityEnd = "20100101", "00000000"
		}
		a, err := e.tc(ctx, tcRequest{Action: action, Body: tcBody(req)})
		switch {
		case m.Fault != "" && !e.Gateway:
			// Directly, a fault is a broken connection or response.
			if err == nil && a.Status == http.StatusOK && bytes.Contains(a.Body, []byte(`"Response"`)) {
				return fmt.Errorf("fault %s answered %d %s", m.Fault, a.Status, truncate(a.Body))
			}
			return nil
		case err != nil:
			return err
		case m.Fault != "":
			return e.expectTCError(a, tencent.CodeInternalError)
		case m.Status == http.StatusTooManyRequests:
			return e.expectTCError(a, tencent.CodeRequestLimitExceeded)
		case m.Status != 0:
			return e.expectTCError(a, tencent.CodeInternalError)
		case action == tencent.ActionCheckIdNameDate:
			return e.expectTCResult(a, string(contracts.DateResultOf(m.Result)))
		}
		return e.expectTCResult(a, string(m.Result))
	}
}

// tcCheckAuthFailure: a request without Authorization is refused with an
// AuthFailure code, in the envelope.
func tcCheckAuthFailure(ctx context.Context, e *Env) error {
	a, err := e.tc(ctx, tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(tencent.CheckRequest{IdCard: validID, Name: validName}), NoAuth: true})
	if err != nil {
		return err
	}
	r, err := e.expectTCEnvelope(a)
	if err != nil {
		return err
	}
	var er tencent.Error
	if err := json.Unmarshal(r["Error"], &er); err != nil || !strings.HasPrefix(er.Code, "AuthFailure") {
		return fmt.Errorf("want an AuthFailure error: %s", truncate(a.Body))
	}
	return nil
}

func tcCheckHostWithPort(ctx context.Context, e *Env) error {
	a, err := e.tc(ctx, tcRequest{Action: tencent.ActionIdCardVerification, Body: tcBody(tencent.CheckRequest{IdCard: validID, Name: validName}), HostWithPort: true})
	if err != nil {
		return err
	}
	return e.expectTCResult(a, "0")
}

// tcCheckEnvelope: a result and an error each carry their own RequestId.
func tcCheckEnvelope(ctx context.Context, e *Env) error {
	ids := map[string]bool{}
	for _, r := range []tcRequest{
		{Action: tencent.ActionIdCardVerification, Body: tcBody(tencent.CheckRequest{IdCard: validID, Name: validName})},
		{Action: tencent.ActionIdCardVerification, Body: tcBody(tencent.CheckRequest{IdCard: validID, Name: validName})},
		{Action: "Nope", Body: []byte(`{}`)},
		{Action: tencent.ActionIdCardVerification, Body: tcBody(tencent.CheckRequest{IdCard: validID, Name: validName}), SecretKey: "wrong"},
	} {
		a, err := e.tc(ctx, r)
		if err != nil {
			return err
		}
		resp, err := e.expectTCEnvelope(a)
		if err != nil {
			return err
		}
		var id string
		_ = json.Unmarshal(resp["RequestId"], &id)
		if ids[id] {
			return fmt.Errorf("RequestId %q answered twice", id)
		}
		ids[id] = true
	}
	return nil
}

// tcCheckGet: the SDKs can be configured to send GET (reqMethod); a
// server that serves only POST still answers in the dialect, so the SDK
// reads an error code instead of an HTTP failure.
func tcCheckGet(ctx context.Context, e *Env) error {
	a, err := e.Do(ctx, Request{Method: http.MethodGet, Path: "/?IdCard=" + validID, Header: map[string]string{
		"X-TC-Action": tencent.ActionIdCardVerification, "X-TC-Version": tencent.Version,
		"X-TC-Timestamp": strconv.FormatInt(time.Now().Unix(), 10), "Content-Type": "application/x-www-form-urlencoded",
	}})
	if err != nil {
		return err
	}
	r, err := e.expectTCEnvelope(a)
	if err != nil {
		return err
	}
	if r["Error"] == nil {
		return fmt.Errorf("an unsigned GET was answered: %s", truncate(a.Body))
	}
	return nil
}
