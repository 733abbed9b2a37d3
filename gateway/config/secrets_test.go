package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/secret"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every secret of the configuration, wherever it sits, is read from the
// file its sibling setting names, and the file wins over the value.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	yaml := `
admin: {token: inline-admin, token_file: ` + writeFile(t, dir, "admin", "file-admin\n") + `}
upstream: {token_file: ` + writeFile(t, dir, "up", "file-up") + `}
cache: {enabled: true, key_secret_file: ` + writeFile(t, dir, "cache", "file-cache-0123456789") + `}
tenants:
  - id: t
    rate: 1
    burst: 1
    keys:
      - {id: k1, key_file: ` + writeFile(t, dir, "k1", " file-key-1 \n") + `}
      - {id: k2, key: inline-key-2}
sessions:
  enabled: true
  upstream_webhook_secret: inline-webhook
  upstream_webhook_secret_file: ` + writeFile(t, dir, "wh", "file-webhook") + `
  tenant_webhook_secrets: {t: inline-t, u: inline-u}
  tenant_webhook_secret_files: {t: ` + writeFile(t, dir, "wt", "file-t") + `, v: ` + writeFile(t, dir, "wv", "file-v") + `}
`
	path := writeFile(t, dir, "gateway.yaml", yaml)
	c, err := load(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]secret.Secret{
		"admin": c.Admin.Token, "upstream": c.Upstream.Token, "cache": c.Cache.KeySecret,
		"key1": c.Auth.Tenants[0].Keys[0].Key, "key2": c.Auth.Tenants[0].Keys[1].Key,
		"webhook": c.Sessions.UpstreamWebhookSecret,
	}
	want := map[string]secret.Secret{
		"admin": "file-admin", "upstream": "file-up", "cache": "file-cache-0123456789",
		"key1": "file-key-1", "key2": "inline-key-2", "webhook": "file-webhook",
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s: got %q, want %q", k, got[k].Reveal(), want[k].Reveal())
		}
	}
	if w := map[string]secret.Secret{"t": "file-t", "u": "inline-u", "v": "file-v"}; !reflect.DeepEqual(c.Sessions.TenantWebhookSecrets, w) {
		t.Errorf("tenant webhook secrets: %v", c.Sessions.TenantWebhookSecrets)
	}

	// The file, named by the environment, wins over the environment's value.
	c, err = load(path, envOf(map[string]string{
		EnvPrefix + "UPSTREAM_TOKEN": "env-up", EnvPrefix + "UPSTREAM_TOKEN_FILE": writeFile(t, dir, "up2", "file-up-2"),
	}))
	if err != nil || c.Upstream.Token != "file-up-2" {
		t.Fatalf("%v %q", err, c.Upstream.Token.Reveal())
	}

	// A missing file is named by its setting's path.
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(yaml, "key_file: "+filepath.Join(dir, "k1"), "key_file: "+filepath.Join(dir, "nope"), 1))
	if _, err := load(bad, envOf(nil)); err == nil || !strings.Contains(err.Error(), "tenants[0].keys[0].key_file") {
		t.Fatalf("error %v, want one naming tenants[0].keys[0].key_file", err)
	}
}

// Every secret setting can come from a file (so no deployment needs a
// secret in YAML), and every file tag names a real sibling setting.
func TestEverySecretHasAFile(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Struct:
			v := reflect.New(typ).Elem()
			for _, s := range settings(v) {
				p := join(path, s.name)
				if s.value.Type() == secretType || s.value.Type() == secretMapType {
					key := s.field.Tag.Get("file")
					if _, ok := child(v, key); key == "" || !ok {
						t.Errorf("%s: a secret without a file setting (tag file:%q)", p, key)
					}
				}
				walk(s.value.Type(), p)
			}
		case reflect.Slice, reflect.Map:
			if typ != secretMapType && (typ.Elem() == secretType || typ.Elem() == secretMapType) {
				t.Errorf("%s: secrets in a list or map cannot be read from files", path)
			}
			walk(typ.Elem(), path+"[]")
		}
	}
	walk(reflect.TypeFor[Config](), "")
}
