package retry

import (
	"errors"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/internal/configtest"
)

func TestConfigValidation(t *testing.T) {
	validate := func(c Config) error { return errors.Join(c.Validate(), c.ValidateRoutes(billing.DefaultRoutes())) }
	configtest.Run(t, DefaultConfig, validate, []configtest.Case[Config]{
		{Name: "defaults", Mod: func(*Config) {}},
		{Name: "billed code", Mod: func(c *Config) { c.Results = []string{"-4", "0"} }, Want: "never retried"},
		{Name: "billed code on a route", Mod: func(c *Config) { c.Routes = map[string][]string{"check-2e": {"-1"}} }, Want: "never retried"},
		{Name: "unknown route", Mod: func(c *Config) { c.Routes = map[string][]string{"nope": {"-6"}} }, Want: `unknown route "nope"`},
		{Name: "attempts", Mod: func(c *Config) { c.MaxAttempts = 0 }, Want: "max_attempts"},
		{Name: "backoff order", Mod: func(c *Config) { c.MaxBackoff = time.Millisecond }, Want: "max_backoff"},
		{Name: "deadline", Mod: func(c *Config) { c.Deadline = 0 }, Want: "deadline"},
	})
}
