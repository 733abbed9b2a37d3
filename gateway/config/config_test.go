package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/upstream"
	"github.com/idgate/idgate/internal/configtest"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join("..", "..", rel)
}

func TestDemoFileMatchesDefaults(t *testing.T) {
	c, err := Load(repoFile(t, "configs/gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(c, want) {
		t.Fatalf("configs/gateway.yaml differs from Default():\n got %+v\nwant %+v", c, want)
	}
	if err := want().Validate(); err != nil {
		t.Fatal(err)
	}
}

func want() *Config { c := Default(); return &c }

func TestProductionExampleLoads(t *testing.T) {
	dir := t.TempDir()
	adm, up := filepath.Join(dir, "admin"), filepath.Join(dir, "up")
	os.WriteFile(adm, []byte("admin-secret\n"), 0o600)
	os.WriteFile(up, []byte("up-secret"), 0o600)
	cacheKey := filepath.Join(dir, "cache-key")
	os.WriteFile(cacheKey, []byte("cache-secret-0123456789\n"), 0o600)
	env := map[string]string{
		EnvPrefix + "ADMIN_TOKEN_FILE":      adm,
		EnvPrefix + "UPSTREAM_TOKEN_FILE":   up,
		EnvPrefix + "CACHE_KEY_SECRET_FILE": cacheKey,
	}
	c, err := load(repoFile(t, "configs/gateway.production.yaml"), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache.KeySecret != "cache-secret-0123456789" || !c.Cache.Enabled {
		t.Fatalf("cache secret from file not applied: %q", c.Cache.KeySecret)
	}
	if c.Admin.Token != "admin-secret" || c.Upstream.Token != "up-secret" {
		t.Fatalf("secrets from files not applied: %q %q", c.Admin.Token, c.Upstream.Token)
	}
	if len(c.Auth.Tenants) < 2 || len(c.Routes) != 2 {
		t.Fatalf("want several tenants and two routes, got %d, %d", len(c.Auth.Tenants), len(c.Routes))
	}
	for _, tn := range c.Auth.Tenants {
		for _, k := range tn.Keys {
			if k.Key != "" || k.KeySHA256 == "" {
				t.Errorf("production key %s must be a sha256 digest only", k.ID)
			}
		}
	}
	// The two APIs' tables must differ where REFERENCE says they do.
	if c.Routes[0].Results["-7"].Description == c.Routes[1].Results["-7"].Description {
		t.Error("sibling route reuses check-2e's code meanings")
	}
	if _, ok := c.Routes[1].Results["-8"]; !ok {
		t.Error("sibling route lacks -8")
	}
}

func TestValidateRejects(t *testing.T) {
	validate := func(c Config) error { return c.Validate() }
	configtest.Run(t, Default, validate, []configtest.Case[Config]{
		{Name: "no admin token", Mod: func(c *Config) { c.Admin.Token = "" }, Want: "admin.token"},
		{Name: "bad zone", Mod: func(c *Config) { c.Quota.Timezone = "Mars/Olympus" }, Want: "timezone"},
		{Name: "bad url", Mod: func(c *Config) { c.Upstream.URL = "ftp://x" }, Want: "upstream.url"},
		{Name: "two secrets", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].KeySHA256 = strings.Repeat("a", 64) }, Want: "exactly one"},
		{Name: "short digest", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].Key = ""; c.Auth.Tenants[0].Keys[0].KeySHA256 = "abcd" }, Want: "64 hex"},
		{Name: "dup key id", Mod: func(c *Config) {
			c.Auth.Tenants[0].Keys = append(c.Auth.Tenants[0].Keys, auth.KeyConfig{ID: "demo-key-1", Key: "x"})
		}, Want: "duplicate"},
		{Name: "no rate", Mod: func(c *Config) { c.Auth.Tenants[0].Rate = 0 }, Want: "rate and burst"},
		{Name: "billed local answer", Mod: func(c *Config) { c.Routes[0].LocalAnswers.IllegalID = "0" }, Want: "non-billed"},
		{Name: "unknown local answer", Mod: func(c *Config) { c.Routes[0].LocalAnswers.IllegalName = "-99" }, Want: "non-billed"},
		{Name: "empty table", Mod: func(c *Config) { c.Routes[0].Results = nil }, Want: "billing table"},
		// Tencent Cloud API 3.0: pairs, actions, the upstream's dialect.
		{Name: "secret_id without secret_key", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].SecretKey = "" }, Want: "secret_id and secret_key"},
		{Name: "secret_key without secret_id", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].SecretID = "" }, Want: "secret_id and secret_key"},
		{Name: "secret_id with a slash", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].SecretID = "a/b" }, Want: "secret_id must be"},
		{Name: "secret_id twice", Mod: func(c *Config) {
			c.Auth.Tenants[0].Keys = append(c.Auth.Tenants[0].Keys, auth.KeyConfig{ID: "k2", Key: "other", SecretID: "demo-secret-id", SecretKey: "s"})
		}, Want: "used by another key"},
		{Name: "secret_key with a space", Mod: func(c *Config) { c.Auth.Tenants[0].Keys[0].SecretKey = "a b" }, Want: "secret_key must be"},
		{Name: "sealing key not hex", Mod: func(c *Config) { c.Auth.Secrets.SecretEncryptionKey = "zz" }, Want: "secret_encryption_key"},
		{Name: "sealing key short", Mod: func(c *Config) { c.Auth.Secrets.SecretEncryptionKey = "abcd" }, Want: "secret_encryption_key"},
		{Name: "no sealing key (config pairs need none)", Mod: func(c *Config) { c.Auth.Secrets.SecretEncryptionKey = "" }},
		{Name: "unknown action", Mod: func(c *Config) { c.Routes[0].Action = "DetectAuth" }, Want: "action"},
		{Name: "action twice", Mod: func(c *Config) { c.Routes[1].Action = c.Routes[0].Action }, Want: "served by another route"},
		{Name: "no action", Mod: func(c *Config) { c.Routes[0].Action = "" }},
		{Name: "unknown upstream dialect", Mod: func(c *Config) { c.Routes[0].UpstreamDialect = "soap" }, Want: "upstream_dialect"},
		{Name: "tencent upstream without action", Mod: func(c *Config) { c.Routes[1].UpstreamAction = "" }, Want: "upstream_action"},
		{Name: "upstream action on an aggregator upstream", Mod: func(c *Config) { c.Routes[0].UpstreamAction = "IdCardVerification" }, Want: "upstream_action"},
		{Name: "tencent upstream without a pair", Mod: func(c *Config) { c.Upstream.Tencent.SecretKey = "" }, Want: "upstream.tencent"},
		{Name: "no tencent upstream, no pair needed", Mod: func(c *Config) {
			c.Upstream.Tencent = upstream.TencentConfig{}
			c.Routes = c.Routes[:1]
			c.Retry.Routes = nil
		}},
		{Name: "route on the dialect's endpoint", Mod: func(c *Config) { c.Routes[0].Path = "/" }, Want: "Tencent dialect's endpoint"},
	})
}

func TestTencentSecretsFromFilesAndEnv(t *testing.T) {
	dir := t.TempDir()
	keyFile, upFile, sealFile := filepath.Join(dir, "k"), filepath.Join(dir, "u"), filepath.Join(dir, "s")
	os.WriteFile(keyFile, []byte("from-file-secret\n"), 0o600)
	os.WriteFile(upFile, []byte("up-from-file\n"), 0o600)
	os.WriteFile(sealFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	cfg := Default()
	cfg.Auth.Tenants[0].Keys[0].SecretKey = ""
	cfg.Auth.Tenants[0].Keys[0].SecretKeyFile = keyFile
	cfg.Upstream.Tencent.SecretKey = ""
	path := filepath.Join(dir, "gateway.yaml")
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o600)
	c, err := load(path, envOf(map[string]string{
		EnvPrefix + "UPSTREAM_TENCENT_SECRET_KEY_FILE": upFile,
		EnvPrefix + "AUTH_SECRET_ENCRYPTION_KEY_FILE":  sealFile,
		EnvPrefix + "UPSTREAM_TENCENT_REGION":          "ap-shanghai",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.Tenants[0].Keys[0].SecretKey != "from-file-secret" || c.Upstream.Tencent.SecretKey != "up-from-file" ||
		c.Auth.Secrets.SecretEncryptionKey.Reveal() != strings.Repeat("ab", 32) || c.Upstream.Tencent.Region != "ap-shanghai" {
		t.Fatalf("secrets not read: %+v %+v %+v", c.Auth.Tenants[0].Keys[0], c.Upstream.Tencent, c.Auth.Secrets)
	}
	if out := fmt.Sprintf("%+v", c); strings.Contains(out, "from-file-secret") || strings.Contains(out, "up-from-file") {
		t.Fatal("a secret prints")
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	if _, err := Parse([]byte("listen: x\nlisten_adress: y\n")); err == nil {
		t.Fatal("a misspelled setting must be an error")
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		EnvPrefix + "UPSTREAM_TOKEN":   "from-env",
		EnvPrefix + "LISTEN":           "127.0.0.1:1",
		EnvPrefix + "UPSTREAM_TIMEOUT": "250ms",
	}
	c, err := load("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream.Token != "from-env" || c.Listen != "127.0.0.1:1" || c.Upstream.Timeout.Milliseconds() != 250 {
		t.Fatalf("env not applied: %+v", c)
	}
	env[EnvPrefix+"UPSTREAM_TIMEOUT"] = "soon"
	if _, err := load("", envOf(env)); err == nil {
		t.Fatal("bad duration accepted")
	}
}
