package ledger

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFile(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(t *testing.T, c Config)
		initialize bool
		wantErr    string
	}{
		{"first start", func(*testing.T, Config) {}, false, ""},
		{"a ledger", func(t *testing.T, c Config) { mustOpen(t, c.Path) }, false, ""},
		{"empty file", func(t *testing.T, c Config) { write(t, c.Path, "") }, false, "is empty"},
		{"empty file, initialize", func(t *testing.T, c Config) { write(t, c.Path, "") }, true, ""},
		{"not a database", func(t *testing.T, c Config) { write(t, c.Path, "garbage that is not SQLite at all, long enough") }, false, "not a readable ledger"},
		{"a database without the ledger", func(t *testing.T, c Config) {
			db, err := sql.Open("sqlite", c.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE other(x)`); err != nil {
				t.Fatal(err)
			}
		}, false, "holds no ledger"},
		{"missing beside its journal", func(t *testing.T, c Config) {
			if err := os.MkdirAll(c.journalDir(), 0o750); err != nil {
				t.Fatal(err)
			}
		}, false, "is missing but its journal"},
		{"missing beside its journal, initialize", func(t *testing.T, c Config) {
			if err := os.MkdirAll(c.journalDir(), 0o750); err != nil {
				t.Fatal(err)
			}
		}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Path = filepath.Join(t.TempDir(), "ledger.db")
			tc.setup(t, c)
			err := CheckFile(c, tc.initialize)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CheckFile: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func mustOpen(t *testing.T, path string) {
	t.Helper()
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
