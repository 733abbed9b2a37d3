package fieldcrypto

import (
	"crypto/rsa"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/idgate/idgate/contracts"
)

// The private-key unwrap dominates an encrypted request; these benchmarks
// measure it alone and inside a whole Open, so the gateway's figures can be
// compared with the floor (run with -benchmem; -cpu 1,2 for the parallel
// rates).

func benchRequest(b *testing.B, fx fixture, alg Algorithm) (contracts.Encryption, Fields, []byte) {
	sealed, _, enc := seal(b, fx.to[alg], samples[1], AllFields)
	blob, _ := b64.DecodeString(enc.CiphertextBlob)
	return enc, sealed, blob
}

func BenchmarkUnwrapRSA2048(b *testing.B) {
	fx := newFixture(b, nil)
	_, _, blob := benchRequest(b, fx, AES256CBC)
	priv := fx.ring.rsa[0].priv
	key := make([]byte, aesKeyLen)
	b.ReportAllocs()
	for b.Loop() {
		//lint:ignore SA1019 measuring the scheme's own primitive.
		if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, blob, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapRSA2048Parallel(b *testing.B) {
	fx := newFixture(b, nil)
	_, _, blob := benchRequest(b, fx, AES256CBC)
	priv := fx.ring.rsa[0].priv
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := make([]byte, aesKeyLen)
		for pb.Next() {
			//lint:ignore SA1019 measuring the scheme's own primitive.
			if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, blob, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUnwrapSM2(b *testing.B) {
	fx := newFixture(b, nil)
	_, _, blob := benchRequest(b, fx, SM4GCM)
	priv := fx.ring.sm2[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sm2.Decrypt(priv, blob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapSM2Parallel(b *testing.B) {
	fx := newFixture(b, nil)
	_, _, blob := benchRequest(b, fx, SM4GCM)
	priv := fx.ring.sm2[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sm2.Decrypt(priv, blob); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpen is the receiver's whole cost per request: parse, unwrap,
// decrypt both fields; "cached" is a client reusing its wrapped key.
func BenchmarkOpen(b *testing.B) {
	for _, alg := range algorithms {
		for _, cached := range []bool{false, true} {
			name := string(alg) + "/uncached"
			var cache *KeyCache
			if cached {
				name = string(alg) + "/cache-hit"
				cache = NewKeyCache(DefaultCacheEntries, DefaultCacheTTL)
			}
			b.Run(name, func(b *testing.B) {
				fx := newFixture(b, cache)
				enc, sealed, _ := benchRequest(b, fx, alg)
				if _, _, err := fx.ring.Open(&enc, sealed); err != nil {
					b.Fatal(detail(err))
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := fx.ring.Open(&enc, sealed); err != nil {
						b.Fatal(detail(err))
					}
				}
			})
		}
	}
}

// BenchmarkSealAnswer is the receiver sealing the answer's two fields.
func BenchmarkSealAnswer(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(string(alg), func(b *testing.B) {
			fx := newFixture(b, nil)
			enc, sealed, _ := benchRequest(b, fx, alg)
			plain, s, err := fx.ring.Open(&enc, sealed)
			if err != nil {
				b.Fatal(detail(err))
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Seal(plain, AllFields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealRequest is the client side (and the gateway towards the
// upstream): a fresh data key, wrapped with the public key, both fields.
func BenchmarkSealRequest(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(string(alg), func(b *testing.B) {
			fx := newFixture(b, nil)
			b.ReportAllocs()
			for b.Loop() {
				s, err := NewSession(fx.to[alg])
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Seal(samples[1], AllFields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
