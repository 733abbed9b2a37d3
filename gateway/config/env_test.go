package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Every variable names a setting that exists, once, and its name follows
// the rule (the path upper-cased, dots as underscores).
func TestEnvVarsNameRealSettings(t *testing.T) {
	c := Default()
	seen := map[string]bool{}
	for _, setting := range EnvVars {
		name := EnvName(setting)
		if _, err := lookup(reflect.ValueOf(&c).Elem(), setting); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if setting == "upstream.timeout" && name != EnvPrefix+"UPSTREAM_TIMEOUT" {
			t.Errorf("upstream.timeout is overridden by %s", name)
		}
		if seen[name] {
			t.Errorf("%s listed twice", name)
		}
		seen[name] = true
	}
}

func TestEnvKinds(t *testing.T) {
	env := map[string]string{
		EnvPrefix + "ENCRYPTION_PRIVATE_KEYS":          " file:/a.pem, ,env:B ",
		EnvPrefix + "ENCRYPTION_UPSTREAM_ALGORITHM":    "SM4-GCM",
		EnvPrefix + "ENCRYPTION_UPSTREAM_KEYS":         "file:/up.pem",
		EnvPrefix + "TLS_CERT_FILE":                    "/c.pem",
		EnvPrefix + "TLS_KEY_FILE":                     "/k.pem",
		EnvPrefix + "SESSIONS_CALLBACK_URL":            "https://gw.example/webhooks/sessions",
		EnvPrefix + "SESSIONS_UPSTREAM_WEBHOOK_SECRET": "from-env",
		EnvPrefix + "CACHE_ENABLED":                    "1",
		EnvPrefix + "CACHE_KEY_SECRET":                 "from-env-0123456789",
		EnvPrefix + "TIMEZONE":                         "UTC",
		EnvPrefix + "LOG_LEVEL":                        "warn",
		EnvPrefix + "STORE_PATH":                       "/tmp/l.db",
		EnvPrefix + "UPSTREAM_URL":                     "https://authority.example",
	}
	c, err := load("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"file:/a.pem", "env:B"}; !reflect.DeepEqual(c.Encryption.PrivateKeys, want) {
		t.Errorf("private keys %q, want %q", c.Encryption.PrivateKeys, want)
	}
	if c.Encryption.UpstreamAlgorithm != "SM4-GCM" || c.TLS.CertFile != "/c.pem" || c.TLS.KeyFile != "/k.pem" ||
		c.Sessions.CallbackURL != "https://gw.example/webhooks/sessions" || c.Sessions.UpstreamWebhookSecret != "from-env" ||
		!c.Cache.Enabled || c.Cache.KeySecret != "from-env-0123456789" || c.Quota.Timezone != "UTC" ||
		c.LogLevel != "warn" || c.Store.Path != "/tmp/l.db" || c.Upstream.URL != "https://authority.example" {
		t.Fatalf("env not applied: %+v", c)
	}
	for name, bad := range map[string]string{"CACHE_ENABLED": "yes please", "UPSTREAM_TIMEOUT": "soon"} {
		if _, err := load("", envOf(map[string]string{EnvPrefix + name: bad})); err == nil || !strings.Contains(err.Error(), EnvPrefix+name) {
			t.Errorf("%s=%q: error %v, want one naming the variable", name, bad, err)
		}
	}
}

func TestSetStringTypes(t *testing.T) {
	var v struct {
		D time.Duration
		N int
		U uint32
		F float64
		B bool
		L []string
	}
	r := reflect.ValueOf(&v).Elem()
	for i, s := range []string{"1m30s", "-3", "7", "0.25", "true", "a,b"} {
		if err := setString(r.Field(i), s); err != nil {
			t.Fatal(err)
		}
	}
	if v.D != 90*time.Second || v.N != -3 || v.U != 7 || v.F != 0.25 || !v.B || len(v.L) != 2 {
		t.Fatalf("%+v", v)
	}
	if err := setString(r.Field(2), "-1"); err == nil {
		t.Fatal("negative into unsigned accepted")
	}
}
