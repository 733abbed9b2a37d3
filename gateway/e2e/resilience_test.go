package e2e

// Resilience against the real simulator binary: retries through its faults,
// 500 bursts and slow answers; the cache, singleflight, idempotency keys and
// the circuit breaker. The gateway runs in-process so the test can count its
// goroutines and read its ledger; after every run the ledger's billed count
// must equal the simulator's.

import (
	"context"
	"fmt"
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

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/server"
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

type answer struct {
	status   int
	body     string
	replayed bool
	took     time.Duration
}

var resClient = &http.Client{Timeout: 20 * time.Second}

func post(t *testing.T, url, key, body string, hdr map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", url+contracts.CheckPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := resClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), replayed: resp.Header.Get("Idempotent-Replayed") == "true", took: time.Since(start)}
}

func identity(name, id string) string { return fmt.Sprintf(`{"name":%q,"id_card":%q}`, name, id) }

func simDo(t *testing.T, s *sim, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+simAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
}

// reconcile stops the gateway and compares its billed ledger entries with
// the simulator's billed answers.
func reconcile(t *testing.T, g *resGateway, s *sim) (ledgerBilled int64) {
	t.Helper()
	if err := g.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := countBilled(g)
	if err != nil {
		t.Fatal(err)
	}
	st := s.stats(t)
	if n != st.Billed {
		t.Fatalf("ledger billed %d, simulator billed %d (sim stats %+v)", n, st.Billed, st)
	}
	return n
}

func countBilled(g *resGateway) (int64, error) {
	db, err := ledger.OpenDB(g.path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRow(`SELECT COUNT(*) FROM ledger WHERE billed = 1`).Scan(&n)
	return n, err
}

func classCounts(t *testing.T, g *resGateway) map[string]int64 {
	t.Helper()
	db, err := ledger.OpenDB(g.path)
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
	c := resConfig(t, s.url)
	g := startResGateway(t, c)
	post(t, g.url, "acme-key", identity("张三", "11010519491231002X"), nil)
	shutdown(t, g)
	resClient.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	base := liveGoroutines()

	t.Run("faults, 500 bursts and slow answers", func(t *testing.T) {
		simDo(t, s, "POST", "/admin/reset", "")
		simDo(t, s, "PUT", "/admin/scenarios/sim-token", `{
		  "seed": 7,
		  "outcomes": [{"result":"0","weight":40},{"result":"-1","weight":10},{"result":"-4","weight":10},
		               {"result":"-6","weight":5},{"status":500,"weight":20},{"result":"-5","weight":5}],
		  "latency": {"distribution":"uniform","min":"1ms","max":"30ms"},
		  "fault_rate": 0.2,
		  "faults": [{"fault":"connection_reset","weight":1},{"fault":"empty_response","weight":1},
		             {"fault":"malformed_chunk","weight":1},{"fault":"random_then_close","weight":1}]
		}`)
		c := resConfig(t, s.url)
		g := startResGateway(t, c)
		deadline := c.Retry.Deadline
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 30 {
					a := post(t, g.url, "acme-key", identity("张三", "11010519491231002X"), nil)
					if a.took > deadline+500*time.Millisecond {
						t.Errorf("client %d request %d waited %v (deadline %v)", w, i, a.took, deadline)
					}
					mu.Lock()
					statuses[a.status]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		// Slow answers inside the deadline are answered and billed; a hang
		// is cut at the deadline, answered 500 and not billed. (Without the
		// scenario: its faults would also hit these.)
		simDo(t, s, "DELETE", "/admin/scenarios/sim-token", "")
		for _, p := range []string{"latency=400ms", "latency=900ms, result=-1", "fault=hang"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := post(t, g.url, "acme-key", identity("李四", "440524188001010014"), map[string]string{"Prefer": p})
				if a.took > deadline+500*time.Millisecond {
					t.Errorf("%s: waited %v (deadline %v)", p, a.took, deadline)
				}
				want := 200
				if p == "fault=hang" {
					want = 500
				}
				if a.status != want {
					t.Errorf("%s: status %d %s", p, a.status, a.body)
				}
			}()
		}
		wg.Wait()
		billed := reconcile(t, g, s)
		cls := classCounts(t, g)
		t.Logf("statuses %v, classes %v, billed %d", statuses, cls, billed)
		for st := range statuses {
			if st != 200 && st != 500 {
				t.Errorf("unexpected status %d", st)
			}
		}
		if cls["billed_attempts"]+cls["not_billed_attempts"]+cls["upstream_error_attempts"] <= cls["billed"]+cls["not_billed"]+cls["upstream_error"] {
			t.Error("no request needed a retry: the scenario does not exercise the policy")
		}
	})

	t.Run("which faults are retried", func(t *testing.T) {
		c := resConfig(t, s.url)
		g := startResGateway(t, c)
		for _, tc := range []struct {
			prefer string
			calls  int64 // upstream calls for one request
			status int
		}{
			{"fault=connection_reset", 3, 500},
			{"fault=empty_response", 3, 500},
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
			simDo(t, s, "POST", "/admin/reset", "")
			a := post(t, g.url, "acme-key", identity("张三", "11010519491231002X"), map[string]string{"Prefer": tc.prefer})
			if st := s.stats(t); st.Requests != tc.calls || a.status != tc.status {
				t.Errorf("%s: %d upstream calls, status %d; want %d, %d", tc.prefer, st.Requests, a.status, tc.calls, tc.status)
			}
		}
		shutdown(t, g) // the simulator was reset per case: nothing to reconcile
	})

	t.Run("cache, singleflight and tenant isolation", func(t *testing.T) {
		simDo(t, s, "POST", "/admin/reset", "")
		c := resConfig(t, s.url)
		c.Cache.Enabled = true
		g := startResGateway(t, c)
		body := identity("王五", "11010519491231002X")
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if a := post(t, g.url, "acme-key", body, nil); a.status != 200 || !strings.Contains(a.body, `"result":"0"`) {
					t.Errorf("status %d %s", a.status, a.body)
				}
			}()
		}
		wg.Wait()
		// A later identical request is a plain hit.
		post(t, g.url, "acme-key", body, nil)
		if st := s.stats(t); st.Billed != 1 {
			t.Errorf("17 identical requests cost %d upstream charges, want 1", st.Billed)
		}
		// Another tenant never sees acme's entry.
		post(t, g.url, "globex-key", body, nil)
		if st := s.stats(t); st.Billed != 2 {
			t.Errorf("globex was served acme's entry (sim billed %d, want 2)", st.Billed)
		}
		// Transient answers are never cached: each repeat goes upstream.
		for range 3 {
			a := post(t, g.url, "acme-key", identity("赵六", "110101191111110045"), nil) // magic -4
			if !strings.Contains(a.body, `"result":"-4"`) {
				t.Errorf("magic -4: %d %s", a.status, a.body)
			}
		}
		if st := s.stats(t); st.Results["-4"] != 3*int64(c.Retry.MaxAttempts) {
			t.Errorf("-4 asked upstream %d times, want %d (3 requests × %d attempts, never cached)", st.Results["-4"], 3*c.Retry.MaxAttempts, c.Retry.MaxAttempts)
		}
		// Purge per pair: the next request goes upstream again.
		code, _ := adminDo(t, g, "POST", "/admin/cache/purge", `{"name":"王五","id_card":"11010519491231002X"}`)
		if code != 204 {
			t.Fatalf("purge: %d", code)
		}
		time.Sleep(2 * time.Millisecond)
		post(t, g.url, "acme-key", body, nil)
		if st := s.stats(t); st.Billed != 3 {
			t.Errorf("after the purge sim billed %d, want 3", st.Billed)
		}
		reconcile(t, g, s)
		cls := classCounts(t, g)
		if cls["cached"] != 16 || cls["billed"] != 3 {
			t.Errorf("classes %v: want 16 cached, 3 billed", cls)
		}
	})

	t.Run("cache hits and the tenant's quota policy", func(t *testing.T) {
		simDo(t, s, "POST", "/admin/reset", "")
		c := resConfig(t, s.url)
		c.Cache.Enabled = true
		c.Cache.Tenants = map[string]cache.TenantConfig{"acme": {CountQuota: true}}
		c.Auth.Tenants[0].DailyQuota, c.Auth.Tenants[1].DailyQuota = 2, 1
		g := startResGateway(t, c)
		body := identity("王五", "11010519491231002X")
		// acme counts hits: miss (unit 1), hit (unit 2), hit refused.
		// globex does not: miss (its only unit), then hits for free.
		for i, want := range []int{200, 200, 402} {
			if a := post(t, g.url, "acme-key", body, nil); a.status != want {
				t.Errorf("acme request %d: %d %s, want %d", i, a.status, a.body, want)
			}
		}
		for i := range 4 {
			if a := post(t, g.url, "globex-key", body, nil); a.status != 200 {
				t.Errorf("globex request %d: %d %s", i, a.status, a.body)
			}
		}
		reconcile(t, g, s)
		if cls := classCounts(t, g); cls["cached"] != 3 || cls["cached_quota"] != 1 || cls["billed"] != 2 || cls["quota_exceeded"] != 1 {
			t.Errorf("classes %v: want 2 billed, 1 cached_quota, 3 cached, 1 quota_exceeded", cls)
		}
		// The counted hit survives a restart: acme's quota is still used up.
		c2 := c
		g2 := startResGateway(t, c2)
		if a := post(t, g2.url, "acme-key", body, nil); a.status != 402 {
			t.Errorf("after a restart acme got %d, want 402 (2 units used: 1 billed + 1 counted hit)", a.status)
		}
		shutdown(t, g2)
	})

	t.Run("idempotency keys", func(t *testing.T) {
		simDo(t, s, "POST", "/admin/reset", "")
		c := resConfig(t, s.url)
		g := startResGateway(t, c)
		body := identity("张三", "11010519491231002X")
		hdr := map[string]string{"Idempotency-Key": "order-42", "Prefer": "latency=100ms"}
		var wg sync.WaitGroup
		answers := make([]answer, 8)
		for i := range answers {
			wg.Add(1)
			go func() { defer wg.Done(); answers[i] = post(t, g.url, "acme-key", body, hdr) }()
		}
		wg.Wait()
		replayed := 0
		for _, a := range answers {
			if a.status != 200 || a.body != answers[0].body {
				t.Errorf("duplicate answered %d %s, first %s", a.status, a.body, answers[0].body)
			}
			if a.replayed {
				replayed++
			}
		}
		if replayed != 7 {
			t.Errorf("%d replays, want 7", replayed)
		}
		a := post(t, g.url, "acme-key", body, hdr)
		if !a.replayed || a.body != answers[0].body {
			t.Errorf("a later retry: %+v", a)
		}
		a = post(t, g.url, "acme-key", identity("李四", "440524188001010014"), hdr)
		if a.status != 400 || !strings.Contains(a.body, "token_mismatched") || !strings.Contains(a.body, "different request body") {
			t.Errorf("same key, other body: %d %s", a.status, a.body)
		}
		// Scoped per tenant: globex's order-42 is its own.
		if a := post(t, g.url, "globex-key", body, hdr); a.replayed {
			t.Error("globex replayed acme's answer")
		}
		if st := s.stats(t); st.Billed != 2 {
			t.Errorf("sim billed %d, want 2 (one per tenant)", st.Billed)
		}
		// A failed first try is not stored: the retry with the key runs.
		fail := map[string]string{"Idempotency-Key": "order-43", "Prefer": "status=500"}
		if a := post(t, g.url, "acme-key", body, fail); a.status != 500 || a.replayed {
			t.Errorf("first try: %+v", a)
		}
		if a := post(t, g.url, "acme-key", body, map[string]string{"Idempotency-Key": "order-43"}); a.status != 200 || a.replayed {
			t.Errorf("retry after a failure: %+v", a)
		}
		if a := post(t, g.url, "acme-key", body, map[string]string{"Idempotency-Key": "bad key"}); a.status != 400 {
			t.Errorf("a key with a space: %d", a.status)
		}
		reconcile(t, g, s)
	})

	t.Run("circuit breaker opens, half-opens, closes", func(t *testing.T) {
		simDo(t, s, "POST", "/admin/reset", "")
		c := resConfig(t, s.url)
		c.Breaker = breaker.Config{Enabled: true, FailureRatio: 0.5, MinRequests: 4, Window: time.Minute,
			OpenFor: 300 * time.Millisecond, HalfOpenProbes: 1}
		c.Retry.MaxAttempts = 1
		g := startResGateway(t, c)
		body := identity("张三", "11010519491231002X")
		// Failures a test asks for by Prefer are excused: they never open it.
		for range 6 {
			if a := post(t, g.url, "acme-key", body, map[string]string{"Prefer": "status=500"}); a.status != 500 {
				t.Fatalf("Prefer status=500: got %d", a.status)
			}
		}
		if code, b := getReadyz(t, g); code != 200 || !strings.Contains(b, `"breaker":"closed"`) {
			t.Fatalf("excused failures opened the breaker: readyz %d %s", code, b)
		}
		// Failures the upstream decides itself (a scenario) count.
		simDo(t, s, "PUT", "/admin/scenarios/sim-token", `{"seed":1,"outcomes":[{"status":500,"weight":1}]}`)
		for range 4 {
			if a := post(t, g.url, "acme-key", body, nil); a.status != 500 {
				t.Fatalf("scenario 500: got %d", a.status)
			}
		}
		simDo(t, s, "DELETE", "/admin/scenarios/sim-token", "")
		before := s.stats(t).Requests
		a := post(t, g.url, "acme-key", body, nil)
		if a.status != 503 || !strings.Contains(a.body, "service_unavailable") {
			t.Fatalf("open breaker answered %d %s", a.status, a.body)
		}
		if s.stats(t).Requests != before {
			t.Fatal("an open breaker called the upstream")
		}
		if code, b := getReadyz(t, g); code != 503 || !strings.Contains(b, `"breaker":"open"`) {
			t.Fatalf("readyz %d %s", code, b)
		}
		time.Sleep(350 * time.Millisecond)
		if a := post(t, g.url, "acme-key", body, nil); a.status != 200 {
			t.Fatalf("half-open probe: %d %s", a.status, a.body)
		}
		if code, b := getReadyz(t, g); code != 200 || !strings.Contains(b, `"breaker":"closed"`) {
			t.Fatalf("readyz after recovery %d %s", code, b)
		}
		reconcile(t, g, s)
		if cls := classCounts(t, g); cls["circuit_open"] != 1 {
			t.Errorf("classes %v: want one circuit_open", cls)
		}
	})

	resClient.CloseIdleConnections()
	if n := settledGoroutines(base); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}

func getReadyz(t *testing.T, g *resGateway) (int, string) {
	t.Helper()
	resp, err := resClient.Get(g.adm + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func adminDo(t *testing.T, g *resGateway, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, g.adm+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer gateway-admin-token")
	resp, err := resClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func shutdown(t *testing.T, g *resGateway) {
	t.Helper()
	if err := g.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
