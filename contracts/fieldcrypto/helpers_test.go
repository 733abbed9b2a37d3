package fieldcrypto

import (
	"crypto"
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/idgate/idgate/contracts"
)

// Test keys are generated once per test binary: RSA generation is the
// slowest thing these tests do.
var (
	keysOnce sync.Once
	rsaKeys  [2]*rsa.PrivateKey // [0] "new", [1] "old"
	sm2Keys  [2]*sm2.PrivateKey
)

func testKeys(tb testing.TB) ([2]*rsa.PrivateKey, [2]*sm2.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		for i := range rsaKeys {
			k, err := GenerateKey(AES256CBC)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k.(*rsa.PrivateKey)
			s, err := GenerateKey(SM4GCM)
			if err != nil {
				panic(err)
			}
			sm2Keys[i] = s.(*sm2.PrivateKey)
		}
	})
	return rsaKeys, sm2Keys
}

// fixture is a receiver holding key [0] of each algorithm and recipients
// for both.
type fixture struct {
	ring *Keyring
	to   map[Algorithm]Recipient
}

func newFixture(tb testing.TB, cache *KeyCache) fixture {
	tb.Helper()
	r, s := testKeys(tb)
	ring, err := NewKeyring(cache, r[0], s[0])
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{ring: ring, to: map[Algorithm]Recipient{
		AES256CBC: mustRecipient(tb, &r[0].PublicKey),
		SM4GCM:    mustRecipient(tb, &s[0].PublicKey),
	}}
}

func mustRecipient(tb testing.TB, pub crypto.PublicKey) Recipient {
	tb.Helper()
	r, err := NewRecipient(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var algorithms = []Algorithm{AES256CBC, SM4GCM}

// Sample identities: GB 11643 example numbers, a minority name with
// the middle dot, and a long name to span several blocks.
var samples = []Fields{
	{Name: "张三", IDCard: "11010519491231002X"},
	{Name: "阿依古丽·买买提", IDCard: "440524188001010014"},
	{Name: "欧阳娜娜欧阳娜娜欧阳娜娜欧阳娜娜", IDCard: "110105194912310021"},
}

func seal(tb testing.TB, r Recipient, f Fields, set FieldSet) (Fields, *Session, contracts.Encryption) {
	tb.Helper()
	s, err := NewSession(r)
	if err != nil {
		tb.Fatal(err)
	}
	out, enc, err := s.Seal(f, set)
	if err != nil {
		tb.Fatal(err)
	}
	return out, s, enc
}
