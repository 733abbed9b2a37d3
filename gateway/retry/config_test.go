package retry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/billing"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"billed code", func(c *Config) { c.Results = []string{"-4", "0"} }, "never retried"},
		{"billed code on a route", func(c *Config) { c.Routes = map[string][]string{"check-2e": {"-1"}} }, "never retried"},
		{"unknown route", func(c *Config) { c.Routes = map[string][]string{"nope": {"-6"}} }, `unknown route "nope"`},
		{"attempts", func(c *Config) { c.MaxAttempts = 0 }, "max_attempts"},
		{"backoff order", func(c *Config) { c.MaxBackoff = time.Millisecond }, "max_backoff"},
		{"deadline", func(c *Config) { c.Deadline = 0 }, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := errors.Join(c.Validate(), c.ValidateRoutes(billing.DefaultRoutes()))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
