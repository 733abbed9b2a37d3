package fieldcrypto

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// FuzzOpen drives the receiver the way the gateway and the simulator do:
// a request body is decoded by contracts and, when it carries an encryption
// object, opened by the keyring. Whatever the bytes, Open must not panic,
// every failure must be an *Error of a documented kind whose client text
// is uniform for decrypt failures, and a success must yield a session
// whose sealed answer the client side opens again.
func FuzzOpen(f *testing.F) {
	fx := newFixture(f, NewKeyCache(64, DefaultCacheTTL))
	for _, alg := range algorithms {
		for i, set := range []FieldSet{AllFields, FieldName, FieldIDCard} {
			plain := samples[i%len(samples)]
			f.Add(sealedBody(f, fx.to[alg], plain, set, nil))
		}
		for _, m := range mutations {
			if m.alg == "" || m.alg == alg {
				f.Add(sealedBody(f, fx.to[alg], samples[0], AllFields, m.edit))
			}
		}
	}
	f.Add([]byte(`{"name":"x","id_card":"y","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM","tag_list":[]}}`))
	f.Add([]byte(`{"encryption":{"encrypt_list":["id_card"],"ciphertext_blob":"","iv":"","algorithm":"AES-256-CBC"}}`))
	f.Add([]byte(`{"encryption":null}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := contracts.DecodeCheckRequest(body)
		if err != nil || req.Encryption == nil {
			return
		}
		enc := *req.Encryption
		plain, sess, err := fx.ring.Open(&enc, Fields{Name: req.Name, IDCard: req.IDCard})
		checkOpen(t, plain, sess, err)
	})
}

// FuzzOpenObject fuzzes the encryption object field by field, which
// reaches well-formed base64 and lengths far more often than mutating JSON.
// encrypt_list and tag_list are comma-separated.
func FuzzOpenObject(f *testing.F) {
	fx := newFixture(f, NewKeyCache(64, DefaultCacheTTL))
	add := func(enc contracts.Encryption, sealed Fields) {
		f.Add(enc.Algorithm, strings.Join(enc.EncryptList, ","), enc.CiphertextBlob, enc.IV, strings.Join(enc.TagList, ","), sealed.Name, sealed.IDCard)
	}
	for _, alg := range algorithms {
		for _, set := range []FieldSet{AllFields, FieldName, FieldIDCard} {
			sealed, _, enc := seal(f, fx.to[alg], samples[0], set)
			add(enc, sealed)
		}
		for _, m := range mutations {
			if m.alg == "" || m.alg == alg {
				sealed, _, enc := seal(f, fx.to[alg], samples[1], AllFields)
				enc.EncryptList = slices.Clone(enc.EncryptList)
				m.edit(&enc, &sealed)
				add(enc, sealed)
			}
		}
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	f.Fuzz(func(t *testing.T, alg, list, blob, iv, tags, name, idCard string) {
		enc := contracts.Encryption{EncryptList: split(list), CiphertextBlob: blob, IV: iv, Algorithm: alg, TagList: split(tags)}
		plain, sess, err := fx.ring.Open(&enc, Fields{Name: name, IDCard: idCard})
		checkOpen(t, plain, sess, err)
	})
}

// checkOpen holds Open to its promises on any input: every failure is an
// *Error of a documented kind, answered as a 400 whose text is uniform for
// decrypt failures, without a session; a success yields a session whose
// sealed answer opens again to the same plaintext.
func checkOpen(t *testing.T, plain Fields, s *Session, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not an *Error", err, err)
		}
		if e.Kind < KindUnsupportedAlgorithm || e.Kind > KindPlaintext {
			t.Fatalf("undocumented kind %d", e.Kind)
		}
		if e.Kind.IsDecrypt() && err.Error() != DecryptFailure {
			t.Fatalf("decrypt failure %s tells the client %q", e.Detail(), err.Error())
		}
		if r := Rejection(err); r.Error != contracts.ErrTokenMismatched {
			t.Fatalf("rejection %+v", r)
		}
		if s != nil {
			t.Fatal("session returned with an error")
		}
		return
	}
	answer, aenc, err := s.Seal(plain, s.Fields())
	if err != nil {
		t.Fatalf("seal answer: %v", err)
	}
	back, err := s.Open(&aenc, answer)
	if err != nil || back != plain {
		t.Fatalf("answer round trip: %v", detail(err))
	}
}

// sealedBody is the JSON of a check request sealed for r, optionally broken
// by edit.
func sealedBody(tb testing.TB, r Recipient, plain Fields, set FieldSet, edit func(*contracts.Encryption, *Fields)) []byte {
	tb.Helper()
	sealed, _, enc := seal(tb, r, plain, set)
	enc.EncryptList = slices.Clone(enc.EncryptList)
	if edit != nil {
		if set != AllFields {
			tb.Fatal("mutations expect both fields sealed")
		}
		edit(&enc, &sealed)
	}
	b, err := json.Marshal(contracts.CheckRequest{Name: sealed.Name, IDCard: sealed.IDCard, Encryption: &enc})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
