package server

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/gateway/admin"
)

// TestAdminBadInput: every admin body is bounded and exact; a bad one is
// refused without effect.
func TestAdminBadInput(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	cfg.Cache.Enabled, cfg.Cache.KeySecret = true, "server-test-cache-secret"
	g := startGateway(t, cfg, "")
	const tok = "gateway-admin-token"
	big := `{"id":"acme-big","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown field on key creation", "POST", "/admin/tenants/acme/keys", `{"id":"acme-u","quota":5}`, 400},
		{"two objects on key creation", "POST", "/admin/tenants/acme/keys", `{"id":"acme-t"}{"id":"acme-v"}`, 400},
		{"2 MiB key creation", "POST", "/admin/tenants/acme/keys", big, 400},
		{"just over the JSON bound", "POST", "/admin/tenants/acme/keys", `{"id":"acme-j"}` + strings.Repeat(" ", admin.MaxJSONBytes), 400},
		{"unknown field on cache purge", "POST", "/admin/cache/purge", `{"name":"a","id_card":"b","tenant":"c"}`, 400},
		{"2 MiB cache purge", "POST", "/admin/cache/purge", big, 400},
		{"a statement over the bound", "POST", "/admin/reconcile", `{"days":[]}` + strings.Repeat(" ", admin.MaxStatementBytes), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, b := adminDo(t, g, tc.method, tc.path, tok, tc.body); code != tc.status {
				t.Fatalf("%d %.200s, want %d", code, b, tc.status)
			}
		})
	}
	// None of the refused creations made a key.
	for _, id := range []string{"acme-u", "acme-t", "acme-v", "acme-big", "acme-j"} {
		if _, ok := g.s.dir.Current().Key(id); ok {
			t.Errorf("refused creation made key %s", id)
		}
	}
}
