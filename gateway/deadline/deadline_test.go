package deadline

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"testing"
	"time"
)

// pair is a wrapped client end and the raw server end of a loopback TCP
// connection.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	w := Wrap(c)
	t.Cleanup(func() { w.Close(); peer.Close() })
	return w, peer
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

// noDeadline in a case's list clears the deadline (the zero time).
const noDeadline = time.Duration(-1)

// The deadlines a Read sees, in the order set, and when it must fail
// (relative to the start). When the last one clears the deadline the Read
// must not fail: the peer's bytes arrive at 300 ms. Bounds are loose: the
// machine is shared, and what is checked is which deadline applied.
func TestReadFailsAtTheLastDeadlineSet(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name     string
		set      []time.Duration // offsets from the start
		failNear time.Duration
	}{
		{"one deadline", []time.Duration{100 * ms}, 100 * ms},
		{"moved later before it fired", []time.Duration{100 * ms, 500 * ms}, 500 * ms},
		{"moved earlier", []time.Duration{5 * time.Second, 100 * ms}, 100 * ms},
		{"later, then earlier again", []time.Duration{100 * ms, 5 * time.Second, 150 * ms}, 150 * ms},
		{"cleared after a deadline", []time.Duration{100 * ms, noDeadline}, 0},
		{"already past", []time.Duration{-time.Second}, 0},
		// ~292 years ahead (the longest Duration): past what UnixNano holds.
		{"centuries ahead, then cleared", []time.Duration{math.MaxInt64, noDeadline}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := pair(t)
			start := time.Now()
			for _, d := range tc.set {
				var at time.Time
				if d != noDeadline {
					at = start.Add(d)
				}
				if err := c.SetReadDeadline(at); err != nil {
					t.Fatal(err)
				}
			}
			if tc.set[len(tc.set)-1] == noDeadline {
				time.AfterFunc(300*ms, func() { peer.Write([]byte("late")) })
				buf := make([]byte, 8)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "late" {
					t.Fatalf("read %q, %v; want the peer's bytes after the cleared deadline", buf[:n], err)
				}
				return
			}
			n, err := c.Read(make([]byte, 8))
			took := time.Since(start)
			if n != 0 || !isTimeout(err) {
				t.Fatalf("read %d, %v; want a timeout", n, err)
			}
			if took < tc.failNear-10*ms || took > tc.failNear+300*ms {
				t.Fatalf("timed out after %v, want about %v", took, tc.failNear)
			}
		})
	}
}

// A blocked Write whose deadline moved later keeps writing until the later
// one, and reports every byte it wrote across the re-arm.
func TestWriteFailsAtTheLastDeadlineSetAndCountsPartialWrites(t *testing.T) {
	c, peer := pair(t)
	big := bytes.Repeat([]byte("x"), 64<<20) // far beyond the socket buffers
	start := time.Now()
	c.SetWriteDeadline(start.Add(100 * time.Millisecond))
	c.SetWriteDeadline(start.Add(400 * time.Millisecond))
	n, err := c.Write(big)
	took := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("write: %v, want a timeout", err)
	}
	if took < 390*time.Millisecond || took > 2*time.Second {
		t.Fatalf("timed out after %v, want about 400ms", took)
	}
	// Everything written reaches the peer, and n says how much that was.
	c.Close()
	got, _ := io.Copy(io.Discard, peer)
	if got != int64(n) || n == 0 {
		t.Fatalf("Write reported %d bytes, the peer read %d", n, got)
	}
}

// A deadline set from another goroutine unblocks a Read in progress, as
// net.Conn promises (fasthttp's shutdown relies on it).
func TestDeadlineFromAnotherGoroutineUnblocksRead(t *testing.T) {
	c, _ := pair(t)
	c.SetReadDeadline(time.Now().Add(time.Hour))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.SetDeadline(time.Now())
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after the deadline moved to now")
	}
}

// A connection that keeps working re-arms rarely: moving the deadline later
// on every request must not reach the poller.
func TestLaterDeadlinesAreNotArmed(t *testing.T) {
	c, peer := pair(t)
	go io.Copy(peer, peer) // echo
	buf := make([]byte, 4)
	first := time.Now().Add(time.Minute)
	c.SetReadDeadline(first)
	for i := 0; i < 100; i++ {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.read.armed.Load(); got != first.UnixNano() {
		t.Fatalf("read deadline re-armed to %v, want the first one still armed", time.Unix(0, got))
	}
	if got := c.read.want.Load(); got <= first.UnixNano() {
		t.Fatal("the wanted deadline did not move")
	}
}

// After Close, setting a deadline fails as on the wrapped connection, even
// one that would only have been recorded (see Conn.closed).
func TestSetDeadlineAfterCloseFails(t *testing.T) {
	c, _ := pair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	c.Close()
	for name, set := range map[string]func(time.Time) error{"read": c.SetReadDeadline, "write": c.SetWriteDeadline} {
		if err := set(time.Now().Add(time.Hour)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s deadline after Close: %v, want net.ErrClosed", name, err)
		}
	}
}

// Deadlines outside what a nanosecond count holds still mean what they say:
// far past fails at once, far future is no deadline.
func TestDeadlinesBeyondUnixNano(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		want int64
	}{
		{"the year 1066", time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC), math.MinInt64},
		{"the year 5000", time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC), never},
		{"zero", time.Time{}, never},
		{"now", time.Unix(1700000000, 5), 1700000000_000000005},
	}
	for _, tc := range cases {
		if got := nanos(tc.at); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	c, _ := pair(t)
	c.SetReadDeadline(time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) || time.Since(start) > time.Second {
		t.Fatalf("read with a deadline in 1066: %v after %v, want an immediate timeout", err, time.Since(start))
	}
}
