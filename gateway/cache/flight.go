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
// FlightKey) into one upstream call; the others wait for it and get a copy
// of its answer with Shared set, so the pipeline bills only the call that
// was made. golang.org/x/sync/singleflight is the Go team's
// implementation of exactly this (panics and Goexit of the leader handled);
// a hand-written map of waiters would repeat it.
type Flight struct {
	next Forwarder
	g    singleflight.Group
}

// NewFlight wraps next.
func NewFlight(next Forwarder) *Flight { return &Flight{next: next} }

// snapshot is the shared answer: the leader's pooled response is reused
// the moment it returns, so followers get copies.
type snapshot struct {
	status      int
	contentType []byte
	retryAfter  []byte
	body        []byte
	attempts    int
	err         error
}

// Forward forwards r, sharing the call with identical concurrent requests
// when r.FlightKey is set.
func (f *Flight) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	if r.FlightKey == "" {
		return f.next.Forward(r, resp)
	}
	led := false
	v, _, _ := f.g.Do(r.FlightKey, func() (any, error) {
		led = true
		err := f.next.Forward(r, resp)
		s := &snapshot{err: err, attempts: r.Attempts}
		if err == nil {
			s.status = resp.StatusCode()
			s.contentType = append([]byte(nil), resp.Header.ContentType()...)
			s.retryAfter = append([]byte(nil), resp.Header.Peek(fasthttp.HeaderRetryAfter)...)
			s.body = append([]byte(nil), resp.Body()...)
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
