package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/internal/testbin"
	"github.com/idgate/idgate/simulator/stats"
)

const (
	simAdminToken = "sim-admin-token"
	gwAdminToken  = "e2e-admin-token"
)

type sim struct {
	url  string
	proc *testbin.Proc
}

func startSim(t *testing.T) *sim {
	t.Helper()
	bin := testbin.Build(t, "./simulator/cmd/simulator")
	addr := testbin.FreeAddr(t)
	p := testbin.Start(t, bin, []string{"-listen", addr}, []string{"IDGATE_SIM_JOURNAL_ENABLED=false"}, "http://"+addr+"/healthz")
	return &sim{url: "http://" + addr, proc: p}
}

func (s *sim) stats(t *testing.T) stats.Counts {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+simAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap stats.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap.Tokens["sim-token"]
}

type gateway struct {
	url, admin string
	cfgPath    string
	store      string
	proc       *testbin.Proc
	bin        string
}

// tenantsYAML: tenant "acme" (keys given) and "big" (key big-key, no quota).
func writeConfig(t *testing.T, path, upstream, store string, acmeQuota int, acmeKeys ...string) {
	t.Helper()
	var keys strings.Builder
	for i, k := range acmeKeys {
		fmt.Fprintf(&keys, "      - {id: acme-%d, key: %q}\n", i, k)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
  token: %s
timezone: Asia/Shanghai
upstream:
  url: %s
  token: sim-token
  timeout: 3s
store:
  path: %s
tenants:
  - id: acme
    daily_quota: %d
    rate: 100000
    burst: 100000
    keys:
%s  - id: big
    rate: 100000
    burst: 100000
    keys:
      - {id: big-1, key: big-key}
`, gwAdminToken, upstream, store, acmeQuota, keys.String())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic: a reload never reads half a file
		t.Fatal(err)
	}
}

func startGateway(t *testing.T, upstream string, acmeQuota int, acmeKeys ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{cfgPath: filepath.Join(dir, "gateway.yaml"), store: filepath.Join(dir, "var", "ledger.db")}
	writeConfig(t, g.cfgPath, upstream, g.store, acmeQuota, acmeKeys...)
	g.bin = testbin.Build(t, "./gateway/cmd/gateway")
	g.start(t)
	return g
}

func (g *gateway) start(t *testing.T) {
	t.Helper()
	addr, admin := testbin.FreeAddr(t), testbin.FreeAddr(t)
	g.url, g.admin = "http://"+addr, "http://"+admin
	g.proc = testbin.Start(t, g.bin, []string{"-config", g.cfgPath, "-listen", addr, "-admin-listen", admin}, nil, g.url+"/healthz")
}

// stop sends SIGTERM and waits for a clean exit.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if err := g.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := g.proc.Wait(20 * time.Second); err != nil {
		g.proc.Signal(syscall.SIGQUIT) // a goroutine dump in the output says where it hangs
		time.Sleep(time.Second)
		t.Fatalf("gateway exit: %v\n%s", err, g.proc.Output())
	}
	if err := g.proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("gateway exit: %v\n%s", err, g.proc.Output())
	}
}

// ledgerCount opens the stopped gateway's ledger.
func (g *gateway) ledgerCount(t *testing.T, f ledger.Filter, billedOnly bool) int64 {
	t.Helper()
	db, err := ledger.OpenDB(g.store)
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, 1, 1, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	n, err := l.Count(context.Background(), f, billedOnly)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var httpClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}

type result struct {
	status    int
	code      string // result or error code
	requestID string
	err       error
}

func send(url, key, body, prefer string) result {
	req, _ := http.NewRequest("POST", url+contracts.CheckPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{err: err}
	}
	r := result{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")}
	if resp.StatusCode == 200 {
		var cr contracts.CheckResponse
		if json.Unmarshal(b, &cr) == nil {
			r.code = string(cr.Result)
		}
	} else {
		var e contracts.ErrorBody
		if json.Unmarshal(b, &e) == nil {
			r.code = string(e.Error.Code)
		}
	}
	return r
}

func body(name, id string) string { return fmt.Sprintf(`{"name":%q,"id_card":%q}`, name, id) }

// Identities the test sends: they must never show up in the gateway's logs.
var people = []struct{ name, id string }{
	{"王小明", "11010519491231002X"},
	{"李建国", "440524188001010014"},
	{"测试一致", "110101191111110010"},
	{"测试不一致", "110101191111110029"},
}

func TestLocalRejectsNeverReachUpstream(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.url, 1000, "acme-key")
	cases := []struct {
		name, body, key string
		status          int
		code            string
	}{
		{"illegal id", body("王小明", "110105194912310021"), "acme-key", 200, "-2"},
		{"illegal name", body("W", "11010519491231002X"), "acme-key", 200, "-3"},
		{"malformed json", `{"name":`, "acme-key", 400, "token_mismatched"},
		{"missing field", `{"name":"王小明"}`, "acme-key", 400, "token_mismatched"},
		{"no key", body("王小明", "11010519491231002X"), "", 401, "invalid_token"},
		{"bad key", body("王小明", "11010519491231002X"), "nope", 401, "invalid_token"},
	}
	for _, tc := range cases {
		r := send(g.url, tc.key, tc.body, "")
		if r.err != nil || r.status != tc.status || r.code != tc.code {
			t.Errorf("%s: %+v, want %d %s", tc.name, r, tc.status, tc.code)
		}
	}
	if st := s.stats(t); st.Requests != 0 {
		t.Fatalf("simulator saw %d requests from local rejects", st.Requests)
	}
	if r := send(g.url, "acme-key", body("测试一致", "110101191111110010"), ""); r.status != 200 || r.code != "0" {
		t.Fatalf("valid request: %+v", r)
	}
	if st := s.stats(t); st.Requests != 1 || st.Billed != 1 {
		t.Fatalf("simulator stats after one valid request: %+v", st)
	}
}

// TestMixedRunReconciles drives every outcome the simulator can produce
// through the gateway from 32 clients, then compares three records of the
// money: what clients saw, what the gateway's ledger says, and what the
// simulator billed.
func TestMixedRunReconciles(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.url, 0, "acme-key")
	prefers := []string{"", "", "", "result=-1", "result=-5", "result=-4", "result=-6", "status=429", "status=500",
		"fault=connection_reset", "fault=empty_response", "fault=malformed_chunk", "fault=random_then_close", "latency=20ms"}
	bodies := []string{body(people[0].name, people[0].id), body(people[1].name, people[1].id), body(people[2].name, people[2].id),
		body(people[3].name, people[3].id), body("W", people[0].id), `{"name":1}`}
	const clients, perClient = 32, 40
	var clientBilled, answered atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				n := c*perClient + i
				r := send(g.url, "acme-key", bodies[n%len(bodies)], prefers[n%len(prefers)])
				if r.err != nil {
					t.Errorf("client error: %v", r.err)
					continue
				}
				answered.Add(1)
				if r.status == 200 && (r.code == "0" || r.code == "-1") {
					clientBilled.Add(1)
				}
				if r.status == 200 && r.code == "" || r.requestID == "" {
					t.Errorf("answer without result or request id: %+v", r)
				}
			}
		}(c)
	}
	// One hang: the gateway gives up after its 3 s upstream timeout. A
	// shorter timeout would let slow (race-detector) answers the simulator
	// billed time out at the gateway, and the ledger would then rightly
	// disagree with the simulator; this run checks that they agree.
	if r := send(g.url, "acme-key", bodies[0], "fault=hang"); r.status != 500 || r.code != "api_error" {
		t.Errorf("hang: %+v", r)
	}
	answered.Add(1)
	wg.Wait()
	simStats := s.stats(t)
	g.stop(t)
	ledgerBilled := g.ledgerCount(t, ledger.Filter{Tenant: "acme"}, true)
	ledgerAll := g.ledgerCount(t, ledger.Filter{Tenant: "acme"}, false)
	t.Logf("answered %d, client billed %d, ledger billed %d, simulator billed %d (requests %d)",
		answered.Load(), clientBilled.Load(), ledgerBilled, simStats.Billed, simStats.Requests)
	if ledgerBilled != simStats.Billed || ledgerBilled != clientBilled.Load() || ledgerBilled == 0 {
		t.Fatalf("billed: ledger %d, simulator %d, clients %d", ledgerBilled, simStats.Billed, clientBilled.Load())
	}
	if ledgerAll != answered.Load() {
		t.Fatalf("ledger has %d entries for %d answers", ledgerAll, answered.Load())
	}
	// No personal data in the gateway's logs, even after upstream faults.
	out := g.proc.Output()
	if !strings.Contains(out, "upstream answer unusable") {
		t.Fatal("expected warnings about upstream faults in the log; is the log captured?")
	}
	for _, p := range people {
		if strings.Contains(out, p.name) || strings.Contains(out, p.id) {
			t.Fatalf("gateway log contains personal data (%s)", idMask(p.id))
		}
	}
}

func idMask(s string) string { return s[:6] + "…" }

func TestQuotaSurvivesRestart(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.url, 5, "acme-key")
	b := body(people[2].name, people[2].id)
	for i := 0; i < 3; i++ {
		if r := send(g.url, "acme-key", b, ""); r.status != 200 || r.code != "0" {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if r := send(g.url, "acme-key", b, "result=-5"); r.status != 200 || r.code != "-5" {
		t.Fatalf("not billed: %+v", r)
	}
	g.stop(t)
	g.start(t)
	for i, want := range []int{200, 200, 402} {
		r := send(g.url, "acme-key", b, "")
		if r.status != want {
			t.Fatalf("after restart, request %d: %+v, want %d", i, r, want)
		}
		if want == 402 && r.code != string(contracts.ErrUsedUp) {
			t.Fatalf("want used_up, got %s", r.code)
		}
	}
	if st := s.stats(t); st.Billed != 5 {
		t.Fatalf("simulator billed %d, want 5", st.Billed)
	}
}

// TestReloadUnderLoad: SIGHUP while clients run; no request fails, the new
// key works, the removed one gets 401.
func TestReloadUnderLoad(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.url, 0, "stay-key", "leave-key")
	stop := make(chan struct{})
	var failures, done atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := send(g.url, "stay-key", body(people[0].name, people[0].id), "")
				done.Add(1)
				if r.err != nil || r.status != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ { // several reloads under load
		writeConfig(t, g.cfgPath, s.url, g.store, 0, "stay-key", fmt.Sprintf("new-key-%d", i))
		if err := g.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for send(g.url, fmt.Sprintf("new-key-%d", i), body(people[0].name, people[0].id), "").status != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("new key %d never accepted", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if r := send(g.url, "leave-key", body(people[0].name, people[0].id), ""); r.status != 401 {
		t.Fatalf("removed key: %+v", r)
	}
	if r := send(g.url, "new-key-0", body(people[0].name, people[0].id), ""); r.status != 401 {
		t.Fatalf("key removed by a later reload: %+v", r)
	}
	if failures.Load() != 0 || done.Load() == 0 {
		t.Fatalf("%d of %d requests failed during reloads", failures.Load(), done.Load())
	}
}

// TestShutdownUnderLoad: SIGTERM while clients run; every answer a client
// received has its ledger entry.
func TestShutdownUnderLoad(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.url, 0, "acme-key")
	var answered atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				prefer := ""
				if i%5 == 0 {
					prefer = "latency=30ms"
				}
				r := send(g.url, "acme-key", body(people[c%4].name, people[c%4].id), prefer)
				if r.err != nil {
					return // the listener is gone
				}
				if r.requestID != "" {
					answered.Add(1)
				}
			}
		}(c)
	}
	time.Sleep(500 * time.Millisecond)
	g.stop(t)
	wg.Wait()
	n := g.ledgerCount(t, ledger.Filter{}, false)
	t.Logf("answers %d, ledger entries %d", answered.Load(), n)
	if n != answered.Load() || n == 0 {
		t.Fatalf("ledger has %d entries, clients received %d answers", n, answered.Load())
	}
}

// TestQuotaExactUnder64Clients: a quota of N admits exactly N billed
// answers when 64 clients race for it, and the simulator billed exactly N.
func TestQuotaExactUnder64Clients(t *testing.T) {
	const quota, clients, perClient = 40, 64, 4
	s := startSim(t)
	g := startGateway(t, s.url, quota, "acme-key")
	var billed, usedUp, other atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				prefer := ""
				if (c+i)%4 == 0 {
					prefer = "result=-5" // not billed: hands its unit back
				}
				r := send(g.url, "acme-key", body(people[2].name, people[2].id), prefer)
				switch {
				case r.status == 200 && (r.code == "0" || r.code == "-1"):
					billed.Add(1)
				case r.status == 402 && r.code == string(contracts.ErrUsedUp):
					usedUp.Add(1)
				case r.status == 200 && r.code == "-5":
				default:
					other.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	if billed.Load() != quota || other.Load() != 0 || usedUp.Load() == 0 {
		t.Fatalf("billed %d (want %d), used_up %d, other %d", billed.Load(), quota, usedUp.Load(), other.Load())
	}
	if st := s.stats(t); st.Billed != quota {
		t.Fatalf("simulator billed %d, want %d", st.Billed, quota)
	}
}
