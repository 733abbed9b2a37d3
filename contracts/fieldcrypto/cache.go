package fieldcrypto

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// KeyCache holds recently unwrapped data keys so that a client reusing a
// wrapped key skips the private-key operation, as the AWS Encryption SDK's
// caching materials manager does. It is bounded (least recently used
// entries go first) and short-lived (entries expire TTL after insertion,
// however often they are hit). Entries are keyed by SHA-256 of the ring's
// fingerprint, the algorithm and the blob. An entry holds what unwrapping
// the blob gave (the candidate data keys) and is stored as soon as the
// blob is unwrapped, before any field is decrypted: whether a blob is
// cached depends on the blob alone, never on the IV, padding or tags of
// the request that brought it, so a hit cannot serve as a padding oracle.
//
// A nil *KeyCache caches nothing. A hit is observably faster than a miss;
// that tells a prober only that someone sent the same blob recently, which
// a prober who has the blob already knows could have happened.
type KeyCache struct {
	ttl    time.Duration
	shards []cacheShard
	mask   uint64
	now    func() time.Time // tests replace it

	hits, misses, evictions atomic.Uint64
}

type cacheKey [32]byte

type cacheShard struct {
	mu         sync.Mutex
	capacity   int
	m          map[cacheKey]*cacheEntry
	head, tail *cacheEntry // head is the most recently used
}

type cacheEntry struct {
	k          cacheKey
	key        []byte
	expires    int64 // unix nanoseconds
	prev, next *cacheEntry
}

// Cache defaults, for configuration that leaves them unset.
const (
	DefaultCacheEntries = 10000
	DefaultCacheTTL     = 5 * time.Minute
)

// NewKeyCache returns a cache of at most maxEntries keys, each kept at most
// ttl. maxEntries <= 0 or ttl <= 0 returns nil: no caching.
func NewKeyCache(maxEntries int, ttl time.Duration) *KeyCache {
	if maxEntries <= 0 || ttl <= 0 {
		return nil
	}
	// Sharding only pays with many concurrent requests; small caches stay
	// one exact LRU.
	n := 1
	if maxEntries >= 1024 {
		n = 16
	}
	c := &KeyCache{ttl: ttl, shards: make([]cacheShard, n), mask: uint64(n - 1), now: time.Now}
	per := (maxEntries + n - 1) / n
	for i := range c.shards {
		c.shards[i].capacity = per
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
	}
	return c
}

// CacheStats are the cache's counters since it was made.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	Entries                 int
}

// Stats reads the counters (for metrics).
func (c *KeyCache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	s := CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Entries += len(sh.m)
		sh.mu.Unlock()
	}
	return s
}

func (c *KeyCache) shard(k cacheKey) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint64(k[:8])&c.mask]
}

// get returns a copy of the key cached under k.
func (c *KeyCache) get(k cacheKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	now := c.now().UnixNano()
	sh := c.shard(k)
	sh.mu.Lock()
	e := sh.m[k]
	if e == nil || now >= e.expires {
		if e != nil {
			sh.remove(e)
			c.evictions.Add(1)
		}
		sh.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	sh.toFront(e)
	key := append([]byte(nil), e.key...)
	sh.mu.Unlock()
	c.hits.Add(1)
	return key, true
}

func (c *KeyCache) put(k cacheKey, key []byte) {
	if c == nil {
		return
	}
	now := c.now().UnixNano()
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[k]; e != nil {
		// Same blob, same ring: same key. Keep the first expiry, so a
		// popular blob still leaves the cache after TTL.
		sh.toFront(e)
		return
	}
	// Expired entries at the cold end go first, then the least recently
	// used while full.
	for sh.tail != nil && (now >= sh.tail.expires || len(sh.m) >= sh.capacity) {
		sh.remove(sh.tail)
		c.evictions.Add(1)
	}
	e := &cacheEntry{k: k, key: append([]byte(nil), key...), expires: now + int64(c.ttl)}
	sh.m[k] = e
	sh.pushFront(e)
}

func (sh *cacheShard) remove(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(sh.m, e.k)
	clear(e.key) // the key may outlive the entry in garbage; not in the cache
}

func (sh *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *cacheShard) toFront(e *cacheEntry) {
	if sh.head == e {
		return
	}
	// unlink without touching the map
	e.prev.next = e.next
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	sh.pushFront(e)
}
