package breaker

import (
	"testing"

	"github.com/idgate/idgate/internal/configtest"
)

func TestConfigValidation(t *testing.T) {
	configtest.Run(t, DefaultConfig, Config.Validate, []configtest.Case[Config]{
		{Name: "defaults", Mod: func(*Config) {}},
		{Name: "ratio", Mod: func(c *Config) { c.FailureRatio = 1.5 }, Want: "failure_ratio"},
		{Name: "probes", Mod: func(c *Config) { c.HalfOpenProbes = 0 }, Want: "half_open_probes"},
		{Name: "window", Mod: func(c *Config) { c.Window = 0 }, Want: "breaker.window"},
		{Name: "off ignores its fields", Mod: func(c *Config) { *c = Config{} }},
	})
}
