package sessions

import (
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/secret"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"demo", func(*Config) {}, ""},
		{"off ignores its fields", func(c *Config) { *c = Config{} }, ""},
		{"no upstream secret", func(c *Config) { c.UpstreamWebhookSecret = "" }, "sessions.upstream_webhook_secret"},
		{"relative callback", func(c *Config) { c.CallbackURL = "/webhooks/sessions" }, "sessions.callback_url"},
		{"empty tenant secret", func(c *Config) { c.TenantWebhookSecrets = map[string]secret.Secret{"acme": ""} }, "tenant_webhook_secrets[acme]"},
		{"backoff order", func(c *Config) { c.Delivery.MaxBackoff = c.Delivery.InitialBackoff / 2 }, "sessions.delivery"},
		{"retention", func(c *Config) { c.Retention = 0 }, "retention"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DemoConfig()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
