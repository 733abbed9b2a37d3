package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/httpurl"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the `sessions:` section of the simulator configuration.
type Config struct {
	// TTL is how long a QR code (and the flow up to liveness) stays valid.
	TTL time.Duration `yaml:"ttl"`
	// Retention is how long a finished or expired session stays readable.
	Retention time.Duration `yaml:"retention"`
	// ReviewDelay is how long review takes after liveness, before scaling.
	ReviewDelay time.Duration `yaml:"review_delay"`
	// TimeScale multiplies ReviewDelay (0.001 turns 15 minutes into 0.9 s);
	// above 0 and at most MaxTimeScale.
	// TTL and Retention are not scaled: tests drive those with a fake clock.
	TimeScale float64 `yaml:"time_scale"`
	// MaxAttempts bounds failed NFC reads and failed liveness attempts per
	// session; the next failure ends the session with code 16.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxSessions bounds the store; creating more answers 429.
	MaxSessions int `yaml:"max_sessions"`
	// SweepInterval is how often expired sessions are closed and old ones
	// removed.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// PublicURL is the base of QR payload URLs; empty means the base URL of
	// the create request.
	PublicURL string `yaml:"public_url"`
	// Seed makes request IDs, generated identities and scores
	// reproducible: the n-th session created gets the same ones on every
	// run. 0 draws a random seed at start.
	Seed uint64 `yaml:"seed"`
	// Scenarios maps a bearer token to a Prefer-style plan applied to every
	// session that token creates.
	Scenarios map[string]string `yaml:"scenarios"`
	Webhook   WebhookConfig     `yaml:"webhook"`
}

// WebhookConfig shapes webhook delivery.
type WebhookConfig struct {
	// Secret signs deliveries; the environment variable
	// IDGATE_SIM_WEBHOOK_SECRET, then SecretFile, override it.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// MaxAttempts per event, the first delivery included.
	MaxAttempts    int           `yaml:"max_attempts"`
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
	Timeout        time.Duration `yaml:"timeout"`
	Workers        int           `yaml:"workers"`
	QueueSize      int           `yaml:"queue_size"`
	// JournalSize bounds the delivery journal; 0 turns it off.
	JournalSize int `yaml:"journal_size"`
}

// MaxTimeScale bounds sessions.time_scale: a review delay of a day scaled
// by it still fits a duration many times over.
const MaxTimeScale = 1000

// DefaultConfig holds the authority's documented defaults: a QR code is
// valid 10 minutes, review takes up to 15, results stay readable 3 days.
func DefaultConfig() Config {
	return Config{
		TTL:           10 * time.Minute,
		Retention:     72 * time.Hour,
		ReviewDelay:   15 * time.Minute,
		TimeScale:     1,
		MaxAttempts:   3,
		MaxSessions:   100_000,
		SweepInterval: time.Second,
		Webhook: WebhookConfig{
			Secret:         "idgate-simulator-webhook-secret",
			MaxAttempts:    6,
			InitialBackoff: time.Second,
			MaxBackoff:     5 * time.Minute,
			Timeout:        5 * time.Second,
			Workers:        4,
			QueueSize:      10_000,
			JournalSize:    1_000,
		},
	}
}

// EnvVars are the environment overrides of the sessions section.
var EnvVars = []struct{ Name, Setting string }{
	{"IDGATE_SIM_SESSIONS_TIME_SCALE", "sessions.time_scale"},
	{"IDGATE_SIM_SESSIONS_PUBLIC_URL", "sessions.public_url"},
	{"IDGATE_SIM_WEBHOOK_SECRET", "sessions.webhook.secret"},
}

// ApplyEnv overrides settings from the environment.
func (c *Config) ApplyEnv(getenv func(string) (string, bool)) error {
	if v, ok := getenv("IDGATE_SIM_SESSIONS_TIME_SCALE"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("IDGATE_SIM_SESSIONS_TIME_SCALE: not a number")
		}
		c.TimeScale = f
	}
	if v, ok := getenv("IDGATE_SIM_SESSIONS_PUBLIC_URL"); ok {
		c.PublicURL = v
	}
	if v, ok := getenv("IDGATE_SIM_WEBHOOK_SECRET"); ok {
		c.Webhook.Secret = v
	}
	return nil
}

// ResolveFiles reads the webhook secret from secret_file, if set.
func (c *Config) ResolveFiles() error {
	if c.Webhook.SecretFile != "" {
		v, err := secret.ReadFile(c.Webhook.SecretFile)
		if err != nil {
			return fmt.Errorf("sessions: webhook secret file: %w", err)
		}
		c.Webhook.Secret = v.Reveal()
	}
	return nil
}

// Validate rejects settings the service cannot run with.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("sessions.%s must be positive", name))
		}
	}
	pos("ttl", c.TTL)
	pos("retention", c.Retention)
	pos("sweep_interval", c.SweepInterval)
	pos("webhook.initial_backoff", c.Webhook.InitialBackoff)
	pos("webhook.timeout", c.Webhook.Timeout)
	if c.ReviewDelay < 0 {
		errs = append(errs, errors.New("sessions.review_delay must not be negative"))
	}
	// NaN passes every comparison and a huge scale overflows the scaled
	// delay into a negative duration: both are refused.
	if !(c.TimeScale > 0 && c.TimeScale <= MaxTimeScale) {
		errs = append(errs, fmt.Errorf("sessions.time_scale must be a number above 0 and at most %g", float64(MaxTimeScale)))
	}
	if c.MaxAttempts < 1 || c.MaxSessions < 1 || c.Webhook.MaxAttempts < 1 || c.Webhook.Workers < 1 || c.Webhook.QueueSize < 1 {
		errs = append(errs, errors.New("sessions: max_attempts, max_sessions and webhook max_attempts, workers, queue_size must be at least 1"))
	}
	if c.Webhook.MaxBackoff < c.Webhook.InitialBackoff {
		errs = append(errs, errors.New("sessions.webhook.max_backoff must be at least initial_backoff"))
	}
	if c.Webhook.JournalSize < 0 {
		errs = append(errs, errors.New("sessions.webhook.journal_size must not be negative"))
	}
	if c.Webhook.Secret == "" {
		errs = append(errs, errors.New("sessions.webhook.secret must not be empty"))
	}
	if c.PublicURL != "" {
		if err := httpurl.Check(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("sessions.public_url: %w", err))
		}
	}
	for tok, p := range c.Scenarios {
		if _, err := ParsePlan(p); err != nil {
			errs = append(errs, fmt.Errorf("sessions.scenarios[%s…]: %w", prefix(tok), err))
		}
	}
	return errors.Join(errs...)
}

// prefix shows enough of a token to find it in the config, not to use it.
func prefix(tok string) string {
	if len(tok) > 4 {
		return tok[:4]
	}
	return ""
}
