package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/internal/testkit"
)

// fakeUpstream answers like the authority: the Prefer header picks the
// result ("result=-5"), "0" otherwise. It counts calls.
type fakeUpstream struct {
	url   string
	calls atomic.Int64
}

func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{}
	f.url = "http://" + testkit.Serve(t, func(ctx *fasthttp.RequestCtx) {
		f.calls.Add(1)
		if string(ctx.Request.Header.Peek("Authorization")) != "Bearer up-token" {
			ctx.SetStatusCode(401)
			return
		}
		res := "0"
		if p := string(ctx.Request.Header.Peek("Prefer")); strings.HasPrefix(p, "result=") {
			res = strings.TrimPrefix(p, "result=")
		}
		ctx.SetContentType("application/json")
		fmt.Fprintf(ctx, `{"result":%q,"description":"fake"}`, res)
	})
	return f
}

type gw struct {
	s     *Server
	url   string
	admin string
	logs  *testkit.SyncBuffer
}

func testConfig(t testing.TB, upURL, store string) config.Config {
	c := config.Default()
	c.Upstream.URL = upURL
	c.Upstream.Token = "up-token"
	c.Store.Path = store
	c.Quota.Timezone = "UTC"
	c.Auth.Tenants = []auth.TenantConfig{
		{ID: "acme", Name: "ACME", DailyQuota: 5, Rate: 1000, Burst: 1000, Keys: []auth.KeyConfig{{ID: "acme-1", Key: "acme-secret"}}},
		{ID: "globex", Name: "Globex", Rate: 1000, Burst: 1000, Keys: []auth.KeyConfig{{ID: "globex-1", Key: "globex-secret"}}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func startGateway(t testing.TB, cfg config.Config, cfgPath string) *gw {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	s, err := New(cfg, cfgPath, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr, admin := serveOnLoopback(t, s)
	return &gw{s: s, url: "http://" + addr, admin: "http://" + admin, logs: logs}
}

// serveOnLoopback runs s on free loopback ports, its client and admin
// listeners, until the test ends, and returns their addresses.
func serveOnLoopback(t testing.TB, s *Server) (addr, admin string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(ln, aln)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return ln.Addr().String(), aln.Addr().String()
}

const goodID, goodName = "110101191111110010", "测试一致"

var goodBody = fmt.Sprintf(`{"name":%q,"id_card":%q}`, goodName, goodID)

// check sends goodBody with key (none when "") and a Prefer header (none
// when "").
func check(t testing.TB, url, key, prefer string) (int, string) {
	t.Helper()
	a := testkit.Check(t, url, key, goodBody, "Prefer", prefer)
	return a.Status, a.Body
}

func adminDo(t testing.TB, g *gw, method, path, token string, body string) (int, []byte) {
	t.Helper()
	code, b := testkit.Call(t, method, g.admin+path, token, body)
	return code, []byte(b)
}

func TestRoutingAndHealth(t *testing.T) {
	up := startUpstream(t)
	g := startGateway(t, testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db")), "")
	cases := []struct {
		method, path string
		want         int
		code         contracts.ErrorCode
	}{
		{"POST", "/identity/idcard/check-3e", 400, contracts.ErrAPINotImplemented},
		{"POST", contracts.CheckPath + "/", 400, contracts.ErrAPINotImplemented},
		{"GET", contracts.CheckPath, 400, contracts.ErrAPINotImplemented},
		{"POST", strings.ToUpper(contracts.CheckPath), 400, contracts.ErrAPINotImplemented},
		{"POST", "/" + contracts.CheckPath, 400, contracts.ErrAPINotImplemented},
		{"PUT", contracts.CheckPath, 400, contracts.ErrAPINotImplemented},
		// Methods Fiber does not know at all get the same answer, not its
		// plain-text "Invalid http method".
		{"FOO", contracts.CheckPath, 400, contracts.ErrAPINotImplemented},
		{"PROPFIND", "/healthz", 400, contracts.ErrAPINotImplemented},
		{"post", contracts.CheckPath, 400, contracts.ErrAPINotImplemented},
		// The check routes are dispatched before Fiber (newMainApp): the
		// same match, a query string ignored. No key: the pipeline's 401.
		{"POST", contracts.CheckPath, 401, contracts.ErrInvalidToken},
		{"POST", contracts.CheckPath + "?trace=1", 401, contracts.ErrInvalidToken},
		{"GET", "/healthz", 200, ""},
		{"GET", "/readyz", 200, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, g.url+tc.path, strings.NewReader(`{}`))
		resp, err := testkit.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b)
			continue
		}
		if tc.code != "" {
			var e contracts.ErrorBody
			if json.Unmarshal(b, &e) != nil || e.Error.Code != tc.code || e.TraceID != resp.Header.Get("X-Request-Id") {
				t.Errorf("%s %s: body %s", tc.method, tc.path, b)
			}
		}
	}
	// Oversized bodies never reach a handler and still get the contract's 400.
	big := bytes.Repeat([]byte("a"), 70000)
	req, _ := http.NewRequest("POST", g.url+contracts.CheckPath, bytes.NewReader(big))
	req.Header.Set("Authorization", "Bearer acme-secret")
	resp, err := testkit.Client.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "token_mismatched") {
			t.Errorf("oversized: %d %s", resp.StatusCode, b)
		}
	}
	if up.calls.Load() != 0 {
		t.Fatalf("upstream called %d times", up.calls.Load())
	}
	// /metrics lives on the admin listener, without the admin token.
	code, body := adminDo(t, g, "GET", "/metrics", "", "")
	if code != 200 || !strings.Contains(string(body), `idgate_gateway_requests_total{class="unknown_route"`) {
		t.Fatalf("metrics: %d", code)
	}
}

func TestReadyzReportsUpstreamDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	g := startGateway(t, testConfig(t, "http://"+addr, filepath.Join(t.TempDir(), "l.db")), "")
	resp, err := testkit.Client.Get(g.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("readyz %d with the upstream down", resp.StatusCode)
	}
	if code, body := check(t, g.url, "acme-secret", ""); code != 500 || !strings.Contains(body, "api_error") {
		t.Fatalf("upstream down: %d %s", code, body)
	}
}

func TestQuotaSurvivesRestart(t *testing.T) {
	up := startUpstream(t)
	store := filepath.Join(t.TempDir(), "l.db")
	cfg := testConfig(t, up.url, store)
	g := startGateway(t, cfg, "")
	for i := 0; i < 3; i++ {
		if code, _ := check(t, g.url, "acme-secret", ""); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	check(t, g.url, "acme-secret", "result=-5") // not billed: no quota used
	if err := g.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	g2 := startGateway(t, cfg, "")
	want := []int{200, 200, 402}
	for i, w := range want {
		if code, body := check(t, g2.url, "acme-secret", ""); code != w {
			t.Fatalf("after restart, request %d: %d %s (want %d)", i, code, body, w)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	g := startGateway(t, cfg, writeConfig(t, cfg))
	const tok = "gateway-admin-token"
	if code, _ := adminDo(t, g, "GET", "/admin/tenants", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := adminDo(t, g, "GET", "/admin/tenants", "wrong", ""); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := adminDo(t, g, "GET", "/admin/debug/pprof/cmdline", "", ""); code != 401 {
		t.Fatalf("pprof without token: %d", code)
	}
	if code, _ := adminDo(t, g, "GET", "/admin/debug/pprof/cmdline", tok, ""); code != 200 {
		t.Fatalf("pprof with token: %d", code)
	}
	check(t, g.url, "acme-secret", "")
	check(t, g.url, "acme-secret", "result=-5")

	// Create a key, use it, rotate it, disable it.
	code, body := adminDo(t, g, "POST", "/admin/tenants/acme/keys", tok, `{"id":"acme-2","daily_quota":1}`)
	var created struct {
		ID, Key string
	}
	if code != 201 || json.Unmarshal(body, &created) != nil || created.Key == "" {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := check(t, g.url, created.Key, ""); code != 200 {
		t.Fatalf("new key: %d", code)
	}
	if code, _ := adminDo(t, g, "POST", "/admin/tenants/acme/keys", tok, `{"id":"acme-2"}`); code != 409 {
		t.Fatalf("duplicate key id: %d", code)
	}
	if code, _ := adminDo(t, g, "POST", "/admin/tenants/acme/keys", tok, `{"id":"acme-1"}`); code != 409 {
		t.Fatalf("config key id reused: %d", code)
	}
	if code, _ := check(t, g.url, created.Key, ""); code != 402 {
		t.Fatalf("new key's own quota of 1 not applied: %d", code)
	}
	code, body = adminDo(t, g, "POST", "/admin/keys/acme-2/rotate", tok, "")
	var rotated struct{ Key string }
	if code != 200 || json.Unmarshal(body, &rotated) != nil || rotated.Key == created.Key {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if code, _ := check(t, g.url, created.Key, ""); code != 401 {
		t.Fatalf("old secret after rotation: %d", code)
	}
	if code, _ := adminDo(t, g, "POST", "/admin/keys/acme-1/disable", tok, ""); code != 200 {
		t.Fatal("disable")
	}
	if code, _ := check(t, g.url, "acme-secret", ""); code != 401 {
		t.Fatalf("disabled key: %d", code)
	}
	// A reload keeps admin changes (they live in the store).
	if code, b := adminDo(t, g, "POST", "/admin/reload", tok, ""); code != 200 {
		t.Fatalf("reload %d %s", code, b)
	}
	if code, _ := check(t, g.url, "acme-secret", ""); code != 401 {
		t.Fatalf("disabled key after reload: %d", code)
	}
	adminDo(t, g, "POST", "/admin/keys/acme-1/enable", tok, "")
	if code, _ := check(t, g.url, "acme-secret", ""); code != 200 {
		t.Fatalf("re-enabled key: %d", code)
	}
	for _, c := range []struct{ path string }{{"/admin/tenants/nope/keys"}, {"/admin/keys/nope/rotate"}} {
		if code, _ := adminDo(t, g, "POST", c.path, tok, ""); code != 404 {
			t.Errorf("%s: %d", c.path, code)
		}
	}

	// Quota: acme used 3 of 5 billed (acme-1 twice, acme-2 once).
	code, body = adminDo(t, g, "GET", "/admin/quota?tenant=acme", tok, "")
	var q struct {
		Quotas []struct {
			Tenant string
			Quota  struct{ Used, Remaining int64 }
		}
	}
	if code != 200 || json.Unmarshal(body, &q) != nil || len(q.Quotas) != 1 || q.Quotas[0].Quota.Used != 3 || q.Quotas[0].Quota.Remaining != 2 {
		t.Fatalf("quota: %d %s", code, body)
	}
	code, body = adminDo(t, g, "GET", "/admin/tenants", tok, "")
	if code != 200 || !strings.Contains(string(body), `"acme-2"`) || strings.Contains(string(body), created.Key) {
		t.Fatalf("tenants: %d %s", code, body)
	}

	g.s.Ledger().Flush()
	code, body = adminDo(t, g, "GET", "/admin/usage?tenant=acme", tok, "")
	var u struct {
		Usage []struct {
			Class string
			Count int64
		}
	}
	if code != 200 || json.Unmarshal(body, &u) != nil {
		t.Fatalf("usage: %d %s", code, body)
	}
	got := map[string]int64{}
	for _, r := range u.Usage {
		got[r.Class] = r.Count
	}
	if got["billed"] != 3 || got["not_billed"] != 1 || got["quota_exceeded"] != 1 {
		t.Fatalf("usage by class %v", got)
	}
	code, body = adminDo(t, g, "GET", "/admin/usage.csv?tenant=acme", tok, "")
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != len(u.Usage)+1 || recs[0][3] != "count" {
		t.Fatalf("usage.csv: %d %q", code, body)
	}
	code, body = adminDo(t, g, "GET", "/admin/ledger.csv?tenant=acme", tok, "")
	recs, err = csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != 6 {
		t.Fatalf("ledger.csv: %d rows %d %v", code, len(recs), err)
	}
	for _, r := range recs[1:] {
		if r[11] != "110101********0010" {
			t.Fatalf("ledger id %q", r[11])
		}
	}
	if strings.Contains(string(body), goodID) || strings.Contains(string(body), goodName) {
		t.Fatal("ledger export holds personal data")
	}
	if code, _ := adminDo(t, g, "GET", "/admin/usage?from=yesterday", tok, ""); code != 400 {
		t.Fatalf("bad day: %d", code)
	}
}

func TestShutdownFlushesLedger(t *testing.T) {
	up := startUpstream(t)
	store := filepath.Join(t.TempDir(), "l.db")
	cfg := testConfig(t, up.url, store)
	g := startGateway(t, cfg, "")
	var ok atomic.Int64
	stop := make(chan struct{})
	wait := testkit.Load{Workers: 8, Stop: stop}.Start(func(int, int) bool {
		a := testkit.TryCheck(g.url, "globex-secret", goodBody)
		if a.Err != nil {
			return false // listener closed
		}
		// Every answer counts, 429s included: each has its entry.
		if a.RequestID() != "" {
			ok.Add(1)
		}
		return true
	})
	time.Sleep(300 * time.Millisecond)
	if err := g.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wait()
	g2 := startGateway(t, cfg, "")
	n, err := g2.s.Ledger().Count(context.Background(), ledgerFilter("globex"), false)
	if err != nil {
		t.Fatal(err)
	}
	if n != ok.Load() || n == 0 {
		t.Fatalf("ledger has %d globex entries, clients got %d answers", n, ok.Load())
	}
}

// A client that dialled a connection and never used it must not hold up
// shutdown until the read timeout (fasthttp would wait for it).
func TestShutdownClosesUnusedConnections(t *testing.T) {
	up := startUpstream(t)
	g := startGateway(t, testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db")), "")
	c, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an unused connection open: %v", err)
	}
}

func TestReloadRejectsBadConfig(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	path := writeConfig(t, cfg)
	g := startGateway(t, cfg, path)
	if err := os.WriteFile(path, []byte("tenants: [{id: x, keys: [{id: k}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.s.Reload(); err == nil {
		t.Fatal("invalid config accepted")
	}
	if code, _ := check(t, g.url, "acme-secret", ""); code != 200 {
		t.Fatalf("old keys lost after a failed reload: %d", code)
	}
	// A valid change applies: acme's key is replaced.
	cfg.Auth.Tenants[0].Keys[0].Key = "acme-new"
	b, _ := yaml.Marshal(cfg)
	os.WriteFile(path, b, 0o600)
	if _, err := g.s.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := check(t, g.url, "acme-secret", ""); code != 401 {
		t.Fatalf("removed key: %d", code)
	}
	if code, _ := check(t, g.url, "acme-new", ""); code != 200 {
		t.Fatalf("new key: %d", code)
	}
}
