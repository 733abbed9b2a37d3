package cache

import (
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"github.com/idgate/idgate/gateway/upstream"
)

// Forwarder is the next step (retries, breaker, upstream client).
type Forwarder interface {
	Forward(r *upstream.Request, resp *fasthttp.Response) error
}

// Flight collapses concurrent identical cacheable requests (same
// FlightKey, the cache key) into one upstream call; the others wait for it
// and get a copy of its answer with Shared set, so the pipeline bills only
// the call that was made. golang.org/x/sync/singleflight is the Go team's
// implementation of exactly this (a leader's panic or Goexit handled); a
// hand-written map of waiters would repeat it.
//
// The leader stores a cacheable answer and waits until the cache shows it
// before the flight ends, and every leader first re-checks the cache: a
// request that missed just before the previous flight's answer became
// visible finds it there instead of calling again. Without both, a burst
// of identical requests paid the authority two or three times.
type Flight struct {
	next  Forwarder
	cache *Cache // nil: share calls, store nothing
	g     singleflight.Group
}

// NewFlight wraps next; c (may be nil) receives the leaders' answers.
func NewFlight(next Forwarder, c *Cache) *Flight { return &Flight{next: next, cache: c} }

// snapshot is the shared answer: the leader's pooled response is reused
// the moment it returns, so followers get copies.
type snapshot struct {
	status      int
	contentType []byte
	retryAfter  []byte
	body        []byte
	err         error
}

// Forward forwards r, sharing the call with identical concurrent requests
// when r.FlightKey is set.
func (f *Flight) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	if r.FlightKey == "" {
		return f.next.Forward(r, resp)
	}
	l, haveLookup := LookupFromKey(r.FlightKey)
	led := false
	v, _, _ := f.g.Do(r.FlightKey, func() (any, error) {
		if f.cache != nil && haveLookup {
			if body, _, ok := f.cache.peek(l); ok {
				return &snapshot{status: fasthttp.StatusOK, contentType: []byte("application/json"), body: body}, nil
			}
		}
		led = true
		if f.cache != nil {
			l.at = f.cache.now() // before asking: a purge from now on covers the answer
		}
		err := f.next.Forward(r, resp)
		s := &snapshot{err: err}
		if err == nil {
			s.status = resp.StatusCode()
			s.contentType = append([]byte(nil), resp.Header.ContentType()...)
			s.retryAfter = append([]byte(nil), resp.Header.Peek(fasthttp.HeaderRetryAfter)...)
			s.body = append([]byte(nil), resp.Body()...)
			f.store(l, haveLookup, r.Route, s)
		}
		return s, nil
	})
	if led {
		return v.(*snapshot).err
	}
	s := v.(*snapshot)
	r.Shared, r.Attempts = true, 0
	if s.err != nil {
		return s.err
	}
	resp.Reset()
	resp.SetStatusCode(s.status)
	resp.Header.SetContentTypeBytes(s.contentType)
	if len(s.retryAfter) > 0 {
		resp.Header.SetBytesV(fasthttp.HeaderRetryAfter, s.retryAfter)
	}
	resp.SetBody(s.body)
	return nil
}

// store keeps a 200 answer whose result is one of the route's cacheable
// codes (billed codes only, validated at load) and makes it visible.
func (f *Flight) store(l Lookup, ok bool, route string, s *snapshot) {
	if f.cache == nil || !ok || s.status != fasthttp.StatusOK {
		return
	}
	res, valid := upstream.ResultField(s.body)
	if !valid {
		return
	}
	if f.cache.Put(l, route, string(res), s.body) {
		f.cache.Wait()
	}
}
