package e2e

// Resilience against the real simulator binary: retries through its faults,
// 500 bursts and slow answers; the cache, singleflight, idempotency keys and
// the circuit breaker. The gateway runs in-process so the test can count its
// goroutines and read its ledger; after every run the ledger's billed count
// must equal the simulator's.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/server"
	"github.com/idgate/idgate/internal/testkit"
)

type resGateway struct {
	s    *server.Server
	url  string
	adm  string
	path string // the ledger file
}

func resConfig(t *testing.T, simURL string) server.Config {
	c := server.DefaultConfig()
	c.Upstream.URL = simURL
	c.Upstream.Timeout = 2 * time.Second
	c.Upstream.MaxIdleConnDuration = 200 * time.Millisecond
	c.Store.Path = filepath.Join(t.TempDir(), "ledger.db")
	c.Store.Linger = 0
	c.Sessions.Enabled = false
	c.LogLevel = "error"
	c.Retry.MinBackoff = 5 * time.Millisecond
	c.Retry.MaxBackoff = 50 * time.Millisecond
	c.Retry.Deadline = 1500 * time.Millisecond
	c.Breaker.Enabled = false
	c.Cache.KeySecret = "e2e-cache-secret-0123456789"
	c.Auth.Tenants = []auth.TenantConfig{
		{ID: "acme", Rate: 100000, Burst: 100000, Keys: []auth.KeyConfig{{ID: "acme-1", Key: "acme-key"}}},
		{ID: "globex", Rate: 100000, Burst: 100000, Keys: []auth.KeyConfig{{ID: "globex-1", Key: "globex-key"}}},
	}
	return c
}

func startResGateway(t *testing.T, c server.Config) *resGateway {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(c, "", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	aln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(ln, aln)
	return &resGateway{s: s, url: "http://" + ln.Addr().String(), adm: "http://" + aln.Addr().String(), path: c.Store.Path}
}

func isReplay(a testkit.Answer) bool { return a.Header.Get("Idempotent-Replayed") == "true" }

// reconcile stops the gateway and compares its billed ledger entries with
// the simulator's billed answers.
func ledgerMatchesSimulator(t *testing.T, g *resGateway, s *testkit.Sim) (ledgerBilled int64) {
	t.Helper()
	shutdown(t, g)
	n := ledgerCount(t, g.path, ledger.Filter{}, true)
	st := counts(t, s)
	if n != st.Billed {
		t.Fatalf("ledger billed %d, simulator billed %d (sim stats %+v)", n, st.Billed, st)
	}
	return n
}

// classCounts reads a stopped gateway's ledger at path: entries and
// upstream attempts per class (class+"_attempts").
func classCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db, err := ledger.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT class, COUNT(*), SUM(attempts) FROM ledger GROUP BY class`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var n, a int64
		if err := rows.Scan(&c, &n, &a); err != nil {
			t.Fatal(err)
		}
		out[c], out[c+"_attempts"] = n, a
	}
	return out
}

// liveGoroutines counts goroutines except fasthttp's worker-pool cleaners:
// after Shutdown they sleep out their idle period (10 s) and return, so
// they are not leaks (what goleak's IgnoreTopFunction would say; a
// 20-line count did not justify a new dependency).
func liveGoroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.TrimSpace(g) != "" && !strings.Contains(g, "fasthttp.(*workerPool).Start.func2") {
			n++
		}
	}
	return n
}

func settledGoroutines(limit int) int {
	n := liveGoroutines()
	for i := 0; i < 100 && n > limit; i++ {
		time.Sleep(50 * time.Millisecond)
		n = liveGoroutines()
	}
	return n
}

func TestResilienceWithSimulator(t *testing.T) {
	s := startSim(t)
	// Warm-up: process-wide goroutines fasthttp and fiber start once.
	c := resConfig(t, s.URL)
	g := startResGateway(t, c)
	testkit.Check(t, g.url, "acme-key", checkBody("张三", "11010519491231002X"))
	shutdown(t, g)
	testkit.Client.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	base := liveGoroutines()

	t.Run("faults, 500 bursts and slow answers", func(t *testing.T) {
		s.Admin(t, "POST", "/admin/reset", "")
		s.Admin(t, "PUT", "/admin/scenarios/sim-token", `{
		  "seed": 7,
		  "outcomes": [{"result":"0","weight":40},{"result":"-1","weight":10},{"result":"-4","weight":10},
		               {"result":"-6","weight":5},{"status":500,"weight":20},{"result":"-5","weight":5}],
		  "latency": {"distribution":"uniform","min":"1ms","max":"30ms"},
		  "fault_rate": 0.2,
		  "faults": [{"fault":"connection_reset","weight":1},{"fault":"empty_response","weight":1},
		             {"fault":"malformed_chunk","weight":1},{"fault":"random_then_close","weight":1}]
		}`)
		c := resConfig(t, s.URL)
		g := startResGateway(t, c)
		deadline := c.Retry.Deadline
		var mu sync.Mutex
		statuses := map[int]int{}
		testkit.Load{Workers: 8, PerWorker: 30}.Run(func(w, i int) bool {
			a := testkit.Check(t, g.url, "acme-key", checkBody("张三", "11010519491231002X"))
			if a.Took > deadline+500*time.Millisecond {
				t.Errorf("client %d request %d waited %v (deadline %v)", w, i, a.Took, deadline)
			}
			mu.Lock()
			statuses[a.Status]++
			mu.Unlock()
			return true
		})
		// Slow answers inside the deadline are answered and billed; a hang
		// is cut at the deadline, answered 500 and not billed. (Without the
		// scenario: its faults would also hit these.)
		s.Admin(t, "DELETE", "/admin/scenarios/sim-token", "")
		prefers := []string{"latency=400ms", "latency=900ms, result=-1", "fault=hang"}
		testkit.Load{Workers: len(prefers), PerWorker: 1}.Run(func(w, _ int) bool {
			p := prefers[w]
			a := testkit.Check(t, g.url, "acme-key", checkBody("李四", "440524188001010014"), "Prefer", p)
			if a.Took > deadline+500*time.Millisecond {
				t.Errorf("%s: waited %v (deadline %v)", p, a.Took, deadline)
			}
			want := 200
			if p == "fault=hang" {
				want = 500
			}
			if a.Status != want {
				t.Errorf("%s: status %d %s", p, a.Status, a.Body)
			}
			return true
		})
		billed := ledgerMatchesSimulator(t, g, s)
		cls := classCounts(t, g.path)
		t.Logf("statuses %v, classes %v, billed %d", statuses, cls, billed)
		for st := range statuses {
			if st != 200 && st != 500 {
				t.Errorf("unexpected status %d", st)
			}
		}
		if cls["billed_attempts"]+cls["not_billed_attempts"]+cls["upstream_error_attempts"]+cls["unknown_attempts"] <= cls["billed"]+cls["not_billed"]+cls["upstream_error"]+cls["unknown"] {
			t.Error("no request needed a retry: the scenario does not exercise the policy")
		}
	})

	t.Run("which faults are retried", func(t *testing.T) {
		c := resConfig(t, s.URL)
		g := startResGateway(t, c)
		for _, tc := range []struct {
			prefer string
			calls  int64 // upstream calls for one request
			status int
		}{
			// Every fault after the request was written may follow a billed
			// verdict: one call, recorded as unknown, never a second charge.
			{"fault=connection_reset", 1, 500},
			{"fault=empty_response", 1, 500},
			{"fault=malformed_chunk", 1, 500},   // an answer began: it may have been billed
			{"fault=random_then_close", 1, 500}, // likewise
			{"fault=hang", 1, 500},              // a timeout: the authority may still bill it
			{"status=500", 3, 500},
			{"status=429", 2, 429}, // the simulator's Retry-After ≥ 1 s: one retry fits the 1.5 s deadline
			{"result=-4", 3, 200},
			{"result=-6", 3, 200},
			{"result=-5", 1, 200},
			{"result=-1", 1, 200},
			{"result=0", 1, 200},
		} {
			s.Admin(t, "POST", "/admin/reset", "")
			a := testkit.Check(t, g.url, "acme-key", checkBody("张三", "11010519491231002X"), "Prefer", tc.prefer)
			if st := counts(t, s); st.Requests != tc.calls || a.Status != tc.status {
				t.Errorf("%s: %d upstream calls, status %d; want %d, %d", tc.prefer, st.Requests, a.Status, tc.calls, tc.status)
			}
		}
		shutdown(t, g) // the simulator was reset per case: nothing to reconcile
	})

	t.Run("cache, singleflight and tenant isolation", func(t *testing.T) {
		s.Admin(t, "POST", "/admin/reset", "")
		c := resConfig(t, s.URL)
		c.Cache.Enabled = true
		g := startResGateway(t, c)
		body := checkBody("王五", "11010519491231002X")
		testkit.Load{Workers: 16, PerWorker: 1}.Run(func(int, int) bool {
			if a := testkit.Check(t, g.url, "acme-key", body); a.Status != 200 || !strings.Contains(a.Body, `"result":"0"`) {
				t.Errorf("status %d %s", a.Status, a.Body)
			}
			return true
		})
		// A later identical request is a plain hit.
		testkit.Check(t, g.url, "acme-key", body)
		if st := counts(t, s); st.Billed != 1 {
			t.Errorf("17 identical requests cost %d upstream charges, want 1", st.Billed)
		}
		// Another tenant never sees acme's entry.
		testkit.Check(t, g.url, "globex-key", body)
		if st := counts(t, s); st.Billed != 2 {
			t.Errorf("globex was served acme's entry (sim billed %d, want 2)", st.Billed)
		}
		// Transient answers are never cached: each repeat goes upstream.
		for range 3 {
			a := testkit.Check(t, g.url, "acme-key", checkBody("赵六", "110101191111110045")) // magic -4
			if !strings.Contains(a.Body, `"result":"-4"`) {
				t.Errorf("magic -4: %d %s", a.Status, a.Body)
			}
		}
		if st := counts(t, s); st.Results["-4"] != 3*int64(c.Retry.MaxAttempts) {
			t.Errorf("-4 asked upstream %d times, want %d (3 requests × %d attempts, never cached)", st.Results["-4"], 3*c.Retry.MaxAttempts, c.Retry.MaxAttempts)
		}
		// Purge per pair: the next request goes upstream again.
		code, _ := adminDo(t, g, "POST", "/admin/cache/purge", `{"name":"王五","id_card":"11010519491231002X"}`)
		if code != 204 {
			t.Fatalf("purge: %d", code)
		}
		time.Sleep(2 * time.Millisecond)
		testkit.Check(t, g.url, "acme-key", body)
		if st := counts(t, s); st.Billed != 3 {
			t.Errorf("after the purge sim billed %d, want 3", st.Billed)
		}
		ledgerMatchesSimulator(t, g, s)
		cls := classCounts(t, g.path)
		if cls["cached"] != 16 || cls["billed"] != 3 {
			t.Errorf("classes %v: want 16 cached, 3 billed", cls)
		}
	})

	t.Run("cache hits and the tenant's quota policy", func(t *testing.T) {
		s.Admin(t, "POST", "/admin/reset", "")
		c := resConfig(t, s.URL)
		c.Cache.Enabled = true
		c.Cache.Tenants = map[string]cache.TenantConfig{"acme": {CountQuota: true}}
		c.Auth.Tenants[0].DailyQuota, c.Auth.Tenants[1].DailyQuota = 2, 1
		g := startResGateway(t, c)
		body := checkBody("王五", "11010519491231002X")
		// acme counts hits: miss (unit 1), hit (unit 2), hit refused.
		// globex does not: miss (its only unit), then hits for free.
		for i, want := range []int{200, 200, 402} {
			if a := testkit.Check(t, g.url, "acme-key", body); a.Status != want {
				t.Errorf("acme request %d: %d %s, want %d", i, a.Status, a.Body, want)
			}
		}
		for i := range 4 {
			if a := testkit.Check(t, g.url, "globex-key", body); a.Status != 200 {
				t.Errorf("globex request %d: %d %s", i, a.Status, a.Body)
			}
		}
		ledgerMatchesSimulator(t, g, s)
		if cls := classCounts(t, g.path); cls["cached"] != 3 || cls["cached_quota"] != 1 || cls["billed"] != 2 || cls["quota_exceeded"] != 1 {
			t.Errorf("classes %v: want 2 billed, 1 cached_quota, 3 cached, 1 quota_exceeded", cls)
		}
		// The counted hit survives a restart: acme's quota is still used up.
		c2 := c
		g2 := startResGateway(t, c2)
		if a := testkit.Check(t, g2.url, "acme-key", body); a.Status != 402 {
			t.Errorf("after a restart acme got %d, want 402 (2 units used: 1 billed + 1 counted hit)", a.Status)
		}
		shutdown(t, g2)
	})

	t.Run("idempotency keys", func(t *testing.T) {
		s.Admin(t, "POST", "/admin/reset", "")
		c := resConfig(t, s.URL)
		g := startResGateway(t, c)
		body := checkBody("张三", "11010519491231002X")
		hdr := []string{"Idempotency-Key", "order-42", "Prefer", "latency=100ms"}
		answers := make([]testkit.Answer, 8)
		testkit.Load{Workers: len(answers), PerWorker: 1}.Run(func(w, _ int) bool {
			answers[w] = testkit.Check(t, g.url, "acme-key", body, hdr...)
			return true
		})
		replayed := 0
		for _, a := range answers {
			if a.Status != 200 || a.Body != answers[0].Body {
				t.Errorf("duplicate answered %d %s, first %s", a.Status, a.Body, answers[0].Body)
			}
			if isReplay(a) {
				replayed++
			}
		}
		if replayed != 7 {
			t.Errorf("%d replays, want 7", replayed)
		}
		a := testkit.Check(t, g.url, "acme-key", body, hdr...)
		if !isReplay(a) || a.Body != answers[0].Body {
			t.Errorf("a later retry: %+v", a)
		}
		a = testkit.Check(t, g.url, "acme-key", checkBody("李四", "440524188001010014"), hdr...)
		if a.Status != 400 || !strings.Contains(a.Body, "token_mismatched") || !strings.Contains(a.Body, "different request body") {
			t.Errorf("same key, other body: %d %s", a.Status, a.Body)
		}
		// Scoped per tenant: globex's order-42 is its own.
		if a := testkit.Check(t, g.url, "globex-key", body, hdr...); isReplay(a) {
			t.Error("globex replayed acme's answer")
		}
		if st := counts(t, s); st.Billed != 2 {
			t.Errorf("sim billed %d, want 2 (one per tenant)", st.Billed)
		}
		// A failed first try is not stored: the retry with the key runs.
		fail := []string{"Idempotency-Key", "order-43", "Prefer", "status=500"}
		if a := testkit.Check(t, g.url, "acme-key", body, fail...); a.Status != 500 || isReplay(a) {
			t.Errorf("first try: %+v", a)
		}
		if a := testkit.Check(t, g.url, "acme-key", body, "Idempotency-Key", "order-43"); a.Status != 200 || isReplay(a) {
			t.Errorf("retry after a failure: %+v", a)
		}
		if a := testkit.Check(t, g.url, "acme-key", body, "Idempotency-Key", "bad key"); a.Status != 400 {
			t.Errorf("a key with a space: %d", a.Status)
		}
		ledgerMatchesSimulator(t, g, s)
	})

	t.Run("circuit breaker opens, half-opens, closes", func(t *testing.T) {
		s.Admin(t, "POST", "/admin/reset", "")
		c := resConfig(t, s.URL)
		c.Breaker = breaker.Config{Enabled: true, FailureRatio: 0.5, MinRequests: 4, Window: time.Minute,
			OpenFor: 300 * time.Millisecond, HalfOpenProbes: 1}
		c.Retry.MaxAttempts = 1
		g := startResGateway(t, c)
		body := checkBody("张三", "11010519491231002X")
		// Failures a test asks for by Prefer are excused: they never open it.
		for range 6 {
			if a := testkit.Check(t, g.url, "acme-key", body, "Prefer", "status=500"); a.Status != 500 {
				t.Fatalf("Prefer status=500: got %d", a.Status)
			}
		}
		if code, b := getReadyz(t, g); code != 200 || !strings.Contains(b, `"breaker":"closed"`) {
			t.Fatalf("excused failures opened the breaker: readyz %d %s", code, b)
		}
		// Failures the upstream decides itself (a scenario) count.
		s.Admin(t, "PUT", "/admin/scenarios/sim-token", `{"seed":1,"outcomes":[{"status":500,"weight":1}]}`)
		for range 4 {
			if a := testkit.Check(t, g.url, "acme-key", body); a.Status != 500 {
				t.Fatalf("scenario 500: got %d", a.Status)
			}
		}
		s.Admin(t, "DELETE", "/admin/scenarios/sim-token", "")
		before := counts(t, s).Requests
		a := testkit.Check(t, g.url, "acme-key", body)
		if a.Status != 503 || !strings.Contains(a.Body, "service_unavailable") {
			t.Fatalf("open breaker answered %d %s", a.Status, a.Body)
		}
		if counts(t, s).Requests != before {
			t.Fatal("an open breaker called the upstream")
		}
		if code, b := getReadyz(t, g); code != 503 || !strings.Contains(b, `"breaker":"open"`) {
			t.Fatalf("readyz %d %s", code, b)
		}
		time.Sleep(350 * time.Millisecond)
		if a := testkit.Check(t, g.url, "acme-key", body); a.Status != 200 {
			t.Fatalf("half-open probe: %d %s", a.Status, a.Body)
		}
		if code, b := getReadyz(t, g); code != 200 || !strings.Contains(b, `"breaker":"closed"`) {
			t.Fatalf("readyz after recovery %d %s", code, b)
		}
		ledgerMatchesSimulator(t, g, s)
		if cls := classCounts(t, g.path); cls["circuit_open"] != 1 {
			t.Errorf("classes %v: want one circuit_open", cls)
		}
	})

	testkit.Client.CloseIdleConnections()
	if n := settledGoroutines(base); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}

func getReadyz(t *testing.T, g *resGateway) (int, string) {
	t.Helper()
	return testkit.Call(t, http.MethodGet, g.adm+"/readyz", "", "")
}

func adminDo(t *testing.T, g *resGateway, method, path, body string) (int, string) {
	t.Helper()
	return testkit.Call(t, method, g.adm+path, testkit.GatewayAdminToken, body)
}

func shutdown(t *testing.T, g *resGateway) {
	t.Helper()
	if err := g.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
