package session

import (
	"testing"

	"github.com/idgate/idgate/contracts"
)

// BenchmarkCreate is dominated by rendering the QR code PNG.
func BenchmarkCreate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Seed = 1
	cfg.MaxSessions = 1 << 30
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatus is the tenant's poll, the hot path of a session.
func BenchmarkStatus(b *testing.B) {
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sess, _ := s.Create(tok, contracts.CreateSessionRequest{}, "", "http://sim.test")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Status(tok, sess.RequestID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
