package encryption_test

import (
	"crypto"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/encryption"
)

// reuseEngine is an engine whose upstream is itself: its own public keys
// are the upstream keys, so ring opens what it seals for the upstream.
func reuseEngine(t *testing.T, reuse encryption.KeyReuse) (*encryption.Engine, encryption.Config, *fieldcrypto.Keyring, map[fieldcrypto.Algorithm]fieldcrypto.Recipient) {
	t.Helper()
	dir := t.TempDir()
	paths, to := keyFiles(t, filepath.Join(dir, "keys"))
	cfg := encryption.DefaultConfig()
	cfg.UpstreamKeyReuse = reuse
	var privs []crypto.PrivateKey
	for _, p := range paths {
		cfg.PrivateKeys = append(cfg.PrivateKeys, "file:"+p)
		keys, err := fieldcrypto.LoadPrivateKeys("file:" + p)
		if err != nil {
			t.Fatal(err)
		}
		privs = append(privs, keys...)
	}
	for _, alg := range algs {
		cfg.UpstreamKeys = append(cfg.UpstreamKeys, "file:"+writePublic(t, to[alg], filepath.Join(dir, string(alg)+".pub")))
	}
	e, err := encryption.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := fieldcrypto.NewKeyring(nil, privs...)
	if err != nil {
		t.Fatal(err)
	}
	return e, cfg, ring, to
}

// TestUpstreamKeyReuse: terminate reuses the upstream data key within the
// count, never across a reload, with a fresh IV on every request; the
// upstream opens every request and each answer opens with its own session.
func TestUpstreamKeyReuse(t *testing.T) {
	type step struct {
		reload bool
		newKey bool
	}
	cases := []struct {
		name  string
		reuse encryption.KeyReuse
		steps []step
	}{
		{"count", encryption.KeyReuse{Messages: 2, MaxAge: time.Hour}, []step{{newKey: true}, {}, {newKey: true}, {}}},
		{"reload rotates", encryption.KeyReuse{Messages: 100, MaxAge: time.Hour}, []step{{newKey: true}, {}, {reload: true, newKey: true}, {}}},
		{"off", encryption.KeyReuse{Messages: 1}, []step{{newKey: true}, {newKey: true}}},
		{"defaults", encryption.KeyReuse{}, []step{{newKey: true}, {}, {}}},
	}
	for _, alg := range algs {
		for _, tc := range cases {
			t.Run(string(alg)+"/"+tc.name, func(t *testing.T) {
				e, cfg, ring, to := reuseEngine(t, tc.reuse)
				route := e.Route("check", encryption.ModeTerminate)
				blobs, ivs := map[string]bool{}, map[string]bool{}
				for i, st := range tc.steps {
					if st.reload {
						if err := e.Reload(cfg); err != nil {
							t.Fatal(err)
						}
					}
					client := plainReq()
					if _, err := fieldcrypto.SealRequest(&client, to[alg], fieldcrypto.AllFields); err != nil {
						t.Fatal(err)
					}
					cs, err := route.Open(&client)
					if err != nil {
						t.Fatal(err)
					}
					body, up, err := route.SealUpstream(&client, cs)
					if err != nil {
						t.Fatal(err)
					}
					// The upstream opens the request and answers with the
					// request's key and IV, as the scheme prescribes.
					var sent contracts.CheckRequest
					if err := json.Unmarshal(body, &sent); err != nil {
						t.Fatal(err)
					}
					enc := *sent.Encryption
					if fresh := !blobs[enc.CiphertextBlob]; fresh != st.newKey {
						t.Fatalf("step %d: fresh key %v, want %v", i, fresh, st.newKey)
					}
					if ivs[enc.IV] {
						t.Fatalf("step %d: IV repeated under one key", i)
					}
					blobs[enc.CiphertextBlob], ivs[enc.IV] = true, true
					plain, rs, err := ring.Open(&enc, fieldcrypto.Fields{Name: sent.Name, IDCard: sent.IDCard})
					if err != nil || plain.Name != testName || plain.IDCard != testID {
						t.Fatalf("step %d: upstream cannot open: %v", i, err)
					}
					ans, aenc, err := rs.Seal(plain, rs.Fields())
					if err != nil {
						t.Fatal(err)
					}
					upBody := contracts.AppendResponse(nil, contracts.CheckResponse{
						Result: contracts.ResultConsistent, Description: contracts.Results[0].Description,
						Name: ans.Name, IDCard: ans.IDCard, Encryption: contracts.NewAnswerEncryption(aenc),
					})
					if _, err := route.Reseal(nil, upBody, &client, up, cs); err != nil {
						t.Fatalf("step %d: answer does not open with its session: %v", i, err)
					}
				}
			})
		}
	}
}

func TestKeyReuseConfig(t *testing.T) {
	for _, tc := range []struct {
		reuse encryption.KeyReuse
		ok    bool
	}{
		{encryption.KeyReuse{}, true},
		{encryption.DefaultConfig().UpstreamKeyReuse, true},
		{encryption.KeyReuse{Messages: 1}, true},
		{encryption.KeyReuse{Messages: fieldcrypto.MaxReuseMessages, MaxAge: time.Hour}, true},
		{encryption.KeyReuse{Messages: fieldcrypto.MaxReuseMessages + 1}, false},
		{encryption.KeyReuse{Messages: -1}, false},
		{encryption.KeyReuse{MaxAge: -time.Second}, false},
	} {
		cfg := encryption.DefaultConfig()
		cfg.UpstreamKeyReuse = tc.reuse
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.reuse, err)
		}
	}
}
