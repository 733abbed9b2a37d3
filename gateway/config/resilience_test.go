package config

import (
	"strings"
	"testing"
	"time"
)

func TestResilienceValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"cache on with secret", func(c *Config) { c.Cache.Enabled, c.Cache.KeySecret = true, "0123456789abcdef" }, ""},
		{"cache without secret", func(c *Config) { c.Cache.Enabled = true }, "cache.key_secret"},
		{"cache tiny budget", func(c *Config) { c.Cache.Enabled, c.Cache.KeySecret, c.Cache.MaxBytes = true, "0123456789abcdef", 1000 }, "max_bytes"},
		{"cache transient code", func(c *Config) {
			c.Cache.Enabled, c.Cache.KeySecret = true, "0123456789abcdef"
			c.Cache.TTL["-6"] = Duration(time.Hour)
		}, `"-6" must be a billed code`},
		{"cache code removed with 0s", func(c *Config) {
			c.Cache.Enabled, c.Cache.KeySecret = true, "0123456789abcdef"
			c.Cache.TTL["-1"] = 0
		}, ""},
		{"cache unknown route", func(c *Config) {
			c.Cache.Enabled, c.Cache.KeySecret = true, "0123456789abcdef"
			c.Cache.Routes = map[string]map[string]Duration{"nope": {}}
		}, `unknown route "nope"`},
		{"retry billed code", func(c *Config) { c.Retry.Results = []string{"-4", "0"} }, "never retried"},
		{"retry attempts", func(c *Config) { c.Retry.MaxAttempts = 0 }, "max_attempts"},
		{"retry backoff order", func(c *Config) { c.Retry.MaxBackoff = Duration(time.Millisecond) }, "max_backoff"},
		{"retry deadline", func(c *Config) { c.Retry.Deadline = 0 }, "deadline"},
		{"breaker ratio", func(c *Config) { c.Breaker.FailureRatio = 1.5 }, "failure_ratio"},
		{"breaker off ignores its fields", func(c *Config) { c.Breaker = Breaker{} }, ""},
		{"idempotency bound", func(c *Config) { c.Idempotency.MaxEntries = 0 }, "max_entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCacheSecretFromEnvAndFile(t *testing.T) {
	env := map[string]string{EnvPrefix + "CACHE_ENABLED": "true", EnvPrefix + "CACHE_KEY_SECRET": "from-env-0123456789"}
	c, err := load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cache.Enabled || c.Cache.KeySecret != "from-env-0123456789" {
		t.Fatalf("env not applied: %+v", c.Cache)
	}
}
