package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/internal/secret"
)

func TestChanges(t *testing.T) {
	a := Default()
	if got := Changes(a, Default()); len(got) != 0 {
		t.Fatalf("no change reported as %q", got)
	}
	b := Default()
	b.MaxBodyBytes++
	b.Quota.Timezone = "UTC"
	b.LogLevel = "debug"
	b.TLS.CertFile = "/c.pem"
	b.Upstream.URL = "https://authority.example"
	b.Admin.Token = "rotated-admin-token"
	b.Auth.Tenants[0].Keys[0].Rate = 7
	b.Auth.Tenants = append(b.Auth.Tenants, auth.TenantConfig{ID: "new"})
	b.Cache.TTL = map[string]time.Duration{"0": a.Cache.TTL["0"]}
	b.Sessions.TenantWebhookSecrets = map[string]secret.Secret{"demo": "rotated", "new": "x"}
	want := []string{
		"admin.token", "timezone", "max_body_bytes", "log_level", "upstream.url",
		"tenants[0].keys[0].rate", "tenants[1]", "tls.cert_file",
		"sessions.tenant_webhook_secrets[demo]", "sessions.tenant_webhook_secrets[new]",
		"cache.ttl[-1]",
	}
	got := Changes(a, b)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes\n got %q\nwant %q", got, want)
	}
	for _, p := range got {
		if strings.Contains(p, "rotated") {
			t.Fatalf("a value leaked into a path: %q", p)
		}
	}
}

// A configuration written as YAML and read back is the same: the running
// config and a reloaded file compare equal when nothing changed.
func TestYAMLRoundTripHasNoChanges(t *testing.T) {
	a := Default()
	b, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := Changes(a, back); len(got) != 0 {
		t.Fatalf("round trip changed %q", got)
	}
}

func TestWithinAndTake(t *testing.T) {
	for path, want := range map[string]bool{
		"tenants": true, "tenants[0].rate": true, "tenants_x": false,
		"sessions.tenant_webhook_secrets[demo]": true, "sessions.tenant_webhook_secret_files": false,
	} {
		if Within(path, "tenants", "sessions.tenant_webhook_secrets") != want {
			t.Errorf("Within(%q) != %v", path, want)
		}
	}
	run, file := Default(), Default()
	file.Auth.Tenants[0].Rate = 1
	file.MaxBodyBytes = 1
	file.Encryption.PrivateKeys = []string{"file:/new.pem"}
	if err := Take(&run, file, "tenants", "encryption.private_keys"); err != nil {
		t.Fatal(err)
	}
	if got := Changes(run, file); !reflect.DeepEqual(got, []string{"max_body_bytes"}) {
		t.Fatalf("after Take, still different: %q", got)
	}
	if err := Take(&run, file, "no.such"); err == nil {
		t.Fatal("unknown path accepted")
	}
}
