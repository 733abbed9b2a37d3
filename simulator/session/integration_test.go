package session_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
)

// TestBinarySessionFlow walks the NFC flow through the real simulator
// binary, with a webhook receiver that checks every signature, and reads
// the delivery journal through the admin API.
func TestBinarySessionFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the simulator binary")
	}
	const secret = "integration-secret"
	var mu sync.Mutex
	states := map[int64]contracts.SessionState{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := contracts.VerifyWebhook([]byte(secret), r.Header.Get(contracts.WebhookTimestampHeader),
			r.Header.Get(contracts.WebhookSignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev contracts.SessionEvent
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		states[ev.Version] = ev.State
		mu.Unlock()
	}))
	defer hook.Close()

	base := testkit.StartSim(t, "IDGATE_SIM_CONFIG=", "IDGATE_SIM_TOKENS=tenant-a", "IDGATE_SIM_ADMIN_TOKEN=admin-a",
		"IDGATE_SIM_SESSIONS_TIME_SCALE=0.001", "IDGATE_SIM_WEBHOOK_SECRET="+secret).URL

	call := func(method, path, token, prefer string, body any, want int, out any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		status, got := testkit.Call(t, method, base+path, token, string(b), "Prefer", prefer)
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(got), out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}

	var s contracts.Session
	call("POST", contracts.SessionsPath, "tenant-a", "", contracts.CreateSessionRequest{CallbackURL: hook.URL}, 201, &s)
	call("GET", contracts.SessionPath(s.RequestID), "nobody", "", nil, 401, nil)
	pp := "/phone/sessions/" + s.RequestID
	call("POST", "/phone/open", "", "", map[string]string{"request_id": s.RequestID}, 200, nil)
	call("POST", pp+"/nfc", "", "", map[string]any{"device": map[string]string{"platform": "ios", "os_version": "16.0"}}, 200, nil)
	call("POST", pp+"/confirm", "", "", nil, 200, nil)
	call("POST", pp+"/liveness", "", "", nil, 200, nil)
	deadline := time.Now().Add(10 * time.Second)
	for s.State != contracts.StateApproved {
		if time.Now().After(deadline) {
			t.Fatalf("review did not finish: %s", s.State)
		}
		time.Sleep(50 * time.Millisecond)
		call("GET", contracts.SessionPath(s.RequestID), "tenant-a", "", nil, 200, &s)
	}
	var r contracts.SessionResult
	call("GET", contracts.SessionPath(s.RequestID)+"/result", "tenant-a", "", nil, 200, &r)
	if r.Decision != contracts.StateApproved || r.Billing != contracts.Billed || r.Card == nil || r.Card.PhotoPNG == "" {
		t.Fatalf("result %+v", r)
	}
	var j struct{ Deliveries []map[string]any }
	for {
		call("GET", "/admin/sessions/webhooks?request_id="+s.RequestID, "admin-a", "", nil, 200, &j)
		if len(j.Deliveries) == 7 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(j.Deliveries) != 7 || len(states) != 7 || states[7] != contracts.StateApproved {
		t.Fatalf("webhooks %v, journal %d entries", states, len(j.Deliveries))
	}
}
