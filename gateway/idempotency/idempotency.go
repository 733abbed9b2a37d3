// Package idempotency remembers the answers given to requests carrying an
// Idempotency-Key, so that a client retrying after a lost response gets the
// same answer without a second upstream call or charge.
//
// Keys are scoped per tenant. Only a SHA-256 fingerprint of the request
// (route and body) is kept, never the body: the same key with another
// fingerprint is refused. A duplicate that arrives while the first request
// is still running waits for it. Answers that cost nothing to recompute
// and may well change (the gateway's own failures: upstream errors, open
// breaker, rate limit, quota) are not stored: the in-flight record is
// abandoned and the next request with the key runs afresh.
package idempotency

import (
	"container/list"
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// Fingerprint identifies a request's content.
type Fingerprint [sha256.Size]byte

// NewFingerprint hashes the route and the body.
func NewFingerprint(route string, body []byte) Fingerprint {
	h := sha256.New()
	h.Write([]byte(route))
	h.Write([]byte{0})
	h.Write(body)
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// Answer is a stored response.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
	Result      string
}

// State of a Begin.
type State int

const (
	// Lead: no answer yet; the caller runs the request and must call
	// Complete or Abandon with the returned Claim.
	Lead State = iota
	// Replay: Answer holds the stored answer.
	Replay
	// Wait: another request with the key is running; wait on Done, then
	// call Begin again.
	Wait
	// Mismatch: the key was used with a different request.
	Mismatch
	// Full: the store is full of running requests; run without a record.
	Full
	// Unavailable: a shared store did not answer (Err says why); nothing
	// may run, since a retry could not be recognised.
	Unavailable
)

// Claim is the leader's handle on its record: Memory's record, or Redis's
// key and the running value only its leader knows (fingerprint and a
// random token).
type Claim struct {
	rec      *record
	redisKey string
	running  string
	until    time.Time // when the running record's lease ends, at the latest
}

// Result of Begin.
type Result struct {
	State  State
	Answer *Answer
	Done   <-chan struct{}
	Claim  Claim
	Err    error
}

type record struct {
	key     string
	fp      Fingerprint
	expires time.Time
	done    chan struct{}
	answer  *Answer // nil while running
	elem    *list.Element
}

// Memory is the in-process store, bounded by maxEntries.
type Memory struct {
	mu    sync.Mutex
	m     map[string]*record
	order *list.List // records by creation: expiry order, the TTL being fixed
	ttl   time.Duration
	max   int
	now   func() time.Time
}

// NewMemory builds a store keeping answers for ttl, at most maxEntries.
func NewMemory(ttl time.Duration, maxEntries int) *Memory {
	return &Memory{m: map[string]*record{}, order: list.New(), ttl: ttl, max: maxEntries, now: time.Now}
}

func scoped(tenant, key string) string { return tenant + "\x00" + key }

// Begin looks the tenant's key up.
func (s *Memory) Begin(tenant, key string, fp Fingerprint) Result {
	k := scoped(tenant, key)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if r, ok := s.m[k]; ok {
		switch {
		case r.fp != fp:
			return Result{State: Mismatch}
		case r.answer != nil:
			return Result{State: Replay, Answer: r.answer}
		default:
			return Result{State: Wait, Done: r.done}
		}
	}
	if len(s.m) >= s.max && !s.evictOne() {
		return Result{State: Full}
	}
	r := &record{key: k, fp: fp, expires: now.Add(s.ttl), done: make(chan struct{})}
	r.elem = s.order.PushBack(r)
	s.m[k] = r
	return Result{State: Lead, Claim: Claim{rec: r}}
}

// Complete stores the leader's answer and wakes the waiters. It keeps
// copies: the caller's body and content type may view a pooled response
// that is reused once the request ends.
func (s *Memory) Complete(c Claim, a Answer) {
	if c.rec == nil {
		return
	}
	a.Body = append([]byte(nil), a.Body...)
	a.ContentType = strings.Clone(a.ContentType)
	s.mu.Lock()
	c.rec.answer = &a
	s.mu.Unlock()
	close(c.rec.done)
}

// Abandon drops the leader's record without an answer and wakes the
// waiters; the next Begin leads afresh.
func (s *Memory) Abandon(c Claim) {
	if c.rec == nil {
		return
	}
	s.mu.Lock()
	if s.m[c.rec.key] == c.rec {
		delete(s.m, c.rec.key)
		s.order.Remove(c.rec.elem)
	}
	s.mu.Unlock()
	close(c.rec.done)
}

// Len is the number of records (tests, metrics).
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// expire drops records past their TTL (the front of the list first).
// A running record past its TTL stays until its leader finishes.
func (s *Memory) expire(now time.Time) {
	for e := s.order.Front(); e != nil; {
		r := e.Value.(*record)
		if now.Before(r.expires) {
			return
		}
		next := e.Next()
		if r.answer != nil {
			delete(s.m, r.key)
			s.order.Remove(e)
		}
		e = next
	}
}

// evictOne drops the oldest finished record.
func (s *Memory) evictOne() bool {
	for e := s.order.Front(); e != nil; e = e.Next() {
		r := e.Value.(*record)
		if r.answer != nil {
			delete(s.m, r.key)
			s.order.Remove(e)
			return true
		}
	}
	return false
}
