package session

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
)

func newApp(t *testing.T) (*fiber.App, *Service, *FakeClock) {
	t.Helper()
	s, clk := newSvc(t, nil)
	app := fiber.New(fiber.Config{CaseSensitive: true, StrictRouting: true})
	Register(app, s, TokenAuth([]string{tok}, "admin-token"))
	return app, s, clk
}

type call struct {
	method, path, token, prefer, body string
	wantStatus                        int
	wantCode                          contracts.ErrorCode
	wantSession                       contracts.SessionCode
}

func do(t *testing.T, app *fiber.App, c call) []byte {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.prefer != "" {
		req.Header.Set("Prefer", c.prefer)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.wantStatus {
		t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, b, c.wantStatus)
	}
	if c.wantCode != "" {
		var e contracts.SessionErrorBody
		if err := json.Unmarshal(b, &e); err != nil || e.Success || e.Error.Code != c.wantCode || e.Error.SessionCode != c.wantSession || e.TraceID == "" || e.Error.Message == "" {
			t.Fatalf("%s %s: body %s, want code %s/%d", c.method, c.path, b, c.wantCode, c.wantSession)
		}
	}
	return b
}

func TestHTTPFlow(t *testing.T) {
	app, _, clk := newApp(t)
	do(t, app, call{method: "POST", path: contracts.SessionsPath, wantStatus: 401, wantCode: contracts.ErrInvalidToken})
	do(t, app, call{method: "POST", path: contracts.SessionsPath, token: "wrong", wantStatus: 401, wantCode: contracts.ErrInvalidToken})
	do(t, app, call{method: "POST", path: contracts.SessionsPath, token: tok, body: "[1]", wantStatus: 400, wantCode: contracts.ErrTokenMismatched})
	b := do(t, app, call{method: "POST", path: contracts.SessionsPath, token: tok, prefer: "review=2016",
		body: `{"name":"张三","id_card":"11010519491231002X","reference":"r-1"}`, wantStatus: 201})
	var s contracts.Session
	if err := json.Unmarshal(b, &s); err != nil || s.State != contracts.StateCreated || s.QRPNG == "" || !strings.HasPrefix(s.QRURL, "http://example.com/phone/qr/") {
		t.Fatalf("created %s", b)
	}
	id := s.RequestID
	path := contracts.SessionPath(id)
	do(t, app, call{method: "GET", path: path, token: "wrong", wantStatus: 401})
	do(t, app, call{method: "GET", path: contracts.SessionPath("nope"), token: tok, wantStatus: 404, wantCode: contracts.ErrSessionNotFound})
	do(t, app, call{method: "GET", path: path + "/result", token: tok, wantStatus: 409, wantCode: contracts.ErrFlowNotFinished, wantSession: contracts.CodeNotFinished})
	do(t, app, call{method: "POST", path: path + "/qr", token: tok, wantStatus: 409, wantCode: contracts.ErrStepOutOfOrder})

	req := httptest.NewRequest("GET", path+"/qr", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, _ := app.Test(req, -1)
	png, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("qr: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	qrToken := s.QRURL[strings.LastIndex(s.QRURL, "/")+1:]
	req = httptest.NewRequest("GET", "/phone/qr/"+qrToken, nil)
	resp, _ = app.Test(req, -1)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/?qr="+qrToken {
		t.Fatalf("scan redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	b = do(t, app, call{method: "GET", path: PhoneSessions, token: tok, wantStatus: 200})
	if !strings.Contains(string(b), id) || strings.Contains(string(b), "张三") {
		t.Fatalf("live list: %s", b)
	}
	do(t, app, call{method: "GET", path: PhoneSessions, wantStatus: 401, wantCode: contracts.ErrInvalidToken})
	pp := PhoneSessions + "/" + id
	do(t, app, call{method: "POST", path: pp + "/confirm", wantStatus: 409, wantCode: contracts.ErrStepOutOfOrder})
	do(t, app, call{method: "POST", path: PhoneOpen, body: `{"qr_token":"` + qrToken + `","permission_granted":true}`, wantStatus: 200})
	do(t, app, call{method: "POST", path: PhoneOpen, body: `{"qr_token":"` + qrToken + `"}`, wantStatus: 409, wantCode: contracts.ErrQRAlreadyUsed})
	do(t, app, call{method: "POST", path: pp + "/nfc", body: `{"device":{"platform":"android","model":"vivo X100","os_version":"14"}}`,
		prefer: "nfc=bogus", wantStatus: 400, wantCode: contracts.ErrTokenMismatched})
	b = do(t, app, call{method: "POST", path: pp + "/nfc", body: `{"device":{"platform":"android","model":"vivo X100","os_version":"14"}}`,
		prefer: "nfc=66664026", wantStatus: 200})
	var v PhoneView
	_ = json.Unmarshal(b, &v)
	if v.State != contracts.StateScanned || v.Error == nil || v.Error.Code != contracts.CodeNFCCardMoved2 || v.AttemptsLeft != 2 {
		t.Fatalf("retryable read: %s", b)
	}
	b = do(t, app, call{method: "POST", path: pp + "/nfc", body: `{"device":{"platform":"ios","model":"iPhone 14","os_version":"16.5"}}`, wantStatus: 200})
	_ = json.Unmarshal(b, &v)
	if v.State != contracts.StateCardRead || v.Card == nil || v.Card.IDCard != "11010519491231002X" {
		t.Fatalf("read: %s", b)
	}
	do(t, app, call{method: "POST", path: pp + "/confirm", wantStatus: 200})
	do(t, app, call{method: "POST", path: pp + "/liveness", body: `{"mode":"blink"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched})
	do(t, app, call{method: "POST", path: pp + "/liveness", body: `{"mode":"action"}`, wantStatus: 200})
	clk.Advance(contracts.SessionDefaultReview)
	b = do(t, app, call{method: "GET", path: path + "/result", token: tok, wantStatus: 200})
	var r contracts.SessionResult
	if err := json.Unmarshal(b, &r); err != nil || r.Decision != contracts.StateRejected || r.Code != contracts.CodeSimilarityLow || r.Billing != contracts.Billed || r.Card == nil || r.Liveness.Mode != "action" {
		t.Fatalf("result %s", b)
	}
	do(t, app, call{method: "POST", path: pp + "/liveness", wantStatus: 409, wantCode: contracts.ErrSessionCompleted, wantSession: contracts.CodeAlreadyComplete})
	do(t, app, call{method: "GET", path: AdminWebhookPath, token: tok, wantStatus: 401})
	do(t, app, call{method: "GET", path: AdminWebhookPath + "?request_id=" + id, token: "admin-token", wantStatus: 200})

	do(t, app, call{method: "PUT", path: "/admin/sessions/scenarios/" + tok, token: tok, body: `{"prefer":"review=2005"}`, wantStatus: 401})
	do(t, app, call{method: "PUT", path: "/admin/sessions/scenarios/" + tok, token: "admin-token", body: `{"prefer":"review=9"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched})
	do(t, app, call{method: "PUT", path: "/admin/sessions/scenarios/" + tok, token: "admin-token", body: `{"prefer":"app_auth=not_verified"}`, wantStatus: 200})
	if b := do(t, app, call{method: "GET", path: "/admin/sessions/scenarios/" + tok, token: "admin-token", wantStatus: 200}); !strings.Contains(string(b), "not_verified") {
		t.Fatalf("scenario: %s", b)
	}
	b = do(t, app, call{method: "POST", path: contracts.SessionsPath, token: tok, body: `{"flow":"app_auth"}`, wantStatus: 201})
	_ = json.Unmarshal(b, &s)
	do(t, app, call{method: "POST", path: PhoneOpen, body: `{"request_id":"` + s.RequestID + `"}`, wantStatus: 200})
	b = do(t, app, call{method: "POST", path: PhoneSessions + "/" + s.RequestID + "/authorize", wantStatus: 200})
	if !strings.Contains(string(b), `"code":7001`) {
		t.Fatalf("scenario not applied: %s", b)
	}
	do(t, app, call{method: "DELETE", path: "/admin/sessions/scenarios/" + tok, token: "admin-token", wantStatus: 204})
	if b := do(t, app, call{method: "GET", path: "/admin/sessions/scenarios/" + tok, token: "admin-token", wantStatus: 200}); string(b) != `{"prefer":""}` {
		t.Fatalf("scenario after delete: %s", b)
	}
}

func TestPreferenceApplied(t *testing.T) {
	app, _, _ := newApp(t)
	tests := []struct{ prefer, want string }{
		{"review=rejected, result=-5", "review=2006"},
		{"result=-5", ""},
		{"ttl=30s", "ttl=30s"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", contracts.SessionsPath, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Prefer", tt.prefer)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 201 || resp.Header.Get("Preference-Applied") != tt.want {
			t.Errorf("Prefer %q: %d, Preference-Applied %q, want %q", tt.prefer, resp.StatusCode, resp.Header.Get("Preference-Applied"), tt.want)
		}
	}
}

// TestBodyRules: every JSON body the routes read is bounded by the body
// limit and read as the gateway reads a session body (one object, no key
// repeated, exact field names, unknown keys ignored); the admin scenario
// body also refuses unknown keys and programs only configured tokens.
// Every refusal is 400 token_mismatched before anything changes.
func TestBodyRules(t *testing.T) {
	s, _ := newSvc(t, nil)
	app := fiber.New(fiber.Config{CaseSensitive: true, StrictRouting: true})
	const limit = 256
	Register(app, s, TokenAuth([]string{tok}, "admin-token"), WithBodyLimit(limit))
	big := `{"reference":"` + strings.Repeat("r", limit) + `"}`
	scen := "/admin/sessions/scenarios/" + tok
	const nope = "/phone/sessions/nope"
	for _, tc := range []struct {
		name         string
		c            call
		admin        bool
		wantScenario string // the token's scenario after the call
	}{
		{"create: unknown key ignored", call{method: "POST", path: contracts.SessionsPath, body: `{"reference":"r","extra":1}`, wantStatus: 201}, false, ""},
		{"create: repeated id_card", call{method: "POST", path: contracts.SessionsPath, body: `{"id_card":"110101192202220017","id_card":"11010519491231002X"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"create: field name in another case", call{method: "POST", path: contracts.SessionsPath, body: `{"Name":"张三"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"create: data after the object", call{method: "POST", path: contracts.SessionsPath, body: `{} {}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"create: over the body limit", call{method: "POST", path: contracts.SessionsPath, body: big, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"open: repeated key", call{method: "POST", path: PhoneOpen, body: `{"request_id":"a","request_id":"b"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"open: over the body limit", call{method: "POST", path: PhoneOpen, body: big, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"open: unknown key ignored", call{method: "POST", path: PhoneOpen, body: `{"request_id":"nope","x":1}`, wantStatus: 404, wantCode: contracts.ErrSessionNotFound}, false, ""},
		{"nfc: device field in another case", call{method: "POST", path: nope + "/nfc", body: `{"device":{"Platform":"android"}}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"nfc: wrong type", call{method: "POST", path: nope + "/nfc", body: `{"device":"pixel"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"liveness: repeated mode", call{method: "POST", path: nope + "/liveness", body: `{"mode":"silent","mode":"lip"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, false, ""},
		{"scenario: set", call{method: "PUT", path: scen, body: `{"prefer":"review=2016"}`, wantStatus: 200}, true, "review=2016"},
		{"scenario: unknown key", call{method: "PUT", path: scen, body: `{"prefer":"review=2005","ttl":"1s"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, true, "review=2016"},
		{"scenario: repeated prefer", call{method: "PUT", path: scen, body: `{"prefer":"","prefer":"review=2005"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, true, "review=2016"},
		{"scenario: data after the object", call{method: "PUT", path: scen, body: `{"prefer":"review=2005"}{}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, true, "review=2016"},
		{"scenario: over the body limit", call{method: "PUT", path: scen, body: `{"prefer":"` + strings.Repeat(" ", limit) + `"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, true, "review=2016"},
		{"scenario: unknown token", call{method: "PUT", path: "/admin/sessions/scenarios/other-token", body: `{"prefer":"review=2005"}`, wantStatus: 400, wantCode: contracts.ErrTokenMismatched}, true, "review=2016"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if tc.admin {
				c.token = "admin-token"
			} else if strings.HasPrefix(c.path, contracts.SessionsPath) {
				c.token = tok
			}
			do(t, app, c)
			if got := s.Scenario(tok); got != tc.wantScenario {
				t.Fatalf("scenario %q, want %q", got, tc.wantScenario)
			}
			if got := s.Scenario("other-token"); got != "" {
				t.Fatalf("unknown token programmed: %q", got)
			}
		})
	}
}
