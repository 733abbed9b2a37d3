package sessions

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/idempotency"
)

// fakeDialect stands for the Tencent dialect: the key is the X-Test-Key
// header (the real one verifies a TC3 signature), errors are FaceID's.
type fakeDialect struct{ keys admission.Authenticator }

func (d fakeDialect) Authenticate(x *admission.Exchange) (*auth.Key, int, []byte) {
	k, ok := d.keys.Authenticate(append([]byte("Bearer "), x.Ctx.Request.Header.Peek("X-Test-Key")...))
	if !ok {
		return nil, 200, tencent.AppendError(nil, &tencent.Error{Code: tencent.CodeSecretIDNotFound, Message: "unknown SecretId"}, x.RequestID)
	}
	return k, 0, nil
}

func (fakeDialect) Error(code contracts.ErrorCode, message, requestID string) (int, []byte) {
	return 200, tencent.AppendError(nil, tencent.FromContract(code, message), requestID)
}

func (fakeDialect) Answer(status int, contentType string, body []byte, requestID string) (int, string, []byte) {
	if status < 300 {
		return status, contentType, body
	}
	var e contracts.ErrorBody
	_ = json.Unmarshal(body, &e)
	return 200, "application/json", tencent.AppendError(nil, tencent.FromContract(e.Error.Code, e.Error.Message), requestID)
}

// recordingUpstream keeps the bodies the gateway sends.
type recordingUpstream struct {
	Upstream
	mu     sync.Mutex
	bodies []string
}

func (r *recordingUpstream) Do(method, path string, body, prefer, requestID []byte, resp *fasthttp.Response) error {
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.mu.Unlock()
	return r.Upstream.Do(method, path, body, prefer, requestID, resp)
}

func (r *recordingUpstream) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *recordingUpstream) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		return ""
	}
	return r.bodies[len(r.bodies)-1]
}

type tcFixture struct {
	*fixture
	rec *recordingUpstream
	tc  *fiber.App
}

// newTCFixture serves the Tencent actions on POST / dispatched by
// X-TC-Action, as the gateway's dispatcher does.
func newTCFixture(t *testing.T, tenantQuota int64) *tcFixture {
	f := newFixture(t, tenantQuota, "")
	rec := &recordingUpstream{Upstream: f.up}
	f.svc.Upstream = rec
	f.svc.Idempotency = idempotency.NewMemory(time.Hour, 1000)
	d := fakeDialect{keys: f.svc.Auth}
	actions := f.svc.TencentActions(func() admission.Dialect { return d })
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/", func(c *fiber.Ctx) error {
		h, ok := actions[c.Get("X-TC-Action")]
		if !ok {
			return c.Status(200).SendString(`{"Response":{"Error":{"Code":"InvalidAction"}}}`)
		}
		h(c.Context())
		return nil
	})
	return &tcFixture{fixture: f, rec: rec, tc: app}
}

// call posts an action and returns its Response member.
func (f *tcFixture) call(t *testing.T, action, key, body string, hdr ...string) map[string]json.RawMessage {
	t.Helper()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Test-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.tc.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d %s", action, resp.StatusCode, b)
	}
	var env struct{ Response map[string]json.RawMessage }
	if err := json.Unmarshal(b, &env); err != nil || env.Response == nil {
		t.Fatalf("%s: not an envelope: %s", action, b)
	}
	if _, ok := env.Response["RequestId"]; !ok {
		t.Fatalf("%s: no RequestId: %s", action, b)
	}
	return env.Response
}

func errCode(r map[string]json.RawMessage) string {
	var e struct{ Code string }
	if raw, ok := r["Error"]; ok {
		_ = json.Unmarshal(raw, &e)
	}
	return e.Code
}

func str(r map[string]json.RawMessage, name string) string {
	var s string
	_ = json.Unmarshal(r[name], &s)
	return s
}

func resultJSON(id string, flow contracts.SessionFlow, decision contracts.SessionState, code contracts.SessionCode, card bool) string {
	r := contracts.SessionResult{RequestID: id, Flow: flow, State: decision, Decision: decision, Code: code, Message: code.Message(),
		Reference: "order-7", CompletedAt: time.Now(), AvailableUntil: time.Now().Add(72 * time.Hour)}
	if card {
		r.Card = &contracts.CardData{Name: "测试会话通过", Gender: "男", Ethnicity: "汉", BirthDate: "19220222", IDCard: "110101192202220017",
			ValidityBegin: "20100305", ValidityEnd: "00000000", PhotoPNG: "cG5n"}
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// Each action pair: the create is forwarded as the flow's aggregator
// create and answers the token; repeated result reads bill the session
// once, or not at all, by its outcome.
func TestTencentActionsBillOnce(t *testing.T) {
	tests := []struct {
		name, create, createBody, tokenField, result, resultBody string
		flow                                                     contracts.SessionFlow
		decision                                                 contracts.SessionState
		code                                                     contracts.SessionCode
		card                                                     bool
		want                                                     Status
		check                                                    func(t *testing.T, r map[string]json.RawMessage)
	}{
		{"detect auth approved", tencent.ActionDetectAuth, `{"RuleId":"1","IdCard":"110101192202220017","Name":"测试会话通过","Extra":"order-7"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1"}`, contracts.FlowNFC, contracts.StateApproved, 0, true, Billed,
			func(t *testing.T, r map[string]json.RawMessage) {
				var text tencent.DetectInfoText
				if json.Unmarshal(r["Text"], &text) != nil || text.ErrCode == nil || *text.ErrCode != 0 || text.Extra != "order-7" || text.OcrValidDate != "2010.03.05-长期" {
					t.Errorf("text %s", r["Text"])
				}
			}},
		{"detect auth 2006", tencent.ActionDetectAuth, `{"RuleId":"1"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1","InfoType":"1"}`, contracts.FlowNFC, contracts.StateRejected, 2006, true, Billed, nil},
		{"detect auth 2016", tencent.ActionDetectAuth, `{"RuleId":"1"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1"}`, contracts.FlowNFC, contracts.StateRejected, 2016, true, Billed, nil},
		{"detect auth 2005", tencent.ActionDetectAuth, `{"RuleId":"1"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1"}`, contracts.FlowNFC, contracts.StateRejected, 2005, true, Released, nil},
		{"detect auth failed 16", tencent.ActionDetectAuth, `{"RuleId":"1"}`, "BizToken",
			tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"%s","RuleId":"1"}`, contracts.FlowNFC, contracts.StateFailed, 16, false, Released, nil},
		{"eid approved", tencent.ActionGetEidToken, `{"MerchantId":"m","Extra":"order-7"}`, "EidToken",
			tencent.ActionGetEidResult, `{"EidToken":"%s"}`, contracts.FlowAppAuth, contracts.StateApproved, 0, true, Billed,
			func(t *testing.T, r map[string]json.RawMessage) {
				var text tencent.DetectInfoText
				if json.Unmarshal(r["Text"], &text) != nil || *text.ErrCode != 0 || text.IdCard != "" {
					t.Errorf("text %s", r["Text"])
				}
			}},
		{"eid not verified", tencent.ActionGetEidToken, `{"MerchantId":"m"}`, "EidToken",
			tencent.ActionGetEidResult, `{"EidToken":"%s"}`, contracts.FlowAppAuth, contracts.StateFailed, contracts.CodeAppNotVerified, false, Released, nil},
		{"nfc read", tencent.ActionGetNFCToken, ``, "Token",
			tencent.ActionGetWxNFCResult, `{"NFCToken":"%s"}`, contracts.FlowNFCRead, contracts.StateApproved, 0, true, Billed,
			func(t *testing.T, r map[string]json.RawMessage) {
				if str(r, "ResultCode") != "0" || str(r, "IdNum") != "110101192202220017" || str(r, "EndTime") != "长期" || str(r, "IdType") != "01" {
					t.Errorf("answer %v", r)
				}
			}},
		{"nfc read failed", tencent.ActionGetNFCToken, `{}`, "Token",
			tencent.ActionGetWxNFCResult, `{"NFCToken":"%s"}`, contracts.FlowNFCRead, contracts.StateFailed, contracts.CodeNFCWrongCard, false, Released,
			func(t *testing.T, r map[string]json.RawMessage) {
				if str(r, "ResultCode") != "-1" || r["IdNum"] != nil {
					t.Errorf("answer %v", r)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newTCFixture(t, 0)
			id := "sess-tc"
			created := sessionJSON(id, contracts.StateCreated, 1, 0)
			f.up.set("POST "+contracts.SessionsPath, 201, created)
			r := f.call(t, tc.create, "acme-key", tc.createBody)
			if errCode(r) != "" || str(r, tc.tokenField) != id {
				t.Fatalf("create: %v", r)
			}
			if tc.create != tencent.ActionGetNFCToken && str(r, "Url") != "http://sim/phone/qr/x" {
				t.Errorf("create Url: %v", r)
			}
			var fwd contracts.CreateSessionRequest
			if err := json.Unmarshal([]byte(f.rec.last()), &fwd); err != nil || fwd.Flow != tc.flow || fwd.CallbackURL != "" {
				t.Fatalf("forwarded create %s", f.rec.last())
			}
			if u, _ := f.quota.Tenant("acme", time.Now()); u.Reserved != 1 {
				t.Fatalf("quota after create %+v", u)
			}
			body := strings.Replace(tc.resultBody, "%s", id, 1)

			// Not finished yet: 17 (an error for an NFC read, whose "-1"
			// would read as a failed read), nothing settled.
			f.up.set("GET "+contracts.SessionPath(id)+"/result", 409, `{"success":false,"error":{"code":"flow_not_finished","message":"m","session_code":17},"trace_id":"t"}`)
			r = f.call(t, tc.result, "acme-key", body)
			if tc.flow == contracts.FlowNFCRead {
				if errCode(r) != tencent.CodeFailedOperationUnknown {
					t.Errorf("pending nfc read: %v", r)
				}
			} else if errCode(r) != "" {
				t.Fatalf("pending read: %v", r)
			} else if !strings.Contains(string(r["Text"]), `"ErrCode":17`) {
				t.Errorf("pending read text %s", r["Text"])
			}
			if st, _ := f.svc.Status(id); st != Open {
				t.Fatalf("pending read settled the session: %s", st)
			}

			f.up.set("GET "+contracts.SessionPath(id)+"/result", 200, resultJSON(id, tc.flow, tc.decision, tc.code, tc.card))
			for range 3 {
				r = f.call(t, tc.result, "acme-key", body)
				if errCode(r) != "" {
					t.Fatalf("result: %v", r)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			}
			// The aggregator's result poll of the same session bills nothing more.
			if st, b := f.do(t, "GET", contracts.SessionPath(id)+"/result", "acme-key", ""); st != 200 {
				t.Fatalf("aggregator result: %d %s", st, b)
			}
			if st, _ := f.svc.Status(id); st != tc.want {
				t.Fatalf("status %s, want %s", st, tc.want)
			}
			wantBilled, wantUnbilled := 0, 1
			if tc.want == Billed {
				wantBilled, wantUnbilled = 1, 0
			}
			if b, ub := f.billingEntries(t, id); b != wantBilled || ub != wantUnbilled {
				t.Fatalf("outcome entries %d billed %d unbilled, want %d %d", b, ub, wantBilled, wantUnbilled)
			}
			u, _ := f.quota.Tenant("acme", time.Now())
			if u.Used != int64(wantBilled) || u.Reserved != 0 {
				t.Fatalf("quota %+v", u)
			}
		})
	}
}

// Refused requests: answered in FaceID's words, never forwarded, no unit
// taken, never billed.
func TestTencentRefusals(t *testing.T) {
	tests := []struct {
		name, action, key, body string
		quota                   int64
		upstream                func(f *tcFixture)
		wantCode                string
		wantCalls               int
		wantClass               billing.Class
	}{
		{"bad key", tencent.ActionDetectAuth, "nope", `{"RuleId":"1"}`, 0, nil, tencent.CodeSecretIDNotFound, 0, ""},
		{"missing rule", tencent.ActionDetectAuth, "acme-key", `{"Name":"x"}`, 0, nil, tencent.CodeMissingParameter, 0, billing.LocalReject},
		{"repeated key", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","RuleId":"2"}`, 0, nil, tencent.CodeInvalidParameter, 0, billing.LocalReject},
		{"extra too long", tencent.ActionGetEidToken, "acme-key", `{"MerchantId":"m","Extra":"` + strings.Repeat("e", 129) + `"}`, 0, nil, tencent.CodeInvalidParameterVal, 0, billing.LocalReject},
		{"encrypted identity", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Encryption":{"EncryptList":["Name"],"CiphertextBlob":"a","Iv":"b"}}`, 0, nil, tencent.CodeUnsupportedOperation, 0, billing.LocalReject},
		{"missing merchant", tencent.ActionGetEidToken, "acme-key", `{}`, 0, nil, tencent.CodeMissingParameter, 0, billing.LocalReject},
		{"nfc token not an object", tencent.ActionGetNFCToken, "acme-key", `[1]`, 0, nil, tencent.CodeInvalidParameter, 0, billing.LocalReject},
		{"quota used up", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1"}`, -1, nil, tencent.CodeLimitExceeded, 0, billing.QuotaExceeded},
		{"identity half given", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Name":"x"}`, 0, nil, tencent.CodeInvalidParameterVal, 0, billing.LocalReject},
		{"identity with a bad check character", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Name":"张三","IdCard":"110105194912310021"}`, 0, nil, tencent.CodeInvalidParameterVal, 0, billing.LocalReject},
		{"encrypted identity without private keys", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Name":"bg==","IdCard":"aQ==","Encryption":{"EncryptList":["Name","IdCard"],"CiphertextBlob":"Yg==","Iv":"aXY="}}`, 0, nil, tencent.CodeUnsupportedOperation, 0, billing.LocalReject},
		{"upstream refuses the identity", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Name":"张三","IdCard":"11010519491231002X"}`, 0, func(f *tcFixture) {
			f.up.set("POST "+contracts.SessionsPath, 400, `{"success":false,"error":{"code":"token_mismatched","message":"m"},"trace_id":"t"}`)
		}, tencent.CodeInvalidParameter, 1, billing.UpstreamError},
		{"missing biz token", tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"RuleId":"1"}`, 0, nil, tencent.CodeMissingParameter, 0, billing.LocalReject},
		{"missing nfc token", tencent.ActionGetWxNFCResult, "acme-key", `{}`, 0, nil, tencent.CodeMissingParameter, 0, billing.LocalReject},
		{"unknown biz token", tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"BizToken":"nope","RuleId":"1"}`, 0, nil, tencent.CodeBizTokenIllegal, 0, billing.LocalReject},
		{"unknown eid token", tencent.ActionGetEidResult, "acme-key", `{"EidToken":"nope"}`, 0, nil, tencent.CodeBizTokenIllegal, 0, billing.LocalReject},
		{"unknown nfc token", tencent.ActionGetWxNFCResult, "acme-key", `{"NFCToken":"nope"}`, 0, nil, tencent.CodeBizTokenIllegal, 0, billing.LocalReject},
		{"create body too large", tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1","Extra":"` + strings.Repeat("e", 1<<16) + `"}`, 0, nil, tencent.CodeRequestSizeLimit, 0, billing.LocalReject},
		{"result body too large", tencent.ActionGetEidResult, "acme-key", `{"EidToken":"` + strings.Repeat("e", 1<<16) + `"}`, 0, nil, tencent.CodeRequestSizeLimit, 0, billing.LocalReject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f *tcFixture
			if tc.quota < 0 {
				f = newTCFixture(t, 1)
				f.create(t, "first", "") // takes the tenant's one unit
			} else {
				f = newTCFixture(t, 0)
			}
			if tc.upstream != nil {
				tc.upstream(f)
			}
			before := f.rec.count()
			r := f.call(t, tc.action, tc.key, tc.body)
			if got := errCode(r); got != tc.wantCode {
				t.Fatalf("error %q, want %q: %v", got, tc.wantCode, r)
			}
			if calls := f.rec.count() - before; calls != tc.wantCalls {
				t.Errorf("%d upstream calls, want %d", calls, tc.wantCalls)
			}
			u, _ := f.quota.Tenant("acme", time.Now())
			if tc.quota < 0 {
				u.Reserved-- // the first session's unit
			}
			if u.Used != 0 || u.Reserved != 0 {
				t.Errorf("quota %+v", u)
			}
			if tc.wantClass == "" {
				return
			}
			es := f.led.Entries()
			last := es[len(es)-1]
			if last.Class != string(tc.wantClass) || last.Billed {
				t.Errorf("ledger entry %+v, want class %s", last, tc.wantClass)
			}
		})
	}
}

// Another tenant's token is unknown to this tenant; an expired session's
// is BizTokenExpired.
func TestTencentTokenScopeAndExpiry(t *testing.T) {
	f := newTCFixture(t, 0)
	f.create(t, "sess-a", "")
	calls := f.rec.count()
	if r := f.call(t, tencent.ActionGetDetectInfoEnhanced, "rival-key", `{"BizToken":"sess-a","RuleId":"1"}`); errCode(r) != tencent.CodeBizTokenIllegal {
		t.Fatalf("other tenant: %v", r)
	}
	if f.rec.count() != calls {
		t.Fatal("another tenant's token was forwarded")
	}
	// Unfinished, read by the action of another flow: the token is not
	// that action's (as the finished result would say), in both programs.
	f.up.set("GET "+contracts.SessionPath("sess-a")+"/result", 409, `{"success":false,"error":{"code":"flow_not_finished","message":"m","session_code":17},"trace_id":"t"}`)
	f.up.set("GET "+contracts.SessionPath("sess-a"), 200, sessionJSON("sess-a", contracts.StateScanned, 2, 0))
	if r := f.call(t, tencent.ActionGetWxNFCResult, "acme-key", `{"NFCToken":"sess-a"}`); errCode(r) != tencent.CodeBizTokenIllegal {
		t.Fatalf("pending, another flow: %v", r)
	}
	if r := f.call(t, tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"BizToken":"sess-a","RuleId":"1"}`); !strings.Contains(string(r["Text"]), `"ErrCode":17`) {
		t.Fatalf("pending, its own flow: %v", r)
	}
	f.up.set("GET "+contracts.SessionPath("sess-a")+"/result", 410, `{"success":false,"error":{"code":"session_expired","message":"m","session_code":15},"trace_id":"t"}`)
	if r := f.call(t, tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"BizToken":"sess-a","RuleId":"1"}`); errCode(r) != tencent.CodeBizTokenExpired {
		t.Fatalf("expired: %v", r)
	}
	f.up.set("GET "+contracts.SessionPath("sess-a")+"/result", 404, `{"success":false,"error":{"code":"session_not_found","message":"m"},"trace_id":"t"}`)
	if r := f.call(t, tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"BizToken":"sess-a","RuleId":"1"}`); errCode(r) != tencent.CodeBizTokenIllegal {
		t.Fatalf("swept upstream: %v", r)
	}
	f.up.set("GET "+contracts.SessionPath("sess-a")+"/result", 502, `<html>`)
	if r := f.call(t, tencent.ActionGetDetectInfoEnhanced, "acme-key", `{"BizToken":"sess-a","RuleId":"1"}`); errCode(r) != tencent.CodeInternalError {
		t.Fatalf("upstream garbage: %v", r)
	}
	if st, _ := f.svc.Status("sess-a"); st != Open {
		t.Fatalf("status %s", st)
	}
}

// Idempotency-Key on the token actions: a repeat replays the answer
// without a second session or unit; the key reused for another action or
// body is refused.
func TestTencentIdempotency(t *testing.T) {
	f := newTCFixture(t, 0)
	f.up.set("POST "+contracts.SessionsPath, 201, sessionJSON("sess-i", contracts.StateCreated, 1, 0))
	first := f.call(t, tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1"}`, "Idempotency-Key", "k1")
	again := f.call(t, tencent.ActionDetectAuth, "acme-key", `{"RuleId":"1"}`, "Idempotency-Key", "k1")
	if str(first, "BizToken") != "sess-i" || string(first["BizToken"]) != string(again["BizToken"]) || string(first["RequestId"]) != string(again["RequestId"]) {
		t.Fatalf("replay %v, first %v", again, first)
	}
	if n := f.up.calls["POST "+contracts.SessionsPath]; n != 1 {
		t.Fatalf("%d upstream creates", n)
	}
	if u, _ := f.quota.Tenant("acme", time.Now()); u.Reserved != 1 {
		t.Fatalf("quota %+v", u)
	}
	if r := f.call(t, tencent.ActionGetNFCToken, "acme-key", `{"RuleId":"1"}`, "Idempotency-Key", "k1"); errCode(r) != tencent.CodeInvalidParameter {
		t.Fatalf("another action with the key: %v", r)
	}
	if r := f.call(t, tencent.ActionDetectAuth, "acme-key", `{"RuleId":"2"}`, "Idempotency-Key", "k1"); errCode(r) != tencent.CodeInvalidParameter {
		t.Fatalf("another body with the key: %v", r)
	}
}

// FuzzTencentActionBody: whatever the body of a FaceID session action,
// the answer is HTTP 200 with an envelope, never an internal error while
// the upstream works, and a body refused with an error is never forwarded
// and takes no quota unit.
func FuzzTencentActionBody(f *testing.F) {
	actions := []string{tencent.ActionDetectAuth, tencent.ActionGetEidToken, tencent.ActionGetNFCToken,
		tencent.ActionGetDetectInfoEnhanced, tencent.ActionGetEidResult, tencent.ActionGetWxNFCResult}
	for i, s := range []string{`{"RuleId":"1"}`, `{"MerchantId":"m","Config":{"InputType":"4"}}`, ``, `{"BizToken":"sess-f","RuleId":"1"}`,
		`{"EidToken":"sess-f"}`, `{"NFCToken":"sess-f"}`, `{"RuleId":"1","Extra":"\u0000"}`, `[]`, `{`, "{\"RuleId\":\"\xff\"}"} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, a uint8, body []byte) {
		fx := newTCFixture(t, 0)
		fx.create(t, "sess-f", "")
		fx.up.set("POST "+contracts.SessionsPath, 201, sessionJSON("sess-n", contracts.StateCreated, 1, 0))
		fx.up.set("GET "+contracts.SessionPath("sess-f")+"/result", 200, resultJSON("sess-f", contracts.FlowNFC, contracts.StateApproved, 0, true))
		before := fx.rec.count()
		r := fx.call(t, actions[int(a)%len(actions)], "acme-key", string(body))
		code := errCode(r)
		if code == tencent.CodeInternalError {
			t.Fatalf("body %q: internal error %v", body, r)
		}
		// BizTokenIllegal may come after the read: a token of another
		// action's flow, whose outcome is billed all the same.
		if code != "" && code != tencent.CodeBizTokenIllegal && fx.rec.count() != before {
			t.Fatalf("refused body %q (%s) was forwarded", body, code)
		}
		if code != "" && code != tencent.CodeBizTokenIllegal {
			if u, _ := fx.quota.Tenant("acme", time.Now()); u.Used != 0 || u.Reserved > 1 {
				t.Fatalf("refused body %q (%s) took a unit: %+v", body, code, u)
			}
		}
	})
}
