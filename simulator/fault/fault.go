// Package fault breaks HTTP exchanges on purpose, the way real networks and
// half-dead upstreams do, so clients can prove they survive it. Every fault
// takes over the raw connection (fasthttp hijack) and never sends a
// well-formed response.
package fault

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Kind is one way of breaking a response.
type Kind uint8

// The faults, in the order stats and metrics list them. None is the zero
// value: no fault.
const (
	None Kind = iota
	// ConnectionReset aborts the connection with a TCP RST (SO_LINGER 0):
	// the client reads ECONNRESET.
	ConnectionReset
	// EmptyResponse closes the connection without sending a byte: the
	// client reads EOF where the status line should be.
	EmptyResponse
	// MalformedChunk sends a 200 status line and a chunked body whose
	// second chunk has an invalid size line, then closes.
	MalformedChunk
	// RandomThenClose sends bytes that are not HTTP, then closes.
	RandomThenClose
	// Hang reads and discards whatever the client sends and never answers,
	// until the client gives up or the injector's cap expires.
	Hang
	numKinds
)

var names = [numKinds]string{"", "connection_reset", "empty_response", "malformed_chunk", "random_then_close", "hang"}

// Kinds lists every real fault (None excluded) in a stable order.
var Kinds = []Kind{ConnectionReset, EmptyResponse, MalformedChunk, RandomThenClose, Hang}

// Count is the number of Kind values including None, for fixed-size tables.
const Count = int(numKinds)

// String is the fault's name as the Prefer header and the stats spell it.
func (k Kind) String() string {
	if k < numKinds {
		return names[k]
	}
	return "unknown"
}

// Parse resolves a fault name; "" and unknown names report false.
func Parse(s string) (Kind, bool) {
	for i := 1; i < int(numKinds); i++ {
		if names[i] == s {
			return Kind(i), true
		}
	}
	return None, false
}

// ParseBytes is Parse for a header value, without allocating.
func ParseBytes(b []byte) (Kind, bool) {
	for i := 1; i < int(numKinds); i++ {
		if names[i] == string(b) {
			return Kind(i), true
		}
	}
	return None, false
}

// Injector performs faults and remembers hanging connections so a server
// shutting down can release them instead of waiting for MaxHang.
type Injector struct {
	// MaxHang caps how long a Hang fault holds a connection.
	MaxHang time.Duration

	mu     sync.Mutex
	hung   map[net.Conn]struct{}
	closed bool
}

// NewInjector returns an injector whose hangs last at most maxHang.
func NewInjector(maxHang time.Duration) *Injector {
	return &Injector{MaxHang: maxHang, hung: make(map[net.Conn]struct{})}
}

// Inject makes the current request end in fault k. The handler must return
// right after: fasthttp runs the fault on the hijacked connection once the
// handler is done, and sends no response of its own. seed drives the
// random bytes of RandomThenClose so a replayed test sees the same garbage.
func (in *Injector) Inject(ctx *fasthttp.RequestCtx, k Kind, seed uint64) {
	// The raw connection, not the hijack wrapper: SO_LINGER needs the
	// *net.TCPConn underneath.
	raw := ctx.Conn()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		switch k {
		case ConnectionReset:
			reset(raw, c)
		case EmptyResponse:
			_ = c.Close()
		case MalformedChunk:
			malformedChunk(c)
		case RandomThenClose:
			randomThenClose(c, seed)
		case Hang:
			in.hang(c)
		default:
			_ = c.Close()
		}
	})
}

// reset closes with SO_LINGER 0, which makes the kernel send RST instead of
// FIN. Connections that are not TCP (in-memory listeners in benchmarks)
// can only be closed.
func reset(raw, c net.Conn) {
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
		_ = tc.Close()
		return
	}
	_ = c.Close()
}

// malformedChunk starts a plausible 200 answer and breaks it in the body,
// after the client has committed to the status: a gateway must not bill or
// cache what it could not read.
func malformedChunk(c net.Conn) {
	w := bufio.NewWriter(c)
	_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
	_, _ = w.WriteString("c\r\n{\"result\":\"0\r\n")
	// "zz" is not a hexadecimal chunk size.
	_, _ = w.WriteString("zz\r\n\",\"description\"\r\n")
	_ = w.Flush()
	_ = c.Close()
}

// randomThenClose writes non-HTTP bytes terminated by CRLF, so the client
// fails on parsing the status line rather than waiting for more.
func randomThenClose(c net.Conn, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6661756c74))
	b := make([]byte, 64, 66)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	// Never let the garbage start like a status line.
	if b[0] == 'H' {
		b[0] = 0
	}
	b = append(b, '\r', '\n')
	_, _ = c.Write(b)
	_ = c.Close()
}

func (in *Injector) hang(c net.Conn) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		_ = c.Close()
		return
	}
	in.hung[c] = struct{}{}
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(in.hung, c)
		in.mu.Unlock()
		_ = c.Close()
	}()
	// Reading (rather than sleeping) notices a client that gives up: its
	// close ends the read at once.
	_ = c.SetReadDeadline(time.Now().Add(in.MaxHang))
	_, _ = io.Copy(io.Discard, c)
}

// Hanging is the number of connections currently held by Hang.
func (in *Injector) Hanging() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.hung)
}

// Close releases every hanging connection and makes later hangs close at
// once; servers call it when shutting down.
func (in *Injector) Close() {
	in.mu.Lock()
	in.closed = true
	conns := make([]net.Conn, 0, len(in.hung))
	for c := range in.hung {
		conns = append(conns, c)
	}
	in.mu.Unlock()
	for _, c := range conns {
		// fasthttp's hijacked connection ignores Close (it closes the
		// connection itself when the fault returns); an expired read
		// deadline ends the hang's read either way.
		_ = c.SetReadDeadline(time.Now())
		_ = c.Close()
	}
}
