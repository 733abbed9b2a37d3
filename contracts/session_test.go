package contracts

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts/idcard"
)

func TestSessionTypesMatchOpenAPI(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components.Schemas
	tests := []struct {
		schema string
		typ    reflect.Type
	}{
		{"CreateSessionRequest", reflect.TypeOf(CreateSessionRequest{})},
		{"Session", reflect.TypeOf(Session{})},
		{"SessionFailure", reflect.TypeOf(SessionFailure{})},
		{"SessionResult", reflect.TypeOf(SessionResult{})},
		{"CardData", reflect.TypeOf(CardData{})},
		{"LivenessResult", reflect.TypeOf(LivenessResult{})},
		{"SessionEvent", reflect.TypeOf(SessionEvent{})},
		{"SessionErrorBody", reflect.TypeOf(SessionErrorBody{})},
	}
	for _, tt := range tests {
		ref, ok := schemas[tt.schema]
		if !ok {
			t.Errorf("schema %s missing from openapi.yaml", tt.schema)
			continue
		}
		goAll, goReq := jsonFields(tt.typ)
		specAll, specReq := schemaFields(ref.Value)
		if !reflect.DeepEqual(goAll, specAll) {
			t.Errorf("%s: Go fields %v, OpenAPI properties %v", tt.schema, goAll, specAll)
		}
		// The server always sends the fields without omitempty.
		if !reflect.DeepEqual(goReq, specReq) {
			t.Errorf("%s: Go required %v, OpenAPI required %v", tt.schema, goReq, specReq)
		}
	}
	detailAll, detailReq := jsonFields(reflect.TypeOf(SessionErrorDetail{}))
	specAll, specReq := schemaFields(schemas["SessionErrorBody"].Value.Properties["error"].Value)
	if !reflect.DeepEqual(detailAll, specAll) || !reflect.DeepEqual(detailReq, specReq) {
		t.Errorf("SessionErrorDetail: Go %v %v, OpenAPI %v %v", detailAll, detailReq, specAll, specReq)
	}

	var states []string
	for _, s := range SessionStates {
		states = append(states, string(s))
	}
	if got := enumStrings(schemas["SessionState"].Value); !reflect.DeepEqual(got, states) {
		t.Errorf("SessionState enum %v, Go %v", got, states)
	}
	if got := enumStrings(schemas["SessionFlow"].Value); !reflect.DeepEqual(got, []string{string(FlowNFC), string(FlowAppAuth), string(FlowNFCRead)}) {
		t.Errorf("SessionFlow enum %v", got)
	}
	var codes, specCodes []string
	for _, c := range SessionCodes {
		codes = append(codes, fmt.Sprint(int(c.Code)))
	}
	for _, v := range schemas["SessionCode"].Value.Enum {
		if f, ok := v.(float64); ok {
			v = int64(f)
		}
		specCodes = append(specCodes, fmt.Sprint(v))
	}
	if !reflect.DeepEqual(codes, specCodes) {
		t.Errorf("SessionCode enum %v, Go %v", specCodes, codes)
	}
	errs := []string{}
	for _, e := range SessionErrors {
		errs = append(errs, string(e.Code))
	}
	errs = append(errs, string(ErrTokenMismatched), string(ErrInvalidToken), string(ErrAPIError))
	if got := enumStrings(schemas["SessionErrorCode"].Value); !reflect.DeepEqual(got, errs) {
		t.Errorf("SessionErrorCode enum %v, Go %v", got, errs)
	}

	ops := []struct {
		path, method string
		statuses     []int
	}{
		{SessionsPath, "POST", []int{201, 400, 401, 429, 500}},
		{SessionPathTemplate, "GET", []int{200, 401, 404}},
		{SessionResultPathTmpl, "GET", []int{200, 401, 404, 409, 410}},
		{SessionQRPathTmpl, "GET", []int{200, 401, 404, 410}},
		{SessionQRPathTmpl, "POST", []int{200, 401, 404, 409}},
	}
	for _, o := range ops {
		item := doc.Paths.Value(o.path)
		if item == nil {
			t.Errorf("openapi.yaml has no path %s", o.path)
			continue
		}
		op := item.GetOperation(o.method)
		if op == nil {
			t.Errorf("openapi.yaml has no %s %s", o.method, o.path)
			continue
		}
		for _, st := range o.statuses {
			if op.Responses.Status(st) == nil {
				t.Errorf("%s %s documents no %d", o.method, o.path, st)
			}
		}
	}
	if cb := doc.Paths.Value(SessionsPath).Post.Callbacks["sessionStateChanged"]; cb == nil {
		t.Error("createSession documents no webhook callback")
	}
}

func TestSessionCodeTable(t *testing.T) {
	billed := map[SessionCode]bool{CodeOK: true, CodeNameIDMismatch: true, CodeSimilarityLow: true}
	seen := map[SessionCode]bool{}
	for _, c := range SessionCodes {
		if seen[c.Code] {
			t.Errorf("code %d listed twice", c.Code)
		}
		seen[c.Code] = true
		if (c.Billing == Billed) != billed[c.Code] {
			t.Errorf("code %d billing %s", c.Code, c.Billing)
		}
		if c.Message == "" || c.Code.Message() != c.Message {
			t.Errorf("code %d message %q", c.Code, c.Message)
		}
		if got, ok := LookupSessionCode(c.Code); !ok || got != c {
			t.Errorf("LookupSessionCode(%d) = %v, %v", c.Code, got, ok)
		}
	}
	// The authority's eID, NFC SDK and face-flow documentation name these;
	// each must be in the table.
	for _, c := range []SessionCode{14, 15, 16, 17, 301, 302, 303, 600100, 600101, 600102, 600103, 600104, 600105, 600106,
		66664020, 66664021, 66664023, 66664024, 66664025, 66664026, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 2005, 2006, 2016} {
		if !seen[c] {
			t.Errorf("session code %d of the authority is missing from the table", c)
		}
	}
	for _, e := range SessionErrors {
		if got, ok := LookupSessionError(e.Code); !ok || got != e || e.Status < 400 {
			t.Errorf("LookupSessionError(%s) = %v, %v", e.Code, got, ok)
		}
	}
	if e, ok := LookupSessionError(ErrInvalidToken); !ok || e.Status != 401 {
		t.Errorf("session errors must fall back to the check API's: %v %v", e, ok)
	}
	body := NewSessionError(ErrSessionExpired, "", "trace")
	if body.Success || body.Error.SessionCode != CodeTokenExpired || body.Error.Message == "" {
		t.Errorf("NewSessionError: %+v", body)
	}
	for _, s := range SessionStates {
		if s.Completed() && !s.Final() {
			t.Errorf("%s completed but not final", s)
		}
	}
	if StateExpired.Final() {
		t.Error("expired must not be final: its QR code can be regenerated")
	}
}

func TestSessionMagicsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range SessionMagics {
		if _, err := idcard.ParseAt(m.IDCard, time.Now()); err != nil {
			t.Errorf("%s: %v", m.IDCard, err)
		}
		if err := idcard.ValidateName(m.Name); err != nil {
			t.Errorf("%s name %s: %v", m.IDCard, m.Name, err)
		}
		if _, clash := LookupMagic(m.IDCard); clash || seen[m.IDCard] {
			t.Errorf("%s is not unique", m.IDCard)
		}
		seen[m.IDCard] = true
		if got, ok := LookupSessionMagic(m.IDCard); !ok || got != m {
			t.Errorf("LookupSessionMagic(%s)", m.IDCard)
		}
	}
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	ts, sig := SignWebhook(secret, now, body)
	tests := []struct {
		name      string
		secret    []byte
		ts, sig   string
		body      []byte
		at        time.Time
		wantError error
	}{
		{"valid", secret, ts, sig, body, now, nil},
		{"clock skew within tolerance", secret, ts, sig, body, now.Add(-4 * time.Minute), nil},
		{"tampered body", secret, ts, sig, []byte(`{"a":2}`), now, ErrWebhookSignature},
		{"wrong secret", []byte("other"), ts, sig, body, now, ErrWebhookSignature},
		{"replayed late", secret, ts, sig, body, now.Add(6 * time.Minute), ErrWebhookStale},
		{"timestamp from the future", secret, ts, sig, body, now.Add(-6 * time.Minute), ErrWebhookStale},
		{"bad timestamp", secret, "yesterday", sig, body, now, ErrWebhookStale},
		{"no scheme", secret, ts, sig[3:], body, now, ErrWebhookSignature},
		{"not hex", secret, ts, "v1=zz", body, now, ErrWebhookSignature},
	}
	for _, tt := range tests {
		if err := VerifyWebhook(tt.secret, tt.ts, tt.sig, tt.body, tt.at, 5*time.Minute); err != tt.wantError {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.wantError)
		}
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("1700000000", "v1=00", []byte("{}"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		now := time.Unix(1_700_000_000, 0)
		// Only a signature made with the secret may verify.
		if VerifyWebhook([]byte("k"), ts, sig, body, now, time.Hour) == nil {
			if _, want := SignWebhook([]byte("k"), now, body); ts == "1700000000" && sig != want {
				t.Fatalf("forged signature %q verified", sig)
			}
		}
	})
}
