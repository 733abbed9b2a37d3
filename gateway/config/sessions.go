package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Sessions configures the verification-session routes (POST
// /identity/sessions and the polls under it) and the webhook relay. See
// gateway/sessions.
type Sessions struct {
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
	// (HMAC-SHA256). The file, then IDGATE_GW_SESSIONS_UPSTREAM_WEBHOOK_SECRET,
	// win over the inline value.
	UpstreamWebhookSecret     string `yaml:"upstream_webhook_secret"`
	UpstreamWebhookSecretFile string `yaml:"upstream_webhook_secret_file"`
	// WebhookTolerance bounds the clock skew and replay window of a
	// delivery's timestamp.
	WebhookTolerance Duration `yaml:"webhook_tolerance"`
	// TenantWebhookSecrets signs the gateway's re-deliveries to each
	// tenant's callback; a tenant without one cannot register a callback.
	// TenantWebhookSecretFiles wins per tenant.
	TenantWebhookSecrets     map[string]string `yaml:"tenant_webhook_secrets"`
	TenantWebhookSecretFiles map[string]string `yaml:"tenant_webhook_secret_files"`
	Delivery                 Delivery          `yaml:"delivery"`
	// Retention is how long the gateway remembers a session (tenant scope,
	// billing state). It must outlast the upstream's QR validity + review +
	// result retention, or late polls of a live result answer 404.
	Retention Duration `yaml:"retention"`
	// ReconcileAfter: a session still open this long after its QR deadline
	// without news is polled by the gateway itself, so abandoned sessions
	// settle (and release their quota unit) without a tenant poll.
	ReconcileAfter Duration `yaml:"reconcile_after"`
	// ReconcileInterval is how often the reconciler and the sweeper run.
	ReconcileInterval Duration `yaml:"reconcile_interval"`
}

// Delivery shapes the webhook relay towards tenants.
type Delivery struct {
	// MaxAttempts per event, the first delivery included.
	MaxAttempts    int      `yaml:"max_attempts"`
	InitialBackoff Duration `yaml:"initial_backoff"`
	MaxBackoff     Duration `yaml:"max_backoff"`
	// Timeout bounds one delivery attempt.
	Timeout Duration `yaml:"timeout"`
	Workers int      `yaml:"workers"`
	// QueueSize bounds events waiting for a worker; beyond it an event is
	// refused with 503 to the upstream, which retries it later.
	QueueSize int `yaml:"queue_size"`
}

// DefaultSessions are the demo settings: the simulator's default webhook
// secret and a demo tenant secret.
func DefaultSessions() Sessions {
	s := baseSessions()
	s.Enabled = true
	s.ForwardPrefer = true
	s.UpstreamWebhookSecret = "idgate-simulator-webhook-secret"
	s.TenantWebhookSecrets = map[string]string{"demo": "demo-webhook-secret"}
	return s
}

func baseSessions() Sessions {
	return Sessions{
		WebhookTolerance: Duration(5 * time.Minute),
		Delivery: Delivery{
			MaxAttempts: 6, InitialBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute),
			Timeout: Duration(5 * time.Second), Workers: 4, QueueSize: 10_000,
		},
		Retention:         Duration(96 * time.Hour),
		ReconcileAfter:    Duration(time.Minute),
		ReconcileInterval: Duration(15 * time.Second),
	}
}

func (s *Sessions) applyEnv(env func(string) (string, bool)) {
	if v, ok := env(EnvPrefix + "SESSIONS_UPSTREAM_WEBHOOK_SECRET"); ok {
		s.UpstreamWebhookSecret = v
	}
	if v, ok := env(EnvPrefix + "SESSIONS_CALLBACK_URL"); ok {
		s.CallbackURL = v
	}
}

func (s *Sessions) readSecrets() error {
	if s.UpstreamWebhookSecretFile != "" {
		b, err := os.ReadFile(s.UpstreamWebhookSecretFile)
		if err != nil {
			return fmt.Errorf("sessions: read upstream webhook secret: %w", err)
		}
		s.UpstreamWebhookSecret = strings.TrimSpace(string(b))
	}
	for tenant, file := range s.TenantWebhookSecretFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("sessions: read webhook secret of tenant %s: %w", tenant, err)
		}
		if s.TenantWebhookSecrets == nil {
			s.TenantWebhookSecrets = map[string]string{}
		}
		s.TenantWebhookSecrets[tenant] = strings.TrimSpace(string(b))
	}
	return nil
}

func (s *Sessions) validate() []error {
	if !s.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.UpstreamWebhookSecret == "" {
		bad("sessions.upstream_webhook_secret is empty (set it, its _file or %sSESSIONS_UPSTREAM_WEBHOOK_SECRET)", EnvPrefix)
	}
	if s.CallbackURL != "" {
		u, err := url.Parse(s.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("sessions.callback_url %q must be an absolute http(s) URL", s.CallbackURL)
		}
	}
	for tenant, sec := range s.TenantWebhookSecrets {
		if sec == "" {
			bad("sessions.tenant_webhook_secrets[%s] is empty", tenant)
		}
	}
	d := s.Delivery
	if d.MaxAttempts <= 0 || d.Workers <= 0 || d.QueueSize <= 0 || d.InitialBackoff <= 0 || d.MaxBackoff < d.InitialBackoff || d.Timeout <= 0 {
		bad("sessions.delivery: attempts, workers, queue, timeout and backoffs must be positive, max_backoff >= initial_backoff")
	}
	if s.WebhookTolerance <= 0 || s.Retention <= 0 || s.ReconcileAfter <= 0 || s.ReconcileInterval <= 0 {
		bad("sessions: webhook_tolerance, retention, reconcile_after and reconcile_interval must be positive")
	}
	return errs
}
