package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the tenants and their keys (`tenants:` at the top of the
// configuration). A reload replaces it whole.
type Config struct {
	Tenants []TenantConfig `yaml:"tenants"`
}

// TenantConfig is a consumer of the gateway with its keys and limits.
type TenantConfig struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Disabled bool   `yaml:"disabled"`
	// DailyQuota caps billed verifications per calendar day across all the
	// tenant's keys; 0 means unlimited.
	DailyQuota int64 `yaml:"daily_quota"`
	// Rate (requests/s) and Burst are the default per-key token bucket.
	Rate  float64     `yaml:"rate"`
	Burst int         `yaml:"burst"`
	Keys  []KeyConfig `yaml:"keys"`
}

// KeyConfig is one API key of a tenant. Exactly one of Key (plaintext,
// hashed at load; demo only), KeySHA256 (hex digest) or KeyFile (a file
// holding the plaintext, read into Key) is set.
type KeyConfig struct {
	ID        string        `yaml:"id"`
	Key       secret.Secret `yaml:"key,omitempty" file:"key_file"`
	KeySHA256 string        `yaml:"key_sha256,omitempty"`
	KeyFile   string        `yaml:"key_file,omitempty"`
	Disabled  bool          `yaml:"disabled"`
	// Zero values inherit the tenant's rate and burst; DailyQuota 0 means no
	// per-key cap below the tenant's.
	Rate       float64 `yaml:"rate"`
	Burst      int     `yaml:"burst"`
	DailyQuota int64   `yaml:"daily_quota"`
}

// DemoConfig is the demo tenant `make run` serves: key demo-key, generous
// enough for load tests.
func DemoConfig() Config {
	return Config{Tenants: []TenantConfig{{
		ID:         "demo",
		Name:       "Demo tenant",
		DailyQuota: 10_000_000,
		Rate:       5000,
		Burst:      10000,
		Keys:       []KeyConfig{{ID: "demo-key-1", Key: "demo-key"}},
	}}}
}

// Validate checks tenants and keys and reports every problem it finds.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	tenantIDs := map[string]bool{}
	keyIDs := map[string]bool{}
	for _, t := range c.Tenants {
		if t.ID == "" || tenantIDs[t.ID] {
			bad("tenant %q: id empty or duplicate", t.ID)
		} else if !ValidID(t.ID) {
			bad("tenant %q: id must match %s", t.ID, IDPattern)
		}
		tenantIDs[t.ID] = true
		if err := CheckLimits(t.Rate, t.Burst, t.DailyQuota); err != nil {
			bad("tenant %q: %w", t.ID, err)
		}
		for _, k := range t.Keys {
			if k.ID == "" || keyIDs[k.ID] {
				bad("tenant %q key %q: id empty or duplicate (key ids are global)", t.ID, k.ID)
			}
			keyIDs[k.ID] = true
			if (k.Key == "") == (k.KeySHA256 == "") {
				bad("tenant %q key %q: set exactly one of key, key_sha256, key_file", t.ID, k.ID)
			}
			if k.Key != "" && !contracts.IsToken68(k.Key.Reveal()) {
				// A key a client cannot send in "Authorization: Bearer" would
				// never authenticate.
				bad("tenant %q key %q: key must be a bearer token (letters, digits and -._~+/, optional trailing =)", t.ID, k.ID)
			}
			if k.KeySHA256 != "" {
				if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != sha256.Size {
					bad("tenant %q key %q: key_sha256 must be 64 hex digits", t.ID, k.ID)
				}
			}
			if err := CheckLimits(k.Rate, k.Burst, k.DailyQuota); err != nil {
				bad("tenant %q key %q: %w", t.ID, k.ID, err)
			}
			if EffectiveRate(t, k) <= 0 || EffectiveBurst(t, k) <= 0 {
				bad("tenant %q key %q: rate and burst must be positive (on the key or the tenant)", t.ID, k.ID)
			}
		}
	}
	return errors.Join(errs...)
}

// Digest is the SHA-256 of a key as the config and the key store hold it.
func (k KeyConfig) Digest() [sha256.Size]byte {
	if k.KeySHA256 != "" {
		var d [sha256.Size]byte
		b, _ := hex.DecodeString(k.KeySHA256)
		copy(d[:], b)
		return d
	}
	return sha256.Sum256([]byte(k.Key.Reveal()))
}

// EffectiveRate is the key's rate, or its tenant's when the key has none.
func EffectiveRate(t TenantConfig, k KeyConfig) float64 {
	if k.Rate > 0 {
		return k.Rate
	}
	return t.Rate
}

// EffectiveBurst is the key's burst, or its tenant's when the key has none.
func EffectiveBurst(t TenantConfig, k KeyConfig) int {
	if k.Burst > 0 {
		return k.Burst
	}
	return t.Burst
}
