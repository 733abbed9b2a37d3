package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/simulator/config"
)

func sealed(t *testing.T, to fieldcrypto.Recipient, name, id string) string {
	t.Helper()
	req := contracts.CheckRequest{Name: name, IDCard: id}
	if _, err := fieldcrypto.SealRequest(&req, to, fieldcrypto.AllFields); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	return string(b)
}

func TestEncryptedRequests(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, func(c *config.Config) {
		// The SM2 key from a file (created now), the RSA key in memory.
		c.Encryption.SM2KeyFile = filepath.Join(dir, "sm2.pem")
	})
	resp, err := ts.client.Get(ts.URL + PublicKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	var keys PublicKeys
	err = json.NewDecoder(resp.Body).Decode(&keys)
	resp.Body.Close()
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("public keys: %+v %v", keys, err)
	}
	for _, k := range keys.Keys {
		pub, err := fieldcrypto.ParsePublicKeyPEM([]byte(k.PEM))
		if err != nil {
			t.Fatal(err)
		}
		to, err := fieldcrypto.NewRecipient(pub)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(string(k.Algorithm), func(t *testing.T) {
			if r := ts.check(t, sealed(t, to, validName, validID)); r.Result != contracts.ResultConsistent {
				t.Errorf("result %s", r.Result)
			}
			// Magic identities work encrypted too.
			m := contracts.MagicIdentities[1]
			if r := ts.check(t, sealed(t, to, m.Name, m.IDCard)); r.Result != m.Result {
				t.Errorf("magic: result %s, want %s", r.Result, m.Result)
			}
			// A tampered ciphertext is one uniform 400.
			var req contracts.CheckRequest
			json.Unmarshal([]byte(sealed(t, to, validName, validID)), &req)
			req.Name, req.IDCard = req.IDCard, req.Name
			b, _ := json.Marshal(req)
			st, h, body := ts.do(t, contracts.CheckPath, string(b))
			e := expectError(t, st, h, body, 400, contracts.ErrTokenMismatched)
			if e.Error.Message != fieldcrypto.DecryptFailure {
				t.Errorf("message %q", e.Error.Message)
			}
			// An illegal name: -3 for SM4-GCM; for CBC the decrypt
			// failure, so padding cannot be probed.
			st, h, body = ts.do(t, contracts.CheckPath, sealed(t, to, "Bob", validID))
			if k.Algorithm == fieldcrypto.AES256CBC {
				expectError(t, st, h, body, 400, contracts.ErrTokenMismatched)
			} else if st != 200 || !strings.Contains(string(body), `"result":"-3"`) {
				t.Errorf("illegal name under GCM: %d %s", st, body)
			}
		})
	}
	resp, err = ts.client.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Opened: 2 valid + 1 illegal name per algorithm, and the CBC swap,
	// which decrypts (same key and IV) and is then masked.
	for _, want := range []string{`idgate_simulator_encrypted_requests_total{outcome="opened"} 7`, `idgate_simulator_encrypted_requests_total{outcome="tag_mismatch"} 1`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(m), "encrypted"))
		}
	}
	// The journal holds the decrypted number, masked; never ciphertext.
	_, b := ts.admin(t, http.MethodGet, "/admin/journal", "")
	if !strings.Contains(string(b), "110105********002X") {
		t.Errorf("journal %s", b)
	}
}

func TestEncryptionDisabled(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.Encryption.Enabled = false })
	to := func() fieldcrypto.Recipient {
		k, _ := fieldcrypto.GenerateKey(fieldcrypto.SM4GCM)
		pub, _ := fieldcrypto.PublicKey(k)
		r, _ := fieldcrypto.NewRecipient(pub)
		return r
	}()
	st, h, b := ts.do(t, contracts.CheckPath, sealed(t, to, validName, validID))
	if e := expectError(t, st, h, b, 400, contracts.ErrTokenMismatched); e.Error.Message != encryptionUnsupported {
		t.Errorf("message %q", e.Error.Message)
	}
	resp, err := ts.client.Get(ts.URL + PublicKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp.StatusCode, resp.Header, body, 400, contracts.ErrAPINotImplemented)
}

func TestBadKeyFileStopsStart(t *testing.T) {
	cfg := config.Default()
	cfg.Encryption.RSAKeyFile = t.TempDir() // a directory is not a key file
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted an unreadable key file")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Answers to encrypted requests echo the encrypted fields under the
// client's data key and IV; key files under key_dir are created 0600.
func TestEncryptedAnswers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ts := start(t, func(c *config.Config) { c.Encryption.KeyDir = dir })
	for _, f := range []string{"rsa.pem", "sm2.pem"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	keys, err := fieldcrypto.LoadPrivateKeys("file:"+filepath.Join(dir, "rsa.pem"), "file:"+filepath.Join(dir, "sm2.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		pub, _ := fieldcrypto.PublicKey(k)
		to, err := fieldcrypto.NewRecipient(pub)
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range []fieldcrypto.FieldSet{fieldcrypto.AllFields, fieldcrypto.FieldIDCard} {
			t.Run(string(to.Algorithm())+"/"+strings.Join(set.Names(), "+"), func(t *testing.T) {
				req := contracts.CheckRequest{Name: validName, IDCard: validID}
				sess, err := fieldcrypto.SealRequest(&req, to, set)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(req)
				r := ts.check(t, string(b))
				if r.Result != contracts.ResultConsistent || r.Encryption == nil {
					t.Fatalf("answer %+v", r)
				}
				if set.Has(fieldcrypto.FieldName) != (r.Name != "") || r.IDCard != req.IDCard {
					t.Errorf("echoed fields %q %q, request %q %q", r.Name, r.IDCard, req.Name, req.IDCard)
				}
				plain, err := sess.Open(r.Encryption.Object(), fieldcrypto.Fields{Name: r.Name, IDCard: r.IDCard})
				if err != nil || plain.IDCard != validID || (set.Has(fieldcrypto.FieldName) && plain.Name != validName) {
					t.Errorf("open answer: %+v %v", plain, err)
				}
			})
		}
	}
	// Plain requests keep plain answers.
	if r := ts.check(t, checkBody(validName, validID)); r.Name != "" || r.IDCard != "" || r.Encryption != nil {
		t.Errorf("plain answer carries encrypted fields: %+v", r)
	}
}

// encryption.key_cache sizes the receiver's unwrapped-key cache; 0 entries
// turns it off.
func TestKeyCacheSetting(t *testing.T) {
	on := config.Default().Encryption
	r, err := newReceiver(on)
	if err != nil {
		t.Fatal(err)
	}
	if r.cache == nil {
		t.Fatal("the default configuration has no key cache")
	}
	off := on
	off.KeyCache.Entries = 0
	if r, err = newReceiver(off); err != nil {
		t.Fatal(err)
	}
	if r.cache != nil {
		t.Fatal("key_cache.entries 0 still caches")
	}
}
