package cache

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/internal/testkit"
)

// fleet is n caches, each with its own connections, sharing one prefix:
// n replicas.
func fleet(t *testing.T, n int, mod func(*Config)) []*Cache {
	t.Helper()
	cfg := testkit.SharedStores(t, "", "")
	// Generous: the tests check the semantics on a loaded machine (-race).
	cfg.Redis.Timeout = 2 * time.Second
	var cs []*Cache
	for range n {
		cs = append(cs, attach(t, testkit.Conns(t, cfg), mod))
	}
	return cs
}

func attach(t *testing.T, conns *stores.Conns, mod func(*Config)) *Cache {
	t.Helper()
	c := newCache(t, func(cc *Config) {
		cc.Shared, cc.MaxBytes = true, 1<<20 // small: quick to build
		if mod != nil {
			mod(cc)
		}
	})
	stop, err := c.AttachShared(conns, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

var bob = contracts.CheckRequest{Name: "李四", IDCard: "440524188001010014"}

// eventually polls cond for up to a second.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within a second: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inL1 says whether c's own level holds the request's answer.
func inL1(t *testing.T, c *Cache, tenant string, r contracts.CheckRequest) bool {
	t.Helper()
	c.Wait()
	l, _ := c.Key(tenant, "check-2e", &r)
	_, _, ok := c.peek(l)
	return ok
}

func TestSharedLevel(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		run  func(t *testing.T, a, b *Cache)
	}{
		{"a put on one replica is a hit on another, which fills its own level", nil, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			if inL1(t, b, "acme", alice) {
				t.Fatal("b's own level holds a's entry before any lookup")
			}
			if res, hit := get(t, b, "acme", alice); !hit || res != "0" {
				t.Fatalf("b: %q %v", res, hit)
			}
			if !inL1(t, b, "acme", alice) {
				t.Fatal("the shared hit did not fill b's own level")
			}
			if s := b.Stats(); s.Hits != 1 || s.Shared == nil || s.Shared.Hits != 1 {
				t.Fatalf("stats %+v %+v", s, s.Shared)
			}
		}},
		{"tenants are isolated", nil, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			if _, hit := get(t, b, "globex", alice); hit {
				t.Fatal("globex sees acme's entry")
			}
			if s := b.Stats(); s.Shared.Misses != 1 {
				t.Fatalf("stats %+v", s.Shared)
			}
		}},
		{"a share group shares across replicas", func(c *Config) {
			c.Tenants = map[string]TenantConfig{"acme": {ShareGroup: "g"}, "globex": {ShareGroup: "g"}}
		}, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			if _, hit := get(t, b, "globex", alice); !hit {
				t.Fatal("globex (same group) misses acme's entry")
			}
		}},
		{"a tenant purge reaches the other replica's both levels", nil, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			put(t, a, "globex", alice, "0")
			get(t, b, "acme", alice) // fills b's own level
			if err := a.PurgeTenant("acme"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b misses acme's purged entry", func() bool { _, hit := get(t, b, "acme", alice); return !hit })
			if _, hit := get(t, b, "globex", alice); !hit {
				t.Fatal("globex lost by acme's purge")
			}
			// Both replicas compute the same keys again: a fresh answer
			// is shared.
			put(t, a, "acme", bob, "-1")
			if _, hit := get(t, b, "acme", bob); !hit {
				t.Fatal("an answer stored after the purge is not shared")
			}
		}},
		{"an answer asked for before an identity purge does not undo it", nil, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			// b asks upstream for alice (the lookup is taken before
			// the call), a purges her meanwhile, then b's answer comes.
			l, _ := b.Key("acme", "check-2e", &alice)
			time.Sleep(2 * time.Millisecond)
			if err := a.PurgeIdentity(alice.Name, alice.IDCard); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			b.Put(l, "check-2e", "0", []byte(`{"result":"0","description":"x"}`))
			b.Wait()
			if _, hit := get(t, a, "acme", alice); hit {
				t.Fatal("a serves alice: b's late answer recreated the purged shared entry")
			}
			eventually(t, "b got the purge", func() bool {
				b.tombMu.RLock()
				defer b.tombMu.RUnlock()
				_, ok := b.tombs[l.identity]
				return ok
			})
			if _, hit := get(t, b, "acme", alice); hit {
				t.Fatal("b serves alice from its own level after the purge")
			}
			c := attach(t, b.l2.conns, nil)
			if _, hit := get(t, c, "acme", alice); hit {
				t.Fatal("a third replica serves alice")
			}
		}},
		{"an identity purge reaches the other replica's both levels", nil, func(t *testing.T, a, b *Cache) {
			put(t, a, "acme", alice, "0")
			put(t, a, "acme", bob, "0")
			get(t, b, "acme", alice) // fills b's own level
			if err := a.PurgeIdentity(alice.Name, alice.IDCard); err != nil {
				t.Fatal(err)
			}
			eventually(t, "b misses alice", func() bool { _, hit := get(t, b, "acme", alice); return !hit })
			if _, hit := get(t, a, "acme", alice); hit {
				t.Fatal("a still serves alice")
			}
			if _, hit := get(t, b, "acme", bob); !hit {
				t.Fatal("bob lost by alice's purge")
			}
			// Past the tombstone and the purge marker's clock margin.
			time.Sleep(clockSkew + 20*time.Millisecond)
			put(t, b, "acme", alice, "0")
			if _, hit := get(t, a, "acme", alice); !hit {
				t.Fatal("a fresh answer after the purge is not shared")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fleet(t, 2, tc.mod)
			tc.run(t, cs[0], cs[1])
		})
	}
}

// A replica starting after purges computes the fleet's keys.
func TestSharedStartReadsGenerations(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	cfg.Redis.Timeout = 2 * time.Second
	a := attach(t, testkit.Conns(t, cfg), nil)
	for range 3 {
		if err := a.PurgeTenant("acme"); err != nil {
			t.Fatal(err)
		}
	}
	put(t, a, "acme", alice, "0")
	b := attach(t, testkit.Conns(t, cfg), nil)
	la, _ := a.Key("acme", "check-2e", &alice)
	lb, _ := b.Key("acme", "check-2e", &alice)
	if la.Key != lb.Key {
		t.Fatal("a starting replica does not compute the fleet's keys")
	}
	if _, hit := get(t, b, "acme", alice); !hit {
		t.Fatal("miss")
	}
}

// Redis down: lookups miss (counted), answers stay in the process's own
// level, purges are refused.
func TestSharedRedisDown(t *testing.T) {
	c := newCache(t, func(cc *Config) { cc.Shared, cc.MaxBytes = true, 1<<20 })
	cfg := stores.DefaultConfig()
	cfg.Redis.Prefix = "idgtest_down"
	conns := testkit.DownRedis(t, cfg)
	if _, err := c.AttachShared(conns, nil); err == nil {
		t.Fatal("attached without Redis")
	}
	// As if Redis went away after the start.
	c.l2 = &Shared{conns: conns, l1: c}
	start := time.Now()
	if _, hit := get(t, c, "acme", alice); hit {
		t.Fatal("hit from nowhere")
	}
	if !put(t, c, "acme", alice, "0") {
		t.Fatal("not stored")
	}
	if _, hit := get(t, c, "acme", alice); !hit {
		t.Fatal("the process's own level lost the answer")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	if s := c.Stats(); s.Shared.Errors != 2 || s.Misses != 1 || s.Hits != 1 {
		t.Fatalf("stats %+v %+v", s, s.Shared)
	}
	if err := c.PurgeTenant("acme"); err == nil {
		t.Fatal("a tenant purge that reached no one succeeded")
	}
	if _, hit := get(t, c, "acme", alice); !hit {
		t.Fatal("a refused tenant purge purged this replica (its keys would leave the fleet's)")
	}
	if err := c.PurgeIdentity(alice.Name, alice.IDCard); err == nil {
		t.Fatal("an identity purge that reached no one succeeded")
	}
	if _, hit := get(t, c, "acme", alice); hit {
		t.Fatal("an identity purge is not applied on this replica")
	}
}
