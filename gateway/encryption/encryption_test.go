package encryption_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/gateway/server"
)

const (
	testName = "张三"
	testID   = "11010519491231002X"
)

func plainReq() contracts.CheckRequest { return contracts.CheckRequest{Name: testName, IDCard: testID} }

// simOpened is how many encrypted requests the simulator opened.
func (e *env) simOpened(t testing.TB) float64 {
	t.Helper()
	mfs, err := e.sim.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "idgate_simulator_encrypted_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "opened" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func decodeAnswer(t testing.TB, r reply) contracts.CheckResponse {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var resp contracts.CheckResponse
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatalf("answer %s: %v", r.body, err)
	}
	if _, ok := contracts.LookupResult(resp.Result); !ok {
		t.Fatalf("answer %s: unknown result", r.body)
	}
	return resp
}

func TestModes(t *testing.T) {
	e := newEnv(t, nil)
	for _, alg := range algs {
		for _, set := range []fieldcrypto.FieldSet{fieldcrypto.AllFields, fieldcrypto.FieldIDCard} {
			name := string(alg) + "/" + strings.Join(set.Names(), "+")
			t.Run("terminate/"+name, func(t *testing.T) {
				opened := e.simOpened(t)
				body, sess := seal(t, e.gwTo[alg], plainReq(), set)
				var sent contracts.CheckRequest
				json.Unmarshal(body, &sent)
				r := e.post(t, pathTerminate, body)
				resp := decodeAnswer(t, r)
				if resp.Encryption == nil || resp.Encryption.Algorithm != string(alg) {
					t.Fatalf("answer not sealed: %s", r.body)
				}
				// The echo is the request's own ciphertext (same key and IV).
				if resp.IDCard != sent.IDCard || (set.Has(fieldcrypto.FieldName) && resp.Name != sent.Name) {
					t.Errorf("echo %q/%q, sent %q/%q", resp.Name, resp.IDCard, sent.Name, sent.IDCard)
				}
				plain, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard})
				if err != nil || plain.IDCard != testID {
					t.Fatalf("client cannot open the answer: %+v %v", plain, err)
				}
				if got := e.simOpened(t); got != opened+1 {
					t.Errorf("simulator opened %v encrypted requests, want 1", got-opened)
				}
				row := e.ledgerClasses(t)[r.requestID]
				// Terminate holds the plaintext, so the ledger gets the mask.
				if row == nil || row[colIDMasked] != idcard.Mask(testID) || row[colResult] != string(resp.Result) {
					t.Errorf("ledger row %v", row)
				}
			})
			t.Run("passthrough/"+name, func(t *testing.T) {
				body, sess := seal(t, e.simTo[alg], plainReq(), set)
				r := e.post(t, pathPass, body)
				resp := decodeAnswer(t, r)
				plain, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard})
				if resp.Encryption == nil || err != nil || plain.IDCard != testID {
					t.Fatalf("answer %s: %+v %v", r.body, plain, err)
				}
				if row := e.ledgerClasses(t)[r.requestID]; row == nil || row[colIDMasked] != "encrypted" {
					t.Errorf("ledger row %v", row)
				}
			})
		}
	}
	t.Run("encrypt-upstream/plain", func(t *testing.T) {
		opened := e.simOpened(t)
		b, _ := json.Marshal(plainReq())
		r := e.post(t, pathEncUp, b)
		resp := decodeAnswer(t, r)
		if resp.Encryption != nil || resp.Name != "" || resp.IDCard != "" {
			t.Errorf("plain client got encrypted fields: %s", r.body)
		}
		if got := e.simOpened(t); got != opened+1 {
			t.Errorf("simulator opened %v encrypted requests, want 1", got-opened)
		}
	})
	t.Run("terminate/plain", func(t *testing.T) {
		opened := e.simOpened(t)
		b, _ := json.Marshal(plainReq())
		resp := decodeAnswer(t, e.post(t, pathTerminate, b))
		if resp.Encryption != nil || e.simOpened(t) != opened {
			t.Errorf("plain request on a terminate route: %+v", resp)
		}
	})
}

// Local verdicts on decrypted fields: -3 for GCM (sealed echo), and for
// CBC the uniform decrypt failure (no padding oracle). Never forwarded,
// never billed.
func TestTerminateLocalVerdicts(t *testing.T) {
	e := newEnv(t, nil)
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			before := e.sim.Stats().Totals.Requests
			req := contracts.CheckRequest{Name: "Bob", IDCard: testID}
			body, sess := seal(t, e.gwTo[alg], req, fieldcrypto.AllFields)
			r := e.post(t, pathTerminate, body)
			if alg == fieldcrypto.AES256CBC {
				expectRejected(t, r, true)
			} else {
				resp := decodeAnswer(t, r)
				if resp.Result != contracts.ResultIllegalName {
					t.Fatalf("result %s", resp.Result)
				}
				if _, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard}); err != nil {
					t.Errorf("local answer not sealed for the client: %v", err)
				}
			}
			if row := e.ledgerClasses(t)[r.requestID]; row == nil || row[colClass] != "local_reject" || row[colBilled] != "false" {
				t.Errorf("ledger row %v", row)
			}
			if e.sim.Stats().Totals.Requests != before {
				t.Error("a local verdict reached the upstream")
			}
		})
	}
}

func expectRejected(t testing.TB, r reply, decryptFailure bool) {
	t.Helper()
	var eb contracts.ErrorBody
	if r.status != 400 || json.Unmarshal(r.body, &eb) != nil || eb.Error.Code != contracts.ErrTokenMismatched {
		t.Fatalf("want 400 token_mismatched, got %d %s", r.status, r.body)
	}
	if decryptFailure && eb.Error.Message != fieldcrypto.DecryptFailure {
		t.Errorf("message %q, want the uniform %q", eb.Error.Message, fieldcrypto.DecryptFailure)
	}
	if strings.Contains(string(r.body), testID) || strings.Contains(string(r.body), testName) {
		t.Errorf("error quotes personal data: %s", r.body)
	}
}

// Bad encryption objects: 400 token_mismatched, never forwarded, never
// billed (ledger class local_reject), on both terminate and
// encrypt-upstream routes.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	other, _ := keyFiles(t, filepath.Join(e.dir, "stranger"))
	strangers := map[fieldcrypto.Algorithm]fieldcrypto.Recipient{}
	for i, alg := range algs {
		keys, err := fieldcrypto.LoadPrivateKeys("file:" + other[i])
		if err != nil {
			t.Fatal(err)
		}
		strangers[alg] = recipientOf(t, keys[0])
	}
	b64 := base64.StdEncoding.EncodeToString
	type mutation func(r *contracts.CheckRequest)
	for _, alg := range algs {
		cases := []struct {
			name    string
			mutate  mutation
			decrypt bool // answered with the uniform decrypt failure
		}{
			{"wrong key", nil, true},
			{"wrong blob", func(r *contracts.CheckRequest) {
				// A blob wrapped for the gateway's key, but of another request.
				other, _ := seal(t, e.gwTo[alg], plainReq(), fieldcrypto.AllFields)
				var o contracts.CheckRequest
				json.Unmarshal(other, &o)
				r.Encryption.CiphertextBlob = o.Encryption.CiphertextBlob
			}, true},
			{"blob garbage", func(r *contracts.CheckRequest) { r.Encryption.CiphertextBlob = b64([]byte("not a wrapped key")) }, true},
			{"iv length", func(r *contracts.CheckRequest) { r.Encryption.IV = b64([]byte{1, 2, 3, 4, 5}) }, false},
			{"tag mismatch", func(r *contracts.CheckRequest) {
				if alg != fieldcrypto.SM4GCM {
					r.IDCard = b64(make([]byte, 32)) // CBC: no tag, corrupt the ciphertext
					return
				}
				r.Encryption.TagList[0] = b64(make([]byte, 16))
			}, true},
			{"unsupported algorithm", func(r *contracts.CheckRequest) { r.Encryption.Algorithm = "AES-128-ECB" }, false},
			{"field not allowed", func(r *contracts.CheckRequest) { r.Encryption.EncryptList = []string{"image_url"} }, false},
			{"invalid base64 field", func(r *contracts.CheckRequest) { r.Name = "%%%not-base64" }, false},
			{"invalid base64 iv", func(r *contracts.CheckRequest) { r.Encryption.IV = "AAAA-_" }, false},
			{"invalid base64 blob", func(r *contracts.CheckRequest) { r.Encryption.CiphertextBlob = "****" }, false},
		}
		for _, tc := range cases {
			for _, path := range []string{pathTerminate, pathEncUp} {
				t.Run(string(alg)+"/"+tc.name+path, func(t *testing.T) {
					to := e.gwTo[alg]
					if tc.name == "wrong key" {
						to = strangers[alg]
					}
					body, _ := seal(t, to, plainReq(), fieldcrypto.AllFields)
					if tc.mutate != nil {
						var r contracts.CheckRequest
						json.Unmarshal(body, &r)
						tc.mutate(&r)
						body, _ = json.Marshal(r)
					}
					before := e.sim.Stats().Totals.Requests
					r := e.post(t, path, body)
					expectRejected(t, r, tc.decrypt)
					if e.sim.Stats().Totals.Requests != before {
						t.Error("forwarded")
					}
					row := e.ledgerClasses(t)[r.requestID]
					if row == nil || row[colClass] != "local_reject" || row[colBilled] != "false" || row[colIDMasked] != "" {
						t.Errorf("ledger row %v", row)
					}
				})
			}
		}
	}
	// Operators see why (the client never does).
	got := e.outcomes(t)
	for _, k := range []string{"iv_length", "unsupported_algorithm", "field_not_allowed", "invalid_base64", "tag_mismatch", "unwrap"} {
		if got[k] == 0 {
			t.Errorf("no %s in the encrypted-request metric: %v", k, got)
		}
	}
	if got["opened"] != 0 {
		t.Errorf("bad objects counted as opened: %v", got)
	}
}

// outcomes reads idgate_gateway_encrypted_requests_total by outcome.
func (e *env) outcomes(t testing.TB) map[string]float64 {
	t.Helper()
	mfs, err := e.gw.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "idgate_gateway_encrypted_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// Key rotation: the old and the new private key are both accepted while
// the config lists both; a reload swaps the keyring atomically, and a key
// that fails to load keeps the old ring.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	newPaths, newTo := keyFiles(t, filepath.Join(e.dir, "new-keys"))
	oldKeys := e.cfg.Encryption.PrivateKeys
	send := func(to fieldcrypto.Recipient) int {
		body, _ := seal(t, to, plainReq(), fieldcrypto.AllFields)
		return e.post(t, pathTerminate, body).status
	}
	reload := func(keys []string) error {
		cfg := e.cfg
		cfg.Encryption.PrivateKeys = keys
		e.writeConfig(t, cfg)
		_, err := e.gw.Reload()
		return err
	}
	for _, alg := range algs {
		if st := send(newTo[alg]); st != 400 {
			t.Fatalf("%s: new key accepted before rotation: %d", alg, st)
		}
	}
	window := append([]string{"file:" + newPaths[0], "file:" + newPaths[1]}, oldKeys...)
	if err := reload(window); err != nil {
		t.Fatal(err)
	}
	for _, alg := range algs {
		if a, b := send(newTo[alg]), send(e.gwTo[alg]); a != 200 || b != 200 {
			t.Fatalf("%s: during the window new=%d old=%d", alg, a, b)
		}
	}
	if err := reload([]string{"file:" + filepath.Join(e.dir, "missing.pem")}); err == nil {
		t.Fatal("reload with a missing key file succeeded")
	}
	if st := send(e.gwTo[fieldcrypto.SM4GCM]); st != 200 {
		t.Fatalf("failed reload dropped the keyring: %d", st)
	}
	if err := reload([]string{"file:" + newPaths[0], "file:" + newPaths[1]}); err != nil {
		t.Fatal(err)
	}
	for _, alg := range algs {
		if a, b := send(newTo[alg]), send(e.gwTo[alg]); a != 200 || b != 400 {
			t.Fatalf("%s: after the window new=%d old=%d", alg, a, b)
		}
	}
	// The served public keys follow the reload: the new keys only, and a
	// client sealing with them is accepted.
	resp, err := e.client.Get(e.url + encryption.PublicKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	var served struct {
		Keys []struct{ Algorithm, PEM string }
	}
	err = json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if err != nil || len(served.Keys) != 2 {
		t.Fatalf("public keys: %+v %v", served, err)
	}
	for _, k := range served.Keys {
		pub, err := fieldcrypto.ParsePublicKeyPEM([]byte(k.PEM))
		if err != nil {
			t.Fatal(err)
		}
		to, err := fieldcrypto.NewRecipient(pub)
		if err != nil || string(to.Algorithm()) != k.Algorithm {
			t.Fatalf("served key %s: %v", k.Algorithm, err)
		}
		if st := send(to); st != 200 {
			t.Errorf("%s: a served key is refused: %d", k.Algorithm, st)
		}
	}
	if strings.Contains(e.logs.String(), "PRIVATE KEY") {
		t.Error("key material in the logs")
	}
}

// The unwrapped-key cache: a client that reuses a wrapped key is served
// from it, with the same answers.
func TestKeyCache(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Encryption.KeyCache = encryption.KeyCache{Entries: 100, TTL: 60e9}
	})
	for _, alg := range algs {
		body, _ := seal(t, e.gwTo[alg], plainReq(), fieldcrypto.AllFields)
		first := e.post(t, pathTerminate, body)
		second := e.post(t, pathTerminate, body)
		if first.status != 200 || string(first.body) != string(second.body) {
			t.Fatalf("%s: %d %s / %s", alg, first.status, first.body, second.body)
		}
	}
	if st := e.gw.Crypto().CacheStats(); st.Hits < 2 {
		t.Errorf("cache stats %+v", st)
	}
}

// FuzzTerminate drives mutated encrypted bodies through a terminate route:
// never a panic, never a 500, a 200 only with a well-formed answer.
func FuzzTerminate(f *testing.F) {
	e := newEnv(f, nil)
	for _, alg := range algs {
		for _, set := range []fieldcrypto.FieldSet{fieldcrypto.AllFields, fieldcrypto.FieldName} {
			body, _ := seal(f, e.gwTo[alg], plainReq(), set)
			f.Add(body)
		}
	}
	f.Add([]byte(`{"name":"x","id_card":"y","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM","tag_list":["AA=="]}}`))
	f.Add([]byte(`{"encryption":{"encrypt_list":["id_card","id_card"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"AES-256-CBC"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.post(t, pathTerminate, body)
		switch r.status {
		case 400:
			expectRejected(t, r, false)
		case 200:
			decodeAnswer(t, r)
		default:
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}

// The response cache serves terminated and encrypt-upstream
// requests from plaintext held in memory: a second client with another
// data key gets the cached verdict sealed with its own key.
func TestResponseCacheOnTerminate(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Cache.Enabled = true
		c.Cache.KeySecret = "0123456789abcdef0123456789abcdef"
	})
	for _, alg := range algs {
		before := e.sim.Stats().Totals.Requests
		var ids []string
		for i := 0; i < 2; i++ {
			body, sess := seal(t, e.gwTo[alg], plainReq(), fieldcrypto.AllFields)
			r := e.post(t, pathTerminate, body)
			resp := decodeAnswer(t, r)
			plain, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard})
			if err != nil || plain.Name != testName {
				t.Fatalf("%s #%d: %s %v", alg, i, r.body, err)
			}
			ids = append(ids, r.requestID)
		}
		rows := e.ledgerClasses(t)
		first := "billed"
		if alg != algs[0] {
			first = "cached" // the identity, not the algorithm, is the key
		}
		if rows[ids[0]][colClass] != first || rows[ids[1]][colClass] != "cached" {
			t.Fatalf("%s: classes %s, %s", alg, rows[ids[0]][colClass], rows[ids[1]][colClass])
		}
		if got := e.sim.Stats().Totals.Requests - before; alg == algs[0] && got != 1 {
			t.Errorf("%s: %d upstream calls, want 1", alg, got)
		} else if alg != algs[0] && got != 0 {
			t.Errorf("%s: %d upstream calls, want 0 (cached by the first algorithm)", alg, got)
		}
	}
	b, _ := json.Marshal(plainReq())
	if r := decodeAnswer(t, e.post(t, pathEncUp, b)); r.Encryption != nil {
		t.Errorf("encrypt-upstream cached answer carries encrypted fields: %+v", r)
	}
}

// A wrong upstream key is the gateway's fault: the upstream's "decrypt
// failure" must not reach the client as if its own encryption had failed.
func TestWrongUpstreamKey(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		dir := t.TempDir()
		_, strangers := keyFiles(t, dir)
		c.Encryption.UpstreamKeys = nil
		for _, alg := range algs {
			c.Encryption.UpstreamKeys = append(c.Encryption.UpstreamKeys,
				"file:"+writePublic(t, strangers[alg], filepath.Join(dir, string(alg)+".pub")))
		}
	})
	for _, alg := range algs {
		body, _ := seal(t, e.gwTo[alg], plainReq(), fieldcrypto.AllFields)
		r := e.post(t, pathTerminate, body)
		var eb contracts.ErrorBody
		if r.status != 500 || json.Unmarshal(r.body, &eb) != nil || eb.Error.Code != contracts.ErrAPIError {
			t.Errorf("%s: %d %s, want 500 api_error", alg, r.status, r.body)
		}
		if row := e.ledgerClasses(t)[r.requestID]; row == nil || row[colClass] != "upstream_error" || row[colBilled] != "false" {
			t.Errorf("ledger row %v", row)
		}
	}
	if !strings.Contains(e.logs.String(), "check encryption.upstream_keys") {
		t.Error("the operator is not told")
	}
}
