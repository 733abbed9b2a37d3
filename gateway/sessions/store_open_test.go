package sessions

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/internal/testkit"
)

// TestOpenOn: both stores count, per key, only the open sessions of the
// tenant and day asked (an expired session's unit was released; another
// tenant's or day's sessions are not the seed's).
func TestOpenOn(t *testing.T) {
	stores := map[string]func(t *testing.T) Store{
		"sqlite": func(t *testing.T) Store {
			db, err := ledger.OpenDB(tempDB(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := NewSQLite(db)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) Store { return newPGStore(t, pgReplicas(t, 1)[0]) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx, now := context.Background(), time.Now()
			recs := []Record{
				{RequestID: "a1", Tenant: "acme", KeyID: "k1", Status: Open, Day: "2026-01-02"},
				{RequestID: "a2", Tenant: "acme", KeyID: "k1", Status: Open, Day: "2026-01-02"},
				{RequestID: "a3", Tenant: "acme", KeyID: "k2", Status: Open, Day: "2026-01-02"},
				{RequestID: "a4", Tenant: "acme", KeyID: "k2", Status: Open, Day: "2026-01-02"}, // expires below
				{RequestID: "a5", Tenant: "acme", KeyID: "k1", Status: Open, Day: "2026-01-01"},
				{RequestID: "r1", Tenant: "rival", KeyID: "r", Status: Open, Day: "2026-01-02"},
			}
			for _, r := range recs {
				r.CreatedAt, r.ExpiresAt = now, now.Add(time.Minute)
				if err := s.Insert(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := s.Transition(ctx, "a4", Open, Expired, quota.Ticket{}, now, nil); !ok || err != nil {
				t.Fatalf("expire: %v %v", ok, err)
			}
			got, err := s.OpenOn(ctx, "acme", "2026-01-02")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int64{"k1": 2, "k2": 1}; !maps.Equal(got, want) {
				t.Fatalf("open on: %v, want %v", got, want)
			}
		})
	}
}

// TestTicketOfAfterReseed: Redis loses the day while a session is open;
// the reseeding counts the open session from the store, and the commit of
// the ticket rebuilt from its record does not count it a second time.
func TestTicketOfAfterReseed(t *testing.T) {
	c := pgReplicas(t, 1)[0]
	s := newPGStore(t, c)
	ctx, now := context.Background(), time.Now()
	cal := quota.NewCalendar(time.UTC)
	seed := func(ctx context.Context, tenant, day string) (int64, map[string]int64, error) {
		open, err := s.OpenOn(ctx, tenant, day)
		var n int64
		for _, k := range open {
			n += k
		}
		return n, open, err
	}
	q := quota.NewRedis(c, quota.RedisOptions{Calendar: cal, Hold: time.Minute, Seed: seed})
	t.Cleanup(q.Close)
	l := quota.Limits{TenantID: "acme", TenantQuota: 10, KeyID: "acme-1", Lease: "s-1"}
	tk, _, err := q.Reserve(l, now)
	if err != nil || tk.Epoch == "" {
		t.Fatalf("reserve: %+v %v", tk, err)
	}
	r := Record{RequestID: "s-1", Tenant: "acme", KeyID: "acme-1", Status: Open, Day: tk.Day, Lease: tk.Lease, Epoch: tk.Epoch,
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}

	testkit.DeleteRedisPrefix(t, c.Redis, c.Config.Redis.Prefix)
	// The next reservation reseeds: the open session is one used unit.
	if _, _, err := q.Reserve(quota.Limits{TenantID: "acme", TenantQuota: 10, KeyID: "acme-1", Lease: "other"}, now); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Get(ctx, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	q.Commit(TicketOf(got))
	q.Close() // sends the commit (the connections stay open)
	if u, _ := q.Tenant("acme", now); u.Used != 1 || u.Reserved != 1 {
		t.Fatalf("after the reseed and the session's commit: %+v; want used 1 (the session, once), reserved 1", u)
	}
}
