package idempotency

import (
	"errors"
	"time"
)

// Config is the `idempotency:` section: the Idempotency-Key store.
type Config struct {
	Enabled bool          `yaml:"enabled"`
	TTL     time.Duration `yaml:"ttl"`
	// MaxEntries bounds the in-memory store; the oldest finished entries
	// go first when it is full.
	MaxEntries int `yaml:"max_entries"`
}

// DefaultConfig: on, answers replayed for a day, at most 100,000 held.
func DefaultConfig() Config {
	return Config{Enabled: true, TTL: 24 * time.Hour, MaxEntries: 100_000}
}

// Validate checks an enabled store; a disabled one ignores its fields.
func (c Config) Validate() error {
	if c.Enabled && (c.TTL <= 0 || c.MaxEntries <= 0) {
		return errors.New("idempotency.ttl and idempotency.max_entries must be positive")
	}
	return nil
}
