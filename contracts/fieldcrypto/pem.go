package fieldcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// ParsePrivateKeysPEM reads every private key in data, in file order: PKCS#8
// "PRIVATE KEY" (RSA or SM2), PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY"
// on the SM2 curve. One file may thus hold the new and the old key of a
// rotation. Encrypted PEM, other block types and other curves are errors,
// so a misplaced certificate or key is noticed at load, not at first use.
func ParsePrivateKeysPEM(data []byte) ([]crypto.PrivateKey, error) {
	var keys []crypto.PrivateKey
	for n := 0; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := parsePrivateBlock(block)
		if err != nil {
			return nil, fmt.Errorf("fieldcrypto: PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("fieldcrypto: no PEM private key found")
	}
	return keys, nil
}

func parsePrivateBlock(b *pem.Block) (crypto.PrivateKey, error) {
	if _, ok := b.Headers["Proc-Type"]; ok {
		return nil, errors.New("encrypted PEM is not supported")
	}
	var key any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		key, err = smx509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = smx509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
		key, err = smx509.ParseSM2PrivateKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PKCS#8 is not supported")
	default:
		return nil, errors.New("not a private key block")
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *sm2.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if sm2.IsSM2PublicKey(&k.PublicKey) {
			return new(sm2.PrivateKey).FromECPrivateKey(k)
		}
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA or SM2)", key)
}

// ParsePublicKeyPEM reads the first public key in data: PKIX "PUBLIC KEY"
// (RSA or SM2), PKCS#1 "RSA PUBLIC KEY", or the key of a "CERTIFICATE".
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("fieldcrypto: no PEM block found")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = smx509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = smx509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *smx509.Certificate
		if cert, err = smx509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("fieldcrypto: PEM block %s is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: PEM %s: %w", block.Type, err)
	}
	if _, err := NewRecipient(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalPrivateKeyPEM encodes an RSA or SM2 private key as PKCS#8 PEM.
func MarshalPrivateKeyPEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes an RSA or SM2 public key as PKIX PEM, the form
// the simulator publishes and ParsePublicKeyPEM reads.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublicKey returns the public half of an RSA or SM2 private key.
func PublicKey(key crypto.PrivateKey) (crypto.PublicKey, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey, nil
	case *sm2.PrivateKey:
		return &k.PublicKey, nil
	}
	return nil, fmt.Errorf("fieldcrypto: unsupported key type %T", key)
}

// ReadSecret reads key material from a source: "env:NAME" is the value of
// the environment variable NAME (where PEM newlines may be written as the
// two characters \n, as env files force), "file:PATH" or a bare PATH is a
// file. The value is never part of an error.
func ReadSecret(source string) ([]byte, error) {
	if name, ok := strings.CutPrefix(source, "env:"); ok {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("fieldcrypto: environment variable %s is empty or unset", name)
		}
		if !strings.Contains(v, "\n") {
			v = strings.ReplaceAll(v, `\n`, "\n")
		}
		return []byte(v), nil
	}
	path := strings.TrimPrefix(source, "file:")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: read key: %w", err)
	}
	return b, nil
}

// LoadPrivateKeys reads and parses the private keys of each source (see
// ReadSecret), in order: list the new key before the old during a rotation.
// A source is PEM (ParsePrivateKeysPEM) or an SM2 key as 64 hex digits.
func LoadPrivateKeys(sources ...string) ([]crypto.PrivateKey, error) {
	var keys []crypto.PrivateKey
	for _, src := range sources {
		data, err := ReadSecret(src)
		if err != nil {
			return nil, err
		}
		if hexKey := strings.TrimSpace(string(data)); isHex(hexKey) {
			k, err := ParseSM2PrivateKeyHex(hexKey)
			if err != nil {
				return nil, fmt.Errorf("%w (from %s)", err, src)
			}
			keys = append(keys, k)
			continue
		}
		ks, err := ParsePrivateKeysPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%w (from %s)", err, src)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

// LoadRecipient reads a public key (see ReadSecret) for sealing: PEM, or an
// SM2 key in sm-crypto's hex form (see ParseSM2PublicKeyHex).
func LoadRecipient(source string) (Recipient, error) {
	data, err := ReadSecret(source)
	if err != nil {
		return Recipient{}, err
	}
	var pub crypto.PublicKey
	if hexKey := strings.TrimSpace(string(data)); isHex(hexKey) {
		pub, err = ParseSM2PublicKeyHex(hexKey)
	} else {
		pub, err = ParsePublicKeyPEM(data)
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("%w (from %s)", err, source)
	}
	return NewRecipient(pub)
}

// ParseSM2PublicKeyHex reads an SM2 public key as Chinese SDKs such as
// sm-crypto print it: hex of 04||X||Y (130 digits) or X||Y (128 digits).
// The point must lie on the curve.
func ParseSM2PublicKeyHex(s string) (*ecdsa.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("fieldcrypto: SM2 public key: not hex")
	}
	switch {
	case len(b) == 65 && b[0] == 0x04:
		b = b[1:]
	case len(b) == 64:
	default:
		return nil, fmt.Errorf("fieldcrypto: SM2 public key: %d bytes, want 65 (04||X||Y) or 64", len(b))
	}
	curve := sm2.P256()
	x, y := new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:])
	if !curve.IsOnCurve(x, y) {
		return nil, errors.New("fieldcrypto: SM2 public key: point not on the curve")
	}
	return &ecdsa.PublicKey{Curve: curve, X: x, Y: y}, nil
}

// ParseSM2PrivateKeyHex reads an SM2 private key as 64 hex digits (the
// scalar d), the form sm-crypto's generateKeyPairHex prints.
func ParseSM2PrivateKeyHex(s string) (*sm2.PrivateKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return nil, errors.New("fieldcrypto: SM2 private key: want 64 hex digits")
	}
	curve := sm2.P256()
	d := new(big.Int).SetBytes(b)
	// SM2 private keys lie in [1, n-2].
	if d.Sign() == 0 || d.Cmp(new(big.Int).Sub(curve.Params().N, big.NewInt(1))) >= 0 {
		return nil, errors.New("fieldcrypto: SM2 private key: scalar out of range")
	}
	k := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: curve}, D: d}
	k.X, k.Y = curve.ScalarBaseMult(b)
	return new(sm2.PrivateKey).FromECPrivateKey(k)
}

func isHex(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// GenerateKey makes a private key for alg: RSA-2048 for AES-256-CBC, SM2 for
// SM4-GCM.
func GenerateKey(alg Algorithm) (crypto.PrivateKey, error) {
	switch alg {
	case AES256CBC:
		return rsa.GenerateKey(rand.Reader, minRSABits)
	case SM4GCM:
		return sm2.GenerateKey(rand.Reader)
	}
	return nil, errOf(KindUnsupportedAlgorithm, "algorithm")
}

// EnsureKeyFile returns the private keys in the PEM file at path, creating
// the file with a fresh key for alg (mode 0600, written atomically) when it
// does not exist: the simulator's "generate on first run". created reports
// whether this call wrote it. An existing file must hold a key for alg.
// Two processes racing to create it both end up with the winner's key.
func EnsureKeyFile(path string, alg Algorithm) (keys []crypto.PrivateKey, created bool, err error) {
	if data, err := os.ReadFile(path); err == nil {
		keys, err := ParsePrivateKeysPEM(data)
		if err != nil {
			return nil, false, fmt.Errorf("%w (from %s)", err, path)
		}
		if !keysFor(keys, alg) {
			return nil, false, fmt.Errorf("fieldcrypto: %s holds no key for %s", path, alg)
		}
		return keys, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("fieldcrypto: read key: %w", err)
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, false, fmt.Errorf("fieldcrypto: generate %s key: %w", alg, err)
	}
	data, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("fieldcrypto: key directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, false, fmt.Errorf("fieldcrypto: write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("fieldcrypto: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("fieldcrypto: write key: %w", err)
	}
	// Link, unlike rename, refuses to replace a file another process
	// created meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			keys, _, err := EnsureKeyFile(path, alg)
			return keys, false, err
		}
		return nil, false, fmt.Errorf("fieldcrypto: write key: %w", err)
	}
	return []crypto.PrivateKey{key}, true, nil
}

func keysFor(keys []crypto.PrivateKey, alg Algorithm) bool {
	for _, k := range keys {
		switch k.(type) {
		case *rsa.PrivateKey:
			if alg == AES256CBC {
				return true
			}
		case *sm2.PrivateKey:
			if alg == SM4GCM {
				return true
			}
		}
	}
	return false
}
