package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	gwconfig "github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/encryption"
)

// The encrypted target's set-up yields a configuration the gateway loads,
// with the check route terminating, and bodies only the gateway's key
// opens, into valid identities.
func TestSetUpEncrypted(t *testing.T) {
	dir := t.TempDir()
	simKeyDir := filepath.Join(dir, "sim-keys")
	// What the simulator does with IDGATE_SIM_ENCRYPTION_KEY_DIR.
	if _, _, err := fieldcrypto.EnsureKeyFile(filepath.Join(simKeyDir, "sm2.pem"), fieldcrypto.SM4GCM); err != nil {
		t.Fatal(err)
	}
	enc, err := setUpEncrypted(dir, simKeyDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gwconfig.Load(enc.fresh.config)
	if err != nil {
		t.Fatalf("the gateway would not start: %v", err)
	}
	terminating := false
	for _, r := range cfg.Routes {
		if r.Path == contracts.CheckPath {
			terminating = r.Encryption.Mode == encryption.ModeTerminate
		}
	}
	if !terminating {
		t.Errorf("check route not in terminate mode")
	}
	if len(enc.fresh.bodies) != encryptedPool {
		t.Fatalf("%d bodies, want %d", len(enc.fresh.bodies), encryptedPool)
	}

	gwKeys, err := fieldcrypto.LoadPrivateKeys(cfg.Encryption.PrivateKeys...)
	if err != nil {
		t.Fatal(err)
	}
	gwRing, err := fieldcrypto.NewKeyring(nil, gwKeys...)
	if err != nil {
		t.Fatal(err)
	}
	simKeys, err := fieldcrypto.LoadPrivateKeys("file:" + filepath.Join(simKeyDir, "sm2.pem"))
	if err != nil {
		t.Fatal(err)
	}
	simRing, err := fieldcrypto.NewKeyring(nil, simKeys...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range enc.fresh.bodies[:5] {
		var req contracts.CheckRequest
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		if req.Encryption == nil || req.Encryption.Algorithm != string(fieldcrypto.SM4GCM) {
			t.Fatalf("body not sealed with SM4-GCM: %s", b)
		}
		plain, _, err := gwRing.Open(req.Encryption, fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard})
		if err != nil {
			t.Fatalf("the gateway's key does not open a body: %v", err)
		}
		if _, err := idcard.Parse(plain.IDCard); err != nil || plain.Name == "" {
			t.Errorf("opened to %q / %q (%v), want a valid identity", plain.Name, plain.IDCard, err)
		}
		if _, _, err := simRing.Open(req.Encryption, fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard}); err == nil {
			t.Errorf("the simulator's key opens a body sealed for the gateway")
		}
	}
}
