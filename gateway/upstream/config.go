package upstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/idgate/idgate/internal/httpurl"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the `upstream:` section: the authority (or the simulator) the
// gateway forwards to, with the gateway's own credential.
type Config struct {
	URL string `yaml:"url"`
	// Token is the gateway's credential towards the upstream; clients never
	// see it. TokenFile wins.
	Token     secret.Secret `yaml:"token" file:"token_file"`
	TokenFile string        `yaml:"token_file"`
	// Timeout bounds one upstream call, connect to last byte.
	Timeout        time.Duration `yaml:"timeout"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	MaxConns       int           `yaml:"max_conns"`
	// MaxIdleConnDuration closes idle keep-alive connections before the
	// upstream does, so a request rarely meets a connection the peer closed.
	MaxIdleConnDuration time.Duration `yaml:"max_idle_conn_duration"`
	MaxResponseBytes    int           `yaml:"max_response_bytes"`
}

// DefaultConfig points at the simulator `make run` starts, without a token.
func DefaultConfig() Config {
	return Config{
		URL:                 "http://127.0.0.1:8081",
		Timeout:             5 * time.Second,
		ConnectTimeout:      time.Second,
		MaxConns:            1024,
		MaxIdleConnDuration: 10 * time.Second,
		MaxResponseBytes:    1 << 20,
	}
}

// Validate checks the address, the credential and the pool's bounds.
func (c Config) Validate() error {
	var errs []error
	if err := httpurl.Check(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("upstream.url: %w", err))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("upstream.token is empty (set it or upstream.token_file)"))
	}
	if c.Timeout <= 0 || c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("upstream timeouts must be positive"))
	}
	if c.MaxConns <= 0 {
		errs = append(errs, errors.New("upstream.max_conns must be positive"))
	}
	return errors.Join(errs...)
}
