package encryption

import (
	"errors"
	"fmt"
	"time"

	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// Encryption modes of a route (routes[].encryption.mode); gateway/README.md
// says what each costs.
const (
	// ModePassthrough forwards the encryption object untouched: the
	// gateway cannot validate (or cache) encrypted requests.
	ModePassthrough = "passthrough"
	// ModeTerminate opens encrypted requests with the gateway's private
	// keys, validates and bills on the plaintext in memory, re-encrypts for
	// the upstream and re-encrypts the answer for the client.
	ModeTerminate = "terminate"
	// ModeEncryptUpstream encrypts every request towards the upstream;
	// clients send plaintext (over TLS to the gateway).
	ModeEncryptUpstream = "encrypt-upstream"
)

// Config is the `encryption:` section: the gateway's key material for the
// sensitive-field encryption object. Keys are named by source,
// "file:PATH" or "env:NAME" (PEM; an SM2 private key may also be 64 hex
// digits), and read when the engine is built or reloaded; their values
// are never logged.
type Config struct {
	// PrivateKeys open client requests on terminate (and encrypt-upstream)
	// routes. Every key listed is accepted, so a rotation lists the new key
	// and the old one until clients have moved; SIGHUP re-reads them.
	PrivateKeys []string `yaml:"private_keys"`
	// UpstreamKeys are the authority's public keys, at most one per
	// algorithm (RSA for AES-256-CBC, SM2 for SM4-GCM). From files or env
	// only: a key fetched from the upstream itself would trust whoever
	// answers on its address.
	UpstreamKeys []string `yaml:"upstream_keys"`
	// UpstreamAlgorithm is what encrypt-upstream seals with, and what
	// terminate uses when the client's algorithm has no upstream key.
	// Empty: the first upstream key's.
	UpstreamAlgorithm string `yaml:"upstream_algorithm"`
	// KeyCache keeps unwrapped data keys of blobs clients reuse.
	KeyCache KeyCache `yaml:"key_cache"`
	// UpstreamKeyReuse bounds how long one data key sealed towards the
	// upstream is reused. Read at start; a reload rotates the keys but
	// keeps these bounds.
	UpstreamKeyReuse KeyReuse `yaml:"upstream_key_reuse"`
}

// KeyReuse bounds one upstream data key: at most Messages requests and
// MaxAge from its wrap, whichever comes first; every request still gets a
// fresh random IV (nonce). Zero values take the defaults (4096 requests,
// one minute); Messages 1 draws a fresh key for every request. Messages is
// at most 2^20, which keeps the probability that two requests under one
// SM4-GCM key share a nonce below 2^-57 (contracts/fieldcrypto, "Data-key
// reuse").
type KeyReuse struct {
	Messages int           `yaml:"messages"`
	MaxAge   time.Duration `yaml:"max_age"`
}

// policy is r in the codec's terms (Validate has refused negatives).
func (r KeyReuse) policy() fieldcrypto.ReusePolicy {
	return fieldcrypto.ReusePolicy{Messages: uint64(max(r.Messages, 0)), MaxAge: r.MaxAge}
}

// KeyCache bounds the unwrapped-key cache; Entries 0 turns it off.
type KeyCache struct {
	Entries int           `yaml:"entries"`
	TTL     time.Duration `yaml:"ttl"`
}

// RouteConfig is a route's `encryption:` setting.
type RouteConfig struct {
	// Mode: passthrough (default), terminate or encrypt-upstream.
	Mode string `yaml:"mode"`
}

// DefaultConfig has no keys: every route passthrough. Upstream data keys
// are reused within the codec's defaults.
func DefaultConfig() Config {
	return Config{UpstreamKeyReuse: KeyReuse{
		Messages: fieldcrypto.DefaultReuseMessages,
		MaxAge:   fieldcrypto.DefaultReuseMaxAge,
	}}
}

// DefaultRoute is a passthrough route.
func DefaultRoute() RouteConfig { return RouteConfig{Mode: ModePassthrough} }

// SetDefaults makes an unset mode passthrough.
func (r *RouteConfig) SetDefaults() {
	if r.Mode == "" {
		r.Mode = ModePassthrough
	}
}

// Encrypting reports whether the mode needs the engine (terminate or
// encrypt-upstream).
func (r RouteConfig) Encrypting() bool { return r.Mode != ModePassthrough && r.Mode != "" }

// Validate checks the shape; the keys themselves are read (and refused)
// by New and Load, when the server starts or reloads.
func (c Config) Validate() error {
	var errs []error
	switch c.UpstreamAlgorithm {
	case "", "AES-256-CBC", "SM4-GCM":
	default:
		errs = append(errs, fmt.Errorf("encryption.upstream_algorithm %q: want AES-256-CBC or SM4-GCM", c.UpstreamAlgorithm))
	}
	if k := c.KeyCache; k.Entries < 0 || k.TTL < 0 || (k.Entries > 0 && k.TTL == 0) {
		errs = append(errs, errors.New("encryption.key_cache: entries and ttl must not be negative, and ttl positive when entries is"))
	}
	if r := c.UpstreamKeyReuse; r.Messages < 0 || r.MaxAge < 0 {
		errs = append(errs, errors.New("encryption.upstream_key_reuse: messages and max_age must not be negative"))
	} else if err := r.policy().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("encryption.upstream_key_reuse: %w", err))
	}
	return errors.Join(errs...)
}

// ValidateRoute checks a route's mode (path names the route) against the
// keys this config has.
func (c Config) ValidateRoute(path string, r RouteConfig) error {
	switch r.Mode {
	case ModePassthrough:
	case ModeTerminate:
		if len(c.PrivateKeys) == 0 || len(c.UpstreamKeys) == 0 {
			return fmt.Errorf("route %q: encryption.mode terminate needs encryption.private_keys and encryption.upstream_keys", path)
		}
	case ModeEncryptUpstream:
		if len(c.UpstreamKeys) == 0 {
			return fmt.Errorf("route %q: encryption.mode encrypt-upstream needs encryption.upstream_keys", path)
		}
	default:
		return fmt.Errorf("route %q: encryption.mode %q: want passthrough, terminate or encrypt-upstream", path, r.Mode)
	}
	return nil
}
