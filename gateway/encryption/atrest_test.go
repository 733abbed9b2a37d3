package encryption_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/simulator/identity"
)

// selfSigned writes a certificate for 127.0.0.1 and its key; the pool
// trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestNoPersonalDataAtRest runs a mixed workload (plain, terminate,
// encrypt-upstream and passthrough; both algorithms; valid and refused)
// through the real gateway (over TLS) and simulator binaries, then scans
// both processes' logs, both /metrics pages and the ledger database (and
// its WAL) for every name and ID number sent: none may be there. Masked
// IDs (110105********002X) are expected and fine.
func TestNoPersonalDataAtRest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	dir := t.TempDir()
	simKeys := filepath.Join(dir, "sim-keys")
	sim := testkit.StartSim(t, "IDGATE_SIM_ENCRYPTION_KEY_DIR="+simKeys, "IDGATE_SIM_LOG_LEVEL=debug")

	// The operator copies the simulator's public keys to files.
	simTo := map[fieldcrypto.Algorithm]fieldcrypto.Recipient{}
	var upstreamKeys []string
	for alg, f := range map[fieldcrypto.Algorithm]string{fieldcrypto.AES256CBC: "rsa.pem", fieldcrypto.SM4GCM: "sm2.pem"} {
		keys, err := fieldcrypto.LoadPrivateKeys("file:" + filepath.Join(simKeys, f))
		if err != nil {
			t.Fatal(err)
		}
		simTo[alg] = recipientOf(t, keys[0])
		p := writePublic(t, simTo[alg], filepath.Join(dir, f+".pub"))
		upstreamKeys = append(upstreamKeys, fmt.Sprintf("%q", "file:"+p))
	}
	gwPaths, gwTo := keyFiles(t, filepath.Join(dir, "gw-keys"))
	certFile, keyFile, pool := selfSigned(t, dir)
	store := filepath.Join(dir, "ledger.db")
	gwAddr, adminAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	cfg := fmt.Sprintf(`
listen: %q
admin: {listen: %q, token: at-rest-admin}
log_level: debug
timezone: UTC
upstream: {url: %q, token: sim-token}
store: {path: %q}
tls: {cert_file: %q, key_file: %q}
encryption:
  private_keys: [%q, %q]
  upstream_keys: [%s]
  key_cache: {entries: 100, ttl: 1m}
routes:
  - {name: terminate, path: %s, encryption: {mode: terminate}, local_answers: {illegal_id: "-2", illegal_name: "-3"}, local_validation: true, forward_prefer: true, results: %s}
  - {name: encrypt-upstream, path: %s, upstream_path: %s, encryption: {mode: encrypt-upstream}, local_validation: true, local_answers: {illegal_id: "-2", illegal_name: "-3"}, results: %s}
  - {name: passthrough, path: %s, upstream_path: %s, local_validation: true, local_answers: {illegal_id: "-2", illegal_name: "-3"}, results: %s}
tenants:
  - {id: t1, rate: 1000, burst: 1000, keys: [{id: k1, key: at-rest-key}]}
`, gwAddr, adminAddr, sim.URL, store, certFile, keyFile, "file:"+gwPaths[0], "file:"+gwPaths[1],
		strings.Join(upstreamKeys, ", "),
		pathTerminate, resultsYAML(), pathEncUp, contracts.CheckPath, resultsYAML(), pathPass, contracts.CheckPath, resultsYAML())
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := testkit.Start(t, testkit.Build(t, "./gateway/cmd/gateway"), []string{"-config", cfgPath}, nil, "http://"+adminAddr+"/healthz")

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(path string, body []byte) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, "https://"+gwAddr+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer at-rest-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// Plain HTTP on the TLS listener gets nothing useful.
	if resp, err := http.Post("http://"+gwAddr+pathTerminate, "application/json", strings.NewReader("{}")); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS listener")
		}
		resp.Body.Close()
	}

	r := mrand.New(mrand.NewPCG(5, 5))
	var sent []contracts.CheckRequest
	masked := map[string]bool{}
	for i := 0; i < 60; i++ {
		id := identity.Generate(r)
		req := contracts.CheckRequest{Name: id.Name, IDCard: id.IDCard}
		if i%10 == 9 {
			req.Name = "Bob" // an illegal name: local verdict (or masked for CBC)
		}
		sent = append(sent, req)
		alg := algs[i%2]
		var st int
		var body []byte
		switch mode := i % 5; mode {
		case 0: // plain on the terminate route
			b, _ := json.Marshal(req)
			st, body = post(pathTerminate, b)
		case 1, 2: // terminate
			b, sess := seal(t, gwTo[alg], req, fieldcrypto.AllFields)
			st, body = post(pathTerminate, b)
			if st == 200 {
				var resp contracts.CheckResponse
				json.Unmarshal(body, &resp)
				if _, err := sess.Open(resp.Encryption.Object(), fieldcrypto.Fields{Name: resp.Name, IDCard: resp.IDCard}); err != nil {
					t.Errorf("terminate answer does not open: %s", body)
				}
			}
			if i == 1 {
				// A client reusing its wrapped key hits the key cache.
				post(pathTerminate, b)
			}
			masked[idcard.Mask(req.IDCard)] = true
		case 3: // encrypt-upstream
			b, _ := json.Marshal(req)
			st, body = post(pathEncUp, b)
		case 4: // passthrough
			b, _ := seal(t, simTo[alg], req, fieldcrypto.FieldIDCard)
			st, body = post(pathPass, b)
		}
		if st != 200 && st != 400 {
			t.Fatalf("request %d: %d %s", i, st, body)
		}
	}
	// Metrics pages, read while the processes run.
	var scanned bytes.Buffer
	for _, u := range []string{"http://" + adminAddr + "/metrics", sim.URL + "/metrics"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&scanned, resp.Body)
		resp.Body.Close()
	}
	// Stop both: the ledger is flushed; logs are complete.
	gw.Stop(10 * time.Second)
	sim.Stop(10 * time.Second)
	logs := gw.Output() + sim.Output()
	scanned.WriteString(logs)
	var db bytes.Buffer
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(store + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db.Write(b)
	}
	if db.Len() == 0 || !strings.Contains(logs, "gateway started") {
		t.Fatalf("nothing to scan: db %d bytes, logs %q", db.Len(), logs)
	}
	found := 0
	for m := range masked {
		if bytes.Contains(db.Bytes(), []byte(m)) {
			found++
		}
	}
	if found == 0 {
		t.Fatal("no masked ID in the ledger: the scan reads the wrong bytes")
	}
	all := append(scanned.Bytes(), db.Bytes()...)
	for _, req := range sent {
		for _, v := range []string{req.IDCard, req.Name} {
			if v == "Bob" {
				continue
			}
			if bytes.Contains(all, []byte(v)) {
				t.Errorf("personal data at rest: %q found (logs, metrics or ledger)", v)
			}
		}
	}
}

// resultsYAML is check-2e's billing table as inline YAML.
func resultsYAML() string {
	var parts []string
	for _, r := range contracts.Results {
		parts = append(parts, fmt.Sprintf("%q: {billed: %t, description: %q}", r.Code, r.Billing == contracts.Billed, r.Description))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
