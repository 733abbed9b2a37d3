package ledger

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
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

// exportCSV is l's CSV export of the entries f selects, header first.
func exportCSV(t testing.TB, l *SQLite, f Filter) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := l.Export(context.Background(), &buf, f); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
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
	if recs := exportCSV(t, l, Filter{Tenant: "t1"}); len(recs) != 401 || recs[1][11] != "110101********0010" {
		t.Fatalf("csv rows %d", len(recs))
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
