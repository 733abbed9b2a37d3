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
	// Secrets is the `auth:` section: how the key store keeps the Tencent
	// pairs of the keys the admin API manages. It is read at start.
	Secrets SecretsConfig `yaml:"auth"`
}

// SecretsConfig protects the Tencent SecretKeys the key store holds. A
// SecretKey must be known in plain to verify a signature (HMAC), so the
// store cannot keep only a digest as it does for bearer keys: it keeps the
// SecretKey sealed with AES-256-GCM under this key, and opens it into
// memory at start.
type SecretsConfig struct {
	// SecretEncryptionKey is 64 hexadecimal digits (32 bytes). Required
	// only once a managed key has a Tencent pair. SecretEncryptionKeyFile
	// wins.
	SecretEncryptionKey     secret.Secret `yaml:"secret_encryption_key" file:"secret_encryption_key_file"`
	SecretEncryptionKeyFile string        `yaml:"secret_encryption_key_file"`
}

// DemoSecretEncryptionKey seals the demo's managed Tencent pairs. It is
// public (it is in this source and configs/gateway.yaml): demo only.
const DemoSecretEncryptionKey = "6964676174652d64656d6f2d6f6e6c792d6e6f742d612d7265616c2d6b65792e"

// Validate checks the sealing key's form when one is set.
func (c SecretsConfig) Validate() error {
	if c.SecretEncryptionKey == "" {
		return nil
	}
	if _, err := c.Key(); err != nil {
		return err
	}
	return nil
}

// Key is the sealing key (nil when none is configured).
func (c SecretsConfig) Key() ([]byte, error) {
	if c.SecretEncryptionKey == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(c.SecretEncryptionKey.Reveal())
	if err != nil || len(b) != 32 {
		return nil, errors.New("auth.secret_encryption_key must be 64 hexadecimal digits (32 bytes)")
	}
	return b, nil
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
	// SecretID and SecretKey are an optional Tencent Cloud API 3.0 pair
	// for the same key: clients of the Tencent dialect (POST / with
	// X-TC-Action) sign with it. Both or neither. SecretKeyFile wins over
	// SecretKey.
	SecretID      string        `yaml:"secret_id,omitempty"`
	SecretKey     secret.Secret `yaml:"secret_key,omitempty" file:"secret_key_file"`
	SecretKeyFile string        `yaml:"secret_key_file,omitempty"`
}

// DemoConfig is the demo tenant `make run` serves: key demo-key (and its
// Tencent pair demo-secret-id / demo-secret-key, the same key), generous
// enough for load tests. Its sealing key is the public demo one.
func DemoConfig() Config {
	return Config{Tenants: []TenantConfig{{
		ID:         "demo",
		Name:       "Demo tenant",
		DailyQuota: 10_000_000,
		Rate:       5000,
		Burst:      10000,
		Keys:       []KeyConfig{{ID: "demo-key-1", Key: "demo-key", SecretID: "demo-secret-id", SecretKey: "demo-secret-key"}},
	}}, Secrets: SecretsConfig{SecretEncryptionKey: DemoSecretEncryptionKey}}
}

// Validate checks tenants and keys and reports every problem it finds.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	tenantIDs := map[string]bool{}
	keyIDs := map[string]bool{}
	secretIDs := map[string]bool{}
	if err := c.Secrets.Validate(); err != nil {
		errs = append(errs, err)
	}
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
			switch {
			case (k.SecretID == "") != (k.SecretKey == ""):
				bad("tenant %q key %q: set both secret_id and secret_key (or secret_key_file), or neither", t.ID, k.ID)
			case k.SecretID != "" && !ValidSecretID(k.SecretID):
				bad("tenant %q key %q: secret_id must be 1 to 128 letters, digits and -._", t.ID, k.ID)
			case k.SecretID != "" && secretIDs[k.SecretID]:
				bad("tenant %q key %q: secret_id %q is used by another key", t.ID, k.ID, k.SecretID)
			case k.SecretKey != "" && !printableSecret(k.SecretKey.Reveal()):
				bad("tenant %q key %q: secret_key must be printable ASCII without spaces", t.ID, k.ID)
			}
			secretIDs[k.SecretID] = k.SecretID != ""
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

// ValidSecretID reports whether id can name a key in a TC3 credential
// scope (<SecretId>/<date>/<service>/tc3_request): no '/', ',' or
// spaces.
func ValidSecretID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func printableSecret(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
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
