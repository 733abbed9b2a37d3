package idempotency

import (
	"testing"

	"github.com/idgate/idgate/internal/configtest"
)

func TestConfigValidation(t *testing.T) {
	configtest.Run(t, DefaultConfig, Config.Validate, []configtest.Case[Config]{
		{Name: "defaults", Mod: func(*Config) {}},
		{Name: "no entries", Mod: func(c *Config) { c.MaxEntries = 0 }, Want: "max_entries"},
		{Name: "a disabled store checks nothing", Mod: func(c *Config) { c.MaxEntries, c.Enabled = 0, false }},
	})
}
