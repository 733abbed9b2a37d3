// Package quota counts billable verifications per calendar day, per key and
// per tenant across its keys. A request reserves a unit before it goes
// upstream and commits it only when the answer is billed, so concurrent
// clients can never be admitted past the quota and failures never consume
// it. Counters start each process from the ledger (see Seed), so a restart
// does not hand out a fresh quota.
package quota

import (
	"sync"
	"sync/atomic"
	"time"
)

// Calendar names the quota day of an instant in a fixed time zone.
type Calendar struct {
	loc *time.Location
	cur atomic.Pointer[dayCache]
}

type dayCache struct {
	start, end int64 // unix nanoseconds, [start, end)
	name       string
}

// NewCalendar uses loc (Asia/Shanghai by default in config).
func NewCalendar(loc *time.Location) *Calendar { return &Calendar{loc: loc} }

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Day is now's calendar day as 2006-01-02. The answer is cached until
// midnight: the hot path formats no dates.
func (c *Calendar) Day(now time.Time) string {
	ns := now.UnixNano()
	if d := c.cur.Load(); d != nil && ns >= d.start && ns < d.end {
		return d.name
	}
	t := now.In(c.loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, c.loc)
	d := &dayCache{start: start.UnixNano(), end: start.AddDate(0, 0, 1).UnixNano(), name: start.Format("2006-01-02")}
	c.cur.Store(d)
	return d.name
}

// Limits are the quotas that apply to one request; 0 means unlimited.
type Limits struct {
	TenantID    string
	TenantQuota int64
	KeyID       string
	KeyQuota    int64
	// Lease names the reservation (the request id): a shared store keeps
	// it as a lease that any replica can settle.
	Lease string
	// Hold is how long the reservation may stay unsettled before a shared
	// store settles it on its own (0: the store's default, longer than
	// the longest upstream call). A session holds its unit much longer.
	Hold time.Duration
}

// Ticket is a reservation to commit or release. Its fields name it
// completely, so a ticket rebuilt from a stored session (TicketOf)
// settles the same reservation on any replica.
type Ticket struct {
	Day, Tenant, Key string
	// Lease is the reservation's name in a shared store ("" in the
	// embedded one); Epoch the store's seeding it was taken under.
	Lease string
	Epoch string
}

// IsZero reports whether t holds no reservation.
func (t Ticket) IsZero() bool { return t.Day == "" }

// Scope says which quota refused a reservation.
type Scope string

const (
	ScopeNone   Scope = ""
	ScopeKey    Scope = "key"
	ScopeTenant Scope = "tenant"
)

type count struct{ used, reserved int64 }

// Counter is the in-process quota store.
type Counter struct {
	cal     *Calendar
	mu      sync.Mutex
	day     string
	tenants map[string]*count
	keys    map[string]*count
}

// NewCounter counts in cal's days.
func NewCounter(cal *Calendar) *Counter {
	return &Counter{cal: cal, tenants: map[string]*count{}, keys: map[string]*count{}}
}

// rollover must hold mu.
func (c *Counter) rollover(day string) {
	if day != c.day {
		c.day = day
		c.tenants = map[string]*count{}
		c.keys = map[string]*count{}
	}
}

func get(m map[string]*count, id string) *count {
	n, ok := m[id]
	if !ok {
		n = &count{}
		m[id] = n
	}
	return n
}

// Reserve takes one unit of both quotas, or refuses naming the exhausted one.
// Units in flight count against the quota until committed or released.
// The in-process counter never fails (the error is a shared store's).
func (c *Counter) Reserve(l Limits, now time.Time) (Ticket, Scope, error) {
	day := c.cal.Day(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollover(day)
	k := get(c.keys, l.KeyID)
	if l.KeyQuota > 0 && k.used+k.reserved >= l.KeyQuota {
		return Ticket{}, ScopeKey, nil
	}
	t := get(c.tenants, l.TenantID)
	if l.TenantQuota > 0 && t.used+t.reserved >= l.TenantQuota {
		return Ticket{}, ScopeTenant, nil
	}
	k.reserved++
	t.reserved++
	return Ticket{Day: day, Tenant: l.TenantID, Key: l.KeyID}, ScopeNone, nil
}

// Commit turns a reservation into a used unit (the answer was billed).
func (c *Counter) Commit(tk Ticket) { c.settle(tk, true) }

// Release returns a reservation (not billed, error, timeout).
func (c *Counter) Release(tk Ticket) { c.settle(tk, false) }

func (c *Counter) settle(tk Ticket, used bool) {
	if tk.Day == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tk.Day != c.day {
		return // the day turned while the request was in flight; its counters are gone
	}
	for _, n := range []*count{get(c.keys, tk.Key), get(c.tenants, tk.Tenant)} {
		n.reserved--
		if used {
			n.used++
		}
	}
}

// Seed sets the used counts of day (from the ledger at start-up).
func (c *Counter) Seed(day string, perTenantKey map[string]map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollover(day)
	for t, keys := range perTenantKey {
		for k, n := range keys {
			get(c.tenants, t).used += n
			get(c.keys, k).used += n
		}
	}
}

// Usage is the state of one counter today.
type Usage struct {
	Used     int64 `json:"used"`
	Reserved int64 `json:"reserved"`
}

// Tenant returns today's usage of a tenant (the error is always nil: the
// count is in memory).
func (c *Counter) Tenant(id string, now time.Time) (Usage, error) { return c.usage(id, true, now), nil }

// Key returns today's usage of a key (the error is always nil).
func (c *Counter) Key(id string, now time.Time) (Usage, error) { return c.usage(id, false, now), nil }

func (c *Counter) usage(id string, tenant bool, now time.Time) Usage {
	day := c.cal.Day(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollover(day)
	m := c.keys
	if tenant {
		m = c.tenants
	}
	if n, ok := m[id]; ok {
		return Usage{Used: n.used, Reserved: n.reserved}
	}
	return Usage{}
}

// Tenants returns today's usage of every tenant counted today, read under
// one lock so the figures belong to one instant. Tenants without a count
// today are absent (their usage is zero).
func (c *Counter) Tenants(now time.Time) map[string]Usage {
	day := c.cal.Day(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rollover(day)
	out := make(map[string]Usage, len(c.tenants))
	for id, n := range c.tenants {
		out[id] = Usage{Used: n.used, Reserved: n.reserved}
	}
	return out
}
