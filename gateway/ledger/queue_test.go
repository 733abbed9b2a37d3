package ledger

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
