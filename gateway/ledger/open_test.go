package ledger

import (
	"os"
	"path/filepath"
	"testing"
)

// A '#' or '?' in a directory name must not cut the database path short:
// two ledgers in sibling directories must not share a file.
func TestOpenDBPathWithURIMetacharacters(t *testing.T) {
	base := t.TempDir()
	var dbs []string
	for _, dir := range []string{"a#1", "a#2", "b?x=1"} {
		p := filepath.Join(base, dir, "ledger.db")
		db, err := OpenDB(p)
		if err != nil {
			t.Fatalf("OpenDB(%q): %v", p, err)
		}
		db.Close()
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("database not at %q: %v", p, err)
		}
		dbs = append(dbs, p)
	}
	if _, err := os.Stat(filepath.Join(base, "a")); err == nil {
		t.Fatalf("a database was created at the truncated path")
	}
}
