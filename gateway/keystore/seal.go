package keystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer seals secrets at rest with AES-256-GCM: a random 96-bit nonce per
// value, stored in front of the ciphertext, and associated data that
// binds the value to its row.
type Sealer struct{ aead cipher.AEAD }

// NewSealer takes a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("keystore: the sealing key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keystore: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce ‖ ciphertext ‖ tag of plain.
func (s *Sealer) Seal(plain, ad []byte) ([]byte, error) {
	out := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("keystore: nonce: %w", err)
	}
	return s.aead.Seal(out, out, plain, ad), nil
}

// ErrUnseal is a sealed value that does not open: another sealing key, or
// a value that was altered or moved to another row.
var ErrUnseal = errors.New("keystore: a sealed SecretKey does not open (wrong auth.secret_encryption_key, or the row was altered)")

// Open reverses Seal.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
