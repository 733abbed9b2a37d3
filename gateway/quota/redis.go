package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/idgate/idgate/gateway/ratelimit"
	"github.com/idgate/idgate/gateway/stores"
)

// SeedFunc reads where a tenant's day stands from the durable records (the
// ledger's units used that day and the open sessions holding one): the
// tenant's total and each key's.
type SeedFunc func(ctx context.Context, tenant, day string) (tenantUsed int64, keyUsed map[string]int64, err error)

// RedisOptions configure the fleet's quota store.
type RedisOptions struct {
	// Calendar names the quota day (the gateway's zone).
	Calendar *Calendar
	// Hold is a lease's life when Limits.Hold is 0: longer than any
	// request can be under way upstream.
	Hold time.Duration
	// Seed starts a tenant's day the first time the fleet counts it (or
	// after Redis lost it); nil seeds zeros.
	Seed SeedFunc
	// Limiter takes AllowReserve's rate-limit tokens' fallback and names
	// the tenant's keys (the same buckets as its Allow).
	Limiter *ratelimit.Redis
	// Tenants lists the tenant ids Tenants reports; TenantOf names a
	// key's tenant for Key ("" when unknown).
	Tenants  func() []string
	TenantOf func(keyID string) string
}

const (
	// dayTTL keeps a day's keys this long after their last write.
	dayTTL = 72 * time.Hour
	// flushDelay is how long a settlement waits for a request's call to
	// carry it before the background flusher sends it.
	flushDelay = 5 * time.Millisecond
	// maxFlushBackoff bounds the flusher's wait between attempts while
	// Redis is down.
	maxFlushBackoff = time.Second
	// maxCarried bounds the settlements one call carries.
	maxCarried = 256
	// seedReadFactor scales the PostgreSQL guard's per-call timeout into
	// the bound of a seed's reads: the day's ledger aggregate is a heavier
	// query than a request's point reads, yet a request waits for it.
	seedReadFactor = 10
	// seedTimeout bounds a seed's reads when the connections have no
	// PostgreSQL guard (a SeedFunc not backed by PostgreSQL).
	seedTimeout = 2 * time.Second
	// readFactor scales the Redis guard's per-call timeout into the bound
	// of an admin or metric read.
	readFactor = 10
	// closeDrain bounds Close's last attempts to send the settlements.
	closeDrain = 3 * time.Second
)

// errNeedSeed is a day whose seeding vanished between the seed and the retry.
var errNeedSeed = errors.New("day not seeded")

// scriptAnswer is one script call's reply.
type scriptAnswer struct {
	res []any
	err error
}

type settlement struct {
	commit bool
	t      Ticket
	at     time.Time // when it was queued
}

// Redis is the fleet's quota store: every replica reserves, commits and
// releases in Redis, so N replicas admit exactly as one gateway would.
// Reservations are leases named by the request id that any replica can
// settle; commits and releases leave the request's path (queued, carried
// by the next call of the same tenant or sent within milliseconds by a
// background flusher, retried while Redis is down). Safe for concurrent
// use.
type Redis struct {
	c     *stores.Conns
	o     RedisOptions
	seeds singleflight.Group

	// retrying is set while the flusher backs off after a failed flush;
	// the first call that reaches Redis afterwards clears it and wakes the
	// flusher, so the settlements do not trail a recovery by the backoff.
	retrying atomic.Bool
	// carrying counts the calls under way that carry settlements (they
	// are no longer queued, not yet in Redis).
	carrying atomic.Int32

	mu      sync.Mutex
	pending map[string][]settlement // by tenant
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// NewRedis opens the quota on c's Redis and starts the flusher (Close
// stops it).
func NewRedis(c *stores.Conns, o RedisOptions) *Redis {
	if o.Limiter == nil {
		o.Limiter = ratelimit.NewRedis(c, o.TenantOf)
	}
	q := &Redis{
		c: c, o: o, pending: map[string][]settlement{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go q.flushLoop()
	return q
}

// Reserve takes one unit of the key's and the tenant's quota for l.Lease
// until it is settled or its hold ends. An error (Redis failing, slow or
// its breaker open, or the day's seeding failing) admits nothing.
func (q *Redis) Reserve(l Limits, now time.Time) (Ticket, Scope, error) {
	_, t, s, err := q.reserve(l, now, false, 0, 0)
	return t, s, err
}

// AllowReserve takes keyID's rate-limit token and, when it is granted,
// one unit of the quotas: one script, one round trip. When Redis cannot
// answer, the decision is the local fallback bucket's and the error says
// nothing was reserved.
func (q *Redis) AllowReserve(keyID string, rate float64, burst int, l Limits, now time.Time) (ratelimit.Decision, Ticket, Scope, error) {
	l.KeyID = keyID
	d, t, s, err := q.reserve(l, now, true, rate, burst)
	if err != nil {
		d = q.o.Limiter.Fallback(keyID, rate, burst, now)
	}
	return d, t, s, err
}

func (q *Redis) reserve(l Limits, now time.Time, withRate bool, rate float64, burst int) (ratelimit.Decision, Ticket, Scope, error) {
	day := q.o.Calendar.Day(now)
	if l.Lease == "" {
		l.Lease = randomID() // a caller without a request id still gets a lease of its own
	}
	hold := l.Hold
	if hold <= 0 {
		hold = q.o.Hold
	}
	op := "r"
	if withRate {
		op = "ar"
	}
	args := []any{day, l.KeyID, l.TenantQuota, l.KeyQuota, l.Lease, hold.Milliseconds()}
	if withRate {
		args = append(args, rate, burst)
	}
	res, err := q.run(l.TenantID, op, args, true)
	if errors.Is(err, errNeedSeed) {
		if err = q.seed(l.TenantID, day); err == nil {
			res, err = q.run(l.TenantID, op, args, false)
		}
	}
	if err != nil {
		if !errors.Is(err, errNeedSeed) && !errors.Is(err, stores.ErrOpen) {
			// The script may have run before the call failed: free its
			// lease, else it would expire and count as used.
			q.enqueue(settlement{t: Ticket{Day: day, Tenant: l.TenantID, Key: l.KeyID, Lease: l.Lease}})
		}
		return ratelimit.Decision{}, Ticket{}, ScopeNone, fmt.Errorf("quota: redis: reserve: %w", err)
	}
	status, _ := res[0].(string)
	epoch, _ := res[1].(string)
	d, err := ratelimit.DecisionOf(res[2:], burst)
	if err != nil {
		return ratelimit.Decision{}, Ticket{}, ScopeNone, fmt.Errorf("quota: redis: reserve: %w", err)
	}
	switch status {
	case "OK":
		return d, Ticket{Day: day, Tenant: l.TenantID, Key: l.KeyID, Lease: l.Lease, Epoch: epoch}, ScopeNone, nil
	case "KEY":
		return d, Ticket{}, ScopeKey, nil
	case "TENANT":
		return d, Ticket{}, ScopeTenant, nil
	case "RATE":
		return d, Ticket{}, ScopeNone, nil
	}
	return ratelimit.Decision{}, Ticket{}, ScopeNone, fmt.Errorf("quota: redis: reserve: unexpected answer %v", res)
}

// run calls the script for tenant with op and its args, carrying the
// tenant's queued settlements when carry is set (put back if the call
// fails). It returns errNeedSeed when the day is not seeded.
func (q *Redis) run(tenant, op string, opArgs []any, carry bool) ([]any, error) {
	var carried []settlement
	if carry {
		if carried = q.take(tenant); len(carried) > 0 {
			q.carrying.Add(1)
			defer q.carrying.Add(-1)
		}
	}
	args := make([]any, 0, 3+5*len(carried)+len(opArgs))
	args = append(args, op, dayTTL.Milliseconds(), len(carried))
	for _, s := range carried {
		kind := "r"
		if s.commit {
			kind = "c"
		}
		args = append(args, kind, s.t.Day, s.t.Key, s.t.Lease, s.t.Epoch)
	}
	args = append(args, opArgs...)
	var res []any
	err := q.c.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
		// The auto-pipeliner waits for its batch's replies whatever the
		// call's deadline: the wait is bounded here, so a stalled Redis
		// costs a request the guard's timeout, no more. A call given up
		// may still run; its carried settlements are put back (sending
		// them again changes nothing) and a reservation's lease is
		// released by the caller (reserve).
		ch := make(chan scriptAnswer, 1)
		go func() {
			r, err := quotaScript.Run(ctx, q.c.HotRedis(), []string{q.base(tenant)}, args...).Slice()
			ch <- scriptAnswer{r, err}
		}()
		select {
		case a := <-ch:
			res = a.res
			return a.err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		q.putBack(tenant, carried)
		return nil, err
	}
	if q.retrying.Load() && q.retrying.CompareAndSwap(true, false) {
		q.signal() // Redis is back: the flusher stops backing off
	}
	if len(res) == 1 && res[0] == "NEEDSEED" {
		return nil, errNeedSeed
	}
	if op != "s" && op != "u" && len(res) != 6 {
		return nil, fmt.Errorf("unexpected answer %v", res)
	}
	return res, nil
}

func (q *Redis) base(tenant string) string { return q.o.Limiter.Base(tenant) }

// seed starts tenant's day from the durable records, once per replica at
// a time; across the fleet the first seeder's counts win.
func (q *Redis) seed(tenant, day string) error {
	_, err, _ := q.seeds.Do(tenant+"\x00"+day, func() (any, error) {
		var (
			tenantUsed int64
			keyUsed    map[string]int64
		)
		if q.o.Seed != nil {
			var err error
			if tenantUsed, keyUsed, err = q.readSeed(tenant, day); err != nil {
				return nil, fmt.Errorf("seed %s: %w", day, err)
			}
		}
		args := make([]any, 0, 4+2*len(keyUsed))
		args = append(args, day, randomID(), dayTTL.Milliseconds(), tenantUsed)
		for k, n := range keyUsed {
			args = append(args, k, n)
		}
		return nil, q.c.RedisGuard.Do(context.Background(), func(ctx context.Context) error {
			return seedScript.Run(ctx, q.c.Redis, []string{q.base(tenant)}, args...).Err()
		})
	})
	return err
}

// readSeed runs the Seed option under the PostgreSQL guard: refused at
// once while its breaker is open, bounded by seedReadFactor times its
// per-call timeout, and its outcome counted toward the breaker, so a
// PostgreSQL outage fails seeds (and the reservations waiting for them)
// at once rather than each one waiting out its own timeout.
func (q *Redis) readSeed(tenant, day string) (int64, map[string]int64, error) {
	g, bound := q.c.PGGuard, seedTimeout
	if g != nil {
		if err := g.Allow(); err != nil {
			return 0, nil, err
		}
		bound = seedReadFactor * g.Timeout()
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tenantUsed, keyUsed, err := q.o.Seed(ctx, tenant, day)
	if g != nil {
		g.Observe(err)
		if err != nil {
			err = fmt.Errorf("%s: %w", g.Name(), err)
		}
	}
	return tenantUsed, keyUsed, err
}

// Commit turns the ticket's lease into a used unit (the answer was
// billed), once, on whichever replica took it.
func (q *Redis) Commit(t Ticket) { q.settle(t, true) }

// Release returns the ticket's lease (nothing billed).
func (q *Redis) Release(t Ticket) { q.settle(t, false) }

func (q *Redis) settle(t Ticket, commit bool) {
	if t.IsZero() || t.Lease == "" {
		return
	}
	q.enqueue(settlement{commit: commit, t: t})
}

func (q *Redis) enqueue(s settlement) {
	s.at = time.Now()
	q.mu.Lock()
	q.pending[s.t.Tenant] = append(q.pending[s.t.Tenant], s)
	q.mu.Unlock()
	q.signal()
}

// signal wakes the flusher (without blocking: one wake-up is enough).
func (q *Redis) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes up to maxCarried of tenant's queued settlements.
func (q *Redis) take(tenant string) []settlement {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pending[tenant]
	if len(p) <= maxCarried {
		delete(q.pending, tenant)
		return p
	}
	q.pending[tenant] = p[maxCarried:]
	return p[:maxCarried:maxCarried]
}

// putBack queues settlements a failed call carried, ahead of newer ones.
func (q *Redis) putBack(tenant string, p []settlement) {
	if len(p) == 0 {
		return
	}
	q.mu.Lock()
	q.pending[tenant] = append(p, q.pending[tenant]...)
	q.mu.Unlock()
	q.signal()
}

// oldestAge is how long the oldest queued settlement has waited (ok is
// false when none is queued). Each tenant's queue is in order.
func (q *Redis) oldestAge() (age time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var oldest time.Time
	for _, p := range q.pending {
		if len(p) > 0 && (oldest.IsZero() || p[0].at.Before(oldest)) {
			oldest = p[0].at
		}
	}
	if oldest.IsZero() {
		return 0, false
	}
	return time.Since(oldest), true
}

// Pending counts the settlements not yet in Redis (queued, or carried by
// a call under way).
func (q *Redis) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := int(q.carrying.Load())
	for _, p := range q.pending {
		n += len(p)
	}
	return n
}

// flushLoop sends the settlements no request carried, flushDelay after
// they were queued, and keeps retrying (backing off up to a second) while
// Redis is down. The backoff ends as soon as any call reaches Redis again
// (run clears retrying and wakes the loop); a wake-up while Redis is still
// failing leaves the backoff as it is.
func (q *Redis) flushLoop() {
	defer close(q.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-q.wake:
		}
		wait, backingOff := flushDelay, false
		for {
			timer.Reset(wait)
		waiting:
			for {
				select {
				case <-q.stop:
					timer.Stop()
					return
				case <-timer.C:
					break waiting
				case <-q.wake:
					if backingOff && !q.retrying.Load() {
						wait, backingOff = flushDelay, false
						timer.Reset(wait)
					}
				}
			}
			if !backingOff {
				// Under load the requests' own calls carry every
				// settlement within moments: the flusher sends only what
				// waited flushDelay, so the miss path stays at one round
				// trip a request.
				age, ok := q.oldestAge()
				if !ok {
					break
				}
				if age < flushDelay {
					wait = flushDelay - age
					continue
				}
			}
			if q.flush() == nil {
				break
			}
			q.retrying.Store(true)
			backingOff = true
			wait = min(2*wait, maxFlushBackoff)
		}
		q.retrying.Store(false)
	}
}

// flush sends every tenant's queued settlements; the first error is
// returned, and the failed ones stay queued.
func (q *Redis) flush() error {
	q.mu.Lock()
	tenants := make([]string, 0, len(q.pending))
	for t := range q.pending {
		tenants = append(tenants, t)
	}
	q.mu.Unlock()
	var first error
	for _, t := range tenants {
		for {
			q.mu.Lock()
			n := len(q.pending[t])
			q.mu.Unlock()
			if n == 0 {
				break
			}
			if _, err := q.run(t, "s", nil, true); err != nil {
				if first == nil {
					first = err
				}
				break
			}
		}
	}
	return first
}

// Close stops the flusher and sends what is still queued, trying for a
// few seconds while Redis is down. It does not close the connections.
func (q *Redis) Close() {
	q.closing.Do(func() {
		close(q.stop)
		<-q.done
		deadline := time.Now().Add(closeDrain)
		for q.flush() != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// Tenant returns today's usage of a tenant across the fleet: used units
// (expired leases included) and live leases. An error says Redis could
// not be read (nothing is known).
func (q *Redis) Tenant(id string, now time.Time) (Usage, error) {
	return q.usage(id, q.o.Calendar.Day(now), "lt", "t")
}

// Key returns today's usage of a key (zero when its tenant is unknown); an
// error says Redis could not be read.
func (q *Redis) Key(id string, now time.Time) (Usage, error) {
	if q.o.TenantOf == nil {
		return Usage{}, nil
	}
	t := q.o.TenantOf(id)
	if t == "" {
		return Usage{}, nil
	}
	return q.usage(t, q.o.Calendar.Day(now), "lk:"+id, "k:"+id)
}

func (q *Redis) usage(tenant, day, set, field string) (Usage, error) {
	var res []any
	err := q.read(func(ctx context.Context) error {
		var err error
		res, err = quotaScript.Run(ctx, q.c.Redis, []string{q.base(tenant)}, "u", dayTTL.Milliseconds(), 0, day, set, field).Slice()
		return err
	})
	if err != nil {
		return Usage{}, fmt.Errorf("quota: redis: usage: %w", err)
	}
	return usageOf(res)
}

// read runs fn, a read for the admin API or the metrics, off the request
// path's accounting: refused while the Redis breaker is open, bounded by
// its own deadline (readFactor times the per-call timeout: a pipeline of
// every tenant is longer than one call), and its outcome NOT counted
// toward the breaker, so a slow read cannot make the fleet refuse
// billable requests.
func (q *Redis) read(fn func(ctx context.Context) error) error {
	g := q.c.RedisGuard
	if err := g.Allow(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readFactor*g.Timeout())
	defer cancel()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("%s: %w", g.Name(), err)
	}
	return nil
}

func usageOf(res []any) (Usage, error) {
	if len(res) != 2 {
		return Usage{}, fmt.Errorf("quota: redis: usage: unexpected answer %v", res)
	}
	used, _ := res[0].(int64)
	reserved, _ := res[1].(int64)
	return Usage{Used: used, Reserved: reserved}, nil
}

// Tenants returns today's usage of each tenant the Tenants option lists,
// read in one pipelined round trip (a read: see read). Tenants with no
// count today, or all of them when Redis fails, are absent.
func (q *Redis) Tenants(now time.Time) map[string]Usage {
	out := map[string]Usage{}
	if q.o.Tenants == nil {
		return out
	}
	ids := q.o.Tenants()
	if len(ids) == 0 {
		return out
	}
	day := q.o.Calendar.Day(now)
	read := func(ctx context.Context) ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(ids))
		_, err := q.c.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = quotaScript.EvalSha(ctx, p, []string{q.base(id)}, "u", dayTTL.Milliseconds(), 0, day, "lt", "t")
			}
			return nil
		})
		return cmds, err
	}
	var cmds []*redis.Cmd
	err := q.read(func(ctx context.Context) error {
		var err error
		cmds, err = read(ctx)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err = quotaScript.Load(ctx, q.c.Redis).Err(); err == nil {
				cmds, err = read(ctx)
			}
		}
		return err
	})
	if err != nil {
		return out
	}
	for i, c := range cmds {
		res, err := c.Slice()
		if err != nil {
			continue
		}
		if u, err := usageOf(res); err == nil && (u.Used != 0 || u.Reserved != 0) {
			out[ids[i]] = u
		}
	}
	return out
}

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
