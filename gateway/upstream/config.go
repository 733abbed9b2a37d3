package upstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/idgate/idgate/contracts/tencent"
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
	// Tencent is the gateway's credential for routes whose upstream
	// speaks Tencent Cloud API 3.0 (routes[].upstream_dialect: tencent).
	Tencent TencentConfig `yaml:"tencent"`
}

// TencentConfig is the gateway's own Tencent Cloud API 3.0 pair towards
// the upstream: every call is signed with it (TC3-HMAC-SHA256), afresh per
// attempt. Clients never see it.
type TencentConfig struct {
	SecretID string `yaml:"secret_id"`
	// SecretKey signs; SecretKeyFile wins.
	SecretKey     secret.Secret `yaml:"secret_key" file:"secret_key_file"`
	SecretKeyFile string        `yaml:"secret_key_file"`
	// Region is sent as X-TC-Region ("": not sent; FaceID needs none).
	Region string `yaml:"region"`
	// Service is the credential scope's service; "" takes the first label
	// of the upstream URL's host, as Tencent's SDKs do ("faceid" for
	// faceid.tencentcloudapi.com, "127" for the simulator on 127.0.0.1).
	Service string `yaml:"service"`
}

// ServiceFor is the service a pair signs with for the upstream at rawURL.
func (t TencentConfig) ServiceFor(rawURL string) string {
	if t.Service != "" {
		return t.Service
	}
	u, err := httpurl.Parse(rawURL)
	if err != nil {
		return ""
	}
	return tencent.ServiceOf(u.Hostname())
}

// ValidateTencent checks the Tencent pair; config validation calls it when
// a route's upstream speaks the dialect.
func (c Config) ValidateTencent() error {
	var errs []error
	t := c.Tencent
	if t.SecretID == "" || t.SecretKey == "" {
		errs = append(errs, errors.New("upstream.tencent: secret_id and secret_key (or secret_key_file) are required by routes with upstream_dialect: tencent"))
	}
	for _, b := range []byte(t.SecretID) {
		if b <= ' ' || b > '~' || b == '/' || b == ',' {
			errs = append(errs, errors.New("upstream.tencent.secret_id must be printable ASCII without '/', ',' or spaces"))
			break
		}
	}
	if t.ServiceFor(c.URL) == "" {
		errs = append(errs, errors.New("upstream.tencent.service is empty and the upstream URL has no host label to take it from"))
	}
	return errors.Join(errs...)
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
