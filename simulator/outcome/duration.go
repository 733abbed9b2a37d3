package outcome

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that reads and writes as a Go duration string
// ("200ms", "1.5s") in JSON and YAML. A bare number is milliseconds, the
// unit load-test tools usually speak.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// maxBareMS bounds a bare number of milliseconds well inside
// time.Duration (about 53 days); any cap a caller applies is far below.
const maxBareMS = float64(time.Duration(1<<62) / time.Millisecond)

// ParseDuration reads "200ms", "1.5s" or a bare number of milliseconds.
// The result is never negative: NaN, infinities, negative values and
// values that do not fit a time.Duration are errors.
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		// Written so that NaN, which fails every comparison, is refused.
		if !(ms >= 0 && ms <= maxBareMS) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return Duration(ms * float64(time.Millisecond)), nil
	} else if !errors.Is(err, strconv.ErrSyntax) {
		return 0, fmt.Errorf("duration %q out of range", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 200ms or 1.5s", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return Duration(v), nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts a duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML accepts a duration string or a number of milliseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a scalar", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}
