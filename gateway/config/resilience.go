package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Cache is the response cache (issue 4). Off by default: a cached answer
// changes what the ledger and the quota see, so it is a deliberate choice.
type Cache struct {
	Enabled bool `yaml:"enabled"`
	// MaxBytes bounds the cache: each entry costs its key, its stored answer
	// and the cache's own bookkeeping; the least valuable entries are evicted.
	MaxBytes int64 `yaml:"max_bytes"`
	// KeySecret keys the HMAC-SHA256 of cache keys, so memory never holds a
	// name or an ID number, nor an unkeyed hash of them (ID numbers are easy
	// to enumerate). KeySecretFile wins.
	KeySecret     string `yaml:"key_secret"`
	KeySecretFile string `yaml:"key_secret_file"`
	// TTL per result code, for every route that has no entry in Routes. Only
	// billed codes may be cached: a non-billed answer costs nothing to ask
	// again, and the transient ones (-4, -6, -7) must be asked again.
	// A ttl of 0s removes a default code (YAML merges into the defaults).
	TTL map[string]Duration `yaml:"ttl"`
	// Routes overrides TTL per route name; an empty map turns caching off
	// for that route.
	Routes map[string]map[string]Duration `yaml:"routes"`
	// Tenants: per-tenant cache policy; a tenant not listed gets the zero
	// value (own entries, hits not counted against its quota).
	Tenants map[string]CacheTenant `yaml:"tenants"`
}

// CacheTenant is one tenant's cache policy.
type CacheTenant struct {
	// CountQuota: cache hits consume a unit of the daily quota.
	CountQuota bool `yaml:"count_quota"`
	// ShareGroup: tenants with the same non-empty group see each other's
	// entries (the explicit opt-in to cross-tenant sharing).
	ShareGroup string `yaml:"share_group"`
}

// Retry is the upstream retry policy.
type Retry struct {
	// MaxAttempts counts the first call; 1 turns retries off.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff before attempt n is a random duration in
	// [b/2, b], b = min(MinBackoff·2^(n-1), MaxBackoff), or the upstream's
	// Retry-After when it asks for one (never beyond the deadline).
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// Deadline bounds all attempts and waits together; each attempt also
	// keeps upstream.timeout.
	Deadline Duration `yaml:"deadline"`
	// Results: non-billed 200 result codes worth asking again, for every
	// route not named in Routes (the authority's codes differ per API).
	Results []string            `yaml:"results"`
	Routes  map[string][]string `yaml:"routes"`
}

// Breaker is the upstream circuit breaker.
type Breaker struct {
	Enabled bool `yaml:"enabled"`
	// Opens when, within Window, at least MinRequests calls were made and
	// the share of failures reached FailureRatio.
	FailureRatio float64  `yaml:"failure_ratio"`
	MinRequests  uint32   `yaml:"min_requests"`
	Window       Duration `yaml:"window"`
	// OpenFor: how long it answers 503 at once before probing.
	OpenFor Duration `yaml:"open_for"`
	// HalfOpenProbes: calls let through while half-open; all must succeed
	// to close.
	HalfOpenProbes uint32 `yaml:"half_open_probes"`
}

// Idempotency is the Idempotency-Key store.
type Idempotency struct {
	Enabled bool     `yaml:"enabled"`
	TTL     Duration `yaml:"ttl"`
	// MaxEntries bounds the in-memory store; the oldest finished entries
	// go first when it is full.
	MaxEntries int `yaml:"max_entries"`
}

func baseCache() Cache {
	return Cache{
		MaxBytes: 512 << 20,
		TTL:      map[string]Duration{"0": Duration(24 * time.Hour), "-1": Duration(24 * time.Hour)},
		Routes:   map[string]map[string]Duration{},
		Tenants:  map[string]CacheTenant{},
	}
}

func baseRetry() Retry {
	return Retry{
		MaxAttempts: 3, MinBackoff: Duration(50 * time.Millisecond), MaxBackoff: Duration(time.Second),
		Deadline: Duration(8 * time.Second), Results: []string{"-4", "-6"}, Routes: map[string][]string{},
	}
}

func baseBreaker() Breaker {
	return Breaker{
		Enabled: true, FailureRatio: 0.5, MinRequests: 20, Window: Duration(10 * time.Second),
		OpenFor: Duration(5 * time.Second), HalfOpenProbes: 5,
	}
}

func baseIdempotency() Idempotency {
	return Idempotency{Enabled: true, TTL: Duration(24 * time.Hour), MaxEntries: 100_000}
}

// applyResilienceEnv reads IDGATE_GW_CACHE_* overrides.
func (c *Config) applyResilienceEnv(env func(string) (string, bool)) error {
	if v, ok := env(EnvPrefix + "CACHE_ENABLED"); ok {
		c.Cache.Enabled = v == "true" || v == "1"
	}
	if v, ok := env(EnvPrefix + "CACHE_KEY_SECRET"); ok {
		c.Cache.KeySecret = v
	}
	if v, ok := env(EnvPrefix + "CACHE_KEY_SECRET_FILE"); ok {
		c.Cache.KeySecretFile = v
	}
	return nil
}

func (c *Config) readResilienceSecrets() error {
	if c.Cache.KeySecretFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.Cache.KeySecretFile)
	if err != nil {
		return fmt.Errorf("read cache key secret: %w", err)
	}
	c.Cache.KeySecret = strings.TrimSpace(string(b))
	return nil
}

// CacheTTLs resolves the cacheable codes of a route.
func (c *Cache) CacheTTLs(route string) map[string]Duration {
	if m, ok := c.Routes[route]; ok {
		return m
	}
	return c.TTL
}

// RetryResults resolves the retried result codes of a route.
func (r *Retry) RetryResults(route string) []string {
	if m, ok := r.Routes[route]; ok {
		return m
	}
	return r.Results
}

func (c *Config) validateResilience() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	routes := map[string]Route{}
	for _, r := range c.Routes {
		routes[r.Name] = r
	}
	if c.Cache.Enabled {
		if c.Cache.MaxBytes < 1<<20 {
			bad("cache.max_bytes must be at least 1 MiB")
		}
		if len(c.Cache.KeySecret) < 16 {
			bad("cache.key_secret must be at least 16 bytes (set it, cache.key_secret_file or %sCACHE_KEY_SECRET)", EnvPrefix)
		}
		for name := range c.Cache.Routes {
			if _, ok := routes[name]; !ok {
				bad("cache.routes: unknown route %q", name)
			}
		}
		for _, r := range c.Routes {
			for _, code := range sortedKeys(c.Cache.CacheTTLs(r.Name)) {
				if c.Cache.CacheTTLs(r.Name)[code] == 0 {
					continue // 0s: not cached (YAML merges maps into the defaults)
				}
				res, ok := r.Results[code]
				if !ok || !res.Billed {
					bad("cache: route %q: result %q must be a billed code of its results table (only definitive, chargeable answers are cached)", r.Name, code)
				}
				if c.Cache.CacheTTLs(r.Name)[code] < 0 {
					bad("cache: route %q: result %q: negative ttl", r.Name, code)
				}
			}
		}
	}
	if c.Retry.MaxAttempts < 1 || c.Retry.MaxAttempts > 10 {
		bad("retry.max_attempts must be 1..10")
	}
	if c.Retry.MinBackoff <= 0 || c.Retry.MaxBackoff < c.Retry.MinBackoff {
		bad("retry: min_backoff must be positive and max_backoff at least min_backoff")
	}
	if c.Retry.Deadline <= 0 {
		bad("retry.deadline must be positive")
	}
	for name := range c.Retry.Routes {
		if _, ok := routes[name]; !ok {
			bad("retry.routes: unknown route %q", name)
		}
	}
	for _, r := range c.Routes {
		for _, code := range c.Retry.RetryResults(r.Name) {
			if res, ok := r.Results[code]; ok && res.Billed {
				bad("retry: route %q: result %q is billed; a billed answer is never retried", r.Name, code)
			}
		}
	}
	if c.Breaker.Enabled {
		if c.Breaker.FailureRatio <= 0 || c.Breaker.FailureRatio > 1 {
			bad("breaker.failure_ratio must be in (0, 1]")
		}
		if c.Breaker.MinRequests == 0 || c.Breaker.HalfOpenProbes == 0 {
			bad("breaker.min_requests and breaker.half_open_probes must be positive")
		}
		if c.Breaker.Window <= 0 || c.Breaker.OpenFor <= 0 {
			bad("breaker.window and breaker.open_for must be positive")
		}
	}
	if c.Idempotency.Enabled && (c.Idempotency.TTL <= 0 || c.Idempotency.MaxEntries <= 0) {
		bad("idempotency.ttl and idempotency.max_entries must be positive")
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
