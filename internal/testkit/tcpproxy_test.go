package testkit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line it reads with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes a line on c and reads the echo, within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func dialProxy(t *testing.T, p *TCPProxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestTCPProxy(t *testing.T) {
	p := StartTCPProxy(t, echoServer(t))

	c, r := dialProxy(t, p)
	if got, err := roundTrip(c, r, "hello", 2*time.Second); err != nil || got != "hello" {
		t.Fatalf("pass: %q %v", got, err)
	}

	// Slow: every chunk a delay late each way.
	p.Slow(100 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, r, "slow", 2*time.Second); err != nil || got != "slow" {
		t.Fatalf("slow: %q %v", got, err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("slow round trip took %s, want at least 200ms (100ms each way)", took)
	}

	// Stall: nothing comes back, on the open connection or a new one;
	// Restore delivers the held bytes in order.
	p.Stall()
	if got, err := roundTrip(c, r, "held", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("stall: %q %v, want a timeout", got, err)
	}
	c2, r2 := dialProxy(t, p)
	if got, err := roundTrip(c2, r2, "held2", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("stall, new connection: %q %v, want a timeout", got, err)
	}
	p.Restore()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after the stall: %q %v", got, err)
	}
	c2.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "held2\n" {
		t.Fatalf("after the stall, new connection: %q %v", got, err)
	}

	// Cut: the open connection ends, new ones are reset at once.
	p.Cut()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("cut: open connection read %v, want it closed", err)
	}
	// The listener stays bound: the dial itself may succeed before the
	// reset arrives.
	start = time.Now()
	if c3, err := net.Dial("tcp", p.Addr); err == nil {
		defer c3.Close()
		if got, err := roundTrip(c3, bufio.NewReader(c3), "refused", 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("cut: new connection answered %q %v, want it reset", got, err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("cut: the reset took %s", took)
	}

	// Restore: new connections work again.
	p.Restore()
	c4, r4 := dialProxy(t, p)
	if got, err := roundTrip(c4, r4, "back", 2*time.Second); err != nil || got != "back" {
		t.Fatalf("restored: %q %v", got, err)
	}
	if n := p.Accepted(); n != 4 {
		t.Fatalf("accepted %d connections, want 4", n)
	}
}

// A cut during a slow chunk drops it: nothing reaches the other side
// after Cut returns.
func TestTCPProxyCutDropsDelayedBytes(t *testing.T) {
	p := StartTCPProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	p.Slow(300 * time.Millisecond)
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "late\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	p.Cut()
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("read %q after a cut", got)
	}
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
