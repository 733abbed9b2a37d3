package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/simulator/config"
)

// PublicKeysPath serves the receiver's public keys, so a client (or the
// gateway sealing towards the simulator) can encrypt for it.
const PublicKeysPath = "/encryption/public-keys"

// PublicKey is one entry of GET /encryption/public-keys.
type PublicKey struct {
	Algorithm fieldcrypto.Algorithm `json:"algorithm"`
	PEM       string                `json:"pem"`
}

// PublicKeys is the body of GET /encryption/public-keys.
type PublicKeys struct {
	Keys []PublicKey `json:"keys"`
}

// receiver opens encrypted requests. Keys from files are loaded (or
// created) at start, so a bad key file stops the simulator at once;
// in-memory keys are generated on first use, so servers that never see an
// encrypted request (tests, load tests) do not pay for RSA key generation.
type receiver struct {
	fileKeys []crypto.PrivateKey
	needRSA  bool
	needSM2  bool
	// cache is nil when encryption.key_cache is off. A key enters it on
	// unwrap, before any field is decrypted (fieldcrypto's rule), so it is
	// no timing oracle on padding or tags.
	cache *fieldcrypto.KeyCache

	once sync.Once
	ring *fieldcrypto.Keyring
	err  error
}

func newReceiver(cfg config.Encryption) (*receiver, error) {
	if cfg.KeyDir != "" {
		if cfg.RSAKeyFile == "" {
			cfg.RSAKeyFile = filepath.Join(cfg.KeyDir, "rsa.pem")
		}
		if cfg.SM2KeyFile == "" {
			cfg.SM2KeyFile = filepath.Join(cfg.KeyDir, "sm2.pem")
		}
	}
	r := &receiver{
		needRSA: cfg.RSAKeyFile == "",
		needSM2: cfg.SM2KeyFile == "",
		cache:   fieldcrypto.NewKeyCache(cfg.KeyCache.Entries, cfg.KeyCache.TTL.D()),
	}
	for _, f := range []struct {
		path string
		alg  fieldcrypto.Algorithm
	}{{cfg.RSAKeyFile, fieldcrypto.AES256CBC}, {cfg.SM2KeyFile, fieldcrypto.SM4GCM}} {
		if f.path == "" {
			continue
		}
		keys, _, err := fieldcrypto.EnsureKeyFile(f.path, f.alg)
		if err != nil {
			return nil, fmt.Errorf("server: encryption key %s: %w", f.path, err)
		}
		r.fileKeys = append(r.fileKeys, keys...)
	}
	if len(cfg.ExtraKeys) > 0 {
		keys, err := fieldcrypto.LoadPrivateKeys(cfg.ExtraKeys...)
		if err != nil {
			return nil, fmt.Errorf("server: encryption.extra_keys: %w", err)
		}
		r.fileKeys = append(r.fileKeys, keys...)
	}
	if !r.needRSA && !r.needSM2 {
		r.build()
		if r.err != nil {
			return nil, r.err
		}
	}
	return r, nil
}

// keyring returns the receiver's keys, generating the in-memory ones the
// first time.
func (r *receiver) keyring() (*fieldcrypto.Keyring, error) {
	r.once.Do(r.build)
	return r.ring, r.err
}

func (r *receiver) build() {
	keys := append([]crypto.PrivateKey(nil), r.fileKeys...)
	for _, need := range []struct {
		on  bool
		alg fieldcrypto.Algorithm
	}{{r.needRSA, fieldcrypto.AES256CBC}, {r.needSM2, fieldcrypto.SM4GCM}} {
		if !need.on {
			continue
		}
		k, err := fieldcrypto.GenerateKey(need.alg)
		if err != nil {
			r.err = fmt.Errorf("server: generate %s key: %w", need.alg, err)
			return
		}
		// Generated keys go first: they are the ones the public-key
		// endpoint advertises.
		keys = append([]crypto.PrivateKey{k}, keys...)
	}
	r.ring, r.err = fieldcrypto.NewKeyring(r.cache, keys...)
	if r.err != nil {
		r.err = fmt.Errorf("server: encryption keyring: %w", r.err)
	}
}

func (s *Server) publicKeys(c *fiber.Ctx) error {
	if s.crypto == nil {
		// encryption.enabled is off: no key to offer, and the check API
		// refuses encrypted requests with the same message.
		return adminError(c, contracts.ErrAPINotImplemented, encryptionUnsupported)
	}
	ring, err := s.crypto.keyring()
	if err != nil {
		s.log.Error("simulator: encryption keys unavailable", "error", err)
		return adminError(c, contracts.ErrAPIError, "encryption keys are unavailable")
	}
	out := PublicKeys{Keys: []PublicKey{}}
	for _, pub := range ring.PublicKeys() {
		pem, err := fieldcrypto.MarshalPublicKeyPEM(pub)
		if err != nil {
			return adminError(c, contracts.ErrAPIError, "encoding a public key failed")
		}
		var alg fieldcrypto.Algorithm
		switch pub.(type) {
		case *rsa.PublicKey:
			alg = fieldcrypto.AES256CBC
		case *ecdsa.PublicKey:
			alg = fieldcrypto.SM4GCM
		default:
			continue
		}
		out.Keys = append(out.Keys, PublicKey{Algorithm: alg, PEM: string(pem)})
	}
	return writeJSON(c, fiber.StatusOK, out)
}
