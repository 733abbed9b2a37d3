package fieldcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
)

// SM2Encoding is how an SM2 ciphertext (C1C3C2) is laid out in
// ciphertext_blob when this package wraps a key. Open accepts every layout.
type SM2Encoding uint8

const (
	// SM2Uncompressed is 0x04 || X || Y || C3 || C2: C1 as the standard's
	// uncompressed point (GB/T 32918.4, what gmsm, BouncyCastle and Hutool
	// emit). 113 bytes for a 16-byte data key. The default.
	SM2Uncompressed SM2Encoding = iota
	// SM2Bare is X || Y || C3 || C2 without the 0x04 byte: what the
	// sm-crypto npm package emits (as hex) and requires. 112 bytes.
	SM2Bare
)

// Recipient is the public key a data key is wrapped for. Its type fixes the
// algorithm: RSA → AES-256-CBC, SM2 → SM4-GCM. The zero value wraps nothing.
type Recipient struct {
	alg    Algorithm
	rsa    *rsa.PublicKey
	sm2    *ecdsa.PublicKey
	layout SM2Encoding
}

// NewRecipient accepts an *rsa.PublicKey or an SM2 *ecdsa.PublicKey (as
// ParsePublicKeyPEM returns them).
func NewRecipient(pub crypto.PublicKey) (Recipient, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			break
		}
		return Recipient{alg: AES256CBC, rsa: k}, nil
	case *ecdsa.PublicKey:
		if k == nil || !sm2.IsSM2PublicKey(k) {
			break
		}
		return Recipient{alg: SM4GCM, sm2: k}, nil
	}
	return Recipient{}, fmt.Errorf("fieldcrypto: recipient: %T is neither an RSA nor an SM2 public key", pub)
}

// WithSM2Encoding returns the recipient with another SM2 blob layout (for
// receivers that only take sm-crypto's). No effect on RSA recipients.
func (r Recipient) WithSM2Encoding(e SM2Encoding) Recipient {
	r.layout = e
	return r
}

// Algorithm is the algorithm sessions for this recipient use.
func (r Recipient) Algorithm() Algorithm { return r.alg }

// PublicKey is the recipient's key.
func (r Recipient) PublicKey() crypto.PublicKey {
	if r.rsa != nil {
		return r.rsa
	}
	if r.sm2 != nil {
		return r.sm2
	}
	return nil
}

func (r Recipient) wrap(key []byte) ([]byte, error) {
	switch {
	case r.rsa != nil:
		//lint:ignore SA1019 the authority's scheme is RSA PKCS#1 v1.5.
		return rsa.EncryptPKCS1v15(rand.Reader, r.rsa, key)
	case r.sm2 != nil:
		ct, err := sm2.Encrypt(rand.Reader, r.sm2, key, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
		if err != nil {
			return nil, err
		}
		if r.layout == SM2Bare {
			ct = ct[1:]
		}
		return ct, nil
	}
	return nil, errors.New("no public key")
}
