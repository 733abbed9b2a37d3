package cache

import (
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/internal/configtest"
)

func TestConfigValidation(t *testing.T) {
	on := func(c *Config) { c.Enabled, c.KeySecret = true, "0123456789abcdef" }
	validateDefault := func(c Config) error { return validate(c, billing.DefaultRoutes()) }
	configtest.Run(t, DefaultConfig, validateDefault, []configtest.Case[Config]{
		{Name: "defaults", Mod: func(*Config) {}},
		{Name: "on with secret", Mod: on},
		{Name: "on without secret", Mod: func(c *Config) { c.Enabled = true }, Want: "cache.key_secret"},
		{Name: "tiny budget", Mod: func(c *Config) { on(c); c.MaxBytes = 1000 }, Want: "max_bytes"},
		{Name: "transient code", Mod: func(c *Config) { on(c); c.TTL["-6"] = time.Hour }, Want: `"-6" must be a billed code`},
		{Name: "code removed with 0s", Mod: func(c *Config) { on(c); c.TTL["-1"] = 0 }},
		{Name: "unknown route", Mod: func(c *Config) { on(c); c.Routes = map[string]map[string]time.Duration{"nope": {}} }, Want: `unknown route "nope"`},
		{Name: "off ignores its fields", Mod: func(c *Config) { c.MaxBytes, c.TTL["-6"] = 1, time.Hour }},
	})
}

func TestSharedNeedsSharedStores(t *testing.T) {
	for _, tc := range []struct {
		enabled, shared, sharedStores, ok bool
	}{
		{true, true, true, true}, {true, true, false, false}, {true, false, false, true}, {false, true, false, true},
	} {
		c := Config{Enabled: tc.enabled, Shared: tc.shared}
		if err := c.ValidateStores(tc.sharedStores); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
