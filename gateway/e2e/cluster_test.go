package e2e

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
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
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/simulator/identity"
)

// These tests run a fleet of gateway replicas (the real binary) on shared
// stores — Redis for rate limits, quota counters and Idempotency-Keys,
// PostgreSQL for the ledger, sessions and keys — in front of the real
// simulator, and hold the fleet to what one gateway guarantees: a daily
// quota of N bills exactly N answers, a key's rate holds across replicas,
// an Idempotency-Key is charged once, a session is billed once wherever it
// is polled, and a store that goes away neither over-admits nor loses an
// entry.

// fleetOptions says how to run a fleet.
type fleetOptions struct {
	replicas int
	// redisURL and postgresURL replace the machine's stores ("": the
	// machine's): a test's TCP proxy or private redis-server.
	redisURL, postgresURL string
	// tenants is the config's tenants section (YAML, indented as a
	// top-level list).
	tenants string
	// upstreamTimeout is upstream.timeout and retry.deadline ("": 1s):
	// a request's lease is about 2×(both)+10 s.
	upstreamTimeout string
	// extra is more top-level YAML (retries, sessions).
	extra  string
	simEnv []string
	env    []string
}

// fleet is a simulator and a fleet of replicas in front of it.
type fleet struct {
	*testkit.Cluster
	sim     *testkit.Sim
	cfgPath string
}

// startFleet starts the simulator, then o.replicas gateways on fresh
// shared stores (a new Redis prefix and PostgreSQL schema, removed after
// the test).
func startFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	sim := testkit.StartSim(t, append([]string{"IDGATE_SIM_JOURNAL_ENABLED=false"}, o.simEnv...)...)
	st := testkit.SharedStores(t, o.redisURL, o.postgresURL)
	cfg := fmt.Sprintf(`admin:
  token: %s
timezone: Asia/Shanghai
upstream:
  url: %s
  token: sim-token
  timeout: %[3]s
retry:
  deadline: %[3]s
store:
  linger: 5ms
%[4]s
tenants:
%[5]s`, gwAdminToken, sim.URL, cmp.Or(o.upstreamTimeout, "1s"), o.extra, o.tenants)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The race detector and a shared 2-core host slow every replica
	// several times over: the stores' per-call budgets (50 ms Redis,
	// 200 ms PostgreSQL by default) would refuse requests 503 under 64
	// clients. These tests count money, not latency; a store that is cut
	// still fails at once (connection reset).
	env := append([]string{"IDGATE_GW_STORES_REDIS_TIMEOUT=250ms", "IDGATE_GW_STORES_POSTGRES_TIMEOUT=1s"}, o.env...)
	start := time.Now()
	c := testkit.StartCluster(t, testkit.ClusterOptions{Replicas: o.replicas, Args: []string{"-config", path}, Stores: st, Env: env})
	t.Logf("fleet of %d replicas healthy in %s", o.replicas, time.Since(start).Round(time.Millisecond))
	return &fleet{Cluster: c, sim: sim, cfgPath: path}
}

// identities makes distinct valid identities for one client goroutine (no
// two requests share a cache key).
type identities struct{ r *rand.Rand }

func newIdentities(seed uint64) *identities {
	return &identities{rand.New(rand.NewPCG(seed, 0x1d6a7e))}
}

func (g *identities) body() string {
	id := identity.Generate(g.r)
	return checkBody(id.Name, id.IDCard)
}

// tally counts a run's answers as the clients saw them.
type tally struct {
	billed, usedUp, unavailable, limited, local, transport, other atomic.Int64
	mu                                                            sync.Mutex
	ids                                                           []string // request ids of billed answers
	others                                                        []string // the first unexpected answers
}

// add files an answer and reports which kind it was.
func (tl *tally) add(a testkit.Answer) string {
	switch {
	case a.Err != nil:
		tl.transport.Add(1)
		return "transport"
	case a.Status == http.StatusOK && (a.Code == "0" || a.Code == "-1"):
		tl.billed.Add(1)
		tl.mu.Lock()
		tl.ids = append(tl.ids, a.RequestID())
		tl.mu.Unlock()
		return "billed"
	case a.Status == http.StatusOK && (a.Code == "-2" || a.Code == "-3"):
		tl.local.Add(1)
		return "local"
	case a.Status == http.StatusPaymentRequired && a.Code == string(contracts.ErrUsedUp):
		tl.usedUp.Add(1)
		return "used_up"
	case a.Status == http.StatusServiceUnavailable && a.Code == string(contracts.ErrServiceUnavailable):
		tl.unavailable.Add(1)
		return "unavailable"
	case a.Status == http.StatusTooManyRequests && a.Code == string(contracts.ErrTooManyRequests):
		tl.limited.Add(1)
		return "limited"
	}
	tl.other.Add(1)
	tl.mu.Lock()
	if len(tl.others) < 5 {
		tl.others = append(tl.others, fmt.Sprintf("%d %s", a.Status, a.Body))
	}
	tl.mu.Unlock()
	return "other"
}

func (tl *tally) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return fmt.Sprintf("billed %d, used_up %d, 503 %d, 429 %d, local %d, transport errors %d, other %d %q",
		tl.billed.Load(), tl.usedUp.Load(), tl.unavailable.Load(), tl.limited.Load(), tl.local.Load(),
		tl.transport.Load(), tl.other.Load(), tl.others)
}

// adminGet calls a replica's admin API and fails t unless it answers 200.
func adminGet(t *testing.T, g *testkit.Gateway, path string) string {
	t.Helper()
	status, body := testkit.Call(t, http.MethodGet, g.AdminURL+path, gwAdminToken, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// usageClasses is a tenant's ledger entries per class (GET /admin/usage:
// the whole fleet's, from PostgreSQL).
func usageClasses(t *testing.T, g *testkit.Gateway, tenant string) map[string]int64 {
	t.Helper()
	var u struct {
		Usage []struct {
			Class string `json:"class"`
			Count int64  `json:"count"`
		} `json:"usage"`
	}
	body := adminGet(t, g, "/admin/usage?tenant="+tenant)
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatalf("usage: %v: %s", err, body)
	}
	out := map[string]int64{}
	for _, r := range u.Usage {
		out[r.Class] += r.Count
	}
	return out
}

// quotaToday is a tenant's quota view of a replica (GET /admin/quota).
func quotaToday(t *testing.T, g *testkit.Gateway, tenant string) usage {
	t.Helper()
	var v struct {
		Quotas []struct {
			Tenant string `json:"tenant"`
			Quota  usage  `json:"quota"`
		} `json:"quotas"`
	}
	body := adminGet(t, g, "/admin/quota?tenant="+tenant)
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("quota: %v: %s", err, body)
	}
	for _, q := range v.Quotas {
		if q.Tenant == tenant {
			return q.Quota
		}
	}
	t.Fatalf("quota: no tenant %s in %s", tenant, body)
	return usage{}
}

type usage struct{ Limit, Used, Reserved, Remaining int64 }

// ledgerRows is a tenant's ledger export (GET /admin/ledger.csv), each row
// keyed by column.
func ledgerRows(t *testing.T, g *testkit.Gateway, tenant string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(adminGet(t, g, "/admin/ledger.csv?tenant="+tenant))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("ledger.csv: %v", err)
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

// simBilled is what the simulator billed the gateway's credential for
// checks.
func simBilled(t *testing.T, s *testkit.Sim) int64 { return counts(t, s).Billed }

// TestClusterQuotaExact: three replicas share a daily quota of N; 64
// clients spread over them race for it until refused. Exactly N answers
// are billed — as the clients saw them, in the fleet's ledger and on the
// simulator's bill. Then a key's rate limit holds across the fleet: the
// answers admitted in T seconds are at most rate×T + burst, not N times
// that.
func TestClusterQuotaExact(t *testing.T) {
	const quota, clients, rate, burst = 300, 64, 20, 10
	f := startFleet(t, fleetOptions{replicas: 3, tenants: fmt.Sprintf(`  - id: acme
    daily_quota: %d
    rate: 100000
    burst: 100000
    keys: [{id: acme-1, key: acme-key}]
  - id: rated
    rate: %d
    burst: %d
    keys: [{id: rated-1, key: rated-key}]
`, quota, rate, burst)})

	var tl tally
	_, took := testkit.Load{Workers: clients, For: time.Minute}.Run(func(w, i int) bool {
		ids := newIdentities(uint64(w)<<32 | uint64(i))
		a := testkit.TryCheck(f.URL(w+i), "acme-key", ids.body())
		kind := tl.add(a)
		return kind != "used_up" && kind != "other" && kind != "transport"
	})
	t.Logf("quota run (%s): %s", took.Round(time.Millisecond), &tl)
	if tl.other.Load() != 0 || tl.transport.Load() != 0 || tl.usedUp.Load() != clients {
		t.Errorf("clients: %s; want every client refused used_up once", &tl)
	}
	if tl.unavailable.Load() > 0 {
		// A reserve that timed out may still have run: its lease is
		// released behind the answer, and until then the unit it holds
		// refuses others used_up. Once nothing is reserved, the fleet
		// hands out exactly what is left, one request at a time.
		topUp(t, f, "acme-key", "acme", quota, 0, &tl)
	}
	if tl.billed.Load() != quota {
		t.Errorf("clients: %s; want exactly %d billed", &tl, quota)
	}
	if got := simBilled(t, f.sim); got != quota {
		t.Errorf("simulator billed %d, want %d", got, quota)
	}
	// Every replica reports the fleet's ledger and quota (the ledger is
	// written behind each replica's spool: poll until it caught up).
	for i, g := range f.Replicas {
		var cls map[string]int64
		var q usage
		if _, ok := waitFor(10*time.Second, func() bool {
			cls, q = usageClasses(t, g, "acme"), quotaToday(t, g, "acme")
			return cls["billed"] == quota && cls["quota_exceeded"] == clients && q.Used == quota && q.Reserved == 0
		}); !ok {
			t.Errorf("replica %d: ledger %v, quota %+v; want %d billed, %d quota_exceeded, used %d, nothing reserved", i, cls, q, quota, clients, quota)
		}
	}

	// The rate: 16 clients for 2 s on one key through every replica.
	var rl tally
	_, took = testkit.Load{Workers: 16, For: 2 * time.Second}.Run(func(w, i int) bool {
		ids := newIdentities(1<<62 | uint64(w)<<32 | uint64(i))
		rl.add(testkit.TryCheck(f.URL(w+i), "rated-key", ids.body()))
		return true
	})
	admitted, most := rl.billed.Load(), int64(rate*took.Seconds())+burst+1
	t.Logf("rate run (%s): %s; at most %d may pass", took.Round(time.Millisecond), &rl, most)
	// (A 503 — a store call over its budget on a busy host — admits
	// nothing and is no error here.)
	if rl.other.Load() != 0 || rl.transport.Load() != 0 {
		t.Errorf("rate run: unexpected answers: %s", &rl)
	}
	if admitted > most {
		t.Errorf("%d requests admitted in %s at rate %d/s, burst %d: over the fleet's limit %d", admitted, took, rate, burst, most)
	}
	// Not every replica at a fraction: the fleet shares one bucket, so
	// about rate×T + burst pass (half of that at least on a busy host).
	if least := int64(rate*took.Seconds()/2) + burst; admitted < least || rl.limited.Load() == 0 {
		t.Errorf("%d admitted and %d limited in %s: want at least %d admitted and some limited", admitted, rl.limited.Load(), took, least)
	}
	if got := simBilled(t, f.sim); got != quota+admitted {
		t.Errorf("simulator billed %d, want %d + %d", got, quota, admitted)
	}
}

// acmeTenant is a tenants section with acme (key acme-key) at daily quota
// (0: unlimited) and a rate no test reaches.
func acmeTenant(quota int) string {
	return fmt.Sprintf(`  - id: acme
    daily_quota: %d
    rate: 100000
    burst: 100000
    keys: [{id: acme-1, key: acme-key}]
`, quota)
}

// topUp waits until every replica's view of tenant's quota shows the
// units billed so far (before plus tl's billed answers) as used and no
// lease (a lease nobody settles would expire and count as used: the
// wait then fails), then sends requests one at a time with key until one
// is refused used_up, filing the answers in tl.
func topUp(t *testing.T, f *fleet, key, tenant string, quota, before int64, tl *tally) {
	t.Helper()
	var q usage
	for i, g := range f.Replicas {
		if _, ok := waitFor(30*time.Second, func() bool {
			q = quotaToday(t, g, tenant)
			return q.Reserved == 0 && q.Used == before+tl.billed.Load()
		}); !ok {
			t.Fatalf("replica %d: quota %+v, want %d used (the billed answers) and no lease: a lease nobody settled cost the day a unit", i, q, before+tl.billed.Load())
		}
	}
	ids := newIdentities(1 << 61)
	for i := range 2 * quota {
		kind := tl.add(testkit.TryCheck(f.URL(int(i)), key, ids.body()))
		if kind == "used_up" {
			return
		}
		if kind != "billed" && kind != "unavailable" {
			t.Fatalf("top-up: %s", tl)
		}
	}
	t.Fatalf("top-up never refused: %s", tl)
}

// TestClusterKillReplica: kill -9 of one of three replicas while clients
// race for a daily quota of N. The fleet never admits more than N (the
// simulator bills at most N); the killed replica's leases hold their units
// until they expire and then count as used, so the fleet ends at exactly N
// used with nothing reserved; the killed replica, restarted on its store
// path, replays its journal into the fleet's ledger and the accounting rule
// holds: ledger billed ≤ simulator billed ≤ ledger billed + unknown.
func TestClusterKillReplica(t *testing.T) {
	const quota, clients = 600, 32
	// A short upstream bound makes the lease (the longest a request can be
	// under way, plus a margin) about 12 s.
	f := startFleet(t, fleetOptions{replicas: 3, upstreamTimeout: "500ms", tenants: acmeTenant(quota)})
	var tl tally
	wait := testkit.Load{Workers: clients, For: time.Minute}.Start(func(w, i int) bool {
		ids := newIdentities(uint64(w)<<32 | uint64(i))
		// 50 ms upstream: requests are in flight at the kill.
		kind := tl.add(testkit.TryCheck(f.URL(w+i), "acme-key", ids.body(), "Prefer", "latency=50ms"))
		return kind != "used_up" && kind != "other"
	})
	if _, ok := waitFor(30*time.Second, func() bool { return tl.billed.Load() >= quota/3 }); !ok {
		t.Fatalf("the load never reached a third of the quota: %s", &tl)
	}
	victim := f.Replicas[1]
	if err := victim.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.Exited()
	killedAt := time.Now()
	_, took := wait()
	sim := simBilled(t, f.sim)
	t.Logf("load (%s): %s; simulator billed %d", took.Round(time.Millisecond), &tl, sim)
	if tl.transport.Load() == 0 {
		t.Errorf("no client saw the kill: %s", &tl)
	}
	if sim > quota || tl.billed.Load() > quota || tl.other.Load() != 0 {
		t.Fatalf("over-admission or unexpected answers: simulator billed %d, clients %s; quota %d", sim, &tl, quota)
	}

	victim.Restart(t) // same store path: its journal replays
	// The killed replica's leases expire about 12 s after their requests
	// began; a reserve settles them as used. Until then and after, every
	// request is refused: no unit is handed out twice.
	var after tally
	var q usage
	n := 0
	settled, ok := waitFor(40*time.Second, func() bool {
		after.add(testkit.TryCheck(f.URL(n), "acme-key", newIdentities(1<<63|uint64(n)).body()))
		n++
		q = quotaToday(t, f.Replicas[n%3], "acme")
		return q.Used == quota && q.Reserved == 0
	})
	t.Logf("quota settled %s after the kill (polled %s): %+v; requests meanwhile: %s", time.Since(killedAt).Round(time.Millisecond), settled.Round(time.Millisecond), q, &after)
	if !ok {
		t.Errorf("the fleet's quota never settled at %d used, nothing reserved: %+v", quota, q)
	}
	if after.billed.Load() != 0 || after.other.Load() != 0 || after.transport.Load() != 0 || after.usedUp.Load() == 0 {
		t.Errorf("after the load: %s; want every request refused (used_up; 503 on a busy host)", &after)
	}

	// The ledger (PostgreSQL) holds every replica's entries, the killed
	// one's through its replayed journal.
	var cls map[string]int64
	caught, _ := waitFor(20*time.Second, func() bool {
		cls = usageClasses(t, f.Replicas[0], "acme")
		return cls["billed"] >= tl.billed.Load() && sim <= cls["billed"]+cls["unknown"]
	})
	sim = simBilled(t, f.sim)
	t.Logf("ledger %v (caught up in %s); simulator billed %d; clients billed %d", cls, caught.Round(time.Millisecond), sim, tl.billed.Load())
	billed, unknown := cls["billed"], cls["unknown"]
	if billed > sim || sim > billed+unknown {
		t.Errorf("accounting rule broken: ledger billed %d, unknown %d; simulator billed %d", billed, unknown, sim)
	}
	if billed < tl.billed.Load() {
		t.Errorf("ledger billed %d, clients saw %d billed answers", billed, tl.billed.Load())
	}
	if billed+unknown > quota || sim > quota {
		t.Errorf("quota %d exceeded: ledger billed %d + unknown %d, simulator %d", quota, billed, unknown, sim)
	}
	if unknown > clients {
		t.Errorf("%d unknown entries, more than the %d requests that can be in flight", unknown, clients)
	}
}

// TestClusterRedisCut: the replicas reach Redis (a private redis-server)
// through a TCP proxy. Cut mid-load: requests answered locally keep
// coming, limited per replica at rate/N (the local fallback), while every
// billable request is refused 503 service_unavailable (class
// store_unavailable) and nothing reaches the authority. Restored, the
// fleet recovers without a restart. Then Redis restarts EMPTY: the
// counters are re-seeded from the ledger, so the day's earlier answers
// still count and the fleet bills exactly its quota, no more.
func TestClusterRedisCut(t *testing.T) {
	const quota, rate, burst, replicas = 200, 30, 30, 3
	rs := testkit.StartRedisServer(t)
	px := testkit.StartTCPProxy(t, rs.Addr)
	f := startFleet(t, fleetOptions{replicas: replicas, redisURL: "redis://" + px.Addr + "/0", tenants: fmt.Sprintf(`  - id: acme
    daily_quota: %d
    rate: 100000
    burst: 100000
    keys:
      - {id: acme-1, key: acme-key}
      - {id: acme-rl, key: rl-key, rate: %d, burst: %d}
`, quota, rate, burst)})
	var billedTotal atomic.Int64
	billable := func(w, i int) string { return newIdentities(uint64(w)<<32 | uint64(i)).body() }

	// Before: 64 billed answers through every replica.
	var warm tally
	testkit.Load{Workers: 8, PerWorker: 8}.Run(func(w, i int) bool {
		warm.add(testkit.TryCheck(f.URL(w+i), "acme-key", billable(w, i)))
		return true
	})
	billedTotal.Add(warm.billed.Load())
	if warm.billed.Load()+warm.unavailable.Load() != 64 || warm.billed.Load() == 0 {
		t.Fatalf("before the cut: %s; want 64 billed (a few 503 on a busy host)", &warm)
	}
	simBefore := simBilled(t, f.sim)

	// Cut for 2 s under two loads: billable checks, and checks answered
	// locally (an illegal ID number) on a key limited to 30/s.
	px.Cut()
	var cut, local tally
	waitBillable := testkit.Load{Workers: 8, For: 2 * time.Second}.Start(func(w, i int) bool {
		cut.add(testkit.TryCheck(f.URL(w+i), "acme-key", billable(1000+w, i)))
		return true
	})
	illegal := checkBody(people[0].name, "110105194912310021")
	var perReplica [replicas]atomic.Int64
	_, took := testkit.Load{Workers: 8, For: 2 * time.Second}.Run(func(w, i int) bool {
		if local.add(testkit.TryCheck(f.URL(w+i), "rl-key", illegal)) == "local" {
			perReplica[(w+i)%replicas].Add(1)
		}
		return true
	})
	waitBillable()
	// An Idempotency-Key cannot be claimed without Redis: refused too.
	if a := testkit.TryCheck(f.URL(1), "acme-key", billable(1500, 0), "Idempotency-Key", "during-the-cut"); a.Status != http.StatusServiceUnavailable || a.Code != string(contracts.ErrServiceUnavailable) {
		t.Errorf("an Idempotency-Key during the cut: %d %s, want 503 service_unavailable", a.Status, a.Body)
	} else {
		cut.unavailable.Add(1)
	}
	simDuring := simBilled(t, f.sim)
	// Per replica rate/N and burst/N: rate×T + burst in all, and two
	// tokens per replica of slack (the replicas' clocks time their
	// buckets, the client's times T; a bucket refills while the last
	// requests of T are still being answered).
	most := int64(rate*took.Seconds()) + burst + 2*replicas
	t.Logf("during the cut (%s): billable %s; local %s (at most %d; per replica %d, %d, %d)", took.Round(time.Millisecond), &cut, &local, most,
		perReplica[0].Load(), perReplica[1].Load(), perReplica[2].Load())
	if cut.billed.Load() != 0 || cut.unavailable.Load() == 0 || cut.other.Load() != 0 || cut.transport.Load() != 0 {
		t.Errorf("billable requests during the cut: %s; want every one 503 service_unavailable", &cut)
	}
	if simDuring != simBefore {
		t.Errorf("the simulator billed %d during the cut", simDuring-simBefore)
	}
	if local.local.Load() == 0 || local.local.Load() > most || local.limited.Load() == 0 || local.other.Load() != 0 || local.transport.Load() != 0 {
		t.Errorf("local answers during the cut: %s; want some answered, at most %d (rate/N per replica), some 429", &local, most)
	}

	// Restored: every replica admits again, without a restart.
	px.Restore()
	restored := time.Now()
	var rec tally
	for i := range f.Replicas {
		if _, ok := waitFor(10*time.Second, func() bool {
			return rec.add(testkit.TryCheck(f.Replicas[i].URL, "acme-key", billable(2000+i, int(rec.unavailable.Load()+rec.billed.Load())))) == "billed"
		}); !ok {
			t.Fatalf("replica %d never recovered from the cut: %s", i, &rec)
		}
	}
	billedTotal.Add(rec.billed.Load())
	t.Logf("recovered in %s: %s", time.Since(restored).Round(time.Millisecond), &rec)
	if rec.other.Load() != 0 {
		t.Errorf("recovery: %s", &rec)
	}
	refused := cut.unavailable.Load() + rec.unavailable.Load()
	var cls map[string]int64
	if _, ok := waitFor(10*time.Second, func() bool {
		cls = usageClasses(t, f.Replicas[0], "acme")
		return cls["store_unavailable"] == refused && cls["billed"] == billedTotal.Load()
	}); !ok {
		t.Errorf("ledger %v: want %d store_unavailable, %d billed", cls, refused, billedTotal.Load())
	}

	// Every replica has sent its settlements (they trail the answers):
	// a commit still queued when Redis loses its memory would count twice
	// after the reseed, on the safe side, and the fleet would rightly bill
	// less than its quota.
	if _, ok := waitFor(10*time.Second, func() bool {
		q := quotaToday(t, f.Replicas[0], "acme")
		return q.Used == billedTotal.Load() && q.Reserved == 0
	}); !ok {
		t.Errorf("quota before the restart: %+v, want %d used, nothing reserved", quotaToday(t, f.Replicas[0], "acme"), billedTotal.Load())
	}

	// Redis loses everything: killed, started again empty on its port.
	rs.Kill(t)
	rs.Restart(t)
	t.Logf("redis-server restarted with %d keys", rs.DBSize(t))
	var rest tally
	_, took = testkit.Load{Workers: 16, For: time.Minute}.Run(func(w, i int) bool {
		kind := rest.add(testkit.TryCheck(f.URL(w+i), "acme-key", billable(3000+w, i)))
		return kind != "used_up" && kind != "other" && kind != "transport"
	})
	if rest.unavailable.Load() > 0 {
		topUp(t, f, "acme-key", "acme", quota, billedTotal.Load(), &rest)
	}
	billedTotal.Add(rest.billed.Load())
	sim := simBilled(t, f.sim)
	t.Logf("after the empty restart (%s): %s; billed in all %d, simulator %d", took.Round(time.Millisecond), &rest, billedTotal.Load(), sim)
	if billedTotal.Load() > quota || sim > quota {
		t.Errorf("fresh quota handed out: %d billed answers, simulator billed %d; quota %d", billedTotal.Load(), sim, quota)
	}
	if billedTotal.Load() != quota || sim != quota || rest.other.Load() != 0 {
		t.Errorf("the fleet billed %d (simulator %d), want exactly its quota %d; %s", billedTotal.Load(), sim, quota, &rest)
	}
	var q usage
	if _, ok := waitFor(10*time.Second, func() bool {
		q = quotaToday(t, f.Replicas[2], "acme")
		return q.Used == quota && q.Reserved == 0
	}); !ok {
		t.Errorf("quota after the run: %+v, want %d used, nothing reserved", q, quota)
	}
}

// TestClusterRedisStall: Redis hangs for a second mid-load (the proxy
// holds every byte, then delivers them): only the per-call budget
// notices. Requests are refused 503 meanwhile, never admitted without a
// unit; the calls that timed out may still run once the bytes arrive,
// and their leases must not cost the day a unit: once the leases are
// settled the fleet bills exactly its quota.
func TestClusterRedisStall(t *testing.T) {
	const quota, clients = 150, 16
	px := testkit.StartTCPProxy(t, testkit.HostPort(testkit.RedisURL))
	f := startFleet(t, fleetOptions{replicas: 3, redisURL: "redis://" + px.Addr + "/0", upstreamTimeout: "500ms",
		tenants: acmeTenant(quota)})
	var tl tally
	stalled := make(chan struct{})
	wait := testkit.Load{Workers: clients, For: time.Minute}.Start(func(w, i int) bool {
		kind := tl.add(testkit.TryCheck(f.URL(w+i), "acme-key", newIdentities(uint64(w)<<32|uint64(i)).body(), "Prefer", "latency=20ms"))
		if i == 2 && w == 0 {
			close(stalled)
		}
		return kind != "used_up" && kind != "other" && kind != "transport"
	})
	<-stalled
	px.Stall()
	billedAtStall := tl.billed.Load()
	time.Sleep(time.Second) // the stall's length, not an assertion
	billedInStall := tl.billed.Load() - billedAtStall
	px.Restore()
	wait()
	t.Logf("load: %s; %d billed answers ended during the 1 s stall", &tl, billedInStall)
	if tl.unavailable.Load() == 0 || tl.other.Load() != 0 || tl.transport.Load() != 0 {
		t.Errorf("want some 503 during the stall and nothing unexpected: %s", &tl)
	}
	// Requests that reserved before the stall may finish during it; no
	// more than were in flight.
	if billedInStall > clients {
		t.Errorf("%d billed answers during the stall, more than the %d requests in flight when it began", billedInStall, clients)
	}
	start := time.Now()
	topUp(t, f, "acme-key", "acme", quota, 0, &tl)
	sim := simBilled(t, f.sim)
	t.Logf("after the top-up (%s): %s; simulator billed %d", time.Since(start).Round(time.Millisecond), &tl, sim)
	if tl.billed.Load() != quota || sim != quota {
		t.Errorf("the fleet billed %d (simulator %d), want exactly its quota %d: a lease of a timed-out call cost the day a unit", tl.billed.Load(), sim, quota)
	}
}

// timed is one answer and when its request ran.
type timed struct {
	a          testkit.Answer
	start, end time.Time
}

// TestClusterPostgresCut: the replicas reach PostgreSQL through a TCP
// proxy, cut for 10 s mid-load. Answers keep coming (billed, every one);
// each replica's spool holds their entries and drains them once
// PostgreSQL is back: every answer the clients received has exactly one
// entry in the fleet's ledger, and the simulator's bill agrees.
func TestClusterPostgresCut(t *testing.T) {
	pgHost := testkit.HostPort(testkit.PostgresURL)
	px := testkit.StartTCPProxy(t, pgHost)
	f := startFleet(t, fleetOptions{replicas: 3, postgresURL: strings.Replace(testkit.PostgresURL, pgHost, px.Addr, 1), tenants: acmeTenant(1000000)})

	var mu sync.Mutex
	var all []timed
	stop := make(chan struct{})
	wait := testkit.Load{Workers: 8, Stop: stop}.Start(func(w, i int) bool {
		r := timed{start: time.Now()}
		// 20 ms upstream: a few hundred requests a second in all.
		r.a = testkit.TryCheck(f.URL(w+i), "acme-key", newIdentities(uint64(w)<<32|uint64(i)).body(), "Prefer", "latency=20ms")
		r.end = time.Now()
		mu.Lock()
		all = append(all, r)
		mu.Unlock()
		return true
	})
	time.Sleep(time.Second) // load before the cut
	px.Cut()
	cutAt := time.Now()
	time.Sleep(10 * time.Second) // the cut's length, not an assertion
	px.Restore()
	restoredAt := time.Now()
	time.Sleep(2 * time.Second) // load after the cut
	close(stop)
	wait()

	var tl tally
	var duringCut int
	want := map[string]bool{} // every answer's request id: billed or not
	for _, r := range all {
		kind := tl.add(r.a)
		if kind == "billed" && r.start.After(cutAt) && r.end.Before(restoredAt) {
			duringCut++
		}
		id := r.a.RequestID()
		if _, dup := want[id]; r.a.Err != nil || id == "" || dup {
			t.Errorf("answer without a request id, or a request id twice: %+v", r.a)
		} else {
			want[id] = kind == "billed"
		}
	}
	t.Logf("%d answers: %s; %d billed answers began and ended during the 10 s cut", len(all), &tl, duringCut)
	// Nothing but billed answers: PostgreSQL is not on a check's path. (A
	// 503 — Redis over its budget on a busy host — is no loss: it has its
	// entry too, checked below.)
	if tl.other.Load() != 0 || tl.transport.Load() != 0 || tl.billed.Load() < int64(len(all))*99/100 {
		t.Errorf("not every request was answered billed: %s", &tl)
	}
	if duringCut < 100 {
		t.Errorf("only %d billed answers during the cut: the fleet stopped answering without PostgreSQL", duringCut)
	}

	// The spools drain: every answer's entry, once.
	var rows []map[string]string
	_, ok := waitFor(30*time.Second, func() bool {
		rows = ledgerRows(t, f.Replicas[0], "acme")
		return len(rows) >= len(want)
	})
	t.Logf("ledger holds %d entries %s after the restore (load ran 2 s of it)", len(rows), time.Since(restoredAt).Round(time.Millisecond))
	if !ok {
		t.Errorf("the spools never drained: %d entries for %d answers", len(rows), len(want))
	}
	seen := map[string]int{}
	for _, r := range rows {
		id := r["request_id"]
		seen[id]++
		if seen[id] == 2 {
			t.Errorf("request %s has two ledger entries", id)
		}
		billed, answered := want[id]
		switch {
		case !answered:
			t.Errorf("ledger entry of no answer: %v", r)
		case billed != (r["billed"] == "true") || billed != (r["class"] == "billed"):
			t.Errorf("answer billed %v, entry %v", billed, r)
		}
	}
	missing := 0
	for id := range want {
		if seen[id] == 0 {
			missing++
		}
	}
	if missing != 0 {
		t.Errorf("%d of %d answers have no ledger entry", missing, len(want))
	}
	if sim := simBilled(t, f.sim); sim != tl.billed.Load() {
		t.Errorf("simulator billed %d, clients saw %d billed answers", sim, tl.billed.Load())
	}
}

// TestClusterPostgresCutKill: PostgreSQL is cut and, during the cut, one
// of two replicas is killed (-9) with entries only in its journal. Once
// PostgreSQL is back and the replica restarted on its store path, the
// fleet's ledger holds every answer's entry exactly once, the requests
// the kill cut short as unknown, and the accounting rule holds.
func TestClusterPostgresCutKill(t *testing.T) {
	const clients = 8
	pgHost := testkit.HostPort(testkit.PostgresURL)
	px := testkit.StartTCPProxy(t, pgHost)
	f := startFleet(t, fleetOptions{replicas: 2, postgresURL: strings.Replace(testkit.PostgresURL, pgHost, px.Addr, 1), tenants: acmeTenant(1000000)})
	urls := []string{f.Replicas[0].URL, f.Replicas[1].URL}
	var killed atomic.Bool
	var mu sync.Mutex
	var all []testkit.Answer
	stop := make(chan struct{})
	wait := testkit.Load{Workers: clients, Stop: stop}.Start(func(w, i int) bool {
		url := urls[(w+i)%2]
		if killed.Load() {
			url = urls[0]
		}
		a := testkit.TryCheck(url, "acme-key", newIdentities(uint64(w)<<32|uint64(i)).body(), "Prefer", "latency=20ms")
		mu.Lock()
		all = append(all, a)
		mu.Unlock()
		return true
	})
	time.Sleep(time.Second) // load before the cut
	px.Cut()
	time.Sleep(2 * time.Second) // load during the cut, both replicas
	if err := f.Replicas[1].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-f.Replicas[1].Exited()
	killed.Store(true)
	time.Sleep(2 * time.Second) // load during the cut, one replica
	px.Restore()
	time.Sleep(time.Second) // load after the cut
	close(stop)
	wait()
	f.Replicas[1].Restart(t) // its journal replays into PostgreSQL

	var tl tally
	answered := map[string]bool{} // request id: billed
	for _, a := range all {
		kind := tl.add(a)
		if a.Err != nil {
			continue // cut short by the kill
		}
		id := a.RequestID()
		if _, dup := answered[id]; id == "" || dup {
			t.Errorf("answer without a request id, or a request id twice: %+v", a)
		}
		answered[id] = kind == "billed"
	}
	t.Logf("%d requests: %s", len(all), &tl)
	if tl.transport.Load() == 0 || tl.transport.Load() > clients || tl.other.Load() != 0 || tl.billed.Load() == 0 {
		t.Errorf("want some requests cut short by the kill (at most %d) and the rest answered: %s", clients, &tl)
	}
	var rows []map[string]string
	_, ok := waitFor(30*time.Second, func() bool {
		rows = ledgerRows(t, f.Replicas[0], "acme")
		n := 0
		for _, r := range rows {
			if _, ok := answered[r["request_id"]]; ok {
				n++
			}
		}
		return n >= len(answered)
	})
	if !ok {
		t.Errorf("the spools never drained: %d entries for %d answers", len(rows), len(answered))
	}
	seen := map[string]int{}
	var ledgerBilled, unknown int64
	for _, r := range rows {
		id := r["request_id"]
		if seen[id]++; seen[id] == 2 {
			t.Errorf("request %s has two ledger entries", id)
		}
		billed, ok := answered[id]
		switch {
		case !ok && r["class"] != "unknown":
			t.Errorf("entry of no answer that is not unknown: %v", r)
		case ok && (billed != (r["billed"] == "true") || billed != (r["class"] == "billed")):
			t.Errorf("answer billed %v, entry %v", billed, r)
		}
		switch r["class"] {
		case "billed":
			ledgerBilled++
		case "unknown":
			unknown++
		}
	}
	for id := range answered {
		if seen[id] == 0 {
			t.Errorf("answer %s has no ledger entry", id)
		}
	}
	sim := simBilled(t, f.sim)
	t.Logf("ledger: %d entries, %d billed, %d unknown; simulator billed %d", len(rows), ledgerBilled, unknown, sim)
	if unknown > tl.transport.Load() {
		t.Errorf("%d unknown entries for %d requests cut short", unknown, tl.transport.Load())
	}
	if ledgerBilled > sim || sim > ledgerBilled+unknown {
		t.Errorf("accounting rule broken: ledger billed %d, unknown %d; simulator billed %d", ledgerBilled, unknown, sim)
	}
}

// TestClusterIdempotency: the same Idempotency-Key and body sent at once
// to two replicas is charged once: one of them calls the authority, the
// other waits for that answer and replays it (Idempotent-Replayed), byte
// for byte; a later retry anywhere replays it too.
func TestClusterIdempotency(t *testing.T) {
	f := startFleet(t, fleetOptions{replicas: 2, tenants: acmeTenant(0)})
	body := newIdentities(42).body()
	hdr := []string{"Idempotency-Key", fmt.Sprintf("order-%d", rand.Uint64()), "Prefer", "latency=300ms"}
	var answers [2]testkit.Answer
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = testkit.TryCheck(f.Replicas[i].URL, "acme-key", body, hdr...)
		}()
	}
	close(start)
	wg.Wait()
	replays := 0
	for i, a := range answers {
		if a.Err != nil || a.Status != http.StatusOK || a.Code != "0" || a.Body != answers[0].Body {
			t.Errorf("replica %d answered %d %s (err %v); replica 0 %s", i, a.Status, a.Body, a.Err, answers[0].Body)
		}
		if isReplay(a) {
			replays++
		}
	}
	if replays != 1 {
		t.Errorf("%d of the two answers replayed, want exactly one", replays)
	}
	for i := range f.Replicas {
		if a := testkit.TryCheck(f.Replicas[i].URL, "acme-key", body, hdr...); !isReplay(a) || a.Body != answers[0].Body {
			t.Errorf("a later retry on replica %d: %d %s replayed %v", i, a.Status, a.Body, isReplay(a))
		}
	}
	if sim := simBilled(t, f.sim); sim != 1 {
		t.Errorf("simulator billed %d, want 1", sim)
	}
	var cls map[string]int64
	if _, ok := waitFor(10*time.Second, func() bool { cls = usageClasses(t, f.Replicas[1], "acme"); return cls["billed"] == 1 }); !ok || cls["billed"] != 1 {
		t.Errorf("ledger %v: want exactly one billed entry", cls)
	}
}

// TestClusterSession: a verification session created on replica A is
// polled and completed on replica B (which never saw it before) and on A,
// and billed once: one billed entry in the fleet's ledger, one billed line
// on the simulator's statement. A second one is created on B, which is
// then killed (-9): A completes and bills it alone, and B's restart (its
// journal replayed) bills nothing again.
func TestClusterSession(t *testing.T) {
	// Review takes 15 min × 0.0005 = 0.45 s; the simulator signs its
	// webhooks with its default secret.
	f := startFleet(t, fleetOptions{replicas: 2, simEnv: []string{"IDGATE_SIM_SESSIONS_TIME_SCALE=0.0005"}, tenants: acmeTenant(10),
		extra: "sessions:\n  enabled: true\n  forward_prefer: true\n  upstream_webhook_secret: idgate-simulator-webhook-secret\n"})
	a, b := f.Replicas[0], f.Replicas[1]
	before := statementBilled(statement(t, f.sim))

	first := createSession(t, f, a)
	walked := time.Now()
	pollApproved(t, first, b, a, b)
	t.Logf("session created on A approved and polled on both replicas %s after the phone's last step", time.Since(walked).Round(time.Millisecond))
	if status, body := testkit.Call(t, http.MethodGet, b.URL+contracts.SessionPath(first)+"/result", "acme-key", ""); status != http.StatusOK {
		t.Errorf("result on B: %d %s", status, body)
	}

	second := createSession(t, f, b)
	if err := b.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.Exited()
	walked = time.Now()
	pollApproved(t, second, a)
	t.Logf("session created on B (killed) approved on A %s after the phone's last step", time.Since(walked).Round(time.Millisecond))
	b.Restart(t)
	pollApproved(t, second, b, a)

	for _, id := range []string{first, second} {
		var billed, entries int
		if _, ok := waitFor(10*time.Second, func() bool {
			billed, entries = 0, 0
			for _, r := range ledgerRows(t, a, "acme") {
				if r["request_id"] == id && r["route"] == "sessions" {
					entries++
					if r["billed"] == "true" {
						billed++
					}
				}
			}
			return entries > 0
		}); !ok || billed != 1 || entries != 1 {
			t.Errorf("session %s: %d ledger entries, %d billed; want one, billed", id, entries, billed)
		}
	}
	if got := statementBilled(statement(t, f.sim)) - before; got != 2 {
		t.Errorf("the simulator billed %d for the two sessions, want 2", got)
	}
	var q usage
	if _, ok := waitFor(10*time.Second, func() bool {
		q = quotaToday(t, b, "acme")
		return q.Used == 2 && q.Reserved == 0
	}); !ok {
		t.Errorf("quota %+v: want 2 used, nothing reserved", q)
	}
}

// createSession creates a session on g (the magic identity the simulator
// approves) and plays the user's phone against the simulator up to
// liveness; it returns the session's request id.
func createSession(t *testing.T, f *fleet, g *testkit.Gateway) string {
	t.Helper()
	status, body := testkit.Call(t, http.MethodPost, g.URL+contracts.SessionsPath, "acme-key",
		`{"name":"测试会话通过","id_card":"110101192202220017"}`)
	if status != http.StatusCreated {
		t.Fatalf("create on %s: %d %s", g.URL, status, body)
	}
	var sess contracts.Session
	if err := json.Unmarshal([]byte(body), &sess); err != nil {
		t.Fatal(err)
	}
	id := sess.RequestID
	for _, st := range []struct{ path, body string }{
		{"/phone/open", fmt.Sprintf(`{"request_id":%q}`, id)},
		{"/phone/sessions/" + id + "/nfc", `{"device":{"platform":"android","model":"Xiaomi 14","os_version":"14"}}`},
		{"/phone/sessions/" + id + "/confirm", ""},
		{"/phone/sessions/" + id + "/liveness", `{"mode":"silent"}`},
	} {
		if status, body := testkit.Call(t, http.MethodPost, f.sim.URL+st.path, "", st.body); status != http.StatusOK {
			t.Fatalf("phone %s: %d %s", st.path, status, body)
		}
	}
	return id
}

// pollApproved polls session id's status on every gateway at once until
// each has seen it approved, and five times more (more chances to bill it
// twice).
func pollApproved(t *testing.T, id string, gateways ...*testkit.Gateway) {
	t.Helper()
	var wg sync.WaitGroup
	for _, g := range gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			extra := 0
			_, ok := waitFor(20*time.Second, func() bool {
				status, body, err := get(g.URL+contracts.SessionPath(id), "acme-key")
				if err != nil || status != http.StatusOK {
					t.Errorf("poll %s: %d %s %v", g.URL, status, body, err)
					return true
				}
				if strings.Contains(body, `"state":"approved"`) {
					extra++
				}
				return extra > 5
			})
			if !ok {
				t.Errorf("session %s never approved on %s", id, g.URL)
			}
		}()
	}
	wg.Wait()
}

// get is GET url with token as bearer credentials, for client goroutines
// (a transport error is returned, not fatal).
func get(url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testkit.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestClusterKeyPropagation: a key created through replica A's admin API
// works on replica B within a second; disabled through B, it stops working
// on A within a second.
func TestClusterKeyPropagation(t *testing.T) {
	f := startFleet(t, fleetOptions{replicas: 2, tenants: acmeTenant(0)})
	a, b := f.Replicas[0], f.Replicas[1]
	status, body := testkit.Call(t, http.MethodPost, a.AdminURL+"/admin/tenants/acme/keys", gwAdminToken, `{"id":"acme-late"}`)
	if status != http.StatusCreated {
		t.Fatalf("create key on A: %d %s", status, body)
	}
	created := time.Now()
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(body), &k); err != nil || k.Key == "" {
		t.Fatalf("create key: %v %s", err, body)
	}
	ids := newIdentities(7)
	var last testkit.Answer
	took, ok := waitFor(5*time.Second, func() bool {
		last = testkit.TryCheck(b.URL, k.Key, ids.body())
		return last.Status == http.StatusOK
	})
	t.Logf("the new key worked on B %s after its creation on A", took.Round(time.Millisecond))
	if !ok || time.Since(created) > 5*time.Second {
		t.Fatalf("the new key never worked on B: %d %s", last.Status, last.Body)
	}
	if took > time.Second {
		t.Errorf("the new key took %s to reach B, want at most 1 s", took)
	}

	if status, body := testkit.Call(t, http.MethodPost, b.AdminURL+"/admin/keys/acme-late/disable", gwAdminToken, ""); status != http.StatusOK {
		t.Fatalf("disable on B: %d %s", status, body)
	}
	took, ok = waitFor(5*time.Second, func() bool {
		last = testkit.TryCheck(a.URL, k.Key, ids.body())
		return last.Status == http.StatusUnauthorized
	})
	t.Logf("the disabled key was refused on A %s after B disabled it", took.Round(time.Millisecond))
	if !ok {
		t.Fatalf("the disabled key still works on A: %d %s", last.Status, last.Body)
	}
	if took > time.Second {
		t.Errorf("disabling took %s to reach A, want at most 1 s", took)
	}
}
