package ledger

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func open(t testing.TB, path string) *SQLite {
	t.Helper()
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	return New(db, 16, 8, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestRecordFlushQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ledger.db")
	l := open(t, path)
	ctx := context.Background()
	// More entries than the queue holds, from many goroutines: backpressure,
	// not drops.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				class, billed := "not_billed", false
				if i%2 == 0 {
					class, billed = "billed", true
				}
				tenant := fmt.Sprintf("t%d", g%2)
				if err := l.Record(Entry{Time: time.Now(), Day: "2026-11-22", RequestID: "r", Tenant: tenant, KeyID: tenant + "-k",
					Route: "check-2e", Result: "0", Class: class, Billed: billed, HTTPStatus: 200, IDMasked: "110101********0010"}); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Count(ctx, Filter{}, false); n != 800 {
		t.Fatalf("count %d, want 800", n)
	}
	counts, err := l.BilledOn(ctx, "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	if counts["t0"]["t0-k"] != 200 || counts["t1"]["t1-k"] != 200 {
		t.Fatalf("billed counts %v", counts)
	}
	usage, err := l.Usage(ctx, Filter{Tenant: "t0", From: "2026-11-22", To: "2026-11-22"})
	if err != nil || len(usage) != 2 || usage[0].Count != 200 {
		t.Fatalf("usage %+v, %v", usage, err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, Filter{Tenant: "t1"}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 401 || recs[1][11] != "110101********0010" {
		t.Fatalf("csv rows %d, %v", len(recs), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{}); err == nil {
		t.Fatal("record after close accepted")
	}
	// Reopen: everything is there.
	l2 := open(t, path)
	defer l2.Close()
	if n, _ := l2.Count(ctx, Filter{}, true); n != 400 {
		t.Fatalf("billed after reopen %d", n)
	}
}

func TestCloseFlushesQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path)
	for i := 0; i < 500; i++ {
		l.Record(Entry{Time: time.Now(), Day: "d", Tenant: "t", Class: "billed", Billed: true})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, path)
	defer l2.Close()
	if n, _ := l2.Count(context.Background(), Filter{}, false); n != 500 {
		t.Fatalf("after close %d entries, want 500", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	db, err := OpenDB(filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	l := New(db, 65536, 256, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := Entry{Time: time.Now(), Day: "2026-11-22", RequestID: "0f8c1c1e-1234-4abc-8def-0123456789ab", Tenant: "demo", KeyID: "demo-key-1",
		Route: "check-2e", Result: "0", Class: "billed", Billed: true, HTTPStatus: 200, UpstreamLatency: time.Millisecond, IDMasked: "110101********0010"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Record(e)
	}
	l.Close()
}

// A ledger written before usage_daily existed gets its counts on open.
func TestBackfillUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path)
	for i := 0; i < 10; i++ {
		l.Record(Entry{Time: time.Now(), Day: "2026-11-21", Tenant: "t", KeyID: "k", Class: "billed", Billed: true})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM usage_daily`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l2 := open(t, path)
	defer l2.Close()
	counts, err := l2.BilledOn(context.Background(), "2026-11-21")
	if err != nil || counts["t"]["k"] != 10 {
		t.Fatalf("after backfill: %v, %v", counts, err)
	}
}

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

// Many writers against a tiny queue: Record blocks while it is full
// (backpressure) and every accepted entry is stored exactly once, with
// flush barriers in between; entries a Record accepted before Close are
// stored by Close, and Records after it are refused.
func TestQueueBackpressureAndClose(t *testing.T) {
	cases := []struct {
		name                  string
		queue, batch, writers int
		linger                time.Duration
		closeEarly            bool
	}{
		{"tiny queue, no linger", 4, 2, 16, 0, false},
		{"tiny queue, linger", 3, 8, 8, 2 * time.Millisecond, false},
		{"close while writers wait", 2, 1, 12, time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			db, err := OpenDB(path)
			if err != nil {
				t.Fatal(err)
			}
			l := New(db, tc.queue, tc.batch, tc.linger, slog.New(slog.NewTextHandler(io.Discard, nil)))
			var accepted, refused atomic.Int64
			var wg sync.WaitGroup
			for w := range tc.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 100 {
						err := l.Record(Entry{Time: time.Now(), Day: "2026-11-22", RequestID: fmt.Sprintf("w%d-%d", w, i), Tenant: "t", KeyID: "k", Class: "billed", Billed: true})
						if err != nil {
							refused.Add(1)
							continue
						}
						accepted.Add(1)
						if i%25 == 0 && !tc.closeEarly {
							if err := l.Flush(); err != nil {
								t.Error(err)
							}
						}
					}
				}()
			}
			if tc.closeEarly {
				time.Sleep(5 * time.Millisecond)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if !tc.closeEarly {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Record(Entry{Day: "2026-11-22", Tenant: "t", KeyID: "k", Class: "billed"}); err == nil {
				t.Fatal("Record after Close accepted")
			}
			db, err = OpenDB(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var rows, distinct, usage int64
			if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT request_id) FROM ledger`).Scan(&rows, &distinct); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`SELECT COALESCE(SUM(count), 0) FROM usage_daily`).Scan(&usage); err != nil {
				t.Fatal(err)
			}
			if rows != accepted.Load() || distinct != rows || usage != rows {
				t.Fatalf("accepted %d (refused %d), stored %d rows (%d distinct), usage %d", accepted.Load(), refused.Load(), rows, distinct, usage)
			}
			if !tc.closeEarly && accepted.Load() != int64(tc.writers*100) {
				t.Fatalf("accepted %d of %d with no Close in between", accepted.Load(), tc.writers*100)
			}
		})
	}
}
