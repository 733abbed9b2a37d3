// Package ratelimit keeps one token bucket per API key
// (golang.org/x/time/rate) and reports the state the RateLimit-* headers
// expose. Buckets survive a reload: a key keeps its tokens and takes the new
// rate and burst.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Decision is the outcome of one Allow.
type Decision struct {
	Allowed bool
	// Limit is the bucket size (burst), Remaining the whole tokens left.
	Limit     int
	Remaining int
	// Reset is the time until the bucket is full again; RetryAfter, on a
	// refusal, the time until one token is available.
	Reset      time.Duration
	RetryAfter time.Duration
}

// Limiters holds the buckets by key id.
type Limiters struct{ m sync.Map }

// New returns an empty set of buckets.
func New() *Limiters { return &Limiters{} }

// Allow takes one token from key's bucket, creating or re-tuning it.
func (l *Limiters) Allow(keyID string, r float64, burst int, now time.Time) Decision {
	v, ok := l.m.Load(keyID)
	if !ok {
		v, _ = l.m.LoadOrStore(keyID, rate.NewLimiter(rate.Limit(r), burst))
	}
	lim := v.(*rate.Limiter)
	if lim.Limit() != rate.Limit(r) {
		lim.SetLimitAt(now, rate.Limit(r))
	}
	if lim.Burst() != burst {
		lim.SetBurstAt(now, burst)
	}
	ok = lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	d := Decision{Allowed: ok, Limit: burst, Remaining: max(0, int(math.Floor(tokens)))}
	if r > 0 {
		d.Reset = seconds((float64(burst) - tokens) / r)
		if !ok {
			d.RetryAfter = seconds((1 - tokens) / r)
		}
	}
	return d
}

func seconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// Prune forgets the buckets of keys for which keep is false (after reload).
func (l *Limiters) Prune(keep func(keyID string) bool) {
	l.m.Range(func(k, _ any) bool {
		if !keep(k.(string)) {
			l.m.Delete(k)
		}
		return true
	})
}
