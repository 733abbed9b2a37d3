package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: whatever the YAML, Parse never panics; a refused file yields
// the zero Config (so no half-read setting can be used), an accepted one
// is the same Config on every read and always has routes, and validating
// it never panics.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "gateway.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"listen: 127.0.0.1:8080\n",
		"listen: [1, 2]\n",
		"lisen: typo\n",
		"max_body_bytes: -1\n",
		"max_body_bytes: 99999999999999999999999\n",
		"routes: []\n",
		"routes:\n  - path: /x\n    mode: bogus\n",
		"a: &a [*a, *a]\n",
		"log_level: loud\n",
		"--- \n...\n",
		"\t\xff\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("refused file %q (%v) yielded a non-zero Config", b, err)
			}
			return
		}
		if len(c.Routes) == 0 {
			t.Fatalf("accepted file %q yielded no routes", b)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("second read of %q refused: %v", b, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("two reads of %q differ: %v", b, Changes(c, again))
		}
		_ = c.Validate()
	})
}
