package retry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/billing"
)

// Config is the `retry:` section: the upstream retry policy.
type Config struct {
	// MaxAttempts counts the first call; 1 turns retries off.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff before attempt n is a random duration in
	// [b/2, b], b = min(MinBackoff·2^(n-1), MaxBackoff), or the upstream's
	// Retry-After when it asks for one (never beyond the deadline).
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Deadline bounds all attempts and waits together; each attempt also
	// keeps upstream.timeout.
	Deadline time.Duration `yaml:"deadline"`
	// Results: non-billed 200 result codes worth asking again, for every
	// route not named in Routes (the authority's codes differ per API).
	Results []string            `yaml:"results"`
	Routes  map[string][]string `yaml:"routes"`
}

// DefaultConfig: three attempts within 8 s, asking again on check-2e's
// transient codes (contracts.TransientResults: -4 and -6).
func DefaultConfig() Config {
	var transient []string
	for _, c := range contracts.TransientResults() {
		transient = append(transient, string(c))
	}
	return Config{
		MaxAttempts: 3, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		Deadline: 8 * time.Second, Results: transient, Routes: map[string][]string{},
	}
}

// RetryResults resolves the retried result codes of a route.
func (c Config) RetryResults(route string) []string {
	if m, ok := c.Routes[route]; ok {
		return m
	}
	return c.Results
}

// Validate checks the policy's own bounds.
func (c Config) Validate() error {
	var errs []error
	if c.MaxAttempts < 1 || c.MaxAttempts > 10 {
		errs = append(errs, errors.New("retry.max_attempts must be 1..10"))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, errors.New("retry: min_backoff must be positive and max_backoff at least min_backoff"))
	}
	if c.Deadline <= 0 {
		errs = append(errs, errors.New("retry.deadline must be positive"))
	}
	return errors.Join(errs...)
}

// ValidateRoutes checks the per-route settings against the route table:
// every route named exists, and no retried code is billed (a billed answer
// is never asked again).
func (c Config) ValidateRoutes(routes []billing.RouteConfig) error {
	var errs []error
	names := billing.RouteNames(routes)
	for _, name := range slices.Sorted(maps.Keys(c.Routes)) {
		if !names[name] {
			errs = append(errs, fmt.Errorf("retry.routes: unknown route %q", name))
		}
	}
	for _, r := range routes {
		for _, code := range c.RetryResults(r.Name) {
			if r.Billed(code) {
				errs = append(errs, fmt.Errorf("retry: route %q: result %q is billed; a billed answer is never retried", r.Name, code))
			}
		}
	}
	return errors.Join(errs...)
}
