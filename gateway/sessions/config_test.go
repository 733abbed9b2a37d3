package sessions

import (
	"testing"

	"github.com/idgate/idgate/internal/configtest"
	"github.com/idgate/idgate/internal/secret"
)

func TestConfigValidation(t *testing.T) {
	configtest.Run(t, DemoConfig, Config.Validate, []configtest.Case[Config]{
		{Name: "demo", Mod: func(*Config) {}},
		{Name: "off ignores its fields", Mod: func(c *Config) { *c = Config{} }},
		{Name: "no upstream secret", Mod: func(c *Config) { c.UpstreamWebhookSecret = "" }, Want: "sessions.upstream_webhook_secret"},
		{Name: "relative callback", Mod: func(c *Config) { c.CallbackURL = "/webhooks/sessions" }, Want: "sessions.callback_url"},
		{Name: "empty tenant secret", Mod: func(c *Config) { c.TenantWebhookSecrets = map[string]secret.Secret{"acme": ""} }, Want: "tenant_webhook_secrets[acme]"},
		{Name: "backoff order", Mod: func(c *Config) { c.Delivery.MaxBackoff = c.Delivery.InitialBackoff / 2 }, Want: "sessions.delivery"},
		{Name: "retention", Mod: func(c *Config) { c.Retention = 0 }, Want: "retention"},
	})
}
