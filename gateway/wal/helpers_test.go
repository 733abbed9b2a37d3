package wal

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a log's lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func captured() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// openT opens a log that the test closes at its end (if it has not).
func openT(t testing.TB, c Config, log *slog.Logger) *Log {
	t.Helper()
	if log == nil {
		log = discard()
	}
	l, err := Open(c, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type entry struct {
	pos Pos
	rec string
}

func replayAll(t testing.TB, l *Log) []entry {
	t.Helper()
	var got []entry
	err := l.Replay(func(pos Pos, rec []byte) error {
		got = append(got, entry{pos, string(rec)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// reopen closes l and opens its directory again.
func reopen(t testing.TB, l *Log, c Config) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return openT(t, c, nil)
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitFor polls cond until it holds. The deadline only stops a hung test;
// nothing asserts how fast cond became true.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustAppend(t testing.TB, l *Log, rec string) Pos {
	t.Helper()
	pos, err := l.Append([]byte(rec))
	if err != nil {
		t.Fatalf("append %q: %v", rec, err)
	}
	return pos
}

func equalEntries(t testing.TB, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

var _ = errors.Is
