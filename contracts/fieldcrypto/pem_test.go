package fieldcrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

func TestPEMRoundTrip(t *testing.T) {
	r, s := testKeys(t)
	for _, key := range []crypto.PrivateKey{r[0], s[0]} {
		privPEM, err := MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := ParsePrivateKeysPEM(privPEM)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%T: %v", key, err)
		}
		if !keys[0].(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
			t.Fatalf("%T: parsed key differs", key)
		}
		pub, _ := PublicKey(key)
		pubPEM, err := MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePublicKeyPEM(pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%T: parsed public key differs", pub)
		}
	}
}

func TestParsePEMForms(t *testing.T) {
	r, s := testKeys(t)
	sec1, err := smx509.MarshalSM2PrivateKey(s[1])
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := MarshalPrivateKeyPEM(s[0])
	bundle := bytes.Join([][]byte{
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(r[0])}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		pkcs8,
	}, []byte("\n"))
	keys, err := ParsePrivateKeysPEM(bundle)
	if err != nil || len(keys) != 3 {
		t.Fatalf("bundle: %d keys, %v", len(keys), err)
	}
	if _, err := NewKeyring(nil, keys...); err != nil {
		t.Fatal(err)
	}

	rsaPub := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&r[0].PublicKey)})
	if pub, err := ParsePublicKeyPEM(rsaPub); err != nil || !pub.(*rsa.PublicKey).Equal(&r[0].PublicKey) {
		t.Fatalf("PKCS#1 public key: %v", err)
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKCS8PrivateKey(p256)
	p256Pub, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	bad := map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"public key":     rsaPub,
		"p256":           pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p256DER}),
		"encrypted":      pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
		"legacy crypt":   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
		"one bad of two": append(append([]byte{}, pkcs8...), rsaPub...),
	}
	for name, data := range bad {
		if _, err := ParsePrivateKeysPEM(data); err == nil {
			t.Errorf("private %s: accepted", name)
		}
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"private key": pkcs8,
		"p256":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p256Pub}),
	} {
		if _, err := ParsePublicKeyPEM(data); err == nil {
			t.Errorf("public %s: accepted", name)
		}
	}
}

func TestReadSecretAndLoad(t *testing.T) {
	r, s := testKeys(t)
	dir := t.TempDir()
	rsaPEM, _ := MarshalPrivateKeyPEM(r[0])
	sm2PEM, _ := MarshalPrivateKeyPEM(s[0])
	path := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(path, rsaPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// Env files cannot hold newlines; PEM there is written with \n.
	t.Setenv("FIELDCRYPTO_TEST_KEY", strings.ReplaceAll(string(sm2PEM), "\n", `\n`))
	keys, err := LoadPrivateKeys(path, "file:"+path, "env:FIELDCRYPTO_TEST_KEY")
	if err != nil || len(keys) != 3 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	if _, ok := keys[2].(*sm2.PrivateKey); !ok {
		t.Fatalf("env key is %T", keys[2])
	}
	if _, err := LoadPrivateKeys("env:FIELDCRYPTO_TEST_UNSET"); err == nil {
		t.Error("unset variable accepted")
	}
	_, err = LoadPrivateKeys(filepath.Join(dir, "missing.pem"))
	if err == nil {
		t.Error("missing file accepted")
	}

	pubPEM, _ := MarshalPublicKeyPEM(&s[0].PublicKey)
	pubPath := filepath.Join(dir, "sm2.pub")
	os.WriteFile(pubPath, pubPEM, 0o644)
	to, err := LoadRecipient(pubPath)
	if err != nil || to.Algorithm() != SM4GCM {
		t.Fatalf("LoadRecipient: %v %v", to.Algorithm(), err)
	}
	if _, err := LoadRecipient(path); err == nil {
		t.Error("private key file loaded as a recipient")
	}
}

// Errors about key material must not quote it.
func TestSecretsNotInErrors(t *testing.T) {
	t.Setenv("FIELDCRYPTO_TEST_GARBAGE", "-----BEGIN PRIVATE KEY-----\\nU0VDUkVUU0VDUkVU\\n-----END PRIVATE KEY-----")
	_, err := LoadPrivateKeys("env:FIELDCRYPTO_TEST_GARBAGE")
	if err == nil || strings.Contains(err.Error(), "U0VDUkVU") {
		t.Fatalf("error %v", err)
	}
}

func TestEnsureKeyFile(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys", "simulator.pem")
			keys, created, err := EnsureKeyFile(path, alg)
			if err != nil || !created || len(keys) != 1 {
				t.Fatalf("first run: %v %v %d", err, created, len(keys))
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v", fi.Mode(), err)
			}
			again, created, err := EnsureKeyFile(path, alg)
			if err != nil || created || !again[0].(interface{ Equal(crypto.PrivateKey) bool }).Equal(keys[0]) {
				t.Fatalf("second run: %v %v", err, created)
			}
			other := AES256CBC
			if alg == AES256CBC {
				other = SM4GCM
			}
			if _, _, err := EnsureKeyFile(path, other); err == nil {
				t.Error("file with a key of the other algorithm accepted")
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
		})
	}
}

// Processes starting together agree on one key.
func TestEnsureKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	const n = 4
	var wg sync.WaitGroup
	got := make([]crypto.PrivateKey, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			keys, _, err := EnsureKeyFile(path, SM4GCM)
			errs[i] = err
			if err == nil {
				got[i] = keys[0]
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !got[i].(*sm2.PrivateKey).Equal(got[0]) {
			t.Fatal("racing creators disagree on the key")
		}
	}
}

func TestNewRecipientRejects(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, pub := range map[string]crypto.PublicKey{
		"p256":    &p256.PublicKey,
		"nil rsa": (*rsa.PublicKey)(nil),
		"string":  "key",
		"nil":     nil,
	} {
		if _, err := NewRecipient(pub); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := GenerateKey("DES"); err == nil {
		t.Error("GenerateKey(DES)")
	}
	if _, err := PublicKey("x"); err == nil {
		t.Error("PublicKey of a string")
	}
}

func TestSM2Hex(t *testing.T) {
	_, s := testKeys(t)
	k := s[0]
	privHex := hex.EncodeToString(k.D.FillBytes(make([]byte, 32)))
	xy := hex.EncodeToString(k.X.FillBytes(make([]byte, 32))) + hex.EncodeToString(k.Y.FillBytes(make([]byte, 32)))
	priv, err := ParseSM2PrivateKeyHex(privHex)
	if err != nil || !priv.Equal(k) {
		t.Fatalf("private: %v", err)
	}
	for _, pubHex := range []string{"04" + xy, xy, strings.ToUpper("04"+xy) + "\n"} {
		pub, err := ParseSM2PublicKeyHex(pubHex)
		if err != nil || !pub.Equal(&k.PublicKey) {
			t.Fatalf("public %q: %v", pubHex[:8], err)
		}
	}
	last := "0"
	if xy[127] == '0' {
		last = "1"
	}
	offCurve := "04" + xy[:127] + last // y changed by a little: off the curve
	for name, bad := range map[string]string{
		"short":     xy[:100],
		"not hex":   "zz" + xy[2:],
		"off curve": offCurve,
		"prefix 05": "05" + xy,
	} {
		if _, err := ParseSM2PublicKeyHex(bad); err == nil {
			t.Errorf("public %s accepted", name)
		}
	}
	n := sm2.P256().Params().N
	for name, bad := range map[string]string{
		"zero":    strings.Repeat("0", 64),
		"n-1":     hex.EncodeToString(new(big.Int).Sub(n, big.NewInt(1)).Bytes()),
		"short":   privHex[:62],
		"not hex": "x" + privHex[1:],
	} {
		if _, err := ParseSM2PrivateKeyHex(bad); err == nil {
			t.Errorf("private %s accepted", name)
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "priv.hex"), []byte(privHex+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "pub.hex"), []byte("04"+xy), 0o644)
	keys, err := LoadPrivateKeys(filepath.Join(dir, "priv.hex"))
	if err != nil || !keys[0].(*sm2.PrivateKey).Equal(k) {
		t.Fatalf("LoadPrivateKeys(hex): %v", err)
	}
	to, err := LoadRecipient(filepath.Join(dir, "pub.hex"))
	if err != nil || to.Algorithm() != SM4GCM {
		t.Fatalf("LoadRecipient(hex): %v", err)
	}
}
