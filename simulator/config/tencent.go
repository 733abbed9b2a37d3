package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/idgate/idgate/internal/boundedread"
	"github.com/idgate/idgate/internal/secret"
)

// Tencent is the Tencent Cloud API 3.0 dialect (FaceID 2018-03-01): POST /
// with X-TC-Action, signed TC3-HMAC-SHA256 with a SecretId/SecretKey pair.
// A call is billed, counted and scripted (scenarios, admin API) under its
// SecretId, as an aggregator call is under its token; statements name the
// credential by the first 8 hex digits of the SecretId's SHA-256.
type Tencent struct {
	// Credentials are the accepted pairs; with none, every API 3.0 call
	// gets AuthFailure.SecretIdNotFound.
	Credentials []TencentCredential `yaml:"credentials"`
	// CredentialsFile, if set, adds one "SecretId SecretKey" pair per line
	// (blank lines and lines starting with # are skipped), so secret keys
	// need not sit in the YAML.
	CredentialsFile string `yaml:"credentials_file"`
}

// TencentCredential is one SecretId with its SecretKey.
type TencentCredential struct {
	SecretID  string `yaml:"secret_id"`
	SecretKey string `yaml:"secret_key"`
	// SecretKeyFile, if set, replaces SecretKey with the file's content.
	SecretKeyFile string `yaml:"secret_key_file"`
}

// DefaultTencent is the built-in pair, for local use only.
func DefaultTencent() Tencent {
	return Tencent{Credentials: []TencentCredential{{SecretID: "sim-secret-id", SecretKey: "sim-secret-key"}}}
}

// SecretIDs lists the configured SecretIds in order.
func (t *Tencent) SecretIDs() []string {
	out := make([]string, len(t.Credentials))
	for i, c := range t.Credentials {
		out[i] = c.SecretID
	}
	return out
}

// applyEnv reads IDGATE_SIM_TENCENT_CREDENTIALS ("id:key" pairs,
// comma-separated; it replaces the configured list) and
// IDGATE_SIM_TENCENT_CREDENTIALS_FILE.
func (t *Tencent) applyEnv(getenv func(string) (string, bool)) error {
	if v, ok := getenv("IDGATE_SIM_TENCENT_CREDENTIALS"); ok {
		t.Credentials = []TencentCredential{}
		for _, pair := range splitTokens(v) {
			id, key, ok := strings.Cut(pair, ":")
			if !ok {
				return errors.New("IDGATE_SIM_TENCENT_CREDENTIALS: each entry is SecretId:SecretKey")
			}
			t.Credentials = append(t.Credentials, TencentCredential{SecretID: id, SecretKey: key})
		}
	}
	if v, ok := getenv("IDGATE_SIM_TENCENT_CREDENTIALS_FILE"); ok {
		t.CredentialsFile = v
	}
	return nil
}

// resolveFiles reads the secret keys that live in files: a secret key file
// of at most secret.MaxFileBytes, a credentials file of at most
// MaxFileBytes, as the other files the configuration names.
func (t *Tencent) resolveFiles() error {
	for i := range t.Credentials {
		c := &t.Credentials[i]
		if c.SecretKeyFile == "" {
			continue
		}
		key, err := secret.ReadFile(c.SecretKeyFile)
		if err != nil {
			return fmt.Errorf("tencent.credentials[%d].secret_key_file: %w", i, err)
		}
		c.SecretKey = key.Reveal()
	}
	if t.CredentialsFile == "" {
		return nil
	}
	b, err := boundedread.File(t.CredentialsFile, MaxFileBytes)
	if err != nil {
		return fmt.Errorf("tencent.credentials_file: %w", err)
	}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return fmt.Errorf("tencent.credentials_file: line %d: want \"SecretId SecretKey\"", n+1)
		}
		t.Credentials = append(t.Credentials, TencentCredential{SecretID: f[0], SecretKey: f[1]})
	}
	return nil
}

// validate checks the pairs; tokens are the API tokens, which a SecretId
// must not equal (both name a credential on the statement).
func (t *Tencent) validate(tokens map[string]bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range t.Credentials {
		switch {
		case !validSecretID(c.SecretID):
			errs = append(errs, fmt.Errorf("tencent.credentials[%d].secret_id: 1 to 128 letters, digits, '-' or '_'", i))
		case seen[c.SecretID]:
			errs = append(errs, fmt.Errorf("tencent.credentials[%d].secret_id: duplicate", i))
		case tokens[c.SecretID]:
			errs = append(errs, fmt.Errorf("tencent.credentials[%d].secret_id: equals an API token", i))
		}
		seen[c.SecretID] = true
		if c.SecretKey == "" {
			errs = append(errs, fmt.Errorf("tencent.credentials[%d].secret_key: must not be empty", i))
		}
	}
	return errs
}

// validSecretID accepts what fits unquoted in a TC3 Credential scope.
func validSecretID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
