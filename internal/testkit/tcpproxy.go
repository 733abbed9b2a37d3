package testkit

import (
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards TCP connections from a loopback port of its own to a
// target (a Redis or PostgreSQL server), so a test can break the network
// between the gateway and a store without touching the store:
//
//   - Cut closes every open connection and resets every new one at once
//     (the peer sees the connection refused or reset, as when the store's
//     host is gone);
//   - Stall keeps connections open and accepts new ones but forwards no
//     byte either way (a store that hangs: only timeouts notice);
//   - Slow(d) delays every chunk of bytes by d in each direction;
//   - Restore forwards normally again; bytes held by a stall are then
//     delivered in order.
//
// The listener stays bound throughout, so Restore can never lose the port
// to another process. Safe for concurrent use.
type TCPProxy struct {
	// Addr is the proxy's host:port; point the client here.
	Addr   string
	target string
	ln     net.Listener

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every mode change
	mode     proxyMode
	delay    time.Duration
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	accepted int
}

type proxyMode int

const (
	proxyPass proxyMode = iota
	proxyCut
	proxyStall
)

// StartTCPProxy listens on a free loopback port and forwards to target
// (host:port) until the test ends.
func StartTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: tcp proxy: %v", err)
	}
	p := &TCPProxy{Addr: ln.Addr().String(), target: target, ln: ln,
		changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Cut closes every connection through the proxy and resets new ones until
// Restore.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setMode(proxyCut, 0)
	for c := range p.conns {
		resetConn(c)
	}
}

// Stall holds every byte, in both directions, of open and new connections
// until Restore (or Cut).
func (p *TCPProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setMode(proxyStall, 0)
}

// Slow forwards every chunk of bytes d late, in both directions.
func (p *TCPProxy) Slow(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setMode(proxyPass, d)
}

// Restore forwards normally again.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setMode(proxyPass, 0)
}

// Accepted is the number of client connections accepted so far (reset
// ones included).
func (p *TCPProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy and closes every connection through it.
func (p *TCPProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	close(p.changed)
	p.mu.Unlock()
	p.wg.Wait()
}

// setMode switches the mode and wakes every pipe waiting on the old one;
// p.mu is held.
func (p *TCPProxy) setMode(m proxyMode, d time.Duration) {
	if p.closed {
		return
	}
	p.mode, p.delay = m, d
	close(p.changed)
	p.changed = make(chan struct{})
}

// resetConn closes c with an RST (linger 0) rather than a FIN, so the peer
// learns at once that the connection is gone.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		p.accepted++
		if p.closed || p.mode == proxyCut {
			p.mu.Unlock()
			resetConn(c)
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// serve connects c to the target and pipes both ways until either side
// closes or a Cut.
func (p *TCPProxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	p.mu.Lock()
	if err != nil || p.closed || p.mode == proxyCut {
		delete(p.conns, c)
		p.mu.Unlock()
		resetConn(c)
		if up != nil {
			up.Close()
		}
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c); done <- struct{}{} }()
	go func() { p.pipe(c, up); done <- struct{}{} }()
	<-done
	// One direction ended: end both (a half-closed store connection is of
	// no use to a client).
	c.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// pipe copies src to dst chunk by chunk, each chunk held while the proxy
// stalls and delayed while it is slow; it ends when either side fails or
// the proxy cuts.
func (p *TCPProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait blocks while the proxy stalls, sleeps the delay while it is slow,
// and reports false once it is cut or closed.
func (p *TCPProxy) wait() bool {
	for {
		p.mu.Lock()
		mode, delay, changed, closed := p.mode, p.delay, p.changed, p.closed
		p.mu.Unlock()
		switch {
		case closed || mode == proxyCut:
			return false
		case mode == proxyStall:
			<-changed
			continue
		case delay > 0:
			select {
			case <-time.After(delay):
				return true
			case <-changed:
				// A Cut must not deliver the chunk; anything else
				// (Restore, another delay) may, at once.
				continue
			}
		}
		return true
	}
}
