// Package cache keeps the authority's definitive answers (by default the
// billed codes 0 and -1) so that asking the same question again within the
// TTL costs nothing upstream.
//
// Keys are HMAC-SHA256 under a configured secret of the tenant's scope, its
// generation, the route and the canonical request (name, ID number,
// validity dates, image reference): memory holds neither plaintext personal
// data nor an unkeyed hash of it (ID numbers are few enough to enumerate).
// The cache (ristretto) keeps only the 128 bits of that key it hashes to.
//
// Purging a tenant bumps its generation: its old keys can no longer be
// computed and the entries age out or are evicted. Purging one (name, ID
// number) records a tombstone of the pair's keyed hash; an entry stored
// before the tombstone is a miss (and is deleted) when next read.
package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
)

// Lookup is the keyed identity of one cacheable request.
type Lookup struct {
	// Key is the cache key: 32 bytes of HMAC of the whole request, then the
	// 16-byte keyed hash of its (name, ID number) pair. Not text; the
	// singleflight key too.
	Key      string
	identity [16]byte
	// at is when the answer to store was asked for (before the upstream
	// call): an answer fetched before a purge of its pair must not outlive
	// it. Zero: unknown (then the time it is stored).
	at time.Time
}

// LookupFromKey rebuilds a Lookup from its Key (the flight has only that).
func LookupFromKey(key string) (Lookup, bool) {
	if len(key) != sha256.Size+16 {
		return Lookup{}, false
	}
	l := Lookup{Key: key}
	copy(l.identity[:], key[sha256.Size:])
	return l, true
}

// entry is one stored answer. Its cost is the key, the body, the struct
// itself and bookkeeping: what ristretto's maps, admission policy and
// expiry buckets hold per entry.
type entry struct {
	body     []byte
	result   string // interned: one of the route's codes
	identity [16]byte
	stored   int64 // unix nanoseconds, for tombstones
}

var entrySize = int64(unsafe.Sizeof(entry{}))

// bookkeeping is measured, not derived: BenchmarkMillionEntries showed the
// process grow by ~410-430 bytes per 70-byte answer while key, body and
// entry account for ~180, the rest being ristretto's store map slot, its policy's
// cost map, the expiry bucket, the frequency sketch and allocator rounding.
// Counting it makes max_bytes bound the memory the cache really takes.
const bookkeeping = 260

// estimatedEntry sizes ristretto's frequency sketch (10 counters per entry
// the budget can hold).
const estimatedEntry = 430

// Cache is safe for concurrent use.
type Cache struct {
	rc     *ristretto.Cache[string, *entry]
	secret []byte
	macs   sync.Pool
	ttls   map[string]map[string]time.Duration // route → code → ttl
	codes  map[string]string                   // interned result codes
	maxTTL time.Duration

	tenants map[string]TenantConfig

	genMu sync.RWMutex
	gens  map[string]*atomic.Uint64 // scope → generation

	tombMu    sync.RWMutex
	tombs     map[[16]byte]int64
	tombCount atomic.Int64

	hits, misses, evictions, rejected, stores atomic.Int64
	now                                       func() time.Time

	// l2 is the fleet's second level (nil: this process only); set by
	// AttachShared before the cache serves.
	l2 *Shared
}

// maxTombstones bounds the pair-purge tombstones; beyond it a pair purge
// becomes a purge of everything (correct, just costlier).
const maxTombstones = 1 << 20

// New builds the cache and registers its metrics on reg.
func New(c Config, routes []billing.RouteConfig, reg prometheus.Registerer) (*Cache, error) {
	if len(c.KeySecret) < 16 {
		return nil, fmt.Errorf("cache: key secret shorter than 16 bytes")
	}
	ca := &Cache{
		secret: []byte(c.KeySecret.Reveal()), ttls: map[string]map[string]time.Duration{}, codes: map[string]string{},
		tenants: c.Tenants, gens: map[string]*atomic.Uint64{}, tombs: map[[16]byte]int64{}, now: time.Now,
	}
	ca.macs.New = func() any { return hmac.New(sha256.New, ca.secret) }
	for _, r := range routes {
		m := map[string]time.Duration{}
		for code, ttl := range c.CacheTTLs(r.Name) {
			if ttl <= 0 {
				continue
			}
			m[code] = ttl
			ca.codes[code] = code
			ca.maxTTL = max(ca.maxTTL, ttl)
		}
		ca.ttls[r.Name] = m
	}
	counters := max(c.MaxBytes/estimatedEntry*10, 1<<16)
	rc, err := ristretto.NewCache(&ristretto.Config[string, *entry]{
		NumCounters: counters,
		MaxCost:     c.MaxBytes,
		BufferItems: 64,
		// Our cost already holds ristretto's per-item overhead.
		IgnoreInternalCost: true,
		// The key is already a uniformly distributed MAC: its first 128
		// bits are the hash and the conflict check, no second hashing.
		KeyToHash: func(k string) (uint64, uint64) {
			if len(k) < 16 {
				return 0, 0
			}
			return binary.LittleEndian.Uint64([]byte(k[:8])), binary.LittleEndian.Uint64([]byte(k[8:16]))
		},
		OnEvict:  func(*ristretto.Item[*entry]) { ca.evictions.Add(1) },
		OnReject: func(*ristretto.Item[*entry]) { ca.rejected.Add(1) },
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	ca.rc = rc
	if reg != nil {
		counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "idgate", Subsystem: "gateway_cache", Name: name, Help: help},
				func() float64 { return float64(v.Load()) })
		}
		cs := []prometheus.Collector{
			counter("hits_total", "Cache lookups answered from the cache.", &ca.hits),
			counter("misses_total", "Cache lookups that went upstream.", &ca.misses),
			counter("evictions_total", "Entries evicted to stay within max_bytes.", &ca.evictions),
			counter("rejections_total", "Answers the admission policy did not keep.", &ca.rejected),
			counter("stores_total", "Answers offered to the cache.", &ca.stores),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "idgate", Subsystem: "gateway_cache", Name: "cost_bytes",
				Help: "Bytes the cache accounts for (keys, answers, bookkeeping)."}, func() float64 { return float64(rc.MaxCost() - rc.RemainingCost()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "idgate", Subsystem: "gateway_cache", Name: "max_bytes",
				Help: "The cache's byte budget."}, func() float64 { return float64(rc.MaxCost()) }),
		}
		for _, col := range cs {
			if err := reg.Register(col); err != nil {
				rc.Close()
				return nil, fmt.Errorf("cache: metrics: %w", err)
			}
		}
	}
	return ca, nil
}

// Close stops the cache's goroutines.
func (c *Cache) Close() { c.rc.Close() }

// Wait blocks until buffered stores are applied (tests).
func (c *Cache) Wait() { c.rc.Wait() }

// CountsQuota says whether the tenant's hits consume quota.
func (c *Cache) CountsQuota(tenant string) bool { return c.tenants[tenant].CountQuota }

// Cacheable reports whether the route caches anything at all.
func (c *Cache) Cacheable(route string) bool { return len(c.ttls[route]) > 0 }

func (c *Cache) scope(tenant string) string {
	if g := c.tenants[tenant].ShareGroup; g != "" {
		return "group:" + g
	}
	return "tenant:" + tenant
}

func (c *Cache) gen(scope string) *atomic.Uint64 {
	c.genMu.RLock()
	g := c.gens[scope]
	c.genMu.RUnlock()
	if g != nil {
		return g
	}
	c.genMu.Lock()
	defer c.genMu.Unlock()
	if g = c.gens[scope]; g == nil {
		g = new(atomic.Uint64)
		c.gens[scope] = g
	}
	return g
}

// writeField writes a length-prefixed field, so ("ab","c") and ("a","bc")
// never hash alike.
func writeField(h hash.Hash, b []byte, s string) []byte {
	b = binary.AppendUvarint(b[:0], uint64(len(s)))
	b = append(b, s...)
	h.Write(b)
	return b
}

// identity is the keyed hash of a (name, ID number) pair, shared by every
// tenant and route so one purge covers all of them.
func (c *Cache) identity(name, idCard string) (id [16]byte) {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	var buf [80]byte
	b := writeField(h, buf[:0], "identity")
	b = writeField(h, b, name)
	writeField(h, b, idCard)
	var sum [sha256.Size]byte
	copy(id[:], h.Sum(sum[:0]))
	c.macs.Put(h)
	return id
}

// Key computes the lookup of a plaintext request; ok is false for requests
// the cache must not answer (encrypted fields: the gateway cannot read
// them, so it cannot tell two of them apart).
func (c *Cache) Key(tenant, route string, r *contracts.CheckRequest) (l Lookup, ok bool) {
	if r.Encryption != nil || !c.Cacheable(route) {
		return Lookup{}, false
	}
	l.identity = c.identity(r.Name, r.IDCard)
	scope := c.scope(tenant)
	gen := c.gen(scope).Load()
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	var buf [80]byte
	b := writeField(h, buf[:0], "answer")
	b = writeField(h, b, scope)
	b = writeField(h, b, strconv.FormatUint(gen, 10))
	b = writeField(h, b, route)
	b = writeField(h, b, string(l.identity[:]))
	b = writeField(h, b, r.ValidityBegin)
	b = writeField(h, b, r.ValidityEnd)
	writeField(h, b, r.ImageURL)
	var kb [sha256.Size + 16]byte
	h.Sum(kb[:0])
	copy(kb[sha256.Size:], l.identity[:])
	l.Key = string(kb[:])
	l.at = c.now()
	c.macs.Put(h)
	return l, true
}

// Get returns a stored answer: from this process, else from the shared
// second level (which then fills this process's).
func (c *Cache) Get(l Lookup) (body []byte, result string, ok bool) {
	body, result, ok = c.peek(l)
	if !ok && c.l2 != nil {
		body, result, ok = c.l2.get(l)
	}
	if !ok {
		c.misses.Add(1)
		return nil, "", false
	}
	c.hits.Add(1)
	return body, result, true
}

// peek is Get without counting (the flight's re-check of a counted miss).
func (c *Cache) peek(l Lookup) (body []byte, result string, ok bool) {
	e, ok := c.rc.Get(l.Key)
	if ok && c.tombCount.Load() > 0 {
		c.tombMu.RLock()
		t, dead := c.tombs[e.identity]
		c.tombMu.RUnlock()
		if dead && e.stored <= t {
			c.rc.Del(l.Key)
			ok = false
		}
	}
	if !ok {
		return nil, "", false
	}
	return e.body, e.result, true
}

// Put offers an answer with its result code; only the route's cacheable
// codes are kept. The body is copied. It reports whether the answer was
// offered (ristretto may still decline to admit it).
func (c *Cache) Put(l Lookup, route, result string, body []byte) bool {
	ttl, ok := c.ttls[route][result]
	if !ok || l.Key == "" {
		return false
	}
	c.stores.Add(1)
	if l.at.IsZero() {
		l.at = c.now()
	}
	// Stamped with when it was asked for: a purge of the pair since then
	// (its tombstone) covers it.
	offered := c.fill(l, result, body, ttl, l.at)
	if c.l2 != nil {
		c.l2.put(l, result, body, ttl)
	}
	return offered
}

// fill stores a copy of an answer in this process's level, stamped as
// stored at (compared with the pair's tombstone).
func (c *Cache) fill(l Lookup, result string, body []byte, ttl time.Duration, at time.Time) bool {
	code, ok := c.codes[result]
	if !ok {
		code = result
	}
	e := &entry{body: append([]byte(nil), body...), result: code, identity: l.identity, stored: at.UnixNano()}
	return c.rc.SetWithTTL(l.Key, e, int64(len(l.Key)+len(e.body))+entrySize+bookkeeping, ttl)
}

// PurgeTenant makes every entry of the tenant's scope unreachable (with a
// share group, the whole group's). With the shared level the purge goes
// through Redis and reaches every replica; an error means it was not
// applied anywhere (Redis did not answer): retry.
func (c *Cache) PurgeTenant(tenant string) error {
	scope := c.scope(tenant)
	if c.l2 == nil {
		c.gen(scope).Add(1)
		return nil
	}
	g, err := c.l2.purgeScope(scope, c.gen(scope).Load())
	if err != nil {
		return err
	}
	c.raiseGen(scope, g)
	return nil
}

// raiseGen moves a scope's generation up to g (never down): generations
// of a fleet come from Redis, totally ordered, so an older purge's is
// already covered by a newer one.
func (c *Cache) raiseGen(scope string, g uint64) {
	a := c.gen(scope)
	for {
		cur := a.Load()
		if g <= cur || a.CompareAndSwap(cur, g) {
			return
		}
	}
}

// PurgeIdentity drops every entry of a (name, ID number) pair, in every
// tenant and route. With the shared level the purge also deletes the
// pair's entries in Redis and reaches every replica; an error means Redis
// did not answer (only this replica purged): retry.
func (c *Cache) PurgeIdentity(name, idCard string) error {
	id := c.identity(name, idCard)
	var err error
	if c.l2 != nil {
		// Redis first: a miss refilled from the shared level between the
		// tombstone and the delete would outlive the tombstone.
		err = c.l2.purgeIdentity(id)
	}
	c.tombstone(id)
	return err
}

// tombstone makes the pair's entries stored until now misses.
func (c *Cache) tombstone(id [16]byte) {
	now := c.now().UnixNano()
	c.tombMu.Lock()
	defer c.tombMu.Unlock()
	if len(c.tombs) >= maxTombstones {
		// Tombstones older than the longest TTL cover nothing any more.
		horizon := now - int64(c.maxTTL)
		for k, t := range c.tombs {
			if t < horizon {
				delete(c.tombs, k)
			}
		}
		if len(c.tombs) >= maxTombstones {
			c.rc.Clear()
			clear(c.tombs)
		}
	}
	c.tombs[id] = now
	c.tombCount.Store(int64(len(c.tombs)))
}

// Stats is a snapshot for the admin API.
type Stats struct {
	Hits      int64 `json:"hits"`
	Misses    int64 `json:"misses"`
	Stores    int64 `json:"stores"`
	Evictions int64 `json:"evictions"`
	Rejected  int64 `json:"rejected"`
	CostBytes int64 `json:"cost_bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	// Shared is the second level's (absent when off).
	Shared *SharedStats `json:"shared,omitempty"`
}

// Stats reads the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stores: c.stores.Load(), Evictions: c.evictions.Load(),
		Rejected: c.rejected.Load(), CostBytes: c.rc.MaxCost() - c.rc.RemainingCost(), MaxBytes: c.rc.MaxCost(),
		Shared: c.l2.stats()}
}
