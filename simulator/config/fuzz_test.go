package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever the YAML, Parse and Validate never panic; an
// accepted file has its lists and maps present (never nil), and a file
// that also validates has a body limit within [256 B, 64 MiB], at least
// one token, a rate limit that is a number and not negative, a time zone
// that loads and every scenario compiling under the latency cap.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "simulator.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"listen: 127.0.0.1:9999\n",
		"body_limit: 1\n",
		"body_limit: 99999999999999999999\n",
		"max_latency: NaN\n",
		"max_latency: -1s\n",
		"max_latency: 1e308\n",
		"rate_limit: {per_second: .nan, burst: 1}\n",
		"tokens: [a, a]\n",
		"tokens: [\"a b\"]\n",
		"daily_limit:\n  time_zone: ../../etc/passwd\n",
		"scenarios:\n  sim-token:\n    outcomes:\n      - weight: 1e308\n        result: \"0\"\n",
		"scenarios:\n  sim-token:\n    latency:\n      distribution: fixed\n      value: 1h\n",
		"scenarios:\n  nobody:\n    fault_rate: 2\n",
		"encryption:\n  key_cache:\n    entries: -1\n",
		"unknown: 1\n",
		"a: &a [*a, *a]\n",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		if c.Scenarios == nil || c.Encryption.ExtraKeys == nil {
			t.Fatalf("accepted file %q left scenarios or encryption.extra_keys nil", b)
		}
		if err := c.Validate(); err != nil {
			return
		}
		if c.BodyLimit < 256 || c.BodyLimit > 64<<20 {
			t.Fatalf("validated body_limit %d", c.BodyLimit)
		}
		if !(c.RateLimit.PerSecond >= 0) {
			t.Fatalf("validated rate_limit.per_second %v", c.RateLimit.PerSecond)
		}
		if len(c.Tokens) == 0 {
			t.Fatal("validated a config without tokens")
		}
		if _, err := c.Location(); err != nil {
			t.Fatalf("validated a time zone that does not load: %v", err)
		}
		for tok, sc := range c.Scenarios {
			if err := sc.Validate(c.MaxLatency.D()); err != nil {
				t.Fatalf("validated scenario %s that does not compile: %v", tok, err)
			}
		}
	})
}
