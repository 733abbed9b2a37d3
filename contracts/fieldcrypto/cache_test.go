package fieldcrypto

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// fakeClock is a hand-moved clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestCache(n int, ttl time.Duration) (*KeyCache, *fakeClock) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := NewKeyCache(n, ttl)
	c.now = clk.Now
	return c, clk
}

type request struct {
	enc    contracts.Encryption
	sealed Fields
}

func (r request) open(t *testing.T, ring *Keyring) error {
	t.Helper()
	enc := r.enc
	got, _, err := ring.Open(&enc, r.sealed)
	if err == nil && got != samples[0] {
		t.Fatalf("opened to %+v", got)
	}
	return err
}

func newRequest(t *testing.T, to Recipient) request {
	sealed, _, enc := seal(t, to, samples[0], AllFields)
	return request{enc: enc, sealed: sealed}
}

func TestKeyCache(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			t.Run("hit", func(t *testing.T) {
				c, _ := newTestCache(10, time.Minute)
				fx := newFixture(t, c)
				req := newRequest(t, fx.to[alg])
				for i := 0; i < 3; i++ {
					if err := req.open(t, fx.ring); err != nil {
						t.Fatal(detail(err))
					}
				}
				wantStats(t, c, CacheStats{Hits: 2, Misses: 1, Entries: 1})
			})
			t.Run("reuse with other fields", func(t *testing.T) {
				c, _ := newTestCache(10, time.Minute)
				fx := newFixture(t, c)
				s, err := NewSession(fx.to[alg])
				if err != nil {
					t.Fatal(err)
				}
				for i, plain := range samples {
					sealed, enc, _ := s.Seal(plain, AllFields)
					got, _, err := fx.ring.Open(&enc, sealed)
					if err != nil || got != plain {
						t.Fatalf("request %d: %s", i, detail(err))
					}
				}
				wantStats(t, c, CacheStats{Hits: 2, Misses: 1, Entries: 1})
			})
			t.Run("expiry", func(t *testing.T) {
				c, clk := newTestCache(10, time.Minute)
				fx := newFixture(t, c)
				req := newRequest(t, fx.to[alg])
				mustOpen(t, req, fx.ring)
				clk.Add(59 * time.Second)
				mustOpen(t, req, fx.ring) // hit; does not extend the life
				clk.Add(time.Second)
				mustOpen(t, req, fx.ring) // expired: miss, unwrapped again
				wantStats(t, c, CacheStats{Hits: 1, Misses: 2, Evictions: 1, Entries: 1})
			})
			t.Run("bound", func(t *testing.T) {
				c, _ := newTestCache(2, time.Hour)
				fx := newFixture(t, c)
				a, b, d := newRequest(t, fx.to[alg]), newRequest(t, fx.to[alg]), newRequest(t, fx.to[alg])
				mustOpen(t, a, fx.ring) // miss  [a]
				mustOpen(t, b, fx.ring) // miss  [b a]
				mustOpen(t, a, fx.ring) // hit   [a b]
				mustOpen(t, d, fx.ring) // miss, evicts b  [d a]
				mustOpen(t, a, fx.ring) // hit
				mustOpen(t, b, fx.ring) // miss, evicts d  [b a]
				wantStats(t, c, CacheStats{Hits: 2, Misses: 4, Evictions: 2, Entries: 2})
			})
			t.Run("fields do not decide caching", func(t *testing.T) {
				// Whether a blob is cached depends on the blob alone: a
				// request whose fields fail (bad padding, bad tag) caches
				// its blob's key exactly as one whose fields decrypt, so
				// a later request's timing cannot tell which it was.
				c, _ := newTestCache(10, time.Hour)
				fx := newFixture(t, c)
				req := newRequest(t, fx.to[alg])
				bad := req
				bad.sealed.Name = flip(bad.sealed.Name, -1)
				if bad.enc.TagList != nil {
					bad.enc.TagList = append([]string(nil), bad.enc.TagList...)
				}
				for i := 0; i < 2; i++ {
					checkErr(t, bad.open(t, fx.ring), ErrDecrypt)
				}
				wantStats(t, c, CacheStats{Hits: 1, Misses: 1, Entries: 1})
				mustOpen(t, req, fx.ring)
				// A cached key does not rescue tampered fields.
				checkErr(t, bad.open(t, fx.ring), ErrDecrypt)
				wantStats(t, c, CacheStats{Hits: 3, Misses: 1, Entries: 1})
			})
			t.Run("blobs that do not unwrap are not cached", func(t *testing.T) {
				c, _ := newTestCache(10, time.Hour)
				fx := newFixture(t, c)
				bad := newRequest(t, fx.to[alg])
				want := ErrUnwrap
				if alg == AES256CBC {
					// Above the modulus: the one RSA blob that does not
					// unwrap, a public property of the blob.
					bad.enc.CiphertextBlob = b64.EncodeToString(bytes.Repeat([]byte{0xff}, fx.ring.rsa[0].size))
					want = ErrBlob
				} else {
					bad.enc.CiphertextBlob = flip(bad.enc.CiphertextBlob, -1) // C2: C3 no longer matches
				}
				for i := 0; i < 2; i++ {
					checkErr(t, bad.open(t, fx.ring), want)
				}
				wantStats(t, c, CacheStats{Misses: 2})
			})
			t.Run("shared cache is scoped to the ring", func(t *testing.T) {
				c, _ := newTestCache(10, time.Hour)
				fx := newFixture(t, c)
				r, s := testKeys(t)
				other, err := NewKeyring(c, r[1], s[1])
				if err != nil {
					t.Fatal(err)
				}
				req := newRequest(t, fx.to[alg])
				mustOpen(t, req, fx.ring)
				// The other ring must not open it through the cache.
				if err := req.open(t, other); err == nil {
					t.Fatal("a ring without the key opened a request via the shared cache")
				}
			})
		})
	}
}

// During an RSA rotation every key of the blob's size is unwrapped and
// cached, whichever one the fields decrypt with: the work and the cache
// entry depend on the blob alone.
func TestKeyCacheRSARotation(t *testing.T) {
	r, _ := testKeys(t)
	c, _ := newTestCache(10, time.Hour)
	ring, err := NewKeyring(c, r[0], r[1])
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range r {
		req := newRequest(t, mustRecipient(t, &key.PublicKey))
		bad := req
		bad.sealed.Name = flip(bad.sealed.Name, -1)
		checkErr(t, bad.open(t, ring), ErrDecrypt) // miss: both keys unwrapped
		mustOpen(t, req, ring)                     // hit
		checkErr(t, bad.open(t, ring), ErrDecrypt) // hit
		wantStats(t, c, CacheStats{Hits: uint64(2 * (i + 1)), Misses: uint64(i + 1), Entries: i + 1})
	}
}

func mustOpen(t *testing.T, r request, ring *Keyring) {
	t.Helper()
	if err := r.open(t, ring); err != nil {
		t.Fatal(detail(err))
	}
}

func wantStats(t *testing.T, c *KeyCache, want CacheStats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

func TestKeyCacheDisabled(t *testing.T) {
	for _, c := range []struct {
		n   int
		ttl time.Duration
	}{{0, time.Minute}, {10, 0}, {-1, -1}} {
		if NewKeyCache(c.n, c.ttl) != nil {
			t.Errorf("NewKeyCache(%d, %v) is not nil", c.n, c.ttl)
		}
	}
	var c *KeyCache
	c.put(cacheKey{1}, []byte("k"))
	if _, ok := c.get(cacheKey{1}); ok {
		t.Error("nil cache hit")
	}
	if c.Stats() != (CacheStats{}) {
		t.Error("nil cache has stats")
	}
}

// A large cache is sharded; its bound holds across shards, and it stays
// consistent under concurrent use (run with -race).
func TestKeyCacheShardedConcurrent(t *testing.T) {
	c, _ := newTestCache(2048, time.Hour)
	if len(c.shards) < 2 {
		t.Fatalf("%d shards", len(c.shards))
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				var k cacheKey
				copy(k[:], fmt.Sprintf("%d-%d-padding-padding", w, i))
				k[0], k[1] = byte(i), byte(w)
				c.put(k, []byte{byte(i)})
				if got, ok := c.get(k); ok && got[0] != byte(i) {
					t.Errorf("wrong key for %x", k[:4])
				}
			}
		}(w)
	}
	wg.Wait()
	if s := c.Stats(); s.Entries > 2048 || s.Entries == 0 {
		t.Fatalf("entries %d", s.Entries)
	}
}
