package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/gateway/auth"
)

// A reload applies the reloadable settings and names every other changed
// setting, in its log and in the admin API's answer, without a value; the
// running values of those stay.
func TestReloadNamesIgnoredSettings(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	path := writeConfig(t, cfg)
	g := startGateway(t, cfg, path)
	oldToken := cfg.Admin.Token.Reveal()

	if r, err := g.s.Reload(); err != nil || len(r.Applied)+len(r.Ignored) != 0 {
		t.Fatalf("reload of the unchanged file: %+v %v", r, err)
	}

	next := cfg
	next.MaxBodyBytes = 1024
	next.Quota.Timezone = "Asia/Shanghai"
	next.LogLevel = "debug"
	next.TLS.CertFile, next.TLS.KeyFile = "/etc/idgate/tls/gateway.crt", "/etc/idgate/tls/gateway.key"
	next.Upstream.URL = "http://127.0.0.1:1"
	next.Admin.Token = "rotated-admin-token-value"
	next.Auth.Tenants = []auth.TenantConfig{cfg.Auth.Tenants[0], cfg.Auth.Tenants[1]}
	next.Auth.Tenants[0].Rate = 7
	b, err := yaml.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	code, body := adminDo(t, g, "POST", "/admin/reload", oldToken, "")
	if code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	var answer struct {
		Reloaded bool     `json:"reloaded"`
		Applied  []string `json:"applied"`
		Ignored  []string `json:"ignored"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatal(err)
	}
	wantIgnored := []string{"admin.token", "timezone", "max_body_bytes", "log_level", "upstream.url", "tls.cert_file", "tls.key_file"}
	if !answer.Reloaded || !reflect.DeepEqual(answer.Applied, []string{"tenants[0].rate"}) || !reflect.DeepEqual(answer.Ignored, wantIgnored) {
		t.Fatalf("answer %s\nwant applied [tenants[0].rate], ignored %q", body, wantIgnored)
	}
	logs := g.logs.String()
	for _, p := range wantIgnored {
		if !strings.Contains(logs, `"`+p+`"`) {
			t.Errorf("the reload's log does not name %s:\n%s", p, logs)
		}
	}
	if strings.Contains(logs+string(body), "rotated-admin-token-value") {
		t.Fatal("a secret's value was printed")
	}

	// The ignored settings kept their running values: the old admin token
	// still works, and the next reload names them again.
	if code, _ := adminDo(t, g, "POST", "/admin/reload", "rotated-admin-token-value", ""); code != 401 {
		t.Fatalf("the new admin token was applied: %d", code)
	}
	r, err := g.s.Reload()
	if err != nil || len(r.Applied) != 0 || !reflect.DeepEqual(r.Ignored, wantIgnored) {
		t.Fatalf("second reload: %+v %v", r, err)
	}
	if d, _ := g.s.dir.Current().Key("acme-1"); d.Rate != 7 {
		t.Fatalf("the reloaded rate is not in force: %v", d.Rate)
	}
}
