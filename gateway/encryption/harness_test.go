package encryption_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/server"
	"github.com/idgate/idgate/internal/testkit"
	simconfig "github.com/idgate/idgate/simulator/config"
	simserver "github.com/idgate/idgate/simulator/server"
)

// Route paths of the test gateway: one per mode, all forwarding to the
// simulator's check-2e.
const (
	pathTerminate = contracts.CheckPath
	pathEncUp     = "/encrypt-upstream/check-2e"
	pathPass      = "/passthrough/check-2e"
)

var algs = []fieldcrypto.Algorithm{fieldcrypto.AES256CBC, fieldcrypto.SM4GCM}

// keyFiles creates an RSA and an SM2 private key under dir (PEM, 0600) and
// returns their paths and public recipients.
func keyFiles(t testing.TB, dir string) (paths []string, to map[fieldcrypto.Algorithm]fieldcrypto.Recipient) {
	t.Helper()
	to = map[fieldcrypto.Algorithm]fieldcrypto.Recipient{}
	for _, alg := range algs {
		p := filepath.Join(dir, strings.ToLower(string(alg))+".pem")
		keys, _, err := fieldcrypto.EnsureKeyFile(p, alg)
		if err != nil {
			t.Fatal(err)
		}
		to[alg] = recipientOf(t, keys[0])
		paths = append(paths, p)
	}
	return paths, to
}

func recipientOf(t testing.TB, priv any) fieldcrypto.Recipient {
	t.Helper()
	pub, err := fieldcrypto.PublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := fieldcrypto.NewRecipient(pub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writePublic writes r's public key as a PEM file: how an operator hands
// the gateway the authority's key (never fetched from the upstream).
func writePublic(t testing.TB, r fieldcrypto.Recipient, path string) string {
	t.Helper()
	b, err := fieldcrypto.MarshalPublicKeyPEM(r.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// env is a gateway in front of an in-process simulator, with one route per
// encryption mode.
type env struct {
	gw      *server.Server
	cfg     server.Config
	cfgPath string
	url     string
	client  *http.Client
	sim     *simserver.Server
	// gwTo seals for the gateway's keys, simTo for the simulator's.
	gwTo, simTo map[fieldcrypto.Algorithm]fieldcrypto.Recipient
	dir         string
	logs        *testkit.SyncBuffer
}

func newEnv(t testing.TB, mutate func(*server.Config)) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), logs: &testkit.SyncBuffer{}}

	scfg := simconfig.Default()
	scfg.Encryption.KeyDir = filepath.Join(e.dir, "sim-keys")
	sim, err := simserver.New(scfg, simserver.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(sln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
	})
	e.sim = sim
	// The simulator created its keys in key_dir on start.
	simTo := map[fieldcrypto.Algorithm]fieldcrypto.Recipient{}
	for alg, f := range map[fieldcrypto.Algorithm]string{fieldcrypto.AES256CBC: "rsa.pem", fieldcrypto.SM4GCM: "sm2.pem"} {
		keys, err := fieldcrypto.LoadPrivateKeys("file:" + filepath.Join(scfg.Encryption.KeyDir, f))
		if err != nil {
			t.Fatal(err)
		}
		simTo[alg] = recipientOf(t, keys[0])
	}
	e.simTo = simTo

	gwPaths, gwTo := keyFiles(t, filepath.Join(e.dir, "gw-keys"))
	e.gwTo = gwTo

	cfg := server.DefaultConfig()
	cfg.Upstream.URL = "http://" + sln.Addr().String()
	cfg.Store.Path = filepath.Join(e.dir, "ledger.db")
	cfg.Quota.Timezone = "UTC"
	cfg.Auth.Tenants[0].Rate, cfg.Auth.Tenants[0].Burst = 1e6, 1e6 // fuzzing outruns the demo limit
	for _, p := range gwPaths {
		cfg.Encryption.PrivateKeys = append(cfg.Encryption.PrivateKeys, "file:"+p)
	}
	for _, alg := range algs {
		p := writePublic(t, simTo[alg], filepath.Join(e.dir, "upstream-"+strings.ToLower(string(alg))+".pub"))
		cfg.Encryption.UpstreamKeys = append(cfg.Encryption.UpstreamKeys, "file:"+p)
	}
	term := billing.CheckRoute()
	term.Encryption.Mode = encryption.ModeTerminate
	// The Tencent action is the terminate route's (an action is served once).
	up := billing.CheckRoute()
	up.Name, up.Path, up.Encryption.Mode, up.Action = "encrypt-upstream", pathEncUp, encryption.ModeEncryptUpstream, ""
	pass := billing.CheckRoute()
	pass.Name, pass.Path, pass.Action = "passthrough", pathPass, ""
	cfg.Routes = []billing.RouteConfig{term, up, pass}
	cfg.Retry.Routes = nil
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.cfgPath = e.writeConfig(t, cfg)
	gw, err := server.New(cfg, e.cfgPath, slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw.Serve(ln, aln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	e.gw, e.url = gw, "http://"+ln.Addr().String()
	e.client = &http.Client{Timeout: 10 * time.Second}
	return e
}

func (e *env) writeConfig(t testing.TB, cfg server.Config) string {
	t.Helper()
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, "gateway.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type reply struct {
	status    int
	body      []byte
	requestID string
}

func (e *env) post(t testing.TB, path string, body []byte) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: b, requestID: resp.Header.Get("X-Request-Id")}
}

// seal returns req sealed for to (the fields in set) with its session.
func seal(t testing.TB, to fieldcrypto.Recipient, req contracts.CheckRequest, set fieldcrypto.FieldSet) ([]byte, *fieldcrypto.Session) {
	t.Helper()
	sess, err := fieldcrypto.SealRequest(&req, to, set)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b, sess
}

// ledgerClasses maps request ids to their ledger class.
func (e *env) ledgerClasses(t testing.TB) map[string][]string {
	t.Helper()
	if err := e.gw.Ledger().Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.gw.Ledger().Export(context.Background(), &buf, ledger.Filter{}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range recs[1:] {
		out[r[2]] = r // request_id
	}
	return out
}

// ledger CSV columns.
const (
	colResult   = 6
	colClass    = 7
	colBilled   = 8
	colIDMasked = 11
)
