// Package secret is the one type every credential of the configuration
// has: API keys, bearer tokens, HMAC keys, webhook secrets.
//
// A Secret setting is given inline (demo configurations), through the
// environment, or in a file named by a sibling setting: a field tagged
// file:"NAME" is replaced by the contents of the file that setting NAME
// names (surrounding white space trimmed), so a deployment can mount its
// secrets without writing them into YAML. The configuration loader reads
// those files (ReadFile); components only ever see the value.
//
// A Secret never prints: fmt, slog and JSON show "[redacted]". YAML keeps
// the value, because configurations are written and read as YAML.
package secret

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/idgate/idgate/internal/boundedread"
)

// Secret is a credential's value.
type Secret string

// Redacted is how a non-empty Secret prints.
const Redacted = "[redacted]"

// Reveal is the value, for the one place that uses it (a MAC key, a
// header, a digest).
func (s Secret) Reveal() string { return string(s) }

// String redacts the value (the empty Secret prints as empty, so a missing
// secret still shows).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString redacts the value under %#v too.
func (s Secret) GoString() string { return fmt.Sprintf("secret.Secret(%q)", s.String()) }

// LogValue redacts the value in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the value in JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MaxFileBytes bounds a secret file: a key or a token is a few hundred
// bytes at most, so a larger file is a wrong path, refused before it is
// read whole.
const MaxFileBytes = 64 << 10

// ReadFile reads a secret from a file of at most MaxFileBytes. The
// contents never appear in an error.
func ReadFile(path string) (Secret, error) {
	b, err := boundedread.File(path, MaxFileBytes)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return Secret(strings.TrimSpace(string(b))), nil
}
