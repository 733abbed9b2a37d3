package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/boundedread"
	"github.com/idgate/idgate/internal/secret"
)

// TestFileBounds: the configuration file is read up to MaxFileBytes and a
// secret file up to secret.MaxFileBytes; a larger one is refused at load
// with an error naming the file and the bound, never its contents.
func TestFileBounds(t *testing.T) {
	dir := t.TempDir()
	// A valid configuration padded with a comment to n bytes.
	padded := func(name, yaml string, n int) string {
		pad := n - len(yaml) - len("#\n")
		return writeFile(t, dir, name, yaml+"#"+strings.Repeat("x", pad)+"\n")
	}
	const rest = "upstream: {token: upstream-token}\ntenants: [{id: t, rate: 1, burst: 1, keys: [{id: k, key: tenant-key}]}]\n"
	const base = "admin: {token: admin-token}\n" + rest
	for _, tc := range []struct {
		name string
		path string
		err  string // "" loads
	}{
		{"config at the bound", padded("at.yaml", base, MaxFileBytes), ""},
		{"config one byte over", padded("over.yaml", base, MaxFileBytes+1), "more than 1048576 bytes"},
		{"config far over", padded("far.yaml", base, 8<<20), "more than 1048576 bytes"},
		{"secret file at the bound", padded("s-at.yaml",
			"admin: {token_file: "+writeFile(t, dir, "tok-at", "admin-token"+strings.Repeat(" ", secret.MaxFileBytes-len("admin-token")))+"}\n"+rest, 400), ""},
		{"secret file over the bound", padded("s-over.yaml",
			"admin: {token_file: "+writeFile(t, dir, "tok-over", "admin-token"+strings.Repeat(" ", secret.MaxFileBytes))+"}\n"+rest, 400), "more than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.path, envOf(nil))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, boundedread.ErrTooLarge) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("load: %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "admin-token") || strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error %q repeats the file's contents", err)
			}
		})
	}
}
