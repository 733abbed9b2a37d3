package sessions

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
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
