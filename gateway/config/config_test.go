package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idgate/idgate/gateway/auth"
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
	})
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
