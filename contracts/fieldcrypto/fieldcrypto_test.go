package fieldcrypto

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/idgate/idgate/contracts"
)

func TestRoundTrip(t *testing.T) {
	fx := newFixture(t, nil)
	sets := []FieldSet{FieldName, FieldIDCard, AllFields}
	for _, alg := range algorithms {
		for _, set := range sets {
			for _, plain := range samples {
				t.Run(string(alg)+"/"+string(rune('0'+set)), func(t *testing.T) {
					sealed, client, enc := seal(t, fx.to[alg], plain, set)
					if enc.Algorithm != string(alg) || !slices.Equal(enc.EncryptList, set.Names()) {
						t.Fatalf("object %+v", enc)
					}
					if set.Has(FieldName) == (sealed.Name == plain.Name) || set.Has(FieldIDCard) == (sealed.IDCard == plain.IDCard) {
						t.Fatalf("fields in set must change, others not: %+v", sealed)
					}
					if alg == SM4GCM && len(enc.TagList) != len(enc.EncryptList) {
						t.Fatalf("tag_list %v", enc.TagList)
					}

					got, server, err := fx.ring.Open(&enc, sealed)
					if err != nil {
						t.Fatalf("Open: %s", detail(err))
					}
					if got != plain {
						t.Fatalf("Open = %+v, want %+v", got, plain)
					}
					if server.Fields() != set || server.Algorithm() != alg || server.Blob() != enc.CiphertextBlob {
						t.Fatalf("session %v %v", server.Fields(), server.Algorithm())
					}

					// The answer, sealed with the client's key and IV.
					answer, aenc, err := server.Seal(plain, server.Fields())
					if err != nil {
						t.Fatal(err)
					}
					if aenc.IV != enc.IV {
						t.Fatalf("answer IV %q, want the request's %q", aenc.IV, enc.IV)
					}
					back, err := client.Open(&aenc, answer)
					if err != nil {
						t.Fatalf("client Open: %s", detail(err))
					}
					if back != plain {
						t.Fatalf("answer = %+v, want %+v", back, plain)
					}
				})
			}
		}
	}
}

// Same key and IV for the same plaintext give the same ciphertext: the
// answer echoing the request reveals nothing new.
func TestAnswerEchoIsDeterministic(t *testing.T) {
	fx := newFixture(t, nil)
	for _, alg := range algorithms {
		sealed, _, enc := seal(t, fx.to[alg], samples[0], AllFields)
		_, server, err := fx.ring.Open(&enc, sealed)
		if err != nil {
			t.Fatal(detail(err))
		}
		again, aenc, _ := server.Seal(samples[0], AllFields)
		if again != sealed || !slices.Equal(aenc.TagList, enc.TagList) {
			t.Errorf("%s: echo differs from request", alg)
		}
	}
}

func TestClientOrderOfEncryptList(t *testing.T) {
	fx := newFixture(t, nil)
	for _, alg := range algorithms {
		sealed, _, enc := seal(t, fx.to[alg], samples[1], AllFields)
		slices.Reverse(enc.EncryptList)
		slices.Reverse(enc.TagList)
		got, _, err := fx.ring.Open(&enc, sealed)
		if err != nil || got != samples[1] {
			t.Errorf("%s: reversed encrypt_list: %v %+v", alg, err, got)
		}
	}
}

func TestRequestHelpers(t *testing.T) {
	fx := newFixture(t, nil)
	for _, alg := range algorithms {
		req := contracts.CheckRequest{Name: samples[0].Name, IDCard: samples[0].IDCard, ValidityEnd: contracts.LongTerm}
		client, err := SealRequest(&req, fx.to[alg], AllFields)
		if err != nil {
			t.Fatal(err)
		}
		if req.Encryption == nil || req.Name == samples[0].Name {
			t.Fatalf("%s: request not sealed: %+v", alg, req)
		}
		server, err := fx.ring.OpenRequest(&req)
		if err != nil {
			t.Fatal(detail(err))
		}
		if req.Encryption != nil || req.Name != samples[0].Name || req.IDCard != samples[0].IDCard || req.ValidityEnd != contracts.LongTerm {
			t.Fatalf("%s: OpenRequest left %+v", alg, req)
		}
		if server.Blob() != client.Blob() {
			t.Fatalf("sessions disagree")
		}
	}
	var plain contracts.CheckRequest
	if s, err := fx.ring.OpenRequest(&plain); s != nil || err != nil {
		t.Errorf("unencrypted request: %v %v", s, err)
	}
}

// mutation breaks a valid object; want is the error class it must cause.
type mutation struct {
	name string
	alg  Algorithm // "" = both
	edit func(e *contracts.Encryption, f *Fields)
	want error
}

func b64of(n int) string { return b64.EncodeToString(make([]byte, n)) }

func flip(s string, at int) string {
	b, err := b64.DecodeString(s)
	if err != nil || len(b) == 0 {
		panic("flip: bad input")
	}
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 0x01
	return b64.EncodeToString(b)
}

var mutations = []mutation{
	{"unknown algorithm", "", func(e *contracts.Encryption, _ *Fields) { e.Algorithm = "AES-128-CBC" }, ErrUnsupportedAlgorithm},
	{"algorithm case", "", func(e *contracts.Encryption, _ *Fields) { e.Algorithm = "sm4-gcm" }, ErrUnsupportedAlgorithm},
	{"empty algorithm", "", func(e *contracts.Encryption, _ *Fields) { e.Algorithm = "" }, ErrUnsupportedAlgorithm},
	{"field not allowed", "", func(e *contracts.Encryption, _ *Fields) { e.EncryptList = []string{"name", "image_url"} }, ErrFieldNotAllowed},
	{"field twice", "", func(e *contracts.Encryption, _ *Fields) { e.EncryptList = []string{"name", "name"} }, ErrFieldNotAllowed},
	{"three fields", "", func(e *contracts.Encryption, _ *Fields) { e.EncryptList = []string{"name", "id_card", "name"} }, ErrFieldNotAllowed},
	{"empty encrypt_list", "", func(e *contracts.Encryption, _ *Fields) { e.EncryptList = nil }, ErrFieldNotAllowed},
	{"iv not base64", "", func(e *contracts.Encryption, _ *Fields) { e.IV = "not base64!" }, &Error{Kind: KindInvalidBase64, Field: "iv"}},
	{"iv empty", "", func(e *contracts.Encryption, _ *Fields) { e.IV = "" }, ErrIVLength},
	{"iv 8 bytes", "", func(e *contracts.Encryption, _ *Fields) { e.IV = b64of(8) }, ErrIVLength},
	{"cbc iv of gcm length", AES256CBC, func(e *contracts.Encryption, _ *Fields) { e.IV = b64of(12) }, ErrIVLength},
	{"gcm nonce of cbc length", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.IV = b64of(16) }, ErrIVLength},
	{"blob not base64", "", func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = "%%%%" }, &Error{Kind: KindInvalidBase64, Field: "ciphertext_blob"}},
	{"blob empty", "", func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = "" }, ErrBlob},
	{"blob truncated", "", func(e *contracts.Encryption, _ *Fields) {
		e.CiphertextBlob = e.CiphertextBlob[:len(e.CiphertextBlob)/2]
	}, ErrBlob},
	{"blob 113 bytes without 0x04", SM4GCM, func(e *contracts.Encryption, _ *Fields) {
		b, _ := b64.DecodeString(e.CiphertextBlob)
		b[0] = 0x05
		e.CiphertextBlob = b64.EncodeToString(b)
	}, ErrBlob},
	{"blob altered (SM2 C2)", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = flip(e.CiphertextBlob, -1) }, ErrUnwrap},
	{"blob altered (SM2 C3)", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = flip(e.CiphertextBlob, 70) }, ErrUnwrap},
	{"blob altered (RSA)", AES256CBC, func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = flip(e.CiphertextBlob, -1) }, ErrDecrypt},
	{"blob all zero (RSA)", AES256CBC, func(e *contracts.Encryption, _ *Fields) { e.CiphertextBlob = b64of(256) }, ErrDecrypt},
	{"blob above modulus (RSA)", AES256CBC, func(e *contracts.Encryption, _ *Fields) {
		e.CiphertextBlob = b64.EncodeToString(bytes.Repeat([]byte{0xff}, 256))
	}, ErrBlob},
	{"tag_list missing", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList = nil }, ErrTagList},
	{"tag_list short", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList = e.TagList[:1] }, ErrTagList},
	{"tag_list long", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList = append(e.TagList, e.TagList[0]) }, ErrTagList},
	{"tag truncated", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList[0] = b64of(12) }, ErrTagList},
	{"tag not base64", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList[1] = "??" }, &Error{Kind: KindInvalidBase64, Field: "tag_list"}},
	{"tag altered", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList[1] = flip(e.TagList[1], 0) }, ErrTagMismatch},
	{"tags swapped", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.TagList[0], e.TagList[1] = e.TagList[1], e.TagList[0] }, ErrTagMismatch},
	{"tag_list with cbc", AES256CBC, func(e *contracts.Encryption, _ *Fields) { e.TagList = []string{b64of(16), b64of(16)} }, ErrTagList},
	{"field not base64", "", func(_ *contracts.Encryption, f *Fields) { f.IDCard = "11010519491231002X" }, &Error{Kind: KindInvalidBase64, Field: "id_card"}},
	{"field altered (gcm)", SM4GCM, func(_ *contracts.Encryption, f *Fields) { f.Name = flip(f.Name, 0) }, ErrTagMismatch},
	{"field empty (gcm)", SM4GCM, func(_ *contracts.Encryption, f *Fields) { f.Name = "" }, ErrTagMismatch},
	{"field altered last block (cbc)", AES256CBC, func(_ *contracts.Encryption, f *Fields) { f.Name = flip(f.Name, -1) }, ErrDecrypt},
	{"field empty (cbc)", AES256CBC, func(_ *contracts.Encryption, f *Fields) { f.Name = "" }, ErrPadding},
	{"field not whole blocks (cbc)", AES256CBC, func(_ *contracts.Encryption, f *Fields) { f.IDCard = b64of(17) }, ErrPadding},
	{"iv altered (gcm)", SM4GCM, func(e *contracts.Encryption, _ *Fields) { e.IV = flip(e.IV, 0) }, ErrTagMismatch},
}

func TestOpenRejects(t *testing.T) {
	fx := newFixture(t, nil)
	for _, alg := range algorithms {
		for _, m := range mutations {
			if m.alg != "" && m.alg != alg {
				continue
			}
			t.Run(string(alg)+"/"+m.name, func(t *testing.T) {
				sealed, _, enc := seal(t, fx.to[alg], samples[0], AllFields)
				enc.EncryptList = slices.Clone(enc.EncryptList)
				m.edit(&enc, &sealed)
				_, s, err := fx.ring.Open(&enc, sealed)
				checkErr(t, err, m.want)
				if s != nil {
					t.Error("a failed Open returned a session")
				}
			})
		}
	}
}

// checkErr asserts the class of err and the promises every codec error
// keeps: an *Error, a 400 token_mismatched, and the one message for every
// decrypt failure.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", detail(want))
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %s, want %s", detail(err), detail(want))
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not an *Error", err)
	}
	if e.Kind.IsDecrypt() != errors.Is(err, ErrDecrypt) {
		t.Fatalf("%s: ErrDecrypt matching wrong", e.Detail())
	}
	if e.Kind.IsDecrypt() && err.Error() != DecryptFailure {
		t.Fatalf("decrypt failure %s tells the client %q", e.Detail(), err.Error())
	}
	rej := Rejection(err)
	if rej.Error != contracts.ErrTokenMismatched || rej.Error.Status() != http.StatusBadRequest || rej.Reason != err.Error() {
		t.Fatalf("Rejection = %+v", rej)
	}
	if !documentedMessages(t)[rej.Reason] {
		t.Fatalf("%s answers %q, which the error table in doc.go does not list", e.Detail(), rej.Reason)
	}
}

func detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail()
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestOpenNilAndForeignAlgorithm(t *testing.T) {
	fx := newFixture(t, nil)
	_, _, err := fx.ring.Open(nil, Fields{})
	checkErr(t, err, ErrFieldNotAllowed)

	r, _ := testKeys(t)
	rsaOnly, err := NewKeyring(nil, r[0])
	if err != nil {
		t.Fatal(err)
	}
	sealed, _, enc := seal(t, fx.to[SM4GCM], samples[0], AllFields)
	_, _, err = rsaOnly.Open(&enc, sealed)
	checkErr(t, err, ErrUnsupportedAlgorithm)
}

func TestWrongKey(t *testing.T) {
	r, s := testKeys(t)
	ring, err := NewKeyring(nil, r[0], s[0])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		to   Recipient
		want error
	}{
		{mustRecipient(t, &r[1].PublicKey), ErrDecrypt},
		{mustRecipient(t, &s[1].PublicKey), ErrUnwrap},
	}
	for _, c := range cases {
		sealed, _, enc := seal(t, c.to, samples[1], AllFields)
		_, _, err := ring.Open(&enc, sealed)
		checkErr(t, err, c.want)
	}
}

// The same bad RSA blob must behave the same every time (implicit
// rejection): a fresh random substitute per attempt would let an attacker
// tell bad padding from good by replaying.
func TestRSAImplicitRejectionIsDeterministic(t *testing.T) {
	fx := newFixture(t, nil)
	_, _, enc := seal(t, fx.to[AES256CBC], samples[0], AllFields)
	blob, _ := b64.DecodeString(enc.CiphertextBlob)
	blob[len(blob)-1] ^= 1
	r := &fx.ring.rsa[0]
	first, ok1 := r.unwrap(blob)
	second, ok2 := r.unwrap(blob)
	if !ok1 || !ok2 || !bytes.Equal(first, second) {
		t.Fatal("substitute key differs between attempts")
	}
	blob[len(blob)-2] ^= 1
	if other, _ := r.unwrap(blob); bytes.Equal(first, other) {
		t.Fatal("two blobs share a substitute key")
	}
}

func TestKeyRotation(t *testing.T) {
	r, s := testKeys(t)
	during, err := NewKeyring(nil, r[0], r[1], s[0], s[1])
	if err != nil {
		t.Fatal(err)
	}
	after, err := NewKeyring(nil, r[0], s[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		to   Recipient
		// after the window, old-key blobs fail with
		afterErr error
	}{
		{"rsa new", mustRecipient(t, &r[0].PublicKey), nil},
		{"rsa old", mustRecipient(t, &r[1].PublicKey), ErrDecrypt},
		{"sm2 new", mustRecipient(t, &s[0].PublicKey), nil},
		{"sm2 old", mustRecipient(t, &s[1].PublicKey), ErrUnwrap},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, plain := range samples {
				sealed, _, enc := seal(t, c.to, plain, AllFields)
				got, _, err := during.Open(&enc, sealed)
				if err != nil || got != plain {
					t.Fatalf("during rotation: %s %+v", detail(err), got)
				}
				got, _, err = after.Open(&enc, sealed)
				if c.afterErr == nil {
					if err != nil || got != plain {
						t.Fatalf("after rotation: %s", detail(err))
					}
					continue
				}
				checkErr(t, err, c.afterErr)
			}
		})
	}
}

func TestSM2Layouts(t *testing.T) {
	_, s := testKeys(t)
	ring, err := NewKeyring(nil, s[0])
	if err != nil {
		t.Fatal(err)
	}
	pub := &s[0].PublicKey
	key := make([]byte, sm4KeyLen)
	rand.Read(key)
	mk := func(mode int) []byte {
		var ct []byte
		var err error
		switch mode {
		case 0:
			ct, err = sm2.Encrypt(rand.Reader, pub, key, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
		case 1:
			ct, err = sm2.Encrypt(rand.Reader, pub, key, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
			ct = ct[1:]
		case 2:
			ct, err = sm2.Encrypt(rand.Reader, pub, key, sm2.NewPlainEncrypterOpts(sm2.MarshalCompressed, sm2.C1C3C2))
		case 3:
			ct, err = sm2.EncryptASN1(rand.Reader, pub, key)
		}
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	for mode, name := range []string{"uncompressed", "bare", "compressed", "asn1"} {
		blob := mk(mode)
		sess, err := newSession(SM4GCM, key, make([]byte, gcmNonce), "", b64.EncodeToString(blob), fieldOrder{})
		if err != nil {
			t.Fatal(err)
		}
		sealed, enc, err := sess.Seal(samples[0], AllFields)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := ring.Open(&enc, sealed)
		if err != nil || got != samples[0] {
			t.Errorf("%s (%d bytes): %s", name, len(blob), detail(err))
		}
	}
	// C1C2C3 (the old order) must not open: the scheme says C1C3C2.
	old, err := sm2.Encrypt(rand.Reader, pub, key, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C2C3))
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := newSession(SM4GCM, key, make([]byte, gcmNonce), "", b64.EncodeToString(old), fieldOrder{})
	sealed, enc, _ := sess.Seal(samples[0], AllFields)
	_, _, err = ring.Open(&enc, sealed)
	checkErr(t, err, ErrUnwrap)

	// Our own layouts.
	for _, layout := range []SM2Encoding{SM2Uncompressed, SM2Bare} {
		to := mustRecipient(t, pub).WithSM2Encoding(layout)
		sealed, _, enc := seal(t, to, samples[2], AllFields)
		blob, _ := b64.DecodeString(enc.CiphertextBlob)
		want := map[SM2Encoding]int{SM2Uncompressed: 113, SM2Bare: 112}[layout]
		if len(blob) != want || (layout == SM2Uncompressed && blob[0] != 0x04) {
			t.Errorf("layout %d: %d bytes starting %#x", layout, len(blob), blob[0])
		}
		if got, _, err := ring.Open(&enc, sealed); err != nil || got != samples[2] {
			t.Errorf("layout %d: %s", layout, detail(err))
		}
	}
}

func TestSealRejectsBadSet(t *testing.T) {
	fx := newFixture(t, nil)
	s, err := NewSession(fx.to[AES256CBC])
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []FieldSet{0, 4, AllFields | 8} {
		if _, _, err := s.Seal(samples[0], set); !errors.Is(err, ErrFieldNotAllowed) {
			t.Errorf("set %b: %v", set, err)
		}
	}
	if _, err := NewSession(Recipient{}); err == nil {
		t.Error("zero recipient sealed")
	}
}

func TestSessionOpenChecksAlgorithm(t *testing.T) {
	fx := newFixture(t, nil)
	_, client, _ := seal(t, fx.to[AES256CBC], samples[0], AllFields)
	gcmSealed, _, gcm := seal(t, fx.to[SM4GCM], samples[0], AllFields)
	_, err := client.Open(&gcm, gcmSealed)
	checkErr(t, err, ErrUnsupportedAlgorithm)
	if got, err := client.Open(nil, samples[0]); err != nil || got != samples[0] {
		t.Errorf("nil object: %v", err)
	}
}

func TestMaskRejection(t *testing.T) {
	fx := newFixture(t, nil)
	open := func(alg Algorithm, set FieldSet) *Session {
		sealed, _, enc := seal(t, fx.to[alg], samples[0], set)
		_, s, err := fx.ring.Open(&enc, sealed)
		if err != nil {
			t.Fatal(detail(err))
		}
		return s
	}
	cbc, gcm := open(AES256CBC, FieldName), open(SM4GCM, AllFields)
	illegalName := &contracts.Rejection{Result: contracts.ResultIllegalName, Reason: "x"}
	illegalID := &contracts.Rejection{Result: contracts.ResultIllegalID, Reason: "x"}
	for _, c := range []struct {
		s      *Session
		in     *contracts.Rejection
		masked bool
	}{
		{cbc, illegalName, true},
		{cbc, illegalID, false}, // id_card was not encrypted
		{gcm, illegalName, false},
		{nil, illegalName, false},
		{cbc, nil, false},
	} {
		got := c.s.MaskRejection(c.in)
		if masked := got != c.in; masked != c.masked {
			t.Errorf("MaskRejection(%v) masked=%v", c.in, masked)
		}
		if c.masked && (got.Error != contracts.ErrTokenMismatched || got.Reason != DecryptFailure) {
			t.Errorf("masked to %+v", got)
		}
	}
}

func TestRejectionOfForeignError(t *testing.T) {
	if Rejection(nil) != nil {
		t.Error("nil error rejected")
	}
	if r := Rejection(errors.New("boom")); r.Error != contracts.ErrAPIError || r.Reason != "" {
		t.Errorf("foreign error: %+v", r)
	}
}

func TestNewKeyringRejects(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string][]crypto.PrivateKey{
		"none":      nil,
		"small rsa": {small},
		"nil rsa":   {(*rsa.PrivateKey)(nil)},
		"string":    {"key"},
	} {
		if _, err := NewKeyring(nil, keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'a'}, blockLen)
		copy(b[blockLen-len(tail):], tail)
		return b
	}
	for _, c := range []struct {
		in   []byte
		n    int
		good bool
	}{
		{block(1), 15, true},
		{block(2, 2), 14, true},
		{bytes.Repeat([]byte{16}, 16), 0, true},
		{block(0), 0, false},
		{block(17), 0, false},
		{block(1, 2), 0, false},
		{block(3, 2, 3), 0, false},
		{block(255), 0, false},
	} {
		out, ok := unpad(c.in)
		if ok != c.good || (ok && len(out) != c.n) {
			t.Errorf("unpad(%v) = %d, %v", c.in[10:], len(out), ok)
		}
	}
}

// One keyring and one session serve many requests at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	fx := newFixture(t, NewKeyCache(16, DefaultCacheTTL))
	for _, alg := range algorithms {
		sealed, _, enc := seal(t, fx.to[alg], samples[1], AllFields)
		_, server, err := fx.ring.Open(&enc, sealed)
		if err != nil {
			t.Fatal(detail(err))
		}
		done := make(chan error, 8)
		for g := 0; g < 8; g++ {
			go func() {
				for i := 0; i < 20; i++ {
					e := enc
					got, _, err := fx.ring.Open(&e, sealed)
					if err == nil && got != samples[1] {
						err = errors.New("wrong plaintext")
					}
					if err == nil {
						_, _, err = server.Seal(samples[1], server.Fields())
					}
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
		}
		for g := 0; g < 8; g++ {
			if err := <-done; err != nil {
				t.Fatal(detail(err))
			}
		}
	}
}
