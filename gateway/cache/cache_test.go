package cache

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/upstream"
)

const keySecret = "0123456789abcdef-test-secret"

func newCache(t testing.TB, mod func(*Config)) *Cache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.KeySecret = keySecret
	if mod != nil {
		mod(&cfg)
	}
	routes := billing.DefaultRoutes()
	if err := validate(cfg, routes); err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, routes, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// validate is what loading the configuration checks of the cache section.
func validate(c Config, routes []billing.RouteConfig) error {
	return errors.Join(c.Validate(), c.ValidateRoutes(routes))
}

var alice = contracts.CheckRequest{Name: "张三", IDCard: "11010519491231002X"}

func put(t testing.TB, c *Cache, tenant string, r contracts.CheckRequest, result string) bool {
	t.Helper()
	l, ok := c.Key(tenant, "check-2e", &r)
	if !ok {
		t.Fatal("not cacheable")
	}
	stored := c.Put(l, "check-2e", result, []byte(`{"result":"`+result+`","description":"x"}`))
	c.Wait()
	return stored
}

func get(t testing.TB, c *Cache, tenant string, r contracts.CheckRequest) (string, bool) {
	t.Helper()
	l, ok := c.Key(tenant, "check-2e", &r)
	if !ok {
		t.Fatal("not cacheable")
	}
	_, res, hit := c.Get(l)
	return res, hit
}

func TestOnlyBilledDefinitiveCodesAreCached(t *testing.T) {
	c := newCache(t, nil)
	for _, tc := range []struct {
		result string
		cached bool
	}{
		{"0", true}, {"-1", true},
		{"-2", false}, {"-3", false}, {"-4", false}, {"-5", false}, {"-6", false}, {"-7", false}, {"", false}, {"42", false},
	} {
		t.Run("result"+tc.result, func(t *testing.T) {
			r := alice
			r.ValidityBegin = "r" + tc.result // a key of its own per case
			put(t, c, "acme", r, tc.result)
			res, hit := get(t, c, "acme", r)
			if hit != tc.cached || (hit && res != tc.result) {
				t.Fatalf("result %q: hit %v (%q), want cached %v", tc.result, hit, res, tc.cached)
			}
		})
	}
}

func TestConfigRefusesTransientCodes(t *testing.T) {
	for _, code := range []string{"-4", "-6", "-7", "-5", "99"} {
		cfg := DefaultConfig()
		cfg.Enabled, cfg.KeySecret = true, keySecret
		cfg.TTL = map[string]time.Duration{code: time.Hour}
		if err := validate(cfg, billing.DefaultRoutes()); err == nil || !strings.Contains(err.Error(), "billed code") {
			t.Errorf("code %s: err %v, want a refusal", code, err)
		}
	}
}

func TestTenantsIsolatedUnlessShared(t *testing.T) {
	c := newCache(t, func(cc *Config) {
		cc.Tenants = map[string]TenantConfig{"a1": {ShareGroup: "g"}, "a2": {ShareGroup: "g"}}
	})
	for _, tc := range []struct {
		writer, reader string
		hit            bool
	}{
		{"acme", "acme", true},
		{"acme", "other", false},
		{"other", "acme", false},
		{"a1", "a2", true},    // same share group
		{"a1", "acme", false}, // group vs its own tenant
		{"acme", "a1", false},
	} {
		r := alice
		r.ImageURL = "https://img/" + tc.writer + "-" + tc.reader
		put(t, c, tc.writer, r, "0")
		if _, hit := get(t, c, tc.reader, r); hit != tc.hit {
			t.Errorf("%s wrote, %s read: hit %v, want %v", tc.writer, tc.reader, hit, tc.hit)
		}
	}
}

func TestKeyCoversCanonicalRequest(t *testing.T) {
	c := newCache(t, nil)
	put(t, c, "acme", alice, "0")
	for name, mod := range map[string]func(*contracts.CheckRequest){
		"name":   func(r *contracts.CheckRequest) { r.Name = "李四" },
		"id":     func(r *contracts.CheckRequest) { r.IDCard = "440524188001010014" },
		"begin":  func(r *contracts.CheckRequest) { r.ValidityBegin = "20200101" },
		"end":    func(r *contracts.CheckRequest) { r.ValidityEnd = "00000000" },
		"image":  func(r *contracts.CheckRequest) { r.ImageURL = "https://x/y.jpg" },
		"splice": func(r *contracts.CheckRequest) { r.Name, r.IDCard = "张三1", "1010519491231002X" },
	} {
		r := alice
		mod(&r)
		if _, hit := get(t, c, "acme", r); hit {
			t.Errorf("changing %s still hits", name)
		}
	}
	if _, hit := get(t, c, "acme", alice); !hit {
		t.Fatal("the original request misses")
	}
	// The other route does not cache at all.
	if _, ok := c.Key("acme", "other-route", &alice); ok {
		t.Error("a route without ttls is cacheable")
	}
	enc := alice
	enc.Encryption = &contracts.Encryption{}
	if _, ok := c.Key("acme", "check-2e", &enc); ok {
		t.Error("an encrypted request is cacheable")
	}
}

func TestKeyHoldsNoPlaintext(t *testing.T) {
	c := newCache(t, nil)
	l, _ := c.Key("acme", "check-2e", &alice)
	for _, s := range []string{alice.Name, alice.IDCard, alice.IDCard[:6], "acme"} {
		if strings.Contains(l.Key, s) || bytes.Contains(l.identity[:], []byte(s)) {
			t.Errorf("key contains %q", s)
		}
	}
	other := newCache(t, func(cc *Config) { cc.KeySecret = "another-secret-of-16+" })
	l2, _ := other.Key("acme", "check-2e", &alice)
	if l.Key == l2.Key {
		t.Error("the key does not depend on the secret")
	}
}

func TestPurgeTenantAndIdentity(t *testing.T) {
	c := newCache(t, nil)
	bob := contracts.CheckRequest{Name: "李四", IDCard: "440524188001010014"}
	put(t, c, "acme", alice, "0")
	put(t, c, "acme", bob, "-1")
	put(t, c, "other", alice, "0")

	c.PurgeIdentity(alice.Name, alice.IDCard)
	if _, hit := get(t, c, "acme", alice); hit {
		t.Error("alice still cached for acme after the pair purge")
	}
	if _, hit := get(t, c, "other", alice); hit {
		t.Error("alice still cached for other after the pair purge")
	}
	if _, hit := get(t, c, "acme", bob); !hit {
		t.Error("bob lost by alice's purge")
	}
	// Answers stored after the purge are served again.
	time.Sleep(time.Millisecond) // the tombstone's clock must move on
	put(t, c, "acme", alice, "0")
	if _, hit := get(t, c, "acme", alice); !hit {
		t.Error("a fresh answer after the purge is not served")
	}

	c.PurgeTenant("acme")
	if _, hit := get(t, c, "acme", bob); hit {
		t.Error("acme's entry survives the tenant purge")
	}
	put(t, c, "other", bob, "0")
	if _, hit := get(t, c, "other", bob); !hit {
		t.Error("other's entry lost by acme's purge")
	}
}

func TestBudgetBoundsCost(t *testing.T) {
	c := newCache(t, func(cc *Config) { cc.MaxBytes = 1 << 20 })
	for i := range 50_000 {
		r := alice
		r.ImageURL = "https://img/" + string(rune('a'+i%26)) + strings.Repeat("x", i%7) + itoa(i)
		l, _ := c.Key("acme", "check-2e", &r)
		c.Put(l, "check-2e", "0", []byte(`{"result":"0","description":"Name and ID card number are consistent"}`))
	}
	c.Wait()
	s := c.Stats()
	if s.CostBytes > s.MaxBytes {
		t.Fatalf("cost %d over budget %d", s.CostBytes, s.MaxBytes)
	}
	if s.Evictions == 0 && s.Rejected == 0 {
		t.Fatalf("50k answers in 1 MiB without eviction or rejection: %+v", s)
	}
}

func itoa(i int) string { return string(fasthttp.AppendUint(nil, i)) }

// fakeUpstream counts calls and answers after release is closed.
type fakeUpstream struct {
	calls   atomic.Int64
	release chan struct{}
}

func (f *fakeUpstream) Forward(r *upstream.Request, resp *fasthttp.Response) error {
	f.calls.Add(1)
	<-f.release
	r.Attempts = 1
	resp.SetStatusCode(200)
	resp.Header.SetContentType("application/json")
	resp.SetBodyString(`{"result":"0","description":"x"}`)
	return nil
}

func TestFlightCollapsesIdenticalMisses(t *testing.T) {
	up := &fakeUpstream{release: make(chan struct{})}
	f := NewFlight(up, nil)
	const n = 16
	var wg sync.WaitGroup
	var shared atomic.Int64
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			r := &upstream.Request{FlightKey: "k"}
			if err := f.Forward(r, resp); err != nil {
				t.Error(err)
			}
			if r.Shared {
				shared.Add(1)
				if r.Attempts != 0 {
					t.Error("a shared answer reports attempts")
				}
			}
			bodies[i] = string(resp.Body())
		}()
	}
	// Let the goroutines pile up on the flight, then answer.
	for up.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(up.release)
	wg.Wait()
	if got := up.calls.Load(); got+shared.Load() != n {
		t.Fatalf("%d calls + %d shared != %d requests", got, shared.Load(), n)
	}
	if up.calls.Load() >= n {
		t.Fatalf("no request was collapsed (%d calls)", up.calls.Load())
	}
	for _, b := range bodies {
		if b != `{"result":"0","description":"x"}` {
			t.Fatalf("body %q", b)
		}
	}
	// Without a flight key every request calls.
	before := up.calls.Load()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	_ = f.Forward(&upstream.Request{}, resp)
	_ = f.Forward(&upstream.Request{}, resp)
	if up.calls.Load() != before+2 {
		t.Fatal("requests without a flight key were collapsed")
	}
}
