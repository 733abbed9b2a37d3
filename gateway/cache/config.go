package cache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the `cache:` section: the response cache. Off by default: a
// cached answer changes what the ledger and the quota see, so it is a
// deliberate choice.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// MaxBytes bounds the cache: each entry costs its key, its stored answer
	// and the cache's own bookkeeping; the least valuable entries are evicted.
	MaxBytes int64 `yaml:"max_bytes"`
	// KeySecret keys the HMAC-SHA256 of cache keys, so memory never holds a
	// name or an ID number, nor an unkeyed hash of them (ID numbers are easy
	// to enumerate). KeySecretFile wins.
	KeySecret     secret.Secret `yaml:"key_secret" file:"key_secret_file"`
	KeySecretFile string        `yaml:"key_secret_file"`
	// TTL per result code, for every route that has no entry in Routes. Only
	// billed codes may be cached: a non-billed answer costs nothing to ask
	// again, and the transient ones (-4, -6) and the daily limit (-7) must
	// be asked again.
	// A ttl of 0s removes a default code (YAML merges into the defaults).
	TTL map[string]time.Duration `yaml:"ttl"`
	// Routes overrides TTL per route name; an empty map turns caching off
	// for that route.
	Routes map[string]map[string]time.Duration `yaml:"routes"`
	// Tenants: per-tenant cache policy; a tenant not listed gets the zero
	// value (own entries, hits not counted against its quota).
	Tenants map[string]TenantConfig `yaml:"tenants"`
	// Shared adds a second level in the shared stores' Redis (stores.mode
	// shared): a replica's miss is looked up there, its answers stored
	// there, and a purge reaches every replica. The process's own cache
	// stays the first level.
	Shared bool `yaml:"shared"`
}

// TenantConfig is one tenant's cache policy.
type TenantConfig struct {
	// CountQuota: cache hits consume a unit of the daily quota.
	CountQuota bool `yaml:"count_quota"`
	// ShareGroup: tenants with the same non-empty group see each other's
	// entries (the explicit opt-in to cross-tenant sharing).
	ShareGroup string `yaml:"share_group"`
}

// DefaultConfig: off; when turned on, 512 MiB holding the billed answers
// of check-2e (0 and -1) for a day.
func DefaultConfig() Config {
	return Config{
		MaxBytes: 512 << 20,
		TTL:      map[string]time.Duration{"0": 24 * time.Hour, "-1": 24 * time.Hour},
		Routes:   map[string]map[string]time.Duration{},
		Tenants:  map[string]TenantConfig{},
	}
}

// CacheTTLs resolves the cacheable codes of a route.
func (c Config) CacheTTLs(route string) map[string]time.Duration {
	if m, ok := c.Routes[route]; ok {
		return m
	}
	return c.TTL
}

// Validate checks an enabled cache; a disabled one ignores its fields.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.MaxBytes < 1<<20 {
		errs = append(errs, errors.New("cache.max_bytes must be at least 1 MiB"))
	}
	if len(c.KeySecret) < 16 {
		errs = append(errs, errors.New("cache.key_secret must be at least 16 bytes (set it or cache.key_secret_file)"))
	}
	return errors.Join(errs...)
}

// ValidateStores checks an enabled shared cache against the stores' mode:
// the second level lives in the shared stores' Redis.
func (c Config) ValidateStores(sharedStores bool) error {
	if c.Enabled && c.Shared && !sharedStores {
		return errors.New("cache.shared needs stores.mode shared (the second level lives in the shared Redis)")
	}
	return nil
}

// ValidateRoutes checks an enabled cache's per-route settings against the
// route table: every route named exists, and only billed codes of a
// route's table are cached (only definitive, chargeable answers).
func (c Config) ValidateRoutes(routes []billing.RouteConfig) error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	names := billing.RouteNames(routes)
	for _, name := range slices.Sorted(maps.Keys(c.Routes)) {
		if !names[name] {
			bad("cache.routes: unknown route %q", name)
		}
	}
	for _, r := range routes {
		ttls := c.CacheTTLs(r.Name)
		for _, code := range slices.Sorted(maps.Keys(ttls)) {
			if ttls[code] == 0 {
				continue // 0s: not cached (YAML merges maps into the defaults)
			}
			if !r.Billed(code) {
				bad("cache: route %q: result %q must be a billed code of its results table (only definitive, chargeable answers are cached)", r.Name, code)
			}
			if ttls[code] < 0 {
				bad("cache: route %q: result %q: negative ttl", r.Name, code)
			}
		}
	}
	return errors.Join(errs...)
}
