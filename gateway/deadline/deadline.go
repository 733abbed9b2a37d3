// Package deadline wraps a connection so that moving its deadlines later
// costs nothing until they matter.
//
// fasthttp sets three deadlines per request on every served connection
// (idle, read, write) and two per upstream call, each a fresh "now +
// timeout" that is later than the one before. Every set takes the
// runtime poller's lock and re-arms a timer; under load that was 3–4% of
// the gateway's CPU, a cost the bare proxy it is measured against does not
// pay. A Conn records a later deadline and only arms it when the earlier
// one fires: the blocked Read or Write then re-arms the wanted deadline
// and carries on. A deadline moved earlier is armed at once. So a Read or
// Write fails exactly when the last deadline set says, as with the
// wrapped connection, while a busy connection re-arms about once per
// timeout instead of several times per request.
package deadline

import (
	"errors"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a net.Conn with lazily armed deadlines.
type Conn struct {
	net.Conn
	read, write side
	// closed makes setting a deadline fail after Close, as it does on the
	// wrapped connection without touching the poller. fasthttp relies on
	// it: a request read just as shutdown closed its idle connection is
	// dropped at the deadline that follows the read, before it is served
	// (and billed) with nobody left to receive the answer.
	closed atomic.Bool
}

// side is the state of one direction. Deadlines are unix nanoseconds,
// never (math.MaxInt64) for none. armed is only ever at or before want,
// so the wrapped connection never times out later than asked.
type side struct {
	want  atomic.Int64
	armed atomic.Int64
	mu    sync.Mutex // serialises arming, the slow path
}

const never = math.MaxInt64

// Wrap returns c with lazily armed deadlines. c must have no deadline set.
func Wrap(c net.Conn) *Conn {
	w := &Conn{Conn: c}
	for _, s := range []*side{&w.read, &w.write} {
		s.want.Store(never)
		s.armed.Store(never)
	}
	return w
}

// The deadlines a nanosecond count can hold (years 1677 to 2262); UnixNano
// is undefined beyond them.
var earliest, latest = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func nanos(t time.Time) int64 {
	switch {
	case t.IsZero() || !t.Before(latest):
		return never // centuries away: no deadline in effect
	case t.Before(earliest):
		return math.MinInt64 // long past: fails at once, as it should
	}
	return t.UnixNano()
}

// timeOf is nanos' inverse: never is the zero time (no deadline).
func timeOf(n int64) time.Time {
	if n == never {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.errClosed()
	}
	return c.read.set(nanos(t), c.Conn.SetReadDeadline)
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.errClosed()
	}
	return c.write.set(nanos(t), c.Conn.SetWriteDeadline)
}

// Close implements net.Conn.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// errClosed is the wrapped connection's own answer for a closed socket.
func (c *Conn) errClosed() error {
	return &net.OpError{Op: "set", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: net.ErrClosed}
}

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (s *side) set(want int64, arm func(time.Time) error) error {
	s.want.Store(want)
	if want >= s.armed.Load() {
		return nil // later: armed when the current one fires
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want >= s.armed.Load() {
		return nil
	}
	s.armed.Store(want)
	return arm(timeOf(want))
}

// rearm is called after an operation timed out: when the deadline wanted
// now is later than the one that fired, it arms it and reports true (try
// again).
func (s *side) rearm(arm func(time.Time) error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	want, armed := s.want.Load(), s.armed.Load()
	if want <= armed || want <= time.Now().UnixNano() {
		return false
	}
	if arm(timeOf(want)) != nil {
		return false
	}
	s.armed.Store(want)
	return true
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !c.read.rearm(c.Conn.SetReadDeadline) {
			return n, err
		}
	}
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	written := 0
	for {
		n, err := c.Conn.Write(b[written:])
		written += n
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !c.write.rearm(c.Conn.SetWriteDeadline) {
			return written, err
		}
	}
}
