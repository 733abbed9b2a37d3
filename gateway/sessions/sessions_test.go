package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/internal/secret"
	"github.com/idgate/idgate/internal/testkit"
)

// fakeUpstream answers every call with the programmed status and body per
// "METHOD path"; unknown calls are 404 session_not_found.
type fakeUpstream struct {
	mu    sync.Mutex
	resp  map[string]func() (int, string)
	calls map[string]int
	auth  []string
}

func (f *fakeUpstream) Do(method, path string, body, prefer, requestID []byte, resp *fasthttp.Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := method + " " + path
	f.calls[k]++
	h, ok := f.resp[k]
	if !ok {
		resp.SetStatusCode(404)
		resp.SetBodyString(`{"success":false,"error":{"code":"session_not_found","message":"x"},"trace_id":"t"}`)
		return nil
	}
	st, b := h()
	resp.SetStatusCode(st)
	resp.Header.SetContentType("application/json")
	resp.SetBodyString(b)
	return nil
}

func (f *fakeUpstream) set(k string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resp[k] = func() (int, string) { return status, body }
}

type nopMetrics struct{}

func (nopMetrics) Observe(string, string, string, time.Duration) {}
func (nopMetrics) ObserveUpstream(string, time.Duration)         {}

type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) Next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("req-%d", s.n)
}

type fixture struct {
	svc   *Service
	up    *fakeUpstream
	quota *quota.Counter
	led   *testkit.Ledger
	store *SQLite
	app   *fiber.App
	path  string
	// skew moves the service's clock forward (sweeps, reconciles).
	skew atomic.Int64
}

func newFixture(t testing.TB, tenantQuota int64, dbPath string) *fixture {
	t.Helper()
	if dbPath == "" {
		dbPath = tempDB(t)
	}
	db, err := ledger.OpenDB(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := NewSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := auth.NewDirectory([]auth.TenantConfig{
		{ID: "acme", DailyQuota: tenantQuota, Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{{ID: "acme-1", Key: "acme-key"}}},
		{ID: "rival", Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{{ID: "rival-1", Key: "rival-key"}}},
		{ID: "slow", Rate: 0.001, Burst: 2, Keys: []auth.KeyConfig{{ID: "slow-1", Key: "slow-key"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := quota.NewCalendar(time.UTC)
	f := &fixture{up: &fakeUpstream{resp: map[string]func() (int, string){}, calls: map[string]int{}}, quota: quota.NewCounter(cal), led: &testkit.Ledger{}, store: store, path: dbPath}
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	box, err := NewSQLiteOutbox(db)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relay.Close)
	f.svc, err = New(cfg, Deps{
		Gate: &admission.Gate{
			Auth: auth.NewStore(dir), Limits: ratelimit.New(), Quota: f.quota, Ledger: f.led, Calendar: cal,
			Metrics: nopMetrics{}, IDs: &seqIDs{}, Log: slog.New(slog.DiscardHandler),
			Now: func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
		},
		Upstream: f.up, Store: store, MaxBody: 1 << 16, Listen: "127.0.0.1:8080",
	}, relay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.svc.Close)
	f.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	f.svc.Register(f.app)
	return f
}

// tempDB is a database path without the '#' that t.TempDir puts in the
// names of numbered subtests and fuzz seeds: ledger.OpenDB builds a
// file: URI, where '#' starts a fragment, so every seed would share one file.
func tempDB(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "idgate-sessions-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "ledger.db")
}

func sessionJSON(id string, state contracts.SessionState, version int64, code contracts.SessionCode) string {
	s := contracts.Session{RequestID: id, Flow: contracts.FlowNFC, State: state, Version: version, QRURL: "http://sim/phone/qr/x",
		CreatedAt: time.Now(), UpdatedAt: time.Now(), ExpiresAt: time.Now().Add(10 * time.Minute)}
	if code != 0 || state == contracts.StateFailed || state == contracts.StateExpired {
		s.Error = contracts.Failure(code)
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (f *fixture) do(t testing.TB, method, path, key, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) create(t testing.TB, id, body string) {
	t.Helper()
	f.up.set("POST "+contracts.SessionsPath, 201, sessionJSON(id, contracts.StateCreated, 1, 0))
	if st, b := f.do(t, "POST", contracts.SessionsPath, "acme-key", body); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
}

// billingEntries counts the durable outcome entries of a session.
func (f *fixture) billingEntries(t *testing.T, id string) (billed, unbilled int) {
	t.Helper()
	db, err := ledger.OpenDB(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT billed FROM ledger WHERE route = ? AND request_id = ?`, RouteBilling, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b int
		rows.Scan(&b)
		if b == 1 {
			billed++
		} else {
			unbilled++
		}
	}
	return
}

// Every way a session shows its outcome, on the status route and the
// result route: status, quota and the one outcome entry.
func TestObserveOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		state       contracts.SessionState
		code        contracts.SessionCode
		want        Status
		used, resvd int64
		billed      int
		unbilled    int
	}{
		{"approved", contracts.StateApproved, 0, Billed, 1, 0, 1, 0},
		{"rejected 2006", contracts.StateRejected, 2006, Billed, 1, 0, 1, 0},
		{"rejected 2016", contracts.StateRejected, 2016, Billed, 1, 0, 1, 0},
		{"rejected 2005", contracts.StateRejected, 2005, Released, 0, 0, 0, 1},
		{"failed 301", contracts.StateFailed, 301, Released, 0, 0, 0, 1},
		{"failed 16", contracts.StateFailed, 16, Released, 0, 0, 0, 1},
		{"expired", contracts.StateExpired, 15, Expired, 0, 0, 0, 0},
		{"under review", contracts.StateUnderReview, 0, Open, 0, 1, 0, 0},
		{"scanned", contracts.StateScanned, 0, Open, 0, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0, "")
			id := "sess-1"
			f.create(t, id, "")
			f.up.set("GET "+contracts.SessionPath(id), 200, sessionJSON(id, tc.state, 5, tc.code))
			for range 3 {
				if st, b := f.do(t, "GET", contracts.SessionPath(id), "acme-key", ""); st != 200 {
					t.Fatalf("poll: %d %s", st, b)
				}
			}
			if got, _ := f.svc.Status(id); got != tc.want {
				t.Fatalf("status %s, want %s", got, tc.want)
			}
			u, _ := f.quota.Tenant("acme", time.Now())
			if u.Used != tc.used || u.Reserved != tc.resvd {
				t.Fatalf("quota %+v, want used %d reserved %d", u, tc.used, tc.resvd)
			}
			if b, ub := f.billingEntries(t, id); b != tc.billed || ub != tc.unbilled {
				t.Fatalf("outcome entries %d billed %d unbilled, want %d %d", b, ub, tc.billed, tc.unbilled)
			}
		})
	}
}

// 20 goroutines see the billed outcome at once: one entry, one unit.
func TestBilledOnceConcurrently(t *testing.T) {
	f := newFixture(t, 0, "")
	id := "sess-c"
	f.create(t, id, "")
	f.up.set("GET "+contracts.SessionPath(id), 200, sessionJSON(id, contracts.StateApproved, 7, 0))
	res := `{"request_id":"sess-c","state":"approved","decision":"approved","code":0,"billing":"billed"}`
	f.up.set("GET "+contracts.SessionPath(id)+"/result", 200, res)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := contracts.SessionPath(id)
			if i%2 == 0 {
				p += "/result"
			}
			f.do(t, "GET", p, "acme-key", "")
		}()
	}
	wg.Wait()
	if b, ub := f.billingEntries(t, id); b != 1 || ub != 0 {
		t.Fatalf("%d billed, %d unbilled entries; want exactly one billed", b, ub)
	}
	if u, _ := f.quota.Tenant("acme", time.Now()); u.Used != 1 || u.Reserved != 0 {
		t.Fatalf("quota %+v", u)
	}
}

// A restart (a new service over the same database) neither re-bills a
// billed session nor forgets an open one's reserved unit.
func TestRestartKeepsBillingState(t *testing.T) {
	dbPath := tempDB(t)
	f := newFixture(t, 0, dbPath)
	f.create(t, "billed-1", "")
	f.create(t, "open-1", "")
	f.up.set("GET "+contracts.SessionPath("billed-1"), 200, sessionJSON("billed-1", contracts.StateApproved, 7, 0))
	f.do(t, "GET", contracts.SessionPath("billed-1"), "acme-key", "")
	f.svc.Close()

	g := newFixture(t, 0, dbPath)
	if u, _ := g.quota.Tenant("acme", time.Now()); u.Reserved != 1 {
		t.Fatalf("after restart: %+v, want the open session's unit reserved", u)
	}
	g.up.set("GET "+contracts.SessionPath("billed-1"), 200, sessionJSON("billed-1", contracts.StateApproved, 7, 0))
	if st, b := g.do(t, "GET", contracts.SessionPath("billed-1"), "acme-key", ""); st != 200 {
		t.Fatalf("poll after restart: %d %s", st, b)
	}
	if b, _ := g.billingEntries(t, "billed-1"); b != 1 {
		t.Fatalf("%d billing entries after restart, want 1", b)
	}
}

// Session routes take tokens from the key's bucket like checks do.
func TestRateLimited(t *testing.T) {
	f := newFixture(t, 0, "")
	f.up.set("POST "+contracts.SessionsPath, 201, sessionJSON("r-1", contracts.StateCreated, 1, 0))
	steps := []struct {
		method, path string
		status       int
	}{
		{"POST", contracts.SessionsPath, 201},
		{"GET", contracts.SessionPath("r-1"), 404}, // forwarded; the fake upstream passes on its 404
		{"GET", contracts.SessionPath("r-1"), 429},
		{"POST", contracts.SessionsPath, 429},
	}
	for i, st := range steps {
		req := httptest.NewRequest(st.method, st.path, strings.NewReader(""))
		req.Header.Set("Authorization", "Bearer slow-key")
		resp, err := f.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != st.status {
			t.Fatalf("step %d %s %s: %d %s, want %d", i, st.method, st.path, resp.StatusCode, b, st.status)
		}
		if st.status == 429 && (resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"too_many_requests"`)) {
			t.Fatalf("step %d: 429 without Retry-After or too_many_requests: %s", i, b)
		}
		if resp.Header.Get("RateLimit-Limit") != "2" {
			t.Fatalf("step %d: RateLimit-Limit %q", i, resp.Header.Get("RateLimit-Limit"))
		}
	}
}

// Settled sessions leave memory after a while; polls read them back from
// the store, still scoped to their tenant and still billed once.
func TestSettledSessionsLeaveMemory(t *testing.T) {
	f := newFixture(t, 0, "")
	f.create(t, "done", "")
	f.create(t, "live", "")
	f.up.set("GET "+contracts.SessionPath("done"), 200, sessionJSON("done", contracts.StateApproved, 7, 0))
	f.do(t, "GET", contracts.SessionPath("done"), "acme-key", "")
	f.skew.Store(int64(memoryTTL + time.Minute))
	f.svc.sweep()
	if _, ok := f.svc.Status("done"); ok {
		t.Fatal("settled session still in memory")
	}
	if st, _ := f.svc.Status("live"); st != Open {
		t.Fatalf("open session left memory (%q): it holds a quota unit", st)
	}
	if st, b := f.do(t, "GET", contracts.SessionPath("done"), "rival-key", ""); st != 404 {
		t.Fatalf("other tenant after reload: %d %s", st, b)
	}
	if st, b := f.do(t, "GET", contracts.SessionPath("done"), "acme-key", ""); st != 200 {
		t.Fatalf("owner after reload: %d %s", st, b)
	}
	if st, _ := f.svc.Status("done"); st != Billed {
		t.Fatalf("reloaded as %q, want billed", st)
	}
	if b, _ := f.billingEntries(t, "done"); b != 1 {
		t.Fatalf("%d billing entries, want 1", b)
	}
}

// Sessions nobody polls settle through the reconciler.
func TestReconcileAbandoned(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   Status
		used   int64
	}{
		{"approved while nobody polled", 200, sessionJSON("s", contracts.StateApproved, 9, 0), Billed, 1},
		{"expired", 200, sessionJSON("s", contracts.StateExpired, 2, 15), Expired, 0},
		{"swept upstream", 404, `{"success":false,"error":{"code":"session_not_found","message":"x"},"trace_id":"t"}`, Released, 0},
		{"still under review", 200, sessionJSON("s", contracts.StateUnderReview, 6, 0), Open, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0, "")
			f.create(t, "s", "")
			f.up.set("GET "+contracts.SessionPath("s"), tc.status, tc.body)
			f.svc.Reconcile()
			if st, _ := f.svc.Status("s"); st != Open {
				t.Fatalf("reconciled before its deadline: %s", st)
			}
			f.skew.Store(int64(12 * time.Minute))
			f.svc.Reconcile()
			if st, _ := f.svc.Status("s"); st != tc.want {
				t.Fatalf("status %s, want %s", st, tc.want)
			}
			if u, _ := f.quota.Tenant("acme", time.Now()); u.Used != tc.used {
				t.Fatalf("quota %+v, want used %d", u, tc.used)
			}
		})
	}
}

// Wrong tenants, unknown IDs, bad bodies and an exhausted quota are
// answered by the gateway and never reach the upstream.
func TestLocalAnswers(t *testing.T) {
	f := newFixture(t, 1, "")
	f.create(t, "mine", "")
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          contracts.ErrorCode
	}{
		{"other tenant's status", "GET", contracts.SessionPath("mine"), "rival-key", "", 404, contracts.ErrSessionNotFound},
		{"other tenant's result", "GET", contracts.SessionPath("mine") + "/result", "rival-key", "", 404, contracts.ErrSessionNotFound},
		{"other tenant's regenerate", "POST", contracts.SessionPath("mine") + "/qr", "rival-key", "", 404, contracts.ErrSessionNotFound},
		{"unknown id", "GET", contracts.SessionPath("nope"), "acme-key", "", 404, contracts.ErrSessionNotFound},
		{"no key", "GET", contracts.SessionPath("mine"), "", "", 401, contracts.ErrInvalidToken},
		{"malformed body", "POST", contracts.SessionsPath, "acme-key", `{"flow":`, 400, contracts.ErrTokenMismatched},
		{"repeated id_card", "POST", contracts.SessionsPath, "acme-key", `{"id_card":"110101191111110010","id_card":"11010519491231002X"}`, 400, contracts.ErrTokenMismatched},
		{"repeated unknown key", "POST", contracts.SessionsPath, "acme-key", `{"x":1,"x":2}`, 400, contracts.ErrTokenMismatched},
		{"field name in another case", "POST", contracts.SessionsPath, "acme-key", `{"Callback_URL":"http://x/hook"}`, 400, contracts.ErrTokenMismatched},
		{"data after the object", "POST", contracts.SessionsPath, "acme-key", `{"flow":"nfc"} {}`, 400, contracts.ErrTokenMismatched},
		{"not an object", "POST", contracts.SessionsPath, "acme-key", `[]`, 400, contracts.ErrTokenMismatched},
		{"wrong type", "POST", contracts.SessionsPath, "acme-key", `{"reference":1}`, 400, contracts.ErrTokenMismatched},
		{"create body over max_body_bytes", "POST", contracts.SessionsPath, "acme-key", `{"reference":"` + strings.Repeat("r", 1<<16) + `"}`, 400, contracts.ErrTokenMismatched},
		{"regenerate body over max_body_bytes", "POST", contracts.SessionPath("mine") + "/qr", "acme-key", strings.Repeat(" ", 1<<16+1), 400, contracts.ErrTokenMismatched},
		{"relative callback", "POST", contracts.SessionsPath, "acme-key", `{"callback_url":"/hook"}`, 400, contracts.ErrTokenMismatched},
		{"callback without a tenant secret", "POST", contracts.SessionsPath, "rival-key", `{"callback_url":"http://x/hook"}`, 400, contracts.ErrTokenMismatched},
		{"quota used up by the open session", "POST", contracts.SessionsPath, "acme-key", `{}`, 402, contracts.ErrUsedUp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.up.calls["POST "+contracts.SessionsPath] + f.up.calls["GET "+contracts.SessionPath("mine")]
			st, b := f.do(t, tc.method, tc.path, tc.key, tc.body)
			var eb contracts.ErrorBody
			json.Unmarshal([]byte(b), &eb)
			if st != tc.status || eb.Error.Code != tc.code {
				t.Fatalf("%d %s, want %d %s", st, b, tc.status, tc.code)
			}
			if after := f.up.calls["POST "+contracts.SessionsPath] + f.up.calls["GET "+contracts.SessionPath("mine")]; after != before {
				t.Fatal("forwarded to the upstream")
			}
		})
	}
}

// The tenant's callback is replaced by the gateway's receiver upstream.
func TestCreateSubstitutesCallback(t *testing.T) {
	f := newFixture(t, 0, "")
	var got contracts.CreateSessionRequest
	f.up.mu.Lock()
	f.up.resp["POST "+contracts.SessionsPath] = func() (int, string) { return 201, sessionJSON("cb-1", contracts.StateCreated, 1, 0) }
	f.up.mu.Unlock()
	up := &capture{fakeUpstream: f.up, body: &got}
	f.svc.Upstream = up
	if st, b := f.do(t, "POST", contracts.SessionsPath, "acme-key", `{"callback_url":"https://tenant.example/hook","id_card":"110101192202220017","name":"测试会话通过"}`); st != 201 {
		t.Fatalf("%d %s", st, b)
	}
	if got.CallbackURL != "http://127.0.0.1:8080"+WebhookPath || got.IDCard != "110101192202220017" {
		t.Fatalf("forwarded %+v", got)
	}
	for _, e := range f.led.Entries() {
		if e.IDMasked != "110101********0017" {
			t.Fatalf("ledger id_masked %q", e.IDMasked)
		}
	}
}

type capture struct {
	*fakeUpstream
	body *contracts.CreateSessionRequest
}

func (c *capture) Do(method, path string, body, prefer, requestID []byte, resp *fasthttp.Response) error {
	if method == "POST" && path == contracts.SessionsPath {
		json.Unmarshal(body, c.body)
	}
	return c.fakeUpstream.Do(method, path, body, prefer, requestID, resp)
}

// The relay re-signs with the tenant's secret and retries failures with
// backoff until the receiver accepts.
func TestRelayRetriesAndSigns(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(500)
			return
		}
		b, _ := io.ReadAll(r.Body)
		done <- contracts.VerifyWebhook([]byte("acme-secret"), r.Header.Get(contracts.WebhookTimestampHeader), r.Header.Get(contracts.WebhookSignatureHeader), b, time.Now(), time.Minute)
	}))
	defer srv.Close()
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	cfg.Delivery.InitialBackoff, cfg.Delivery.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	r, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Enqueue("acme", srv.URL, "ev-1", []byte(`{"id":"ev-1"}`)) {
		t.Fatal("enqueue refused")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never delivered")
	}
}

// Deliveries in the outbox survive a restart: a new relay over the same
// database delivers them, and an event re-sent while pending is not
// delivered twice.
func TestOutboxResumesAfterRestart(t *testing.T) {
	got := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(contracts.WebhookEventHeader)
	}))
	defer srv.Close()
	db, err := ledger.OpenDB(tempDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	box, err := NewSQLiteOutbox(db)
	if err != nil {
		t.Fatal(err)
	}
	// Left behind by a gateway that stopped mid-retry.
	for _, id := range []string{"ev-1", "ev-2"} {
		if _, err := box.Add(context.Background(), Delivery{EventID: id, Tenant: "acme", URL: srv.URL, Body: []byte(`{}`), Attempt: 2, Next: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	r, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), box)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[string]int{}
	for len(seen) < 2 {
		select {
		case id := <-got:
			seen[id]++
		case <-time.After(5 * time.Second):
			t.Fatalf("delivered %v, want ev-1 and ev-2", seen)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := box.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d deliveries", len(p))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A new event, re-sent by the upstream while still pending: one row.
	blocked := Delivery{EventID: "ev-3", Tenant: "acme", URL: srv.URL, Body: []byte(`{}`), Next: time.Now().Add(time.Hour)}
	if added, err := box.Add(context.Background(), blocked); err != nil || !added {
		t.Fatalf("add: %v %v", added, err)
	}
	if added, err := box.Add(context.Background(), blocked); err != nil || added {
		t.Fatalf("duplicate add: %v %v, want ignored", added, err)
	}
}

func TestBackoffBounds(t *testing.T) {
	cfg := DemoConfig()
	r := &Relay{cfg: cfg.Delivery}
	for attempt := 1; attempt <= 12; attempt++ {
		full := min(time.Second<<(attempt-1), 5*time.Minute)
		for range 50 {
			if d := r.backoff(attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, full/2, full)
			}
		}
	}
}

// The receiver refuses anything not signed with the upstream secret, and
// never panics on garbage.
func FuzzReceive(f *testing.F) {
	f.Add([]byte(`{"id":"a-1","request_id":"a","state":"approved","version":3}`), "1700000000", "v1=00")
	f.Add([]byte(`{`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		if !headerSafe(ts) || !headerSafe(sig) {
			t.Skip("not sendable as an HTTP header value")
		}
		fx := newFixture(t, 0, "")
		fx.create(t, "a", "")
		req := httptest.NewRequest("POST", WebhookPath, strings.NewReader(string(body)))
		req.Header.Set(contracts.WebhookTimestampHeader, ts)
		req.Header.Set(contracts.WebhookSignatureHeader, sig)
		resp, err := fx.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 401 {
			t.Fatalf("unsigned delivery answered %d", resp.StatusCode)
		}
		if st, _ := fx.svc.Status("a"); st != Open {
			t.Fatalf("unsigned delivery changed the session to %s", st)
		}
	})
}

func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(v) == v
}

// TestReceiveBounds: an upstream webhook body over MaxWebhookBytes is
// refused with 400 token_mismatched before its signature is checked, even
// when correctly signed; within the bound the signature decides, then the
// body's shape.
func TestReceiveBounds(t *testing.T) {
	fx := newFixture(t, 0, "")
	fx.create(t, "a", "")
	secret := []byte(DemoConfig().UpstreamWebhookSecret.Reveal())
	event := `{"id":"a-1","request_id":"a","state":"scanned","previous":"created","version":2}`
	pad := func(n int) string {
		return event[:len(event)-1] + `,"pad":"` + strings.Repeat("p", n-len(event)-9) + `"}`
	}
	for _, tc := range []struct {
		name   string
		body   string
		signed bool
		status int
		code   contracts.ErrorCode
		msg    string
	}{
		{"over the bound, signed", pad(MaxWebhookBytes + 1), true, 400, contracts.ErrTokenMismatched, "webhook body exceeds 65536 bytes"},
		{"over the bound, unsigned", pad(MaxWebhookBytes + 1), false, 400, contracts.ErrTokenMismatched, "webhook body exceeds 65536 bytes"},
		{"one MiB, signed", pad(1 << 20), true, 400, contracts.ErrTokenMismatched, "webhook body exceeds 65536 bytes"},
		{"at the bound, unsigned", pad(MaxWebhookBytes), false, 401, contracts.ErrInvalidToken, ""},
		{"at the bound, signed", pad(MaxWebhookBytes), true, 204, "", ""},
		{"signed, not an event", `{"x":1}`, true, 400, contracts.ErrTokenMismatched, "not a session event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := len(tc.body); strings.HasPrefix(tc.name, "at the bound") && n != MaxWebhookBytes {
				t.Fatalf("body of %d bytes", n)
			}
			req := httptest.NewRequest("POST", WebhookPath, strings.NewReader(tc.body))
			if tc.signed {
				ts, sig := contracts.SignWebhook(secret, time.Now(), []byte(tc.body))
				req.Header.Set(contracts.WebhookTimestampHeader, ts)
				req.Header.Set(contracts.WebhookSignatureHeader, sig)
			}
			resp, err := fx.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if tc.code != "" {
				var e contracts.ErrorBody
				if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.msg) {
					t.Fatalf("body %s, want %s %q", b, tc.code, tc.msg)
				}
			}
		})
	}
}
