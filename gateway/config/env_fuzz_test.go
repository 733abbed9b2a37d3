package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzApplyEnv: whatever value an override variable holds, applyEnv never
// panics; a refused value's error names the variable, and an accepted one
// is stored as written (a string setting holds it verbatim, a duration
// setting holds its parsed value) and the same on every application.
func FuzzApplyEnv(f *testing.F) {
	for i, v := range []string{"", "127.0.0.1:8080", "250ms", "-1s", "true", "1", "9223372036854775808", "a,b, ,c", "NaN", "\xff", "1e308"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, val string) {
		setting := EnvVars[int(which)%len(EnvVars)]
		name := EnvName(setting)
		env := func(k string) (string, bool) {
			if k == name {
				return val, true
			}
			return "", false
		}
		c := base()
		err := applyEnv(&c, env)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error for %s=%q does not name it: %v", name, val, err)
			}
			return
		}
		again := base()
		if err := applyEnv(&again, env); err != nil {
			t.Fatalf("second application of %s=%q refused: %v", name, val, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("two applications of %s=%q differ: %v", name, val, Changes(c, again))
		}
		dst, err := lookup(reflect.ValueOf(&c).Elem(), setting)
		if err != nil {
			t.Fatalf("%s names no setting: %v", name, err)
		}
		switch {
		case dst.Type() == durationType:
			want, _ := time.ParseDuration(val)
			if time.Duration(dst.Int()) != want {
				t.Fatalf("%s=%q stored %v", name, val, time.Duration(dst.Int()))
			}
		case dst.Kind() == reflect.String:
			if dst.String() != val {
				t.Fatalf("%s=%q stored %q", name, val, dst.String())
			}
		}
	})
}
