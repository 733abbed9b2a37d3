package fieldcrypto

import (
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// BenchmarkSealerReuse is the sender's cost per request: a fresh wrapped
// key (SealRequest) against a Sealer reusing one within its bounds (reuse
// also allocates less per request).
func BenchmarkSealerReuse(b *testing.B) {
	fx := newFixture(b, nil)
	for _, alg := range algorithms {
		b.Run(string(alg)+"/fresh", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := contracts.CheckRequest{Name: samples[0].Name, IDCard: samples[0].IDCard}
				if _, err := SealRequest(&req, fx.to[alg], AllFields); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/reused", func(b *testing.B) {
			s, err := NewSealer(fx.to[alg], ReusePolicy{Messages: DefaultReuseMessages, MaxAge: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				req := contracts.CheckRequest{Name: samples[0].Name, IDCard: samples[0].IDCard}
				if _, err := s.SealRequest(&req, AllFields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
