// Package config is the simulator's configuration: defaults that work out
// of the box (the README's curl uses them), a YAML file, environment
// overrides with the prefix IDGATE_SIM_, and validation at load.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/boundedread"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/session"
	"go.yaml.in/yaml/v3"
)

// Duration reads "200ms" or a bare number of milliseconds.
type Duration = outcome.Duration

// Config is every simulator setting. configs/simulator.yaml documents each
// one and equals Default().
type Config struct {
	// Listen is the TCP address of the API, admin API, /healthz and /metrics.
	Listen string `yaml:"listen"`
	// Tokens are the API tokens accepted in "authorization: Bearer".
	Tokens []string `yaml:"tokens"`
	// TokensFile, if set, adds one token per line (blank lines and lines
	// starting with # are skipped), so secrets need not sit in the YAML.
	TokensFile string `yaml:"tokens_file"`
	// AdminToken guards /admin/.
	AdminToken string `yaml:"admin_token"`
	// AdminTokenFile, if set, replaces AdminToken with the file's content.
	AdminTokenFile string `yaml:"admin_token_file"`
	// BodyLimit is the largest request body in bytes; larger bodies get
	// 400 token_mismatched.
	BodyLimit int `yaml:"body_limit"`
	// MaxLatency caps any latency a Prefer header or a scenario asks for.
	MaxLatency Duration `yaml:"max_latency"`
	// MaxHang caps how long the hang fault holds a connection.
	MaxHang    Duration   `yaml:"max_hang"`
	RateLimit  RateLimit  `yaml:"rate_limit"`
	DailyLimit DailyLimit `yaml:"daily_limit"`
	Journal    Journal    `yaml:"journal"`
	Statement  Statement  `yaml:"statement"`
	HTTP       HTTP       `yaml:"http"`
	// Scenarios programs tokens at start-up, as PUT /admin/scenarios/{token}
	// does at run time.
	Scenarios map[string]outcome.ScenarioSpec `yaml:"scenarios"`
	// Encryption is how the check API opens encrypted requests.
	Encryption Encryption `yaml:"encryption"`
	// Sessions configures the verification-session API (simulator/session).
	Sessions session.Config `yaml:"sessions"`
	// Tencent configures the Tencent Cloud API 3.0 dialect.
	Tencent Tencent `yaml:"tencent"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// RateLimit is the per-token request rate (token bucket).
type RateLimit struct {
	// PerSecond is the sustained rate per token; 0 disables the limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size.
	Burst int `yaml:"burst"`
}

// DailyLimit is the authority's per-ID-number daily verification limit.
type DailyLimit struct {
	// PerIDNumber is the verifications one ID number may have per day
	// before "-7"; 0 disables the limit.
	PerIDNumber int `yaml:"per_id_number"`
	// TimeZone is the authority's calendar (it works on China time): where
	// the daily limit's day and the statement's days start.
	TimeZone string `yaml:"time_zone"`
	// MaxTracked bounds how many ID numbers are counted per day; beyond it
	// new numbers are allowed uncounted.
	MaxTracked int `yaml:"max_tracked"`
}

// Journal is the bounded request journal.
type Journal struct {
	Enabled bool `yaml:"enabled"`
	// Size is the number of entries kept.
	Size int `yaml:"size"`
}

// Statement is the authority's billing statement (GET /admin/statement):
// exact daily counts per credential, API and billing class, always kept,
// and a bounded ring of per-request lines.
type Statement struct {
	// Authority names the authority in every statement.
	Authority string `yaml:"authority"`
	// MaxLines caps the per-request lines held, about 56 bytes each,
	// allocated as traffic arrives (1,000,000 lines: 56 MB, 100 s at
	// 10,000 requests a second). Beyond it the oldest lines make room and
	// statements count them as dropped. 0 keeps the daily counts only.
	MaxLines int `yaml:"max_lines"`
}

// MaxStatementLines bounds statement.max_lines: 20,000,000 lines are
// about 1.1 GB, and a statement with lines copies its range once more.
const MaxStatementLines = 20_000_000

// Encryption configures the receiver side of the sensitive-field
// encryption object (contracts/fieldcrypto).
type Encryption struct {
	// Enabled: encrypted requests are opened; off, they get 400
	// token_mismatched.
	Enabled bool `yaml:"enabled"`
	// RSAKeyFile is the PEM private key for AES-256-CBC requests, created
	// on first run when missing. Empty: a key generated in memory on first
	// use (a new one each start).
	RSAKeyFile string `yaml:"rsa_key_file"`
	// SM2KeyFile is the same for SM4-GCM requests.
	SM2KeyFile string `yaml:"sm2_key_file"`
	// KeyDir, when set, is where rsa_key_file and sm2_key_file default to
	// (KeyDir/rsa.pem, KeyDir/sm2.pem): keys persist across restarts, so
	// clients holding the public keys keep working.
	KeyDir string `yaml:"key_dir"`
	// ExtraKeys are more private keys accepted during a rotation, as
	// "file:PATH" or "env:NAME" (PEM, or an SM2 key as 64 hex digits).
	ExtraKeys []string `yaml:"extra_keys"`
	// KeyCache keeps unwrapped data keys of blobs clients reuse.
	KeyCache KeyCache `yaml:"key_cache"`
}

// KeyCache bounds the receiver's unwrapped-key cache (fieldcrypto.KeyCache):
// at most Entries keys, each kept TTL from insertion; Entries 0 turns it
// off. A key is cached as soon as its blob unwraps, before any field is
// decrypted, so whether a blob is cached depends on the blob alone and a
// later request's timing cannot tell whether an earlier one's padding or
// tag was valid.
type KeyCache struct {
	Entries int      `yaml:"entries"`
	TTL     Duration `yaml:"ttl"`
}

// MaxKeyCacheEntries bounds encryption.key_cache.entries: an entry is
// about 200 bytes, so the cache stays under a few hundred megabytes.
const MaxKeyCacheEntries = 1_000_000

// HTTP holds server timeouts.
type HTTP struct {
	ReadTimeout     Duration `yaml:"read_timeout"`
	WriteTimeout    Duration `yaml:"write_timeout"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Default is the configuration without a file: it accepts the token
// "sim-token" and the admin token "sim-admin-token", and its limits are
// generous enough that a load test is throttled only when it asks to be.
func Default() Config {
	return Config{
		Listen:     "127.0.0.1:8081",
		Tokens:     []string{"sim-token"},
		AdminToken: "sim-admin-token",
		BodyLimit:  64 << 10,
		MaxLatency: Duration(60 * time.Second),
		MaxHang:    Duration(120 * time.Second),
		RateLimit:  RateLimit{PerSecond: 1_000_000, Burst: 1_000_000},
		DailyLimit: DailyLimit{PerIDNumber: 100_000_000, TimeZone: "Asia/Shanghai", MaxTracked: 1_000_000},
		Journal:    Journal{Enabled: true, Size: 1000},
		Statement:  Statement{Authority: "idgate-simulator", MaxLines: 1_000_000},
		HTTP: HTTP{
			ReadTimeout:     Duration(30 * time.Second),
			WriteTimeout:    Duration(30 * time.Second),
			IdleTimeout:     Duration(120 * time.Second),
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Scenarios:  map[string]outcome.ScenarioSpec{},
		LogLevel:   "info",
		Encryption: Encryption{Enabled: true, ExtraKeys: []string{}, KeyCache: KeyCache{Entries: 10000, TTL: Duration(10 * time.Minute)}},
		Sessions:   session.DefaultConfig(),
		Tencent:    DefaultTencent(),
	}
}

// MaxFileBytes bounds the configuration file and the tokens and admin
// token files it names: a larger file is a wrong path, refused before it
// is read whole.
const MaxFileBytes = 1 << 20

// Load reads the defaults, then the YAML file at path (if path is not
// empty; at most MaxFileBytes), then the environment, then validates. Unknown YAML keys are
// errors: a misspelt setting must not silently keep its default.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := boundedread.File(path, MaxFileBytes)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = os.LookupEnv
	}
	if err := cfg.ApplyEnv(getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.resolveFiles(); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Parse decodes YAML over the defaults without reading the environment or
// validating; tests use it to compare files with Default().
func Parse(b []byte) (Config, error) {
	cfg := Default()
	err := decodeYAML(b, &cfg)
	return cfg, err
}

func decodeYAML(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file is the defaults (yaml reports io.EOF for it).
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if cfg.Scenarios == nil {
		cfg.Scenarios = map[string]outcome.ScenarioSpec{}
	}
	if cfg.Encryption.ExtraKeys == nil {
		cfg.Encryption.ExtraKeys = []string{}
	}
	return nil
}

// EnvPrefix starts every environment override.
const EnvPrefix = "IDGATE_SIM_"

// EnvVars lists the environment overrides and the settings they replace.
var EnvVars = []struct{ Name, Setting string }{
	{"IDGATE_SIM_LISTEN", "listen"},
	{"IDGATE_SIM_TOKENS", "tokens (comma-separated)"},
	{"IDGATE_SIM_TOKENS_FILE", "tokens_file"},
	{"IDGATE_SIM_ADMIN_TOKEN", "admin_token"},
	{"IDGATE_SIM_ADMIN_TOKEN_FILE", "admin_token_file"},
	{"IDGATE_SIM_BODY_LIMIT", "body_limit"},
	{"IDGATE_SIM_MAX_LATENCY", "max_latency"},
	{"IDGATE_SIM_MAX_HANG", "max_hang"},
	{"IDGATE_SIM_RATE_LIMIT_PER_SECOND", "rate_limit.per_second"},
	{"IDGATE_SIM_RATE_LIMIT_BURST", "rate_limit.burst"},
	{"IDGATE_SIM_DAILY_LIMIT_PER_ID_NUMBER", "daily_limit.per_id_number"},
	{"IDGATE_SIM_DAILY_LIMIT_TIME_ZONE", "daily_limit.time_zone"},
	{"IDGATE_SIM_DAILY_LIMIT_MAX_TRACKED", "daily_limit.max_tracked"},
	{"IDGATE_SIM_JOURNAL_ENABLED", "journal.enabled"},
	{"IDGATE_SIM_JOURNAL_SIZE", "journal.size"},
	{"IDGATE_SIM_STATEMENT_AUTHORITY", "statement.authority"},
	{"IDGATE_SIM_STATEMENT_MAX_LINES", "statement.max_lines"},
	{"IDGATE_SIM_HTTP_READ_TIMEOUT", "http.read_timeout"},
	{"IDGATE_SIM_HTTP_WRITE_TIMEOUT", "http.write_timeout"},
	{"IDGATE_SIM_HTTP_IDLE_TIMEOUT", "http.idle_timeout"},
	{"IDGATE_SIM_HTTP_SHUTDOWN_TIMEOUT", "http.shutdown_timeout"},
	{"IDGATE_SIM_LOG_LEVEL", "log_level"},
	{"IDGATE_SIM_ENCRYPTION_ENABLED", "encryption.enabled"},
	{"IDGATE_SIM_ENCRYPTION_RSA_KEY_FILE", "encryption.rsa_key_file"},
	{"IDGATE_SIM_ENCRYPTION_SM2_KEY_FILE", "encryption.sm2_key_file"},
	{"IDGATE_SIM_ENCRYPTION_KEY_DIR", "encryption.key_dir"},
	{"IDGATE_SIM_ENCRYPTION_EXTRA_KEYS", "encryption.extra_keys (comma-separated)"},
	{"IDGATE_SIM_ENCRYPTION_KEY_CACHE_ENTRIES", "encryption.key_cache.entries"},
	{"IDGATE_SIM_ENCRYPTION_KEY_CACHE_TTL", "encryption.key_cache.ttl"},
	{"IDGATE_SIM_SESSIONS_TIME_SCALE", "sessions.time_scale"},
	{"IDGATE_SIM_SESSIONS_PUBLIC_URL", "sessions.public_url"},
	{"IDGATE_SIM_WEBHOOK_SECRET", "sessions.webhook.secret"},
	{"IDGATE_SIM_TENCENT_CREDENTIALS", "tencent.credentials (SecretId:SecretKey, comma-separated)"},
	{"IDGATE_SIM_TENCENT_CREDENTIALS_FILE", "tencent.credentials_file"},
}

// ApplyEnv overrides settings from the environment.
func (c *Config) ApplyEnv(getenv func(string) (string, bool)) error {
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := getenv(name); ok {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v, ok := getenv(name); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: not an integer", name))
				return
			}
			*dst = n
		}
	}
	flt := func(name string, dst *float64) {
		if v, ok := getenv(name); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: not a number", name))
				return
			}
			*dst = n
		}
	}
	dur := func(name string, dst *Duration) {
		if v, ok := getenv(name); ok {
			d, err := outcome.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*dst = d
		}
	}
	boolean := func(name string, dst *bool) {
		if v, ok := getenv(name); ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: not a boolean", name))
				return
			}
			*dst = b
		}
	}
	str("IDGATE_SIM_LISTEN", &c.Listen)
	if v, ok := getenv("IDGATE_SIM_TOKENS"); ok {
		c.Tokens = splitTokens(v)
	}
	str("IDGATE_SIM_TOKENS_FILE", &c.TokensFile)
	str("IDGATE_SIM_ADMIN_TOKEN", &c.AdminToken)
	str("IDGATE_SIM_ADMIN_TOKEN_FILE", &c.AdminTokenFile)
	num("IDGATE_SIM_BODY_LIMIT", &c.BodyLimit)
	dur("IDGATE_SIM_MAX_LATENCY", &c.MaxLatency)
	dur("IDGATE_SIM_MAX_HANG", &c.MaxHang)
	flt("IDGATE_SIM_RATE_LIMIT_PER_SECOND", &c.RateLimit.PerSecond)
	num("IDGATE_SIM_RATE_LIMIT_BURST", &c.RateLimit.Burst)
	num("IDGATE_SIM_DAILY_LIMIT_PER_ID_NUMBER", &c.DailyLimit.PerIDNumber)
	str("IDGATE_SIM_DAILY_LIMIT_TIME_ZONE", &c.DailyLimit.TimeZone)
	num("IDGATE_SIM_DAILY_LIMIT_MAX_TRACKED", &c.DailyLimit.MaxTracked)
	boolean("IDGATE_SIM_JOURNAL_ENABLED", &c.Journal.Enabled)
	num("IDGATE_SIM_JOURNAL_SIZE", &c.Journal.Size)
	str("IDGATE_SIM_STATEMENT_AUTHORITY", &c.Statement.Authority)
	num("IDGATE_SIM_STATEMENT_MAX_LINES", &c.Statement.MaxLines)
	dur("IDGATE_SIM_HTTP_READ_TIMEOUT", &c.HTTP.ReadTimeout)
	dur("IDGATE_SIM_HTTP_WRITE_TIMEOUT", &c.HTTP.WriteTimeout)
	dur("IDGATE_SIM_HTTP_IDLE_TIMEOUT", &c.HTTP.IdleTimeout)
	dur("IDGATE_SIM_HTTP_SHUTDOWN_TIMEOUT", &c.HTTP.ShutdownTimeout)
	str("IDGATE_SIM_LOG_LEVEL", &c.LogLevel)
	boolean("IDGATE_SIM_ENCRYPTION_ENABLED", &c.Encryption.Enabled)
	str("IDGATE_SIM_ENCRYPTION_RSA_KEY_FILE", &c.Encryption.RSAKeyFile)
	str("IDGATE_SIM_ENCRYPTION_SM2_KEY_FILE", &c.Encryption.SM2KeyFile)
	str("IDGATE_SIM_ENCRYPTION_KEY_DIR", &c.Encryption.KeyDir)
	if v, ok := getenv("IDGATE_SIM_ENCRYPTION_EXTRA_KEYS"); ok {
		c.Encryption.ExtraKeys = splitTokens(v)
	}
	num("IDGATE_SIM_ENCRYPTION_KEY_CACHE_ENTRIES", &c.Encryption.KeyCache.Entries)
	dur("IDGATE_SIM_ENCRYPTION_KEY_CACHE_TTL", &c.Encryption.KeyCache.TTL)
	if err := c.Sessions.ApplyEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.Tencent.applyEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: environment: %w", errors.Join(errs...))
	}
	return nil
}

func splitTokens(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\t' || r == '\r' }) {
		if t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	return out
}

// resolveFiles reads the secrets that live in files.
func (c *Config) resolveFiles() error {
	if c.TokensFile != "" {
		b, err := boundedread.File(c.TokensFile, MaxFileBytes)
		if err != nil {
			return fmt.Errorf("config: tokens_file: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				c.Tokens = append(c.Tokens, line)
			}
		}
	}
	if err := c.Sessions.ResolveFiles(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Tencent.resolveFiles(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.AdminTokenFile != "" {
		b, err := boundedread.File(c.AdminTokenFile, MaxFileBytes)
		if err != nil {
			return fmt.Errorf("config: admin_token_file: %w", err)
		}
		c.AdminToken = strings.TrimSpace(string(b))
	}
	return nil
}

// Location is the authority's calendar: the daily limit's and the
// statement's time zone.
func (c *Config) Location() (*time.Location, error) {
	if c.DailyLimit.TimeZone == "Asia/Shanghai" {
		if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
			return loc, nil
		}
		// China has no daylight saving time since 1991; a fixed zone
		// works on hosts without tzdata.
		return time.FixedZone("CST", 8*3600), nil
	}
	loc, err := time.LoadLocation(c.DailyLimit.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("config: daily_limit.time_zone: %w", err)
	}
	return loc, nil
}

// Validate checks every setting and reports all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Listen == "" {
		bad("listen: must not be empty")
	}
	if len(c.Tokens) == 0 {
		bad("tokens: at least one API token is needed")
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		switch {
		case t == "":
			bad("tokens[%d]: empty token", i)
		case !contracts.IsToken68(t):
			bad("tokens[%d]: a bearer token is letters, digits and -._~+/ (then any '='); no spaces or commas", i)
		case seen[t]:
			bad("tokens[%d]: duplicate token", i)
		}
		seen[t] = true
	}
	switch {
	case c.AdminToken == "":
		bad("admin_token: must not be empty")
	case !contracts.IsToken68(c.AdminToken):
		bad("admin_token: a bearer token is letters, digits and -._~+/ (then any '=')")
	case seen[c.AdminToken]:
		bad("admin_token: must differ from every API token")
	}
	if c.BodyLimit < 256 || c.BodyLimit > 64<<20 {
		bad("body_limit: must be between 256 bytes and 64 MiB")
	}
	if c.MaxLatency <= 0 {
		bad("max_latency: must be positive")
	}
	if c.MaxHang <= 0 {
		bad("max_hang: must be positive")
	}
	// Written so that NaN, which fails every comparison and would turn the
	// limit off while looking set, is refused.
	if !(c.RateLimit.PerSecond >= 0) {
		bad("rate_limit.per_second: must be a number, not negative")
	}
	if c.RateLimit.PerSecond > 0 && c.RateLimit.Burst < 1 {
		bad("rate_limit.burst: must be at least 1 when the rate limit is on")
	}
	if c.DailyLimit.PerIDNumber < 0 {
		bad("daily_limit.per_id_number: must not be negative")
	}
	// The statement counts days in this zone even when the daily limit
	// is off.
	if _, err := c.Location(); err != nil {
		errs = append(errs, err)
	}
	if c.DailyLimit.PerIDNumber > 0 {
		if c.DailyLimit.MaxTracked < 1 {
			bad("daily_limit.max_tracked: must be at least 1 when the daily limit is on")
		}
	}
	if c.Journal.Size < 1 || c.Journal.Size > 1_000_000 {
		bad("journal.size: must be between 1 and 1000000")
	}
	if c.Statement.Authority == "" || len(c.Statement.Authority) > 100 {
		bad("statement.authority: must be 1 to 100 bytes")
	}
	if c.Statement.MaxLines < 0 || c.Statement.MaxLines > MaxStatementLines {
		bad("statement.max_lines: must be between 0 and %d", MaxStatementLines)
	}
	for name, d := range map[string]Duration{"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout} {
		if d < 0 {
			bad("%s: must not be negative (0: none)", name)
		}
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout: must be positive")
	}
	errs = append(errs, c.Tencent.validate(seen)...)
	for _, id := range c.Tencent.SecretIDs() {
		if id == c.AdminToken {
			bad("tencent: a secret_id equals admin_token")
		}
	}
	secretIDs := map[string]bool{}
	for _, id := range c.Tencent.SecretIDs() {
		secretIDs[id] = true
	}
	for tok, sc := range c.Scenarios {
		if !seen[tok] && !secretIDs[tok] {
			bad("scenarios: %q is not one of the tokens or Tencent SecretIds", tok)
			continue
		}
		if err := sc.Validate(c.MaxLatency.D()); err != nil {
			bad("scenarios[%s]: %v", tok, err)
		}
	}
	for i, k := range c.Encryption.ExtraKeys {
		if k == "" {
			bad("encryption.extra_keys[%d]: empty key source", i)
		}
	}
	if k := c.Encryption.KeyCache; k.Entries < 0 || k.Entries > MaxKeyCacheEntries {
		bad("encryption.key_cache.entries: must be between 0 (off) and %d", MaxKeyCacheEntries)
	} else if k.Entries > 0 && k.TTL <= 0 {
		bad("encryption.key_cache.ttl: must be positive when entries is")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: must be debug, info, warn or error")
	}
	if err := c.Sessions.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}
