package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/simulator/stats"
)

const gwAdminToken = "e2e-admin-token"

// startSim runs the simulator without its journal (the tests read stats).
func startSim(t *testing.T) *testkit.Sim {
	t.Helper()
	return testkit.StartSim(t, "IDGATE_SIM_JOURNAL_ENABLED=false")
}

// counts is what the simulator answered and billed for the gateway.
func counts(t *testing.T, s *testkit.Sim) stats.Counts {
	t.Helper()
	return s.Stats(t).Tokens[testkit.SimToken]
}

type gateway struct {
	*testkit.Gateway
	cfgPath string
	store   string
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
	return startGatewayBinary(t, testkit.Build(t, "./gateway/cmd/gateway"), upstream, acmeQuota, acmeKeys...)
}

// startGatewayBinary is startGateway with a binary of the caller's.
func startGatewayBinary(t *testing.T, bin, upstream string, acmeQuota int, acmeKeys ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{cfgPath: filepath.Join(dir, "gateway.yaml"), store: filepath.Join(dir, "var", "ledger.db")}
	writeConfig(t, g.cfgPath, upstream, g.store, acmeQuota, acmeKeys...)
	g.Gateway = testkit.StartGatewayBinary(t, bin, []string{"-config", g.cfgPath})
	return g
}

// ledgerCount counts the entries in the ledger file of a stopped gateway.
func ledgerCount(t *testing.T, path string, f ledger.Filter, billedOnly bool) int64 {
	t.Helper()
	db, err := ledger.OpenDB(path)
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

// waitFor polls cond every 20 ms until it holds or d passes; it returns how
// long that took, and false on timeout.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d, false
}

func checkBody(name, id string) string { return fmt.Sprintf(`{"name":%q,"id_card":%q}`, name, id) }

// Identities the test sends: they must never show up in the gateway's logs.
var people = []struct{ name, id string }{
	{"王小明", "11010519491231002X"},
	{"李建国", "440524188001010014"},
	{"测试一致", "110101191111110010"},
	{"测试不一致", "110101191111110029"},
}

func TestLocalRejectsNeverReachUpstream(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.URL, 1000, "acme-key")
	cases := []struct {
		name, body, key string
		status          int
		code            string
	}{
		{"illegal id", checkBody("王小明", "110105194912310021"), "acme-key", 200, "-2"},
		{"illegal name", checkBody("W", "11010519491231002X"), "acme-key", 200, "-3"},
		{"malformed json", `{"name":`, "acme-key", 400, "token_mismatched"},
		{"missing field", `{"name":"王小明"}`, "acme-key", 400, "token_mismatched"},
		{"no key", checkBody("王小明", "11010519491231002X"), "", 401, "invalid_token"},
		{"bad key", checkBody("王小明", "11010519491231002X"), "nope", 401, "invalid_token"},
	}
	for _, tc := range cases {
		r := testkit.Check(t, g.URL, tc.key, tc.body)
		if r.Err != nil || r.Status != tc.status || r.Code != tc.code {
			t.Errorf("%s: %+v, want %d %s", tc.name, r, tc.status, tc.code)
		}
	}
	if st := counts(t, s); st.Requests != 0 {
		t.Fatalf("simulator saw %d requests from local rejects", st.Requests)
	}
	if r := testkit.Check(t, g.URL, "acme-key", checkBody("测试一致", "110101191111110010")); r.Status != 200 || r.Code != "0" {
		t.Fatalf("valid request: %+v", r)
	}
	if st := counts(t, s); st.Requests != 1 || st.Billed != 1 {
		t.Fatalf("simulator stats after one valid request: %+v", st)
	}
}

// TestMixedRunReconciles drives every outcome the simulator can produce
// through the gateway from 32 clients, then compares three records of the
// money: what clients saw, what the gateway's ledger says, and what the
// simulator billed.
func TestMixedRunReconciles(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.URL, 0, "acme-key")
	prefers := []string{"", "", "", "result=-1", "result=-5", "result=-4", "result=-6", "status=429", "status=500",
		"fault=connection_reset", "fault=empty_response", "fault=malformed_chunk", "fault=random_then_close", "latency=20ms"}
	bodies := []string{checkBody(people[0].name, people[0].id), checkBody(people[1].name, people[1].id), checkBody(people[2].name, people[2].id),
		checkBody(people[3].name, people[3].id), checkBody("W", people[0].id), `{"name":1}`}
	const clients, perClient = 32, 40
	var clientBilled, answered atomic.Int64
	wait := testkit.Load{Workers: clients, PerWorker: perClient}.Start(func(c, i int) bool {
		n := c*perClient + i
		r := testkit.Check(t, g.URL, "acme-key", bodies[n%len(bodies)], "Prefer", prefers[n%len(prefers)])
		if r.Err != nil {
			return true
		}
		answered.Add(1)
		if r.Status == 200 && (r.Code == "0" || r.Code == "-1") {
			clientBilled.Add(1)
		}
		if r.Status == 200 && r.Code == "" || r.RequestID() == "" {
			t.Errorf("answer without result or request id: %+v", r)
		}
		return true
	})
	// One hang: the gateway gives up after its 3 s upstream timeout. A
	// shorter timeout would let slow (race-detector) answers the simulator
	// billed time out at the gateway, and the ledger would then rightly
	// disagree with the simulator; this run checks that they agree.
	if r := testkit.Check(t, g.URL, "acme-key", bodies[0], "Prefer", "fault=hang"); r.Status != 500 || r.Code != "api_error" {
		t.Errorf("hang: %+v", r)
	}
	answered.Add(1)
	wait()
	simStats := counts(t, s)
	g.Terminate(t)
	ledgerBilled := ledgerCount(t, g.store, ledger.Filter{Tenant: "acme"}, true)
	ledgerAll := ledgerCount(t, g.store, ledger.Filter{Tenant: "acme"}, false)
	t.Logf("answered %d, client billed %d, ledger billed %d, simulator billed %d (requests %d)",
		answered.Load(), clientBilled.Load(), ledgerBilled, simStats.Billed, simStats.Requests)
	if ledgerBilled != simStats.Billed || ledgerBilled != clientBilled.Load() || ledgerBilled == 0 {
		t.Fatalf("billed: ledger %d, simulator %d, clients %d", ledgerBilled, simStats.Billed, clientBilled.Load())
	}
	if ledgerAll != answered.Load() {
		t.Fatalf("ledger has %d entries for %d answers", ledgerAll, answered.Load())
	}
	// No personal data in the gateway's logs, even after upstream faults.
	out := g.Output()
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
	g := startGateway(t, s.URL, 5, "acme-key")
	b := checkBody(people[2].name, people[2].id)
	for i := 0; i < 3; i++ {
		if r := testkit.Check(t, g.URL, "acme-key", b); r.Status != 200 || r.Code != "0" {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if r := testkit.Check(t, g.URL, "acme-key", b, "Prefer", "result=-5"); r.Status != 200 || r.Code != "-5" {
		t.Fatalf("not billed: %+v", r)
	}
	g.Terminate(t)
	g.Restart(t)
	for i, want := range []int{200, 200, 402} {
		r := testkit.Check(t, g.URL, "acme-key", b)
		if r.Status != want {
			t.Fatalf("after restart, request %d: %+v, want %d", i, r, want)
		}
		if want == 402 && r.Code != string(contracts.ErrUsedUp) {
			t.Fatalf("want used_up, got %s", r.Code)
		}
	}
	if st := counts(t, s); st.Billed != 5 {
		t.Fatalf("simulator billed %d, want 5", st.Billed)
	}
}

// TestReloadUnderLoad: SIGHUP while clients run; no request fails, the new
// key works, the removed one gets 401.
func TestReloadUnderLoad(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.URL, 0, "stay-key", "leave-key")
	stop := make(chan struct{})
	var failures, done atomic.Int64
	wait := testkit.Load{Workers: 8, Stop: stop}.Start(func(int, int) bool {
		r := testkit.Check(t, g.URL, "stay-key", checkBody(people[0].name, people[0].id))
		done.Add(1)
		if r.Err != nil || r.Status != 200 {
			failures.Add(1)
		}
		return true
	})
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ { // several reloads under load
		writeConfig(t, g.cfgPath, s.URL, g.store, 0, "stay-key", fmt.Sprintf("new-key-%d", i))
		if err := g.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for testkit.Check(t, g.URL, fmt.Sprintf("new-key-%d", i), checkBody(people[0].name, people[0].id)).Status != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("new key %d never accepted", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	close(stop)
	wait()
	if r := testkit.Check(t, g.URL, "leave-key", checkBody(people[0].name, people[0].id)); r.Status != 401 {
		t.Fatalf("removed key: %+v", r)
	}
	if r := testkit.Check(t, g.URL, "new-key-0", checkBody(people[0].name, people[0].id)); r.Status != 401 {
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
	g := startGateway(t, s.URL, 0, "acme-key")
	var answered atomic.Int64
	// Bounded by the shutdown: a client stops at its first failed request.
	wait := testkit.Load{Workers: 16, For: time.Minute}.Start(func(c, i int) bool {
		prefer := ""
		if i%5 == 0 {
			prefer = "latency=30ms"
		}
		r := testkit.TryCheck(g.URL, "acme-key", checkBody(people[c%4].name, people[c%4].id), "Prefer", prefer)
		if r.Err != nil {
			return false // the listener is gone
		}
		if r.RequestID() != "" {
			answered.Add(1)
		}
		return true
	})
	time.Sleep(500 * time.Millisecond)
	g.Terminate(t)
	wait()
	n := ledgerCount(t, g.store, ledger.Filter{}, false)
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
	g := startGateway(t, s.URL, quota, "acme-key")
	var billed, usedUp, other atomic.Int64
	testkit.Load{Workers: clients, PerWorker: perClient}.Run(func(c, i int) bool {
		prefer := ""
		if (c+i)%4 == 0 {
			prefer = "result=-5" // not billed: hands its unit back
		}
		r := testkit.Check(t, g.URL, "acme-key", checkBody(people[2].name, people[2].id), "Prefer", prefer)
		switch {
		case r.Status == 200 && (r.Code == "0" || r.Code == "-1"):
			billed.Add(1)
		case r.Status == 402 && r.Code == string(contracts.ErrUsedUp):
			usedUp.Add(1)
		case r.Status == 200 && r.Code == "-5":
		default:
			other.Add(1)
		}
		return true
	})
	if billed.Load() != quota || other.Load() != 0 || usedUp.Load() == 0 {
		t.Fatalf("billed %d (want %d), used_up %d, other %d", billed.Load(), quota, usedUp.Load(), other.Load())
	}
	if st := counts(t, s); st.Billed != quota {
		t.Fatalf("simulator billed %d, want %d", st.Billed, quota)
	}
}
