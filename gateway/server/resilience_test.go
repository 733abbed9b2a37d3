package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The cache's admin routes sit behind the admin token, and the cache,
// breaker, retry and idempotency metrics are on the admin listener's
// /metrics.
func TestCacheAdminAndMetrics(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "ledger.db"))
	cfg.Cache.Enabled, cfg.Cache.KeySecret = true, "server-test-cache-secret"
	g := startGateway(t, cfg, "")
	if code, _ := check(t, g.url, "globex-secret", ""); code != 200 {
		t.Fatalf("check: %d", code)
	}
	if code, _ := check(t, g.url, "globex-secret", ""); code != 200 {
		t.Fatalf("check: %d", code)
	}
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/admin/cache", "", "", http.StatusUnauthorized},
		{"DELETE", "/admin/cache/tenants/acme", "wrong", "", http.StatusUnauthorized},
		{"POST", "/admin/cache/purge", "", `{"name":"a","id_card":"b"}`, http.StatusUnauthorized},
		{"GET", "/admin/cache", cfg.Admin.Token.Reveal(), "", http.StatusOK},
		{"DELETE", "/admin/cache/tenants/acme", cfg.Admin.Token.Reveal(), "", http.StatusNoContent},
		{"POST", "/admin/cache/purge", cfg.Admin.Token.Reveal(), `{"name":"测试一致","id_card":"110101191111110010"}`, http.StatusNoContent},
		{"POST", "/admin/cache/purge", cfg.Admin.Token.Reveal(), `{"name":""}`, http.StatusBadRequest},
	} {
		if code, body := adminDo(t, g, tc.method, tc.path, tc.token, tc.body); code != tc.want {
			t.Errorf("%s %s (token %q): %d %s, want %d", tc.method, tc.path, tc.token, code, body, tc.want)
		}
	}
	// The purge made the next identical request go upstream again.
	before := up.calls.Load()
	check(t, g.url, "globex-secret", "")
	if up.calls.Load() != before+1 {
		t.Error("the pair purge did not drop the entry")
	}
	_, m := adminDo(t, g, "GET", "/metrics", "", "")
	for _, name := range []string{
		"idgate_gateway_cache_hits_total 1", "idgate_gateway_cache_misses_total 2",
		"idgate_gateway_cache_evictions_total", "idgate_gateway_cache_cost_bytes",
		"idgate_gateway_breaker_state{upstream=", "idgate_gateway_upstream_attempts_bucket",
		"idgate_gateway_idempotency_entries",
		`idgate_gateway_requests_total{class="cached",route="check-2e",tenant="globex"} 1`,
	} {
		if !strings.Contains(string(m), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	code, body := adminDo(t, g, "GET", "/readyz", "", "")
	if code != 200 || !strings.Contains(string(body), `"breaker":"closed"`) {
		t.Errorf("readyz %d %s", code, body)
	}
}
