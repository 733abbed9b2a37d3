package config

import (
	"crypto/tls"
	"fmt"
	"strings"
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

// Encryption is the gateway's key material for the sensitive-field
// encryption object. Keys are named by source, "file:PATH" or "env:NAME"
// (PEM; an SM2 private key may also be 64 hex digits); their values are
// never logged.
type Encryption struct {
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
}

// KeyCache bounds the unwrapped-key cache; Entries 0 turns it off.
type KeyCache struct {
	Entries int      `yaml:"entries"`
	TTL     Duration `yaml:"ttl"`
}

// TLS is the client listener's certificate; both empty means plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the client listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// ServerConfig loads the certificate and key files (TLS 1.2 and later).
func (t TLS) ServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// RouteEncryption is a route's encryption mode.
type RouteEncryption struct {
	Mode string `yaml:"mode"`
}

func (c *Config) applyEncryptionEnv(env func(string) (string, bool)) {
	list := func(name string, dst *[]string) {
		if v, ok := env(EnvPrefix + name); ok {
			*dst = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*dst = append(*dst, s)
				}
			}
		}
	}
	list("ENCRYPTION_PRIVATE_KEYS", &c.Encryption.PrivateKeys)
	list("ENCRYPTION_UPSTREAM_KEYS", &c.Encryption.UpstreamKeys)
	for name, p := range map[string]*string{
		"TLS_CERT_FILE": &c.TLS.CertFile, "TLS_KEY_FILE": &c.TLS.KeyFile,
		"ENCRYPTION_UPSTREAM_ALGORITHM": &c.Encryption.UpstreamAlgorithm,
	} {
		if v, ok := env(EnvPrefix + name); ok {
			*p = v
		}
	}
}

// validateEncryption checks the shape; the keys themselves are loaded (and
// refused) by gateway/encryption when the server starts or reloads.
func (c *Config) validateEncryption() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls: set both cert_file and key_file, or neither")
	}
	e := c.Encryption
	switch e.UpstreamAlgorithm {
	case "", "AES-256-CBC", "SM4-GCM":
	default:
		bad("encryption.upstream_algorithm %q: want AES-256-CBC or SM4-GCM", e.UpstreamAlgorithm)
	}
	if e.KeyCache.Entries < 0 || e.KeyCache.TTL < 0 || (e.KeyCache.Entries > 0 && e.KeyCache.TTL == 0) {
		bad("encryption.key_cache: entries and ttl must not be negative, and ttl positive when entries is")
	}
	for _, r := range c.Routes {
		switch r.Encryption.Mode {
		case ModePassthrough:
		case ModeTerminate:
			if len(e.PrivateKeys) == 0 || len(e.UpstreamKeys) == 0 {
				bad("route %q: encryption.mode terminate needs encryption.private_keys and encryption.upstream_keys", r.Path)
			}
		case ModeEncryptUpstream:
			if len(e.UpstreamKeys) == 0 {
				bad("route %q: encryption.mode encrypt-upstream needs encryption.upstream_keys", r.Path)
			}
		default:
			bad("route %q: encryption.mode %q: want passthrough, terminate or encrypt-upstream", r.Path, r.Encryption.Mode)
		}
	}
	return errs
}
