package boundedread

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFile: a file within the bound is read whole; one byte more is
// refused with ErrTooLarge naming the bound; a missing file keeps its
// error.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		path  string
		limit int64
		want  int   // bytes read when accepted
		err   error // nil: accepted
	}{
		{"empty", write("empty", 0), 10, 0, nil},
		{"under the bound", write("under", 9), 10, 9, nil},
		{"at the bound", write("at", 10), 10, 10, nil},
		{"one byte over", write("over", 11), 10, 0, ErrTooLarge},
		{"far over", write("far", 1<<16), 10, 0, ErrTooLarge},
		{"missing", filepath.Join(dir, "missing"), 10, 0, fs.ErrNotExist},
		{"a directory", dir, 10, 0, errors.New("any")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := File(tc.path, tc.limit)
			if tc.err == nil {
				if err != nil || len(b) != tc.want {
					t.Fatalf("File = %d bytes, %v; want %d bytes", len(b), err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("File read %d bytes, want an error", len(b))
			}
			if (tc.err == ErrTooLarge || tc.err == fs.ErrNotExist) && !errors.Is(err, tc.err) {
				t.Fatalf("File: %v, want %v", err, tc.err)
			}
			if tc.err == ErrTooLarge && !strings.Contains(err.Error(), "more than 10 bytes") {
				t.Fatalf("error %q does not name the bound", err)
			}
		})
	}
}
