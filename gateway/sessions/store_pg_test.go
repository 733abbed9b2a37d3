package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/secret"
	"github.com/idgate/idgate/internal/testkit"
)

// testBilling is the tests' ledger table: one row per entry written in a
// session's transaction (no key, so a second write would show).
const testBilling = `CREATE TABLE IF NOT EXISTS test_billing (request_id TEXT NOT NULL, class TEXT NOT NULL, billed BOOLEAN NOT NULL)`

func insertTestEntry(ctx context.Context, tx pgx.Tx, e ledger.Entry) error {
	_, err := tx.Exec(ctx, `INSERT INTO test_billing VALUES ($1, $2, $3)`, e.RequestID, e.Class, e.Billed)
	return err
}

// pgReplicas opens n connection pools on one fresh schema (one per
// replica), with the test ledger table made.
func pgReplicas(t *testing.T, n int) []*stores.Conns {
	t.Helper()
	cfg := testkit.SharedStores(t, "", "")
	cfg.Postgres.Timeout = 5 * time.Second // a loaded test machine
	out := make([]*stores.Conns, n)
	for i := range out {
		out[i] = testkit.Conns(t, cfg)
	}
	if _, err := out[0].PG.Exec(context.Background(), testBilling); err != nil {
		t.Fatal(err)
	}
	return out
}

func billingRows(t *testing.T, pool *pgxpool.Pool, id string) (billed, unbilled int) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE billed), count(*) FILTER (WHERE NOT billed) FROM test_billing WHERE request_id = $1`, id).Scan(&billed, &unbilled); err != nil {
		t.Fatal(err)
	}
	return
}

func newPGStore(t *testing.T, c *stores.Conns) *Postgres {
	t.Helper()
	s, err := NewPostgres(context.Background(), c.PG, c.PGGuard, insertTestEntry)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two store instances (two replicas) race to settle one session: one
// compare-and-set wins, one ledger row; a reopen names the new lease.
func TestPostgresStoreBillsOnceAcrossInstances(t *testing.T) {
	cs := pgReplicas(t, 2)
	a, b := newPGStore(t, cs[0]), newPGStore(t, cs[1])
	ctx := context.Background()
	now := time.Now()
	rec := Record{RequestID: "s-1", Tenant: "acme", KeyID: "acme-1", Status: Open, Day: "2026-12-04", IDMasked: "1101**********002X",
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Lease: "req-1", Epoch: "e1"}
	if err := a.Insert(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := b.Insert(ctx, rec); err == nil {
		t.Fatal("a second insert of one request id")
	}
	got, ok, err := b.Get(ctx, "s-1")
	if err != nil || !ok || got.Lease != "req-1" || got.Epoch != "e1" || got.Status != Open || !got.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("get %+v %v %v", got, ok, err)
	}
	if tk := TicketOf(got); tk != (quota.Ticket{Day: "2026-12-04", Tenant: "acme", Key: "acme-1", Lease: "req-1"}) {
		t.Fatalf("ticket %+v", tk)
	}
	if _, ok, err := b.Get(ctx, "nope"); ok || err != nil {
		t.Fatalf("unknown: %v %v", ok, err)
	}

	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &ledger.Entry{RequestID: "s-1", Tenant: "acme", KeyID: "acme-1", Route: RouteBilling, Class: "billed", Billed: true}
			ok, err := st.Transition(ctx, "s-1", Open, Billed, quota.Ticket{}, time.Now(), e)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d transitions won, want 1", wins.Load())
	}
	if bl, ub := billingRows(t, cs[0].PG, "s-1"); bl != 1 || ub != 0 {
		t.Fatalf("ledger rows %d billed %d unbilled", bl, ub)
	}
	if got, _, _ := a.Get(ctx, "s-1"); got.Status != Billed || got.SettledAt.IsZero() || !TicketOf(got).IsZero() {
		t.Fatalf("after billing %+v", got)
	}

	// Expired, then reopened under a new reservation.
	rec2 := rec
	rec2.RequestID = "s-2"
	if err := a.Insert(ctx, rec2); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Transition(ctx, "s-2", Open, Expired, quota.Ticket{}, now, nil); !ok || err != nil {
		t.Fatalf("expire: %v %v", ok, err)
	}
	reopen := quota.Ticket{Day: "2026-12-05", Tenant: "acme", Key: "acme-1", Lease: "req-9", Epoch: "e2"}
	if ok, err := a.Transition(ctx, "s-2", Expired, Open, reopen, now, nil); !ok || err != nil {
		t.Fatalf("reopen: %v %v", ok, err)
	}
	if ok, _ := b.Transition(ctx, "s-2", Expired, Open, reopen, now, nil); ok {
		t.Fatal("a second reopen")
	}
	if got, _, _ := b.Get(ctx, "s-2"); got.Epoch != reopen.Epoch || TicketOf(got) != (quota.Ticket{Day: "2026-12-05", Tenant: "acme", Key: "acme-1", Lease: "req-9"}) {
		t.Fatalf("reopened ticket %+v", TicketOf(got))
	}
	live, err := b.LoadLive(ctx)
	if err != nil || len(live) != 1 || live[0].RequestID != "s-2" {
		t.Fatalf("live %+v %v", live, err)
	}
	if n, err := a.Sweep(ctx, now.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("sweep %d %v", n, err)
	}
}

// Overdue open sessions are handed to one replica per period.
func TestPostgresStoreClaimDue(t *testing.T) {
	cs := pgReplicas(t, 2)
	a, b := newPGStore(t, cs[0]), newPGStore(t, cs[1])
	ctx := context.Background()
	now := time.Now()
	for i, exp := range []time.Duration{-time.Hour, -time.Hour, -time.Hour, time.Hour} {
		r := Record{RequestID: "c-" + string(rune('a'+i)), Tenant: "acme", KeyID: "acme-1", Status: Open, Day: "d",
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(exp)}
		if err := a.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := a.Transition(ctx, "c-c", Open, Released, quota.Ticket{}, now, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, st := range []*Postgres{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := st.ClaimDue(ctx, time.Minute, time.Hour, 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				seen[r.RequestID]++
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2 || seen["c-a"] != 1 || seen["c-b"] != 1 {
		t.Fatalf("claimed %v, want c-a and c-b once each", seen)
	}
	// Claimed for an hour: nobody takes them again; a short period lapses.
	if recs, _ := b.ClaimDue(ctx, time.Minute, time.Hour, 10); len(recs) != 0 {
		t.Fatalf("claimed again: %+v", recs)
	}
	if _, err := cs[0].PG.Exec(ctx, `UPDATE gateway_sessions SET claim_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if recs, _ := b.ClaimDue(ctx, time.Minute, time.Hour, 1); len(recs) != 1 {
		t.Fatalf("after the claim lapsed: %+v", recs)
	}
}

// One delivery, two replicas: only the claim's holder sends it; after its
// lease lapses exactly one other replica takes it over.
func TestPostgresOutboxClaims(t *testing.T) {
	cs := pgReplicas(t, 2)
	ctx := context.Background()
	lease := 300 * time.Millisecond
	a, err := NewPostgresOutbox(ctx, cs[0].PG, cs[0].PGGuard, lease)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPostgresOutbox(ctx, cs[1].PG, cs[1].PGGuard, lease)
	if err != nil {
		t.Fatal(err)
	}
	d := Delivery{EventID: "ev-1", Tenant: "acme", URL: "https://t.example/cb", Body: []byte(`{"x":1}`), Next: time.Now(), Claim: "c1"}
	if added, err := a.Add(ctx, d); !added || err != nil {
		t.Fatalf("add: %v %v", added, err)
	}
	if added, err := b.Add(ctx, d); added || err != nil {
		t.Fatalf("second add: %v %v", added, err)
	}
	if _, ok, _ := b.Claim(ctx, "ev-1", d.URL, "other", "c2"); ok {
		t.Fatal("claimed under a live lease of another holder")
	}
	if recs, _ := b.ClaimDue(ctx, 10); len(recs) != 0 {
		t.Fatalf("due while held: %+v", recs)
	}
	if n, ok, err := a.Claim(ctx, "ev-1", d.URL, "c1", "c3"); !ok || err != nil || n != 0 {
		t.Fatalf("holder renews: %v %v %v", n, ok, err)
	}
	if err := a.Retry(ctx, "ev-1", d.URL, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The holder stops; once its lease lapses, one of two replicas takes it.
	time.Sleep(lease + 100*time.Millisecond)
	var mu sync.Mutex
	var got []Delivery
	var wg sync.WaitGroup
	for _, o := range []*PostgresOutbox{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := o.ClaimDue(ctx, 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, recs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(got) != 1 || got[0].Attempt != 1 || string(got[0].Body) != `{"x":1}` || got[0].Claim == "" || got[0].Claim == "c3" {
		t.Fatalf("taken over: %+v", got)
	}
	if _, ok, _ := a.Claim(ctx, "ev-1", d.URL, "c3", "c4"); ok {
		t.Fatal("the old holder renewed a claim taken over")
	}
	if _, ok, _ := b.Claim(ctx, "ev-1", d.URL, got[0].Claim, "c5"); !ok {
		t.Fatal("the new holder cannot renew")
	}
	if err := b.Done(ctx, "ev-1", d.URL); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Pending(ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending %+v %v", p, err)
	}
	if _, ok, _ := b.Claim(ctx, "ev-1", d.URL, "c5", "c6"); ok {
		t.Fatal("claimed a delivery that is done")
	}
}

// replica is one gateway's session service on the fleet's stores.
type replica struct {
	svc *Service
	app *fiber.App
	fx  *fixture // for do
}

// newFleet builds n session services on one PostgreSQL schema, one fake
// upstream and one quota counter (standing in for the shared quota).
func newFleet(t *testing.T, n int) ([]*replica, *fakeUpstream, *quota.Counter, *pgxpool.Pool) {
	t.Helper()
	return newFleetWith(t, n, func(p *Postgres) Store { return p })
}

// newFleetWith is newFleet with each replica's store wrapped.
func newFleetWith(t *testing.T, n int, wrap func(*Postgres) Store) ([]*replica, *fakeUpstream, *quota.Counter, *pgxpool.Pool) {
	t.Helper()
	cs := pgReplicas(t, n)
	dir, err := auth.NewDirectory([]auth.TenantConfig{
		{ID: "acme", Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{{ID: "acme-1", Key: "acme-key"}}},
		{ID: "rival", Rate: 1e6, Burst: 1e6, Keys: []auth.KeyConfig{{ID: "rival-1", Key: "rival-key"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := quota.NewCalendar(time.UTC)
	q := quota.NewCounter(cal)
	up := &fakeUpstream{resp: map[string]func() (int, string){}, calls: map[string]int{}}
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	out := make([]*replica, n)
	for i, c := range cs {
		store := newPGStore(t, c)
		box, err := NewPostgresOutbox(context.Background(), c.PG, c.PGGuard, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		relay, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), box)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(relay.Close)
		svc, err := New(cfg, Deps{
			Gate: &admission.Gate{
				Auth: auth.NewStore(dir), Limits: ratelimit.New(), Quota: q, Ledger: &testkit.Ledger{}, Calendar: cal,
				Metrics: nopMetrics{}, IDs: &seqIDs{n: 1000 * i}, Log: slog.New(slog.DiscardHandler), Now: time.Now,
			},
			Upstream: up, Store: wrap(store), MaxBody: 1 << 16, Listen: "127.0.0.1:8080",
		}, relay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		svc.Register(app)
		out[i] = &replica{svc: svc, app: app, fx: &fixture{app: app, svc: svc, up: up}}
	}
	return out, up, q, cs[0].PG
}

// A session created on one replica is polled, settled and billed once
// from another; the replica whose compare-and-set lost settles nothing;
// a session whose creator stopped is reconciled by another, once per
// period.
func TestFleetSessionsBillOnceAcrossReplicas(t *testing.T) {
	fleet, up, q, pool := newFleet(t, 2)
	a, b := fleet[0], fleet[1]
	acme := func() quota.Usage { u, _ := q.Tenant("acme", time.Now()); return u }

	// Created on A, approved as seen from B.
	up.set("POST "+contracts.SessionsPath, 201, sessionJSON("s-1", contracts.StateCreated, 1, 0))
	if st, body := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", ""); st != 201 {
		t.Fatalf("create on A: %d %s", st, body)
	}
	if u := acme(); u.Reserved != 1 {
		t.Fatalf("after create %+v", u)
	}
	if st, _ := b.fx.do(t, "GET", contracts.SessionPath("s-1"), "rival-key", ""); st != 404 {
		t.Fatalf("another tenant on B: %d", st)
	}
	if st, _ := b.fx.do(t, "GET", contracts.SessionPath("nope"), "acme-key", ""); st != 404 {
		t.Fatalf("unknown id on B: %d", st)
	}
	up.set("GET "+contracts.SessionPath("s-1"), 200, sessionJSON("s-1", contracts.StateApproved, 7, 0))
	if st, body := b.fx.do(t, "GET", contracts.SessionPath("s-1"), "acme-key", ""); st != 200 {
		t.Fatalf("poll on B: %d %s", st, body)
	}
	if st, _ := b.svc.Status("s-1"); st != Billed {
		t.Fatalf("B sees %s", st)
	}
	// A still holds it open in memory: its poll loses the
	// compare-and-set and settles nothing.
	if st, _ := a.fx.do(t, "GET", contracts.SessionPath("s-1"), "acme-key", ""); st != 200 {
		t.Fatalf("poll on A: %d", st)
	}
	if st, _ := a.svc.Status("s-1"); st != Billed {
		t.Fatalf("A sees %s", st)
	}
	if u := acme(); u.Used != 1 || u.Reserved != 0 {
		t.Fatalf("quota %+v, want 1 used", u)
	}
	if bl, ub := billingRows(t, pool, "s-1"); bl != 1 || ub != 0 {
		t.Fatalf("billing rows %d %d", bl, ub)
	}

	// Pollers on both replicas at once.
	up.set("POST "+contracts.SessionsPath, 201, sessionJSON("s-2", contracts.StateCreated, 1, 0))
	if st, _ := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", ""); st != 201 {
		t.Fatal("create s-2")
	}
	up.set("GET "+contracts.SessionPath("s-2"), 200, sessionJSON("s-2", contracts.StateApproved, 7, 0))
	up.set("GET "+contracts.SessionPath("s-2")+"/result", 200, `{"request_id":"s-2","state":"approved","decision":"approved","code":0,"billing":"billed"}`)
	var wg sync.WaitGroup
	for i := range 12 {
		r := fleet[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := contracts.SessionPath("s-2")
			if i%3 == 0 {
				p += "/result"
			}
			r.fx.do(t, "GET", p, "acme-key", "")
		}()
	}
	wg.Wait()
	if bl, ub := billingRows(t, pool, "s-2"); bl != 1 || ub != 0 {
		t.Fatalf("s-2 billing rows %d %d", bl, ub)
	}
	if u := acme(); u.Used != 2 || u.Reserved != 0 {
		t.Fatalf("quota %+v, want 2 used", u)
	}

	// Created on A with a tenant callback; the upstream's webhook reaches
	// B, which bills it and relays the event to the tenant once.
	var hooks atomic.Int64
	tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		w.WriteHeader(204)
	}))
	defer tenant.Close()
	up.set("POST "+contracts.SessionsPath, 201, sessionJSON("s-4", contracts.StateCreated, 1, 0))
	if st, body := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", `{"callback_url":"`+tenant.URL+`/cb"}`); st != 201 {
		t.Fatalf("create s-4: %d %s", st, body)
	}
	ev, _ := json.Marshal(contracts.SessionEvent{ID: "ev-4", Type: contracts.SessionEventType, RequestID: "s-4", State: contracts.StateApproved, Version: 6, OccurredAt: time.Now()})
	req := httptest.NewRequest("POST", WebhookPath, strings.NewReader(string(ev)))
	ts, sig := contracts.SignWebhook([]byte(DemoConfig().UpstreamWebhookSecret), time.Now(), ev)
	req.Header.Set(contracts.WebhookTimestampHeader, ts)
	req.Header.Set(contracts.WebhookSignatureHeader, sig)
	if resp, err := b.app.Test(req, -1); err != nil || resp.StatusCode != 204 {
		t.Fatalf("webhook on B: %v %v", resp, err)
	}
	if bl, _ := billingRows(t, pool, "s-4"); bl != 1 {
		t.Fatalf("s-4 billed rows %d", bl)
	}
	for deadline := time.Now().Add(5 * time.Second); hooks.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if hooks.Load() != 1 {
		t.Fatalf("tenant got %d deliveries", hooks.Load())
	}
	if u := acme(); u.Used != 3 || u.Reserved != 0 {
		t.Fatalf("quota %+v after the webhook", u)
	}

	// Created on A, expired as seen by B (unit released), regenerated on
	// A (which still holds it open in memory: it re-reads the row and
	// reserves again), then approved as seen by B, which settles the
	// reopened reservation.
	up.set("POST "+contracts.SessionsPath, 201, sessionJSON("s-5", contracts.StateCreated, 1, 0))
	if st, _ := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", ""); st != 201 {
		t.Fatal("create s-5")
	}
	up.set("GET "+contracts.SessionPath("s-5"), 200, sessionJSON("s-5", contracts.StateExpired, 3, contracts.CodeTokenExpired))
	b.fx.do(t, "GET", contracts.SessionPath("s-5"), "acme-key", "")
	if st, _ := b.svc.Status("s-5"); st != Expired {
		t.Fatalf("s-5 on B: %s", st)
	}
	if u := acme(); u.Used != 3 || u.Reserved != 0 {
		t.Fatalf("quota %+v after expiry", u)
	}
	up.set("POST "+contracts.SessionPath("s-5")+"/qr", 200, sessionJSON("s-5", contracts.StateCreated, 4, 0))
	if st, body := a.fx.do(t, "POST", contracts.SessionPath("s-5")+"/qr", "acme-key", ""); st != 200 {
		t.Fatalf("regenerate on A: %d %s", st, body)
	}
	if u := acme(); u.Used != 3 || u.Reserved != 1 {
		t.Fatalf("quota %+v after regenerate", u)
	}
	up.set("GET "+contracts.SessionPath("s-5"), 200, sessionJSON("s-5", contracts.StateApproved, 8, 0))
	b.fx.do(t, "GET", contracts.SessionPath("s-5"), "acme-key", "")
	a.fx.do(t, "GET", contracts.SessionPath("s-5"), "acme-key", "")
	if st, _ := b.svc.Status("s-5"); st != Billed {
		t.Fatalf("s-5 on B after approval: %s", st)
	}
	if u := acme(); u.Used != 4 || u.Reserved != 0 {
		t.Fatalf("quota %+v after the reopened session was billed", u)
	}
	if bl, ub := billingRows(t, pool, "s-5"); bl != 1 || ub != 0 {
		t.Fatalf("s-5 rows %d %d", bl, ub)
	}

	// Created on A, which then stops; B's reconciler settles it.
	past := sessionJSON("s-3", contracts.StateCreated, 1, 0)
	past = pastExpiry(t, past)
	up.set("POST "+contracts.SessionsPath, 201, past)
	if st, _ := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", ""); st != 201 {
		t.Fatal("create s-3")
	}
	a.svc.Close()
	up.set("GET "+contracts.SessionPath("s-3"), 200, sessionJSON("s-3", contracts.StateFailed, 9, contracts.CodeNFCUserQuit))
	b.svc.Reconcile()
	b.svc.Reconcile() // claimed for reconcile_after: not polled twice
	if st, _ := b.svc.Status("s-3"); st != Released {
		t.Fatalf("s-3 on B: %s", st)
	}
	up.mu.Lock()
	calls := up.calls["GET "+contracts.SessionPath("s-3")]
	up.mu.Unlock()
	if calls != 1 {
		t.Fatalf("s-3 polled %d times, want 1", calls)
	}
	if u := acme(); u.Used != 4 || u.Reserved != 0 {
		t.Fatalf("quota %+v after reconcile", u)
	}
	if bl, ub := billingRows(t, pool, "s-3"); bl != 0 || ub != 1 {
		t.Fatalf("s-3 rows %d %d", bl, ub)
	}

	// B's PostgreSQL gone: a session it does not hold is not "not found"
	// but unavailable, to the tenant and to the upstream's webhook.
	b.svc.Store.(*Postgres).pool.Close()
	if st, body := b.fx.do(t, "GET", contracts.SessionPath("s-9"), "acme-key", ""); st != 503 || !strings.Contains(body, string(contracts.ErrServiceUnavailable)) {
		t.Fatalf("store down: %d %s", st, body)
	}
	ev, _ = json.Marshal(contracts.SessionEvent{ID: "ev-9", Type: contracts.SessionEventType, RequestID: "s-9", State: contracts.StateApproved, Version: 6, OccurredAt: time.Now()})
	req = httptest.NewRequest("POST", WebhookPath, strings.NewReader(string(ev)))
	ts, sig = contracts.SignWebhook([]byte(DemoConfig().UpstreamWebhookSecret), time.Now(), ev)
	req.Header.Set(contracts.WebhookTimestampHeader, ts)
	req.Header.Set(contracts.WebhookSignatureHeader, sig)
	if resp, err := b.app.Test(req, -1); err != nil || resp.StatusCode != 503 {
		t.Fatalf("webhook with the store down: %v %v", resp, err)
	}
}

// pastExpiry moves a session answer's QR deadline an hour back.
func pastExpiry(t *testing.T, body string) string {
	t.Helper()
	var s contracts.Session
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	s.ExpiresAt = time.Now().Add(-time.Hour)
	b, _ := json.Marshal(s)
	return string(b)
}

// Two relays on one outbox: an event accepted by one is delivered once;
// a delivery whose holder died is resumed by another relay, once.
func TestRelaysShareTheOutbox(t *testing.T) {
	cs := pgReplicas(t, 2)
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(contracts.WebhookEventHeader)]++
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // an attempt in flight while the other relay looks
		w.WriteHeader(204)
	}))
	defer srv.Close()
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	boxes := make([]*PostgresOutbox, 2)
	for i, c := range cs {
		var err error
		if boxes[i], err = NewPostgresOutbox(ctx, c.PG, c.PGGuard, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Left by a replica that died mid-lease.
	if _, err := boxes[0].Add(ctx, Delivery{EventID: "ev-dead", Tenant: "acme", URL: srv.URL, Body: []byte(`{}`), Next: time.Now(), Claim: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[0].PG.Exec(ctx, `UPDATE gateway_webhook_outbox SET claim_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	relays := make([]*Relay, 2)
	for i := range relays {
		r, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), boxes[i])
		if err != nil {
			t.Fatal(err)
		}
		relays[i] = r
	}
	if !relays[0].Enqueue("acme", srv.URL, "ev-live", []byte(`{}`)) {
		t.Fatal("enqueue refused")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := boxes[1].Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending: %+v", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range relays {
		r.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if got["ev-live"] != 1 || got["ev-dead"] != 1 {
		t.Fatalf("deliveries %v, want each once", got)
	}
}

// failReopen is the fleet's store whose Expired→Open transition fails
// while fail is set, as PostgreSQL down would.
type failReopen struct {
	*Postgres
	fail atomic.Bool
}

func (f *failReopen) Transition(ctx context.Context, id string, from, to Status, reopen quota.Ticket, at time.Time, entry *ledger.Entry) (bool, error) {
	if f.fail.Load() && from == Expired && to == Open {
		return false, errors.New("injected: postgres down")
	}
	return f.Postgres.Transition(ctx, id, from, to, reopen, at, entry)
}

// A regeneration whose reopening cannot be stored is refused (503, unit
// released, nothing forwarded); one the authority refuses is reverted in
// the store. Either way a later approval is billed once, in the ledger.
func TestFleetRegenerateReopensBeforeForwarding(t *testing.T) {
	var st *failReopen
	fleet, up, q, pool := newFleetWith(t, 1, func(p *Postgres) Store { st = &failReopen{Postgres: p}; return st })
	a := fleet[0]
	acme := func() quota.Usage { return q.Tenant("acme", time.Now()) }
	up.set("POST "+contracts.SessionsPath, 201, sessionJSON("s-1", contracts.StateCreated, 1, 0))
	if code, body := a.fx.do(t, "POST", contracts.SessionsPath, "acme-key", ""); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	up.set("GET "+contracts.SessionPath("s-1"), 200, sessionJSON("s-1", contracts.StateExpired, 3, contracts.CodeTokenExpired))
	a.fx.do(t, "GET", contracts.SessionPath("s-1"), "acme-key", "")
	if s, _ := a.svc.Status("s-1"); s != Expired {
		t.Fatalf("after expiry: %s", s)
	}
	qr := "POST " + contracts.SessionPath("s-1") + "/qr"
	up.set(qr, 200, sessionJSON("s-1", contracts.StateCreated, 4, 0))

	st.fail.Store(true)
	code, body := a.fx.do(t, "POST", contracts.SessionPath("s-1")+"/qr", "acme-key", "")
	if code != 503 || !strings.Contains(body, string(contracts.ErrServiceUnavailable)) {
		t.Fatalf("reopen not stored: %d %s, want 503", code, body)
	}
	if n := up.calls[qr]; n != 0 {
		t.Fatalf("regeneration forwarded %d times though the reopen was not stored", n)
	}
	if s, _ := a.svc.Status("s-1"); s != Expired {
		t.Fatalf("after the refused regeneration: %s", s)
	}
	if u := acme(); u.Reserved != 0 {
		t.Fatalf("quota %+v after the refused regeneration", u)
	}
	st.fail.Store(false)

	// The authority refuses: the reopening is reverted.
	up.set(qr, 500, `{}`)
	if code, _ := a.fx.do(t, "POST", contracts.SessionPath("s-1")+"/qr", "acme-key", ""); code == 200 {
		t.Fatalf("upstream refusal passed as 200")
	}
	if r, _, _ := st.Get(context.Background(), "s-1"); r.Status != Expired {
		t.Fatalf("store after the authority refused: %s", r.Status)
	}
	if u := acme(); u.Reserved != 0 {
		t.Fatalf("quota %+v after the authority refused", u)
	}

	up.set(qr, 200, sessionJSON("s-1", contracts.StateCreated, 5, 0))
	if code, body := a.fx.do(t, "POST", contracts.SessionPath("s-1")+"/qr", "acme-key", ""); code != 200 {
		t.Fatalf("regenerate: %d %s", code, body)
	}
	up.set("GET "+contracts.SessionPath("s-1"), 200, sessionJSON("s-1", contracts.StateApproved, 8, 0))
	a.fx.do(t, "GET", contracts.SessionPath("s-1"), "acme-key", "")
	if bl, ub := billingRows(t, pool, "s-1"); bl != 1 || ub != 0 {
		t.Fatalf("billing rows %d %d, want 1 billed", bl, ub)
	}
	if u := acme(); u.Used != 1 || u.Reserved != 0 {
		t.Fatalf("quota %+v, want 1 used", u)
	}
}
