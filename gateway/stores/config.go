// Package stores opens the shared stores a fleet of gateway replicas
// agrees through: Redis (rate limits, quota counters, Idempotency-Key
// records, the second-level cache) and PostgreSQL (the ledger, sessions,
// keys). Each concern's package holds its own shared implementation beside
// its embedded one; this package only connects, guards every call with a
// tight timeout and a breaker, and reports each store's state for /readyz
// and the metrics.
//
// Embedded (the default) keeps everything in the process and its SQLite
// file: one gateway. Shared needs both URLs; a fleet of replicas
// configured alike behaves as one gateway.
package stores

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/idgate/idgate/internal/secret"
)

// Mode names where the gateway keeps its state.
type Mode string

const (
	// Embedded: in-process counters and the SQLite ledger (one replica).
	Embedded Mode = "embedded"
	// Shared: Redis and PostgreSQL, shared by every replica.
	Shared Mode = "shared"
)

// Config is the `stores:` section.
type Config struct {
	// Mode is embedded or shared; empty chooses shared when both URLs are
	// set and embedded when neither is.
	Mode Mode `yaml:"mode"`
	// Replicas is the fleet's size, N: while Redis is unreachable each
	// replica admits at most rate/N of a key's rate on its own.
	Replicas int `yaml:"replicas"`

	Redis    RedisConfig    `yaml:"redis"`
	Postgres PostgresConfig `yaml:"postgres"`
	// Breaker opens a store's circuit after Failures consecutive failed
	// calls and keeps it open for OpenFor; calls then fail at once, so a
	// store that is down costs no request its timeout.
	Breaker BreakerConfig `yaml:"breaker"`
}

// RedisConfig locates Redis. URL is go-redis's universal form:
// redis://[user:pass@]host:port/db for one node, with ?addr=host:port
// repeated for a Cluster, or ?master_name=name for Sentinel (the host
// then names a sentinel); rediss:// for TLS.
type RedisConfig struct {
	URL     secret.Secret `yaml:"url" file:"url_file"`
	URLFile string        `yaml:"url_file"`
	// Prefix starts every key the gateway writes, so fleets (and tests)
	// can share one Redis.
	Prefix string `yaml:"prefix"`
	// Timeout bounds every call on a request's path.
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize is the connections per replica (0: go-redis's default).
	PoolSize int `yaml:"pool_size"`
}

// PostgresConfig locates PostgreSQL: a pgx DSN or URL.
type PostgresConfig struct {
	URL     secret.Secret `yaml:"url" file:"url_file"`
	URLFile string        `yaml:"url_file"`
	// Schema holds the gateway's tables (created when missing), so fleets
	// (and tests) can share one database.
	Schema string `yaml:"schema"`
	// Timeout bounds every call a request waits for (session and key
	// lookups); the ledger's writes are not on a request's path (spool).
	Timeout time.Duration `yaml:"timeout"`
	// MaxConns is the pool's size per replica (0: pgx's default).
	MaxConns int32 `yaml:"max_conns"`
}

// BreakerConfig is a store's circuit breaker.
type BreakerConfig struct {
	Failures int           `yaml:"failures"`
	OpenFor  time.Duration `yaml:"open_for"`
}

// DefaultConfig: embedded; when shared, tens of milliseconds per call and
// a breaker that opens after 5 failures in a row for 1 s.
func DefaultConfig() Config {
	return Config{
		Replicas: 1,
		Redis:    RedisConfig{Prefix: "idgate", Timeout: 50 * time.Millisecond},
		Postgres: PostgresConfig{Schema: "idgate", Timeout: 200 * time.Millisecond},
		Breaker:  BreakerConfig{Failures: 5, OpenFor: time.Second},
	}
}

// Effective is the mode in force (Mode, or the one the URLs imply).
func (c Config) Effective() Mode {
	if c.Mode != "" {
		return c.Mode
	}
	if c.Redis.URL != "" && c.Postgres.URL != "" {
		return Shared
	}
	return Embedded
}

// IsShared reports whether the gateway runs on the shared stores.
func (c Config) IsShared() bool { return c.Effective() == Shared }

var (
	prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Validate checks the mode against the URLs and the bounds.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case "", Embedded, Shared:
	default:
		errs = append(errs, fmt.Errorf("stores.mode %q: want embedded or shared", c.Mode))
	}
	if c.Replicas < 1 {
		errs = append(errs, errors.New("stores.replicas must be at least 1"))
	}
	if c.Mode == "" && (c.Redis.URL == "") != (c.Postgres.URL == "") {
		errs = append(errs, errors.New("stores: redis.url and postgres.url go together (shared mode needs both)"))
	}
	if c.Effective() == Shared {
		if c.Redis.URL == "" || c.Postgres.URL == "" {
			errs = append(errs, errors.New("stores: shared mode needs redis.url and postgres.url (or IDGATE_GW_REDIS_URL and IDGATE_GW_POSTGRES_URL)"))
		}
		if _, err := redisOptions(c.Redis.URL.Reveal()); c.Redis.URL != "" && err != nil {
			errs = append(errs, err)
		}
	}
	if !prefixPattern.MatchString(c.Redis.Prefix) {
		errs = append(errs, errors.New("stores.redis.prefix: 1 to 64 of A-Z a-z 0-9 _ . : -"))
	}
	if !schemaPattern.MatchString(c.Postgres.Schema) {
		errs = append(errs, errors.New("stores.postgres.schema: a lower-case SQL identifier"))
	}
	if c.Redis.Timeout <= 0 || c.Postgres.Timeout <= 0 {
		errs = append(errs, errors.New("stores.redis.timeout and stores.postgres.timeout must be positive"))
	}
	if c.Redis.PoolSize < 0 || c.Postgres.MaxConns < 0 {
		errs = append(errs, errors.New("stores.redis.pool_size and stores.postgres.max_conns must not be negative"))
	}
	if c.Breaker.Failures < 1 || c.Breaker.OpenFor <= 0 {
		errs = append(errs, errors.New("stores.breaker.failures must be at least 1 and open_for positive"))
	}
	return errors.Join(errs...)
}
