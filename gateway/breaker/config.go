package breaker

import (
	"errors"
	"time"
)

// Config is the `breaker:` section: the circuit breaker of the upstream.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Opens when, within Window, at least MinRequests calls were made and
	// the share of failures reached FailureRatio.
	FailureRatio float64       `yaml:"failure_ratio"`
	MinRequests  uint32        `yaml:"min_requests"`
	Window       time.Duration `yaml:"window"`
	// OpenFor: how long it answers 503 at once before probing.
	OpenFor time.Duration `yaml:"open_for"`
	// HalfOpenProbes: calls let through while half-open; all must succeed
	// to close.
	HalfOpenProbes uint32 `yaml:"half_open_probes"`
}

// DefaultConfig: on, opening at half of at least 20 calls in 10 s failed.
func DefaultConfig() Config {
	return Config{
		Enabled: true, FailureRatio: 0.5, MinRequests: 20, Window: 10 * time.Second,
		OpenFor: 5 * time.Second, HalfOpenProbes: 5,
	}
}

// Validate checks an enabled breaker; a disabled one ignores its fields.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.FailureRatio <= 0 || c.FailureRatio > 1 {
		errs = append(errs, errors.New("breaker.failure_ratio must be in (0, 1]"))
	}
	if c.MinRequests == 0 || c.HalfOpenProbes == 0 {
		errs = append(errs, errors.New("breaker.min_requests and breaker.half_open_probes must be positive"))
	}
	if c.Window <= 0 || c.OpenFor <= 0 {
		errs = append(errs, errors.New("breaker.window and breaker.open_for must be positive"))
	}
	return errors.Join(errs...)
}
