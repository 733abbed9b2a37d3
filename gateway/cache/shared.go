package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/gateway/stores"
)

// Shared is the cache's second level, in Redis, for a fleet of replicas:
// a miss of the process's own cache (the first level) asks Redis, and a
// hit there fills the first level; a stored answer goes to both.
//
// Layout, under the configured prefix (no personal data: only keyed
// hashes, as in memory):
//
//	cache:{i:<identity>}  hash: field = the entry's 32-byte HMAC (scope,
//	                      generation, route, request), value = version,
//	                      expiry, asked-at, result, body; one hash per
//	                      (name, ID number) keyed hash; field "purged" =
//	                      when the pair was last purged (unix ms)
//	cache:gen             hash: scope → generation
//	cache:purge           the channel every replica listens on
//
// A hit is one HGET. Purging a tenant increments its scope's generation in
// Redis and publishes it in the same script; every replica raises its own
// to it, so the scope's old keys (first and second level) can no longer
// be computed. Purging a pair replaces its hash by the purge marker (kept
// for at least the longest TTL) and publishes the pair's keyed hash; every
// replica tombstones it in its first level. An answer asked for before the
// purge (a replica's upstream call under way across it) cannot undo it:
// the put script refuses an entry not asked for after the marker (with a
// margin for the replicas' clocks), a lookup ignores entries asked for
// before it, and the first levels stamp entries with when they were asked
// for, so the tombstone covers them. A replica
// reads the generations when it starts; when its subscription is
// re-established (it may have missed purges) it reads them again and
// empties its first level. The generations are also re-read periodically.
//
// Redis failing, slow or behind an open breaker costs a lookup its
// second level only (counted as an error, served as a miss); a purge is
// refused (the caller retries) since it would not reach the fleet.
type Shared struct {
	conns    *stores.Conns
	l1       *Cache
	instance string // this replica's, to skip its own purge messages
	channel  string
	gensKey  string

	ps   *redis.PubSub
	stop chan struct{}
	done chan struct{}

	hits, misses, errors atomic.Int64
}

// SharedStats are the second level's counters.
type SharedStats struct {
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	Errors int64 `json:"errors"`
}

// resyncEvery bounds how long a replica can run on a generation it missed
// while its subscription was silently down.
const resyncEvery = 10 * time.Second

// AttachShared adds the second level on conns. It subscribes to the purge
// channel, then reads the fleet's generations (a purge published in
// between is seen either way), and fails when Redis does not answer: a
// replica unaware of a purge could read purged entries. close stops the
// subscription; call it before closing conns.
func (c *Cache) AttachShared(conns *stores.Conns, reg prometheus.Registerer) (close func() error, err error) {
	var id [8]byte
	rand.Read(id[:])
	s := &Shared{
		conns: conns, l1: c, instance: hex.EncodeToString(id[:]),
		channel: conns.Key("cache", "purge"), gensKey: conns.Key("cache", "gen"),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.ps = conns.Redis.Subscribe(ctx, s.channel)
	if _, err := s.ps.Receive(ctx); err != nil {
		s.ps.Close()
		return nil, fmt.Errorf("cache: redis: subscribe: %w", err)
	}
	if err := s.resync(ctx); err != nil {
		s.ps.Close()
		return nil, err
	}
	if reg != nil {
		counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "idgate", Subsystem: "gateway_cache", Name: name, Help: help},
				func() float64 { return float64(v.Load()) })
		}
		for _, col := range []prometheus.Collector{
			counter("shared_hits_total", "First-level misses answered from the shared (Redis) level.", &s.hits),
			counter("shared_misses_total", "First-level misses the shared level did not hold either.", &s.misses),
			counter("shared_errors_total", "Shared-level calls that failed or timed out (served as misses, not stored).", &s.errors),
		} {
			if err := reg.Register(col); err != nil {
				s.ps.Close()
				return nil, fmt.Errorf("cache: metrics: %w", err)
			}
		}
	}
	c.l2 = s
	go s.listen()
	return s.close, nil
}

func (s *Shared) close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	err := s.ps.Close()
	<-s.done
	if err != nil {
		return fmt.Errorf("cache: redis: unsubscribe: %w", err)
	}
	return nil
}

func (s *Shared) stats() *SharedStats {
	if s == nil {
		return nil
	}
	return &SharedStats{Hits: s.hits.Load(), Misses: s.misses.Load(), Errors: s.errors.Load()}
}

// entriesKey is the hash of one pair's entries.
func (s *Shared) entriesKey(identity [16]byte) string {
	return s.conns.Key("cache", "{i:"+hex.EncodeToString(identity[:])+"}")
}

// field is the entry's field: the HMAC part of the lookup key.
func field(l Lookup) string { return l.Key[:len(l.Key)-len(l.identity)] }

// purgedField holds a purged pair's marker in its hash (no entry field is
// this short).
const purgedField = "purged"

// clockSkew is the margin for the replicas' clocks (NTP keeps them within
// a few ms): an answer asked for within it after a pair's purge is not
// stored in the shared level (only in the asking replica's own).
const clockSkew = 100 * time.Millisecond

func (s *Shared) do(fn func(ctx context.Context) error) error {
	return s.conns.RedisGuard.Do(context.Background(), fn)
}

// get looks a first-level miss up and fills the first level on a hit.
func (s *Shared) get(l Lookup) (body []byte, result string, ok bool) {
	var vs []any
	err := s.do(func(ctx context.Context) error {
		var err error
		vs, err = s.conns.Redis.HMGet(ctx, s.entriesKey(l.identity), field(l), purgedField).Result()
		return err
	})
	if err != nil || len(vs) != 2 {
		s.errors.Add(1)
		return nil, "", false
	}
	v, _ := vs[0].(string)
	expires, at, result, body, ok := decodeEntry(v)
	ttl := time.Until(expires)
	if m, isMarker := vs[1].(string); isMarker {
		// An entry asked for before the pair's purge is purged.
		if purged, err := strconv.ParseInt(m, 10, 64); err != nil || at.UnixMilli() <= purged+clockSkew.Milliseconds() {
			ok = false
		}
	}
	if !ok || ttl <= 0 {
		s.misses.Add(1)
		return nil, "", false
	}
	s.hits.Add(1)
	s.l1.fill(l, result, body, ttl, at)
	return body, result, true
}

// putScript: KEYS[1] the pair's hash; ARGV[1] field, ARGV[2] value,
// ARGV[3] the entry's ttl in ms, ARGV[4] when it was asked for (unix ms),
// ARGV[5] the clock margin in ms. An entry not asked for after the pair's
// purge marker (plus the margin) is refused (0). The hash lives as long as
// its longest entry or marker; each entry carries its own expiry.
var putScript = redis.NewScript(`
local p = redis.call('HGET', KEYS[1], '` + purgedField + `')
if p and tonumber(ARGV[4]) <= tonumber(p) + tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

// put stores an answer for ttl; a failure is counted, not reported (the
// first level has it, the fleet asks upstream again).
func (s *Shared) put(l Lookup, result string, body []byte, ttl time.Duration) {
	v := encodeEntry(time.Now().Add(ttl), l.at, result, body)
	err := s.do(func(ctx context.Context) error {
		return putScript.Run(ctx, s.conns.Redis, []string{s.entriesKey(l.identity)}, field(l), v, ttl.Milliseconds(),
			l.at.UnixMilli(), clockSkew.Milliseconds()).Err()
	})
	if err != nil {
		s.errors.Add(1)
	}
}

// entryVersion leads an entry's value. An earlier format (no version, no
// asked-at time; its first byte was 0) reads as a miss.
const entryVersion = 1

// encodeEntry: version, expiry and asked-at (unix ms, 8 bytes each),
// result length-prefixed, body.
func encodeEntry(expires, at time.Time, result string, body []byte) []byte {
	b := make([]byte, 0, 17+binary.MaxVarintLen64+len(result)+len(body))
	b = append(b, entryVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(expires.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(len(result)))
	b = append(b, result...)
	return append(b, body...)
}

func decodeEntry(v string) (expires, at time.Time, result string, body []byte, ok bool) {
	if len(v) < 18 || v[0] != entryVersion {
		return time.Time{}, time.Time{}, "", nil, false
	}
	b := []byte(v[1:])
	expires = time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
	at = time.UnixMilli(int64(binary.BigEndian.Uint64(b[8:])))
	b = b[16:]
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return time.Time{}, time.Time{}, "", nil, false
	}
	return expires, at, string(b[n : n+int(l)]), b[n+int(l):], true
}

// purgeScopeScript: KEYS[1] the generations; ARGV[1] scope, ARGV[2] the
// caller's generation, ARGV[3] channel, ARGV[4] message head. The new
// generation is above the caller's even if Redis lost the hash, so the
// purge always takes.
var purgeScopeScript = redis.NewScript(`
local g = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if g <= tonumber(ARGV[2]) then
  g = tonumber(ARGV[2]) + 1
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', g))
end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. string.format('%d', g) .. ' ' .. ARGV[1])
return g
`)

// purgeScope bumps the scope's generation for the fleet and returns it.
func (s *Shared) purgeScope(scope string, local uint64) (uint64, error) {
	var g int64
	err := s.do(func(ctx context.Context) error {
		var err error
		g, err = purgeScopeScript.Run(ctx, s.conns.Redis, []string{s.gensKey}, scope, local, s.channel, "g "+s.instance).Int64()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cache: redis: purge tenant (not applied; retry): %w", err)
	}
	return uint64(g), nil
}

// purgeIdentityScript: KEYS[1] the pair's hash; ARGV[1] channel, ARGV[2]
// message, ARGV[3] the purge time (the caller's clock, unix ms), ARGV[4]
// the longest TTL in ms. The hash is replaced by the purge marker, the
// later of the caller's and Redis's clocks, kept for at least the longest
// TTL: no entry asked for before the purge can be stored or read after it.
var purgeIdentityScript = redis.NewScript(`
local t = redis.call('TIME')
local now = math.max(tonumber(ARGV[3]), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '` + purgedField + `', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), pttl))
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`)

// purgeIdentity deletes the pair's entries and tells the fleet.
func (s *Shared) purgeIdentity(id [16]byte) error {
	err := s.do(func(ctx context.Context) error {
		return purgeIdentityScript.Run(ctx, s.conns.Redis, []string{s.entriesKey(id)}, s.channel,
			"i "+s.instance+" "+hex.EncodeToString(id[:]), time.Now().UnixMilli(), max(s.l1.maxTTL, time.Second).Milliseconds()).Err()
	})
	if err != nil {
		return fmt.Errorf("cache: redis: purge identity (this replica only; retry): %w", err)
	}
	return nil
}

// resync raises every scope's generation to the fleet's.
func (s *Shared) resync(ctx context.Context) error {
	var gens map[string]string
	err := s.conns.RedisGuard.Do(ctx, func(ctx context.Context) error {
		var err error
		gens, err = s.conns.Redis.HGetAll(ctx, s.gensKey).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("cache: redis: read generations: %w", err)
	}
	for scope, v := range gens {
		if g, err := strconv.ParseUint(v, 10, 64); err == nil {
			s.l1.raiseGen(scope, g)
		}
	}
	return nil
}

// listen applies the fleet's purges until close.
func (s *Shared) listen() {
	defer close(s.done)
	ch := s.ps.ChannelWithSubscriptions()
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	resync := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.resync(ctx) // a failure is retried at the next tick
		cancel()
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			resync()
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				// Re-subscribed after a lost connection: purges may
				// have been missed. Generations are read again; a
				// missed pair purge cannot be known, so the first level
				// is emptied (the second still holds the live entries).
				if m.Kind == "subscribe" {
					s.l1.rc.Clear()
					resync()
				}
			case *redis.Message:
				s.apply(m.Payload)
			}
		}
	}
}

// apply applies one purge message of another replica:
//
//	g <instance> <generation> <scope>
//	i <instance> <identity hex>
func (s *Shared) apply(msg string) {
	kind, rest, _ := strings.Cut(msg, " ")
	from, rest, _ := strings.Cut(rest, " ")
	if from == s.instance {
		return
	}
	switch kind {
	case "g":
		gs, scope, ok := strings.Cut(rest, " ")
		if g, err := strconv.ParseUint(gs, 10, 64); ok && err == nil {
			s.l1.raiseGen(scope, g)
		}
	case "i":
		var id [16]byte
		if b, err := hex.DecodeString(rest); err == nil && len(b) == len(id) {
			copy(id[:], b)
			s.l1.tombstone(id)
		}
	}
}
