package breaker

import (
	"strings"
	"testing"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"ratio", func(c *Config) { c.FailureRatio = 1.5 }, "failure_ratio"},
		{"probes", func(c *Config) { c.HalfOpenProbes = 0 }, "half_open_probes"},
		{"window", func(c *Config) { c.Window = 0 }, "breaker.window"},
		{"off ignores its fields", func(c *Config) { *c = Config{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
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
