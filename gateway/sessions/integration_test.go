package sessions_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
)

// These tests run the real gateway and simulator binaries: the simulator
// plays the authority and, through its phone API, the user's phone.

const (
	adminToken   = "sessions-admin-token"
	acmeSecret   = "acme-webhook-secret"
	upstreamHook = "sessions-upstream-secret"
	// Review takes 15 min × 0.0005 = 0.45 s.
	timeScale = "0.0005"
)

type stack struct {
	sim, gw, admin string
	store, cfg     string
	gwProc         *testkit.Proc
	gwAddr         string
	adminAddr      string
}

// newStack starts a simulator and a gateway with two tenants: acme (key
// acme-key, Tencent pair acme-sid / acme-skey, daily quota acmeQuota, 0 =
// unlimited) and rival (rival-key).
func newStack(t *testing.T, acmeQuota int) *stack {
	t.Helper()
	s := &stack{sim: testkit.StartSim(t, "IDGATE_SIM_SESSIONS_TIME_SCALE="+timeScale, "IDGATE_SIM_WEBHOOK_SECRET="+upstreamHook).URL}
	dir := t.TempDir()
	s.store, s.cfg = filepath.Join(dir, "ledger.db"), filepath.Join(dir, "gateway.yaml")
	s.gwAddr, s.adminAddr = testkit.FreeAddr(t), testkit.FreeAddr(t)
	cfg := fmt.Sprintf(`listen: %s
admin: {listen: %s, token: %s}
upstream: {url: %s, token: sim-token}
store: {path: %s, linger: 1ms}
sessions:
  enabled: true
  forward_prefer: true
  upstream_webhook_secret: %s
  tenant_webhook_secrets: {acme: %s}
  callbacks: {schemes: [http], allow_networks: [127.0.0.0/8]}
  delivery: {max_attempts: 4, initial_backoff: 50ms, max_backoff: 200ms, timeout: 2s, workers: 2, queue_size: 100}
  reconcile_after: 1s
  reconcile_interval: 200ms
tenants:
  - {id: acme, daily_quota: %d, rate: 1000, burst: 1000, keys: [{id: acme-1, key: acme-key, secret_id: acme-sid, secret_key: acme-skey}]}
  - {id: rival, rate: 1000, burst: 1000, keys: [{id: rival-1, key: rival-key}]}
`, s.gwAddr, s.adminAddr, adminToken, s.sim, s.store, upstreamHook, acmeSecret, acmeQuota)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.startGateway(t)
	return s
}

func (s *stack) startGateway(t *testing.T) {
	t.Helper()
	bin := testkit.Build(t, "./gateway/cmd/gateway")
	s.gwProc = testkit.Start(t, bin, []string{"-config", s.cfg}, nil, "http://"+s.gwAddr+"/healthz")
	s.gw, s.admin = "http://"+s.gwAddr, "http://"+s.adminAddr
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, token string, body any, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decode %T: %v (%s)", v, err, a.body)
	}
	return v
}

func (s *stack) create(t *testing.T, token string, req contracts.CreateSessionRequest, prefer string) contracts.Session {
	t.Helper()
	var hdr []string
	if prefer != "" {
		hdr = []string{"Prefer", prefer}
	}
	a := call(t, "POST", s.gw+contracts.SessionsPath, token, req, hdr...)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	return decode[contracts.Session](t, a)
}

// walk plays the phone up to liveness against the simulator directly.
func walk(t *testing.T, sim, id string) {
	t.Helper()
	steps := []struct {
		path string
		body any
	}{
		{"/phone/open", map[string]any{"request_id": id}},
		{"/phone/sessions/" + id + "/nfc", map[string]any{"device": map[string]string{"platform": "android", "model": "Xiaomi 14", "os_version": "14"}}},
		{"/phone/sessions/" + id + "/confirm", nil},
		{"/phone/sessions/" + id + "/liveness", map[string]string{"mode": "silent"}},
	}
	for _, st := range steps {
		a := call(t, "POST", sim+st.path, "", st.body)
		if a.status != http.StatusOK {
			t.Fatalf("phone %s: %d %s", st.path, a.status, a.body)
		}
	}
}

// waitState polls the gateway until the session reaches want.
func (s *stack) waitState(t *testing.T, token, id string, want contracts.SessionState) contracts.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := call(t, "GET", s.gw+contracts.SessionPath(id), token, nil)
		if a.status != http.StatusOK {
			t.Fatalf("status: %d %s", a.status, a.body)
		}
		v := decode[contracts.Session](t, a)
		if v.State == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s is %s, want %s", id, v.State, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type usage struct {
	Limit, Used, Reserved, Remaining int64
}

func (s *stack) quota(t *testing.T, tenant string) usage {
	t.Helper()
	a := call(t, "GET", s.admin+"/admin/quota?tenant="+tenant, adminToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("quota: %d %s", a.status, a.body)
	}
	var v struct {
		Quotas []struct {
			Tenant string `json:"tenant"`
			Quota  usage  `json:"quota"`
		} `json:"quotas"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatal(err)
	}
	for _, q := range v.Quotas {
		if q.Tenant == tenant {
			return q.Quota
		}
	}
	return usage{}
}

// ledger returns the ledger rows (as CSV records keyed by header) of tenant.
func (s *stack) ledger(t *testing.T, tenant string) []map[string]string {
	t.Helper()
	a := call(t, "GET", s.admin+"/admin/ledger.csv?tenant="+tenant, adminToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("ledger: %d %s", a.status, a.body)
	}
	recs, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// billingRows are the session outcome entries of one session.
func billingRows(rows []map[string]string, id string) (billed, unbilled int) {
	for _, r := range rows {
		if r["route"] != "sessions" || r["request_id"] != id {
			continue
		}
		if r["billed"] == "true" {
			billed++
		} else {
			unbilled++
		}
	}
	return
}

// Twenty pollers hammer status and result while review finishes: one
// billing entry, one quota unit. A restart and more polls change nothing.
func TestBilledOnceUnderConcurrentPollersAndRestart(t *testing.T) {
	s := newStack(t, 0)
	cases := []struct {
		name     string
		req      contracts.CreateSessionRequest
		prefer   string
		final    contracts.SessionState
		code     string
		billed   bool
		idMasked string
	}{
		{"approved (magic)", contracts.CreateSessionRequest{Name: "测试会话通过", IDCard: "110101192202220017"}, "", contracts.StateApproved, "0", true, "110101********0017"},
		{"2006 billed", contracts.CreateSessionRequest{}, "review=2006", contracts.StateRejected, "2006", true, ""},
		{"2016 billed", contracts.CreateSessionRequest{}, "review=2016", contracts.StateRejected, "2016", true, ""},
		{"2005 not billed", contracts.CreateSessionRequest{}, "review=2005", contracts.StateRejected, "2005", false, ""},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		sess := s.create(t, "acme-key", c.req, c.prefer)
		ids[i] = sess.RequestID
		walk(t, s.sim, sess.RequestID)
		var wg sync.WaitGroup
		for p := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := contracts.SessionPath(sess.RequestID)
				if p%2 == 1 {
					path += "/result"
				}
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					a := call(t, "GET", s.gw+path, "acme-key", nil)
					if a.status == http.StatusOK && bytes.Contains(a.body, []byte(`"state":"`+string(c.final)+`"`)) {
						// Keep polling a little after the end: more chances to bill twice.
						for range 5 {
							call(t, "GET", s.gw+path, "acme-key", nil)
						}
						return
					}
					if a.status != http.StatusOK && a.status != http.StatusConflict {
						t.Errorf("%s: poll %s: %d %s", c.name, path, a.status, a.body)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				t.Errorf("%s: session never reached %s", c.name, c.final)
			}()
		}
		wg.Wait()
	}
	check := func(when string) {
		rows := s.ledger(t, "acme")
		var billedTotal int64
		for i, c := range cases {
			b, u := billingRows(rows, ids[i])
			wantB, wantU := 0, 1
			if c.billed {
				wantB, wantU = 1, 0
				billedTotal++
			}
			if b != wantB || u != wantU {
				t.Errorf("%s: %s: %d billed and %d unbilled outcome entries, want %d and %d", when, c.name, b, u, wantB, wantU)
			}
			for _, r := range rows {
				if r["request_id"] == ids[i] && (r["result"] != c.code || r["id_masked"] != c.idMasked) {
					t.Errorf("%s: %s: outcome entry result %q id_masked %q, want %q %q", when, c.name, r["result"], r["id_masked"], c.code, c.idMasked)
				}
			}
		}
		for _, r := range rows {
			if strings.Contains(strings.Join(mapValues(r), ","), "测试") || strings.Contains(r["id_masked"], "192202220017") {
				t.Errorf("%s: ledger row holds personal data: %v", when, r)
			}
		}
		if q := s.quota(t, "acme"); q.Used != billedTotal || q.Reserved != 0 {
			t.Errorf("%s: quota used %d reserved %d, want %d and 0", when, q.Used, q.Reserved, billedTotal)
		}
	}
	check("before restart")

	s.gwProc.Terminate(t)
	s.startGateway(t)
	for _, id := range ids {
		call(t, "GET", s.gw+contracts.SessionPath(id), "acme-key", nil)
		if a := call(t, "GET", s.gw+contracts.SessionPath(id)+"/result", "acme-key", nil); a.status != http.StatusOK {
			t.Errorf("result after restart: %d %s", a.status, a.body)
		}
	}
	check("after restart")
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A session holds its quota unit while open; failing, expiring and the
// unbilled rejection hand it back; regenerating takes one again.
func TestQuotaReservedAtCreateReleasedWhenUnbilled(t *testing.T) {
	s := newStack(t, 1)
	tests := []struct {
		name   string
		req    contracts.CreateSessionRequest
		prefer string
		drive  func(t *testing.T, id string)
		final  contracts.SessionState
	}{
		{"NFC wrong card fails", contracts.CreateSessionRequest{}, "nfc=66664024", func(t *testing.T, id string) {
			call(t, "POST", s.sim+"/phone/open", "", map[string]any{"request_id": id})
			call(t, "POST", s.sim+"/phone/sessions/"+id+"/nfc", "", map[string]any{"device": map[string]string{"platform": "android", "model": "Xiaomi 14", "os_version": "14"}})
		}, contracts.StateFailed},
		{"permission refused fails", contracts.CreateSessionRequest{}, "", func(t *testing.T, id string) {
			call(t, "POST", s.sim+"/phone/open", "", map[string]any{"request_id": id, "permission_granted": false})
		}, contracts.StateFailed},
		{"2005 rejection", contracts.CreateSessionRequest{}, "review=2005", func(t *testing.T, id string) { walk(t, s.sim, id) }, contracts.StateRejected},
		{"QR expiry", contracts.CreateSessionRequest{}, "ttl=300ms", func(t *testing.T, id string) { time.Sleep(400 * time.Millisecond) }, contracts.StateExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess := s.create(t, "acme-key", tc.req, tc.prefer)
			if q := s.quota(t, "acme"); q.Reserved != 1 || q.Remaining != 0 {
				t.Fatalf("after create: %+v, want one unit reserved", q)
			}
			if m := call(t, "GET", s.admin+"/metrics", "", nil); !bytes.Contains(m.body, []byte("\nidgate_gateway_sessions_open 1\n")) {
				t.Fatalf("metrics lack idgate_gateway_sessions_open 1")
			}
			if a := call(t, "POST", s.gw+contracts.SessionsPath, "acme-key", map[string]any{}); a.status != http.StatusPaymentRequired {
				t.Fatalf("second create with the unit reserved: %d %s, want 402", a.status, a.body)
			}
			tc.drive(t, sess.RequestID)
			s.waitState(t, "acme-key", sess.RequestID, tc.final)
			if q := s.quota(t, "acme"); q.Reserved != 0 || q.Used != 0 {
				t.Fatalf("after %s: %+v, want the unit released", tc.final, q)
			}
			if tc.final == contracts.StateExpired {
				a := call(t, "POST", s.gw+contracts.SessionPath(sess.RequestID)+"/qr", "acme-key", nil)
				if a.status != http.StatusOK {
					t.Fatalf("regenerate: %d %s", a.status, a.body)
				}
				if q := s.quota(t, "acme"); q.Reserved != 1 {
					t.Fatalf("after regenerate: %+v, want the unit reserved again", q)
				}
				s.waitState(t, "acme-key", sess.RequestID, contracts.StateExpired)
			}
		})
	}
}

// Another tenant's request ID is unknown to it, on every route, and the
// gateway answers that itself.
func TestTenantIsolation(t *testing.T) {
	s := newStack(t, 0)
	sess := s.create(t, "acme-key", contracts.CreateSessionRequest{}, "")
	id := sess.RequestID
	tests := []struct{ method, path string }{
		{"GET", contracts.SessionPath(id)},
		{"GET", contracts.SessionPath(id) + "/result"},
		{"GET", contracts.SessionPath(id) + "/qr"},
		{"POST", contracts.SessionPath(id) + "/qr"},
		{"GET", contracts.SessionPath("00000000000000000000000000000000")},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := call(t, tc.method, s.gw+tc.path, "rival-key", nil)
			b := decode[contracts.SessionErrorBody](t, a)
			if a.status != http.StatusNotFound || b.Error.Code != contracts.ErrSessionNotFound || b.TraceID != a.header.Get("X-Request-Id") {
				t.Fatalf("rival: %d %s, want the gateway's own 404 session_not_found", a.status, a.body)
			}
		})
	}
	if a := call(t, "GET", s.gw+contracts.SessionPath(id), "acme-key", nil); a.status != http.StatusOK {
		t.Fatalf("owner: %d %s", a.status, a.body)
	}
	if a := call(t, "GET", s.gw+contracts.SessionPath(id)+"/qr", "acme-key", nil); a.status != http.StatusOK || a.header.Get("Content-Type") != "image/png" {
		t.Fatalf("owner QR: %d %s", a.status, a.header.Get("Content-Type"))
	}
	if a := call(t, "GET", s.gw+contracts.SessionPath(id), "", nil); a.status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", a.status)
	}
	// A tenant without a webhook secret cannot register a callback.
	a := call(t, "POST", s.gw+contracts.SessionsPath, "rival-key", contracts.CreateSessionRequest{CallbackURL: "http://127.0.0.1:1/hook"})
	if a.status != http.StatusBadRequest {
		t.Fatalf("rival callback without secret: %d %s", a.status, a.body)
	}
	// A reload (SIGHUP) brings the rival's secret in.
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("tenant_webhook_secrets: {acme: "+acmeSecret+"}"), []byte("tenant_webhook_secrets: {acme: "+acmeSecret+", rival: rival-secret}"), 1)
	if err := os.WriteFile(s.cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gwProc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a = call(t, "POST", s.gw+contracts.SessionsPath, "rival-key", contracts.CreateSessionRequest{CallbackURL: "http://127.0.0.1:1/hook"})
		if a.status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rival callback after reload: %d %s", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The upstream's webhooks reach the tenant's callback re-signed with the
// tenant's secret, the session is billed from them alone, and forged
// deliveries are refused.
func TestWebhookPassThrough(t *testing.T) {
	s := newStack(t, 0)
	type got struct {
		ev  contracts.SessionEvent
		err error
	}
	events := make(chan got, 64)
	var failOnce sync.Once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The first delivery fails: the relay must retry it.
		fail := false
		failOnce.Do(func() { fail = true })
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var g got
		g.err = contracts.VerifyWebhook([]byte(acmeSecret), r.Header.Get(contracts.WebhookTimestampHeader), r.Header.Get(contracts.WebhookSignatureHeader), body, time.Now(), time.Minute)
		if g.err == nil {
			g.err = json.Unmarshal(body, &g.ev)
		}
		if g.err == nil && r.Header.Get(contracts.WebhookEventHeader) != g.ev.ID {
			g.err = fmt.Errorf("event id header %q, body %q", r.Header.Get(contracts.WebhookEventHeader), g.ev.ID)
		}
		events <- g
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hook := "http://" + ln.Addr().String() + "/hook"

	sess := s.create(t, "acme-key", contracts.CreateSessionRequest{CallbackURL: hook, Reference: "order-1"}, "review=approved")
	walk(t, s.sim, sess.RequestID)

	seen := map[contracts.SessionState]bool{}
	deadline := time.After(15 * time.Second)
	for !seen[contracts.StateApproved] || !seen[contracts.StateCreated] {
		select {
		case g := <-events:
			if g.err != nil {
				t.Fatalf("delivery: %v", g.err)
			}
			if g.ev.RequestID != sess.RequestID || g.ev.Reference != "order-1" {
				t.Fatalf("event %+v", g.ev)
			}
			seen[g.ev.State] = true
		case <-deadline:
			t.Fatalf("events seen %v, want created … approved", seen)
		}
	}
	for _, st := range []contracts.SessionState{contracts.StateScanned, contracts.StateCardRead, contracts.StateConfirmed, contracts.StateUnderReview} {
		if !seen[st] {
			t.Errorf("no %s event", st)
		}
	}
	// Billed from the webhook alone: nobody polled.
	rows := s.ledger(t, "acme")
	if b, _ := billingRows(rows, sess.RequestID); b != 1 {
		t.Errorf("%d billing entries after the webhook, want 1", b)
	}
	if q := s.quota(t, "acme"); q.Used != 1 || q.Reserved != 0 {
		t.Errorf("quota %+v, want one used", q)
	}

	// Forged deliveries to the gateway's receiver.
	ev, _ := json.Marshal(contracts.SessionEvent{ID: "x-9", Type: contracts.SessionEventType, RequestID: sess.RequestID, State: contracts.StateApproved, Version: 99})
	ts, sig := contracts.SignWebhook([]byte("wrong-secret"), time.Now(), ev)
	okTS, okSig := contracts.SignWebhook([]byte(upstreamHook), time.Now().Add(-time.Hour), ev)
	forged := []struct {
		name    string
		ts, sig string
	}{
		{"wrong secret", ts, sig},
		{"stale timestamp", okTS, okSig},
		{"no signature", ts, ""},
	}
	for _, f := range forged {
		req, _ := http.NewRequest("POST", s.gw+"/webhooks/sessions", bytes.NewReader(ev))
		req.Header.Set(contracts.WebhookTimestampHeader, f.ts)
		req.Header.Set(contracts.WebhookSignatureHeader, f.sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", f.name, resp.StatusCode)
		}
	}
}
