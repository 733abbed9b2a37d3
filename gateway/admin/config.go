package admin

import (
	"errors"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/secret"
)

// Config is the `admin:` section: the operator API's own listener and
// bearer token.
type Config struct {
	Listen string `yaml:"listen"`
	// Token authorizes every /admin request. TokenFile wins.
	Token     secret.Secret `yaml:"token" file:"token_file"`
	TokenFile string        `yaml:"token_file"`
}

// DefaultConfig listens on loopback, without a token.
func DefaultConfig() Config { return Config{Listen: "127.0.0.1:9080"} }

// Validate checks that the listener and the token are set.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("admin.listen is empty"))
	}
	switch {
	case c.Token == "":
		errs = append(errs, errors.New("admin.token is empty (set it or admin.token_file)"))
	case !contracts.IsToken68(c.Token.Reveal()):
		errs = append(errs, errors.New("admin.token must be a bearer token (letters, digits and -._~+/, optional trailing =)"))
	}
	return errors.Join(errs...)
}
