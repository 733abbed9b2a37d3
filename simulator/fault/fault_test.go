package fault

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	for _, k := range Kinds {
		got, ok := Parse(k.String())
		if !ok || got != k {
			t.Errorf("Parse(%q) = %v %v", k, got, ok)
		}
		if got, ok := ParseBytes([]byte(k.String())); !ok || got != k {
			t.Errorf("ParseBytes(%q) = %v %v", k, got, ok)
		}
	}
	for _, bad := range []string{"", "reset", "HANG", "none"} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if None.String() != "" || Kind(200).String() != "unknown" || len(Kinds) != Count-1 {
		t.Error("names table out of step")
	}
}

// TestHangReleasedByClose: a hanging connection ends when the injector
// closes (server shutdown), not after MaxHang.
func TestHangReleasedByClose(t *testing.T) {
	in := NewInjector(time.Minute)
	server, client := net.Pipe()
	done := make(chan struct{})
	go func() { in.hang(server); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for in.Hanging() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("hang never registered")
		}
		time.Sleep(time.Millisecond)
	}
	in.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging connection")
	}
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read %v, want EOF", err)
	}
	// After Close, new hangs end at once.
	s2, c2 := net.Pipe()
	defer c2.Close()
	in.hang(s2)
	if in.Hanging() != 0 {
		t.Error("hang after Close registered")
	}
}

func TestHangEndsWhenClientLeavesOrCapExpires(t *testing.T) {
	in := NewInjector(50 * time.Millisecond)
	server, client := net.Pipe()
	defer client.Close()
	start := time.Now()
	in.hang(server) // net.Pipe honours read deadlines
	if time.Since(start) < 50*time.Millisecond {
		t.Error("hang ended before its cap")
	}
	in = NewInjector(time.Minute)
	server, client = net.Pipe()
	done := make(chan struct{})
	go func() { in.hang(server); close(done) }()
	client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hang outlived its client")
	}
}

func TestRandomBytesAreSeededAndNotHTTP(t *testing.T) {
	read := func(seed uint64) []byte {
		server, client := net.Pipe()
		go randomThenClose(server, seed)
		b, _ := io.ReadAll(client)
		return b
	}
	a, b, c := read(1), read(1), read(2)
	if string(a) != string(b) || string(a) == string(c) {
		t.Error("random bytes do not follow the seed")
	}
	for seed := uint64(0); seed < 300; seed++ {
		if g := read(seed); g[0] == 'H' || len(g) != 66 || string(g[64:]) != "\r\n" {
			t.Fatalf("seed %d: %q", seed, g)
		}
	}
}
