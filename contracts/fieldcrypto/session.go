package fieldcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm4"

	"github.com/idgate/idgate/contracts"
)

var b64 = base64.StdEncoding

// Session is one data key and IV: what a client draws for a request and a
// receiver unwraps from it. Both sides encrypt and decrypt the fields of the
// request and of its answer with it, as the scheme prescribes (same key,
// same IV). A Session is safe for concurrent use.
type Session struct {
	alg   Algorithm
	key   []byte
	iv    []byte
	ivB64 string
	blob  string
	// order is the request's encrypt_list on the receiver side (zero for
	// sessions from NewSession): the answer lists its fields, and their
	// GCM tags, in this order.
	order fieldOrder
	block cipher.Block // AES-256-CBC
	aead  cipher.AEAD  // SM4-GCM
}

// NewSession draws a fresh random data key and IV for the recipient's
// algorithm and wraps the key with its public key. This is the client side
// (and the gateway's side towards the upstream).
func NewSession(r Recipient) (*Session, error) {
	if r.alg == "" {
		return nil, errors.New("fieldcrypto: new session: recipient has no public key")
	}
	key := make([]byte, r.alg.keyLen())
	iv := make([]byte, r.alg.ivLen())
	// crypto/rand.Read never fails (Go 1.24+); the wrap below may.
	_, _ = rand.Read(key)
	_, _ = rand.Read(iv)
	wrapped, err := r.wrap(key)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: new session: wrap data key: %w", err)
	}
	return newSession(r.alg, key, iv, "", b64.EncodeToString(wrapped), fieldOrder{})
}

func newSession(alg Algorithm, key, iv []byte, ivB64, blob string, order fieldOrder) (*Session, error) {
	s := &Session{alg: alg, key: key, iv: iv, ivB64: ivB64, blob: blob, order: order}
	if s.ivB64 == "" {
		s.ivB64 = b64.EncodeToString(iv)
	}
	var err error
	switch alg {
	case AES256CBC:
		s.block, err = aes.NewCipher(key)
	case SM4GCM:
		var b cipher.Block
		if b, err = sm4.NewCipher(key); err == nil {
			s.aead, err = cipher.NewGCM(b)
		}
	default:
		return nil, errOf(KindUnsupportedAlgorithm, "algorithm")
	}
	if err != nil {
		return nil, fmt.Errorf("fieldcrypto: %s cipher: %w", alg, err)
	}
	return s, nil
}

// Algorithm is the session's algorithm.
func (s *Session) Algorithm() Algorithm { return s.alg }

// Fields is the set of fields the client encrypted, on the receiver side:
// the answer encrypts these by default. Zero for sessions from NewSession.
func (s *Session) Fields() FieldSet { return s.order.set }

// Blob is the wrapped data key, base64, exactly as sent or received.
func (s *Session) Blob() string { return s.blob }

// Seal encrypts the fields in set with the session's key and IV and returns
// them (base64 ciphertext; fields outside set are copied as they are) with
// the encryption object that describes them. Used by the client for the
// request and by the receiver for the answer (pass s.Fields()).
//
// encrypt_list, and tag_list with it, follow the request's order when set
// is the request's fields (a receiver's answer), so a client that reads
// the tags in the order it sent them gets each field's own tag; otherwise
// name comes before id_card.
//
// SM4-GCM: every field is sealed under the same key and nonce, because the
// scheme says so; see the package documentation for what that costs.
func (s *Session) Seal(plain Fields, set FieldSet) (Fields, contracts.Encryption, error) {
	if !set.valid() {
		return Fields{}, contracts.Encryption{}, errOf(KindFieldNotAllowed, "encrypt_list")
	}
	out := plain
	order := canonicalOrder(set)
	if set == s.order.set {
		order = s.order
	}
	enc := contracts.Encryption{
		EncryptList:    make([]string, 0, order.n),
		CiphertextBlob: s.blob,
		IV:             s.ivB64,
		Algorithm:      string(s.alg),
	}
	for i := 0; i < order.n; i++ {
		enc.EncryptList = append(enc.EncryptList, order.at[i].wireName())
	}
	if s.aead != nil {
		enc.TagList = make([]string, 0, order.n)
	}
	for i := 0; i < order.n; i++ {
		p := out.ptr(order.at[i])
		if s.aead != nil {
			ct := s.aead.Seal(nil, s.iv, []byte(*p), nil)
			n := len(ct) - tagLen
			*p = b64.EncodeToString(ct[:n])
			enc.TagList = append(enc.TagList, b64.EncodeToString(ct[n:]))
			continue
		}
		*p = b64.EncodeToString(s.cbcSeal(*p))
	}
	return out, enc, nil
}

func (s *Session) cbcSeal(p string) []byte {
	n := len(p)/blockLen*blockLen + blockLen
	buf := make([]byte, n)
	copy(buf, p)
	pad := byte(n - len(p))
	for i := len(p); i < n; i++ {
		buf[i] = pad
	}
	cipher.NewCBCEncrypter(s.block, s.iv).CryptBlocks(buf, buf)
	return buf
}

// Open decrypts fields sealed with this session's key: on the client side,
// the answer to a request it sealed. enc describes them; its
// ciphertext_blob is ignored (the session already holds the key) and an
// empty iv means the session's own. A nil enc means the answer carries no
// encrypted field, and sealed is returned as it is.
func (s *Session) Open(enc *contracts.Encryption, sealed Fields) (Fields, error) {
	if enc == nil {
		return sealed, nil
	}
	p, err := parseObject(enc, &sealed, s.iv)
	if err != nil {
		return Fields{}, err
	}
	if p.alg != s.alg {
		return Fields{}, errOf(KindUnsupportedAlgorithm, "algorithm")
	}
	return s.decrypt(&p, sealed)
}

// MaskRejection hides, for AES-256-CBC sessions, why decrypted fields were
// refused. CBC carries no integrity check, so an attacker who replays a
// captured request with a tampered IV learns from "decrypt failure" versus
// "illegal name" whether the padding was valid (Vaudenay's padding oracle).
// Answering the refusal of an encrypted field (result -2 when id_card was
// encrypted, -3 when name was) with the decrypt failure closes that
// channel. SM4-GCM is authenticated, so its rejections pass unchanged, as
// do nil and rejections about fields the client did not encrypt.
func (s *Session) MaskRejection(r *contracts.Rejection) *contracts.Rejection {
	if r == nil || s == nil || s.alg != AES256CBC {
		return r
	}
	switch {
	case r.Result == contracts.ResultIllegalID && s.order.set.Has(FieldIDCard),
		r.Result == contracts.ResultIllegalName && s.order.set.Has(FieldName):
		return &contracts.Rejection{Error: contracts.ErrTokenMismatched, Reason: DecryptFailure}
	}
	return r
}

// parsed is an encryption object whose structure has been checked and
// whose base64 has been decoded; nothing secret has been touched yet.
type parsed struct {
	alg   Algorithm
	order fieldOrder
	iv    []byte
	ct    [2][]byte // ciphertext of order.at[i]; for GCM with its tag appended
}

// parseObject checks everything that can be checked without a key, so that
// every structural error is reported before any private-key operation.
// defaultIV is used when enc.IV is empty (session-level Open only).
func parseObject(enc *contracts.Encryption, sealed *Fields, defaultIV []byte) (parsed, error) {
	var p parsed
	alg, err := ParseAlgorithm(enc.Algorithm)
	if err != nil {
		return p, err
	}
	p.alg = alg
	if p.order, err = parseEncryptList(enc.EncryptList); err != nil {
		return p, err
	}
	if enc.IV == "" && defaultIV != nil {
		p.iv = defaultIV
	} else {
		if p.iv, err = b64.DecodeString(enc.IV); err != nil {
			return p, errOf(KindInvalidBase64, "iv")
		}
		if len(p.iv) != alg.ivLen() {
			return p, errOf(KindIVLength, "iv")
		}
	}
	var tags [2][]byte
	switch alg {
	case SM4GCM:
		if len(enc.TagList) != p.order.n {
			return p, errOf(KindTagList, "tag_list")
		}
		for i, t := range enc.TagList {
			if tags[i], err = b64.DecodeString(t); err != nil {
				return p, errOf(KindInvalidBase64, "tag_list")
			}
			if len(tags[i]) != tagLen {
				return p, errOf(KindTagList, "tag_list")
			}
		}
	default:
		if len(enc.TagList) != 0 {
			return p, errOf(KindTagList, "tag_list")
		}
	}
	for i := 0; i < p.order.n; i++ {
		f := p.order.at[i]
		v := *sealed.ptr(f)
		buf := make([]byte, b64.DecodedLen(len(v)), b64.DecodedLen(len(v))+len(tags[i]))
		n, err := b64.Decode(buf, []byte(v))
		if err != nil {
			return p, errOf(KindInvalidBase64, f.wireName())
		}
		p.ct[i] = append(buf[:n], tags[i]...)
	}
	return p, nil
}

// decrypt opens every field of p. It never modifies p, so a caller may try
// it again with another key.
func (s *Session) decrypt(p *parsed, sealed Fields) (Fields, error) {
	out := sealed
	for i := 0; i < p.order.n; i++ {
		f := p.order.at[i]
		var pt []byte
		if s.aead != nil {
			var err error
			if pt, err = s.aead.Open(nil, p.iv, p.ct[i], nil); err != nil {
				return Fields{}, errOf(KindTagMismatch, f.wireName())
			}
		} else {
			ct := p.ct[i]
			if len(ct) == 0 || len(ct)%blockLen != 0 {
				return Fields{}, errOf(KindPadding, f.wireName())
			}
			buf := make([]byte, len(ct))
			cipher.NewCBCDecrypter(s.block, p.iv).CryptBlocks(buf, ct)
			var ok bool
			if pt, ok = unpad(buf); !ok {
				return Fields{}, errOf(KindPadding, f.wireName())
			}
		}
		if !utf8.Valid(pt) {
			return Fields{}, errOf(KindPlaintext, f.wireName())
		}
		*out.ptr(f) = string(pt)
	}
	return out, nil
}

// unpad strips PKCS#7 padding in time independent of the padding's value.
// b is a non-empty whole number of blocks.
func unpad(b []byte) ([]byte, bool) {
	n := len(b)
	pad := int(b[n-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, blockLen)
	for i := 0; i < blockLen; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i+1, pad)
		eq := subtle.ConstantTimeByteEq(b[n-1-i], byte(pad))
		good &= eq | (inPad ^ 1)
	}
	if good != 1 {
		return nil, false
	}
	return b[:n-pad], true
}
