package sessions

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/idgate/idgate/internal/httpurl"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the `sessions:` section: the verification-session routes (POST
// /identity/sessions and the polls under it) and the webhook relay.
type Config struct {
	// Enabled serves the session API; off, its paths are unknown APIs.
	Enabled bool `yaml:"enabled"`
	// ForwardPrefer passes the client's Prefer header on (the simulator's
	// outcome switch). Off towards the real authority.
	ForwardPrefer bool `yaml:"forward_prefer"`
	// CallbackURL is the gateway's own webhook receiver as the upstream
	// must call it; the gateway substitutes it for a tenant's callback_url.
	// Empty: http://<listen>/webhooks/sessions (fine when the upstream
	// reaches the gateway on its listen address, as in the demo).
	CallbackURL string `yaml:"callback_url"`
	// UpstreamWebhookSecret verifies the upstream's webhook signatures
	// (HMAC-SHA256). The file wins over the inline value.
	UpstreamWebhookSecret     secret.Secret `yaml:"upstream_webhook_secret" file:"upstream_webhook_secret_file"`
	UpstreamWebhookSecretFile string        `yaml:"upstream_webhook_secret_file"`
	// WebhookTolerance bounds the clock skew and replay window of a
	// delivery's timestamp.
	WebhookTolerance time.Duration `yaml:"webhook_tolerance"`
	// TenantWebhookSecrets signs the gateway's re-deliveries to each
	// tenant's callback; a tenant without one cannot register a callback.
	// TenantWebhookSecretFiles wins per tenant.
	TenantWebhookSecrets     map[string]secret.Secret `yaml:"tenant_webhook_secrets" file:"tenant_webhook_secret_files"`
	TenantWebhookSecretFiles map[string]string        `yaml:"tenant_webhook_secret_files"`
	// Callbacks limits where tenants' callback URLs may point (schemes,
	// hosts, networks): checked at create and again on every connection.
	Callbacks CallbackConfig `yaml:"callbacks"`
	Delivery  DeliveryConfig `yaml:"delivery"`
	// Retention is how long the gateway remembers a session (tenant scope,
	// billing state). It must outlast the upstream's QR validity + review +
	// result retention, or late polls of a live result answer 404.
	Retention time.Duration `yaml:"retention"`
	// ReconcileAfter: a session still open this long after its QR deadline
	// without news is polled by the gateway itself, so abandoned sessions
	// settle (and release their quota unit) without a tenant poll.
	ReconcileAfter time.Duration `yaml:"reconcile_after"`
	// ReconcileInterval is how often the reconciler and the sweeper run.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
}

// DeliveryConfig shapes the webhook relay towards tenants.
type DeliveryConfig struct {
	// MaxAttempts per event, the first delivery included.
	MaxAttempts    int           `yaml:"max_attempts"`
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	Workers int           `yaml:"workers"`
	// QueueSize bounds events waiting for a worker; beyond it an event is
	// refused with 503 to the upstream, which retries it later.
	QueueSize int `yaml:"queue_size"`
}

// DefaultConfig is off, without secrets; a configuration file starts from
// it.
func DefaultConfig() Config {
	return Config{
		WebhookTolerance: 5 * time.Minute,
		Delivery: DeliveryConfig{
			MaxAttempts: 6, InitialBackoff: time.Second, MaxBackoff: 5 * time.Minute,
			Timeout: 5 * time.Second, Workers: 4, QueueSize: 10_000,
		},
		Retention:         96 * time.Hour,
		ReconcileAfter:    time.Minute,
		ReconcileInterval: 15 * time.Second,
	}
}

// DemoConfig is on, in front of the simulator: its default webhook secret
// and a secret for the demo tenant. Everything of the demo runs on one
// machine, so its callbacks may use plain http and reach the loopback
// interface; nothing else that is not public.
func DemoConfig() Config {
	c := DefaultConfig()
	c.Enabled = true
	c.ForwardPrefer = true
	c.UpstreamWebhookSecret = "idgate-simulator-webhook-secret"
	c.TenantWebhookSecrets = map[string]secret.Secret{"demo": "demo-webhook-secret"}
	c.Callbacks = CallbackConfig{Schemes: []string{"https", "http"}, AllowNetworks: []string{"127.0.0.0/8", "::1/128"}}
	return c
}

// Validate checks an enabled session API; a disabled one ignores its
// fields.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.UpstreamWebhookSecret == "" {
		bad("sessions.upstream_webhook_secret is empty (set it or sessions.upstream_webhook_secret_file)")
	}
	if c.CallbackURL != "" {
		if err := httpurl.Check(c.CallbackURL); err != nil {
			bad("sessions.callback_url: %v", err)
		}
	}
	if err := c.Callbacks.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, tenant := range slices.Sorted(maps.Keys(c.TenantWebhookSecrets)) {
		if c.TenantWebhookSecrets[tenant] == "" {
			bad("sessions.tenant_webhook_secrets[%s] is empty", tenant)
		}
	}
	d := c.Delivery
	if d.MaxAttempts <= 0 || d.Workers <= 0 || d.QueueSize <= 0 || d.InitialBackoff <= 0 || d.MaxBackoff < d.InitialBackoff || d.Timeout <= 0 {
		bad("sessions.delivery: attempts, workers, queue, timeout and backoffs must be positive, max_backoff >= initial_backoff")
	}
	if c.WebhookTolerance <= 0 || c.Retention <= 0 || c.ReconcileAfter <= 0 || c.ReconcileInterval <= 0 {
		bad("sessions: webhook_tolerance, retention, reconcile_after and reconcile_interval must be positive")
	}
	return errors.Join(errs...)
}
