// Package dailylimit counts verifications per ID number per calendar day,
// as the authority does before it answers "-7". Numbers are kept as keyed
// hashes, never in plain text, and the table is bounded.
package dailylimit

import (
	"hash/maphash"
	"sync"
	"time"
)

const shards = 64

// Limiter allows at most Limit verifications of one ID number per calendar
// day in its time zone. A zero Limiter is not usable; call New.
type Limiter struct {
	limit      uint32
	loc        *time.Location
	perShard   int
	seed       maphash.Seed
	shards     [shards]shard
	untrackedN func() // called when a number could not be tracked (table full)
}

type shard struct {
	mu     sync.Mutex
	day    int64
	counts map[uint64]uint32
	_      [40]byte // keep shards on separate cache lines
}

// New returns a limiter of limit per number per day, days starting at
// midnight in loc. maxTracked bounds the numbers remembered per day: once
// full, new numbers are allowed without being counted (fail open: the
// simulator must not invent "-7" answers for a load test that merely uses
// many identities). onUntracked, if not nil, is told each time.
func New(limit int, loc *time.Location, maxTracked int, onUntracked func()) *Limiter {
	if loc == nil {
		loc = time.UTC
	}
	per := maxTracked / shards
	if per < 1 {
		per = 1
	}
	l := &Limiter{limit: uint32(limit), loc: loc, perShard: per, seed: maphash.MakeSeed(), untrackedN: onUntracked}
	for i := range l.shards {
		l.shards[i].counts = make(map[uint64]uint32)
	}
	return l
}

// Allow counts one verification of id at now and reports whether it is
// within the limit. Refused verifications do not count.
func (l *Limiter) Allow(id string, now time.Time) bool {
	h := maphash.String(l.seed, id)
	day := dayNumber(now, l.loc)
	s := &l.shards[h%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.day != day {
		clear(s.counts)
		s.day = day
	}
	n, ok := s.counts[h]
	if !ok && len(s.counts) >= l.perShard {
		if l.untrackedN != nil {
			l.untrackedN()
		}
		return true
	}
	if n >= l.limit {
		return false
	}
	s.counts[h] = n + 1
	return true
}

// Reset forgets every count.
func (l *Limiter) Reset() {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		clear(s.counts)
		s.mu.Unlock()
	}
}

// dayNumber is the calendar day of t in loc, counted from the Unix epoch.
func dayNumber(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	secs := t.Unix() + int64(off)
	d := secs / 86400
	if secs < 0 && secs%86400 != 0 {
		d--
	}
	return d
}
