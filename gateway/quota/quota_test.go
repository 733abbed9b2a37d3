package quota

import (
	"sync"
	"testing"
	"time"
)

func TestCalendarZone(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	c := NewCalendar(sh)
	cases := []struct {
		utc  string
		want string
	}{
		{"2026-11-21T15:59:59Z", "2026-11-21"},
		{"2026-11-21T16:00:00Z", "2026-11-22"}, // Shanghai midnight
		{"2026-11-22T15:59:59Z", "2026-11-22"},
		{"2026-11-21T15:00:00Z", "2026-11-21"}, // going back in time still works
	}
	for _, tc := range cases {
		ts, _ := time.Parse(time.RFC3339, tc.utc)
		if got := c.Day(ts); got != tc.want {
			t.Errorf("Day(%s) = %s, want %s", tc.utc, got, tc.want)
		}
	}
}

func TestReserveCommitRelease(t *testing.T) {
	c := NewCounter(NewCalendar(time.UTC))
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := Limits{TenantID: "t", TenantQuota: 2, KeyID: "k"}
	a, s1, _ := c.Reserve(l, now)
	b, s2, _ := c.Reserve(l, now)
	if s1 != ScopeNone || s2 != ScopeNone {
		t.Fatal("first two reservations refused")
	}
	if _, s, _ := c.Reserve(l, now); s != ScopeTenant {
		t.Fatalf("third reservation: %q, want tenant", s)
	}
	c.Release(a)
	if _, s, _ := c.Reserve(l, now); s != ScopeNone {
		t.Fatal("a released unit was not returned")
	}
	c.Commit(b)
	if u, _ := c.Tenant("t", now); u.Used != 1 || u.Reserved != 1 {
		t.Fatalf("usage %+v", u)
	}
	// Per-key cap is checked before the tenant's.
	if _, s, _ := c.Reserve(Limits{TenantID: "t2", KeyID: "k2", KeyQuota: 1}, now); s != ScopeNone {
		t.Fatal()
	}
	if _, s, _ := c.Reserve(Limits{TenantID: "t2", KeyID: "k2", KeyQuota: 1}, now); s != ScopeKey {
		t.Fatalf("want key scope, got %q", s)
	}
}

func TestSeedAndRollover(t *testing.T) {
	c := NewCounter(NewCalendar(time.UTC))
	day1 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c.Seed("2026-01-01", map[string]map[string]int64{"t": {"k": 5}})
	l := Limits{TenantID: "t", TenantQuota: 5, KeyID: "k"}
	if _, s, _ := c.Reserve(l, day1); s != ScopeTenant {
		t.Fatal("seeded usage ignored")
	}
	tk, s, _ := c.Reserve(l, day1.Add(24*time.Hour))
	if s != ScopeNone {
		t.Fatal("new day did not reset")
	}
	c.Commit(tk)
	if u, _ := c.Key("k", day1.Add(24*time.Hour)); u.Used != 1 {
		t.Fatalf("usage %+v", u)
	}
}

func TestExactUnderConcurrency(t *testing.T) {
	c := NewCounter(NewCalendar(time.UTC))
	now := time.Now()
	l := Limits{TenantID: "t", TenantQuota: 100, KeyID: "k"}
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				tk, s, _ := c.Reserve(l, now)
				if s != ScopeNone {
					continue
				}
				if (g+i)%4 == 0 {
					c.Release(tk)
					continue
				}
				c.Commit(tk)
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	if admitted != 100 {
		t.Fatalf("admitted %d, want exactly 100", admitted)
	}
}

func TestTenantsSnapshot(t *testing.T) {
	c := NewCounter(NewCalendar(time.UTC))
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.Seed("2026-03-01", map[string]map[string]int64{"acme": {"k1": 3, "k2": 2}})
	tk, _, _ := c.Reserve(Limits{TenantID: "acme", KeyID: "k1", TenantQuota: 10}, day)
	c.Reserve(Limits{TenantID: "beta", KeyID: "b1"}, day)
	for _, tc := range []struct {
		name string
		now  time.Time
		want map[string]Usage
	}{
		{"today", day, map[string]Usage{"acme": {Used: 5, Reserved: 1}, "beta": {Reserved: 1}}},
		{"next day", day.AddDate(0, 0, 1), map[string]Usage{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Tenants(tc.now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for id, u := range tc.want {
				if got[id] != u {
					t.Errorf("%s: got %+v, want %+v", id, got[id], u)
				}
			}
		})
	}
	c.Commit(tk) // settles nothing: the day turned
}
