package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/billing"
)

func TestConfigValidation(t *testing.T) {
	on := func(c *Config) { c.Enabled, c.KeySecret = true, "0123456789abcdef" }
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"on with secret", on, ""},
		{"on without secret", func(c *Config) { c.Enabled = true }, "cache.key_secret"},
		{"tiny budget", func(c *Config) { on(c); c.MaxBytes = 1000 }, "max_bytes"},
		{"transient code", func(c *Config) { on(c); c.TTL["-6"] = time.Hour }, `"-6" must be a billed code`},
		{"code removed with 0s", func(c *Config) { on(c); c.TTL["-1"] = 0 }, ""},
		{"unknown route", func(c *Config) { on(c); c.Routes = map[string]map[string]time.Duration{"nope": {}} }, `unknown route "nope"`},
		{"off ignores its fields", func(c *Config) { c.MaxBytes, c.TTL["-6"] = 1, time.Hour }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := validate(c, billing.DefaultRoutes())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
