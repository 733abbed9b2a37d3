// Package config composes the gateway's configuration from the sections
// its components declare (each with its defaults and its Validate): it
// reads the YAML file (strictly: an unknown key is an error), applies the
// environment overrides (env.go), reads secrets from their files
// (secrets.go), validates every section and the relations between them,
// and says which settings differ between two configurations (diff.go).
//
// Only the process's own settings are declared here: the listeners, TLS,
// logging, the shutdown grace and the body limit.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/gateway/admin"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/breaker"
	"github.com/idgate/idgate/gateway/cache"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/gateway/idempotency"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/retry"
	"github.com/idgate/idgate/gateway/sessions"
	"github.com/idgate/idgate/gateway/stores"
	"github.com/idgate/idgate/gateway/upstream"
	"github.com/idgate/idgate/internal/boundedread"
)

// Config is the whole gateway configuration, in the YAML file's shape.
type Config struct {
	// Listen is the client-facing address.
	Listen string       `yaml:"listen"`
	Admin  admin.Config `yaml:"admin"`
	// Quota holds `timezone`: where the calendar day of daily quotas starts.
	Quota quota.Config `yaml:",inline"`
	// MaxBodyBytes bounds a request body; larger ones get 400 token_mismatched.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// ShutdownGrace bounds how long SIGTERM waits for in-flight requests.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// LogLevel is debug, info, warn or error.
	LogLevel string                `yaml:"log_level"`
	Upstream upstream.Config       `yaml:"upstream"`
	Store    ledger.Config         `yaml:"store"`
	Routes   []billing.RouteConfig `yaml:"routes"`
	// Auth holds `tenants`: the tenants, their keys and limits.
	Auth auth.Config `yaml:",inline"`
	// TLS optionally serves the client listener over TLS; Encryption holds
	// the key material of the routes' encryption modes.
	TLS         TLS                `yaml:"tls"`
	Encryption  encryption.Config  `yaml:"encryption"`
	Sessions    sessions.Config    `yaml:"sessions"`
	Cache       cache.Config       `yaml:"cache"`
	Retry       retry.Config       `yaml:"retry"`
	Breaker     breaker.Config     `yaml:"breaker"`
	Idempotency idempotency.Config `yaml:"idempotency"`
	// Stores chooses embedded state (one replica) or the shared Redis and
	// PostgreSQL a fleet of replicas agrees through.
	Stores stores.Config `yaml:"stores"`
}

// Default is the demo configuration: the gateway in front of the simulator
// `make run` starts, with one demo tenant generous enough for load tests.
// configs/gateway.yaml spells out the same values.
func Default() Config {
	c := base()
	c.Admin.Token = "gateway-admin-token"
	c.Upstream.Token = "sim-token"
	c.Upstream.Tencent.SecretID = "sim-secret-id"
	c.Upstream.Tencent.SecretKey = "sim-secret-key"
	c.Routes = billing.DemoRoutes()
	// The date route's transient code is "-6" ("-4" is an illegal
	// validity period there).
	c.Retry.Routes = map[string][]string{"check-id-name-date": {"-6"}}
	c.Auth = auth.DemoConfig()
	c.Sessions = sessions.DemoConfig()
	return c
}

// base holds every non-secret default; a loaded file starts from it.
func base() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		Admin:         admin.DefaultConfig(),
		Quota:         quota.DefaultConfig(),
		MaxBodyBytes:  64 << 10,
		ShutdownGrace: 15 * time.Second,
		LogLevel:      "info",
		Upstream:      upstream.DefaultConfig(),
		Store:         ledger.DefaultConfig(),
		Encryption:    encryption.DefaultConfig(),
		Sessions:      sessions.DefaultConfig(),
		Cache:         cache.DefaultConfig(),
		Retry:         retry.DefaultConfig(),
		Breaker:       breaker.DefaultConfig(),
		Idempotency:   idempotency.DefaultConfig(),
		Stores:        stores.DefaultConfig(),
	}
}

// MaxFileBytes bounds the configuration file: a commented file with
// thousands of tenants is a small fraction of it, so a larger file is a
// wrong path, refused before it is read whole.
const MaxFileBytes = 1 << 20

// Load reads a YAML file of at most MaxFileBytes (an empty path means
// Default()), applies the environment overrides, reads secret files and
// validates the result.
func Load(path string) (Config, error) {
	return load(path, os.LookupEnv)
}

func load(path string, env func(string) (string, bool)) (Config, error) {
	var c Config
	if path == "" {
		c = Default()
	} else {
		b, err := boundedread.File(path, MaxFileBytes)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		c, err = Parse(b)
		if err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, env); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := readSecretFiles(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Parse decodes YAML on top of the non-secret defaults. Unknown fields are
// errors: a typo must not silently become a default.
func Parse(b []byte) (Config, error) {
	c := base()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, err
	}
	for i := range c.Routes {
		c.Routes[i].SetDefaults()
	}
	if len(c.Routes) == 0 {
		c.Routes = billing.DefaultRoutes()
	}
	return c, nil
}

// Validate checks every section and the relations between them (a
// route's mode against the keys, the cache's and the retry policy's codes
// against the routes' billing tables) and reports every problem it finds,
// not just the first.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen is empty"))
	}
	errs = append(errs, c.Admin.Validate(), c.Quota.Validate())
	if _, err := c.SlogLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("max_body_bytes must be positive"))
	}
	errs = append(errs, c.Upstream.Validate(), c.Store.Validate(), billing.ValidateRoutes(c.Routes),
		c.TLS.Validate(), c.Encryption.Validate())
	tencentUpstream := false
	for _, r := range c.Routes {
		errs = append(errs, c.Encryption.ValidateRoute(r.Path, r.Encryption))
		tencentUpstream = tencentUpstream || r.TencentUpstream()
	}
	if tencentUpstream {
		errs = append(errs, c.Upstream.ValidateTencent())
	}
	errs = append(errs, c.Auth.Validate(), c.Sessions.Validate(),
		c.Cache.Validate(), c.Cache.ValidateRoutes(c.Routes), c.Cache.ValidateStores(c.Stores.IsShared()),
		c.Retry.Validate(), c.Retry.ValidateRoutes(c.Routes),
		c.Breaker.Validate(), c.Idempotency.Validate(), c.Stores.Validate())
	return errors.Join(errs...)
}

// SlogLevel parses LogLevel.
func (c *Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// NeedsEncryption reports whether some route terminates or adds
// encryption (the server then builds the encryption engine).
func (c *Config) NeedsEncryption() bool {
	for _, r := range c.Routes {
		if r.Encryption.Encrypting() {
			return true
		}
	}
	return false
}
