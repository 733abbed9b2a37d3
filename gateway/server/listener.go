package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/gateway/deadline"
)

// trackingListener remembers accepted connections that have not sent a
// byte yet. fasthttp's graceful shutdown waits for such connections until
// their read timeout, and HTTP clients routinely hold a few (dialled in a
// race, then parked unused), so SIGTERM would stall for the read timeout.
// Shutdown closes them; connections carrying a request are left to finish.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newTrackingListener(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, conns: map[*trackedConn]struct{}{}}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// Lazily armed deadlines: fasthttp moves three per request
	// (gateway/deadline).
	tc := &trackedConn{Conn: deadline.Wrap(c), l: l, accepted: time.Now()}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

// closeUnused closes connections older than age that never sent a byte.
func (l *trackingListener) closeUnused(age time.Duration) {
	cutoff := time.Now().Add(-age)
	var victims []*trackedConn
	l.mu.Lock()
	for c := range l.conns {
		if !c.used.Load() && c.accepted.Before(cutoff) {
			victims = append(victims, c)
		}
	}
	l.mu.Unlock()
	for _, c := range victims {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l        *trackingListener
	accepted time.Time
	used     atomic.Bool
	once     sync.Once
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.used.Load() {
		c.used.Store(true)
		c.forget() // a used connection is fasthttp's to manage
	}
	return n, err
}

func (c *trackedConn) forget() {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
}

func (c *trackedConn) Close() error {
	c.forget()
	return c.Conn.Close()
}
