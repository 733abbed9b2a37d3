package fieldcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/idgate/idgate/contracts"
)

// Keyring is the receiver side: the private keys requests may be wrapped
// for, in order of preference, and an optional cache of unwrapped data keys.
// Several keys of one algorithm serve key rotation: during the window the
// ring holds the new and the old key and accepts blobs for either. Every
// RSA key of a blob's size unwraps it (a miss costs one RSA operation per
// such key), so keep the rotation window short; SM2 keys are tried in order
// until one unwraps, so put the key most clients use first. A Keyring is
// immutable and safe for concurrent use; rotate by building a new one.
type Keyring struct {
	rsa   []rsaKey
	sm2   []*sm2.PrivateKey
	cache *KeyCache
	id    [32]byte // fingerprint of the ring's public keys; scopes cache entries
}

type rsaKey struct {
	priv *rsa.PrivateKey
	size int
	// reject keys the HMAC that derives the substitute data key of a blob
	// that does not unwrap (implicit rejection); it is secret, derived
	// from the private key.
	reject []byte
}

// minRSABits is the smallest RSA private key a receiver may hold.
const minRSABits = 2048

// NewKeyring builds a receiver from *rsa.PrivateKey and *sm2.PrivateKey
// values (an *ecdsa.PrivateKey on the SM2 curve is accepted too), as
// ParsePrivateKeysPEM returns them. cache may be nil (no caching); it may be
// shared by several keyrings, since entries are scoped to the ring's keys.
func NewKeyring(cache *KeyCache, keys ...crypto.PrivateKey) (*Keyring, error) {
	k := &Keyring{cache: cache}
	h := sha256.New()
	h.Write([]byte("idgate/fieldcrypto keyring v1"))
	for i, key := range keys {
		switch v := key.(type) {
		case *rsa.PrivateKey:
			if v == nil {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d is nil", i)
			}
			if err := v.Validate(); err != nil {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d: %w", i, err)
			}
			if v.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d: RSA key of %d bits, want at least %d", i, v.N.BitLen(), minRSABits)
			}
			v.Precompute()
			mac := sha256.New()
			mac.Write([]byte("idgate/fieldcrypto implicit rejection v1"))
			mac.Write(v.D.Bytes())
			k.rsa = append(k.rsa, rsaKey{priv: v, size: v.Size(), reject: mac.Sum(nil)})
			h.Write(smx509.MarshalPKCS1PublicKey(&v.PublicKey))
		case *sm2.PrivateKey:
			if v == nil || !sm2.IsSM2PublicKey(&v.PublicKey) {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d is not an SM2 key", i)
			}
			k.sm2 = append(k.sm2, v)
			h.Write(sm2Point(&v.PublicKey))
		case *ecdsa.PrivateKey:
			if v == nil || !sm2.IsSM2PublicKey(&v.PublicKey) {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d: ECDSA key not on the SM2 curve", i)
			}
			sk, err := new(sm2.PrivateKey).FromECPrivateKey(v)
			if err != nil {
				return nil, fmt.Errorf("fieldcrypto: keyring: key %d: %w", i, err)
			}
			k.sm2 = append(k.sm2, sk)
			h.Write(sm2Point(&sk.PublicKey))
		default:
			return nil, fmt.Errorf("fieldcrypto: keyring: key %d: unsupported key type %T", i, key)
		}
	}
	if len(k.rsa)+len(k.sm2) == 0 {
		return nil, fmt.Errorf("fieldcrypto: keyring: no keys")
	}
	h.Sum(k.id[:0])
	return k, nil
}

// sm2Point is the fixed-length X||Y of an SM2 public key.
func sm2Point(pub *ecdsa.PublicKey) []byte {
	b := make([]byte, 64)
	pub.X.FillBytes(b[:32])
	pub.Y.FillBytes(b[32:])
	return b
}

// Accepts reports whether the ring holds a key for alg.
func (k *Keyring) Accepts(alg Algorithm) bool {
	switch alg {
	case AES256CBC:
		return len(k.rsa) > 0
	case SM4GCM:
		return len(k.sm2) > 0
	}
	return false
}

// PublicKeys lists the ring's public keys in order (RSA first), for
// publishing to clients.
func (k *Keyring) PublicKeys() []crypto.PublicKey {
	out := make([]crypto.PublicKey, 0, len(k.rsa)+len(k.sm2))
	for _, r := range k.rsa {
		out = append(out, &r.priv.PublicKey)
	}
	for _, s := range k.sm2 {
		out = append(out, &s.PublicKey)
	}
	return out
}

// Open unwraps the data key of enc and decrypts the fields enc lists,
// returning them in plaintext (fields enc does not list are returned as
// they came) and the session to seal the answer with. Every error is an
// *Error; decrypt failures all read DecryptFailure. All structural checks
// run before the private-key operation, so malformed objects cost nothing.
func (k *Keyring) Open(enc *contracts.Encryption, sealed Fields) (Fields, *Session, error) {
	if enc == nil {
		return Fields{}, nil, errOf(KindFieldNotAllowed, "encrypt_list")
	}
	p, err := parseObject(enc, &sealed, nil)
	if err != nil {
		return Fields{}, nil, err
	}
	if !k.Accepts(p.alg) {
		return Fields{}, nil, errOf(KindUnsupportedAlgorithm, "algorithm")
	}
	blob, err := b64.DecodeString(enc.CiphertextBlob)
	if err != nil {
		return Fields{}, nil, errOf(KindInvalidBase64, "ciphertext_blob")
	}
	if p.alg == SM4GCM {
		if blob, err = normalizeSM2(blob); err != nil {
			return Fields{}, nil, err
		}
	}

	// The cache holds what the unwrap alone gives: whether a blob is (or
	// becomes) cached depends on the blob and nothing else, never on
	// whether the fields then decrypt, so the time of a later request
	// with the same blob tells nothing about this one's IV, padding or
	// tags (see "Unwrapped-key cache" in the package documentation).
	var ck cacheKey
	if k.cache != nil {
		ck = k.cacheKey(p.alg, blob)
		if dks, ok := k.cache.get(ck); ok {
			return k.finish(&p, enc, sealed, dks)
		}
	}
	var dks []byte
	if p.alg == AES256CBC {
		dks, err = k.unwrapRSA(blob)
	} else {
		dks, err = k.unwrapSM2(blob)
	}
	if err != nil {
		return Fields{}, nil, err
	}
	k.cache.put(ck, dks)
	return k.finish(&p, enc, sealed, dks)
}

// unwrapRSA unwraps blob with every RSA key of the blob's size and returns
// the candidate data keys, concatenated in the ring's order. RSA PKCS#1
// v1.5 cannot tell a wrong key from a forged blob without becoming a
// Bleichenbacher oracle, so it does not try: DecryptPKCS1v15SessionKey
// leaves a substitute key in place when the padding is bad, and the fields
// then fail to decrypt exactly as they would with a wrong data key. The
// substitute is derived from the blob with a secret (implicit rejection, as
// in draft-irtf-cfrg-rsa-guidance), not drawn at random: a random one would
// differ between two submissions of the same blob while a real key would
// not, and that difference is itself the oracle the Go documentation warns
// about. Deterministic substitutes also make caching safe.
//
// Every key of the size is always tried, even when the first one's key
// would decrypt the fields: the number of private-key operations then
// depends on the blob alone, not on whether the fields' padding is valid.
// During a rotation with two keys of one size a miss costs two unwraps.
func (k *Keyring) unwrapRSA(blob []byte) ([]byte, error) {
	var dks []byte
	for i := range k.rsa {
		r := &k.rsa[i]
		if r.size != len(blob) {
			continue
		}
		if dk, ok := r.unwrap(blob); ok {
			dks = append(dks, dk...)
		}
	}
	if dks == nil {
		return nil, errOf(KindBlob, "ciphertext_blob")
	}
	return dks, nil
}

// unwrap returns the data key in blob, or the blob's substitute key when
// its padding is wrong, in constant time. ok is false only for a public
// property: the blob, as a number, is not below the modulus.
func (r *rsaKey) unwrap(blob []byte) (dk []byte, ok bool) {
	mac := hmac.New(sha256.New, r.reject)
	mac.Write(blob)
	dk = mac.Sum(nil)[:aesKeyLen]
	//lint:ignore SA1019 the authority's scheme is RSA PKCS#1 v1.5; this is its safe decryption.
	if rsa.DecryptPKCS1v15SessionKey(nil, r.priv, blob, dk) != nil {
		return nil, false
	}
	return dk, true
}

// unwrapSM2 tries the SM2 keys in order and returns the first data key
// that unwraps. SM2 authenticates the wrapped key (C3 = SM3(x2 || key ||
// y2)), so a wrong key or altered blob is detected at unwrap without any
// oracle and the next key is tried.
func (k *Keyring) unwrapSM2(blob []byte) ([]byte, error) {
	for _, priv := range k.sm2 {
		dk, err := sm2.Decrypt(priv, blob)
		if err != nil {
			continue
		}
		if len(dk) != sm4KeyLen {
			return nil, errOf(KindUnwrap, "ciphertext_blob")
		}
		return dk, nil
	}
	return nil, errOf(KindUnwrap, "ciphertext_blob")
}

// finish decrypts the fields with each candidate data key in dks (one or
// more keys of the algorithm's length, concatenated) and returns the first
// that opens them all, or the last failure.
func (k *Keyring) finish(p *parsed, enc *contracts.Encryption, sealed Fields, dks []byte) (Fields, *Session, error) {
	n := p.alg.keyLen()
	var err error
	for ; len(dks) >= n; dks = dks[n:] {
		var s *Session
		if s, err = newSession(p.alg, dks[:n:n], p.iv, enc.IV, enc.CiphertextBlob, p.order); err != nil {
			return Fields{}, nil, err
		}
		var out Fields
		if out, err = s.decrypt(p, sealed); err == nil {
			return out, s, nil
		}
	}
	return Fields{}, nil, err
}

func (k *Keyring) cacheKey(alg Algorithm, blob []byte) cacheKey {
	h := sha256.New()
	h.Write(k.id[:])
	h.Write([]byte(alg))
	h.Write([]byte{0})
	h.Write(blob)
	var ck cacheKey
	h.Sum(ck[:0])
	return ck
}

// SM2 ciphertext sizes for a 16-byte data key.
const (
	sm2Uncompressed = 1 + 64 + 32 + sm4KeyLen // 0x04 X Y C3 C2
	sm2Bare         = 64 + 32 + sm4KeyLen     // X Y C3 C2 (sm-crypto)
	sm2Compressed   = 1 + 32 + 32 + sm4KeyLen // 0x02/0x03 X C3 C2
	sm2ASN1Max      = 2 + 3*35 + 2 + sm4KeyLen
)

// normalizeSM2 accepts the C1C3C2 layouts seen in the wild and returns one
// gmsm decrypts. The layout is told by length alone, which is unambiguous
// for a 16-byte data key: the bare form's first byte is a coordinate and
// may be anything, including 0x04 or 0x30.
func normalizeSM2(b []byte) ([]byte, error) {
	switch {
	case len(b) == sm2Uncompressed && b[0] == 0x04:
		return b, nil
	case len(b) == sm2Bare:
		out := make([]byte, 0, sm2Uncompressed)
		return append(append(out, 0x04), b...), nil
	case len(b) == sm2Compressed && (b[0] == 0x02 || b[0] == 0x03):
		return b, nil
	case len(b) > 0 && len(b) <= sm2ASN1Max && b[0] == 0x30:
		// DER SEQUENCE { x, y, C3, C2 } (GM/T 0009), as GmSSL emits.
		return b, nil
	}
	return nil, errOf(KindBlob, "ciphertext_blob")
}

// OpenRequest decrypts req's encrypted fields in place and clears
// req.Encryption, so that the request holds plaintext only in memory and
// cannot be forwarded as if it were still encrypted. It returns the session
// to seal the answer with, or nil when the request was not encrypted.
func (k *Keyring) OpenRequest(req *contracts.CheckRequest) (*Session, error) {
	if req.Encryption == nil {
		return nil, nil
	}
	out, s, err := k.Open(req.Encryption, Fields{Name: req.Name, IDCard: req.IDCard})
	if err != nil {
		return nil, err
	}
	req.Name, req.IDCard = out.Name, out.IDCard
	req.Encryption = nil
	return s, nil
}

// SealRequest encrypts the fields in set of req for r with a fresh data key
// and sets req.Encryption: the client side, and the gateway towards the
// upstream. The session opens the upstream's answer.
func SealRequest(req *contracts.CheckRequest, r Recipient, set FieldSet) (*Session, error) {
	s, err := NewSession(r)
	if err != nil {
		return nil, err
	}
	return s.sealRequest(req, set)
}

// sealRequest encrypts the fields in set of req with s and sets
// req.Encryption; it returns s, which opens the answer.
func (s *Session) sealRequest(req *contracts.CheckRequest, set FieldSet) (*Session, error) {
	out, enc, err := s.Seal(Fields{Name: req.Name, IDCard: req.IDCard}, set)
	if err != nil {
		return nil, err
	}
	req.Name, req.IDCard = out.Name, out.IDCard
	req.Encryption = &enc
	return s, nil
}
