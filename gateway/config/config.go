// Package config is the gateway's configuration: the YAML shape, its
// defaults (the demo setup `make run` starts), environment overrides,
// secrets read from files, and validation at load time.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
	// The quota day needs Asia/Shanghai even on hosts without tzdata.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/contracts"
)

// EnvPrefix prefixes every environment override (IDGATE_GW_UPSTREAM_TOKEN, ...).
const EnvPrefix = "IDGATE_GW_"

// Config is the whole gateway configuration.
type Config struct {
	// Listen is the client-facing address.
	Listen string `yaml:"listen"`
	Admin  Admin  `yaml:"admin"`
	// Timezone decides where the calendar day of daily quotas starts.
	Timezone string `yaml:"timezone"`
	// MaxBodyBytes bounds a request body; larger ones get 400 token_mismatched.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// ShutdownGrace bounds how long SIGTERM waits for in-flight requests.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// LogLevel is debug, info, warn or error.
	LogLevel string   `yaml:"log_level"`
	Upstream Upstream `yaml:"upstream"`
	Store    Store    `yaml:"store"`
	Routes   []Route  `yaml:"routes"`
	Tenants  []Tenant `yaml:"tenants"`
	// TLS optionally serves the client listener over TLS, and Encryption
	// holds the key material of the routes' encryption modes (encryption.go).
	TLS        TLS        `yaml:"tls"`
	Encryption Encryption `yaml:"encryption"`

	Sessions Sessions `yaml:"sessions"`
	// Issue 4: response cache, retries, circuit breaker, idempotency keys
	// (resilience.go).
	Cache       Cache       `yaml:"cache"`
	Retry       Retry       `yaml:"retry"`
	Breaker     Breaker     `yaml:"breaker"`
	Idempotency Idempotency `yaml:"idempotency"`
}

// Admin is the operator API's own listener and bearer token.
type Admin struct {
	Listen    string `yaml:"listen"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// Upstream is the authority (or the simulator) the gateway forwards to.
type Upstream struct {
	URL       string `yaml:"url"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Timeout bounds one upstream call, connect to last byte.
	Timeout        Duration `yaml:"timeout"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	MaxConns       int      `yaml:"max_conns"`
	// MaxIdleConnDuration closes idle keep-alive connections before the
	// upstream does, so a request rarely meets a connection the peer closed.
	MaxIdleConnDuration Duration `yaml:"max_idle_conn_duration"`
	MaxResponseBytes    int      `yaml:"max_response_bytes"`
}

// Store is where the ledger (and runtime key changes) live.
type Store struct {
	Path      string `yaml:"path"`
	QueueSize int    `yaml:"queue_size"`
	BatchSize int    `yaml:"batch_size"`
	// Linger is how long the writer waits for more entries to share one
	// transaction; it bounds how stale the ledger is, not any request.
	Linger Duration `yaml:"linger"`
}

// Route is one API the gateway serves.
type Route struct {
	// Name labels the route in metrics and the ledger.
	Name         string `yaml:"name"`
	Path         string `yaml:"path"`
	UpstreamPath string `yaml:"upstream_path"`
	// ForwardPrefer passes the client's Prefer header on (the simulator's
	// outcome switch). Off towards the real authority.
	ForwardPrefer bool `yaml:"forward_prefer"`
	// LocalValidation answers invalid input without an upstream call.
	LocalValidation bool `yaml:"local_validation"`
	// LocalAnswers maps the gateway's validation findings to this route's
	// result codes. A finding without an entry is answered 400.
	LocalAnswers LocalAnswers `yaml:"local_answers"`
	// Results is the billing table: every result code the route can answer.
	// A code missing here is treated as upstream garbage.
	Results map[string]Result `yaml:"results"`
	// Encryption.Mode: passthrough (default), terminate or encrypt-upstream.
	Encryption RouteEncryption `yaml:"encryption"`
}

// LocalAnswers names the result code per kind of invalid input.
type LocalAnswers struct {
	IllegalID       string `yaml:"illegal_id"`
	IllegalName     string `yaml:"illegal_name"`
	IllegalValidity string `yaml:"illegal_validity"`
}

// Result is one row of a route's billing table.
type Result struct {
	Billed      bool   `yaml:"billed"`
	Description string `yaml:"description"`
}

// Tenant is a consumer of the gateway with its keys and limits.
type Tenant struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Disabled bool   `yaml:"disabled"`
	// DailyQuota caps billed verifications per calendar day across all the
	// tenant's keys; 0 means unlimited.
	DailyQuota int64 `yaml:"daily_quota"`
	// Rate (requests/s) and Burst are the default per-key token bucket.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	Keys  []Key   `yaml:"keys"`
}

// Key is one API key of a tenant. Exactly one of Key (plaintext, hashed at
// load; demo only), KeySHA256 (hex digest) or KeyFile (a file holding the
// plaintext) is set.
type Key struct {
	ID        string `yaml:"id"`
	Key       string `yaml:"key,omitempty"`
	KeySHA256 string `yaml:"key_sha256,omitempty"`
	KeyFile   string `yaml:"key_file,omitempty"`
	Disabled  bool   `yaml:"disabled"`
	// Zero values inherit the tenant's rate and burst; DailyQuota 0 means no
	// per-key cap below the tenant's.
	Rate       float64 `yaml:"rate"`
	Burst      int     `yaml:"burst"`
	DailyQuota int64   `yaml:"daily_quota"`
}

// Duration is a time.Duration written as "5s" in YAML.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "250ms", "5s", ...
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// CheckRoute is the default billing table of check-2e, from contracts.
func CheckRoute() Route {
	r := Route{
		Name:            "check-2e",
		Path:            contracts.CheckPath,
		UpstreamPath:    contracts.CheckPath,
		ForwardPrefer:   true,
		LocalValidation: true,
		LocalAnswers: LocalAnswers{
			IllegalID:   string(contracts.ResultIllegalID),
			IllegalName: string(contracts.ResultIllegalName),
		},
		Results:    map[string]Result{},
		Encryption: RouteEncryption{Mode: ModePassthrough},
	}
	for _, ri := range contracts.Results {
		r.Results[string(ri.Code)] = Result{Billed: ri.Billing == contracts.Billed, Description: ri.Description}
	}
	return r
}

// Default is the demo configuration: the gateway in front of the simulator
// `make run` starts, with one demo tenant generous enough for load tests.
// configs/gateway.yaml spells out the same values.
func Default() Config {
	c := base()
	c.Admin.Token = "gateway-admin-token"
	c.Upstream.Token = "sim-token"
	c.Routes = []Route{CheckRoute()}
	c.Sessions = DefaultSessions()
	c.Tenants = []Tenant{{
		ID:         "demo",
		Name:       "Demo tenant",
		DailyQuota: 10_000_000,
		Rate:       5000,
		Burst:      10000,
		Keys:       []Key{{ID: "demo-key-1", Key: "demo-key"}},
	}}
	return c
}

// base holds every non-secret default; a loaded file starts from it.
func base() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		Admin:         Admin{Listen: "127.0.0.1:9080"},
		Timezone:      "Asia/Shanghai",
		MaxBodyBytes:  64 << 10,
		ShutdownGrace: Duration(15 * time.Second),
		LogLevel:      "info",
		Upstream: Upstream{
			URL:                 "http://127.0.0.1:8081",
			Timeout:             Duration(5 * time.Second),
			ConnectTimeout:      Duration(time.Second),
			MaxConns:            1024,
			MaxIdleConnDuration: Duration(10 * time.Second),
			MaxResponseBytes:    1 << 20,
		},
		Store:       Store{Path: "var/gateway/ledger.db", QueueSize: 65536, BatchSize: 1024, Linger: Duration(20 * time.Millisecond)},
		Sessions:    baseSessions(),
		Cache:       baseCache(),
		Retry:       baseRetry(),
		Breaker:     baseBreaker(),
		Idempotency: baseIdempotency(),
	}
}

// Load reads a YAML file (an empty path means Default()), applies the
// environment overrides, reads secret files and validates the result.
func Load(path string) (Config, error) {
	return load(path, os.LookupEnv)
}

func load(path string, env func(string) (string, bool)) (Config, error) {
	var c Config
	if path == "" {
		c = Default()
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		c, err = Parse(b)
		if err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := c.applyEnv(env); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.readSecrets(); err != nil {
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
		r := &c.Routes[i]
		if r.UpstreamPath == "" {
			r.UpstreamPath = r.Path
		}
		if r.Name == "" {
			r.Name = strings.Trim(r.Path, "/")
		}
		if r.Encryption.Mode == "" {
			r.Encryption.Mode = ModePassthrough
		}
	}
	if len(c.Routes) == 0 {
		c.Routes = []Route{CheckRoute()}
	}
	return c, nil
}

func (c *Config) applyEnv(env func(string) (string, bool)) error {
	str := map[string]*string{
		"LISTEN":              &c.Listen,
		"ADMIN_LISTEN":        &c.Admin.Listen,
		"ADMIN_TOKEN":         &c.Admin.Token,
		"ADMIN_TOKEN_FILE":    &c.Admin.TokenFile,
		"UPSTREAM_URL":        &c.Upstream.URL,
		"UPSTREAM_TOKEN":      &c.Upstream.Token,
		"UPSTREAM_TOKEN_FILE": &c.Upstream.TokenFile,
		"STORE_PATH":          &c.Store.Path,
		"TIMEZONE":            &c.Timezone,
		"LOG_LEVEL":           &c.LogLevel,
	}
	for name, p := range str {
		if v, ok := env(EnvPrefix + name); ok {
			*p = v
		}
	}
	if v, ok := env(EnvPrefix + "UPSTREAM_TIMEOUT"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%sUPSTREAM_TIMEOUT: %w", EnvPrefix, err)
		}
		c.Upstream.Timeout = Duration(d)
	}
	c.applyEncryptionEnv(env)
	c.Sessions.applyEnv(env)
	if err := c.applyResilienceEnv(env); err != nil {
		return err
	}
	return nil
}

// readSecrets resolves *_file settings. A file wins over an inline value so
// that a production deployment can mount secrets without editing YAML.
func (c *Config) readSecrets() error {
	read := func(file string, dst *string) error {
		if file == "" {
			return nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read secret: %w", err)
		}
		*dst = strings.TrimSpace(string(b))
		return nil
	}
	if err := read(c.Admin.TokenFile, &c.Admin.Token); err != nil {
		return err
	}
	if err := read(c.Upstream.TokenFile, &c.Upstream.Token); err != nil {
		return err
	}
	if err := c.readResilienceSecrets(); err != nil {
		return err
	}
	if err := c.Sessions.readSecrets(); err != nil {
		return err
	}
	for ti := range c.Tenants {
		for ki := range c.Tenants[ti].Keys {
			k := &c.Tenants[ti].Keys[ki]
			if err := read(k.KeyFile, &k.Key); err != nil {
				return fmt.Errorf("tenant %s key %s: %w", c.Tenants[ti].ID, k.ID, err)
			}
		}
	}
	return nil
}

// Validate reports every problem it finds, not just the first.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Listen == "" {
		bad("listen is empty")
	}
	if c.Admin.Listen == "" {
		bad("admin.listen is empty")
	}
	if c.Admin.Token == "" {
		bad("admin.token is empty (set it, admin.token_file or %sADMIN_TOKEN)", EnvPrefix)
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone %q: %v", c.Timezone, err)
	}
	if _, err := c.SlogLevel(); err != nil {
		bad("%v", err)
	}
	if c.MaxBodyBytes <= 0 {
		bad("max_body_bytes must be positive")
	}
	u, err := url.Parse(c.Upstream.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("upstream.url %q must be an http(s) URL", c.Upstream.URL)
	}
	if c.Upstream.Token == "" {
		bad("upstream.token is empty (set it, upstream.token_file or %sUPSTREAM_TOKEN)", EnvPrefix)
	}
	if c.Upstream.Timeout <= 0 || c.Upstream.ConnectTimeout <= 0 {
		bad("upstream timeouts must be positive")
	}
	if c.Upstream.MaxConns <= 0 {
		bad("upstream.max_conns must be positive")
	}
	if c.Store.Path == "" {
		bad("store.path is empty")
	}
	if c.Store.QueueSize <= 0 || c.Store.BatchSize <= 0 || c.Store.Linger < 0 {
		bad("store.queue_size and store.batch_size must be positive, store.linger not negative")
	}
	paths := map[string]bool{}
	names := map[string]bool{}
	for _, r := range c.Routes {
		if !strings.HasPrefix(r.Path, "/") {
			bad("route %q: path must start with /", r.Path)
		}
		if paths[r.Path] || names[r.Name] {
			bad("route %q: duplicate path or name", r.Path)
		}
		paths[r.Path], names[r.Name] = true, true
		if len(r.Results) == 0 {
			bad("route %q: results (the billing table) is empty", r.Path)
		}
		for _, code := range []string{r.LocalAnswers.IllegalID, r.LocalAnswers.IllegalName, r.LocalAnswers.IllegalValidity} {
			if _, ok := r.Results[code]; code != "" && (!ok || r.Results[code].Billed) {
				bad("route %q: local answer %q must be a non-billed code of its results table", r.Path, code)
			}
		}
	}
	errs = append(errs, c.validateEncryption()...)
	errs = append(errs, ValidateTenants(c.Tenants)...)
	errs = append(errs, c.Sessions.validate()...)
	errs = append(errs, c.validateResilience()...)
	return errors.Join(errs...)
}

// ValidateTenants checks tenants and keys; reload uses it on its own.
func ValidateTenants(ts []Tenant) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	tenantIDs := map[string]bool{}
	keyIDs := map[string]bool{}
	for _, t := range ts {
		if t.ID == "" || tenantIDs[t.ID] {
			bad("tenant %q: id empty or duplicate", t.ID)
		}
		tenantIDs[t.ID] = true
		if t.DailyQuota < 0 || t.Rate < 0 || t.Burst < 0 {
			bad("tenant %q: negative limit", t.ID)
		}
		for _, k := range t.Keys {
			if k.ID == "" || keyIDs[k.ID] {
				bad("tenant %q key %q: id empty or duplicate (key ids are global)", t.ID, k.ID)
			}
			keyIDs[k.ID] = true
			n := 0
			for _, s := range []string{k.Key, k.KeySHA256} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				bad("tenant %q key %q: set exactly one of key, key_sha256, key_file", t.ID, k.ID)
			}
			if k.KeySHA256 != "" {
				if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != sha256.Size {
					bad("tenant %q key %q: key_sha256 must be 64 hex digits", t.ID, k.ID)
				}
			}
			if k.Rate < 0 || k.Burst < 0 || k.DailyQuota < 0 {
				bad("tenant %q key %q: negative limit", t.ID, k.ID)
			}
			if rateOf(t, k) <= 0 || burstOf(t, k) <= 0 {
				bad("tenant %q key %q: rate and burst must be positive (on the key or the tenant)", t.ID, k.ID)
			}
		}
	}
	return errs
}

func rateOf(t Tenant, k Key) float64 {
	if k.Rate > 0 {
		return k.Rate
	}
	return t.Rate
}

func burstOf(t Tenant, k Key) int {
	if k.Burst > 0 {
		return k.Burst
	}
	return t.Burst
}

// Digest is the SHA-256 of a key as the config and the key store hold it.
func (k Key) Digest() [sha256.Size]byte {
	if k.KeySHA256 != "" {
		var d [sha256.Size]byte
		b, _ := hex.DecodeString(k.KeySHA256)
		copy(d[:], b)
		return d
	}
	return sha256.Sum256([]byte(k.Key))
}

// EffectiveRate and EffectiveBurst resolve inheritance from the tenant.
func EffectiveRate(t Tenant, k Key) float64 { return rateOf(t, k) }
func EffectiveBurst(t Tenant, k Key) int    { return burstOf(t, k) }

// SlogLevel parses LogLevel.
func (c *Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Location loads the configured time zone (validated at load).
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
