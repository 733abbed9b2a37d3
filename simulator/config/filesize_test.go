package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/boundedread"
	"github.com/idgate/idgate/internal/secret"
)

// TestFileBounds: the configuration file, tokens_file, admin_token_file
// and tencent.credentials_file are read up to MaxFileBytes, the session
// webhook's and a Tencent credential's secret files up to
// secret.MaxFileBytes; a larger one is refused at load
// with an error naming the bound, never the file's contents.
func TestFileBounds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// yaml padded with a comment to n bytes.
	padded := func(name, yaml string, n int) string {
		return write(name, yaml+"#"+strings.Repeat("x", n-len(yaml)-2)+"\n")
	}
	tokens := func(n int) string { return "file-token" + strings.Repeat("\n", n-len("file-token")) }
	admin := func(n int) string { return "admin-secret" + strings.Repeat(" ", n-len("admin-secret")) }
	webhook := func(n int) string { return "hook-secret" + strings.Repeat(" ", n-len("hook-secret")) }
	tcKey := func(n int) string { return "tc-secret-key" + strings.Repeat(" ", n-len("tc-secret-key")) }
	tcPairs := func(n int) string {
		return "file-id tc-secret-key" + strings.Repeat("\n", n-len("file-id tc-secret-key"))
	}
	tcKeyFile := func(p string) string {
		return "tencent: {credentials: [{secret_id: file-id, secret_key_file: " + p + "}]}\n"
	}
	for _, tc := range []struct {
		name string
		path string
		err  string // "" loads
	}{
		{"config at the bound", padded("at.yaml", "", MaxFileBytes), ""},
		{"config one byte over", padded("over.yaml", "", MaxFileBytes+1), "more than 1048576 bytes"},
		{"tokens file at the bound", write("t-at.yaml", "tokens_file: "+write("tok-at", tokens(MaxFileBytes))+"\n"), ""},
		{"tokens file over the bound", write("t-over.yaml", "tokens_file: "+write("tok-over", tokens(MaxFileBytes+1))+"\n"), "more than 1048576 bytes"},
		{"admin token file at the bound", write("a-at.yaml", "admin_token_file: "+write("adm-at", admin(MaxFileBytes))+"\n"), ""},
		{"admin token file over the bound", write("a-over.yaml", "admin_token_file: "+write("adm-over", admin(MaxFileBytes+1))+"\n"), "more than 1048576 bytes"},
		{"webhook secret file at the bound", write("w-at.yaml", "sessions: {webhook: {secret_file: "+write("wh-at", webhook(secret.MaxFileBytes))+"}}\n"), ""},
		{"webhook secret file over the bound", write("w-over.yaml", "sessions: {webhook: {secret_file: "+write("wh-over", webhook(secret.MaxFileBytes+1))+"}}\n"), "more than 65536 bytes"},
		{"tencent secret key file at the bound", write("k-at.yaml", tcKeyFile(write("tck-at", tcKey(secret.MaxFileBytes)))), ""},
		{"tencent secret key file over the bound", write("k-over.yaml", tcKeyFile(write("tck-over", tcKey(secret.MaxFileBytes+1)))), "more than 65536 bytes"},
		{"tencent credentials file at the bound", write("c-at.yaml", "tencent: {credentials_file: "+write("tcc-at", tcPairs(MaxFileBytes))+"}\n"), ""},
		{"tencent credentials file over the bound", write("c-over.yaml", "tencent: {credentials_file: "+write("tcc-over", tcPairs(MaxFileBytes+1))+"}\n"), "more than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path, env(nil))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, boundedread.ErrTooLarge) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Load: %v, want %q", err, tc.err)
			}
			for _, s := range []string{"file-token", "admin-secret", "hook-secret", "tc-secret-key", "xxxx"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q repeats the file's contents", err)
				}
			}
		})
	}
}
